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

/* dlib's face descriptor net (embed/dlibnet.c), read from dlib's
** dlib_face_recognition_resnet_model_v1.dat: the same 128 numbers as dlib
** (not normalised) for the same 150x150 chip. */
typedef struct ft__dlibnet ft__dlibnet;

/* Reads and checks the .dat at dat_path (its SHA-256 pin, then every layer's
** kind, version, shape and window against the net's definition).
** FT_EMODEL with a message naming the file (and the byte and layer where it
** does not fit), FT_EIO, FT_ENOMEM, FT_EBACKEND. */
int ft__dlibnet_open(const char *dat_path, ft__dlibnet **out, char *err, size_t errlen);
/* The same from the file's bytes in memory (not copied; no pin check);
** name is used in messages only. */
int ft__dlibnet_open_mem(const unsigned char *data, size_t len, const char *name, ft__dlibnet **out,
                         char *err, size_t errlen);
void ft__dlibnet_close(ft__dlibnet *net);

/* Descriptor of a 150x150 RGB chip (rows of R, G, B bytes, 67500 bytes),
** into desc[0..128). FT_EBACKEND/FT_ENOMEM. Allocates only on its first call. */
int ft__dlibnet_run(const ft__nn_ctx *ctx, ft__dlibnet *net, const unsigned char *chip_rgb,
                    float desc[128]);

#endif
