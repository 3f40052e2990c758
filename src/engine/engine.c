/*
** engine/engine.c: the public engine: models, worker pool, and the per-image
** pipeline detect -> landmarks -> descriptor, as face-api's
** detectAllFaces(...).withFaceLandmarks().withFaceDescriptors().
**
** DESIGN
**   The engine opens each net the first time a call needs it and keeps it.
**   Per face: the detection box goes through face-api's relative/absolute
**   round trip (forSize), is clipped and floored into the landmark crop; the
**   landmarks come back relative to the crop and are shifted by the unfloored
**   box origin (a face-api quirk kept for parity); the dlib-style rect from
**   eye and mouth centres, clipped and floored, is the descriptor crop.
**
**   Model folder: ft_engine_open with model_dir NULL (the default params)
**   takes ft_engine_default_model_dir's answer, so a program finds the
**   models from any working directory. Order: $FT_MODEL_DIR as given (an
**   explicit choice is never second-guessed); else the first folder holding
**   the SSD manifest among (a) <bin>/../share/facetrail/models/face-api/model
**   (an installed binary, PREFIX/bin), (b) <bin>/../../models/face-api/model
**   (a binary in the source tree's build/<variant>/), where <bin> is the
**   folder of /proc/self/exe, (c) FT_INSTALL_PREFIX/share/facetrail/models/
**   face-api/model (the default install, for programs linking the library
**   from elsewhere), (d) models/face-api/model under the working directory
**   (the old default, kept for programs run from the source tree). None:
**   FT_EMODEL with every place looked in.
**
** INVARIANTS  (1) faces come out in detector order; a face whose crop is empty
**                 keeps its box and has has_landmarks / has_descriptor = 0.
**             (2) eng->errmsg describes the last failure of a public call.
** THREADS     One thread at a time per engine; the pool runs inside calls only.
*/
#include "engine/engine.h"
#include "align/align.h"
#include "detect/detect.h"
#include "embed/embed.h"
#include "image/netinput.h"
#include "track/track.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHIP 150

/* Where `make install` puts things by default (see the Makefile). */
#ifndef FT_INSTALL_PREFIX
#    define FT_INSTALL_PREFIX "/usr/local"
#endif
/* YuNet's default score (cls x obj) for the default pipeline; see the
** measurement in docs/ACCURACY.md. */
#define YUNET_SCORE   0.6f
#define MODELS_SUBDIR "models/face-api/model"
/* beside face-api's folder: <model_dir>/../../ + these */
#define YUNET_FILE       "yunet/yunet_n_dynamic.onnx"
#define DLIB_SHAPE5_FILE "dlib/shape_predictor_5_face_landmarks.dat"
#define DLIB_NET_FILE    "dlib/dlib_face_recognition_resnet_model_v1.dat"
#define MODELS_PROBE     "ssd_mobilenetv1_model-weights_manifest.json"

struct ft_engine {
    char *model_dir;
    int n_threads;
    pthreadpool_t pool;
    ft__ssd *ssd;
    ft__tiny *tiny;
    ft__landmark_net *lm[2]; /* full, tiny */
    ft__recog_net *recog;
    ft__yunet *yunet;
    ft__shape5 *shape5;
    ft__dlibnet *dlibnet;
    ft__detections dets;
    float chip[CHIP * CHIP * 3];
    unsigned char chip8[CHIP * CHIP * 3]; /* dlib's chip: RGB bytes */
    char errmsg[512];
};

ft_engine_params ft_engine_default_params(void)
{
    ft_engine_params p = { NULL, 1 };
    return p;
}

/* 1 if <dir>/MODELS_PROBE can be read. */
static int has_models(const char *dir)
{
    char probe[4096];
    if ((size_t)snprintf(probe, sizeof probe, "%s/%s", dir, MODELS_PROBE) >= sizeof probe) return 0;
    return access(probe, R_OK) == 0;
}

int ft_engine_default_model_dir(char *out, size_t out_len, char *errbuf, size_t errbuf_len)
{
    if (!out || out_len == 0)
        return ft__errf(errbuf, errbuf_len, FT_EINVAL, "no buffer for the model folder");
    out[0] = 0;
    const char *env = getenv("FT_MODEL_DIR");
    if (env && *env) {
        if (strlen(env) >= out_len)
            return ft__errf(errbuf, errbuf_len, FT_EINVAL, "FT_MODEL_DIR is too long");
        memcpy(out, env, strlen(env) + 1);
        return FT_OK;
    }
    char cand[4][4096];
    int n = 0;
    char exe[3072]; /* leaves room in cand[] for the suffixes */
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(cand[n++], sizeof cand[0], "%s/../share/facetrail/%s", exe, MODELS_SUBDIR);
            snprintf(cand[n++], sizeof cand[0], "%s/../../%s", exe, MODELS_SUBDIR);
        }
    }
    snprintf(cand[n++], sizeof cand[0], "%s/share/facetrail/%s", FT_INSTALL_PREFIX, MODELS_SUBDIR);
    char cwd[3072]; /* the working directory, named in full for the message */
    if (getcwd(cwd, sizeof cwd))
        snprintf(cand[n++], sizeof cand[0], "%s/%s", cwd, MODELS_SUBDIR);
    else
        snprintf(cand[n++], sizeof cand[0], "%s", MODELS_SUBDIR);
    for (int i = 0; i < n; i++) {
        if (!has_models(cand[i])) continue;
        if (strlen(cand[i]) >= out_len)
            return ft__errf(errbuf, errbuf_len, FT_EINVAL, "model folder name too long");
        memcpy(out, cand[i], strlen(cand[i]) + 1);
        return FT_OK;
    }
    char where[2048] = "";
    for (int i = 0; i < n; i++)
        snprintf(where + strlen(where), sizeof where - strlen(where), "%s%s", i ? ", " : "",
                 cand[i]);
    return ft__errf(errbuf, errbuf_len, FT_EMODEL,
                    "no model folder found: FT_MODEL_DIR is not set, and none of %s holds %s "
                    "(fetch the models with 'make models', or name the folder)",
                    where, MODELS_PROBE);
}

