/*
** tests/unit/test_store.c: the event store: open/create/upgrade, cameras,
** the ingest life cycle (commit, resume, done, force), round trips of
** descriptors and thumbnails, time-range reads, crash safety under SIGKILL,
** hostile files (random bytes, truncation, a schema from the future, another
** program's database), allocation failures; two benchmarks on request.
**
** DESIGN
**   Every database lives in a fresh mkdtemp folder under /tmp, removed at
**   exit (atexit, so a failing test cleans up too). Crash tests fork a writer
**   and SIGKILL it: once inside an open write transaction (the store's test
**   hook fires after a batch's rows are written, before COMMIT; the batch is
**   large enough that SQLite spills its pages into the WAL, so uncommitted
**   frames really are on disk), and repeatedly at random moments while it
**   commits and resumes. The parent then reopens the file and checks that
**   exactly the committed batches are there and PRAGMA integrity_check
**   passes. Writers' children report through their exit code only (_exit:
**   no atexit, no ASSERT).
**   Benchmarks (bench_commit, bench_load) skip unless FT_STORE_BENCH=1.
**
** INVARIANTS  (1) nothing is left under /tmp.
**             (2) tests end with no_leaks() (LeakSanitizer under make check).
*/
#include "facetrail.h"

#include "core/core.h"
#include "store/store.h"

#include "../harness/test.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
        ft_test_fail(__FILE__, __LINE__, "memory leaked (see the LeakSanitizer report)");
}

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                 */
/* ------------------------------------------------------------------------ */

static char tmp_dir[64];

static void rm_tmp_dir(void)
{
    if (!tmp_dir[0]) return;
    DIR *d = opendir(tmp_dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmp_dir);
    tmp_dir[0] = 0;
}

/* path = <fresh temporary folder>/name */
static void tmp_db(char path[128], const char *name)
{
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ft_test_store_XXXXXX");
        ASSERT(mkdtemp(tmp_dir) != NULL);
        atexit(rm_tmp_dir);
    }
    snprintf(path, 128, "%s/%s", tmp_dir, name);
}

static void rm_db(const char *path)
{
    char p[160];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(data, 1, n, f), n);
    ASSERT_EQ(fclose(f), 0);
}

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* A random finite float: any bit pattern whose exponent is not all ones
** (zeros, -0, denormals and huge values included). */
static float rnd_finite(void)
{
    uint32_t u = rnd() ^ (rnd() << 16);
    if (((u >> 23) & 0xff) == 0xff) u &= ~(1u << 30);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#define T0 1767225600000000LL /* 2026-01-01T00:00:00Z, microseconds */

/* A deterministic sighting for track key, descriptors derived from the key
** (so a test can recompute them). */
static void make_sighting(ft_sighting *s, int64_t key, int n_desc, const unsigned char *thumb,
                          size_t thumb_len)
{
    memset(s, 0, sizeof *s);
    s->track_key = key;
    s->first_us = T0 + key * 1000000;
    s->best_us = s->first_us + 200000;
    s->last_us = s->first_us + 500000;
    s->box[0] = 10.5f + (float)key;
    s->box[1] = 20.25f;
    s->box[2] = 30;
    s->box[3] = 40;
    s->face_px = 40;
    s->det_score = 0.875f;
    s->quality = 0.5f + 0.001f * (float)key;
    s->n_frames = 5 + (int)(key % 7);
    s->n_desc = n_desc;
    for (int k = 0; k < n_desc; k++) {
        for (int d = 0; d < FT_DESCRIPTOR_DIM; d++)
            s->desc[k][d] = (float)((key * 131 + k * 17 + d) % 97) / 97.0f - 0.5f;
        s->desc_quality[k] = 0.25f * (float)k;
    }
    s->thumbnail = thumb;
    s->thumbnail_len = thumb_len;
}

static ft_camera camera(const char *id, double km)
{
    ft_camera c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "%s", id);
    snprintf(c.name, sizeof c.name, "camera at km %g", km);
    c.km = km;
    return c;
}

/* A video identity whose hash is fill repeated. */
static ft_store_content content(int64_t size, int64_t duration_us, unsigned char fill)
{
    ft_store_content c;
    c.size = size;
    c.duration_us = duration_us;
    memset(c.sha256, fill, sizeof c.sha256);
    return c;
}

/* A store at a new path with camera "km05" and a running ingest. */
static ft_store *store_with_ingest(char path[128], const char *name, int64_t *ingest)
{
    tmp_db(path, name);
    ft_store *st;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    ft_camera c = camera("km05", 5);
    ASSERT_OK(ft_store_camera_add(st, &c));
    int64_t resume;
    ASSERT_OK(ft_store_ingest_begin(st, "km05", "cam5.mp4", T0, 5.0, ingest, &resume));
    ASSERT_EQ(resume, -1);
    return st;
}

/* As store_with_ingest, but the file stays at schema version 1 (the first
** migration step only), for the upgrade tests. */
static ft_store *store_v1_with_ingest(char path[128], const char *name, int64_t *ingest)
{
    tmp_db(path, name);
    ft_store *st;
    ASSERT_OK(ft__store_open_with(path, FT_STORE_CREATE, ft__store_migrations, 1, &st));
    ft_camera c = camera("km05", 5);
    ASSERT_OK(ft_store_camera_add(st, &c));
    /* the row as a v1 build wrote it (today's begin reads v3 columns) */
    char sql[200];
    snprintf(sql, sizeof sql,
             "INSERT INTO ingests(camera_id, source, start_us, sample_fps, started_us) "
             "VALUES ('km05', 'cam5.mp4', %lld, 5.0, %lld)",
             (long long)T0, (long long)T0);
    ASSERT_EQ(sqlite3_exec(st->db, sql, NULL, NULL, NULL), SQLITE_OK);
    *ingest = sqlite3_last_insert_rowid(st->db);
    return st;
}

static int64_t count_rows(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* PRAGMA integrity_check (the full one) with a raw connection. */
static void assert_integrity(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    const char *t = (const char *)sqlite3_column_text(s, 0);
    if (!t || strcmp(t, "ok") != 0)
        ft_test_fail(__FILE__, __LINE__, "integrity_check: %s", t ? t : "(null)");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
              SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) ft_test_fail(__FILE__, __LINE__, "%s: %s", sql, err ? err : "?");
    sqlite3_close(db);
}

/* Store test hooks (store/store.h). */
static int kill_self(const char *where)
{
    if (strcmp(where, "commit:inserted") == 0) raise(SIGKILL);
    return 0;
}

static int fail_io(const char *where)
{
    return strcmp(where, "commit:inserted") == 0 ? FT_EIO : 0;
}

/* ------------------------------------------------------------------------ */
/* Open, create, flags                                                      */
/* ------------------------------------------------------------------------ */

static void test_open_create(void)
{
    char path[128];
    tmp_db(path, "a.ftdb");
    ft_store *st = (ft_store *)&st;
    ASSERT_EQ(ft_store_open(path, 0, &st), FT_ENOTFOUND);
    ASSERT(st == NULL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(NULL), "no such database");
    ASSERT_EQ(ft_store_open(path, FT_STORE_READONLY, &st), FT_ENOTFOUND);
    ASSERT_EQ(ft_store_open(path, FT_STORE_CREATE | FT_STORE_READONLY, &st), FT_EINVAL);
    ASSERT_EQ(ft_store_open(path, 64, &st), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(NULL), "unknown flags");
    ASSERT_EQ(ft_store_open("", FT_STORE_CREATE, &st), FT_EINVAL);
    ASSERT_EQ(ft_store_open(NULL, FT_STORE_CREATE, &st), FT_EINVAL);
    ASSERT_EQ(ft_store_open(path, FT_STORE_CREATE, NULL), FT_EINVAL);
    ASSERT_EQ(ft_store_open(tmp_dir, 0, &st), FT_EIO); /* a folder */
    ASSERT_EQ(file_size(path), -1);                    /* nothing was created */

    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    ASSERT(st != NULL);
    ASSERT(ft_store_errmsg(st)[0] == 0);
    ASSERT_EQ(count_rows(path, "PRAGMA user_version"), FT_STORE_SCHEMA_VERSION);
    ASSERT_EQ(count_rows(path, "PRAGMA application_id"), FT__STORE_APP_ID);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"), 10);
    ASSERT(file_size(path) > 0);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", path);
    ASSERT(file_size(wal) >= 0); /* WAL mode */
    int64_t nc = -1, ns = -1, nd = -1, lo = -1, hi = -1;
    ASSERT_OK(ft_store_stats(st, &nc, &ns, &nd, &lo, &hi));
    ASSERT_EQ(nc, 0);
    ASSERT_EQ(ns, 0);
    ASSERT_EQ(nd, 0);
    ASSERT_EQ(lo, 0);
    ASSERT_EQ(hi, 0);
    ASSERT_OK(ft_store_stats(st, NULL, NULL, NULL, NULL, NULL));
    ASSERT_OK(ft_store_check(st));
    ft_store_close(st);
    ft_store_close(NULL);
    ASSERT_EQ(file_size(wal), -1); /* the last close checkpoints and removes the WAL */

    /* Reopen with and without CREATE, read-only, durable. */
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    ft_store_close(st);
    ASSERT_OK(ft_store_open(path, FT_STORE_DURABLE, &st));
    ft_store_close(st);
    ASSERT_OK(ft_store_open(path, FT_STORE_READONLY, &st));
    ft_camera c = camera("km01", 1);
    ASSERT_EQ(ft_store_camera_add(st, &c), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "read-only");
    int64_t id, resume;
    ASSERT_EQ(ft_store_ingest_begin(st, "km01", "x.mp4", T0, 5, &id, &resume), FT_EINVAL);
    ASSERT_OK(ft_store_stats(st, &nc, NULL, NULL, NULL, NULL));
    ASSERT(ft_store_errmsg(st)[0] == 0); /* cleared by the success */
    ft_store_close(st);

    /* NULL handles are refused, not dereferenced. */
    ASSERT_EQ(ft_store_camera_add(NULL, &c), FT_EINVAL);
    ASSERT_EQ(ft_store_stats(NULL, &nc, NULL, NULL, NULL, NULL), FT_EINVAL);
    ASSERT_EQ(ft_store_foreach_descriptor(NULL, NULL, NULL), FT_EINVAL);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Cameras                                                                  */
/* ------------------------------------------------------------------------ */

static void test_cameras(void)
{
    char path[128];
    tmp_db(path, "cams.ftdb");
    ft_store *st;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));

    ft_camera c = camera("km10-south", 10);
    c.has_latlon = 1;
    c.lat = 48.137154;
    c.lon = 11.576124;
    ASSERT_OK(ft_store_camera_add(st, &c));
    c = camera("km05-north", 5);
    ASSERT_OK(ft_store_camera_add(st, &c));
    c = camera("km05-east", 5);
    ASSERT_OK(ft_store_camera_add(st, &c));
    c = camera("start", 0);
    c.lat = 1e300; /* ignored: has_latlon is 0 */
    ASSERT_OK(ft_store_camera_add(st, &c));
    c = camera("km-1", -1.5);
    ASSERT_OK(ft_store_camera_add(st, &c));

    ft_camera got;
    ASSERT_OK(ft_store_camera_get(st, "km10-south", &got));
    ASSERT(strcmp(got.id, "km10-south") == 0);
    ASSERT(strcmp(got.name, "camera at km 10") == 0);
    ASSERT_EQ(got.km, 10);
    ASSERT_EQ(got.has_latlon, 1);
    ASSERT(got.lat == 48.137154 && got.lon == 11.576124);
    ASSERT_OK(ft_store_camera_get(st, "start", &got));
    ASSERT_EQ(got.has_latlon, 0);
    ASSERT_EQ(ft_store_camera_get(st, "nope", &got), FT_ENOTFOUND);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "no camera nope");
    ASSERT_EQ(ft_store_camera_get(st, "", &got), FT_EINVAL);
    ASSERT_EQ(ft_store_camera_get(st, NULL, &got), FT_EINVAL);

    /* Duplicates and bad values: refused, nothing changed. */
    c = camera("km05-north", 7);
    ASSERT_EQ(ft_store_camera_add(st, &c), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "camera km05-north exists");
    ASSERT_OK(ft_store_camera_get(st, "km05-north", &got));
    ASSERT_EQ(got.km, 5);
    const char *bad_ids[] = { "", "has space", "tab\there", "caf\xc3\xa9" };
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        c = camera(bad_ids[i], 1);
        ASSERT_EQ(ft_store_camera_add(st, &c), FT_EINVAL);
        ASSERT_STR_CONTAINS(ft_store_errmsg(st), "bad camera id");
    }
    c = camera("x", 1);
    memset(c.id, 'a', sizeof c.id); /* no NUL inside the field */
    ASSERT_EQ(ft_store_camera_add(st, &c), FT_EINVAL);
    c = camera("x", 1);
    memset(c.name, 'a', sizeof c.name);
    ASSERT_EQ(ft_store_camera_add(st, &c), FT_EINVAL);
    double bad_km[] = { NAN, INFINITY, -INFINITY };
    for (int i = 0; i < 3; i++) {
        c = camera("y", bad_km[i]);
        ASSERT_EQ(ft_store_camera_add(st, &c), FT_EINVAL);
        ASSERT_STR_CONTAINS(ft_store_errmsg(st), "km");
    }
    double bad_pos[][2] = { { 90.5, 0 }, { -91, 0 }, { 0, 180.1 },
                            { 0, -181 }, { NAN, 0 }, { 0, INFINITY } };
    for (int i = 0; i < 6; i++) {
        c = camera("z", 1);
        c.has_latlon = 1;
        c.lat = bad_pos[i][0];
        c.lon = bad_pos[i][1];
        ASSERT_EQ(ft_store_camera_add(st, &c), FT_EINVAL);
    }
    ASSERT_EQ(ft_store_camera_add(st, NULL), FT_EINVAL);

    /* Listing: by km, then id. */
    ft_camera *list;
    int n;
    ASSERT_OK(ft_store_cameras(st, &list, &n));
    ASSERT_EQ(n, 5);
    const char *order[] = { "km-1", "start", "km05-east", "km05-north", "km10-south" };
    for (int i = 0; i < 5; i++)
        if (strcmp(list[i].id, order[i]) != 0)
            ft_test_fail(__FILE__, __LINE__, "camera %d is %s, expected %s", i, list[i].id,
                         order[i]);
    ft_store_free(list);
    ASSERT_EQ(ft_store_cameras(st, NULL, &n), FT_EINVAL);
    ft_store_close(st);

    /* An empty list is NULL, 0. */
    tmp_db(path, "nocams.ftdb");
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    list = (ft_camera *)&n;
    ASSERT_OK(ft_store_cameras(st, &list, &n));
    ASSERT(list == NULL);
    ASSERT_EQ(n, 0);
    ft_store_close(st);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Ingest life cycle                                                        */
