/*
** tests/unit/test_track.c: the face tracker and the shot quality score, on
** hand-made detection sequences whose right answer is obvious.
*/
#include "harness/test.h"
#include "track/track.h"

static ft__track_det det(double x, double y, double h)
{
    ft__track_det d;
    memset(&d, 0, sizeof d);
    d.box[0] = x, d.box[1] = y, d.box[2] = h * 0.8, d.box[3] = h;
    d.score = 0.9;
    d.quality = 0.5f;
    return d;
}

/* One face moving 30 px per frame for 6 frames, then gone: one confirmed track
** that finishes after max_misses empty frames, with every frame counted. */
static void test_track_single_face(void)
{
    ft__tracker *tr;
    ASSERT_OK(ft__tracker_create(NULL, &tr));
    int assign[4];
    for (int f = 0; f < 6; f++) {
        ft__track_det d = det(100 + 30 * f, 200, 60);
        ASSERT_OK(ft__tracker_update(tr, f * 200000, &d, 1, assign));
        ASSERT_EQ(assign[0], 0);
    }
    int n_live, n_done;
    ft__tracker_live(tr, &n_live);
    ASSERT_EQ(n_live, 1);
    for (int f = 6; f < 6 + 4; f++)
        ASSERT_OK(ft__tracker_update(tr, f * 200000, NULL, 0, assign));
    ft__tracker_live(tr, &n_live);
    ft__track *done = ft__tracker_finished(tr, &n_done);
    ASSERT_EQ(n_live, 0);
    ASSERT_EQ(n_done, 1);
    ASSERT_EQ(done[0].n_frames, 6);
    ASSERT_EQ(done[0].first_us, 0);
    ASSERT_EQ(done[0].last_us, 5 * 200000);
    ASSERT_EQ(done[0].key, 0 * 256 + 0);
    ft__tracker_destroy(tr);
}

/* A detection seen once is a blip: dropped after two empty frames, never
** finished. */
static void test_track_blip_dropped(void)
{
    ft__tracker *tr;
    ASSERT_OK(ft__tracker_create(NULL, &tr));
    int assign[1];
    ft__track_det d = det(10, 10, 40);
    ASSERT_OK(ft__tracker_update(tr, 0, &d, 1, assign));
    ASSERT_OK(ft__tracker_update(tr, 200000, NULL, 0, assign));
    int n;
    ft__tracker_live(tr, &n);
    ASSERT_EQ(n, 1); /* one miss is forgiven */
    ASSERT_OK(ft__tracker_update(tr, 400000, NULL, 0, assign));
    ft__tracker_finished(tr, &n);
    ASSERT_EQ(n, 0);
    ft__tracker_live(tr, &n);
    ASSERT_EQ(n, 0);
    ft__tracker_destroy(tr);
}

/* Two faces crossing: left one moves right, right one moves left, both fast
** (no overlap between frames, so the centre gate and velocity do the work).
** Descriptors distinguish them at the crossing. Each track must keep its
** own face: the track started at x=100 ends on the right. */
static void test_track_crossing_with_descriptors(void)
{
    ft__tracker *tr;
    ASSERT_OK(ft__tracker_create(NULL, &tr));
    float da[128], db[128];
    for (int i = 0; i < 128; i++)
        da[i] = (i % 2) ? 0.1f : -0.1f, db[i] = -da[i];
    int assign[2];
    for (int f = 0; f < 8; f++) {
        ft__track_det d[2] = { det(100 + 40 * f, 100, 50), det(380 - 40 * f, 104, 50) };
        d[0].desc = da;
        d[1].desc = db;
        ASSERT_OK(ft__tracker_update(tr, f * 200000, d, 2, assign));
        ASSERT(assign[0] >= 0 && assign[1] >= 0 && assign[0] != assign[1]);
    }
    ft__tracker_flush(tr);
    int n;
    ft__track *done = ft__tracker_finished(tr, &n);
    ASSERT_EQ(n, 2);
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(done[i].n_frames, 8);
        /* the track that started left (key index 0) ends right, and vice versa */
        double end_x = done[i].box[0];
        if (done[i].key % 256 == 0)
            ASSERT_NEAR(end_x, 100 + 40 * 7, 1e-9);
        else
            ASSERT_NEAR(end_x, 380 - 40 * 7, 1e-9);
    }
    ft__tracker_destroy(tr);
}

/* A face that jumps far away is a new track, not a continuation. */
static void test_track_gate(void)
{
    ft__tracker *tr;
    ASSERT_OK(ft__tracker_create(NULL, &tr));
    int assign[1];
    ft__track_det a = det(100, 100, 50), b = det(600, 400, 50);
    ASSERT_OK(ft__tracker_update(tr, 0, &a, 1, assign));
    ASSERT_OK(ft__tracker_update(tr, 1, &a, 1, assign));
    ASSERT_OK(ft__tracker_update(tr, 2, &b, 1, assign));
    int n;
    ft__track *live = ft__tracker_live(tr, &n);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(live[assign[0]].first_us, 2);
    ft__tracker_destroy(tr);
}

