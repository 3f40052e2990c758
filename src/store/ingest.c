/*
** store/ingest.c: the life of an ingest: begin (or resume, or start over),
** commit batches of sightings with the checkpoint, finish.
**
** DESIGN
**   An ingest is named by (camera_id, video, start_us), the video known by
**   its content (size, duration, SHA-256 of the first MiB: ft_store_content)
**   and, for rows from before schema v3 or callers without an identity, by
**   its source path. Begin looks up content first, then path; the same path
**   with another content is refused (never resumed into) unless forced.
**   Begin and every commit take the camera's lease (lease.c) in their
**   transaction, so two processes never ingest one camera. The ingest process
**   commits in batches: each ft_store_ingest_commit writes its sightings,
**   their descriptors and thumbnails, and moves the checkpoint, in one
**   transaction. After a crash the stored checkpoint is therefore exactly the
**   stream position whose sightings are all stored, and begin hands it back
**   for the caller to resume from. Sightings are keyed by (ingest_id,
**   track_key), and a repeated key is skipped (ON CONFLICT DO NOTHING; the
**   descriptors and thumbnail of a skipped sighting are skipped too), so
**   replaying the stretch around the checkpoint never duplicates a track.
**
**     begin ──► running ──commit*──► finish ──► done
**                  ▲                      └───► failed
**                  └── begin (resume: running after a crash, or failed) ──┘
**     begin on done: FT_EINVAL, unless FT_INGEST_FORCE (sightings deleted,
**     counters and checkpoint reset, same ingest id).
**
** INVARIANTS  (1) every sighting of a batch is validated before the
**                 transaction opens; a batch is stored whole or not at all.
**             (2) checkpoint_us never decreases (max() in the UPDATE).
**             (3) commits and finish touch only 'running' ingests.
**             (4) a stored sighting has exactly n_desc descriptors, n = 0 ..
**                 n_desc - 1, and a thumbnail row iff thumbnail_len > 0.
** OWNERSHIP   Nothing is kept from the caller's sightings after the call.
** SEE ALSO    replica.c, which stores replicated sightings through the same
**             check and insert (ft__store_check_sighting,
**             ft__store_insert_sighting, ft__store_ingest_insert).
*/
#include "store/store.h"

#include <math.h>
#include <string.h>

#define ERROR_TEXT_MAX 4000 /* bytes of an ingest's error text kept */

static const char *const status_text[] = { "running", "done", "failed" };

