/*
** tests/unit/test_model.c: the TF.js weights loader (ft__model_load,
** ft__model_get, ft__model_free): dequantisation, shard layout, malformed
** manifests and shards, allocation failures, and the real face-api models.
**
** DESIGN
**   Every fixture is written here into a fresh mkdtemp folder under /tmp and
**   removed afterwards: a manifest text (as a string literal, so the JSON
**   numbers are exactly what TF.js would parse) and .bin shards built byte by
**   byte, little-endian. Expected floats are worked by hand in the comments;
**   where TF.js's double arithmetic and float arithmetic differ, both are
**   checked, so a loader computing in float fails.
**
**   With the real models present, values are checked against bytes read
**   straight from the .bin files with the scale/min copied from the manifests
**   (no manifest parsing here).
**
** INVARIANTS  (1) every error case asserts FT_EMODEL or FT_EIO, *out == NULL,
**                 a message, and (under ASan/LSan) no leak.
*/
#include "facetrail.h"
#include "nn/nn.h"

#include "../harness/test.h"

#include <float.h>
#include <ftw.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
        ft_test_fail(__FILE__, __LINE__, "memory leaked (see the LeakSanitizer report)");
}

static char tmp_root[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes the folder of the last make_tmp(); also run at exit, so that a
** failing test (which exits) leaves nothing behind. */
static void cleanup(void)
{
    if (tmp_root[0]) nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmp_root[0] = 0;
}

/* A fresh folder under /tmp, in tmp_root. */
static const char *make_tmp(void)
{
    static int registered;
    if (!registered) atexit(cleanup), registered = 1;
    snprintf(tmp_root, sizeof tmp_root, "/tmp/ft_model_XXXXXX");
    ASSERT(mkdtemp(tmp_root) != NULL);
    return tmp_root;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) ft_test_fail(__FILE__, __LINE__, "cannot write %s", path);
    ASSERT_EQ(fwrite(data, 1, len, f), len);
    ASSERT_EQ(fclose(f), 0);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    write_file(dir, name, text, strlen(text));
}

/* A growable byte buffer for shards. */
typedef struct bytes {
    unsigned char b[4096];
    size_t n;
} bytes;

static void put_u8(bytes *s, unsigned v)
{
    ASSERT(s->n < sizeof s->b);
    s->b[s->n++] = (unsigned char)v;
}

static void put_u16(bytes *s, unsigned v)
{
    put_u8(s, v & 0xff);
    put_u8(s, (v >> 8) & 0xff);
}

static void put_u32(bytes *s, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        put_u8(s, (v >> (8 * i)) & 0xff);
}

static void put_f32(bytes *s, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(s, u);
}

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Bit-exact float comparison with a readable failure. */
#define ASSERT_FLOAT_BITS(got, want)                                                           \
    do {                                                                                       \
        float g_ = (got), w_ = (want);                                                         \
        if (bits(g_) != bits(w_))                                                              \
            ft_test_fail(__FILE__, __LINE__, "%s = %.9g (%a, 0x%08x), want %.9g (%a, 0x%08x)", \
                         #got, g_, g_, bits(g_), w_, w_, bits(w_));                            \
    } while (0)

static const ft__weight *find(const ft__model *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->w[i].name, name) == 0) return &m->w[i];
    ft_test_fail(__FILE__, __LINE__, "weight %s not loaded", name);
}

static void expect_shape(const ft__weight *w, int rank, const int *shape)
{
    if (w->rank != rank)
        ft_test_fail(__FILE__, __LINE__, "%s: rank %d, want %d", w->name, w->rank, rank);
    size_t count = 1;
    for (int d = 0; d < rank; d++) {
        if (w->shape[d] != shape[d])
            ft_test_fail(__FILE__, __LINE__, "%s: dim %d is %d, want %d", w->name, d, w->shape[d],
                         shape[d]);
        count *= (size_t)shape[d];
    }
    ASSERT_EQ(w->count, count);
    ASSERT(w->data != NULL);
}

/* ------------------------------------------------------------------------ */
/* The dtype fixture                                                        */
/* ------------------------------------------------------------------------ */

/* One group, one shard "m.bin", every storage form the loader knows. */
static const char *DTYPES_MANIFEST =
    "[{\"paths\": [\"m.bin\"], \"weights\": ["
    "{\"name\": \"u8\", \"shape\": [2, 2], \"dtype\": \"float32\","
    " \"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.5, \"min\": -1}},"
    "{\"name\": \"f32\", \"shape\": [4], \"dtype\": \"float32\"},"
    "{\"name\": \"u16\", \"shape\": [4], \"dtype\": \"float32\","
    " \"quantization\": {\"dtype\": \"uint16\", \"scale\": 0.25, \"min\": -100}},"
    "{\"name\": \"i32\", \"shape\": [2, 2], \"dtype\": \"int32\"},"
    "{\"name\": \"i32q\", \"shape\": [], \"dtype\": \"int32\","
    " \"quantization\": {\"dtype\": \"uint8\", \"scale\": 1, \"min\": 5118}},"
    "{\"name\": \"i32round\", \"shape\": [4], \"dtype\": \"int32\","
    " \"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.5, \"min\": -2}},"
    "{\"name\": \"dq\", \"shape\": [4], \"dtype\": \"float32\","
    " \"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.1, \"min\": 0.3}},"
    "{\"name\": \"dq2\", \"shape\": [1, 1, 1, 1], \"dtype\": \"float32\","
    " \"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.1, \"min\": -0.3}}"
    "]}]";

