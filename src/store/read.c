/*
** store/read.c: reading sightings back: one by id, by time range, and the
** walk over every descriptor that loads the in-memory index at start-up.
**
** DESIGN
**   The descriptor walk is one prepared statement scanning the descriptors
**   table in rowid order (no ORDER BY, so no sort and no index lookups); each
**   512-byte blob is converted into a local, aligned float[128] before the
**   callback sees it (a blob pointer has no alignment guarantee).
**   A sighting is read with its descriptors while the sighting statement is
**   still positioned on its row, so the three reads share one read snapshot
**   (a connection keeps its read transaction while any statement is active).
**   Thumbnail bytes are only read when asked for: the sighting row carries
**   length(jpeg), which SQLite computes without loading the blob.
**
** INVARIANTS  (1) a stored vector of any size other than 512 bytes is
**                 FT_EFORMAT, never a short or long read.
**             (2) st->walking is raised exactly around callbacks and always
**                 lowered again, whatever the callback returns.
**             (3) a sighting handed out has n_desc <= FT_SIGHTING_MAX_DESC and
**                 a NUL-terminated camera_id whatever the file holds.
** OWNERSHIP   ft_store_sighting_get's *thumb is the caller's (ft_store_free).
*/
#include "store/store.h"

#include <stddef.h>
#include <string.h>

/* Columns of SIGHTING_COLUMNS (store.c) into out; descriptors not yet. */
void ft__store_read_sighting_row(sqlite3_stmt *s, ft_sighting *out)
{
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(s, 0);
    out->ingest_id = sqlite3_column_int64(s, 1);
    ft__store_copy_text(out->camera_id, sizeof out->camera_id, s, 2);
    out->track_key = sqlite3_column_int64(s, 3);
    out->first_us = sqlite3_column_int64(s, 4);
    out->last_us = sqlite3_column_int64(s, 5);
    out->best_us = sqlite3_column_int64(s, 6);
    for (int k = 0; k < 4; k++)
        out->box[k] = (float)sqlite3_column_double(s, 7 + k);
    out->face_px = (float)sqlite3_column_double(s, 11);
    out->det_score = (float)sqlite3_column_double(s, 12);
    out->quality = (float)sqlite3_column_double(s, 13);
    out->n_frames = sqlite3_column_int(s, 14);
    int64_t tl = sqlite3_column_int64(s, 15);
    out->thumbnail_len = tl > 0 ? (size_t)tl : 0;
}

int ft__store_read_descriptors(ft_store *st, ft_sighting *out)
{
    sqlite3_stmt *s;
    int rc = ft__store_stmt(st, FT__STMT_SIGHTING_DESCRIPTORS, &s);
    if (rc != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, out->id);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        int n = sqlite3_column_int(s, 0);
        const void *vec = sqlite3_column_blob(s, 2);
        int bytes = sqlite3_column_bytes(s, 2);
        if (out->n_desc >= FT_SIGHTING_MAX_DESC || n != out->n_desc) {
            rc = ft__store_fail(st, FT_EFORMAT, "sighting %lld: descriptor numbers are not 0..%d",
                                (long long)out->id, FT_SIGHTING_MAX_DESC - 1);
            break;
        }
        if (bytes != FT__DESC_BYTES || !vec) {
            rc = ft__store_fail(st, FT_EFORMAT, "sighting %lld: descriptor %d has %d bytes, not %d",
                                (long long)out->id, n, bytes, FT__DESC_BYTES);
            break;
        }
        ft__store_desc_from_le(vec, out->desc[out->n_desc]);
        out->desc_quality[out->n_desc] = (float)sqlite3_column_double(s, 1);
        out->n_desc++;
    }
    if (rc == FT_OK && r != SQLITE_DONE) rc = ft__store_sqlfail(st, r, "reading descriptors");
    sqlite3_reset(s);
    return rc;
}