static int status_of_text(const unsigned char *t)
{
    for (int i = 0; i < 3; i++)
        if (t && strcmp((const char *)t, status_text[i]) == 0) return i;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Begin                                                                    */
/* ------------------------------------------------------------------------ */

int ft_store_ingest_begin(ft_store *st, const char *camera_id, const char *source, int64_t start_us,
                          double sample_fps, int64_t *ingest_id, int64_t *resume_from_us)
{
    return ft_store_ingest_begin_content(st, camera_id, source, NULL, start_us, sample_fps, 0,
                                         ingest_id, resume_from_us);
}

int ft_store_ingest_begin_ex(ft_store *st, const char *camera_id, const char *source,
                             int64_t start_us, double sample_fps, int flags, int64_t *ingest_id,
                             int64_t *resume_from_us)
{
    return ft_store_ingest_begin_content(st, camera_id, source, NULL, start_us, sample_fps, flags,
                                         ingest_id, resume_from_us);
}

/* An earlier run found by begin. */
typedef struct earlier {
    int64_t id, checkpoint;
    int status;
    double fps;
    char source[FT_STORE_SOURCE_MAX];
    int has_content;
    ft_store_content content;
} earlier;

/* Reads the row of FT__STMT_INGEST_FIND or FT__STMT_INGEST_FIND_CONTENT. */
static void read_earlier(sqlite3_stmt *s, earlier *e)
{
    memset(e, 0, sizeof *e);
    e->id = sqlite3_column_int64(s, 0);
    e->status = status_of_text(sqlite3_column_text(s, 1));
    e->checkpoint = sqlite3_column_type(s, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 2);
    e->fps = sqlite3_column_double(s, 3);
    ft__store_copy_text(e->source, sizeof e->source, s, 4);
    if (sqlite3_column_count(s) > 7 && sqlite3_column_type(s, 7) == SQLITE_BLOB &&
        sqlite3_column_bytes(s, 7) == 32) {
        e->has_content = 1;
        e->content.size = sqlite3_column_int64(s, 5);
        e->content.duration_us =
            sqlite3_column_type(s, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 6);
        memcpy(e->content.sha256, sqlite3_column_blob(s, 7), 32);
    }
}

/* "12.3 MB, 16.0 s" */
static void describe_content(const ft_store_content *c, char out[64])
{
    if (c->duration_us >= 0)
        snprintf(out, 64, "%.1f MB, %.1f s", (double)c->size / 1e6, (double)c->duration_us / 1e6);
    else
        snprintf(out, 64, "%.1f MB", (double)c->size / 1e6);
}

static int same_content(const ft_store_content *a, const ft_store_content *b)
{
    return a->size == b->size && a->duration_us == b->duration_us &&
           memcmp(a->sha256, b->sha256, 32) == 0;
}

static int set_content(ft_store *st, int64_t id, const ft_store_content *c)
{
    sqlite3_stmt *s;
    int rc = ft__store_stmt(st, FT__STMT_INGEST_SET_CONTENT, &s);
    if (rc != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, c->size);
    sqlite3_bind_int64(s, 3, c->duration_us);
    sqlite3_bind_blob(s, 4, c->sha256, 32, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    return r == SQLITE_DONE ? FT_OK : ft__store_sqlfail(st, r, "saving the video's identity");
}

/* Finds the earlier run of this video: by content first (any path), then by
** path. 1 if found (in *e), 0 if not, < 0 on error. */
static int find_earlier(ft_store *st, const char *camera_id, const char *source,
                        const ft_store_content *content, int64_t start_us, earlier *e)
{
    sqlite3_stmt *s;
    int rc, r;
    if (content) {
        if ((rc = ft__store_stmt(st, FT__STMT_INGEST_FIND_CONTENT, &s)) != FT_OK) return rc;
        sqlite3_bind_text(s, 1, camera_id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, content->sha256, 32, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, content->size);
        sqlite3_bind_int64(s, 4, content->duration_us);
        sqlite3_bind_int64(s, 5, start_us);
        r = sqlite3_step(s);
        if (r == SQLITE_ROW) read_earlier(s, e);
        sqlite3_reset(s);
        if (r == SQLITE_ROW) return 1;
        if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "looking for an earlier ingest");
    }
    if ((rc = ft__store_stmt(st, FT__STMT_INGEST_FIND, &s)) != FT_OK) return rc;
    sqlite3_bind_text(s, 1, camera_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, start_us);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) read_earlier(s, e);
    sqlite3_reset(s);
    if (r == SQLITE_ROW) return 1;
    if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "looking for an earlier ingest");
    return 0;
}

int ft__store_ingest_insert(ft_store *st, const char *camera_id, const char *source,
                            int64_t start_us, double sample_fps, int64_t *id)
{
    sqlite3_stmt *s;
    int rc = ft__store_stmt(st, FT__STMT_INGEST_INSERT, &s);
    if (rc != FT_OK) return rc;
    sqlite3_bind_text(s, 1, camera_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, start_us);
    sqlite3_bind_double(s, 4, sample_fps);
    sqlite3_bind_int64(s, 5, ft__store_now_us());
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "beginning an ingest");
    *id = sqlite3_last_insert_rowid(st->db);
    return FT_OK;
}

