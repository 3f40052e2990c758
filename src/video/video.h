/*
** video/video.h: private helpers shared by the video reader and writer.
**
** DESIGN
**   FFmpeg reports failures as AVERROR codes; ft__video_status maps them onto
**   ft_status (errno-style I/O failures to FT_EIO, ENOMEM to FT_ENOMEM, the
**   rest to FT_EFORMAT) and ft__video_averr gives their text. Paths reach
**   FFmpeg as "file:PATH" so that a name with a colon is never taken for
**   another protocol.
**
**   FFmpeg's log: ft__video_log_init installs, once per process, a log
**   callback that keeps FFmpeg's lines off stderr (unless
**   ft_video_set_ffmpeg_log_level asks for them) and counts each error
**   line on the reader it is about: a reader registers an ft__video_sink
**   and sets its codec and format contexts' opaque to it; the callback walks
**   from the logging context to an AVCodecContext or AVFormatContext (the
**   decoder's own threads log through copies of ours, opaque included) and
**   counts the line when that opaque is a registered sink.
**
** INVARIANTS  (1) the reader and the writer pick the same YUV matrix for an
**                 untagged stream of a given size (ft__video_default_colorspace),
**                 so a clip written here reads back with the colours it had.
**             (2) the callback only compares opaque pointers with the
**                 registered sinks; it never follows one that is not.
** OWNERSHIP   ft__video_url returns an ft__malloc'd string. A sink belongs
**             to its reader, which unregisters it after freeing the contexts.
** THREADS     The log callback and the sink registry are thread-safe (one
**             mutex; counters are atomic); the rest is pure.
*/
#ifndef FT_VIDEO_VIDEO_H
#define FT_VIDEO_VIDEO_H

#include "facetrail/video.h"

#include <stdatomic.h>
#include <stddef.h>

/* Text of an AVERROR code, in buf (always NUL-terminated); returns buf. */
const char *ft__video_averr(int averr, char *buf, size_t len);

/* ft_status for an AVERROR code (never FT_OK: call on failures only). */
int ft__video_status(int averr);

/* ft_status for a failure of the demuxer or the decoder on a file's data
** (opening, probing, reading packets, decoding): as ft__video_status,
** except that ENOMEM is damage (FT_EFORMAT):
** a corrupt size or count in the container (an MP4 fragment asking for
** 2^28 samples) makes FFmpeg refuse to allocate gigabytes. Only when a
** 1 MiB allocation of our own fails as well is it really FT_ENOMEM. */
int ft__video_demux_status(int averr);

/* The message tail for a demuxer ENOMEM taken as damage. */
#define FT__VIDEO_DAMAGED_SIZES \
    "damaged: a size or count in the file's structure is impossibly large"

/* "file:" + path, or NULL when out of memory. */
char *ft__video_url(const char *path);

/* AVCOL_SPC_* value assumed for an untagged stream: BT.709 from 1280x720 or
** above 576 lines, BT.601 (SMPTE 170M) below, as players do. */
int ft__video_default_colorspace(int width, int height);

/* Installs facetrail's FFmpeg log callback (once; thread-safe). */
void ft__video_log_init(void);

/* Error lines FFmpeg logged about the contexts whose opaque is this sink. */
typedef struct ft__video_sink {
    struct ft__video_sink *next; /* registry list, under its mutex */
    atomic_llong n_errors;
} ft__video_sink;

void ft__video_sink_register(ft__video_sink *s);
void ft__video_sink_unregister(ft__video_sink *s);

#endif
