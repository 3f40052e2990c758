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
#define FT_STATUS_MAP(X)                              \
    X(OK, 0, "success")                               \
    X(ENOMEM, -1, "out of memory")                    \
    X(EINVAL, -2, "invalid argument")                 \
    X(EIO, -3, "input/output error")                  \
    X(EFORMAT, -4, "corrupt or unsupported input")    \
    X(EMODEL, -5, "bad or missing model file")        \
    X(ETOOBIG, -6, "input too large")                 \
    X(ENOTFOUND, -7, "not found")                     \
    X(EBACKEND, -8, "neural-network backend failure") \
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
    FT_DETECTOR_SSD = 0,   /* SSD-MobileNetV1, fixed 512x512 input */
    FT_DETECTOR_TINY = 1,  /* tiny face detector, input_size multiple of 32 */
    FT_DETECTOR_YUNET = 2, /* YuNet_n at the image's own size (no resizing), with
                              5 points per face */
};

typedef struct ft_engine_params {
    const char *model_dir; /* folder with face-api's *-weights_manifest.json + .bin;
                              NULL: ft_engine_default_model_dir finds it */
    int n_threads;         /* worker threads for the nets (>= 1) */
} ft_engine_params;

/* model_dir NULL (found at open), n_threads 1. */
ft_engine_params ft_engine_default_params(void);

/* The model folder to use when none is given, into out (out_len bytes):
** $FT_MODEL_DIR if set and not empty (as given, not checked); else the first
** of these that holds the models: <bin>/../share/facetrail/models/face-api/model
** and <bin>/../../models/face-api/model, <bin> being the folder of the running
** program (/proc/self/exe: an installed PREFIX/bin/facetrail, or a
** build/<variant>/facetrail in the source tree), then
** /usr/local/share/facetrail/models/face-api/model (the default install),
** then models/face-api/model in the working directory. FT_EMODEL when none
** holds them, with every place looked in in errbuf; FT_EINVAL when out is
** too small. Threads: safe (reads the environment only). */
int ft_engine_default_model_dir(char *out /* OUT */, size_t out_len, char *errbuf,
                                size_t errbuf_len);

/* Creates an engine. Models are loaded lazily, on first use, and validated
** (names, shapes, byte counts; the face-api files also against pinned
** SHA-256 digests, so a damaged or other-version file is FT_EMODEL naming it)
** then; a bad model gives FT_EMODEL from the call that needed it. A NULL
** model_dir is resolved here (FT_EMODEL if no folder is found). On failure
** *out is NULL and errbuf holds the reason. */
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

#define FT_N_LANDMARKS    68
#define FT_DESCRIPTOR_DIM 128

/* How the 150x150 descriptor chip is cut from the image. */
enum ft_align_kind {
    FT_ALIGN_FACEAPI = 0, /* face-api's axis-aligned crop from eye/mouth centres (parity) */
    FT_ALIGN_DLIB = 1,    /* dlib's chip: similarity transform of the landmarks onto
                             dlib's mean face, padding 0.25 (what the net was trained on) */
};

/* Which landmarks a face gets; they also decide how its descriptor chip is
** cut. */
enum ft_landmark_kind {
    FT_LANDMARKS_68 = 0,        /* face-api's 68-point net (face-api parity) */
    FT_LANDMARKS_DLIB5 = 1,     /* dlib's 5-point shape predictor on the box: eye
                                   corners (outer, inner of one eye, then of the
                                   other) and the base of the nose, as dlib */
    FT_LANDMARKS_DETECTOR5 = 2, /* YuNet's own 5 points: eye centres, nose tip,
                                   mouth corners (YuNet only) */
};

/* Which net makes the descriptor. */
enum ft_descriptor_kind {
    FT_DESCRIPTOR_FACEAPI = 0, /* face-api's quantised ResNet on a float chip */
    FT_DESCRIPTOR_DLIB = 1,    /* dlib's full-precision ResNet on dlib's 150 px
                                  chip (padding 0.25) from 5 points: equals
                                  dlib's compute_face_descriptor */
};