/* Best shots: kept sorted by quality, the worst replaced, worse ones refused. */
static void test_track_shots(void)
{
    ft__track t;
    memset(&t, 0, sizeof t);
    double box[4] = { 0, 0, 10, 10 };
    ASSERT_EQ(ft__track_offer(&t, 0.5f, 1, box, 0.9), 0);
    ASSERT_EQ(ft__track_offer(&t, 0.7f, 2, box, 0.9), 0);
    ASSERT_EQ(ft__track_offer(&t, 0.6f, 3, box, 0.9), 1);
    ASSERT_EQ(t.n_shots, 3);
    ASSERT_EQ(ft__track_offer(&t, 0.4f, 4, box, 0.9), -1);
    ASSERT_EQ(ft__track_offer(&t, 0.65f, 5, box, 0.9), 1);
    ASSERT_NEAR(t.shots[0].quality, 0.7, 1e-6);
    ASSERT_NEAR(t.shots[1].quality, 0.65, 1e-6);
    ASSERT_NEAR(t.shots[2].quality, 0.6, 1e-6);
    ASSERT_EQ(t.shots[2].pts_us, 3);
    ft__track_fini(&t);
}

/* Quality: a sharp frontal large face beats the same face blurred, and a
** face turned (nose far from the eyes' midpoint) scores lower. */
static void test_quality_terms(void)
{
    ft_image *img;
    ASSERT_OK(ft_image_create(200, 200, &img));
    for (int y = 0; y < 200; y++)
        for (int x = 0; x < 200; x++)
            for (int c = 0; c < 3; c++)
                img->rgb[((size_t)y * 200 + x) * 3 + c] = ((x / 4 + y / 4) % 2) ? 220 : 30;
    ft_image *blur;
    ASSERT_OK(ft_image_create(200, 200, &blur));
    for (size_t i = 0; i < 200 * 200 * 3; i++)
        blur->rgb[i] = 125;
    ft_face f;
    memset(&f, 0, sizeof f);
    f.has_landmarks = 1, f.n_landmarks = 68, f.landmark_kind = FT_LANDMARKS_68, f.score = 0.9;
    for (int i = 36; i < 42; i++)
        f.landmarks[i][0] = 70, f.landmarks[i][1] = 80;
    for (int i = 42; i < 48; i++)
        f.landmarks[i][0] = 130, f.landmarks[i][1] = 80;
    f.landmarks[30][0] = 100, f.landmarks[30][1] = 110;
    const double box[4] = { 40, 40, 120, 120 };
    memcpy(f.box, box, sizeof box);
    float sharp = ft__shot_quality(img, &f);
    float flat = ft__shot_quality(blur, &f);
    f.landmarks[30][0] = 125; /* nose near the right eye: yaw 0.42 */
    float turned = ft__shot_quality(img, &f);
    const double small_box[4] = { 40, 40, 20, 24 };
    ft_face g = f;
    memcpy(g.box, small_box, sizeof small_box);
    g.landmarks[30][0] = 100;
    float small = ft__shot_quality(img, &g);
    /* the same face with YuNet's 5 points (eye centres, nose tip) and with
    ** dlib's 5 (eye corners, base of the nose) gives the same terms */
    ft_face y5;
    memset(&y5, 0, sizeof y5);
    memcpy(y5.box, box, sizeof box);
    y5.score = 0.9, y5.has_landmarks = 1, y5.n_landmarks = 5;
    y5.landmark_kind = FT_LANDMARKS_DETECTOR5;
    const double yp[5][2] = { { 70, 80 }, { 130, 80 }, { 100, 110 }, { 80, 130 }, { 120, 130 } };
    memcpy(y5.landmarks, yp, sizeof yp);
    ft_face d5 = y5;
    d5.landmark_kind = FT_LANDMARKS_DLIB5;
    const double dp[5][2] = { { 60, 80 }, { 80, 80 }, { 140, 80 }, { 120, 80 }, { 100, 115 } };
    memcpy(d5.landmarks, dp, sizeof dp);
    ASSERT_NEAR(ft__shot_quality(img, &y5), sharp, 1e-6);
    ASSERT_NEAR(ft__shot_quality(img, &d5), sharp, 1e-6);
    y5.landmarks[2][0] = 125; /* turned */
    ASSERT_NEAR(ft__shot_quality(img, &y5), turned, 1e-6);
    y5.has_landmarks = 0;
    ASSERT_EQ(ft__shot_quality(img, &y5), 0.0f);
    printf("# quality sharp %.3f flat %.3f turned %.3f small %.3f\n", sharp, flat, turned, small);
    ASSERT(sharp > 0.8f && sharp <= 0.9f); /* every term near 1, times the score */
    ASSERT(flat < sharp * 0.5f);           /* no texture: the sharp term is 0.3 */
    ASSERT(turned < sharp * 0.6f);
    ASSERT(small < sharp * 0.4f);
    ft_image_destroy(img);
    ft_image_destroy(blur);
}

