/*
** tools/cmd_ingest.c: `facetrail ingest`, a camera video into sightings.
**
** A progress bar on stderr when it is a terminal (frames, faces, speed as a
** multiple of real time, ETA); one summary line at the end either way.
** Ctrl-C stops cleanly: what is done is committed and a rerun resumes; the
** exit status is then 128 + the signal (130 for SIGINT, 143 for SIGTERM), as
** shells expect, so that a script's loop does not take a stopped ingest for
** a finished one.
**
** --live URL reads a camera's stream instead (ft_ingest_params.live): no
** --start (frames are timed by the wall clock), one stderr line per
** connection change, the progress line counts frames read, analysed and
** dropped, and it runs until Ctrl-C / SIGTERM (or a plain file's end).
** SIGINT and SIGTERM are installed without SA_RESTART there, so that a
** blocking open (a FIFO waiting for its writer) returns at once.
*/
#include "cli.h"

#include "facetrail/ingest.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char ingest_usage[] =
    "usage: facetrail ingest --db DB --camera ID --start TIME [options] VIDEO\n"
    "       facetrail ingest --db DB --camera ID --live URL [options]\n"
    "\n"
    "Finds, tracks and stores every face a camera's video shows: each face\n"
    "track becomes a sighting (camera, first/last time, best shot, thumbnail,\n"
    "descriptors). Frame time = TIME + the video's own timestamp.\n"
    "An interrupted ingest (Ctrl-C, a crash, a power cut) resumes where it\n"
    "stopped when run again with the same DB, camera, start and video.\n"
    "\n"
    "--live URL reads a live stream until Ctrl-C or SIGTERM: URL is anything\n"
    "FFmpeg opens (rtsp://, http(s):// serving MPEG-TS, MJPEG or HLS) or a path\n"
    "read as a stream (a FIFO; a plain file is read once and ends). A frame's\n"
    "time is the wall clock when it arrived (CLOCK_REALTIME at the read, less\n"
    "the time it waited in buffers by the stream's own clock; clocks carried\n"
    "in the stream, RTCP's, are not used). A stream that cannot be opened (the\n"
    "first try too), breaks, ends or sends nothing for 10 s is reopened after\n"
    "0.5 s, 1 s, 2 s ... up to 30 s, each change told on stderr; the tracks open\n"
    "when it was lost are stored. Frames sampled at --fps that cannot be\n"
    "analysed within --max-lag seconds (or come faster than real time) are\n"
    "dropped, not queued, and counted. A finished track is stored within about\n"
    "a second. A live ingest is not resumed: after a restart it goes on live.\n"
    "\n"
    "options:\n"
    "  --db DB               the event database (created if missing)\n"
    "  --camera ID           the camera that recorded VIDEO ('facetrail camera add')\n"
    "  --start TIME          wall-clock time of the video's start, ISO 8601\n"
    "                        (2026-04-12T09:30:00Z or 2026-04-12T11:30:00+02:00;\n"
    "                        without an offset: in the event's zone, see --tz)\n"
    "  --tz ZONE             zone for a --start without an offset (default: the\n"
    "                        event's, set by 'camera add --tz', else the system's)\n"
    "  --live URL            a live stream instead of a VIDEO (no --start)\n"
    "  --max-lag S           live: drop frames more than S seconds behind (default 2;\n"
    "                        HLS delivers whole segments: use more than one segment)\n"
    "  --fps N               frames looked at per second of video (default 5)\n"
    "  --detector yunet|ssd|tiny  face detector (default yunet)\n" PIPELINE_OPTIONS_HELP
    "                        (ingest: --tile 512 when the detector is ssd or tiny)\n"
    "  --force               redo a video that was already ingested\n"
    "  --models DIR          model folder (default $FT_MODEL_DIR, else " DEFAULT_MODEL_DIR ")\n"
    "  --threads N           worker threads (default 1: run one ingest per camera, and\n"
    "                        as many ingests at once as there are cores)\n"
    "  --quiet               no progress bar\n"
    "  -h, --help            this text\n"
    "\n"
    "exit status: 0 done, 2 error, 130 stopped by Ctrl-C (SIGINT), 143 stopped by\n"
    "SIGTERM: what was done is kept, and the same command resumes it (live: goes\n"
    "on live)\n";

