/*
** nn/layers.c: layers on XNNPACK's operator API, with a switch to the naive
** reference kernels (nn/ref/ref.c) for tests.
**
** DESIGN
**   Each layer creates its XNNPACK operator at init (weights are packed by
**   XNNPACK then) and sets it up on every run with the current input size and
**   buffers: XNNPACK re-derives its indirection buffers only when these change.
**   TF SAME padding uses XNN_FLAG_TENSORFLOW_SAME_PADDING, which pads exactly as
**   TensorFlow does (the extra cell after); VALID pads nothing.
**
** INVARIANTS  (1) the float weights are kept (HWIO) for the reference path.
**             (2) a failed init leaves the layer safe to fini.
*/
#include "nn/nn.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

static pthread_once_t xnn_once = PTHREAD_ONCE_INIT;
static enum xnn_status xnn_init_status = xnn_status_uninitialized;

static void xnn_init_once(void)
{
    xnn_init_status = xnn_initialize(NULL);
}

int ft__nn_init(void)
{
    pthread_once(&xnn_once, xnn_init_once);
    return xnn_init_status == xnn_status_success ? FT_OK : FT_EBACKEND;
}

int ft__window_out(int in, int k, int stride, enum ft__pad pad)
{
    if (pad == FT__PAD_SAME) return (in + stride - 1) / stride;
    return in >= k ? (in - k) / stride + 1 : 0;
}

int ft__window_out_explicit(int in, int k, int stride, int p)
{
    int span = in + 2 * p;
    return span >= k ? (span - k) / stride + 1 : 0;
}

int ft__window_pad_before(int in, int k, int stride, enum ft__pad pad)
{
    if (pad != FT__PAD_SAME) return 0;
    int out = ft__window_out(in, k, stride, pad);
    int total = (out - 1) * stride + k - in;
    return total > 0 ? total / 2 : 0;
}

/* ------------------------------------------------------------------------ */
/* Convolution                                                              */
/* ------------------------------------------------------------------------ */

/* An XNNPACK operator for l's weights with top/bottom rows and l's columns
** of padding (flags: XNN_FLAG_TENSORFLOW_SAME_PADDING or 0). */
static int conv_op(const ft__conv *l, uint32_t top, uint32_t bottom, uint32_t flags,
                   xnn_operator_t *op)
{
    uint32_t px = (uint32_t)l->pad_x;
    int kh = l->kh, kw = l->kw, cin = l->cin, cout = l->cout;
    uint32_t s = (uint32_t)l->stride;
    enum xnn_status st;
    if (l->depthwise) {
        /* With XNN_FLAG_DEPTHWISE_CONVOLUTION the kernel is (1, kh, kw, c):
        ** the same memory as TF's depthwise (kh, kw, c, 1). */
        st = xnn_create_convolution2d_nhwc_f32(top, px, bottom, px, kh, kw, s, s, 1, 1, cin, 1, 1,
                                               cin, cin, l->w, l->b, l->out_min, l->out_max,
                                               flags | XNN_FLAG_DEPTHWISE_CONVOLUTION, op);
    } else {
        /* XNNPACK wants OHWI; TF stores HWIO. */
        size_t nw = (size_t)kh * kw * cin * cout;
        float *ohwi = ft__malloc(nw * sizeof(float));
        if (!ohwi) return FT_ENOMEM;
        for (int o = 0; o < cout; o++)
            for (int y = 0; y < kh; y++)
                for (int x = 0; x < kw; x++)
                    for (int i = 0; i < cin; i++)
                        ohwi[(((size_t)o * kh + y) * kw + x) * cin + i] =
                            l->w[(((size_t)y * kw + x) * cin + i) * cout + o];
        st = xnn_create_convolution2d_nhwc_f32(top, px, bottom, px, kh, kw, s, s, 1, 1, 1, cin,
                                               cout, cin, cout, ohwi, l->b, l->out_min, l->out_max,
                                               flags, op);
        ft__free(ohwi);
    }
    if (st != xnn_status_success) {
        *op = NULL;
        return FT_EBACKEND;
    }
    return FT_OK;
}

