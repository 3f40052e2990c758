/*
** embed/recognition.c: face-api's face recognition net, the 128-d ResNet-29
** descriptor ported from dlib.
**
** DESIGN
**   input  (150, 150, 3): the chip, (x - (122.782, 117.001, 104.298)) / 255
**   conv32_down  7x7/2 VALID 3->32 (150 -> 72), relu; maxpool 3x3/2 VALID (-> 35)
**   residual     y = relu(x + conv2(relu(conv1(x)))), 3x3 SAME convs
**   residualDown y = relu(avgpool2x2/2(x) ++ zero channels + conv2(relu(conv1/2 VALID(x))))
**                where the conv branch is zero-padded bottom/right when it is
**                one cell smaller than the pooled branch (8 -> 3 vs 4, 4 -> 1 vs 2)
**   stages 32x3 (35), 64 down+3 (17), 128 down+2 (8), 256 down+2 (4),
**          256 down_out (2); mean over the 2x2 cells; fc 256 -> 128, no bias.
**   Every conv is conv + bias then a per-channel scale layer (x * s + t); the
**   scale is folded into the conv at open: w' = w * s, b' = b * s + t.
**
** OWNERSHIP   The net owns its layers and scratch space.
*/
#include "embed/embed.h"

#include <math.h>
#include <string.h>

#define CHIP 150

typedef struct res_block {
    int down;
    ft__conv conv1, conv2;
} res_block;

enum { N_BLOCKS = 13 };

static const struct {
    const char *name;
    int cin, cout, down;
} block_spec[N_BLOCKS] = {
    { "conv32_1", 32, 32, 0 },     { "conv32_2", 32, 32, 0 },     { "conv32_3", 32, 32, 0 },
    { "conv64_down", 32, 64, 1 },  { "conv64_1", 64, 64, 0 },     { "conv64_2", 64, 64, 0 },
    { "conv64_3", 64, 64, 0 },     { "conv128_down", 64, 128, 1 }, { "conv128_1", 128, 128, 0 },
    { "conv128_2", 128, 128, 0 },  { "conv256_down", 128, 256, 1 }, { "conv256_1", 256, 256, 0 },
    { "conv256_2", 256, 256, 0 },
};

struct ft__recog_net {
    ft__conv conv0;
    ft__pool maxpool;
    res_block blocks[N_BLOCKS + 1]; /* + conv256_down_out */
    ft__pool avgpool[N_BLOCKS + 1];
    ft__add add_relu;
    ft__fc fc;
    ft__ws ws;
    float input[CHIP * CHIP * 3 + FT__XNN_SLACK];
};

static const float mean_rgb[3] = { 122.782f, 117.001f, 104.298f };

void ft__recog_close(ft__recog_net *net)
{
    if (!net) return;
    ft__conv_fini(&net->conv0);
    ft__pool_fini(&net->maxpool);
    for (int i = 0; i <= N_BLOCKS; i++) {
        ft__conv_fini(&net->blocks[i].conv1);
        ft__conv_fini(&net->blocks[i].conv2);
        ft__pool_fini(&net->avgpool[i]);
    }
    ft__add_fini(&net->add_relu);
    ft__fc_fini(&net->fc);
    ft__ws_free(&net->ws);
    ft__free(net);
}

