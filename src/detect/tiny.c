/*
** detect/tiny.c: the tiny face detector (face-api tinyFaceDetector, a
** TinyYolov2 with depthwise-separable convolutions).
**
** DESIGN
**   input  (S, S, 3), S = input_size (multiple of 32): image padded bottom/right
**          to a square, resized to S, (x - mean RGB) / 255
**   conv0  3x3 VALID 3->16 + bias, leaky ReLU 0.1, maxpool 2x2/2 SAME
**   conv1..5: depthwise 3x3 SAME + pointwise 1x1 + bias, leaky 0.1, each
**          followed by maxpool 2x2 (stride 2, the last stride 1), SAME
**   conv8  1x1 512 -> 25 = 5 anchors x (x, y, w, h, score)
**   decode (face-api TinyYolov2Base.extractBoxes, in double):
**          score = sigmoid(s) > threshold;
**          cx = (col + sigmoid(x)) / cells * S / resized_w, likewise cy;
**          w = exp(w) * anchor_w / cells * S / resized_w, likewise h;
**          then NMS at IoU 0.4 on boxes scaled by S.
**
** INVARIANTS  (1) candidate order is row, col, anchor, as face-api's loops.
** OWNERSHIP   The net owns its layers and scratch space.
*/
#include "detect/detect.h"
#include "image/netinput.h"

#include <math.h>
#include <string.h>

#define N_ANCHORS 5

static const double anchors[N_ANCHORS][2] = {
    { 1.603231, 2.094468 }, { 6.041143, 7.080126 }, { 2.882459, 3.518061 },
    { 4.266906, 5.178857 }, { 9.041765, 10.66308 },
};
static const float mean_rgb[3] = { 117.001f, 114.697f, 97.404f };
static const int channels[7] = { 3, 16, 32, 64, 128, 256, 512 };

struct ft__tiny {
    ft__conv conv0, dw[5], pw[5], conv8;
    ft__leaky leaky[6];
    ft__pool pool2[5], pool1;
    ft__ws ws;
    float *input;
    int input_cap; /* floats */
};

void ft__tiny_close(ft__tiny *net)
{
    if (!net) return;
    ft__conv_fini(&net->conv0);
    ft__conv_fini(&net->conv8);
    for (int i = 0; i < 5; i++) {
        ft__conv_fini(&net->dw[i]);
        ft__conv_fini(&net->pw[i]);
        ft__pool_fini(&net->pool2[i]);
    }
    for (int i = 0; i < 6; i++) ft__leaky_fini(&net->leaky[i]);
    ft__pool_fini(&net->pool1);
    ft__ws_free(&net->ws);
    ft__free(net->input);
    ft__free(net);
}

static const float *get(const ft__model *m, const char *name, int rank, int d0, int d1, int d2,
                        int d3, char *err, size_t errlen)
{
    int shape[4] = { d0, d1, d2, d3 };
    return ft__model_get(m, name, rank, shape, err, errlen);
}

