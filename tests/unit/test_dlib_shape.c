/*
** tests/unit/test_dlib_shape.c: dlib's 5-point shape predictor
** (align/shape5.c) and face chip (align/chip5.c) against dlib itself, and
** the predictor's loader on damaged and foreign files.
**
** DESIGN
**   The oracle is tests/ref/dlib_shape_ref (dlib 19.24 from Debian's
**   libdlib-dev), found beside this binary ($B/tests/ref/). Each case
**   decodes or builds an RGB image here, writes it as a binary PPM, and
**   gives both sides the same pixels and the same face rectangles (fixed
**   below, hand-placed around real faces of the committed sample photos:
**   tests/data/parity/ at 40-60 px, models/face-api/demo/ at 150-200 px, a
**   face blown up 2x and 3x with nearest-neighbour (chips from deep
**   pyramid levels), a face turned 25 and -40 degrees, rectangles partly
**   and wholly outside the image, a 11 px one). Checked: the 5 parts equal
**   dlib's (integers, as dlib gives them), every tree takes the same leaf,
**   the chip details (angle, rectangle) agree to 1e-9, and the 150x150
**   chips' bytes equal dlib's: at most 1 level apart, in at most 1 byte of
**   10000 (so far none has differed); the worst difference and the number
**   of differing bytes are printed, with both sides' time per face.
**   Without libdlib-dev the reference is not built and the parity tests
**   skip, saying so; with it, a missing reference is a failure.
**
** INVARIANTS  (1) expected values all come from dlib (the reference
**                 program), none from the code under test.
*/
#include "align/align.h"
#include "facetrail.h"
#include "nn/dlib.h"

#include "../harness/test.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SP_MODEL  "models/dlib/shape_predictor_5_face_landmarks.dat"
#define NET_MODEL "models/dlib/dlib_face_recognition_resnet_model_v1.dat"
#define CHIP      150
#define PAD       0.25

extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
        ft_test_fail(__FILE__, __LINE__, "memory leaked (see the LeakSanitizer report)");
}

static char err[1024];

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static char tmp_dir[64];

static void cleanup(void)
{
    if (!tmp_dir[0]) return;
    static const char *const names[] = { "img.ppm", "rects.txt", "out.txt", "chips.rgb",
                                         "bad.dat" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", tmp_dir, names[i]);
        unlink(p);
    }
    rmdir(tmp_dir);
    tmp_dir[0] = 0;
}

static const char *tmp_path(const char *name)
{
    static char p[4][128];
    static int k;
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ft_dlib_shape_XXXXXX");
        ASSERT(mkdtemp(tmp_dir) != NULL);
        atexit(cleanup);
    }
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp_dir, name);
    return p[k];
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) ft_test_fail(__FILE__, __LINE__, "%s: cannot open", path);
    ASSERT_OK(fseek(f, 0, SEEK_END));
    long n = ftell(f);
    ASSERT(n >= 0);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    ASSERT(b != NULL);
    ASSERT_EQ(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* The reference program beside this binary: $B/tests/ref/dlib_shape_ref. */
static const char *ref_program(void)
{
    static char path[PATH_MAX + 32];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ASSERT(n > 0);
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    ASSERT(slash != NULL);
    *slash = 0;
    snprintf(path, sizeof path, "%s/ref/dlib_shape_ref", exe);
    if (access(path, X_OK) == 0) return path;
    if (system("pkg-config --exists dlib-1") != 0)
        FT_SKIP("libdlib-dev is not installed, so tests/ref/dlib_shape_ref (dlib's own shape "
                "predictor) was not built; nothing to compare with");
    ft_test_fail(__FILE__, __LINE__,
                 "%s is missing although libdlib-dev is installed: build it with 'make tests'",
                 path);
}

static ft_image *load(const char *path)
{
    ft_image *img = NULL;
    if (ft_image_load(path, 0, &img, err, sizeof err) != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "%s: %s", path, err);
    return img;
}

/* The crop (x, y, w, h) of img, each pixel repeated k x k times. */
static ft_image *crop_scale(const ft_image *img, int x, int y, int w, int h, int k)
{
    ft_image *out = NULL;
    ASSERT_OK(ft_image_create(w * k, h * k, &out));
    for (int r = 0; r < h * k; r++)
        for (int c = 0; c < w * k; c++)
            memcpy(out->rgb + ((size_t)r * out->width + c) * 3,
                   img->rgb + ((size_t)(y + r / k) * img->width + (x + c / k)) * 3, 3);
    return out;
}

/* The w x h crop of img centred on (cx, cy), turned by deg degrees about
** its centre (nearest neighbour; outside the image: black). */
static ft_image *rotate(const ft_image *img, int cx, int cy, int w, int h, double deg)
{
    ft_image *out = NULL;
    ASSERT_OK(ft_image_create(w, h, &out));
    const double a = deg * 3.14159265358979323846 / 180, ca = cos(a), sa = sin(a);
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++) {
            const double dx = c - w / 2, dy = r - h / 2;
            const long sx = lround(cx + ca * dx - sa * dy), sy = lround(cy + sa * dx + ca * dy);
            if (sx < 0 || sy < 0 || sx >= img->width || sy >= img->height) continue;
            memcpy(out->rgb + ((size_t)r * w + c) * 3,
                   img->rgb + ((size_t)sy * img->width + sx) * 3, 3);
        }
    return out;
}

