/*
** facetrail/cluster.h: several machines on one event, over NATS JetStream
** (part of facetrail.h). A single box needs none of this: without a NATS
** server nothing here is called.
**
** TOPOLOGY
**                      +----------------- NATS JetStream (3 servers) ---------------+
**   cameras -> ingest  |  stream FT_SIGHTINGS   subjects ft.sighting.<camera>        |
**   node(s), each with |  KV ft_cameras         the cameras (id, km, source, start)  |
**   its own local      |  KV ft_nodes           who is alive (expires after lease_s) |
**   store (the write-  |  KV ft_holds           which node holds a camera, who leads |
**   ahead buffer)  --> |  KV ft_state           watchlist, tokens, retention         |
**                      +--------------------------------------------------------------+
**                                 | durable consumer per search node
**                                 v
**                      search nodes: own store + index, the HTTP API (facetrail serve)
**
** DELIVERY
**   An ingest node commits sightings to its local store first. The
**   publisher (ft_cluster_publish) walks the store from the checkpoint kept
**   in its meta table (FT_CLUSTER_PUBLISHED_KEY), publishes each sighting as
**   an ft_replica with the JetStream message id ft_replica_msg_id, and moves
**   the checkpoint only after the stream acknowledged every message of the
**   batch. A crash between the two re-publishes the batch: the stream's
**   duplicate window (FT_CLUSTER_DUP_WINDOW_S) drops the copies, and a
**   search node's store ignores any that come later (ft_store_replica_apply
**   keeps one sighting per ingest and track key). A search node applies a
**   batch in one transaction and acknowledges it after the commit
**   (ft_cluster_consume), so it holds every sighting exactly once.
**
** CAMERAS MOVE
**   A node keeps its key in ft_nodes alive (ft_cluster_heartbeat) and holds
**   each camera it ingests by a key in ft_holds that it renews; both expire
**   lease_s after the node stops renewing. ft_cluster_claim gives a node the
**   cameras it should take: its share of the cameras not done, those nobody
**   holds first. The same video on another node gives the same tracks and
**   the same message ids, so a camera that moves mid-video is ingested again
**   from its start without a sighting twice.
**
** THREADS  One thread at a time per ft_cluster handle (open one per thread).
*/
#ifndef FACETRAIL_CLUSTER_H
#define FACETRAIL_CLUSTER_H

#include "facetrail.h"
#include "facetrail/store.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ft_cluster ft_cluster;

#define FT_CLUSTER_STREAM         "FT_SIGHTINGS"
#define FT_CLUSTER_SUBJECT_PREFIX "ft.sighting."
#define FT_CLUSTER_DUP_WINDOW_S   3600
#define FT_CLUSTER_NODE_MAX       64 /* bytes of a node name, NUL included */
/* The local store's setting that holds the id of the last sighting the
** stream acknowledged (decimal). */
#define FT_CLUSTER_PUBLISHED_KEY "cluster_published_id"

typedef struct ft_cluster_params {
    const char *urls; /* "nats://127.0.0.1:4222,nats://127.0.0.1:4223" */
    const char *node; /* this node: 1..63 of [A-Za-z0-9_-], unique in the cluster */
    int replicas;     /* replicas of the stream and buckets it creates (1..5); default 3 */
    double lease_s;   /* a node or a hold not renewed for this long is gone; default 5 */
    double timeout_s; /* each request to the servers; default 5 */
} ft_cluster_params;

ft_cluster_params ft_cluster_default_params(void);

/* Connects (the servers are tried in turn; the connection comes back by
** itself after a server is lost) and creates the stream and the buckets
** when they do not exist. Errors: FT_EINVAL (bad params), FT_EIO (no
** server answers, JetStream unavailable); message in err. */
int ft_cluster_open(const ft_cluster_params *p, ft_cluster **out /* OUT */, char *err,
                    size_t errlen);
void ft_cluster_close(ft_cluster *c);
/* The last failure of a call on c, "" after a success. */
const char *ft_cluster_errmsg(const ft_cluster *c);
const char *ft_cluster_node(const ft_cluster *c);

/* -- ingest side --------------------------------------------------------- */

/* Publishes up to max sightings committed to st after its checkpoint, and
** moves the checkpoint past those acknowledged. *published (may be NULL):
** how many were published; *duplicates (may be NULL): how many of them the
** stream already had. FT_OK with 0 when there is nothing new. FT_EIO when
** the stream does not acknowledge (the checkpoint stays: call again). */
int ft_cluster_publish(ft_cluster *c, ft_store *st, int max, int *published /* OUT */,
                       int *duplicates /* OUT */);
/* Sightings in st not yet acknowledged by the stream. */
int ft_cluster_backlog(ft_cluster *c, ft_store *st, int64_t *n /* OUT */);

/* -- search side --------------------------------------------------------- */

/* Waits up to wait_ms for sightings on this node's durable consumer
** ("search-<node>", created on first use, from the stream's start), applies
** those that came (at most max) to st in one transaction, then
** acknowledges them. only_cameras (NULL: all) is a comma-separated list of
** camera ids: others are acknowledged and not applied (a shard).
** *received and *applied (may be NULL): messages taken, sightings new to st.
** A message that is not a replica is logged in errmsg and dropped
** (terminated). FT_EIO (servers), store errors (nothing acknowledged: the
** batch comes again). */
int ft_cluster_consume(ft_cluster *c, ft_store *st, int max, int wait_ms, const char *only_cameras,
                       int *received /* OUT */, int *applied /* OUT */);
/* Messages on this node's consumer not yet acknowledged (-1 if unknown). */
int ft_cluster_pending(ft_cluster *c, int64_t *n /* OUT */);

/* -- shared state -------------------------------------------------------- */

