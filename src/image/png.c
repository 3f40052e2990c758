/*
** image/png.c: PNG decoding from memory and RGB PNG writing, with libpng.
**
** DESIGN
**   libpng's fatal errors longjmp back to the caller's setjmp (the error
**   callback records the message, then png_longjmp); warnings are silenced.
**   libpng allocates through ft__malloc/ft__free (png_create_*_struct_2), so
**   allocation-failure tests reach its internals too; a failed allocation sets
**   ctx.oom, which turns the resulting libpng error into FT_ENOMEM.
**
**   Decoding expands palette and grey to RGB, strips 16-bit samples to their
**   high byte, and drops alpha and tRNS without compositing: the stored colour
**   values come out unchanged. Interlaced files are read pass by pass into the
**   final rows (libpng merges each pass). libpng's own width/height limits are
**   lifted so that our pixel limit, checked right after png_read_info and
**   before any pixel memory exists, decides (FT_ETOOBIG).
**
** INVARIANTS  (1) every row libpng writes is exactly width * 3 bytes (checked
**                 after png_read_update_info, before the first row).
**             (2) every local read after a longjmp is volatile; the handler
**                 destroys the libpng structs and frees the image.
**             (3) a truncated or corrupt file is FT_EFORMAT, including a file
**                 cut after the pixels (png_read_end must reach IEND).
*/
#include "image/decode.h"

#include "core/core.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <png.h>

/* State shared with the libpng callbacks (error, warning, memory, read). */
struct png_ctx {
    const unsigned char *data;
    size_t len, pos;
    volatile int oom;       /* an allocation failed */
    volatile int truncated; /* the data ran out */
    char msg[160];
};

static void on_png_error(png_structp png, png_const_charp msg)
{
    struct png_ctx *ctx = png_get_error_ptr(png);
    if (ctx) snprintf(ctx->msg, sizeof ctx->msg, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static png_voidp on_png_malloc(png_structp png, png_alloc_size_t n)
{
    void *p = ft__malloc(n);
    if (!p) {
        struct png_ctx *ctx = png_get_mem_ptr(png);
        if (ctx) ctx->oom = 1;
    }
    return p;
}

static void on_png_free(png_structp png, png_voidp p)
{
    (void)png;
    ft__free(p);
}

static void on_png_read(png_structp png, png_bytep dst, size_t n)
{
    struct png_ctx *ctx = png_get_io_ptr(png);
    if (ctx->len - ctx->pos < n) {
        ctx->truncated = 1;
        png_error(png, "truncated PNG data");
    }
    memcpy(dst, ctx->data + ctx->pos, n);
    ctx->pos += n;
}

int ft__decode_png(const unsigned char *data, size_t len, const char *name, size_t max_pixels,
                   ft_image **out, char *errbuf, size_t errbuf_len)
{
    struct png_ctx ctx = { .data = data, .len = len };
    ft_image *volatile img = NULL;
    ft_image *fresh;
    png_uint_32 width, height;
    int bit_depth, color_type, passes, rc;

    *out = NULL;
    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &ctx, on_png_error,
                                               on_png_warning, &ctx, on_png_malloc, on_png_free);
    if (!png) return ft__errf(errbuf, errbuf_len, FT_ENOMEM, "%s: out of memory", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return ft__errf(errbuf, errbuf_len, FT_ENOMEM, "%s: out of memory", name);
    }

    if (setjmp(png_jmpbuf(png))) {
        if (ctx.oom)
            rc = ft__errf(errbuf, errbuf_len, FT_ENOMEM, "%s: out of memory decoding PNG", name);
        else if (ctx.truncated)
            rc = ft__errf(errbuf, errbuf_len, FT_EFORMAT, "%s: truncated PNG data", name);
        else
            rc = ft__errf(errbuf, errbuf_len, FT_EFORMAT, "%s: corrupt PNG: %s", name, ctx.msg);
        png_destroy_read_struct(&png, &info, NULL);
        ft_image_destroy(img);
        return rc;
    }

    png_set_read_fn(png, &ctx, on_png_read);
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_read_info(png, info);
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
    rc = ft__image_check_size(width, height, max_pixels, name, errbuf, errbuf_len);
    if (rc != FT_OK) goto done;

    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16) png_set_strip_16(png);
    /* Palette expansion turns tRNS into alpha; strip it with real alpha. */
    if ((color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_strip_alpha(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)width * 3) {
        rc = ft__errf(errbuf, errbuf_len, FT_EFORMAT,
                      "%s: unsupported PNG layout (color type %d, bit depth %d)", name, color_type,
                      bit_depth);
        goto done;
    }

    rc = ft__image_alloc((int)width, (int)height, &fresh);
    if (rc != FT_OK) {
        rc = ft__errf(errbuf, errbuf_len, rc, "%s: out of memory for %ux%u pixels", name,
                      (unsigned)width, (unsigned)height);
        goto done;
    }
    img = fresh;
    for (int pass = 0; pass < passes; pass++)
        for (png_uint_32 y = 0; y < height; y++)
            png_read_row(png, img->rgb + (size_t)y * width * 3, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    *out = img;
    return FT_OK;

done:
    png_destroy_read_struct(&png, &info, NULL);
    ft_image_destroy(img);
    return rc;
}

int ft_image_save_png(const ft_image *img, const char *path, char *errbuf, size_t errbuf_len)
{
    if (errbuf && errbuf_len) errbuf[0] = '\0';
    if (!path) return ft__errf(errbuf, errbuf_len, FT_EINVAL, "no PNG path given");
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return ft__errf(errbuf, errbuf_len, FT_EINVAL, "%s: no image to save", path);

    struct png_ctx ctx = { .data = NULL };
    FILE *f = fopen(path, "wb");
    if (!f) return ft__errf(errbuf, errbuf_len, FT_EIO, "%s: %s", path, strerror(errno));
    png_structp png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, &ctx, on_png_error,
                                                on_png_warning, &ctx, on_png_malloc, on_png_free);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        fclose(f);
        return ft__errf(errbuf, errbuf_len, FT_EIO, "%s: out of memory writing PNG", path);
    }

    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        if (ctx.oom)
            return ft__errf(errbuf, errbuf_len, FT_EIO, "%s: out of memory writing PNG", path);
        return ft__errf(errbuf, errbuf_len, FT_EIO, "%s: cannot write PNG: %s", path, ctx.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < img->height; y++)
        png_write_row(png, img->rgb + (size_t)y * (size_t)img->width * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);

    int werr = ferror(f);
    if (fclose(f) != 0 || werr)
        return ft__errf(errbuf, errbuf_len, FT_EIO, "%s: cannot write PNG: %s", path,
                        werr ? "write error" : strerror(errno));
    return FT_OK;
}