static void write_ppm(const ft_image *img, const char *path)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    fprintf(f, "P6\n%d %d\n255\n", img->width, img->height);
    const size_t n = (size_t)img->width * img->height * 3;
    ASSERT_EQ(fwrite(img->rgb, 1, n, f), n);
    ASSERT_OK(fclose(f));
}

/* ------------------------------------------------------------------------ */
/* What dlib says                                                           */
/* ------------------------------------------------------------------------ */

#define MAX_RECTS 8
#define MAX_TREES 16384

typedef struct ref_face {
    long pt[5][2];
    size_t n_leaves;
    uint32_t leaves[MAX_TREES];
    double angle, rect[4];
    long rows, cols;
    double ms_sp, ms_chip;
} ref_face;

/* Runs the reference on img and rects; fills faces[] and chips (n * CHIP *
** CHIP * 3 bytes). */
static void run_ref(const ft_image *img, const ft__rect *rects, int n, ref_face *faces,
                    unsigned char *chips)
{
    const char *ppm = tmp_path("img.ppm"), *rfile = tmp_path("rects.txt");
    write_ppm(img, ppm);
    FILE *f = fopen(rfile, "w");
    ASSERT(f != NULL);
    for (int i = 0; i < n; i++)
        fprintf(f, "%ld %ld %ld %ld\n", rects[i].left, rects[i].top, rects[i].right,
                rects[i].bottom);
    ASSERT_OK(fclose(f));
    const char *out = tmp_path("out.txt"), *cfile = tmp_path("chips.rgb");
    char cmd[4 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s' %d %.17g < '%s' > '%s'", ref_program(), SP_MODEL,
             ppm, cfile, CHIP, PAD, rfile, out);
    if (system(cmd) != 0) ft_test_fail(__FILE__, __LINE__, "the reference failed: %s", cmd);
    f = fopen(out, "r");
    ASSERT(f != NULL);
    for (int i = 0; i < n; i++) {
        ref_face *rf = &faces[i];
        char word[16];
        ASSERT_EQ(fscanf(f, "%15s", word), 1);
        ASSERT(strcmp(word, "parts") == 0);
        for (int k = 0; k < 5; k++)
            ASSERT_EQ(fscanf(f, "%ld %ld", &rf->pt[k][0], &rf->pt[k][1]), 2);
        ASSERT_EQ(fscanf(f, "%15s %zu", word, &rf->n_leaves), 2);
        ASSERT(strcmp(word, "leaves") == 0 && rf->n_leaves <= MAX_TREES);
        for (size_t k = 0; k < rf->n_leaves; k++) {
            unsigned long v;
            ASSERT_EQ(fscanf(f, "%lu", &v), 1);
            rf->leaves[k] = (uint32_t)v;
        }
        ASSERT_EQ(fscanf(f, "%15s %la %la %la %la %la %ld %ld", word, &rf->angle, &rf->rect[0],
                         &rf->rect[1], &rf->rect[2], &rf->rect[3], &rf->rows, &rf->cols),
                  8);
        ASSERT(strcmp(word, "chip") == 0);
        ASSERT_EQ(rf->rows, CHIP);
        ASSERT_EQ(rf->cols, CHIP);
        ASSERT_EQ(fscanf(f, "%15s %lf %lf", word, &rf->ms_sp, &rf->ms_chip), 3);
        ASSERT(strcmp(word, "ms") == 0);
    }
    fclose(f);
    size_t len;
    unsigned char *b = slurp(cfile, &len);
    ASSERT_EQ(len, (size_t)n * CHIP * CHIP * 3);
    memcpy(chips, b, len);
    free(b);
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                    */
/* ------------------------------------------------------------------------ */

enum { PLAIN, SCALED, ROTATED };

typedef struct parity_case {
    const char *image;
    int kind;
    int arg[5]; /* SCALED: x, y, w, h, k; ROTATED: cx, cy, w, h, degrees */
    int n;
    ft__rect rects[MAX_RECTS];
    const char *what;
} parity_case;

static const parity_case cases[] = {
    { "tests/data/parity/sample1_q.png",
      PLAIN,
      { 0 },
      6,
      { { 103, 102, 147, 146 },
        { 209, 115, 256, 162 },
        { 369, 60, 418, 109 },
        { -30, -20, 60, 70 },     /* partly outside */
        { 500, 400, 600, 500 },   /* wholly outside */
        { 100, 100, 110, 110 } }, /* 11 px */
      "40-50 px faces, odd rectangles" },
    { "tests/data/parity/sample4_q.png",
      PLAIN,
      { 0 },
      4,
      { { 164, 27, 210, 73 }, { 64, 63, 103, 102 }, { 247, 58, 289, 100 }, { 319, 53, 355, 89 } },
      "40-50 px faces" },
    { "tests/data/parity/sample5_crop512.png",
      PLAIN,
      { 0 },
      4,
      { { 204, 14, 253, 63 }, { 61, 276, 122, 337 }, { 140, 122, 194, 176 }, { 312, 45, 364, 97 } },
      "50-60 px faces" },
    { "tests/data/parity/sample6_q.png",
      PLAIN,
      { 0 },
      4,
      { { 295, 94, 341, 140 },
        { 170, 106, 209, 145 },
        { 371, 83, 423, 135 },
        { 62, 134, 114, 186 } },
      "40-50 px faces" },
    { "models/face-api/demo/sample1.jpg",
      PLAIN,
      { 0 },
      3,
      { { 414, 410, 590, 586 }, { 838, 464, 1023, 649 }, { 1476, 242, 1678, 444 } },
      "180-200 px faces in a 1920x1280 photo" },
    { "models/face-api/demo/sample5.jpg",
      SCALED,
      { 700, 80, 340, 340, 2 },
      1,
      { { 174, 156, 485, 467 } },
      "a 312 px face (2x)" },
    { "models/face-api/demo/sample5.jpg",
      SCALED,
      { 760, 130, 210, 210, 3 },
      1,
      { { 81, 84, 548, 551 } },
      "a 468 px face (3x)" },
    { "models/face-api/demo/sample3.jpg",
      ROTATED,
      { 684, 491, 400, 400, 25 },
      1,
      { { 101, 101, 299, 299 } },
      "a face turned 25 degrees" },
    { "models/face-api/demo/sample3.jpg",
      ROTATED,
      { 684, 491, 400, 400, -40 },
      1,
      { { 101, 101, 299, 299 } },
      "a face turned -40 degrees" },
};

static ft_image *case_image(const parity_case *pc)
{
    ft_image *src = load(pc->image);
    if (pc->kind == PLAIN) return src;
    const int *a = pc->arg;
    ft_image *img = pc->kind == SCALED ? crop_scale(src, a[0], a[1], a[2], a[3], a[4])
                                       : rotate(src, a[0], a[1], a[2], a[3], a[4]);
    ft_image_destroy(src);
    return img;
}

static ft__shape5 *open_model(void)
{
    if (access(SP_MODEL, R_OK) != 0) FT_SKIP("dlib models not fetched (make models)");
    ft__shape5 *sp = NULL;
    if (ft__shape5_open(SP_MODEL, &sp, err, sizeof err) != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "%s", err);
    return sp;
}

/* ------------------------------------------------------------------------ */
/* Parity                                                                   */
/* ------------------------------------------------------------------------ */

static void test_shape5_parity(void)
{
    ft__shape5 *sp = open_model();
    static ref_face ref[MAX_RECTS];
    static unsigned char chips[MAX_RECTS * CHIP * CHIP * 3];
    const size_t nt = ft__shape5_n_trees(sp);
    uint32_t *leaves = malloc(nt * sizeof *leaves);
    ASSERT(leaves != NULL);
    int faces = 0;
    long worst = 0;
    double worst_round = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const parity_case *pc = &cases[c];
        ft_image *img = case_image(pc);
        run_ref(img, pc->rects, pc->n, ref, chips);
        for (int i = 0; i < pc->n; i++) {
            ft__shape5_out o;
            ASSERT_OK(ft__shape5_run_leaves(sp, img, pc->rects[i], &o, leaves, nt));
            ASSERT_EQ(ref[i].n_leaves, nt);
            for (size_t t = 0; t < nt; t++)
                if (leaves[t] != ref[i].leaves[t])
                    ft_test_fail(__FILE__, __LINE__,
                                 "%s (%s) face %d: tree %zu takes leaf %u, dlib %u", pc->image,
                                 pc->what, i, t, leaves[t], ref[i].leaves[t]);
            for (int k = 0; k < 5; k++)
                for (int j = 0; j < 2; j++) {
                    const long d = labs(o.pt[k][j] - ref[i].pt[k][j]);
                    if (d > worst) worst = d;
                    const double r = fabs(o.xy[k][j] - (double)ref[i].pt[k][j]);
                    if (r > worst_round) worst_round = r;
                }
            for (int k = 0; k < 5; k++)
                if (o.pt[k][0] != ref[i].pt[k][0] || o.pt[k][1] != ref[i].pt[k][1])
                    ft_test_fail(__FILE__, __LINE__,
                                 "%s (%s) face %d part %d: (%ld, %ld), dlib (%ld, %ld)", pc->image,
                                 pc->what, i, k, o.pt[k][0], o.pt[k][1], ref[i].pt[k][0],
                                 ref[i].pt[k][1]);
            faces++;
        }
        ft_image_destroy(img);
    }
    printf("# %d faces, %zu trees each: every leaf as dlib's; worst part difference %ld px "
           "(unrounded parts within %.3f px of dlib's)\n",
           faces, nt, worst, worst_round);
    ASSERT(worst_round <= 0.5);
    free(leaves);
    ft__shape5_free(sp);
    no_leaks();
}

