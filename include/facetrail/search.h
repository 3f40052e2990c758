/*
** facetrail/search.h: find a person's sightings from one face descriptor
** (part of facetrail.h).
**
** OVERVIEW
**   A searcher holds every sighting descriptor of an event in memory (an
**   ft_index) with the sightings' camera, km and times. A search returns the
**   person's *appearances*: per camera, neighbouring sightings merged, in time
**   order, each with an honest score (the number of false matches to expect
**   at its distance in a gallery of this size, from a calibration of the
**   descriptor), appearances that would need an impossible speed flagged, and
**   an estimate of where the person is now.
**
**     ft_searcher *s;
**     ft_searcher_open(store, &s, err, sizeof err);
**     ft_search_params sp = ft_search_default_params();
**     ft_search_result r;
**     ft_searcher_search(s, query_descriptor, &sp, &r);
**     ... r.appearances[0 .. r.n_appearances) ...
**     ft_search_result_free(&r);
**
** THREADS  Once open, a searcher may be searched from several threads at
**          once (ft_searcher_search_multi only reads it; its message is
**          the calling thread's own); open and close are one thread's.
*/
#ifndef FACETRAIL_SEARCH_H
#define FACETRAIL_SEARCH_H

#include "facetrail.h"
#include "facetrail/index.h"
#include "facetrail/store.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ft_searcher ft_searcher;

/* The default bound on expected false matches per search, and the fixed
** ceiling on the false-match rate per comparison. Together they put the
** threshold at FMR = min(FT_SEARCH_MAX_FALSE / gallery, FT_SEARCH_MAX_FMR):
** a stranger gets a match in at most about 1 search in 100 at any gallery
** size, and a tiny gallery does not loosen the threshold. */
#define FT_SEARCH_MAX_FALSE 0.01
#define FT_SEARCH_MAX_FMR   1e-4
/* The bound for `possible` candidates when a caller asks for them. */
#define FT_SEARCH_POSSIBLE_FALSE 1.0

/* Loads the store's sightings and descriptors (metric: how descriptors are
** compared; the calibration must be in the same metric). FT_ENOMEM, store
** errors; err gets a message. */
int ft_searcher_open(ft_store *st, enum ft_metric metric, ft_searcher **out /* OUT */, char *err,
                     size_t errlen);
/* Adds the sightings committed to st since the searcher was opened or last
** updated (ids above the highest it holds), with their descriptors: a live
** event's new sightings become searchable without loading it all again.
** *added (may be NULL) gets how many. Not thread-safe with searches of s:
** the caller holds them off (a write lock). FT_ENOTFOUND: a sighting of a
** camera the searcher does not know (added since the open): open it again.
** FT_ENOMEM (s is left as it was), store errors; err gets a message. */
int ft_searcher_update(ft_searcher *s, ft_store *st, int64_t *added /* OUT */, char *err,
                       size_t errlen);
void ft_searcher_close(ft_searcher *s);
/* Sightings and descriptors loaded, and the latest time seen (microseconds). */
int64_t ft_searcher_sightings(const ft_searcher *s);
int64_t ft_searcher_descriptors(const ft_searcher *s);
int64_t ft_searcher_latest_us(const ft_searcher *s);
/* Bytes the searcher holds in memory (the index with its capacity, the
** sightings table). */
size_t ft_searcher_memory(const ft_searcher *s);

typedef struct ft_search_params {
    int top;                       /* nearest descriptors examined; default 300 */
    int64_t since_us, until_us;    /* sightings whose best shot is in [since, until]; default all */
    const char *camera_id;         /* only this camera; NULL: all */
    int64_t at_us;                 /* "now" for the estimate; 0: the latest time in the store */
    double max_speed_kmh;          /* faster than this between appearances is implausible; 25 */
    double merge_gap_s;            /* sightings of one camera closer than this merge; 60 */
    double max_false_matches;      /* a match expects at most this many false matches in this
                                  gallery (all of the search's matches together);
                                  default FT_SEARCH_MAX_FALSE (0.01) */
    double max_fmr;                /* and its threshold never allows a false-match rate above
                                  this per comparison, however small the gallery;
                                  default FT_SEARCH_MAX_FMR (1e-4) */
    double possible_false_matches; /* > max_false_matches: also return weaker candidates
                                  up to this many expected false matches, marked
                                  `possible` (never used for the estimate); 0: none
                                  (default) */
    const ft_calibration *cal;     /* NULL: ft_calibration_default() (metric must agree) */
    /* Course-aware search (search/search.c, DESIGN): the event-wide matches
    ** are anchors; every other camera is searched again inside the time
    ** window in which the person could pass it from the anchors, at the
    ** threshold that window's own gallery allows. */
    int course;          /* 1 (default): windows; 0: event-wide only */
    double min_pace_kmh; /* slowest pace a window allows: default 2.5 (a walking
                              child); the fastest is max_speed_kmh */
    double pace_band;    /* with anchors at >= 2 places, a window allows the
                              fitted pace divided or multiplied by this (within
                              min_pace_kmh .. max_speed_kmh); default 1.5 */
    int expand;          /* 1 (default): windows are also searched with the
                              anchors' own descriptors (the person as the cameras
                              saw them that day); 0: the query photos only */
    /* Sightings a person has confirmed, by eye, to be this person (e.g. from
    ** the possible tier): each is a confirmed appearance and an anchor of the
    ** course windows, whatever its distance; NULL: none. An id the event
    ** does not hold is FT_EINVAL. */
    const int64_t *confirmed;
    int n_confirmed;
} ft_search_params;