static void dtypes_shard(bytes *s)
{
    s->n = 0;
    for (unsigned q = 0; q < 4; q++)
        put_u8(s, q);                                                   /* u8 */
    put_f32(s, 1.5f), put_f32(s, -2.25f), put_f32(s, -0.0f);            /* f32 */
    put_u32(s, 0x00000001u);                                            /* smallest denormal */
    put_u16(s, 0), put_u16(s, 1), put_u16(s, 400), put_u16(s, 65535);   /* u16 */
    put_u32(s, (uint32_t)-5), put_u32(s, 123456), put_u32(s, 16777217); /* i32 */
    put_u32(s, 0x80000000u);                                            /* INT32_MIN */
    put_u8(s, 0);                                                       /* i32q */
    put_u8(s, 1), put_u8(s, 3), put_u8(s, 5), put_u8(s, 0);             /* i32round */
    put_u8(s, 4), put_u8(s, 6), put_u8(s, 11), put_u8(s, 0);            /* dq */
    put_u8(s, 3);                                                       /* dq2 */
}

/* Checks every value of the dtype fixture, bit for bit. */
static void check_dtypes(const ft__model *m)
{
    ASSERT_EQ(m->n, 8);
    ASSERT(strcmp(m->name, "m") == 0);
    /* manifest order is kept */
    const char *order[8] = { "u8", "f32", "u16", "i32", "i32q", "i32round", "dq", "dq2" };
    for (int i = 0; i < 8; i++)
        ASSERT(strcmp(m->w[i].name, order[i]) == 0);

    /* uint8, scale 0.5, min -1: q = 0..3 -> -1, -0.5, 0, 0.5 */
    const ft__weight *w = find(m, "u8");
    expect_shape(w, 2, (int[]){ 2, 2 });
    ASSERT_FLOAT_BITS(w->data[0], -1.0f);
    ASSERT_FLOAT_BITS(w->data[1], -0.5f);
    ASSERT_FLOAT_BITS(w->data[2], 0.0f);
    ASSERT_FLOAT_BITS(w->data[3], 0.5f);

    /* raw float32: the bits as stored */
    w = find(m, "f32");
    expect_shape(w, 1, (int[]){ 4 });
    ASSERT_FLOAT_BITS(w->data[0], 1.5f);
    ASSERT_FLOAT_BITS(w->data[1], -2.25f);
    ASSERT_FLOAT_BITS(w->data[2], -0.0f);
    ASSERT_EQ(bits(w->data[3]), 0x00000001u);

    /* uint16 little-endian, scale 0.25, min -100: 0 -> -100, 1 -> -99.75,
    ** 400 -> 0, 65535 -> 16383.75 - 100 = 16283.75 */
    w = find(m, "u16");
    expect_shape(w, 1, (int[]){ 4 });
    ASSERT_FLOAT_BITS(w->data[0], -100.0f);
    ASSERT_FLOAT_BITS(w->data[1], -99.75f);
    ASSERT_FLOAT_BITS(w->data[2], 0.0f);
    ASSERT_FLOAT_BITS(w->data[3], 16283.75f);

    /* int32 raw, as float: 16777217 is not a float; round to nearest even
    ** gives 16777216 */
    w = find(m, "i32");
    expect_shape(w, 2, (int[]){ 2, 2 });
    ASSERT_FLOAT_BITS(w->data[0], -5.0f);
    ASSERT_FLOAT_BITS(w->data[1], 123456.0f);
    ASSERT_FLOAT_BITS(w->data[2], 16777216.0f);
    ASSERT_FLOAT_BITS(w->data[3], -2147483648.0f);

    /* scalar int32 quantised like SSD's shape constants: 0 * 1 + 5118 */
    w = find(m, "i32q");
    ASSERT_EQ(w->rank, 0);
    ASSERT_EQ(w->count, 1);
    ASSERT_FLOAT_BITS(w->data[0], 5118.0f);

    /* int32 from uint8, scale 0.5, min -2, Math.round (halves towards +inf):
    ** 1 -> -1.5 -> -1;  3 -> -0.5 -> -0 -> 0;  5 -> 0.5 -> 1;  0 -> -2 */
    w = find(m, "i32round");
    ASSERT_NEAR(w->data[0], -1.0, 0);
    ASSERT_NEAR(w->data[1], 0.0, 0);
    ASSERT_NEAR(w->data[2], 1.0, 0);
    ASSERT_NEAR(w->data[3], -2.0, 0);

    /* TF.js: float32(q * scale + min) with the arithmetic in double.
    ** scale 0.1, min 0.3: 4 -> 0.4 + 0.3 = 0.7 (double) -> nearest float 0.7f,
    ** 6 -> 0.9f, 11 -> 1.4f, 0 -> 0.3f. In float arithmetic 4*0.1f+0.3f is
    ** one ulp above 0.7f (0x3f333334), so a float loader fails here. */
    volatile float four = 4.0f, six = 6.0f, eleven = 11.0f, s01 = 0.1f, m03 = 0.3f;
    ASSERT_NE(bits(four * s01 + m03), bits(0.7f));
    ASSERT_NE(bits(six * s01 + m03), bits(0.9f));
    ASSERT_NE(bits(eleven * s01 + m03), bits(1.4f));
    w = find(m, "dq");
    ASSERT_FLOAT_BITS(w->data[0], 0.7f);
    ASSERT_EQ(bits(w->data[0]), 0x3f333333u);
    ASSERT_FLOAT_BITS(w->data[1], 0.9f);
    ASSERT_FLOAT_BITS(w->data[2], 1.4f);
    ASSERT_FLOAT_BITS(w->data[3], 0.3f);

    /* scale 0.1, min -0.3, q 3: in double 3 * 0.1 = 0.30000000000000004 =
    ** 0.3 + 2^-54, so the sum is exactly 2^-54 (a float); in float arithmetic
    ** 3 * 0.1f + -0.3f is 0 */
    volatile float three = 3.0f, mm03 = -0.3f;
    ASSERT_EQ(bits(three * s01 + mm03), 0u);
    w = find(m, "dq2");
    expect_shape(w, 4, (int[]){ 1, 1, 1, 1 });
    ASSERT_FLOAT_BITS(w->data[0], 0x1p-54f);
}

