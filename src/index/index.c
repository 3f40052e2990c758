/*
** index/index.c: the vector index: storage, int8 quantisation, add/remove,
** and the search drivers (full float scan; three-pass int8 search).
**
** DESIGN
**   Memory bandwidth bounds a scan: one core streams ~15-30 GB/s here, so a
**   float scan of 1M 128-d vectors (512 MB) takes ~20 ms whatever the SIMD.
**   FT_INDEX_I8 keeps int8 codes of x - centre, the centre being the mean of
**   the vectors (recomputed, with all codes, at 256, 1024, ... 65536 vectors,
**   then fixed): descriptors share a large common component (different
**   people are ~0.75 apart at norm ~1.4, i.e. cos ~0.86), and centring makes
**   the quantisation error ~7x smaller on the distances that matter. Distances
**   are translation-invariant, so nothing else changes. It searches in three
**   passes (layouts in index.h):
**     1. stream the high nibbles of the int8 codes (64 B + 8 B per vector for
**        dim 128, 1/7 of the floats) and estimate every squared distance with
**        the low nibbles taken as their mean; keep the c1 best estimates
**        (threshold filter in the kernel, quickselect when the buffer fills);
**     2. for those c1, read the low nibbles (one cache line) and finish the
**        exact int8 dot product; bound its error from the stored quantisation
**        error norms: |q.x - qh.xh| <= ||qh|| ||x - xh|| + ||q - qh|| ||x||
**        (centred vectors), plus a float-rounding slack;
**     3. compute exact float distances for every candidate whose lower bound
**        is within the k-th smallest upper bound, and keep the k best.
**   Passes 2-3 lose nothing: the result is the exact float top-k of the c1
**   first-pass candidates, bit-identical to FT_INDEX_F32's when the true
**   neighbours are among them (always, when the index holds <= c1 vectors).
**   Only pass 1 can miss a neighbour (a 4-bit-precision estimate); c1 is
**   sized by measurement (bench/bench_index.c, face-like data): c1 = 512
**   already gives recall@100 0.9997 at 10M vectors, the default
**   max(2048, 16 k) leaves a 4x margin; the first pass costs ~70 B read per
**   vector (vs 512 for floats) and is bound by memory bandwidth.
**   Top-k: a bounded max-heap on (squared distance, id), so ties go to the
**   smaller id. Deleted slots are marked (and their norm set to +inf in the
**   first-pass blocks) and compacted when they outnumber live ones.
**
** INVARIANTS
**   (1) cap is a multiple of 16 and every array holds cap slots; blocks past
**       n have norm2 = +inf.
**   (2) a vector's codes are a pure function of its floats and the centre,
**       so compaction and load (which restores the centre) recompute them and
**       get the same bits.
**   (3) every path (ISA) gives bit-identical results (see index.h).
**   (4) a failed add/reserve leaves the index as it was.
** OWNERSHIP  The index owns its arrays; search scratch is per call.
** THREADS    Searches only read the index (see include/facetrail/index.h).
*/
#include "index/index.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK_ROWS   1024 /* rows per scan_f32 call */
#define CHUNK_BLOCKS 64   /* blocks (x16 slots) per scan_hi call */
#define C1_MIN       2048 /* first-pass candidates: max(C1_MIN, C1_PER_K * k) */
#define C1_PER_K     16

/* ------------------------------------------------------------------------ */
/* ISA selection                                                            */
/* ------------------------------------------------------------------------ */

static int isa_cap = -1;

void ft__index_cap_isa(int max_isa)
{
    isa_cap = max_isa;
}

int ft__index_cpu_isa(void)
{
#ifdef FT__INDEX_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx2"))
        return __builtin_cpu_supports("avx512vnni") ? FT__ISA_VNNI : FT__ISA_AVX512;
    if (__builtin_cpu_supports("avx2")) return FT__ISA_AVX2;
#endif
    return FT__ISA_SCALAR;
}

const char *ft__index_isa_name(int isa)
{
    switch (isa) {
    case FT__ISA_SCALAR: return "scalar";
    case FT__ISA_AVX2: return "avx2";
    case FT__ISA_AVX512: return "avx512bw";
    case FT__ISA_VNNI: return "avx512vnni";
    default: return "unknown";
    }
}

int ft__index_isa(const ft_index *idx)
{
    return idx ? idx->isa : -1;
}

