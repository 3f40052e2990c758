/*
** tests/unit/test_dlib_net.c: dlib's face descriptor net in C
** (embed/dlibnet.c) against dlib itself, against its own reference kernels,
** and on damaged model files.
**
** DESIGN
**   The oracle is tests/ref/dlib_net_ref (dlib's own net, C++, built by
**   `make tests` where pkg-config finds dlib-1), found beside this binary
**   in ref/ or at $FT_DLIB_NET_REF. The test writes its chips to a raw file
**   (150x150 RGB bytes each), so both sides see the same pixels, runs the
**   program once, and compares every descriptor value. Chips: the four
**   committed face-api face chips (tests/data/parity/chips), the same
**   mirrored, square crops of the four parity photos resized to 150 here,
**   and synthetic chips (gradients, black, white, noise) at the ends of the
**   input range. The model is models/dlib/dlib_face_recognition_resnet_
**   model_v1.dat (`make models`); tests skip, saying why, when the model or
**   the reference program is missing.
**
** TOLERANCES  max |ours - dlib| <= 1e-4 per value (both paths, any chip);
**             XNNPACK vs the naive reference kernels <= 1e-4.
** TIMING      test_dlib_net_parity prints ms per descriptor on one thread
**             and dlib's time for the same chips in the same run.
*/
#include "embed/embed.h"
#include "facetrail.h"

#include "../harness/test.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIDE       150
#define CHIP_BYTES (SIDE * SIDE * 3)
#define MAX_CHIPS  16
#define TOL        1e-4

extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
        ft_test_fail(__FILE__, __LINE__, "memory leaked (see the LeakSanitizer report)");
}

static char err[1024];

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                 */
/* ------------------------------------------------------------------------ */

static const char *model_path(void)
{
    const char *p = getenv("FT_DLIB_NET_MODEL");
    if (!p || !*p) p = "models/dlib/dlib_face_recognition_resnet_model_v1.dat";
    if (access(p, R_OK) != 0) FT_SKIP("dlib's ResNet model not fetched (make models)");
    return p;
}

/* The reference program: $FT_DLIB_NET_REF, or ref/dlib_net_ref beside this
** test binary. */
static const char *ref_path(void)
{
    static char path[4096];
    const char *e = getenv("FT_DLIB_NET_REF");
    if (e && *e) {
        snprintf(path, sizeof path, "%s", e);
    } else {
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) FT_SKIP("cannot find this binary's folder (/proc/self/exe)");
        self[n] = 0;
        snprintf(path, sizeof path, "%s/ref/dlib_net_ref", dirname(self));
    }
    if (access(path, X_OK) != 0)
        FT_SKIP("dlib reference program not built (needs libdlib-dev: pkg-config dlib-1)");
    return path;
}

static ft__dlibnet *open_net(void)
{
    ft__dlibnet *net = NULL;
    int rc = ft__dlibnet_open(model_path(), &net, err, sizeof err);
    if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "open: %d: %s", rc, err);
    return net;
}

/* Bilinear resize of the centred square of img (side = the smaller side
** times frac) to SIDE x SIDE, rounded to bytes. Test-side only: the point is
** identical pixels for both nets, not a particular resampler. */
static void square_crop(const ft_image *img, double frac, unsigned char *out)
{
    double s = (img->width < img->height ? img->width : img->height) * frac;
    double x0 = (img->width - s) / 2, y0 = (img->height - s) / 2;
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            double sx = x0 + (x + 0.5) * s / SIDE - 0.5, sy = y0 + (y + 0.5) * s / SIDE - 0.5;
            int ix = (int)floor(sx), iy = (int)floor(sy);
            double fx = sx - ix, fy = sy - iy;
            for (int c = 0; c < 3; c++) {
                double v = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int px = ix + dx, py = iy + dy;
                        px = px < 0 ? 0 : px >= img->width ? img->width - 1 : px;
                        py = py < 0 ? 0 : py >= img->height ? img->height - 1 : py;
                        v += (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy) *
                             img->rgb[((size_t)py * img->width + px) * 3 + c];
                    }
                out[(y * SIDE + x) * 3 + c] = (unsigned char)lround(v);
            }
        }
}

static ft_image *load(const char *path)
{
    ft_image *img = NULL;
    char e[512];
    if (ft_image_load(path, 0, &img, e, sizeof e) != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "%s", e);
    return img;
}

typedef struct chips {
    int n, n_faces; /* chips [0, n_faces) are real face chips */
    char name[MAX_CHIPS][48];
    unsigned char px[MAX_CHIPS][CHIP_BYTES];
} chips;

