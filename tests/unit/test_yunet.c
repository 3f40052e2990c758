/*
** tests/unit/test_yunet.c: the ONNX reader (nn/onnx.c), the ONNX interpreter
** (nn/onnx_net.c) and the YuNet_n detector (detect/yunet.c).
**
** DESIGN
**   Three oracles.
**   (1) Hand-encoded models: a small ONNX model is written here byte by
**       byte in protobuf's wire format (no protobuf library), with every
**       attribute kind, raw_data and typed data, an initializer listed as
**       an input, a Constant node and the Shape/Gather/Unsqueeze/Concat/
**       Reshape tail detection heads end with. The reader must give back
**       exactly what was written; the interpreter's outputs are checked
**       against a naive NCHW implementation of the same graph written here
**       from the ONNX operator definitions. Variants of the model are
**       malformed or unsupported on purpose.
**   (2) OpenCV 4.6's dnn module (tests/ref/yunet_ref.py, run with
**       /usr/bin/python3 or $FT_PYTHON; the tests that need it skip, saying
**       so, without python3-opencv). It reads the fixed 640x640 file, which
**       holds the same weights as the dynamic one (checked here), and runs
**       at other sizes too. The script reads the same PNG, pads it itself,
**       and decodes OpenCV's raw outputs with its own implementation of
**       the upstream head.
**   (3) Facts about the sample photos: the number of faces, and where
**       landmarks must lie relative to each other and to their box.
**
** TOLERANCES  raw outputs vs OpenCV: max |diff| <= 1e-4 (printed);
**             decoding of the same raw outputs vs the script: 0.01 px;
**             the whole pipeline vs OpenCV's: same faces, 0.1 px;
**             XNNPACK vs reference kernels on the whole net: 1e-4;
**             chains of layers in bands of rows vs in one: bit for bit.
** TIMING      test_yunet_1080p prints ms per 1920x1080 frame on 1 thread.
*/
#include "detect/detect.h"
#include "nn/onnx.h"

#include "../harness/test.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DYN_MODEL   "models/yunet/yunet_n_dynamic.onnx"
#define FIXED_MODEL "models/yunet/yunet_n_640_640.onnx"
#define REF_SCRIPT  "tests/ref/yunet_ref.py"
#define RAW_TOL     1e-4

extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
        ft_test_fail(__FILE__, __LINE__, "memory leaked (see the LeakSanitizer report)");
}

static const ft__nn_ctx XNN = { NULL, 0, NULL };
static const ft__nn_ctx REF = { NULL, 1, NULL };
static char err[1024];

static const char *const NAMES[FT__YUNET_N_OUT] = {
    "cls_8",  "cls_16",  "cls_32",  "obj_8", "obj_16", "obj_32",
    "bbox_8", "bbox_16", "bbox_32", "kps_8", "kps_16", "kps_32",
};

/* ------------------------------------------------------------------------ */
/* Temporary files                                                          */
/* ------------------------------------------------------------------------ */

static char tmp_dir[64];

static const char *tmp(void)
{
    if (!tmp_dir[0]) {
        strcpy(tmp_dir, "/tmp/ft_yunetXXXXXX");
        ASSERT(mkdtemp(tmp_dir) != NULL);
    }
    return tmp_dir;
}

static void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmp(), name);
}

