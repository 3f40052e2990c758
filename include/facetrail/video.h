/*
** facetrail/video.h: reading frames from video files and writing synthetic
** clips (FFmpeg underneath). Included by facetrail.h; may also be included
** on its own.
**
** OVERVIEW
**     ft_video *v;
**     if (ft_video_open("cam3.mp4", NULL, &v, err, sizeof err) != FT_OK) ...;
**     const ft_image *img;
**     int64_t t;
**     int r;
**     while ((r = ft_video_read(v, 5.0, &img, &t)) == 1)   // at most 5 frames/s
**         ... detect faces in img, taken t microseconds into the stream ...
**     if (r < 0) fprintf(stderr, "%s\n", ft_video_errmsg(v));
**     ft_video_damage d;                 // damaged in the middle: say so
**     if (ft_video_get_damage(v, &d) == FT_OK && d.n_frames > 0) ...;
**     ft_video_close(v);
**
** DESIGN
**   Reader: the container is demuxed with libavformat, the best video stream
**   decoded with libavcodec (send/receive API), and only the frames handed
**   out are converted to packed RGB with libswscale; skipped frames are
**   decoded (the codec needs them) but never converted. Only local files are
**   read (FFmpeg's "file" protocol alone) and only the containers a camera
**   writes are accepted (list in ft_video_params.formats); everything else,
**   images included, is FT_EFORMAT before a demuxer parses it. Frames come
**   out upright: the stream's display matrix (phone clips) is applied.
**   Damage in the middle of a file is decoded around and counted
**   (ft_video_get_damage); FFmpeg's own log lines never reach stderr unless
**   asked for (ft_video_set_ffmpeg_log_level).
**   Writer: RGB frames are converted to YUV 4:2:0 and encoded with "mpeg4"
**   (MPEG-4 part 2, always in libavcodec) or "libx264" where libavcodec has
**   it; the container comes from the file extension.
**
** CONVENTIONS  As facetrail.h: 0 or a negative enum ft_status; constructors
**   write an out-parameter; destructors accept NULL; messages name the file.
**
** THREADS  A handle is used by one thread at a time; different handles are
**   independent. The decoder may run threads of its own inside calls
**   (ft_video_params.threads).
*/
#ifndef FACETRAIL_VIDEO_H
#define FACETRAIL_VIDEO_H

#include "facetrail.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Reader                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct ft_video ft_video;

typedef struct ft_video_params {
    size_t max_pixels;   /* largest width * height accepted, checked against the
                            headers before any frame is decoded and on every frame;
                            0: FT_IMAGE_DEFAULT_MAX_PIXELS */
    int threads;         /* decoder threads (frame and slice threading); 0: 1 */
    const char *formats; /* comma-separated libavformat demuxer names accepted;
                            NULL: FT_VIDEO_DEFAULT_FORMATS */
    int fast_colour;     /* 0 (default): YUV -> RGB with exact rounding and
                            interpolated chroma (~10 ms per 1080p frame on one
                            core). 1: libswscale's SIMD path (~1.3 ms; chroma
                            not interpolated, coarser rounding: ~1 level mean
                            difference, more at sharp colour edges). Only
                            returned frames are converted. */
    /* Live sources (ft_video_open_live) only: */
    int (*interrupt)(void *ctx); /* polled while FFmpeg waits (connecting, reading);
                                    non-zero aborts the wait: the call fails with
                                    FT_EIO, message "...: interrupted". NULL: never */
    void *interrupt_ctx;
    int64_t stall_us; /* no data for this long while connecting or reading:
                         the call fails with FT_EIO "no data for N s"; 0: 10 s */
} ft_video_params;

/* Containers and elementary streams accepted by default (libavformat names). */
#define FT_VIDEO_DEFAULT_FORMATS \
    "mov,matroska,webm,avi,mpegts,mpeg,flv,asf,mxf,nut,h264,hevc,m4v,mpegvideo,mjpeg,ivf"

