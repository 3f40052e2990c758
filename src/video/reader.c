/*
** video/reader.c: ft_video: frames of a video file as packed RGB, with
** timestamps, sampling and seeking (libavformat + libavcodec + libswscale).
**
** DESIGN
**   open:  stat (missing, not a regular file, empty) -> avformat_open_input on
**          "file:PATH" with a protocol whitelist of "file" and a format
**          whitelist (no playlist, concat or image demuxer ever parses the
**          file) -> stream sizes from the headers checked against max_pixels
**          -> avformat_find_stream_info (its decoders refuse buffers over
**          decoder_cap(max_pixels)) -> best video stream, the others
**          discarded, its size checked -> decoder with the same cap and the
**          thread count.
**   read:  receive a frame; when the decoder wants input, demux the next
**          packet of our stream and send it; at the end of the file send
**          the flush packet and drain. Each decoded frame gets a timestamp
**          (best effort, in microseconds from the stream's start time); the
**          frames before a pending seek target and the frames too close to
**          the last returned one (sampling) are dropped here, before any
**          colour conversion. Only a returned frame goes through sws_scale
**          (YUV -> RGB24 into the one ft_image the handle owns, reallocated
**          only when the frame size changes).
**   end:   a demuxer error other than EOF (a cut MP4 says "partial file") or
**          an index that points past the end of the file means the file was
**          cut or damaged: the decodable frames come out first, then
**          FT_EFORMAT. So does an MP4 whose demuxer stopped at a broken
**          fragment while more fragments of our track follow (a "tfhd" box
**          with its track id in the bytes after the last packet read:
**          fragmented files have no index to say what is missing). A
**          plain EOF is the end (0), unless packets failed to decode and
**          not one frame came out (FT_EFORMAT). The end status is sticky
**          until a seek.
**   seek:  av_seek_frame BACKWARD to the keyframe at or before the target
**          (falling back to the start of the file), flush the decoder, and
**          let the next read drop frames before the target. Packets before
**          the first keyframe after the seek point are not decoded (MPEG-TS
**          has no index and lands between keyframes; some decoders would
**          output garbage from there). If the first frame decoded is already
**          past the target, or none comes out, seek again 1, 2, 4 ... s
**          earlier, at worst from the start: exact, and bounded (the step
**          doubles until it reaches the start).
**   live:  ft_video_open_live takes a URL (or a path read as a stream: a
**          FIFO) with the live protocol and format lists, no stat checks,
**          and an interrupt callback on the format context (live_interrupt)
**          that aborts any wait of FFmpeg's when the caller's interrupt says
**          so or when no packet came for stall_us (connect and probe
**          included). At the end of a live input only the demuxer's error
**          counts (no index or fragment checks: there is no file to look
**          at): EOF is 0, a broken connection FT_EIO with its reason.
**   Colours: the frame's matrix (BT.601 / 709 / 2020 ...) and range; an
**   untagged stream is BT.709 from 1280x720 up, BT.601 below (players do the
**   same; the writer tags accordingly).
**   Rotation: the stream's display matrix (ISO BMFF tkhd; FFmpeg's
**   AV_PKT_DATA_DISPLAYMATRIX) maps a coded pixel (p, q) to the displayed
**   (a p + c q, b p + d q), y pointing down. When it is a multiple of 90
**   degrees, possibly mirrored, it is one of the 8 symmetries of the
**   rectangle: transpose or not, then mirror x and / or y (orient_t,
**   orient_fx, orient_fy). A returned frame is converted to RGB at its
**   coded size into v->coded, then written upright into v->img.
**   Damage: a packet the decoder refuses, a frame it flags (concealed
**   errors, corrupt), and the frames missing from a timestamp gap that
**   follows an error each count as one damaged frame, with its stream time
**   (ft_video_get_damage); FFmpeg's error lines about our contexts are
**   counted through a log sink (video/video.h) and never reach stderr.
**
** INVARIANTS  (1) no loop waits on FFmpeg without progress: each pass of
**                 decode_next either gets a frame, consumes a packet of a
**                 finite file, or ends; EAGAIN from the demuxer and decode
**                 failures in a row are capped (MAX_RETRIES, MAX_DECODE_ERRORS).
**             (2) v->img is NULL or holds the last returned frame; it is
**                 reallocated only after the new size passed max_pixels.
**             (3) once finished, reads return final_status without touching
**                 FFmpeg until ft_video_seek clears it.
** OWNERSHIP   The handle owns every FFmpeg context, the packet, the frame,
**             the sws context and the image; frames handed out are borrowed.
** THREADS     One thread at a time per handle; libavcodec's own threads run
**             only inside calls.
*/
#include "video/video.h"

#include "core/core.h"
#include "image/decode.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#define MAX_DECODE_ERRORS 100 /* consecutive failed packets / frames before giving up */
#define MAX_RETRIES       100 /* consecutive EAGAIN from the demuxer */
#define MAX_THREADS       64
/* YUV -> RGB at the same size. Exact: accurate rounding and interpolated
** chroma (libswscale's generic path, ~10 ms per 1080p frame on one core),
** bit-identical to the ffmpeg CLI with the same flags. Fast: the SIMD
** converter (~1.3 ms), chroma repeated, not interpolated. */
#define SWS_FLAGS_EXACT (SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT)
#define SWS_FLAGS_FAST  SWS_BILINEAR

