/*
** align/landmarks.c: face-api's 68-point landmark nets (face_landmark_68 and
** face_landmark_68_tiny).
**
** DESIGN
**   input  (112, 112, 3): the face crop padded centred to a square, resized to
**          112, (x - (122.782, 117.001, 104.298)) / 255
**   dense block (4 convs; the tiny net has 3 blocks of 3):
**          out1 = relu(conv0(x))        first block: 3x3/2 conv + bias; others:
**                                       separable 3x3/2 (depthwise, pointwise + bias)
**          out2 = sep(out1)             separable 3x3/1, no activation
**          out3 = sep(relu(out1 + out2))
**          out4 = sep(relu(out1 + (out2 + out3)))
**          y    = relu(out1 + (out2 + (out3 + out4)))
**          (the sums in face-api's order: float addition is not associative)
**   blocks 112 -> 56 -> 28 -> 14 -> 7 (32, 64, 128, 256 channels); average pool
**          7x7/2 VALID (tiny: 3 blocks to 14x14x128, pool 14x14/2); fc -> 136.
**   output (x, y) pairs in [0, 1] of the padded square; mapped back to crop
**          pixels as face-api's postProcess does, in float32:
**          p = (v * 112 - pad) / (side * 112 / max side), pad = |w' - h'| / 2.
**
** OWNERSHIP   The net owns its layers and scratch space.
*/
#include "align/align.h"
#include "image/netinput.h"

#include <math.h>
#include <string.h>

#define LM_SIZE 112
#define MAX_BLOCKS 4
#define MAX_CONVS  4

typedef struct dense_block {
    int n_convs;
    ft__conv first;              /* block 0: regular conv; others: depthwise part */
    ft__conv first_pw;           /* pointwise part (blocks > 0) */
    ft__conv dw[MAX_CONVS - 1];  /* separable convs 1..n-1 */
    ft__conv pw[MAX_CONVS - 1];
} dense_block;

struct ft__landmark_net {
    int tiny, n_blocks;
    dense_block blocks[MAX_BLOCKS];
    ft__add add, add_relu;
    ft__pool pool;
    ft__fc fc;
    ft__ws ws;
    float input[LM_SIZE * LM_SIZE * 3 + FT__XNN_SLACK];
};

static const float mean_rgb[3] = { 122.782f, 117.001f, 104.298f };

void ft__landmark_close(ft__landmark_net *net)
{
    if (!net) return;
    for (int b = 0; b < MAX_BLOCKS; b++) {
        dense_block *blk = &net->blocks[b];
        ft__conv_fini(&blk->first);
        ft__conv_fini(&blk->first_pw);
        for (int i = 0; i < MAX_CONVS - 1; i++) {
            ft__conv_fini(&blk->dw[i]);
            ft__conv_fini(&blk->pw[i]);
        }
    }
    ft__add_fini(&net->add);
    ft__add_fini(&net->add_relu);
    ft__pool_fini(&net->pool);
    ft__fc_fini(&net->fc);
    ft__ws_free(&net->ws);
    ft__free(net);
}

/* Separable conv <prefix>: depthwise 3x3 (no bias) into dw, pointwise + bias
** into pw, the pointwise clamped to [lo, hi]. */
static int load_separable(const ft__model *m, const char *prefix, int stride, int cin, int cout,
                          float lo, ft__conv *dw, ft__conv *pw, char *err, size_t errlen)
{
    char name[128];
    int dshape[4] = { 3, 3, cin, 1 }, pshape[4] = { 1, 1, cin, cout }, bshape[1] = { cout };
    const float *d, *p, *b;
    snprintf(name, sizeof name, "%s/depthwise_filter", prefix);
    if (!(d = ft__model_get(m, name, 4, dshape, err, errlen))) return FT_EMODEL;
    snprintf(name, sizeof name, "%s/pointwise_filter", prefix);
    if (!(p = ft__model_get(m, name, 4, pshape, err, errlen))) return FT_EMODEL;
    snprintf(name, sizeof name, "%s/bias", prefix);
    if (!(b = ft__model_get(m, name, 1, bshape, err, errlen))) return FT_EMODEL;
    int rc = ft__conv_init(dw, 3, 3, stride, cin, cin, 1, FT__PAD_SAME, d, NULL, -INFINITY,
                           INFINITY);
    if (rc == FT_OK)
        rc = ft__conv_init(pw, 1, 1, 1, cin, cout, 0, FT__PAD_SAME, p, b, lo, INFINITY);
    return rc == FT_OK ? rc : ft__errf(err, errlen, rc, "landmarks: cannot set up %s", prefix);
}

