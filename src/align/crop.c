/*
** align/crop.c: face-api's crop geometry: clipping boxes to the image, and
** the dlib-style alignment rect that the descriptor crop comes from.
**
** INVARIANTS  (1) arithmetic in double, in face-api's order, so that the
**                 floored integer crops are the same as face-api's.
*/
#include "align/align.h"

#include <math.h>

int ft__clip_box(double x, double y, double w, double h, int img_w, int img_h, int out[4])
{
    double right = x + w, bottom = y + h;
    double cx = x > 0 ? x : 0, cy = y > 0 ? y : 0;
    double nw = right - cx, nh = bottom - cy;
    double cw = nw < img_w - cx ? nw : img_w - cx;
    double ch = nh < img_h - cy ? nh : img_h - cy;
    out[0] = (int)floor(cx);
    out[1] = (int)floor(cy);
    out[2] = (int)floor(cw);
    out[3] = (int)floor(ch);
    return out[2] > 0 && out[3] > 0;
}

/* Mean of pts[from..to] (face-api getCenterPoint: sum, then divide). */
static void center(const double pts[68][2], int from, int to, double c[2])
{
    double sx = 0, sy = 0;
    for (int i = from; i <= to; i++) sx += pts[i][0], sy += pts[i][1];
    c[0] = sx / (to - from + 1);
    c[1] = sy / (to - from + 1);
}

void ft__align_dlib(const double pts[68][2], int crop_w, int crop_h, double rect[4])
{
    double le[2], re[2], mo[2];
    center(pts, 36, 41, le);
    center(pts, 42, 47, re);
    center(pts, 48, 67, mo);
    double d_le = sqrt((mo[0] - le[0]) * (mo[0] - le[0]) + (mo[1] - le[1]) * (mo[1] - le[1]));
    double d_re = sqrt((mo[0] - re[0]) * (mo[0] - re[0]) + (mo[1] - re[1]) * (mo[1] - re[1]));
    double size = floor(((d_le + d_re) / 2) / 0.45);
    double ref_x = ((le[0] + re[0]) + mo[0]) / 3, ref_y = ((le[1] + re[1]) + mo[1]) / 3;
    double x = floor(fmax(0, ref_x - 0.5 * size));
    double y = floor(fmax(0, ref_y - 0.43 * size));
    rect[0] = x;
    rect[1] = y;
    rect[2] = fmin(size, crop_w + x);
    rect[3] = fmin(size, crop_h + y);
}