struct ft_video {
    char *path; /* for messages */
    AVFormatContext *fc;
    AVCodecContext *dec;
    AVStream *st;
    int sidx;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    int sws_flags;
    int sws_key[5];  /* width, height, format, colorspace, full range of sws */
    ft_image *img;   /* the last returned frame, upright */
    ft_image *coded; /* RGB at the coded size, when the display matrix turns it */
    int orient_t;    /* display matrix: transpose, then mirror x, mirror y */
    int orient_fx, orient_fy;
    ft__video_sink sink; /* FFmpeg's error lines about this file */
    int64_t n_damaged;   /* damaged or lost frames (ft_video_get_damage) */
    int64_t damage_first_us, damage_last_us;
    int64_t errors_seen;   /* sink count when the last frame came out */
    int damage_pending;    /* an error since the last frame: a gap is lost frames */
    int64_t n_refused;     /* packets refused since the last frame (counted already) */
    int64_t last_frame_us; /* the last frame read past any seek target */
    int have_last_frame;
    size_t max_pixels;
    int64_t file_size; /* at open */
    int64_t read_end;  /* end of the furthest packet demuxed (file offset) */
    ft_video_info info;
    int64_t start_ts; /* stream time base; AV_NOPTS_VALUE until known */
    int64_t frame_us; /* nominal frame duration, for frames without a timestamp */
    int64_t prev_us;  /* timestamp of the last decoded frame */
    int have_prev;
    int64_t last_out_us; /* timestamp of the last returned frame */
    int have_out;
    int64_t seek_us; /* frames before this are dropped while seeking */
    int seeking;
    int64_t seek_from_us; /* where the demuxer was sent (0: the start) */
    int64_t seek_step_us; /* last step back (0: none yet) */
    int seek_got_frame;   /* a frame was decoded since the demuxer seek */
    int seek_need_key;    /* drop packets up to the first keyframe (after a seek
                             that is not to the start) */
    int flushed;          /* the flush packet was sent */
    int end_status;       /* 0, or the damage seen by the demuxer, reported after draining */
    int finished;         /* reads return final_status */
    int final_status;     /* 0 end of stream, < 0 error */
    int dec_errors;       /* consecutive decode failures */
    int last_averr;       /* the last decode failure, 0 if none since open / seek */
    int64_t n_decoded;    /* frames decoded since open / seek */
    int live;             /* opened by ft_video_open_live */
    int (*interrupt)(void *ctx);
    void *interrupt_ctx;
    int64_t stall_us; /* live: longest wait for data */
    double last_data; /* live: ft__now() of the last packet (or of the open) */
    int interrupted;  /* live: the caller's interrupt aborted a wait */
    int stalled;      /* live: a wait for data ran past stall_us */
    char errmsg[512];
};

static int fail(ft_video *v, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(ft_video *v, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->errmsg, sizeof v->errmsg, fmt, ap);
    va_end(ap);
    return status;
}

ft_video_params ft_video_default_params(void)
{
    ft_video_params p = { 0, 0, NULL, 0, NULL, NULL, 0 };
    return p;
}

