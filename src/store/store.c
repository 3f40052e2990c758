/*
** store/store.c: opening, upgrading and closing an event database; errors;
** the statement cache; transactions; stats and integrity check.
**
** DESIGN
**   Open sequence (each step fails cleanly, closing the connection):
**     1. argument checks; without FT_STORE_CREATE a missing file is
**        FT_ENOTFOUND (SQLite would otherwise create it); with it, a missing
**        file is created empty with mode 0600 (SQLite gives its -wal and
**        -shm files the database's mode);
**     2. sqlite3_open_v2 (NOMUTEX: the handle is single-threaded anyway),
**        extended result codes, busy timeout FT__BUSY_MS;
**     3. identify the file before changing anything in it: application_id,
**        user_version, and for version 0 whether it holds any table. A file
**        that is not SQLite fails here (SQLITE_NOTADB -> FT_EFORMAT), as does
**        another program's database, and a version newer than this build;
**     2a. read-only where this process cannot write the file or its folder,
**        and no -wal file with content lies beside it: the file is opened as
**        "file:...?immutable=1". SQLite's WAL mode needs a -shm file beside
**        the database even to read, and cannot create one there; immutable
**        reads the main file without locks or -shm. This is safe because a
**        WAL writer always keeps a -wal file while it works, and every
**        committed transaction is in the main file once the -wal is gone
**        (the last close checkpoints and deletes it). With a pending -wal,
**        SQLite's own read-only WAL support is used (it needs a readable
**        -shm); if that fails, the message says what to do;
**     4. read-write only: journal_mode=WAL (must come back "wal"),
**        synchronous=NORMAL (FULL with FT_STORE_DURABLE), journal_size_limit;
**     5. migrations (schema.c) with foreign_keys OFF, one transaction per
**        step, which re-reads user_version under the write lock so that two
**        processes upgrading at once do not run a step twice;
**     6. foreign_keys=ON.
**
**   Why WAL + synchronous=NORMAL is safe for committed transactions: in WAL
**   mode a commit appends the transaction's pages and a commit frame to the
**   -wal file with write(2); once write returns, the kernel holds the bytes,
**   so killing the process cannot lose them and the next opener replays the
**   WAL. Only a power cut or kernel crash before the next fsync (at WAL
**   checkpoint time with NORMAL) can drop the last commits; frames carry
**   running checksums and salts, so a torn tail is detected and ignored and
**   the database stays consistent at an earlier commit. A transaction that
**   never wrote its commit frame (process killed mid-transaction, or pages
**   spilled to the WAL before COMMIT) is invisible to every reader.
**
** INVARIANTS  (1) open either returns a handle whose schema is exactly the
**                 version of the last migration step, or NULL and a message
**                 in this thread's open_errmsg.
**             (2) no step of open writes to a file before step 3 has shown it
**                 to be an empty or facetrail database.
**             (3) statement texts below are in enum ft__stmt_id order (checked
**                 at compile time by the array size).
** OWNERSHIP   ft_store_close finalizes every cached statement, then closes.
** THREADS     See store/store.h; open_errmsg is thread-local.
*/
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FT__WAL_LIMIT_BYTES (64 * 1024 * 1024)

int (*ft__store_test_hook)(const char *where) = NULL;

static _Thread_local char open_errmsg[512];

/* ------------------------------------------------------------------------ */
/* Statement texts                                                          */
/* ------------------------------------------------------------------------ */

#define SIGHTING_COLUMNS                                                                     \
    "SELECT id, ingest_id, camera_id, track_key, first_us, last_us, best_us, box_x, box_y, " \
    "box_w, box_h, face_px, det_score, quality, n_frames, "                                  \
    "(SELECT length(jpeg) FROM thumbnails WHERE sighting_id = sightings.id) FROM sightings "