static void test_chip5_parity(void)
{
    ft__shape5 *sp = open_model();
    static ref_face ref[MAX_RECTS];
    static unsigned char chips[MAX_RECTS * CHIP * CHIP * 3];
    static uint8_t mine[CHIP * CHIP * 3];
    int faces = 0, worst = 0;
    long n_diff = 0;
    double worst_geom = 0, t_sp = 0, t_chip = 0, t_ref_sp = 0, t_ref_chip = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const parity_case *pc = &cases[c];
        ft_image *img = case_image(pc);
        run_ref(img, pc->rects, pc->n, ref, chips);
        for (int i = 0; i < pc->n; i++) {
            ft__shape5_out o;
            double t0 = ft__now();
            ASSERT_OK(ft__shape5_run(sp, img, pc->rects[i], &o));
            double t1 = ft__now();
            ft__chip_details cd;
            ft__dlib_face_chip_details(o.pt, CHIP, PAD, &cd);
            ASSERT_OK(ft__dlib_extract_chip(img, &cd, mine));
            double t2 = ft__now();
            t_sp += t1 - t0, t_chip += t2 - t1;
            t_ref_sp += ref[i].ms_sp / 1000, t_ref_chip += ref[i].ms_chip / 1000;
            ASSERT_EQ(cd.rows, CHIP);
            ASSERT_EQ(cd.cols, CHIP);
            double g = fabs(cd.angle - ref[i].angle);
            for (int k = 0; k < 4; k++) {
                const double e = fabs(cd.rect[k] - ref[i].rect[k]) / (1 + fabs(ref[i].rect[k]));
                if (e > g) g = e;
            }
            if (g > worst_geom) worst_geom = g;
            if (g > 1e-9)
                ft_test_fail(__FILE__, __LINE__,
                             "%s (%s) face %d: chip angle %.17g rect %.17g %.17g %.17g %.17g; "
                             "dlib %.17g, %.17g %.17g %.17g %.17g",
                             pc->image, pc->what, i, cd.angle, cd.rect[0], cd.rect[1], cd.rect[2],
                             cd.rect[3], ref[i].angle, ref[i].rect[0], ref[i].rect[1],
                             ref[i].rect[2], ref[i].rect[3]);
            const unsigned char *theirs = chips + (size_t)i * CHIP * CHIP * 3;
            int face_worst = 0;
            long face_diff = 0;
            for (size_t k = 0; k < (size_t)CHIP * CHIP * 3; k++) {
                const int d = abs((int)mine[k] - (int)theirs[k]);
                if (d) face_diff++;
                if (d > face_worst) face_worst = d;
            }
            if (face_diff)
                printf("# %s (%s) face %d: %ld of %d chip bytes differ, by at most %d\n", pc->image,
                       pc->what, i, face_diff, CHIP * CHIP * 3, face_worst);
            if (face_worst > worst) worst = face_worst;
            n_diff += face_diff;
            faces++;
        }
        ft_image_destroy(img);
    }
    printf("# %d chips of %dx%d: %ld bytes differ from dlib's, by at most %d; chip geometry "
           "within %.2g\n",
           faces, CHIP, CHIP, n_diff, worst, worst_geom);
    printf("# per face: shape predictor %.3f ms (dlib %.3f), chip %.3f ms (dlib %.3f)\n",
           1e3 * t_sp / faces, 1e3 * t_ref_sp / faces, 1e3 * t_chip / faces,
           1e3 * t_ref_chip / faces);
    /* A level now and then may differ (see chip5.c: dlib's SVD is LAPACK's);
    ** a systematic error (rounding for truncation, a half-pixel shift) would
    ** change a large share of the bytes. */
    ASSERT(worst <= 1);
    ASSERT(n_diff <= (long)faces * CHIP * CHIP * 3 / 10000);
    ft__shape5_free(sp);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* A hand-made predictor                                                    */
