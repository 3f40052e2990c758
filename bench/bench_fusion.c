/*
** bench/bench_fusion.c: how a sighting's shots should be scored against a
** query. A sighting (one face track) keeps up to three descriptors, its best
** shots by quality; search takes the smallest distance over them. This bench
** measures, on a simulated race with ground truth, that rule beside the best
** shot alone and fused descriptors, at the same impostor rates, and checks
** the false-match accounting search bases its threshold on.
**
**   bench_fusion --db DB --truth DIR [--json FILE] [--pairs FILE] [options]
**
** THE DATA (docs/ACCURACY.md "Combining a sighting's shots": three races of
** 300 runners and 3 cameras; on 2 shared cores each takes ~3-5 min to render,
** ~6 min to ingest (2.5x real time) and 25 s to measure):
**   make B=build/fu build/fu/facetrail build/fu/bench/bench_race_sim build/fu/bench/bench_fusion
**   R=build/fu/race; DB=$R/race.ftdb
**   build/fu/bench/bench_race_sim --people ../shared/data/lfw/images --runners 300 \
**       --cameras 3 --width 960 --height 540 --check-queries --seed 1 --out $R
**   awk -F '\t' '$1 == "camera" { print $2, $3, $4, $5 }' $R/truth.tsv >$R/cams.txt
**   while read -r id km video start; do
**       build/fu/facetrail camera add --db $DB --id $id --km $km; done <$R/cams.txt
**   while read -r id km video start; do build/fu/facetrail ingest --db $DB --camera $id \
**       --start $start --threads 1 --quiet $R/$video; done <$R/cams.txt
**   build/fu/bench/bench_fusion --db $DB --truth $R --json $R/fusion.json
** and the same with --seed 2 (build/fu/race2), and with --seed 3 --face-min 30
** --face-max 60 (build/fu/race3: small faces).
**
** DESIGN
**   labels     each sighting is matched to a true pass of its camera: the
**              candidates are the passes whose [t_in, t_out] +- slack (5 s)
**              overlaps the sighting's [first, last] (race_bench.sh's rule);
**              in a dense race that is several runners at once, so the pass
**              is the candidate whose face was, at the best shot's time,
**              where the best shot's box is (the simulator's geometry lines,
**              as its renderer places faces): nearest centre within
**              max_offset (0.5) face heights, and no other candidate's face
**              within 1 face height. Others are unlabeled (no pass, or
**              ambiguous), counted and left out. A truth file without
**              geometry (an older simulator) labels a sighting only when a
**              single pass overlaps it (slack 0).
**   queries    each runner's held-out photo, described as search does:
**              ft_query_params_for_store (the event's descriptor space and
**              its calibration), ft_query_face.
**   pairs      every (described query, labeled sighting): genuine when the
**              sighting is the query's runner, impostor otherwise. Distances
**              in the calibration's metric, per strategy:
**                best-shot     the highest-quality shot only
**                min           the smallest distance over the shots (search)
**                mean          the mean of the shots' unit descriptors,
**                              re-normalised (raw mean for euclidean)
**                quality-mean  the same weighted by each shot's quality
**                mean-distance the mean of the shots' distances (a vote)
**   rates      per strategy: TAR at empirical impostor rates 1e-2, 1e-3 and
**              1e-4 per sighting comparison (the threshold is the
**              (floor(r n) + 1)-th smallest impostor distance, as
**              ft_verify_tar_at_far; a rate needs n >= 1 / r impostor pairs,
**              and fewer than 10 impostors allowed is marked rough); and at
**              the calibration's thresholds, the impostor rate per sighting
**              measured against the single-descriptor FMR the threshold was
**              chosen for (1e-2, 1e-3, 1e-4, and the FMRs search picks for
**              this gallery counting descriptors, as now, or sightings),
**              beside one shot's rate; and min's "effective shots": its
**              impostor rate per sighting over one shot's at the same
**              threshold (n_desc if shots matched independently, 1 if
**              always together).
**   composites the simulator draws one photo per pass, so a track's shots
**              differ only by scale, blur and position (far less than a
**              real face turning). As a stress test, each runner also gets
**              one composite sighting: the best shot of its best sighting
**              at each camera (cameras show different photos of a person),
**              measured the same way against the same queries.
**   noise      queries resampled with replacement (--boot, default 1000):
**              percentile intervals of each TAR and of its difference to
**              `min` (paired: the same resampled queries), and of the
**              impostor rates. Pairs of one query are not independent, so
**              runners are the unit.
**
** OUTPUT      tables on stdout (the race's sightings, then the composites);
**             --json FILE the same and more; --pairs FILE every pair of the
**             race's sightings with its distances (TSV).
** EXIT        0 done, 2 error (bad options, missing or mismatched files).
*/
#include "facetrail.h"

#include <jansson.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PROG      "bench_fusion"
#define MAX_LANES 16
#define MAX_CAMS  64
#define N_RATES   3
#define N_FIXED   5 /* calibration thresholds: FMR 1e-2, 1e-3, 1e-4, search's two */
#define F_DETAIL  2 /* from this one on, a detailed table */

static const double RATES[N_RATES] = { 1e-2, 1e-3, 1e-4 };

enum strategy { S_BEST, S_MIN, S_MEAN, S_QMEAN, S_MEAN_DIST, N_STRAT };

static const char *const STRAT_NAME[N_STRAT] = { "best-shot", "min", "mean", "quality-mean",
                                                 "mean-distance" };
static const char *const STRAT_WHAT[N_STRAT] = {
    "(a) the highest-quality shot only",
    "(b) smallest distance over the shots (search now)",
    "(c) mean of the unit descriptors, re-normalised",
    "(d) quality-weighted mean of the unit descriptors",
    "(e) mean of the shots' distances",
};

static const char usage[] =
    "usage: " PROG " --db DB --truth DIR [options]\n"
    "\n"
    "Scores every runner's query photo against every sighting of a simulated\n"
    "race (bench_race_sim, then facetrail ingest of each camera into DB) with\n"
    "several ways of combining a sighting's shots, and reports for each the\n"
    "genuine and impostor pairs, TAR at impostor rates 1e-2, 1e-3, 1e-4 per\n"
    "sighting, and the impostor rate at the calibration's thresholds.\n"
    "Sightings are labeled with the true pass whose face was where the best\n"
    "shot is (the simulator's geometry); unlabeled ones are counted, not used.\n"
    "Composite sightings (the best shot of each camera's sighting of a runner)\n"
    "are measured too: shots as unlike as different photos, a stress test.\n"
    "\n"
    "options:\n"
    "  --db DB          the event database (opened read-only)\n"
    "  --truth DIR      the simulator's output folder (or its truth.tsv)\n"
    "  --json FILE      write the results as JSON\n"
    "  --pairs FILE     write every pair's distances, tab-separated\n"
    "  --models DIR     model folder (default $FT_MODEL_DIR, else found)\n"
    "  --slack S        seconds either side of a pass for candidates (default 5)\n"
    "  --max-offset F   best shot's centre within F face heights of the pass's\n"
    "                   face (default 0.5)\n"
    "  --boot N         bootstrap resamples of the queries (default 1000; 0: none)\n"
    "  --seed S         bootstrap seed (default 1)\n"
    "  --threads N      engine threads for the query photos (default 1)\n"
    "  -h, --help       this text\n"
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

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) die("out of memory (%zu bytes)", n);
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xcalloc(n, 1);
    memcpy(p, s, n);
    return p;
}

