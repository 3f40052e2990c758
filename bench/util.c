/*
** bench/util.c: helpers shared by the benchmark programs: errors that end
** the program, allocation, options on the CLI's walker, seeded random
** streams, hashing, pixels, the clock and folders (bench/util.h says what
** each does).
**
** DESIGN
**   Not a bench_*.c file, so the Makefile does not make a program of it; it
**   is linked into every bench binary. Everything here is plain and
**   single-purpose; the one piece of state is the name die() prints.
*/
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *g_name; /* what die() prints first; NULL: the program's name */

/* Sets the name die() prints before its message. */
void util_set_name(const char *name)
{
    g_name = name;
}

/* Prints "NAME: message" on stderr and exits with status 2. */
void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", g_name ? g_name : program_invocation_short_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* calloc that dies when out of memory; 0 sizes give a 1-byte block. */
void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

/* realloc that dies when out of memory. */
void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) die("out of memory (%zu bytes)", n);
    return q;
}

/* strdup that dies when out of memory. */
char *xstrdup(const char *s)
{
    char *p = xcalloc(strlen(s) + 1, 1);
    memcpy(p, s, strlen(s));
    return p;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

/* The walker, with messages named as die() names its own. */
void xopts_init(struct opts *a, int argc, char **argv)
{
    opts_init(a, argc, argv);
    a->cmd = g_name ? g_name : program_invocation_short_name;
    cli_program = NULL;
}

/* opts_next, ending the program on an operand or a trailing "--". */
int xopts_next(struct opts *a)
{
    int more = opts_next(a);
    if (a->n_operands) exit(usage_error(a->cmd, "unexpected operand '%s'", a->argv[1]));
    if (!more && a->options_ended) exit(usage_error(a->cmd, "unexpected '--'"));
    return more;
}

/* The option's value: inline or the next word. */
const char *xopts_value(struct opts *a)
{
    const char *v = opts_value(a);
    if (!v) exit(2);
    return v;
}

/* A flag: no "=value". */
void xopts_flag(const struct opts *a)
{
    if (opts_flag(a)) exit(2);
}

/* The value as an integer in [lo, hi]. */
int xopts_int(struct opts *a, long lo, long hi)
{
    char what[80];
    long long x;
    snprintf(what, sizeof what, "an integer in [%ld, %ld]", lo, hi);
    if (opts_int(a, lo, hi, what, &x)) exit(2);
    return (int)x;
}

/* The value as a number in [lo, hi]. */
double xopts_double(struct opts *a, double lo, double hi)
{
    char what[80];
    double x;
    snprintf(what, sizeof what, "a number in [%g, %g]", lo, hi);
    if (opts_double(a, lo, hi, 0, what, &x)) exit(2);
    return x;
}

/* The value as an unsigned 64-bit integer (a seed). */
uint64_t xopts_u64(struct opts *a)
{
    const char *v = xopts_value(a);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || errno || *v == '-') exit(opts_bad(a, "an integer in [0, 2^64 - 1]"));
    return x;
}

/* ------------------------------------------------------------------------ */
/* Random numbers and hashing                                               */
/* ------------------------------------------------------------------------ */

/* The next 64 bits of a splitmix64 stream. */
uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The stream for (seed, purpose, index): independent of every other one. */
rng rng_for(uint64_t seed, int purpose, uint64_t index)
{
    rng r = { seed };
    r.s = rng_next(&r) ^ ((uint64_t)purpose << 56) ^ index;
    rng_next(&r);
    return r;
}

/* The stream for (seed, purpose, name). */
rng rng_for_name(uint64_t seed, int purpose, const char *name)
{
    return rng_for(seed, purpose, str_hash(name));
}

/* Uniform in [lo, hi) from the top 53 bits. */
double uniform(rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((rng_next(r) >> 11) * (1.0 / 9007199254740992.0));
}

/* Uniform integer in 0 .. n-1. */
int uniform_int(rng *r, int n)
{
    return (int)(rng_next(r) % (uint64_t)n);
}

/* Standard normal (Box-Muller, one value per two uniforms). */
double normal(rng *r)
{
    double u = uniform(r, 1e-12, 1.0), v = uniform(r, 0.0, 1.0);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Fisher-Yates shuffle of v[0 .. n). */
void shuffle_ints(int *v, int n, rng *r)
{
    for (int i = n - 1; i > 0; i--) {
        int j = uniform_int(r, i + 1), t = v[i];
        v[i] = v[j], v[j] = t;
    }
}

/* 64-bit FNV-1a of len bytes, continuing from h. */
uint64_t hash_bytes(uint64_t h, const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* FNV-1a of s, mixed by splitmix64's finaliser (FNV's low bits are weak). */
uint64_t str_hash(const char *s)
{
    rng r = { hash_bytes(HASH_INIT, s, strlen(s)) };
    return rng_next(&r);
}

/* ------------------------------------------------------------------------ */
/* Numbers and pixels                                                       */
/* ------------------------------------------------------------------------ */

/* x rounded to the nearest byte value, clamped to 0..255. */
uint8_t clamp_u8(double x)
{
    return (uint8_t)(x <= 0 ? 0 : x >= 255 ? 255 : (int)(x + 0.5));
}

/* ------------------------------------------------------------------------ */
/* Time                                                                     */
/* ------------------------------------------------------------------------ */

/* CLOCK_MONOTONIC in seconds. */
double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */
/* ------------------------------------------------------------------------ */

/* mkdir -p path; dies on failure or if path is not a folder. */
void mkdir_p(const char *path)
{
    char buf[UTIL_PATH_MAX];
    if (strlen(path) >= sizeof buf) die("path too long: %s", path);
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                die("cannot create folder %s: %s", buf, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) die("%s is not a folder", path);
}

/* buf = a "/" b ext (b may carry a suffix such as ".jpg" via ext); dies when
** it does not fit. */
void join_path(char *buf, size_t size, const char *a, const char *b, const char *ext)
{
    int n = snprintf(buf, size, "%s/%s%s", a, b, ext);
    if (n < 0 || (size_t)n >= size) die("path too long: %s/%s%s", a, b, ext);
}

/* The part of path after its last '/'. */
const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* qsort comparison of two strings. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of dir (no dot files); dirs_only: folders only,
** else files ending in ".jpg". */
char **list_dir(const char *dir, int dirs_only, int *n_out)
{
    DIR *d = opendir(dir);
    if (!d) die("cannot read folder %s: %s", dir, strerror(errno));
    char **v = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[UTIL_PATH_MAX];
        join_path(path, sizeof path, dir, e->d_name, "");
        struct stat st;
        if (stat(path, &st) != 0) continue;
        size_t len = strlen(e->d_name);
        if (dirs_only ? !S_ISDIR(st.st_mode)
                      : !S_ISREG(st.st_mode) || len < 5 || strcmp(e->d_name + len - 4, ".jpg"))
            continue;
        if (n == cap) cap = cap ? 2 * cap : 64, v = xrealloc(v, cap * sizeof *v);
        v[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(v, n, sizeof *v, cmp_str);
    *n_out = n;
    return v;
}

/* Frees a list from list_dir. */
void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}
