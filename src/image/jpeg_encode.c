/*
** image/jpeg_encode.c: RGB image to JPEG in memory (thumbnails), with
** libjpeg-turbo's jpeg_mem_dest.
**
** DESIGN
**   jpeg_mem_dest writes into a buffer we allocate (ft__malloc) at a size
**   that bounds any baseline 4:2:0 JPEG of the image: libjpeg-turbo's own
**   tjBufSize bound, PAD(w, 16) * PAD(h, 16) * 3 / 2 ... taken with a margin
**   (x3 instead of x1.5, plus 2 KB of headers). With room enough, libjpeg
**   never replaces the buffer, which matters on the error path: after
**   jpeg_mem_dest grows its buffer it publishes the new one only in
**   term_destination, so a libjpeg error after a growth would leak it. The
**   (impossible) growth on success is still handled: the result is copied and
**   libjpeg's malloc'd buffer is freed with free(). The result is then
**   trimmed to its size, so the caller gets an ft__malloc block of *out_len
**   bytes (ft_store_free).
**   Fatal libjpeg errors longjmp back here (error_exit); warnings are silent.
**
** INVARIANTS  (1) on error *out is NULL, *out_len 0, nothing is leaked and
**                 jpeg_destroy_compress has run.
**             (2) locals read after the longjmp (buf) are volatile.
*/
#include "core/core.h"

#include <limits.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>

#include <jerror.h>

struct enc_err {
    struct jpeg_error_mgr pub; /* first: libjpeg sees only this part */
    jmp_buf jb;
};

static void enc_error_exit(j_common_ptr cinfo)
{
    longjmp(((struct enc_err *)cinfo->err)->jb, 1);
}

static void enc_emit_message(j_common_ptr cinfo, int msg_level)
{
    (void)cinfo;
    (void)msg_level;
}

int ft_image_encode_jpeg(const ft_image *img, int quality, unsigned char **out, size_t *out_len,
                         char *err, size_t errlen)
{
    if (!out || !out_len) return ft__errf(err, errlen, FT_EINVAL, "no output given");
    *out = NULL;
    *out_len = 0;
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return ft__errf(err, errlen, FT_EINVAL, "no image to encode");
    if (img->width > JPEG_MAX_DIMENSION || img->height > JPEG_MAX_DIMENSION)
        return ft__errf(err, errlen, FT_ETOOBIG, "image %dx%d is too large for JPEG", img->width,
                        img->height);
    if (quality < 1 || quality > 100)
        return ft__errf(err, errlen, FT_EINVAL, "JPEG quality %d is not in 1..100", quality);

    uint64_t pw = ((uint64_t)img->width + 15) & ~(uint64_t)15;
    uint64_t ph = ((uint64_t)img->height + 15) & ~(uint64_t)15;
    uint64_t bound = pw * ph * 3 + 2048;
    if (bound > ULONG_MAX || bound > SIZE_MAX)
        return ft__errf(err, errlen, FT_ETOOBIG, "image %dx%d is too large to encode", img->width,
                        img->height);
    unsigned char *volatile buf = ft__malloc((size_t)bound);
    if (!buf) return ft__errf(err, errlen, FT_ENOMEM, "out of memory encoding a JPEG");

    struct jpeg_compress_struct cinfo;
    struct enc_err jerr;
    unsigned char *mem = buf;
    unsigned long mem_len = (unsigned long)bound;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = enc_error_exit;
    jerr.pub.emit_message = enc_emit_message;
    if (setjmp(jerr.jb)) {
        char msg[JMSG_LENGTH_MAX];
        jerr.pub.format_message((j_common_ptr)&cinfo, msg);
        int status = jerr.pub.msg_code == JERR_OUT_OF_MEMORY ? FT_ENOMEM : FT_EBACKEND;
        jpeg_destroy_compress(&cinfo);
        ft__free(buf);
        return ft__errf(err, errlen, status, "JPEG encoding failed: %s", msg);
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &mem, &mem_len);
    cinfo.image_width = (JDIMENSION)img->width;
    cinfo.image_height = (JDIMENSION)img->height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo); /* YCbCr 4:2:0, baseline Huffman, JDCT_ISLOW */
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    const size_t stride = (size_t)img->width * 3;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(img->rgb + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo); /* sets mem, mem_len */
    jpeg_destroy_compress(&cinfo);

    size_t n = (size_t)mem_len;
    unsigned char *result;
    if (mem != buf) { /* libjpeg outgrew the bound and malloc'd its own buffer */
        result = ft__malloc(n);
        if (result) memcpy(result, mem, n);
        free(mem);
        ft__free(buf);
        if (!result) return ft__errf(err, errlen, FT_ENOMEM, "out of memory encoding a JPEG");
    } else {
        result = ft__realloc(buf, n); /* shrink; on failure keep the larger block */
        if (!result) result = buf;
    }
    *out = result;
    *out_len = n;
    return FT_OK;
}
