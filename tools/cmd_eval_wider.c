/*
** tools/cmd_eval_wider.c: `facetrail eval wider`, face-detection accuracy with
** the official WIDER FACE protocol (AP on the easy, medium and hard levels)
** and the recall by face height at an operating score.
**
** DESIGN
**   Load the ground truth and the three index files (ft_wider_gt_load), then
**   get detections for the first N images, either by running facetrail's
**   detector on DIR/<file> (no landmarks, no descriptors; a low min score by
**   default so that the PR curve has its low-score tail: 0.02 for YuNet, as
**   upstream evaluates it, whose score cls x obj is a product of two
**   sigmoids; 0.05 for SSD and tiny, as the peer) or by reading a JSON
**   Lines file in the format of the reference peer's faceapi-detect.mjs, and
**   score them with ft_wider_evaluate: the same protocol for both, so the
**   peer's anchor and facetrail are compared like for like.
**   Every image path is checked before the engine starts; any image that
**   cannot be read or detected stops the run (a partial score would not be
**   the protocol's), e.g. one YuNet refuses as too big (WIDER's images are
**   1024 px wide and at most about 2.2 Mpx padded, far below its limit).
**   Besides the AP, precision and recall at a grid of operating points (raw
**   score x shortest face kept, ft_wider_operating_points): what a product
**   that keeps those detections sees, for choosing its default score.
**
** OUTPUT      a table on stdout, or with --json one object on one line. A
**             progress line on stderr while detecting when stderr is a
**             terminal, and a one-line summary of the run on stderr.
** EXIT STATUS 0 done, 2 usage error, unreadable file, image or model.
** SEE ALSO    include/facetrail.h (the only library header used here);
**             src/eval/wider.c (the protocol).
*/
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char wider_usage[] =
    "usage: facetrail eval wider --gt FILE --index-dir DIR --images DIR [options]\n"
    "       facetrail eval wider --gt FILE --index-dir DIR --predictions FILE [options]\n"
    "\n"
    "Face-detection accuracy with the official WIDER FACE protocol (as the MATLAB\n"
    "tool and its Python port compute it): scores normalised over all detections,\n"
    "IoU >= 0.5 (+1 pixel convention), faces outside a level's list ignored, AP on\n"
    "the easy, medium and hard levels. Also the recall of the hard-level faces by\n"
    "face height (< 16, 16-32, 32-64, >= 64 px) at an operating score.\n"
    "\n"
    "  --gt FILE               wider_face_val_bbx_gt.txt\n"
    "  --index-dir DIR         folder with wider_val_{easy,medium,hard}_gt_index.txt\n"
    "  --images DIR            images folder: image paths are DIR/<file line of the gt>\n"
    "  --predictions FILE      score detections from a JSON Lines file instead of running\n"
    "                          the detector: {\"file\":..,\"faces\":[{\"box\":[x,y,w,h],\n"
    "                          \"score\":..}]} per image (the peer's faceapi-detect.mjs)\n"
    "  --limit N               evaluate only the first N images of the gt file\n"
    "  --json                  print one JSON object instead of the table\n"
    "  --operating-threshold X raw score at which recall by height is measured\n"
    "                          (default: the detector's default min score, 0.6 for\n"
    "                          yunet, 0.5 for ssd and tiny; 0.5 with --predictions)\n"
    "  --operating-scores LIST raw scores of the precision/recall table, comma-\n"
    "                          separated (default 0.3,0.4,0.5,0.6,0.7,0.8)\n"
    "  --operating-heights LIST  shortest faces kept in that table, pixels: shorter\n"
    "                          detections are dropped and shorter faces ignored\n"
    "                          (default 0,32,48)\n"
    "\n"
    "detector options (with --images):\n"
    "  --detector yunet|ssd|tiny  face detector (default yunet)\n"
    "  --input-size N          tiny detector input size, a multiple of 32 (default 416)\n"
    PIPELINE_OPTIONS_HELP
    "  --min-score X           lowest score kept, in (0, 1) (default 0.02 for yunet, as\n"
    "                          upstream evaluates it, 0.05 for ssd and tiny, as the\n"
    "                          peer: the PR curve needs the low-score detections)\n"
    "  --max-results N         most faces the ssd detector keeps (default 1000, as the peer)\n"
    "  --models DIR            model folder (default $FT_MODEL_DIR, else " DEFAULT_MODEL_DIR ")\n"
    "  --threads N             worker threads (default 1; more only on an idle machine)\n"
    "  -h, --help              this text\n"
    "\n"
    "JSON: {\"images\":..,\"faces\":{\"easy\":..,\"medium\":..,\"hard\":..},\"ap_easy\":..,\n"
    "\"ap_medium\":..,\"ap_hard\":..,\"recall_by_height\":[{\"min\":0,\"max\":16,\"faces\":..,\n"
    "\"matched\":..,\"recall\":..},..],\"operating_threshold\":..,\"operating_points\":\n"
    "[{\"score\":..,\"min_height\":..,\"faces\":..,\"recalled\":..,\"detections\":..,\n"
    "\"ignored\":..,\"false_positives\":..,\"precision\":..,\"recall\":..},..],\"detector\":..,\n"
    "\"input_size\":..,\"tile\":..,\"min_score\":..,\"detections\":..,\"ms_per_image\":..,..}.\n"
    "input_size is null for yunet (the image at its own size, padded to 32) and\n"
    "with --predictions; tile is 0 without --tile. ms_per_image is the detector's\n"
    "time per image (without decoding; from the file's \"ms_detect\" with\n"
    "--predictions). A precision or recall without detections or faces is null.\n"
    "\n"
    "exit status: 0 done, 2 a usage error or a file, image or model that cannot be used\n";

