/*
** align/chip_points.c: dlib's face chip from point correspondences, and the
** chip from YuNet's own five points.
**
** DESIGN
**   dlib's chip_details(chip_points, img_points, dims): the similarity
**   transform (dlib's find_similarity_transform, align/dlib_geom.c) that maps
**   the chip points onto the image points gives the chip's angle (of m (1, 0))
**   and scale (its length), and its rectangle is centred on the image of the
**   chip's centre, (cols, rows) x scale in size less one pixel (dlib's
**   centered_drect). dlib's get_face_chip_details is this with dlib's mean
**   face for the five points of its predictor.
**
**   YuNet's points (eye centres, nose tip, mouth corners) are not dlib's
**   (eye corners, base of the nose), so they are mapped onto a template:
**   where they fall, on average, in dlib's own 150 px chips (padding 0.25) of
**   the same faces. The template was measured with bench/bench_yunet_template
**   (YuNet's points moved into the dlib chip that dlib's predictor gives, the
**   mean over the LFW images); a chip from YuNet's points thus frames the
**   face as dlib's net was trained to see it.
*/
#include "align/align.h"

#include <math.h>

/* YuNet's 5 points in a dlib chip of 150 px, padding 0.25 (see DESIGN):
** subject's right eye, left eye, nose tip, right and left mouth corner, in
** the frame of dlib's chip points. Measured on 1,723 faces that are not LFW
** (UTKFace every third image, and the deepface, face-api and
** face_recognition sample photos of ../shared/data; 2026-12-06):
**   bench_yunet_template $(find deepface face-api-js face_recognition ...) \
**       $(every third utkface image, 1600)
** gave eyes (48.34, 47.12) (100.93, 45.64), nose (75.58, 75.90), mouth
** (52.72, 99.47) (99.35, 98.15), standard deviations 2-5 px; the template is
** that, made left-right symmetric about x = 75 (LFW's own faces give
** (47.06, 45.83) (102.50, 46.34), (74.54, 78.87), (50.34, 103.98) (98.57,
** 104.45): the chip's framing varies with the data by a few pixels). */
static const double yunet5_template[5][2] = {
    { 48.71, 46.38 }, { 101.29, 46.38 }, { 75.00, 75.90 }, { 51.69, 98.81 }, { 98.31, 98.81 },
};

void ft__dlib_chip_details_points(const double *chip_pts, const double *img_pts, int n, long size,
                                  ft__chip_details *cd)
{
    double m[2][2], t[2];
    ft__dlib_similarity(chip_pts, img_pts, n, m, t);
    const double px = m[0][0], py = m[1][0]; /* m * (1, 0) */
    cd->angle = atan2(py, px);
    const double scale = sqrt(px * px + py * py);
    cd->rows = cd->cols = size;
    const double cx = (double)size / 2.0, cy = (double)size / 2.0;
    const double qx = m[0][0] * cx + m[0][1] * cy + t[0];
    const double qy = m[1][0] * cx + m[1][1] * cy + t[1];
    const double w = (double)size * scale - 1, h = (double)size * scale - 1;
    cd->rect[0] = qx - w / 2;
    cd->rect[1] = qy - h / 2;
    cd->rect[2] = qx + w / 2;
    cd->rect[3] = qy + h / 2;
}

void ft__yunet5_chip_details(const double pts[5][2], long size, ft__chip_details *cd)
{
    double from[10], to[10];
    for (int i = 0; i < 5; i++) {
        from[2 * i] = yunet5_template[i][0] * (double)size / 150.0;
        from[2 * i + 1] = yunet5_template[i][1] * (double)size / 150.0;
        to[2 * i] = pts[i][0];
        to[2 * i + 1] = pts[i][1];
    }
    ft__dlib_chip_details_points(from, to, 5, size, cd);
}
