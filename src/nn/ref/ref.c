/*
** nn/ref/ref.c: naive reference kernels with TensorFlow semantics.
**
** DESIGN
**   The slowest, plainest loops that implement each layer: the oracle against
**   which tests check the XNNPACK path. Accumulation is in double so that the
**   reference is closer to exact than either fast path.
**
** INVARIANTS  (1) SAME padding: total = max((out-1)*s + k - in, 0), the smaller
**                 half before; padded cells are zero for conv and ignored for
**                 max pooling. EXPLICIT padding puts pad_y/pad_x cells on
**                 each side, with the same treatment.
**             (2) no allocation, no XNNPACK call.
*/
#include "nn/nn.h"

#include <math.h>

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void ft__ref_conv(const ft__conv *l, const ft__tensor *in, ft__tensor *out)
{
    int pt = l->pad == FT__PAD_EXPLICIT ? l->pad_y
                                        : ft__window_pad_before(in->h, l->kh, l->stride, l->pad);
    int pl = l->pad == FT__PAD_EXPLICIT ? l->pad_x
                                        : ft__window_pad_before(in->w, l->kw, l->stride, l->pad);
    for (int oy = 0; oy < out->h; oy++)
        for (int ox = 0; ox < out->w; ox++)
            for (int o = 0; o < l->cout; o++) {
                double acc = l->b[o];
                for (int ky = 0; ky < l->kh; ky++) {
                    int iy = oy * l->stride + ky - pt;
                    if (iy < 0 || iy >= in->h) continue;
                    for (int kx = 0; kx < l->kw; kx++) {
                        int ix = ox * l->stride + kx - pl;
                        if (ix < 0 || ix >= in->w) continue;
                        const float *px = in->data + ((size_t)iy * in->w + ix) * in->c;
                        if (l->depthwise) {
                            acc += (double)px[o] * l->w[((size_t)ky * l->kw + kx) * l->cin + o];
                        } else {
                            const float *wk = l->w + ((size_t)ky * l->kw + kx) * l->cin * l->cout;
                            for (int i = 0; i < l->cin; i++)
                                acc += (double)px[i] * wk[(size_t)i * l->cout + o];
                        }
                    }
                }
                out->data[((size_t)oy * out->w + ox) * out->c + o] =
                    clampf((float)acc, l->out_min, l->out_max);
            }
}

void ft__ref_pool(const ft__pool *l, const ft__tensor *in, ft__tensor *out)
{
    int pt = l->pad == FT__PAD_EXPLICIT ? l->pad_y
                                        : ft__window_pad_before(in->h, l->k, l->stride, l->pad);
    int pl = l->pad == FT__PAD_EXPLICIT ? l->pad_x
                                        : ft__window_pad_before(in->w, l->k, l->stride, l->pad);
    for (int oy = 0; oy < out->h; oy++)
        for (int ox = 0; ox < out->w; ox++)
            for (int c = 0; c < in->c; c++) {
                double acc = l->kind == FT__POOL_MAX ? -INFINITY : 0;
                int n = 0;
                for (int ky = 0; ky < l->k; ky++) {
                    int iy = oy * l->stride + ky - pt;
                    if (iy < 0 || iy >= in->h) continue;
                    for (int kx = 0; kx < l->k; kx++) {
                        int ix = ox * l->stride + kx - pl;
                        if (ix < 0 || ix >= in->w) continue;
                        double v = in->data[((size_t)iy * in->w + ix) * in->c + c];
                        if (l->kind == FT__POOL_MAX)
                            acc = v > acc ? v : acc;
                        else
                            acc += v;
                        n++;
                    }
                }
                if (l->kind == FT__POOL_AVG) acc = n ? acc / n : 0;
                out->data[((size_t)oy * out->w + ox) * out->c + c] = (float)acc;
            }
}

void ft__ref_add(float out_min, float out_max, const ft__tensor *a, const ft__tensor *b,
                 ft__tensor *out)
{
    size_t n = ft__tensor_count(a);
    for (size_t i = 0; i < n; i++)
        out->data[i] = clampf(a->data[i] + b->data[i], out_min, out_max);
}

void ft__ref_leaky(float slope, const ft__tensor *in, ft__tensor *out)
{
    size_t n = ft__tensor_count(in);
    for (size_t i = 0; i < n; i++) {
        float v = in->data[i];
        out->data[i] = v >= 0 ? v : v * slope;
    }
}

void ft__ref_fc(const ft__fc *l, const float *in, float *out)
{
    for (int o = 0; o < l->cout; o++) {
        double acc = l->b[o];
        for (int i = 0; i < l->cin; i++)
            acc += (double)in[i] * l->w[(size_t)i * l->cout + o];
        out[o] = (float)acc;
    }
}

void ft__ref_sigmoid(const ft__tensor *in, ft__tensor *out)
{
    size_t n = ft__tensor_count(in);
    for (size_t i = 0; i < n; i++)
        out->data[i] = (float)(1.0 / (1.0 + exp(-(double)in->data[i])));
}

void ft__ref_upsample(int factor, const ft__tensor *in, ft__tensor *out)
{
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++)
            for (int c = 0; c < out->c; c++)
                out->data[((size_t)y * out->w + x) * out->c + c] =
                    in->data[((size_t)(y / factor) * in->w + x / factor) * in->c + c];
}

void ft__ref_upsample_add(int factor, const ft__tensor *a, const ft__tensor *in, ft__tensor *out)
{
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++)
            for (int c = 0; c < out->c; c++) {
                size_t i = ((size_t)y * out->w + x) * out->c + c;
                out->data[i] =
                    a->data[i] + in->data[((size_t)(y / factor) * in->w + x / factor) * in->c + c];
            }
}

void ft__ref_slice(int off, const ft__tensor *in, ft__tensor *out)
{
    for (size_t i = 0; i < (size_t)in->h * in->w; i++)
        for (int c = 0; c < out->c; c++)
            out->data[i * out->c + c] = in->data[i * in->c + off + c];
}
