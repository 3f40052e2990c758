/*
** align/shape5.c: dlib's shape predictor (an ensemble of regression trees,
** Kazemi and Sullivan 2014) read from shape_predictor_5_face_landmarks.dat,
** giving the 5 face landmarks dlib gives: the outer and inner corner of
** each eye and the bottom of the nose.
**
** DESIGN
**   The file (dlib::serialize of a shape_predictor, see nn/dlib.h) holds:
**     version (int, 1), the mean shape (matrix<float> of 2 * parts values,
**     in the face rectangle's unit square), the forests (per cascade, a
**     vector of trees: splits {idx1, idx2 (unsigned long), thresh (float)}
**     in breadth-first order, then leaf_values, one shape offset each),
**     then per cascade the feature pixels as anchor indices (the nearest
**     mean-shape part) and deltas (vector<float,2> from that part).
**   Running it on a face rectangle (dlib's: left, top, right, bottom, all
**   inclusive): start from the mean shape; for each cascade, find the
**   similarity transform from the mean shape to the current shape
**   (dlib_geom.c), place each feature pixel at anchor + T * delta in the
**   unit square (in float, as dlib), map it to the image with the
**   rectangle's unnormalising affine transform (in double), round it to
**   the nearest pixel and read the pixel's intensity (0 outside the image);
**   then walk every tree (go left when (float)f[idx1] - f[idx2] > thresh)
**   and add its leaf to the shape. The parts are the final shape mapped to
**   the image and rounded, as dlib's full_object_detection holds them.
**   Intensity is what dlib's get_pixel_intensity gives for an rgb_pixel:
**   (r + g + b) / 3 in integers (truncated).
**   Arithmetic follows dlib's operation by operation (same types, same
**   order, no fused multiply-add: the Makefile builds with
**   -ffp-contract=off), so the pixels read, the leaves taken and the parts
**   equal dlib's; tests/unit/test_dlib_shape.c checks them against dlib
**   itself (tests/ref/dlib_shape_ref.cpp).
**
** INVARIANTS  (1) a loaded predictor has 5 parts, every leaf has 10 values,
**                 every tree is complete (leaves == splits + 1, a power of
**                 two), every split index is below its cascade's feature
**                 count and every anchor below 5; so running never reads
**                 outside its arrays, whatever the rectangle and image.
**             (2) anything else in the file is FT_EMODEL with a message
**                 naming the file and byte offset, never a crash.
** OWNERSHIP   ft__shape5_open returns a predictor owned by the caller
**             (ft__shape5_free); ft__shape5_run keeps nothing.
** THREADS     A loaded predictor is read-only: any number of threads may
**             run it at once.
** SEE ALSO    dlib/image_processing/shape_predictor.h;
**             tests/unit/test_dlib_shape.c.
*/
#include "align/align.h"
#include "nn/dlib.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#define N_PARTS      5
#define MAX_CASCADES 64
#define MAX_TREES    100000 /* per cascade */
#define MAX_SPLITS   65535  /* per tree */
#define MAX_FEATURES 4096   /* per cascade: the run's feature buffer is on the stack */

typedef struct split {
    uint32_t idx1, idx2;
    float thresh;
} split;

typedef struct tree {
    uint32_t split0; /* first split in sp->splits */
    uint32_t n_splits;
    uint32_t leaf0; /* first leaf value in sp->leaves (2 * N_PARTS floats a leaf) */
} tree;

typedef struct cascade {
    uint32_t tree0, n_trees; /* in sp->trees */
    uint32_t feat0, n_feat;  /* in sp->anchor / sp->delta */
} cascade;

struct ft__shape5 {
    float initial[2 * N_PARTS]; /* mean shape, unit square, (x0, y0, x1, ...) */
    int n_cascades;
    cascade casc[MAX_CASCADES];
    tree *trees;
    split *splits;
    float *leaves;
    uint32_t *anchor; /* (features) */
    float *delta;     /* (features, 2) */
    size_t n_trees, n_splits, n_leaves, n_feat;
};

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */
/* ------------------------------------------------------------------------ */

void ft__shape5_free(ft__shape5 *sp)
{
    if (!sp) return;
    ft__free(sp->trees);
    ft__free(sp->splits);
    ft__free(sp->leaves);
    ft__free(sp->anchor);
    ft__free(sp->delta);
    ft__free(sp);
}

/* Makes room for `more` elements of `size` bytes after *n in *arr. */
static int grow(ft__dat *d, void **arr, size_t n, size_t more, size_t size, size_t *cap)
{
    if (d->failed) return d->failed;
    if (n + more <= *cap) return FT_OK;
    size_t c = *cap ? *cap : 64;
    while (c < n + more)
        c *= 2;
    void *p = ft__realloc(*arr, c * size);
    if (!p) {
        d->failed = FT_ENOMEM;
        if (d->err && d->errlen)
            snprintf(d->err, d->errlen, "%s: out of memory reading the shape predictor", d->name);
        return FT_ENOMEM;
    }
    *arr = p;
    *cap = c;
    return FT_OK;
}

