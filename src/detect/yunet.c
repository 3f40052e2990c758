/*
** detect/yunet.c: the YuNet_n face detector (ShiqiYu/libfacedetection.train),
** read from its ONNX file and run on the ONNX interpreter (nn/onnx.h).
**
** DESIGN
**   open    ft__onnx_load (pinned file) -> ft__onnx_net_build; then the
**           graph is checked to be YuNet's: a 3-channel input; outputs
**           cls/obj/bbox/kps at strides 8, 16, 32 (names as tools/
**           yunet2onnx.py writes them) with 1/1/4/10 channels; a run on a
**           64x64 input whose output grids are 64/stride. The graph itself is
**           freed after the build.
**   input   the image at its own size, padded bottom/right with zeros to
**           multiples of 32 (OpenCV FaceDetectorYN's padWithDivisor; the
**           FPN adds a 2x-upsampled stride-32 map to the stride-16 one, so
**           other sizes do not fit), BGR, raw 0..255 (configs/yunet_n.py:
**           mean 0, std 1, to_rgb False; OpenCV's blobFromImage defaults).
**           detect makes it a band of rows at a time, as the net's first
**           layers read them (ft__onnx_net_run_rows), so that the whole
**           float image is never written out.
**   net     backbone (conv 3x3/2, depthwise-separable units, max pools),
**           a top-down FPN (nearest 2x upsample + add), and per level a
**           shared unit and cls/obj/bbox/kps heads; the export applies the
**           sigmoid to cls and obj and flattens every map to (1, H*W, C).
**   decode  per cell (row, col) of the level with stride s (yunet_head.py:
**           priors (col*s, row*s, s, s), offset 0):
**             score  = cls * obj                      (both already sigmoid)
**             centre = ((col + dx) * s, (row + dy) * s)
**             size   = (exp(dw) * s, exp(dh) * s)
**             mark k = ((col + kx_k) * s, (row + ky_k) * s)
**           in double; candidates with score >= min_score go to greedy NMS
**           (ft__nms_greedy; upstream uses IoU 0.45, OpenCV 0.3).
**
** INVARIANTS  (1) out_index[k] is the graph output holding output k of the
**                 FT__YUNET_N_OUT order, whatever the graph's own order.
**             (2) every forward checks the grids against the strides, so a
**                 decode never reads past an output.
** OWNERSHIP   The net owns its interpreter, the trial run's input and message.
** SEE ALSO    tests/unit/test_yunet.c, tests/ref/yunet_ref.py.
*/
#include "detect/detect.h"
#include "nn/onnx.h"

#include <math.h>
#include <string.h>

static const char *const out_names[FT__YUNET_N_OUT] = {
    "cls_8",  "cls_16",  "cls_32",  "obj_8", "obj_16", "obj_32",
    "bbox_8", "bbox_16", "bbox_32", "kps_8", "kps_16", "kps_32",
};
static const int out_channels[4] = { 1, 1, 4, 10 }; /* cls, obj, bbox, kps */
static const int strides[3] = { 8, 16, 32 };

struct ft__yunet {
    ft__onnx_net *net;
    int n_graph_out;
    int out_index[FT__YUNET_N_OUT]; /* INVARIANT (1) */
    ft__tensor *graph_out;          /* (n_graph_out) */
    float *input;
    size_t input_cap; /* floats */
    char err[512];
};

void ft__yunet_close(ft__yunet *net)
{
    if (!net) return;
    ft__onnx_net_free(net->net);
    ft__free(net->graph_out);
    ft__free(net->input);
    ft__free(net);
}

const char *ft__yunet_errmsg(const ft__yunet *net)
{
    return net->err;
}

void ft__yunet_padded_size(int w, int h, int *pad_w, int *pad_h)
{
    *pad_w = (w > 0 ? (w - 1) / 32 + 1 : 1) * 32;
    *pad_h = (h > 0 ? (h - 1) / 32 + 1 : 1) * 32;
}