static void write_bytes(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(d, 1, n, f), n);
    ASSERT_EQ(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) ft_test_fail(__FILE__, __LINE__, "cannot open %s", path);
    ASSERT(fseek(f, 0, SEEK_END) == 0);
    long len = ftell(f);
    ASSERT(len >= 0);
    rewind(f);
    unsigned char *b = malloc((size_t)len + 1);
    ASSERT(b != NULL);
    ASSERT_EQ(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void rm_tmp(void)
{
    if (!tmp_dir[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    ASSERT_EQ(system(cmd), 0);
    tmp_dir[0] = 0;
}

static void need_model(const char *path)
{
    if (access(path, R_OK) != 0) FT_SKIP("YuNet model missing (models/yunet is committed)");
}

/* ------------------------------------------------------------------------ */
/* Protobuf wire format, by hand                                            */
/* ------------------------------------------------------------------------ */

typedef struct pb {
    unsigned char *b;
    size_t n, cap;
} pb;

static void pb_raw(pb *p, const void *d, size_t n)
{
    if (p->n + n > p->cap) {
        p->cap = (p->n + n) * 2 + 64;
        p->b = realloc(p->b, p->cap);
        ASSERT(p->b != NULL);
    }
    if (n) memcpy(p->b + p->n, d, n);
    p->n += n;
}

static void pb_varint(pb *p, uint64_t v)
{
    do {
        unsigned char c = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        pb_raw(p, &c, 1);
    } while (v);
}

static void pb_key(pb *p, int field, int wire)
{
    pb_varint(p, (uint64_t)field << 3 | (uint64_t)wire);
}

static void pb_int(pb *p, int field, int64_t v)
{
    pb_key(p, field, 0);
    pb_varint(p, (uint64_t)v);
}

static void pb_float(pb *p, int field, float f)
{
    pb_key(p, field, 5);
    pb_raw(p, &f, 4);
}

static void pb_bytes(pb *p, int field, const void *d, size_t n)
{
    pb_key(p, field, 2);
    pb_varint(p, n);
    pb_raw(p, d, n);
}

static void pb_str(pb *p, int field, const char *s)
{
    pb_bytes(p, field, s, strlen(s));
}

/* Writes sub as an embedded message and frees it. */
static void pb_msg(pb *p, int field, pb *sub)
{
    pb_bytes(p, field, sub->b, sub->n);
    free(sub->b);
    memset(sub, 0, sizeof *sub);
}

/* onnx.proto field numbers used below (TensorProto, AttributeProto, ...) */
enum { T_DIMS = 1, T_TYPE = 2, T_FLOATS = 4, T_INT64S = 7, T_NAME = 8, T_RAW = 9, T_LOC = 14 };
enum { A_NAME = 1, A_F = 2, A_I = 3, A_S = 4, A_T = 5, A_FLOATS = 7, A_INTS = 8, A_TYPE = 20 };
enum { N_IN = 1, N_OUT = 2, N_NAME = 3, N_OP = 4, N_ATTR = 5 };
enum { G_NODE = 1, G_NAME = 2, G_INIT = 5, G_INPUT = 11, G_OUTPUT = 12 };
enum { M_IR = 1, M_PRODUCER = 2, M_GRAPH = 7, M_OPSET = 8 };

/* A float tensor: raw_data when raw, else packed float_data. */
static void tensor_f(pb *p, int field, const char *name, const int64_t *dims, int rank,
                     const float *v, size_t n, int raw)
{
    pb t = { 0 };
    for (int i = 0; i < rank; i++)
        pb_int(&t, T_DIMS, dims[i]);
    pb_int(&t, T_TYPE, 1);
    pb_str(&t, T_NAME, name);
    if (raw)
        pb_bytes(&t, T_RAW, v, n * sizeof(float));
    else
        pb_bytes(&t, T_FLOATS, v, n * sizeof(float)); /* packed: little-endian floats */
    pb_msg(p, field, &t);
}

/* An int64 tensor, in packed int64_data (varints). */
static void tensor_i(pb *p, int field, const char *name, const int64_t *dims, int rank,
                     const int64_t *v, size_t n)
{
    pb t = { 0 }, packed = { 0 };
    for (int i = 0; i < rank; i++)
        pb_int(&t, T_DIMS, dims[i]);
    pb_int(&t, T_TYPE, 7);
    pb_str(&t, T_NAME, name);
    for (size_t i = 0; i < n; i++)
        pb_varint(&packed, (uint64_t)v[i]);
    pb_bytes(&t, T_INT64S, packed.b, packed.n);
    free(packed.b);
    pb_msg(p, field, &t);
}

static void attr_i(pb *node, const char *name, int64_t v)
{
    pb a = { 0 };
    pb_str(&a, A_NAME, name);
    pb_int(&a, A_I, v);
    pb_int(&a, A_TYPE, 2);
    pb_msg(node, N_ATTR, &a);
}

static void attr_f(pb *node, const char *name, float v)
{
    pb a = { 0 };
    pb_str(&a, A_NAME, name);
    pb_float(&a, A_F, v);
    pb_int(&a, A_TYPE, 1);
    pb_msg(node, N_ATTR, &a);
}

static void attr_s(pb *node, const char *name, const char *v)
{
    pb a = { 0 };
    pb_str(&a, A_NAME, name);
    pb_str(&a, A_S, v);
    pb_int(&a, A_TYPE, 3);
    pb_msg(node, N_ATTR, &a);
}

/* INTS, written unpacked (one key per value), as onnx's own files do. */
static void attr_is(pb *node, const char *name, const int64_t *v, int n)
{
    pb a = { 0 };
    pb_str(&a, A_NAME, name);
    for (int i = 0; i < n; i++)
        pb_int(&a, A_INTS, v[i]);
    pb_int(&a, A_TYPE, 7);
    pb_msg(node, N_ATTR, &a);
}

static void attr_fs(pb *node, const char *name, const float *v, int n)
{
    pb a = { 0 };
    pb_str(&a, A_NAME, name);
    for (int i = 0; i < n; i++)
        pb_float(&a, A_FLOATS, v[i]);
    pb_int(&a, A_TYPE, 6);
    pb_msg(node, N_ATTR, &a);
}

/* A node with inputs and outputs given as NULL-terminated lists; attrs is
** filled by the caller before pb_msg (see node_end). */
static pb node_begin(const char *op, const char *name, const char *const *in,
                     const char *const *out)
{
    pb n = { 0 };
    for (int i = 0; in[i]; i++)
        pb_str(&n, N_IN, in[i]);
    for (int i = 0; out[i]; i++)
        pb_str(&n, N_OUT, out[i]);
    pb_str(&n, N_NAME, name);
    pb_str(&n, N_OP, op);
    return n;
}

static void value_info(pb *g, int field, const char *name, const int64_t *dims, int rank)
{
    pb shape = { 0 }, tt = { 0 }, type = { 0 }, vi = { 0 };
    for (int i = 0; i < rank; i++) {
        pb d = { 0 };
        if (dims[i] >= 0)
            pb_int(&d, 1, dims[i]); /* dim_value */
        else
            pb_str(&d, 2, "n"); /* dim_param */
        pb_msg(&shape, 1, &d);
    }
    pb_int(&tt, 1, 1); /* elem_type FLOAT */
    pb_msg(&tt, 2, &shape);
    pb_msg(&type, 1, &tt); /* tensor_type */
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    pb_msg(g, field, &vi);
}

/* ------------------------------------------------------------------------ */
/* The hand-made model                                                      */
/* ------------------------------------------------------------------------ */

/* Graph (x is (N, 2, H, W)):
**   c1  = Relu(Conv(x, W1, B1; 3x3, stride 2, pads 1))        (3 channels)
**   dw  = Conv(c1, Wd, Bd; depthwise 3x3, pads 1, group 3)
**   mp  = MaxPool(dw; 2x2 / 2)
**   up  = Resize(mp, roi, scales (1, 1, 2, 2); nearest, asymmetric, floor)
**   add = Add(dw, up)
**   y   = Sigmoid(Reshape(Transpose(add, (0, 2, 3, 1)),
**                 Concat(Unsqueeze(Gather(Shape(add), 0)), (-1), Constant 3)))
**   z   = Conv(c1, Wp; 1x1, no bias)                          (2 channels)
** Weights are small fractions of integers (exact in float). */
#define CIN 2
static float W1[3 * CIN * 9], B1[3], WD[3 * 9], BD[3], WP[2 * 3];

static void hand_weights(void)
{
    for (int i = 0; i < 3 * CIN * 9; i++)
        W1[i] = (float)((i * 7 % 13) - 6) / 8.0f;
    for (int i = 0; i < 3; i++)
        B1[i] = (float)(i - 1) / 4.0f, BD[i] = (float)(1 - i) / 8.0f;
    for (int i = 0; i < 27; i++)
        WD[i] = (float)((i * 5 % 11) - 5) / 8.0f;
    for (int i = 0; i < 6; i++)
        WP[i] = (float)(i - 2) / 4.0f;
}

/* What to break in the model. */
typedef struct knobs {
    int ir;              /* ir_version (0: none written) */
    int opset;           /* 0: no opset_import */
    int no_graph;        /* leave the graph out */
    int raw_short;       /* W1's raw_data one float short */
    int neg_dim;         /* B1 with dim -3 */
    int external;        /* WD marked as external data */
    int rank9;           /* BD with nine dims */
    const char *sig_op;  /* op type of the Sigmoid node ("Sigmoid") */
    const char *mode;    /* Resize mode ("nearest") */
    int relu_on_input;   /* a Relu on x, read by nothing else */
    int asym_pads;       /* c1's pads (1, 1, 0, 0) */
    const char *unknown; /* the Add reads this name instead of dw */
    int perm_other;      /* Transpose perm (0, 3, 1, 2) */
    int group2;          /* dw with group 2 (neither regular nor depthwise) */
    size_t graph_cut;    /* keep only this many bytes of the graph (0: all) */
    int sibling;         /* a second 1x1 conv on c1 with pw's window: output z2 */
} knobs;

static const knobs GOOD = { 7, 11, 0, 0, 0, 0, 0, "Sigmoid", "nearest", 0, 0, NULL, 0, 0, 0, 0 };

static pb hand_model(const knobs *k)
{
    hand_weights();
    pb g = { 0 }, n;
    const int64_t d_w1[4] = { 3, CIN, 3, 3 }, d_b[1] = { k->neg_dim ? -3 : 3 };
    const int64_t d_wd[4] = { 3, k->group2 ? 2 : 1, 3, 3 }, d_wp[4] = { 2, 3, 1, 1 };
    const int64_t d_bd9[9] = { 3, 1, 1, 1, 1, 1, 1, 1, 1 }, d4[1] = { 4 }, d0[1] = { 0 };
    const int64_t d1[1] = { 1 }, zero = 0, minus1 = -1;
    const float scales[4] = { 1, 1, 2, 2 };
    float wd6[54];
    for (int i = 0; i < 54; i++)
        wd6[i] = WD[i % 27];

    /* nodes */
    const int64_t k3[2] = { 3, 3 }, s2[2] = { 2, 2 }, s1[2] = { 1, 1 };
    const int64_t p1[4] = { 1, 1, 1, 1 }, pa[4] = { 1, 1, 0, 0 }, k2[2] = { 2, 2 };
    if (k->relu_on_input) {
        n = node_begin("Relu", "bad_relu", (const char *[]){ "x", NULL },
                       (const char *[]){ "rx", NULL });
        pb_msg(&g, G_NODE, &n);
    }
    n = node_begin("Conv", "c1", (const char *[]){ "x", "W1", "B1", NULL },
                   (const char *[]){ "c1o", NULL });
    attr_is(&n, "kernel_shape", k3, 2);
    attr_is(&n, "strides", s2, 2);
    attr_is(&n, "pads", k->asym_pads ? pa : p1, 4);
    attr_is(&n, "dilations", s1, 2);
    attr_i(&n, "group", 1);
    pb_msg(&g, G_NODE, &n);
    n = node_begin("Relu", "r1", (const char *[]){ "c1o", NULL }, (const char *[]){ "c1", NULL });
    pb_msg(&g, G_NODE, &n);
    n = node_begin("Conv", "dw", (const char *[]){ "c1", "WD", "BD", NULL },
                   (const char *[]){ "dw", NULL });
    attr_is(&n, "kernel_shape", k3, 2);
    attr_is(&n, "pads", p1, 4);
    attr_i(&n, "group", k->group2 ? 2 : 3);
    pb_msg(&g, G_NODE, &n);
    n = node_begin("MaxPool", "mp", (const char *[]){ "dw", NULL }, (const char *[]){ "mp", NULL });
    attr_is(&n, "kernel_shape", k2, 2);
    attr_is(&n, "strides", k2, 2);
    attr_i(&n, "ceil_mode", 0);
    pb_msg(&g, G_NODE, &n);
    n = node_begin("Resize", "up", (const char *[]){ "mp", "roi", "scales", NULL },
                   (const char *[]){ "up", NULL });
    attr_s(&n, "coordinate_transformation_mode", "asymmetric");
    attr_f(&n, "cubic_coeff_a", -0.75f);
    attr_s(&n, "mode", k->mode);
    attr_s(&n, "nearest_mode", "floor");
    pb_msg(&g, G_NODE, &n);
    n = node_begin("Add", "add", (const char *[]){ k->unknown ? k->unknown : "dw", "up", NULL },
                   (const char *[]){ "add", NULL });
    attr_fs(&n, "unread", scales, 4); /* a FLOATS attribute, for the reader */
    pb_msg(&g, G_NODE, &n);
    n = node_begin("Transpose", "tr", (const char *[]){ "add", NULL },
                   (const char *[]){ "tr", NULL });
    const int64_t perm[4] = { 0, 2, 3, 1 }, perm2[4] = { 0, 3, 1, 2 };
    attr_is(&n, "perm", k->perm_other ? perm2 : perm, 4);
    pb_msg(&g, G_NODE, &n);
    n = node_begin("Shape", "sh", (const char *[]){ "add", NULL }, (const char *[]){ "sh", NULL });
    pb_msg(&g, G_NODE, &n);
    n = node_begin("Gather", "ga", (const char *[]){ "sh", "idx0", NULL },
                   (const char *[]){ "ga", NULL });
    attr_i(&n, "axis", 0);
    pb_msg(&g, G_NODE, &n);
    n = node_begin("Unsqueeze", "un", (const char *[]){ "ga", NULL },
                   (const char *[]){ "un", NULL });
    attr_is(&n, "axes", &zero, 1);
    pb_msg(&g, G_NODE, &n);
    n = node_begin("Constant", "k3", (const char *[]){ NULL }, (const char *[]){ "k3", NULL });
    {
        pb a = { 0 };
        const int64_t three = 3;
        pb_str(&a, A_NAME, "value");
        tensor_i(&a, A_T, "k3v", d1, 1, &three, 1);
        pb_int(&a, A_TYPE, 4);
        pb_msg(&n, N_ATTR, &a);
    }
    pb_msg(&g, G_NODE, &n);
    n = node_begin("Concat", "cc", (const char *[]){ "un", "m1", "k3", NULL },
                   (const char *[]){ "cc", NULL });
    attr_i(&n, "axis", 0);
    pb_msg(&g, G_NODE, &n);
    n = node_begin("Reshape", "rs", (const char *[]){ "tr", "cc", NULL },
                   (const char *[]){ "rs", NULL });
    pb_msg(&g, G_NODE, &n);
    n = node_begin(k->sig_op, "sg", (const char *[]){ "rs", NULL }, (const char *[]){ "y", NULL });
    pb_msg(&g, G_NODE, &n);
    n = node_begin("Conv", "pw", (const char *[]){ "c1", "WP", NULL },
                   (const char *[]){ "z", NULL });
    attr_is(&n, "kernel_shape", (const int64_t[]){ 1, 1 }, 2);
    pb_msg(&g, G_NODE, &n);
    if (k->sibling) {
        n = node_begin("Conv", "pw2", (const char *[]){ "c1", "WP", NULL },
                       (const char *[]){ "z2", NULL });
        pb_msg(&g, G_NODE, &n);
    }

    pb_str(&g, G_NAME, "hand");
    tensor_f(&g, G_INIT, "W1", d_w1, 4, W1, k->raw_short ? 3 * CIN * 9 - 1 : 3 * CIN * 9, 1);
    tensor_f(&g, G_INIT, "B1", d_b, 1, B1, 3, 0);
    if (k->external) {
        pb t = { 0 };
        for (int i = 0; i < 4; i++)
            pb_int(&t, T_DIMS, d_wd[i]);
        pb_int(&t, T_TYPE, 1);
        pb_str(&t, T_NAME, "WD");
        pb_int(&t, T_LOC, 1);
        pb_msg(&g, G_INIT, &t);
    } else {
        tensor_f(&g, G_INIT, "WD", d_wd, 4, k->group2 ? wd6 : WD, k->group2 ? 54 : 27, 1);
    }
    tensor_f(&g, G_INIT, "BD", k->rank9 ? d_bd9 : d_b, k->rank9 ? 9 : 1, BD, 3, 1);
    tensor_f(&g, G_INIT, "WP", d_wp, 4, WP, 6, 0);
    tensor_f(&g, G_INIT, "roi", d0, 1, NULL, 0, 1);
    tensor_f(&g, G_INIT, "scales", d4, 1, scales, 4, 1);
    tensor_i(&g, G_INIT, "idx0", NULL, 0, &zero, 1);
    tensor_i(&g, G_INIT, "m1", d1, 1, &minus1, 1);
    const int64_t x_dims[4] = { -1, CIN, -1, -1 }, y_dims[3] = { -1, -1, 3 };
    const int64_t z_dims[4] = { -1, 2, -1, -1 };
    value_info(&g, G_INPUT, "x", x_dims, 4);
    value_info(&g, G_INPUT, "W1", d_w1, 4); /* IR 3 style: an initializer among the inputs */
    value_info(&g, G_OUTPUT, "y", y_dims, 3);
    value_info(&g, G_OUTPUT, "z", z_dims, 4);
    if (k->sibling) value_info(&g, G_OUTPUT, "z2", z_dims, 4);

    pb m = { 0 };
    if (k->ir) pb_int(&m, M_IR, k->ir);
    pb_str(&m, M_PRODUCER, "test_yunet");
    if (k->graph_cut && k->graph_cut < g.n) g.n = k->graph_cut;
    if (!k->no_graph)
        pb_msg(&m, M_GRAPH, &g);
    else
        free(g.b);
    if (k->opset) {
        pb o = { 0 };
        pb_str(&o, 1, "");
        pb_int(&o, 2, k->opset);
        pb_msg(&m, M_OPSET, &o);
    }
    return m;
}

/* Parses the hand model; the caller frees. */
static ft__onnx_graph *parse_hand(const knobs *k, int *rc)
{
    pb m = hand_model(k);
    ft__onnx_graph *g = NULL;
    err[0] = 0;
    *rc = ft__onnx_parse("hand.onnx", m.b, m.n, &g, err, sizeof err);
    free(m.b);
    return g;
}

static const ft__onnx_node *node_named(const ft__onnx_graph *g, const char *name)
{
    for (int i = 0; i < g->n_node; i++)
        if (strcmp(g->node[i].name, name) == 0) return &g->node[i];
    ft_test_fail(__FILE__, __LINE__, "no node %s", name);
}

static void test_onnx_reader_hand_model(void)
{
    int rc;
    ft__onnx_graph *g = parse_hand(&GOOD, &rc);
    if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "parse: %d %s", rc, err);
    ASSERT_EQ(g->ir_version, 7);
    ASSERT_EQ(g->opset, 11);
    ASSERT_EQ(g->n_node, 15);
    ASSERT_EQ(g->n_init, 9);
    /* W1 is listed among the inputs too, but is an initializer */
    ASSERT_EQ(g->n_input, 1);
    ASSERT(strcmp(g->input[0].name, "x") == 0);
    ASSERT_EQ(g->input[0].rank, 4);
    ASSERT_EQ(g->input[0].elem_type, 1);
    ASSERT(g->input[0].dims[0] == -1 && g->input[0].dims[1] == CIN && g->input[0].dims[3] == -1);
    ASSERT_EQ(g->n_output, 2);
    ASSERT(strcmp(g->output[0].name, "y") == 0 && strcmp(g->output[1].name, "z") == 0);
    ASSERT(g->output[0].rank == 3 && g->output[0].dims[2] == 3);

    const ft__onnx_tensor *t = ft__onnx_init_find(g, "W1"); /* raw_data */
    ASSERT(t && t->dtype == 1 && t->rank == 4 && t->count == 3 * CIN * 9);
    ASSERT(t->dims[0] == 3 && t->dims[1] == CIN && t->dims[2] == 3 && t->dims[3] == 3);
    ASSERT(memcmp(t->f, W1, sizeof W1) == 0);
    t = ft__onnx_init_find(g, "B1"); /* float_data */
    ASSERT(t && t->count == 3 && t->f[0] == -0.25f && t->f[1] == 0.0f && t->f[2] == 0.25f);
    t = ft__onnx_init_find(g, "idx0"); /* a scalar */
    ASSERT(t && t->dtype == 7 && t->rank == 0 && t->count == 1 && t->i64[0] == 0);
    t = ft__onnx_init_find(g, "m1");
    ASSERT(t && t->i64 && t->i64[0] == -1 && !t->f);
    t = ft__onnx_init_find(g, "roi"); /* empty */
    ASSERT(t && t->count == 0 && t->rank == 1 && t->dims[0] == 0 && t->f);
    ASSERT(ft__onnx_init_find(g, "x") == NULL);

    const ft__onnx_node *n = &g->node[0];
    ASSERT(strcmp(n->op_type, "Conv") == 0 && strcmp(n->name, "c1") == 0);
    ASSERT(n->n_in == 3 && strcmp(n->in[2], "B1") == 0 && n->n_out == 1);
    const ft__onnx_attr *a = ft__onnx_attr_find(n, "pads");
    ASSERT(a && a->kind == FT__ONNX_ATTR_INTS && a->n == 4 && a->ints[3] == 1);
    a = ft__onnx_attr_find(n, "group");
    ASSERT(a && a->kind == FT__ONNX_ATTR_INT && a->i == 1);
    ASSERT(ft__onnx_attr_find(n, "auto_pad") == NULL);
    n = node_named(g, "up");
    a = ft__onnx_attr_find(n, "mode");
    ASSERT(a && a->kind == FT__ONNX_ATTR_STRING && strcmp(a->s, "nearest") == 0);
    a = ft__onnx_attr_find(n, "cubic_coeff_a");
    ASSERT(a && a->kind == FT__ONNX_ATTR_FLOAT && a->f == -0.75f);
    a = ft__onnx_attr_find(node_named(g, "add"), "unread");
    ASSERT(a && a->kind == FT__ONNX_ATTR_FLOATS && a->n == 4 && a->floats[2] == 2.0f);
    n = node_named(g, "k3");
    ASSERT(n->n_in == 0 && n->n_out == 1);
    a = ft__onnx_attr_find(n, "value");
    ASSERT(a && a->kind == FT__ONNX_ATTR_TENSOR && a->t->dtype == 7 && a->t->i64[0] == 3);
    ASSERT(strcmp(a->t->name, "k3v") == 0);
    ft__onnx_free(g);
    no_leaks();
}

/* Every malformed variant is FT_EMODEL, naming the file and the fault. */
static void test_onnx_reader_rejects_malformed(void)
{
    struct {
        knobs k;
        const char *want;
    } cases[8];
    for (int i = 0; i < 8; i++)
        cases[i].k = GOOD;
    cases[0].k.raw_short = 1, cases[0].want = "initializer W1 holds 212 bytes of float data";
    cases[1].k.neg_dim = 1, cases[1].want = "initializer B1 has dim 0 = -3";
    cases[2].k.external = 1, cases[2].want = "initializer WD is stored in an external file";
    cases[3].k.rank9 = 1, cases[3].want = "initializer BD has rank 9";
    cases[4].k.no_graph = 1, cases[4].want = "no graph nodes";
    cases[5].k.opset = 0, cases[5].want = "no default opset";
    cases[6].k.ir = 0, cases[6].want = "no IR version";
    cases[7].k.ir = 2, cases[7].want = "no IR version 3 or later";
    for (int i = 0; i < 8; i++) {
        int rc;
        ft__onnx_graph *g = parse_hand(&cases[i].k, &rc);
        if (rc != FT_EMODEL || g)
            ft_test_fail(__FILE__, __LINE__, "case %d: rc %d (%s)", i, rc, err);
        ASSERT_STR_CONTAINS(err, "hand.onnx");
        ASSERT_STR_CONTAINS(err, cases[i].want);
    }
    /* bytes that are not protobuf at all */
    unsigned char junk[4096];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        junk[i] = (unsigned char)s;
    }
    ft__onnx_graph *g = NULL;
    ASSERT_EQ(ft__onnx_parse("junk.onnx", junk, sizeof junk, &g, err, sizeof err), FT_EMODEL);
    ASSERT(g == NULL);
    ASSERT_STR_CONTAINS(err, "junk.onnx: not an ONNX model");
    ASSERT_EQ(ft__onnx_parse("empty.onnx", junk, 0, &g, err, sizeof err), FT_EMODEL);
    ASSERT_STR_CONTAINS(err, "empty.onnx: not an ONNX model");
    no_leaks();
}

/* Parses bytes, and builds and runs what parses; FT_OK or FT_EMODEL only.
** Returns 1 if it parsed, 2 if it also built. */
static int parse_build_run(const unsigned char *b, size_t n, const char *what, size_t cut)
{
    ft__onnx_graph *g = NULL;
    err[0] = 0;
    int rc = ft__onnx_parse("cut.onnx", b, n, &g, err, sizeof err);
    if (rc != FT_OK) {
        if (rc != FT_EMODEL || g || !strstr(err, "cut.onnx"))
            ft_test_fail(__FILE__, __LINE__, "%s cut at %zu: rc %d (%s)", what, cut, rc, err);
        return 0;
    }
    ft__onnx_net *net = NULL;
    rc = ft__onnx_net_build(g, &net, err, sizeof err);
    if (rc != FT_OK && (rc != FT_EMODEL || net || !strstr(err, "cut.onnx")))
        ft_test_fail(__FILE__, __LINE__, "%s cut at %zu: build rc %d (%s)", what, cut, rc, err);
    if (net) {
        float x[8 * 8 * CIN + 64] = { 0 };
        ft__tensor in = { x, 8, 8, CIN }, out[8];
        ASSERT(ft__onnx_net_n_outputs(net) <= 8);
        rc = ft__onnx_net_run(&XNN, net, &in, out, err, sizeof err);
        if (rc != FT_OK && rc != FT_EINVAL)
            ft_test_fail(__FILE__, __LINE__, "%s cut at %zu: run rc %d (%s)", what, cut, rc, err);
    }
    ft__onnx_net_free(net);
    ft__onnx_free(g);
    return net ? 2 : 1;
}

/* Every prefix of the hand model, and every prefix of its graph inside an
** intact model: the reader, and the interpreter on what it reads, fail
** cleanly or work; none crashes or leaks. */
static void test_onnx_reader_every_cut(void)
{
    pb m = hand_model(&GOOD);
    int n_parsed = 0, n_built = 0;
    for (size_t cut = 0; cut < m.n; cut++)
        n_parsed += parse_build_run(m.b, cut, "model", cut) > 0;
    free(m.b);
    printf("# %d of the model's prefixes parse (ending on a field boundary)\n", n_parsed);
    n_parsed = 0;
    for (size_t cut = 1;; cut++) {
        knobs k = GOOD;
        k.graph_cut = cut;
        m = hand_model(&k);
        int r = parse_build_run(m.b, m.n, "graph", cut);
        n_parsed += r > 0, n_built += r > 1;
        knobs full = GOOD;
        pb whole = hand_model(&full);
        int done = m.n == whole.n;
        free(m.b), free(whole.b);
        if (done) break;
    }
    printf("# graph prefixes: %d parse, %d of them build\n", n_parsed, n_built);
    ASSERT(n_built >= 1 && n_parsed > n_built);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* The interpreter on the hand model                                        */
/* ------------------------------------------------------------------------ */

/* NCHW conv from the ONNX definition: w (O, I/group, kh, kw). */
static void nchw_conv(const float *x, int c, int h, int w, const float *wt, const float *b, int o,
                      int k, int s, int p, int group, int relu, float *y, int *oh, int *ow)
{
    *oh = (h + 2 * p - k) / s + 1, *ow = (w + 2 * p - k) / s + 1;
    int ipg = c / group, opg = o / group;
    for (int oc = 0; oc < o; oc++)
        for (int yy = 0; yy < *oh; yy++)
            for (int xx = 0; xx < *ow; xx++) {
                double acc = b ? b[oc] : 0;
                int gi = oc / opg;
                for (int ic = 0; ic < ipg; ic++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            int iy = yy * s + ky - p, ix = xx * s + kx - p;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            acc += (double)x[((size_t)(gi * ipg + ic) * h + iy) * w + ix] *
                                   wt[(((size_t)oc * ipg + ic) * k + ky) * k + kx];
                        }
                if (relu && acc < 0) acc = 0;
                y[((size_t)oc * *oh + yy) * *ow + xx] = (float)acc;
            }
}

/* Runs the hand net on an h x w input both ways and checks y and z. */
static void hand_net_check(ft__onnx_net *net, int h, int w, uint32_t seed)
{
    size_t n = (size_t)CIN * h * w;
    float *x = malloc(n * sizeof(float)), *xin = malloc((n + 64) * sizeof(float));
    float *c1 = malloc(n * 3 * sizeof(float)), *dw = malloc(n * 3 * sizeof(float));
    float *z = malloc(n * 2 * sizeof(float));
    ASSERT(x && xin && c1 && dw && z);
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        x[i] = (float)(seed % 2001) / 1000.0f - 1.0f;
    }
    for (int c = 0; c < CIN; c++) /* NCHW -> the net's NHWC */
        for (int i = 0; i < h * w; i++)
            xin[(size_t)i * CIN + c] = x[(size_t)c * h * w + i];
    int h1, w1, h2, w2;
    nchw_conv(x, CIN, h, w, W1, B1, 3, 3, 2, 1, 1, 1, c1, &h1, &w1);
    nchw_conv(c1, 3, h1, w1, WD, BD, 3, 3, 1, 1, 3, 0, dw, &h2, &w2);
    nchw_conv(c1, 3, h1, w1, WP, NULL, 2, 1, 1, 0, 1, 0, z, &h2, &w2);
    for (int pass = 0; pass < 2; pass++) {
        ft__tensor in = { xin, h, w, CIN }, out[2];
        ASSERT_OK(ft__onnx_net_run(pass ? &REF : &XNN, net, &in, out, err, sizeof err));
        ASSERT(out[0].h == h1 && out[0].w == w1 && out[0].c == 3);
        ASSERT(out[1].h == h1 && out[1].w == w1 && out[1].c == 2);
        double worst = 0;
        for (int c = 0; c < 3; c++)
            for (int yy = 0; yy < h1; yy++)
                for (int xx = 0; xx < w1; xx++) {
                    /* maxpool 2x2/2 then nearest 2x: the max of the 2x2 block */
                    int by = yy / 2 * 2, bx = xx / 2 * 2;
                    double up = -INFINITY;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++)
                            if (by + dy < h1 && bx + dx < w1)
                                up = fmax(up, dw[((size_t)c * h1 + by + dy) * w1 + bx + dx]);
                    double v = dw[((size_t)c * h1 + yy) * w1 + xx] + up;
                    double want = 1 / (1 + exp(-v));
                    double got = out[0].data[((size_t)yy * w1 + xx) * 3 + c];
                    worst = fmax(worst, fabs(got - want));
                }
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < h1 * w1; i++)
                worst =
                    fmax(worst, fabs(out[1].data[(size_t)i * 2 + c] - z[(size_t)c * h1 * w1 + i]));
        if (!(worst <= 1e-5))
            ft_test_fail(__FILE__, __LINE__, "hand net %dx%d %s: worst |diff| %.3g", w, h,
                         pass ? "ref" : "xnn", worst);
    }
    free(x), free(xin), free(c1), free(dw), free(z);
}

