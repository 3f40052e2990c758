/*
** tests/unit/test_search.c: the search logic on a hand-made event: which
** sightings match, how they merge into appearances, which are flagged as
** impossible, and where the person is estimated to be.
**
** The event: cameras A (km 0), B (km 10), C (km 20). The person P has a
** descriptor p; other people have descriptors far from p. A calibration with
** known knots makes the threshold exact: FMR 1e-3 at distance 0.4, so with a
** gallery of 10 descriptors and max_false_matches 0.01 the threshold is 0.4.
*/
#include "facetrail.h"
#include "harness/test.h"

#include "facetrail/search.h"

#include <math.h>
#include <stdint.h>
#include <unistd.h>

#define T0  1775986200000000LL /* 2026-04-12T09:30:00Z */
#define MIN 60000000LL

static ft_store *st;
static char path[128];

/* A unit-ish vector along axis a, plus offset e along axis a+1. */
static void vec(float *v, int a, float e)
{
    memset(v, 0, FT_DESCRIPTOR_DIM * sizeof *v);
    v[a] = 1.0f;
    v[a + 1] = e;
}

static void add(int64_t ingest, int64_t key, int64_t t_us, int axis, float e)
{
    ft_sighting s;
    memset(&s, 0, sizeof s);
    s.track_key = key;
    s.first_us = t_us;
    s.best_us = t_us + 1000000;
    s.last_us = t_us + 2000000;
    s.box[2] = s.box[3] = 80;
    s.face_px = 80;
    s.det_score = 0.9f;
    s.quality = 0.8f;
    s.n_frames = 10;
    s.n_desc = 1;
    vec(s.desc[0], axis, e);
    ASSERT_OK(ft_store_ingest_commit(st, ingest, &s, 1, key, 1, 1));
}

static int64_t ingest_of(const char *cam)
{
    int64_t id, resume;
    ASSERT_OK(ft_store_ingest_begin(st, cam, "v.mp4", T0, 5, &id, &resume));
    return id;
}

/* A new event at /tmp/ft_search_NAME_PID.ftdb with cameras A (km 0), B (km
** 10) and C (km 20). */
static void open_event(const char *name)
{
    snprintf(path, sizeof path, "/tmp/ft_search_%s_%d.ftdb", name, (int)getpid());
    unlink(path);
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    const char *ids[3] = { "A", "B", "C" };
    for (int i = 0; i < 3; i++) {
        ft_camera c;
        memset(&c, 0, sizeof c);
        snprintf(c.id, sizeof c.id, "%s", ids[i]);
        c.km = 10.0 * i;
        ASSERT_OK(ft_store_camera_add(st, &c));
    }
}

static void make_event(void)
{
    open_event("t");
    int64_t a = ingest_of("A"), b = ingest_of("B"), c = ingest_of("C");
    /* P at A at 0 and 0.5 min (two tracks: one appearance), at B at 60 min
    ** (10 km/h), at C at 120 min; a look-alike of P at C at 61 min (would need
    ** 600 km/h from B: flagged); others far away. */
    add(a, 1, T0, 0, 0.05f);
    add(a, 2, T0 + MIN / 2, 0, 0.10f);
    add(b, 3, T0 + 60 * MIN, 0, 0.02f);
    add(c, 4, T0 + 120 * MIN, 0, 0.08f);
    add(c, 5, T0 + 61 * MIN, 0, 0.30f); /* weaker match, impossible timing */
    add(a, 6, T0 + 5 * MIN, 10, 0);
    add(b, 7, T0 + 65 * MIN, 20, 0);
    add(c, 8, T0 + 125 * MIN, 30, 0);
    add(c, 9, T0 + 126 * MIN, 40, 0);
    add(b, 10, T0 + 66 * MIN, 50, 0);
}

static const ft_calibration *calibration(void)
{
    static ft_calibration cal;
    ft_calibration_knot k[2] = { { 0.4, 1e-3, NAN }, { 1.0, 0.5, NAN } };
    char err[128];
    ASSERT_OK(ft_calibration_from_knots(FT_METRIC_EUCLIDEAN, k, 2, 0.05, &cal, err, sizeof err));
    return &cal;
}

/* The same with a knot at the default FMR ceiling: FMR 1e-4 at 0.2. */
static const ft_calibration *calibration3(void)
{
    static ft_calibration cal;
    ft_calibration_knot k[3] = { { 0.2, 1e-4, NAN }, { 0.4, 1e-3, NAN }, { 1.0, 0.5, NAN } };
    char err[128];
    ASSERT_OK(ft_calibration_from_knots(FT_METRIC_EUCLIDEAN, k, 3, 0.05, &cal, err, sizeof err));
    return &cal;
}

