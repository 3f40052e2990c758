/*
** tests/unit/test_audit.c: the audit log (append, list, the hash chain, its
** verification after tampering done outside the library, the append-only
** triggers, the v4 -> v5 upgrade) and retention (ft_store_purge leaves no
** byte of a purged thumbnail, descriptor or watchlist entry in the file or
** its -wal; a reader in the way is an error, not a hang; ft_store_purge_due);
** a new database's file mode.
**
** DESIGN
**   Expected values never come from the code under test: SHA-256 is checked
**   on the FIPS 180-2 examples; the chain's first hashes are recomputed here
**   from the format written in facetrail/store.h; tampering is done with a
**   raw sqlite3 connection; the purge test plants distinctive 32-byte
**   markers (thumbnails, descriptors, a watchlist entry, an ingest's saved
**   state) and then scans the raw bytes of the database and -wal files for
**   them. Two controls show the scan would fail: the markers are found
**   before the purge, and after a plain SQL DELETE without secure_delete.
**   Every database lives in a fresh mkdtemp folder, removed at exit.
*/
#include "facetrail.h"

#include "core/core.h"
#include "store/store.h"

#include "../harness/test.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
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

static void tmp_db(char path[128], const char *name)
{
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ft_test_audit_XXXXXX");
        ASSERT(mkdtemp(tmp_dir) != NULL);
        atexit(rm_tmp_dir);
    }
    snprintf(path, 128, "%s/%s", tmp_dir, name);
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define DAY_US (86400LL * 1000000)

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *s;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* sqlite3_exec's status, and its message into err (if given). */
static int raw_exec(sqlite3 *db, const char *sql, char *err, size_t len)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (err) snprintf(err, len, "%s", msg ? msg : "");
    sqlite3_free(msg);
    return rc;
}

static ft_audit record(const char *who, const char *role, const char *action, const char *reason,
                       int64_t results, const char *detail)
{
    ft_audit a;
    memset(&a, 0, sizeof a);
    snprintf(a.who, sizeof a.who, "%s", who);
    snprintf(a.role, sizeof a.role, "%s", role);
    snprintf(a.action, sizeof a.action, "%s", action);
    snprintf(a.reason, sizeof a.reason, "%s", reason);
    a.results = results;
    snprintf(a.detail, sizeof a.detail, "%s", detail);
    return a;
}

/* The chain's hash, from the format in facetrail/store.h (written out here
** again, not taken from store/audit.c): prev, then netstrings. */
static void expected_hash(const char *prev, const ft_audit *a, char out[65])
{
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "%s", prev);
    char num[3][32];
    snprintf(num[0], sizeof num[0], "%lld", (long long)a->id);
    snprintf(num[1], sizeof num[1], "%lld", (long long)a->time_us);
    snprintf(num[2], sizeof num[2], "%lld", (long long)a->results);
    const char *order[9] = { num[0],    num[1],          a->who, a->role,  a->action,
                             a->reason, a->photo_sha256, num[2], a->detail };
    for (int i = 0; i < 9; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%zu:%s,", strlen(order[i]), order[i]);
    ASSERT_OK(ft_sha256_hex(buf, (size_t)n, out));
}

/* ------------------------------------------------------------------------ */
/* SHA-256, the audit log                                                   */
/* ------------------------------------------------------------------------ */