/* Name of the format libavformat would guess for path ("" if none), for the
** message when the format whitelist refuses a file. */
static void probe_format_name(const char *path, char *name, size_t len)
{
    name[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return;
    unsigned char buf[4096 + AVPROBE_PADDING_SIZE];
    memset(buf, 0, sizeof buf);
    size_t n = fread(buf, 1, 4096, f);
    fclose(f);
    AVProbeData pd = { .filename = path, .buf = buf, .buf_size = (int)n };
    const AVInputFormat *fmt = av_probe_input_format(&pd, 1);
    if (fmt) snprintf(name, len, "%s", fmt->name);
}

/* First name of a comma-separated demuxer name list. */
static void first_name(const char *names, char *out, size_t len)
{
    size_t n = strcspn(names, ",");
    if (n >= len) n = len - 1;
    memcpy(out, names, n);
    out[n] = '\0';
}

/* FFmpeg's interrupt callback of a live reader: 1 aborts the blocking
** operation in progress (the caller's interrupt, or no data for stall_us). */
static int live_interrupt(void *opaque)
{
    ft_video *v = opaque;
    if (v->interrupt && v->interrupt(v->interrupt_ctx)) {
        v->interrupted = 1;
        return 1;
    }
    if ((ft__now() - v->last_data) * 1e6 > (double)v->stall_us) {
        v->stalled = 1;
        return 1;
    }
    return 0;
}

/* Why a live wait was aborted ("" when it was not), for messages. */
static const char *live_abort_text(const ft_video *v, char *buf, size_t len)
{
    buf[0] = '\0';
    if (v->interrupted)
        snprintf(buf, len, "interrupted");
    else if (v->stalled)
        snprintf(buf, len, "no data for %.0f s", (double)v->stall_us / 1e6);
    return buf;
}

/* Whether url names a protocol ("rtsp://...", "http://..."), not a path. */
static int has_scheme(const char *url)
{
    size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    return n > 0 && strncmp(url + n, "://", 3) == 0;
}

/* The live reader's URL: as given when it names a protocol, else "file:"
** + the path; ft__malloc'd (NULL: out of memory). */
static char *live_url(const char *url)
{
    return has_scheme(url) ? ft__strdup(url) : ft__video_url(url);
}

/* avformat_open_input of a live URL: live lists, the interrupt callback,
** TCP for RTSP; formats is the caller's list (FT_VIDEO_LIVE_FORMATS is
** added here). */
static int open_live_input(ft_video *v, const char *formats, char *err, size_t errlen)
{
    char *url = live_url(v->path);
    char *fmts = ft__malloc(strlen(formats) + sizeof "," FT_VIDEO_LIVE_FORMATS);
    v->fc = avformat_alloc_context();
    if (!url || !fmts || !v->fc) {
        ft__free(url);
        ft__free(fmts);
        return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", v->path);
    }
    sprintf(fmts, "%s,%s", formats, FT_VIDEO_LIVE_FORMATS);
    v->fc->opaque = &v->sink;
    v->fc->interrupt_callback.callback = live_interrupt;
    v->fc->interrupt_callback.opaque = v;
    AVDictionary *opts = NULL;
    int r = av_dict_set(&opts, "protocol_whitelist", FT_VIDEO_LIVE_PROTOCOLS, 0);
    if (r >= 0) r = av_dict_set(&opts, "format_whitelist", fmts, 0);
    if (r >= 0 && strncmp(url, "rtsp", 4) == 0) r = av_dict_set(&opts, "rtsp_transport", "tcp", 0);
    v->last_data = ft__now();
    if (r >= 0) r = avformat_open_input(&v->fc, url, NULL, &opts);
    av_dict_free(&opts);
    ft__free(url);
    ft__free(fmts);
    if (r >= 0) return FT_OK;
    char ebuf[128], why[64];
    if (*live_abort_text(v, why, sizeof why))
        return ft__errf(err, errlen, FT_EIO, "%s: cannot open: %s", v->path, why);
    ft__video_averr(r, ebuf, sizeof ebuf);
    int status = ft__video_demux_status(r);
    if (status == FT_ENOMEM) return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", v->path);
    if (status == FT_EIO || (r < 0 && r > -4096)) /* an errno: refused, unreachable, EINTR */
        return ft__errf(err, errlen, FT_EIO, "%s: cannot open: %s", v->path, ebuf);
    return ft__errf(err, errlen, FT_EFORMAT, "%s: not a readable video stream (%s)", v->path, ebuf);
}

static int open_input(ft_video *v, const char *formats, char *err, size_t errlen)
{
    if (v->live) return open_live_input(v, formats, err, errlen);
    char *url = ft__video_url(v->path);
    if (!url) return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", v->path);
    v->fc = avformat_alloc_context();
    if (!v->fc) {
        ft__free(url);
        return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", v->path);
    }
    v->fc->opaque = &v->sink; /* the demuxer's error lines count on this reader */
    AVDictionary *opts = NULL;
    int r = av_dict_set(&opts, "protocol_whitelist", "file", 0);
    if (r >= 0) r = av_dict_set(&opts, "format_whitelist", formats, 0);
    if (r >= 0) r = avformat_open_input(&v->fc, url, NULL, &opts);
    av_dict_free(&opts);
    ft__free(url);
    if (r >= 0) return FT_OK;
    char ebuf[128];
    ft__video_averr(r, ebuf, sizeof ebuf);
    int status = ft__video_demux_status(r);
    if (status == FT_EIO)
        return ft__errf(err, errlen, FT_EIO, "%s: cannot open: %s", v->path, ebuf);
    if (status == FT_ENOMEM) return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", v->path);
    if (r == AVERROR(ENOMEM))
        return ft__errf(err, errlen, FT_EFORMAT, "%s: not a readable video file (%s)", v->path,
                        FT__VIDEO_DAMAGED_SIZES);
    if (r == AVERROR(EINVAL)) {
        /* The usual cause: the detected format is not on the whitelist. */
        char name[64];
        probe_format_name(v->path, name, sizeof name);
        if (name[0] && av_match_list(name, formats, ',') <= 0)
            return ft__errf(err, errlen, FT_EFORMAT,
                            "%s: not a video container accepted here (looks like %s)", v->path,
                            name);
    }
    return ft__errf(err, errlen, FT_EFORMAT, "%s: not a readable video file (%s)", v->path, ebuf);
}

/* FT_OK if width x height frames fit max_pixels; else FT_ETOOBIG (or
** FT_EFORMAT for an empty size), message in err. */
static int check_size(const char *path, int width, int height, size_t max_pixels, char *err,
                      size_t errlen)
{
    if (width <= 0 || height <= 0)
        return ft__errf(err, errlen, FT_EFORMAT, "%s: video frames of %dx%d pixels", path, width,
                        height);
    uint64_t pixels = (uint64_t)width * (uint64_t)height;
    if (pixels > (uint64_t)max_pixels)
        return ft__errf(err, errlen, FT_ETOOBIG,
                        "%s: video frames are %dx%d (%llu pixels), over the limit of %llu "
                        "(max_pixels)",
                        path, width, height, (unsigned long long)pixels,
                        (unsigned long long)max_pixels);
    return FT_OK;
}

/* Any video stream whose header size is over the limit: refuse before
** avformat_find_stream_info decodes anything. */
static int check_header_sizes(ft_video *v, char *err, size_t errlen)
{
    for (unsigned i = 0; i < v->fc->nb_streams; i++) {
        const AVCodecParameters *cp = v->fc->streams[i]->codecpar;
        if (cp->codec_type != AVMEDIA_TYPE_VIDEO || cp->width <= 0 || cp->height <= 0) continue;
        int r = check_size(v->path, cp->width, cp->height, v->max_pixels, err, errlen);
        if (r < 0) return r;
    }
    return FT_OK;
}

/* FFmpeg's decoders (those of the probe and ours) refuse any buffer over
** this many pixels, so no frame much over max_pixels is ever allocated; the
** exact limit is ours, checked on the stream and on every frame. Twice the
** limit, and not less than 4 Mpx: decoders check their scratch buffers
** against it too (a 64x48 MPEG-4 frame needs a 192x280 one). */
static int64_t decoder_cap(size_t max_pixels)
{
    uint64_t cap = (uint64_t)max_pixels * 2;
    if (cap / 2 != (uint64_t)max_pixels || cap > (uint64_t)INT64_MAX) return INT64_MAX;
    return cap < (1u << 22) ? (int64_t)1 << 22 : (int64_t)cap;
}

static int find_stream_info(ft_video *v, char *err, size_t errlen)
{
    unsigned n = v->fc->nb_streams;
    AVDictionary **opts = NULL;
    char cap[32];
    snprintf(cap, sizeof cap, "%lld", (long long)decoder_cap(v->max_pixels));
    if (n) {
        opts = ft__calloc(n, sizeof *opts);
        if (!opts) return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", v->path);
        for (unsigned i = 0; i < n; i++) {
            if (av_dict_set(&opts[i], "max_pixels", cap, 0) < 0 ||
                av_dict_set(&opts[i], "threads", "1", 0) < 0) {
                for (unsigned j = 0; j <= i; j++)
                    av_dict_free(&opts[j]);
                ft__free(opts);
                return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", v->path);
            }
        }
    }
    int r = avformat_find_stream_info(v->fc, opts);
    for (unsigned i = 0; i < n; i++)
        av_dict_free(&opts[i]);
    ft__free(opts);
    if (r < 0) {
        char ebuf[128];
        int status = ft__video_demux_status(r);
        if (status == FT_ENOMEM)
            return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", v->path);
        if (v->live && *live_abort_text(v, ebuf, sizeof ebuf))
            return ft__errf(err, errlen, FT_EIO, "%s: cannot read the stream parameters: %s",
                            v->path, ebuf);
        return ft__errf(err, errlen, status, "%s: cannot read the stream parameters: %s", v->path,
                        r == AVERROR(ENOMEM) ? FT__VIDEO_DAMAGED_SIZES
                                             : ft__video_averr(r, ebuf, sizeof ebuf));
    }
    return FT_OK;
}

/* The stream's display matrix as a symmetry of the frame (orient_*), and
** info.rotation / info.mirrored; identity when there is none or it is not a
** multiple of 90 degrees. */
static void read_orientation(ft_video *v)
{
    size_t size = 0;
    const int32_t *m =
        (const int32_t *)av_stream_get_side_data(v->st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (!m || size < 9 * sizeof(int32_t)) return;
    /* 16.16 fixed point: a = m[0], b = m[1], c = m[3], d = m[4]. */
    double a = m[0], b = m[1], c = m[3], d = m[4];
    double diag = fabs(a) + fabs(d), anti = fabs(b) + fabs(c);
    if (anti <= diag * 1e-3 && fabs(a) > 0 && fabs(d) > 0) {
        v->orient_t = 0;
        v->orient_fx = a < 0;
        v->orient_fy = d < 0;
    } else if (diag <= anti * 1e-3 && fabs(b) > 0 && fabs(c) > 0) {
        v->orient_t = 1;
        v->orient_fx = b < 0;
        v->orient_fy = c < 0;
    } else {
        return; /* another angle, or degenerate: frames as coded */
    }
    /* As "turn clockwise, then mirror left-right" (the inverse reading of
    ** the same symmetry): t fx fy -> rotation, mirrored. */
    static const int rot[2][2][2] = { { { 0, 180 }, { 0, 180 } }, { { 90, 90 }, { 270, 270 } } };
    static const int mir[2][2][2] = { { { 0, 1 }, { 1, 0 } }, { { 1, 0 }, { 0, 1 } } };
    v->info.rotation = rot[v->orient_t][v->orient_fx][v->orient_fy];
    v->info.mirrored = mir[v->orient_t][v->orient_fx][v->orient_fy];
}

static void fill_info(ft_video *v)
{
    ft_video_info *in = &v->info;
    const AVStream *st = v->st;
    in->width = st->codecpar->width;
    in->height = st->codecpar->height;
    AVRational fr = st->avg_frame_rate;
    if (fr.num <= 0 || fr.den <= 0) fr = st->r_frame_rate;
    in->fps = (fr.num > 0 && fr.den > 0) ? av_q2d(fr) : 0.0;
    in->duration_us = -1;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        in->duration_us = av_rescale_q(st->duration, st->time_base, AV_TIME_BASE_Q);
    else if (v->fc->duration != AV_NOPTS_VALUE && v->fc->duration > 0)
        in->duration_us = v->fc->duration;
    if (in->duration_us < 0) in->duration_us = -1;
    in->n_frames = -1;
    if (st->nb_frames > 0)
        in->n_frames = st->nb_frames;
    else if (in->duration_us > 0 && in->fps > 0)
        in->n_frames = llround((double)in->duration_us * in->fps / 1e6);
    snprintf(in->codec, sizeof in->codec, "%s", avcodec_get_name(st->codecpar->codec_id));
    first_name(v->fc->iformat->name, in->format, sizeof in->format);
    read_orientation(v);
    if (v->orient_t) {
        int t = in->width;
        in->width = in->height;
        in->height = t;
    }
    v->frame_us = (in->fps > 0.5 && in->fps < 1000) ? llround(1e6 / in->fps) : 40000;
}

/* The best video stream and its decoder into v->sidx, v->st, *codec. */
static int select_stream(ft_video *v, const AVCodec **codec_out, char *err, size_t errlen)
{
    const AVCodec *codec = NULL;
    int idx = av_find_best_stream(v->fc, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (idx == AVERROR_STREAM_NOT_FOUND)
        return ft__errf(err, errlen, FT_EFORMAT, "%s: no video stream", v->path);
    if (idx == AVERROR_DECODER_NOT_FOUND || (idx >= 0 && !codec)) {
        int vi = av_find_best_stream(v->fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        const char *name =
            vi >= 0 ? avcodec_get_name(v->fc->streams[vi]->codecpar->codec_id) : "unknown";
        return ft__errf(err, errlen, FT_EFORMAT, "%s: no decoder for the video codec %s", v->path,
                        name);
    }
    if (idx < 0) {
        char ebuf[128];
        return ft__errf(err, errlen, ft__video_status(idx), "%s: no usable video stream: %s",
                        v->path, ft__video_averr(idx, ebuf, sizeof ebuf));
    }
    v->sidx = idx;
    v->st = v->fc->streams[idx];
    for (unsigned i = 0; i < v->fc->nb_streams; i++)
        if ((int)i != idx) v->fc->streams[i]->discard = AVDISCARD_ALL;
    *codec_out = codec;
    return FT_OK;
}

/* Container, stream parameters, stream, and its size within the limit. */
static int probe(ft_video *v, const char *formats, const AVCodec **codec, char *err, size_t errlen)
{
    int r = open_input(v, formats, err, errlen);
    if (r == FT_OK) r = check_header_sizes(v, err, errlen);
    if (r == FT_OK) r = find_stream_info(v, err, errlen);
    if (r == FT_OK) r = select_stream(v, codec, err, errlen);
    if (r != FT_OK) return r;
    const AVCodecParameters *cp = v->st->codecpar;
    if (cp->width > 0 && cp->height > 0)
        return check_size(v->path, cp->width, cp->height, v->max_pixels, err, errlen);
    /* Only decoding could tell, and it failed: damage, or a size over the
    ** decoder cap (MPEG-4 part 2 in MP4 and header-less streams have their
    ** size in the bitstream only). */
    return ft__errf(err, errlen, FT_EFORMAT,
                    "%s: cannot find the frame size of the video stream (corrupt, or over %lld "
                    "pixels)",
                    v->path, (long long)decoder_cap(v->max_pixels));
}

static int open_decoder(ft_video *v, const AVCodec *codec, int threads, char *err, size_t errlen)
{
    const AVCodecParameters *cp = v->st->codecpar;
    int r;
    v->dec = avcodec_alloc_context3(codec);
    if (!v->dec) return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", v->path);
    r = avcodec_parameters_to_context(v->dec, cp);
    if (r >= 0) {
        v->dec->pkt_timebase = v->st->time_base;
        v->dec->opaque = &v->sink; /* copied into the decoder's thread contexts */
        v->dec->thread_count = threads;
        v->dec->max_pixels = decoder_cap(v->max_pixels);
        r = avcodec_open2(v->dec, codec, NULL);
    }
    if (r < 0) {
        char ebuf[128];
        int status = ft__video_demux_status(r);
        if (status == FT_ENOMEM)
            return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", v->path);
        return ft__errf(
            err, errlen, status, "%s: cannot open the %s decoder: %s", v->path, codec->name,
            r == AVERROR(ENOMEM) ? FT__VIDEO_DAMAGED_SIZES : ft__video_averr(r, ebuf, sizeof ebuf));
    }
    v->pkt = av_packet_alloc();
    v->frame = av_frame_alloc();
    if (!v->pkt || !v->frame) return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", v->path);
    return FT_OK;
}

static int open_reader(const char *path, const ft_video_params *pp, int live, int64_t size,
                       ft_video **out, char *err, size_t errlen);

int ft_video_open(const char *path, const ft_video_params *p, ft_video **out, char *err,
                  size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!out) return ft__errf(err, errlen, FT_EINVAL, "ft_video_open: no output handle");
    *out = NULL;
    if (!path || !*path) return ft__errf(err, errlen, FT_EINVAL, "ft_video_open: no path");
    ft_video_params prm = p ? *p : ft_video_default_params();
    if (prm.max_pixels == 0) prm.max_pixels = FT_IMAGE_DEFAULT_MAX_PIXELS;
    if (prm.threads == 0) prm.threads = 1;
    if (prm.threads < 0 || prm.threads > MAX_THREADS)
        return ft__errf(err, errlen, FT_EINVAL, "%s: threads %d not in 0..%d", path, prm.threads,
                        MAX_THREADS);

    struct stat sb;
    if (stat(path, &sb) != 0)
        return ft__errf(err, errlen, FT_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return ft__errf(err, errlen, FT_EIO, "%s: cannot open: is a directory", path);
    if (!S_ISREG(sb.st_mode)) /* a FIFO would block, a device never end */
        return ft__errf(err, errlen, FT_EIO, "%s: cannot open: not a regular file", path);
    if (sb.st_size == 0)
        return ft__errf(err, errlen, FT_EFORMAT, "%s: empty file, not a video", path);
    return open_reader(path, &prm, 0, (int64_t)sb.st_size, out, err, errlen);
}

int ft_video_open_live(const char *url, const ft_video_params *p, ft_video **out, char *err,
                       size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!out) return ft__errf(err, errlen, FT_EINVAL, "ft_video_open_live: no output handle");
    *out = NULL;
    if (!url || !*url) return ft__errf(err, errlen, FT_EINVAL, "ft_video_open_live: no URL");
    ft_video_params prm = p ? *p : ft_video_default_params();
    if (prm.max_pixels == 0) prm.max_pixels = FT_IMAGE_DEFAULT_MAX_PIXELS;
    if (prm.threads == 0) prm.threads = 1;
    if (prm.stall_us == 0) prm.stall_us = 10000000;
    if (prm.threads < 0 || prm.threads > MAX_THREADS || prm.stall_us < 0)
        return ft__errf(err, errlen, FT_EINVAL, "%s: threads %d not in 0..%d or stall_us < 0", url,
                        prm.threads, MAX_THREADS);
    return open_reader(url, &prm, 1, 0, out, err, errlen);
}

/* The reader of both opens, after their checks: the handle, the probe and
** the decoder. */
static int open_reader(const char *path, const ft_video_params *pp, int live, int64_t size,
                       ft_video **out, char *err, size_t errlen)
{
    ft_video_params prm = *pp;
    const char *formats = prm.formats && *prm.formats ? prm.formats : FT_VIDEO_DEFAULT_FORMATS;
    ft_video *v = ft__calloc(1, sizeof *v);
    if (!v) return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", path);
    v->path = ft__strdup(path);
    if (!v->path) {
        ft__free(v);
        return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", path);
    }
    v->max_pixels = prm.max_pixels;
    v->sws_flags = prm.fast_colour ? SWS_FLAGS_FAST : SWS_FLAGS_EXACT;
    v->file_size = size;
    v->live = live;
    v->interrupt = prm.interrupt;
    v->interrupt_ctx = prm.interrupt_ctx;
    v->stall_us = prm.stall_us;
    v->start_ts = AV_NOPTS_VALUE;
    v->sws_key[0] = -1;
    v->damage_first_us = v->damage_last_us = -1;
    ft__video_sink_register(&v->sink);

    const AVCodec *codec = NULL;
    int r = probe(v, formats, &codec, err, errlen);
    if (r == FT_OK) r = open_decoder(v, codec, prm.threads, err, errlen);
    if (r != FT_OK) {
        ft_video_close(v);
        return r;
    }
    fill_info(v);
    if (v->st->start_time != AV_NOPTS_VALUE) v->start_ts = v->st->start_time;
    *out = v;
    return FT_OK;
}

void ft_video_close(ft_video *v)
{
    if (!v) return;
    sws_freeContext(v->sws);
    av_frame_free(&v->frame);
    av_packet_free(&v->pkt);
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fc);
    ft__video_sink_unregister(&v->sink); /* no context logs for it any more */
    ft_image_destroy(v->img);
    ft_image_destroy(v->coded);
    ft__free(v->path);
    ft__free(v);
}

int ft_video_get_info(const ft_video *v, ft_video_info *out)
{
    if (!v || !out) return FT_EINVAL;
    *out = v->info;
    return FT_OK;
}

const char *ft_video_errmsg(const ft_video *v)
{
    return v ? v->errmsg : "";
}

int ft_video_get_damage(const ft_video *v, ft_video_damage *out)
{
    if (!v || !out) return FT_EINVAL;
    out->n_frames = v->n_damaged;
    out->first_us = v->n_damaged ? v->damage_first_us : -1;
    out->last_us = v->n_damaged ? v->damage_last_us : -1;
    out->n_errors = atomic_load(&((ft_video *)v)->sink.n_errors);
    return FT_OK;
}

/* Timestamp of v->frame in microseconds from the stream start. */
static int64_t frame_time(ft_video *v)
{
    int64_t ts = v->frame->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE) ts = v->frame->pts;
    int64_t us = AV_NOPTS_VALUE, d;
    if (ts != AV_NOPTS_VALUE) {
        if (v->start_ts == AV_NOPTS_VALUE) v->start_ts = ts;
        if (!__builtin_sub_overflow(ts, v->start_ts, &d))
            us = av_rescale_q(d, v->st->time_base, AV_TIME_BASE_Q);
    }
    if (us == AV_NOPTS_VALUE) { /* none, or not representable: previous + one frame */
        if (!v->have_prev || __builtin_add_overflow(v->prev_us, v->frame_us, &us))
            us = v->have_prev ? v->prev_us : 0;
    }
    v->prev_us = us;
    v->have_prev = 1;
    return us;
}

/* At EOF: does the stream's index point past the end of the file (an MP4
** or AVI cut after its index was written)? */
static int index_past_eof(const ft_video *v)
{
    int n = avformat_index_get_entries_count(v->st);
    if (n <= 0) return 0;
    const AVIndexEntry *e = avformat_index_get_entry(v->st, n - 1);
    return e && e->pos >= 0 && e->pos + (int64_t)e->size > v->file_size;
}

/* At EOF of an MP4 / MOV: is there a fragment header of our track (a "tfhd"
** box: type, version and flags, track id) in the bytes after the last packet
** read (the first 16 MiB of them)? Then the demuxer stopped at a broken
** fragment, and the fragments after it are lost. */
static int fragments_unread(const ft_video *v)
{
    if (strcmp(v->info.format, "mov") != 0 || v->read_end <= 0 || v->file_size - v->read_end < 16)
        return 0;
    FILE *f = fopen(v->path, "rb");
    if (!f) return 0;
    int found = 0;
    unsigned char buf[65536 + 11];
    size_t keep = 0;
    int64_t left = (int64_t)16 << 20;
    if (fseeko(f, (off_t)v->read_end, SEEK_SET) == 0) {
        while (!found && left > 0) {
            size_t n = fread(buf + keep, 1, sizeof buf - keep, f);
            if (n == 0) break;
            n += keep;
            for (size_t i = 0; i + 12 <= n; i++)
                if (memcmp(buf + i, "tfhd", 4) == 0) {
                    const unsigned char *id = buf + i + 8;
                    uint32_t track = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 |
                                     (uint32_t)id[2] << 8 | id[3];
                    if ((int64_t)track == (int64_t)v->st->id) {
                        found = 1;
                        break;
                    }
                }
            keep = n < 11 ? n : 11; /* a box header across two reads */
            memmove(buf, buf + n - keep, keep);
            left -= (int64_t)n;
        }
    }
    fclose(f);
    return found;
}

/* Demuxer end: note the damage (if any) and start draining the decoder. */
static void end_of_input(ft_video *v, int averr)
{
    double at = v->have_prev ? (double)v->prev_us / 1e6 : 0.0;
    char why[64];
    if (v->live && averr != AVERROR_EOF) {
        /* a live source: the connection broke, stalled, or was interrupted */
        if (!*live_abort_text(v, why, sizeof why)) ft__video_averr(averr, why, sizeof why);
        v->end_status = fail(v, FT_EIO, "%s: read error after %.3f s: %s", v->path, at, why);
    } else if (v->live) {
        /* end of the stream */
    } else if (averr == AVERROR_EOF && index_past_eof(v)) {
        v->end_status = fail(v, FT_EFORMAT,
                             "%s: truncated: the index lists data past the end of the file "
                             "(%lld bytes); decoded up to %.3f s",
                             v->path, (long long)v->file_size, at);
    } else if (averr == AVERROR_EOF && fragments_unread(v)) {
        v->end_status = fail(v, FT_EFORMAT,
                             "%s: damaged: a broken fragment header after %.1f s; the %lld bytes "
                             "after it could not be read",
                             v->path, at, (long long)(v->file_size - v->read_end));
    } else if (averr != AVERROR_EOF) {
        char ebuf[128];
        ft__video_averr(averr, ebuf, sizeof ebuf);
        int status = ft__video_demux_status(averr);
        if (averr == AVERROR(ENOMEM) && status == FT_EFORMAT)
            snprintf(ebuf, sizeof ebuf, "%s", FT__VIDEO_DAMAGED_SIZES);
        if (status == FT_EIO)
            v->end_status = fail(v, FT_EIO, "%s: read error after %.3f s: %s", v->path, at, ebuf);
        else if (status == FT_ENOMEM)
            v->end_status = fail(v, FT_ENOMEM, "%s: out of memory", v->path);
        else
            v->end_status = fail(v, FT_EFORMAT, "%s: truncated or corrupt data after %.3f s (%s)",
                                 v->path, at, ebuf);
    }
    avcodec_send_packet(v->dec, NULL); /* enter draining; cannot fail but for a bug */
    v->flushed = 1;
}

/* Text for a failure of the file's data: FFmpeg's, but a refused allocation
** is a corrupt size (see ft__video_demux_status). */
static const char *data_error_text(int averr, char *buf, size_t len)
{
    if (averr == AVERROR(ENOMEM)) return FT__VIDEO_DAMAGED_SIZES;
    return ft__video_averr(averr, buf, len);
}

/* n damaged or lost frames between first_us and last_us (stream time). */
static void damage_add(ft_video *v, int64_t n, int64_t first_us, int64_t last_us)
{
    if (n <= 0) return;
    if (v->n_damaged == 0 || first_us < v->damage_first_us) v->damage_first_us = first_us;
    if (v->n_damaged == 0 || last_us > v->damage_last_us) v->damage_last_us = last_us;
    v->n_damaged += n;
}

/* Damage bookkeeping for the frame just decoded at us (past any seek
** target): lost frames in a gap after an error, and the frame itself when
** the decoder flagged it or logged an error since the previous frame. */
static void note_frame(ft_video *v, int64_t us)
{
    const AVFrame *f = v->frame;
    int64_t errors = atomic_load(&v->sink.n_errors);
    int logged = errors > v->errors_seen;
    v->errors_seen = errors;
    if (v->damage_pending && v->have_last_frame && v->frame_us > 0 &&
        us - v->last_frame_us > v->frame_us + v->frame_us / 2) {
        int64_t missing = (us - v->last_frame_us + v->frame_us / 2) / v->frame_us - 1;
        damage_add(v, missing - v->n_refused, v->last_frame_us + v->frame_us, us - v->frame_us);
    }
    int bad = f->decode_error_flags != 0 || (f->flags & AV_FRAME_FLAG_CORRUPT) || logged;
    if (bad) damage_add(v, 1, us, us);
    v->damage_pending = bad;
    v->n_refused = 0;
    v->last_frame_us = us;
    v->have_last_frame = 1;
}

/* A packet (pts in the stream time base, or AV_NOPTS_VALUE) or a frame
** that the decoder refused. */
static void note_refused(ft_video *v, int64_t pts)
{
    if (v->seeking) return; /* before the target: not part of what is read */
    int64_t us = v->have_prev ? v->prev_us : 0, d;
    if (pts != AV_NOPTS_VALUE && v->start_ts != AV_NOPTS_VALUE &&
        !__builtin_sub_overflow(pts, v->start_ts, &d))
        us = av_rescale_q(d, v->st->time_base, AV_TIME_BASE_Q);
    damage_add(v, 1, us, us);
    v->n_refused++;
    v->damage_pending = 1;
}

static int decode_failure(ft_video *v, int averr, int64_t pts)
{
    /* ENOMEM from the decoder is a corrupt size too, unless memory is short */
    if (ft__video_demux_status(averr) == FT_ENOMEM)
        return fail(v, FT_ENOMEM, "%s: out of memory", v->path);
    note_refused(v, pts);
    v->last_averr = averr;
    if (++v->dec_errors <= MAX_DECODE_ERRORS) return FT_OK;
    char ebuf[128];
    return fail(v, FT_EFORMAT, "%s: %d undecodable packets in a row after %.3f s (%s)", v->path,
                v->dec_errors, v->have_prev ? (double)v->prev_us / 1e6 : 0.0,
                data_error_text(averr, ebuf, sizeof ebuf));
}

/* Next decoded frame into v->frame: 1 (and *us), 0 at the end, < 0 error. */
static int decode_next(ft_video *v, int64_t *us)
{
    int retries = 0;
    for (;;) {
        int r = avcodec_receive_frame(v->dec, v->frame);
        if (r >= 0) {
            v->dec_errors = 0;
            v->n_decoded++;
            *us = frame_time(v);
            return 1;
        }
        if (r == AVERROR_EOF) return 0;
        if (r != AVERROR(EAGAIN)) {
            int s = decode_failure(v, r, AV_NOPTS_VALUE);
            if (s < 0) return s;
            continue;
        }
        if (v->flushed) return 0; /* draining never asks for input: defensive */
        r = av_read_frame(v->fc, v->pkt);
        if (r == AVERROR(EAGAIN) && ++retries <= MAX_RETRIES) continue;
        if (r >= 0) v->last_data = ft__now(); /* live: data came, the stall clock restarts */
        if (r < 0) {
            end_of_input(v, r);
            continue;
        }
        retries = 0;
        if (v->pkt->pos >= 0 && v->pkt->pos + v->pkt->size > v->read_end)
            v->read_end = v->pkt->pos + v->pkt->size;
        if (v->pkt->stream_index != v->sidx ||
            (v->seek_need_key && !(v->pkt->flags & AV_PKT_FLAG_KEY))) {
            av_packet_unref(v->pkt);
            continue;
        }
        v->seek_need_key = 0;
        int64_t pkt_pts = v->pkt->pts != AV_NOPTS_VALUE ? v->pkt->pts : v->pkt->dts;
        r = avcodec_send_packet(v->dec, v->pkt);
        av_packet_unref(v->pkt);
        if (r < 0 && r != AVERROR(EAGAIN)) {
            int s = decode_failure(v, r, pkt_pts);
            if (s < 0) return s;
        }
    }
}

/* The deprecated full-range "J" formats as their plain twin (the range is
** passed explicitly): libswscale would otherwise swap the format inside its
** context, log a warning and rebuild the context on every frame. */
static enum AVPixelFormat plain_format(enum AVPixelFormat fmt, int *full)
{
    switch (fmt) {
    case AV_PIX_FMT_YUVJ420P: *full = 1; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full = 1; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full = 1; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full = 1; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full = 1; return AV_PIX_FMT_YUV411P;
    default: return fmt;
    }
}

/* src (coded) -> dst (upright): dst(X, Y) = src(p, q) with (u, w) = (Y, X)
** when transposed, else (X, Y); p = fx ? W-1-u : u; q = fy ? H-1-w : w. */
static void orient_copy(const ft_video *v, const ft_image *src, ft_image *dst)
{
    const int sw = src->width, sh = src->height;
    const uint8_t *s = src->rgb;
    for (int y = 0; y < dst->height; y++) {
        uint8_t *d = dst->rgb + (size_t)y * dst->width * 3;
        /* source of (0, y) and the step for each x (in pixels) */
        ptrdiff_t p0, q0, dp, dq;
        if (v->orient_t) {
            p0 = v->orient_fx ? sw - 1 - y : y, dp = 0;
            q0 = v->orient_fy ? sh - 1 : 0, dq = v->orient_fy ? -1 : 1;
        } else {
            p0 = v->orient_fx ? sw - 1 : 0, dp = v->orient_fx ? -1 : 1;
            q0 = v->orient_fy ? sh - 1 - y : y, dq = 0;
        }
        ptrdiff_t at = (q0 * sw + p0) * 3, step = (dq * sw + dp) * 3;
        for (int x = 0; x < dst->width; x++, at += step) {
            d[3 * x] = s[at];
            d[3 * x + 1] = s[at + 1];
            d[3 * x + 2] = s[at + 2];
        }
    }
}

/* v->frame -> v->img (packed RGB24, upright). */
static int convert(ft_video *v)
{
    const AVFrame *f = v->frame;
    int w = f->width, h = f->height;
    int r = check_size(v->path, w, h, v->max_pixels, v->errmsg, sizeof v->errmsg);
    if (r < 0) return r;
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get((enum AVPixelFormat)f->format);
    if (!desc || (desc->flags & AV_PIX_FMT_FLAG_HWACCEL) ||
        !sws_isSupportedInput((enum AVPixelFormat)f->format))
        return fail(v, FT_EFORMAT, "%s: unsupported pixel format %s", v->path,
                    desc ? desc->name : "(none)");
    int turned = v->orient_t || v->orient_fx || v->orient_fy;
    int dw = v->orient_t ? h : w, dh = v->orient_t ? w : h;
    if (!v->img || v->img->width != dw || v->img->height != dh) {
        ft_image_destroy(v->img);
        v->img = NULL;
        if (ft__image_alloc(dw, dh, &v->img) < 0)
            return fail(v, FT_ENOMEM, "%s: out of memory for a %dx%d frame", v->path, dw, dh);
    }
    if (turned && (!v->coded || v->coded->width != w || v->coded->height != h)) {
        ft_image_destroy(v->coded);
        v->coded = NULL;
        if (ft__image_alloc(w, h, &v->coded) < 0)
            return fail(v, FT_ENOMEM, "%s: out of memory for a %dx%d frame", v->path, w, h);
    }
    int yuv = !(desc->flags & AV_PIX_FMT_FLAG_RGB) && desc->nb_components >= 3;
    int cs = f->colorspace;
    if (cs == AVCOL_SPC_UNSPECIFIED || cs == AVCOL_SPC_RGB || cs == AVCOL_SPC_RESERVED ||
        cs >= AVCOL_SPC_NB)
        cs = ft__video_default_colorspace(w, h);
    int full = f->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat fmt = plain_format((enum AVPixelFormat)f->format, &full);
    int key[5] = { w, h, (int)fmt, yuv ? cs : -1, yuv ? full : -1 };
    if (!v->sws || memcmp(key, v->sws_key, sizeof key) != 0) {
        sws_freeContext(v->sws);
        v->sws_key[0] = -1;
        v->sws = sws_getContext(w, h, fmt, w, h, AV_PIX_FMT_RGB24, v->sws_flags, NULL, NULL, NULL);
        if (!v->sws)
            return fail(v, FT_EFORMAT, "%s: cannot convert %s frames to RGB", v->path, desc->name);
        if (yuv) {
            const int *coef = sws_getCoefficients(cs);
            sws_setColorspaceDetails(v->sws, coef, full, coef, 1, 0, 1 << 16, 1 << 16);
        }
        memcpy(v->sws_key, key, sizeof key);
    }
    uint8_t *dst[4] = { turned ? v->coded->rgb : v->img->rgb, NULL, NULL, NULL };
    int dst_stride[4] = { 3 * w, 0, 0, 0 };
    if (sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, h, dst, dst_stride) != h)
        return fail(v, FT_EFORMAT, "%s: colour conversion of a %dx%d %s frame failed", v->path, w,
                    h, desc->name);
    if (turned) orient_copy(v, v->coded, v->img);
    return FT_OK;
}