/* ------------------------------------------------------------------------ */

static void test_ingest_commit_resume(void)
{
    char path[128];
    int64_t ing;
    ft_store *st = store_with_ingest(path, "ingest.ftdb", &ing);
    ASSERT(ing > 0);
    ft_sighting *b = calloc(20, sizeof *b);
    ASSERT(b != NULL);

    /* Batch 1: tracks 0..9, 3 descriptors each. */
    for (int i = 0; i < 10; i++)
        make_sighting(&b[i], i, 3, NULL, 0);
    ASSERT_OK(ft_store_ingest_commit(st, ing, b, 10, 1000000, 50, 30));
    /* Batch 2: tracks 9..14; track 9 repeats with other data and must be skipped. */
    for (int i = 0; i < 6; i++)
        make_sighting(&b[i], 9 + i, 2, NULL, 0);
    b[0].quality = 0.125f;
    b[0].n_desc = 1;
    ASSERT_OK(ft_store_ingest_commit(st, ing, b, 6, 2000000, 40, 20));
    /* An empty commit moves the counters only. */
    ASSERT_OK(ft_store_ingest_commit(st, ing, NULL, 0, 2500000, 10, 0));

    int64_t ns, nd;
    ASSERT_OK(ft_store_stats(st, NULL, &ns, &nd, NULL, NULL));
    ASSERT_EQ(ns, 15);
    ASSERT_EQ(nd, 10 * 3 + 5 * 2);
    ft_ingest in;
    ASSERT_OK(ft_store_ingest_get(st, ing, &in));
    ASSERT_EQ(in.id, ing);
    ASSERT(strcmp(in.camera_id, "km05") == 0 && strcmp(in.source, "cam5.mp4") == 0);
    ASSERT_EQ(in.start_us, T0);
    ASSERT_EQ(in.sample_fps, 5.0);
    ASSERT_EQ(in.status, FT_INGEST_RUNNING);
    ASSERT_EQ(in.checkpoint_us, 2500000);
    ASSERT_EQ(in.frames, 100);
    ASSERT_EQ(in.faces, 50);
    ASSERT_EQ(in.n_sightings, 15);
    ASSERT_EQ(in.finished_us, -1);
    ASSERT(in.started_us > T0 - 86400000000LL * 3650);
    ASSERT_EQ(ft_store_ingest_get(st, ing + 100, &in), FT_ENOTFOUND);

    /* Track 9 kept its first version. */
    int64_t id9 = count_rows(path, "SELECT id FROM sightings WHERE track_key = 9");
    ft_sighting got;
    ASSERT_OK(ft_store_sighting_get(st, id9, &got, NULL));
    ASSERT_EQ(got.n_desc, 3);
    ASSERT_NEAR(got.quality, 0.5f + 0.009f, 1e-7);

    /* The checkpoint never moves back. */
    ASSERT_OK(ft_store_ingest_commit(st, ing, NULL, 0, 500, 0, 0));
    ASSERT_OK(ft_store_ingest_get(st, ing, &in));
    ASSERT_EQ(in.checkpoint_us, 2500000);

    /* A crash: begin again resumes at the checkpoint, same id. */
    int64_t again, resume;
    ASSERT_OK(ft_store_ingest_begin(st, "km05", "cam5.mp4", T0, 5.0, &again, &resume));
    ASSERT_EQ(again, ing);
    ASSERT_EQ(resume, 2500000);
    ASSERT_EQ(ft_store_ingest_begin(st, "km05", "cam5.mp4", T0, 10.0, &again, &resume), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "frames/s");
    /* Other names are other ingests. */
    int64_t other;
    ASSERT_OK(ft_store_ingest_begin(st, "km05", "cam5.mp4", T0 + 1, 5.0, &other, &resume));
    ASSERT(other != ing);
    ASSERT_EQ(resume, -1);
    ASSERT_EQ(ft_store_ingest_begin(st, "km99", "cam5.mp4", T0, 5.0, &other, &resume),
              FT_ENOTFOUND);
    ASSERT_EQ(ft_store_ingest_begin(st, "km05", "", T0, 5.0, &other, &resume), FT_EINVAL);
    ASSERT_EQ(ft_store_ingest_begin(st, "km05", NULL, T0, 5.0, &other, &resume), FT_EINVAL);
    ASSERT_EQ(ft_store_ingest_begin(st, "km05", "v", T0, NAN, &other, &resume), FT_EINVAL);
    ASSERT_EQ(ft_store_ingest_begin(st, "km05", "v", T0, -1, &other, &resume), FT_EINVAL);
    ASSERT_EQ(ft_store_ingest_begin_ex(st, "km05", "v", T0, 5, 8, &other, &resume), FT_EINVAL);
    ASSERT_EQ(ft_store_ingest_begin(st, "km05", "v", T0, 5, NULL, &resume), FT_EINVAL);

    /* Failed, then resumed. */
    ASSERT_OK(ft_store_ingest_finish(st, ing, FT_INGEST_FAILED, "decoder: broken stream"));
    ASSERT_OK(ft_store_ingest_get(st, ing, &in));
    ASSERT_EQ(in.status, FT_INGEST_FAILED);
    ASSERT(strcmp(in.error, "decoder: broken stream") == 0);
    ASSERT(in.finished_us > 0);
    ASSERT_EQ(ft_store_ingest_commit(st, ing, b, 1, 3000000, 0, 0), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "not running");
    ASSERT_EQ(ft_store_ingest_finish(st, ing, FT_INGEST_DONE, NULL), FT_EINVAL);
    ASSERT_OK(ft_store_ingest_begin(st, "km05", "cam5.mp4", T0, 5.0, &again, &resume));
    ASSERT_EQ(again, ing);
    ASSERT_EQ(resume, 2500000);
    ASSERT_OK(ft_store_ingest_get(st, ing, &in));
    ASSERT_EQ(in.status, FT_INGEST_RUNNING);
    ASSERT(in.error[0] == 0);
    ASSERT_EQ(in.finished_us, -1);

    /* Done: begin refuses, commit and finish refuse. */
    ASSERT_EQ(ft_store_ingest_finish(st, ing, FT_INGEST_RUNNING, NULL), FT_EINVAL);
    ASSERT_EQ(ft_store_ingest_finish(st, ing, 7, NULL), FT_EINVAL);
    ASSERT_OK(ft_store_ingest_finish(st, ing, FT_INGEST_DONE, NULL));
    ASSERT_EQ(ft_store_ingest_begin(st, "km05", "cam5.mp4", T0, 5.0, &again, &resume), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "already ingested");
    ASSERT_EQ(ft_store_ingest_commit(st, ing, b, 1, 3000000, 0, 0), FT_EINVAL);
    ASSERT_EQ(ft_store_ingest_finish(st, ing, FT_INGEST_DONE, NULL), FT_EINVAL);
    ASSERT_EQ(ft_store_ingest_finish(st, ing + 100, FT_INGEST_DONE, NULL), FT_ENOTFOUND);
    ASSERT_EQ(ft_store_ingest_commit(st, ing + 100, b, 1, 0, 0, 0), FT_ENOTFOUND);
    ASSERT_OK(ft_store_stats(st, NULL, &ns, &nd, NULL, NULL));
    ASSERT_EQ(ns, 15);

    /* Force: the earlier run's sightings and descriptors go, the id stays. */
    ASSERT_OK(ft_store_ingest_begin_ex(st, "km05", "cam5.mp4", T0, 2.0, FT_INGEST_FORCE, &again,
                                       &resume));
    ASSERT_EQ(again, ing);
    ASSERT_EQ(resume, -1);
    ASSERT_OK(ft_store_ingest_get(st, ing, &in));
    ASSERT_EQ(in.status, FT_INGEST_RUNNING);
    ASSERT_EQ(in.checkpoint_us, -1);
    ASSERT_EQ(in.frames, 0);
    ASSERT_EQ(in.n_sightings, 0);
    ASSERT_EQ(in.sample_fps, 2.0);
    ASSERT_OK(ft_store_stats(st, NULL, &ns, &nd, NULL, NULL));
    ASSERT_EQ(ns, 0);
    ASSERT_EQ(nd, 0);
    ft_store_close(st);
    assert_integrity(path);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM pragma_foreign_key_check"), 0);

    /* A long error text is kept, cut to 4000 bytes. */
    ASSERT_OK(ft_store_open(path, 0, &st));
    char *longtext = malloc(10001);
    ASSERT(longtext != NULL);
    memset(longtext, 'e', 10000);
    longtext[10000] = 0;
    ASSERT_OK(ft_store_ingest_finish(st, ing, FT_INGEST_FAILED, longtext));
    free(longtext);
    ft_store_close(st);
    ASSERT_EQ(count_rows(path, "SELECT length(error) FROM ingests WHERE status = 'failed'"), 4000);
    free(b);
    no_leaks();
}

