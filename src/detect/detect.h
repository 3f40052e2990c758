/*
** detect/detect.h: the two face detectors (SSD-MobileNetV1, tiny face
** detector) and their non-maximum suppression, private to the library.
**
** DESIGN
**   A detector net is opened from its weights (validated against the layer
**   table at open), then run on whole images: it builds the padded, resized
**   input itself (image/netinput.h), runs the layers (nn/nn.h) and decodes
**   boxes exactly as face-api does, in the same float32/double precision at
**   each step. Results are image-pixel boxes in face-api's output order.
** THREADS     A net is used by one thread at a time (it owns scratch space).
*/
#ifndef FT_DETECT_H
#define FT_DETECT_H

#include "nn/nn.h"

typedef struct ft__detection {
    double x, y, w, h; /* image pixels, as face-api's detection.box */
    double score;
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

#endif
