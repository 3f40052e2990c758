/*
** tools/cmd_eval_lfw.c: `facetrail eval lfw`, face verification on LFW with the
** official view-2 protocol and the detector in the loop, plus the distance
** threshold <-> false-match-rate calibration measured on the same images.
**
** DESIGN
**   The pairs file names a few thousand distinct images; each one's descriptor
**   is computed once (ft_lfw_pairs lists every path once) and kept in an array
**   indexed like ft_lfw_pairs.images. Per image: detect; take "the central
**   face" (see choose_face); if there is none, retry at lower detector scores,
**   and as a last resort describe a fixed central chip (LFW faces are centred).
**   How each image got its descriptor is counted and reported, never hidden.
**   The pairs then become (fold, same, distance) items for ft_verify_evaluate;
**   all cross-identity image pairs feed ft_calibration_from_distances.
**   Descriptors can be saved and reloaded (text, keyed by relative path, with
**   the pipeline configuration that made them), distances too, so metrics can
**   be compared without running the nets again.
**
** INVARIANTS
**   (1) No pair is dropped: a pair with an image without descriptor gets an
**       unknown (NaN) distance, which the evaluation counts as "different".
**   (2) A descriptor cache is only used for the exact configuration that made
**       it (the "# config" line must match; it names the face-choice bounds,
**       so changing them invalidates old caches).
**   (3) Uses only include/facetrail.h and tools/cli.h.
** THREADS  Single-threaded; the engine's worker pool does the parallel work.
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

static const char lfw_usage[] =
    "usage: facetrail eval lfw --pairs FILE --images DIR [options]\n"
    "       facetrail eval lfw --load-distances FILE [options]\n"
    "\n"
    "Face verification accuracy with the LFW view-2 protocol, detector in the loop.\n"
    "FILE is LFW's pairs.txt (header 'k n', then k folds of n same-person lines\n"
    "'name i j' and n different-person lines 'name1 i name2 j'); image i of name is\n"
    "DIR/name/name_%04d.jpg. Each image is processed once, however many pairs use it.\n"
    "\n"
    "Face choice (LFW images are 250x250 with the face in the middle): among the\n"
    "detected faces with a descriptor whose size sqrt(w*h) is at least 15% of the\n"
    "image's smaller side and whose box centre is within 20% of that side from the\n"
    "image centre, the one whose box centre is closest to the image centre.\n"
    "If there is none, detection is retried at score 0.2, then 0.05; as a last resort\n"
    "the descriptor is taken from a fixed central box (where face-api's crop falls on\n"
    "a typical LFW face; no landmarks). Each fallback is counted; \"no_face\" counts\n"
    "images where the detector found nothing at all, at any score.\n"
    "\n"
    "Protocol: for each fold, the distance threshold that maximises accuracy on the\n"
    "other folds (candidates: midpoints between consecutive training distances, and\n"
    "the ends; ties to the smallest) is applied to the fold; accuracy is the mean over\n"
    "folds, +- the sample standard deviation over folds. TAR@FAR over all pairs: the\n"
    "largest threshold whose false accept rate is <= the target. Same person iff\n"
    "distance < threshold. A pair with an image without descriptor has an unknown\n"
    "distance and always counts as \"different\" (reported as unknown_pairs).\n"
    "The calibration (threshold for a false-match rate) uses every pair of images of\n"
    "different people; rates below 1/comparisons are extrapolated and marked so.\n"
    "\n"
    "options:\n"
    "  --pairs FILE          LFW pairs file\n"
    "  --images DIR          folder of the person folders\n"
    "  --limit-folds K       only the first K folds (K >= 2)\n"
    "  --detector yunet|ssd|tiny  face detector (default yunet)\n"
    "  --input-size N        tiny detector input size, a multiple of 32 (default 416)\n"
    "  --min-score X         first detector score tried, in (0, 1) (default: the\n"
    "                        detector's, 0.6 for yunet, 0.5 for ssd and tiny)\n"
    "  --tiny-landmarks      use the tiny 68-point landmark net\n" PIPELINE_OPTIONS_HELP
    "  --metric euclidean|cosine\n"
    "                        distance: euclidean on raw descriptors (default), or on\n"
    "                        unit-normalised ones (the order of the cosine distance)\n"
    "  --no-fallback         no retries and no central box: a face at --min-score or\n"
    "                        no descriptor (to compare with tools that do not retry)\n"
    "  --save-descriptors FILE\n"
    "                        write every image's descriptor (text, with the config)\n"
    "  --load-descriptors FILE\n"
    "                        reuse descriptors saved with the same configuration;\n"
    "                        images missing from FILE are computed\n"
    "  --save-distances FILE one line per pair: fold same distance image1 image2\n"
    "  --load-distances FILE evaluate saved distances (no images, no models)\n"
    "  --print-calibration FILE\n"
    "                        write the calibration as a C initializer (the default\n"
    "                        table of src/eval/calibrate.c is made this way)\n"
    "  --json                one JSON object instead of the readable summary\n"
    "  --models DIR          model folder (default $FT_MODEL_DIR, else " DEFAULT_MODEL_DIR ")\n"
    "  --threads N           worker threads (default 1)\n"
    "  -h, --help            this text\n"
    "\n"
    "JSON: "
    "{\"pairs\",\"folds\",\"accuracy\",\"std\",\"sem\",\"fold_accuracy\",\"fold_threshold\",\n"
    "\"threshold\",\"tar_at_far_1e-3\",\"tar_at_far_1e-2\",\"unknown_pairs\",\"images\",\n"
    "\"no_face\",\"fallbacks\":{..},\"config\":{..},\"ms_per_image\",\"calibration\":{..}}\n"
    "\n"
    "A progress line (images done/total, rate, ETA) is shown on stderr when it is a\n"
    "terminal. exit status: 0 evaluated (unreadable images are reported and their\n"
    "pairs count as unknown), 2 usage, file or model error\n";

/* ------------------------------------------------------------------------ */
/* Configuration and per-image records                                     */
/* ------------------------------------------------------------------------ */

/* "The central face" (choose_face): its size sqrt(w*h) and the distance of its
** box centre from the image centre, as fractions of min(W, H). LFW faces are
** about 0.45 big and within ~0.03 of the centre; a low-score detection in a
** corner is not the labelled person (on folds 1-5 such boxes were chosen for
** 12 images at score 0.5 and more at 0.05 before the offset bound existed). */
#define MIN_FACE_FRAC   0.15
#define MAX_OFFSET_FRAC 0.20
/* The last-resort box, as fractions of the image: centre and side. On LFW's
** 250x250 images: the median of face-api's descriptor crop for the central
** face found by the default pipeline on a random sample of 150 images of folds
** 1-5 (136 with a face at score 0.5; quartiles of the side 0.436..0.468). */
#define CENTRAL_CX   0.496
#define CENTRAL_CY   0.540
#define CENTRAL_SIDE 0.448
#define MAX_RETRIES  2

