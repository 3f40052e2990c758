/*
** tests/unit/test_faults.c: the N-th allocation failing across the library
** calls `facetrail serve` makes for one request: the photo's decode
** (ft_image_decode of a JPEG), the query face (ft_query_face), the whole
** search (ft_search_photos), its answer (ft_search_json, with thumbnails as
** links as serve sends them and inline as the CLI does), a watchlist look
** and its alert (ft_watcher_set, ft_watcher_look, ft_alert_json) and the
** audit record (ft_store_audit_append).
**
** Each call is made with allocation 1, 2, 3, ... failing
** (ft__alloc_fail_after) until it succeeds. Every failure must be FT_ENOMEM
** (the audit append: FT_ENOMEM or FT_EIO with a message, SQLite's own
** allocations are not hooked), leave its outputs empty, leak nothing (ASan's
** leak check after each test) and leave the state usable: the same call made
** again without failures gives the reference answer, and the audit chain
** still verifies. Every failure point is tried. (Allocations made outside
** the hooks, by XNNPACK's workspaces, jansson and SQLite, are not failed
** here: the counts printed are the library's own.)
**
** The event: one camera, the sample photo's face described by the engine
** stored as a sighting (with its thumbnail) and two strangers. Needs the
** models and face-api's sample photos (skipped when absent).
*/
#include "facetrail.h"
#include "facetrail/ingest.h"
#include "facetrail/search.h"
#include "facetrail/store.h"

#include "core/core.h"

#include "../harness/test.h"

#include <stdint.h>
#include <unistd.h>

#define T0    1775986200000000LL /* 2026-04-12T09:30:00Z */
#define MAX_N 100000

extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
        ft_test_fail(__FILE__, __LINE__, "memory leaked (see the LeakSanitizer report)");
}

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                 */
/* ------------------------------------------------------------------------ */

static char db_path[128];

