/*
** tools/cli.h: what every facetrail command shares: messages, the option
** walker (struct opts), the JSON writer (struct jw), the growing face buffer
** and the engine/image helpers. Uses only include/facetrail.h.
*/
#ifndef FT_TOOLS_CLI_H
#define FT_TOOLS_CLI_H

#include "facetrail.h"
#include "facetrail/store.h"
#include "facetrail/time.h"

#include <stddef.h>
#include <stdio.h>

enum { CLI_OK = 0, CLI_DIFFERENT = 1, CLI_ERROR = 2 };

/* For help texts: where the models are found without --models and $FT_MODEL_DIR
** (ft_engine_default_model_dir). */
#define DEFAULT_MODEL_DIR "models/face-api/model beside the program or installed"
#define FACES_INITIAL_CAP 64
#define MAX_THREADS       1024
#define JW_MAX_DEPTH      8

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

struct jw {
    FILE *f;
    int pretty;
    int depth;
    int n_objects;           /* open objects, for the indent */
    char kind[JW_MAX_DEPTH]; /* '{' or '[' per open level */
    int count[JW_MAX_DEPTH]; /* members/items written per open level */
};

/* The faces of the last image; grows when an image has more than cap. */
struct faces {
    ft_face *v;
    int cap;
    int n;
};

/* The program usage_error names before the command: "facetrail". A program
** that is its own command (a benchmark: bench/util.h) sets it to NULL, and
** its usage errors are one line, "CMD: MESSAGE (see --help)". */
extern const char *cli_program;
/* Prints "facetrail CMD: MESSAGE" and a hint to stderr; returns CLI_ERROR. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int print_help(const char *text);
const char *engine_message(const ft_engine *eng, int status);
void print_model_hint(const char *cmd);
void report_engine_error(const char *cmd, const ft_engine *eng, int status);
const char *default_model_dir(void);
const char *detector_name(enum ft_detector_kind kind);
int is_fatal(int status);
void opts_init(struct opts *o, int argc, char **argv);
int opts_next(struct opts *o);
int opts_is(const struct opts *o, const char *name);
int opts_is_help(const struct opts *o);
int opts_unknown(const struct opts *o);
int opts_bad(const struct opts *o, const char *what);
const char *opts_value(struct opts *o);
int opts_flag(const struct opts *o);
int opts_int(struct opts *o, long long lo, long long hi, const char *what, long long *out);
int opts_double(struct opts *o, double lo, double hi, int open, const char *what, double *out);
int opts_engine(struct opts *o, ft_engine_params *ep);
/* Pipeline options shared by detect, compare and the evaluations: --align
** faceapi|dlib, --mirror, --tile N, --tile-overlap X, --min-face N. Returns 1
** when it consumed the option, 0 when it is not one of these, -1 on a usage
** error (already printed). */
int opts_pipeline(struct opts *o, ft_detect_params *dp);
/* Help lines for opts_pipeline's options. */
#define PIPELINE_OPTIONS_HELP                                                               \
    "  --pipeline NAME       how descriptors are made: dlib (default, dlib-chip5-mirror:\n" \
    "                        YuNet, dlib's 5 points and chip, dlib's net, averaged with\n"  \
    "                        the mirror image), dlib-chip5 (no mirror), dlib-yunet5 (the\n" \
    "                        chip from YuNet's points), faceapi (SSD, 68 points, face-\n"   \
    "                        api's crop and net, as face-api.js), faceapi-chip68 (dlib's\n" \
    "                        chip); give it before --detector to choose another detector\n" \
    "  --align faceapi|dlib  face-api pipelines: face-api's crop or dlib's aligned chip\n"  \
    "  --mirror              average the descriptors of the chip and its mirror image\n"    \
    "  --tile N              small-face mode: also detect on overlapping N-pixel tiles\n"   \
    "  --tile-overlap X      fraction of a tile shared with its neighbour (default 0.25)\n" \
    "  --min-face N          drop faces shorter than N pixels\n"
int opts_detector(struct opts *o, enum ft_detector_kind *out);
void jw_init(struct jw *w, FILE *f, int pretty);
void jw_newline(struct jw *w, int indent_levels);
void jw_separate(struct jw *w);
void jw_open(struct jw *w, char kind);
void jw_close(struct jw *w);
size_t utf8_seq_len(const unsigned char *s);
void jw_str(struct jw *w, const char *s);
void jw_key(struct jw *w, const char *key);
void jw_item(struct jw *w);
void jw_double(struct jw *w, double v);
void jw_float(struct jw *w, float v);
void jw_int(struct jw *w, long long v);
void jw_bool(struct jw *w, int v);
void jw_doubles(struct jw *w, const double *v, int n);
void jw_floats(struct jw *w, const float *v, int n);
void jw_ints(struct jw *w, const int *v, int n);
void jw_end_line(struct jw *w);
void write_error_line(FILE *f, const char *path, const char *message);
void write_face(struct jw *w, const ft_face *f);
void faces_free(struct faces *fs);
int detect_faces(ft_engine *eng, const ft_image *img, const ft_detect_params *dp, struct faces *fs,
                 const char **message);