/* Demuxers a live source may use as well: playlists, RTSP sessions, MJPEG
** over HTTP (multipart). */
#define FT_VIDEO_LIVE_FORMATS "hls,rtsp,rtp,sdp,mpjpeg"

/* Protocols a live source may use (a plain path is read through "file"). */
#define FT_VIDEO_LIVE_PROTOCOLS \
    "file,pipe,http,https,tls,tcp,udp,rtp,srtp,rtsp,rtsps,rtmp,rtmps,hls,crypto,httpproxy,data"

/* max_pixels 0, threads 0 (1), formats NULL (the default list), fast_colour 0,
** no interrupt, stall_us 0 (10 s). */
ft_video_params ft_video_default_params(void);

typedef struct ft_video_info {
    int width, height;   /* of the stream headers, as displayed (swapped when
                            the display matrix turns by 90 or 270 degrees);
                            frames may differ (each ft_image carries its own
                            size) */
    double fps;          /* average frame rate, else the container's base rate;
                            0 if unknown */
    int64_t duration_us; /* -1 if unknown */
    int64_t n_frames;    /* the container's count, else duration * fps rounded;
                            -1 if unknown. An estimate: the reader may return a few
                            more or fewer. */
    char codec[32];      /* libavcodec's name, "h264", "mpeg4", ... */
    char format[32];     /* demuxer's first name, "mov", "matroska", ... */
    int rotation;        /* the stream's display matrix, as applied to every
                            frame: clockwise turn in degrees, 0, 90, 180 or 270
                            (a portrait phone clip: 90) ... */
    int mirrored;        /* ... then 1: mirrored left-right (0: not) */
} ft_video_info;

/* Damage seen while decoding (ft_video_get_damage). */
typedef struct ft_video_damage {
    int64_t n_frames;          /* frames that came out damaged (the decoder concealed
                         errors in them) or were lost (packets the decoder
                         refused, frames missing after an error) */
    int64_t first_us, last_us; /* stream time of the first and the last of
                                  them (as pts_us); -1 when n_frames is 0 */
    int64_t n_errors;          /* error messages FFmpeg logged for this file (kept off
                         stderr; see ft_video_set_ffmpeg_log_level) */
} ft_video_damage;

/* Opens path and its best video stream (p may be NULL: defaults).
** Errors (*out NULL, err names the file): FT_EIO (missing, unreadable, not
** a regular file: a directory, a FIFO, a device), FT_EFORMAT (empty, not an accepted container, no video stream,
** no decoder, no dimensions, corrupt headers), FT_ETOOBIG (width * height
** over max_pixels), FT_EINVAL (bad arguments), FT_ENOMEM.
** Rotation: a display matrix on the stream (phones store portrait clips
** landscape with a 90 degree matrix) is applied, as players do: frames come
** out upright and info.width / info.height are the displayed size
** (info.rotation and info.mirrored say what was applied; a matrix that is
** not a multiple of 90 degrees is ignored). A PNG or JPEG is not a video:
** FT_EFORMAT (use ft_image_load). */
int ft_video_open(const char *path, const ft_video_params *p, ft_video **out /* OUT */, char *err,
                  size_t errlen);

/* Opens a live source: url is anything libavformat opens over the protocols
** of FT_VIDEO_LIVE_PROTOCOLS (rtsp://, http(s):// serving MPEG-TS, MJPEG or
** HLS, udp:// ...) or a path (a FIFO, a device, a growing or plain file),
** read as a stream: never seeked, no file checks, and at its end
** ft_video_read returns 0 (or FT_EIO when the connection broke). Accepted
** containers: p->formats or the default list, plus FT_VIDEO_LIVE_FORMATS.
** RTSP is asked for TCP transport. p->interrupt is polled while FFmpeg
** waits, and p->stall_us bounds a wait for data (connect, probe, read).
** pts_us of the frames is the stream's own clock from its first frame.
** Errors as ft_video_open; FT_EIO also for cannot connect, no data, and
** interrupted (the message says which). */
int ft_video_open_live(const char *url, const ft_video_params *p, ft_video **out /* OUT */,
                       char *err, size_t errlen);
