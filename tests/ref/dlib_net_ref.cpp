/*
** tests/ref/dlib_net_ref.cpp: dlib's own face descriptor net, run on raw
** 150x150 RGB chips; the oracle for src/embed/dlibnet.c. Test-only: built
** with g++ against Debian's libdlib-dev, never linked into the library.
**
** USAGE
**   dlib_net_ref MODEL.dat CHIPS.rgb [REPEATS]
**   CHIPS.rgb holds N chips back to back, each 150 rows of 150 pixels of
**   R, G, B bytes (N*67500 bytes). Prints one line per chip: its 128
**   descriptor values as %.9g, space separated. Then one line
**   "# ms_per_descriptor T" with the mean wall time of one net(chip) call
**   (batch 1, after a warm-up), over REPEATS (default 3) passes over the chips.
**   Errors go to stderr with exit status 1.
**
** DESIGN
**   The net type is the one dlib's dnn_face_recognition_ex.cpp declares for
**   dlib_face_recognition_resnet_model_v1.dat (a ResNet of residual and
**   residual_down blocks at 32, 64, 128, 256 filters on a 150x150 input),
**   written out here again from its description. dlib checks the file's
**   layout against this type as it deserialises, so a file that does not
**   fit is an error here too.
** THREADS     One thread (dlib's CPU path; the BLAS may have its own).
*/
#include <dlib/dnn.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <vector>

namespace ref
{
using namespace dlib;

/* x + block(x): the block reads tag1, add_prev1 adds tag1 back. */
template <template <int, template <typename> class, int, typename> class BLOCK, int N,
          template <typename> class BN, typename SUBNET>
using residual = add_prev1<BLOCK<N, BN, 1, tag1<SUBNET>>>;

/* pool2x2(x) + block/2(x): the block's output is tag2; skip1 returns to the
** input, which is averaged 2x2 and added to tag2. */
template <template <int, template <typename> class, int, typename> class BLOCK, int N,
          template <typename> class BN, typename SUBNET>
using residual_down = add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<BLOCK<N, BN, 2, tag1<SUBNET>>>>>>;

/* conv3x3/stride, affine, relu, conv3x3, affine. */
template <int N, template <typename> class BN, int STRIDE, typename SUBNET>
using block = BN<con<N, 3, 3, 1, 1, relu<BN<con<N, 3, 3, STRIDE, STRIDE, SUBNET>>>>>;

template <int N, typename SUBNET> using ares = relu<residual<block, N, affine, SUBNET>>;
template <int N, typename SUBNET> using ares_down = relu<residual_down<block, N, affine, SUBNET>>;

template <typename SUBNET> using level0 = ares_down<256, SUBNET>;
template <typename SUBNET> using level1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET> using level2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET> using level3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET> using level4 = ares<32, ares<32, ares<32, SUBNET>>>;

using net_type = loss_metric<fc_no_bias<
    128, avg_pool_everything<level0<level1<level2<level3<level4<max_pool<
             3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2, input_rgb_image_sized<150>>>>>>>>>>>>>;
} // namespace ref

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        std::fprintf(stderr, "usage: %s MODEL.dat CHIPS.rgb [REPEATS]\n", argv[0]);
        return 1;
    }
    const int side = 150;
    const size_t chip_bytes = (size_t)side * side * 3;
    int repeats = argc == 4 ? std::atoi(argv[3]) : 3;
    if (repeats < 1) repeats = 1;

    ref::net_type net;
    try {
        dlib::deserialize(argv[1]) >> net;
    } catch (std::exception &e) {
        std::fprintf(stderr, "%s: %s\n", argv[1], e.what());
        return 1;
    }

    std::ifstream in(argv[2], std::ios::binary);
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
        std::fprintf(stderr, "%s: cannot read\n", argv[2]);
        return 1;
    }
    if (bytes.empty() || bytes.size() % chip_bytes != 0) {
        std::fprintf(stderr, "%s: %zu bytes, not a whole number of %zu-byte chips\n", argv[2],
                     bytes.size(), chip_bytes);
        return 1;
    }
    size_t n = bytes.size() / chip_bytes;
    std::vector<dlib::matrix<dlib::rgb_pixel>> chips(n);
    for (size_t i = 0; i < n; i++) {
        chips[i].set_size(side, side);
        const unsigned char *p = &bytes[i * chip_bytes];
        for (int r = 0; r < side; r++)
            for (int c = 0; c < side; c++, p += 3) chips[i](r, c) = dlib::rgb_pixel(p[0], p[1], p[2]);
    }

    for (size_t i = 0; i < n; i++) {
        dlib::matrix<float, 0, 1> d = net(chips[i]);
        for (long k = 0; k < d.size(); k++) std::printf(k ? " %.9g" : "%.9g", d(k));
        std::printf("\n");
    }

    /* the loop above was the warm-up */
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < repeats; r++)
        for (size_t i = 0; i < n; i++) (void)net(chips[i]);
    auto t1 = std::chrono::steady_clock::now();
    double ms = std::chrono::duration<double, std::milli>(t1 - t0).count() / (double)(repeats * n);
    std::printf("# ms_per_descriptor %.3f\n", ms);
    return 0;
}