static void test_load_every_dtype(void)
{
    const char *dir = make_tmp();
    bytes s;
    dtypes_shard(&s);
    write_file(dir, "m.bin", s.b, s.n);
    write_text(dir, "m-weights_manifest.json", DTYPES_MANIFEST);
    ft__model *m = NULL;
    char err[256] = "";
    int rc = ft__model_load(dir, "m", &m, err, sizeof err);
    if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "load: %d %s", rc, err);
    check_dtypes(m);
    ft__model_free(m);
    ft__model_free(NULL);
    cleanup();
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Shards and groups                                                        */
/* ------------------------------------------------------------------------ */

static const char *GROUPS_MANIFEST =
    "[{\"paths\": [\"g1-shard1of2.bin\", \"g1-shard2of2.bin\"], \"weights\": ["
    "{\"name\": \"a\", \"shape\": [3], \"dtype\": \"float32\"},"
    "{\"name\": \"b\", \"shape\": [2, 2], \"dtype\": \"float32\"}]},"
    "{\"paths\": [\"g2.bin\"], \"weights\": ["
    "{\"name\": \"c/q\", \"shape\": [5, 1], \"dtype\": \"float32\","
    " \"quantization\": {\"dtype\": \"uint8\", \"scale\": 2, \"min\": 10}}]}]";

/* Group 1: floats 1..7 back to back (a = 1,2,3; b = 4,5,6,7), cut after 18
** bytes, i.e. in the middle of the float 5, the first element of b's second
** row. Group 2: q = 0..4 -> 10, 12, 14, 16, 18. */
static void write_groups(const char *dir)
{
    bytes s = { .n = 0 };
    for (int i = 1; i <= 7; i++)
        put_f32(&s, (float)i);
    write_file(dir, "g1-shard1of2.bin", s.b, 18);
    write_file(dir, "g1-shard2of2.bin", s.b + 18, s.n - 18);
    bytes g = { .n = 0 };
    for (unsigned q = 0; q < 5; q++)
        put_u8(&g, q);
    write_file(dir, "g2.bin", g.b, g.n);
    write_text(dir, "g-weights_manifest.json", GROUPS_MANIFEST);
}

static void check_groups(const ft__model *m)
{
    ASSERT_EQ(m->n, 3);
    const ft__weight *a = find(m, "a"), *b = find(m, "b"), *c = find(m, "c/q");
    expect_shape(a, 1, (int[]){ 3 });
    expect_shape(b, 2, (int[]){ 2, 2 });
    expect_shape(c, 2, (int[]){ 5, 1 });
    for (int i = 0; i < 3; i++)
        ASSERT_FLOAT_BITS(a->data[i], (float)(i + 1));
    for (int i = 0; i < 4; i++)
        ASSERT_FLOAT_BITS(b->data[i], (float)(i + 4));
    for (int i = 0; i < 5; i++)
        ASSERT_FLOAT_BITS(c->data[i], (float)(10 + 2 * i));
}

