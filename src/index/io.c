/*
** index/io.c: saving and loading an index (ft_index_save / ft_index_load).
**
** DESIGN
**   File layout, little-endian:
**     0   char[8]  magic "FTINDEX\0"
**     8   u32      version (1)
**     12  u32      header bytes (48)
**     16  u64      checksum of every byte from offset 24 to the end
**     24  u32      kind (0 F32, 1 I8)
**     28  u32      dim
**     32  u64      count
**     40  u64      reserved, 0
**     48  I8 only: f32[dim] centre, u64 next centre update (index.c)
**     ..  i64[count] ids, then f32[count][dim] vectors
**   Only live vectors are written, in slot order; int8 codes are not stored
**   but recomputed on load (a pure function of the floats and the centre),
**   so a loaded index searches bit-identically to the saved one.
**   The checksum is xxHash64-style (4 lanes of multiply-rotate, same
**   constants; not meant to match xxHash's output): it catches corruption,
**   not tampering. Saving writes PATH.tmp and renames it over PATH, so a
**   crash never leaves a half-written PATH.
**   Loading checks the header, then that the file size is exactly what the
**   header implies (so a truncated file or a lying count is FT_EFORMAT before
**   anything big is allocated), then streams the vectors in, rejecting any
**   non-finite or out-of-range value, and compares the checksum at the end.
** INVARIANTS Every error path frees what it took; *out is NULL on failure.
** OWNERSHIP  The loaded index belongs to the caller.
** THREADS    Saving only reads the index (safe beside searches).
*/
#include "index/index.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#    error "index files are little-endian: add byte swapping for this target"
#endif

#define HEADER_BYTES 48
#define VERSION      1
static const char MAGIC[8] = { 'F', 'T', 'I', 'N', 'D', 'E', 'X', 0 };

/* ------------------------------------------------------------------------ */
/* Checksum                                                                 */
/* ------------------------------------------------------------------------ */

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

typedef struct hasher {
    uint64_t v[4], total;
    unsigned char buf[32];
    size_t nbuf;
} hasher;

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t round64(uint64_t acc, uint64_t in)
{
    return rotl(acc + in * P2, 31) * P1;
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static void hash_init(hasher *h)
{
    h->v[0] = P1 + P2;
    h->v[1] = P2;
    h->v[2] = 0;
    h->v[3] = 0 - P1;
    h->total = 0;
    h->nbuf = 0;
}

static void hash_stripe(hasher *h, const unsigned char *p)
{
    for (int i = 0; i < 4; i++)
        h->v[i] = round64(h->v[i], rd64(p + 8 * i));
}

static void hash_update(hasher *h, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len == 0) return; /* data may be NULL then */
    h->total += len;
    if (h->nbuf) {
        size_t take = 32 - h->nbuf < len ? 32 - h->nbuf : len;
        memcpy(h->buf + h->nbuf, p, take);
        h->nbuf += take;
        p += take;
        len -= take;
        if (h->nbuf < 32) return;
        hash_stripe(h, h->buf);
        h->nbuf = 0;
    }
    for (; len >= 32; p += 32, len -= 32)
        hash_stripe(h, p);
    memcpy(h->buf, p, len);
    h->nbuf = len;
}

static uint64_t hash_final(const hasher *h)
{
    uint64_t r = rotl(h->v[0], 1) + rotl(h->v[1], 7) + rotl(h->v[2], 12) + rotl(h->v[3], 18);
    for (int i = 0; i < 4; i++)
        r = (r ^ round64(0, h->v[i])) * P1 + P4;
    r += h->total;
    for (size_t i = 0; i < h->nbuf; i++)
        r = rotl(r ^ (h->buf[i] * P5), 11) * P1;
    r ^= r >> 33;
    r *= P2;
    r ^= r >> 29;
    r *= P3;
    r ^= r >> 32;
    return r;
}

static void put32(unsigned char *p, uint32_t x)
{
    memcpy(p, &x, 4);
}

static void put64(unsigned char *p, uint64_t x)
{
    memcpy(p, &x, 8);
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return x;
}

/* ------------------------------------------------------------------------ */
/* Save                                                                     */
/* ------------------------------------------------------------------------ */

static int put(FILE *f, hasher *h, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, f) != n) return -1;
    hash_update(h, p, n);
    return 0;
}

