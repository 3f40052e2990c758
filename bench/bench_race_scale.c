/*
** bench/bench_race_scale.c: a marathon-scale search benchmark without video.
** Thousands of runners, whose faces come from photo folders, pass K cameras
** of a marathon; each pass becomes a few camera shots (the runner's photo
** rendered as a course camera would see it) that go through the real
** pipeline into an event store; then every target runner is searched for
** from a held-out photo, and the appearances found are scored against the
** true passes. Run it through bench/race_scale (builds the release binary);
** `--help` lists the options.
**
** DESIGN  (one section each, in this order)
**   people   every folder of --people is a person with its .jpg photos (LFW
**            layout); every .jpg of --distractors is a person with one
**            photo (UTKFace names "AGE_GENDER_RACE_DATE.jpg.chip.jpg" give
**            the age: under 13 is a child). A photo's face is the largest
**            face the detector (YuNet, no landmarks) finds in it, or, when
**            it finds none, in the photo padded with a mid-grey border of
**            half its larger side (a tight crop); a photo without a face is
**            never drawn, an unreadable one is skipped and counted.
**   targets  --targets T people with >= 2 photos, taken in a seeded order
**            of their names; a target's query photo is drawn (seeded) among
**            its photos, the first from there on in which a face is found,
**            and the target needs one more photo with a face (else the next
**            person is taken). The query photo is never drawn in a pass.
**   runners  the targets, then the first N - T of all other identities in
**            a seeded order of their names: the runners of N = 1000 are
**            those of N = 3000's first 1000 for the same seed.
**   course   42.195 km, K cameras at km 42.195 (k + 0.5) / K, gun at
**            2026-04-12T07:00:00Z. Paces: log-normal around 10.5 km/h
**            (6-20), children 5-9 km/h, 3% walkers 4-6.5 km/h; the pace
**            falls linearly by a runner's own 0-30% towards the finish and
**            varies +-5% per segment; a pass time integrates the pace. 4
**            waves 8 minutes apart by declared pace (the pace with noise;
**            >= 12.5, 10.5, 9 km/h, slower: fast first), each runner
**            crossing the start within 4 minutes of its wave's gun.
**   shots    each pass gets 1-3 shots 0.3-1.5 s apart, from one of the
**            runner's photos (the non-query photos with a face, cycled from
**            a seeded offset, one per camera). A shot is rendered into a
**            square canvas of 2.4 face heights (>= 64 px) around the face,
**            sampled bilinearly (supersampled when shrinking: samples <= 2
**            source pixels apart; edge pixels repeat): face height 30-120
**            px (log-uniform per pass, +-15% per shot), roll +-10 deg,
**            horizontal squeeze 0.85-1, horizontal motion blur 0-4 px, gain
**            and contrast +-20%, Gaussian noise sigma 2-6 (a table of
**            quantiles), then a JPEG round trip at quality 50-90. The
**            pipeline: ft_engine_detect (default parameters, descriptors
**            made only for the face kept, as ingest does) on the canvas;
**            the face kept is the one whose box centre is nearest the
**            expected face centre among those overlapping the expected box
**            (IoU >= 0.3); its descriptor, box, score and ft_face_quality
**            are the shot. No such face: a missed shot.
**   cache    shot results and photo faces are kept in --cache FILE (append
**            only: a 16-byte header, then records with a type, a checksum
**            and a fixed payload), keyed by a 64-bit hash of the descriptor
**            space, the photo's path and every render parameter; a damaged
**            or truncated tail is cut off with a warning. A second run with
**            the same options runs the pipeline on no shot: only thumbnails
**            (the best shot of each pass, rendered again: rendering is
**            cheap) and the store are made again. One run at a time writes
**            a cache (flock); another reads it and writes nothing.
**   threads  --threads workers, each with its own engine (1 thread), take
**            shots by index and write results by index: the output does not
**            depend on the thread count.
**   store    cameras "km02.6" at their km; per camera one ingest, its
**            sightings committed in batches: one sighting per pass with a
**            described shot (up to 3 descriptors, first/last/best times,
**            the best shot's box, size, score, quality and 96 px
**            thumbnail); the event's descriptor space and pipeline settings
**            as ingest sets them, so `facetrail search` works on it.
**   search   per target: ft_query_face on the query photo (the event's
**            settings, as `facetrail search`), then ft_searcher_search_multi
**            in plain (course = 0) and/or course mode (course = 1, the
**            default). An appearance of the timeline (flagged ones are not
**            counted) at camera c finds the target's true pass at c when the
**            pass time lies in [first - 10 s, last + 10 s]. found: true
**            passes found by confirmed appearances; false: confirmed
**            appearances that find none; the possible tier is counted
**            apart. Recall is over every true pass, seen by a camera or not.
**   output   a table on stdout; --json FILE (written to a temporary file,
**            renamed into place).
**
** INVARIANTS
**   (1) Same options and seed, same results, whatever --threads: every
**       random draw comes from a stream seeded by (seed, purpose, identity
**       name[, camera, shot]), never from the order of work.
**   (2) A target's query photo is never drawn in a pass.
**   (3) A cache record is used only when its key (space, photo, every
**       render parameter) matches: a change of rendering bumps RENDER_VERSION.
*/
#include "facetrail.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROG "race_scale"

#define COURSE_KM       42.195
#define GUN_TIME        "2026-04-12T07:00:00Z"
#define WAVE_GAP_S      480.0    /* 8 minutes between waves */
#define WAVE_SPREAD_S   240.0    /* a wave crosses the start line within this */
#define CHILD_AGE       13       /* under this age: a child */
#define MATCH_SLACK_US  10000000 /* a pass is found by an appearance within 10 s */
#define MIN_IOU         0.3      /* the shot's face must overlap the expected box */
#define THUMB_PX        96
#define COMMIT_BATCH    500 /* sightings per store commit */
#define MAX_SHOTS       3
#define OPERATOR_REVIEW 3 /* --operator: candidates a person looks at */
#define MAX_FACES       32
#define SAVE_SHOTS      48 /* shots --save-shots writes */
#define RENDER_VERSION  2  /* part of every cache key: bump when rendering changes */
#define NOISE_BITS      12 /* Gaussian noise from a table of 2^12 quantiles */

extern char **environ;

/* Purposes of the random streams (invariant 1). */
enum stream {
    RNG_TARGET = 1, /* order in which people become targets */
    RNG_QUERY,      /* a target's query photo */
    RNG_ORDER,      /* order in which other identities become runners */
    RNG_RUNNER,     /* pace, fatigue, wave, start */
    RNG_SEGMENT,    /* per-segment pace variation */
    RNG_PHOTO,      /* first photo of the cycle through a runner's photos */
    RNG_PASS,       /* shots of a pass, face height */
    RNG_SHOT,       /* one shot's rendering */
};

enum mode { MODE_PLAIN = 1, MODE_COURSE = 2, MODE_BOTH = 3 };

/* ======================================================================== */
/* Options                                                                  */
/* ======================================================================== */

static const char usage[] =
    "usage: bench/race_scale --people DIR [--distractors DIR] [options]\n"
    "\n"
    "A marathon-scale search benchmark without video: runners whose faces come\n"
    "from photo folders pass K cameras along 42.195 km; each pass becomes 1-3\n"
    "camera shots (the runner's photo rendered small, rolled, squeezed, blurred,\n"
    "noisy and JPEG-compressed) that go through the real pipeline (detect, align,\n"
    "describe) into an event store; then every target is searched for from a\n"
    "held-out photo of theirs, and the appearances are scored against the true\n"
    "passes. The source file's header comment has the whole design.\n"
    "\n"
    "people:\n"
    "  --people DIR        LFW layout: DIR/<name>/*.jpg, one person per folder\n"
    "  --distractors DIR   DIR/*.jpg, one person per photo; UTKFace names\n"
    "                      (AGE_GENDER_RACE_DATE...) give the age (< 13: a child)\n"
    "  --targets T         people searched for, among those with >= 2 photos (50)\n"
    "  --runners N         runners: the T targets plus N - T other identities\n"
    "                      (default: every identity); prefix-stable for one seed\n"
    "  --seed S            random seed (default 1)\n"
    "  --models DIR        model folder (default $FT_MODEL_DIR, else the source\n"
    "                      tree's models/face-api/model, else found as the CLI\n"
    "                      finds it)\n"
    "\n"
    "race:\n"
    "  --cameras K         cameras, at km 42.195 (k + 0.5) / K (default 8)\n"
    "\n"
    "work:\n"
    "  --threads N         workers for the shots, one engine each (default 2)\n"
    "  --cache FILE        shot and photo results (default build/race_scale/cache.bin)\n"
    "  --no-cache          neither read nor write a cache\n"
    "  --db FILE           keep the event database here (default: a temporary file,\n"
    "                      deleted at exit); an existing FILE is refused\n"
    "  --force             replace an existing --db FILE\n"
    "  --reuse-db          with --db FILE made by an earlier run with the same people,\n"
    "                      runners, cameras and seed: search it again without\n"
    "                      writing it (for trying search settings)\n"
    "  --quiet             no progress on stderr\n"
    "  --verbose           per target on stderr: passes found, and every false\n"
    "                      appearance with whose pass it was\n"
    "  --save-shots DIR    write the first targets' shots as the pipeline saw them\n"
    "                      (DIR/NAME_CAMERA_SHOT.png), to judge the rendering\n"
    "\n"
    "search:\n"
    "  --mode M            course | plain | both (default both): search with the\n"
    "                      course windows (course = 1), without (course = 0), or both\n"
    "  --possible          also ask for the possible tier (up to 1 false match\n"
    "                      expected) and count it apart\n"
    "  --max-false X       expected false matches per search (default 0.01; a\n"
    "                      smaller X on N runners answers for a larger event: the\n"
    "                      threshold of N x 0.01 / X runners)\n"
    "  --min-pace KMH      slowest pace of a course window (default 2.5)\n"
    "  --no-expand         course windows searched with the query photo only\n"
    "  --query-px PX       also search with the query face rendered PX tall (as small\n"
    "                      as a camera sees it): two probes per search\n"
    "  --operator          also: a person looks at the 3 appearances (either tier)\n"
    "                      that expect the fewest false matches, confirms those that\n"
    "                      are the target (an operator without mistakes), and the\n"
    "                      course search runs again from them (--confirm): the\n"
    "                      \"operator\" mode\n"
    "  --cli PATH          also time cold `PATH search --db DB --json QUERY` runs\n"
    "  --cli-runs R        over the first min(R, T) targets (default 5)\n"
    "\n"
    "output:\n"
    "  --json FILE         the results as JSON (top level: course mode, or plain with\n"
    "                      --mode plain; \"plain\" and \"course\" per mode)\n"
    "  -h, --help          this text\n"
    "\n"
    "JSON: runners, cameras, passes, shots, shots_described, descriptors, sightings,\n"
    "targets, true_passes, found, false_appearances, recall, false_per_search,\n"
    "search_ms_p50, search_ms_p95, db_bytes, index_bytes, open_ms, query_ms_p50,\n"
    "describe_cpu_s, shots_wall_s, cache_hits, cache_misses, children, plain {...},\n"
    "course {...} (found, false_appearances, recall, false_per_search,\n"
    "possible_found, possible_false, window_found, search_ms_p50, search_ms_p95),\n"
    "cli_ms_p50, cli_ms_max, seed, options.\n"
    "\n"
    "exit status: 0 done, 2 error (bad option, missing folder, too few people, ...)\n";

typedef struct options {
    const char *people_dir, *distractors_dir;
    int targets;
    int runners; /* 0: every identity */
    int cameras;
    uint64_t seed;
    const char *model_dir; /* NULL: the library finds it */
    int threads;
    const char *cache_path; /* NULL: no cache */
    const char *db_path;    /* NULL: a temporary file */
    int force;
    int reuse_db;
    double max_false, min_pace;
    int no_expand;
    int operator_;
    double query_px;
    int quiet;
    int verbose;           /* per target: passes found, false appearances */
    const char *shots_dir; /* --save-shots: the first shots as PNG files */
    int mode;              /* enum mode */
    int possible;
    const char *cli;
    int cli_runs;
    const char *json_path;
} options;

