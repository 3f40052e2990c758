/*
** detect/nms.c: the two non-maximum suppressions face-api uses, reproduced
** step for step (including their tie-breaking), and the detection list.
**
** INVARIANTS  (1) ft__nms_ssd visits candidates by score descending, ties in
**                 index order (JavaScript's sort is stable).
**             (2) ft__nms_boxes pops the highest score; among equal scores the
**                 highest index first (stable ascending sort, then pop).
**             (3) ft__nms_greedy (YuNet) visits by score descending, ties in
**                 index order, as OpenCV's NMSBoxes does.
*/
#include "detect/detect.h"

#include <math.h>
#include <stdlib.h>

int ft__detections_push(ft__detections *d, ft__detection det)
{
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 16;
        ft__detection *v = ft__realloc(d->v, (size_t)cap * sizeof *v);
        if (!v) return FT_ENOMEM;
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = det;
    return FT_OK;
}

void ft__detections_free(ft__detections *d)
{
    ft__free(d->v);
    d->v = NULL;
    d->n = d->cap = 0;
}

typedef struct cand {
    double score;
    int index;
} cand;

/* Descending by score, then ascending index (a stable descending sort). */
static int cmp_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->index - y->index;
}

static double iou_ssd(const float *bi, const float *bj)
{
    double ymin_i = bi[0] < bi[2] ? bi[0] : bi[2], xmin_i = bi[1] < bi[3] ? bi[1] : bi[3];
    double ymax_i = bi[0] > bi[2] ? bi[0] : bi[2], xmax_i = bi[1] > bi[3] ? bi[1] : bi[3];
    double ymin_j = bj[0] < bj[2] ? bj[0] : bj[2], xmin_j = bj[1] < bj[3] ? bj[1] : bj[3];
    double ymax_j = bj[0] > bj[2] ? bj[0] : bj[2], xmax_j = bj[1] > bj[3] ? bj[1] : bj[3];
    double area_i = (ymax_i - ymin_i) * (xmax_i - xmin_i);
    double area_j = (ymax_j - ymin_j) * (xmax_j - xmin_j);
    if (area_i <= 0 || area_j <= 0) return 0.0;
    double iy0 = ymin_i > ymin_j ? ymin_i : ymin_j, ix0 = xmin_i > xmin_j ? xmin_i : xmin_j;
    double iy1 = ymax_i < ymax_j ? ymax_i : ymax_j, ix1 = xmax_i < xmax_j ? xmax_i : xmax_j;
    double ih = iy1 - iy0 > 0 ? iy1 - iy0 : 0, iw = ix1 - ix0 > 0 ? ix1 - ix0 : 0;
    double inter = ih * iw;
    return inter / (area_i + area_j - inter);
}

int ft__nms_ssd(const float *boxes, const float *scores, int n, int max_out, double iou_thresh,
                double score_thresh, int *keep)
{
    int out_cap = max_out < n ? max_out : n;
    cand *c = ft__malloc((size_t)(n > 0 ? n : 1) * sizeof *c);
    if (!c) return -1;
    int nc = 0;
    for (int i = 0; i < n; i++)
        if ((double)scores[i] > score_thresh) c[nc++] = (cand){ scores[i], i };
    qsort(c, (size_t)nc, sizeof *c, cmp_desc);
    int n_keep = 0;
    for (int k = 0; k < nc && n_keep < out_cap; k++) {
        double score = c[k].score;
        for (int j = n_keep - 1; j >= 0; j--) {
            double iou = iou_ssd(boxes + 4 * c[k].index, boxes + 4 * keep[j]);
            if (iou == 0.0) continue;
            if (iou > iou_thresh) score = 0;
            if (score <= score_thresh) break;
        }
        if (score == c[k].score) keep[n_keep++] = c[k].index;
    }
    ft__free(c);
    return n_keep;
}

static double iou_boxes(const double *a, const double *b)
{
    double r0 = a[0] + a[2] < b[0] + b[2] ? a[0] + a[2] : b[0] + b[2];
    double l0 = a[0] > b[0] ? a[0] : b[0];
    double b0 = a[1] + a[3] < b[1] + b[3] ? a[1] + a[3] : b[1] + b[3];
    double t0 = a[1] > b[1] ? a[1] : b[1];
    double w = r0 - l0 > 0 ? r0 - l0 : 0.0, h = b0 - t0 > 0 ? b0 - t0 : 0.0;
    double inter = w * h;
    return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

int ft__nms_boxes(const double (*boxes)[4], const double *scores, int n, double iou_thresh,
                  int *keep)
{
    cand *c = ft__malloc((size_t)(n > 0 ? n : 1) * sizeof *c);
    if (!c) return -1;
    for (int i = 0; i < n; i++) c[i] = (cand){ scores[i], i };
    /* a stable descending sort by score with ties by descending index is
    ** exactly the pop order of face-api's stable ascending sort */
    for (int i = 0; i < n; i++) c[i].index = -c[i].index;
    qsort(c, (size_t)n, sizeof *c, cmp_desc);
    for (int i = 0; i < n; i++) c[i].index = -c[i].index;
    int n_keep = 0, live = n;
    while (live > 0) {
        int cur = c[0].index;
        keep[n_keep++] = cur;
        int m = 0;
        for (int i = 1; i < live; i++)
            if (iou_boxes(boxes[cur], boxes[c[i].index]) <= iou_thresh) c[m++] = c[i];
        live = m;
    }
    ft__free(c);
    return n_keep;
}

int ft__nms_greedy(const double (*boxes)[4], const double *scores, int n, double iou_thresh,
                   int top_k, int *keep)
{
    cand *c = ft__malloc((size_t)(n > 0 ? n : 1) * sizeof *c);
    if (!c) return -1;
    for (int i = 0; i < n; i++)
        c[i] = (cand){ scores[i], i };
    qsort(c, (size_t)n, sizeof *c, cmp_desc);
    int m = top_k > 0 && top_k < n ? top_k : n, n_keep = 0;
    for (int k = 0; k < m; k++) {
        const double *b = boxes[c[k].index];
        int ok = 1;
        for (int j = 0; j < n_keep && ok; j++) {
            const double *a = boxes[keep[j]];
            double iw = fmin(a[0] + a[2], b[0] + b[2]) - fmax(a[0], b[0]);
            double ih = fmin(a[1] + a[3], b[1] + b[3]) - fmax(a[1], b[1]);
            double inter = iw > 0 && ih > 0 ? iw * ih : 0.0;
            double uni = a[2] * a[3] + b[2] * b[3] - inter;
            double iou = uni > 0 ? inter / uni : 0.0;
            if (iou > iou_thresh) ok = 0;
        }
        if (ok) keep[n_keep++] = c[k].index;
    }
    ft__free(c);
    return n_keep;
}
