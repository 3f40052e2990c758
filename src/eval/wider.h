/*
** eval/wider.h: internals of the WIDER FACE evaluation (eval/wider.c) that
** the unit tests check on their own. The public API is in include/facetrail.h.
**
** INVARIANTS  (1) ft__wider_iou is bbox_overlaps of WiderFace-Evaluation for
**                 one pair: boxes (x, y, w, h) become x2 = x + w, y2 = y + h,
**                 areas and intersection count +1 pixel; 0 without overlap.
**             (2) ft__wider_voc_ap is its voc_ap on n points.
*/
#ifndef FT_EVAL_WIDER_H
#define FT_EVAL_WIDER_H

#include "core/core.h"

/* IoU of a predicted and a ground-truth box, both x, y, w, h. */
double ft__wider_iou(const double pred[4], const double gt[4]);

/* VOC AP of a PR curve of n points (recall and precision per point), with the
** sentinels [0, ..., 1] / [0, ..., 0] and the precision envelope. work holds
** 2 * (n + 2) doubles. */
double ft__wider_voc_ap(const double *rec, const double *prec, int n, double *work);

#endif
