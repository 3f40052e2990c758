/*
** image/thumb.c: square JPEG thumbnails of faces, for sightings (ingest)
** and for the query face beside the matches (search reports).
**
** DESIGN
**   The square is centred on the face box, 1.5 times its larger side, and
**   sampled bilinearly (pixels past the image's border repeat the edge), so
**   a face at the border still gives a full thumbnail. Encoded by
**   ft_image_encode_jpeg at quality 85.
*/
#include "core/core.h"
#include "facetrail/store.h"

#include <math.h>

int ft_face_thumbnail(const ft_image *img, const double box[4], int side_px,
                      unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!img || !box || side_px < 8 || side_px > 1024 || !(box[2] > 0) || !(box[3] > 0))
        return FT_EINVAL;
    ft_image *t;
    int rc = ft_image_create(side_px, side_px, &t);
    if (rc != FT_OK) return rc;
    double side = fmax(box[2], box[3]) * 1.5;
    double x0 = box[0] + box[2] / 2 - side / 2, y0 = box[1] + box[3] / 2 - side / 2;
    for (int y = 0; y < side_px; y++)
        for (int x = 0; x < side_px; x++) {
            double u = x0 + (x + 0.5) * side / side_px - 0.5;
            double v = y0 + (y + 0.5) * side / side_px - 0.5;
            int iu = (int)floor(u), iv = (int)floor(v);
            double fu = u - iu, fv = v - iv;
            for (int c = 0; c < 3; c++) {
                double acc = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int px = iu + dx, py = iv + dy;
                        px = px < 0 ? 0 : px >= img->width ? img->width - 1 : px;
                        py = py < 0 ? 0 : py >= img->height ? img->height - 1 : py;
                        double w = (dx ? fu : 1 - fu) * (dy ? fv : 1 - fv);
                        acc += w * img->rgb[((size_t)py * img->width + px) * 3 + c];
                    }
                t->rgb[((size_t)y * side_px + x) * 3 + c] = (uint8_t)lrint(acc);
            }
        }
    rc = ft_image_encode_jpeg(t, 85, out, out_len, NULL, 0);
    ft_image_destroy(t);
    return rc;
}