/* Inside the transaction: finds or creates the row; writes *id and *resume. */
static int begin_locked(ft_store *st, const char *camera_id, const char *source,
                        const ft_store_content *content, int64_t start_us, double sample_fps,
                        int flags, int64_t *id, int64_t *resume)
{
    sqlite3_stmt *s;
    int rc, r;
    if ((rc = ft__store_stmt(st, FT__STMT_CAMERA_GET, &s)) != FT_OK) return rc;
    sqlite3_bind_text(s, 1, camera_id, -1, SQLITE_STATIC);
    r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r == SQLITE_DONE) return ft__store_fail(st, FT_ENOTFOUND, "no camera %s", camera_id);
    if (r != SQLITE_ROW) return ft__store_sqlfail(st, r, "beginning an ingest");

    char start[32];
    ft__store_iso_time(start_us, start);
    earlier e;
    int found = find_earlier(st, camera_id, source, content, start_us, &e);
    if (found < 0) return found;
    if (!found) {
        rc = ft__store_ingest_insert(st, camera_id, source, start_us, sample_fps, id);
        if (rc != FT_OK) return rc;
        *resume = -1;
        if (content && (rc = set_content(st, *id, content)) != FT_OK) return rc;
        return ft__store_lease_take(st, camera_id, *id);
    }

    /* The same name, another video: never resume into it. */
    int replaced = content && e.has_content && !same_content(content, &e.content);
    /* "" or "; the same video as y.mp4" for messages */
    char same_as[FT_STORE_SOURCE_MAX + 32] = "";
    if (strcmp(e.source, source) != 0)
        snprintf(same_as, sizeof same_as, "; the same video as %s", e.source);

    if (flags & FT_INGEST_FORCE) {
        if ((rc = ft__store_stmt(st, FT__STMT_INGEST_DELETE_SIGHTINGS, &s)) != FT_OK) return rc;
        sqlite3_bind_int64(s, 1, e.id);
        r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "deleting an earlier ingest");
        if ((rc = ft__store_stmt(st, FT__STMT_INGEST_RESET, &s)) != FT_OK) return rc;
        sqlite3_bind_int64(s, 1, e.id);
        sqlite3_bind_int64(s, 2, ft__store_now_us());
        sqlite3_bind_double(s, 3, sample_fps);
        e.checkpoint = -1;
    } else if (replaced) {
        char was[64], now[64];
        describe_content(&e.content, was);
        describe_content(content, now);
        return ft__store_fail(st, FT_EINVAL,
                              "%s (camera %s, start %s) is not the video ingested under that "
                              "name before (ingest %lld: %s; this file: %s): the file was "
                              "replaced. Use --force to redo the ingest with this video (the "
                              "earlier sightings of this ingest are deleted)",
                              source, camera_id, start, (long long)e.id, was, now);
    } else if (e.status == FT_INGEST_DONE) {
        return ft__store_fail(st, FT_EINVAL,
                              "%s (camera %s, start %s%s): already ingested (ingest %lld); use "
                              "--force to redo it",
                              source, camera_id, start, same_as, (long long)e.id);
    } else if (e.status < 0) {
        return ft__store_fail(st, FT_EFORMAT, "ingest %lld has an unknown status", (long long)e.id);
    } else if (e.fps != sample_fps) {
        return ft__store_fail(st, FT_EINVAL,
                              "%s (camera %s, start %s%s): ingest %lld ran at %g frames/s, not "
                              "%g: resume it with --fps %g, or redo it with --force",
                              source, camera_id, start, same_as, (long long)e.id, e.fps, sample_fps,
                              e.fps);
    } else {
        if ((rc = ft__store_stmt(st, FT__STMT_INGEST_RESUME, &s)) != FT_OK) return rc;
        sqlite3_bind_int64(s, 1, e.id);
        sqlite3_bind_int64(s, 2, ft__store_now_us());
    }
    r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "resuming an ingest");
    /* a row from before v3 (no identity) adopts the video's; force records the new one */
    if (content && (!e.has_content || replaced) && (rc = set_content(st, e.id, content)) != FT_OK)
        return rc;
    *id = e.id;
    *resume = e.checkpoint;
    return ft__store_lease_take(st, camera_id, e.id);
}

