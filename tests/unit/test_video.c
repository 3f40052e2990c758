/*
** tests/unit/test_video.c: the video reader and writer on synthetic clips.
**
** DESIGN
**   Each clip is written here by ft_video_writer: 64x48 frames whose eight
**   16x24 blocks spell the frame index in binary (bright block = 1), big
**   enough to survive lossy coding, so every decoded frame says which frame
**   it is. Reading back checks counts, timestamps, order, sampling, seeking
**   and the info fields; damaged copies (cut, overwritten, bit-flipped) and
**   non-videos must end with a clean status, never a crash or a hang (the
**   harness's timeout catches hangs). Files live in a fresh folder under
**   /tmp, removed at the end of each test.
**   Rotation: clips with a display matrix (every turn and mirror) must read
**   back upright, checked by where two corner blocks land; with the models,
**   an ingest of a turned group photo must find its faces where the upright
**   photo has them (skipped without models). Damage: garbage in the middle
**   of a clip must read to the end with the damage counted and nothing of
**   FFmpeg's on stderr (captured); a fragmented MP4 with broken fragment
**   headers must fail as damaged, never as out of memory.
**
** INVARIANTS  Deterministic: fixed clips, fixed damage (no clock, fixed seed).
** THREADS     One per test (the harness forks each test).
*/
#include "../harness/test.h"

#include "facetrail.h"

#include "core/core.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define W        64
#define H        48
#define FPS      25
#define N        50
#define FRAME_US 40000

/* ---- helpers ------------------------------------------------------------ */

static char g_dir[64];

static void make_dir(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ft_video_XXXXXX");
    ASSERT(mkdtemp(g_dir) != NULL);
    ft_video_set_ffmpeg_log_level(0); /* damaged inputs make FFmpeg chatty */
}

static void remove_dir(void)
{
    DIR *d = opendir(g_dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(g_dir);
}

static const char *tmp_path(const char *name)
{
    static char p[32][256];
    static int k;
    k = (k + 1) % 32;
    snprintf(p[k], sizeof p[k], "%s/%s", g_dir, name);
    return p[k];
}

/* Frame i: block b (column b % 4, row b / 4) bright iff bit b of i is set. */
static void draw(ft_image *img, int i)
{
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            int b = (y / 24) * 4 + x / 16;
            uint8_t *px = img->rgb + ((size_t)y * img->width + x) * 3;
            if ((i >> b) & 1) {
                px[0] = 230, px[1] = 210, px[2] = 60;
            } else {
                px[0] = 20, px[1] = 40, px[2] = 110;
            }
        }
}

/* Index spelled by a decoded frame (block interiors only); -1 if a block is
** neither clearly bright nor clearly dark. */
static int decode_index(const ft_image *img)
{
    if (img->width != W || img->height != H) return -1;
    int v = 0;
    for (int b = 0; b < 8; b++) {
        int x0 = (b % 4) * 16, y0 = (b / 4) * 24;
        long sum = 0, n = 0;
        for (int y = y0 + 4; y < y0 + 20; y++)
            for (int x = x0 + 4; x < x0 + 12; x++) {
                const uint8_t *px = img->rgb + ((size_t)y * W + x) * 3;
                sum += (px[0] * 299 + px[1] * 587 + px[2] * 114) / 1000;
                n++;
            }
        long mean = sum / n;
        if (mean > 150)
            v |= 1 << b;
        else if (mean > 80)
            return -1;
    }
    return v;
}

/* Checks the colours too: a bright block decodes near (230, 210, 60). */
static void check_colours(const ft_image *img)
{
    const uint8_t *px = img->rgb + ((size_t)10 * W + 8) * 3; /* block 0 */
    int bright = px[1] > 120;
    int want[3] = { bright ? 230 : 20, bright ? 210 : 40, bright ? 60 : 110 };
    for (int c = 0; c < 3; c++)
        ASSERT_NEAR(px[c], want[c], 12);
}

static const char *write_clip(const char *name, const ft_video_writer_params *p, int n)
{
    const char *path = tmp_path(name);
    ft_video_writer *w;
    char err[512];
    int r = ft_video_writer_open(path, W, H, FPS, p, &w, err, sizeof err);
    if (r != FT_OK) ft_test_fail(__FILE__, __LINE__, "writer_open %s: %d %s", path, r, err);
    ft_image *img;
    ASSERT_OK(ft_image_create(W, H, &img));
    for (int i = 0; i < n; i++) {
        draw(img, i);
        r = ft_video_writer_write(w, img);
        if (r != FT_OK)
            ft_test_fail(__FILE__, __LINE__, "write %d: %d %s", i, r, ft_video_writer_errmsg(w));
    }
    ft_image_destroy(img);
    r = ft_video_writer_close(w, err, sizeof err);
    if (r != FT_OK) ft_test_fail(__FILE__, __LINE__, "writer_close: %d %s", r, err);
    return path;
}

static ft_video *open_ok(const char *path)
{
    ft_video *v;
    char err[512];
    int r = ft_video_open(path, NULL, &v, err, sizeof err);
    if (r != FT_OK) ft_test_fail(__FILE__, __LINE__, "open %s: %d %s", path, r, err);
    return v;
}

/* Reads everything at sample_fps; indices and pts into the arrays (cap n).
** Returns the number of frames; *end gets the final status. */
static int read_all(ft_video *v, double sample_fps, int *idx, int64_t *pts, int cap, int *end)
{
    int n = 0, r;
    const ft_image *img;
    int64_t t;
    while ((r = ft_video_read(v, sample_fps, &img, &t)) == 1) {
        ASSERT(img != NULL);
        if (n < cap) {
            idx[n] = decode_index(img);
            pts[n] = t;
        }
        n++;
        ASSERT(n < 10000);
    }
    *end = r;
    return n;
}

static size_t file_size(const char *path)
{
    struct stat st;
    ASSERT(stat(path, &st) == 0);
    return (size_t)st.st_size;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    unsigned char *buf;
    char err[256];
    ASSERT_OK(ft__read_file(path, (size_t)1 << 30, &buf, len, err, sizeof err));
    return buf;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    if (len) ASSERT(fwrite(data, 1, len, f) == len);
    ASSERT(fclose(f) == 0);
}

/* Full read of a clip of N frames: every frame, in order, at k * 40 ms. */
static void check_full_clip(const char *path)
{
    ft_video *v = open_ok(path);
    int idx[N + 8], end;
    int64_t pts[N + 8];
    int n = read_all(v, 0, idx, pts, N + 8, &end);
    ASSERT_EQ(end, 0);
    ASSERT_EQ(n, N);
    for (int i = 0; i < N; i++) {
        if (idx[i] != i || pts[i] != (int64_t)i * FRAME_US)
            ft_test_fail(__FILE__, __LINE__, "%s frame %d: index %d pts %lld", path, i, idx[i],
                         (long long)pts[i]);
    }
    /* end is sticky */
    const ft_image *img;
    int64_t t;
    ASSERT_EQ(ft_video_read(v, 0, &img, &t), 0);
    ASSERT(img == NULL);
    /* an intact clip has no damage */
    ft_video_damage dmg;
    ASSERT_OK(ft_video_get_damage(v, &dmg));
    ASSERT_EQ(dmg.n_frames, 0);
    ASSERT_EQ(dmg.n_errors, 0);
    ft_video_close(v);
}