typedef struct ft_detect_params {
    enum ft_detector_kind detector; /* default FT_DETECTOR_YUNET */
    int input_size;                 /* tiny only: multiple of 32, default 416 */
    float min_score;                /* default 0.6 for YuNet (its score is cls x obj);
                                       face-api's default for SSD and tiny is 0.5 */
    int max_results;                /* ssd only: default 100 */
    int with_landmarks;             /* default 1 */
    int with_descriptor;            /* default 1 (needs landmarks) */
    int tiny_landmarks;             /* default 0: use face_landmark_68_tiny */
    enum ft_align_kind align;       /* descriptor chip; default FT_ALIGN_DLIB */
    int mirror;                     /* 1: average the descriptors of the chip and of
                                       its mirror image; default 1 (face-api: 0) */
    int tile_px;                    /* small-face mode: besides the whole image, run the detector
                         on overlapping square tiles of this many image pixels
                         (each resized to the detector input, so small faces are
                         enlarged) and merge; 0 = off (default) */
    float tile_overlap;             /* fraction of a tile shared with its neighbour; default 0.25 */
    int min_face_px;                /* drop faces whose box height is below this; default 0 */
    enum ft_landmark_kind landmarks;    /* default FT_LANDMARKS_DLIB5 */
    enum ft_descriptor_kind descriptor; /* default FT_DESCRIPTOR_DLIB */
} ft_detect_params;

/* A detector's default min_score: 0.6 for YuNet, face-api's 0.5 for SSD and
** tiny. */
float ft_detector_default_score(enum ft_detector_kind kind);

/* The default pipeline: YuNet (score 0.6), dlib's 5-point predictor, dlib's
** descriptor averaged with its mirror image's ("dlib-chip5-mirror"). */
ft_detect_params ft_detect_default_params(void);
/* face-api's pipeline, as detectAllFaces().withFaceLandmarks()
** .withFaceDescriptors() with default options: SSD (score 0.5), 68 landmarks,
** face-api's crop and descriptor. The parity tests use it. */
ft_detect_params ft_detect_faceapi_params(void);

/* The descriptor space of a pipeline: descriptors compare only within one
** space, and each space has its own calibration. Names: "faceapi-crop"
** (face-api's crop), "faceapi-chip68" (face-api's net on dlib's chip from the
** 68 points: events ingested before the dlib descriptor), "dlib-chip5"
** (dlib's net and chip from dlib's 5 points), "dlib-chip5-mirror" (the same,
** averaged with the mirror image's: the default), "dlib-yunet5" (dlib's net on
** a chip from YuNet's 5 points). NULL for a combination of descriptor,
** landmarks, alignment and mirror that is none of these. */
const char *ft_descriptor_space(const ft_detect_params *p);
/* Sets the detector (with its default score), landmark, alignment and
** descriptor fields of p to make descriptors of the named space as its
** events were made (face-api spaces: SSD; dlib spaces: YuNet); the other
** fields are kept. FT_EINVAL for an unknown name. */
int ft_detect_params_for_space(const char *space, ft_detect_params *p);

/* One detected face. Coordinates are image pixels (x right, y down). */
typedef struct ft_face {
    double box[4]; /* x, y, w, h as the detector gave it, unrounded */
    double score;  /* detector confidence in [0, 1] */
    int has_landmarks;
    double landmarks[FT_N_LANDMARKS][2];
    int landmark_crop[4]; /* integer crop fed to the landmark net; for dlib's 5 points,
                             the rectangle its predictor ran on (x, y, w, h; dlib's
                             rectangle is x, y, x + w - 1, y + h - 1) */
    int has_descriptor;
    int align_rect[4];                   /* dlib-style alignment rect from the landmarks */
    int descriptor_crop[4];              /* integer crop fed to the descriptor net */
    float descriptor[FT_DESCRIPTOR_DIM]; /* raw net output, not normalised */
    enum ft_landmark_kind landmark_kind; /* what landmarks[] holds (has_landmarks) */
    int n_landmarks;                     /* 68, or 5 for the 5-point kinds */
    int has_points5;                     /* the detector's own 5 points (YuNet) */
    double points5[5][2];                /* eye centres (subject's right, left), nose
                                            tip, mouth corners (right, left) */
} ft_face;