static int read_thumbnail(ft_store *st, int64_t id, unsigned char **thumb, size_t *len)
{
    *thumb = NULL;
    *len = 0;
    sqlite3_stmt *s;
    int rc = ft__store_stmt(st, FT__STMT_SIGHTING_THUMBNAIL, &s);
    if (rc != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(s, 0);
        int n = sqlite3_column_bytes(s, 0);
        if (p && n > 0) {
            unsigned char *copy = ft__malloc((size_t)n);
            if (!copy) {
                rc = ft__store_fail(st, FT_ENOMEM, "out of memory reading a thumbnail");
            } else {
                memcpy(copy, p, (size_t)n);
                *thumb = copy;
                *len = (size_t)n;
            }
        } else if (!p && n > 0) {
            rc = ft__store_fail(st, FT_ENOMEM, "out of memory reading a thumbnail");
        }
    } else if (r != SQLITE_DONE) {
        rc = ft__store_sqlfail(st, r, "reading a thumbnail");
    }
    sqlite3_reset(s);
    return rc;
}

int ft_store_sighting_get(ft_store *st, int64_t id, ft_sighting *out, unsigned char **thumb)
{
    if (thumb) *thumb = NULL;
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if (!out) return ft__store_fail(st, FT_EINVAL, "no output given");
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    if ((rc = ft__store_stmt(st, FT__STMT_SIGHTING_GET, &s)) != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, id);
    int r = sqlite3_step(s); /* stays on the row: one snapshot for the reads below */
    if (r == SQLITE_ROW) {
        ft__store_read_sighting_row(s, out);
        rc = ft__store_read_descriptors(st, out);
        if (rc == FT_OK && thumb && out->thumbnail_len > 0) {
            size_t len;
            rc = read_thumbnail(st, id, thumb, &len);
            out->thumbnail = *thumb;
            out->thumbnail_len = len;
        }
    } else if (r == SQLITE_DONE) {
        rc = ft__store_fail(st, FT_ENOTFOUND, "no sighting %lld", (long long)id);
    } else {
        rc = ft__store_sqlfail(st, r, "reading a sighting");
    }
    sqlite3_reset(s);
    if (rc != FT_OK) {
        if (thumb) {
            ft__free(*thumb);
            *thumb = NULL;
        }
        memset(out, 0, sizeof *out);
    }
    return rc;
}

/* Refuses a walk inside a walk (they share the cached statements). */
int ft__store_can_walk(ft_store *st, const void *fn)
{
    if (!fn) return ft__store_fail(st, FT_EINVAL, "no callback given");
    if (st->walking) return ft__store_fail(st, FT_EINVAL, "a walk cannot start inside a walk");
    return FT_OK;
}

/* A callback returned rc != 0: say so, unless a store call inside it left a
** message (the message was cleared before the callback ran). */
void ft__store_walk_stopped(ft_store *st, int rc)
{
    if (!st->errmsg[0]) ft__store_fail(st, rc, "walk stopped by its callback (%d)", rc);
}

/* How walk() reads a row. */
enum walk_kind { WALK_FULL, WALK_BRIEF };

/* Runs the bound statement s and calls fn with each row as a sighting: a
** full row with its descriptors (SIGHTING_COLUMNS), or a brief one (id,
** ingest_id, camera_id, track_key, first_us, last_us, best_us). Resets s. */
static int walk(ft_store *st, sqlite3_stmt *s, enum walk_kind kind, ft_store_sighting_fn fn,
                void *ctx)
{
    ft_sighting *one = ft__malloc(sizeof *one); /* 1.6 KB: off the stack */
    if (!one) {
        sqlite3_reset(s);
        return ft__store_fail(st, FT_ENOMEM, "out of memory");
    }
    int r, rc = FT_OK;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (kind == WALK_FULL) {
            ft__store_read_sighting_row(s, one);
            if ((rc = ft__store_read_descriptors(st, one)) != FT_OK) break;
        } else {
            memset(one, 0, offsetof(ft_sighting, desc));
            one->id = sqlite3_column_int64(s, 0);
            one->ingest_id = sqlite3_column_int64(s, 1);
            ft__store_copy_text(one->camera_id, sizeof one->camera_id, s, 2);
            one->track_key = sqlite3_column_int64(s, 3);
            one->first_us = sqlite3_column_int64(s, 4);
            one->last_us = sqlite3_column_int64(s, 5);
            one->best_us = sqlite3_column_int64(s, 6);
        }
        st->walking++;
        st->errmsg[0] = 0; /* so a message after the call is this call's */
        rc = fn(one, ctx);
        st->walking--;
        if (rc != 0) {
            ft__store_walk_stopped(st, rc);
            break;
        }
    }
    if (rc == FT_OK && r != SQLITE_DONE && r != SQLITE_ROW)
        rc = ft__store_sqlfail(st, r, "reading sightings");
    sqlite3_reset(s);
    ft__free(one);
    return rc;
}

