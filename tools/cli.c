/*
** tools/cli.c: helpers shared by the facetrail commands (see cli.h).
*/
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
/* ------------------------------------------------------------------------ */
/* Messages                                                                 */
/* ------------------------------------------------------------------------ */

const char *cli_program = "facetrail";

/* Prints "facetrail CMD: MESSAGE" and a hint to stderr; returns CLI_ERROR.
** Without cli_program (a benchmark): "CMD: MESSAGE (see --help)", one line. */
int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (cli_program) fprintf(stderr, "%s ", cli_program);
    fprintf(stderr, "%s: ", cmd);
    vfprintf(stderr, fmt, ap);
    if (cli_program)
        fprintf(stderr, "\ntry '%s %s --help'\n", cli_program, cmd);
    else
        fputs(" (see --help)\n", stderr);
    va_end(ap);
    return CLI_ERROR;
}

/* Prints a command's usage text to stdout (for --help); returns CLI_OK. */
int print_help(const char *text)
{
    fputs(text, stdout);
    return CLI_OK;
}

/* The message for a failed engine call: the engine's own text, else the
** generic one for the status. Borrowed, valid until the next engine call. */
const char *engine_message(const ft_engine *eng, int status)
{
    const char *m = eng ? ft_engine_errmsg(eng) : NULL;
    return (m && *m) ? m : ft_strerror(status);
}

void print_model_hint(const char *cmd)
{
    fprintf(stderr,
            "facetrail %s: hint: fetch the models with 'make models', or point --models "
            "(or FT_MODEL_DIR) at them\n",
            cmd);
}

/* Prints an engine failure and, for a model problem, where models come from. */
void report_engine_error(const char *cmd, const ft_engine *eng, int status)
{
    fprintf(stderr, "facetrail %s: %s\n", cmd, engine_message(eng, status));
    if (status == FT_EMODEL) print_model_hint(cmd);
}

/* Model folder when --models is not given, as the library finds it
** ($FT_MODEL_DIR, beside the program, the install folder); NULL when none is
** found: ft_engine_open then reports every place it looked in. */
const char *default_model_dir(void)
{
    static char dir[4096];
    return ft_engine_default_model_dir(dir, sizeof dir, NULL, 0) == FT_OK ? dir : NULL;
}

const char *detector_name(enum ft_detector_kind kind)
{
    return kind == FT_DETECTOR_TINY    ? "tiny_face_detector"
           : kind == FT_DETECTOR_YUNET ? "yunet_n"
                                       : "ssd_mobilenetv1";
}

/* Engine failures that would repeat on every input: stop instead of going on. */
int is_fatal(int status)
{
    return status == FT_EMODEL || status == FT_EBACKEND || status == FT_EINVAL;
}

/* ------------------------------------------------------------------------ */
/* Option walker                                                            */
/* ------------------------------------------------------------------------ */

void opts_init(struct opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->cmd = argv[0];
    o->argc = argc;
    o->argv = argv;
    o->next = 1;
}

/* Moves to the next option, packing operands on the way. Returns 1 when
** positioned on an option, 0 when argv is used up. */
int opts_next(struct opts *o)
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
int opts_is(const struct opts *o, const char *name)
{
    return strlen(name) == o->name_len && strncmp(o->arg, name, o->name_len) == 0;
}

int opts_is_help(const struct opts *o)
{
    return opts_is(o, "--help") || opts_is(o, "-h");
}

int opts_unknown(const struct opts *o)
{
    return usage_error(o->cmd, "unknown option '%s'", o->arg);
}

/* "OPTION must be WHAT"; returns CLI_ERROR. */
int opts_bad(const struct opts *o, const char *what)
{
    return usage_error(o->cmd, "%.*s must be %s", (int)o->name_len, o->arg, what);
}

/* The current option's value, inline or the next argument (taken even if it
** starts with '-', so "--min-score -1" is a bad number, not a missing one).
** NULL after printing a usage error. */
const char *opts_value(struct opts *o)
{
    if (o->value) return o->value;
    if (o->next < o->argc) return o->argv[o->next++];
    usage_error(o->cmd, "%.*s needs a value", (int)o->name_len, o->arg);
    return NULL;
}

/* Accepts the current option as a flag: 0, or CLI_ERROR if given a value. */
int opts_flag(const struct opts *o)
{
    if (o->value) return usage_error(o->cmd, "%.*s takes no value", (int)o->name_len, o->arg);
    return 0;
}

