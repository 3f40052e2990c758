/*
** detect/ssd.c: the SSD-MobileNetV1 face detector (face-api ssdMobilenetv1).
**
** DESIGN
**   input  (512, 512, 3): image padded bottom/right to a square, resized to 512,
**          x / 127.5 - 1
**   MobileNetV1: conv_0 3x3/2 (3->32), then 13 pairs depthwise 3x3 (stride 2 at
**          pairs 2, 4, 6, 12) + batch norm + ReLU6, pointwise 1x1 + offset +
**          ReLU6; pair 11's output (32, 32, 512) and the last (16, 16, 1024)
**          feed the prediction layer.
**   prediction: 8 pointwise convs (1x1 and 3x3/2 alternating) and 6 box
**          predictors (1x1 convs giving 4 box codes and 3 class logits per
**          anchor) on (32x32x3, 16x16x6, 8x8x6, 4x4x6, 2x2x6, 1x1x6) = 5118
**          anchors, whose priors are the weight Output/extra_dim.
**   output: boxes decoded against the priors (variances 10, 10, 5, 5),
**          score = sigmoid(class logit 1), face-api's NMS (IoU 0.5), boxes
**          clamped to [0, 1] and scaled back by 512 / resized side.
**   Batch norm is folded into the depthwise weights at open:
**          w' = w * gamma / sqrt(var + eps), b' = beta - mean * gamma / sqrt(var + eps).
**
** INVARIANTS  (1) the anchor order is predictor 0..5, then cell (y, x), then
**                 anchor: the order of face-api's reshape + concat.
** OWNERSHIP   The net owns its layers and scratch space.
*/
#include "detect/detect.h"
#include "image/netinput.h"

#include <math.h>
#include <string.h>

#define SSD_SIZE     512
#define SSD_ANCHORS  5118
#define BN_EPSILON   0.0010000000474974513

typedef struct predictor {
    ft__conv box;   /* -> (h, w, 4 * a) */
    ft__conv cls;   /* -> (h, w, 3 * a) */
} predictor;

struct ft__ssd {
    ft__conv conv0;
    ft__conv dw[13], pw[13];
    ft__conv pred[8];
    predictor bp[6];
    float *priors; /* (5118, 4) as (ymin, xmin, ymax, xmax) */
    ft__ws ws;
    float *input;  /* (512, 512, 3) */
    float *codes;  /* (5118, 4) box codes from the predictors */
    float *logits; /* (5118, 3) class logits */
    float *boxes;  /* (5118, 4) decoded */
    float *scores; /* (5118) */
    int *keep;     /* (5118) */
};

static const int mobilenet_channels[14] = { 32, 64, 128, 128, 256, 256, 512,
                                            512, 512, 512, 512, 512, 1024, 1024 };
static const int pred_kernel[8] = { 1, 3, 1, 3, 1, 3, 1, 3 };
static const int pred_channels[9] = { 1024, 256, 512, 128, 256, 128, 256, 64, 128 };
static const int bp_channels[6] = { 512, 1024, 512, 256, 256, 128 };

void ft__ssd_close(ft__ssd *net)
{
    if (!net) return;
    ft__conv_fini(&net->conv0);
    for (int i = 0; i < 13; i++) {
        ft__conv_fini(&net->dw[i]);
        ft__conv_fini(&net->pw[i]);
    }
    for (int i = 0; i < 8; i++) ft__conv_fini(&net->pred[i]);
    for (int i = 0; i < 6; i++) {
        ft__conv_fini(&net->bp[i].box);
        ft__conv_fini(&net->bp[i].cls);
    }
    ft__ws_free(&net->ws);
    ft__free(net->priors);
    ft__free(net->input);
    ft__free(net->codes);
    ft__free(net->logits);
    ft__free(net->boxes);
    ft__free(net->scores);
    ft__free(net->keep);
    ft__free(net);
}

