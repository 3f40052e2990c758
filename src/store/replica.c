/*
** store/replica.c: a committed sighting as a message that another store can
** hold the same way (ft_replica): its id, its binary form "FTR1", the walk
** that reads replicas out of a store and their application to another one.
** Ingest nodes of a cluster publish replicas; search nodes apply them.
**
** DESIGN
**   A replica carries everything the receiving store needs and nothing of
**   the sender's row ids: the camera (id, name, km, position), the ingest's
**   identity (camera, source, start_us) and sampling, the event's descriptor
**   space and pipeline, and the sighting with its descriptors and thumbnail.
**   The receiver finds the ingest by its UNIQUE (camera_id, source,
**   start_us), creating it when missing, and keys the sighting by (ingest,
**   track_key) as ingest commits do (ON CONFLICT DO NOTHING), so applying a
**   replica twice, or the same video's replicas from two senders, stores
**   each track once. The checks and row writers are ingest.c's and
**   cameras.c's (ft__store_check_sighting, ft__store_insert_sighting,
**   ft__store_check_camera, ft__store_camera_insert): a replica is taken
**   exactly when an ingest commit would take its sighting.
**
** FORMAT "FTR1" (all integers little-endian two's complement, floats IEEE 754
**   binary32 (f32) or binary64 (f64) little-endian; strings are a u16 byte
**   count then the bytes, no NUL, none inside):
**
**     size        field
**     4           magic "FTR1" (46 54 52 31)
**     2 + n       camera id        n 1..63, printable ASCII, no blanks
**     2 + n       camera name      n 0..127
**     2 + n       source           n 1..1023
**     2 + n       space            n 1..63   (FT_STORE_SPACE_KEY)
**     2 + n       pipeline         n 0..511  (FT_STORE_PIPELINE_KEY)
**     8           km               f64
**     8           lat              f64 (finite; in range when has_latlon)
**     8           lon              f64
**     1           has_latlon       u8, 0 or 1
**     8           start_us         i64, the ingest's start
**     8           sample_fps       f64, >= 0
**     8           track_key        i64
**     8 x 3       first_us, last_us, best_us   i64, first <= best <= last
**     4 x 4       box x, y, w, h   f32 (w, h >= 0)
**     4           face_px          f32 (>= 0)
**     4           det_score        f32
**     4           quality          f32
**     4           n_frames         i32 (>= 0)
**     1           n_desc           u8, 0..FT_SIGHTING_MAX_DESC (3)
**     4 x n_desc  desc_quality     f32
**     512 x n_desc  descriptors    128 f32 each
**     4           thumbnail_len    u32, 0..FT_STORE_THUMB_MAX
**     len         thumbnail        a JPEG (FF D8 FF ...) when len > 0
**   and nothing after. 127 bytes at least (one-byte id, source and space,
**   no descriptor, no thumbnail). Every float must be finite. The sender's
**   sighting and ingest ids are not sent (a decoded replica has 0s).
**
**   The form is canonical: decode accepts only what encode writes, so for
**   every buffer decode takes, encode(decode(buf)) gives buf again byte for
**   byte (fuzz/replica.c checks it). Any change to the layout is a new
**   magic ("FTR2"); decode refuses magics it does not know.
**
** INVARIANTS  (1) decode never reads past len, and refuses (FT_EFORMAT) a
**                 short message, trailing bytes, an unknown magic, a string
**                 over its array, an embedded NUL, has_latlon other than 0
**                 or 1, and whatever check_replica refuses.
**             (2) encode and apply refuse (FT_EINVAL) what check_replica
**                 refuses, so every message encode writes, decode takes.
**             (3) apply writes in one transaction (ft__store_begin/end);
**                 every replica is checked before it opens, the space of
**                 each against the store's inside it; any error rolls back
**                 the whole batch.
**             (4) the walk raises st->walking around its callback only and
**                 resets its statement before returning (no read
**                 transaction is left open).
** OWNERSHIP   encode's buffer is the caller's (ft_store_free). A decoded
**             replica's thumbnail points into the caller's buffer; a
**             walked one's into the statement's row (valid during the
**             callback).
** THREADS     As every store call (store/store.h). encode, decode and
**             msg_id touch no store and may run on any thread.
** SEE ALSO    tests/unit/test_replica.c; fuzz/replica.c.
*/
#include "store/store.h"

