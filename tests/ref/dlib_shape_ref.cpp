/*
** tests/ref/dlib_shape_ref.cpp: dlib's own 5-point shape predictor and face
** chip, on raw RGB pixels; the oracle for src/align/shape5.c and chip5.c.
** Test-only: built with g++ against Debian's libdlib-dev, never linked into
** the library.
**
** USAGE
**   dlib_shape_ref MODEL.dat IMAGE.ppm CHIPS.rgb [SIZE PADDING] < RECTS
**   IMAGE.ppm is a binary PPM (P6, maxval 255), read here by hand so that
**   no image decoder stands between the two sides. RECTS (stdin) holds one
**   face rectangle a line: "left top right bottom" (dlib's inclusive
**   rectangle). For each rectangle, in order, it prints
**     parts X0 Y0 X1 Y1 ... X4 Y4       sp(img, rect) as dlib rounds them
**     leaves N F0 F1 ...                the feats overload: one global leaf
**                                       index per tree
**     chip ANGLE L T R B ROWS COLS      get_face_chip_details(det, SIZE,
**                                       PADDING) (doubles as %a)
**     ms SP CHIP                        wall time of one sp() and one
**                                       extract_image_chip() call (ms)
**   and appends the chip, extract_image_chip(img, details) as
**   matrix<rgb_pixel>, to CHIPS.rgb: ROWS x COLS x 3 bytes. SIZE and
**   PADDING default to 150 and 0.25 (the descriptor net's chip).
**   Errors go to stderr with exit status 1.
** THREADS     One thread.
*/
#include <dlib/image_processing.h>
#include <dlib/image_transforms.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

using namespace dlib;

/* Reads a P6 PPM with maxval 255 into img; false on anything else. */
static bool read_ppm(const char *path, matrix<rgb_pixel> &img)
{
    FILE *f = std::fopen(path, "rb");
    if (!f) return false;
    int w = 0, h = 0, maxval = 0;
    bool ok = std::fscanf(f, "P6 %d %d %d", &w, &h, &maxval) == 3 && maxval == 255 && w > 0 &&
              h > 0 && std::fgetc(f) != EOF;
    if (ok) {
        std::vector<unsigned char> buf((size_t)w * h * 3);
        ok = std::fread(buf.data(), 1, buf.size(), f) == buf.size();
        img.set_size(h, w);
        for (long r = 0; ok && r < h; r++)
            for (long c = 0; c < w; c++) {
                const unsigned char *p = &buf[((size_t)r * w + c) * 3];
                img(r, c) = rgb_pixel(p[0], p[1], p[2]);
            }
    }
    std::fclose(f);
    return ok;
}

static double ms_since(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 6) {
        std::fprintf(stderr, "usage: dlib_shape_ref MODEL.dat IMAGE.ppm CHIPS.rgb [SIZE PADDING] "
                             "< RECTS\n");
        return 1;
    }
    const unsigned long size = argc == 6 ? std::strtoul(argv[4], nullptr, 10) : 150;
    const double padding = argc == 6 ? std::strtod(argv[5], nullptr) : 0.25;
    shape_predictor sp;
    matrix<rgb_pixel> img;
    try {
        deserialize(argv[1]) >> sp;
    } catch (std::exception &e) {
        std::fprintf(stderr, "%s: %s\n", argv[1], e.what());
        return 1;
    }
    if (!read_ppm(argv[2], img)) {
        std::fprintf(stderr, "%s: not a P6 PPM with maxval 255\n", argv[2]);
        return 1;
    }
    FILE *chips = std::fopen(argv[3], "wb");
    if (!chips) {
        std::fprintf(stderr, "%s: cannot write\n", argv[3]);
        return 1;
    }
    long l, t, r, b;
    while (std::scanf("%ld %ld %ld %ld", &l, &t, &r, &b) == 4) {
        const rectangle rect(l, t, r, b);
        auto t0 = std::chrono::steady_clock::now();
        const full_object_detection det = sp(img, rect);
        const double ms_sp = ms_since(t0);
        std::printf("parts");
        for (unsigned long i = 0; i < det.num_parts(); i++)
            std::printf(" %ld %ld", det.part(i).x(), det.part(i).y());
        std::printf("\n");

        std::vector<std::pair<unsigned long, double>> feats;
        sp(img, rect, feats);
        std::printf("leaves %zu", feats.size());
        for (const auto &f : feats)
            std::printf(" %lu", f.first);
        std::printf("\n");

        const chip_details cd = get_face_chip_details(det, size, padding);
        std::printf("chip %a %a %a %a %a %lu %lu\n", cd.angle, cd.rect.left(), cd.rect.top(),
                    cd.rect.right(), cd.rect.bottom(), cd.rows, cd.cols);
        matrix<rgb_pixel> chip;
        t0 = std::chrono::steady_clock::now();
        extract_image_chip(img, cd, chip);
        const double ms_chip = ms_since(t0);
        std::printf("ms %.4f %.4f\n", ms_sp, ms_chip);
        for (long y = 0; y < chip.nr(); y++)
            for (long x = 0; x < chip.nc(); x++) {
                const unsigned char px[3] = { chip(y, x).red, chip(y, x).green, chip(y, x).blue };
                if (std::fwrite(px, 1, 3, chips) != 3) {
                    std::fprintf(stderr, "%s: write failed\n", argv[3]);
                    return 1;
                }
            }
    }
    if (std::fclose(chips) != 0) {
        std::fprintf(stderr, "%s: write failed\n", argv[3]);
        return 1;
    }
    return 0;
}
