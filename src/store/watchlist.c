/*
** store/watchlist.c: the watchlist, people to raise an alert for (schema
** v4: tables watchlist and watch_dismissed).
**
** An entry keeps its descriptors (not the photos) as one BLOB of n x 512
** bytes, float32 little-endian like descriptors.vec. Dismissals are rows of
** watch_dismissed, removed with their entry (ON DELETE CASCADE, and by hand
** for a connection without foreign keys).
** OWNERSHIP  Lists are the caller's (ft_store_free).
*/
#include "store/store.h"

#include <math.h>
#include <string.h>

/* Prepares sql on st's connection; FT_OK or a store error. */
static int prepare(ft_store *st, const char *sql, sqlite3_stmt **s, const char *what)
{
    int r = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);
    return r == SQLITE_OK ? FT_OK : ft__store_sqlfail(st, r, what);
}

/* Runs one statement with one or two int64 parameters; *changes gets the
** rows changed. */
static int exec2(ft_store *st, const char *sql, int64_t a, int64_t b, int nb, int *changes,
                 const char *what)
{
    sqlite3_stmt *s;
    int rc = prepare(st, sql, &s, what);
    if (rc != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, a);
    if (nb > 1) sqlite3_bind_int64(s, 2, b);
    int r = sqlite3_step(s);
    if (r != SQLITE_DONE) rc = ft__store_sqlfail(st, r, what);
    if (changes) *changes = sqlite3_changes(st->db);
    sqlite3_finalize(s);
    return rc;
}

/* FT_OK, or FT_EINVAL with a message for an entry the table must not hold. */
static int check_entry(ft_store *st, const ft_watch *w)
{
    if (!w || !w->name[0] || !memchr(w->name, 0, sizeof w->name) ||
        !memchr(w->reason, 0, sizeof w->reason) || !memchr(w->webhook, 0, sizeof w->webhook) ||
        w->n_desc < 1 || w->n_desc > FT_WATCH_MAX_DESC || w->expires_us < 0)
        return ft__store_fail(st, FT_EINVAL,
                              "a watchlist entry needs a name and 1 to %d descriptors",
                              FT_WATCH_MAX_DESC);
    for (int i = 0; i < w->n_desc; i++)
        for (int k = 0; k < FT_DESCRIPTOR_DIM; k++)
            if (!isfinite(w->desc[i][k]))
                return ft__store_fail(st, FT_EINVAL, "a watchlist descriptor is not finite");
    return FT_OK;
}

int ft_store_watch_put(ft_store *st, const ft_watch *w)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_writable(st)) != FT_OK) return rc;
    if ((rc = check_entry(st, w)) != FT_OK) return rc;
    if (w->id < 1 || w->created_us < 0)
        return ft__store_fail(st, FT_EINVAL, "a watchlist entry put needs its id (>= 1)");
    unsigned char blob[FT_WATCH_MAX_DESC * FT__DESC_BYTES];
    for (int i = 0; i < w->n_desc; i++)
        ft__store_desc_to_le(w->desc[i], blob + (size_t)i * FT__DESC_BYTES);
    if ((rc = ft__store_begin(st, "putting a watchlist entry")) != FT_OK) return rc;
    sqlite3_stmt *s;
    /* an upsert, not INSERT OR REPLACE: the entry's dismissals stay */
    rc = prepare(st,
                 "INSERT INTO watchlist(id, name, reason, created_us, expires_us, webhook, "
                 "descriptors) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO UPDATE SET "
                 "name = excluded.name, reason = excluded.reason, created_us = "
                 "excluded.created_us, expires_us = excluded.expires_us, webhook = "
                 "excluded.webhook, descriptors = excluded.descriptors",
                 &s, "putting a watchlist entry");
    if (rc == FT_OK) {
        sqlite3_bind_int64(s, 1, w->id);
        sqlite3_bind_text(s, 2, w->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, w->reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, w->created_us);
        sqlite3_bind_int64(s, 5, w->expires_us);
        sqlite3_bind_text(s, 6, w->webhook, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 7, blob, w->n_desc * FT__DESC_BYTES, SQLITE_STATIC);
        int r = sqlite3_step(s);
        if (r != SQLITE_DONE) rc = ft__store_sqlfail(st, r, "putting a watchlist entry");
        sqlite3_finalize(s);
    }
    if (rc == FT_OK) /* a later ft_store_watch_add never takes this id */
        rc = exec2(st,
                   "INSERT INTO meta(key, value) VALUES ('watch_last_id', CAST(?1 AS TEXT)) ON "
                   "CONFLICT(key) DO UPDATE SET value = CAST(max(CAST(value AS INTEGER), ?1) AS "
                   "TEXT)",
                   w->id, 0, 1, NULL, "putting a watchlist entry");
    return ft__store_end(st, rc, "putting a watchlist entry");
}