static const char *const stmt_sql[] = {
    [FT__STMT_CAMERA_ADD] = "INSERT INTO cameras(id, name, km, lat, lon, created_us) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO NOTHING",
    [FT__STMT_CAMERA_GET] = "SELECT id, name, km, lat, lon FROM cameras WHERE id = ?1",
    [FT__STMT_CAMERA_LIST] = "SELECT id, name, km, lat, lon FROM cameras ORDER BY km, id",
    [FT__STMT_INGEST_FIND] = "SELECT id, status, checkpoint_us, sample_fps, source, "
                             "content_size, content_duration_us, content_sha256 FROM ingests "
                             "WHERE camera_id = ?1 AND source = ?2 AND start_us = ?3",
    [FT__STMT_INGEST_INSERT] = "INSERT INTO ingests(camera_id, source, start_us, sample_fps, "
                               "status, started_us) VALUES (?1, ?2, ?3, ?4, 'running', ?5)",
    [FT__STMT_INGEST_RESUME] = "UPDATE ingests SET status = 'running', error = NULL, "
                               "finished_us = NULL, started_us = ?2 WHERE id = ?1",
    [FT__STMT_INGEST_RESET] = "UPDATE ingests SET status = 'running', error = NULL, "
                              "finished_us = NULL, started_us = ?2, sample_fps = ?3, "
                              "checkpoint_us = NULL, frames = 0, faces = 0, resume_state = NULL "
                              "WHERE id = ?1",
    [FT__STMT_INGEST_DELETE_SIGHTINGS] = "DELETE FROM sightings WHERE ingest_id = ?1",
    [FT__STMT_INGEST_STATE] = "SELECT camera_id, status FROM ingests WHERE id = ?1",
    [FT__STMT_INGEST_ADVANCE] = "UPDATE ingests SET checkpoint_us = "
                                "max(coalesce(checkpoint_us, -1), ?2), frames = frames + ?3, "
                                "faces = faces + ?4 WHERE id = ?1",
    [FT__STMT_INGEST_FINISH] = "UPDATE ingests SET status = ?2, error = ?3, finished_us = ?4 "
                               "WHERE id = ?1",
    [FT__STMT_INGEST_GET] = "SELECT id, camera_id, source, start_us, sample_fps, status, "
                            "checkpoint_us, frames, faces, started_us, finished_us, error, "
                            "(SELECT count(*) FROM sightings WHERE ingest_id = ?1) "
                            "FROM ingests WHERE id = ?1",
    [FT__STMT_INGEST_SAVE_STATE] = "UPDATE ingests SET resume_state = ?2 WHERE id = ?1",
    [FT__STMT_INGEST_LOAD_STATE] = "SELECT resume_state FROM ingests WHERE id = ?1",
    [FT__STMT_SIGHTING_INSERT] =
        "INSERT INTO sightings(ingest_id, camera_id, track_key, first_us, last_us, best_us, "
        "box_x, box_y, box_w, box_h, face_px, det_score, quality, n_frames) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
        "ON CONFLICT(ingest_id, track_key) DO NOTHING",
    [FT__STMT_DESCRIPTOR_INSERT] = "INSERT INTO descriptors(sighting_id, n, quality, vec) "
                                   "VALUES (?1, ?2, ?3, ?4)",
    [FT__STMT_THUMBNAIL_INSERT] = "INSERT INTO thumbnails(sighting_id, jpeg) VALUES (?1, ?2)",
    [FT__STMT_SIGHTING_GET] = SIGHTING_COLUMNS "WHERE id = ?1",
    [FT__STMT_SIGHTING_DESCRIPTORS] = "SELECT n, quality, vec FROM descriptors "
                                      "WHERE sighting_id = ?1 ORDER BY n",
    [FT__STMT_SIGHTING_THUMBNAIL] = "SELECT jpeg FROM thumbnails WHERE sighting_id = ?1",
    [FT__STMT_BETWEEN_ALL] =
        SIGHTING_COLUMNS "WHERE best_us >= ?1 AND best_us < ?2 ORDER BY best_us, id",
    [FT__STMT_BETWEEN_CAMERA] = SIGHTING_COLUMNS
    "WHERE camera_id = ?3 AND best_us >= ?1 AND best_us < ?2 ORDER BY best_us, id",
    [FT__STMT_DESCRIPTORS_ALL] = "SELECT sighting_id, n, vec FROM descriptors",
    [FT__STMT_SIGHTINGS_AFTER] = SIGHTING_COLUMNS "WHERE id > ?1 ORDER BY id LIMIT ?2",
    [FT__STMT_SIGHTINGS_BRIEF] = "SELECT id, ingest_id, camera_id, track_key, first_us, last_us, "
                                 "best_us FROM sightings ORDER BY id",
    [FT__STMT_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [FT__STMT_META_SET] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [FT__STMT_LEASE_GET] = "SELECT pid, host, token, acquired_us, expires_us FROM ingest_leases "
                           "WHERE camera_id = ?1",
    [FT__STMT_LEASE_RENEW] = "UPDATE ingest_leases SET ingest_id = ?2, renewed_us = ?3, "
                             "expires_us = ?4 WHERE camera_id = ?1",
    [FT__STMT_LEASE_PUT] = "INSERT OR REPLACE INTO ingest_leases(camera_id, ingest_id, pid, host, "
                           "token, acquired_us, renewed_us, expires_us) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
    [FT__STMT_LEASE_RELEASE] = "DELETE FROM ingest_leases WHERE pid = ?1 AND host = ?2 AND "
                               "token = ?3 AND camera_id = ?4",
    [FT__STMT_LEASE_RELEASE_ALL] = "DELETE FROM ingest_leases WHERE pid = ?1 AND host = ?2 AND "
                                   "token = ?3",
    [FT__STMT_INGEST_FIND_CONTENT] =
        "SELECT id, status, checkpoint_us, sample_fps, source FROM ingests "
        "WHERE camera_id = ?1 AND content_sha256 = ?2 AND content_size = ?3 "
        "AND content_duration_us = ?4 AND start_us = ?5 ORDER BY id LIMIT 1",
    [FT__STMT_INGEST_SET_CONTENT] = "UPDATE ingests SET content_size = ?2, "
                                    "content_duration_us = ?3, content_sha256 = ?4 WHERE id = ?1",
    /* columns 0..15 as SIGHTING_COLUMNS, then the thumbnail, the ingest's
    ** identity and the camera (replica.c); LEFT JOINs so that a row missing
    ** its ingest or camera (a damaged file) is seen, not skipped */
    [FT__STMT_REPLICAS_AFTER] =
        "SELECT s.id, s.ingest_id, s.camera_id, s.track_key, s.first_us, s.last_us, s.best_us, "
        "s.box_x, s.box_y, s.box_w, s.box_h, s.face_px, s.det_score, s.quality, s.n_frames, "
        "length(t.jpeg), t.jpeg, i.source, i.start_us, i.sample_fps, c.name, c.km, c.lat, c.lon "
        "FROM sightings AS s LEFT JOIN thumbnails AS t ON t.sighting_id = s.id "
        "LEFT JOIN ingests AS i ON i.id = s.ingest_id LEFT JOIN cameras AS c ON c.id = s.camera_id "
        "WHERE s.id > ?1 ORDER BY s.id LIMIT ?2",
    [FT__STMT_DESCRIPTORS_ANY] = "SELECT EXISTS (SELECT 1 FROM descriptors)",
};
_Static_assert(sizeof stmt_sql / sizeof stmt_sql[0] == FT__N_STMT, "one text per statement");

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

int ft__store_status_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK: return FT_OK;
    case SQLITE_NOMEM: return FT_ENOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
    case SQLITE_SCHEMA: return FT_EFORMAT;
    case SQLITE_TOOBIG: return FT_ETOOBIG;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_MISUSE: return FT_EINVAL;
    case SQLITE_NOTFOUND: return FT_ENOTFOUND;
    default: return FT_EIO; /* IOERR, FULL, CANTOPEN, PERM, BUSY, LOCKED, READONLY, ... */
    }
}