/* Detects faces in img and, as params ask, their landmarks and descriptors,
** exactly as face-api's detectAllFaces().withFaceLandmarks()
** .withFaceDescriptors() does. Writes up to cap faces in detector order and
** the number found to *n_out (which may exceed cap: only cap are written).
** Errors: FT_EINVAL (bad params), FT_EMODEL, FT_ENOMEM, FT_EBACKEND. */
int ft_engine_detect(ft_engine *eng, const ft_image *img, const ft_detect_params *params,
                     ft_face *faces /* OUT */, int cap, int *n_out /* OUT */);

/* Descriptor of one face found by ft_engine_detect (with landmarks) in img,
** cut as params->align and params->mirror say: for callers that detect with
** with_descriptor = 0 and describe only the faces they keep. Fills
** face->descriptor, descriptor_crop, align_rect and has_descriptor. With
** dlib's 5-point landmarks (params->landmarks), a face that has only a box
** gets its landmarks from the box first. FT_EINVAL if the face has no
** landmarks (of the kind params ask for) and none can be made. */
int ft_engine_describe(ft_engine *eng, const ft_image *img, const ft_detect_params *params,
                       ft_face *face);

/* How good a detected face (with landmarks) is for recognition, in [0, 1]:
** detector score x size x frontal pose x sharpness (src/track/quality.c).
** 0 for a face without landmarks. */
float ft_face_quality(const ft_image *img, const ft_face *face);

/* A side_px x side_px JPEG of the face: a square 1.5 times the box's larger
** side, centred on it (edge pixels repeat past the image's border). *out is
** freed with ft_store_free (facetrail/store.h). FT_EINVAL (empty box, side
** outside 8..1024), FT_ENOMEM, FT_EBACKEND. */
int ft_face_thumbnail(const ft_image *img, const double box[4], int side_px,
                      unsigned char **out /* OUT */, size_t *out_len /* OUT */);

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

/* Everything here serves one question: how well do descriptors tell people
** apart, measured with the LFW view-2 protocol, and which distance threshold
** gives which false-match rate. The decision rule is the same everywhere:
** two faces "match" (same person) iff distance < threshold, strictly. */

/* The distance between two descriptors. */
enum ft_metric {
    FT_METRIC_EUCLIDEAN = 0, /* euclidean distance of the raw descriptors (face-api's) */
    FT_METRIC_COSINE = 1,    /* euclidean distance of the unit-normalised descriptors,
                                sqrt(2 - 2 cos(a, b)): orders pairs as the cosine distance */
};

/* Distance of a and b under metric (a and b are not changed). NaN for an
** unknown metric. */
float ft_metric_distance(enum ft_metric metric, const float *a, const float *b);
/* "euclidean" or "cosine"; "unknown" otherwise. Never NULL. */
const char *ft_metric_name(enum ft_metric metric);

/* A one-line description of the pipeline p (detector and score, landmarks,
** chip, descriptor net, mirror) and the metric, for the record an event
** keeps of how its descriptors were made, e.g. "detector=yunet_n score=0.6
** landmarks=dlib5 chip=dlib150/0.25 descriptor=dlib_resnet_v1 mirror=1
** metric=cosine". */
void ft_pipeline_describe(const ft_detect_params *p, enum ft_metric metric, char *out,
                          size_t out_len);

/* -- LFW pairs file ------------------------------------------------------ */

/* pairs.txt of LFW view 2: a header line "k n", then k folds, each of n
** same-person lines "name i j" followed by n different-person lines
** "name1 i name2 j" (fields separated by blanks or tabs; blank lines and a
** final CR are ignored). Image i of name is the relative path
** "name/name_%04d.jpg" (i in 1..9999). Every distinct path is stored once, so
** that each image is processed once however many pairs use it. */
typedef struct ft_lfw_pair {
    int fold;     /* 0-based */
    int same;     /* 1: same person, 0: different people */
    int image[2]; /* indices into ft_lfw_pairs.images */
    int line;     /* 1-based line in the file */
} ft_lfw_pair;

