/*
** tests/unit/test_query.c: the query photo (search/query.c): a tight crop
** of a face, as a parent's cropped photo would be, is found by padding or
** the second detector and describes the same person as the face in the
** whole photo; a photo without a face, or a face number beyond the faces,
** is a clear error. Needs the models and face-api's sample photos (skipped
** when absent).
*/
#include "facetrail.h"
#include "facetrail/ingest.h"
#include "facetrail/search.h"
#include "facetrail/store.h"
#include "harness/test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static ft_engine *open_engine(void)
{
    const char *models = ft_test_model_dir();
    if (!models) FT_SKIP("models not fetched (make models)");
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = models;
    ft_engine *eng;
    char err[256];
    ASSERT_OK(ft_engine_open(&ep, &eng, err, sizeof err));
    return eng;
}

static ft_image *load_sample(const char *name)
{
    const char *models = ft_test_model_dir();
    char path[1024];
    snprintf(path, sizeof path, "%s/../demo/%s", models, name);
    ft_image *img = NULL;
    char err[256];
    if (ft_image_load(path, 0, &img, err, sizeof err) != FT_OK) FT_SKIP("sample photos absent");
    return img;
}

/* The part of img inside box (x, y, w, h), clipped. */
static ft_image *crop(const ft_image *img, int x, int y, int w, int h)
{
    if (x < 0) w += x, x = 0;
    if (y < 0) h += y, y = 0;
    if (x + w > img->width) w = img->width - x;
    if (y + h > img->height) h = img->height - y;
    ft_image *c;
    ASSERT_OK(ft_image_create(w, h, &c));
    for (int r = 0; r < h; r++)
        memcpy(c->rgb + (size_t)r * w * 3, img->rgb + ((size_t)(y + r) * img->width + x) * 3,
               (size_t)w * 3);
    return c;
}

static ft_query_params profile(void)
{
    ft_query_params qp = ft_query_default_params();
    qp.detect = ft_ingest_default_params().detect;
    return qp;
}

/* The retries, shown with face-api's SSD (which misses tight crops); YuNet,
** the default, finds the same crop directly. */
static void test_query_tight_crop(void)
{
    ft_engine *eng = open_engine();
    ft_image *img = load_sample("sample2.jpg");
    ft_query_params qp = profile();
    ft_detect_params_for_space("faceapi-chip68", &qp.detect);
    ft_query whole, tight;
    char err[512];
    ASSERT_OK(ft_query_face(eng, img, &qp, &whole, err, sizeof err));
    ASSERT_EQ(whole.how, FT_QUERY_DIRECT);
    ASSERT(whole.face.has_descriptor);
    /* the face box itself, shrunk by 10% on each side: tighter than any
    ** portrait crop; the detector alone does not find it */
    const double *b = whole.face.box;
    int x = (int)lrint(b[0] + 0.1 * b[2]), y = (int)lrint(b[1] + 0.1 * b[3]);
    int w = (int)lrint(0.8 * b[2]), h = (int)lrint(0.8 * b[3]);
    ft_image *c = crop(img, x, y, w, h);
    qp.retry = 0;
    ASSERT_EQ(ft_query_face(eng, c, &qp, &tight, err, sizeof err), FT_ENOTFOUND);
    ASSERT_STR_CONTAINS(err, "no face found");
    qp.retry = 1;
    ASSERT_OK(ft_query_face(eng, c, &qp, &tight, err, sizeof err));
    ASSERT(tight.how == FT_QUERY_PADDED || tight.how == FT_QUERY_OTHER_DETECTOR ||
           tight.how == FT_QUERY_OTHER_PADDED);
    ASSERT(tight.face.has_descriptor);
    ASSERT_EQ(tight.width, w);
    /* box in the crop's coordinates: the face fills the crop */
    ASSERT(tight.face.box[0] > -0.5 * w && tight.face.box[0] < 0.5 * w);
    ASSERT(tight.face.box[2] > 0.6 * w && tight.face.box[2] < 2.0 * w);
    /* the same person: well within LFW's same-person distances (cosine
    ** metric of the search; different people are above ~0.5) */
    float d = ft_metric_distance(FT_METRIC_COSINE, whole.face.descriptor, tight.face.descriptor);
    ASSERT(d < 0.4f);
    /* the default pipeline: YuNet finds it without help, dlib's descriptor */
    ft_query_params yq = profile();
    yq.retry = 0;
    ft_query ywhole, ytight;
    ASSERT_OK(ft_query_face(eng, img, &yq, &ywhole, err, sizeof err));
    ASSERT_OK(ft_query_face(eng, c, &yq, &ytight, err, sizeof err));
    ASSERT_EQ(ytight.how, FT_QUERY_DIRECT);
    ASSERT_EQ(ytight.face.landmark_kind, FT_LANDMARKS_DLIB5);
    d = ft_metric_distance(FT_METRIC_COSINE, ywhole.face.descriptor, ytight.face.descriptor);
    printf("# tight crop: cosine distance to the whole photo's face %.3f (dlib)\n", d);
    ASSERT(d < 0.4f);
    ft_image_destroy(c);
    ft_image_destroy(img);
    ft_engine_close(eng);
}

