/*
** facetrail/store.h: the event store: one SQLite database file per event,
** holding cameras, ingests (one per video) and their sightings (face tracks
** with a best shot, a JPEG thumbnail and up to three 128-d descriptors).
** Included by facetrail.h; may also be included on its own.
**
** OVERVIEW
**     ft_store *st;
**     if (ft_store_open("race.ftdb", FT_STORE_CREATE, &st) != FT_OK)
**         fprintf(stderr, "%s\n", ft_store_errmsg(NULL));   // why open failed
**     ft_camera c = { .id = "km05-north", .name = "km 5, north side", .km = 5.0 };
**     ft_store_camera_add(st, &c);
**     int64_t ing, resume;
**     ft_store_ingest_begin(st, "km05-north", "cam5.mp4", start_us, 5.0, &ing, &resume);
**     // ... decode from resume (or 0 when resume is -1), track faces, then per batch:
**     ft_store_ingest_commit(st, ing, sightings, n, checkpoint_us, frames, faces);
**     ft_store_ingest_finish(st, ing, FT_INGEST_DONE, NULL);
**     ft_store_close(st);
**
** DURABILITY
**   The database runs in WAL mode with synchronous=NORMAL. A function that
**   returned FT_OK has committed its transaction: the WAL frames, commit frame
**   included, are in the file (the OS page cache), so they survive the process
**   being killed at any later moment (SIGKILL, OOM killer, crash). A power cut
**   or kernel crash may lose the transactions committed since the last WAL
**   checkpoint (SQLite syncs at each checkpoint, not at each commit); the file
**   stays consistent either way (WAL frames carry checksums, and a transaction
**   without its commit frame is ignored). FT_STORE_DURABLE (synchronous=FULL)
**   syncs the WAL at every commit instead, at a cost in commit rate.
**   A failing call changes nothing: every write is one transaction, rolled
**   back on any error.
**
** TIMES
**   Wall-clock times (*_us) are microseconds since the Unix epoch, UTC.
**   checkpoint_us is a position in the video stream (pts, microseconds from
**   the video's start), not a wall-clock time.
**
** ERRORS
**   Functions return FT_OK or a negative enum ft_status; the text is
**   ft_store_errmsg(st). FT_EFORMAT: not a facetrail database, a schema newer
**   than this build, or a corrupt file. FT_EIO: file system errors, and a
**   database that another writer kept locked for longer than the 5 s busy
**   timeout (the message says "database is locked").
**
** THREADS
**   One thread at a time per ft_store. Several handles (threads or processes)
**   may open the same file: WAL lets readers run beside the one writer.
*/
#ifndef FACETRAIL_STORE_H
#define FACETRAIL_STORE_H

#include "facetrail.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The schema version this build writes (PRAGMA user_version). */
#define FT_STORE_SCHEMA_VERSION 5

typedef struct ft_store ft_store;

enum ft_store_open_flags {
    FT_STORE_CREATE = 1,   /* create the file if missing (and an empty file's schema) */
    FT_STORE_READONLY = 2, /* no writes; the schema must be current already */
    FT_STORE_DURABLE = 4,  /* synchronous=FULL: commits survive power loss too */
};

/* Opens (or, with FT_STORE_CREATE, creates) the database at path and brings
** an older schema up to FT_STORE_SCHEMA_VERSION, one transaction per step.
** Errors: FT_EINVAL (bad flags: CREATE with READONLY, unknown bits; empty
** path), FT_ENOTFOUND (no file and no FT_STORE_CREATE), FT_EFORMAT (not a
** SQLite file, a SQLite file that is not facetrail's, a schema newer than this
** build, corruption), FT_EIO, FT_ENOMEM.
** FT_STORE_READONLY opens an older schema as it is (nothing is upgraded; the
** reading functions work on every released schema).
** On error *out is NULL and ft_store_errmsg(NULL) gives the reason (per
** thread, until this thread's next ft_store_open). */
int ft_store_open(const char *path, int flags, ft_store **out /* OUT */);
/* Closes the database (a WAL checkpoint runs if this is the last handle). */
void ft_store_close(ft_store *st);