static void rm_db(void)
{
    char p[160];
    unlink(db_path);
    snprintf(p, sizeof p, "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db_path);
    unlink(p);
}

static ft_engine *open_engine(const ft_detect_params *detect)
{
    const char *models = ft_test_model_dir();
    if (!models) FT_SKIP("models not fetched (make models)");
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = models;
    ep.n_threads = 1; /* the allocation counter is not thread-safe */
    ft_engine *eng;
    char err[256];
    ASSERT_OK(ft_engine_open(&ep, &eng, err, sizeof err));
    ASSERT_OK(ft_engine_preload(eng, detect)); /* serve loads its models at start */
    return eng;
}

static unsigned char *read_sample(const char *name, size_t *len)
{
    const char *models = ft_test_model_dir();
    if (!models) FT_SKIP("models not fetched (make models)");
    char path[1024];
    snprintf(path, sizeof path, "%s/../demo/%s", models, name);
    FILE *f = fopen(path, "rb");
    if (!f) FT_SKIP("sample photos absent");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n);
    ASSERT(p && fread(p, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* The part of img inside (x, y, w, h), clipped: a smaller photo, faster
** through the networks. */
static ft_image *crop(const ft_image *img, int x, int y, int w, int h)
{
    if (x < 0) w += x, x = 0;
    if (y < 0) h += y, y = 0;
    if (x + w > img->width) w = img->width - x;
    if (y + h > img->height) h = img->height - y;
    ft_image *c;
    ASSERT_OK(ft_image_create(w, h, &c));
    for (int r = 0; r < h; r++)
        memcpy(c->rgb + (size_t)r * w * 3, img->rgb + ((size_t)(y + r) * img->width + x) * 3,
               (size_t)w * 3);
    return c;
}

/* A new event with camera km05. */
static ft_store *open_event(void)
{
    snprintf(db_path, sizeof db_path, "/tmp/ft_faults_%d.ftdb", (int)getpid());
    rm_db();
    ft_store *st;
    ASSERT_OK(ft_store_open(db_path, FT_STORE_CREATE, &st));
    ft_camera c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "km05");
    c.km = 5;
    ASSERT_OK(ft_store_camera_add(st, &c));
    return st;
}

/* The face of q (with its thumbnail from img) seen at km05, and two
** strangers. */
static void add_sightings(ft_store *st, const ft_image *img, const ft_query *q)
{
    int64_t ing, resume;
    ASSERT_OK(ft_store_ingest_begin(st, "km05", "v.mp4", T0, 5, &ing, &resume));
    unsigned char *thumb;
    size_t thumb_len;
    ASSERT_OK(ft_face_thumbnail(img, q->face.box, 96, &thumb, &thumb_len));
    static ft_sighting s[3];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 3; i++) {
        s[i].track_key = i + 1;
        s[i].first_us = T0 + i * 60000000LL;
        s[i].best_us = s[i].first_us + 1000000;
        s[i].last_us = s[i].first_us + 2000000;
        s[i].box[2] = s[i].box[3] = 80;
        s[i].face_px = 80;
        s[i].det_score = 0.9f;
        s[i].quality = 0.8f;
        s[i].n_frames = 10;
        s[i].n_desc = 1;
        s[i].thumbnail = thumb;
        s[i].thumbnail_len = thumb_len;
        for (int k = 0; k < FT_DESCRIPTOR_DIM; k++)
            s[i].desc[0][k] = i == 0 ? q->face.descriptor[k] : (k % 3 == i ? 0.5f : -0.5f);
    }
    ASSERT_OK(ft_store_ingest_commit(st, ing, s, 3, 1, 3, 3));
    ft_store_free(thumb);
}

/* ------------------------------------------------------------------------ */
/* The request's calls                                                      */
/* ------------------------------------------------------------------------ */

/* Decoding the photo (a JPEG), as serve does with each 'photo' part. */
static void test_decode_jpeg(void)
{
    size_t len;
    unsigned char *jpg = read_sample("sample2.jpg", &len);
    char err[256];
    ft_image *ref;
    ASSERT_OK(ft_image_decode(jpg, len, "photo 1", 40000000u, &ref, err, sizeof err));
    long n, failures = 0;
    for (n = 0; n < MAX_N; n++) {
        ft_image *img = (ft_image *)1;
        ft__alloc_fail_after(n);
        int rc = ft_image_decode(jpg, len, "photo 1", 40000000u, &img, err, sizeof err);
        ft__alloc_fail_after(-1);
        if (rc == FT_OK) {
            ASSERT(img->width == ref->width && img->height == ref->height);
            ASSERT(memcmp(img->rgb, ref->rgb, (size_t)ref->width * ref->height * 3) == 0);
            ft_image_destroy(img);
            break;
        }
        ASSERT_EQ(rc, FT_ENOMEM);
        ASSERT(img == NULL);
        ASSERT_STR_CONTAINS(err, "photo 1");
        failures++;
    }
    ASSERT(failures >= 2 && n < MAX_N);
    printf("# JPEG decode: %ld failure points, each FT_ENOMEM\n", failures);
    ft_image_destroy(ref);
    free(jpg);
    no_leaks();
}

/* ft_query_face, ft_search_photos and ft_search_json on the event. */
static void test_search_request(void)
{
    size_t len;
    unsigned char *jpg = read_sample("sample2.jpg", &len);
    char err[512];
    ft_image *whole;
    ASSERT_OK(ft_image_decode(jpg, len, "photo", 0, &whole, err, sizeof err));
    free(jpg);
    /* the query is described in the event's descriptor space, as serve does */
    ft_store *st = open_event();
    ft_query_params qp = ft_query_default_params();
    const ft_calibration *cal;
    ASSERT_OK(ft_query_params_for_store(st, &qp, &cal, NULL, 0, err, sizeof err));
    ft_engine *eng = open_engine(&qp.detect);
    ft_query q0;
    ASSERT_OK(ft_query_face(eng, whole, &qp, &q0, err, sizeof err));
    /* a photo of the face and some of its surroundings (as an operator's crop) */
    const double *b = q0.face.box;
    ft_image *img =
        crop(whole, (int)(b[0] - b[2]), (int)(b[1] - b[3]), (int)(3 * b[2]), (int)(3 * b[3]));
    ft_query ref;
    ASSERT_OK(ft_query_face(eng, img, &qp, &ref, err, sizeof err));
    add_sightings(st, img, &ref);
    ft_searcher *s;
    ASSERT_OK(ft_searcher_open(st, cal->metric, &s, err, sizeof err));

    /* ft_query_face */
    long n, failures = 0;
    for (n = 0; n < MAX_N; n++) {
        ft_query q;
        ft__alloc_fail_after(n);
        int rc = ft_query_face(eng, img, &qp, &q, err, sizeof err);
        ft__alloc_fail_after(-1);
        if (rc == FT_OK) break;
        if (rc != FT_ENOMEM)
            ft_test_fail(__FILE__, __LINE__, "query, allocation %ld failing: %d (%s)", n + 1, rc,
                         err);
        failures++;
        { /* the engine still answers the same */
            ASSERT_OK(ft_query_face(eng, img, &qp, &q, err, sizeof err));
            ASSERT(memcmp(q.face.descriptor, ref.face.descriptor, sizeof q.face.descriptor) == 0);
        }
    }
    ASSERT(failures >= 3 && n < MAX_N);
    printf("# ft_query_face: %ld failure points, each FT_ENOMEM\n", failures);

    /* ft_search_photos: the query and the search */
    const ft_image *photos[1] = { img };
    ft_search_params sp = ft_search_default_params();
    ft_query qs[1];
    ft_search_result rr;
    int failed;
    ASSERT_OK(ft_search_photos(eng, s, photos, 1, &qp, &sp, qs, &rr, &failed, err, sizeof err));
    ASSERT_EQ(rr.n_appearances, 1);
    int64_t best = rr.appearances[0].best_sighting;
    failures = 0;
    for (n = 0; n < MAX_N; n++) {
        ft_search_result r;
        memset(&r, 0xff, sizeof r);
        failed = 99;
        ft__alloc_fail_after(n);
        int rc = ft_search_photos(eng, s, photos, 1, &qp, &sp, qs, &r, &failed, err, sizeof err);
        ft__alloc_fail_after(-1);
        if (rc == FT_OK) {
            ASSERT_EQ(r.n_appearances, 1);
            ASSERT_EQ(r.appearances[0].best_sighting, best);
            ft_search_result_free(&r);
            break;
        }
        if (rc != FT_ENOMEM)
            ft_test_fail(__FILE__, __LINE__, "search, allocation %ld failing: %d (%s)", n + 1, rc,
                         err);
        ASSERT(r.appearances == NULL && r.flagged == NULL && r.n_appearances == 0);
        ft_search_result_free(&r); /* safe on the cleared result */
        failures++;
    }
    ASSERT(failures >= 3 && n < MAX_N);
    printf("# ft_search_photos: %ld failure points, each FT_ENOMEM\n", failures);

    /* ft_search_json: links (serve) and inline thumbnails read from the store */
    const char *names[1] = { "photo 1" };
    for (int inline_thumbs = 0; inline_thumbs < 2; inline_thumbs++) {
        char *want;
        const char *prefix = inline_thumbs ? NULL : "/api/v1/sightings/";
        ASSERT_OK(ft_search_json(st, s, &rr, qs, names, 1, prefix, &want));
        failures = 0;
        for (n = 0; n < MAX_N; n++) {
            char *text = (char *)1;
            ft__alloc_fail_after(n);
            int rc = ft_search_json(inline_thumbs ? st : NULL, s, &rr, qs, names, 1, prefix, &text);
            ft__alloc_fail_after(-1);
            if (rc == FT_OK) {
                ASSERT_STR_EQ(text, want);
                ft_store_free(text);
                break;
            }
            if (rc != FT_ENOMEM)
                ft_test_fail(__FILE__, __LINE__, "json, allocation %ld failing: %d", n + 1, rc);
            ASSERT(text == NULL);
            failures++;
        }
        ASSERT(failures >= 1 && n < MAX_N);
        printf("# ft_search_json (%s): %ld failure points, each FT_ENOMEM\n",
               inline_thumbs ? "inline thumbnails" : "links", failures);
        ft_store_free(want);
    }
    ft_search_result_free(&rr);
    ft_searcher_close(s);
    ft_store_close(st);
    rm_db();
    ft_engine_close(eng);
    ft_image_destroy(img);
    ft_image_destroy(whole);
    no_leaks();
}

/* The watcher: set, look (a track in view, then its stored sighting) and
** the alert's JSON. */
static void test_watcher(void)
{
    ft_calibration cal;
    ft_calibration_knot k[3] = { { 0.2, 1e-4, NAN }, { 0.4, 1e-3, NAN }, { 1.0, 0.5, NAN } };
    char err[128];
    ASSERT_OK(ft_calibration_from_knots(FT_METRIC_EUCLIDEAN, k, 3, 0.05, &cal, err, sizeof err));
    static ft_watch w[2];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 2; i++) {
        w[i].id = 7 + i;
        snprintf(w[i].name, sizeof w[i].name, "P%d", i);
        snprintf(w[i].webhook, sizeof w[i].webhook, "http://127.0.0.1:9/h");
        w[i].n_desc = 1;
        w[i].desc[0][i] = 1.0f;
    }
    static ft_sighting si;
    memset(&si, 0, sizeof si);
    snprintf(si.camera_id, sizeof si.camera_id, "km05");
    si.first_us = T0, si.best_us = si.last_us = T0 + 1000000;
    si.n_desc = 1;
    si.desc[0][0] = 1.0f, si.desc[0][1] = 0.05f;

    /* create and set */
    long n, failures = 0;
    ft_watcher *wt = NULL;
    for (n = 0; n < MAX_N; n++) {
        ft__alloc_fail_after(n);
        int rc = ft_watcher_create(&cal, 0.01, &wt);
        if (rc == FT_OK) rc = ft_watcher_set(wt, w, 2, 10);
        ft__alloc_fail_after(-1);
        if (rc == FT_OK) break;
        ASSERT_EQ(rc, FT_ENOMEM);
        if (wt) { /* set failed: the watcher keeps what it had (nothing) */
            ASSERT_EQ(ft_watcher_count(wt), 0);
            ft_watcher_destroy(wt);
            wt = NULL;
        }
        failures++;
    }
    ASSERT(failures >= 1 && n < MAX_N);
    printf("# ft_watcher_create + set: %ld failure points, each FT_ENOMEM\n", failures);
    ASSERT_EQ(ft_watcher_count(wt), 2);
    /* a failed set keeps the entries it had */
    for (n = 0; n < MAX_N; n++) {
        ft__alloc_fail_after(n);
        int rc = ft_watcher_set(wt, w, 1, 10);
        ft__alloc_fail_after(-1);
        if (rc == FT_OK) break;
        ASSERT_EQ(rc, FT_ENOMEM);
        ASSERT_EQ(ft_watcher_count(wt), 2);
    }
    ASSERT_EQ(ft_watcher_count(wt), 1);
    ASSERT_OK(ft_watcher_set(wt, w, 2, 10));

    /* look: tracks in view, each new (key) */
    ft_alert a[4];
    failures = 0;
    for (n = 0; n < MAX_N; n++) {
        si.track_key = 100 + n;
        ft__alloc_fail_after(n);
        int rc = ft_watcher_look(wt, &si, a, 4);
        ft__alloc_fail_after(-1);
        if (rc == 1) break;
        ASSERT(rc == FT_ENOMEM || rc == 0);
        if (rc == 0) ft_test_fail(__FILE__, __LINE__, "a failed allocation hid the alert");
        failures++;
    }
    printf("# ft_watcher_look: %ld failure points, each FT_ENOMEM\n", failures);
    ASSERT_EQ(a[0].watch_id, 7);
    ASSERT_EQ(a[0].early, 1);
    ASSERT_EQ(ft_watcher_look(wt, &si, a, 4), 0); /* remembered: quiet */
    si.id = 55;                                   /* its stored sighting */
    ASSERT_EQ(ft_watcher_look(wt, &si, a, 4), 1);
    ASSERT_EQ(a[0].follows, 1);

    /* the alert's JSON */
    char *want;
    ASSERT_OK(ft_alert_json(&a[0], 5.0, "/api/v1/alerts/1/thumbnail", &want));
    failures = 0;
    for (n = 0; n < MAX_N; n++) {
        char *json = (char *)1;
        ft__alloc_fail_after(n);
        int rc = ft_alert_json(&a[0], 5.0, "/api/v1/alerts/1/thumbnail", &json);
        ft__alloc_fail_after(-1);
        if (rc == FT_OK) {
            ASSERT_STR_EQ(json, want);
            ft_store_free(json);
            break;
        }
        ASSERT_EQ(rc, FT_ENOMEM);
        ASSERT(json == NULL);
        failures++;
    }
    ASSERT(failures >= 1);
    printf("# ft_alert_json: %ld failure points, each FT_ENOMEM\n", failures);
    ft_store_free(want);
    ft_watcher_destroy(wt);
    no_leaks();
}