int ft__landmark_open(const char *model_dir, int tiny, ft__landmark_net **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    ft__model *m = NULL;
    const char *name = tiny ? "face_landmark_68_tiny_model" : "face_landmark_68_model";
    int rc = ft__model_load(model_dir, name, &m, err, errlen);
    if (rc != FT_OK) return rc;
    ft__landmark_net *net = ft__calloc(1, sizeof *net);
    if (!net) {
        ft__model_free(m);
        return ft__errf(err, errlen, FT_ENOMEM, "out of memory");
    }
    net->tiny = tiny;
    net->n_blocks = tiny ? 3 : 4;
    int n_convs = tiny ? 3 : 4;
    int cin = 3;
    for (int bi = 0; bi < net->n_blocks && rc == FT_OK; bi++) {
        int cout = 32 << bi;
        dense_block *blk = &net->blocks[bi];
        blk->n_convs = n_convs;
        char prefix[64];
        if (bi == 0) {
            int wshape[4] = { 3, 3, 3, cout }, bshape[1] = { cout };
            const float *w = ft__model_get(m, "dense0/conv0/filters", 4, wshape, err, errlen);
            const float *b = w ? ft__model_get(m, "dense0/conv0/bias", 1, bshape, err, errlen) : NULL;
            if (!w || !b) {
                rc = FT_EMODEL;
                break;
            }
            rc = ft__conv_init(&blk->first, 3, 3, 2, 3, cout, 0, FT__PAD_SAME, w, b, 0.0f,
                               INFINITY);
        } else {
            snprintf(prefix, sizeof prefix, "dense%d/conv0", bi);
            rc = load_separable(m, prefix, 2, cin, cout, 0.0f, &blk->first, &blk->first_pw, err,
                                errlen);
        }
        for (int i = 1; i < n_convs && rc == FT_OK; i++) {
            snprintf(prefix, sizeof prefix, "dense%d/conv%d", bi, i);
            rc = load_separable(m, prefix, 1, cout, cout, -INFINITY, &blk->dw[i - 1],
                                &blk->pw[i - 1], err, errlen);
        }
        cin = cout;
    }
    if (rc == FT_OK) {
        int wshape[2] = { cin, 136 }, bshape[1] = { 136 };
        const float *w = ft__model_get(m, "fc/weights", 2, wshape, err, errlen);
        const float *b = w ? ft__model_get(m, "fc/bias", 1, bshape, err, errlen) : NULL;
        if (!w || !b) rc = FT_EMODEL;
        if (rc == FT_OK) rc = ft__fc_init(&net->fc, cin, 136, w, b);
        if (rc == FT_OK) rc = ft__add_init(&net->add, -INFINITY, INFINITY);
        if (rc == FT_OK) rc = ft__add_init(&net->add_relu, 0.0f, INFINITY);
        if (rc == FT_OK)
            rc = ft__pool_init(&net->pool, FT__POOL_AVG, tiny ? 14 : 7, 2, FT__PAD_VALID, cin);
        if (rc != FT_OK && rc != FT_EMODEL)
            ft__errf(err, errlen, rc, "landmarks: cannot set up the output layers");
    }
    ft__model_free(m);
    if (rc != FT_OK) {
        ft__landmark_close(net);
        return rc;
    }
    *out = net;
    return FT_OK;
}

/* Runs conv l on in into workspace slot, sizing it. */
static int step(const ft__nn_ctx *ctx, ft__ws *ws, ft__conv *l, const ft__tensor *in, int slot,
                ft__tensor *out)
{
    ft__tensor s;
    ft__conv_out_shape(l, in, &s);
    int rc = ft__ws_tensor(ws, slot, s.h, s.w, s.c, out);
    return rc == FT_OK ? ft__conv_run(ctx, l, in, out) : rc;
}

/* Separable conv: depthwise into the scratch slot 7, pointwise into slot. */
static int sep(const ft__nn_ctx *ctx, ft__ws *ws, ft__conv *dw, ft__conv *pw,
               const ft__tensor *in, int slot, ft__tensor *out)
{
    ft__tensor t;
    int rc = step(ctx, ws, dw, in, 7, &t);
    return rc == FT_OK ? step(ctx, ws, pw, &t, slot, out) : rc;
}