/* ---- tests -------------------------------------------------------------- */

static void test_roundtrip_mp4(void)
{
    make_dir();
    const char *path = write_clip("clip.mp4", NULL, N);
    check_full_clip(path);

    ft_video *v = open_ok(path);
    ft_video_info in;
    ASSERT_OK(ft_video_get_info(v, &in));
    ASSERT_EQ(in.width, W);
    ASSERT_EQ(in.height, H);
    ASSERT_NEAR(in.fps, 25.0, 1e-9);
    ASSERT_NEAR(in.duration_us, 2000000, FRAME_US);
    ASSERT_EQ(in.n_frames, N);
    ASSERT(strcmp(in.codec, "mpeg4") == 0);
    ASSERT(strcmp(in.format, "mov") == 0);
    const ft_image *img;
    int64_t t;
    ASSERT_EQ(ft_video_read(v, 0, &img, &t), 1);
    check_colours(img);
    for (int i = 0; i < 19; i++)
        ASSERT_EQ(ft_video_read(v, 0, &img, &t), 1);
    ASSERT_EQ(decode_index(img), 19); /* frame 19: bits 0, 1, 4 bright */
    check_colours(img);
    ft_video_close(v);

    /* the fast colour path: same frames, colours within a few levels */
    ft_video_params vp = ft_video_default_params();
    vp.fast_colour = 1;
    char err[512];
    ASSERT_OK(ft_video_open(path, &vp, &v, err, sizeof err));
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(ft_video_read(v, 0, &img, &t), 1);
        ASSERT_EQ(decode_index(img), i);
        check_colours(img);
    }
    ft_video_close(v);
    ASSERT_EQ(ft_video_get_info(NULL, &in), FT_EINVAL);
    ft_video_close(NULL);
    remove_dir();
}

static void test_roundtrip_containers(void)
{
    make_dir();
    ft_video_writer_params p = ft_video_writer_default_params();
    check_full_clip(write_clip("clip.mkv", &p, N));
    check_full_clip(write_clip("clip.avi", &p, N));
    check_full_clip(write_clip("clip.mov", &p, N));
    check_full_clip(write_clip("clip.ts", &p, N));
    /* B-frames: decode order differs from presentation order */
    p.max_b_frames = 2;
    check_full_clip(write_clip("clip_b.mp4", &p, N));
    check_full_clip(write_clip("clip_b.mkv", &p, N));
    remove_dir();
}

static void test_roundtrip_x264(void)
{
    if (!ft_video_encoder_available("libx264")) FT_SKIP("libavcodec without libx264");
    make_dir();
    ft_video_writer_params p = ft_video_writer_default_params();
    p.codec = "libx264";
    p.max_b_frames = -1; /* the preset's B-frames */
    const char *path = write_clip("x264.mp4", &p, N);
    check_full_clip(path);
    ft_video *v = open_ok(path);
    ft_video_info in;
    ASSERT_OK(ft_video_get_info(v, &in));
    ASSERT(strcmp(in.codec, "h264") == 0);
    ft_video_close(v);
    check_full_clip(write_clip("x264.mkv", &p, N));
    remove_dir();
}

static void test_sampling(void)
{
    make_dir();
    const char *path = write_clip("clip.mp4", NULL, N);
    int idx[N], end;
    int64_t pts[N];

    /* 5 fps from 25: every 5th frame */
    ft_video *v = open_ok(path);
    int n = read_all(v, 5.0, idx, pts, N, &end);
    ASSERT_EQ(end, 0);
    ASSERT_EQ(n, 10);
    for (int i = 0; i < n; i++) {
        ASSERT_EQ(idx[i], 5 * i);
        ASSERT_EQ(pts[i], (int64_t)i * 200000);
    }
    ft_video_close(v);

    /* 7 fps: at least 1/7 s apart, so every 4th frame (160 ms) */
    v = open_ok(path);
    n = read_all(v, 7.0, idx, pts, N, &end);
    ASSERT_EQ(n, 13);
    for (int i = 0; i < n; i++)
        ASSERT_EQ(idx[i], 4 * i);
    ft_video_close(v);

    /* faster than the stream: every frame; 1 fps: 0, 25 */
    v = open_ok(path);
    ASSERT_EQ(read_all(v, 100.0, idx, pts, N, &end), N);
    ft_video_close(v);
    v = open_ok(path);
    n = read_all(v, 1.0, idx, pts, N, &end);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(idx[1], 25);
    ASSERT_EQ(pts[1], 1000000);

    /* bad rates */
    ASSERT_OK(ft_video_seek(v, 0));
    const ft_image *img;
    int64_t t;
    ASSERT_EQ(ft_video_read(v, -1.0, &img, &t), FT_EINVAL);
    ASSERT_EQ(ft_video_read(v, NAN, &img, &t), FT_EINVAL);
    ASSERT_EQ(ft_video_read(v, INFINITY, &img, &t), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_video_errmsg(v), "sample_fps");
    ASSERT_EQ(ft_video_read(v, 0, NULL, &t), FT_EINVAL);
    ASSERT_EQ(ft_video_read(NULL, 0, &img, &t), FT_EINVAL);
    /* the rate may change between calls */
    ASSERT_EQ(ft_video_read(v, 0, &img, &t), 1);
    ASSERT_EQ(decode_index(img), 0);
    ASSERT_EQ(ft_video_read(v, 0, &img, &t), 1);
    ASSERT_EQ(decode_index(img), 1);
    ASSERT_EQ(ft_video_read(v, 2.5, &img, &t), 1);
    ASSERT_EQ(decode_index(img), 11);
    ASSERT_EQ(t, 440000);
    ft_video_close(v);
    remove_dir();
}

static void seek_expect(ft_video *v, int64_t target, int want_index)
{
    ASSERT_OK(ft_video_seek(v, target));
    const ft_image *img;
    int64_t t;
    int r = ft_video_read(v, 0, &img, &t);
    if (want_index < 0) {
        ASSERT_EQ(r, 0);
        return;
    }
    ASSERT_EQ(r, 1);
    if (decode_index(img) != want_index || t != (int64_t)want_index * FRAME_US)
        ft_test_fail(__FILE__, __LINE__, "seek %lld: frame %d at %lld, want %d", (long long)target,
                     decode_index(img), (long long)t, want_index);
}