typedef struct ft_lfw_pairs {
    int n_folds;        /* folds read: the header's k, or max_folds if smaller */
    int n_folds_file;   /* k of the header */
    int n_per_fold;     /* n of the header: same pairs per fold (and as many different) */
    int n_pairs;        /* n_folds * 2 * n_per_fold */
    ft_lfw_pair *pairs; /* in file order: fold by fold, same pairs first */
    int n_images;
    char **images; /* distinct relative paths, in order of first use */
} ft_lfw_pairs;

/* Reads a pairs file; max_folds > 0 keeps only the first max_folds folds (the
** rest of the file is not read), 0 keeps all. Errors: FT_EIO (cannot read),
** FT_EFORMAT (malformed: errbuf says "FILE:LINE: what"), FT_ETOOBIG (over
** 64 MiB), FT_ENOMEM, FT_EINVAL (max_folds < 0). On error *out is NULL. */
int ft_lfw_pairs_load(const char *path, int max_folds, ft_lfw_pairs **out /* OUT */, char *errbuf,
                      size_t errbuf_len);
/* Same on text in memory (len bytes, need not be NUL-terminated); name is used
** in messages only. */
int ft_lfw_pairs_parse(const char *text, size_t len, const char *name, int max_folds,
                       ft_lfw_pairs **out /* OUT */, char *errbuf, size_t errbuf_len);
void ft_lfw_pairs_free(ft_lfw_pairs *pairs);

/* -- k-fold verification -------------------------------------------------- */

#define FT_VERIFY_MAX_FOLDS 64

/* One pair to evaluate. An unknown distance (no descriptor for one of the
** images) is given as NaN or +inf and is treated as +inf: "different" at every
** threshold, so it is always an error for a same-person pair and always right
** for a different-person pair. It is never dropped, and it is counted. */
typedef struct ft_verify_item {
    int fold;        /* 0 .. n_folds - 1 */
    int same;        /* 1: same person (genuine), 0: different people (impostor) */
    double distance; /* finite, or NaN / +inf for unknown; -inf is invalid */
} ft_verify_item;

/* The operating point at a target false accept rate, over all pairs pooled. */
typedef struct ft_verify_rate {
    double target_far; /* requested FAR */
    double threshold;  /* the largest threshold t whose FAR (impostor pairs with
                          distance < t, over all impostor pairs) is <= target_far;
                          +inf when even accepting every known distance stays within */
    double tar;        /* genuine pairs with distance < threshold / all genuine pairs
                          (ties at the threshold are rejected, so they count against TAR) */
    double far;        /* the FAR actually reached at threshold (<= target_far) */
} ft_verify_rate;

typedef struct ft_verify_result {
    int n_folds, n_pairs, n_same, n_different;
    int n_unknown, n_unknown_same, n_unknown_different; /* pairs of unknown distance */
    /* k-fold cross-validation: for each fold, the threshold maximising accuracy
    ** on the other folds (candidates: the smallest training distance, the
    ** midpoints between consecutive distinct training distances, and +inf; ties
    ** go to the smallest threshold), then the accuracy on the fold itself. */
    double accuracy; /* mean over folds of the fold accuracies (folds weigh alike) */
    double std;      /* sample standard deviation over folds (divisor k - 1), as
                        LFW results are usually reported */
    double sem;      /* std / sqrt(k): the standard error of the LFW README */
    double fold_accuracy[FT_VERIFY_MAX_FOLDS];
    double fold_threshold[FT_VERIFY_MAX_FOLDS];
    int fold_pairs[FT_VERIFY_MAX_FOLDS];
    double threshold;          /* the same choice made on all pairs (a deployable value) */
    double threshold_accuracy; /* accuracy on all pairs at threshold (optimistic: fitted) */
    ft_verify_rate at_far_1e3; /* TAR at FAR = 1e-3 */
    ft_verify_rate at_far_1e2; /* TAR at FAR = 1e-2 */
} ft_verify_result;

