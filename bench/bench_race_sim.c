/*
** bench/bench_race_sim.c: a race simulator. Writes one video per camera of a
** course on which runners, whose faces come from real photos, pass the
** cameras, and the ground truth of who passed which camera when: the input
** of the race tests (tests/e2e/race_small.sh) and of the race benchmark
** (bench/race_bench.sh). docs/RACE_SIM.md says what it does and does not
** simulate; `bench_race_sim --help` lists the options.
**
** DESIGN  (one section each, in this order)
**   people  identities. --people DIR: LFW-layout folders, people with >= 2
**           photos (>= 3 first); one real photo per runner is held out as
**           its query (--check-queries: one in which the detector finds a
**           face). --people-from-image: every face facetrail detects in
**           group photos is one person, augmented into several "photos"
**           (one variant, with a face found again, held out). Every photo
**           is, or is made into, LFW geometry: face box centred at (0.5 w,
**           0.512 h), 0.468 h tall (125, 128 and 117 px in a 250x250 LFW
**           photo, measured with SSD). --export-people writes the people
**           made from group photos as photo folders (bench/race_scale's
**           input: tests/e2e/race_scale_small.sh) and makes no race.
**   course  cameras at increasing km; runners in waves (fastest wave first)
**           with seeded paces and per-segment variation. The natural pass
**           times at a camera span hours; when they span more than
**           --max-span they are compressed around the camera's median (the
**           crowd is made denser, see docs/RACE_SIM.md). Each pass then gets
**           a crossing duration, a face size, a photo (cycling through the
**           runner's video photos) and a lane; a lane that is busy delays
**           the pass.
**   render  per camera: a static textured background (gradient, value
**           noise, buildings, trees, barriers, road) and a tone curve; per
**           frame, every runner on screen: legs, shorts, shirt with a bib,
**           arms, neck (capsules and rectangles, anti-aliased), then the
**           face cut from the photo (soft elliptical mask, head roll, box
**           motion blur along the motion), supersampled when shrinking.
**   encode  ft_video_writer: libx264 where libavcodec has it, else mpeg4;
**           one encoder thread.
**   truth   truth.json (for people and programs), truth.tsv (for shell
**           tests), setup.sh (camera add + ingest), queries/<runner>.jpg.
**
** INVARIANTS
**   (1) Same options and seed, same truth and same frames: every random draw
**       comes from a stream seeded by (seed, purpose, index), never from the
**       clock or from the order of work; the encoder runs one thread.
**   (2) A runner's query photo is never drawn in a video.
**   (3) Faces do not overlap: lateral lanes are >= 1.3 face-max apart
**       vertically, approach lanes are the two sides of the frame, and a
**       lane takes its next runner only once the previous one is LANE_HOLD
**       through its crossing (40% of the frame ahead).
**   (4) A runner's passes are in camera order in time (checked; a warning
**       names any exception, which only very close cameras could cause).
*/
#include "facetrail.h"
#include "util.h"

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
#include <unistd.h>

#define PROG "bench_race_sim"

/* LFW geometry, as fractions of the photo's width (x) and height (y). */
#define PHOTO_FACE_CX 0.5 /* face box centre */
#define PHOTO_FACE_CY 0.512
#define PHOTO_FACE_H  0.468 /* face box height (SSD box: 117 px of 250) */
#define MASK_CY       0.48  /* soft elliptical head mask: centre and semi-axes */
#define MASK_AX       0.24
#define MASK_AY       0.336
#define MASK_FEATHER  0.14 /* fraction of the radius over which alpha falls to 0 */

#define AUG_SIZE        250 /* side of an augmented photo (--people-from-image) */
#define AUG_MIN_FACE    40  /* faces smaller than this in a group photo are skipped */
#define MAX_PHOTOS      16  /* photos kept per person */
#define MAX_IMAGE_FACES 256

#define APPROACH_S0 0.35 /* approach: face scale when the runner appears */
#define MAX_LANES   6    /* per camera */
#define LANE_HOLD   0.6  /* fraction of a crossing before its lane takes another runner */
#define CADENCE_HZ  1.4  /* stride cycles per second (2.8 steps) */

#define PATH_MAX_SIM UTIL_PATH_MAX

enum motion { MOTION_LATERAL = 0, MOTION_APPROACH = 1, MOTION_MIXED = 2 };

/* Purposes of the random streams (invariant 1). */
enum stream {
    RNG_SELECT = 1,
    RNG_QUERY,
    RNG_AUGMENT,
    RNG_COURSE,
    RNG_RUNNER,
    RNG_SEGMENT,
    RNG_PASS,
    RNG_LANE,
    RNG_BACKGROUND,
};

/* ======================================================================== */
/* Utilities: files (the generic helpers are in bench/util.c)               */
/* ======================================================================== */

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) die("cannot read %s: %s", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    if (!out) die("cannot create %s: %s", to, strerror(errno));
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) die("cannot write %s: %s", to, strerror(errno));
    if (ferror(in)) die("cannot read %s", from);
    fclose(in);
    if (fclose(out) != 0) die("cannot write %s: %s", to, strerror(errno));
}

static FILE *create_text(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) die("cannot create %s: %s", path, strerror(errno));
    return f;
}

static void close_text(FILE *f, const char *path)
{
    if (ferror(f) | fclose(f)) die("cannot write %s", path);
}

