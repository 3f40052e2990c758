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
} ft_ingest_progress;

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
    char note[320]; /* an ingest that ran to the end of its video and has no
                                sighting: why, in one line; "" otherwise */
} ft_ingest_report;

/* Runs an ingest (see OVERVIEW). Errors: FT_EINVAL (bad parameters, unknown
** camera, an already finished ingest without force, another video under the
** path of an earlier ingest without force), FT_EIO (another process is
** ingesting the camera; the message names it), FT_EIO / FT_EFORMAT /
** FT_ETOOBIG (the video; what came before the damage is stored and the
** ingest is marked failed), FT_EDB-like store errors (as returned by the
** store), FT_EMODEL, FT_ENOMEM. err gets a one-line message. */
int ft_ingest_run(ft_engine *eng, ft_store *st, const ft_ingest_params *p,
                  ft_ingest_report *out /* OUT */, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