/* The LFW protocol on n pairs in n_folds folds (2 .. FT_VERIFY_MAX_FOLDS).
** Errors (FT_EINVAL, message in errbuf): fold out of range, a fold without
** pairs, no genuine or no impostor pair, a distance of -inf. */
int ft_verify_evaluate(const ft_verify_item *items, int n, int n_folds,
                       ft_verify_result *out /* OUT */, char *errbuf, size_t errbuf_len);

/* The accuracy-maximising threshold (rule and ties as above) on the pairs whose
** fold is not exclude_fold (-1: all pairs), and the accuracy it gives them.
** FT_EINVAL when no pair is left. With no known distance left, +inf. */
int ft_verify_best_threshold(const ft_verify_item *items, int n, int exclude_fold,
                             double *threshold /* OUT */, double *accuracy /* OUT */);

/* TAR at a target FAR in (0, 1] over all n pairs (see ft_verify_rate).
** FT_EINVAL without genuine or impostor pairs, or for a bad target. */
int ft_verify_tar_at_far(const ft_verify_item *items, int n, double target_far,
                         ft_verify_rate *out /* OUT */);

/* -- Calibration: threshold <-> false-match rate --------------------------- */

#define FT_CALIBRATION_MAX_KNOTS 48

/* One point of the false-match curve. */
typedef struct ft_calibration_knot {
    double threshold; /* distance; a comparison matches iff distance < threshold */
    double fmr;       /* false-match rate per comparison of two different people, > 0 */
    double fnmr;      /* false non-match rate (same person, distance >= threshold),
                         or NaN when not measured */
} ft_calibration_knot;

/* FMR as a function of the threshold, monotone and continuous: exact at the
** knots, log-linear between them (log FMR linear in the threshold). Below the
** first knot (rates the data cannot resolve) it is extrapolated with an
** exponential tail, FMR(t) = knots[0].fmr * exp((t - knots[0].threshold) /
** tail_scale), whose scale is fitted (maximum likelihood) on the lowest impostor
** distances; it is heavier than a normal tail, so extrapolated thresholds err
** on the safe (lower) side. Above the last knot the last segment is continued,
** capped at 1. Every answer from an extrapolated region is flagged. */
typedef struct ft_calibration {
    enum ft_metric metric; /* the distance the thresholds are in */
    int n_knots;           /* 1 .. FT_CALIBRATION_MAX_KNOTS; threshold and fmr
                              strictly increasing */
    ft_calibration_knot knots[FT_CALIBRATION_MAX_KNOTS];
    double tail_scale;    /* > 0, in distance units */
    long long n_impostor; /* comparisons measured (0: not known) */
    long long n_genuine;
} ft_calibration;

/* Builds the curve from measured distances (NaN / +inf: never a match; -inf
** invalid). The knots are the empirical impostor quantiles: the threshold for
** rate r is the (floor(r * n_impostor) + 1)-th smallest impostor distance, i.e.
** the largest threshold at which at most r * n_impostor comparisons match. With
** up to FT_CALIBRATION_MAX_KNOTS - 1 impostor distances every one is a knot;
** with more, the rates 1/n, 1, 2, 5 x 10^-e, and (n-1)/n. genuine may be NULL
** (n_genuine 0): the fnmr are then NaN. FT_EINVAL (message in errbuf) for
** fewer than two distinct finite impostor distances or a distance of -inf;
** FT_ENOMEM. */
int ft_calibration_from_distances(enum ft_metric metric, const double *impostor, size_t n_impostor,
                                  const double *genuine, size_t n_genuine,
                                  ft_calibration *out /* OUT */, char *errbuf, size_t errbuf_len);
/* Builds the curve from a table (e.g. compiled in), checking it: FT_EINVAL
** (message in errbuf) unless 1 <= n <= FT_CALIBRATION_MAX_KNOTS, thresholds
** finite and strictly increasing, fmr strictly increasing in (0, 1], fnmr NaN
** or in [0, 1], tail_scale finite and > 0. */
int ft_calibration_from_knots(enum ft_metric metric, const ft_calibration_knot *knots, int n,
                              double tail_scale, ft_calibration *out /* OUT */, char *errbuf,
                              size_t errbuf_len);
