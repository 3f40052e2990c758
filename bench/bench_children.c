/*
** bench/bench_children.c: how the default pipeline does on children: face
** detection recall by face height on WIDER FACE's schoolchildren, and how
** often the descriptor confuses two different children, measured on UTKFace
** at the thresholds the LFW calibration gives.
**
**   bench_children wider --gt FILE --index-dir DIR --images DIR [options]
**   bench_children utk --images DIR [options]
**
** THE NUMBERS IN docs/ACCURACY.md "Children" (2 shared cores, 1 thread):
**   make B=build/ch -j2 build/ch/facetrail build/ch/bench/bench_children
**   D=../shared/data/widerface-val
**   build/ch/bench/bench_children wider --gt $D/wider_face_val_bbx_gt.txt --index-dir $D \
**       --images $D/images                                        # 580 images, ~75 s
**   U=../shared/data/utkface/images
**   build/ch/bench/bench_children utk --images $U --save-descriptors build/ch/utk.tsv \
**       --closest 12                                              # 4,719 photos, ~3 min
**   build/ch/bench/bench_children utk --images $U --load-descriptors build/ch/utk.tsv \
**       --apart 60                                                # ~15 s
**   (--load-descriptors refuses a file made in another descriptor space, so a
**   change of the default pipeline needs a new --save-descriptors run.)
**
** DESIGN
**   wider   The default pipeline's detector (ft_detect_default_params, no
**           landmarks or descriptors) on every ground-truth image, once, at
**           the lowest score asked for; a higher score keeps a prefix of the
**           same list (YuNet's NMS is greedy by score, so a detection never
**           suppresses a better one: the kept set is the one a run at that
**           score gives). Matching is the official protocol's: detections
**           by score (descending, stable), each to its best-IoU face (first
**           of equals, ft__wider_iou: the +1-pixel convention); IoU >= 0.5
**           finds that face. Faces the hard level lists "count"; the others
**           (tiny or invalid) are the protocol's ignore regions: reported
**           apart, never in the recall. Per image set (the event, then every
**           image), per score, per face-height bin: faces, counted, found,
**           recall with a Wilson 95% interval (faces taken as independent,
**           which faces of one photo are not), and the ignored faces and how
**           many of them a detection hit. A detection on no face (best IoU
**           < 0.5) is counted as false.
**   utk     Every photo of the folder (names AGE_GENDER_RACE_DATE.jpg.chip.jpg):
**           ft_engine_detect with the default pipeline; the largest face
**           (box area) with a descriptor is the photo's; a photo without one
**           is counted per age group and left out. UTKFace has one photo per
**           person (no identity labels), so every pair of photos is an
**           impostor pair, as far as anyone knows: the same person can still
**           appear twice, so the rates are upper bounds (--closest lists the
**           nearest pairs to look at). Distances in the calibration's metric
**           (cosine). For each pair set (within an age group, a group
**           against adults 20-59, and within a group between photos of the
**           same labelled gender and race, a control for the groups' mixes):
**             FMR at the calibration's thresholds for 1e-3, 1e-4, 1e-5
**               (match iff distance < threshold), and its ratio to that
**               nominal rate;
**             the threshold that gives the set itself each rate: the
**               (floor(r n) + 1)-th smallest distance (as
**               ft_calibration_from_distances), with the LFW FMR and FNMR
**               (LFW adults' genuine pairs) the calibration gives there:
**               the price of that threshold, as far as adults show it;
**             the threshold that gives the set the rate adults 20-59 of
**               the same data have at each calibration threshold: the
**               like-for-like answer, free of what sets UTKFace apart
**               from LFW (tight 200 px crops, so that dlib's chip is
**               partly black; other people and photo quality).
**           --apart M leaves out pairs of photos UTKFace added less than M
**           minutes apart (the name's DATE): the nearest pairs are mostly
**           one person's photos added in one sitting.
**           Intervals: photos resampled with replacement within each age
**           group (--boot, default 1000), 2.5 and 97.5 percentiles: pairs
**           that share a photo are not independent, photos are the unit.
**           There are no genuine pairs of children in the data (no identity
**           labels), so the genuine side is not measured; a photo and its
**           mirror image or a shifted crop would not be one.
**
** OUTPUT      Markdown tables on stdout; progress and timing on stderr.
** EXIT        0 done, 2 error (bad options, unreadable files or models).
** SEE ALSO    src/eval/wider.c (the protocol), src/eval/calibrate.c (the
**             calibration), tools/cmd_eval_wider.c.
*/
#include "eval/wider.h"
#include "facetrail.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PROG        "bench_children"
#define MAX_LIST    16 /* values in --scores, --heights */
#define N_RATES     3
#define N_GROUPS    6
#define MAX_PATH    4096
#define MAX_CLOSEST 100

static const double RATES[N_RATES] = { 1e-3, 1e-4, 1e-5 };

static const char usage[] =
    "usage: " PROG " wider --gt FILE --index-dir DIR --images DIR [options]\n"
    "       " PROG " utk --images DIR [options]\n"
    "\n"
    "wider: recall of the default detector by face height on one WIDER FACE event\n"
    "(29--Students_Schoolkids unless --event) and on every ground-truth image, at\n"
    "the default score and at 0.3; IoU >= 0.5 matching as the official protocol\n"
    "(greedy by score); faces outside the hard level's list are ignore regions,\n"
    "reported apart.\n"
    "  --gt FILE          wider_face_val_bbx_gt.txt\n"
    "  --index-dir DIR    folder with wider_val_{easy,medium,hard}_gt_index.txt\n"
    "  --images DIR       images folder (DIR/<file line of the gt>)\n"
    "  --event NAME       the event's folder (default 29--Students_Schoolkids)\n"
    "  --event-only       detect on the event's images only\n"
    "  --scores LIST      raw scores, comma-separated (default: the detector's\n"
    "                     default score, then 0.3)\n"
    "  --heights LIST     bin edges in pixels of face height (default 16,32,64,128)\n"
    "\n"
    "utk: UTKFace photos (AGE_GENDER_RACE_DATE.jpg.chip.jpg, one per person): per\n"
    "age group 0-4, 5-9, 10-14, 15-19, 20-59, 60+, the photos without a face and\n"
    "the false-match rate among different people at the thresholds the LFW\n"
    "calibration gives for FMR 1e-3, 1e-4 and 1e-5, and the thresholds that give\n"
    "each group those rates.\n"
    "  --images DIR             the photos\n"
    "  --save-descriptors FILE  write each photo's face and descriptor (TSV)\n"
    "  --load-descriptors FILE  read them instead of running the pipeline\n"
    "  --boot N                 bootstrap resamples of the photos (default 1000; 0: none)\n"
    "  --seed S                 bootstrap seed (default 1)\n"
    "  --closest N              list the N closest pairs of each child group (default 0)\n"
    "  --apart MINUTES          leave out pairs of photos added (the name's DATE) less\n"
    "                           than MINUTES apart: often the same person (default 0)\n"
    "\n"
    "both:\n"
    "  --models DIR       model folder (default $FT_MODEL_DIR, else found)\n"
    "  --threads N        engine threads (default 1)\n"
    "  -h, --help         this text\n"
    "\n"
    "exit status: 0 done, 2 error\n";

