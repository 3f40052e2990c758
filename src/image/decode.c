/*
** image/decode.c: ft_image_load and ft_image_decode: read, sniff, dispatch.
**
** DESIGN
**   The format comes from the magic bytes only (JPEG FF D8 FF, PNG's 8-byte
**   signature), never from the name. The pixel limit is resolved here (0 means
**   FT_IMAGE_DEFAULT_MAX_PIXELS) and checked by each decoder against the header
**   through ft__image_check_size, before pixel memory is allocated.
**
** INVARIANTS  (1) on any failure *out is NULL and errbuf holds one line that
**                 starts with the file name.
**             (2) sizes are compared in 64 bits: width * height of two 31-bit
**                 sides cannot overflow.
*/
#include "image/decode.h"

#include "core/core.h"

#include <limits.h>
#include <string.h>

/* Files larger than this are refused before reading (no photo comes close). */
#define FT_IMAGE_MAX_FILE_BYTES ((size_t)512 * 1024 * 1024)

static const unsigned char jpeg_magic[3] = { 0xFF, 0xD8, 0xFF };
static const unsigned char png_magic[8] = { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };

int ft__image_check_size(uint64_t width, uint64_t height, size_t max_pixels, const char *name,
                         char *errbuf, size_t errbuf_len)
{
    if (width == 0 || height == 0)
        return ft__errf(errbuf, errbuf_len, FT_EFORMAT, "%s: image has no pixels (%llux%llu)", name,
                        (unsigned long long)width, (unsigned long long)height);
    if (width > INT_MAX || height > INT_MAX)
        return ft__errf(errbuf, errbuf_len, FT_ETOOBIG,
                        "%s: image is %llux%llu, a side over the limit of %d", name,
                        (unsigned long long)width, (unsigned long long)height, INT_MAX);
    uint64_t pixels = width * height;
    if (pixels > (uint64_t)max_pixels)
        return ft__errf(errbuf, errbuf_len, FT_ETOOBIG,
                        "%s: image is %llux%llu (%llu pixels), over the limit of %llu", name,
                        (unsigned long long)width, (unsigned long long)height,
                        (unsigned long long)pixels, (unsigned long long)max_pixels);
    return FT_OK;
}

int ft_image_decode(const void *data, size_t len, const char *name, size_t max_pixels,
                    ft_image **out, char *errbuf, size_t errbuf_len)
{
    if (errbuf && errbuf_len) errbuf[0] = '\0';
    if (!name) name = "<memory>";
    if (!out) return ft__errf(errbuf, errbuf_len, FT_EINVAL, "%s: no output image", name);
    *out = NULL;
    if (!data && len)
        return ft__errf(errbuf, errbuf_len, FT_EINVAL, "%s: no data for %zu bytes", name, len);
    if (len == 0)
        return ft__errf(errbuf, errbuf_len, FT_EFORMAT, "%s: empty file, not a JPEG or PNG image",
                        name);
    if (max_pixels == 0) max_pixels = FT_IMAGE_DEFAULT_MAX_PIXELS;

    const unsigned char *p = data;
    if (len >= sizeof jpeg_magic && memcmp(p, jpeg_magic, sizeof jpeg_magic) == 0)
        return ft__decode_jpeg(p, len, name, max_pixels, out, errbuf, errbuf_len);
    if (len >= sizeof png_magic && memcmp(p, png_magic, sizeof png_magic) == 0)
        return ft__decode_png(p, len, name, max_pixels, out, errbuf, errbuf_len);
    return ft__errf(errbuf, errbuf_len, FT_EFORMAT, "%s: not a JPEG or PNG image", name);
}

int ft_image_load(const char *path, size_t max_pixels, ft_image **out, char *errbuf,
                  size_t errbuf_len)
{
    if (errbuf && errbuf_len) errbuf[0] = '\0';
    if (!out)
        return ft__errf(errbuf, errbuf_len, FT_EINVAL, "%s: no output image",
                        path ? path : "(null)");
    *out = NULL;
    if (!path) return ft__errf(errbuf, errbuf_len, FT_EINVAL, "no image path given");
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = ft__read_file(path, FT_IMAGE_MAX_FILE_BYTES, &buf, &len, errbuf, errbuf_len);
    if (rc != FT_OK) return rc;
    rc = ft_image_decode(buf, len, path, max_pixels, out, errbuf, errbuf_len);
    ft__free(buf);
    return rc;
}