static int conv_create(ft__conv *l, int kh, int kw, int stride, int cin, int cout, int depthwise,
                       enum ft__pad pad, int pad_y, int pad_x, const float *w, const float *b,
                       float out_min, float out_max)
{
    memset(l, 0, sizeof *l);
    FT_ASSERT(kh > 0 && kw > 0 && stride > 0 && cin > 0 && cout > 0 && pad_y >= 0 && pad_x >= 0);
    FT_ASSERT(!depthwise || cin == cout);
    l->kh = kh, l->kw = kw, l->stride = stride, l->cin = cin, l->cout = cout;
    l->depthwise = depthwise, l->pad = pad, l->out_min = out_min, l->out_max = out_max;
    l->pad_y = pad_y, l->pad_x = pad_x;
    size_t nw = (size_t)kh * kw * cin * (depthwise ? 1 : cout);
    l->w = ft__malloc(nw * sizeof(float));
    l->b = ft__calloc((size_t)cout, sizeof(float));
    if (!l->w || !l->b) return FT_ENOMEM;
    memcpy(l->w, w, nw * sizeof(float));
    if (b) memcpy(l->b, b, (size_t)cout * sizeof(float));
    if (ft__nn_init() != FT_OK) return FT_EBACKEND;
    uint32_t flags = pad == FT__PAD_SAME ? XNN_FLAG_TENSORFLOW_SAME_PADDING : 0;
    return conv_op(l, (uint32_t)pad_y, (uint32_t)pad_y, flags, &l->op);
}

int ft__conv_init(ft__conv *l, int kh, int kw, int stride, int cin, int cout, int depthwise,
                  enum ft__pad pad, const float *w, const float *b, float out_min, float out_max)
{
    FT_ASSERT(pad != FT__PAD_EXPLICIT);
    return conv_create(l, kh, kw, stride, cin, cout, depthwise, pad, 0, 0, w, b, out_min, out_max);
}

int ft__conv_init_pad(ft__conv *l, int kh, int kw, int stride, int pad_y, int pad_x, int cin,
                      int cout, int depthwise, const float *w, const float *b, float out_min,
                      float out_max)
{
    return conv_create(l, kh, kw, stride, cin, cout, depthwise, FT__PAD_EXPLICIT, pad_y, pad_x, w,
                       b, out_min, out_max);
}

void ft__conv_fini(ft__conv *l)
{
    if (!l) return;
    if (l->op) xnn_delete_operator(l->op);
    for (int i = 0; i < 3; i++)
        if (l->band_op[i]) xnn_delete_operator(l->band_op[i]);
    ft__free(l->w);
    ft__free(l->b);
    memset(l, 0, sizeof *l);
}

void ft__conv_out_shape(const ft__conv *l, const ft__tensor *in, ft__tensor *out)
{
    if (l->pad == FT__PAD_EXPLICIT) {
        out->h = ft__window_out_explicit(in->h, l->kh, l->stride, l->pad_y);
        out->w = ft__window_out_explicit(in->w, l->kw, l->stride, l->pad_x);
    } else {
        out->h = ft__window_out(in->h, l->kh, l->stride, l->pad);
        out->w = ft__window_out(in->w, l->kw, l->stride, l->pad);
    }
    out->c = l->cout;
}

int ft__conv_run(const ft__nn_ctx *ctx, ft__conv *l, const ft__tensor *in, ft__tensor *out)
{
    FT_ASSERT(in->c == l->cin);
    ft__conv_out_shape(l, in, out);
    if (out->h <= 0 || out->w <= 0) return FT_EINVAL;
    if (ctx->macs)
        *ctx->macs += (uint64_t)out->h * out->w * l->cout * l->kh * l->kw *
                      (uint64_t)(l->depthwise ? 1 : l->cin);
    if (ctx->use_ref) {
        ft__ref_conv(l, in, out);
        return FT_OK;
    }
    if (ft__dw3x3_usable(l)) {
        ft__dw3x3_run(ctx, l, in, l->pad_y, out);
        return FT_OK;
    }
    if (xnn_setup_convolution2d_nhwc_f32(l->op, 1, (size_t)in->h, (size_t)in->w, in->data,
                                         out->data, ctx->pool) != xnn_status_success)
        return FT_EBACKEND;
    return xnn_run_operator(l->op, ctx->pool) == xnn_status_success ? FT_OK : FT_EBACKEND;
}