/* ------------------------------------------------------------------------ */

/* A byte buffer written in dlib's format (dlib/serialize.h), by hand. */
typedef struct out {
    unsigned char b[4096];
    size_t n;
} out;

static void put_byte(out *o, unsigned v)
{
    ASSERT(o->n < sizeof o->b);
    o->b[o->n++] = (unsigned char)v;
}

/* dlib's integer: a control byte (bit 7: negative; low nibble: count),
** then the magnitude little-endian, as few bytes as it takes (at least 1). */
static void put_int(out *o, long long v)
{
    unsigned long long m = v < 0 ? (unsigned long long)-v : (unsigned long long)v;
    unsigned char tmp[8];
    int k = 0;
    do {
        tmp[k++] = (unsigned char)(m & 0xff);
        m >>= 8;
    } while (m);
    put_byte(o, (unsigned)k | (v < 0 ? 0x80u : 0));
    for (int i = 0; i < k; i++)
        put_byte(o, tmp[i]);
}

/* dlib's float_details of a float: frexp, 24-bit mantissa, exponent - 24,
** zero low bytes of the mantissa shifted off. */
static void put_float(out *o, float f)
{
    int e = 0;
    long long man = (long long)(frexp(f, &e) * (double)(1 << 24));
    int ex = e - 24;
    for (int i = 0; i < 8 && man != 0 && (man & 0xff) == 0; i++)
        man >>= 8, ex += 8;
    if (man == 0) ex = 0;
    put_int(o, man);
    put_int(o, ex);
}

