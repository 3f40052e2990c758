/*
** facetrail/index.h: in-memory exact nearest-neighbour search over face
** descriptors (included by facetrail.h; may also be included on its own).
**
** OVERVIEW
**     ft_index *idx;
**     ft_index_create(FT_DESCRIPTOR_DIM, FT_INDEX_I8, &idx);
**     ft_index_add(idx, sighting_id, face.descriptor);     // or ft_index_add_batch
**     ft_index_hit hits[100]; int n;
**     ft_index_search(idx, query, 100, NULL, hits, &n);    // nearest first
**     ft_index_save(idx, "event.fti", err, sizeof err);
**     ft_index_destroy(idx);
**
**   Distances are euclidean (the true distance, not its square), between the
**   vectors as given: add raw descriptors to match face-api's distance, or
**   L2-normalised ones (ft_descriptor_normalize) for the cosine ordering.
**   Results are sorted by ascending distance, ties by smaller id.
**
** KINDS
**   FT_INDEX_F32  the float vectors only; every search scans all of them with
**                 SIMD. Memory: 4 * round_up(dim, 16) + 9 bytes per vector
**                 (521 B for dim 128).
**   FT_INDEX_I8   the float vectors plus an int8 copy of x - centre (per-
**                 vector symmetric quantisation, scale = max|x - centre| / 127;
**                 the centre is the mean of the vectors, learnt while the first
**                 65536 are added: descriptors share a large common component
**                 that would otherwise eat the int8 range), split into two
**                 4-bit planes. A search scans only the high nibbles (64 B per
**                 vector), keeps the best candidates (a few thousand), finishes
**                 their int8 dot products with the low nibbles, and re-ranks
**                 with exact float distances every candidate that a proven
**                 error bound cannot rule out. Results are therefore the exact
**                 float results whenever the true neighbours survive the
**                 first pass (recall@100 against FT_INDEX_F32 is measured by
**                 bench/bench_index). Memory: 4 * round_up(dim, 16) +
**                 round_up(dim, 64) + 33 bytes per vector (673 B for dim 128).
**   Both kinds return identical hits (ids and bit-identical distances) when
**   nothing is lost in the first pass; with fewer vectors than the candidate
**   budget (2048 or more) nothing can be lost.
**
** INPUT
**   Vector components must be finite with |x| <= FT_INDEX_MAX_COMPONENT (so
**   that no squared distance overflows); otherwise FT_EINVAL. Ids are the
**   caller's and need not be unique.
**
** THREADS
**   Searches (ft_index_search, ft_index_count, ft_index_save, ...) only read
**   the index: any number may run concurrently on one index as long as no
**   writer (ft_index_add, ft_index_add_batch, ft_index_remove,
**   ft_index_reserve, ft_index_destroy) runs at the same time; writers need
**   exclusive access (a reader-writer lock around the index is enough).
**   A filter callback is called from the searching thread.
**
** CPU
**   The kernels are chosen at ft_index_create / ft_index_load from the running
**   CPU (AVX-512 VNNI, AVX-512BW, AVX2, or portable C); every path gives
**   bit-identical results.
*/
#ifndef FACETRAIL_INDEX_H
#define FACETRAIL_INDEX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ft_index ft_index;

enum ft_index_kind {
    FT_INDEX_F32 = 0, /* float32 vectors, full scan */
    FT_INDEX_I8 = 1,  /* float32 + int8 codes: compact first pass, exact re-rank */
};

#define FT_INDEX_MAX_DIM       4096
#define FT_INDEX_MAX_COMPONENT 1e15f
/* Most vectors one index holds (slots, deleted ones included). */
#define FT_INDEX_MAX_COUNT 2000000000

typedef struct ft_index_hit {
    int64_t id;
    float distance; /* euclidean, >= 0 */
} ft_index_hit;

/* Optional restriction of a search: only vectors whose id keep() accepts
** (returns non-zero) are results. keep is called only for vectors close
** enough to matter, in no particular order, possibly more than once per id;
** it must not call back into the index for writing. */
typedef struct ft_index_filter {
    int (*keep)(int64_t id, void *ctx);
    void *ctx;
} ft_index_filter;

/* An empty index of vectors of dim floats (1 .. FT_INDEX_MAX_DIM).
** FT_EINVAL (dim, kind), FT_ENOMEM. On failure *out is NULL. */
int ft_index_create(int dim, enum ft_index_kind kind, ft_index **out /* OUT */);
void ft_index_destroy(ft_index *idx);

int ft_index_dim(const ft_index *idx); /* 0 for NULL */
enum ft_index_kind ft_index_kind_of(const ft_index *idx);
size_t ft_index_count(const ft_index *idx);  /* live vectors; 0 for NULL */
size_t ft_index_memory(const ft_index *idx); /* bytes held (capacity included) */

/* Makes room for n vectors in all (so that adding up to n allocates nothing).
** FT_ENOMEM, FT_ETOOBIG (past FT_INDEX_MAX_COUNT). */
int ft_index_reserve(ft_index *idx, size_t n);

/* Adds one vector of dim floats (copied). Amortised O(dim).
** FT_EINVAL (NULL, non-finite or too large component), FT_ENOMEM, FT_ETOOBIG;
** on error the index is unchanged. */
int ft_index_add(ft_index *idx, int64_t id, const float *vec);
/* Adds n vectors (vecs: n * dim floats, row-major), all or none: every vector
** is checked before any is added. */
int ft_index_add_batch(ft_index *idx, const int64_t *ids, const float *vecs, size_t n);

/* Removes every vector with this id (O(count); space is reclaimed lazily, when
** deleted slots outnumber live ones, and on save). FT_ENOTFOUND if none. */
int ft_index_remove(ft_index *idx, int64_t id);

/* Copies the vector stored under id (the first live one, if several) to
** out (dim floats). O(count). FT_ENOTFOUND if none, FT_EINVAL for NULL. */
int ft_index_get(const ft_index *idx, int64_t id, float *out /* OUT */);

/* The k nearest vectors to query (dim floats) that pass filter (NULL: all),
** nearest first, ties by smaller id; *n_out = min(k, number of candidates).
** hits has room for k (may be NULL when k == 0).
** FT_EINVAL (NULL, k < 0, non-finite or too large query component),
** FT_ENOMEM (scratch memory). */
int ft_index_search(const ft_index *idx, const float *query, int k, const ft_index_filter *filter,
                    ft_index_hit *hits /* OUT */, int *n_out /* OUT */);

/* Writes the live vectors to path (through path.tmp, then renamed), as a
** versioned little-endian file with a checksum: header (magic "FTINDEX\0",
** version, kind, dim, count), then ids (int64) and vectors (float32). I8 codes
** are recomputed on load. FT_EINVAL, FT_EIO, FT_ENOMEM; message in err. */
int ft_index_save(const ft_index *idx, const char *path, char *err, size_t err_len);
/* Reads a file written by ft_index_save. A malformed, truncated or corrupt
** file (bad magic, version, sizes, checksum, non-finite values) gives
** FT_EFORMAT, never a crash; FT_EIO if it cannot be read; FT_ENOMEM.
** On failure *out is NULL and err says why. */
int ft_index_load(const char *path, ft_index **out /* OUT */, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif /* FACETRAIL_INDEX_H */