int ft__store_fail(ft_store *st, int status, const char *fmt, ...)
{
    if (st) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->errmsg, sizeof st->errmsg, fmt, ap);
        va_end(ap);
    }
    return status;
}

int ft__store_sqlfail(ft_store *st, int rc, const char *what)
{
    int status = ft__store_status_of(rc);
    const char *msg = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return ft__store_fail(st, status, "%s: %s (another writer held it longer than %d ms)", what,
                              msg, FT__BUSY_MS);
    return ft__store_fail(st, status, "%s: %s", what, msg);
}

const char *ft_store_errmsg(const ft_store *st)
{
    return st ? st->errmsg : open_errmsg;
}

void ft_store_free(void *p)
{
    ft__free(p);
}

int ft__store_enter(ft_store *st)
{
    if (!st) return FT_EINVAL;
    st->errmsg[0] = 0;
    return FT_OK;
}

int ft__store_writable(ft_store *st)
{
    if (st->flags & FT_STORE_READONLY)
        return ft__store_fail(st, FT_EINVAL, "the store was opened read-only");
    if (st->walking)
        return ft__store_fail(st, FT_EINVAL, "cannot write from inside a walk's callback");
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* Statements, transactions, small helpers                                  */
/* ------------------------------------------------------------------------ */

int ft__store_stmt(ft_store *st, enum ft__stmt_id id, sqlite3_stmt **out)
{
    FT_ASSERT(id >= 0 && id < FT__N_STMT && stmt_sql[id]);
    *out = NULL;
    if (!st->stmt[id]) {
        int rc = sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &st->stmt[id], NULL);
        if (rc != SQLITE_OK) {
            st->stmt[id] = NULL;
            return ft__store_sqlfail(st, rc, "preparing a statement");
        }
    } else {
        sqlite3_reset(st->stmt[id]);
        sqlite3_clear_bindings(st->stmt[id]);
    }
    *out = st->stmt[id];
    return FT_OK;
}