/* Reads the command line into o; dies (status 2) on a bad option. */
static void parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->targets = 50;
    o->cameras = 8;
    o->seed = 1;
    o->model_dir =
        getenv("FT_MODEL_DIR") && *getenv("FT_MODEL_DIR") ? getenv("FT_MODEL_DIR") : NULL;
    o->threads = 2;
    o->cache_path = "build/race_scale/cache.bin";
    o->mode = MODE_BOTH;
    o->cli_runs = 5;
    struct opts a;
    xopts_init(&a, argc, argv);
    while (xopts_next(&a)) {
        if (strcmp(a.arg, "-h") == 0 || strcmp(a.arg, "--help") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (opts_is(&a, "--people")) {
            o->people_dir = xopts_value(&a);
        } else if (opts_is(&a, "--distractors")) {
            o->distractors_dir = xopts_value(&a);
        } else if (opts_is(&a, "--targets")) {
            o->targets = xopts_int(&a, 1, 1000000);
        } else if (opts_is(&a, "--runners")) {
            o->runners = xopts_int(&a, 1, 10000000);
        } else if (opts_is(&a, "--cameras")) {
            o->cameras = xopts_int(&a, 1, 100);
        } else if (opts_is(&a, "--seed")) {
            o->seed = xopts_u64(&a);
        } else if (opts_is(&a, "--models")) {
            o->model_dir = xopts_value(&a);
        } else if (opts_is(&a, "--threads")) {
            o->threads = xopts_int(&a, 1, 64);
        } else if (opts_is(&a, "--cache")) {
            o->cache_path = xopts_value(&a);
        } else if (opts_is(&a, "--no-cache")) {
            xopts_flag(&a);
            o->cache_path = NULL;
        } else if (opts_is(&a, "--db")) {
            o->db_path = xopts_value(&a);
        } else if (opts_is(&a, "--force")) {
            xopts_flag(&a);
            o->force = 1;
        } else if (opts_is(&a, "--reuse-db")) {
            xopts_flag(&a);
            o->reuse_db = 1;
        } else if (opts_is(&a, "--max-false")) {
            o->max_false = xopts_double(&a, 1e-9, 1e6);
        } else if (opts_is(&a, "--min-pace")) {
            o->min_pace = xopts_double(&a, 0.1, 24);
        } else if (opts_is(&a, "--no-expand")) {
            xopts_flag(&a);
            o->no_expand = 1;
        } else if (opts_is(&a, "--query-px")) {
            o->query_px = xopts_double(&a, 16, 200);
        } else if (opts_is(&a, "--operator")) {
            xopts_flag(&a);
            o->operator_ = 1;
        } else if (opts_is(&a, "--quiet")) {
            xopts_flag(&a);
            o->quiet = 1;
        } else if (opts_is(&a, "--verbose")) {
            xopts_flag(&a);
            o->verbose = 1;
        } else if (opts_is(&a, "--save-shots")) {
            o->shots_dir = xopts_value(&a);
        } else if (opts_is(&a, "--mode")) {
            const char *v = xopts_value(&a);
            if (strcmp(v, "plain") == 0)
                o->mode = MODE_PLAIN;
            else if (strcmp(v, "course") == 0)
                o->mode = MODE_COURSE;
            else if (strcmp(v, "both") == 0)
                o->mode = MODE_BOTH;
            else
                die("--mode '%s': expected course, plain or both", v);
        } else if (opts_is(&a, "--possible")) {
            xopts_flag(&a);
            o->possible = 1;
        } else if (opts_is(&a, "--cli")) {
            o->cli = xopts_value(&a);
        } else if (opts_is(&a, "--cli-runs")) {
            o->cli_runs = xopts_int(&a, 1, 100000);
        } else if (opts_is(&a, "--json")) {
            o->json_path = xopts_value(&a);
        } else {
            exit(opts_unknown(&a));
        }
    }
    if (!o->people_dir) die("missing --people DIR (see --help)");
    if (!o->model_dir) { /* build/VARIANT/bench/ is one level deeper than the CLI */
        static char dir[UTIL_PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 64);
        char *slash = n > 0 ? memrchr(dir, '/', (size_t)n) : NULL;
        struct stat st;
        if (slash) {
            snprintf(slash, 64, "/../../../models/face-api/model");
            if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) o->model_dir = dir;
        }
    }
    if (o->reuse_db && !o->db_path) die("--reuse-db needs --db FILE");
    if (o->reuse_db && o->force) die("--reuse-db keeps --db FILE: it takes no --force");
    if (o->runners && o->runners < o->targets)
        die("--runners %d is fewer than --targets %d (the targets are runners too)", o->runners,
            o->targets);
    if (o->cli && access(o->cli, X_OK) != 0)
        die("--cli %s: not an executable file (%s)", o->cli, strerror(errno));
}

/* ======================================================================== */
/* Identities and photos                                                    */
/* ======================================================================== */

enum face_status { FACE_UNKNOWN = 0, FACE_FOUND = 1, FACE_NONE = 2, FACE_UNREADABLE = 3 };

/* One photo and, once detected, its face. */
typedef struct photo {
    char *path;
    int status;   /* enum face_status */
    float box[4]; /* the largest face: x, y, w, h */
    int cache;    /* index of its record in the cache, -1 if none */
} photo;

/* One identity: a folder of --people or a photo of --distractors. */
typedef struct ident {
    char *name;     /* folder name, or the distractor's file name */
    int first, n;   /* photos[first .. first + n) */
    int age;        /* -1: unknown */
    int distractor; /* from --distractors */
    int query;      /* targets: index (0 .. n) of the query photo; -1 */
    int target;     /* 1: searched for */
    uint64_t order; /* seeded sort key (RNG_TARGET or RNG_ORDER) */
} ident;

typedef struct world {
    photo *photos;
    int n_photos, cap_photos;
    ident *ids;
    int n_ids, cap_ids;
} world;

/* Adds a photo; returns its index. */
static int add_photo(world *w, const char *path)
{
    if (w->n_photos == w->cap_photos) {
        w->cap_photos = w->cap_photos ? 2 * w->cap_photos : 1024;
        w->photos = xrealloc(w->photos, (size_t)w->cap_photos * sizeof *w->photos);
    }
    photo *p = &w->photos[w->n_photos];
    memset(p, 0, sizeof *p);
    p->path = xstrdup(path);
    p->cache = -1;
    return w->n_photos++;
}

/* Adds an identity; returns it. */
static ident *add_ident(world *w, const char *name)
{
    if (w->n_ids == w->cap_ids) {
        w->cap_ids = w->cap_ids ? 2 * w->cap_ids : 1024;
        w->ids = xrealloc(w->ids, (size_t)w->cap_ids * sizeof *w->ids);
    }
    ident *id = &w->ids[w->n_ids++];
    memset(id, 0, sizeof *id);
    id->name = xstrdup(name);
    id->first = w->n_photos;
    id->age = -1;
    id->query = -1;
    return id;
}

/* The age a UTKFace file name starts with ("23_1_0_2017...jpg"), or -1. */
static int age_of(const char *file)
{
    int age = 0, n = 0;
    if (sscanf(file, "%d_%n", &age, &n) != 1 || n == 0 || age < 0 || age > 130) return -1;
    return age;
}

/* Lists the identities of both folders (dies if one cannot be read). */
static void load_world(const options *o, world *w)
{
    int n_names;
    char **names = list_dir(o->people_dir, 1, &n_names);
    char dir[UTIL_PATH_MAX], path[UTIL_PATH_MAX];
    for (int i = 0; i < n_names; i++) {
        join_path(dir, sizeof dir, o->people_dir, names[i], "");
        int n_files;
        char **files = list_dir(dir, 0, &n_files);
        if (n_files) {
            ident *id = add_ident(w, names[i]);
            for (int j = 0; j < n_files; j++) {
                join_path(path, sizeof path, dir, files[j], "");
                add_photo(w, path);
            }
            id->n = n_files;
        }
        free_list(files, n_files);
    }
    free_list(names, n_names);
    if (!w->n_ids)
        die("%s: no person folder with .jpg photos (LFW layout: DIR/<name>/<name>_0001.jpg)",
            o->people_dir);
    if (o->distractors_dir) {
        char **files = list_dir(o->distractors_dir, 0, &n_names);
        if (!n_names) die("%s: no .jpg photo", o->distractors_dir);
        for (int i = 0; i < n_names; i++) {
            ident *id = add_ident(w, files[i]);
            join_path(path, sizeof path, o->distractors_dir, files[i], "");
            add_photo(w, path);
            id->n = 1;
            id->distractor = 1;
            id->age = age_of(files[i]);
        }
        free_list(files, n_names);
    }
    if (o->runners > w->n_ids)
        die("--runners %d: the folders hold only %d identities (%s%s%s): use --runners %d or "
            "fewer",
            o->runners, w->n_ids, o->people_dir, o->distractors_dir ? " and " : "",
            o->distractors_dir ? o->distractors_dir : "", w->n_ids);
}

/* ======================================================================== */
/* The cache                                                                */
/* ======================================================================== */

/* The result of one shot through the pipeline. */
typedef struct shot_result {
    uint64_t key;
    int found; /* 1: a face was kept and described */
    float box[4], score, quality;
    float desc[FT_DESCRIPTOR_DIM];
} shot_result;

/* The face of one photo. */
typedef struct photo_result {
    uint64_t key;
    int status; /* enum face_status (not FACE_UNKNOWN) */
    float box[4];
} photo_result;

/* 64-bit keys to indices, open addressing (key 0 is "empty": keys are made
** non-zero). */
typedef struct table {
    uint64_t *keys;
    int *vals;
    size_t cap, n;
} table;

/* The index stored for key, or -1. */
static int table_get(const table *t, uint64_t key)
{
    if (!t->cap) return -1;
    for (size_t i = key & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (t->keys[i] == key) return t->vals[i];
        if (!t->keys[i]) return -1;
    }
}

/* Stores key -> val unless key is there already (the first record wins). */
static void table_put(table *t, uint64_t key, int val)
{
    if (2 * (t->n + 1) > t->cap) {
        table g = { NULL, NULL, t->cap ? 2 * t->cap : 1024, 0 };
        g.keys = xcalloc(g.cap, sizeof *g.keys);
        g.vals = xcalloc(g.cap, sizeof *g.vals);
        for (size_t i = 0; i < t->cap; i++)
            if (t->keys[i]) table_put(&g, t->keys[i], t->vals[i]);
        free(t->keys), free(t->vals);
        *t = g;
    }
    size_t i = key & (t->cap - 1);
    for (; t->keys[i]; i = (i + 1) & (t->cap - 1))
        if (t->keys[i] == key) return;
    t->keys[i] = key, t->vals[i] = val;
    t->n++;
}

#define CACHE_MAGIC   "FTRSCACH"
#define CACHE_VERSION 1u
#define REC_PHOTO     1
#define REC_SHOT      2
#define PHOTO_PAYLOAD (8 + 4 + 16)
#define SHOT_PAYLOAD  (8 + 4 + 16 + 4 + 4 + 4 * FT_DESCRIPTOR_DIM)

typedef struct cache {
    const char *path; /* NULL: no cache */
    FILE *f;          /* open for appending (writable) */
    int writable;     /* 0: another run holds the lock, or no cache */
    shot_result *shots;
    int n_shots, cap_shots;
    table shot_index;
    photo_result *photos;
    int n_photos, cap_photos;
    table photo_index;
    pthread_mutex_t mu; /* appends from the workers */
    long write_errors;
} cache;

/* Serialises a photo result into b (PHOTO_PAYLOAD bytes). */
static void pack_photo(const photo_result *r, unsigned char *b)
{
    int32_t st = r->status;
    memcpy(b, &r->key, 8);
    memcpy(b + 8, &st, 4);
    memcpy(b + 12, r->box, 16);
}

/* Reads a photo result from b. */
static void unpack_photo(const unsigned char *b, photo_result *r)
{
    int32_t st;
    memcpy(&r->key, b, 8);
    memcpy(&st, b + 8, 4);
    memcpy(r->box, b + 12, 16);
    r->status = st;
}

/* Serialises a shot result into b (SHOT_PAYLOAD bytes). */
static void pack_shot(const shot_result *r, unsigned char *b)
{
    int32_t found = r->found;
    memcpy(b, &r->key, 8);
    memcpy(b + 8, &found, 4);
    memcpy(b + 12, r->box, 16);
    memcpy(b + 28, &r->score, 4);
    memcpy(b + 32, &r->quality, 4);
    memcpy(b + 36, r->desc, 4 * FT_DESCRIPTOR_DIM);
}

/* Reads a shot result from b. */
static void unpack_shot(const unsigned char *b, shot_result *r)
{
    int32_t found;
    memcpy(&r->key, b, 8);
    memcpy(&found, b + 8, 4);
    memcpy(r->box, b + 12, 16);
    memcpy(&r->score, b + 28, 4);
    memcpy(&r->quality, b + 32, 4);
    memcpy(r->desc, b + 36, 4 * FT_DESCRIPTOR_DIM);
    r->found = found;
}

