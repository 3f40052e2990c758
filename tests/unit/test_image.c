/*
** tests/unit/test_image.c: the image module: create, PNG/JPEG decoding, EXIF
** orientation, limits, hostile input, PNG writing, allocation failures.
**
** DESIGN
**   Every fixture is made here, in memory or under /tmp (mkstemp): PNGs with
**   libpng's writer or by hand (own CRC and stored-deflate zlib stream, so the
**   bytes are exactly what the test says), JPEGs with libjpeg's compressor at
**   quality 100, 4:4:4, with hand-made EXIF APP1 segments. Expected pixels are
**   computed independently of the library (orientation from the EXIF spec's
**   "row 0 is at the visual X side" wording, not from the decoder's table).
**
** INVARIANTS  (1) nothing binary is committed; temporary files are removed.
**             (2) the suite runs under ASan/LSan: buffers handed to the parser
**                 are exact-size heap copies, so an over-read is caught, and
**                 every test ends with no_leaks() (a passing child _exits,
**                 which skips LSan's own exit-time check).
*/
#include "facetrail.h"

#include "core/core.h"
#include "image/decode.h"

#include "../harness/test.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void buf_put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        ASSERT(p != NULL);
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void buf_u32be(buf *b, uint32_t v)
{
    unsigned char q[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 8), (unsigned char)v };
    buf_put(b, q, 4);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* A fresh temporary file path (the file exists, empty). */
static void tmp_path(char path[64])
{
    snprintf(path, 64, "/tmp/ft_test_image_XXXXXX");
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    close(fd);
}

static void write_file(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(d, 1, n, f), n);
    ASSERT_EQ(fclose(f), 0);
}

/* Decodes an exact-size heap copy (so ASan sees any over-read). */
static int decode_copy(const unsigned char *d, size_t n, const char *name, size_t max_pixels,
                       ft_image **out, char *err, size_t errlen)
{
    unsigned char *c = malloc(n ? n : 1);
    ASSERT(c != NULL);
    if (n) memcpy(c, d, n);
    int rc = ft_image_decode(c, n, name, max_pixels, out, err, errlen);
    free(c);
    return rc;
}

/* LeakSanitizer's own check runs at exit, which a passing test skips (the
** harness ends the child with _exit), so each test asks for it directly when
** the binary is built with ASan/LSan; elsewhere the weak symbol is NULL. */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
        ft_test_fail(__FILE__, __LINE__, "memory leaked (see the LeakSanitizer report)");
}

static const unsigned char *px(const ft_image *img, int x, int y)
{
    return img->rgb + ((size_t)y * (size_t)img->width + (size_t)x) * 3;
}

/* ------------------------------------------------------------------------ */
/* JPEG and PNG writers for fixtures                                        */
/* ------------------------------------------------------------------------ */

typedef struct jpeg_opts {
    int w, h, comps;
    J_COLOR_SPACE in_cs;  /* JCS_RGB, JCS_GRAYSCALE, JCS_CMYK */
    J_COLOR_SPACE out_cs; /* JCS_UNKNOWN: libjpeg's default for in_cs */
    int adobe;            /* CMYK/YCCK only: 0 suppresses the Adobe marker */
    int progressive;
    int jfif;
    const jpeg_scan_info *scans; /* custom scan script if not NULL */
    int n_scans;
    const unsigned char *app1; /* written as an APP1 segment if not NULL */
    size_t app1_len;
} jpeg_opts;

/* Quality 100, every component sampled 1x1 (4:4:4). free() the result. */
static unsigned char *encode_jpeg(const unsigned char *pix, const jpeg_opts *o, size_t *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    unsigned long outlen = 0;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &outlen);
    c.image_width = (JDIMENSION)o->w;
    c.image_height = (JDIMENSION)o->h;
    c.input_components = o->comps;
    c.in_color_space = o->in_cs;
    jpeg_set_defaults(&c);
    if (o->out_cs != JCS_UNKNOWN) jpeg_set_colorspace(&c, o->out_cs);
    if (o->in_cs == JCS_CMYK) c.write_Adobe_marker = o->adobe ? TRUE : FALSE;
    c.write_JFIF_header = o->jfif ? TRUE : FALSE;
    jpeg_set_quality(&c, 100, TRUE);
    for (int i = 0; i < c.num_components; i++) {
        c.comp_info[i].h_samp_factor = 1;
        c.comp_info[i].v_samp_factor = 1;
    }
    if (o->progressive) jpeg_simple_progression(&c);
    if (o->scans) {
        c.scan_info = o->scans;
        c.num_scans = o->n_scans;
    }
    jpeg_start_compress(&c, TRUE);
    if (o->app1) jpeg_write_marker(&c, JPEG_APP0 + 1, o->app1, (unsigned)o->app1_len);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(pix + (size_t)c.next_scanline * (size_t)o->w * (size_t)o->comps);
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *len = outlen;
    return out;
}

static void png_buf_write(png_structp png, png_bytep d, size_t n)
{
    buf_put(png_get_io_ptr(png), d, n);
}

static void png_buf_flush(png_structp png)
{
    (void)png;
}

typedef struct png_opts {
    int w, h, color_type, bit_depth, interlace;
    const png_color *palette;
    int n_palette;
    const unsigned char *trns; /* palette alpha, n_trns entries */
    int n_trns;
    const png_color_16 *trns_color; /* grey/RGB tRNS */
} png_opts;

/* rows: packed PNG samples (big-endian 16-bit, MSB-first sub-byte).
** free() the result. */
static unsigned char *encode_png(const unsigned char *rows, const png_opts *o, size_t *len)
{
    buf b = { 0 };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    ASSERT(png != NULL);
    png_infop info = png_create_info_struct(png);
    ASSERT(info != NULL);
    if (setjmp(png_jmpbuf(png))) ft_test_fail(__FILE__, __LINE__, "libpng write failed");
    png_set_write_fn(png, &b, png_buf_write, png_buf_flush);
    png_set_IHDR(png, info, (png_uint_32)o->w, (png_uint_32)o->h, o->bit_depth, o->color_type,
                 o->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (o->palette) png_set_PLTE(png, info, o->palette, o->n_palette);
    if (o->trns || o->trns_color)
        png_set_tRNS(png, info, o->trns, o->trns ? o->n_trns : 0, o->trns_color);
    png_write_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    png_bytep *rp = malloc((size_t)o->h * sizeof *rp);
    ASSERT(rp != NULL);
    for (int y = 0; y < o->h; y++)
        rp[y] = (png_bytep)(rows + (size_t)y * rowbytes);
    png_write_image(png, rp); /* handles Adam7 itself */
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rp);
    *len = b.n;
    return b.p;
}

/* ------------------------------------------------------------------------ */
/* Hand-made PNG chunks                                                     */
/* ------------------------------------------------------------------------ */