#include <math.h>
#include <string.h>

#define MAGIC     "FTR1"
#define MAGIC_LEN 4

/* Bytes of the fixed fields after the five strings (km .. n_desc). */
#define FIXED_LEN (3 * 8 + 1 + 8 + 8 + 4 * 8 + 4 * 4 + 3 * 4 + 4 + 1)

/* ------------------------------------------------------------------------ */
/* Checks and id                                                            */
/* ------------------------------------------------------------------------ */

/* Re-sets st's message (left by a shared check) prefixed with "replica i: ". */
static int prefixed(ft_store *st, int rc, int i)
{
    if (st) {
        char msg[sizeof st->errmsg];
        snprintf(msg, sizeof msg, "%s", st->errmsg);
        ft__store_fail(st, rc, "replica %d: %s", i, msg);
    }
    return rc;
}

/* Whether r is a replica that apply takes, but for its space matching the
** store's: FT_OK, or FT_EINVAL with a message on st (NULL: none). */
static int check_replica(ft_store *st, const ft_replica *r, int i)
{
    int rc = ft__store_check_camera(st, &r->camera);
    if (rc != FT_OK) return prefixed(st, rc, i);
    const char *cam = r->camera.id;
    long long key = (long long)r->s.track_key;
#define BAD(...) ft__store_fail(st, FT_EINVAL, "replica %d (camera %s, track %lld): " __VA_ARGS__)
    if (!isfinite(r->camera.lat) || !isfinite(r->camera.lon))
        return BAD("latitude or longitude is not finite", i, cam, key);
    if (!r->source[0] || !memchr(r->source, 0, sizeof r->source))
        return BAD("source must be 1..%d bytes", i, cam, key, FT_STORE_SOURCE_MAX - 1);
    if (!isfinite(r->sample_fps) || r->sample_fps < 0)
        return BAD("sample rate is not a finite number >= 0", i, cam, key);
    if (!r->space[0] || !memchr(r->space, 0, sizeof r->space))
        return BAD("descriptor space must be 1..%d bytes", i, cam, key, (int)sizeof r->space - 1);
    if (!memchr(r->pipeline, 0, sizeof r->pipeline))
        return BAD("pipeline is not NUL-terminated", i, cam, key);
    if (!memchr(r->s.camera_id, 0, sizeof r->s.camera_id) ||
        (r->s.camera_id[0] && strcmp(r->s.camera_id, cam) != 0))
        return BAD("the sighting's camera is not the replica's", i, cam, key);
#undef BAD
    rc = ft__store_check_sighting(st, &r->s, i);
    /* an oversized thumbnail is a bad replica like any other here */
    if (rc != FT_OK) return prefixed(st, rc == FT_ETOOBIG ? FT_EINVAL : rc, i);
    return FT_OK;
}

/* FNV-1a, 32 bits, of the NUL-terminated s (at most n bytes). */
static uint32_t fnv1a32(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n && s[i]; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

void ft_replica_msg_id(const ft_replica *r, char out[FT_REPLICA_ID_MAX])
{
    /* at most 63 + 1 + 20 + 1 + 20 + 1 + 8 + NUL = 115 bytes */
    const char *end = memchr(r->camera.id, 0, sizeof r->camera.id);
    int id_len = end ? (int)(end - r->camera.id) : (int)sizeof r->camera.id - 1;
    snprintf(out, FT_REPLICA_ID_MAX, "%.*s/%lld/%lld/%08x", id_len, r->camera.id,
             (long long)r->start_us, (long long)r->s.track_key,
             (unsigned)fnv1a32(r->source, sizeof r->source));
}

/* ------------------------------------------------------------------------ */
/* Encode                                                                   */
/* ------------------------------------------------------------------------ */

static unsigned char *put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    return p + 2;
}

static unsigned char *put_u32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (unsigned char)(v >> (8 * k));
    return p + 4;
}

static unsigned char *put_u64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (unsigned char)(v >> (8 * k));
    return p + 8;
}

static unsigned char *put_i64(unsigned char *p, int64_t v)
{
    return put_u64(p, (uint64_t)v);
}

static unsigned char *put_f32(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return put_u32(p, u);
}

static unsigned char *put_f64(unsigned char *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return put_u64(p, u);
}