/* Message for the last failure on st; "" after a successful call. Borrowed:
** valid until the next call on st. ft_store_errmsg(NULL): why this thread's
** last failing ft_store_open failed. Never NULL. */
const char *ft_store_errmsg(const ft_store *st);

/* Frees memory the store handed out (ft_store_cameras' array, a thumbnail
** from ft_store_sighting_get, ft_image_encode_jpeg's output). NULL is a no-op. */
void ft_store_free(void *p);

/* PRAGMA quick_check: FT_OK, or FT_EFORMAT with the first problem in the
** message. Reads the whole file (seconds for gigabytes). */
int ft_store_check(ft_store *st);

/* ------------------------------------------------------------------------ */
/* Settings                                                                 */
/* ------------------------------------------------------------------------ */

#define FT_STORE_META_KEY_MAX   256   /* bytes of a setting's key, NUL included */
#define FT_STORE_META_VALUE_MAX 65536 /* bytes of a setting's value, NUL included */

/* The event's key/value settings (e.g. "time_zone" -> "Europe/Paris"), kept
** in the database. ft_store_meta_get copies the value of key, NUL-terminated,
** into out (out_len bytes). Errors: FT_ENOTFOUND (no such key; also on a
** database of an older schema opened read-only), FT_ETOOBIG (the value needs
** more than out_len bytes; out is ""), FT_EINVAL (no key, key too long, no
** buffer). */
int ft_store_meta_get(ft_store *st, const char *key, char *out /* OUT */, size_t out_len);
/* Sets key to value (replacing an earlier value), in one transaction. The
** key is 1..FT_STORE_META_KEY_MAX - 1 bytes, the value text of up to
** FT_STORE_META_VALUE_MAX - 1 bytes (may be ""). FT_EINVAL for bad
** arguments or a read-only store. */
int ft_store_meta_set(ft_store *st, const char *key, const char *value);

/* The setting that names the descriptor space of the event's descriptors
** (ft_descriptor_space in facetrail.h): set by the first ingest; search
** describes the query photo the same way and uses that space's calibration. */
#define FT_STORE_SPACE_KEY "descriptor_space"
/* The setting that records how the event's descriptors were made
** (ft_pipeline_describe), set with FT_STORE_SPACE_KEY. */
#define FT_STORE_PIPELINE_KEY "pipeline"
/* Setting FT_STORE_LIVE_URL_PREFIX + camera id: the camera's live source (a
** URL or stream path) that `facetrail serve` ingests from its start until
** the camera is stopped; "" or absent: none. */
#define FT_STORE_LIVE_URL_PREFIX "live_url:"
/* The space made before that setting existed (face-api's net on dlib's chip
** from the 68 points: the only pipeline ingest had then). */
#define FT_STORE_SPACE_LEGACY "faceapi-chip68"
/* The event's descriptor space into out: the setting; else, for a database
** from before it, FT_STORE_SPACE_LEGACY when it holds descriptors and ""
** when it holds none (any pipeline may start it). FT_ETOOBIG, store errors. */
int ft_store_descriptor_space(ft_store *st, char *out /* OUT */, size_t out_len);

/* ------------------------------------------------------------------------ */
/* Cameras                                                                  */
/* ------------------------------------------------------------------------ */

#define FT_CAMERA_ID_MAX   64  /* bytes, NUL included */
#define FT_CAMERA_NAME_MAX 128 /* bytes, NUL included */

typedef struct ft_camera {
    char id[FT_CAMERA_ID_MAX];     /* 1..63 printable ASCII bytes, no blanks: "km05-north" */
    char name[FT_CAMERA_NAME_MAX]; /* free text (UTF-8), may be empty */
    double km;                     /* position along the course, finite */
    double lat, lon;               /* WGS84 degrees; used only when has_latlon */
    int has_latlon;
} ft_camera;

/* Adds a camera. FT_EINVAL: a bad id (empty, too long, not NUL-terminated,
** blanks or non-ASCII), a name not NUL-terminated, non-finite km, lat outside
** [-90, 90] or lon outside [-180, 180] (or non-finite), or "camera X exists". */
int ft_store_camera_add(ft_store *st, const ft_camera *c);
/* FT_ENOTFOUND if there is no camera id. */
int ft_store_camera_get(ft_store *st, const char *id, ft_camera *out /* OUT */);
/* All cameras ordered by km, then id. *out (NULL when *n is 0) is freed with
** ft_store_free. */
int ft_store_cameras(ft_store *st, ft_camera **out /* OUT */, int *n /* OUT */);