static void test_search_timeline(void)
{
    make_event();
    ft_searcher *s;
    char err[256];
    ASSERT_OK(ft_searcher_open(st, FT_METRIC_EUCLIDEAN, &s, err, sizeof err));
    ASSERT_EQ(ft_searcher_sightings(s), 10);
    ASSERT_EQ(ft_searcher_descriptors(s), 10);
    ft_search_params sp = ft_search_default_params();
    sp.cal = calibration();
    sp.max_false_matches = 0.01; /* FMR 1e-3 over 10 descriptors: threshold 0.4 */
    sp.max_fmr = 1e-3;           /* (the default ceiling, 1e-4, is tested below) */
    sp.at_us = T0 + 150 * MIN;
    float q[FT_DESCRIPTOR_DIM];
    vec(q, 0, 0);
    ft_search_result r;
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_NEAR(r.threshold, 0.4, 1e-9);
    ASSERT_EQ(r.candidates, 5);
    /* timeline: A (2 tracks merged), B, C; the look-alike at C flagged */
    ASSERT_EQ(r.n_appearances, 3);
    ASSERT_STR_CONTAINS(r.appearances[0].camera_id, "A");
    ASSERT_EQ(r.appearances[0].tracks, 2);
    ASSERT_EQ(r.appearances[0].first_us, T0);
    ASSERT_EQ(r.appearances[0].last_us, T0 + MIN / 2 + 2000000);
    ASSERT_NEAR(r.appearances[0].distance, 0.05, 1e-6);
    ASSERT_STR_CONTAINS(r.appearances[1].camera_id, "B");
    ASSERT_STR_CONTAINS(r.appearances[2].camera_id, "C");
    ASSERT_EQ(r.appearances[2].first_us, T0 + 120 * MIN);
    ASSERT_EQ(r.n_flagged, 1);
    ASSERT_EQ(r.flagged[0].first_us, T0 + 61 * MIN);
    ASSERT_STR_CONTAINS(r.flagged[0].why, "km/h");
    /* honest score: at distance 0.02 the FMR is below the first knot: tiny */
    ASSERT(r.appearances[1].expected_false < 1e-3);
    ASSERT(r.appearances[1].score > 0.999);
    /* where now: pace 10 km/h from a fit through (0, 0), (60 min, 10), (120 min, 20);
    ** 30 min after C at km 20: km 25 (beyond the last camera: capped at 20) */
    ASSERT(r.estimate.valid);
    ASSERT(r.estimate.pace_from_fit);
    ASSERT_NEAR(r.estimate.pace_kmh, 10.0, 0.05);
    ASSERT_NEAR(r.estimate.km, 20.0, 1e-9);
    ASSERT(!r.estimate.has_next);
    ft_search_result_free(&r);

    /* at 90 min, from A and B only: the fit goes through the appearances' mid
    ** times, A at 16 s (0 .. 32 s) and B at 3601 s: pace = 10 km / 3585 s =
    ** 10.0418 km/h; from B's end (3602 s) to 5400 s is 1798 s: km 10 + 10.0418
    ** x 1798 / 3600 = 15.0153; next camera C */
    sp.at_us = T0 + 90 * MIN;
    sp.until_us = T0 + 90 * MIN;
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_EQ(r.n_appearances, 2); /* C's true sighting is after --until */
    ASSERT_EQ(r.n_flagged, 1);     /* the look-alike at 61 min is not */
    ASSERT_NEAR(r.estimate.pace_kmh, 10.0 * 3600 / 3585, 1e-6);
    ASSERT_NEAR(r.estimate.km, 10.0 + 10.0 * 3600 / 3585 * 1798 / 3600, 1e-6);
    ASSERT(r.estimate.has_next);
    ASSERT_STR_CONTAINS(r.estimate.next_camera, "C");
    ft_search_result_free(&r);

    /* one camera only, and a stranger's descriptor finds nothing */
    sp = ft_search_default_params();
    sp.cal = calibration();
    sp.max_false_matches = 0.01;
    sp.max_fmr = 1e-3;
    sp.camera_id = "B";
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_EQ(r.n_appearances, 1);
    ASSERT(!r.estimate.pace_from_fit); /* one appearance: the pace is assumed */
    ft_search_result_free(&r);
    sp.camera_id = NULL;
    vec(q, 100, 0);
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_EQ(r.n_appearances, 0);
    ASSERT(!r.estimate.valid);
    ft_search_result_free(&r);
    /* bad input */
    sp.camera_id = "nope";
    ASSERT_EQ(ft_searcher_search(s, q, &sp, &r), FT_EINVAL);
    sp.camera_id = NULL;
    q[3] = NAN;
    ASSERT_EQ(ft_searcher_search(s, q, &sp, &r), FT_EINVAL);
    ft_searcher_close(s);
    ft_store_close(st);
    unlink(path);
}

