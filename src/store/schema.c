/*
** store/schema.c: the database schema, as the table of migration steps that
** builds it. This file is the one place where the schema is written down.
**
** DESIGN
**   PRAGMA user_version holds the schema version; PRAGMA application_id marks
**   the file as facetrail's. Opening a database at version v < current runs
**   steps v+1 .. current, each in its own transaction together with the new
**   user_version, so a crash or an error mid-upgrade leaves the file at the
**   last completed version (store.c, migrate). Steps run with foreign_keys
**   OFF (so a later step may rebuild a table with SQLite's 12-step ALTER
**   procedure) and PRAGMA foreign_key_check must come back empty before the
**   step commits.
**
**   MIGRATION TABLE
**     version  what
**     -------  ----------------------------------------------------------------
**        1     cameras, ingests, sightings, thumbnails, descriptors + indexes
**        2     ingests.resume_state: the tracker's live tracks at the checkpoint
**        3     meta (key/value settings of the event); ingests.content_*: the
**              video's identity (size, duration, SHA-256 of its first MiB);
**              ingest_leases: which process is ingesting a camera now
**        4     watchlist: people to alert on (descriptors, name, reason,
**              expiry, webhook); watch_dismissed: "not this person"
**        5     audit: the append-only, hash-chained log of who searched,
**              watched, dismissed, purged (store/audit.c), and the triggers
**              that refuse UPDATE and DELETE of its rows
**
**   Conventions of the schema:
**     - times: INTEGER microseconds since the Unix epoch, UTC (*_us), except
**       ingests.checkpoint_us, a video stream position (pts in microseconds);
**     - image geometry: REAL pixels of the analysed frame;
**     - descriptors: BLOB of 128 float32 little-endian (512 bytes);
**     - thumbnails: BLOB of a JPEG, in their own table (one row per sighting
**       that has one) so that sighting rows stay ~150 bytes: a range scan or
**       COUNT over sightings then reads ~25 rows per page instead of ~2
**       (a 6 KB blob inline would take the rest of the page and overflow).
**
** INVARIANTS  (1) a step, once released, is never edited: a change is a new
**                 step at the end (databases in the field ran the old text).
**             (2) versions are 1, 2, 3, ... in order, without gaps.
**             (3) every CHECK here is also checked in C before writing, with
**                 a better message; the CHECKs keep other writers honest.
*/
#include "store/store.h"