static const char *const level_label[FT_WIDER_N_LEVELS] = { "easy", "medium", "hard" };

#define MAX_OPERATING 32 /* values in --operating-scores and --operating-heights */
/* Lowest scores kept by default, so that the PR curve has its tail. */
#define YUNET_EVAL_MIN_SCORE 0.02f
#define OTHER_EVAL_MIN_SCORE 0.05f

struct run {
    /* options */
    const char *gt_path, *index_dir, *images_dir, *predictions;
    long long limit;
    int json;
    double operating;
    float min_score; /* --min-score, 0 when not given */
    int operating_given;
    /* the precision/recall table: every score x every height */
    double op_scores[MAX_OPERATING], op_heights[MAX_OPERATING];
    int n_op_scores, n_op_heights;
    ft_wider_point *points; /* (n_op_heights * n_op_scores), height-major */
    ft_engine_params ep;
    ft_detect_params dp;
    /* detections, image by image */
    ft_wider_det *dets;
    size_t n_dets, cap_dets;
    size_t *offsets;
    /* timing */
    double s_detect, s_decode, s_wall;
    int n_timed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reads the option's value, a comma-separated list of 1 to MAX_OPERATING
** numbers in [lo, hi], into v[0 .. *n). 0, or CLI_ERROR after the usage error. */
static int opts_list(struct opts *o, double lo, double hi, const char *what, double *v, int *n)
{
    const char *p = opts_value(o);
    if (!p) return CLI_ERROR;
    int k = 0;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || *p == ' ' || *p == '\t' || errno == ERANGE || !isfinite(x) || x < lo ||
            x > hi || k == MAX_OPERATING || (*end != ',' && *end != '\0'))
            return opts_bad(o, what);
        v[k++] = x;
        if (*end == '\0') break;
        p = end + 1;
    }
    *n = k;
    return 0;
}

/* DIR/FILE in a new buffer (free it), NULL when out of memory. */
static char *join_path(const char *dir, const char *file)
{
    size_t a = strlen(dir), b = strlen(file);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, file, b + 1);
    return p;
}