static void pick_isa(ft_index *idx)
{
    int isa = ft__index_cpu_isa();
    const char *env = getenv("FT_INDEX_SCALAR");
    if (env && env[0] && strcmp(env, "0") != 0) isa = FT__ISA_SCALAR;
    if (isa_cap >= 0 && isa > isa_cap) isa = isa_cap;
    idx->isa = isa;
    idx->k = &ft__index_kernels_scalar;
#ifdef FT__INDEX_X86
    if (isa == FT__ISA_AVX2) idx->k = &ft__index_kernels_avx2;
    if (isa == FT__ISA_AVX512) idx->k = &ft__index_kernels_avx512;
    if (isa == FT__ISA_VNNI) idx->k = &ft__index_kernels_vnni;
#endif
}

/* ------------------------------------------------------------------------ */
/* Storage                                                                  */
/* ------------------------------------------------------------------------ */

/* Grows an aligned buffer to need bytes keeping the first used bytes. */
static int abuf_grow(ft__abuf *b, size_t need, size_t used)
{
    if (need <= b->cap && b->raw) return FT_OK;
    size_t old_off = b->raw ? (size_t)(b->p - (unsigned char *)b->raw) : 0;
    if (need > SIZE_MAX - 64) return FT_ENOMEM;
    void *raw = ft__realloc(b->raw, need + 64);
    if (!raw) return FT_ENOMEM;
    unsigned char *p = (unsigned char *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    size_t off = (size_t)(p - (unsigned char *)raw);
    if (b->raw && off != old_off && used) memmove(p, (unsigned char *)raw + old_off, used);
    b->raw = raw;
    b->p = p;
    b->cap = need;
#ifdef MADV_HUGEPAGE
    /* Long scans stream these arrays: 2 MB pages spare TLB misses and let the
    ** hardware prefetcher run across 4 KB boundaries. Advice only. */
    if (need >= ((size_t)4 << 20)) {
        uintptr_t a = ((uintptr_t)p + ((uintptr_t)2 << 20) - 1) & ~(((uintptr_t)2 << 20) - 1);
        uintptr_t e = ((uintptr_t)p + need) & ~(((uintptr_t)2 << 20) - 1);
        if (e > a) (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
    }
#endif
    return FT_OK;
}

static void abuf_free(ft__abuf *b)
{
    ft__free(b->raw);
    b->raw = NULL;
    b->p = NULL;
    b->cap = 0;
}

static size_t round_up(size_t x, size_t m)
{
    return (x + m - 1) / m * m;
}

int ft__index_new(int dim, int kind, ft_index **out)
{
    if (!out) return FT_EINVAL;
    *out = NULL;
    if (dim < 1 || dim > FT_INDEX_MAX_DIM) return FT_EINVAL;
    if (kind != FT_INDEX_F32 && kind != FT_INDEX_I8) return FT_EINVAL;
    ft_index *idx = ft__calloc(1, sizeof *idx);
    if (!idx) return FT_ENOMEM;
    idx->dim = dim;
    idx->kind = kind;
    idx->dpf = round_up((size_t)dim, 16);
    idx->dpc = round_up((size_t)dim, 64);
    idx->groups = idx->dpc / 8;
    idx->block_bytes = idx->groups * 64 + 128;
    idx->lo_bytes = idx->dpc / 2;
    idx->next_train = UINT64_MAX;
    if (kind == FT_INDEX_I8) {
        idx->centre = ft__calloc((size_t)dim, sizeof(float));
        if (!idx->centre) {
            ft__free(idx);
            return FT_ENOMEM;
        }
        idx->next_train = FT__TRAIN_FIRST;
    }
    pick_isa(idx);
    *out = idx;
    return FT_OK;
}

int ft_index_create(int dim, enum ft_index_kind kind, ft_index **out)
{
    return ft__index_new(dim, (int)kind, out);
}

void ft_index_destroy(ft_index *idx)
{
    if (!idx) return;
    ft__free(idx->ids);
    ft__free(idx->dead);
    ft__free(idx->meta);
    ft__free(idx->centre);
    abuf_free(&idx->rows);
    abuf_free(&idx->blocks);
    abuf_free(&idx->lo);
    ft__free(idx);
}

int ft_index_dim(const ft_index *idx)
{
    return idx ? idx->dim : 0;
}

enum ft_index_kind ft_index_kind_of(const ft_index *idx)
{
    return idx ? (enum ft_index_kind)idx->kind : FT_INDEX_F32;
}

size_t ft_index_count(const ft_index *idx)
{
    return idx ? idx->n - idx->n_dead : 0;
}

size_t ft_index_memory(const ft_index *idx)
{
    if (!idx) return 0;
    size_t per = sizeof(int64_t) + 1 + (idx->kind == FT_INDEX_I8 ? 4 * sizeof(float) : 0);
    return sizeof *idx + (idx->centre ? (size_t)idx->dim * sizeof(float) : 0) + idx->cap * per +
           idx->rows.cap + idx->blocks.cap + idx->lo.cap + (idx->rows.raw ? 64 : 0) +
           (idx->blocks.raw ? 64 : 0) + (idx->lo.raw ? 64 : 0);
}

/* Makes every array hold cap slots (cap a multiple of 16). */
static int grow_to(ft_index *idx, size_t cap)
{
    if (cap <= idx->cap) return FT_OK;
    if (cap > (size_t)FT_INDEX_MAX_COUNT + 16) return FT_ETOOBIG;
    int64_t *ids = ft__realloc(idx->ids, cap * sizeof *ids);
    if (!ids) return FT_ENOMEM;
    idx->ids = ids;
    unsigned char *dead = ft__realloc(idx->dead, cap);
    if (!dead) return FT_ENOMEM;
    idx->dead = dead;
    if (abuf_grow(&idx->rows, cap * idx->dpf * sizeof(float), idx->n * idx->dpf * sizeof(float)))
        return FT_ENOMEM;
    if (idx->kind == FT_INDEX_I8) {
        float *meta = ft__realloc(idx->meta, cap * 4 * sizeof(float));
        if (!meta) return FT_ENOMEM;
        idx->meta = meta;
        size_t nb_old = idx->cap / 16, nb = cap / 16;
        if (abuf_grow(&idx->blocks, nb * idx->block_bytes, nb_old * idx->block_bytes))
            return FT_ENOMEM;
        if (abuf_grow(&idx->lo, cap * idx->lo_bytes, idx->n * idx->lo_bytes)) return FT_ENOMEM;
        for (size_t b = nb_old; b < nb; b++) {
            unsigned char *blk = idx->blocks.p + b * idx->block_bytes;
            memset(blk, 0x88, idx->groups * 64); /* hi = 8: code 0 */
            float *scale = (float *)(blk + idx->groups * 64);
            for (int v = 0; v < 16; v++) {
                scale[v] = 0.0f;
                scale[16 + v] = INFINITY;
            }
        }
    }
    idx->cap = cap;
    return FT_OK;
}

static int ensure_room(ft_index *idx, size_t extra)
{
    if (extra > (size_t)FT_INDEX_MAX_COUNT || idx->n + extra > (size_t)FT_INDEX_MAX_COUNT)
        return FT_ETOOBIG;
    size_t need = idx->n + extra;
    if (need <= idx->cap) return FT_OK;
    size_t cap = idx->cap < 64 ? 64 : idx->cap + idx->cap / 2;
    if (cap < need) cap = need;
    return grow_to(idx, round_up(cap, 16));
}

int ft_index_reserve(ft_index *idx, size_t n)
{
    if (!idx) return FT_EINVAL;
    if (n > (size_t)FT_INDEX_MAX_COUNT) return FT_ETOOBIG;
    return grow_to(idx, round_up(n, 16));
}

int ft__index_check_vec(const float *v, int dim)
{
    if (!v) return FT_EINVAL;
    for (int i = 0; i < dim; i++)
        if (!(fabsf(v[i]) <= FT_INDEX_MAX_COMPONENT)) return FT_EINVAL; /* NaN fails too */
    return FT_OK;
}

/* Per-vector symmetric int8 quantisation of y = x - mu (mu NULL: 0), in
** double: c = round(y * 127 / max|y|), scale = max|y| / 127 (float). Also
** ||y - scale * c||^2, ||scale * c||^2 and ||y||^2. Codes past dim are 0. */
static void quantize(const float *x, const float *mu, int dim, size_t dpc, int8_t *c, float *scale,
                     double *err2, double *hat2, double *norm2)
{
    double m = 0, n2 = 0;
    for (int i = 0; i < dim; i++) {
        double y = (double)x[i] - (mu ? (double)mu[i] : 0.0);
        n2 += y * y;
        if (fabs(y) > m) m = fabs(y);
    }
    memset(c, 0, dpc);
    *err2 = 0;
    *hat2 = 0;
    *norm2 = n2;
    float s = (float)(m / 127.0);
    if (m == 0 || s == 0.0f) { /* all codes 0: the whole vector is error */
        *scale = 0.0f;
        *err2 = n2;
        return;
    }
    double inv = 127.0 / m, e2 = 0, h2 = 0;
    for (int i = 0; i < dim; i++) {
        double y = (double)x[i] - (mu ? (double)mu[i] : 0.0);
        double r = nearbyint(y * inv);
        if (r > 127) r = 127;
        if (r < -127) r = -127;
        c[i] = (int8_t)r;
        double yh = (double)s * r;
        e2 += (y - yh) * (y - yh);
        h2 += yh * yh;
    }
    *scale = s;
    *err2 = e2;
    *hat2 = h2;
}

/* Writes vector vec (dim floats, already checked) with id into slot. */
void ft__index_store(ft_index *idx, size_t slot, int64_t id, const float *vec)
{
    float *row = (float *)idx->rows.p + slot * idx->dpf;
    if (row != vec) memmove(row, vec, (size_t)idx->dim * sizeof(float));
    for (size_t i = (size_t)idx->dim; i < idx->dpf; i++)
        row[i] = 0.0f;
    idx->ids[slot] = id;
    idx->dead[slot] = 0;
    if (idx->kind != FT_INDEX_I8) return;

    int8_t c[FT_INDEX_MAX_DIM];
    float scale;
    double err2, hat2, norm2;
    quantize(row, idx->centre, idx->dim, idx->dpc, c, &scale, &err2, &hat2, &norm2);
    float n2 = (float)norm2;
    float err = (float)sqrt(err2);
    if ((double)err < sqrt(err2)) err = nextafterf(err, INFINITY);

    unsigned char *blk = idx->blocks.p + (slot / 16) * idx->block_bytes;
    size_t v = slot % 16;
    for (size_t g = 0; g < idx->groups; g++)
        for (int b = 0; b < 4; b++) {
            unsigned a = (unsigned)(c[8 * g + (size_t)b] + 128) >> 4;
            unsigned h = (unsigned)(c[8 * g + 4 + (size_t)b] + 128) >> 4;
            blk[g * 64 + v * 4 + (size_t)b] = (unsigned char)(a | h << 4);
        }
    float *bm = (float *)(blk + idx->groups * 64);
    bm[v] = scale;
    bm[16 + v] = n2;

    unsigned char *lo = idx->lo.p + slot * idx->lo_bytes;
    size_t d = 0;
    for (; d + 128 <= idx->dpc; d += 128, lo += 64)
        for (int j = 0; j < 64; j++)
            lo[j] = (unsigned char)(((unsigned)(c[d + (size_t)j] + 128) & 15) |
                                    ((unsigned)(c[d + 64 + (size_t)j] + 128) & 15) << 4);
    if (d < idx->dpc)
        for (int j = 0; j < 32; j++)
            lo[j] = (unsigned char)(((unsigned)(c[d + (size_t)j] + 128) & 15) |
                                    ((unsigned)(c[d + 32 + (size_t)j] + 128) & 15) << 4);

    float *meta = idx->meta + slot * 4;
    meta[0] = scale;
    meta[1] = n2;
    meta[2] = err;
    meta[3] = 0.0f;
}

int ft__index_valid_next_train(uint64_t t)
{
    for (uint64_t v = FT__TRAIN_FIRST; v <= FT__TRAIN_LAST; v *= 4)
        if (t == v) return 1;
    return t == UINT64_MAX;
}

/* Recomputes the centre as the mean of the live vectors and re-encodes them
** all (I8). Run at n = 256, 1024, ... 65536: O(1) amortised per add, and
** the centre is fixed from then on (the mean of face descriptors is a
** property of the network, not of the crowd). */
static void train(ft_index *idx)
{
    double sum[FT_INDEX_MAX_DIM] = { 0 };
    size_t live = 0;
    const float *rows = (const float *)idx->rows.p;
    for (size_t s = 0; s < idx->n; s++) {
        if (idx->dead[s]) continue;
        live++;
        for (int i = 0; i < idx->dim; i++)
            sum[i] += rows[s * idx->dpf + (size_t)i];
    }
    if (live)
        for (int i = 0; i < idx->dim; i++)
            idx->centre[i] = (float)(sum[i] / (double)live);
    for (size_t s = 0; s < idx->n; s++)
        if (!idx->dead[s]) ft__index_store(idx, s, idx->ids[s], rows + s * idx->dpf);
    while (idx->next_train <= idx->n && idx->next_train != UINT64_MAX)
        idx->next_train = idx->next_train >= FT__TRAIN_LAST ? UINT64_MAX : idx->next_train * 4;
}

/* Stores a checked vector in the next slot; trains the centre on schedule. */
static void append(ft_index *idx, int64_t id, const float *vec)
{
    ft__index_store(idx, idx->n, id, vec);
    idx->n++;
    if (idx->kind == FT_INDEX_I8 && idx->n >= idx->next_train) train(idx);
}

int ft_index_add(ft_index *idx, int64_t id, const float *vec)
{
    if (!idx) return FT_EINVAL;
    int rc = ft__index_check_vec(vec, idx->dim);
    if (rc) return rc;
    if ((rc = ensure_room(idx, 1))) return rc;
    append(idx, id, vec);
    return FT_OK;
}

int ft_index_add_batch(ft_index *idx, const int64_t *ids, const float *vecs, size_t n)
{
    if (!idx) return FT_EINVAL;
    if (n == 0) return FT_OK;
    if (!ids || !vecs) return FT_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int rc = ft__index_check_vec(vecs + i * (size_t)idx->dim, idx->dim);
        if (rc) return rc;
    }
    int rc = ensure_room(idx, n);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        append(idx, ids[i], vecs + i * (size_t)idx->dim);
    return FT_OK;
}

/* Moves the live slots down over the dead ones, in order. Allocates nothing. */
static void compact(ft_index *idx)
{
    size_t dst = 0, n_old = idx->n;
    for (size_t s = 0; s < n_old; s++) {
        if (idx->dead[s]) continue;
        if (s != dst)
            ft__index_store(idx, dst, idx->ids[s], (const float *)idx->rows.p + s * idx->dpf);
        dst++;
    }
    idx->n = dst;
    idx->n_dead = 0;
    if (idx->kind == FT_INDEX_I8)
        for (size_t s = dst; s < round_up(n_old, 16); s++) {
            float *bm = (float *)(idx->blocks.p + (s / 16) * idx->block_bytes + idx->groups * 64);
            bm[16 + s % 16] = INFINITY;
        }
}

int ft_index_remove(ft_index *idx, int64_t id)
{
    if (!idx) return FT_EINVAL;
    size_t found = 0;
    for (size_t s = 0; s < idx->n; s++) {
        if (idx->ids[s] != id || idx->dead[s]) continue;
        idx->dead[s] = 1;
        idx->n_dead++;
        found++;
        if (idx->kind == FT_INDEX_I8) {
            float *bm = (float *)(idx->blocks.p + (s / 16) * idx->block_bytes + idx->groups * 64);
            bm[16 + s % 16] = INFINITY;
        }
    }
    if (!found) return FT_ENOTFOUND;
    if (idx->n_dead > idx->n - idx->n_dead) compact(idx);
    return FT_OK;
}

int ft_index_get(const ft_index *idx, int64_t id, float *out)
{
    if (!idx || !out) return FT_EINVAL;
    for (size_t s = 0; s < idx->n; s++) {
        if (idx->ids[s] != id || idx->dead[s]) continue;
        memcpy(out, (const float *)idx->rows.p + s * idx->dpf, (size_t)idx->dim * sizeof(float));
        return FT_OK;
    }
    return FT_ENOTFOUND;
}

/* ------------------------------------------------------------------------ */
/* Selection                                                                */
/* ------------------------------------------------------------------------ */

/* Reorders a[0..n) so that a[kth - 1] holds the kth smallest key, with no
** larger key before it and no smaller one after (Hoare partition, median of
** three; equal keys split evenly). 1 <= kth <= n. */
#define DEFINE_SELECT(NAME, T, KEY)                                                               \
    static void NAME(T *a, size_t n, size_t kth)                                                  \
    {                                                                                             \
        size_t lo = 0, hi = n - 1, target = kth - 1;                                              \
        while (lo < hi) {                                                                         \
            size_t mid = lo + (hi - lo) / 2;                                                      \
            double x = KEY(a[lo]), y = KEY(a[mid]), z = KEY(a[hi]);                               \
            double pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y)); \
            size_t i = lo, j = hi;                                                                \
            while (i <= j) {                                                                      \
                while (KEY(a[i]) < pivot)                                                         \
                    i++;                                                                          \
                while (KEY(a[j]) > pivot)                                                         \
                    j--;                                                                          \
                if (i <= j) {                                                                     \
                    T t = a[i];                                                                   \
                    a[i] = a[j];                                                                  \
                    a[j] = t;                                                                     \
                    i++;                                                                          \
                    if (j == 0) break;                                                            \
                    j--;                                                                          \
                }                                                                                 \
            }                                                                                     \
            if (target <= j && j < hi)                                                            \
                hi = j;                                                                           \
            else if (target >= i)                                                                 \
                lo = i;                                                                           \
            else                                                                                  \
                break;                                                                            \
        }                                                                                         \
    }