static void test_seek(void)
{
    make_dir();
    ft_video_writer_params p = ft_video_writer_default_params();
    const char *mp4 = write_clip("clip.mp4", &p, N);
    p.max_b_frames = 2;
    p.gop = 10;
    const char *mkv = write_clip("clip.mkv", &p, N);
    /* MPEG-TS: no index, seeks by DTS; one keyframe only, so every seek must
    ** find its way back to the start */
    p.gop = 100;
    const char *ts = write_clip("clip.ts", &p, N);
    /* ... and with a keyframe every 10 frames: steps back from where it lands */
    p.gop = 10;
    const char *ts10 = write_clip("clip10.ts", &p, N);
    p.max_b_frames = 0;
    const char *avi = write_clip("clip.avi", &p, N);
    const char *paths[5] = { mp4, mkv, ts, ts10, avi };
    for (int k = 0; k < 5; k++) {
        ft_video *v = open_ok(paths[k]);
        seek_expect(v, 1000000, 25); /* the middle, between keyframes */
        seek_expect(v, 1000001, 26); /* just after a frame: the next one */
        seek_expect(v, 1039999, 26);
        seek_expect(v, 0, 0);
        seek_expect(v, -5, 0);
        seek_expect(v, 1960000, 49);
        seek_expect(v, 1960001, -1); /* past the last frame */
        seek_expect(v, 99000000, -1);
        seek_expect(v, 480000, 12); /* after the end, back again */
        /* the rest after a seek continues in order */
        const ft_image *img;
        int64_t t;
        for (int i = 13; i < N; i++) {
            ASSERT_EQ(ft_video_read(v, 0, &img, &t), 1);
            ASSERT_EQ(decode_index(img), i);
        }
        ASSERT_EQ(ft_video_read(v, 0, &img, &t), 0);
        ft_video_close(v);
    }
    ASSERT_EQ(ft_video_seek(NULL, 0), FT_EINVAL);
    remove_dir();
}

/* An ingest cut after 4 sampled frames and resumed (new handle, seek to
** the last pts + 1/sample_fps) returns what an uninterrupted one would. */
static void resume_check(const char *path)
{
    /* every frame: resume after frame 7 gives frame 8 */
    ft_video *v0 = open_ok(path);
    ASSERT_EQ(ft_video_sample_next_us(7 * FRAME_US, 0), 7 * FRAME_US + 1);
    seek_expect(v0, ft_video_sample_next_us(7 * FRAME_US, 0), 8);
    ft_video_close(v0);

    int idx[N], end;
    int64_t pts[N];
    ft_video *v = open_ok(path);
    int n = read_all(v, 3.0, idx, pts, N, &end);
    ft_video_close(v);
    ASSERT(n > 5);

    v = open_ok(path);
    const ft_image *img;
    int64_t t = 0;
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(ft_video_read(v, 3.0, &img, &t), 1);
    ft_video_close(v);
    v = open_ok(path);
    ASSERT_OK(ft_video_seek(v, ft_video_sample_next_us(t, 3.0)));
    int idx2[N], end2;
    int64_t pts2[N];
    int n2 = read_all(v, 3.0, idx2, pts2, N, &end2);
    ft_video_close(v);
    ASSERT_EQ(n2, n - 4);
    for (int i = 0; i < n2; i++) {
        ASSERT_EQ(idx2[i], idx[i + 4]);
        ASSERT_EQ(pts2[i], pts[i + 4]);
    }
}

static void test_resume(void)
{
    make_dir();
    ft_video_writer_params p = ft_video_writer_default_params();
    p.max_b_frames = 2;
    resume_check(write_clip("clip.mp4", &p, N));
    resume_check(write_clip("clip.mkv", &p, N));
    resume_check(write_clip("clip.ts", &p, N));
    remove_dir();
}

/* A copy cut at `frac` of the file: some frames, in order, then 0 or
** FT_EFORMAT naming the file. Returns the frames read. */
static int read_cut(const char *path, const char *cut_name, double frac, int expect_open)
{
    size_t len;
    unsigned char *data = slurp(path, &len);
    const char *cut = tmp_path(cut_name);
    spit(cut, data, (size_t)((double)len * frac));
    ft__free(data);
    ft_video *v;
    char err[512];
    int r = ft_video_open(cut, NULL, &v, err, sizeof err);
    if (r != FT_OK) {
        if (expect_open) ft_test_fail(__FILE__, __LINE__, "open %s: %d %s", cut, r, err);
        ASSERT_EQ(r, FT_EFORMAT);
        ASSERT_STR_CONTAINS(err, cut);
        return 0;
    }
    int idx[N + 8], end;
    int64_t pts[N + 8];
    int n = read_all(v, 0, idx, pts, N + 8, &end);
    ASSERT(n <= N);
    for (int i = 0; i < n && i < N; i++) {
        /* the last frame may be concealed garbage from a cut packet */
        if (i < n - 1) ASSERT_EQ(idx[i], i);
        ASSERT_EQ(pts[i], (int64_t)i * FRAME_US);
    }
    ASSERT(end == 0 || end == FT_EFORMAT);
    if (end) ASSERT_STR_CONTAINS(ft_video_errmsg(v), cut);
    if (end) ASSERT_STR_CONTAINS(ft_video_errmsg(v), "truncated");
    /* sticky */
    const ft_image *img;
    int64_t t;
    ASSERT_EQ(ft_video_read(v, 0, &img, &t), end);
    ft_video_close(v);
    return n;
}

static void test_truncated(void)
{
    make_dir();
    char mp4[256];
    snprintf(mp4, sizeof mp4, "%s", write_clip("clip.mp4", NULL, N));
    int n = read_cut(mp4, "cut60.mp4", 0.6, 1);
    printf("# mp4 cut at 60%%: %d frames\n", n);
    ASSERT(n >= N / 3 && n < N);
    /* and the end status says so: MP4 knows its length */
    ft_video *v = open_ok(tmp_path("cut60.mp4"));
    int idx[N], end;
    int64_t pts[N];
    read_all(v, 0, idx, pts, N, &end);
    ASSERT_EQ(end, FT_EFORMAT);
    printf("# %s\n", ft_video_errmsg(v));
    ft_video_close(v);

    const char *mkv = write_clip("clip.mkv", NULL, N);
    n = read_cut(mkv, "cut60.mkv", 0.6, 1);
    printf("# mkv cut at 60%%: %d frames\n", n);
    ASSERT(n >= N / 3 && n < N);
    const char *avi = write_clip("clip.avi", NULL, N);
    n = read_cut(avi, "cut60.avi", 0.6, 0);
    printf("# avi cut at 60%%: %d frames\n", n);
    const char *ts = write_clip("clip.ts", NULL, N);
    n = read_cut(ts, "cut60.ts", 0.6, 1);
    printf("# ts cut at 60%%: %d frames\n", n);
    ASSERT(n >= N / 3 && n < N);

    /* every cut point of the mp4 header region and a spread over the file */
    size_t len = file_size(mp4);
    for (size_t cut = 1; cut < len; cut += cut < 200 ? 7 : len / 23) {
        char name[32];
        snprintf(name, sizeof name, "cut_%zu.mp4", cut);
        read_cut(mp4, name, (double)cut / (double)len, 0);
        unlink(tmp_path(name));
    }
    remove_dir();
}

