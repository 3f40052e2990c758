/*
** pipeline/ingest.c: a camera video into sightings in the store.
**
** DESIGN
**   Per sampled frame (video/ at sample_fps):
**     detect   faces with landmarks, no descriptors (engine, small-face mode);
**              the whole frame always, a small-face tile only where the
**              picture moves (pipeline/motion.c), where a live track is
**              expected, or on every REFRESH_FRAMES-th frame (people who
**              stand still): a fixed camera mostly films a still scene
**     quality  of each face (track/quality.c)
**     track    ambiguous detections (several candidate tracks) are described
**              first, so that the tracker can tell crossing runners apart
**     shots    each track keeps its best FT__TRACK_SHOTS shots by quality;
**              only a shot that enters that set is described and thumbnailed,
**              so the descriptor net runs a few times per track, not per frame
**   Finished tracks become sightings (best shot box, times on the wall clock,
**   the kept shots' descriptors, the best shot's thumbnail). Every
**   commit_every_s of stream time, and at the end, the finished sightings,
**   the checkpoint (pts of the last processed frame) and the tracker's live
**   tracks go to the store in one transaction.
**
**   Resume: the store hands back the checkpoint and the live tracks of the
**   last commit; the video is seeked to the first frame the sampler would
**   have taken after the checkpoint, and the tracker continues from the saved
**   tracks: the result equals an uninterrupted run (keys are deterministic
**   and the store ignores a sighting it already has). The run is found again
**   by the video's content (content_of: size, duration, SHA-256 of the first
**   MiB), so a copy or another path of the file resumes it, and a different
**   file under the same path is refused by the store.
**
**   A run that reaches the end of its video with no sighting stored says
**   why in report.note (why_no_sightings), in seconds and --fps.
**
**   Live (run_live): the same per-frame work on a stream that is opened,
**   read, lost and reopened until a stop. Times are microseconds of the
**   monotonic clock since the run began (the tracker's clock); start_us,
**   the wall clock of that origin, is read again at each connection. Per
**   sampled frame at monotonic time w and stream time pts:
**     offset = min(offset, w - pts)   (reset at a connection and when pts
**                                      goes back)
**     lag    = w - pts - offset       (>= 0: time spent in buffers)
**     t      = offset + pts           (= w - lag: when it arrived)
**   drop when lag > max_lag, or when the rate budget is spent (a token
**   bucket on the monotonic clock: sample_fps tokens a second, one per
**   analysed frame, full at the start and holding max_lag_s worth of frames
**   (at least LIVE_BURST): a source faster than real time is cut to
**   sample_fps frames a second, while a real-time source whose frames come
**   unevenly, in bursts no longer than max_lag_s, loses none; the frames
**   the opening held back while FFmpeg probed the stream, sample_fps x the
**   time the open took, are a one-time credit beyond it); else analyse
**   at t.
**   t never goes back (offset only shrinks, and a reset sets t = w), so
**   checkpoints and tracks stay ordered.
**
**     connecting --ok--> reading --read error / end / stall--> lost
**         ^   \--fail--> lost                                   |
**         |                 (flush tracks, commit)               |
**         +---- backoff 0.5 s .. 30 s (stop polled) <-----------+
**     a stop in any state: flush, commit, done. A plain file's end: done.
**
** INVARIANTS  (1) a sighting is stored only once its track has finished (or
**                 the video ended): stored sightings never change.
**             (2) nothing is committed beyond the last frame fully processed.
**             (3) on a video error the work before it is committed and the
**                 ingest is marked failed (resumable: a rerun continues).
** THREADS     One ingest per engine and store at a time.
*/
#include "facetrail/ingest.h"
#include "engine/engine.h"
#include "facetrail/video.h"
#include "pipeline/motion.h"
#include "track/track.h"

#include <libavutil/hash.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define THUMB_PX       96 /* thumbnail side */
#define REFRESH_FRAMES 10 /* every tile is looked at this often, moving or not */

ft_ingest_params ft_ingest_default_params(void)
{
    ft_ingest_params p;
    memset(&p, 0, sizeof p);
    p.sample_fps = 5.0;
    p.detect = ft_detect_default_params(); /* YuNet at full resolution: no tiles */
    p.n_desc = 3;
    p.commit_every_s = 5.0;
    p.video_threads = 1;
    p.max_lag_s = 2.0;
    return p;
}

typedef struct ingest {
    ft_engine *eng;
    ft_store *st;
    const ft_ingest_params *p;
    ft__tracker *tr;
    ft_face *faces;
    int faces_cap;
    ft__track_det *dets;
    float (*descs)[128];
    int *has_desc, *ambiguous, *assign;
    int *fresh; /* det i gave its track a new described shot this frame */
    int dets_cap;
    ft_sighting *pending;
    int n_pending, cap_pending;
    ft__motion motion;
    int64_t frame_no;
    int tiles_run, tiles_total;
    int64_t tracks_undescribed; /* finished tracks without a descriptor (not stored) */
    int64_t start_us;           /* wall clock of tracker time 0 */
    char *err;
    size_t errlen;
} ingest;