static void test_load_shards_and_groups(void)
{
    const char *dir = make_tmp();
    write_groups(dir);
    ft__model *m = NULL;
    char err[256] = "";
    int rc = ft__model_load(dir, "g", &m, err, sizeof err);
    if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "load: %d %s", rc, err);
    check_groups(m);

    /* ft__model_get: right shape gives the data; wrong shape or rank, or a
    ** missing name, give NULL and a message naming the weight and shapes */
    ASSERT(ft__model_get(m, "b", 2, (int[]){ 2, 2 }, err, sizeof err) == find(m, "b")->data);
    ASSERT(ft__model_get(m, "c/q", 2, (int[]){ 5, 1 }, err, sizeof err) == find(m, "c/q")->data);
    err[0] = 0;
    ASSERT(ft__model_get(m, "b", 1, (int[]){ 4 }, err, sizeof err) == NULL);
    ASSERT_STR_CONTAINS(err, "b");
    ASSERT_STR_CONTAINS(err, "[2,2]");
    ASSERT_STR_CONTAINS(err, "[4]");
    err[0] = 0;
    ASSERT(ft__model_get(m, "c/q", 2, (int[]){ 1, 5 }, err, sizeof err) == NULL);
    ASSERT_STR_CONTAINS(err, "c/q");
    ASSERT_STR_CONTAINS(err, "[5,1]");
    ASSERT_STR_CONTAINS(err, "[1,5]");
    err[0] = 0;
    ASSERT(ft__model_get(m, "b", 2, (int[]){ 2, 3 }, err, sizeof err) == NULL); /* last dim */
    ASSERT_STR_CONTAINS(err, "[2,3]");
    err[0] = 0;
    ASSERT(ft__model_get(m, "a", 2, (int[]){ 3, 1 }, err, sizeof err) == NULL);
    ASSERT_STR_CONTAINS(err, "[3]");
    ASSERT_STR_CONTAINS(err, "[3,1]");
    err[0] = 0;
    ASSERT(ft__model_get(m, "nope/weights", 1, (int[]){ 3 }, err, sizeof err) == NULL);
    ASSERT_STR_CONTAINS(err, "nope/weights");
    ASSERT_STR_CONTAINS(err, "missing");
    err[0] = 0;
    ASSERT(ft__model_get(m, "", 1, (int[]){ 3 }, err, sizeof err) == NULL);
    ASSERT(err[0] != 0);
    ft__model_free(m);
    cleanup();
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Malformed manifests and shards                                           */
/* ------------------------------------------------------------------------ */

#define W_F32_3 "{\"name\": \"w\", \"shape\": [3], \"dtype\": \"float32\"}"

typedef struct bad_case {
    const char *what;
    const char *manifest; /* NULL: no manifest written */
    const char *shard;    /* written with shard_len bytes when not NULL */
    size_t shard_len;
    const char *must_say; /* substring of the message, or NULL */
} bad_case;

static const bad_case BAD[] = {
    { "missing manifest", NULL, "m.bin", 12, "manifest" },
    { "invalid JSON", "[{\"paths\": [\"m.bin\"], \"weights\": [", "m.bin", 12, "JSON" },
    { "trailing garbage after JSON", "[] x", "m.bin", 12, "JSON" },
    { "manifest an object", "{\"paths\": [\"m.bin\"], \"weights\": [" W_F32_3 "]}", "m.bin", 12,
      "array" },
    { "manifest an empty array", "[]", "m.bin", 12, "array" },
    { "manifest a number", "42", "m.bin", 12, NULL },
    { "group not an object", "[[\"m.bin\"]]", "m.bin", 12, NULL },
    { "group without paths", "[{\"weights\": [" W_F32_3 "]}]", "m.bin", 12, "paths" },
    { "group with empty paths", "[{\"paths\": [], \"weights\": [" W_F32_3 "]}]", "m.bin", 12,
      "paths" },
    { "group without weights", "[{\"paths\": [\"m.bin\"]}]", "m.bin", 12, "weights" },
    { "no weights at all", "[{\"paths\": [\"m.bin\"], \"weights\": []}]", "m.bin", 12, NULL },
    { "path not a string", "[{\"paths\": [7], \"weights\": [" W_F32_3 "]}]", "m.bin", 12, "path" },
    { "weight without shape",
      "[{\"paths\": [\"m.bin\"], \"weights\": [{\"name\": \"w\", \"dtype\": \"float32\"}]}]",
      "m.bin", 12, "shape" },
    { "weight without name",
      "[{\"paths\": [\"m.bin\"], \"weights\": [{\"shape\": [3], \"dtype\": \"float32\"}]}]",
      "m.bin", 12, "name" },
    { "weight without dtype",
      "[{\"paths\": [\"m.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [3]}]}]", "m.bin", 12,
      "dtype" },
    { "shape not an array",
      "[{\"paths\": [\"m.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": 3, \"dtype\": "
      "\"float32\"}]}]",
      "m.bin", 12, "shape" },
    { "negative dimension",
      "[{\"paths\": [\"m.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [-1, -3], \"dtype\": "
      "\"float32\"}]}]",
      "m.bin", 12, "shape" },
    { "fractional dimension",
      "[{\"paths\": [\"m.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [1.5, 2], \"dtype\": "
      "\"float32\"}]}]",
      "m.bin", 12, "shape" },
    { "dimension a string",
      "[{\"paths\": [\"m.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [\"3\"], \"dtype\": "
      "\"float32\"}]}]",
      "m.bin", 12, "shape" },
    { "huge dimensions",
      "[{\"paths\": [\"m.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [16777216, 16777216, "
      "16777216], \"dtype\": \"float32\"}]}]",
      "m.bin", 12, "too large" },
    { "rank 5",
      "[{\"paths\": [\"m.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [1, 1, 1, 1, 3], "
      "\"dtype\": \"float32\"}]}]",
      "m.bin", 12, "rank" },
    { "unsupported dtype",
      "[{\"paths\": [\"m.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [3], \"dtype\": "
      "\"string\"}]}]",
      "m.bin", 12, "string" },
    { "unsupported quantization",
      "[{\"paths\": [\"m.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [6], \"dtype\": "
      "\"float32\", \"quantization\": {\"dtype\": \"float16\", \"scale\": 1, \"min\": 0}}]}]",
      "m.bin", 12, "float16" },
    { "quantization without scale",
      "[{\"paths\": [\"m.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [12], \"dtype\": "
      "\"float32\", \"quantization\": {\"dtype\": \"uint8\", \"min\": 0}}]}]",
      "m.bin", 12, "quantization" },
    { "quantization scale a string",
      "[{\"paths\": [\"m.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [12], \"dtype\": "
      "\"float32\", \"quantization\": {\"dtype\": \"uint8\", \"scale\": \"1\", \"min\": 0}}]}]",
      "m.bin", 12, "quantization" },
    { "missing shard", "[{\"paths\": [\"other.bin\"], \"weights\": [" W_F32_3 "]}]", "m.bin", 12,
      "other.bin" },
    { "shard truncated by 1 byte", "[{\"paths\": [\"m.bin\"], \"weights\": [" W_F32_3 "]}]",
      "m.bin", 11, "truncated" },
    { "empty shard", "[{\"paths\": [\"m.bin\"], \"weights\": [" W_F32_3 "]}]", "m.bin", 0,
      "truncated" },
    { "shard with a trailing byte", "[{\"paths\": [\"m.bin\"], \"weights\": [" W_F32_3 "]}]",
      "m.bin", 13, "trailing" },
    { "path traversal", "[{\"paths\": [\"../x.bin\"], \"weights\": [" W_F32_3 "]}]", "m.bin", 12,
      "path" },
    { "path traversal inside", "[{\"paths\": [\"sub/../../x.bin\"], \"weights\": [" W_F32_3 "]}]",
      "m.bin", 12, "path" },
    { "absolute path", "[{\"paths\": [\"/tmp/x.bin\"], \"weights\": [" W_F32_3 "]}]", "m.bin", 12,
      "path" },
    { "empty path", "[{\"paths\": [\"\"], \"weights\": [" W_F32_3 "]}]", "m.bin", 12, "path" },
    { "shard a folder", "[{\"paths\": [\"sub\"], \"weights\": [" W_F32_3 "]}]", "m.bin", 12,
      "sub" },
    { "second group's shard missing",
      "[{\"paths\": [\"m.bin\"], \"weights\": [" W_F32_3 "]},"
      " {\"paths\": [\"gone.bin\"], \"weights\": [" W_F32_3 "]}]",
      "m.bin", 12, "gone.bin" },
    { "second weight truncated",
      "[{\"paths\": [\"m.bin\"], \"weights\": [" W_F32_3 "," W_F32_3 "]}]", "m.bin", 20,
      "truncated" },
};