static unsigned char *add_chip(chips *c, const char *name)
{
    FT_ASSERT(c->n < MAX_CHIPS);
    snprintf(c->name[c->n], sizeof c->name[0], "%s", name);
    return c->px[c->n++];
}

/* The chips described in the header, in a fixed order. */
static chips *make_chips(void)
{
    static const char *faces[] = { "sample1_q_f0", "sample1_q_f1", "sample1_q_f2",
                                   "sample5_crop512_f0" };
    static const char *photos[] = { "sample1_q", "sample4_q", "sample5_crop512", "sample6_q" };
    chips *c = calloc(1, sizeof *c);
    ASSERT(c);
    char path[256];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "tests/data/parity/chips/%s.png", faces[i]);
        ft_image *img = load(path);
        ASSERT_EQ(img->width, SIDE);
        ASSERT_EQ(img->height, SIDE);
        memcpy(add_chip(c, faces[i]), img->rgb, CHIP_BYTES);
        ft_image_destroy(img);
    }
    c->n_faces = c->n;
    { /* the first face mirrored */
        char name[48];
        snprintf(name, sizeof name, "%s mirrored", faces[0]);
        unsigned char *m = add_chip(c, name);
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++)
                memcpy(m + (y * SIDE + x) * 3, c->px[0] + (y * SIDE + SIDE - 1 - x) * 3, 3);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "tests/data/parity/%s.png", photos[i]);
        ft_image *img = load(path);
        char name[48];
        snprintf(name, sizeof name, "%s crop", photos[i]);
        square_crop(img, i % 2 ? 0.8 : 1.0, add_chip(c, name));
        ft_image_destroy(img);
    }
    unsigned char *g = add_chip(c, "gradients");
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            g[(y * SIDE + x) * 3 + 0] = (unsigned char)(x * 255 / (SIDE - 1));
            g[(y * SIDE + x) * 3 + 1] = (unsigned char)(y * 255 / (SIDE - 1));
            g[(y * SIDE + x) * 3 + 2] = (unsigned char)(((x / 10 + y / 10) % 2) * 255);
        }
    memset(add_chip(c, "black"), 0, CHIP_BYTES);
    memset(add_chip(c, "white"), 255, CHIP_BYTES);
    unsigned char *r = add_chip(c, "noise");
    uint32_t s = 12345;
    for (int i = 0; i < CHIP_BYTES; i++) {
        s = s * 1664525u + 1013904223u;
        r[i] = (unsigned char)(s >> 24);
    }
    return c;
}

/* Runs the reference program on the chips: ref[i][0..128) per chip, and
** dlib's ms per descriptor. */
static void run_ref(const chips *c, float (*ref)[128], double *dlib_ms)
{
    const char *prog = ref_path(), *model = model_path();
    char raw[] = "/tmp/ft_dlib_chipsXXXXXX";
    int fd = mkstemp(raw);
    ASSERT(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    ASSERT(f);
    ASSERT_EQ(fwrite(c->px, CHIP_BYTES, (size_t)c->n, f), c->n);
    ASSERT_EQ(fclose(f), 0);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 '%s' '%s' '%s' 2", prog,
             model, raw);
    FILE *p = popen(cmd, "r");
    ASSERT(p);
    int row = 0;
    *dlib_ms = -1;
    static char line[1 << 14];
    while (fgets(line, sizeof line, p)) {
        if (sscanf(line, "# ms_per_descriptor %lf", dlib_ms) == 1) continue;
        ASSERT(row < c->n);
        char *q = line, *end;
        for (int k = 0; k < 128; k++) {
            errno = 0;
            ref[row][k] = strtof(q, &end);
            if (end == q || errno)
                ft_test_fail(__FILE__, __LINE__, "reference output row %d value %d: %s", row, k,
                             line);
            q = end;
        }
        row++;
    }
    int st = pclose(p);
    unlink(raw);
    if (st != 0) ft_test_fail(__FILE__, __LINE__, "%s exited with status %d", prog, st);
    ASSERT_EQ(row, c->n);
    ASSERT(*dlib_ms > 0);
}

static double max_abs_diff(const float *a, const float *b, int n, int *at)
{
    double worst = 0;
    *at = 0;
    for (int k = 0; k < n; k++) {
        double d = fabs((double)a[k] - (double)b[k]);
        if (!(d <= worst)) worst = d, *at = k; /* NaN counts as worst */
    }
    return worst;
}