static uint32_t crc32_of(const unsigned char *d, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= d[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void png_chunk(buf *b, const char type[4], const unsigned char *d, size_t n)
{
    buf_u32be(b, (uint32_t)n);
    size_t at = b->n;
    buf_put(b, type, 4);
    buf_put(b, d, n);
    buf_u32be(b, crc32_of(b->p + at, n + 4));
}

/* Recomputes every chunk CRC (after mutating chunk data). */
static void png_fix_crcs(unsigned char *p, size_t n)
{
    size_t pos = 8;
    while (n - pos >= 12) {
        uint32_t len = (uint32_t)p[pos] << 24 | (uint32_t)p[pos + 1] << 16 |
                       (uint32_t)p[pos + 2] << 8 | p[pos + 3];
        if (len > n - pos - 12) return;
        uint32_t c = crc32_of(p + pos + 4, len + 4);
        unsigned char *q = p + pos + 8 + len;
        q[0] = (unsigned char)(c >> 24), q[1] = (unsigned char)(c >> 16);
        q[2] = (unsigned char)(c >> 8), q[3] = (unsigned char)c;
        pos += 12 + (size_t)len;
    }
}

/* An 8-bit RGB PNG of w x h from raw pixels, built byte by byte: IHDR, one
** IDAT holding a zlib stream of stored (uncompressed) deflate blocks, IEND. */
static unsigned char *handmade_png(uint32_t w, uint32_t h, const unsigned char *rgb, size_t rgb_w,
                                   size_t rgb_h, int bad_ihdr_crc, size_t *len)
{
    static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A };
    buf b = { 0 }, raw = { 0 }, z = { 0 };
    buf_put(&b, sig, 8);
    unsigned char ihdr[13] = { 0 };
    for (int i = 0; i < 4; i++) {
        ihdr[i] = (unsigned char)(w >> (24 - 8 * i));
        ihdr[4 + i] = (unsigned char)(h >> (24 - 8 * i));
    }
    ihdr[8] = 8; /* bit depth */
    ihdr[9] = 2; /* RGB */
    png_chunk(&b, "IHDR", ihdr, sizeof ihdr);
    if (bad_ihdr_crc) b.p[b.n - 1] ^= 0x5A;

    /* Scanlines of the given pixels (filter 0), as many as given. */
    for (size_t y = 0; y < rgb_h; y++) {
        unsigned char f = 0;
        buf_put(&raw, &f, 1);
        buf_put(&raw, rgb + y * rgb_w * 3, rgb_w * 3);
    }
    unsigned char zh[2] = { 0x78, 0x01 };
    buf_put(&z, zh, 2);
    size_t left = raw.n, at = 0;
    do {
        size_t chunk = left > 65535 ? 65535 : left;
        unsigned char bh[5] = { (unsigned char)(chunk == left), (unsigned char)chunk,
                                (unsigned char)(chunk >> 8), (unsigned char)~chunk,
                                (unsigned char)(~chunk >> 8) };
        buf_put(&z, bh, 5);
        buf_put(&z, raw.p + at, chunk);
        at += chunk;
        left -= chunk;
    } while (left);
    uint32_t a = 1, s = 0;
    for (size_t i = 0; i < raw.n; i++) {
        a = (a + raw.p[i]) % 65521u;
        s = (s + a) % 65521u;
    }
    buf_u32be(&z, s << 16 | a);
    png_chunk(&b, "IDAT", z.p, z.n);
    png_chunk(&b, "IEND", NULL, 0);
    free(raw.p);
    free(z.p);
    *len = b.n;
    return b.p;
}

/* ------------------------------------------------------------------------ */
/* Hand-made EXIF                                                           */
/* ------------------------------------------------------------------------ */

static void put16(unsigned char *p, unsigned v, int little)
{
    p[little ? 0 : 1] = (unsigned char)v;
    p[little ? 1 : 0] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v, int little)
{
    for (int i = 0; i < 4; i++)
        p[little ? i : 3 - i] = (unsigned char)(v >> (8 * i));
}

/* "Exif\0\0", TIFF header, IFD0 = { Make "abc" (ASCII, inline), Orientation
** SHORT 1 = orientation }, next IFD 0. Returns the length (44 bytes). The
** offsets inside: IFD0 at tiff+8, orientation entry at tiff+22, value at
** tiff+30. */
static size_t make_exif(unsigned char out[64], int little, unsigned orientation)
{
    memset(out, 0, 64);
    memcpy(out, "Exif\0\0", 6);
    unsigned char *t = out + 6;
    t[0] = t[1] = little ? 'I' : 'M';
    put16(t + 2, 42, little);
    put32(t + 4, 8, little);
    put16(t + 8, 2, little); /* two entries */
    put16(t + 10, 0x010F, little);
    put16(t + 12, 2, little); /* ASCII */
    put32(t + 14, 4, little);
    memcpy(t + 18, "abc", 4);
    put16(t + 22, 0x0112, little);
    put16(t + 24, 3, little); /* SHORT */
    put32(t + 26, 1, little);
    put16(t + 30, orientation, little);
    put32(t + 34, 0, little); /* next IFD */
    return 6 + 38;
}

/* ------------------------------------------------------------------------ */
/* Fixture images                                                           */
/* ------------------------------------------------------------------------ */

static const unsigned char block_rgb[6][3] = {
    { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 }, { 255, 255, 0 }, { 0, 255, 255 }, { 255, 0, 255 },
};
#define BLK    16
#define GRID_W 3
#define GRID_H 2

/* 48x32 RGB: a 3x2 grid of 16x16 blocks, block (bx, by) coloured
** block_rgb[by * 3 + bx]. malloc'd. */
static unsigned char *block_image(void)
{
    int w = GRID_W * BLK, h = GRID_H * BLK;
    unsigned char *p = malloc((size_t)w * h * 3);
    ASSERT(p != NULL);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(p + ((size_t)y * w + x) * 3, block_rgb[(y / BLK) * GRID_W + x / BLK], 3);
    return p;
}

static unsigned char *block_jpeg(const unsigned char *app1, size_t app1_len, size_t *len)
{
    unsigned char *pix = block_image();
    jpeg_opts o = { .w = GRID_W * BLK,
                    .h = GRID_H * BLK,
                    .comps = 3,
                    .in_cs = JCS_RGB,
                    .out_cs = JCS_UNKNOWN,
                    .app1 = app1,
                    .app1_len = app1_len };
    unsigned char *j = encode_jpeg(pix, &o, len);
    free(pix);
    return j;
}

/* Smooth colour pattern, w x h RGB. */
static unsigned char *smooth_image(int w, int h)
{
    unsigned char *p = malloc((size_t)w * h * 3);
    ASSERT(p != NULL);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *q = p + ((size_t)y * w + x) * 3;
            q[0] = (unsigned char)(128 + 100 * sin(x / 9.0));
            q[1] = (unsigned char)(128 + 100 * cos(y / 7.0));
            q[2] = (unsigned char)(40 + (x + y) * 160 / (w + h));
        }
    return p;
}

static unsigned char *smooth_jpeg(int w, int h, int progressive, size_t *len)
{
    unsigned char *pix = smooth_image(w, h);
    jpeg_opts o = { .w = w,
                    .h = h,
                    .comps = 3,
                    .in_cs = JCS_RGB,
                    .out_cs = JCS_UNKNOWN,
                    .progressive = progressive,
                    .jfif = 1 };
    unsigned char *j = encode_jpeg(pix, &o, len);
    free(pix);
    return j;
}

/* Every channel within tol of ref (1 or 3 components), and the mean absolute
** difference within mean_tol. */
static void check_close(const ft_image *img, const unsigned char *ref, int comps, int tol,
                        double mean_tol)
{
    int worst = 0;
    double sum = 0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            for (int c = 0; c < 3; c++) {
                int want = ref[((size_t)y * img->width + x) * comps + (comps == 1 ? 0 : c)];
                int d = abs(px(img, x, y)[c] - want);
                if (d > worst) worst = d;
                sum += d;
                if (d > tol)
                    ft_test_fail(__FILE__, __LINE__, "pixel (%d,%d) ch %d: got %d want %d", x, y, c,
                                 px(img, x, y)[c], want);
            }
    double mean = sum / ((double)img->width * img->height * 3);
    printf("# worst difference %d (tolerance %d), mean %.3f\n", worst, tol, mean);
    ASSERT(mean <= mean_tol);
}

/* ------------------------------------------------------------------------ */
/* Tests: ft_image_create                                                   */
/* ------------------------------------------------------------------------ */