static void test_load_rejects_malformed(void)
{
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        const bad_case *c = &BAD[i];
        /* <tmp>/model holds the model; <tmp>/x.bin is a valid shard a
        ** traversal would reach; <tmp>/model/sub is a folder */
        char dir[256], path[300];
        snprintf(dir, sizeof dir, "%s/model", make_tmp());
        ASSERT_OK(mkdir(dir, 0700));
        snprintf(path, sizeof path, "%s/sub", dir);
        ASSERT_OK(mkdir(path, 0700));
        unsigned char shard[64];
        for (size_t k = 0; k < sizeof shard; k++)
            shard[k] = (unsigned char)(k * 7 + 1);
        write_file(tmp_root, "x.bin", shard, 12);
        if (c->shard) write_file(dir, c->shard, shard, c->shard_len);
        if (c->manifest) write_text(dir, "m-weights_manifest.json", c->manifest);
        ft__model *m = (ft__model *)&shard; /* must be reset to NULL */
        char err[512] = "";
        int rc = ft__model_load(dir, "m", &m, err, sizeof err);
        if (rc != FT_EMODEL && rc != FT_EIO)
            ft_test_fail(__FILE__, __LINE__, "case \"%s\": rc %d (%s), want EMODEL/EIO", c->what,
                         rc, err);
        if (m != NULL) ft_test_fail(__FILE__, __LINE__, "case \"%s\": *out not NULL", c->what);
        if (!err[0]) ft_test_fail(__FILE__, __LINE__, "case \"%s\": no message", c->what);
        if (c->must_say && !strstr(err, c->must_say))
            ft_test_fail(__FILE__, __LINE__, "case \"%s\": message \"%s\" lacks \"%s\"", c->what,
                         err, c->must_say);
        /* a NULL message buffer is allowed */
        rc = ft__model_load(dir, "m", &m, NULL, 0);
        if (rc != FT_EMODEL && rc != FT_EIO)
            ft_test_fail(__FILE__, __LINE__, "case \"%s\" (no err buffer): rc %d", c->what, rc);
        cleanup();
    }
    no_leaks();
}