static void test_onnx_net_hand_graph(void)
{
    int rc;
    ft__onnx_graph *g = parse_hand(&GOOD, &rc);
    ASSERT_OK(rc);
    ft__onnx_net *net = NULL;
    if ((rc = ft__onnx_net_build(g, &net, err, sizeof err)) != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "build: %d %s", rc, err);
    ft__onnx_free(g); /* the net does not refer to the graph */
    int c, h, w;
    ft__onnx_net_input(net, &c, &h, &w);
    ASSERT(c == CIN && h == 0 && w == 0);
    ASSERT_EQ(ft__onnx_net_n_outputs(net), 2);
    ASSERT(strcmp(ft__onnx_net_output_name(net, 0), "y") == 0);
    ASSERT_EQ(ft__onnx_net_output_channels(net, 0), 3);
    ASSERT_EQ(ft__onnx_net_output_channels(net, 1), 2);
    hand_net_check(net, 12, 16, 7);
    hand_net_check(net, 20, 28, 8); /* another size, same net */
    hand_net_check(net, 4, 4, 9);
    /* a size whose pooled map does not upsample back: Add refuses */
    float in_data[10 * 12 * CIN + 64] = { 0 };
    ft__tensor in = { in_data, 10, 12, CIN }, out[2];
    ASSERT_EQ(ft__onnx_net_run(&XNN, net, &in, out, err, sizeof err), FT_EINVAL);
    ASSERT_STR_CONTAINS(err, "node add adds");
    in.c = 3;
    ASSERT_EQ(ft__onnx_net_run(&XNN, net, &in, out, err, sizeof err), FT_EINVAL);
    ft__onnx_net_free(net);
    no_leaks();
}

