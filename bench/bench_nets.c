/*
** bench/bench_nets.c: per-stage timings of the four nets, as the reference
** peer's faceapi-bench.mjs measures them, so the two can be compared.
**
**   bench_nets [--threads N] [--repeats R] [--warmup W] [--models DIR] [--json] IMAGE...
**
** Stages (median ms per call over all items x repeats, after W warm-up runs):
**   detect_ssd       SSD on the whole image (pad + resize to 512 included)
**   detect_ssd_net   SSD on an image already 512x512 (net + NMS)
**   detect_tiny      tiny detector at 416 on the whole image
**   detect_tiny_net  tiny detector on an image already 416x416
**   landmarks        68-point net on each SSD face crop (resize to 112 incl.)
**   landmarks_tiny   the tiny landmark net, likewise
**   descriptor       descriptor net on each aligned crop (resize to 150 incl.)
** Also the multiply-accumulates of one call, so that GFLOP/s = 2 * MACs / time.
*/
#include "align/align.h"
#include "detect/detect.h"
#include "embed/embed.h"
#include "image/netinput.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FACES 64

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct stage {
    const char *name, *unit;
    double *times;
    int n, cap;
    uint64_t macs; /* per call */
} stage;

static void record(stage *s, double ms)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->times = realloc(s->times, (size_t)s->cap * sizeof(double));
        if (!s->times) abort();
    }
    s->times[s->n++] = ms;
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_nets: %s: %s\n", what, err);
    exit(2);
}

/* Nearest-pixel resize, only to make "already at net size" inputs. */
static ft_image *resized(const ft_image *img, int size)
{
    ft_image *out;
    if (ft_image_create(size, size, &out) != FT_OK) die("resize", "out of memory");
    int S = img->width > img->height ? img->width : img->height;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            int sx = x * S / size, sy = y * S / size;
            if (sx < img->width && sy < img->height)
                memcpy(out->rgb + ((size_t)y * size + x) * 3,
                       img->rgb + ((size_t)sy * img->width + sx) * 3, 3);
        }
    return out;
}