static void test_create(void)
{
    ft_image *img = (ft_image *)1;
    ASSERT_OK(ft_image_create(5, 3, &img));
    ASSERT(img != NULL);
    ASSERT_EQ(img->width, 5);
    ASSERT_EQ(img->height, 3);
    for (int i = 0; i < 5 * 3 * 3; i++)
        ASSERT_EQ(img->rgb[i], 0);
    img->rgb[5 * 3 * 3 - 1] = 7; /* the whole buffer is writable (ASan) */
    ft_image_destroy(img);

    img = (ft_image *)1;
    ASSERT_EQ(ft_image_create(0, 3, &img), FT_EINVAL);
    ASSERT(img == NULL);
    ASSERT_EQ(ft_image_create(3, -1, &img), FT_EINVAL);
    ASSERT_EQ(ft_image_create(8193, 8193, &img), FT_ETOOBIG);
    ASSERT(img == NULL);
    ASSERT_EQ(ft_image_create(INT_MAX, INT_MAX, &img), FT_ETOOBIG);
    ASSERT_EQ(ft_image_create(1, 1, NULL), FT_EINVAL);
    ft_image_destroy(NULL);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Tests: PNG                                                               */
/* ------------------------------------------------------------------------ */

static void test_png_roundtrip(void)
{
    const int sizes[][2] = { { 7, 5 }, { 1, 1 }, { 300, 2 } };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int w = sizes[s][0], h = sizes[s][1];
        ft_image *img;
        ASSERT_OK(ft_image_create(w, h, &img));
        for (int i = 0; i < w * h * 3; i++)
            img->rgb[i] = (unsigned char)(i * 37 + i / 7);
        char path[64], err[256];
        tmp_path(path);
        ASSERT_OK(ft_image_save_png(img, path, err, sizeof err));

        unsigned char head[8];
        FILE *f = fopen(path, "rb");
        ASSERT(f != NULL);
        ASSERT_EQ(fread(head, 1, 8, f), 8);
        fclose(f);
        ASSERT(memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0);

        ft_image *back = NULL;
        ASSERT_OK(ft_image_load(path, 0, &back, err, sizeof err));
        ASSERT_EQ(back->width, w);
        ASSERT_EQ(back->height, h);
        for (int i = 0; i < w * h * 3; i++)
            if (back->rgb[i] != img->rgb[i])
                ft_test_fail(__FILE__, __LINE__, "byte %d: %d != %d", i, back->rgb[i], img->rgb[i]);
        ft_image_destroy(back);
        ft_image_destroy(img);
        unlink(path);
    }
    no_leaks();
}

/* Sample c of pixel (x, y) in 0 .. 2^bd - 1; 16-bit values have low bytes
** >= 0x80 often, so stripping (high byte) differs from rounding. */
static unsigned sample(int x, int y, int c, int bd)
{
    unsigned v = (unsigned)(x * 7919 + y * 104729 + c * 31337 + x * y * 613);
    return v & ((1u << bd) - 1);
}

static void pack(unsigned char *row, int i, unsigned v, int bd)
{
    if (bd == 16) {
        row[2 * i] = (unsigned char)(v >> 8);
        row[2 * i + 1] = (unsigned char)v;
    } else if (bd == 8) {
        row[i] = (unsigned char)v;
    } else {
        int per = 8 / bd, shift = 8 - bd * (1 + i % per);
        row[i / per] |= (unsigned char)(v << shift);
    }
}

static unsigned to8(unsigned v, int bd)
{
    return bd == 16 ? v >> 8 : v * 255 / ((1u << bd) - 1);
}

static void test_png_formats(void)
{
    static const png_color pal[5] = {
        { 10, 20, 30 }, { 200, 100, 0 }, { 0, 255, 128 }, { 255, 255, 255 }, { 1, 2, 3 },
    };
    static const unsigned char pal_alpha[5] = { 0, 128, 255, 7, 0 };
    png_color_16 grey_trns = { .gray = 3 }, rgb_trns = { .red = 1, .green = 2, .blue = 3 };
    struct {
        const char *what;
        int color_type, bit_depth, channels;
        int palette, trns;
    } cases[] = {
        { "grey 1", PNG_COLOR_TYPE_GRAY, 1, 1, 0, 0 },
        { "grey 2", PNG_COLOR_TYPE_GRAY, 2, 1, 0, 0 },
        { "grey 4 tRNS", PNG_COLOR_TYPE_GRAY, 4, 1, 0, 1 },
        { "grey 8", PNG_COLOR_TYPE_GRAY, 8, 1, 0, 0 },
        { "grey 16", PNG_COLOR_TYPE_GRAY, 16, 1, 0, 0 },
        { "grey+alpha 8", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 2, 0, 0 },
        { "grey+alpha 16", PNG_COLOR_TYPE_GRAY_ALPHA, 16, 2, 0, 0 },
        { "palette 2", PNG_COLOR_TYPE_PALETTE, 2, 1, 1, 0 },
        { "palette 8 tRNS", PNG_COLOR_TYPE_PALETTE, 8, 1, 1, 1 },
        { "rgb 8 tRNS", PNG_COLOR_TYPE_RGB, 8, 3, 0, 1 },
        { "rgb 16", PNG_COLOR_TYPE_RGB, 16, 3, 0, 0 },
        { "rgba 8", PNG_COLOR_TYPE_RGB_ALPHA, 8, 4, 0, 0 },
        { "rgba 16", PNG_COLOR_TYPE_RGB_ALPHA, 16, 4, 0, 0 },
    };
    const int w = 13, h = 9; /* odd sizes exercise every Adam7 pass edge */
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int interlace = 0; interlace <= 1; interlace++) {
            int bd = cases[k].bit_depth, ch = cases[k].channels;
            size_t rowbytes = ((size_t)w * ch * bd + 7) / 8;
            unsigned char *rows = calloc((size_t)h, rowbytes);
            unsigned char *want = malloc((size_t)w * h * 3);
            ASSERT(rows && want);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    unsigned char *row = rows + (size_t)y * rowbytes;
                    unsigned char *e = want + ((size_t)y * w + x) * 3;
                    if (cases[k].palette) {
                        unsigned idx = sample(x, y, 0, 8) % (bd == 2 ? 4 : 5);
                        pack(row, x, idx, bd);
                        e[0] = pal[idx].red, e[1] = pal[idx].green, e[2] = pal[idx].blue;
                        continue;
                    }
                    for (int c = 0; c < ch; c++)
                        pack(row, x * ch + c, sample(x, y, c, bd), bd);
                    if (ch <= 2)
                        e[0] = e[1] = e[2] = (unsigned char)to8(sample(x, y, 0, bd), bd);
                    else
                        for (int c = 0; c < 3; c++)
                            e[c] = (unsigned char)to8(sample(x, y, c, bd), bd);
                }
            png_opts o = { .w = w,
                           .h = h,
                           .color_type = cases[k].color_type,
                           .bit_depth = bd,
                           .interlace = interlace };
            if (cases[k].palette) {
                o.palette = pal;
                o.n_palette = bd == 2 ? 4 : 5;
            }
            if (cases[k].trns && cases[k].palette) {
                o.trns = pal_alpha;
                o.n_trns = 5;
            } else if (cases[k].trns) {
                o.trns_color = cases[k].color_type == PNG_COLOR_TYPE_GRAY ? &grey_trns : &rgb_trns;
            }
            size_t len;
            unsigned char *png = encode_png(rows, &o, &len);
            ft_image *img = NULL;
            char err[256];
            int rc = decode_copy(png, len, cases[k].what, 0, &img, err, sizeof err);
            if (rc != FT_OK)
                ft_test_fail(__FILE__, __LINE__, "%s%s: %d %s", cases[k].what,
                             interlace ? " interlaced" : "", rc, err);
            ASSERT_EQ(img->width, w);
            ASSERT_EQ(img->height, h);
            for (int i = 0; i < w * h * 3; i++)
                if (img->rgb[i] != want[i])
                    ft_test_fail(__FILE__, __LINE__, "%s%s: pixel %d ch %d: %d != %d",
                                 cases[k].what, interlace ? " interlaced" : "", i / 3, i % 3,
                                 img->rgb[i], want[i]);
            ft_image_destroy(img);
            free(png);
            free(rows);
            free(want);
        }
    }
    no_leaks();
}

