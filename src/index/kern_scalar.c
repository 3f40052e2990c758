/*
** index/kern_scalar.c: the portable C kernels of the index. They define the
** canonical arithmetic (see index.h) that the SIMD kernels reproduce bit for
** bit; tests compare every ISA against these.
**
** DESIGN     Plain loops in the exact operation order of the SIMD lanes.
**            Needs -ffp-contract=off (the Makefile's flag): no FMA fusion.
** INVARIANTS Pure functions of their arguments.
** OWNERSHIP  Nothing allocated.
** THREADS    Reentrant.
*/
#include "index/index.h"

static float dist2(const float *x, const float *q, size_t dpf)
{
    float acc[16] = { 0 };
    for (size_t c = 0; c < dpf; c += 16)
        for (int j = 0; j < 16; j++) {
            float d = x[c + j] - q[c + j];
            float p = d * d;
            acc[j] = acc[j] + p;
        }
    float r8[8], r4[4], r2[2];
    for (int j = 0; j < 8; j++)
        r8[j] = acc[j] + acc[j + 8];
    for (int j = 0; j < 4; j++)
        r4[j] = r8[j] + r8[j + 4];
    for (int j = 0; j < 2; j++)
        r2[j] = r4[j] + r4[j + 2];
    return r2[0] + r2[1];
}

static size_t scan_f32(const float *rows, size_t n, size_t dpf, const float *q, float thr,
                       uint32_t slot0, ft__cand *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        float d2 = dist2(rows + i * dpf, q, dpf);
        if (d2 <= thr) {
            out[m].key = d2;
            out[m].slot = slot0 + (uint32_t)i;
            out[m].aux = 0;
            m++;
        }
    }
    return m;
}

static size_t scan_hi(const uint8_t *blocks, size_t nblocks, size_t groups, const ft__i8query *q,
                      float thr, uint32_t slot0, ft__cand *out)
{
    size_t bb = groups * 64 + 128, m = 0;
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = blocks + b * bb;
        const float *scale = (const float *)(blk + groups * 64);
        const float *norm2 = scale + 16;
        for (int v = 0; v < 16; v++) {
            int32_t p1 = 0;
            for (size_t g = 0; g < groups; g++) {
                const uint8_t *c = blk + g * 64 + v * 4;
                uint32_t ql = (uint32_t)q->ql[g], qh = (uint32_t)q->qh[g];
                for (int i = 0; i < 4; i++) {
                    int32_t a = (int8_t)(uint8_t)(ql >> (8 * i));
                    int32_t h = (int8_t)(uint8_t)(qh >> (8 * i));
                    p1 += (int32_t)(c[i] & 15) * a + (int32_t)(c[i] >> 4) * h;
                }
            }
            float f = (float)p1;
            float t = f * 16.0f - q->K;
            float u = t * scale[v];
            float w = u * q->qs2;
            float a = norm2[v] + q->qn;
            float est = a - w;
            if (est <= thr) {
                out[m].key = est;
                out[m].slot = slot0 + (uint32_t)(b * 16 + (size_t)v);
                out[m].aux = p1;
                m++;
            }
        }
    }
    return m;
}

static int32_t dot_lo(const uint8_t *lo, const int8_t *cq, size_t dpc)
{
    int32_t s = 0;
    size_t c = 0;
    for (; c + 128 <= dpc; c += 128, lo += 64)
        for (int j = 0; j < 64; j++)
            s += (int32_t)(lo[j] & 15) * cq[c + j] + (int32_t)(lo[j] >> 4) * cq[c + 64 + j];
    if (c < dpc) /* half chunk of 64 dims */
        for (int j = 0; j < 32; j++)
            s += (int32_t)(lo[j] & 15) * cq[c + j] + (int32_t)(lo[j] >> 4) * cq[c + 32 + j];
    return s;
}

const ft__index_kernels ft__index_kernels_scalar = {
    .scan_f32 = scan_f32,
    .dist2_f32 = dist2,
    .scan_hi = scan_hi,
    .dot_lo = dot_lo,
};