static void test_damaged(void)
{
    make_dir();
    ft_video_writer_params p = ft_video_writer_default_params();
    p.max_b_frames = 2;
    const char *paths[4] = { write_clip("clip.mp4", &p, N), write_clip("clip.mkv", &p, N),
                             write_clip("clip.ts", &p, N), NULL };
    p.max_b_frames = 0;
    paths[3] = write_clip("clip.avi", &p, N);
    uint32_t seed = 12345;
    for (int k = 0; k < 4; k++) {
        size_t len;
        unsigned char *orig = slurp(paths[k], &len);
        unsigned char *data = ft__malloc(len);
        ASSERT(data);
        for (int trial = 0; trial < 12; trial++) {
            memcpy(data, orig, len);
            if (trial == 0) { /* a 1 KB hole of garbage in the middle */
                for (size_t i = len / 2; i < len / 2 + 1024 && i < len; i++) {
                    seed = seed * 1664525u + 1013904223u;
                    data[i] = (unsigned char)(seed >> 24);
                }
            } else { /* bit flips anywhere, the header included */
                for (int f = 0; f < 4 * trial; f++) {
                    seed = seed * 1664525u + 1013904223u;
                    data[(seed >> 8) % len] ^= (unsigned char)(1u << (seed & 7));
                }
            }
            const char *bad = tmp_path("bad.bin");
            spit(bad, data, len);
            ft_video *v;
            char err[512];
            int r = ft_video_open(bad, NULL, &v, err, sizeof err);
            if (r != FT_OK) {
                ASSERT(r == FT_EFORMAT || r == FT_ETOOBIG);
                ASSERT_STR_CONTAINS(err, bad);
                continue;
            }
            int idx[64], end;
            int64_t pts[64];
            int n = read_all(v, trial % 2 ? 0 : 5.0, idx, pts, 64, &end);
            ASSERT(end <= 0);
            if (end) ASSERT_STR_CONTAINS(ft_video_errmsg(v), bad);
            (void)n;
            /* seeking in a damaged file must not hang either */
            ft_video_seek(v, 1000000);
            read_all(v, 0, idx, pts, 64, &end);
            ft_video_close(v);
        }
        ft__free(data);
        ft__free(orig);
    }
    remove_dir();
}

static void expect_open_error(const char *path, int status, const char *words)
{
    ft_video *v = (ft_video *)1;
    char err[512];
    int r = ft_video_open(path, NULL, &v, err, sizeof err);
    if (r != status)
        ft_test_fail(__FILE__, __LINE__, "open %s: %d (%s), want %d", path, r, err, status);
    ASSERT(v == NULL);
    ASSERT_STR_CONTAINS(err, path);
    if (words) ASSERT_STR_CONTAINS(err, words);
    printf("# %s\n", err);
}