static void test_png_handmade(void)
{
    const unsigned char rgb[2 * 2 * 3] = { 1, 2, 3, 40, 50, 60, 200, 100, 0, 255, 254, 253 };
    char err[256];
    ft_image *img = NULL;
    size_t len;

    /* The hand-made bytes are a valid PNG: the others below differ only in
    ** the header. */
    unsigned char *p = handmade_png(2, 2, rgb, 2, 2, 0, &len);
    ASSERT_OK(decode_copy(p, len, "good.png", 0, &img, err, sizeof err));
    ASSERT_EQ(img->width, 2);
    ASSERT_EQ(img->height, 2);
    ASSERT(memcmp(img->rgb, rgb, sizeof rgb) == 0);
    ft_image_destroy(img);
    free(p);

    /* Same with a bad IHDR CRC: libpng rejects a critical chunk. */
    p = handmade_png(2, 2, rgb, 2, 2, 1, &len);
    img = (ft_image *)1;
    ASSERT_EQ(decode_copy(p, len, "crc.png", 0, &img, err, sizeof err), FT_EFORMAT);
    ASSERT(img == NULL);
    ASSERT_STR_CONTAINS(err, "crc.png");
    free(p);

    /* IHDR says 0x0. */
    p = handmade_png(0, 0, rgb, 2, 2, 0, &len);
    ASSERT_EQ(decode_copy(p, len, "zero.png", 0, &img, err, sizeof err), FT_EFORMAT);
    ASSERT(img == NULL);
    ASSERT_STR_CONTAINS(err, "zero.png");
    free(p);
    p = handmade_png(5, 0, rgb, 2, 2, 0, &len);
    ASSERT_EQ(decode_copy(p, len, "zero.png", 0, &img, err, sizeof err), FT_EFORMAT);
    free(p);

    /* IHDR says 100000x100000 with only 2x2 pixels of data: refused from
    ** the header (decoding would give FT_EFORMAT for the missing rows). */
    p = handmade_png(100000, 100000, rgb, 2, 2, 0, &len);
    ASSERT_EQ(decode_copy(p, len, "huge.png", 0, &img, err, sizeof err), FT_ETOOBIG);
    ASSERT(img == NULL);
    ASSERT_STR_CONTAINS(err, "huge.png: image is 100000x100000 (10000000000 pixels)");
    ASSERT_STR_CONTAINS(err, "over the limit of 67108864");
    free(p);

    /* Past libpng's own default limit (1000000 a side) still reads as ours. */
    p = handmade_png(3000000, 100, rgb, 2, 2, 0, &len);
    ASSERT_EQ(decode_copy(p, len, "wide.png", 0, &img, err, sizeof err), FT_ETOOBIG);
    ASSERT_STR_CONTAINS(err, "3000000x100 (300000000 pixels)");
    free(p);

    /* A 2x2 header with the rows missing: libpng's error, not a crash. */
    p = handmade_png(2, 2, rgb, 2, 1, 0, &len);
    ASSERT_EQ(decode_copy(p, len, "short.png", 0, &img, err, sizeof err), FT_EFORMAT);
    ASSERT_STR_CONTAINS(err, "short.png");
    free(p);
    no_leaks();
}

static void test_png_limit_and_truncation(void)
{
    ft_image *img;
    ASSERT_OK(ft_image_create(10, 10, &img));
    for (int i = 0; i < 300; i++)
        img->rgb[i] = (unsigned char)(rnd() & 0xFF);
    char path[64], err[256];
    tmp_path(path);
    ASSERT_OK(ft_image_save_png(img, path, err, sizeof err));
    ft_image_destroy(img);

    ft_image *got = (ft_image *)1;
    ASSERT_EQ(ft_image_load(path, 99, &got, err, sizeof err), FT_ETOOBIG);
    ASSERT(got == NULL);
    ASSERT_STR_CONTAINS(err, path);
    ASSERT_STR_CONTAINS(err, "10x10 (100 pixels), over the limit of 99");
    ASSERT_OK(ft_image_load(path, 100, &got, err, sizeof err));
    ft_image_destroy(got);

    unsigned char *data;
    size_t len;
    ASSERT_OK(ft__read_file(path, 1 << 20, &data, &len, err, sizeof err));
    /* Cut in half: the pixel data runs out. */
    ASSERT_EQ(decode_copy(data, len / 2, "half.png", 0, &got, err, sizeof err), FT_EFORMAT);
    ASSERT(got == NULL);
    ASSERT_STR_CONTAINS(err, "half.png: truncated PNG data");
    /* Cut before IEND (the last 12 bytes): also refused. */
    ASSERT_EQ(decode_copy(data, len - 12, "noend.png", 0, &got, err, sizeof err), FT_EFORMAT);
    ASSERT_STR_CONTAINS(err, "noend.png");
    /* Every shorter prefix: clean FT_EFORMAT. */
    for (size_t n = 1; n < len; n++) {
        ASSERT_EQ(decode_copy(data, n, "cut.png", 0, &got, err, sizeof err), FT_EFORMAT);
        ASSERT(got == NULL);
    }
    ft__free(data);
    unlink(path);
    no_leaks();
}

static void test_png_fuzz(void)
{
    const int w = 24, h = 17;
    unsigned char *rows = malloc((size_t)w * h * 3);
    ASSERT(rows != NULL);
    for (int i = 0; i < w * h * 3; i++)
        rows[i] = (unsigned char)(i * 13 / 7);
    png_opts o = {
        .w = w, .h = h, .color_type = PNG_COLOR_TYPE_RGB, .bit_depth = 8, .interlace = 1
    };
    size_t len;
    unsigned char *png = encode_png(rows, &o, &len);
    unsigned char *m = malloc(len);
    ASSERT(m != NULL);
    int counts[3] = { 0 };
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(m, png, len);
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips; f++)
            m[8 + rnd() % (len - 8)] ^= (unsigned char)(1 + rnd() % 255);
        if (iter % 2) png_fix_crcs(m, len); /* reach zlib and the filters too */
        ft_image *img = NULL;
        char err[256];
        int rc = decode_copy(m, len, "fuzz.png", 1 << 20, &img, err, sizeof err);
        if (rc != FT_OK && rc != FT_EFORMAT && rc != FT_ETOOBIG)
            ft_test_fail(__FILE__, __LINE__, "iteration %d: status %d (%s)", iter, rc, err);
        ASSERT_EQ(rc == FT_OK, img != NULL);
        counts[rc == FT_OK ? 0 : rc == FT_EFORMAT ? 1 : 2]++;
        ft_image_destroy(img);
    }
    printf("# ok %d, EFORMAT %d, ETOOBIG %d\n", counts[0], counts[1], counts[2]);
    ASSERT(counts[1] > 0);
    free(m);
    free(png);
    free(rows);
    no_leaks();
}

