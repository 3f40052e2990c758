/*
** facetrail/ingest.h: a camera video into sightings (part of facetrail.h).
**
** OVERVIEW
**   ft_ingest_run samples a video's frames, detects and tracks every face,
**   keeps the best shots of each track with their descriptors and a JPEG
**   thumbnail, and stores each finished track as a sighting of the camera,
**   timed on the wall clock (start + stream timestamp).
**
**     ft_ingest_params ip = ft_ingest_default_params();
**     ip.camera_id = "km05"; ip.source = "km05.mp4"; ip.start_us = t0;
**     ft_ingest_report rep;
**     if (ft_ingest_run(eng, st, &ip, &rep, err, sizeof err) != FT_OK) ...
**
** CRASH SAFETY AND RESUME
**   Every commit stores, in one transaction, the sightings finished since the
**   last commit, the last processed frame (the checkpoint) and the tracker's
**   live tracks. An ingest that is killed loses nothing committed; running
**   it again (same camera, video and start) restores the live tracks, seeks
**   to the frame after the checkpoint and goes on: no sighting twice, none
**   lost. The video is known by its content, not its path (size, duration,
**   SHA-256 of its first MiB): a copy or another path of it is the same
**   ingest; another file under the same path is refused unless p->force
**   (ft_store_ingest_begin_content). One ingest per camera runs at a time:
**   a second one fails with FT_EIO and a message naming the running one.
**   A corrupt or truncated video ends the ingest with an error and keeps
**   everything stored up to the damage.
**
** LIVE SOURCES  (p->live = 1)
**   source is a URL that FFmpeg opens (rtsp://, http(s):// serving MPEG-TS,
**   MJPEG or HLS, ...) or a path read as a stream (a FIFO, a device; a
**   plain file is read once, at the speed of the wall clock). The ingest
**   runs until p->stop or the progress callback asks to stop, or until a
**   plain file ends; everything else is a lost stream.
**     Time: a frame's time is the wall clock (CLOCK_REALTIME) when it was
**   read, less the time it waited in buffers as the stream's own clock
**   shows it: the ingest keeps the offset "read time - stream time" at its
**   smallest since the connection (the fastest any frame came) and times
**   each frame offset + stream time, so a frame read late is dated when it
**   arrived, not when it was read. Absolute clocks carried by streams
**   (RTCP sender reports) are not used. The wall clock is read again at
**   each connection (the monotonic clock in between).
**     Lag and drops: frames are sampled at sample_fps of stream time (as
**   from a file), and a sampled frame is dropped, counted, not analysed,
**   when it is more than max_lag_s behind (processing slower than real
**   time) or when more than sample_fps frames a second would be analysed
**   by the wall clock (a source faster than real time: a file pushed into
**   a FIFO at full speed; a burst of max_lag_s worth of frames, at least
**   2, is taken whole, so a real-time source whose frames arrive unevenly
**   loses none). Frames are never
**   queued: the reader decodes and throws away what it cannot analyse in
**   time.
**     Loss: a read error, the end of a network stream or a FIFO, no data
**   for 10 s, or a failed open (the first one too) is a lost stream: the
**   live tracks are finished and committed, the source is reopened after
**   0.5 s, 1 s, 2 s ... up to 30 s (back to 0.5 s after a connection that
**   gave frames). p->on_live hears each change (connected, lost and why,
**   reconnecting in N s, ended). p->stop is polled during every wait
**   (connecting, reading, backoff): a stop is prompt.
**     Commits: a finished track is committed within about 0.5 s of its end
**   (and the ingest's counters every commit_every_s of wall time), so a
**   search sees it at once; a stop or a loss finishes and commits the live
**   tracks. Committed sightings survive a crash as a file ingest's do, but
**   a live ingest is never resumed: each run is an ingest of its own
**   (source = the URL, start = the wall clock when it began), and a run
**   after a crash simply goes on live; the crashed run's open tracks are
**   lost and its ingest stays 'running' in the store. A stopped or ended
**   run is marked done.
**
**     ip.live = 1; ip.source = "rtsp://10.0.0.5/stream1"; ip.stop = my_stop;
**
** THREADS  One ingest per engine and store handle at a time.
*/
#ifndef FACETRAIL_INGEST_H
#define FACETRAIL_INGEST_H

#include "facetrail.h"
#include "facetrail/store.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ft_ingest_progress {
    int64_t frames;      /* sampled frames processed so far (this run) */
    int64_t faces;       /* faces detected in them */
    int64_t tracks_open; /* tracks still live */
    int64_t sightings;   /* sightings stored (this run) */
    int64_t pts_us;      /* stream time of the last frame */
    int64_t duration_us; /* stream duration, -1 if unknown */
    double elapsed_s;    /* wall time of this run */
    /* live ingests (0 for a file): */
    int64_t frames_read;    /* frames sampled from the stream (analysed + dropped) */
    int64_t frames_dropped; /* sampled but not analysed: late or too early */
    double lag_s;           /* how far the last frame was behind the stream */
} ft_ingest_progress;