#define CAND_KEY(c) ((double)(c).key)
#define DBL_KEY(d)  (d)
DEFINE_SELECT(select_cands, ft__cand, CAND_KEY)
DEFINE_SELECT(select_dbl, double, DBL_KEY)

/* Bounded max-heap on (key, id): the worst of the k best at the root. */
typedef struct heap {
    ft__cand *a;
    size_t n, cap;
    const int64_t *ids;
} heap;

static int worse(const heap *h, const ft__cand *x, const ft__cand *y)
{
    return x->key > y->key || (x->key == y->key && h->ids[x->slot] > h->ids[y->slot]);
}

static void heap_offer(heap *h, float key, uint32_t slot)
{
    ft__cand c = { key, slot, 0 };
    size_t i;
    if (h->n < h->cap) {
        i = h->n++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!worse(h, &c, &h->a[p])) break;
            h->a[i] = h->a[p];
            i = p;
        }
        h->a[i] = c;
        return;
    }
    if (!worse(h, &h->a[0], &c)) return; /* not better than the worst kept */
    i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const ft__cand *best = &c;
        if (l < h->n && worse(h, &h->a[l], best)) m = l, best = &h->a[l];
        if (r < h->n && worse(h, &h->a[r], best)) m = r;
        if (m == i) break;
        h->a[i] = h->a[m];
        i = m;
    }
    h->a[i] = c;
}

