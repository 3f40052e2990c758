/*
** bench/bench_nets.c: per-stage timings of the nets, as the reference peer's
** faceapi-bench.mjs measures them, so the two can be compared.
**
**   bench_nets [--threads N] [--repeats R] [--warmup W] [--models DIR]
**              [--frame FRAME] [--json] IMAGE...
**   bench_nets --crop-frame SRC Y0 OUT   (writes SRC's rows Y0..Y0+1079,
**                                         1920 wide, to the PNG OUT)
**
** Stages (median ms per call over all items x repeats, after W warm-up runs):
**   detect_ssd       SSD on the whole image (pad + resize to 512 included)
**   detect_ssd_net   SSD on an image already 512x512 (net + NMS)
**   detect_tiny      tiny detector at 416 on the whole image
**   detect_tiny_net  tiny detector on an image already 416x416
**   landmarks        68-point net on each SSD face crop (resize to 112 incl.)
**   landmarks_tiny   the tiny landmark net, likewise
**   descriptor       descriptor net on each aligned crop (resize to 150 incl.)
** and on FRAME (a 1920x1080 frame, which the peer's detect_ssd also runs on),
** with the default pipeline's parts on the faces YuNet finds in the IMAGEs:
**   yunet_frame      YuNet on the whole frame at full resolution: input
**                    conversion, net, decoding and NMS (ft__yunet_detect)
**   yunet_frame_net  the net alone on the converted input
**   ssd_frame        SSD 512 on the frame (pad + resize included)
**   dlib5            dlib's 5-point predictor on a face's box, one pass (the
**                    pipeline runs two: the box refitted to the mean shape)
**   dlib_chip        dlib's 150 px chip from the 5 points (chip details +
**                    extract_image_chip)
**   dlib_descriptor  dlib's ResNet on the chip
**   dlib_descriptor_mirror  the same averaged with the mirror image's (two
**                    runs: what the default pipeline does)
**   pipeline_frame   the whole default pipeline (ft_engine_detect with
**                    ft_detect_default_params) on the frame
** Also the multiply-accumulates of one call, so that GFLOP/s = 2 * MACs / time.
*/
#include "align/align.h"
#include "detect/detect.h"
#include "embed/embed.h"
#include "image/netinput.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FACES 64
#define N_STAGES  15
#define CHIP      150

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

/* --crop-frame: SRC's rows y0..y0+1079 (1920 columns) as a PNG. */
static int crop_frame(const char *src, int y0, const char *dst)
{
    char err[512];
    ft_image *img, *out;
    if (ft_image_load(src, 0, &img, err, sizeof err) != FT_OK) die(src, err);
    if (img->width < 1920 || y0 < 0 || y0 + 1080 > img->height) die(src, "smaller than the crop");
    if (ft_image_create(1920, 1080, &out) != FT_OK) die("crop", "out of memory");
    for (int y = 0; y < 1080; y++)
        memcpy(out->rgb + (size_t)y * 1920 * 3, img->rgb + ((size_t)(y0 + y) * img->width) * 3,
               1920 * 3);
    if (ft_image_save_png(out, dst, err, sizeof err) != FT_OK) die(dst, err);
    ft_image_destroy(out);
    ft_image_destroy(img);
    return 0;
}

/* The descriptor of a chip averaged with its mirror image's, as the engine
** computes it (the chip is left mirrored). */
static int descriptor_mirror(const ft__nn_ctx *ctx, ft__dlibnet *net, uint8_t *chip, float *desc)
{
    float flipped[128];
    int rc = ft__dlibnet_run(ctx, net, chip, desc);
    if (rc != FT_OK) return rc;
    for (int y = 0; y < CHIP; y++)
        for (int x = 0; x < CHIP / 2; x++)
            for (int c = 0; c < 3; c++) {
                uint8_t *a = &chip[((size_t)y * CHIP + x) * 3 + c];
                uint8_t *b = &chip[((size_t)y * CHIP + (CHIP - 1 - x)) * 3 + c];
                uint8_t t = *a;
                *a = *b, *b = t;
            }
    if ((rc = ft__dlibnet_run(ctx, net, chip, flipped)) != FT_OK) return rc;
    for (int i = 0; i < 128; i++)
        desc[i] = 0.5f * (desc[i] + flipped[i]);
    return FT_OK;
}

/* dlib's rectangle (inclusive edges) of a detector box, as the engine's
** first predictor pass takes it. */
static ft__rect box_rect(const ft__detection *d)
{
    ft__rect r = { lround(d->x), lround(d->y), lround(d->x + d->w) - 1, lround(d->y + d->h) - 1 };
    return r;
}

