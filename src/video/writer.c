/*
** video/writer.c: ft_video_writer: RGB frames -> an encoded video file
** (libswscale + libavcodec + libavformat), for tests and the race simulator.
**
** DESIGN
**   open:  the muxer from the extension (.mp4 .m4v .mov .mkv .avi .ts), the
**          encoder by name ("mpeg4" default, "libx264" where built in), time
**          base 1/fps as a rational with a denominator <= 65535 (MPEG-4 part
**          2's limit), YUV 4:2:0 tagged BT.601 or BT.709 by size (the
**          reader's rule for untagged streams), constant quality unless a
**          bitrate is given; the file is created (avio) and the header
**          written. MP4/MOV get "faststart": the index is moved to the front
**          at close, so a copy cut short still opens and yields its frames;
**          or, when asked, fragments (empty moov, a moof per keyframe). A
**          display rotation is stored as the stream's display matrix
**          (av_display_rotation_set takes the clockwise angle as players
**          apply it; a mirror negates the matrix's x column).
**   write: RGB24 -> YUV420P by sws_scale into a frame the encoder does not
**          hold any more (av_frame_make_writable), pts = frame index, then
**          every packet the encoder has ready is muxed.
**   close: flush packet, drain, trailer, close the file, free.
**
** INVARIANTS  (1) w->status is the first failure; after one, write refuses
**                 and close only frees (no trailer on a broken stream).
**             (2) packets reach the muxer with timestamps in the stream's time
**                 base (the muxer may change it at write_header).
** OWNERSHIP   The writer owns its FFmpeg contexts, frame, packet and sws
**             context; the caller's ft_image is only read.
** THREADS     One thread at a time per writer; encoder threads inside calls.
*/
#include "video/video.h"

#include "core/core.h"

#include <math.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#define MAX_SIDE 16384

struct ft_video_writer {
    char *path;
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
    int width, height;
    int64_t n_frames;
    int created; /* the file exists (removed again if open fails) */
    int status;  /* first failure, 0 if none */
    char errmsg[512];
};

static int wfail(ft_video_writer *w, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int wfail(ft_video_writer *w, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->errmsg, sizeof w->errmsg, fmt, ap);
    va_end(ap);
    if (!w->status) w->status = status;
    return status;
}

static int wfail_av(ft_video_writer *w, int averr, const char *what)
{
    char ebuf[128];
    return wfail(w, ft__video_status(averr), "%s: %s: %s", w->path, what,
                 ft__video_averr(averr, ebuf, sizeof ebuf));
}

ft_video_writer_params ft_video_writer_default_params(void)
{
    ft_video_writer_params p = { NULL, 0, 0, 0, 0, NULL, 0, 0, 0, 0 };
    return p;
}

int ft_video_encoder_available(const char *name)
{
    return name && avcodec_find_encoder_by_name(name) != NULL;
}

const char *ft_video_writer_errmsg(const ft_video_writer *w)
{
    return w ? w->errmsg : "";
}