static void test_commit_rejects_bad_sightings(void)
{
    char path[128];
    int64_t ing;
    ft_store *st = store_with_ingest(path, "bad.ftdb", &ing);
    ft_sighting *b = calloc(10, sizeof *b);
    ASSERT(b != NULL);
    static const unsigned char jpeg_start[] = { 0xFF, 0xD8, 0xFF, 0xE0, 0, 0 };
    static const unsigned char not_jpeg[] = { 0x89, 'P', 'N', 'G', 0, 0 };

    for (int variant = 0; variant < 15; variant++) {
        for (int i = 0; i < 10; i++)
            make_sighting(&b[i], i, 3, jpeg_start, sizeof jpeg_start);
        ft_sighting *x = &b[5]; /* the bad one sits in the middle of the batch */
        int want = FT_EINVAL;
        switch (variant) {
        case 0: x->best_us = x->last_us + 1; break;
        case 1: x->first_us = x->best_us + 1; break;
        case 2: x->box[1] = NAN; break;
        case 3: x->box[2] = -1; break;
        case 4: x->face_px = INFINITY; break;
        case 5: x->n_desc = 4; break;
        case 6: x->n_desc = -1; break;
        case 7: x->desc[2][127] = NAN; break;
        case 8: x->thumbnail = not_jpeg; break;
        case 9: x->thumbnail = NULL; break;
        case 10:
            x->thumbnail_len = FT_STORE_THUMB_MAX + 1;
            want = FT_ETOOBIG;
            break;
        case 11: snprintf(x->camera_id, sizeof x->camera_id, "km06"); break;
        case 12: memset(x->camera_id, 'k', sizeof x->camera_id); break;
        case 13: x->ingest_id = ing + 1; break;
        case 14: x->n_frames = -3; break;
        }
        int rc = ft_store_ingest_commit(st, ing, b, 10, 1000, 1, 1);
        if (rc != want)
            ft_test_fail(__FILE__, __LINE__, "variant %d: %d (%s)", variant, rc,
                         ft_store_errmsg(st));
        ASSERT_STR_CONTAINS(ft_store_errmsg(st), "sighting 5");
    }
    ASSERT_EQ(ft_store_ingest_commit(st, ing, b, -1, 1000, 1, 1), FT_EINVAL);
    ASSERT_EQ(ft_store_ingest_commit(st, ing, NULL, 3, 1000, 1, 1), FT_EINVAL);
    ASSERT_EQ(ft_store_ingest_commit(st, ing, b, 1, -5, 1, 1), FT_EINVAL);
    ASSERT_EQ(ft_store_ingest_commit(st, ing, b, 1, 0, -1, 1), FT_EINVAL);

    /* Nothing of any of those batches was stored. */
    int64_t ns, nd;
    ASSERT_OK(ft_store_stats(st, NULL, &ns, &nd, NULL, NULL));
    ASSERT_EQ(ns, 0);
    ASSERT_EQ(nd, 0);
    ft_ingest in;
    ASSERT_OK(ft_store_ingest_get(st, ing, &in));
    ASSERT_EQ(in.checkpoint_us, -1);
    ASSERT_EQ(in.frames, 0);

    /* The right camera id and ingest id are accepted; a thumbnail-less one too. */
    for (int i = 0; i < 10; i++) {
        make_sighting(&b[i], i, i % 4, i % 2 ? jpeg_start : NULL, i % 2 ? sizeof jpeg_start : 0);
        if (i == 3) snprintf(b[i].camera_id, sizeof b[i].camera_id, "km05");
        if (i == 4) b[i].ingest_id = ing;
    }
    ASSERT_OK(ft_store_ingest_commit(st, ing, b, 10, 1000, 1, 1));
    ASSERT_OK(ft_store_stats(st, NULL, &ns, &nd, NULL, NULL));
    ASSERT_EQ(ns, 10);
    ASSERT_EQ(nd, 0 + 1 + 2 + 3 + 0 + 1 + 2 + 3 + 0 + 1);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM thumbnails"), 5);

    /* A failure after every row of a batch is written rolls all of it back. */
    for (int i = 0; i < 10; i++)
        make_sighting(&b[i], 100 + i, 3, jpeg_start, sizeof jpeg_start);
    ft__store_test_hook = fail_io;
    ASSERT_EQ(ft_store_ingest_commit(st, ing, b, 10, 5000, 1, 1), FT_EIO);
    ft__store_test_hook = NULL;
    ASSERT_OK(ft_store_stats(st, NULL, &ns, &nd, NULL, NULL));
    ASSERT_EQ(ns, 10);
    ASSERT_EQ(nd, 13);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM thumbnails"), 5);
    ASSERT_OK(ft_store_ingest_get(st, ing, &in));
    ASSERT_EQ(in.checkpoint_us, 1000);
    ASSERT_EQ(in.frames, 1);
    /* ... and the same batch then goes in whole. */
    ASSERT_OK(ft_store_ingest_commit(st, ing, b, 10, 5000, 1, 1));
    ASSERT_OK(ft_store_stats(st, NULL, &ns, &nd, NULL, NULL));
    ASSERT_EQ(ns, 20);
    ASSERT_EQ(nd, 43);
    ft_store_close(st);
    free(b);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                              */
/* ------------------------------------------------------------------------ */

typedef struct walk_ctx {
    ft_store *st;
    const ft_sighting *want; /* by track key = index */
    int64_t *ids;            /* sighting id by index */
    int n;
    int seen;
    int stop_at;
} walk_ctx;

static int on_descriptor(int64_t sid, int n, const float *vec, void *p)
{
    walk_ctx *w = p;
    int i = 0;
    while (i < w->n && w->ids[i] != sid)
        i++;
    if (i == w->n || n < 0 || n >= w->want[i].n_desc)
        ft_test_fail(__FILE__, __LINE__, "unexpected descriptor (%lld, %d)", (long long)sid, n);
    if (memcmp(vec, w->want[i].desc[n], FT__DESC_BYTES) != 0)
        ft_test_fail(__FILE__, __LINE__, "descriptor (%lld, %d) differs", (long long)sid, n);
    w->seen++;
    if (w->seen == 1) {
        /* Reads are allowed inside a walk; walks and writes are not. */
        ft_sighting s;
        ASSERT_OK(ft_store_sighting_get(w->st, sid, &s, NULL));
        ASSERT_EQ(s.id, sid);
        ASSERT_OK(ft_store_stats(w->st, NULL, NULL, NULL, NULL, NULL));
        ASSERT_EQ(ft_store_foreach_descriptor(w->st, on_descriptor, w), FT_EINVAL);
        ASSERT_EQ(ft_store_ingest_commit(w->st, 1, NULL, 0, 0, 0, 0), FT_EINVAL);
        ASSERT_STR_CONTAINS(ft_store_errmsg(w->st), "walk");
    }
    return w->seen == w->stop_at ? 42 : 0;
}

static void test_descriptors_roundtrip(void)
{
    char path[128];
    int64_t ing;
    ft_store *st = store_with_ingest(path, "desc.ftdb", &ing);
    enum { N = 40 };
    ft_sighting *b = calloc(N, sizeof *b);
    int64_t *ids = calloc(N, sizeof *ids);
    ASSERT(b && ids);
    int total = 0;
    for (int i = 0; i < N; i++) {
        make_sighting(&b[i], i, i % 4, NULL, 0);
        for (int k = 0; k < b[i].n_desc; k++) {
            for (int d = 0; d < FT_DESCRIPTOR_DIM; d++)
                b[i].desc[k][d] = rnd_finite();
            b[i].desc_quality[k] = rnd_finite();
        }
        b[i].desc[0][0] = -0.0f;  /* sign of zero kept */
        b[i].desc[0][1] = 1e-45f; /* smallest denormal */
        b[i].desc[0][2] = 3.4028235e38f;
        total += b[i].n_desc;
    }
    ASSERT_OK(ft_store_ingest_commit(st, ing, b, N / 2, 1, 0, 0));
    ASSERT_OK(ft_store_ingest_commit(st, ing, b + N / 2, N / 2, 2, 0, 0));
    for (int i = 0; i < N; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT id FROM sightings WHERE track_key = %d", i);
        ids[i] = count_rows(path, sql);
        ft_sighting got;
        ASSERT_OK(ft_store_sighting_get(st, ids[i], &got, NULL));
        ASSERT_EQ(got.id, ids[i]);
        ASSERT_EQ(got.ingest_id, ing);
        ASSERT(strcmp(got.camera_id, "km05") == 0);
        ASSERT_EQ(got.track_key, i);
        ASSERT_EQ(got.first_us, b[i].first_us);
        ASSERT_EQ(got.best_us, b[i].best_us);
        ASSERT_EQ(got.last_us, b[i].last_us);
        ASSERT(memcmp(got.box, b[i].box, sizeof got.box) == 0);
        ASSERT(got.face_px == b[i].face_px && got.det_score == b[i].det_score);
        ASSERT(got.quality == b[i].quality);
        ASSERT_EQ(got.n_frames, b[i].n_frames);
        ASSERT_EQ(got.n_desc, b[i].n_desc);
        for (int k = 0; k < got.n_desc; k++) {
            ASSERT(memcmp(got.desc[k], b[i].desc[k], FT__DESC_BYTES) == 0);
            ASSERT(memcmp(&got.desc_quality[k], &b[i].desc_quality[k], 4) == 0);
        }
        ASSERT(got.thumbnail == NULL);
        ASSERT_EQ(got.thumbnail_len, 0);
    }
    ft_sighting got;
    ASSERT_EQ(ft_store_sighting_get(st, 999999, &got, NULL), FT_ENOTFOUND);
    ASSERT_EQ(ft_store_sighting_get(st, ids[0], NULL, NULL), FT_EINVAL);

    walk_ctx w = { st, b, ids, N, 0, -1 };
    ASSERT_OK(ft_store_foreach_descriptor(st, on_descriptor, &w));
    ASSERT_EQ(w.seen, total);
    w.seen = 0;
    w.stop_at = 5;
    ASSERT_EQ(ft_store_foreach_descriptor(st, on_descriptor, &w), 42);
    ASSERT_EQ(w.seen, 5);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "stopped");
    ASSERT_EQ(ft_store_foreach_descriptor(st, NULL, &w), FT_EINVAL);
    /* The walk was reset: a write works now. */
    ASSERT_OK(ft_store_ingest_commit(st, ing, NULL, 0, 3, 0, 0));
    ft_store_close(st);

    /* A stored vector of the wrong size (written behind the store's back,
    ** dropping the CHECK by rebuilding the table) is FT_EFORMAT on read. */
    raw_exec(path, "PRAGMA foreign_keys = OFF; PRAGMA ignore_check_constraints = ON;"
                   "UPDATE descriptors SET vec = x'00112233' WHERE rowid = "
                   "(SELECT max(rowid) FROM descriptors)");
    ASSERT_OK(ft_store_open(path, 0, &st));
    w.st = st;
    w.seen = 0;
    w.stop_at = -1;
    ASSERT_EQ(ft_store_foreach_descriptor(st, on_descriptor, &w), FT_EFORMAT);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "has 4 bytes");
    ASSERT_EQ(w.seen, total - 1);
    int64_t bad_sid = count_rows(path, "SELECT sighting_id FROM descriptors WHERE "
                                       "length(vec) = 4");
    ASSERT_EQ(ft_store_sighting_get(st, bad_sid, &got, NULL), FT_EFORMAT);
    ft_store_close(st);
    free(b);
    free(ids);
    no_leaks();
}

/* A w x h test image: smooth gradients (JPEG-friendly). */
static ft_image *gradient_image(int w, int h)
{
    ft_image *img;
    ASSERT_OK(ft_image_create(w, h, &img));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(y * 255 / (h - 1));
            p[2] = (uint8_t)(128 + (x - y) / 4);
        }
    return img;
}

