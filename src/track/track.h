/*
** track/track.h: face tracks across the sampled frames of one video, and the
** quality of a face shot. Private to the library (used by pipeline/).
*/
#ifndef FT_TRACK_H
#define FT_TRACK_H

#include "core/core.h"

#include <stdint.h>

#define FT__TRACK_SHOTS 3 /* best shots kept (and described) per track */

/* A detection handed to the tracker. */
typedef struct ft__track_det {
    double box[4];       /* x, y, w, h image px */
    double score;        /* detector score */
    float quality;       /* ft__shot_quality */
    const float *desc;   /* descriptor if already computed, else NULL */
} ft__track_det;

/* One kept shot of a track: a frame where the face looked good. */
typedef struct ft__shot {
    float quality;
    int64_t pts_us;
    double box[4];
    double score;
    int has_desc;
    float desc[128];
    unsigned char *thumb; /* owned JPEG of the face with a margin, NULL until set */
    size_t thumb_len;
} ft__shot;

enum ft__track_state {
    FT__TRACK_TENTATIVE = 0,
    FT__TRACK_CONFIRMED = 1,
    FT__TRACK_FINISHED = 2,
};

typedef struct ft__track {
    int64_t key;          /* first pts_us * 256 + index of its first detection */
    enum ft__track_state state;
    int hits, misses, n_frames;
    double box[4];        /* last matched box */
    double vel[2];        /* centre velocity, px per frame (smoothed) */
    int64_t first_us, last_us;
    int n_shots;
    ft__shot shots[FT__TRACK_SHOTS]; /* best first */
    float last_desc[128]; /* the most recent descriptor seen, for association */
    int has_last_desc;
} ft__track;

typedef struct ft__tracker_params {
    double iou_min;       /* smallest IoU with the predicted box to match (0.1) */
    double centre_gate;   /* else: centre distance / box height below this (0.8) */
    double first_gate;    /* the same for a track seen once, no velocity yet (2.5) */
    double desc_max;      /* descriptor distance above which no match (0.75) */
    int confirm_hits;     /* hits that confirm a tentative track (2) */
    int max_misses;       /* sampled frames without a match before a track ends (3) */
} ft__tracker_params;

ft__tracker_params ft__tracker_default_params(void);

typedef struct ft__tracker ft__tracker;

int ft__tracker_create(const ft__tracker_params *p, ft__tracker **out);
void ft__tracker_destroy(ft__tracker *tr);

/* Marks which detections have more than one candidate track (or a track with
** more than one candidate detection): their descriptors make the match
** reliable. ambiguous[i] is set to 1 for such detections. */
void ft__tracker_ambiguous(const ft__tracker *tr, const ft__track_det *dets, int n,
                           int *ambiguous);

/* Advances by one sampled frame: matches dets to live tracks, starts tracks
** for unmatched dets, ages the rest. assign[i] receives the track index (into
** ft__tracker_live) of dets[i]. Tracks that end move to the finished list. */
int ft__tracker_update(ft__tracker *tr, int64_t pts_us, const ft__track_det *dets, int n,
                       int *assign);

/* Ends every live track (end of the video). */
void ft__tracker_flush(ft__tracker *tr);

/* Live tracks (borrowed until the next update). */
ft__track *ft__tracker_live(ft__tracker *tr, int *n);

/* Finished tracks (borrowed); ft__tracker_drop_finished frees them. Tracks
** that ended tentative (fewer than confirm_hits) are dropped, never listed. */
ft__track *ft__tracker_finished(ft__tracker *tr, int *n);
void ft__tracker_drop_finished(ft__tracker *tr);

/* Offers a shot to track t: kept if it is among the track's best
** FT__TRACK_SHOTS by quality. Returns the slot it went to, or -1 (then the
** caller need not compute its descriptor or thumbnail). */
int ft__track_offer(ft__track *t, float quality, int64_t pts_us, const double box[4],
                    double score);

/* Frees a track's thumbnails. */
void ft__track_fini(ft__track *t);

/* The live tracks as a byte string (versioned, little-endian), so that an
** interrupted ingest can resume exactly where its last commit left it.
** *out is allocated with ft__malloc. */
int ft__tracker_save(const ft__tracker *tr, unsigned char **out, size_t *out_len);
/* Replaces the live tracks with those of a saved state. A malformed state is
** FT_EFORMAT and leaves the tracker empty. */
int ft__tracker_load(ft__tracker *tr, const unsigned char *buf, size_t len);

/* ---- quality.c ----------------------------------------------------------- */

/* Quality of a face shot in [0, 1]: detector score x size x frontal pose x
** sharpness, each term documented in quality.c; 0 without landmarks. */
float ft__shot_quality(const ft_image *img, const ft_face *f);
/* The eye centres and the nose of a face with landmarks of any kind (68,
** dlib's 5, YuNet's 5), image pixels; 0 when it has none. */
int ft__face_eyes_nose(const ft_face *f, double le[2], double re[2], double nose[2]);

#endif
