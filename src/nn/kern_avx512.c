/*
** nn/kern_avx512.c: AVX-512 kernels for two layer kinds where XNNPACK's are
** slow, for channel counts that are multiples of 16 (YuNet's 16 and 64):
** 3x3 depthwise convolution at stride 1, and 2x2 max pooling at stride 2.
**
** DESIGN
**   XNNPACK's depthwise and pooling kernels make one output pixel at a time
**   through an indirection buffer (nine, or four, input pointers per
**   pixel). On YuNet's layers at 1920x1088 (one thread, same inputs) the
**   depthwise kernel here is about 3x faster with 16 channels and 1.5x with
**   64.
**   Depthwise: one output row from three input
**   row pointers (NULL: a row of zero padding, skipped), 8 output pixels
**   and 16 channels at a time: 8 accumulators start from the bias, each
**   input vector is loaded once per row and feeds the three outputs whose
**   window holds it, the column left of the image and right of it are zero
**   vectors (padding of one column each side). The sum runs bias, then the
**   taps row by row and left to right, as fused multiply-adds; XNNPACK sums
**   in another order, so the two differ in the last bits (the tests bound
**   it; the reference kernel is the oracle for both).
**   Max pooling: one output row from two input rows, the max of each 2x2
**   block of pixels, 16 channels at a time; max is exact, so the output is
**   XNNPACK's bit for bit. An odd last row or column is left out, as the
**   layer's window (no padding) does.
**   Rows are spread over ctx->pool.
**   The functions carry target attributes, so the file builds with the
**   project's baseline flags; ft__dw3x3_usable asks the CPU first.
**
** INVARIANTS  (1) loads stay inside the input rows: columns -1 and w are
**                 never read, whatever w.
**             (2) an output row depends only on its input rows, so bands of
**                 rows give the whole run's numbers bit for bit.
** THREADS     Reentrant; the CPU check runs once (pthread_once).
** SEE ALSO    tests/unit/test_nn.c test_avx512_kernels_vs_ref.
*/
#include "nn/nn.h"

#include <pthread.h>

#if defined(__x86_64__) || defined(__i386__)
#    define FT__DW3X3_X86 1
#    include <immintrin.h>
#    define T512 __attribute__((target("avx512f")))
#endif

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static int cpu_ok;      /* the CPU has AVX-512F */
static int allowed = 1; /* test hook: 0 leaves every layer to XNNPACK */

static void cpu_check(void)
{
#ifdef FT__DW3X3_X86
    __builtin_cpu_init();
    cpu_ok = __builtin_cpu_supports("avx512f");
#endif
}

void ft__dw3x3_allow(int on)
{
    allowed = on;
}

int ft__dw3x3_usable(const ft__conv *l)
{
    pthread_once(&cpu_once, cpu_check);
    return cpu_ok && allowed && l->depthwise && l->kh == 3 && l->kw == 3 && l->stride == 1 &&
           l->pad == FT__PAD_EXPLICIT && l->pad_x == 1 && l->pad_y <= 1 && l->cin % 16 == 0;
}

int ft__maxpool2_usable(const ft__pool *l)
{
    pthread_once(&cpu_once, cpu_check);
    return cpu_ok && allowed && l->kind == FT__POOL_MAX && l->k == 2 && l->stride == 2 &&
           l->pad != FT__PAD_SAME && l->pad_y == 0 && l->pad_x == 0 && l->channels % 16 == 0;
}

#ifdef FT__DW3X3_X86

/* One output row of w pixels and c channels from input rows r[0..2]. */
T512 static void dw_row(const float *const r[3], float *out, int w, int c, const float *wt,
                        const float *bias, float lo, float hi)
{
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi), zero = _mm512_setzero_ps();
    for (int x = 0; x < w; x += 8) {
        int n = w - x < 8 ? w - x : 8;
        for (int g = 0; g < c; g += 16) {
            __m512 acc[8];
            acc[0] = _mm512_loadu_ps(bias + g);
            for (int p = 1; p < 8; p++)
                acc[p] = acc[0];
            for (int dy = 0; dy < 3; dy++) {
                if (!r[dy]) continue;
                const float *a = r[dy] + g;
                const float *k = wt + (size_t)dy * 3 * c + g;
                __m512 k0 = _mm512_loadu_ps(k), k1 = _mm512_loadu_ps(k + c);
                __m512 k2 = _mm512_loadu_ps(k + 2 * (size_t)c);
                __m512 c0 = x > 0 ? _mm512_loadu_ps(a + (size_t)(x - 1) * c) : zero;
                __m512 c1 = _mm512_loadu_ps(a + (size_t)x * c);
                for (int p = 0; p < 8; p++) {
                    __m512 c2 = x + p + 1 < w ? _mm512_loadu_ps(a + (size_t)(x + p + 1) * c) : zero;
                    acc[p] = _mm512_fmadd_ps(c0, k0, acc[p]);
                    acc[p] = _mm512_fmadd_ps(c1, k1, acc[p]);
                    acc[p] = _mm512_fmadd_ps(c2, k2, acc[p]);
                    c0 = c1, c1 = c2;
                }
            }
            for (int p = 0; p < n; p++)
                _mm512_storeu_ps(out + (size_t)(x + p) * c + g,
                                 _mm512_min_ps(_mm512_max_ps(acc[p], vlo), vhi));
        }
    }
}