static float heap_thr(const heap *h)
{
    return h->n == h->cap ? h->a[0].key : FLT_MAX;
}

static int hit_cmp(const void *pa, const void *pb)
{
    const ft_index_hit *a = pa, *b = pb;
    if (a->distance != b->distance) return a->distance < b->distance ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* ------------------------------------------------------------------------ */
/* Search                                                                   */
/* ------------------------------------------------------------------------ */

int ft__index_default_c1(int k)
{
    long c = (long)C1_PER_K * k;
    return c < C1_MIN ? C1_MIN : (c > 1 << 24 ? 1 << 24 : (int)c);
}

static int kept(const ft_index *idx, const ft_index_filter *f, uint32_t slot)
{
    if (idx->dead[slot]) return 0;
    return !f || !f->keep || f->keep(idx->ids[slot], f->ctx);
}

static void search_exact(const ft_index *idx, const float *qf, const ft_index_filter *filter,
                         ft__cand *buf, heap *h)
{
    const float *rows = (const float *)idx->rows.p;
    for (size_t s0 = 0; s0 < idx->n; s0 += CHUNK_ROWS) {
        size_t cnt = idx->n - s0 < CHUNK_ROWS ? idx->n - s0 : CHUNK_ROWS;
        size_t m = idx->k->scan_f32(rows + s0 * idx->dpf, cnt, idx->dpf, qf, heap_thr(h),
                                    (uint32_t)s0, buf);
        for (size_t i = 0; i < m; i++)
            if (kept(idx, filter, buf[i].slot)) heap_offer(h, buf[i].key, buf[i].slot);
    }
}

typedef struct i8ctx {
    ft__i8query q;
    int32_t sum_cq;
    double qhat_norm, qerr_norm; /* ||q_hat||, ||q - q_hat|| */
} i8ctx;

/* Pass 1: the c1 best first-pass estimates among live, kept slots. Returns
** their number (<= c1); cands has room for 2 * c1 + 16 * CHUNK_BLOCKS. */
static size_t pass1(const ft_index *idx, const i8ctx *qc, const ft_index_filter *filter, size_t c1,
                    ft__cand *cands)
{
    size_t nblocks = (idx->n + 15) / 16, cnt = 0;
    int all = idx->n_dead == 0 && !(filter && filter->keep);
    float thr = FLT_MAX;
    for (size_t b0 = 0; b0 < nblocks; b0 += CHUNK_BLOCKS) {
        size_t nb = nblocks - b0 < CHUNK_BLOCKS ? nblocks - b0 : CHUNK_BLOCKS;
        size_t m = idx->k->scan_hi(idx->blocks.p + b0 * idx->block_bytes, nb, idx->groups, &qc->q,
                                   thr, (uint32_t)(b0 * 16), cands + cnt);
        if (!all) { /* drop dead and filtered slots */
            size_t base = cnt;
            for (size_t i = 0; i < m; i++) {
                ft__cand c = cands[base + i];
                if (kept(idx, filter, c.slot)) cands[cnt++] = c;
            }
        } else {
            cnt += m; /* slots >= n and dead ones have norm2 +inf: never emitted */
        }
        if (cnt > 2 * c1) {
            select_cands(cands, cnt, c1);
            cnt = c1;
            thr = cands[c1 - 1].key;
        }
    }
    if (cnt > c1) {
        select_cands(cands, cnt, c1);
        cnt = c1;
    }
    return cnt;
}

static void search_i8(const ft_index *idx, const float *qf, const i8ctx *qc,
                      const ft_index_filter *filter, size_t c1, ft__cand *cands, double *lb,
                      double *ub, uint32_t *pick, heap *h, ft__search_opts *o)
{
    size_t cnt = pass1(idx, qc, filter, c1, cands);
    if (o) o->n_pass1 = cnt;

    /* Pass 2: exact int8 dot products and their error bounds. */
    const float qn = qc->q.qn, qs2 = qc->q.qs2;
    const double rel = 4.0 * (double)(idx->dpf + 16) * 0x1p-23;
    for (size_t i = 0; i < cnt; i++) {
        if (i + 8 < cnt) {
            uint32_t ps = cands[i + 8].slot;
            __builtin_prefetch(idx->lo.p + (size_t)ps * idx->lo_bytes);
            __builtin_prefetch(idx->meta + (size_t)ps * 4);
        }
        uint32_t s = cands[i].slot;
        int32_t p2 = idx->k->dot_lo(idx->lo.p + (size_t)s * idx->lo_bytes, qc->q.cq, idx->dpc);
        int64_t dot = 16 * ((int64_t)cands[i].aux - 8 * (int64_t)qc->sum_cq) + p2;
        const float *meta = idx->meta + (size_t)s * 4;
        float a = meta[1] + qn;
        float w = ((float)dot * meta[0]) * qs2;
        float d8 = a - w;
        if (o && o->no_float) {
            heap_offer(h, d8 > 0.0f ? d8 : 0.0f, s);
            continue;
        }
        double bound = 2.0 * (qc->qhat_norm * meta[2] + qc->qerr_norm * sqrt((double)meta[1]));
        bound = bound * (1.0 + 1e-9) + rel * ((double)qn + meta[1]) + 1e-30;
        lb[i] = (double)d8 - bound;
        ub[i] = (double)d8 + bound;
    }
    if (o && o->no_float) return;

    /* Pass 3: exact distances for candidates the bounds cannot rule out. */
    double T = INFINITY;
    if (cnt > h->cap) {
        double *tmp = ub; /* ub is not needed after T */
        select_dbl(tmp, cnt, h->cap);
        T = tmp[h->cap - 1];
    }
    size_t np = 0;
    for (size_t i = 0; i < cnt; i++)
        if (lb[i] <= T) pick[np++] = cands[i].slot;
    if (o) o->n_rerank = np;
    const float *rows = (const float *)idx->rows.p;
    for (size_t i = 0; i < np; i++) {
        if (i + 4 < np) {
            const char *r = (const char *)(rows + (size_t)pick[i + 4] * idx->dpf);
            for (size_t off = 0; off < idx->dpf * sizeof(float); off += 64)
                __builtin_prefetch(r + off);
        }
        float d2 = idx->k->dist2_f32(rows + (size_t)pick[i] * idx->dpf, qf, idx->dpf);
        heap_offer(h, d2, pick[i]);
    }
}

static void prepare_i8(const ft_index *idx, const float *qf, int8_t *cq, int32_t *ql, int32_t *qh,
                       i8ctx *qc)
{
    float s;
    double err2, hat2, norm2;
    quantize(qf, idx->centre, idx->dim, idx->dpc, cq, &s, &err2, &hat2, &norm2);
    int32_t sum = 0;
    for (size_t i = 0; i < idx->dpc; i++)
        sum += cq[i];
    for (size_t g = 0; g < idx->groups; g++) {
        uint32_t a = 0, b = 0;
        for (int i = 0; i < 4; i++) {
            a |= (uint32_t)(uint8_t)cq[8 * g + (size_t)i] << (8 * i);
            b |= (uint32_t)(uint8_t)cq[8 * g + 4 + (size_t)i] << (8 * i);
        }
        memcpy(&ql[g], &a, 4);
        memcpy(&qh[g], &b, 4);
    }
    qc->q.ql = ql;
    qc->q.qh = qh;
    qc->q.cq = cq;
    qc->q.K = (float)(120.5 * (double)sum);
    qc->q.qs2 = 2.0f * s;
    qc->q.qn = (float)norm2;
    qc->sum_cq = sum;
    qc->qhat_norm = sqrt(hat2);
    qc->qerr_norm = sqrt(err2);
}

int ft__index_search_opts(const ft_index *idx, const float *query, int k,
                          const ft_index_filter *filter, ft_index_hit *hits, int *n_out,
                          ft__search_opts *o)
{
    if (n_out) *n_out = 0;
    if (!idx || !n_out || k < 0 || (k > 0 && !hits)) return FT_EINVAL;
    int rc = ft__index_check_vec(query, idx->dim);
    if (rc) return rc;
    if (o) o->n_pass1 = o->n_rerank = 0;
    size_t live = idx->n - idx->n_dead;
    size_t kk = (size_t)k < live ? (size_t)k : live;
    if (kk == 0) return FT_OK;

    int use_i8 = idx->kind == FT_INDEX_I8 && !(o && o->exact);
    size_t c1 = 0;
    if (use_i8) {
        c1 = o && o->c1 > 0 ? (size_t)o->c1 : (size_t)ft__index_default_c1(k);
        if (c1 < kk) c1 = kk;
        if (c1 > live) c1 = live; /* the first pass then keeps everything */
    }
    /* One scratch block: query, heap, candidates (+ bounds for I8). */
    size_t ncand = use_i8 ? 2 * c1 + 16 * CHUNK_BLOCKS : CHUNK_ROWS;
    size_t sz_q = idx->dpf * sizeof(float), sz_heap = kk * sizeof(ft__cand);
    size_t sz_c = ncand * sizeof(ft__cand);
    size_t sz_i8 = use_i8 ? idx->dpc + 2 * idx->groups * sizeof(int32_t) +
                                c1 * (2 * sizeof(double) + sizeof(uint32_t))
                          : 0;
    size_t total = 64 + sz_q + sz_heap + sz_c + sz_i8 + 6 * 16;
    unsigned char *mem = ft__malloc(total);
    if (!mem) return FT_ENOMEM;
    unsigned char *p = (unsigned char *)round_up((uintptr_t)mem, 64);
#define TAKE(ptr, type, bytes)      \
    do {                            \
        ptr = (type)(void *)p;      \
        p += round_up((bytes), 16); \
    } while (0)
    float *qf;
    ft__cand *heap_a, *cands;
    TAKE(qf, float *, sz_q);
    TAKE(heap_a, ft__cand *, sz_heap);
    TAKE(cands, ft__cand *, sz_c);
    memcpy(qf, query, (size_t)idx->dim * sizeof(float));
    for (size_t i = (size_t)idx->dim; i < idx->dpf; i++)
        qf[i] = 0.0f;

    heap h = { heap_a, 0, kk, idx->ids };
    if (!use_i8) {
        search_exact(idx, qf, filter, cands, &h);
    } else {
        double *lb, *ub;
        int32_t *ql, *qh;
        uint32_t *pick;
        int8_t *cq;
        TAKE(lb, double *, c1 * sizeof(double));
        TAKE(ub, double *, c1 * sizeof(double));
        TAKE(ql, int32_t *, idx->groups * sizeof(int32_t));
        TAKE(qh, int32_t *, idx->groups * sizeof(int32_t));
        TAKE(pick, uint32_t *, c1 * sizeof(uint32_t));
        TAKE(cq, int8_t *, idx->dpc);
        i8ctx qc;
        prepare_i8(idx, qf, cq, ql, qh, &qc);
        search_i8(idx, qf, &qc, filter, c1, cands, lb, ub, pick, &h, o);
    }
#undef TAKE
    FT_ASSERT(p <= mem + total);

    for (size_t i = 0; i < h.n; i++) {
        hits[i].id = idx->ids[h.a[i].slot];
        hits[i].distance = sqrtf(h.a[i].key);
    }
    qsort(hits, h.n, sizeof *hits, hit_cmp);
    *n_out = (int)h.n;
    ft__free(mem);
    return FT_OK;
}

int ft_index_search(const ft_index *idx, const float *query, int k, const ft_index_filter *filter,
                    ft_index_hit *hits, int *n_out)
{
    return ft__index_search_opts(idx, query, k, filter, hits, n_out, NULL);
}
