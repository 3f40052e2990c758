/*
** image/jpeg.c: JPEG decoding from memory with libjpeg-turbo, EXIF orientation
** applied.
**
** DESIGN
**   libjpeg reports fatal errors through error_exit, which here longjmps back
**   to ft__decode_jpeg instead of calling exit(). Warnings go through
**   emit_message: all are silenced, except the two that mean pixels are
**   missing, which are fatal: "premature end of JPEG file" (JWRN_JPEG_EOF, the
**   memory source ran dry) and "premature end of data segment"
**   (JWRN_HIT_MARKER, a scan's entropy data stops at a marker while rows still
**   need it: a cut file with EOI appended, or a frame header claiming more
**   rows than were coded). A truncated photo is rejected, not decoded half
**   grey; warnings that lose no pixels (extraneous bytes) are tolerated. A progress monitor caps the scan
**   count, as libjpeg-turbo advises, so a hostile progressive file cannot make
**   one decode take minutes.
**
**   Output is RGB. Grey and YCbCr/RGB files are converted by libjpeg; CMYK and
**   YCCK files come out as CMYK and are converted here, treating Adobe-marked
**   files as inverted (as Photoshop writes them). Decoder settings are libjpeg's
**   defaults (JDCT_ISLOW, fancy upsampling) so pixels match other decoders.
**
** INVARIANTS  (1) the header's size is checked against the limit before any
**                 pixel memory is allocated.
**             (2) every local read after a longjmp (img, row) is volatile, and
**                 the handler frees both and destroys the decompressor.
**             (3) no libjpeg call is made after jpeg_destroy_decompress.
*/
#include "image/decode.h"

#include "core/core.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>

#include <jerror.h>

/* Beyond this many scans a file is treated as hostile (libjpeg-turbo's
** TJFLAG_LIMITSCANS uses the same number). */
#define FT_JPEG_MAX_SCANS 500

enum jpeg_fail { FAIL_LIBJPEG = 0, FAIL_TRUNCATED, FAIL_SHORT_SEGMENT, FAIL_SCANS };

struct jpeg_err {
    struct jpeg_error_mgr pub; /* first: libjpeg sees only this part */
    jmp_buf jb;
    volatile int why; /* enum jpeg_fail */
};

static void on_error_exit(j_common_ptr cinfo)
{
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
    e->why = FAIL_LIBJPEG;
    longjmp(e->jb, 1);
}

static void on_emit_message(j_common_ptr cinfo, int msg_level)
{
    if (msg_level >= 0) return; /* trace messages */
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
    if (e->pub.msg_code == JWRN_JPEG_EOF || e->pub.msg_code == JWRN_HIT_MARKER) {
        e->why = e->pub.msg_code == JWRN_JPEG_EOF ? FAIL_TRUNCATED : FAIL_SHORT_SEGMENT;
        longjmp(e->jb, 1);
    }
    e->pub.num_warnings++;
}

static void on_progress(j_common_ptr cinfo)
{
    if (!cinfo->is_decompressor) return;
    if (((j_decompress_ptr)cinfo)->input_scan_number > FT_JPEG_MAX_SCANS) {
        struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
        e->why = FAIL_SCANS;
        longjmp(e->jb, 1);
    }
}

/* x * y / 255, rounded, for x, y in 0..255. */
static unsigned char mul255(unsigned x, unsigned y)
{
    unsigned t = x * y + 128;
    return (unsigned char)((t + (t >> 8)) >> 8);
}

/* One row of CMYK (inverted: 255 means no ink) to RGB. */
static void cmyk_row_to_rgb(const unsigned char *src, unsigned char *dst, size_t n, int inverted)
{
    for (size_t i = 0; i < n; i++, src += 4, dst += 3) {
        unsigned c = src[0], m = src[1], y = src[2], k = src[3];
        if (!inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
        dst[0] = mul255(c, k);
        dst[1] = mul255(m, k);
        dst[2] = mul255(y, k);
    }
}

/* Orientation from the first APP1 segment that is EXIF; 1 if none. */
static int exif_orientation(j_decompress_ptr cinfo)
{
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1 || m->data_length < 6) continue;
        if (memcmp(m->data, "Exif\0\0", 6) != 0) continue;
        return ft__exif_orientation(m->data, m->data_length);
    }
    return 1;
}