/* A word for a POSIX shell, single-quoted. */
static void sh_word(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

/* ======================================================================== */
/* Options                                                                  */
/* ======================================================================== */

static const char usage[] =
    "usage: " PROG " --people DIR --out DIR [options]\n"
    "       " PROG " --people-from-image FILE... --out DIR [options]\n"
    "\n"
    "Simulates a race: runners whose faces come from real photos pass K cameras\n"
    "along a course; writes one video per camera (OUT/<camera>.mp4), the ground\n"
    "truth (OUT/truth.json, OUT/truth.tsv), each runner's held-out query photo\n"
    "(OUT/queries/<runner>.jpg) and OUT/setup.sh, the facetrail commands that\n"
    "register the cameras and ingest the videos. See docs/RACE_SIM.md.\n"
    "\n"
    "people (one of):\n"
    "  --people DIR             LFW layout: DIR/<name>/<name>_0001.jpg ...; people\n"
    "                           with >= 2 photos (>= 3 preferred)\n"
    "  --people-from-image F... each face detected in the group photos F... is a\n"
    "                           person; its photos are augmented variants (weaker)\n"
    "  --variants N             photos made per detected face, query included (6)\n"
    "  --check-queries          --people: hold out as the query a photo in which the\n"
    "                           detector finds a face; skip people without one\n"
    "                           (always on with --people-from-image)\n"
    "  --models DIR             detector models (default $FT_MODEL_DIR, else\n"
    "                           models/face-api/model)\n"
    "\n"
    "race:\n"
    "  --out DIR                output folder (created)\n"
    "  --queries DIR            where the query photos go (default OUT/queries)\n"
    "  --runners N              runners (default 50; from images: all faces up to 50)\n"
    "  --cameras K              cameras (default 4)\n"
    "  --course-km L            course length (default 42.195)\n"
    "  --start TIME             start gun, ISO 8601 (default 2026-04-12T09:00:00Z)\n"
    "  --seed S                 random seed (default 1)\n"
    "  --max-span S             longest stretch of passes per camera in seconds;\n"
    "                           longer natural spreads are compressed (default:\n"
    "                           max(20, 1 s per runner))\n"
    "  --margin S               video before the first and after the last pass (3)\n"
    "  --motion M               lateral | approach | mixed (alternate; default)\n"
    "\n"
    "video:\n"
    "  --width W --height H     frame size, even (default 1920x1080)\n"
    "  --fps F                  frames per second (default 10)\n"
    "  --face-min PX            smallest face height (default 30)\n"
    "  --face-max PX            largest face height (default 120)\n"
    "  --shutter S              exposure for motion blur, seconds (default 0.008)\n"
    "  --codec C                auto (libx264 if available, else mpeg4) | libx264 | mpeg4\n"
    "  --quality Q              libx264 CRF 0..51 (default 20), mpeg4 qscale 1..31 (3)\n"
    "  --quiet                  no progress line\n"
    "\n"
    "export (instead of a race; --out is then not needed):\n"
    "  --export-people DIR      with --people-from-image: write the people as photo\n"
    "                           folders for bench/race_scale, then stop: the last\n"
    "                           --export-singles of them one photo each in\n"
    "                           DIR/distractors/<name>.jpg, the others every variant in\n"
    "                           DIR/people/<name>/<name>_000N.jpg (LFW layout)\n"
    "  --export-singles N       people written with one photo (default: a third)\n"
    "  -h, --help               this text\n"
    "\n"
    "exit status: 0 done, 2 error\n";

typedef struct options {
    const char *people_dir;
    char **images; /* --people-from-image */
    int n_images;
    int variants;
    int check_queries; /* the query must show a face the detector finds */
    const char *model_dir;
    const char *out_dir;
    const char *export_dir;  /* --export-people: write the people, make no race */
    int export_singles;      /* people exported with one photo; < 0: a third */
    const char *queries_dir; /* NULL: OUT/queries */
    int runners;             /* 0: default */
    int cameras;
    double course_km;
    int64_t start_us;
    uint64_t seed;
    double max_span_s; /* < 0: automatic */
    double margin_s;
    int motion;
    int width, height;
    double fps;
    int face_min, face_max;
    double shutter_s;
    const char *codec;
    int quality;
    int quiet;
} options;

static void parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->variants = 6;
    o->model_dir = getenv("FT_MODEL_DIR") ? getenv("FT_MODEL_DIR") : "models/face-api/model";
    o->cameras = 4;
    o->course_km = 42.195;
    ft_time_parse("2026-04-12T09:00:00Z", "UTC", &o->start_us, NULL, NULL, 0);
    o->seed = 1;
    o->max_span_s = -1;
    o->margin_s = 3;
    o->motion = MOTION_MIXED;
    o->width = 1920, o->height = 1080;
    o->fps = 10;
    o->face_min = 30, o->face_max = 120;
    o->shutter_s = 0.008;
    o->codec = "auto";
    o->export_singles = -1;
    struct opts a;
    xopts_init(&a, argc, argv);
    while (xopts_next(&a)) {
        if (strcmp(a.arg, "-h") == 0 || strcmp(a.arg, "--help") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (opts_is(&a, "--people")) {
            o->people_dir = xopts_value(&a);
        } else if (opts_is(&a, "--people-from-image")) {
            if (a.value) die("--people-from-image takes files as separate arguments");
            /* the files: the words up to the next "--option" (taken here, so
            ** the walker never sees them as operands) */
            o->images = argv + a.next, o->n_images = 0;
            while (a.next < argc && strncmp(argv[a.next], "--", 2) != 0)
                a.next++, o->n_images++;
            if (!o->n_images) die("--people-from-image needs at least one image file");
        } else if (opts_is(&a, "--check-queries")) {
            xopts_flag(&a);
            o->check_queries = 1;
        } else if (opts_is(&a, "--variants")) {
            o->variants = xopts_int(&a, 2, MAX_PHOTOS);
        } else if (opts_is(&a, "--models")) {
            o->model_dir = xopts_value(&a);
        } else if (opts_is(&a, "--out")) {
            o->out_dir = xopts_value(&a);
        } else if (opts_is(&a, "--queries")) {
            o->queries_dir = xopts_value(&a);
        } else if (opts_is(&a, "--runners")) {
            o->runners = xopts_int(&a, 1, 100000);
        } else if (opts_is(&a, "--cameras")) {
            o->cameras = xopts_int(&a, 1, 100);
        } else if (opts_is(&a, "--course-km")) {
            o->course_km = xopts_double(&a, 0.5, 1000);
        } else if (opts_is(&a, "--start")) {
            const char *v = xopts_value(&a);
            if (ft_time_parse(v, "UTC", &o->start_us, NULL, NULL, 0) != FT_OK)
                die("--start '%s' is not an ISO 8601 time such as 2026-04-12T09:00:00Z", v);
        } else if (opts_is(&a, "--seed")) {
            o->seed = xopts_u64(&a);
        } else if (opts_is(&a, "--max-span")) {
            o->max_span_s = xopts_double(&a, 1, 86400);
        } else if (opts_is(&a, "--margin")) {
            o->margin_s = xopts_double(&a, 0, 600);
        } else if (opts_is(&a, "--motion")) {
            const char *v = xopts_value(&a);
            if (strcmp(v, "lateral") == 0)
                o->motion = MOTION_LATERAL;
            else if (strcmp(v, "approach") == 0)
                o->motion = MOTION_APPROACH;
            else if (strcmp(v, "mixed") == 0)
                o->motion = MOTION_MIXED;
            else
                die("--motion '%s': expected lateral, approach or mixed", v);
        } else if (opts_is(&a, "--width")) {
            o->width = xopts_int(&a, 64, 7680);
        } else if (opts_is(&a, "--height")) {
            o->height = xopts_int(&a, 64, 4320);
        } else if (opts_is(&a, "--fps")) {
            o->fps = xopts_double(&a, 1, 120);
        } else if (opts_is(&a, "--face-min")) {
            o->face_min = xopts_int(&a, 8, 2000);
        } else if (opts_is(&a, "--face-max")) {
            o->face_max = xopts_int(&a, 8, 2000);
        } else if (opts_is(&a, "--shutter")) {
            o->shutter_s = xopts_double(&a, 0, 0.5);
        } else if (opts_is(&a, "--codec")) {
            o->codec = xopts_value(&a);
            if (strcmp(o->codec, "auto") && strcmp(o->codec, "libx264") &&
                strcmp(o->codec, "mpeg4"))
                die("--codec '%s': expected auto, libx264 or mpeg4", o->codec);
        } else if (opts_is(&a, "--quality")) {
            o->quality = xopts_int(&a, 0, 51);
        } else if (opts_is(&a, "--export-people")) {
            o->export_dir = xopts_value(&a);
        } else if (opts_is(&a, "--export-singles")) {
            o->export_singles = xopts_int(&a, 0, 100000);
        } else if (opts_is(&a, "--quiet")) {
            xopts_flag(&a);
            o->quiet = 1;
        } else {
            exit(opts_unknown(&a));
        }
    }
    if (!o->people_dir == !o->images) die("give --people DIR or --people-from-image FILE... (one)");
    if (o->export_dir && !o->images) die("--export-people needs --people-from-image");
    if (!o->out_dir && !o->export_dir) die("missing --out DIR");
    if (o->width % 2 || o->height % 2) die("--width and --height must be even (video is 4:2:0)");
    if (o->face_min > o->face_max)
        die("--face-min %d is above --face-max %d", o->face_min, o->face_max);
    if (o->face_max * 2 > o->height)
        die("--face-max %d does not fit a %d-pixel frame (at most half its height)", o->face_max,
            o->height);
    if (strcmp(o->codec, "auto") == 0)
        o->codec = ft_video_encoder_available("libx264") ? "libx264" : "mpeg4";
    else if (!ft_video_encoder_available(o->codec))
        die("this FFmpeg has no '%s' encoder", o->codec);
    if (o->quality && strcmp(o->codec, "mpeg4") == 0 && o->quality > 31)
        die("--quality %d: mpeg4 takes 1..31", o->quality);
}

/* ======================================================================== */
/* People: identities and their photos                                      */
/* ======================================================================== */

/* One identity: LFW photos on disk (loaded when a camera needs them) or
** augmented variants in memory. */
typedef struct person {
    char *name; /* LFW name, or "sample1.jpg#2" */
    int n_photos;
    char *label[MAX_PHOTOS];   /* LFW: file path; images: "sample1.jpg#2/v3" */
    ft_image *img[MAX_PHOTOS]; /* loaded or generated photos (NULL: not loaded) */
    int generated;             /* img[] are augmented variants, kept for the whole run */
    int query;                 /* index of the held-out photo */
} person;

typedef struct people {
    person *v;
    int n;
} people;

static void person_free(person *p)
{
    free(p->name);
    for (int i = 0; i < p->n_photos; i++) {
        free(p->label[i]);
        ft_image_destroy(p->img[i]);
    }
    memset(p, 0, sizeof *p);
}

/* Photo i of p, loaded if needed. */
static const ft_image *person_photo(person *p, int i)
{
    if (!p->img[i]) {
        char err[512];
        if (ft_image_load(p->label[i], 0, &p->img[i], err, sizeof err) != FT_OK) die("%s", err);
    }
    return p->img[i];
}

/* The engine and settings that check faces: SSD, no landmarks. */
static ft_engine *open_detector(const options *o, ft_detect_params *dp)
{
    char err[512];
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = o->model_dir;
    ft_engine *eng;
    if (ft_engine_open(&ep, &eng, err, sizeof err) != FT_OK) die("%s", err);
    *dp = ft_detect_default_params();
    dp->with_landmarks = 0, dp->with_descriptor = 0;
    return eng;
}

/* The first photo of p, from `first` on (cyclically), in which the detector
** finds a face: the query must be searchable (a face seen from the side in
** a group photo may not be found again once cropped; some LFW photos have no
** face SSD finds). -1 if none. */
static int detectable_photo(ft_engine *eng, const ft_detect_params *dp, person *p, int first)
{
    ft_face faces[8];
    for (int k = 0; k < p->n_photos; k++) {
        int v = (first + k) % p->n_photos, n = 0;
        if (ft_engine_detect(eng, person_photo(p, v), dp, faces, 8, &n) != FT_OK)
            die("%s: %s", p->label[v], ft_engine_errmsg(eng));
        if (n > 0) return v;
    }
    return -1;
}

/* --people DIR: picks `want` people (0: 50 or all), >= 3 photos first. */
static void people_from_lfw(const options *o, int want, people *out)
{
    int n_names;
    char **names = list_dir(o->people_dir, 1, &n_names);
    int *n_photos = xcalloc(n_names, sizeof *n_photos);
    int *rich = xcalloc(n_names, sizeof *rich), *pair = xcalloc(n_names, sizeof *pair);
    int n_rich = 0, n_pair = 0;
    for (int i = 0; i < n_names; i++) {
        char dir[PATH_MAX_SIM];
        join_path(dir, sizeof dir, o->people_dir, names[i], "");
        char **files = list_dir(dir, 0, &n_photos[i]);
        free_list(files, n_photos[i]);
        if (n_photos[i] >= 3)
            rich[n_rich++] = i;
        else if (n_photos[i] == 2)
            pair[n_pair++] = i;
    }
    if (n_rich + n_pair == 0)
        die("%s: no person folder with at least 2 .jpg photos (LFW layout: "
            "DIR/<name>/<name>_0001.jpg)",
            o->people_dir);
    if (!want) want = n_rich + n_pair < 50 ? n_rich + n_pair : 50;
    if (want > n_rich + n_pair)
        die("%s has only %d people with at least 2 photos: use --runners %d or fewer",
            o->people_dir, n_rich + n_pair, n_rich + n_pair);
    rng r = rng_for(o->seed, RNG_SELECT, 0);
    shuffle_ints(rich, n_rich, &r);
    shuffle_ints(pair, n_pair, &r);
    ft_detect_params dp;
    ft_engine *eng = o->check_queries ? open_detector(o, &dp) : NULL;
    out->v = xcalloc(want, sizeof *out->v);
    out->n = 0;
    for (int k = 0; k < n_rich + n_pair && out->n < want; k++) {
        int i = k < n_rich ? rich[k] : pair[k - n_rich];
        person *p = &out->v[out->n];
        char dir[PATH_MAX_SIM];
        join_path(dir, sizeof dir, o->people_dir, names[i], "");
        int n_files;
        char **files = list_dir(dir, 0, &n_files);
        p->name = xstrdup(names[i]);
        p->n_photos = n_files < MAX_PHOTOS ? n_files : MAX_PHOTOS;
        for (int j = 0; j < p->n_photos; j++) {
            char path[PATH_MAX_SIM];
            join_path(path, sizeof path, dir, files[j], "");
            p->label[j] = xstrdup(path);
        }
        free_list(files, n_files);
        rng q = rng_for(o->seed, RNG_QUERY, (uint64_t)k);
        p->query = uniform_int(&q, p->n_photos);
        if (eng) {
            p->query = detectable_photo(eng, &dp, p, p->query);
            for (int j = 0; j < p->n_photos; j++)
                ft_image_destroy(p->img[j]), p->img[j] = NULL;
            if (p->query < 0) {
                if (!o->quiet)
                    fprintf(stderr, PROG ": %s: no face found in any photo; not used\n", p->name);
                person_free(p);
                continue;
            }
        }
        out->n++;
    }
    ft_engine_close(eng);
    if (out->n < want)
        die("%s has only %d people with at least 2 photos and a query photo with a face: use "
            "--runners %d or fewer",
            o->people_dir, out->n, out->n);
    free(rich), free(pair), free(n_photos);
    free_list(names, n_names);
}

/* One augmented "photo" in LFW geometry of the face whose box (x, y, w, h) is
** in src: crop jitter, scale, rotation, flip, brightness, contrast, colour. */
static ft_image *augment_face(const ft_image *src, const double box[4], rng *r)
{
    ft_image *out;
    if (ft_image_create(AUG_SIZE, AUG_SIZE, &out) != FT_OK) die("out of memory");
    double scale = clampd(exp(0.07 * normal(r)), 0.86, 1.16);
    double rot = clampd(4.0 * normal(r), -9, 9) * M_PI / 180;
    int flip = uniform(r, 0, 1) < 0.5;
    double shx = uniform(r, -0.025, 0.025) * AUG_SIZE, shy = uniform(r, -0.025, 0.025) * AUG_SIZE;
    double bright = clampd(10.0 * normal(r), -22, 22), contrast = uniform(r, 0.82, 1.18);
    double cast[3] = { uniform(r, 0.95, 1.05), uniform(r, 0.97, 1.03), uniform(r, 0.95, 1.05) };
    double k = PHOTO_FACE_H * AUG_SIZE * scale / box[3]; /* output px per source px */
    double bcx = box[0] + box[2] / 2, bcy = box[1] + box[3] / 2;
    double ocx = PHOTO_FACE_CX * AUG_SIZE + shx, ocy = PHOTO_FACE_CY * AUG_SIZE + shy;
    int ss = (int)clampd(ceil(1 / k), 1, 4);
    double cr = cos(rot), sr = sin(rot);
    for (int y = 0; y < AUG_SIZE; y++) {
        for (int x = 0; x < AUG_SIZE; x++) {
            float acc[3] = { 0, 0, 0 }, c[3];
            for (int j = 0; j < ss; j++) {
                for (int i = 0; i < ss; i++) {
                    double dx = x + (i + 0.5) / ss - ocx, dy = y + (j + 0.5) / ss - ocy;
                    if (flip) dx = -dx;
                    double u = bcx + (cr * dx + sr * dy) / k, v = bcy + (-sr * dx + cr * dy) / k;
                    sample_bilinear(src, u, v, c);
                    for (int q = 0; q < 3; q++)
                        acc[q] += c[q];
                }
            }
            uint8_t *px = out->rgb + 3 * ((size_t)y * AUG_SIZE + x);
            for (int q = 0; q < 3; q++)
                px[q] = clamp_u8(((acc[q] / (ss * ss) - 128) * contrast + 128 + bright) * cast[q]);
        }
    }
    return out;
}

/* --people-from-image: every face (box height >= AUG_MIN_FACE) that
** facetrail's detector finds is one person with o->variants photos, one of
** which (one in which the face is found again) is the query. */
static void people_from_images(const options *o, int want, people *out)
{
    char err[512];
    ft_detect_params dp;
    ft_engine *eng = open_detector(o, &dp);
    ft_face *faces = xcalloc(MAX_IMAGE_FACES, sizeof *faces);
    people all = { NULL, 0 };
    for (int f = 0; f < o->n_images; f++) {
        ft_image *img;
        if (ft_image_load(o->images[f], 0, &img, err, sizeof err) != FT_OK) die("%s", err);
        int n = 0, rc = ft_engine_detect(eng, img, &dp, faces, MAX_IMAGE_FACES, &n);
        if (rc != FT_OK) die("%s: %s", o->images[f], ft_engine_errmsg(eng));
        if (n > MAX_IMAGE_FACES) n = MAX_IMAGE_FACES;
        for (int i = 0; i < n; i++) {
            if (faces[i].box[3] < AUG_MIN_FACE) continue;
            all.v = xrealloc(all.v, (all.n + 1) * sizeof *all.v);
            person *p = &all.v[all.n];
            memset(p, 0, sizeof *p);
            char name[PATH_MAX_SIM];
            snprintf(name, sizeof name, "%s#%d", base_name(o->images[f]), i + 1);
            p->name = xstrdup(name);
            p->generated = 1;
            p->n_photos = o->variants;
            for (int v = 0; v < o->variants; v++) {
                rng r = rng_for(o->seed, RNG_AUGMENT, (uint64_t)all.n * MAX_PHOTOS + v);
                p->img[v] = augment_face(img, faces[i].box, &r);
                snprintf(name, sizeof name, "%s#%d/v%d", base_name(o->images[f]), i + 1, v + 1);
                p->label[v] = xstrdup(name);
            }
            rng q = rng_for(o->seed, RNG_QUERY, (uint64_t)all.n);
            p->query = detectable_photo(eng, &dp, p, uniform_int(&q, p->n_photos));
            if (p->query < 0) {
                if (!o->quiet)
                    fprintf(stderr,
                            PROG ": %s: no variant in which the face is found again; "
                                 "not used\n",
                            p->name);
                person_free(p);
                continue;
            }
            all.n++;
        }
        ft_image_destroy(img);
    }
    free(faces);
    ft_engine_close(eng);
    if (!all.n) die("no face of at least %d px found in the given images", AUG_MIN_FACE);
    if (!want) want = all.n < 50 ? all.n : 50;
    if (want > all.n)
        die("the images hold only %d faces of at least %d px: use --runners %d or fewer", all.n,
            AUG_MIN_FACE, all.n);
    int *order = xcalloc(all.n, sizeof *order);
    for (int i = 0; i < all.n; i++)
        order[i] = i;
    rng r = rng_for(o->seed, RNG_SELECT, 0);
    shuffle_ints(order, all.n, &r);
    out->v = xcalloc(want, sizeof *out->v);
    out->n = want;
    for (int k = 0; k < all.n; k++) {
        if (k < want)
            out->v[k] = all.v[order[k]];
        else
            person_free(&all.v[order[k]]);
    }
    free(order);
    free(all.v);
}

/* Frees the photos loaded from disk (generated ones stay). */
static void people_unload(people *pp)
{
    for (int k = 0; k < pp->n; k++) {
        person *p = &pp->v[k];
        if (p->generated) continue;
        for (int i = 0; i < p->n_photos; i++)
            ft_image_destroy(p->img[i]), p->img[i] = NULL;
    }
}

/* Writes img as a JPEG (quality 95) to path. */
static void write_jpeg(const ft_image *img, const char *path)
{
    unsigned char *jpg;
    size_t len;
    char err[256];
    if (ft_image_encode_jpeg(img, 95, &jpg, &len, err, sizeof err) != FT_OK)
        die("%s: %s", path, err);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(jpg, 1, len, f) != len || fclose(f) != 0)
        die("cannot write %s: %s", path, strerror(errno));
    ft_store_free(jpg);
}