static unsigned char *put_str(unsigned char *p, const char *s)
{
    size_t n = strlen(s); /* < 1024: checked before */
    p = put_u16(p, (uint16_t)n);
    memcpy(p, s, n);
    return p + n;
}

int ft_replica_encode(const ft_replica *r, unsigned char **out, size_t *out_len)
{
    if (!out || !out_len) return FT_EINVAL;
    *out = NULL;
    *out_len = 0;
    if (!r || check_replica(NULL, r, 0) != FT_OK) return FT_EINVAL;
    const ft_sighting *s = &r->s;
    size_t len = MAGIC_LEN + 5 * 2 + strlen(r->camera.id) + strlen(r->camera.name) +
                 strlen(r->source) + strlen(r->space) + strlen(r->pipeline) + FIXED_LEN +
                 (size_t)s->n_desc * (4 + FT__DESC_BYTES) + 4 + s->thumbnail_len;
    unsigned char *buf = ft__malloc(len);
    if (!buf) return FT_ENOMEM;
    unsigned char *p = buf;
    memcpy(p, MAGIC, MAGIC_LEN);
    p += MAGIC_LEN;
    p = put_str(p, r->camera.id);
    p = put_str(p, r->camera.name);
    p = put_str(p, r->source);
    p = put_str(p, r->space);
    p = put_str(p, r->pipeline);
    p = put_f64(p, r->camera.km);
    p = put_f64(p, r->camera.lat);
    p = put_f64(p, r->camera.lon);
    *p++ = r->camera.has_latlon ? 1 : 0;
    p = put_i64(p, r->start_us);
    p = put_f64(p, r->sample_fps);
    p = put_i64(p, s->track_key);
    p = put_i64(p, s->first_us);
    p = put_i64(p, s->last_us);
    p = put_i64(p, s->best_us);
    for (int k = 0; k < 4; k++)
        p = put_f32(p, s->box[k]);
    p = put_f32(p, s->face_px);
    p = put_f32(p, s->det_score);
    p = put_f32(p, s->quality);
    p = put_u32(p, (uint32_t)s->n_frames);
    *p++ = (unsigned char)s->n_desc;
    for (int k = 0; k < s->n_desc; k++)
        p = put_f32(p, s->desc_quality[k]);
    for (int k = 0; k < s->n_desc; k++) {
        ft__store_desc_to_le(s->desc[k], p);
        p += FT__DESC_BYTES;
    }
    p = put_u32(p, (uint32_t)s->thumbnail_len);
    if (s->thumbnail_len) memcpy(p, s->thumbnail, s->thumbnail_len);
    p += s->thumbnail_len;
    FT_ASSERT((size_t)(p - buf) == len);
    *out = buf;
    *out_len = len;
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* Decode                                                                   */
/* ------------------------------------------------------------------------ */

/* A cursor over the message; once bad, every read gives 0 and stays bad. */
typedef struct reader {
    const unsigned char *p;
    size_t left;
    int bad;
} reader;

/* The next n bytes, or NULL (and bad) when fewer are left. */
static const unsigned char *take(reader *rd, size_t n)
{
    if (rd->bad || n > rd->left) {
        rd->bad = 1;
        return NULL;
    }
    const unsigned char *q = rd->p;
    rd->p += n;
    rd->left -= n;
    return q;
}

static uint32_t get_u8(reader *rd)
{
    const unsigned char *q = take(rd, 1);
    return q ? q[0] : 0;
}

static uint32_t get_u16(reader *rd)
{
    const unsigned char *q = take(rd, 2);
    return q ? (uint32_t)q[0] | (uint32_t)q[1] << 8 : 0;
}

static uint32_t get_u32(reader *rd)
{
    const unsigned char *q = take(rd, 4);
    uint32_t v = 0;
    for (int k = 0; q && k < 4; k++)
        v |= (uint32_t)q[k] << (8 * k);
    return v;
}

static uint64_t get_u64(reader *rd)
{
    const unsigned char *q = take(rd, 8);
    uint64_t v = 0;
    for (int k = 0; q && k < 8; k++)
        v |= (uint64_t)q[k] << (8 * k);
    return v;
}

static int64_t get_i64(reader *rd)
{
    uint64_t u = get_u64(rd);
    int64_t v;
    memcpy(&v, &u, 8); /* two's complement, without the implementation-defined cast */
    return v;
}

static float get_f32(reader *rd)
{
    uint32_t u = get_u32(rd);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double get_f64(reader *rd)
{
    uint64_t u = get_u64(rd);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* A string into dst (cap bytes with its NUL): bad when too long or holding
** a NUL. */
static void get_str(reader *rd, char *dst, size_t cap)
{
    size_t n = get_u16(rd);
    if (n >= cap) rd->bad = 1;
    const unsigned char *q = take(rd, n);
    if (!q) return;
    if (memchr(q, 0, n)) {
        rd->bad = 1;
        return;
    }
    memcpy(dst, q, n);
    dst[n] = 0;
}

int ft_replica_decode(const unsigned char *buf, size_t len, ft_replica *out)
{
    if (!out) return FT_EINVAL;
    memset(out, 0, sizeof *out);
    if (!buf && len) return FT_EINVAL;
    reader rd = { .p = buf, .left = len, .bad = 0 };
    const unsigned char *magic = take(&rd, MAGIC_LEN);
    if (!magic || memcmp(magic, MAGIC, MAGIC_LEN) != 0) return FT_EFORMAT;
    ft_sighting *s = &out->s;
    get_str(&rd, out->camera.id, sizeof out->camera.id);
    get_str(&rd, out->camera.name, sizeof out->camera.name);
    get_str(&rd, out->source, sizeof out->source);
    get_str(&rd, out->space, sizeof out->space);
    get_str(&rd, out->pipeline, sizeof out->pipeline);
    out->camera.km = get_f64(&rd);
    out->camera.lat = get_f64(&rd);
    out->camera.lon = get_f64(&rd);
    uint32_t has_latlon = get_u8(&rd);
    if (has_latlon > 1) rd.bad = 1;
    out->camera.has_latlon = (int)has_latlon;
    out->start_us = get_i64(&rd);
    out->sample_fps = get_f64(&rd);
    s->track_key = get_i64(&rd);
    s->first_us = get_i64(&rd);
    s->last_us = get_i64(&rd);
    s->best_us = get_i64(&rd);
    for (int k = 0; k < 4; k++)
        s->box[k] = get_f32(&rd);
    s->face_px = get_f32(&rd);
    s->det_score = get_f32(&rd);
    s->quality = get_f32(&rd);
    uint32_t n_frames = get_u32(&rd);
    if (n_frames > INT32_MAX) rd.bad = 1; /* negative */
    s->n_frames = (int)(n_frames & INT32_MAX);
    uint32_t n_desc = get_u8(&rd);
    if (n_desc > FT_SIGHTING_MAX_DESC) rd.bad = 1;
    if (rd.bad) return FT_EFORMAT;
    s->n_desc = (int)n_desc;
    for (int k = 0; k < s->n_desc; k++)
        s->desc_quality[k] = get_f32(&rd);
    for (int k = 0; k < s->n_desc; k++) {
        const unsigned char *q = take(&rd, FT__DESC_BYTES);
        if (q) ft__store_desc_from_le(q, s->desc[k]);
    }
    uint32_t thumb_len = get_u32(&rd);
    if (thumb_len > FT_STORE_THUMB_MAX) rd.bad = 1;
    const unsigned char *thumb = take(&rd, thumb_len);
    if (rd.bad || rd.left != 0) goto bad; /* short, or trailing bytes */
    s->thumbnail = thumb_len ? thumb : NULL;
    s->thumbnail_len = thumb_len;
    snprintf(s->camera_id, sizeof s->camera_id, "%s", out->camera.id);
    if (check_replica(NULL, out, 0) != FT_OK) goto bad;
    return FT_OK;
bad:
    memset(out, 0, sizeof *out);
    return FT_EFORMAT;
}

/* ------------------------------------------------------------------------ */
/* The walk                                                                 */
/* ------------------------------------------------------------------------ */

/* The row of FT__STMT_REPLICAS_AFTER into r (its space and pipeline are set
** by the caller): columns 0..15 the sighting, 16 the thumbnail, 17..19 the
** ingest, 20..23 the camera. */
static int read_replica_row(ft_store *st, sqlite3_stmt *s, ft_replica *r)
{
    ft__store_read_sighting_row(s, &r->s);
    long long id = (long long)r->s.id;
    if (sqlite3_column_type(s, 17) == SQLITE_NULL)
        return ft__store_fail(st, FT_EFORMAT, "sighting %lld: its ingest %lld is missing", id,
                              (long long)r->s.ingest_id);
    if (sqlite3_column_type(s, 21) == SQLITE_NULL)
        return ft__store_fail(st, FT_EFORMAT, "sighting %lld: its camera %s is missing", id,
                              r->s.camera_id);
    const void *jpeg = sqlite3_column_blob(s, 16);
    int n = sqlite3_column_bytes(s, 16);
    if (!jpeg && n > 0) return ft__store_fail(st, FT_ENOMEM, "out of memory reading a thumbnail");
    r->s.thumbnail = n > 0 ? jpeg : NULL;
    r->s.thumbnail_len = n > 0 ? (size_t)n : 0;
    ft__store_copy_text(r->source, sizeof r->source, s, 17);
    r->start_us = sqlite3_column_int64(s, 18);
    r->sample_fps = sqlite3_column_double(s, 19);
    memset(&r->camera, 0, sizeof r->camera);
    snprintf(r->camera.id, sizeof r->camera.id, "%s", r->s.camera_id);
    ft__store_copy_text(r->camera.name, sizeof r->camera.name, s, 20);
    r->camera.km = sqlite3_column_double(s, 21);
    r->camera.has_latlon =
        sqlite3_column_type(s, 22) != SQLITE_NULL && sqlite3_column_type(s, 23) != SQLITE_NULL;
    if (r->camera.has_latlon) {
        r->camera.lat = sqlite3_column_double(s, 22);
        r->camera.lon = sqlite3_column_double(s, 23);
    }
    return ft__store_read_descriptors(st, &r->s);
}

int ft_store_replicas_after(ft_store *st, int64_t after_id, int max, ft_store_replica_fn fn,
                            void *ctx)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_can_walk(st, (const void *)fn)) != FT_OK) return rc;
    if (max < 1) return ft__store_fail(st, FT_EINVAL, "max must be >= 1");
    ft_replica *r = ft__malloc(sizeof *r); /* 3.5 KB: off the stack */
    if (!r) return ft__store_fail(st, FT_ENOMEM, "out of memory");
    memset(r, 0, sizeof *r);
    /* the event's, the same for every replica (the legacy fallback included) */
    rc = ft_store_descriptor_space(st, r->space, sizeof r->space);
    if (rc == FT_OK) {
        rc = ft_store_meta_get(st, FT_STORE_PIPELINE_KEY, r->pipeline, sizeof r->pipeline);
        if (rc == FT_ENOTFOUND) { /* an event from before the setting */
            rc = FT_OK;
            st->errmsg[0] = 0;
        }
    }
    if (rc != FT_OK) {
        if (!st->errmsg[0]) ft__store_fail(st, rc, "reading the event's descriptor space");
        ft__free(r);
        return rc;
    }
    sqlite3_stmt *s;
    if ((rc = ft__store_stmt(st, FT__STMT_REPLICAS_AFTER, &s)) != FT_OK) {
        ft__free(r);
        return rc;
    }
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int(s, 2, max);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (!r->space[0]) {
            rc = ft__store_fail(st, FT_EINVAL,
                                "the event has no descriptor space yet (setting %s), so its "
                                "sightings cannot be replicated",
                                FT_STORE_SPACE_KEY);
            break;
        }
        if ((rc = read_replica_row(st, s, r)) != FT_OK) break;
        if (check_replica(st, r, 0) != FT_OK) {
            char msg[sizeof st->errmsg];
            snprintf(msg, sizeof msg, "%s", st->errmsg);
            rc = ft__store_fail(st, FT_EFORMAT, "sighting %lld is not a valid replica (%s)",
                                (long long)r->s.id, msg);
            break;
        }
        st->walking++;
        st->errmsg[0] = 0; /* so a message after the call is this call's */
        rc = fn(r, ctx);
        st->walking--;
        if (rc != 0) {
            ft__store_walk_stopped(st, rc);
            break;
        }
    }
    if (rc == FT_OK && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = ft__store_sqlfail(st, step, "reading sightings");
    sqlite3_reset(s);
    ft__free(r);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Apply                                                                    */
/* ------------------------------------------------------------------------ */

/* Inside the transaction: the event's space into out ("" if none): the
** setting, else FT_STORE_SPACE_LEGACY when descriptors exist (as
** ft_store_descriptor_space, which cannot run inside a transaction). */
static int store_space(ft_store *st, char *out, size_t cap)
{
    int rc = ft__store_meta_read(st, FT_STORE_SPACE_KEY, out, cap);
    if (rc != FT_ENOTFOUND) return rc;
    st->errmsg[0] = 0;
    sqlite3_stmt *s;
    if ((rc = ft__store_stmt(st, FT__STMT_DESCRIPTORS_ANY, &s)) != FT_OK) return rc;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW && sqlite3_column_int(s, 0))
        snprintf(out, cap, "%s", FT_STORE_SPACE_LEGACY);
    sqlite3_reset(s);
    return r == SQLITE_ROW ? FT_OK : ft__store_sqlfail(st, r, "looking for descriptors");
}