static volatile sig_atomic_t interrupted; /* the signal that asked to stop, 0 if none */

static void on_sigint(int sig)
{
    interrupted = sig;
}

typedef struct bar {
    int tty;
    double last_draw;
    const char *source; /* live: the URL, for its lines */
} bar;

/* The live ingest's polled stop: a signal came. */
static int stop_requested(void *ctx)
{
    (void)ctx;
    return interrupted != 0;
}

/* A live stream's connection change, one line on stderr. */
static void on_live(const ft_ingest_live_event *e, void *ctx)
{
    bar *b = ctx;
    fprintf(stderr, "%sfacetrail ingest: %s: %s\n", b->tty ? "\r\033[K" : "", b->source, e->text);
}

/* The live progress line: frames read, analysed and dropped, and the lag. */
static int live_progress(const ft_ingest_progress *p, void *ctx)
{
    bar *b = ctx;
    if (b->tty && (p->elapsed_s - b->last_draw >= 0.2 || interrupted)) {
        b->last_draw = p->elapsed_s;
        fprintf(stderr,
                "\r%lld frames read, %lld analysed, %lld dropped  %lld faces  %lld tracks  "
                "%lld sightings  lag %.1f s ",
                (long long)p->frames_read, (long long)p->frames, (long long)p->frames_dropped,
                (long long)p->faces, (long long)p->tracks_open, (long long)p->sightings, p->lag_s);
    }
    return interrupted ? 1 : 0;
}

static int progress(const ft_ingest_progress *p, void *ctx)
{
    bar *b = ctx;
    if (b->tty && (p->elapsed_s - b->last_draw >= 0.2 || interrupted)) {
        b->last_draw = p->elapsed_s;
        double done = p->duration_us > 0 ? (double)p->pts_us / p->duration_us : 0;
        if (done > 1) done = 1;
        double speed = p->elapsed_s > 0 ? p->pts_us / 1e6 / p->elapsed_s : 0;
        char bars[21];
        int k = (int)(done * 20);
        for (int i = 0; i < 20; i++)
            bars[i] = i < k ? '#' : '.';
        bars[20] = 0;
        double eta =
            speed > 0 && p->duration_us > 0 ? (p->duration_us - p->pts_us) / 1e6 / speed : 0;
        fprintf(stderr,
                "\r[%s] %3.0f%%  %lld frames  %lld faces  %lld tracks  %lld sightings  %.2fx "
                "real time  ETA %d:%02d ",
                bars, done * 100, (long long)p->frames, (long long)p->faces,
                (long long)p->tracks_open, (long long)p->sightings, speed, (int)(eta / 60),
                (int)eta % 60);
    }
    return interrupted ? 1 : 0;
}

