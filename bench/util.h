/*
** bench/util.h: helpers shared by the benchmark programs (bench/util.c),
** linked into every bench/bench_*.c binary.
**
** DESIGN
**   A benchmark is a program, not a library: on any error it prints one line
**   "NAME: message" on stderr and exits with status 2 (die); allocation
**   failures die too (xcalloc, xrealloc, xstrdup). NAME is set once with
**   util_set_name (default: the program's file name).
**   Random draws come from independent splitmix64 streams, each seeded by
**   (seed, purpose, index) (rng_for): a value never depends on the order in
**   which work is done, so a result is reproducible from its seed alone.
**   rng_for_name makes the index from a name (str_hash), so that per-person
**   draws do not depend on where the person sits in a list either.
*/
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include "facetrail.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define UTIL_PATH_MAX 4096 /* longest path the helpers build */

/* The name die() prints before its message. */
void util_set_name(const char *name);
/* Prints "NAME: message" on stderr and exits with status 2. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* calloc/realloc/strdup that die when out of memory (0 sizes allowed). */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* -- options ---------------------------------------------------------------- */

/* Argument walker: "--name value" or "--name=value".
**     args a = { argc, 1, argv, NULL, 0, NULL };
**     for (; a.i < argc; a.i++) { arg_split(&a); if (arg_is(&a, "--x")) ... }
** The value readers die with "--name 'v': expected ..." on a bad value. */
typedef struct args {
    int argc, i;
    char **argv;
    const char *name; /* current option, without any "=value" */
    size_t name_len;
    const char *value; /* inline value or NULL */
} args;

/* Splits argv[a->i] into name and inline value; dies on an operand (a word
** that does not start with "--"). */
void arg_split(args *a);
/* Whether the current option is name. */
int arg_is(const args *a, const char *name);
/* The option's value: inline, or the next word (dies if there is none). */
const char *arg_value(args *a);
/* The value as a number in [lo, hi], an integer in [lo, hi], an unsigned
** 64-bit integer. */
double arg_double(args *a, double lo, double hi);
int arg_int(args *a, long lo, long hi);
uint64_t arg_u64(args *a);

/* -- random numbers --------------------------------------------------------- */

/* splitmix64: small, fast, and good enough for simulation draws. */
typedef struct rng {
    uint64_t s;
} rng;

uint64_t rng_next(rng *r);
/* The stream for (seed, purpose, index): independent of every other one. */
rng rng_for(uint64_t seed, int purpose, uint64_t index);
/* The stream for (seed, purpose, name): rng_for with index str_hash(name). */
rng rng_for_name(uint64_t seed, int purpose, const char *name);
/* Uniform in [lo, hi). */
double uniform(rng *r, double lo, double hi);
/* Uniform integer in 0 .. n-1 (n >= 1). */
int uniform_int(rng *r, int n);
/* Standard normal (Box-Muller). */
double normal(rng *r);
/* Fisher-Yates shuffle of v[0 .. n). */
void shuffle_ints(int *v, int n, rng *r);

/* 64-bit FNV-1a of len bytes, continuing from h (start with HASH_INIT). */
#define HASH_INIT 0xcbf29ce484222325ull
uint64_t hash_bytes(uint64_t h, const void *p, size_t len);
/* FNV-1a of a NUL-terminated string, then mixed (splitmix64's finaliser). */
uint64_t str_hash(const char *s);

/* -- numbers and pixels ----------------------------------------------------- */

/* x limited to [lo, hi] (inline: renderers call it per pixel). */
static inline double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* x rounded to the nearest byte value, clamped to 0..255. */
uint8_t clamp_u8(double x);

/* Bilinear sample of img at (x, y) (pixel centres at integer + 0.5), edges
** clamped (edge pixels repeat); out gets 3 floats. Inline: renderers call
** it several times per pixel. */
static inline void sample_bilinear(const ft_image *img, double x, double y, float out[3])
{
    x -= 0.5, y -= 0.5;
    x = clampd(x, 0, img->width - 1), y = clampd(y, 0, img->height - 1);
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < img->width ? x0 + 1 : x0, y1 = y0 + 1 < img->height ? y0 + 1 : y0;
    float fx = (float)(x - x0), fy = (float)(y - y0);
    const uint8_t *a = img->rgb + 3 * ((size_t)y0 * img->width + x0);
    const uint8_t *b = img->rgb + 3 * ((size_t)y0 * img->width + x1);
    const uint8_t *c = img->rgb + 3 * ((size_t)y1 * img->width + x0);
    const uint8_t *d = img->rgb + 3 * ((size_t)y1 * img->width + x1);
    for (int k = 0; k < 3; k++) {
        float top = a[k] + (b[k] - a[k]) * fx, bot = c[k] + (d[k] - c[k]) * fx;
        out[k] = top + (bot - top) * fy;
    }
}

/* -- time ------------------------------------------------------------------- */

/* ISO 8601 ("2026-04-12T09:00:00Z", fractional seconds, +hh:mm offsets; no
** zone means UTC) to microseconds since the epoch; -1 if malformed. Both
** are the library's (ft_time_parse, ft_time_format): the CLI, the server
** and the benchmarks read and write times one way. */
int parse_time(const char *s, int64_t *out_us);
/* Microseconds since the epoch as "2026-04-12T09:30:00.000Z". */
void format_time(int64_t us, char buf[40]);
/* Monotonic clock in seconds. */
double now_s(void);

/* -- files ------------------------------------------------------------------ */

/* Creates path and its parents (mkdir -p); dies on failure or if path is
** not a folder. */
void mkdir_p(const char *path);
/* buf = a "/" b ext; dies when it does not fit. */
void join_path(char *buf, size_t size, const char *a, const char *b, const char *ext);
/* The part of path after its last '/'. */
const char *base_name(const char *path);
/* Sorted names of the entries of dir (no dot files); dirs_only: folders
** only, else regular files ending in ".jpg". Dies if dir cannot be read.
** Free with free_list. */
char **list_dir(const char *dir, int dirs_only, int *n_out /* OUT */);
void free_list(char **v, int n);
/* A JSON string, quoted and escaped. */
void json_str(FILE *f, const char *s);

#endif /* BENCH_UTIL_H */
