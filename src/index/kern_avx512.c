/*
** index/kern_avx512.c: AVX-512 kernels of the index, in two flavours:
** AVX-512BW (u8 x s8 products with vpmaddubsw + vpmaddwd) and AVX-512 VNNI
** (vpdpbusd). Both reproduce kern_scalar.c bit for bit.
**
** DESIGN
**   Functions carry target attributes, so the file builds with the project's
**   baseline flags and runs only where index.c found the CPU flags.
**   u8 x s8 products never saturate: the u8 side is a nibble (0..15) and the
**   s8 side a code in -127..127, so a vpmaddubsw pair is at most 3810 and the
**   sum of two pairs 7620.
**   scan_f32 computes one row at a time (16 lanes, canonical fold); the loop
**   is bound by memory bandwidth, not by the fold. scan_hi handles 16 slots
**   per block in one register: 2 x 4-byte groups per 64-byte load.
** INVARIANTS Bit-identical to the scalar kernels (integer sums are exact; the
**            float steps are the same IEEE operations in the same order).
** OWNERSHIP  Nothing allocated.
** THREADS    Reentrant.
*/
#include "index/index.h"

#ifdef FT__INDEX_X86

#    include <immintrin.h>

#    define T512  __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512dq")))
#    define TVNNI __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#    define INL   static inline __attribute__((always_inline))

/* ------------------------------------------------------------------------ */
/* float32                                                                  */
/* ------------------------------------------------------------------------ */

T512 INL float fold16(__m512 acc)
{
    __m256 lo = _mm512_castps512_ps256(acc);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1));
    __m256 r8 = _mm256_add_ps(lo, hi);
    __m128 r4 = _mm_add_ps(_mm256_castps256_ps128(r8), _mm256_extractf128_ps(r8, 1));
    __m128 r2 = _mm_add_ps(r4, _mm_movehl_ps(r4, r4));
    __m128 r1 = _mm_add_ss(r2, _mm_movehdup_ps(r2));
    return _mm_cvtss_f32(r1);
}

T512 INL float dist2_body(const float *x, const float *q, size_t dpf)
{
    __m512 acc = _mm512_setzero_ps();
#    pragma GCC unroll 8
    for (size_t c = 0; c < dpf; c += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + c), _mm512_loadu_ps(q + c));
        acc = _mm512_add_ps(acc, _mm512_mul_ps(d, d));
    }
    return fold16(acc);
}

T512 static float dist2(const float *x, const float *q, size_t dpf)
{
    return dist2_body(x, q, dpf);
}