static void test_save_png_errors(void)
{
    ft_image *img;
    ASSERT_OK(ft_image_create(4, 4, &img));
    char err[256];
    ASSERT_EQ(ft_image_save_png(img, "/nonexistent-dir-ft/x.png", err, sizeof err), FT_EIO);
    ASSERT_STR_CONTAINS(err, "/nonexistent-dir-ft/x.png");
    if (access("/dev/full", W_OK) == 0) {
        ASSERT_EQ(ft_image_save_png(img, "/dev/full", err, sizeof err), FT_EIO);
        ASSERT_STR_CONTAINS(err, "/dev/full");
    }
    ASSERT_EQ(ft_image_save_png(NULL, "/tmp/x.png", err, sizeof err), FT_EINVAL);
    ft_image bad = { .width = 0, .height = 4, .rgb = img->rgb };
    ASSERT_EQ(ft_image_save_png(&bad, "/tmp/x.png", err, sizeof err), FT_EINVAL);
    ft_image_destroy(img);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Tests: JPEG                                                              */
/* ------------------------------------------------------------------------ */

static void test_jpeg_smooth(void)
{
    const int w = 80, h = 56;
    unsigned char *pix = smooth_image(w, h);
    for (int progressive = 0; progressive <= 1; progressive++) {
        size_t len;
        unsigned char *j = smooth_jpeg(w, h, progressive, &len);
        ft_image *img = NULL;
        char err[256];
        ASSERT_OK(decode_copy(j, len, "smooth.jpg", 0, &img, err, sizeof err));
        ASSERT_EQ(img->width, w);
        ASSERT_EQ(img->height, h);
        check_close(img, pix, 3, 4, 1.0);
        ft_image_destroy(img);

        /* The same through a file. */
        char path[64];
        tmp_path(path);
        write_file(path, j, len);
        ASSERT_OK(ft_image_load(path, 0, &img, err, sizeof err));
        check_close(img, pix, 3, 4, 1.0);
        ft_image_destroy(img);
        unlink(path);
        free(j);
    }
    free(pix);
    no_leaks();
}

static void test_jpeg_grey(void)
{
    const int w = 40, h = 24;
    unsigned char *g = malloc((size_t)w * h);
    ASSERT(g != NULL);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            g[y * w + x] = (unsigned char)(20 + x * 4 + y * 2);
    jpeg_opts o = {
        .w = w, .h = h, .comps = 1, .in_cs = JCS_GRAYSCALE, .out_cs = JCS_UNKNOWN, .jfif = 1
    };
    size_t len;
    unsigned char *j = encode_jpeg(g, &o, &len);
    ft_image *img = NULL;
    char err[256];
    ASSERT_OK(decode_copy(j, len, "grey.jpg", 0, &img, err, sizeof err));
    ASSERT_EQ(img->width, w);
    ASSERT_EQ(img->height, h);
    check_close(img, g, 1, 2, 0.5);
    for (int i = 0; i < w * h; i++) {
        ASSERT_EQ(img->rgb[3 * i], img->rgb[3 * i + 1]);
        ASSERT_EQ(img->rgb[3 * i], img->rgb[3 * i + 2]);
    }
    ft_image_destroy(img);
    free(j);
    free(g);
    no_leaks();
}

/* CMYK and YCCK files, with the Adobe marker (inverted samples, 255 = no
** ink, as Photoshop writes) and without (plain samples, 0 = no ink). */
static void test_jpeg_cmyk(void)
{
    const int w = GRID_W * BLK, h = GRID_H * BLK;
    struct {
        J_COLOR_SPACE out_cs;
        int adobe;
    } cases[] = { { JCS_CMYK, 1 }, { JCS_YCCK, 1 }, { JCS_CMYK, 0 } };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        unsigned char *cmyk = malloc((size_t)w * h * 4);
        ASSERT(cmyk != NULL);
        /* Block b: RGB block_rgb[b] at 60% "K ink" as plain CMYK: C = 255 - R
        ** etc. with K = 102, so the expected RGB is rgb * (255 - 102) / 255. */
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const unsigned char *c = block_rgb[(y / BLK) * GRID_W + x / BLK];
                unsigned char *q = cmyk + ((size_t)y * w + x) * 4;
                unsigned char plain[4] = { (unsigned char)(255 - c[0]), (unsigned char)(255 - c[1]),
                                           (unsigned char)(255 - c[2]), 102 };
                for (int i = 0; i < 4; i++)
                    q[i] = cases[k].adobe ? (unsigned char)(255 - plain[i]) : plain[i];
            }
        jpeg_opts o = { .w = w,
                        .h = h,
                        .comps = 4,
                        .in_cs = JCS_CMYK,
                        .out_cs = cases[k].out_cs,
                        .adobe = cases[k].adobe };
        size_t len;
        unsigned char *j = encode_jpeg(cmyk, &o, &len);
        ft_image *img = NULL;
        char err[256];
        int rc = decode_copy(j, len, "cmyk.jpg", 0, &img, err, sizeof err);
        if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "case %zu: %d %s", k, rc, err);
        ASSERT_EQ(img->width, w);
        ASSERT_EQ(img->height, h);
        for (int b = 0; b < GRID_W * GRID_H; b++) {
            int cx = (b % GRID_W) * BLK + BLK / 2, cy = (b / GRID_W) * BLK + BLK / 2;
            for (int c = 0; c < 3; c++)
                ASSERT_NEAR(px(img, cx, cy)[c], block_rgb[b][c] * 153.0 / 255.0, 6);
        }
        ft_image_destroy(img);
        free(j);
        free(cmyk);
    }
    no_leaks();
}

/* Where stored block (bx, by) lands, from the EXIF wording of orientation o:
** "row 0 is at the visual <r0> side, column 0 at the visual <c0> side". */
static void exif_expected(int o, int bx, int by, int *vx, int *vy, int *vw, int *vh)
{
    static const char *const row0[9] = { "", "T", "T", "B", "B", "L", "R", "R", "L" };
    static const char *const col0[9] = { "", "L", "R", "R", "L", "T", "T", "B", "B" };
    const char r = row0[o][0], c = col0[o][0];
    if (r == 'T' || r == 'B') { /* rows stay rows */
        *vw = GRID_W, *vh = GRID_H;
        *vx = c == 'L' ? bx : GRID_W - 1 - bx;
        *vy = r == 'T' ? by : GRID_H - 1 - by;
    } else { /* rows become columns */
        *vw = GRID_H, *vh = GRID_W;
        *vx = r == 'L' ? by : GRID_H - 1 - by;
        *vy = c == 'T' ? bx : GRID_W - 1 - bx;
    }
}

static void check_blocks(const ft_image *img, int o)
{
    for (int by = 0; by < GRID_H; by++)
        for (int bx = 0; bx < GRID_W; bx++) {
            int vx, vy, vw, vh;
            exif_expected(o, bx, by, &vx, &vy, &vw, &vh);
            ASSERT_EQ(img->width, vw * BLK);
            ASSERT_EQ(img->height, vh * BLK);
            const unsigned char *got = px(img, vx * BLK + BLK / 2, vy * BLK + BLK / 2);
            const unsigned char *want = block_rgb[by * GRID_W + bx];
            for (int c = 0; c < 3; c++)
                if (abs(got[c] - want[c]) > 12)
                    ft_test_fail(__FILE__, __LINE__,
                                 "orientation %d: block (%d,%d) at (%d,%d) is %d,%d,%d, want "
                                 "%d,%d,%d",
                                 o, bx, by, vx, vy, got[0], got[1], got[2], want[0], want[1],
                                 want[2]);
        }
}

static void test_jpeg_exif_orientation(void)
{
    for (int little = 0; little <= 1; little++)
        for (int o = 1; o <= 8; o++) {
            unsigned char exif[64];
            size_t elen = make_exif(exif, little, (unsigned)o);
            size_t len;
            unsigned char *j = block_jpeg(exif, elen, &len);
            ft_image *img = NULL;
            char err[256];
            ASSERT_OK(decode_copy(j, len, "exif.jpg", 0, &img, err, sizeof err));
            check_blocks(img, o);
            /* Corner pixels too (exact block edges, not only centres). */
            int vx, vy, vw, vh;
            exif_expected(o, 0, 0, &vx, &vy, &vw, &vh);
            const unsigned char *corner =
                px(img, vx ? img->width - 1 : 0, vy ? img->height - 1 : 0);
            ASSERT_NEAR(corner[0], 255, 12);
            ASSERT_NEAR(corner[1], 0, 12);
            ft_image_destroy(img);
            free(j);
        }
    no_leaks();
}