/* --export-people DIR: the people made from group photos as photo folders
** (bench/race_scale's input): the last o->export_singles people (a third
** when not given) one photo each in DIR/distractors/NAME.jpg, the others
** every variant in DIR/people/NAME/NAME_000V.jpg, NAME the person's name
** with ".jpg" dropped and '#' as "_f" ("sample2_f3"). */
static void export_people(const options *o, const people *pp)
{
    int singles = o->export_singles >= 0 ? o->export_singles : pp->n / 3;
    if (singles > pp->n) die("--export-singles %d: only %d people", singles, pp->n);
    char people_dir[PATH_MAX_SIM], distractors[PATH_MAX_SIM], dir[PATH_MAX_SIM];
    char path[PATH_MAX_SIM], file[PATH_MAX_SIM];
    join_path(people_dir, sizeof people_dir, o->export_dir, "people", "");
    join_path(distractors, sizeof distractors, o->export_dir, "distractors", "");
    mkdir_p(people_dir);
    mkdir_p(distractors);
    for (int k = 0; k < pp->n; k++) {
        const person *p = &pp->v[k];
        char name[256];
        size_t n = 0;
        for (const char *c = p->name; *c && n + 3 < sizeof name; c++) {
            if (*c == '#')
                name[n++] = '_', name[n++] = 'f';
            else if (strncmp(c, ".jpg", 4) == 0)
                c += 3;
            else
                name[n++] = *c;
        }
        name[n] = 0;
        if (k >= pp->n - singles) {
            join_path(path, sizeof path, distractors, name, ".jpg");
            write_jpeg(p->img[0], path);
            continue;
        }
        join_path(dir, sizeof dir, people_dir, name, "");
        mkdir_p(dir);
        for (int v = 0; v < p->n_photos; v++) {
            snprintf(file, sizeof file, "%s_%04d", name, v + 1);
            join_path(path, sizeof path, dir, file, ".jpg");
            write_jpeg(p->img[v], path);
        }
    }
    if (!o->quiet)
        fprintf(stderr, PROG ": %d people with %d photos each in %s, %d with one photo in %s\n",
                pp->n - singles, o->variants, people_dir, singles, distractors);
}

/* ======================================================================== */
/* Course: cameras, runners, passes                                         */
/* ======================================================================== */

typedef struct camera {
    char id[32];
    char video[48]; /* file name in OUT */
    double km;
    int motion; /* MOTION_LATERAL or MOTION_APPROACH */
    int dir;    /* lateral: +1 left to right, -1 right to left */
    int lanes;
    double lane_y[MAX_LANES]; /* lateral: face centre y of each lane */
    double vp_x, horizon;     /* background horizon; approach: vanishing point */
    double exit_y[MAX_LANES]; /* approach: face centre y at the exit, per lane */
    double t0, t1;            /* video span, seconds since the start gun (t0 whole) */
    int64_t n_frames;
    double compression;  /* factor applied to the natural spread (1: none) */
    double max_delay;    /* longest wait for a free lane, s */
    uint8_t lut[3][256]; /* tone curve of this camera */
} camera;

typedef struct runner {
    char id[16];
    int bib;
    int person;
    double pace_kmh;
    double start_s; /* crossing of the start line, s after the gun */
    uint8_t shirt[3], shorts[3], shoes[3];
    char query[PATH_MAX_SIM];
    int vid_offset; /* first video photo */
} runner;

typedef struct pass {
    int runner, camera;
    double t_nat;       /* natural pass time (s after the gun) */
    double t_in, t_out; /* face in the frame (s after the gun) */
    double face_px;     /* face box height (approach: at the exit) */
    double roll;        /* head roll, radians */
    double phase;       /* stride phase */
    int photo;
    int lane;
    uint8_t skin[3]; /* mean colour of the photo's cheeks (set when rendering) */
} pass;

typedef struct sim {
    options o;
    people pp;
    camera *cams;
    runner *runners;
    pass *passes; /* [camera * n_runners + runner] */
    int n_cams, n_runners;
} sim;

static pass *pass_at(sim *S, int c, int r)
{
    return &S->passes[(size_t)c * S->n_runners + r];
}