static int exec_sql(ft_store *st, const char *sql, const char *what)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? FT_OK : ft__store_sqlfail(st, rc, what);
}

int ft__store_begin(ft_store *st, const char *what)
{
    return exec_sql(st, "BEGIN IMMEDIATE", what);
}

int ft__store_end(ft_store *st, int rc, const char *what)
{
    if (rc == FT_OK) {
        int r = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
        if (r == SQLITE_OK) return FT_OK;
        rc = ft__store_sqlfail(st, r, what);
    }
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int64_t ft__store_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int ft__store_valid_camera_id(const char *id)
{
    if (!id) return 0;
    const char *end = memchr(id, 0, FT_CAMERA_ID_MAX);
    if (!end || end == id) return 0;
    for (const unsigned char *p = (const unsigned char *)id; p < (const unsigned char *)end; p++)
        if (*p < 0x21 || *p > 0x7e) return 0;
    return 1;
}

void ft__store_copy_text(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(s, col) : 0;
    if (n > cap - 1) n = cap - 1;
    if (n) memcpy(dst, t, n);
    dst[n] = 0;
}

void ft__store_desc_to_le(const float *src, unsigned char dst[FT__DESC_BYTES])
{
    for (int i = 0; i < FT_DESCRIPTOR_DIM; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        dst[4 * i + 0] = (unsigned char)u;
        dst[4 * i + 1] = (unsigned char)(u >> 8);
        dst[4 * i + 2] = (unsigned char)(u >> 16);
        dst[4 * i + 3] = (unsigned char)(u >> 24);
    }
}

void ft__store_desc_from_le(const unsigned char *src, float dst[FT_DESCRIPTOR_DIM])
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(dst, src, FT__DESC_BYTES);
#else
    for (int i = 0; i < FT_DESCRIPTOR_DIM; i++) {
        uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
                     (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24;
        memcpy(&dst[i], &u, 4);
    }
#endif
}

/* One integer from a one-row query (a pragma or an aggregate); NULL gives 0. */
static int query_int64(ft_store *st, const char *sql, int64_t *v, const char *what)
{
    sqlite3_stmt *s = NULL;
    *v = 0;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *v = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
    }
    int status = rc == SQLITE_OK ? FT_OK : ft__store_sqlfail(st, rc, what);
    sqlite3_finalize(s);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Open, migrate, close                                                     */
/* ------------------------------------------------------------------------ */

static int migrate_step(ft_store *st, const char *path, const ft__store_migration *m)
{
    char what[160];
    snprintf(what, sizeof what, "upgrading the schema to version %d (%s)", m->version, m->what);
    int rc = ft__store_begin(st, what);
    if (rc != FT_OK) return rc;
    int64_t now;
    rc = query_int64(st, "PRAGMA user_version", &now, what);
    if (rc == FT_OK && now >= m->version)
        return ft__store_end(st, FT_OK, what); /* done by another */
    if (rc == FT_OK && now != m->version - 1)
        rc = ft__store_fail(st, FT_EFORMAT, "%s: schema version changed to %lld meanwhile", what,
                            (long long)now);
    if (rc == FT_OK) rc = exec_sql(st, m->sql, what);
    if (rc == FT_OK) {
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d",
                 FT__STORE_APP_ID, m->version);
        rc = exec_sql(st, sql, what);
    }
    if (rc == FT_OK) {
        int64_t bad;
        rc = query_int64(st, "SELECT count(*) FROM pragma_foreign_key_check", &bad, what);
        if (rc == FT_OK && bad)
            rc = ft__store_fail(st, FT_EFORMAT, "%s: %lld foreign-key violations", what,
                                (long long)bad);
    }
    rc = ft__store_end(st, rc, what);
    if (rc != FT_OK) {
        /* Prefix the file name; the step was rolled back, the file is as before. */
        char msg[sizeof st->errmsg];
        snprintf(msg, sizeof msg, "%s", st->errmsg);
        ft__store_fail(st, rc, "%s: %s", path, msg);
    }
    return rc;
}

