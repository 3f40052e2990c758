/*
** tools/facetrail.c: the facetrail command-line tool.
**
**   facetrail detect [options] IMAGE...     faces, landmarks, descriptors as JSON lines
**   facetrail embed [options] --chip CHIP   descriptor of a ready face chip
**   facetrail compare [options] A B         same person? (exit 0 yes, 1 no, 2 error)
**   facetrail version | help
**
** DESIGN
**   One static function per command (cmd_*), all built from three helpers:
**   an option walker (struct opts: "--name value", "--name=value", "--" and
**   operands in any order), a JSON writer (struct jw, writing to a FILE *), and
**   a growing face buffer for ft_engine_detect (struct faces).
**   Numbers in JSON round-trip exactly: doubles are printed with %.17g, floats
**   with %.9g, and nan/inf become null.
**
** EXIT STATUS  0 success (compare: same person), 1 compare: different people,
**              2 usage error, a library error, or any image that failed.
** THREADS      Single-threaded; the engine's worker pool does the parallel work.
** SEE ALSO     include/facetrail.h (the only header this file may use);
**              tests/cli/test_cli.sh; tools/demo.sh.
*/
#include "facetrail.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CLI_OK = 0, CLI_DIFFERENT = 1, CLI_ERROR = 2 };

#define DEFAULT_MODEL_DIR "models/face-api/model"
#define FACES_INITIAL_CAP 64
#define MAX_THREADS       1024

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */
/* ------------------------------------------------------------------------ */

/* Prints "facetrail CMD: MESSAGE" and a hint to stderr; returns CLI_ERROR. */
static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "facetrail %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\ntry 'facetrail %s --help'\n", cmd);
    va_end(ap);
    return CLI_ERROR;
}

/* Prints a command's usage text to stdout (for --help); returns CLI_OK. */
static int print_help(const char *text)
{
    fputs(text, stdout);
    return CLI_OK;
}

/* The message for a failed engine call: the engine's own text, else the
** generic one for the status. Borrowed, valid until the next engine call. */
static const char *engine_message(const ft_engine *eng, int status)
{
    const char *m = eng ? ft_engine_errmsg(eng) : NULL;
    return (m && *m) ? m : ft_strerror(status);
}

static void print_model_hint(const char *cmd)
{
    fprintf(stderr,
            "facetrail %s: hint: fetch the models with 'make models', or point --models "
            "(or FT_MODEL_DIR) at them\n",
            cmd);
}

/* Prints an engine failure and, for a model problem, where models come from. */
static void report_engine_error(const char *cmd, const ft_engine *eng, int status)
{
    fprintf(stderr, "facetrail %s: %s\n", cmd, engine_message(eng, status));
    if (status == FT_EMODEL) print_model_hint(cmd);
}

/* Model folder when --models is not given: $FT_MODEL_DIR, else the default. */
static const char *default_model_dir(void)
{
    const char *env = getenv("FT_MODEL_DIR");
    return (env && *env) ? env : DEFAULT_MODEL_DIR;
}

static const char *detector_name(enum ft_detector_kind kind)
{
    return kind == FT_DETECTOR_TINY ? "tiny_face_detector" : "ssd_mobilenetv1";
}

/* Engine failures that would repeat on every input: stop instead of going on. */
static int is_fatal(int status)
{
    return status == FT_EMODEL || status == FT_EBACKEND || status == FT_EINVAL;
}

/* ------------------------------------------------------------------------ */
/* Option walker                                                            */
/* ------------------------------------------------------------------------ */

/* Walks argv[1..argc-1] of one command (argv[0] is the command name). Options
** are "--name value", "--name=value" or short flags ("-h"); "--" ends them and
** a lone "-" is an operand. Operands are packed, in order, into
** argv[1..n_operands] as the walk goes, so nothing is allocated. */
struct opts {
    const char *cmd; /* command name, for messages */
    int argc;
    char **argv;
    int next;          /* next argv index to read */
    int n_operands;    /* operands seen so far */
    int options_ended; /* "--" seen */
    const char *arg;   /* current option as typed */
    size_t name_len;   /* length of its name (up to any '=') */
    const char *value; /* its inline value after '=', or NULL */
};