static int grow(ingest *in, int n)
{
    if (n <= in->dets_cap) return FT_OK;
    int cap = n + 16;
    ft__track_det *d = ft__realloc(in->dets, (size_t)cap * sizeof *d);
    if (d) in->dets = d;
    float(*ds)[128] = ft__realloc(in->descs, (size_t)cap * sizeof *ds);
    if (ds) in->descs = ds;
    int *h = ft__realloc(in->has_desc, (size_t)cap * sizeof *h);
    if (h) in->has_desc = h;
    int *a = ft__realloc(in->ambiguous, (size_t)cap * sizeof *a);
    if (a) in->ambiguous = a;
    int *s = ft__realloc(in->assign, (size_t)cap * sizeof *s);
    if (s) in->assign = s;
    int *fr = ft__realloc(in->fresh, (size_t)cap * sizeof *fr);
    if (fr) in->fresh = fr;
    if (!d || !ds || !h || !a || !s || !fr) return FT_ENOMEM;
    in->dets_cap = cap;
    return FT_OK;
}

/* Whether a small-face tile is worth running on this frame. */
static int want_tile(int x, int y, int w, int h, void *ctx)
{
    ingest *in = ctx;
    in->tiles_total++;
    int want = in->frame_no % REFRESH_FRAMES == 0 || ft__motion_count(&in->motion, x, y, w, h) >= 2;
    if (!want) {
        int n;
        ft__track *live = ft__tracker_live(in->tr, &n);
        for (int i = 0; i < n && !want; i++) {
            const double *b = live[i].box;
            double px = b[0] + live[i].vel[0], py = b[1] + live[i].vel[1];
            want = px < x + w && px + b[2] > x && py < y + h && py + b[3] > y;
        }
    }
    in->tiles_run += want;
    return want;
}

/* Detects the faces of frame into in->faces; returns the count or < 0. */
static int detect(ingest *in, const ft_image *frame, int *n_out)
{
    ft_detect_params dp = in->p->detect;
    dp.with_landmarks = 1;
    dp.with_descriptor = 0;
    int rc = ft__motion_update(&in->motion, frame);
    if (rc != FT_OK) return rc;
    ft__detect_plan plan = { 1, want_tile, in };
    for (;;) {
        int n = 0;
        rc = ft__engine_detect_plan(in->eng, frame, &dp, &plan, in->faces, in->faces_cap, &n);
        if (rc != FT_OK) {
            ft__errf(in->err, in->errlen, rc, "%s", ft_engine_errmsg(in->eng));
            return rc;
        }
        if (n <= in->faces_cap) {
            *n_out = n;
            return FT_OK;
        }
        ft_face *g = ft__realloc(in->faces, (size_t)n * sizeof *g);
        if (!g) return FT_ENOMEM;
        in->faces = g;
        in->faces_cap = n;
    }
}

/* Descriptor of face i (once per frame). */
static int describe(ingest *in, const ft_image *frame, int i)
{
    if (in->has_desc[i]) return FT_OK;
    ft_face *f = &in->faces[i];
    int rc = ft_engine_describe(in->eng, frame, &in->p->detect, f);
    if (rc != FT_OK) return ft__errf(in->err, in->errlen, rc, "%s", ft_engine_errmsg(in->eng));
    if (!f->has_descriptor) return FT_OK; /* empty crop at the border: no descriptor */
    memcpy(in->descs[i], f->descriptor, sizeof in->descs[i]);
    in->has_desc[i] = 1;
    return FT_OK;
}

/* A finished track as a sighting (pointers into the track: commit before
** the track is dropped). */
static int to_sighting(ingest *in, const ft__track *t, ft_sighting *s)
{
    memset(s, 0, sizeof *s);
    const ft__shot *best = &t->shots[0];
    snprintf(s->camera_id, sizeof s->camera_id, "%s", in->p->camera_id);
    s->track_key = t->key;
    s->first_us = in->start_us + t->first_us;
    s->last_us = in->start_us + t->last_us;
    s->best_us = in->start_us + best->pts_us;
    for (int k = 0; k < 4; k++)
        s->box[k] = (float)best->box[k];
    s->face_px = (float)best->box[3];
    s->det_score = (float)best->score;
    s->quality = best->quality;
    s->n_frames = t->n_frames;
    s->thumbnail = best->thumb;
    s->thumbnail_len = best->thumb_len;
    for (int k = 0; k < t->n_shots && s->n_desc < in->p->n_desc; k++) {
        if (!t->shots[k].has_desc) continue;
        memcpy(s->desc[s->n_desc], t->shots[k].desc, sizeof s->desc[0]);
        s->desc_quality[s->n_desc] = t->shots[k].quality;
        s->n_desc++;
    }
    return s->n_desc > 0; /* a track never described (all crops empty) is not stored */
}

