/*
** align/align.h: the 68-point landmark nets and face-api's crop geometry,
** private to the library.
** THREADS     A net is used by one thread at a time (it owns scratch space).
*/
#ifndef FT_ALIGN_H
#define FT_ALIGN_H

#include "nn/nn.h"

typedef struct ft__landmark_net ft__landmark_net;

/* tiny = 0: face_landmark_68_model (4 dense blocks), 1: the tiny variant (3). */
int ft__landmark_open(const char *model_dir, int tiny, ft__landmark_net **out, char *err,
                      size_t errlen);
void ft__landmark_close(ft__landmark_net *net);

/* Runs the net on the crop (x, y, w, h) of img (padded centred to a square,
** resized to 112) and writes the 68 points relative to the crop, in crop
** pixels, to pts (as face-api's unshifted landmarks). */
int ft__landmark_run(const ft__nn_ctx *ctx, ft__landmark_net *net, const ft_image *img,
                     const int crop[4], double pts[68][2]);

/* face-api Box.clipAtImageBorders: clip (x, y, w, h) to the image, then floor
** each of x, y, w, h. Writes the integer box; returns 0 when it is empty. */
int ft__clip_box(double x, double y, double w, double h, int img_w, int img_h, int out[4]);

/* face-api FaceLandmarks.alignDlib on image-space landmarks; crop_w/crop_h are
** the landmark crop's size (the landmarks' image dims in face-api). */
void ft__align_dlib(const double pts[68][2], int crop_w, int crop_h, double rect[4]);

/* dlib's face chip (align/warp.c): the chip -> image similarity transform m
** (u = m0 x + m1 y + m2, v = m3 x + m4 y + m5) that puts the landmarks onto
** dlib's mean face in a size x size chip with the given padding (0.25 for
** the descriptor), and the bilinear, anti-aliased resampling into dst
** (size, size, 3) float RGB 0..255. */
void ft__chip_transform(const double pts[68][2], int size, double padding, double m[6]);
void ft__warp_chip(const ft_image *img, const double m[6], int size, float *dst);

/* ------------------------------------------------------------------------ */
/* dlib's 5-point shape predictor and face chip (shape5.c, chip5.c,         */
/* dlib_geom.c): equal to dlib 19.24's, pixel for pixel                     */
/* ------------------------------------------------------------------------ */

/* A dlib rectangle: all four edges inclusive (a 1 x 1 box has left ==
** right). Width in dlib's transforms is right - left. */
typedef struct ft__rect {
    long left, top, right, bottom;
} ft__rect;

/* dlib's 5 landmarks, in its part order (image left/right, as in dlib's
** mean face for get_face_chip_details): 0 outer and 1 inner corner of the
** eye on the image's right, 2 outer and 3 inner corner of the eye on the
** image's left, 4 the base of the nose. */
typedef struct ft__shape5_out {
    long pt[5][2];   /* (x, y) as dlib's full_object_detection: rounded */
    double xy[5][2]; /* the same before rounding (not in dlib's output) */
} ft__shape5_out;

typedef struct ft__shape5 ft__shape5;

/* Reads shape_predictor_5_face_landmarks.dat (ft__dat_load: its pin is
** checked). FT_EIO, FT_EMODEL (damaged, malformed, or another predictor,
** e.g. a 68-point one: the message says which), FT_ENOMEM. */
int ft__shape5_open(const char *path, ft__shape5 **out, char *err, size_t errlen);
/* The same from bytes in memory; name is used in messages. */
int ft__shape5_load(const unsigned char *p, size_t len, const char *name, ft__shape5 **out,
                    char *err, size_t errlen);
void ft__shape5_free(ft__shape5 *sp);

/* dlib's shape_predictor::operator()(img, rect) on an RGB image (pixel
** intensity (r + g + b) / 3 as dlib's rgb_pixel). Any rectangle is valid,
** also one partly or wholly outside the image. FT_OK. */
int ft__shape5_run(const ft__shape5 *sp, const ft_image *img, ft__rect rect, ft__shape5_out *out);
/* The same, also writing the leaf each tree took (cascade by cascade, tree
** by tree) to leaves[0..ft__shape5_n_trees), numbered across all trees'
** leaves as dlib's feats overload of operator() numbers them (a test hook).
** FT_EINVAL if cap is too small. */
int ft__shape5_run_leaves(const ft__shape5 *sp, const ft_image *img, ft__rect rect,
                          ft__shape5_out *out, uint32_t *leaves, size_t cap);
size_t ft__shape5_n_trees(const ft__shape5 *sp);
/* The predictor's mean shape: where its 5 parts sit, on average, in the unit
** square of the face rectangles it was trained on. */
void ft__shape5_mean(const ft__shape5 *sp, double mean[5][2]);

/* dlib's chip_details: the chip's rectangle in the image (left, top,
** right, bottom, doubles), its rotation (radians) and its size. */
typedef struct ft__chip_details {
    double angle;
    double rect[4];
    long rows, cols;
} ft__chip_details;

/* dlib's get_face_chip_details(det, size, padding) for 5-point landmarks
** (ft__shape5_out.pt); the descriptor net wants size 150, padding 0.25. */
void ft__dlib_face_chip_details(const long pts[5][2], long size, double padding,
                                ft__chip_details *cd);
/* dlib's extract_image_chip(img, cd, chip) with bilinear interpolation into
** dst (cd->rows, cd->cols, 3) uint8 RGB, black where the chip leaves the
** image (see chip5.c for how exactly it matches dlib). FT_OK; FT_EINVAL for
** an empty size; FT_ENOMEM (the image pyramid for a large face). */
int ft__dlib_extract_chip(const ft_image *img, const ft__chip_details *cd, uint8_t *dst);
/* dlib's chip_details(chip_points, img_points, (size, size)) for n point
** pairs (x, y interleaved): the chip whose chip_pts land on img_pts
** (align/chip_points.c). */
void ft__dlib_chip_details_points(const double *chip_pts, const double *img_pts, int n, long size,
                                  ft__chip_details *cd);
/* The dlib chip (size px, framed as dlib's with padding 0.25) from YuNet's
** own five points, through the template measured in dlib's chips. */
void ft__yunet5_chip_details(const double pts[5][2], long size, ft__chip_details *cd);

/* dlib's impl::unnormalizing_tform(rect): the unit square -> rect map,
** x' = m[0][0] x + m[0][1] y + m[0][2] (y' likewise), bit for bit. */
void ft__dlib_unnormalizing_tform(ft__rect r, double m[2][3]);
/* dlib's find_similarity_transform(from, to) for n points (x, y pairs):
** to ~= m * from + t. See dlib_geom.c for how close to dlib it is. */
void ft__dlib_similarity(const double *from, const double *to, int n, double m[2][2], double t[2]);

#endif