static const uint8_t SHIRTS[][3] = {
    { 220, 40, 40 },  { 30, 90, 200 },   { 250, 200, 30 },  { 40, 170, 80 }, { 240, 120, 20 },
    { 150, 50, 180 }, { 20, 180, 190 },  { 240, 240, 240 }, { 30, 30, 35 },  { 250, 90, 160 },
    { 120, 200, 50 }, { 200, 200, 210 }, { 110, 30, 40 },   { 60, 60, 140 },
};
static const uint8_t SHORTS[][3] = {
    { 25, 25, 30 }, { 20, 30, 70 }, { 60, 60, 65 },
    { 10, 10, 10 }, { 90, 20, 20 }, { 200, 200, 205 },
};

static void make_cameras(sim *S)
{
    const options *o = &S->o;
    rng r = rng_for(o->seed, RNG_COURSE, 0);
    S->cams = xcalloc(S->n_cams, sizeof *S->cams);
    double prev = 0;
    for (int c = 0; c < S->n_cams; c++) {
        camera *cam = &S->cams[c];
        double km =
            round(o->course_km * (c + 0.5 + uniform(&r, -0.25, 0.25)) / S->n_cams * 10) / 10;
        if (km <= prev) km = prev + 0.1;
        cam->km = prev = km;
        snprintf(cam->id, sizeof cam->id, "km%04.1f", km);
        snprintf(cam->video, sizeof cam->video, "%s.mp4", cam->id);
        cam->motion =
            o->motion == MOTION_MIXED ? (c % 2 ? MOTION_APPROACH : MOTION_LATERAL) : o->motion;
        cam->dir = uniform(&r, 0, 1) < 0.5 ? 1 : -1;
    }
    if (S->cams[S->n_cams - 1].km >= o->course_km)
        die("%d cameras do not fit a %.3f km course at 0.1 km apart", S->n_cams, o->course_km);
}

/* Levels of face centre heights from y0, 1.3 face-max apart, that fit the
** frame (1 .. max). */
static int lane_levels(double H, double F, double y0, int max)
{
    int n = 1 + (int)floor((H - 0.9 * F - y0) / (1.3 * F));
    return n < 1 ? 1 : n > max ? max : n;
}

/* Lanes. Lateral: face centre heights 1.3 face-max apart below the horizon
** band. Approach: the runner passes the camera on its left (even lanes) or
** right (odd lanes), its face leaving the frame at one of up to 3 heights
** 1.3 face-max apart: lanes of one side lie on rays from the vanishing point
** whose faces stay apart at every scale. */
static void make_lanes(sim *S, camera *cam, rng *r)
{
    const options *o = &S->o;
    double H = o->height, F = o->face_max;
    cam->horizon = H * uniform(r, 0.26, 0.36);
    cam->vp_x = o->width * uniform(r, 0.4, 0.6);
    if (cam->motion == MOTION_APPROACH) {
        double y0 = H * uniform(r, 0.4, 0.48);
        cam->lanes = 2 * lane_levels(H, F, y0, MAX_LANES / 2);
        for (int k = 0; k < cam->lanes; k++)
            cam->exit_y[k] = y0 + (k / 2) * 1.3 * F;
        return;
    }
    double y0 = fmax(0.22 * H, 0.8 * F);
    cam->lanes = lane_levels(H, F, y0, MAX_LANES);
    for (int k = 0; k < cam->lanes; k++)
        cam->lane_y[k] = y0 + k * 1.3 * F;
}

static const runner *g_sort_runners; /* qsort context (single-threaded program) */

