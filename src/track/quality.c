/*
** track/quality.c: how good a face shot is for recognition, in [0, 1].
**
** DESIGN
**   quality = score x (0.25 + 0.75 size) x (0.3 + 0.7 frontal) x (0.3 + 0.7 sharp)
**   score    the detector's confidence.
**   size     face box height h: (h - 20) / 60 clamped to [0, 1]; faces of
**            80 px and more count fully (the descriptor chip is 150 px).
**   frontal  1 - 2 |yaw|, yaw = horizontal offset of the nose tip (point 30)
**            from the midpoint of the eye centres, over the inter-eye
**            distance; clamped to [0, 1].
**   sharp    v / (v + 60) with v the variance of the 4-neighbour Laplacian of
**            the grey face box sampled on a 48x48 grid (blur lowers v).
**   Each term is bounded, so a bad term lowers but never zeroes a shot that
**   is the only one of its track.
*/
#include "track/track.h"

#include <math.h>

static double clamp01(double v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

static double grey_at(const ft_image *img, double x, double y)
{
    int ix = (int)x, iy = (int)y;
    if (ix < 0) ix = 0;
    if (iy < 0) iy = 0;
    if (ix >= img->width) ix = img->width - 1;
    if (iy >= img->height) iy = img->height - 1;
    const uint8_t *p = img->rgb + ((size_t)iy * img->width + ix) * 3;
    return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
}

static double sharpness(const ft_image *img, const double box[4])
{
    enum { G = 48 };
    double g[G][G];
    for (int y = 0; y < G; y++)
        for (int x = 0; x < G; x++)
            g[y][x] = grey_at(img, box[0] + (x + 0.5) * box[2] / G, box[1] + (y + 0.5) * box[3] / G);
    double s = 0, s2 = 0;
    int n = 0;
    for (int y = 1; y < G - 1; y++)
        for (int x = 1; x < G - 1; x++) {
            double l = 4 * g[y][x] - g[y - 1][x] - g[y + 1][x] - g[y][x - 1] - g[y][x + 1];
            s += l, s2 += l * l, n++;
        }
    double mean = s / n;
    return s2 / n - mean * mean;
}

float ft__shot_quality(const ft_image *img, const double box[4], double score,
                       const double pts[68][2])
{
    double size = clamp01((box[3] - 20.0) / 60.0);
    double le[2] = { 0, 0 }, re[2] = { 0, 0 };
    for (int i = 36; i < 42; i++) le[0] += pts[i][0] / 6, le[1] += pts[i][1] / 6;
    for (int i = 42; i < 48; i++) re[0] += pts[i][0] / 6, re[1] += pts[i][1] / 6;
    double eye_d = hypot(re[0] - le[0], re[1] - le[1]);
    double yaw = eye_d > 0 ? (pts[30][0] - (le[0] + re[0]) / 2) / eye_d : 1;
    double frontal = clamp01(1 - 2 * fabs(yaw));
    double v = sharpness(img, box);
    double sharp = v / (v + 60.0);
    double q = clamp01(score) * (0.25 + 0.75 * size) * (0.3 + 0.7 * frontal) * (0.3 + 0.7 * sharp);
    return (float)q;
}
