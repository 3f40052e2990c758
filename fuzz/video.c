/*
** fuzz/video.c: fuzz target for video demuxing and decoding through the
** public reader (ft_video_open / ft_video_read, video/reader.c).
**
** DESIGN
**   The bytes become this process's scratch file "in" (the reader takes
**   local paths only), opened with a 256 kpx limit and one decoder thread.
**   Up to 4 frames are read (every frame, then 5 frames/s), a seek back to
**   the start is tried and one more frame read, then the damage counters
**   and the info are read and the handle closed. The reader's own checks
**   (accepted containers, header sizes against the limit, the display
**   matrix, timestamps, the give-up after failures) are what is under test;
**   FFmpeg itself is not instrumented. FFmpeg's log stays quiet (the
**   reader's default).
*/
#include "fuzz.h"

#include "facetrail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[320], err[512];
    if (ft_fuzz_write("in", data, size, path, sizeof path)) return 0;
    ft_video_params p = ft_video_default_params();
    p.max_pixels = 1u << 18;
    p.threads = 1;
    ft_video *v = NULL;
    if (ft_video_open(path, &p, &v, err, sizeof err) != FT_OK) return 0;
    ft_video_info info;
    (void)ft_video_get_info(v, &info);
    const ft_image *frame;
    int64_t pts;
    for (int i = 0; i < 4; i++) {
        int r = ft_video_read(v, i < 2 ? 0.0 : 5.0, &frame, &pts);
        if (r != 1) break;
        if (frame->width <= 0 || frame->height <= 0 || !frame->rgb) abort();
        /* the frame is whole: its last pixel is readable */
        volatile uint8_t last = frame->rgb[(size_t)frame->width * frame->height * 3 - 1];
        (void)last;
    }
    if (ft_video_seek(v, 0) == FT_OK) (void)ft_video_read(v, 0.0, &frame, &pts);
    ft_video_damage d;
    (void)ft_video_get_damage(v, &d);
    (void)ft_video_errmsg(v);
    ft_video_close(v);
    return 0;
}