static void put_leaf(out *o, float dx, float dy)
{
    put_int(o, -10);
    put_int(o, -1);
    for (int i = 0; i < 5; i++)
        put_float(o, dx), put_float(o, dy);
}

/* Knobs that break the tiny predictor in one place each. */
typedef struct tiny_opts {
    int version, parts, leaves, idx2, anchor1, n_deltas, trailing;
} tiny_opts;

/* One cascade, one tree: go left if gray(part 0) - gray(part 1) > 69.5
** (both feature pixels sit on a part, delta 0), then every part moves by
** (+0.13, +0.02) (left) or (-0.13, -0.02) (right), in the unit square. The
** mean shape is the four corners of [0.25, 0.75]^2 and the centre. */
static void tiny_predictor(out *o, tiny_opts t)
{
    static const float mean[5][2] = {
        { 0.25f, 0.25f }, { 0.75f, 0.25f }, { 0.25f, 0.75f }, { 0.75f, 0.75f }, { 0.5f, 0.5f }
    };
    o->n = 0;
    put_int(o, t.version);
    put_int(o, -2 * t.parts);
    put_int(o, -1);
    for (int i = 0; i < t.parts; i++)
        put_float(o, mean[i % 5][0]), put_float(o, mean[i % 5][1]);
    put_int(o, 1); /* cascades */
    put_int(o, 1); /* trees */
    put_int(o, 1); /* splits */
    put_int(o, 0);
    put_int(o, t.idx2);
    put_float(o, 69.5f);
    put_int(o, t.leaves);
    for (int i = 0; i < t.leaves; i++)
        put_leaf(o, i == 0 ? 0.13f : -0.13f, i == 0 ? 0.02f : -0.02f);
    put_int(o, 1); /* anchor lists */
    put_int(o, 2);
    put_int(o, 0);
    put_int(o, t.anchor1);
    put_int(o, 1); /* delta lists */
    put_int(o, t.n_deltas);
    for (int i = 0; i < t.n_deltas; i++)
        put_float(o, 0), put_float(o, 0);
    for (int i = 0; i < t.trailing; i++)
        put_byte(o, 0);
}

