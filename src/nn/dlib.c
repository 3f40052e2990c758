/*
** nn/dlib.c: the bounds-checked reader of dlib's serialisation format.
**
** DESIGN
**   See nn/dlib.h for the format. Every reader starts by returning at once
**   if the cursor has already failed, then checks the bytes it needs against
**   the bytes left before touching them. Messages name the offset where the
**   failing value starts (not where the read ran out), which is what one
**   needs to look at the file with a hex dump.
**
** INVARIANTS  (1) d->pos <= d->len always.
**             (2) d->failed != FT_OK implies d->pos no longer moves.
** THREADS     A cursor is used by one thread at a time.
*/
#include "nn/dlib.h"

#include "nn/nn.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* dlib's largest model (the ResNet descriptor net) is 22 MB. */
#define MAX_DAT_BYTES (256u << 20)

/* float_details' special exponents. */
#define EXP_INF  32000
#define EXP_NINF 32001

int ft__dat_load(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    unsigned char *b = NULL;
    size_t n = 0;
    int rc = ft__read_file(path, MAX_DAT_BYTES, &b, &n, err, errlen);
    if (rc != FT_OK) return rc;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    rc = ft__model_check_pin(path, base, b, n, err, errlen);
    if (rc != FT_OK) {
        ft__free(b);
        return rc;
    }
    *buf = b;
    *len = n;
    return FT_OK;
}

void ft__dat_init(ft__dat *d, const unsigned char *p, size_t len, const char *name, char *err,
                  size_t errlen)
{
    d->p = p;
    d->len = p ? len : 0;
    d->pos = 0;
    d->failed = FT_OK;
    d->err = err;
    d->errlen = errlen;
    d->name = name ? name : "dlib model";
}

/* Records the first failure, at byte offset `at`; see ft__dat_fail. */
__attribute__((format(printf, 4, 0))) static int failv(ft__dat *d, int status, size_t at,
                                                       const char *fmt, va_list ap)
{
    if (d->failed != FT_OK) return d->failed;
    d->failed = status;
    if (d->err && d->errlen) {
        char what[256];
        vsnprintf(what, sizeof what, fmt, ap);
        snprintf(d->err, d->errlen, "%s: byte %zu: %s", d->name, at, what);
    }
    return status;
}