/* A conv + offset + ReLU6 layer named <prefix>/weights, <prefix>/<bias_name>. */
static int load_conv(const ft__model *m, ft__conv *l, const char *prefix, const char *bias_name,
                     int k, int stride, int cin, int cout, float lo, float hi, char *err,
                     size_t errlen)
{
    char name[160];
    int wshape[4] = { k, k, cin, cout }, bshape[1] = { cout };
    snprintf(name, sizeof name, "%s/weights", prefix);
    const float *w = ft__model_get(m, name, 4, wshape, err, errlen);
    if (!w) return FT_EMODEL;
    snprintf(name, sizeof name, "%s/%s", prefix, bias_name);
    const float *b = ft__model_get(m, name, 1, bshape, err, errlen);
    if (!b) return FT_EMODEL;
    int rc = ft__conv_init(l, k, k, stride, cin, cout, 0, FT__PAD_SAME, w, b, lo, hi);
    return rc == FT_OK ? rc : ft__errf(err, errlen, rc, "ssd: cannot set up %s", prefix);
}

/* Depthwise conv with batch norm folded in. */
static int load_depthwise(const ft__model *m, ft__conv *l, int idx, int stride, int c, char *err,
                          size_t errlen)
{
    char name[160];
    int wshape[4] = { 3, 3, c, 1 }, vshape[1] = { c };
    const char *parts[4] = { "BatchNorm/gamma", "BatchNorm/beta", "BatchNorm/moving_mean",
                             "BatchNorm/moving_variance" };
    const float *v[4];
    snprintf(name, sizeof name, "MobilenetV1/Conv2d_%d_depthwise/depthwise_weights", idx);
    const float *w = ft__model_get(m, name, 4, wshape, err, errlen);
    if (!w) return FT_EMODEL;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "MobilenetV1/Conv2d_%d_depthwise/%s", idx, parts[i]);
        if (!(v[i] = ft__model_get(m, name, 1, vshape, err, errlen))) return FT_EMODEL;
    }
    float *fw = ft__malloc((size_t)9 * c * sizeof(float));
    float *fb = ft__malloc((size_t)c * sizeof(float));
    int rc = FT_ENOMEM;
    if (fw && fb) {
        for (int ch = 0; ch < c; ch++) {
            float k = (float)(v[0][ch] / sqrt((double)v[3][ch] + BN_EPSILON));
            for (int t = 0; t < 9; t++) fw[t * c + ch] = w[t * c + ch] * k;
            fb[ch] = v[1][ch] - v[2][ch] * k;
        }
        rc = ft__conv_init(l, 3, 3, stride, c, c, 1, FT__PAD_SAME, fw, fb, 0.0f, 6.0f);
        if (rc != FT_OK) ft__errf(err, errlen, rc, "ssd: cannot set up depthwise %d", idx);
    } else {
        ft__errf(err, errlen, rc, "out of memory");
    }
    ft__free(fw);
    ft__free(fb);
    return rc;
}