/* A camera of the cluster: where it stands and what it ingests. */
typedef struct ft_cluster_camera {
    ft_camera camera;
    char source[FT_STORE_SOURCE_MAX]; /* a video file or a live URL */
    int live;                         /* 1: source is a live stream */
    int64_t start_us;                 /* file: wall clock of its pts 0 */
    int done;                         /* a file ingested to its end */
    char holder[FT_CLUSTER_NODE_MAX]; /* OUT: the node ingesting it now, "" none */
} ft_cluster_camera;

/* Adds or replaces a camera (done is cleared). FT_EINVAL for a bad camera
** (ft_store_camera_add's rules) or an empty source. */
int ft_cluster_camera_put(ft_cluster *c, const ft_cluster_camera *cam);
/* Marks a camera's file ingested to its end: no node takes it again. */
int ft_cluster_camera_done(ft_cluster *c, const char *id);
/* Every camera, ordered by km then id, with its holder. *out freed with
** ft_store_free (NULL when *n is 0). */
int ft_cluster_cameras(ft_cluster *c, ft_cluster_camera **out /* OUT */, int *n /* OUT */);

/* Says this node is alive, in role ("ingest", "search"). Call at least
** every lease_s / 3. */
int ft_cluster_heartbeat(ft_cluster *c, const char *role);
/* The live nodes of role (NULL: all), sorted. *names: n names of
** FT_CLUSTER_NODE_MAX bytes each, freed with ft_store_free. */
int ft_cluster_nodes(ft_cluster *c, const char *role, char **names /* OUT */, int *n /* OUT */);

/* Takes or renews key in ft_holds for this node: 1 when this node holds it
** now, 0 when another does (holder, when given, names it). A hold not
** renewed for lease_s is free. */
int ft_cluster_hold(ft_cluster *c, const char *key, char holder[FT_CLUSTER_NODE_MAX] /* OUT */);
/* Gives a hold of this node's back (no error when not held). */
int ft_cluster_release(ft_cluster *c, const char *key);

/* The cameras this node should ingest now: renews the holds it has on
** cameras not done, hands back live cameras beyond its share (a node
** joined; videos are kept to their end), and takes free ones up to its
** share (the cameras not done divided among the live ingest nodes,
** rounded up). ids: *n camera
** ids (FT_CAMERA_ID_MAX bytes each, freed with ft_store_free), the ones it
** holds after the call. */
int ft_cluster_claim(ft_cluster *c, char **ids /* OUT */, int *n /* OUT */);

/* A value of the shared state (ft_state) by key: the watchlist, tokens,
** retention. get: *out (NUL-terminated, free with ft_store_free), *rev its
** revision; FT_ENOTFOUND. put: replaces (rev may be NULL). */
int ft_cluster_state_get(ft_cluster *c, const char *key, char **out /* OUT */,
                         uint64_t *rev /* OUT */);
int ft_cluster_state_put(ft_cluster *c, const char *key, const char *value,
                         uint64_t *rev /* OUT */);
/* The cluster's watchlist: one entry per key "watch.<id>" of ft_state, ids
** handed out once in the cluster (a counter moved by compare-and-set), so
** an entry has the same id on every search node.
** add: sets w->id and w->created_us, FT_EINVAL as ft_store_watch_add.
** remove: FT_ENOTFOUND when there is no such entry.
** sync: makes st's watchlist the cluster's (ft_store_watch_put of entries
** missing or different, ft_store_watch_remove of those the cluster no longer
** has); *changed (may be NULL): entries put or removed. */
int ft_cluster_watch_add(ft_cluster *c, ft_watch *w);
int ft_cluster_watch_remove(ft_cluster *c, int64_t id);
int ft_cluster_watch_sync(ft_cluster *c, ft_store *st, int *changed /* OUT */);

/* -- searches across shards -------------------------------------------- */

/* A shard node (a search node holding some cameras) answers the cluster's
** searches: fn gets each request's bytes and returns the reply (allocated
** with malloc, *reply_len bytes), or NULL for none. It runs on a thread of
** the NATS library, for as long as c is open. One answerer per handle. */
typedef char *(*ft_cluster_answer_fn)(const char *req, int len, int *reply_len, void *ctx);
int ft_cluster_answer(ft_cluster *c, ft_cluster_answer_fn fn, void *ctx);
/* Sends req to every shard node and hands each reply to fn, until n came
** or wait_ms passed; *got: the replies. FT_OK even when fewer came. */
typedef void (*ft_cluster_reply_fn)(const char *reply, int len, void *ctx);
int ft_cluster_ask(ft_cluster *c, const char *req, int len, int n, int wait_ms,
                   ft_cluster_reply_fn fn, void *ctx, int *got /* OUT */);

/* -- alerts to every search node ------------------------------------- */

/* The alert leader hands each alert it raised (its JSON, ft_alert_json's
** schema) to every search node, whose operators see it too: send, and
** listen (fn on a thread of the NATS library, for as long as c is open;
** one listener per handle). Core NATS, not the stream: a node that is down
** misses the alerts of that time, as a page that is closed does. */
typedef void (*ft_cluster_alert_fn)(const char *json, int len, void *ctx);
int ft_cluster_alert_send(ft_cluster *c, const char *json);
int ft_cluster_alert_listen(ft_cluster *c, ft_cluster_alert_fn fn, void *ctx);

/* The stream's messages and bytes. */
int ft_cluster_stream_stats(ft_cluster *c, uint64_t *msgs /* OUT */, uint64_t *bytes /* OUT */);
/* Removes every sighting from the stream (retention: the event's data is
** to go). The search nodes' stores are purged by themselves. */
int ft_cluster_stream_purge(ft_cluster *c);

#ifdef __cplusplus
}
#endif
#endif /* FACETRAIL_CLUSTER_H */
