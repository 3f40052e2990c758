/*
** index/index.h: internals of the vector index (src/index/): the index
** structure, the SIMD kernel table and the test/bench hooks.
**
** DESIGN
**   Storage, per slot s (slots are dense; removal marks them dead):
**     ids[s], dead[s]
**     rows   float[dpf] row-major, dpf = round_up(dim, 16), zero padded.
**   FT_INDEX_I8 adds the int8 codes c = round((x - centre) / scale), scale =
**   max|x - centre| / 127 (norms below are of x - centre too), split as
**   c + 128 = 16 * hi + lo (hi, lo in 0..15), over dpc =
**   round_up(dim, 64) dims (padding codes are 0):
**     blocks  16 slots per block, for the streaming first pass: for each group
**             g of 8 dims, 64 bytes = 16 slots x 4 bytes; byte b of slot v
**             holds hi(8g + b) in its low nibble and hi(8g + 4 + b) in its
**             high nibble; then float scale[16], float norm2[16] (+inf for
**             unused and dead slots, so they never pass a threshold).
**     lo      dpc / 2 bytes per slot, for random access in the second pass:
**             per 128 dims (64 bytes), byte j holds lo(j) | lo(64 + j) << 4;
**             a final 64-dim half chunk (32 bytes) holds lo(j) | lo(32 + j) << 4.
**     meta    {scale, norm2, err} per slot; err = ||(x - centre) - scale * c||,
**             rounded up.
**
**   Canonical float distance (every path computes exactly this, so results
**   are bit-identical across ISAs): 16 lanes, lane j sums (x[i] - q[i])^2 over
**   i = j mod 16 in increasing i (mul then add, no FMA); then lanes are folded
**   j + 8 -> j, j + 4 -> j, j + 2 -> j, 1 -> 0.
**
**   Canonical first-pass estimate from P1 = sum_i hi_i * cq_i (integer):
**     t = (float)P1 * 16 - K; w = (t * scale_x) * qs2; est = (norm2_x + qn) - w
**   with K = 120.5 * sum(cq) (the low nibble taken as 7.5 on average, minus the
**   128 offset) and qs2 = 2 * scale_q.
**
** INVARIANTS
**   (1) slots [0, n) are written; n_dead of them are dead; lanes >= n of the
**       last block have norm2 = +inf.
**   (2) kernels never allocate and never read past their arguments.
** OWNERSHIP  The index owns every array; search scratch belongs to the call.
** THREADS    See include/facetrail/index.h. The ISA cap hook is global.
*/
#ifndef FT_INDEX_INTERNAL_H
#define FT_INDEX_INTERNAL_H

#include "core/core.h"

#include <stdint.h>

enum ft__isa {
    FT__ISA_SCALAR = 0,
    FT__ISA_AVX2 = 1,
    FT__ISA_AVX512 = 2, /* F + BW + VL + DQ */
    FT__ISA_VNNI = 3,   /* AVX512 + VNNI */
};

/* One candidate: key (squared distance or estimate), slot, aux (P1). */
typedef struct ft__cand {
    float key;
    uint32_t slot;
    int32_t aux;
} ft__cand;

/* The query as the int8 kernels see it. */
typedef struct ft__i8query {
    const int32_t *ql, *qh; /* per group: cq[8g..8g+3], cq[8g+4..8g+7] as 4 bytes */
    const int8_t *cq;       /* dpc codes (zero padded) */
    float K, qs2, qn;
} ft__i8query;

typedef struct ft__index_kernels {
    /* Appends (d2, slot0 + i) for rows i in [0, n) with canonical d2 <= thr. */
    size_t (*scan_f32)(const float *rows, size_t n, size_t dpf, const float *q, float thr,
                       uint32_t slot0, ft__cand *out);
    /* Canonical squared distance of one row. */
    float (*dist2_f32)(const float *row, const float *q, size_t dpf);
    /* First pass over nblocks blocks: appends (estimate, slot, P1) for slots
    ** whose estimate <= thr. */
    size_t (*scan_hi)(const uint8_t *blocks, size_t nblocks, size_t groups, const ft__i8query *q,
                      float thr, uint32_t slot0, ft__cand *out);
    /* sum_i lo_i * cq_i over dpc dims of one lo row. */
    int32_t (*dot_lo)(const uint8_t *lo, const int8_t *cq, size_t dpc);
} ft__index_kernels;

extern const ft__index_kernels ft__index_kernels_scalar;
#if defined(__x86_64__) || defined(__i386__)
#    define FT__INDEX_X86 1
extern const ft__index_kernels ft__index_kernels_avx2;
extern const ft__index_kernels ft__index_kernels_avx512;
extern const ft__index_kernels ft__index_kernels_vnni;
#endif

/* A growable 64-byte-aligned array. */
typedef struct ft__abuf {
    void *raw;
    unsigned char *p;
    size_t cap; /* usable bytes */
} ft__abuf;

struct ft_index {
    int dim, kind, isa;
    size_t dpf, dpc, groups, block_bytes, lo_bytes;
    size_t n, cap, n_dead;
    int64_t *ids;
    unsigned char *dead;
    ft__abuf rows, blocks, lo;
    float *meta;         /* 4 floats per slot: scale, norm2, err, 0 */
    float *centre;       /* I8: dim floats, the mean the codes are taken around */
    uint64_t next_train; /* I8: n at which the centre is recomputed; UINT64_MAX: fixed */
    const ft__index_kernels *k;
};

/* -- hooks for tests and benchmarks -------------------------------------- */

/* Caps the ISA that later ft_index_create / ft_index_load calls pick
** (FT__ISA_*; -1 removes the cap). The environment variable FT_INDEX_SCALAR=1
** has the effect of cap 0. */
void ft__index_cap_isa(int max_isa);
/* The best ISA this CPU supports (ignoring caps). */
int ft__index_cpu_isa(void);
int ft__index_isa(const ft_index *idx);
const char *ft__index_isa_name(int isa);

typedef struct ft__search_opts {
    int exact;    /* 1: full float scan even for I8 (ground truth) */
    int no_float; /* I8: rank by the int8 estimate only, as an index without
                     floats would (distances are the int8 estimates) */
    int c1;       /* I8: first-pass candidates; 0: ft__index_default_c1(k) */
    /* OUT statistics (may be left 0) */
    size_t n_pass1;  /* candidates after the first pass */
    size_t n_rerank; /* exact float distances computed in the last pass */
} ft__search_opts;

int ft__index_default_c1(int k);
int ft__index_search_opts(const ft_index *idx, const float *query, int k,
                          const ft_index_filter *filter, ft_index_hit *hits, int *n_out,
                          ft__search_opts *opts);

/* Shared between index.c and io.c. */
int ft__index_check_vec(const float *v, int dim); /* FT_EINVAL unless finite, bounded */
int ft__index_new(int dim, int kind, ft_index **out);
/* Writes a checked vector into slot (< cap); the caller then updates n. */
void ft__index_store(ft_index *idx, size_t slot, int64_t id, const float *vec);
/* The centre schedule: first computed at 256 vectors, then at 4x, 16x, ...
** up to FT__TRAIN_LAST, then fixed. */
#define FT__TRAIN_FIRST 256u
#define FT__TRAIN_LAST  65536u
int ft__index_valid_next_train(uint64_t t);

#endif
