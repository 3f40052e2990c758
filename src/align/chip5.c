/*
** align/chip5.c: dlib's face chip from the 5-point landmarks:
** get_face_chip_details(det, size, padding) and extract_image_chip(img,
** details, chip) with bilinear interpolation, on uint8 RGB, as dlib 19.24
** computes them (dlib/image_transforms/interpolation.h).
**
** DESIGN
**   Details: the chip -> image similarity transform from dlib's mean face
**   (the 5 template points, placed at (padding + p) / (2 padding + 1) *
**   size) to the landmarks; its angle atan2(m10, m00), its scale
**   |(m00, m10)|, and the chip's rectangle in the image: centred on the
**   map of (cols/2, rows/2), (cols*scale - 1) x (rows*scale - 1) wide.
**   Extraction (extract_image_chips for one chip):
**     1. pyramid depth: halve the rectangle (pyramid_down<2>'s rect_down:
**        p/2 - (1.25, 0.75)) while the halved rectangle's area is above
**        rows*cols; the border each level adds grows 2 -> 2*g + 2.
**     2. the box of the rectangle's four corners turned by the angle about
**        its centre, grown by that border, clipped to the image and
**        rounded to integers: only that part of the image is filtered.
**     3. the pyramid of that box: each level dlib's pyramid_down<2> for RGB
**        (5-tap [1 4 6 4 1] rows then columns, in 16-bit integers, / 256
**        truncated; an input of 8 rows or columns or fewer gives nothing).
**     4. the level: halve the rectangle (moved into the box) while the
**        halved area stays above rows*cols; level -1 is the box itself.
**     5. the affine map from the chip's corners (0,0), (cols-1,0),
**        (0,rows-1) to the turned rectangle's corners at that level
**        (find_affine_transform: Q * pinv(P)); each chip pixel (c, r) is
**        mapped and sampled bilinearly ((1-ty)((1-tx)tl + tx tr) +
**        ty((1-tx)bl + tx br) in double, then truncated to uint8 as dlib's
**        vector_to_pixel does); a sample whose 2x2 neighbourhood leaves
**        the level's image is black.
**   Arithmetic follows dlib's operation by operation. Two steps go
**   through LAPACK in Debian's dlib and cannot be redone here bit for bit
**   in general: pinv(P) in step 5 (P depends only on the chip size; for
**   size 150, the descriptor's chip, chip150_pinv holds dlib's result; for
**   other sizes the exact inverse is used) and the 2x2 SVD inside the
**   similarity transform (dlib_geom.c). tests/unit/test_dlib_shape.c
**   compares the chips with dlib's byte by byte.
**
** INVARIANTS  (1) every pixel read is inside its image or pyramid level
**                 (checked against the level's size, as dlib does).
** OWNERSHIP   ft__dlib_extract_chip writes into the caller's buffer; the
**             pyramid is allocated per call and freed before returning.
** THREADS     Pure functions of their inputs; any thread.
** SEE ALSO    align/shape5.c (the landmarks), align/dlib_geom.c.
*/
#include "align/align.h"

#include <math.h>
#include <string.h>

/* Pyramid levels at most (a 2^40 px face). */
#define MAX_LEVELS 40

/* dlib's mean face for the 5-point model (get_face_chip_details), in the
** part order of shape_predictor_5_face_landmarks. */
static const double mean5[5][2] = {
    { 0.8595674595992, 0.2134981538014 }, { 0.6460604764104, 0.2289674387677 },
    { 0.1205750620789, 0.2137274526848 }, { 0.3340850613712, 0.2290642403242 },
    { 0.4901123135679, 0.6277975316475 },
};

/* dlib's pinv([0 149 0; 0 0 149; 1 1 1]) (the 150 x 150 chip's corners),
** as Debian's libdlib 19.24 computes it through LAPACK (see DESIGN). */
static const double chip150_pinv[3][3] = {
    { -0x1.b7d6c3dda3389p-8, -0x1.b7d6c3dda338bp-8, 0x1.ffffffffffffdp-1 },
    { 0x1.b7d6c3dda338bp-8, 0x1.6cap-63, 0x0p+0 },
    { -0x1.f0f8p-61, 0x1.b7d6c3dda338dp-8, 0x1.62ap-56 },
};

