/*
** video/common.c: AVERROR translation, file URLs, the default YUV matrix and
** FFmpeg's log (helpers of reader.c and writer.c).
**
** DESIGN
**   See video/video.h. FFmpeg has one process-wide log callback; ours is
**   installed once (pthread_once) and never removed. FFmpeg's own level
**   (av_log_set_level) is left alone, so that error lines still reach the
**   callback and are counted; what goes on to stderr is our own threshold
**   (g_stderr_level), 0 (nothing) unless ft_video_set_ffmpeg_log_level says
**   otherwise.
**
** INVARIANTS  (1) ft__video_status never returns FT_OK.
**             (2) the callback looks a sink up by pointer value in the
**                 registry before touching it (a foreign opaque is never read).
** OWNERSHIP   ft__video_url: the caller ft__free's the result.
** THREADS     The callback may run on any thread (decoder threads too): the
**             registry is under g_sinks_mu, counters and the level are atomic.
*/
#include "video/video.h"

#include "core/core.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
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

int ft__video_demux_status(int averr)
{
    if (averr != AVERROR(ENOMEM)) return ft__video_status(averr);
    void *probe = ft__malloc((size_t)1 << 20);
    if (!probe) return FT_ENOMEM;
    ft__free(probe);
    return FT_EFORMAT;
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

/* ------------------------------------------------------------------------ */
/* FFmpeg's log                                                             */
/* ------------------------------------------------------------------------ */

static pthread_once_t g_log_once = PTHREAD_ONCE_INIT;
static atomic_int g_stderr_level = AV_LOG_QUIET; /* FFmpeg lines at or below go on to stderr */
static pthread_mutex_t g_sinks_mu = PTHREAD_MUTEX_INITIALIZER;
static ft__video_sink *g_sinks;

/* The opaque of the codec or format context that ctx is, or that it logs
** for (through AVClass parent offsets, as av_log's own prefix does). */
static void *log_owner(void *ctx)
{
    const AVClass *codec_class = avcodec_get_class();
    const AVClass *format_class = avformat_get_class();
    for (int depth = 0; ctx && depth < 4; depth++) {
        const AVClass *cls = *(const AVClass **)ctx;
        if (!cls) return NULL;
        if (cls == codec_class) return ((AVCodecContext *)ctx)->opaque;
        if (cls == format_class) return ((AVFormatContext *)ctx)->opaque;
        if (cls->parent_log_context_offset <= 0) return NULL;
        ctx = *(void **)((char *)ctx + cls->parent_log_context_offset);
    }
    return NULL;
}

static void log_callback(void *ctx, int level, const char *fmt, va_list ap)
{
    if (level <= AV_LOG_ERROR && ctx) {
        void *owner = log_owner(ctx);
        if (owner) {
            pthread_mutex_lock(&g_sinks_mu);
            for (ft__video_sink *s = g_sinks; s; s = s->next)
                if ((void *)s == owner) {
                    atomic_fetch_add(&s->n_errors, 1);
                    break;
                }
            pthread_mutex_unlock(&g_sinks_mu);
        }
    }
    if (level <= atomic_load(&g_stderr_level)) av_log_default_callback(ctx, level, fmt, ap);
}

static void log_install(void)
{
    av_log_set_callback(log_callback);
}

void ft__video_log_init(void)
{
    pthread_once(&g_log_once, log_install);
}

void ft__video_sink_register(ft__video_sink *s)
{
    ft__video_log_init();
    atomic_store(&s->n_errors, 0);
    pthread_mutex_lock(&g_sinks_mu);
    s->next = g_sinks;
    g_sinks = s;
    pthread_mutex_unlock(&g_sinks_mu);
}

void ft__video_sink_unregister(ft__video_sink *s)
{
    pthread_mutex_lock(&g_sinks_mu);
    for (ft__video_sink **p = &g_sinks; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    pthread_mutex_unlock(&g_sinks_mu);
}

void ft_video_set_ffmpeg_log_level(int level)
{
    ft__video_log_init();
    atomic_store(&g_stderr_level, level <= 0   ? AV_LOG_QUIET
                                  : level == 1 ? AV_LOG_ERROR
                                               : AV_LOG_INFO);
}
