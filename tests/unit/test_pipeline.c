/*
** tests/unit/test_pipeline.c: the default pipeline end to end through the
** public API (ft_engine_detect, ft_engine_describe) against dlib itself.
**
** DESIGN
**   The default pipeline is YuNet -> dlib's 5-point shape predictor (two
**   passes; face->landmark_crop is the rectangle of the last) -> dlib's
**   150 px chip (padding 0.25) -> dlib's ResNet. The oracles are the two
**   reference programs of tests/unit/test_dlib_shape.c and test_dlib_net.c
**   (tests/ref/dlib_shape_ref and dlib_net_ref, dlib 19.24 from Debian's
**   libdlib-dev), found beside this binary in ref/. For every face the
**   engine finds in the photos (models/face-api/demo/sample1-6.jpg, 1920 px
**   wide, and the four PNGs of tests/data/parity, small faces), dlib is given the
**   same pixels (a binary PPM written here from the decoded image) and the
**   face's landmark_crop as its rectangle (x, y, x + w - 1, y + h - 1):
**   dlib's 5 parts must equal face->landmarks exactly, and dlib's
**   descriptor of dlib's own chip must be within 1e-4 (max |diff|) of
**   face->descriptor. So every stage after the detector is checked as one
**   chain: a different chip or a different part moves the descriptor far
**   more than 1e-4. The same holds for faces given to ft_engine_describe as
**   a box only, for params.mirror (the mean of dlib's descriptors of the
**   chip and of the chip flipped here), and the two-thread engine gives the
**   one-thread engine's numbers. The "dlib-yunet5" pipeline (a chip from
**   YuNet's own points) is checked for sanity only: its landmarks are the
**   detector's points and its descriptor is near the default one (cosine
**   distance < 0.25; it is the same face, cut a little differently).
**   Refused parameter combinations and model folders missing the YuNet or
**   dlib files must fail with a status and a message naming the problem.
**
**   Without libdlib-dev the reference programs are not built and the tests
**   that need them skip, saying so; with it, a missing program is a
**   failure. Without the fetched models (make models) every test skips.
**
** TIMING   test_pipeline_dlib_parity prints, per photo, the detector alone
**          and the whole pipeline (detect + landmarks + chip + descriptor):
**          process CPU time on one thread, the best of 3 runs after a first
**          call (which loads the models and sets the nets up for the image's
**          size, timed apart), so that a shared machine does not blur them;
**          then per face, and dlib's own time (wall) for the stages after
**          the detector on the same faces. test_pipeline_threads prints the
**          wall time with 1 and 2 threads.
** INVARIANTS  (1) expected values come from dlib (the reference programs)
**                 or from this file (the flip, the mean); none from the
**                 code under test, except test_pipeline_threads, which
**                 compares the engine with itself by design.
*/
#include "facetrail.h"

#include "harness/test.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SP_MODEL   "models/dlib/shape_predictor_5_face_landmarks.dat"
#define NET_MODEL  "models/dlib/dlib_face_recognition_resnet_model_v1.dat"
#define YUNET_ONNX "models/yunet/yunet_n_dynamic.onnx"
#define SIDE       150
#define CHIP_BYTES (SIDE * SIDE * 3)
#define MAX_FACES  64
#define TOL        1e-4 /* max |ours - dlib| per descriptor value */
#define TOL_THREAD 1e-5 /* max |2 threads - 1 thread| */
#define MAX_COS    0.25 /* dlib-yunet5 vs dlib-chip5, the same face */
#define REPEATS    3    /* timed runs per photo; the best is printed */

extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
        ft_test_fail(__FILE__, __LINE__, "memory leaked (see the LeakSanitizer report)");
}

static char err[1024];

/* The photos: six 1920 px wide ones with 150-300 px faces, and the four
** parity crops with 40-60 px faces. */
static const char *const photos[] = {
    "models/face-api/demo/sample1.jpg",      "models/face-api/demo/sample2.jpg",
    "models/face-api/demo/sample3.jpg",      "models/face-api/demo/sample4.jpg",
    "models/face-api/demo/sample5.jpg",      "models/face-api/demo/sample6.jpg",
    "tests/data/parity/sample1_q.png",       "tests/data/parity/sample4_q.png",
    "tests/data/parity/sample5_crop512.png", "tests/data/parity/sample6_q.png",
};
#define N_PHOTOS ((int)(sizeof photos / sizeof photos[0]))

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static char tmp_dir[64];

static void cleanup(void)
{
    if (!tmp_dir[0]) return;
    static const char *const names[] = { "img.ppm", "rects.txt", "out.txt", "chips.rgb",
                                         "net.rgb" };
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
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ft_pipeline_XXXXXX");
        ASSERT(mkdtemp(tmp_dir) != NULL);
        atexit(cleanup);
    }
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp_dir, name);
    return p[k];
}

/* The models this file needs, or a skip saying which are missing. */
static void need_models(void)
{
    if (!ft_test_model_dir()) FT_SKIP("face-api models not fetched (make models)");
    if (access(SP_MODEL, R_OK) != 0 || access(NET_MODEL, R_OK) != 0)
        FT_SKIP("dlib models not fetched (make models)");
    if (access(YUNET_ONNX, R_OK) != 0) FT_SKIP("YuNet model missing (models/yunet is committed)");
}