/* One regression tree: splits, then leaf values. */
static int read_tree(ft__dat *d, ft__shape5 *sp, size_t *cap_splits, size_t *cap_leaves,
                     size_t *cap_trees)
{
    size_t at = d->pos, ns, nl;
    if (ft__dat_count(d, MAX_SPLITS, 8, &ns, "a tree's splits") != FT_OK) return d->failed;
    if (grow(d, (void **)&sp->splits, sp->n_splits, ns, sizeof(split), cap_splits))
        return d->failed;
    if (grow(d, (void **)&sp->trees, sp->n_trees, 1, sizeof(tree), cap_trees)) return d->failed;
    tree *t = &sp->trees[sp->n_trees];
    t->split0 = (uint32_t)sp->n_splits;
    t->n_splits = (uint32_t)ns;
    for (size_t i = 0; i < ns; i++) {
        uint64_t a, b;
        split *s = &sp->splits[sp->n_splits + i];
        ft__dat_uint(d, &a);
        ft__dat_uint(d, &b);
        ft__dat_float(d, &s->thresh);
        if (d->failed) return d->failed;
        if (a >= MAX_FEATURES || b >= MAX_FEATURES)
            return ft__dat_fail(d, "split feature index %llu out of range",
                                (unsigned long long)(a > b ? a : b));
        s->idx1 = (uint32_t)a;
        s->idx2 = (uint32_t)b;
    }
    if (ft__dat_count(d, MAX_SPLITS + 1, 4, &nl, "a tree's leaves") != FT_OK) return d->failed;
    if (nl != ns + 1 || (nl & (nl - 1)) != 0)
        return ft__dat_fail(d,
                            "a tree (at byte %zu) has %zu splits and %zu leaves: not a complete "
                            "binary tree",
                            at, ns, nl);
    if (grow(d, (void **)&sp->leaves, sp->n_leaves, nl * 2 * N_PARTS, sizeof(float), cap_leaves))
        return d->failed;
    t->leaf0 = (uint32_t)sp->n_leaves;
    for (size_t i = 0; i < nl; i++) {
        long nr, nc;
        if (ft__dat_matrix_dims(d, 1 << 20, &nr, &nc, "a leaf") != FT_OK) return d->failed;
        if (nr != 2 * N_PARTS || nc != 1)
            return ft__dat_fail(d, "a leaf has %ld x %ld values, expected %d x 1", nr, nc,
                                2 * N_PARTS);
        if (ft__dat_floats(d, &sp->leaves[sp->n_leaves + i * 2 * N_PARTS], 2 * N_PARTS))
            return d->failed;
    }
    sp->n_splits += ns;
    sp->n_leaves += nl * 2 * N_PARTS;
    sp->n_trees++;
    return FT_OK;
}