static const float retry_scores[MAX_RETRIES] = { 0.2f, 0.05f };

/* How an image got its descriptor. */
enum method { M_UNREADABLE, M_DETECT, M_RETRY_1, M_RETRY_2, M_CENTRAL, M_NONE, M_COUNT };
static const char *const method_names[M_COUNT] = { "unreadable", "detect",      "score_0.2",
                                                   "score_0.05", "central_box", "none" };

struct image_rec {
    float d[FT_DESCRIPTOR_DIM];
    signed char done;    /* 1 once computed or loaded */
    signed char method;  /* enum method; M_UNREADABLE and M_NONE have no descriptor */
    signed char no_face; /* the detector found nothing at any score */
};

struct config {
    ft_engine_params ep;
    ft_detect_params dp;
    enum ft_metric metric;
    int fallback;
    const char *pairs, *images;
    const char *save_desc, *load_desc, *save_dist, *load_dist, *print_cal;
    int limit_folds;
    int json;
    int score_set; /* --min-score given (else the detector's default) */
};

static const char *align_name(enum ft_align_kind a)
{
    return a == FT_ALIGN_DLIB ? "dlib" : "faceapi";
}

static int has_descriptor(const struct image_rec *r)
{
    return r->done && r->method != M_UNREADABLE && r->method != M_NONE;
}

/* The configuration line of a descriptor cache: everything that changes the
** descriptors (not the metric, which is applied afterwards). */
static void config_line(const struct config *c, char *buf, size_t len)
{
    snprintf(buf, len,
             "detector=%s input_size=%d min_score=%.9g tiny_landmarks=%d align=%s mirror=%d "
             "tile=%d/%.2f min_face=%d fallback=%d choice=centre%.2f/size%.2f space=%s",
             c->dp.detector == FT_DETECTOR_TINY    ? "tiny"
             : c->dp.detector == FT_DETECTOR_YUNET ? "yunet"
                                                   : "ssd",
             c->dp.detector == FT_DETECTOR_TINY ? c->dp.input_size : 512, (double)c->dp.min_score,
             c->dp.tiny_landmarks ? 1 : 0, align_name(c->dp.align), c->dp.mirror ? 1 : 0,
             c->dp.tile_px, (double)c->dp.tile_overlap, c->dp.min_face_px, c->fallback,
             MAX_OFFSET_FRAC, MIN_FACE_FRAC,
             ft_descriptor_space(&c->dp) ? ft_descriptor_space(&c->dp) : "none");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *xcalloc(size_t n, size_t size, const char *cmd)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) fprintf(stderr, "facetrail %s: out of memory\n", cmd);
    return p;
}

/* ------------------------------------------------------------------------ */
/* One image                                                                */
/* ------------------------------------------------------------------------ */

/* "The central face": among faces with a descriptor, sqrt(w*h) at least
** MIN_FACE_FRAC of the smaller image side and the box centre within
** MAX_OFFSET_FRAC of it from the image centre, the one whose box centre is
** closest to the image centre (the first of equals). -1 if none. */
static int choose_face(const struct faces *fs, int W, int H)
{
    double side = W < H ? W : H;
    double min_size = MIN_FACE_FRAC * side;
    double max_d2 = (MAX_OFFSET_FRAC * side) * (MAX_OFFSET_FRAC * side);
    double cx = W / 2.0, cy = H / 2.0;
    int best = -1;
    double best_d2 = INFINITY;
    for (int i = 0; i < fs->n; i++) {
        const ft_face *f = &fs->v[i];
        if (!f->has_descriptor || !(sqrt(f->box[2] * f->box[3]) >= min_size)) continue;
        double dx = f->box[0] + f->box[2] / 2 - cx, dy = f->box[1] + f->box[3] / 2 - cy;
        double d2 = dx * dx + dy * dy;
        if (d2 <= max_d2 && d2 < best_d2) {
            best_d2 = d2;
            best = i;
        }
    }
    return best;
}

/* The fixed central box of an image, clipped to it. */
static void central_box(int W, int H, int box[4])
{
    int side = (int)lround(CENTRAL_SIDE * (W < H ? W : H));
    if (side < 1) side = 1;
    int x = (int)lround(CENTRAL_CX * W - side / 2.0), y = (int)lround(CENTRAL_CY * H - side / 2.0);
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (x + side > W) side = W - x;
    if (y + side > H) side = H - y;
    box[0] = x, box[1] = y, box[2] = side, box[3] = side;
}

/* Descriptor of the central box (and, with mirror, the mean with its mirror
** image's, as the engine does). */
static int describe_central(ft_engine *eng, const ft_image *img, const ft_detect_params *dp,
                            float *out)
{
    int b[4];
    central_box(img->width, img->height, b);
    if (dp->descriptor == FT_DESCRIPTOR_DLIB) {
        /* dlib's predictor finds the points in the box, then the usual chip */
        ft_face f;
        memset(&f, 0, sizeof f);
        for (int k = 0; k < 4; k++)
            f.box[k] = b[k];
        ft_detect_params q = *dp;
        q.landmarks = FT_LANDMARKS_DLIB5; /* a box has no detector points */
        int rc = ft_engine_describe(eng, img, &q, &f);
        if (rc == FT_OK && !f.has_descriptor) rc = FT_EINVAL;
        if (rc == FT_OK) memcpy(out, f.descriptor, sizeof f.descriptor);
        return rc;
    }
    int mirror = dp->mirror;
    ft_image *chip = NULL;
    int rc = ft_image_create(b[2], b[3], &chip);
    if (rc != FT_OK) return rc;
    for (int y = 0; y < b[3]; y++)
        memcpy(chip->rgb + (size_t)y * b[2] * 3,
               img->rgb + ((size_t)(b[1] + y) * img->width + b[0]) * 3, (size_t)b[2] * 3);
    rc = ft_engine_embed_chip(eng, chip, out);
    if (rc == FT_OK && mirror) {
        for (int y = 0; y < b[3]; y++) {
            uint8_t *row = chip->rgb + (size_t)y * b[2] * 3;
            for (int x = 0; x < b[2] / 2; x++)
                for (int c = 0; c < 3; c++) {
                    uint8_t t = row[x * 3 + c];
                    row[x * 3 + c] = row[(b[2] - 1 - x) * 3 + c];
                    row[(b[2] - 1 - x) * 3 + c] = t;
                }
        }
        float flipped[FT_DESCRIPTOR_DIM];
        rc = ft_engine_embed_chip(eng, chip, flipped);
        for (int i = 0; rc == FT_OK && i < FT_DESCRIPTOR_DIM; i++)
            out[i] = 0.5f * (out[i] + flipped[i]);
    }
    ft_image_destroy(chip);
    return rc;
}