static void test_exif_orient_exact(void)
{
    /* 3x2 stored pixels with values 1..6; check every pixel of every
    ** orientation against the spec's row-0/column-0 wording. */
    ft_image *src;
    ASSERT_OK(ft_image_create(3, 2, &src));
    for (int i = 0; i < 6; i++)
        src->rgb[3 * i] = src->rgb[3 * i + 1] = src->rgb[3 * i + 2] = (unsigned char)(i + 1);
    static const char *const row0 = " TTBBLRRL", *const col0 = " LRRLTTBB";
    for (int o = 1; o <= 8; o++) {
        ft_image *dst = NULL;
        ASSERT_OK(ft__image_orient(src, o, &dst));
        int swap = row0[o] == 'L' || row0[o] == 'R';
        ASSERT_EQ(dst->width, swap ? 2 : 3);
        ASSERT_EQ(dst->height, swap ? 3 : 2);
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++) {
                int vx, vy;
                if (!swap) {
                    vx = col0[o] == 'L' ? x : 2 - x;
                    vy = row0[o] == 'T' ? y : 1 - y;
                } else {
                    vx = row0[o] == 'L' ? y : 1 - y;
                    vy = col0[o] == 'T' ? x : 2 - x;
                }
                ASSERT_EQ(px(dst, vx, vy)[1], y * 3 + x + 1);
            }
        ft_image_destroy(dst);
    }
    ft_image *dst = (ft_image *)1;
    ASSERT_EQ(ft__image_orient(src, 9, &dst), FT_EINVAL);
    ASSERT(dst == NULL);
    ft_image_destroy(src);
    no_leaks();
}

/* Malformed EXIF never fails the decode and leaves the image as stored. */
static void test_exif_malformed(void)
{
    unsigned char good[64];
    size_t glen = make_exif(good, 0, 6);
    ASSERT_EQ(ft__exif_orientation(good, glen), 6);
    make_exif(good, 1, 8);
    ASSERT_EQ(ft__exif_orientation(good, glen), 8);

    struct {
        const char *what;
        int little;
        size_t at; /* byte offset to patch (0: none) */
        unsigned char val[4];
        size_t nval;
        size_t len;    /* 0: full */
        int big_count; /* also claim 0xFFFF entries */
    } cases[] = {
        { "IFD offset past the end", 0, 6 + 4, { 0xFF, 0xFF, 0xFF, 0xF0 }, 4, 0, 0 },
        { "IFD offset 2 before the end", 0, 6 + 4, { 0, 0, 0, 36 }, 4, 0, 0 },
        { "entry count 1 (orientation not counted)", 0, 6 + 8, { 0, 1 }, 2, 0, 0 },
        { "no orientation tag", 1, 6 + 22, { 0x13, 0x01 }, 2, 0, 0 },
        { "entry count 0xFFFF, no orientation tag", 0, 6 + 22, { 0x01, 0x13 }, 2, 0, 1 },
        { "orientation 0", 0, 6 + 30, { 0, 0 }, 2, 0, 0 },
        { "orientation 9", 1, 6 + 30, { 9, 0 }, 2, 0, 0 },
        { "orientation 0xFFFF", 1, 6 + 30, { 0xFF, 0xFF }, 2, 0, 0 },
        { "type LONG", 0, 6 + 24, { 0, 4 }, 2, 0, 0 },
        { "count 2", 1, 6 + 26, { 2, 0, 0, 0 }, 4, 0, 0 },
        { "byte order IM", 0, 6, { 'I', 'M' }, 2, 0, 0 },
        { "TIFF magic 43", 0, 6 + 2, { 0, 43 }, 2, 0, 0 },
        { "not Exif", 0, 0, { 'X' }, 1, 0, 0 },
        { "cut in the entry", 0, 0, { 0 }, 0, 6 + 30, 0 },
        { "only the id", 0, 0, { 0 }, 0, 6, 0 },
        { "one byte", 0, 0, { 0 }, 0, 1, 0 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        unsigned char e[64];
        size_t elen = make_exif(e, cases[k].little, 6);
        if (cases[k].nval) memcpy(e + cases[k].at, cases[k].val, cases[k].nval);
        if (cases[k].big_count) put16(e + 6 + 8, 0xFFFF, cases[k].little);
        if (cases[k].len) elen = cases[k].len;
        unsigned char *exact = malloc(elen);
        ASSERT(exact != NULL);
        memcpy(exact, e, elen);
        if (ft__exif_orientation(exact, elen) != 1)
            ft_test_fail(__FILE__, __LINE__, "%s: orientation %d", cases[k].what,
                         ft__exif_orientation(exact, elen));
        free(exact);

        size_t len;
        unsigned char *j = block_jpeg(e, elen, &len);
        ft_image *img = NULL;
        char err[256];
        int rc = decode_copy(j, len, "badexif.jpg", 0, &img, err, sizeof err);
        if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "%s: %d %s", cases[k].what, rc, err);
        check_blocks(img, 1);
        ft_image_destroy(img);
        free(j);
    }
    /* An XMP APP1 ahead of nothing: ignored. */
    static const char xmp[] = "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>";
    size_t len;
    unsigned char *j = block_jpeg((const unsigned char *)xmp, sizeof xmp, &len);
    ft_image *img = NULL;
    char err[256];
    ASSERT_OK(decode_copy(j, len, "xmp.jpg", 0, &img, err, sizeof err));
    check_blocks(img, 1);
    ft_image_destroy(img);
    free(j);

    /* Every prefix and random mutations: in range, inside the buffer. */
    for (int little = 0; little <= 1; little++) {
        unsigned char e[64];
        size_t elen = make_exif(e, little, 3);
        for (size_t n = 0; n <= elen; n++) {
            unsigned char *exact = malloc(n ? n : 1);
            ASSERT(exact != NULL);
            memcpy(exact, e, n);
            int o = ft__exif_orientation(exact, n);
            ASSERT_EQ(o, n >= 6 + 34 ? 3 : 1); /* the whole entry */
            free(exact);
        }
        for (int iter = 0; iter < 20000; iter++) {
            unsigned char m[64];
            memcpy(m, e, elen);
            int flips = 1 + (int)(rnd() % 3);
            for (int f = 0; f < flips; f++)
                m[6 + rnd() % (elen - 6)] = (unsigned char)rnd();
            size_t n = elen - rnd() % 8;
            unsigned char *exact = malloc(n);
            ASSERT(exact != NULL);
            memcpy(exact, m, n);
            int o = ft__exif_orientation(exact, n);
            ASSERT(o >= 1 && o <= 8);
            free(exact);
        }
    }
    no_leaks();
}

static void test_jpeg_truncated(void)
{
    for (int progressive = 0; progressive <= 1; progressive++) {
        size_t len;
        unsigned char *j = smooth_jpeg(96, 64, progressive, &len);
        ft_image *img = (ft_image *)1;
        char err[256];
        ASSERT_EQ(decode_copy(j, len / 2, "photo.jpg", 0, &img, err, sizeof err), FT_EFORMAT);
        ASSERT(img == NULL);
        ASSERT_STR_CONTAINS(err, "photo.jpg: truncated JPEG data");
        /* Missing only the EOI marker: the decoder still ran out of data. */
        ASSERT_EQ(decode_copy(j, len - 2, "noeoi.jpg", 0, &img, err, sizeof err), FT_EFORMAT);
        ASSERT_STR_CONTAINS(err, "noeoi.jpg");
        /* Every cut, in steps: clean FT_EFORMAT. */
        for (size_t n = 0; n < len; n += 1 + n / 16) {
            ASSERT_EQ(decode_copy(j, n, "cut.jpg", 0, &img, err, sizeof err), FT_EFORMAT);
            ASSERT(img == NULL);
        }
        free(j);
    }
    no_leaks();
}