int main(int argc, char **argv)
{
    int threads = 1, repeats = 10, warmup = 2, json = 0;
    const char *models = getenv("FT_MODEL_DIR") ? getenv("FT_MODEL_DIR") : "models/face-api/model";
    const char *frame_path = NULL;
    int first = 1;
    if (argc == 5 && !strcmp(argv[1], "--crop-frame"))
        return crop_frame(argv[2], atoi(argv[3]), argv[4]);
    for (; first < argc && argv[first][0] == '-'; first++) {
        const char *a = argv[first];
        if (!strcmp(a, "--threads") && first + 1 < argc)
            threads = atoi(argv[++first]);
        else if (!strcmp(a, "--repeats") && first + 1 < argc)
            repeats = atoi(argv[++first]);
        else if (!strcmp(a, "--warmup") && first + 1 < argc)
            warmup = atoi(argv[++first]);
        else if (!strcmp(a, "--models") && first + 1 < argc)
            models = argv[++first];
        else if (!strcmp(a, "--frame") && first + 1 < argc)
            frame_path = argv[++first];
        else if (!strcmp(a, "--json"))
            json = 1;
        else {
            fprintf(stderr, "usage: bench_nets [--threads N] [--repeats R] [--warmup W] "
                            "[--models DIR] [--frame FRAME] [--json] IMAGE...\n"
                            "       bench_nets --crop-frame SRC Y0 OUT\n");
            return 2;
        }
    }
    if (first >= argc || threads < 1 || repeats < 1 || warmup < 0) die("usage", "no images");
    char err[512], path[4096];
    ft__ssd *ssd;
    ft__tiny *tiny;
    ft__landmark_net *lm, *lmt;
    ft__recog_net *rec;
    ft__yunet *yunet;
    ft__shape5 *sp;
    ft__dlibnet *dnet;
    if (ft__ssd_open(models, &ssd, err, sizeof err) ||
        ft__tiny_open(models, &tiny, err, sizeof err) ||
        ft__landmark_open(models, 0, &lm, err, sizeof err) ||
        ft__landmark_open(models, 1, &lmt, err, sizeof err) ||
        ft__recog_open(models, &rec, err, sizeof err))
        die("models", err);
    /* the engine's layout: yunet/ and dlib/ beside face-api/ */
    snprintf(path, sizeof path, "%s/../../yunet/yunet_n_dynamic.onnx", models);
    if (ft__yunet_open(path, &yunet, err, sizeof err)) die("models", err);
    snprintf(path, sizeof path, "%s/../../dlib/shape_predictor_5_face_landmarks.dat", models);
    if (ft__shape5_open(path, &sp, err, sizeof err)) die("models", err);
    snprintf(path, sizeof path, "%s/../../dlib/dlib_face_recognition_resnet_model_v1.dat", models);
    if (ft__dlibnet_open(path, &dnet, err, sizeof err)) die("models", err);
    pthreadpool_t pool = threads > 1 ? pthreadpool_create((size_t)threads) : NULL;
    uint64_t macs = 0;
    ft__nn_ctx ctx = { pool, 0, NULL }, count = { pool, 0, &macs };
    const ft_detect_params dp = ft_detect_default_params();
    const float yunet_score = dp.min_score;

    stage st[N_STAGES] = { { .name = "detect_ssd", .unit = "image" },
                           { .name = "detect_ssd_net", .unit = "image" },
                           { .name = "detect_tiny", .unit = "image" },
                           { .name = "detect_tiny_net", .unit = "image" },
                           { .name = "landmarks", .unit = "face" },
                           { .name = "landmarks_tiny", .unit = "face" },
                           { .name = "descriptor", .unit = "face" },
                           { .name = "yunet_frame", .unit = "frame" },
                           { .name = "yunet_frame_net", .unit = "frame" },
                           { .name = "ssd_frame", .unit = "frame" },
                           { .name = "dlib5", .unit = "face" },
                           { .name = "dlib_chip", .unit = "face" },
                           { .name = "dlib_descriptor", .unit = "face" },
                           { .name = "dlib_descriptor_mirror", .unit = "face" },
                           { .name = "pipeline_frame", .unit = "frame" } };
    static float chip[150 * 150 * 3];
    static uint8_t chip8[CHIP * CHIP * 3];
    int n_faces_total = 0, n_yunet_faces = 0;
    for (int f = first; f < argc; f++) {
        ft_image *img;
        if (ft_image_load(argv[f], 0, &img, err, sizeof err) != FT_OK) die(argv[f], err);
        ft_image *in512 = resized(img, 512), *in416 = resized(img, 416);
        ft__detections dets = { 0 }, scratch = { 0 }, ydets = { 0 };
        if (ft__ssd_detect(&ctx, ssd, img, 0.5f, 100, &dets) != FT_OK) die(argv[f], "ssd failed");
        if (ft__yunet_detect(&ctx, yunet, img, yunet_score, FT__YUNET_NMS_IOU, FT__YUNET_TOP_K,
                             &ydets) != FT_OK)
            die(argv[f], ft__yunet_errmsg(yunet));
        int crops[MAX_FACES][4], dcrops[MAX_FACES][4], n = 0;
        for (int i = 0; i < dets.n && n < MAX_FACES; i++) {
            const ft__detection *d = &dets.v[i];
            if (!ft__clip_box(d->x, d->y, d->w, d->h, img->width, img->height, crops[n])) continue;
            double rel[68][2], pts[68][2], rect[4];
            ft__landmark_run(&ctx, lm, img, crops[n], rel);
            for (int k = 0; k < 68; k++)
                pts[k][0] = rel[k][0] + d->x, pts[k][1] = rel[k][1] + d->y;
            ft__align_dlib((const double(*)[2])pts, crops[n][2], crops[n][3], rect);
            if (!ft__clip_box(rect[0], rect[1], rect[2], rect[3], img->width, img->height,
                              dcrops[n]))
                continue;
            n++;
        }
        n_faces_total += n;
        /* YuNet's faces: the box for dlib's predictor, its 5 points for the chip */
        int ny = ydets.n < MAX_FACES ? ydets.n : MAX_FACES;
        ft__chip_details cds[MAX_FACES];
        for (int i = 0; i < ny; i++) {
            ft__shape5_out o;
            ft__shape5_run(sp, img, box_rect(&ydets.v[i]), &o);
            ft__dlib_face_chip_details((const long(*)[2])o.pt, CHIP, 0.25, &cds[i]);
        }
        n_yunet_faces += ny;
        for (int r = -warmup; r < repeats; r++) {
            double t0;
            float desc[128];
            double rel[68][2];
            ft__shape5_out o;
#define TIMED(si, call)                                      \
    do {                                                     \
        macs = 0;                                            \
        t0 = ft__now();                                      \
        if ((call) != FT_OK) die(argv[f], st[si].name);      \
        if (r >= 0) record(&st[si], (ft__now() - t0) * 1e3); \
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
            for (int i = 0; i < ny; i++) {
                TIMED(10, ft__shape5_run(sp, img, box_rect(&ydets.v[i]), &o));
                TIMED(11, (ft__dlib_face_chip_details((const long(*)[2])o.pt, CHIP, 0.25, &cds[i]),
                           ft__dlib_extract_chip(img, &cds[i], chip8)));
                TIMED(12, ft__dlibnet_run(&ctx, dnet, chip8, desc));
                TIMED(13, descriptor_mirror(&ctx, dnet, chip8, desc));
            }
        }
        /* multiply-accumulates of one call of each net */
        if (f == first) {
            scratch.n = 0;
            macs = 0, ft__ssd_detect(&count, ssd, in512, 0.5f, 100, &scratch),
            st[0].macs = st[1].macs = macs;
            scratch.n = 0;
            macs = 0, ft__tiny_detect(&count, tiny, in416, 416, 0.5f, &scratch),
            st[2].macs = st[3].macs = macs;
            double rel[68][2];
            float desc[128];
            if (n > 0) {
                macs = 0, ft__landmark_run(&count, lm, img, crops[0], rel), st[4].macs = macs;
                macs = 0, ft__landmark_run(&count, lmt, img, crops[0], rel), st[5].macs = macs;
                macs = 0, ft__recog_run_chip(&count, rec, chip, desc), st[6].macs = macs;
            }
            if (ny > 0) {
                macs = 0, ft__dlibnet_run(&count, dnet, chip8, desc);
                st[12].macs = macs, st[13].macs = 2 * macs;
            }
        }
        ft__detections_free(&dets);
        ft__detections_free(&scratch);
        ft__detections_free(&ydets);
        ft_image_destroy(img);
        ft_image_destroy(in512);
        ft_image_destroy(in416);
    }

    /* the 1920x1080 frame: YuNet, the peer's SSD, the whole pipeline */
    int frame_w = 0, frame_h = 0, frame_faces = 0;
    if (frame_path) {
        ft_image *fr;
        if (ft_image_load(frame_path, 0, &fr, err, sizeof err) != FT_OK) die(frame_path, err);
        frame_w = fr->width, frame_h = fr->height;
        ft_engine_params ep = ft_engine_default_params();
        ep.model_dir = models, ep.n_threads = threads;
        ft_engine *eng;
        if (ft_engine_open(&ep, &eng, err, sizeof err) != FT_OK) die("engine", err);
        if (ft_engine_preload(eng, &dp) != FT_OK) die("engine", ft_engine_errmsg(eng));
        static ft_face faces[MAX_FACES];
        int pw, ph;
        ft__yunet_padded_size(fr->width, fr->height, &pw, &ph);
        float *input = malloc(((size_t)pw * ph * 3 + FT__XNN_SLACK) * sizeof(float));
        if (!input) die("frame", "out of memory");
        ft__yunet_input(fr, input);
        ft__detections scratch = { 0 };
        ft__tensor raw[FT__YUNET_N_OUT];
        const char *fn = frame_path;
        for (int r = -warmup; r < repeats; r++) {
            double t0;
#undef TIMED
#define TIMED(si, call)                                      \
    do {                                                     \
        macs = 0;                                            \
        t0 = ft__now();                                      \
        if ((call) != FT_OK) die(fn, st[si].name);           \
        if (r >= 0) record(&st[si], (ft__now() - t0) * 1e3); \
    } while (0)
            scratch.n = 0;
            TIMED(7, ft__yunet_detect(&ctx, yunet, fr, yunet_score, FT__YUNET_NMS_IOU,
                                      FT__YUNET_TOP_K, &scratch));
            TIMED(8, ft__yunet_forward(&ctx, yunet, input, ph, pw, raw));
            scratch.n = 0;
            TIMED(9, ft__ssd_detect(&ctx, ssd, fr, 0.5f, 100, &scratch));
            TIMED(14, ft_engine_detect(eng, fr, &dp, faces, MAX_FACES, &frame_faces));
        }
        macs = 0, ft__yunet_forward(&count, yunet, input, ph, pw, raw);
        st[7].macs = st[8].macs = macs;
        scratch.n = 0;
        macs = 0, ft__ssd_detect(&count, ssd, fr, 0.5f, 100, &scratch), st[9].macs = macs;
        ft__detections_free(&scratch);
        free(input);
        ft_engine_close(eng);
        ft_image_destroy(fr);
    }
    if (json)
        printf("{\"threads\":%d,\"repeats\":%d,\"faces\":%d,\"yunet_faces\":%d,\"frame\":{"
               "\"file\":\"%s\",\"width\":%d,\"height\":%d,\"faces\":%d},\"results\":[",
               threads, repeats, n_faces_total, n_yunet_faces, frame_path ? frame_path : "",
               frame_w, frame_h, frame_faces);
    else if (frame_path)
        printf("frame %s: %dx%d, %d faces in the default pipeline; %d YuNet faces in the images\n",
               frame_path, frame_w, frame_h, frame_faces, n_yunet_faces);
    for (int i = 0, k = 0; i < N_STAGES; i++) {
        if (!st[i].n) continue;
        double med = median(st[i].times, st[i].n);
        double gflops = 2.0 * (double)st[i].macs / (med * 1e-3) / 1e9;
        if (json)
            printf("%s{\"stage\":\"%s\",\"unit\":\"%s\",\"calls\":%d,\"median_ms\":%.4f,"
                   "\"gmacs\":%.4f,\"gflops\":%.2f}",
                   k++ ? "," : "", st[i].name, st[i].unit, st[i].n, med, st[i].macs / 1e9, gflops);
        else
            printf("%-22s %8.3f ms/%s  (%d calls, %.3f GMAC, %.1f GFLOP/s)\n", st[i].name, med,
                   st[i].unit, st[i].n, st[i].macs / 1e9, gflops);
        free(st[i].times);
    }
    if (json) printf("]}\n");
    ft__ssd_close(ssd);
    ft__tiny_close(tiny);
    ft__landmark_close(lm);
    ft__landmark_close(lmt);
    ft__recog_close(rec);
    ft__yunet_close(yunet);
    ft__shape5_free(sp);
    ft__dlibnet_close(dnet);
    if (pool) pthreadpool_destroy(pool);
    return 0;
}