int ft__tiny_open(const char *model_dir, ft__tiny **out, char *err, size_t errlen)
{
    *out = NULL;
    ft__model *m = NULL;
    int rc = ft__model_load(model_dir, "tiny_face_detector_model", &m, err, errlen);
    if (rc != FT_OK) return rc;
    ft__tiny *net = ft__calloc(1, sizeof *net);
    if (!net) {
        ft__model_free(m);
        return ft__errf(err, errlen, FT_ENOMEM, "out of memory");
    }
    const float *w, *b, *pw;
    rc = FT_EMODEL;
    if (!(w = get(m, "conv0/filters", 4, 3, 3, 3, 16, err, errlen)) ||
        !(b = get(m, "conv0/bias", 1, 16, 0, 0, 0, err, errlen)))
        goto fail;
    if ((rc = ft__conv_init(&net->conv0, 3, 3, 1, 3, 16, 0, FT__PAD_VALID, w, b, -INFINITY,
                            INFINITY)) != FT_OK)
        goto fail;
    for (int i = 1; i <= 5; i++) {
        int cin = channels[i], cout = channels[i + 1];
        char n1[64], n2[64], n3[64];
        snprintf(n1, sizeof n1, "conv%d/depthwise_filter", i);
        snprintf(n2, sizeof n2, "conv%d/pointwise_filter", i);
        snprintf(n3, sizeof n3, "conv%d/bias", i);
        rc = FT_EMODEL;
        if (!(w = get(m, n1, 4, 3, 3, cin, 1, err, errlen)) ||
            !(pw = get(m, n2, 4, 1, 1, cin, cout, err, errlen)) ||
            !(b = get(m, n3, 1, cout, 0, 0, 0, err, errlen)))
            goto fail;
        if ((rc = ft__conv_init(&net->dw[i - 1], 3, 3, 1, cin, cin, 1, FT__PAD_SAME, w, NULL,
                                -INFINITY, INFINITY)) != FT_OK ||
            (rc = ft__conv_init(&net->pw[i - 1], 1, 1, 1, cin, cout, 0, FT__PAD_SAME, pw, b,
                                -INFINITY, INFINITY)) != FT_OK)
            goto fail;
    }
    rc = FT_EMODEL;
    if (!(w = get(m, "conv8/filters", 4, 1, 1, 512, 25, err, errlen)) ||
        !(b = get(m, "conv8/bias", 1, 25, 0, 0, 0, err, errlen)))
        goto fail;
    if ((rc = ft__conv_init(&net->conv8, 1, 1, 1, 512, 25, 0, FT__PAD_VALID, w, b, -INFINITY,
                            INFINITY)) != FT_OK)
        goto fail;
    for (int i = 0; i < 6 && rc == FT_OK; i++) rc = ft__leaky_init(&net->leaky[i], 0.1f, channels[i + 1]);
    for (int i = 0; i < 5 && rc == FT_OK; i++)
        rc = ft__pool_init(&net->pool2[i], FT__POOL_MAX, 2, 2, FT__PAD_SAME, channels[i + 1]);
    if (rc == FT_OK) rc = ft__pool_init(&net->pool1, FT__POOL_MAX, 2, 1, FT__PAD_SAME, 512);
    if (rc != FT_OK) goto fail;
    ft__model_free(m);
    *out = net;
    return FT_OK;
fail:
    if (rc != FT_EMODEL) ft__errf(err, errlen, rc, "tiny face detector: cannot set up its layers");
    ft__model_free(m);
    ft__tiny_close(net);
    return rc;
}

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