/* ======================================================================== */
/* Utilities                                                                */
/* ======================================================================== */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double parse_num(const char *name, const char *v, double lo, double hi)
{
    char *end;
    errno = 0;
    double x = v ? strtod(v, &end) : NAN;
    if (!v || end == v || *end || errno || !(x >= lo && x <= hi))
        die("%s needs a number in [%g, %g] (see --help)", name, lo, hi);
    return x;
}

/* A comma-separated list of 1 to MAX_LIST numbers in [lo, hi]. */
static int parse_list(const char *name, const char *v, double lo, double hi, double *out)
{
    int n = 0;
    const char *p = v;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno || !(x >= lo && x <= hi) || n == MAX_LIST ||
            (*end != ',' && *end != '\0'))
            die("%s needs 1 to %d comma-separated numbers in [%g, %g] (see --help)", name, MAX_LIST,
                lo, hi);
        out[n++] = x;
        if (!*end) break;
        p = end + 1;
    }
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Wilson score interval (95%) of k successes in n trials. */
static void wilson(int k, int n, double *lo, double *hi)
{
    if (n == 0) {
        *lo = *hi = NAN;
        return;
    }
    const double z = 1.959964;
    double p = (double)k / n, z2n = z * z / n;
    double c = (p + z2n / 2) / (1 + z2n);
    double h = z * sqrt(p * (1 - p) / n + z2n / (4.0 * n)) / (1 + z2n);
    *lo = c - h > 0 ? c - h : 0;
    *hi = c + h < 1 ? c + h : 1;
}

/* splitmix64: the bootstrap's generator (fixed seed, reproducible). */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static ft_engine *open_engine(const char *models, int threads)
{
    char err[512];
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = models;
    ep.n_threads = threads;
    ft_engine *eng;
    if (ft_engine_open(&ep, &eng, err, sizeof err) != FT_OK) die("%s", err);
    return eng;
}

/* Detects with dp into *faces (grown as needed); returns the count. */
static int detect_all(ft_engine *eng, const ft_image *img, const ft_detect_params *dp,
                      ft_face **faces, int *cap, const char *path)
{
    for (;;) {
        int n = 0;
        if (ft_engine_detect(eng, img, dp, *faces, *cap, &n) != FT_OK)
            die("%s: %s", path, ft_engine_errmsg(eng));
        if (n <= *cap) return n;
        *cap = n;
        *faces = xrealloc(*faces, (size_t)n * sizeof **faces);
    }
}

typedef struct options {
    const char *mode;
    const char *gt, *index_dir, *images, *event, *models, *save, *load;
    int event_only, threads, boot, closest;
    double apart_min;
    uint64_t seed;
    double scores[MAX_LIST], heights[MAX_LIST];
    int n_scores, n_heights;
} options;

/* ======================================================================== */
/* wider: detection recall by face height                                   */
/* ======================================================================== */

/* Per (image set, score, height bin). */
typedef struct bin_count {
    int faces, counted, found, ignored, ignored_invalid, ignored_hit;
} bin_count;

typedef struct set_count {
    int images;
    long long detections, false_dets;
    bin_count *bins; /* (n_heights + 1) */
} set_count;

static int height_bin(double h, const double *edges, int n_edges)
{
    int b = 0;
    while (b < n_edges && h >= edges[b])
        b++;
    return b;
}

/* Matches one image's detections (sorted by score, descending) kept at score
** s into sc, as the protocol matches them. */
static void match_image(const ft_wider_image *im, const ft_face *dets, const int *order, int n_dets,
                        double s, const options *o, set_count *sc, unsigned char *hit)
{
    int G = im->n_faces;
    memset(hit, 0, G ? (size_t)G : 1);
    sc->images++;
    for (int h = 0; h < n_dets && dets[order[h]].score >= s; h++) {
        const ft_face *d = &dets[order[h]];
        sc->detections++;
        double best = -1;
        int arg = -1;
        for (int g = 0; g < G; g++) {
            double v = ft__wider_iou(d->box, im->faces[g].box);
            if (v > best) best = v, arg = g;
        }
        if (arg >= 0 && best >= 0.5)
            hit[arg] = 1;
        else
            sc->false_dets++;
    }
    for (int g = 0; g < G; g++) {
        const ft_wider_face *f = &im->faces[g];
        bin_count *b = &sc->bins[height_bin(f->box[3], o->heights, o->n_heights)];
        b->faces++;
        if ((f->levels >> FT_WIDER_HARD) & 1u) {
            b->counted++;
            b->found += hit[g];
        } else {
            b->ignored++;
            b->ignored_invalid += f->attr[3] != 0;
            b->ignored_hit += hit[g];
        }
    }
}

static void bin_label(const options *o, int b, char *buf, size_t len)
{
    if (b == 0)
        snprintf(buf, len, "< %g", o->heights[0]);
    else if (b == o->n_heights)
        snprintf(buf, len, ">= %g", o->heights[b - 1]);
    else
        snprintf(buf, len, "%g-%g", o->heights[b - 1], o->heights[b]);
}

