/*
** detect/detect.h: the face detectors (SSD-MobileNetV1, tiny face detector,
** YuNet_n) and their non-maximum suppression, private to the library.
**
** DESIGN
**   A detector net is opened from its weights (validated against the layer
**   table at open), then run on whole images: it builds the padded, resized
**   input itself (image/netinput.h), runs the layers (nn/nn.h) and decodes
**   boxes exactly as face-api does, in the same float32/double precision at
**   each step. Results are image-pixel boxes in face-api's output order.
**   YuNet (detect/yunet.c) is read from its ONNX file and run through the
**   ONNX interpreter (nn/onnx.h) at the image's own size; its detections
**   carry five landmarks.
** THREADS     A net is used by one thread at a time (it owns scratch space).
*/
#ifndef FT_DETECT_H
#define FT_DETECT_H

#include "nn/nn.h"

typedef struct ft__detection {
    double x, y, w, h; /* image pixels, as face-api's detection.box */
    double score;
    int n_lm;        /* landmarks that came with the box: 0 (SSD, tiny) or 5 (YuNet) */
    double lm[5][2]; /* (x, y) image pixels: the subject's right eye, left eye, nose
                        tip, right mouth corner, left mouth corner */
} ft__detection;

/* A growable list of detections. */
typedef struct ft__detections {
    ft__detection *v;
    int n, cap;
} ft__detections;

int ft__detections_push(ft__detections *d, ft__detection det);
void ft__detections_free(ft__detections *d);

typedef struct ft__ssd ft__ssd;
int ft__ssd_open(const char *model_dir, ft__ssd **out, char *err, size_t errlen);
void ft__ssd_close(ft__ssd *net);
/* Runs SSD at 512x512 on img; appends detections with score > min_score after
** NMS (IoU 0.5), at most max_results, best first. */
int ft__ssd_detect(const ft__nn_ctx *ctx, ft__ssd *net, const ft_image *img, float min_score,
                   int max_results, ft__detections *out);

typedef struct ft__tiny ft__tiny;
int ft__tiny_open(const char *model_dir, ft__tiny **out, char *err, size_t errlen);
void ft__tiny_close(ft__tiny *net);
/* Runs the tiny face detector at input_size (multiple of 32); NMS IoU 0.4. */
int ft__tiny_detect(const ft__nn_ctx *ctx, ft__tiny *net, const ft_image *img, int input_size,
                    float min_score, ft__detections *out);

/* ---- yunet.c -------------------------------------------------------------- */

/* YuNet_n (libfacedetection.train, ONNX export): one prior per cell at
** strides 8, 16, 32; raw outputs in this order (the graph's output names):
** cls_8 cls_16 cls_32 obj_8 obj_16 obj_32 bbox_8 bbox_16 bbox_32 kps_8
** kps_16 kps_32, with 1, 1, 4 and 10 channels. */
#define FT__YUNET_N_OUT 12
/* Upstream's test settings (configs/yunet_n.py test_cfg: score_thr 0.02,
** nms iou_threshold 0.45); OpenCV's FaceDetectorYN defaults to top_k 5000. */
#define FT__YUNET_NMS_IOU 0.45f
#define FT__YUNET_TOP_K   5000
/* The largest padded input ft__yunet_detect runs (4096 x 4096 pixels). */
#define FT__YUNET_MAX_PIXELS (4096 * 4096)

typedef struct ft__yunet ft__yunet;

/* Reads the ONNX file (pinned: nn/model.c), compiles its graph, and checks
** it is YuNet's: one 3-channel input, the twelve outputs above with their
** channel counts, and a trial run at 64x64 giving grids of 64/stride.
** FT_EMODEL (message names the file), FT_ENOMEM, FT_EBACKEND. */
int ft__yunet_open(const char *onnx_path, ft__yunet **out, char *err, size_t errlen);
void ft__yunet_close(ft__yunet *net);
/* The message of the net's last failed forward or detect. */
const char *ft__yunet_errmsg(const ft__yunet *net);