int ft_store_ingest_begin_content(ft_store *st, const char *camera_id, const char *source,
                                  const ft_store_content *content, int64_t start_us,
                                  double sample_fps, int flags, int64_t *ingest_id,
                                  int64_t *resume_from_us)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if (!ingest_id || !resume_from_us) return ft__store_fail(st, FT_EINVAL, "no output given");
    *ingest_id = 0;
    *resume_from_us = -1;
    if ((rc = ft__store_writable(st)) != FT_OK) return rc;
    if (flags & ~FT_INGEST_FORCE)
        return ft__store_fail(st, FT_EINVAL, "unknown ingest flags 0x%x", (unsigned)flags);
    if (!ft__store_valid_camera_id(camera_id))
        return ft__store_fail(st, FT_EINVAL, "bad camera id");
    if (!source || !*source || !memchr(source, 0, FT_STORE_SOURCE_MAX))
        return ft__store_fail(st, FT_EINVAL, "ingest source must be 1..%d bytes",
                              FT_STORE_SOURCE_MAX - 1);
    if (!isfinite(sample_fps) || sample_fps < 0)
        return ft__store_fail(st, FT_EINVAL, "sample rate %g is not a finite number >= 0",
                              sample_fps);
    if (content && (content->size < 0 || content->duration_us < -1))
        return ft__store_fail(st, FT_EINVAL, "bad video identity (size or duration negative)");
    int64_t id = 0, resume = -1;
    if ((rc = ft__store_begin(st, "beginning an ingest")) != FT_OK) return rc;
    rc = begin_locked(st, camera_id, source, content, start_us, sample_fps, flags, &id, &resume);
    rc = ft__store_end(st, rc, "beginning an ingest");
    if (rc != FT_OK) return rc;
    *ingest_id = id;
    *resume_from_us = resume;
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* Commit                                                                   */
/* ------------------------------------------------------------------------ */

static int all_finite(const float *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

/* Checks what can be checked without the database (but the ingest_id, which
** commit() checks against its ingest; replicas carry the sender's). */
int ft__store_check_sighting(ft_store *st, const ft_sighting *s, int i)
{
    long long key = (long long)s->track_key;
#define BAD(...) ft__store_fail(st, FT_EINVAL, "sighting %d (track %lld): " __VA_ARGS__)
    if (!memchr(s->camera_id, 0, sizeof s->camera_id))
        return BAD("camera id is not NUL-terminated", i, key);
    if (!(s->first_us <= s->best_us && s->best_us <= s->last_us))
        return BAD("times are not first <= best <= last", i, key);
    if (!all_finite(s->box, 4) || s->box[2] < 0 || s->box[3] < 0)
        return BAD("box is not finite with w, h >= 0", i, key);
    if (!isfinite(s->face_px) || s->face_px < 0 || !isfinite(s->det_score) || !isfinite(s->quality))
        return BAD("face_px, det_score and quality must be finite (face_px >= 0)", i, key);
    if (s->n_frames < 0) return BAD("n_frames is negative", i, key);
    if (s->n_desc < 0 || s->n_desc > FT_SIGHTING_MAX_DESC)
        return BAD("n_desc %d is not in 0..%d", i, key, s->n_desc, FT_SIGHTING_MAX_DESC);
    for (int k = 0; k < s->n_desc; k++)
        if (!all_finite(s->desc[k], FT_DESCRIPTOR_DIM) || !isfinite(s->desc_quality[k]))
            return BAD("descriptor %d has a non-finite value", i, key, k);
    if (s->thumbnail_len > FT_STORE_THUMB_MAX)
        return ft__store_fail(st, FT_ETOOBIG,
                              "sighting %d (track %lld): thumbnail of %zu bytes is over %u", i, key,
                              s->thumbnail_len, FT_STORE_THUMB_MAX);
    if (s->thumbnail_len > 0 && (!s->thumbnail || s->thumbnail_len < 3 || s->thumbnail[0] != 0xFF ||
                                 s->thumbnail[1] != 0xD8 || s->thumbnail[2] != 0xFF))
        return BAD("thumbnail is not a JPEG", i, key);
#undef BAD
    return FT_OK;
}

int ft__store_insert_sighting(ft_store *st, int64_t ingest_id, const char *camera_id,
                              const ft_sighting *x, int *added)
{
    sqlite3_stmt *s;
    int rc, r;
    if (added) *added = 0;
    if ((rc = ft__store_stmt(st, FT__STMT_SIGHTING_INSERT, &s)) != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, ingest_id);
    sqlite3_bind_text(s, 2, camera_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, x->track_key);
    sqlite3_bind_int64(s, 4, x->first_us);
    sqlite3_bind_int64(s, 5, x->last_us);
    sqlite3_bind_int64(s, 6, x->best_us);
    for (int k = 0; k < 4; k++)
        sqlite3_bind_double(s, 7 + k, x->box[k]);
    sqlite3_bind_double(s, 11, x->face_px);
    sqlite3_bind_double(s, 12, x->det_score);
    sqlite3_bind_double(s, 13, x->quality);
    sqlite3_bind_int(s, 14, x->n_frames);
    r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "storing a sighting");
    if (sqlite3_changes(st->db) == 0) return FT_OK; /* track already stored: skip whole */
    int64_t sid = sqlite3_last_insert_rowid(st->db);
    if (added) *added = 1;

    for (int k = 0; k < x->n_desc; k++) {
        unsigned char le[FT__DESC_BYTES];
        ft__store_desc_to_le(x->desc[k], le);
        if ((rc = ft__store_stmt(st, FT__STMT_DESCRIPTOR_INSERT, &s)) != FT_OK) return rc;
        sqlite3_bind_int64(s, 1, sid);
        sqlite3_bind_int(s, 2, k);
        sqlite3_bind_double(s, 3, x->desc_quality[k]);
        sqlite3_bind_blob(s, 4, le, FT__DESC_BYTES, SQLITE_STATIC);
        r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "storing a descriptor");
    }
    if (x->thumbnail_len > 0) {
        if ((rc = ft__store_stmt(st, FT__STMT_THUMBNAIL_INSERT, &s)) != FT_OK) return rc;
        sqlite3_bind_int64(s, 1, sid);
        sqlite3_bind_blob(s, 2, x->thumbnail, (int)x->thumbnail_len, SQLITE_STATIC);
        r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "storing a thumbnail");
    }
    return FT_OK;
}

