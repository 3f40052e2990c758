/*
** store/purge.c: retention: removing the event's personal data (sightings,
** their descriptors and thumbnails, watchlist entries) from before a time,
** so that none of its bytes stays in the database file; and when that is
** due after the event.
**
** DESIGN
**   Deleting rows is not enough: SQLite leaves a deleted record's bytes in
**   the page (free space, freelist pages) and, in WAL mode, old images of
**   the pages in the -wal file until a checkpoint overwrites them and the
**   WAL is reset. ft_store_purge therefore runs:
**     1. PRAGMA secure_delete = ON (this connection): freed cell space and
**        freed pages are overwritten with zeros as rows go;
**     2. one write transaction: descriptors, thumbnails, dismissals, then
**        sightings; dismissals and watchlist entries; saved live tracks.
**        Children are deleted by hand (not left to ON DELETE CASCADE) so
**        that sqlite3_changes counts them;
**     3. wal_checkpoint(TRUNCATE): every page, now zeroed where the rows
**        were, is copied into the main file and the -wal cut to 0 bytes;
**     4. VACUUM: the file is rebuilt from the live rows only (through a
**        temporary database holding nothing purged), so no freelist page
**        or slack keeps an old byte, and the file shrinks;
**     5. wal_checkpoint(TRUNCATE) again: VACUUM's pages reach the main
**        file, which is cut to its new size, and the -wal is emptied;
**     6. secure_delete back to what it was.
**   Steps 3 and 5 need every reader of the file to be off old snapshots: a
**   checkpoint never overwrites a page that an open read transaction may
**   still read. They wait (the busy handler, FT__BUSY_MS) and otherwise
**   fail FT_EIO with a message naming the cause, not hang. Step 2 is
**   committed by then; running the purge again reclaims the space.
**
**   Counts are taken with the rows' deletion (step 2); the bytes are
**   PRAGMA page_count x page_size before step 2 and after step 5.
**
** INVARIANTS  (1) the audit table is never touched (its triggers would
**                 refuse it anyway).
**             (2) on return no transaction is open and secure_delete is as
**                 it was.
*/
#include "store/store.h"

#include <string.h>

/* One integer from a one-row query with an optional int64 parameter. */
static int query1(ft_store *st, const char *sql, int nparam, int64_t p, int64_t *v,
                  const char *what)
{
    sqlite3_stmt *s;
    *v = 0;
    int r = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (r != SQLITE_OK) return ft__store_sqlfail(st, r, what);
    if (nparam) sqlite3_bind_int64(s, 1, p);
    r = sqlite3_step(s);
    int rc = FT_OK;
    if (r == SQLITE_ROW)
        *v = sqlite3_column_int64(s, 0);
    else if (r != SQLITE_DONE)
        rc = ft__store_sqlfail(st, r, what);
    sqlite3_finalize(s);
    return rc;
}

/* Runs sql with ?1 = p; *changes (if given) gets the rows it changed. */
static int exec1(ft_store *st, const char *sql, int64_t p, int64_t *changes, const char *what)
{
    sqlite3_stmt *s;
    int r = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (r != SQLITE_OK) return ft__store_sqlfail(st, r, what);
    sqlite3_bind_int64(s, 1, p);
    r = sqlite3_step(s);
    int rc = r == SQLITE_DONE ? FT_OK : ft__store_sqlfail(st, r, what);
    if (changes) *changes = rc == FT_OK ? sqlite3_changes(st->db) : 0;
    sqlite3_finalize(s);
    return rc;
}

static int db_bytes(ft_store *st, int64_t *bytes, const char *what)
{
    int64_t pages, size;
    int rc = query1(st, "PRAGMA page_count", 0, 0, &pages, what);
    if (rc == FT_OK) rc = query1(st, "PRAGMA page_size", 0, 0, &size, what);
    *bytes = rc == FT_OK ? pages * size : 0;
    return rc;
}

