/*
** nn/onnx.h: ONNX models: a reader that unpacks a model file into plain C
** structs (nn/onnx.c), and an interpreter that runs such a graph on the
** layers of nn/nn.h (nn/onnx_net.c).
**
** DESIGN
**   Reader: the file is read whole, checked against its pin (nn/model.c),
**   decoded by the C code protoc-c generates from onnx.proto at build time,
**   and copied into the structs below, which hold only what the nets need:
**   initializers as float or int64 arrays with their dims, nodes with their
**   op type, input and output names and attributes, and the graph's inputs
**   and outputs with their (possibly symbolic) dims. Nothing of protobuf
**   leaks out of nn/onnx.c.
**
**   Interpreter: a graph of the operators listed at ft__onnx_net_build is
**   compiled once into a sequence of nn.h layers (weights transposed from
**   ONNX's OIHW to the layers' layouts, a Relu folded into the Conv before
**   it), and run at any input size. Activations are NHWC float tensors;
**   ONNX's NCHW is only a logical view of them, so the Transpose to NHWC and
**   the Reshape to (N, H*W, C) that detection heads end with cost nothing.
**
** INVARIANTS  (1) a loaded graph's every FLOAT/INT64 initializer holds
**                 exactly count = product(dims) values, whatever the file
**                 said (raw_data or the typed field, checked).
**             (2) no input file, however malformed, makes the reader crash
**                 or leak: the result is FT_EMODEL with a message naming the
**                 file, or FT_ENOMEM.
**             (3) a built net does not refer to the graph: the graph may be
**                 freed right after ft__onnx_net_build.
** THREADS     A loaded graph is immutable (share freely); a net owns scratch
**             space and is used by one thread at a time.
*/
#ifndef FT_ONNX_H
#define FT_ONNX_H

#include "nn/nn.h"

#include <stdint.h>

#define FT__ONNX_MAX_RANK 8

/* TensorProto.DataType values the reader keeps data for. */
enum ft__onnx_dtype { FT__ONNX_FLOAT = 1, FT__ONNX_INT64 = 7 };

typedef struct ft__onnx_tensor {
    char *name;
    int dtype; /* TensorProto.DataType; data kept only for FLOAT and INT64 */
    int rank;
    int64_t dims[FT__ONNX_MAX_RANK];
    size_t count; /* product of dims (1 for a scalar) */
    float *f;     /* (count) when dtype is FLOAT, else NULL */
    int64_t *i64; /* (count) when dtype is INT64, else NULL */
} ft__onnx_tensor;

enum ft__onnx_attr_kind {
    FT__ONNX_ATTR_OTHER = 0, /* graphs, strings lists, ...: name only */
    FT__ONNX_ATTR_FLOAT,
    FT__ONNX_ATTR_INT,
    FT__ONNX_ATTR_STRING,
    FT__ONNX_ATTR_TENSOR,
    FT__ONNX_ATTR_FLOATS,
    FT__ONNX_ATTR_INTS,
};

typedef struct ft__onnx_attr {
    char *name;
    enum ft__onnx_attr_kind kind;
    float f;            /* FLOAT */
    int64_t i;          /* INT */
    char *s;            /* STRING (NUL-terminated copy) */
    ft__onnx_tensor *t; /* TENSOR */
    int n;              /* FLOATS / INTS: element count */
    float *floats;      /* (n) */
    int64_t *ints;      /* (n) */
} ft__onnx_attr;

typedef struct ft__onnx_node {
    char *name, *op_type, *domain;
    int n_in, n_out, n_attr;
    char **in; /* (n_in); "" marks an omitted optional input */
    char **out;
    ft__onnx_attr *attr;
} ft__onnx_node;

/* A graph input or output. */
typedef struct ft__onnx_value {
    char *name;
    int elem_type;                   /* TensorProto.DataType, 0 if not given */
    int rank;                        /* -1 when no shape is given */
    int64_t dims[FT__ONNX_MAX_RANK]; /* -1 for a symbolic or unknown dim */
} ft__onnx_value;

typedef struct ft__onnx_graph {
    char *path; /* the file, for messages */
    int64_t ir_version;
    int64_t opset; /* version of the default operator set ("" or "ai.onnx") */
    int n_init, n_node, n_input, n_output;
    ft__onnx_tensor *init;  /* (n_init) */
    ft__onnx_node *node;    /* (n_node), in the file's (topological) order */
    ft__onnx_value *input;  /* (n_input): the graph inputs that are not initializers */
    ft__onnx_value *output; /* (n_output) */
} ft__onnx_graph;

