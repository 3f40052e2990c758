/*
** tests/unit/test_nn.c: the layers of nn/: the XNNPACK path against the naive
** reference path on random data, the reference kernels against hand-worked
** values, TF's window arithmetic, and whole nets (landmarks, descriptor) run
** both ways.
**
** DESIGN
**   Two oracles. (1) Hand-worked numbers (written out in comments) pin the
**   reference kernels and the window helpers to TensorFlow's semantics: SAME
**   pads the smaller half before, max pooling ignores padded cells, HWIO
**   weight layout. (2) The reference kernels, once pinned, are the oracle for
**   the XNNPACK path on random tensors (xorshift32, fixed seeds) over every
**   kernel/stride/padding/size/channel/bias/clamp combination asked for.
**   Output buffers are filled with a NaN sentinel and followed by a guard
**   zone, so an element a path forgets to write, or one it writes past the
**   end, fails the comparison.
**
**   Tolerance for float sums: max |xnn - ref| <= 1e-5 * (1 + max |ref|) over a
**   tensor; max pooling, add, leaky ReLU must be bit-identical (no rounding
**   happens in them beyond the one float add/multiply both paths do). The
**   sweeps print the worst relative difference they saw.
**
**   Reads: ASan cannot see inside the (uninstrumented) XNNPACK library, so
**   test_xnn_reads_stay_within_extra_bytes puts each input, plus the
**   XNN_EXTRA_BYTES of slack XNNPACK may read, at the very end of a page
**   followed by an inaccessible one; a kernel reading further faults and a
**   SIGSEGV handler names the case.
**
** INVARIANTS  (1) every failure message names the seed and the shape.
**             (2) tests that need the face-api models FT_SKIP without them.
*/
#include "align/align.h"
#include "embed/embed.h"
#include "nn/nn.h"

#include "../harness/test.h"

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
        ft_test_fail(__FILE__, __LINE__, "memory leaked (see the LeakSanitizer report)");
}

/* xorshift32; the state must not be 0. */
static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Uniform in [lo, hi). */
static float rng_float(uint32_t *s, float lo, float hi)
{
    return lo + (hi - lo) * ((float)(rng_next(s) >> 8) * (1.0f / 16777216.0f));
}

static void fill_random(uint32_t *s, float *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = rng_float(s, lo, hi);
}

#define GUARD 64                             /* floats after every output buffer */
static const uint32_t SENTINEL = 0x7fc0dead; /* a quiet NaN */

/* n floats + GUARD, all set to the sentinel NaN. */
static float *sentinel_buf(size_t n)
{
    float *p = malloc((n + GUARD) * sizeof(float));
    ASSERT(p != NULL);
    for (size_t i = 0; i < n + GUARD; i++)
        memcpy(&p[i], &SENTINEL, sizeof(float));
    return p;
}

/* 1 if the GUARD floats after p[n] still hold the sentinel. */
static int guard_intact(const float *p, size_t n)
{
    for (size_t i = n; i < n + GUARD; i++)
        if (memcmp(&p[i], &SENTINEL, sizeof(float)) != 0) return 0;
    return 1;
}

typedef struct cmp_result {
    double worst;   /* max |got - want| (INFINITY if a NaN is involved) */
    double max_ref; /* max |want| */
    size_t at;      /* index of the worst element */
} cmp_result;

static cmp_result compare(const float *got, const float *want, size_t n)
{
    cmp_result r = { 0, 0, 0 };
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (isnan(got[i]) || isnan(want[i])) d = INFINITY;
        if (d > r.worst || (d == INFINITY && r.worst != INFINITY)) r.worst = d, r.at = i;
        if (fabs(want[i]) > r.max_ref) r.max_ref = fabs(want[i]);
    }
    return r;
}

static int within(const cmp_result *r, double rel)
{
    return r->worst <= rel * (1.0 + r->max_ref);
}

static const char *pad_name(enum ft__pad p)
{
    return p == FT__PAD_SAME ? "SAME" : "VALID";
}

static const ft__nn_ctx XNN = { NULL, 0, NULL };
static const ft__nn_ctx REF = { NULL, 1, NULL };

/* ------------------------------------------------------------------------ */
/* Window arithmetic (TF values)                                            */
/* ------------------------------------------------------------------------ */

static void test_window_tf_values(void)
{
    /* SAME: out = ceil(in / s); total = max((out-1)*s + k - in, 0); before = total / 2 */
    ASSERT_EQ(ft__window_out(512, 3, 2, FT__PAD_SAME), 256);
    ASSERT_EQ(ft__window_pad_before(512, 3, 2, FT__PAD_SAME), 0); /* total 1: 0 before, 1 after */
    ASSERT_EQ(ft__window_out(5, 3, 2, FT__PAD_SAME), 3);
    ASSERT_EQ(ft__window_pad_before(5, 3, 2, FT__PAD_SAME), 1); /* total 2 */
    ASSERT_EQ(ft__window_out(4, 3, 2, FT__PAD_SAME), 2);
    ASSERT_EQ(ft__window_pad_before(4, 3, 2, FT__PAD_SAME), 0); /* total 1 */
    ASSERT_EQ(ft__window_out(7, 7, 1, FT__PAD_SAME), 7);
    ASSERT_EQ(ft__window_pad_before(7, 7, 1, FT__PAD_SAME), 3); /* total 6 */
    ASSERT_EQ(ft__window_out(8, 7, 1, FT__PAD_SAME), 8);
    ASSERT_EQ(ft__window_pad_before(8, 7, 1, FT__PAD_SAME), 3); /* total 6 */
    ASSERT_EQ(ft__window_out(1, 7, 2, FT__PAD_SAME), 1);
    ASSERT_EQ(ft__window_pad_before(1, 7, 2, FT__PAD_SAME), 3); /* total 6 */
    ASSERT_EQ(ft__window_out(16, 1, 2, FT__PAD_SAME), 8);
    ASSERT_EQ(ft__window_pad_before(16, 1, 2, FT__PAD_SAME), 0); /* total -1 -> 0 */
    ASSERT_EQ(ft__window_out(2, 2, 1, FT__PAD_SAME), 2);
    ASSERT_EQ(ft__window_pad_before(2, 2, 1, FT__PAD_SAME), 0); /* total 1 */
    /* VALID: out = floor((in - k) / s) + 1 when in >= k, else 0; no padding */
    ASSERT_EQ(ft__window_out(150, 7, 2, FT__PAD_VALID), 72);
    ASSERT_EQ(ft__window_out(35, 3, 2, FT__PAD_VALID), 17);
    ASSERT_EQ(ft__window_out(8, 3, 2, FT__PAD_VALID), 3);
    ASSERT_EQ(ft__window_out(72, 3, 2, FT__PAD_VALID), 35);
    ASSERT_EQ(ft__window_out(7, 7, 2, FT__PAD_VALID), 1);
    ASSERT_EQ(ft__window_out(14, 14, 2, FT__PAD_VALID), 1);
    ASSERT_EQ(ft__window_out(3, 3, 1, FT__PAD_VALID), 1);
    ASSERT_EQ(ft__window_out(2, 3, 1, FT__PAD_VALID), 0);
    ASSERT_EQ(ft__window_pad_before(150, 7, 2, FT__PAD_VALID), 0);
    ASSERT_EQ(ft__window_pad_before(5, 3, 2, FT__PAD_VALID), 0);
}

/* ------------------------------------------------------------------------ */
/* Hand-worked reference cases (both paths must give them)                  */
/* ------------------------------------------------------------------------ */

/* Runs l on in through both paths and checks both against want (tol abs). */
static void conv_both_expect(ft__conv *l, const ft__tensor *in, const float *want, int oh, int ow,
                             double tol, const char *what)
{
    for (int path = 0; path < 2; path++) {
        ft__tensor out;
        ft__conv_out_shape(l, in, &out);
        ASSERT_EQ(out.h, oh);
        ASSERT_EQ(out.w, ow);
        size_t n = ft__tensor_count(&out);
        out.data = sentinel_buf(n);
        ASSERT_OK(ft__conv_run(path ? &REF : &XNN, l, in, &out));
        for (size_t i = 0; i < n; i++)
            if (!(fabs(out.data[i] - want[i]) <= tol))
                ft_test_fail(__FILE__, __LINE__, "%s (%s path): element %zu is %.9g, want %.9g",
                             what, path ? "ref" : "xnn", i, out.data[i], want[i]);
        ASSERT(guard_intact(out.data, n));
        free(out.data);
    }
}

static void test_ref_conv_same_s1_by_hand(void)
{
    /* input 1..9, 3x3 all-ones kernel, SAME stride 1 (pad 1 all round):
    **    1 2 3        12 21 16      corner 1+2+4+5 = 12, edge 1+2+3+4+5+6 = 21,
    **    4 5 6   ->   27 45 33      centre 1+...+9 = 45, and so on
    **    7 8 9        24 39 28 */
    float x[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, w[9],
          want[9] = { 12, 21, 16, 27, 45, 33, 24, 39, 28 };
    for (int i = 0; i < 9; i++)
        w[i] = 1;
    ft__tensor in = { x, 3, 3, 1 };
    ft__conv l;
    ASSERT_OK(ft__conv_init(&l, 3, 3, 1, 1, 1, 0, FT__PAD_SAME, w, NULL, -INFINITY, INFINITY));
    conv_both_expect(&l, &in, want, 3, 3, 0, "3x3 ones SAME/1");
    ft__conv_fini(&l);
    /* same as a depthwise conv (one channel) with bias 0.5 */
    ft__conv d;
    float b = 0.5f, want_b[9];
    for (int i = 0; i < 9; i++)
        want_b[i] = want[i] + 0.5f;
    ASSERT_OK(ft__conv_init(&d, 3, 3, 1, 1, 1, 1, FT__PAD_SAME, w, &b, -INFINITY, INFINITY));
    conv_both_expect(&d, &in, want_b, 3, 3, 0, "3x3 ones depthwise SAME/1 + bias");
    ft__conv_fini(&d);
    no_leaks();
}

static void test_ref_conv_same_s2_pads_after(void)
{
    /* 4x4 input 1..16, 3x3 ones, SAME stride 2: out 2x2, total pad
    ** (2-1)*2 + 3 - 4 = 1, which TF puts after (0 before):
    **     1  2  3  4     out(0,0) = rows 0-2, cols 0-2 = 1+2+3+5+6+7+9+10+11 = 54
    **     5  6  7  8     out(0,1) = rows 0-2, cols 2-3 = 3+4+7+8+11+12       = 45
    **     9 10 11 12     out(1,0) = rows 2-3, cols 0-2 = 9+10+11+13+14+15    = 72
    **    13 14 15 16     out(1,1) = rows 2-3, cols 2-3 = 11+12+15+16         = 54
    ** (with the pad before instead, out(0,0) would be 1+2+5+6 = 14) */
    float x[16], w[9], want[4] = { 54, 45, 72, 54 };
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1);
    for (int i = 0; i < 9; i++)
        w[i] = 1;
    ft__tensor in = { x, 4, 4, 1 };
    ft__conv l;
    ASSERT_OK(ft__conv_init(&l, 3, 3, 2, 1, 1, 0, FT__PAD_SAME, w, NULL, -INFINITY, INFINITY));
    conv_both_expect(&l, &in, want, 2, 2, 0, "4x4 SAME/2 k3");
    ft__conv_fini(&l);
    /* VALID stride 2 on the same input: one window, rows/cols 0-2 = 54 */
    ASSERT_OK(ft__conv_init(&l, 3, 3, 2, 1, 1, 0, FT__PAD_VALID, w, NULL, -INFINITY, INFINITY));
    conv_both_expect(&l, &in, want, 1, 1, 0, "4x4 VALID/2 k3");
    ft__conv_fini(&l);
    no_leaks();
}