/* ------------------------------------------------------------------------ */
/* Ingests and sightings                                                    */
/* ------------------------------------------------------------------------ */

enum ft_ingest_status {
    FT_INGEST_RUNNING = 0,
    FT_INGEST_DONE = 1,
    FT_INGEST_FAILED = 2,
};

enum ft_ingest_flags {
    FT_INGEST_FORCE = 1, /* start over: delete the earlier run's sightings (any status) */
};

#define FT_STORE_SOURCE_MAX  1024 /* bytes of an ingest's source, NUL included */
#define FT_SIGHTING_MAX_DESC 3
#define FT_STORE_THUMB_MAX   (1u << 20) /* largest thumbnail accepted, bytes */

/* One face track seen by one camera in one ingest. */
typedef struct ft_sighting {
    int64_t id;                         /* OUT on read; ignored on write */
    int64_t ingest_id;                  /* on write: 0 or the ingest committed to */
    char camera_id[FT_CAMERA_ID_MAX];   /* on write: "" or the ingest's camera */
    int64_t track_key;                  /* caller's key, deterministic per ingest (unique in it) */
    int64_t first_us, last_us, best_us; /* wall clock; first <= best <= last */
    float box[4];                       /* best shot x, y, w, h in image pixels (w, h >= 0) */
    float face_px;                      /* face height in pixels, >= 0 */
    float det_score;                    /* detector score of the best shot */
    float quality;                      /* caller's quality score of the best shot */
    int n_frames;                       /* frames in the track, >= 0 */
    const unsigned char *thumbnail;     /* JPEG (starts FF D8 FF) or NULL */
    size_t thumbnail_len;               /* 0 .. FT_STORE_THUMB_MAX; on read: stored length */
    int n_desc;                         /* 0 .. FT_SIGHTING_MAX_DESC */
    float desc[FT_SIGHTING_MAX_DESC][FT_DESCRIPTOR_DIM]; /* finite values */
    float desc_quality[FT_SIGHTING_MAX_DESC];
} ft_sighting;

/* Starts, or resumes, the ingest of one video: source as given (a path),
** start_us the wall-clock time of the video's pts 0, sample_fps the rate at
** which frames are analysed (finite, >= 0; 0: every frame).
**   - no earlier run of (camera_id, source, start_us): a new ingest,
**     *resume_from_us = -1;
**   - an earlier run that is 'running' (its process died) or 'failed': it is
**     resumed: status back to 'running', *resume_from_us = its checkpoint
**     (-1 if nothing was committed). Its sample_fps must be the same
**     (FT_EINVAL otherwise: different sampling gives different tracks);
**   - an earlier run that is 'done': FT_EINVAL "already ingested".
** ft_store_ingest_begin_ex with FT_INGEST_FORCE instead deletes the earlier
** run's sightings (descriptors, thumbnails) and counters and starts afresh
** under the same id (*resume_from_us = -1).
** Errors: FT_EINVAL (bad arguments, see above), FT_ENOTFOUND (no such camera). */
int ft_store_ingest_begin(ft_store *st, const char *camera_id, const char *source, int64_t start_us,
                          double sample_fps, int64_t *ingest_id /* OUT */,
                          int64_t *resume_from_us /* OUT */);
int ft_store_ingest_begin_ex(ft_store *st, const char *camera_id, const char *source,
                             int64_t start_us, double sample_fps, int flags,
                             int64_t *ingest_id /* OUT */, int64_t *resume_from_us /* OUT */);

/* What identifies a video whatever its path: two files with the same size,
** stream duration and SHA-256 of their first FT_STORE_CONTENT_HEAD bytes are
** taken for the same video (a copy, or the same file under another name).
** ft_ingest_run fills it from the file it opens. */
#define FT_STORE_CONTENT_HEAD (1 << 20)
typedef struct ft_store_content {
    int64_t size;             /* bytes of the file, >= 0 */
    int64_t duration_us;      /* stream duration, -1 if unknown */
    unsigned char sha256[32]; /* SHA-256 of the first min(size, FT_STORE_CONTENT_HEAD) bytes */
} ft_store_content;