static void test_sha256_hex(void)
{
    char h[65];
    ASSERT_OK(ft_sha256_hex("abc", 3, h));
    ASSERT_STR_EQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ASSERT_OK(ft_sha256_hex(NULL, 0, h));
    ASSERT_STR_EQ(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ASSERT_OK(ft_sha256_hex(two, strlen(two), h));
    ASSERT_STR_EQ(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    ASSERT_EQ(ft_sha256_hex(NULL, 1, h), FT_EINVAL);
    no_leaks();
}

static void test_audit_append_list(void)
{
    char path[128];
    tmp_db(path, "audit.ftdb");
    ft_store *st;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    ft_audit a = record("ana", "operator", "search", "case 2026-114: lost child", 3, "");
    ASSERT_OK(ft_sha256_hex("photo bytes", 11, a.photo_sha256));
    int64_t t0 = now_us();
    ASSERT_OK(ft_store_audit_append(st, &a));
    ASSERT_EQ(a.id, 1);
    ASSERT(a.time_us >= t0 && a.time_us <= now_us());
    char want[65];
    expected_hash("0000000000000000000000000000000000000000000000000000000000000000", &a, want);
    ASSERT_STR_EQ(a.hash, want);
    char first_hash[65];
    memcpy(first_hash, a.hash, sizeof first_hash);

    ft_audit b = record("root", "admin", "purge", "", 0, "sightings=2, a comma: and a colon");
    ASSERT_OK(ft_store_audit_append(st, &b));
    ASSERT_EQ(b.id, 2);
    expected_hash(first_hash, &b, want);
    ASSERT_STR_EQ(b.hash, want);
    ft_audit c = record("ben", "operator", "watch_add", "case 7", 1, "entry 4");
    ASSERT_OK(ft_store_audit_append(st, &c));

    /* refused: no action, no who, no role, a bad digest, negative results */
    ft_audit bad = record("ana", "operator", "", "", 0, "");
    ASSERT_EQ(ft_store_audit_append(st, &bad), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "action");
    bad = record("", "operator", "search", "", 0, "");
    ASSERT_EQ(ft_store_audit_append(st, &bad), FT_EINVAL);
    bad = record("ana", "", "search", "", 0, "");
    ASSERT_EQ(ft_store_audit_append(st, &bad), FT_EINVAL);
    bad = record("ana", "operator", "search", "", 0, "");
    snprintf(bad.photo_sha256, sizeof bad.photo_sha256, "not-a-digest");
    ASSERT_EQ(ft_store_audit_append(st, &bad), FT_EINVAL);
    bad = record("ana", "operator", "search", "", -1, "");
    ASSERT_EQ(ft_store_audit_append(st, &bad), FT_EINVAL);
    bad = record("ana", "operator", "search", "", 0, "");
    memset(bad.detail, 'x', sizeof bad.detail); /* not terminated */
    ASSERT_EQ(ft_store_audit_append(st, &bad), FT_EINVAL);
    ASSERT_EQ(ft_store_audit_append(st, NULL), FT_EINVAL);

    ft_audit *v;
    int n;
    ASSERT_OK(ft_store_audit_list(st, 0, &v, &n));
    ASSERT_EQ(n, 3);
    ASSERT_EQ(v[0].id, 1);
    ASSERT_STR_EQ(v[0].who, "ana");
    ASSERT_STR_EQ(v[0].role, "operator");
    ASSERT_STR_EQ(v[0].action, "search");
    ASSERT_STR_EQ(v[0].reason, "case 2026-114: lost child");
    ASSERT_STR_EQ(v[0].photo_sha256, a.photo_sha256);
    ASSERT_EQ(v[0].results, 3);
    ASSERT_EQ(v[0].time_us, a.time_us);
    ASSERT_STR_EQ(v[0].hash, first_hash);
    ASSERT_STR_EQ(v[1].detail, "sightings=2, a comma: and a colon");
    ASSERT_STR_EQ(v[1].photo_sha256, "");
    ASSERT_STR_EQ(v[2].action, "watch_add");
    ft_store_free(v);
    /* since: only those at or after the third's time */
    ASSERT_OK(ft_store_audit_list(st, c.time_us, &v, &n));
    ASSERT(n >= 1 && v[n - 1].id == 3);
    ft_store_free(v);
    ASSERT_OK(ft_store_audit_list(st, c.time_us + 1, &v, &n));
    ASSERT_EQ(n, 0);
    ASSERT(v == NULL);
    int64_t bad_id = -1;
    ASSERT_OK(ft_store_audit_verify(st, &bad_id));
    ASSERT_EQ(bad_id, 0);
    ft_store_close(st);

    /* read-only: lists and verifies, never appends */
    ASSERT_OK(ft_store_open(path, FT_STORE_READONLY, &st));
    ASSERT_OK(ft_store_audit_list(st, 0, &v, &n));
    ASSERT_EQ(n, 3);
    ft_store_free(v);
    bad_id = -1;
    ASSERT_OK(ft_store_audit_verify(st, &bad_id));
    ASSERT_EQ(bad_id, 0);
    ASSERT_EQ(ft_store_audit_append(st, &c), FT_EINVAL);
    ft_store_close(st);
    no_leaks();
}

/* Edits through SQL are refused while the triggers exist; with them
** dropped, verify names the record where the chain breaks. */
static void test_audit_tamper(void)
{
    char path[128];
    tmp_db(path, "tamper.ftdb");
    ft_store *st;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    ft_audit r[4];
    for (int i = 0; i < 4; i++) {
        char reason[32];
        snprintf(reason, sizeof reason, "case %d", 100 + i);
        r[i] = record("ana", "operator", "search", reason, i, "");
        ASSERT_OK(ft_store_audit_append(st, &r[i]));
    }
    ft_store_close(st);

    sqlite3 *db = raw_open(path);
    char err[256];
    ASSERT_EQ(raw_exec(db, "UPDATE audit SET reason = 'nothing' WHERE id = 2", err, sizeof err),
              SQLITE_CONSTRAINT);
    ASSERT_STR_CONTAINS(err, "append-only");
    ASSERT_EQ(raw_exec(db, "DELETE FROM audit WHERE id = 4", err, sizeof err), SQLITE_CONSTRAINT);
    ASSERT_STR_CONTAINS(err, "append-only");
    ASSERT_EQ(raw_exec(db, "DELETE FROM audit", err, sizeof err), SQLITE_CONSTRAINT);
    ASSERT_EQ(raw_int(path, "SELECT count(*) FROM audit"), 4);
    ASSERT_EQ(raw_int(path, "SELECT count(*) FROM audit WHERE reason = 'case 101'"), 1);
    /* past the triggers: the chain shows it */
    ASSERT_EQ(
        raw_exec(db, "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete", err, sizeof err),
        SQLITE_OK);
    ASSERT_EQ(raw_exec(db, "UPDATE audit SET reason = 'case 999' WHERE id = 2", err, sizeof err),
              SQLITE_OK);
    sqlite3_close(db);
    int64_t bad = 0;
    ASSERT_OK(ft_store_open(path, FT_STORE_READONLY, &st));
    ASSERT_OK(ft_store_audit_verify(st, &bad));
    ASSERT_EQ(bad, 2);
    ft_store_close(st);

    /* the edited record given its right hash: the next one breaks */
    ft_audit e = r[1];
    snprintf(e.reason, sizeof e.reason, "case 999");
    char h[65];
    expected_hash(r[0].hash, &e, h);
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE audit SET hash = '%s' WHERE id = 2", h);
    db = raw_open(path);
    ASSERT_EQ(raw_exec(db, sql, err, sizeof err), SQLITE_OK);
    sqlite3_close(db);
    ASSERT_OK(ft_store_open(path, FT_STORE_READONLY, &st));
    ASSERT_OK(ft_store_audit_verify(st, &bad));
    ASSERT_EQ(bad, 3);
    ft_store_close(st);

    /* back as it was, then a record removed: the one after it breaks */
    snprintf(sql, sizeof sql, "UPDATE audit SET reason = 'case 101', hash = '%s' WHERE id = 2",
             r[1].hash);
    db = raw_open(path);
    ASSERT_EQ(raw_exec(db, sql, err, sizeof err), SQLITE_OK);
    sqlite3_close(db);
    ASSERT_OK(ft_store_open(path, FT_STORE_READONLY, &st));
    ASSERT_OK(ft_store_audit_verify(st, &bad));
    ASSERT_EQ(bad, 0);
    ft_store_close(st);
    db = raw_open(path);
    ASSERT_EQ(raw_exec(db, "DELETE FROM audit WHERE id = 3", err, sizeof err), SQLITE_OK);
    sqlite3_close(db);
    ASSERT_OK(ft_store_open(path, FT_STORE_READONLY, &st));
    ASSERT_OK(ft_store_audit_verify(st, &bad));
    ASSERT_EQ(bad, 4);
    ft_store_close(st);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Sightings with planted markers                                           */
/* ------------------------------------------------------------------------ */

/* A 32-byte marker: "FTMARK" + tag + a fixed, unlikely pattern. */
static void marker(unsigned char m[32], char tag)
{
    static const unsigned char tail[24] = { 0x9d, 0x13, 0xe7, 0x51, 0xaa, 0x02, 0xfe, 0x6c,
                                            0x38, 0xb1, 0x77, 0x0f, 0xc4, 0x5a, 0x91, 0xd2,
                                            0x2e, 0x83, 0x4b, 0xf0, 0x66, 0x19, 0xa5, 0x3c };
    memcpy(m, "FTMARK", 6);
    m[6] = (unsigned char)tag;
    m[7] = (unsigned char)tag;
    memcpy(m + 8, tail, sizeof tail);
}

/* A "JPEG" of len bytes (FF D8 FF, then the marker repeated) */
static unsigned char *thumb_with(char tag, size_t len)
{
    unsigned char *t = malloc(len), m[32];
    ASSERT(t != NULL);
    marker(m, tag);
    t[0] = 0xFF, t[1] = 0xD8, t[2] = 0xFF, t[3] = 0xE0;
    for (size_t i = 4; i < len; i++)
        t[i] = m[(i - 4) % 32];
    return t;
}

/* Descriptor values whose float32 bytes are distinctive: 1 + tag/1000 +
** d * 2^-20 (no other descriptor here has them). */
static float desc_value(char tag, int k, int d)
{
    return 1.0f + (float)tag / 1000.0f + (float)k / 8.0f + (float)d * 0x1p-20f;
}

static void sighting_at(ft_sighting *s, int64_t key, int64_t last_us, char tag,
                        const unsigned char *thumb, size_t thumb_len)
{
    memset(s, 0, sizeof *s);
    s->track_key = key;
    s->first_us = last_us - 2000000;
    s->best_us = last_us - 1000000;
    s->last_us = last_us;
    s->box[2] = s->box[3] = 40;
    s->face_px = 40;
    s->det_score = 0.9f;
    s->quality = 0.5f;
    s->n_frames = 7;
    s->n_desc = 3;
    for (int k = 0; k < 3; k++) {
        for (int d = 0; d < FT_DESCRIPTOR_DIM; d++)
            s->desc[k][d] = desc_value(tag, k, d);
        s->desc_quality[k] = 0.5f;
    }
    s->thumbnail = thumb;
    s->thumbnail_len = thumb_len;
}

/* The float32 LE bytes of descriptor k, dims 0..7 (32 bytes) of tag. */
static void desc_marker(unsigned char m[32], char tag, int k)
{
    for (int d = 0; d < 8; d++) {
        float f = desc_value(tag, k, d);
        uint32_t u;
        memcpy(&u, &f, 4);
        for (int b = 0; b < 4; b++)
            m[4 * d + b] = (unsigned char)(u >> (8 * b));
    }
}

static unsigned char *read_all(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    ASSERT(b != NULL);
    size_t k;
    while ((k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            cap *= 2;
            b = realloc(b, cap);
            ASSERT(b != NULL);
        }
    }
    fclose(f);
    *len = n;
    return b;
}

/* Occurrences of the 32 bytes m in the database file and its -wal. */
static int count_in_files(const char *path, const unsigned char m[32])
{
    int hits = 0;
    for (int w = 0; w < 2; w++) {
        char p[160];
        snprintf(p, sizeof p, w ? "%s-wal" : "%s", path);
        size_t n;
        unsigned char *b = read_all(p, &n);
        if (!b) continue;
        for (size_t i = 0; i + 32 <= n; i++)
            if (b[i] == m[0] && memcmp(b + i, m, 32) == 0) hits++;
        free(b);
    }
    return hits;
}

/* Markers of everything the purge must remove: thumbnails 'A' (large, on
** overflow pages) and 'B' (small, inside a page), the descriptors of both,
** watchlist entry 'W', the saved state 'S'. */
static int count_purged_markers(const char *path)
{
    unsigned char m[32];
    int hits = 0;
    const char tags[] = { 'A', 'B', 'W', 'S' };
    for (int i = 0; i < 4; i++) {
        marker(m, tags[i]);
        hits += count_in_files(path, m);
    }
    for (int k = 0; k < 3; k++) {
        desc_marker(m, 'A', k);
        hits += count_in_files(path, m);
        desc_marker(m, 'B', k);
        hits += count_in_files(path, m);
        desc_marker(m, 'W', k);
        hits += count_in_files(path, m);
    }
    return hits;
}

struct event {
    int64_t cutoff;
    int64_t old_a, old_b, kept; /* sighting ids */
    int64_t watch_old, watch_kept;
    unsigned char *thumb_kept;
    size_t thumb_kept_len;
};

/* Builds the event: two sightings that end before the cutoff ('A', 'B'),
** one after ('K'); an expired watchlist entry ('W') and a current one;
** dismissals; a finished ingest's saved state ('S'); two audit records. */
static void build_event(const char *path, struct event *ev)
{
    ft_store *st;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    ft_camera c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "km05");
    c.km = 5;
    ASSERT_OK(ft_store_camera_add(st, &c));
    int64_t now = now_us();
    ev->cutoff = now - DAY_US;
    int64_t ing, resume;
    ASSERT_OK(ft_store_ingest_begin(st, "km05", "cam5.mp4", now - 10 * DAY_US, 5.0, &ing, &resume));
    unsigned char *ta = thumb_with('A', 9000), *tb = thumb_with('B', 600);
    ev->thumb_kept_len = 7000;
    ev->thumb_kept = thumb_with('K', ev->thumb_kept_len);
    ft_sighting s[3];
    sighting_at(&s[0], 1, now - 9 * DAY_US, 'A', ta, 9000);
    sighting_at(&s[1], 2, now - 2 * DAY_US, 'B', tb, 600);
    sighting_at(&s[2], 3, now - DAY_US / 2, 'K', ev->thumb_kept, ev->thumb_kept_len);
    unsigned char state[256], m[32];
    marker(m, 'S');
    for (int i = 0; i < 8; i++)
        memcpy(state + 32 * i, m, 32);
    ASSERT_OK(ft_store_ingest_commit_state(st, ing, s, 3, 1000000, 10, 3, state, sizeof state));
    ASSERT_OK(ft_store_ingest_finish(st, ing, FT_INGEST_DONE, NULL));
    free(ta);
    free(tb);
    ev->old_a = 1, ev->old_b = 2, ev->kept = 3; /* the first ids of a new file */
    ft_sighting got;
    ASSERT_OK(ft_store_sighting_get(st, 3, &got, NULL));
    ASSERT_EQ(got.track_key, 3);

    ft_watch *w = calloc(1, sizeof *w);
    ASSERT(w != NULL);
    snprintf(w->name, sizeof w->name, "expired");
    w->expires_us = now - 2 * DAY_US;
    w->n_desc = 3;
    for (int k = 0; k < 3; k++)
        for (int d = 0; d < FT_DESCRIPTOR_DIM; d++)
            w->desc[k][d] = desc_value('W', k, d);
    ASSERT_OK(ft_store_watch_add(st, w));
    ev->watch_old = w->id;
    snprintf(w->name, sizeof w->name, "current");
    w->expires_us = 0;
    for (int k = 0; k < 3; k++)
        for (int d = 0; d < FT_DESCRIPTOR_DIM; d++)
            w->desc[k][d] = 0.25f;
    ASSERT_OK(ft_store_watch_add(st, w));
    ev->watch_kept = w->id;
    free(w);
    ASSERT_OK(ft_store_watch_dismiss(st, ev->watch_kept, ev->old_a)); /* names a purged sighting */
    ASSERT_OK(ft_store_watch_dismiss(st, ev->watch_kept, ev->kept));  /* kept */
    ASSERT_OK(ft_store_watch_dismiss(st, ev->watch_old, ev->kept));   /* its entry goes */

    ft_audit a = record("ana", "operator", "search", "case 1", 2, "");
    ASSERT_OK(ft_store_audit_append(st, &a));
    a = record("ana", "operator", "watch_add", "case 1", 0, "");
    ASSERT_OK(ft_store_audit_append(st, &a));
    ft_store_close(st);
}

static void test_purge_leaves_no_bytes(void)
{
    char path[128];
    tmp_db(path, "purge.ftdb");
    struct event ev;
    build_event(path, &ev);
    /* control: the markers are there to be found */
    ASSERT(count_purged_markers(path) > 0);
    unsigned char mk[32];
    marker(mk, 'K');
    ASSERT(count_in_files(path, mk) > 0);

    ft_store *st;
    ASSERT_OK(ft_store_open(path, 0, &st));
    ft_purge_report pre, rep;
    ASSERT_OK(ft_store_purge_preview(st, ev.cutoff, &pre));
    ASSERT_OK(ft_store_purge(st, ev.cutoff, &rep));
    ASSERT_EQ(rep.sightings, 2);
    ASSERT_EQ(rep.descriptors, 6);
    ASSERT_EQ(rep.thumbnails, 2);
    ASSERT_EQ(rep.watch_entries, 1);
    ASSERT_EQ(rep.dismissals, 2);
    ASSERT_EQ(rep.resume_states, 1);
    ASSERT(rep.bytes_before > 0 && rep.bytes_after > 0 && rep.bytes_after < rep.bytes_before);
    ASSERT_EQ(pre.sightings, rep.sightings);
    ASSERT_EQ(pre.descriptors, rep.descriptors);
    ASSERT_EQ(pre.thumbnails, rep.thumbnails);
    ASSERT_EQ(pre.watch_entries, rep.watch_entries);
    ASSERT_EQ(pre.dismissals, rep.dismissals);
    ASSERT_EQ(pre.resume_states, rep.resume_states);

    /* the kept sighting, whole */
    ft_sighting got;
    unsigned char *thumb = NULL;
    ASSERT_OK(ft_store_sighting_get(st, ev.kept, &got, &thumb));
    ASSERT_EQ(got.thumbnail_len, ev.thumb_kept_len);
    ASSERT(thumb && memcmp(thumb, ev.thumb_kept, ev.thumb_kept_len) == 0);
    ft_store_free(thumb);
    ASSERT_EQ(got.n_desc, 3);
    for (int k = 0; k < 3; k++)
        for (int d = 0; d < FT_DESCRIPTOR_DIM; d++)
            ASSERT(got.desc[k][d] == desc_value('K', k, d));
    ASSERT_EQ(ft_store_sighting_get(st, ev.old_a, &got, NULL), FT_ENOTFOUND);
    ASSERT_EQ(ft_store_sighting_get(st, ev.old_b, &got, NULL), FT_ENOTFOUND);
    ft_watch *wl;
    int n;
    ASSERT_OK(ft_store_watch_list(st, 0, &wl, &n));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(wl[0].id, ev.watch_kept);
    ft_store_free(wl);
    ASSERT_EQ(ft_store_watch_dismissed(st, ev.watch_kept, ev.kept), 1);
    ASSERT_EQ(ft_store_watch_dismissed(st, ev.watch_kept, ev.old_a), 0);
    /* the audit log, whole and intact */
    ft_audit *log;
    ASSERT_OK(ft_store_audit_list(st, 0, &log, &n));
    ASSERT_EQ(n, 2);
    ft_store_free(log);
    int64_t bad = -1;
    ASSERT_OK(ft_store_audit_verify(st, &bad));
    ASSERT_EQ(bad, 0);
    ASSERT_OK(ft_store_check(st));
    /* the marker scan while the store is still open (its -wal beside) */
    ASSERT_EQ(count_purged_markers(path), 0);
    ft_store_close(st);
    ASSERT_EQ(count_purged_markers(path), 0);
    ASSERT(count_in_files(path, mk) > 0);
    ASSERT_EQ(raw_int(path, "SELECT count(*) FROM sightings"), 1);
    ASSERT_EQ(raw_int(path, "SELECT count(*) FROM ingests WHERE resume_state IS NOT NULL"), 0);
    ASSERT_EQ(raw_int(path, "SELECT count(*) FROM cameras"), 1);

    /* again: nothing more to remove */
    ASSERT_OK(ft_store_open(path, 0, &st));
    ASSERT_OK(ft_store_purge(st, ev.cutoff, &rep));
    ASSERT_EQ(rep.sightings + rep.descriptors + rep.thumbnails + rep.watch_entries, 0);
    /* everything */
    ASSERT_OK(ft_store_purge(st, INT64_MAX, &rep));
    ASSERT_EQ(rep.sightings, 1);
    ASSERT_EQ(rep.watch_entries, 1);
    ft_store_close(st);
    ASSERT_EQ(count_in_files(path, mk), 0);
    ASSERT_EQ(raw_int(path, "SELECT count(*) FROM audit"), 2);
    free(ev.thumb_kept);

    /* read-only: no purge */
    ASSERT_OK(ft_store_open(path, FT_STORE_READONLY, &st));
    ASSERT_EQ(ft_store_purge(st, INT64_MAX, &rep), FT_EINVAL);
    ASSERT_OK(ft_store_purge_preview(st, INT64_MAX, &rep));
    ft_store_close(st);
    no_leaks();
}

/* Control: rows deleted the plain way (no secure_delete, no VACUUM) leave
** the markers in the file: what the purge test looks for is really there
** to find when a purge does less. */
static void test_plain_delete_leaves_bytes(void)
{
    char path[128];
    tmp_db(path, "plain.ftdb");
    struct event ev;
    build_event(path, &ev);
    free(ev.thumb_kept);
    sqlite3 *db = raw_open(path);
    char err[256];
    ASSERT_EQ(raw_exec(db,
                       "PRAGMA secure_delete = OFF; DELETE FROM descriptors; DELETE FROM "
                       "thumbnails; DELETE FROM watch_dismissed; DELETE FROM sightings; "
                       "DELETE FROM watchlist; UPDATE ingests SET resume_state = NULL",
                       err, sizeof err),
              SQLITE_OK);
    sqlite3_close(db);
    ASSERT_EQ(raw_int(path, "SELECT count(*) FROM thumbnails"), 0);
    ASSERT(count_purged_markers(path) > 0);
}

/* A reader in an open read transaction: the purge's checkpoint cannot
** finish; it says so after the busy timeout (no hang), the rows are gone,
** and a second purge without the reader reclaims the bytes. */
static void test_purge_reader_in_the_way(void)
{
    char path[128];
    tmp_db(path, "reader.ftdb");
    struct event ev;
    build_event(path, &ev);
    free(ev.thumb_kept);
    sqlite3 *reader = raw_open(path);
    sqlite3_stmt *s;
    ASSERT_EQ(raw_exec(reader, "BEGIN", NULL, 0), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(reader, "SELECT count(*) FROM sightings", -1, &s, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_int64(s, 0), 3);
    sqlite3_finalize(s); /* the read transaction stays open */

    ft_store *st;
    ASSERT_OK(ft_store_open(path, 0, &st));
    ft_purge_report rep;
    double t0 = ft__now();
    ASSERT_EQ(ft_store_purge(st, ev.cutoff, &rep), FT_EIO);
    double waited = ft__now() - t0;
    ASSERT(waited < 30);
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "another connection");
    ASSERT_STR_CONTAINS(ft_store_errmsg(st), "rows are deleted");
    ASSERT_EQ(rep.sightings, 2);
    ASSERT_EQ(rep.thumbnails, 2);
    /* the reader still sees its snapshot; the store sees the purge */
    int64_t ns;
    ASSERT_OK(ft_store_stats(st, NULL, &ns, NULL, NULL, NULL));
    ASSERT_EQ(ns, 1);
    ASSERT_EQ(raw_exec(reader, "COMMIT", NULL, 0), SQLITE_OK);
    sqlite3_close(reader);
    ASSERT_OK(ft_store_purge(st, ev.cutoff, &rep));
    ASSERT_EQ(rep.sightings, 0);
    ft_store_close(st);
    ASSERT_EQ(count_purged_markers(path), 0);
    no_leaks();
}

static void test_purge_due(void)
{
    char path[128];
    tmp_db(path, "due.ftdb");
    ft_store *st;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    int64_t before = -1, due = -1, end = -1;
    ASSERT_EQ(ft_store_purge_due(st, 30, now_us(), &before, &due, &end), FT_ENOTFOUND);
    ft_camera c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "km05");
    c.km = 5;
    ASSERT_OK(ft_store_camera_add(st, &c));
    const int64_t start = 1776000000000000LL; /* 2026-04-12T13:20:00Z */
    int64_t ing, resume;
    ASSERT_OK(ft_store_ingest_begin(st, "km05", "cam5.mp4", start, 5.0, &ing, &resume));
    ft_sighting s;
    sighting_at(&s, 1, start + 3600000000LL, 'X', NULL, 0);
    /* checkpoint 30 min in: the sighting (1 h in) is the later end */
    ASSERT_OK(ft_store_ingest_commit(st, ing, &s, 1, 1800000000LL, 10, 1));
    const int64_t end_want = start + 3600000000LL;
    ASSERT_EQ(ft_store_purge_due(st, 30, end_want + 29 * DAY_US, &before, &due, &end), 0);
    ASSERT_EQ(before, 0);
    ASSERT_EQ(end, end_want);
    ASSERT_EQ(due, end_want + 30 * DAY_US);
    ASSERT_EQ(ft_store_purge_due(st, 30, end_want + 30 * DAY_US, &before, &due, &end), 1);
    ASSERT_EQ(before, INT64_MAX);
    ASSERT_EQ(ft_store_purge_due(st, 0, end_want, &before, NULL, NULL), 1);
    ASSERT_EQ(ft_store_purge_due(st, -1, end_want, &before, NULL, NULL), FT_EINVAL);
    ASSERT_EQ(ft_store_purge_due(st, 36501, end_want, &before, NULL, NULL), FT_EINVAL);
    /* a checkpoint past the last sighting: the video's end is the end */
    ASSERT_OK(ft_store_ingest_commit(st, ing, NULL, 0, 7200000000LL, 10, 0));
    ASSERT_EQ(ft_store_purge_due(st, 1, 0, &before, &due, &end), 0);
    ASSERT_EQ(end, start + 7200000000LL);
    ASSERT_EQ(due, start + 7200000000LL + DAY_US);
    ft_store_close(st);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Upgrade, file mode                                                       */
/* ------------------------------------------------------------------------ */

/* A v4 file with data: read-only it has no log (and verifies); opened for
** writing it becomes v5 with its data, and takes records. */
static void test_upgrade_from_v4(void)
{
    char path[128];
    tmp_db(path, "v4.ftdb");
    ft_store *st;
    ASSERT_OK(ft__store_open_with(path, FT_STORE_CREATE, ft__store_migrations, 4, &st));
    ft_camera c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "km05");
    c.km = 5;
    ASSERT_OK(ft_store_camera_add(st, &c));
    int64_t ing, resume;
    ASSERT_OK(
        ft_store_ingest_begin(st, "km05", "cam5.mp4", 1776000000000000LL, 5.0, &ing, &resume));
    ft_sighting s;
    sighting_at(&s, 1, 1776000060000000LL, 'X', NULL, 0);
    ASSERT_OK(ft_store_ingest_commit(st, ing, &s, 1, 5, 1, 1));
    ft_watch *w = calloc(1, sizeof *w);
    ASSERT(w != NULL);
    snprintf(w->name, sizeof w->name, "someone");
    w->n_desc = 1;
    ASSERT_OK(ft_store_watch_add(st, w));
    free(w);
    ft_store_close(st);
    ASSERT_EQ(raw_int(path, "PRAGMA user_version"), 4);

    ASSERT_OK(ft_store_open(path, FT_STORE_READONLY, &st));
    ft_audit *v;
    int n;
    ASSERT_OK(ft_store_audit_list(st, 0, &v, &n));
    ASSERT_EQ(n, 0);
    int64_t bad = -1;
    ASSERT_OK(ft_store_audit_verify(st, &bad));
    ASSERT_EQ(bad, 0);
    ft_store_close(st);
    ASSERT_EQ(raw_int(path, "PRAGMA user_version"), 4);

    ASSERT_OK(ft_store_open(path, 0, &st));
    ft_audit a = record("ana", "admin", "camera_add", "", 0, "km05");
    ASSERT_OK(ft_store_audit_append(st, &a));
    ASSERT_EQ(a.id, 1);
    int64_t ns, nd, nc;
    ASSERT_OK(ft_store_stats(st, &nc, &ns, &nd, NULL, NULL));
    ASSERT_EQ(nc, 1);
    ASSERT_EQ(ns, 1);
    ASSERT_EQ(nd, 3);
    ft_watch *wl;
    ASSERT_OK(ft_store_watch_list(st, 0, &wl, &n));
    ASSERT_EQ(n, 1);
    ft_store_free(wl);
    ft_store_close(st);
    ASSERT_EQ(raw_int(path, "PRAGMA user_version"), 5);
    ASSERT_EQ(raw_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND "
                            "tbl_name = 'audit'"),
              2);
    no_leaks();
}