/* The fixtures of the positive tests, each cut short or padded, must give
** "truncated" or "trailing" and never load. */
static void test_load_rejects_every_cut(void)
{
    bytes s;
    dtypes_shard(&s);
    for (size_t len = 0; len <= s.n + 3; len++) {
        if (len == s.n) continue;
        const char *dir = make_tmp();
        unsigned char buf[sizeof s.b + 4] = { 0 };
        memcpy(buf, s.b, s.n);
        write_file(dir, "m.bin", buf, len);
        write_text(dir, "m-weights_manifest.json", DTYPES_MANIFEST);
        ft__model *m = NULL;
        char err[256] = "";
        int rc = ft__model_load(dir, "m", &m, err, sizeof err);
        if (rc != FT_EMODEL || m)
            ft_test_fail(__FILE__, __LINE__, "shard of %zu bytes (want %zu): rc %d", len, s.n, rc);
        ASSERT_STR_CONTAINS(err, len < s.n ? "truncated" : "trailing");
        cleanup();
    }
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Allocation failures                                                      */
/* ------------------------------------------------------------------------ */

static void test_load_alloc_failures(void)
{
    /* both fixtures in one folder: "m" (dtypes) and "g" (shards, groups) */
    const char *dir = make_tmp();
    bytes s;
    dtypes_shard(&s);
    write_file(dir, "m.bin", s.b, s.n);
    write_text(dir, "m-weights_manifest.json", DTYPES_MANIFEST);
    write_groups(dir);
    const char *names[2] = { "m", "g" };
    for (int k = 0; k < 2; k++) {
        int n_fail = 0, ok_at = -1;
        for (long n = 0; n < 1000 && ok_at < 0; n++) {
            ft__model *m = NULL;
            char err[256] = "";
            ft__alloc_fail_after(n);
            int rc = ft__model_load(dir, names[k], &m, err, sizeof err);
            ft__alloc_fail_after(-1);
            if (rc == FT_OK) {
                ok_at = (int)n;
                if (k == 0)
                    check_dtypes(m);
                else
                    check_groups(m);
                ft__model_free(m);
            } else {
                if (rc != FT_ENOMEM)
                    ft_test_fail(__FILE__, __LINE__,
                                 "%s, failing after %ld allocations: rc %d (%s)", names[k], n, rc,
                                 err);
                ASSERT(m == NULL);
                ASSERT(err[0] != 0);
                n_fail++;
            }
        }
        if (ok_at < 0) ft_test_fail(__FILE__, __LINE__, "%s never loaded", names[k]);
        ASSERT(n_fail > 0 && n_fail == ok_at); /* every n before the first success failed */
        printf("# %s: %d allocations until a successful load\n", names[k], ok_at);
    }
    cleanup();
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* The real face-api models                                                 */
/* ------------------------------------------------------------------------ */

/* The bytes [off, off + n) of <dir>/<file>, off < 0 counting from the end. */
static void read_bytes(const char *dir, const char *file, long off, unsigned char *out, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    if (!f) ft_test_fail(__FILE__, __LINE__, "cannot open %s", path);
    ASSERT_OK(fseek(f, off, off < 0 ? SEEK_END : SEEK_SET));
    ASSERT_EQ(fread(out, 1, n, f), n);
    fclose(f);
}

static ft__model *load_real(const char *dir, const char *name, int n_weights)
{
    ft__model *m = NULL;
    char err[512] = "";
    if (ft__model_load(dir, name, &m, err, sizeof err) != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "%s: %s", name, err);
    if (m->n != n_weights)
        ft_test_fail(__FILE__, __LINE__, "%s: %d weights, want %d", name, m->n, n_weights);
    for (int i = 0; i < m->n; i++)
        ASSERT(m->w[i].data != NULL && m->w[i].count > 0);
    return m;
}

static void test_real_models(void)
{
    const char *dir = ft_test_model_dir();
    if (!dir) FT_SKIP("models not fetched (make models)");
    char err[512];
    unsigned char b[4];

    /* counts: the number of entries in each manifest's weights list */
    ft__model *ssd = load_real(dir, "ssd_mobilenetv1_model", 151);
    expect_shape(find(ssd, "Output/extra_dim"), 3, (int[]){ 1, 5118, 4 });
    ASSERT(ft__model_get(ssd, "Output/extra_dim", 3, (int[]){ 1, 5118, 4 }, err, sizeof err));
    /* the last weight, raw float32: the file's last 4 bytes */
    read_bytes(dir, "ssd_mobilenetv1_model.bin", -4, b, 4);
    uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    ASSERT_EQ(bits(find(ssd, "Output/extra_dim")->data[5118 * 4 - 1]), u);
    /* int32 constants stored as uint8 q = 0 with min = the value (manifest) */
    ASSERT_FLOAT_BITS(find(ssd, "Postprocessor/stack/1")->data[0], 5118.0f);
    ASSERT_FLOAT_BITS(find(ssd, "Preprocessor/ResizeImage/size")->data[1], 512.0f);
    /* [0, 0, 255] * (1/255 as 0.00392156862745098) rounds to [0, 0, 1] */
    const ft__weight *sb = find(ssd, "Postprocessor/Slice/begin");
    ASSERT_FLOAT_BITS(sb->data[0], 0.0f);
    ASSERT_FLOAT_BITS(sb->data[2], 1.0f);
    ft__model_free(ssd);

    ft__model *tiny = load_real(dir, "tiny_face_detector_model", 19);
    expect_shape(find(tiny, "conv0/filters"), 4, (int[]){ 3, 3, 3, 16 });
    expect_shape(find(tiny, "conv8/filters"), 4, (int[]){ 1, 1, 512, 25 });
    ft__model_free(tiny);

    ft__model *lm = load_real(dir, "face_landmark_68_model", 49);
    expect_shape(find(lm, "fc/weights"), 2, (int[]){ 256, 136 });
    expect_shape(find(lm, "dense0/conv1/depthwise_filter"), 4, (int[]){ 3, 3, 32, 1 });
    ft__model_free(lm);

    ft__model *lmt = load_real(dir, "face_landmark_68_tiny_model", 28);
    expect_shape(find(lmt, "fc/weights"), 2, (int[]){ 128, 136 });
    ft__model_free(lmt);

    ft__model *rec = load_real(dir, "face_recognition_model", 117);
    expect_shape(find(rec, "fc"), 2, (int[]){ 256, 128 });
    expect_shape(find(rec, "conv32_down/conv/filters"), 4, (int[]){ 7, 7, 3, 32 });
    /* first weight (offset 0) and last weight (last byte), both uint8, with
    ** scale/min copied from the manifest */
    read_bytes(dir, "face_recognition_model.bin", 0, b, 1);
    ASSERT_FLOAT_BITS(find(rec, "conv32_down/conv/filters")->data[0],
                      (float)(b[0] * 0.0005260649557207145 + -0.07101876902229645));
    read_bytes(dir, "face_recognition_model.bin", -1, b, 1);
    ASSERT_FLOAT_BITS(find(rec, "fc")->data[256 * 128 - 1],
                      (float)(b[0] * 0.000357687911566566 + -0.04578405268052045));
    ft__model_free(rec);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Pinned model files                                                       */
/* ------------------------------------------------------------------------ */

/* The whole of <dir>/<file> in a new buffer (free it), its length in *len. */
static unsigned char *slurp(const char *dir, const char *file, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    if (!f) ft_test_fail(__FILE__, __LINE__, "cannot open %s", path);
    ASSERT_OK(fseek(f, 0, SEEK_END));
    long n = ftell(f);
    ASSERT(n >= 0);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    ASSERT(b != NULL);
    ASSERT_EQ(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Copies <from>/<file> to <to>/<file>. */
static void copy_model_file(const char *from, const char *to, const char *file)
{
    size_t n;
    unsigned char *b = slurp(from, file, &n);
    write_file(to, file, b, n);
    free(b);
}

/* <root>/<sub>, created. */
static void sub_dir(char *out, size_t cap, const char *root, const char *sub)
{
    snprintf(out, cap, "%s/%s", root, sub);
    ASSERT_OK(mkdir(out, 0700));
}

/* Preloads the tiny face detector alone from dir; the status, message in msg. */
static int preload_tiny(const char *dir, char *msg, size_t cap)
{
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = dir;
    ft_engine *eng = NULL;
    char err[512] = "";
    int rc = ft_engine_open(&ep, &eng, err, sizeof err);
    if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "open: %s", err);
    ft_detect_params dp = ft_detect_faceapi_params();
    dp.detector = FT_DETECTOR_TINY;
    dp.with_landmarks = 0;
    dp.with_descriptor = 0;
    rc = ft_engine_preload(eng, &dp);
    snprintf(msg, cap, "%s", ft_engine_errmsg(eng));
    ft_engine_close(eng);
    return rc;
}

/* A shard of the real tiny detector with 4 KB overwritten in the middle keeps
** its size and its manifest, so it would load and detect nothing; the pin
** refuses it, naming the file. The untouched copy beside it loads. */
static void test_pin_damaged_shard(void)
{
    const char *models = ft_test_model_dir();
    if (!models) FT_SKIP("models not fetched (make models)");
    const char *root = make_tmp();
    char good[256], bad[256];
    sub_dir(good, sizeof good, root, "good");
    sub_dir(bad, sizeof bad, root, "bad");
    const char *man = "tiny_face_detector_model-weights_manifest.json";
    const char *bin = "tiny_face_detector_model.bin";
    copy_model_file(models, good, man);
    copy_model_file(models, good, bin);
    copy_model_file(models, bad, man);
    size_t n;
    unsigned char *b = slurp(models, bin, &n);
    ASSERT(n > 3 * 4096);
    memset(b + n / 2 - 2048, 0x5a, 4096); /* 4 KB of one byte value in the middle */
    write_file(bad, bin, b, n);
    free(b);

    char msg[512];
    ASSERT_EQ(preload_tiny(bad, msg, sizeof msg), FT_EMODEL);
    ASSERT_STR_CONTAINS(msg, bad);
    ASSERT_STR_CONTAINS(msg, "tiny_face_detector_model.bin");
    ASSERT_STR_CONTAINS(msg, "damaged or a different version");
    ASSERT_STR_CONTAINS(msg, "make models");
    ASSERT_EQ(preload_tiny(good, msg, sizeof msg), FT_OK);

    /* the loader itself, on the damaged folder: refused, nothing out */
    ft__model *m = (ft__model *)&n;
    char err[512] = "";
    ASSERT_EQ(ft__model_load(bad, "tiny_face_detector_model", &m, err, sizeof err), FT_EMODEL);
    ASSERT(m == NULL);
    ASSERT_STR_CONTAINS(err, "tiny_face_detector_model.bin");
    cleanup();
    no_leaks();
}

/* A pinned manifest edited in place (one digit of a scale: same size, still
** valid JSON) or grown by a newline is refused, naming the manifest. */
static void test_pin_damaged_manifest(void)
{
    const char *models = ft_test_model_dir();
    if (!models) FT_SKIP("models not fetched (make models)");
    const char *root = make_tmp();
    const char *man = "tiny_face_detector_model-weights_manifest.json";
    copy_model_file(models, root, "tiny_face_detector_model.bin");
    size_t n;
    unsigned char *b = slurp(models, man, &n);
    b[n] = 0;
    /* the manifest's first scale is 0.009007044399485869: make it 0.009007044399485868 */
    char *digit = strstr((char *)b, "0.009007044399485869");
    ASSERT(digit != NULL);
    digit[19] = '8';
    write_file(root, man, b, n);
    ft__model *m = NULL;
    char err[512] = "";
    ASSERT_EQ(ft__model_load(root, "tiny_face_detector_model", &m, err, sizeof err), FT_EMODEL);
    ASSERT(m == NULL);
    ASSERT_STR_CONTAINS(err, man);
    ASSERT_STR_CONTAINS(err, "SHA-256");
    ASSERT_STR_CONTAINS(err, "make models");

    digit[19] = '9';
    b[n] = '\n'; /* one byte more: 3220 bytes where face-api 1.7.15 has 3219 */
    write_file(root, man, b, n + 1);
    ASSERT_EQ(ft__model_load(root, "tiny_face_detector_model", &m, err, sizeof err), FT_EMODEL);
    ASSERT_STR_CONTAINS(err, man);
    ASSERT_STR_CONTAINS(err, "3220 bytes");
    ASSERT_STR_CONTAINS(err, "3219");

    write_file(root, man, b, n); /* restored: loads */
    ASSERT_EQ(ft__model_load(root, "tiny_face_detector_model", &m, err, sizeof err), FT_OK);
    ft__model_free(m);
    free(b);
    cleanup();
    no_leaks();
}

/* The pins in nn/model.c and models/face-api-1.7.15.sha256 (what fetch.sh
** checks) list the same 14 files with the same digests; with the models
** present, each pinned size is the file's size and every file passes. Also
** times the check over the four nets' files the engine reads by default. */
static void test_pin_table(void)
{
    FILE *f = fopen("models/face-api-1.7.15.sha256", "r");
    if (!f) ft_test_fail(__FILE__, __LINE__, "models/face-api-1.7.15.sha256: cannot open");
    char line[512];
    int n_lines = 0;
    while (fgets(line, sizeof line, f)) {
        char hex[65], path[400];
        ASSERT_EQ(sscanf(line, "%64s %399s", hex, path), 2);
        const char *prefix = "face-api/model/";
        ASSERT(strncmp(path, prefix, strlen(prefix)) == 0);
        const ft__model_pin *pin = ft__model_pin_find(path + strlen(prefix));
        if (!pin) ft_test_fail(__FILE__, __LINE__, "%s is not pinned", path);
        if (strcmp(pin->sha256, hex) != 0)
            ft_test_fail(__FILE__, __LINE__, "%s: pinned %s, list %s", path, pin->sha256, hex);
        n_lines++;
    }
    fclose(f);
    ASSERT_EQ(n_lines, 14);
    ASSERT(ft__model_pin_find("m.bin") == NULL);
    ASSERT(ft__model_pin_find("ssd_mobilenetv1_model") == NULL);

    const char *models = ft_test_model_dir();
    if (!models) FT_SKIP("models not fetched (make models)");
    static const char *const nets[] = { "ssd_mobilenetv1_model", "face_landmark_68_model",
                                        "face_recognition_model", "tiny_face_detector_model",
                                        "face_landmark_68_tiny_model", "age_gender_model",
                                        "face_expression_model" };
    double t_default = 0, mb_default = 0;
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        for (int k = 0; k < 2; k++) {
            char file[128];
            snprintf(file, sizeof file, k ? "%s.bin" : "%s-weights_manifest.json", nets[i]);
            size_t len;
            unsigned char *b = slurp(models, file, &len);
            const ft__model_pin *pin = ft__model_pin_find(file);
            ASSERT(pin != NULL);
            ASSERT_EQ(pin->size, len);
            char err[512] = "";
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            int rc = ft__model_check_pin(file, file, b, len, err, sizeof err);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "%s: %s", file, err);
            if (i < 3) {
                t_default += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
                mb_default += (double)len / 1e6;
            }
            free(b);
        }
    }
    printf("# pin check of ssd + landmarks + recognition (%.1f MB): %.1f ms\n", mb_default,
           t_default * 1e3);
    no_leaks();
}

FT_TESTS(FT_TEST(test_load_every_dtype), FT_TEST(test_load_shards_and_groups),
         FT_TEST(test_load_rejects_malformed), FT_TEST(test_load_rejects_every_cut),
         FT_TEST(test_load_alloc_failures), FT_TEST(test_real_models),
         FT_TEST(test_pin_damaged_shard), FT_TEST(test_pin_damaged_manifest),
         FT_TEST(test_pin_table))