static const tiny_opts tiny_ok = { 1, 5, 2, 1, 1, 2, 0 };

/* The tiny predictor on a 101 x 101 image with two set pixels: dlib's
** intensity of (10, 20, 32) is 62 / 3 = 20 (truncated; rounding would give
** 21 and 90 - 21 = 69 would not pass 69.5), so the tree goes left. */
static void test_shape5_tiny(void)
{
    out o;
    tiny_predictor(&o, tiny_ok);
    ft__shape5 *sp = NULL;
    ASSERT_OK(ft__shape5_load(o.b, o.n, "tiny.dat", &sp, err, sizeof err));
    ASSERT_EQ(ft__shape5_n_trees(sp), 1);
    ft_image *img = NULL;
    ASSERT_OK(ft_image_create(101, 101, &img));
    const uint8_t a[3] = { 90, 90, 90 }, b[3] = { 10, 20, 32 };
    memcpy(img->rgb + (25 * 101 + 25) * 3, a, 3); /* part 0 in rect (0,0,100,100) */
    memcpy(img->rgb + (25 * 101 + 75) * 3, b, 3); /* part 1 */
    ft__shape5_out r;
    uint32_t leaf = 9;
    ASSERT_OK(ft__shape5_run_leaves(sp, img, (ft__rect){ 0, 0, 100, 100 }, &r, &leaf, 1));
    ASSERT_EQ(leaf, 0);
    /* unit (x, y) -> (100 x, 100 y): part 0 (0.38, 0.27), part 4 (0.63, 0.52) */
    ASSERT_EQ(r.pt[0][0], 38);
    ASSERT_EQ(r.pt[0][1], 27);
    ASSERT_EQ(r.pt[1][0], 88);
    ASSERT_EQ(r.pt[3][1], 77);
    ASSERT_EQ(r.pt[4][0], 63);
    ASSERT_EQ(r.pt[4][1], 52);
    ASSERT_NEAR(r.xy[0][0], 38, 1e-4);
    ASSERT_NEAR(r.xy[4][1], 52, 1e-4);
    /* Rect (-50, 0, 50, 100): part 0 lands at x = -25, outside: intensity 0,
    ** part 1 at x = 25 reads 90; 0 - 90 fails, right leaf. */
    ASSERT_OK(ft__shape5_run_leaves(sp, img, (ft__rect){ -50, 0, 50, 100 }, &r, &leaf, 1));
    ASSERT_EQ(leaf, 1);
    ASSERT_EQ(r.pt[0][0], -50 + 12);
    ASSERT_EQ(r.pt[0][1], 23);
    ASSERT_EQ(ft__shape5_run_leaves(sp, img, (ft__rect){ 0, 0, 100, 100 }, &r, &leaf, 0),
              FT_EINVAL);
    ft_image_destroy(img);
    ft__shape5_free(sp);
    no_leaks();
}