static int push_faces(struct run *r, const struct faces *fs)
{
    if (r->n_dets + (size_t)fs->n > r->cap_dets) {
        size_t cap = r->cap_dets ? r->cap_dets : 4096;
        while (cap < r->n_dets + (size_t)fs->n)
            cap *= 2;
        ft_wider_det *v = realloc(r->dets, cap * sizeof *v);
        if (!v) return -1;
        r->dets = v;
        r->cap_dets = cap;
    }
    for (int k = 0; k < fs->n; k++) {
        ft_wider_det *d = &r->dets[r->n_dets++];
        memcpy(d->box, fs->v[k].box, sizeof d->box);
        d->score = fs->v[k].score;
    }
    return 0;
}

static void format_duration(char *buf, size_t len, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
}

/* "\r  done/total images, rate img/s, ETA" on a terminal, at most 4 times a second. */
static void progress(int done, int total, double t0, double *last, int final)
{
    double t = now_s();
    if (!final && t - *last < 0.25) return;
    *last = t;
    double rate = done / (t - t0 > 1e-9 ? t - t0 : 1e-9);
    char eta[32] = "-";
    if (done > 0) format_duration(eta, sizeof eta, (total - done) / rate);
    fprintf(stderr, "\r  wider: %d/%d images, %.2f img/s, ETA %s   ", done, total, rate, eta);
    if (final) fputs("\r\033[K", stderr);
    fflush(stderr);
}

/* Runs the detector on the first n images; CLI_OK or CLI_ERROR (reported). */
static int detect_all(const char *cmd, struct run *r, const ft_wider_gt *gt, int n)
{
    /* every path first: a missing image is one clear error before the models load */
    for (int i = 0; i < n; i++) {
        char *path = join_path(r->images_dir, ft_wider_gt_image(gt, i)->file);
        if (!path) {
            fprintf(stderr, "facetrail %s: out of memory\n", cmd);
            return CLI_ERROR;
        }
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "facetrail %s: %s: %s (is --images the folder with the events?)\n", cmd,
                    path, strerror(errno));
            free(path);
            return CLI_ERROR;
        }
        fclose(f);
        free(path);
    }
    ft_engine *eng = NULL;
    struct faces fs = { 0 };
    int status = CLI_OK;
    int tty = isatty(fileno(stderr));
    double t0 = now_s(), last = 0;
    for (int i = 0; i < n && status == CLI_OK; i++) {
        char *path = join_path(r->images_dir, ft_wider_gt_image(gt, i)->file);
        char err[512];
        ft_image *img = NULL;
        if (!path) {
            fprintf(stderr, "facetrail %s: out of memory\n", cmd);
            status = CLI_ERROR;
            break;
        }
        double ta = now_s();
        if (load_image(cmd, path, 0, &img, err, sizeof err) != FT_OK) {
            status = CLI_ERROR;
        } else if (!eng && start_engine(cmd, &r->ep, &r->dp, &eng) != CLI_OK) {
            status = CLI_ERROR;
        } else {
            double tb = now_s();
            const char *message;
            int rc = detect_faces(eng, img, &r->dp, &fs, &message);
            double tc = now_s();
            if (rc != FT_OK) {
                fprintf(stderr, "facetrail %s: %s: %s\n", cmd, path, message);
                if (rc == FT_ETOOBIG && r->dp.detector == FT_DETECTOR_YUNET)
                    fprintf(stderr,
                            "facetrail %s: hint: YuNet runs the whole image at once; a set "
                            "with images this big needs them scaled down, or --detector ssd\n",
                            cmd);
                status = CLI_ERROR;
            } else if (push_faces(r, &fs)) {
                fprintf(stderr, "facetrail %s: out of memory\n", cmd);
                status = CLI_ERROR;
            } else {
                r->offsets[i + 1] = r->n_dets;
                r->s_decode += tb - ta;
                r->s_detect += tc - tb;
                r->n_timed++;
            }
        }
        ft_image_destroy(img);
        free(path);
        if (tty) progress(i + 1, n, t0, &last, i + 1 == n || status != CLI_OK);
    }
    r->s_wall = now_s() - t0;
    faces_free(&fs);
    ft_engine_close(eng);
    return status;
}