int64_t ft_video_sample_next_us(int64_t last_pts_us, double sample_fps)
{
    double need = 1.0; /* every frame: the next timestamp */
    if (sample_fps > 0 && isfinite(sample_fps)) {
        double period = 1e6 / sample_fps;
        need = fmax(1.0, ceil(period - period * 1e-3 - 1.0));
    }
    if (need >= 9.2e18 || (double)last_pts_us + need >= 9.2e18) return INT64_MAX;
    return last_pts_us + (int64_t)need;
}

static int finish(ft_video *v, int status)
{
    v->finished = 1;
    if (status == 0 && v->end_status == 0 && v->n_decoded == 0 && v->last_averr) {
        char ebuf[128];
        v->end_status = fail(v, FT_EFORMAT, "%s: not one frame could be decoded (%s)", v->path,
                             data_error_text(v->last_averr, ebuf, sizeof ebuf));
    }
    v->final_status = status < 0 ? status : v->end_status;
    if (v->final_status == 0) v->errmsg[0] = '\0';
    return v->final_status;
}

static int seek_back(ft_video *v);

int ft_video_read(ft_video *v, double sample_fps, const ft_image **frame, int64_t *pts_us)
{
    if (frame) *frame = NULL;
    if (pts_us) *pts_us = 0;
    if (!v) return FT_EINVAL;
    if (!frame || !pts_us) return fail(v, FT_EINVAL, "%s: ft_video_read: no output", v->path);
    if (!(sample_fps >= 0) || !isfinite(sample_fps))
        return fail(v, FT_EINVAL, "%s: sample_fps %g is not a finite rate >= 0", v->path,
                    sample_fps);
    if (v->finished) return v->final_status;
    v->last_data = ft__now(); /* live: the wait for data starts now */
    for (;;) {
        int64_t us;
        int r = decode_next(v, &us);
        if (r == 0 && v->seeking && !v->seek_got_frame && v->seek_from_us > 0) {
            r = seek_back(v);
            if (r < 0) return r;
            continue;
        }
        if (r <= 0) return finish(v, r);
        if (v->seeking) {
            if (!v->seek_got_frame) {
                v->seek_got_frame = 1;
                if (us > v->seek_us && v->seek_from_us > 0) {
                    r = seek_back(v);
                    if (r < 0) return r;
                    continue;
                }
            }
            if (us < v->seek_us) continue;
            v->seeking = 0;
            v->have_out = 0;
        }
        note_frame(v, us);
        /* A backward jump (us < last) restarts the spacing. */
        if (v->have_out && sample_fps > 0 && us >= v->last_out_us &&
            us < ft_video_sample_next_us(v->last_out_us, sample_fps))
            continue;
        r = convert(v);
        if (r < 0) return finish(v, r);
        v->last_out_us = us;
        v->have_out = 1;
        *frame = v->img;
        *pts_us = us;
        return 1;
    }
}