static void test_new_file_mode(void)
{
    char path[128], wal[160];
    tmp_db(path, "mode.ftdb");
    mode_t old = umask(022);
    ft_store *st;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    umask(old);
    ft_camera c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "km05");
    ASSERT_OK(ft_store_camera_add(st, &c));
    struct stat sb;
    ASSERT_EQ(stat(path, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0600);
    snprintf(wal, sizeof wal, "%s-wal", path);
    ASSERT_EQ(stat(wal, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0600);
    snprintf(wal, sizeof wal, "%s-shm", path);
    ASSERT_EQ(stat(wal, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0600);
    ft_store_close(st);
    /* an existing file keeps its mode */
    ASSERT_EQ(chmod(path, 0640), 0);
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    ft_store_close(st);
    ASSERT_EQ(stat(path, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0640);
    no_leaks();
}

FT_TESTS(FT_TEST(test_sha256_hex), FT_TEST(test_audit_append_list), FT_TEST(test_audit_tamper),
         FT_TEST(test_purge_leaves_no_bytes), FT_TEST(test_plain_delete_leaves_bytes),
         FT_TEST(test_purge_reader_in_the_way), FT_TEST(test_purge_due),
         FT_TEST(test_upgrade_from_v4), FT_TEST(test_new_file_mode));