/* Reads --predictions for the first n images; CLI_OK or CLI_ERROR (reported). */
static int read_predictions(const char *cmd, struct run *r, const ft_wider_gt *gt, int n,
                            ft_wider_preds *p)
{
    char err[512] = "";
    int rc = ft_wider_preds_read(r->predictions, gt, p, err, sizeof err);
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail %s: %s\n", cmd, *err ? err : ft_strerror(rc));
        return CLI_ERROR;
    }
    int missing = 0;
    const char *first_missing = NULL;
    for (int i = 0; i < n; i++) {
        if (!p->listed[i]) {
            if (!missing) first_missing = ft_wider_gt_image(gt, i)->file;
            missing++;
        }
    }
    if (missing)
        fprintf(stderr,
                "facetrail %s: note: %d of the %d images (first: %s) have no line in %s; "
                "scored as without detections\n",
                cmd, missing, n, first_missing, r->predictions);
    if (p->n_unknown)
        fprintf(stderr,
                "facetrail %s: note: %d lines of %s name images not in the ground truth "
                "(skipped)\n",
                cmd, p->n_unknown, r->predictions);
    return CLI_OK;
}

/* A finite double in the fewest digits that read back as it (0.3, not
** 0.29999999999999999): for values the user gave as text. */
static void jw_shortest(struct jw *w, double v)
{
    char buf[32];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) break;
    }
    fputs(buf, w->f);
}