/* Commits the finished tracks, the checkpoint and the live tracks. */
static int commit(ingest *in, int64_t ingest_id, int64_t checkpoint_us, int64_t frames,
                  int64_t faces, int64_t *n_sightings)
{
    int n_done;
    ft__track *done = ft__tracker_finished(in->tr, &n_done);
    if (n_done > in->cap_pending) {
        ft_sighting *g = ft__realloc(in->pending, (size_t)n_done * sizeof *g);
        if (!g) return FT_ENOMEM;
        in->pending = g;
        in->cap_pending = n_done;
    }
    int n = 0;
    for (int i = 0; i < n_done; i++)
        n += to_sighting(in, &done[i], &in->pending[n]);
    in->tracks_undescribed += n_done - n;
    unsigned char *state = NULL;
    size_t state_len = 0;
    int rc = ft__tracker_save(in->tr, &state, &state_len);
    if (rc != FT_OK) return rc;
    rc = ft_store_ingest_commit_state(in->st, ingest_id, in->pending, n, checkpoint_us, frames,
                                      faces, state, state_len);
    ft__free(state);
    if (rc != FT_OK) return ft__errf(in->err, in->errlen, rc, "%s", ft_store_errmsg(in->st));
    *n_sightings += n;
    ft__tracker_drop_finished(in->tr);
    return FT_OK;
}

/* Early looks (p->on_track): each confirmed track of this frame that gained
** a described shot, or that was confirmed by this frame and has one, is
** handed over as the sighting it would be. */
static int announce(ingest *in, int n, ft__track *live, int n_live)
{
    if (!in->p->on_track) return FT_OK;
    const int confirm = ft__tracker_default_params().confirm_hits;
    for (int i = 0; i < n; i++) {
        int k = in->assign[i];
        if (k < 0 || k >= n_live) continue;
        const ft__track *t = &live[k];
        if (t->state != FT__TRACK_CONFIRMED) continue;
        if (!in->fresh[i] && t->hits != confirm) continue;
        ft_sighting s;
        if (!to_sighting(in, t, &s)) continue;
        in->p->on_track(&s, in->p->track_ctx);
    }
    return FT_OK;
}

/* One sampled frame through detection, tracking and shot selection. */
static int process_frame(ingest *in, const ft_image *frame, int64_t pts_us, int64_t *n_faces)
{
    int n;
    int rc = detect(in, frame, &n);
    in->frame_no++;
    if (rc == FT_OK) rc = grow(in, n);
    if (rc != FT_OK) return rc;
    *n_faces += n;
    for (int i = 0; i < n; i++) {
        ft_face *f = &in->faces[i];
        ft__track_det *d = &in->dets[i];
        memcpy(d->box, f->box, sizeof d->box);
        d->score = f->score;
        d->quality = ft__shot_quality(frame, f);
        d->desc = NULL;
        in->has_desc[i] = 0;
        in->fresh[i] = 0;
    }
    ft__tracker_ambiguous(in->tr, in->dets, n, in->ambiguous);
    for (int i = 0; i < n; i++) {
        if (!in->ambiguous[i] || !in->faces[i].has_landmarks) continue;
        if ((rc = describe(in, frame, i)) != FT_OK) return rc;
        if (in->has_desc[i]) in->dets[i].desc = in->descs[i];
    }
    if ((rc = ft__tracker_update(in->tr, pts_us, in->dets, n, in->assign)) != FT_OK) return rc;
    int n_live;
    ft__track *live = ft__tracker_live(in->tr, &n_live);
    for (int i = 0; i < n; i++) {
        if (in->assign[i] < 0 || !in->faces[i].has_landmarks) continue;
        ft__track *t = &live[in->assign[i]];
        int slot =
            ft__track_offer(t, in->dets[i].quality, pts_us, in->dets[i].box, in->dets[i].score);
        if (slot < 0) continue;
        if ((rc = describe(in, frame, i)) != FT_OK) return rc;
        ft__shot *s = &t->shots[slot];
        if (in->has_desc[i]) {
            memcpy(s->desc, in->descs[i], sizeof s->desc);
            s->has_desc = 1;
            memcpy(t->last_desc, in->descs[i], sizeof t->last_desc);
            t->has_last_desc = 1;
        }
        if (slot == 0 && (rc = ft_face_thumbnail(frame, in->dets[i].box, THUMB_PX, &s->thumb,
                                                 &s->thumb_len)) != FT_OK)
            return rc;
        if (in->has_desc[i]) in->fresh[i] = 1;
    }
    return announce(in, n, live, n_live);
}