/* Watchlist checks: the closest pair of descriptors, the expected false
** alerts over the event (FMR x entry descriptors x gallery), the policy. */
static void test_watch_check(void)
{
    const ft_calibration *cal = calibration3(); /* FMR 1e-4 at 0.2, 1e-3 at 0.4 */
    static ft_watch w[2];
    memset(w, 0, sizeof w);
    w[0].id = 7;
    snprintf(w[0].name, sizeof w[0].name, "P");
    w[0].n_desc = 2;
    vec(w[0].desc[0], 50, 0);
    vec(w[0].desc[1], 0, 0);
    w[1].id = 8;
    snprintf(w[1].name, sizeof w[1].name, "Q");
    w[1].n_desc = 1;
    vec(w[1].desc[0], 90, 0);
    static ft_sighting si;
    memset(&si, 0, sizeof si);
    si.id = 99;
    snprintf(si.camera_id, sizeof si.camera_id, "km05");
    si.best_us = T0;
    si.n_desc = 2;
    vec(si.desc[0], 20, 0);
    vec(si.desc[1], 0, 0.19f); /* 0.19 from P's second descriptor */
    ft_alert a[4];
    /* 0.19 is just below FMR 1e-4: with 2 entry descriptors x 10 gallery,
    ** about 0.002 expected */
    ASSERT_EQ(ft_watch_check(cal, w, 2, &si, 10, 0.01, 1e-4, a, 4), 1);
    ASSERT_EQ(a[0].watch_id, 7);
    ASSERT_EQ(a[0].sighting_id, 99);
    ASSERT_STR_EQ(a[0].camera_id, "km05");
    ASSERT_NEAR(a[0].distance, 0.19, 1e-6);
    int ex;
    double fmr = ft_calibration_fmr(cal, a[0].distance, &ex);
    ASSERT(fmr > 5e-5 && fmr < 1e-4);
    ASSERT_NEAR(a[0].expected_false, 2 * 10 * fmr, 1e-12);
    ASSERT_NEAR(a[0].score, 1 - 2 * 10 * fmr, 1e-12);
    /* a larger event: 2 x 100 x FMR > 0.01 expected: over the policy */
    ASSERT_EQ(ft_watch_check(cal, w, 2, &si, 100, 0.01, 1e-4, a, 4), 0);
    /* a rate above the ceiling is never an alert, however small the event */
    vec(si.desc[1], 0, 0.3f);
    ASSERT_EQ(ft_watch_check(cal, w, 2, &si, 1, 1.0, 1e-4, a, 4), 0);
    ASSERT_EQ(ft_watch_check(cal, w, 2, &si, 1, 1.0, 1e-3, a, 4), 1);
    ASSERT_EQ(ft_watch_check(cal, w, 2, &si, 1, 0, 1e-4, a, 4), FT_EINVAL);
}