/* Fills r for img. Returns FT_OK, or an engine failure (message set). */
static int describe_image(ft_engine *eng, const struct config *c, const ft_image *img,
                          struct faces *fs, struct image_rec *r, const char **message)
{
    ft_detect_params dp = c->dp;
    int saw_face = 0;
    for (int step = 0; step <= MAX_RETRIES; step++) {
        if (step > 0) {
            if (!c->fallback) break;
            if (!(retry_scores[step - 1] < c->dp.min_score)) continue;
            dp.min_score = retry_scores[step - 1];
        }
        int rc = detect_faces(eng, img, &dp, fs, message);
        if (rc != FT_OK) return rc;
        if (fs->n > 0) saw_face = 1;
        int best = choose_face(fs, img->width, img->height);
        if (best >= 0) {
            memcpy(r->d, fs->v[best].descriptor, sizeof r->d);
            r->method = (signed char)(M_DETECT + step);
            r->no_face = 0;
            r->done = 1;
            return FT_OK;
        }
    }
    r->no_face = (signed char)!saw_face;
    r->done = 1;
    if (!c->fallback) {
        r->method = M_NONE;
        return FT_OK;
    }
    int rc = describe_central(eng, img, &c->dp, r->d);
    if (rc != FT_OK) {
        *message = engine_message(eng, rc);
        return rc;
    }
    r->method = M_CENTRAL;
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* Descriptor and distance files                                            */
/* ------------------------------------------------------------------------ */

static const char desc_magic[] = "# facetrail eval lfw descriptors v1";
static const char dist_magic[] = "# facetrail eval lfw distances: metric=";

static int save_descriptors(const char *cmd, const char *path, const struct config *c,
                            const ft_lfw_pairs *p, const struct image_rec *recs)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "facetrail %s: cannot write %s: %s\n", cmd, path, strerror(errno));
        return CLI_ERROR;
    }
    char cfg[256];
    config_line(c, cfg, sizeof cfg);
    fprintf(f, "%s\n# config %s\n# path method no_face descriptor[128]\n", desc_magic, cfg);
    for (int i = 0; i < p->n_images; i++) {
        const struct image_rec *r = &recs[i];
        if (!r->done) continue;
        fprintf(f, "%s\t%s\t%d", p->images[i], method_names[r->method], r->no_face);
        if (has_descriptor(r))
            for (int k = 0; k < FT_DESCRIPTOR_DIM; k++)
                fprintf(f, "%c%.9g", k ? ' ' : '\t', (double)r->d[k]);
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "facetrail %s: cannot write %s\n", cmd, path);
        return CLI_ERROR;
    }
    return CLI_OK;
}

/* Sorted image indices, for looking paths up. */
static const ft_lfw_pairs *sort_pairs_ctx;

static int cmp_image_index(const void *a, const void *b)
{
    return strcmp(sort_pairs_ctx->images[*(const int *)a], sort_pairs_ctx->images[*(const int *)b]);
}

static int find_image(const ft_lfw_pairs *p, const int *sorted, const char *path)
{
    int lo = 0, hi = p->n_images;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(p->images[sorted[mid]], path);
        if (c == 0) return sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int load_error(const char *cmd, const char *path, long line, const char *what)
{
    fprintf(stderr, "facetrail %s: %s:%ld: %s\n", cmd, path, line, what);
    return CLI_ERROR;
}

/* Reads a descriptor cache into recs (images of this pairs file only). */
static int load_descriptors(const char *cmd, const char *path, const struct config *c,
                            const ft_lfw_pairs *p, struct image_rec *recs, int *n_loaded)
{
    *n_loaded = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "facetrail %s: cannot read %s: %s\n", cmd, path, strerror(errno));
        return CLI_ERROR;
    }
    int *sorted = xcalloc((size_t)p->n_images, sizeof *sorted, cmd);
    if (!sorted) {
        fclose(f);
        return CLI_ERROR;
    }
    for (int i = 0; i < p->n_images; i++)
        sorted[i] = i;
    sort_pairs_ctx = p;
    qsort(sorted, (size_t)p->n_images, sizeof *sorted, cmp_image_index);

    char cfg[256];
    config_line(c, cfg, sizeof cfg);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long ln = 0;
    int status = CLI_OK, saw_config = 0;
    while (status == CLI_OK && (len = getline(&line, &cap, f)) >= 0) {
        ln++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (ln == 1) {
            if (strcmp(line, desc_magic) != 0)
                status = load_error(cmd, path, ln, "not a facetrail eval lfw descriptor file");
            continue;
        }
        if (strncmp(line, "# config ", 9) == 0) {
            saw_config = 1;
            if (strcmp(line + 9, cfg) != 0) {
                fprintf(stderr,
                        "facetrail %s: %s was made with '%s';\nthis run is '%s': drop "
                        "--load-descriptors or use the same options\n",
                        cmd, path, line + 9, cfg);
                status = CLI_ERROR;
            }
            continue;
        }
        if (line[0] == '#' || line[0] == 0) continue;
        if (!saw_config) {
            status = load_error(cmd, path, ln, "no '# config' line before the descriptors");
            break;
        }
        char *save = NULL;
        char *img = strtok_r(line, "\t", &save);
        char *meth = strtok_r(NULL, "\t", &save);
        char *nf = strtok_r(NULL, "\t", &save);
        char *vals = strtok_r(NULL, "\t", &save);
        int m = -1;
        for (int k = 0; meth && k < M_COUNT; k++)
            if (strcmp(meth, method_names[k]) == 0) m = k;
        if (!img || m < 0 || !nf || (strcmp(nf, "0") != 0 && strcmp(nf, "1") != 0)) {
            status = load_error(cmd, path, ln, "expected 'path method no_face descriptor'");
            break;
        }
        struct image_rec r = { .done = 1, .method = (signed char)m, .no_face = nf[0] == '1' };
        if (has_descriptor(&r)) {
            char *s = vals, *end;
            int k = 0;
            for (; s && k < FT_DESCRIPTOR_DIM; k++) {
                errno = 0;
                double v = strtod(s, &end);
                if (end == s || errno == ERANGE || !isfinite(v)) break;
                r.d[k] = (float)v;
                s = end;
            }
            while (s && (*s == ' ' || *s == '\t'))
                s++;
            if (k != FT_DESCRIPTOR_DIM || !s || *s) {
                status = load_error(cmd, path, ln, "expected 128 finite numbers");
                break;
            }
        } else if (vals) {
            status = load_error(cmd, path, ln, "descriptor values for an image without one");
            break;
        }
        int idx = find_image(p, sorted, img);
        if (idx < 0) continue; /* an image of other folds */
        if (!recs[idx].done) ++*n_loaded;
        recs[idx] = r;
    }
    if (status == CLI_OK && ferror(f)) status = load_error(cmd, path, ln, "read error");
    if (status == CLI_OK && ln == 0) status = load_error(cmd, path, 1, "empty file");
    free(line);
    free(sorted);
    fclose(f);
    return status;
}

