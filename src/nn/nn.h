/*
** nn/nn.h: the neural-network runtime shared by the detector, landmark and
** descriptor nets: tensors, the TF.js weights loader, and layers on XNNPACK
** with a naive reference implementation of each.
**
** DESIGN
**   Tensors are batch-1 NHWC float32 (llama2.c style: plain structs, shapes in
**   comments). A layer is a caller-owned struct set up once from weights
**   (ft__conv_init ...) and run many times; each run picks the XNNPACK path
**   (or, for 3x3 depthwise convolution at stride 1 and 2x2 max pooling with
**   a multiple of 16 channels on an AVX-512 CPU, the kernels of
**   nn/kern_avx512.c) or, when the context asks for it (ctx->use_ref), the
**   naive reference path in nn/ref/, which the tests use as the oracle for
**   the others.
**   Padding follows TensorFlow: SAME pads (total = max((out-1)*s + k - in, 0))
**   with the smaller half before, VALID pads nothing; max pooling ignores the
**   padded cells (as if -inf).
**
** INVARIANTS  (1) a layer's weights are copied at init; the model may be freed.
**             (2) run functions never allocate; the caller sizes out->data
**                 (ft__conv_out_shape etc. give the shapes), and every input
**                 buffer has FT__XNN_SLACK floats of slack after its data.
**             (3) every XNNPACK failure is FT_EBACKEND, never an abort.
** THREADS     A layer is used by one thread at a time; ctx->pool holds the
**             worker threads (NULL: run on the calling thread).
*/
#ifndef FT_NN_H
#define FT_NN_H

#include "core/core.h"

#include <pthreadpool.h>
#include <xnnpack.h>

/* A batch-1 activation tensor, (h, w, c) row-major. data is borrowed. */
typedef struct ft__tensor {
    float *data;
    int h, w, c;
} ft__tensor;

static inline size_t ft__tensor_count(const ft__tensor *t)
{
    return (size_t)t->h * (size_t)t->w * (size_t)t->c;
}

/* Floats of slack after every buffer XNNPACK reads: its kernels may read up
** to XNN_EXTRA_BYTES past the end of an input (never using the values). */
#define FT__XNN_SLACK ((XNN_EXTRA_BYTES + sizeof(float) - 1) / sizeof(float))

/* Execution context of one net run. */
typedef struct ft__nn_ctx {
    pthreadpool_t pool; /* may be NULL */
    int use_ref;        /* 1: naive reference kernels instead of XNNPACK */
    uint64_t *macs;     /* if not NULL, multiply-accumulates are counted here */
} ft__nn_ctx;

/* Initialises XNNPACK once per process (idempotent). FT_EBACKEND on failure. */
int ft__nn_init(void);

/* ------------------------------------------------------------------------ */
/* Weights: TF.js layers-model manifest + .bin shards                       */
/* ------------------------------------------------------------------------ */

typedef struct ft__weight {
    char *name;
    int rank;
    int shape[4];
    size_t count; /* product of shape */
    float *data;  /* dequantised float32 (int32 tensors converted to float) */
} ft__weight;

typedef struct ft__model {
    char *name; /* e.g. "ssd_mobilenetv1_model" */
    int n;
    ft__weight *w;
} ft__model;

/* Loads <dir>/<name>-weights_manifest.json and the shards it lists.
** Dequantises as TF.js does: float32(q * scale + min), computed in double.
** Validates the JSON layout, dtypes, shapes, and that the shards hold exactly
** the bytes the manifest describes. FT_EMODEL/FT_EIO/FT_ENOMEM with a message. */
int ft__model_load(const char *dir, const char *name, ft__model **out, char *err, size_t errlen);
void ft__model_free(ft__model *m);

/* A model file we ship against, pinned by name (see nn/model.c). */
typedef struct ft__model_pin {
    const char *file;   /* base name, e.g. "ssd_mobilenetv1_model.bin" */
    const char *sha256; /* lowercase hex */
    size_t size;        /* bytes */
    const char *source; /* the release it comes from, for messages */
} ft__model_pin;

/* The pin of a file name; NULL when the name is not pinned. */
const ft__model_pin *ft__model_pin_find(const char *file);

/* Checks the bytes read from path (whose base name is file) against file's
** pin: FT_OK when the name is not pinned or size and SHA-256 match, else
** FT_EMODEL with a message naming path and how to refetch; FT_ENOMEM. */
int ft__model_check_pin(const char *path, const char *file, const unsigned char *data, size_t len,
                        char *err, size_t errlen);