/* The watcher: a track in view alerts early once, its later looks are
** quiet, its stored sighting follows once; a stored sighting of a track
** never seen in view alerts as news; an entry expired at the sighting's
** time does not alert; the alert's JSON carries null for an early one's
** sighting. */
static void test_watcher(void)
{
    const ft_calibration *cal = calibration3(); /* FMR 1e-4 at 0.2 */
    static ft_watch w[2];
    memset(w, 0, sizeof w);
    w[0].id = 7;
    snprintf(w[0].name, sizeof w[0].name, "P");
    snprintf(w[0].webhook, sizeof w[0].webhook, "http://127.0.0.1:9/h");
    w[0].n_desc = 1;
    vec(w[0].desc[0], 0, 0);
    w[1].id = 8; /* the same person, expired at T0 + 10 s */
    snprintf(w[1].name, sizeof w[1].name, "P old");
    w[1].n_desc = 1;
    w[1].expires_us = T0 + 10000000;
    vec(w[1].desc[0], 0, 0);
    ft_watcher *wt;
    ASSERT_EQ(ft_watcher_create(cal, 0, &wt), FT_EINVAL);
    ASSERT_OK(ft_watcher_create(cal, 0.01, &wt));
    ASSERT_OK(ft_watcher_set(wt, w, 2, 10));
    ASSERT_EQ(ft_watcher_count(wt), 2);
    static ft_sighting si;
    memset(&si, 0, sizeof si);
    snprintf(si.camera_id, sizeof si.camera_id, "km05");
    si.track_key = 1234;
    si.first_us = T0 + 20000000, si.best_us = si.last_us = T0 + 21000000;
    si.n_desc = 1;
    vec(si.desc[0], 0, 0.05f);
    ft_alert a[4];
    ASSERT_EQ(ft_watcher_look(wt, &si, a, 4), 1); /* in view: entry 7 only (8 expired) */
    ASSERT_EQ(a[0].watch_id, 7);
    ASSERT_EQ(a[0].early, 1);
    ASSERT_EQ(a[0].follows, 0);
    ASSERT_EQ(a[0].sighting_id, 0);
    ASSERT_EQ(a[0].track_key, 1234);
    ASSERT_EQ(a[0].time_us, T0 + 21000000);
    ASSERT_STR_EQ(a[0].webhook, "http://127.0.0.1:9/h");
    char *json;
    ASSERT_OK(ft_alert_json(&a[0], 5.5, "/x", &json));
    ASSERT(strstr(json, "\"sighting\":null") && strstr(json, "\"track\":\"km05/1234\"") &&
           strstr(json, "\"early\":true") && strstr(json, "\"km\":5.5"));
    ft_store_free(json);
    si.last_us += 200000;
    ASSERT_EQ(ft_watcher_look(wt, &si, a, 4), 0); /* the same track again: quiet */
    si.id = 55;                                   /* stored */
    ASSERT_EQ(ft_watcher_look(wt, &si, a, 4), 1);
    ASSERT_EQ(a[0].follows, 1);
    ASSERT_EQ(a[0].early, 0);
    ASSERT_EQ(a[0].sighting_id, 55);
    ASSERT_EQ(ft_watcher_look(wt, &si, a, 4), 0); /* once */
    /* the same key at another camera is another track */
    snprintf(si.camera_id, sizeof si.camera_id, "km10");
    si.id = 56;
    ASSERT_EQ(ft_watcher_look(wt, &si, a, 4), 1);
    ASSERT_EQ(a[0].follows, 0);
    ASSERT_EQ(a[0].early, 0);
    ASSERT_EQ(a[0].sighting_id, 56);
    /* before entry 8 expired: both */
    si.track_key = 99, si.id = 0, si.last_us = T0 + 1000000;
    ASSERT_EQ(ft_watcher_look(wt, &si, a, 4), 2);
    /* a stranger: nothing */
    si.track_key = 100;
    vec(si.desc[0], 90, 0);
    ASSERT_EQ(ft_watcher_look(wt, &si, a, 4), 0);
    ASSERT_OK(ft_watcher_set(wt, NULL, 0, 10));
    ASSERT_EQ(ft_watcher_count(wt), 0);
    ft_watcher_destroy(wt);
}

/* Base64 of the RFC 4648 test vectors. */
static void test_search_base64(void)
{
    static const char *const in[7] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const want[7] = { "",         "Zg==",     "Zm8=",    "Zm9v",
                                         "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    char out[16];
    for (int i = 0; i < 7; i++) {
        ASSERT_EQ(ft_base64((const unsigned char *)in[i], strlen(in[i]), out), strlen(want[i]));
        ASSERT_STR_EQ(out, want[i]);
    }
}

/* An empty event answers with nothing, not an error. */
static void test_search_empty(void)
{
    snprintf(path, sizeof path, "/tmp/ft_search_e_%d.ftdb", (int)getpid());
    unlink(path);
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    ft_searcher *s;
    char err[256];
    ASSERT_OK(ft_searcher_open(st, FT_METRIC_EUCLIDEAN, &s, err, sizeof err));
    float q[FT_DESCRIPTOR_DIM];
    vec(q, 0, 0);
    ft_search_params sp = ft_search_default_params();
    sp.cal = calibration();
    ft_search_result r;
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_EQ(r.n_appearances, 0);
    ASSERT_EQ(r.gallery, 0);
    ft_search_result_free(&r);
    ft_searcher_close(s);
    ft_store_close(st);
    unlink(path);
}

/* A searcher opened on a live event takes the sightings committed since
** (ft_searcher_update): the counts grow, a search finds the new one, an
** update with nothing new adds nothing, and a sighting of a camera added
** after the open asks for a new open (FT_ENOTFOUND). */
static void test_searcher_update(void)
{
    open_event("u");
    int64_t a = ingest_of("A"), b = ingest_of("B");
    add(a, 1, T0, 10, 0);
    ft_searcher *s;
    char err[256];
    ASSERT_OK(ft_searcher_open(st, FT_METRIC_EUCLIDEAN, &s, err, sizeof err));
    ASSERT_EQ(ft_searcher_sightings(s), 1);
    add(b, 2, T0 + 3600000000LL, 50, 0); /* someone else, at B an hour later */
    add(b, 3, T0 + 3700000000LL, 90, 0);
    int64_t added = -1;
    ASSERT_OK(ft_searcher_update(s, st, &added, err, sizeof err));
    ASSERT_EQ(added, 2);
    ASSERT_EQ(ft_searcher_sightings(s), 3);
    ASSERT_EQ(ft_searcher_descriptors(s), 3);
    ASSERT_EQ(ft_searcher_latest_us(s), T0 + 3700000000LL + 2000000);
    float q[FT_DESCRIPTOR_DIM];
    vec(q, 50, 0);
    ft_search_params sp = ft_search_default_params();
    sp.cal = calibration();
    ft_search_result r;
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_EQ(r.n_appearances, 1);
    ASSERT_STR_EQ(r.appearances[0].camera_id, "B");
    ASSERT_EQ(r.appearances[0].first_us, T0 + 3600000000LL);
    ft_search_result_free(&r);
    ASSERT_OK(ft_searcher_update(s, st, &added, err, sizeof err));
    ASSERT_EQ(added, 0);
    ft_camera c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "D");
    c.km = 30;
    ASSERT_OK(ft_store_camera_add(st, &c));
    add(ingest_of("D"), 4, T0 + 7200000000LL, 70, 0);
    ASSERT_EQ(ft_searcher_update(s, st, &added, err, sizeof err), FT_ENOTFOUND);
    ASSERT_EQ(ft_searcher_sightings(s), 3);
    ft_searcher_close(s);
    ft_store_close(st);
    unlink(path);
}

