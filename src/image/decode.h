/*
** image/decode.h: private interface between the image files (image.c,
** decode.c, jpeg.c, png.c, exif.c).
**
** DESIGN
**   decode.c sniffs the format and calls one decoder; each decoder checks the
**   header size against the pixel limit (ft__image_check_size) before any
**   pixel memory exists, then fills an image from ft__image_alloc.
**
** INVARIANTS  (1) every decoder returns FT_OK with *out set, or a negative
**                 status with *out NULL, errbuf naming the file, nothing leaked.
**             (2) a decoder never writes outside (height, width, 3) of its image.
*/
#ifndef FT_IMAGE_DECODE_H
#define FT_IMAGE_DECODE_H

#include "facetrail.h"

#include <stddef.h>
#include <stdint.h>

/* ft_image_create without the default pixel cap (the caller has checked its
** own limit): FT_EINVAL for a non-positive size, FT_ENOMEM (also when the
** byte count does not fit in size_t). */
int ft__image_alloc(int width, int height, ft_image **out /* OUT */);

/* FT_OK if a width x height image may be decoded under max_pixels (already
** resolved, never 0); FT_EFORMAT for a zero side, FT_ETOOBIG past the limit or
** past INT_MAX on a side. The message names the file. */
int ft__image_check_size(uint64_t width, uint64_t height, size_t max_pixels, const char *name,
                         char *errbuf, size_t errbuf_len);

/* The decoders, called by ft_image_decode with the magic bytes already seen
** and max_pixels resolved. */
int ft__decode_jpeg(const unsigned char *data, size_t len, const char *name, size_t max_pixels,
                    ft_image **out /* OUT */, char *errbuf, size_t errbuf_len);
int ft__decode_png(const unsigned char *data, size_t len, const char *name, size_t max_pixels,
                   ft_image **out /* OUT */, char *errbuf, size_t errbuf_len);

/* EXIF orientation (1..8) from the payload of a JPEG APP1 segment (starting
** at "Exif\0\0"). Anything missing, malformed or out of range gives 1; reads
** stay inside [data, data + len). */
int ft__exif_orientation(const unsigned char *data, size_t len);

/* A new image holding src turned upright for an EXIF orientation 2..8 (1 is a
** plain copy). Width and height swap for 5..8. FT_OK, FT_EINVAL, FT_ENOMEM. */
int ft__image_orient(const ft_image *src, int orientation, ft_image **out /* OUT */);

#endif