static void test_not_videos(void)
{
    make_dir();
    const char *empty = tmp_path("empty.mp4");
    spit(empty, "", 0);
    expect_open_error(empty, FT_EFORMAT, "empty");

    unsigned char junk[8192];
    uint32_t seed = 7;
    for (size_t i = 0; i < sizeof junk; i++) {
        seed = seed * 1664525u + 1013904223u;
        junk[i] = (unsigned char)(seed >> 24);
    }
    const char *rnd = tmp_path("random.mp4");
    spit(rnd, junk, sizeof junk);
    expect_open_error(rnd, FT_EFORMAT, NULL);
    const char *rnd2 = tmp_path("random.bin");
    spit(rnd2, junk, sizeof junk);
    expect_open_error(rnd2, FT_EFORMAT, NULL);

    const char *txt = tmp_path("notes.txt");
    const char *text = "Lap times, race 3\nbib 117: 4:31.2\nbib 204: 4:35.9\n";
    spit(txt, text, strlen(text));
    expect_open_error(txt, FT_EFORMAT, NULL);
    const char *txt2 = tmp_path("notes.mkv");
    spit(txt2, text, strlen(text));
    expect_open_error(txt2, FT_EFORMAT, NULL);

    expect_open_error(tmp_path("missing.mp4"), FT_EIO, "No such file");
    expect_open_error(g_dir, FT_EIO, "directory");
    const char *fifo = tmp_path("cam.fifo");
    ASSERT(mkfifo(fifo, 0600) == 0);
    expect_open_error(fifo, FT_EIO, "regular"); /* would block forever in FFmpeg */
    expect_open_error("/dev/zero", FT_EIO, "regular");
    /* a playlist naming another file is not followed */
    const char *m3u = tmp_path("list.m3u8");
    const char *pl = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nclip.mp4\n#EXT-X-ENDLIST\n";
    spit(m3u, pl, strlen(pl));
    write_clip("clip.mp4", NULL, 5);
    expect_open_error(m3u, FT_EFORMAT, NULL);

    /* A PNG is an image, not a video: refused with FT_EFORMAT (documented). */
    ft_image *img;
    ASSERT_OK(ft_image_create(W, H, &img));
    draw(img, 5);
    const char *png = tmp_path("still.png");
    char err[512];
    ASSERT_OK(ft_image_save_png(img, png, err, sizeof err));
    ft_image_destroy(img);
    expect_open_error(png, FT_EFORMAT, "png");

    /* bad arguments */
    ft_video *v;
    ASSERT_EQ(ft_video_open(NULL, NULL, &v, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_video_open(png, NULL, NULL, err, sizeof err), FT_EINVAL);
    ft_video_params vp = ft_video_default_params();
    vp.threads = -1;
    ASSERT_EQ(ft_video_open(png, &vp, &v, err, sizeof err), FT_EINVAL);
    ASSERT(ft_video_errmsg(NULL) != NULL);
    remove_dir();
}

static void test_max_pixels(void)
{
    make_dir();
    const char *mp4 = write_clip("clip.mp4", NULL, 5);
    const char *mkv = write_clip("clip.mkv", NULL, 5);
    ft_video_params vp = ft_video_default_params();
    const char *paths[2] = { mp4, mkv };
    for (int k = 0; k < 2; k++) {
        ft_video *v;
        char err[512];
        vp.max_pixels = W * H - 1;
        int r = ft_video_open(paths[k], &vp, &v, err, sizeof err);
        printf("# %s\n", err);
        ASSERT_EQ(r, FT_ETOOBIG);
        ASSERT(v == NULL);
        ASSERT_STR_CONTAINS(err, paths[k]);
        ASSERT_STR_CONTAINS(err, "64x48");
        vp.max_pixels = W * H;
        ASSERT_OK(ft_video_open(paths[k], &vp, &v, err, sizeof err));
        const ft_image *img;
        int64_t t;
        ASSERT_EQ(ft_video_read(v, 0, &img, &t), 1);
        ft_video_close(v);
    }
    remove_dir();
}

static void test_threads(void)
{
    make_dir();
    ft_video_writer_params p = ft_video_writer_default_params();
    p.max_b_frames = 2;
    p.threads = 2;
    const char *path = write_clip("clip.mp4", &p, N);
    ft_video_params vp = ft_video_default_params();
    vp.threads = 3;
    ft_video *v;
    char err[512];
    ASSERT_OK(ft_video_open(path, &vp, &v, err, sizeof err));
    int idx[N], end;
    int64_t pts[N];
    ASSERT_EQ(read_all(v, 0, idx, pts, N, &end), N);
    for (int i = 0; i < N; i++)
        ASSERT_EQ(idx[i], i);
    seek_expect(v, 1000000, 25);
    ft_video_close(v);
    remove_dir();
}

static void test_writer_errors(void)
{
    make_dir();
    ft_video_writer *w = (ft_video_writer *)1;
    char err[512];
    ASSERT_EQ(ft_video_writer_open(tmp_path("a.xyz"), W, H, FPS, NULL, &w, err, sizeof err),
              FT_EINVAL);
    ASSERT(w == NULL);
    ASSERT_STR_CONTAINS(err, "a.xyz");
    ASSERT_EQ(ft_video_writer_open(tmp_path("a.mp4"), 0, H, FPS, NULL, &w, err, sizeof err),
              FT_EINVAL);
    ASSERT_EQ(ft_video_writer_open(tmp_path("a.mp4"), 63, H, FPS, NULL, &w, err, sizeof err),
              FT_EINVAL);
    ASSERT_EQ(ft_video_writer_open(tmp_path("a.mp4"), W, H, 0, NULL, &w, err, sizeof err),
              FT_EINVAL);
    ft_video_writer_params pb = ft_video_writer_default_params();
    pb.max_b_frames = 2;
    ASSERT_EQ(ft_video_writer_open(tmp_path("b.avi"), W, H, FPS, &pb, &w, err, sizeof err),
              FT_EINVAL);
    ASSERT_STR_CONTAINS(err, "B-frames");
    pb = ft_video_writer_default_params();
    pb.quality = 40; /* mpeg4 qscale is 1..31 */
    ASSERT_EQ(ft_video_writer_open(tmp_path("q.mkv"), W, H, FPS, &pb, &w, err, sizeof err),
              FT_EINVAL);
    ASSERT(access(tmp_path("q.mkv"), F_OK) != 0); /* nothing created on failure */
    ASSERT_EQ(ft_video_writer_open(tmp_path("a.mp4"), W, H, NAN, NULL, &w, err, sizeof err),
              FT_EINVAL);
    ft_video_writer_params p = ft_video_writer_default_params();
    p.codec = "no-such-codec";
    ASSERT_EQ(ft_video_writer_open(tmp_path("a.mp4"), W, H, FPS, &p, &w, err, sizeof err),
              FT_ENOTFOUND);
    ASSERT_STR_CONTAINS(err, "no-such-codec");
    p.codec = "aac"; /* an audio encoder */
    ASSERT_EQ(ft_video_writer_open(tmp_path("a.mp4"), W, H, FPS, &p, &w, err, sizeof err),
              FT_ENOTFOUND);
    ASSERT_EQ(ft_video_writer_open("/nonexistent-dir/a.mp4", W, H, FPS, NULL, &w, err, sizeof err),
              FT_EIO);
    ASSERT_STR_CONTAINS(err, "/nonexistent-dir/a.mp4");
    ASSERT_EQ(ft_video_encoder_available("mpeg4"), 1);
    ASSERT_EQ(ft_video_encoder_available("nope"), 0);
    ASSERT_EQ(ft_video_encoder_available(NULL), 0);

    /* wrong frame size: refused, the writer is then spent */
    ASSERT_OK(ft_video_writer_open(tmp_path("a.mkv"), W, H, 29.97, NULL, &w, err, sizeof err));
    ft_image *img;
    ASSERT_OK(ft_image_create(W, H + 2, &img));
    ASSERT_EQ(ft_video_writer_write(w, img), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_video_writer_errmsg(w), "64x50");
    ASSERT_EQ(ft_video_writer_write(w, NULL), FT_EINVAL);
    ASSERT_EQ(ft_video_writer_close(w, err, sizeof err), FT_EINVAL);
    ASSERT_STR_CONTAINS(err, "a.mkv");
    ft_image_destroy(img);
    ASSERT_EQ(ft_video_writer_close(NULL, err, sizeof err), FT_OK);

    /* 29.97 fps round trip: the rate survives */
    ASSERT_OK(
        ft_video_writer_open(tmp_path("b.mkv"), W, H, 30000.0 / 1001, NULL, &w, err, sizeof err));
    ASSERT_OK(ft_image_create(W, H, &img));
    for (int i = 0; i < 6; i++) {
        draw(img, i);
        ASSERT_OK(ft_video_writer_write(w, img));
    }
    ft_image_destroy(img);
    ASSERT_OK(ft_video_writer_close(w, err, sizeof err));
    ft_video *v = open_ok(tmp_path("b.mkv"));
    ft_video_info in;
    ASSERT_OK(ft_video_get_info(v, &in));
    ASSERT_NEAR(in.fps, 29.97, 0.01);
    const ft_image *fr;
    int64_t t = 0;
    for (int i = 0; i < 6; i++) {
        ASSERT_EQ(ft_video_read(v, 0, &fr, &t), 1);
        ASSERT_EQ(decode_index(fr), i);
        ASSERT_NEAR(t, i * 1001e6 / 30000, 1000); /* Matroska keeps milliseconds */
    }
    ft_video_close(v);
    remove_dir();
}

/* Our own allocations failing, one after the other: a clean FT_ENOMEM and
** nothing leaked (LeakSanitizer under make check). */
static void test_alloc_failures(void)
{
    make_dir();
    const char *path = write_clip("clip.mp4", NULL, 5);
    int ok = 0;
    for (long k = 0; k < 16 && !ok; k++) {
        ft__alloc_fail_after(k);
        ft_video *v;
        char err[512];
        int r = ft_video_open(path, NULL, &v, err, sizeof err);
        if (r == FT_OK) {
            const ft_image *img;
            int64_t t;
            r = ft_video_read(v, 0, &img, &t);
            ok = r == 1;
            if (!ok) ASSERT_EQ(r, FT_ENOMEM);
            ft_video_close(v);
        } else {
            ASSERT_EQ(r, FT_ENOMEM);
        }
        ft__alloc_fail_after(-1);
    }
    ASSERT(ok);
    ok = 0;
    for (long k = 0; k < 8 && !ok; k++) {
        ft__alloc_fail_after(k);
        ft_video_writer *w;
        char err[512];
        int r = ft_video_writer_open(tmp_path("w.mkv"), W, H, FPS, NULL, &w, err, sizeof err);
        ft__alloc_fail_after(-1);
        if (r == FT_OK) {
            ok = 1;
            ASSERT_OK(ft_video_writer_close(w, err, sizeof err));
        } else {
            ASSERT_EQ(r, FT_ENOMEM);
        }
    }
    ASSERT(ok);
    remove_dir();
}

/* ---- rotation, damage report, fragmented MP4 ------------------------------ */

/* Mean luma of the 12x12 square at a corner of img (0 TL, 1 TR, 2 BR, 3 BL). */
static int corner_luma(const ft_image *img, int corner)
{
    int x0 = (corner == 1 || corner == 2) ? img->width - 14 : 2;
    int y0 = corner >= 2 ? img->height - 14 : 2;
    long sum = 0;
    for (int y = y0; y < y0 + 12; y++)
        for (int x = x0; x < x0 + 12; x++) {
            const uint8_t *px = img->rgb + ((size_t)y * img->width + x) * 3;
            sum += (px[0] * 299 + px[1] * 587 + px[2] * 114) / 1000;
        }
    return (int)(sum / 144);
}

/* Where a corner of the coded frame shows after turning clockwise by rot
** degrees and then mirroring left-right (corners numbered clockwise). */
static int shown_corner(int corner, int rot, int mirror)
{
    int c = (corner + rot / 90) % 4;
    static const int mirrored[4] = { 1, 0, 3, 2 };
    return mirror ? mirrored[c] : c;
}

/* A portrait phone clip is stored landscape with a display matrix: the
** reader turns its frames upright and reports the displayed size. The coded
** frames have a white block in the top-left corner and a grey one in the
** top-right, so that each of the 8 turns and mirrors lands them in its own
** pair of corners. */
static void test_rotation(void)
{
    make_dir();
    ft_image *img;
    ASSERT_OK(ft_image_create(W, H, &img));
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *px = img->rgb + ((size_t)y * W + x) * 3;
            int v = 30;
            if (y < 16 && x < 16) v = 235;      /* top-left: white */
            if (y < 16 && x >= W - 16) v = 128; /* top-right: grey */
            px[0] = px[1] = px[2] = (uint8_t)v;
        }
    for (int mirror = 0; mirror <= 1; mirror++)
        for (int rot = 0; rot < 360; rot += 90) {
            ft_video_writer_params p = ft_video_writer_default_params();
            p.display_rotation = rot;
            p.display_mirror = mirror;
            p.quality = 2;
            char name[64];
            snprintf(name, sizeof name, "rot%d_%d.mp4", rot, mirror);
            const char *path = tmp_path(name);
            ft_video_writer *w;
            char err[512];
            ASSERT_OK(ft_video_writer_open(path, W, H, FPS, &p, &w, err, sizeof err));
            for (int i = 0; i < 3; i++)
                ASSERT_OK(ft_video_writer_write(w, img));
            ASSERT_OK(ft_video_writer_close(w, err, sizeof err));

            ft_video *v = open_ok(path);
            ft_video_info in;
            ASSERT_OK(ft_video_get_info(v, &in));
            int sideways = rot == 90 || rot == 270;
            ASSERT_EQ(in.width, sideways ? H : W);
            ASSERT_EQ(in.height, sideways ? W : H);
            ASSERT_EQ(in.rotation, rot);
            ASSERT_EQ(in.mirrored, mirror);
            const ft_image *fr;
            int64_t t;
            int n = 0;
            while (ft_video_read(v, 0, &fr, &t) == 1) {
                ASSERT_EQ(fr->width, in.width);
                ASSERT_EQ(fr->height, in.height);
                int white = shown_corner(0, rot, mirror), grey = shown_corner(1, rot, mirror);
                for (int c = 0; c < 4; c++) {
                    int want = c == white ? 235 : c == grey ? 128 : 30;
                    int got = corner_luma(fr, c);
                    if (abs(got - want) > 20)
                        ft_test_fail(__FILE__, __LINE__,
                                     "rotation %d mirror %d: corner %d luma %d, want %d", rot,
                                     mirror, c, got, want);
                }
                n++;
            }
            ASSERT_EQ(n, 3);
            ft_video_close(v);
        }
    ft_image_destroy(img);
    /* only MP4 / MOV carry a display matrix */
    ft_video_writer_params p = ft_video_writer_default_params();
    p.display_rotation = 90;
    ft_video_writer *w;
    char err[512];
    ASSERT_EQ(ft_video_writer_open(tmp_path("r.mkv"), W, H, FPS, &p, &w, err, sizeof err),
              FT_EINVAL);
    p.display_rotation = 45;
    ASSERT_EQ(ft_video_writer_open(tmp_path("r.mp4"), W, H, FPS, &p, &w, err, sizeof err),
              FT_EINVAL);
    remove_dir();
}