/* Two 1x1 convs on one input (siblings) run as one conv with their output
** channels side by side, then split back: here their outputs are graph
** outputs, so the split follows the merged conv directly; every output is
** the plain graph's (one conv), bit for bit. */
static void test_onnx_net_siblings(void)
{
    knobs k = GOOD;
    k.sibling = 1;
    int rc;
    ft__onnx_graph *g = parse_hand(&k, &rc);
    ASSERT_OK(rc);
    ft__onnx_net *net = NULL, *plain = NULL;
    if ((rc = ft__onnx_net_build(g, &net, err, sizeof err)) != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "build: %d %s", rc, err);
    ft__onnx_free(g);
    ASSERT_EQ(ft__onnx_net_n_outputs(net), 3);
    ASSERT(strcmp(ft__onnx_net_output_name(net, 2), "z2") == 0);
    ASSERT_EQ(ft__onnx_net_output_channels(net, 2), 2);
    g = parse_hand(&GOOD, &rc);
    ASSERT_OK(rc);
    ASSERT_OK(ft__onnx_net_build(g, &plain, err, sizeof err));
    ft__onnx_free(g);
    float x[20 * 28 * CIN + 64];
    for (int i = 0; i < 20 * 28 * CIN; i++)
        x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (int pass = 0; pass < 2; pass++) {
        const ft__nn_ctx *ctx = pass ? &REF : &XNN;
        ft__tensor in = { x, 20, 28, CIN }, out[3], want[2];
        ASSERT_OK(ft__onnx_net_run(ctx, plain, &in, want, err, sizeof err));
        ASSERT_OK(ft__onnx_net_run(ctx, net, &in, out, err, sizeof err));
        size_t ny = ft__tensor_count(&want[0]), nz = ft__tensor_count(&want[1]);
        ASSERT(ft__tensor_count(&out[0]) == ny);
        ASSERT(memcmp(out[0].data, want[0].data, ny * sizeof(float)) == 0);
        ASSERT(ft__tensor_count(&out[1]) == nz && ft__tensor_count(&out[2]) == nz);
        ASSERT(out[2].h == want[1].h && out[2].w == want[1].w && out[2].c == 2);
        ASSERT(memcmp(out[1].data, want[1].data, nz * sizeof(float)) == 0);
        ASSERT(memcmp(out[2].data, want[1].data, nz * sizeof(float)) == 0);
    }
    ft__onnx_net_free(net);
    ft__onnx_net_free(plain);
    no_leaks();
}

