/*
** video/common.c: AVERROR translation, file URLs, the default YUV matrix and
** FFmpeg's log level (helpers of reader.c and writer.c).
**
** DESIGN
**   See video/video.h. The log level is FFmpeg's single process-wide setting;
**   it changes only when the caller asks (ft_video_set_ffmpeg_log_level).
**
** INVARIANTS  (1) ft__video_status never returns FT_OK.
** OWNERSHIP   ft__video_url: the caller ft__free's the result.
** THREADS     ft_video_set_ffmpeg_log_level writes FFmpeg's global level;
**             the rest is pure.
*/
#include "video/video.h"

#include "core/core.h"

#include <errno.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/pixfmt.h>

const char *ft__video_averr(int averr, char *buf, size_t len)
{
    if (!buf || !len) return "";
    if (av_strerror(averr, buf, len) < 0) snprintf(buf, len, "error %d", averr);
    buf[len - 1] = '\0';
    return buf;
}

int ft__video_status(int averr)
{
    switch (averr) {
    case AVERROR(ENOMEM): return FT_ENOMEM;
    case AVERROR(ENOENT):
    case AVERROR(EACCES):
    case AVERROR(EPERM):
    case AVERROR(EISDIR):
    case AVERROR(ENOTDIR):
    case AVERROR(EIO):
    case AVERROR(ENOSPC):
    case AVERROR(EROFS):
    case AVERROR(EFBIG):
    case AVERROR(ENAMETOOLONG):
    case AVERROR(EMFILE):
    case AVERROR(ENFILE): return FT_EIO;
    default: return FT_EFORMAT;
    }
}

char *ft__video_url(const char *path)
{
    size_t n = strlen(path);
    char *url = ft__malloc(n + 6);
    if (!url) return NULL;
    memcpy(url, "file:", 5);
    memcpy(url + 5, path, n + 1);
    return url;
}

int ft__video_default_colorspace(int width, int height)
{
    return (width >= 1280 || height > 576) ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M;
}

void ft_video_set_ffmpeg_log_level(int level)
{
    av_log_set_level(level <= 0 ? AV_LOG_QUIET : level == 1 ? AV_LOG_ERROR : AV_LOG_INFO);
}
