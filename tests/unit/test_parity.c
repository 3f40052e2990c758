/*
** tests/unit/test_parity.c: facetrail against the JavaScript reference peer on
** identical pixels.
**
** DESIGN
**   A parity folder holds PNG images (lossless, so both sides see the same
**   pixels) and the peer's faceapi-dump.mjs output for them:
**     ssd.jsonl    default SSD run (minConfidence 0.5, face_landmark_68)
**     tiny.jsonl   --detector tiny --input-size 416
**     tinylm.jsonl --tiny-landmarks (SSD)
**     chips.jsonl  --raw-chip on the chips/ PNGs
**   Each line's "file" is resolved by base name inside the folder. The folder
**   is tests/data/parity (committed, small) or $FT_PARITY_DIR (the full run on
**   the six face-api samples, made by tests/e2e/parity_peer.sh).
**
** TOLERANCES (the peer's README gives its own noise floor well below these)
**   box, landmarks: 0.01 px; score: 1e-4; descriptor: max |diff| 1e-4;
**   the same faces in the same order, the same integer crops.
*/
#include "facetrail.h"
#include "harness/test.h"

#include <jansson.h>
#include <libgen.h>

static const char *parity_dir(void)
{
    const char *d = getenv("FT_PARITY_DIR");
    return d && *d ? d : "tests/data/parity";
}

static ft_engine *open_engine(int n_threads)
{
    const char *models = ft_test_model_dir();
    if (!models) FT_SKIP("models not fetched (make models)");
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = models;
    ep.n_threads = n_threads;
    ft_engine *eng = NULL;
    char err[256];
    ASSERT_OK(ft_engine_open(&ep, &eng, err, sizeof err));
    return eng;
}

static ft_image *load_by_base(const char *file)
{
    char tmp[1024], path[2048];
    snprintf(tmp, sizeof tmp, "%s", file);
    snprintf(path, sizeof path, "%s/%s", parity_dir(), basename(tmp));
    /* the peer saw a JPEG sample only in the full run, where --save-decoded
    ** wrote <stem>.png: use that */
    char *dot = strrchr(path, '.');
    if (dot && strcmp(dot, ".jpg") == 0) strcpy(dot, ".png");
    ft_image *img = NULL;
    char err[512];
    if (ft_image_load(path, 0, &img, err, sizeof err) != FT_OK) ft_test_fail(__FILE__, __LINE__, "%s", err);
    return img;
}

typedef struct stats {
    int images, faces;
    double box, score, lm, desc;
} stats;

static double num(json_t *a, size_t i)
{
    return json_number_value(json_array_get(a, i));
}

static void compare_file(const char *jsonl, ft_detect_params dp, int n_threads, stats *st)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", parity_dir(), jsonl);
    FILE *f = fopen(path, "r");
    if (!f) ft_test_fail(__FILE__, __LINE__, "cannot open %s", path);
    ft_engine *eng = open_engine(n_threads);
    ft_face faces[128];
    static char line[1 << 20];
    while (fgets(line, sizeof line, f)) {
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        ASSERT(o);
        const char *file = json_string_value(json_object_get(o, "file"));
        ASSERT(file);
        ft_image *img = load_by_base(file);
        ASSERT_EQ(img->width, json_integer_value(json_object_get(o, "width")));
        ASSERT_EQ(img->height, json_integer_value(json_object_get(o, "height")));
        int n = 0;
        if (ft_engine_detect(eng, img, &dp, faces, 128, &n) != FT_OK)
            ft_test_fail(__FILE__, __LINE__, "%s: %s", file, ft_engine_errmsg(eng));
        json_t *jf = json_object_get(o, "faces");
        if ((size_t)n != json_array_size(jf))
            ft_test_fail(__FILE__, __LINE__, "%s: %d faces, peer %zu", file, n,
                         json_array_size(jf));
        for (int i = 0; i < n; i++) {
            json_t *p = json_array_get(jf, (size_t)i);
            json_t *box = json_object_get(p, "box"), *lm = json_object_get(p, "landmarks");
            json_t *desc = json_object_get(p, "descriptor");
            for (int k = 0; k < 4; k++) {
                double d = fabs(faces[i].box[k] - num(box, (size_t)k));
                st->box = fmax(st->box, d);
                ASSERT_NEAR(faces[i].box[k], num(box, (size_t)k), 0.01);
            }
            double ds = fabs(faces[i].score - json_number_value(json_object_get(p, "score")));
            st->score = fmax(st->score, ds);
            ASSERT_NEAR(faces[i].score, json_number_value(json_object_get(p, "score")), 1e-4);
            json_t *crop = json_object_get(p, "landmark_crop");
            for (int k = 0; k < 4; k++) ASSERT_EQ(faces[i].landmark_crop[k], num(crop, (size_t)k));
            ASSERT(faces[i].has_landmarks);
            for (int k = 0; k < 68; k++)
                for (int c = 0; c < 2; c++) {
                    double want = num(json_array_get(lm, (size_t)k), (size_t)c);
                    st->lm = fmax(st->lm, fabs(faces[i].landmarks[k][c] - want));
                    ASSERT_NEAR(faces[i].landmarks[k][c], want, 0.01);
                }
            json_t *dcrop = json_object_get(p, "descriptor_crop");
            for (int k = 0; k < 4; k++)
                ASSERT_EQ(faces[i].descriptor_crop[k], num(dcrop, (size_t)k));
            ASSERT(faces[i].has_descriptor);
            for (int k = 0; k < 128; k++) {
                double want = num(desc, (size_t)k);
                st->desc = fmax(st->desc, fabs(faces[i].descriptor[k] - want));
                ASSERT_NEAR(faces[i].descriptor[k], want, 1e-4);
            }
        }
        st->images++;
        st->faces += n;
        ft_image_destroy(img);
        json_decref(o);
    }
    fclose(f);
    ft_engine_close(eng);
    printf("# %s (%d thread%s): %d images, %d faces; max |diff| box %.2g px, score %.2g, "
           "landmarks %.2g px, descriptor %.2g\n",
           jsonl, n_threads, n_threads > 1 ? "s" : "", st->images, st->faces, st->box, st->score,
           st->lm, st->desc);
    ASSERT(st->images > 0);
}