/* The stranger policy: by default a small gallery does not loosen the
** threshold past FMR 1e-4 (10 descriptors at 0.01 expected false matches
** would allow 1e-3); weaker candidates come back only when asked, marked
** possible, and never move the estimate. */
static void test_search_default_policy(void)
{
    make_event();
    /* P's weaker candidate at C, 3 h in: distance 0.35, plausible */
    int64_t id, resume;
    ASSERT_OK(ft_store_ingest_begin(st, "C", "w.mp4", T0, 5, &id, &resume));
    add(id, 11, T0 + 180 * MIN, 0, 0.35f);
    ft_searcher *s;
    char err[256];
    ASSERT_OK(ft_searcher_open(st, FT_METRIC_EUCLIDEAN, &s, err, sizeof err));
    ft_search_params sp = ft_search_default_params();
    ASSERT_NEAR(sp.max_false_matches, 0.01, 0);
    ASSERT_NEAR(sp.max_fmr, 1e-4, 0);
    sp.cal = calibration3();
    sp.at_us = T0 + 150 * MIN;
    float q[FT_DESCRIPTOR_DIM];
    vec(q, 0, 0);
    ft_search_result r;
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_NEAR(r.fmr, 1e-4, 1e-12);
    ASSERT_NEAR(r.threshold, 0.2, 1e-9);
    ASSERT_EQ(r.candidates, 4); /* 0.05, 0.10, 0.02, 0.08; not 0.30 nor 0.35 */
    ASSERT_EQ(r.n_appearances, 3);
    ASSERT_EQ(r.n_flagged, 0);
    for (int i = 0; i < r.n_appearances; i++)
        ASSERT(!r.appearances[i].possible);
    double km = r.estimate.km, pace = r.estimate.pace_kmh;
    ASSERT_NEAR(pace, 10.0, 0.05);
    ft_search_result_free(&r);

    /* asked for: possible up to 1 expected false match (FMR 1/11 = 0.0909:
    ** between the knots 0.4 and 1.0, log-linear: 0.4 + 0.6 x ln(90.9)/ln(500)
    ** = 0.8359) */
    sp.possible_false_matches = 1.0;
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_NEAR(r.threshold, 0.2, 1e-9);
    ASSERT_NEAR(r.possible_threshold, 0.4 + 0.6 * log(90.909090909) / log(500), 1e-6);
    ASSERT_EQ(r.n_appearances, 4);
    ASSERT_STR_CONTAINS(r.appearances[3].camera_id, "C");
    ASSERT_EQ(r.appearances[3].first_us, T0 + 180 * MIN);
    ASSERT(r.appearances[3].possible);
    ASSERT(!r.appearances[0].possible && !r.appearances[1].possible && !r.appearances[2].possible);
    ASSERT_EQ(r.n_flagged, 1); /* the 0.30 look-alike at 61 min: possible, impossible */
    ASSERT_NEAR(r.estimate.km, km, 1e-12);
    ASSERT_NEAR(r.estimate.pace_kmh, pace, 1e-12);
    ft_search_result_free(&r);
    sp.max_fmr = 0;
    ASSERT_EQ(ft_searcher_search(s, q, &sp, &r), FT_EINVAL);
    ft_searcher_close(s);
    ft_store_close(st);
    unlink(path);
}

