/*
** tests/unit/test_geometry.c: face-api's geometry, worked by hand: the net
** input (crop, pad to square, TF legacy bilinear resize), box clipping, the
** dlib alignment rect, and the two non-maximum suppressions.
**
** DESIGN
**   Every expected value is written out in a comment next to its check, from
**   the rules of the JavaScript it mirrors:
**     resize   tf.image.resizeBilinear(alignCorners=false): src = dst * in/out,
**              top = floor(src), bottom = min(top + 1, in - 1); the expected
**              values of TF's and tfjs's own tests are reused where they exist
**     padding  face-api padToSquare: d = |w - h|; bottom/right puts d cells
**              after; centred puts Math.round(d / 2) after and the rest before
**     clip     Box.clipAtImageBorders, then floor of x, y, w, h each
**     align    FaceLandmarks.alignDlib (relScale 0.45, relX 0.5, relY 0.43)
**     nms      ssdMobilenetv1/nonMaxSuppression.ts and ops/nonMaxSuppression.ts
*/
#include "align/align.h"
#include "detect/detect.h"
#include "image/netinput.h"

#include "../harness/test.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
        ft_test_fail(__FILE__, __LINE__, "memory leaked (see the LeakSanitizer report)");
}

/* ------------------------------------------------------------------------ */
/* Net input                                                                */
/* ------------------------------------------------------------------------ */

/* Distinct non-zero value of pixel (x, y), channel c, in image coordinates. */
static uint8_t pix(int x, int y, int c)
{
    return (uint8_t)(1 + (x * 7 + y * 13 + c * 3) % 250);
}

static ft_image *pattern_image(int w, int h)
{
    ft_image *img = NULL;
    ASSERT_OK(ft_image_create(w, h, &img));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                img->rgb[((size_t)y * w + x) * 3 + c] = pix(x, y, c);
    return img;
}

/* An image whose pixel (x, y) is v[y * w + x] in all three channels. */
static ft_image *grey_image(int w, int h, const uint8_t *v)
{
    ft_image *img = NULL;
    ASSERT_OK(ft_image_create(w, h, &img));
    for (int i = 0; i < w * h; i++)
        for (int c = 0; c < 3; c++)
            img->rgb[(size_t)i * 3 + c] = v[i];
    return img;
}

#define NI_GUARD 16

/* Runs ft__net_input into a size*size*3 buffer followed by a guard zone. */
static float *net_input(const ft_image *img, int x, int y, int w, int h, enum ft__pad_square mode,
                        int size)
{
    size_t n = (size_t)size * size * 3;
    float *dst = malloc((n + NI_GUARD) * sizeof(float));
    ASSERT(dst != NULL);
    for (size_t i = 0; i < n + NI_GUARD; i++)
        dst[i] = -12345.0f;
    ASSERT_OK(ft__net_input(img, x, y, w, h, mode, size, dst));
    for (size_t i = n; i < n + NI_GUARD; i++)
        ASSERT(dst[i] == -12345.0f);
    return dst;
}

/* Checks a grey (size x size) result against want, every channel. */
static void expect_grey(const float *dst, int size, const double *want, double tol,
                        const char *what)
{
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            for (int c = 0; c < 3; c++) {
                double g = dst[((size_t)y * size + x) * 3 + c], wv = want[y * size + x];
                if (!(fabs(g - wv) <= tol))
                    ft_test_fail(__FILE__, __LINE__, "%s: (%d,%d) channel %d is %.9g, want %.9g",
                                 what, x, y, c, g, wv);
            }
}