/* The checksum of a record's payload. */
static uint32_t payload_check(int type, const unsigned char *b, size_t n)
{
    uint64_t h = hash_bytes(HASH_INIT, &type, sizeof type);
    h = hash_bytes(h, b, n);
    return (uint32_t)(h ^ (h >> 32));
}

/* Adds a photo result to the tables (not to the file). */
static int cache_add_photo(cache *c, const photo_result *r)
{
    if (c->n_photos == c->cap_photos) {
        c->cap_photos = c->cap_photos ? 2 * c->cap_photos : 1024;
        c->photos = xrealloc(c->photos, (size_t)c->cap_photos * sizeof *c->photos);
    }
    c->photos[c->n_photos] = *r;
    table_put(&c->photo_index, r->key, c->n_photos);
    return c->n_photos++;
}

/* Adds a shot result to the tables (not to the file). */
static int cache_add_shot(cache *c, const shot_result *r)
{
    if (c->n_shots == c->cap_shots) {
        c->cap_shots = c->cap_shots ? 2 * c->cap_shots : 4096;
        c->shots = xrealloc(c->shots, (size_t)c->cap_shots * sizeof *c->shots);
    }
    c->shots[c->n_shots] = *r;
    table_put(&c->shot_index, r->key, c->n_shots);
    return c->n_shots++;
}

/* Appends one record to the cache file (any thread). A failed write is
** counted and warned about once; the run goes on without it. */
static void cache_append(cache *c, int type, const void *result)
{
    if (!c->writable) return;
    unsigned char rec[8 + SHOT_PAYLOAD];
    size_t n = type == REC_SHOT ? SHOT_PAYLOAD : PHOTO_PAYLOAD;
    if (type == REC_SHOT)
        pack_shot(result, rec + 8);
    else
        pack_photo(result, rec + 8);
    uint32_t check = payload_check(type, rec + 8, n);
    memset(rec, 0, 4);
    rec[0] = (unsigned char)type;
    memcpy(rec + 4, &check, 4);
    pthread_mutex_lock(&c->mu);
    if (fwrite(rec, 1, 8 + n, c->f) != 8 + n || fflush(c->f) != 0) {
        if (!c->write_errors++)
            fprintf(stderr, PROG ": warning: cannot write to cache %s: %s\n", c->path,
                    strerror(errno));
    }
    pthread_mutex_unlock(&c->mu);
}

/* Opens (or creates) the cache at path and loads its records; a damaged
** tail is cut off with a warning, a file of another format is started
** afresh. Without the lock (another run writes it) the records are read
** and nothing is written. */
static void cache_open(cache *c, const char *path, int quiet)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->path = path;
    if (!path) return;
    char dir[UTIL_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        mkdir_p(dir);
    }
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        die("cannot open cache %s: %s (--no-cache runs without one)", path, strerror(errno));
    c->writable = flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (!c->writable)
        fprintf(stderr, PROG ": warning: cache %s is in use by another run: reading it only\n",
                path);
    FILE *f = fdopen(fd, c->writable ? "r+b" : "rb");
    if (!f) die("cannot open cache %s: %s", path, strerror(errno));
    unsigned char head[16];
    size_t got = fread(head, 1, sizeof head, f);
    uint32_t version = 0;
    if (got == sizeof head) memcpy(&version, head + 8, 4);
    long good = 0, records = 0;
    if (got == sizeof head && memcmp(head, CACHE_MAGIC, 8) == 0 && version == CACHE_VERSION) {
        good = sizeof head;
        unsigned char rec[8 + SHOT_PAYLOAD];
        for (;;) {
            size_t n = fread(rec, 1, 8, f);
            if (n == 0 && feof(f)) break;
            int type = n == 8 ? rec[0] : 0;
            size_t len = type == REC_SHOT ? SHOT_PAYLOAD : type == REC_PHOTO ? PHOTO_PAYLOAD : 0;
            uint32_t check;
            memcpy(&check, rec + 4, 4);
            if (!len || fread(rec + 8, 1, len, f) != len ||
                payload_check(type, rec + 8, len) != check) {
                fprintf(stderr,
                        PROG ": warning: cache %s: damaged tail after %ld records (byte %ld) "
                             "ignored\n",
                        path, records, good);
                break;
            }
            if (type == REC_SHOT) {
                shot_result r;
                unpack_shot(rec + 8, &r);
                cache_add_shot(c, &r);
            } else {
                photo_result r;
                unpack_photo(rec + 8, &r);
                cache_add_photo(c, &r);
            }
            records++;
            good += (long)(8 + len);
        }
    } else if (got > 0) {
        fprintf(stderr,
                PROG ": warning: cache %s is not a cache of this version: starting a new one\n",
                path);
    }
    if (!c->writable) {
        fclose(f);
        return;
    }
    if (good == 0) {
        unsigned char h[16] = { 0 };
        memcpy(h, CACHE_MAGIC, 8);
        uint32_t v = CACHE_VERSION;
        memcpy(h + 8, &v, 4);
        if (ftruncate(fd, 0) != 0 || fseek(f, 0, SEEK_SET) != 0 || fwrite(h, 1, 16, f) != 16 ||
            fflush(f) != 0)
            die("cannot write cache %s: %s", path, strerror(errno));
        good = 16;
    } else if (ftruncate(fd, good) != 0) {
        die("cannot write cache %s: %s", path, strerror(errno));
    }
    if (fseek(f, good, SEEK_SET) != 0) die("cannot write cache %s: %s", path, strerror(errno));
    c->f = f;
    if (!quiet && records)
        fprintf(stderr, PROG ": cache %s: %d shots, %d photos\n", path, c->n_shots, c->n_photos);
}

/* Closes the file (and so releases the lock). */
static void cache_close(cache *c)
{
    if (c->f) fclose(c->f);
    c->f = NULL;
}

/* ======================================================================== */
/* Rendering a shot                                                         */
/* ======================================================================== */

/* Everything that makes one shot's pixels from its source photo. */
typedef struct render {
    int side;           /* canvas side, px */
    double face_h;      /* face box height in the canvas, px */
    double roll_deg;    /* head roll */
    double squeeze;     /* horizontal scale relative to vertical */
    double blur_px;     /* horizontal box blur length */
    double gain;        /* brightness factor */
    double contrast;    /* around mid-grey */
    double noise_sigma; /* Gaussian noise, grey levels */
    uint64_t noise_seed;
    int quality; /* JPEG quality */
} render;

/* The shot's cache key: the space, the photo, its face and every render
** parameter (invariant 3). Never 0. */
static uint64_t shot_key(const char *space, const photo *p, const render *r)
{
    int v = RENDER_VERSION;
    uint64_t h = hash_bytes(HASH_INIT, "shot", 4);
    h = hash_bytes(h, &v, sizeof v);
    h = hash_bytes(h, space, strlen(space) + 1);
    h = hash_bytes(h, p->path, strlen(p->path) + 1);
    h = hash_bytes(h, p->box, sizeof p->box);
    h = hash_bytes(h, &r->side, sizeof r->side);
    double d[8] = { r->face_h, r->roll_deg, r->squeeze,     r->blur_px,
                    r->gain,   r->contrast, r->noise_sigma, (double)r->quality };
    h = hash_bytes(h, d, sizeof d);
    h = hash_bytes(h, &r->noise_seed, sizeof r->noise_seed);
    return h ? h : 1;
}

/* A photo's cache key (its face depends on the detector only, but the
** space names the pipeline). Never 0. */
static uint64_t photo_key(const char *space, const char *path)
{
    int v = RENDER_VERSION;
    uint64_t h = hash_bytes(HASH_INIT, "photo", 5);
    h = hash_bytes(h, &v, sizeof v);
    h = hash_bytes(h, space, strlen(space) + 1);
    h = hash_bytes(h, path, strlen(path) + 1);
    return h ? h : 1;
}

/* The face box expected in the canvas of r for a source face box. */
static void expected_box(const render *r, const float src[4], double out[4])
{
    double k = r->face_h / src[3], w = src[2] * k * r->squeeze;
    out[0] = r->side / 2.0 - w / 2, out[1] = r->side / 2.0 - r->face_h / 2;
    out[2] = w, out[3] = r->face_h;
}

/* Intersection over union of two x, y, w, h boxes. */
static double iou(const double a[4], const double b[4])
{
    double x0 = fmax(a[0], b[0]), y0 = fmax(a[1], b[1]);
    double x1 = fmin(a[0] + a[2], b[0] + b[2]), y1 = fmin(a[1] + a[3], b[1] + b[3]);
    double inter = fmax(0, x1 - x0) * fmax(0, y1 - y0);
    double uni = a[2] * a[3] + b[2] * b[3] - inter;
    return uni > 0 ? inter / uni : 0;
}

/* Standard normal quantiles at (i + 0.5) / 2^NOISE_BITS: noise is drawn as
** table entries, 5 per 64-bit draw (a normal() per pixel and channel cost
** as much as the rest of the rendering). Filled by noise_init. */
static float g_noise[1 << NOISE_BITS];