int start_engine(const char *cmd, const ft_engine_params *ep, const ft_detect_params *dp,
                 ft_engine **out);
/* Worker threads when --threads is not given: 1 (see cli.c). */
int default_threads(void);
int load_image(const char *cmd, const char *path, size_t max_pixels, ft_image **img, char *err,
               size_t err_len);

/* ISO 8601 date-time to microseconds since the epoch (facetrail/time.h;
** without an offset: the process's zone). 0, or -1 if not a valid time. */
int parse_time(const char *s, int64_t *out_us);
/* Microseconds since the epoch as "2026-04-12T09:30:00.000Z" (JSON). */
void format_time(int64_t us, char buf[40]);
/* For people, in zone: "2026-04-12 11:30:00 CEST" (with_date 2),
** "2026-04-12 11:30:00" (1) or "11:30:00" (0). */
void format_time_local(int64_t us, const char *zone, int with_date, char *buf, size_t len);

/* The event database's meta key that holds the event's time zone. */
#define EVENT_ZONE_KEY "timezone"
/* The zone in which times are read and shown: --tz (tz, checked), else the
** event's (st's meta, when st), else the process's ($TZ or the system's).
** CLI_OK, or CLI_ERROR after a usage message for a bad --tz. */
int event_zone(const char *cmd, ft_store *st, const char *tz, char *zone, size_t len);
/* Parses an option's time; one without an offset is read in zone, and a
** note on stderr says so (unless quiet). CLI_OK, or CLI_ERROR after a usage
** message naming the option and what is wrong with the time. */
/* Appends the sighting numbers of text ("12,40,7": positive integers
** separated by commas) to ids[*n ..], at most max in all; 0, or -1 for
** malformed text or too many (ids may then hold part of them). */
int parse_id_list(const char *text, int64_t *ids, int max, int *n);
int parse_time_arg(const char *cmd, const char *option, const char *text, const char *zone,
                   int quiet, int64_t *out_us);

/* An output file (a report) written safely: to a temporary file beside the
** target, renamed over it only when complete. out_open refuses a target that
** is one of the command's inputs (always: it is being read), a folder, or an
** existing file whose first bytes say it is a database, a video or an image
** (unless force). Messages are printed; CLI_OK or CLI_ERROR. */
struct out_file {
    const char *cmd, *path;
    char *tmp;
    int fd;
    FILE *f; /* write here between out_open and out_commit */
};
int out_open(struct out_file *o, const char *cmd, const char *path, int force,
             const char *const *inputs, int n_inputs);
/* Flushes, syncs and renames into place; on failure removes the temporary
** file and leaves the target as it was. */
int out_commit(struct out_file *o);
/* Removes the temporary file; the target is untouched. */
void out_abort(struct out_file *o);
#include <sys/types.h>
mode_t o_umask(void);

/* Commands defined outside tools/facetrail.c. */
extern const char eval_usage[];
int cmd_eval(int argc, char **argv);
int cmd_eval_lfw(int argc, char **argv);   /* argv[0] = "lfw" */
int cmd_eval_wider(int argc, char **argv); /* argv[0] = "wider" */
extern const char eval_strangers_usage[];
int cmd_eval_strangers(int argc, char **argv); /* argv[0] = "strangers" */
extern const char camera_usage[], ingest_usage[], search_usage[], serve_usage[];
extern const char cluster_usage[];
int cmd_camera(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
extern const char watch_usage[];
int cmd_watch(int argc, char **argv);
extern const char token_usage[];
int cmd_token(int argc, char **argv);
/* The OS user this process runs as; "uid N" when it has no name. */
void os_user(char *out, size_t len);
/* Appends a record to db's audit log as the local admin (the OS user, role
** "admin"): action, reason (or NULL), the SHA-256 of the file photo (or
** NULL), results and a detail line. Opens db for writing; a database the
** user cannot write is reported on stderr ("not audited") and CLI_ERROR
** returned. */
int cli_audit(const char *cmd, const char *db, const char *action, const char *reason,
              const char *photo, int64_t results, const char *detail);
extern const char audit_usage[], purge_usage[];
int cmd_audit(int argc, char **argv);
int cmd_purge(int argc, char **argv);

#endif