static void test_resize_tf_examples(void)
{
    /* tfjs resize_bilinear_test "simple alignCorners=false": [[2,2],[4,4]]
    ** (2x2) to 3x3 gives [2,2,2], [10/3,10/3,10/3], [4,4,4]:
    ** scale 2/3, rows sy = 0, 2/3, 4/3 -> (top, ay) = (0,0), (0,2/3), (1,1/3
    ** but bottom = top = 1) -> 2, 2 + 2*(2/3), 4 */
    uint8_t v[4] = { 2, 2, 4, 4 };
    ft_image *img = grey_image(2, 2, v);
    double want3[9] = { 2, 2, 2, 10.0 / 3, 10.0 / 3, 10.0 / 3, 4, 4, 4 };
    for (int mode = 0; mode < 2; mode++) { /* square: no padding either way */
        float *d = net_input(img, 0, 0, 2, 2, (enum ft__pad_square)mode, 3);
        expect_grey(d, 3, want3, 1e-6, "2x2 -> 3x3");
        free(d);
    }
    ft_image_destroy(img);

    /* TF image_ops_test: [[1,2],[3,4]] to 4x4 (half-pixel off):
    **   1   1.5 2 2 / 2 2.5 3 3 / 3 3.5 4 4 / 3 3.5 4 4
    ** scale 1/2: sy = 0, .5, 1, 1.5 -> top 0,0,1,1; the last column/row
    ** clamps to the edge */
    uint8_t v2[4] = { 1, 2, 3, 4 };
    img = grey_image(2, 2, v2);
    double want4[16] = { 1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4 };
    float *d = net_input(img, 0, 0, 2, 2, FT__SQUARE_BOTTOM_RIGHT, 4);
    expect_grey(d, 4, want4, 0, "2x2 -> 4x4");
    free(d);
    ft_image_destroy(img);

    /* 4x4 of 1..16 to 2x2: scale 2, sy = 0, 2 with ay = 0 -> picks cells
    ** (0,0), (2,0), (0,2), (2,2) = 1, 3, 9, 11 */
    uint8_t v3[16];
    for (int i = 0; i < 16; i++)
        v3[i] = (uint8_t)(i + 1);
    img = grey_image(4, 4, v3);
    double want2[4] = { 1, 3, 9, 11 };
    d = net_input(img, 0, 0, 4, 4, FT__SQUARE_CENTRED, 2);
    expect_grey(d, 2, want2, 0, "4x4 -> 2x2");
    free(d);
    ft_image_destroy(img);

    /* 3x3 with value 10*y + x to 2x2: scale 1.5, sy = sx = 0, 1.5:
    ** (0,0) = 0; (1,0): x 1.5 between 1 and 2 = 1.5; (0,1): y 1.5 = 15;
    ** (1,1) = 16.5 */
    uint8_t v4[9] = { 0, 1, 2, 10, 11, 12, 20, 21, 22 };
    img = grey_image(3, 3, v4);
    double want22[4] = { 0, 1.5, 15, 16.5 };
    d = net_input(img, 0, 0, 3, 3, FT__SQUARE_BOTTOM_RIGHT, 2);
    expect_grey(d, 2, want22, 1e-6, "3x3 -> 2x2");
    free(d);
    ft_image_destroy(img);
    no_leaks();
}

/* For a no-resize run (size == max(w, h)): output cell (ox, oy) must be the
** region's pixel (ox - off_x, oy - off_y) or, outside the region, exactly 0. */
static void expect_padded_copy(const float *dst, int size, int x0, int y0, int w, int h, int off_x,
                               int off_y, const char *what)
{
    for (int oy = 0; oy < size; oy++)
        for (int ox = 0; ox < size; ox++) {
            int rx = ox - off_x, ry = oy - off_y;
            int inside = rx >= 0 && rx < w && ry >= 0 && ry < h;
            for (int c = 0; c < 3; c++) {
                float g = dst[((size_t)oy * size + ox) * 3 + c];
                float want = inside ? (float)pix(x0 + rx, y0 + ry, c) : 0.0f;
                if (g != want)
                    ft_test_fail(__FILE__, __LINE__, "%s: out (%d,%d) c%d is %g, want %g (%s)",
                                 what, ox, oy, c, g, want, inside ? "pixel" : "padding");
            }
        }
}