/* Every prefix of the tiny predictor, and each broken variant, is FT_EMODEL
** with a message naming the file and what is wrong; nothing leaks. */
static void test_shape5_malformed(void)
{
    out o;
    tiny_predictor(&o, tiny_ok);
    ft__shape5 *sp = (ft__shape5 *)1;
    for (size_t len = 0; len < o.n; len++) {
        unsigned char *p = malloc(len ? len : 1);
        ASSERT(p != NULL);
        memcpy(p, o.b, len);
        err[0] = 0;
        const int rc = ft__shape5_load(p, len, "cut.dat", &sp, err, sizeof err);
        if (rc != FT_EMODEL) ft_test_fail(__FILE__, __LINE__, "prefix %zu: rc %d", len, rc);
        ASSERT(sp == NULL);
        ASSERT_STR_CONTAINS(err, "cut.dat: ");
        free(p);
    }
    static const struct {
        tiny_opts t;
        const char *msg;
    } bad[] = {
        { { 2, 5, 2, 1, 1, 2, 0 }, "shape predictor version 2, expected 1" },
        { { 1, 68, 2, 1, 1, 2, 0 }, "a predictor of 68 parts, not dlib's 5-point" },
        { { 1, 5, 3, 1, 1, 2, 0 }, "1 splits and 3 leaves: not a complete binary tree" },
        { { 1, 5, 2, 7, 1, 2, 0 }, "cascade 0 tree 0 reads feature 7 of 2" },
        { { 1, 5, 2, 1, 5, 2, 0 }, "anchor 5 of 5 parts" },
        { { 1, 5, 2, 1, 1, 3, 0 }, "cascade 0 has 2 anchors but 3 deltas" },
        { { 1, 5, 2, 1, 1, 2, 3 }, "3 trailing bytes" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tiny_predictor(&o, bad[i].t);
        err[0] = 0;
        ASSERT_EQ(ft__shape5_load(o.b, o.n, "bad.dat", &sp, err, sizeof err), FT_EMODEL);
        ASSERT(sp == NULL);
        ASSERT_STR_CONTAINS(err, "bad.dat: ");
        ASSERT_STR_CONTAINS(err, bad[i].msg);
    }
    /* allocation failures: FT_ENOMEM, nothing leaked */
    tiny_predictor(&o, tiny_ok);
    for (long k = 0; k < 8; k++) {
        ft__alloc_fail_after(k);
        const int rc = ft__shape5_load(o.b, o.n, "tiny.dat", &sp, err, sizeof err);
        ft__alloc_fail_after(-1);
        if (rc == FT_OK) {
            ft__shape5_free(sp);
            break;
        }
        ASSERT_EQ(rc, FT_ENOMEM);
        ASSERT(sp == NULL);
    }
    no_leaks();
}

/* The real file cut short at many places, with bytes overwritten, and
** foreign files: FT_EMODEL with a message, never a crash; a damaged copy
** under the pinned name is refused by its pin. */
static void test_shape5_damaged_file(void)
{
    if (access(SP_MODEL, R_OK) != 0) FT_SKIP("dlib models not fetched (make models)");
    size_t len;
    unsigned char *b = slurp(SP_MODEL, &len);
    ft__shape5 *sp = (ft__shape5 *)1;
    /* cuts: every byte of the first 512, 60 spread over the file, the last 16 */
    size_t cuts[600];
    int nc = 0;
    for (size_t i = 0; i < 512; i++)
        cuts[nc++] = i;
    for (int i = 1; i <= 60; i++)
        cuts[nc++] = len / 61 * (size_t)i + (size_t)i * 7;
    for (size_t i = 1; i <= 16; i++)
        cuts[nc++] = len - i;
    for (int i = 0; i < nc; i++) {
        unsigned char *p = malloc(cuts[i] ? cuts[i] : 1);
        ASSERT(p != NULL);
        memcpy(p, b, cuts[i]);
        err[0] = 0;
        const int rc = ft__shape5_load(p, cuts[i], "cut.dat", &sp, err, sizeof err);
        if (rc != FT_EMODEL) ft_test_fail(__FILE__, __LINE__, "cut at %zu: rc %d", cuts[i], rc);
        ASSERT_STR_CONTAINS(err, "cut.dat: ");
        free(p);
    }
    /* garbage: 40 copies with 1-4 bytes overwritten (fixed seed); those that
    ** still load must run on an image without reading outside it */
    ft_image *img = load("tests/data/parity/sample1_q.png");
    uint32_t seed = 7;
    int n_ok = 0, n_bad = 0;
    unsigned char *p = malloc(len);
    ASSERT(p != NULL);
    for (int t = 0; t < 40; t++) {
        memcpy(p, b, len);
        seed = seed * 1664525u + 1013904223u;
        const int k = 1 + (int)(seed >> 30);
        for (int j = 0; j < k; j++) {
            seed = seed * 1664525u + 1013904223u;
            const size_t at = (size_t)seed % len;
            seed = seed * 1664525u + 1013904223u;
            p[at] = (unsigned char)(seed >> 24);
        }
        const int rc = ft__shape5_load(p, len, "junk.dat", &sp, err, sizeof err);
        ASSERT(rc == FT_OK || rc == FT_EMODEL);
        if (rc == FT_OK) {
            ft__shape5_out r;
            ASSERT_OK(ft__shape5_run(sp, img, (ft__rect){ 103, 102, 147, 146 }, &r));
            ft__shape5_free(sp);
            n_ok++;
        } else {
            ASSERT_STR_CONTAINS(err, "junk.dat: ");
            n_bad++;
        }
    }
    free(p);
    ft_image_destroy(img);
    printf("# 40 damaged copies: %d still load (and run), %d refused\n", n_ok, n_bad);

    /* dlib's ResNet is no shape predictor */
    if (access(NET_MODEL, R_OK) == 0) {
        ASSERT_EQ(ft__shape5_open(NET_MODEL, &sp, err, sizeof err), FT_EMODEL);
        ASSERT(sp == NULL);
        ASSERT_STR_CONTAINS(err, NET_MODEL ": byte ");
    }
    /* missing file */
    ASSERT_EQ(
        ft__shape5_open("/nonexistent/shape_predictor_5_face_landmarks.dat", &sp, err, sizeof err),
        FT_EIO);
    /* a damaged copy under the pinned name */
    char dir[] = "/tmp/ft_sp5_XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/shape_predictor_5_face_landmarks.dat", dir);
    b[len / 2] ^= 0x40;
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(b, 1, len, f), len);
    ASSERT_OK(fclose(f));
    const int rc = ft__shape5_open(path, &sp, err, sizeof err);
    unlink(path);
    rmdir(dir);
    ASSERT_EQ(rc, FT_EMODEL);
    ASSERT_STR_CONTAINS(err, "is damaged or a different version");
    free(b);
    no_leaks();
}