/* Runs fn with stderr going to a file; returns that file's text (ft__free). */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    const char *path = tmp_path("stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    ASSERT(saved >= 0);
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT(dup2(fileno(f), 2) == 2);
    fn(arg);
    fflush(stderr);
    ASSERT(dup2(saved, 2) == 2);
    close(saved);
    fclose(f);
    size_t len;
    unsigned char *text = slurp(path, &len);
    char *s = ft__malloc(len + 1);
    ASSERT(s);
    memcpy(s, text, len);
    s[len] = '\0';
    ft__free(text);
    return s;
}

static void open_noise(void *arg)
{
    ft_video *v;
    char err[512];
    ASSERT_EQ(ft_video_open(arg, NULL, &v, err, sizeof err), FT_EFORMAT);
}

typedef struct damaged_read {
    const char *path;
    int n, end;
    ft_video_damage dmg;
    char err[512];
} damaged_read;

static void read_damaged(void *arg)
{
    damaged_read *d = arg;
    ft_video *v = open_ok(d->path);
    int idx[256];
    int64_t pts[256];
    d->n = read_all(v, 0, idx, pts, 256, &d->end);
    ASSERT_OK(ft_video_get_damage(v, &d->dmg));
    snprintf(d->err, sizeof d->err, "%s", ft_video_errmsg(v));
    ft_video_close(v);
}

