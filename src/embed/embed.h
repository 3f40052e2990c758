/*
** embed/embed.h: the face descriptor net and descriptor distances, private to
** the library.
** THREADS     A net is used by one thread at a time (it owns scratch space).
*/
#ifndef FT_EMBED_H
#define FT_EMBED_H

#include "nn/nn.h"

typedef struct ft__recog_net ft__recog_net;

int ft__recog_open(const char *model_dir, ft__recog_net **out, char *err, size_t errlen);
void ft__recog_close(ft__recog_net *net);

/* Descriptor of a (150, 150, 3) float RGB chip in 0..255 (the chip is not
** modified). */
int ft__recog_run_chip(const ft__nn_ctx *ctx, ft__recog_net *net, const float *chip,
                       float descriptor[128]);

#endif