static int save_distances(const char *cmd, const char *path, const struct config *c,
                          const ft_lfw_pairs *p, const ft_verify_item *items)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "facetrail %s: cannot write %s: %s\n", cmd, path, strerror(errno));
        return CLI_ERROR;
    }
    char cfg[256];
    config_line(c, cfg, sizeof cfg);
    fprintf(f, "%s%s %s\n", dist_magic, ft_metric_name(c->metric), cfg);
    fprintf(f, "# fold (1-based) same distance (nan: unknown) image1 image2\n");
    for (int i = 0; i < p->n_pairs; i++)
        fprintf(f, "%d\t%d\t%.9g\t%s\t%s\n", items[i].fold + 1, items[i].same, items[i].distance,
                p->images[p->pairs[i].image[0]], p->images[p->pairs[i].image[1]]);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "facetrail %s: cannot write %s\n", cmd, path);
        return CLI_ERROR;
    }
    return CLI_OK;
}

/* Reads "fold same distance [...]" lines (fold 1-based; '#' comments). Keeps
** folds <= limit (0: all). *n_folds is the largest fold kept. */
static int load_distances(const char *cmd, const char *path, int limit, ft_verify_item **out,
                          int *n_out, int *n_folds, enum ft_metric *metric)
{
    *out = NULL;
    *n_out = *n_folds = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "facetrail %s: cannot read %s: %s\n", cmd, path, strerror(errno));
        return CLI_ERROR;
    }
    char *line = NULL;
    size_t cap = 0, n = 0, n_cap = 0;
    ssize_t len;
    long ln = 0;
    ft_verify_item *v = NULL;
    int status = CLI_OK;
    while ((len = getline(&line, &cap, f)) >= 0) {
        ln++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (strncmp(s, dist_magic, sizeof dist_magic - 1) == 0) { /* the metric it used */
            const char *m = s + sizeof dist_magic - 1;
            if (strncmp(m, "cosine ", 7) == 0) *metric = FT_METRIC_COSINE;
            if (strncmp(m, "euclidean ", 10) == 0) *metric = FT_METRIC_EUCLIDEAN;
        }
        if (*s == '#' || *s == '\n' || *s == '\r' || *s == 0) continue;
        char *end;
        errno = 0;
        long fold = strtol(s, &end, 10);
        int ok = end != s && errno == 0 && fold >= 1 && fold <= FT_VERIFY_MAX_FOLDS &&
                 (*end == ' ' || *end == '\t');
        long same = 0;
        double d = 0;
        if (ok) {
            s = end;
            same = strtol(s, &end, 10);
            ok = end != s && (same == 0 || same == 1) && (*end == ' ' || *end == '\t');
        }
        if (ok) {
            s = end;
            d = strtod(s, &end);
            ok = end != s &&
                 (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r' || *end == 0) &&
                 d != -INFINITY;
        }
        if (!ok) {
            status = load_error(cmd, path, ln,
                                "expected 'fold same distance' (fold 1..64, same 0 or 1)");
            break;
        }
        if (limit > 0 && fold > limit) continue;
        if (n == n_cap) {
            size_t nc = n_cap ? 2 * n_cap : 1024;
            ft_verify_item *g = realloc(v, nc * sizeof *g);
            if (!g || n >= INT_MAX / 2) {
                status = load_error(cmd, path, ln, "out of memory");
                break;
            }
            v = g;
            n_cap = nc;
        }
        v[n++] = (ft_verify_item){ (int)fold - 1, (int)same, d };
        if ((int)fold > *n_folds) *n_folds = (int)fold;
    }
    free(line);
    fclose(f);
    if (status == CLI_OK && n == 0) status = load_error(cmd, path, ln ? ln : 1, "no pairs");
    if (status != CLI_OK) {
        free(v);
        return status;
    }
    *out = v;
    *n_out = (int)n;
    return CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* Calibration over all image pairs                                         */
/* ------------------------------------------------------------------------ */

/* Length of the identity part ("name" of "name/name_0001.jpg"). */
static size_t identity_len(const char *path)
{
    const char *slash = strchr(path, '/');
    return slash ? (size_t)(slash - path) : strlen(path);
}

/* Distances of every pair of images with a descriptor: impostor (different
** identities) and genuine (same identity). desc holds the descriptors the
** metric compares (already normalised for cosine). */
static int all_pair_distances(const char *cmd, const ft_lfw_pairs *p, const struct image_rec *recs,
                              const float (*desc)[FT_DESCRIPTOR_DIM], double **imp, size_t *n_imp,
                              double **gen, size_t *n_gen)
{
    size_t k = 0;
    for (int i = 0; i < p->n_images; i++)
        k += has_descriptor(&recs[i]);
    size_t total = k * (k - (k > 0)) / 2;
    size_t n_same = 0;
    for (int i = 0; i < p->n_images; i++) {
        if (!has_descriptor(&recs[i])) continue;
        size_t li = identity_len(p->images[i]);
        for (int j = i + 1; j < p->n_images; j++)
            if (has_descriptor(&recs[j]) && identity_len(p->images[j]) == li &&
                memcmp(p->images[i], p->images[j], li) == 0)
                n_same++;
    }
    *imp = xcalloc(total - n_same, sizeof **imp, cmd);
    *gen = xcalloc(n_same, sizeof **gen, cmd);
    if (!*imp || !*gen) return CLI_ERROR;
    size_t a = 0, b = 0;
    for (int i = 0; i < p->n_images; i++) {
        if (!has_descriptor(&recs[i])) continue;
        size_t li = identity_len(p->images[i]);
        for (int j = i + 1; j < p->n_images; j++) {
            if (!has_descriptor(&recs[j])) continue;
            double d = ft_descriptor_distance(desc[i], desc[j]);
            if (identity_len(p->images[j]) == li && memcmp(p->images[i], p->images[j], li) == 0)
                (*gen)[b++] = d;
            else
                (*imp)[a++] = d;
        }
    }
    *n_imp = a;
    *n_gen = b;
    return CLI_OK;
}

static int write_calibration_table(const char *cmd, const char *path, const ft_calibration *cal,
                                   const struct config *c, const char *source)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "facetrail %s: cannot write %s: %s\n", cmd, path, strerror(errno));
        return CLI_ERROR;
    }
    char cfg[256];
    config_line(c, cfg, sizeof cfg);
    fprintf(f,
            "/* measured by facetrail eval lfw: metric=%s %s\n** %s: %lld impostor and %lld "
            "genuine comparisons */\n",
            ft_metric_name(c->metric), cfg, source, cal->n_impostor, cal->n_genuine);
    fprintf(f, "static const ft_calibration default_calibration = {\n    %s,\n    %d,\n    {\n",
            c->metric == FT_METRIC_COSINE ? "FT_METRIC_COSINE" : "FT_METRIC_EUCLIDEAN",
            cal->n_knots);
    for (int i = 0; i < cal->n_knots; i++)
        fprintf(f, "        { %.9g, %.9g, %.9g },\n", cal->knots[i].threshold, cal->knots[i].fmr,
                cal->knots[i].fnmr);
    fprintf(f, "    },\n    %.9g,\n    %lld,\n    %lld,\n};\n", cal->tail_scale, cal->n_impostor,
            cal->n_genuine);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "facetrail %s: cannot write %s\n", cmd, path);
        return CLI_ERROR;
    }
    return CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */
/* ------------------------------------------------------------------------ */

static const double cal_rates[] = { 1e-2, 1e-3, 1e-4, 1e-5, 1e-6 };
#define N_CAL_RATES     (int)(sizeof cal_rates / sizeof cal_rates[0])
#define GALLERY_EXAMPLE 10000.0

struct report {
    const struct config *c;
    ft_verify_result r;
    int have_images; /* 0 when evaluating saved distances */
    int n_images, n_computed, n_loaded;
    int count[M_COUNT];
    int no_face;
    double seconds; /* computing descriptors */
    int have_cal;
    const char *cal_source;
    ft_calibration cal;
    int options_effective; /* -1 not checked, 0 the engine ignored --align/--mirror */
};

static void json_rate(struct jw *w, const char *key, const ft_verify_rate *r)
{
    jw_key(w, key);
    jw_double(w, r->tar);
    char k2[64];
    snprintf(k2, sizeof k2, "threshold_at_%s", key + 7); /* "tar_at_far_1e-3" -> "far_1e-3" */
    jw_key(w, k2);
    jw_double(w, r->threshold);
}

static void write_json(const struct report *rp)
{
    const ft_verify_result *r = &rp->r;
    const struct config *c = rp->c;
    struct jw w;
    jw_init(&w, stdout, 0);
    jw_open(&w, '{');
    jw_key(&w, "pairs");
    jw_int(&w, r->n_pairs);
    jw_key(&w, "folds");
    jw_int(&w, r->n_folds);
    jw_key(&w, "accuracy");
    jw_double(&w, r->accuracy);
    jw_key(&w, "std");
    jw_double(&w, r->std);
    jw_key(&w, "std_kind");
    jw_str(&w, "sample std over folds (k-1)");
    jw_key(&w, "sem");
    jw_double(&w, r->sem);
    jw_key(&w, "fold_accuracy");
    jw_doubles(&w, r->fold_accuracy, r->n_folds);
    jw_key(&w, "fold_threshold");
    jw_doubles(&w, r->fold_threshold, r->n_folds);
    jw_key(&w, "threshold");
    jw_double(&w, r->threshold);
    jw_key(&w, "threshold_accuracy");
    jw_double(&w, r->threshold_accuracy);
    json_rate(&w, "tar_at_far_1e-3", &r->at_far_1e3);
    json_rate(&w, "tar_at_far_1e-2", &r->at_far_1e2);
    jw_key(&w, "unknown_pairs");
    jw_int(&w, r->n_unknown);
    jw_key(&w, "unknown_same_pairs");
    jw_int(&w, r->n_unknown_same);
    if (rp->have_images) {
        jw_key(&w, "images");
        jw_int(&w, rp->n_images);
        jw_key(&w, "no_face");
        jw_int(&w, rp->no_face);
        jw_key(&w, "unreadable");
        jw_int(&w, rp->count[M_UNREADABLE]);
        jw_key(&w, "no_descriptor");
        jw_int(&w, rp->count[M_NONE] + rp->count[M_UNREADABLE]);
        jw_key(&w, "fallbacks");
        jw_open(&w, '{');
        for (int m = M_RETRY_1; m <= M_CENTRAL; m++) {
            jw_key(&w, method_names[m]);
            jw_int(&w, rp->count[m]);
        }
        jw_close(&w);
    }
    jw_key(&w, "config");
    jw_open(&w, '{');
    if (rp->have_images) {
        jw_key(&w, "detector");
        jw_str(&w, detector_name(c->dp.detector));
        if (c->dp.detector == FT_DETECTOR_TINY) {
            jw_key(&w, "input_size");
            jw_int(&w, c->dp.input_size);
        }
        jw_key(&w, "min_score");
        jw_double(&w, c->dp.min_score);
        jw_key(&w, "tiny_landmarks");
        jw_bool(&w, c->dp.tiny_landmarks);
        jw_key(&w, "align");
        jw_str(&w, align_name(c->dp.align));
        jw_key(&w, "space");
        jw_str(&w, ft_descriptor_space(&c->dp) ? ft_descriptor_space(&c->dp) : "");
        jw_key(&w, "mirror");
        jw_bool(&w, c->dp.mirror);
        if (c->dp.tile_px) {
            jw_key(&w, "tile");
            jw_int(&w, c->dp.tile_px);
            jw_key(&w, "tile_overlap");
            jw_double(&w, c->dp.tile_overlap);
        }
        if (c->dp.min_face_px) {
            jw_key(&w, "min_face");
            jw_int(&w, c->dp.min_face_px);
        }
        jw_key(&w, "fallback");
        jw_bool(&w, c->fallback);
        if (rp->options_effective == 0) {
            jw_key(&w, "options_effective");
            jw_bool(&w, 0);
        }
    }
    jw_key(&w, "metric");
    jw_str(&w, ft_metric_name(c->metric));
    jw_close(&w);
    if (rp->have_images) {
        jw_key(&w, "computed_images");
        jw_int(&w, rp->n_computed);
        jw_key(&w, "loaded_images");
        jw_int(&w, rp->n_loaded);
        jw_key(&w, "threads");
        jw_int(&w, c->ep.n_threads);
        jw_key(&w, "seconds");
        jw_double(&w, rp->seconds);
        jw_key(&w, "ms_per_image");
        jw_double(&w, rp->n_computed ? 1000 * rp->seconds / rp->n_computed : NAN);
    }
    if (rp->have_cal) {
        const ft_calibration *cal = &rp->cal;
        jw_key(&w, "calibration");
        jw_open(&w, '{');
        jw_key(&w, "source");
        jw_str(&w, rp->cal_source);
        jw_key(&w, "impostor_comparisons");
        jw_int(&w, cal->n_impostor);
        jw_key(&w, "genuine_comparisons");
        jw_int(&w, cal->n_genuine);
        jw_key(&w, "tail_scale");
        jw_double(&w, cal->tail_scale);
        jw_key(&w, "at_fmr");
        jw_open(&w, '[');
        for (int i = 0; i < N_CAL_RATES; i++) {
            double t = NAN;
            int ex = 0;
            ft_calibration_threshold(cal, cal_rates[i], &t, &ex);
            jw_item(&w);
            jw_open(&w, '{');
            jw_key(&w, "fmr");
            jw_double(&w, cal_rates[i]);
            jw_key(&w, "threshold");
            jw_double(&w, t);
            jw_key(&w, "fnmr");
            jw_double(&w, ft_calibration_fnmr(cal, t));
            jw_key(&w, "extrapolated");
            jw_bool(&w, ex);
            jw_close(&w);
        }
        jw_close(&w);
        int ex;
        if (cal->metric == FT_METRIC_EUCLIDEAN) { /* face-api's threshold */
            jw_key(&w, "fmr_at_0.6");
            jw_double(&w, ft_calibration_fmr(cal, FT_MATCH_THRESHOLD, &ex));
            jw_key(&w, "false_matches_in_10000_at_0.6");
            jw_double(&w, ft_calibration_expected_false_matches(cal, FT_MATCH_THRESHOLD,
                                                                GALLERY_EXAMPLE, &ex));
        }
        jw_close(&w);
    }
    jw_close(&w);
    jw_end_line(&w);
}

