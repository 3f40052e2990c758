/*
** store/store.h: private interface between the store files (store.c: open,
** close, errors, statements, stats; schema.c: the schema and its migration
** table; cameras.c; ingest.c: ingest begin/commit/finish; read.c: walks and
** lookups; audit.c: the audit log; purge.c: retention; replica.c: sightings
** copied between stores).
**
** DESIGN
**   An ft_store wraps one sqlite3 connection. Every SQL statement the store
**   runs more than once is listed once (enum ft__stmt_id here, text in
**   store.c) and prepared on first use with SQLITE_PREPARE_PERSISTENT; the
**   prepared statement is kept until close. ft__store_stmt hands it out reset
**   with its bindings cleared; the user resets it again when done, so that no
**   statement keeps a read transaction (and the WAL) pinned between calls.
**
** INVARIANTS  (1) between public calls no statement is active and no
**                 transaction is open (sqlite3_get_autocommit is 1).
**             (2) a write runs inside ft__store_begin / ft__store_end: BEGIN
**                 IMMEDIATE, then COMMIT on success or ROLLBACK on any error,
**                 so a failed call leaves the file as it was.
**             (3) st->errmsg describes the last failure of a public call and is
**                 "" after a successful one (ft__store_enter clears it).
**             (4) st->walking > 0 exactly while a walk's callback may run;
**                 walks and writes are refused then (their statements are in use).
** OWNERSHIP   The store owns db, path and every cached statement.
** THREADS     One thread at a time per ft_store (the connection is opened
**             SQLITE_OPEN_NOMUTEX). ft__store_test_hook is a test-only global.
*/
#ifndef FT_STORE_STORE_H
#define FT_STORE_STORE_H

#include "facetrail.h"

#include "core/core.h"

#include <sqlite3.h>
#include <stdint.h>

/* The statement cache. Text in store.c, same order. */
enum ft__stmt_id {
    FT__STMT_CAMERA_ADD,
    FT__STMT_CAMERA_GET,
    FT__STMT_CAMERA_LIST,
    FT__STMT_INGEST_FIND,
    FT__STMT_INGEST_INSERT,
    FT__STMT_INGEST_RESUME,
    FT__STMT_INGEST_RESET,
    FT__STMT_INGEST_DELETE_SIGHTINGS,
    FT__STMT_INGEST_STATE,
    FT__STMT_INGEST_ADVANCE,
    FT__STMT_INGEST_FINISH,
    FT__STMT_INGEST_GET,
    FT__STMT_INGEST_SAVE_STATE,
    FT__STMT_INGEST_LOAD_STATE,
    FT__STMT_SIGHTING_INSERT,
    FT__STMT_DESCRIPTOR_INSERT,
    FT__STMT_THUMBNAIL_INSERT,
    FT__STMT_SIGHTING_GET,
    FT__STMT_SIGHTING_DESCRIPTORS,
    FT__STMT_SIGHTING_THUMBNAIL,
    FT__STMT_BETWEEN_ALL,
    FT__STMT_BETWEEN_CAMERA,
    FT__STMT_DESCRIPTORS_ALL,
    FT__STMT_SIGHTINGS_BRIEF,
    FT__STMT_SIGHTINGS_AFTER,
    FT__STMT_META_GET,
    FT__STMT_META_SET,
    FT__STMT_LEASE_GET,
    FT__STMT_LEASE_RENEW,
    FT__STMT_LEASE_PUT,
    FT__STMT_LEASE_RELEASE,
    FT__STMT_LEASE_RELEASE_ALL,
    FT__STMT_INGEST_FIND_CONTENT,
    FT__STMT_INGEST_SET_CONTENT,
    FT__STMT_REPLICAS_AFTER,
    FT__STMT_DESCRIPTORS_ANY,
    FT__N_STMT
};

struct ft_store {
    sqlite3 *db;
    int flags;     /* enum ft_store_open_flags */
    int version;   /* the file's schema version (older than current only read-only) */
    int immutable; /* opened read-only as immutable (no -shm; see store.c) */
    int walking;
    sqlite3_stmt *stmt[FT__N_STMT];
    char errmsg[512];
    /* ingest leases (lease.c): this handle's holder identity */
    int64_t lease_pid, lease_token;
    char lease_host[128];
    int lease_held; /* 1 once this handle took a lease: close releases them */
};

/* One step of the schema's history: the SQL that takes a database from
** version - 1 to version. */
typedef struct ft__store_migration {
    int version;
    const char *what; /* one line for messages */
    const char *sql;  /* one or more statements */
} ft__store_migration;

extern const ft__store_migration ft__store_migrations[];
extern const int ft__store_n_migrations;

/* How long a call waits for another connection's lock (sqlite3_busy_timeout). */
#define FT__BUSY_MS 5000

/* 'FTrl': PRAGMA application_id of every facetrail database. */
#define FT__STORE_APP_ID 0x4654726c

/* ft_store_open with another migration table (tests: upgrades, failed
** steps). The schema's version becomes migs[n - 1].version. */
int ft__store_open_with(const char *path, int flags, const ft__store_migration *migs, int n,
                        ft_store **out /* OUT */);