/* The weight called name, checked against the expected shape (rank dims).
** NULL with a message in err if missing or of another shape. */
const float *ft__model_get(const ft__model *m, const char *name, int rank, const int *shape,
                           char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Layers                                                                   */
/* ------------------------------------------------------------------------ */

/* SAME and VALID pad as TensorFlow; EXPLICIT pads pad_y rows above and below
** and pad_x columns left and right (ONNX and dlib nets), set by the *_init_pad
** constructors. */
enum ft__pad { FT__PAD_SAME = 0, FT__PAD_VALID = 1, FT__PAD_EXPLICIT = 2 };

/* Output size of a conv/pool window along one axis (SAME or VALID). */
int ft__window_out(int in, int k, int stride, enum ft__pad pad);
/* Output size with explicit padding p on both sides: (in + 2p - k) / s + 1,
** or 0 when the padded input is smaller than the window. */
int ft__window_out_explicit(int in, int k, int stride, int p);
/* TF's padding before the first cell along one axis (SAME only). */
int ft__window_pad_before(int in, int k, int stride, enum ft__pad pad);

/* 2-D convolution, regular (weights HWIO (kh, kw, cin, cout)) or depthwise
** (weights (kh, kw, cin), cout == cin), + bias, output clamped to
** [out_min, out_max] (use -INFINITY/INFINITY for none, 0/6 for ReLU6). */
typedef struct ft__conv {
    int kh, kw, stride, cin, cout, depthwise;
    enum ft__pad pad;
    int pad_y, pad_x; /* FT__PAD_EXPLICIT only */
    float out_min, out_max;
    float *w; /* (kh, kw, cin, cout) or (kh, kw, cin) when depthwise */
    float *b; /* (cout) */
    xnn_operator_t op;
    xnn_operator_t band_op[3]; /* ft__conv_band_init: first, middle, last band */
} ft__conv;

int ft__conv_init(ft__conv *l, int kh, int kw, int stride, int cin, int cout, int depthwise,
                  enum ft__pad pad, const float *w, const float *b, float out_min, float out_max);
/* The same with explicit symmetric padding (pad_y rows, pad_x columns of zeros
** on each side). */
int ft__conv_init_pad(ft__conv *l, int kh, int kw, int stride, int pad_y, int pad_x, int cin,
                      int cout, int depthwise, const float *w, const float *b, float out_min,
                      float out_max);
void ft__conv_fini(ft__conv *l);
void ft__conv_out_shape(const ft__conv *l, const ft__tensor *in, ft__tensor *out);
int ft__conv_run(const ft__nn_ctx *ctx, ft__conv *l, const ft__tensor *in, ft__tensor *out);

/* Bands of rows: nn/onnx_net.c runs a chain of layers a few output rows at a
** time, so that what passes from layer to layer stays in the cache. A band
** of a layer is its output rows [y0, y1) for an input in_h rows high (out_h
** rows out); it reads the input rows [r0, r1) that ft__band_rows gives
** (all rows to the input's end for the last band). ft__*_band_init makes
** three more operators with the layer's weights: for the first band
** (padding above only), a middle one (no vertical padding) and the last
** (padding below only); a band that is the whole output runs as
** ft__*_run. Possible for explicit padding at most the stride and a window
** at least the stride (ft__band_ok): then only the first and last bands
** touch the padding, and every input row is read. */
int ft__band_ok(int k, int stride, int pad);
void ft__band_rows(int k, int stride, int pad, int in_h, int out_h, int y0, int y1,
                   int *r0 /* OUT */, int *r1 /* OUT */);
/* The band operators of an explicitly padded layer. FT_ENOMEM, FT_EBACKEND. */
int ft__conv_band_init(ft__conv *l);
/* Output rows [y0, y1) of l on an input in_h rows high, of which in holds
** rows [r0, r1) (in->h == r1 - r0); out->data receives (y1 - y0, w, cout).
** Partial bands need the band operators and the XNNPACK path. */
int ft__conv_run_band(const ft__nn_ctx *ctx, ft__conv *l, const ft__tensor *in, int in_h, int y0,
                      int y1, ft__tensor *out);
/* The same for a layer ft__dw3x3_usable takes, with the input rows [r0, r1)
** (n_rows of them, w pixels each) given one pointer each. */
int ft__conv_run_band_rows(const ft__nn_ctx *ctx, ft__conv *l, const float *const *rows, int n_rows,
                           int w, int in_h, int y0, int y1, ft__tensor *out);

/* 3x3 depthwise convolution at stride 1 on AVX-512 (nn/kern_avx512.c),
** which ft__conv_run and ft__conv_run_band use instead of XNNPACK's kernel
** where ft__dw3x3_usable says so: explicit padding of one column and at most
** one row, channels a multiple of 16, a CPU with AVX-512F. ft__dw3x3_run
** makes out->h rows; output row j reads input rows j - top .. j - top + 2
** (zeros outside in's rows). ft__dw3x3_allow(0) is a test hook
** (process-wide): every layer to XNNPACK (max pooling too). */
int ft__dw3x3_usable(const ft__conv *l);
void ft__dw3x3_run(const ft__nn_ctx *ctx, const ft__conv *l, const ft__tensor *in, int top,
                   ft__tensor *out);
/* The same on n_rows input rows of w pixels given one pointer each. */
void ft__dw3x3_run_rows(const ft__nn_ctx *ctx, const ft__conv *l, const float *const *rows,
                        int n_rows, int w, int top, ft__tensor *out);
void ft__dw3x3_allow(int on);

enum ft__pool_kind { FT__POOL_MAX = 0, FT__POOL_AVG = 1 };

/* Max or average pooling, k x k window. Average pooling is VALID only. */
typedef struct ft__pool {
    enum ft__pool_kind kind;
    int k, stride, channels;
    enum ft__pad pad;
    int pad_y, pad_x; /* FT__PAD_EXPLICIT only */
    xnn_operator_t op;
    xnn_operator_t band_op[3]; /* ft__pool_band_init: first, middle, last band */
} ft__pool;

int ft__pool_init(ft__pool *l, enum ft__pool_kind kind, int k, int stride, enum ft__pad pad,
                  int channels);
/* Max pooling with explicit symmetric padding (padded cells ignored). */
int ft__pool_init_pad(ft__pool *l, int k, int stride, int pad_y, int pad_x, int channels);
void ft__pool_fini(ft__pool *l);
void ft__pool_out_shape(const ft__pool *l, const ft__tensor *in, ft__tensor *out);
int ft__pool_run(const ft__nn_ctx *ctx, ft__pool *l, const ft__tensor *in, ft__tensor *out);
/* 2x2 max pooling at stride 2 without padding on AVX-512 (nn/kern_avx512.c),
** which ft__pool_run and ft__pool_run_band use where ft__maxpool2_usable
** says so (channels a multiple of 16, a CPU with AVX-512F): out->h rows,
** output row j from input rows 2j and 2j + 1. */
int ft__maxpool2_usable(const ft__pool *l);
void ft__maxpool2_run(const ft__nn_ctx *ctx, const ft__pool *l, const ft__tensor *in,
                      ft__tensor *out);
/* Bands of max pooling with explicit padding, as ft__conv_band_init and
** ft__conv_run_band. */
int ft__pool_band_init(ft__pool *l);
int ft__pool_run_band(const ft__nn_ctx *ctx, ft__pool *l, const ft__tensor *in, int in_h, int y0,
                      int y1, ft__tensor *out);

/* Element-wise out = clamp(a + b, out_min, out_max); same shapes; out may
** alias a or b. */
typedef struct ft__add {
    float out_min, out_max;
    xnn_operator_t op;
} ft__add;

int ft__add_init(ft__add *l, float out_min, float out_max);
void ft__add_fini(ft__add *l);
int ft__add_run(const ft__nn_ctx *ctx, ft__add *l, const ft__tensor *a, const ft__tensor *b,
                ft__tensor *out);

/* Leaky ReLU, out = x >= 0 ? x : slope * x; in place allowed. */
typedef struct ft__leaky {
    float slope;
    int channels;
    xnn_operator_t op;
} ft__leaky;

int ft__leaky_init(ft__leaky *l, float slope, int channels);
void ft__leaky_fini(ft__leaky *l);
int ft__leaky_run(const ft__nn_ctx *ctx, ft__leaky *l, const ft__tensor *in, ft__tensor *out);

/* Fully connected: out(cout) = in(cin) . W(cin, cout) + b (b may be NULL). */
typedef struct ft__fc {
    int cin, cout;
    float *w; /* (cin, cout) */
    float *b; /* (cout) */
    xnn_operator_t op;
} ft__fc;

int ft__fc_init(ft__fc *l, int cin, int cout, const float *w, const float *b);
void ft__fc_fini(ft__fc *l);
int ft__fc_run(const ft__nn_ctx *ctx, ft__fc *l, const float *in, float *out);

/* Logistic sigmoid, out = 1 / (1 + exp(-x)); in place allowed. */
typedef struct ft__sigmoid {
    int channels;
    xnn_operator_t op;
} ft__sigmoid;

int ft__sigmoid_init(ft__sigmoid *l, int channels);
void ft__sigmoid_fini(ft__sigmoid *l);
int ft__sigmoid_run(const ft__nn_ctx *ctx, ft__sigmoid *l, const ft__tensor *in, ft__tensor *out);

/* Nearest-neighbour upsampling by an integer factor f:
** out(y, x, c) = in(y / f, x / f, c), out (h*f, w*f, c); what ONNX Resize
** does in mode nearest with asymmetric coordinates and floor rounding at
** integer scales. XNNPACK has no such operator: it runs as a broadcasting
** add of zeros, in seen as (h, 1, w, 1, c) + zeros (1, f, 1, f, c), whose
** (h, f, w, f, c) result is (h*f, w*f, c) in memory (-0 becomes +0). out
** must not alias in. */
typedef struct ft__upsample {
    int factor, channels;
    float *zeros; /* (f, f, c) */
    xnn_operator_t op;
} ft__upsample;

int ft__upsample_init(ft__upsample *l, int factor, int channels);
void ft__upsample_fini(ft__upsample *l);
void ft__upsample_out_shape(const ft__upsample *l, const ft__tensor *in, ft__tensor *out);
int ft__upsample_run(const ft__nn_ctx *ctx, ft__upsample *l, const ft__tensor *in, ft__tensor *out);
/* out = a + the upsampling of in, in one pass (the same broadcasting add, of
** in seen as (h, 1, w, 1, c) to a seen as (h, f, w, f, c)); a is (h*f, w*f,
** c); out may alias a but not in. */
int ft__upsample_add_run(const ft__nn_ctx *ctx, ft__upsample *l, const ft__tensor *a,
                         const ft__tensor *in, ft__tensor *out);

/* Channels [off, off + n) of an (h, w, c) tensor as an (h, w, n) one: a
** copy. out must not alias in. */
typedef struct ft__slice {
    int c, off, n;
    xnn_operator_t op;
} ft__slice;

int ft__slice_init(ft__slice *l, int c, int off, int n);
void ft__slice_fini(ft__slice *l);
int ft__slice_run(const ft__nn_ctx *ctx, ft__slice *l, const ft__tensor *in, ft__tensor *out);

/* ------------------------------------------------------------------------ */
/* Reference kernels (nn/ref/ref.c): straightforward loops, TF semantics     */
/* ------------------------------------------------------------------------ */

void ft__ref_conv(const ft__conv *l, const ft__tensor *in, ft__tensor *out);
void ft__ref_pool(const ft__pool *l, const ft__tensor *in, ft__tensor *out);
void ft__ref_add(float out_min, float out_max, const ft__tensor *a, const ft__tensor *b,
                 ft__tensor *out);
void ft__ref_leaky(float slope, const ft__tensor *in, ft__tensor *out);
void ft__ref_fc(const ft__fc *l, const float *in, float *out);
void ft__ref_sigmoid(const ft__tensor *in, ft__tensor *out);
void ft__ref_upsample(int factor, const ft__tensor *in, ft__tensor *out);
void ft__ref_upsample_add(int factor, const ft__tensor *a, const ft__tensor *in, ft__tensor *out);
void ft__ref_slice(int off, const ft__tensor *in, ft__tensor *out);

/* ------------------------------------------------------------------------ */
/* Scratch buffers                                                          */
/* ------------------------------------------------------------------------ */

/* A set of growable float buffers a net reuses from run to run, so that a
** run allocates only when an input is larger than any before. */
#define FT__WS_SLOTS 16
typedef struct ft__ws {
    float *buf[FT__WS_SLOTS];
    size_t cap[FT__WS_SLOTS];
} ft__ws;

/* Points t at slot i, grown to hold (h, w, c). FT_ENOMEM on failure. */
int ft__ws_tensor(ft__ws *ws, int slot, int h, int w, int c, ft__tensor *t);
void ft__ws_free(ft__ws *ws);

#endif