/* The rows a purge before ?1 removes (the WHERE clauses of both). */
#define OLD_SIGHTINGS "(SELECT id FROM sightings WHERE last_us < ?1)"
#define OLD_WATCH \
    "(SELECT id FROM watchlist WHERE created_us < ?1 OR (expires_us > 0 AND expires_us < ?1))"
#define OLD_RESUME_STATES                                                                         \
    "resume_state IS NOT NULL AND (status <> 'running' OR start_us + coalesce(checkpoint_us, 0) " \
    "< ?1)"

/* What the purge removes: sightings, descriptors, thumbnails, watchlist
** entries, dismissals, resume states (in ft_purge_report's order). */
static const char *const count_sql[6] = {
    "SELECT count(*) FROM sightings WHERE last_us < ?1",
    "SELECT count(*) FROM descriptors WHERE sighting_id IN " OLD_SIGHTINGS,
    "SELECT count(*) FROM thumbnails WHERE sighting_id IN " OLD_SIGHTINGS,
    "SELECT count(*) FROM watchlist WHERE id IN " OLD_WATCH,
    "SELECT count(*) FROM watch_dismissed WHERE watch_id IN " OLD_WATCH
    " OR sighting_id IN " OLD_SIGHTINGS,
    "SELECT count(*) FROM ingests WHERE " OLD_RESUME_STATES,
};

int ft_store_purge_preview(ft_store *st, int64_t before_us, ft_purge_report *out)
{
    static const char what[] = "counting what a purge removes";
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if (!out) return ft__store_fail(st, FT_EINVAL, "no report for the purge");
    memset(out, 0, sizeof *out);
    if (st->version < 4)
        return ft__store_fail(st, FT_EINVAL, "schema version %d: upgrade the database first",
                              st->version);
    int64_t *dst[6] = { &out->sightings,     &out->descriptors, &out->thumbnails,
                        &out->watch_entries, &out->dismissals,  &out->resume_states };
    rc = sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? FT_OK : FT_EIO;
    if (rc != FT_OK) return ft__store_sqlfail(st, sqlite3_errcode(st->db), what);
    rc = db_bytes(st, &out->bytes_before, what);
    for (int i = 0; rc == FT_OK && i < 6; i++)
        rc = query1(st, count_sql[i], 1, before_us, dst[i], what);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL); /* a read: nothing to lose */
    return rc;
}