/* splitmix64 */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The k-th smallest (0-based) of v[0..n), reordering v (Wirth's selection). */
static double kth_smallest(double *v, size_t n, size_t k)
{
    long lo = 0, hi = (long)n - 1, kk = (long)k;
    while (lo < hi) {
        double x = v[kk];
        long i = lo, j = hi;
        do {
            while (v[i] < x)
                i++;
            while (x < v[j])
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j], v[j] = t;
                i++, j--;
            }
        } while (i <= j);
        if (j < kk) lo = i;
        if (kk < i) hi = j;
    }
    return v[kk];
}

/* ======================================================================== */
/* Truth: cameras, geometry, runners, passes (truth.tsv)                    */
/* ======================================================================== */

typedef struct tcam {
    char id[FT_CAMERA_ID_MAX];
    int has_geometry;
    int lateral, dir, width, height, lanes;
    double horizon, vp_x, s0;
    double y[MAX_LANES]; /* lateral: lane_y; approach: exit_y */
} tcam;

typedef struct trunner {
    char id[32];
    char *query; /* photo path */
} trunner;

typedef struct tpass {
    int runner, cam, lane;
    int64_t in_us, out_us;
    double face_px;
} tpass;

typedef struct truth {
    tcam cams[MAX_CAMS];
    int n_cams;
    trunner *runners;
    int n_runners;
    tpass *passes;
    int n_passes;
    int geometry; /* every camera has its geometry */
} truth;

static int split_tabs(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (!t) break;
        *t = 0;
        p = t + 1;
    }
    return n;
}

static int find_tcam(const truth *T, const char *id)
{
    for (int i = 0; i < T->n_cams; i++)
        if (!strcmp(T->cams[i].id, id)) return i;
    return -1;
}

static int find_runner(const truth *T, const char *id)
{
    for (int i = 0; i < T->n_runners; i++)
        if (!strcmp(T->runners[i].id, id)) return i;
    return -1;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The query photo: as written by the simulator (a path from where it ran),
** else DIR/queries/<its file name>. */
static char *query_path(const char *dir, const char *written)
{
    if (file_exists(written)) return xstrdup(written);
    const char *base = strrchr(written, '/');
    base = base ? base + 1 : written;
    size_t n = strlen(dir) + strlen(base) + 16;
    char *p = xcalloc(n, 1);
    snprintf(p, n, "%s/queries/%s", dir, base);
    if (file_exists(p)) return p;
    free(p);
    return xstrdup(written); /* reported when it fails to load */
}

static void read_truth(const char *arg, truth *T, char *path, size_t path_len)
{
    struct stat sb;
    char dir[4096];
    if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(dir, sizeof dir, "%s", arg);
        snprintf(path, path_len, "%s/truth.tsv", arg);
    } else {
        snprintf(path, path_len, "%s", arg);
        snprintf(dir, sizeof dir, "%s", arg);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, sizeof dir, ".");
    }
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot read the truth file %s: %s (--truth: bench_race_sim's --out folder)", path,
            strerror(errno));
    memset(T, 0, sizeof *T);
    char line[8192];
    char *fl[8 + MAX_LANES];
    int lineno = 0, cap_r = 0, cap_p = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n') continue;
        int n = split_tabs(line, fl, 8 + MAX_LANES);
        if (!strcmp(fl[0], "camera")) {
            if (n < 7) die("%s:%d: a camera line needs 7 fields", path, lineno);
            if (T->n_cams == MAX_CAMS) die("%s: more than %d cameras", path, MAX_CAMS);
            snprintf(T->cams[T->n_cams++].id, FT_CAMERA_ID_MAX, "%s", fl[1]);
        } else if (!strcmp(fl[0], "geometry")) {
            int c = n > 1 ? find_tcam(T, fl[1]) : -1;
            if (n < 10 || c < 0) die("%s:%d: a bad geometry line", path, lineno);
            tcam *g = &T->cams[c];
            g->lateral = !strcmp(fl[2], "lateral");
            g->dir = atoi(fl[3]), g->width = atoi(fl[4]), g->height = atoi(fl[5]);
            g->horizon = atof(fl[6]), g->vp_x = atof(fl[7]), g->s0 = atof(fl[8]);
            g->lanes = atoi(fl[9]);
            if (g->lanes < 1 || g->lanes > MAX_LANES || n < 10 + g->lanes || !(g->s0 > 0))
                die("%s:%d: a bad geometry line", path, lineno);
            for (int k = 0; k < g->lanes; k++)
                g->y[k] = atof(fl[10 + k]);
            g->has_geometry = 1;
        } else if (!strcmp(fl[0], "runner")) {
            if (n < 4) die("%s:%d: a runner line needs 4 fields", path, lineno);
            if (T->n_runners == cap_r)
                cap_r = cap_r ? 2 * cap_r : 256,
                T->runners = xrealloc(T->runners, (size_t)cap_r * sizeof *T->runners);
            trunner *r = &T->runners[T->n_runners++];
            snprintf(r->id, sizeof r->id, "%s", fl[1]);
            r->query = query_path(dir, fl[3]);
        } else if (!strcmp(fl[0], "pass")) {
            if (n < 9) die("%s:%d: a pass line needs 9 fields", path, lineno);
            int r = find_runner(T, fl[1]), c = find_tcam(T, fl[2]);
            if (r < 0 || c < 0) die("%s:%d: a pass of an unknown runner or camera", path, lineno);
            if (T->n_passes == cap_p)
                cap_p = cap_p ? 2 * cap_p : 1024,
                T->passes = xrealloc(T->passes, (size_t)cap_p * sizeof *T->passes);
            tpass *p = &T->passes[T->n_passes++];
            p->runner = r, p->cam = c;
            p->in_us = strtoll(fl[3], NULL, 10), p->out_us = strtoll(fl[4], NULL, 10);
            p->face_px = atof(fl[7]);
            p->lane = n >= 10 ? atoi(fl[9]) : -1;
            if (!(p->out_us > p->in_us))
                die("%s:%d: a pass that ends before it starts", path, lineno);
        }
    }
    fclose(f);
    if (T->n_cams == 0 || T->n_runners == 0 || T->n_passes == 0)
        die("%s: no cameras, runners or passes: not bench_race_sim's truth.tsv", path);
    T->geometry = 1;
    for (int c = 0; c < T->n_cams; c++)
        T->geometry &= T->cams[c].has_geometry;
    for (int i = 0; T->geometry && i < T->n_passes; i++) {
        const tpass *p = &T->passes[i];
        if (p->lane < 0 || p->lane >= T->cams[p->cam].lanes)
            die("%s: pass of %s at %s: lane %d is not one of the camera's", path,
                T->runners[p->runner].id, T->cams[p->cam].id, p->lane);
    }
}

/* Where pass p's face box centre is at t_us, and its height (the renderer's
** pass_pose in bench_race_sim.c, without the stride's bob). 0 when the face
** is not on screen then. */
static int pass_face_at(const tcam *g, const tpass *p, int64_t t_us, double *cx, double *cy,
                        double *size)
{
    double dur = (double)(p->out_us - p->in_us), u = (double)(t_us - p->in_us) / dur;
    double F = p->face_px;
    if (g->lateral) {
        if (u < -0.4 || u > 1.4) return 0;
        double span = g->width + F;
        *cx = g->dir > 0 ? -F / 2 + span * u : g->width + F / 2 - span * u;
        *cy = g->y[p->lane];
        *size = F;
        return 1;
    }
    if (u < 0 || u > 1.15) return 0;
    double s = 1 / (1 / g->s0 + (1 - 1 / g->s0) * u);
    double ex = p->lane % 2 == 0 ? -0.55 * F : g->width + 0.55 * F;
    *cx = g->vp_x + (ex - g->vp_x) * s;
    *cy = g->horizon + (g->y[p->lane] - g->horizon) * s;
    *size = F * s;
    return 1;
}