float ft_detector_default_score(enum ft_detector_kind kind)
{
    return kind == FT_DETECTOR_YUNET ? YUNET_SCORE : 0.5f;
}

ft_detect_params ft_detect_faceapi_params(void)
{
    ft_detect_params p = { FT_DETECTOR_SSD,
                           416,
                           0.5f,
                           100,
                           1,
                           1,
                           0,
                           FT_ALIGN_FACEAPI,
                           0,
                           0,
                           0.25f,
                           0,
                           FT_LANDMARKS_68,
                           FT_DESCRIPTOR_FACEAPI };
    return p;
}

ft_detect_params ft_detect_default_params(void)
{
    ft_detect_params p = ft_detect_faceapi_params();
    p.detector = FT_DETECTOR_YUNET;
    p.min_score = YUNET_SCORE;
    p.align = FT_ALIGN_DLIB;
    p.landmarks = FT_LANDMARKS_DLIB5;
    p.descriptor = FT_DESCRIPTOR_DLIB;
    p.mirror = 1; /* LFW: FNMR at FMR 1e-5 43.7% against 52.0% without */
    return p;
}

/* The descriptor spaces: a name per (descriptor, landmarks, alignment). */
static const struct space {
    const char *name;
    enum ft_descriptor_kind descriptor;
    enum ft_landmark_kind landmarks;
    enum ft_align_kind align;
    int mirror;
} spaces[] = {
    { "faceapi-crop", FT_DESCRIPTOR_FACEAPI, FT_LANDMARKS_68, FT_ALIGN_FACEAPI, 0 },
    { "faceapi-chip68", FT_DESCRIPTOR_FACEAPI, FT_LANDMARKS_68, FT_ALIGN_DLIB, 0 },
    { "dlib-chip5", FT_DESCRIPTOR_DLIB, FT_LANDMARKS_DLIB5, FT_ALIGN_DLIB, 0 },
    { "dlib-chip5-mirror", FT_DESCRIPTOR_DLIB, FT_LANDMARKS_DLIB5, FT_ALIGN_DLIB, 1 },
    { "dlib-yunet5", FT_DESCRIPTOR_DLIB, FT_LANDMARKS_DETECTOR5, FT_ALIGN_DLIB, 0 },
};

/* 1 if the engine can make descriptors with p's descriptor, landmarks and
** alignment (any mirror setting), whether or not that space has a name. */
static int pipeline_supported(const ft_detect_params *p)
{
    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++)
        if (spaces[i].descriptor == p->descriptor && spaces[i].landmarks == p->landmarks &&
            spaces[i].align == p->align)
            return 1;
    return 0;
}

const char *ft_descriptor_space(const ft_detect_params *p)
{
    for (size_t i = 0; p && i < sizeof spaces / sizeof spaces[0]; i++)
        if (spaces[i].descriptor == p->descriptor && spaces[i].landmarks == p->landmarks &&
            spaces[i].align == p->align && spaces[i].mirror == (p->mirror ? 1 : 0))
            return spaces[i].name;
    return NULL;
}

void ft_pipeline_describe(const ft_detect_params *p, enum ft_metric metric, char *out,
                          size_t out_len)
{
    static const char *const det[] = { "ssd_mobilenetv1", "tiny_face_detector", "yunet_n" };
    static const char *const lm[] = { "faceapi68", "dlib5", "yunet5" };
    int d = p->detector >= 0 && p->detector <= 2 ? (int)p->detector : 0;
    int l = p->landmarks >= 0 && p->landmarks <= 2 ? (int)p->landmarks : 0;
    snprintf(out, out_len,
             "detector=%s score=%.3g landmarks=%s%s chip=%s descriptor=%s mirror=%d metric=%s",
             det[d], (double)p->min_score, lm[l], p->tiny_landmarks ? "-tiny" : "",
             p->descriptor == FT_DESCRIPTOR_DLIB ? "dlib150/0.25"
             : p->align == FT_ALIGN_DLIB         ? "dlib150/0.25-float"
                                                 : "faceapi-crop",
             p->descriptor == FT_DESCRIPTOR_DLIB ? "dlib_resnet_v1" : "faceapi_recognition_uint8",
             p->mirror ? 1 : 0, ft_metric_name(metric));
}