/* The whole predictor from d; sp is zeroed. */
static int read_predictor(ft__dat *d, ft__shape5 *sp)
{
    int32_t version;
    if (ft__dat_int32(d, &version) != FT_OK) return d->failed;
    if (version != 1)
        return ft__dat_fail(d,
                            "shape predictor version %d, expected 1 (not a dlib shape "
                            "predictor?)",
                            (int)version);
    size_t at = d->pos;
    long nr, nc;
    if (ft__dat_matrix_dims(d, 1 << 20, &nr, &nc, "the mean shape") != FT_OK) return d->failed;
    if (nc != 1 || nr % 2 != 0 || nr == 0)
        return ft__dat_fail(d, "the mean shape is %ld x %ld, not a column of points", nr, nc);
    if (nr != 2 * N_PARTS) {
        d->pos = at;
        return ft__dat_fail(d,
                            "a predictor of %ld parts, not dlib's 5-point face landmarks "
                            "(shape_predictor_5_face_landmarks.dat)",
                            nr / 2);
    }
    if (ft__dat_floats(d, sp->initial, 2 * N_PARTS) != FT_OK) return d->failed;

    size_t ncasc, cap_trees = 0, cap_splits = 0, cap_leaves = 0, cap_feat = 0;
    if (ft__dat_count(d, MAX_CASCADES, 2, &ncasc, "the cascades") != FT_OK) return d->failed;
    if (ncasc == 0) return ft__dat_fail(d, "a shape predictor without cascades");
    sp->n_cascades = (int)ncasc;
    for (size_t c = 0; c < ncasc; c++) {
        size_t nt;
        if (ft__dat_count(d, MAX_TREES, 4, &nt, "a cascade's trees") != FT_OK) return d->failed;
        sp->casc[c].tree0 = (uint32_t)sp->n_trees;
        sp->casc[c].n_trees = (uint32_t)nt;
        for (size_t t = 0; t < nt; t++)
            if (read_tree(d, sp, &cap_splits, &cap_leaves, &cap_trees) != FT_OK) return d->failed;
    }

    /* Anchors, then deltas, one vector per cascade each. */
    size_t n;
    if (ft__dat_count(d, MAX_CASCADES, 2, &n, "the anchor lists") != FT_OK) return d->failed;
    if (n != ncasc) return ft__dat_fail(d, "%zu anchor lists for %zu cascades", n, ncasc);
    for (size_t c = 0; c < ncasc; c++) {
        size_t nf;
        if (ft__dat_count(d, MAX_FEATURES, 2, &nf, "a cascade's anchors") != FT_OK)
            return d->failed;
        if (grow(d, (void **)&sp->anchor, sp->n_feat, nf, sizeof(uint32_t), &cap_feat))
            return d->failed;
        sp->casc[c].feat0 = (uint32_t)sp->n_feat;
        sp->casc[c].n_feat = (uint32_t)nf;
        for (size_t i = 0; i < nf; i++) {
            uint64_t a;
            if (ft__dat_uint(d, &a) != FT_OK) return d->failed;
            if (a >= N_PARTS)
                return ft__dat_fail(d, "anchor %llu of %d parts", (unsigned long long)a, N_PARTS);
            sp->anchor[sp->n_feat + i] = (uint32_t)a;
        }
        sp->n_feat += nf;
    }
    size_t cap_delta = 0;
    if (grow(d, (void **)&sp->delta, 0, 2 * sp->n_feat + 1, sizeof(float), &cap_delta))
        return d->failed;
    if (ft__dat_count(d, MAX_CASCADES, 2, &n, "the delta lists") != FT_OK) return d->failed;
    if (n != ncasc) return ft__dat_fail(d, "%zu delta lists for %zu cascades", n, ncasc);
    for (size_t c = 0; c < ncasc; c++) {
        size_t nf;
        if (ft__dat_count(d, MAX_FEATURES, 8, &nf, "a cascade's deltas") != FT_OK) return d->failed;
        if (nf != sp->casc[c].n_feat)
            return ft__dat_fail(d, "cascade %zu has %u anchors but %zu deltas", c,
                                sp->casc[c].n_feat, nf);
        if (ft__dat_floats(d, &sp->delta[2 * (size_t)sp->casc[c].feat0], 2 * nf) != FT_OK)
            return d->failed;
    }
    if (ft__dat_left(d) != 0) return ft__dat_fail(d, "%zu trailing bytes", ft__dat_left(d));

    /* Split indices against their cascade's features. */
    for (int c = 0; c < sp->n_cascades; c++) {
        const cascade *k = &sp->casc[c];
        for (uint32_t t = k->tree0; t < k->tree0 + k->n_trees; t++) {
            const tree *tr = &sp->trees[t];
            for (uint32_t i = 0; i < tr->n_splits; i++) {
                const split *s = &sp->splits[tr->split0 + i];
                if (s->idx1 >= k->n_feat || s->idx2 >= k->n_feat)
                    return ft__errf(d->err, d->errlen, FT_EMODEL,
                                    "%s: cascade %d tree %u reads feature %u of %u", d->name, c,
                                    t - k->tree0, s->idx1 > s->idx2 ? s->idx1 : s->idx2, k->n_feat);
            }
        }
    }
    return FT_OK;
}

int ft__shape5_load(const unsigned char *p, size_t len, const char *name, ft__shape5 **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    ft__shape5 *sp = ft__calloc(1, sizeof *sp);
    if (!sp) return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", name);
    ft__dat d;
    ft__dat_init(&d, p, len, name, err, errlen);
    int rc = read_predictor(&d, sp);
    if (rc != FT_OK) {
        ft__shape5_free(sp);
        return rc;
    }
    *out = sp;
    return FT_OK;
}