static void write_text(const struct report *rp)
{
    const ft_verify_result *r = &rp->r;
    const struct config *c = rp->c;
    if (rp->have_images)
        printf("LFW verification: %d folds, %d pairs; %s detector, descriptors %s%s, %s "
               "distance%s\n",
               r->n_folds, r->n_pairs, detector_name(c->dp.detector),
               ft_descriptor_space(&c->dp) ? ft_descriptor_space(&c->dp) : "?",
               c->dp.mirror ? " + mirror" : "", ft_metric_name(c->metric),
               c->fallback ? "" : ", no fallbacks");
    else
        printf("LFW verification: %d folds, %d pairs (saved %s distances)\n", r->n_folds,
               r->n_pairs, ft_metric_name(c->metric));
    printf("  accuracy      %.2f%% +- %.2f%% (sample std over folds; standard error %.2f%%)\n",
           100 * r->accuracy, 100 * r->std, 100 * r->sem);
    for (int f = 0; f < r->n_folds; f++)
        printf("    fold %-2d     %.2f%% at threshold %.4f (%d pairs)\n", f + 1,
               100 * r->fold_accuracy[f], r->fold_threshold[f], r->fold_pairs[f]);
    printf("  threshold     %.4f on all pairs (accuracy %.2f%% there, fitted)\n", r->threshold,
           100 * r->threshold_accuracy);
    const ft_verify_rate *rates[2] = { &r->at_far_1e3, &r->at_far_1e2 };
    for (int i = 0; i < 2; i++)
        printf("  TAR@FAR=%-5g %.2f%% (threshold %.4f; FAR reached %.4f%%: %.0f of %d impostor "
               "pairs)\n",
               rates[i]->target_far, 100 * rates[i]->tar, rates[i]->threshold, 100 * rates[i]->far,
               rates[i]->far * r->n_different, r->n_different);
    printf("  unknown pairs %d (%d same-person), counted as \"different\"\n", r->n_unknown,
           r->n_unknown_same);
    if (rp->have_images) {
        printf("  images        %d: no face at any score %d; fallbacks: score 0.2 %d, score "
               "0.05 %d, central box %d; without descriptor %d (unreadable %d)\n",
               rp->n_images, rp->no_face, rp->count[M_RETRY_1], rp->count[M_RETRY_2],
               rp->count[M_CENTRAL], rp->count[M_NONE] + rp->count[M_UNREADABLE],
               rp->count[M_UNREADABLE]);
        if (rp->n_computed)
            printf("  time          %.1f s for %d images, %.1f ms/image (%d thread(s))%s\n",
                   rp->seconds, rp->n_computed, 1000 * rp->seconds / rp->n_computed,
                   c->ep.n_threads, rp->n_loaded ? "; the rest from the descriptor file" : "");
        else
            printf("  time          descriptors from %s\n", c->load_desc);
        if (rp->options_effective == 0)
            printf("  WARNING       --align/--mirror changed nothing: the engine ignored them\n");
    }
    if (rp->have_cal) {
        const ft_calibration *cal = &rp->cal;
        printf("  calibration   %s: %lld impostor, %lld genuine comparisons\n", rp->cal_source,
               cal->n_impostor, cal->n_genuine);
        for (int i = 0; i < N_CAL_RATES; i++) {
            double t = NAN;
            int ex = 0;
            ft_calibration_threshold(cal, cal_rates[i], &t, &ex);
            printf("    FMR %-6g  threshold %.4f, FNMR %.2f%%%s\n", cal_rates[i], t,
                   100 * ft_calibration_fnmr(cal, t), ex ? "  (extrapolated)" : "");
        }
        int ex;
        if (cal->metric != FT_METRIC_EUCLIDEAN) return; /* 0.6 is a euclidean threshold */
        double fmr = ft_calibration_fmr(cal, FT_MATCH_THRESHOLD, &ex);
        printf("    at face-api's 0.6: FMR %.3g, i.e. %.1f false matches per search of a "
               "%.0f-face gallery%s\n",
               fmr, fmr * GALLERY_EXAMPLE, GALLERY_EXAMPLE, ex ? " (extrapolated)" : "");
    }
}

/* ------------------------------------------------------------------------ */
/* The command                                                              */
/* ------------------------------------------------------------------------ */