/* A live ingest's connection changes (ft_ingest_params.on_live). */
enum ft_ingest_live_state {
    FT_INGEST_LIVE_CONNECTED = 1, /* the source opened; text: its format and size */
    FT_INGEST_LIVE_LOST = 2,      /* read error, end, stall, or an open that failed;
                                     text: why */
    FT_INGEST_LIVE_RETRY = 3,     /* reconnecting in retry_in_s seconds */
    FT_INGEST_LIVE_ENDED = 4,     /* a plain file came to its end: the ingest ends */
};

typedef struct ft_ingest_live_event {
    int state;          /* enum ft_ingest_live_state */
    const char *text;   /* one line without the source or a newline (borrowed) */
    double retry_in_s;  /* FT_INGEST_LIVE_RETRY: the wait */
    int64_t n_connects; /* successful connections so far */
} ft_ingest_live_event;

typedef void (*ft_ingest_live_fn)(const ft_ingest_live_event *e, void *ctx);

/* A track still in view, as the sighting it would become if it ended now
** (ft_ingest_params.on_track): id 0, camera, track_key (the key its
** sighting will have), first_us .. last_us (last_us: the frame just
** analysed), the best shot's box and thumbnail, and the descriptors of the
** kept shots so far. Borrowed for the call. */
typedef void (*ft_ingest_track_fn)(const ft_sighting *s, void *ctx);

/* Called after every processed frame; a non-zero return stops the ingest
** cleanly (everything so far is committed; status FT_ECANCELED is not used:
** the ingest stays resumable and ft_ingest_run returns FT_OK with
** report.stopped = 1). */
typedef int (*ft_ingest_progress_fn)(const ft_ingest_progress *p, void *ctx);

typedef struct ft_ingest_params {
    const char *camera_id;   /* a camera of the store */
    const char *source;      /* the video file */
    int64_t start_us;        /* wall clock of stream time 0 (microseconds, UTC) */
    double sample_fps;       /* frames per second looked at; default 5 */
    ft_detect_params detect; /* detect settings; default ft_detect_default_params()
                                (YuNet on the whole frame, dlib's descriptor). The
                                event keeps one descriptor space
                                (ft_descriptor_space): an ingest that would make
                                another is refused with FT_EINVAL */
    int n_desc;              /* descriptors kept per sighting, 1..3; default 3 */
    double commit_every_s;   /* stream seconds between commits; default 5 */
    int force;               /* 1: redo a finished ingest from scratch */
    int video_threads;       /* decoder threads; default 1 */
    ft_ingest_progress_fn progress;
    void *progress_ctx;
    /* live sources (LIVE SOURCES above); start_us and force are not used */
    int live;               /* 1: source is a live URL or stream path */
    double max_lag_s;       /* drop sampled frames more than this behind; default 2 */
    int (*stop)(void *ctx); /* polled during every wait; non-zero stops the ingest as
                                the progress callback does. NULL: only progress stops */
    void *stop_ctx;
    ft_ingest_live_fn on_live; /* connection changes; NULL: none */
    void *live_ctx;
    /* early looks (watchlists): called from the ingest's thread when a
       confirmed track gains a better described shot (the first time as
       soon as the track is confirmed and has a descriptor), long before it
       ends and is stored. NULL: none */
    ft_ingest_track_fn on_track;
    void *track_ctx;
} ft_ingest_params;

ft_ingest_params ft_ingest_default_params(void);

typedef struct ft_ingest_report {
    int64_t ingest_id;
    int64_t resumed_from_us;          /* -1 for a fresh ingest */
    int64_t frames, faces, sightings; /* this run */
    int64_t video_us;                 /* stream time covered by this run */
    double elapsed_s;
    int stopped;                             /* the progress callback asked to stop */
    int64_t damaged_frames;                  /* frames of the video that were damaged or lost in
                                this run (ft_video_get_damage): faces there are
                                missing */
    int64_t damage_first_us, damage_last_us; /* their stream time; -1 if none */
    char note[320];                      /* an ingest that ran to the end of its video and has no
                                sighting: why, in one line; "" otherwise */
    int64_t frames_read, frames_dropped; /* live: sampled frames, and those not
                                            analysed (frames = analysed) */
    int64_t n_connects;                  /* live: successful connections */
} ft_ingest_report;

/* Runs an ingest (see OVERVIEW). Errors: FT_EINVAL (bad parameters, unknown
** camera, an already finished ingest without force, another video under the
** path of an earlier ingest without force), FT_EIO (another process is
** ingesting the camera; the message names it), FT_EIO / FT_EFORMAT /
** FT_ETOOBIG (the video; what came before the damage is stored and the
** ingest is marked failed), FT_EDB-like store errors (as returned by the
** store), FT_EMODEL, FT_ENOMEM. err gets a one-line message.
** Live (p->live): FT_OK when stopped (report.stopped) or when a plain file
** ended; a source that cannot be opened or is lost is retried, never an
** error; errors are those of the store, the models and memory. */
int ft_ingest_run(ft_engine *eng, ft_store *st, const ft_ingest_params *p,
                  ft_ingest_report *out /* OUT */, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