/* ======================================================================== */
/* Sightings and their labels                                               */
/* ======================================================================== */

enum label_why { L_LABELED, L_NO_PASS, L_AMBIGUOUS, L_NO_CAMERA };

typedef struct sight {
    int64_t id;
    int cam; /* truth camera, -1 if the truth has none of that id */
    int64_t first_us, last_us, best_us;
    float box[4];
    int n_desc;
    float desc[FT_SIGHTING_MAX_DESC][FT_DESCRIPTOR_DIM];
    float quality[FT_SIGHTING_MAX_DESC];
    int label;     /* runner, -1: unlabeled */
    int why;       /* enum label_why */
    double offset; /* labeled: best shot's centre from the pass's face, in face heights */
    int n_time;    /* passes its time span overlaps +- slack (the time-only rule's candidates) */
} sight;

typedef struct sights {
    sight *v;
    int n, cap;
    const truth *T;
    char unknown_cam[FT_CAMERA_ID_MAX];
} sights;

static int on_sighting(const ft_sighting *si, void *ctx)
{
    sights *S = ctx;
    if (S->n == S->cap)
        S->cap = S->cap ? 2 * S->cap : 1024, S->v = xrealloc(S->v, (size_t)S->cap * sizeof *S->v);
    sight *x = &S->v[S->n++];
    memset(x, 0, sizeof *x);
    x->id = si->id;
    x->cam = find_tcam(S->T, si->camera_id);
    if (x->cam < 0 && !S->unknown_cam[0])
        snprintf(S->unknown_cam, sizeof S->unknown_cam, "%s", si->camera_id);
    x->first_us = si->first_us, x->last_us = si->last_us, x->best_us = si->best_us;
    memcpy(x->box, si->box, sizeof x->box);
    x->n_desc = si->n_desc;
    memcpy(x->desc, si->desc, sizeof x->desc);
    memcpy(x->quality, si->desc_quality, sizeof x->quality);
    x->label = -1;
    return 0;
}

/* Labels every sighting (DESIGN: labels). */
static void label_sightings(const truth *T, sights *S, double slack_s, double max_offset)
{
    int64_t slack = (int64_t)llround(slack_s * 1e6);
    for (int i = 0; i < S->n; i++) {
        sight *x = &S->v[i];
        if (x->cam < 0) {
            x->why = L_NO_CAMERA;
            continue;
        }
        const tcam *g = &T->cams[x->cam];
        double bx = x->box[0] + x->box[2] / 2, by = x->box[1] + x->box[3] / 2;
        double d1 = INFINITY, d2 = INFINITY;
        int best = -1, n_overlap = 0, only = -1;
        for (int k = 0; k < T->n_passes; k++) {
            const tpass *p = &T->passes[k];
            if (p->cam != x->cam) continue;
            if (x->first_us <= p->out_us && x->last_us >= p->in_us) n_overlap++, only = k;
            if (!T->geometry) continue;
            if (!(x->first_us <= p->out_us + slack && x->last_us >= p->in_us - slack)) continue;
            x->n_time++;
            double cx, cy, size;
            if (!pass_face_at(g, p, x->best_us, &cx, &cy, &size)) continue;
            double d = hypot(bx - cx, by - cy) / fmax(size, 1);
            if (d < d1)
                d2 = d1, d1 = d, best = k;
            else if (d < d2)
                d2 = d;
        }
        if (!T->geometry) {
            if (n_overlap == 1)
                x->label = T->passes[only].runner, x->why = L_LABELED;
            else
                x->why = n_overlap ? L_AMBIGUOUS : L_NO_PASS;
            continue;
        }
        if (best < 0 || d1 > max_offset) {
            x->why = L_NO_PASS;
        } else if (d2 < 2 * max_offset) {
            x->why = L_AMBIGUOUS;
        } else {
            x->label = T->passes[best].runner;
            x->why = L_LABELED;
            x->offset = d1;
        }
    }
}

/* ======================================================================== */
/* Pairs and strategies                                                     */
/* ======================================================================== */

typedef struct pair {
    int q;       /* query (runner) */
    int s;       /* sighting */
    int genuine; /* the sighting is the query's runner */
    double d[N_STRAT];
} pair;

/* The fused descriptor of x: the mean of its shots' unit descriptors
** (cosine; the raw mean for euclidean), each weighted by its quality when
** weighted (equal weights when no quality is positive). */
static void fuse(enum ft_metric metric, const sight *x, int weighted, float out[FT_DESCRIPTOR_DIM])
{
    double acc[FT_DESCRIPTOR_DIM] = { 0 }, wsum = 0;
    for (int k = 0; k < x->n_desc; k++)
        wsum += weighted && x->quality[k] > 0 ? x->quality[k] : 0;
    for (int k = 0; k < x->n_desc; k++) {
        float v[FT_DESCRIPTOR_DIM];
        memcpy(v, x->desc[k], sizeof v);
        if (metric == FT_METRIC_COSINE) ft_descriptor_normalize(v);
        double w = wsum > 0 ? fmax(x->quality[k], 0) / wsum : 1.0 / x->n_desc;
        for (int i = 0; i < FT_DESCRIPTOR_DIM; i++)
            acc[i] += w * v[i];
    }
    for (int i = 0; i < FT_DESCRIPTOR_DIM; i++)
        out[i] = (float)acc[i];
    if (metric == FT_METRIC_COSINE) ft_descriptor_normalize(out);
}

static void pair_distances(enum ft_metric metric, const float *q, const sight *x,
                           const float fused[2][FT_DESCRIPTOR_DIM], double d[N_STRAT])
{
    int best = 0;
    double dmin = INFINITY, dsum = 0;
    for (int k = 0; k < x->n_desc; k++) {
        double dk = ft_metric_distance(metric, q, x->desc[k]);
        dmin = fmin(dmin, dk);
        dsum += dk;
        if (x->quality[k] > x->quality[best]) best = k;
    }
    d[S_BEST] = ft_metric_distance(metric, q, x->desc[best]);
    d[S_MIN] = dmin;
    d[S_MEAN] = ft_metric_distance(metric, q, fused[0]);
    d[S_QMEAN] = ft_metric_distance(metric, q, fused[1]);
    d[S_MEAN_DIST] = dsum / x->n_desc;
}

/* ======================================================================== */
/* Rates                                                                    */
/* ======================================================================== */

/* TAR at an empirical impostor rate: the threshold is the (floor(r n) + 1)-th
** smallest impostor distance (+inf beyond them), a match is distance <
** threshold. imp is reordered. Returns the threshold. */
static double tar_at_rate(double *imp, size_t n_imp, const double *gen, size_t n_gen, double rate,
                          double *tar)
{
    size_t k = (size_t)floor(rate * (double)n_imp);
    double thr = k < n_imp ? kth_smallest(imp, n_imp, k) : INFINITY;
    size_t hit = 0;
    for (size_t i = 0; i < n_gen; i++)
        hit += gen[i] < thr;
    *tar = n_gen ? (double)hit / (double)n_gen : NAN;
    return thr;
}

static size_t count_below(const double *v, size_t n, double thr)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += v[i] < thr;
    return c;
}

/* Impostor pairs whose min distance is below thr. */
static size_t count_below_min(const pair *P, size_t n, double thr)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += !P[i].genuine && P[i].d[S_MIN] < thr;
    return c;
}