/* <prefix>/conv/{filters,bias} + <prefix>/scale/{weights,biases}, folded. */
static int load_scaled_conv(const ft__model *m, const char *prefix, int k, int stride, int cin,
                            int cout, enum ft__pad pad, float lo, ft__conv *l, char *err,
                            size_t errlen)
{
    char name[128];
    int wshape[4] = { k, k, cin, cout }, vshape[1] = { cout };
    const float *w, *b, *s, *t;
    snprintf(name, sizeof name, "%s/conv/filters", prefix);
    if (!(w = ft__model_get(m, name, 4, wshape, err, errlen))) return FT_EMODEL;
    snprintf(name, sizeof name, "%s/conv/bias", prefix);
    if (!(b = ft__model_get(m, name, 1, vshape, err, errlen))) return FT_EMODEL;
    snprintf(name, sizeof name, "%s/scale/weights", prefix);
    if (!(s = ft__model_get(m, name, 1, vshape, err, errlen))) return FT_EMODEL;
    snprintf(name, sizeof name, "%s/scale/biases", prefix);
    if (!(t = ft__model_get(m, name, 1, vshape, err, errlen))) return FT_EMODEL;
    size_t nw = (size_t)k * k * cin * cout;
    float *fw = ft__malloc(nw * sizeof(float)), *fb = ft__malloc((size_t)cout * sizeof(float));
    int rc = FT_ENOMEM;
    if (fw && fb) {
        for (size_t i = 0; i < nw; i++) fw[i] = w[i] * s[i % (size_t)cout];
        for (int o = 0; o < cout; o++) fb[o] = b[o] * s[o] + t[o];
        rc = ft__conv_init(l, k, k, stride, cin, cout, 0, pad, fw, fb, lo, INFINITY);
    }
    ft__free(fw);
    ft__free(fb);
    return rc == FT_OK ? rc : ft__errf(err, errlen, rc, "recognition: cannot set up %s", prefix);
}

int ft__recog_open(const char *model_dir, ft__recog_net **out, char *err, size_t errlen)
{
    *out = NULL;
    ft__model *m = NULL;
    int rc = ft__model_load(model_dir, "face_recognition_model", &m, err, errlen);
    if (rc != FT_OK) return rc;
    ft__recog_net *net = ft__calloc(1, sizeof *net);
    if (!net) {
        ft__model_free(m);
        return ft__errf(err, errlen, FT_ENOMEM, "out of memory");
    }
    rc = load_scaled_conv(m, "conv32_down", 7, 2, 3, 32, FT__PAD_VALID, 0.0f, &net->conv0, err,
                          errlen);
    if (rc == FT_OK) rc = ft__pool_init(&net->maxpool, FT__POOL_MAX, 3, 2, FT__PAD_VALID, 32);
    for (int i = 0; i <= N_BLOCKS && rc == FT_OK; i++) {
        const char *name = i < N_BLOCKS ? block_spec[i].name : "conv256_down_out";
        int cin = i < N_BLOCKS ? block_spec[i].cin : 256;
        int cout = i < N_BLOCKS ? block_spec[i].cout : 256;
        int down = i < N_BLOCKS ? block_spec[i].down : 1;
        char prefix[96];
        res_block *blk = &net->blocks[i];
        blk->down = down;
        snprintf(prefix, sizeof prefix, "%s/conv1", name);
        rc = load_scaled_conv(m, prefix, 3, down ? 2 : 1, cin, cout,
                              down ? FT__PAD_VALID : FT__PAD_SAME, 0.0f, &blk->conv1, err, errlen);
        if (rc != FT_OK) break;
        snprintf(prefix, sizeof prefix, "%s/conv2", name);
        rc = load_scaled_conv(m, prefix, 3, 1, cout, cout, FT__PAD_SAME, -INFINITY, &blk->conv2,
                              err, errlen);
        if (rc == FT_OK && down)
            rc = ft__pool_init(&net->avgpool[i], FT__POOL_AVG, 2, 2, FT__PAD_VALID, cin);
    }
    if (rc == FT_OK) {
        int shape[2] = { 256, 128 };
        const float *w = ft__model_get(m, "fc", 2, shape, err, errlen);
        rc = w ? ft__fc_init(&net->fc, 256, 128, w, NULL) : FT_EMODEL;
    }
    if (rc == FT_OK) rc = ft__add_init(&net->add_relu, 0.0f, INFINITY);
    ft__model_free(m);
    if (rc != FT_OK) {
        if (rc != FT_EMODEL && !*err) ft__errf(err, errlen, rc, "recognition: cannot set up");
        ft__recog_close(net);
        return rc;
    }
    *out = net;
    return FT_OK;
}

