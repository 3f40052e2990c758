/*
** nn/onnx.c: reads an ONNX model file into the plain structs of nn/onnx.h.
**
** DESIGN
**   The file is read whole (at most 256 MiB; ONNX's protobuf has no framing
**   to stream on), checked against its pin, and decoded by protobuf-c into
**   the ModelProto tree that protoc-c generates from onnx.proto at build
**   time ($(B)/gen/onnx.pb-c.[ch]). protobuf-c allocates through ft__malloc
**   (so out-of-memory tests reach it); a failed decode is told apart from an
**   allocation failure by a flag the allocator sets. The tree is then copied
**   into our structs and freed, checking on the way what protobuf cannot:
**   that an initializer's raw_data or typed data holds exactly the values
**   its dims call for, that dims are non-negative and their product bounded,
**   that data is not external, and that there is a graph and an opset.
**
** INVARIANTS  (1) every ft__onnx_graph field is owned by the graph and
**                 ft__onnx_free frees a graph at any stage of its building.
**             (2) raw_data is read as little-endian, as ONNX specifies (this
**                 file refuses to build on a big-endian target).
**             (3) strings are never NULL after the copy ("" when absent).
** SEE ALSO    tests/unit/test_yunet.c (hand-encoded models, malformed files).
*/
#include "nn/onnx.h"

#include "onnx.pb-c.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#    error "nn/onnx.c reads ONNX raw_data as little-endian"
#endif

#define MAX_ONNX_BYTES (256u << 20)
#define MAX_COUNT      ((size_t)1 << 31) /* values in one tensor */

/* ------------------------------------------------------------------------ */
/* protobuf-c allocator on ft__malloc                                       */
/* ------------------------------------------------------------------------ */

typedef struct pb_state {
    int oom; /* an allocation failed during the decode */
} pb_state;

/* protobuf-c's allocation hook: ft__malloc, remembering failures. */
static void *pb_alloc(void *data, size_t n)
{
    void *p = ft__malloc(n ? n : 1);
    if (!p) ((pb_state *)data)->oom = 1;
    return p;
}

/* protobuf-c's free hook. */
static void pb_free(void *data, void *p)
{
    (void)data;
    ft__free(p);
}

/* ------------------------------------------------------------------------ */
/* Copying out of the protobuf tree                                         */
/* ------------------------------------------------------------------------ */

/* A copy of s ("" for NULL); NULL only when out of memory. */
static char *dup_str(const char *s)
{
    return ft__strdup(s ? s : "");
}

/* A NUL-terminated copy of protobuf bytes. */
static char *dup_bytes(const ProtobufCBinaryData *b)
{
    char *s = ft__malloc(b->len + 1);
    if (!s) return NULL;
    if (b->len) memcpy(s, b->data, b->len);
    s[b->len] = 0;
    return s;
}

static void tensor_fini(ft__onnx_tensor *t)
{
    if (!t) return;
    ft__free(t->name);
    ft__free(t->f);
    ft__free(t->i64);
    memset(t, 0, sizeof *t);
}