/* One dense block from in into slot 0 (out). Slots 1..6 hold its partials. */
static int dense(const ft__nn_ctx *ctx, ft__landmark_net *net, dense_block *blk, int first,
                 const ft__tensor *in, ft__tensor *out)
{
    ft__ws *ws = &net->ws;
    ft__tensor o[MAX_CONVS + 1], sum, acc;
    int rc = first ? step(ctx, ws, &blk->first, in, 1, &o[1])
                   : sep(ctx, ws, &blk->first, &blk->first_pw, in, 1, &o[1]);
    if (rc != FT_OK) return rc;
    /* in_k = relu(out1 + (out2 + (... + out_{k-1}))) for k >= 3; in_2 = out1 */
    const ft__tensor *x = &o[1];
    for (int k = 2; k <= blk->n_convs + 1; k++) {
        if (k >= 3) {
            /* right-nested sum of out2..out_{k-1}, then + out1 with relu */
            if ((rc = ft__ws_tensor(ws, 5, o[1].h, o[1].w, o[1].c, &acc)) != FT_OK) return rc;
            memcpy(acc.data, o[k - 1].data, ft__tensor_count(&acc) * sizeof(float));
            for (int j = k - 2; j >= 2; j--)
                if ((rc = ft__add_run(ctx, &net->add, &o[j], &acc, &acc)) != FT_OK) return rc;
            int last = k == blk->n_convs + 1;
            if ((rc = ft__ws_tensor(ws, last ? 0 : 6, o[1].h, o[1].w, o[1].c, &sum)) != FT_OK)
                return rc;
            if ((rc = ft__add_run(ctx, &net->add_relu, &o[1], &acc, &sum)) != FT_OK) return rc;
            if (last) {
                *out = sum;
                return FT_OK;
            }
            x = &sum;
        }
        if ((rc = sep(ctx, ws, &blk->dw[k - 2], &blk->pw[k - 2], x, k, &o[k])) != FT_OK) return rc;
    }
    return FT_OK;
}

int ft__landmark_run(const ft__nn_ctx *ctx, ft__landmark_net *net, const ft_image *img,
                     const int crop[4], double pts[68][2])
{
    int rc = ft__net_input(img, crop[0], crop[1], crop[2], crop[3], FT__SQUARE_CENTRED, LM_SIZE,
                           net->input);
    if (rc != FT_OK) return rc;
    for (int i = 0; i < LM_SIZE * LM_SIZE * 3; i++)
        net->input[i] = (net->input[i] - mean_rgb[i % 3]) / 255.0f;

    ft__tensor x = { net->input, LM_SIZE, LM_SIZE, 3 }, y = { 0 };
    /* blocks alternate their output between slots 0 and 8 */
    for (int b = 0; b < net->n_blocks; b++) {
        if ((rc = dense(ctx, net, &net->blocks[b], b == 0, &x, &y)) != FT_OK) return rc;
        ft__tensor keep;
        if ((rc = ft__ws_tensor(&net->ws, 8 + (b % 2), y.h, y.w, y.c, &keep)) != FT_OK) return rc;
        memcpy(keep.data, y.data, ft__tensor_count(&y) * sizeof(float));
        x = keep;
    }
    ft__tensor pooled;
    float buf[256 + FT__XNN_SLACK];
    ft__pool_out_shape(&net->pool, &x, &pooled);
    if (pooled.h != 1 || pooled.w != 1 || pooled.c > 256) return FT_EBACKEND;
    pooled.data = buf;
    if ((rc = ft__pool_run(ctx, &net->pool, &x, &pooled)) != FT_OK) return rc;
    float v[136];
    if ((rc = ft__fc_run(ctx, &net->fc, buf, v)) != FT_OK) return rc;

    /* face-api FaceLandmark68NetBase.postProcess, float32 tensors */
    int cw = crop[2], ch = crop[3];
    double scale = (double)LM_SIZE / (cw > ch ? cw : ch);
    float in_w = (float)(cw * scale), in_h = (float)(ch * scale);
    float pad_x = cw < ch ? (float)(fabs(cw * scale - ch * scale) / 2) : 0.0f;
    float pad_y = ch < cw ? (float)(fabs(cw * scale - ch * scale) / 2) : 0.0f;
    for (int i = 0; i < 68; i++) {
        float rx = (v[2 * i] * (float)LM_SIZE - pad_x) / in_w;
        float ry = (v[2 * i + 1] * (float)LM_SIZE - pad_y) / in_h;
        /* FaceLandmarks: relative position x crop dims (double) */
        pts[i][0] = (double)rx * cw;
        pts[i][1] = (double)ry * ch;
    }
    return FT_OK;
}