/* As ft_store_ingest_begin_ex, with the video's identity (NULL: match by
** source text only, as ft_store_ingest_begin_ex does). The earlier run is
** looked up first by content (same camera, start and identity, any source
** path), then by source path; then:
**   - the same video under another path: that ingest (resumed, or "already
**     ingested"); its source stays the path first given;
**   - the same path, a different video (the file was replaced): FT_EINVAL,
**     never resumed into; with FT_INGEST_FORCE the ingest is redone from
**     scratch with the new video (the earlier sightings are deleted);
**   - a run stored before schema v3 (no identity) matched by path: resumed
**     as before, and it takes this identity.
** Every begin also takes the camera's ingest lease (one process at a time
** ingests a camera; every commit renews it, finish and ft_store_close
** release it). FT_EIO if a live process holds it: the message names the
** camera, the process, its host and since when. A lease whose holder died
** (on this host) or that was not renewed for 10 minutes is taken over. */
int ft_store_ingest_begin_content(ft_store *st, const char *camera_id, const char *source,
                                  const ft_store_content *content /* optional */, int64_t start_us,
                                  double sample_fps, int flags, int64_t *ingest_id /* OUT */,
                                  int64_t *resume_from_us /* OUT */);

/* In ONE transaction: inserts n sightings with their descriptors and
** thumbnails, advances the ingest's checkpoint to checkpoint_us (>= 0; it
** never moves back) and adds frames and faces (counts since the last commit,
** >= 0) to its counters. A sighting whose track_key the ingest already has is
** skipped whole (the stored one wins), so a resumed ingest that repeats
** tracks never duplicates them. Every sighting is checked first; one bad
** sighting rejects the batch (FT_EINVAL, the message names it).
** The commit renews the camera's ingest lease (see
** ft_store_ingest_begin_content); FT_EIO if another process took it over.
** Errors: FT_EINVAL, FT_ETOOBIG (thumbnail), FT_ENOTFOUND (no such ingest),
** FT_EINVAL "not running" (finished ingest), FT_EIO, FT_ENOMEM. */
int ft_store_ingest_commit(ft_store *st, int64_t ingest_id, const ft_sighting *s, int n,
                           int64_t checkpoint_us, int64_t frames, int64_t faces);

/* Marks a running ingest FT_INGEST_DONE or FT_INGEST_FAILED with an optional
** error text (kept up to 4000 bytes). FT_EINVAL for another status or an
** ingest that is not running, FT_ENOTFOUND. */
/* As ft_store_ingest_commit, and in the same transaction stores state (an
** opaque blob of the caller's, e.g. its live tracks at the checkpoint; NULL
** or 0 bytes clears it), which ft_store_ingest_state returns after a crash. */
int ft_store_ingest_commit_state(ft_store *st, int64_t ingest_id, const ft_sighting *s, int n,
                                 int64_t checkpoint_us, int64_t frames, int64_t faces,
                                 const void *state, size_t state_len);

/* The state saved by the last ft_store_ingest_commit_state of the ingest:
** *out (free with ft_store_free) and its length, or NULL and 0 if none.
** FT_ENOTFOUND for an unknown ingest. */
int ft_store_ingest_state(ft_store *st, int64_t ingest_id, unsigned char **out /* OUT */,
                          size_t *out_len /* OUT */);

int ft_store_ingest_finish(ft_store *st, int64_t ingest_id, int status, const char *error_text);

typedef struct ft_ingest {
    int64_t id;
    char camera_id[FT_CAMERA_ID_MAX];
    char source[FT_STORE_SOURCE_MAX];
    int64_t start_us;
    double sample_fps;
    int status;            /* enum ft_ingest_status */
    int64_t checkpoint_us; /* -1: nothing committed */
    int64_t frames, faces; /* counters summed over commits */
    int64_t n_sightings;   /* stored sightings of this ingest */
    int64_t started_us;    /* wall clock of the last (re)start */
    int64_t finished_us;   /* -1 while running */
    char error[256];       /* "" if none (longer texts are cut here) */
} ft_ingest;