static int step(const ft__nn_ctx *ctx, ft__ws *ws, ft__conv *l, const ft__tensor *in, int slot,
                ft__tensor *out)
{
    ft__tensor s;
    ft__conv_out_shape(l, in, &s);
    int rc = ft__ws_tensor(ws, slot, s.h, s.w, s.c, out);
    return rc == FT_OK ? ft__conv_run(ctx, l, in, out) : rc;
}

/* out = relu(shortcut + branch) where shortcut is the pooled input with zero
** channels appended and branch is zero-padded bottom/right to its size. */
static void add_padded_relu(const ft__tensor *pooled, const ft__tensor *branch, ft__tensor *out)
{
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++)
            for (int c = 0; c < out->c; c++) {
                float s = c < pooled->c ? pooled->data[((size_t)y * pooled->w + x) * pooled->c + c]
                                        : 0.0f;
                float b = (y < branch->h && x < branch->w)
                              ? branch->data[((size_t)y * branch->w + x) * branch->c + c]
                              : 0.0f;
                float v = s + b;
                out->data[((size_t)y * out->w + x) * out->c + c] = v > 0 ? v : 0.0f;
            }
}

int ft__recog_run_chip(const ft__nn_ctx *ctx, ft__recog_net *net, const float *chip,
                       float descriptor[128])
{
    for (int i = 0; i < CHIP * CHIP * 3; i++) net->input[i] = (chip[i] - mean_rgb[i % 3]) / 255.0f;
    ft__ws *ws = &net->ws;
    ft__tensor x = { net->input, CHIP, CHIP, 3 }, a, cur, t1, t2, pooled, shape;
    int rc = step(ctx, ws, &net->conv0, &x, 0, &a);
    if (rc != FT_OK) return rc;
    ft__pool_out_shape(&net->maxpool, &a, &shape);
    if ((rc = ft__ws_tensor(ws, 1, shape.h, shape.w, shape.c, &cur)) != FT_OK ||
        (rc = ft__pool_run(ctx, &net->maxpool, &a, &cur)) != FT_OK)
        return rc;
    int cur_slot = 1;
    for (int i = 0; i <= N_BLOCKS; i++) {
        res_block *blk = &net->blocks[i];
        int next_slot = cur_slot == 1 ? 0 : 1;
        if ((rc = step(ctx, ws, &blk->conv1, &cur, 2, &t1)) != FT_OK ||
            (rc = step(ctx, ws, &blk->conv2, &t1, 3, &t2)) != FT_OK)
            return rc;
        ft__tensor next;
        if (!blk->down) {
            if ((rc = ft__ws_tensor(ws, next_slot, cur.h, cur.w, cur.c, &next)) != FT_OK ||
                (rc = ft__add_run(ctx, &net->add_relu, &t2, &cur, &next)) != FT_OK)
                return rc;
        } else {
            ft__pool_out_shape(&net->avgpool[i], &cur, &shape);
            if ((rc = ft__ws_tensor(ws, 4, shape.h, shape.w, shape.c, &pooled)) != FT_OK ||
                (rc = ft__pool_run(ctx, &net->avgpool[i], &cur, &pooled)) != FT_OK)
                return rc;
            if (t2.h > pooled.h || t2.w > pooled.w || pooled.h - t2.h > 1 ||
                pooled.w - t2.w > 1)
                return FT_EBACKEND;
            if ((rc = ft__ws_tensor(ws, next_slot, pooled.h, pooled.w, t2.c, &next)) != FT_OK)
                return rc;
            add_padded_relu(&pooled, &t2, &next);
        }
        cur = next;
        cur_slot = next_slot;
    }
    /* global mean over the cells, then fc */
    float mean[256 + FT__XNN_SLACK];
    if (cur.c != 256) return FT_EBACKEND;
    int cells = cur.h * cur.w;
    for (int c = 0; c < 256; c++) {
        float s = 0;
        for (int k = 0; k < cells; k++) s += cur.data[(size_t)k * 256 + c];
        mean[c] = s / (float)cells;
    }
    return ft__fc_run(ctx, &net->fc, mean, descriptor);
}