static void write_json(const struct run *r, const ft_wider_result *res, const ft_wider_preds *p)
{
    struct jw w;
    jw_init(&w, stdout, 0);
    jw_open(&w, '{');
    jw_key(&w, "images");
    jw_int(&w, res->n_images);
    jw_key(&w, "faces");
    jw_open(&w, '{');
    int faces[FT_WIDER_N_LEVELS] = { res->faces_easy, res->faces_medium, res->faces_hard };
    for (int l = 0; l < FT_WIDER_N_LEVELS; l++) {
        jw_key(&w, level_label[l]);
        jw_int(&w, faces[l]);
    }
    jw_close(&w);
    jw_key(&w, "ap_easy");
    jw_double(&w, res->ap_easy);
    jw_key(&w, "ap_medium");
    jw_double(&w, res->ap_medium);
    jw_key(&w, "ap_hard");
    jw_double(&w, res->ap_hard);
    jw_key(&w, "recall_by_height");
    jw_open(&w, '[');
    for (int b = 0; b < FT_WIDER_N_HEIGHT_BINS; b++) {
        const ft_wider_height_bin *h = &res->height[b];
        jw_item(&w);
        jw_open(&w, '{');
        jw_key(&w, "min");
        jw_double(&w, h->min_px);
        jw_key(&w, "max");
        if (h->max_px > 0)
            jw_double(&w, h->max_px);
        else
            fputs("null", w.f);
        jw_key(&w, "faces");
        jw_int(&w, h->faces);
        jw_key(&w, "matched");
        jw_int(&w, h->matched);
        jw_key(&w, "recall");
        jw_double(&w, h->recall); /* NaN (no face) becomes null */
        jw_close(&w);
    }
    jw_close(&w);
    jw_key(&w, "operating_threshold");
    jw_shortest(&w, res->operating_score);
    jw_key(&w, "operating_points");
    jw_open(&w, '[');
    for (int k = 0; k < r->n_op_heights * r->n_op_scores; k++) {
        const ft_wider_point *pt = &r->points[k];
        jw_item(&w);
        jw_open(&w, '{');
        jw_key(&w, "score");
        jw_shortest(&w, pt->score);
        jw_key(&w, "min_height");
        jw_shortest(&w, pt->min_height);
        jw_key(&w, "faces");
        jw_int(&w, pt->faces);
        jw_key(&w, "recalled");
        jw_int(&w, pt->recalled);
        jw_key(&w, "detections");
        jw_int(&w, pt->detections);
        jw_key(&w, "ignored");
        jw_int(&w, pt->ignored);
        jw_key(&w, "false_positives");
        jw_int(&w, pt->false_positives);
        jw_key(&w, "precision");
        jw_double(&w, pt->precision); /* NaN becomes null */
        jw_key(&w, "recall");
        jw_double(&w, pt->recall);
        jw_close(&w);
    }
    jw_close(&w);
    jw_key(&w, "detections");
    jw_int(&w, res->n_detections);
    if (r->predictions) {
        jw_key(&w, "detector");
        jw_str(&w, "predictions");
        jw_key(&w, "predictions");
        jw_str(&w, r->predictions);
        jw_key(&w, "input_size");
        fputs("null", w.f);
        jw_key(&w, "ms_per_image");
        jw_double(&w, p->n_timed ? p->ms_detect_sum / p->n_timed : NAN);
    } else {
        jw_key(&w, "detector");
        jw_str(&w, detector_name(r->dp.detector));
        jw_key(&w, "input_size");
        if (r->dp.detector == FT_DETECTOR_YUNET)
            fputs("null", w.f); /* the image at its own size */
        else
            jw_int(&w, r->dp.detector == FT_DETECTOR_TINY ? r->dp.input_size : 512);
        jw_key(&w, "tile");
        jw_int(&w, r->dp.tile_px);
        if (r->dp.tile_px > 0) {
            jw_key(&w, "tile_overlap");
            jw_float(&w, r->dp.tile_overlap);
        }
        if (r->dp.min_face_px > 0) {
            jw_key(&w, "min_face");
            jw_int(&w, r->dp.min_face_px);
        }
        jw_key(&w, "min_score");
        jw_float(&w, r->dp.min_score);
        if (r->dp.detector == FT_DETECTOR_SSD) {
            jw_key(&w, "max_results");
            jw_int(&w, r->dp.max_results);
        }
        jw_key(&w, "threads");
        jw_int(&w, r->ep.n_threads);
        jw_key(&w, "ms_per_image");
        jw_double(&w, r->n_timed ? 1000 * r->s_detect / r->n_timed : NAN);
        jw_key(&w, "ms_decode_per_image");
        jw_double(&w, r->n_timed ? 1000 * r->s_decode / r->n_timed : NAN);
    }
    jw_close(&w);
    jw_end_line(&w);
}