/* What the input rows make from (ft__onnx_rows_fn). */
typedef struct rows_src {
    const ft_image *img;
    int pad_w;
} rows_src;

/* Rows [y0, y1) of the net's input: the image's pixels BGR as float, zeros
** right of and below it. */
static void input_rows(void *arg, int y0, int y1, float *dst)
{
    const rows_src *src = arg;
    const ft_image *img = src->img;
    size_t row = (size_t)src->pad_w * 3;
    for (int y = y0; y < y1; y++, dst += row) {
        if (y >= img->height) {
            memset(dst, 0, row * sizeof(float));
            continue;
        }
        const uint8_t *s = img->rgb + (size_t)y * img->width * 3;
        float *d = dst;
        for (int x = 0; x < img->width; x++, s += 3, d += 3)
            d[0] = s[2], d[1] = s[1], d[2] = s[0]; /* RGB -> BGR */
        memset(d, 0, (size_t)(src->pad_w - img->width) * 3 * sizeof(float));
    }
}

void ft__yunet_input(const ft_image *img, float *dst)
{
    int pw, ph;
    ft__yunet_padded_size(img->width, img->height, &pw, &ph);
    rows_src src = { img, pw };
    input_rows(&src, 0, ph, dst);
}

/* Grows the input buffer to n floats + slack. */
static int input_reserve(ft__yunet *net, size_t n)
{
    if (net->input_cap >= n) return FT_OK;
    float *p = ft__realloc(net->input, (n + FT__XNN_SLACK) * sizeof(float));
    if (!p) return FT_ENOMEM;
    net->input = p;
    net->input_cap = n;
    return FT_OK;
}

/* Points out at the raw outputs of the run that just ended on an (h, w)
** input, checking their grids (INVARIANT (2)). */
static int outputs(ft__yunet *net, int h, int w, ft__tensor out[FT__YUNET_N_OUT])
{
    for (int k = 0; k < FT__YUNET_N_OUT; k++) {
        out[k] = net->graph_out[net->out_index[k]];
        int s = strides[k % 3];
        if (out[k].h != h / s || out[k].w != w / s) /* INVARIANT (2) */
            return ft__errf(net->err, sizeof net->err, FT_EMODEL,
                            "YuNet output %s is %dx%d for a %dx%d input, not the stride-%d grid "
                            "%dx%d: not the expected graph",
                            out_names[k], out[k].w, out[k].h, w, h, s, w / s, h / s);
    }
    return FT_OK;
}

int ft__yunet_forward(const ft__nn_ctx *ctx, ft__yunet *net, const float *bgr, int h, int w,
                      ft__tensor out[FT__YUNET_N_OUT])
{
    net->err[0] = 0;
    if (h < 32 || w < 32 || h % 32 || w % 32)
        return ft__errf(net->err, sizeof net->err, FT_EINVAL,
                        "YuNet input %dx%d: width and height must be multiples of 32", w, h);
    ft__tensor in = { (float *)bgr, h, w, 3 };
    int rc = ft__onnx_net_run(ctx, net->net, &in, net->graph_out, net->err, sizeof net->err);
    return rc != FT_OK ? rc : outputs(net, h, w, out);
}