/* A reference program beside this binary: $B/tests/ref/NAME. */
static const char *ref_program(const char *name)
{
    static char path[2][PATH_MAX + 64];
    static int k;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ASSERT(n > 0);
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    ASSERT(slash != NULL);
    *slash = 0;
    k = (k + 1) % 2;
    snprintf(path[k], sizeof path[k], "%s/ref/%s", exe, name);
    if (access(path[k], X_OK) == 0) return path[k];
    if (system("pkg-config --exists dlib-1") != 0)
        FT_SKIP("libdlib-dev is not installed, so tests/ref/dlib_shape_ref and dlib_net_ref "
                "(dlib's own predictor, chip and net) were not built; nothing to compare with");
    ft_test_fail(__FILE__, __LINE__,
                 "%s is missing although libdlib-dev is installed: build it with 'make tests'",
                 path[k]);
}

static ft_image *load(const char *path)
{
    ft_image *img = NULL;
    if (ft_image_load(path, 0, &img, err, sizeof err) != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "%s: %s", path, err);
    return img;
}

static ft_engine *open_engine(const char *model_dir, int n_threads)
{
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = model_dir;
    ep.n_threads = n_threads;
    ft_engine *eng = NULL;
    if (ft_engine_open(&ep, &eng, err, sizeof err) != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "ft_engine_open: %s", err);
    return eng;
}

