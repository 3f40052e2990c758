/*
** image/image.c: creation and destruction of ft_image.
**
** INVARIANTS  (1) an image from here owns two blocks, the struct and rgb, both
**                 from ft__calloc; ft_image_destroy frees exactly those.
**             (2) rgb holds exactly height * width * 3 bytes, computed without
**                 overflow; a size that does not fit is FT_ENOMEM, never a
**                 short buffer.
*/
#include "image/decode.h"

#include "core/core.h"

#include <stdint.h>

int ft__image_alloc(int width, int height, ft_image **out)
{
    *out = NULL;
    if (width <= 0 || height <= 0) return FT_EINVAL;
    /* Both sides fit in int, so the product of three fits in 64 bits. */
    uint64_t bytes = (uint64_t)width * (uint64_t)height * 3u;
    if (bytes > SIZE_MAX) return FT_ENOMEM;
    ft_image *img = ft__calloc(1, sizeof *img);
    if (!img) return FT_ENOMEM;
    img->rgb = ft__calloc((size_t)bytes, 1);
    if (!img->rgb) {
        ft__free(img);
        return FT_ENOMEM;
    }
    img->width = width;
    img->height = height;
    *out = img;
    return FT_OK;
}

int ft_image_create(int width, int height, ft_image **out)
{
    if (!out) return FT_EINVAL;
    *out = NULL;
    if (width <= 0 || height <= 0) return FT_EINVAL;
    if ((uint64_t)width * (uint64_t)height > FT_IMAGE_DEFAULT_MAX_PIXELS) return FT_ETOOBIG;
    return ft__image_alloc(width, height, out);
}

void ft_image_destroy(ft_image *img)
{
    if (!img) return;
    ft__free(img->rgb);
    ft__free(img);
}