static double norm(const float *v)
{
    double s = 0;
    for (int k = 0; k < 128; k++)
        s += (double)v[k] * v[k];
    return sqrt(s);
}

/* ------------------------------------------------------------------------ */
/* Against dlib                                                             */
/* ------------------------------------------------------------------------ */

/* Every chip, XNNPACK path on one thread and the reference kernels, against
** dlib's numbers; prints the worst difference per chip and the timing. */
static void test_dlib_net_parity(void)
{
    const char *prog = ref_path();
    (void)prog;
    chips *c = make_chips();
    static float ref[MAX_CHIPS][128], ours[MAX_CHIPS][128], naive[MAX_CHIPS][128];
    double dlib_ms;
    run_ref(c, ref, &dlib_ms);

    ft__dlibnet *net = open_net();
    ft__nn_ctx ctx = { .pool = NULL, .use_ref = 0 }, rctx = { .pool = NULL, .use_ref = 1 };
    ASSERT_OK(ft__dlibnet_run(&ctx, net, c->px[0], ours[0])); /* warm-up */
    double t0 = ft__now();
    for (int i = 0; i < c->n; i++)
        ASSERT_OK(ft__dlibnet_run(&ctx, net, c->px[i], ours[i]));
    double ms = (ft__now() - t0) * 1e3 / c->n;
    for (int i = 0; i < c->n; i++)
        ASSERT_OK(ft__dlibnet_run(&rctx, net, c->px[i], naive[i]));

    double worst = 0, worst_naive = 0;
    for (int i = 0; i < c->n; i++) {
        int k, kn;
        double d = max_abs_diff(ours[i], ref[i], 128, &k);
        double dn = max_abs_diff(naive[i], ref[i], 128, &kn);
        printf("#   %-26s |dlib| %.4f  max|diff| %.2e (value %d: %.9g vs %.9g), reference "
               "kernels %.2e\n",
               c->name[i], norm(ref[i]), d, k, ours[i][k], ref[i][k], dn);
        if (!(d <= worst)) worst = d;
        if (!(dn <= worst_naive)) worst_naive = dn;
    }
    printf("# worst max|diff| vs dlib over %d chips: XNNPACK %.3g, reference kernels %.3g "
           "(tolerance %g)\n",
           c->n, worst, worst_naive, TOL);
    printf("# ms per descriptor, 1 thread: facetrail (XNNPACK) %.1f, dlib %.1f: %.1fx faster\n", ms,
           dlib_ms, dlib_ms / ms);
    ASSERT(worst <= TOL);
    ASSERT(worst_naive <= TOL);
    ft__dlibnet_close(net);
    free(c);
}

/* The whole net on XNNPACK against the naive reference kernels, with and
** without a thread pool, independent of dlib. */
static void test_dlib_net_xnn_vs_ref(void)
{
    chips *c = make_chips();
    ft__dlibnet *net = open_net();
    pthreadpool_t pool = pthreadpool_create(2);
    ASSERT(pool);
    ft__nn_ctx x1 = { .pool = NULL }, x2 = { .pool = pool }, rf = { .use_ref = 1 };
    double worst = 0;
    for (int i = 0; i < c->n; i += 3) {
        float a[128], b[128], r[128];
        ASSERT_OK(ft__dlibnet_run(&x1, net, c->px[i], a));
        ASSERT_OK(ft__dlibnet_run(&x2, net, c->px[i], b));
        ASSERT_OK(ft__dlibnet_run(&rf, net, c->px[i], r));
        int k;
        double d1 = max_abs_diff(a, r, 128, &k), d2 = max_abs_diff(b, r, 128, &k);
        printf("#   %-26s max|xnn - ref| 1 thread %.2e, 2 threads %.2e\n", c->name[i], d1, d2);
        if (!(d1 <= worst)) worst = d1;
        if (!(d2 <= worst)) worst = d2;
        ASSERT(norm(r) > 0.1);
    }
    printf("# worst %.3g\n", worst);
    ASSERT(worst <= TOL);
    pthreadpool_destroy(pool);
    ft__dlibnet_close(net);
    free(c);
}

