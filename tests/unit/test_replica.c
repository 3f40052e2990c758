/*
** tests/unit/test_replica.c: replication between stores (store/replica.c):
** the "FTR1" binary form (round trip, its byte layout, every truncation
** and hostile bytes refused), the replica id, and a store copied into
** another through ft_store_replicas_after and ft_store_replica_apply
** (every field, descriptor and thumbnail byte equal; applying twice adds
** nothing; another descriptor space refused with nothing written; the
** walk's after_id and max; a failed batch leaves the store as it was).
**
** DESIGN
**   Expected values never come from the code under test: the byte offsets
**   and little-endian bytes below are worked out by hand from the layout in
**   replica.c's header (for the hand-made replica: strings of 4, 6, 6, 4
**   and 3 bytes, 2 descriptors, a 5-byte thumbnail: 1184 bytes); the
**   replica ids use FNV-1a's published test vectors ("" 811c9dc5, "a"
**   e40c292c, "foobar" bf9cf968) and values computed outside (python) for
**   the two video paths; the copied store is compared with the values the
**   source store was given (make_sighting) as well as with the source's
**   rows. Every truncation is decoded from a heap copy of exactly that
**   many bytes, so that AddressSanitizer sees any read past the end.
**   Every database lives in a fresh mkdtemp folder, removed at exit.
*/
#include "facetrail.h"

#include "core/core.h"
#include "store/store.h"

#include "../harness/test.h"

#include <dirent.h>
#include <stdint.h>
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

/* A new store at <tmp>/name. */
static ft_store *new_store(const char *name)
{
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ft_test_replica_XXXXXX");
        ASSERT(mkdtemp(tmp_dir) != NULL);
        atexit(rm_tmp_dir);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    ft_store *st = NULL;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    return st;
}

#define T0 1767225600000000LL /* 2026-01-01T00:00:00Z, microseconds */

/* Two fake JPEGs (only the FF D8 FF start is checked by the store). */
static const unsigned char thumb_a[9] = { 0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 0xFF, 0xD9 };
static unsigned char thumb_b[300];

static void init_thumb_b(void)
{
    thumb_b[0] = 0xFF, thumb_b[1] = 0xD8, thumb_b[2] = 0xFF;
    for (size_t i = 3; i < sizeof thumb_b; i++)
        thumb_b[i] = (unsigned char)(i * 7 + 1);
}

/* A deterministic sighting for track key (descriptors derived from key). */
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
        s->desc_quality[k] = 0.25f * (float)(k + 1);
    }
    s->thumbnail = thumb;
    s->thumbnail_len = thumb_len;
}

/* The hand-made replica whose bytes the layout tests know (1184 bytes). */
static void hand_made(ft_replica *r)
{
    static const unsigned char thumb[5] = { 0xFF, 0xD8, 0xFF, 0xE0, 0x42 };
    memset(r, 0, sizeof *r);
    snprintf(r->camera.id, sizeof r->camera.id, "km05");
    snprintf(r->camera.name, sizeof r->camera.name, "bridge");
    r->camera.km = 5.5;
    r->camera.lat = 48.85;
    r->camera.lon = 2.35;
    r->camera.has_latlon = 1;
    snprintf(r->source, sizeof r->source, "foobar");
    r->start_us = T0;
    r->sample_fps = 5.0;
    snprintf(r->space, sizeof r->space, "sp-x");
    snprintf(r->pipeline, sizeof r->pipeline, "p=1");
    ft_sighting *s = &r->s;
    s->track_key = -3;
    s->first_us = T0 + 1000;
    s->best_us = T0 + 2000;
    s->last_us = T0 + 3000;
    s->box[0] = 1.5f, s->box[1] = 2.25f, s->box[2] = 30, s->box[3] = 40;
    s->face_px = 40;
    s->det_score = 0.875f;
    s->quality = -0.5f;
    s->n_frames = 7;
    s->n_desc = 2;
    for (int k = 0; k < 2; k++)
        for (int d = 0; d < FT_DESCRIPTOR_DIM; d++)
            s->desc[k][d] = (float)((k * 31 + d) % 17) / 17.0f - 0.5f;
    s->desc_quality[0] = 0.25f;
    s->desc_quality[1] = 0.75f;
    s->thumbnail = thumb;
    s->thumbnail_len = sizeof thumb;
}

/* Offsets in the hand-made replica's message (replica.c's layout: magic 4,
** "km05" 2+4, "bridge" 2+6, "foobar" 2+6, "sp-x" 2+4, "p=1" 2+3). */
enum {
    HM_LEN = 1184,
    HM_NAME = 12, /* first byte of "bridge" */
    HM_KM = 37,
    HM_LAT = 45,
    HM_HAS_LATLON = 61,
    HM_START = 62,
    HM_TRACK = 78,
    HM_FIRST = 86,
    HM_LAST = 94,
    HM_BOX = 110,
    HM_N_DESC = 142,
    HM_DESC_Q = 143,
    HM_DESC = 151,
    HM_THUMB_LEN = 1175,
    HM_THUMB = 1179,
};