/* Saved state: a tracker restored from its saved live tracks continues
** exactly as the original (same assignments, same finished tracks), and
** every truncation of the state is rejected. */
static void test_track_save_load(void)
{
    ft__tracker *a, *b;
    ASSERT_OK(ft__tracker_create(NULL, &a));
    ASSERT_OK(ft__tracker_create(NULL, &b));
    int assign[2], assign_b[2];
    for (int f = 0; f < 3; f++) {
        ft__track_det d[2] = { det(100 + 20 * f, 100, 50), det(400, 300 - 10 * f, 70) };
        ASSERT_OK(ft__tracker_update(a, f * 200000, d, 2, assign));
    }
    int n;
    ft__track *live = ft__tracker_live(a, &n);
    ASSERT_EQ(n, 2);
    double box[4] = { 1, 2, 3, 4 };
    int slot = ft__track_offer(&live[0], 0.8f, 5, box, 0.9);
    ASSERT_EQ(slot, 0);
    live[0].shots[0].thumb = ft__malloc(5);
    memcpy(live[0].shots[0].thumb, "\xff\xd8\xff\x00\x01", 5);
    live[0].shots[0].thumb_len = 5;
    unsigned char *buf;
    size_t len;
    ASSERT_OK(ft__tracker_save(a, &buf, &len));
    ASSERT_OK(ft__tracker_load(b, buf, len));
    for (int f = 3; f < 10; f++) {
        ft__track_det d[2] = { det(100 + 20 * f, 100, 50), det(400, 300 - 10 * f, 70) };
        int nd = f < 6 ? 2 : 0;
        ASSERT_OK(ft__tracker_update(a, f * 200000, d, nd, assign));
        ASSERT_OK(ft__tracker_update(b, f * 200000, d, nd, assign_b));
        for (int i = 0; i < nd; i++)
            ASSERT_EQ(assign[i], assign_b[i]);
    }
    int na, nb;
    ft__track *fa = ft__tracker_finished(a, &na), *fb = ft__tracker_finished(b, &nb);
    ASSERT_EQ(na, 2);
    ASSERT_EQ(nb, 2);
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(fa[i].key, fb[i].key);
        ASSERT_EQ(fa[i].n_frames, fb[i].n_frames);
        ASSERT_EQ(fa[i].n_shots, fb[i].n_shots);
        ASSERT_EQ(fa[i].first_us, fb[i].first_us);
        ASSERT_EQ(fa[i].last_us, fb[i].last_us);
    }
    ASSERT_EQ(fb[0].shots[0].thumb_len + fb[1].shots[0].thumb_len, 5);
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 97))
        ASSERT_EQ(ft__tracker_load(b, buf, cut), FT_EFORMAT);
    buf[0] ^= 1;
    ASSERT_EQ(ft__tracker_load(b, buf, len), FT_EFORMAT);
    ft__tracker_live(b, &n);
    ASSERT_EQ(n, 0);
    ft__free(buf);
    ft__tracker_destroy(a);
    ft__tracker_destroy(b);
}

/* A lateral runner at 5 frames/s: 100 px (2 face heights) per frame, which
** a track without velocity must still follow; then velocity takes over. */
static void test_track_fast_lateral(void)
{
    ft__tracker *tr;
    ASSERT_OK(ft__tracker_create(NULL, &tr));
    int assign[1];
    for (int f = 0; f < 8; f++) {
        ft__track_det d = det(50 + 100 * f, 300, 50);
        ASSERT_OK(ft__tracker_update(tr, f * 200000, &d, 1, assign));
        ASSERT_EQ(assign[0], 0);
    }
    ft__tracker_flush(tr);
    int n;
    ft__track *done = ft__tracker_finished(tr, &n);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(done[0].n_frames, 8);
    ft__tracker_destroy(tr);
}

FT_TESTS(FT_TEST(test_track_single_face), FT_TEST(test_track_save_load),
         FT_TEST(test_track_fast_lateral), FT_TEST(test_track_blip_dropped),
         FT_TEST(test_track_crossing_with_descriptors), FT_TEST(test_track_gate),
         FT_TEST(test_track_shots), FT_TEST(test_quality_terms))