/* Copies tensor proto p into t, checking dims and data. what names the
** tensor in messages ("initializer X", "attribute Y of node Z"). */
static int copy_tensor(const char *path, const char *what, const Onnx__TensorProto *p,
                       ft__onnx_tensor *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (!(t->name = dup_str(p->name))) return FT_ENOMEM;
    if (p->n_dims > FT__ONNX_MAX_RANK)
        return ft__errf(err, errlen, FT_EMODEL, "%s: %s has rank %zu (at most %d supported)", path,
                        what, p->n_dims, FT__ONNX_MAX_RANK);
    t->rank = (int)p->n_dims;
    t->count = 1;
    for (size_t i = 0; i < p->n_dims; i++) {
        int64_t d = p->dims[i];
        if (d < 0 || (uint64_t)d > MAX_COUNT)
            return ft__errf(err, errlen, FT_EMODEL, "%s: %s has dim %zu = %lld", path, what, i,
                            (long long)d);
        t->dims[i] = d;
        t->count *= (size_t)d;
        if (t->count > MAX_COUNT)
            return ft__errf(err, errlen, FT_EMODEL, "%s: %s has over 2^31 values", path, what);
    }
    t->dtype = p->has_data_type ? p->data_type : 0;
    if (p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL || p->n_external_data)
        return ft__errf(err, errlen, FT_EMODEL,
                        "%s: %s is stored in an external file (not supported)", path, what);
    if (p->segment)
        return ft__errf(err, errlen, FT_EMODEL, "%s: %s is segmented (not supported)", path, what);
    int raw = p->has_raw_data && p->raw_data.len > 0;
    if (t->dtype == FT__ONNX_FLOAT) {
        size_t have = raw ? p->raw_data.len : p->n_float_data * sizeof(float);
        if (raw ? p->raw_data.len != t->count * sizeof(float) : p->n_float_data != t->count)
            return ft__errf(err, errlen, FT_EMODEL,
                            "%s: %s holds %zu bytes of float data, its dims need %zu", path, what,
                            have, t->count * sizeof(float));
        if (!(t->f = ft__malloc((t->count ? t->count : 1) * sizeof(float)))) return FT_ENOMEM;
        if (t->count) memcpy(t->f, raw ? (const void *)p->raw_data.data : p->float_data, have);
    } else if (t->dtype == FT__ONNX_INT64) {
        size_t have = raw ? p->raw_data.len : p->n_int64_data * sizeof(int64_t);
        if (raw ? p->raw_data.len != t->count * sizeof(int64_t) : p->n_int64_data != t->count)
            return ft__errf(err, errlen, FT_EMODEL,
                            "%s: %s holds %zu bytes of int64 data, its dims need %zu", path, what,
                            have, t->count * sizeof(int64_t));
        if (!(t->i64 = ft__malloc((t->count ? t->count : 1) * sizeof(int64_t)))) return FT_ENOMEM;
        if (t->count) memcpy(t->i64, raw ? (const void *)p->raw_data.data : p->int64_data, have);
    }
    return FT_OK;
}

/* Copies attribute proto p of node `node` into a. */
static int copy_attr(const char *path, const char *node, const Onnx__AttributeProto *p,
                     ft__onnx_attr *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (!(a->name = dup_str(p->name))) return FT_ENOMEM;
    int type = p->has_type ? (int)p->type : 0;
    if (!p->has_type) { /* IR < 3 wrote no type: infer it from the field set */
        if (p->n_ints)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        else if (p->n_floats)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
        else if (p->has_i)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        else if (p->has_f)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        else if (p->has_s)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        else if (p->t)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    }
    switch (type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        a->kind = FT__ONNX_ATTR_FLOAT;
        a->f = p->f;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        a->kind = FT__ONNX_ATTR_INT;
        a->i = p->i;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        a->kind = FT__ONNX_ATTR_STRING;
        if (!(a->s = dup_bytes(&p->s))) return FT_ENOMEM;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
        if (!p->t)
            return ft__errf(err, errlen, FT_EMODEL,
                            "%s: node %s: tensor attribute %s has no tensor", path, node, a->name);
        a->kind = FT__ONNX_ATTR_TENSOR;
        if (!(a->t = ft__calloc(1, sizeof *a->t))) return FT_ENOMEM;
        char what[256];
        snprintf(what, sizeof what, "attribute %s of node %s", a->name, node);
        return copy_tensor(path, what, p->t, a->t, err, errlen);
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        a->kind = FT__ONNX_ATTR_FLOATS;
        if (p->n_floats > INT32_MAX) return FT_EMODEL;
        a->n = (int)p->n_floats;
        if (!(a->floats = ft__malloc((p->n_floats ? p->n_floats : 1) * sizeof(float))))
            return FT_ENOMEM;
        if (p->n_floats) memcpy(a->floats, p->floats, p->n_floats * sizeof(float));
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        a->kind = FT__ONNX_ATTR_INTS;
        if (p->n_ints > INT32_MAX) return FT_EMODEL;
        a->n = (int)p->n_ints;
        if (!(a->ints = ft__malloc((p->n_ints ? p->n_ints : 1) * sizeof(int64_t))))
            return FT_ENOMEM;
        if (p->n_ints) memcpy(a->ints, p->ints, p->n_ints * sizeof(int64_t));
        break;
    default: a->kind = FT__ONNX_ATTR_OTHER; break;
    }
    return FT_OK;
}

/* Copies a list of protobuf strings; *out gets n entries. */
static int copy_names(char **src, size_t n, char ***out, int *n_out)
{
    if (n > INT32_MAX) return FT_EMODEL;
    *out = ft__calloc(n ? n : 1, sizeof **out);
    if (!*out) return FT_ENOMEM;
    *n_out = (int)n;
    for (size_t i = 0; i < n; i++)
        if (!((*out)[i] = dup_str(src[i]))) return FT_ENOMEM;
    return FT_OK;
}