static int parse_options(int argc, char **argv, struct config *c, struct opts *o)
{
    long long n;
    double x;
    opts_init(o, argc, argv);
    o->cmd = "eval lfw";
    while (opts_next(o)) {
        int r = opts_engine(o, &c->ep);
        if (r == 0) r = opts_pipeline(o, &c->dp);
        if (r < 0) return CLI_ERROR;
        if (r > 0) continue;
        const char **file = NULL;
        if (opts_is_help(o)) {
            print_help(lfw_usage);
            return -1;
        } else if (opts_is(o, "--pairs")) {
            file = &c->pairs;
        } else if (opts_is(o, "--images")) {
            file = &c->images;
        } else if (opts_is(o, "--save-descriptors")) {
            file = &c->save_desc;
        } else if (opts_is(o, "--load-descriptors")) {
            file = &c->load_desc;
        } else if (opts_is(o, "--save-distances")) {
            file = &c->save_dist;
        } else if (opts_is(o, "--load-distances")) {
            file = &c->load_dist;
        } else if (opts_is(o, "--print-calibration")) {
            file = &c->print_cal;
        } else if (opts_is(o, "--limit-folds")) {
            if (opts_int(o, 2, FT_VERIFY_MAX_FOLDS, "an integer in [2, 64]", &n)) return CLI_ERROR;
            c->limit_folds = (int)n;
        } else if (opts_is(o, "--detector")) {
            if (opts_detector(o, &c->dp.detector)) return CLI_ERROR;
        } else if (opts_is(o, "--input-size")) {
            const char *what = "a multiple of 32 in [32, 4096]";
            if (opts_int(o, 32, 4096, what, &n)) return CLI_ERROR;
            if (n % 32 != 0) return opts_bad(o, what);
            c->dp.input_size = (int)n;
        } else if (opts_is(o, "--min-score")) {
            const char *what = "a number in (0, 1)";
            if (opts_double(o, 0, 1, 1, what, &x)) return CLI_ERROR;
            c->dp.min_score = (float)x;
            c->score_set = 1;
            if (!(c->dp.min_score > 0 && c->dp.min_score < 1)) return opts_bad(o, what);
        } else if (opts_is(o, "--tiny-landmarks")) {
            if (opts_flag(o)) return CLI_ERROR;
            c->dp.tiny_landmarks = 1;
        } else if (opts_is(o, "--metric")) {
            const char *v = opts_value(o);
            if (!v) return CLI_ERROR;
            if (strcmp(v, "euclidean") == 0)
                c->metric = FT_METRIC_EUCLIDEAN;
            else if (strcmp(v, "cosine") == 0)
                c->metric = FT_METRIC_COSINE;
            else
                return opts_bad(o, "'euclidean' or 'cosine'");
        } else if (opts_is(o, "--no-fallback")) {
            if (opts_flag(o)) return CLI_ERROR;
            c->fallback = 0;
        } else if (opts_is(o, "--json")) {
            if (opts_flag(o)) return CLI_ERROR;
            c->json = 1;
        } else {
            return opts_unknown(o);
        }
        if (file) {
            const char *v = opts_value(o);
            if (!v) return CLI_ERROR;
            if (!*v) return opts_bad(o, "a file or folder name");
            *file = v;
        }
    }
    if (o->n_operands > 0) return usage_error(o->cmd, "unexpected operand '%s'", argv[1]);
    if (!c->score_set) c->dp.min_score = ft_detector_default_score(c->dp.detector);
    if (c->load_dist) {
        if (c->pairs || c->images || c->load_desc || c->save_desc || c->save_dist)
            return usage_error(o->cmd, "--load-distances takes no --pairs, --images or "
                                       "descriptor/distance files to write or read");
        return CLI_OK;
    }
    if (!c->pairs) return usage_error(o->cmd, "missing --pairs FILE");
    if (!c->images) return usage_error(o->cmd, "missing --images DIR");
    return CLI_OK;
}

#define LOG_EVERY 500 /* images between progress lines when stderr is not a terminal */

/* "\reval lfw: DONE/TOTAL images, RATE/s, ETA" on stderr; final ends the line. */
static void progress(int done, int total, int computed, double elapsed, int final, int tty)
{
    double rate = elapsed > 0 ? computed / elapsed : 0;
    int left = total - done;
    double eta = rate > 0 ? left / rate : 0;
    fprintf(stderr, "%seval lfw: %d/%d images, %.1f/s, ETA %dm%02ds ", tty ? "\r" : "", done, total,
            rate, (int)(eta / 60), (int)fmod(eta, 60));
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

/* Computes the descriptors of every image not done yet. */
static int compute_descriptors(const char *cmd, const struct config *c, const ft_lfw_pairs *p,
                               struct image_rec *recs, struct report *rp)
{
    int todo = 0;
    for (int i = 0; i < p->n_images; i++)
        todo += !recs[i].done;
    if (todo == 0) return CLI_OK;
    ft_engine *eng = NULL;
    if (start_engine(cmd, &c->ep, &c->dp, &eng) != CLI_OK) return CLI_ERROR;
    struct faces fs = { 0 };
    int tty = isatty(2), status = CLI_OK, probed = 0, done = p->n_images - todo;
    int needs_probe = c->dp.align != FT_ALIGN_FACEAPI || c->dp.mirror;
    double t0 = now_s(), last = 0;
    size_t dir_len = strlen(c->images);
    char *path = NULL;
    size_t path_cap = 0;
    for (int i = 0; i < p->n_images && status == CLI_OK; i++) {
        if (recs[i].done) continue;
        size_t need = dir_len + strlen(p->images[i]) + 2;
        if (need > path_cap) {
            char *g = realloc(path, need);
            if (!g) {
                fprintf(stderr, "facetrail %s: out of memory\n", cmd);
                status = CLI_ERROR;
                break;
            }
            path = g;
            path_cap = need;
        }
        snprintf(path, need, "%s/%s", c->images, p->images[i]);
        char err[512];
        ft_image *img = NULL;
        if (load_image(cmd, path, 0, &img, err, sizeof err) != FT_OK) {
            recs[i].done = 1;
            recs[i].method = M_UNREADABLE;
        } else {
            const char *message = "";
            int rc = describe_image(eng, c, img, &fs, &recs[i], &message);
            if (rc == FT_EINVAL && c->dp.align == FT_ALIGN_DLIB) {
                fprintf(stderr, "facetrail %s: the engine refused --align dlib: %s\n", cmd,
                        message);
                status = CLI_ERROR;
            } else if (rc != FT_OK) {
                fprintf(stderr, "facetrail %s: %s: %s\n", cmd, path, message);
                status = CLI_ERROR;
            } else if (needs_probe && !probed && recs[i].method == M_DETECT) {
                /* did --align/--mirror change anything? compare with the default */
                struct config plain = *c;
                plain.dp.align = FT_ALIGN_FACEAPI;
                plain.dp.mirror = 0;
                struct image_rec r0 = { 0 };
                if (describe_image(eng, &plain, img, &fs, &r0, &message) == FT_OK &&
                    r0.method == M_DETECT) {
                    probed = 1;
                    rp->options_effective = memcmp(r0.d, recs[i].d, sizeof r0.d) != 0;
                    if (!rp->options_effective)
                        fprintf(stderr,
                                "facetrail %s: warning: --align/--mirror gave the same "
                                "descriptor as the default pipeline\n",
                                cmd);
                }
            }
        }
        ft_image_destroy(img);
        done++;
        rp->n_computed++;
        double t = now_s() - t0;
        if (tty && (t - last >= 0.5 || done == p->n_images)) {
            progress(done, p->n_images, rp->n_computed, t, done == p->n_images, 1);
            last = t;
        } else if (!tty && rp->n_computed % LOG_EVERY == 0) { /* a log, not a terminal */
            progress(done, p->n_images, rp->n_computed, t, 1, 0);
        }
    }
    rp->seconds = now_s() - t0;
    free(path);
    faces_free(&fs);
    ft_engine_close(eng);
    return status;
}

/* Evaluation of saved distances. */
static int run_saved(const char *cmd, struct config *c)
{
    ft_verify_item *items;
    int n, n_folds;
    if (load_distances(cmd, c->load_dist, c->limit_folds, &items, &n, &n_folds, &c->metric) !=
        CLI_OK)
        return CLI_ERROR;
    struct report rp = { .c = c, .options_effective = -1 };
    char err[512] = "";
    int rc = ft_verify_evaluate(items, n, n_folds, &rp.r, err, sizeof err);
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail %s: %s: %s\n", cmd, c->load_dist, *err ? err : ft_strerror(rc));
        free(items);
        return CLI_ERROR;
    }
    /* calibration from the protocol's impostor and genuine pairs */
    double *imp = calloc((size_t)n, sizeof *imp), *gen = calloc((size_t)n, sizeof *gen);
    size_t ni = 0, ng = 0;
    if (imp && gen) {
        for (int i = 0; i < n; i++) {
            if (items[i].same)
                gen[ng++] = items[i].distance;
            else
                imp[ni++] = items[i].distance;
        }
        rp.have_cal = ft_calibration_from_distances(c->metric, imp, ni, gen, ng, &rp.cal, err,
                                                    sizeof err) == FT_OK;
        rp.cal_source = "the different-person pairs of the protocol";
    }
    if (rp.have_cal && c->print_cal &&
        write_calibration_table(cmd, c->print_cal, &rp.cal, c, rp.cal_source) != CLI_OK) {
        free(imp);
        free(gen);
        free(items);
        return CLI_ERROR;
    }
    free(imp);
    free(gen);
    free(items);
    if (c->json)
        write_json(&rp);
    else
        write_text(&rp);
    return CLI_OK;
}