static void opts_init(struct opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->cmd = argv[0];
    o->argc = argc;
    o->argv = argv;
    o->next = 1;
}

/* Moves to the next option, packing operands on the way. Returns 1 when
** positioned on an option, 0 when argv is used up. */
static int opts_next(struct opts *o)
{
    while (o->next < o->argc) {
        char *a = o->argv[o->next++];
        if (!o->options_ended && strcmp(a, "--") == 0) {
            o->options_ended = 1;
            continue;
        }
        if (o->options_ended || a[0] != '-' || a[1] == '\0') {
            o->argv[1 + o->n_operands++] = a; /* 1 + n_operands < next: safe */
            continue;
        }
        const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
        o->arg = a;
        o->name_len = eq ? (size_t)(eq - a) : strlen(a);
        o->value = eq ? eq + 1 : NULL;
        return 1;
    }
    return 0;
}

/* 1 if the current option's name is exactly name. */
static int opts_is(const struct opts *o, const char *name)
{
    return strlen(name) == o->name_len && strncmp(o->arg, name, o->name_len) == 0;
}

static int opts_is_help(const struct opts *o)
{
    return opts_is(o, "--help") || opts_is(o, "-h");
}

static int opts_unknown(const struct opts *o)
{
    return usage_error(o->cmd, "unknown option '%s'", o->arg);
}

/* "OPTION must be WHAT"; returns CLI_ERROR. */
static int opts_bad(const struct opts *o, const char *what)
{
    return usage_error(o->cmd, "%.*s must be %s", (int)o->name_len, o->arg, what);
}

/* The current option's value, inline or the next argument (taken even if it
** starts with '-', so "--min-score -1" is a bad number, not a missing one).
** NULL after printing a usage error. */
static const char *opts_value(struct opts *o)
{
    if (o->value) return o->value;
    if (o->next < o->argc) return o->argv[o->next++];
    usage_error(o->cmd, "%.*s needs a value", (int)o->name_len, o->arg);
    return NULL;
}

/* Accepts the current option as a flag: 0, or CLI_ERROR if given a value. */
static int opts_flag(const struct opts *o)
{
    if (o->value) return usage_error(o->cmd, "%.*s takes no value", (int)o->name_len, o->arg);
    return 0;
}

/* Reads the value as a whole decimal integer in [lo, hi]. 0, or CLI_ERROR
** after printing "OPTION must be WHAT". */
static int opts_int(struct opts *o, long long lo, long long hi, const char *what, long long *out)
{
    const char *v = opts_value(o);
    if (!v) return CLI_ERROR;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*v == '\0' || *v == ' ' || *v == '\t' || *end != '\0' || errno == ERANGE || x < lo ||
        x > hi)
        return opts_bad(o, what);
    *out = x;
    return 0;
}

/* Reads the value as a whole finite number with lo < x < hi (open bounds) or
** lo <= x <= hi (closed). 0, or CLI_ERROR after printing "OPTION must be WHAT". */
static int opts_double(struct opts *o, double lo, double hi, int open, const char *what,
                       double *out)
{
    const char *v = opts_value(o);
    if (!v) return CLI_ERROR;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    int in_range = open ? (x > lo && x < hi) : (x >= lo && x <= hi);
    if (*v == '\0' || *v == ' ' || *v == '\t' || *end != '\0' || errno == ERANGE || !isfinite(x) ||
        !in_range)
        return opts_bad(o, what);
    *out = x;
    return 0;
}

/* Options every engine command takes: --models DIR and --threads N.
** Returns 1 if the current option was one of them, 0 if not, -1 on error. */
static int opts_engine(struct opts *o, ft_engine_params *ep)
{
    if (opts_is(o, "--models")) {
        const char *v = opts_value(o);
        if (!v) return -1;
        if (!*v) {
            opts_bad(o, "a folder name");
            return -1;
        }
        ep->model_dir = v;
        return 1;
    }
    if (opts_is(o, "--threads")) {
        long long n;
        if (opts_int(o, 1, MAX_THREADS, "an integer in [1, 1024]", &n)) return -1;
        ep->n_threads = (int)n;
        return 1;
    }
    return 0;
}