/* A clip overwritten with a few KB of garbage in the middle reads to its end;
** FFmpeg says nothing on stderr, and the reader counts the damaged frames
** and says when they are. */
static void damage_case(const char *codec)
{
    ft_video_writer_params p = ft_video_writer_default_params();
    p.codec = codec;
    p.gop = 25;
    const int n_frames = 100;
    char name[64];
    snprintf(name, sizeof name, "clip_%s.mp4", codec);
    const char *path = write_clip(name, &p, n_frames);
    size_t len;
    unsigned char *data = slurp(path, &len);
    uint32_t seed = 777;
    for (size_t i = len / 2; i < len / 2 + 1024 && i < len; i++) {
        seed = seed * 1664525u + 1013904223u;
        data[i] = (unsigned char)(seed >> 24);
    }
    const char *bad = tmp_path("damaged.mp4");
    spit(bad, data, len);
    ft__free(data);

    damaged_read d = { bad, 0, 0, { 0, 0, 0, 0 }, "" };
    char *text = capture_stderr(read_damaged, &d);
    printf("# %s, %zu bytes: %d frames read, end %d, %lld damaged between %.3f and %.3f s, "
           "%lld FFmpeg errors\n",
           codec, len, d.n, d.end, (long long)d.dmg.n_frames, (double)d.dmg.first_us / 1e6,
           (double)d.dmg.last_us / 1e6, (long long)d.dmg.n_errors);
    if (*text) printf("# stderr: %.300s\n", text);
    ASSERT(strstr(text, " @ ") == NULL); /* "[h264 @ 0x...]" */
    ASSERT(strstr(text, "error while decoding") == NULL);
    ASSERT(strstr(text, "concealing") == NULL);
    ASSERT_EQ(strlen(text), 0);
    ft__free(text);
    ASSERT_EQ(d.end, 0);
    ASSERT(d.n > n_frames / 2);
    ASSERT(d.dmg.n_frames > 0);
    ASSERT(d.dmg.n_frames < n_frames);
    ASSERT(d.dmg.first_us >= 0);
    ASSERT(d.dmg.first_us <= d.dmg.last_us);
    ASSERT(d.dmg.last_us < (int64_t)n_frames * FRAME_US);
    /* the garbage sits in the middle of the file: so does the damage */
    ASSERT(d.dmg.first_us > FRAME_US * 5);

    /* the intact clip: no damage */
    damaged_read ok = { path, 0, 0, { 0, 0, 0, 0 }, "" };
    text = capture_stderr(read_damaged, &ok);
    ASSERT_EQ(strlen(text), 0);
    ft__free(text);
    ASSERT_EQ(ok.n, n_frames);
    ASSERT_EQ(ok.dmg.n_frames, 0);
    ASSERT_EQ(ok.dmg.first_us, -1);
    ASSERT_EQ(ok.dmg.n_errors, 0);
}

/* A clip overwritten with 1 KB of garbage in the middle reads to its end;
** FFmpeg says nothing on stderr, and the reader counts the damaged frames
** and says when they are. */
static void test_damage_report(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ft_video_XXXXXX");
    ASSERT(mkdtemp(g_dir) != NULL); /* FFmpeg's log level left as it is */
    damage_case("mpeg4");
    if (ft_video_encoder_available("libx264")) damage_case("libx264");

    /* not a video at all: FFmpeg's complaint stays off stderr too */
    const char *noise = tmp_path("noise.mp4");
    unsigned char junk[3000];
    uint32_t seed = 99;
    for (size_t i = 0; i < sizeof junk; i++) {
        seed = seed * 1664525u + 1013904223u;
        junk[i] = (unsigned char)(seed >> 24);
    }
    spit(noise, junk, sizeof junk);
    char *text = capture_stderr(open_noise, (void *)noise);
    ASSERT_EQ(strlen(text), 0);
    ft__free(text);
    remove_dir();
}

/* Offsets of every box of type `type` (4 letters) in data, up to cap. */
static int find_boxes(const unsigned char *data, size_t len, const char *type, size_t *at, int cap)
{
    int n = 0;
    for (size_t i = 4; i + 4 <= len && n < cap; i++)
        if (memcmp(data + i, type, 4) == 0) at[n++] = i - 4;
    return n;
}

/* Opens and reads a damaged copy; the failure, if any, must name the file and
** say it is damaged, never "out of memory". Returns the final status. */
static int read_fragmented(const char *what, const unsigned char *data, size_t len)
{
    const char *bad = tmp_path("frag_bad.mp4");
    spit(bad, data, len);
    ft_video *v;
    char err[512];
    int r = ft_video_open(bad, NULL, &v, err, sizeof err);
    if (r == FT_OK) {
        int idx[N + 8], end;
        int64_t pts[N + 8];
        int n = read_all(v, 0, idx, pts, N + 8, &end);
        snprintf(err, sizeof err, "%s", ft_video_errmsg(v));
        ft_video_close(v);
        printf("# %s: %d frames, end %d %s\n", what, n, end, err);
        r = end;
    } else {
        printf("# %s: open %d %s\n", what, r, err);
    }
    ASSERT_NE(r, FT_ENOMEM);
    ASSERT(strstr(err, "out of memory") == NULL);
    if (r < 0) {
        ASSERT_EQ(r, FT_EFORMAT);
        ASSERT_STR_CONTAINS(err, bad);
    }
    return r;
}

/* A fragmented MP4 (what live recorders write) whose fragment headers are
** damaged or cut: reported as a damaged file, not as out of memory. */
static void test_fragmented_damaged(void)
{
    make_dir();
    ft_video_writer_params p = ft_video_writer_default_params();
    p.fragmented = 1;
    p.gop = 5;
    const char *path = write_clip("frag.mp4", &p, N);
    check_full_clip(path);
    size_t len;
    unsigned char *orig = slurp(path, &len);
    unsigned char *data = ft__malloc(len);
    ASSERT(data);
    size_t moof[64], trun[64];
    int n_moof = find_boxes(orig, len, "moof", moof, 64);
    int n_trun = find_boxes(orig, len, "trun", trun, 64);
    printf("# %zu bytes, %d fragments\n", len, n_moof);
    ASSERT(n_moof >= 8);
    ASSERT_EQ(n_trun, n_moof);
    int failed = 0;
    /* a moof of the middle overwritten: huge size fields, sample counts */
    static const unsigned char ff[16] = { 0x7f, 0xff, 0xff, 0xf0, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    size_t mid = trun[n_trun / 2];
    memcpy(data, orig, len);
    memcpy(data + mid + 12, ff, 8); /* trun sample count and data offset */
    failed += read_fragmented("trun sample count", data, len) < 0;
    /* sample counts that pass the demuxer's overflow checks but ask for
    ** gigabytes of tables */
    static const uint32_t counts[] = { 0x0fffffff, 0x08000000, 0x01000000, 0x00100000 };
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        for (int pick = 0; pick < 2; pick++) {
            size_t at = trun[pick ? n_trun / 2 : 0] + 12;
            memcpy(data, orig, len);
            data[at] = (unsigned char)(counts[k] >> 24),
            data[at + 1] = (unsigned char)(counts[k] >> 16);
            data[at + 2] = (unsigned char)(counts[k] >> 8), data[at + 3] = (unsigned char)counts[k];
            char what[64];
            snprintf(what, sizeof what, "trun %s: %u samples", pick ? "middle" : "first",
                     (unsigned)counts[k]);
            failed += read_fragmented(what, data, len) < 0;
        }
    }
    memcpy(data, orig, len);
    memcpy(data + moof[n_moof / 2], ff, 4); /* moof size */
    /* the demuxer stops there: the fragments after it must not vanish silently */
    ASSERT_EQ(read_fragmented("moof size", data, len), FT_EFORMAT);
    memcpy(data, orig, len);
    for (size_t i = moof[n_moof / 2]; i < moof[n_moof / 2] + 96 && i < len; i++)
        data[i] = 0xff;
    ASSERT_EQ(read_fragmented("moof overwritten", data, len), FT_EFORMAT);
    /* cut inside a fragment's header and inside its data */
    failed += read_fragmented("cut in moof", orig, moof[n_moof / 2] + 40) < 0;
    failed += read_fragmented("cut in mdat", orig, moof[n_moof / 2] + 400) < 0;
    (void)failed;
    ft__free(data);
    ft__free(orig);
    remove_dir();
}