/* `ingest --live URL`: checks, then ft_ingest_run in live mode until a
** signal; the summary counts frames read, analysed and dropped. */
static int ingest_live(struct opts *o, const char *db, const char *url, ft_engine_params *ep,
                       ft_ingest_params *ip, int tile_set, int quiet, const char *start,
                       const char *tz)
{
    if (o->n_operands > 0)
        return usage_error(o->cmd, "--live URL and a VIDEO operand: give one source");
    if (start)
        return usage_error(o->cmd, "--start is for a recorded VIDEO: a live stream is timed by "
                                   "the wall clock");
    if (tz) return usage_error(o->cmd, "--tz is for --start: a live stream has no --start");
    if (ip->force)
        return usage_error(o->cmd, "--force is for a VIDEO: a live ingest never resumes");
    if (!*url) return usage_error(o->cmd, "--live: empty URL");
    if (!db) return usage_error(o->cmd, "missing --db DB");
    if (!ip->camera_id) return usage_error(o->cmd, "missing --camera ID");
    ip->detect.min_score = ft_detector_default_score(ip->detect.detector);
    if (!tile_set && ip->detect.detector != FT_DETECTOR_YUNET) ip->detect.tile_px = 512;
    ip->source = url;
    ft_store *st;
    if (ft_store_open(db, FT_STORE_CREATE, &st) != FT_OK) {
        fprintf(stderr, "facetrail ingest: %s\n", ft_store_errmsg(NULL));
        return CLI_ERROR;
    }
    ft_camera cam; /* an unknown camera before the models load */
    if (ft_store_camera_get(st, ip->camera_id, &cam) != FT_OK) {
        fprintf(stderr, "facetrail ingest: camera %s: %s (add it with 'facetrail camera add')\n",
                ip->camera_id, ft_store_errmsg(st));
        ft_store_close(st);
        return CLI_ERROR;
    }
    ft_engine *eng = NULL;
    if (start_engine(o->cmd, ep, &ip->detect, &eng) != CLI_OK) {
        ft_store_close(st);
        return CLI_ERROR;
    }
    bar b = { !quiet && isatty(2), -1, url };
    ip->progress = live_progress;
    ip->progress_ctx = &b;
    ip->stop = stop_requested;
    ip->on_live = on_live;
    ip->live_ctx = &b;
    struct sigaction sa; /* no SA_RESTART: a blocking open or read returns */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    ft_ingest_report rep;
    char err[600];
    int rc = ft_ingest_run(eng, st, ip, &rep, err, sizeof err);
    if (b.tty) fputs("\r\033[K", stderr);
    if (rc != FT_OK) fprintf(stderr, "facetrail ingest: %s\n", *err ? err : ft_strerror(rc));
    if (rep.ingest_id)
        printf("%s %s: %lld frames read, %lld analysed, %lld dropped; %lld faces, %lld sightings "
               "stored in %.1f s (%lld connection%s)\n",
               rc != FT_OK ? "failed" : (rep.stopped ? "stopped" : "ended"), url,
               (long long)rep.frames_read, (long long)rep.frames, (long long)rep.frames_dropped,
               (long long)rep.faces, (long long)rep.sightings, rep.elapsed_s,
               (long long)rep.n_connects, rep.n_connects == 1 ? "" : "s");
    ft_engine_close(eng);
    ft_store_close(st);
    if (rc != FT_OK) return CLI_ERROR;
    if (rep.stopped && interrupted) return 128 + interrupted;
    return CLI_OK;
}