static int copy_node(const char *path, const Onnx__NodeProto *p, ft__onnx_node *n, char *err,
                     size_t errlen)
{
    int rc;
    if (!(n->name = dup_str(p->name)) || !(n->op_type = dup_str(p->op_type)) ||
        !(n->domain = dup_str(p->domain)))
        return FT_ENOMEM;
    if (!*n->op_type)
        return ft__errf(err, errlen, FT_EMODEL, "%s: node '%s' has no op_type", path, n->name);
    if ((rc = copy_names(p->input, p->n_input, &n->in, &n->n_in)) != FT_OK ||
        (rc = copy_names(p->output, p->n_output, &n->out, &n->n_out)) != FT_OK)
        return rc;
    if (p->n_attribute > INT32_MAX) return FT_EMODEL;
    if (!(n->attr = ft__calloc(p->n_attribute ? p->n_attribute : 1, sizeof *n->attr)))
        return FT_ENOMEM;
    for (size_t i = 0; i < p->n_attribute; i++) {
        n->n_attr = (int)i + 1;
        if ((rc = copy_attr(path, n->name, p->attribute[i], &n->attr[i], err, errlen)) != FT_OK)
            return rc;
    }
    return FT_OK;
}

static int copy_value(const Onnx__ValueInfoProto *p, ft__onnx_value *v)
{
    if (!(v->name = dup_str(p->name))) return FT_ENOMEM;
    v->rank = -1;
    const Onnx__TypeProto__Tensor *tt =
        p->type && p->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ? p->type->tensor_type
                                                                              : NULL;
    if (!tt) return FT_OK;
    v->elem_type = tt->has_elem_type ? tt->elem_type : 0;
    if (!tt->shape || tt->shape->n_dim > FT__ONNX_MAX_RANK) return FT_OK;
    v->rank = (int)tt->shape->n_dim;
    for (int i = 0; i < v->rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        v->dims[i] = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                             d->dim_value >= 0
                         ? d->dim_value
                         : -1;
    }
    return FT_OK;
}

/* Copies the decoded model m into g (allocated by the caller, zeroed). */
static int copy_model(const char *path, const Onnx__ModelProto *m, ft__onnx_graph *g, char *err,
                      size_t errlen)
{
    int rc;
    if (!m->has_ir_version || m->ir_version < 3)
        return ft__errf(err, errlen, FT_EMODEL, "%s: not an ONNX model (no IR version 3 or later)",
                        path);
    g->ir_version = m->ir_version;
    g->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0)
            g->opset = o->has_version ? o->version : 0;
    }
    if (g->opset < 1)
        return ft__errf(err, errlen, FT_EMODEL, "%s: not an ONNX model (no default opset)", path);
    const Onnx__GraphProto *gp = m->graph;
    if (!gp || gp->n_node == 0)
        return ft__errf(err, errlen, FT_EMODEL, "%s: not an ONNX model (no graph nodes)", path);
    if (gp->n_node > INT32_MAX || gp->n_initializer > INT32_MAX || gp->n_input > INT32_MAX ||
        gp->n_output > INT32_MAX)
        return ft__errf(err, errlen, FT_EMODEL, "%s: graph too large", path);

    if (!(g->init = ft__calloc(gp->n_initializer ? gp->n_initializer : 1, sizeof *g->init)))
        return FT_ENOMEM;
    for (size_t i = 0; i < gp->n_initializer; i++) {
        g->n_init = (int)i + 1;
        char what[300];
        snprintf(what, sizeof what, "initializer %.256s",
                 gp->initializer[i]->name ? gp->initializer[i]->name : "");
        if ((rc = copy_tensor(path, what, gp->initializer[i], &g->init[i], err, errlen)) != FT_OK)
            return rc;
    }
    if (!(g->node = ft__calloc(gp->n_node, sizeof *g->node))) return FT_ENOMEM;
    for (size_t i = 0; i < gp->n_node; i++) {
        g->n_node = (int)i + 1;
        if ((rc = copy_node(path, gp->node[i], &g->node[i], err, errlen)) != FT_OK) return rc;
    }
    if (!(g->input = ft__calloc(gp->n_input ? gp->n_input : 1, sizeof *g->input)) ||
        !(g->output = ft__calloc(gp->n_output ? gp->n_output : 1, sizeof *g->output)))
        return FT_ENOMEM;
    for (size_t i = 0; i < gp->n_input; i++) {
        /* IR < 4 lists initializers among the inputs too: they are not inputs */
        if (gp->input[i]->name && ft__onnx_init_find(g, gp->input[i]->name)) continue;
        if ((rc = copy_value(gp->input[i], &g->input[g->n_input++])) != FT_OK) return rc;
    }
    for (size_t i = 0; i < gp->n_output; i++)
        if ((rc = copy_value(gp->output[i], &g->output[g->n_output++])) != FT_OK) return rc;
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* Public                                                                   */
/* ------------------------------------------------------------------------ */

