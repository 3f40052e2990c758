/*
** tools/facetrail.c: the facetrail command-line tool: main, the command
** table, and the image commands.
**
**   facetrail detect [options] IMAGE...     faces, landmarks, descriptors as JSON lines
**   facetrail embed [options] --chip CHIP   descriptor of a ready face chip
**   facetrail compare [options] A B         same person? (exit 0 yes, 1 no, 2 error)
**   facetrail camera | ingest | search      the event commands (tools/cmd_*.c)
**   facetrail audit | purge                 the audit log, retention (tools/cmd_audit.c)
**   facetrail serve | cluster               the event live, on one or several machines
**   facetrail eval lfw | wider              the evaluations (tools/cmd_eval*.c)
**   facetrail version | help
**
** DESIGN
**   One function per command (cmd_*), all built from the helpers of cli.h:
**   an option walker (struct opts: "--name value", "--name=value", "--" and
**   operands in any order), a JSON writer (struct jw, writing to a FILE *), and
**   a growing face buffer for ft_engine_detect (struct faces).
**   Numbers in JSON round-trip exactly: doubles are printed with %.17g, floats
**   with %.9g, and nan/inf become null.
**
** EXIT STATUS  0 success (compare: same person), 1 compare: different people,
**              2 usage error, a library error, or any input that failed.
** THREADS      Single-threaded; the engine's worker pool does the parallel work.
** SEE ALSO     include/facetrail.h (the only header the tools may use);
**              tests/cli/test_cli.sh; tools/demo.sh.
*/
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* detect                                                                   */
/* ------------------------------------------------------------------------ */

static const char detect_usage[] =
    "usage: facetrail detect [options] IMAGE...\n"
    "\n"
    "Finds the faces in each JPEG or PNG image, with their 68 landmarks and 128-d\n"
    "descriptors, and prints one JSON object per image, one per line:\n"
    "  {\"file\":..,\"width\":..,\"height\":..,\"detector\":..,\"faces\":[{\"box\":[x,y,w,h],\n"
    "   \"score\":..,\"landmarks\":[[x,y],..],\"landmark_crop\":[..],\"align_rect\":[..],\n"
    "   \"descriptor_crop\":[..],\"descriptor\":[..]},..]}\n"
    "An image that cannot be read gives {\"file\":..,\"error\":..} and the next one is tried.\n"
    "\n"
    "options:\n"
    "  --detector yunet|ssd|tiny  face detector (default yunet)\n"
    "  --input-size N        tiny detector input size, a multiple of 32 (default 416)\n"
    "  --min-score X         lowest detector score kept, in (0, 1) (default 0.6 for\n"
    "                        yunet, 0.5 for ssd and tiny)\n"
    "  --max-results N       most faces the ssd detector keeps (default 100)\n"
    "  --no-landmarks        no landmarks (and so no descriptors)\n"
    "  --no-descriptor       no descriptors\n"
    "  --tiny-landmarks      use the tiny 68-point landmark net\n" PIPELINE_OPTIONS_HELP
    "  --max-pixels N        refuse images of more than N pixels (default 67108864)\n"
    "  --models DIR          model folder (default $FT_MODEL_DIR, else " DEFAULT_MODEL_DIR ")\n"
    "  --threads N           worker threads (default 1; more only on an idle machine)\n"
    "  --pretty              indented JSON (several lines per image)\n"
    "  -h, --help            this text\n"
    "\n"
    "exit status: 0 all images done, 2 an image failed or a usage or model error\n";

/* One detect result line (or block, when pretty). */
static void write_detection(FILE *f, int pretty, const char *path, const ft_image *img,
                            const ft_detect_params *dp, const struct faces *fs)
{
    struct jw w;
    jw_init(&w, f, pretty);
    jw_open(&w, '{');
    jw_key(&w, "file");
    jw_str(&w, path);
    jw_key(&w, "width");
    jw_int(&w, img->width);
    jw_key(&w, "height");
    jw_int(&w, img->height);
    jw_key(&w, "detector");
    jw_str(&w, detector_name(dp->detector));
    jw_key(&w, "faces");
    jw_open(&w, '[');
    for (int i = 0; i < fs->n; i++) {
        jw_item(&w);
        write_face(&w, &fs->v[i]);
    }
    jw_close(&w);
    jw_close(&w);
    jw_end_line(&w);
}