/* dlib's descriptors are not normalised: on its four face chips dlib gives
** lengths 1.36..1.51 (tests/ref/dlib_net_ref); ours must be in the same
** range, well away from 1, and differ between people. Runs without dlib. */
static void test_dlib_net_length(void)
{
    chips *c = make_chips();
    ft__dlibnet *net = open_net();
    ft__nn_ctx ctx = { 0 };
    float d[4][128];
    for (int i = 0; i < c->n_faces; i++) {
        ASSERT_OK(ft__dlibnet_run(&ctx, net, c->px[i], d[i]));
        double n = norm(d[i]);
        printf("#   %-26s length %.4f\n", c->name[i], n);
        ASSERT(n > 1.2 && n < 1.7);
    }
    /* three different people of sample1: farther apart than dlib's 0.6 */
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 128; k++)
                s += (double)(d[i][k] - d[j][k]) * (d[i][k] - d[j][k]);
            printf("#   distance %d-%d %.4f\n", i, j, sqrt(s));
            ASSERT(sqrt(s) > 0.6);
        }
    /* the same chip twice gives the same numbers (no state between runs) */
    float again[128];
    ASSERT_OK(ft__dlibnet_run(&ctx, net, c->px[0], again));
    ASSERT(memcmp(again, d[0], sizeof again) == 0);
    ft__dlibnet_close(net);
    free(c);
}

/* ------------------------------------------------------------------------ */
/* Damaged files                                                            */
/* ------------------------------------------------------------------------ */

static unsigned char *read_model(size_t *len)
{
    unsigned char *buf = NULL;
    char e[512];
    ASSERT_OK(ft__read_file(model_path(), 64u << 20, &buf, len, e, sizeof e));
    return buf;
}

/* Opens a private copy of the first n bytes of b (so that ASan sees any read
** past the end) and expects FT_EMODEL naming the file. */
static void expect_bad(const unsigned char *b, size_t n, const char *needle)
{
    unsigned char *copy = malloc(n ? n : 1);
    ASSERT(copy);
    memcpy(copy, b, n);
    ft__dlibnet *net = (ft__dlibnet *)1;
    err[0] = 0;
    int rc = ft__dlibnet_open_mem(copy, n, "bad.dat", &net, err, sizeof err);
    if (rc != FT_EMODEL)
        ft_test_fail(__FILE__, __LINE__, "%zu bytes: rc %d (%s), expected FT_EMODEL", n, rc, err);
    ASSERT(net == NULL);
    ASSERT_STR_CONTAINS(err, "bad.dat");
    if (needle) ASSERT_STR_CONTAINS(err, needle);
    free(copy);
}

/* Offset of the first occurrence of s in b. */
static size_t find(const unsigned char *b, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(b + i, s, n) == 0) return i;
    ft_test_fail(__FILE__, __LINE__, "\"%s\" not in the model", s);
}

/* Every prefix of the header (the versions, the input layer, the first
** layers) and prefixes spread over the weights to the last byte. */
static void test_dlib_net_truncated(void)
{
    size_t len;
    unsigned char *b = read_model(&len);
    size_t head = find(b, len, "max_pool_2") + 64;
    for (size_t n = 0; n < head; n++)
        expect_bad(b, n, NULL);
    for (int i = 1; i <= 60; i++)
        expect_bad(b, len - len / 61 * (size_t)i, NULL);
    expect_bad(b, len - 1, NULL);
    expect_bad(b, len - 1, "truncated");
    printf("# %zu header prefixes and 62 longer ones refused\n", head);
    free(b);
    no_leaks();
}