int ft__ssd_open(const char *model_dir, ft__ssd **out, char *err, size_t errlen)
{
    *out = NULL;
    ft__model *m = NULL;
    int rc = ft__model_load(model_dir, "ssd_mobilenetv1_model", &m, err, errlen);
    if (rc != FT_OK) return rc;
    ft__ssd *net = ft__calloc(1, sizeof *net);
    if (!net) {
        ft__model_free(m);
        return ft__errf(err, errlen, FT_ENOMEM, "out of memory");
    }
    char prefix[128];
    rc = load_conv(m, &net->conv0, "MobilenetV1/Conv2d_0_pointwise", "convolution_bn_offset", 3, 2,
                   3, 32, 0, 6, err, errlen);
    for (int i = 1; i <= 13 && rc == FT_OK; i++) {
        int stride = (i == 2 || i == 4 || i == 6 || i == 12) ? 2 : 1;
        rc = load_depthwise(m, &net->dw[i - 1], i, stride, mobilenet_channels[i - 1], err, errlen);
        if (rc != FT_OK) break;
        snprintf(prefix, sizeof prefix, "MobilenetV1/Conv2d_%d_pointwise", i);
        rc = load_conv(m, &net->pw[i - 1], prefix, "convolution_bn_offset", 1, 1,
                       mobilenet_channels[i - 1], mobilenet_channels[i], 0, 6, err, errlen);
    }
    for (int i = 0; i < 8 && rc == FT_OK; i++) {
        snprintf(prefix, sizeof prefix, "Prediction/Conv2d_%d_pointwise", i);
        rc = load_conv(m, &net->pred[i], prefix, "convolution_bn_offset", pred_kernel[i],
                       i % 2 ? 2 : 1, pred_channels[i], pred_channels[i + 1], 0, 6, err, errlen);
    }
    for (int i = 0; i < 6 && rc == FT_OK; i++) {
        int a = i == 0 ? 3 : 6;
        snprintf(prefix, sizeof prefix, "Prediction/BoxPredictor_%d/BoxEncodingPredictor", i);
        rc = load_conv(m, &net->bp[i].box, prefix, "biases", 1, 1, bp_channels[i], 4 * a,
                       -INFINITY, INFINITY, err, errlen);
        if (rc != FT_OK) break;
        snprintf(prefix, sizeof prefix, "Prediction/BoxPredictor_%d/ClassPredictor", i);
        rc = load_conv(m, &net->bp[i].cls, prefix, "biases", 1, 1, bp_channels[i], 3 * a,
                       -INFINITY, INFINITY, err, errlen);
    }
    if (rc == FT_OK) {
        int pshape[3] = { 1, SSD_ANCHORS, 4 };
        const float *p = ft__model_get(m, "Output/extra_dim", 3, pshape, err, errlen);
        net->priors = ft__malloc(SSD_ANCHORS * 4 * sizeof(float));
        net->input = ft__malloc(((size_t)SSD_SIZE * SSD_SIZE * 3 + FT__XNN_SLACK) * sizeof(float));
        net->codes = ft__malloc(SSD_ANCHORS * 4 * sizeof(float));
        net->logits = ft__malloc(SSD_ANCHORS * 3 * sizeof(float));
        net->boxes = ft__malloc(SSD_ANCHORS * 4 * sizeof(float));
        net->scores = ft__malloc(SSD_ANCHORS * sizeof(float));
        net->keep = ft__malloc(SSD_ANCHORS * sizeof(int));
        if (!p)
            rc = FT_EMODEL;
        else if (!net->priors || !net->input || !net->codes || !net->logits || !net->boxes || !net->scores || !net->keep)
            rc = ft__errf(err, errlen, FT_ENOMEM, "out of memory");
        else
            memcpy(net->priors, p, SSD_ANCHORS * 4 * sizeof(float));
    }
    ft__model_free(m);
    if (rc != FT_OK) {
        ft__ssd_close(net);
        return rc;
    }
    *out = net;
    return FT_OK;
}

/* Runs l from slot src into slot dst (sized here). */
static int conv_step(const ft__nn_ctx *ctx, ft__ws *ws, ft__conv *l, const ft__tensor *in,
                     int slot, ft__tensor *out)
{
    ft__tensor shape;
    ft__conv_out_shape(l, in, &shape);
    int rc = ft__ws_tensor(ws, slot, shape.h, shape.w, shape.c, out);
    return rc == FT_OK ? ft__conv_run(ctx, l, in, out) : rc;
}

/* Appends predictor p's box codes and class logits at anchor offset *at. */
static int run_predictor(const ft__nn_ctx *ctx, ft__ssd *net, predictor *p, const ft__tensor *in,
                         float *codes, float *logits, int *at)
{
    ft__tensor tb, tc;
    int rc = conv_step(ctx, &net->ws, &p->box, in, 14, &tb);
    if (rc == FT_OK) rc = conv_step(ctx, &net->ws, &p->cls, in, 15, &tc);
    if (rc != FT_OK) return rc;
    int n = (int)(ft__tensor_count(&tb) / 4);
    if (*at + n > SSD_ANCHORS) return FT_EBACKEND;
    memcpy(codes + (size_t)*at * 4, tb.data, (size_t)n * 4 * sizeof(float));
    memcpy(logits + (size_t)*at * 3, tc.data, (size_t)n * 3 * sizeof(float));
    *at += n;
    return FT_OK;
}

/* Decodes box codes against the priors as face-api's outputLayer, float32 ops. */
static void decode_boxes(const float *priors, const float *codes, float *boxes)
{
    for (int i = 0; i < SSD_ANCHORS; i++) {
        const float *a = priors + 4 * i, *c = codes + 4 * i;
        float size0 = a[2] - a[0], size1 = a[3] - a[1];
        float center0 = a[0] + size0 / 2.0f, center1 = a[1] + size1 / 2.0f;
        float half0 = (expf(c[2] / 5.0f) * size0) / 2.0f;
        float mid0 = (c[0] / 10.0f) * size0 + center0;
        float half1 = (expf(c[3] / 5.0f) * size1) / 2.0f;
        float mid1 = (c[1] / 10.0f) * size1 + center1;
        boxes[4 * i + 0] = mid0 - half0;
        boxes[4 * i + 1] = mid1 - half1;
        boxes[4 * i + 2] = mid0 + half0;
        boxes[4 * i + 3] = mid1 + half1;
    }
}