/* FT_ENOTFOUND if there is no ingest id. */
int ft_store_ingest_get(ft_store *st, int64_t ingest_id, ft_ingest *out /* OUT */);

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */
/* ------------------------------------------------------------------------ */

/* Callbacks return 0 to go on; any other value stops the walk and is
** returned by the walking function as is (so return a negative ft_status, or
** a positive code of your own). A callback may call the other reading
** functions on st, but neither a walk nor a write (FT_EINVAL). */
typedef int (*ft_store_descriptor_fn)(int64_t sighting_id, int n, const float *vec, void *ctx);
typedef int (*ft_store_sighting_fn)(const ft_sighting *s, void *ctx);

/* Every stored descriptor (128 floats, valid during the call), in storage
** order: for loading the in-memory index at start-up. A stored vector that is
** not 512 bytes stops the walk with FT_EFORMAT. */
int ft_store_foreach_descriptor(ft_store *st, ft_store_descriptor_fn fn, void *ctx);

/* Sighting id with its descriptors. thumb NULL: out->thumbnail is NULL and
** out->thumbnail_len the stored length. thumb given: *thumb is a copy of the
** JPEG (NULL if none; free with ft_store_free), also set as out->thumbnail.
** FT_ENOTFOUND if there is no sighting id. */
int ft_store_sighting_get(ft_store *st, int64_t id, ft_sighting *out /* OUT */,
                          unsigned char **thumb /* OUT, optional */);

/* Sightings whose best_us is in [from_us, to_us), of one camera (or all when
** camera_id is NULL), ordered by best_us then id, each with its descriptors
** but without thumbnail bytes (thumbnail NULL, thumbnail_len stored length). */
int ft_store_sightings_between(ft_store *st, int64_t from_us, int64_t to_us, const char *camera_id,
                               ft_store_sighting_fn fn, void *ctx);

/* Counts, and the time span of the sightings: min_us the earliest first_us,
** max_us the latest last_us (search's "now"); both 0 when there are no
** sightings. Every pointer may be NULL. One consistent snapshot. */
/* Every sighting in id order, read quickly for loading an index: only id,
** ingest_id, camera_id, track_key and the three times are set (n_desc 0, no
** box, thumbnail_len 0); the descriptors come from
** ft_store_foreach_descriptor. */
int ft_store_sightings_brief(ft_store *st, ft_store_sighting_fn fn, void *ctx);

/* ------------------------------------------------------------------------ */
/* The watchlist (store/watchlist.c)                                        */
/* ------------------------------------------------------------------------ */

#define FT_WATCH_MAX_DESC 16

/* A person to raise an alert for when a camera sees them. */
typedef struct ft_watch {
    int64_t id; /* OUT on add */
    char name[128];
    char reason[256]; /* the case reason */
    int64_t created_us;
    int64_t expires_us; /* 0: never */
    char webhook[256];  /* "" or a URL the alerts are POSTed to */
    int n_desc;         /* 1 .. FT_WATCH_MAX_DESC */
    float desc[FT_WATCH_MAX_DESC][FT_DESCRIPTOR_DIM];
} ft_watch;