/* Changed fields: each gives FT_EMODEL with a message saying what. */
static void test_dlib_net_damaged(void)
{
    size_t len;
    unsigned char *b = read_model(&len);
    unsigned char *t = malloc(len + 1);
    ASSERT(t);
#define EDIT(off, byte, needle)     \
    do {                            \
        memcpy(t, b, len);          \
        t[(off)] = (byte);          \
        expect_bad(t, len, needle); \
    } while (0)
    /* a layer kind: the first "relu_" spelt "rel__" */
    EDIT(find(b, len, "relu_") + 3, '_', "layer 3 (relu)");
    /* a version string: "con_4" -> "con_7" */
    EDIT(find(b, len, "con_4") + 4, '7', "con_4 or con_5");
    /* the loss layer: "loss_metric_2" -> "loss_metric_3" */
    EDIT(find(b, len, "loss_metric_2") + 12, '3', "loss");
    /* the input size: nr 150 (0x01 0x96) -> 151 */
    {
        size_t at = find(b, len, "input_rgb_image_sized") + 21 + 3 * 0; /* after the name */
        /* three floats: each an int64 then an int16, skip them */
        for (int k = 0; k < 6; k++)
            at += 1 + (b[at] & 0x0f);
        ASSERT_EQ(b[at], 0x01);
        ASSERT_EQ(b[at + 1], 150);
        EDIT(at + 1, 151, "151x150");
    }
    /* a stride: the stem's max_pool 3x3/2 -> stride_y 3 */
    {
        size_t at = find(b, len, "max_pool_2") + 10; /* nr, nc: 0x01 0x03 each */
        ASSERT_EQ(b[at], 0x01);
        ASSERT_EQ(b[at + 1], 3);
        ASSERT_EQ(b[at + 4], 0x01);
        ASSERT_EQ(b[at + 5], 2);
        EDIT(at + 5, 3, "stride_y 3");
    }
    /* a wrapper version: the first int after the loss layer, 2 -> 5 */
    {
        size_t at = find(b, len, "loss_metric_2") + 13;
        for (int k = 0; k < 4; k++)
            at += 1 + (b[at] & 0x0f); /* margin, threshold */
        ASSERT_EQ(b[at], 0x01);
        ASSERT_EQ(b[at + 1], 2);
        EDIT(at + 1, 5, "wrapper version 5");
    }
    /* a filter count in the first con: params tensor 4736 floats; change the
    ** first dimension's low byte so the count no longer fits */
    {
        size_t at = find(b, len, "con_4") + 5; /* tensor version 0x01 0x02 */
        ASSERT_EQ(b[at], 0x01);
        ASSERT_EQ(b[at + 1], 2);
        ASSERT_EQ(b[at + 2], 0x02); /* 4736 = 0x1280: two bytes */
        EDIT(at + 3, 0x81, "parameters");
    }
    /* one byte too many */
    memcpy(t, b, len);
    t[len] = 0;
    expect_bad(t, len + 1, "after the last layer");
    /* garbage of several sizes */
    uint32_t s = 99;
    for (size_t n = 1; n <= 1 << 16; n *= 4) {
        for (size_t i = 0; i < n; i++)
            t[i] = (unsigned char)((s = s * 1664525u + 1013904223u) >> 24);
        expect_bad(t, n, NULL);
    }
#undef EDIT
    free(t);
    free(b);
    no_leaks();
}

/* A file under the model's name with one weight byte changed parses, but
** its SHA-256 pin refuses it; a missing file is FT_EIO. */
static void test_dlib_net_pin(void)
{
    size_t len;
    unsigned char *b = read_model(&len);
    char dir[] = "/tmp/ft_dlib_pinXXXXXX";
    ASSERT(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/dlib_face_recognition_resnet_model_v1.dat", dir);
    b[len / 2] ^= 0x40;
    FILE *f = fopen(path, "wb");
    ASSERT(f);
    ASSERT_EQ(fwrite(b, 1, len, f), len);
    ASSERT_EQ(fclose(f), 0);
    ft__dlibnet *net = NULL;
    int rc = ft__dlibnet_open(path, &net, err, sizeof err);
    printf("# %s\n", err);
    ASSERT_EQ(rc, FT_EMODEL);
    ASSERT(net == NULL);
    ASSERT_STR_CONTAINS(err, path);
    unlink(path);
    rc = ft__dlibnet_open(path, &net, err, sizeof err);
    ASSERT_EQ(rc, FT_EIO);
    ASSERT_STR_CONTAINS(err, path);
    rmdir(dir);
    free(b);
    no_leaks();
}

/* The N-th allocation fails: FT_ENOMEM, nothing leaked, for N spread over
** the parse and the set-up. */
static void test_dlib_net_nomem(void)
{
    size_t len;
    unsigned char *b = read_model(&len);
    int tried = 0;
    for (long n = 0;; n += n < 8 ? 1 : 23) {
        ft__dlibnet *net = NULL;
        ft__alloc_fail_after(n);
        int rc = ft__dlibnet_open_mem(b, len, "m.dat", &net, err, sizeof err);
        ft__alloc_fail_after(-1);
        if (rc == FT_OK) {
            ft__dlibnet_close(net);
            break;
        }
        if (rc != FT_ENOMEM)
            ft_test_fail(__FILE__, __LINE__, "failing allocation %ld: rc %d (%s)", n, rc, err);
        ASSERT(net == NULL);
        tried++;
    }
    printf("# %d failing allocations tried\n", tried);
    ASSERT(tried > 10);
    free(b);
    no_leaks();
}

FT_TESTS(FT_TEST(test_dlib_net_parity), FT_TEST(test_dlib_net_xnn_vs_ref),
         FT_TEST(test_dlib_net_length), FT_TEST(test_dlib_net_truncated),
         FT_TEST(test_dlib_net_damaged), FT_TEST(test_dlib_net_pin), FT_TEST(test_dlib_net_nomem))