/* Explicit padding (ONNX, dlib): pad 1 on each side, stride 2, on the same
** 4x4 input as above; out = (4 + 2 - 3) / 2 + 1 = 2 per axis:
**     out(0,0) = rows -1..1, cols -1..1 = 1+2+5+6                  = 14
**     out(0,1) = rows -1..1, cols  1..3 = 2+3+4+6+7+8              = 30
**     out(1,0) = rows  1..3, cols -1..1 = 5+6+9+10+13+14           = 57
**     out(1,1) = rows  1..3, cols  1..3 = 6+7+8+10+11+12+14+15+16  = 99
** and max pooling 3/2 pad 1 takes the largest cell of each window, never a
** padded zero: 6, 8, 14, 16 (all inputs positive), and -1 ... on negatives. */
static void test_explicit_padding_by_hand(void)
{
    float x[16], w[9], want[4] = { 14, 30, 57, 99 };
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1);
    for (int i = 0; i < 9; i++)
        w[i] = 1;
    ft__tensor in = { x, 4, 4, 1 };
    ft__conv l;
    ASSERT_OK(ft__conv_init_pad(&l, 3, 3, 2, 1, 1, 1, 1, 0, w, NULL, -INFINITY, INFINITY));
    conv_both_expect(&l, &in, want, 2, 2, 0, "4x4 pad 1/2 k3");
    ft__conv_fini(&l);
    ASSERT_OK(ft__conv_init_pad(&l, 3, 3, 2, 1, 1, 1, 1, 1, w, NULL, -INFINITY, INFINITY));
    conv_both_expect(&l, &in, want, 2, 2, 0, "4x4 depthwise pad 1/2 k3");
    ft__conv_fini(&l);
    ASSERT_EQ(ft__window_out_explicit(4, 3, 2, 1), 2);
    ASSERT_EQ(ft__window_out_explicit(5, 3, 2, 1), 3);
    ASSERT_EQ(ft__window_out_explicit(1, 5, 1, 1), 0);
    ASSERT_EQ(ft__window_out_explicit(150, 7, 2, 0), 72);

    float neg[16], mx[4] = { 6, 8, 14, 16 }, mneg[4] = { -1, -2, -5, -6 };
    for (int i = 0; i < 16; i++)
        neg[i] = -(float)(i + 1);
    const ft__nn_ctx *ctxs[2] = { &XNN, &REF };
    for (int path = 0; path < 2; path++)
        for (int sign = 0; sign < 2; sign++) {
            ft__pool p;
            ASSERT_OK(ft__pool_init_pad(&p, 3, 2, 1, 1, 1));
            ft__tensor pin = { sign ? neg : x, 4, 4, 1 }, pout;
            float buf[4 + 64];
            pout.data = buf;
            ASSERT_OK(ft__pool_run(ctxs[path], &p, &pin, &pout));
            ASSERT_EQ(pout.h, 2);
            ASSERT_EQ(pout.w, 2);
            for (int i = 0; i < 4; i++)
                if (buf[i] != (sign ? mneg : mx)[i])
                    ft_test_fail(__FILE__, __LINE__, "%s max pool pad 1 %s: [%d] = %g, want %g",
                                 path ? "ref" : "xnn", sign ? "negative" : "positive", i,
                                 (double)buf[i], (double)(sign ? mneg : mx)[i]);
            ft__pool_fini(&p);
        }
    no_leaks();
}

static void test_ref_conv_layouts_by_hand(void)
{
    /* Regular 1x1 conv, HWIO weights W[i][o] = {{1,2,3},{4,5,6}}, bias
    ** (100,200,300), one pixel (1, 10): out_o = 1*W[0][o] + 10*W[1][o] + b_o
    ** = (1+40+100, 2+50+200, 3+60+300) = (141, 252, 363). */
    float w[6] = { 1, 2, 3, 4, 5, 6 }, b[3] = { 100, 200, 300 }, x[2] = { 1, 10 };
    float want[3] = { 141, 252, 363 };
    ft__tensor in = { x, 1, 1, 2 };
    ft__conv l;
    ASSERT_OK(ft__conv_init(&l, 1, 1, 1, 2, 3, 0, FT__PAD_VALID, w, b, -INFINITY, INFINITY));
    conv_both_expect(&l, &in, want, 1, 1, 0, "1x1 HWIO layout");
    ft__conv_fini(&l);

    /* Depthwise 3x3, 2 channels, weights (ky, kx, c): channel 0 all ones,
    ** channel 1 = 1..9 in row-major kernel order. Input 3x3: channel 0 = 1..9,
    ** channel 1 = 1 everywhere. SAME stride 1:
    **   channel 0 as in the 3x3 case: 12 21 16 / 27 45 33 / 24 39 28
    **   channel 1 = sum of the kernel cells that land inside the image:
    **     (0,0): cells (1,1),(1,2),(2,1),(2,2) = 5+6+8+9 = 28
    **     (0,1): rows 1-2 = 4+5+6+7+8+9 = 39     (0,2): 4+5+7+8 = 24
    **     (1,0): cols 1-2 = 2+3+5+6+8+9 = 33     (1,1): 45   (1,2): 1+2+4+5+7+8 = 27
    **     (2,0): 2+3+5+6 = 16   (2,1): rows 0-1 = 21   (2,2): 1+2+4+5 = 12 */
    float dw[18], dx[18];
    for (int k = 0; k < 9; k++)
        dw[2 * k] = 1, dw[2 * k + 1] = (float)(k + 1);
    for (int p = 0; p < 9; p++)
        dx[2 * p] = (float)(p + 1), dx[2 * p + 1] = 1;
    float c0[9] = { 12, 21, 16, 27, 45, 33, 24, 39, 28 },
          c1[9] = { 28, 39, 24, 33, 45, 27, 16, 21, 12 };
    float dwant[18];
    for (int p = 0; p < 9; p++)
        dwant[2 * p] = c0[p], dwant[2 * p + 1] = c1[p];
    ft__tensor din = { dx, 3, 3, 2 };
    ASSERT_OK(ft__conv_init(&l, 3, 3, 1, 2, 2, 1, FT__PAD_SAME, dw, NULL, -INFINITY, INFINITY));
    conv_both_expect(&l, &din, dwant, 3, 3, 0, "depthwise (kh,kw,c) layout");
    ft__conv_fini(&l);

    /* Clamps: identity 1x1 conv on (-3, 2, 9): ReLU6 -> (0, 2, 6); [0, inf) -> (0, 2, 9) */
    float one = 1, cx[3] = { -3, 2, 9 }, r6[3] = { 0, 2, 6 }, r0[3] = { 0, 2, 9 };
    ft__tensor cin = { cx, 1, 3, 1 };
    ASSERT_OK(ft__conv_init(&l, 1, 1, 1, 1, 1, 0, FT__PAD_SAME, &one, NULL, 0.0f, 6.0f));
    conv_both_expect(&l, &cin, r6, 1, 3, 0, "ReLU6 clamp");
    ft__conv_fini(&l);
    ASSERT_OK(ft__conv_init(&l, 1, 1, 1, 1, 1, 0, FT__PAD_SAME, &one, NULL, 0.0f, INFINITY));
    conv_both_expect(&l, &cin, r0, 1, 3, 0, "ReLU clamp");
    ft__conv_fini(&l);
    no_leaks();
}

/* Runs a pool through both paths and checks both against want. */
static void pool_both_expect(ft__pool *l, const ft__tensor *in, const float *want, int oh, int ow,
                             double tol, const char *what)
{
    for (int path = 0; path < 2; path++) {
        ft__tensor out;
        ft__pool_out_shape(l, in, &out);
        ASSERT_EQ(out.h, oh);
        ASSERT_EQ(out.w, ow);
        size_t n = ft__tensor_count(&out);
        out.data = sentinel_buf(n);
        ASSERT_OK(ft__pool_run(path ? &REF : &XNN, l, in, &out));
        for (size_t i = 0; i < n; i++)
            if (!(fabs(out.data[i] - want[i]) <= tol))
                ft_test_fail(__FILE__, __LINE__, "%s (%s path): element %zu is %.9g, want %.9g",
                             what, path ? "ref" : "xnn", i, out.data[i], want[i]);
        ASSERT(guard_intact(out.data, n));
        free(out.data);
    }
}

static void test_ref_pool_by_hand(void)
{
    /* Max 2x2 SAME stride 1 on [[-5,-2],[-3,-4]]: total pad 1, after. Each
    ** output is the max of the cells inside the image, never a padded 0:
    **   (0,0) max(-5,-2,-3,-4) = -2   (0,1) max(-2,-4) = -2
    **   (1,0) max(-3,-4) = -3         (1,1) -4 */
    float x[4] = { -5, -2, -3, -4 }, want[4] = { -2, -2, -3, -4 };
    ft__tensor in = { x, 2, 2, 1 };
    ft__pool l;
    ASSERT_OK(ft__pool_init(&l, FT__POOL_MAX, 2, 1, FT__PAD_SAME, 1));
    pool_both_expect(&l, &in, want, 2, 2, 0, "max 2x2/1 SAME negatives");
    ft__pool_fini(&l);

    /* Max 3x3 SAME stride 2 on a 2x2 negative input: out 1x1, total pad
    ** 0*2 + 3 - 2 = 1 (after): the window covers all four cells -> -2 */
    ASSERT_OK(ft__pool_init(&l, FT__POOL_MAX, 3, 2, FT__PAD_SAME, 1));
    pool_both_expect(&l, &in, want, 1, 1, 0, "max 3x3/2 SAME negatives");
    ft__pool_fini(&l);

    /* Max 3x3 SAME stride 2 on 5x5 of -(1..25): out 3x3, pad 1 before:
    ** window rows/cols {-1..1}, {1..3}, {3..5}; the max of negatives is the
    ** cell with the smallest magnitude, i.e. the top-left cell inside:
    **   (0,0) -> cell (0,0) = -1   (0,1) -> (0,1) = -2   (0,2) -> (0,3) = -4
    **   (1,0) -> (1,0) = -6        (1,1) -> (1,1) = -7   (1,2) -> (1,3) = -9
    **   (2,0) -> (3,0) = -16       (2,1) -> (3,1) = -17  (2,2) -> (3,3) = -19 */
    float x5[25], want5[9] = { -1, -2, -4, -6, -7, -9, -16, -17, -19 };
    for (int i = 0; i < 25; i++)
        x5[i] = -(float)(i + 1);
    ft__tensor in5 = { x5, 5, 5, 1 };
    ASSERT_OK(ft__pool_init(&l, FT__POOL_MAX, 3, 2, FT__PAD_SAME, 1));
    pool_both_expect(&l, &in5, want5, 3, 3, 0, "max 3x3/2 SAME 5x5 negatives");
    ft__pool_fini(&l);

    /* Average 2x2/2 VALID on 4x4 1..16: (1+2+5+6)/4 = 3.5, (3+4+7+8)/4 = 5.5,
    ** (9+10+13+14)/4 = 11.5, (11+12+15+16)/4 = 13.5 */
    float x4[16], want4[4] = { 3.5f, 5.5f, 11.5f, 13.5f };
    for (int i = 0; i < 16; i++)
        x4[i] = (float)(i + 1);
    ft__tensor in4 = { x4, 4, 4, 1 };
    ASSERT_OK(ft__pool_init(&l, FT__POOL_AVG, 2, 2, FT__PAD_VALID, 1));
    pool_both_expect(&l, &in4, want4, 2, 2, 1e-6, "avg 2x2/2 VALID");
    ft__pool_fini(&l);

    /* Average 7x7/2 VALID on 7x7 1..49: one output, the mean 25 */
    float x7[49], want7[1] = { 25 };
    for (int i = 0; i < 49; i++)
        x7[i] = (float)(i + 1);
    ft__tensor in7 = { x7, 7, 7, 1 };
    ASSERT_OK(ft__pool_init(&l, FT__POOL_AVG, 7, 2, FT__PAD_VALID, 1));
    pool_both_expect(&l, &in7, want7, 1, 1, 1e-5, "avg 7x7/2 VALID");
    ft__pool_fini(&l);
    no_leaks();
}

