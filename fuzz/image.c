/*
** fuzz/image.c: fuzz target for still-image decoding: ft_image_decode on the
** bytes (JPEG through libjpeg-turbo with the EXIF orientation applied, PNG
** through libpng), and the EXIF parser on its own.
**
** DESIGN
**   The pixel limit is 1 Mpx so that a forged header cannot make one input
**   allocate hundreds of megabytes (the limit check itself is under test:
**   ft__image_check_size runs before any pixel memory). Bytes that start
**   with "Exif\0\0" are an APP1 payload: ft__exif_orientation reads them
**   directly, and the orientation it returns turns a small decoded image
**   (ft__image_orient), so that both reach every case without a whole JPEG
**   around them.
*/
#include "fuzz.h"

#include "facetrail.h"
#include "image/decode.h"

#define FUZZ_MAX_PIXELS (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    ft_image *img = NULL;
    if (ft_image_decode(data, size, "fuzz", FUZZ_MAX_PIXELS, &img, err, sizeof err) == FT_OK) {
        /* a decoded image is whole: every pixel readable */
        unsigned sum = 0;
        for (size_t i = 0; i < (size_t)img->width * (size_t)img->height * 3; i += 97)
            sum += img->rgb[i];
        (void)sum;
        ft_image_destroy(img);
    }
    if (size >= 6 && memcmp(data, "Exif\0\0", 6) == 0) {
        int o = ft__exif_orientation(data, size);
        if (o < 1 || o > 8) abort(); /* its contract: 1..8 always */
        ft_image *src = NULL, *dst = NULL;
        if (ft_image_create(3, 2, &src) == FT_OK) {
            memset(src->rgb, 7, 3 * 2 * 3);
            if (ft__image_orient(src, o, &dst) == FT_OK) ft_image_destroy(dst);
            ft_image_destroy(src);
        }
    }
    return 0;
}