static void test_pad_to_square(void)
{
    ft_image *img = pattern_image(12, 10);
    float *d;
    /* 4x2 region at (3, 4), bottom/right, size 4: rows 0-1 image, 2-3 zero */
    d = net_input(img, 3, 4, 4, 2, FT__SQUARE_BOTTOM_RIGHT, 4);
    expect_padded_copy(d, 4, 3, 4, 4, 2, 0, 0, "4x2 bottom/right");
    free(d);
    /* centred, d = 2: round(1) = 1 row after, 1 before: rows 1-2 image */
    d = net_input(img, 3, 4, 4, 2, FT__SQUARE_CENTRED, 4);
    expect_padded_copy(d, 4, 3, 4, 4, 2, 0, 1, "4x2 centred");
    free(d);
    /* 5x2 centred, d = 3: Math.round(1.5) = 2 rows after, 1 before:
    ** row 0 zero, rows 1-2 image, rows 3-4 zero */
    d = net_input(img, 1, 2, 5, 2, FT__SQUARE_CENTRED, 5);
    expect_padded_copy(d, 5, 1, 2, 5, 2, 0, 1, "5x2 centred");
    for (int x = 0; x < 5; x++) { /* the same, spelled out */
        ASSERT(d[(0 * 5 + x) * 3] == 0.0f);
        ASSERT(d[(1 * 5 + x) * 3] == (float)pix(1 + x, 2, 0));
        ASSERT(d[(2 * 5 + x) * 3] == (float)pix(1 + x, 3, 0));
        ASSERT(d[(3 * 5 + x) * 3] == 0.0f);
        ASSERT(d[(4 * 5 + x) * 3] == 0.0f);
    }
    free(d);
    /* 5x4 centred, d = 1: Math.round(0.5) = 1 after, 0 before */
    d = net_input(img, 0, 0, 5, 4, FT__SQUARE_CENTRED, 5);
    expect_padded_copy(d, 5, 0, 0, 5, 4, 0, 0, "5x4 centred");
    free(d);
    /* tall regions pad columns: 2x5 bottom/right -> cols 2-4 zero;
    ** centred -> col 0 zero, cols 1-2 image, cols 3-4 zero */
    d = net_input(img, 7, 3, 2, 5, FT__SQUARE_BOTTOM_RIGHT, 5);
    expect_padded_copy(d, 5, 7, 3, 2, 5, 0, 0, "2x5 bottom/right");
    free(d);
    d = net_input(img, 7, 3, 2, 5, FT__SQUARE_CENTRED, 5);
    expect_padded_copy(d, 5, 7, 3, 2, 5, 1, 0, "2x5 centred");
    free(d);
    /* 3x7 centred, d = 4: 2 after, 2 before */
    d = net_input(img, 9, 3, 3, 7, FT__SQUARE_CENTRED, 7);
    expect_padded_copy(d, 7, 9, 3, 3, 7, 2, 0, "3x7 centred");
    free(d);
    /* square region equal to size: a plain copy, at an offset, and the whole image */
    d = net_input(img, 2, 1, 3, 3, FT__SQUARE_BOTTOM_RIGHT, 3);
    expect_padded_copy(d, 3, 2, 1, 3, 3, 0, 0, "3x3 copy");
    free(d);
    d = net_input(img, 2, 0, 10, 10, FT__SQUARE_CENTRED, 10);
    expect_padded_copy(d, 10, 2, 0, 10, 10, 0, 0, "10x10 copy");
    free(d);
    ft_image_destroy(img);
    no_leaks();
}