/* clang-format off */
static const char schema_v1[] =
    /* A camera at a fixed place on the course. */
    "CREATE TABLE cameras (\n"
    "    id          TEXT PRIMARY KEY NOT NULL,     -- user-given, e.g. 'km05-north'\n"
    "    name        TEXT NOT NULL DEFAULT '',\n"
    "    km          REAL NOT NULL,                 -- position along the course\n"
    "    lat         REAL CHECK (lat BETWEEN -90 AND 90),    -- WGS84, NULL if unknown\n"
    "    lon         REAL CHECK (lon BETWEEN -180 AND 180),\n"
    "    created_us  INTEGER NOT NULL\n"
    ");\n"
    /* One video of one camera. (camera_id, source, start_us) names a run, so
    ** that a crashed or failed ingest is found again and resumed. */
    "CREATE TABLE ingests (\n"
    "    id            INTEGER PRIMARY KEY,\n"
    "    camera_id     TEXT NOT NULL REFERENCES cameras(id),\n"
    "    source        TEXT NOT NULL,               -- the video path as given\n"
    "    start_us      INTEGER NOT NULL,            -- wall clock of the video's pts 0\n"
    "    sample_fps    REAL NOT NULL,               -- analysed frames per second, 0: all\n"
    "    status        TEXT NOT NULL DEFAULT 'running'\n"
    "                  CHECK (status IN ('running', 'done', 'failed')),\n"
    "    checkpoint_us INTEGER,                     -- stream pts up to which all is committed;\n"
    "                                               -- NULL: nothing committed yet\n"
    "    frames        INTEGER NOT NULL DEFAULT 0,  -- frames analysed (committed)\n"
    "    faces         INTEGER NOT NULL DEFAULT 0,  -- faces detected in them\n"
    "    error         TEXT,                        -- why it failed\n"
    "    started_us    INTEGER NOT NULL,            -- wall clock of the last (re)start\n"
    "    finished_us   INTEGER,                     -- NULL while running\n"
    "    UNIQUE (camera_id, source, start_us)\n"
    ");\n"
    /* One face track: a person passing one camera. camera_id repeats the
    ** ingest's so that per-camera time queries need no join. */
    "CREATE TABLE sightings (\n"
    "    id          INTEGER PRIMARY KEY,\n"
    "    ingest_id   INTEGER NOT NULL REFERENCES ingests(id),\n"
    "    camera_id   TEXT NOT NULL REFERENCES cameras(id),\n"
    "    track_key   INTEGER NOT NULL,   -- the ingest's own key, deterministic per ingest\n"
    "    first_us    INTEGER NOT NULL,   -- wall clock of the track's first frame\n"
    "    last_us     INTEGER NOT NULL,   -- ... of its last frame\n"
    "    best_us     INTEGER NOT NULL,   -- ... of the best shot\n"
    "    box_x       REAL NOT NULL,      -- best shot's face box, image pixels\n"
    "    box_y       REAL NOT NULL,\n"
    "    box_w       REAL NOT NULL,\n"
    "    box_h       REAL NOT NULL,\n"
    "    face_px     REAL NOT NULL,      -- face height in pixels\n"
    "    det_score   REAL NOT NULL,      -- detector score of the best shot\n"
    "    quality     REAL NOT NULL,      -- quality score of the best shot\n"
    "    n_frames    INTEGER NOT NULL,   -- frames in the track\n"
    "    UNIQUE (ingest_id, track_key),\n"
    "    CHECK (first_us <= best_us AND best_us <= last_us)\n"
    ");\n"
    "CREATE INDEX sightings_by_camera_time ON sightings(camera_id, best_us);\n"
    "CREATE INDEX sightings_by_time ON sightings(best_us);\n"
    "CREATE INDEX sightings_by_first ON sightings(first_us);  -- ft_store_stats min_us\n"
    "CREATE INDEX sightings_by_last ON sightings(last_us);    -- ft_store_stats max_us\n"
    /* The best shot's JPEG, at most one per sighting. */
    "CREATE TABLE thumbnails (\n"
    "    sighting_id INTEGER PRIMARY KEY REFERENCES sightings(id) ON DELETE CASCADE,\n"
    "    jpeg        BLOB NOT NULL\n"
    ");\n"
    /* Up to three 128-d descriptors per sighting (n = 0, 1, 2). */
    "CREATE TABLE descriptors (\n"
    "    sighting_id INTEGER NOT NULL REFERENCES sightings(id) ON DELETE CASCADE,\n"
    "    n           INTEGER NOT NULL CHECK (n BETWEEN 0 AND 2),\n"
    "    quality     REAL,\n"
    "    vec         BLOB NOT NULL CHECK (length(vec) = 512),  -- 128 float32 LE\n"
    "    PRIMARY KEY (sighting_id, n)\n"
    ");\n";

/* The ingest pipeline's live tracks at the checkpoint (an opaque, versioned
** blob of the tracker), written in the same transaction as the checkpoint, so
** that a resumed ingest continues exactly where the commit left it. */
static const char schema_v2[] =
    "ALTER TABLE ingests ADD COLUMN resume_state BLOB;  -- NULL: no live tracks saved\n";

/* Settings of the event (e.g. its time zone), one value per key. The content
** identity of an ingest's video: a video is the same one when its size,
** duration and the SHA-256 of its first MiB are, whatever its path; rows
** written before v3 have NULLs and are matched by path only. A lease says
** which process ingests a camera now (store/lease.c): one row per camera,
** taken at ingest begin, renewed at each commit, deleted at finish/close. */
static const char schema_v3[] =
    "CREATE TABLE meta (\n"
    "    key   TEXT PRIMARY KEY NOT NULL,\n"
    "    value TEXT NOT NULL\n"
    ");\n"
    "ALTER TABLE ingests ADD COLUMN content_size INTEGER;        -- bytes of the file\n"
    "ALTER TABLE ingests ADD COLUMN content_duration_us INTEGER; -- stream duration, -1 unknown\n"
    "ALTER TABLE ingests ADD COLUMN content_sha256 BLOB\n"
    "    CHECK (content_sha256 IS NULL OR length(content_sha256) = 32); -- of the first MiB\n"
    "CREATE INDEX ingests_by_content ON ingests(camera_id, content_sha256, start_us);\n"
    "CREATE TABLE ingest_leases (\n"
    "    camera_id   TEXT PRIMARY KEY NOT NULL REFERENCES cameras(id),\n"
    "    ingest_id   INTEGER NOT NULL REFERENCES ingests(id),\n"
    "    pid         INTEGER NOT NULL,    -- the holder: process id ...\n"
    "    host        TEXT NOT NULL,       -- ... on this host name\n"
    "    token       INTEGER NOT NULL,    -- ... and store handle (random per open)\n"
    "    acquired_us INTEGER NOT NULL,    -- wall clock\n"
    "    renewed_us  INTEGER NOT NULL,\n"
    "    expires_us  INTEGER NOT NULL     -- after this anyone may take it over\n"
    ");\n";