/* ------------------------------------------------------------------------ */
/* Bands of rows                                                            */
/* ------------------------------------------------------------------------ */

int ft__band_ok(int k, int stride, int pad)
{
    return pad <= stride && k >= stride;
}

void ft__band_rows(int k, int stride, int pad, int in_h, int out_h, int y0, int y1, int *r0,
                   int *r1)
{
    FT_ASSERT(0 <= y0 && y0 < y1 && y1 <= out_h);
    *r0 = y0 * stride - pad > 0 ? y0 * stride - pad : 0;
    *r1 = y1 == out_h ? in_h : (y1 - 1) * stride - pad + k;
    FT_ASSERT(*r1 <= in_h);
}

/* Which band operator runs rows [y0, y1) of out_h: 0 the first band (padding
** above), 1 a middle one (none), 2 the last (padding below). The rows the
** operator gives for in_rows input rows are checked to be y1 - y0. */
static int band_kind(int k, int stride, int pad, int in_rows, int out_h, int y0, int y1)
{
    int kind = y0 == 0 ? 0 : y1 == out_h ? 2 : 1;
    int padded = in_rows + (kind == 1 ? 0 : pad);
    FT_ASSERT(padded >= k && (padded - k) / stride + 1 == y1 - y0);
    return kind;
}

int ft__conv_band_init(ft__conv *l)
{
    FT_ASSERT(l->pad == FT__PAD_EXPLICIT && ft__band_ok(l->kh, l->stride, l->pad_y));
    uint32_t p = (uint32_t)l->pad_y;
    const uint32_t top[3] = { p, 0, 0 }, bottom[3] = { 0, 0, p };
    for (int i = 0; i < 3; i++) {
        if (l->band_op[i]) continue;
        int rc = conv_op(l, top[i], bottom[i], 0, &l->band_op[i]);
        if (rc != FT_OK) return rc;
    }
    return FT_OK;
}

int ft__conv_run_band(const ft__nn_ctx *ctx, ft__conv *l, const ft__tensor *in, int in_h, int y0,
                      int y1, ft__tensor *out)
{
    ft__tensor whole = { NULL, in_h, in->w, in->c };
    ft__conv_out_shape(l, &whole, out);
    int out_h = out->h, r0, r1;
    ft__band_rows(l->kh, l->stride, l->pad_y, in_h, out_h, y0, y1, &r0, &r1);
    FT_ASSERT(in->c == l->cin && in->h == r1 - r0);
    if (y0 == 0 && y1 == out_h) return ft__conv_run(ctx, l, in, out);
    FT_ASSERT(!ctx->use_ref && l->band_op[0]);
    int kind = band_kind(l->kh, l->stride, l->pad_y, in->h, out_h, y0, y1);
    out->h = y1 - y0;
    if (out->w <= 0) return FT_EINVAL;
    if (ctx->macs)
        *ctx->macs += (uint64_t)out->h * out->w * l->cout * l->kh * l->kw *
                      (uint64_t)(l->depthwise ? 1 : l->cin);
    if (ft__dw3x3_usable(l)) {
        ft__dw3x3_run(ctx, l, in, kind == 0 ? l->pad_y : 0, out);
        return FT_OK;
    }
    xnn_operator_t op = l->band_op[kind];
    if (xnn_setup_convolution2d_nhwc_f32(op, 1, (size_t)in->h, (size_t)in->w, in->data, out->data,
                                         ctx->pool) != xnn_status_success)
        return FT_EBACKEND;
    return xnn_run_operator(op, ctx->pool) == xnn_status_success ? FT_OK : FT_EBACKEND;
}

