/*
** embed/dlibnet.c: dlib's face descriptor net (dlib_face_recognition_resnet_
** model_v1.dat, dlib's dnn_face_recognition_ex.cpp) read from its .dat file
** and run on the NN runtime, giving dlib's 128 numbers for a 150x150 chip.
**
** DESIGN
**   The net, from the input up (dlib declares it from the output down):
**     input   150x150 RGB bytes; x = (v - avg[c]) / 256 per channel, the
**             averages read from the file (122.782, 117.001, 104.298)
**     stem    con 7x7/2 pad 0, 3->32 (150 -> 72), affine, relu;
**             max_pool 3x3/2 pad 0 (-> 35)
**     ares    y = relu(x + affine(con3x3(relu(affine(con3x3(x)))))),
**             3x3 convs stride 1 pad 1
**     ares_down y = relu(avg_pool2x2/2(x) (+) affine(con3x3(relu(affine(
**             con3x3/2 pad 0 (x)))))), where (+) is dlib's add_prev: the
**             sum of two tensors of different shapes, each zero-extended to
**             the larger size in every axis (channels 32 -> 64, and the conv
**             branch one cell short: 8 -> 3 vs 4, 4 -> 1 vs 2)
**     levels  ares 32 x3 (35) | ares_down 64, ares 64 x3 (17) |
**             ares_down 128, ares 128 x2 (8) | ares_down 256, ares 256 x2 (4)
**             | ares_down 256 (2)
**     tail    avg_pool_everything (mean of the 2x2 cells), fc_no_bias
**             256 -> 128; the loss layer (loss_metric) passes the fc output
**             through as it is (not normalised).
**   Each affine (batch norm frozen to x * gamma + beta per channel) is
**   folded into the conv before it: w' = w * gamma, b' = b * gamma + beta.
**
** FILE LAYOUT (dlib/dnn/core.h, layers.h, input.h, loss.h)
**   dlib serialises a layer's subnet before the layer's own fields, so the
**   file is: the loss layer (int version 1, "loss_metric_2", margin,
**   distance threshold); then one int version per wrapper from the output
**   down (add_layer 2, tag and skip layers 1, the add_layer over the input 3);
**   then the input layer ("input_rgb_image_sized", three float averages, the
**   rows and columns); then, from the input up, each layer's details ("con_4",
**   "affine_", ...) followed by its add_layer's bookkeeping (three bools and
**   three tensors: gradients and cached outputs, empty in a saved net; the
**   input's add_layer adds its sample expansion factor). A tensor is an int
**   version 2, four int64 dims and the floats as raw little-endian float32;
**   an alias tensor (a view's shape) is version 1 and four dims.
**   ft__dlibnet_open walks that layout against the layer list built from
**   the net above (net_spec) and checks every version string, count, window,
**   stride, padding and tensor shape on the way; a file that does not fit
**   is FT_EMODEL naming the file, the byte offset and the layer (counted
**   from 1 at the input, as in the list above), and so is a file with bytes
**   left after the last layer.
**
** INVARIANTS  (1) weights are parsed completely before any layer is set up;
**                 a truncated or damaged file never reaches XNNPACK.
**             (2) every shape is fixed by the 150x150 input: ft__dlibnet_run
**                 allocates nothing after its first call.
**             (3) the named file is checked against its SHA-256 pin (the
**                 pin table in nn/model.c) before it is parsed.
** OWNERSHIP   The net owns its layers and scratch space; the file's bytes are
**             freed once the layers are set up.
** THREADS     A net is used by one thread at a time (its scratch space);
**             ctx->pool spreads each layer over the pool's threads.
** SEE ALSO    tests/unit/test_dlib_net.c, tests/ref/dlib_net_ref.cpp (dlib
**             itself, the oracle), embed/recognition.c (face-api's port of
**             the same net, with another chip and quantised weights).
*/
#include "embed/embed.h"
#include "nn/dlib.h"

#include <math.h>
#include <string.h>

#define CHIP     150
#define N_BLOCKS 14 /* ares and ares_down blocks */
#define N_CONV   (1 + 2 * N_BLOCKS)
#define MAX_SPEC 160         /* 130 layers in the net */
#define MAX_DIM  (1LL << 28) /* bound on one tensor dimension */

/* ------------------------------------------------------------------------ */
/* The layer list                                                           */
/* ------------------------------------------------------------------------ */

