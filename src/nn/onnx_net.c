/*
** nn/onnx_net.c: compiles an ONNX graph (nn/onnx.h) into a sequence of nn.h
** layers and runs it at any input size.
**
** DESIGN
**   Build walks the nodes in file order (ONNX requires a topological one)
**   and gives every value a kind:
**     ACT    a feature map, ONNX NCHW, stored NHWC (h, w, c) in a buffer
**     NHWC   an ACT after Transpose(0, 2, 3, 1): the same memory, now in
**            its logical order
**     FLAT   an NHWC after Reshape to (1, -1, C): the same memory again
**     CONST  an initializer or a Constant node's tensor
**     SHAPE  a shape computed from Shape/Gather/Unsqueeze/Concat, kept as a
**            list of items: a known number (the batch, 1; a channel count;
**            a constant) or an unknown spatial size
**   Conv, MaxPool, Resize, Add and Sigmoid become steps (a layer, its input
**   and output values); Transpose and Reshape only make views; the shape
**   nodes are evaluated at build time, so that a Reshape's target is known
**   then. A Conv whose output only a Relu reads gets the ReLU as its clamp
**   (out_min 0), and the Relu node is skipped. A Resize that only an Add
**   reads (the top-down path of a feature pyramid) makes no step: the Add
**   adds the small map upsampled as it goes (OP_ADD_UP, one broadcasting
**   add), so the upsampled map is never written.
**
**   Siblings: regular convs that read one value with one window (a
**   detection head's 1x1 convs for class, box, objectness and landmarks)
**   run as one conv with their output channels side by side, reading the
**   value once; when each one's output has a single reader, a per-channel
**   conv (depthwise, or 1 channel to 1) all with one window, those readers
**   run as one depthwise conv too. Slices (a channel copy) then give each
**   original output back where it was made, so the graph's values keep
**   their meaning. Each channel of the merged conv is the single conv's
**   (test_onnx_net_siblings checks it bit for bit).
**
**   Chains: a run of conv and max-pool steps, each the only reader of the
**   one before (and that one no graph output), with explicit padding no
**   larger than the stride, is run in bands of rows instead of layer after
**   layer over the whole image. For each band of the last layer's output
**   rows, every layer computes the rows the next needs next, reading the
**   rows the one before kept; a layer's band buffer keeps at its start the
**   rows its reader has yet to read (the window's overlap) and drops the
**   rest. So the values inside a chain never exist whole, and what passes
**   from layer to layer stays in the cache (at 1920x1088, YuNet's first
**   seventeen layers write about 340 MB, and read it back, when run layer
**   after layer; in bands, about 8 MB: the last one's output). A
**   band's height is the most rows of the last layer that keep every
**   layer's band within BAND_BYTES; the reference path, and the test hook
**   ft__onnx_whole, run each chain as one band (the whole image), which is
**   the same computation as layer after layer. The layers' band operators
**   (nn.h) make the first and last bands pad as the whole layer does;
**   every output row is computed once, by the same kernel on the same
**   inputs, so banded outputs equal whole ones bit for bit. A 1x1 conv's
**   band that an AVX-512 depthwise conv (nn/kern_avx512.c) reads is a ring
**   of rows instead (row y in slot y % rows): the depthwise kernel takes a
**   pointer per row, so the rows kept need no moving, and the 1x1 conv,
**   which any row count suits, writes the rows that wrap around in a
**   second call. On a pool of
**   several threads chains run whole: every layer of every band would be a
**   parallel region of its own, and pthreadpool's workers meet at each
**   (two threads on the 2-core test machine, the other core busy: 0.9 s
**   a 1080p frame in bands, 0.5 s whole; 58 ms on one thread). A stripe of
**   rows per thread, each run in bands, would have both. A chain runs at
**   its last step's place (its steps need not be next to each other in
**   the list). When a chain alone reads the graph input,
**   ft__onnx_net_run_rows makes the input rows only as that chain's first
**   layer reads them (a band buffer of its own).
**
**   Buffers: values that steps produce get buffers by liveness, computed at
**   build: a step's output takes a free buffer before its inputs are
**   released, so no step writes over what it reads; a value is released
**   after its last reader (through any view of it); graph outputs never.
**   A chain counts as one step at its last step's place.
**   Buffers grow at run time to the sizes the current input needs, and are
**   kept for the next run.
**
** INVARIANTS  (1) a view's root is the step-produced value (or the input)
**                 that holds its data; views never have buffers of their own
**                 (nor do Resize outputs made inside an Add: their root is
**                 the map to upsample).
**             (2) the channel count of every ACT/NHWC/FLAT value is known at
**                 build; heights and widths only at run.
**             (3) nothing refers to the graph after build (names are copied,
**                 CONST data only passed to layer constructors, which copy).
**             (4) a value inside a chain is read by the chain's next step
**                 only; it has no buffer and no tensor in t[].
** THREADS     A net is used by one thread at a time.
*/
#include "nn/onnx.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#define MAX_ITEMS  8  /* SHAPE values: at most this many dims */
#define MAX_PAD    64 /* conv/pool padding bound (sanity, not a limit of the layers) */
#define MAX_KERNEL 64 /* conv/pool window bound */

enum vkind { V_UNSET = 0, V_INPUT, V_ACT, V_NHWC, V_FLAT, V_CONST, V_SHAPE };

typedef struct shape_item {
    int known; /* 0: a spatial size, known only at run */
    int64_t v;
} shape_item;

typedef struct value {
    char *name;
    enum vkind kind;
    int c;                      /* ACT/NHWC/FLAT: channels */
    int root;                   /* index of the value holding the data (itself unless a view) */
    int buf;                    /* buffer of a step-produced root, -1 otherwise */
    int last_use;               /* last step reading this root; INT_MAX for graph outputs */
    const ft__onnx_tensor *cst; /* CONST, during build only */
    int scalar;                 /* SHAPE: rank 0 (a Gather of one index) */
    int up;                     /* ACT > 1: root upsampled by up, made by the Add that
                                   alone reads it (no step, no buffer) */
    int n_items;
    shape_item item[MAX_ITEMS];
} value;

enum opk { OP_CONV, OP_POOL, OP_UPSAMPLE, OP_ADD, OP_SIGMOID, OP_ADD_UP, OP_SLICE };

typedef struct step {
    enum opk op;
    int in0, in1, out; /* value indexes (in1 -1 when unused) */
    int chain;         /* the chain the step is in, -1 if none */
    char *node;        /* node name, for messages */
    union {
        ft__conv conv;
        ft__pool pool;
        ft__upsample up;
        ft__add add;
        ft__sigmoid sig; /* OP_ADD_UP: up */
        ft__slice slice;
    } l;
} step;

/* One layer of a chain, and where its bands stand during a run. */
typedef struct link {
    int k, s, p;        /* window height, stride, vertical padding */
    int h, w, c;        /* output shape of this run */
    int done, end;      /* output rows [0, done) computed, [0, end) wanted by the band */
    int base;           /* first output row the band buffer holds */
    int rows;           /* most rows the band buffer holds (dry pass) */
    float *band;        /* output rows [base, done); not for the chain's last layer */
    size_t band_cap;    /* floats, slack excluded */
    int ring;           /* the band is a ring of rows: row y in slot y % rows (see DESIGN) */
    const float **ptrs; /* (rows) a ring's rows as its reader takes them */
    int ptrs_cap;
} link;

/* Consecutive conv/max-pool steps, each reading only the one before, run in
** bands of rows (see DESIGN). */
typedef struct chain {
    int first, last; /* steps: the first and last of steps[] */
    int n;
    int *steps; /* (n) in order, each reading the one before */
    link *l;    /* (n) */
    link src;   /* the input's band when a run makes the input by rows */
} chain;

struct ft__onnx_net {
    int in_c, in_h, in_w;
    int input; /* value index of the graph input */
    int n_v, cap_v;
    value *v;
    int n_s;
    step *s; /* (n_s), capacity n_node */
    int n_out;
    int *out; /* (n_out) value indexes */
    int n_buf;
    float **buf;
    size_t *buf_cap; /* floats, slack excluded */
    ft__tensor *t;   /* (n_v) run-time shape and data of each root */
    int n_chain;
    chain *chain;         /* (n_chain), capacity n_s */
    int src_chain;        /* the chain that alone reads the input, -1 if none */
    ft__onnx_rows_fn src; /* during ft__onnx_net_run_rows: makes input rows */
    void *src_arg;
    float *in_buf; /* ft__onnx_net_run_rows without src_chain: the whole input */
    size_t in_cap; /* floats, slack excluded */
};

/* ------------------------------------------------------------------------ */
/* Build helpers                                                            */
/* ------------------------------------------------------------------------ */

typedef struct builder {
    const ft__onnx_graph *g;
    ft__onnx_net *net;
    const ft__onnx_node *n; /* the node being compiled */
    unsigned char *skip;    /* (n_node) Relu nodes folded into a Conv */
    char *err;
    size_t errlen;
} builder;