int cmd_eval_lfw(int argc, char **argv)
{
    struct config c = { 0 };
    c.ep = ft_engine_default_params();
    c.ep.model_dir = default_model_dir();
    c.ep.n_threads = default_threads();
    c.dp = ft_detect_default_params();
    c.metric = FT_METRIC_EUCLIDEAN;
    c.fallback = 1;
    struct opts o;
    int st = parse_options(argc, argv, &c, &o);
    if (st < 0) return CLI_OK; /* --help */
    if (st != CLI_OK) return st;
    const char *cmd = o.cmd;
    if (c.load_dist) return run_saved(cmd, &c);

    char err[512] = "";
    ft_lfw_pairs *p = NULL;
    int rc = ft_lfw_pairs_load(c.pairs, c.limit_folds, &p, err, sizeof err);
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail %s: %s\n", cmd, *err ? err : ft_strerror(rc));
        return CLI_ERROR;
    }
    int status = CLI_ERROR;
    struct image_rec *recs = xcalloc((size_t)p->n_images, sizeof *recs, cmd);
    float(*desc)[FT_DESCRIPTOR_DIM] = xcalloc((size_t)p->n_images, sizeof *desc, cmd);
    ft_verify_item *items = xcalloc((size_t)p->n_pairs, sizeof *items, cmd);
    double *imp = NULL, *gen = NULL;
    struct report rp = {
        .c = &c, .have_images = 1, .n_images = p->n_images, .options_effective = -1
    };
    if (!recs || !desc || !items) goto done;
    if (c.load_desc && load_descriptors(cmd, c.load_desc, &c, p, recs, &rp.n_loaded) != CLI_OK)
        goto done;
    if (compute_descriptors(cmd, &c, p, recs, &rp) != CLI_OK) goto done;
    if (c.save_desc && save_descriptors(cmd, c.save_desc, &c, p, recs) != CLI_OK) goto done;
    if (c.load_desc)
        fprintf(stderr, "eval lfw: %d images: %d computed in %.1f s, %d from %s\n", p->n_images,
                rp.n_computed, rp.seconds, rp.n_loaded, c.load_desc);
    else
        fprintf(stderr, "eval lfw: %d images computed in %.1f s\n", p->n_images, rp.seconds);

    for (int i = 0; i < p->n_images; i++) {
        const struct image_rec *r = &recs[i];
        rp.count[r->method]++;
        rp.no_face += r->no_face;
        memcpy(desc[i], r->d, sizeof desc[i]);
        if (c.metric == FT_METRIC_COSINE) ft_descriptor_normalize(desc[i]);
    }
    for (int i = 0; i < p->n_pairs; i++) {
        const ft_lfw_pair *q = &p->pairs[i];
        int a = q->image[0], b = q->image[1];
        items[i].fold = q->fold;
        items[i].same = q->same;
        items[i].distance = has_descriptor(&recs[a]) && has_descriptor(&recs[b])
                                ? ft_descriptor_distance(desc[a], desc[b])
                                : NAN;
    }
    if (c.save_dist && save_distances(cmd, c.save_dist, &c, p, items) != CLI_OK) goto done;
    rc = ft_verify_evaluate(items, p->n_pairs, p->n_folds, &rp.r, err, sizeof err);
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail %s: %s\n", cmd, *err ? err : ft_strerror(rc));
        goto done;
    }

    size_t ni = 0, ng = 0;
    if (all_pair_distances(cmd, p, recs, (const float(*)[FT_DESCRIPTOR_DIM])desc, &imp, &ni, &gen,
                           &ng) != CLI_OK)
        goto done;
    rc = ft_calibration_from_distances(c.metric, imp, ni, gen, ng, &rp.cal, err, sizeof err);
    if (rc == FT_OK) {
        rp.have_cal = 1;
        rp.cal_source = "every pair of images of different people (LFW folds read)";
    } else {
        fprintf(stderr, "facetrail %s: no calibration: %s\n", cmd, err);
    }
    if (rp.have_cal && c.print_cal &&
        write_calibration_table(cmd, c.print_cal, &rp.cal, &c, rp.cal_source) != CLI_OK)
        goto done;
    if (rp.count[M_UNREADABLE])
        fprintf(stderr,
                "facetrail %s: warning: %d images could not be read; their pairs count "
                "as unknown\n",
                cmd, rp.count[M_UNREADABLE]);
    if (c.json)
        write_json(&rp);
    else
        write_text(&rp);
    status = CLI_OK;
done:
    free(imp);
    free(gen);
    free(items);
    free(desc);
    free(recs);
    ft_lfw_pairs_free(p);
    return status;
}
