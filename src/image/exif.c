/*
** image/exif.c: the EXIF orientation tag (0x0112) and turning pixels upright.
**
** DESIGN
**   An APP1 payload is "Exif\0\0" then a TIFF header ("II*\0" little-endian or
**   "MM\0*" big-endian, then the offset of IFD0 from the TIFF header), then
**   IFD0: a 16-bit entry count and 12-byte entries (tag, type, count, value).
**   Only IFD0's orientation is read; it is a SHORT (type 3), count 1, its value
**   in the first two bytes of the value field.
**
**   Orientation o says where the stored rows and columns belong (EXIF 2.3,
**   tag 0x0112); the visual image is, from the stored one:
**       1 as is          2 mirrored left-right    3 rotated 180
**       4 mirrored top-bottom                     5 transposed (main diagonal)
**       6 rotated 90 clockwise                    7 transversed (anti-diagonal)
**       8 rotated 90 counter-clockwise
**
** INVARIANTS  (1) the parser reads only inside [data, data + len), whatever
**                 the offsets and counts say (input is hostile); every check is
**                 written as "remaining >= need" so nothing can wrap.
**             (2) malformed or unknown EXIF gives orientation 1, never an error.
*/
#include "image/decode.h"

#include "core/core.h"

#include <string.h>

#define EXIF_TAG_ORIENTATION 0x0112u
#define TIFF_TYPE_SHORT      3u

static unsigned rd16(const unsigned char *p, int little)
{
    return little ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | (unsigned)p[1];
}

static uint32_t rd32(const unsigned char *p, int little)
{
    if (little)
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int ft__exif_orientation(const unsigned char *data, size_t len)
{
    static const unsigned char exif_id[6] = { 'E', 'x', 'i', 'f', 0, 0 };
    if (!data || len < sizeof exif_id || memcmp(data, exif_id, sizeof exif_id) != 0) return 1;
    const unsigned char *tiff = data + sizeof exif_id;
    size_t tlen = len - sizeof exif_id;
    if (tlen < 8) return 1;

    int little;
    if (tiff[0] == 'I' && tiff[1] == 'I')
        little = 1;
    else if (tiff[0] == 'M' && tiff[1] == 'M')
        little = 0;
    else
        return 1;
    if (rd16(tiff + 2, little) != 42) return 1;

    uint32_t ifd = rd32(tiff + 4, little);
    if (ifd > tlen || tlen - ifd < 2) return 1;
    unsigned n = rd16(tiff + ifd, little);
    size_t pos = (size_t)ifd + 2; /* invariant: pos <= tlen */
    for (unsigned i = 0; i < n; i++, pos += 12) {
        if (tlen - pos < 12) return 1;
        const unsigned char *e = tiff + pos;
        if (rd16(e, little) != EXIF_TAG_ORIENTATION) continue;
        if (rd16(e + 2, little) != TIFF_TYPE_SHORT || rd32(e + 4, little) != 1) return 1;
        unsigned v = rd16(e + 8, little);
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

int ft__image_orient(const ft_image *src, int orientation, ft_image **out)
{
    *out = NULL;
    if (!src || !src->rgb || src->width <= 0 || src->height <= 0 || orientation < 1 ||
        orientation > 8)
        return FT_EINVAL;
    const ptrdiff_t w = src->width, h = src->height;
    const int swap = orientation >= 5;
    ft_image *dst;
    int rc =
        ft__image_alloc(swap ? src->height : src->width, swap ? src->width : src->height, &dst);
    if (rc != FT_OK) return rc;

    /* Source pixel index of output (ox, oy) is start + ox * dx + oy * dy. */
    ptrdiff_t start, dx, dy;
    switch (orientation) {
    case 2: start = w - 1, dx = -1, dy = w; break;
    case 3: start = (h - 1) * w + w - 1, dx = -1, dy = -w; break;
    case 4: start = (h - 1) * w, dx = 1, dy = -w; break;
    case 5: start = 0, dx = w, dy = 1; break;
    case 6: start = (h - 1) * w, dx = -w, dy = 1; break;
    case 7: start = (h - 1) * w + w - 1, dx = -w, dy = -1; break;
    case 8: start = w - 1, dx = w, dy = -1; break;
    default: start = 0, dx = 1, dy = w; break;
    }
    const unsigned char *s = src->rgb;
    unsigned char *d = dst->rgb;
    for (int oy = 0; oy < dst->height; oy++) {
        ptrdiff_t idx = start + (ptrdiff_t)oy * dy;
        for (int ox = 0; ox < dst->width; ox++, idx += dx, d += 3) {
            const unsigned char *sp = s + idx * 3;
            d[0] = sp[0];
            d[1] = sp[1];
            d[2] = sp[2];
        }
    }
    *out = dst;
    return FT_OK;
}