int ft_detect_params_for_space(const char *space, ft_detect_params *p)
{
    for (size_t i = 0; space && i < sizeof spaces / sizeof spaces[0]; i++)
        if (!strcmp(spaces[i].name, space)) {
            p->descriptor = spaces[i].descriptor;
            p->landmarks = spaces[i].landmarks;
            p->align = spaces[i].align;
            p->mirror = spaces[i].mirror;
            /* the detector the space's descriptors were made with: its boxes
            ** are what the landmark stage was fed */
            p->detector =
                p->descriptor == FT_DESCRIPTOR_FACEAPI ? FT_DETECTOR_SSD : FT_DETECTOR_YUNET;
            p->min_score = ft_detector_default_score(p->detector);
            return FT_OK;
        }
    return FT_EINVAL;
}

int ft_engine_open(const ft_engine_params *params, ft_engine **out, char *errbuf, size_t errbuf_len)
{
    *out = NULL;
    if (!params) return ft__errf(errbuf, errbuf_len, FT_EINVAL, "no engine parameters");
    const char *model_dir = params->model_dir;
    char found[4096];
    if (!model_dir) {
        int rc = ft_engine_default_model_dir(found, sizeof found, errbuf, errbuf_len);
        if (rc != FT_OK) return rc;
        model_dir = found;
    }
    if (!*model_dir) return ft__errf(errbuf, errbuf_len, FT_EINVAL, "empty model folder name");
    if (params->n_threads < 1 || params->n_threads > 256)
        return ft__errf(errbuf, errbuf_len, FT_EINVAL, "thread count %d is not in 1..256",
                        params->n_threads);
    if (ft__nn_init() != FT_OK)
        return ft__errf(errbuf, errbuf_len, FT_EBACKEND, "XNNPACK failed to initialise");
    ft_engine *eng = ft__calloc(1, sizeof *eng);
    if (!eng || !(eng->model_dir = ft__strdup(model_dir))) {
        ft__free(eng);
        return ft__errf(errbuf, errbuf_len, FT_ENOMEM, "out of memory");
    }
    eng->n_threads = params->n_threads;
    if (eng->n_threads > 1) {
        eng->pool = pthreadpool_create((size_t)eng->n_threads);
        if (!eng->pool) {
            ft_engine_close(eng);
            return ft__errf(errbuf, errbuf_len, FT_ENOMEM, "cannot start %d threads",
                            params->n_threads);
        }
    }
    *out = eng;
    return FT_OK;
}

void ft_engine_close(ft_engine *eng)
{
    if (!eng) return;
    ft__ssd_close(eng->ssd);
    ft__tiny_close(eng->tiny);
    ft__landmark_close(eng->lm[0]);
    ft__landmark_close(eng->lm[1]);
    ft__recog_close(eng->recog);
    ft__yunet_close(eng->yunet);
    ft__shape5_free(eng->shape5);
    ft__dlibnet_close(eng->dlibnet);
    ft__detections_free(&eng->dets);
    if (eng->pool) pthreadpool_destroy(eng->pool);
    ft__free(eng->model_dir);
    ft__free(eng);
}

const char *ft_engine_errmsg(const ft_engine *eng)
{
    return eng ? eng->errmsg : "no engine";
}

static int fail(ft_engine *eng, int rc, const char *what)
{
    if (rc == FT_ENOMEM)
        snprintf(eng->errmsg, sizeof eng->errmsg, "%s: out of memory", what);
    else if (rc == FT_EBACKEND)
        snprintf(eng->errmsg, sizeof eng->errmsg, "%s: neural-network backend failure", what);
    else if (rc == FT_EINVAL)
        snprintf(eng->errmsg, sizeof eng->errmsg, "%s: invalid input", what);
    return rc;
}

static int check_params(ft_engine *eng, const ft_detect_params *p)
{
    if (!p) return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL, "no detect parameters");
    if (p->detector != FT_DETECTOR_SSD && p->detector != FT_DETECTOR_TINY &&
        p->detector != FT_DETECTOR_YUNET)
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL, "unknown detector %d",
                        (int)p->detector);
    if (p->landmarks != FT_LANDMARKS_68 && p->landmarks != FT_LANDMARKS_DLIB5 &&
        p->landmarks != FT_LANDMARKS_DETECTOR5)
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL, "unknown landmark kind %d",
                        (int)p->landmarks);
    if (p->with_landmarks && p->landmarks == FT_LANDMARKS_DETECTOR5 &&
        p->detector != FT_DETECTOR_YUNET)
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL,
                        "the detector's own landmarks need the YuNet detector");
    if (p->descriptor != FT_DESCRIPTOR_FACEAPI && p->descriptor != FT_DESCRIPTOR_DLIB)
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL, "unknown descriptor kind %d",
                        (int)p->descriptor);
    if (p->with_descriptor && !pipeline_supported(p))
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL,
                        "%s descriptors are not made from %s landmarks with %s alignment",
                        p->descriptor == FT_DESCRIPTOR_DLIB ? "dlib" : "face-api",
                        p->landmarks == FT_LANDMARKS_68      ? "68-point"
                        : p->landmarks == FT_LANDMARKS_DLIB5 ? "dlib 5-point"
                                                             : "the detector's",
                        p->align == FT_ALIGN_DLIB ? "chip" : "face-api crop");
    if (p->detector == FT_DETECTOR_TINY &&
        (p->input_size < 32 || p->input_size > 4096 || p->input_size % 32 != 0))
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL,
                        "input size %d is not a multiple of 32 in 32..4096", p->input_size);
    if (!(p->min_score >= 0.0f && p->min_score < 1.0f))
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL,
                        "minimum score %g is not in [0, 1)", (double)p->min_score);
    if (p->align != FT_ALIGN_FACEAPI && p->align != FT_ALIGN_DLIB)
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL, "unknown alignment %d",
                        (int)p->align);
    if (p->tile_px < 0 || (p->tile_px > 0 && p->tile_px < 32) || p->tile_px > 65536)
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL,
                        "tile size %d is not 0 (off) or in 32..65536", p->tile_px);
    if (!(p->tile_overlap >= 0.0f && p->tile_overlap <= 0.75f))
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL,
                        "tile overlap %g is not in [0, 0.75]", (double)p->tile_overlap);
    if (p->min_face_px < 0)
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL, "negative minimum face size");
    if (p->with_descriptor && !p->with_landmarks)
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL,
                        "descriptors need landmarks (the crop comes from them)");
    return FT_OK;
}