static void test_ref_add_leaky_fc_by_hand(void)
{
    /* add: (1,-7,3.5,10) + (2,3,-4,-1) = (3,-4,-0.5,9); ReLU6 -> (3,0,0,6) */
    float a[4] = { 1, -7, 3.5f, 10 }, b[4] = { 2, 3, -4, -1 }, o[4];
    float sum[4] = { 3, -4, -0.5f, 9 }, r6[4] = { 3, 0, 0, 6 };
    ft__tensor ta = { a, 1, 1, 4 }, tb = { b, 1, 1, 4 }, to = { o, 1, 1, 4 };
    for (int path = 0; path < 2; path++) {
        ft__add l;
        ASSERT_OK(ft__add_init(&l, -INFINITY, INFINITY));
        ASSERT_OK(ft__add_run(path ? &REF : &XNN, &l, &ta, &tb, &to));
        for (int i = 0; i < 4; i++)
            ASSERT(o[i] == sum[i]);
        ft__add_fini(&l);
        ASSERT_OK(ft__add_init(&l, 0.0f, 6.0f));
        ASSERT_OK(ft__add_run(path ? &REF : &XNN, &l, &ta, &tb, &to));
        for (int i = 0; i < 4; i++)
            ASSERT(o[i] == r6[i]);
        ft__add_fini(&l);
    }
    /* leaky 0.1: -10 -> -1, 5 -> 5, 0 -> 0, -0.5 -> -0.05 */
    float x[4] = { -10, 5, 0, -0.5f }, y[4], lw[4] = { -1, 5, 0, -0.05f };
    ft__tensor tx = { x, 1, 1, 4 }, ty = { y, 1, 1, 4 };
    for (int path = 0; path < 2; path++) {
        ft__leaky l;
        ASSERT_OK(ft__leaky_init(&l, 0.1f, 4));
        ASSERT_OK(ft__leaky_run(path ? &REF : &XNN, &l, &tx, &ty));
        for (int i = 0; i < 4; i++)
            ASSERT_NEAR(y[i], lw[i], 1e-7);
        ft__leaky_fini(&l);
    }
    /* fc, W (cin, cout) = {{1,2,3},{4,5,6}}, in (1, 10), b (100,200,300):
    ** (141, 252, 363); without bias (41, 52, 63) */
    float w[6] = { 1, 2, 3, 4, 5, 6 }, fb[3] = { 100, 200, 300 }, in[2] = { 1, 10 }, out[3];
    float want_b[3] = { 141, 252, 363 }, want_nb[3] = { 41, 52, 63 };
    for (int path = 0; path < 2; path++) {
        ft__fc l;
        ASSERT_OK(ft__fc_init(&l, 2, 3, w, fb));
        ASSERT_OK(ft__fc_run(path ? &REF : &XNN, &l, in, out));
        for (int i = 0; i < 3; i++)
            ASSERT(out[i] == want_b[i]);
        ft__fc_fini(&l);
        ASSERT_OK(ft__fc_init(&l, 2, 3, w, NULL));
        ASSERT_OK(ft__fc_run(path ? &REF : &XNN, &l, in, out));
        for (int i = 0; i < 3; i++)
            ASSERT(out[i] == want_nb[i]);
        ft__fc_fini(&l);
    }
    no_leaks();
}