ft_search_params ft_search_default_params(void);

typedef struct ft_appearance {
    char camera_id[FT_CAMERA_ID_MAX];
    double km;
    int64_t first_us, last_us; /* wall clock */
    double distance;           /* best descriptor distance of its sightings */
    double expected_false;     /* false matches to expect at that distance in this gallery */
    double score;              /* 0..1: 1 - min(1, expected_false); higher is surer */
    int extrapolated;          /* the calibration extrapolated at this distance */
    int tracks;                /* sightings merged */
    int64_t best_sighting;     /* the closest sighting (its thumbnail is the appearance's) */
    int possible;              /* 1: a weaker candidate (beyond max_false_matches, within
                                   possible_false_matches): for a person to judge */
    int plausible;             /* 0: needs an impossible speed given stronger appearances */
    char why[160];             /* why it is implausible */
    int window;                /* 1: found inside a course window (not event-wide) */
    int64_t gallery;           /* descriptors it was compared with: the event's, or its
                                  window's; expected_false is for this gallery and the
                                  number of probe descriptors */
    int64_t window_from_us, window_to_us; /* the window (window = 1) */
    int by_person; /* 1: confirmed by a person (ft_search_params.confirmed) */
    int anchor;    /* 1: the course windows were taken from it (confirmed, and at
                   most max_false_matches / (cameras - 1) false matches
                   expected: were it a stranger, the windows would follow
                   that stranger) */
} ft_appearance;

typedef struct ft_estimate {
    int valid; /* 0: no plausible appearance */
    int64_t at_us;
    double km;         /* estimated position at at_us */
    double pace_kmh;   /* from the appearances; NaN if unknown */
    int pace_from_fit; /* 1: fitted on >= 2 appearances; 0: assumed (typical pace) */
    int has_next;
    char next_camera[FT_CAMERA_ID_MAX];
    double next_km;
    int64_t eta_us; /* when the person should reach next_camera */
} ft_estimate;

typedef struct ft_search_result {
    int n_appearances; /* plausible ones, in time order: the timeline */
    ft_appearance *appearances;
    int n_flagged; /* implausible ones (left out of the timeline) */
    ft_appearance *flagged;
    double threshold; /* distance below which a match is kept */
    int threshold_extrapolated;
    double fmr;                /* the false-match rate per comparison at threshold */
    double possible_threshold; /* distance below which a possible candidate is kept (0: none) */
    int64_t gallery;           /* descriptors compared */
    int candidates;            /* sightings within the threshold before merging */
    ft_estimate estimate;
    int probes;  /* query descriptors searched with (one per photo) */
    int anchors; /* event-wide matches the windows were taken from */
    int windows; /* cameras searched again inside a window */
    /* The two tiers: the false matches to expect among all the confirmed
    ** appearances of this search (the event-wide bound, every window's, and
    ** the anchors' own times the windows: a stranger as anchor would lead
    ** each window astray), and among the possible ones (0 when not asked
    ** for). */
    double expected_false_confirmed, expected_false_possible;
} ft_search_result;

/* Searches for the person whose descriptor is query. FT_EINVAL for bad
** parameters (message via ft_searcher_errmsg, the calling thread's). */
int ft_searcher_search(ft_searcher *s, const float query[FT_DESCRIPTOR_DIM],
                       const ft_search_params *p, ft_search_result *out /* OUT */);
/* The same with n (1 .. FT_SEARCH_MAX_PROBES) descriptors of one person,
** e.g. one per photo (queries: n x FT_DESCRIPTOR_DIM floats): a sighting's
** distance is the smallest over them, and the false-match accounting counts
** n comparisons per gallery descriptor. */
#define FT_SEARCH_MAX_PROBES 16
int ft_searcher_search_multi(ft_searcher *s, const float *queries, int n, const ft_search_params *p,
                             ft_search_result *out /* OUT */);
const char *ft_searcher_errmsg(const ft_searcher *s);
void ft_search_result_free(ft_search_result *r);