void ft_video_close(ft_video *v);

/* Stream properties, from the headers (no decoding). FT_EINVAL on NULL. */
int ft_video_get_info(const ft_video *v, ft_video_info *out /* OUT */);

/* Decodes up to the next frame to return. Returns 1 with *frame (packed RGB,
** borrowed: valid until the next ft_video_read, ft_video_seek or
** ft_video_close) and *pts_us, its presentation time in microseconds from the
** stream's start time; 0 at the end of the stream; < 0 on error (message in
** ft_video_errmsg). pts_us is non-decreasing except where the file's own
** timestamps jump backwards; a frame without a timestamp gets the previous
** one plus 1/fps.
**
** sample_fps 0 returns every frame. sample_fps > 0 returns frames at least
** 1/sample_fps apart (less 0.1 % + 1 us of slack for timestamp rounding): the
** first frame, then each time the first frame whose pts is at least
** ft_video_sample_next_us(last returned pts, sample_fps). From a 25 fps
** stream, 5 gives every 5th frame and 7 every 4th (6.25 frames/s):
** sample_fps is an upper bound on the rate. The choice depends on the
** timestamps only, so it is deterministic, and a resumed ingest (a new
** handle, ft_video_seek(ft_video_sample_next_us(last_pts, sample_fps)))
** returns the frames an uninterrupted one would have. The value may change
** between calls; a backward timestamp jump restarts the spacing.
**
** End of input: a file that ends early (cut short, a camera losing power)
** yields every frame that can still be decoded and then, when the demuxer
** saw the damage (MP4: "partial file"), FT_EFORMAT "truncated or corrupt
** data after N s"; containers that cannot tell a cut from an end (Matroska,
** MPEG-TS) simply end (0). Damaged packets in the middle are left to the
** decoder, which conceals them, and counted (ft_video_get_damage); after 100
** consecutive decode failures the file is given up (FT_EFORMAT). Damage
** inside the container structure (a fragment index that is cut or
** overwritten) is FT_EFORMAT too, never FT_ENOMEM. The end-of-stream or error status is
** sticky: further reads return it again until a seek. Other errors:
** FT_ETOOBIG (a frame over max_pixels), FT_EIO (read error), FT_ENOMEM,
** FT_EINVAL (sample_fps negative or not finite). */
int ft_video_read(ft_video *v, double sample_fps, const ft_image **frame /* OUT */,
                  int64_t *pts_us /* OUT */);

/* The smallest pts_us that ft_video_read(sample_fps) accepts after returning
** a frame at last_pts_us: last_pts_us + max(1, ceil(P - P / 1000 - 1)) with
** P = 1e6 / sample_fps; last_pts_us + 1 for sample_fps 0 (saturating). The
** seek target that resumes an ingest after its last processed frame. */
int64_t ft_video_sample_next_us(int64_t last_pts_us, double sample_fps);

/* Moves so that the next ft_video_read returns the first frame whose pts_us
** is >= pts_us (negative: the start): seeks to the keyframe at or before it
** and decodes and discards the frames before it (during that next read).
** Past the end, the next read returns 0. Sampling restarts at the frame
** returned next. Errors: FT_EIO (the container cannot seek, a live stream), FT_EINVAL. */
int ft_video_seek(ft_video *v, int64_t pts_us);

/* Message for the last failure on v ("" if none); borrowed, valid until the
** next call on v. Never NULL (for v NULL too). */
const char *ft_video_errmsg(const ft_video *v);

/* Damage seen so far by the reads on v: frames that were damaged or lost in
** the frames read (frames dropped while a seek looks for its target are not
** counted), and FFmpeg's error messages about the file. A clip damaged in
** the middle reads to its end (status 0) with n_frames > 0: the caller
** says so. FT_EINVAL on NULL. */
int ft_video_get_damage(const ft_video *v, ft_video_damage *out /* OUT */);

/* ------------------------------------------------------------------------ */
/* Writer (tests, the race simulator)                                       */
/* ------------------------------------------------------------------------ */