static int cmd_detect(int argc, char **argv)
{
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = default_model_dir();
    ep.n_threads = default_threads();
    ft_detect_params dp = ft_detect_default_params();
    size_t max_pixels = 0;
    int pretty = 0, score_set = 0;
    long long n;
    double x;

    struct opts o;
    opts_init(&o, argc, argv);
    while (opts_next(&o)) {
        int r = opts_engine(&o, &ep);
        if (r == 0) r = opts_pipeline(&o, &dp);
        if (r < 0) return CLI_ERROR;
        if (r > 0) continue;
        if (opts_is_help(&o)) {
            return print_help(detect_usage);
        } else if (opts_is(&o, "--detector")) {
            if (opts_detector(&o, &dp.detector)) return CLI_ERROR;
        } else if (opts_is(&o, "--input-size")) {
            const char *what = "a positive multiple of 32";
            if (opts_int(&o, 32, INT_MAX, what, &n)) return CLI_ERROR;
            if (n % 32 != 0) return opts_bad(&o, what);
            dp.input_size = (int)n;
        } else if (opts_is(&o, "--min-score")) {
            const char *what = "a number in (0, 1)";
            if (opts_double(&o, 0, 1, 1, what, &x)) return CLI_ERROR;
            dp.min_score = (float)x;
            score_set = 1;
            if (!(dp.min_score > 0 && dp.min_score < 1)) /* rounded to 0 or 1 as a float */
                return opts_bad(&o, what);
        } else if (opts_is(&o, "--max-results")) {
            if (opts_int(&o, 1, INT_MAX, "a positive integer", &n)) return CLI_ERROR;
            dp.max_results = (int)n;
        } else if (opts_is(&o, "--max-pixels")) {
            if (opts_int(&o, 1, LLONG_MAX, "a positive integer", &n)) return CLI_ERROR;
            max_pixels = (size_t)n;
        } else if (opts_is(&o, "--no-landmarks")) {
            if (opts_flag(&o)) return CLI_ERROR;
            dp.with_landmarks = 0;
            dp.with_descriptor = 0; /* descriptors need landmarks */
        } else if (opts_is(&o, "--no-descriptor")) {
            if (opts_flag(&o)) return CLI_ERROR;
            dp.with_descriptor = 0;
        } else if (opts_is(&o, "--tiny-landmarks")) {
            if (opts_flag(&o)) return CLI_ERROR;
            dp.tiny_landmarks = 1;
        } else if (opts_is(&o, "--pretty")) {
            if (opts_flag(&o)) return CLI_ERROR;
            pretty = 1;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands == 0) return usage_error(o.cmd, "missing IMAGE operand");
    if (!score_set) dp.min_score = ft_detector_default_score(dp.detector);

    ft_engine *eng = NULL;
    struct faces fs = { 0 };
    int status = CLI_OK;
    for (int i = 0; i < o.n_operands; i++) {
        const char *path = argv[1 + i];
        char err[512];
        const char *message = err;
        int engine_failed = 0;
        ft_image *img = NULL;
        int rc = load_image(o.cmd, path, max_pixels, &img, err, sizeof err);
        if (rc == FT_OK) {
            if (!eng && start_engine(o.cmd, &ep, &dp, &eng) != CLI_OK) {
                ft_image_destroy(img);
                status = CLI_ERROR;
                break;
            }
            rc = detect_faces(eng, img, &dp, &fs, &message);
            if (rc == FT_OK) {
                write_detection(stdout, pretty, path, img, &dp, &fs);
            } else {
                engine_failed = 1;
                fprintf(stderr, "facetrail detect: %s: %s\n", path, message);
            }
        }
        ft_image_destroy(img);
        if (rc != FT_OK) {
            write_error_line(stdout, path, message);
            status = CLI_ERROR;
            if (engine_failed && is_fatal(rc)) break; /* would fail the same way on every image */
        }
    }
    faces_free(&fs);
    ft_engine_close(eng);
    return status;
}

/* ------------------------------------------------------------------------ */
/* embed                                                                    */
/* ------------------------------------------------------------------------ */

static const char embed_usage[] =
    "usage: facetrail embed [options] --chip CHIP.png [--chip CHIP2.png ...]\n"
    "\n"
    "Prints the 128-d descriptor of a ready face chip (normally 150x150; other\n"
    "sizes are padded to a square and resized as face-api does), as one JSON line:\n"
    "  {\"descriptor\":[..]}\n"
    "With several --chip, one line each, with \"file\" too. A chip that cannot be\n"
    "read gives {\"file\":..,\"error\":..} and the next one is tried.\n"
    "\n"
    "options:\n"
    "  --chip FILE           a JPEG or PNG face chip (repeatable)\n"
    "  --models DIR          model folder (default $FT_MODEL_DIR, else " DEFAULT_MODEL_DIR ")\n"
    "  --threads N           worker threads (default 1; more only on an idle machine)\n"
    "  -h, --help            this text\n"
    "\n"
    "exit status: 0 all chips done, 2 a chip failed or a usage or model error\n";

static void write_embedding(FILE *f, const char *path, const float *descriptor)
{
    struct jw w;
    jw_init(&w, f, 0);
    jw_open(&w, '{');
    if (path) {
        jw_key(&w, "file");
        jw_str(&w, path);
    }
    jw_key(&w, "descriptor");
    jw_floats(&w, descriptor, FT_DESCRIPTOR_DIM);
    jw_close(&w);
    jw_end_line(&w);
}

static int cmd_embed(int argc, char **argv)
{
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = default_model_dir();
    ep.n_threads = default_threads();
    int n_chips = 0;

    /* --chip values are packed into argv[1..n_chips]; operands are refused, so
    ** the walk stops at the first one (which opts_next packed into argv[1]) */
    struct opts o;
    opts_init(&o, argc, argv);
    while (opts_next(&o) && o.n_operands == 0) {
        int r = opts_engine(&o, &ep);
        if (r < 0) return CLI_ERROR;
        if (r > 0) continue;
        if (opts_is_help(&o)) {
            return print_help(embed_usage);
        } else if (opts_is(&o, "--chip")) {
            const char *v = opts_value(&o);
            if (!v) return CLI_ERROR;
            argv[1 + n_chips++] = (char *)v; /* 1 + n_chips < o.next: safe */
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands > 0)
        return usage_error(o.cmd, "unexpected operand '%s' (chips are given with --chip)", argv[1]);
    if (n_chips == 0) return usage_error(o.cmd, "missing --chip");

    ft_engine *eng = NULL;
    int status = CLI_OK;
    for (int i = 0; i < n_chips; i++) {
        const char *path = argv[1 + i];
        char err[512];
        const char *message = err;
        int engine_failed = 0;
        float descriptor[FT_DESCRIPTOR_DIM];
        ft_image *chip = NULL;
        int rc = load_image(o.cmd, path, 0, &chip, err, sizeof err);
        if (rc == FT_OK) {
            if (!eng && start_engine(o.cmd, &ep, NULL, &eng) != CLI_OK) {
                ft_image_destroy(chip);
                status = CLI_ERROR;
                break;
            }
            rc = ft_engine_embed_chip(eng, chip, descriptor);
            if (rc == FT_OK) {
                write_embedding(stdout, n_chips > 1 ? path : NULL, descriptor);
            } else {
                engine_failed = 1;
                message = engine_message(eng, rc);
                fprintf(stderr, "facetrail embed: %s: %s\n", path, message);
                if (rc == FT_EMODEL) print_model_hint(o.cmd);
            }
        }
        ft_image_destroy(chip);
        if (rc != FT_OK) {
            write_error_line(stdout, path, message);
            status = CLI_ERROR;
            if (engine_failed && is_fatal(rc)) break; /* would fail the same way on every chip */
        }
    }
    ft_engine_close(eng);
    return status;
}

/* ------------------------------------------------------------------------ */
/* compare                                                                  */
/* ------------------------------------------------------------------------ */

static const char compare_usage[] =
    "usage: facetrail compare [options] A B\n"
    "\n"
    "Detects the faces in images A and B, takes the largest face of each and says\n"
    "whether they are the same person: euclidean distance between descriptors\n"
    "below the threshold. Prints e.g.\n"
    "  distance 0.4123 (threshold 0.60): same person\n"
    "\n"
    "options:\n"
    "  --detector yunet|ssd|tiny  face detector (default yunet)\n"
    "  --threshold X         largest distance of a match, > 0 (default 0.6)\n"
    "  --json                print {\"a\":..,\"b\":..,\"distance\":..,\"threshold\":..,\n"
    "                        \"same\":..,\"a_box\":[..],\"b_box\":[..]} instead\n"
    "  --models DIR          model folder (default $FT_MODEL_DIR, else " DEFAULT_MODEL_DIR ")\n"
    "  --threads N           worker threads (default 1; more only on an idle machine)\n"
    "  -h, --help            this text\n"
    "\n"
    "exit status: 0 same person, 1 different people, 2 error (no face in an image\n"
    "is an error)\n";

/* Detects the faces of img (read from path) and copies the largest (by box
** area; the first of equals) into *out. Prints any error; CLI_OK or CLI_ERROR. */
static int largest_face(const char *cmd, ft_engine *eng, const ft_detect_params *dp,
                        const char *path, const ft_image *img, struct faces *fs, ft_face *out)
{
    const char *message;
    if (detect_faces(eng, img, dp, fs, &message) != FT_OK) {
        fprintf(stderr, "facetrail %s: %s: %s\n", cmd, path, message);
        return CLI_ERROR;
    }
    if (fs->n == 0) {
        fprintf(stderr, "facetrail %s: %s: no face found\n", cmd, path);
        return CLI_ERROR;
    }
    int best = 0;
    for (int i = 1; i < fs->n; i++)
        if (fs->v[i].box[2] * fs->v[i].box[3] > fs->v[best].box[2] * fs->v[best].box[3]) best = i;
    if (fs->n > 1) fprintf(stderr, "note: %s has %d faces; using the largest\n", path, fs->n);
    if (!fs->v[best].has_descriptor) {
        fprintf(stderr, "facetrail %s: %s: no descriptor for the face\n", cmd, path);
        return CLI_ERROR;
    }
    *out = fs->v[best];
    return CLI_OK;
}

static int cmd_compare(int argc, char **argv)
{
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = default_model_dir();
    ep.n_threads = default_threads();
    ft_detect_params dp = ft_detect_default_params();
    float threshold = FT_MATCH_THRESHOLD;
    int json = 0;
    double x;

    struct opts o;
    opts_init(&o, argc, argv);
    while (opts_next(&o)) {
        int r = opts_engine(&o, &ep);
        if (r < 0) return CLI_ERROR;
        if (r > 0) continue;
        if (opts_is_help(&o)) {
            return print_help(compare_usage);
        } else if (opts_is(&o, "--detector")) {
            if (opts_detector(&o, &dp.detector)) return CLI_ERROR;
        } else if (opts_is(&o, "--threshold")) {
            if (opts_double(&o, 0, 1e30, 1, "a positive number", &x)) return CLI_ERROR;
            threshold = (float)x;
        } else if (opts_is(&o, "--json")) {
            if (opts_flag(&o)) return CLI_ERROR;
            json = 1;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands < 2) return usage_error(o.cmd, "needs two images, A and B");
    dp.min_score = ft_detector_default_score(dp.detector);
    if (o.n_operands > 2) return usage_error(o.cmd, "unexpected operand '%s'", argv[3]);
    const char *path_a = argv[1], *path_b = argv[2];

    /* both images first, so that a bad file is reported before any model work */
    char err[512];
    ft_image *img_a = NULL, *img_b = NULL;
    ft_engine *eng = NULL;
    struct faces fs = { 0 };
    ft_face a, b;
    int status = CLI_ERROR;
    if (load_image(o.cmd, path_a, 0, &img_a, err, sizeof err) == FT_OK &&
        load_image(o.cmd, path_b, 0, &img_b, err, sizeof err) == FT_OK &&
        start_engine(o.cmd, &ep, &dp, &eng) == CLI_OK &&
        largest_face(o.cmd, eng, &dp, path_a, img_a, &fs, &a) == CLI_OK &&
        largest_face(o.cmd, eng, &dp, path_b, img_b, &fs, &b) == CLI_OK)
        status = CLI_OK;
    faces_free(&fs);
    ft_engine_close(eng);
    ft_image_destroy(img_a);
    ft_image_destroy(img_b);
    if (status != CLI_OK) return status;

    float distance = ft_descriptor_distance(a.descriptor, b.descriptor);
    int same = distance < threshold;
    if (json) {
        struct jw w;
        jw_init(&w, stdout, 0);
        jw_open(&w, '{');
        jw_key(&w, "a");
        jw_str(&w, path_a);
        jw_key(&w, "b");
        jw_str(&w, path_b);
        jw_key(&w, "distance");
        jw_float(&w, distance);
        jw_key(&w, "threshold");
        jw_float(&w, threshold);
        jw_key(&w, "same");
        jw_bool(&w, same);
        jw_key(&w, "a_box");
        jw_doubles(&w, a.box, 4);
        jw_key(&w, "b_box");
        jw_doubles(&w, b.box, 4);
        jw_close(&w);
        jw_end_line(&w);
    } else {
        /* two decimals for the usual thresholds, all digits for others */
        double t = threshold;
        if (fabs(t * 100 - nearbyint(t * 100)) < 1e-4)
            printf("distance %.4f (threshold %.2f): %s\n", distance, t,
                   same ? "same person" : "different people");
        else
            printf("distance %.4f (threshold %g): %s\n", distance, t,
                   same ? "same person" : "different people");
    }
    return same ? CLI_OK : CLI_DIFFERENT;
}

/* ------------------------------------------------------------------------ */
/* version, help, main                                                      */
/* ------------------------------------------------------------------------ */

static const char version_usage[] = "usage: facetrail version\n"
                                    "\n"
                                    "Prints the version of facetrail.\n";

static int cmd_version(int argc, char **argv)
{
    struct opts o;
    opts_init(&o, argc, argv);
    while (opts_next(&o)) {
        if (opts_is_help(&o)) return print_help(version_usage);
        return opts_unknown(&o);
    }
    if (o.n_operands > 0) return usage_error(o.cmd, "unexpected operand '%s'", argv[1]);
    printf("facetrail %s\n", FT_VERSION);
    return CLI_OK;
}

static const char main_usage[] =
    "usage: facetrail <command> [options]\n"
    "\n"
    "commands:\n"
    "  detect    faces, landmarks and descriptors in images, as JSON lines\n"
    "  embed     the descriptor of a ready face chip\n"
    "  compare   whether the largest faces of two images are the same person\n"
    "  camera    add or list the cameras of an event (--db DB)\n"
    "  ingest    a camera's video into sightings (--db DB --camera ID --start TIME)\n"
    "  search    where was the person in a photo seen, and where now? (--db DB)\n"
    "  serve     the event over HTTP: the operator's web page and a JSON API (--db DB)\n"
    "  watch     add, list or remove the people to raise alerts for (--db DB)\n"
    "  audit     who searched, watched, dismissed or purged, and a check of the log\n"
    "  token     add or list the access tokens of serve --tokens FILE\n"
    "  cluster   several machines over NATS JetStream: cameras, ingest nodes, status\n"
    "  purge     remove the event's personal data from before a time, or after it\n"
    "  eval      accuracy on labelled data (LFW verification, WIDER FACE detection)\n"
    "  version   print the version\n"
    "  help      this text; 'facetrail help COMMAND' for a command's options\n"
    "\n"
    "Every command takes --help. Models are read from --models DIR, else\n"
    "$FT_MODEL_DIR, else " DEFAULT_MODEL_DIR " (fetch them with 'make models').\n";

static int cmd_help(int argc, char **argv);

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} commands[] = {
    { "detect", cmd_detect, detect_usage },    { "embed", cmd_embed, embed_usage },
    { "compare", cmd_compare, compare_usage }, { "eval", cmd_eval, eval_usage },
    { "camera", cmd_camera, camera_usage },    { "ingest", cmd_ingest, ingest_usage },
    { "search", cmd_search, search_usage },    { "serve", cmd_serve, serve_usage },
    { "watch", cmd_watch, watch_usage },       { "audit", cmd_audit, audit_usage },
    { "purge", cmd_purge, purge_usage },       { "token", cmd_token, token_usage },
    { "cluster", cmd_cluster, cluster_usage }, { "version", cmd_version, version_usage },
    { "help", cmd_help, main_usage },
};

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

/* help [COMMAND]: the main usage, or one command's. */
static int cmd_help(int argc, char **argv)
{
    struct opts o;
    opts_init(&o, argc, argv);
    while (opts_next(&o)) {
        if (opts_is_help(&o)) return print_help(main_usage);
        return opts_unknown(&o);
    }
    if (o.n_operands == 0) return print_help(main_usage);
    if (o.n_operands > 1) return usage_error(o.cmd, "unexpected operand '%s'", argv[2]);
    const struct command *c = find_command(argv[1]);
    if (!c) return usage_error(o.cmd, "unknown command '%s'", argv[1]);
    return print_help(c->usage);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_usage, stderr);
        return CLI_ERROR;
    }
    const char *name = argv[1];
    int status;
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        status = print_help(main_usage);
    } else if (strcmp(name, "--version") == 0) {
        status = cmd_version(1, argv + 1);
    } else {
        const struct command *c = find_command(name);
        if (!c) {
            fprintf(stderr, "facetrail: unknown %s '%s'\ntry 'facetrail --help'\n",
                    name[0] == '-' ? "option" : "command", name);
            return CLI_ERROR;
        }
        status = c->run(argc - 1, argv + 1);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "facetrail: cannot write the output: %s\n", strerror(errno));
        return CLI_ERROR;
    }
    return status;
}