int ft_store_watch_add(ft_store *st, ft_watch *w)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_writable(st)) != FT_OK) return rc;
    if ((rc = check_entry(st, w)) != FT_OK) return rc;
    unsigned char blob[FT_WATCH_MAX_DESC * FT__DESC_BYTES];
    for (int i = 0; i < w->n_desc; i++)
        ft__store_desc_to_le(w->desc[i], blob + (size_t)i * FT__DESC_BYTES);
    w->created_us = ft__store_now_us();
    if ((rc = ft__store_begin(st, "adding to the watchlist")) != FT_OK) return rc;
    sqlite3_stmt *s;
    rc = prepare(st,
                 /* ids are never reused: an alert or a client naming a
                    removed entry must not find another (meta watch_last_id) */
                 "INSERT INTO watchlist(id, name, reason, created_us, expires_us, webhook, "
                 "descriptors) VALUES (1 + max(coalesce((SELECT max(id) FROM watchlist), 0), "
                 "coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = "
                 "'watch_last_id'), 0)), ?1, ?2, ?3, ?4, ?5, ?6)",
                 &s, "adding to the watchlist");
    if (rc == FT_OK) {
        sqlite3_bind_text(s, 1, w->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, w->reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, w->created_us);
        sqlite3_bind_int64(s, 4, w->expires_us);
        sqlite3_bind_text(s, 5, w->webhook, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 6, blob, w->n_desc * FT__DESC_BYTES, SQLITE_STATIC);
        int r = sqlite3_step(s);
        if (r != SQLITE_DONE)
            rc = ft__store_sqlfail(st, r, "adding to the watchlist");
        else
            w->id = sqlite3_last_insert_rowid(st->db);
        sqlite3_finalize(s);
    }
    if (rc == FT_OK) {
        rc = prepare(st,
                     "INSERT OR REPLACE INTO meta(key, value) VALUES ('watch_last_id', "
                     "CAST(?1 AS TEXT))",
                     &s, "adding to the watchlist");
        if (rc == FT_OK) {
            sqlite3_bind_int64(s, 1, w->id);
            int r = sqlite3_step(s);
            if (r != SQLITE_DONE) rc = ft__store_sqlfail(st, r, "adding to the watchlist");
            sqlite3_finalize(s);
        }
    }
    return ft__store_end(st, rc, "adding to the watchlist");
}