/* Adds an entry (id and created_us are set). FT_EINVAL (no name, no or too
** many descriptors, non-finite values), store errors. */
int ft_store_watch_add(ft_store *st, ft_watch *w);
/* Stores w under its own id (>= 1) as it is, created_us included: a new
** entry, or a new text of the entry with that id (its dismissals stay). For
** a copy of another store's watchlist (a cluster's search nodes). Later
** ft_store_watch_add never hands out an id up to w->id. FT_EINVAL (as add,
** or an id < 1), store errors. */
int ft_store_watch_put(ft_store *st, const ft_watch *w);
/* The entries, oldest first; with now_us > 0 only those not expired at
** now_us. *out is freed with ft_store_free (NULL when *n is 0). */
int ft_store_watch_list(ft_store *st, int64_t now_us, ft_watch **out /* OUT */, int *n /* OUT */);
/* Removes an entry and its dismissals. FT_ENOTFOUND. */
int ft_store_watch_remove(ft_store *st, int64_t id);
/* "Not this person": sighting never alerts entry id again. FT_ENOTFOUND
** for an unknown entry. */
int ft_store_watch_dismiss(ft_store *st, int64_t id, int64_t sighting_id);
/* 1 if sighting_id was dismissed for entry id, else 0 (negative: error). */
int ft_store_watch_dismissed(ft_store *st, int64_t id, int64_t sighting_id);
/* Sightings with an id above after_id, in id order, at most max, each with
** its descriptors (no thumbnail bytes): what was committed since a reader
** last looked. */
int ft_store_sightings_after(ft_store *st, int64_t after_id, int max, ft_store_sighting_fn fn,
                             void *ctx);

/* A number that changes whenever another handle (this process's or
** another's) commits to the database (SQLite's PRAGMA data_version): a
** cheap test for "anything new?" before ft_store_stats, which counts rows. */
int ft_store_data_version(ft_store *st, int64_t *out /* OUT */);
int ft_store_stats(ft_store *st, int64_t *n_cameras, int64_t *n_sightings, int64_t *n_descriptors,
                   int64_t *min_us, int64_t *max_us);

/* ------------------------------------------------------------------------ */
/* The audit log (store/audit.c)                                            */
/* ------------------------------------------------------------------------ */

/* One act of a person on the event's data: a search, a selfie lookup, a
** watchlist change, an alert accepted or dismissed, a purge, an export, a
** camera added. Records are only ever appended.
**
** TAMPERING
**   Two guards. (1) In SQL: triggers abort every UPDATE and DELETE of an
**   audit row, whoever runs it (this library, the sqlite3 shell, another
**   program), so the log cannot be edited by mistake. (2) The hash chain:
**   hash = SHA-256(previous record's hash || this record's fields), so an
**   edit made where the triggers do not reach (the triggers dropped first,
**   or the file's bytes changed) breaks the chain at the edited record, and
**   ft_store_audit_verify names it. Exact form (an outside verifier can redo
**   it): the previous hash as 64 lowercase hex characters (64 '0' for the
**   first record), then each of id, time_us, who, role, action, reason,
**   photo_sha256, results, detail as a netstring "<decimal length>:<bytes>,"
**   (integers in decimal ASCII, "-" for a negative); the digest is stored
**   as 64 lowercase hex characters. Removing the newest records (or all of
**   them) leaves a shorter chain that still verifies: keep the head hash
**   (ft_store_audit_list's last record, `facetrail audit --verify`)
**   somewhere else to detect that. */
typedef struct ft_audit {
    int64_t id;            /* OUT on append: 1, 2, 3, ... */
    int64_t time_us;       /* OUT on append: wall clock, UTC */
    char who[64];          /* the person (user or token name), not empty */
    char role[16];         /* e.g. "admin", "operator", not empty */
    char action[32];       /* "search", "selfie", "watch_add", "watch_remove", "alert_accept",
                             "alert_dismiss", "purge", "export", "camera_add", ... */
    char reason[256];      /* the case reason, "" if none */
    char photo_sha256[65]; /* ft_sha256_hex of the query photo, "" if none */
    int64_t results;       /* number of results shown, >= 0 */
    char detail[256];      /* free text */
    char hash[65];         /* OUT on append: the chain's hash, lowercase hex */
} ft_audit;

/* SHA-256 of n bytes as 64 lowercase hex characters and a NUL (libavutil's
** hash). FT_OK, FT_EINVAL (NULL data with n > 0, or no out), FT_ENOMEM. */
int ft_sha256_hex(const void *data, size_t n, char out[65] /* OUT */);