/* The id of ingest (camera, source, start_us), created 'running' when
** missing. */
static int find_or_add_ingest(ft_store *st, const ft_replica *x, int64_t *id)
{
    sqlite3_stmt *s;
    int rc = ft__store_stmt(st, FT__STMT_INGEST_FIND, &s);
    if (rc != FT_OK) return rc;
    sqlite3_bind_text(s, 1, x->camera.id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, x->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, x->start_us);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (r == SQLITE_ROW) return FT_OK;
    if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "looking for an ingest");
    return ft__store_ingest_insert(st, x->camera.id, x->source, x->start_us, x->sample_fps, id);
}

static int apply_locked(ft_store *st, const ft_replica *r, int n, int *count)
{
    char space[sizeof r->space];
    int rc = store_space(st, space, sizeof space);
    if (rc == FT_ETOOBIG) {
        /* longer than any replica's: none can match */
        return ft__store_fail(st, FT_EINVAL,
                              "the event's descriptor space is not that of the replicas");
    }
    if (rc != FT_OK) return rc;
    for (int i = 0; i < n; i++) {
        const ft_replica *x = &r[i];
        if (!space[0]) { /* the first replica of a new event names its space */
            if ((rc = ft__store_meta_write(st, FT_STORE_SPACE_KEY, x->space)) != FT_OK ||
                (rc = ft__store_meta_write(st, FT_STORE_PIPELINE_KEY, x->pipeline)) != FT_OK)
                return rc;
            snprintf(space, sizeof space, "%s", x->space);
        } else if (strcmp(space, x->space) != 0) {
            return ft__store_fail(st, FT_EINVAL,
                                  "replica %d (camera %s, track %lld): descriptors of kind %s, "
                                  "but this event's are %s (one event keeps one kind)",
                                  i, x->camera.id, (long long)x->s.track_key, x->space, space);
        }
        int added;
        if ((rc = ft__store_camera_insert(st, &x->camera, &added)) != FT_OK) return rc;
        int64_t ingest_id = 0;
        if ((rc = find_or_add_ingest(st, x, &ingest_id)) != FT_OK) return rc;
        if ((rc = ft__store_insert_sighting(st, ingest_id, x->camera.id, &x->s, &added)) != FT_OK)
            return rc;
        *count += added;
    }
    if (ft__store_test_hook && (rc = ft__store_test_hook("replica:inserted")) != FT_OK)
        return ft__store_fail(st, rc, "test hook failed the replicas");
    return FT_OK;
}

int ft_store_replica_apply(ft_store *st, const ft_replica *r, int n, int *n_new)
{
    if (n_new) *n_new = 0;
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_writable(st)) != FT_OK) return rc;
    if (n < 0 || (n > 0 && !r))
        return ft__store_fail(st, FT_EINVAL, "bad replica array (%d replicas)", n);
    for (int i = 0; i < n; i++)
        if ((rc = check_replica(st, &r[i], i)) != FT_OK) return rc;
    if (n == 0) return FT_OK;
    int count = 0;
    if ((rc = ft__store_begin(st, "applying replicas")) != FT_OK) return rc;
    rc = apply_locked(st, r, n, &count);
    rc = ft__store_end(st, rc, "applying replicas");
    if (rc == FT_OK && n_new) *n_new = count;
    return rc;
}