static void test_pad_then_resize(void)
{
    /* region 2x1 = [10, 20], bottom/right: square [[10,20],[0,0]], to 4x4
    ** (scale 1/2, s = 0, .5, 1, 1.5; top 0,0,1,1; a = 0,.5,0,.5):
    **   row 0: 10, 15, 20, 20     row 1 (half way to the zero row): 5, 7.5, 10, 10
    **   rows 2, 3: the zero row */
    uint8_t v[2] = { 10, 20 };
    ft_image *img = grey_image(2, 1, v);
    double want[16] = { 10, 15, 20, 20, 5, 7.5, 10, 10, 0, 0, 0, 0, 0, 0, 0, 0 };
    float *d = net_input(img, 0, 0, 2, 1, FT__SQUARE_BOTTOM_RIGHT, 4);
    expect_grey(d, 4, want, 0, "2x1 bottom/right -> 4x4");
    free(d);
    /* centred with d = 1 pads after too: the same result */
    d = net_input(img, 0, 0, 2, 1, FT__SQUARE_CENTRED, 4);
    expect_grey(d, 4, want, 0, "2x1 centred -> 4x4");
    free(d);
    ft_image_destroy(img);

    /* region 3x1 = [8, 16, 32] centred (d = 2: one zero row before, one
    ** after): [[0,0,0],[8,16,32],[0,0,0]] to 2x2, scale 1.5, s = 0, 1.5:
    **   row 0 = square row 0 = 0, 0
    **   row 1: top 1, bottom 2, a = .5: half of row 1 at x = 0 (8) and at
    **   x = 1.5 ((16 + 32) / 2 = 24): 4, 12
    ** bottom/right instead: [[8,16,32],[0,0,0],[0,0,0]] -> row 0: 8, 24;
    ** row 1 (top 1, bottom 2): 0, 0 */
    uint8_t v3[3] = { 8, 16, 32 };
    img = grey_image(3, 1, v3);
    double wc[4] = { 0, 0, 4, 12 }, wb[4] = { 8, 24, 0, 0 };
    d = net_input(img, 0, 0, 3, 1, FT__SQUARE_CENTRED, 2);
    expect_grey(d, 2, wc, 0, "3x1 centred -> 2x2");
    free(d);
    d = net_input(img, 0, 0, 3, 1, FT__SQUARE_BOTTOM_RIGHT, 2);
    expect_grey(d, 2, wb, 0, "3x1 bottom/right -> 2x2");
    free(d);
    ft_image_destroy(img);
    no_leaks();
}