static void test_thumbnail_roundtrip(void)
{
    char err[256];
    ft_image *img = gradient_image(64, 48);
    unsigned char *jpeg = NULL;
    size_t len = 0;
    ASSERT_OK(ft_image_encode_jpeg(img, 90, &jpeg, &len, err, sizeof err));
    ASSERT(jpeg != NULL && len > 100 && len < 64 * 48 * 3);
    ASSERT(jpeg[0] == 0xFF && jpeg[1] == 0xD8 && jpeg[len - 2] == 0xFF && jpeg[len - 1] == 0xD9);
    ft_image *back;
    ASSERT_OK(ft_image_decode(jpeg, len, "thumb", 0, &back, err, sizeof err));
    ASSERT_EQ(back->width, 64);
    ASSERT_EQ(back->height, 48);
    double sum = 0;
    int maxd = 0;
    for (size_t i = 0; i < (size_t)64 * 48 * 3; i++) {
        int d = abs((int)back->rgb[i] - (int)img->rgb[i]);
        sum += d;
        if (d > maxd) maxd = d;
    }
    ASSERT(sum / (64 * 48 * 3) < 3.0);
    ASSERT(maxd < 40);
    ft_image_destroy(back);

    /* Through the store, byte for byte. */
    char path[128];
    int64_t ing;
    ft_store *st = store_with_ingest(path, "thumb.ftdb", &ing);
    ft_sighting s;
    make_sighting(&s, 1, 1, jpeg, len);
    ASSERT_OK(ft_store_ingest_commit(st, ing, &s, 1, 10, 1, 1));
    int64_t sid = count_rows(path, "SELECT id FROM sightings");
    ft_sighting got;
    unsigned char *thumb = (unsigned char *)&got;
    ASSERT_OK(ft_store_sighting_get(st, sid, &got, &thumb));
    ASSERT(thumb != NULL && got.thumbnail == thumb);
    ASSERT_EQ(got.thumbnail_len, len);
    ASSERT(memcmp(thumb, jpeg, len) == 0);
    ft_store_free(thumb);
    ASSERT_OK(ft_store_sighting_get(st, sid, &got, NULL));
    ASSERT(got.thumbnail == NULL);
    ASSERT_EQ(got.thumbnail_len, len);
    ft_store_close(st);
    ft_store_free(jpeg);

    /* Sizes that are not multiples of the MCU, quality extremes, 1x1. */
    int sizes[][2] = { { 1, 1 }, { 17, 3 }, { 160, 161 } };
    for (int i = 0; i < 3; i++) {
        ft_image *im;
        ASSERT_OK(ft_image_create(sizes[i][0], sizes[i][1], &im));
        for (size_t k = 0; k < (size_t)sizes[i][0] * (size_t)sizes[i][1] * 3; k++)
            im->rgb[k] = (uint8_t)rnd(); /* noise: the worst case for size */
        for (int q = 1; q <= 100; q += 99) {
            ASSERT_OK(ft_image_encode_jpeg(im, q, &jpeg, &len, err, sizeof err));
            ASSERT_OK(ft_image_decode(jpeg, len, "t", 0, &back, err, sizeof err));
            ASSERT_EQ(back->width, sizes[i][0]);
            ASSERT_EQ(back->height, sizes[i][1]);
            ft_image_destroy(back);
            ft_store_free(jpeg);
        }
        ft_image_destroy(im);
    }

    /* Bad arguments. */
    ASSERT_EQ(ft_image_encode_jpeg(img, 0, &jpeg, &len, err, sizeof err), FT_EINVAL);
    ASSERT(jpeg == NULL && len == 0);
    ASSERT_STR_CONTAINS(err, "quality");
    ASSERT_EQ(ft_image_encode_jpeg(img, 101, &jpeg, &len, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_image_encode_jpeg(NULL, 90, &jpeg, &len, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_image_encode_jpeg(img, 90, NULL, &len, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_image_encode_jpeg(img, 90, &jpeg, &len, NULL, 0), FT_OK);
    ft_store_free(jpeg);
    ft_image_destroy(img);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Time-range reads and stats                                               */
/* ------------------------------------------------------------------------ */

typedef struct list_ctx {
    int64_t best[64];
    int64_t id[64];
    char cam[64][FT_CAMERA_ID_MAX];
    int n_desc[64];
    int n;
} list_ctx;

static int on_sighting(const ft_sighting *s, void *p)
{
    list_ctx *l = p;
    ASSERT(l->n < 64);
    ASSERT(s->thumbnail == NULL);
    l->best[l->n] = s->best_us;
    l->id[l->n] = s->id;
    snprintf(l->cam[l->n], FT_CAMERA_ID_MAX, "%s", s->camera_id);
    l->n_desc[l->n] = s->n_desc;
    l->n++;
    return 0;
}

static void test_sightings_between(void)
{
    char path[128];
    int64_t ing5, ing9, resume;
    ft_store *st = store_with_ingest(path, "range.ftdb", &ing5);
    ft_camera c = camera("km09", 9);
    ASSERT_OK(ft_store_camera_add(st, &c));
    ASSERT_OK(ft_store_ingest_begin(st, "km09", "cam9.mp4", T0, 5.0, &ing9, &resume));
    static const unsigned char jpeg_start[] = { 0xFF, 0xD8, 0xFF, 0xE0 };
    ft_sighting b[6];
    /* best_us: km05 at 0.2, 1.2, 2.2, 3.2 s; km09 at 1.2, 5.2 s (keys 1 and 5). */
    for (int i = 0; i < 4; i++)
        make_sighting(&b[i], i, 1, jpeg_start, sizeof jpeg_start);
    ASSERT_OK(ft_store_ingest_commit(st, ing5, b, 4, 1, 0, 0));
    make_sighting(&b[0], 5, 2, NULL, 0);
    make_sighting(&b[1], 1, 3, NULL, 0);
    ASSERT_OK(ft_store_ingest_commit(st, ing9, b, 2, 1, 0, 0));

    list_ctx l;
    memset(&l, 0, sizeof l);
    ASSERT_OK(ft_store_sightings_between(st, T0, T0 + 10000000, NULL, on_sighting, &l));
    ASSERT_EQ(l.n, 6);
    for (int i = 1; i < l.n; i++)
        ASSERT(l.best[i - 1] < l.best[i] || (l.best[i - 1] == l.best[i] && l.id[i - 1] < l.id[i]));
    ASSERT_EQ(l.best[0], T0 + 200000);
    ASSERT_EQ(l.best[1], T0 + 1200000);
    ASSERT_EQ(l.best[2], T0 + 1200000); /* the tie, in id order: km05's first */
    ASSERT(strcmp(l.cam[1], "km05") == 0 && strcmp(l.cam[2], "km09") == 0);
    ASSERT_EQ(l.n_desc[2], 3);
    ASSERT_EQ(l.best[5], T0 + 5200000);

    /* Half-open: [1.2 s, 3.2 s) of km05 holds 1.2 and 2.2. */
    memset(&l, 0, sizeof l);
    ASSERT_OK(ft_store_sightings_between(st, T0 + 1200000, T0 + 3200000, "km05", on_sighting, &l));
    ASSERT_EQ(l.n, 2);
    ASSERT_EQ(l.best[0], T0 + 1200000);
    ASSERT_EQ(l.best[1], T0 + 2200000);
    memset(&l, 0, sizeof l);
    ASSERT_OK(ft_store_sightings_between(st, T0, T0, NULL, on_sighting, &l));
    ASSERT_EQ(l.n, 0);
    ASSERT_OK(ft_store_sightings_between(st, T0, T0 + 10000000, "nobody", on_sighting, &l));
    ASSERT_EQ(l.n, 0);
    ASSERT_EQ(ft_store_sightings_between(st, T0 + 1, T0, NULL, on_sighting, &l), FT_EINVAL);
    ASSERT_EQ(ft_store_sightings_between(st, T0, T0 + 1, "bad id", on_sighting, &l), FT_EINVAL);
    ASSERT_EQ(ft_store_sightings_between(st, T0, T0 + 1, NULL, NULL, &l), FT_EINVAL);

    int64_t nc, ns, nd, lo, hi;
    ASSERT_OK(ft_store_stats(st, &nc, &ns, &nd, &lo, &hi));
    ASSERT_EQ(nc, 2);
    ASSERT_EQ(ns, 6);
    ASSERT_EQ(nd, 4 + 2 + 3);
    ASSERT_EQ(lo, T0);
    ASSERT_EQ(hi, T0 + 5500000);
    ft_store_close(st);
    no_leaks();
}

/* Two handles on one file: the reader sees each commit once it returns. */
static void test_two_handles(void)
{
    char path[128];
    int64_t ing;
    ft_store *w = store_with_ingest(path, "two.ftdb", &ing);
    ft_store *r;
    ASSERT_OK(ft_store_open(path, FT_STORE_READONLY, &r));
    ft_sighting s;
    int64_t ns;
    for (int i = 0; i < 5; i++) {
        make_sighting(&s, i, 1, NULL, 0);
        ASSERT_OK(ft_store_ingest_commit(w, ing, &s, 1, i, 0, 0));
        ASSERT_OK(ft_store_stats(r, NULL, &ns, NULL, NULL, NULL));
        ASSERT_EQ(ns, i + 1);
    }
    ft_store_close(r);
    ft_store_close(w);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Crash safety                                                             */
/* ------------------------------------------------------------------------ */

#define CHILD_CHECK(c)                                                         \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "#   child: %s:%d: %s\n", __FILE__, __LINE__, #c); \
            _exit(3);                                                          \
        }                                                                      \
    } while (0)

enum { BIG_BATCH = 600, THUMB_BYTES = 6000 };

static void test_crash_inside_commit(void)
{
    char path[128], wal[160];
    tmp_db(path, "crash.ftdb");
    snprintf(wal, sizeof wal, "%s-wal", path);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ft_store *st;
        CHILD_CHECK(ft_store_open(path, FT_STORE_CREATE, &st) == FT_OK);
        ft_camera c = camera("km05", 5);
        CHILD_CHECK(ft_store_camera_add(st, &c) == FT_OK);
        int64_t ing, resume;
        CHILD_CHECK(ft_store_ingest_begin(st, "km05", "v.mp4", T0, 5, &ing, &resume) == FT_OK);
        static ft_sighting b[BIG_BATCH];
        static unsigned char thumb[THUMB_BYTES];
        thumb[0] = 0xFF, thumb[1] = 0xD8, thumb[2] = 0xFF;
        for (int i = 3; i < THUMB_BYTES; i++)
            thumb[i] = (unsigned char)(i * 7);
        for (int i = 0; i < 10; i++)
            make_sighting(&b[i], i, 3, thumb, sizeof thumb);
        CHILD_CHECK(ft_store_ingest_commit(st, ing, b, 10, 1000000, 10, 10) == FT_OK);
        /* Second batch: ~4 MB, more than the 2 MB page cache, so SQLite spills
        ** uncommitted pages into the WAL before the hook kills us. */
        for (int i = 0; i < BIG_BATCH; i++)
            make_sighting(&b[i], 10 + i, 3, thumb, sizeof thumb);
        ft__store_test_hook = kill_self;
        ft_store_ingest_commit(st, ing, b, BIG_BATCH, 2000000, 10, 10);
        _exit(4); /* not reached */
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        ft_test_fail(__FILE__, __LINE__, "child was not killed (status 0x%x)", status);
    /* The uncommitted batch reached the WAL file before the kill. */
    long long wal_bytes = file_size(wal);
    if (wal_bytes < 1000000)
        ft_test_fail(__FILE__, __LINE__, "WAL holds only %lld bytes", wal_bytes);

    ft_store *st;
    ASSERT_OK(ft_store_open(path, 0, &st));
    int64_t ns, nd;
    ASSERT_OK(ft_store_stats(st, NULL, &ns, &nd, NULL, NULL));
    ASSERT_EQ(ns, 10);
    ASSERT_EQ(nd, 30);
    ASSERT_OK(ft_store_check(st));
    int64_t ing, resume;
    ASSERT_OK(ft_store_ingest_begin(st, "km05", "v.mp4", T0, 5, &ing, &resume));
    ASSERT_EQ(resume, 1000000);
    ft_ingest in;
    ASSERT_OK(ft_store_ingest_get(st, ing, &in));
    ASSERT_EQ(in.frames, 10);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM thumbnails"), 10);
    ft_store_close(st);
    assert_integrity(path);
    no_leaks();
}

enum { KILL_BATCH = 20, KILL_ROUNDS = 8 };

/* A writer that resumes at the checkpoint and commits batches forever:
** batch k holds tracks (k - 1) * KILL_BATCH .. k * KILL_BATCH - 1 plus a
** replay of the previous batch's last 3 tracks, and checkpoint k * 1000. */
static void endless_writer(const char *path)
{
    ft_store *st;
    CHILD_CHECK(ft_store_open(path, FT_STORE_CREATE, &st) == FT_OK);
    ft_camera c = camera("km05", 5);
    int rc = ft_store_camera_add(st, &c);
    CHILD_CHECK(rc == FT_OK || rc == FT_EINVAL);
    int64_t ing, resume;
    CHILD_CHECK(ft_store_ingest_begin(st, "km05", "v.mp4", T0, 5, &ing, &resume) == FT_OK);
    int64_t k = resume < 0 ? 0 : resume / 1000;
    CHILD_CHECK(resume < 0 || resume % 1000 == 0);
    static ft_sighting b[KILL_BATCH + 3];
    static const unsigned char jpeg[2000] = { 0xFF, 0xD8, 0xFF };
    for (;;) {
        k++;
        int n = 0;
        for (int64_t t = (k - 1) * KILL_BATCH - 3; t < k * KILL_BATCH; t++)
            if (t >= 0) make_sighting(&b[n++], t, 3, jpeg, sizeof jpeg);
        CHILD_CHECK(ft_store_ingest_commit(st, ing, b, n, k * 1000, 7, 3) == FT_OK);
    }
}

static void test_crash_random_kills(void)
{
    char path[128];
    tmp_db(path, "kills.ftdb");
    rng_state = (uint64_t)time(NULL) * 2654435761u + 1;
    for (int round = 0; round < KILL_ROUNDS; round++) {
        fflush(NULL);
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) endless_writer(path);
        usleep(20000 + rnd() % 200000);
        kill(pid, SIGKILL);
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status))
            ft_test_fail(__FILE__, __LINE__, "writer stopped by itself (status 0x%x)", status);
    }
    /* Exactly the committed batches are there, whole, and nothing twice. */
    ft_store *st;
    ASSERT_OK(ft_store_open(path, 0, &st));
    ASSERT_OK(ft_store_check(st));
    int64_t ing, resume;
    ASSERT_OK(ft_store_ingest_begin(st, "km05", "v.mp4", T0, 5, &ing, &resume));
    ASSERT(resume > 0);
    int64_t batches = resume / 1000;
    ft_ingest in;
    ASSERT_OK(ft_store_ingest_get(st, ing, &in));
    ASSERT_EQ(in.n_sightings, batches * KILL_BATCH);
    ASSERT_EQ(in.frames, batches * 7);
    int64_t nd;
    ASSERT_OK(ft_store_stats(st, NULL, NULL, &nd, NULL, NULL));
    ASSERT_EQ(nd, batches * KILL_BATCH * 3);
    ASSERT_EQ(count_rows(path, "SELECT max(track_key) FROM sightings"), batches * KILL_BATCH - 1);
    ft_store_close(st);
    assert_integrity(path);
    printf("# %d kills, %lld batches committed\n", KILL_ROUNDS, (long long)batches);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Hostile files, versions, migrations                                      */
/* ------------------------------------------------------------------------ */

static void test_not_a_database(void)
{
    char path[128];
    ft_store *st;
    tmp_db(path, "random.bin");
    unsigned char junk[16384];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)rnd();
    write_bytes(path, junk, sizeof junk);
    ASSERT_EQ(ft_store_open(path, 0, &st), FT_EFORMAT);
    ASSERT(st == NULL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(NULL), "not a facetrail database");
    ASSERT_EQ(ft_store_open(path, FT_STORE_CREATE, &st), FT_EFORMAT);
    ASSERT_EQ(ft_store_open(path, FT_STORE_READONLY, &st), FT_EFORMAT);

    /* SQLite's magic followed by garbage. */
    memcpy(junk, "SQLite format 3", 16);
    write_bytes(path, junk, sizeof junk);
    int rc = ft_store_open(path, 0, &st);
    ASSERT(rc == FT_EFORMAT || rc == FT_EIO);
    ASSERT(st == NULL);

    /* A text file. */
    const char *text = "camera,km\nkm05,5\n";
    write_bytes(path, text, strlen(text));
    ASSERT_EQ(ft_store_open(path, 0, &st), FT_EFORMAT);

    /* An empty file is an empty SQLite database: version 0, upgraded. */
    write_bytes(path, "", 0);
    ASSERT_OK(ft_store_open(path, 0, &st));
    ft_store_close(st);
    ASSERT_EQ(count_rows(path, "PRAGMA user_version"), FT_STORE_SCHEMA_VERSION);
    rm_db(path);

    /* Another program's SQLite database is refused and left untouched. */
    tmp_db(path, "other.sqlite");
    raw_exec(path, "CREATE TABLE notes(x); INSERT INTO notes VALUES ('keep me')");
    ASSERT_EQ(ft_store_open(path, 0, &st), FT_EFORMAT);
    ASSERT_STR_CONTAINS(ft_store_errmsg(NULL), "another program");
    ASSERT_EQ(count_rows(path, "PRAGMA user_version"), 0);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM sqlite_schema"), 1);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM pragma_journal_mode WHERE "
                               "journal_mode = 'delete'"),
              1);
    raw_exec(path, "PRAGMA user_version = 1");
    ASSERT_EQ(ft_store_open(path, 0, &st), FT_EFORMAT); /* versioned, but no application_id */
    no_leaks();
}