/* Step 3 and 5: checkpoint and truncate the WAL, or FT_EIO naming readers. */
static int checkpoint(ft_store *st, const char *when)
{
    int log = 0, done = 0;
    int r = sqlite3_wal_checkpoint_v2(st->db, "main", SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    if (r == SQLITE_OK) return FT_OK;
    if ((r & 0xff) == SQLITE_BUSY || (r & 0xff) == SQLITE_LOCKED)
        return ft__store_fail(st, FT_EIO,
                              "purge: the rows are deleted, but %s could not finish (%d of %d "
                              "WAL frames copied): another connection to the database is in a "
                              "read or write transaction (a server answering a search, an "
                              "ingest) and kept it for over %d ms; the removed bytes may remain "
                              "in the file until the purge is run again with no other reader",
                              when, done, log, FT__BUSY_MS);
    return ft__store_sqlfail(st, r, when);
}

int ft_store_purge(ft_store *st, int64_t before_us, ft_purge_report *out)
{
    static const char what[] = "purging";
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_writable(st)) != FT_OK) return rc;
    if (!out) return ft__store_fail(st, FT_EINVAL, "no report for the purge");
    memset(out, 0, sizeof *out);
    int64_t was_secure = 0, on = 0;
    if ((rc = query1(st, "PRAGMA secure_delete", 0, 0, &was_secure, what)) != FT_OK) return rc;
    if ((rc = query1(st, "PRAGMA secure_delete = ON", 0, 0, &on, what)) != FT_OK) return rc;

    rc = ft__store_begin(st, what);
    if (rc == FT_OK) rc = db_bytes(st, &out->bytes_before, what);
    if (rc == FT_OK)
        rc = exec1(st, "DELETE FROM descriptors WHERE sighting_id IN " OLD_SIGHTINGS, before_us,
                   &out->descriptors, what);
    if (rc == FT_OK)
        rc = exec1(st, "DELETE FROM thumbnails WHERE sighting_id IN " OLD_SIGHTINGS, before_us,
                   &out->thumbnails, what);
    int64_t n = 0;
    if (rc == FT_OK)
        rc = exec1(st,
                   "DELETE FROM watch_dismissed WHERE watch_id IN " OLD_WATCH
                   " OR sighting_id IN " OLD_SIGHTINGS,
                   before_us, &n, what);
    out->dismissals = n;
    if (rc == FT_OK)
        rc =
            exec1(st, "DELETE FROM sightings WHERE last_us < ?1", before_us, &out->sightings, what);
    if (rc == FT_OK)
        rc = exec1(st, "DELETE FROM watchlist WHERE id IN " OLD_WATCH, before_us,
                   &out->watch_entries, what);
    if (rc == FT_OK)
        rc = exec1(st, "UPDATE ingests SET resume_state = NULL WHERE " OLD_RESUME_STATES, before_us,
                   &out->resume_states, what);
    rc = ft__store_end(st, rc, what);
    if (rc != FT_OK) {
        int64_t b = out->bytes_before;
        memset(out, 0, sizeof *out);
        out->bytes_before = b;
    }
    if (rc == FT_OK) rc = checkpoint(st, "the first WAL checkpoint");
    if (rc == FT_OK && sqlite3_exec(st->db, "VACUUM", NULL, NULL, NULL) != SQLITE_OK)
        rc = ft__store_sqlfail(st, sqlite3_extended_errcode(st->db), "purge: VACUUM");
    if (rc == FT_OK) rc = checkpoint(st, "the WAL checkpoint after VACUUM");
    if (rc == FT_OK) rc = db_bytes(st, &out->bytes_after, what);
    if (!was_secure) sqlite3_exec(st->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
    return rc;
}

int ft_store_purge_due(ft_store *st, int keep_days, int64_t now_us, int64_t *before_us,
                       int64_t *due_us, int64_t *end_us)
{
    static const char what[] = "finding the event's end";
    if (before_us) *before_us = 0;
    if (due_us) *due_us = 0;
    if (end_us) *end_us = 0;
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if (keep_days < 0 || keep_days > 36500 || !before_us)
        return ft__store_fail(st, FT_EINVAL, "keep days must be 0 to 36500");
    int64_t n, last = 0, ingest_end = 0, has_ingest = 0;
    rc = query1(st, "SELECT count(*) FROM sightings", 0, 0, &n, what);
    if (rc == FT_OK && n) rc = query1(st, "SELECT max(last_us) FROM sightings", 0, 0, &last, what);
    if (rc == FT_OK)
        rc = query1(st, "SELECT count(*) FROM ingests WHERE checkpoint_us IS NOT NULL", 0, 0,
                    &has_ingest, what);
    if (rc == FT_OK && has_ingest)
        rc = query1(st,
                    "SELECT max(start_us + checkpoint_us) FROM ingests "
                    "WHERE checkpoint_us IS NOT NULL",
                    0, 0, &ingest_end, what);
    if (rc != FT_OK) return rc;
    if (!n && !has_ingest)
        return ft__store_fail(st, FT_ENOTFOUND,
                              "the event has no sighting and no ingested video yet: no end");
    int64_t end = n ? last : ingest_end;
    if (has_ingest && ingest_end > end) end = ingest_end;
    const int64_t day = 86400LL * 1000000;
    int64_t due = end > INT64_MAX - keep_days * day ? INT64_MAX : end + keep_days * day;
    if (due_us) *due_us = due;
    if (end_us) *end_us = end;
    if (now_us >= due) {
        *before_us = INT64_MAX;
        return 1;
    }
    return 0;
}