typedef struct job {
    const ft__conv *l;
    const float *in;          /* contiguous rows, or */
    const float *const *rows; /* one pointer per row */
    int n_rows, w;
    ft__tensor *out;
    int top;
} job;

/* Output row j (pthreadpool task). */
static void row_task(void *arg, size_t j)
{
    const job *jb = arg;
    size_t row = (size_t)jb->w * jb->l->cin;
    const float *r[3];
    for (int dy = 0; dy < 3; dy++) {
        long y = (long)j - jb->top + dy;
        r[dy] = y < 0 || y >= jb->n_rows ? NULL : jb->rows ? jb->rows[y] : jb->in + (size_t)y * row;
    }
    dw_row(r, jb->out->data + j * row, jb->w, jb->l->cin, jb->l->w, jb->l->b, jb->l->out_min,
           jb->l->out_max);
}

void ft__dw3x3_run(const ft__nn_ctx *ctx, const ft__conv *l, const ft__tensor *in, int top,
                   ft__tensor *out)
{
    FT_ASSERT(ft__dw3x3_usable(l) && in->c == l->cin && out->w == in->w && top >= 0 && top <= 1);
    job jb = { l, in->data, NULL, in->h, in->w, out, top };
    pthreadpool_parallelize_1d(ctx->pool, row_task, &jb, (size_t)out->h, 0);
}

void ft__dw3x3_run_rows(const ft__nn_ctx *ctx, const ft__conv *l, const float *const *rows,
                        int n_rows, int w, int top, ft__tensor *out)
{
    FT_ASSERT(ft__dw3x3_usable(l) && out->w == w && top >= 0 && top <= 1);
    job jb = { l, NULL, rows, n_rows, w, out, top };
    pthreadpool_parallelize_1d(ctx->pool, row_task, &jb, (size_t)out->h, 0);
}

/* One output row of w pixels (2w or 2w + 1 in) from input rows a and b. */
T512 static void pool_row(const float *a, const float *b, float *out, int w, int c)
{
    for (int x = 0; x < w; x++) {
        const float *pa = a + (size_t)2 * x * c, *pb = b + (size_t)2 * x * c;
        for (int g = 0; g < c; g += 16) {
            __m512 m = _mm512_max_ps(_mm512_loadu_ps(pa + g), _mm512_loadu_ps(pa + c + g));
            m = _mm512_max_ps(m, _mm512_loadu_ps(pb + g));
            m = _mm512_max_ps(m, _mm512_loadu_ps(pb + c + g));
            _mm512_storeu_ps(out + (size_t)x * c + g, m);
        }
    }
}

typedef struct pool_job {
    const ft__tensor *in;
    ft__tensor *out;
} pool_job;

static void pool_task(void *arg, size_t j)
{
    const pool_job *jb = arg;
    const ft__tensor *in = jb->in;
    size_t row = (size_t)in->w * in->c;
    pool_row(in->data + 2 * j * row, in->data + (2 * j + 1) * row,
             jb->out->data + j * (size_t)jb->out->w * in->c, jb->out->w, in->c);
}

void ft__maxpool2_run(const ft__nn_ctx *ctx, const ft__pool *l, const ft__tensor *in,
                      ft__tensor *out)
{
    FT_ASSERT(ft__maxpool2_usable(l) && in->c == l->channels && out->w == in->w / 2 &&
              2 * out->h <= in->h);
    pool_job jb = { in, out };
    pthreadpool_parallelize_1d(ctx->pool, pool_task, &jb, (size_t)out->h, 0);
}

#else

void ft__maxpool2_run(const ft__nn_ctx *ctx, const ft__pool *l, const ft__tensor *in,
                      ft__tensor *out)
{
    (void)ctx, (void)in, (void)out;
    FT_ASSERT(ft__maxpool2_usable(l)); /* never: no AVX-512 here */
}

void ft__dw3x3_run(const ft__nn_ctx *ctx, const ft__conv *l, const ft__tensor *in, int top,
                   ft__tensor *out)
{
    (void)ctx, (void)in, (void)top, (void)out;
    FT_ASSERT(ft__dw3x3_usable(l)); /* never: no AVX-512 here */
}

void ft__dw3x3_run_rows(const ft__nn_ctx *ctx, const ft__conv *l, const float *const *rows,
                        int n_rows, int w, int top, ft__tensor *out)
{
    (void)ctx, (void)rows, (void)n_rows, (void)w, (void)top, (void)out;
    FT_ASSERT(ft__dw3x3_usable(l)); /* never: no AVX-512 here */
}

#endif