int ft__shape5_open(const char *path, ft__shape5 **out, char *err, size_t errlen)
{
    *out = NULL;
    unsigned char *buf;
    size_t len;
    int rc = ft__dat_load(path, &buf, &len, err, errlen);
    if (rc != FT_OK) return rc;
    rc = ft__shape5_load(buf, len, path, out, err, errlen);
    ft__free(buf);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Running                                                                  */
/* ------------------------------------------------------------------------ */

/* dlib's conversion of a dlib::vector<double> to a point: round half up.
** Saturating: a model's values are only checked for being floats, so a
** damaged file can put a point at 1e34, infinity or NaN, and converting
** such a double to long is undefined. Out of range gives LONG_MIN or
** LONG_MAX (by sign), NaN gives LONG_MIN: far outside any image, so such a
** feature pixel reads 0, as a pixel outside the image does. */
static long round_half_up(double v)
{
    const double r = floor(v + 0.5);
    if (r >= -(double)LONG_MIN) return LONG_MAX;   /* 2^63 (or 2^31): exact in double */
    if (!(r >= (double)LONG_MIN)) return LONG_MIN; /* also NaN */
    return (long)r;
}

int ft__shape5_run_leaves(const ft__shape5 *sp, const ft_image *img, ft__rect rect,
                          ft__shape5_out *out, uint32_t *leaves, size_t cap)
{
    if (leaves && cap < sp->n_trees) return FT_EINVAL;
    double u[2][3]; /* unit square -> image */
    ft__dlib_unnormalizing_tform(rect, u);
    float cur[2 * N_PARTS];
    memcpy(cur, sp->initial, sizeof cur);
    float feat[MAX_FEATURES];
    const long w = img->width, h = img->height;
    for (int c = 0; c < sp->n_cascades; c++) {
        const cascade *k = &sp->casc[c];
        /* The mean shape -> current shape similarity, its linear part cast
        ** to float (dlib: matrix_cast<float>(tform.get_m())). */
        double from[2 * N_PARTS], to[2 * N_PARTS], m[2][2], tt[2];
        for (int i = 0; i < 2 * N_PARTS; i++)
            from[i] = sp->initial[i], to[i] = cur[i];
        ft__dlib_similarity(from, to, N_PARTS, m, tt);
        const float t00 = (float)m[0][0], t01 = (float)m[0][1], t10 = (float)m[1][0],
                    t11 = (float)m[1][1];
        for (uint32_t i = 0; i < k->n_feat; i++) {
            const uint32_t a = sp->anchor[k->feat0 + i];
            const float dx = sp->delta[2 * (size_t)(k->feat0 + i)];
            const float dy = sp->delta[2 * (size_t)(k->feat0 + i) + 1];
            float fx = t00 * dx + t01 * dy;
            float fy = t10 * dx + t11 * dy;
            fx = fx + cur[2 * a];
            fy = fy + cur[2 * a + 1];
            const double X = u[0][0] * (double)fx + u[0][1] * (double)fy + u[0][2];
            const double Y = u[1][0] * (double)fx + u[1][1] * (double)fy + u[1][2];
            const long px = round_half_up(X), py = round_half_up(Y);
            if (px >= 0 && py >= 0 && px < w && py < h) {
                const uint8_t *q = img->rgb + ((size_t)py * (size_t)w + (size_t)px) * 3;
                feat[i] = (float)(((unsigned)q[0] + (unsigned)q[1] + (unsigned)q[2]) / 3u);
            } else {
                feat[i] = 0;
            }
        }
        for (uint32_t t = k->tree0; t < k->tree0 + k->n_trees; t++) {
            const tree *tr = &sp->trees[t];
            const split *s = &sp->splits[tr->split0];
            uint32_t i = 0;
            while (i < tr->n_splits)
                i = (feat[s[i].idx1] - feat[s[i].idx2] > s[i].thresh) ? 2 * i + 1 : 2 * i + 2;
            i -= tr->n_splits;
            if (leaves) leaves[t] = tr->leaf0 / (2 * N_PARTS) + i;
            const float *leaf = &sp->leaves[tr->leaf0 + (size_t)i * 2 * N_PARTS];
            for (int j = 0; j < 2 * N_PARTS; j++)
                cur[j] += leaf[j];
        }
    }
    for (int i = 0; i < N_PARTS; i++) {
        const double X = u[0][0] * (double)cur[2 * i] + u[0][1] * (double)cur[2 * i + 1] + u[0][2];
        const double Y = u[1][0] * (double)cur[2 * i] + u[1][1] * (double)cur[2 * i + 1] + u[1][2];
        out->xy[i][0] = X;
        out->xy[i][1] = Y;
        out->pt[i][0] = round_half_up(X);
        out->pt[i][1] = round_half_up(Y);
    }
    return FT_OK;
}

int ft__shape5_run(const ft__shape5 *sp, const ft_image *img, ft__rect rect, ft__shape5_out *out)
{
    return ft__shape5_run_leaves(sp, img, rect, out, NULL, 0);
}

void ft__shape5_mean(const ft__shape5 *sp, double mean[5][2])
{
    for (int i = 0; i < N_PARTS; i++)
        mean[i][0] = sp->initial[2 * i], mean[i][1] = sp->initial[2 * i + 1];
}

size_t ft__shape5_n_trees(const ft__shape5 *sp)
{
    return sp->n_trees;
}