/* Positions the demuxer at the keyframe at or before from_us (<= 0: the
** start of the stream) and resets the decoding state; the seek target
** (seek_us) is kept. */
static int seek_from(ft_video *v, int64_t from_us)
{
    int64_t start = v->start_ts != AV_NOPTS_VALUE ? v->start_ts : 0;
    int r = -1;
    if (from_us > 0) {
        int64_t rel = av_rescale_q_rnd(from_us, AV_TIME_BASE_Q, v->st->time_base, AV_ROUND_DOWN);
        int64_t ts;
        if (rel == AV_NOPTS_VALUE || __builtin_add_overflow(start, rel, &ts)) ts = INT64_MAX / 2;
        r = av_seek_frame(v->fc, v->sidx, ts, AVSEEK_FLAG_BACKWARD);
    }
    if (r < 0) {
        /* The start (also when there is no keyframe before from_us). MPEG-TS
        ** seeks by DTS, which runs ahead of the PTS start time when frames are
        ** reordered: aim 10 s before it. AVI refuses a time before its first
        ** frame: the start time itself. Raw streams have no time: byte 0. */
        from_us = 0;
        int64_t margin = av_rescale_q(10 * AV_TIME_BASE, AV_TIME_BASE_Q, v->st->time_base);
        int64_t early;
        if (margin > 0 && !__builtin_sub_overflow(start, margin, &early))
            r = av_seek_frame(v->fc, v->sidx, early, AVSEEK_FLAG_BACKWARD);
        if (r < 0) r = av_seek_frame(v->fc, v->sidx, start, AVSEEK_FLAG_BACKWARD);
        if (r < 0) r = av_seek_frame(v->fc, -1, 0, AVSEEK_FLAG_BYTE);
    }
    if (r < 0) {
        char ebuf[128];
        v->seeking = 0;
        v->finished = 1;
        v->final_status = fail(v, FT_EIO, "%s: cannot seek to %.3f s: %s", v->path,
                               (double)v->seek_us / 1e6, ft__video_averr(r, ebuf, sizeof ebuf));
        return v->final_status;
    }
    avcodec_flush_buffers(v->dec);
    v->flushed = 0;
    v->finished = 0;
    v->final_status = 0;
    v->end_status = 0;
    v->dec_errors = 0;
    v->last_averr = 0;
    v->n_decoded = 0;
    v->have_prev = 0;
    v->have_out = 0;
    v->have_last_frame = 0;
    v->damage_pending = 0;
    v->n_refused = 0;
    v->errors_seen = atomic_load(&v->sink.n_errors);
    v->seeking = 1;
    v->seek_from_us = from_us;
    v->seek_got_frame = 0;
    v->seek_need_key = from_us > 0;
    v->errmsg[0] = '\0';
    return FT_OK;
}

/* The seek landed too late: the first frame decoded after it is past the
** target, or none came out (a demuxer without an index, MPEG-TS, can land
** between keyframes; the decoder then drops frames up to the next one).
** Seek again 1, 2, 4 ... s further back, finally from the start. */
static int seek_back(ft_video *v)
{
    v->seek_step_us = v->seek_step_us ? 2 * v->seek_step_us : 1000000;
    int64_t from = v->seek_from_us - v->seek_step_us;
    return seek_from(v, v->seek_step_us > ((int64_t)1 << 50) || from < 0 ? 0 : from);
}

int ft_video_seek(ft_video *v, int64_t pts_us)
{
    if (!v) return FT_EINVAL;
    if (v->live) return fail(v, FT_EIO, "%s: a live stream cannot seek", v->path);
    if (pts_us < 0) pts_us = 0;
    v->seek_us = pts_us;
    v->seek_step_us = 0;
    int r = seek_from(v, pts_us);
    if (r < 0) v->seeking = 0;
    return r;
}