int ft_store_watch_list(ft_store *st, int64_t now_us, ft_watch **out, int *n)
{
    *out = NULL;
    *n = 0;
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    sqlite3_stmt *s;
    rc = prepare(st,
                 "SELECT id, name, reason, created_us, expires_us, webhook, descriptors "
                 "FROM watchlist WHERE ?1 <= 0 OR expires_us = 0 OR expires_us > ?1 ORDER BY id",
                 &s, "reading the watchlist");
    if (rc != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, now_us);
    ft_watch *v = NULL;
    int cap = 0, k = 0, r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (k == cap) {
            int nc = cap ? 2 * cap : 8;
            ft_watch *g = ft__realloc(v, (size_t)nc * sizeof *g);
            if (!g) {
                rc = ft__store_fail(st, FT_ENOMEM, "out of memory");
                break;
            }
            v = g, cap = nc;
        }
        ft_watch *w = &v[k];
        memset(w, 0, sizeof *w);
        w->id = sqlite3_column_int64(s, 0);
        ft__store_copy_text(w->name, sizeof w->name, s, 1);
        ft__store_copy_text(w->reason, sizeof w->reason, s, 2);
        w->created_us = sqlite3_column_int64(s, 3);
        w->expires_us = sqlite3_column_int64(s, 4);
        ft__store_copy_text(w->webhook, sizeof w->webhook, s, 5);
        const unsigned char *b = sqlite3_column_blob(s, 6);
        int bytes = sqlite3_column_bytes(s, 6);
        if (!b || bytes % FT__DESC_BYTES || bytes < FT__DESC_BYTES ||
            bytes > FT_WATCH_MAX_DESC * FT__DESC_BYTES) {
            rc = ft__store_fail(st, FT_EFORMAT, "watchlist entry %lld: damaged descriptors",
                                (long long)w->id);
            break;
        }
        w->n_desc = bytes / FT__DESC_BYTES;
        for (int i = 0; i < w->n_desc; i++)
            ft__store_desc_from_le(b + (size_t)i * FT__DESC_BYTES, w->desc[i]);
        k++;
    }
    if (rc == FT_OK && r != SQLITE_DONE) rc = ft__store_sqlfail(st, r, "reading the watchlist");
    sqlite3_finalize(s);
    if (rc != FT_OK) {
        ft__free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return FT_OK;
}

int ft_store_watch_remove(ft_store *st, int64_t id)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_writable(st)) != FT_OK) return rc;
    if ((rc = ft__store_begin(st, "removing from the watchlist")) != FT_OK) return rc;
    int changed = 0;
    rc = exec2(st, "DELETE FROM watch_dismissed WHERE watch_id = ?1", id, 0, 1, NULL,
               "removing from the watchlist");
    if (rc == FT_OK)
        rc = exec2(st, "DELETE FROM watchlist WHERE id = ?1", id, 0, 1, &changed,
                   "removing from the watchlist");
    if (rc == FT_OK && !changed)
        rc = ft__store_fail(st, FT_ENOTFOUND, "no watchlist entry %lld", (long long)id);
    return ft__store_end(st, rc, "removing from the watchlist");
}

int ft_store_watch_dismiss(ft_store *st, int64_t id, int64_t sighting_id)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_writable(st)) != FT_OK) return rc;
    if ((rc = ft__store_begin(st, "dismissing a sighting")) != FT_OK) return rc;
    int changed = 0;
    rc = exec2(st,
               "INSERT OR IGNORE INTO watch_dismissed(watch_id, sighting_id) "
               "SELECT id, ?2 FROM watchlist WHERE id = ?1",
               id, sighting_id, 2, &changed, "dismissing a sighting");
    if (rc == FT_OK && !changed) { /* already dismissed, or no such entry */
        rc = exec2(st, "UPDATE watchlist SET id = id WHERE id = ?1", id, 0, 1, &changed,
                   "dismissing a sighting");
        if (rc == FT_OK && !changed)
            rc = ft__store_fail(st, FT_ENOTFOUND, "no watchlist entry %lld", (long long)id);
    }
    return ft__store_end(st, rc, "dismissing a sighting");
}

int ft_store_watch_dismissed(ft_store *st, int64_t id, int64_t sighting_id)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    sqlite3_stmt *s;
    if ((rc = prepare(st,
                      "SELECT count(*) FROM watch_dismissed WHERE watch_id = ?1 AND "
                      "sighting_id = ?2",
                      &s, "reading dismissals")) != FT_OK)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, sighting_id);
    int r = sqlite3_step(s);
    rc =
        r == SQLITE_ROW ? (sqlite3_column_int64(s, 0) > 0) : ft__store_sqlfail(st, r, "dismissals");
    sqlite3_finalize(s);
    return rc;
}