enum kind { K_CON, K_AFFINE, K_RELU, K_MAX_POOL, K_AVG_POOL, K_ADD_PREV, K_TAG, K_SKIP, K_FC };

static const char *const kind_name[] = { "con",      "affine", "relu", "max_pool",  "avg_pool",
                                         "add_prev", "tag",    "skip", "fc_no_bias" };

/* One layer of the net as dlib declares it; n is filters or outputs, k the
** window (0: the whole input), pad the symmetric padding. */
typedef struct layer_spec {
    enum kind kind;
    int n, k, stride, pad;
} layer_spec;

typedef struct net_spec {
    int n;
    layer_spec l[MAX_SPEC];
} net_spec;

/* Appends one layer to the list. */
static void push(net_spec *s, enum kind kind, int n, int k, int stride, int pad)
{
    FT_ASSERT(s->n < MAX_SPEC);
    s->l[s->n++] = (layer_spec){ .kind = kind, .n = n, .k = k, .stride = stride, .pad = pad };
}

/* Appends a residual block of n filters: ares (down == 0) or ares_down. A
** con's padding is dlib's default: k/2 at stride 1, 0 otherwise. */
static void push_block(net_spec *s, int n, int down)
{
    push(s, K_TAG, 0, 0, 0, 0);
    push(s, K_CON, n, 3, down ? 2 : 1, down ? 0 : 1);
    push(s, K_AFFINE, n, 0, 0, 0);
    push(s, K_RELU, 0, 0, 0, 0);
    push(s, K_CON, n, 3, 1, 1);
    push(s, K_AFFINE, n, 0, 0, 0);
    if (down) {
        push(s, K_TAG, 0, 0, 0, 0);
        push(s, K_SKIP, 0, 0, 0, 0);
        push(s, K_AVG_POOL, 0, 2, 2, 0);
    }
    push(s, K_ADD_PREV, 0, 0, 0, 0);
    push(s, K_RELU, 0, 0, 0, 0);
}

/* The blocks from the input up: filters and whether the block is ares_down. */
static const struct {
    int n, down;
} blocks[N_BLOCKS] = {
    { 32, 0 },  { 32, 0 },  { 32, 0 },             /* level 4 */
    { 64, 1 },  { 64, 0 },  { 64, 0 },  { 64, 0 }, /* level 3 */
    { 128, 1 }, { 128, 0 }, { 128, 0 },            /* level 2 */
    { 256, 1 }, { 256, 0 }, { 256, 0 },            /* level 1 */
    { 256, 1 },                                    /* level 0 */
};

