/*
** search/query.c: from a query photo to the face and descriptor a search
** uses. Every front end (CLI, server, benchmarks) calls ft_query_face, so
** the choice of face and the retries are made in one place.
**
** DESIGN
**   A parent's photo is not a camera frame: it may be a tight crop of the
**   face (the detector's anchors never saw a face filling the whole picture),
**   a small face in a large photo, or a face the default detector misses. The
**   attempts, in order, stop at the first that finds a face:
**
**     step  image                          detector
**     ----  -----------------------------  --------------------------------
**      1    the photo                      the profile's (params->detector)
**      2    the photo, 512-px tiles        the same (only photos > 1024 px)
**      3    the photo padded on all sides  the same
**      4    the photo                      the other detector
**      5    the photo padded               the other detector
**
**   Padding puts a mid-grey border of half the photo's larger side around
**   it. On face-api.js's 40 tight 150x150 portraits this finds 38 (6 on the
**   photo itself); a border that repeats the edge pixels finds as many but
**   smears the face's outline outwards, and the detector's box then grows to
**   twice the face (tests/unit/test_query.c).
**   The face found on a padded photo is described on the padded photo (so a
**   chip that reaches past the original border still sees real pixels) and
**   its box and landmarks are moved back into the photo's coordinates.
**
**   The face used is the N-th largest by box area (N = params->face, 1 =
**   largest). The quality verdict (too small, too poor) is a warning, never
**   a refusal: the caller shows it beside the results.
**
** INVARIANTS  (1) on FT_OK the face has landmarks and a descriptor made with
**                 params->detect's align/mirror settings (the event's profile).
**             (2) box and landmarks are in the photo's own pixel coordinates.
** THREADS     As the engine: one thread at a time per engine.
*/
#include "core/core.h"
#include "facetrail/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TILE_ABOVE_PX   1024 /* photos larger than this also get tiled */
#define TILE_PX         512
#define MAX_QUERY_FACES 256
#define PAD_GREY        128

ft_query_params ft_query_default_params(void)
{
    ft_query_params p;
    memset(&p, 0, sizeof p);
    p.detect = ft_detect_default_params();
    p.face = 1;
    p.retry = 1;
    p.min_reliable_px = 60;
    p.min_reliable_quality = 0.25f;
    return p;
}

int ft_query_params_for_store(ft_store *st, ft_query_params *qp, const ft_calibration **cal,
                              char *space, size_t space_len, char *err, size_t errlen)
{
    char have[64];
    int rc = ft_store_descriptor_space(st, have, sizeof have);
    if (rc != FT_OK) return ft__errf(err, errlen, rc, "%s", ft_store_errmsg(st));
    if (!*have) {
        ft_detect_params d = ft_detect_default_params();
        snprintf(have, sizeof have, "%s", ft_descriptor_space(&d));
    }
    const ft_calibration *c = ft_calibration_for_space(have);
    if (cal) *cal = c;
    if (!c || ft_detect_params_for_space(have, &qp->detect) != FT_OK)
        return ft__errf(err, errlen, FT_EINVAL,
                        "this event's descriptors are of kind '%s', which this version of "
                        "facetrail cannot search",
                        have);
    if (space && space_len) snprintf(space, space_len, "%s", have);
    return FT_OK;
}

const char *ft_query_how_name(int how)
{
    switch (how) {
    case FT_QUERY_DIRECT: return "found directly";
    case FT_QUERY_TILED: return "found in tiles of the photo";
    case FT_QUERY_PADDED: return "found after padding the photo (a tight crop)";
    case FT_QUERY_OTHER_DETECTOR: return "found by the second detector";
    case FT_QUERY_OTHER_PADDED: return "found by the second detector after padding the photo";
    default: return "unknown";
    }
}

/* A copy of img with pad pixels of mid-grey added on every side. */
static int pad_image(const ft_image *img, int pad, ft_image **out)
{
    int w = img->width + 2 * pad, h = img->height + 2 * pad;
    int rc = ft_image_create(w, h, out);
    if (rc != FT_OK) return rc;
    uint8_t *dst = (*out)->rgb;
    memset(dst, PAD_GREY, (size_t)w * h * 3);
    for (int y = 0; y < img->height; y++)
        memcpy(dst + ((size_t)(y + pad) * w + pad) * 3, img->rgb + (size_t)y * img->width * 3,
               (size_t)img->width * 3);
    return FT_OK;
}

static int cmp_area_desc(const void *a, const void *b)
{
    const ft_face *x = a, *y = b;
    double ax = x->box[2] * x->box[3], ay = y->box[2] * y->box[3];
    return ax < ay ? 1 : ax > ay ? -1 : 0;
}

/* Moves a face found on an image padded by pad back into the photo. */
static void unpad_face(ft_face *f, int pad)
{
    f->box[0] -= pad, f->box[1] -= pad;
    for (int i = 0; i < FT_N_LANDMARKS; i++)
        f->landmarks[i][0] -= pad, f->landmarks[i][1] -= pad;
    for (int i = 0; i < 5; i++)
        f->points5[i][0] -= pad, f->points5[i][1] -= pad;
    f->landmark_crop[0] -= pad, f->landmark_crop[1] -= pad;
    f->align_rect[0] -= pad, f->align_rect[1] -= pad;
    f->descriptor_crop[0] -= pad, f->descriptor_crop[1] -= pad;
}