static void print_set(const char *title, const set_count *sc, double score, const options *o)
{
    printf("\n%s: %d images, score >= %g: %lld detections, %lld on no face (IoU < 0.5)\n\n", title,
           sc->images, score, sc->detections, sc->false_dets);
    printf("| face height (px) | faces | counted | found | recall (95%% CI) | ignored (invalid) "
           "| ignored hit |\n");
    printf("| --- | ---: | ---: | ---: | --- | ---: | ---: |\n");
    bin_count t = { 0 };
    for (int b = 0; b <= o->n_heights + 1; b++) {
        const bin_count *c = b <= o->n_heights ? &sc->bins[b] : &t;
        char label[64], rec[64];
        if (b <= o->n_heights)
            bin_label(o, b, label, sizeof label);
        else
            snprintf(label, sizeof label, "all");
        if (c->counted) {
            double lo, hi;
            wilson(c->found, c->counted, &lo, &hi);
            snprintf(rec, sizeof rec, "%.3f (%.2f-%.2f)", (double)c->found / c->counted, lo, hi);
        } else {
            snprintf(rec, sizeof rec, "-");
        }
        printf("| %s | %d | %d | %d | %s | %d (%d) | %d |\n", label, c->faces, c->counted, c->found,
               rec, c->ignored, c->ignored_invalid, c->ignored_hit);
        if (b <= o->n_heights) {
            t.faces += c->faces, t.counted += c->counted, t.found += c->found;
            t.ignored += c->ignored, t.ignored_invalid += c->ignored_invalid;
            t.ignored_hit += c->ignored_hit;
        }
    }
}

/* qsort has no context: the faces being sorted. */
static const ft_face *sort_faces;

static int cmp_order(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    double x = sort_faces[i].score, y = sort_faces[j].score;
    if (x != y) return x < y ? 1 : -1;
    return (i > j) - (i < j); /* stable */
}

static int run_wider(const options *o)
{
    if (!o->gt || !o->index_dir || !o->images)
        die("wider needs --gt FILE, --index-dir DIR and --images DIR (see --help)");
    char err[1024];
    ft_wider_gt *gt;
    if (ft_wider_gt_load(o->gt, o->index_dir, &gt, err, sizeof err) != FT_OK) die("%s", err);
    int n_img = ft_wider_gt_n_images(gt);
    const char *event = o->event ? o->event : "29--Students_Schoolkids";
    size_t ev_len = strlen(event);

    /* which images; every path checked before the engine starts */
    unsigned char *in_event = xmalloc((size_t)n_img), *use = xmalloc((size_t)n_img);
    int n_event = 0, n_use = 0, max_faces = 1;
    for (int i = 0; i < n_img; i++) {
        const ft_wider_image *im = ft_wider_gt_image(gt, i);
        in_event[i] = !strncmp(im->file, event, ev_len) && im->file[ev_len] == '/';
        use[i] = in_event[i] || !o->event_only;
        n_event += in_event[i];
        if (!use[i]) continue;
        n_use++;
        if (im->n_faces > max_faces) max_faces = im->n_faces;
        char path[MAX_PATH];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", o->images, im->file) >= (int)sizeof path)
            die("%s/%s: path too long", o->images, im->file);
        if (stat(path, &st) != 0) die("%s: %s", path, strerror(errno));
    }
    if (n_event == 0) die("%s: no image of event '%s' (see --event)", o->gt, event);

    ft_detect_params dp = ft_detect_default_params();
    double scores[MAX_LIST];
    int n_scores = o->n_scores;
    if (n_scores) {
        memcpy(scores, o->scores, sizeof scores);
    } else {
        scores[0] = ft_detector_default_score(dp.detector);
        scores[1] = 0.3;
        n_scores = 2;
    }
    double lowest = scores[0];
    for (int k = 1; k < n_scores; k++)
        if (scores[k] < lowest) lowest = scores[k];
    dp.min_score = (float)lowest;
    dp.with_landmarks = 0;
    dp.with_descriptor = 0;

    /* counts: [set][score], set 0 the event, 1 every image used */
    set_count sc[2][MAX_LIST];
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < n_scores; k++) {
            memset(&sc[s][k], 0, sizeof sc[s][k]);
            sc[s][k].bins = calloc((size_t)o->n_heights + 1, sizeof(bin_count));
            if (!sc[s][k].bins) die("out of memory");
        }
    ft_engine *eng = open_engine(o->models, o->threads);
    int cap = 1024;
    ft_face *faces = xmalloc((size_t)cap * sizeof *faces);
    int *order = NULL;
    unsigned char *hit = xmalloc((size_t)max_faces);
    double t0 = now_s(), t_det = 0;
    int done = 0;
    for (int i = 0; i < n_img; i++) {
        if (!use[i]) continue;
        const ft_wider_image *im = ft_wider_gt_image(gt, i);
        char path[MAX_PATH];
        snprintf(path, sizeof path, "%s/%s", o->images, im->file);
        ft_image *img;
        if (ft_image_load(path, 0, &img, err, sizeof err) != FT_OK) die("%s", err);
        double t1 = now_s();
        int n = detect_all(eng, img, &dp, &faces, &cap, path);
        t_det += now_s() - t1;
        ft_image_destroy(img);
        order = xrealloc(order, (size_t)(n ? n : 1) * sizeof *order);
        for (int h = 0; h < n; h++)
            order[h] = h;
        sort_faces = faces;
        qsort(order, (size_t)n, sizeof *order, cmp_order);
        for (int k = 0; k < n_scores; k++) {
            if (in_event[i]) match_image(im, faces, order, n, scores[k], o, &sc[0][k], hit);
            match_image(im, faces, order, n, scores[k], o, &sc[1][k], hit);
        }
        if (++done % 50 == 0 || done == n_use) fprintf(stderr, "\r%d/%d images", done, n_use);
    }
    fprintf(stderr, "\n%d images in %.0f s (detector %.0f ms/image, %d thread%s)\n", n_use,
            now_s() - t0, 1e3 * t_det / (n_use ? n_use : 1), o->threads, o->threads > 1 ? "s" : "");

    printf("# Detection recall by face height: WIDER FACE, default detector (%s)\n",
           dp.detector == FT_DETECTOR_YUNET ? "YuNet" : "not YuNet");
    printf("\ncounted: faces the hard level lists (the protocol's faces); ignored: the others, "
           "ignore regions (invalid: marked invalid); recall = found / counted\n");
    for (int k = 0; k < n_scores; k++) {
        char title[256];
        snprintf(title, sizeof title, "## %s", event);
        print_set(title, &sc[0][k], scores[k], o);
    }
    if (!o->event_only)
        for (int k = 0; k < n_scores; k++)
            print_set("## every image of the ground truth", &sc[1][k], scores[k], o);
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < n_scores; k++)
            free(sc[s][k].bins);
    free(faces);
    free(order);
    free(hit);
    free(in_event);
    free(use);
    ft_engine_close(eng);
    ft_wider_gt_destroy(gt);
    return 0;
}