/* Clears the message; FT_EINVAL if st is NULL. */
int ft__store_enter(ft_store *st);
/* FT_EINVAL with a message if st is read-only or inside a walk. */
int ft__store_writable(ft_store *st);

/* Sets st->errmsg from fmt and returns status. */
int ft__store_fail(ft_store *st, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps a SQLite result code to a status and sets "what: sqlite's message". */
int ft__store_sqlfail(ft_store *st, int rc, const char *what);
int ft__store_status_of(int sqlite_rc);

/* The cached statement id, prepared if needed, reset and unbound. */
int ft__store_stmt(ft_store *st, enum ft__stmt_id id, sqlite3_stmt **out /* OUT */);

/* BEGIN IMMEDIATE; ft__store_end commits if rc is FT_OK, else rolls back, and
** returns the final status (a failed COMMIT turns FT_OK into an error). */
int ft__store_begin(ft_store *st, const char *what);
int ft__store_end(ft_store *st, int rc, const char *what);

/* Ingest leases (lease.c). init fills the handle's holder identity. take:
** inside a write transaction, takes or renews camera_id's lease for this
** handle, or FT_EIO with a message naming the live holder. release: deletes
** this handle's lease of camera_id (NULL: all of them). */
void ft__store_lease_init(ft_store *st);
int ft__store_lease_take(ft_store *st, const char *camera_id, int64_t ingest_id);
int ft__store_lease_release(ft_store *st, const char *camera_id);

/* us (wall clock) as "2026-04-12T09:30:00Z" (UTC). */
void ft__store_iso_time(int64_t us, char out[32]);

/* Wall clock, microseconds since the Unix epoch. */
int64_t ft__store_now_us(void);

/* 1 if id is NUL-terminated within FT_CAMERA_ID_MAX bytes and 1..63 bytes of
** printable ASCII without blanks. */
int ft__store_valid_camera_id(const char *id);

/* Copies a TEXT column into dst (cap bytes), cut at cap - 1; NULL gives "". */
void ft__store_copy_text(char *dst, size_t cap, sqlite3_stmt *s, int col);

/* Descriptor blobs are float32 little-endian. */
#define FT__DESC_BYTES (FT_DESCRIPTOR_DIM * 4)
void ft__store_desc_to_le(const float *src, unsigned char dst[FT__DESC_BYTES]);
void ft__store_desc_from_le(const unsigned char *src, float dst[FT_DESCRIPTOR_DIM]);

/* Checks shared by the writers (no database access; st may be NULL, then
** no message is kept). ft__store_check_camera: what ft_store_camera_add
** accepts (FT_EINVAL). ft__store_check_sighting: what a commit accepts of
** sighting i, all but its ingest_id (FT_EINVAL, FT_ETOOBIG: thumbnail). */
int ft__store_check_camera(ft_store *st, const ft_camera *c);
int ft__store_check_sighting(ft_store *st, const ft_sighting *s, int i);

/* Inserts a checked camera unless its id exists (cameras.c); *added 1 if
** inserted, 0 if the store had it (kept as it is). */
int ft__store_camera_insert(ft_store *st, const ft_camera *c, int *added /* OUT */);

/* Inside a write transaction (ingest.c): a new 'running' ingest row, its id
** in *id (no content identity, no lease). */
int ft__store_ingest_insert(ft_store *st, const char *camera_id, const char *source,
                            int64_t start_us, double sample_fps, int64_t *id /* OUT */);
/* Inside a write transaction (ingest.c): inserts a checked sighting with its
** descriptors and thumbnail into ingest_id, unless the ingest already has
** its track_key (then nothing is written). *added (may be NULL): 1 if
** inserted, 0 if skipped. */
int ft__store_insert_sighting(ft_store *st, int64_t ingest_id, const char *camera_id,
                              const ft_sighting *x, int *added /* OUT */);

/* meta.c without the public call's checks and transaction: read key into
** out (FT_ENOTFOUND, FT_ETOOBIG as ft_store_meta_get); write it (inside a
** write transaction). */
int ft__store_meta_read(ft_store *st, const char *key, char *out /* OUT */, size_t out_len);
int ft__store_meta_write(ft_store *st, const char *key, const char *value);

/* read.c's pieces for walks elsewhere. read_sighting_row: columns 0..15 of
** SIGHTING_COLUMNS (store.c) into out (zeroed first), no descriptors.
** read_descriptors: out->id's descriptors into out. can_walk: FT_EINVAL
** with a message for no callback or a walk inside a walk. walk_stopped: the
** message for a callback that returned rc != 0 (unless it left one). */
void ft__store_read_sighting_row(sqlite3_stmt *s, ft_sighting *out /* OUT */);
int ft__store_read_descriptors(ft_store *st, ft_sighting *out /* OUT */);
int ft__store_can_walk(ft_store *st, const void *fn);
void ft__store_walk_stopped(ft_store *st, int rc);

/* Test hook: when set, called at named points inside write transactions
** ("commit:inserted": all rows of a batch written, COMMIT not yet run). A
** non-zero return fails the call with that status (and rolls it back). */
extern int (*ft__store_test_hook)(const char *where);

#endif