/* The inverse of the standard normal CDF (bisection on erfc): for the table. */
static double normal_quantile(double p)
{
    double lo = -10, hi = 10;
    for (int i = 0; i < 100; i++) {
        double mid = (lo + hi) / 2;
        if (0.5 * erfc(-mid / M_SQRT2) < p)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

/* Fills g_noise (once, before any thread renders). */
static void noise_init(void)
{
    for (int i = 0; i < 1 << NOISE_BITS; i++)
        g_noise[i] = (float)normal_quantile((i + 0.5) / (1 << NOISE_BITS));
}

/* Renders the shot r of src (face box box) and returns it after its JPEG
** round trip (caller destroys). Deterministic: the same arguments give the
** same pixels (thumbnails are made by rendering again). */
static ft_image *render_shot(const ft_image *src, const float box[4], const render *r,
                             const char *name)
{
    const int S = r->side;
    float *buf = xcalloc((size_t)S * S * 3, sizeof *buf);
    double k = r->face_h / box[3], kx = k * r->squeeze;
    double bcx = box[0] + box[2] / 2.0, bcy = box[1] + box[3] / 2.0, c = S / 2.0;
    double roll = r->roll_deg * M_PI / 180, cr = cos(roll), sr = sin(roll);
    /* supersampled when shrinking: samples at most 2 source pixels apart (the
    ** bilinear kernel spans 2 pixels) */
    int ss = (int)clampd(ceil(0.5 / fmin(k, kx)), 1, 4);
    for (int y = 0; y < S; y++) {
        for (int x = 0; x < S; x++) {
            float acc[3] = { 0, 0, 0 }, px[3];
            for (int j = 0; j < ss; j++) {
                for (int i = 0; i < ss; i++) {
                    double dx = x + (i + 0.5) / ss - c, dy = y + (j + 0.5) / ss - c;
                    double ux = cr * dx + sr * dy, uy = -sr * dx + cr * dy;
                    sample_bilinear(src, bcx + ux / kx, bcy + uy / k, px);
                    for (int q = 0; q < 3; q++)
                        acc[q] += px[q];
                }
            }
            float *o = buf + 3 * ((size_t)y * S + x);
            for (int q = 0; q < 3; q++)
                o[q] = acc[q] / (ss * ss);
        }
    }
    /* horizontal motion blur: a box of blur_px with fractional ends */
    if (r->blur_px > 0.5) {
        double half = r->blur_px / 2;
        int reach = (int)ceil(half);
        float *row = xcalloc((size_t)S * 3, sizeof *row);
        for (int y = 0; y < S; y++) {
            float *line = buf + 3 * (size_t)y * S;
            memcpy(row, line, (size_t)S * 3 * sizeof *row);
            for (int x = 0; x < S; x++) {
                double acc[3] = { 0, 0, 0 }, wsum = 0;
                for (int d = -reach; d <= reach; d++) {
                    double w = clampd(half - fabs((double)d) + 0.5, 0, 1);
                    if (w <= 0) continue;
                    int xx = x + d < 0 ? 0 : x + d >= S ? S - 1 : x + d;
                    for (int q = 0; q < 3; q++)
                        acc[q] += w * row[3 * xx + q];
                    wsum += w;
                }
                for (int q = 0; q < 3; q++)
                    line[3 * x + q] = (float)(acc[q] / wsum);
            }
        }
        free(row);
    }
    ft_image *img;
    if (ft_image_create(S, S, &img) != FT_OK) die("out of memory");
    rng nr = { r->noise_seed };
    uint64_t bits = 0;
    int left = 0;
    const uint64_t mask = (1u << NOISE_BITS) - 1;
    for (size_t i = 0; i < (size_t)S * S * 3; i++) {
        if (!left) bits = rng_next(&nr), left = 64 / NOISE_BITS;
        double v = ((buf[i] - 128.0) * r->contrast + 128.0) * r->gain;
        img->rgb[i] = clamp_u8(v + r->noise_sigma * g_noise[bits & mask]);
        bits >>= NOISE_BITS, left--;
    }
    free(buf);
    unsigned char *jpg;
    size_t len;
    char err[256];
    if (ft_image_encode_jpeg(img, r->quality, &jpg, &len, err, sizeof err) != FT_OK)
        die("%s: %s", name, err);
    ft_image_destroy(img);
    ft_image *out;
    if (ft_image_decode(jpg, len, name, 0, &out, err, sizeof err) != FT_OK)
        die("%s: %s", name, err);
    ft_store_free(jpg);
    return out;
}

/* ======================================================================== */
/* The pipeline on photos and shots                                         */
/* ======================================================================== */

/* Opens an engine with one thread; dies with the library's message. */
static ft_engine *open_engine(const options *o)
{
    char err[512];
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = o->model_dir;
    ep.n_threads = 1;
    ft_engine *eng;
    if (ft_engine_open(&ep, &eng, err, sizeof err) != FT_OK) die("%s", err);
    return eng;
}

/* The largest face the detector finds in img, into box; 0 if none. */
static int largest_face(ft_engine *eng, const ft_image *img, const char *path, float box[4])
{
    ft_detect_params dp = ft_detect_default_params();
    dp.with_landmarks = 0, dp.with_descriptor = 0;
    ft_face faces[MAX_FACES];
    int n = 0;
    if (ft_engine_detect(eng, img, &dp, faces, MAX_FACES, &n) != FT_OK)
        die("%s: %s", path, ft_engine_errmsg(eng));
    if (n > MAX_FACES) n = MAX_FACES;
    int best = -1;
    for (int i = 0; i < n; i++)
        if (best < 0 || faces[i].box[2] * faces[i].box[3] > faces[best].box[2] * faces[best].box[3])
            best = i;
    if (best < 0) return 0;
    for (int k = 0; k < 4; k++)
        box[k] = (float)faces[best].box[k];
    return 1;
}

/* Finds a photo's face (DESIGN, people): the photo, then the photo padded. */
static void detect_photo(ft_engine *eng, const char *path, photo_result *out)
{
    char err[512];
    ft_image *img;
    memset(out->box, 0, sizeof out->box);
    if (ft_image_load(path, 0, &img, err, sizeof err) != FT_OK) {
        out->status = FACE_UNREADABLE;
        return;
    }
    out->status = FACE_FOUND;
    if (largest_face(eng, img, path, out->box)) {
        ft_image_destroy(img);
        return;
    }
    int pad = (img->width > img->height ? img->width : img->height) / 2;
    ft_image *big;
    if (ft_image_create(img->width + 2 * pad, img->height + 2 * pad, &big) != FT_OK)
        die("out of memory");
    memset(big->rgb, 128, (size_t)big->width * big->height * 3);
    for (int y = 0; y < img->height; y++)
        memcpy(big->rgb + 3 * ((size_t)(y + pad) * big->width + pad),
               img->rgb + 3 * (size_t)y * img->width, (size_t)img->width * 3);
    if (largest_face(eng, big, path, out->box)) {
        out->box[0] -= pad, out->box[1] -= pad;
    } else {
        out->status = FACE_NONE;
    }
    ft_image_destroy(big);
    ft_image_destroy(img);
}

/* One shot through the pipeline (DESIGN, shots) into out (key set by the
** caller). */
static void run_shot(ft_engine *eng, const photo *p, const render *r, shot_result *out)
{
    char err[512];
    ft_image *src;
    if (ft_image_load(p->path, 0, &src, err, sizeof err) != FT_OK) die("%s", err);
    ft_image *img = render_shot(src, p->box, r, p->path);
    ft_image_destroy(src);
    ft_detect_params dp = ft_detect_default_params();
    dp.with_descriptor = 0; /* only the face kept is described */
    ft_face faces[MAX_FACES];
    int n = 0;
    if (ft_engine_detect(eng, img, &dp, faces, MAX_FACES, &n) != FT_OK)
        die("%s (shot): %s", p->path, ft_engine_errmsg(eng));
    if (n > MAX_FACES) n = MAX_FACES;
    double want[4];
    expected_box(r, p->box, want);
    double cx = want[0] + want[2] / 2, cy = want[1] + want[3] / 2, best_d = INFINITY;
    int best = -1;
    for (int i = 0; i < n; i++) {
        const double *b = faces[i].box;
        if (!faces[i].has_landmarks || iou(b, want) < MIN_IOU) continue;
        double d = hypot(b[0] + b[2] / 2 - cx, b[1] + b[3] / 2 - cy);
        if (d < best_d) best_d = d, best = i;
    }
    out->found = 0;
    memset(out->box, 0, sizeof out->box);
    out->score = out->quality = 0;
    memset(out->desc, 0, sizeof out->desc);
    if (best >= 0) {
        ft_face *f = &faces[best];
        ft_detect_params full = ft_detect_default_params();
        if (ft_engine_describe(eng, img, &full, f) != FT_OK)
            die("%s (shot): %s", p->path, ft_engine_errmsg(eng));
        if (f->has_descriptor) {
            out->found = 1;
            for (int k = 0; k < 4; k++)
                out->box[k] = (float)f->box[k];
            out->score = (float)f->score;
            out->quality = ft_face_quality(img, f);
            memcpy(out->desc, f->descriptor, sizeof out->desc);
        }
    }
    ft_image_destroy(img);
}

/* ======================================================================== */
/* Workers                                                                  */
/* ======================================================================== */

/* A parallel loop over items 0 .. n: each worker takes the next item. */
typedef struct work {
    const options *o;
    int n;
    int need_engine;
    void (*fn)(struct work *w, ft_engine *eng, int item);
    void *ctx;
    atomic_int next, done;
    atomic_llong cpu_ns; /* summed thread CPU time */
} work;

/* CPU time of the calling thread, ns. */
static long long thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A worker: its own engine (if needed), items until none is left. */
static void *worker(void *arg)
{
    work *w = arg;
    long long t0 = thread_cpu_ns();
    ft_engine *eng = w->need_engine ? open_engine(w->o) : NULL;
    for (;;) {
        int i = atomic_fetch_add(&w->next, 1);
        if (i >= w->n) break;
        w->fn(w, eng, i);
        atomic_fetch_add(&w->done, 1);
    }
    ft_engine_close(eng);
    atomic_fetch_add(&w->cpu_ns, thread_cpu_ns() - t0);
    return NULL;
}

/* Progress on stderr: a bar on a terminal, else a line every ~10%. */
typedef struct progress {
    const char *what;
    int total, offset; /* items done before this work (cache hits) */
    int tty, quiet, last_decile;
    double t0;
} progress;

/* Shows done of the work's items. */
static void progress_show(progress *p, int done, int final)
{
    if (p->quiet || p->total <= 0) return;
    double el = now_s() - p->t0, rate = el > 0 ? done / el : 0;
    int all = p->offset + done;
    int left = p->total - all;
    double eta = rate > 0 ? left / rate : 0;
    if (p->tty) {
        int width = 30, fill = (int)((double)all / p->total * width);
        fprintf(stderr, "\r" PROG ": %s [%.*s%*s] %d/%d %.1f/s ETA %.0f s ", p->what, fill,
                "##############################", width - fill, "", all, p->total, rate, eta);
        if (final) fputc('\n', stderr);
    } else {
        int decile = (int)(10.0 * all / p->total);
        if (decile > p->last_decile || (final && all < p->total)) {
            p->last_decile = decile;
            fprintf(stderr, PROG ": %s %d/%d (%.0f%%), %.1f/s, ETA %.0f s\n", p->what, all,
                    p->total, 100.0 * all / p->total, rate, eta);
        }
    }
}

/* Runs w on o->threads workers (never more than items) and reports. */
static void run_work(work *w, progress *pr)
{
    int nt = w->o->threads < w->n ? w->o->threads : w->n;
    atomic_init(&w->next, 0);
    atomic_init(&w->done, 0);
    atomic_init(&w->cpu_ns, 0);
    if (pr)
        pr->t0 = now_s(), pr->last_decile = (int)(10.0 * pr->offset / (pr->total ? pr->total : 1));
    if (nt <= 0) {
        if (pr) progress_show(pr, 0, 1);
        return;
    }
    pthread_t *t = xcalloc(nt, sizeof *t);
    for (int i = 0; i < nt; i++)
        if (pthread_create(&t[i], NULL, worker, w) != 0) die("cannot start a thread");
    while (pr && atomic_load(&w->done) < w->n) {
        struct timespec ts = { 0, 250000000 };
        nanosleep(&ts, NULL);
        progress_show(pr, atomic_load(&w->done), 0);
    }
    for (int i = 0; i < nt; i++)
        pthread_join(t[i], NULL);
    if (pr) progress_show(pr, w->n, 1);
    free(t);
}

/* ======================================================================== */
/* Runners, course, passes, shots                                           */
/* ======================================================================== */

typedef struct runner {
    int id;          /* identity */
    int kind;        /* 0 runner, 1 child, 2 walker */
    double pace_kmh; /* at the start */
    double fatigue;  /* fraction the pace falls by at the finish */
    int wave;
    double start_s; /* crossing of the start line, s after the gun */
    int n_use;      /* photos with a face to draw passes from, in cycle order */
    int *use;       /* photo indices (global) */
    int n_cand;     /* candidate photos (non-query, cycle order) */
    int *cand;
} runner;

typedef struct pass {
    int runner, camera;
    double t_s; /* at the camera, s after the gun */
    int photo;  /* global photo index; -1: no photo with a face */
    int first_shot, n_shots;
    int described; /* shots with a descriptor */
    int best;      /* best described shot (global index), -1 */
} pass;

typedef struct shot {
    int pass;
    double t_s;
    render r;
    uint64_t key;
    int res; /* index in the cache's shots */
} shot;

typedef struct race {
    options o;
    world w;
    cache c;
    const char *space;
    double km[100];
    char cam_id[100][FT_CAMERA_ID_MAX];
    runner *runners;
    int n_runners;
    int *targets; /* runner indices of the targets (the first T runners) */
    int n_targets;
    pass *passes; /* [runner * cameras + camera] */
    int n_passes;
    shot *shots;
    int n_shots;
    /* counters */
    int unreadable, faceless_photos, faceless_runners, children;
    long cache_hits, cache_misses, photo_hits, photo_misses;
    double shots_wall_s, describe_cpu_s, photos_wall_s;
    int64_t gun_us;
} race;

/* A photo's face: from the cache, else detected now (main thread). */
static void photo_face(race *R, ft_engine *eng, int pi)
{
    photo *p = &R->w.photos[pi];
    if (p->status != FACE_UNKNOWN) return;
    uint64_t key = photo_key(R->space, p->path);
    int k = table_get(&R->c.photo_index, key);
    photo_result res;
    if (k >= 0) {
        res = R->c.photos[k];
        R->photo_hits++;
    } else {
        res.key = key;
        detect_photo(eng, p->path, &res);
        cache_append(&R->c, REC_PHOTO, &res);
        k = cache_add_photo(&R->c, &res);
        R->photo_misses++;
    }
    p->status = res.status;
    memcpy(p->box, res.box, sizeof p->box);
    p->cache = k;
}

/* Sort key order of identities (ties by name). */
static const ident *g_ids; /* qsort context (main thread only) */

/* qsort: identities by their seeded key, then name. */
static int cmp_ident_order(const void *a, const void *b)
{
    const ident *x = &g_ids[*(const int *)a], *y = &g_ids[*(const int *)b];
    if (x->order != y->order) return x->order < y->order ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Picks the targets and their query photos (DESIGN, targets). */
static void choose_targets(race *R, ft_engine *eng)
{
    world *w = &R->w;
    int *cand = xcalloc(w->n_ids, sizeof *cand), n = 0;
    for (int i = 0; i < w->n_ids; i++) {
        if (w->ids[i].distractor || w->ids[i].n < 2) continue;
        rng r = rng_for_name(R->o.seed, RNG_TARGET, w->ids[i].name);
        w->ids[i].order = rng_next(&r);
        cand[n++] = i;
    }
    g_ids = w->ids;
    qsort(cand, n, sizeof *cand, cmp_ident_order);
    R->targets = xcalloc(R->o.targets, sizeof *R->targets);
    int got = 0;
    for (int k = 0; k < n && got < R->o.targets; k++) {
        ident *id = &w->ids[cand[k]];
        rng r = rng_for_name(R->o.seed, RNG_QUERY, id->name);
        int q0 = uniform_int(&r, id->n), query = -1, other = 0;
        for (int j = 0; j < id->n && !other; j++) {
            int v = (q0 + j) % id->n;
            photo_face(R, eng, id->first + v);
            if (R->w.photos[id->first + v].status != FACE_FOUND) continue;
            if (query < 0)
                query = v;
            else
                other = 1;
        }
        if (!other) continue;
        id->query = query;
        id->target = 1;
        R->targets[got++] = cand[k]; /* identity for now; runner index later */
    }
    if (got < R->o.targets)
        die("%s has only %d people with at least 2 photos in which a face is found: use "
            "--targets %d or fewer",
            R->o.people_dir, got, got);
    R->n_targets = got;
    free(cand);
}

/* The runners: the targets, then other identities in seeded order. */
static void choose_runners(race *R)
{
    world *w = &R->w;
    int want = R->o.runners ? R->o.runners : w->n_ids;
    int *others = xcalloc(w->n_ids, sizeof *others), n = 0;
    for (int i = 0; i < w->n_ids; i++) {
        if (w->ids[i].target) continue;
        rng r = rng_for_name(R->o.seed, RNG_ORDER, w->ids[i].name);
        w->ids[i].order = rng_next(&r);
        others[n++] = i;
    }
    g_ids = w->ids;
    qsort(others, n, sizeof *others, cmp_ident_order);
    R->runners = xcalloc(want, sizeof *R->runners);
    R->n_runners = want;
    for (int i = 0; i < want; i++)
        R->runners[i].id = i < R->n_targets ? R->targets[i] : others[i - R->n_targets];
    for (int i = 0; i < R->n_targets; i++)
        R->targets[i] = i;
    free(others);
}

/* Pace, fatigue, wave and start of every runner (DESIGN, course). */
static void plan_runners(race *R)
{
    for (int i = 0; i < R->n_runners; i++) {
        runner *ru = &R->runners[i];
        const ident *id = &R->w.ids[ru->id];
        rng r = rng_for_name(R->o.seed, RNG_RUNNER, id->name);
        double u_walk = uniform(&r, 0, 1), child = uniform(&r, 5, 9), walk = uniform(&r, 4, 6.5);
        double run = clampd(10.5 * exp(0.22 * normal(&r)), 6, 20);
        ru->fatigue = uniform(&r, 0, 0.3);
        double declared_noise = exp(0.08 * normal(&r));
        double start = uniform(&r, 0, WAVE_SPREAD_S);
        if (id->age >= 0 && id->age < CHILD_AGE)
            ru->kind = 1, ru->pace_kmh = child;
        else if (u_walk < 0.03)
            ru->kind = 2, ru->pace_kmh = walk;
        else
            ru->kind = 0, ru->pace_kmh = run;
        R->children += ru->kind == 1;
        double declared = ru->pace_kmh * declared_noise;
        ru->wave = declared >= 12.5 ? 0 : declared >= 10.5 ? 1 : declared >= 9 ? 2 : 3;
        ru->start_s = ru->wave * WAVE_GAP_S + start;
    }
}

/* Seconds to run from x0 to x1 km at pace v0 x (1 - f x / L) x s. */
static double segment_s(double x0, double x1, double v0, double f, double s)
{
    const double L = COURSE_KM;
    if (f < 1e-9) return (x1 - x0) / (v0 * s) * 3600;
    return L / (f * v0 * s) * log((1 - f * x0 / L) / (1 - f * x1 / L)) * 3600;
}

/* The candidate photos of every runner (non-query, cycled from a seeded
** offset, at most one per camera). */
static void plan_photos(race *R)
{
    int K = R->o.cameras;
    for (int i = 0; i < R->n_runners; i++) {
        runner *ru = &R->runners[i];
        const ident *id = &R->w.ids[ru->id];
        int n_nq = id->n - (id->query >= 0);
        ru->cand = xcalloc(n_nq, sizeof *ru->cand);
        rng r = rng_for_name(R->o.seed, RNG_PHOTO, id->name);
        int off = uniform_int(&r, n_nq);
        for (int j = 0; j < n_nq; j++) {
            int v = (off + j) % n_nq;
            if (id->query >= 0 && v >= id->query) v++; /* skip the query photo */
            ru->cand[j] = id->first + v;
        }
        ru->n_cand = n_nq;
        ru->use = xcalloc(K, sizeof *ru->use);
    }
}

/* The photos whose face the workers find, and their results by item. */
typedef struct photo_work {
    race *R;
    int *todo;         /* photo indices */
    photo_result *out; /* results, by item */
} photo_work;

/* Item fn: detects the face of one photo (workers). */
static void photo_item(work *w, ft_engine *eng, int item)
{
    photo_work *pw = w->ctx;
    const char *path = pw->R->w.photos[pw->todo[item]].path;
    photo_result *res = &pw->out[item];
    res->key = photo_key(pw->R->space, path);
    detect_photo(eng, path, res);
    cache_append(&pw->R->c, REC_PHOTO, res);
}

/* Finds the faces of the runners' candidate photos: the first K of each
** runner's cycle in parallel, then, serially, further ones for runners short
** of K photos with a face. */
static void detect_photos(race *R, ft_engine *eng)
{
    int K = R->o.cameras;
    int *todo = xcalloc(R->w.n_photos, sizeof *todo), n = 0;
    char *queued = xcalloc(R->w.n_photos, 1);
    for (int i = 0; i < R->n_runners; i++) {
        runner *ru = &R->runners[i];
        for (int j = 0; j < ru->n_cand && j < K; j++) {
            int pi = ru->cand[j];
            photo *p = &R->w.photos[pi];
            if (p->status != FACE_UNKNOWN || queued[pi]) continue;
            int k = table_get(&R->c.photo_index, photo_key(R->space, p->path));
            if (k >= 0) {
                p->status = R->c.photos[k].status;
                memcpy(p->box, R->c.photos[k].box, sizeof p->box);
                p->cache = k;
                R->photo_hits++;
                continue;
            }
            queued[pi] = 1;
            todo[n++] = pi;
        }
    }
    photo_work pw = { R, todo, xcalloc(n, sizeof(photo_result)) };
    work w = { .o = &R->o, .n = n, .need_engine = 1, .fn = photo_item, .ctx = &pw };
    progress pr = { "photos", n, 0, isatty(2), R->o.quiet || n == 0, 0, 0 };
    double t0 = now_s();
    run_work(&w, &pr);
    R->photos_wall_s = now_s() - t0;
    for (int k = 0; k < n; k++) {
        photo *p = &R->w.photos[todo[k]];
        p->status = pw.out[k].status;
        memcpy(p->box, pw.out[k].box, sizeof p->box);
        p->cache = cache_add_photo(&R->c, &pw.out[k]);
    }
    R->photo_misses += n;
    free(pw.out);
    free(todo);
    free(queued);
    /* the photos with a face, in cycle order; more if fewer than K */
    for (int i = 0; i < R->n_runners; i++) {
        runner *ru = &R->runners[i];
        for (int j = 0; j < ru->n_cand && ru->n_use < K; j++) {
            photo_face(R, eng, ru->cand[j]);
            if (R->w.photos[ru->cand[j]].status == FACE_FOUND) ru->use[ru->n_use++] = ru->cand[j];
        }
        R->faceless_runners += ru->n_use == 0;
    }
    for (int i = 0; i < R->w.n_photos; i++) {
        R->unreadable += R->w.photos[i].status == FACE_UNREADABLE;
        R->faceless_photos += R->w.photos[i].status == FACE_NONE;
    }
}

/* Passes and shots (DESIGN, course and shots). */
static void plan_passes(race *R)
{
    int K = R->o.cameras;
    R->n_passes = R->n_runners * K;
    R->passes = xcalloc(R->n_passes, sizeof *R->passes);
    int cap = 0;
    for (int i = 0; i < R->n_runners; i++) {
        runner *ru = &R->runners[i];
        const ident *id = &R->w.ids[ru->id];
        rng sr = rng_for_name(R->o.seed, RNG_SEGMENT, id->name);
        uint64_t nh = str_hash(id->name);
        double t = ru->start_s, x = 0;
        for (int c = 0; c < K; c++) {
            double s = uniform(&sr, 0.95, 1.05);
            t += segment_s(x, R->km[c], ru->pace_kmh, ru->fatigue, s);
            x = R->km[c];
            pass *p = &R->passes[(size_t)i * K + c];
            p->runner = i, p->camera = c, p->t_s = t, p->best = -1;
            p->photo = ru->n_use ? ru->use[c % ru->n_use] : -1;
            rng pr = rng_for(R->o.seed, RNG_PASS, nh ^ (0x9E3779B97F4A7C15ull * (uint64_t)(c + 1)));
            int n_shots = 1 + uniform_int(&pr, MAX_SHOTS);
            double face_h = 30 * exp(uniform(&pr, 0, log(120.0 / 30)));
            if (p->photo < 0) continue; /* never seen: no shot */
            p->first_shot = R->n_shots;
            p->n_shots = n_shots;
            double ts = t;
            for (int j = 0; j < n_shots; j++) {
                if (R->n_shots == cap) {
                    cap = cap ? 2 * cap : 4096;
                    R->shots = xrealloc(R->shots, (size_t)cap * sizeof *R->shots);
                }
                shot *sh = &R->shots[R->n_shots++];
                memset(sh, 0, sizeof *sh);
                rng q = rng_for(R->o.seed, RNG_SHOT,
                                nh ^ (0xD1B54A32D192ED03ull * (uint64_t)(c * MAX_SHOTS + j + 1)));
                double gap = uniform(&q, 0.3, 1.5); /* after the shot before */
                if (j) ts += gap;
                sh->pass = (int)(p - R->passes);
                sh->t_s = ts;
                render *r = &sh->r;
                r->face_h = face_h * uniform(&q, 0.85, 1.15);
                r->side = (int)fmax(64, lround(2.4 * r->face_h));
                r->roll_deg = uniform(&q, -10, 10);
                r->squeeze = uniform(&q, 0.85, 1.0);
                r->blur_px = uniform(&q, 0, 4);
                r->gain = uniform(&q, 0.8, 1.2);
                r->contrast = uniform(&q, 0.8, 1.2);
                r->noise_sigma = uniform(&q, 2, 6);
                r->noise_seed = rng_next(&q);
                r->quality = 50 + uniform_int(&q, 41);
                sh->key = shot_key(R->space, &R->w.photos[p->photo], r);
                sh->res = -1;
            }
        }
    }
}

/* The shots the workers run, and their results by item. */
typedef struct shot_work {
    race *R;
    int *todo;        /* shot indices */
    shot_result *out; /* results, by item */
} shot_work;

/* Item fn: one shot through the pipeline (workers); the result goes to the
** result array at the item's place, and to the cache file. */
static void shot_item(work *w, ft_engine *eng, int item)
{
    shot_work *sw = w->ctx;
    race *R = sw->R;
    const shot *sh = &R->shots[sw->todo[item]];
    const photo *p = &R->w.photos[R->passes[sh->pass].photo];
    shot_result *out = &sw->out[item];
    out->key = sh->key;
    run_shot(eng, p, &sh->r, out);
    cache_append(&R->c, REC_SHOT, out);
}

/* Every shot's result: from the cache, else through the pipeline. */
static void run_shots(race *R)
{
    int *todo = xcalloc(R->n_shots, sizeof *todo), n = 0;
    table pending = { NULL, NULL, 0, 0 }; /* keys queued (identical shots run once) */
    for (int i = 0; i < R->n_shots; i++) {
        shot *sh = &R->shots[i];
        int k = table_get(&R->c.shot_index, sh->key);
        if (k >= 0) {
            sh->res = k;
            R->cache_hits++;
        } else if (table_get(&pending, sh->key) < 0) {
            table_put(&pending, sh->key, n);
            todo[n++] = i;
        }
    }
    R->cache_misses = n;
    shot_work sw = { R, todo, xcalloc(n, sizeof(shot_result)) };
    work w = { .o = &R->o, .n = n, .need_engine = 1, .fn = shot_item, .ctx = &sw };
    progress pr = { "shots", R->n_shots, R->n_shots - n, isatty(2), R->o.quiet, 0, 0 };
    double t0 = now_s();
    run_work(&w, &pr);
    R->shots_wall_s = now_s() - t0;
    R->describe_cpu_s = atomic_load(&w.cpu_ns) * 1e-9;
    for (int k = 0; k < n; k++)
        cache_add_shot(&R->c, &sw.out[k]);
    for (int i = 0; i < R->n_shots; i++)
        if (R->shots[i].res < 0) R->shots[i].res = table_get(&R->c.shot_index, R->shots[i].key);
    free(sw.out);
    free(todo);
    free(pending.keys), free(pending.vals);
    /* per pass: described shots and the best one (highest quality) */
    for (int pi = 0; pi < R->n_passes; pi++) {
        pass *p = &R->passes[pi];
        for (int j = 0; j < p->n_shots; j++) {
            int si = p->first_shot + j;
            const shot_result *r = &R->c.shots[R->shots[si].res];
            if (!r->found) continue;
            p->described++;
            if (p->best < 0 || r->quality > R->c.shots[R->shots[p->best].res].quality) p->best = si;
        }
    }
}

/* --save-shots DIR: the shots of the first passes, as PNG files. */
static void save_shots(const race *R, const char *dir)
{
    mkdir_p(dir);
    int saved = 0;
    for (int i = 0; i < R->n_shots && saved < SAVE_SHOTS; i++) {
        const shot *sh = &R->shots[i];
        const pass *p = &R->passes[sh->pass];
        const photo *ph = &R->w.photos[p->photo];
        char err[512], name[UTIL_PATH_MAX], path[UTIL_PATH_MAX];
        ft_image *src;
        if (ft_image_load(ph->path, 0, &src, err, sizeof err) != FT_OK) die("%s", err);
        ft_image *img = render_shot(src, ph->box, &sh->r, ph->path);
        ft_image_destroy(src);
        snprintf(name, sizeof name, "%s_%s_%d%s", R->w.ids[R->runners[p->runner].id].name,
                 R->cam_id[p->camera], i - p->first_shot + 1,
                 R->c.shots[sh->res].found ? "" : "_missed");
        join_path(path, sizeof path, dir, name, ".png");
        if (ft_image_save_png(img, path, err, sizeof err) != FT_OK) die("%s", err);
        ft_image_destroy(img);
        saved++;
    }
}

/* ======================================================================== */
/* The event store                                                          */
/* ======================================================================== */

/* The temporary database (removed at exit) when --db is not given. */
static char g_tmp_dir[UTIL_PATH_MAX], g_tmp_db[UTIL_PATH_MAX];

/* Removes the database file path and its WAL and shared-memory files. */
static void remove_db(const char *path)
{
    char side[UTIL_PATH_MAX + 8];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* atexit: removes the temporary database. */
static void remove_tmp_db(void)
{
    if (!g_tmp_dir[0]) return;
    remove_db(g_tmp_db);
    rmdir(g_tmp_dir);
}

/* SIGINT/SIGTERM: removes the temporary database, then dies of the signal. */
static void on_signal(int sig)
{
    remove_tmp_db();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The database path: --db (refused if it exists, unless --force), else a
** temporary file. */
static const char *db_path(const options *o)
{
    if (o->db_path && o->reuse_db) {
        struct stat st;
        if (stat(o->db_path, &st) != 0 || !S_ISREG(st.st_mode))
            die("--reuse-db: --db %s is not a file an earlier run wrote", o->db_path);
        return o->db_path;
    }
    if (o->db_path) {
        struct stat st;
        if (stat(o->db_path, &st) == 0) {
            if (!o->force) die("--db %s exists (use --force to replace it)", o->db_path);
            if (!S_ISREG(st.st_mode)) die("--db %s is not a file", o->db_path);
            remove_db(o->db_path);
        }
        return o->db_path;
    }
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_tmp_dir, sizeof g_tmp_dir, "%s/race_scale.XXXXXX", tmp);
    if (!mkdtemp(g_tmp_dir))
        die("cannot create a temporary folder in %s: %s", tmp, strerror(errno));
    join_path(g_tmp_db, sizeof g_tmp_db, g_tmp_dir, "event.ftdb", "");
    atexit(remove_tmp_db);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    return g_tmp_db;
}

/* The thumbnails of a batch of passes, made by the workers. */
typedef struct thumb_work {
    race *R;
    const int *passes;
    unsigned char **jpg;
    size_t *len;
} thumb_work;

/* Item fn: renders a pass's best shot again and makes its thumbnail. */
static void thumb_item(work *w, ft_engine *eng, int item)
{
    thumb_work *tw = w->ctx;
    race *R = tw->R;
    const pass *p = &R->passes[tw->passes[item]];
    const shot *sh = &R->shots[p->best];
    const shot_result *res = &R->c.shots[sh->res];
    const photo *ph = &R->w.photos[p->photo];
    char err[512];
    ft_image *src;
    if (ft_image_load(ph->path, 0, &src, err, sizeof err) != FT_OK) die("%s", err);
    ft_image *img = render_shot(src, ph->box, &sh->r, ph->path);
    ft_image_destroy(src);
    double box[4] = { res->box[0], res->box[1], res->box[2], res->box[3] };
    if (ft_face_thumbnail(img, box, THUMB_PX, &tw->jpg[item], &tw->len[item]) != FT_OK)
        die("%s: cannot make a thumbnail", ph->path);
    ft_image_destroy(img);
}

/* The pass order of one camera: by time. */
static const pass *g_passes; /* qsort context (main thread only) */

/* qsort: pass indices by time at the camera, then index. */
static int cmp_pass_time(const void *a, const void *b)
{
    const pass *x = &g_passes[*(const int *)a], *y = &g_passes[*(const int *)b];
    if (x->t_s != y->t_s) return x->t_s < y->t_s ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

/* Dies with the store's message. */
static void store_check(ft_store *st, int rc, const char *what)
{
    if (rc != FT_OK) die("%s: %s", what, ft_store_errmsg(st));
}

/* Writes the event (DESIGN, store) into a new database at path. */
static void write_store(race *R, const char *path, int64_t *n_sightings, int64_t *n_desc)
{
    ft_store *st;
    if (ft_store_open(path, FT_STORE_CREATE, &st) != FT_OK)
        die("%s: %s", path, ft_store_errmsg(NULL));
    ft_detect_params dp = ft_detect_default_params();
    const ft_calibration *cal = ft_calibration_for_space(R->space);
    if (!cal) die("descriptor space %s has no calibration", R->space);
    char how[256];
    ft_pipeline_describe(&dp, cal->metric, how, sizeof how);
    store_check(st, ft_store_meta_set(st, FT_STORE_PIPELINE_KEY, how), "store");
    store_check(st, ft_store_meta_set(st, FT_STORE_SPACE_KEY, R->space), "store");
    int K = R->o.cameras;
    for (int c = 0; c < K; c++) {
        ft_camera cam;
        memset(&cam, 0, sizeof cam);
        snprintf(cam.id, sizeof cam.id, "%s", R->cam_id[c]);
        snprintf(cam.name, sizeof cam.name, "km %.2f (race_scale)", R->km[c]);
        cam.km = R->km[c];
        store_check(st, ft_store_camera_add(st, &cam), "camera add");
    }
    int *order = xcalloc(R->n_runners, sizeof *order);
    ft_sighting *batch = xcalloc(COMMIT_BATCH, sizeof *batch);
    int *bp = xcalloc(COMMIT_BATCH, sizeof *bp);
    unsigned char **jpg = xcalloc(COMMIT_BATCH, sizeof *jpg);
    size_t *len = xcalloc(COMMIT_BATCH, sizeof *len);
    progress pr = { "store", 0, 0, isatty(2), R->o.quiet, 0, 0 };
    for (int i = 0; i < R->n_passes; i++)
        pr.total += R->passes[i].described > 0;
    pr.t0 = now_s();
    int stored = 0;
    for (int c = 0; c < K; c++) {
        int n = 0;
        for (int i = 0; i < R->n_runners; i++) {
            const pass *p = &R->passes[(size_t)i * K + c];
            if (p->described) order[n++] = (int)(p - R->passes);
        }
        g_passes = R->passes;
        qsort(order, n, sizeof *order, cmp_pass_time);
        char source[128];
        snprintf(source, sizeof source, "race_scale:%s", R->cam_id[c]);
        int64_t ing, resume;
        store_check(st,
                    ft_store_ingest_begin(st, R->cam_id[c], source, R->gun_us, 0, &ing, &resume),
                    "ingest");
        int64_t checkpoint = 0;
        for (int b0 = 0; b0 < n; b0 += COMMIT_BATCH) {
            int m = n - b0 < COMMIT_BATCH ? n - b0 : COMMIT_BATCH;
            for (int k = 0; k < m; k++)
                bp[k] = order[b0 + k];
            thumb_work tw = { R, bp, jpg, len };
            work w = { .o = &R->o, .n = m, .need_engine = 0, .fn = thumb_item, .ctx = &tw };
            run_work(&w, NULL);
            int64_t frames = 0;
            for (int k = 0; k < m; k++) {
                const pass *p = &R->passes[bp[k]];
                ft_sighting *s = &batch[k];
                memset(s, 0, sizeof *s);
                s->track_key = bp[k];
                const shot *first = &R->shots[p->first_shot];
                const shot *last = &R->shots[p->first_shot + p->n_shots - 1];
                const shot *best = &R->shots[p->best];
                const shot_result *br = &R->c.shots[best->res];
                s->first_us = R->gun_us + llround(first->t_s * 1e6);
                s->last_us = R->gun_us + llround(last->t_s * 1e6);
                s->best_us = R->gun_us + llround(best->t_s * 1e6);
                memcpy(s->box, br->box, sizeof s->box);
                s->face_px = br->box[3];
                s->det_score = br->score;
                s->quality = br->quality;
                s->n_frames = p->n_shots;
                s->thumbnail = jpg[k];
                s->thumbnail_len = len[k];
                for (int j = 0; j < p->n_shots && s->n_desc < FT_SIGHTING_MAX_DESC; j++) {
                    const shot_result *r = &R->c.shots[R->shots[p->first_shot + j].res];
                    if (!r->found) continue;
                    memcpy(s->desc[s->n_desc], r->desc, sizeof s->desc[0]);
                    s->desc_quality[s->n_desc] = r->quality;
                    s->n_desc++;
                }
                frames += p->n_shots;
                int64_t cp = s->last_us - R->gun_us;
                if (cp > checkpoint) checkpoint = cp;
            }
            store_check(st, ft_store_ingest_commit(st, ing, batch, m, checkpoint, frames, m),
                        "commit");
            for (int k = 0; k < m; k++)
                ft_store_free(jpg[k]), jpg[k] = NULL;
            stored += m;
            progress_show(&pr, stored, 0);
        }
        store_check(st, ft_store_ingest_finish(st, ing, FT_INGEST_DONE, NULL), "ingest finish");
    }
    progress_show(&pr, stored, 1);
    store_check(st, ft_store_stats(st, NULL, n_sightings, n_desc, NULL, NULL), "stats");
    ft_store_close(st);
    free(order), free(batch), free(bp), free(jpg), free(len);
}

/* ======================================================================== */
/* Search and scoring                                                       */
/* ======================================================================== */

/* One search mode's totals. */
typedef struct tally {
    int found, false_app, possible_found, possible_false, window_found;
    int found_child, passes_child, found_adult, passes_adult;
    double *ms; /* per target */
} tally;

/* qsort: doubles ascending. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of v[0 .. n) (sorted in place); NaN if n is 0. */
static double quantile(double *v, int n, double q)
{
    if (n <= 0) return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    int k = (int)ceil(q * n) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* Scores one search of target runner ti: which true passes its appearances
** find (DESIGN, search). */
/* The camera (0 .. K-1) of the target's true pass that appearance ap finds,
** or -1. */
static int pass_found(const race *R, int ti, const ft_appearance *ap)
{
    int K = R->o.cameras;
    for (int c = 0; c < K; c++) {
        if (strcmp(ap->camera_id, R->cam_id[c])) continue;
        int64_t t_us = R->gun_us + llround(R->passes[(size_t)ti * K + c].t_s * 1e6);
        if (t_us >= ap->first_us - MATCH_SLACK_US && t_us <= ap->last_us + MATCH_SLACK_US) return c;
    }
    return -1;
}

static int cmp_app_expected(const void *a, const void *b)
{
    const ft_appearance *x = *(const ft_appearance *const *)a,
                        *y = *(const ft_appearance *const *)b;
    return x->expected_false < y->expected_false ? -1 : x->expected_false > y->expected_false;
}

/* The operator's choice: of the OPERATOR_REVIEW appearances of res that
** expect the fewest false matches (either tier), the sightings of those that
** are the target's true passes (a person judging the thumbnails beside the
** query, without mistakes), into ids; returns how many, and *reviewed the
** appearances looked at. */
static int operator_confirms(const race *R, int ti, const ft_search_result *res, int64_t *ids,
                             int *reviewed)
{
    const ft_appearance *v[256];
    int n = 0;
    for (int a = 0; a < res->n_appearances && n < 256; a++)
        v[n++] = &res->appearances[a];
    qsort(v, (size_t)n, sizeof *v, cmp_app_expected);
    if (n > OPERATOR_REVIEW) n = OPERATOR_REVIEW;
    *reviewed = n;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (pass_found(R, ti, v[i]) >= 0) ids[k++] = v[i]->best_sighting;
    return k;
}

static void score(const race *R, int ti, const ft_search_result *res, tally *t, const char *mode)
{
    int K = R->o.cameras;
    int verbose = R->o.verbose && mode;
    int found[100] = { 0 }, by_window[100] = { 0 }, possible[100] = { 0 };
    for (int a = 0; a < res->n_appearances; a++) {
        const ft_appearance *ap = &res->appearances[a];
        int hit = pass_found(R, ti, ap);
        if (verbose && hit < 0) { /* whose pass it was, if any runner's */
            int c = 0, who = -1;
            while (c < K && strcmp(ap->camera_id, R->cam_id[c]))
                c++;
            for (int i = 0; i < R->n_runners && c < K && who < 0; i++) {
                int64_t t_us = R->gun_us + llround(R->passes[(size_t)i * K + c].t_s * 1e6);
                if (t_us >= ap->first_us - MATCH_SLACK_US && t_us <= ap->last_us + MATCH_SLACK_US)
                    who = i;
            }
            fprintf(stderr,
                    "  %s %s: false %s appearance at %s (distance %.3f, %.2g expected false, "
                    "%s): %s\n",
                    mode, R->w.ids[R->runners[ti].id].name, ap->possible ? "possible" : "confirmed",
                    ap->camera_id, ap->distance, ap->expected_false,
                    ap->window ? "window" : "event-wide",
                    who >= 0 ? R->w.ids[R->runners[who].id].name : "no runner's pass");
        }
        if (ap->possible) {
            if (hit < 0)
                t->possible_false++;
            else
                possible[hit] = 1;
        } else if (hit < 0) {
            t->false_app++;
        } else {
            found[hit] = 1;
            by_window[hit] |= ap->window;
        }
    }
    if (verbose) {
        int n = 0;
        for (int c = 0; c < K; c++)
            n += found[c];
        fprintf(stderr, "  %s %s: %d of %d passes found\n", mode, R->w.ids[R->runners[ti].id].name,
                n, K);
    }
    int child = R->w.ids[R->runners[ti].id].age >= 0 && R->w.ids[R->runners[ti].id].age < CHILD_AGE;
    for (int c = 0; c < K; c++) {
        t->found += found[c];
        t->window_found += found[c] && by_window[c];
        t->possible_found += possible[c] && !found[c];
        if (child)
            t->found_child += found[c], t->passes_child++;
        else
            t->found_adult += found[c], t->passes_adult++;
    }
}

/* Times cold `cli search --db DB --json QUERY` runs; ms[] gets each. */
static int time_cli(const char *cli, const char *db, const char *query, double *ms)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    char *argv[] = { (char *)cli, "search", "--db", (char *)db, "--json", (char *)query, NULL };
    double t0 = now_s();
    pid_t pid;
    int rc = posix_spawn(&pid, cli, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) die("--cli %s: %s", cli, strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *ms = (now_s() - t0) * 1e3;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ======================================================================== */
/* Output                                                                   */
/* ======================================================================== */

/* A number as --json has always written it (jansson's form at 6 digits:
** %.6g with ".0" when it would read as an integer, the exponent without '+'
** or leading zeros), or null when it is not finite. */
static void jnum(struct jw *w, double x)
{
    if (!isfinite(x)) {
        fputs("null", w->f);
        return;
    }
    char buf[48];
    snprintf(buf, sizeof buf - 2, "%.6g", x);
    char *e = strchr(buf, 'e');
    if (!e && !strchr(buf, '.')) strcat(buf, ".0");
    if (e) {
        char *to = e + 1 + (e[1] == '-'), *from = e + 2;
        while (*from == '0' && from[1])
            from++;
        memmove(to, from, strlen(from) + 1);
    }
    fputs(buf, w->f);
}

/* "key": number, "key": integer, "key": string or null. */
static void jw_key_num(struct jw *w, const char *key, double x)
{
    jw_key(w, key);
    jnum(w, x);
}

static void jw_key_int(struct jw *w, const char *key, long long v)
{
    jw_key(w, key);
    jw_int(w, v);
}

static void jw_key_str(struct jw *w, const char *key, const char *v)
{
    jw_key(w, key);
    if (v)
        jw_str(w, v);
    else
        fputs("null", w->f);
}

/* One mode's numbers as the members of an open JSON object. */
static void mode_json(struct jw *w, const tally *t, int targets, int searched, int true_passes)
{
    jw_key_int(w, "found", t->found);
    jw_key_int(w, "false_appearances", t->false_app);
    jw_key_num(w, "recall", true_passes ? (double)t->found / true_passes : NAN);
    jw_key_num(w, "false_per_search", targets ? (double)t->false_app / targets : NAN);
    jw_key_int(w, "possible_found", t->possible_found);
    jw_key_int(w, "possible_false", t->possible_false);
    jw_key_int(w, "window_found", t->window_found);
    jw_key_num(w, "search_ms_p50", quantile(t->ms, searched, 0.5));
    jw_key_num(w, "search_ms_p95", quantile(t->ms, searched, 0.95));
    jw_key_num(w, "recall_children",
               t->passes_child ? (double)t->found_child / t->passes_child : NAN);
    jw_key_num(w, "recall_adults",
               t->passes_adult ? (double)t->found_adult / t->passes_adult : NAN);
}

/* Frees everything the race holds. */
static void race_free(race *R)
{
    for (int i = 0; i < R->w.n_photos; i++)
        free(R->w.photos[i].path);
    for (int i = 0; i < R->w.n_ids; i++)
        free(R->w.ids[i].name);
    for (int i = 0; i < R->n_runners; i++)
        free(R->runners[i].use), free(R->runners[i].cand);
    free(R->w.photos), free(R->w.ids), free(R->runners), free(R->targets);
    free(R->passes), free(R->shots);
    free(R->c.shots), free(R->c.photos);
    free(R->c.shot_index.keys), free(R->c.shot_index.vals);
    free(R->c.photo_index.keys), free(R->c.photo_index.vals);
}

/* ======================================================================== */
/* Main                                                                     */
/* ======================================================================== */

int main(int argc, char **argv)
{
    static race R;
    util_set_name(PROG);
    parse_options(argc, argv, &R.o);
    noise_init();
    const options *o = &R.o;
    double t_start = now_s();
    ft_detect_params dp = ft_detect_default_params();
    R.space = ft_descriptor_space(&dp);
    if (ft_time_parse(GUN_TIME, "UTC", &R.gun_us, NULL, NULL, 0) != FT_OK) die("bad gun time");
    int K = o->cameras;
    for (int c = 0; c < K; c++) {
        R.km[c] = COURSE_KM * (c + 0.5) / K;
        snprintf(R.cam_id[c], sizeof R.cam_id[c], "km%04.1f", R.km[c]);
        for (int d = 0; d < c; d++)
            if (!strcmp(R.cam_id[c], R.cam_id[d]))
                snprintf(R.cam_id[c], sizeof R.cam_id[c], "km%05.2f", R.km[c]);
    }
    const char *db = db_path(o); /* refuse an existing --db before any work */
    if (o->json_path) {          /* its folder must take the file before any work */
        char dir[UTIL_PATH_MAX];
        snprintf(dir, sizeof dir, "%s", o->json_path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        if (access(slash ? (*dir ? dir : "/") : ".", W_OK) != 0)
            die("--json %s: cannot write in its folder (%s)", o->json_path, strerror(errno));
    }

    /* people, cache, targets, runners */
    load_world(o, &R.w);
    cache_open(&R.c, o->cache_path, o->quiet);
    ft_engine *eng = open_engine(o);
    choose_targets(&R, eng);
    choose_runners(&R);
    plan_runners(&R);
    plan_photos(&R);
    detect_photos(&R, eng);
    plan_passes(&R);
    if (!o->quiet)
        fprintf(stderr,
                PROG ": %d runners (%d targets, %d children, %d without a photo with a face), %d "
                     "cameras, %d shots\n",
                R.n_runners, R.n_targets, R.children, R.faceless_runners, K, R.n_shots);

    /* shots through the pipeline, then the store */
    run_shots(&R);
    if (o->shots_dir) save_shots(&R, o->shots_dir);
    cache_close(&R.c);
    int64_t n_sightings = 0, n_desc = 0;
    double t_store = now_s();
    if (o->reuse_db) {
        ft_store *rs;
        if (ft_store_open(db, FT_STORE_READONLY, &rs) != FT_OK)
            die("%s: %s", db, ft_store_errmsg(NULL));
        int64_t n_cams = 0;
        if (ft_store_stats(rs, &n_cams, &n_sightings, &n_desc, NULL, NULL) != FT_OK)
            die("%s: %s", db, ft_store_errmsg(rs));
        ft_store_close(rs);
        if (n_cams != K) die("--reuse-db: %s has %lld cameras, not %d", db, (long long)n_cams, K);
    } else {
        write_store(&R, db, &n_sightings, &n_desc);
    }
    double store_s = now_s() - t_store;
    struct stat sb;
    long long db_bytes = stat(db, &sb) == 0 ? (long long)sb.st_size : -1;

    /* search */
    ft_store *st;
    if (ft_store_open(db, FT_STORE_READONLY, &st) != FT_OK)
        die("%s: %s", db, ft_store_errmsg(NULL));
    ft_query_params qp = ft_query_default_params();
    const ft_calibration *cal = NULL;
    char err[512];
    if (ft_query_params_for_store(st, &qp, &cal, NULL, 0, err, sizeof err) != FT_OK) die("%s", err);
    double t0 = now_s();
    ft_searcher *s;
    if (ft_searcher_open(st, cal->metric, &s, err, sizeof err) != FT_OK) die("%s", err);
    double open_ms = (now_s() - t0) * 1e3;
    long long index_bytes = (long long)ft_searcher_memory(s);
    int T = R.n_targets;
    float *query = xcalloc((size_t)T * 2 * FT_DESCRIPTOR_DIM, sizeof *query);
    int *n_probe = xcalloc(T, sizeof *n_probe);
    int *query_ok = xcalloc(T, sizeof *query_ok);
    double *query_ms = xcalloc(T, sizeof *query_ms);
    int n_query_ok = 0;
    for (int t = 0; t < T; t++) {
        const ident *id = &R.w.ids[R.runners[R.targets[t]].id];
        const char *path = R.w.photos[id->first + id->query].path;
        ft_image *img;
        if (ft_image_load(path, 0, &img, err, sizeof err) != FT_OK) die("%s", err);
        ft_query q;
        double q0 = now_s();
        int rc = ft_query_face(eng, img, &qp, &q, err, sizeof err);
        query_ms[n_query_ok] = (now_s() - q0) * 1e3;
        ft_image_destroy(img);
        if (rc != FT_OK) {
            fprintf(stderr, PROG ": warning: query %s: %s (its passes count as missed)\n", path,
                    err);
            continue;
        }
        memcpy(query + (size_t)t * 2 * FT_DESCRIPTOR_DIM, q.face.descriptor,
               sizeof q.face.descriptor);
        n_probe[t] = 1;
        const photo *ph = &R.w.photos[id->first + id->query];
        if (o->query_px > 0 && ph->status == FACE_FOUND) {
            /* a second probe: the query face as small as a camera sees it */
            render r = { 0 };
            r.face_h = o->query_px;
            r.side = (int)fmax(64, 2.4 * r.face_h);
            r.squeeze = 1, r.gain = 1, r.contrast = 1, r.quality = 90;
            ft_image *src, *small;
            if (ft_image_load(path, 0, &src, err, sizeof err) != FT_OK) die("%s", err);
            small = render_shot(src, ph->box, &r, path);
            ft_query q2;
            if (ft_query_face(eng, small, &qp, &q2, err, sizeof err) == FT_OK) {
                memcpy(query + ((size_t)t * 2 + 1) * FT_DESCRIPTOR_DIM, q2.face.descriptor,
                       sizeof q2.face.descriptor);
                n_probe[t] = 2;
            }
            ft_image_destroy(small);
            ft_image_destroy(src);
        }
        query_ok[t] = 1;
        n_query_ok++;
    }
    tally tl[3];
    memset(tl, 0, sizeof tl);
    static const char *const mode_name[3] = { "plain", "course", "operator" };
    int reviewed = 0, operator_confirmed = 0;
    for (int m = 0; m < 2; m++) {
        if (!(o->mode & (1 << m))) continue;
        tl[m].ms = xcalloc(T, sizeof *tl[m].ms);
        ft_search_params sp = ft_search_default_params();
        sp.cal = cal;
        sp.course = m == 1;
        if (o->possible) sp.possible_false_matches = FT_SEARCH_POSSIBLE_FALSE;
        if (o->max_false > 0) sp.max_false_matches = o->max_false;
        if (o->min_pace > 0) sp.min_pace_kmh = o->min_pace;
        if (o->no_expand) sp.expand = 0;
        int warm = 1, n_ms = 0;
        for (int t = 0; t < T; t++) {
            if (!query_ok[t]) {
                score(&R, R.targets[t], &(ft_search_result){ 0 }, &tl[m], NULL);
                continue;
            }
            const float *qd = query + (size_t)t * 2 * FT_DESCRIPTOR_DIM;
            ft_search_result res;
            for (int rep = 0; rep < 1 + warm; rep++) { /* the first search warms up */
                double s0 = now_s();
                int rc = ft_searcher_search_multi(s, qd, n_probe[t], &sp, &res);
                tl[m].ms[n_ms] = (now_s() - s0) * 1e3;
                if (rc != FT_OK) die("search: %s", ft_searcher_errmsg(s));
                if (warm && rep == 0) ft_search_result_free(&res);
            }
            warm = 0;
            n_ms++;
            score(&R, R.targets[t], &res, &tl[m], mode_name[m]);
            ft_search_result_free(&res);
        }
    }
    if (o->operator_) { /* course search, possible tier shown, a person confirms */
        tl[2].ms = xcalloc(T, sizeof *tl[2].ms);
        ft_search_params sp = ft_search_default_params();
        sp.cal = cal;
        if (o->max_false > 0) sp.max_false_matches = o->max_false;
        if (o->min_pace > 0) sp.min_pace_kmh = o->min_pace;
        if (o->no_expand) sp.expand = 0;
        int n_ms = 0;
        for (int t = 0; t < T; t++) {
            if (!query_ok[t]) {
                score(&R, R.targets[t], &(ft_search_result){ 0 }, &tl[2], NULL);
                continue;
            }
            const float *qd = query + (size_t)t * 2 * FT_DESCRIPTOR_DIM;
            ft_search_result res;
            sp.possible_false_matches = FT_SEARCH_POSSIBLE_FALSE;
            sp.confirmed = NULL, sp.n_confirmed = 0;
            double s0 = now_s();
            if (ft_searcher_search_multi(s, qd, n_probe[t], &sp, &res) != FT_OK)
                die("search: %s", ft_searcher_errmsg(s));
            int64_t ids[OPERATOR_REVIEW];
            int seen = 0, n = operator_confirms(&R, R.targets[t], &res, ids, &seen);
            ft_search_result_free(&res);
            reviewed += seen, operator_confirmed += n;
            sp.possible_false_matches = o->possible ? FT_SEARCH_POSSIBLE_FALSE : 0;
            sp.confirmed = n ? ids : NULL, sp.n_confirmed = n;
            if (ft_searcher_search_multi(s, qd, n_probe[t], &sp, &res) != FT_OK)
                die("search: %s", ft_searcher_errmsg(s));
            tl[2].ms[n_ms++] = (now_s() - s0) * 1e3;
            score(&R, R.targets[t], &res, &tl[2], mode_name[2]);
            ft_search_result_free(&res);
        }
    }
    ft_searcher_close(s);
    ft_store_close(st);
    ft_engine_close(eng);

    /* cold CLI runs */
    int n_cli = 0, cli_fail = 0;
    double *cli_ms = xcalloc(o->cli_runs, sizeof *cli_ms);
    if (o->cli) {
        for (int t = 0; t < T && n_cli < o->cli_runs; t++) {
            const ident *id = &R.w.ids[R.runners[R.targets[t]].id];
            cli_fail +=
                !time_cli(o->cli, db, R.w.photos[id->first + id->query].path, &cli_ms[n_cli]);
            n_cli++;
        }
    }

    /* totals */
    int true_passes = T * K;
    int n_described = 0, n_sightings_planned = 0;
    for (int i = 0; i < R.n_shots; i++)
        n_described += R.c.shots[R.shots[i].res].found;
    for (int i = 0; i < R.n_passes; i++)
        n_sightings_planned += R.passes[i].described > 0;
    int top = o->mode == MODE_PLAIN ? 0 : 1;
    const tally *tt = &tl[top];
    double recall = true_passes ? (double)tt->found / true_passes : NAN;
    double fps = T ? (double)tt->false_app / T : NAN;
    int child_targets = 0;
    for (int t = 0; t < T; t++) {
        int age = R.w.ids[R.runners[R.targets[t]].id].age;
        child_targets += age >= 0 && age < CHILD_AGE;
    }
    double query_p50 = quantile(query_ms, n_query_ok, 0.5);

    printf("race_scale: %d runners (%d targets, %d children), %d cameras, seed %llu\n", R.n_runners,
           T, R.children, K, (unsigned long long)o->seed);
    printf("  shots      %d (%d described) of %d passes; %ld from the cache, %ld run in %.1f s "
           "(%.1f ms per shot, %.1f s CPU, %d threads)\n",
           R.n_shots, n_described, R.n_passes, R.cache_hits, R.cache_misses, R.shots_wall_s,
           R.cache_misses ? R.shots_wall_s * 1e3 / R.cache_misses : 0.0, R.describe_cpu_s,
           o->threads);
    printf("  store      %lld sightings, %lld descriptors, %.1f MB, written in %.1f s\n",
           (long long)n_sightings, (long long)n_desc, db_bytes / 1e6, store_s);
    printf("  searcher   opened in %.0f ms, %.1f MB; query photo %.0f ms (p50)\n", open_ms,
           index_bytes / 1e6, query_p50);
    printf("  %-7s %12s %7s %6s %9s %10s %7s %17s\n", "mode", "found/true", "recall", "false",
           "false/s", "possible", "window", "search ms p50/p95");
    for (int m = 0; m < 3; m++) {
        if (m < 2 ? !(o->mode & (1 << m)) : !o->operator_) continue;
        const tally *t = &tl[m];
        char ratio[32], pos[32];
        snprintf(ratio, sizeof ratio, "%d/%d", t->found, true_passes);
        snprintf(pos, sizeof pos, "%d/%d", t->possible_found, t->possible_false);
        double p50 = quantile(t->ms, n_query_ok, 0.5), p95 = quantile(t->ms, n_query_ok, 0.95);
        printf("  %-7s %12s %7.3f %6d %9.3f %10s %7d %8.2f/%-8.2f\n", mode_name[m], ratio,
               true_passes ? (double)t->found / true_passes : NAN, t->false_app,
               T ? (double)t->false_app / T : NAN, o->possible ? pos : "-", t->window_found, p50,
               p95);
    }
    if (o->cli)
        printf("  cli        %d cold runs: p50 %.0f ms, max %.0f ms%s\n", n_cli,
               quantile(cli_ms, n_cli, 0.5), quantile(cli_ms, n_cli, 1.0),
               cli_fail ? " (some failed)" : "");
    printf("  total      %.1f s\n", now_s() - t_start);

    if (o->json_path) { /* written beside, then renamed into place */
        char tmp[UTIL_PATH_MAX + 32];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", o->json_path, (long)getpid());
        FILE *f = fopen(tmp, "w");
        if (!f) die("cannot write %s: %s", tmp, strerror(errno));
        struct jw jw, *w = &jw;
        jw_init(w, f, 1);
        jw_open(w, '{');
        jw_key_int(w, "runners", R.n_runners);
        jw_key_int(w, "cameras", K);
        jw_key_int(w, "passes", R.n_passes);
        jw_key_int(w, "shots", R.n_shots);
        jw_key_int(w, "shots_described", n_described);
        jw_key_int(w, "descriptors", n_desc);
        jw_key_int(w, "sightings", n_sightings);
        jw_key_int(w, "targets", T);
        jw_key_int(w, "true_passes", true_passes);
        jw_key_str(w, "mode", mode_name[top]);
        jw_key_int(w, "found", tt->found);
        jw_key_int(w, "false_appearances", tt->false_app);
        jw_key_num(w, "recall", recall);
        jw_key_num(w, "false_per_search", fps);
        jw_key_num(w, "search_ms_p50", quantile(tt->ms, n_query_ok, 0.5));
        jw_key_num(w, "search_ms_p95", quantile(tt->ms, n_query_ok, 0.95));
        jw_key_int(w, "db_bytes", db_bytes);
        if (o->operator_) {
            jw_key(w, "operator");
            jw_open(w, '{');
            mode_json(w, &tl[2], T, n_query_ok, true_passes);
            jw_key_num(w, "reviewed_per_search", T ? (double)reviewed / T : NAN);
            jw_key_int(w, "confirmed_by_operator", operator_confirmed);
            jw_close(w);
        }
        for (int m = 0; m < 2; m++) {
            jw_key(w, mode_name[m]);
            if (o->mode & (1 << m)) {
                jw_open(w, '{');
                mode_json(w, &tl[m], T, n_query_ok, true_passes);
                jw_close(w);
            } else {
                fputs("null", f);
            }
        }
        jw_key_num(w, "open_ms", open_ms);
        jw_key_int(w, "index_bytes", index_bytes);
        jw_key_num(w, "query_ms_p50", query_p50);
        jw_key_int(w, "queries_failed", T - n_query_ok);
        jw_key_num(w, "describe_cpu_s", R.describe_cpu_s);
        jw_key_num(w, "shots_wall_s", R.shots_wall_s);
        jw_key_num(w, "ms_per_shot", R.cache_misses ? R.shots_wall_s * 1e3 / R.cache_misses : NAN);
        jw_key_num(w, "photos_wall_s", R.photos_wall_s);
        jw_key_num(w, "store_s", store_s);
        jw_key_int(w, "cache_hits", R.cache_hits);
        jw_key_int(w, "cache_misses", R.cache_misses);
        jw_key_int(w, "photo_cache_hits", R.photo_hits);
        jw_key_int(w, "photo_cache_misses", R.photo_misses);
        jw_key_int(w, "children", R.children);
        jw_key_int(w, "child_targets", child_targets);
        jw_key_int(w, "runners_without_face", R.faceless_runners);
        jw_key_int(w, "photos_unreadable", R.unreadable);
        jw_key_int(w, "photos_without_face", R.faceless_photos);
        if (o->cli) {
            jw_key_int(w, "cli_runs", n_cli);
            jw_key_int(w, "cli_failed", cli_fail);
            jw_key_num(w, "cli_ms_p50", quantile(cli_ms, n_cli, 0.5));
            jw_key_num(w, "cli_ms_max", quantile(cli_ms, n_cli, 1.0));
        }
        jw_key_num(w, "total_s", now_s() - t_start);
        jw_key(w, "seed");
        fprintf(f, "%llu", (unsigned long long)o->seed);
        jw_key(w, "options");
        jw_open(w, '{');
        jw_key_str(w, "people", o->people_dir);
        jw_key_str(w, "distractors", o->distractors_dir);
        jw_key(w, "runners");
        if (o->runners)
            jw_int(w, o->runners);
        else
            fputs("null", f);
        jw_key_int(w, "targets", o->targets);
        jw_key_int(w, "cameras", K);
        jw_key_int(w, "threads", o->threads);
        jw_key_str(w, "mode",
                   o->mode == MODE_BOTH    ? "both"
                   : o->mode == MODE_PLAIN ? "plain"
                                           : "course");
        jw_key(w, "possible");
        jw_bool(w, o->possible);
        jw_key_num(w, "max_false", o->max_false > 0 ? o->max_false : FT_SEARCH_MAX_FALSE);
        jw_key_num(w, "min_pace", o->min_pace > 0 ? o->min_pace : 2.5);
        jw_key(w, "expand");
        jw_bool(w, !o->no_expand);
        jw_key(w, "operator");
        jw_bool(w, o->operator_);
        jw_key(w, "reuse_db");
        jw_bool(w, o->reuse_db);
        jw_key_str(w, "cache", o->cache_path);
        jw_key_str(w, "db", o->db_path);
        jw_key_str(w, "gun", GUN_TIME);
        jw_key_str(w, "space", R.space);
        jw_close(w);
        jw_close(w);
        if (ferror(f) | fclose(f)) {
            unlink(tmp);
            die("cannot write %s", tmp);
        }
        if (rename(tmp, o->json_path) != 0) {
            unlink(tmp);
            die("cannot write %s: %s", o->json_path, strerror(errno));
        }
    }
    free(n_probe), free(query), free(query_ok), free(query_ms), free(cli_ms);
    free(tl[0].ms), free(tl[1].ms), free(tl[2].ms);
    race_free(&R);
    return 0;
}