int cmd_ingest(int argc, char **argv)
{
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = default_model_dir();
    ep.n_threads = 1; /* one ingest per camera, one per core, scales best */
    ft_ingest_params ip = ft_ingest_default_params();
    const char *db = NULL, *start = NULL, *tz = NULL, *url = NULL;
    int quiet = 0, tile_set = 0;
    double x;
    struct opts o;
    opts_init(&o, argc, argv);
    while (opts_next(&o)) {
        if (opts_is(&o, "--tile")) tile_set = 1;
        int r = opts_engine(&o, &ep);
        if (r == 0) r = opts_pipeline(&o, &ip.detect);
        if (r < 0) return CLI_ERROR;
        if (r > 0) continue;
        if (opts_is_help(&o)) return print_help(ingest_usage);
        if (opts_is(&o, "--db")) {
            if (!(db = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--camera")) {
            if (!(ip.camera_id = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--start")) {
            if (!(start = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--tz")) {
            if (!(tz = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--live")) {
            if (!(url = opts_value(&o))) return CLI_ERROR;
            ip.live = 1;
        } else if (opts_is(&o, "--max-lag")) {
            if (opts_double(&o, 0, 3600, 1, "a lag in (0, 3600] seconds", &x)) return CLI_ERROR;
            ip.max_lag_s = x;
        } else if (opts_is(&o, "--fps")) {
            if (opts_double(&o, 0, 120, 1, "a rate in (0, 120] frames per second", &x))
                return CLI_ERROR;
            ip.sample_fps = x;
        } else if (opts_is(&o, "--detector")) {
            if (opts_detector(&o, &ip.detect.detector)) return CLI_ERROR;
        } else if (opts_is(&o, "--force")) {
            if (opts_flag(&o)) return CLI_ERROR;
            ip.force = 1;
        } else if (opts_is(&o, "--quiet")) {
            if (opts_flag(&o)) return CLI_ERROR;
            quiet = 1;
        } else {
            return opts_unknown(&o);
        }
    }
    if (url) return ingest_live(&o, db, url, &ep, &ip, tile_set, quiet, start, tz);
    if (o.n_operands == 0) return usage_error(o.cmd, "missing VIDEO operand (or --live URL)");
    if (o.n_operands > 1) return usage_error(o.cmd, "one VIDEO at a time (got %d)", o.n_operands);
    if (!db) return usage_error(o.cmd, "missing --db DB");
    if (!ip.camera_id) return usage_error(o.cmd, "missing --camera ID");
    if (!start) return usage_error(o.cmd, "missing --start TIME");
    /* YuNet sees small faces in the whole frame; face-api's detectors need tiles */
    ip.detect.min_score = ft_detector_default_score(ip.detect.detector);
    if (!tile_set && ip.detect.detector != FT_DETECTOR_YUNET) ip.detect.tile_px = 512;
    char zone[FT_TIME_ZONE_MAX];
    if (tz && event_zone(o.cmd, NULL, tz, zone, sizeof zone) != CLI_OK) return CLI_ERROR;
    /* a malformed time is refused before the database is created */
    if (parse_time_arg(o.cmd, "--start", start, "UTC", 1, &ip.start_us) != CLI_OK) return CLI_ERROR;
    ip.source = argv[1];

    ft_store *st;
    if (ft_store_open(db, FT_STORE_CREATE, &st) != FT_OK) {
        fprintf(stderr, "facetrail ingest: %s\n", ft_store_errmsg(NULL));
        return CLI_ERROR;
    }
    /* a --start without an offset is read in the event's zone (its meta,
    ** else the system's), and a note says how it was read */
    if (event_zone(o.cmd, st, tz, zone, sizeof zone) != CLI_OK ||
        parse_time_arg(o.cmd, "--start", start, zone, 0, &ip.start_us) != CLI_OK) {
        ft_store_close(st);
        return CLI_ERROR;
    }
    ft_engine *eng = NULL;
    if (start_engine(o.cmd, &ep, &ip.detect, &eng) != CLI_OK) {
        ft_store_close(st);
        return CLI_ERROR;
    }
    bar b = { !quiet && isatty(2), -1, NULL };
    ip.progress = progress;
    ip.progress_ctx = &b;
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    ft_ingest_report rep;
    char err[600];
    int rc = ft_ingest_run(eng, st, &ip, &rep, err, sizeof err);
    if (b.tty) fputc('\n', stderr);
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail ingest: %s\n", *err ? err : ft_strerror(rc));
    }
    /* a clip damaged in the middle: one line, however many errors FFmpeg saw */
    char damaged[120] = "";
    if (rep.damaged_frames > 0) {
        fprintf(stderr,
                "warning: %s is damaged: %lld frame%s between %.1f s and %.1f s could not be "
                "decoded; faces there are missing\n",
                ip.source, (long long)rep.damaged_frames, rep.damaged_frames == 1 ? "" : "s",
                rep.damage_first_us / 1e6, rep.damage_last_us / 1e6);
        snprintf(damaged, sizeof damaged, "; %lld damaged frame%s (%.1f s to %.1f s)",
                 (long long)rep.damaged_frames, rep.damaged_frames == 1 ? "" : "s",
                 rep.damage_first_us / 1e6, rep.damage_last_us / 1e6);
    }
    if (rep.ingest_id) {
        double speed = rep.elapsed_s > 0 ? rep.video_us / 1e6 / rep.elapsed_s : 0;
        char resumed[80] = "";
        if (rep.resumed_from_us >= 0)
            snprintf(resumed, sizeof resumed, ", resumed at %.1f s", rep.resumed_from_us / 1e6);
        printf("%s %s: %lld frames, %lld faces, %lld sightings stored in %.1f s (%.2fx real "
               "time%s)%s%s\n",
               rc == FT_OK ? (rep.stopped ? "stopped" : "ingested") : "failed", ip.source,
               (long long)rep.frames, (long long)rep.faces, (long long)rep.sightings, rep.elapsed_s,
               speed, resumed, damaged, rep.stopped ? "; run the same command again to go on" : "");
        if (rep.note[0]) printf("%s\n", rep.note);
    }
    ft_engine_close(eng);
    ft_store_close(st);
    if (rc != FT_OK) return CLI_ERROR;
    /* stopped by a signal: committed and resumable, but not done */
    if (rep.stopped && interrupted) return 128 + interrupted;
    return CLI_OK;
}
