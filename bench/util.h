/*
** bench/util.h: helpers shared by the benchmark programs (bench/util.c),
** linked into every bench/bench_*.c binary with tools/cli.c (the option
** walker and the JSON writer of the CLI).
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

#include "../tools/cli.h"
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

/* The option walker is the CLI's (struct opts, tools/cli.h: "--name value",
** "--name=value"); these take its values and end the program (status 2) on
** a bad one, after the walker's message "NAME: --option must be ...".
**     struct opts a;
**     xopts_init(&a, argc, argv);
**     while (xopts_next(&a)) { if (opts_is(&a, "--x")) x = xopts_int(&a, 1, 9); ... }
** A benchmark takes no operands: xopts_next ends the program on one. */
void xopts_init(struct opts *a, int argc, char **argv);
int xopts_next(struct opts *a);
const char *xopts_value(struct opts *a);
void xopts_flag(const struct opts *a);
/* The value as an integer in [lo, hi], a number in [lo, hi], an unsigned
** 64-bit integer (a seed). */
int xopts_int(struct opts *a, long lo, long hi);
double xopts_double(struct opts *a, double lo, double hi);
uint64_t xopts_u64(struct opts *a);

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

/* Times are read and written by the library (facetrail/time.h:
** ft_time_parse, and format_time of tools/cli.h), as by the CLI and the
** server. */
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

#endif /* BENCH_UTIL_H */