/* ft__dat_fail at an explicit offset. */
static int fail_at(ft__dat *d, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(ft__dat *d, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = failv(d, FT_EMODEL, at, fmt, ap);
    va_end(ap);
    return rc;
}

int ft__dat_fail(ft__dat *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = failv(d, FT_EMODEL, d->pos, fmt, ap);
    va_end(ap);
    return rc;
}

/* FT_ENOMEM through the same first-failure rule. */
static int fail_nomem(ft__dat *d, const char *what)
{
    if (d->failed != FT_OK) return d->failed;
    d->failed = FT_ENOMEM;
    if (d->err && d->errlen)
        snprintf(d->err, d->errlen, "%s: out of memory reading %s", d->name, what);
    return FT_ENOMEM;
}

/* Reads the control byte and magnitude of an integer; *neg gets bit 7. */
static int read_magnitude(ft__dat *d, int width, int is_signed, uint64_t *mag, int *neg)
{
    *mag = 0;
    *neg = 0;
    if (d->failed) return d->failed;
    FT_ASSERT(width >= 1 && width <= 8);
    size_t at = d->pos;
    if (ft__dat_left(d) < 1) return fail_at(d, at, "truncated (integer expected)");
    unsigned c = d->p[d->pos];
    unsigned size;
    if (is_signed) {
        *neg = (c & 0x80) != 0;
        size = c & 0x0F;
    } else {
        size = c & 0x8F;
    }
    if (size == 0 || size > (unsigned)width)
        return fail_at(d, at, "malformed integer (control byte 0x%02x for a %d-byte %s type)", c,
                       width, is_signed ? "signed" : "unsigned");
    if (ft__dat_left(d) < 1 + (size_t)size)
        return fail_at(d, at, "truncated (integer of %u bytes)", size);
    uint64_t m = 0;
    for (unsigned i = size; i > 0; i--)
        m = (m << 8) | d->p[d->pos + i];
    d->pos += 1 + size;
    *mag = m;
    return FT_OK;
}

int ft__dat_intw(ft__dat *d, int width, int64_t *v)
{
    *v = 0;
    size_t at = d->pos;
    uint64_t m;
    int neg;
    int rc = read_magnitude(d, width, 1, &m, &neg);
    if (rc != FT_OK) return rc;
    uint64_t max = (width == 8) ? (uint64_t)INT64_MAX : ((uint64_t)1 << (8 * width - 1)) - 1;
    if (m > max) return fail_at(d, at, "integer out of range for a %d-byte signed type", width);
    *v = neg ? -(int64_t)m : (int64_t)m;
    return FT_OK;
}

int ft__dat_uintw(ft__dat *d, int width, uint64_t *v)
{
    int neg;
    return read_magnitude(d, width, 0, v, &neg);
}

int ft__dat_int(ft__dat *d, int64_t *v)
{
    return ft__dat_intw(d, 8, v);
}

int ft__dat_int32(ft__dat *d, int32_t *v)
{
    int64_t x;
    int rc = ft__dat_intw(d, 4, &x);
    *v = (int32_t)x;
    return rc;
}

int ft__dat_uint(ft__dat *d, uint64_t *v)
{
    return ft__dat_uintw(d, 8, v);
}

/* Reads a portable float's mantissa and exponent. */
static int read_float_details(ft__dat *d, int64_t *man, int64_t *exp)
{
    *man = 0;
    *exp = 0;
    if (d->failed) return d->failed;
    size_t at = d->pos;
    if (ft__dat_left(d) < 1) return fail_at(d, at, "truncated (float expected)");
    if (d->p[d->pos] & 0x70)
        return fail_at(d, at, "old ASCII float format (byte 0x%02x) is not supported",
                       d->p[d->pos]);
    int rc = ft__dat_intw(d, 8, man);
    if (rc == FT_OK) rc = ft__dat_intw(d, 2, exp);
    return rc;
}

int ft__dat_float(ft__dat *d, float *v)
{
    int64_t man, exp;
    *v = 0;
    int rc = read_float_details(d, &man, &exp);
    if (rc != FT_OK) return rc;
    if (exp < EXP_INF)
        *v = ldexpf((float)man, (int)exp);
    else if (exp == EXP_INF)
        *v = INFINITY;
    else if (exp == EXP_NINF)
        *v = -INFINITY;
    else
        *v = NAN;
    return FT_OK;
}

int ft__dat_double(ft__dat *d, double *v)
{
    int64_t man, exp;
    *v = 0;
    int rc = read_float_details(d, &man, &exp);
    if (rc != FT_OK) return rc;
    if (exp < EXP_INF)
        *v = ldexp((double)man, (int)exp);
    else if (exp == EXP_INF)
        *v = INFINITY;
    else if (exp == EXP_NINF)
        *v = -INFINITY;
    else
        *v = NAN;
    return FT_OK;
}

int ft__dat_bool(ft__dat *d, int *v)
{
    *v = 0;
    if (d->failed) return d->failed;
    if (ft__dat_left(d) < 1) return ft__dat_fail(d, "truncated (bool expected)");
    unsigned char c = d->p[d->pos];
    if (c != '0' && c != '1') return ft__dat_fail(d, "malformed bool (byte 0x%02x)", c);
    d->pos++;
    *v = c == '1';
    return FT_OK;
}

int ft__dat_byte(ft__dat *d, unsigned char *v)
{
    *v = 0;
    if (d->failed) return d->failed;
    if (ft__dat_left(d) < 1) return ft__dat_fail(d, "truncated (byte expected)");
    *v = d->p[d->pos++];
    return FT_OK;
}

int ft__dat_bytes(ft__dat *d, void *out, size_t n)
{
    if (n) memset(out, 0, n);
    if (d->failed) return d->failed;
    if (ft__dat_left(d) < n) return ft__dat_fail(d, "truncated (%zu bytes expected)", n);
    if (n) memcpy(out, d->p + d->pos, n);
    d->pos += n;
    return FT_OK;
}

int ft__dat_string(ft__dat *d, char *buf, size_t cap, size_t *n)
{
    FT_ASSERT(cap > 0);
    buf[0] = 0;
    if (n) *n = 0;
    size_t at = d->pos;
    uint64_t len;
    int rc = ft__dat_uint(d, &len);
    if (rc != FT_OK) return rc;
    if (len >= cap)
        return fail_at(d, at, "string of %llu bytes where at most %zu are expected",
                       (unsigned long long)len, cap - 1);
    if (ft__dat_left(d) < len)
        return fail_at(d, at, "truncated (string of %llu bytes)", (unsigned long long)len);
    memcpy(buf, d->p + d->pos, (size_t)len);
    buf[len] = 0;
    d->pos += (size_t)len;
    if (n) *n = (size_t)len;
    return FT_OK;
}

int ft__dat_expect_string(ft__dat *d, const char *want, const char *what)
{
    char s[64];
    size_t at = d->pos;
    /* A longer string than want is a mismatch, not "too long": read with
    ** room to spare so the message can show it. */
    size_t wl = strlen(want);
    FT_ASSERT(wl + 1 < sizeof s);
    int rc = ft__dat_string(d, s, sizeof s, NULL);
    if (rc != FT_OK) return rc;
    if (strcmp(s, want) != 0) return fail_at(d, at, "%s is \"%s\", expected \"%s\"", what, s, want);
    return FT_OK;
}

int ft__dat_count(ft__dat *d, size_t max, size_t min_bytes, size_t *n, const char *what)
{
    *n = 0;
    size_t at = d->pos;
    uint64_t c;
    int rc = ft__dat_uint(d, &c);
    if (rc != FT_OK) return rc;
    if (c > max)
        return fail_at(d, at, "%s has %llu elements, at most %zu expected", what,
                       (unsigned long long)c, max);
    if (min_bytes && c > ft__dat_left(d) / min_bytes)
        return fail_at(d, at, "truncated (%s of %llu elements)", what, (unsigned long long)c);
    *n = (size_t)c;
    return FT_OK;
}

int ft__dat_floats(ft__dat *d, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = ft__dat_float(d, &out[i]);
        if (rc != FT_OK) {
            memset(out, 0, n * sizeof *out);
            return rc;
        }
    }
    return d->failed;
}