/* One descriptor space per event: an empty event takes the default
** pipeline's, an event from before the setting (descriptors, no key) is the
** legacy face-api space and is searched with face-api's pipeline and table,
** and a space this version does not know is refused, not scored. */
static void test_search_descriptor_space(void)
{
    snprintf(path, sizeof path, "/tmp/ft_search_s_%d.ftdb", (int)getpid());
    unlink(path);
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    char space[64], err[256];
    ASSERT_OK(ft_store_descriptor_space(st, space, sizeof space));
    ASSERT_STR_EQ(space, "");
    ft_query_params qp = ft_query_default_params();
    const ft_calibration *cal = NULL;
    ASSERT_OK(ft_query_params_for_store(st, &qp, &cal, space, sizeof space, err, sizeof err));
    ASSERT_STR_EQ(space, "dlib-chip5-mirror");
    ASSERT(cal == ft_calibration_default());
    ASSERT_EQ(qp.detect.mirror, 1);
    ASSERT_EQ(qp.detect.detector, FT_DETECTOR_YUNET);
    ASSERT_EQ(qp.detect.descriptor, FT_DESCRIPTOR_DLIB);
    ASSERT_EQ(qp.detect.landmarks, FT_LANDMARKS_DLIB5);
    /* descriptors stored without the setting: an event from an older version */
    ft_camera c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "A");
    ASSERT_OK(ft_store_camera_add(st, &c));
    add(ingest_of("A"), 1, T0, 0, 0.05f);
    ASSERT_OK(ft_store_descriptor_space(st, space, sizeof space));
    ASSERT_STR_EQ(space, FT_STORE_SPACE_LEGACY);
    qp = ft_query_default_params();
    ASSERT_OK(ft_query_params_for_store(st, &qp, &cal, NULL, 0, err, sizeof err));
    ASSERT(cal == ft_calibration_for_space("faceapi-chip68"));
    ASSERT(cal != ft_calibration_default());
    ASSERT_EQ(qp.detect.detector, FT_DETECTOR_SSD);
    ASSERT_EQ(qp.detect.descriptor, FT_DESCRIPTOR_FACEAPI);
    ASSERT_EQ(qp.detect.landmarks, FT_LANDMARKS_68);
    ASSERT_EQ(qp.detect.align, FT_ALIGN_DLIB);
    ASSERT_EQ(qp.detect.mirror, 0);
    /* the setting wins; an unknown kind is refused */
    ASSERT_OK(ft_store_meta_set(st, FT_STORE_SPACE_KEY, "dlib-chip5"));
    ASSERT_OK(ft_store_descriptor_space(st, space, sizeof space));
    ASSERT_STR_EQ(space, "dlib-chip5");
    ASSERT_OK(ft_store_meta_set(st, FT_STORE_SPACE_KEY, "arcface-r100"));
    ASSERT_EQ(ft_query_params_for_store(st, &qp, &cal, NULL, 0, err, sizeof err), FT_EINVAL);
    ASSERT_STR_CONTAINS(err, "arcface-r100");
    ASSERT(ft_calibration_for_space("arcface-r100") == NULL);
    ASSERT(ft_calibration_for_space(NULL) == NULL);
    /* names and params agree both ways */
    const char *names[5] = { "faceapi-crop", "faceapi-chip68", "dlib-chip5", "dlib-chip5-mirror",
                             "dlib-yunet5" };
    for (int i = 0; i < 5; i++) {
        ft_detect_params d = ft_detect_default_params();
        ASSERT_OK(ft_detect_params_for_space(names[i], &d));
        ASSERT_STR_EQ(ft_descriptor_space(&d), names[i]);
    }
    ft_detect_params bad = ft_detect_default_params();
    ASSERT_EQ(ft_detect_params_for_space("nope", &bad), FT_EINVAL);
    bad.descriptor = FT_DESCRIPTOR_DLIB, bad.landmarks = FT_LANDMARKS_68;
    ASSERT(ft_descriptor_space(&bad) == NULL);
    ft_store_close(st);
    unlink(path);
}