/* --detector ssd|tiny: 0 or CLI_ERROR. */
static int opts_detector(struct opts *o, enum ft_detector_kind *out)
{
    const char *v = opts_value(o);
    if (!v) return CLI_ERROR;
    if (strcmp(v, "ssd") == 0)
        *out = FT_DETECTOR_SSD;
    else if (strcmp(v, "tiny") == 0)
        *out = FT_DETECTOR_TINY;
    else
        return opts_bad(o, "'ssd' or 'tiny'");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* JSON writer                                                              */
/* ------------------------------------------------------------------------ */

/* Writes one JSON value to f. Containers are opened and closed explicitly;
** jw_key (in objects) and jw_item (in arrays) write the separators, then the
** caller writes the value. Compact by default. Pretty puts object members on
** their own lines, indented by the number of open objects; arrays stay on one
** line. */
#define JW_MAX_DEPTH 8

struct jw {
    FILE *f;
    int pretty;
    int depth;
    int n_objects;           /* open objects, for the indent */
    char kind[JW_MAX_DEPTH]; /* '{' or '[' per open level */
    int count[JW_MAX_DEPTH]; /* members/items written per open level */
};

static void jw_init(struct jw *w, FILE *f, int pretty)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->pretty = pretty;
}

static void jw_newline(struct jw *w, int indent_levels)
{
    fputc('\n', w->f);
    for (int i = 0; i < indent_levels; i++)
        fputs("  ", w->f);
}

/* Writes a separator if this is not the first entry at the current level. */
static void jw_separate(struct jw *w)
{
    if (w->depth > 0 && w->count[w->depth - 1]++ > 0)
        fputs(w->pretty && w->kind[w->depth - 1] == '[' ? ", " : ",", w->f);
}

/* Opens '{' or '['. */
static void jw_open(struct jw *w, char kind)
{
    if (w->depth == JW_MAX_DEPTH) abort(); /* a bug in this file: nesting is fixed and shallow */
    fputc(kind, w->f);
    w->kind[w->depth] = kind;
    w->count[w->depth] = 0;
    w->depth++;
    if (kind == '{') w->n_objects++;
}