int ft_store_sightings_between(ft_store *st, int64_t from_us, int64_t to_us, const char *camera_id,
                               ft_store_sighting_fn fn, void *ctx)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_can_walk(st, (const void *)fn)) != FT_OK) return rc;
    if (from_us > to_us)
        return ft__store_fail(st, FT_EINVAL, "time range [%lld, %lld) is reversed",
                              (long long)from_us, (long long)to_us);
    if (camera_id && !ft__store_valid_camera_id(camera_id))
        return ft__store_fail(st, FT_EINVAL, "bad camera id");
    sqlite3_stmt *s;
    rc = ft__store_stmt(st, camera_id ? FT__STMT_BETWEEN_CAMERA : FT__STMT_BETWEEN_ALL, &s);
    if (rc != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, from_us);
    sqlite3_bind_int64(s, 2, to_us);
    if (camera_id) sqlite3_bind_text(s, 3, camera_id, -1, SQLITE_STATIC);
    return walk(st, s, WALK_FULL, fn, ctx);
}

int ft_store_sightings_after(ft_store *st, int64_t after_id, int max, ft_store_sighting_fn fn,
                             void *ctx)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_can_walk(st, (const void *)fn)) != FT_OK) return rc;
    if (max < 1) return ft__store_fail(st, FT_EINVAL, "max must be >= 1");
    sqlite3_stmt *s;
    if ((rc = ft__store_stmt(st, FT__STMT_SIGHTINGS_AFTER, &s)) != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int(s, 2, max);
    return walk(st, s, WALK_FULL, fn, ctx);
}

int ft_store_sightings_brief(ft_store *st, ft_store_sighting_fn fn, void *ctx)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_can_walk(st, (const void *)fn)) != FT_OK) return rc;
    sqlite3_stmt *s;
    if ((rc = ft__store_stmt(st, FT__STMT_SIGHTINGS_BRIEF, &s)) != FT_OK) return rc;
    return walk(st, s, WALK_BRIEF, fn, ctx);
}

int ft_store_foreach_descriptor(ft_store *st, ft_store_descriptor_fn fn, void *ctx)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_can_walk(st, (const void *)fn)) != FT_OK) return rc;
    sqlite3_stmt *s;
    if ((rc = ft__store_stmt(st, FT__STMT_DESCRIPTORS_ALL, &s)) != FT_OK) return rc;
    float vec[FT_DESCRIPTOR_DIM];
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t sid = sqlite3_column_int64(s, 0);
        int n = sqlite3_column_int(s, 1);
        const void *p = sqlite3_column_blob(s, 2);
        int bytes = sqlite3_column_bytes(s, 2);
        if (bytes != FT__DESC_BYTES || !p) {
            rc = ft__store_fail(st, FT_EFORMAT, "sighting %lld: descriptor %d has %d bytes, not %d",
                                (long long)sid, n, bytes, FT__DESC_BYTES);
            break;
        }
        ft__store_desc_from_le(p, vec);
        st->walking++;
        st->errmsg[0] = 0; /* so a message after the call is this call's */
        rc = fn(sid, n, vec, ctx);
        st->walking--;
        if (rc != 0) {
            ft__store_walk_stopped(st, rc);
            break;
        }
    }
    if (rc == FT_OK && r != SQLITE_DONE && r != SQLITE_ROW)
        rc = ft__store_sqlfail(st, r, "reading descriptors");
    sqlite3_reset(s);
    return rc;
}