/* A grey progressive JPEG whose every AC coefficient is sent in its own
** scan, bit by bit from bit `al`: 1 + 63 * (al + 1) scans. */
static unsigned char *many_scans_jpeg(int al, int *n_scans, size_t *len)
{
    static jpeg_scan_info scans[1 + 63 * 14];
    int n = 0;
    scans[n++] = (jpeg_scan_info){ .comps_in_scan = 1, .Ss = 0, .Se = 0, .Ah = 0, .Al = 0 };
    for (int k = 1; k <= 63; k++) {
        scans[n++] = (jpeg_scan_info){ .comps_in_scan = 1, .Ss = k, .Se = k, .Ah = 0, .Al = al };
        for (int ah = al; ah >= 1; ah--)
            scans[n++] =
                (jpeg_scan_info){ .comps_in_scan = 1, .Ss = k, .Se = k, .Ah = ah, .Al = ah - 1 };
    }
    unsigned char g[16 * 16];
    for (int i = 0; i < 256; i++)
        g[i] = (unsigned char)(i * 7 + (i >> 4) * 13);
    jpeg_opts o = { .w = 16,
                    .h = 16,
                    .comps = 1,
                    .in_cs = JCS_GRAYSCALE,
                    .out_cs = JCS_UNKNOWN,
                    .scans = scans,
                    .n_scans = n };
    *n_scans = n;
    return encode_jpeg(g, &o, len);
}

/* Past 500 scans a file is refused (hostile progressive files can cost
** minutes); a long but legal script under that decodes. */
static void test_jpeg_scan_limit(void)
{
    int n;
    size_t len;
    unsigned char *j = many_scans_jpeg(4, &n, &len);
    ASSERT_EQ(n, 1 + 63 * 5);
    ft_image *img = NULL;
    char err[256];
    ASSERT_OK(decode_copy(j, len, "scans.jpg", 0, &img, err, sizeof err));
    ASSERT_EQ(img->width, 16);
    ft_image_destroy(img);
    free(j);

    j = many_scans_jpeg(9, &n, &len);
    ASSERT_EQ(n, 1 + 63 * 10);
    img = (ft_image *)1;
    ASSERT_EQ(decode_copy(j, len, "scans.jpg", 0, &img, err, sizeof err), FT_EFORMAT);
    ASSERT(img == NULL);
    ASSERT_STR_CONTAINS(err, "scans.jpg: corrupt JPEG: more than 500 scans");
    free(j);
    no_leaks();
}

/* Patches the SOF0 frame size of a libjpeg-made baseline JPEG. */
static void patch_sof(unsigned char *j, size_t len, unsigned w, unsigned h)
{
    for (size_t i = 2; i + 9 < len; i++)
        if (j[i] == 0xFF && j[i + 1] == 0xC0) {
            j[i + 5] = (unsigned char)(h >> 8), j[i + 6] = (unsigned char)h;
            j[i + 7] = (unsigned char)(w >> 8), j[i + 8] = (unsigned char)w;
            return;
        }
    ft_test_fail(__FILE__, __LINE__, "no SOF0 marker");
}

static void test_jpeg_header_limits(void)
{
    size_t len;
    unsigned char *j = block_jpeg(NULL, 0, &len);
    ft_image *img = NULL;
    char err[256];
    ASSERT_EQ(decode_copy(j, len, "lim.jpg", 48 * 32 - 1, &img, err, sizeof err), FT_ETOOBIG);
    ASSERT_STR_CONTAINS(err, "lim.jpg: image is 48x32 (1536 pixels), over the limit of 1535");
    ASSERT_OK(decode_copy(j, len, "lim.jpg", 48 * 32, &img, err, sizeof err));
    ft_image_destroy(img);

    unsigned char *m = malloc(len);
    ASSERT(m != NULL);
    memcpy(m, j, len);
    patch_sof(m, len, 60000, 60000);
    ASSERT_EQ(decode_copy(m, len, "big.jpg", 0, &img, err, sizeof err), FT_ETOOBIG);
    ASSERT(img == NULL);
    ASSERT_STR_CONTAINS(err, "big.jpg: image is 60000x60000 (3600000000 pixels)");

    memcpy(m, j, len);
    patch_sof(m, len, 48, 0);
    ASSERT_EQ(decode_copy(m, len, "empty.jpg", 0, &img, err, sizeof err), FT_EFORMAT);
    ASSERT_STR_CONTAINS(err, "empty.jpg");
    memcpy(m, j, len);
    patch_sof(m, len, 0, 32);
    ASSERT_EQ(decode_copy(m, len, "empty.jpg", 0, &img, err, sizeof err), FT_EFORMAT);

    /* Larger than stored (under the limit): the data runs out. */
    memcpy(m, j, len);
    patch_sof(m, len, 480, 320);
    ASSERT_EQ(decode_copy(m, len, "grown.jpg", 0, &img, err, sizeof err), FT_EFORMAT);
    ASSERT_STR_CONTAINS(err, "truncated");
    free(m);
    free(j);
    no_leaks();
}

static void test_jpeg_fuzz(void)
{
    size_t len;
    unsigned char *j = smooth_jpeg(40, 32, 0, &len);
    size_t plen;
    unsigned char *pj = smooth_jpeg(40, 32, 1, &plen);
    int counts[3] = { 0 };
    for (int iter = 0; iter < 2000; iter++) {
        const unsigned char *src = iter % 2 ? pj : j;
        size_t n = iter % 2 ? plen : len;
        unsigned char *m = malloc(n);
        ASSERT(m != NULL);
        memcpy(m, src, n);
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips; f++)
            m[3 + rnd() % (n - 3)] = (unsigned char)rnd();
        ft_image *img = NULL;
        char err[256];
        int rc = ft_image_decode(m, n, "fuzz.jpg", 1 << 20, &img, err, sizeof err);
        if (rc != FT_OK && rc != FT_EFORMAT && rc != FT_ETOOBIG)
            ft_test_fail(__FILE__, __LINE__, "iteration %d: status %d (%s)", iter, rc, err);
        ASSERT_EQ(rc == FT_OK, img != NULL);
        counts[rc == FT_OK ? 0 : rc == FT_EFORMAT ? 1 : 2]++;
        ft_image_destroy(img);
        free(m);
    }
    printf("# ok %d, EFORMAT %d, ETOOBIG %d\n", counts[0], counts[1], counts[2]);
    ASSERT(counts[1] > 0);
    free(j);
    free(pj);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Tests: sniffing, files, arguments                                        */
/* ------------------------------------------------------------------------ */

static void test_not_an_image(void)
{
    char err[256];
    ft_image *img = (ft_image *)1;
    char path[64];
    tmp_path(path); /* zero-length file */
    ASSERT_EQ(ft_image_load(path, 0, &img, err, sizeof err), FT_EFORMAT);
    ASSERT(img == NULL);
    ASSERT_STR_CONTAINS(err, path);

    write_file(path, "GIF89a\x01\x00\x01\x00", 10);
    ASSERT_EQ(ft_image_load(path, 0, &img, err, sizeof err), FT_EFORMAT);
    ASSERT_STR_CONTAINS(err, path);
    ASSERT_STR_CONTAINS(err, "not a JPEG or PNG image");
    unlink(path);

    unsigned char junk[1000];
    for (int iter = 0; iter < 200; iter++) {
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (unsigned char)rnd();
        size_t n = 1 + rnd() % sizeof junk;
        int rc = decode_copy(junk, n, "junk.bin", 0, &img, err, sizeof err);
        ASSERT_EQ(rc, FT_EFORMAT);
        ASSERT(img == NULL);
        /* Right magic, random rest. */
        memcpy(junk, iter % 2 ? "\xFF\xD8\xFF" : "\x89PNG\r\n\x1a\n", iter % 2 ? 3 : 8);
        rc = decode_copy(junk, sizeof junk, "junk.bin", 0, &img, err, sizeof err);
        if (rc != FT_EFORMAT) ft_test_fail(__FILE__, __LINE__, "status %d: %s", rc, err);
        ASSERT_STR_CONTAINS(err, "junk.bin");
    }
    /* Magic alone, or part of it. */
    ASSERT_EQ(
        decode_copy((const unsigned char *)"\xFF\xD8\xFF", 3, "m.jpg", 0, &img, err, sizeof err),
        FT_EFORMAT);
    ASSERT_EQ(decode_copy((const unsigned char *)"\xFF\xD8", 2, "m.jpg", 0, &img, err, sizeof err),
              FT_EFORMAT);
    ASSERT_STR_CONTAINS(err, "not a JPEG or PNG image");
    ASSERT_EQ(
        decode_copy((const unsigned char *)"\x89PNG\r\n\x1a", 7, "m.png", 0, &img, err, sizeof err),
        FT_EFORMAT);
    ASSERT_EQ(decode_copy((const unsigned char *)"\x89PNG\r\n\x1a\n", 8, "m.png", 0, &img, err,
                          sizeof err),
              FT_EFORMAT);
    ASSERT_STR_CONTAINS(err, "m.png");
    no_leaks();
}