/* Frames of img turned 90 degrees counterclockwise (what a phone held
** upright stores: players turn it back clockwise). */
static ft_image *turn_ccw(const ft_image *img)
{
    ft_image *out;
    ASSERT_OK(ft_image_create(img->height, img->width, &out));
    for (int y = 0; y < out->height; y++)
        for (int x = 0; x < out->width; x++) /* out(x, y) = in(W-1-y, x) */
            memcpy(out->rgb + ((size_t)y * out->width + x) * 3,
                   img->rgb + ((size_t)x * img->width + (img->width - 1 - y)) * 3, 3);
    return out;
}

/* Sightings an ingest of path stores (a fresh database each time); their
** best-shot box centres into cx, cy (up to 8). */
static int64_t ingest_sightings(ft_engine *eng, const char *path, const char *db, float *cx,
                                float *cy)
{
    ft_store *st;
    ASSERT_OK(ft_store_open(db, FT_STORE_CREATE, &st));
    ft_camera cam;
    memset(&cam, 0, sizeof cam);
    snprintf(cam.id, sizeof cam.id, "phone");
    ASSERT_OK(ft_store_camera_add(st, &cam));
    ft_ingest_params ip = ft_ingest_default_params();
    ip.camera_id = "phone";
    ip.source = path;
    ip.start_us = (int64_t)1775988000 * 1000000;
    ft_ingest_report rep;
    char err[600];
    int rc = ft_ingest_run(eng, st, &ip, &rep, err, sizeof err);
    if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "ingest %s: %d %s", path, rc, err);
    ft_sighting *sg = ft__malloc(sizeof *sg);
    ASSERT(sg);
    for (int64_t id = 1; id <= rep.sightings && id <= 8; id++) {
        ASSERT_OK(ft_store_sighting_get(st, id, sg, NULL));
        cx[id - 1] = sg->box[0] + sg->box[2] / 2;
        cy[id - 1] = sg->box[1] + sg->box[3] / 2;
    }
    ft__free(sg);
    ft_store_close(st);
    printf("# %s: %lld frames, %lld faces, %lld sightings\n", path, (long long)rep.frames,
           (long long)rep.faces, (long long)rep.sightings);
    return rep.sightings;
}

/* The whole ingest sees a portrait phone clip upright: a group photo (3
** faces) stored turned, with a 90 degree display matrix, gives the sightings
** of the same photo stored upright, at the same places in the frame. */
static void test_rotation_ingest(void)
{
    const char *models = ft_test_model_dir();
    if (!models) FT_SKIP("models not fetched");
    const char *photo = "models/face-api/demo/sample1.jpg";
    ft_image *big;
    char err[512];
    if (ft_image_load(photo, 0, &big, err, sizeof err) != FT_OK) FT_SKIP("sample photos absent");
    make_dir();
    /* a third of the size, even sides: 640x426 */
    ft_image *up;
    int w = big->width / 3 & ~1, h = big->height / 3 & ~1;
    ASSERT_OK(ft_image_create(w, h, &up));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int sum = 0;
                for (int dy = 0; dy < 3; dy++)
                    for (int dx = 0; dx < 3; dx++)
                        sum += big->rgb[((size_t)(3 * y + dy) * big->width + 3 * x + dx) * 3 + c];
                up->rgb[((size_t)y * w + x) * 3 + c] = (uint8_t)(sum / 9);
            }
    ft_image_destroy(big);
    ft_image *turned = turn_ccw(up);
    const int n = 8;
    struct {
        const char *name;
        const ft_image *img;
        int rotation;
    } clips[3] = { { "upright.mp4", up, 0 },
                   { "portrait.mp4", turned, 90 },
                   { "sideways.mp4", turned, 0 } };
    for (int k = 0; k < 3; k++) {
        ft_video_writer_params p = ft_video_writer_default_params();
        p.display_rotation = clips[k].rotation;
        p.quality = 2;
        ft_video_writer *wr;
        ASSERT_OK(ft_video_writer_open(tmp_path(clips[k].name), clips[k].img->width,
                                       clips[k].img->height, 5, &p, &wr, err, sizeof err));
        for (int i = 0; i < n; i++)
            ASSERT_OK(ft_video_writer_write(wr, clips[k].img));
        ASSERT_OK(ft_video_writer_close(wr, err, sizeof err));
    }
    ft_image_destroy(turned);
    ft_image_destroy(up);

    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = models;
    ft_engine *eng;
    if (ft_engine_open(&ep, &eng, err, sizeof err) != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "engine: %s", err);
    float ux[8], uy[8], px[8], py[8], sx[8], sy[8];
    int64_t upright = ingest_sightings(eng, tmp_path("upright.mp4"), tmp_path("a.ftdb"), ux, uy);
    int64_t portrait = ingest_sightings(eng, tmp_path("portrait.mp4"), tmp_path("b.ftdb"), px, py);
    int64_t sideways = ingest_sightings(eng, tmp_path("sideways.mp4"), tmp_path("c.ftdb"), sx, sy);
    printf("# sightings: upright %lld, portrait clip %lld, the same read sideways %lld\n",
           (long long)upright, (long long)portrait, (long long)sideways);
    ft_engine_close(eng);
    ASSERT(upright >= 2);
    ASSERT_EQ(portrait, upright);
    /* every face of the upright clip is at the same place in the portrait one */
    for (int i = 0; i < upright && i < 8; i++) {
        int found = 0;
        for (int j = 0; j < portrait && j < 8; j++)
            found |= fabsf(ux[i] - px[j]) < 8 && fabsf(uy[i] - py[j]) < 8;
        if (!found)
            ft_test_fail(__FILE__, __LINE__, "face at (%.0f, %.0f) not found in the portrait clip",
                         ux[i], uy[i]);
    }
    /* the check tells: read as coded (what the reader did before it applied
    ** display matrices), the faces are elsewhere */
    int same = 0;
    for (int i = 0; i < upright && i < 8; i++)
        for (int j = 0; j < sideways && j < 8; j++)
            same += fabsf(ux[i] - sx[j]) < 8 && fabsf(uy[i] - sy[j]) < 8;
    ASSERT(same < upright);
    remove_dir();
}

FT_TESTS(FT_TEST(test_roundtrip_mp4), FT_TEST(test_roundtrip_containers),
         FT_TEST(test_roundtrip_x264), FT_TEST(test_sampling), FT_TEST(test_seek),
         FT_TEST(test_resume), FT_TEST(test_truncated), FT_TEST(test_damaged),
         FT_TEST(test_not_videos), FT_TEST(test_max_pixels), FT_TEST(test_threads),
         FT_TEST(test_writer_errors), FT_TEST(test_alloc_failures), FT_TEST(test_rotation),
         FT_TEST(test_damage_report), FT_TEST(test_fragmented_damaged),
         FT_TEST(test_rotation_ingest));