/* Reads n floats into a new array (NULL if n == 0). */
static int new_floats(ft__dat *d, size_t n, float **out, const char *what)
{
    *out = NULL;
    if (d->failed) return d->failed;
    if (n == 0) return FT_OK;
    float *a = ft__malloc(n * sizeof *a);
    if (!a) return fail_nomem(d, what);
    int rc = ft__dat_floats(d, a, n);
    if (rc != FT_OK) {
        ft__free(a);
        return rc;
    }
    *out = a;
    return FT_OK;
}

/* The smallest encoding of a portable float: mantissa and exponent of two
** bytes each (control byte + one magnitude byte). */
#define MIN_FLOAT_BYTES 4

int ft__dat_float_vector(ft__dat *d, float **out, size_t *n, const char *what)
{
    *out = NULL;
    size_t c;
    int rc = ft__dat_count(d, SIZE_MAX / sizeof(float), MIN_FLOAT_BYTES, &c, what);
    if (rc != FT_OK) {
        *n = 0;
        return rc;
    }
    rc = new_floats(d, c, out, what);
    *n = rc == FT_OK ? c : 0;
    return rc;
}

int ft__dat_matrix_dims(ft__dat *d, size_t max, long *nr, long *nc, const char *what)
{
    *nr = *nc = 0;
    size_t at = d->pos;
    int64_t r, c;
    int rc = ft__dat_int(d, &r);
    if (rc == FT_OK) rc = ft__dat_int(d, &c);
    if (rc != FT_OK) return rc;
    /* dlib negates both for the current format; an older one wrote them
    ** positive. dlib flips both when either is negative. */
    if (r < 0 || c < 0) {
        r = -r;
        c = -c;
    }
    if (r < 0 || c < 0)
        return fail_at(d, at, "%s has a negative size (%lld x %lld)", what, (long long)-r,
                       (long long)-c);
    if (r != 0 && (uint64_t)c > max / (uint64_t)r)
        return fail_at(d, at, "%s of %lld x %lld elements, at most %zu expected", what,
                       (long long)r, (long long)c, max);
    if ((uint64_t)r * (uint64_t)c > ft__dat_left(d) / MIN_FLOAT_BYTES)
        return fail_at(d, at, "truncated (%s of %lld x %lld elements)", what, (long long)r,
                       (long long)c);
    *nr = (long)r;
    *nc = (long)c;
    return FT_OK;
}

int ft__dat_float_matrix(ft__dat *d, size_t max, float **out, long *nr, long *nc, const char *what)
{
    *out = NULL;
    int rc = ft__dat_matrix_dims(d, max, nr, nc, what);
    if (rc == FT_OK) rc = new_floats(d, (size_t)*nr * (size_t)*nc, out, what);
    if (rc != FT_OK) *nr = *nc = 0;
    return rc;
}

int ft__dat_f32le(ft__dat *d, float *out, size_t n)
{
    if (n) memset(out, 0, n * sizeof *out);
    if (d->failed) return d->failed;
    if (ft__dat_left(d) / 4 < n) return ft__dat_fail(d, "truncated (%zu float32 values)", n);
    const unsigned char *s = d->p + d->pos;
    for (size_t i = 0; i < n; i++, s += 4) {
        uint32_t u =
            (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
        memcpy(&out[i], &u, 4);
    }
    d->pos += 4 * n;
    return FT_OK;
}