/* ======================================================================== */
/* utk: false matches among children                                        */
/* ======================================================================== */

static const struct {
    int lo, hi; /* ages [lo, hi] */
    const char *name;
} GROUPS[N_GROUPS] = { { 0, 4, "0-4" },     { 5, 9, "5-9" },     { 10, 14, "10-14" },
                       { 15, 19, "15-19" }, { 20, 59, "20-59" }, { 60, 1000, "60+" } };
typedef struct photo {
    char *file;
    int age, gender, race; /* gender, race -1 when the name lacks them */
    int group;
    double minute; /* when UTKFace added it (the name's DATE), minutes; NaN if none */
    int found;     /* a face with a descriptor */
    double score, height;
    float desc[FT_DESCRIPTOR_DIM];
} photo;

typedef struct photos {
    photo *v;
    int n, cap;
    int skipped; /* names that are not AGE_..., skipped */
} photos;

/* AGE_GENDER_RACE_DATE.jpg.chip.jpg -> p; 0, or -1 when the name is not one. */
static int parse_name(const char *name, photo *p)
{
    long f[3];
    int n = 0;
    const char *s = name;
    while (n < 3) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || *end != '_') break;
        f[n++] = v;
        s = end + 1;
    }
    if (n < 2 || f[0] < 0 || f[0] > 200) return -1;
    p->age = (int)f[0];
    /* two names lack a field: which one is unknown, so both are */
    p->gender = n == 3 && f[1] >= 0 && f[1] <= 1 ? (int)f[1] : -1;
    p->race = n == 3 && f[2] >= 0 && f[2] <= 4 ? (int)f[2] : -1;
    p->group = -1;
    for (int g = 0; g < N_GROUPS; g++)
        if (p->age >= GROUPS[g].lo && p->age <= GROUPS[g].hi) p->group = g;
    /* DATE: the last field, yyyymmddHHMMSSFFF */
    p->minute = NAN;
    const char *u = strrchr(name, '_');
    int Y, M, D, h, m, sec, ms;
    if (u && strspn(u + 1, "0123456789") == 17 &&
        sscanf(u + 1, "%4d%2d%2d%2d%2d%2d%3d", &Y, &M, &D, &h, &m, &sec, &ms) == 7) {
        /* days from 1970-01-01 of a proleptic Gregorian date */
        int y = M <= 2 ? Y - 1 : Y, era = y / 400, yoe = y - era * 400;
        int doy = (153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1;
        long days = (long)era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
        p->minute = days * 1440.0 + h * 60 + m + (sec + ms / 1000.0) / 60;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_photos(const char *dir, photos *P)
{
    DIR *d = opendir(dir);
    if (!d) die("%s: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t L = strlen(e->d_name);
        if (e->d_name[0] == '.' || L < 4 || strcmp(e->d_name + L - 4, ".jpg")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            names = xrealloc(names, (size_t)cap * sizeof *names);
        }
        names[n] = strdup(e->d_name);
        if (!names[n++]) die("out of memory");
    }
    closedir(d);
    if (n == 0) die("%s: no .jpg file", dir);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    P->v = xmalloc((size_t)n * sizeof *P->v);
    for (int i = 0; i < n; i++) {
        photo p;
        memset(&p, 0, sizeof p);
        if (parse_name(names[i], &p) != 0) {
            fprintf(stderr, PROG ": %s/%s: not AGE_GENDER_RACE_..., skipped\n", dir, names[i]);
            P->skipped++;
            free(names[i]);
            continue;
        }
        p.file = names[i];
        P->v[P->n++] = p;
    }
    free(names);
}

static void describe_photos(const options *o, photos *P, const ft_detect_params *dp)
{
    ft_engine *eng = open_engine(o->models, o->threads);
    int cap = 16;
    ft_face *faces = xmalloc((size_t)cap * sizeof *faces);
    char err[1024], path[MAX_PATH];
    double t0 = now_s();
    for (int i = 0; i < P->n; i++) {
        photo *p = &P->v[i];
        if (snprintf(path, sizeof path, "%s/%s", o->images, p->file) >= (int)sizeof path)
            die("%s/%s: path too long", o->images, p->file);
        ft_image *img;
        if (ft_image_load(path, 0, &img, err, sizeof err) != FT_OK) die("%s", err);
        int n = detect_all(eng, img, dp, &faces, &cap, path);
        int best = -1;
        for (int k = 0; k < n; k++)
            if (faces[k].has_descriptor &&
                (best < 0 ||
                 faces[k].box[2] * faces[k].box[3] > faces[best].box[2] * faces[best].box[3]))
                best = k;
        if (best >= 0) {
            p->found = 1;
            p->score = faces[best].score;
            p->height = faces[best].box[3];
            memcpy(p->desc, faces[best].descriptor, sizeof p->desc);
        }
        ft_image_destroy(img);
        if ((i + 1) % 100 == 0 || i + 1 == P->n) {
            double el = now_s() - t0;
            fprintf(stderr, "\r%d/%d photos, %.0f ms/photo", i + 1, P->n, 1e3 * el / (i + 1));
        }
    }
    fputc('\n', stderr);
    free(faces);
    ft_engine_close(eng);
}

/* TSV: "# bench_children descriptors SPACE", then per photo: file, found,
** score, height, 128 descriptor values (none when not found). */
static void save_descriptors(const char *path, const photos *P, const char *space)
{
    FILE *f = fopen(path, "w");
    if (!f) die("%s: %s", path, strerror(errno));
    fprintf(f, "# " PROG " descriptors %s\n", space);
    for (int i = 0; i < P->n; i++) {
        const photo *p = &P->v[i];
        fprintf(f, "%s\t%d\t%.9g\t%.9g", p->file, p->found, p->score, p->height);
        for (int k = 0; p->found && k < FT_DESCRIPTOR_DIM; k++)
            fprintf(f, "\t%.9g", (double)p->desc[k]);
        fputc('\n', f);
    }
    if (ferror(f) | fclose(f)) die("%s: write error", path);
}

static void load_descriptors(const char *path, photos *P, const char *space)
{
    FILE *f = fopen(path, "r");
    if (!f) die("%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, loaded = 0;
    unsigned char *seen = calloc((size_t)P->n, 1);
    if (!seen) die("out of memory");
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[len - 1] == '\n') line[--len] = '\0';
        if (lineno == 1) {
            char want[256];
            snprintf(want, sizeof want, "# " PROG " descriptors %s", space);
            if (strcmp(line, want))
                die("%s:1: not descriptors of space %s (the default pipeline's)", path, space);
            continue;
        }
        char *tab = strchr(line, '\t');
        if (!tab) die("%s:%d: no tab", path, lineno);
        *tab = '\0';
        const char *key = line;
        photo *p = NULL;
        int lo = 0, hi = P->n - 1;
        while (lo <= hi) { /* P is sorted by name */
            int mid = (lo + hi) / 2, c = strcmp(P->v[mid].file, key);
            if (c == 0) {
                p = &P->v[mid];
                break;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid - 1;
        }
        if (!p) die("%s:%d: %s is not in --images", path, lineno, key);
        if (seen[p - P->v]++) die("%s:%d: %s listed twice", path, lineno, key);
        char *s = tab + 1, *end;
        p->found = (int)strtol(s, &end, 10);
        s = end;
        p->score = strtod(s, &end);
        if (end == s) die("%s:%d: bad score", path, lineno);
        s = end;
        p->height = strtod(s, &end);
        if (end == s) die("%s:%d: bad height", path, lineno);
        s = end;
        for (int k = 0; p->found && k < FT_DESCRIPTOR_DIM; k++) {
            p->desc[k] = strtof(s, &end);
            if (end == s) die("%s:%d: descriptor value %d missing", path, lineno, k + 1);
            s = end;
        }
        if (*s) die("%s:%d: trailing text", path, lineno);
        loaded++;
    }
    free(line);
    fclose(f);
    if (loaded != P->n) die("%s: %d photos, but --images has %d", path, loaded, P->n);
    free(seen);
}

/* A set of pairs: photos of the groups in mask a with photos of the groups
** in mask b (a == b: pairs within those groups), optionally only pairs whose
** labelled gender and race are the same. */
typedef struct kept {
    float d; /* distance */
    int i, j;
} kept;

typedef struct pair_set {
    const char *name;
    unsigned a, b;
    int same_demo;
    /* measured */
    long long n_pairs; /* pairs of the set (without those --apart leaves out) */
    long long matches[N_RATES];
    kept *kept; /* pairs with distance < KEEP_BELOW, by distance once all are in */
    size_t n_kept, cap_kept;
    kept *near; /* pairs --apart leaves out (d unused) */
    size_t n_near, cap_near;
} pair_set;

#define G(x)       (1u << (x))
#define KEEP_BELOW 0.5f /* above every threshold asked about */
#define ADULT_SET  4    /* sets[ADULT_SET] is 20-59 x 20-59, the reference */

static void push_pair(kept **v, size_t *n, size_t *cap, kept x)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 4096;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = x;
}

static int in_set(const pair_set *s, const photo *p, const photo *q)
{
    unsigned gp = G(p->group), gq = G(q->group);
    int ok = s->a == s->b ? (gp & s->a) && (gq & s->a)
                          : ((gp & s->a) && (gq & s->b)) || ((gp & s->b) && (gq & s->a));
    if (ok && s->same_demo)
        ok = p->gender >= 0 && p->race >= 0 && p->gender == q->gender && p->race == q->race;
    return ok;
}

static int cmp_kept(const void *a, const void *b)
{
    const kept *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    if (x->i != y->i) return x->i < y->i ? -1 : 1;
    return (x->j > y->j) - (x->j < y->j);
}

/* Demographic cell of a photo (gender x race): 0..9, or -1. */
static int demo_cell(const photo *p)
{
    return p->gender >= 0 && p->race >= 0 ? p->gender * 5 + p->race : -1;
}

/* The number of pairs of set s when photo i is taken w[i] times (w all 1:
** the sample itself): pairs of two draws of one photo are not pairs. */
static double weighted_pairs(const pair_set *s, const photos *P, const double *w)
{
    double t = 0;
    if (s->a != s->b) {
        double ca[11] = { 0 }, cb[11] = { 0 };
        for (int i = 0; i < P->n; i++) {
            const photo *p = &P->v[i];
            int c = s->same_demo ? demo_cell(p) : 10;
            if (!p->found || p->group < 0 || c < 0) continue;
            if (G(p->group) & s->a) ca[c] += w[i];
            if (G(p->group) & s->b) cb[c] += w[i];
        }
        for (int c = 0; c < 11; c++)
            t += ca[c] * cb[c];
    } else {
        double W[11] = { 0 }, S2[11] = { 0 };
        for (int i = 0; i < P->n; i++) {
            const photo *p = &P->v[i];
            int c = s->same_demo ? demo_cell(p) : 10;
            if (!p->found || p->group < 0 || c < 0 || !(G(p->group) & s->a)) continue;
            W[c] += w[i];
            S2[c] += w[i] * w[i];
        }
        for (int c = 0; c < 11; c++)
            t += (W[c] * W[c] - S2[c]) / 2;
    }
    for (size_t k = 0; k < s->n_near; k++)
        t -= w[s->near[k].i] * w[s->near[k].j];
    return t;
}

/* The threshold at which at most rate x n of the set's pairs (weighted by
** w[i] w[j]) match: the distance of the pair at which the weighted count
** first exceeds floor(rate n). NaN when the kept pairs do not reach it. */
static double weighted_threshold(const pair_set *s, const double *w, double n, double rate)
{
    double allowed = floor(rate * n), cum = 0;
    for (size_t k = 0; k < s->n_kept; k++) {
        cum += w[s->kept[k].i] * w[s->kept[k].j];
        if (cum > allowed) return s->kept[k].d;
    }
    return NAN;
}

static double weighted_matches(const pair_set *s, const double *w, double t)
{
    double m = 0;
    for (size_t k = 0; k < s->n_kept && s->kept[k].d < t; k++)
        m += w[s->kept[k].i] * w[s->kept[k].j];
    return m;
}

/* The 2.5 and 97.5 percentiles of v[0 .. n) (sorted here); NaN when any
** resample has no answer (its kept pairs do not reach the rate). */
static void percentiles(double *v, int n, double *lo, double *hi)
{
    for (int k = 0; k < n; k++)
        if (isnan(v[k])) {
            *lo = *hi = NAN;
            return;
        }
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *lo = v[(int)floor(0.025 * (n - 1))];
    *hi = v[(int)ceil(0.975 * (n - 1))];
}

static void fmt_rate(char *buf, size_t len, double x)
{
    if (isnan(x))
        snprintf(buf, len, "-");
    else if (x == 0)
        snprintf(buf, len, "0");
    else
        snprintf(buf, len, "%.1e", x);
}

/* One cell of a threshold table: the (floor(rate n) + 1)-th smallest
** distance of s, its interval, and what the calibration says of it. */
static void print_threshold(const pair_set *s, double rate, double *bs, int B,
                            const ft_calibration *cal)
{
    double allowed = floor(rate * (double)s->n_pairs);
    if (allowed < 1) {
        printf(" - (n < 1/r) |");
        return;
    }
    if ((size_t)allowed >= s->n_kept) {
        printf(" >= %.2f |", (double)KEEP_BELOW);
        return;
    }
    double t = s->kept[(size_t)allowed].d, lo = NAN, hi = NAN;
    char f[32];
    fmt_rate(f, sizeof f, ft_calibration_fmr(cal, t, NULL));
    printf(" %s%.3f", allowed < 10 ? "~" : "", t);
    if (B) {
        percentiles(bs, B, &lo, &hi);
        if (isnan(lo))
            printf(" [-]");
        else
            printf(" [%.3f, %.3f]", lo, hi);
    }
    printf(" (LFW FMR %s, FNMR %.0f%%) |", f, 100 * ft_calibration_fnmr(cal, t));
}

static int run_utk(const options *o)
{
    if (!o->images) die("utk needs --images DIR (see --help)");
    if (o->save && o->load) die("--save-descriptors and --load-descriptors exclude each other");
    photos P;
    memset(&P, 0, sizeof P);
    list_photos(o->images, &P);
    ft_detect_params dp = ft_detect_default_params();
    const char *space = ft_descriptor_space(&dp);
    const ft_calibration *cal = space ? ft_calibration_for_space(space) : NULL;
    if (!cal) die("the default pipeline (space %s) has no calibration", space ? space : "none");
    if (o->load)
        load_descriptors(o->load, &P, space);
    else
        describe_photos(o, &P, &dp);
    if (o->save) save_descriptors(o->save, &P, space);

    /* the calibration's thresholds */
    double thr[N_RATES];
    int extra[N_RATES];
    for (int r = 0; r < N_RATES; r++)
        if (ft_calibration_threshold(cal, RATES[r], &thr[r], &extra[r]) != FT_OK)
            die("no threshold for FMR %g", RATES[r]);

    printf("# False matches among children: UTKFace, default pipeline (%s), %s metric\n", space,
           ft_metric_name(cal->metric));
    printf("\nCalibration of %s (LFW adults): threshold %.4f for FMR 1e-3, %.4f for 1e-4, "
           "%.4f for 1e-5%s; a pair matches iff distance < threshold.\n",
           space, thr[0], thr[1], thr[2], extra[2] ? " (1e-5 from the tail model)" : "");

    /* photos per group */
    printf("\n## Photos per age group (the largest face of each photo)\n\n");
    printf("| age | photos | no face | described | median face height (px) |\n");
    printf("| --- | ---: | ---: | ---: | ---: |\n");
    int total = 0, total_found = 0;
    double *hts = xmalloc((size_t)P.n * sizeof *hts);
    for (int g = 0; g < N_GROUPS; g++) {
        int n = 0, nf = 0;
        for (int i = 0; i < P.n; i++) {
            if (P.v[i].group != g) continue;
            n++;
            if (P.v[i].found) hts[nf++] = P.v[i].height;
        }
        total += n, total_found += nf;
        double med = NAN;
        if (nf) {
            qsort(hts, (size_t)nf, sizeof *hts, cmp_double);
            med = nf % 2 ? hts[nf / 2] : (hts[nf / 2 - 1] + hts[nf / 2]) / 2;
        }
        printf("| %s | %d | %d (%.1f%%) | %d | %.0f |\n", GROUPS[g].name, n, n - nf,
               n ? 100.0 * (n - nf) / n : 0.0, nf, med);
    }
    printf("| all | %d | %d (%.1f%%) | %d | |\n", total, total - total_found,
           total ? 100.0 * (total - total_found) / total : 0.0, total_found);
    free(hts);
    if (P.skipped) printf("\n%d files with other names skipped.\n", P.skipped);

    /* the pair sets */
    unsigned kids = G(0) | G(1) | G(2);
    pair_set sets[] = {
        { .name = "0-4 x 0-4", .a = G(0), .b = G(0) },
        { .name = "5-9 x 5-9", .a = G(1), .b = G(1) },
        { .name = "10-14 x 10-14", .a = G(2), .b = G(2) },
        { .name = "15-19 x 15-19", .a = G(3), .b = G(3) },
        { .name = "20-59 x 20-59", .a = G(4), .b = G(4) }, /* ADULT_SET */
        { .name = "60+ x 60+", .a = G(5), .b = G(5) },
        { .name = "0-14 x 0-14", .a = kids, .b = kids },
        { .name = "0-4 x 20-59", .a = G(0), .b = G(4) },
        { .name = "5-9 x 20-59", .a = G(1), .b = G(4) },
        { .name = "10-14 x 20-59", .a = G(2), .b = G(4) },
        { .name = "15-19 x 20-59", .a = G(3), .b = G(4) },
        { .name = "0-14 x 20-59", .a = kids, .b = G(4) },
        { .name = "60+ x 20-59", .a = G(5), .b = G(4) },
        { .name = "0-4 x 0-4, same gender+race", .a = G(0), .b = G(0), .same_demo = 1 },
        { .name = "5-9 x 5-9, same gender+race", .a = G(1), .b = G(1), .same_demo = 1 },
        { .name = "10-14 x 10-14, same gender+race", .a = G(2), .b = G(2), .same_demo = 1 },
        { .name = "20-59 x 20-59, same gender+race", .a = G(4), .b = G(4), .same_demo = 1 },
    };
    int n_sets = (int)(sizeof sets / sizeof sets[0]);

    double t0 = now_s();
    long long n_near = 0;
    for (int i = 0; i < P.n; i++) {
        const photo *p = &P.v[i];
        if (!p->found || p->group < 0) continue;
        for (int j = i + 1; j < P.n; j++) {
            const photo *q = &P.v[j];
            if (!q->found || q->group < 0) continue;
            int near = o->apart_min > 0 && fabs(p->minute - q->minute) < o->apart_min;
            n_near += near;
            float d = near ? 0 : ft_metric_distance(cal->metric, p->desc, q->desc);
            for (int k = 0; k < n_sets; k++) {
                pair_set *s = &sets[k];
                if (!in_set(s, p, q)) continue;
                if (near) {
                    push_pair(&s->near, &s->n_near, &s->cap_near, (kept){ 0, i, j });
                    continue;
                }
                s->n_pairs++;
                for (int r = 0; r < N_RATES; r++)
                    s->matches[r] += d < thr[r];
                if (d < KEEP_BELOW)
                    push_pair(&s->kept, &s->n_kept, &s->cap_kept, (kept){ d, i, j });
            }
        }
    }
    for (int k = 0; k < n_sets; k++)
        qsort(sets[k].kept, sets[k].n_kept, sizeof *sets[k].kept, cmp_kept);
    fprintf(stderr, "pairs in %.1f s\n", now_s() - t0);
    if (o->apart_min > 0)
        printf("\n--apart %g: %lld pairs of photos that UTKFace added less than %g minutes apart "
               "are left out (often the same person, and a same-person pair is no impostor "
               "pair).\n",
               o->apart_min, n_near, o->apart_min);

    /* the adults' own rates at the calibration's thresholds: the reference */
    const pair_set *ad = &sets[ADULT_SET];
    double ref[N_RATES];
    for (int r = 0; r < N_RATES; r++)
        ref[r] = ad->n_pairs ? (double)ad->matches[r] / (double)ad->n_pairs : NAN;

    /* the bootstrap: photos resampled within each group; per resample and
    ** set, [0] FMR at the calibration's thresholds, [1] the threshold for
    ** each rate, [2] for the adults' rate of that resample */
    int B = o->boot;
    size_t per = (size_t)n_sets * N_RATES * (size_t)(B ? B : 1);
    double *w = xmalloc((size_t)P.n * sizeof *w);
    double *bs[3] = { xmalloc(per * sizeof(double)), xmalloc(per * sizeof(double)),
                      xmalloc(per * sizeof(double)) };
    double *nw = xmalloc((size_t)n_sets * sizeof *nw);
    int *members = xmalloc((size_t)P.n * sizeof *members);
    uint64_t rng = o->seed;
    t0 = now_s();
#define AT(k, r, b) (((size_t)(k)*N_RATES + (size_t)(r)) * (size_t)B + (size_t)(b))
    for (int b = 0; b < B; b++) {
        for (int i = 0; i < P.n; i++)
            w[i] = 0;
        for (int g = 0; g < N_GROUPS; g++) {
            int m = 0;
            for (int i = 0; i < P.n; i++)
                if (P.v[i].found && P.v[i].group == g) members[m++] = i;
            for (int k = 0; k < m; k++)
                w[members[rng_next(&rng) % (uint64_t)m]] += 1;
        }
        for (int k = 0; k < n_sets; k++) {
            nw[k] = weighted_pairs(&sets[k], &P, w);
            for (int r = 0; r < N_RATES; r++) {
                bs[0][AT(k, r, b)] =
                    nw[k] > 0 ? weighted_matches(&sets[k], w, thr[r]) / nw[k] : NAN;
                bs[1][AT(k, r, b)] = weighted_threshold(&sets[k], w, nw[k], RATES[r]);
            }
        }
        for (int k = 0; k < n_sets; k++)
            for (int r = 0; r < N_RATES; r++)
                bs[2][AT(k, r, b)] =
                    weighted_threshold(&sets[k], w, nw[k], bs[0][AT(ADULT_SET, r, b)]);
    }
    if (B) fprintf(stderr, "bootstrap (%d resamples) in %.1f s\n", B, now_s() - t0);

    printf("\n## False-match rate at the calibration's thresholds\n\n"
           "FMR = matching pairs / pairs (matching pairs; ratio to the calibrated FMR) "
           "[95%% interval, %d bootstrap resamples of the photos]\n\n",
           B);
    printf("| pairs | n pairs | at FMR 1e-3 (t %.3f) | at FMR 1e-4 (t %.3f) | at FMR 1e-5 "
           "(t %.3f) |\n",
           thr[0], thr[1], thr[2]);
    printf("| --- | ---: | --- | --- | --- |\n");
    for (int k = 0; k < n_sets; k++) {
        const pair_set *s = &sets[k];
        printf("| %s | %lld |", s->name, s->n_pairs);
        for (int r = 0; r < N_RATES; r++) {
            double f = s->n_pairs ? (double)s->matches[r] / s->n_pairs : NAN, lo = NAN, hi = NAN;
            char a[32], l[32], h[32];
            fmt_rate(a, sizeof a, f);
            printf(" %s (%lld; x%.1f)", a, s->matches[r], f / RATES[r]);
            if (B) {
                percentiles(bs[0] + AT(k, r, 0), B, &lo, &hi);
                fmt_rate(l, sizeof l, lo);
                fmt_rate(h, sizeof h, hi);
                printf(" [%s, %s]", l, h);
            }
            printf(" |");
        }
        printf("\n");
    }

    printf("\n## Threshold that gives each pair set the calibrated rate\n\n"
           "t: the (floor(r n) + 1)-th smallest distance of the set (~: fewer than 10 matches "
           "allowed) [95%% interval]; the LFW FMR and FNMR (LFW adults' genuine pairs) at t\n\n");
    printf("| pairs | for FMR 1e-3 | for FMR 1e-4 | for FMR 1e-5 |\n");
    printf("| --- | --- | --- | --- |\n");
    for (int k = 0; k < n_sets; k++) {
        printf("| %s |", sets[k].name);
        for (int r = 0; r < N_RATES; r++)
            print_threshold(&sets[k], RATES[r], bs[1] + AT(k, r, 0), B, cal);
        printf("\n");
    }

    printf("\n## Threshold that gives each pair set the adults' rate\n\n"
           "The rate of %s at the calibration's threshold for 1e-3, 1e-4, 1e-5 (UTKFace's "
           "adults, as this data shows them: %.1e, %.1e, %.1e); t as above; the interval "
           "takes the adults' rate from each resample too\n\n",
           ad->name, ref[0], ref[1], ref[2]);
    printf("| pairs | as adults at t %.3f | as adults at t %.3f | as adults at t %.3f |\n", thr[0],
           thr[1], thr[2]);
    printf("| --- | --- | --- | --- |\n");
    for (int k = 0; k < n_sets; k++) {
        printf("| %s |", sets[k].name);
        for (int r = 0; r < N_RATES; r++)
            print_threshold(&sets[k], ref[r], bs[2] + AT(k, r, 0), B, cal);
        printf("\n");
    }
#undef AT

    if (o->closest > 0) {
        printf("\n## Closest pairs within each child group (look at them: the same person "
               "twice is no impostor pair)\n\n");
        for (int k = 0; k < 3; k++) {
            const pair_set *s = &sets[k];
            printf("%s:\n", s->name);
            for (size_t m = 0; m < s->n_kept && m < (size_t)o->closest; m++) {
                const photo *p = &P.v[s->kept[m].i], *q = &P.v[s->kept[m].j];
                printf("  %.4f  %s  %s  (%.0f min apart)\n", (double)s->kept[m].d, p->file, q->file,
                       fabs(p->minute - q->minute));
            }
        }
    }

    for (int k = 0; k < n_sets; k++) {
        free(sets[k].kept);
        free(sets[k].near);
    }
    for (int i = 0; i < P.n; i++)
        free(P.v[i].file);
    free(P.v);
    free(w);
    for (int k = 0; k < 3; k++)
        free(bs[k]);
    free(nw);
    free(members);
    return 0;
}

/* ======================================================================== */
/* Options                                                                  */
/* ======================================================================== */

static void parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 1, o->boot = 1000, o->seed = 1;
    o->heights[0] = 16, o->heights[1] = 32, o->heights[2] = 64, o->heights[3] = 128;
    o->n_heights = 4;
    if (argc < 2) {
        fputs(usage, stderr);
        exit(2);
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, stdout);
        exit(0);
    }
    o->mode = argv[1];
    if (strcmp(o->mode, "wider") && strcmp(o->mode, "utk"))
        die("unknown command '%s': wider or utk (see --help)", o->mode);
    int wider = !strcmp(o->mode, "wider");
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            exit(0);
        }
        int takes = 1;
        if (!strcmp(a, "--images"))
            o->images = v;
        else if (!strcmp(a, "--models"))
            o->models = v;
        else if (!strcmp(a, "--threads"))
            o->threads = (int)parse_num(a, v, 1, 64);
        else if (wider && !strcmp(a, "--gt"))
            o->gt = v;
        else if (wider && !strcmp(a, "--index-dir"))
            o->index_dir = v;
        else if (wider && !strcmp(a, "--event"))
            o->event = v;
        else if (wider && !strcmp(a, "--event-only"))
            o->event_only = 1, takes = 0;
        else if (wider && !strcmp(a, "--scores") && v)
            o->n_scores = parse_list(a, v, 0.0, 1.0, o->scores);
        else if (wider && !strcmp(a, "--heights") && v) {
            o->n_heights = parse_list(a, v, 1, 100000, o->heights);
            for (int k = 1; k < o->n_heights; k++)
                if (!(o->heights[k] > o->heights[k - 1]))
                    die("--heights must increase (see --help)");
        } else if (!wider && !strcmp(a, "--save-descriptors"))
            o->save = v;
        else if (!wider && !strcmp(a, "--load-descriptors"))
            o->load = v;
        else if (!wider && !strcmp(a, "--boot"))
            o->boot = (int)parse_num(a, v, 0, 100000);
        else if (!wider && !strcmp(a, "--seed"))
            o->seed = (uint64_t)parse_num(a, v, 0, 1e15);
        else if (!wider && !strcmp(a, "--apart"))
            o->apart_min = parse_num(a, v, 0, 1e7);
        else if (!wider && !strcmp(a, "--closest"))
            o->closest = (int)parse_num(a, v, 0, MAX_CLOSEST);
        else if (wider && (!strcmp(a, "--scores") || !strcmp(a, "--heights")))
            die("%s needs a value (see --help)", a);
        else
            die("unknown option '%s' for %s (see --help)", a, o->mode);
        if (takes && !v) die("%s needs a value (see --help)", a);
        i += takes;
    }
}

int main(int argc, char **argv)
{
    options o;
    parse_options(argc, argv, &o);
    return !strcmp(o.mode, "wider") ? run_wider(&o) : run_utk(&o);
}