static void test_conv_counts_macs(void)
{
    /* 3x3 conv 3 -> 5 on 4x4 SAME/1: 16 outputs * 5 * 9 * 3 = 2160 MACs;
    ** depthwise 3x3 on 5 channels, 4x4 SAME/2: 4 outputs * 5 * 9 = 180 */
    float w[3 * 3 * 3 * 5] = { 0 }, x[4 * 4 * 5] = { 0 }, y[16 * 5];
    uint64_t macs = 0;
    ft__nn_ctx ctx = { NULL, 0, &macs };
    ft__conv l;
    ft__tensor in = { x, 4, 4, 3 }, out = { y, 0, 0, 0 };
    ASSERT_OK(ft__conv_init(&l, 3, 3, 1, 3, 5, 0, FT__PAD_SAME, w, NULL, -INFINITY, INFINITY));
    ASSERT_OK(ft__conv_run(&ctx, &l, &in, &out));
    ASSERT_EQ(macs, 2160);
    ft__conv_fini(&l);
    macs = 0;
    ft__tensor in5 = { x, 4, 4, 5 };
    ASSERT_OK(ft__conv_init(&l, 3, 3, 2, 5, 5, 1, FT__PAD_SAME, w, NULL, -INFINITY, INFINITY));
    ASSERT_OK(ft__conv_run(&ctx, &l, &in5, &out));
    ASSERT_EQ(macs, 180);
    ft__conv_fini(&l);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Convolution: XNNPACK vs reference on random data                         */
/* ------------------------------------------------------------------------ */

typedef struct conv_case {
    int h, w, cin, cout, k, stride, depthwise, bias;
    enum ft__pad pad;
    float lo, hi;
} conv_case;

#define CONV_CASE_FMT "seed %u: %dx%dx%d -> cout %d, k%d s%d %s %s, bias %d, clamp [%g, %g]"
#define CONV_CASE_ARGS(seed, c)                                                           \
    (seed), (c)->h, (c)->w, (c)->cin, (c)->cout, (c)->k, (c)->stride, pad_name((c)->pad), \
        (c)->depthwise ? "depthwise" : "regular", (c)->bias, (double)(c)->lo, (double)(c)->hi

/* Runs one conv case through both paths (XNNPACK on pool); fails on mismatch. */
static double conv_worst_rel; /* worst |xnn-ref| / (1 + max|ref|) seen by check_conv */

static void check_conv(const conv_case *c, uint32_t seed, pthreadpool_t pool, ft__conv *reuse)
{
    uint32_t s = seed;
    size_t nw = (size_t)c->k * c->k * c->cin * (c->depthwise ? 1 : c->cout);
    size_t nin = (size_t)c->h * c->w * c->cin;
    float *w = malloc(nw * sizeof(float)), *b = malloc((size_t)c->cout * sizeof(float));
    float *x = malloc(nin * sizeof(float));
    ASSERT(w && b && x);
    fill_random(&s, w, nw, -1, 1);
    fill_random(&s, b, (size_t)c->cout, -1, 1);
    fill_random(&s, x, nin, -1, 1);
    ft__conv own, *l = reuse ? reuse : &own;
    if (!reuse)
        ASSERT_OK(ft__conv_init(l, c->k, c->k, c->stride, c->cin, c->cout, c->depthwise, c->pad, w,
                                c->bias ? b : NULL, c->lo, c->hi));
    ft__tensor in = { x, c->h, c->w, c->cin }, ox, orf;
    ft__conv_out_shape(l, &in, &ox);
    int oh = ft__window_out(c->h, c->k, c->stride, c->pad);
    int ow = ft__window_out(c->w, c->k, c->stride, c->pad);
    if (ox.h != oh || ox.w != ow || ox.c != c->cout)
        ft_test_fail(__FILE__, __LINE__, CONV_CASE_FMT ": out shape %dx%dx%d",
                     CONV_CASE_ARGS(seed, c), ox.h, ox.w, ox.c);
    ft__nn_ctx xctx = { pool, 0, NULL };
    if (oh <= 0 || ow <= 0) {
        /* VALID window larger than the input: no output, both paths say so */
        float dummy[1];
        ox.data = orf.data = dummy;
        int rx = ft__conv_run(&xctx, l, &in, &ox), rr = ft__conv_run(&REF, l, &in, &orf);
        if (rx != FT_EINVAL || rr != FT_EINVAL)
            ft_test_fail(__FILE__, __LINE__, CONV_CASE_FMT ": empty output gave %d / %d",
                         CONV_CASE_ARGS(seed, c), rx, rr);
    } else {
        size_t n = (size_t)oh * ow * c->cout;
        ox.data = sentinel_buf(n);
        orf.data = sentinel_buf(n);
        int rx = ft__conv_run(&xctx, l, &in, &ox), rr = ft__conv_run(&REF, l, &in, &orf);
        if (rx != FT_OK || rr != FT_OK)
            ft_test_fail(__FILE__, __LINE__, CONV_CASE_FMT ": run returned %d / %d",
                         CONV_CASE_ARGS(seed, c), rx, rr);
        cmp_result r = compare(ox.data, orf.data, n);
        if (r.worst / (1 + r.max_ref) > conv_worst_rel) conv_worst_rel = r.worst / (1 + r.max_ref);
        if (!within(&r, 1e-5))
            ft_test_fail(__FILE__, __LINE__,
                         CONV_CASE_FMT ": worst |xnn-ref| %.3g at %zu (xnn %.9g, ref %.9g), "
                                       "max|ref| %.3g",
                         CONV_CASE_ARGS(seed, c), r.worst, r.at, ox.data[r.at], orf.data[r.at],
                         r.max_ref);
        /* the clamp holds on the oracle too */
        for (size_t i = 0; i < n; i++)
            if (!(orf.data[i] >= c->lo && orf.data[i] <= c->hi))
                ft_test_fail(__FILE__, __LINE__, CONV_CASE_FMT ": ref %.9g outside the clamp",
                             CONV_CASE_ARGS(seed, c), orf.data[i]);
        if (!guard_intact(ox.data, n) || !guard_intact(orf.data, n))
            ft_test_fail(__FILE__, __LINE__, CONV_CASE_FMT ": wrote past the output",
                         CONV_CASE_ARGS(seed, c));
        free(ox.data);
        free(orf.data);
    }
    if (!reuse) ft__conv_fini(l);
    free(w);
    free(b);
    free(x);
}

static const int SIZES[][2] = { { 1, 1 }, { 2, 2 }, { 7, 9 }, { 16, 16 }, { 17, 13 } };
static const int CHANS[] = { 3, 5, 17, 32 };
static const int KERNELS[] = { 1, 3, 7 };
static const float CLAMPS[][2] = { { -INFINITY, INFINITY }, { 0.0f, 6.0f }, { 0.0f, INFINITY } };

/* Every kernel x stride x padding x size x channels x bias x clamp, for
** regular (depthwise = 0) or depthwise convolutions. */
static void conv_sweep(int depthwise)
{
    int n = 0;
    for (int ki = 0; ki < 3; ki++)
        for (int stride = 1; stride <= 2; stride++)
            for (int pad = 0; pad < 2; pad++)
                for (int si = 0; si < 5; si++)
                    for (int ci = 0; ci < 4; ci++)
                        for (int bias = 0; bias < 2; bias++)
                            for (int cl = 0; cl < 3; cl++) {
                                conv_case c = { SIZES[si][0],
                                                SIZES[si][1],
                                                CHANS[ci],
                                                depthwise ? CHANS[ci] : CHANS[(ci + 1) % 4],
                                                KERNELS[ki],
                                                stride,
                                                depthwise,
                                                bias,
                                                pad ? FT__PAD_VALID : FT__PAD_SAME,
                                                CLAMPS[cl][0],
                                                CLAMPS[cl][1] };
                                check_conv(&c, 0x9e3779b9u + (uint32_t)n++, NULL, NULL);
                            }
    ASSERT_EQ(n, 3 * 2 * 2 * 5 * 4 * 2 * 3);
    printf("# %s conv: %d cases, worst |xnn-ref| / (1 + max|ref|) = %.3g\n",
           depthwise ? "depthwise" : "regular", n, conv_worst_rel);
    no_leaks();
}

static void test_conv_regular_vs_ref(void)
{
    conv_sweep(0);
}

static void test_conv_depthwise_vs_ref(void)
{
    conv_sweep(1);
}

/* Explicit padding 0..2 (also larger than the kernel's half), every kernel and
** stride, regular and depthwise, XNNPACK vs reference on random data. */
static void test_conv_explicit_vs_ref(void)
{
    int n = 0;
    for (int dw = 0; dw < 2; dw++)
        for (int ki = 0; ki < 3; ki++)
            for (int stride = 1; stride <= 2; stride++)
                for (int p = 0; p <= 2; p++)
                    for (int si = 0; si < 5; si++) {
                        int k = KERNELS[ki], h = SIZES[si][0], wd = SIZES[si][1];
                        int cin = CHANS[si % 4], cout = dw ? cin : CHANS[(si + 1) % 4];
                        uint32_t s = 0x51ed27u + (uint32_t)n++;
                        size_t nw = (size_t)k * k * cin * (dw ? 1 : cout);
                        size_t nin = (size_t)h * wd * cin;
                        float *w = malloc(nw * sizeof(float)), *b = malloc(32 * sizeof(float));
                        float *x = malloc((nin + FT__XNN_SLACK) * sizeof(float));
                        ASSERT(w && b && x);
                        fill_random(&s, w, nw, -1, 1);
                        fill_random(&s, b, 32, -1, 1);
                        fill_random(&s, x, nin, -1, 1);
                        ft__conv l;
                        ASSERT_OK(ft__conv_init_pad(&l, k, k, stride, p, p, cin, cout, dw, w, b,
                                                    -INFINITY, INFINITY));
                        ft__tensor in = { x, h, wd, cin }, ox, orf;
                        ft__conv_out_shape(&l, &in, &ox);
                        int oh = ft__window_out_explicit(h, k, stride, p);
                        int ow = ft__window_out_explicit(wd, k, stride, p);
                        ASSERT_EQ(ox.h, oh);
                        ASSERT_EQ(ox.w, ow);
                        if (oh > 0 && ow > 0) {
                            size_t no = (size_t)oh * ow * cout;
                            ox.data = sentinel_buf(no);
                            orf.data = sentinel_buf(no);
                            ASSERT_OK(ft__conv_run(&XNN, &l, &in, &ox));
                            ASSERT_OK(ft__conv_run(&REF, &l, &in, &orf));
                            cmp_result r = compare(ox.data, orf.data, no);
                            if (!within(&r, 1e-5))
                                ft_test_fail(__FILE__, __LINE__,
                                             "%s k%d s%d pad %d on %dx%dx%d: worst %.3g at %zu",
                                             dw ? "depthwise" : "regular", k, stride, p, h, wd, cin,
                                             r.worst, r.at);
                            ASSERT(guard_intact(ox.data, no) && guard_intact(orf.data, no));
                            free(ox.data);
                            free(orf.data);
                        }
                        ft__conv_fini(&l);
                        free(w);
                        free(b);
                        free(x);
                    }
    ASSERT_EQ(n, 2 * 3 * 2 * 3 * 5);
    no_leaks();
}

/* One layer reused across input sizes (XNNPACK re-derives its indirection
** buffers on setup) and run on a worker pool. */
static void test_conv_reuse_and_threads(void)
{
    pthreadpool_t pool = pthreadpool_create(3);
    ASSERT(pool != NULL);
    const int seq[][2] = { { 16, 16 }, { 7, 9 }, { 17, 13 }, { 16, 16 }, { 2, 2 }, { 33, 31 } };
    for (int dw = 0; dw < 2; dw++)
        for (int stride = 1; stride <= 2; stride++) {
            uint32_t s = 12345u + (uint32_t)(dw * 2 + stride);
            int cin = 17, cout = dw ? 17 : 5, k = 3;
            size_t nw = (size_t)k * k * cin * (dw ? 1 : cout);
            float *w = malloc(nw * sizeof(float)), b[17];
            ASSERT(w != NULL);
            fill_random(&s, w, nw, -1, 1);
            fill_random(&s, b, (size_t)cout, -1, 1);
            ft__conv l;
            ASSERT_OK(
                ft__conv_init(&l, k, k, stride, cin, cout, dw, FT__PAD_SAME, w, b, 0.0f, 6.0f));
            for (int i = 0; i < 6; i++) {
                conv_case c = { seq[i][0], seq[i][1], cin,          cout, k,   stride,
                                dw,        1,         FT__PAD_SAME, 0.0f, 6.0f };
                /* the weights in check_conv come from the same seed only for
                ** a fresh layer; here l keeps its own, which is what we want */
                check_conv(&c, 777u + (uint32_t)i, i % 2 ? pool : NULL, &l);
            }
            ft__conv_fini(&l);
            free(w);
        }
    pthreadpool_destroy(pool);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Pooling, add, leaky ReLU, fully connected: XNNPACK vs reference          */
/* ------------------------------------------------------------------------ */

static void check_pool(enum ft__pool_kind kind, int k, int stride, enum ft__pad pad, int h, int w,
                       int c, int negative, uint32_t seed)
{
    uint32_t s = seed;
    size_t nin = (size_t)h * w * c;
    float *x = malloc(nin * sizeof(float));
    ASSERT(x != NULL);
    fill_random(&s, x, nin, negative ? -100.0f : -1.0f, negative ? -1.0f : 1.0f);
    ft__pool l;
    ASSERT_OK(ft__pool_init(&l, kind, k, stride, pad, c));
    ft__tensor in = { x, h, w, c }, ox, orf;
    ft__pool_out_shape(&l, &in, &ox);
    int oh = ft__window_out(h, k, stride, pad), ow = ft__window_out(w, k, stride, pad);
    const char *kn = kind == FT__POOL_MAX ? "max" : "avg";
    if (ox.h != oh || ox.w != ow || ox.c != c)
        ft_test_fail(__FILE__, __LINE__, "seed %u: %s %d/%d %s on %dx%dx%d: shape %dx%dx%d", seed,
                     kn, k, stride, pad_name(pad), h, w, c, ox.h, ox.w, ox.c);
    if (oh <= 0 || ow <= 0) {
        float dummy[1];
        ox.data = orf.data = dummy;
        ASSERT_EQ(ft__pool_run(&XNN, &l, &in, &ox), FT_EINVAL);
        ASSERT_EQ(ft__pool_run(&REF, &l, &in, &orf), FT_EINVAL);
    } else {
        size_t n = (size_t)oh * ow * c;
        ox.data = sentinel_buf(n);
        orf.data = sentinel_buf(n);
        ASSERT_OK(ft__pool_run(&XNN, &l, &in, &ox));
        ASSERT_OK(ft__pool_run(&REF, &l, &in, &orf));
        cmp_result r = compare(ox.data, orf.data, n);
        double rel = kind == FT__POOL_MAX ? 0 : 1e-5;
        if (!within(&r, rel))
            ft_test_fail(__FILE__, __LINE__,
                         "seed %u: %s %d/%d %s on %dx%dx%d%s: worst |xnn-ref| %.3g at %zu "
                         "(xnn %.9g, ref %.9g)",
                         seed, kn, k, stride, pad_name(pad), h, w, c, negative ? " (negative)" : "",
                         r.worst, r.at, ox.data[r.at], orf.data[r.at]);
        if (negative && kind == FT__POOL_MAX)
            for (size_t i = 0; i < n; i++)
                if (!(orf.data[i] <= -1.0f))
                    ft_test_fail(__FILE__, __LINE__, "seed %u: max of negatives gave %.9g", seed,
                                 orf.data[i]);
        ASSERT(guard_intact(ox.data, n) && guard_intact(orf.data, n));
        free(ox.data);
        free(orf.data);
    }
    ft__pool_fini(&l);
    free(x);
}

static void test_pool_max_vs_ref(void)
{
    const int ks[][2] = { { 2, 2 }, { 2, 1 }, { 3, 2 } };
    const int sizes[][2] = { { 1, 1 }, { 2, 2 },   { 3, 3 },  { 5, 4 },
                             { 7, 9 }, { 16, 16 }, { 17, 13 } };
    uint32_t seed = 1000;
    for (int pad = 0; pad < 2; pad++)
        for (int ki = 0; ki < 3; ki++)
            for (int si = 0; si < 7; si++)
                for (int ci = 0; ci < 4; ci++)
                    for (int neg = 0; neg < 2; neg++)
                        check_pool(FT__POOL_MAX, ks[ki][0], ks[ki][1],
                                   pad ? FT__PAD_VALID : FT__PAD_SAME, sizes[si][0], sizes[si][1],
                                   CHANS[ci], neg, seed++);
    no_leaks();
}

static void test_pool_avg_vs_ref(void)
{
    const int cases[][4] = { /* k, stride, h, w */
                             { 2, 2, 2, 2 },    { 2, 2, 7, 9 },   { 2, 2, 16, 16 },
                             { 2, 2, 17, 13 },  { 2, 2, 35, 35 }, { 7, 2, 7, 7 },
                             { 14, 2, 14, 14 }, { 3, 2, 8, 8 },   { 2, 2, 1, 1 }
    };
    uint32_t seed = 2000;
    for (int i = 0; i < 9; i++)
        for (int ci = 0; ci < 4; ci++)
            for (int neg = 0; neg < 2; neg++)
                check_pool(FT__POOL_AVG, cases[i][0], cases[i][1], FT__PAD_VALID, cases[i][2],
                           cases[i][3], CHANS[ci], neg, seed++);
    /* channels of the nets that use it */
    check_pool(FT__POOL_AVG, 7, 2, FT__PAD_VALID, 7, 7, 256, 0, seed++);
    check_pool(FT__POOL_AVG, 14, 2, FT__PAD_VALID, 14, 14, 128, 0, seed++);
    no_leaks();
}

static void test_add_vs_ref(void)
{
    const int shapes[][3] = {
        { 1, 1, 1 }, { 1, 1, 3 }, { 7, 9, 5 }, { 16, 16, 32 }, { 17, 13, 17 }
    };
    uint32_t seed = 3000;
    for (int si = 0; si < 5; si++)
        for (int cl = 0; cl < 3; cl++)
            for (int alias = 0; alias < 3; alias++) { /* 0: separate, 1: out = a, 2: out = b */
                uint32_t s = seed++;
                const int h = shapes[si][0], w = shapes[si][1], c = shapes[si][2];
                size_t n = (size_t)h * w * c;
                float *a = sentinel_buf(n), *b = sentinel_buf(n), *a0 = malloc(n * sizeof(float));
                float *b0 = malloc(n * sizeof(float)), *want = sentinel_buf(n),
                      *o = sentinel_buf(n);
                ASSERT(a0 && b0);
                fill_random(&s, a0, n, -8, 8);
                fill_random(&s, b0, n, -8, 8);
                memcpy(a, a0, n * sizeof(float));
                memcpy(b, b0, n * sizeof(float));
                ft__add l;
                ASSERT_OK(ft__add_init(&l, CLAMPS[cl][0], CLAMPS[cl][1]));
                ft__tensor ta = { a0, h, w, c }, tb = { b0, h, w, c }, tw = { want, h, w, c };
                ASSERT_OK(ft__add_run(&REF, &l, &ta, &tb, &tw));
                ft__tensor xa = { a, h, w, c }, xb = { b, h, w, c }, xo = { o, h, w, c };
                ft__tensor *dst = alias == 1 ? &xa : alias == 2 ? &xb : &xo;
                ASSERT_OK(ft__add_run(&XNN, &l, &xa, &xb, dst));
                ASSERT_EQ(dst->h, h);
                ASSERT_EQ(dst->c, c);
                cmp_result r = compare(dst->data, want, n);
                if (r.worst != 0)
                    ft_test_fail(__FILE__, __LINE__,
                                 "seed %u: add %dx%dx%d clamp [%g,%g] alias %d: worst %.3g at %zu "
                                 "(xnn %.9g, ref %.9g)",
                                 s, h, w, c, (double)CLAMPS[cl][0], (double)CLAMPS[cl][1], alias,
                                 r.worst, r.at, dst->data[r.at], want[r.at]);
                /* the oracle itself: a + b clamped, element by element */
                for (size_t i = 0; i < n; i++) {
                    float v = a0[i] + b0[i];
                    v = v < CLAMPS[cl][0] ? CLAMPS[cl][0] : v > CLAMPS[cl][1] ? CLAMPS[cl][1] : v;
                    ASSERT(want[i] == v);
                }
                ASSERT(guard_intact(dst->data, n) && guard_intact(want, n));
                ft__add_fini(&l);
                free(a), free(b), free(a0), free(b0), free(want), free(o);
            }
    no_leaks();
}

static void test_leaky_vs_ref(void)
{
    const int shapes[][3] = {
        { 1, 1, 1 }, { 1, 1, 3 }, { 7, 9, 5 }, { 13, 13, 32 }, { 26, 26, 17 }
    };
    uint32_t seed = 4000;
    for (int si = 0; si < 5; si++)
        for (int inplace = 0; inplace < 2; inplace++) {
            uint32_t s = seed++;
            const int h = shapes[si][0], w = shapes[si][1], c = shapes[si][2];
            size_t n = (size_t)h * w * c;
            float *x = sentinel_buf(n), *x0 = malloc(n * sizeof(float)), *want = sentinel_buf(n);
            float *o = sentinel_buf(n);
            ASSERT(x0 != NULL);
            fill_random(&s, x0, n, -4, 4);
            x0[0] = -0.0f; /* sign of zero: both paths keep it */
            memcpy(x, x0, n * sizeof(float));
            ft__leaky l;
            ASSERT_OK(ft__leaky_init(&l, 0.1f, c));
            ft__tensor t0 = { x0, h, w, c }, tw = { want, h, w, c };
            ASSERT_OK(ft__leaky_run(&REF, &l, &t0, &tw));
            ft__tensor tx = { x, h, w, c }, to = { o, h, w, c };
            ft__tensor *dst = inplace ? &tx : &to;
            ASSERT_OK(ft__leaky_run(&XNN, &l, &tx, dst));
            for (size_t i = 0; i < n; i++) {
                /* oracle: x >= 0 ? x : 0.1f * x (computed here) */
                float v = x0[i] >= 0 ? x0[i] : x0[i] * 0.1f;
                if (memcmp(&want[i], &v, 4) != 0 || memcmp(&dst->data[i], &v, 4) != 0)
                    ft_test_fail(__FILE__, __LINE__,
                                 "seed %u: leaky %dx%dx%d inplace %d at %zu: x %.9g -> xnn %.9g, "
                                 "ref %.9g, want %.9g",
                                 s, h, w, c, inplace, i, x0[i], dst->data[i], want[i], v);
            }
            ASSERT(guard_intact(dst->data, n) && guard_intact(want, n));
            ft__leaky_fini(&l);
            free(x), free(x0), free(want), free(o);
        }
    no_leaks();
}

static void test_fc_vs_ref(void)
{
    const int dims[][2] = { { 128, 136 }, { 256, 136 }, { 256, 128 }, { 128, 128 }, { 17, 5 } };
    uint32_t seed = 5000;
    for (int di = 0; di < 5; di++)
        for (int bias = 0; bias < 2; bias++) {
            uint32_t s = seed++;
            int cin = dims[di][0], cout = dims[di][1];
            float *w = malloc((size_t)cin * cout * sizeof(float)),
                  *b = malloc(cout * sizeof(float));
            float *in = malloc(cin * sizeof(float)), *ox = sentinel_buf(cout),
                  *orf = sentinel_buf(cout);
            ASSERT(w && b && in);
            fill_random(&s, w, (size_t)cin * cout, -1, 1);
            fill_random(&s, b, cout, -1, 1);
            fill_random(&s, in, cin, -1, 1);
            ft__fc l;
            ASSERT_OK(ft__fc_init(&l, cin, cout, w, bias ? b : NULL));
            ASSERT_OK(ft__fc_run(&XNN, &l, in, ox));
            ASSERT_OK(ft__fc_run(&REF, &l, in, orf));
            cmp_result r = compare(ox, orf, (size_t)cout);
            if (!within(&r, 1e-5))
                ft_test_fail(__FILE__, __LINE__,
                             "seed %u: fc %d -> %d bias %d: worst %.3g at %zu (xnn %.9g, ref %.9g)",
                             s, cin, cout, bias, r.worst, r.at, ox[r.at], orf[r.at]);
            /* oracle spot check, computed here: output 0 */
            double acc = bias ? b[0] : 0;
            for (int i = 0; i < cin; i++)
                acc += (double)in[i] * w[(size_t)i * cout];
            ASSERT_NEAR(orf[0], acc, 1e-5 * (1 + fabs(acc)));
            ASSERT(guard_intact(ox, cout) && guard_intact(orf, cout));
            ft__fc_fini(&l);
            free(w), free(b), free(in), free(ox), free(orf);
        }
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Reads past the end of an input tensor                                    */
/* ------------------------------------------------------------------------ */

/* XNNPACK's kernels may read up to XNN_EXTRA_BYTES past the end of an input
** (xnnpack.h): its pooling kernels do on channel counts that are not a
** multiple of 4, as does its depthwise 1x1 kernel, so every buffer the
** layers hand it needs that much readable slack after the data. Here each
** input is followed by exactly XNN_EXTRA_BYTES (rounded up to floats) and
** then an inaccessible page: a kernel reading further faults, and the
** handler names the case. ft__ws_tensor, which sizes the nets' buffers, must
** leave that slack (checked under ASan). */

#define SLACK ((XNN_EXTRA_BYTES + sizeof(float) - 1) / sizeof(float))

static char guard_case[160];

static void on_segv(int sig)
{
    static const char msg[] = "#   read more than XNN_EXTRA_BYTES past the input: ";
    ssize_t r = write(2, msg, sizeof msg - 1);
    r = write(2, guard_case, strlen(guard_case));
    r = write(2, "\n", 1);
    (void)r;
    _exit(128 + sig);
}

typedef struct page_buf {
    void *map;
    size_t map_len;
    float *data; /* n floats, then SLACK floats, then the inaccessible page */
} page_buf;

static page_buf page_tail(size_t n, uint32_t *s)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), bytes = (n + SLACK) * sizeof(float);
    page_buf b;
    b.map_len = (bytes + pg - 1) / pg * pg + pg;
    b.map = mmap(NULL, b.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT(b.map != MAP_FAILED);
    ASSERT_OK(mprotect((char *)b.map + b.map_len - pg, pg, PROT_NONE));
    b.data = (float *)((char *)b.map + b.map_len - pg - bytes);
    fill_random(s, b.data, n + SLACK, -1, 1);
    return b;
}

static void page_free(page_buf *b)
{
    munmap(b->map, b->map_len);
}

static void guard_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

/* One conv on a page-tail input, XNNPACK then reference; they must agree. */
static void guard_conv(int k, int stride, enum ft__pad pad, int c, int dw, uint32_t seed)
{
    uint32_t s = seed;
    int h = 7, w = 9, cout = dw ? c : 5;
    snprintf(guard_case, sizeof guard_case, "seed %u: conv %dx%dx%d k%d s%d %s %s", seed, h, w, c,
             k, stride, pad_name(pad), dw ? "depthwise" : "regular");
    size_t nw = (size_t)k * k * c * (dw ? 1 : cout);
    float *wt = malloc(nw * sizeof(float));
    ASSERT(wt != NULL);
    fill_random(&s, wt, nw, -1, 1);
    page_buf in = page_tail((size_t)h * w * c, &s);
    ft__conv l;
    ASSERT_OK(ft__conv_init(&l, k, k, stride, c, cout, dw, pad, wt, NULL, -INFINITY, INFINITY));
    ft__tensor t = { in.data, h, w, c }, ox, orf;
    ft__conv_out_shape(&l, &t, &ox);
    size_t n = ft__tensor_count(&ox);
    ox.data = sentinel_buf(n);
    orf.data = sentinel_buf(n);
    ASSERT_OK(ft__conv_run(&XNN, &l, &t, &ox));
    ASSERT_OK(ft__conv_run(&REF, &l, &t, &orf));
    cmp_result r = compare(ox.data, orf.data, n);
    if (!within(&r, 1e-5)) ft_test_fail(__FILE__, __LINE__, "%s: worst %.3g", guard_case, r.worst);
    ft__conv_fini(&l);
    page_free(&in);
    free(ox.data), free(orf.data), free(wt);
}

/* Pools, add and leaky ReLU on a 7x9xc page-tail input; pools checked
** against the reference (the slack must not leak into the result). */
static void guard_elementwise(int c, uint32_t seed)
{
    uint32_t s = seed;
    page_buf a = page_tail((size_t)7 * 9 * c, &s), b = page_tail((size_t)7 * 9 * c, &s);
    ft__tensor ta = { a.data, 7, 9, c }, tb = { b.data, 7, 9, c }, to, tr;
    const struct {
        enum ft__pool_kind kind;
        int k, s;
        enum ft__pad pad;
    } pools[] = { { FT__POOL_MAX, 2, 2, FT__PAD_SAME },  { FT__POOL_MAX, 3, 2, FT__PAD_VALID },
                  { FT__POOL_MAX, 2, 1, FT__PAD_SAME },  { FT__POOL_MAX, 3, 1, FT__PAD_SAME },
                  { FT__POOL_AVG, 2, 2, FT__PAD_VALID }, { FT__POOL_AVG, 3, 1, FT__PAD_VALID },
                  { FT__POOL_AVG, 7, 2, FT__PAD_VALID } };
    for (size_t pi = 0; pi < sizeof pools / sizeof pools[0]; pi++) {
        snprintf(guard_case, sizeof guard_case, "seed %u: %s pool %d/%d %s on 7x9x%d", seed,
                 pools[pi].kind == FT__POOL_MAX ? "max" : "avg", pools[pi].k, pools[pi].s,
                 pad_name(pools[pi].pad), c);
        ft__pool p;
        ASSERT_OK(ft__pool_init(&p, pools[pi].kind, pools[pi].k, pools[pi].s, pools[pi].pad, c));
        ft__pool_out_shape(&p, &ta, &to);
        size_t n = ft__tensor_count(&to);
        to.data = sentinel_buf(n);
        tr.data = sentinel_buf(n);
        ASSERT_OK(ft__pool_run(&XNN, &p, &ta, &to));
        ASSERT_OK(ft__pool_run(&REF, &p, &ta, &tr));
        cmp_result r = compare(to.data, tr.data, n);
        if (!within(&r, 1e-5))
            ft_test_fail(__FILE__, __LINE__, "%s: worst %.3g", guard_case, r.worst);
        ft__pool_fini(&p);
        free(to.data), free(tr.data);
    }
    float *o = sentinel_buf((size_t)7 * 9 * c);
    to = (ft__tensor){ o, 7, 9, c };
    snprintf(guard_case, sizeof guard_case, "seed %u: add on 7x9x%d", seed, c);
    ft__add ad;
    ASSERT_OK(ft__add_init(&ad, 0.0f, 6.0f));
    ASSERT_OK(ft__add_run(&XNN, &ad, &ta, &tb, &to));
    ft__add_fini(&ad);
    snprintf(guard_case, sizeof guard_case, "seed %u: leaky on 7x9x%d", seed, c);
    ft__leaky lk;
    ASSERT_OK(ft__leaky_init(&lk, 0.1f, c));
    ASSERT_OK(ft__leaky_run(&XNN, &lk, &ta, &to));
    ft__leaky_fini(&lk);
    free(o);
    page_free(&a);
    page_free(&b);
}

static void test_xnn_reads_stay_within_extra_bytes(void)
{
    guard_install();
    const int chans[] = { 1, 3, 5, 17, 32 };
    uint32_t seed = 6000;
    for (int ci = 0; ci < 5; ci++) {
        for (int ki = 0; ki < 3; ki++)
            for (int stride = 1; stride <= 2; stride++)
                for (int pad = 0; pad < 2; pad++) {
                    enum ft__pad p = pad ? FT__PAD_VALID : FT__PAD_SAME;
                    guard_conv(KERNELS[ki], stride, p, chans[ci], 0, seed++);
                    guard_conv(KERNELS[ki], stride, p, chans[ci], 1, seed++);
                }
        guard_elementwise(chans[ci], seed++);
    }
    const int fcin[] = { 17, 128, 256 };
    for (int i = 0; i < 3; i++) {
        uint32_t s = seed++;
        snprintf(guard_case, sizeof guard_case, "fc %d -> 5", fcin[i]);
        float *w = malloc((size_t)fcin[i] * 5 * sizeof(float)), out[5];
        ASSERT(w != NULL);
        fill_random(&s, w, (size_t)fcin[i] * 5, -1, 1);
        page_buf in = page_tail((size_t)fcin[i], &s);
        ft__fc l;
        ASSERT_OK(ft__fc_init(&l, fcin[i], 5, w, NULL));
        ASSERT_OK(ft__fc_run(&XNN, &l, in.data, out));
        ft__fc_fini(&l);
        page_free(&in);
        free(w);
    }
    no_leaks();
}

/* The scratch tensors the nets run on have the slack after their data, also
** when a slot is reused for a smaller tensor. Only an ASan build can see a
** read past the allocation here; elsewhere this checks the shapes. */
static void test_ws_tensor_leaves_xnn_slack(void)
{
    ft__ws ws;
    memset(&ws, 0, sizeof ws);
    const int shapes[][3] = {
        { 7, 9, 5 }, { 1, 1, 1 }, { 56, 56, 32 }, { 3, 3, 17 }, { 57, 56, 32 }
    };
    for (int i = 0; i < 5; i++)
        for (int slot = 0; slot < FT__WS_SLOTS; slot += 5) {
            ft__tensor t;
            ASSERT_OK(ft__ws_tensor(&ws, slot, shapes[i][0], shapes[i][1], shapes[i][2], &t));
            ASSERT(t.h == shapes[i][0] && t.w == shapes[i][1] && t.c == shapes[i][2]);
            size_t n = ft__tensor_count(&t);
            volatile float *p = t.data;
            for (size_t k = 0; k < n + SLACK; k++)
                p[k] = (float)k;
            float sum = 0;
            for (size_t k = n; k < n + SLACK; k++)
                sum += p[k];
            ASSERT(sum > 0);
        }
    ft__ws_free(&ws);
    ft__ws_free(&ws); /* idempotent */
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Whole nets, reference vs XNNPACK                                         */
/* ------------------------------------------------------------------------ */

static ft_image *smooth_image(int w, int h)
{
    ft_image *img = NULL;
    ASSERT_OK(ft_image_create(w, h, &img));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(128 + 100 * sin(x / 9.0) * cos(y / 13.0));
            p[1] = (uint8_t)(128 + 90 * sin((x + y) / 17.0));
            p[2] = (uint8_t)(128 + 80 * cos((x - 2 * y) / 23.0));
        }
    return img;
}

static void landmarks_both(int tiny)
{
    const char *dir = ft_test_model_dir();
    if (!dir) FT_SKIP("models not fetched (make models)");
    ft__landmark_net *net = NULL;
    char err[256];
    if (ft__landmark_open(dir, tiny, &net, err, sizeof err) != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "open: %s", err);
    ft_image *img = smooth_image(160, 140);
    const int crops[][4] = { { 20, 10, 97, 120 }, { 0, 0, 160, 140 }, { 30, 20, 112, 112 } };
    for (int ci = 0; ci < 3; ci++) {
        double px[68][2], pr[68][2];
        ASSERT_OK(ft__landmark_run(&XNN, net, img, crops[ci], px));
        ASSERT_OK(ft__landmark_run(&REF, net, img, crops[ci], pr));
        double worst = 0;
        int at = 0, spread = 0;
        for (int i = 0; i < 68; i++)
            for (int d = 0; d < 2; d++) {
                double diff = fabs(px[i][d] - pr[i][d]);
                if (!(diff <= worst)) worst = diff, at = i;
                if (fabs(pr[i][d] - pr[0][d]) > 1) spread = 1;
            }
        if (!(worst <= 1e-3))
            ft_test_fail(__FILE__, __LINE__,
                         "%s landmarks, crop %d,%d %dx%d: worst |xnn-ref| %.3g px at point %d "
                         "(xnn %.6f,%.6f ref %.6f,%.6f)",
                         tiny ? "tiny" : "full", crops[ci][0], crops[ci][1], crops[ci][2],
                         crops[ci][3], worst, at, px[at][0], px[at][1], pr[at][0], pr[at][1]);
        ASSERT(spread); /* the points are not all one (a dead net would agree trivially) */
        printf("# %s landmarks, crop %dx%d: worst |xnn-ref| %.3g px\n", tiny ? "tiny" : "full",
               crops[ci][2], crops[ci][3], worst);
    }
    ft_image_destroy(img);
    ft__landmark_close(net);
    no_leaks();
}

static void test_landmarks_ref_vs_xnn(void)
{
    landmarks_both(0);
}

static void test_landmarks_tiny_ref_vs_xnn(void)
{
    landmarks_both(1);
}

static void test_descriptor_ref_vs_xnn(void)
{
    const char *dir = ft_test_model_dir();
    if (!dir) FT_SKIP("models not fetched (make models)");
    ft__recog_net *net = NULL;
    char err[256];
    if (ft__recog_open(dir, &net, err, sizeof err) != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "open: %s", err);
    float *chip = malloc(150 * 150 * 3 * sizeof(float)),
          *copy = malloc(150 * 150 * 3 * sizeof(float));
    ASSERT(chip && copy);
    for (int y = 0; y < 150; y++)
        for (int x = 0; x < 150; x++) {
            float *p = chip + ((size_t)y * 150 + x) * 3;
            p[0] = (float)(128 + 100 * sin(x / 11.0) * cos(y / 7.0));
            p[1] = (float)(128 + 90 * sin((x + y) / 19.0));
            p[2] = (float)(128 + 80 * cos((x - 2 * y) / 29.0));
        }
    memcpy(copy, chip, 150 * 150 * 3 * sizeof(float));
    float dx[128], dr[128];
    ASSERT_OK(ft__recog_run_chip(&XNN, net, chip, dx));
    ASSERT_OK(ft__recog_run_chip(&REF, net, chip, dr));
    ASSERT(memcmp(chip, copy, 150 * 150 * 3 * sizeof(float)) == 0); /* chip not modified */
    cmp_result r = compare(dx, dr, 128);
    if (!(r.worst <= 1e-4))
        ft_test_fail(__FILE__, __LINE__,
                     "descriptor: worst |xnn-ref| %.3g at %zu (xnn %.9g, ref %.9g)", r.worst, r.at,
                     dx[r.at], dr[r.at]);
    ASSERT(r.max_ref > 1e-3); /* not all zero */
    printf("# descriptor: worst |xnn-ref| %.3g (max |ref| %.3g)\n", r.worst, r.max_ref);
    free(chip);
    free(copy);
    ft__recog_close(net);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Sigmoid, nearest upsampling (ONNX nets)                                  */
/* ------------------------------------------------------------------------ */

static void test_sigmoid_upsample_by_hand(void)
{
    /* sigmoid(0) = 1/2, sigmoid(+-ln 3) = 3/4 and 1/4, sigmoid(-ln 9) = 1/10 */
    float x[6] = { 0.0f, (float)log(3.0), (float)-log(3.0), (float)-log(9.0), 30.0f, -30.0f };
    float y[6];
    ft__tensor tx = { x, 1, 2, 3 }, ty = { y, 1, 2, 3 };
    ft__ref_sigmoid(&tx, &ty);
    ASSERT_NEAR(y[0], 0.5, 0);
    ASSERT_NEAR(y[1], 0.75, 1e-7);
    ASSERT_NEAR(y[2], 0.25, 1e-7);
    ASSERT_NEAR(y[3], 0.1, 1e-7);
    ASSERT_NEAR(y[4], 1.0, 1e-12);
    ASSERT(y[5] > 0 && y[5] < 1e-12);
    /* 2x2x1 by 2:  1 2     1 1 2 2
    **              3 4 ->  1 1 2 2
    **                      3 3 4 4
    **                      3 3 4 4 */
    float a[4] = { 1, 2, 3, 4 }, b[16];
    const float want[16] = { 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4 };
    ft__tensor ta = { a, 2, 2, 1 }, tb = { b, 4, 4, 1 };
    ft__ref_upsample(2, &ta, &tb);
    ASSERT(memcmp(b, want, sizeof want) == 0);
    /* 1x2x2 (pixels (1, 2), (3, 4)) by 3: rows of (1, 2) x3 then (3, 4) x3 */
    float c[36];
    ft__tensor tc = { c, 3, 6, 2 };
    ta = (ft__tensor){ a, 1, 2, 2 };
    ft__ref_upsample(3, &ta, &tc);
    for (int yy = 0; yy < 3; yy++)
        for (int xx = 0; xx < 6; xx++) {
            ASSERT(c[(yy * 6 + xx) * 2] == (xx < 3 ? 1 : 3));
            ASSERT(c[(yy * 6 + xx) * 2 + 1] == (xx < 3 ? 2 : 4));
        }
    ft__upsample l;
    ASSERT_OK(ft__upsample_init(&l, 3, 2));
    ft__tensor shape;
    ft__upsample_out_shape(&l, &ta, &shape);
    ASSERT(shape.h == 3 && shape.w == 6 && shape.c == 2);
    ft__upsample_fini(&l);
}

static void test_sigmoid_vs_ref(void)
{
    const int shapes[][3] = { { 1, 1, 1 }, { 1, 1, 4 }, { 7, 9, 5 }, { 40, 40, 1 }, { 13, 7, 10 } };
    uint32_t seed = 7000;
    double worst_all = 0;
    for (int si = 0; si < 5; si++)
        for (int inplace = 0; inplace < 2; inplace++) {
            uint32_t s = seed++;
            const int h = shapes[si][0], w = shapes[si][1], c = shapes[si][2];
            size_t n = (size_t)h * w * c;
            float *x = sentinel_buf(n), *x0 = malloc(n * sizeof(float)), *want = sentinel_buf(n);
            float *o = sentinel_buf(n);
            ASSERT(x0 != NULL);
            fill_random(&s, x0, n, -12, 12);
            x0[0] = 0.0f;
            memcpy(x, x0, n * sizeof(float));
            ft__sigmoid l;
            ASSERT_OK(ft__sigmoid_init(&l, c));
            ft__tensor t0 = { x0, h, w, c }, tw = { want, h, w, c };
            ASSERT_OK(ft__sigmoid_run(&REF, &l, &t0, &tw));
            ft__tensor tx = { x, h, w, c }, to = { o, h, w, c };
            ft__tensor *dst = inplace ? &tx : &to;
            ASSERT_OK(ft__sigmoid_run(&XNN, &l, &tx, dst));
            ASSERT(dst->h == h && dst->w == w && dst->c == c);
            for (size_t i = 0; i < n; i++) {
                /* oracle for the reference: 1 / (1 + e^-x), computed here */
                double v = 1.0 / (1.0 + exp(-(double)x0[i]));
                double d = fabs((double)dst->data[i] - want[i]);
                if (!(fabs(want[i] - v) <= 1e-7 && d <= 1e-6))
                    ft_test_fail(__FILE__, __LINE__,
                                 "seed %u: sigmoid %dx%dx%d inplace %d at %zu: x %.9g -> xnn "
                                 "%.9g, ref %.9g, want %.9g",
                                 s, h, w, c, inplace, i, x0[i], dst->data[i], want[i], v);
                worst_all = fmax(worst_all, d);
            }
            ASSERT(guard_intact(dst->data, n) && guard_intact(want, n));
            ft__sigmoid_fini(&l);
            free(x), free(x0), free(want), free(o);
        }
    printf("# sigmoid: worst |xnn - ref| %.3g\n", worst_all);
    no_leaks();
}

static void test_upsample_vs_ref(void)
{
    const int shapes[][3] = { { 1, 1, 1 }, { 1, 1, 3 }, { 7, 9, 5 }, { 5, 4, 64 }, { 17, 13, 17 } };
    uint32_t seed = 7100;
    for (int si = 0; si < 5; si++)
        for (int f = 1; f <= 3; f++) {
            uint32_t s = seed++;
            const int h = shapes[si][0], w = shapes[si][1], c = shapes[si][2];
            size_t n = (size_t)h * w * c, m = n * f * f;
            float *x = sentinel_buf(n), *o = sentinel_buf(m), *want = sentinel_buf(m);
            fill_random(&s, x, n, -8, 8);
            ft__upsample l;
            ASSERT_OK(ft__upsample_init(&l, f, c));
            ft__tensor tx = { x, h, w, c }, to = { o, 0, 0, 0 }, tw = { want, 0, 0, 0 };
            ASSERT_OK(ft__upsample_run(&XNN, &l, &tx, &to));
            ASSERT_OK(ft__upsample_run(&REF, &l, &tx, &tw));
            ASSERT(to.h == h * f && to.w == w * f && to.c == c && tw.h == h * f);
            for (size_t i = 0; i < m; i++) {
                size_t px = i / c, ch = i % c, yy = px / (w * f), xx = px % (w * f);
                float v = x[((yy / f) * w + xx / f) * c + ch]; /* oracle, computed here */
                if (!(o[i] == v && want[i] == v))
                    ft_test_fail(__FILE__, __LINE__,
                                 "seed %u: upsample %dx%dx%d by %d at %zu: xnn %.9g, ref %.9g, "
                                 "want %.9g",
                                 s, h, w, c, f, i, o[i], want[i], v);
            }
            ASSERT(guard_intact(o, m) && guard_intact(want, m));
            ft__upsample_fini(&l);
            free(x), free(o), free(want);
        }
    no_leaks();
}

/* The new operators on page-tail inputs: no read past XNN_EXTRA_BYTES. */
static void test_sigmoid_upsample_reads(void)
{
    guard_install();
    uint32_t seed = 7200;
    const int chans[] = { 1, 3, 4, 10, 17, 64 };
    for (int ci = 0; ci < 6; ci++) {
        uint32_t s = seed++;
        int c = chans[ci];
        page_buf in = page_tail((size_t)5 * 7 * c, &s);
        float *o = sentinel_buf((size_t)10 * 14 * c);
        ft__tensor t = { in.data, 5, 7, c }, to = { o, 0, 0, 0 };
        snprintf(guard_case, sizeof guard_case, "seed %u: sigmoid on 5x7x%d", s, c);
        ft__sigmoid sg;
        ASSERT_OK(ft__sigmoid_init(&sg, c));
        ASSERT_OK(ft__sigmoid_run(&XNN, &sg, &t, &to));
        ft__sigmoid_fini(&sg);
        snprintf(guard_case, sizeof guard_case, "seed %u: upsample 2x on 5x7x%d", s, c);
        ft__upsample up;
        ASSERT_OK(ft__upsample_init(&up, 2, c));
        ASSERT_OK(ft__upsample_run(&XNN, &up, &t, &to));
        ASSERT(guard_intact(o, (size_t)10 * 14 * c));
        ft__upsample_fini(&up);
        free(o);
        page_free(&in);
    }
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Bands of rows                                                            */
/* ------------------------------------------------------------------------ */

static void test_band_rows_by_hand(void)
{
    int r0, r1;
    /* 3x3, stride 1, pad 1, 10 rows in and out: row y reads y-1..y+1 */
    ft__band_rows(3, 1, 1, 10, 10, 0, 3, &r0, &r1);
    ASSERT(r0 == 0 && r1 == 4);
    ft__band_rows(3, 1, 1, 10, 10, 3, 7, &r0, &r1);
    ASSERT(r0 == 2 && r1 == 8);
    ft__band_rows(3, 1, 1, 10, 10, 7, 10, &r0, &r1);
    ASSERT(r0 == 6 && r1 == 10);
    /* 3x3, stride 2, pad 1, 9 rows in, 5 out: row y reads 2y-1..2y+1 */
    ft__band_rows(3, 2, 1, 9, 5, 0, 2, &r0, &r1);
    ASSERT(r0 == 0 && r1 == 4);
    ft__band_rows(3, 2, 1, 9, 5, 2, 4, &r0, &r1);
    ASSERT(r0 == 3 && r1 == 8);
    ft__band_rows(3, 2, 1, 9, 5, 4, 5, &r0, &r1);
    ASSERT(r0 == 7 && r1 == 9);
    /* 2x2, stride 2, 9 rows in, 4 out: the last band reads to the input's end */
    ft__band_rows(2, 2, 0, 9, 4, 1, 3, &r0, &r1);
    ASSERT(r0 == 2 && r1 == 6);
    ft__band_rows(2, 2, 0, 9, 4, 3, 4, &r0, &r1);
    ASSERT(r0 == 6 && r1 == 9);
    ASSERT(ft__band_ok(3, 1, 1) && ft__band_ok(3, 2, 1) && ft__band_ok(1, 1, 0) &&
           ft__band_ok(2, 2, 0));
    ASSERT(!ft__band_ok(5, 1, 2) && !ft__band_ok(1, 2, 0));
}

/* Geometries banded: kernel, stride, padding, depthwise (2: max pooling). */
static const int BAND_GEOS[][4] = { { 3, 1, 1, 0 }, { 3, 1, 1, 1 }, { 3, 2, 1, 0 }, { 3, 2, 1, 1 },
                                    { 1, 1, 0, 0 }, { 2, 2, 0, 0 }, { 2, 2, 0, 2 }, { 3, 2, 1, 2 },
                                    { 3, 1, 1, 2 }, { 3, 3, 0, 1 } };

/* A layer run band by band (bands of 1, 2, 3 rows and uneven ones) gives the
** whole run's output bit for bit, on every geometry and several sizes. */
static void test_bands_vs_whole(void)
{
    const int sizes[][2] = { { 1, 1 }, { 2, 7 }, { 5, 3 }, { 9, 8 }, { 16, 5 }, { 23, 11 } };
    const int chans[] = { 3, 16 };
    int n = 0;
    for (size_t gi = 0; gi < sizeof BAND_GEOS / sizeof BAND_GEOS[0]; gi++)
        for (int si = 0; si < 6; si++)
            for (int ci = 0; ci < 2; ci++) {
                const int k = BAND_GEOS[gi][0], st = BAND_GEOS[gi][1], p = BAND_GEOS[gi][2];
                const int kind = BAND_GEOS[gi][3], h = sizes[si][0], wd = sizes[si][1];
                const int c = chans[ci], cout = kind == 0 ? c + 1 : c;
                uint32_t s = 0xb4d5u + (uint32_t)n++;
                size_t nin = (size_t)h * wd * c;
                float *x = malloc((nin + FT__XNN_SLACK) * sizeof(float));
                float *w = malloc((size_t)k * k * c * cout * sizeof(float));
                float *b = malloc((size_t)cout * sizeof(float));
                ASSERT(x && w && b);
                fill_random(&s, x, nin, -1, 1);
                fill_random(&s, w, (size_t)k * k * c * cout, -1, 1);
                fill_random(&s, b, (size_t)cout, -1, 1);
                ft__conv cl;
                ft__pool pl;
                ft__tensor in = { x, h, wd, c }, whole;
                if (kind == 2) {
                    ASSERT_OK(ft__pool_init_pad(&pl, k, st, p, p, c));
                    ASSERT_OK(ft__pool_band_init(&pl));
                    ft__pool_out_shape(&pl, &in, &whole);
                } else {
                    ASSERT_OK(ft__conv_init_pad(&cl, k, k, st, p, p, c, cout, kind == 1, w, b, 0,
                                                INFINITY));
                    ASSERT_OK(ft__conv_band_init(&cl));
                    ft__conv_out_shape(&cl, &in, &whole);
                }
                if (whole.h < 1 || whole.w < 1) {
                    if (kind == 2)
                        ft__pool_fini(&pl);
                    else
                        ft__conv_fini(&cl);
                    free(x), free(w), free(b);
                    continue;
                }
                size_t row = (size_t)whole.w * whole.c, no = row * whole.h;
                whole.data = sentinel_buf(no);
                float *banded = sentinel_buf(no);
                ASSERT_OK(kind == 2 ? ft__pool_run(&XNN, &pl, &in, &whole)
                                    : ft__conv_run(&XNN, &cl, &in, &whole));
                for (int bh = 1; bh <= 4; bh++) {
                    for (int y0 = 0; y0 < whole.h;) {
                        /* bh 4: uneven bands of 1, 3, 2, 1, 3, ... rows */
                        int step = bh < 4 ? bh : 1 + (y0 * 7 + 1) % 3;
                        int y1 = y0 + step < whole.h ? y0 + step : whole.h, r0, r1;
                        ft__band_rows(k, st, p, h, whole.h, y0, y1, &r0, &r1);
                        ft__tensor a = { x + (size_t)r0 * wd * c, r1 - r0, wd, c };
                        ft__tensor o = { banded + (size_t)y0 * row, 0, 0, 0 };
                        ASSERT_OK(kind == 2 ? ft__pool_run_band(&XNN, &pl, &a, h, y0, y1, &o)
                                            : ft__conv_run_band(&XNN, &cl, &a, h, y0, y1, &o));
                        ASSERT(o.h == y1 - y0 && o.w == whole.w && o.c == whole.c);
                        y0 = y1;
                    }
                    if (memcmp(banded, whole.data, no * sizeof(float)) != 0 ||
                        !guard_intact(banded, no))
                        ft_test_fail(__FILE__, __LINE__,
                                     "seed %u: %s k%d s%d p%d on %dx%dx%d in bands of %d rows: "
                                     "not the whole run's output",
                                     s,
                                     kind == 2 ? "max pool"
                                     : kind    ? "depthwise"
                                               : "conv",
                                     k, st, p, h, wd, c, bh);
                }
                if (kind == 2)
                    ft__pool_fini(&pl);
                else
                    ft__conv_fini(&cl);
                free(x), free(w), free(b), free(whole.data), free(banded);
            }
    no_leaks();
}

/* out = a + upsample(in): by hand, the XNNPACK path against the reference
** and against an upsampling then an add, bit for bit. */
static void test_upsample_add(void)
{
    /* 1 2  up 2 + a (0..15)  =   1  2  4  5
    ** 3 4                        5  6  8  9 ... */
    float in1[4] = { 1, 2, 3, 4 }, a1[16], o1[16];
    for (int i = 0; i < 16; i++)
        a1[i] = (float)i;
    ft__tensor ti = { in1, 2, 2, 1 }, ta = { a1, 4, 4, 1 }, to = { o1, 4, 4, 1 };
    ft__ref_upsample_add(2, &ta, &ti, &to);
    const float want1[16] = { 1, 2, 4, 5, 5, 6, 8, 9, 11, 12, 14, 15, 15, 16, 18, 19 };
    ASSERT(memcmp(o1, want1, sizeof want1) == 0);
    const int shapes[][3] = { { 1, 1, 1 }, { 2, 3, 5 }, { 7, 9, 64 }, { 4, 6, 16 } };
    uint32_t seed = 7300;
    for (int si = 0; si < 4; si++)
        for (int f = 1; f <= 3; f++) {
            uint32_t s = seed++;
            const int h = shapes[si][0], w = shapes[si][1], c = shapes[si][2];
            size_t n = (size_t)h * w * c, m = n * f * f;
            float *x = sentinel_buf(n), *a = sentinel_buf(m), *o = sentinel_buf(m);
            float *want = sentinel_buf(m), *up = sentinel_buf(m), *sum = sentinel_buf(m);
            fill_random(&s, x, n, -8, 8);
            fill_random(&s, a, m, -8, 8);
            ft__upsample l;
            ft__add add;
            ASSERT_OK(ft__upsample_init(&l, f, c));
            ASSERT_OK(ft__add_init(&add, -INFINITY, INFINITY));
            ft__tensor tx = { x, h, w, c }, tA = { a, h * f, w * f, c };
            ft__tensor tO = { o, 0, 0, 0 }, tW = { want, 0, 0, 0 }, tU = { up, 0, 0, 0 };
            ft__tensor tS = { sum, 0, 0, 0 };
            ASSERT_OK(ft__upsample_add_run(&XNN, &l, &tA, &tx, &tO));
            ASSERT_OK(ft__upsample_add_run(&REF, &l, &tA, &tx, &tW));
            ASSERT_OK(ft__upsample_run(&XNN, &l, &tx, &tU));
            ASSERT_OK(ft__add_run(&XNN, &add, &tA, &tU, &tS));
            ASSERT(tO.h == h * f && tO.w == w * f && tO.c == c);
            if (memcmp(o, want, m * sizeof(float)) != 0 || memcmp(o, sum, m * sizeof(float)) != 0)
                ft_test_fail(__FILE__, __LINE__,
                             "seed %u: upsample-add %dx%dx%d by %d: xnn, ref and upsample + "
                             "add disagree",
                             s, h, w, c, f);
            ASSERT(guard_intact(o, m) && guard_intact(want, m));
            ft__upsample_fini(&l);
            ft__add_fini(&add);
            free(x), free(a), free(o), free(want), free(up), free(sum);
        }
    no_leaks();
}

/* The AVX-512 kernels (nn/kern_avx512.c): 3x3 depthwise at stride 1 against
** the reference and XNNPACK (within the float tolerance: another summation
** order), 2x2 max pooling bit for bit, and on three threads as on one;
** inputs at a page's very end, so a read past the last pixel faults. */
static void test_avx512_kernels_vs_ref(void)
{
    ft__conv probe;
    static const float w9[9 * 16], b16[16];
    ASSERT_OK(ft__conv_init_pad(&probe, 3, 3, 1, 1, 1, 16, 16, 1, w9, b16, -INFINITY, INFINITY));
    int usable = ft__dw3x3_usable(&probe);
    ft__conv_fini(&probe);
    if (!usable) FT_SKIP("no AVX-512F on this CPU: XNNPACK runs these layers");
    guard_install();
    pthreadpool_t pool = pthreadpool_create(3);
    ASSERT(pool != NULL);
    const ft__nn_ctx threads = { pool, 0, NULL };
    const int chans[] = { 16, 32, 64 }, hs[] = { 1, 2, 3, 6 }, ws[] = { 1, 2, 7, 8, 9, 17 };
    uint32_t seed = 7400;
    double worst = 0;
    int n = 0;
    for (int ci = 0; ci < 3; ci++)
        for (int hi = 0; hi < 4; hi++)
            for (int wi = 0; wi < 6; wi++)
                for (int py = 0; py <= 1; py++) {
                    uint32_t s = seed++;
                    const int c = chans[ci], h = hs[hi], w = ws[wi];
                    size_t nin = (size_t)h * w * c;
                    page_buf in = page_tail(nin > SLACK ? nin - SLACK : 1, &s);
                    float *x = in.data; /* nin floats, then the inaccessible page */
                    /* XNNPACK may read XNN_EXTRA_BYTES past its input: a copy for it */
                    float *xs = malloc((nin + SLACK) * sizeof(float));
                    float *wt = malloc(9 * (size_t)c * sizeof(float));
                    float *b = malloc(c * sizeof(float));
                    ASSERT(xs && wt && b);
                    memcpy(xs, x, nin * sizeof(float));
                    fill_random(&s, wt, 9 * (size_t)c, -1, 1);
                    fill_random(&s, b, (size_t)c, -1, 1);
                    /* depthwise: with ReLU when py is 1, none otherwise */
                    ft__conv l;
                    ASSERT_OK(ft__conv_init_pad(&l, 3, 3, 1, py, 1, c, c, 1, wt, b,
                                                py ? 0 : -INFINITY, INFINITY));
                    ASSERT(ft__dw3x3_usable(&l));
                    ft__tensor tin = { x, h, w, c }, tslack = { xs, h, w, c }, o;
                    ft__conv_out_shape(&l, &tin, &o);
                    if (o.h > 0) {
                        size_t no = (size_t)o.h * o.w * c;
                        ft__tensor fast = { sentinel_buf(no), 0, 0, 0 };
                        ft__tensor xnn = { sentinel_buf(no), 0, 0, 0 };
                        ft__tensor ref = { sentinel_buf(no), 0, 0, 0 };
                        snprintf(guard_case, sizeof guard_case, "seed %u: dw3x3 %dx%dx%d pad %d", s,
                                 h, w, c, py);
                        ASSERT_OK(ft__conv_run(&XNN, &l, &tin, &fast));
                        ft__tensor par = { sentinel_buf(no), 0, 0, 0 };
                        ASSERT_OK(ft__conv_run(&threads, &l, &tin, &par));
                        ASSERT(memcmp(par.data, fast.data, no * sizeof(float)) == 0);
                        free(par.data);
                        ft__dw3x3_allow(0);
                        ASSERT_OK(ft__conv_run(&XNN, &l, &tslack, &xnn));
                        ft__dw3x3_allow(1);
                        ASSERT_OK(ft__conv_run(&REF, &l, &tslack, &ref));
                        cmp_result r1 = compare(fast.data, ref.data, no);
                        cmp_result r2 = compare(fast.data, xnn.data, no);
                        if (!within(&r1, 1e-5) || !within(&r2, 1e-5) ||
                            !guard_intact(fast.data, no))
                            ft_test_fail(__FILE__, __LINE__,
                                         "seed %u: dw3x3 %dx%dx%d pad %d: |fast - ref| %.3g, "
                                         "|fast - xnn| %.3g",
                                         s, h, w, c, py, r1.worst, r2.worst);
                        worst = fmax(worst, r1.worst / (1 + r1.max_ref));
                        free(fast.data), free(xnn.data), free(ref.data);
                    }
                    ft__conv_fini(&l);
                    /* max pooling 2x2 / 2 */
                    ft__pool pl;
                    ASSERT_OK(ft__pool_init_pad(&pl, 2, 2, 0, 0, c));
                    ASSERT(ft__maxpool2_usable(&pl));
                    ft__pool_out_shape(&pl, &tin, &o);
                    if (o.h > 0 && o.w > 0) {
                        size_t no = (size_t)o.h * o.w * c;
                        ft__tensor fast = { sentinel_buf(no), 0, 0, 0 };
                        ft__tensor xnn = { sentinel_buf(no), 0, 0, 0 };
                        ft__tensor ref = { sentinel_buf(no), 0, 0, 0 };
                        snprintf(guard_case, sizeof guard_case, "seed %u: maxpool2 %dx%dx%d", s, h,
                                 w, c);
                        ASSERT_OK(ft__pool_run(&XNN, &pl, &tin, &fast));
                        ft__tensor par = { sentinel_buf(no), 0, 0, 0 };
                        ASSERT_OK(ft__pool_run(&threads, &pl, &tin, &par));
                        ASSERT(memcmp(par.data, fast.data, no * sizeof(float)) == 0);
                        free(par.data);
                        ft__dw3x3_allow(0);
                        ASSERT_OK(ft__pool_run(&XNN, &pl, &tslack, &xnn));
                        ft__dw3x3_allow(1);
                        ASSERT_OK(ft__pool_run(&REF, &pl, &tslack, &ref));
                        if (memcmp(fast.data, ref.data, no * sizeof(float)) != 0 ||
                            memcmp(fast.data, xnn.data, no * sizeof(float)) != 0 ||
                            !guard_intact(fast.data, no))
                            ft_test_fail(__FILE__, __LINE__,
                                         "seed %u: maxpool2 %dx%dx%d: not the reference's and "
                                         "XNNPACK's output",
                                         s, h, w, c);
                        free(fast.data), free(xnn.data), free(ref.data);
                    }
                    ft__pool_fini(&pl);
                    free(xs), free(wt), free(b);
                    page_free(&in);
                    n++;
                }
    ASSERT_EQ(n, 3 * 4 * 6 * 2);
    pthreadpool_destroy(pool);
    printf("# avx512 depthwise: worst |fast - ref| / (1 + max|ref|) = %.3g\n", worst);
    no_leaks();
}

FT_TESTS(FT_TEST(test_window_tf_values), FT_TEST(test_ref_conv_same_s1_by_hand),
         FT_TEST(test_ref_conv_same_s2_pads_after), FT_TEST(test_ref_conv_layouts_by_hand),
         FT_TEST(test_ref_pool_by_hand), FT_TEST(test_ref_add_leaky_fc_by_hand),
         FT_TEST(test_conv_counts_macs), FT_TEST(test_conv_regular_vs_ref),
         FT_TEST(test_conv_depthwise_vs_ref), FT_TEST(test_conv_explicit_vs_ref),
         FT_TEST(test_explicit_padding_by_hand), FT_TEST(test_conv_reuse_and_threads),
         FT_TEST(test_pool_max_vs_ref), FT_TEST(test_pool_avg_vs_ref), FT_TEST(test_add_vs_ref),
         FT_TEST(test_leaky_vs_ref), FT_TEST(test_fc_vs_ref),
         FT_TEST(test_xnn_reads_stay_within_extra_bytes), FT_TEST(test_ws_tensor_leaves_xnn_slack),
         FT_TEST(test_landmarks_ref_vs_xnn), FT_TEST(test_landmarks_tiny_ref_vs_xnn),
         FT_TEST(test_descriptor_ref_vs_xnn), FT_TEST(test_sigmoid_upsample_by_hand),
         FT_TEST(test_sigmoid_vs_ref), FT_TEST(test_upsample_vs_ref),
         FT_TEST(test_sigmoid_upsample_reads), FT_TEST(test_band_rows_by_hand),
         FT_TEST(test_bands_vs_whole), FT_TEST(test_upsample_add),
         FT_TEST(test_avx512_kernels_vs_ref))