static void test_truncated_database(void)
{
    char path[128];
    int64_t ing;
    ft_store *st = store_with_ingest(path, "trunc.ftdb", &ing);
    static unsigned char thumb[3000] = { 0xFF, 0xD8, 0xFF };
    ft_sighting *b = calloc(100, sizeof *b);
    ASSERT(b != NULL);
    for (int i = 0; i < 100; i++)
        make_sighting(&b[i], i, 3, thumb, sizeof thumb);
    for (int j = 0; j < 3; j++) {
        for (int i = 0; i < 100; i++)
            b[i].track_key = j * 100 + i;
        ASSERT_OK(ft_store_ingest_commit(st, ing, b, 100, j + 1, 0, 0));
    }
    free(b);
    ft_store_close(st); /* checkpoints: everything is in the main file now */
    long long full = file_size(path);
    ASSERT(full > 1000000);

    long long cuts[] = { full / 2, full / 5, 4096 + 100, 100, 0 };
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ(truncate(path, cuts[i]), 0);
        int rc = ft_store_open(path, 0, &st);
        ASSERT(rc <= 0);
        if (rc != FT_OK) {
            ASSERT(st == NULL);
            continue;
        }
        if (cuts[i] == 0) { /* zero bytes: an empty database, upgraded */
            ft_store_close(st);
            continue;
        }
        /* Opened (the header survived): every read is OK or an error, never a
        ** crash, and the integrity check finds the damage. */
        int64_t ns;
        ASSERT(ft_store_stats(st, NULL, &ns, NULL, NULL, NULL) <= 0);
        int64_t total = 0;
        for (int64_t id = 1; id <= 300; id++) {
            ft_sighting got;
            unsigned char *t;
            int r = ft_store_sighting_get(st, id, &got, &t);
            ASSERT(r <= 0);
            if (r == FT_OK) total += (int64_t)got.thumbnail_len;
            ft_store_free(t);
        }
        (void)total;
        rc = ft_store_check(st);
        if (rc != FT_EFORMAT)
            ft_test_fail(__FILE__, __LINE__, "cut at %lld: check gave %d", cuts[i], rc);
        ft_store_close(st);
    }
    no_leaks();
}

static void test_future_version(void)
{
    char path[128];
    ft_store *st;
    tmp_db(path, "future.ftdb");
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    ft_camera c = camera("km05", 5);
    ASSERT_OK(ft_store_camera_add(st, &c));
    ft_store_close(st);
    raw_exec(path, "PRAGMA user_version = 99");
    ASSERT_EQ(ft_store_open(path, 0, &st), FT_EFORMAT);
    ASSERT_STR_CONTAINS(ft_store_errmsg(NULL), "schema version 99 is newer");
    ASSERT_EQ(ft_store_open(path, FT_STORE_READONLY, &st), FT_EFORMAT);
    ASSERT_EQ(count_rows(path, "PRAGMA user_version"), 99); /* untouched */
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM cameras"), 1);
    no_leaks();
}

static void test_migrations(void)
{
    static const char v2_sql[] = "ALTER TABLE cameras ADD COLUMN note TEXT;"
                                 "CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT);";
    static const char v3_sql[] = "INSERT INTO audit(what) VALUES ('v3 was here');";
    ft__store_migration migs[3] = { ft__store_migrations[0],
                                    { 2, "test: camera notes", v2_sql },
                                    { 3, "test: audit row", v3_sql } };
    /* The last test steps must be newer than this build's schema. */
    ft__store_migration migs6[6] = {
        ft__store_migrations[0],          { 2, "test: camera notes", v2_sql },
        { 3, "test: audit row", v3_sql }, { 4, "test: audit row", v3_sql },
        { 5, "test: audit row", v3_sql }, { 6, "test: audit row", v3_sql }
    };
    ASSERT_EQ(ft__store_n_migrations, 5); /* a real v6 comes: extend these test steps */
    char path[128];
    ft_store *st;
    int64_t ing;

    /* The real upgrade: v1 with data -> v2 adds ingests.resume_state, data kept. */
    st = store_v1_with_ingest(path, "real12.ftdb", &ing);
    ft_sighting s1;
    make_sighting(&s1, 7, 3, NULL, 0);
    ASSERT_OK(ft_store_ingest_commit(st, ing, &s1, 1, 5, 1, 1));
    ft_store_close(st);
    ASSERT_EQ(count_rows(path, "PRAGMA user_version"), 1);
    ASSERT_OK(ft_store_open(path, 0, &st));
    ASSERT_OK(ft_store_ingest_commit_state(st, ing, NULL, 0, 6, 0, 0, "abc", 3));
    unsigned char *state;
    size_t state_len;
    ASSERT_OK(ft_store_ingest_state(st, ing, &state, &state_len));
    ASSERT_EQ(state_len, 3);
    ASSERT(memcmp(state, "abc", 3) == 0);
    ft_store_free(state);
    ft_store_close(st);
    ASSERT_EQ(count_rows(path, "PRAGMA user_version"), FT_STORE_SCHEMA_VERSION);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM sightings"), 1);
    /* The upgraded run has no video identity: found by its path, resumed at
    ** its checkpoint, and from then on known by its content too. */
    ASSERT_OK(ft_store_open(path, 0, &st));
    ft_store_content vid = content(4242, 9000000, 0x5a);
    int64_t again, resume;
    ASSERT_OK(
        ft_store_ingest_begin_content(st, "km05", "cam5.mp4", &vid, T0, 5.0, 0, &again, &resume));
    ASSERT_EQ(again, ing);
    ASSERT_EQ(resume, 6);
    ASSERT_OK(ft_store_ingest_begin_content(st, "km05", "renamed.mp4", &vid, T0, 5.0, 0, &again,
                                            &resume));
    ASSERT_EQ(again, ing);
    ft_store_close(st);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM ingests WHERE content_size = 4242"), 1);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM ingests"), 1);

    /* v1 with data -> v3 through test steps. */
    st = store_v1_with_ingest(path, "mig.ftdb", &ing);
    ft_sighting s;
    make_sighting(&s, 7, 3, NULL, 0);
    ASSERT_OK(ft_store_ingest_commit(st, ing, &s, 1, 5, 1, 1));
    ft_store_close(st);
    ASSERT_EQ(count_rows(path, "PRAGMA user_version"), 1);
    /* Read-only, an older schema is read as it is, and not upgraded. */
    ASSERT_OK(ft__store_open_with(path, FT_STORE_READONLY, migs, 3, &st));
    int64_t ns, nd;
    ASSERT_OK(ft_store_stats(st, NULL, &ns, NULL, NULL, NULL));
    ASSERT_EQ(ns, 1);
    char tz[32];
    ASSERT_EQ(ft_store_meta_get(st, "time_zone", tz, sizeof tz), FT_ENOTFOUND);
    ft_store_close(st);
    ASSERT_EQ(count_rows(path, "PRAGMA user_version"), 1);
    ASSERT_OK(ft__store_open_with(path, 0, migs, 3, &st));
    ASSERT_OK(ft_store_stats(st, NULL, &ns, &nd, NULL, NULL));
    ASSERT_EQ(ns, 1);
    ASSERT_EQ(nd, 3);
    ft_store_close(st);
    ASSERT_EQ(count_rows(path, "PRAGMA user_version"), 3);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM audit"), 1);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM pragma_table_info('cameras') "
                               "WHERE name = 'note'"),
              1);
    /* Reopening at v3 runs nothing again; at v6, this build (v5) refuses the file. */
    ASSERT_OK(ft__store_open_with(path, 0, migs, 3, &st));
    ft_store_close(st);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM audit"), 1);
    ASSERT_OK(ft__store_open_with(path, 0, migs6, 6, &st));
    ft_store_close(st);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM audit"), 4);
    ASSERT_EQ(ft_store_open(path, 0, &st), FT_EFORMAT);

    /* A fresh file goes 0 -> 3 in one open. */
    tmp_db(path, "mig0.ftdb");
    ASSERT_OK(ft__store_open_with(path, FT_STORE_CREATE, migs, 3, &st));
    ft_store_close(st);
    ASSERT_EQ(count_rows(path, "PRAGMA user_version"), 3);

    /* A failing step: rolled back whole, the file stays at the last good
    ** version with its data, and the message names the step. */
    st = store_v1_with_ingest(path, "migfail.ftdb", &ing);
    ft_store_close(st);
    ft__store_migration bad[3] = { ft__store_migrations[0],
                                   { 2, "test: camera notes", v2_sql },
                                   { 3, "test: broken", "CREATE TABLE x(a); CREATE TABLE x(b);" } };
    ASSERT(ft__store_open_with(path, 0, bad, 3, &st) < 0);
    ASSERT(st == NULL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(NULL), "version 3 (test: broken)");
    ASSERT_EQ(count_rows(path, "PRAGMA user_version"), 2);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'x'"), 0);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM ingests"), 1);
    /* Fixed, it goes on from 2. */
    ASSERT_OK(ft__store_open_with(path, 0, migs, 3, &st));
    ft_store_close(st);
    ASSERT_EQ(count_rows(path, "PRAGMA user_version"), 3);

    /* A step that breaks a foreign key is refused. */
    tmp_db(path, "migfk.ftdb");
    ASSERT_OK(ft__store_open_with(path, FT_STORE_CREATE, ft__store_migrations, 1, &st));
    ft_store_close(st);
    ft__store_migration fk[2] = { ft__store_migrations[0],
                                  { 2, "test: orphan",
                                    "INSERT INTO ingests(camera_id, source, start_us, sample_fps, "
                                    "started_us) VALUES ('ghost', 'v', 0, 1, 0);" } };
    ASSERT_EQ(ft__store_open_with(path, 0, fk, 2, &st), FT_EFORMAT);
    ASSERT_STR_CONTAINS(ft_store_errmsg(NULL), "foreign-key");
    ASSERT_EQ(count_rows(path, "PRAGMA user_version"), 1);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Video identity, leases                                                   */