static void test_missing_file_and_args(void)
{
    char err[256];
    ft_image *img = (ft_image *)1;
    ASSERT_EQ(ft_image_load("/tmp/ft-no-such-dir/missing.jpg", 0, &img, err, sizeof err), FT_EIO);
    ASSERT(img == NULL);
    ASSERT_STR_CONTAINS(err, "/tmp/ft-no-such-dir/missing.jpg");
    ASSERT_EQ(ft_image_load("/tmp", 0, &img, err, sizeof err), FT_EIO);
    ASSERT_STR_CONTAINS(err, "/tmp");

    ASSERT_EQ(ft_image_decode(NULL, 10, "x", 0, &img, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_image_decode("abc", 3, "x", 0, NULL, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_image_load("x", 0, NULL, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_image_load(NULL, 0, &img, err, sizeof err), FT_EINVAL);
    /* No errbuf at all, or a tiny one: still the right status. */
    ASSERT_EQ(ft_image_decode("abc", 3, NULL, 0, &img, NULL, 0), FT_EFORMAT);
    char tiny[4];
    ASSERT_EQ(ft_image_decode("abc", 3, "name", 0, &img, tiny, sizeof tiny), FT_EFORMAT);
    ASSERT_EQ(strlen(tiny), 3);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Tests: allocation failures                                               */
/* ------------------------------------------------------------------------ */

/* Calls decode with the n-th allocation failing, n = 0, 1, ...: each call
** gives FT_OK or FT_ENOMEM (never a crash or leak) until one succeeds, whose
** pixels must equal the reference decode. Returns the allocations needed. */
static int fail_until_ok(const unsigned char *data, size_t len, const char *name)
{
    ft_image *ref = NULL;
    char err[256];
    ASSERT_OK(ft_image_decode(data, len, name, 0, &ref, err, sizeof err));
    for (long n = 0; n < 100000; n++) {
        ft_image *img = (ft_image *)1;
        ft__alloc_fail_after(n);
        int rc = ft_image_decode(data, len, name, 0, &img, err, sizeof err);
        ft__alloc_fail_after(-1);
        if (rc == FT_ENOMEM) {
            ASSERT(img == NULL);
            ASSERT_STR_CONTAINS(err, name);
            continue;
        }
        if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "%s n=%ld: %d %s", name, n, rc, err);
        ASSERT_EQ(img->width, ref->width);
        ASSERT_EQ(img->height, ref->height);
        ASSERT(memcmp(img->rgb, ref->rgb, (size_t)ref->width * ref->height * 3) == 0);
        ft_image_destroy(img);
        ft_image_destroy(ref);
        return (int)n;
    }
    ft_test_fail(__FILE__, __LINE__, "%s never succeeded", name);
}

static void test_alloc_failures(void)
{
    /* PNG (libpng and zlib allocate through the hooks too), interlaced. */
    unsigned char rows[9 * 7 * 3];
    for (size_t i = 0; i < sizeof rows; i++)
        rows[i] = (unsigned char)(i * 5);
    png_opts po = {
        .w = 9, .h = 7, .color_type = PNG_COLOR_TYPE_RGB, .bit_depth = 8, .interlace = 1
    };
    size_t len;
    unsigned char *png = encode_png(rows, &po, &len);
    int n = fail_until_ok(png, len, "alloc.png");
    printf("# PNG decode needed %d allocations\n", n);
    ASSERT(n >= 3); /* png struct, info struct, image at least */
    free(png);

    /* JPEG with an orientation (an extra image) and CMYK (a row buffer). */
    unsigned char exif[64];
    size_t elen = make_exif(exif, 1, 6);
    unsigned char *j = block_jpeg(exif, elen, &len);
    n = fail_until_ok(j, len, "alloc.jpg");
    printf("# JPEG decode needed %d allocations\n", n);
    ASSERT(n >= 4);
    free(j);
    unsigned char cmyk[16 * 8 * 4];
    for (size_t i = 0; i < sizeof cmyk; i++)
        cmyk[i] = (unsigned char)(i * 3);
    jpeg_opts co = {
        .w = 16, .h = 8, .comps = 4, .in_cs = JCS_CMYK, .out_cs = JCS_UNKNOWN, .adobe = 1
    };
    j = encode_jpeg(cmyk, &co, &len);
    n = fail_until_ok(j, len, "alloc-cmyk.jpg");
    ASSERT(n >= 3);
    free(j);

    /* Load (file buffer) and save. */
    ft_image *img;
    ASSERT_OK(ft_image_create(6, 4, &img));
    for (int i = 0; i < 6 * 4 * 3; i++)
        img->rgb[i] = (unsigned char)(i * 11);
    char path[64], err[256];
    tmp_path(path);
    for (long k = 0;; k++) {
        ASSERT(k < 100000);
        ft__alloc_fail_after(k);
        int rc = ft_image_save_png(img, path, err, sizeof err);
        ft__alloc_fail_after(-1);
        if (rc == FT_OK) break;
        ASSERT_EQ(rc, FT_EIO);
        ASSERT_STR_CONTAINS(err, "out of memory");
    }
    for (long k = 0;; k++) {
        ASSERT(k < 100000);
        ft_image *got = (ft_image *)1;
        ft__alloc_fail_after(k);
        int rc = ft_image_load(path, 0, &got, err, sizeof err);
        ft__alloc_fail_after(-1);
        if (rc == FT_ENOMEM) {
            ASSERT(got == NULL);
            continue;
        }
        ASSERT_OK(rc);
        ASSERT(memcmp(got->rgb, img->rgb, 6 * 4 * 3) == 0);
        ft_image_destroy(got);
        break;
    }
    for (long k = 0; k < 3; k++) {
        ft_image *c = (ft_image *)1;
        ft__alloc_fail_after(k);
        int rc = ft_image_create(5, 5, &c);
        ft__alloc_fail_after(-1);
        ASSERT_EQ(rc, k < 2 ? FT_ENOMEM : FT_OK);
        ASSERT_EQ(c == NULL, rc != FT_OK);
        ft_image_destroy(c);
    }
    ft_image_destroy(img);
    unlink(path);
    no_leaks();
}

FT_TESTS(FT_TEST(test_create), FT_TEST(test_png_roundtrip), FT_TEST(test_png_formats),
         FT_TEST(test_png_handmade), FT_TEST(test_png_limit_and_truncation), FT_TEST(test_png_fuzz),
         FT_TEST(test_save_png_errors), FT_TEST(test_jpeg_smooth), FT_TEST(test_jpeg_grey),
         FT_TEST(test_jpeg_cmyk), FT_TEST(test_jpeg_exif_orientation),
         FT_TEST(test_exif_orient_exact), FT_TEST(test_exif_malformed),
         FT_TEST(test_jpeg_truncated), FT_TEST(test_jpeg_scan_limit),
         FT_TEST(test_jpeg_header_limits), FT_TEST(test_jpeg_fuzz), FT_TEST(test_not_an_image),
         FT_TEST(test_missing_file_and_args), FT_TEST(test_alloc_failures))
