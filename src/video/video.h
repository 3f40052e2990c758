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
** INVARIANTS  (1) the reader and the writer pick the same YUV matrix for an
**                 untagged stream of a given size (ft__video_default_colorspace),
**                 so a clip written here reads back with the colours it had.
** OWNERSHIP   ft__video_url returns an ft__malloc'd string.
** THREADS     Pure functions; none keeps state.
*/
#ifndef FT_VIDEO_VIDEO_H
#define FT_VIDEO_VIDEO_H

#include "facetrail/video.h"

#include <stddef.h>

/* Text of an AVERROR code, in buf (always NUL-terminated); returns buf. */
const char *ft__video_averr(int averr, char *buf, size_t len);

/* ft_status for an AVERROR code (never FT_OK: call on failures only). */
int ft__video_status(int averr);

/* "file:" + path, or NULL when out of memory. */
char *ft__video_url(const char *path);

/* AVCOL_SPC_* value assumed for an untagged stream: BT.709 from 1280x720 or
** above 576 lines, BT.601 (SMPTE 170M) below, as players do. */
int ft__video_default_colorspace(int width, int height);

#endif