T512 INL size_t scan_f32_body(const float *rows, size_t n, size_t dpf, const float *q, float thr,
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

T512 static size_t scan_f32(const float *rows, size_t n, size_t dpf, const float *q, float thr,
                            uint32_t slot0, ft__cand *out)
{
    if (dpf == 128) return scan_f32_body(rows, n, 128, q, thr, slot0, out);
    return scan_f32_body(rows, n, dpf, q, thr, slot0, out);
}

/* ------------------------------------------------------------------------ */
/* int8 first pass and second pass                                          */
/* ------------------------------------------------------------------------ */

/* The estimate of 16 slots from their P1 (see index.h), appended if <= thr. */
T512 INL size_t emit16(__m512i p1, const uint8_t *meta, const ft__i8query *q, __m512 vthr,
                       uint32_t slot, ft__cand *out)
{
    __m512 f = _mm512_cvtepi32_ps(p1);
    __m512 t = _mm512_sub_ps(_mm512_mul_ps(f, _mm512_set1_ps(16.0f)), _mm512_set1_ps(q->K));
    __m512 u = _mm512_mul_ps(t, _mm512_loadu_ps((const float *)meta));
    __m512 w = _mm512_mul_ps(u, _mm512_set1_ps(q->qs2));
    __m512 a = _mm512_add_ps(_mm512_loadu_ps((const float *)(meta + 64)), _mm512_set1_ps(q->qn));
    __m512 est = _mm512_sub_ps(a, w);
    __mmask16 mask = _mm512_cmp_ps_mask(est, vthr, _CMP_LE_OQ);
    if (!mask) return 0;
    float e[16];
    int32_t p[16];
    _mm512_storeu_ps(e, est);
    _mm512_storeu_si512(p, p1);
    size_t m = 0;
    unsigned bits = mask;
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

/* P1 of one block, BW flavour. */
T512 INL __m512i block_p1_bw(const uint8_t *blk, size_t groups, const ft__i8query *q)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), ones = _mm512_set1_epi16(1);
    __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();
#    pragma GCC unroll 16
    for (size_t g = 0; g < groups; g += 2) {
        __m512i z0 = _mm512_loadu_si512(blk + g * 64);
        __m512i z1 = _mm512_loadu_si512(blk + g * 64 + 64);
        __m512i s0 = _mm512_add_epi16(
            _mm512_maddubs_epi16(_mm512_and_si512(z0, m4), _mm512_set1_epi32(q->ql[g])),
            _mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(z0, 4), m4),
                                 _mm512_set1_epi32(q->qh[g])));
        __m512i s1 = _mm512_add_epi16(
            _mm512_maddubs_epi16(_mm512_and_si512(z1, m4), _mm512_set1_epi32(q->ql[g + 1])),
            _mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(z1, 4), m4),
                                 _mm512_set1_epi32(q->qh[g + 1])));
        a0 = _mm512_add_epi32(a0, _mm512_madd_epi16(s0, ones));
        a1 = _mm512_add_epi32(a1, _mm512_madd_epi16(s1, ones));
    }
    return _mm512_add_epi32(a0, a1);
}

/* P1 of one block, VNNI flavour. groups is even (dpc is a multiple of 64). */
TVNNI INL __m512i block_p1_vnni(const uint8_t *blk, size_t groups, const ft__i8query *q)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();
    __m512i a2 = _mm512_setzero_si512(), a3 = _mm512_setzero_si512();
#    pragma GCC unroll 16
    for (size_t g = 0; g < groups; g += 2) {
        __m512i z0 = _mm512_loadu_si512(blk + g * 64);
        __m512i z1 = _mm512_loadu_si512(blk + g * 64 + 64);
        a0 = _mm512_dpbusd_epi32(a0, _mm512_and_si512(z0, m4), _mm512_set1_epi32(q->ql[g]));
        a1 = _mm512_dpbusd_epi32(a1, _mm512_and_si512(_mm512_srli_epi16(z0, 4), m4),
                                 _mm512_set1_epi32(q->qh[g]));
        a2 = _mm512_dpbusd_epi32(a2, _mm512_and_si512(z1, m4), _mm512_set1_epi32(q->ql[g + 1]));
        a3 = _mm512_dpbusd_epi32(a3, _mm512_and_si512(_mm512_srli_epi16(z1, 4), m4),
                                 _mm512_set1_epi32(q->qh[g + 1]));
    }
    return _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
}

/* G is the literal 16 for 128-dim vectors (fully unrolled) or the variable. */
#    define SCAN_HI_BODY(P1FN, G)                                                            \
        do {                                                                                 \
            size_t bb = (G)*64 + 128, m = 0;                                                 \
            __m512 vthr = _mm512_set1_ps(thr);                                               \
            for (size_t b = 0; b < nblocks; b++) {                                           \
                const uint8_t *blk = blocks + b * bb;                                        \
                __m512i p1 = P1FN(blk, (G), q);                                              \
                m += emit16(p1, blk + (G)*64, q, vthr, slot0 + (uint32_t)(b * 16), out + m); \
            }                                                                                \
            return m;                                                                        \
        } while (0)