int ft__ssd_detect(const ft__nn_ctx *ctx, ft__ssd *net, const ft_image *img, float min_score,
                   int max_results, ft__detections *out)
{
    int rc = ft__net_input(img, 0, 0, img->width, img->height, FT__SQUARE_BOTTOM_RIGHT, SSD_SIZE,
                           net->input);
    if (rc != FT_OK) return rc;
    size_t n_in = (size_t)SSD_SIZE * SSD_SIZE * 3;
    for (size_t i = 0; i < n_in; i++) net->input[i] = net->input[i] / 127.5f - 1.0f;

    ft__ws *ws = &net->ws;
    ft__tensor x = { net->input, SSD_SIZE, SSD_SIZE, 3 }, a, b, conv11 = { 0 };
    /* slots: 0/1 ping-pong in the backbone, 2 conv11, 3 backbone out, 4..11 prediction */
    if ((rc = conv_step(ctx, ws, &net->conv0, &x, 0, &a)) != FT_OK) return rc;
    for (int i = 0; i < 13; i++) {
        if ((rc = conv_step(ctx, ws, &net->dw[i], &a, 1, &b)) != FT_OK) return rc;
        int slot = i == 10 ? 2 : i == 12 ? 3 : 0;
        if ((rc = conv_step(ctx, ws, &net->pw[i], &b, slot, &a)) != FT_OK) return rc;
        if (i == 10) conv11 = a;
    }
    ft__tensor feat = a, pred[8];
    const ft__tensor *prev = &feat;
    for (int i = 0; i < 8; i++) {
        if ((rc = conv_step(ctx, ws, &net->pred[i], prev, 4 + i, &pred[i])) != FT_OK) return rc;
        prev = &pred[i];
    }
    int at = 0;
    const ft__tensor *src[6] = { &conv11, &feat, &pred[1], &pred[3], &pred[5], &pred[7] };
    for (int i = 0; i < 6; i++)
        if ((rc = run_predictor(ctx, net, &net->bp[i], src[i], net->codes, net->logits, &at)) != FT_OK)
            return rc;
    if (at != SSD_ANCHORS) return FT_EBACKEND;

    decode_boxes(net->priors, net->codes, net->boxes);
    for (int i = 0; i < SSD_ANCHORS; i++)
        net->scores[i] = 1.0f / (1.0f + expf(-net->logits[3 * i + 1]));

    int max_out = max_results > 0 ? max_results : SSD_ANCHORS;
    int n_keep = ft__nms_ssd(net->boxes, net->scores, SSD_ANCHORS, max_out, 0.5, min_score,
                             net->keep);
    if (n_keep < 0) return FT_ENOMEM;

    /* face-api: reshaped side = round(side * 512 / max side); pad = 512 / reshaped */
    double W = img->width, H = img->height, scale = SSD_SIZE / (W > H ? W : H);
    double pad_x = SSD_SIZE / floor(W * scale + 0.5), pad_y = SSD_SIZE / floor(H * scale + 0.5);
    for (int k = 0; k < n_keep; k++) {
        const float *bx = net->boxes + 4 * net->keep[k];
        double top = (bx[0] > 0 ? (double)bx[0] : 0.0) * pad_y;
        double bottom = (bx[2] < 1 ? (double)bx[2] : 1.0) * pad_y;
        double left = (bx[1] > 0 ? (double)bx[1] : 0.0) * pad_x;
        double right = (bx[3] < 1 ? (double)bx[3] : 1.0) * pad_x;
        ft__detection d = { .x = left * W,
                            .y = top * H,
                            .w = (right - left) * W,
                            .h = (bottom - top) * H,
                            .score = net->scores[net->keep[k]] }; /* n_lm 0 */
        if ((rc = ft__detections_push(out, d)) != FT_OK) return rc;
    }
    return FT_OK;
}