/* Reads the ingest's camera and status; FT_ENOTFOUND, or FT_EINVAL if it is
** not running. */
static int running_ingest(ft_store *st, int64_t ingest_id, char camera_id[FT_CAMERA_ID_MAX])
{
    sqlite3_stmt *s;
    int rc = ft__store_stmt(st, FT__STMT_INGEST_STATE, &s);
    if (rc != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, ingest_id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        ft__store_copy_text(camera_id, FT_CAMERA_ID_MAX, s, 0);
        int status = status_of_text(sqlite3_column_text(s, 1));
        if (status != FT_INGEST_RUNNING)
            rc = ft__store_fail(st, FT_EINVAL,
                                "ingest %lld is %s, not running (beginning it again resumes "
                                "a failed one)",
                                (long long)ingest_id,
                                status < 0 ? "in an unknown state" : status_text[status]);
    } else if (r == SQLITE_DONE) {
        rc = ft__store_fail(st, FT_ENOTFOUND, "no ingest %lld", (long long)ingest_id);
    } else {
        rc = ft__store_sqlfail(st, r, "reading an ingest");
    }
    sqlite3_reset(s);
    return rc;
}

static int commit_locked(ft_store *st, int64_t ingest_id, const ft_sighting *s, int n,
                         int64_t checkpoint_us, int64_t frames, int64_t faces, int set_state,
                         const void *state, size_t state_len)
{
    char camera_id[FT_CAMERA_ID_MAX];
    int rc = running_ingest(st, ingest_id, camera_id);
    if (rc != FT_OK) return rc;
    /* INVARIANT lease.c (1): renew the lease, or fail if another took it */
    if ((rc = ft__store_lease_take(st, camera_id, ingest_id)) != FT_OK) return rc;
    for (int i = 0; i < n; i++)
        if (s[i].camera_id[0] && strcmp(s[i].camera_id, camera_id) != 0)
            return ft__store_fail(st, FT_EINVAL,
                                  "sighting %d (track %lld): camera %s, but ingest %lld is "
                                  "camera %s's",
                                  i, (long long)s[i].track_key, s[i].camera_id,
                                  (long long)ingest_id, camera_id);
    for (int i = 0; i < n && rc == FT_OK; i++)
        rc = ft__store_insert_sighting(st, ingest_id, camera_id, &s[i], NULL);
    if (rc != FT_OK) return rc;

    sqlite3_stmt *u;
    if ((rc = ft__store_stmt(st, FT__STMT_INGEST_ADVANCE, &u)) != FT_OK) return rc;
    sqlite3_bind_int64(u, 1, ingest_id);
    sqlite3_bind_int64(u, 2, checkpoint_us);
    sqlite3_bind_int64(u, 3, frames);
    sqlite3_bind_int64(u, 4, faces);
    int r = sqlite3_step(u);
    sqlite3_reset(u);
    if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "advancing the checkpoint");
    if (set_state) {
        if ((rc = ft__store_stmt(st, FT__STMT_INGEST_SAVE_STATE, &u)) != FT_OK) return rc;
        sqlite3_bind_int64(u, 1, ingest_id);
        if (state && state_len)
            sqlite3_bind_blob64(u, 2, state, state_len, SQLITE_STATIC);
        else
            sqlite3_bind_null(u, 2);
        r = sqlite3_step(u);
        sqlite3_reset(u);
        if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "saving the resume state");
    }
    if (ft__store_test_hook && (rc = ft__store_test_hook("commit:inserted")) != FT_OK)
        return ft__store_fail(st, rc, "test hook failed the commit");
    return FT_OK;
}

