/*
** track/quality.c: how good a face shot is for recognition, in [0, 1].
**
** DESIGN
**   quality = score x (0.25 + 0.75 size) x (0.3 + 0.7 frontal) x (0.3 + 0.7 sharp)
**   score    the detector's confidence.
**   size     face box height h: (h - 20) / 60 clamped to [0, 1]; faces of
**            80 px and more count fully (the descriptor chip is 150 px).
**   frontal  1 - 2 |yaw|, yaw = horizontal offset of the nose (68 points:
**            the tip, point 30; dlib's 5: the base; YuNet's 5: the tip)
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
            g[y][x] =
                grey_at(img, box[0] + (x + 0.5) * box[2] / G, box[1] + (y + 0.5) * box[3] / G);
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

int ft__face_eyes_nose(const ft_face *f, double le[2], double re[2], double nose[2])
{
    if (!f->has_landmarks) return 0;
    const double(*p)[2] = (const double(*)[2])f->landmarks;
    le[0] = le[1] = re[0] = re[1] = 0;
    if (f->n_landmarks == 5 && f->landmark_kind == FT_LANDMARKS_DLIB5) {
        /* eye corners 0-1 and 2-3, base of the nose 4 */
        le[0] = (p[0][0] + p[1][0]) / 2, le[1] = (p[0][1] + p[1][1]) / 2;
        re[0] = (p[2][0] + p[3][0]) / 2, re[1] = (p[2][1] + p[3][1]) / 2;
        nose[0] = p[4][0], nose[1] = p[4][1];
    } else if (f->n_landmarks == 5) {
        /* eye centres 0 and 1, nose tip 2 */
        le[0] = p[0][0], le[1] = p[0][1], re[0] = p[1][0], re[1] = p[1][1];
        nose[0] = p[2][0], nose[1] = p[2][1];
    } else {
        for (int i = 36; i < 42; i++)
            le[0] += p[i][0] / 6, le[1] += p[i][1] / 6;
        for (int i = 42; i < 48; i++)
            re[0] += p[i][0] / 6, re[1] += p[i][1] / 6;
        nose[0] = p[30][0], nose[1] = p[30][1];
    }
    return 1;
}

float ft__shot_quality(const ft_image *img, const ft_face *f)
{
    double le[2], re[2], nose[2];
    if (!ft__face_eyes_nose(f, le, re, nose)) return 0.0f;
    const double *box = f->box;
    double size = clamp01((box[3] - 20.0) / 60.0);
    double eye_d = hypot(re[0] - le[0], re[1] - le[1]);
    double yaw = eye_d > 0 ? (nose[0] - (le[0] + re[0]) / 2) / eye_d : 1;
    double frontal = clamp01(1 - 2 * fabs(yaw));
    double v = sharpness(img, box);
    double sharp = v / (v + 60.0);
    double q =
        clamp01(f->score) * (0.25 + 0.75 * size) * (0.3 + 0.7 * frontal) * (0.3 + 0.7 * sharp);
    return (float)q;
}