/* Version 4: the watchlist. An entry is a person to raise an alert for:
** 1-16 descriptors (n x 512 bytes float32 LE, as descriptors.vec), a name,
** the case reason, when it was made and when it expires (0: never), an
** optional webhook. A dismissed sighting ("not this person") never alerts
** that entry again. */
static const char schema_v4[] =
    "CREATE TABLE watchlist (\n"
    "    id          INTEGER PRIMARY KEY,\n"
    "    name        TEXT NOT NULL,\n"
    "    reason      TEXT NOT NULL,\n"
    "    created_us  INTEGER NOT NULL,\n"
    "    expires_us  INTEGER NOT NULL,   -- 0: never\n"
    "    webhook     TEXT NOT NULL,      -- '' or a URL\n"
    "    descriptors BLOB NOT NULL       -- n x 512 bytes\n"
    "        CHECK (length(descriptors) % 512 = 0 AND length(descriptors) BETWEEN 512 AND 8192)\n"
    ");\n"
    "CREATE TABLE watch_dismissed (\n"
    "    watch_id    INTEGER NOT NULL REFERENCES watchlist(id) ON DELETE CASCADE,\n"
    "    sighting_id INTEGER NOT NULL,\n"
    "    PRIMARY KEY (watch_id, sighting_id)\n"
    ");\n";
/* Version 5: the audit log (store/audit.c), one row per act of a person on
** the event's data. hash is SHA-256 (lowercase hex) of the previous row's
** hash and this row's fields (the chain; its exact form is in audit.c);
** photo_sha256 is the query photo's digest, never the photo. The triggers
** make the table append-only for every SQL writer that leaves the schema
** alone; a writer that drops them (or edits the file's bytes) is caught by
** the chain instead (ft_store_audit_verify). */
static const char schema_v5[] =
    "CREATE TABLE audit (\n"
    "    id           INTEGER PRIMARY KEY,  -- 1, 2, 3, ... in the order appended\n"
    "    time_us      INTEGER NOT NULL,     -- wall clock, UTC\n"
    "    who          TEXT NOT NULL CHECK (who <> ''),\n"
    "    role         TEXT NOT NULL CHECK (role <> ''),\n"
    "    action       TEXT NOT NULL CHECK (action <> ''),  -- 'search', 'purge', ...\n"
    "    reason       TEXT NOT NULL,        -- the case reason, '' if none\n"
    "    photo_sha256 TEXT NOT NULL         -- hex digest of the query photo, '' if none\n"
    "        CHECK (photo_sha256 = '' OR length(photo_sha256) = 64),\n"
    "    results      INTEGER NOT NULL CHECK (results >= 0),\n"
    "    detail       TEXT NOT NULL,\n"
    "    hash         TEXT NOT NULL CHECK (length(hash) = 64)\n"
    ");\n"
    "CREATE INDEX audit_by_time ON audit(time_us);\n"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit\n"
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;\n"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit\n"
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;\n";
/* clang-format on */

const ft__store_migration ft__store_migrations[] = {
    { 1, "cameras, ingests, sightings, thumbnails, descriptors", schema_v1 },
    { 2, "ingests.resume_state", schema_v2 },
    { 3, "meta, ingest content identity, ingest leases", schema_v3 },
    { 4, "watchlist, dismissed sightings", schema_v4 },
    { 5, "audit log", schema_v5 },
};

const int ft__store_n_migrations =
    (int)(sizeof ft__store_migrations / sizeof ft__store_migrations[0]);