static int commit(ft_store *st, int64_t ingest_id, const ft_sighting *s, int n,
                  int64_t checkpoint_us, int64_t frames, int64_t faces, int set_state,
                  const void *state, size_t state_len)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_writable(st)) != FT_OK) return rc;
    if (n < 0 || (n > 0 && !s))
        return ft__store_fail(st, FT_EINVAL, "bad sighting array (%d sightings)", n);
    if (checkpoint_us < 0)
        return ft__store_fail(st, FT_EINVAL, "checkpoint %.6f s is negative",
                              (double)checkpoint_us / 1e6);
    if (frames < 0 || faces < 0)
        return ft__store_fail(st, FT_EINVAL, "negative frame or face count");
    for (int i = 0; i < n; i++) {
        if (s[i].ingest_id != 0 && s[i].ingest_id != ingest_id)
            return ft__store_fail(
                st, FT_EINVAL, "sighting %d (track %lld): belongs to ingest %lld, not %lld", i,
                (long long)s[i].track_key, (long long)s[i].ingest_id, (long long)ingest_id);
        if ((rc = ft__store_check_sighting(st, &s[i], i)) != FT_OK) return rc;
    }
    if ((rc = ft__store_begin(st, "committing sightings")) != FT_OK) return rc;
    rc = commit_locked(st, ingest_id, s, n, checkpoint_us, frames, faces, set_state, state,
                       state_len);
    return ft__store_end(st, rc, "committing sightings");
}

int ft_store_ingest_commit(ft_store *st, int64_t ingest_id, const ft_sighting *s, int n,
                           int64_t checkpoint_us, int64_t frames, int64_t faces)
{
    return commit(st, ingest_id, s, n, checkpoint_us, frames, faces, 0, NULL, 0);
}

int ft_store_ingest_commit_state(ft_store *st, int64_t ingest_id, const ft_sighting *s, int n,
                                 int64_t checkpoint_us, int64_t frames, int64_t faces,
                                 const void *state, size_t state_len)
{
    if (state_len > ((size_t)1 << 30)) {
        int rc = ft__store_enter(st);
        return rc != FT_OK ? rc : ft__store_fail(st, FT_EINVAL, "resume state too large");
    }
    return commit(st, ingest_id, s, n, checkpoint_us, frames, faces, 1, state, state_len);
}