/* The calibration of the default pipeline's descriptors ("dlib-chip5"),
** measured on LFW (see src/eval/calibrate.c for the data, the protocol and
** the command). */
const ft_calibration *ft_calibration_default(void);
/* The calibration measured for a descriptor space (ft_descriptor_space),
** NULL for a space that has none: search must not score such descriptors. */
const ft_calibration *ft_calibration_for_space(const char *space);

/* FMR per comparison at threshold. *extrapolated (if not NULL) is set to 1
** when the answer comes from a tail model rather than between two knots. NaN
** for a NaN threshold. */
double ft_calibration_fmr(const ft_calibration *cal, double threshold, int *extrapolated);
/* FNMR at threshold, linear between knots and clamped at the ends; NaN when
** the calibration has no genuine measurements. */
double ft_calibration_fnmr(const ft_calibration *cal, double threshold);
/* The threshold giving a target FMR in (0, 1] (the inverse of
** ft_calibration_fmr). FT_EINVAL for a target outside (0, 1]. */
int ft_calibration_threshold(const ft_calibration *cal, double fmr, double *threshold /* OUT */,
                             int *extrapolated);
/* Expected number of false matches when one probe is searched against a
** gallery of gallery_size faces of other people at threshold:
** gallery_size * FMR(threshold) (comparisons taken as independent). */
double ft_calibration_expected_false_matches(const ft_calibration *cal, double threshold,
                                             double gallery_size, int *extrapolated);

/* ------------------------------------------------------------------------ */
/* Evaluation: face detection (WIDER FACE protocol)                         */
/* ------------------------------------------------------------------------ */

/* The official WIDER FACE detection evaluation, as the widely used Python port
** of the official MATLAB tool (WiderFace-Evaluation, evaluation.py) computes it:
** scores normalised over all predictions, per image predictions sorted by
** score (stable), IoU >= 0.5 with the +1 pixel box convention, faces outside a
** level's list are "ignore" regions (a detection on one neither counts nor
** penalises), a PR curve over 1000 score thresholds, VOC AP with the monotone
** precision envelope, one AP per level (easy, medium, hard). src/eval/wider.c
** lists the few places (all degenerate inputs) where it must choose what the
** port leaves undefined.
**
**     ft_wider_gt *gt;
**     if (ft_wider_gt_load("wider_face_val_bbx_gt.txt", "dir/with/index/files", &gt, err,
**                          sizeof err) != FT_OK) ...;
**     // detections of image i (ft_wider_gt_image(gt, i)->file) are
**     // dets[offsets[i] .. offsets[i + 1]), raw detector scores
**     ft_wider_params wp = ft_wider_default_params();
**     ft_wider_result r;
**     ft_wider_evaluate(gt, ft_wider_gt_n_images(gt), dets, offsets, &wp, &r, err, sizeof err);
**
** Parsers reject malformed files with FT_EFORMAT and "FILE:LINE: reason" in
** err; nothing is half-loaded on failure. Threads: a ft_wider_gt is immutable
** once its index files are read and may then be shared; the functions keep no
** global state. */

enum ft_wider_level {
    FT_WIDER_EASY = 0,
    FT_WIDER_MEDIUM = 1,
    FT_WIDER_HARD = 2,
};
#define FT_WIDER_N_LEVELS      3
#define FT_WIDER_N_HEIGHT_BINS 4 /* face height < 16, 16-32, 32-64, >= 64 px */

/* One ground-truth face: a line of wider_face_val_bbx_gt.txt. */
typedef struct ft_wider_face {
    double box[4];   /* x1, y1, w, h in image pixels, as in the file */
    int attr[6];     /* blur, expression, illumination, invalid, occlusion, pose */
    unsigned levels; /* bit (1u << level) set when the face counts at that level
                        (its index is listed in that level's index file) */
} ft_wider_face;

/* One image of the ground truth. */
typedef struct ft_wider_image {
    const char *file; /* path relative to the images folder ("0--Parade/0_....jpg") */
    int n_faces;      /* 0 for an image without faces */
    const ft_wider_face *faces;
} ft_wider_image;