/* The path of a model file kept beside face-api's: the model folder is
** <root>/face-api/model, and the others are <root>/yunet/..., <root>/dlib/...
** (the source tree's models/ and the installed share/facetrail/models/). */
static int sibling_model(ft_engine *eng, const char *rel, char *path, size_t len)
{
    if ((size_t)snprintf(path, len, "%s/../../%s", eng->model_dir, rel) >= len)
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL, "model path too long");
    return FT_OK;
}

/* A model file that cannot be read is a model problem for the caller, as a
** damaged one is: FT_EIO from a loader becomes FT_EMODEL (the message
** already names the file). */
static int model_status(int rc)
{
    return rc == FT_EIO ? FT_EMODEL : rc;
}

/* Opens the descriptor net of kind d if it is not open yet. */
static int ensure_descriptor_net(ft_engine *eng, enum ft_descriptor_kind d)
{
    char path[4096];
    int rc = FT_OK;
    if (d == FT_DESCRIPTOR_FACEAPI && !eng->recog)
        rc = ft__recog_open(eng->model_dir, &eng->recog, eng->errmsg, sizeof eng->errmsg);
    if (d == FT_DESCRIPTOR_DLIB && !eng->dlibnet &&
        (rc = sibling_model(eng, DLIB_NET_FILE, path, sizeof path)) == FT_OK)
        rc = model_status(ft__dlibnet_open(path, &eng->dlibnet, eng->errmsg, sizeof eng->errmsg));
    return rc;
}

/* Opens the nets p needs that are not open yet. */
static int ensure_nets(ft_engine *eng, const ft_detect_params *p)
{
    char *e = eng->errmsg;
    size_t el = sizeof eng->errmsg;
    char path[4096];
    int rc = FT_OK;
    if (p->detector == FT_DETECTOR_SSD && !eng->ssd)
        rc = ft__ssd_open(eng->model_dir, &eng->ssd, e, el);
    if (rc == FT_OK && p->detector == FT_DETECTOR_TINY && !eng->tiny)
        rc = ft__tiny_open(eng->model_dir, &eng->tiny, e, el);
    if (rc == FT_OK && p->detector == FT_DETECTOR_YUNET && !eng->yunet &&
        (rc = sibling_model(eng, YUNET_FILE, path, sizeof path)) == FT_OK)
        rc = ft__yunet_open(path, &eng->yunet, e, el);
    int t = p->tiny_landmarks ? 1 : 0;
    if (rc == FT_OK && p->with_landmarks && p->landmarks == FT_LANDMARKS_68 && !eng->lm[t])
        rc = ft__landmark_open(eng->model_dir, t, &eng->lm[t], e, el);
    if (rc == FT_OK && p->with_landmarks && p->landmarks == FT_LANDMARKS_DLIB5 && !eng->shape5 &&
        (rc = sibling_model(eng, DLIB_SHAPE5_FILE, path, sizeof path)) == FT_OK)
        rc = model_status(ft__shape5_open(path, &eng->shape5, e, el));
    if (rc == FT_OK && p->with_descriptor) rc = ensure_descriptor_net(eng, p->descriptor);
    return rc;
}

int ft_engine_preload(ft_engine *eng, const ft_detect_params *params)
{
    eng->errmsg[0] = 0;
    int rc = check_params(eng, params);
    return rc == FT_OK ? ensure_nets(eng, params) : rc;
}

static int check_image(ft_engine *eng, const ft_image *img)
{
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL, "empty image");
    return FT_OK;
}

/* The image-space bounding box of a dlib chip (unclipped, then clipped). */
static void chip_bounds(const double m[6], const ft_image *img, int rect[4], int crop[4])
{
    double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    for (int k = 0; k < 4; k++) {
        double cx = (k & 1) ? CHIP : 0, cy = (k & 2) ? CHIP : 0;
        double u = m[0] * cx + m[1] * cy + m[2], v = m[3] * cx + m[4] * cy + m[5];
        x0 = fmin(x0, u), x1 = fmax(x1, u), y0 = fmin(y0, v), y1 = fmax(y1, v);
    }
    rect[0] = (int)floor(x0), rect[1] = (int)floor(y0);
    rect[2] = (int)ceil(x1) - rect[0], rect[3] = (int)ceil(y1) - rect[1];
    if (!ft__clip_box(rect[0], rect[1], rect[2], rect[3], img->width, img->height, crop))
        crop[0] = crop[1] = crop[2] = crop[3] = 0;
}