/* Reads the value as a whole decimal integer in [lo, hi]. 0, or CLI_ERROR
** after printing "OPTION must be WHAT". */
int opts_int(struct opts *o, long long lo, long long hi, const char *what, long long *out)
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
int opts_double(struct opts *o, double lo, double hi, int open, const char *what, double *out)
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
int opts_engine(struct opts *o, ft_engine_params *ep)
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

/* --detector yunet|ssd|tiny: 0 or CLI_ERROR. */
int opts_detector(struct opts *o, enum ft_detector_kind *out)
{
    const char *v = opts_value(o);
    if (!v) return CLI_ERROR;
    if (strcmp(v, "yunet") == 0)
        *out = FT_DETECTOR_YUNET;
    else if (strcmp(v, "ssd") == 0)
        *out = FT_DETECTOR_SSD;
    else if (strcmp(v, "tiny") == 0)
        *out = FT_DETECTOR_TINY;
    else
        return opts_bad(o, "'yunet', 'ssd' or 'tiny'");
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

void jw_init(struct jw *w, FILE *f, int pretty)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->pretty = pretty;
}

void jw_newline(struct jw *w, int indent_levels)
{
    fputc('\n', w->f);
    for (int i = 0; i < indent_levels; i++)
        fputs("  ", w->f);
}

/* Writes a separator if this is not the first entry at the current level. */
void jw_separate(struct jw *w)
{
    if (w->depth > 0 && w->count[w->depth - 1]++ > 0)
        fputs(w->pretty && w->kind[w->depth - 1] == '[' ? ", " : ",", w->f);
}

/* Opens '{' or '['. */
void jw_open(struct jw *w, char kind)
{
    if (w->depth == JW_MAX_DEPTH) abort(); /* a bug in this file: nesting is fixed and shallow */
    fputc(kind, w->f);
    w->kind[w->depth] = kind;
    w->count[w->depth] = 0;
    w->depth++;
    if (kind == '{') w->n_objects++;
}

void jw_close(struct jw *w)
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
size_t utf8_seq_len(const unsigned char *s)
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
void jw_str(struct jw *w, const char *s)
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
void jw_key(struct jw *w, const char *key)
{
    jw_separate(w);
    if (w->pretty) jw_newline(w, w->n_objects);
    jw_str(w, key);
    fputs(w->pretty ? ": " : ":", w->f);
}

/* An array item's separator. */
void jw_item(struct jw *w)
{
    jw_separate(w);
}

void jw_double(struct jw *w, double v)
{
    if (isfinite(v))
        fprintf(w->f, "%.17g", v);
    else
        fputs("null", w->f);
}

void jw_float(struct jw *w, float v)
{
    if (isfinite(v))
        fprintf(w->f, "%.9g", (double)v);
    else
        fputs("null", w->f);
}

void jw_int(struct jw *w, long long v)
{
    fprintf(w->f, "%lld", v);
}

void jw_bool(struct jw *w, int v)
{
    fputs(v ? "true" : "false", w->f);
}

void jw_doubles(struct jw *w, const double *v, int n)
{
    jw_open(w, '[');
    for (int i = 0; i < n; i++) {
        jw_item(w);
        jw_double(w, v[i]);
    }
    jw_close(w);
}

void jw_floats(struct jw *w, const float *v, int n)
{
    jw_open(w, '[');
    for (int i = 0; i < n; i++) {
        jw_item(w);
        jw_float(w, v[i]);
    }
    jw_close(w);
}

void jw_ints(struct jw *w, const int *v, int n)
{
    jw_open(w, '[');
    for (int i = 0; i < n; i++) {
        jw_item(w);
        jw_int(w, v[i]);
    }
    jw_close(w);
}

/* Ends a top-level value: newline, and flush so each line is seen at once. */
void jw_end_line(struct jw *w)
{
    fputc('\n', w->f);
    fflush(w->f);
}