/* ------------------------------------------------------------------------ */
/* Chip details                                                             */
/* ------------------------------------------------------------------------ */

void ft__dlib_face_chip_details(const long pts[5][2], long size, double padding,
                                ft__chip_details *cd)
{
    double from[10], to[10];
    for (int i = 0; i < 5; i++) {
        from[2 * i] = (padding + mean5[i][0]) / (2 * padding + 1) * (double)size;
        from[2 * i + 1] = (padding + mean5[i][1]) / (2 * padding + 1) * (double)size;
        to[2 * i] = (double)pts[i][0];
        to[2 * i + 1] = (double)pts[i][1];
    }
    ft__dlib_chip_details_points(from, to, 5, size, cd);
}

/* ------------------------------------------------------------------------ */
/* dlib's drectangle and pyramid_down<2> geometry                           */
/* ------------------------------------------------------------------------ */

typedef struct drect {
    double l, t, r, b;
} drect;

static int drect_empty(drect a)
{
    return a.t > a.b || a.l > a.r;
}

static double drect_area(drect a)
{
    if (drect_empty(a)) return 0;
    return (a.r - a.l + 1) * (a.b - a.t + 1);
}

/* drectangle + drectangle (the union box; an empty side is ignored). */
static drect drect_union(drect a, drect b)
{
    if (drect_empty(b)) return a;
    if (drect_empty(a)) return b;
    /* std::min(x, y) is y < x ? y : x; std::max(x, y) is x < y ? y : x */
    drect u = { b.l < a.l ? b.l : a.l, b.t < a.t ? b.t : a.t, a.r < b.r ? b.r : a.r,
                a.b < b.b ? b.b : a.b };
    return u;
}

/* drectangle(p1) + drectangle(p2): the box of two points. */
static drect drect_of(double x1, double y1, double x2, double y2)
{
    const drect a = { x1, y1, x1, y1 }, b = { x2, y2, x2, y2 };
    return drect_union(a, b);
}

/* pyramid_down<2>::rect_down. */
static drect rect_down(drect a)
{
    return drect_of(a.l / 2.0 - 1.25, a.t / 2.0 - 0.75, a.r / 2.0 - 1.25, a.b / 2.0 - 0.75);
}

/* rotate_point(center, p, angle) with point_rotator's sin and cos. */
static void rotate_point(double cx, double cy, double px, double py, double sn, double cs,
                         double *ox, double *oy)
{
    const double x = px - cx, y = py - cy;
    const double rx = cs * x - sn * y, ry = sn * x + cs * y;
    *ox = rx + cx;
    *oy = ry + cy;
}

/* drectangle -> rectangle: each edge floor(v + 0.5). */
static long round_edge(double v)
{
    return (long)floor(v + 0.5);
}

/* ------------------------------------------------------------------------ */
/* Pyramid                                                                  */
/* ------------------------------------------------------------------------ */

/* An RGB image or view: pixel (x, y) at p[y * stride + 3 * x]. */
typedef struct view {
    const uint8_t *p;
    long w, h, stride;
} view;