/* Descriptor of eng->chip; with mirror, the mean of the chip's and its
** mirror image's descriptors (eng->chip is left mirrored). */
static int describe_chip(ft_engine *eng, const ft__nn_ctx *ctx, int mirror, float *out)
{
    int rc = ft__recog_run_chip(ctx, eng->recog, eng->chip, out);
    if (rc != FT_OK || !mirror) return rc;
    for (int y = 0; y < CHIP; y++)
        for (int x = 0; x < CHIP / 2; x++)
            for (int c = 0; c < 3; c++) {
                float *a = &eng->chip[((size_t)y * CHIP + x) * 3 + c];
                float *b = &eng->chip[((size_t)y * CHIP + (CHIP - 1 - x)) * 3 + c];
                float t = *a;
                *a = *b, *b = t;
            }
    float flipped[FT_DESCRIPTOR_DIM];
    rc = ft__recog_run_chip(ctx, eng->recog, eng->chip, flipped);
    if (rc != FT_OK) return rc;
    for (int i = 0; i < FT_DESCRIPTOR_DIM; i++)
        out[i] = 0.5f * (out[i] + flipped[i]);
    return FT_OK;
}

/* dlib's descriptor of eng->chip8; with mirror, the mean with its mirror
** image's (eng->chip8 is left mirrored). */
static int describe_chip8(ft_engine *eng, const ft__nn_ctx *ctx, int mirror, float *out)
{
    int rc = ft__dlibnet_run(ctx, eng->dlibnet, eng->chip8, out);
    if (rc != FT_OK || !mirror) return rc;
    for (int y = 0; y < CHIP; y++)
        for (int x = 0; x < CHIP / 2; x++)
            for (int c = 0; c < 3; c++) {
                unsigned char *a = &eng->chip8[((size_t)y * CHIP + x) * 3 + c];
                unsigned char *b = &eng->chip8[((size_t)y * CHIP + (CHIP - 1 - x)) * 3 + c];
                unsigned char t = *a;
                *a = *b, *b = t;
            }
    float flipped[FT_DESCRIPTOR_DIM];
    rc = ft__dlibnet_run(ctx, eng->dlibnet, eng->chip8, flipped);
    if (rc != FT_OK) return rc;
    for (int i = 0; i < FT_DESCRIPTOR_DIM; i++)
        out[i] = 0.5f * (out[i] + flipped[i]);
    return FT_OK;
}

/* The chip -> image map of a dlib chip (for its bounds): the chip's corners
** go to the corners of cd->rect turned by cd->angle about its centre. */
static void chip_details_map(const ft__chip_details *cd, double m[6])
{
    double cx = (cd->rect[0] + cd->rect[2]) / 2, cy = (cd->rect[1] + cd->rect[3]) / 2;
    double sx = (cd->rect[2] - cd->rect[0]) / CHIP, sy = (cd->rect[3] - cd->rect[1]) / CHIP;
    double c = cos(cd->angle), s = sin(cd->angle);
    m[0] = c * sx, m[1] = -s * sy, m[3] = s * sx, m[4] = c * sy;
    m[2] = cx - (m[0] + m[1]) * CHIP / 2, m[5] = cy - (m[3] + m[4]) * CHIP / 2;
}

/* dlib's descriptor of face f: dlib's chip from its 5 points (dlib's
** predictor, or YuNet's through the template in align/chip_points.c). */
static int describe_dlib(ft_engine *eng, const ft__nn_ctx *ctx, const ft_image *img,
                         const ft_detect_params *p, ft_face *f)
{
    ft__chip_details cd;
    if (f->landmark_kind == FT_LANDMARKS_DLIB5) {
        long pts[5][2];
        for (int i = 0; i < 5; i++)
            pts[i][0] = lround(f->landmarks[i][0]), pts[i][1] = lround(f->landmarks[i][1]);
        ft__dlib_face_chip_details(pts, CHIP, 0.25, &cd);
    } else {
        ft__yunet5_chip_details((const double(*)[2])f->landmarks, CHIP, &cd);
    }
    int rc = ft__dlib_extract_chip(img, &cd, eng->chip8);
    if (rc != FT_OK) return fail(eng, rc, "descriptor chip");
    double m[6];
    chip_details_map(&cd, m);
    chip_bounds(m, img, f->align_rect, f->descriptor_crop);
    rc = describe_chip8(eng, ctx, p->mirror, f->descriptor);
    if (rc != FT_OK) return fail(eng, rc, "descriptor");
    f->has_descriptor = 1;
    return FT_OK;
}