int ft__conv_run_band_rows(const ft__nn_ctx *ctx, ft__conv *l, const float *const *rows, int n_rows,
                           int w, int in_h, int y0, int y1, ft__tensor *out)
{
    ft__tensor whole = { NULL, in_h, w, l->cin };
    ft__conv_out_shape(l, &whole, out);
    int out_h = out->h, r0, r1;
    ft__band_rows(l->kh, l->stride, l->pad_y, in_h, out_h, y0, y1, &r0, &r1);
    FT_ASSERT(ft__dw3x3_usable(l) && !ctx->use_ref && n_rows == r1 - r0);
    out->h = y1 - y0;
    if (ctx->macs) *ctx->macs += (uint64_t)out->h * out->w * l->cout * l->kh * l->kw;
    ft__dw3x3_run_rows(ctx, l, rows, n_rows, w, y0 == 0 ? l->pad_y : 0, out);
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* Pooling                                                                  */
/* ------------------------------------------------------------------------ */

/* An XNNPACK operator for l with top/bottom rows and l's columns of padding. */
static int pool_op(const ft__pool *l, uint32_t top, uint32_t bottom, uint32_t flags,
                   xnn_operator_t *op)
{
    uint32_t px = (uint32_t)l->pad_x, k = (uint32_t)l->k, s = (uint32_t)l->stride;
    size_t c = (size_t)l->channels;
    enum xnn_status st;
    if (l->kind == FT__POOL_MAX)
        st = xnn_create_max_pooling2d_nhwc_f32(top, px, bottom, px, k, k, s, s, 1, 1, c, c, c,
                                               -INFINITY, INFINITY, flags, op);
    else
        st = xnn_create_average_pooling2d_nhwc_f32(0, 0, 0, 0, k, k, s, s, c, c, c, -INFINITY,
                                                   INFINITY, 0, op);
    if (st != xnn_status_success) {
        *op = NULL;
        return FT_EBACKEND;
    }
    return FT_OK;
}

static int pool_create(ft__pool *l, enum ft__pool_kind kind, int k, int stride, enum ft__pad pad,
                       int pad_y, int pad_x, int channels)
{
    memset(l, 0, sizeof *l);
    FT_ASSERT(kind == FT__POOL_MAX || pad == FT__PAD_VALID);
    FT_ASSERT(pad_y >= 0 && pad_x >= 0 && pad_y < k && pad_x < k);
    l->kind = kind, l->k = k, l->stride = stride, l->pad = pad, l->channels = channels;
    l->pad_y = pad_y, l->pad_x = pad_x;
    if (ft__nn_init() != FT_OK) return FT_EBACKEND;
    uint32_t flags = pad == FT__PAD_SAME ? XNN_FLAG_TENSORFLOW_SAME_PADDING : 0;
    return pool_op(l, (uint32_t)pad_y, (uint32_t)pad_y, flags, &l->op);
}

int ft__pool_init(ft__pool *l, enum ft__pool_kind kind, int k, int stride, enum ft__pad pad,
                  int channels)
{
    FT_ASSERT(pad != FT__PAD_EXPLICIT);
    return pool_create(l, kind, k, stride, pad, 0, 0, channels);
}

int ft__pool_init_pad(ft__pool *l, int k, int stride, int pad_y, int pad_x, int channels)
{
    return pool_create(l, FT__POOL_MAX, k, stride, FT__PAD_EXPLICIT, pad_y, pad_x, channels);
}

void ft__pool_fini(ft__pool *l)
{
    if (!l) return;
    if (l->op) xnn_delete_operator(l->op);
    for (int i = 0; i < 3; i++)
        if (l->band_op[i]) xnn_delete_operator(l->band_op[i]);
    memset(l, 0, sizeof *l);
}

void ft__pool_out_shape(const ft__pool *l, const ft__tensor *in, ft__tensor *out)
{
    if (l->pad == FT__PAD_EXPLICIT) {
        out->h = ft__window_out_explicit(in->h, l->k, l->stride, l->pad_y);
        out->w = ft__window_out_explicit(in->w, l->k, l->stride, l->pad_x);
    } else {
        out->h = ft__window_out(in->h, l->k, l->stride, l->pad);
        out->w = ft__window_out(in->w, l->k, l->stride, l->pad);
    }
    out->c = in->c;
}

int ft__pool_run(const ft__nn_ctx *ctx, ft__pool *l, const ft__tensor *in, ft__tensor *out)
{
    FT_ASSERT(in->c == l->channels);
    ft__pool_out_shape(l, in, out);
    if (out->h <= 0 || out->w <= 0) return FT_EINVAL;
    if (ctx->use_ref) {
        ft__ref_pool(l, in, out);
        return FT_OK;
    }
    if (ft__maxpool2_usable(l)) {
        ft__maxpool2_run(ctx, l, in, out);
        return FT_OK;
    }
    enum xnn_status st =
        l->kind == FT__POOL_MAX
            ? xnn_setup_max_pooling2d_nhwc_f32(l->op, 1, (size_t)in->h, (size_t)in->w, in->data,
                                               out->data, ctx->pool)
            : xnn_setup_average_pooling2d_nhwc_f32(l->op, 1, (size_t)in->h, (size_t)in->w, in->data,
                                                   out->data, ctx->pool);
    if (st != xnn_status_success) return FT_EBACKEND;
    return xnn_run_operator(l->op, ctx->pool) == xnn_status_success ? FT_OK : FT_EBACKEND;
}

int ft__pool_band_init(ft__pool *l)
{
    FT_ASSERT(l->kind == FT__POOL_MAX && l->pad == FT__PAD_EXPLICIT &&
              ft__band_ok(l->k, l->stride, l->pad_y));
    uint32_t p = (uint32_t)l->pad_y;
    const uint32_t top[3] = { p, 0, 0 }, bottom[3] = { 0, 0, p };
    for (int i = 0; i < 3; i++) {
        if (l->band_op[i]) continue;
        int rc = pool_op(l, top[i], bottom[i], 0, &l->band_op[i]);
        if (rc != FT_OK) return rc;
    }
    return FT_OK;
}

int ft__pool_run_band(const ft__nn_ctx *ctx, ft__pool *l, const ft__tensor *in, int in_h, int y0,
                      int y1, ft__tensor *out)
{
    ft__tensor whole = { NULL, in_h, in->w, in->c };
    ft__pool_out_shape(l, &whole, out);
    int out_h = out->h, r0, r1;
    ft__band_rows(l->k, l->stride, l->pad_y, in_h, out_h, y0, y1, &r0, &r1);
    FT_ASSERT(in->c == l->channels && in->h == r1 - r0);
    if (y0 == 0 && y1 == out_h) return ft__pool_run(ctx, l, in, out);
    FT_ASSERT(!ctx->use_ref && l->band_op[0]);
    int kind = band_kind(l->k, l->stride, l->pad_y, in->h, out_h, y0, y1);
    out->h = y1 - y0;
    if (out->w <= 0) return FT_EINVAL;
    if (ft__maxpool2_usable(l)) {
        ft__maxpool2_run(ctx, l, in, out);
        return FT_OK;
    }
    xnn_operator_t op = l->band_op[kind];
    if (xnn_setup_max_pooling2d_nhwc_f32(op, 1, (size_t)in->h, (size_t)in->w, in->data, out->data,
                                         ctx->pool) != xnn_status_success)
        return FT_EBACKEND;
    return xnn_run_operator(op, ctx->pool) == xnn_status_success ? FT_OK : FT_EBACKEND;
}

/* ------------------------------------------------------------------------ */
/* Add, leaky ReLU, fully connected                                         */
/* ------------------------------------------------------------------------ */

int ft__add_init(ft__add *l, float out_min, float out_max)
{
    memset(l, 0, sizeof *l);
    l->out_min = out_min, l->out_max = out_max;
    if (ft__nn_init() != FT_OK) return FT_EBACKEND;
    if (xnn_create_add_nd_f32(out_min, out_max, 0, &l->op) != xnn_status_success) {
        l->op = NULL;
        return FT_EBACKEND;
    }
    return FT_OK;
}

void ft__add_fini(ft__add *l)
{
    if (l && l->op) xnn_delete_operator(l->op);
    if (l) memset(l, 0, sizeof *l);
}

int ft__add_run(const ft__nn_ctx *ctx, ft__add *l, const ft__tensor *a, const ft__tensor *b,
                ft__tensor *out)
{
    FT_ASSERT(a->h == b->h && a->w == b->w && a->c == b->c);
    out->h = a->h, out->w = a->w, out->c = a->c;
    if (ctx->use_ref) {
        ft__ref_add(l->out_min, l->out_max, a, b, out);
        return FT_OK;
    }
    size_t shape[1] = { ft__tensor_count(a) };
    if (xnn_setup_add_nd_f32(l->op, 1, shape, 1, shape, a->data, b->data, out->data, ctx->pool) !=
        xnn_status_success)
        return FT_EBACKEND;
    return xnn_run_operator(l->op, ctx->pool) == xnn_status_success ? FT_OK : FT_EBACKEND;
}

int ft__leaky_init(ft__leaky *l, float slope, int channels)
{
    memset(l, 0, sizeof *l);
    l->slope = slope, l->channels = channels;
    if (ft__nn_init() != FT_OK) return FT_EBACKEND;
    if (xnn_create_leaky_relu_nc_f32(channels, channels, channels, slope, 0, &l->op) !=
        xnn_status_success) {
        l->op = NULL;
        return FT_EBACKEND;
    }
    return FT_OK;
}

void ft__leaky_fini(ft__leaky *l)
{
    if (l && l->op) xnn_delete_operator(l->op);
    if (l) memset(l, 0, sizeof *l);
}

int ft__leaky_run(const ft__nn_ctx *ctx, ft__leaky *l, const ft__tensor *in, ft__tensor *out)
{
    FT_ASSERT(in->c == l->channels);
    out->h = in->h, out->w = in->w, out->c = in->c;
    if (ctx->use_ref) {
        ft__ref_leaky(l->slope, in, out);
        return FT_OK;
    }
    if (xnn_setup_leaky_relu_nc_f32(l->op, (size_t)in->h * in->w, in->data, out->data, ctx->pool) !=
        xnn_status_success)
        return FT_EBACKEND;
    return xnn_run_operator(l->op, ctx->pool) == xnn_status_success ? FT_OK : FT_EBACKEND;
}

int ft__fc_init(ft__fc *l, int cin, int cout, const float *w, const float *b)
{
    memset(l, 0, sizeof *l);
    l->cin = cin, l->cout = cout;
    l->w = ft__malloc((size_t)cin * cout * sizeof(float));
    l->b = ft__calloc((size_t)cout, sizeof(float));
    if (!l->w || !l->b) return FT_ENOMEM;
    memcpy(l->w, w, (size_t)cin * cout * sizeof(float));
    if (b) memcpy(l->b, b, (size_t)cout * sizeof(float));
    if (ft__nn_init() != FT_OK) return FT_EBACKEND;
    if (xnn_create_fully_connected_nc_f32(cin, cout, cin, cout, l->w, l->b, -INFINITY, INFINITY,
                                          XNN_FLAG_TRANSPOSE_WEIGHTS,
                                          &l->op) != xnn_status_success) {
        l->op = NULL;
        return FT_EBACKEND;
    }
    return FT_OK;
}

void ft__fc_fini(ft__fc *l)
{
    if (!l) return;
    if (l->op) xnn_delete_operator(l->op);
    ft__free(l->w);
    ft__free(l->b);
    memset(l, 0, sizeof *l);
}

int ft__fc_run(const ft__nn_ctx *ctx, ft__fc *l, const float *in, float *out)
{
    if (ctx->macs) *ctx->macs += (uint64_t)l->cin * l->cout;
    if (ctx->use_ref) {
        ft__ref_fc(l, in, out);
        return FT_OK;
    }
    if (xnn_setup_fully_connected_nc_f32(l->op, 1, in, out, ctx->pool) != xnn_status_success)
        return FT_EBACKEND;
    return xnn_run_operator(l->op, ctx->pool) == xnn_status_success ? FT_OK : FT_EBACKEND;
}

/* ------------------------------------------------------------------------ */
/* Sigmoid, nearest upsampling                                              */
/* ------------------------------------------------------------------------ */

int ft__sigmoid_init(ft__sigmoid *l, int channels)
{
    memset(l, 0, sizeof *l);
    FT_ASSERT(channels > 0);
    l->channels = channels;
    if (ft__nn_init() != FT_OK) return FT_EBACKEND;
    if (xnn_create_sigmoid_nc_f32(channels, channels, channels, 0, &l->op) != xnn_status_success) {
        l->op = NULL;
        return FT_EBACKEND;
    }
    return FT_OK;
}

void ft__sigmoid_fini(ft__sigmoid *l)
{
    if (l && l->op) xnn_delete_operator(l->op);
    if (l) memset(l, 0, sizeof *l);
}

int ft__sigmoid_run(const ft__nn_ctx *ctx, ft__sigmoid *l, const ft__tensor *in, ft__tensor *out)
{
    FT_ASSERT(in->c == l->channels);
    out->h = in->h, out->w = in->w, out->c = in->c;
    if (ctx->use_ref) {
        ft__ref_sigmoid(in, out);
        return FT_OK;
    }
    if (xnn_setup_sigmoid_nc_f32(l->op, (size_t)in->h * in->w, in->data, out->data, ctx->pool) !=
        xnn_status_success)
        return FT_EBACKEND;
    return xnn_run_operator(l->op, ctx->pool) == xnn_status_success ? FT_OK : FT_EBACKEND;
}

int ft__upsample_init(ft__upsample *l, int factor, int channels)
{
    memset(l, 0, sizeof *l);
    FT_ASSERT(factor > 0 && channels > 0);
    l->factor = factor, l->channels = channels;
    /* XNNPACK may read XNN_EXTRA_BYTES past an operand: slack after the zeros */
    l->zeros = ft__calloc((size_t)factor * factor * channels + FT__XNN_SLACK, sizeof(float));
    if (!l->zeros) return FT_ENOMEM;
    if (ft__nn_init() != FT_OK) return FT_EBACKEND;
    if (xnn_create_add_nd_f32(-INFINITY, INFINITY, 0, &l->op) != xnn_status_success) {
        l->op = NULL;
        return FT_EBACKEND;
    }
    return FT_OK;
}

void ft__upsample_fini(ft__upsample *l)
{
    if (!l) return;
    if (l->op) xnn_delete_operator(l->op);
    ft__free(l->zeros);
    memset(l, 0, sizeof *l);
}

void ft__upsample_out_shape(const ft__upsample *l, const ft__tensor *in, ft__tensor *out)
{
    out->h = in->h * l->factor, out->w = in->w * l->factor, out->c = in->c;
}

int ft__upsample_run(const ft__nn_ctx *ctx, ft__upsample *l, const ft__tensor *in, ft__tensor *out)
{
    FT_ASSERT(in->c == l->channels && in->data != out->data);
    ft__upsample_out_shape(l, in, out);
    if (ctx->use_ref) {
        ft__ref_upsample(l->factor, in, out);
        return FT_OK;
    }
    size_t f = (size_t)l->factor, c = (size_t)in->c;
    size_t a[5] = { (size_t)in->h, 1, (size_t)in->w, 1, c }, z[5] = { 1, f, 1, f, c };
    if (xnn_setup_add_nd_f32(l->op, 5, a, 5, z, in->data, l->zeros, out->data, ctx->pool) !=
        xnn_status_success)
        return FT_EBACKEND;
    return xnn_run_operator(l->op, ctx->pool) == xnn_status_success ? FT_OK : FT_EBACKEND;
}

int ft__upsample_add_run(const ft__nn_ctx *ctx, ft__upsample *l, const ft__tensor *a,
                         const ft__tensor *in, ft__tensor *out)
{
    size_t f = (size_t)l->factor, c = (size_t)in->c;
    FT_ASSERT(in->c == l->channels && a->c == in->c && a->h == l->factor * in->h &&
              a->w == l->factor * in->w && out->data != in->data);
    out->h = a->h, out->w = a->w, out->c = a->c;
    if (ctx->use_ref) {
        ft__ref_upsample_add(l->factor, a, in, out);
        return FT_OK;
    }
    /* a seen as (h, f, w, f, c), in as (h, 1, w, 1, c) */
    size_t sa[5] = { (size_t)in->h, f, (size_t)in->w, f, c },
           si[5] = { (size_t)in->h, 1, (size_t)in->w, 1, c };
    if (xnn_setup_add_nd_f32(l->op, 5, sa, 5, si, a->data, in->data, out->data, ctx->pool) !=
        xnn_status_success)
        return FT_EBACKEND;
    return xnn_run_operator(l->op, ctx->pool) == xnn_status_success ? FT_OK : FT_EBACKEND;
}

/* ------------------------------------------------------------------------ */
/* Channel slices                                                           */
/* ------------------------------------------------------------------------ */

int ft__slice_init(ft__slice *l, int c, int off, int n)
{
    memset(l, 0, sizeof *l);
    FT_ASSERT(n > 0 && off >= 0 && off + n <= c);
    l->c = c, l->off = off, l->n = n;
    if (ft__nn_init() != FT_OK) return FT_EBACKEND;
    if (xnn_create_copy_nc_x32((size_t)n, (size_t)c, (size_t)n, 0, &l->op) != xnn_status_success) {
        l->op = NULL;
        return FT_EBACKEND;
    }
    return FT_OK;
}

void ft__slice_fini(ft__slice *l)
{
    if (l && l->op) xnn_delete_operator(l->op);
    if (l) memset(l, 0, sizeof *l);
}

int ft__slice_run(const ft__nn_ctx *ctx, ft__slice *l, const ft__tensor *in, ft__tensor *out)
{
    FT_ASSERT(in->c == l->c && in->data != out->data);
    out->h = in->h, out->w = in->w, out->c = l->n;
    if (ctx->use_ref) {
        ft__ref_slice(l->off, in, out);
        return FT_OK;
    }
    if (xnn_setup_copy_nc_x32(l->op, (size_t)in->h * in->w, in->data + l->off, out->data,
                              ctx->pool) != xnn_status_success)
        return FT_EBACKEND;
    return xnn_run_operator(l->op, ctx->pool) == xnn_status_success ? FT_OK : FT_EBACKEND;
}

/* ------------------------------------------------------------------------ */
/* Scratch buffers                                                          */
/* ------------------------------------------------------------------------ */

int ft__ws_tensor(ft__ws *ws, int slot, int h, int w, int c, ft__tensor *t)
{
    FT_ASSERT(slot >= 0 && slot < FT__WS_SLOTS && h > 0 && w > 0 && c > 0);
    size_t need = (size_t)h * w * c;
    if (ws->cap[slot] < need) {
        float *p = ft__realloc(ws->buf[slot], (need + FT__XNN_SLACK) * sizeof(float));
        if (!p) return FT_ENOMEM;
        ws->buf[slot] = p;
        ws->cap[slot] = need;
    }
    t->data = ws->buf[slot];
    t->h = h, t->w = w, t->c = c;
    return FT_OK;
}

void ft__ws_free(ft__ws *ws)
{
    for (int i = 0; i < FT__WS_SLOTS; i++) {
        ft__free(ws->buf[i]);
        ws->buf[i] = NULL;
        ws->cap[i] = 0;
    }
}