/* Reads the model at path: checks the file's pin when its base name is in
** the pin table (nn/model.c), then parses it (ft__onnx_parse).
** FT_EMODEL (missing, unreadable, over 256 MiB, pin mismatch, malformed),
** FT_ENOMEM; the message names path. On error *out is NULL. */
int ft__onnx_load(const char *path, ft__onnx_graph **out, char *err, size_t errlen);

/* Parses an ONNX model held in memory (no pin check); path names it in
** messages. FT_EMODEL for bytes that are not a well-formed ONNX model
** (protobuf that does not decode, no graph, no opset, an initializer whose
** data does not match its dims or type, external data, rank over
** FT__ONNX_MAX_RANK), FT_ENOMEM. */
int ft__onnx_parse(const char *path, const unsigned char *data, size_t len, ft__onnx_graph **out,
                   char *err, size_t errlen);
void ft__onnx_free(ft__onnx_graph *g);

/* The initializer called name, or NULL. */
const ft__onnx_tensor *ft__onnx_init_find(const ft__onnx_graph *g, const char *name);
/* The attribute called name of node n, or NULL. */
const ft__onnx_attr *ft__onnx_attr_find(const ft__onnx_node *n, const char *name);

/* ------------------------------------------------------------------------ */
/* Interpreter (nn/onnx_net.c)                                              */
/* ------------------------------------------------------------------------ */

typedef struct ft__onnx_net ft__onnx_net;

/* Compiles g into a net. Supported: one float input (N, C, H, W) with N 1
** or symbolic, and the operators
**   Conv      2-D, group 1 or depthwise (group == in == out channels),
**             equal strides, symmetric explicit pads, dilation 1, with or
**             without bias; a Relu that is the only reader of its output is
**             folded into it
**   MaxPool   square kernel, equal strides, symmetric pads, ceil_mode 0
**   Resize    nearest, asymmetric, floor, constant scales (1, 1, f, f) with
**             an integer f (opset 11 form: X, roi, scales); when an Add
**             alone reads it, done inside that Add
**   Add       of two activations of the same shape
**   Sigmoid   on any activation
**   Transpose perm (0, 2, 3, 1) and Reshape to (1, -1, C) after it: views
**   Shape, Gather, Unsqueeze, Concat: only as the computation of a Reshape's
**             target from the batch dim and constants
** FT_EMODEL with a message naming the node for anything else, FT_ENOMEM,
** FT_EBACKEND. */
int ft__onnx_net_build(const ft__onnx_graph *g, ft__onnx_net **out, char *err, size_t errlen);
void ft__onnx_net_free(ft__onnx_net *net);

/* The input's channels and its declared height and width (0 when symbolic). */
void ft__onnx_net_input(const ft__onnx_net *net, int *c, int *h, int *w);
int ft__onnx_net_n_outputs(const ft__onnx_net *net);
/* Output i's name (as in the graph) and channel count. */
const char *ft__onnx_net_output_name(const ft__onnx_net *net, int i);
int ft__onnx_net_output_channels(const ft__onnx_net *net, int i);

/* Runs the net on in ((h, w, c) NHWC, c as the input's, FT__XNN_SLACK floats
** of slack after the data; the declared size is not enforced). Fills out[i]
** (n_outputs of them) with borrowed views of the outputs as (h, w, c) NHWC
** tensors, valid until the next run or free: an NCHW output is seen
** transposed, a flattened (N, H*W, C) one as the (H, W, C) grid it came
** from. FT_EINVAL (message in err) when the size does not fit the graph
** (an Add of different shapes, a window larger than its input), FT_ENOMEM,
** FT_EBACKEND. */
int ft__onnx_net_run(const ft__nn_ctx *ctx, ft__onnx_net *net, const ft__tensor *in,
                     ft__tensor *out, char *err, size_t errlen);

/* Makes rows [y0, y1) of a net's (h, w, c) input into dst ((y1 - y0) * w * c
** floats). */
typedef void (*ft__onnx_rows_fn)(void *arg, int y0, int y1, float *dst);

/* ft__onnx_net_run on an (h, w, c) input that fill makes: a band of rows at a
** time, just before the first layers read them, when one chain of layers
** alone reads the input (see onnx_net.c); else the whole input at once, into
** a buffer the net keeps. Never more than once per row and run. */
int ft__onnx_net_run_rows(const ft__nn_ctx *ctx, ft__onnx_net *net, int h, int w,
                          ft__onnx_rows_fn fill, void *arg, ft__tensor *out, char *err,
                          size_t errlen);

/* Test hooks (process-wide, not thread-safe): the bytes a band of a chain
** aims at (0: the default, 256 KB), and whole != 0 runs every chain in one
** band, the whole image at once, as the reference path does. */
void ft__onnx_band_bytes(size_t bytes);
void ft__onnx_whole(int on);

#endif