int ft_store_ingest_state(ft_store *st, int64_t ingest_id, unsigned char **out, size_t *out_len)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if (!out || !out_len) return ft__store_fail(st, FT_EINVAL, "no output given");
    *out = NULL;
    *out_len = 0;
    sqlite3_stmt *s;
    if ((rc = ft__store_stmt(st, FT__STMT_INGEST_LOAD_STATE, &s)) != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, ingest_id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        int n = sqlite3_column_bytes(s, 0);
        const void *p = sqlite3_column_blob(s, 0);
        if (p && n > 0) {
            *out = ft__malloc((size_t)n);
            if (!*out)
                rc = ft__store_fail(st, FT_ENOMEM, "out of memory reading the resume state");
            else
                memcpy(*out, p, (size_t)n), *out_len = (size_t)n;
        }
    } else if (r == SQLITE_DONE) {
        rc = ft__store_fail(st, FT_ENOTFOUND, "no ingest %lld", (long long)ingest_id);
    } else {
        rc = ft__store_sqlfail(st, r, "reading the resume state");
    }
    sqlite3_reset(s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Finish, get                                                              */
/* ------------------------------------------------------------------------ */

int ft_store_ingest_finish(ft_store *st, int64_t ingest_id, int status, const char *error_text)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_writable(st)) != FT_OK) return rc;
    if (status != FT_INGEST_DONE && status != FT_INGEST_FAILED)
        return ft__store_fail(st, FT_EINVAL, "an ingest finishes as done or failed, not %d",
                              status);
    size_t len = 0;
    if (error_text) {
        len = strlen(error_text);
        if (len > ERROR_TEXT_MAX) { /* cut at a UTF-8 character boundary */
            len = ERROR_TEXT_MAX;
            while (len > 0 && ((unsigned char)error_text[len] & 0xC0) == 0x80)
                len--;
        }
    }
    if ((rc = ft__store_begin(st, "finishing an ingest")) != FT_OK) return rc;
    char camera_id[FT_CAMERA_ID_MAX];
    rc = running_ingest(st, ingest_id, camera_id);
    /* a process whose lease was taken over must not finish the new holder's run */
    if (rc == FT_OK) rc = ft__store_lease_take(st, camera_id, ingest_id);
    if (rc == FT_OK) {
        sqlite3_stmt *s;
        rc = ft__store_stmt(st, FT__STMT_INGEST_FINISH, &s);
        if (rc == FT_OK) {
            sqlite3_bind_int64(s, 1, ingest_id);
            sqlite3_bind_text(s, 2, status_text[status], -1, SQLITE_STATIC);
            if (error_text) sqlite3_bind_text(s, 3, error_text, (int)len, SQLITE_STATIC);
            sqlite3_bind_int64(s, 4, ft__store_now_us());
            int r = sqlite3_step(s);
            sqlite3_reset(s);
            if (r != SQLITE_DONE) rc = ft__store_sqlfail(st, r, "finishing an ingest");
        }
        if (rc == FT_OK) rc = ft__store_lease_release(st, camera_id);
    }
    return ft__store_end(st, rc, "finishing an ingest");
}

int ft_store_ingest_get(ft_store *st, int64_t ingest_id, ft_ingest *out)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if (!out) return ft__store_fail(st, FT_EINVAL, "no output given");
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    if ((rc = ft__store_stmt(st, FT__STMT_INGEST_GET, &s)) != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, ingest_id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        ft__store_copy_text(out->camera_id, sizeof out->camera_id, s, 1);
        ft__store_copy_text(out->source, sizeof out->source, s, 2);
        out->start_us = sqlite3_column_int64(s, 3);
        out->sample_fps = sqlite3_column_double(s, 4);
        out->status = status_of_text(sqlite3_column_text(s, 5));
        out->checkpoint_us =
            sqlite3_column_type(s, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 6);
        out->frames = sqlite3_column_int64(s, 7);
        out->faces = sqlite3_column_int64(s, 8);
        out->started_us = sqlite3_column_int64(s, 9);
        out->finished_us =
            sqlite3_column_type(s, 10) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 10);
        ft__store_copy_text(out->error, sizeof out->error, s, 11);
        out->n_sightings = sqlite3_column_int64(s, 12);
        if (out->status < 0)
            rc = ft__store_fail(st, FT_EFORMAT, "ingest %lld has an unknown status",
                                (long long)ingest_id);
    } else if (r == SQLITE_DONE) {
        rc = ft__store_fail(st, FT_ENOTFOUND, "no ingest %lld", (long long)ingest_id);
    } else {
        rc = ft__store_sqlfail(st, r, "reading an ingest");
    }
    sqlite3_reset(s);
    return rc;
}