/* ------------------------------------------------------------------------ */

/* An ingest is its video's content: the same video under another path (or a
** copy) resumes the same ingest; another video under the same path is
** refused unless forced; a row from before v3 is matched by path. */
static void test_ingest_content_identity(void)
{
    char path[128];
    tmp_db(path, "content.ftdb");
    ft_store *st;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    ft_camera c = camera("km05", 5);
    ASSERT_OK(ft_store_camera_add(st, &c));
    ft_store_content a = content(1000, 16000000, 0x11), b = content(1000, 16000000, 0x22);
    int64_t id, id2, resume;
    ASSERT_OK(ft_store_ingest_begin_content(st, "km05", "x.mp4", &a, T0, 5, 0, &id, &resume));
    ASSERT_EQ(resume, -1);
    ft_sighting s1;
    make_sighting(&s1, 1, 1, NULL, 0);
    ASSERT_OK(ft_store_ingest_commit(st, id, &s1, 1, 3000000, 15, 2));

    /* Same content, other paths: the same ingest, resumed at its checkpoint. */
    ASSERT_OK(ft_store_ingest_begin_content(st, "km05", "./x.mp4", &a, T0, 5, 0, &id2, &resume));
    ASSERT_EQ(id2, id);
    ASSERT_EQ(resume, 3000000);
    ASSERT_OK(ft_store_ingest_begin_content(st, "km05", "/elsewhere/copy of x.mp4", &a, T0, 5, 0,
                                            &id2, &resume));
    ASSERT_EQ(id2, id);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM ingests"), 1);
    ft_ingest got;
    ASSERT_OK(ft_store_ingest_get(st, id, &got));
    ASSERT(strcmp(got.source, "x.mp4") == 0); /* the path first given is kept */

    /* Another video under the same name: refused, nothing changed. */
    ASSERT_EQ(ft_store_ingest_begin_content(st, "km05", "x.mp4", &b, T0, 5, 0, &id2, &resume),
              FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "x.mp4");
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "replaced");
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "--force");
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "2026-01-01T00:00:00Z");
    ASSERT(strstr(ft_store_errmsg(st), "FT_INGEST") == NULL);
    ASSERT_OK(ft_store_ingest_get(st, id, &got));
    ASSERT_EQ(got.checkpoint_us, 3000000);
    ASSERT_EQ(got.n_sightings, 1);
    /* The size or the duration alone also tell videos apart. */
    ft_store_content a2 = content(1001, 16000000, 0x11), a3 = content(1000, 15000000, 0x11);
    ASSERT_EQ(ft_store_ingest_begin_content(st, "km05", "x.mp4", &a2, T0, 5, 0, &id2, &resume),
              FT_EINVAL);
    ASSERT_EQ(ft_store_ingest_begin_content(st, "km05", "x.mp4", &a3, T0, 5, 0, &id2, &resume),
              FT_EINVAL);
    /* Forced: redone from scratch with the new video. */
    ASSERT_OK(ft_store_ingest_begin_content(st, "km05", "x.mp4", &b, T0, 5, FT_INGEST_FORCE, &id2,
                                            &resume));
    ASSERT_EQ(id2, id);
    ASSERT_EQ(resume, -1);
    ASSERT_OK(ft_store_ingest_get(st, id, &got));
    ASSERT_EQ(got.n_sightings, 0);
    ASSERT_EQ(got.frames, 0);
    ASSERT_EQ(count_rows(path,
                         "SELECT count(*) FROM ingests WHERE hex(content_sha256) = "
                         "'2222222222222222222222222222222222222222222222222222222222222222'"),
              1);
    ASSERT_OK(ft_store_ingest_commit(st, id, NULL, 0, 16000000, 80, 0));
    ASSERT_OK(ft_store_ingest_finish(st, id, FT_INGEST_DONE, NULL));
    /* Done: the same video under another name is "already ingested". */
    ASSERT_EQ(ft_store_ingest_begin_content(st, "km05", "y.mp4", &b, T0, 5, 0, &id2, &resume),
              FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "already ingested");
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "the same video as x.mp4");
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "--force");
    /* ... and the old video (a) under yet another name is a new ingest. */
    ASSERT_OK(ft_store_ingest_begin_content(st, "km05", "z.mp4", &a, T0, 5, 0, &id2, &resume));
    ASSERT(id2 != id);
    ASSERT_EQ(resume, -1);
    /* Another start time is another ingest, even for the same video. */
    int64_t id3;
    ASSERT_OK(ft_store_ingest_begin_content(st, "km05", "z.mp4", &a, T0 + 1, 5, 0, &id3, &resume));
    ASSERT(id3 != id2 && id3 != id);

    /* A row from before v3 (no identity) is matched by path and adopts it. */
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO ingests(camera_id, source, start_us, sample_fps, started_us, "
             "checkpoint_us) VALUES ('km05', 'old.mp4', %lld, 5.0, %lld, 2000000)",
             (long long)T0, (long long)T0);
    ASSERT_EQ(sqlite3_exec(st->db, sql, NULL, NULL, NULL), SQLITE_OK);
    int64_t old = sqlite3_last_insert_rowid(st->db);
    ft_store_content o = content(777, -1, 0x33);
    ASSERT_OK(ft_store_ingest_begin_content(st, "km05", "old.mp4", &o, T0, 5, 0, &id2, &resume));
    ASSERT_EQ(id2, old);
    ASSERT_EQ(resume, 2000000);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM ingests WHERE content_size = 777 AND "
                               "content_duration_us = -1 AND source = 'old.mp4'"),
              1);
    /* Without an identity (the older API) the path alone still names it. */
    ASSERT_OK(ft_store_ingest_begin(st, "km05", "old.mp4", T0, 5, &id2, &resume));
    ASSERT_EQ(id2, old);
    ASSERT_EQ(ft_store_ingest_begin_content(st, "km05", "old.mp4", NULL, T0, 5, 0, &id2, &resume),
              FT_OK);
    ft_store_content bad = content(-1, 0, 0);
    ASSERT_EQ(ft_store_ingest_begin_content(st, "km05", "old.mp4", &bad, T0, 5, 0, &id2, &resume),
              FT_EINVAL);
    ft_store_close(st);
    no_leaks();
}

/* A raw lease row, as another process would have written it. */
static void put_lease(const char *path, const char *camera_id, long long pid, const char *host,
                      long long expires_us)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "INSERT OR REPLACE INTO ingest_leases(camera_id, ingest_id, pid, host, token, "
             "acquired_us, renewed_us, expires_us) VALUES ('%s', (SELECT max(id) FROM ingests), "
             "%lld, '%s', 42, %lld, %lld, %lld)",
             camera_id, pid, host, (long long)T0, (long long)T0, expires_us);
    raw_exec(path, sql);
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One process at a time ingests a camera: a live holder's lease refuses a
** second ingest with a message naming it; a stale one (dead holder on this
** host, or expired) is taken over; a commit of a handle whose lease was
** taken over fails and writes nothing. */
static void test_ingest_lease(void)
{
    char path[128], host[128], want[300];
    ASSERT_EQ(gethostname(host, sizeof host), 0);
    host[sizeof host - 1] = 0;
    tmp_db(path, "lease.ftdb");
    ft_store *st1, *st2;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st1));
    ASSERT_OK(ft_store_open(path, 0, &st2));
    ft_camera c = camera("km05", 5);
    ASSERT_OK(ft_store_camera_add(st1, &c));
    c = camera("km10", 10);
    ASSERT_OK(ft_store_camera_add(st1, &c));
    int64_t i1, i2, resume;
    ASSERT_OK(ft_store_ingest_begin(st1, "km05", "a.mp4", T0, 5, &i1, &resume));
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM ingest_leases WHERE camera_id = 'km05'"), 1);

    /* A second handle (here: of this same, live process) is refused. */
    ASSERT_EQ(ft_store_ingest_begin(st2, "km05", "b.mp4", T0, 5, &i2, &resume), FT_EIO);
    snprintf(want, sizeof want, "camera km05 is being ingested by process %lld on host %s since ",
             (long long)getpid(), host);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st2), want);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st2), "wait for it or stop it");
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM ingests"), 1); /* rolled back */
    /* Even for the same video (which would otherwise be resumed). */
    ASSERT_EQ(ft_store_ingest_begin(st2, "km05", "a.mp4", T0, 5, &i2, &resume), FT_EIO);
    ASSERT_EQ(ft_store_ingest_begin_ex(st2, "km05", "a.mp4", T0, 5, FT_INGEST_FORCE, &i2, &resume),
              FT_EIO);
    /* Another camera is free. */
    ASSERT_OK(ft_store_ingest_begin(st2, "km10", "c.mp4", T0, 5, &i2, &resume));
    ft_sighting s1;
    make_sighting(&s1, 1, 1, NULL, 0);
    ASSERT_OK(ft_store_ingest_commit(st1, i1, &s1, 1, 1000000, 5, 1));
    /* Finish releases it. */
    ASSERT_OK(ft_store_ingest_finish(st1, i1, FT_INGEST_DONE, NULL));
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM ingest_leases WHERE camera_id = 'km05'"), 0);
    int64_t i3;
    ASSERT_OK(ft_store_ingest_begin(st2, "km05", "b.mp4", T0, 5, &i3, &resume));
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM ingest_leases"), 2);
    /* Close releases every lease of the handle. */
    ft_store_close(st2);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM ingest_leases"), 0);

    /* Stale: the holder's process is dead on this host. */
    pid_t child = fork();
    ASSERT(child >= 0);
    if (child == 0) _exit(0);
    ASSERT_EQ(waitpid(child, NULL, 0), child);
    put_lease(path, "km05", (long long)child, host, now_us() + 3600000000LL);
    ASSERT_OK(ft_store_ingest_begin(st1, "km05", "b.mp4", T0, 5, &i2, &resume));
    ASSERT_EQ(i2, i3);
    snprintf(want, sizeof want,
             "SELECT count(*) FROM ingest_leases WHERE camera_id = 'km05' AND pid = %lld",
             (long long)getpid());
    ASSERT_EQ(count_rows(path, want), 1);

    /* Stale: the holder's pid now belongs to a process started after the
    ** lease was taken (T0 is in the past): a reused pid. */
    pid_t sleeper = fork();
    ASSERT(sleeper >= 0);
    if (sleeper == 0) { /* lets go of the output (a failing parent must not wait on it) */
        close(1);
        close(2);
        sleep(60);
        _exit(0);
    }
    put_lease(path, "km05", (long long)sleeper, host, now_us() + 3600000000LL);
    int64_t i5;
    ASSERT_OK(ft_store_ingest_begin(st1, "km05", "b.mp4", T0, 5, &i5, &resume));
    ASSERT_EQ(count_rows(path, want), 1); /* ours again */
    kill(sleeper, SIGKILL);
    ASSERT_EQ(waitpid(sleeper, NULL, 0), sleeper);

    /* Live: another host's unexpired lease (its process cannot be checked). */
    put_lease(path, "km05", 1, "other-host", now_us() + 3600000000LL);
    ft_store *st3;
    ASSERT_OK(ft_store_open(path, 0, &st3));
    int64_t i4;
    ASSERT_EQ(ft_store_ingest_begin(st3, "km05", "b.mp4", T0, 5, &i4, &resume), FT_EIO);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st3),
                        "camera km05 is being ingested by process 1 on host other-host since "
                        "2026-01-01T00:00:00Z; wait for it or stop it");
    /* ... and st1, whose lease it took, cannot commit any more. */
    ASSERT_EQ(ft_store_ingest_commit(st1, i2, &s1, 1, 2000000, 5, 1), FT_EIO);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st1), "other-host");
    /* nor mark it failed under the new holder's feet */
    ASSERT_EQ(ft_store_ingest_finish(st1, i2, FT_INGEST_FAILED, "lost"), FT_EIO);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM ingests WHERE source = 'b.mp4' AND "
                               "status = 'running'"),
              1);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM sightings WHERE ingest_id = "
                               "(SELECT max(id) FROM ingests WHERE source = 'b.mp4')"),
              0);
    /* Stale: expired, even though process 1 lives. */
    put_lease(path, "km05", 1, "other-host", now_us() - 1);
    ASSERT_OK(ft_store_ingest_begin(st3, "km05", "b.mp4", T0, 5, &i2, &resume));
    ASSERT_OK(ft_store_ingest_commit(st3, i2, &s1, 1, 2000000, 5, 1));
    ft_store_close(st3);
    ft_store_close(st1);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM ingest_leases"), 0);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Read-only files and folders                                              */