int ft__tiny_detect(const ft__nn_ctx *ctx, ft__tiny *net, const ft_image *img, int input_size,
                    float min_score, ft__detections *out)
{
    if (input_size < 32 || input_size % 32 != 0 || input_size > 4096) return FT_EINVAL;
    int S = input_size;
    size_t n_in = (size_t)S * S * 3;
    if ((size_t)net->input_cap < n_in) {
        float *p = ft__realloc(net->input, (n_in + FT__XNN_SLACK) * sizeof(float));
        if (!p) return FT_ENOMEM;
        net->input = p;
        net->input_cap = (int)n_in;
    }
    int rc = ft__net_input(img, 0, 0, img->width, img->height, FT__SQUARE_BOTTOM_RIGHT, S,
                           net->input);
    if (rc != FT_OK) return rc;
    for (size_t i = 0; i < n_in; i++) net->input[i] = (net->input[i] - mean_rgb[i % 3]) / 255.0f;

    ft__ws *ws = &net->ws;
    ft__tensor x = { net->input, S, S, 3 }, a, b, shape;
    ft__conv_out_shape(&net->conv0, &x, &shape);
    if ((rc = ft__ws_tensor(ws, 0, shape.h, shape.w, shape.c, &a)) != FT_OK ||
        (rc = ft__conv_run(ctx, &net->conv0, &x, &a)) != FT_OK ||
        (rc = ft__leaky_run(ctx, &net->leaky[0], &a, &a)) != FT_OK)
        return rc;
    for (int i = 0; i < 5; i++) {
        ft__pool_out_shape(&net->pool2[i], &a, &shape);
        if ((rc = ft__ws_tensor(ws, 1, shape.h, shape.w, shape.c, &b)) != FT_OK ||
            (rc = ft__pool_run(ctx, &net->pool2[i], &a, &b)) != FT_OK)
            return rc;
        ft__conv_out_shape(&net->dw[i], &b, &shape);
        if ((rc = ft__ws_tensor(ws, 2, shape.h, shape.w, shape.c, &a)) != FT_OK ||
            (rc = ft__conv_run(ctx, &net->dw[i], &b, &a)) != FT_OK)
            return rc;
        ft__conv_out_shape(&net->pw[i], &a, &shape);
        if ((rc = ft__ws_tensor(ws, 0, shape.h, shape.w, shape.c, &b)) != FT_OK ||
            (rc = ft__conv_run(ctx, &net->pw[i], &a, &b)) != FT_OK ||
            (rc = ft__leaky_run(ctx, &net->leaky[i + 1], &b, &b)) != FT_OK)
            return rc;
        a = b;
    }
    ft__pool_out_shape(&net->pool1, &a, &shape);
    if ((rc = ft__ws_tensor(ws, 1, shape.h, shape.w, shape.c, &b)) != FT_OK ||
        (rc = ft__pool_run(ctx, &net->pool1, &a, &b)) != FT_OK)
        return rc;
    ft__tensor y;
    ft__conv_out_shape(&net->conv8, &b, &shape);
    if ((rc = ft__ws_tensor(ws, 3, shape.h, shape.w, shape.c, &y)) != FT_OK ||
        (rc = ft__conv_run(ctx, &net->conv8, &b, &y)) != FT_OK)
        return rc;

    /* decode */
    int cells = y.h;
    double W = img->width, H = img->height, scale = S / (W > H ? W : H);
    double corr_x = S / floor(W * scale + 0.5), corr_y = S / floor(H * scale + 0.5);
    int max_cand = cells * cells * N_ANCHORS;
    double(*boxes)[4] = ft__malloc((size_t)max_cand * sizeof *boxes);
    double *scores = ft__malloc((size_t)max_cand * sizeof *scores);
    int *keep = ft__malloc((size_t)max_cand * sizeof *keep);
    double(*rel)[4] = ft__malloc((size_t)max_cand * sizeof *rel);
    int n = 0;
    if (!boxes || !scores || !keep || !rel) {
        rc = FT_ENOMEM;
        goto done;
    }
    for (int row = 0; row < cells; row++)
        for (int col = 0; col < cells; col++)
            for (int k = 0; k < N_ANCHORS; k++) {
                const float *v = y.data + ((size_t)row * cells + col) * 25 + 5 * k;
                double score = sigmoid(v[4]);
                if (min_score > 0 && !(score > (double)min_score)) continue;
                double cx = ((col + sigmoid(v[0])) / cells) * corr_x;
                double cy = ((row + sigmoid(v[1])) / cells) * corr_y;
                double bw = ((exp(v[2]) * anchors[k][0]) / cells) * corr_x;
                double bh = ((exp(v[3]) * anchors[k][1]) / cells) * corr_y;
                double bx = cx - bw / 2, by = cy - bh / 2;
                /* face-api's BoundingBox(x, y, x + w, y + h): width = right - left */
                rel[n][0] = bx, rel[n][1] = by;
                rel[n][2] = (bx + bw) - bx, rel[n][3] = (by + bh) - by;
                for (int d = 0; d < 4; d++) boxes[n][d] = rel[n][d] * S;
                scores[n] = score;
                n++;
            }
    int n_keep = ft__nms_boxes((const double(*)[4])boxes, scores, n, 0.4, keep);
    if (n_keep < 0) {
        rc = FT_ENOMEM;
        goto done;
    }
    for (int i = 0; i < n_keep && rc == FT_OK; i++) {
        const double *r = rel[keep[i]];
        /* ObjectDetection: relative box x dims; FaceDetection re-derives it
        ** from relativeBox = box x (1/dims): reproduce both round trips */
        double px = r[0] * W, py = r[1] * H, pw = r[2] * W, ph = r[3] * H;
        ft__detection d = { .x = (px * (1 / W)) * W,
                            .y = (py * (1 / H)) * H,
                            .w = (pw * (1 / W)) * W,
                            .h = (ph * (1 / H)) * H,
                            .score = scores[keep[i]] }; /* n_lm 0 */
        rc = ft__detections_push(out, d);
    }
done:
    ft__free(boxes);
    ft__free(scores);
    ft__free(keep);
    ft__free(rel);
    return rc;
}