/* The whole net, from the input up (the input layer itself is not listed;
** l[0] is the layer whose add_layer holds it). */
static void net_spec_build(net_spec *s)
{
    s->n = 0;
    push(s, K_CON, 32, 7, 2, 0);
    push(s, K_AFFINE, 32, 0, 0, 0);
    push(s, K_RELU, 0, 0, 0, 0);
    push(s, K_MAX_POOL, 0, 3, 2, 0);
    for (int i = 0; i < N_BLOCKS; i++)
        push_block(s, blocks[i].n, blocks[i].down);
    push(s, K_AVG_POOL, 0, 0, 1, 0);
    push(s, K_FC, 128, 0, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */
/* ------------------------------------------------------------------------ */

/* A conv as the file gives it, with the affine that follows it. */
typedef struct conv_w {
    int cin, cout, k, stride, pad;
    float *w;     /* (cout, cin, k, k): dlib's filter order */
    float *b;     /* (cout); zeros when the file's con has no bias */
    float *gamma; /* (cout) */
    float *beta;  /* (cout) */
} conv_w;

typedef struct parsed {
    float avg[3]; /* the input's channel averages, R G B */
    conv_w conv[N_CONV];
    int n_conv;
    float *fc_w; /* (256, 128): (inputs, outputs) */
} parsed;

/* Frees the parsed weights and zeroes p. */
static void parsed_free(parsed *p)
{
    for (int i = 0; i < N_CONV; i++) {
        ft__free(p->conv[i].w);
        ft__free(p->conv[i].b);
        ft__free(p->conv[i].gamma);
        ft__free(p->conv[i].beta);
    }
    ft__free(p->fc_w);
    memset(p, 0, sizeof *p);
}

/* A new array of n floats, or an FT_ENOMEM failure recorded on d. */
static float *alloc_floats(ft__dat *d, size_t n)
{
    float *p = ft__malloc((n ? n : 1) * sizeof(float));
    if (!p && !d->failed) {
        d->failed = FT_ENOMEM;
        ft__errf(d->err, d->errlen, FT_ENOMEM, "%s: out of memory", d->name);
    }
    return p;
}

/* A tensor header (int version 2, four int64 dims); *count gets the number
** of floats that follow, checked against the bytes left. */
static int read_tensor_head(ft__dat *d, size_t *count, long long dims[4], const char *what)
{
    int32_t version = 0;
    *count = 0;
    if (ft__dat_int32(d, &version) != FT_OK) return d->failed;
    if (version != 2) return ft__dat_fail(d, "%s: tensor version %d, expected 2", what, version);
    size_t n = 1;
    for (int i = 0; i < 4; i++) {
        int64_t v = 0;
        if (ft__dat_int(d, &v) != FT_OK) return d->failed;
        if (v < 0 || v > MAX_DIM)
            return ft__dat_fail(d, "%s: tensor dimension %lld out of range", what, (long long)v);
        dims[i] = v;
        n *= (size_t)v;
        if (n > ft__dat_left(d) / 4)
            return ft__dat_fail(d, "%s: tensor larger than the %zu bytes left", what,
                                ft__dat_left(d));
    }
    *count = n;
    return FT_OK;
}

/* A tensor whose values are not needed (gradients, cached outputs). */
static int skip_tensor(ft__dat *d, const char *what)
{
    long long dims[4];
    size_t n;
    float junk[256];
    if (read_tensor_head(d, &n, dims, what) != FT_OK) return d->failed;
    while (n > 0 && !d->failed) {
        size_t m = n < 256 ? n : 256;
        ft__dat_f32le(d, junk, m);
        n -= m;
    }
    return d->failed;
}

/* A parameter tensor of exactly want floats (or, if alt is not 0, alt),
** into a new array; *got gets the count found. */
static int read_params(ft__dat *d, size_t want, size_t alt, float **out, size_t *got,
                       const char *what)
{
    long long dims[4];
    size_t n;
    *out = NULL;
    if (read_tensor_head(d, &n, dims, what) != FT_OK) return d->failed;
    if (n != want && (alt == 0 || n != alt))
        return ft__dat_fail(d, "%s: %zu parameters, expected %zu", what, n, want);
    if (!(*out = alloc_floats(d, n))) return d->failed;
    if (got) *got = n;
    return ft__dat_f32le(d, *out, n);
}

/* An alias tensor (a view's shape: int version 1, four int64 dims) that must
** be (a, b, c, e). */
static int expect_alias(ft__dat *d, long long a, long long b, long long c, long long e,
                        const char *what)
{
    int32_t version = 0;
    int64_t v[4] = { 0, 0, 0, 0 };
    if (ft__dat_int32(d, &version) != FT_OK) return d->failed;
    if (version != 1) return ft__dat_fail(d, "%s: alias version %d, expected 1", what, version);
    for (int i = 0; i < 4; i++)
        if (ft__dat_int(d, &v[i]) != FT_OK) return d->failed;
    if (v[0] != a || v[1] != b || v[2] != c || v[3] != e)
        return ft__dat_fail(
            d, "%s: shape (%lld, %lld, %lld, %lld), expected (%lld, %lld, %lld, %lld)", what,
            (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3], a, b, c, e);
    return FT_OK;
}

/* A signed integer that must equal want. */
static int expect_int(ft__dat *d, int width, long long want, const char *field, const char *what)
{
    int64_t v = 0;
    if (ft__dat_intw(d, width, &v) != FT_OK) return d->failed;
    if (v != want)
        return ft__dat_fail(d, "%s: %s %lld, expected %lld", what, field, (long long)v, want);
    return FT_OK;
}

/* The four learning-rate and weight-decay multipliers (doubles, unused). */
static int skip_multipliers(ft__dat *d)
{
    double v;
    for (int i = 0; i < 4; i++)
        ft__dat_double(d, &v);
    return d->failed;
}

/* "con_4"/"con_5": params (filters then biases), num_filters, nr, nc,
** strides, paddings, the filters' and biases' shapes, multipliers, and in
** con_5 use_bias. */
static int read_con(ft__dat *d, const layer_spec *s, int cin, conv_w *cw, const char *what)
{
    char ver[16];
    if (ft__dat_string(d, ver, sizeof ver, NULL) != FT_OK) return d->failed;
    int v5 = strcmp(ver, "con_5") == 0;
    if (!v5 && strcmp(ver, "con_4") != 0)
        return ft__dat_fail(d, "%s: \"%s\" where dlib's con_4 or con_5 was expected", what, ver);
    size_t nw = (size_t)s->n * cin * s->k * s->k, got = 0;
    cw->cin = cin, cw->cout = s->n, cw->k = s->k, cw->stride = s->stride, cw->pad = s->pad;
    float *params = NULL;
    if (read_params(d, nw + (size_t)s->n, nw, &params, &got, what) != FT_OK) goto out;
    expect_int(d, 8, s->n, "num_filters", what);
    expect_int(d, 8, s->k, "nr", what);
    expect_int(d, 8, s->k, "nc", what);
    expect_int(d, 4, s->stride, "stride_y", what);
    expect_int(d, 4, s->stride, "stride_x", what);
    expect_int(d, 4, s->pad, "padding_y", what);
    expect_int(d, 4, s->pad, "padding_x", what);
    expect_alias(d, s->n, cin, s->k, s->k, what);
    /* the biases' view: (1, n, 1, 1), or empty in a con without bias */
    int32_t aver = 0;
    int64_t a[4] = { 0, 0, 0, 0 };
    ft__dat_int32(d, &aver);
    for (int i = 0; i < 4; i++)
        ft__dat_int(d, &a[i]);
    skip_multipliers(d);
    int use_bias = 1;
    if (v5) ft__dat_bool(d, &use_bias);
    if (d->failed) goto out;
    if (aver != 1) {
        ft__dat_fail(d, "%s: alias version %d, expected 1", what, aver);
        goto out;
    }
    if (got != nw + (use_bias ? (size_t)s->n : 0) ||
        a[0] * a[1] * a[2] * a[3] != (use_bias ? s->n : 0)) {
        ft__dat_fail(d,
                     "%s: %zu parameters and a bias of (%lld, %lld, %lld, %lld) do not fit "
                     "%d filters %s bias",
                     what, got, (long long)a[0], (long long)a[1], (long long)a[2], (long long)a[3],
                     s->n, use_bias ? "with" : "without");
        goto out;
    }
    if (!(cw->w = alloc_floats(d, nw)) || !(cw->b = alloc_floats(d, (size_t)s->n))) goto out;
    memcpy(cw->w, params, nw * sizeof(float));
    for (int o = 0; o < s->n; o++)
        cw->b[o] = use_bias ? params[nw + (size_t)o] : 0.0f;
out:
    ft__free(params);
    return d->failed;
}

/* "affine_"/"affine_2": params (gamma then beta), their shapes, mode (0:
** per channel), and in affine_2 disabled (then the layer is the identity). */
static int read_affine(ft__dat *d, const layer_spec *s, conv_w *cw, const char *what)
{
    char ver[16];
    if (ft__dat_string(d, ver, sizeof ver, NULL) != FT_OK) return d->failed;
    int v2 = strcmp(ver, "affine_2") == 0;
    if (!v2 && strcmp(ver, "affine_") != 0)
        return ft__dat_fail(d, "%s: \"%s\" where dlib's affine_ or affine_2 was expected", what,
                            ver);
    size_t n = (size_t)s->n;
    float *params = NULL;
    if (read_params(d, 2 * n, 0, &params, NULL, what) != FT_OK) goto out;
    expect_alias(d, 1, s->n, 1, 1, what);
    expect_alias(d, 1, s->n, 1, 1, what);
    expect_int(d, 4, 0, "mode (0: per channel)", what);
    int disabled = 0;
    if (v2) ft__dat_bool(d, &disabled);
    if (d->failed) goto out;
    if (!(cw->gamma = alloc_floats(d, n)) || !(cw->beta = alloc_floats(d, n))) goto out;
    for (size_t i = 0; i < n; i++) {
        cw->gamma[i] = disabled ? 1.0f : params[i];
        cw->beta[i] = disabled ? 0.0f : params[n + i];
    }
out:
    ft__free(params);
    return d->failed;
}

/* "max_pool_2"/"avg_pool_2": nr, nc (long), strides and paddings (int). */
static int read_pool(ft__dat *d, const layer_spec *s, const char *what)
{
    char want[16];
    snprintf(want, sizeof want, "%s_2", s->kind == K_MAX_POOL ? "max_pool" : "avg_pool");
    if (ft__dat_expect_string(d, want, what) != FT_OK) return d->failed;
    expect_int(d, 8, s->k, "nr", what);
    expect_int(d, 8, s->k, "nc", what);
    expect_int(d, 4, s->stride, "stride_y", what);
    expect_int(d, 4, s->stride, "stride_x", what);
    expect_int(d, 4, s->pad, "padding_y", what);
    expect_int(d, 4, s->pad, "padding_x", what);
    return d->failed;
}

/* "fc_2"/"fc_3": outputs, inputs (unsigned long), params, the weights' and
** biases' shapes, bias mode (1: no bias), multipliers, and in fc_3 use_bias. */
static int read_fc(ft__dat *d, const layer_spec *s, int cin, parsed *p, const char *what)
{
    char ver[16];
    if (ft__dat_string(d, ver, sizeof ver, NULL) != FT_OK) return d->failed;
    int v3 = strcmp(ver, "fc_3") == 0;
    if (!v3 && strcmp(ver, "fc_2") != 0)
        return ft__dat_fail(d, "%s: \"%s\" where dlib's fc_2 or fc_3 was expected", what, ver);
    uint64_t outs = 0, ins = 0;
    ft__dat_uint(d, &outs);
    ft__dat_uint(d, &ins);
    if (d->failed) return d->failed;
    if (outs != (uint64_t)s->n || ins != (uint64_t)cin)
        return ft__dat_fail(d, "%s: %llu inputs and %llu outputs, expected %d and %d", what,
                            (unsigned long long)ins, (unsigned long long)outs, cin, s->n);
    if (read_params(d, (size_t)cin * s->n, 0, &p->fc_w, NULL, what) != FT_OK) return d->failed;
    expect_alias(d, cin, s->n, 1, 1, what);
    expect_alias(d, 0, 0, 0, 0, what);
    expect_int(d, 4, 1, "bias mode (1: no bias)", what);
    skip_multipliers(d);
    int use_bias = 0;
    if (v3) ft__dat_bool(d, &use_bias);
    return d->failed;
}

/* What follows a layer's details in its add_layer: three bools and the
** gradient and output tensors; the add_layer over the input (first) also
** has grad_final and, from version 3, the sample expansion factor. */
static int read_add_layer_tail(ft__dat *d, int first, int version, const char *what)
{
    int b;
    for (int i = 0; i < 3; i++)
        ft__dat_bool(d, &b);
    skip_tensor(d, what);
    skip_tensor(d, what);
    if (first) {
        skip_tensor(d, what);
        uint64_t factor;
        if (version >= 3) ft__dat_uintw(d, 4, &factor);
    } else if (version >= 2) {
        skip_tensor(d, what);
    }
    return d->failed;
}

/* Walks the whole file (layout in the header comment) into p. */
static int parse(ft__dat *d, const net_spec *s, parsed *p)
{
    char what[64], str[32];
    int32_t v = 0;
    int version[MAX_SPEC];

    /* the loss layer */
    ft__dat_int32(d, &v);
    if (d->failed) return d->failed;
    if (v != 1) return ft__dat_fail(d, "loss layer version %d, expected 1", v);
    if (ft__dat_string(d, str, sizeof str, NULL) != FT_OK) return d->failed;
    if (strcmp(str, "loss_metric_2") == 0) {
        float margin, thresh;
        ft__dat_float(d, &margin);
        ft__dat_float(d, &thresh);
    } else if (strcmp(str, "loss_metric_") != 0) {
        return ft__dat_fail(d,
                            "loss layer \"%s\", expected dlib's loss_metric_2 (not a face "
                            "descriptor net)",
                            str);
    }

    /* one version per wrapper, from the output down */
    for (int i = s->n - 1; i >= 0; i--) {
        const layer_spec *l = &s->l[i];
        int lo = 1, hi = 2; /* add_layer */
        if (l->kind == K_TAG || l->kind == K_SKIP) lo = hi = 1;
        if (i == 0) lo = 2, hi = 3; /* the add_layer over the input */
        if (ft__dat_int32(d, &v) != FT_OK) return d->failed;
        if (v < lo || v > hi)
            return ft__dat_fail(d, "layer %d (%s): wrapper version %d, expected %d..%d", i + 1,
                                kind_name[l->kind], v, lo, hi);
        version[i] = v;
    }

    /* the input layer */
    uint64_t nr = 0, nc = 0;
    ft__dat_expect_string(d, "input_rgb_image_sized", "the input layer");
    for (int c = 0; c < 3; c++)
        ft__dat_float(d, &p->avg[c]);
    ft__dat_uint(d, &nr);
    ft__dat_uint(d, &nc);
    if (d->failed) return d->failed;
    if (nr != CHIP || nc != CHIP)
        return ft__dat_fail(d, "input of %llux%llu, expected %dx%d", (unsigned long long)nr,
                            (unsigned long long)nc, CHIP, CHIP);
    for (int c = 0; c < 3; c++)
        if (!(p->avg[c] >= 0.0f && p->avg[c] <= 255.0f))
            return ft__dat_fail(d, "input channel average %g out of 0..255", p->avg[c]);

    /* the layers' details, from the input up */
    int ch = 3; /* channels coming into the layer */
    conv_w *cw = NULL;
    for (int i = 0; i < s->n; i++) {
        const layer_spec *l = &s->l[i];
        snprintf(what, sizeof what, "layer %d (%s)", i + 1, kind_name[l->kind]);
        switch (l->kind) {
        case K_TAG:
        case K_SKIP: continue;
        case K_CON:
            FT_ASSERT(p->n_conv < N_CONV);
            cw = &p->conv[p->n_conv++];
            read_con(d, l, ch, cw, what);
            ch = l->n;
            break;
        case K_AFFINE:
            FT_ASSERT(cw && !cw->gamma && l->n == cw->cout);
            read_affine(d, l, cw, what);
            break;
        case K_RELU: ft__dat_expect_string(d, "relu_", what); break;
        case K_ADD_PREV: ft__dat_expect_string(d, "add_prev_", what); break;
        case K_MAX_POOL:
        case K_AVG_POOL: read_pool(d, l, what); break;
        case K_FC: read_fc(d, l, ch, p, what); break;
        }
        read_add_layer_tail(d, i == 0, version[i], what);
        if (d->failed) return d->failed;
    }
    FT_ASSERT(p->n_conv == N_CONV);
    if (ft__dat_left(d) != 0)
        return ft__dat_fail(d, "%zu bytes after the last layer", ft__dat_left(d));
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* The runtime net                                                          */
/* ------------------------------------------------------------------------ */

typedef struct block {
    int down;
    ft__conv conv1, conv2; /* conv2 has no clamp: the add applies the relu */
    ft__pool avgpool;      /* ares_down only */
} block;

struct ft__dlibnet {
    float avg[3];
    ft__conv stem;
    ft__pool maxpool;
    block blk[N_BLOCKS];
    ft__pool pool_all;
    ft__add add_relu;
    ft__fc fc;
    ft__ws ws;
    float input[CHIP * CHIP * 3 + FT__XNN_SLACK];
};

/* Frees the net's layers and scratch space; NULL is a no-op. */
void ft__dlibnet_close(ft__dlibnet *net)
{
    if (!net) return;
    ft__conv_fini(&net->stem);
    ft__pool_fini(&net->maxpool);
    for (int i = 0; i < N_BLOCKS; i++) {
        ft__conv_fini(&net->blk[i].conv1);
        ft__conv_fini(&net->blk[i].conv2);
        ft__pool_fini(&net->blk[i].avgpool);
    }
    ft__pool_fini(&net->pool_all);
    ft__add_fini(&net->add_relu);
    ft__fc_fini(&net->fc);
    ft__ws_free(&net->ws);
    ft__free(net);
}

/* Sets up l from cw with the affine folded in: dlib's (cout, cin, k, k)
** becomes HWIO (k, k, cin, cout) times gamma, b * gamma + beta. */
static int conv_setup(ft__conv *l, const conv_w *cw, float out_min)
{
    size_t kk = (size_t)cw->k * cw->k, nw = kk * cw->cin * cw->cout;
    float *w = ft__malloc(nw * sizeof(float)), *b = ft__malloc((size_t)cw->cout * sizeof(float));
    int rc = FT_ENOMEM;
    if (w && b) {
        for (int o = 0; o < cw->cout; o++) {
            for (int i = 0; i < cw->cin; i++)
                for (size_t yx = 0; yx < kk; yx++)
                    w[(yx * cw->cin + i) * cw->cout + o] =
                        cw->w[((size_t)o * cw->cin + i) * kk + yx] * cw->gamma[o];
            b[o] = cw->b[o] * cw->gamma[o] + cw->beta[o];
        }
        rc = ft__conv_init_pad(l, cw->k, cw->k, cw->stride, cw->pad, cw->pad, cw->cin, cw->cout, 0,
                               w, b, out_min, INFINITY);
    }
    ft__free(w);
    ft__free(b);
    return rc;
}

/* Builds the runtime layers from the parsed weights. */
static int build(ft__dlibnet *net, const parsed *p)
{
    memcpy(net->avg, p->avg, sizeof net->avg);
    int rc = conv_setup(&net->stem, &p->conv[0], 0.0f);
    if (rc == FT_OK) rc = ft__pool_init_pad(&net->maxpool, 3, 2, 0, 0, 32);
    int cin = 32;
    for (int i = 0; i < N_BLOCKS && rc == FT_OK; i++) {
        block *b = &net->blk[i];
        b->down = blocks[i].down;
        rc = conv_setup(&b->conv1, &p->conv[1 + 2 * i], 0.0f);
        if (rc == FT_OK) rc = conv_setup(&b->conv2, &p->conv[2 + 2 * i], -INFINITY);
        if (rc == FT_OK && b->down)
            rc = ft__pool_init(&b->avgpool, FT__POOL_AVG, 2, 2, FT__PAD_VALID, cin);
        cin = blocks[i].n;
    }
    /* the last block's output is 2x2: the mean of all cells is a 2x2 window */
    if (rc == FT_OK) rc = ft__pool_init(&net->pool_all, FT__POOL_AVG, 2, 1, FT__PAD_VALID, 256);
    if (rc == FT_OK) rc = ft__add_init(&net->add_relu, 0.0f, INFINITY);
    if (rc == FT_OK) rc = ft__fc_init(&net->fc, 256, 128, p->fc_w, NULL);
    return rc;
}

/* Parses the whole file, then sets up the layers (embed.h). */
int ft__dlibnet_open_mem(const unsigned char *data, size_t len, const char *name, ft__dlibnet **out,
                         char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    net_spec *spec = ft__malloc(sizeof *spec);
    parsed *p = ft__calloc(1, sizeof *p);
    ft__dlibnet *net = NULL;
    int rc = FT_ENOMEM;
    if (!spec || !p) goto fail;
    net_spec_build(spec);
    ft__dat d;
    ft__dat_init(&d, data, len, name, err, errlen);
    if ((rc = parse(&d, spec, p)) != FT_OK) goto fail;
    if ((rc = ft__nn_init()) != FT_OK) goto fail;
    rc = FT_ENOMEM;
    if (!(net = ft__calloc(1, sizeof *net))) goto fail;
    if ((rc = build(net, p)) != FT_OK) goto fail;
    parsed_free(p);
    ft__free(p);
    ft__free(spec);
    *out = net;
    return FT_OK;
fail:
    if (err && errlen && !err[0])
        ft__errf(err, errlen, rc, "%s: cannot set up dlib's descriptor net (%s)", name,
                 ft_strerror(rc));
    ft__dlibnet_close(net);
    if (p) parsed_free(p);
    ft__free(p);
    ft__free(spec);
    return rc;
}

/* Reads the file with its pin check (ft__dat_load), then ft__dlibnet_open_mem. */
int ft__dlibnet_open(const char *dat_path, ft__dlibnet **out, char *err, size_t errlen)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = ft__dat_load(dat_path, &buf, &len, err, errlen);
    if (rc != FT_OK) return rc;
    rc = ft__dlibnet_open_mem(buf, len, dat_path, out, err, errlen);
    ft__free(buf);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Running                                                                  */
/* ------------------------------------------------------------------------ */

/* Runs conv l on in into scratch slot `slot`. */
static int conv_step(const ft__nn_ctx *ctx, ft__ws *ws, ft__conv *l, const ft__tensor *in, int slot,
                     ft__tensor *out)
{
    ft__tensor s;
    ft__conv_out_shape(l, in, &s);
    int rc = ft__ws_tensor(ws, slot, s.h, s.w, s.c, out);
    return rc == FT_OK ? ft__conv_run(ctx, l, in, out) : rc;
}

/* Copies src into the top-left-front corner of dst (h, w, c each at least
** src's) and zeroes the rest: dlib's zero extension in add_prev. */
static void zero_extend(const ft__tensor *src, ft__tensor *dst)
{
    memset(dst->data, 0, ft__tensor_count(dst) * sizeof(float));
    for (int y = 0; y < src->h; y++)
        for (int x = 0; x < src->w; x++)
            memcpy(dst->data + ((size_t)y * dst->w + x) * dst->c,
                   src->data + ((size_t)y * src->w + x) * src->c, (size_t)src->c * sizeof(float));
}

/* out = relu(a (+) b) in slot `slot`, where (+) zero-extends a and b to the
** larger size in each axis (scratch slots 5 and 6) when they differ. */
static int add_extended(const ft__nn_ctx *ctx, ft__dlibnet *net, const ft__tensor *a,
                        const ft__tensor *b, int slot, ft__tensor *out)
{
    int h = a->h > b->h ? a->h : b->h, w = a->w > b->w ? a->w : b->w;
    int c = a->c > b->c ? a->c : b->c, rc;
    ft__tensor ea = *a, eb = *b;
    if (a->h != h || a->w != w || a->c != c) {
        if ((rc = ft__ws_tensor(&net->ws, 5, h, w, c, &ea)) != FT_OK) return rc;
        zero_extend(a, &ea);
    }
    if (b->h != h || b->w != w || b->c != c) {
        if ((rc = ft__ws_tensor(&net->ws, 6, h, w, c, &eb)) != FT_OK) return rc;
        zero_extend(b, &eb);
    }
    if ((rc = ft__ws_tensor(&net->ws, slot, h, w, c, out)) != FT_OK) return rc;
    return ft__add_run(ctx, &net->add_relu, &ea, &eb, out);
}

/* The input conversion, then the layers in order (DESIGN); the descriptor is
** the fc output as it is. */
int ft__dlibnet_run(const ft__nn_ctx *ctx, ft__dlibnet *net, const unsigned char *chip_rgb,
                    float desc[128])
{
    /* dlib's input_rgb_image_sized: (v - avg) in float, then / 256 (exact) */
    for (int i = 0; i < CHIP * CHIP; i++)
        for (int c = 0; c < 3; c++)
            net->input[i * 3 + c] = ((float)chip_rgb[i * 3 + c] - net->avg[c]) / 256.0f;
    ft__ws *ws = &net->ws;
    ft__tensor x = { net->input, CHIP, CHIP, 3 }, a, cur, t1, t2, pooled, shape;
    int rc = conv_step(ctx, ws, &net->stem, &x, 0, &a);
    if (rc != FT_OK) return rc;
    ft__pool_out_shape(&net->maxpool, &a, &shape);
    if ((rc = ft__ws_tensor(ws, 1, shape.h, shape.w, shape.c, &cur)) != FT_OK ||
        (rc = ft__pool_run(ctx, &net->maxpool, &a, &cur)) != FT_OK)
        return rc;
    int cur_slot = 1;
    for (int i = 0; i < N_BLOCKS; i++) {
        block *b = &net->blk[i];
        int next_slot = cur_slot == 1 ? 0 : 1;
        ft__tensor next;
        if ((rc = conv_step(ctx, ws, &b->conv1, &cur, 2, &t1)) != FT_OK ||
            (rc = conv_step(ctx, ws, &b->conv2, &t1, 3, &t2)) != FT_OK)
            return rc;
        if (b->down) {
            ft__pool_out_shape(&b->avgpool, &cur, &shape);
            if ((rc = ft__ws_tensor(ws, 4, shape.h, shape.w, shape.c, &pooled)) != FT_OK ||
                (rc = ft__pool_run(ctx, &b->avgpool, &cur, &pooled)) != FT_OK ||
                (rc = add_extended(ctx, net, &pooled, &t2, next_slot, &next)) != FT_OK)
                return rc;
        } else if ((rc = add_extended(ctx, net, &cur, &t2, next_slot, &next)) != FT_OK) {
            return rc;
        }
        cur = next;
        cur_slot = next_slot;
    }
    FT_ASSERT(cur.h == 2 && cur.w == 2 && cur.c == 256);
    ft__tensor mean;
    if ((rc = ft__ws_tensor(ws, 7, 1, 1, 256, &mean)) != FT_OK ||
        (rc = ft__pool_run(ctx, &net->pool_all, &cur, &mean)) != FT_OK)
        return rc;
    return ft__fc_run(ctx, &net->fc, mean.data, desc);
}