/* A fixed threshold from the calibration, and what it gives per strategy. */
typedef struct fixed {
    const char *name; /* "fmr_1e-4", ... */
    const char *what;
    double fmr; /* the single-descriptor FMR it was chosen for */
    double threshold;
    int extrapolated;
    size_t imp_below[N_STRAT];
    double tar[N_STRAT];
    double rate_lo[N_STRAT], rate_hi[N_STRAT]; /* bootstrap 95% */
    size_t desc_below, desc_pairs;             /* impostor (query, shot) comparisons */
} fixed;

/* Per-strategy results at the empirical rates. */
typedef struct atrate {
    size_t n_imp, n_gen;
    double gen_median; /* of the genuine distances */
    double thr[N_RATES], tar[N_RATES];
    double allowed[N_RATES];           /* impostors allowed: r n */
    double lo[N_RATES], hi[N_RATES];   /* bootstrap 95% of the TAR */
    double dlo[N_RATES], dhi[N_RATES]; /* ... of TAR - TAR(min) */
    double dmean[N_RATES];             /* mean of the bootstrap differences */
} atrate;

/* One-sided 95% upper bound of a Poisson mean after k events
** (Wilson-Hilferty; 3.0 for k = 0, the rule of three). */
static double poisson_upper95(size_t k)
{
    double n = (double)k + 1, c = 1 - 1 / (9 * n) + 1.6449 / (3 * sqrt(n));
    return n * c * c * c;
}