static void test_onnx_net_rejects_unsupported(void)
{
    struct {
        knobs k;
        const char *want;
    } cases[7];
    for (int i = 0; i < 7; i++)
        cases[i].k = GOOD;
    cases[0].k.sig_op = "Softmax", cases[0].want = "node sg (Softmax): operator Softmax";
    cases[1].k.mode = "linear", cases[1].want = "node up (Resize): only mode nearest";
    cases[2].k.relu_on_input = 1, cases[2].want = "node bad_relu (Relu)";
    cases[3].k.asym_pads = 1, cases[3].want = "node c1 (Conv): pads 1,1,0,0";
    cases[4].k.unknown = "nowhere", cases[4].want = "node add (Add): reads nowhere";
    cases[5].k.perm_other = 1, cases[5].want = "node tr (Transpose): only perm";
    cases[6].k.group2 = 1, cases[6].want = "node dw (Conv): group 2";
    for (int i = 0; i < 7; i++) {
        int rc;
        ft__onnx_graph *g = parse_hand(&cases[i].k, &rc);
        if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "case %d: parse %d %s", i, rc, err);
        ft__onnx_net *net = NULL;
        rc = ft__onnx_net_build(g, &net, err, sizeof err);
        if (rc != FT_EMODEL || net)
            ft_test_fail(__FILE__, __LINE__, "case %d: build rc %d (%s)", i, rc, err);
        ASSERT_STR_CONTAINS(err, "hand.onnx: ");
        ASSERT_STR_CONTAINS(err, cases[i].want);
        ft__onnx_free(g);
    }
    /* a valid ONNX model that is not YuNet */
    pb m = hand_model(&GOOD);
    char path[256];
    tmp_path(path, sizeof path, "other.onnx");
    write_bytes(path, m.b, m.n);
    free(m.b);
    ft__yunet *y = NULL;
    ASSERT_EQ(ft__yunet_open(path, &y, err, sizeof err), FT_EMODEL);
    ASSERT(y == NULL);
    ASSERT_STR_CONTAINS(err, "other.onnx: input has 2 channels");
    rm_tmp();
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* The YuNet files                                                          */
/* ------------------------------------------------------------------------ */

/* Both files: pinned as models/yunet.sha256 says; the same weights. */
static void test_yunet_files(void)
{
    need_model(DYN_MODEL);
    FILE *f = fopen("models/yunet.sha256", "r");
    ASSERT(f != NULL);
    char line[512], hex[80], name[256];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%79s %255s", hex, name) != 2) continue;
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        const ft__model_pin *pin = ft__model_pin_find(base);
        if (!pin) ft_test_fail(__FILE__, __LINE__, "%s is not pinned", base);
        ASSERT(strcmp(pin->sha256, hex) == 0);
        char path[300];
        snprintf(path, sizeof path, "models/%s", name);
        struct stat st;
        ASSERT_EQ(stat(path, &st), 0);
        ASSERT_EQ(pin->size, (size_t)st.st_size);
        rows++;
    }
    fclose(f);
    ASSERT_EQ(rows, 2);

    ft__onnx_graph *gd = NULL, *gf = NULL;
    ASSERT_OK(ft__onnx_load(DYN_MODEL, &gd, err, sizeof err));
    ASSERT_OK(ft__onnx_load(FIXED_MODEL, &gf, err, sizeof err));
    ASSERT(gd->input[0].dims[2] == -1 && gd->input[0].dims[3] == -1);
    ASSERT(gf->input[0].dims[2] == 640 && gf->input[0].dims[3] == 640);
    int n_float = 0;
    size_t n_values = 0;
    for (int i = 0; i < gf->n_init; i++) {
        const ft__onnx_tensor *a = &gf->init[i];
        if (a->dtype != FT__ONNX_FLOAT || a->count == 0) continue;
        const ft__onnx_tensor *b = ft__onnx_init_find(gd, a->name);
        if (!b || b->count != a->count || memcmp(a->f, b->f, a->count * sizeof(float)) != 0)
            ft_test_fail(__FILE__, __LINE__, "initializer %s differs between the files", a->name);
        n_float++, n_values += a->count;
    }
    printf("# %d float initializers, %zu values, equal in both files\n", n_float, n_values);
    /* README: 75,856 parameters, batch norms included; they are folded into
    ** the convolutions in the export */
    ASSERT(n_values > 70000 && n_values < 75856);
    ASSERT_EQ(gd->n_output, 12);
    for (int k = 0; k < 12; k++)
        ASSERT(strcmp(gd->output[k].name, NAMES[k]) == 0);
    ft__onnx_free(gd);
    ft__onnx_free(gf);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* OpenCV reference                                                         */
/* ------------------------------------------------------------------------ */

typedef struct ref_out {
    int h[12], w[12], c[12];
    float *data[12];
    int n_dets;
    double (*dets)[15];
    double opencv_ms;
} ref_out;

static void ref_free(ref_out *r)
{
    for (int k = 0; k < 12; k++)
        free(r->data[k]);
    free(r->dets);
    memset(r, 0, sizeof *r);
}

static const char *python(void)
{
    const char *p = getenv("FT_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

/* Runs the script on image (its own padding to 32 when size_w is 0). */
static void run_ref(const char *model, const char *image, int size_w, int size_h, double score,
                    double nms, ref_out *r)
{
    memset(r, 0, sizeof *r);
    if (access(python(), X_OK) != 0) FT_SKIP("no /usr/bin/python3 (set FT_PYTHON)");
    char out[256], cmd[2048], size[64] = "";
    tmp_path(out, sizeof out, "ref.bin");
    if (size_w) snprintf(size, sizeof size, "--size %dx%d", size_w, size_h);
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' '%s' '%s' %s --score %.9g --nms %.9g --topk 5000",
             python(), REF_SCRIPT, model, image, out, size, score, nms);
    FILE *p = popen(cmd, "r");
    ASSERT(p != NULL);
    char line[256];
    while (fgets(line, sizeof line, p))
        sscanf(line, "# opencv_ms %lf", &r->opencv_ms);
    int st = pclose(p);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
        FT_SKIP("OpenCV for Python missing (apt install python3-opencv)");
    if (st != 0) ft_test_fail(__FILE__, __LINE__, "%s failed (status %d)", cmd, st);
    size_t n;
    unsigned char *b = read_bytes(out, &n), *q = b, *end = b + n;
#define TAKE(dst, len)                                                               \
    do {                                                                             \
        if ((size_t)(end - q) < (size_t)(len))                                       \
            ft_test_fail(__FILE__, __LINE__, "%s: reference output truncated", out); \
        memcpy((dst), q, (len));                                                     \
        q += (len);                                                                  \
    } while (0)
    char magic[4];
    int32_t n_out, dims[3], nd;
    TAKE(magic, 4);
    TAKE(&n_out, 4);
    ASSERT(memcmp(magic, "YNRF", 4) == 0 && n_out == 12);
    for (int k = 0; k < 12; k++) {
        TAKE(dims, 12);
        r->h[k] = dims[0], r->w[k] = dims[1], r->c[k] = dims[2];
        size_t cnt = (size_t)dims[0] * dims[1] * dims[2];
        r->data[k] = malloc(cnt * sizeof(float) + 64);
        ASSERT(r->data[k] != NULL);
        TAKE(r->data[k], cnt * sizeof(float));
    }
    TAKE(&nd, 4);
    r->n_dets = nd;
    r->dets = malloc((size_t)(nd ? nd : 1) * sizeof *r->dets);
    ASSERT(r->dets != NULL);
    TAKE(r->dets, (size_t)nd * sizeof *r->dets);
    ASSERT(q == end);
#undef TAKE
    free(b);
}

/* max |ours - OpenCV| over the twelve outputs; prints the worst. */
static double raw_diff(const ft__tensor *ours, const ref_out *r, const char *what)
{
    double worst = 0;
    int wk = 0;
    size_t wi = 0;
    for (int k = 0; k < 12; k++) {
        if (ours[k].h != r->h[k] || ours[k].w != r->w[k] || ours[k].c != r->c[k])
            ft_test_fail(__FILE__, __LINE__, "%s: %s is %dx%dx%d, OpenCV's %dx%dx%d", what,
                         NAMES[k], ours[k].h, ours[k].w, ours[k].c, r->h[k], r->w[k], r->c[k]);
        size_t n = (size_t)r->h[k] * r->w[k] * r->c[k];
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)ours[k].data[i] - (double)r->data[k][i]);
            if (!(d <= worst)) worst = d, wk = k, wi = i;
        }
    }
    printf("# %s: max |ours - OpenCV| %.3g at %s[%zu] (ours %.7g, OpenCV %.7g), OpenCV %.1f ms\n",
           what, worst, NAMES[wk], wi, ours[wk].data[wi], r->data[wk][wi], r->opencv_ms);
    return worst;
}

/* Loads a parity photo. */
static ft_image *photo(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/parity/%s", name);
    ft_image *img = NULL;
    if (ft_image_load(path, 0, &img, err, sizeof err) != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "%s", err);
    return img;
}