/* Chip extraction's other paths: dlib's plain copy (no turn, no scaling),
** bad sizes, absurd rectangles, and allocation failures in the pyramid. */
static void test_chip5_edges(void)
{
    ft_image *img = load("models/face-api/demo/sample1.jpg");
    static uint8_t a[CHIP * CHIP * 3], b[CHIP * CHIP * 3];
    /* angle 0 and a 150 x 150 rectangle: a copy of the pixels, black outside */
    ft__chip_details cd = { 0, { -5, 20, 144, 169 }, CHIP, CHIP };
    ASSERT_OK(ft__dlib_extract_chip(img, &cd, a));
    for (int r = 0; r < CHIP; r++)
        for (int c = 0; c < CHIP; c++) {
            const uint8_t *o = a + (r * CHIP + c) * 3;
            const int x = c - 5, y = 20 + r;
            if (x < 0)
                ASSERT(o[0] == 0 && o[1] == 0 && o[2] == 0);
            else
                ASSERT(memcmp(o, img->rgb + ((size_t)y * img->width + x) * 3, 3) == 0);
        }
    cd.rows = 0;
    ASSERT_EQ(ft__dlib_extract_chip(img, &cd, a), FT_EINVAL);
    /* far too large, or nowhere near the image: black, and it ends */
    const ft__chip_details huge = { 0.3, { -1e300, -1e300, 1e300, 1e300 }, CHIP, CHIP };
    const ft__chip_details away = { 0.3, { 5000, 5000, 5300, 5300 }, CHIP, CHIP };
    memset(a, 7, sizeof a);
    ASSERT_OK(ft__dlib_extract_chip(img, &huge, a));
    for (size_t k = 0; k < sizeof a; k++)
        ASSERT_EQ(a[k], 0);
    memset(a, 7, sizeof a);
    ASSERT_OK(ft__dlib_extract_chip(img, &away, a));
    for (size_t k = 0; k < sizeof a; k++)
        ASSERT_EQ(a[k], 0);
    /* a 600 px face (two pyramid levels): each allocation failing in turn is
    ** FT_ENOMEM, nothing leaks, and then the chip is the same as before */
    const ft__chip_details big = { 0.2, { 400, 300, 1000, 900 }, CHIP, CHIP };
    ASSERT_OK(ft__dlib_extract_chip(img, &big, a));
    int rc = FT_ENOMEM;
    long k = 0;
    for (; rc == FT_ENOMEM && k < 100; k++) {
        ft__alloc_fail_after(k);
        rc = ft__dlib_extract_chip(img, &big, b);
        ft__alloc_fail_after(-1);
        ASSERT(rc == FT_OK || rc == FT_ENOMEM);
    }
    ASSERT_OK(rc);
    ASSERT(k >= 3); /* 2 levels: failed at least twice */
    ASSERT(memcmp(a, b, sizeof a) == 0);
    ft_image_destroy(img);
    no_leaks();
}

FT_TESTS(FT_TEST(test_shape5_tiny), FT_TEST(test_shape5_malformed),
         FT_TEST(test_shape5_damaged_file), FT_TEST(test_shape5_parity), FT_TEST(test_chip5_parity),
         FT_TEST(test_chip5_edges))