/* Appends a record: sets a->id, a->time_us (now) and a->hash, in one
** transaction. FT_EINVAL: no action, who or role empty, a text field not
** NUL-terminated in its array, photo_sha256 neither "" nor 64 hex digits,
** results < 0, a read-only store. Store errors (FT_EIO, ...). */
int ft_store_audit_append(ft_store *st, ft_audit *a);
/* The records with time_us >= since_us (0: all), in id order. *out is freed
** with ft_store_free (NULL when *n is 0). A read-only handle may list; a
** database of an older schema opened read-only has no records. */
int ft_store_audit_list(ft_store *st, int64_t since_us, ft_audit **out /* OUT */, int *n /* OUT */);
/* Recomputes the chain over all records in id order. FT_OK with *bad_id 0
** when every record's hash is what its fields and the previous hash give,
** or with *bad_id the first record where that fails (that record, or the
** one after a removed or changed record). Store errors otherwise. Works on
** a read-only handle. */
int ft_store_audit_verify(ft_store *st, int64_t *bad_id /* OUT */);

/* ------------------------------------------------------------------------ */
/* Retention (store/purge.c)                                                */
/* ------------------------------------------------------------------------ */

typedef struct ft_purge_report {
    int64_t sightings, descriptors, thumbnails; /* rows removed */
    int64_t watch_entries, dismissals;          /* watchlist rows removed */
    int64_t resume_states;                      /* ingests' saved live tracks cleared */
    int64_t bytes_before, bytes_after;          /* the database's size (pages x page size) */
} ft_purge_report;

/* Removes the event's personal data from before before_us, and the bytes
** that held it:
**   - sightings whose last_us < before_us, with their descriptors,
**     thumbnails and the dismissals that name them;
**   - watchlist entries created before before_us, or that expired before
**     it, with their dismissals;
**   - the saved live tracks (ft_store_ingest_commit_state) of ingests that
**     are not running or whose checkpoint lies before before_us.
** Cameras, ingests, settings and the audit log are kept; the caller
** appends the audit record of the purge (this function writes none).
** The rows go in one transaction with PRAGMA secure_delete on (freed space
** is overwritten with zeros); then the WAL is checkpointed and truncated,
** VACUUM rebuilds the file, and the WAL is checkpointed and truncated
** again, so that no byte of a removed thumbnail or descriptor is left in
** the database file or its -wal. INT64_MAX purges everything.
** Readers: a checkpoint cannot copy past the snapshot of a reader in an
** open read transaction (another handle, another process: a server in the
** middle of a search). The purge waits up to the busy timeout (5 s) for
** them, then fails FT_EIO with a message saying so; the rows are deleted
** by then (out's counts say how many) but their bytes may remain until
** a purge runs again with no reader in the way (it then deletes nothing
** more and reclaims the space). Idle handles do not hold snapshots and do
** not get in the way.
** Errors: FT_EINVAL (read-only store, no out), FT_EIO, store errors. */
int ft_store_purge(ft_store *st, int64_t before_us, ft_purge_report *out /* OUT */);

/* What ft_store_purge(st, before_us) would remove, counted without
** changing anything (bytes_after is 0). Works on a read-only handle. */
int ft_store_purge_preview(ft_store *st, int64_t before_us, ft_purge_report *out /* OUT */);

/* Retention after the event: the event's end is the latest sighting's
** last_us, or an ingest's end (start_us + checkpoint) when later; the data
** is to go keep_days (0..36500) days after it. Returns 1 when now_us is at
** or past that moment (*before_us is INT64_MAX: everything goes), 0 when
** not yet (*before_us 0: nothing goes); *due_us is the moment either way,
** *end_us the event's end (either may be NULL). FT_ENOTFOUND: no sighting
** and no ingest checkpoint (the event has no end yet); FT_EINVAL. */
int ft_store_purge_due(ft_store *st, int keep_days, int64_t now_us, int64_t *before_us /* OUT */,
                       int64_t *due_us /* OUT */, int64_t *end_us /* OUT */);

/* ------------------------------------------------------------------------ */
/* Replication (store/replica.c)                                            */
/* ------------------------------------------------------------------------ */