/* The region (x, y, w, h) of img pasted at (dx, dy) into a new w2 x h2
** image filled with fill. */
static ft_image *compose(const ft_image *img, int x, int y, int w, int h, int w2, int h2, int dx,
                         int dy, int scale, uint8_t fill)
{
    ft_image *o = NULL;
    ASSERT_OK(ft_image_create(w2, h2, &o));
    memset(o->rgb, fill, (size_t)w2 * h2 * 3);
    for (int yy = 0; yy < h * scale; yy++)
        for (int xx = 0; xx < w * scale; xx++) {
            int ty = dy + yy, tx = dx + xx;
            if (ty < 0 || ty >= h2 || tx < 0 || tx >= w2) continue;
            memcpy(o->rgb + ((size_t)ty * w2 + tx) * 3,
                   img->rgb + ((size_t)(y + yy / scale) * img->width + x + xx / scale) * 3, 3);
        }
    return o;
}

static ft__yunet *open_net(const char *path)
{
    need_model(path);
    ft__yunet *net = NULL;
    int rc = ft__yunet_open(path, &net, err, sizeof err);
    if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "open %s: %d %s", path, rc, err);
    return net;
}

/* Our raw outputs for img (padded by ft__yunet_input). */
static void forward_image(const ft__nn_ctx *ctx, ft__yunet *net, const ft_image *img,
                          ft__tensor *out, float **buf)
{
    int pw, ph;
    ft__yunet_padded_size(img->width, img->height, &pw, &ph);
    *buf = malloc(((size_t)pw * ph * 3 + 64) * sizeof(float));
    ASSERT(*buf != NULL);
    ft__yunet_input(img, *buf);
    int rc = ft__yunet_forward(ctx, net, *buf, ph, pw, out);
    if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "forward: %s", ft__yunet_errmsg(net));
}

/* The fixed file at 640x640 against OpenCV on the same pixels. */
static void test_yunet_raw_vs_opencv_640(void)
{
    ft__yunet *net = open_net(FIXED_MODEL);
    ft_image *s1 = photo("sample1_q.png");
    ft_image *img = compose(s1, 0, 0, s1->width, s1->height, 640, 640, 0, 0, 1, 0);
    char png[256];
    tmp_path(png, sizeof png, "s1_640.png");
    ASSERT_OK(ft_image_save_png(img, png, err, sizeof err));
    ref_out r;
    run_ref(FIXED_MODEL, png, 640, 640, 0.5, 0.45, &r);
    ft__tensor out[12];
    float *buf;
    forward_image(&XNN, net, img, out, &buf);
    double d = raw_diff(out, &r, "fixed file, sample1 at 640x640");
    if (!(d <= RAW_TOL)) ft_test_fail(__FILE__, __LINE__, "raw outputs differ by %.3g", d);
    /* the dynamic file runs the same weights: same numbers, bit for bit */
    ft__yunet *dyn = open_net(DYN_MODEL);
    ft__tensor out2[12];
    float *buf2;
    forward_image(&XNN, dyn, img, out2, &buf2);
    for (int k = 0; k < 12; k++)
        ASSERT(memcmp(out[k].data, out2[k].data, ft__tensor_count(&out[k]) * sizeof(float)) == 0);
    free(buf), free(buf2);
    ref_free(&r);
    ft_image_destroy(img);
    ft_image_destroy(s1);
    ft__yunet_close(net);
    ft__yunet_close(dyn);
    rm_tmp();
    no_leaks();
}

/* The dynamic file at other sizes (not multiples of 32: the padding is ours
** on one side, OpenCV's on the other) against OpenCV on the fixed file. */
static void test_yunet_dynamic_vs_opencv_sizes(void)
{
    ft__yunet *net = open_net(DYN_MODEL);
    ft_image *s4 = photo("sample4_q.png"), *s5 = photo("sample5_crop512.png");
    ft_image *crop = compose(s5, 96, 100, 320, 240, 320, 240, 0, 0, 1, 0);
    ft_image *odd = compose(s5, 0, 0, 333, 201, 333, 201, 0, 0, 1, 0);
    struct {
        ft_image *img;
        const char *name;
    } cases[3] = { { s4, "sample4 480x362" },
                   { crop, "sample5 crop 320x240" },
                   { odd, "sample5 crop 333x201" } };
    for (int i = 0; i < 3; i++) {
        char png[256];
        tmp_path(png, sizeof png, "in.png");
        ASSERT_OK(ft_image_save_png(cases[i].img, png, err, sizeof err));
        ref_out r;
        run_ref(FIXED_MODEL, png, 0, 0, 0.5, 0.45, &r);
        ft__tensor out[12];
        float *buf;
        forward_image(&XNN, net, cases[i].img, out, &buf);
        double d = raw_diff(out, &r, cases[i].name);
        if (!(d <= RAW_TOL))
            ft_test_fail(__FILE__, __LINE__, "%s: raw outputs differ by %.3g", cases[i].name, d);
        free(buf);
        ref_free(&r);
    }
    ft_image_destroy(s4);
    ft_image_destroy(s5);
    ft_image_destroy(crop);
    ft_image_destroy(odd);
    ft__yunet_close(net);
    rm_tmp();
    no_leaks();
}

static void test_yunet_xnn_vs_ref(void)
{
    ft__yunet *net = open_net(DYN_MODEL);
    ft_image *img = photo("sample5_crop512.png");
    ft__tensor ox[12], orf[12];
    float *bx, *br;
    forward_image(&XNN, net, img, ox, &bx);
    /* copy: the views are valid only until the next forward */
    float *copy[12];
    for (int k = 0; k < 12; k++) {
        size_t n = ft__tensor_count(&ox[k]);
        copy[k] = malloc(n * sizeof(float));
        ASSERT(copy[k] != NULL);
        memcpy(copy[k], ox[k].data, n * sizeof(float));
    }
    forward_image(&REF, net, img, orf, &br);
    double worst = 0, max_ref = 0;
    int wk = 0;
    for (int k = 0; k < 12; k++) {
        ASSERT(ox[k].h == orf[k].h && ox[k].w == orf[k].w && ox[k].c == orf[k].c);
        for (size_t i = 0; i < ft__tensor_count(&orf[k]); i++) {
            double d = fabs((double)copy[k][i] - orf[k].data[i]);
            if (!(d <= worst)) worst = d, wk = k;
            max_ref = fmax(max_ref, fabs(orf[k].data[i]));
        }
        free(copy[k]);
    }
    printf("# 512x384: max |xnn - ref| %.3g (in %s; max |ref| %.3g)\n", worst, NAMES[wk], max_ref);
    if (!(worst <= RAW_TOL)) ft_test_fail(__FILE__, __LINE__, "xnn vs ref: %.3g", worst);
    ASSERT(max_ref > 1);
    free(bx), free(br);
    ft_image_destroy(img);
    ft__yunet_close(net);
    no_leaks();
}

/* Copies of the twelve raw outputs (views last only until the next run). */
static void copy_outputs(const ft__tensor *o, float **copy)
{
    for (int k = 0; k < 12; k++) {
        size_t n = ft__tensor_count(&o[k]);
        copy[k] = malloc(n * sizeof(float));
        ASSERT(copy[k] != NULL);
        memcpy(copy[k], o[k].data, n * sizeof(float));
    }
}

/* Makes input rows from a whole input (ft__onnx_rows_fn), checking they are
** asked for once each, in order. */
typedef struct rows_check {
    const float *all;
    int w, next, calls;
} rows_check;

static void rows_from(void *arg, int y0, int y1, float *dst)
{
    rows_check *r = arg;
    ASSERT(y0 == r->next && y1 > y0);
    memcpy(dst, r->all + (size_t)y0 * r->w * 3, (size_t)(y1 - y0) * r->w * 3 * sizeof(float));
    r->next = y1, r->calls++;
}