int ft_query_face(ft_engine *eng, const ft_image *img, const ft_query_params *params, ft_query *out,
                  char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!eng || !img || !params || params->face < 1)
        return ft__errf(err, errlen, FT_EINVAL, "bad query parameters");
    out->width = img->width, out->height = img->height;
    ft_face *faces = ft__malloc(MAX_QUERY_FACES * sizeof *faces);
    if (!faces) return ft__errf(err, errlen, FT_ENOMEM, "out of memory");
    ft_image *padded = NULL;
    int pad = (img->width > img->height ? img->width : img->height) / 2;
    enum ft_detector_kind other =
        params->detect.detector == FT_DETECTOR_SSD ? FT_DETECTOR_YUNET : FT_DETECTOR_SSD;
    struct attempt {
        int how, padded, tiled;
        enum ft_detector_kind det;
    } steps[] = {
        { FT_QUERY_DIRECT, 0, 0, params->detect.detector },
        { FT_QUERY_TILED, 0, 1, params->detect.detector },
        { FT_QUERY_PADDED, 1, 0, params->detect.detector },
        { FT_QUERY_OTHER_DETECTOR, 0, 0, other },
        { FT_QUERY_OTHER_PADDED, 1, 0, other },
    };
    int n_steps = params->retry ? (int)(sizeof steps / sizeof steps[0]) : 1;
    int rc = FT_OK, n = 0;
    const ft_image *used = img;
    ft_detect_params dp = params->detect;
    for (int s = 0; s < n_steps && rc == FT_OK; s++) {
        if (steps[s].tiled && img->width <= TILE_ABOVE_PX && img->height <= TILE_ABOVE_PX) continue;
        /* the detector's own landmarks come only from YuNet */
        if (params->detect.landmarks == FT_LANDMARKS_DETECTOR5 && steps[s].det != FT_DETECTOR_YUNET)
            continue;
        if (steps[s].padded && !padded && (rc = pad_image(img, pad, &padded)) != FT_OK) {
            ft__errf(err, errlen, rc, "padding the photo: %s", ft_strerror(rc));
            break;
        }
        dp = params->detect;
        dp.detector = steps[s].det;
        dp.tile_px = steps[s].tiled ? TILE_PX : 0;
        dp.with_landmarks = 1;
        dp.with_descriptor = 0;
        used = steps[s].padded ? padded : img;
        rc = ft_engine_detect(eng, used, &dp, faces, MAX_QUERY_FACES, &n);
        if (rc != FT_OK) {
            ft__errf(err, errlen, rc, "%s",
                     *ft_engine_errmsg(eng) ? ft_engine_errmsg(eng) : ft_strerror(rc));
            break;
        }
        if (n > MAX_QUERY_FACES) n = MAX_QUERY_FACES;
        if (n > 0) {
            out->how = steps[s].how;
            break;
        }
    }
    if (rc == FT_OK && n == 0) {
        rc = ft__errf(err, errlen, FT_ENOTFOUND,
                      "no face found (also tried padding the photo and the second detector); "
                      "use a photo where the face is visible, frontal and at least %d pixels "
                      "tall",
                      params->min_reliable_px);
    }
    if (rc == FT_OK) {
        out->n_faces = n;
        qsort(faces, (size_t)n, sizeof *faces, cmp_area_desc);
        if (params->face > n) {
            rc = ft__errf(err, errlen, FT_EINVAL, "the photo has %d face%s; there is no face %d", n,
                          n > 1 ? "s" : "", params->face);
        }
    }
    if (rc == FT_OK) {
        out->used = params->face;
        out->face = faces[params->face - 1];
        /* describe with the profile's chip settings, on the image it was found in */
        ft_detect_params desc = params->detect;
        rc = ft_engine_describe(eng, used, &desc, &out->face);
        if (rc != FT_OK)
            ft__errf(err, errlen, rc, "%s",
                     *ft_engine_errmsg(eng) ? ft_engine_errmsg(eng) : ft_strerror(rc));
        else if (!out->face.has_descriptor && used == img) {
            /* the chip reaches past the border: describe on the padded photo */
            if (!padded && (rc = pad_image(img, pad, &padded)) != FT_OK) {
                ft__errf(err, errlen, rc, "padding the photo: %s", ft_strerror(rc));
            } else {
                ft_face f = out->face;
                f.box[0] += pad, f.box[1] += pad;
                for (int i = 0; i < FT_N_LANDMARKS; i++)
                    f.landmarks[i][0] += pad, f.landmarks[i][1] += pad;
                for (int i = 0; i < 5; i++)
                    f.points5[i][0] += pad, f.points5[i][1] += pad;
                f.landmark_crop[0] += pad, f.landmark_crop[1] += pad;
                rc = ft_engine_describe(eng, padded, &desc, &f);
                if (rc == FT_OK && f.has_descriptor) {
                    unpad_face(&f, pad);
                    out->face = f;
                } else if (rc != FT_OK) {
                    ft__errf(err, errlen, rc, "%s", ft_engine_errmsg(eng));
                }
            }
        }
        if (rc == FT_OK && !out->face.has_descriptor)
            rc = ft__errf(err, errlen, FT_EFORMAT, "the face is cut off by the photo's border");
    }
    if (rc == FT_OK) {
        out->quality = ft_face_quality(used, &out->face);
        if (used == padded) unpad_face(&out->face, pad);
        if (out->face.box[3] < params->min_reliable_px)
            snprintf(out->warning, sizeof out->warning,
                     "the face is only %.0f px tall (below %d): matches are less reliable",
                     out->face.box[3], params->min_reliable_px);
        else if (out->quality < params->min_reliable_quality)
            snprintf(out->warning, sizeof out->warning,
                     "the face is blurred, turned or poorly detected (quality %.2f): matches "
                     "are less reliable",
                     out->quality);
    }
    ft_image_destroy(padded);
    ft__free(faces);
    if (rc != FT_OK) memset(out, 0, sizeof *out);
    return rc;
}