int ft__decode_jpeg(const unsigned char *data, size_t len, const char *name, size_t max_pixels,
                    ft_image **out, char *errbuf, size_t errbuf_len)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_err jerr;
    struct jpeg_progress_mgr progress;
    ft_image *volatile img = NULL;
    unsigned char *volatile row = NULL;
    ft_image *fresh;
    int rc, orientation, cmyk;
    size_t width;

    *out = NULL;
    if (len > ULONG_MAX)
        return ft__errf(errbuf, errbuf_len, FT_ETOOBIG, "%s: JPEG data too large", name);

    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = on_error_exit;
    jerr.pub.emit_message = on_emit_message;
    jerr.why = FAIL_LIBJPEG;
    progress.progress_monitor = on_progress;

    if (setjmp(jerr.jb)) {
        if (jerr.why == FAIL_TRUNCATED) {
            rc = ft__errf(errbuf, errbuf_len, FT_EFORMAT, "%s: truncated JPEG data", name);
        } else if (jerr.why == FAIL_SHORT_SEGMENT) {
            rc = ft__errf(errbuf, errbuf_len, FT_EFORMAT,
                          "%s: truncated JPEG data (a scan ends before its pixels)", name);
        } else if (jerr.why == FAIL_SCANS) {
            rc = ft__errf(errbuf, errbuf_len, FT_EFORMAT, "%s: corrupt JPEG: more than %d scans",
                          name, FT_JPEG_MAX_SCANS);
        } else {
            char msg[JMSG_LENGTH_MAX];
            jerr.pub.format_message((j_common_ptr)&cinfo, msg);
            if (jerr.pub.msg_code == JERR_OUT_OF_MEMORY)
                rc = ft__errf(errbuf, errbuf_len, FT_ENOMEM, "%s: out of memory decoding JPEG (%s)",
                              name, msg);
            else
                rc = ft__errf(errbuf, errbuf_len, FT_EFORMAT, "%s: corrupt JPEG: %s", name, msg);
        }
        jpeg_destroy_decompress(&cinfo);
        ft_image_destroy(img);
        ft__free(row);
        return rc;
    }

    jpeg_create_decompress(&cinfo);
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(&cinfo, TRUE);

    rc = ft__image_check_size(cinfo.image_width, cinfo.image_height, max_pixels, name, errbuf,
                              errbuf_len);
    if (rc != FT_OK) goto done;
    orientation = exif_orientation(&cinfo);
    cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;

    jpeg_start_decompress(&cinfo);
    if (cinfo.output_width != cinfo.image_width || cinfo.output_height != cinfo.image_height ||
        cinfo.output_components != (cmyk ? 4 : 3)) {
        rc = ft__errf(errbuf, errbuf_len, FT_EFORMAT,
                      "%s: unsupported JPEG (output %ux%u with %d components)", name,
                      (unsigned)cinfo.output_width, (unsigned)cinfo.output_height,
                      cinfo.output_components);
        goto done;
    }
    rc = ft__image_alloc((int)cinfo.output_width, (int)cinfo.output_height, &fresh);
    if (rc != FT_OK) {
        rc = ft__errf(errbuf, errbuf_len, rc, "%s: out of memory for %ux%u pixels", name,
                      (unsigned)cinfo.output_width, (unsigned)cinfo.output_height);
        goto done;
    }
    img = fresh;
    width = cinfo.output_width;
    if (cmyk) {
        unsigned char *r = ft__malloc(width * 4);
        if (!r) {
            rc = ft__errf(errbuf, errbuf_len, FT_ENOMEM, "%s: out of memory", name);
            goto done;
        }
        row = r;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned char *dst = img->rgb + (size_t)cinfo.output_scanline * width * 3;
        JSAMPROW rp = cmyk ? row : dst;
        if (jpeg_read_scanlines(&cinfo, &rp, 1) != 1) {
            /* Cannot happen with a memory source; never loop forever. */
            rc = ft__errf(errbuf, errbuf_len, FT_EFORMAT, "%s: truncated JPEG data", name);
            goto done;
        }
        if (cmyk) cmyk_row_to_rgb(row, dst, width, cinfo.saw_Adobe_marker);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    ft__free(row);

    if (orientation != 1) {
        ft_image *upright;
        rc = ft__image_orient(img, orientation, &upright);
        ft_image_destroy(img);
        if (rc != FT_OK)
            return ft__errf(errbuf, errbuf_len, rc, "%s: out of memory applying orientation %d",
                            name, orientation);
        *out = upright;
        return FT_OK;
    }
    *out = img;
    return FT_OK;

done:
    jpeg_destroy_decompress(&cinfo);
    ft_image_destroy(img);
    ft__free(row);
    return rc;
}