/* The chains of layers in bands of rows (one row of the last layer per band,
** 64 KB bands, the default) give the whole run's outputs bit for bit; so
** does an input made by rows, each row once. */
static void test_yunet_bands(void)
{
    need_model(DYN_MODEL);
    ft__yunet *net = open_net(DYN_MODEL);
    ft_image *s5 = photo("sample5_crop512.png");
    ft_image *odd = compose(s5, 0, 0, 333, 201, 333, 201, 0, 0, 1, 0);
    ft_image *imgs[2] = { s5, odd };
    const size_t budgets[3] = { 1, 64 << 10, 0 };
    ft__onnx_graph *g = NULL;
    ft__onnx_net *raw = NULL;
    ASSERT_OK(ft__onnx_load(DYN_MODEL, &g, err, sizeof err));
    ASSERT_OK(ft__onnx_net_build(g, &raw, err, sizeof err));
    ft__onnx_free(g);
    for (int i = 0; i < 2; i++) {
        ft__tensor out[12];
        float *buf, *whole[12];
        ft__onnx_whole(1);
        forward_image(&XNN, net, imgs[i], out, &buf);
        copy_outputs(out, whole);
        free(buf);
        ft__onnx_whole(0);
        for (int b = 0; b < 3; b++) {
            ft__onnx_band_bytes(budgets[b]);
            forward_image(&XNN, net, imgs[i], out, &buf);
            for (int k = 0; k < 12; k++)
                if (memcmp(out[k].data, whole[k], ft__tensor_count(&out[k]) * sizeof(float)))
                    ft_test_fail(__FILE__, __LINE__,
                                 "%dx%d, bands of %zu bytes: %s differs from the whole run",
                                 imgs[i]->width, imgs[i]->height, budgets[b], NAMES[k]);
            free(buf);
            /* the input by rows, through the interpreter itself */
            int pw, ph;
            ft__yunet_padded_size(imgs[i]->width, imgs[i]->height, &pw, &ph);
            buf = malloc(((size_t)pw * ph * 3 + 64) * sizeof(float));
            ASSERT(buf != NULL);
            ft__yunet_input(imgs[i], buf);
            rows_check rc = { buf, pw, 0, 0 };
            ft__tensor ro[12];
            ASSERT_OK(
                ft__onnx_net_run_rows(&XNN, raw, ph, pw, rows_from, &rc, ro, err, sizeof err));
            ASSERT(rc.next == ph && (b == 2 || rc.calls > 1));
            for (int k = 0; k < 12; k++) {
                const char *name = ft__onnx_net_output_name(raw, k);
                int j = 0;
                while (j < 12 && strcmp(NAMES[j], name) != 0)
                    j++;
                ASSERT(j < 12);
                if (memcmp(ro[k].data, whole[j], ft__tensor_count(&ro[k]) * sizeof(float)))
                    ft_test_fail(__FILE__, __LINE__,
                                 "%dx%d, bands of %zu bytes, input by rows: %s differs from the "
                                 "whole run",
                                 imgs[i]->width, imgs[i]->height, budgets[b], name);
            }
            free(buf);
        }
        for (int k = 0; k < 12; k++)
            free(whole[k]);
    }
    ft__onnx_band_bytes(0);
    ft__onnx_net_free(raw);
    ft_image_destroy(s5);
    ft_image_destroy(odd);
    ft__yunet_close(net);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

/* max distance between our detections and the script's (same order). */
static double dets_diff(const ft__detections *d, const ref_out *r, const char *what)
{
    if (d->n != r->n_dets)
        ft_test_fail(__FILE__, __LINE__, "%s: %d detections, OpenCV's pipeline %d", what, d->n,
                     r->n_dets);
    double worst = 0, worst_score = 0;
    for (int i = 0; i < d->n; i++) {
        const ft__detection *a = &d->v[i];
        const double *b = r->dets[i];
        ASSERT_EQ(a->n_lm, 5);
        double v[15] = { a->x, a->y, a->w, a->h, a->score };
        for (int m = 0; m < 5; m++)
            v[5 + 2 * m] = a->lm[m][0], v[6 + 2 * m] = a->lm[m][1];
        for (int k = 0; k < 15; k++) {
            double e = fabs(v[k] - b[k]);
            if (k == 4)
                worst_score = fmax(worst_score, e);
            else if (!(e <= worst))
                worst = e;
        }
    }
    printf("# %s: %d faces, max |ours - script| %.3g px, score %.3g\n", what, d->n, worst,
           worst_score);
    return worst;
}

/* Our decoder on OpenCV's raw outputs vs the script's decoder on the same. */
static void test_yunet_decode_vs_script(void)
{
    need_model(FIXED_MODEL);
    const char *photos[2] = { "sample1_q.png", "sample5_crop512.png" };
    const double scores[3] = { 0.02, 0.3, 0.6 }, nms[3] = { 0.45, 0.3, 0.45 };
    for (int p = 0; p < 2; p++)
        for (int s = 0; s < 3; s++) {
            char path[256], what[128];
            snprintf(path, sizeof path, "tests/data/parity/%s", photos[p]);
            ref_out r;
            run_ref(FIXED_MODEL, path, 0, 0, scores[s], nms[s], &r);
            ft__tensor raw[12];
            for (int k = 0; k < 12; k++)
                raw[k] = (ft__tensor){ r.data[k], r.h[k], r.w[k], r.c[k] };
            ft__detections d = { 0 };
            ASSERT_OK(ft__yunet_decode(raw, (float)scores[s], (float)nms[s], 5000, &d));
            snprintf(what, sizeof what, "decode %s, score >= %.2f, NMS %.2f", photos[p], scores[s],
                     nms[s]);
            double e = dets_diff(&d, &r, what);
            if (!(e <= 0.01)) ft_test_fail(__FILE__, __LINE__, "%s: %.3g px", what, e);
            ASSERT(d.n > 0);
            /* top_k keeps the best candidates only */
            ft__detections d1 = { 0 };
            ASSERT_OK(ft__yunet_decode(raw, (float)scores[s], (float)nms[s], 1, &d1));
            ASSERT_EQ(d1.n, 1);
            ASSERT(d1.v[0].score == d.v[0].score && d1.v[0].x == d.v[0].x);
            ft__detections_free(&d1);
            /* grids that disagree are refused */
            raw[4].h++;
            ASSERT_EQ(ft__yunet_decode(raw, 0.5f, 0.45f, 10, &d1), FT_EINVAL);
            ft__detections_free(&d);
            ref_free(&r);
        }
    rm_tmp();
    no_leaks();
}

/* Landmarks of a face: inside (a margin around) the box, eyes above the
** nose above the mouth, the subject's right eye and mouth corner on the
** image's left. */
static void check_face(const ft__detection *d, const char *what, int i)
{
    double mx = 0.15 * d->w, my = 0.15 * d->h;
    for (int m = 0; m < 5; m++)
        if (d->lm[m][0] < d->x - mx || d->lm[m][0] > d->x + d->w + mx || d->lm[m][1] < d->y - my ||
            d->lm[m][1] > d->y + d->h + my)
            ft_test_fail(__FILE__, __LINE__,
                         "%s face %d: landmark %d (%.1f, %.1f) outside box "
                         "%.1f,%.1f %.1fx%.1f",
                         what, i, m, d->lm[m][0], d->lm[m][1], d->x, d->y, d->w, d->h);
    const double(*p)[2] = d->lm;
    double eyes_y = (p[0][1] + p[1][1]) / 2, mouth_y = (p[3][1] + p[4][1]) / 2;
    if (!(eyes_y < p[2][1] && p[2][1] < mouth_y && p[0][0] < p[1][0] && p[3][0] < p[4][0]))
        ft_test_fail(__FILE__, __LINE__,
                     "%s face %d: eyes (%.1f,%.1f) (%.1f,%.1f), nose (%.1f,%.1f), mouth "
                     "(%.1f,%.1f) (%.1f,%.1f) out of order",
                     what, i, p[0][0], p[0][1], p[1][0], p[1][1], p[2][0], p[2][1], p[3][0],
                     p[3][1], p[4][0], p[4][1]);
    ASSERT(d->w > 20 && d->h > 20 && d->score >= 0.5 && d->score <= 1);
}

/* The whole pipeline on the sample photos: the faces they hold, plausible
** landmarks, and the same detections as OpenCV's pipeline in the script. */
static void test_yunet_detect_photos(void)
{
    ft__yunet *net = open_net(DYN_MODEL);
    const char *photos[2] = { "sample1_q.png", "sample5_crop512.png" };
    const int faces[2] = { 3, 5 }; /* counted by eye */
    for (int p = 0; p < 2; p++) {
        ft_image *img = photo(photos[p]);
        ft__detections d = { 0 };
        if (ft__yunet_detect(&XNN, net, img, 0.5f, FT__YUNET_NMS_IOU, FT__YUNET_TOP_K, &d) != 0)
            ft_test_fail(__FILE__, __LINE__, "detect: %s", ft__yunet_errmsg(net));
        if (d.n != faces[p])
            ft_test_fail(__FILE__, __LINE__, "%s: %d faces, it shows %d", photos[p], d.n, faces[p]);
        for (int i = 0; i < d.n; i++) {
            check_face(&d.v[i], photos[p], i);
            if (i) ASSERT(d.v[i].score <= d.v[i - 1].score);
            for (int j = 0; j < i; j++) { /* distinct faces */
                double cx = d.v[i].x + d.v[i].w / 2 - d.v[j].x - d.v[j].w / 2;
                double cy = d.v[i].y + d.v[i].h / 2 - d.v[j].y - d.v[j].h / 2;
                ASSERT(hypot(cx, cy) > d.v[i].w / 2);
            }
        }
        char path[256], what[128];
        snprintf(path, sizeof path, "tests/data/parity/%s", photos[p]);
        ref_out r;
        run_ref(FIXED_MODEL, path, 0, 0, 0.5, FT__YUNET_NMS_IOU, &r);
        snprintf(what, sizeof what, "detect %s vs OpenCV's pipeline", photos[p]);
        double e = dets_diff(&d, &r, what);
        if (!(e <= 0.1)) ft_test_fail(__FILE__, __LINE__, "%s: %.3g px", what, e);
        ref_free(&r);
        ft__detections_free(&d);
        ft_image_destroy(img);
    }
    ft__yunet_close(net);
    rm_tmp();
    no_leaks();
}

/* A 1920x1080 frame, whole: sample5 at twice its size in a grey frame. */
static void test_yunet_1080p(void)
{
    ft__yunet *net = open_net(DYN_MODEL);
    ft_image *s5 = photo("sample5_crop512.png");
    ft_image *frame = compose(s5, 0, 0, 512, 384, 1920, 1080, 448, 156, 2, 128);
    ft__detections small = { 0 }, big = { 0 };
    ASSERT_OK(ft__yunet_detect(&XNN, net, s5, 0.5f, 0.45f, 5000, &small));
    /* the first frame at a new size grows the buffers and sets the layers up */
    double t0 = ft__now();
    ASSERT_OK(ft__yunet_detect(&XNN, net, frame, 0.5f, 0.45f, 5000, &big));
    double first = (ft__now() - t0) * 1e3, best = INFINITY, total = 0;
    const int runs = 4;
    for (int i = 0; i < runs; i++) {
        big.n = 0;
        t0 = ft__now();
        ASSERT_OK(ft__yunet_detect(&XNN, net, frame, 0.5f, 0.45f, 5000, &big));
        double ms = (ft__now() - t0) * 1e3;
        best = fmin(best, ms), total += ms;
    }
    printf("# 1920x1080 frame (net input 1920x1088, no tiling), 1 thread: %.1f ms per frame "
           "(mean of %d; best %.1f), first frame %.1f ms\n",
           total / runs, runs, best, first);
    /* no tiling: one forward covers the frame with the stride-8 grid */
    ft__tensor raw[12];
    float *buf;
    forward_image(&XNN, net, frame, raw, &buf);
    ASSERT(raw[0].w == 240 && raw[0].h == 136 && raw[2].w == 60 && raw[2].h == 34);
    free(buf);
    ASSERT_EQ(big.n, small.n);
    for (int i = 0; i < big.n; i++) {
        const ft__detection *b = &big.v[i];
        check_face(b, "1080p", i);
        double best_iou = 0;
        for (int j = 0; j < small.n; j++) {
            const ft__detection *s = &small.v[j];
            double x = 2 * s->x + 448, y = 2 * s->y + 156, w = 2 * s->w, h = 2 * s->h;
            double iw = fmin(x + w, b->x + b->w) - fmax(x, b->x);
            double ih = fmin(y + h, b->y + b->h) - fmax(y, b->y);
            double in = iw > 0 && ih > 0 ? iw * ih : 0;
            best_iou = fmax(best_iou, in / (w * h + b->w * b->h - in));
        }
        if (!(best_iou > 0.7))
            ft_test_fail(__FILE__, __LINE__,
                         "1080p face %d matches no face of the small image "
                         "(best IoU %.2f)",
                         i, best_iou);
    }
    ft__detections_free(&small);
    ft__detections_free(&big);
    ft_image_destroy(frame);
    ft_image_destroy(s5);
    ft__yunet_close(net);
    no_leaks();
}

/* Sizes: forward needs multiples of 32; detect pads any image. */
static void test_yunet_sizes(void)
{
    ft__yunet *net = open_net(DYN_MODEL);
    int pw, ph;
    ft__yunet_padded_size(320, 240, &pw, &ph);
    ASSERT(pw == 320 && ph == 256);
    ft__yunet_padded_size(1920, 1080, &pw, &ph);
    ASSERT(pw == 1920 && ph == 1088);
    ft__yunet_padded_size(1, 33, &pw, &ph);
    ASSERT(pw == 32 && ph == 64);
    static float zeros[320 * 256 * 3 + 64];
    ft__tensor out[12];
    ASSERT_EQ(ft__yunet_forward(&XNN, net, zeros, 240, 320, out), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft__yunet_errmsg(net), "multiples of 32");
    ASSERT_OK(ft__yunet_forward(&XNN, net, zeros, 256, 320, out));
    ASSERT(out[0].h == 32 && out[0].w == 40 && out[11].h == 8 && out[11].w == 10);
    ASSERT(out[6].c == 4 && out[9].c == 10);
    /* the input order: BGR, 0..255, zeros in the padding */
    ft_image *px = NULL;
    ASSERT_OK(ft_image_create(33, 2, &px));
    px->rgb[0] = 10, px->rgb[1] = 20, px->rgb[2] = 30;
    px->rgb[(33 + 32) * 3 + 2] = 255;
    float *in = malloc(64 * 32 * 3 * sizeof(float));
    ASSERT(in != NULL);
    memset(in, 0xff, 64 * 32 * 3 * sizeof(float));
    ft__yunet_input(px, in);
    ASSERT(in[0] == 30 && in[1] == 20 && in[2] == 10);
    ASSERT(in[(64 + 32) * 3] == 255 && in[(64 + 32) * 3 + 1] == 0);
    for (int i = 0; i < 64 * 32 * 3; i++)
        ASSERT(in[i] == in[i] && in[i] >= 0);
    ASSERT(in[(64 + 33) * 3] == 0 && in[(31 * 64 + 63) * 3 + 2] == 0);
    free(in);
    /* tiny images: padded to 32, no faces, no failure */
    ft__detections d = { 0 };
    ASSERT_OK(ft__yunet_detect(&XNN, net, px, 0.5f, 0.45f, 5000, &d));
    ASSERT_EQ(d.n, 0);
    ft_image_destroy(px);
    ft__yunet_close(net);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Damaged files, allocation failures                                       */
/* ------------------------------------------------------------------------ */

static void expect_open_fails(const char *path, const char *want, const char *what)
{
    ft__yunet *net = NULL;
    err[0] = 0;
    int rc = ft__yunet_open(path, &net, err, sizeof err);
    if (rc != FT_EMODEL || net) ft_test_fail(__FILE__, __LINE__, "%s: rc %d (%s)", what, rc, err);
    ASSERT_STR_CONTAINS(err, path);
    if (want) ASSERT_STR_CONTAINS(err, want);
    printf("# %s: %s\n", what, err);
}

static void test_yunet_damaged_files(void)
{
    need_model(DYN_MODEL);
    size_t n;
    unsigned char *b = read_bytes(DYN_MODEL, &n);
    char pinned[256], other[256];
    tmp_path(pinned, sizeof pinned, "yunet_n_dynamic.onnx"); /* the pinned name */
    tmp_path(other, sizeof other, "yunet_copy.onnx");        /* a name with no pin */

    write_bytes(pinned, b, n / 2);
    expect_open_fails(pinned, "damaged or a different version", "truncated, pinned name");
    write_bytes(other, b, n / 2);
    expect_open_fails(other, NULL, "truncated, unpinned name");
    b[n / 3] ^= 0x40; /* same size, other bytes */
    write_bytes(pinned, b, n);
    expect_open_fails(pinned, "SHA-256", "one byte changed, pinned name");
    b[n / 3] ^= 0x40;
    unsigned char junk[8192];
    uint32_t s = 99;
    for (size_t i = 0; i < sizeof junk; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        junk[i] = (unsigned char)s;
    }
    write_bytes(other, junk, sizeof junk);
    expect_open_fails(other, "not an ONNX model", "garbage bytes");
    size_t png_n;
    unsigned char *png = read_bytes("tests/data/parity/sample1_q.png", &png_n);
    write_bytes(other, png, png_n);
    free(png);
    expect_open_fails(other, "not an ONNX model", "a PNG file");
    write_bytes(other, b, 0);
    expect_open_fails(other, "not an ONNX model", "empty file");
    tmp_path(other, sizeof other, "missing.onnx");
    expect_open_fails(other, NULL, "missing file");

    /* prefixes of the real file under a name with no pin: all refused */
    tmp_path(other, sizeof other, "yunet_copy.onnx");
    int n_cuts = 0;
    for (size_t cut = 1; cut < n; cut += cut < 4096 ? 97 : 4099, n_cuts++) {
        write_bytes(other, b, cut);
        ft__yunet *net = NULL;
        int rc = ft__yunet_open(other, &net, err, sizeof err);
        if (rc != FT_EMODEL || net)
            ft_test_fail(__FILE__, __LINE__, "cut at %zu of %zu: rc %d (%s)", cut, n, rc, err);
    }
    printf("# %d prefixes of %s refused\n", n_cuts, DYN_MODEL);
    free(b);
    rm_tmp();
    no_leaks();
}

static void test_yunet_alloc_failures(void)
{
    need_model(DYN_MODEL);
    int ok_at = -1, n_fail = 0;
    for (long n = 0; ok_at < 0 && n < 200000; n += n < 300 ? 1 : 53) {
        ft__yunet *net = NULL;
        err[0] = 0;
        ft__alloc_fail_after(n);
        int rc = ft__yunet_open(DYN_MODEL, &net, err, sizeof err);
        ft__alloc_fail_after(-1);
        if (rc == FT_OK) {
            ok_at = (int)n;
            ft__yunet_close(net);
            break;
        }
        if (rc != FT_ENOMEM || net || !err[0])
            ft_test_fail(__FILE__, __LINE__, "open failing after %ld allocations: rc %d (%s)", n,
                         rc, err);
        n_fail++;
    }
    if (ok_at < 0) ft_test_fail(__FILE__, __LINE__, "never opened");
    printf("# open: %d failing runs before success at %d allocations\n", n_fail, ok_at);
    ft_image *img = photo("sample1_q.png");
    int det_ok = -1;
    for (long n = 0; n < 100 && det_ok < 0; n++) {
        ft__yunet *net = open_net(DYN_MODEL);
        ft__detections d = { 0 };
        ft__alloc_fail_after(n);
        int rc = ft__yunet_detect(&XNN, net, img, 0.5f, 0.45f, 5000, &d);
        ft__alloc_fail_after(-1);
        if (rc == FT_OK) {
            det_ok = (int)n;
            ASSERT_EQ(d.n, 3);
        } else if (rc != FT_ENOMEM) {
            ft_test_fail(__FILE__, __LINE__, "detect failing after %ld allocations: rc %d", n, rc);
        }
        ft__detections_free(&d);
        ft__yunet_close(net);
    }
    ASSERT(det_ok > 0);
    printf("# detect: succeeds from %d allocations on\n", det_ok);
    ft_image_destroy(img);
    no_leaks();
}

FT_TESTS(FT_TEST(test_onnx_reader_hand_model), FT_TEST(test_onnx_reader_rejects_malformed),
         FT_TEST(test_onnx_reader_every_cut), FT_TEST(test_onnx_net_hand_graph),
         FT_TEST(test_onnx_net_siblings), FT_TEST(test_onnx_net_rejects_unsupported),
         FT_TEST(test_yunet_files), FT_TEST(test_yunet_raw_vs_opencv_640),
         FT_TEST(test_yunet_dynamic_vs_opencv_sizes), FT_TEST(test_yunet_xnn_vs_ref),
         FT_TEST(test_yunet_bands), FT_TEST(test_yunet_decode_vs_script),
         FT_TEST(test_yunet_detect_photos), FT_TEST(test_yunet_1080p), FT_TEST(test_yunet_sizes),
         FT_TEST(test_yunet_damaged_files), FT_TEST(test_yunet_alloc_failures))