int ft__yunet_open(const char *onnx_path, ft__yunet **out, char *err, size_t errlen)
{
    *out = NULL;
    ft__onnx_graph *g = NULL;
    int rc = ft__onnx_load(onnx_path, &g, err, errlen);
    if (rc != FT_OK) return rc;
    ft__yunet *net = ft__calloc(1, sizeof *net);
    if (!net) {
        ft__onnx_free(g);
        return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", onnx_path);
    }
    rc = ft__onnx_net_build(g, &net->net, err, errlen);
    ft__onnx_free(g);
    if (rc != FT_OK) goto fail;

    rc = FT_EMODEL;
    int c, ih, iw;
    ft__onnx_net_input(net->net, &c, &ih, &iw);
    if (c != 3) {
        ft__errf(err, errlen, rc,
                 "%s: input has %d channels, YuNet takes 3 (not the expected graph)", onnx_path, c);
        goto fail;
    }
    net->n_graph_out = ft__onnx_net_n_outputs(net->net);
    for (int k = 0; k < FT__YUNET_N_OUT; k++) {
        net->out_index[k] = -1;
        for (int i = 0; i < net->n_graph_out; i++)
            if (strcmp(ft__onnx_net_output_name(net->net, i), out_names[k]) == 0)
                net->out_index[k] = i;
        if (net->out_index[k] < 0) {
            ft__errf(err, errlen, rc, "%s: no output %s (not the expected YuNet graph)", onnx_path,
                     out_names[k]);
            goto fail;
        }
        int have = ft__onnx_net_output_channels(net->net, net->out_index[k]);
        if (have != out_channels[k / 3]) {
            ft__errf(err, errlen, rc,
                     "%s: output %s has %d channels, YuNet's has %d (not the expected graph)",
                     onnx_path, out_names[k], have, out_channels[k / 3]);
            goto fail;
        }
    }
    net->graph_out = ft__calloc((size_t)net->n_graph_out, sizeof *net->graph_out);
    if (!net->graph_out || input_reserve(net, 64 * 64 * 3) != FT_OK) {
        rc = ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", onnx_path);
        goto fail;
    }
    /* trial run: the grids must follow the strides */
    memset(net->input, 0, 64 * 64 * 3 * sizeof(float));
    const ft__nn_ctx ctx = { NULL, 0, NULL };
    ft__tensor raw[FT__YUNET_N_OUT];
    rc = ft__yunet_forward(&ctx, net, net->input, 64, 64, raw);
    if (rc != FT_OK) {
        ft__errf(err, errlen, rc == FT_EINVAL ? FT_EMODEL : rc, "%s: trial run: %s", onnx_path,
                 net->err);
        if (rc == FT_EINVAL) rc = FT_EMODEL;
        goto fail;
    }
    *out = net;
    return FT_OK;
fail:
    ft__yunet_close(net);
    return rc;
}

/* Checks that out[] holds consistent grids: level l of each kind is the
** same size, and each level halves the one before. */
static int grids_ok(const ft__tensor out[FT__YUNET_N_OUT])
{
    for (int l = 0; l < 3; l++)
        for (int k = 0; k < 4; k++) {
            const ft__tensor *t = &out[3 * k + l];
            if (!t->data || t->c != out_channels[k] || t->h != out[l].h || t->w != out[l].w ||
                t->h < 1 || t->w < 1)
                return 0;
            if (l > 0 && (out[l - 1].h != 2 * t->h || out[l - 1].w != 2 * t->w)) return 0;
        }
    return 1;
}

