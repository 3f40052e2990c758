/*
** fuzz/dlib.c: fuzz target for dlib .dat files: the 5-point shape predictor
** (ft__shape5_load, align/shape5.c) and the ResNet descriptor net
** (ft__dlibnet_open_mem, embed/dlibnet.c), both on nn/dlib.c's cursor.
**
** DESIGN
**   Every input goes to both readers (each stops at its first mismatch, so
**   a shape predictor costs the net reader a few bytes and the reverse).
**   A predictor that loads is run once on a small synthetic image with a
**   box partly outside it: its split thresholds, leaf values and anchor
**   deltas are the file's, so the run is what a damaged model would do to
**   the landmark step.
*/
#include "fuzz.h"

#include "align/align.h"
#include "embed/embed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    ft__shape5 *sp = NULL;
    if (ft__shape5_load(data, size, "fuzz.dat", &sp, err, sizeof err) == FT_OK) {
        ft_image *img = NULL;
        if (ft_image_create(24, 16, &img) == FT_OK) {
            for (size_t i = 0; i < 24 * 16 * 3; i++)
                img->rgb[i] = (uint8_t)(i * 37);
            ft__rect r = { -4, 2, 19, 25 };
            ft__shape5_out o;
            (void)ft__shape5_run(sp, img, r, &o);
            ft_image_destroy(img);
        }
        ft__shape5_free(sp);
    }
    ft__dlibnet *net = NULL;
    if (ft__dlibnet_open_mem(data, size, "fuzz.dat", &net, err, sizeof err) == FT_OK)
        ft__dlibnet_close(net);
    return 0;
}