static void jw_close(struct jw *w)
{
    w->depth--;
    if (w->kind[w->depth] == '{') {
        w->n_objects--;
        if (w->pretty && w->count[w->depth] > 0) jw_newline(w, w->n_objects);
        fputc('}', w->f);
    } else {
        fputc(']', w->f);
    }
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one. */
static size_t utf8_seq_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned long cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        cp = (cp << 6) | (s[k] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* A JSON string: quotes, backslashes and control characters escaped; bytes
** that are not valid UTF-8 (possible in file names) become U+FFFD so that the
** output is always valid JSON. */
static void jw_str(struct jw *w, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', w->f);
    while (*p) {
        unsigned c = *p;
        size_t n = utf8_seq_len(p);
        if (n == 0) {
            fputs("\\ufffd", w->f);
            p++;
            continue;
        }
        if (n > 1) {
            fwrite(p, 1, n, w->f);
            p += n;
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", w->f); break;
        case '\\': fputs("\\\\", w->f); break;
        case '\b': fputs("\\b", w->f); break;
        case '\f': fputs("\\f", w->f); break;
        case '\n': fputs("\\n", w->f); break;
        case '\r': fputs("\\r", w->f); break;
        case '\t': fputs("\\t", w->f); break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(w->f, "\\u%04x", c);
            else
                fputc((int)c, w->f);
        }
        p++;
    }
    fputc('"', w->f);
}

/* An object member's key (with the separator before it). */
static void jw_key(struct jw *w, const char *key)
{
    jw_separate(w);
    if (w->pretty) jw_newline(w, w->n_objects);
    jw_str(w, key);
    fputs(w->pretty ? ": " : ":", w->f);
}

/* An array item's separator. */
static void jw_item(struct jw *w)
{
    jw_separate(w);
}

static void jw_double(struct jw *w, double v)
{
    if (isfinite(v))
        fprintf(w->f, "%.17g", v);
    else
        fputs("null", w->f);
}

static void jw_float(struct jw *w, float v)
{
    if (isfinite(v))
        fprintf(w->f, "%.9g", (double)v);
    else
        fputs("null", w->f);
}

static void jw_int(struct jw *w, long long v)
{
    fprintf(w->f, "%lld", v);
}

static void jw_bool(struct jw *w, int v)
{
    fputs(v ? "true" : "false", w->f);
}

static void jw_doubles(struct jw *w, const double *v, int n)
{
    jw_open(w, '[');
    for (int i = 0; i < n; i++) {
        jw_item(w);
        jw_double(w, v[i]);
    }
    jw_close(w);
}

static void jw_floats(struct jw *w, const float *v, int n)
{
    jw_open(w, '[');
    for (int i = 0; i < n; i++) {
        jw_item(w);
        jw_float(w, v[i]);
    }
    jw_close(w);
}

static void jw_ints(struct jw *w, const int *v, int n)
{
    jw_open(w, '[');
    for (int i = 0; i < n; i++) {
        jw_item(w);
        jw_int(w, v[i]);
    }
    jw_close(w);
}

/* Ends a top-level value: newline, and flush so each line is seen at once. */
static void jw_end_line(struct jw *w)
{
    fputc('\n', w->f);
    fflush(w->f);
}

/* {"file":PATH,"error":MESSAGE} on one line. */
static void write_error_line(FILE *f, const char *path, const char *message)
{
    struct jw w;
    jw_init(&w, f, 0);
    jw_open(&w, '{');
    jw_key(&w, "file");
    jw_str(&w, path);
    jw_key(&w, "error");
    jw_str(&w, message);
    jw_close(&w);
    jw_end_line(&w);
}

/* One face: box and score always; landmarks and descriptor when computed. */
static void write_face(struct jw *w, const ft_face *f)
{
    jw_open(w, '{');
    jw_key(w, "box");
    jw_doubles(w, f->box, 4);
    jw_key(w, "score");
    jw_double(w, f->score);
    if (f->has_landmarks) {
        jw_key(w, "landmarks");
        jw_open(w, '[');
        for (int i = 0; i < FT_N_LANDMARKS; i++) {
            jw_item(w);
            jw_doubles(w, f->landmarks[i], 2);
        }
        jw_close(w);
        jw_key(w, "landmark_crop");
        jw_ints(w, f->landmark_crop, 4);
    }
    if (f->has_descriptor) {
        jw_key(w, "align_rect");
        jw_ints(w, f->align_rect, 4);
        jw_key(w, "descriptor_crop");
        jw_ints(w, f->descriptor_crop, 4);
        jw_key(w, "descriptor");
        jw_floats(w, f->descriptor, FT_DESCRIPTOR_DIM);
    }
    jw_close(w);
}

/* ------------------------------------------------------------------------ */
/* Face buffer                                                              */
/* ------------------------------------------------------------------------ */

/* The faces of the last image; grows when an image has more than cap. */
struct faces {
    ft_face *v;
    int cap;
    int n;
};

static void faces_free(struct faces *fs)
{
    free(fs->v);
    fs->v = NULL;
    fs->cap = fs->n = 0;
}

/* Runs the detector on img into fs, growing fs to fit every face. On failure
** returns the status and sets *message (borrowed). */
static int detect_faces(ft_engine *eng, const ft_image *img, const ft_detect_params *dp,
                        struct faces *fs, const char **message)
{
    if (!fs->v) {
        fs->v = malloc(FACES_INITIAL_CAP * sizeof *fs->v);
        if (!fs->v) {
            *message = ft_strerror(FT_ENOMEM);
            return FT_ENOMEM;
        }
        fs->cap = FACES_INITIAL_CAP;
    }
    int n = 0;
    int rc = ft_engine_detect(eng, img, dp, fs->v, fs->cap, &n);
    if (rc == FT_OK && n > fs->cap) {
        ft_face *grown = (size_t)n <= SIZE_MAX / sizeof *grown
                             ? realloc(fs->v, (size_t)n * sizeof *grown)
                             : NULL;
        if (!grown) {
            *message = ft_strerror(FT_ENOMEM);
            return FT_ENOMEM;
        }
        fs->v = grown;
        fs->cap = n;
        rc = ft_engine_detect(eng, img, dp, fs->v, fs->cap, &n);
    }
    if (rc != FT_OK) {
        *message = engine_message(eng, rc);
        return rc;
    }
    fs->n = n < fs->cap ? n : fs->cap; /* detection is deterministic: n == cap */
    return FT_OK;
}

/* Opens the engine and, given detect parameters, loads the models they need
** (so that a missing model is one clear error, not one per image). Commands
** call it once the first input has loaded, so input errors never depend on
** the models. Prints the reason on failure; CLI_OK or CLI_ERROR. */
static int start_engine(const char *cmd, const ft_engine_params *ep, const ft_detect_params *dp,
                        ft_engine **out)
{
    char err[512] = "";
    int rc = ft_engine_open(ep, out, err, sizeof err);
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail %s: %s\n", cmd, *err ? err : ft_strerror(rc));
        if (rc == FT_EMODEL) print_model_hint(cmd);
        *out = NULL;
        return CLI_ERROR;
    }
    if (dp && (rc = ft_engine_preload(*out, dp)) != FT_OK) {
        report_engine_error(cmd, *out, rc);
        ft_engine_close(*out);
        *out = NULL;
        return CLI_ERROR;
    }
    return CLI_OK;
}

/* Loads an image, printing "facetrail CMD: MESSAGE" on failure. The message
** (naming the file) is left in err for the caller's JSON error line. */
static int load_image(const char *cmd, const char *path, size_t max_pixels, ft_image **img,
                      char *err, size_t err_len)
{
    *err = '\0';
    int rc = ft_image_load(path, max_pixels, img, err, err_len);
    if (rc != FT_OK) {
        if (!*err) snprintf(err, err_len, "%s: %s", path, ft_strerror(rc));
        fprintf(stderr, "facetrail %s: %s\n", cmd, err);
    }
    return rc;
}

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
    "  --detector ssd|tiny   face detector (default ssd)\n"
    "  --input-size N        tiny detector input size, a multiple of 32 (default 416)\n"
    "  --min-score X         lowest detector score kept, in (0, 1) (default 0.5)\n"
    "  --max-results N       most faces the ssd detector keeps (default 100)\n"
    "  --no-landmarks        no landmarks (and so no descriptors)\n"
    "  --no-descriptor       no descriptors\n"
    "  --tiny-landmarks      use the tiny 68-point landmark net\n"
    "  --max-pixels N        refuse images of more than N pixels (default 67108864)\n"
    "  --models DIR          model folder (default $FT_MODEL_DIR, else " DEFAULT_MODEL_DIR ")\n"
    "  --threads N           worker threads (default 1)\n"
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
    ep.n_threads = 1;
    ft_detect_params dp = ft_detect_default_params();
    size_t max_pixels = 0;
    int pretty = 0;
    long long n;
    double x;

    struct opts o;
    opts_init(&o, argc, argv);
    while (opts_next(&o)) {
        int r = opts_engine(&o, &ep);
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
    "  --threads N           worker threads (default 1)\n"
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
    ep.n_threads = 1;
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
    "  --detector ssd|tiny   face detector (default ssd)\n"
    "  --threshold X         largest distance of a match, > 0 (default 0.6)\n"
    "  --json                print {\"a\":..,\"b\":..,\"distance\":..,\"threshold\":..,\n"
    "                        \"same\":..,\"a_box\":[..],\"b_box\":[..]} instead\n"
    "  --models DIR          model folder (default $FT_MODEL_DIR, else " DEFAULT_MODEL_DIR ")\n"
    "  --threads N           worker threads (default 1)\n"
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
    ep.n_threads = 1;
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
    { "compare", cmd_compare, compare_usage }, { "version", cmd_version, version_usage },
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