/* Whether this process may write both the file and its folder (SQLite
** creates -wal and -shm files beside the database). */
static int can_write(const char *path)
{
    if (access(path, W_OK) != 0) return 0;
    size_t n = strlen(path);
    char *dir = ft__malloc(n + 2);
    if (!dir) return 1; /* unknown: try the ordinary way */
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, n + 2, ".");
    else if (slash == dir)
        dir[1] = 0; /* "/x" */
    else
        *slash = 0;
    int ok = access(dir, W_OK) == 0;
    ft__free(dir);
    return ok;
}

/* Whether a non-empty -wal file lies beside the database: committed
** transactions not yet copied into it (or a writer at work). */
static int wal_pending(const char *path)
{
    size_t n = strlen(path);
    char *wal = ft__malloc(n + 5);
    if (!wal) return 1;
    memcpy(wal, path, n);
    memcpy(wal + n, "-wal", 5);
    struct stat sb;
    int pending = stat(wal, &sb) == 0 && sb.st_size > 0;
    ft__free(wal);
    return pending;
}

/* "file:<path, %-escaped>?immutable=1" (SQLite URI filenames), ft__malloc'd. */
static char *immutable_uri(const char *path)
{
    size_t n = strlen(path);
    char *uri = ft__malloc(3 * n + 32);
    if (!uri) return NULL;
    char *o = uri;
    o += sprintf(o, "file:");
    if (path[0] == '/' && path[1] == '/') o += sprintf(o, "//"); /* empty authority */
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#' || *p < 0x21 || *p >= 0x7f)
            o += sprintf(o, "%%%02x", *p);
        else
            *o++ = (char)*p;
    }
    sprintf(o, "?immutable=1");
    return uri;
}

