/*
** bench/bench_yunet_template.c: measures where YuNet's five points fall in
** dlib's own face chips, the template of align/chip_points.c.
**
**   build/release/bench/bench_yunet_template [--models DIR] IMAGE...
**
** For each image: the largest face of the default pipeline (YuNet, dlib's
** 5-point predictor), dlib's 150 px chip for it (padding 0.25), and YuNet's
** five points moved into that chip's frame (the frame of dlib's
** get_face_chip_details: chip pixel x is at x + 0.5). Prints the mean and
** the standard deviation of each point over the faces, and the initializer
** of the template. Faces whose YuNet points are more than 0.25 chip widths
** from the running mean are not averaged (a failed predictor or a wrong
** face), and counted.
*/
#include "align/align.h"
#include "facetrail.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *models = NULL;
    int first = 1;
    if (argc > 2 && !strcmp(argv[1], "--models")) models = argv[2], first = 3;
    if (first >= argc || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(stderr, "usage: bench_yunet_template [--models DIR] IMAGE...\n");
        return argc > 1 && strcmp(argv[1], "--help") && strcmp(argv[1], "-h") ? 2 : 0;
    }
    char err[512];
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = models;
    ft_engine *eng;
    if (ft_engine_open(&ep, &eng, err, sizeof err) != FT_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    ft_detect_params dp = ft_detect_default_params();
    dp.with_descriptor = 0;
    double sum[5][2] = { { 0 } }, sum2[5][2] = { { 0 } };
    int n = 0, skipped = 0, no_face = 0;
    for (int a = first; a < argc; a++) {
        ft_image *img;
        if (ft_image_load(argv[a], 0, &img, err, sizeof err) != FT_OK) {
            fprintf(stderr, "%s\n", err);
            continue;
        }
        ft_face f[16];
        int nf = 0;
        if (ft_engine_detect(eng, img, &dp, f, 16, &nf) != FT_OK) {
            fprintf(stderr, "%s: %s\n", argv[a], ft_engine_errmsg(eng));
            ft_image_destroy(img);
            continue;
        }
        int b = -1;
        for (int i = 0; i < nf && i < 16; i++)
            if (f[i].has_landmarks && f[i].has_points5 && (b < 0 || f[i].box[2] > f[b].box[2]))
                b = i;
        if (b < 0) {
            no_face++;
            ft_image_destroy(img);
            continue;
        }
        long pts[5][2];
        for (int i = 0; i < 5; i++)
            pts[i][0] = lround(f[b].landmarks[i][0]), pts[i][1] = lround(f[b].landmarks[i][1]);
        ft__chip_details cd;
        ft__dlib_face_chip_details(pts, 150, 0.25, &cd);
        double cx = (cd.rect[0] + cd.rect[2]) / 2, cy = (cd.rect[1] + cd.rect[3]) / 2;
        double scale = (cd.rect[2] - cd.rect[0] + 1) / 150.0;
        double c = cos(cd.angle), s = sin(cd.angle), q[5][2];
        int far = 0;
        for (int i = 0; i < 5; i++) {
            double dx = f[b].points5[i][0] - cx, dy = f[b].points5[i][1] - cy;
            q[i][0] = 75.0 + (c * dx + s * dy) / scale;
            q[i][1] = 75.0 + (-s * dx + c * dy) / scale;
            if (n >= 20 && hypot(q[i][0] - sum[i][0] / n, q[i][1] - sum[i][1] / n) > 0.25 * 150)
                far = 1;
        }
        if (far) {
            skipped++;
        } else {
            for (int i = 0; i < 5; i++)
                for (int k = 0; k < 2; k++)
                    sum[i][k] += q[i][k], sum2[i][k] += q[i][k] * q[i][k];
            n++;
        }
        ft_image_destroy(img);
    }
    ft_engine_close(eng);
    if (n == 0) {
        fprintf(stderr, "no face measured\n");
        return 2;
    }
    printf("# %d faces (%d far from the mean, not averaged; %d images without a face)\n", n,
           skipped, no_face);
    static const char *names[5] = { "right eye", "left eye", "nose tip", "right mouth",
                                    "left mouth" };
    for (int i = 0; i < 5; i++) {
        double mx = sum[i][0] / n, my = sum[i][1] / n;
        printf("# %-11s x %.2f (sd %.2f)  y %.2f (sd %.2f)\n", names[i], mx,
               sqrt(fmax(0, sum2[i][0] / n - mx * mx)), my,
               sqrt(fmax(0, sum2[i][1] / n - my * my)));
    }
    printf("static const double yunet5_template[5][2] = {\n   ");
    for (int i = 0; i < 5; i++)
        printf(" { %.2f, %.2f },", sum[i][0] / n, sum[i][1] / n);
    printf("\n};\n");
    return 0;
}