/* ------------------------------------------------------------------------ */
/* The query photo (search/query.c)                                         */
/* ------------------------------------------------------------------------ */

/* How the query face was found. */
enum ft_query_how {
    FT_QUERY_DIRECT = 0,         /* the detector on the photo */
    FT_QUERY_TILED = 1,          /* in 512-px tiles of a large photo */
    FT_QUERY_PADDED = 2,         /* on the photo padded on all sides (a tight crop) */
    FT_QUERY_OTHER_DETECTOR = 3, /* the second detector on the photo */
    FT_QUERY_OTHER_PADDED = 4,   /* the second detector on the padded photo */
};

typedef struct ft_query_params {
    ft_detect_params detect;    /* the event's descriptor space (ft_detect_params_for_space
                                  with ft_store_descriptor_space): the query must be
                                  described as ingest did; tile_px is ignored */
    int face;                   /* use the N-th largest face (1 = largest; default 1) */
    int retry;                  /* 1 (default): pad and try the other detector before
                                  giving up; 0: one attempt */
    int min_reliable_px;        /* warn below this face height; default 60 */
    float min_reliable_quality; /* warn below this quality; default 0.25 */
} ft_query_params;

ft_query_params ft_query_default_params(void);

/* Sets qp->detect to describe photos as the event in st was ingested (its
** descriptor space, ft_store_descriptor_space; an event without descriptors
** yet takes the default pipeline's) and points *cal (if cal is not NULL)
** at that space's calibration; space (if not NULL, space_len bytes) gets the space's name.
** FT_EINVAL with a message in err when the event's space is one this
** version cannot search; store errors. */
int ft_query_params_for_store(ft_store *st, ft_query_params *qp, const ft_calibration **cal,
                              char *space, size_t space_len, char *err, size_t errlen);

typedef struct ft_query {
    int width, height; /* the photo's */
    int n_faces;       /* faces found (by the attempt that found any) */
    int used;          /* 1-based by size */
    int how;           /* enum ft_query_how */
    ft_face face;      /* the face used, in the photo's coordinates, described */
    float quality;     /* ft_face_quality of it */
    char warning[200]; /* "" or why the matches are less reliable */
} ft_query;

/* Finds the query face in a photo and describes it (search/query.c has the
** order of attempts). Errors: FT_ENOTFOUND (no face, after every retry),
** FT_EINVAL (no face number params->face; bad parameters), FT_EMODEL,
** FT_ENOMEM, FT_EBACKEND; err gets a one-line message in the user's terms. */
int ft_query_face(ft_engine *eng, const ft_image *img, const ft_query_params *params,
                  ft_query *out /* OUT */, char *err, size_t errlen);
/* "found after padding the photo (a tight crop)", ...; never NULL. */
const char *ft_query_how_name(int how);

/* ------------------------------------------------------------------------ */
/* Photos to answer, and the answer as JSON (search/report.c)               */
/* ------------------------------------------------------------------------ */

/* The whole search from photos of one person (n in 1 .. FT_SEARCH_MAX_PROBES):
** each photo's face found and described (ft_query_face with qp: set it with
** ft_query_params_for_store), then ft_searcher_search_multi with sp. The
** CLI, the server and the benchmarks all make this call. queries gets n
** entries; on an error about one photo, *failed (optional) is its index
** (else -1). Errors as ft_query_face and ft_searcher_search_multi; err gets
** a one-line message. */
int ft_search_photos(ft_engine *eng, ft_searcher *s, const ft_image *const *photos, int n,
                     const ft_query_params *qp, const ft_search_params *sp,
                     ft_query *queries /* OUT: n */, ft_search_result *out /* OUT */,
                     int *failed /* OUT, optional */, char *err, size_t errlen);

/* "confirmed" (by a person), "possible", "strong" (at most 0.001 false
** matches expected) or "good". */
const char *ft_appearance_strength(const ft_appearance *a);

/* The answer as one line of JSON (the schema `facetrail search --help`
** gives): the query photos (names[i] as their "file", may be NULL), what
** was searched, the timeline, the flagged appearances and the estimate.
** Thumbnails: with thumb_prefix NULL, each is a data: URI of the JPEG read
** from st; else the text thumb_prefix + sighting id + "/thumbnail" (a link,
** e.g. "/api/v1/sightings/"). *out is freed with ft_store_free. FT_EINVAL,
** FT_ENOMEM. */
int ft_search_json(ft_store *st, const ft_searcher *s, const ft_search_result *r,
                   const ft_query *queries, const char *const *names, int n_queries,
                   const char *thumb_prefix, char **out /* OUT */);