static double percentile(double *v, int n, double p)
{
    if (n == 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double x = p * (n - 1);
    int i = (int)floor(x);
    if (i >= n - 1) return v[n - 1];
    return v[i] + (x - i) * (v[i + 1] - v[i]);
}

/* ======================================================================== */
/* One set of sightings measured                                            */
/* ======================================================================== */

/* The queries, shared by every set measured. */
typedef struct queries {
    enum ft_metric metric;
    int n_runners;
    float (*d)[FT_DESCRIPTOR_DIM]; /* per runner */
    int *ok;                       /* described */
    int n;                         /* described */
} queries;

/* What one set of labeled sightings gives. */
typedef struct measure {
    const char *name;
    const sight *v; /* the set (labeled sightings only are used) */
    int n_v, n_labeled;
    double mean_shots, shot_to_shot; /* median distance between two shots of a sighting */
    pair *P;
    size_t np;
    double *dimp; /* every impostor (query, shot) distance */
    size_t n_dimp;
    atrate A[N_STRAT];
    fixed F[N_FIXED];
    double keff[N_RATES]; /* min's impostor rate per sighting over one shot's */
    int n_boot;
} measure;

/* Pairs, rates at the empirical impostor rates and at the fixed thresholds,
** and the bootstrap over the queries (DESIGN: pairs, rates, noise). */
static void measure_set(const queries *Q, const sight *v, int n_v, const fixed proto[N_FIXED],
                        int n_boot, uint64_t seed, measure *M)
{
    enum ft_metric metric = Q->metric;
    M->v = v, M->n_v = n_v, M->n_boot = n_boot;
    memcpy(M->F, proto, sizeof M->F);
    size_t shots = 0;
    double *within = xcalloc((size_t)n_v * 3 + 1, sizeof *within);
    int n_within = 0;
    for (int i = 0; i < n_v; i++) {
        const sight *x = &v[i];
        if (x->label < 0) continue;
        M->n_labeled++, shots += x->n_desc;
        for (int a = 0; a < x->n_desc; a++)
            for (int b = a + 1; b < x->n_desc; b++)
                within[n_within++] = ft_metric_distance(metric, x->desc[a], x->desc[b]);
    }
    M->mean_shots = M->n_labeled ? (double)shots / M->n_labeled : NAN;
    M->shot_to_shot = percentile(within, n_within, 0.5);
    free(within);

    /* every (query, labeled sighting) pair, grouped by query */
    size_t n_pairs = (size_t)Q->n * (size_t)M->n_labeled;
    M->P = xcalloc(n_pairs, sizeof *M->P);
    M->dimp = xcalloc((size_t)Q->n * shots + 1, sizeof *M->dimp);
    float(*fused)[2][FT_DESCRIPTOR_DIM] = xcalloc((size_t)n_v, sizeof *fused);
    for (int i = 0; i < n_v; i++) {
        if (v[i].label < 0) continue;
        fuse(metric, &v[i], 0, fused[i][0]);
        fuse(metric, &v[i], 1, fused[i][1]);
    }
    for (int r = 0; r < Q->n_runners; r++) {
        if (!Q->ok[r]) continue;
        for (int i = 0; i < n_v; i++) {
            const sight *x = &v[i];
            if (x->label < 0) continue;
            pair *p = &M->P[M->np++];
            p->q = r, p->s = i, p->genuine = x->label == r;
            pair_distances(metric, Q->d[r], x, (const float(*)[FT_DESCRIPTOR_DIM])fused[i], p->d);
            if (p->genuine) continue;
            for (int k = 0; k < x->n_desc; k++)
                M->dimp[M->n_dimp++] = ft_metric_distance(metric, Q->d[r], x->desc[k]);
        }
    }
    free(fused);
    fixed *F = M->F;
    for (int f = 0; f < N_FIXED; f++) {
        F[f].desc_below = count_below(M->dimp, M->n_dimp, F[f].threshold);
        F[f].desc_pairs = M->n_dimp;
    }

    /* empirical rates and the fixed thresholds, per strategy */
    const pair *P = M->P;
    size_t np = M->np;
    double *imp = xcalloc(np + 1, sizeof *imp), *gen = xcalloc(np + 1, sizeof *gen);
    atrate *A = M->A;
    for (int s = 0; s < N_STRAT; s++) {
        size_t ni = 0, ng = 0;
        for (size_t i = 0; i < np; i++) {
            if (P[i].genuine)
                gen[ng++] = P[i].d[s];
            else
                imp[ni++] = P[i].d[s];
        }
        A[s].n_imp = ni, A[s].n_gen = ng;
        for (int k = 0; k < N_RATES; k++) {
            A[s].allowed[k] = RATES[k] * (double)ni;
            A[s].thr[k] = tar_at_rate(imp, ni, gen, ng, RATES[k], &A[s].tar[k]);
            if (A[s].allowed[k] < 1) A[s].tar[k] = NAN, A[s].thr[k] = NAN;
        }
        for (int f = 0; f < N_FIXED; f++) {
            F[f].imp_below[s] = count_below(imp, ni, F[f].threshold);
            F[f].tar[s] = ng ? (double)count_below(gen, ng, F[f].threshold) / (double)ng : NAN;
        }
        A[s].gen_median = percentile(gen, (int)ng, 0.5);
    }
    free(imp), free(gen);
    if (A[S_MIN].n_gen == 0 || A[S_MIN].n_imp == 0)
        die("%s: no genuine or no impostor pair: nothing to measure", M->name);

    /* min's effective shots, at its own thresholds for the empirical rates */
    for (int k = 0; k < N_RATES; k++) {
        M->keff[k] = NAN;
        if (isnan(A[S_MIN].thr[k])) continue;
        size_t ns = count_below_min(P, np, A[S_MIN].thr[k]);
        size_t nd = count_below(M->dimp, M->n_dimp, A[S_MIN].thr[k]);
        if (nd)
            M->keff[k] = ((double)ns / (double)A[S_MIN].n_imp) / ((double)nd / (double)M->n_dimp);
    }

    /* bootstrap over the queries */
    if (n_boot <= 0) return;
    double *bt = xcalloc((size_t)n_boot * N_STRAT * N_RATES, sizeof *bt);
    double *bf = xcalloc((size_t)n_boot * N_STRAT * N_FIXED, sizeof *bf);
    int n_q = Q->n;
    int *qs = xcalloc((size_t)n_q, sizeof *qs), *qi = xcalloc((size_t)Q->n_runners, sizeof *qi);
    size_t *first = xcalloc((size_t)n_q + 1, sizeof *first);
    for (int r = 0, j = 0; r < Q->n_runners; r++)
        if (Q->ok[r]) qs[j++] = r;
    for (int j = 0; j < n_q; j++)
        qi[qs[j]] = j;
    for (size_t i = 0; i < np; i++)
        first[qi[P[i].q] + 1]++;
    for (int j = 0; j < n_q; j++)
        first[j + 1] += first[j];
    size_t cap = np + 1;
    double *bimp = xcalloc(cap, sizeof *bimp), *bgen = xcalloc(cap, sizeof *bgen);
    int *draw = xcalloc((size_t)n_q, sizeof *draw);
    for (int b = 0; b < n_boot; b++) {
        for (int j = 0; j < n_q; j++)
            draw[j] = (int)(rng_next(&seed) % (uint64_t)n_q);
        for (int s = 0; s < N_STRAT; s++) {
            size_t ni = 0, ng = 0;
            for (int j = 0; j < n_q; j++)
                for (size_t i = first[draw[j]]; i < first[draw[j] + 1]; i++) {
                    if (ni + ng >= cap) { /* a heavy draw: grow */
                        cap *= 2;
                        bimp = xrealloc(bimp, cap * sizeof *bimp);
                        bgen = xrealloc(bgen, cap * sizeof *bgen);
                    }
                    if (P[i].genuine)
                        bgen[ng++] = P[i].d[s];
                    else
                        bimp[ni++] = P[i].d[s];
                }
            for (int f = 0; f < N_FIXED; f++)
                bf[((size_t)b * N_STRAT + s) * N_FIXED + f] =
                    ni ? (double)count_below(bimp, ni, F[f].threshold) / (double)ni : NAN;
            for (int k = 0; k < N_RATES; k++) {
                double tar = NAN;
                if (ni && RATES[k] * (double)ni >= 1)
                    tar_at_rate(bimp, ni, bgen, ng, RATES[k], &tar);
                bt[((size_t)b * N_STRAT + s) * N_RATES + k] = tar;
            }
        }
    }
    double *w = xcalloc((size_t)n_boot, sizeof *w);
    for (int s = 0; s < N_STRAT; s++) {
        for (int k = 0; k < N_RATES; k++) {
            int n = 0;
            for (int b = 0; b < n_boot; b++) {
                double x = bt[((size_t)b * N_STRAT + s) * N_RATES + k];
                if (!isnan(x)) w[n++] = x;
            }
            A[s].lo[k] = percentile(w, n, 0.025), A[s].hi[k] = percentile(w, n, 0.975);
            n = 0;
            double sum = 0;
            for (int b = 0; b < n_boot; b++) {
                double x = bt[((size_t)b * N_STRAT + s) * N_RATES + k];
                double y = bt[((size_t)b * N_STRAT + S_MIN) * N_RATES + k];
                if (!isnan(x) && !isnan(y)) w[n++] = x - y, sum += x - y;
            }
            A[s].dmean[k] = n ? sum / n : NAN;
            A[s].dlo[k] = percentile(w, n, 0.025), A[s].dhi[k] = percentile(w, n, 0.975);
        }
        for (int f = 0; f < N_FIXED; f++) {
            int n = 0;
            for (int b = 0; b < n_boot; b++) {
                double x = bf[((size_t)b * N_STRAT + s) * N_FIXED + f];
                if (!isnan(x)) w[n++] = x;
            }
            F[f].rate_lo[s] = percentile(w, n, 0.025);
            F[f].rate_hi[s] = percentile(w, n, 0.975);
        }
    }
    free(w), free(draw), free(bimp), free(bgen), free(first), free(qi), free(qs);
    free(bt), free(bf);
}

static void measure_free(measure *M)
{
    free(M->P), free(M->dimp);
}

static void print_measure(const measure *M, int n_q)
{
    const atrate *A = M->A;
    const fixed *F = M->F;
    printf("\n== %s: %d sightings (mean %.2f shots; median distance between two shots of one "
           "sighting %.3f)\n",
           M->name, M->n_labeled, M->mean_shots, M->shot_to_shot);
    printf("pairs: %zu genuine, %zu impostor (per sighting); %zu impostor descriptor "
           "comparisons\n\n",
           A[S_MIN].n_gen, A[S_MIN].n_imp, M->n_dimp);
    printf("TAR at an empirical impostor rate per sighting comparison");
    if (M->n_boot) printf(" (95%% interval over %d resamples of the queries)", M->n_boot);
    printf("; rough: fewer than 10 impostors allowed\n%-14s", "strategy");
    for (int k = 0; k < N_RATES; k++)
        printf("  %-27s", k == 0 ? "TAR@1e-2" : k == 1 ? "TAR@1e-3" : "TAR@1e-4");
    printf("%s\n", "genuine median");
    for (int s = 0; s < N_STRAT; s++) {
        printf("%-14s", STRAT_NAME[s]);
        for (int k = 0; k < N_RATES; k++) {
            char cell[64];
            if (isnan(A[s].tar[k]))
                snprintf(cell, sizeof cell, "n/a (%zu impostors)", A[s].n_imp);
            else if (M->n_boot)
                snprintf(cell, sizeof cell, "%5.1f%% [%4.1f, %4.1f]%s", 100 * A[s].tar[k],
                         100 * A[s].lo[k], 100 * A[s].hi[k], A[s].allowed[k] < 10 ? " rough" : "");
            else
                snprintf(cell, sizeof cell, "%5.1f%%%s", 100 * A[s].tar[k],
                         A[s].allowed[k] < 10 ? " rough" : "");
            printf("  %-27s", cell);
        }
        printf("%.3f\n", A[s].gen_median);
    }
    if (M->n_boot) {
        printf("\nTAR - TAR(min), paired over the same resampled queries (mean [95%%])\n");
        for (int s = 0; s < N_STRAT; s++) {
            if (s == S_MIN) continue;
            printf("%-14s", STRAT_NAME[s]);
            for (int k = 0; k < N_RATES; k++) {
                char cell[64];
                if (isnan(A[s].dmean[k]))
                    snprintf(cell, sizeof cell, "n/a");
                else
                    snprintf(cell, sizeof cell, "%+5.1f [%+5.1f, %+5.1f]", 100 * A[s].dmean[k],
                             100 * A[s].dlo[k], 100 * A[s].dhi[k]);
                printf("  %-27s", cell);
            }
            printf("\n");
        }
    }
    printf("\nmin: impostor rate per sighting over one shot's at the same threshold (%.2f if the "
           "shots matched independently):",
           M->mean_shots);
    for (int k = 0; k < N_RATES; k++)
        printf(" %.2f (at 1e-%d)", M->keff[k], k + 2);
    printf("\n");

    printf("\nimpostor rate per sighting at the calibration's thresholds, as a multiple of the "
           "single-descriptor FMR each was chosen for, and TAR\n");
    printf("%-9s %-9s %-9s", "FMR", "threshold", "one shot");
    for (int s = 0; s < N_STRAT; s++)
        printf(" %-15s", STRAT_NAME[s]);
    printf(" %s\n", "min/one shot");
    for (int f = 0; f < N_FIXED; f++) {
        double dr = (double)F[f].desc_below / (double)F[f].desc_pairs;
        printf("%-9.3g %-9.4f %5.2fx   ", F[f].fmr, F[f].threshold, dr / F[f].fmr);
        for (int s = 0; s < N_STRAT; s++) {
            char cell[32];
            snprintf(cell, sizeof cell, "%5.2fx %5.1f%%",
                     (double)F[f].imp_below[s] / (double)A[s].n_imp / F[f].fmr, 100 * F[f].tar[s]);
            printf(" %-15s", cell);
        }
        double mr = (double)F[f].imp_below[S_MIN] / (double)A[S_MIN].n_imp;
        printf(" %.2f\n", F[f].desc_below ? mr / dr : NAN);
    }

    for (int f = F_DETAIL; f < N_FIXED; f++) {
        printf("\n%s: threshold %.4f at FMR %.3g%s\n", F[f].what, F[f].threshold, F[f].fmr,
               F[f].extrapolated ? " (extrapolated)" : "");
        printf("  one shot vs the query: %zu of %zu impostor comparisons below: rate %.3g (%.2fx "
               "the calibrated FMR)\n",
               F[f].desc_below, F[f].desc_pairs, (double)F[f].desc_below / (double)F[f].desc_pairs,
               (double)F[f].desc_below / (double)F[f].desc_pairs / F[f].fmr);
        printf("  %-14s %9s %10s %7s %9s %20s %13s %7s\n", "strategy", "impostors", "rate/sight",
               "x FMR", "upper95 x", "bootstrap 95%", "false/search", "TAR");
        for (int s = 0; s < N_STRAT; s++) {
            double rate = (double)F[f].imp_below[s] / (double)A[s].n_imp;
            double up = poisson_upper95(F[f].imp_below[s]) / (double)A[s].n_imp;
            char iv[48] = "-";
            if (M->n_boot)
                snprintf(iv, sizeof iv, "[%.2g, %.2g]", F[f].rate_lo[s], F[f].rate_hi[s]);
            printf("  %-14s %9zu %10.3g %7.2f %9.2f %20s %13.4f %6.1f%%\n", STRAT_NAME[s],
                   F[f].imp_below[s], rate, rate / F[f].fmr, up / F[f].fmr, iv,
                   (double)F[f].imp_below[s] / n_q, 100 * F[f].tar[s]);
        }
    }
    printf("\n(x FMR: the rate per sighting over the single-descriptor FMR the threshold was "
           "chosen for; upper95: one-sided Poisson bound; false/search: impostor sightings below "
           "the threshold per query, over these %d sightings)\n",
           M->n_labeled);
}

static json_t *jnum(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *json_measure(const measure *M, int n_q)
{
    const atrate *A = M->A;
    const fixed *F = M->F;
    json_t *root = json_object();
    json_object_set_new(root, "sightings", json_integer(M->n_labeled));
    json_object_set_new(root, "mean_shots", jnum(M->mean_shots));
    json_object_set_new(root, "shot_to_shot_median", jnum(M->shot_to_shot));
    json_object_set_new(root, "descriptor_impostor_pairs", json_integer((json_int_t)M->n_dimp));
    json_t *strat = json_object();
    for (int s = 0; s < N_STRAT; s++) {
        json_t *x = json_object();
        json_object_set_new(x, "what", json_string(STRAT_WHAT[s]));
        json_object_set_new(x, "genuine", json_integer((json_int_t)A[s].n_gen));
        json_object_set_new(x, "impostor", json_integer((json_int_t)A[s].n_imp));
        json_object_set_new(x, "genuine_median", jnum(A[s].gen_median));
        json_t *rates = json_object();
        for (int k = 0; k < N_RATES; k++) {
            json_t *y = json_object();
            json_object_set_new(y, "impostors_allowed", json_real(A[s].allowed[k]));
            json_object_set_new(y, "measurable", json_boolean(A[s].allowed[k] >= 1));
            json_object_set_new(y, "rough", json_boolean(A[s].allowed[k] < 10));
            json_object_set_new(y, "threshold", jnum(A[s].thr[k]));
            json_object_set_new(y, "tar", jnum(A[s].tar[k]));
            if (M->n_boot) {
                json_object_set_new(y, "tar_95",
                                    json_pack("[oo]", jnum(A[s].lo[k]), jnum(A[s].hi[k])));
                if (s != S_MIN) {
                    json_object_set_new(y, "minus_min_mean", jnum(A[s].dmean[k]));
                    json_object_set_new(y, "minus_min_95",
                                        json_pack("[oo]", jnum(A[s].dlo[k]), jnum(A[s].dhi[k])));
                }
            }
            char key[16];
            snprintf(key, sizeof key, "%g", RATES[k]);
            json_object_set_new(rates, key, y);
        }
        json_object_set_new(x, "at_impostor_rate", rates);
        json_t *fx = json_object();
        for (int f = 0; f < N_FIXED; f++) {
            json_t *y = json_object();
            double rate = (double)F[f].imp_below[s] / (double)A[s].n_imp;
            json_object_set_new(y, "impostors_below", json_integer((json_int_t)F[f].imp_below[s]));
            json_object_set_new(y, "rate_per_sighting", json_real(rate));
            json_object_set_new(y, "rate_over_fmr", json_real(rate / F[f].fmr));
            json_object_set_new(y, "rate_upper95_poisson",
                                json_real(poisson_upper95(F[f].imp_below[s]) / (double)A[s].n_imp));
            json_object_set_new(y, "false_per_search", json_real((double)F[f].imp_below[s] / n_q));
            if (M->n_boot)
                json_object_set_new(
                    y, "rate_95", json_pack("[oo]", jnum(F[f].rate_lo[s]), jnum(F[f].rate_hi[s])));
            json_object_set_new(y, "tar", jnum(F[f].tar[s]));
            json_object_set_new(fx, F[f].name, y);
        }
        json_object_set_new(x, "at_calibration", fx);
        json_object_set_new(strat, STRAT_NAME[s], x);
    }
    json_object_set_new(root, "strategies", strat);
    json_t *th = json_object();
    for (int f = 0; f < N_FIXED; f++) {
        json_t *y = json_object();
        json_object_set_new(y, "what", json_string(F[f].what));
        json_object_set_new(y, "fmr", json_real(F[f].fmr));
        json_object_set_new(y, "threshold", json_real(F[f].threshold));
        json_object_set_new(y, "extrapolated", json_boolean(F[f].extrapolated));
        json_object_set_new(y, "descriptor_impostors_below",
                            json_integer((json_int_t)F[f].desc_below));
        json_object_set_new(y, "descriptor_rate",
                            json_real((double)F[f].desc_below / (double)F[f].desc_pairs));
        json_object_set_new(th, F[f].name, y);
    }
    json_object_set_new(root, "calibration_thresholds", th);
    json_t *ke = json_object();
    for (int k = 0; k < N_RATES; k++) {
        char key[16];
        snprintf(key, sizeof key, "%g", RATES[k]);
        json_object_set_new(ke, key, jnum(M->keff[k]));
    }
    json_object_set_new(root, "min_effective_shots", ke);
    return root;
}

/* Composite sightings (DESIGN: composites): per runner, the best shot of
** its best labeled sighting at each camera, as one sighting of up to
** FT_SIGHTING_MAX_DESC shots; runners with fewer than 2 cameras are left out. */
static sight *make_composites(const truth *T, const sights *S, int *n_out)
{
    sight *c = xcalloc((size_t)T->n_runners, sizeof *c);
    int n = 0;
    for (int r = 0; r < T->n_runners; r++) {
        sight *x = &c[n];
        memset(x, 0, sizeof *x);
        x->label = r, x->id = -1 - r, x->cam = -1;
        for (int cam = 0; cam < T->n_cams && x->n_desc < FT_SIGHTING_MAX_DESC; cam++) {
            int best = -1, best_k = 0;
            for (int i = 0; i < S->n; i++) {
                const sight *y = &S->v[i];
                if (y->label != r || y->cam != cam) continue;
                for (int k = 0; k < y->n_desc; k++)
                    if (best < 0 || y->quality[k] > S->v[best].quality[best_k])
                        best = i, best_k = k;
            }
            if (best < 0) continue;
            memcpy(x->desc[x->n_desc], S->v[best].desc[best_k], sizeof x->desc[0]);
            x->quality[x->n_desc++] = S->v[best].quality[best_k];
        }
        if (x->n_desc >= 2) n++;
    }
    *n_out = n;
    return c;
}

/* ======================================================================== */
/* Main                                                                     */
/* ======================================================================== */

typedef struct options {
    const char *db, *truth, *json, *pairs, *models;
    double slack_s, max_offset;
    int boot, threads;
    uint64_t seed;
} options;

static double parse_num(const char *name, const char *v, double lo, double hi)
{
    char *end;
    errno = 0;
    double x = v ? strtod(v, &end) : NAN;
    if (!v || end == v || *end || errno || !(x >= lo && x <= hi))
        die("%s needs a number in [%g, %g] (see --help)", name, lo, hi);
    return x;
}

static void parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->slack_s = 5, o->max_offset = 0.5, o->boot = 1000, o->threads = 1, o->seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            exit(0);
        }
        int takes = 1;
        if (!strcmp(a, "--db"))
            o->db = v;
        else if (!strcmp(a, "--truth"))
            o->truth = v;
        else if (!strcmp(a, "--json"))
            o->json = v;
        else if (!strcmp(a, "--pairs"))
            o->pairs = v;
        else if (!strcmp(a, "--models"))
            o->models = v;
        else if (!strcmp(a, "--slack"))
            o->slack_s = parse_num(a, v, 0, 3600);
        else if (!strcmp(a, "--max-offset"))
            o->max_offset = parse_num(a, v, 0.01, 10);
        else if (!strcmp(a, "--boot"))
            o->boot = (int)parse_num(a, v, 0, 100000);
        else if (!strcmp(a, "--seed"))
            o->seed = (uint64_t)parse_num(a, v, 0, 1e15);
        else if (!strcmp(a, "--threads"))
            o->threads = (int)parse_num(a, v, 1, 64);
        else
            die("unknown option '%s' (see --help)", a);
        if (takes && !v) die("%s needs a value (see --help)", a);
        i += takes;
    }
    if (!o->db) die("missing --db DB (see --help)");
    if (!o->truth) die("missing --truth DIR (see --help)");
}