static void test_query_errors(void)
{
    ft_engine *eng = open_engine();
    ft_query_params qp = profile();
    ft_query q;
    char err[512];
    ft_image *grey;
    ASSERT_OK(ft_image_create(1300, 900, &grey)); /* large: the tiled attempt runs too */
    memset(grey->rgb, 128, (size_t)1300 * 900 * 3);
    ASSERT_EQ(ft_query_face(eng, grey, &qp, &q, err, sizeof err), FT_ENOTFOUND);
    ASSERT_STR_CONTAINS(err, "no face found");
    ASSERT_STR_CONTAINS(err, "padding");
    ft_image_destroy(grey);
    ft_image *img = load_sample("sample2.jpg");
    qp.face = 9;
    ASSERT_EQ(ft_query_face(eng, img, &qp, &q, err, sizeof err), FT_EINVAL);
    ASSERT_STR_CONTAINS(err, "there is no face 9");
    qp.face = 0;
    ASSERT_EQ(ft_query_face(eng, img, &qp, &q, err, sizeof err), FT_EINVAL);
    ft_image_destroy(img);
    ft_engine_close(eng);
}

/* The query face's thumbnail for reports: a square JPEG centred on the
** face, whose centre pixel is the face box's centre pixel. */
static void test_face_thumbnail(void)
{
    ft_image *img;
    ASSERT_OK(ft_image_create(200, 100, &img));
    for (int y = 0; y < 100; y++)
        for (int x = 0; x < 200; x++) {
            uint8_t *p = img->rgb + ((size_t)y * 200 + x) * 3;
            p[0] = x < 100 ? 250 : 10; /* left half red, right half blue */
            p[2] = x < 100 ? 10 : 250;
        }
    double box[4] = { 20, 20, 40, 40 }; /* inside the red half */
    unsigned char *jpg = NULL;
    size_t n = 0;
    ASSERT_OK(ft_face_thumbnail(img, box, 32, &jpg, &n));
    ASSERT(n > 100 && jpg[0] == 0xFF && jpg[1] == 0xD8);
    ft_image *t;
    char err[128];
    ASSERT_OK(ft_image_decode(jpg, n, "thumb", 0, &t, err, sizeof err));
    ASSERT_EQ(t->width, 32);
    ASSERT_EQ(t->height, 32);
    const uint8_t *c = t->rgb + ((size_t)16 * 32 + 16) * 3;
    ASSERT(c[0] > 200 && c[2] < 60);
    ft_image_destroy(t);
    ft_store_free(jpg);
    double empty[4] = { 10, 10, 0, 10 };
    ASSERT_EQ(ft_face_thumbnail(img, empty, 32, &jpg, &n), FT_EINVAL);
    ASSERT_EQ(ft_face_thumbnail(img, box, 4, &jpg, &n), FT_EINVAL);
    ft_image_destroy(img);
}

FT_TESTS(FT_TEST(test_query_tight_crop), FT_TEST(test_query_errors), FT_TEST(test_face_thumbnail))
