/*
** align/align.h: the 68-point landmark nets and face-api's crop geometry,
** private to the library.
** THREADS     A net is used by one thread at a time (it owns scratch space).
*/
#ifndef FT_ALIGN_H
#define FT_ALIGN_H

#include "nn/nn.h"

typedef struct ft__landmark_net ft__landmark_net;

/* tiny = 0: face_landmark_68_model (4 dense blocks), 1: the tiny variant (3). */
int ft__landmark_open(const char *model_dir, int tiny, ft__landmark_net **out, char *err,
                      size_t errlen);
void ft__landmark_close(ft__landmark_net *net);

/* Runs the net on the crop (x, y, w, h) of img (padded centred to a square,
** resized to 112) and writes the 68 points relative to the crop, in crop
** pixels, to pts (as face-api's unshifted landmarks). */
int ft__landmark_run(const ft__nn_ctx *ctx, ft__landmark_net *net, const ft_image *img,
                     const int crop[4], double pts[68][2]);

/* face-api Box.clipAtImageBorders: clip (x, y, w, h) to the image, then floor
** each of x, y, w, h. Writes the integer box; returns 0 when it is empty. */
int ft__clip_box(double x, double y, double w, double h, int img_w, int img_h, int out[4]);

/* face-api FaceLandmarks.alignDlib on image-space landmarks; crop_w/crop_h are
** the landmark crop's size (the landmarks' image dims in face-api). */
void ft__align_dlib(const double pts[68][2], int crop_w, int crop_h, double rect[4]);

/* dlib's face chip (align/warp.c): the chip -> image similarity transform m
** (u = m0 x + m1 y + m2, v = m3 x + m4 y + m5) that puts the landmarks onto
** dlib's mean face in a size x size chip with the given padding (0.25 for
** the descriptor), and the bilinear, anti-aliased resampling into dst
** (size, size, 3) float RGB 0..255. */
void ft__chip_transform(const double pts[68][2], int size, double padding, double m[6]);
void ft__warp_chip(const ft_image *img, const double m[6], int size, float *dst);

#endif
