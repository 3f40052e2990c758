/*
** index/kern_avx2.c: AVX2 kernels of the index (x86-64 without AVX-512).
** They reproduce kern_scalar.c bit for bit.
**
** DESIGN
**   The 16 canonical float lanes are two 8-lane registers (lanes 0-7 and
**   8-15), folded exactly as the scalar code folds them. A 16-slot block of
**   the first pass is two halves of 8 slots (bytes 0-31 and 32-63 of each
**   64-byte group). u8 x s8 products use vpmaddubsw on nibbles (no
**   saturation, see kern_avx512.c) then vpmaddwd.
** INVARIANTS Bit-identical to the scalar kernels.
** OWNERSHIP  Nothing allocated.
** THREADS    Reentrant.
*/
#include "index/index.h"

#ifdef FT__INDEX_X86

#    include <immintrin.h>

#    define T2  __attribute__((target("avx2")))
#    define INL static inline __attribute__((always_inline))

T2 INL float fold8x2(__m256 lo, __m256 hi)
{
    __m256 r8 = _mm256_add_ps(lo, hi);
    __m128 r4 = _mm_add_ps(_mm256_castps256_ps128(r8), _mm256_extractf128_ps(r8, 1));
    __m128 r2 = _mm_add_ps(r4, _mm_movehl_ps(r4, r4));
    __m128 r1 = _mm_add_ss(r2, _mm_movehdup_ps(r2));
    return _mm_cvtss_f32(r1);
}

T2 INL float dist2_body(const float *x, const float *q, size_t dpf)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
#    pragma GCC unroll 8
    for (size_t c = 0; c < dpf; c += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + c), _mm256_loadu_ps(q + c));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + c + 8), _mm256_loadu_ps(q + c + 8));
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(d0, d0));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(d1, d1));
    }
    return fold8x2(a0, a1);
}

T2 static float dist2(const float *x, const float *q, size_t dpf)
{
    return dist2_body(x, q, dpf);
}

T2 INL size_t scan_f32_body(const float *rows, size_t n, size_t dpf, const float *q, float thr,
                            uint32_t slot0, ft__cand *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        float d2 = dist2_body(rows + i * dpf, q, dpf);
        if (d2 <= thr) {
            out[m].key = d2;
            out[m].slot = slot0 + (uint32_t)i;
            out[m].aux = 0;
            m++;
        }
    }
    return m;
}

T2 static size_t scan_f32(const float *rows, size_t n, size_t dpf, const float *q, float thr,
                          uint32_t slot0, ft__cand *out)
{
    if (dpf == 128) return scan_f32_body(rows, n, 128, q, thr, slot0, out);
    return scan_f32_body(rows, n, dpf, q, thr, slot0, out);
}

/* Estimates of 8 slots (see index.h), appended if <= thr. */
T2 INL size_t emit8(__m256i p1, const float *scale, const float *norm2, const ft__i8query *q,
                    __m256 vthr, uint32_t slot, ft__cand *out)
{
    __m256 f = _mm256_cvtepi32_ps(p1);
    __m256 t = _mm256_sub_ps(_mm256_mul_ps(f, _mm256_set1_ps(16.0f)), _mm256_set1_ps(q->K));
    __m256 u = _mm256_mul_ps(t, _mm256_loadu_ps(scale));
    __m256 w = _mm256_mul_ps(u, _mm256_set1_ps(q->qs2));
    __m256 a = _mm256_add_ps(_mm256_loadu_ps(norm2), _mm256_set1_ps(q->qn));
    __m256 est = _mm256_sub_ps(a, w);
    unsigned bits = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(est, vthr, _CMP_LE_OQ));
    if (!bits) return 0;
    float e[8];
    int32_t p[8];
    _mm256_storeu_ps(e, est);
    _mm256_storeu_si256((__m256i *)p, p1);
    size_t m = 0;
    while (bits) {
        int v = __builtin_ctz(bits);
        bits &= bits - 1;
        out[m].key = e[v];
        out[m].slot = slot + (uint32_t)v;
        out[m].aux = p[v];
        m++;
    }
    return m;
}

T2 INL __m256i dot8(__m256i z, __m256i ql, __m256i qh)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256i s =
        _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(z, m4), ql),
                         _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(z, 4), m4), qh));
    return _mm256_madd_epi16(s, ones);
}

T2 INL size_t scan_hi_body(const uint8_t *blocks, size_t nblocks, size_t groups,
                           const ft__i8query *q, float thr, uint32_t slot0, ft__cand *out)
{
    size_t bb = groups * 64 + 128, m = 0;
    __m256 vthr = _mm256_set1_ps(thr);
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = blocks + b * bb;
        __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
#    pragma GCC unroll 16
        for (size_t g = 0; g < groups; g++) {
            __m256i ql = _mm256_set1_epi32(q->ql[g]), qh = _mm256_set1_epi32(q->qh[g]);
            a0 = _mm256_add_epi32(
                a0, dot8(_mm256_loadu_si256((const __m256i *)(blk + g * 64)), ql, qh));
            a1 = _mm256_add_epi32(
                a1, dot8(_mm256_loadu_si256((const __m256i *)(blk + g * 64 + 32)), ql, qh));
        }
        const float *scale = (const float *)(blk + groups * 64), *norm2 = scale + 16;
        uint32_t slot = slot0 + (uint32_t)(b * 16);
        m += emit8(a0, scale, norm2, q, vthr, slot, out + m);
        m += emit8(a1, scale + 8, norm2 + 8, q, vthr, slot + 8, out + m);
    }
    return m;
}

T2 static size_t scan_hi(const uint8_t *blocks, size_t nblocks, size_t groups, const ft__i8query *q,
                         float thr, uint32_t slot0, ft__cand *out)
{
    if (groups == 16) return scan_hi_body(blocks, nblocks, 16, q, thr, slot0, out);
    return scan_hi_body(blocks, nblocks, groups, q, thr, slot0, out);
}

T2 INL int32_t hsum8(__m256i t)
{
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

T2 static int32_t dot_lo(const uint8_t *lo, const int8_t *cq, size_t dpc)
{
    __m256i acc = _mm256_setzero_si256();
    size_t c = 0;
    for (; c + 128 <= dpc; c += 128, lo += 64) {
        /* bytes 0-31: dims c+0..31 (low nibbles) and c+64..95 (high);
        ** bytes 32-63: dims c+32..63 and c+96..127 */
        acc = _mm256_add_epi32(acc, dot8(_mm256_loadu_si256((const __m256i *)lo),
                                         _mm256_loadu_si256((const __m256i *)(cq + c)),
                                         _mm256_loadu_si256((const __m256i *)(cq + c + 64))));
        acc = _mm256_add_epi32(acc, dot8(_mm256_loadu_si256((const __m256i *)(lo + 32)),
                                         _mm256_loadu_si256((const __m256i *)(cq + c + 32)),
                                         _mm256_loadu_si256((const __m256i *)(cq + c + 96))));
    }
    if (c < dpc)
        acc = _mm256_add_epi32(acc, dot8(_mm256_loadu_si256((const __m256i *)lo),
                                         _mm256_loadu_si256((const __m256i *)(cq + c)),
                                         _mm256_loadu_si256((const __m256i *)(cq + c + 32))));
    return hsum8(acc);
}

const ft__index_kernels ft__index_kernels_avx2 = {
    .scan_f32 = scan_f32,
    .dist2_f32 = dist2,
    .scan_hi = scan_hi,
    .dot_lo = dot_lo,
};

#endif /* FT__INDEX_X86 */