/* ft_store_audit_append: a failed append adds no record and the chain
** still verifies; the next append continues it. */
static void test_audit_append(void)
{
    snprintf(db_path, sizeof db_path, "/tmp/ft_faults_audit_%d.ftdb", (int)getpid());
    rm_db();
    ft_store *st;
    ASSERT_OK(ft_store_open(db_path, FT_STORE_CREATE, &st));
    ft_audit a;
    memset(&a, 0, sizeof a);
    snprintf(a.who, sizeof a.who, "Ops");
    snprintf(a.role, sizeof a.role, "operator");
    snprintf(a.action, sizeof a.action, "search");
    snprintf(a.reason, sizeof a.reason, "case 114: lost child");
    ASSERT_OK(ft_sha256_hex("photo", 5, a.photo_sha256));
    a.results = 3;
    snprintf(a.detail, sizeof a.detail, "1 photo");
    ASSERT_OK(ft_store_audit_append(st, &a));
    long n, failures = 0;
    int64_t records = 1;
    for (n = 0; n < MAX_N; n++) {
        ft__alloc_fail_after(n);
        int rc = ft_store_audit_append(st, &a);
        ft__alloc_fail_after(-1);
        ft_audit *list;
        int count;
        ASSERT_OK(ft_store_audit_list(st, 0, &list, &count));
        ft_store_free(list);
        int64_t bad = -1;
        ASSERT_OK(ft_store_audit_verify(st, &bad));
        ASSERT_EQ(bad, 0);
        if (rc == FT_OK) {
            ASSERT_EQ(count, records + 1);
            ASSERT_EQ(a.id, records + 1);
            break;
        }
        if (rc != FT_ENOMEM && rc != FT_EIO)
            ft_test_fail(__FILE__, __LINE__, "allocation %ld failing: %d (%s)", n + 1, rc,
                         ft_store_errmsg(st));
        ASSERT_EQ(count, records); /* nothing half-written */
        failures++;
    }
    ASSERT(n < MAX_N);
    printf("# ft_store_audit_append: %ld failure points, each a clean error\n", failures);
    ASSERT_OK(ft_store_audit_append(st, &a)); /* and it goes on */
    int64_t bad = -1;
    ASSERT_OK(ft_store_audit_verify(st, &bad));
    ASSERT_EQ(bad, 0);
    ft_store_close(st);
    rm_db();
    no_leaks();
}

FT_TESTS(FT_TEST(test_decode_jpeg), FT_TEST(test_search_request), FT_TEST(test_watcher),
         FT_TEST(test_audit_append))