static void write_table(const struct run *r, const ft_wider_result *res, const ft_wider_preds *p)
{
    printf("WIDER FACE, official protocol: %d images, ", res->n_images);
    if (r->predictions)
        printf("detections from %s", r->predictions);
    else if (r->dp.detector == FT_DETECTOR_TINY)
        printf("%s %d, min score %g", detector_name(r->dp.detector), r->dp.input_size,
               (double)r->dp.min_score);
    else if (r->dp.detector == FT_DETECTOR_YUNET)
        printf("%s at full resolution, min score %g", detector_name(r->dp.detector),
               (double)r->dp.min_score);
    else
        printf("%s 512, min score %g, max results %d", detector_name(r->dp.detector),
               (double)r->dp.min_score, r->dp.max_results);
    if (!r->predictions && r->dp.tile_px > 0)
        printf(", tiles of %d px (overlap %g)", r->dp.tile_px, (double)r->dp.tile_overlap);
    if (!r->predictions && r->dp.min_face_px > 0) printf(", faces >= %d px", r->dp.min_face_px);
    printf("\n");
    printf("\n  level     faces      AP\n");
    int faces[FT_WIDER_N_LEVELS] = { res->faces_easy, res->faces_medium, res->faces_hard };
    double ap[FT_WIDER_N_LEVELS] = { res->ap_easy, res->ap_medium, res->ap_hard };
    for (int l = 0; l < FT_WIDER_N_LEVELS; l++)
        printf("  %-8s %6d  %6.4f\n", level_label[l], faces[l], ap[l]);
    printf("\n  recall of the hard-level faces at score >= %g, by face height:\n",
           res->operating_score);
    printf("  height      faces  found  recall\n");
    for (int b = 0; b < FT_WIDER_N_HEIGHT_BINS; b++) {
        const ft_wider_height_bin *h = &res->height[b];
        char label[32];
        if (h->min_px <= 0)
            snprintf(label, sizeof label, "< %g px", h->max_px);
        else if (h->max_px <= 0)
            snprintf(label, sizeof label, ">= %g px", h->min_px);
        else
            snprintf(label, sizeof label, "%g-%g px", h->min_px, h->max_px);
        if (h->faces)
            printf("  %-10s %6d %6d   %5.3f\n", label, h->faces, h->matched, h->recall);
        else
            printf("  %-10s %6d %6d       -\n", label, h->faces, h->matched);
    }
    printf("\n  precision and recall of the hard-level faces at raw scores; faces and\n"
           "  detections shorter than the height are left out:\n");
    printf("  height   score   faces  found  recall  detections  ignored  false  precision\n");
    for (int k = 0; k < r->n_op_heights * r->n_op_scores; k++) {
        const ft_wider_point *pt = &r->points[k];
        char label[32], rec[16] = "-", prec[16] = "-";
        if (pt->min_height > 0)
            snprintf(label, sizeof label, ">= %g", pt->min_height);
        else
            snprintf(label, sizeof label, "all");
        if (!isnan(pt->recall)) snprintf(rec, sizeof rec, "%.3f", pt->recall);
        if (!isnan(pt->precision)) snprintf(prec, sizeof prec, "%.3f", pt->precision);
        printf("  %-7s %6g  %6d %6d  %6s  %10lld  %7lld %6lld  %9s\n", label, pt->score, pt->faces,
               pt->recalled, rec, pt->detections, pt->ignored, pt->false_positives, prec);
    }
    printf("\n  %lld detections", res->n_detections);
    if (r->predictions && p->n_timed)
        printf("; %.1f ms/image detecting (the file's ms_detect)", p->ms_detect_sum / p->n_timed);
    else if (!r->predictions && r->n_timed)
        printf("; %.1f ms/image detecting, %.1f ms/image decoding, %d thread%s",
               1000 * r->s_detect / r->n_timed, 1000 * r->s_decode / r->n_timed, r->ep.n_threads,
               r->ep.n_threads == 1 ? "" : "s");
    printf("\n");
}