/* Descriptor of face f (landmarks set) as p says. */
static int describe_face(ft_engine *eng, const ft__nn_ctx *ctx, const ft_image *img,
                         const ft_detect_params *p, ft_face *f)
{
    int rc;
    f->has_descriptor = 0;
    if (p->descriptor == FT_DESCRIPTOR_DLIB) return describe_dlib(eng, ctx, img, p, f);
    if (p->align == FT_ALIGN_DLIB) {
        double m[6];
        ft__chip_transform((const double(*)[2])f->landmarks, CHIP, 0.25, m);
        ft__warp_chip(img, m, CHIP, eng->chip);
        chip_bounds(m, img, f->align_rect, f->descriptor_crop);
    } else {
        double rect[4];
        ft__align_dlib((const double(*)[2])f->landmarks, f->landmark_crop[2], f->landmark_crop[3],
                       rect);
        for (int k = 0; k < 4; k++)
            f->align_rect[k] = (int)rect[k];
        if (!ft__clip_box(rect[0], rect[1], rect[2], rect[3], img->width, img->height,
                          f->descriptor_crop))
            return FT_OK;
        rc = ft__net_input(img, f->descriptor_crop[0], f->descriptor_crop[1], f->descriptor_crop[2],
                           f->descriptor_crop[3], FT__SQUARE_CENTRED, CHIP, eng->chip);
        if (rc != FT_OK) return fail(eng, rc, "descriptor");
    }
    rc = describe_chip(eng, ctx, p->mirror, f->descriptor);
    if (rc != FT_OK) return fail(eng, rc, "descriptor");
    f->has_descriptor = 1;
    return FT_OK;
}

/* face-api's 68 landmarks of face f (box already set). */
static int landmarks68(ft_engine *eng, const ft__nn_ctx *ctx, const ft_image *img,
                       const ft_detect_params *p, ft_face *f)
{
    double W = img->width, H = img->height;
    /* forSize(W, H): box -> relative -> box */
    double bx = (f->box[0] * (1 / W)) * W, by = (f->box[1] * (1 / H)) * H;
    double bw = (f->box[2] * (1 / W)) * W, bh = (f->box[3] * (1 / H)) * H;
    if (!ft__clip_box(bx, by, bw, bh, img->width, img->height, f->landmark_crop)) return FT_OK;
    double rel[68][2];
    int rc = ft__landmark_run(ctx, eng->lm[p->tiny_landmarks ? 1 : 0], img, f->landmark_crop, rel);
    if (rc != FT_OK) return fail(eng, rc, "landmarks");
    int cw = f->landmark_crop[2], ch = f->landmark_crop[3];
    for (int i = 0; i < 68; i++) {
        f->landmarks[i][0] = (rel[i][0] / cw) * cw + f->box[0];
        f->landmarks[i][1] = (rel[i][1] / ch) * ch + f->box[1];
    }
    f->has_landmarks = 1;
    f->n_landmarks = 68;
    f->landmark_kind = FT_LANDMARKS_68;
    return FT_OK;
}

/* dlib's 5 landmarks of face f from its box, as dlib's shape predictor
** gives them (rounded to whole pixels, as its full_object_detection). */
static int landmarks_dlib5(ft_engine *eng, const ft_image *img, ft_face *f)
{
    if (!ft__clip_box(f->box[0], f->box[1], f->box[2], f->box[3], img->width, img->height,
                      f->landmark_crop))
        return FT_OK;
    /* The detector's box is not the box the predictor was trained on (YuNet's
    ** is about 10% narrower and sits higher). So: a first pass on the
    ** detector's box, then the square that puts the predictor's mean shape
    ** best onto those points (least squares, scale and shift), and a second,
    ** final pass on that square. LFW (folds 1-5, cosine): 98.20% with one
    ** pass, 98.53% with two. */
    double bx = f->box[0], by = f->box[1], bw = f->box[2], bh = f->box[3];
    ft__shape5_out o;
    for (int pass = 0; pass < 2; pass++) {
        ft__rect r = { lround(bx), lround(by), lround(bx + bw) - 1, lround(by + bh) - 1 };
        int rc = ft__shape5_run(eng->shape5, img, r, &o);
        if (rc != FT_OK) return fail(eng, rc, "landmarks");
        /* the rectangle the points came from, as x, y, w, h (dlib's is inclusive) */
        f->landmark_crop[0] = (int)r.left, f->landmark_crop[1] = (int)r.top;
        f->landmark_crop[2] = (int)(r.right - r.left + 1);
        f->landmark_crop[3] = (int)(r.bottom - r.top + 1);
        if (pass == 1) break;
        double mean[5][2], mx = 0, my = 0, lx = 0, ly = 0, num = 0, den = 0;
        ft__shape5_mean(eng->shape5, mean);
        for (int i = 0; i < 5; i++)
            mx += mean[i][0] / 5, my += mean[i][1] / 5, lx += o.xy[i][0] / 5, ly += o.xy[i][1] / 5;
        for (int i = 0; i < 5; i++) {
            double ax = mean[i][0] - mx, ay = mean[i][1] - my;
            num += ax * (o.xy[i][0] - lx) + ay * (o.xy[i][1] - ly);
            den += ax * ax + ay * ay;
        }
        double side = num / den;
        if (!(side > 1)) break; /* degenerate: keep the first pass */
        bx = lx - side * mx, by = ly - side * my, bw = bh = side;
    }
    for (int i = 0; i < 5; i++)
        f->landmarks[i][0] = (double)o.pt[i][0], f->landmarks[i][1] = (double)o.pt[i][1];
    f->has_landmarks = 1;
    f->n_landmarks = 5;
    f->landmark_kind = FT_LANDMARKS_DLIB5;
    return FT_OK;
}