int main(int argc, char **argv)
{
    options o;
    parse_options(argc, argv, &o);
    truth T;
    char truth_path[4096];
    read_truth(o.truth, &T, truth_path, sizeof truth_path);

    /* the event, its descriptor space and calibration */
    ft_store *st;
    if (ft_store_open(o.db, FT_STORE_READONLY, &st) != FT_OK)
        die("%s (--db: the race's event database)", ft_store_errmsg(NULL));
    char err[512], space[64];
    ft_query_params qp = ft_query_default_params();
    qp.detect = ft_ingest_default_params().detect;
    const ft_calibration *cal = NULL;
    if (ft_query_params_for_store(st, &qp, &cal, space, sizeof space, err, sizeof err) != FT_OK)
        die("%s: %s", o.db, err);
    enum ft_metric metric = cal->metric;
    sights S;
    memset(&S, 0, sizeof S);
    S.T = &T;
    int rc = ft_store_sightings_between(st, INT64_MIN, INT64_MAX, NULL, on_sighting, &S);
    if (rc != FT_OK) die("%s: reading the sightings: %s", o.db, ft_store_errmsg(st));
    int64_t n_desc_total = 0;
    for (int i = 0; i < S.n; i++)
        n_desc_total += S.v[i].n_desc;
    ft_store_close(st);
    if (S.n == 0) die("%s holds no sightings (ingest the race's videos first)", o.db);
    if (S.unknown_cam[0])
        die("%s does not match %s: camera %s of the database is not in the truth", o.db, truth_path,
            S.unknown_cam);
    if (!T.geometry)
        fprintf(stderr,
                PROG ": note: %s has no geometry lines (an older bench_race_sim): a sighting is "
                     "labeled only when a single pass overlaps it\n",
                truth_path);
    label_sightings(&T, &S, o.slack_s, o.max_offset);
    int n_why[4] = { 0 }, n_by_desc[FT_SIGHTING_MAX_DESC + 1] = { 0 }, n_time_multi = 0;
    double offsets_sum = 0;
    for (int i = 0; i < S.n; i++) {
        n_why[S.v[i].why]++;
        n_time_multi += S.v[i].n_time > 1;
        if (S.v[i].label >= 0) n_by_desc[S.v[i].n_desc]++, offsets_sum += S.v[i].offset;
    }
    if (n_why[L_LABELED] == 0 && n_why[L_AMBIGUOUS] > 0)
        die("no sighting of %s could be labeled: %d lie on several passes of %s at once%s", o.db,
            n_why[L_AMBIGUOUS], truth_path,
            T.geometry ? ""
                       : " (without geometry lines only a sighting on a single pass is "
                         "labeled: simulate again with this bench_race_sim)");
    if (n_why[L_LABELED] == 0)
        die("%s does not match %s: no sighting lies on a true pass (another race, or another "
            "--start at ingest?)",
            o.db, truth_path);
    int passes_found = 0;
    for (int k = 0; k < T.n_passes; k++) {
        for (int i = 0; i < S.n; i++)
            if (S.v[i].label == T.passes[k].runner && S.v[i].cam == T.passes[k].cam) {
                passes_found++;
                break;
            }
    }

    /* the queries, described as search describes them */
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = o.models;
    ep.n_threads = o.threads;
    ft_engine *eng;
    if (ft_engine_open(&ep, &eng, err, sizeof err) != FT_OK) die("%s", err);
    queries Q;
    memset(&Q, 0, sizeof Q);
    Q.metric = metric, Q.n_runners = T.n_runners;
    Q.d = xcalloc((size_t)T.n_runners, sizeof *Q.d);
    Q.ok = xcalloc((size_t)T.n_runners, sizeof *Q.ok);
    int n_q_warn = 0;
    for (int r = 0; r < T.n_runners; r++) {
        ft_image *img;
        if (ft_image_load(T.runners[r].query, 0, &img, err, sizeof err) != FT_OK) {
            fprintf(stderr, PROG ": %s: query %s: %s\n", T.runners[r].id, T.runners[r].query, err);
            continue;
        }
        ft_query q;
        rc = ft_query_face(eng, img, &qp, &q, err, sizeof err);
        ft_image_destroy(img);
        if (rc != FT_OK) {
            fprintf(stderr, PROG ": %s: %s: %s\n", T.runners[r].id, T.runners[r].query, err);
            continue;
        }
        memcpy(Q.d[r], q.face.descriptor, sizeof Q.d[r]);
        Q.ok[r] = 1, Q.n++;
        n_q_warn += q.warning[0] != 0;
    }
    ft_engine_close(eng);
    if (Q.n == 0) die("no query photo could be described");

    /* the calibration's thresholds: at FMR 1e-2, 1e-3, 1e-4 per descriptor,
    ** and what search picks in this gallery counting descriptors (now) or
    ** sightings */
    fixed F[N_FIXED];
    memset(F, 0, sizeof F);
    F[0].name = "fmr_1e-2", F[0].fmr = 1e-2;
    F[1].name = "fmr_1e-3", F[1].fmr = 1e-3;
    F[2].name = "fmr_1e-4", F[2].fmr = 1e-4;
    for (int f = 0; f < 3; f++)
        F[f].what = "the calibration's threshold (single descriptor, LFW)";
    F[3].name = "search_per_descriptor";
    F[3].what = "search's threshold here: FMR min(0.01 / descriptors, 1e-4)";
    F[3].fmr = fmin(FT_SEARCH_MAX_FALSE / (double)n_desc_total, FT_SEARCH_MAX_FMR);
    F[4].name = "search_per_sighting";
    F[4].what = "per-sighting accounting: FMR min(0.01 / sightings, 1e-4)";
    F[4].fmr = fmin(FT_SEARCH_MAX_FALSE / (double)S.n, FT_SEARCH_MAX_FMR);
    for (int f = 0; f < N_FIXED; f++)
        if (ft_calibration_threshold(cal, F[f].fmr, &F[f].threshold, &F[f].extrapolated) != FT_OK)
            die("calibration failed at FMR %g", F[f].fmr);

    measure M, C;
    memset(&M, 0, sizeof M);
    memset(&C, 0, sizeof C);
    M.name = "the race's sightings";
    measure_set(&Q, S.v, S.n, F, o.boot, o.seed, &M);
    int n_comp = 0;
    sight *comp = make_composites(&T, &S, &n_comp);
    C.name = "composites (one shot per camera of a runner: shots as unlike as different photos)";
    if (n_comp >= 2) measure_set(&Q, comp, n_comp, F, o.boot, o.seed, &C);

    /* -- the tables ------------------------------------------------------ */
    printf("race: %s (%d cameras, %d runners, %d passes); database %s, space %s (%s)\n", truth_path,
           T.n_cams, T.n_runners, T.n_passes, o.db, space, ft_metric_name(metric));
    printf("sightings: %d (%lld descriptors); labeled %d (%d, %d, %d with 1, 2, 3 shots; best "
           "shot %.2f face heights from its pass's face on average), unlabeled %d (no pass %d, "
           "ambiguous %d); passes with a labeled sighting %d of %d\n",
           S.n, (long long)n_desc_total, n_why[L_LABELED], n_by_desc[1], n_by_desc[2], n_by_desc[3],
           offsets_sum / n_why[L_LABELED], n_why[L_NO_PASS] + n_why[L_AMBIGUOUS], n_why[L_NO_PASS],
           n_why[L_AMBIGUOUS], passes_found, T.n_passes);
    if (T.geometry)
        printf("by time alone (+-%g s), %d of the %d sightings overlap more than one pass\n",
               o.slack_s, n_time_multi, S.n);
    printf("queries: %d of %d described (%d with a reliability warning)\n", Q.n, T.n_runners,
           n_q_warn);
    print_measure(&M, Q.n);
    if (n_comp >= 2) print_measure(&C, Q.n);
    printf("\nstrategies:\n");
    for (int s = 0; s < N_STRAT; s++)
        printf("  %-14s %s\n", STRAT_NAME[s], STRAT_WHAT[s]);

    /* -- JSON ------------------------------------------------------------- */
    if (o.json) {
        json_t *root = json_object();
        json_t *cfg = json_object();
        json_object_set_new(cfg, "db", json_string(o.db));
        json_object_set_new(cfg, "truth", json_string(truth_path));
        json_object_set_new(cfg, "space", json_string(space));
        json_object_set_new(cfg, "metric", json_string(ft_metric_name(metric)));
        json_object_set_new(cfg, "cameras", json_integer(T.n_cams));
        json_object_set_new(cfg, "runners", json_integer(T.n_runners));
        json_object_set_new(cfg, "passes", json_integer(T.n_passes));
        json_object_set_new(cfg, "slack_s", json_real(o.slack_s));
        json_object_set_new(cfg, "max_offset", json_real(o.max_offset));
        json_object_set_new(cfg, "labels_by_position", json_boolean(T.geometry));
        json_object_set_new(cfg, "bootstrap", json_integer(o.boot));
        json_object_set_new(cfg, "seed", json_integer((json_int_t)o.seed));
        json_object_set_new(root, "config", cfg);
        json_t *sj = json_object();
        json_object_set_new(sj, "total", json_integer(S.n));
        json_object_set_new(sj, "descriptors", json_integer(n_desc_total));
        json_object_set_new(sj, "labeled", json_integer(n_why[L_LABELED]));
        json_object_set_new(sj, "unlabeled_no_pass", json_integer(n_why[L_NO_PASS]));
        json_object_set_new(sj, "unlabeled_ambiguous", json_integer(n_why[L_AMBIGUOUS]));
        json_object_set_new(sj, "time_overlaps_several_passes", json_integer(n_time_multi));
        json_t *bd = json_array();
        for (int k = 1; k <= FT_SIGHTING_MAX_DESC; k++)
            json_array_append_new(bd, json_integer(n_by_desc[k]));
        json_object_set_new(sj, "labeled_by_shots", bd);
        json_object_set_new(sj, "passes_found", json_integer(passes_found));
        json_object_set_new(root, "sightings", sj);
        json_t *qj = json_object();
        json_object_set_new(qj, "described", json_integer(Q.n));
        json_object_set_new(qj, "failed", json_integer(T.n_runners - Q.n));
        json_object_set_new(qj, "warned", json_integer(n_q_warn));
        json_object_set_new(root, "queries", qj);
        json_object_set_new(root, "race", json_measure(&M, Q.n));
        if (n_comp >= 2) json_object_set_new(root, "composites", json_measure(&C, Q.n));
        if (json_dump_file(root, o.json, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0)
            die("cannot write %s", o.json);
        json_decref(root);
        printf("json: %s\n", o.json);
    }
    if (o.pairs) {
        FILE *f = fopen(o.pairs, "w");
        if (!f) die("cannot write %s: %s", o.pairs, strerror(errno));
        fprintf(f, "runner\tsighting\tlabel\tgenuine\tshots");
        for (int s = 0; s < N_STRAT; s++)
            fprintf(f, "\t%s", STRAT_NAME[s]);
        fputc('\n', f);
        for (size_t i = 0; i < M.np; i++) {
            const pair *p = &M.P[i];
            fprintf(f, "%s\t%lld\t%s\t%d\t%d", T.runners[p->q].id, (long long)S.v[p->s].id,
                    T.runners[S.v[p->s].label].id, p->genuine, S.v[p->s].n_desc);
            for (int s = 0; s < N_STRAT; s++)
                fprintf(f, "\t%.6f", p->d[s]);
            fputc('\n', f);
        }
        if (fclose(f) != 0) die("cannot write %s: %s", o.pairs, strerror(errno));
        printf("pairs: %s\n", o.pairs);
    }
    measure_free(&M);
    if (n_comp >= 2) measure_free(&C);
    free(comp), free(Q.d), free(Q.ok), free(S.v);
    for (int r = 0; r < T.n_runners; r++)
        free(T.runners[r].query);
    free(T.runners), free(T.passes);
    return 0;
}