T512 static size_t scan_hi_bw(const uint8_t *blocks, size_t nblocks, size_t groups,
                              const ft__i8query *q, float thr, uint32_t slot0, ft__cand *out)
{
    if (groups == 16) SCAN_HI_BODY(block_p1_bw, 16);
    SCAN_HI_BODY(block_p1_bw, groups);
}

TVNNI static size_t scan_hi_vnni(const uint8_t *blocks, size_t nblocks, size_t groups,
                                 const ft__i8query *q, float thr, uint32_t slot0, ft__cand *out)
{
    if (groups == 16) SCAN_HI_BODY(block_p1_vnni, 16);
    SCAN_HI_BODY(block_p1_vnni, groups);
}

T512 static int32_t dot_lo_bw(const uint8_t *lo, const int8_t *cq, size_t dpc)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), ones = _mm512_set1_epi16(1);
    __m512i acc = _mm512_setzero_si512();
    size_t c = 0;
    for (; c + 128 <= dpc; c += 128, lo += 64) {
        __m512i z = _mm512_loadu_si512(lo);
        __m512i s = _mm512_add_epi16(
            _mm512_maddubs_epi16(_mm512_and_si512(z, m4), _mm512_loadu_si512(cq + c)),
            _mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(z, 4), m4),
                                 _mm512_loadu_si512(cq + c + 64)));
        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(s, ones));
    }
    int32_t r = _mm512_reduce_add_epi32(acc);
    if (c < dpc) {
        const __m256i m4y = _mm256_set1_epi8(0x0f), onesy = _mm256_set1_epi16(1);
        __m256i z = _mm256_loadu_si256((const __m256i *)lo);
        __m256i s = _mm256_add_epi16(
            _mm256_maddubs_epi16(_mm256_and_si256(z, m4y),
                                 _mm256_loadu_si256((const __m256i *)(cq + c))),
            _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(z, 4), m4y),
                                 _mm256_loadu_si256((const __m256i *)(cq + c + 32))));
        __m256i t = _mm256_madd_epi16(s, onesy);
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
        r += _mm_cvtsi128_si32(h);
    }
    return r;
}

TVNNI static int32_t dot_lo_vnni(const uint8_t *lo, const int8_t *cq, size_t dpc)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();
    size_t c = 0;
    for (; c + 128 <= dpc; c += 128, lo += 64) {
        __m512i z = _mm512_loadu_si512(lo);
        a0 = _mm512_dpbusd_epi32(a0, _mm512_and_si512(z, m4), _mm512_loadu_si512(cq + c));
        a1 = _mm512_dpbusd_epi32(a1, _mm512_and_si512(_mm512_srli_epi16(z, 4), m4),
                                 _mm512_loadu_si512(cq + c + 64));
    }
    int32_t r = _mm512_reduce_add_epi32(_mm512_add_epi32(a0, a1));
    if (c < dpc) {
        const __m256i m4y = _mm256_set1_epi8(0x0f);
        __m256i z = _mm256_loadu_si256((const __m256i *)lo);
        __m256i t = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_and_si256(z, m4y),
                                        _mm256_loadu_si256((const __m256i *)(cq + c)));
        t = _mm256_dpbusd_epi32(t, _mm256_and_si256(_mm256_srli_epi16(z, 4), m4y),
                                _mm256_loadu_si256((const __m256i *)(cq + c + 32)));
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
        r += _mm_cvtsi128_si32(h);
    }
    return r;
}

const ft__index_kernels ft__index_kernels_avx512 = {
    .scan_f32 = scan_f32,
    .dist2_f32 = dist2,
    .scan_hi = scan_hi_bw,
    .dot_lo = dot_lo_bw,
};

const ft__index_kernels ft__index_kernels_vnni = {
    .scan_f32 = scan_f32,
    .dist2_f32 = dist2,
    .scan_hi = scan_hi_vnni,
    .dot_lo = dot_lo_vnni,
};

#endif /* FT__INDEX_X86 */