int ft__onnx_parse(const char *path, const unsigned char *data, size_t len, ft__onnx_graph **out,
                   char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen) err[0] = 0;
    pb_state st = { 0 };
    ProtobufCAllocator alloc = { pb_alloc, pb_free, &st };
    Onnx__ModelProto *m = onnx__model_proto__unpack(&alloc, len, data);
    if (!m) {
        if (st.oom) return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", path);
        return ft__errf(err, errlen, FT_EMODEL,
                        "%s: not an ONNX model (malformed or truncated protobuf, %zu bytes)", path,
                        len);
    }
    ft__onnx_graph *g = ft__calloc(1, sizeof *g);
    int rc = FT_ENOMEM;
    if (g && (g->path = ft__strdup(path))) rc = copy_model(path, m, g, err, errlen);
    onnx__model_proto__free_unpacked(m, &alloc);
    if (rc != FT_OK) {
        if (rc == FT_ENOMEM)
            ft__errf(err, errlen, rc, "%s: out of memory", path);
        else if (rc == FT_EMODEL && err && errlen && !err[0])
            ft__errf(err, errlen, rc, "%s: malformed ONNX model", path);
        ft__onnx_free(g);
        return rc;
    }
    *out = g;
    return FT_OK;
}

int ft__onnx_load(const char *path, ft__onnx_graph **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen) err[0] = 0;
    unsigned char *buf = NULL;
    size_t len = 0;
    char why[512];
    int rc = ft__read_file(path, MAX_ONNX_BYTES, &buf, &len, why, sizeof why);
    if (rc != FT_OK) return ft__errf(err, errlen, rc == FT_ENOMEM ? rc : FT_EMODEL, "%s", why);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    rc = ft__model_check_pin(path, base, buf, len, err, errlen);
    if (rc == FT_OK) rc = ft__onnx_parse(path, buf, len, out, err, errlen);
    ft__free(buf);
    return rc;
}

void ft__onnx_free(ft__onnx_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_init; i++)
        tensor_fini(&g->init[i]);
    ft__free(g->init);
    for (int i = 0; i < g->n_node; i++) {
        ft__onnx_node *n = &g->node[i];
        ft__free(n->name);
        ft__free(n->op_type);
        ft__free(n->domain);
        for (int k = 0; n->in && k < n->n_in; k++)
            ft__free(n->in[k]);
        for (int k = 0; n->out && k < n->n_out; k++)
            ft__free(n->out[k]);
        ft__free(n->in);
        ft__free(n->out);
        for (int k = 0; n->attr && k < n->n_attr; k++) {
            ft__onnx_attr *a = &n->attr[k];
            ft__free(a->name);
            ft__free(a->s);
            tensor_fini(a->t);
            ft__free(a->t);
            ft__free(a->floats);
            ft__free(a->ints);
        }
        ft__free(n->attr);
    }
    ft__free(g->node);
    for (int i = 0; i < g->n_input; i++)
        ft__free(g->input[i].name);
    for (int i = 0; i < g->n_output; i++)
        ft__free(g->output[i].name);
    ft__free(g->input);
    ft__free(g->output);
    ft__free(g->path);
    ft__free(g);
}

const ft__onnx_tensor *ft__onnx_init_find(const ft__onnx_graph *g, const char *name)
{
    for (int i = 0; i < g->n_init; i++)
        if (g->init[i].name && strcmp(g->init[i].name, name) == 0) return &g->init[i];
    return NULL;
}

const ft__onnx_attr *ft__onnx_attr_find(const ft__onnx_node *n, const char *name)
{
    for (int i = 0; i < n->n_attr; i++)
        if (n->attr[i].name && strcmp(n->attr[i].name, name) == 0) return &n->attr[i];
    return NULL;
}