/* ------------------------------------------------------------------------ */

/* In a child that cannot write path (nor, with dir_ro, its folder): a
** read-only open lists, reads and stats the database, and writes no file.
** Root ignores file modes, so a root parent runs the child as "nobody".
** Exit codes: 0 ok, 77 could not drop root, 10+ the failing step. */
static int readonly_child(const char *path)
{
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(77);
    if (access(path, W_OK) == 0) _exit(78); /* the setup failed: we can write */
    ft_store *st;
    if (ft_store_open(path, FT_STORE_READONLY, &st) != FT_OK) {
        fprintf(stderr, "# child: %s\n", ft_store_errmsg(NULL));
        _exit(10);
    }
    ft_camera *cams = NULL;
    int n = 0;
    if (ft_store_cameras(st, &cams, &n) != FT_OK || n != 1 || strcmp(cams[0].id, "km05") != 0)
        _exit(11);
    ft_store_free(cams);
    int64_t ns = 0;
    if (ft_store_stats(st, NULL, &ns, NULL, NULL, NULL) != FT_OK || ns != 1) _exit(12);
    ft_sighting got;
    if (ft_store_sighting_get(st, 1, &got, NULL) != FT_OK || got.track_key != 7) _exit(13);
    char tz[16];
    if (ft_store_meta_get(st, "time_zone", tz, sizeof tz) != FT_OK || strcmp(tz, "UTC") != 0)
        _exit(14);
    ft_camera c = camera("km09", 9);
    if (ft_store_camera_add(st, &c) != FT_EINVAL) _exit(15);
    ft_store_close(st);
    _exit(0);
}

static int run_readonly_child(const char *path)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) readonly_child(path);
    int ws;
    ASSERT_EQ(waitpid(pid, &ws, 0), pid);
    ASSERT(WIFEXITED(ws));
    return WEXITSTATUS(ws);
}

/* A database in a folder this process cannot write, and a read-only file in
** a writable folder: camera list and search (read-only opens) still work
** (SQLite's WAL mode cannot create its -shm there; the store opens such a
** file as immutable when no -wal is pending). */
static void test_readonly_files(void)
{
    char dir[64] = "/tmp/ft_test_ro_XXXXXX", path[128], p2[160];
    ASSERT(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/ro.ftdb", dir);
    int64_t ing;
    ft_store *st;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    ft_camera c = camera("km05", 5);
    ASSERT_OK(ft_store_camera_add(st, &c));
    int64_t resume;
    ASSERT_OK(ft_store_ingest_begin(st, "km05", "v.mp4", T0, 5, &ing, &resume));
    ft_sighting s;
    make_sighting(&s, 7, 2, NULL, 0);
    ASSERT_OK(ft_store_ingest_commit(st, ing, &s, 1, 10, 1, 1));
    ASSERT_OK(ft_store_meta_set(st, "time_zone", "UTC"));
    ft_store_close(st);

    /* 1. the folder and the file read-only */
    ASSERT_EQ(chmod(path, 0444), 0);
    ASSERT_EQ(chmod(dir, 0555), 0);
    int rc = run_readonly_child(path);
    /* 2. the file read-only in a folder anyone can write */
    ASSERT_EQ(chmod(dir, 0777), 0);
    int rc2 = rc == 77 ? 77 : run_readonly_child(path);
    ASSERT_EQ(chmod(dir, 0700), 0);
    snprintf(p2, sizeof p2, "%s-shm", path);
    long long shm = file_size(p2);
    snprintf(p2, sizeof p2, "%s-wal", path);
    long long wal = file_size(p2);
    ASSERT_EQ(chmod(path, 0644), 0);
    /* 3. a writer at work (a -wal with content, a readable -shm) in a folder
    ** the reader cannot write: SQLite's read-only WAL mode reads it. */
    int rc3 = 77;
    if (rc != 77) {
        ASSERT_OK(ft_store_open(path, 0, &st));
        ASSERT_OK(ft_store_meta_set(st, "note", "pending"));
        snprintf(p2, sizeof p2, "%s-wal", path);
        ASSERT(file_size(p2) > 0);
        ASSERT_EQ(chmod(dir, 0755), 0);
        ASSERT_EQ(chmod(path, 0444), 0);
        ASSERT_EQ(chmod(dir, 0555), 0);
        rc3 = run_readonly_child(path);
        ASSERT_EQ(chmod(dir, 0700), 0);
        ASSERT_EQ(chmod(path, 0644), 0);
        ft_store_close(st);
    }
    rm_db(path);
    ASSERT_EQ(rmdir(dir), 0);
    if (rc == 77) FT_SKIP("cannot run as a user without write access (setuid failed)");
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(rc2, 0);
    ASSERT_EQ(rc3, 0);
    ASSERT_EQ(shm, -1); /* nothing was written beside the database */
    ASSERT_EQ(wal, -1);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Settings (meta)                                                          */
/* ------------------------------------------------------------------------ */

static void test_meta(void)
{
    char path[128];
    tmp_db(path, "meta.ftdb");
    ft_store *st;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    char v[64] = "junk";
    ASSERT_EQ(ft_store_meta_get(st, "time_zone", v, sizeof v), FT_ENOTFOUND);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "time_zone");
    ASSERT_EQ(v[0], 0);
    ASSERT_OK(ft_store_meta_set(st, "time_zone", "Europe/Paris"));
    ASSERT_OK(ft_store_meta_set(st, "empty", ""));
    ASSERT_OK(ft_store_meta_get(st, "time_zone", v, sizeof v));
    ASSERT(strcmp(v, "Europe/Paris") == 0);
    ASSERT_OK(ft_store_meta_get(st, "empty", v, sizeof v));
    ASSERT_EQ(v[0], 0);
    ASSERT_OK(ft_store_meta_set(st, "time_zone", "UTC")); /* replaces */
    ASSERT_OK(ft_store_meta_get(st, "time_zone", v, sizeof v));
    ASSERT(strcmp(v, "UTC") == 0);
    /* "UTC" needs 4 bytes: 3 is too small, 4 fits. */
    ASSERT_EQ(ft_store_meta_get(st, "time_zone", v, 3), FT_ETOOBIG);
    ASSERT_EQ(v[0], 0);
    ASSERT_OK(ft_store_meta_get(st, "time_zone", v, 4));
    ASSERT(strcmp(v, "UTC") == 0);
    ASSERT_EQ(ft_store_meta_get(st, "", v, sizeof v), FT_EINVAL);
    ASSERT_EQ(ft_store_meta_get(st, NULL, v, sizeof v), FT_EINVAL);
    ASSERT_EQ(ft_store_meta_get(st, "time_zone", NULL, 8), FT_EINVAL);
    ASSERT_EQ(ft_store_meta_set(st, "time_zone", NULL), FT_EINVAL);
    ASSERT_EQ(ft_store_meta_set(st, "", "x"), FT_EINVAL);
    char long_key[FT_STORE_META_KEY_MAX + 1];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    ASSERT_EQ(ft_store_meta_set(st, long_key, "x"), FT_EINVAL);
    ASSERT_EQ(ft_store_meta_get(NULL, "time_zone", v, sizeof v), FT_EINVAL);
    ft_store_close(st);
    /* Stored in the file, one row per key; readable read-only, not writable. */
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM meta"), 2);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM meta WHERE key = 'time_zone' "
                               "AND value = 'UTC'"),
              1);
    ASSERT_OK(ft_store_open(path, FT_STORE_READONLY, &st));
    ASSERT_OK(ft_store_meta_get(st, "time_zone", v, sizeof v));
    ASSERT(strcmp(v, "UTC") == 0);
    ASSERT_EQ(ft_store_meta_set(st, "time_zone", "Europe/Berlin"), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "read-only");
    ft_store_close(st);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Allocation failures                                                      */
/* ------------------------------------------------------------------------ */

static int on_sighting_count(const ft_sighting *s, void *p)
{
    (void)s;
    ++*(int *)p;
    return 0;
}

/* One pass of everything that allocates; 1 if it ran to the end. */
static int alloc_scenario(const char *path)
{
    int rc;
#define STEP(e)                                                             \
    do {                                                                    \
        rc = (e);                                                           \
        if (rc == FT_ENOMEM) goto out;                                      \
        if (rc != FT_OK)                                                    \
            ft_test_fail(__FILE__, __LINE__, "%s: %d (%s)", #e, rc,         \
                         st ? ft_store_errmsg(st) : ft_store_errmsg(NULL)); \
    } while (0)
    ft_store *st = NULL;
    ft_camera *list = NULL;
    unsigned char *jpeg = NULL, *thumb = NULL;
    ft_image *img = NULL;
    size_t len;
    int n, done = 0;
    char err[128];
    STEP(ft_store_open(path, FT_STORE_CREATE, &st));
    ft_camera c = camera("km05", 5);
    STEP(ft_store_camera_add(st, &c));
    STEP(ft_store_cameras(st, &list, &n));
    int64_t ing, resume;
    STEP(ft_store_ingest_begin(st, "km05", "v.mp4", T0, 5, &ing, &resume));
    STEP(ft_image_create(32, 32, &img));
    STEP(ft_image_encode_jpeg(img, 80, &jpeg, &len, err, sizeof err));
    ft_sighting s;
    make_sighting(&s, 1, 3, jpeg, len);
    STEP(ft_store_ingest_commit(st, ing, &s, 1, 10, 1, 1));
    int64_t sid = 1;
    ft_sighting got;
    STEP(ft_store_sighting_get(st, sid, &got, &thumb));
    if (got.thumbnail_len != len || memcmp(thumb, jpeg, len) != 0)
        ft_test_fail(__FILE__, __LINE__, "thumbnail differs");
    int count = 0;
    STEP(ft_store_sightings_between(st, 0, INT64_MAX, NULL, on_sighting_count, &count));
    if (count != 1) ft_test_fail(__FILE__, __LINE__, "%d sightings", count);
    done = 1;
out:
    ft__alloc_fail_after(-1);
    ft_store_free(thumb);
    ft_store_free(jpeg);
    ft_image_destroy(img);
    ft_store_free(list);
    ft_store_close(st);
#undef STEP
    return done;
}