static int setup(ft_store *st, const char *path, const ft__store_migration *migs, int n)
{
    const int latest = migs[n - 1].version;
    int64_t app_id, version, objects = 0;
    int rc = query_int64(st, "PRAGMA application_id", &app_id, path);
    if (rc == FT_OK) rc = query_int64(st, "PRAGMA user_version", &version, path);
    if (rc == FT_OK && version == 0)
        rc = query_int64(st, "SELECT count(*) FROM sqlite_schema", &objects, path);
    if (rc != FT_OK) {
        if (rc == FT_EFORMAT) {
            char msg[sizeof st->errmsg];
            snprintf(msg, sizeof msg, "%s", st->errmsg);
            return ft__store_fail(st, rc, "%s (not a facetrail database, or a corrupt one)", msg);
        }
        return rc;
    }
    if ((app_id != 0 && app_id != FT__STORE_APP_ID) || (version > 0 && app_id == 0) ||
        (version == 0 && objects > 0))
        return ft__store_fail(st, FT_EFORMAT,
                              "%s: a SQLite database of another program, not facetrail's "
                              "(application_id 0x%llx, user_version %lld, %lld objects)",
                              path, (unsigned long long)app_id, (long long)version,
                              (long long)objects);
    if (version > latest)
        return ft__store_fail(st, FT_EFORMAT,
                              "%s: schema version %lld is newer than this build's %d "
                              "(written by a later facetrail; upgrade facetrail to open it)",
                              path, (long long)version, latest);
    st->version = (int)version;
    if (st->flags & FT_STORE_READONLY) {
        /* An older schema is read as it is: the reading functions use only
        ** what every version has; newer tables answer "not found". */
        if (version < 1)
            return ft__store_fail(st, FT_EFORMAT, "%s: an empty database (no schema yet)", path);
        return exec_sql(st, "PRAGMA foreign_keys = ON", path);
    }

    sqlite3_stmt *s = NULL;
    rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(s, 0);
        if (mode && strcmp(mode, "wal") == 0) {
            rc = SQLITE_OK;
        } else {
            rc = ft__store_fail(st, FT_EIO, "%s: cannot use WAL mode (journal_mode is %s)", path,
                                mode ? mode : "unknown");
            sqlite3_finalize(s);
            return rc;
        }
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_OK) return ft__store_sqlfail(st, rc, path);

    char sql[160];
    snprintf(sql, sizeof sql,
             "PRAGMA synchronous = %s; PRAGMA journal_size_limit = %d; "
             "PRAGMA foreign_keys = OFF",
             (st->flags & FT_STORE_DURABLE) ? "FULL" : "NORMAL", FT__WAL_LIMIT_BYTES);
    rc = exec_sql(st, sql, path);
    for (int i = 0; rc == FT_OK && i < n; i++)
        if (migs[i].version > version) rc = migrate_step(st, path, &migs[i]);
    if (rc == FT_OK) st->version = latest;
    if (rc == FT_OK) rc = exec_sql(st, "PRAGMA foreign_keys = ON", path);
    return rc;
}

