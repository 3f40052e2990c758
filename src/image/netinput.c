/*
** image/netinput.c: builds a net's input tensor from an image region exactly
** as face-api's NetInput.toBatchTensor does on a tensor input.
**
** DESIGN
**   face-api slices the region, pads it to a square with zero rows/columns
**   (padToSquare), then calls tf.image.resizeBilinear unless the square
**   already has the input size. We never build the padded square: each output
**   pixel reads at most four cells of a virtual square, where cells outside
**   the region are zero.
**
**   Resize (TF legacy mode, as XNNPACK's indirection init computes it):
**     scale = (float)S / (float)size
**     sy = (float)oy * scale; top = (int)sy; bottom = min(top + 1, S - 1);
**     ay = sy - top       (the same along x)
**     t = tl + (tr - tl) * ax;  b = bl + (br - bl) * ax;  v = t + (b - t) * ay
**   all in float32, no fused multiply-add (the build uses -ffp-contract=off).
**
** INVARIANTS  (1) when S == size the pixels are copied, not interpolated.
**             (2) padding: bottom/right mode puts all d = |w - h| cells after;
**                 centred mode puts round(d / 2) after and the rest before
**                 (JavaScript Math.round, halves up).
*/
#include "image/netinput.h"

#include <string.h>

/* Value of channel c at cell (sy, sx) of the virtual padded square. */
static inline float cell(const ft_image *img, int x0, int y0, int w, int h, int off_x, int off_y,
                         int sy, int sx, int c)
{
    int ry = sy - off_y, rx = sx - off_x;
    if (ry < 0 || ry >= h || rx < 0 || rx >= w) return 0.0f;
    return (float)img->rgb[((size_t)(y0 + ry) * img->width + (x0 + rx)) * 3 + c];
}

int ft__net_input(const ft_image *img, int x, int y, int w, int h, enum ft__pad_square mode,
                  int size, float *dst)
{
    if (w <= 0 || h <= 0 || x < 0 || y < 0 || x + w > img->width || y + h > img->height ||
        size <= 0)
        return FT_EINVAL;
    int S = w > h ? w : h;
    int d = S - (w < h ? w : h);
    int before = 0;
    if (mode == FT__SQUARE_CENTRED) {
        int after = (d + 1) / 2; /* Math.round(d * 0.5) */
        before = d - after;
    }
    int off_x = h > w ? before : 0; /* padding goes on the shorter axis */
    int off_y = w > h ? before : 0;

    if (S == size) {
        for (int oy = 0; oy < size; oy++)
            for (int ox = 0; ox < size; ox++)
                for (int c = 0; c < 3; c++)
                    dst[((size_t)oy * size + ox) * 3 + c] =
                        cell(img, x, y, w, h, off_x, off_y, oy, ox, c);
        return FT_OK;
    }
    const float scale = (float)S / (float)size;
    for (int oy = 0; oy < size; oy++) {
        const float sy = (float)oy * scale;
        const int top = (int)sy;
        const int bottom = top + 1 < S - 1 ? top + 1 : S - 1;
        const float ay = sy - (float)top;
        for (int ox = 0; ox < size; ox++) {
            const float sx = (float)ox * scale;
            const int left = (int)sx;
            const int right = left + 1 < S - 1 ? left + 1 : S - 1;
            const float ax = sx - (float)left;
            for (int c = 0; c < 3; c++) {
                const float tl = cell(img, x, y, w, h, off_x, off_y, top, left, c);
                const float tr = cell(img, x, y, w, h, off_x, off_y, top, right, c);
                const float bl = cell(img, x, y, w, h, off_x, off_y, bottom, left, c);
                const float br = cell(img, x, y, w, h, off_x, off_y, bottom, right, c);
                const float t = tl + (tr - tl) * ax;
                const float b = bl + (br - bl) * ax;
                dst[((size_t)oy * size + ox) * 3 + c] = t + (b - t) * ay;
            }
        }
    }
    return FT_OK;
}