/* Course windows. Cameras A (km 0), B (km 10), C (km 20); P at A (0.05 from
** the query: the anchor), at B after 60 min (0.30) and at C after 120 min
** (0.33): too weak for the event-wide threshold of 307 descriptors, strong
** enough inside the windows the anchor allows (2.5-25 km/h: B in 24..240 min,
** C in 48..480 min), which hold 3 descriptors each. A look-alike at B after
** 10 min (60 km/h from A) lies outside B's window. 300 other runners pass
** outside the windows, 4 inside. */
static void test_search_course(void)
{
    open_event("c");
    int64_t a = ingest_of("A"), b = ingest_of("B"), c = ingest_of("C");
    add(a, 1, T0, 0, 0.05f);
    add(b, 2, T0 + 60 * MIN, 0, 0.30f);
    add(c, 3, T0 + 120 * MIN, 0, 0.33f);
    add(b, 4, T0 + 10 * MIN, 0, 0.30f); /* the look-alike */
    int64_t key = 10;
    for (int i = 0; i < 100; i++) {
        add(a, key++, T0 + (300 + i) * MIN, 10 + 2 * (i % 50), 0);
        add(b, key++, T0 + (300 + i) * MIN, 10 + 2 * (i % 50), 0);
        add(c, key++, T0 + (500 + i) * MIN, 10 + 2 * (i % 50), 0);
    }
    add(b, key++, T0 + 50 * MIN, 12, 0);
    add(b, key++, T0 + 55 * MIN, 14, 0);
    add(c, key++, T0 + 100 * MIN, 16, 0);
    add(c, key++, T0 + 110 * MIN, 18, 0);
    ft_searcher *s;
    char err[256];
    ASSERT_OK(ft_searcher_open(st, FT_METRIC_EUCLIDEAN, &s, err, sizeof err));
    ASSERT_EQ(ft_searcher_descriptors(s), 308);
    ASSERT(ft_searcher_memory(s) > 308 * FT_DESCRIPTOR_DIM);
    ft_search_params sp = ft_search_default_params();
    ASSERT_EQ(sp.course, 1);
    ASSERT_EQ(sp.expand, 1);
    sp.cal = calibration3();
    sp.max_fmr = 1e-3;
    float q[FT_DESCRIPTOR_DIM];
    vec(q, 0, 0);
    ft_search_result r;

    /* event-wide only: the anchor alone */
    sp.course = 0;
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_NEAR(r.fmr, 0.01 / 308, 1e-12);
    ASSERT(r.threshold < 0.2);
    ASSERT_EQ(r.n_appearances, 1);
    ASSERT_EQ(r.windows, 0);
    ASSERT_NEAR(r.expected_false_confirmed, 0.01, 1e-9);
    ft_search_result_free(&r);

    /* course windows, expanded with the anchor's descriptor: 2 probes x 3
    ** descriptors per window, budget 0.01 / 2: FMR 0.005 / 6 = 8.33e-4,
    ** threshold 0.2 + 0.2 log10(8.33) = 0.3842 (log-linear between knots) */
    sp.course = 1;
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_EQ(r.anchors, 1);
    ASSERT_EQ(r.windows, 2);
    ASSERT_EQ(r.n_appearances, 3);
    ASSERT_STR_CONTAINS(r.appearances[0].camera_id, "A");
    ASSERT_EQ(r.appearances[0].window, 0);
    ASSERT_EQ(r.appearances[0].gallery, 308);
    ASSERT_STR_CONTAINS(r.appearances[1].camera_id, "B");
    ASSERT_EQ(r.appearances[1].first_us, T0 + 60 * MIN);
    ASSERT_EQ(r.appearances[1].window, 1);
    ASSERT_EQ(r.appearances[1].gallery, 3);
    ASSERT_EQ(r.appearances[1].window_from_us, T0 + 24 * MIN);
    ASSERT_EQ(r.appearances[1].window_to_us, T0 + 2000000 + 240 * MIN);
    ASSERT(!r.appearances[1].possible);
    /* the anchor's own descriptor (0.05) is 0.25 from B's shot */
    ASSERT_NEAR(r.appearances[1].distance, 0.25, 1e-6);
    /* expected false: 6 comparisons at FMR(0.25) = 1e-4 x 10^0.25 */
    ASSERT_NEAR(r.appearances[1].expected_false, 6 * 1e-4 * pow(10, 0.25), 1e-6);
    ASSERT_STR_CONTAINS(r.appearances[2].camera_id, "C");
    ASSERT_EQ(r.appearances[2].window, 1);
    ASSERT_EQ(r.n_flagged, 0); /* the look-alike is outside B's window */
    /* 0.01 event-wide, 0.01 over the windows, and the anchor's own
    ** expectation once per window */
    ASSERT(r.appearances[0].anchor);
    ASSERT(r.appearances[0].expected_false > 0);
    ASSERT_NEAR(r.expected_false_confirmed, 0.02 + 2 * r.appearances[0].expected_false, 1e-9);
    ASSERT(r.estimate.pace_from_fit);
    ASSERT_NEAR(r.estimate.pace_kmh, 10.0, 0.1);
    double e_a = r.appearances[0].expected_false;
    ft_search_result_free(&r);

    /* an anchor must expect at most max_false / (cameras - 1) = 0.001 false
    ** matches: A's 0.0015 is a match at max_false 0.002, not an anchor */
    ASSERT(e_a > 0.001 && e_a < 0.002);
    sp.max_false_matches = 0.002;
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_EQ(r.n_appearances, 1);
    ASSERT(!r.appearances[0].anchor);
    ASSERT_EQ(r.anchors, 0);
    ASSERT_EQ(r.windows, 0);
    ft_search_result_free(&r);

    /* a person confirms B's possible candidate by eye: B becomes an anchor
    ** (A is still too weak to be one), and C is found in its window */
    sp.possible_false_matches = 1.0;
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    int64_t b_sighting = -1;
    for (int i = 0; i < r.n_appearances; i++)
        if (r.appearances[i].possible && r.appearances[i].first_us == T0 + 60 * MIN)
            b_sighting = r.appearances[i].best_sighting;
    ft_search_result_free(&r);
    ASSERT(b_sighting > 0);
    sp.possible_false_matches = 0;
    sp.confirmed = &b_sighting;
    sp.n_confirmed = 1;
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_EQ(r.anchors, 1);
    ASSERT_EQ(r.windows, 1);
    ASSERT_EQ(r.n_appearances, 3);
    ASSERT(!r.appearances[0].anchor && !r.appearances[0].by_person);
    ASSERT(r.appearances[1].by_person && r.appearances[1].anchor && !r.appearances[1].possible);
    ASSERT_EQ(r.appearances[1].best_sighting, b_sighting);
    ASSERT_STR_CONTAINS(r.appearances[2].camera_id, "C");
    ASSERT(r.appearances[2].window && !r.appearances[2].possible);
    ASSERT_NEAR(r.appearances[2].distance, 0.03, 1e-6); /* from B's own shot */
    ft_search_result_free(&r);
    int64_t nowhere = 999999;
    sp.confirmed = &nowhere;
    ASSERT_EQ(ft_searcher_search(s, q, &sp, &r), FT_EINVAL);
    sp.confirmed = NULL;
    sp.n_confirmed = 0;
    sp.max_false_matches = 0.01;

    /* the answer as JSON: windows, links to thumbnails, the tiers */
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    char *js = NULL;
    ASSERT_OK(ft_search_json(st, s, &r, NULL, NULL, 0, "/api/v1/sightings/", &js));
    ASSERT_STR_CONTAINS(js, "\"queries\":[]");
    ASSERT_STR_CONTAINS(js, "\"windows\":2");
    ASSERT_STR_CONTAINS(js, "\"window\":{\"from\":\"2026-04-12T09:54:00.000Z\",\"to\":");
    ASSERT_STR_CONTAINS(js, "\"window\":null");
    ASSERT_STR_CONTAINS(js, "\"thumbnail\":\"/api/v1/sightings/1/thumbnail\"");
    ASSERT_STR_CONTAINS(js, "\"strength\":\"");
    ft_store_free(js);
    ft_search_result_free(&r);

    /* without expansion: the query alone, 3 comparisons per window */
    sp.expand = 0;
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_EQ(r.n_appearances, 3);
    ASSERT_NEAR(r.appearances[1].distance, 0.30, 1e-6);
    ASSERT_NEAR(r.appearances[1].expected_false, 3 * 1e-4 * pow(10, 0.5), 1e-6);
    ft_search_result_free(&r);

    /* a stranger: no anchor, no window */
    sp.expand = 1;
    float z[FT_DESCRIPTOR_DIM];
    vec(z, 120, 0);
    ASSERT_OK(ft_searcher_search(s, z, &sp, &r));
    ASSERT_EQ(r.n_appearances, 0);
    ASSERT_EQ(r.anchors, 0);
    ASSERT_EQ(r.windows, 0);
    ft_search_result_free(&r);

    /* two photos: the far one and P's: P found, comparisons counted twice */
    float two[2 * FT_DESCRIPTOR_DIM];
    memcpy(two, z, sizeof z);
    memcpy(two + FT_DESCRIPTOR_DIM, q, sizeof q);
    sp.course = 0;
    ASSERT_OK(ft_searcher_search_multi(s, two, 2, &sp, &r));
    ASSERT_EQ(r.probes, 2);
    ASSERT_NEAR(r.fmr, 0.01 / 616, 1e-12);
    ASSERT_EQ(r.n_appearances, 1);
    ft_search_result_free(&r);
    ASSERT_EQ(ft_searcher_search_multi(s, two, 0, &sp, &r), FT_EINVAL);
    ASSERT_EQ(ft_searcher_search_multi(s, two, FT_SEARCH_MAX_PROBES + 1, &sp, &r), FT_EINVAL);

    /* a time filter is a smaller gallery: only the 300 sightings after 290 min */
    sp.since_us = T0 + 290 * MIN;
    ASSERT_OK(ft_searcher_search(s, q, &sp, &r));
    ASSERT_EQ(r.gallery, 300);
    ASSERT_NEAR(r.fmr, 0.01 / 300, 1e-12);
    ft_search_result_free(&r);
    sp.since_us = INT64_MIN;
    sp.course = 1;
    sp.pace_band = 0.5;
    ASSERT_EQ(ft_searcher_search(s, q, &sp, &r), FT_EINVAL);
    ft_searcher_close(s);
    ft_store_close(st);
    unlink(path);
}

FT_TESTS(FT_TEST(test_search_timeline), FT_TEST(test_search_course), FT_TEST(test_search_base64),
         FT_TEST(test_watch_check), FT_TEST(test_watcher), FT_TEST(test_searcher_update),
         FT_TEST(test_search_default_policy), FT_TEST(test_search_empty),
         FT_TEST(test_search_descriptor_space))
