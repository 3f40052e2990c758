/*
** image/netinput.h: face-api's network input: crop, pad to square, resize.
*/
#ifndef FT_NETINPUT_H
#define FT_NETINPUT_H

#include "facetrail.h"

/* How the smaller side is padded to make a square (face-api padToSquare). */
enum ft__pad_square {
    FT__SQUARE_BOTTOM_RIGHT = 0, /* detectors: all padding after the image */
    FT__SQUARE_CENTRED = 1,      /* landmarks, descriptor: round(d/2) after, rest before */
};

/* Fills dst, (size, size, 3) float RGB in 0..255, with the region (x, y, w, h)
** of img padded with zeros to a square and resized to size x size with
** TensorFlow's legacy bilinear rule (src = dst * in/out, no half-pixel
** offset; what tf.image.resizeBilinear(alignCorners=false) does), using the
** same float operations in the same order as XNNPACK's kernel, so that the
** result is bit-identical to face-api's tensor. The region must lie inside
** the image. FT_EINVAL for an empty or out-of-bounds region. */
int ft__net_input(const ft_image *img, int x, int y, int w, int h, enum ft__pad_square mode,
                  int size, float *dst);

#endif