/* Ground truth: the boxes and, per level, which faces count. Opaque. */
typedef struct ft_wider_gt ft_wider_gt;

/* Reads wider_face_val_bbx_gt.txt: per image a file line, a face count, then
** per face "x1 y1 w h blur expression illumination invalid occlusion pose"
** (an image with 0 faces has one placeholder line of numbers after its "0",
** skipped). No face counts at any level until the index files are read.
** Errors: FT_EIO, FT_ETOOBIG, FT_ENOMEM, FT_EFORMAT (with the line number).
** On error *out is NULL. */
int ft_wider_gt_read(const char *gt_path, ft_wider_gt **out /* OUT */, char *err, size_t err_len);

/* Reads one level's index file (wider_val_{easy,medium,hard}_gt_index.txt):
** '#' comment lines, then per image "FILE<TAB>i j k ...", the 1-based indices
** of the faces that count at that level (nothing after the tab when none).
** Every ground-truth image must have exactly one line, every index must be in
** range and appear once. Replaces that level's marks; on error the ground truth
** is left as it was. Errors: FT_EINVAL (level), FT_EIO, FT_ETOOBIG, FT_ENOMEM,
** FT_EFORMAT (with the line number). */
int ft_wider_gt_read_index(ft_wider_gt *gt, enum ft_wider_level level, const char *index_path,
                           char *err, size_t err_len);

/* ft_wider_gt_read(gt_path) then the three index files
** index_dir/wider_val_{easy,medium,hard}_gt_index.txt. */
int ft_wider_gt_load(const char *gt_path, const char *index_dir, ft_wider_gt **out /* OUT */,
                     char *err, size_t err_len);
void ft_wider_gt_destroy(ft_wider_gt *gt);

int ft_wider_gt_n_images(const ft_wider_gt *gt);
/* Image i (0-based, file order); borrowed, valid until ft_wider_gt_destroy.
** NULL if i is out of range. */
const ft_wider_image *ft_wider_gt_image(const ft_wider_gt *gt, int i);
/* Index of the image whose file is path, or whose file is what follows one
** of path's '/' (so "/data/images/0--Parade/x.jpg" and "./0--Parade/x.jpg"
** find "0--Parade/x.jpg"); -1 if none. */
int ft_wider_gt_find(const ft_wider_gt *gt, const char *path);

/* One detection. */
typedef struct ft_wider_det {
    double box[4]; /* x, y, w, h in image pixels */
    double score;  /* raw detector score (normalised by the evaluation) */
} ft_wider_det;

typedef struct ft_wider_params {
    double iou_thresh;      /* match threshold, default 0.5 */
    int thresh_num;         /* score thresholds of the PR curve, default 1000 */
    double operating_score; /* raw score at which recall_by_height is measured,
                               default 0.5 (face-api's default min score) */
} ft_wider_params;

ft_wider_params ft_wider_default_params(void);

/* Recall of the hard-level faces whose box height h is in [min_px, max_px). */
typedef struct ft_wider_height_bin {
    double min_px;
    double max_px; /* 0: no upper bound */
    int faces;     /* hard-level faces in the bin */
    int matched;   /* of which found by a detection with raw score >= operating_score */
    double recall; /* matched / faces; NaN when faces == 0 */
} ft_wider_height_bin;

typedef struct ft_wider_result {
    int n_images;                             /* images evaluated */
    long long n_detections;                   /* detections given for them */
    int faces_easy, faces_medium, faces_hard; /* faces that count at each level */
    double ap_easy, ap_medium, ap_hard;       /* average precision, in [0, 1] */
    double score_min, score_max;              /* the normalisation: s' = (s - min) / (max - min) */
    double operating_score;                   /* as in the params */
    ft_wider_height_bin height[FT_WIDER_N_HEIGHT_BINS];
} ft_wider_result;