/* pyramid_down<2> for RGB into a new buffer *out ((h-3)/2 x (w-3)/2;
** 0 x 0 when the input has 8 rows or columns or fewer). FT_ENOMEM. */
static int pyr_down(view in, uint8_t **out, view *down)
{
    *out = NULL;
    memset(down, 0, sizeof *down);
    if (in.h <= 8 || in.w <= 8) return FT_OK;
    const long tw = (in.w - 3) / 2, th = in.h;
    const long dw = tw, dh = (in.h - 3) / 2;
    uint16_t *tmp = ft__malloc((size_t)tw * (size_t)th * 3 * sizeof *tmp);
    uint8_t *d = ft__malloc((size_t)dw * (size_t)dh * 3);
    if (!tmp || !d) {
        ft__free(tmp);
        ft__free(d);
        return FT_ENOMEM;
    }
    for (long r = 0; r < th; r++) {
        const uint8_t *s = in.p + r * in.stride;
        uint16_t *o = tmp + (size_t)r * (size_t)tw * 3;
        for (long c = 0; c < tw; c++) {
            const uint8_t *q = s + 6 * c;
            for (int k = 0; k < 3; k++)
                o[3 * c + k] =
                    (uint16_t)(q[k] + 4 * q[3 + k] + 6 * q[6 + k] + 4 * q[9 + k] + q[12 + k]);
        }
    }
    long dr = 0;
    for (long r = 2; r < th - 2; r += 2, dr++) {
        const uint16_t *r0 = tmp + (size_t)(r - 2) * (size_t)tw * 3;
        const size_t st = (size_t)tw * 3;
        uint8_t *o = d + (size_t)dr * (size_t)dw * 3;
        for (long c = 0; c < 3 * tw; c++) {
            const uint16_t v = (uint16_t)(r0[c] + r0[st + c] * 4 + r0[2 * st + c] * 6 +
                                          r0[3 * st + c] * 4 + r0[4 * st + c]);
            o[c] = (uint8_t)(v / 256);
        }
    }
    FT_ASSERT(dr == dh);
    ft__free(tmp);
    *out = d;
    down->p = d;
    down->w = dw;
    down->h = dh;
    down->stride = dw * 3;
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* Extraction                                                               */
/* ------------------------------------------------------------------------ */

/* dlib's find_affine_transform from the chip's corners (0,0), (cols-1,0),
** (0,rows-1) to (x[k], y[k]): m (2 x 3) = Q * pinv(P). */
static void chip_affine(long rows, long cols, const double x[3], const double y[3], double m[2][3])
{
    double pi[3][3];
    if (rows == 150 && cols == 150) {
        memcpy(pi, chip150_pinv, sizeof pi);
    } else {
        const double W = (double)(cols - 1), H = (double)(rows - 1);
        const double e[3][3] = { { -1 / W, -1 / H, 1 }, { 1 / W, 0, 0 }, { 0, 1 / H, 0 } };
        memcpy(pi, e, sizeof pi);
    }
    for (int j = 0; j < 3; j++) {
        double s = x[0] * pi[0][j];
        s += x[1] * pi[1][j];
        s += x[2] * pi[2][j];
        m[0][j] = s;
        s = y[0] * pi[0][j];
        s += y[1] * pi[1][j];
        s += y[2] * pi[2][j];
        m[1][j] = s;
    }
}

/* transform_image with interpolate_bilinear and a black background. */
static void sample(view src, const double m[2][3], long rows, long cols, uint8_t *dst)
{
    for (long r = 0; r < rows; r++)
        for (long c = 0; c < cols; c++) {
            uint8_t *o = dst + ((size_t)r * (size_t)cols + (size_t)c) * 3;
            const double px = m[0][0] * (double)c + m[0][1] * (double)r + m[0][2];
            const double py = m[1][0] * (double)c + m[1][1] * (double)r + m[1][2];
            const long left = (long)floor(px), top = (long)floor(py);
            const long right = left + 1, bottom = top + 1;
            if (!(left >= 0 && top >= 0 && right < src.w && bottom < src.h)) {
                o[0] = o[1] = o[2] = 0;
                continue;
            }
            const double lr = px - (double)left, tb = py - (double)top;
            const uint8_t *tl = src.p + top * src.stride + 3 * left, *tr = tl + 3;
            const uint8_t *bl = tl + src.stride, *br = bl + 3;
            for (int k = 0; k < 3; k++) {
                const double a = (1 - lr) * (double)tl[k] + lr * (double)tr[k];
                const double b = (1 - lr) * (double)bl[k] + lr * (double)br[k];
                o[k] = (uint8_t)((1 - tb) * a + tb * b);
            }
        }
}

int ft__dlib_extract_chip(const ft_image *img, const ft__chip_details *cd, uint8_t *dst)
{
    const long rows = cd->rows, cols = cd->cols, n = rows * cols;
    if (rows <= 0 || cols <= 0) return FT_EINVAL;
    const drect rect0 = { cd->rect[0], cd->rect[1], cd->rect[2], cd->rect[3] };
    if (cd->angle == 0 && (double)rows == (drect_empty(rect0) ? 0 : rect0.b - rect0.t + 1) &&
        (double)cols == (drect_empty(rect0) ? 0 : rect0.r - rect0.l + 1)) {
        /* dlib's plain copy of the rounded rectangle, black outside */
        const long l = round_edge(rect0.l), t = round_edge(rect0.t);
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++) {
                uint8_t *o = dst + ((size_t)r * (size_t)cols + (size_t)c) * 3;
                const long x = l + c, y = t + r;
                if (x < 0 || y < 0 || x >= img->width || y >= img->height)
                    o[0] = o[1] = o[2] = 0;
                else
                    memcpy(o, img->rgb + ((size_t)y * (size_t)img->width + (size_t)x) * 3, 3);
            }
        return FT_OK;
    }
    /* 1. depth and border (at most MAX_LEVELS: dlib would loop forever on
    ** an infinite rectangle) */
    long depth = 0;
    double grow = 2;
    drect rd = rect_down(rect0);
    while (depth < MAX_LEVELS && drect_area(rd) > (double)n) {
        rd = rect_down(rd);
        depth++;
        grow = grow * 2 + 2;
    }
    /* 2. the turned rectangle's box, grown, clipped, rounded */
    const double sn = sin(cd->angle), cs = cos(cd->angle);
    const double ccx = (rect0.l + rect0.r) / 2.0, ccy = (rect0.t + rect0.b) / 2.0;
    const double cx[4] = { rect0.l, rect0.r, rect0.l, rect0.r };
    const double cy[4] = { rect0.t, rect0.t, rect0.b, rect0.b };
    drect rot = { 0, 0, -1, -1 };
    for (int k = 0; k < 4; k++) {
        double x, y;
        rotate_point(ccx, ccy, cx[k], cy[k], sn, cs, &x, &y);
        const drect p = { x, y, x, y };
        rot = drect_union(rot, p);
    }
    const drect g = { rot.l - grow, rot.t - grow, rot.r + grow, rot.b + grow };
    const double iw = (double)(img->width - 1), ih = (double)(img->height - 1);
    const drect clip = { g.l < 0 ? 0 : g.l, g.t < 0 ? 0 : g.t, iw < g.r ? iw : g.r,
                         ih < g.b ? ih : g.b };
    long bl = round_edge(clip.l), bt = round_edge(clip.t), br = round_edge(clip.r),
         bb = round_edge(clip.b);
    if (bt > bb || bl > br) bl = 0, bt = 0, br = -1, bb = -1; /* empty: dlib's rectangle() */
    /* 3. the pyramid */
    view box = {
        img->rgb + ((size_t)(bt > 0 ? bt : 0) * (size_t)img->width + (size_t)(bl > 0 ? bl : 0)) * 3,
        br - bl + 1, bb - bt + 1, (long)img->width * 3
    };
    uint8_t *levels[MAX_LEVELS] = { 0 };
    view lv[MAX_LEVELS];
    int rc = FT_OK;
    for (long i = 0; i < depth && rc == FT_OK; i++)
        rc = pyr_down(i ? lv[i - 1] : box, &levels[i], &lv[i]);
    if (rc == FT_OK) {
        /* 4. the level */
        int level = -1;
        drect r = { rect0.l - (double)bl, rect0.t - (double)bt, rect0.r - (double)bl,
                    rect0.b - (double)bt };
        while (level + 1 < depth && drect_area(rect_down(r)) > (double)n) {
            level++;
            r = rect_down(r);
        }
        /* 5. the map and the samples */
        const double rcx = (r.l + r.r) / 2.0, rcy = (r.t + r.b) / 2.0;
        double x[3], y[3];
        rotate_point(rcx, rcy, r.l, r.t, sn, cs, &x[0], &y[0]);
        rotate_point(rcx, rcy, r.r, r.t, sn, cs, &x[1], &y[1]);
        rotate_point(rcx, rcy, r.l, r.b, sn, cs, &x[2], &y[2]);
        double m[2][3];
        chip_affine(rows, cols, x, y, m);
        sample(level < 0 ? box : lv[level], m, rows, cols, dst);
    }
    for (long i = 0; i < depth; i++)
        ft__free(levels[i]);
    return rc;
}