/* The video's identity (store: ft_store_content): size, duration and the
** SHA-256 of the first FT_STORE_CONTENT_HEAD bytes (libavutil's hash). */
static int content_of(const char *path, int64_t duration_us, ft_store_content *c, char *err,
                      size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->duration_us = duration_us >= 0 ? duration_us : -1;
    FILE *f = fopen(path, "rb");
    if (!f) return ft__errf(err, errlen, FT_EIO, "%s: %s", path, strerror(errno));
    struct stat sb;
    struct AVHashContext *h = NULL;
    int rc = FT_OK;
    if (fstat(fileno(f), &sb) != 0) {
        rc = ft__errf(err, errlen, FT_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    c->size = (int64_t)sb.st_size;
    if (av_hash_alloc(&h, "SHA256") < 0 || !h) {
        rc = FT_ENOMEM;
        goto out;
    }
    av_hash_init(h);
    unsigned char buf[16384];
    size_t left = FT_STORE_CONTENT_HEAD;
    while (left > 0) {
        size_t n = fread(buf, 1, left < sizeof buf ? left : sizeof buf, f);
        if (n == 0) break;
        av_hash_update(h, buf, n);
        left -= n;
    }
    if (ferror(f)) {
        rc = ft__errf(err, errlen, FT_EIO, "%s: read error", path);
        goto out;
    }
    av_hash_final(h, c->sha256);
out:
    av_hash_freep(&h);
    fclose(f);
    return rc;
}

/* Why an ingest that ran to the end of its video stored no sighting, in the
** user's terms (seconds, --fps); "" when it has sightings. */
static void why_no_sightings(ingest *in, int64_t ingest_id, int64_t duration_us, char *note,
                             size_t len)
{
    ft_ingest ing;
    if (ft_store_ingest_get(in->st, ingest_id, &ing) != FT_OK || ing.n_sightings > 0) return;
    const double fps = in->p->sample_fps;
    const int need = ft__tracker_default_params().confirm_hits;
    char clip[64] = "";
    if (duration_us >= 0)
        snprintf(clip, sizeof clip, "the clip is %.1f s long; ", duration_us / 1e6);
    if (ing.frames == 0) {
        snprintf(note, len, "no sightings: %sno frame of it could be analysed", clip);
    } else if (ing.frames < need) {
        snprintf(note, len,
                 "no sightings: %sit gave %lld analysed frame%s at --fps %g, and a face must be "
                 "seen in at least %d analysed frames (one every %.2f s: the clip must be longer "
                 "than %.2f s, or use a higher --fps)",
                 clip, (long long)ing.frames, ing.frames == 1 ? "" : "s", fps, need, 1.0 / fps,
                 (need - 1) / fps);
    } else if (ing.faces == 0) {
        snprintf(note, len, "no sightings: %sno face was detected in its %lld analysed frames",
                 clip, (long long)ing.frames);
    } else if (in->tracks_undescribed > 0) {
        snprintf(note, len,
                 "no sightings: %s%lld face%s detected in %lld analysed frames, but no face could "
                 "be described (faces cut by the picture's border)",
                 clip, (long long)ing.faces, ing.faces == 1 ? " was" : "s were",
                 (long long)ing.frames);
    } else {
        snprintf(note, len,
                 "no sightings: %s%lld face%s detected in %lld analysed frames, but none was seen "
                 "in %d analysed frames in a row (at --fps %g, %.2f s apart): a face must stay "
                 "in view longer, or use a higher --fps",
                 clip, (long long)ing.faces, ing.faces == 1 ? " was" : "s were",
                 (long long)ing.frames, need, fps, 1.0 / fps);
    }
}

/* ------------------------------------------------------------------------ */
/* Live sources                                                             */
/* ------------------------------------------------------------------------ */

#define LIVE_BACKOFF_MIN_S 0.5
#define LIVE_BACKOFF_MAX_S 30.0
#define LIVE_COMMIT_S      0.5 /* finished tracks wait at most this long */
#define LIVE_BURST         2.0 /* least frames analysed at once after a pause (rate budget) */

typedef struct live {
    ingest in;
    int64_t ingest_id;
    double t0;       /* ft__now() at the start: tracker time 0 */
    int64_t last_cp; /* last checkpoint (tracker time) */
    int64_t frames_c, faces_c;
    double last_commit; /* ft__now() of the last commit */
    ft_ingest_report *out;
    int64_t faces;
} live;

/* The caller's stop (p->stop), for the reader's interrupt and our waits. */
static int live_stop(void *ctx)
{
    const ft_ingest_params *p = ctx;
    return p->stop && p->stop(p->stop_ctx);
}

/* Wall clock now, microseconds (UTC). */
static int64_t wall_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* msg without a leading "SOURCE: " (the reader's messages name it; the
** events do not). */
static const char *without_source(const char *msg, const char *source)
{
    size_t n = strlen(source);
    return strncmp(msg, source, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ' ? msg + n + 2 : msg;
}

/* Tells p->on_live of a change. */
static void live_event(live *L, int state, double retry_s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void live_event(live *L, int state, double retry_s, const char *fmt, ...)
{
    if (!L->in.p->on_live) return;
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    ft_ingest_live_event e = { state, text, retry_s, L->out->n_connects };
    L->in.p->on_live(&e, L->in.p->live_ctx);
}

/* Commits the finished tracks and counters at checkpoint cp (tracker time). */
static int live_commit(live *L, int64_t cp)
{
    if (cp < L->last_cp) cp = L->last_cp;
    int rc = commit(&L->in, L->ingest_id, cp, L->out->frames - L->frames_c, L->faces - L->faces_c,
                    &L->out->sightings);
    if (rc != FT_OK) return rc;
    L->frames_c = L->out->frames, L->faces_c = L->faces, L->last_cp = cp;
    L->last_commit = ft__now();
    return FT_OK;
}

/* Ends every live track (the stream is gone or the run stops) and commits. */
static int live_flush(live *L)
{
    ft__tracker_flush(L->in.tr);
    return live_commit(L, L->last_cp);
}

/* Waits secs, polling the stop (and renewing the lease with an empty
** commit every commit_every_s). 1 if a stop came, 0 after the wait, < 0 on
** a store error. */
static int live_wait(live *L, double secs)
{
    double until = ft__now() + secs;
    for (;;) {
        if (live_stop((void *)L->in.p)) return 1;
        double now = ft__now();
        if (now >= until) return 0;
        if (now - L->last_commit >= L->in.p->commit_every_s) {
            int rc = live_commit(L, L->last_cp);
            if (rc != FT_OK) return rc;
        }
        double step = until - now < 0.05 ? until - now : 0.05;
        struct timespec ts = { 0, (long)(step * 1e9) };
        nanosleep(&ts, NULL);
    }
}

/* Calls the progress callback after a frame read at lag lag_us; 1 if it
** asks to stop. */
static int live_progress(live *L, int64_t t, int64_t lag_us)
{
    const ft_ingest_params *p = L->in.p;
    if (!p->progress) return live_stop((void *)p);
    int n_live;
    ft__tracker_live(L->in.tr, &n_live);
    ft_ingest_progress pr = { L->out->frames,
                              L->faces,
                              n_live,
                              L->out->sightings,
                              t,
                              -1,
                              ft__now() - L->t0,
                              L->out->frames_read,
                              L->out->frames_dropped,
                              (double)lag_us / 1e6 };
    return p->progress(&pr, p->progress_ctx) || live_stop((void *)p);
}

/* Reads one connection until it is lost, a plain file ends (*ended = 1)
** or a stop (*stopped = 1). Returns FT_OK or a processing / store error;
** *why gets the reason of a loss. */
static int live_read(live *L, ft_video *v, double open_s, int *stopped, int *ended, char *why,
                     size_t whylen)
{
    const ft_ingest_params *p = L->in.p;
    int64_t offset = 0, last_pts = 0, last_w = 0;
    int have_offset = 0;
    const double cap = fmax(LIVE_BURST, p->sample_fps * p->max_lag_s);
    /* frames that may be analysed now (token bucket); at first also those
    ** the opening held back (the demuxer reads ahead while it probes the
    ** stream: they come at once, on time by the stream's clock) */
    double budget = cap, held = p->sample_fps * open_s;
    const int64_t max_lag = (int64_t)(p->max_lag_s * 1e6);
    struct stat sb;
    const int paced = stat(p->source, &sb) == 0 && S_ISREG(sb.st_mode);
    int64_t pace_pts = -1, pace_w = 0; /* a plain file: its first frame, and when */
    for (;;) {
        const ft_image *frame;
        int64_t pts;
        int r = ft_video_read(v, p->sample_fps, &frame, &pts);
        if (r > 0 && paced) { /* a plain file plays at the speed of its clock */
            int64_t now = (int64_t)((ft__now() - L->t0) * 1e6);
            if (pace_pts < 0 || pts < pace_pts) pace_pts = pts, pace_w = now;
            int64_t due = pace_w + (pts - pace_pts);
            while (now < due && !live_stop((void *)p)) {
                int64_t step = due - now < 50000 ? due - now : 50000;
                struct timespec ts = { 0, (long)step * 1000 };
                nanosleep(&ts, NULL);
                now = (int64_t)((ft__now() - L->t0) * 1e6);
            }
        }
        if (r <= 0) {
            if (live_stop((void *)p)) {
                *stopped = 1;
            } else if (r == 0) {
                *ended = paced;
                snprintf(why, whylen, "end of stream");
            } else {
                snprintf(why, whylen, "%s", without_source(ft_video_errmsg(v), p->source));
            }
            return FT_OK;
        }
        const int64_t w = (int64_t)((ft__now() - L->t0) * 1e6);
        if (!have_offset || pts < last_pts || w - pts < offset) offset = w - pts;
        have_offset = 1;
        last_pts = pts;
        const int64_t lag = w - pts - offset, t = offset + pts;
        L->out->frames_read++;
        if (last_w > 0) budget += (double)(w - last_w) / 1e6 * p->sample_fps;
        if (budget > cap) budget = cap;
        if (budget < 1.0 && held >= 1.0 && lag <= max_lag) budget += 1.0, held -= 1.0;
        last_w = w;
        if (lag > max_lag || budget < 1.0) {
            L->out->frames_dropped++;
        } else {
            int rc = process_frame(&L->in, frame, t, &L->faces);
            if (rc != FT_OK) return rc;
            L->out->frames++;
            budget -= 1.0;
            L->last_cp = t > L->last_cp ? t : L->last_cp;
            int n_done;
            ft__tracker_finished(L->in.tr, &n_done);
            double since = ft__now() - L->last_commit;
            if ((n_done > 0 && since >= LIVE_COMMIT_S) || since >= p->commit_every_s) {
                if ((rc = live_commit(L, L->last_cp)) != FT_OK) return rc;
            }
        }
        if (live_progress(L, t, lag)) {
            *stopped = 1;
            return FT_OK;
        }
    }
}

/* The live ingest (LIVE SOURCES in facetrail/ingest.h): one ingest in the
** store, connections until a stop or a plain file's end. */
static int run_live(ft_engine *eng, ft_store *st, const ft_ingest_params *p, ft_ingest_report *out,
                    const char *space, int first_ingest, char *err, size_t errlen)
{
    live L;
    memset(&L, 0, sizeof L);
    ingest *in = &L.in;
    in->eng = eng, in->st = st, in->p = p, in->err = err, in->errlen = errlen;
    L.out = out;
    L.t0 = ft__now();
    in->start_us = wall_now_us();
    int rc;
    char how[256];
    ft_pipeline_describe(&p->detect, ft_calibration_for_space(space)->metric, how, sizeof how);
    if (first_ingest && ((rc = ft_store_meta_set(st, FT_STORE_PIPELINE_KEY, how)) != FT_OK ||
                         (rc = ft_store_meta_set(st, FT_STORE_SPACE_KEY, space)) != FT_OK))
        return ft__errf(err, errlen, rc, "%s", ft_store_errmsg(st));
    int64_t resume_us;
    rc = ft_store_ingest_begin_content(st, p->camera_id, p->source, NULL, in->start_us,
                                       p->sample_fps, 0, &L.ingest_id, &resume_us);
    if (rc != FT_OK) return ft__errf(err, errlen, rc, "%s", ft_store_errmsg(st));
    out->ingest_id = L.ingest_id;
    L.last_commit = ft__now();
    if ((rc = ft__tracker_create(NULL, &in->tr)) != FT_OK) goto done;

    ft_video_params vp = ft_video_default_params();
    vp.threads = p->video_threads;
    vp.interrupt = live_stop;
    vp.interrupt_ctx = (void *)p;
    double backoff = LIVE_BACKOFF_MIN_S;
    int stopped = 0, ended = 0;
    char why[600];
    while (!stopped && !ended) {
        if (live_stop((void *)p)) {
            stopped = 1;
            break;
        }
        ft_video *v = NULL;
        char oerr[600];
        double opened = ft__now();
        rc = ft_video_open_live(p->source, &vp, &v, oerr, sizeof oerr);
        opened = ft__now() - opened;
        if (rc == FT_ENOMEM) goto done;
        if (rc == FT_OK) {
            ft_video_info vi;
            ft_video_get_info(v, &vi);
            out->n_connects++;
            /* the wall clock again: tracker time keeps the monotonic clock */
            in->start_us = wall_now_us() - (int64_t)((ft__now() - L.t0) * 1e6);
            live_event(&L, FT_INGEST_LIVE_CONNECTED, 0, "connected (%s %s %dx%d, %.3g fps)",
                       vi.format, vi.codec, vi.width, vi.height, vi.fps);
            int64_t before = out->frames_read;
            why[0] = '\0';
            rc = live_read(&L, v, opened, &stopped, &ended, why, sizeof why);
            ft_video_close(v);
            if (rc != FT_OK) goto done;
            if (out->frames_read > before) backoff = LIVE_BACKOFF_MIN_S;
            if ((rc = live_flush(&L)) != FT_OK) goto done; /* open tracks end here */
            if (stopped) break;
            if (ended) {
                live_event(&L, FT_INGEST_LIVE_ENDED, 0, "the file ended");
                break;
            }
            live_event(&L, FT_INGEST_LIVE_LOST, 0, "lost: %s", why);
        } else {
            if (live_stop((void *)p)) {
                stopped = 1;
                break;
            }
            live_event(&L, FT_INGEST_LIVE_LOST, 0, "%s", without_source(oerr, p->source));
        }
        live_event(&L, FT_INGEST_LIVE_RETRY, backoff, "reconnecting in %.1f s", backoff);
        int w = live_wait(&L, backoff);
        if (w < 0) {
            rc = w;
            goto done;
        }
        stopped = w;
        backoff = backoff * 2 > LIVE_BACKOFF_MAX_S ? LIVE_BACKOFF_MAX_S : backoff * 2;
    }
    if ((rc = live_flush(&L)) != FT_OK) goto done;
    out->stopped = stopped;
    if ((rc = ft_store_ingest_finish(st, L.ingest_id, FT_INGEST_DONE, NULL)) != FT_OK)
        ft__errf(err, errlen, rc, "%s", ft_store_errmsg(st));
done:
    if (rc != FT_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", err && *err ? err : ft_strerror(rc));
        if (err && errlen && !*err) snprintf(err, errlen, "%s", msg);
        ft_store_ingest_finish(st, L.ingest_id, FT_INGEST_FAILED, msg);
    }
    out->faces = L.faces;
    out->elapsed_s = ft__now() - L.t0;
    out->video_us = (int64_t)(out->elapsed_s * 1e6);
    ft__tracker_destroy(in->tr);
    ft__free(in->faces);
    ft__free(in->dets);
    ft__free(in->descs);
    ft__free(in->has_desc);
    ft__free(in->ambiguous);
    ft__free(in->assign);
    ft__free(in->fresh);
    ft__free(in->pending);
    ft__motion_fini(&in->motion);
    return rc;
}

static int check_params(const ft_ingest_params *p, char *err, size_t errlen)
{
    if (!p || !p->camera_id || !*p->camera_id || !p->source || !*p->source)
        return ft__errf(err, errlen, FT_EINVAL, "an ingest needs a camera and a video");
    if (!(p->sample_fps > 0 && p->sample_fps <= 120))
        return ft__errf(err, errlen, FT_EINVAL, "sample rate %g is not in (0, 120] frames/s",
                        p->sample_fps);
    if (p->n_desc < 1 || p->n_desc > FT_SIGHTING_MAX_DESC)
        return ft__errf(err, errlen, FT_EINVAL, "descriptors per sighting must be 1..%d",
                        FT_SIGHTING_MAX_DESC);
    if (!(p->commit_every_s > 0))
        return ft__errf(err, errlen, FT_EINVAL, "commit interval must be positive");
    if (p->live && !(p->max_lag_s > 0 && p->max_lag_s <= 3600))
        return ft__errf(err, errlen, FT_EINVAL, "max lag %g s is not in (0, 3600]", p->max_lag_s);
    return FT_OK;
}

int ft_ingest_run(ft_engine *eng, ft_store *st, const ft_ingest_params *p, ft_ingest_report *out,
                  char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->resumed_from_us = -1;
    out->damage_first_us = out->damage_last_us = -1;
    if (err && errlen) *err = 0;
    int rc = check_params(p, err, errlen);
    if (rc != FT_OK) return rc;
    ft_camera cam;
    if ((rc = ft_store_camera_get(st, p->camera_id, &cam)) != FT_OK)
        return ft__errf(err, errlen, rc == FT_ENOTFOUND ? FT_EINVAL : rc,
                        "camera %s: %s (add it with 'facetrail camera add')", p->camera_id,
                        ft_store_errmsg(st));

    /* one descriptor space per event: search compares only within it */
    const char *space = ft_descriptor_space(&p->detect);
    char have[64];
    if (!space || !ft_calibration_for_space(space))
        return ft__errf(err, errlen, FT_EINVAL,
                        "descriptors of kind %s have no calibration, so search could not score "
                        "them (use the default pipeline)",
                        space ? space : "(none)");
    if ((rc = ft_store_descriptor_space(st, have, sizeof have)) != FT_OK)
        return ft__errf(err, errlen, rc, "%s", ft_store_errmsg(st));
    if (*have && strcmp(have, space))
        return ft__errf(err, errlen, FT_EINVAL,
                        "this event's descriptors are of kind %s, and this ingest would make %s; "
                        "one event keeps one kind (ingest into a new database, or choose the "
                        "event's pipeline)",
                        have, space);

    if (p->live) return run_live(eng, st, p, out, space, !*have, err, errlen);

    /* open the video first: a bad file must not leave a running ingest */
    ft_video_params vp = ft_video_default_params();
    vp.threads = p->video_threads;
    ft_video *v = NULL;
    if ((rc = ft_video_open(p->source, &vp, &v, err, errlen)) != FT_OK) return rc;
    ft_video_info info;
    ft_video_get_info(v, &info);
    ft_store_content content;
    if ((rc = content_of(p->source, info.duration_us, &content, err, errlen)) != FT_OK) {
        ft_video_close(v);
        return rc;
    }

    ingest in;
    memset(&in, 0, sizeof in);
    in.eng = eng, in.st = st, in.p = p, in.err = err, in.errlen = errlen;
    in.start_us = p->start_us;
    int64_t ingest_id = 0, resume_us = -1;
    char how[256];
    ft_pipeline_describe(&p->detect, ft_calibration_for_space(space)->metric, how, sizeof how);
    if (!*have && ((rc = ft_store_meta_set(st, FT_STORE_PIPELINE_KEY, how)) != FT_OK ||
                   (rc = ft_store_meta_set(st, FT_STORE_SPACE_KEY, space)) != FT_OK)) {
        ft__errf(err, errlen, rc, "%s", ft_store_errmsg(st));
        ft_video_close(v);
        return rc;
    }
    rc = ft_store_ingest_begin_content(st, p->camera_id, p->source, &content, p->start_us,
                                       p->sample_fps, p->force ? FT_INGEST_FORCE : 0, &ingest_id,
                                       &resume_us);
    if (rc != FT_OK) {
        ft__errf(err, errlen, rc, "%s", ft_store_errmsg(st));
        ft_video_close(v);
        return rc;
    }
    out->ingest_id = ingest_id;
    if ((rc = ft__tracker_create(NULL, &in.tr)) != FT_OK) goto fail;
    if (resume_us >= 0) {
        unsigned char *state = NULL;
        size_t state_len = 0;
        rc = ft_store_ingest_state(st, ingest_id, &state, &state_len);
        if (rc == FT_OK && state) rc = ft__tracker_load(in.tr, state, state_len);
        ft_store_free(state);
        if (rc != FT_OK) {
            ft__errf(err, errlen, rc, "cannot resume ingest %lld: its saved state is unreadable",
                     (long long)ingest_id);
            goto fail;
        }
        if ((rc = ft_video_seek(v, ft_video_sample_next_us(resume_us, p->sample_fps))) != FT_OK) {
            ft__errf(err, errlen, rc, "%s", ft_video_errmsg(v));
            goto fail;
        }
        out->resumed_from_us = resume_us;
    }

    double t0 = ft__now();
    int64_t frames = 0, faces = 0, frames_c = 0, faces_c = 0, first_pts = -1, last_pts = -1;
    int64_t last_commit = resume_us >= 0 ? resume_us : 0;
    const int64_t every = (int64_t)(p->commit_every_s * 1e6);
    int read_rc;
    for (;;) {
        const ft_image *frame;
        int64_t pts;
        read_rc = ft_video_read(v, p->sample_fps, &frame, &pts);
        if (read_rc <= 0) break;
        if (first_pts < 0) first_pts = pts;
        if ((rc = process_frame(&in, frame, pts, &faces)) != FT_OK) goto fail;
        frames++;
        last_pts = pts;
        if (pts - last_commit >= every) {
            rc = commit(&in, ingest_id, pts, frames - frames_c, faces - faces_c, &out->sightings);
            if (rc != FT_OK) goto fail;
            frames_c = frames, faces_c = faces, last_commit = pts;
        }
        if (p->progress) {
            int n_live;
            ft__tracker_live(in.tr, &n_live);
            ft_ingest_progress pr = {
                frames, faces, n_live, out->sightings, pts, info.duration_us, ft__now() - t0,
                0,      0,     0
            };
            if (p->progress(&pr, p->progress_ctx)) {
                out->stopped = 1;
                break;
            }
        }
    }
    if (out->stopped) {
        /* stop cleanly: commit what is finished; live tracks stay saved */
        int64_t cp = last_pts >= 0 ? last_pts : (resume_us >= 0 ? resume_us : 0);
        rc = commit(&in, ingest_id, cp, frames - frames_c, faces - faces_c, &out->sightings);
        if (rc != FT_OK) goto fail;
    } else {
        /* end of stream (or damage): every track ends here */
        ft__tracker_flush(in.tr);
        int64_t cp = last_pts >= 0 ? last_pts : (resume_us >= 0 ? resume_us : 0);
        rc = commit(&in, ingest_id, cp, frames - frames_c, faces - faces_c, &out->sightings);
        if (rc != FT_OK) goto fail;
        if (read_rc < 0) {
            rc = read_rc;
            ft__errf(err, errlen, rc, "%s (the %lld sightings before it are stored)",
                     ft_video_errmsg(v), (long long)out->sightings);
            ft_store_ingest_finish(st, ingest_id, FT_INGEST_FAILED, err);
        } else if ((rc = ft_store_ingest_finish(st, ingest_id, FT_INGEST_DONE, NULL)) != FT_OK) {
            ft__errf(err, errlen, rc, "%s", ft_store_errmsg(st));
        }
    }
    out->frames = frames;
    out->faces = faces;
    out->video_us = first_pts >= 0 ? last_pts - first_pts : 0;
    out->elapsed_s = ft__now() - t0;
    if (!out->stopped && read_rc == 0)
        why_no_sightings(&in, ingest_id, info.duration_us, out->note, sizeof out->note);
    goto done;
fail:
    if (ingest_id) {
        char why[300];
        snprintf(why, sizeof why, "%s", err && *err ? err : ft_strerror(rc));
        ft_store_ingest_finish(st, ingest_id, FT_INGEST_FAILED, why);
    }
done:
    ft__tracker_destroy(in.tr);
    ft__free(in.faces);
    ft__free(in.dets);
    ft__free(in.descs);
    ft__free(in.has_desc);
    ft__free(in.ambiguous);
    ft__free(in.assign);
    ft__free(in.fresh);
    ft__free(in.pending);
    ft__motion_fini(&in.motion);
    ft_video_damage dmg; /* damaged frames: the caller warns, faces there are missing */
    if (ft_video_get_damage(v, &dmg) == FT_OK && dmg.n_frames > 0) {
        out->damaged_frames = dmg.n_frames;
        out->damage_first_us = dmg.first_us;
        out->damage_last_us = dmg.last_us;
    }
    ft_video_close(v);
    return rc;
}