int cmd_eval_wider(int argc, char **argv)
{
    const char *cmd = "eval wider";
    struct run r;
    memset(&r, 0, sizeof r);
    r.ep = ft_engine_default_params();
    r.ep.model_dir = default_model_dir();
    r.ep.n_threads = default_threads();
    r.dp = ft_detect_default_params();
    r.dp.with_landmarks = 0;
    r.dp.with_descriptor = 0;
    r.dp.max_results = 1000;
    static const double default_scores[] = { 0.3, 0.4, 0.5, 0.6, 0.7, 0.8 };
    static const double default_heights[] = { 0, 32, 48 };
    r.n_op_scores = (int)(sizeof default_scores / sizeof default_scores[0]);
    r.n_op_heights = (int)(sizeof default_heights / sizeof default_heights[0]);
    memcpy(r.op_scores, default_scores, sizeof default_scores);
    memcpy(r.op_heights, default_heights, sizeof default_heights);
    long long n;
    double x;

    struct opts o;
    opts_init(&o, argc, argv);
    o.cmd = cmd;
    while (opts_next(&o)) {
        int e = opts_engine(&o, &r.ep);
        if (e == 0) e = opts_pipeline(&o, &r.dp);
        if (e < 0) return CLI_ERROR;
        if (e > 0) continue;
        if (opts_is_help(&o)) {
            return print_help(wider_usage);
        } else if (opts_is(&o, "--gt") || opts_is(&o, "--index-dir") || opts_is(&o, "--images") ||
                   opts_is(&o, "--predictions")) {
            const char *v = opts_value(&o);
            if (!v) return CLI_ERROR;
            if (!*v) return opts_bad(&o, "a path");
            if (opts_is(&o, "--gt"))
                r.gt_path = v;
            else if (opts_is(&o, "--index-dir"))
                r.index_dir = v;
            else if (opts_is(&o, "--images"))
                r.images_dir = v;
            else
                r.predictions = v;
        } else if (opts_is(&o, "--json")) {
            if (opts_flag(&o)) return CLI_ERROR;
            r.json = 1;
        } else if (opts_is(&o, "--limit")) {
            if (opts_int(&o, 1, INT_MAX, "a positive integer", &n)) return CLI_ERROR;
            r.limit = n;
        } else if (opts_is(&o, "--operating-threshold")) {
            if (opts_double(&o, 0, 1, 0, "a number in [0, 1]", &x)) return CLI_ERROR;
            r.operating = x;
            r.operating_given = 1;
        } else if (opts_is(&o, "--operating-scores")) {
            if (opts_list(&o, 0, 1, "a comma-separated list of scores in [0, 1]", r.op_scores,
                          &r.n_op_scores))
                return CLI_ERROR;
        } else if (opts_is(&o, "--operating-heights")) {
            if (opts_list(&o, 0, 100000, "a comma-separated list of face heights in pixels",
                          r.op_heights, &r.n_op_heights))
                return CLI_ERROR;
        } else if (opts_is(&o, "--detector")) {
            if (opts_detector(&o, &r.dp.detector)) return CLI_ERROR;
        } else if (opts_is(&o, "--input-size")) {
            const char *what = "a positive multiple of 32";
            if (opts_int(&o, 32, INT_MAX, what, &n)) return CLI_ERROR;
            if (n % 32 != 0) return opts_bad(&o, what);
            r.dp.input_size = (int)n;
        } else if (opts_is(&o, "--min-score")) {
            const char *what = "a number in (0, 1)";
            if (opts_double(&o, 0, 1, 1, what, &x)) return CLI_ERROR;
            r.min_score = (float)x;
            if (!(r.min_score > 0 && r.min_score < 1)) return opts_bad(&o, what);
        } else if (opts_is(&o, "--max-results")) {
            if (opts_int(&o, 1, INT_MAX, "a positive integer", &n)) return CLI_ERROR;
            r.dp.max_results = (int)n;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands > 0) return usage_error(cmd, "unexpected operand '%s'", argv[1]);
    if (!r.gt_path) return usage_error(cmd, "missing --gt FILE (wider_face_val_bbx_gt.txt)");
    if (!r.index_dir)
        return usage_error(cmd, "missing --index-dir DIR (with wider_val_*_gt_index.txt)");
    if (!r.images_dir && !r.predictions)
        return usage_error(cmd, "needs --images DIR (run the detector) or --predictions FILE");
    if (r.images_dir && r.predictions)
        return usage_error(cmd, "--images and --predictions exclude each other");
    /* after all options, as --pipeline sets the detector's default score */
    if (r.min_score > 0)
        r.dp.min_score = r.min_score;
    else
        r.dp.min_score =
            r.dp.detector == FT_DETECTOR_YUNET ? YUNET_EVAL_MIN_SCORE : OTHER_EVAL_MIN_SCORE;
    if (!r.operating_given)
        /* the float's value to 6 digits (0.6, not 0.6000000238): the same
        ** float scores pass it as pass the engine's float min_score */
        r.operating =
            r.predictions ? 0.5 : round(ft_detector_default_score(r.dp.detector) * 1e6) / 1e6;

    char err[512] = "";
    ft_wider_gt *gt = NULL;
    int rc = ft_wider_gt_load(r.gt_path, r.index_dir, &gt, err, sizeof err);
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail %s: %s\n", cmd, *err ? err : ft_strerror(rc));
        return CLI_ERROR;
    }
    int n_images = ft_wider_gt_n_images(gt);
    if (r.limit && r.limit < n_images) n_images = (int)r.limit;

    ft_wider_preds preds;
    memset(&preds, 0, sizeof preds);
    const ft_wider_det *dets;
    const size_t *offsets;
    int status;
    if (r.predictions) {
        status = read_predictions(cmd, &r, gt, n_images, &preds);
        dets = preds.dets;
        offsets = preds.offsets;
    } else {
        r.offsets = calloc((size_t)n_images + 1, sizeof *r.offsets);
        status = r.offsets ? detect_all(cmd, &r, gt, n_images) : CLI_ERROR;
        if (!r.offsets) fprintf(stderr, "facetrail %s: out of memory\n", cmd);
        dets = r.dets;
        offsets = r.offsets;
        if (status == CLI_OK)
            fprintf(stderr,
                    "facetrail %s: %d images, %zu detections in %.1f s (detector %.1f ms/image, "
                    "decoding %.1f ms/image)\n",
                    cmd, n_images, r.n_dets, r.s_wall,
                    r.n_timed ? 1000 * r.s_detect / r.n_timed : 0.0,
                    r.n_timed ? 1000 * r.s_decode / r.n_timed : 0.0);
    }
    if (status == CLI_OK) {
        ft_wider_params wp = ft_wider_default_params();
        wp.operating_score = r.operating;
        ft_wider_result res;
        int n_points = r.n_op_heights * r.n_op_scores;
        r.points = calloc((size_t)n_points, sizeof *r.points);
        for (int k = 0; r.points && k < n_points; k++) {
            r.points[k].min_height = r.op_heights[k / r.n_op_scores];
            r.points[k].score = r.op_scores[k % r.n_op_scores];
        }
        rc = r.points ? ft_wider_evaluate(gt, n_images, dets, offsets, &wp, &res, err, sizeof err)
                      : FT_ENOMEM;
        if (rc == FT_OK)
            rc = ft_wider_operating_points(gt, n_images, dets, offsets, wp.iou_thresh, r.points,
                                           n_points, err, sizeof err);
        if (rc != FT_OK) {
            fprintf(stderr, "facetrail %s: %s\n", cmd, *err ? err : ft_strerror(rc));
            status = CLI_ERROR;
        } else if (r.json) {
            write_json(&r, &res, &preds);
        } else {
            write_table(&r, &res, &preds);
        }
        /* compared as floats: detection scores and min_score are floats, and
        ** 0.6 given as text is the float 0.6f that --min-score 0.6 keeps */
        if (status == CLI_OK && !r.predictions && (float)r.operating < r.dp.min_score)
            fprintf(stderr,
                    "facetrail %s: note: the operating threshold %g is below --min-score %g: "
                    "recall by height misses the detections in between\n",
                    cmd, r.operating, (double)r.dp.min_score);
        for (int k = 0; status == CLI_OK && !r.predictions && k < r.n_op_scores; k++)
            if ((float)r.op_scores[k] < r.dp.min_score) {
                fprintf(stderr,
                        "facetrail %s: note: operating score %g is below --min-score %g: its "
                        "recall misses the detections in between\n",
                        cmd, r.op_scores[k], (double)r.dp.min_score);
                break;
            }
    }
    free(r.points);
    ft_wider_preds_fini(&preds);
    free(r.dets);
    free(r.offsets);
    ft_wider_gt_destroy(gt);
    return status;
}
