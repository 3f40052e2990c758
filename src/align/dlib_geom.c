/*
** align/dlib_geom.c: dlib's point transforms as its shape predictor and
** face chips compute them: the similarity transform between two point
** sets and the affine map of a rectangle's unit square.
**
** DESIGN
**   find_similarity_transform (dlib/geometry/point_transforms.h) is
**   Umeyama's least-squares similarity: means, variance of the source,
**   covariance, then a 2x2 SVD. Means, variance and covariance are summed
**   here in dlib's order. In 2-D the SVD has a closed form: with the
**   covariance [a b; c d], the best rotation's angle is atan2(c - b, a + d)
**   and scale times rotation is [a+d  b-c; c-b  a+d] / variance (the
**   trace of D*S is sqrt((a+d)^2 + (c-b)^2) whether or not dlib flips a
**   singular value). dlib takes its SVD from LAPACK, so the two agree to a
**   few units in the last place of a double, not bit for bit; the shape
**   predictor casts the matrix to float before use, which hides that.
**   unnormalizing_tform(rect) is find_affine_transform from the unit
**   square's corners (0,0), (1,0), (1,1) to the rectangle's top-left,
**   top-right and bottom-right corners: Q * pinv(P) with P the corners in
**   homogeneous columns. P is the same for every rectangle, and dlib's
**   pinv (LAPACK dgesvd in Debian's dlib) of it is not the exact inverse
**   [-1 0 1; 1 -1 0; 0 1 0] but differs from it by a few units in the last
**   place; those differences move the predictor's pixel positions by
**   ~1e-13 and so decide which pixel a position on a half-pixel rounds to.
**   So unit_pinv below holds dlib's pinv(P) as Debian's libdlib 19.24
**   with reference LAPACK computes it (hex floats), and the product
**   Q * pinv(P) is summed in dlib's (and reference BLAS's) order.
**
** INVARIANTS  (1) for a rectangle with integer corners below 2^24 in size,
**                 ft__dlib_unnormalizing_tform equals dlib's bit for bit.
** THREADS     Pure functions.
*/
#include "align/align.h"

#include <math.h>

/* dlib's pinv([0 1 1; 0 0 1; 1 1 1]), rows of the 3 x 3 result. */
static const double unit_pinv[3][3] = {
    { -0x1.0000000000001p+0, -0x1.8p-51, 0x1.0000000000002p+0 },
    { 0x1.ffffffffffffep-1, -0x1.ffffffffffffcp-1, 0x1p-53 },
    { 0x1p-54, 0x1.ffffffffffffep-1, 0x1p-54 },
};

void ft__dlib_unnormalizing_tform(ft__rect r, double m[2][3])
{
    /* Q: the image corners in columns; dlib stores them as float points. */
    const double q[2][3] = {
        { (double)(float)r.left, (double)(float)r.right, (double)(float)r.right },
        { (double)(float)r.top, (double)(float)r.top, (double)(float)r.bottom }
    };
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            double s = q[i][0] * unit_pinv[0][j];
            s += q[i][1] * unit_pinv[1][j];
            s += q[i][2] * unit_pinv[2][j];
            m[i][j] = s;
        }
}

void ft__dlib_similarity(const double *from, const double *to, int n, double m[2][2], double t[2])
{
    double mfx = 0, mfy = 0, mtx = 0, mty = 0;
    for (int i = 0; i < n; i++) {
        mfx += from[2 * i], mfy += from[2 * i + 1];
        mtx += to[2 * i], mty += to[2 * i + 1];
    }
    mfx /= n, mfy /= n, mtx /= n, mty /= n;
    double sigma_from = 0, cov[2][2] = { { 0, 0 }, { 0, 0 } };
    for (int i = 0; i < n; i++) {
        const double fx = from[2 * i] - mfx, fy = from[2 * i + 1] - mfy;
        const double tx = to[2 * i] - mtx, ty = to[2 * i + 1] - mty;
        sigma_from += fx * fx + fy * fy;
        cov[0][0] += tx * fx;
        cov[0][1] += tx * fy;
        cov[1][0] += ty * fx;
        cov[1][1] += ty * fy;
    }
    sigma_from /= n;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            cov[i][j] /= n;
    const double cs = cov[0][0] + cov[1][1], sn = cov[1][0] - cov[0][1];
    if (sigma_from != 0) {
        m[0][0] = cs / sigma_from, m[0][1] = -sn / sigma_from;
        m[1][0] = sn / sigma_from, m[1][1] = cs / sigma_from;
    } else {
        /* dlib keeps scale 1: the rotation alone */
        const double len = sqrt(cs * cs + sn * sn);
        const double c = len > 0 ? cs / len : 1, s = len > 0 ? sn / len : 0;
        m[0][0] = c, m[0][1] = -s, m[1][0] = s, m[1][1] = c;
    }
    t[0] = mtx - (m[0][0] * mfx + m[0][1] * mfy);
    t[1] = mty - (m[1][0] * mfx + m[1][1] * mfy);
}
