/*
** facetrail.h: the public C API of facetrail, a face-search engine.
**
** OVERVIEW
**   facetrail runs the four pretrained networks of face-api (SSD-MobileNetV1 and
**   tiny face detectors, the 68-point landmark net and its tiny variant, and the
**   128-d ResNet face descriptor ported from dlib) natively in C on XNNPACK, with
**   face-api's exact pre- and post-processing, so that the same pixels give the
**   same numbers as the JavaScript reference.
**
**     ft_image *img;
**     ft_engine *eng;
**     ft_engine_params ep = ft_engine_default_params();
**     ep.model_dir = "models";
**     if (ft_image_load("photo.jpg", 0, &img, err, sizeof err) != FT_OK) ...;
**     if (ft_engine_open(&ep, &eng) != FT_OK) ...;         // message: err from open
**     ft_detect_params dp = ft_detect_default_params();
**     ft_face faces[64]; int n;
**     if (ft_engine_detect(eng, img, &dp, faces, 64, &n) != FT_OK)
**         fprintf(stderr, "%s\n", ft_engine_errmsg(eng));
**
** CONVENTIONS
**   Every fallible function returns 0 (FT_OK) or a negative enum ft_status.
**   Constructors write the handle through an out-parameter; destructors accept
**   NULL. Detail text for a failure lives on the handle (ft_engine_errmsg) or,
**   for functions without a handle, in a caller-provided buffer.
**
** THREADS
**   No handle is thread-safe unless its comment says so. An ft_image is
**   immutable after load and may be shared. Each ft_engine is used by one thread
**   at a time; it owns a worker pool of n_threads threads (created at open).
*/
#ifndef FACETRAIL_H
#define FACETRAIL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FT_VERSION "0.1.0"

/* ------------------------------------------------------------------------ */
/* Status codes                                                             */
/* ------------------------------------------------------------------------ */

/* X(name, value, message): the one list from which the enum, ft_strerror()
** and ft_status_name() are generated, so they cannot drift. */
#define FT_STATUS_MAP(X)                                                     \
    X(OK, 0, "success")                                                      \
    X(ENOMEM, -1, "out of memory")                                           \
    X(EINVAL, -2, "invalid argument")                                        \
    X(EIO, -3, "input/output error")                                         \
    X(EFORMAT, -4, "corrupt or unsupported input")                           \
    X(EMODEL, -5, "bad or missing model file")                               \
    X(ETOOBIG, -6, "input too large")                                        \
    X(ENOTFOUND, -7, "not found")                                            \
    X(EBACKEND, -8, "neural-network backend failure")                        \
    X(ENOFACE, -9, "no face found")

enum ft_status {
#define FT__STATUS_ENUM(name, value, msg) FT_##name = value,
    FT_STATUS_MAP(FT__STATUS_ENUM)
#undef FT__STATUS_ENUM
};

/* Human-readable message for a status; never NULL ("unknown status" for
** values outside the list). */
const char *ft_strerror(int status);
/* The enum name without prefix ("EINVAL"); never NULL. */
const char *ft_status_name(int status);

/* ------------------------------------------------------------------------ */
/* Images                                                                   */
/* ------------------------------------------------------------------------ */

/* A packed 8-bit RGB image, row-major, no padding between rows
** (stride = 3 * width). Immutable after load: may be shared across threads. */
typedef struct ft_image {
    int width;
    int height;
    uint8_t *rgb; /* (height, width, 3), owned by the image */
} ft_image;

/* Default cap on decoded pixels (width * height) when 0 is passed. */
#define FT_IMAGE_DEFAULT_MAX_PIXELS (64u * 1024u * 1024u)

/* Allocates a zero-filled image of the given size. FT_EINVAL for a
** non-positive size, FT_ETOOBIG past FT_IMAGE_DEFAULT_MAX_PIXELS, FT_ENOMEM. */
int ft_image_create(int width, int height, ft_image **out /* OUT */);
void ft_image_destroy(ft_image *img);

/* Decodes a JPEG (libjpeg-turbo; EXIF orientation applied) or a PNG (libpng;
** alpha dropped, 16-bit reduced to 8, grey/palette expanded to RGB) file. The
** format is sniffed from the first bytes, not the name. Images with more than
** max_pixels pixels (0: FT_IMAGE_DEFAULT_MAX_PIXELS) are rejected from the
** header, before any pixel is decoded (FT_ETOOBIG).
** Errors: FT_EIO (cannot read), FT_EFORMAT (not JPEG/PNG, corrupt, truncated),
** FT_ETOOBIG, FT_ENOMEM. On error *out is NULL and errbuf (if not NULL) holds
** a one-line message naming the file. */
int ft_image_load(const char *path, size_t max_pixels, ft_image **out /* OUT */, char *errbuf,
                  size_t errbuf_len);
/* Same as ft_image_load on a memory buffer (name is used in messages only). */
int ft_image_decode(const void *data, size_t len, const char *name, size_t max_pixels,
                    ft_image **out /* OUT */, char *errbuf, size_t errbuf_len);

/* Writes an RGB PNG. FT_EIO on failure (message in errbuf). */
int ft_image_save_png(const ft_image *img, const char *path, char *errbuf, size_t errbuf_len);

/* ------------------------------------------------------------------------ */
/* Engine: models + worker pool                                             */
/* ------------------------------------------------------------------------ */

typedef struct ft_engine ft_engine;