/* {"file":PATH,"error":MESSAGE} on one line. */
void write_error_line(FILE *f, const char *path, const char *message)
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
void write_face(struct jw *w, const ft_face *f)
{
    jw_open(w, '{');
    jw_key(w, "box");
    jw_doubles(w, f->box, 4);
    jw_key(w, "score");
    jw_double(w, f->score);
    if (f->has_points5) {
        jw_key(w, "points5");
        jw_open(w, '[');
        for (int i = 0; i < 5; i++) {
            jw_item(w);
            jw_doubles(w, f->points5[i], 2);
        }
        jw_close(w);
    }
    if (f->has_landmarks) {
        int nl = f->n_landmarks > 0 && f->n_landmarks <= FT_N_LANDMARKS ? f->n_landmarks
                                                                        : FT_N_LANDMARKS;
        jw_key(w, "landmarks");
        jw_open(w, '[');
        for (int i = 0; i < nl; i++) {
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

void faces_free(struct faces *fs)
{
    free(fs->v);
    fs->v = NULL;
    fs->cap = fs->n = 0;
}

/* Runs the detector on img into fs, growing fs to fit every face. On failure
** returns the status and sets *message (borrowed). */
int detect_faces(ft_engine *eng, const ft_image *img, const ft_detect_params *dp, struct faces *fs,
                 const char **message)
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
int start_engine(const char *cmd, const ft_engine_params *ep, const ft_detect_params *dp,
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
int load_image(const char *cmd, const char *path, size_t max_pixels, ft_image **img, char *err,
               size_t err_len)
{
    *err = '\0';
    int rc = ft_image_load(path, max_pixels, img, err, err_len);
    if (rc != FT_OK) {
        if (!*err) snprintf(err, err_len, "%s: %s", path, ft_strerror(rc));
        fprintf(stderr, "facetrail %s: %s\n", cmd, err);
    }
    return rc;
}

int default_threads(void)
{
    /* One: XNNPACK's worker pool spins while it waits, so on a machine whose
    ** other cores are busy (ingests run one per camera, one per core) two
    ** threads were measured 5x slower than one. --threads N is for one big
    ** job on an otherwise idle machine. */
    return 1;
}

int opts_pipeline(struct opts *o, ft_detect_params *dp)
{
    long long n;
    double x;
    if (opts_is(o, "--pipeline")) {
        const char *v = opts_value(o);
        if (!v) return -1;
        const char *space = !strcmp(v, "dlib")      ? "dlib-chip5-mirror"
                            : !strcmp(v, "faceapi") ? "faceapi-crop"
                                                    : v;
        if (ft_detect_params_for_space(space, dp) != FT_OK) {
            opts_bad(o, "dlib (dlib-chip5-mirror, the default), dlib-chip5, dlib-yunet5, faceapi "
                        "(faceapi-crop) or faceapi-chip68");
            return -1;
        }
        if (dp->landmarks == FT_LANDMARKS_68) dp->tile_px = 0;
        return 1;
    }
    if (opts_is(o, "--align")) {
        const char *v = opts_value(o);
        if (!v) return -1;
        if (!strcmp(v, "faceapi"))
            dp->align = FT_ALIGN_FACEAPI;
        else if (!strcmp(v, "dlib"))
            dp->align = FT_ALIGN_DLIB;
        else {
            opts_bad(o, "faceapi or dlib");
            return -1;
        }
        return 1;
    }
    if (opts_is(o, "--mirror")) {
        if (opts_flag(o)) return -1;
        dp->mirror = 1;
        return 1;
    }
    if (opts_is(o, "--tile")) {
        if (opts_int(o, 0, 65536, "0 (off) or a tile size in pixels, at least 32", &n)) return -1;
        if (n != 0 && n < 32) {
            opts_bad(o, "0 (off) or a tile size in pixels, at least 32");
            return -1;
        }
        dp->tile_px = (int)n;
        return 1;
    }
    if (opts_is(o, "--tile-overlap")) {
        if (opts_double(o, 0, 0.75, 0, "a fraction in [0, 0.75]", &x)) return -1;
        dp->tile_overlap = (float)x;
        return 1;
    }
    if (opts_is(o, "--min-face")) {
        if (opts_int(o, 0, 100000, "a face height in pixels", &n)) return -1;
        dp->min_face_px = (int)n;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Times                                                                    */
/* ------------------------------------------------------------------------ */

int parse_time(const char *s, int64_t *out_us)
{
    return ft_time_parse(s, NULL, out_us, NULL, NULL, 0) == FT_OK ? 0 : -1;
}

void format_time(int64_t us, char buf[40])
{
    ft_time_format(us, NULL, FT_TIME_ISO_UTC, buf, 40);
}

void format_time_local(int64_t us, const char *zone, int with_date, char *buf, size_t len)
{
    ft_time_format(us, zone,
                   with_date == 2 ? FT_TIME_LOCAL_DATE
                   : with_date    ? FT_TIME_LOCAL_PLAIN
                                  : FT_TIME_LOCAL_CLOCK,
                   buf, len);
}

int event_zone(const char *cmd, ft_store *st, const char *tz, char *zone, size_t len)
{
    if (tz) {
        if (!ft_time_zone_valid(tz) || !*tz)
            return usage_error(cmd,
                               "--tz '%s' is not a time zone this system knows (use a "
                               "name such as Europe/Paris, or UTC)",
                               tz);
        snprintf(zone, len, "%s", tz);
        return CLI_OK;
    }
    if (st && ft_store_meta_get(st, EVENT_ZONE_KEY, zone, len) == FT_OK && *zone &&
        ft_time_zone_valid(zone))
        return CLI_OK;
    ft_time_local_zone(zone, len);
    return CLI_OK;
}

int parse_id_list(const char *text, int64_t *ids, int max, int *n)
{
    while (*text) {
        char *end;
        errno = 0;
        long long id = strtoll(text, &end, 10);
        if (end == text || errno || id < 1 || (*end && *end != ',') || *n >= max) return -1;
        ids[(*n)++] = id;
        text = *end ? end + 1 : end;
    }
    return 0;
}

int parse_time_arg(const char *cmd, const char *option, const char *text, const char *zone,
                   int quiet, int64_t *out_us)
{
    char err[256];
    ft_time_parsed info;
    if (ft_time_parse(text, zone, out_us, &info, err, sizeof err) != FT_OK)
        return usage_error(cmd, "%s %s", option, err);
    if (!info.had_offset && !quiet) {
        char iso[FT_TIME_TEXT_MAX];
        ft_time_format(*out_us, zone, FT_TIME_ISO_LOCAL, iso, sizeof iso);
        fprintf(stderr, "note: %s %s read as %s time, %s%s; write Z or +hh:mm to say otherwise\n",
                option, text, zone, iso,
                info.ambiguous ? " (it occurs twice that night: the first one)" : "");
    }
    return CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* Output files                                                             */
/* ------------------------------------------------------------------------ */

/* What the first bytes of an existing file say it is, if it is something an
** output must never replace silently; NULL otherwise. */
static const char *precious_kind(const unsigned char *b, size_t n)
{
    if (n >= 16 && memcmp(b, "SQLite format 3", 16) == 0) return "a SQLite database";
    if (n >= 8 && memcmp(b + 4, "ftyp", 4) == 0) return "a video (MP4/MOV)";
    if (n >= 4 && memcmp(b, "\x1a\x45\xdf\xa3", 4) == 0) return "a video (Matroska/WebM)";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "AVI ", 4) == 0)
        return "a video (AVI)";
    if (n >= 3 && memcmp(b, "FLV", 3) == 0) return "a video (FLV)";
    if (n >= 189 && b[0] == 0x47 && b[188] == 0x47) return "a video (MPEG-TS)";
    if (n >= 4 && memcmp(b, "\x00\x00\x01\xba", 4) == 0) return "a video (MPEG-PS)";
    if (n >= 8 && memcmp(b + 4, "moov", 4) == 0) return "a video (QuickTime)";
    if (n >= 3 && memcmp(b, "\xff\xd8\xff", 3) == 0) return "a JPEG image";
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return "a PNG image";
    return NULL;
}

int out_open(struct out_file *o, const char *cmd, const char *path, int force,
             const char *const *inputs, int n_inputs)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->path = path;
    o->fd = -1;
    struct stat sp;
    int exists = stat(path, &sp) == 0;
    if (exists && S_ISDIR(sp.st_mode)) {
        fprintf(stderr, "facetrail %s: %s is a folder; give a file name for the report\n", cmd,
                path);
        return CLI_ERROR;
    }
    /* never an input, whatever --force says: it is being read */
    for (int i = 0; exists && i < n_inputs; i++) {
        struct stat si;
        if (inputs[i] && stat(inputs[i], &si) == 0 && si.st_dev == sp.st_dev &&
            si.st_ino == sp.st_ino) {
            fprintf(stderr,
                    "facetrail %s: will not write the report over %s, an input of this "
                    "command; choose another file name\n",
                    cmd, path);
            return CLI_ERROR;
        }
    }
    if (exists && !force) {
        unsigned char b[192];
        size_t n = 0;
        FILE *f = fopen(path, "rb");
        if (f) {
            n = fread(b, 1, sizeof b, f);
            fclose(f);
        }
        const char *kind = precious_kind(b, n);
        if (kind) {
            fprintf(stderr,
                    "facetrail %s: %s exists and is %s; not replacing it with a report "
                    "(choose another file name, or --force)\n",
                    cmd, path, kind);
            return CLI_ERROR;
        }
    }
    /* write beside the target, then rename: a failure never leaves half a file */
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    int need = snprintf(NULL, 0, "%.*s.%s.XXXXXX", (int)dir_len, path, path + dir_len);
    o->tmp = malloc((size_t)need + 1);
    if (!o->tmp) {
        fprintf(stderr, "facetrail %s: out of memory\n", cmd);
        return CLI_ERROR;
    }
    snprintf(o->tmp, (size_t)need + 1, "%.*s.%s.XXXXXX", (int)dir_len, path, path + dir_len);
    o->fd = mkstemp(o->tmp);
    if (o->fd < 0 || !(o->f = fdopen(o->fd, "w"))) {
        fprintf(stderr, "facetrail %s: cannot write %s: %s\n", cmd, path, strerror(errno));
        if (o->fd >= 0) {
            close(o->fd);
            unlink(o->tmp);
        }
        free(o->tmp);
        o->tmp = NULL;
        return CLI_ERROR;
    }
    fchmod(o->fd, 0644 & ~o_umask());
    return CLI_OK;
}

int out_commit(struct out_file *o)
{
    int bad = ferror(o->f);
    if (fflush(o->f) != 0 || fsync(o->fd) != 0) bad = 1;
    int err = errno;
    if (fclose(o->f) != 0) bad = 1, err = errno;
    o->f = NULL;
    if (!bad && rename(o->tmp, o->path) != 0) bad = 1, err = errno;
    if (bad) {
        fprintf(stderr, "facetrail %s: cannot write %s: %s\n", o->cmd, o->path, strerror(err));
        unlink(o->tmp);
    }
    free(o->tmp);
    o->tmp = NULL;
    return bad ? CLI_ERROR : CLI_OK;
}

void out_abort(struct out_file *o)
{
    if (o->f) fclose(o->f);
    if (o->tmp) {
        unlink(o->tmp);
        free(o->tmp);
    }
    memset(o, 0, sizeof *o);
}

mode_t o_umask(void)
{
    mode_t m = umask(022);
    umask(m);
    return m;
}

void os_user(char *out, size_t len)
{
    struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name && *pw->pw_name)
        snprintf(out, len, "%s", pw->pw_name);
    else
        snprintf(out, len, "uid %u", (unsigned)geteuid());
}

int cli_audit(const char *cmd, const char *db, const char *action, const char *reason,
              const char *photo, int64_t results, const char *detail)
{
    ft_audit a;
    memset(&a, 0, sizeof a);
    os_user(a.who, sizeof a.who);
    snprintf(a.role, sizeof a.role, "admin");
    snprintf(a.action, sizeof a.action, "%s", action);
    snprintf(a.reason, sizeof a.reason, "%s", reason ? reason : "");
    snprintf(a.detail, sizeof a.detail, "%s", detail ? detail : "");
    a.results = results;
    if (photo) { /* the file's digest, never the file */
        FILE *f = fopen(photo, "rb");
        unsigned char *buf = NULL;
        long n = -1;
        if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
            (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
            ft_sha256_hex(buf, (size_t)n, a.photo_sha256);
        free(buf);
        if (f) fclose(f);
    }
    ft_store *st;
    int rc = ft_store_open(db, 0, &st);
    if (rc == FT_OK) {
        rc = ft_store_audit_append(st, &a);
        if (rc != FT_OK)
            fprintf(stderr, "facetrail %s: not audited: %s\n", cmd, ft_store_errmsg(st));
        ft_store_close(st);
    } else {
        fprintf(stderr, "facetrail %s: not audited: %s\n", cmd, ft_store_errmsg(NULL));
    }
    return rc == FT_OK ? CLI_OK : CLI_ERROR;
}