static int cmp_runner_pace(const void *a, const void *b)
{
    const runner *x = &g_sort_runners[*(const int *)a], *y = &g_sort_runners[*(const int *)b];
    if (x->pace_kmh != y->pace_kmh) return x->pace_kmh > y->pace_kmh ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

/* Runners: paces N(11, 2) km/h in [8, 18], up to 5 waves of about 60 (fastest
** first) 3 minutes apart, each runner crossing the start within 45 s of its
** wave. */
static void make_runners(sim *S)
{
    const options *o = &S->o;
    int n = S->n_runners;
    S->runners = xcalloc(n, sizeof *S->runners);
    int *order = xcalloc(n, sizeof *order);
    for (int i = 0; i < n; i++) {
        runner *ru = &S->runners[i];
        rng r = rng_for(o->seed, RNG_RUNNER, (uint64_t)i);
        snprintf(ru->id, sizeof ru->id, "r%03d", i + 1);
        ru->bib = 101 + i;
        ru->person = i;
        ru->pace_kmh = clampd(11.0 + 2.0 * normal(&r), 8, 18);
        const uint8_t *sh = SHIRTS[uniform_int(&r, sizeof SHIRTS / sizeof SHIRTS[0])];
        const uint8_t *sd = SHORTS[uniform_int(&r, sizeof SHORTS / sizeof SHORTS[0])];
        for (int k = 0; k < 3; k++) {
            ru->shirt[k] = clamp_u8(sh[k] + uniform(&r, -20, 20));
            ru->shorts[k] = clamp_u8(sd[k] + uniform(&r, -8, 8));
            ru->shoes[k] = clamp_u8(uniform(&r, 30, 240));
        }
        ru->vid_offset = uniform_int(&r, MAX_PHOTOS);
        ru->start_s = uniform(&r, 0, 45);
        order[i] = i;
    }
    g_sort_runners = S->runners; /* waves: fastest first */
    qsort(order, n, sizeof *order, cmp_runner_pace);
    int n_waves = (n + 59) / 60;
    if (n_waves > 5) n_waves = 5;
    for (int i = 0; i < n; i++)
        S->runners[order[i]].start_s += (double)(i * n_waves / n) * 180;
    free(order);
}

/* Natural pass times: per segment between cameras, speed = pace x
** exp(N(0, 0.04)) x (1 - 0.08 km / L) (a little fatigue). */
static void natural_times(sim *S)
{
    const options *o = &S->o;
    for (int i = 0; i < S->n_runners; i++) {
        runner *ru = &S->runners[i];
        double t = ru->start_s, km = 0;
        for (int c = 0; c < S->n_cams; c++) {
            rng r = rng_for(o->seed, RNG_SEGMENT, (uint64_t)i * 1000 + c);
            double seg = S->cams[c].km - km, mid = (S->cams[c].km + km) / 2;
            double v = ru->pace_kmh * exp(0.04 * normal(&r)) * (1 - 0.08 * mid / o->course_km);
            t += seg / v * 3600;
            km = S->cams[c].km;
            pass *p = pass_at(S, c, i);
            p->runner = i, p->camera = c, p->t_nat = t;
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const pass *g_sort_passes; /* qsort context (single-threaded program) */

static int cmp_pass_in(const void *a, const void *b)
{
    const pass *p = &g_sort_passes[*(const int *)a], *q = &g_sort_passes[*(const int *)b];
    if (p->t_in != q->t_in) return p->t_in < q->t_in ? -1 : 1;
    return p->runner - q->runner;
}

/* One camera's passes: compression, crossing, face size, photo, lane. */
static void plan_camera(sim *S, int c)
{
    const options *o = &S->o;
    camera *cam = &S->cams[c];
    int n = S->n_runners;
    rng r = rng_for(o->seed, RNG_LANE, (uint64_t)c);
    make_lanes(S, cam, &r);
    double *t = xcalloc(n, sizeof *t);
    for (int i = 0; i < n; i++)
        t[i] = pass_at(S, c, i)->t_nat;
    qsort(t, n, sizeof *t, cmp_double);
    double med = t[n / 2], span = t[n - 1] - t[0];
    double max_span = o->max_span_s > 0 ? o->max_span_s : fmax(20, 1.0 * n);
    cam->compression = span > max_span ? max_span / span : 1;
    int *order = xcalloc(n, sizeof *order);
    pass *mine = xcalloc(n, sizeof *mine);
    for (int i = 0; i < n; i++) {
        pass *p = pass_at(S, c, i);
        runner *ru = &S->runners[i];
        person *pe = &S->pp.v[ru->person];
        rng q = rng_for(o->seed, RNG_PASS, (uint64_t)i * 1000 + c);
        double mid = med + cam->compression * (p->t_nat - med);
        double dur = cam->motion == MOTION_APPROACH ? uniform(&q, 2.5, 3.5) : uniform(&q, 2.0, 3.0);
        p->t_in = mid - dur / 2, p->t_out = mid + dur / 2;
        p->face_px = uniform(&q, o->face_min, o->face_max);
        p->roll = clampd(3.0 * normal(&q), -8, 8) * M_PI / 180;
        p->phase = uniform(&q, 0, 2 * M_PI);
        /* video photos: all but the query, cycled from a per-runner offset */
        int n_vid = pe->n_photos - 1, k = (ru->vid_offset + c) % n_vid;
        p->photo = k < pe->query ? k : k + 1;
        mine[i] = *p;
        order[i] = i;
    }
    g_sort_passes = mine;
    qsort(order, n, sizeof *order, cmp_pass_in);
    double free_at[MAX_LANES];
    for (int k = 0; k < cam->lanes; k++)
        free_at[k] = -1e300;
    cam->max_delay = 0;
    double first = 1e300, last = -1e300;
    for (int j = 0; j < n; j++) {
        pass *p = pass_at(S, c, order[j]);
        double dur = p->t_out - p->t_in;
        int n_free = 0, best = 0, pick;
        for (int k = 0; k < cam->lanes; k++) {
            if (free_at[k] <= p->t_in) n_free++;
            if (free_at[k] < free_at[best]) best = k;
        }
        if (n_free) { /* a free lane, at random */
            int m = uniform_int(&r, n_free);
            for (pick = 0;; pick++)
                if (free_at[pick] <= p->t_in && m-- == 0) break;
        } else { /* the lane that frees first; the runner waits */
            pick = best;
            double delay = free_at[best] - p->t_in;
            if (delay > cam->max_delay) cam->max_delay = delay;
            p->t_in += delay, p->t_out += delay;
        }
        p->lane = pick;
        free_at[pick] = p->t_in + LANE_HOLD * dur;
        first = fmin(first, p->t_in), last = fmax(last, p->t_out);
    }
    cam->t0 = floor(first - o->margin_s);
    cam->t1 = last + o->margin_s;
    cam->n_frames = (int64_t)ceil((cam->t1 - cam->t0) * o->fps);
    free(mine), free(order), free(t);
}

static void plan_course(sim *S)
{
    make_cameras(S);
    make_runners(S);
    S->passes = xcalloc((size_t)S->n_cams * S->n_runners, sizeof *S->passes);
    natural_times(S);
    for (int c = 0; c < S->n_cams; c++)
        plan_camera(S, c);
    for (int i = 0; i < S->n_runners; i++)
        for (int c = 1; c < S->n_cams; c++)
            if (pass_at(S, c, i)->t_in <= pass_at(S, c - 1, i)->t_out)
                fprintf(stderr,
                        PROG ": warning: runner %s passes %s before leaving %s "
                             "(cameras too close for --max-span)\n",
                        S->runners[i].id, S->cams[c].id, S->cams[c - 1].id);
}

/* ======================================================================== */
/* Render: background, body, face                                           */
/* ======================================================================== */

typedef struct pose {
    double cx, cy; /* face box centre, frame px */
    double face;   /* face box height, px */
    double vx, vy; /* velocity, px/s */
} pose;

static void tone_curve(camera *cam, rng *r)
{
    double gain = uniform(r, 0.82, 1.15), gamma = uniform(r, 0.9, 1.1);
    for (int k = 0; k < 3; k++) {
        double cast = uniform(r, 0.96, 1.04);
        for (int v = 0; v < 256; v++)
            cam->lut[k][v] = clamp_u8(255 * pow(v / 255.0, gamma) * gain * cast);
    }
}

static void tone(const camera *cam, const uint8_t in[3], uint8_t out[3])
{
    for (int k = 0; k < 3; k++)
        out[k] = cam->lut[k][in[k]];
}

static void blend_px(uint8_t *px, const uint8_t c[3], double a)
{
    for (int k = 0; k < 3; k++)
        px[k] = clamp_u8(px[k] + (c[k] - px[k]) * a);
}

/* Anti-aliased axis-aligned rectangle [x0, x1) x [y0, y1), opacity alpha. */
static void fill_rect(ft_image *im, double x0, double y0, double x1, double y1, const uint8_t c[3],
                      double alpha)
{
    int ix0 = (int)floor(fmax(x0, 0)), ix1 = (int)ceil(fmin(x1, im->width));
    int iy0 = (int)floor(fmax(y0, 0)), iy1 = (int)ceil(fmin(y1, im->height));
    for (int y = iy0; y < iy1; y++) {
        double cy = fmin(y + 1, y1) - fmax(y, y0);
        for (int x = ix0; x < ix1; x++) {
            double cx = fmin(x + 1, x1) - fmax(x, x0);
            if (cx > 0 && cy > 0)
                blend_px(im->rgb + 3 * ((size_t)y * im->width + x), c, alpha * cx * cy);
        }
    }
}

/* Vertical gradient rectangle (no anti-aliasing: background only). */
static void fill_gradient(ft_image *im, int x0, int y0, int x1, int y1, const uint8_t top[3],
                          const uint8_t bot[3])
{
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > im->width ? im->width : x1, y1 = y1 > im->height ? im->height : y1;
    for (int y = y0; y < y1; y++) {
        double f = y1 - y0 > 1 ? (double)(y - y0) / (y1 - y0 - 1) : 0;
        uint8_t c[3];
        for (int k = 0; k < 3; k++)
            c[k] = clamp_u8(top[k] + (bot[k] - top[k]) * f);
        for (int x = x0; x < x1; x++)
            memcpy(im->rgb + 3 * ((size_t)y * im->width + x), c, 3);
    }
}

/* Anti-aliased capsule: the points within r of the segment (x0,y0)-(x1,y1). */
static void fill_capsule(ft_image *im, double x0, double y0, double x1, double y1, double r,
                         const uint8_t c[3])
{
    int bx0 = (int)floor(fmax(fmin(x0, x1) - r - 1, 0));
    int bx1 = (int)ceil(fmin(fmax(x0, x1) + r + 1, im->width));
    int by0 = (int)floor(fmax(fmin(y0, y1) - r - 1, 0));
    int by1 = (int)ceil(fmin(fmax(y0, y1) + r + 1, im->height));
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    for (int y = by0; y < by1; y++) {
        for (int x = bx0; x < bx1; x++) {
            double px = x + 0.5 - x0, py = y + 0.5 - y0;
            double t = len2 > 0 ? clampd((px * dx + py * dy) / len2, 0, 1) : 0;
            double ex = px - t * dx, ey = py - t * dy;
            double cov = clampd(r - sqrt(ex * ex + ey * ey) + 0.5, 0, 1);
            if (cov > 0) blend_px(im->rgb + 3 * ((size_t)y * im->width + x), c, cov);
        }
    }
}

/* Smooth value noise, one octave of cell size `cell`, amplitude amp, added
** to every channel. */
static void add_value_noise(ft_image *im, int cell, double amp, rng *r)
{
    int gw = im->width / cell + 2, gh = im->height / cell + 2;
    float *g = xcalloc((size_t)gw * gh, sizeof *g);
    for (int i = 0; i < gw * gh; i++)
        g[i] = (float)uniform(r, -amp, amp);
    for (int y = 0; y < im->height; y++) {
        double fy = (double)y / cell;
        int j = (int)fy;
        double ty = fy - j;
        ty = ty * ty * (3 - 2 * ty);
        for (int x = 0; x < im->width; x++) {
            double fx = (double)x / cell;
            int i = (int)fx;
            double tx = fx - i;
            tx = tx * tx * (3 - 2 * tx);
            double a = g[j * gw + i], b = g[j * gw + i + 1];
            double c = g[(j + 1) * gw + i], d = g[(j + 1) * gw + i + 1];
            double v = (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty;
            uint8_t *px = im->rgb + 3 * ((size_t)y * im->width + x);
            for (int k = 0; k < 3; k++)
                px[k] = clamp_u8(px[k] + v);
        }
    }
    free(g);
}

static void rand_colour(rng *r, int lo, int hi, uint8_t c[3])
{
    for (int k = 0; k < 3; k++)
        c[k] = (uint8_t)uniform(r, lo, hi);
}

static void draw_buildings_and_trees(ft_image *bg, double horizon, rng *r)
{
    int W = bg->width, H = bg->height;
    int n_build = 3 + uniform_int(r, 6);
    for (int i = 0; i < n_build; i++) {
        double x0 = uniform(r, -0.1, 1.0) * W, w = uniform(r, 0.05, 0.2) * W;
        double h = uniform(r, 0.08, 0.26) * H, top = horizon - h;
        uint8_t wall[3], win[3];
        rand_colour(r, 90, 200, wall);
        for (int k = 0; k < 3; k++)
            win[k] = (uint8_t)(wall[k] * uniform(r, 0.45, 0.7));
        fill_rect(bg, x0, top, x0 + w, horizon + 1, wall, 1);
        double ws = fmax(6, 0.018 * H); /* window size */
        for (double y = top + ws; y + ws < horizon - ws; y += 2 * ws)
            for (double x = x0 + ws; x + ws < x0 + w - ws / 2; x += 2 * ws)
                fill_rect(bg, x, y, x + ws, y + ws, win, 1);
    }
    int n_trees = 2 + uniform_int(r, 7);
    for (int i = 0; i < n_trees; i++) {
        double x = uniform(r, 0, 1) * W, rad = uniform(r, 0.03, 0.08) * H;
        double y = horizon - rad * uniform(r, 0.8, 1.5);
        uint8_t trunk[3] = { 80, 60, 40 }, leaf[3];
        leaf[0] = (uint8_t)uniform(r, 30, 80), leaf[1] = (uint8_t)uniform(r, 90, 150);
        leaf[2] = (uint8_t)uniform(r, 30, 70);
        fill_rect(bg, x - rad * 0.12, y, x + rad * 0.12, horizon + 2, trunk, 1);
        fill_capsule(bg, x, y - rad * 0.2, x, y + rad * 0.1, rad, leaf);
    }
}

/* Lateral camera: kerb, crowd barrier with tape and banners, road. */
static void draw_lateral_scene(ft_image *bg, double horizon, rng *r)
{
    int W = bg->width, H = bg->height;
    uint8_t kerb[3] = { 170, 168, 160 }, post[3] = { 90, 90, 95 }, white[3] = { 235, 235, 235 };
    uint8_t tape[3] = { 210, 40, 40 }, banner[3];
    uint8_t road_top[3] = { 105, 105, 110 }, road_bot[3] = { 70, 70, 76 };
    fill_gradient(bg, 0, (int)horizon, W, H, road_top, road_bot);
    fill_rect(bg, 0, horizon, W, horizon + 0.03 * H, kerb, 1);
    double post_h = 0.06 * H, gap = 0.08 * W;
    for (double x = uniform(r, 0, gap); x < W; x += gap)
        fill_rect(bg, x, horizon - post_h * 0.5, x + fmax(2, 0.004 * W), horizon + post_h * 0.6,
                  post, 1);
    for (double x = 0; x < W; x += 0.04 * W)
        fill_rect(bg, x, horizon - post_h * 0.4, x + 0.02 * W, horizon - post_h * 0.4 + 0.012 * H,
                  ((int)(x / (0.04 * W)) % 2) ? white : tape, 1);
    int n_banners = 1 + uniform_int(r, 3);
    for (int i = 0; i < n_banners; i++) {
        double x = uniform(r, 0, 0.8) * W, w = uniform(r, 0.1, 0.25) * W;
        rand_colour(r, 40, 240, banner);
        fill_rect(bg, x, horizon - post_h * 1.6, x + w, horizon - post_h * 0.7, banner, 1);
        rand_colour(r, 0, 255, banner);
        fill_rect(bg, x + w * 0.08, horizon - post_h * 1.4, x + w * 0.6, horizon - post_h * 0.95,
                  banner, 1);
    }
    uint8_t line[3] = { 220, 220, 215 };
    fill_rect(bg, 0, H * 0.97, W, H * 0.98, line, 1);
}

/* Approach camera: verges, the road narrowing to the vanishing point, its
** dashed centre line and posts along both edges. */
static void draw_approach_scene(ft_image *bg, double horizon, double vp_x, rng *r)
{
    int W = bg->width, H = bg->height;
    uint8_t verge_top[3], verge_bot[3];
    verge_top[0] = (uint8_t)uniform(r, 80, 120), verge_top[1] = (uint8_t)uniform(r, 110, 150);
    verge_top[2] = (uint8_t)uniform(r, 60, 90);
    for (int k = 0; k < 3; k++)
        verge_bot[k] = (uint8_t)(verge_top[k] * 0.75);
    fill_gradient(bg, 0, (int)horizon, W, H, verge_top, verge_bot);
    uint8_t asphalt[3] = { 95, 95, 100 }, line[3] = { 230, 230, 225 }, post[3] = { 200, 60, 40 };
    for (int y = (int)horizon; y < H; y++) {
        double f = (y - horizon) / (H - horizon);
        double half = (0.02 + 0.9 * f) * W;
        uint8_t c[3];
        for (int k = 0; k < 3; k++)
            c[k] = clamp_u8(asphalt[k] * (1 - 0.25 * f));
        fill_rect(bg, vp_x - half, y, vp_x + half, y + 1, c, 1);
        double depth = 1.0 / (f + 0.02); /* dashes periodic in depth */
        if (fmod(depth, 4.0) < 2.0)
            fill_rect(bg, vp_x - half * 0.012, y, vp_x + half * 0.012, y + 1, line, 1);
    }
    for (double depth = 1.5; depth < 40; depth *= 1.35) {
        double f = 1.0 / depth, y = horizon + f * (H - horizon), half = (0.02 + 0.9 * f) * W;
        double ph = 0.25 * f * H, pw = fmax(2, 0.01 * f * W);
        for (int side = -1; side <= 1; side += 2)
            fill_rect(bg, vp_x + side * half * 1.05 - pw / 2, y - ph,
                      vp_x + side * half * 1.05 + pw / 2, y, post, 1);
    }
}

static ft_image *make_background(const sim *S, camera *cam)
{
    const options *o = &S->o;
    rng r = rng_for(o->seed, RNG_BACKGROUND, (uint64_t)(cam - S->cams));
    ft_image *bg;
    if (ft_image_create(o->width, o->height, &bg) != FT_OK) die("out of memory for a frame");
    uint8_t sky_top[3], sky_bot[3];
    double grey = uniform(&r, 0, 0.6); /* overcast */
    sky_top[0] = clamp_u8(uniform(&r, 70, 120) * (1 - grey) + 160 * grey);
    sky_top[1] = clamp_u8(uniform(&r, 120, 160) * (1 - grey) + 165 * grey);
    sky_top[2] = clamp_u8(uniform(&r, 190, 235) * (1 - grey) + 170 * grey);
    for (int k = 0; k < 3; k++)
        sky_bot[k] = clamp_u8(sky_top[k] + uniform(&r, 25, 60));
    fill_gradient(bg, 0, 0, o->width, (int)cam->horizon, sky_top, sky_bot);
    draw_buildings_and_trees(bg, cam->horizon, &r);
    if (cam->motion == MOTION_APPROACH)
        draw_approach_scene(bg, cam->horizon, cam->vp_x, &r);
    else
        draw_lateral_scene(bg, cam->horizon, &r);
    add_value_noise(bg, (int)fmax(8, o->height / 12), 10, &r);
    add_value_noise(bg, (int)fmax(4, o->height / 60), 5, &r);
    tone_curve(cam, &r);
    for (size_t i = 0; i < (size_t)o->width * o->height; i++)
        tone(cam, bg->rgb + 3 * i, bg->rgb + 3 * i);
    return bg;
}

/* Where pass p's face is at time t (s after the gun). u is the fraction of
** the crossing done. The truth's geometry describes this; bench_fusion
** recomputes it (pass_face_at): keep the two in step. */
static pose pass_pose(const sim *S, const camera *cam, const pass *p, double t)
{
    const options *o = &S->o;
    double dur = p->t_out - p->t_in, u = (t - p->t_in) / dur;
    pose po;
    if (cam->motion == MOTION_LATERAL) {
        double F = p->face_px, span = o->width + F, v = span / dur;
        po.face = F;
        po.cx = cam->dir > 0 ? -F / 2 + span * u : o->width + F / 2 - span * u;
        po.cy = cam->lane_y[p->lane] - 0.04 * F * fabs(sin(2 * M_PI * CADENCE_HZ * t + p->phase));
        po.vx = cam->dir * v, po.vy = 0;
        return po;
    }
    /* approach: 1/scale linear in time (constant speed in depth); the image
    ** position moves away from the vanishing point in proportion to scale */
    double inv = 1 / APPROACH_S0 + (1 - 1 / APPROACH_S0) * u;
    double s = 1 / inv, ds = -(1 - 1 / APPROACH_S0) * s * s / dur; /* d scale / dt */
    double F = p->face_px;
    double ex = p->lane % 2 == 0 ? -0.55 * F : o->width + 0.55 * F, ey = cam->exit_y[p->lane];
    double dx = ex - cam->vp_x, dy = ey - cam->horizon;
    po.face = F * s;
    po.cx = cam->vp_x + dx * s, po.cy = cam->horizon + dy * s;
    po.vx = dx * ds, po.vy = dy * ds;
    return po;
}

/* Mean colour of the photo's cheeks and nose, for neck, arms and legs. */
static void skin_colour(const ft_image *ph, uint8_t out[3])
{
    double acc[3] = { 0, 0, 0 };
    int n = 0;
    int x0 = (int)(0.42 * ph->width), x1 = (int)(0.58 * ph->width);
    int y0 = (int)(0.5 * ph->height), y1 = (int)(0.62 * ph->height);
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++, n++)
            for (int k = 0; k < 3; k++)
                acc[k] += ph->rgb[3 * ((size_t)y * ph->width + x) + k];
    for (int k = 0; k < 3; k++)
        out[k] = clamp_u8(n ? acc[k] / n : 128);
}

/* Scratch buffer for the face sprite (premultiplied RGBA floats). */
static float *g_sprite;
static size_t g_sprite_cap;

/* Box blur of length len (px) along one axis of a w x h RGBA float buffer. */
static void box_blur(float *buf, int w, int h, double len, int vertical)
{
    int rad = (int)floor(len / 2);
    if (rad < 1) return;
    int n = vertical ? h : w, lines = vertical ? w : h;
    size_t step = vertical ? (size_t)w * 4 : 4, line_step = vertical ? 4 : (size_t)w * 4;
    float *tmp = xcalloc((size_t)n * 4, sizeof *tmp);
    for (int l = 0; l < lines; l++) {
        float *base = buf + l * line_step;
        for (int i = 0; i < n; i++)
            memcpy(tmp + 4 * i, base + i * step, 4 * sizeof *tmp);
        for (int i = 0; i < n; i++) {
            float acc[4] = { 0, 0, 0, 0 };
            int a = i - rad < 0 ? 0 : i - rad, b = i + rad >= n ? n - 1 : i + rad;
            for (int j = a; j <= b; j++)
                for (int k = 0; k < 4; k++)
                    acc[k] += tmp[4 * j + k];
            for (int k = 0; k < 4; k++)
                base[i * step + k] = acc[k] / (2 * rad + 1);
        }
    }
    free(tmp);
}

/* The face: photo pixels inside the soft elliptical head mask, scaled so the
** face box is po->face tall, rolled, motion-blurred, toned, composited. */
static void draw_face(ft_image *fr, const camera *cam, const ft_image *ph, const pose *po,
                      double roll, double shutter_s)
{
    double s = po->face / (PHOTO_FACE_H * ph->height); /* frame px per photo px */
    double pcx = PHOTO_FACE_CX * ph->width, pcy = PHOTO_FACE_CY * ph->height;
    double mcx = PHOTO_FACE_CX * ph->width, mcy = MASK_CY * ph->height;
    double ax = MASK_AX * ph->width, ay = MASK_AY * ph->height;
    double blur_x = fabs(po->vx) * shutter_s, blur_y = fabs(po->vy) * shutter_s;
    double R = ay * s + 3;
    int x0 = (int)floor(po->cx - R - blur_x), x1 = (int)ceil(po->cx + R + blur_x);
    int y0 = (int)floor(po->cy - R - blur_y), y1 = (int)ceil(po->cy + R + blur_y);
    if (x1 <= 0 || y1 <= 0 || x0 >= fr->width || y0 >= fr->height) return;
    int w = x1 - x0, h = y1 - y0;
    size_t need = (size_t)w * h * 4;
    if (need > g_sprite_cap)
        g_sprite = xrealloc(g_sprite, need * sizeof *g_sprite), g_sprite_cap = need;
    int ss = (int)clampd(ceil(1 / s), 1, 4);
    double cr = cos(roll), sr = sin(roll);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            float acc[4] = { 0, 0, 0, 0 }, c[3];
            for (int j = 0; j < ss; j++) {
                for (int i = 0; i < ss; i++) {
                    double dx = x0 + x + (i + 0.5) / ss - po->cx,
                           dy = y0 + y + (j + 0.5) / ss - po->cy;
                    double u = pcx + (cr * dx + sr * dy) / s, v = pcy + (-sr * dx + cr * dy) / s;
                    double ex = (u - mcx) / ax, ey = (v - mcy) / ay, rr = sqrt(ex * ex + ey * ey);
                    double a = clampd((1 - rr) / MASK_FEATHER, 0, 1);
                    if (a <= 0) continue;
                    a = a * a * (3 - 2 * a);
                    sample_bilinear(ph, u, v, c);
                    for (int k = 0; k < 3; k++)
                        acc[k] += (float)a * c[k];
                    acc[3] += (float)a;
                }
            }
            float *px = g_sprite + 4 * ((size_t)y * w + x);
            for (int k = 0; k < 4; k++)
                px[k] = acc[k] / (ss * ss);
        }
    }
    box_blur(g_sprite, w, h, blur_x, 0);
    box_blur(g_sprite, w, h, blur_y, 1);
    for (int y = 0; y < h; y++) {
        int fy = y0 + y;
        if (fy < 0 || fy >= fr->height) continue;
        for (int x = 0; x < w; x++) {
            int fx = x0 + x;
            const float *px = g_sprite + 4 * ((size_t)y * w + x);
            if (fx < 0 || fx >= fr->width || px[3] <= 1e-3f) continue;
            uint8_t c[3], t[3];
            for (int k = 0; k < 3; k++)
                c[k] = clamp_u8(px[k] / px[3]);
            tone(cam, c, t);
            blend_px(fr->rgb + 3 * ((size_t)fy * fr->width + fx), t, fmin(px[3], 1));
        }
    }
}

/* 3x5 digits for the bib numbers. */
static const char *const DIGITS[10] = {
    "111101101101111", "010110010010111", "111001111100111", "111001111001111", "101101111001001",
    "111100111001111", "111100111101111", "111001001001001", "111101111101111", "111101111001111",
};

static void draw_bib(ft_image *fr, const camera *cam, double cx, double top, double F, int bib)
{
    uint8_t white[3] = { 245, 245, 240 }, black[3] = { 15, 15, 15 }, c[3];
    tone(cam, white, c);
    fill_rect(fr, cx - 0.4 * F, top, cx + 0.4 * F, top + 0.5 * F, c, 1);
    tone(cam, black, c);
    char num[16];
    int n = snprintf(num, sizeof num, "%d", bib);
    double cell = 0.6 * F / (4 * n), x = cx - 2 * cell * n + 0.5 * cell, y = top + 0.1 * F;
    double px = 0.3 * F / 5; /* height of a font pixel */
    for (int i = 0; i < n; i++, x += 4 * cell)
        for (int q = 0; q < 15; q++)
            if (DIGITS[num[i] - '0'][q] == '1')
                fill_rect(fr, x + (q % 3) * cell, y + (q / 3) * px, x + (q % 3 + 1) * cell,
                          y + (q / 3 + 1) * px, c, 1);
}

/* A runner at pose po: body below the face, then the face. */
static void draw_runner(ft_image *fr, const sim *S, const camera *cam, const pass *p,
                        const runner *ru, const ft_image *ph, const pose *po, double t)
{
    double F = po->face, cx = po->cx, cy = po->cy;
    double sw = sin(2 * M_PI * CADENCE_HZ * t + p->phase); /* stride swing */
    uint8_t skin[3], shirt[3], shorts[3], shoes[3];
    tone(cam, p->skin, skin), tone(cam, ru->shirt, shirt), tone(cam, ru->shorts, shorts);
    tone(cam, ru->shoes, shoes);
    for (int side = -1; side <= 1; side += 2) { /* legs and shoes */
        double hip = cx + side * 0.3 * F, sg = side * sw;
        double kx = hip + 0.35 * F * sg, ky = cy + 3.5 * F, fx = hip + 0.15 * F * sg,
               fy = cy + 4.4 * F;
        fill_capsule(fr, hip, cy + 2.7 * F, kx, ky, 0.17 * F, skin);
        fill_capsule(fr, kx, ky, fx, fy, 0.14 * F, skin);
        fill_capsule(fr, fx - 0.1 * F, fy + 0.1 * F, fx + 0.15 * F, fy + 0.1 * F, 0.1 * F, shoes);
    }
    fill_rect(fr, cx - 0.72 * F, cy + 2.35 * F, cx + 0.72 * F, cy + 3.0 * F, shorts, 1);
    fill_rect(fr, cx - 0.75 * F, cy + 0.85 * F, cx + 0.75 * F, cy + 2.5 * F, shirt, 1);
    fill_capsule(fr, cx - 0.6 * F, cy + 0.9 * F, cx + 0.6 * F, cy + 0.9 * F, 0.2 * F, shirt);
    draw_bib(fr, cam, cx, cy + 1.3 * F, F, ru->bib);
    for (int side = -1; side <= 1; side += 2) { /* arms, swinging against the legs */
        double shx = cx + side * 0.78 * F, shy = cy + 0.95 * F, sg = -side * sw;
        double ex = shx + side * 0.15 * F + 0.3 * F * sg, ey = cy + 1.7 * F;
        double hx = ex + 0.35 * F * sg - side * 0.15 * F, hy = cy + 2.25 * F;
        fill_capsule(fr, shx, shy, ex, ey, 0.12 * F, skin);
        fill_capsule(fr, ex, ey, hx, hy, 0.11 * F, skin);
        fill_capsule(fr, shx, shy, (shx + ex) / 2, (shy + ey) / 2, 0.15 * F, shirt);
    }
    fill_rect(fr, cx - 0.18 * F, cy + 0.35 * F, cx + 0.18 * F, cy + 0.9 * F, skin, 1);
    draw_face(fr, cam, ph, po, p->roll, S->o.shutter_s);
}

/* ======================================================================== */
/* Encode: one video per camera                                             */
/* ======================================================================== */

typedef struct drawn {
    const pass *p;
    pose po;
} drawn;

static int cmp_drawn(const void *a, const void *b)
{
    const drawn *x = a, *y = b;
    /* far (small, upper lanes) first, near on top */
    if (x->po.cy + 4 * x->po.face != y->po.cy + 4 * y->po.face)
        return x->po.cy + 4 * x->po.face < y->po.cy + 4 * y->po.face ? -1 : 1;
    return x->p->runner - y->p->runner;
}

/* The window in which pass p may be (partly) on screen. */
static void visible_window(const camera *cam, const pass *p, double *from, double *to)
{
    double dur = p->t_out - p->t_in;
    *from = cam->motion == MOTION_LATERAL ? p->t_in - 0.4 * dur : p->t_in;
    *to = p->t_out + (cam->motion == MOTION_LATERAL ? 0.4 : 0.15) * dur;
}

static void render_camera(sim *S, int c, double *encode_s)
{
    const options *o = &S->o;
    camera *cam = &S->cams[c];
    int n = S->n_runners;
    ft_image *bg = make_background(S, cam), *fr;
    if (ft_image_create(o->width, o->height, &fr) != FT_OK) die("out of memory for a frame");
    for (int i = 0; i < n; i++) { /* the photos this camera shows */
        pass *p = pass_at(S, c, i);
        skin_colour(person_photo(&S->pp.v[S->runners[i].person], p->photo), p->skin);
    }
    char path[PATH_MAX_SIM], err[600];
    join_path(path, sizeof path, o->out_dir, cam->video, "");
    ft_video_writer_params wp = ft_video_writer_default_params();
    wp.codec = o->codec;
    wp.quality = o->quality;
    wp.gop = (int)ceil(2 * o->fps);
    wp.threads = 1;
    ft_video_writer *w;
    if (ft_video_writer_open(path, o->width, o->height, o->fps, &wp, &w, err, sizeof err) != FT_OK)
        die("%s", err);
    drawn *on = xcalloc(n, sizeof *on);
    int tty = !o->quiet && isatty(2);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int64_t f = 0; f < cam->n_frames; f++) {
        double t = cam->t0 + f / o->fps;
        memcpy(fr->rgb, bg->rgb, (size_t)o->width * o->height * 3);
        int n_on = 0;
        for (int i = 0; i < n; i++) {
            const pass *p = pass_at(S, c, i);
            double from, to;
            visible_window(cam, p, &from, &to);
            if (t < from || t > to) continue;
            on[n_on].p = p;
            on[n_on].po = pass_pose(S, cam, p, t);
            n_on++;
        }
        qsort(on, n_on, sizeof *on, cmp_drawn);
        for (int k = 0; k < n_on; k++) {
            const pass *p = on[k].p;
            const runner *ru = &S->runners[p->runner];
            draw_runner(fr, S, cam, p, ru, person_photo(&S->pp.v[ru->person], p->photo), &on[k].po,
                        t);
        }
        if (ft_video_writer_write(w, fr) != FT_OK) die("%s", ft_video_writer_errmsg(w));
        if (tty && (f % 25 == 0 || f + 1 == cam->n_frames))
            fprintf(stderr, "\r" PROG ": camera %d/%d %s: frame %lld/%lld ", c + 1, S->n_cams,
                    cam->id, (long long)f + 1, (long long)cam->n_frames);
    }
    if (ft_video_writer_close(w, err, sizeof err) != FT_OK) die("%s", err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *encode_s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (!o->quiet)
        fprintf(stderr,
                "%s" PROG ": camera %d/%d %s (km %.1f, %s): %lld frames, %.1f s of video, "
                "time x%.3g, in %.1f s\n",
                tty ? "\r" : "", c + 1, S->n_cams, cam->id, cam->km,
                cam->motion == MOTION_LATERAL ? "lateral" : "approach", (long long)cam->n_frames,
                cam->n_frames / o->fps, cam->compression, *encode_s);
    free(on);
    ft_image_destroy(fr);
    ft_image_destroy(bg);
    people_unload(&S->pp);
}

/* ======================================================================== */
/* Truth: queries, truth.json, truth.tsv, setup.sh                          */
/* ======================================================================== */

static int64_t wall_us(const sim *S, double t)
{
    return S->o.start_us + (int64_t)llround(t * 1e6);
}

static void write_queries(sim *S)
{
    const options *o = &S->o;
    char dir[PATH_MAX_SIM];
    if (o->queries_dir)
        snprintf(dir, sizeof dir, "%s", o->queries_dir);
    else
        snprintf(dir, sizeof dir, "%s/queries", o->out_dir);
    mkdir_p(dir);
    for (int i = 0; i < S->n_runners; i++) {
        runner *ru = &S->runners[i];
        person *pe = &S->pp.v[ru->person];
        join_path(ru->query, sizeof ru->query, dir, ru->id, ".jpg");
        if (!pe->generated) {
            copy_file(pe->label[pe->query], ru->query);
            continue;
        }
        unsigned char *jpg;
        size_t len;
        char err[256];
        if (ft_image_encode_jpeg(pe->img[pe->query], 92, &jpg, &len, err, sizeof err) != FT_OK)
            die("%s: %s", ru->query, err);
        FILE *f = fopen(ru->query, "wb");
        if (!f || fwrite(jpg, 1, len, f) != len || fclose(f) != 0)
            die("cannot write %s: %s", ru->query, strerror(errno));
        ft_store_free(jpg);
    }
}

static const char *photo_label(const person *pe, int i)
{
    return pe->generated ? pe->label[i] : base_name(pe->label[i]);
}

/* A number with a fixed count of decimals (null if not finite). */
static void jw_fixed(struct jw *w, double v, int decimals)
{
    if (isfinite(v))
        fprintf(w->f, "%.*f", decimals, v);
    else
        fputs("null", w->f);
}

/* A number with at most digits significant digits (%g; null if not finite). */
static void jw_sig(struct jw *w, double v, int digits)
{
    if (isfinite(v))
        fprintf(w->f, "%.*g", digits, v);
    else
        fputs("null", w->f);
}

/* "key": "string" and "key": integer members. */
static void jw_key_str(struct jw *w, const char *key, const char *v)
{
    jw_key(w, key);
    jw_str(w, v);
}

static void jw_key_int(struct jw *w, const char *key, long long v)
{
    jw_key(w, key);
    jw_int(w, v);
}

static void write_truth_json(const sim *S)
{
    const options *o = &S->o;
    char path[PATH_MAX_SIM], a[40], b[40];
    join_path(path, sizeof path, o->out_dir, "truth.json", "");
    FILE *f = create_text(path);
    struct jw w;
    jw_init(&w, f, 1);
    jw_open(&w, '{');
    jw_key_str(&w, "generator", PROG);
    jw_key(&w, "seed");
    fprintf(f, "%llu", (unsigned long long)o->seed);
    format_time(o->start_us, a);
    jw_key_str(&w, "start", a);
    jw_key(&w, "course_km");
    jw_fixed(&w, o->course_km, 3);
    jw_key_int(&w, "width", o->width);
    jw_key_int(&w, "height", o->height);
    jw_key(&w, "fps");
    jw_sig(&w, o->fps, 6);
    jw_key_str(&w, "codec", o->codec);
    jw_key_str(&w, "people", o->people_dir ? "photos" : "augmented");
    jw_key(&w, "cameras");
    jw_open(&w, '[');
    for (int c = 0; c < S->n_cams; c++) {
        const camera *cam = &S->cams[c];
        int lateral = cam->motion == MOTION_LATERAL;
        jw_item(&w);
        jw_open(&w, '{');
        jw_key_str(&w, "id", cam->id);
        jw_key(&w, "km");
        jw_fixed(&w, cam->km, 1);
        jw_key_str(&w, "video", cam->video);
        format_time(wall_us(S, cam->t0), a);
        format_time(wall_us(S, cam->t0 + cam->n_frames / o->fps), b);
        jw_key_str(&w, "start", a);
        jw_key_str(&w, "end", b);
        jw_key_int(&w, "frames", (long long)cam->n_frames);
        jw_key_str(&w, "motion", lateral ? "lateral" : "approach");
        jw_key_int(&w, "lanes", cam->lanes);
        jw_key(&w, "time_compression");
        jw_sig(&w, cam->compression, 4);
        jw_key(&w, "max_lane_delay_s");
        jw_fixed(&w, cam->max_delay, 2);
        /* where the faces are (pass_pose): for labelling tracks by position */
        jw_key_int(&w, "dir", cam->dir);
        jw_key(&w, "horizon");
        jw_fixed(&w, cam->horizon, 2);
        jw_key(&w, "vp_x");
        jw_fixed(&w, cam->vp_x, 2);
        jw_key(&w, lateral ? "lane_y" : "exit_y");
        jw_open(&w, '[');
        for (int k = 0; k < cam->lanes; k++) {
            jw_item(&w);
            jw_fixed(&w, lateral ? cam->lane_y[k] : cam->exit_y[k], 2);
        }
        jw_close(&w);
        jw_close(&w);
    }
    jw_close(&w);
    jw_key(&w, "runners");
    jw_open(&w, '[');
    for (int i = 0; i < S->n_runners; i++) {
        const runner *ru = &S->runners[i];
        const person *pe = &S->pp.v[ru->person];
        jw_item(&w);
        jw_open(&w, '{');
        jw_key_str(&w, "id", ru->id);
        jw_key_int(&w, "bib", ru->bib);
        jw_key_str(&w, "name", pe->name);
        jw_key(&w, "pace_kmh");
        jw_fixed(&w, ru->pace_kmh, 2);
        format_time(wall_us(S, ru->start_s), a);
        jw_key_str(&w, "start", a);
        jw_key_str(&w, "query", ru->query);
        jw_key_str(&w, "query_photo", photo_label(pe, pe->query));
        jw_key(&w, "passes");
        jw_open(&w, '[');
        for (int c = 0; c < S->n_cams; c++) {
            const pass *p = &S->passes[(size_t)c * S->n_runners + i];
            jw_item(&w);
            jw_open(&w, '{');
            jw_key_str(&w, "camera", S->cams[c].id);
            format_time(wall_us(S, p->t_in), a);
            format_time(wall_us(S, p->t_out), b);
            jw_key_str(&w, "t_in", a);
            jw_key_str(&w, "t_out", b);
            jw_key_str(&w, "photo", photo_label(pe, p->photo));
            jw_key(&w, "face_px");
            jw_fixed(&w, p->face_px, 1);
            jw_key_int(&w, "lane", p->lane);
            jw_close(&w);
        }
        jw_close(&w);
        jw_close(&w);
    }
    jw_close(&w);
    jw_close(&w);
    fputc('\n', f);
    close_text(f, path);
}

static void write_truth_tsv(const sim *S)
{
    const options *o = &S->o;
    char path[PATH_MAX_SIM], a[40], b[40];
    join_path(path, sizeof path, o->out_dir, "truth.tsv", "");
    FILE *f = create_text(path);
    fprintf(f, "# " PROG " ground truth, tab-separated (truth.json has the same and more).\n"
               "# camera ID KM VIDEO START_ISO START_US FRAMES\n"
               "# runner ID NAME QUERY PACE_KMH\n"
               "# pass RUNNER CAMERA T_IN_US T_OUT_US T_IN_ISO T_OUT_ISO FACE_PX PHOTO LANE\n"
               "# geometry CAMERA MOTION DIR WIDTH HEIGHT HORIZON VP_X APPROACH_S0 LANES Y...\n");
    for (int c = 0; c < S->n_cams; c++) {
        const camera *cam = &S->cams[c];
        format_time(wall_us(S, cam->t0), a);
        fprintf(f, "camera\t%s\t%.1f\t%s\t%s\t%lld\t%lld\n", cam->id, cam->km, cam->video, a,
                (long long)wall_us(S, cam->t0), (long long)cam->n_frames);
    }
    for (int c = 0; c < S->n_cams; c++) {
        const camera *cam = &S->cams[c];
        int lateral = cam->motion == MOTION_LATERAL;
        fprintf(f, "geometry\t%s\t%s\t%d\t%d\t%d\t%.2f\t%.2f\t%g\t%d", cam->id,
                lateral ? "lateral" : "approach", cam->dir, o->width, o->height, cam->horizon,
                cam->vp_x, APPROACH_S0, cam->lanes);
        for (int k = 0; k < cam->lanes; k++)
            fprintf(f, "\t%.2f", lateral ? cam->lane_y[k] : cam->exit_y[k]);
        fputc('\n', f);
    }
    for (int i = 0; i < S->n_runners; i++) {
        const runner *ru = &S->runners[i];
        fprintf(f, "runner\t%s\t%s\t%s\t%.2f\n", ru->id, S->pp.v[ru->person].name, ru->query,
                ru->pace_kmh);
    }
    for (int i = 0; i < S->n_runners; i++) {
        const person *pe = &S->pp.v[S->runners[i].person];
        for (int c = 0; c < S->n_cams; c++) {
            const pass *p = &S->passes[(size_t)c * S->n_runners + i];
            format_time(wall_us(S, p->t_in), a);
            format_time(wall_us(S, p->t_out), b);
            fprintf(f, "pass\t%s\t%s\t%lld\t%lld\t%s\t%s\t%.1f\t%s\t%d\n", S->runners[i].id,
                    S->cams[c].id, (long long)wall_us(S, p->t_in), (long long)wall_us(S, p->t_out),
                    a, b, p->face_px, photo_label(pe, p->photo), p->lane);
        }
    }
    close_text(f, path);
}

static void write_setup(const sim *S)
{
    const options *o = &S->o;
    char path[PATH_MAX_SIM], a[40];
    join_path(path, sizeof path, o->out_dir, "setup.sh", "");
    FILE *f = create_text(path);
    fprintf(f,
            "#!/bin/sh\n"
            "# setup.sh: written by " PROG " (seed %llu): registers this race's %d cameras\n"
            "# and ingests their videos into one event database.\n"
            "#   FT=build/release/facetrail DB=race.ftdb sh setup.sh [ingest options...]\n"
            "# Extra arguments go to every 'facetrail ingest' (e.g. --threads 1 --quiet).\n"
            "set -eu\n"
            "FT=${FT:-build/release/facetrail}\n"
            "DB=${DB:-race.ftdb}\n"
            "HERE=$(cd \"$(dirname \"$0\")\" && pwd)\n",
            (unsigned long long)o->seed, S->n_cams);
    for (int c = 0; c < S->n_cams; c++) {
        const camera *cam = &S->cams[c];
        fprintf(f, "\"$FT\" camera add --db \"${DB}\" --id %s --km %.1f --name ", cam->id, cam->km);
        char name[64];
        snprintf(name, sizeof name, "km %.1f (simulated, %s)", cam->km,
                 cam->motion == MOTION_LATERAL ? "lateral" : "approach");
        sh_word(f, name);
        fputc('\n', f);
    }
    for (int c = 0; c < S->n_cams; c++) {
        const camera *cam = &S->cams[c];
        format_time(wall_us(S, cam->t0), a);
        fprintf(f, "\"$FT\" ingest --db \"${DB}\" --camera %s --start %s \"$@\" \"$HERE/%s\"\n",
                cam->id, a, cam->video);
    }
    close_text(f, path);
    chmod(path, 0755);
}

/* ======================================================================== */
/* Main                                                                     */
/* ======================================================================== */

int main(int argc, char **argv)
{
    sim S;
    memset(&S, 0, sizeof S);
    util_set_name(PROG);
    parse_options(argc, argv, &S.o);
    const options *o = &S.o;
    ft_video_set_ffmpeg_log_level(1);
    if (o->export_dir) {
        people_from_images(o, o->runners, &S.pp);
        export_people(o, &S.pp);
        for (int k = 0; k < S.pp.n; k++)
            person_free(&S.pp.v[k]);
        free(S.pp.v);
        return 0;
    }
    mkdir_p(o->out_dir);
    if (o->people_dir)
        people_from_lfw(o, o->runners, &S.pp);
    else
        people_from_images(o, o->runners, &S.pp);
    S.n_runners = S.pp.n;
    S.n_cams = o->cameras;
    plan_course(&S);
    write_queries(&S);
    if (!o->quiet)
        fprintf(stderr, PROG ": %d runners (%s), %d camera(s), %dx%d at %g fps, %s\n", S.n_runners,
                o->people_dir ? "real photos" : "augmented faces", S.n_cams, o->width, o->height,
                o->fps, o->codec);
    double total_video = 0, total_encode = 0;
    for (int c = 0; c < S.n_cams; c++) {
        double secs;
        render_camera(&S, c, &secs);
        total_encode += secs;
        total_video += S.cams[c].n_frames / o->fps;
    }
    write_truth_json(&S);
    write_truth_tsv(&S);
    write_setup(&S);
    if (!o->quiet)
        fprintf(stderr,
                PROG ": %d passes, %.1f s of video in %.1f s -> %s (truth.json, setup.sh)\n",
                S.n_runners * S.n_cams, total_video, total_encode, o->out_dir);
    for (int k = 0; k < S.pp.n; k++)
        person_free(&S.pp.v[k]);
    free(S.pp.v);
    free(S.cams), free(S.runners), free(S.passes), free(g_sprite);
    return 0;
}