int ft_index_save(const ft_index *idx, const char *path, char *err, size_t err_len)
{
    if (!idx || !path || !*path)
        return ft__errf(err, err_len, FT_EINVAL, "index save: bad arguments");
    size_t plen = strlen(path);
    char *tmp = ft__malloc(plen + 5);
    if (!tmp) return ft__errf(err, err_len, FT_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int rc = ft__errf(err, err_len, FT_EIO, "%s: %s", tmp, strerror(errno));
        ft__free(tmp);
        return rc;
    }
    unsigned char hdr[HEADER_BYTES] = { 0 };
    memcpy(hdr, MAGIC, 8);
    put32(hdr + 8, VERSION);
    put32(hdr + 12, HEADER_BYTES);
    put32(hdr + 24, (uint32_t)idx->kind);
    put32(hdr + 28, (uint32_t)idx->dim);
    put64(hdr + 32, (uint64_t)(idx->n - idx->n_dead));
    hasher h;
    hash_init(&h);
    int bad = fwrite(hdr, 1, 24, f) != 24 || put(f, &h, hdr + 24, HEADER_BYTES - 24);
    if (idx->kind == FT_INDEX_I8 && !bad) {
        unsigned char nt[8];
        put64(nt, idx->next_train);
        bad = put(f, &h, idx->centre, (size_t)idx->dim * sizeof(float)) || put(f, &h, nt, 8);
    }
    int64_t ids[512];
    size_t nb = 0;
    for (size_t s = 0; s < idx->n && !bad; s++) {
        if (idx->dead[s]) continue;
        ids[nb++] = idx->ids[s];
        if (nb == 512) bad = put(f, &h, ids, sizeof ids), nb = 0;
    }
    if (!bad) bad = put(f, &h, ids, nb * sizeof ids[0]);
    const float *rows = (const float *)idx->rows.p;
    for (size_t s = 0; s < idx->n && !bad; s++)
        if (!idx->dead[s]) bad = put(f, &h, rows + s * idx->dpf, (size_t)idx->dim * sizeof(float));
    if (!bad) {
        unsigned char sum[8];
        put64(sum, hash_final(&h));
        bad = fseek(f, 16, SEEK_SET) != 0 || fwrite(sum, 1, 8, f) != 8 || fflush(f) != 0;
    }
    int e = errno;
    if (fclose(f) != 0 && !bad) bad = 1, e = errno;
    if (!bad && rename(tmp, path) != 0) bad = 1, e = errno;
    if (bad) {
        remove(tmp);
        ft__free(tmp);
        return ft__errf(err, err_len, FT_EIO, "%s: write failed: %s", path, strerror(e));
    }
    ft__free(tmp);
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* Load                                                                     */
/* ------------------------------------------------------------------------ */

static int load_body(FILE *f, const char *path, ft_index **out, char *err, size_t err_len)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        return ft__errf(err, err_len, FT_EIO, "%s: not a regular file", path);
    unsigned long long size = (unsigned long long)st.st_size;
    unsigned char hdr[HEADER_BYTES];
    if (size < HEADER_BYTES)
        return ft__errf(err, err_len, FT_EFORMAT, "%s: truncated header (%llu bytes)", path, size);
    if (fread(hdr, 1, HEADER_BYTES, f) != HEADER_BYTES)
        return ft__errf(err, err_len, FT_EIO, "%s: read error", path);
    if (memcmp(hdr, MAGIC, 8) != 0)
        return ft__errf(err, err_len, FT_EFORMAT, "%s: not a facetrail index (bad magic)", path);
    uint32_t version = get32(hdr + 8), hbytes = get32(hdr + 12);
    uint32_t kind = get32(hdr + 24), dim = get32(hdr + 28);
    uint64_t sum, count, reserved;
    memcpy(&sum, hdr + 16, 8);
    memcpy(&count, hdr + 32, 8);
    memcpy(&reserved, hdr + 40, 8);
    if (version != VERSION)
        return ft__errf(err, err_len, FT_EFORMAT, "%s: unsupported version %u", path, version);
    if (hbytes != HEADER_BYTES || reserved != 0)
        return ft__errf(err, err_len, FT_EFORMAT, "%s: bad header", path);
    if (kind != FT_INDEX_F32 && kind != FT_INDEX_I8)
        return ft__errf(err, err_len, FT_EFORMAT, "%s: unknown kind %u", path, kind);
    if (dim < 1 || dim > FT_INDEX_MAX_DIM)
        return ft__errf(err, err_len, FT_EFORMAT, "%s: bad dimension %u", path, dim);
    if (count > (uint64_t)FT_INDEX_MAX_COUNT)
        return ft__errf(err, err_len, FT_EFORMAT, "%s: bad count %llu", path,
                        (unsigned long long)count);
    uint64_t per = 8 + 4 * (uint64_t)dim; /* no overflow: count < 2^31, per < 2^15 */
    uint64_t extra = kind == FT_INDEX_I8 ? 4 * (uint64_t)dim + 8 : 0;
    if (size != HEADER_BYTES + extra + count * per)
        return ft__errf(err, err_len, FT_EFORMAT,
                        "%s: size %llu does not match %llu vectors of dim %u (truncated?)", path,
                        size, (unsigned long long)count, dim);

    hasher h;
    hash_init(&h);
    hash_update(&h, hdr + 24, HEADER_BYTES - 24);
    ft_index *idx;
    int rc = ft__index_new((int)dim, (int)kind, &idx);
    if (rc) return ft__errf(err, err_len, rc, "%s: %s", path, ft_strerror(rc));
    float *buf = NULL;
    if (kind == FT_INDEX_I8) {
        unsigned char nt[8];
        uint64_t next;
        if (fread(idx->centre, sizeof(float), dim, f) != dim || fread(nt, 1, 8, f) != 8) {
            rc = ft__errf(err, err_len, FT_EIO, "%s: read error", path);
            goto fail;
        }
        hash_update(&h, idx->centre, (size_t)dim * sizeof(float));
        hash_update(&h, nt, 8);
        memcpy(&next, nt, 8);
        if (ft__index_check_vec(idx->centre, (int)dim) || !ft__index_valid_next_train(next)) {
            rc = ft__errf(err, err_len, FT_EFORMAT, "%s: bad centre", path);
            goto fail;
        }
        idx->next_train = next;
    }
    if ((rc = ft_index_reserve(idx, (size_t)count))) {
        rc = ft__errf(err, err_len, rc, "%s: %s", path, ft_strerror(rc));
        goto fail;
    }
    size_t n = (size_t)count;
    if (n && fread(idx->ids, 8, n, f) != n) {
        rc = ft__errf(err, err_len, FT_EIO, "%s: read error", path);
        goto fail;
    }
    hash_update(&h, idx->ids, n * 8);
    enum { BATCH = 256 };
    buf = ft__malloc((size_t)BATCH * dim * sizeof(float));
    if (!buf) {
        rc = ft__errf(err, err_len, FT_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (size_t s0 = 0; s0 < n; s0 += BATCH) {
        size_t nb = n - s0 < BATCH ? n - s0 : BATCH;
        if (fread(buf, (size_t)dim * sizeof(float), nb, f) != nb) {
            rc = ft__errf(err, err_len, FT_EIO, "%s: read error", path);
            goto fail;
        }
        hash_update(&h, buf, nb * dim * sizeof(float));
        for (size_t i = 0; i < nb; i++) {
            const float *v = buf + i * dim;
            if (ft__index_check_vec(v, (int)dim)) {
                rc = ft__errf(err, err_len, FT_EFORMAT, "%s: vector %zu has a bad value", path,
                              s0 + i);
                goto fail;
            }
            ft__index_store(idx, s0 + i, idx->ids[s0 + i], v);
            idx->n = s0 + i + 1;
        }
    }
    if (hash_final(&h) != sum) {
        rc = ft__errf(err, err_len, FT_EFORMAT, "%s: checksum mismatch (corrupt file)", path);
        goto fail;
    }
    ft__free(buf);
    *out = idx;
    return FT_OK;
fail:
    ft__free(buf);
    ft_index_destroy(idx);
    return rc;
}

int ft_index_load(const char *path, ft_index **out, char *err, size_t err_len)
{
    if (out) *out = NULL;
    if (!path || !out) return ft__errf(err, err_len, FT_EINVAL, "index load: bad arguments");
    FILE *f = fopen(path, "rb");
    if (!f) return ft__errf(err, err_len, FT_EIO, "%s: %s", path, strerror(errno));
    int rc = load_body(f, path, out, err, err_len);
    fclose(f);
    return rc;
}