static void test_net_input_rejects_bad_regions(void)
{
    ft_image *img = pattern_image(8, 6);
    float dst[4 * 4 * 3];
    const int bad[][5] = {
        /* x, y, w, h, size */
        { -1, 0, 4, 4, 4 }, { 0, -1, 4, 4, 4 }, { 5, 0, 4, 4, 4 },  { 0, 3, 4, 4, 4 },
        { 0, 0, 0, 4, 4 },  { 0, 0, 4, 0, 4 },  { 0, 0, -2, 4, 4 }, { 0, 0, 4, 4, 0 },
        { 8, 0, 1, 1, 4 },  { 0, 6, 1, 1, 4 },  { 0, 0, 9, 6, 4 },  { 0, 0, 8, 7, 4 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const int *b = bad[i];
        int rc = ft__net_input(img, b[0], b[1], b[2], b[3], FT__SQUARE_CENTRED, b[4], dst);
        if (rc != FT_EINVAL)
            ft_test_fail(__FILE__, __LINE__, "region (%d,%d,%d,%d) size %d: rc %d, want EINVAL",
                         b[0], b[1], b[2], b[3], b[4], rc);
    }
    /* the whole image and a 1x1 corner are fine */
    float big[8 * 8 * 3];
    ASSERT_OK(ft__net_input(img, 0, 0, 8, 6, FT__SQUARE_CENTRED, 8, big));
    ASSERT_OK(ft__net_input(img, 7, 5, 1, 1, FT__SQUARE_CENTRED, 4, dst));
    /* a 1x1 region resized up is its pixel everywhere */
    for (int i = 0; i < 16; i++)
        for (int c = 0; c < 3; c++)
            ASSERT(dst[i * 3 + c] == (float)pix(7, 5, c));
    ft_image_destroy(img);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Box clipping                                                             */
/* ------------------------------------------------------------------------ */

static void expect_clip(double x, double y, double w, double h, int iw, int ih, int ret, int ex,
                        int ey, int ew, int eh)
{
    int out[4] = { -99, -99, -99, -99 };
    int r = ft__clip_box(x, y, w, h, iw, ih, out);
    if (r != ret || (ret && (out[0] != ex || out[1] != ey || out[2] != ew || out[3] != eh)))
        ft_test_fail(__FILE__, __LINE__,
                     "clip (%g,%g,%g,%g) in %dx%d: %d (%d,%d,%d,%d), want %d (%d,%d,%d,%d)", x, y,
                     w, h, iw, ih, r, out[0], out[1], out[2], out[3], ret, ex, ey, ew, eh);
}

static void test_clip_box(void)
{
    /* inside: each of x, y, w, h floored on its own: (5, 3, 10, 4), not
    ** floor(right) - floor(x) = 16 - 5 = 11 */
    expect_clip(5.7, 3.2, 10.6, 4.9, 100, 100, 1, 5, 3, 10, 4);
    /* left and bottom out, 40x30 image: right 40.2, bottom 36.15;
    ** x 0, y 5.25, w min(40.2 - 0, 40 - 0) = 40, h min(36.15 - 5.25, 30 - 5.25)
    ** = 24.75 -> (0, 5, 40, 24) */
    expect_clip(-10.5, 5.25, 50.7, 30.9, 40, 30, 1, 0, 5, 40, 24);
    /* past the right and bottom: w = min(20, 40 - 30.5) = 9.5, h = min(20,
    ** 30 - 20.5) = 9.5 -> (30, 20, 9, 9) */
    expect_clip(30.5, 20.5, 20, 20, 40, 30, 1, 30, 20, 9, 9);
    /* above: y 0, h = bottom 7.5 - 0 -> (3, 0, 4, 7) */
    expect_clip(3, -2.5, 4, 10, 40, 30, 1, 3, 0, 4, 7);
    /* covering the whole image and more: the image */
    expect_clip(-5, -5, 100, 100, 40, 30, 1, 0, 0, 40, 30);
    /* entirely outside: right of (w = 40 - 100 < 0), left of (w = -30 - 0),
    ** above, below; and a sliver whose width floors to 0 */
    expect_clip(100, 0, 10, 10, 40, 30, 0, 0, 0, 0, 0);
    expect_clip(-50, 5, 20, 10, 40, 30, 0, 0, 0, 0, 0);
    expect_clip(5, -40, 10, 20, 40, 30, 0, 0, 0, 0, 0);
    expect_clip(5, 31, 10, 20, 40, 30, 0, 0, 0, 0, 0);
    expect_clip(40, 5, 10, 10, 40, 30, 0, 0, 0, 0, 0);
    expect_clip(10.2, 10, 0.5, 5, 40, 30, 0, 0, 0, 0, 0);
    /* written values of a rejected box: (100, 0, -60, 10) */
    int out[4];
    ASSERT_EQ(ft__clip_box(100, 0, 10, 10, 40, 30, out), 0);
    ASSERT_EQ(out[0], 100);
    ASSERT_EQ(out[2], -60);
}

/* ------------------------------------------------------------------------ */
/* dlib alignment rect                                                      */
/* ------------------------------------------------------------------------ */

/* 68 points: eyes (36-41, 42-47) and mouth (48-67) spread around the given
** centres by integer offsets (so the means are exact); the jaw, brows and
** nose far away (they must not matter). */
static void make_landmarks(double pts[68][2], double le_x, double le_y, double re_x, double re_y,
                           double mo_x, double mo_y)
{
    for (int i = 0; i < 36; i++)
        pts[i][0] = 1000 + i, pts[i][1] = 2000 - i;
    static const int eye_off[6][2] = { { -3, 0 }, { -1, -1 }, { 1, -1 },
                                       { 3, 0 },  { 1, 1 },   { -1, 1 } };
    for (int i = 0; i < 6; i++) {
        pts[36 + i][0] = le_x + eye_off[i][0], pts[36 + i][1] = le_y + eye_off[i][1];
        pts[42 + i][0] = re_x + eye_off[i][0], pts[42 + i][1] = re_y + eye_off[i][1];
    }
    /* outer lip (48-59) centred 2 below, inner lip (60-67) 3 above: only
    ** all 20 together average to the mouth centre (12 * 2 = 8 * 3) */
    for (int i = 0; i < 6; i++) {
        pts[48 + 2 * i][0] = mo_x + (i + 1), pts[48 + 2 * i][1] = mo_y + 2 + i % 3;
        pts[49 + 2 * i][0] = mo_x - (i + 1), pts[49 + 2 * i][1] = mo_y + 2 - i % 3;
    }
    for (int i = 0; i < 4; i++) {
        pts[60 + 2 * i][0] = mo_x + (i + 1), pts[60 + 2 * i][1] = mo_y - 3 + i % 2;
        pts[61 + 2 * i][0] = mo_x - (i + 1), pts[61 + 2 * i][1] = mo_y - 3 - i % 2;
    }
}

static void expect_rect(const double r[4], double x, double y, double w, double h, const char *what)
{
    if (r[0] != x || r[1] != y || r[2] != w || r[3] != h)
        ft_test_fail(__FILE__, __LINE__, "%s: rect (%g, %g, %g, %g), want (%g, %g, %g, %g)", what,
                     r[0], r[1], r[2], r[3], x, y, w, h);
}

static void test_align_dlib(void)
{
    double pts[68][2], r[4];
    /* eyes (40,50), (60,50), mouth (50,80): both eye-mouth distances
    ** sqrt(10^2 + 30^2) = 31.6228, size floor(31.6228 / 0.45) = floor(70.27)
    ** = 70; ref = ((40+60+50)/3, (50+50+80)/3) = (50, 60);
    ** x = floor(50 - 0.5*70) = 15, y = floor(60 - 0.43*70) = floor(29.9) = 29 */
    make_landmarks(pts, 40, 50, 60, 50, 50, 80);
    ft__align_dlib(pts, 200, 200, r);
    expect_rect(r, 15, 29, 70, 70, "symmetric face");
    /* w, h = min(size, crop side + x/y): crop 50x30 -> 65, 59 */
    ft__align_dlib(pts, 50, 30, r);
    expect_rect(r, 15, 29, 65, 59, "small crop");

    /* near the origin: eyes (10,20), (30,20), mouth (20,50): size 70 again,
    ** ref (20, 30): x = max(0, 20 - 35) = 0, y = max(0, 30 - 30.1) = 0;
    ** crop 60x100: w = min(70, 60 + 0) = 60, h = 70 */
    make_landmarks(pts, 10, 20, 30, 20, 20, 50);
    ft__align_dlib(pts, 60, 100, r);
    expect_rect(r, 0, 0, 60, 70, "clamped at the origin");

    /* unequal distances: eyes (100,100), (121,100), mouth (100,120):
    ** d_left = 20, d_right = sqrt(21^2 + 20^2) = 29, mean 24.5,
    ** size floor(24.5 / 0.45) = floor(54.44) = 54;
    ** ref = (321/3, 320/3) = (107, 106.667);
    ** x = floor(107 - 27) = 80, y = floor(106.667 - 23.22) = floor(83.447) = 83 */
    make_landmarks(pts, 100, 100, 121, 100, 100, 120);
    ft__align_dlib(pts, 500, 500, r);
    expect_rect(r, 80, 83, 54, 54, "unequal distances");
}

/* ------------------------------------------------------------------------ */
/* Non-maximum suppression                                                  */
/* ------------------------------------------------------------------------ */

static void expect_keep(const int *keep, int n, const int *want, int n_want, const char *what)
{
    int ok = n == n_want;
    for (int i = 0; ok && i < n; i++)
        ok = keep[i] == want[i];
    if (!ok) {
        char got[128] = "", exp[128] = "";
        for (int i = 0; i < n && i < 16; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), " %d", keep[i]);
        for (int i = 0; i < n_want; i++)
            snprintf(exp + strlen(exp), sizeof exp - strlen(exp), " %d", want[i]);
        ft_test_fail(__FILE__, __LINE__, "%s: kept [%s ] (%d), want [%s ]", what, got, n, exp);
    }
}

static void test_nms_ssd(void)
{
    int keep[8];
    /* (ymin, xmin, ymax, xmax). 3: the best; 2 overlaps it with IoU
    ** 9*9 / (100 + 100 - 81) = 0.68 > 0.5; 0 is disjoint; 1 is under the
    ** score threshold 0.5 -> [3, 0] */
    const float b1[4 * 4] = { 20, 20, 30, 30, 40, 40, 50, 50, 1, 1, 11, 11, 0, 0, 10, 10 };
    const float s1[4] = { 0.7f, 0.2f, 0.8f, 0.9f };
    int n = ft__nms_ssd(b1, s1, 4, 100, 0.5, 0.5, keep);
    expect_keep(keep, n, (int[]){ 3, 0 }, 2, "basic");
    /* max_out 1 -> [3] */
    n = ft__nms_ssd(b1, s1, 4, 1, 0.5, 0.5, keep);
    expect_keep(keep, n, (int[]){ 3 }, 1, "max_out 1");
    /* a looser IoU threshold (0.7 > 0.68) keeps 2 as well: [3, 2, 0] */
    n = ft__nms_ssd(b1, s1, 4, 100, 0.7, 0.5, keep);
    expect_keep(keep, n, (int[]){ 3, 2, 0 }, 3, "IoU threshold 0.7");
    /* score threshold 0.1 admits 1 (disjoint): [3, 0, 1] */
    n = ft__nms_ssd(b1, s1, 4, 100, 0.5, 0.1, keep);
    expect_keep(keep, n, (int[]){ 3, 0, 1 }, 3, "score threshold 0.1");

    /* equal scores: the lower index first; 2 duplicates 0 and goes -> [0, 1] */
    const float b2[3 * 4] = { 0, 0, 10, 10, 20, 20, 30, 30, 0, 0, 10, 10 };
    const float s2[3] = { 0.6f, 0.6f, 0.6f };
    n = ft__nms_ssd(b2, s2, 3, 100, 0.5, 0.5, keep);
    expect_keep(keep, n, (int[]){ 0, 1 }, 2, "ties");

    /* IoU exactly 0.5 is not suppressed (x <= threshold keeps):
    ** [0,0,5,10] in [0,0,10,10]: 50 / 100 = 0.5 -> [0, 1]; a taller inner
    ** box [0,0,5.5,10]: 0.55 -> [0] */
    const float b3[2 * 4] = { 0, 0, 10, 10, 0, 0, 5, 10 };
    const float b4[2 * 4] = { 0, 0, 10, 10, 0, 0, 5.5f, 10 };
    const float s3[2] = { 0.9f, 0.8f };
    n = ft__nms_ssd(b3, s3, 2, 100, 0.5, 0.5, keep);
    expect_keep(keep, n, (int[]){ 0, 1 }, 2, "IoU = threshold");
    n = ft__nms_ssd(b4, s3, 2, 100, 0.5, 0.5, keep);
    expect_keep(keep, n, (int[]){ 0 }, 1, "IoU above threshold");

    /* a score equal to the threshold is dropped (score > threshold) */
    const float s4[2] = { 0.5f, 0.75f };
    n = ft__nms_ssd(b1, s4, 2, 100, 0.5, 0.5, keep);
    expect_keep(keep, n, (int[]){ 1 }, 1, "score = threshold");

    /* corners given the other way round (ymax, xmax, ymin, xmin) are the
    ** same box: 1 is 0 flipped -> [0] */
    const float b5[2 * 4] = { 0, 0, 10, 10, 11, 11, 1, 1 };
    n = ft__nms_ssd(b5, s3, 2, 100, 0.5, 0.5, keep);
    expect_keep(keep, n, (int[]){ 0 }, 1, "flipped corners");

    /* nothing above the threshold, and no boxes */
    const float s5[2] = { 0.1f, 0.2f };
    ASSERT_EQ(ft__nms_ssd(b3, s5, 2, 100, 0.5, 0.5, keep), 0);
    ASSERT_EQ(ft__nms_ssd(b3, s5, 0, 100, 0.5, 0.5, keep), 0);
    no_leaks();
}

static void test_nms_boxes(void)
{
    int keep[8];
    /* (x, y, w, h), IoU threshold 0.4.
    ** 1 (0.9) first; 0 overlaps it 9*9 / (200 - 81) = 0.68 -> dropped;
    ** 3 overlaps 1 by 6*9 = 54 / 146 = 0.37 -> stays; then 2 (0.7), 3 (0.6)
    ** -> [1, 2, 3] */
    const double b1[4][4] = {
        { 0, 0, 10, 10 }, { 1, 1, 10, 10 }, { 50, 50, 10, 10 }, { 5, 0, 10, 10 }
    };
    const double s1[4] = { 0.5, 0.9, 0.7, 0.6 };
    int n = ft__nms_boxes(b1, s1, 4, 0.4, keep);
    expect_keep(keep, n, (int[]){ 1, 2, 3 }, 3, "basic");
    /* threshold 0.3: 3 now goes too (0.37 > 0.3) -> [1, 2] */
    n = ft__nms_boxes(b1, s1, 4, 0.3, keep);
    expect_keep(keep, n, (int[]){ 1, 2 }, 2, "threshold 0.3");

    /* equal scores: face-api pops the end of a stable ascending sort, so the
    ** higher index comes first: identical boxes 0, 1 -> [1] */
    const double b2[2][4] = { { 0, 0, 10, 10 }, { 0, 0, 10, 10 } };
    const double s2[2] = { 0.8, 0.8 };
    n = ft__nms_boxes(b2, s2, 2, 0.4, keep);
    expect_keep(keep, n, (int[]){ 1 }, 1, "equal scores, same box");
    /* three disjoint boxes of equal score -> [2, 1, 0] */
    const double b3[3][4] = { { 0, 0, 1, 1 }, { 5, 5, 1, 1 }, { 9, 9, 1, 1 } };
    const double s3[3] = { 0.5, 0.5, 0.5 };
    n = ft__nms_boxes(b3, s3, 3, 0.4, keep);
    expect_keep(keep, n, (int[]){ 2, 1, 0 }, 3, "equal scores, disjoint");
    /* mixed: 0 and 2 tie above 1 -> [2, 0, 1] */
    const double s4[3] = { 0.7, 0.2, 0.7 };
    n = ft__nms_boxes(b3, s4, 3, 0.4, keep);
    expect_keep(keep, n, (int[]){ 2, 0, 1 }, 3, "ties above a lower score");

    /* IoU exactly at the threshold stays (kept when <= threshold):
    ** (0,0,10,4) in (0,0,10,10): 40 / 100 = 0.4 */
    const double b4[2][4] = { { 0, 0, 10, 10 }, { 0, 0, 10, 4 } };
    const double s5[2] = { 0.9, 0.8 };
    n = ft__nms_boxes(b4, s5, 2, 0.4, keep);
    expect_keep(keep, n, (int[]){ 0, 1 }, 2, "IoU = threshold");
    ASSERT_EQ(ft__nms_boxes(b4, s5, 0, 0.4, keep), 0);
    no_leaks();
}

FT_TESTS(FT_TEST(test_resize_tf_examples), FT_TEST(test_pad_to_square),
         FT_TEST(test_pad_then_resize), FT_TEST(test_net_input_rejects_bad_regions),
         FT_TEST(test_clip_box), FT_TEST(test_align_dlib), FT_TEST(test_nms_ssd),
         FT_TEST(test_nms_boxes))