/* libavformat muxer name for the extension of path, or NULL. */
static const char *muxer_for(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return NULL;
    static const char *const map[][2] = {
        { ".mp4", "mp4" },      { ".m4v", "mp4" }, { ".mov", "mov" },
        { ".mkv", "matroska" }, { ".avi", "avi" }, { ".ts", "mpegts" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(dot, map[i][0]) == 0) return map[i][1];
    return NULL;
}

/* Sends frame (NULL: flush) and muxes every packet the encoder has ready. */
static int encode(ft_video_writer *w, AVFrame *frame)
{
    int r = avcodec_send_frame(w->enc, frame);
    if (r < 0) return wfail_av(w, r, "encoding failed");
    for (;;) {
        r = avcodec_receive_packet(w->enc, w->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return FT_OK;
        if (r < 0) return wfail_av(w, r, "encoding failed");
        av_packet_rescale_ts(w->pkt, w->enc->time_base, w->st->time_base);
        w->pkt->stream_index = w->st->index;
        r = av_interleaved_write_frame(w->oc, w->pkt); /* takes the packet's data */
        if (r < 0) return wfail_av(w, r, "cannot write a packet");
    }
}

static int check_args(const char *path, int width, int height, double fps,
                      const ft_video_writer_params *p, char *err, size_t errlen)
{
    if (width <= 0 || height <= 0 || width > MAX_SIDE || height > MAX_SIDE)
        return ft__errf(err, errlen, FT_EINVAL, "%s: frame size %dx%d not in 1..%d", path, width,
                        height, MAX_SIDE);
    if ((width | height) & 1)
        return ft__errf(err, errlen, FT_EINVAL,
                        "%s: frame size %dx%d: 4:2:0 video needs even sides", path, width, height);
    if (!(fps > 0 && fps <= 1000))
        return ft__errf(err, errlen, FT_EINVAL, "%s: fps %g not in (0, 1000]", path, fps);
    if (p->bitrate < 0 || p->quality < 0 || p->gop < 0 || p->max_b_frames < -1 ||
        p->max_b_frames > 16 || p->threads < 0 || p->threads > 64)
        return ft__errf(err, errlen, FT_EINVAL,
                        "%s: bad writer parameters (bitrate %lld, quality %d, gop %d, "
                        "max_b_frames %d, threads %d)",
                        path, (long long)p->bitrate, p->quality, p->gop, p->max_b_frames,
                        p->threads);
    if (p->max_b_frames != 0 && muxer_for(path) && strcmp(muxer_for(path), "avi") == 0)
        return ft__errf(err, errlen, FT_EINVAL,
                        "%s: AVI has no presentation timestamps: B-frames would come back "
                        "shifted (use max_b_frames 0, or .mkv / .mp4)",
                        path);
    if (!muxer_for(path))
        return ft__errf(err, errlen, FT_EINVAL,
                        "%s: unknown video extension (use .mp4, .m4v, .mov, .mkv, .avi or .ts)",
                        path);
    if (p->display_rotation % 90 != 0 || p->display_rotation < 0 || p->display_rotation > 270 ||
        (p->display_mirror != 0 && p->display_mirror != 1) ||
        (p->fragmented != 0 && p->fragmented != 1))
        return ft__errf(err, errlen, FT_EINVAL,
                        "%s: display rotation %d (0, 90, 180 or 270), mirror %d and fragmented "
                        "%d (0 or 1) are not all valid",
                        path, p->display_rotation, p->display_mirror, p->fragmented);
    int mov = strcmp(muxer_for(path), "mp4") == 0 || strcmp(muxer_for(path), "mov") == 0;
    if (!mov && (p->display_rotation || p->display_mirror || p->fragmented))
        return ft__errf(err, errlen, FT_EINVAL,
                        "%s: a display rotation or fragments need .mp4, .m4v or .mov", path);
    return FT_OK;
}

static int setup_encoder(ft_video_writer *w, const AVCodec *codec, double fps,
                         const ft_video_writer_params *p)
{
    int x264 = strcmp(codec->name, "libx264") == 0;
    AVCodecContext *c = w->enc;
    AVRational rate = av_d2q(fps, 65535);
    if (rate.num <= 0 || rate.den <= 0)
        return wfail(w, FT_EINVAL, "%s: fps %g has no usable rational form", w->path, fps);
    c->width = w->width;
    c->height = w->height;
    c->time_base = av_inv_q(rate);
    c->framerate = rate;
    c->sample_aspect_ratio = (AVRational){ 1, 1 };
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->color_range = AVCOL_RANGE_MPEG;
    c->colorspace = (enum AVColorSpace)ft__video_default_colorspace(w->width, w->height);
    if (c->colorspace == AVCOL_SPC_BT709) {
        c->color_primaries = AVCOL_PRI_BT709;
        c->color_trc = AVCOL_TRC_BT709;
    } else {
        c->color_primaries = AVCOL_PRI_SMPTE170M;
        c->color_trc = AVCOL_TRC_SMPTE170M;
    }
    c->gop_size = p->gop ? p->gop : 12;
    if (p->max_b_frames >= 0) c->max_b_frames = p->max_b_frames;
    c->thread_count = p->threads ? p->threads : 1;
    if (w->oc->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (p->quality > (x264 ? 51 : 31))
        return wfail(w, FT_EINVAL, "%s: quality %d over %d for %s", w->path, p->quality,
                     x264 ? 51 : 31, codec->name);
    int r = 0;
    if (p->bitrate > 0) {
        c->bit_rate = p->bitrate;
    } else if (x264) {
        char crf[16];
        snprintf(crf, sizeof crf, "%d", p->quality ? p->quality : 20);
        r = av_opt_set(c->priv_data, "crf", crf, 0);
    } else {
        int q = p->quality ? p->quality : 3;
        c->flags |= AV_CODEC_FLAG_QSCALE;
        c->global_quality = FF_QP2LAMBDA * q;
    }
    if (r >= 0 && x264)
        r = av_opt_set(c->priv_data, "preset", p->preset ? p->preset : "veryfast", 0);
    if (r < 0) return wfail_av(w, r, "bad encoder option");
    r = avcodec_open2(c, codec, NULL);
    if (r < 0) {
        char ebuf[128];
        return wfail(w, r == AVERROR(ENOMEM) ? FT_ENOMEM : FT_EFORMAT,
                     "%s: the %s encoder refuses %dx%d at %g fps: %s", w->path, codec->name,
                     w->width, w->height, fps, ft__video_averr(r, ebuf, sizeof ebuf));
    }
    return FT_OK;
}

static int writer_setup(ft_video_writer *w, double fps, const ft_video_writer_params *p)
{
    const char *cname = p->codec && *p->codec ? p->codec : "mpeg4";
    const AVCodec *codec = avcodec_find_encoder_by_name(cname);
    if (!codec || codec->type != AVMEDIA_TYPE_VIDEO)
        return wfail(w, FT_ENOTFOUND, "%s: no video encoder named %s in this libavcodec", w->path,
                     cname);
    const char *mux = muxer_for(w->path);
    char *url = ft__video_url(w->path);
    if (!url) return wfail(w, FT_ENOMEM, "%s: out of memory", w->path);
    /* The URL is kept in oc->url: faststart reopens the file by it at the end. */
    int r = avformat_alloc_output_context2(&w->oc, NULL, mux, url);
    if (r < 0 || !w->oc) {
        ft__free(url);
        return wfail_av(w, r < 0 ? r : AVERROR(ENOMEM), "no muxer");
    }
    if (avformat_query_codec(w->oc->oformat, codec->id, FF_COMPLIANCE_NORMAL) == 0) {
        ft__free(url);
        return wfail(w, FT_EINVAL, "%s: the %s container cannot hold %s video", w->path, mux,
                     codec->name);
    }
    w->st = avformat_new_stream(w->oc, NULL);
    w->enc = avcodec_alloc_context3(codec);
    w->frame = av_frame_alloc();
    w->pkt = av_packet_alloc();
    if (!w->st || !w->enc || !w->frame || !w->pkt) {
        ft__free(url);
        return wfail(w, FT_ENOMEM, "%s: out of memory", w->path);
    }
    r = setup_encoder(w, codec, fps, p);
    if (r == 0) {
        r = avcodec_parameters_from_context(w->st->codecpar, w->enc);
        if (r < 0) wfail_av(w, r, "stream parameters");
    }
    if (r == 0) { /* created only once everything was accepted */
        r = avio_open(&w->oc->pb, url, AVIO_FLAG_WRITE);
        if (r < 0) {
            char ebuf[128];
            wfail(w, r == AVERROR(ENOMEM) ? FT_ENOMEM : FT_EIO, "%s: cannot create: %s", w->path,
                  ft__video_averr(r, ebuf, sizeof ebuf));
        }
        w->created = r == 0;
    }
    ft__free(url);
    if (r < 0) return w->status;
    w->st->time_base = w->enc->time_base;
    w->st->avg_frame_rate = w->enc->framerate;
    if (p->display_rotation || p->display_mirror) {
        uint8_t *sd =
            av_stream_new_side_data(w->st, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t));
        if (!sd) return wfail(w, FT_ENOMEM, "%s: out of memory", w->path);
        int32_t m[9];
        av_display_rotation_set(m, p->display_rotation);
        av_display_matrix_flip(m, p->display_mirror, 0);
        memcpy(sd, m, sizeof m);
    }

    w->frame->format = w->enc->pix_fmt;
    w->frame->width = w->width;
    w->frame->height = w->height;
    r = av_frame_get_buffer(w->frame, 0);
    if (r < 0) return wfail_av(w, r, "frame buffer");
    w->sws =
        sws_getContext(w->width, w->height, AV_PIX_FMT_RGB24, w->width, w->height, w->enc->pix_fmt,
                       SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, NULL, NULL, NULL);
    if (!w->sws) return wfail(w, FT_ENOMEM, "%s: cannot set up the colour conversion", w->path);
    const int *coef = sws_getCoefficients(w->enc->colorspace);
    sws_setColorspaceDetails(w->sws, coef, 1, coef, 0, 0, 1 << 16, 1 << 16);

    AVDictionary *opts = NULL;
    if (strcmp(mux, "mp4") == 0 || strcmp(mux, "mov") == 0)
        av_dict_set(&opts, "movflags",
                    p->fragmented ? "+frag_keyframe+empty_moov+default_base_moof" : "+faststart",
                    0);
    r = avformat_write_header(w->oc, &opts);
    av_dict_free(&opts);
    if (r < 0) return wfail_av(w, r, "cannot write the header");
    return FT_OK;
}

static void writer_free(ft_video_writer *w)
{
    sws_freeContext(w->sws);
    av_frame_free(&w->frame);
    av_packet_free(&w->pkt);
    avcodec_free_context(&w->enc);
    if (w->oc) {
        if (w->oc->pb) avio_closep(&w->oc->pb);
        avformat_free_context(w->oc);
    }
    ft__free(w->path);
    ft__free(w);
}

int ft_video_writer_open(const char *path, int width, int height, double fps,
                         const ft_video_writer_params *p, ft_video_writer **out, char *err,
                         size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!out) return ft__errf(err, errlen, FT_EINVAL, "ft_video_writer_open: no output handle");
    *out = NULL;
    if (!path || !*path) return ft__errf(err, errlen, FT_EINVAL, "ft_video_writer_open: no path");
    ft__video_log_init();
    ft_video_writer_params prm = p ? *p : ft_video_writer_default_params();
    int r = check_args(path, width, height, fps, &prm, err, errlen);
    if (r < 0) return r;
    ft_video_writer *w = ft__calloc(1, sizeof *w);
    if (!w) return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", path);
    w->path = ft__strdup(path);
    if (!w->path) {
        ft__free(w);
        return ft__errf(err, errlen, FT_ENOMEM, "%s: out of memory", path);
    }
    w->width = width;
    w->height = height;
    r = writer_setup(w, fps, &prm);
    if (r < 0) {
        ft__errf(err, errlen, r, "%s", w->errmsg);
        int created = w->created;
        writer_free(w);
        if (created) unlink(path); /* no half-written header left behind */
        return r;
    }
    *out = w;
    return FT_OK;
}

int ft_video_writer_write(ft_video_writer *w, const ft_image *frame)
{
    if (!w) return FT_EINVAL;
    if (w->status) return w->status;
    if (!frame || !frame->rgb)
        return wfail(w, FT_EINVAL, "%s: ft_video_writer_write: no frame", w->path);
    if (frame->width != w->width || frame->height != w->height)
        return wfail(w, FT_EINVAL, "%s: frame %lld is %dx%d, the video is %dx%d", w->path,
                     (long long)w->n_frames, frame->width, frame->height, w->width, w->height);
    int r = av_frame_make_writable(w->frame);
    if (r < 0) return wfail_av(w, r, "frame buffer");
    const uint8_t *src[4] = { frame->rgb, NULL, NULL, NULL };
    int src_stride[4] = { 3 * frame->width, 0, 0, 0 };
    if (sws_scale(w->sws, src, src_stride, 0, w->height, w->frame->data, w->frame->linesize) !=
        w->height)
        return wfail(w, FT_EFORMAT, "%s: colour conversion failed", w->path);
    w->frame->pts = w->n_frames;
    if (w->enc->flags & AV_CODEC_FLAG_QSCALE) w->frame->quality = w->enc->global_quality;
    r = encode(w, w->frame);
    if (r < 0) return r;
    w->n_frames++;
    return FT_OK;
}

int ft_video_writer_close(ft_video_writer *w, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!w) return FT_OK;
    if (!w->status) encode(w, NULL);
    if (!w->status) {
        int r = av_write_trailer(w->oc);
        if (r < 0) wfail_av(w, r, "cannot write the trailer");
    }
    if (w->oc && w->oc->pb) {
        int r = avio_closep(&w->oc->pb);
        if (r < 0) wfail_av(w, r, "cannot close the file");
    }
    int status = w->status;
    if (status) ft__errf(err, errlen, status, "%s", w->errmsg);
    writer_free(w);
    return status;
}