enum ft_detector_kind {
    FT_DETECTOR_SSD = 0,  /* SSD-MobileNetV1, fixed 512x512 input */
    FT_DETECTOR_TINY = 1, /* tiny face detector, input_size multiple of 32 */
};

typedef struct ft_engine_params {
    const char *model_dir; /* folder with face-api's *-weights_manifest.json + .bin */
    int n_threads;         /* worker threads for the nets (>= 1) */
} ft_engine_params;

/* model_dir "models", n_threads 1. */
ft_engine_params ft_engine_default_params(void);

/* Creates an engine. Models are loaded lazily, on first use, and validated
** (names, shapes, byte counts) then; a bad model gives FT_EMODEL from the call
** that needed it. On failure *out is NULL and errbuf holds the reason. */
int ft_engine_open(const ft_engine_params *params, ft_engine **out /* OUT */, char *errbuf,
                   size_t errbuf_len);
void ft_engine_close(ft_engine *eng);

/* Message for the last failure on this engine ("" if none). Borrowed: valid
** until the next call on eng. */
const char *ft_engine_errmsg(const ft_engine *eng);

/* Loads (and validates) the models the given detect parameters need now,
** instead of on first use. */
struct ft_detect_params;
int ft_engine_preload(ft_engine *eng, const struct ft_detect_params *params);

/* ------------------------------------------------------------------------ */
/* Detection, landmarks, descriptors                                        */
/* ------------------------------------------------------------------------ */

#define FT_N_LANDMARKS  68
#define FT_DESCRIPTOR_DIM 128

/* How the 150x150 descriptor chip is cut from the image. */
enum ft_align_kind {
    FT_ALIGN_FACEAPI = 0, /* face-api's axis-aligned crop from eye/mouth centres (parity) */
    FT_ALIGN_DLIB = 1,    /* dlib's chip: similarity transform of the landmarks onto
                             dlib's mean face, padding 0.25 (what the net was trained on) */
};

typedef struct ft_detect_params {
    enum ft_detector_kind detector; /* default FT_DETECTOR_SSD */
    int input_size;                 /* tiny only: multiple of 32, default 416 */
    float min_score;                /* default 0.5 (face-api's default) */
    int max_results;                /* ssd only: default 100 */
    int with_landmarks;             /* default 1 */
    int with_descriptor;            /* default 1 (needs landmarks) */
    int tiny_landmarks;             /* default 0: use face_landmark_68_tiny */
    enum ft_align_kind align;       /* descriptor chip; default FT_ALIGN_FACEAPI */
    int mirror;                     /* 1: average the descriptors of the chip and of
                                       its mirror image; default 0 */
} ft_detect_params;

ft_detect_params ft_detect_default_params(void);

/* One detected face. Coordinates are image pixels (x right, y down). */
typedef struct ft_face {
    double box[4];   /* x, y, w, h as the detector gave it, unrounded */
    double score;    /* detector confidence in [0, 1] */
    int has_landmarks;
    double landmarks[FT_N_LANDMARKS][2];
    int landmark_crop[4]; /* integer crop fed to the landmark net */
    int has_descriptor;
    int align_rect[4];      /* dlib-style alignment rect from the landmarks */
    int descriptor_crop[4]; /* integer crop fed to the descriptor net */
    float descriptor[FT_DESCRIPTOR_DIM]; /* raw net output, not normalised */
} ft_face;

/* Detects faces in img and, as params ask, their landmarks and descriptors,
** exactly as face-api's detectAllFaces().withFaceLandmarks()
** .withFaceDescriptors() does. Writes up to cap faces in detector order and
** the number found to *n_out (which may exceed cap: only cap are written).
** Errors: FT_EINVAL (bad params), FT_EMODEL, FT_ENOMEM, FT_EBACKEND. */
int ft_engine_detect(ft_engine *eng, const ft_image *img, const ft_detect_params *params,
                     ft_face *faces /* OUT */, int cap, int *n_out /* OUT */);

/* Descriptor of a ready face chip (normally 150x150 RGB). Other sizes are
** padded to a square (centred, zeros) and resized to 150x150 as face-api does. */
int ft_engine_embed_chip(ft_engine *eng, const ft_image *chip,
                         float descriptor[FT_DESCRIPTOR_DIM] /* OUT */);

/* The exact 150x150x3 float input (RGB, 0..255, HWC) that the descriptor net
** gets for a face whose crop is descriptor_crop, for parity checks. */
int ft_face_chip(const ft_image *img, const int descriptor_crop[4],
                 float chip[150 * 150 * 3] /* OUT */);

/* Euclidean distance between two raw descriptors. */
float ft_descriptor_distance(const float *a, const float *b);

/* Scales a descriptor to unit length (no-op for the zero vector). */
void ft_descriptor_normalize(float *d);

/* face-api's default match threshold on euclidean distance. */
#define FT_MATCH_THRESHOLD 0.6f

/* ------------------------------------------------------------------------ */
/* Evaluation: face verification (LFW protocol)                             */
/* ------------------------------------------------------------------------ */

/* (section owned by src/eval/verify.c) */

/* ------------------------------------------------------------------------ */
/* Evaluation: face detection (WIDER FACE protocol)                         */
/* ------------------------------------------------------------------------ */

/* (section owned by src/eval/wider.c) */

#ifdef __cplusplus
}
#endif
#endif /* FACETRAIL_H */