/* Landmarks and descriptor of one face (box already set). */
static int analyse_face(ft_engine *eng, const ft__nn_ctx *ctx, const ft_image *img,
                        const ft_detect_params *p, ft_face *f)
{
    int rc = FT_OK;
    if (p->landmarks == FT_LANDMARKS_68) {
        rc = landmarks68(eng, ctx, img, p, f);
    } else if (p->landmarks == FT_LANDMARKS_DLIB5) {
        rc = landmarks_dlib5(eng, img, f);
    } else if (f->has_points5 && ft__clip_box(f->box[0], f->box[1], f->box[2], f->box[3],
                                              img->width, img->height, f->landmark_crop)) {
        memcpy(f->landmarks, f->points5, sizeof f->points5);
        f->has_landmarks = 1;
        f->n_landmarks = 5;
        f->landmark_kind = FT_LANDMARKS_DETECTOR5;
    }
    if (rc != FT_OK || !f->has_landmarks) return rc;
    return p->with_descriptor ? describe_face(eng, ctx, img, p, f) : FT_OK;
}

int ft_engine_describe(ft_engine *eng, const ft_image *img, const ft_detect_params *p,
                       ft_face *face)
{
    eng->errmsg[0] = 0;
    ft_detect_params q = *p;
    q.with_landmarks = q.with_descriptor = 1;
    int rc = check_params(eng, &q);
    if (rc == FT_OK) rc = check_image(eng, img);
    if (rc == FT_OK && !face->has_landmarks && q.landmarks == FT_LANDMARKS_DLIB5) {
        /* a box alone: dlib's predictor gives the points */
        if (!eng->shape5) {
            char path[4096];
            rc = sibling_model(eng, DLIB_SHAPE5_FILE, path, sizeof path);
            if (rc == FT_OK)
                rc = model_status(
                    ft__shape5_open(path, &eng->shape5, eng->errmsg, sizeof eng->errmsg));
        }
        if (rc == FT_OK) rc = landmarks_dlib5(eng, img, face);
    }
    if (rc == FT_OK && !face->has_landmarks)
        rc = ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL, "the face has no landmarks");
    if (rc == FT_OK && face->landmark_kind != q.landmarks)
        rc = ft__errf(eng->errmsg, sizeof eng->errmsg, FT_EINVAL,
                      "the face's landmarks are not the kind these parameters describe from");
    if (rc == FT_OK) rc = ensure_descriptor_net(eng, q.descriptor);
    if (rc != FT_OK) return rc;
    ft__nn_ctx ctx = { eng->pool, 0, NULL };
    return describe_face(eng, &ctx, img, &q, face);
}

/* Runs the chosen detector on the whole of img, appending to out. */
static int run_detector(ft_engine *eng, const ft__nn_ctx *ctx, const ft_image *img,
                        const ft_detect_params *p, ft__detections *out)
{
    if (p->detector == FT_DETECTOR_SSD)
        return ft__ssd_detect(ctx, eng->ssd, img, p->min_score,
                              p->max_results > 0 ? p->max_results : 100, out);
    if (p->detector == FT_DETECTOR_YUNET) {
        int rc = ft__yunet_detect(ctx, eng->yunet, img, p->min_score, FT__YUNET_NMS_IOU,
                                  FT__YUNET_TOP_K, out);
        if (rc != FT_OK && *ft__yunet_errmsg(eng->yunet))
            snprintf(eng->errmsg, sizeof eng->errmsg, "%s", ft__yunet_errmsg(eng->yunet));
        return rc;
    }
    return ft__tiny_detect(ctx, eng->tiny, img, p->input_size, p->min_score, out);
}

/* Small-face mode: the detector on overlapping tiles, merged with the
** whole-image detections (already in eng->dets). A tile detection touching an
** inner tile border is cut off by it: the overlap shows that face whole in a
** neighbouring tile, so the cut one is dropped. The union is reduced by NMS
** (IoU 0.5), best score first. */
static int run_tiles(ft_engine *eng, const ft__nn_ctx *ctx, const ft_image *img,
                     const ft_detect_params *p, const ft__detect_plan *plan)
{
    int T = p->tile_px;
    if (T >= img->width && T >= img->height) return FT_OK; /* one tile = the image */
    int step = (int)(T * (1.0f - p->tile_overlap));
    if (step < 16) step = 16;
    ft_image *tile = NULL;
    int rc = ft_image_create(T, T, &tile);
    if (rc != FT_OK) return rc;
    ft__detections td = { 0 };
    for (int y0 = 0; rc == FT_OK; y0 += step) {
        if (y0 + T > img->height) y0 = img->height > T ? img->height - T : 0;
        for (int x0 = 0; rc == FT_OK; x0 += step) {
            if (x0 + T > img->width) x0 = img->width > T ? img->width - T : 0;
            int tw = T < img->width ? T : img->width, th = T < img->height ? T : img->height;
            if (plan && plan->want && !plan->want(x0, y0, tw, th, plan->ctx)) {
                if (x0 + tw >= img->width) break;
                continue;
            }
            tile->width = tw, tile->height = th;
            for (int y = 0; y < th; y++)
                memcpy(tile->rgb + (size_t)y * tw * 3,
                       img->rgb + ((size_t)(y0 + y) * img->width + x0) * 3, (size_t)tw * 3);
            td.n = 0;
            rc = run_detector(eng, ctx, tile, p, &td);
            for (int i = 0; rc == FT_OK && i < td.n; i++) {
                ft__detection d = td.v[i];
                const double edge = 2.0;
                if ((x0 > 0 && d.x < edge) || (y0 > 0 && d.y < edge) ||
                    (x0 + tw < img->width && d.x + d.w > tw - edge) ||
                    (y0 + th < img->height && d.y + d.h > th - edge))
                    continue;
                d.x += x0, d.y += y0;
                rc = ft__detections_push(&eng->dets, d);
            }
            if (x0 + tw >= img->width) break;
        }
        if (y0 + T >= img->height) break;
    }
    tile->width = tile->height = T;
    ft_image_destroy(tile);
    ft__detections_free(&td);
    if (rc != FT_OK) return rc;
    /* merge: NMS over the union, best score first */
    int n = eng->dets.n;
    double(*boxes)[4] = ft__malloc((size_t)(n ? n : 1) * sizeof *boxes);
    double *scores = ft__malloc((size_t)(n ? n : 1) * sizeof *scores);
    int *keep = ft__malloc((size_t)(n ? n : 1) * sizeof *keep);
    ft__detection *copy = ft__malloc((size_t)(n ? n : 1) * sizeof *copy);
    if (!boxes || !scores || !keep || !copy) {
        rc = FT_ENOMEM;
    } else {
        for (int i = 0; i < n; i++) {
            const ft__detection *d = &eng->dets.v[i];
            boxes[i][0] = d->x, boxes[i][1] = d->y, boxes[i][2] = d->w, boxes[i][3] = d->h;
            scores[i] = d->score;
            copy[i] = *d;
        }
        int k = ft__nms_boxes((const double(*)[4])boxes, scores, n, 0.5, keep);
        if (k < 0) rc = FT_ENOMEM;
        for (int i = 0; i < k; i++)
            eng->dets.v[i] = copy[keep[i]];
        if (k >= 0) eng->dets.n = k;
    }
    ft__free(boxes);
    ft__free(scores);
    ft__free(keep);
    ft__free(copy);
    return rc;
}