/* One committed sighting with everything another store needs to hold it the
** same way: its camera, its ingest's identity (camera, source, start,
** sampling) and the event's descriptor space. Ingest nodes of a cluster
** publish these; search nodes apply them to their own store.
** IDENTITY
**   A replica is known by (camera id, ingest start_us, source, track_key):
**   the same video ingested twice, on one machine or on two, gives the same
**   tracks under the same keys, so the same replica (ft_replica_msg_id). */
typedef struct ft_replica {
    ft_camera camera;                 /* the sighting's camera (id, name, km, lat/lon) */
    char source[FT_STORE_SOURCE_MAX]; /* the ingest's source as given */
    int64_t start_us;                 /* the ingest's start (wall clock of pts 0) */
    double sample_fps;                /* the ingest's sampling, >= 0 */
    char space[64];                   /* FT_STORE_SPACE_KEY of the event, not empty */
    char pipeline[512];               /* FT_STORE_PIPELINE_KEY, may be empty */
    ft_sighting s; /* camera_id "" or camera.id; id and ingest_id: the sender's in a
                      walk, 0 after decode (not sent), ignored by apply */
} ft_replica;

/* Bytes of a replica's id (ft_replica_msg_id), NUL included. */
#define FT_REPLICA_ID_MAX 160

/* The replica's id: "<camera id>/<start_us>/<track_key>/<8 hex digits of a
** hash of the source>" (the hash is FNV-1a, 32 bits, of the source's bytes,
** lowercase hex). The same sighting always gets the same id. */
void ft_replica_msg_id(const ft_replica *r, char out[FT_REPLICA_ID_MAX] /* OUT */);

/* The versioned binary form ("FTR1", little-endian; layout in replica.c).
** encode: *out (free with ft_store_free), *out_len bytes. FT_EINVAL for a
** replica that ft_store_replica_apply would refuse (bad camera id, no space,
** n_desc out of range, non-finite values, thumbnail too long); FT_ENOMEM.
** decode: fills *out from buf; out->s.thumbnail then points INTO buf (valid
** while buf is). FT_EFORMAT for anything but a well-formed, complete
** message of a known version holding a replica that encode would take
** (never reads past len; *out is zeroed on error). The form is canonical:
** encoding what decode gave returns the same bytes. */
int ft_replica_encode(const ft_replica *r, unsigned char **out /* OUT */,
                      size_t *out_len /* OUT */);
int ft_replica_decode(const unsigned char *buf, size_t len, ft_replica *out /* OUT */);

typedef int (*ft_store_replica_fn)(const ft_replica *r, void *ctx);

/* The sightings with an id above after_id, in id order, at most max, each as
** a replica with its thumbnail bytes (r->s.thumbnail valid during the call)
** and its camera, ingest and the event's space. Callback rules as for the
** other walks. FT_EINVAL: the event has no descriptor space yet while there
** are sightings to walk (cannot happen after an ingest). */
int ft_store_replicas_after(ft_store *st, int64_t after_id, int max, ft_store_replica_fn fn,
                            void *ctx);

/* Applies n replicas in ONE transaction:
**   - the camera is added when the store lacks it (an existing camera is
**     kept as it is);
**   - the event's space and pipeline are set when the store has none; a
**     replica of another space is refused (FT_EINVAL: the batch is
**     rejected, nothing is written);
**   - the ingest (camera, source, start_us) is created when missing,
**     status running, with the replica's sample_fps; it takes no lease;
**   - the sighting is inserted unless that ingest already has its track_key
**     (applying a replica twice changes nothing).
** *n_new (may be NULL) is the number of sightings inserted. Errors:
** FT_EINVAL (a bad replica: the message names it; read-only store), store
** errors; on any error nothing of the batch is written. */
int ft_store_replica_apply(ft_store *st, const ft_replica *r, int n, int *n_new /* OUT */);

/* ------------------------------------------------------------------------ */
/* JPEG encoding (thumbnails)                                               */
/* ------------------------------------------------------------------------ */

/* Encodes img as a baseline JPEG (libjpeg-turbo, YCbCr 4:2:0) at quality
** 1..100. *out (freed with ft_store_free) holds *out_len bytes.
** Errors: FT_EINVAL (bad image or quality), FT_ENOMEM, FT_EBACKEND (libjpeg
** failed); message in err. On error *out is NULL and *out_len 0. */
int ft_image_encode_jpeg(const ft_image *img, int quality, unsigned char **out /* OUT */,
                         size_t *out_len /* OUT */, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* FACETRAIL_STORE_H */