/* One answer from the answers of several shards (search nodes holding
** some cameras each), all in ft_search_json's schema with the thumbnails
** inline: the query photos of base (the asking node's answer, or NULL),
** every shard's appearances in time order, the flagged ones, what was
** searched summed (sightings, descriptors, expected false matches; the
** highest threshold), "shards": n answered of "shards_asked": asked, and
** the estimate of the shard whose
** latest appearance is the latest (a shard does not see the others'
** appearances: its estimate and course windows use its own cameras only).
** *out freed with ft_store_free; *n_appearances (may be NULL): the merged
** timeline's length. FT_EFORMAT for an answer that is not in the schema
** (the message in err), FT_EINVAL, FT_ENOMEM. */
int ft_search_json_merge(const char *base, const char *const *answers, int n, int asked,
                         char **out /* OUT */, int *n_appearances /* OUT */, char *err,
                         size_t errlen);

/* An alert: a sighting that matches a watchlist entry. */
typedef struct ft_alert {
    int64_t watch_id;
    char name[128];
    int64_t sighting_id;
    char camera_id[FT_CAMERA_ID_MAX];
    int64_t time_us;       /* the sighting's best shot */
    double distance;       /* closest of the sighting's and the entry's descriptors */
    double expected_false; /* false alerts to expect at that distance over the event */
    double score;          /* 1 - min(1, expected_false) */
    /* set by ft_watcher_look (0 from ft_watch_check): */
    int64_t track_key; /* the sighting's track */
    int64_t first_us;  /* when the track was first seen */
    int early;         /* 1: raised by a track still in view (sighting_id 0) */
    int follows;       /* 1: the stored sighting of a track that raised an early
                            alert: not news, the link to its sighting */
    char webhook[256]; /* the entry's webhook or "" */
} ft_alert;

/* Checks sighting s against watchlist entries (the caller passes the
** active ones and leaves out what was dismissed). For each entry, the
** smallest distance between the sighting's descriptors and the entry's (in
** cal's metric); an alert when the false matches to expect at that
** distance, FMR x the entry's descriptors x gallery (the event's
** descriptors: every one of them meets the entry in time), are at most
** max_false, and FMR at most max_fmr (the search's policy:
** FT_SEARCH_MAX_FALSE, FT_SEARCH_MAX_FMR). Writes up to cap alerts; returns
** how many matched, or FT_EINVAL. */
int ft_watch_check(const ft_calibration *cal, const ft_watch *entries, int n, const ft_sighting *s,
                   int64_t gallery, double max_false, double max_fmr, ft_alert *out /* OUT */,
                   int cap);

/* A watcher: the active watchlist in memory, checked against tracks in
** view (ft_ingest_params.on_track) and stored sightings, one alert per
** entry and track. Thread-safe: live ingests and a store poller may look at
** once.
**   ft_watcher_set    the active entries (copied) and the event's gallery
**                     (descriptors) at the caller's refresh;
**   ft_watcher_look   a sighting: a track in view (id 0) or a stored one.
**                     An entry expired at the sighting's last_us does not
**                     alert. The first match of (entry, camera, track) is an
**                     alert (early when id is 0); later looks at a track in
**                     view are quiet; the stored sighting of a track that
**                     alerted early comes back once with follows = 1. The
**                     caller leaves out stored sightings dismissed for an
**                     entry (ft_store_watch_dismissed).
** The last FT_WATCHER_TRACKS (entry, camera, track) alerts are remembered. */
#define FT_WATCHER_TRACKS 4096
typedef struct ft_watcher ft_watcher;
/* cal and max_false as ft_watch_check's (FT_SEARCH_MAX_FMR applies too);
** cal is borrowed and must outlive the watcher. FT_EINVAL, FT_ENOMEM. */
int ft_watcher_create(const ft_calibration *cal, double max_false, ft_watcher **out /* OUT */);
void ft_watcher_destroy(ft_watcher *w);
int ft_watcher_set(ft_watcher *w, const ft_watch *entries, int n, int64_t gallery);
/* Writes up to cap alerts; returns how many there are, or FT_EINVAL. */
int ft_watcher_look(ft_watcher *w, const ft_sighting *s, ft_alert *out /* OUT */, int cap);
/* Entries currently held. */
int ft_watcher_count(ft_watcher *w);

/* An alert as one line of JSON, the schema of the server's event stream
** and webhooks: watchlist, name, camera, km, time (ISO 8601 UTC), score,
** expected_false, sighting (null for an early alert), thumbnail (the text
** given), track ("CAMERA/KEY"), first_seen (ISO 8601 UTC; null if unset)
** and early. *out is freed with ft_store_free.
** FT_ENOMEM. */
int ft_alert_json(const ft_alert *a, double km, const char *thumbnail, char **out /* OUT */);

/* Base64 of n bytes into out (room for 4 * ceil(n / 3) + 1 bytes, NUL
** written); returns the length. */
size_t ft_base64(const unsigned char *p, size_t n, char *out);

#ifdef __cplusplus
}
#endif
#endif