/* ft_engine_detect, failing the test on an error; returns the face count
** (all written: at most MAX_FACES). */
static int detect(ft_engine *eng, const ft_image *img, const ft_detect_params *p, ft_face *faces)
{
    int n = -1;
    const int rc = ft_engine_detect(eng, img, p, faces, MAX_FACES, &n);
    if (rc != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "ft_engine_detect: %d: %s", rc, ft_engine_errmsg(eng));
    ASSERT(n >= 0 && n <= MAX_FACES);
    return n;
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

/* ms on clock id since t0 (taken on the same clock). */
static double ms_since(clockid_t id, const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(id, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void flip_chip(const unsigned char *in, unsigned char *out)
{
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++)
            memcpy(out + (y * SIDE + x) * 3, in + (y * SIDE + SIDE - 1 - x) * 3, 3);
}

static double max_abs_diff(const float *a, const float *b)
{
    double worst = 0;
    for (int k = 0; k < FT_DESCRIPTOR_DIM; k++) {
        const double d = fabs((double)a[k] - (double)b[k]);
        if (!(d <= worst)) worst = d; /* NaN counts as worst */
    }
    return worst;
}

static double cosine_distance(const float *a, const float *b)
{
    double ab = 0, aa = 0, bb = 0;
    for (int k = 0; k < FT_DESCRIPTOR_DIM; k++)
        ab += (double)a[k] * b[k], aa += (double)a[k] * a[k], bb += (double)b[k] * b[k];
    return 1 - ab / sqrt(aa * bb);
}

/* ------------------------------------------------------------------------ */
/* What dlib says                                                           */
/* ------------------------------------------------------------------------ */

/* dlib's side of a batch of faces: parts and chip per face (from
** dlib_shape_ref), descriptors (from dlib_net_ref). */
typedef struct dlib_batch {
    int n, cap;
    long (*pt)[5][2];
    unsigned char *chips; /* n * CHIP_BYTES */
    float (*desc)[FT_DESCRIPTOR_DIM];
    double ms_sp, ms_chip, ms_net; /* sums over the faces; ms_net per descriptor */
} dlib_batch;

static void batch_free(dlib_batch *b)
{
    free(b->pt);
    free(b->chips);
    free(b->desc);
    memset(b, 0, sizeof *b);
}

/* dlib's rectangle of a face: its landmark_crop (x, y, w, h), inclusive. */
static void crop_rect(const ft_face *f, long r[4])
{
    r[0] = f->landmark_crop[0], r[1] = f->landmark_crop[1];
    r[2] = (long)f->landmark_crop[0] + f->landmark_crop[2] - 1;
    r[3] = (long)f->landmark_crop[1] + f->landmark_crop[3] - 1;
}

/* Runs dlib_shape_ref on img with the landmark_crop of each of faces[0..n):
** appends each face's parts and chip to b. */
static void dlib_shape(const ft_image *img, const ft_face *faces, int n, dlib_batch *b)
{
    if (n == 0) return;
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->pt = realloc(b->pt, (size_t)b->cap * sizeof *b->pt);
        b->chips = realloc(b->chips, (size_t)b->cap * CHIP_BYTES);
        ASSERT(b->pt != NULL && b->chips != NULL);
    }
    const char *ppm = tmp_path("img.ppm"), *rfile = tmp_path("rects.txt");
    write_ppm(img, ppm);
    FILE *f = fopen(rfile, "w");
    ASSERT(f != NULL);
    for (int i = 0; i < n; i++) {
        long r[4];
        crop_rect(&faces[i], r);
        fprintf(f, "%ld %ld %ld %ld\n", r[0], r[1], r[2], r[3]);
    }
    ASSERT_OK(fclose(f));
    const char *out = tmp_path("out.txt"), *cfile = tmp_path("chips.rgb");
    char cmd[4 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s' %d 0.25 < '%s' > '%s'",
             ref_program("dlib_shape_ref"), SP_MODEL, ppm, cfile, SIDE, rfile, out);
    if (system(cmd) != 0) ft_test_fail(__FILE__, __LINE__, "the reference failed: %s", cmd);
    f = fopen(out, "r");
    ASSERT(f != NULL);
    for (int i = 0; i < n; i++) {
        long(*pt)[2] = b->pt[b->n + i];
        char word[16];
        ASSERT_EQ(fscanf(f, "%15s", word), 1);
        ASSERT(strcmp(word, "parts") == 0);
        for (int k = 0; k < 5; k++)
            ASSERT_EQ(fscanf(f, "%ld %ld", &pt[k][0], &pt[k][1]), 2);
        size_t n_leaves;
        ASSERT_EQ(fscanf(f, "%15s %zu", word, &n_leaves), 2);
        ASSERT(strcmp(word, "leaves") == 0);
        for (size_t k = 0; k < n_leaves; k++) {
            unsigned long v;
            ASSERT_EQ(fscanf(f, "%lu", &v), 1);
        }
        double a[5];
        long rows, cols;
        ASSERT_EQ(fscanf(f, "%15s %la %la %la %la %la %ld %ld", word, &a[0], &a[1], &a[2], &a[3],
                         &a[4], &rows, &cols),
                  8);
        ASSERT(strcmp(word, "chip") == 0);
        ASSERT(rows == SIDE && cols == SIDE);
        double ms_sp, ms_chip;
        ASSERT_EQ(fscanf(f, "%15s %lf %lf", word, &ms_sp, &ms_chip), 3);
        ASSERT(strcmp(word, "ms") == 0);
        b->ms_sp += ms_sp, b->ms_chip += ms_chip;
    }
    fclose(f);
    f = fopen(cfile, "rb");
    ASSERT(f != NULL);
    ASSERT_EQ(fread(b->chips + (size_t)b->n * CHIP_BYTES, CHIP_BYTES, (size_t)n, f), n);
    ASSERT_EQ(fgetc(f), EOF);
    fclose(f);
    b->n += n;
}

/* dlib_net_ref on n chips: desc[i] for chip i; returns dlib's ms per
** descriptor. */
static double dlib_net(const unsigned char *chips, int n, float (*desc)[FT_DESCRIPTOR_DIM])
{
    const char *raw = tmp_path("net.rgb");
    FILE *f = fopen(raw, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(chips, CHIP_BYTES, (size_t)n, f), n);
    ASSERT_OK(fclose(f));
    char cmd[4 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 '%s' '%s' '%s' 1",
             ref_program("dlib_net_ref"), NET_MODEL, raw);
    FILE *p = popen(cmd, "r");
    ASSERT(p != NULL);
    int row = 0;
    double ms = -1;
    static char line[1 << 14];
    while (fgets(line, sizeof line, p)) {
        if (sscanf(line, "# ms_per_descriptor %lf", &ms) == 1) continue;
        ASSERT(row < n);
        char *q = line, *end;
        for (int k = 0; k < FT_DESCRIPTOR_DIM; k++) {
            errno = 0;
            desc[row][k] = strtof(q, &end);
            if (end == q || errno)
                ft_test_fail(__FILE__, __LINE__, "reference output row %d value %d: %s", row, k,
                             line);
            q = end;
        }
        row++;
    }
    const int st = pclose(p);
    if (st != 0) ft_test_fail(__FILE__, __LINE__, "%s exited with status %d", cmd, st);
    ASSERT_EQ(row, n);
    ASSERT(ms > 0);
    return ms;
}

/* The descriptors of every chip in b. */
static void batch_net(dlib_batch *b)
{
    if (b->n == 0) return;
    b->desc = malloc((size_t)b->n * sizeof *b->desc);
    ASSERT(b->desc != NULL);
    b->ms_net = dlib_net(b->chips, b->n, b->desc);
}

/* Face f (called what) against dlib's face k of b: the same parts exactly,
** the descriptor within TOL. Returns the descriptor's max |diff|. */
static double check_face(const char *what, const ft_face *f, const dlib_batch *b, int k)
{
    if (!f->has_landmarks || !f->has_descriptor)
        ft_test_fail(__FILE__, __LINE__, "%s: has_landmarks %d, has_descriptor %d", what,
                     f->has_landmarks, f->has_descriptor);
    ASSERT_EQ(f->landmark_kind, FT_LANDMARKS_DLIB5);
    ASSERT_EQ(f->n_landmarks, 5);
    for (int i = 0; i < 5; i++)
        if (f->landmarks[i][0] != (double)b->pt[k][i][0] ||
            f->landmarks[i][1] != (double)b->pt[k][i][1])
            ft_test_fail(__FILE__, __LINE__, "%s part %d: (%g, %g), dlib (%ld, %ld)", what, i,
                         f->landmarks[i][0], f->landmarks[i][1], b->pt[k][i][0], b->pt[k][i][1]);
    const double d = max_abs_diff(f->descriptor, b->desc[k]);
    if (!(d <= TOL))
        ft_test_fail(__FILE__, __LINE__,
                     "%s: descriptor max |diff| %.3g from dlib's (tolerance %g)", what, d, TOL);
    return d;
}

/* ------------------------------------------------------------------------ */
/* Against dlib                                                             */
/* ------------------------------------------------------------------------ */

/* The default pipeline with one chip per face ("dlib-chip5"): what dlib's
** compute_face_descriptor gives. The default also averages the mirror
** image's descriptor, checked on its own in test_pipeline_mirror. */
static ft_detect_params plain_params(void)
{
    ft_detect_params p = ft_detect_default_params();
    ASSERT_EQ(p.mirror, 1);
    ASSERT_STR_EQ(ft_descriptor_space(&p), "dlib-chip5-mirror");
    p.mirror = 0;
    return p;
}

/* Every face the default pipeline finds in the photos equals dlib's
** pipeline run from the face's rectangle: the parts exactly, the descriptor
** within 1e-4; prints the worst difference, the count, and the timings. */
static void test_pipeline_dlib_parity(void)
{
    need_models();
    ref_program("dlib_shape_ref");
    ft_engine *eng = open_engine(ft_test_model_dir(), 1);
    const ft_detect_params dp = plain_params();
    ft_detect_params det_only = dp;
    det_only.with_landmarks = det_only.with_descriptor = 0;
    static ft_face faces[N_PHOTOS][MAX_FACES], boxes[MAX_FACES], again[MAX_FACES];
    int n[N_PHOTOS];
    double ms_det[2] = { 0 }, ms_all[2] = { 0 }; /* the 1920 px photos, the small ones */
    int n_all = 0, n_grp[2] = { 0 };
    dlib_batch b = { 0 };
    for (int p = 0; p < N_PHOTOS; p++) {
        ft_image *img = load(photos[p]);
        /* the faces checked; the first call at an image size also loads the
        ** models and sets the nets up for that size: timed apart */
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        n[p] = detect(eng, img, &dp, faces[p]);
        const double first = ms_since(CLOCK_MONOTONIC, &t0);
        ASSERT(n[p] >= 1);
        /* then the best of REPEATS runs of the detector alone and of the
        ** whole pipeline, in CPU time (one thread; the machine may be shared) */
        double md = INFINITY, ma = INFINITY;
        for (int r = 0; r < REPEATS; r++) {
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
            ASSERT_EQ(detect(eng, img, &det_only, boxes), n[p]);
            md = fmin(md, ms_since(CLOCK_PROCESS_CPUTIME_ID, &t0));
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
            ASSERT_EQ(detect(eng, img, &dp, again), n[p]);
            ma = fmin(ma, ms_since(CLOCK_PROCESS_CPUTIME_ID, &t0));
        }
        printf("#   %-38s %4dx%-4d %d faces: detector %6.1f ms, whole pipeline %6.1f ms = "
               "%5.1f ms per face, %4.1f of it after the detector (first call %.0f ms wall)\n",
               photos[p], img->width, img->height, n[p], md, ma, ma / n[p], (ma - md) / n[p],
               first);
        const int g = img->width >= 1000 ? 0 : 1;
        ms_det[g] += md, ms_all[g] += ma, n_grp[g] += n[p], n_all += n[p];
        dlib_shape(img, faces[p], n[p], &b);
        ft_image_destroy(img);
    }
    batch_net(&b);
    double worst = 0;
    const char *worst_at = "";
    int worst_face = 0;
    for (int p = 0, k = 0; p < N_PHOTOS; p++)
        for (int i = 0; i < n[p]; i++, k++) {
            char what[128];
            snprintf(what, sizeof what, "%s face %d", photos[p], i);
            const double d = check_face(what, &faces[p][i], &b, k);
            if (d >= worst) worst = d, worst_at = photos[p], worst_face = i;
        }
    printf("# %d faces in %d photos: dlib's parts on every one; descriptor max |diff| from "
           "dlib's %.3g (%s face %d; tolerance %g)\n",
           n_all, N_PHOTOS, worst, worst_at, worst_face, TOL);
    for (int g = 0; g < 2; g++)
        if (n_grp[g])
            printf(
                "# CPU ms per face, 1 thread, %s: whole pipeline %.1f = detector %.1f + landmarks, "
                "chip and descriptor %.1f\n",
                g ? "photos under 1000 px" : "1920 px photos", ms_all[g] / n_grp[g],
                ms_det[g] / n_grp[g], (ms_all[g] - ms_det[g]) / n_grp[g]);
    printf("# dlib after the detector, ms per face: one predictor pass %.2f + chip %.2f + net "
           "%.1f\n",
           b.ms_sp / n_all, b.ms_chip / n_all, b.ms_net);
    batch_free(&b);
    ft_engine_close(eng);
    no_leaks();
}

/* A face given to ft_engine_describe as a box only gets dlib's landmarks
** and descriptor from that box: for YuNet's boxes (the same as the detect
** path gives) and for hand-placed ones, one partly outside the image. */
static void test_pipeline_describe_box(void)
{
    need_models();
    ref_program("dlib_shape_ref");
    ft_engine *eng = open_engine(ft_test_model_dir(), 1);
    const ft_detect_params dp = plain_params();
    ft_detect_params det_only = dp;
    det_only.with_landmarks = det_only.with_descriptor = 0;
    static const struct {
        const char *photo;
        int n_hand;
        double hand[2][4]; /* x, y, w, h */
    } cases[] = {
        { "models/face-api/demo/sample1.jpg",
          2,
          { { 414, 410, 177, 177 }, { 838, 464, 186, 186 } } },
        { "tests/data/parity/sample4_q.png", 2, { { 164, 27, 47, 47 }, { -20, -15, 90, 90 } } },
        { "models/face-api/demo/sample6.jpg", 0, { { 0 } } },
    };
    static ft_face full[MAX_FACES], mine[3][MAX_FACES + 2];
    dlib_batch b = { 0 };
    int n[3];
    for (int c = 0; c < 3; c++) {
        ft_image *img = load(cases[c].photo);
        const int nd = detect(eng, img, &det_only, mine[c]);
        ASSERT_EQ(detect(eng, img, &dp, full), nd);
        n[c] = nd + cases[c].n_hand;
        for (int i = 0; i < n[c]; i++) {
            ft_face *f = &mine[c][i];
            if (i < nd) {
                ASSERT(!f->has_landmarks && !f->has_descriptor);
            } else {
                memset(f, 0, sizeof *f);
                memcpy(f->box, cases[c].hand[i - nd], sizeof f->box);
            }
            if (ft_engine_describe(eng, img, &dp, f) != FT_OK)
                ft_test_fail(__FILE__, __LINE__, "%s face %d: %s", cases[c].photo, i,
                             ft_engine_errmsg(eng));
            /* YuNet's boxes: what the detect path made of them */
            if (i < nd) {
                ASSERT(memcmp(f->landmark_crop, full[i].landmark_crop, sizeof f->landmark_crop) ==
                       0);
                ASSERT(memcmp(f->landmarks, full[i].landmarks, 5 * sizeof f->landmarks[0]) == 0);
                ASSERT(memcmp(f->descriptor, full[i].descriptor, sizeof f->descriptor) == 0);
            }
        }
        dlib_shape(img, mine[c], n[c], &b);
        ft_image_destroy(img);
    }
    batch_net(&b);
    double worst = 0;
    for (int c = 0, k = 0; c < 3; c++)
        for (int i = 0; i < n[c]; i++, k++) {
            char what[128];
            snprintf(what, sizeof what, "%s box %d", cases[c].photo, i);
            const double d = check_face(what, &mine[c][i], &b, k);
            if (d > worst) worst = d;
        }
    printf("# %d faces described from a box alone (4 placed by hand, one partly outside the "
           "image): dlib's parts; descriptor max |diff| from dlib's %.3g (tolerance %g)\n",
           b.n, worst, TOL);
    ASSERT_EQ(b.n, n[0] + n[1] + n[2]);
    batch_free(&b);
    ft_engine_close(eng);
    no_leaks();
}

/* params.mirror = 1: the descriptor is the mean of dlib's descriptors of
** dlib's chip and of that chip flipped left to right (flipped here). */
static void test_pipeline_mirror(void)
{
    need_models();
    ref_program("dlib_shape_ref");
    ft_engine *eng = open_engine(ft_test_model_dir(), 1);
    ft_detect_params dp = ft_detect_default_params();
    dp.mirror = 1;
    static const char *const which[] = { "models/face-api/demo/sample1.jpg",
                                         "tests/data/parity/sample1_q.png",
                                         "tests/data/parity/sample5_crop512.png" };
    static ft_face faces[3][MAX_FACES];
    int n[3];
    dlib_batch b = { 0 };
    for (int p = 0; p < 3; p++) {
        ft_image *img = load(which[p]);
        n[p] = detect(eng, img, &dp, faces[p]);
        ASSERT(n[p] >= 1);
        dlib_shape(img, faces[p], n[p], &b);
        ft_image_destroy(img);
    }
    /* the chips, then the same flipped: one run of the net */
    unsigned char *both = malloc((size_t)b.n * 2 * CHIP_BYTES);
    float(*desc)[FT_DESCRIPTOR_DIM] = malloc((size_t)b.n * 2 * sizeof *desc);
    ASSERT(both != NULL && desc != NULL);
    memcpy(both, b.chips, (size_t)b.n * CHIP_BYTES);
    for (int k = 0; k < b.n; k++)
        flip_chip(b.chips + (size_t)k * CHIP_BYTES, both + (size_t)(b.n + k) * CHIP_BYTES);
    dlib_net(both, 2 * b.n, desc);
    double worst = 0, least_gap = INFINITY;
    for (int p = 0, k = 0; p < 3; p++)
        for (int i = 0; i < n[p]; i++, k++) {
            const ft_face *f = &faces[p][i];
            ASSERT(f->has_descriptor);
            for (int j = 0; j < 5; j++)
                ASSERT(f->landmarks[j][0] == (double)b.pt[k][j][0] &&
                       f->landmarks[j][1] == (double)b.pt[k][j][1]);
            float mean[FT_DESCRIPTOR_DIM];
            for (int v = 0; v < FT_DESCRIPTOR_DIM; v++)
                mean[v] = (float)(((double)desc[k][v] + desc[b.n + k][v]) / 2);
            const double d = max_abs_diff(f->descriptor, mean);
            if (!(d <= TOL))
                ft_test_fail(__FILE__, __LINE__,
                             "%s face %d: mirrored descriptor max |diff| %.3g from dlib's mean",
                             which[p], i, d);
            if (d > worst) worst = d;
            /* the check tells mirrored from plain: the mean is far from the
            ** chip's own descriptor */
            const double gap = max_abs_diff(desc[k], mean);
            if (gap < least_gap) least_gap = gap;
        }
    printf("# %d faces, mirror: max |diff| from the mean of dlib's chip and flipped chip "
           "descriptors %.3g (tolerance %g); the mean is >= %.3g from the chip's own\n",
           b.n, worst, TOL, least_gap);
    ASSERT(least_gap > 10 * TOL);
    free(both);
    free(desc);
    batch_free(&b);
    ft_engine_close(eng);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Threads, the other pipeline                                              */
/* ------------------------------------------------------------------------ */

/* An engine with 2 threads finds the same faces with the same landmarks and
** the same descriptors (within 1e-5) as one with 1 thread. */
static void test_pipeline_threads(void)
{
    need_models();
    ft_engine *e1 = open_engine(ft_test_model_dir(), 1), *e2 = open_engine(ft_test_model_dir(), 2);
    const ft_detect_params dp = plain_params();
    static ft_face a[MAX_FACES], b[MAX_FACES], c[MAX_FACES];
    double worst = 0, worst_box = 0, ms1 = 0, ms2 = 0;
    int n_all = 0;
    for (int p = 0; p < N_PHOTOS; p++) {
        ft_image *img = load(photos[p]);
        /* the first call at an image size sets the nets up: untimed */
        const int n1 = detect(e1, img, &dp, a), n2 = detect(e2, img, &dp, b);
        double t1 = INFINITY, t2 = INFINITY;
        for (int r = 0; r < REPEATS; r++) {
            struct timespec t0;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            ASSERT_EQ(detect(e1, img, &dp, c), n1);
            t1 = fmin(t1, ms_since(CLOCK_MONOTONIC, &t0));
            clock_gettime(CLOCK_MONOTONIC, &t0);
            ASSERT_EQ(detect(e2, img, &dp, c), n2);
            t2 = fmin(t2, ms_since(CLOCK_MONOTONIC, &t0));
        }
        ms1 += t1, ms2 += t2;
        ASSERT_EQ(n1, n2);
        for (int i = 0; i < n1; i++) {
            for (int k = 0; k < 4; k++)
                worst_box = fmax(worst_box, fabs(a[i].box[k] - b[i].box[k]));
            ASSERT(memcmp(a[i].landmark_crop, b[i].landmark_crop, sizeof a[i].landmark_crop) == 0);
            ASSERT(memcmp(a[i].landmarks, b[i].landmarks, 5 * sizeof a[i].landmarks[0]) == 0);
            ASSERT(a[i].has_descriptor && b[i].has_descriptor);
            const double d = max_abs_diff(a[i].descriptor, b[i].descriptor);
            if (!(d <= TOL_THREAD))
                ft_test_fail(__FILE__, __LINE__, "%s face %d: 2 threads differ by %.3g", photos[p],
                             i, d);
            if (d > worst) worst = d;
        }
        n_all += n1;
        ft_image_destroy(img);
    }
    printf("# %d faces: 2 threads vs 1: boxes within %.3g px, the same landmarks, descriptors "
           "within %.3g (tolerance %g); whole pipeline, wall ms per face (best of %d): %.1f "
           "with 1 thread, %.1f with 2\n",
           n_all, worst_box, worst, TOL_THREAD, REPEATS, ms1 / n_all, ms2 / n_all);
    ASSERT(worst_box <= 1e-3);
    ft_engine_close(e1);
    ft_engine_close(e2);
    no_leaks();
}

/* The "dlib-yunet5" pipeline: the same faces as the default, landmarks
** that are YuNet's own points, and a descriptor within cosine distance 0.25
** of the default pipeline's for the same face. */
static void test_pipeline_yunet5(void)
{
    need_models();
    ft_engine *eng = open_engine(ft_test_model_dir(), 1);
    const ft_detect_params dp = plain_params();
    ft_detect_params y5 = plain_params();
    ASSERT_OK(ft_detect_params_for_space("dlib-yunet5", &y5));
    ASSERT_EQ(y5.landmarks, FT_LANDMARKS_DETECTOR5);
    ASSERT_STR_EQ(ft_descriptor_space(&y5), "dlib-yunet5");
    ASSERT_STR_EQ(ft_descriptor_space(&dp), "dlib-chip5");
    static ft_face a[MAX_FACES], b[MAX_FACES];
    double worst = 0, sum = 0, nearest_other = INFINITY;
    int n_all = 0;
    for (int p = 0; p < N_PHOTOS; p++) {
        ft_image *img = load(photos[p]);
        const int n = detect(eng, img, &dp, a);
        ASSERT_EQ(detect(eng, img, &y5, b), n);
        printf("#   %-40s cosine distances:", photos[p]);
        for (int i = 0; i < n; i++) {
            ASSERT(memcmp(a[i].box, b[i].box, sizeof a[i].box) == 0);
            ASSERT(b[i].has_points5 && b[i].has_landmarks && b[i].has_descriptor);
            ASSERT_EQ(b[i].landmark_kind, FT_LANDMARKS_DETECTOR5);
            ASSERT_EQ(b[i].n_landmarks, 5);
            for (int k = 0; k < 5; k++)
                ASSERT(b[i].landmarks[k][0] == b[i].points5[k][0] &&
                       b[i].landmarks[k][1] == b[i].points5[k][1]);
            const double d = cosine_distance(a[i].descriptor, b[i].descriptor);
            printf(" %.3f", d);
            if (!(d < MAX_COS))
                ft_test_fail(__FILE__, __LINE__,
                             "%s face %d: cosine distance %.3f to the "
                             "default pipeline's descriptor",
                             photos[p], i, d);
            worst = fmax(worst, d), sum += d;
            for (int j = 0; j < n; j++)
                if (j != i)
                    nearest_other =
                        fmin(nearest_other, cosine_distance(a[j].descriptor, b[i].descriptor));
        }
        printf("\n");
        n_all += n;
        ft_image_destroy(img);
    }
    printf("# %d faces: dlib-yunet5 vs dlib-chip5 cosine distance mean %.3f, worst %.3f "
           "(limit %.2f); to another face of the same photo at least %.3f\n",
           n_all, sum / n_all, worst, MAX_COS, nearest_other);
    ft_engine_close(eng);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* Combinations the engine refuses: FT_EINVAL from ft_engine_detect (no
** faces) and from ft_engine_describe, with a message naming the problem. */
static void test_pipeline_bad_params(void)
{
    need_models();
    ft_engine *eng = open_engine(ft_test_model_dir(), 1);
    ft_image *img = load("tests/data/parity/sample1_q.png");
    static const struct {
        enum ft_detector_kind detector;
        enum ft_landmark_kind landmarks;
        enum ft_descriptor_kind descriptor;
        enum ft_align_kind align;
        const char *msg;
    } bad[] = {
        { FT_DETECTOR_YUNET, FT_LANDMARKS_68, FT_DESCRIPTOR_DLIB, FT_ALIGN_DLIB,
          "dlib descriptors are not made from 68-point landmarks" },
        { FT_DETECTOR_YUNET, FT_LANDMARKS_DLIB5, FT_DESCRIPTOR_FACEAPI, FT_ALIGN_DLIB,
          "face-api descriptors are not made from dlib 5-point landmarks" },
        { FT_DETECTOR_YUNET, FT_LANDMARKS_DLIB5, FT_DESCRIPTOR_DLIB, FT_ALIGN_FACEAPI,
          "with face-api crop alignment" },
        { FT_DETECTOR_SSD, FT_LANDMARKS_DETECTOR5, FT_DESCRIPTOR_DLIB, FT_ALIGN_DLIB,
          "need the YuNet detector" },
        { FT_DETECTOR_TINY, FT_LANDMARKS_DETECTOR5, FT_DESCRIPTOR_DLIB, FT_ALIGN_DLIB,
          "need the YuNet detector" },
        { (enum ft_detector_kind)7, FT_LANDMARKS_DLIB5, FT_DESCRIPTOR_DLIB, FT_ALIGN_DLIB,
          "unknown detector 7" },
        { FT_DETECTOR_YUNET, (enum ft_landmark_kind)9, FT_DESCRIPTOR_DLIB, FT_ALIGN_DLIB,
          "unknown landmark kind 9" },
        { FT_DETECTOR_YUNET, FT_LANDMARKS_DLIB5, (enum ft_descriptor_kind)5, FT_ALIGN_DLIB,
          "unknown descriptor kind 5" },
    };
    ft_face faces[4];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ft_detect_params p = ft_detect_default_params();
        p.detector = bad[i].detector;
        p.landmarks = bad[i].landmarks;
        p.descriptor = bad[i].descriptor;
        p.align = bad[i].align;
        int n = 99;
        ASSERT_EQ(ft_engine_detect(eng, img, &p, faces, 4, &n), FT_EINVAL);
        ASSERT_EQ(n, 0);
        ASSERT_STR_CONTAINS(ft_engine_errmsg(eng), bad[i].msg);
        printf("#   %s\n", ft_engine_errmsg(eng));
        ft_face f = { .box = { 103, 102, 45, 45 } };
        ASSERT_EQ(ft_engine_describe(eng, img, &p, &f), FT_EINVAL);
        ASSERT_STR_CONTAINS(ft_engine_errmsg(eng), bad[i].msg);
        ASSERT(!f.has_descriptor);
    }
    /* descriptors without landmarks */
    ft_detect_params p = ft_detect_default_params();
    p.with_landmarks = 0;
    int n = 99;
    ASSERT_EQ(ft_engine_detect(eng, img, &p, faces, 4, &n), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_engine_errmsg(eng), "descriptors need landmarks");
    /* a box alone cannot give YuNet's own points */
    ft_detect_params y5 = plain_params();
    ASSERT_OK(ft_detect_params_for_space("dlib-yunet5", &y5));
    ft_face f = { .box = { 103, 102, 45, 45 } };
    ASSERT_EQ(ft_engine_describe(eng, img, &y5, &f), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_engine_errmsg(eng), "no landmarks");
    /* after all that, the engine still works */
    const ft_detect_params dp = plain_params();
    ASSERT(detect(eng, img, &dp, (ft_face[MAX_FACES]){ 0 }) >= 1);
    ASSERT_STR_EQ(ft_engine_errmsg(eng), "");
    ft_image_destroy(img);
    ft_engine_close(eng);
    no_leaks();
}

/* A model tree: <root>/models/face-api/model (face-api's files linked),
** and as asked <root>/models/yunet/yunet_n_dynamic.onnx and the dlib files
** (links to the real ones). */
static void link_to(const char *target, const char *link)
{
    char abs[PATH_MAX];
    ASSERT(realpath(target, abs) != NULL);
    if (symlink(abs, link) != 0)
        ft_test_fail(__FILE__, __LINE__, "symlink %s: errno %d", link, errno);
}

static void rm_tree(const char *root)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ASSERT_OK(system(cmd));
}

/* A model folder without the YuNet or dlib files: the call that needs one
** fails with FT_EMODEL (missing or damaged alike) naming the file, never
** a crash; the same engine works once the file is there. */
static void test_pipeline_missing_models(void)
{
    need_models();
    char root[] = "/tmp/ft_pipeline_models_XXXXXX";
    ASSERT(mkdtemp(root) != NULL);
    char dir[PATH_MAX], path[PATH_MAX], target[PATH_MAX];
    static const char *const subdirs[] = { "models", "models/face-api", "models/face-api/model",
                                           "models/yunet", "models/dlib" };
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        snprintf(dir, sizeof dir, "%s/%s", root, subdirs[i]);
        ASSERT_OK(mkdir(dir, 0700));
    }
    static const char *const faceapi[] = { "ssd_mobilenetv1_model", "face_landmark_68_model",
                                           "face_recognition_model" };
    for (size_t i = 0; i < sizeof faceapi / sizeof faceapi[0]; i++)
        for (int k = 0; k < 2; k++) {
            const char *ext = k ? ".bin" : "-weights_manifest.json";
            snprintf(target, sizeof target, "%s/%s%s", ft_test_model_dir(), faceapi[i], ext);
            snprintf(path, sizeof path, "%s/models/face-api/model/%s%s", root, faceapi[i], ext);
            link_to(target, path);
        }
    snprintf(dir, sizeof dir, "%s/models/face-api/model", root);
    ft_engine *eng = open_engine(dir, 1);
    ft_image *img = load("tests/data/parity/sample1_q.png");
    const ft_detect_params dp = plain_params();
    static ft_face faces[MAX_FACES];
    int n, rc;

    /* face-api's own pipeline needs none of the missing files */
    const ft_detect_params fa = ft_detect_faceapi_params();
    ASSERT(detect(eng, img, &fa, faces) >= 1);

    /* 1. no YuNet */
    rc = ft_engine_detect(eng, img, &dp, faces, MAX_FACES, &n);
    printf("#   no YuNet: %s: %s\n", ft_status_name(rc), ft_engine_errmsg(eng));
    ASSERT_EQ(rc, FT_EMODEL);
    ASSERT_EQ(n, 0);
    ASSERT_STR_CONTAINS(ft_engine_errmsg(eng), "yunet/yunet_n_dynamic.onnx");
    snprintf(path, sizeof path, "%s/models/yunet/yunet_n_dynamic.onnx", root);
    link_to(YUNET_ONNX, path);

    /* 2. no dlib files: detection alone works, landmarks do not */
    ft_detect_params boxes = dp;
    boxes.with_landmarks = boxes.with_descriptor = 0;
    const int nb = detect(eng, img, &boxes, faces);
    ASSERT(nb >= 1);
    rc = ft_engine_detect(eng, img, &dp, faces, MAX_FACES, &n);
    printf("#   no shape predictor: %s: %s\n", ft_status_name(rc), ft_engine_errmsg(eng));
    ASSERT_EQ(rc, FT_EMODEL);
    ASSERT_STR_CONTAINS(ft_engine_errmsg(eng), "dlib/shape_predictor_5_face_landmarks.dat");
    /* describing a box needs the predictor too */
    ft_face f;
    memset(&f, 0, sizeof f);
    memcpy(f.box, faces[0].box, sizeof f.box);
    rc = ft_engine_describe(eng, img, &dp, &f);
    ASSERT_EQ(rc, FT_EMODEL);
    ASSERT_STR_CONTAINS(ft_engine_errmsg(eng), "shape_predictor_5_face_landmarks.dat");
    ASSERT(!f.has_descriptor);
    snprintf(path, sizeof path, "%s/models/dlib/shape_predictor_5_face_landmarks.dat", root);
    link_to(SP_MODEL, path);

    /* 3. the predictor but no net: landmarks work, descriptors do not */
    ft_detect_params lm_only = dp;
    lm_only.with_descriptor = 0;
    ASSERT_EQ(detect(eng, img, &lm_only, faces), nb);
    ASSERT(faces[0].has_landmarks && !faces[0].has_descriptor);
    rc = ft_engine_detect(eng, img, &dp, faces, MAX_FACES, &n);
    printf("#   no descriptor net: %s: %s\n", ft_status_name(rc), ft_engine_errmsg(eng));
    ASSERT_EQ(rc, FT_EMODEL);
    ASSERT_STR_CONTAINS(ft_engine_errmsg(eng), "dlib/dlib_face_recognition_resnet_model_v1.dat");
    memset(&f, 0, sizeof f);
    memcpy(f.box, faces[0].box, sizeof f.box);
    rc = ft_engine_describe(eng, img, &dp, &f);
    ASSERT_EQ(rc, FT_EMODEL);
    ASSERT_STR_CONTAINS(ft_engine_errmsg(eng), "dlib_face_recognition_resnet_model_v1.dat");

    /* 4. a damaged net under its name (the first 1000 bytes): FT_EMODEL */
    snprintf(path, sizeof path, "%s/models/dlib/dlib_face_recognition_resnet_model_v1.dat", root);
    {
        FILE *in = fopen(NET_MODEL, "rb"), *out = fopen(path, "wb");
        ASSERT(in != NULL && out != NULL);
        char buf[1000];
        ASSERT_EQ(fread(buf, 1, sizeof buf, in), sizeof buf);
        ASSERT_EQ(fwrite(buf, 1, sizeof buf, out), sizeof buf);
        fclose(in);
        ASSERT_OK(fclose(out));
    }
    rc = ft_engine_detect(eng, img, &dp, faces, MAX_FACES, &n);
    printf("#   damaged descriptor net: %s: %s\n", ft_status_name(rc), ft_engine_errmsg(eng));
    ASSERT_EQ(rc, FT_EMODEL);
    ASSERT_STR_CONTAINS(ft_engine_errmsg(eng), "dlib_face_recognition_resnet_model_v1.dat");

    /* 5. the real file: the same engine now gives descriptors */
    ASSERT_OK(unlink(path));
    link_to(NET_MODEL, path);
    ASSERT_EQ(detect(eng, img, &dp, faces), nb);
    for (int i = 0; i < nb; i++)
        ASSERT(faces[i].has_descriptor);
    ASSERT_STR_EQ(ft_engine_errmsg(eng), "");

    ft_image_destroy(img);
    ft_engine_close(eng);
    rm_tree(root);
    no_leaks();
}

FT_TESTS(FT_TEST(test_pipeline_dlib_parity), FT_TEST(test_pipeline_describe_box),
         FT_TEST(test_pipeline_mirror), FT_TEST(test_pipeline_threads),
         FT_TEST(test_pipeline_yunet5), FT_TEST(test_pipeline_bad_params),
         FT_TEST(test_pipeline_missing_models))
