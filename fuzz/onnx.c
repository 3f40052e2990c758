/*
** fuzz/onnx.c: fuzz target for the ONNX reader (ft__onnx_parse, nn/onnx.c)
** and, for a model that reads, the interpreter's compiler
** (ft__onnx_net_build, nn/onnx_net.c).
**
** DESIGN
**   The bytes are parsed from memory (no pin check: that is a hash compare).
**   A graph that parses is looked through as a caller would (initializers
**   by name, every node's attributes) and handed to ft__onnx_net_build,
**   whose checks of shapes, attributes and operator chains are the second
**   line of defence against a malformed file; a net that builds is freed
**   without running (running costs milliseconds and is not parsing).
*/
#include "fuzz.h"

#include "nn/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    ft__onnx_graph *g = NULL;
    if (ft__onnx_parse("fuzz.onnx", data, size, &g, err, sizeof err) != FT_OK) return 0;
    for (int i = 0; i < g->n_node; i++) {
        const ft__onnx_node *n = &g->node[i];
        for (int k = 0; k < n->n_in; k++)
            (void)ft__onnx_init_find(g, n->in[k]);
        for (int a = 0; a < n->n_attr; a++)
            (void)ft__onnx_attr_find(n, n->attr[a].name);
    }
    ft__onnx_net *net = NULL;
    if (ft__onnx_net_build(g, &net, err, sizeof err) == FT_OK) {
        int c, h, w;
        ft__onnx_net_input(net, &c, &h, &w);
        for (int i = 0; i < ft__onnx_net_n_outputs(net); i++) {
            (void)ft__onnx_net_output_name(net, i);
            (void)ft__onnx_net_output_channels(net, i);
        }
        ft__onnx_net_free(net);
    }
    ft__onnx_free(g);
    return 0;
}