int ft__store_open_with(const char *path, int flags, const ft__store_migration *migs, int n,
                        ft_store **out)
{
    open_errmsg[0] = 0;
    if (!out) return ft__errf(open_errmsg, sizeof open_errmsg, FT_EINVAL, "no out-parameter");
    *out = NULL;
    FT_ASSERT(migs && n > 0);
    for (int i = 0; i < n; i++)
        FT_ASSERT(migs[i].version == i + 1 && migs[i].sql); /* INVARIANT schema.c (2) */
    if (!path || !*path)
        return ft__errf(open_errmsg, sizeof open_errmsg, FT_EINVAL, "no database path given");
    if (flags & ~(FT_STORE_CREATE | FT_STORE_READONLY | FT_STORE_DURABLE))
        return ft__errf(open_errmsg, sizeof open_errmsg, FT_EINVAL, "%s: unknown flags 0x%x", path,
                        (unsigned)flags);
    if ((flags & FT_STORE_CREATE) && (flags & FT_STORE_READONLY))
        return ft__errf(open_errmsg, sizeof open_errmsg, FT_EINVAL,
                        "%s: create and read-only flags together", path);

    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT)
            return ft__errf(open_errmsg, sizeof open_errmsg, FT_EIO, "%s: %s", path,
                            strerror(errno));
        if (!(flags & FT_STORE_CREATE))
            return ft__errf(open_errmsg, sizeof open_errmsg, FT_ENOTFOUND, "%s: no such database",
                            path);
        /* A new database is its creator's alone (it will hold faces): made
        ** here 0600 before SQLite opens it, which then creates the -wal and
        ** -shm files with the same mode. If this fails, SQLite tries and
        ** says why. */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) close(fd);
    } else if (!S_ISREG(sb.st_mode)) {
        return ft__errf(open_errmsg, sizeof open_errmsg, FT_EIO, "%s: not a regular file", path);
    }

    ft_store *st = ft__calloc(1, sizeof *st);
    if (!st) return ft__errf(open_errmsg, sizeof open_errmsg, FT_ENOMEM, "out of memory");
    st->flags = flags;
    ft__store_lease_init(st);
    int oflags = SQLITE_OPEN_NOMUTEX |
                 ((flags & FT_STORE_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                 ((flags & FT_STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
    /* Read-only where this process cannot write (file or folder), with no
    ** pending WAL: SQLite could not create the -shm it needs, so open the
    ** file as immutable (no locks, no -shm). Safe: a live writer in WAL mode
    ** always has a -wal file beside the database. */
    char *uri = NULL;
    if ((flags & FT_STORE_READONLY) && !can_write(path) && !wal_pending(path)) {
        uri = immutable_uri(path);
        if (!uri) {
            ft_store_close(st);
            return ft__errf(open_errmsg, sizeof open_errmsg, FT_ENOMEM, "out of memory");
        }
        oflags |= SQLITE_OPEN_URI;
        st->immutable = 1;
    }
    int rc = sqlite3_open_v2(uri ? uri : path, &st->db, oflags, NULL);
    ft__free(uri);
    if (rc != SQLITE_OK) {
        rc = ft__store_fail(st, ft__store_status_of(rc), "%s: %s", path,
                            st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
    } else {
        sqlite3_extended_result_codes(st->db, 1);
        sqlite3_busy_timeout(st->db, FT__BUSY_MS);
        rc = setup(st, path, migs, n);
    }
    if (rc != FT_OK && (flags & FT_STORE_READONLY) && !st->immutable && !can_write(path) &&
        wal_pending(path)) {
        char msg[sizeof st->errmsg];
        snprintf(msg, sizeof msg, "%s", st->errmsg);
        ft__store_fail(st, rc,
                       "%s (its last changes are still in %s-wal, and reading them needs a "
                       "readable %s-shm or write access to the folder: copy the database with "
                       "its -wal file to a folder you can write, or let its owner close it)",
                       msg, path, path);
    }
    if (rc != FT_OK) {
        snprintf(open_errmsg, sizeof open_errmsg, "%s", st->errmsg);
        ft_store_close(st);
        return rc;
    }
    st->errmsg[0] = 0;
    *out = st;
    return FT_OK;
}

int ft_store_open(const char *path, int flags, ft_store **out)
{
    FT_ASSERT(ft__store_migrations[ft__store_n_migrations - 1].version == FT_STORE_SCHEMA_VERSION);
    return ft__store_open_with(path, flags, ft__store_migrations, ft__store_n_migrations, out);
}

void ft_store_close(ft_store *st)
{
    if (!st) return;
    if (st->lease_held && st->db && sqlite3_get_autocommit(st->db))
        ft__store_lease_release(st, NULL); /* best effort: a stale lease is taken over anyway */
    for (int i = 0; i < FT__N_STMT; i++)
        sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->db); /* NULL is a no-op; all statements are finalized */
    ft__free(st);
}

/* ------------------------------------------------------------------------ */
/* Stats, check                                                             */
/* ------------------------------------------------------------------------ */

int ft_store_stats(ft_store *st, int64_t *n_cameras, int64_t *n_sightings, int64_t *n_descriptors,
                   int64_t *min_us, int64_t *max_us)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    int64_t v[5] = { 0, 0, 0, 0, 0 };
    static const char *const sql[5] = {
        "SELECT count(*) FROM cameras",       "SELECT count(*) FROM sightings",
        "SELECT count(*) FROM descriptors",   "SELECT min(first_us) FROM sightings",
        "SELECT max(last_us) FROM sightings",
    };
    rc = exec_sql(st, "BEGIN", "stats"); /* one read snapshot for the five */
    for (int i = 0; rc == FT_OK && i < 5; i++)
        rc = query_int64(st, sql[i], &v[i], "stats");
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (rc != FT_OK) return rc;
    if (n_cameras) *n_cameras = v[0];
    if (n_sightings) *n_sightings = v[1];
    if (n_descriptors) *n_descriptors = v[2];
    if (min_us) *min_us = v[1] ? v[3] : 0;
    if (max_us) *max_us = v[1] ? v[4] : 0;
    return FT_OK;
}

int ft_store_data_version(ft_store *st, int64_t *out)
{
    if (!out) return FT_EINVAL;
    *out = 0;
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    return query_int64(st, "PRAGMA data_version", out, "data version");
}

int ft_store_check(ft_store *st)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s, NULL);
    if (r == SQLITE_OK) r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        if (t && strcmp(t, "ok") == 0)
            rc = FT_OK;
        else
            rc = ft__store_fail(st, FT_EFORMAT, "integrity check: %s", t ? t : "(null)");
    } else {
        rc = ft__store_sqlfail(st, r, "integrity check");
    }
    sqlite3_finalize(s);
    return rc;
}