int ft_engine_detect(ft_engine *eng, const ft_image *img, const ft_detect_params *p, ft_face *faces,
                     int cap, int *n_out)
{
    return ft__engine_detect_plan(eng, img, p, NULL, faces, cap, n_out);
}

int ft__engine_detect_plan(ft_engine *eng, const ft_image *img, const ft_detect_params *p,
                           const ft__detect_plan *plan, ft_face *faces, int cap, int *n_out)
{
    *n_out = 0;
    eng->errmsg[0] = 0;
    int rc = check_params(eng, p);
    if (rc == FT_OK) rc = check_image(eng, img);
    if (rc == FT_OK) rc = ensure_nets(eng, p);
    if (rc != FT_OK) return rc;
    ft__nn_ctx ctx = { eng->pool, 0, NULL };
    eng->dets.n = 0;
    if (!plan || plan->full) rc = run_detector(eng, &ctx, img, p, &eng->dets);
    if (rc == FT_OK && p->tile_px > 0) rc = run_tiles(eng, &ctx, img, p, plan);
    if (rc != FT_OK) return fail(eng, rc, "detector");
    if (p->min_face_px > 0) {
        int m = 0;
        for (int i = 0; i < eng->dets.n; i++)
            if (eng->dets.v[i].h >= p->min_face_px) eng->dets.v[m++] = eng->dets.v[i];
        eng->dets.n = m;
    }
    *n_out = eng->dets.n;
    int n = eng->dets.n < cap ? eng->dets.n : cap;
    for (int i = 0; i < n; i++) {
        ft_face *f = &faces[i];
        memset(f, 0, sizeof *f);
        const ft__detection *d = &eng->dets.v[i];
        f->box[0] = d->x, f->box[1] = d->y, f->box[2] = d->w, f->box[3] = d->h;
        f->score = d->score;
        if (d->n_lm == 5) {
            f->has_points5 = 1;
            memcpy(f->points5, d->lm, sizeof f->points5);
        }
        if (p->with_landmarks && (rc = analyse_face(eng, &ctx, img, p, f)) != FT_OK) return rc;
    }
    return FT_OK;
}

int ft_engine_embed_chip(ft_engine *eng, const ft_image *chip, float descriptor[FT_DESCRIPTOR_DIM])
{
    eng->errmsg[0] = 0;
    int rc = check_image(eng, chip);
    if (rc != FT_OK) return rc;
    if (!eng->recog && (rc = ft__recog_open(eng->model_dir, &eng->recog, eng->errmsg,
                                            sizeof eng->errmsg)) != FT_OK)
        return rc;
    rc = ft__net_input(chip, 0, 0, chip->width, chip->height, FT__SQUARE_CENTRED, CHIP, eng->chip);
    ft__nn_ctx ctx = { eng->pool, 0, NULL };
    if (rc == FT_OK) rc = ft__recog_run_chip(&ctx, eng->recog, eng->chip, descriptor);
    return rc == FT_OK ? rc : fail(eng, rc, "descriptor");
}

int ft_face_chip(const ft_image *img, const int crop[4], float chip[CHIP * CHIP * 3])
{
    return ft__net_input(img, crop[0], crop[1], crop[2], crop[3], FT__SQUARE_CENTRED, CHIP, chip);
}

float ft_face_quality(const ft_image *img, const ft_face *face)
{
    if (!img || !face || !face->has_landmarks) return 0.0f;
    return ft__shot_quality(img, face);
}