typedef struct ft_video_writer ft_video_writer;

typedef struct ft_video_writer_params {
    const char *codec;    /* "mpeg4" (default, NULL) or "libx264" where available
                           (ft_video_encoder_available) */
    int64_t bitrate;      /* bits/s; 0: constant quality instead */
    int quality;          /* when bitrate is 0. mpeg4: qscale 1 (best) .. 31, default
                           3; libx264: CRF 0 .. 51, default 20. 0: the default */
    int gop;              /* frames between keyframes; 0: 12 */
    int max_b_frames;     /* B-frames in a row; 0: none (-1: the encoder's default) */
    const char *preset;   /* libx264 only; NULL: "veryfast" */
    int threads;          /* encoder threads; 0: 1 */
    int display_rotation; /* .mp4 / .mov only: a display matrix telling players
                             to turn the frames clockwise by 0, 90, 180 or 270
                             degrees (a phone held upright writes 90) ... */
    int display_mirror;   /* ... and then to mirror them left-right (1) */
    int fragmented;       /* .mp4 / .mov only: 1 writes a fragmented file (an
                             empty index up front, then one fragment per
                             keyframe, as live recorders do) */
} ft_video_writer_params;

ft_video_writer_params ft_video_writer_default_params(void);

/* 1 if libavcodec has an encoder of that name ("libx264", "mpeg4"), else 0. */
int ft_video_encoder_available(const char *name);

/* Creates path (replacing it) for width x height frames at fps frames/s.
** The container comes from the extension: .mp4, .m4v, .mov (index moved to
** the front, "faststart", so that a cut copy stays readable), .mkv, .avi,
** .ts (MPEG-TS: no index, starts at 1.4 s, as broadcast and some cameras).
** AVI has no presentation timestamps: B-frames are refused there (they
** would read back one frame late, as any AVI with B-frames does).
** Colours: BT.601 limited range below 1280x720 and BT.709 from there, tagged
** in the stream, which is what ft_video_read assumes for untagged streams too.
** Errors (*out NULL, err names the file): FT_EINVAL (size not positive,
** odd size for 4:2:0, fps not in (0, 1000], unknown extension, B-frames in
** AVI, a display matrix or fragments outside MP4 / MOV, bad params),
** FT_ENOTFOUND (no such encoder), FT_EIO (cannot create the file),
** FT_EFORMAT (the encoder or muxer refuses the settings), FT_ENOMEM. */
int ft_video_writer_open(const char *path, int width, int height, double fps,
                         const ft_video_writer_params *p, ft_video_writer **out /* OUT */,
                         char *err, size_t errlen);

/* Encodes one frame (pts = index of the frame, time base 1/fps). The frame
** must have the writer's size (FT_EINVAL). After a failure the writer only
** accepts ft_video_writer_close. Message in ft_video_writer_errmsg. */
int ft_video_writer_write(ft_video_writer *w, const ft_image *frame);

/* Flushes the encoder, writes the trailer, closes the file and frees w
** (NULL: FT_OK). Returns the first failure of w's life, if any (the file is
** then left as written, possibly unreadable), message in err. */
int ft_video_writer_close(ft_video_writer *w, char *err, size_t errlen);

/* Message for the last failure on w ("" if none). Never NULL. */
const char *ft_video_writer_errmsg(const ft_video_writer *w);

/* FFmpeg's own log lines. facetrail installs its own FFmpeg log callback,
** process-wide, the first time a video is opened or written (or this is
** called): the errors it logs about a file are counted on that file's reader
** (ft_video_get_damage) and, by default, nothing goes to stderr: facetrail's
** own messages say what went wrong, in one line. level 0: nothing on stderr
** (default), 1: FFmpeg's errors too, 2: FFmpeg's default (info and up), for
** debugging. Thread-safe. */
void ft_video_set_ffmpeg_log_level(int level);

#ifdef __cplusplus
}
#endif
#endif /* FACETRAIL_VIDEO_H */