/* FT_EMODEL with "path: node NAME (OP): message". */
static int node_err(builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int node_err(builder *b, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ft__errf(b->err, b->errlen, FT_EMODEL, "%s: node %s (%s): %s", b->g->path, b->n->name,
                    b->n->op_type, msg);
}

static int find_value(const ft__onnx_net *net, const char *name)
{
    for (int i = 0; i < net->n_v; i++)
        if (strcmp(net->v[i].name, name) == 0) return i;
    return -1;
}

/* Appends a value called name; its index, or -1 when out of memory. */
static int add_value(ft__onnx_net *net, const char *name, enum vkind kind)
{
    if (net->n_v == net->cap_v) {
        int cap = net->cap_v ? 2 * net->cap_v : 64;
        value *v = ft__realloc(net->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        net->v = v;
        net->cap_v = cap;
    }
    value *x = &net->v[net->n_v];
    memset(x, 0, sizeof *x);
    if (!(x->name = ft__strdup(name))) return -1;
    x->kind = kind;
    x->root = net->n_v;
    x->buf = -1;
    x->last_use = -1;
    return net->n_v++;
}

/* The value read by the node's input slot k: a known value, or an
** initializer (added as CONST on first use). -1 with a message if none. */
static int input_value(builder *b, int k, int *rc)
{
    if (k >= b->n->n_in || !b->n->in[k][0]) {
        *rc = node_err(b, "input %d is missing", k);
        return -1;
    }
    const char *name = b->n->in[k];
    int i = find_value(b->net, name);
    if (i >= 0) return i;
    const ft__onnx_tensor *t = ft__onnx_init_find(b->g, name);
    if (!t) {
        *rc = node_err(b, "reads %s, which no earlier node produces", name);
        return -1;
    }
    if ((i = add_value(b->net, name, V_CONST)) < 0) {
        *rc = FT_ENOMEM;
        return -1;
    }
    b->net->v[i].cst = t;
    return i;
}

/* Input slot k as a feature map (ACT). */
static int input_act(builder *b, int k, int *rc)
{
    int i = input_value(b, k, rc);
    if (i < 0) return -1;
    enum vkind kd = b->net->v[i].kind;
    if (kd != V_ACT && kd != V_INPUT) {
        *rc = node_err(b, "input %s is not an NCHW feature map", b->n->in[k]);
        return -1;
    }
    return i;
}

/* Input slot k as a constant tensor of dtype (rank rank, or any if < 0). */
static const ft__onnx_tensor *input_const(builder *b, int k, int dtype, int rank, int *rc)
{
    int i = input_value(b, k, rc);
    if (i < 0) return NULL;
    const ft__onnx_tensor *t = b->net->v[i].cst;
    if (b->net->v[i].kind != V_CONST || !t || t->dtype != dtype || (rank >= 0 && t->rank != rank)) {
        *rc = node_err(b, "input %s must be a constant %s tensor%s", b->n->in[k],
                       dtype == FT__ONNX_FLOAT ? "float" : "int64",
                       rank == 1   ? " of rank 1"
                       : rank == 4 ? " of rank 4"
                                   : "");
        return NULL;
    }
    return t;
}

/* Adds the node's output slot k as a new value of kind. */
static int output_value(builder *b, int k, enum vkind kind, int c, int *rc)
{
    if (k >= b->n->n_out || !b->n->out[k][0]) {
        *rc = node_err(b, "output %d is missing", k);
        return -1;
    }
    const char *name = b->n->out[k];
    if (find_value(b->net, name) >= 0 || ft__onnx_init_find(b->g, name)) {
        *rc = node_err(b, "output %s is produced twice", name);
        return -1;
    }
    int i = add_value(b->net, name, kind);
    if (i < 0) {
        *rc = FT_ENOMEM;
        return -1;
    }
    b->net->v[i].c = c;
    return i;
}

/* Integer attribute name, or def when absent. FT_EMODEL if of another kind. */
static int attr_int(builder *b, const char *name, int64_t def, int64_t *out)
{
    const ft__onnx_attr *a = ft__onnx_attr_find(b->n, name);
    *out = def;
    if (!a) return FT_OK;
    if (a->kind != FT__ONNX_ATTR_INT) return node_err(b, "attribute %s is not an integer", name);
    *out = a->i;
    return FT_OK;
}

/* Integer-list attribute name of exactly n entries into out (def when
** absent, if def is not NULL; else the attribute is required). */
static int attr_ints(builder *b, const char *name, int n, const int64_t *def, int64_t *out)
{
    const ft__onnx_attr *a = ft__onnx_attr_find(b->n, name);
    if (!a) {
        if (!def) return node_err(b, "attribute %s is missing", name);
        memcpy(out, def, (size_t)n * sizeof *out);
        return FT_OK;
    }
    if (a->kind != FT__ONNX_ATTR_INTS || a->n != n)
        return node_err(b, "attribute %s must be a list of %d integers", name, n);
    memcpy(out, a->ints, (size_t)n * sizeof *out);
    return FT_OK;
}

/* String attribute name (def when absent). */
static int attr_str(builder *b, const char *name, const char *def, const char **out)
{
    const ft__onnx_attr *a = ft__onnx_attr_find(b->n, name);
    *out = def;
    if (!a) return FT_OK;
    if (a->kind != FT__ONNX_ATTR_STRING) return node_err(b, "attribute %s is not a string", name);
    *out = a->s;
    return FT_OK;
}

/* A new step for the current node; NULL when out of memory. */
static step *new_step(builder *b, enum opk op, int in0, int in1, int *rc)
{
    step *s = &b->net->s[b->net->n_s];
    memset(s, 0, sizeof *s);
    s->op = op, s->in0 = in0, s->in1 = in1, s->out = -1, s->chain = -1;
    if (!(s->node = ft__strdup(b->n->name))) {
        *rc = FT_ENOMEM;
        return NULL;
    }
    b->net->n_s++;
    return s;
}

/* How many node inputs and graph outputs read the value called name. */
static int readers(const ft__onnx_graph *g, const char *name, int *only_node)
{
    int n = 0;
    *only_node = -1;
    for (int i = 0; i < g->n_node; i++)
        for (int k = 0; k < g->node[i].n_in; k++)
            if (strcmp(g->node[i].in[k], name) == 0) n++, *only_node = i;
    for (int i = 0; i < g->n_output; i++)
        if (strcmp(g->output[i].name, name) == 0) n++, *only_node = -1;
    return n;
}

/* The op_type of the node producing the value called name ("" if none). */
static const char *producer_op(const ft__onnx_graph *g, const char *name)
{
    for (int i = 0; i < g->n_node; i++)
        for (int k = 0; k < g->node[i].n_out; k++)
            if (strcmp(g->node[i].out[k], name) == 0) return g->node[i].op_type;
    return "";
}

/* ------------------------------------------------------------------------ */
/* Operators                                                                */
/* ------------------------------------------------------------------------ */

static int build_conv(builder *b, int node_index)
{
    int rc = FT_EMODEL;
    int x = input_act(b, 0, &rc);
    if (x < 0) return rc;
    const ft__onnx_tensor *w = input_const(b, 1, FT__ONNX_FLOAT, 4, &rc), *bias = NULL;
    if (!w) return rc;
    if (b->n->n_in > 2 && b->n->in[2][0] && !(bias = input_const(b, 2, FT__ONNX_FLOAT, 1, &rc)))
        return rc;
    int cin = b->net->v[x].c;
    int64_t group, k[2], st[2], pads[4], dil[2];
    const int64_t one2[2] = { 1, 1 }, zero4[4] = { 0, 0, 0, 0 };
    const char *auto_pad;
    if ((rc = attr_int(b, "group", 1, &group)) != FT_OK ||
        (rc = attr_ints(b, "kernel_shape", 2, w->dims + 2, k)) != FT_OK ||
        (rc = attr_ints(b, "strides", 2, one2, st)) != FT_OK ||
        (rc = attr_ints(b, "pads", 4, zero4, pads)) != FT_OK ||
        (rc = attr_ints(b, "dilations", 2, one2, dil)) != FT_OK ||
        (rc = attr_str(b, "auto_pad", "NOTSET", &auto_pad)) != FT_OK)
        return rc;
    int64_t cout = w->dims[0], wi = w->dims[1], kh = w->dims[2], kw = w->dims[3];
    if (strcmp(auto_pad, "NOTSET") != 0)
        return node_err(b, "auto_pad %s is not supported (explicit pads only)", auto_pad);
    if (k[0] != kh || k[1] != kw)
        return node_err(b, "kernel_shape %lldx%lld but weights %lldx%lld", (long long)k[0],
                        (long long)k[1], (long long)kh, (long long)kw);
    if (kh < 1 || kw < 1 || kh > MAX_KERNEL || kw > MAX_KERNEL || cout < 1 || cout > 65536)
        return node_err(b, "weights of shape %lldx%lldx%lldx%lld are not supported",
                        (long long)cout, (long long)wi, (long long)kh, (long long)kw);
    if (st[0] != st[1] || st[0] < 1 || st[0] > MAX_KERNEL)
        return node_err(b, "strides %lld,%lld are not supported (equal strides only)",
                        (long long)st[0], (long long)st[1]);
    if (dil[0] != 1 || dil[1] != 1) return node_err(b, "dilation is not supported");
    if (pads[0] != pads[2] || pads[1] != pads[3] || pads[0] < 0 || pads[1] < 0 ||
        pads[0] > MAX_PAD || pads[1] > MAX_PAD)
        return node_err(b, "pads %lld,%lld,%lld,%lld are not supported (symmetric only)",
                        (long long)pads[0], (long long)pads[1], (long long)pads[2],
                        (long long)pads[3]);
    int depthwise;
    if (group == 1 && wi == cin)
        depthwise = 0;
    else if (group == cin && wi == 1 && cout == cin)
        depthwise = 1;
    else
        return node_err(b,
                        "group %lld with %d input channels and weights %lldx%lld is not "
                        "supported (regular or depthwise only)",
                        (long long)group, cin, (long long)cout, (long long)wi);
    if (bias && bias->dims[0] != cout)
        return node_err(b, "bias has %lld values for %lld outputs", (long long)bias->dims[0],
                        (long long)cout);

    /* a Relu that alone reads the output becomes the clamp */
    float lo = -INFINITY;
    const char *out_name = b->n->n_out > 0 ? b->n->out[0] : "";
    int only = -1;
    if (*out_name && readers(b->g, out_name, &only) == 1 && only > node_index &&
        strcmp(b->g->node[only].op_type, "Relu") == 0 && b->g->node[only].n_out >= 1) {
        lo = 0.0f;
        b->skip[only] = 1;
    }

    size_t n = (size_t)cout * wi * kh * kw;
    float *hw = ft__malloc(n * sizeof(float));
    if (!hw) return FT_ENOMEM;
    /* ONNX (O, I, kh, kw) -> HWIO (kh, kw, I, O), or (kh, kw, C) depthwise */
    for (int64_t o = 0; o < cout; o++)
        for (int64_t i = 0; i < wi; i++)
            for (int64_t y = 0; y < kh; y++)
                for (int64_t xx = 0; xx < kw; xx++) {
                    float v = w->f[((o * wi + i) * kh + y) * kw + xx];
                    if (depthwise)
                        hw[(y * kw + xx) * cout + o] = v;
                    else
                        hw[((y * kw + xx) * wi + i) * cout + o] = v;
                }
    step *s = new_step(b, OP_CONV, x, -1, &rc);
    if (!s) {
        ft__free(hw);
        return rc;
    }
    rc = ft__conv_init_pad(&s->l.conv, (int)kh, (int)kw, (int)st[0], (int)pads[0], (int)pads[1],
                           cin, (int)cout, depthwise, hw, bias ? bias->f : NULL, lo, INFINITY);
    ft__free(hw);
    if (rc != FT_OK) return rc;
    if (lo == 0.0f) { /* the value is the Relu's output */
        const ft__onnx_node *relu = &b->g->node[only];
        const ft__onnx_node *self = b->n;
        b->n = relu;
        s->out = output_value(b, 0, V_ACT, (int)cout, &rc);
        b->n = self;
    } else {
        s->out = output_value(b, 0, V_ACT, (int)cout, &rc);
    }
    return s->out < 0 ? rc : FT_OK;
}

static int build_maxpool(builder *b)
{
    int rc = FT_EMODEL;
    int x = input_act(b, 0, &rc);
    if (x < 0) return rc;
    int64_t k[2], st[2], pads[4], dil[2], ceil_mode, order;
    const int64_t one2[2] = { 1, 1 }, zero4[4] = { 0, 0, 0, 0 };
    const char *auto_pad;
    if ((rc = attr_ints(b, "kernel_shape", 2, NULL, k)) != FT_OK ||
        (rc = attr_ints(b, "strides", 2, one2, st)) != FT_OK ||
        (rc = attr_ints(b, "pads", 4, zero4, pads)) != FT_OK ||
        (rc = attr_ints(b, "dilations", 2, one2, dil)) != FT_OK ||
        (rc = attr_int(b, "ceil_mode", 0, &ceil_mode)) != FT_OK ||
        (rc = attr_int(b, "storage_order", 0, &order)) != FT_OK ||
        (rc = attr_str(b, "auto_pad", "NOTSET", &auto_pad)) != FT_OK)
        return rc;
    if (k[0] != k[1] || k[0] < 1 || k[0] > MAX_KERNEL || st[0] != st[1] || st[0] < 1 ||
        st[0] > MAX_KERNEL || dil[0] != 1 || dil[1] != 1 || ceil_mode != 0 || order != 0 ||
        strcmp(auto_pad, "NOTSET") != 0)
        return node_err(b, "only square windows, equal strides, no dilation, ceil_mode 0 and "
                           "explicit pads are supported");
    if (pads[0] != pads[2] || pads[1] != pads[3] || pads[0] < 0 || pads[1] < 0 || pads[0] >= k[0] ||
        pads[1] >= k[0])
        return node_err(b, "pads must be symmetric and smaller than the window");
    if (b->n->n_out > 1 && b->n->out[1][0])
        return node_err(b, "the Indices output is not supported");
    step *s = new_step(b, OP_POOL, x, -1, &rc);
    if (!s) return rc;
    int c = b->net->v[x].c;
    if ((rc = ft__pool_init_pad(&s->l.pool, (int)k[0], (int)st[0], (int)pads[0], (int)pads[1],
                                c)) != FT_OK)
        return rc;
    s->out = output_value(b, 0, V_ACT, c, &rc);
    return s->out < 0 ? rc : FT_OK;
}

static int build_resize(builder *b)
{
    int rc = FT_EMODEL;
    int x = input_act(b, 0, &rc);
    if (x < 0) return rc;
    /* opset 10: (X, scales); opset 11 on: (X, roi, scales, sizes) */
    int si = b->n->n_in >= 3 ? 2 : 1;
    if (b->n->n_in > 3 && b->n->in[3][0])
        return node_err(b, "a sizes input is not supported (constant scales only)");
    const ft__onnx_tensor *sc = input_const(b, si, FT__ONNX_FLOAT, 1, &rc);
    if (!sc) return rc;
    const char *mode, *coord, *nearest;
    if ((rc = attr_str(b, "mode", "nearest", &mode)) != FT_OK ||
        (rc = attr_str(b, "coordinate_transformation_mode", "half_pixel", &coord)) != FT_OK ||
        (rc = attr_str(b, "nearest_mode", "round_prefer_floor", &nearest)) != FT_OK)
        return rc;
    if (b->g->opset < 11) coord = "asymmetric", nearest = "floor"; /* opset 10's only behaviour */
    if (sc->count != 4 || sc->f[0] != 1.0f || sc->f[1] != 1.0f || sc->f[2] != sc->f[3] ||
        !(sc->f[2] >= 1.0f && sc->f[2] <= 16.0f) || sc->f[2] != floorf(sc->f[2]))
        return node_err(b, "scales must be (1, 1, f, f) with an integer f in 1..16");
    int f = (int)sc->f[2];
    /* at an integer scale, src = dst / f exactly; floor picks the cell;
    ** round_prefer_floor agrees with floor only when f <= 2 */
    if (strcmp(mode, "nearest") != 0 || strcmp(coord, "asymmetric") != 0 ||
        !(strcmp(nearest, "floor") == 0 || (strcmp(nearest, "round_prefer_floor") == 0 && f <= 2)))
        return node_err(b,
                        "only mode nearest with asymmetric coordinates and floor rounding is "
                        "supported (got %s, %s, %s)",
                        mode, coord, nearest);
    int c = b->net->v[x].c, only;
    /* read only by an Add whose other input is no upsampling: that Add
    ** upsamples as it adds (OP_ADD_UP), so no step here */
    if (b->n->n_out >= 1 && f > 1 && readers(b->g, b->n->out[0], &only) == 1 && only >= 0 &&
        strcmp(b->g->node[only].op_type, "Add") == 0 && b->g->node[only].n_in == 2) {
        const ft__onnx_node *add = &b->g->node[only];
        const char *other = strcmp(add->in[0], b->n->out[0]) == 0 ? add->in[1] : add->in[0];
        if (strcmp(other, b->n->out[0]) != 0 && strcmp(producer_op(b->g, other), "Resize") != 0) {
            int o = output_value(b, 0, V_ACT, c, &rc);
            if (o < 0) return rc;
            b->net->v[o].root = b->net->v[x].root;
            b->net->v[o].up = f;
            return FT_OK;
        }
    }
    step *s = new_step(b, OP_UPSAMPLE, x, -1, &rc);
    if (!s) return rc;
    if ((rc = ft__upsample_init(&s->l.up, f, c)) != FT_OK) return rc;
    s->out = output_value(b, 0, V_ACT, c, &rc);
    return s->out < 0 ? rc : FT_OK;
}

static int build_add(builder *b)
{
    int rc = FT_EMODEL;
    int x = input_act(b, 0, &rc), y = x < 0 ? -1 : input_act(b, 1, &rc);
    if (x < 0 || y < 0) return rc;
    if (b->net->v[x].c != b->net->v[y].c)
        return node_err(b, "adds %d channels to %d (broadcasting is not supported)", b->net->v[x].c,
                        b->net->v[y].c);
    if (b->net->v[x].up > 1 || b->net->v[y].up > 1) { /* in1: the upsampled one */
        if (b->net->v[x].up > 1) {
            int t = x;
            x = y, y = t;
        }
        step *s = new_step(b, OP_ADD_UP, x, y, &rc);
        if (!s) return rc;
        if ((rc = ft__upsample_init(&s->l.up, b->net->v[y].up, b->net->v[x].c)) != FT_OK) return rc;
        s->out = output_value(b, 0, V_ACT, b->net->v[x].c, &rc);
        return s->out < 0 ? rc : FT_OK;
    }
    step *s = new_step(b, OP_ADD, x, y, &rc);
    if (!s) return rc;
    if ((rc = ft__add_init(&s->l.add, -INFINITY, INFINITY)) != FT_OK) return rc;
    s->out = output_value(b, 0, V_ACT, b->net->v[x].c, &rc);
    return s->out < 0 ? rc : FT_OK;
}

static int build_sigmoid(builder *b)
{
    int rc = FT_EMODEL;
    int x = input_value(b, 0, &rc);
    if (x < 0) return rc;
    enum vkind kd = b->net->v[x].kind;
    if (kd != V_ACT && kd != V_NHWC && kd != V_FLAT && kd != V_INPUT)
        return node_err(b, "input %s is not an activation", b->n->in[0]);
    step *s = new_step(b, OP_SIGMOID, x, -1, &rc);
    if (!s) return rc;
    int c = b->net->v[x].c;
    if ((rc = ft__sigmoid_init(&s->l.sig, c)) != FT_OK) return rc;
    s->out = output_value(b, 0, kd == V_INPUT ? V_ACT : kd, c, &rc);
    return s->out < 0 ? rc : FT_OK;
}

/* A view (Transpose, Reshape): a new value sharing x's data. */
static int make_view(builder *b, int x, enum vkind kind)
{
    int rc = FT_EMODEL;
    int o = output_value(b, 0, kind, b->net->v[x].c, &rc);
    if (o < 0) return rc;
    b->net->v[o].root = b->net->v[x].root;
    return FT_OK;
}

static int build_transpose(builder *b)
{
    int rc = FT_EMODEL;
    int x = input_act(b, 0, &rc);
    if (x < 0) return rc;
    int64_t perm[4];
    if ((rc = attr_ints(b, "perm", 4, NULL, perm)) != FT_OK) return rc;
    if (perm[0] != 0 || perm[1] != 2 || perm[2] != 3 || perm[3] != 1)
        return node_err(b, "only perm (0, 2, 3, 1), NCHW to NHWC, is supported");
    return make_view(b, x, V_NHWC);
}

/* The target of a Reshape (input 1) as numbers; n_out dims. */
static int reshape_target(builder *b, int64_t *dims, int *n_out)
{
    int rc = FT_EMODEL;
    int i = input_value(b, 1, &rc);
    if (i < 0) return rc;
    const value *v = &b->net->v[i];
    if (v->kind == V_CONST && v->cst && v->cst->dtype == FT__ONNX_INT64 && v->cst->rank == 1 &&
        v->cst->count <= MAX_ITEMS) {
        *n_out = (int)v->cst->count;
        memcpy(dims, v->cst->i64, v->cst->count * sizeof *dims);
        return FT_OK;
    }
    if (v->kind != V_SHAPE || v->scalar)
        return node_err(b, "the target shape %s must be a constant or computed from shapes",
                        b->n->in[1]);
    for (int k = 0; k < v->n_items; k++) {
        if (!v->item[k].known)
            return node_err(b, "a target shape computed from a spatial size is not supported");
        dims[k] = v->item[k].v;
    }
    *n_out = v->n_items;
    return FT_OK;
}

static int build_reshape(builder *b)
{
    int rc = FT_EMODEL;
    int x = input_value(b, 0, &rc);
    if (x < 0) return rc;
    enum vkind kd = b->net->v[x].kind;
    if (kd != V_NHWC && kd != V_FLAT)
        return node_err(b, "only a Reshape of a Transpose(0, 2, 3, 1) output is supported");
    int64_t d[MAX_ITEMS], allowzero;
    int n = 0;
    if ((rc = reshape_target(b, d, &n)) != FT_OK ||
        (rc = attr_int(b, "allowzero", 0, &allowzero)) != FT_OK)
        return rc;
    int c = b->net->v[x].c;
    /* (N, H, W, C) or (1, HW, C) -> (1, -1, C); a 0 copies the input's dim,
    ** which is the batch (1) at 0, and C at 2 only for (1, HW, C) */
    int ok = n == 3 && (d[0] == 1 || (d[0] == 0 && !allowzero)) && d[1] == -1 &&
             (d[2] == c || (d[2] == 0 && !allowzero && kd == V_FLAT));
    if (!ok) return node_err(b, "only a reshape to (1, -1, %d) is supported", c);
    return make_view(b, x, V_FLAT);
}

static int build_shape(builder *b)
{
    int rc = FT_EMODEL;
    int x = input_value(b, 0, &rc);
    if (x < 0) return rc;
    const value *v = &b->net->v[x];
    if (ft__onnx_attr_find(b->n, "start") || ft__onnx_attr_find(b->n, "end"))
        return node_err(b, "start/end attributes are not supported");
    shape_item it[4];
    int n;
    const shape_item batch = { 1, 1 }, chans = { 1, v->c }, spatial = { 0, 0 };
    switch (v->kind) {
    case V_INPUT:
    case V_ACT: n = 4, it[0] = batch, it[1] = chans, it[2] = it[3] = spatial; break;
    case V_NHWC: n = 4, it[0] = batch, it[1] = it[2] = spatial, it[3] = chans; break;
    case V_FLAT: n = 3, it[0] = batch, it[1] = spatial, it[2] = chans; break;
    default: return node_err(b, "input %s is not an activation", b->n->in[0]);
    }
    int o = output_value(b, 0, V_SHAPE, 0, &rc);
    if (o < 0) return rc;
    b->net->v[o].n_items = n;
    memcpy(b->net->v[o].item, it, (size_t)n * sizeof *it);
    return FT_OK;
}

static int build_gather(builder *b)
{
    int rc = FT_EMODEL;
    int x = input_value(b, 0, &rc);
    if (x < 0) return rc;
    if (b->net->v[x].kind != V_SHAPE || b->net->v[x].scalar)
        return node_err(b, "only a Gather from a shape is supported");
    const ft__onnx_tensor *idx = input_const(b, 1, FT__ONNX_INT64, -1, &rc);
    if (!idx) return rc;
    int64_t axis;
    if ((rc = attr_int(b, "axis", 0, &axis)) != FT_OK) return rc;
    int n = b->net->v[x].n_items;
    if (axis != 0 || idx->count != 1 || idx->rank > 1 || idx->i64[0] < -n || idx->i64[0] >= n)
        return node_err(b, "only one index into a shape is supported");
    int64_t k = idx->i64[0] < 0 ? idx->i64[0] + n : idx->i64[0];
    shape_item item = b->net->v[x].item[k];
    int o = output_value(b, 0, V_SHAPE, 0, &rc);
    if (o < 0) return rc;
    b->net->v[o].scalar = idx->rank == 0;
    b->net->v[o].n_items = 1;
    b->net->v[o].item[0] = item;
    return FT_OK;
}

static int build_unsqueeze(builder *b)
{
    int rc = FT_EMODEL;
    int x = input_value(b, 0, &rc);
    if (x < 0) return rc;
    if (b->net->v[x].kind != V_SHAPE || !b->net->v[x].scalar)
        return node_err(b, "only an Unsqueeze of a shape's scalar is supported");
    int64_t axes[1];
    if (b->g->opset >= 13) { /* axes became an input */
        const ft__onnx_tensor *a = input_const(b, 1, FT__ONNX_INT64, 1, &rc);
        if (!a) return rc;
        if (a->count != 1) return node_err(b, "only axes (0) is supported");
        axes[0] = a->i64[0];
    } else if ((rc = attr_ints(b, "axes", 1, NULL, axes)) != FT_OK) {
        return rc;
    }
    if (axes[0] != 0 && axes[0] != -1) return node_err(b, "only axes (0) is supported");
    shape_item item = b->net->v[x].item[0];
    int o = output_value(b, 0, V_SHAPE, 0, &rc);
    if (o < 0) return rc;
    b->net->v[o].n_items = 1;
    b->net->v[o].item[0] = item;
    return FT_OK;
}

static int build_concat(builder *b)
{
    int rc = FT_EMODEL;
    int64_t axis;
    if ((rc = attr_int(b, "axis", 0, &axis)) != FT_OK) return rc;
    if (axis != 0 && axis != -1) return node_err(b, "only axis 0 (of shapes) is supported");
    shape_item it[MAX_ITEMS];
    int n = 0;
    for (int k = 0; k < b->n->n_in; k++) {
        int x = input_value(b, k, &rc);
        if (x < 0) return rc;
        const value *v = &b->net->v[x];
        if (v->kind == V_SHAPE && !v->scalar && n + v->n_items <= MAX_ITEMS) {
            memcpy(it + n, v->item, (size_t)v->n_items * sizeof *it);
            n += v->n_items;
        } else if (v->kind == V_CONST && v->cst && v->cst->dtype == FT__ONNX_INT64 &&
                   v->cst->rank == 1 && n + (int)v->cst->count <= MAX_ITEMS) {
            for (size_t j = 0; j < v->cst->count; j++)
                it[n++] = (shape_item){ 1, v->cst->i64[j] };
        } else {
            return node_err(b, "only a Concat of shapes and int64 constants is supported");
        }
    }
    int o = output_value(b, 0, V_SHAPE, 0, &rc);
    if (o < 0) return rc;
    b->net->v[o].n_items = n;
    memcpy(b->net->v[o].item, it, (size_t)n * sizeof *it);
    return FT_OK;
}

static int build_constant(builder *b)
{
    const ft__onnx_attr *a = ft__onnx_attr_find(b->n, "value");
    if (!a || a->kind != FT__ONNX_ATTR_TENSOR || b->n->n_attr != 1)
        return node_err(b, "only a Constant with a tensor value is supported");
    int rc = FT_EMODEL;
    int o = output_value(b, 0, V_CONST, 0, &rc);
    if (o < 0) return rc;
    b->net->v[o].cst = a->t;
    return FT_OK;
}

static int build_node(builder *b, int i)
{
    const char *op = b->n->op_type;
    if (b->n->domain[0] && strcmp(b->n->domain, "ai.onnx") != 0)
        return node_err(b, "operator domain %s is not supported", b->n->domain);
    if (strcmp(op, "Conv") == 0) return build_conv(b, i);
    if (strcmp(op, "MaxPool") == 0) return build_maxpool(b);
    if (strcmp(op, "Resize") == 0) return build_resize(b);
    if (strcmp(op, "Add") == 0) return build_add(b);
    if (strcmp(op, "Sigmoid") == 0) return build_sigmoid(b);
    if (strcmp(op, "Transpose") == 0) return build_transpose(b);
    if (strcmp(op, "Reshape") == 0) return build_reshape(b);
    if (strcmp(op, "Shape") == 0) return build_shape(b);
    if (strcmp(op, "Gather") == 0) return build_gather(b);
    if (strcmp(op, "Unsqueeze") == 0) return build_unsqueeze(b);
    if (strcmp(op, "Concat") == 0) return build_concat(b);
    if (strcmp(op, "Constant") == 0) return build_constant(b);
    if (strcmp(op, "Relu") == 0)
        return node_err(b, "a Relu is supported only as the sole reader of a Conv's output");
    return node_err(b, "operator %s is not supported", op);
}

/* Whether step x can be a layer of a chain. */
static int chainable(const step *x)
{
    if (x->op == OP_CONV)
        return x->l.conv.pad == FT__PAD_EXPLICIT &&
               ft__band_ok(x->l.conv.kh, x->l.conv.stride, x->l.conv.pad_y);
    if (x->op == OP_POOL)
        return x->l.pool.kind == FT__POOL_MAX && x->l.pool.pad == FT__PAD_EXPLICIT &&
               ft__band_ok(x->l.pool.k, x->l.pool.stride, x->l.pool.pad_y);
    return 0;
}

/* How many steps read each root (n_read, graph outputs counting as many),
** and the last step that does (reader). */
static void count_readers(const ft__onnx_net *net, int *n_read, int *reader)
{
    for (int i = 0; i < net->n_v; i++)
        n_read[i] = 0, reader[i] = -1;
    for (int i = 0; i < net->n_s; i++) {
        const step *x = &net->s[i];
        int r0 = net->v[x->in0].root, r1 = x->in1 >= 0 ? net->v[x->in1].root : -1;
        n_read[r0]++, reader[r0] = i;
        if (r1 >= 0 && r1 != r0) n_read[r1]++, reader[r1] = i;
    }
    for (int i = 0; i < net->n_out; i++)
        n_read[net->v[net->out[i]].root] = INT_MAX / 2; /* kept whole */
}

/* Finds the chains (see DESIGN) and makes their layers' band operators. */
static int plan_chains(ft__onnx_net *net)
{
    int *n_read = ft__calloc((size_t)net->n_v, sizeof *n_read);
    int *reader = ft__calloc((size_t)net->n_v, sizeof *reader);
    int *list = ft__calloc((size_t)(net->n_s ? net->n_s : 1), sizeof *list);
    net->chain = ft__calloc((size_t)(net->n_s ? net->n_s : 1), sizeof *net->chain);
    int rc = n_read && reader && list && net->chain ? FT_OK : FT_ENOMEM;
    if (rc == FT_OK) count_readers(net, n_read, reader);
    for (int i = 0; i < net->n_s && rc == FT_OK; i++) {
        if (net->s[i].chain >= 0 || !chainable(&net->s[i])) continue;
        int n = 0, j = i;
        list[n++] = i;
        for (;;) { /* follow the output to its only reader */
            int o = net->s[j].out, r = reader[o];
            if (n_read[o] != 1 || r < 0 || !chainable(&net->s[r]) || net->s[r].in1 >= 0 ||
                net->s[r].chain >= 0 || net->v[net->s[r].in0].root != o)
                break;
            list[n++] = j = r;
        }
        if (n < 2) continue;
        chain *ch = &net->chain[net->n_chain];
        ch->n = n, ch->first = list[0], ch->last = list[n - 1];
        ch->steps = ft__calloc((size_t)n, sizeof *ch->steps);
        ch->l = ft__calloc((size_t)n, sizeof *ch->l);
        net->n_chain++;
        if (!ch->steps || !ch->l) {
            rc = FT_ENOMEM;
            break;
        }
        for (int k = 0; k < n && rc == FT_OK; k++) {
            step *x = &net->s[list[k]];
            link *l = &ch->l[k];
            ch->steps[k] = list[k];
            x->chain = net->n_chain - 1;
            if (x->op == OP_CONV) {
                l->k = x->l.conv.kh, l->s = x->l.conv.stride, l->p = x->l.conv.pad_y;
                rc = ft__conv_band_init(&x->l.conv);
            } else {
                l->k = x->l.pool.k, l->s = x->l.pool.stride, l->p = x->l.pool.pad_y;
                rc = ft__pool_band_init(&x->l.pool);
            }
        }
    }
    net->src_chain = -1;
    for (int c = 0; rc == FT_OK && c < net->n_chain; c++)
        if (net->v[net->s[net->chain[c].first].in0].root == net->input && n_read[net->input] == 1)
            net->src_chain = c;
    ft__free(n_read);
    ft__free(reader);
    ft__free(list);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Sibling convolutions                                                     */
/* ------------------------------------------------------------------------ */

#define MAX_SIBLINGS 16

static int same_window(const ft__conv *a, const ft__conv *b)
{
    return a->kh == b->kh && a->kw == b->kw && a->stride == b->stride && a->pad == b->pad &&
           a->pad_y == b->pad_y && a->pad_x == b->pad_x && a->out_min == b->out_min &&
           a->out_max == b->out_max;
}

/* A conv that works on each channel alone: depthwise, or 1 channel in and out. */
static int per_channel(const ft__conv *c)
{
    return c->depthwise || (c->cin == 1 && c->cout == 1);
}

/* Merges the regular convs that read step i's input with i's window (see
** DESIGN), and, when each one's output has a single reader, a per-channel
** conv all with one window, those readers too. *merged: 1 if it did. */
static int merge_siblings(ft__onnx_net *net, const int *n_read, const int *reader, int i,
                          int *merged)
{
    step *S = net->s;
    const ft__conv *c0 = &S[i].l.conv;
    int m[MAX_SIBLINGS], r[MAX_SIBLINGS], off[MAX_SIBLINGS + 1], nm = 0, x = net->v[S[i].in0].root;
    *merged = 0;
    for (int j = i; j < net->n_s && nm < MAX_SIBLINGS; j++)
        if (S[j].op == OP_CONV && !S[j].l.conv.depthwise && net->v[S[j].in0].root == x &&
            S[j].l.conv.cin == c0->cin && same_window(&S[j].l.conv, c0))
            m[nm++] = j;
    if (nm < 2) return FT_OK;
    /* the second stage: each output's only reader, per channel, one window */
    int two = 1, p = INT_MAX;
    off[0] = 0;
    for (int k = 0; k < nm; k++) {
        int o = S[m[k]].out;
        off[k + 1] = off[k] + S[m[k]].l.conv.cout;
        r[k] = n_read[o] == 1 ? reader[o] : -1;
        if (r[k] < 0 || S[r[k]].op != OP_CONV || S[r[k]].in1 >= 0 ||
            net->v[S[r[k]].in0].root != o || !per_channel(&S[r[k]].l.conv) ||
            !same_window(&S[r[k]].l.conv, &S[r[0]].l.conv))
            two = 0;
        else if (r[k] < p)
            p = r[k];
    }
    int C = off[nm], rc = FT_OK;
    const ft__conv *d0 = two ? &S[r[0]].l.conv : NULL;
    /* layers first (nothing changed if one fails), then the steps */
    ft__conv one, dw;
    ft__slice sl[MAX_SIBLINGS];
    memset(&one, 0, sizeof one), memset(&dw, 0, sizeof dw), memset(sl, 0, sizeof sl);
    size_t taps = (size_t)c0->kh * c0->kw, taps2 = two ? (size_t)d0->kh * d0->kw : 0;
    float *w = ft__malloc(taps * c0->cin * C * sizeof(float)), *b = ft__malloc(C * sizeof(float));
    float *w2 = ft__malloc((taps2 ? taps2 : 1) * C * sizeof(float));
    float *b2 = ft__malloc(C * sizeof(float));
    step *ns = ft__calloc((size_t)net->n_s + 1, sizeof *ns);
    int vm = -1, vm2 = -1;
    char name[300];
    snprintf(name, sizeof name, "%s+%d", S[i].node, nm);
    if (!w || !b || !w2 || !b2 || !ns || (vm = add_value(net, name, V_ACT)) < 0) {
        rc = FT_ENOMEM;
        goto done;
    }
    for (int k = 0; k < nm; k++) {
        const ft__conv *ck = &S[m[k]].l.conv;
        for (size_t t = 0; t < taps * ck->cin; t++)
            for (int o = 0; o < ck->cout; o++)
                w[t * C + off[k] + o] = ck->w[t * ck->cout + o];
        memcpy(b + off[k], ck->b, (size_t)ck->cout * sizeof(float));
        if (two) { /* (kh, kw, c) for depthwise and 1 -> 1 alike */
            const ft__conv *dk = &S[r[k]].l.conv;
            for (size_t t = 0; t < taps2; t++)
                for (int o = 0; o < dk->cout; o++)
                    w2[t * C + off[k] + o] = dk->w[t * dk->cout + o];
            memcpy(b2 + off[k], dk->b, (size_t)dk->cout * sizeof(float));
        }
    }
    net->v[vm].c = C;
    if ((rc = ft__conv_init_pad(&one, c0->kh, c0->kw, c0->stride, c0->pad_y, c0->pad_x, c0->cin, C,
                                0, w, b, c0->out_min, c0->out_max)) != FT_OK)
        goto done;
    if (two) {
        snprintf(name, sizeof name, "%s+%d", S[p].node, nm);
        if ((vm2 = add_value(net, name, V_ACT)) < 0) {
            rc = FT_ENOMEM;
            goto done;
        }
        net->v[vm2].c = C;
        if ((rc = ft__conv_init_pad(&dw, d0->kh, d0->kw, d0->stride, d0->pad_y, d0->pad_x, C, C, 1,
                                    w2, b2, d0->out_min, d0->out_max)) != FT_OK)
            goto done;
    }
    for (int k = 0; k < nm && rc == FT_OK; k++)
        rc = ft__slice_init(&sl[k], C, off[k], off[k + 1] - off[k]);
    if (rc != FT_OK) goto done;

    /* the new steps: the merged conv at the first sibling's place, the merged
    ** per-channel conv at its first reader's; slices give each original
    ** output back where it was made */
    int n = 0;
    for (int t = 0; t < net->n_s; t++) {
        step *o = &S[t];
        int k = -1, is_r = 0;
        for (int q = 0; q < nm; q++)
            if (t == m[q] || (two && t == r[q])) k = q, is_r = t != m[q];
        if (k < 0) {
            ns[n++] = *o;
            continue;
        }
        step sl_step = { OP_SLICE, two ? vm2 : vm, -1, o->out, -1, o->node, { .slice = sl[k] } };
        ft__conv_fini(&o->l.conv);
        if (t == m[0]) {
            ns[n++] = (step){ OP_CONV, o->in0, -1, vm, -1, o->node, { .conv = one } };
            if (two) continue;
            if (!(sl_step.node = ft__strdup(o->node))) rc = FT_ENOMEM; /* reported below */
            ns[n++] = sl_step;
        } else if (two && t == p) {
            ns[n++] = (step){ OP_CONV, vm, -1, vm2, -1, ft__strdup(o->node), { .conv = dw } };
            if (!ns[n - 1].node) rc = FT_ENOMEM;
            ns[n++] = sl_step;
        } else if (two && !is_r) {
            ft__free(o->node); /* a sibling: its reader's slice stands for it */
        } else {
            ns[n++] = sl_step;
        }
    }
    ft__free(net->s);
    net->s = ns, net->n_s = n, ns = NULL;
    *merged = 1;
    memset(&one, 0, sizeof one), memset(&dw, 0, sizeof dw), memset(sl, 0, sizeof sl);
done:
    ft__conv_fini(&one);
    ft__conv_fini(&dw);
    for (int k = 0; k < nm; k++)
        ft__slice_fini(&sl[k]);
    ft__free(w), ft__free(b), ft__free(w2), ft__free(b2), ft__free(ns);
    return rc;
}

/* Merges every group of sibling convs (see DESIGN). */
static int merge_all_siblings(ft__onnx_net *net)
{
    int rc = FT_OK;
    for (int i = 0; i < net->n_s && rc == FT_OK; i++) {
        if (net->s[i].op != OP_CONV || net->s[i].l.conv.depthwise) continue;
        int *n_read = ft__calloc((size_t)net->n_v, sizeof *n_read);
        int *reader = ft__calloc((size_t)net->n_v, sizeof *reader);
        int merged = 0;
        if (!n_read || !reader)
            rc = FT_ENOMEM;
        else
            count_readers(net, n_read, reader),
                rc = merge_siblings(net, n_read, reader, i, &merged);
        ft__free(n_read);
        ft__free(reader);
    }
    return rc;
}

/* Liveness and buffers (see DESIGN). A chain is one step at its last step's
** place: it reads its first step's input, and writes its last step's
** output; the values inside it have no buffers. */
static int assign_buffers(ft__onnx_net *net)
{
    for (int i = 0; i < net->n_s; i++) {
        const step *s = &net->s[i];
        net->v[net->v[s->in0].root].last_use = i;
        if (s->in1 >= 0) net->v[net->v[s->in1].root].last_use = i;
    }
    for (int c = 0; c < net->n_chain; c++) {
        int r = net->v[net->s[net->chain[c].first].in0].root;
        if (net->v[r].last_use < net->chain[c].last) net->v[r].last_use = net->chain[c].last;
    }
    for (int i = 0; i < net->n_out; i++)
        net->v[net->v[net->out[i]].root].last_use = INT_MAX;
    int *busy = ft__calloc((size_t)(net->n_s + 1), sizeof *busy); /* buffer -> owner + 1 */
    if (!busy) return FT_ENOMEM;
    for (int i = 0; i < net->n_s; i++) {
        const step *s = &net->s[i];
        if (s->chain >= 0 && i != net->chain[s->chain].last) continue;
        int in0 = s->chain >= 0 ? net->s[net->chain[s->chain].first].in0 : s->in0;
        int bsel = 0;
        while (bsel < net->n_buf && busy[bsel])
            bsel++;
        if (bsel == net->n_buf) net->n_buf++;
        busy[bsel] = s->out + 1;
        net->v[s->out].buf = bsel;
        int rel[3] = { net->v[in0].root, s->in1 >= 0 ? net->v[s->in1].root : -1, s->out };
        for (int k = 0; k < 3; k++) {
            int r = rel[k];
            if (r < 0 || (k == 1 && r == rel[0]) || net->v[r].buf < 0) continue;
            if (net->v[r].last_use <= i) busy[net->v[r].buf] = 0;
        }
    }
    ft__free(busy);
    net->buf = ft__calloc((size_t)(net->n_buf ? net->n_buf : 1), sizeof *net->buf);
    net->buf_cap = ft__calloc((size_t)(net->n_buf ? net->n_buf : 1), sizeof *net->buf_cap);
    net->t = ft__calloc((size_t)net->n_v, sizeof *net->t);
    return net->buf && net->buf_cap && net->t ? FT_OK : FT_ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Public                                                                   */
/* ------------------------------------------------------------------------ */

void ft__onnx_net_free(ft__onnx_net *net)
{
    if (!net) return;
    for (int i = 0; i < net->n_s; i++) {
        step *s = &net->s[i];
        switch (s->op) {
        case OP_CONV: ft__conv_fini(&s->l.conv); break;
        case OP_POOL: ft__pool_fini(&s->l.pool); break;
        case OP_UPSAMPLE:
        case OP_ADD_UP: ft__upsample_fini(&s->l.up); break;
        case OP_ADD: ft__add_fini(&s->l.add); break;
        case OP_SLICE: ft__slice_fini(&s->l.slice); break;
        case OP_SIGMOID: ft__sigmoid_fini(&s->l.sig); break;
        }
        ft__free(s->node);
    }
    ft__free(net->s);
    for (int i = 0; i < net->n_v; i++)
        ft__free(net->v[i].name);
    ft__free(net->v);
    ft__free(net->out);
    for (int i = 0; net->buf && i < net->n_buf; i++)
        ft__free(net->buf[i]);
    ft__free(net->buf);
    ft__free(net->buf_cap);
    ft__free(net->t);
    for (int c = 0; net->chain && c < net->n_chain; c++) {
        for (int i = 0; net->chain[c].l && i < net->chain[c].n; i++) {
            ft__free(net->chain[c].l[i].band);
            ft__free(net->chain[c].l[i].ptrs);
        }
        ft__free(net->chain[c].l);
        ft__free(net->chain[c].steps);
        ft__free(net->chain[c].src.band);
    }
    ft__free(net->in_buf);
    ft__free(net->chain);
    ft__free(net);
}

int ft__onnx_net_build(const ft__onnx_graph *g, ft__onnx_net **out, char *err, size_t errlen)
{
    *out = NULL;
    ft__onnx_net *net = ft__calloc(1, sizeof *net);
    builder b = { g, net, NULL, NULL, err, errlen };
    int rc = FT_ENOMEM;
    if (!net || !(net->s = ft__calloc((size_t)g->n_node, sizeof *net->s)) ||
        !(b.skip = ft__calloc((size_t)g->n_node, 1)) ||
        !(net->out = ft__calloc((size_t)(g->n_output ? g->n_output : 1), sizeof *net->out)))
        goto fail;

    rc = FT_EMODEL;
    if (g->n_input != 1) {
        ft__errf(err, errlen, rc, "%s: %d graph inputs (one image input expected)", g->path,
                 g->n_input);
        goto fail;
    }
    const ft__onnx_value *in = &g->input[0];
    if ((in->elem_type != 0 && in->elem_type != FT__ONNX_FLOAT) || in->rank != 4 ||
        in->dims[1] < 1 || in->dims[1] > 4096 || in->dims[0] > 1) {
        ft__errf(err, errlen, rc,
                 "%s: input %s must be float (N, C, H, W) with N 1 or symbolic and C given",
                 g->path, in->name);
        goto fail;
    }
    net->in_c = (int)in->dims[1];
    net->in_h = in->dims[2] > 0 && in->dims[2] <= INT_MAX ? (int)in->dims[2] : 0;
    net->in_w = in->dims[3] > 0 && in->dims[3] <= INT_MAX ? (int)in->dims[3] : 0;
    if ((net->input = add_value(net, in->name, V_INPUT)) < 0) {
        rc = FT_ENOMEM;
        goto fail;
    }
    net->v[net->input].c = net->in_c;

    for (int i = 0; i < g->n_node; i++) {
        if (b.skip[i]) continue;
        b.n = &g->node[i];
        if ((rc = build_node(&b, i)) != FT_OK) goto fail;
    }
    rc = FT_EMODEL;
    for (int i = 0; i < g->n_output; i++) {
        int v = find_value(net, g->output[i].name);
        enum vkind kd = v < 0 ? V_UNSET : net->v[v].kind;
        if (kd != V_ACT && kd != V_NHWC && kd != V_FLAT) {
            ft__errf(err, errlen, rc, "%s: output %s is %s", g->path, g->output[i].name,
                     v < 0 ? "produced by no node" : "not an activation");
            goto fail;
        }
        if (net->v[v].root == net->input) {
            ft__errf(err, errlen, rc, "%s: output %s is the input itself", g->path,
                     g->output[i].name);
            goto fail;
        }
        net->out[net->n_out++] = v;
    }
    if ((rc = merge_all_siblings(net)) != FT_OK || (rc = plan_chains(net)) != FT_OK ||
        (rc = assign_buffers(net)) != FT_OK)
        goto fail;
    for (int i = 0; i < net->n_v; i++)
        net->v[i].cst = NULL; /* INVARIANT (3) */
    ft__free(b.skip);
    *out = net;
    return FT_OK;
fail:
    if (rc == FT_ENOMEM)
        ft__errf(err, errlen, rc, "%s: out of memory", g->path);
    else if (rc == FT_EBACKEND)
        ft__errf(err, errlen, rc, "%s: cannot set up the layers (XNNPACK)", g->path);
    ft__free(b.skip);
    ft__onnx_net_free(net);
    return rc;
}

void ft__onnx_net_input(const ft__onnx_net *net, int *c, int *h, int *w)
{
    *c = net->in_c, *h = net->in_h, *w = net->in_w;
}

int ft__onnx_net_n_outputs(const ft__onnx_net *net)
{
    return net->n_out;
}

const char *ft__onnx_net_output_name(const ft__onnx_net *net, int i)
{
    FT_ASSERT(i >= 0 && i < net->n_out);
    return net->v[net->out[i]].name;
}

int ft__onnx_net_output_channels(const ft__onnx_net *net, int i)
{
    FT_ASSERT(i >= 0 && i < net->n_out);
    return net->v[net->out[i]].c;
}

/* Points t at buffer b, grown to (h, w, c) + slack. */
static int buf_tensor(ft__onnx_net *net, int b, int h, int w, int c, ft__tensor *t)
{
    size_t need = (size_t)h * w * c;
    if (net->buf_cap[b] < need) {
        float *p = ft__realloc(net->buf[b], (need + FT__XNN_SLACK) * sizeof(float));
        if (!p) return FT_ENOMEM;
        net->buf[b] = p;
        net->buf_cap[b] = need;
    }
    t->data = net->buf[b];
    t->h = h, t->w = w, t->c = c;
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* Chains in bands of rows                                                  */
/* ------------------------------------------------------------------------ */

/* Largest band a chain aims at: what one layer writes per band, in bytes
** (its reader's input band is about as large; both stay in a 1 MB L2). */
#define BAND_BYTES (256 << 10)
static size_t band_bytes = BAND_BYTES;
static int whole;

void ft__onnx_band_bytes(size_t bytes)
{
    band_bytes = bytes ? bytes : BAND_BYTES;
}

void ft__onnx_whole(int on)
{
    whole = on;
}

/* Output rows of the chain's last layer per band: the most that keep every
** layer's band within band_bytes; all of them (one band, the whole image)
** for the reference path, when whole runs are asked for, and on a pool of
** several threads (see DESIGN). */
static int band_height(const ft__nn_ctx *ctx, const chain *ch)
{
    int n = ch->n, h = ch->l[n - 1].h;
    if (ctx->use_ref || whole || (ctx->pool && pthreadpool_get_threads_count(ctx->pool) > 1))
        return h;
    double span = 1, most = 1; /* rows of layer i per row of the last */
    for (int i = n - 2; i >= 0; i--) {
        span *= ch->l[i + 1].s;
        double bytes = span * ch->l[i].w * ch->l[i].c * sizeof(float);
        if (bytes > most) most = bytes;
    }
    double r = (double)band_bytes / most;
    return r < 1 ? 1 : r >= h ? h : (int)r;
}

/* Runs layer i of a chain on its output rows [y0, y1) (see chain_pass): from
** a ring, the rows as pointers; into a ring, in two calls where the rows
** wrap around. */
static int run_link(const ft__nn_ctx *ctx, ft__onnx_net *net, chain *ch, int i, const ft__tensor *a,
                    int in_h, int y0, int y1, ft__tensor *o)
{
    step *s = &net->s[ch->steps[i]];
    link *x = &ch->l[i];
    if (i > 0 && ch->l[i - 1].ring) { /* a depthwise conv reading a ring */
        link *y = &ch->l[i - 1];
        int r0, r1;
        ft__band_rows(x->k, x->s, x->p, in_h, x->h, y0, y1, &r0, &r1);
        for (int r = r0; r < r1; r++)
            y->ptrs[r - r0] = y->band + (size_t)(r % y->rows) * y->w * y->c;
        return ft__conv_run_band_rows(ctx, &s->l.conv, y->ptrs, r1 - r0, a->w, in_h, y0, y1, o);
    }
    if (x->ring) { /* a 1x1 conv writing a ring: rows split where they wrap */
        size_t row = (size_t)x->w * x->c, in_row = (size_t)a->w * a->c;
        for (int ya = y0; ya < y1;) {
            int slot = ya % x->rows, yb = y1 - ya < x->rows - slot ? y1 : ya + x->rows - slot;
            ft__tensor ai = { a->data + (size_t)(ya - y0) * in_row, yb - ya, a->w, a->c };
            ft__tensor oi = { x->band + (size_t)slot * row, yb - ya, x->w, x->c };
            int rc = ft__conv_run_band(ctx, &s->l.conv, &ai, in_h, ya, yb, &oi);
            if (rc != FT_OK) return rc;
            ya = yb;
        }
        o->h = y1 - y0, o->w = x->w, o->c = x->c;
        return FT_OK;
    }
    return s->op == OP_CONV ? ft__conv_run_band(ctx, &s->l.conv, a, in_h, y0, y1, o)
                            : ft__pool_run_band(ctx, &s->l.pool, a, in_h, y0, y1, o);
}

/* Runs the chain's layers over the output rows of its last one, rows_per_band
** at a time, from in (the first layer's input) to out (the last's output).
** Each layer computes the rows the next one needs for this band and keeps,
** at the start of its band buffer, the rows the next one still has to read.
** dry: only count the rows each band buffer must hold (link.rows). */
static int chain_pass(const ft__nn_ctx *ctx, ft__onnx_net *net, chain *ch, const ft__tensor *in,
                      const ft__tensor *out, int rows_per_band, int dry)
{
    int n = ch->n, h = ch->l[n - 1].h;
    link *L = ch->l, *q = &ch->src;
    int src = net->src && ch == &net->chain[net->src_chain];
    for (int i = 0; i < n; i++)
        L[i].done = L[i].base = 0;
    q->done = q->base = 0, q->w = in->w, q->c = in->c;
    for (int b = rows_per_band < h ? rows_per_band : h;;
         b = h - b > rows_per_band ? b + rows_per_band : h) {
        int r0, r1;
        L[n - 1].end = b;
        for (int i = n - 1; i > 0; i--) {
            ft__band_rows(L[i].k, L[i].s, L[i].p, L[i - 1].h, L[i].h, 0, L[i].end, &r0, &r1);
            L[i - 1].end = r1;
        }
        for (int i = 0; i < n; i++) {
            link *x = &L[i];
            if (x->end <= x->done) continue;
            int y0 = x->done, y1 = x->end, in_h = i ? L[i - 1].h : in->h;
            ft__band_rows(x->k, x->s, x->p, in_h, x->h, y0, y1, &r0, &r1);
            ft__tensor a, o = { NULL, y1 - y0, x->w, x->c };
            if (i == 0 && src) {
                /* the input's rows from the source, in their own band */
                size_t in_row = (size_t)q->w * q->c;
                FT_ASSERT(r0 >= q->base && r0 <= q->done);
                if (r0 > q->base) {
                    if (!dry)
                        memmove(q->band, q->band + (size_t)(r0 - q->base) * in_row,
                                (size_t)(q->done - r0) * in_row * sizeof(float));
                    q->base = r0;
                }
                if (r1 > q->done) {
                    if (r1 - q->base > q->rows) q->rows = r1 - q->base;
                    if (!dry)
                        net->src(net->src_arg, q->done, r1,
                                 q->band + (size_t)(q->done - q->base) * in_row);
                    q->done = r1;
                }
                a = (ft__tensor){ q->band ? q->band + (size_t)(r0 - q->base) * in_row : NULL,
                                  r1 - r0, q->w, q->c };
            } else if (i == 0) {
                a = (ft__tensor){ in->data + (size_t)r0 * in->w * in->c, r1 - r0, in->w, in->c };
            } else {
                const link *y = &L[i - 1];
                FT_ASSERT(r0 >= y->base && r1 <= y->done);
                a = (ft__tensor){ y->band && !y->ring
                                      ? y->band + (size_t)(r0 - y->base) * y->w * y->c
                                      : NULL,
                                  r1 - r0, y->w, y->c };
            }
            size_t row = (size_t)x->w * x->c;
            if (i == n - 1) {
                o.data = out->data + (size_t)y0 * row;
            } else {
                /* drop the rows the next layer has read for the last time */
                const link *z = &L[i + 1];
                int keep = z->done * z->s - z->p > 0 ? z->done * z->s - z->p : 0;
                FT_ASSERT(keep <= x->done);
                if (keep > x->base) {
                    if (!dry && !x->ring)
                        memmove(x->band, x->band + (size_t)(keep - x->base) * row,
                                (size_t)(x->done - keep) * row * sizeof(float));
                    x->base = keep;
                }
                if (y1 - x->base > x->rows) x->rows = y1 - x->base;
                if (!dry && !x->ring) o.data = x->band + (size_t)(y0 - x->base) * row;
            }
            if (!dry) {
                int rc = run_link(ctx, net, ch, i, &a, in_h, y0, y1, &o);
                if (rc != FT_OK) return rc;
            }
            x->done = y1;
        }
        if (b == h) break;
    }
    return FT_OK;
}

/* Runs chain c (at its last step): shapes, the output's buffer, band buffers
** grown to what this input size needs, then the bands. */
static int run_chain(const ft__nn_ctx *ctx, ft__onnx_net *net, chain *ch, const ft__tensor *img,
                     char *err, size_t errlen)
{
    const step *last = &net->s[ch->last];
    const ft__tensor *in = &net->t[net->v[net->s[ch->first].in0].root];
    ft__tensor shape = *in;
    for (int i = 0; i < ch->n; i++) {
        const step *s = &net->s[ch->steps[i]];
        ft__tensor next;
        if (s->op == OP_CONV)
            ft__conv_out_shape(&s->l.conv, &shape, &next);
        else
            ft__pool_out_shape(&s->l.pool, &shape, &next);
        if (next.h < 1 || next.w < 1)
            return ft__errf(err, errlen, FT_EINVAL, "node %s: input %dx%d is too small for the net",
                            s->node, img->w, img->h);
        ch->l[i].h = next.h, ch->l[i].w = next.w, ch->l[i].c = next.c;
        shape = next;
    }
    ft__tensor *o = &net->t[last->out];
    int rc = buf_tensor(net, net->v[last->out].buf, shape.h, shape.w, shape.c, o);
    if (rc != FT_OK) return ft__errf(err, errlen, rc, "out of memory");
    int rows = band_height(ctx, ch);
    for (int i = 0; i < ch->n; i++) {
        /* rings: a 1x1 conv's output that one of the AVX-512 depthwise convs reads */
        const step *s = &net->s[ch->steps[i]];
        const step *z = i + 1 < ch->n ? &net->s[ch->steps[i + 1]] : NULL;
        ch->l[i].ring = !ctx->use_ref && z && s->op == OP_CONV && s->l.conv.kh == 1 &&
                        s->l.conv.kw == 1 && s->l.conv.stride == 1 && s->l.conv.pad_y == 0 &&
                        z->op == OP_CONV && ft__dw3x3_usable(&z->l.conv);
        ch->l[i].rows = 0;
    }
    ch->src.rows = 0;
    chain_pass(ctx, net, ch, in, o, rows, 1);
    for (int i = -1; i + 1 < ch->n; i++) {
        link *l = i < 0 ? &ch->src : &ch->l[i];
        size_t need = (size_t)l->rows * l->w * l->c;
        if (l->band_cap < need) {
            float *p = ft__realloc(l->band, (need + FT__XNN_SLACK) * sizeof(float));
            if (!p) return ft__errf(err, errlen, FT_ENOMEM, "out of memory");
            l->band = p, l->band_cap = need;
        }
        if (i >= 0 && l->ring && l->ptrs_cap < l->rows) {
            const float **p = ft__realloc(l->ptrs, (size_t)l->rows * sizeof *p);
            if (!p) return ft__errf(err, errlen, FT_ENOMEM, "out of memory");
            l->ptrs = p, l->ptrs_cap = l->rows;
        }
    }
    rc = chain_pass(ctx, net, ch, in, o, rows, 0);
    if (rc != FT_OK) return ft__errf(err, errlen, rc, "node %s: XNNPACK failed", last->node);
    return FT_OK;
}

int ft__onnx_net_run(const ft__nn_ctx *ctx, ft__onnx_net *net, const ft__tensor *in,
                     ft__tensor *out, char *err, size_t errlen)
{
    if (in->c != net->in_c || in->h < 1 || in->w < 1)
        return ft__errf(err, errlen, FT_EINVAL, "input %dx%dx%d, the net takes %d channels", in->h,
                        in->w, in->c, net->in_c);
    net->t[net->input] = *in;
    for (int i = 0; i < net->n_s; i++) {
        step *s = &net->s[i];
        if (s->chain >= 0) {
            chain *ch = &net->chain[s->chain];
            if (i != ch->last) continue;
            int rc = run_chain(ctx, net, ch, in, err, errlen);
            if (rc != FT_OK) return rc;
            continue;
        }
        const ft__tensor *a = &net->t[net->v[s->in0].root];
        const ft__tensor *b = s->in1 >= 0 ? &net->t[net->v[s->in1].root] : NULL;
        ft__tensor shape = *a, *o = &net->t[s->out];
        switch (s->op) {
        case OP_CONV: ft__conv_out_shape(&s->l.conv, a, &shape); break;
        case OP_POOL: ft__pool_out_shape(&s->l.pool, a, &shape); break;
        case OP_UPSAMPLE: ft__upsample_out_shape(&s->l.up, a, &shape); break;
        case OP_ADD:
            if (a->h != b->h || a->w != b->w || a->c != b->c)
                return ft__errf(err, errlen, FT_EINVAL,
                                "node %s adds %dx%d to %dx%d: the input size (%dx%d) does not fit "
                                "the net",
                                s->node, a->h, a->w, b->h, b->w, in->w, in->h);
            break;
        case OP_SIGMOID: break;
        case OP_SLICE: shape.c = s->l.slice.n; break;
        case OP_ADD_UP:
            if (a->h != s->l.up.factor * b->h || a->w != s->l.up.factor * b->w || a->c != b->c)
                return ft__errf(err, errlen, FT_EINVAL,
                                "node %s adds %dx%d upsampled %d times to %dx%d: the input size "
                                "(%dx%d) does not fit the net",
                                s->node, b->h, b->w, s->l.up.factor, a->h, a->w, in->w, in->h);
            break;
        }
        if (shape.h < 1 || shape.w < 1)
            return ft__errf(err, errlen, FT_EINVAL, "node %s: input %dx%d is too small for the net",
                            s->node, in->w, in->h);
        int rc = buf_tensor(net, net->v[s->out].buf, shape.h, shape.w, shape.c, o);
        if (rc != FT_OK) return ft__errf(err, errlen, rc, "out of memory");
        switch (s->op) {
        case OP_CONV: rc = ft__conv_run(ctx, &s->l.conv, a, o); break;
        case OP_POOL: rc = ft__pool_run(ctx, &s->l.pool, a, o); break;
        case OP_UPSAMPLE: rc = ft__upsample_run(ctx, &s->l.up, a, o); break;
        case OP_ADD: rc = ft__add_run(ctx, &s->l.add, a, b, o); break;
        case OP_SIGMOID: rc = ft__sigmoid_run(ctx, &s->l.sig, a, o); break;
        case OP_ADD_UP: rc = ft__upsample_add_run(ctx, &s->l.up, a, b, o); break;
        case OP_SLICE: rc = ft__slice_run(ctx, &s->l.slice, a, o); break;
        }
        if (rc != FT_OK) return ft__errf(err, errlen, rc, "node %s: XNNPACK failed", s->node);
    }
    for (int i = 0; i < net->n_out; i++) {
        out[i] = net->t[net->v[net->out[i]].root];
        out[i].c = net->v[net->out[i]].c;
    }
    return FT_OK;
}

int ft__onnx_net_run_rows(const ft__nn_ctx *ctx, ft__onnx_net *net, int h, int w,
                          ft__onnx_rows_fn fill, void *arg, ft__tensor *out, char *err,
                          size_t errlen)
{
    ft__tensor in = { NULL, h, w, net->in_c };
    if (h < 1 || w < 1)
        return ft__errf(err, errlen, FT_EINVAL, "input %dx%dx%d, the net takes %d channels", h, w,
                        net->in_c, net->in_c);
    if (net->src_chain >= 0) {
        net->src = fill, net->src_arg = arg;
        int rc = ft__onnx_net_run(ctx, net, &in, out, err, errlen);
        net->src = NULL, net->src_arg = NULL;
        return rc;
    }
    size_t need = (size_t)h * w * net->in_c;
    if (net->in_cap < need) {
        float *p = ft__realloc(net->in_buf, (need + FT__XNN_SLACK) * sizeof(float));
        if (!p) return ft__errf(err, errlen, FT_ENOMEM, "out of memory");
        net->in_buf = p, net->in_cap = need;
    }
    fill(arg, 0, h, net->in_buf);
    in.data = net->in_buf;
    return ft__onnx_net_run(ctx, net, &in, out, err, errlen);
}