int ft__yunet_decode(const ft__tensor out[FT__YUNET_N_OUT], float min_score, float nms_iou,
                     int top_k, ft__detections *dets)
{
    if (!grids_ok(out)) return FT_EINVAL;
    size_t cap = 0;
    for (int l = 0; l < 3; l++)
        cap += (size_t)out[l].h * out[l].w;
    /* candidates: boxes (x, y, w, h), scores, landmarks */
    double(*boxes)[4] = NULL, *scores = NULL, (*marks)[10] = NULL;
    int *keep = NULL, n = 0, rc = FT_OK;
    size_t want = 0; /* first pass: count, so that sparse frames allocate little */
    for (int l = 0; l < 3; l++) {
        size_t cells = (size_t)out[l].h * out[l].w;
        for (size_t i = 0; i < cells; i++) {
            double score = (double)out[l].data[i] * (double)out[3 + l].data[i];
            if (score >= min_score) want++;
        }
    }
    if (want > (size_t)INT32_MAX || want > cap) return FT_EINVAL;
    boxes = ft__malloc((want ? want : 1) * sizeof *boxes);
    scores = ft__malloc((want ? want : 1) * sizeof *scores);
    marks = ft__malloc((want ? want : 1) * sizeof *marks);
    keep = ft__malloc((want ? want : 1) * sizeof *keep);
    if (!boxes || !scores || !marks || !keep) {
        rc = FT_ENOMEM;
        goto done;
    }
    for (int l = 0; l < 3; l++) {
        const ft__tensor *cls = &out[l], *obj = &out[3 + l], *bb = &out[6 + l], *kp = &out[9 + l];
        double s = strides[l];
        for (int row = 0; row < cls->h; row++)
            for (int col = 0; col < cls->w; col++) {
                size_t i = (size_t)row * cls->w + col;
                double score = (double)cls->data[i] * (double)obj->data[i];
                if (!(score >= min_score)) continue;
                const float *d = bb->data + 4 * i, *k = kp->data + 10 * i;
                double cx = (col + (double)d[0]) * s, cy = (row + (double)d[1]) * s;
                double w = exp((double)d[2]) * s, h = exp((double)d[3]) * s;
                if (!isfinite(cx) || !isfinite(cy) || !isfinite(w) || !isfinite(h)) continue;
                boxes[n][0] = cx - w / 2, boxes[n][1] = cy - h / 2;
                boxes[n][2] = w, boxes[n][3] = h;
                for (int m = 0; m < 5; m++) {
                    marks[n][2 * m] = (col + (double)k[2 * m]) * s;
                    marks[n][2 * m + 1] = (row + (double)k[2 * m + 1]) * s;
                }
                scores[n++] = score;
            }
    }
    int n_keep = ft__nms_greedy((const double(*)[4])boxes, scores, n, nms_iou, top_k, keep);
    if (n_keep < 0) {
        rc = FT_ENOMEM;
        goto done;
    }
    for (int i = 0; i < n_keep && rc == FT_OK; i++) {
        int j = keep[i];
        ft__detection d = { boxes[j][0], boxes[j][1], boxes[j][2], boxes[j][3],
                            scores[j],   5,           { { 0 } } };
        for (int m = 0; m < 5; m++)
            d.lm[m][0] = marks[j][2 * m], d.lm[m][1] = marks[j][2 * m + 1];
        rc = ft__detections_push(dets, d);
    }
done:
    ft__free(boxes);
    ft__free(scores);
    ft__free(marks);
    ft__free(keep);
    return rc;
}

int ft__yunet_detect(const ft__nn_ctx *ctx, ft__yunet *net, const ft_image *img, float min_score,
                     float nms_iou, int top_k, ft__detections *out)
{
    net->err[0] = 0;
    if (!img || img->width < 1 || img->height < 1 || !img->rgb)
        return ft__errf(net->err, sizeof net->err, FT_EINVAL, "YuNet: empty image");
    int pw, ph;
    ft__yunet_padded_size(img->width, img->height, &pw, &ph);
    if ((size_t)pw * ph > (size_t)FT__YUNET_MAX_PIXELS)
        return ft__errf(net->err, sizeof net->err, FT_ETOOBIG,
                        "YuNet: a %dx%d image is over the %d pixels the detector runs at once",
                        img->width, img->height, FT__YUNET_MAX_PIXELS);
    /* the input is made a band of rows at a time, as the first layers read it */
    rows_src src = { img, pw };
    ft__tensor raw[FT__YUNET_N_OUT];
    int rc = ft__onnx_net_run_rows(ctx, net->net, ph, pw, input_rows, &src, net->graph_out,
                                   net->err, sizeof net->err);
    if (rc == FT_OK) rc = outputs(net, ph, pw, raw);
    if (rc != FT_OK) return rc;
    rc = ft__yunet_decode(raw, min_score, nms_iou, top_k, out);
    if (rc != FT_OK) ft__errf(net->err, sizeof net->err, rc, "YuNet: decoding failed");
    return rc;
}