/* The net's input size for a w x h image: each side rounded up to a
** multiple of 32 (the image is padded bottom and right, as OpenCV does). */
void ft__yunet_padded_size(int w, int h, int *pad_w, int *pad_h);
/* Fills dst (pad_h, pad_w, 3) with the image as the net takes it: BGR
** (upstream trains on OpenCV-loaded images, to_rgb=False), values 0..255 as
** float (mean 0, std 1), zeros in the padding. */
void ft__yunet_input(const ft_image *img, float *dst);

/* Runs the net on bgr ((h, w, 3), h and w multiples of 32, FT__XNN_SLACK
** floats of slack after it) and fills out with borrowed views of the raw
** outputs, each the (h/stride, w/stride, channels) grid, valid until the
** next forward, detect or close. The graph applies the sigmoid to cls and
** obj itself. FT_EINVAL (size), FT_EMODEL (grids not at the strides),
** FT_ENOMEM, FT_EBACKEND; message in ft__yunet_errmsg. */
int ft__yunet_forward(const ft__nn_ctx *ctx, ft__yunet *net, const float *bgr, int h, int w,
                      ft__tensor out[FT__YUNET_N_OUT]);

/* Decodes raw outputs (as ft__yunet_forward gives them) into detections in
** input pixels, appended to dets best first (yunet_head.py's decoding):
**   score   cls * obj, kept when >= min_score (OpenCV's FaceDetectorYN
**           reports sqrt(cls * obj) instead: its threshold t is t^2 here)
**   box     centre ((col + dx) * s, (row + dy) * s), size exp(dw) * s x
**           exp(dh) * s, for the cell (row, col) at stride s
**   marks   ((col + kx) * s, (row + ky) * s) for each of the five
** then greedy NMS (ft__nms_greedy) at nms_iou over the top_k best (top_k <= 0:
** all). Boxes are not clipped to the image. FT_EINVAL for outputs whose
** grids disagree, FT_ENOMEM. */
int ft__yunet_decode(const ft__tensor out[FT__YUNET_N_OUT], float min_score, float nms_iou,
                     int top_k, ft__detections *dets);

/* Runs YuNet on the whole image at its own resolution (padded to multiples
** of 32, no resizing or tiling) and appends the decoded detections (image
** pixels, with landmarks) to out. FT_ETOOBIG past FT__YUNET_MAX_PIXELS
** padded, FT_EINVAL, FT_ENOMEM, FT_EBACKEND. */
int ft__yunet_detect(const ft__nn_ctx *ctx, ft__yunet *net, const ft_image *img, float min_score,
                     float nms_iou, int top_k, ft__detections *out);

/* ---- nms.c ---------------------------------------------------------------- */

/* SSD's NMS (face-api ssdMobilenetv1/nonMaxSuppression.ts). boxes are
** (n, 4) as (ymin, xmin, ymax, xmax); writes selected indices, best first, to
** keep (capacity n) and returns how many. */
int ft__nms_ssd(const float *boxes, const float *scores, int n, int max_out, double iou_thresh,
                double score_thresh, int *keep);

/* face-api's generic NMS (ops/nonMaxSuppression.ts) on (x, y, w, h) boxes:
** repeatedly takes the highest score and drops boxes with IoU > iou_thresh.
** Returns the count written to keep (capacity n). */
int ft__nms_boxes(const double (*boxes)[4], const double *scores, int n, double iou_thresh,
                  int *keep);

/* Greedy NMS in the order of OpenCV's dnn::NMSBoxes on (x, y, w, h) boxes:
** candidates by score descending, ties by index; only the top_k best are
** considered (top_k <= 0: all); a candidate is kept when its IoU with every
** box kept before is <= iou_thresh (boxes in double, not rounded). Writes
** the kept indices, best first, to keep (capacity n); returns their count,
** -1 when out of memory. */
int ft__nms_greedy(const double (*boxes)[4], const double *scores, int n, double iou_thresh,
                   int top_k, int *keep);

#endif
