/*
** align/warp.c: dlib's face chip: a similarity transform that puts the 68
** landmarks onto dlib's mean face, and the resampling that cuts the chip.
**
** DESIGN
**   dlib's get_face_chip_details(shape, 150, 0.25), which dlib's ResNet face
**   descriptor was trained on: the template is dlib's mean face shape for
**   points 17..67 without the eyebrows (17-26) and the lower lip (55-59,
**   65-67), placed in the chip at (padding + m) / (2 * padding + 1) * size.
**   The chip -> image map  q = [a -b; b a] p + t  is the least-squares
**   similarity from template points p to landmarks q. Each chip pixel (x, y)
**   samples the image at that map of (x, y), bilinearly, zero outside; when
**   the map shrinks (scale s = sqrt(a^2 + b^2) > 1 image pixels per chip
**   pixel) it averages ceil(s) x ceil(s) taps spread over the pixel's
**   footprint, so that large faces are not aliased.
**
** INVARIANTS  (1) the transform has no reflection.
**             (2) output values are in 0..255 (convex combinations of pixels).
*/
#include "align/align.h"

#include <math.h>

/* dlib's mean face shape (x, y in [0, 1]) for landmarks 17..67. */
static const double mean_x[51] = {
    0.000213256, 0.0752622, 0.18113,  0.29077,  0.393397, 0.586856, 0.689483, 0.799124,
    0.904991,    0.98004,   0.490127, 0.490127, 0.490127, 0.490127, 0.36688,  0.426036,
    0.490127,    0.554217,  0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
    0.182743,    0.645647,  0.714428, 0.793132, 0.858516, 0.79751,  0.719335, 0.254149,
    0.340985,    0.428858,  0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
    0.490127,    0.423532,  0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
    0.553364,    0.490127,  0.42689,
};
static const double mean_y[51] = {
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482,
    0.038915, 0.106454, 0.203352,  0.307009,  0.409805,  0.515625,  0.587326,  0.609345,
    0.628106, 0.609345, 0.587326,  0.216423,  0.178758,  0.179852,  0.231733,  0.245099,
    0.244077, 0.231733, 0.179852,  0.178758,  0.216423,  0.244077,  0.245099,  0.780233,
    0.745405, 0.727388, 0.742578,  0.727388,  0.745405,  0.780233,  0.864805,  0.902192,
    0.909281, 0.902192, 0.864805,  0.784792,  0.778746,  0.785343,  0.778746,  0.784792,
    0.824182, 0.831803, 0.824182,
};

static int used(int i)
{
    return !((i >= 17 && i <= 26) || (i >= 55 && i <= 59) || (i >= 65 && i <= 67));
}

void ft__chip_transform(const double pts[68][2], int size, double padding, double m[6])
{
    double px[68], py[68], mpx = 0, mpy = 0, mqx = 0, mqy = 0;
    int n = 0;
    for (int i = 17; i < 68; i++) {
        if (!used(i)) continue;
        px[i] = (padding + mean_x[i - 17]) / (2 * padding + 1) * size;
        py[i] = (padding + mean_y[i - 17]) / (2 * padding + 1) * size;
        mpx += px[i], mpy += py[i], mqx += pts[i][0], mqy += pts[i][1];
        n++;
    }
    mpx /= n, mpy /= n, mqx /= n, mqy /= n;
    double sxx = 0, sab = 0, spp = 0;
    for (int i = 17; i < 68; i++) {
        if (!used(i)) continue;
        double ax = px[i] - mpx, ay = py[i] - mpy, bx = pts[i][0] - mqx, by = pts[i][1] - mqy;
        sxx += ax * bx + ay * by;
        sab += ax * by - ay * bx;
        spp += ax * ax + ay * ay;
    }
    double a = spp > 0 ? sxx / spp : 1, b = spp > 0 ? sab / spp : 0;
    m[0] = a, m[1] = -b, m[2] = mqx - (a * mpx - b * mpy);
    m[3] = b, m[4] = a, m[5] = mqy - (b * mpx + a * mpy);
}

static void sample(const ft_image *img, double u, double v, double acc[3])
{
    int x0 = (int)floor(u), y0 = (int)floor(v);
    double fx = u - x0, fy = v - y0;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int x = x0 + dx, y = y0 + dy;
            if (x < 0 || y < 0 || x >= img->width || y >= img->height) continue;
            double w = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
            const uint8_t *p = img->rgb + ((size_t)y * img->width + x) * 3;
            acc[0] += w * p[0], acc[1] += w * p[1], acc[2] += w * p[2];
        }
}

void ft__warp_chip(const ft_image *img, const double m[6], int size, float *dst)
{
    double s = sqrt(m[0] * m[0] + m[3] * m[3]);
    int taps = s > 1 ? (int)ceil(s) : 1;
    if (taps > 8) taps = 8;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            double acc[3] = { 0, 0, 0 };
            for (int ty = 0; ty < taps; ty++)
                for (int tx = 0; tx < taps; tx++) {
                    double cx = x + ((tx + 0.5) / taps - 0.5), cy = y + ((ty + 0.5) / taps - 0.5);
                    sample(img, m[0] * cx + m[1] * cy + m[2], m[3] * cx + m[4] * cy + m[5], acc);
                }
            float *o = dst + ((size_t)y * size + x) * 3;
            for (int c = 0; c < 3; c++) o[c] = (float)(acc[c] / (taps * taps));
        }
}