int main(int argc, char **argv)
{
    int threads = 1, repeats = 10, warmup = 2, json = 0;
    const char *models = getenv("FT_MODEL_DIR") ? getenv("FT_MODEL_DIR") : "models/face-api/model";
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        const char *a = argv[first];
        if (!strcmp(a, "--threads") && first + 1 < argc) threads = atoi(argv[++first]);
        else if (!strcmp(a, "--repeats") && first + 1 < argc) repeats = atoi(argv[++first]);
        else if (!strcmp(a, "--warmup") && first + 1 < argc) warmup = atoi(argv[++first]);
        else if (!strcmp(a, "--models") && first + 1 < argc) models = argv[++first];
        else if (!strcmp(a, "--json")) json = 1;
        else {
            fprintf(stderr, "usage: bench_nets [--threads N] [--repeats R] [--warmup W] "
                            "[--models DIR] [--json] IMAGE...\n");
            return 2;
        }
    }
    if (first >= argc || threads < 1 || repeats < 1 || warmup < 0) die("usage", "no images");
    char err[512];
    ft__ssd *ssd;
    ft__tiny *tiny;
    ft__landmark_net *lm, *lmt;
    ft__recog_net *rec;
    if (ft__ssd_open(models, &ssd, err, sizeof err) || ft__tiny_open(models, &tiny, err, sizeof err) ||
        ft__landmark_open(models, 0, &lm, err, sizeof err) ||
        ft__landmark_open(models, 1, &lmt, err, sizeof err) ||
        ft__recog_open(models, &rec, err, sizeof err))
        die("models", err);
    pthreadpool_t pool = threads > 1 ? pthreadpool_create((size_t)threads) : NULL;
    uint64_t macs = 0;
    ft__nn_ctx ctx = { pool, 0, NULL }, count = { pool, 0, &macs };

    stage st[7] = { { "detect_ssd", "image" },      { "detect_ssd_net", "image" },
                    { "detect_tiny", "image" },     { "detect_tiny_net", "image" },
                    { "landmarks", "face" },        { "landmarks_tiny", "face" },
                    { "descriptor", "face" } };
    static float chip[150 * 150 * 3];
    int n_faces_total = 0;
    for (int f = first; f < argc; f++) {
        ft_image *img;
        if (ft_image_load(argv[f], 0, &img, err, sizeof err) != FT_OK) die(argv[f], err);
        ft_image *in512 = resized(img, 512), *in416 = resized(img, 416);
        ft__detections dets = { 0 }, scratch = { 0 };
        if (ft__ssd_detect(&ctx, ssd, img, 0.5f, 100, &dets) != FT_OK) die(argv[f], "ssd failed");
        int crops[MAX_FACES][4], dcrops[MAX_FACES][4], n = 0;
        for (int i = 0; i < dets.n && n < MAX_FACES; i++) {
            const ft__detection *d = &dets.v[i];
            if (!ft__clip_box(d->x, d->y, d->w, d->h, img->width, img->height, crops[n])) continue;
            double rel[68][2], pts[68][2], rect[4];
            ft__landmark_run(&ctx, lm, img, crops[n], rel);
            for (int k = 0; k < 68; k++) pts[k][0] = rel[k][0] + d->x, pts[k][1] = rel[k][1] + d->y;
            ft__align_dlib((const double(*)[2])pts, crops[n][2], crops[n][3], rect);
            if (!ft__clip_box(rect[0], rect[1], rect[2], rect[3], img->width, img->height, dcrops[n]))
                continue;
            n++;
        }
        n_faces_total += n;
        for (int r = -warmup; r < repeats; r++) {
            double t0;
            float desc[128];
            double rel[68][2];
#define TIMED(si, call)                                              \
    do {                                                             \
        macs = 0;                                                    \
        t0 = ft__now();                                              \
        if ((call) != FT_OK) die(argv[f], st[si].name);              \
        if (r >= 0) record(&st[si], (ft__now() - t0) * 1e3);         \
    } while (0)
            scratch.n = 0;
            TIMED(0, ft__ssd_detect(&ctx, ssd, img, 0.5f, 100, &scratch));
            scratch.n = 0;
            TIMED(1, ft__ssd_detect(&ctx, ssd, in512, 0.5f, 100, &scratch));
            scratch.n = 0;
            TIMED(2, ft__tiny_detect(&ctx, tiny, img, 416, 0.5f, &scratch));
            scratch.n = 0;
            TIMED(3, ft__tiny_detect(&ctx, tiny, in416, 416, 0.5f, &scratch));
            for (int i = 0; i < n; i++) {
                TIMED(4, ft__landmark_run(&ctx, lm, img, crops[i], rel));
                TIMED(5, ft__landmark_run(&ctx, lmt, img, crops[i], rel));
                TIMED(6, ft__net_input(img, dcrops[i][0], dcrops[i][1], dcrops[i][2], dcrops[i][3],
                                       FT__SQUARE_CENTRED, 150, chip) ||
                             ft__recog_run_chip(&ctx, rec, chip, desc));
            }
        }
        /* multiply-accumulates of one call of each net */
        if (f == first) {
            scratch.n = 0;
            macs = 0, ft__ssd_detect(&count, ssd, in512, 0.5f, 100, &scratch), st[0].macs = st[1].macs = macs;
            scratch.n = 0;
            macs = 0, ft__tiny_detect(&count, tiny, in416, 416, 0.5f, &scratch), st[2].macs = st[3].macs = macs;
            double rel[68][2];
            float desc[128];
            if (n > 0) {
                macs = 0, ft__landmark_run(&count, lm, img, crops[0], rel), st[4].macs = macs;
                macs = 0, ft__landmark_run(&count, lmt, img, crops[0], rel), st[5].macs = macs;
                macs = 0, ft__recog_run_chip(&count, rec, chip, desc), st[6].macs = macs;
            }
        }
        ft__detections_free(&dets);
        ft__detections_free(&scratch);
        ft_image_destroy(img);
        ft_image_destroy(in512);
        ft_image_destroy(in416);
    }
    if (json) printf("{\"threads\":%d,\"repeats\":%d,\"faces\":%d,\"results\":[", threads, repeats,
                     n_faces_total);
    for (int i = 0; i < 7; i++) {
        double med = st[i].n ? median(st[i].times, st[i].n) : NAN;
        double gflops = 2.0 * (double)st[i].macs / (med * 1e-3) / 1e9;
        if (json)
            printf("%s{\"stage\":\"%s\",\"unit\":\"%s\",\"calls\":%d,\"median_ms\":%.4f,"
                   "\"gmacs\":%.4f,\"gflops\":%.2f}",
                   i ? "," : "", st[i].name, st[i].unit, st[i].n, med, st[i].macs / 1e9, gflops);
        else
            printf("%-16s %8.3f ms/%s  (%d calls, %.3f GMAC, %.1f GFLOP/s)\n", st[i].name, med,
                   st[i].unit, st[i].n, st[i].macs / 1e9, gflops);
        free(st[i].times);
    }
    if (json) printf("]}\n");
    ft__ssd_close(ssd);
    ft__tiny_close(tiny);
    ft__landmark_close(lm);
    ft__landmark_close(lmt);
    ft__recog_close(rec);
    if (pool) pthreadpool_destroy(pool);
    return 0;
}