/* Evaluates detections on the first n_images images of gt (all three index
** files must have been read). Image i's detections are dets[offsets[i] ..
** offsets[i + 1]) in any order; offsets has n_images + 1 non-decreasing
** entries; dets may be NULL when there are none. Pure: no I/O, deterministic.
** recall_by_height: among hard-level faces, those matched (IoU >= iou_thresh
** with the +1 convention, greedily by score as the AP protocol matches) by a
** detection with raw score >= operating_score, binned by face height.
** Errors: FT_EINVAL (bad arguments, a non-finite box or score, an index file
** not read; message in err), FT_ENOMEM. */
int ft_wider_evaluate(const ft_wider_gt *gt, int n_images, const ft_wider_det *dets,
                      const size_t *offsets, const ft_wider_params *params,
                      ft_wider_result *out /* OUT */, char *err, size_t err_len);

/* Precision and recall at one operating point, as a product that keeps the
** detections with raw score >= score and box height >= min_height sees them.
** The faces are the hard level's (every face the protocol counts). */
typedef struct ft_wider_point {
    double score;              /* in: raw score threshold */
    double min_height;         /* in: detections and faces shorter than this (px) are
                                  left out (as min_face_px drops faces); 0: none */
    int faces;                 /* hard-level faces at least min_height tall */
    int recalled;              /* of which matched by a kept detection */
    long long detections;      /* kept detections */
    long long ignored;         /* of which on a face that does not count (not hard-level,
                                  or shorter than min_height): neither right nor wrong */
    long long false_positives; /* detections - ignored - recalled: on no face, or a
                                  second detection of one face */
    double precision;          /* recalled / (detections - ignored); NaN when 0 / 0 */
    double recall;             /* recalled / faces; NaN when faces == 0 */
} ft_wider_point;

/* Fills points[0 .. n_points) (score and min_height given, the rest written)
** for the detections of the first n_images images, matched as the AP protocol
** matches them (by raw score, each to its best-IoU face, IoU >= iou_thresh
** with the +1 convention, a second detection of a counted face is false), but
** among the kept detections only; an image without faces is skipped, as the
** protocol skips it. At min_height 0, (precision, recall) is the hard level's
** PR-curve point at that raw score. Other arguments as ft_wider_evaluate's.
** Errors: FT_EINVAL (bad arguments, a non-finite box or score, an index file
** not read; message in err), FT_ENOMEM. */
int ft_wider_operating_points(const ft_wider_gt *gt, int n_images, const ft_wider_det *dets,
                              const size_t *offsets, double iou_thresh,
                              ft_wider_point *points /* IN/OUT */, int n_points, char *err,
                              size_t err_len);

/* Detections read from a JSON Lines file in the format of the reference peer's
** faceapi-detect.mjs: per image {"file": PATH, "faces": [{"box": [x, y, w, h],
** "score": s}, ...]} (other members ignored; "ms_detect" summed when present). */
typedef struct ft_wider_preds {
    ft_wider_det *dets;    /* (offsets[n_images]) detections, image by image in gt order */
    size_t *offsets;       /* (n_images + 1) */
    unsigned char *listed; /* (n_images) 1 if the image had a line */
    int n_images;          /* the ground truth's image count */
    int n_listed;          /* ground-truth images that had a line */
    int n_unknown;         /* lines whose file is not in the ground truth (skipped) */
    int n_timed;           /* lines with "ms_detect" */
    double ms_detect_sum;
} ft_wider_preds;

/* Reads path (files matched with ft_wider_gt_find) into *out, which the caller
** frees with ft_wider_preds_fini. Images without a line get no detections. A
** line {"file": F, "error": ...} (a failed image) is an error unless a later
** line gives F's detections; two detection lines for one image are an error.
** Errors: FT_EIO, FT_ETOOBIG, FT_ENOMEM, FT_EFORMAT ("FILE:LINE: reason"). */
int ft_wider_preds_read(const char *path, const ft_wider_gt *gt, ft_wider_preds *out /* OUT */,
                        char *err, size_t err_len);
void ft_wider_preds_fini(ft_wider_preds *p);

#include "facetrail/index.h"
#include "facetrail/ingest.h"
#include "facetrail/search.h"
#include "facetrail/store.h"
#include "facetrail/video.h"

/* last, in a block of its own: it uses the store's types */
#include "facetrail/cluster.h"

#ifdef __cplusplus
}
#endif
#endif /* FACETRAIL_H */
