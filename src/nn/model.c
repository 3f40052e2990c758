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
** OWNERSHIP   The model owns its names and data; ft__model_free frees all.
*/
#include "nn/nn.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#define MAX_MANIFEST_BYTES (4u << 20)
#define MAX_SHARD_BYTES    (512u << 20)
#define MAX_WEIGHTS        4096
#define MAX_DIM            (1 << 24)

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