/* decode of a heap copy of exactly len bytes of buf */
static int decode_copy(const unsigned char *buf, size_t len, ft_replica *out)
{
    unsigned char *copy = malloc(len ? len : 1);
    ASSERT(copy != NULL);
    if (len) memcpy(copy, buf, len);
    int rc = ft_replica_decode(copy, len, out);
    free(copy);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The binary form                                                          */
/* ------------------------------------------------------------------------ */

static void assert_sighting_eq(const ft_sighting *a, const ft_sighting *b)
{
    ASSERT_EQ(a->track_key, b->track_key);
    ASSERT_EQ(a->first_us, b->first_us);
    ASSERT_EQ(a->last_us, b->last_us);
    ASSERT_EQ(a->best_us, b->best_us);
    for (int k = 0; k < 4; k++)
        ASSERT(a->box[k] == b->box[k]);
    ASSERT(a->face_px == b->face_px);
    ASSERT(a->det_score == b->det_score);
    ASSERT(a->quality == b->quality);
    ASSERT_EQ(a->n_frames, b->n_frames);
    ASSERT_EQ(a->n_desc, b->n_desc);
    for (int k = 0; k < a->n_desc; k++) {
        ASSERT(memcmp(a->desc[k], b->desc[k], sizeof a->desc[k]) == 0);
        ASSERT(a->desc_quality[k] == b->desc_quality[k]);
    }
    ASSERT_EQ(a->thumbnail_len, b->thumbnail_len);
    if (a->thumbnail_len) ASSERT(memcmp(a->thumbnail, b->thumbnail, a->thumbnail_len) == 0);
}

static void test_replica_roundtrip(void)
{
    static ft_replica r, d;
    hand_made(&r);
    unsigned char *buf = NULL;
    size_t len = 0;
    ASSERT_OK(ft_replica_encode(&r, &buf, &len));
    ASSERT_EQ(len, HM_LEN);

    /* the layout, byte by byte where it matters */
    ASSERT(memcmp(buf, "FTR1", 4) == 0);
    static const unsigned char id_field[6] = { 4, 0, 'k', 'm', '0', '5' };
    ASSERT(memcmp(buf + 4, id_field, 6) == 0);
    ASSERT(memcmp(buf + HM_NAME - 2,
                  "\x06\x00"
                  "bridge",
                  8) == 0);
    static const unsigned char km[8] = { 0, 0, 0, 0, 0, 0, 0x16, 0x40 }; /* 5.5 */
    ASSERT(memcmp(buf + HM_KM, km, 8) == 0);
    static const unsigned char lat[8] = { 0xcd, 0xcc, 0xcc, 0xcc, 0xcc, 0x6c, 0x48, 0x40 };
    ASSERT(memcmp(buf + HM_LAT, lat, 8) == 0); /* 48.85 */
    ASSERT_EQ(buf[HM_HAS_LATLON], 1);
    static const unsigned char start[8] = { 0x00, 0x40, 0x20, 0x46, 0x48, 0x47, 0x06, 0x00 };
    ASSERT(memcmp(buf + HM_START, start, 8) == 0); /* 1767225600000000 */
    static const unsigned char minus3[8] = { 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    ASSERT(memcmp(buf + HM_TRACK, minus3, 8) == 0);
    static const unsigned char one_half[4] = { 0, 0, 0xc0, 0x3f }; /* 1.5f */
    ASSERT(memcmp(buf + HM_BOX, one_half, 4) == 0);
    ASSERT_EQ(buf[HM_N_DESC], 2);
    static const unsigned char quarter[4] = { 0, 0, 0x80, 0x3e }; /* 0.25f */
    ASSERT(memcmp(buf + HM_DESC_Q, quarter, 4) == 0);
    static const unsigned char minus_half[4] = { 0, 0, 0, 0xbf }; /* desc[0][0] = -0.5f */
    ASSERT(memcmp(buf + HM_DESC, minus_half, 4) == 0);
    static const unsigned char five[4] = { 5, 0, 0, 0 };
    ASSERT(memcmp(buf + HM_THUMB_LEN, five, 4) == 0);
    static const unsigned char jpeg[5] = { 0xFF, 0xD8, 0xFF, 0xE0, 0x42 };
    ASSERT(memcmp(buf + HM_THUMB, jpeg, 5) == 0);

    /* back, field by field */
    ASSERT_OK(ft_replica_decode(buf, len, &d));
    ASSERT_STR_EQ(d.camera.id, "km05");
    ASSERT_STR_EQ(d.camera.name, "bridge");
    ASSERT(d.camera.km == 5.5);
    ASSERT(d.camera.lat == 48.85);
    ASSERT(d.camera.lon == 2.35);
    ASSERT_EQ(d.camera.has_latlon, 1);
    ASSERT_STR_EQ(d.source, "foobar");
    ASSERT_EQ(d.start_us, T0);
    ASSERT(d.sample_fps == 5.0);
    ASSERT_STR_EQ(d.space, "sp-x");
    ASSERT_STR_EQ(d.pipeline, "p=1");
    ASSERT_STR_EQ(d.s.camera_id, "km05");
    ASSERT_EQ(d.s.id, 0);
    ASSERT_EQ(d.s.ingest_id, 0);
    ASSERT_EQ(d.s.track_key, -3);
    ASSERT_EQ(d.s.first_us, T0 + 1000);
    ASSERT_EQ(d.s.best_us, T0 + 2000);
    ASSERT_EQ(d.s.last_us, T0 + 3000);
    ASSERT(d.s.box[0] == 1.5f && d.s.box[1] == 2.25f && d.s.box[2] == 30 && d.s.box[3] == 40);
    ASSERT(d.s.face_px == 40 && d.s.det_score == 0.875f && d.s.quality == -0.5f);
    ASSERT_EQ(d.s.n_frames, 7);
    ASSERT_EQ(d.s.n_desc, 2);
    ASSERT(d.s.desc_quality[0] == 0.25f && d.s.desc_quality[1] == 0.75f);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < FT_DESCRIPTOR_DIM; i++)
            ASSERT(d.s.desc[k][i] == (float)((k * 31 + i) % 17) / 17.0f - 0.5f);
    ASSERT_EQ(d.s.thumbnail_len, 5);
    ASSERT(d.s.thumbnail == buf + HM_THUMB); /* into the buffer, not a copy */
    assert_sighting_eq(&r.s, &d.s);

    /* the same bytes again */
    unsigned char *again = NULL;
    size_t again_len = 0;
    ASSERT_OK(ft_replica_encode(&d, &again, &again_len));
    ASSERT_EQ(again_len, len);
    ASSERT(memcmp(again, buf, len) == 0);
    ft_store_free(again);

    /* no descriptors, no thumbnail, no position, empty name and pipeline:
    ** the smallest message for these strings (127 + 3 + 6 + 4 - 3) */
    r.s.n_desc = 0;
    r.s.thumbnail = NULL;
    r.s.thumbnail_len = 0;
    r.camera.has_latlon = 0;
    r.camera.name[0] = 0;
    r.pipeline[0] = 0;
    ft_store_free(buf);
    ASSERT_OK(ft_replica_encode(&r, &buf, &len));
    ASSERT_EQ(len, 4 + 2 + 4 + 2 + 0 + 2 + 6 + 2 + 4 + 2 + 0 + 106 + 4);
    ASSERT_OK(ft_replica_decode(buf, len, &d));
    ASSERT_EQ(d.s.n_desc, 0);
    ASSERT(d.s.thumbnail == NULL);
    ASSERT_EQ(d.camera.has_latlon, 0);
    ASSERT_STR_EQ(d.camera.name, "");
    ASSERT_STR_EQ(d.pipeline, "");
    ft_store_free(buf);
    no_leaks();
}

static void test_replica_decode_rejects(void)
{
    static ft_replica r, d;
    hand_made(&r);
    unsigned char *buf = NULL;
    size_t len = 0;
    ASSERT_OK(ft_replica_encode(&r, &buf, &len));
    ASSERT_EQ(len, HM_LEN);
    ASSERT_OK(decode_copy(buf, len, &d));

    /* every truncation, the empty message included */
    for (size_t n = 0; n < len; n++) {
        int rc = decode_copy(buf, n, &d);
        if (rc != FT_EFORMAT)
            ft_test_fail(__FILE__, __LINE__, "%zu of %zu bytes: %d, not FT_EFORMAT", n, len, rc);
        ASSERT_EQ(d.s.n_desc, 0); /* *out zeroed */
    }

    unsigned char *m = malloc(len + 2 * (4 + 512) + 1);
    ASSERT(m != NULL);
#define MUTATED(stmt)                                   \
    do {                                                \
        memcpy(m, buf, len);                            \
        stmt;                                           \
        ASSERT_EQ(decode_copy(m, len, &d), FT_EFORMAT); \
    } while (0)
    MUTATED(m[3] = '2');                           /* "FTR2": a version it does not know */
    MUTATED(m[0] = 'X');                           /* not a replica */
    MUTATED(m[6] = ' ');                           /* a blank in the camera id */
    MUTATED(m[HM_NAME + 2] = 0);                   /* a NUL inside the name */
    MUTATED(m[4] = 64);                            /* camera id of 64 bytes (> 63) */
    MUTATED(m[HM_HAS_LATLON] = 2);                 /* has_latlon neither 0 nor 1 */
    MUTATED(memcpy(m + HM_FIRST, m + HM_LAST, 8)); /* first_us > best_us */
    MUTATED(m[HM_LAT + 7] = 0x42);                 /* latitude 1.2e12: out of range */
    MUTATED(m[HM_N_DESC] = 3);                     /* 3 descriptors, bytes for 2 */
    MUTATED(m[HM_THUMB] = 0);                      /* thumbnail not a JPEG */
    static const unsigned char nan64[8] = { 0, 0, 0, 0, 0, 0, 0xf8, 0x7f };
    MUTATED(memcpy(m + HM_KM, nan64, 8)); /* km NaN */
    static const unsigned char nan32[4] = { 0, 0, 0xc0, 0x7f }, inf32[4] = { 0, 0, 0x80, 0x7f };
    MUTATED(memcpy(m + HM_DESC + 4 * 77, nan32, 4));                /* a descriptor value NaN */
    MUTATED(memcpy(m + HM_BOX + 12, inf32, 4));                     /* box height +inf */
    MUTATED(memcpy(m + HM_DESC_Q + 4, nan32, 4));                   /* a descriptor quality NaN */
    static const unsigned char big[4] = { 0x01, 0x00, 0x10, 0x00 }; /* 1 MiB + 1 */
    MUTATED(memcpy(m + HM_THUMB_LEN, big, 4));
#undef MUTATED

    /* a trailing byte */
    memcpy(m, buf, len);
    m[len] = 0;
    ASSERT_EQ(decode_copy(m, len + 1, &d), FT_EFORMAT);

    /* n_desc 4 with the bytes of 4 descriptors: refused by the count, not
    ** by the length (the arrays hold 3) */
    size_t o = 0;
    memcpy(m, buf, HM_N_DESC);
    o = HM_N_DESC;
    m[o++] = 4;
    for (int k = 0; k < 4; k++, o += 4)
        memcpy(m + o, buf + HM_DESC_Q + 4 * (k % 2), 4);
    for (int k = 0; k < 4; k++, o += 512)
        memcpy(m + o, buf + HM_DESC + 512 * (k % 2), 512);
    memcpy(m + o, buf + HM_THUMB_LEN, 4 + 5);
    o += 9;
    ASSERT_EQ(o, len + 2 * (4 + 512));
    ASSERT_EQ(decode_copy(m, o, &d), FT_EFORMAT);
    m[HM_N_DESC] = 3; /* control: 3 is in range but then the lengths are off */
    ASSERT_EQ(decode_copy(m, o, &d), FT_EFORMAT);
    free(m);

    /* encode refuses what decode would */
    unsigned char *out = NULL;
    size_t out_len = 0;
    ft_replica bad;
#define ENC_BAD(stmt)                                                  \
    do {                                                               \
        bad = r;                                                       \
        stmt;                                                          \
        ASSERT_EQ(ft_replica_encode(&bad, &out, &out_len), FT_EINVAL); \
        ASSERT(out == NULL);                                           \
        ASSERT_EQ(out_len, 0);                                         \
    } while (0)
    ENC_BAD(bad.s.n_desc = 4);
    ENC_BAD(bad.s.n_desc = -1);
    ENC_BAD(bad.s.desc[1][5] = NAN);
    ENC_BAD(bad.s.quality = INFINITY);
    ENC_BAD(bad.sample_fps = -1);
    ENC_BAD(bad.space[0] = 0);
    ENC_BAD(snprintf(bad.camera.id, sizeof bad.camera.id, "km 5"));
    ENC_BAD(snprintf(bad.s.camera_id, sizeof bad.s.camera_id, "km06"));
    ENC_BAD(bad.source[0] = 0);
    ENC_BAD(bad.s.thumbnail_len = FT_STORE_THUMB_MAX + 1);
    ENC_BAD(bad.s.best_us = bad.s.last_us + 1);
    ENC_BAD(bad.camera.lon = 181);
#undef ENC_BAD
    ASSERT_EQ(ft_replica_decode(NULL, 0, &d), FT_EFORMAT);
    ft_store_free(buf);
    no_leaks();
}

static void test_replica_msg_id(void)
{
    static ft_replica r;
    memset(&r, 0, sizeof r);
    char id[FT_REPLICA_ID_MAX];
    snprintf(r.camera.id, sizeof r.camera.id, "km05-north");
    snprintf(r.source, sizeof r.source, "foobar");
    r.start_us = T0;
    r.s.track_key = 42;
    ft_replica_msg_id(&r, id);
    ASSERT_STR_EQ(id, "km05-north/1767225600000000/42/bf9cf968");
    r.source[0] = 0;
    r.s.track_key = -7;
    r.start_us = -1;
    ft_replica_msg_id(&r, id);
    ASSERT_STR_EQ(id, "km05-north/-1/-7/811c9dc5");
    snprintf(r.source, sizeof r.source, "a");
    ft_replica_msg_id(&r, id);
    ASSERT_STR_EQ(id, "km05-north/-1/-7/e40c292c");
    /* the longest: 63-byte id, 20-character numbers */
    memset(r.camera.id, 'x', 63);
    r.camera.id[63] = 0;
    r.start_us = INT64_MIN;
    r.s.track_key = INT64_MIN;
    ft_replica_msg_id(&r, id);
    ASSERT_EQ(strlen(id), 63 + 1 + 20 + 1 + 20 + 1 + 8);
    ASSERT_STR_CONTAINS(id, "/-9223372036854775808/-9223372036854775808/e40c292c");
}

/* ------------------------------------------------------------------------ */
/* Store to store                                                           */
/* ------------------------------------------------------------------------ */

#define SPACE    "test-space-1"
#define PIPELINE "detector=x descriptor=y metric=cosine"

/* The source event: two cameras, two ingests, six sightings (ids 1..6 in
** this order: A1 A2 A3 B1 B9 A4; 8 descriptors; 4 thumbnails). */
static ft_store *source_store(const char *name, int with_space)
{
    init_thumb_b();
    ft_store *st = new_store(name);
    ft_camera a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    snprintf(a.id, sizeof a.id, "km05-north");
    snprintf(a.name, sizeof a.name, "bridge, north side");
    a.km = 5.25, a.lat = 48.8566, a.lon = 2.3522, a.has_latlon = 1;
    snprintf(b.id, sizeof b.id, "km10");
    b.km = 10;
    ASSERT_OK(ft_store_camera_add(st, &a));
    ASSERT_OK(ft_store_camera_add(st, &b));
    if (with_space) { /* as ingest does before its first commit */
        ASSERT_OK(ft_store_meta_set(st, FT_STORE_SPACE_KEY, SPACE));
        ASSERT_OK(ft_store_meta_set(st, FT_STORE_PIPELINE_KEY, PIPELINE));
    }
    int64_t ia, ib, resume;
    ASSERT_OK(ft_store_ingest_begin(st, "km05-north", "cam5.mp4", T0, 5.0, &ia, &resume));
    ASSERT_OK(ft_store_ingest_begin(st, "km10", "/videos/km10.mp4", T0 + 3600000000LL, 0.0, &ib,
                                    &resume));
    static ft_sighting s[3];
    make_sighting(&s[0], 1, 1, thumb_a, sizeof thumb_a);
    make_sighting(&s[1], 2, 3, NULL, 0);
    make_sighting(&s[2], 3, 0, thumb_b, sizeof thumb_b);
    ASSERT_OK(ft_store_ingest_commit(st, ia, s, 3, 1000000, 10, 3));
    make_sighting(&s[0], 1, 2, thumb_b, sizeof thumb_b);
    make_sighting(&s[1], 9, 0, NULL, 0);
    ASSERT_OK(ft_store_ingest_commit(st, ib, s, 2, 2000000, 20, 2));
    make_sighting(&s[0], 4, 2, thumb_a, sizeof thumb_a);
    ASSERT_OK(ft_store_ingest_commit(st, ia, s, 1, 3000000, 10, 1));
    ASSERT_OK(ft_store_ingest_finish(st, ia, FT_INGEST_DONE, NULL));
    return st;
}

/* Replicas walked out of a store, encoded (a walked replica's thumbnail
** lives only during the callback), and decoded back for apply. */
typedef struct batch {
    int n;
    int64_t ids[16];
    char msg_id[16][FT_REPLICA_ID_MAX];
    unsigned char *buf[16];
    size_t len[16];
    ft_replica r[16];
} batch;

static int collect(const ft_replica *r, void *p)
{
    batch *b = p;
    if (b->n >= 16) return 99;
    b->ids[b->n] = r->s.id;
    ft_replica_msg_id(r, b->msg_id[b->n]);
    int rc = ft_replica_encode(r, &b->buf[b->n], &b->len[b->n]);
    if (rc != FT_OK) return rc;
    b->n++;
    return 0;
}

static void batch_decode(batch *b)
{
    for (int i = 0; i < b->n; i++)
        ASSERT_OK(ft_replica_decode(b->buf[i], b->len[i], &b->r[i]));
}

static void batch_free(batch *b)
{
    for (int i = 0; i < b->n; i++)
        ft_store_free(b->buf[i]);
    memset(b, 0, sizeof *b);
}

static void assert_counts(ft_store *st, int64_t cams, int64_t sightings, int64_t descs)
{
    int64_t c, s, d;
    ASSERT_OK(ft_store_stats(st, &c, &s, &d, NULL, NULL));
    ASSERT_EQ(c, cams);
    ASSERT_EQ(s, sightings);
    ASSERT_EQ(d, descs);
}

/* The sighting of dst with camera_id and track_key (ids 1..n), with its
** thumbnail (*thumb to free). */
static void find_sighting(ft_store *dst, int n, const char *camera_id, int64_t key,
                          ft_sighting *out, unsigned char **thumb)
{
    for (int64_t id = 1; id <= n; id++) {
        ASSERT_OK(ft_store_sighting_get(dst, id, out, thumb));
        if (out->track_key == key && strcmp(out->camera_id, camera_id) == 0) return;
        ft_store_free(*thumb);
        *thumb = NULL;
    }
    ft_test_fail(__FILE__, __LINE__, "no sighting %s/%lld", camera_id, (long long)key);
}

static void test_replica_store_to_store(void)
{
    ft_store *src = source_store("src.ftdb", 1);
    assert_counts(src, 2, 6, 8);
    static batch b;
    memset(&b, 0, sizeof b);
    ASSERT_OK(ft_store_replicas_after(src, 0, 100, collect, &b));
    ASSERT_EQ(b.n, 6);
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(b.ids[i], i + 1);
    ASSERT_STR_EQ(b.msg_id[0], "km05-north/1767225600000000/1/22c0e222");
    ASSERT_STR_EQ(b.msg_id[3], "km10/1767229200000000/1/19feb2ff");
    ASSERT_STR_EQ(b.msg_id[4], "km10/1767229200000000/9/19feb2ff");
    ASSERT_STR_EQ(b.msg_id[5], "km05-north/1767225600000000/4/22c0e222");
    batch_decode(&b);
    ASSERT_STR_EQ(b.r[0].space, SPACE);
    ASSERT_STR_EQ(b.r[0].pipeline, PIPELINE);
    ASSERT_STR_EQ(b.r[0].camera.name, "bridge, north side");
    ASSERT_STR_EQ(b.r[3].source, "/videos/km10.mp4");
    ASSERT(b.r[3].sample_fps == 0.0);
    ASSERT_EQ(b.r[3].start_us, T0 + 3600000000LL);

    ft_store *dst = new_store("dst.ftdb");
    int n_new = -1;
    ASSERT_OK(ft_store_replica_apply(dst, b.r, b.n, &n_new));
    ASSERT_EQ(n_new, 6);
    assert_counts(dst, 2, 6, 8);

    /* the settings, cameras and ingests */
    char v[600];
    ASSERT_OK(ft_store_meta_get(dst, FT_STORE_SPACE_KEY, v, sizeof v));
    ASSERT_STR_EQ(v, SPACE);
    ASSERT_OK(ft_store_meta_get(dst, FT_STORE_PIPELINE_KEY, v, sizeof v));
    ASSERT_STR_EQ(v, PIPELINE);
    ft_camera c;
    ASSERT_OK(ft_store_camera_get(dst, "km05-north", &c));
    ASSERT_STR_EQ(c.name, "bridge, north side");
    ASSERT(c.km == 5.25 && c.has_latlon == 1 && c.lat == 48.8566 && c.lon == 2.3522);
    ASSERT_OK(ft_store_camera_get(dst, "km10", &c));
    ASSERT_STR_EQ(c.name, "");
    ASSERT(c.km == 10 && c.has_latlon == 0);

    /* every sighting: the values it was made with, and the source's row */
    static const struct {
        const char *cam;
        int64_t key;
        int n_desc;
        size_t thumb_len;
        const char *source;
        int64_t start_us;
        double fps;
    } want[6] = {
        { "km05-north", 1, 1, sizeof thumb_a, "cam5.mp4", T0, 5.0 },
        { "km05-north", 2, 3, 0, "cam5.mp4", T0, 5.0 },
        { "km05-north", 3, 0, sizeof thumb_b, "cam5.mp4", T0, 5.0 },
        { "km10", 1, 2, sizeof thumb_b, "/videos/km10.mp4", T0 + 3600000000LL, 0.0 },
        { "km10", 9, 0, 0, "/videos/km10.mp4", T0 + 3600000000LL, 0.0 },
        { "km05-north", 4, 2, sizeof thumb_a, "cam5.mp4", T0, 5.0 },
    };
    static ft_sighting from, to, made;
    for (int i = 0; i < 6; i++) {
        unsigned char *t_from = NULL, *t_to = NULL;
        ASSERT_OK(ft_store_sighting_get(src, i + 1, &from, &t_from));
        ASSERT_STR_EQ(from.camera_id, want[i].cam);
        ASSERT_EQ(from.track_key, want[i].key);
        find_sighting(dst, 6, want[i].cam, want[i].key, &to, &t_to);
        make_sighting(&made, want[i].key, want[i].n_desc,
                      want[i].thumb_len == sizeof thumb_a ? thumb_a
                      : want[i].thumb_len                 ? thumb_b
                                                          : NULL,
                      want[i].thumb_len);
        assert_sighting_eq(&made, &to);
        assert_sighting_eq(&from, &to);
        ASSERT_STR_EQ(to.camera_id, want[i].cam);
        ft_ingest ing;
        ASSERT_OK(ft_store_ingest_get(dst, to.ingest_id, &ing));
        ASSERT_STR_EQ(ing.camera_id, want[i].cam);
        ASSERT_STR_EQ(ing.source, want[i].source);
        ASSERT_EQ(ing.start_us, want[i].start_us);
        ASSERT(ing.sample_fps == want[i].fps);
        ASSERT_EQ(ing.status, FT_INGEST_RUNNING);
        ft_store_free(t_from);
        ft_store_free(t_to);
    }

    /* again: nothing new, nothing changed */
    ASSERT_OK(ft_store_replica_apply(dst, b.r, b.n, &n_new));
    ASSERT_EQ(n_new, 0);
    assert_counts(dst, 2, 6, 8);
    /* half first, then all: 3 and 3 */
    ft_store *half = new_store("half.ftdb");
    ASSERT_OK(ft_store_replica_apply(half, b.r, 3, &n_new));
    ASSERT_EQ(n_new, 3);
    assert_counts(half, 1, 3, 4);
    ASSERT_OK(ft_store_replica_apply(half, b.r, 6, &n_new));
    ASSERT_EQ(n_new, 3);
    assert_counts(half, 2, 6, 8);
    ASSERT_OK(ft_store_replica_apply(half, b.r, 0, NULL)); /* an empty batch */

    /* a camera the store has is kept as it is */
    ft_store *own = new_store("own.ftdb");
    ft_camera mine;
    memset(&mine, 0, sizeof mine);
    snprintf(mine.id, sizeof mine.id, "km05-north");
    snprintf(mine.name, sizeof mine.name, "mine");
    mine.km = 99;
    ASSERT_OK(ft_store_camera_add(own, &mine));
    ASSERT_OK(ft_store_replica_apply(own, b.r, 1, &n_new));
    ASSERT_EQ(n_new, 1);
    ASSERT_OK(ft_store_camera_get(own, "km05-north", &c));
    ASSERT_STR_EQ(c.name, "mine");
    ASSERT(c.km == 99 && c.has_latlon == 0);

    ASSERT_OK(ft_store_check(dst));
    ft_store_close(own);
    ft_store_close(half);
    ft_store_close(dst);
    ft_store_close(src);
    batch_free(&b);
    no_leaks();
}

static int fail_eio(const char *where)
{
    return strcmp(where, "replica:inserted") == 0 ? FT_EIO : FT_OK;
}

static void test_replica_refused(void)
{
    ft_store *src = source_store("src.ftdb", 1);
    static batch b;
    memset(&b, 0, sizeof b);
    ASSERT_OK(ft_store_replicas_after(src, 0, 100, collect, &b));
    ASSERT_EQ(b.n, 6);
    batch_decode(&b);
    char v[64];
    int n_new = -1;

    /* a store of another space: refused, nothing written */
    ft_store *other = new_store("other.ftdb");
    ASSERT_OK(ft_store_meta_set(other, FT_STORE_SPACE_KEY, "other-space"));
    ASSERT_EQ(ft_store_replica_apply(other, b.r, b.n, &n_new), FT_EINVAL);
    ASSERT_EQ(n_new, 0);
    ASSERT_STR_CONTAINS(ft_store_errmsg(other), "other-space");
    assert_counts(other, 0, 0, 0);
    ASSERT_OK(ft_store_meta_get(other, FT_STORE_SPACE_KEY, v, sizeof v));
    ASSERT_STR_EQ(v, "other-space");
    ft_store_close(other);

    /* a batch of two spaces into an empty store: refused whole, the first
    ** replica's camera and the space setting included */
    static ft_replica two[2];
    two[0] = b.r[0];
    two[1] = b.r[1];
    snprintf(two[1].space, sizeof two[1].space, "another");
    ft_store *empty = new_store("empty.ftdb");
    ASSERT_EQ(ft_store_replica_apply(empty, two, 2, &n_new), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(empty), "replica 1");
    assert_counts(empty, 0, 0, 0);
    ASSERT_EQ(ft_store_meta_get(empty, FT_STORE_SPACE_KEY, v, sizeof v), FT_ENOTFOUND);

    /* a bad replica (checked before anything is written) */
    two[1] = b.r[1];
    two[1].s.desc[2][100] = NAN;
    ASSERT_EQ(ft_store_replica_apply(empty, two, 2, &n_new), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_store_errmsg(empty), "replica 1");
    assert_counts(empty, 0, 0, 0);
    ASSERT_EQ(ft_store_replica_apply(empty, NULL, 1, &n_new), FT_EINVAL);
    ASSERT_EQ(ft_store_replica_apply(empty, two, -1, &n_new), FT_EINVAL);

    /* a failure after every row was written: rolled back whole */
    ft__store_test_hook = fail_eio;
    ASSERT_EQ(ft_store_replica_apply(empty, b.r, b.n, &n_new), FT_EIO);
    ft__store_test_hook = NULL;
    ASSERT_EQ(n_new, 0);
    assert_counts(empty, 0, 0, 0);
    ASSERT_EQ(ft_store_meta_get(empty, FT_STORE_SPACE_KEY, v, sizeof v), FT_ENOTFOUND);
    ASSERT_OK(ft_store_replica_apply(empty, b.r, b.n, &n_new));
    ASSERT_EQ(n_new, 6);
    ft_store_close(empty);

    /* a database from before the setting, with descriptors: the legacy
    ** space; replicas of another are refused, of that one taken */
    ft_store *legacy = source_store("legacy.ftdb", 0);
    static batch lb;
    memset(&lb, 0, sizeof lb);
    ASSERT_OK(ft_store_replicas_after(legacy, 0, 100, collect, &lb));
    ASSERT_EQ(lb.n, 6);
    batch_decode(&lb);
    ASSERT_STR_EQ(lb.r[0].space, FT_STORE_SPACE_LEGACY);
    ASSERT_STR_EQ(lb.r[0].pipeline, "");
    ft_store *old = source_store("old.ftdb", 0);
    ASSERT_EQ(ft_store_replica_apply(old, b.r, 1, &n_new), FT_EINVAL);
    ASSERT_OK(ft_store_replica_apply(old, lb.r, lb.n, &n_new));
    ASSERT_EQ(n_new, 0); /* the same video, the same tracks */
    ft_store_close(old);
    ft_store_close(legacy);
    batch_free(&lb);

    /* read-only */
    ft_store_close(src);
    char path[128];
    snprintf(path, sizeof path, "%s/src.ftdb", tmp_dir);
    ASSERT_OK(ft_store_open(path, FT_STORE_READONLY, &src));
    ASSERT_EQ(ft_store_replica_apply(src, b.r, 1, &n_new), FT_EINVAL);
    ft_store_close(src);
    batch_free(&b);
    no_leaks();
}

/* Counts the calls; stops with 7 at call stop_at; tries a write and a walk. */
typedef struct probe {
    int calls, stop_at;
    int64_t ids[16];
    ft_store *st;
    int write_rc, walk_rc;
} probe;

static int on_probe(const ft_replica *r, void *p)
{
    probe *q = p;
    if (q->calls < 16) q->ids[q->calls] = r->s.id;
    q->calls++;
    if (q->st) {
        q->write_rc = ft_store_replica_apply(q->st, r, 1, NULL);
        q->walk_rc = ft_store_replicas_after(q->st, 0, 1, on_probe, q);
        q->st = NULL;
    }
    return q->calls == q->stop_at ? 7 : 0;
}

static void test_replica_walk_bounds(void)
{
    ft_store *src = source_store("src.ftdb", 1);
    probe q;
    memset(&q, 0, sizeof q);
    ASSERT_OK(ft_store_replicas_after(src, 2, 3, on_probe, &q));
    ASSERT_EQ(q.calls, 3);
    ASSERT_EQ(q.ids[0], 3);
    ASSERT_EQ(q.ids[1], 4);
    ASSERT_EQ(q.ids[2], 5);
    memset(&q, 0, sizeof q);
    ASSERT_OK(ft_store_replicas_after(src, 5, 100, on_probe, &q));
    ASSERT_EQ(q.calls, 1);
    ASSERT_EQ(q.ids[0], 6);
    memset(&q, 0, sizeof q);
    ASSERT_OK(ft_store_replicas_after(src, 6, 100, on_probe, &q));
    ASSERT_EQ(q.calls, 0);
    memset(&q, 0, sizeof q);
    ASSERT_OK(ft_store_replicas_after(src, -5, 1, on_probe, &q));
    ASSERT_EQ(q.calls, 1);
    ASSERT_EQ(q.ids[0], 1);
    ASSERT_EQ(ft_store_replicas_after(src, 0, 0, on_probe, &q), FT_EINVAL);
    ASSERT_EQ(ft_store_replicas_after(src, 0, 10, NULL, NULL), FT_EINVAL);

    /* the callback's code stops the walk; no write, no walk inside it */
    memset(&q, 0, sizeof q);
    q.stop_at = 2;
    q.st = src;
    ASSERT_EQ(ft_store_replicas_after(src, 0, 100, on_probe, &q), 7);
    ASSERT_EQ(q.calls, 2);
    ASSERT_EQ(q.write_rc, FT_EINVAL);
    ASSERT_EQ(q.walk_rc, FT_EINVAL);
    /* and the store is usable after (no statement left running) */
    assert_counts(src, 2, 6, 8);
    ft_camera c = { .id = "km20", .km = 20 };
    ASSERT_OK(ft_store_camera_add(src, &c));
    ft_store_close(src);

    /* sightings without descriptors and no space setting: nothing to name
    ** the space with */
    ft_store *bare = new_store("bare.ftdb");
    ASSERT_OK(ft_store_camera_add(bare, &c));
    int64_t ing, resume;
    ASSERT_OK(ft_store_ingest_begin(bare, "km20", "x.mp4", T0, 1.0, &ing, &resume));
    memset(&q, 0, sizeof q);
    ASSERT_OK(ft_store_replicas_after(bare, 0, 10, on_probe, &q)); /* nothing to walk: fine */
    static ft_sighting s;
    make_sighting(&s, 1, 0, NULL, 0);
    ASSERT_OK(ft_store_ingest_commit(bare, ing, &s, 1, 0, 1, 1));
    ASSERT_EQ(ft_store_replicas_after(bare, 0, 10, on_probe, &q), FT_EINVAL);
    ASSERT_EQ(q.calls, 0);
    ASSERT_STR_CONTAINS(ft_store_errmsg(bare), "descriptor space");
    ft_store_close(bare);
    no_leaks();
}

FT_TESTS(FT_TEST(test_replica_roundtrip), FT_TEST(test_replica_decode_rejects),
         FT_TEST(test_replica_msg_id), FT_TEST(test_replica_store_to_store),
         FT_TEST(test_replica_refused), FT_TEST(test_replica_walk_bounds));