static void test_alloc_failures(void)
{
    char path[128];
    tmp_db(path, "alloc.ftdb");
    int k;
    for (k = 0; k < 200; k++) {
        rm_db(path);
        ft__alloc_fail_after(k);
        if (alloc_scenario(path)) break;
        /* After a failure the file is still sound and reopens. */
        ft_store *st;
        ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
        ASSERT_OK(ft_store_check(st));
        ft_store_close(st);
    }
    ASSERT(k > 3 && k < 200); /* several failure points were hit, and the last pass ran */
    printf("# %d allocation failure points, each OK or FT_ENOMEM\n", k);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Benchmarks (FT_STORE_BENCH=1)                                            */
/* ------------------------------------------------------------------------ */

static void need_bench(void)
{
    const char *e = getenv("FT_STORE_BENCH");
    if (!e || strcmp(e, "1") != 0) FT_SKIP("benchmark: set FT_STORE_BENCH=1 to run");
}

static void bench_commit_run(int flags, const char *label)
{
    char path[128];
    tmp_db(path, "bench_commit.ftdb");
    rm_db(path);
    ft_store *st;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE | flags, &st));
    ft_camera c = camera("km05", 5);
    ASSERT_OK(ft_store_camera_add(st, &c));
    int64_t ing, resume;
    ASSERT_OK(ft_store_ingest_begin(st, "km05", "v.mp4", T0, 5, &ing, &resume));
    enum { BATCH = 50, BATCHES = 400 };
    static unsigned char thumb[6144];
    thumb[0] = 0xFF, thumb[1] = 0xD8, thumb[2] = 0xFF;
    for (size_t i = 3; i < sizeof thumb; i++)
        thumb[i] = (unsigned char)rnd();
    ft_sighting *b = calloc(BATCH, sizeof *b);
    ASSERT(b != NULL);
    double t0 = ft__now(), worst = 0;
    for (int j = 0; j < BATCHES; j++) {
        for (int i = 0; i < BATCH; i++) {
            make_sighting(&b[i], (int64_t)j * BATCH + i, 3, thumb, sizeof thumb);
            for (int k = 0; k < 3; k++)
                for (int d = 0; d < FT_DESCRIPTOR_DIM; d++)
                    b[i].desc[k][d] = (float)(rnd() % 2000) / 1000.0f - 1.0f;
        }
        double t = ft__now();
        ASSERT_OK(ft_store_ingest_commit(st, ing, b, BATCH, (int64_t)(j + 1) * 1000000, 25, 50));
        t = ft__now() - t;
        if (t > worst) worst = t;
    }
    double dt = ft__now() - t0;
    ft_store_close(st);
    printf("# commit %s: %d sightings (3 descriptors, %zu-byte thumbnail each) in batches of "
           "%d: %.2f s, %.0f sightings/s, %.0f batches/s, slowest batch %.1f ms, file %.1f MB\n",
           label, BATCH * BATCHES, sizeof thumb, BATCH, dt, BATCH * BATCHES / dt, BATCHES / dt,
           worst * 1e3, (double)file_size(path) / 1e6);
    free(b);
    rm_db(path);
}

static void bench_commit(void)
{
    need_bench();
    bench_commit_run(0, "synchronous=NORMAL");
    bench_commit_run(FT_STORE_DURABLE, "synchronous=FULL (FT_STORE_DURABLE)");
}

typedef struct load_ctx {
    int64_t n;
    double sum;
} load_ctx;

static int on_load(int64_t sid, int n, const float *vec, void *p)
{
    load_ctx *l = p;
    l->n++;
    l->sum += vec[0] + vec[127] + (double)(sid & 1) + n;
    return 0;
}

static void bench_load(void)
{
    need_bench();
    const char *env = getenv("FT_STORE_BENCH_N");
    int64_t want = env ? atoll(env) : 1000000;
    char path[128];
    tmp_db(path, "bench_load.ftdb");
    rm_db(path);
    ft_store *st;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    ft_camera c = camera("km05", 5);
    ASSERT_OK(ft_store_camera_add(st, &c));
    int64_t ing, resume;
    ASSERT_OK(ft_store_ingest_begin(st, "km05", "v.mp4", T0, 5, &ing, &resume));
    enum { BATCH = 1000 };
    ft_sighting *b = calloc(BATCH, sizeof *b);
    ASSERT(b != NULL);
    int64_t sightings = (want + 2) / 3, made = 0;
    double t0 = ft__now();
    while (made < sightings) {
        int n = 0;
        for (; n < BATCH && made < sightings; n++, made++) {
            make_sighting(&b[n], made, 3, NULL, 0);
            for (int k = 0; k < 3; k++)
                for (int d = 0; d < FT_DESCRIPTOR_DIM; d++)
                    b[n].desc[k][d] = (float)(rnd() % 2000) / 1000.0f - 1.0f;
        }
        ASSERT_OK(ft_store_ingest_commit(st, ing, b, n, made * 1000, 0, 0));
    }
    double t_fill = ft__now() - t0;
    ft_store_close(st);
    free(b);

    ASSERT_OK(ft_store_open(path, FT_STORE_READONLY, &st));
    double ts = ft__now();
    int64_t nd;
    ASSERT_OK(ft_store_stats(st, NULL, NULL, &nd, NULL, NULL));
    ts = ft__now() - ts;
    ASSERT_EQ(nd, sightings * 3);
    printf("# ft_store_stats on it: %.1f ms\n", ts * 1e3);
    for (int run = 0; run < 3; run++) {
        load_ctx l = { 0, 0 };
        double t = ft__now();
        ASSERT_OK(ft_store_foreach_descriptor(st, on_load, &l));
        t = ft__now() - t;
        ASSERT_EQ(l.n, sightings * 3);
        printf("# load run %d: %lld descriptors in %.3f s (%.2f M/s, %.0f MB/s of vectors)\n",
               run + 1, (long long)l.n, t, (double)l.n / t / 1e6,
               (double)l.n * FT__DESC_BYTES / t / 1e6);
    }
    ft_store_close(st);
    printf("# synthetic db: %lld sightings x 3 descriptors, %.0f MB, filled in %.1f s "
           "(%.0f sightings/s without thumbnails, batches of %d)\n",
           (long long)sightings, (double)file_size(path) / 1e6, t_fill, sightings / t_fill, BATCH);
    rm_db(path);
}

struct seen_ctx {
    int n;
    int64_t ids[8];
    int n_desc[8];
};

static int on_seen(const ft_sighting *s, void *ctx)
{
    struct seen_ctx *c = ctx;
    if (c->n < 8) c->ids[c->n] = s->id, c->n_desc[c->n] = s->n_desc;
    c->n++;
    return 0;
}

/* The watchlist: entries round-trip with their descriptors, expire, are
** removed; a dismissal sticks; sightings committed after an id are read in
** id order with their descriptors. */
static void test_watchlist(void)
{
    char path[128];
    int64_t ing;
    ft_store *st = store_with_ingest(path, "watch.ftdb", &ing);
    ft_watch *w = calloc(1, sizeof *w);
    ASSERT(w != NULL);
    ASSERT_EQ(ft_store_watch_add(st, w), FT_EINVAL); /* no name, no descriptor */
    snprintf(w->name, sizeof w->name, "Lina, 7");
    snprintf(w->reason, sizeof w->reason, "case 2026-114: lost child");
    w->n_desc = 2;
    for (int i = 0; i < 2; i++)
        for (int d = 0; d < FT_DESCRIPTOR_DIM; d++)
            w->desc[i][d] = (float)(d % 13) * 0.01f - (float)i;
    ASSERT_OK(ft_store_watch_add(st, w));
    int64_t id1 = w->id;
    ASSERT(id1 > 0 && w->created_us > 0);
    snprintf(w->name, sizeof w->name, "expired");
    w->expires_us = T0;
    ASSERT_OK(ft_store_watch_add(st, w));
    int64_t id2 = w->id;
    w->desc[0][3] = NAN;
    ASSERT_EQ(ft_store_watch_add(st, w), FT_EINVAL);
    ft_watch *list;
    int n;
    ASSERT_OK(ft_store_watch_list(st, 0, &list, &n));
    ASSERT_EQ(n, 2);
    ASSERT_EQ(list[0].id, id1);
    ASSERT_STR_EQ(list[0].name, "Lina, 7");
    ASSERT_STR_EQ(list[0].reason, "case 2026-114: lost child");
    ASSERT_EQ(list[0].n_desc, 2);
    ASSERT(list[0].desc[1][5] == 5 * 0.01f - 1.0f);
    ft_store_free(list);
    ASSERT_OK(ft_store_watch_list(st, T0 + 1, &list, &n)); /* the second has expired */
    ASSERT_EQ(n, 1);
    ASSERT_EQ(list[0].id, id1);
    ft_store_free(list);
    ASSERT_EQ(ft_store_watch_dismissed(st, id1, 42), 0);
    ASSERT_OK(ft_store_watch_dismiss(st, id1, 42));
    ASSERT_OK(ft_store_watch_dismiss(st, id1, 42)); /* twice is once */
    ASSERT_EQ(ft_store_watch_dismissed(st, id1, 42), 1);
    ASSERT_EQ(ft_store_watch_dismissed(st, id2, 42), 0);
    ASSERT_EQ(ft_store_watch_dismiss(st, 999, 42), FT_ENOTFOUND);
    ASSERT_OK(ft_store_watch_remove(st, id1));
    ASSERT_EQ(ft_store_watch_remove(st, id1), FT_ENOTFOUND);
    ASSERT_EQ(ft_store_watch_dismissed(st, id1, 42), 0);
    ASSERT_OK(ft_store_watch_list(st, 0, &list, &n));
    ASSERT_EQ(n, 1);
    ft_store_free(list);
    /* ids are never reused, even the highest one's after it is removed */
    ASSERT_OK(ft_store_watch_remove(st, id2));
    w->desc[0][3] = 0;
    ASSERT_OK(ft_store_watch_add(st, w));
    ASSERT(w->id > id2);
    free(w);
    /* sightings after an id */
    ft_sighting s[3];
    for (int i = 0; i < 3; i++)
        make_sighting(&s[i], 10 + i, 1 + i, NULL, 0);
    ASSERT_OK(ft_store_ingest_commit(st, ing, s, 3, 5, 3, 3));
    struct seen_ctx sc = { 0 };
    ASSERT_OK(ft_store_sightings_after(st, 0, 100, on_seen, &sc));
    ASSERT_EQ(sc.n, 3);
    ASSERT_EQ(sc.n_desc[2], 3);
    int64_t first = sc.ids[0];
    memset(&sc, 0, sizeof sc);
    ASSERT_OK(ft_store_sightings_after(st, first, 1, on_seen, &sc));
    ASSERT_EQ(sc.n, 1);
    ASSERT_EQ(sc.ids[0], first + 1);
    ASSERT_EQ(sc.n_desc[0], 2);
    ft_store_close(st);
    /* read-only: the watchlist is read, never written */
    ASSERT_OK(ft_store_open(path, FT_STORE_READONLY, &st));
    ASSERT_OK(ft_store_watch_list(st, 0, &list, &n));
    ASSERT_EQ(n, 1);
    ft_store_free(list);
    ASSERT_EQ(ft_store_watch_remove(st, id2), FT_EINVAL);
    ft_store_close(st);
    unlink(path);
}

FT_TESTS(FT_TEST(test_open_create), FT_TEST(test_cameras), FT_TEST(test_ingest_commit_resume),
         FT_TEST(test_commit_rejects_bad_sightings), FT_TEST(test_descriptors_roundtrip),
         FT_TEST(test_thumbnail_roundtrip), FT_TEST(test_sightings_between),
         FT_TEST(test_two_handles), FT_TEST(test_crash_inside_commit),
         FT_TEST(test_crash_random_kills), FT_TEST(test_not_a_database),
         FT_TEST(test_truncated_database), FT_TEST(test_future_version), FT_TEST(test_migrations),
         FT_TEST(test_ingest_content_identity), FT_TEST(test_ingest_lease),
         FT_TEST(test_readonly_files), FT_TEST(test_meta), FT_TEST(test_watchlist),
         FT_TEST(test_alloc_failures), FT_TEST(bench_commit), FT_TEST(bench_load));