static void test_parity_ssd(void)
{
    stats st = { 0 };
    compare_file("ssd.jsonl", ft_detect_faceapi_params(), 1, &st);
    ASSERT(st.faces > 0);
}

static void test_parity_ssd_two_threads(void)
{
    stats st = { 0 };
    compare_file("ssd.jsonl", ft_detect_faceapi_params(), 2, &st);
}

static void test_parity_tiny(void)
{
    stats st = { 0 };
    ft_detect_params dp = ft_detect_faceapi_params();
    dp.detector = FT_DETECTOR_TINY;
    dp.input_size = 416;
    compare_file("tiny.jsonl", dp, 1, &st);
    ASSERT(st.faces > 0);
}

static void test_parity_tiny_landmarks(void)
{
    stats st = { 0 };
    ft_detect_params dp = ft_detect_faceapi_params();
    dp.tiny_landmarks = 1;
    compare_file("tinylm.jsonl", dp, 1, &st);
}

/* The descriptor net alone on ready chips (--raw-chip). */
static void test_parity_raw_chips(void)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/chips.jsonl", parity_dir());
    FILE *f = fopen(path, "r");
    if (!f) ft_test_fail(__FILE__, __LINE__, "cannot open %s", path);
    ft_engine *eng = open_engine(1);
    static char line[1 << 20];
    int n = 0;
    double worst = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        ASSERT(o);
        const char *file = json_string_value(json_object_get(o, "file"));
        char tmp[1024], cpath[2048];
        snprintf(tmp, sizeof tmp, "%s", file);
        snprintf(cpath, sizeof cpath, "%s/chips/%s", parity_dir(), basename(tmp));
        ft_image *chip = NULL;
        char err[512];
        if (ft_image_load(cpath, 0, &chip, err, sizeof err) != FT_OK) ft_test_fail(__FILE__, __LINE__, "%s", err);
        float d[128];
        ASSERT_OK(ft_engine_embed_chip(eng, chip, d));
        json_t *want = json_object_get(o, "descriptor");
        for (int k = 0; k < 128; k++) {
            worst = fmax(worst, fabs(d[k] - num(want, (size_t)k)));
            ASSERT_NEAR(d[k], num(want, (size_t)k), 1e-4);
        }
        ft_image_destroy(chip);
        json_decref(o);
        n++;
    }
    fclose(f);
    ft_engine_close(eng);
    printf("# raw chips: %d, max |diff| %.2g\n", n, worst);
    ASSERT(n > 0);
}

FT_TESTS(FT_TEST(test_parity_ssd), FT_TEST(test_parity_ssd_two_threads),
         FT_TEST(test_parity_tiny), FT_TEST(test_parity_tiny_landmarks),
         FT_TEST(test_parity_raw_chips))
