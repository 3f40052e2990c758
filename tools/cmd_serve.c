/*
** tools/cmd_serve.c: `facetrail serve`, the event over HTTP: a JSON API
** under /api/v1 and the operator's web page at /.
**
** DESIGN
**   One process holds the models (one ft_engine) and the event's searcher
**   (ft_searcher), and answers HTTP on libmicrohttpd's thread pool. The
**   engine and the searcher are used by one request at a time (a mutex):
**   searches queue behind each other, status and thumbnails do not wait.
**   Before a search, the store's counts are read: when another process
**   (`facetrail ingest`) has committed sightings, the searcher is loaded
**   again, so a search sees every committed sighting.
**   Routes (docs/openapi.yaml):
**     GET  /                                  the operator's page (ui.c)
**     GET  /api/v1/status                     the event: counts, cameras
**     GET  /api/v1/cameras                    the cameras
**     POST /api/v1/search                     multipart: photo (1-16), since,
**                                             until, at, camera, possible,
**                                             confirm, reason; answers
**                                             ft_search_json (thumbnails as
**                                             links)
**     GET  /api/v1/sightings/{id}/thumbnail   the JPEG
**   Errors are {"error": "...", "code": "..."} with the HTTP status.
**   Access: --tokens FILE holds lines "sha256:HASH ROLE NAME" (or a token
**   in the clear instead of sha256:HASH; only hashes are kept); every /api
**   request then needs "Authorization: Bearer TOKEN", and each route allows
**   the roles of its row in ROUTES (a table test calls every route with
**   every role). Without --tokens, serve listens on loopback only. Every
**   search (with its case reason), selfie, watchlist change, alert
**   accept/dismiss, camera change and purge is appended to the store's
**   audit log (audit(); t_who names the caller).
**   Limits: request bodies 32 MiB (a larger Content-Length is refused
**   with 413 before the body is read), photos 40 megapixels, connections
**   idle for --idle-timeout seconds (30) are closed, and so is one whose
**   request headers take longer than that to arrive (a client that sends
**   them a byte at a time keeps the connection active, so the idle timeout
**   alone would never close it): the main loop checks each second
**   (conn_watch) and shuts the socket down.
** THREADS  libmicrohttpd runs a thread per connection (an event stream
**   blocks its own); they share a pool of --workers engines (one request
**   each), the searcher (searched by many at once under a read lock; a
**   reload swaps it under the write lock), one
**   store handle per purpose (search, thumbnails and status, watchlist
**   writes, the alert thread), the alert ring, and the read-only tokens.
**   Priorities: a camera must not fall behind because many search at once,
**   so each connection thread runs at nice REQUEST_NICE (Linux nice is per
**   thread): under load the searches slow down, the cameras keep their
**   frames.
**   The alert thread polls the store every ALERT_POLL_MS for committed
**   sightings and checks them against the active watchlist
**   (ft_watch_check); an alert goes into a ring of ALERT_RING and to every
**   open event stream (GET /api/v1/alerts).
*/
#include "cli.h"

#include "facetrail/search.h"
#include "facetrail/time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (32u << 20) /* bytes of one request */
#ifndef MAX_PIXELS
#    define MAX_PIXELS 40000000u /* of one photo (fuzz/http.c: fewer) */
#endif
#define MAX_TOKENS     256
#define IDLE_TIMEOUT   30  /* seconds */
#define ALERT_RING     256 /* alerts kept for the event streams */
#define HOOK_TRIES     6   /* a webhook is tried at 0, 1, 2, 4, 8 and 16 s */
#define HOOK_TIMEOUT_S 5
#define MAX_ENGINES    16                       /* --workers: searches described at once */
#define MAX_LIVE       32                       /* cameras ingested live at once */
#define URL_KEY        FT_STORE_LIVE_URL_PREFIX /* store setting per live camera: its URL */
#define ALERT_JSON     1024
#define ALERT_POLL_MS  200  /* how often the store is read for new sightings */
#define REWIND_S       10.0 /* a new alert leader looks again this far back */
#define REWIND_SLOTS   64   /* > REWIND_S / ALERT_POLL_MS */
#ifndef KEEPALIVE_S
#    define KEEPALIVE_S 15 /* an event stream's comment line when nothing happens */
#endif
#define REQUEST_NICE     5     /* the connection threads' nice value: below the cameras' */
#define REFRESH_S        0.5   /* a search sees sightings committed this long before it */
#define SELFIE_PER_HOUR  10    /* default --selfies-per-hour */
#define SELFIE_MAX       100   /* the most --selfies-per-hour allows */
#define SELFIE_MAX_FALSE 0.001 /* a selfie's strict threshold: false matches expected */

const char serve_usage[] =
    "usage: facetrail serve --db DB [--listen HOST:PORT] [--tokens FILE] [options]\n"
    "\n"
    "Serves the event over HTTP: the operator's web page at / (upload a photo,\n"
    "see where the person was seen and is now, alerts, the watchlist) and a JSON\n"
    "API under /api/v1 (docs/openapi.yaml): status; cameras (one with a url is\n"
    "ingested live by the server, with reconnects, until removed); search\n"
    "(multipart photos); thumbnails; the watchlist, whose matches are alerts on\n"
    "an event stream (/api/v1/alerts) and POSTed to an entry's webhook.\n"
    "Sightings that `facetrail ingest` commits meanwhile are searched and\n"
    "checked against the watchlist too.\n"
    "\n"
    "options:\n"
    "  --db DB             the event database\n"
    "  --listen HOST:PORT  where to listen (default 127.0.0.1:8080; port 0: any free\n"
    "                      port, printed at start)\n"
    "  --tokens FILE       lines 'sha256:HASH ROLE NAME' as `facetrail token add`\n"
    "                      writes them (or 'TOKEN ROLE NAME' in the clear); ROLE:\n"
    "                      admin (cameras, purge, audit), operator (search with a\n"
    "                      case reason, watchlist, alerts), runner (a selfie search\n"
    "                      of their own appearances), viewer (status); requests\n"
    "                      need 'Authorization: Bearer TOKEN'. Without --tokens,\n"
    "                      only a loopback address is allowed\n"
    "  --models DIR        model folder (default $FT_MODEL_DIR, else " DEFAULT_MODEL_DIR ")\n"
    "  --workers N         searches described at once, one set of models each\n"
    "                      (default 2; about 150 MB each)\n"
    "  --threads N         threads for the networks (default 1)\n"
    "  --selfies-per-hour N  selfie searches a runner's token may make an hour\n"
    "                      (default 10)\n"
    "  --idle-timeout S    close a connection idle for S seconds, or whose request\n"
    "                      headers take longer than S seconds to arrive (default 30)\n"
    "  --nats URLS         a search node of a cluster (docs/CLUSTER.md): keep DB (made\n"
    "                      if missing) a copy of every sighting the cluster's ingest\n"
    "                      nodes publish, and raise watchlist alerts only while this\n"
    "                      node leads (one node does, so each alert is raised once)\n"
    "  --node NAME         this node's name in the cluster (A-Z a-z 0-9 _ -; default\n"
    "                      search-PORT); the same name resumes where it stopped\n"
    "  --shard IDS         keep only these cameras (comma-separated ids): a shard\n"
    "  --replicas N        copies of the stream when this node creates it (default 3)\n"
    "  -h, --help          this text\n"
    "\n"
    "Stops on SIGINT or SIGTERM. exit status: 0 stopped, 2 error (bad option,\n"
    "database, models, address in use)\n";

extern const char ui_page[];

/* ------------------------------------------------------------------------ */
/* State                                                                    */
/* ------------------------------------------------------------------------ */

#define TOKENS_EVERY_S    5    /* a search node looks at the cluster's tokens */
#define FANOUT_WAIT_MS    3000 /* a shard's search waits this long for the others */
#define RETENTION_EVERY_S 10   /* ... and at its retention */

typedef struct token {
    char hash[65], role[16], name[64]; /* hash: SHA-256 of the token, lowercase hex */
    int slot;                          /* its place in the table: its selfie budget */
} token;

/* An alert waiting for its webhook. */
struct hook {
    struct hook *next;
    char url[256];
    char *body;
    int tries;
    double next_s; /* monotonic time of the next try */
};

/* One camera ingested live by the server: its thread, its engine and store
** handle (ft_ingest_run's), and its state for GET /api/v1/status. */
struct live {
    struct server *sv;
    char camera[FT_CAMERA_ID_MAX];
    char url[1024];
    pthread_t thread;
    atomic_int stop;
    /* state, under lock */
    pthread_mutex_t lock;
    int state; /* enum ft_ingest_live_state, 0: starting */
    char text[256];
    int64_t frames, dropped, faces, sightings, connects;
    double lag_s, started_s, fps;
    char error[512];
    int done;
    double km; /* the camera's, for its alerts */
};

/* One event of the alert streams: an alert, or the stored sighting of a
** track that alerted early ("sighting"), with an early alert's thumbnail. */
struct alert_slot {
    char event[16];
    char json[ALERT_JSON];
    unsigned char *thumb; /* malloc'd JPEG or NULL */
    size_t thumb_len;
};

typedef struct server {
    const char *db;
    ft_store *st;                 /* the searcher's store handle (under lock) */
    ft_store *st_thumb;           /* another handle for thumbnails and status (under lock_thumb) */
    ft_engine *engs[MAX_ENGINES]; /* searches and watchlist photos, one request each */
    pthread_mutex_t eng_lock[MAX_ENGINES];
    int n_engs;
    /* the engines are handed out first come, first served (take_engine) */
    pthread_mutex_t lock_pool;
    pthread_cond_t pool_free;
    int eng_busy[MAX_ENGINES];
    uint64_t ticket_next, ticket_serving;
    pthread_rwlock_t s_lock; /* searches read sv->s; a reload swaps it */
    ft_searcher *s;
    int64_t loaded_sightings, loaded_descriptors;
    int reload;           /* 1: load the searcher again in full (a purge), under lock */
    int64_t data_version; /* the store's when the searcher was last brought up to it */
    double refreshed_s;   /* when (monotonic) */
    ft_query_params qp;
    const ft_calibration *cal;
    pthread_mutex_t lock, lock_thumb;
    token tokens[MAX_TOKENS];
    int n_tokens;                 /* 0: no tokens file: everyone on loopback */
    pthread_rwlock_t lock_tokens; /* a search node reloads the cluster's tokens */
    int tokens_from_cluster;      /* --nats without --tokens: ft_state "tokens" */
    /* the watchlist and its alerts */
    ft_store *st_w;     /* read-write handle for the watchlist (under lock_w); NULL: read-only */
    ft_store *st_alert; /* the alert thread's own handle */
    pthread_mutex_t lock_w, lock_alerts;
    pthread_cond_t new_alert;
    pthread_t alert_thread;
    int alert_running;
    struct live *live[MAX_LIVE]; /* cameras ingested live (under lock_live) */
    struct hook *hooks;          /* webhook deliveries waiting (under lock_hooks) */
    int64_t hooks_delivered;
    pthread_mutex_t lock_hooks;
    pthread_cond_t new_hook;
    pthread_t hook_thread;
    int hook_running;
    pthread_mutex_t lock_live;
    ft_engine_params ep;
    struct alert_slot ring[ALERT_RING]; /* the latest events, by seq % ALERT_RING */
    int64_t next_seq;                   /* seq of the next event */
    ft_watcher *watcher;                /* the active watchlist (alert thread refreshes it) */
    int watch_gen;                      /* bumped by each watchlist change (under lock_w) */
    pthread_mutex_t lock_rate;          /* the selfie budgets */
    double selfie_at[MAX_TOKENS + 1][SELFIE_MAX]; /* per token: when (monotonic s) */
    int selfies_per_hour;
    int64_t alerts_sent;
    unsigned idle_timeout;      /* seconds (--idle-timeout) */
    pthread_mutex_t lock_conns; /* the connections (conn_watch) */
    struct conn_watch *conns;   /* every open connection */
    /* a search node of a cluster (--nats): the consumer thread's state */
    ft_cluster_params cluster, cluster_api; /* the consumer's; the request threads' */
    const char *shard;                      /* --shard: camera ids, or NULL for all */
    int clustered;                          /* --nats given */
    pthread_t cluster_thread;
    int cluster_running;
    atomic_int leader;       /* 1 while this node leads: it raises the alerts */
    atomic_llong applied;    /* sightings new to the store from the stream */
    atomic_llong received;   /* messages taken from the stream */
    atomic_llong pending;    /* the consumer's backlog at the last look (-1 unknown) */
    atomic_int cluster_up;   /* 1 while the servers answer */
    pthread_mutex_t lock_cl; /* the request threads' cluster handle */
    ft_cluster *cl_api;      /* opened at the first watchlist change (under lock_cl) */
} server;

/* An open connection: its socket and since when it has been waiting for a
** request's headers (0: not waiting: a request is being answered). */
struct conn_watch {
    struct conn_watch *prev, *next;
    int fd;
    double waiting_since;
};

/* One request's body as it arrives. */
typedef struct part {
    char name[32];
    char *data;
    size_t len;
} part;

typedef struct request {
    struct MHD_PostProcessor *pp;
    part parts[FT_SEARCH_MAX_PROBES + 16];
    int n_parts;
    size_t bytes;
    int too_big, bad;
    char raw[4096]; /* a body that is not a form (JSON), NUL-terminated */
    size_t raw_len;
} request;

static atomic_int g_stop; /* lock-free: set by the signal handler, read by every thread */

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* MHD_OPTION_NOTIFY_CONNECTION: keeps the list of open connections. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    server *sv = cls;
    struct conn_watch *w = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || !(w = calloc(1, sizeof *w))) return; /* not watched: the idle timeout only */
        w->fd = ci->connect_fd;
        w->waiting_since = mono_s();
        pthread_mutex_lock(&sv->lock_conns);
        w->next = sv->conns;
        if (sv->conns) sv->conns->prev = w;
        sv->conns = w;
        pthread_mutex_unlock(&sv->lock_conns);
        *socket_context = w;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && w) { /* before MHD closes the socket */
        pthread_mutex_lock(&sv->lock_conns);
        if (w->prev)
            w->prev->next = w->next;
        else
            sv->conns = w->next;
        if (w->next) w->next->prev = w->prev;
        pthread_mutex_unlock(&sv->lock_conns);
        free(w);
        *socket_context = NULL;
    }
}

/* Marks connection c waiting for a request's headers (since now) or not. */
static void conn_waiting(server *sv, struct MHD_Connection *c, int waiting)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn_watch *w = ci ? ci->socket_context : NULL;
    if (!w) return;
    pthread_mutex_lock(&sv->lock_conns);
    w->waiting_since = waiting ? mono_s() : 0;
    pthread_mutex_unlock(&sv->lock_conns);
}

/* Shuts down the sockets of connections that have waited longer than the
** idle timeout for their headers (MHD then closes them). */
static void conns_reap(server *sv)
{
    double now = mono_s();
    pthread_mutex_lock(&sv->lock_conns);
    for (struct conn_watch *w = sv->conns; w; w = w->next)
        if (w->waiting_since > 0 && now - w->waiting_since > sv->idle_timeout) {
            shutdown(w->fd, SHUT_RDWR);
            w->waiting_since = 0;
        }
    pthread_mutex_unlock(&sv->lock_conns);
}

/* SIGUSR1: nothing but interrupting a blocked system call (live_stop_slot). */
static void on_wake(int sig)
{
    (void)sig;
}

/* ------------------------------------------------------------------------ */
/* Responses                                                                */
/* ------------------------------------------------------------------------ */

static enum MHD_Result send_bytes(struct MHD_Connection *c, unsigned status, const char *type,
                                  const void *data, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(j);
    if (!text) return send_bytes(c, 500, "text/plain", "out of memory\n", 14);
    enum MHD_Result ok = send_bytes(c, status, "application/json", text, strlen(text));
    free(text);
    return ok;
}

/* {"error": message, "code": code} with the HTTP status. */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code,
                                  const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j = json_object();
    json_object_set_new(j, "error", json_string(msg));
    json_object_set_new(j, "code", json_string(code));
    return send_json(c, status, j);
}

/* ------------------------------------------------------------------------ */
/* Access                                                                   */
/* ------------------------------------------------------------------------ */

/* Reads the tokens file; 0 on success, else a message in err. */
static unsigned role_bit(const char *role);

/* Reads token lines from f (named path in messages) into v (*n entries);
** 0, or -1 with a message. */
static int parse_tokens(FILE *f, const char *path, token *v, int *n, int *plain, char *err,
                        size_t errlen)
{
    *plain = 0;
    *n = 0;
    char line[512];
    int no = 0;
    while (fgets(line, sizeof line, f)) {
        no++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == 0) continue;
        token t;
        memset(&t, 0, sizeof t);
        char word[128] = "";
        int bad = sscanf(p, "%127s %15s %63[^\n]", word, t.role, t.name) < 2 || !role_bit(t.role) ||
                  *n == MAX_TOKENS;
        if (!bad && !strncmp(word, "sha256:", 7)) { /* a hashed line (facetrail token add) */
            size_t k = strspn(word + 7, "0123456789abcdef");
            bad = k != 64 || word[7 + k];
            if (!bad) memcpy(t.hash, word + 7, 65);
        } else if (!bad) { /* a token in the clear: only its hash is kept */
            bad = strlen(word) < 16 || ft_sha256_hex(word, strlen(word), t.hash) != FT_OK;
            if (!bad) *plain += 1;
        }
        memset(word, 0, sizeof word);
        if (bad) {
            snprintf(err, errlen,
                     "%s:%d: expected 'sha256:HASH ROLE NAME' (facetrail token add writes them) "
                     "or 'TOKEN ROLE NAME' with a token of 16 or more characters, ROLE admin, "
                     "operator, runner or viewer (at most %d lines)",
                     path, no, MAX_TOKENS);
            return -1;
        }
        t.slot = *n;
        v[(*n)++] = t;
    }
    if (*n == 0) return snprintf(err, errlen, "%s holds no token", path), -1;
    return 0;
}

static int load_tokens(server *sv, const char *path, int *plain, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1;
    int r = parse_tokens(f, path, sv->tokens, &sv->n_tokens, plain, err, errlen);
    fclose(f);
    return r;
}

/* A search node's tokens from the cluster (text of a tokens file, hashed
** lines only): replaces the table (requests in flight keep their copy). */
static int cluster_tokens(server *sv, const char *text, char *err, size_t errlen)
{
    static token v[MAX_TOKENS];
    int n = 0, plain = 0;
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    if (!f) return snprintf(err, errlen, "out of memory"), -1;
    pthread_rwlock_wrlock(&sv->lock_tokens);
    int r = parse_tokens(f, "the cluster's tokens", v, &n, &plain, err, errlen);
    if (r == 0 && plain)
        r = -1, snprintf(err, errlen, "the cluster's tokens hold tokens in the clear");
    if (r == 0) {
        memcpy(sv->tokens, v, (size_t)n * sizeof v[0]);
        sv->n_tokens = n;
    }
    pthread_rwlock_unlock(&sv->lock_tokens);
    fclose(f);
    return r;
}

/* The caller's token entry (a copy of this thread's, valid until its next
** request), or NULL (no or unknown token); *required: whether the server
** has tokens at all. The presented token's SHA-256 is compared with every
** entry's in full, whatever matches first. */
static const token *caller(server *sv, struct MHD_Connection *c, int *required)
{
    static _Thread_local token copy;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    char hash[65] = "";
    if (h && !strncmp(h, "Bearer ", 7) && h[7] &&
        ft_sha256_hex(h + 7, strlen(h + 7), hash) != FT_OK)
        hash[0] = 0;
    const token *found = NULL;
    pthread_rwlock_rdlock(&sv->lock_tokens);
    *required = sv->n_tokens > 0;
    for (int i = 0; hash[0] && i < sv->n_tokens; i++) {
        const char *t = sv->tokens[i].hash;
        unsigned diff = 0;
        for (size_t k = 0; k < 64; k++)
            diff |= (unsigned)(t[k] ^ hash[k]);
        if (!diff) copy = sv->tokens[i], found = &copy;
    }
    pthread_rwlock_unlock(&sv->lock_tokens);
    return found;
}

/* ------------------------------------------------------------------------ */
/* Routes                                                                   */
/* ------------------------------------------------------------------------ */

static json_t *live_json(server *sv, const char *id);
static void live_track(const ft_sighting *s, void *ctx);

static json_t *cameras_json(server *sv, ft_camera *cams, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(cams[i].id));
        json_object_set_new(o, "km", json_real(cams[i].km));
        json_object_set_new(o, "name", json_string(cams[i].name));
        json_t *l = live_json(sv, cams[i].id);
        json_object_set_new(o, "live", l ? l : json_null());
        json_array_append_new(a, o);
    }
    return a;
}

static enum MHD_Result route_status(server *sv, struct MHD_Connection *c, int cameras_only)
{
    ft_camera *cams = NULL;
    int n = 0;
    int64_t nc = 0, ns = 0, nd = 0, t0 = 0, t1 = 0;
    pthread_mutex_lock(&sv->lock_thumb);
    int rc = ft_store_cameras(sv->st_thumb, &cams, &n);
    if (rc == FT_OK) rc = ft_store_stats(sv->st_thumb, &nc, &ns, &nd, &t0, &t1);
    char msg[256];
    snprintf(msg, sizeof msg, "%s", ft_store_errmsg(sv->st_thumb));
    pthread_mutex_unlock(&sv->lock_thumb);
    if (rc != FT_OK) {
        ft_store_free(cams);
        return send_error(c, 500, "store", "the event database: %s", msg);
    }
    json_t *cj = cameras_json(sv, cams, n);
    ft_store_free(cams);
    if (cameras_only) return send_json(c, 200, cj);
    json_t *o = json_object(), *ev = json_object();
    char t[FT_TIME_TEXT_MAX];
    json_object_set_new(ev, "cameras", json_integer(nc));
    json_object_set_new(ev, "sightings", json_integer(ns));
    json_object_set_new(ev, "descriptors", json_integer(nd));
    json_object_set_new(ev, "first_seen",
                        ns ? json_string(ft_time_format(t0, NULL, FT_TIME_ISO_UTC, t, sizeof t))
                           : json_null());
    json_object_set_new(ev, "last_seen",
                        ns ? json_string(ft_time_format(t1, NULL, FT_TIME_ISO_UTC, t, sizeof t))
                           : json_null());
    json_object_set_new(o, "event", ev);
    json_object_set_new(o, "cameras", cj);
    if (sv->clustered)
        json_object_set_new(o, "cluster",
                            json_pack("{s:s, s:b, s:b, s:I, s:I, s:I}", "node", sv->cluster.node,
                                      "connected", atomic_load(&sv->cluster_up), "alert_leader",
                                      atomic_load(&sv->leader), "received",
                                      (json_int_t)atomic_load(&sv->received), "applied",
                                      (json_int_t)atomic_load(&sv->applied), "pending",
                                      (json_int_t)atomic_load(&sv->pending)));
    json_object_set_new(o, "version", json_string(FT_VERSION));
    return send_json(c, 200, o);
}

static enum MHD_Result route_thumbnail(server *sv, struct MHD_Connection *c, const char *id_text)
{
    char *end;
    errno = 0;
    long long id = strtoll(id_text, &end, 10);
    if (end == id_text || *end || errno || id < 1)
        return send_error(c, 404, "not_found", "no sighting '%s'", id_text);
    ft_sighting s;
    unsigned char *jpg = NULL;
    pthread_mutex_lock(&sv->lock_thumb);
    int rc = ft_store_sighting_get(sv->st_thumb, id, &s, &jpg);
    pthread_mutex_unlock(&sv->lock_thumb);
    if (rc == FT_ENOTFOUND || (rc == FT_OK && !jpg)) {
        ft_store_free(jpg);
        return send_error(c, 404, "not_found", "sighting %lld has no thumbnail", id);
    }
    if (rc != FT_OK) return send_error(c, 500, "store", "reading sighting %lld failed", id);
    enum MHD_Result ok = send_bytes(c, 200, "image/jpeg", jpg, s.thumbnail_len);
    ft_store_free(jpg);
    return ok;
}

/* The value of form field name ("" if absent), NUL-terminated in place. */
static const char *field(const request *rq, const char *name)
{
    for (int i = 0; i < rq->n_parts; i++)
        if (!strcmp(rq->parts[i].name, name)) return rq->parts[i].data ? rq->parts[i].data : "";
    return NULL;
}

/* Brings the searcher up to the store, at most REFRESH_S old: nothing when
** the counts are those loaded; the new sightings only when there are more
** (ft_searcher_update);
** a full load after a purge, fewer sightings, or a new camera. Under
** sv->lock. */
static int refresh(server *sv, char *err, size_t errlen)
{
    int64_t ns = 0, nd = 0, version = 0;
    /* ft_store_stats counts rows (milliseconds on a large event, under
    ** sv->lock): not when nothing was committed since the last look, and
    ** at most every REFRESH_S (every search commits its audit record) */
    double now = mono_s();
    if (sv->s && !sv->reload &&
        ((ft_store_data_version(sv->st, &version) == FT_OK && version == sv->data_version) ||
         now - sv->refreshed_s < REFRESH_S))
        return FT_OK;
    sv->refreshed_s = now;
    int rc = ft_store_stats(sv->st, NULL, &ns, &nd, NULL, NULL);
    if (rc != FT_OK) return snprintf(err, errlen, "%s", ft_store_errmsg(sv->st)), rc;
    if (sv->s && !sv->reload && ns == sv->loaded_sightings && nd == sv->loaded_descriptors)
        return FT_OK;
    if (sv->s && !sv->reload && ns > sv->loaded_sightings && nd >= sv->loaded_descriptors) {
        /* more sightings (the live cameras, another ingest): only they are
        ** read, under the write lock (short: a few sightings) */
        pthread_rwlock_wrlock(&sv->s_lock);
        rc = ft_searcher_update(sv->s, sv->st, NULL, err, errlen);
        pthread_rwlock_unlock(&sv->s_lock);
        if (rc == FT_OK) {
            sv->loaded_sightings = ns;
            sv->loaded_descriptors = nd;
            sv->data_version = version;
            return FT_OK;
        }
        if (rc != FT_ENOTFOUND) return rc; /* a new camera: load it all again */
    }
    ft_searcher *s = NULL, *old;
    if ((rc = ft_searcher_open(sv->st, sv->cal->metric, &s, err, errlen)) != FT_OK) return rc;
    pthread_rwlock_wrlock(&sv->s_lock); /* searches on the old one finish first */
    old = sv->s;
    sv->s = s;
    pthread_rwlock_unlock(&sv->s_lock);
    ft_searcher_close(old);
    sv->loaded_sightings = ns;
    sv->loaded_descriptors = nd;
    sv->data_version = version;
    sv->reload = 0;
    return FT_OK;
}

/* An engine for one request, first come first served: each request takes
** a ticket and waits for its turn and a free engine, so that under load the
** wait is the queue's length, the same for every request (a plain mutex per
** engine lets some requests wait far longer than others). Returns its
** index; release with release_engine. */
static int take_engine(server *sv)
{
    pthread_mutex_lock(&sv->lock_pool);
    uint64_t me = sv->ticket_next++;
    int i = sv->n_engs;
    for (;;) {
        if (me == sv->ticket_serving)
            for (i = 0; i < sv->n_engs && sv->eng_busy[i]; i++)
                ;
        if (me == sv->ticket_serving && i < sv->n_engs) break;
        pthread_cond_wait(&sv->pool_free, &sv->lock_pool);
    }
    sv->eng_busy[i] = 1;
    sv->ticket_serving++;
    pthread_cond_broadcast(&sv->pool_free); /* the next ticket's turn */
    pthread_mutex_unlock(&sv->lock_pool);
    pthread_mutex_lock(&sv->eng_lock[i]); /* free: at once */
    return i;
}

static void release_engine(server *sv, int i)
{
    pthread_mutex_unlock(&sv->eng_lock[i]);
    pthread_mutex_lock(&sv->lock_pool);
    sv->eng_busy[i] = 0;
    pthread_cond_broadcast(&sv->pool_free);
    pthread_mutex_unlock(&sv->lock_pool);
}

/* The caller of the request this connection thread is answering (NULL:
** no tokens, loopback), for the audit log. */
static _Thread_local const token *t_who;

/* The first 'photo' part of the request, or NULL. */
static const part *first_photo(const request *rq)
{
    for (int i = 0; i < rq->n_parts; i++)
        if (!strcmp(rq->parts[i].name, "photo")) return &rq->parts[i];
    return NULL;
}

/* Appends the audit record of this request's action (who: the caller's
** token name and role, or "loopback" / "local" without tokens): the case
** reason, the SHA-256 of photo (not the photo), the number of results and
** a detail line. 0, else -1 (the message is printed): an action that
** cannot be logged is not answered with data. */
static int audit(server *sv, const char *action, const char *reason, const part *photo,
                 int64_t results, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int audit(server *sv, const char *action, const char *reason, const part *photo,
                 int64_t results, const char *fmt, ...)
{
    ft_audit a;
    memset(&a, 0, sizeof a);
    const token *who = t_who;
    snprintf(a.who, sizeof a.who, "%s",
             who ? (who->name[0] ? who->name : "(unnamed token)") : "loopback");
    snprintf(a.role, sizeof a.role, "%s", who ? who->role : "local");
    snprintf(a.action, sizeof a.action, "%s", action);
    snprintf(a.reason, sizeof a.reason, "%s", reason ? reason : "");
    if (photo && ft_sha256_hex(photo->data, photo->len, a.photo_sha256) != FT_OK)
        a.photo_sha256[0] = 0;
    a.results = results;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a.detail, sizeof a.detail, fmt, ap);
    va_end(ap);
    if (!sv->st_w) {
        fprintf(stderr, "facetrail serve: audit: the event database is read-only\n");
        return -1;
    }
    pthread_mutex_lock(&sv->lock_w);
    int rc = ft_store_audit_append(sv->st_w, &a);
    if (rc != FT_OK) fprintf(stderr, "facetrail serve: audit: %s\n", ft_store_errmsg(sv->st_w));
    pthread_mutex_unlock(&sv->lock_w);
    return rc == FT_OK ? 0 : -1;
}

static int fan_out(server *sv, const ft_query *queries, int n, const ft_search_params *sp,
                   char **text, int *appearances, char *err, size_t errlen);

static enum MHD_Result route_search(server *sv, struct MHD_Connection *c, request *rq)
{
    if (rq->too_big)
        return send_error(c, 413, "too_large", "the request is over %u MiB", MAX_BODY >> 20);
    if (rq->bad) return send_error(c, 400, "bad_request", "the form could not be read");
    const char *reason = field(rq, "reason");
    if (!reason || !*reason || strlen(reason) > 255)
        return send_error(c, 400, "no_reason",
                          "every search needs a case reason of 1 to 255 bytes ('reason', e.g. "
                          "\"case 114: lost child\"): it goes to the audit log");
    if (!sv->st_w)
        return send_error(c, 503, "read_only",
                          "the event database is read-only: searches cannot be audited");
    ft_search_params sp = ft_search_default_params();
    const char *names[3] = { "since", "until", "at" };
    int64_t *dst[3] = { &sp.since_us, &sp.until_us, &sp.at_us };
    char err[512];
    for (int i = 0; i < 3; i++) {
        const char *v = field(rq, names[i]);
        if (!v || !*v) continue;
        if (ft_time_parse(v, NULL, dst[i], NULL, err, sizeof err) != FT_OK)
            return send_error(c, 400, "bad_time", "%s: %s", names[i], err);
    }
    if (sp.since_us > sp.until_us) return send_error(c, 400, "bad_time", "since is after until");
    const char *cam = field(rq, "camera");
    if (cam && *cam) sp.camera_id = cam;
    const char *pos = field(rq, "possible");
    if (pos && (!strcmp(pos, "1") || !strcmp(pos, "true")))
        sp.possible_false_matches = FT_SEARCH_POSSIBLE_FALSE;
    int64_t confirmed[64];
    const char *conf = field(rq, "confirm");
    if (conf && parse_id_list(conf, confirmed, 64, &sp.n_confirmed))
        return send_error(c, 400, "bad_confirm",
                          "confirm: up to 64 sighting numbers separated by commas");
    sp.confirmed = sp.n_confirmed ? confirmed : NULL;
    if (sv->shard && sp.n_confirmed)
        return send_error(c, 400, "bad_confirm",
                          "confirm names this node's sightings: a shard's search cannot use it");
    /* the photos */
    ft_image *imgs[FT_SEARCH_MAX_PROBES];
    int n = 0;
    for (int i = 0; i < rq->n_parts; i++) {
        if (strcmp(rq->parts[i].name, "photo")) continue;
        if (n == FT_SEARCH_MAX_PROBES) {
            for (int k = 0; k < n; k++)
                ft_image_destroy(imgs[k]);
            return send_error(c, 400, "too_many_photos", "at most %d photos of one person",
                              FT_SEARCH_MAX_PROBES);
        }
        char name[32];
        snprintf(name, sizeof name, "photo %d", n + 1);
        int rc = ft_image_decode(rq->parts[i].data, rq->parts[i].len, name, MAX_PIXELS, &imgs[n],
                                 err, sizeof err);
        if (rc != FT_OK) {
            for (int k = 0; k < n; k++)
                ft_image_destroy(imgs[k]);
            return send_error(c, rc == FT_ETOOBIG ? 413 : 400, "bad_photo", "%s", err);
        }
        n++;
    }
    if (n == 0) return send_error(c, 400, "no_photo", "send one or more 'photo' parts");
    ft_query queries[FT_SEARCH_MAX_PROBES];
    ft_search_result r;
    memset(&r, 0, sizeof r);
    int failed = -1;
    char *text = NULL;
    unsigned status = 200;
    const char *code = NULL;
    pthread_mutex_lock(&sv->lock); /* the reload check uses sv->st */
    int rc = refresh(sv, err, sizeof err);
    pthread_mutex_unlock(&sv->lock);
    int e = take_engine(sv);
    pthread_rwlock_rdlock(&sv->s_lock);
    if (rc != FT_OK) {
        status = 500, code = "store";
    } else if ((rc = ft_search_photos(sv->engs[e], sv->s, (const ft_image *const *)imgs, n, &sv->qp,
                                      &sp, queries, &r, &failed, err, sizeof err)) != FT_OK) {
        status = rc == FT_ENOTFOUND || rc == FT_EINVAL ? 422 : 500;
        code = rc == FT_ENOTFOUND ? "no_face" : rc == FT_EINVAL ? "bad_search" : "search";
    } else {
        const char *pn[FT_SEARCH_MAX_PROBES];
        char pnb[FT_SEARCH_MAX_PROBES][24];
        for (int i = 0; i < n; i++)
            snprintf(pnb[i], sizeof pnb[i], "photo %d", i + 1), pn[i] = pnb[i];
        /* thumbnails as links: the store is not read here */
        int shown = r.n_appearances;
        if (ft_search_json(NULL, sv->s, &r, queries, pn, n, "/api/v1/sightings/", &text) != FT_OK)
            status = 500, code = "memory", snprintf(err, sizeof err, "out of memory");
        else if (sv->shard &&
                 (rc = fan_out(sv, queries, n, &sp, &text, &shown, err, sizeof err)) != FT_OK)
            status = 502, code = "shards";
        else if (audit(sv, "search", reason, first_photo(rq), shown, "%d photo%s%s%s%s", n,
                       n == 1 ? "" : "s", sp.camera_id ? ", camera " : "",
                       sp.camera_id ? sp.camera_id : "", sp.n_confirmed ? ", confirmed" : ""))
            status = 503, code = "audit",
            snprintf(err, sizeof err, "the search could not be written to the audit log");
    }
    pthread_rwlock_unlock(&sv->s_lock);
    release_engine(sv, e);
    ft_search_result_free(&r);
    for (int k = 0; k < n; k++)
        ft_image_destroy(imgs[k]);
    if (code) {
        if (failed >= 0) return send_error(c, status, code, "photo %d: %s", failed + 1, err);
        return send_error(c, status, code, "%s", err);
    }
    enum MHD_Result ok = send_bytes(c, 200, "application/json", text, strlen(text));
    ft_store_free(text);
    return ok;
}

/* POST /api/v1/selfie (runner): one photo of the runner, never stored;
** the answer holds only the runner's own appearances at the strict
** SELFIE_MAX_FALSE (no possible tier, no estimate), each with its thumbnail
** inline (a runner may not read other thumbnails). At most --selfies-per-hour
** a token (429 beyond). */
static enum MHD_Result route_selfie(server *sv, struct MHD_Connection *c, request *rq,
                                    const token *who)
{
    if (rq->too_big)
        return send_error(c, 413, "too_large", "the request is over %u MiB", MAX_BODY >> 20);
    if (rq->bad || !rq->pp || rq->raw_len)
        return send_error(c, 415, "not_a_form", "send multipart/form-data with one 'photo' part");
    int slot = who ? who->slot : MAX_TOKENS; /* no tokens: one shared budget */
    double now = mono_s();
    pthread_mutex_lock(&sv->lock_rate);
    double *times = sv->selfie_at[slot];
    int used = 0, oldest = 0;
    for (int i = 0; i < sv->selfies_per_hour; i++) {
        if (times[i] > 0 && now - times[i] < 3600) used++;
        if (times[i] < times[oldest]) oldest = i;
    }
    int limited = used >= sv->selfies_per_hour;
    if (!limited) times[oldest] = now;
    pthread_mutex_unlock(&sv->lock_rate);
    if (limited)
        return send_error(c, 429, "rate_limited", "at most %d selfie searches an hour",
                          sv->selfies_per_hour);
    const part *photo = NULL;
    int n = 0;
    for (int i = 0; i < rq->n_parts; i++)
        if (!strcmp(rq->parts[i].name, "photo")) photo = &rq->parts[i], n++;
    if (n != 1) return send_error(c, 400, "no_photo", "send one 'photo' part: a selfie");
    char err[512];
    ft_image *img;
    int rc =
        ft_image_decode(photo->data, photo->len, "the selfie", MAX_PIXELS, &img, err, sizeof err);
    if (rc != FT_OK) return send_error(c, rc == FT_ETOOBIG ? 413 : 400, "bad_photo", "%s", err);
    ft_search_params sp = ft_search_default_params();
    sp.max_false_matches = SELFIE_MAX_FALSE;
    ft_query q;
    ft_search_result r;
    memset(&r, 0, sizeof r);
    pthread_mutex_lock(&sv->lock);
    rc = refresh(sv, err, sizeof err);
    pthread_mutex_unlock(&sv->lock);
    int e = take_engine(sv);
    pthread_rwlock_rdlock(&sv->s_lock);
    const ft_image *const imgs[1] = { img };
    if (rc == FT_OK)
        rc = ft_search_photos(sv->engs[e], sv->s, imgs, 1, &sv->qp, &sp, &q, &r, NULL, err,
                              sizeof err);
    pthread_rwlock_unlock(&sv->s_lock);
    release_engine(sv, e);
    ft_image_destroy(img);
    if (rc != FT_OK) {
        ft_search_result_free(&r);
        return send_error(c, rc == FT_ENOTFOUND ? 422 : 500,
                          rc == FT_ENOTFOUND ? "no_face" : "search", "%s", err);
    }
    json_t *o = json_object(), *apps = json_array();
    char t[FT_TIME_TEXT_MAX];
    for (int i = 0; i < r.n_appearances; i++) {
        const ft_appearance *a = &r.appearances[i];
        if (a->possible) continue;
        json_t *j = json_object();
        json_object_set_new(j, "camera", json_string(a->camera_id));
        json_object_set_new(j, "km", json_real(a->km));
        json_object_set_new(
            j, "first",
            json_string(ft_time_format(a->first_us, NULL, FT_TIME_ISO_UTC, t, sizeof t)));
        json_object_set_new(
            j, "last", json_string(ft_time_format(a->last_us, NULL, FT_TIME_ISO_UTC, t, sizeof t)));
        json_object_set_new(j, "score", json_real(a->score));
        ft_sighting si;
        unsigned char *jpg = NULL;
        pthread_mutex_lock(&sv->lock_thumb);
        int got = ft_store_sighting_get(sv->st_thumb, a->best_sighting, &si, &jpg) == FT_OK && jpg;
        pthread_mutex_unlock(&sv->lock_thumb);
        if (got) {
            char *b64 = malloc(4 * ((si.thumbnail_len + 2) / 3) + 32);
            if (b64) {
                strcpy(b64, "data:image/jpeg;base64,");
                ft_base64(jpg, si.thumbnail_len, b64 + strlen(b64));
                json_object_set_new(j, "thumbnail", json_string(b64));
                free(b64);
            }
        }
        ft_store_free(jpg);
        json_array_append_new(apps, j);
    }
    json_object_set_new(o, "appearances", apps);
    json_object_set_new(o, "expected_false", json_real(r.expected_false_confirmed));
    int64_t shown = (int64_t)json_array_size(apps);
    ft_search_result_free(&r);
    if (audit(sv, "selfie", "the runner's own appearances", photo, shown, "strict: %g",
              SELFIE_MAX_FALSE)) {
        json_decref(o);
        return send_error(c, 503, "audit", "the search could not be written to the audit log");
    }
    return send_json(c, 200, o);
}

/* ------------------------------------------------------------------------ */
/* Live cameras                                                             */
/* ------------------------------------------------------------------------ */

static int live_stop(void *ctx)
{
    struct live *l = ctx;
    return l->stop || g_stop;
}

static void live_event(const ft_ingest_live_event *e, void *ctx)
{
    struct live *l = ctx;
    pthread_mutex_lock(&l->lock);
    l->state = e->state;
    snprintf(l->text, sizeof l->text, "%s", e->text ? e->text : "");
    l->connects = e->n_connects;
    pthread_mutex_unlock(&l->lock);
}

static int live_progress(const ft_ingest_progress *p, void *ctx)
{
    struct live *l = ctx;
    pthread_mutex_lock(&l->lock);
    l->frames = p->frames, l->dropped = p->frames_dropped, l->faces = p->faces;
    l->sightings = p->sightings, l->lag_s = p->lag_s;
    l->fps = p->elapsed_s > 0 ? (double)p->frames / p->elapsed_s : 0;
    pthread_mutex_unlock(&l->lock);
    return l->stop || g_stop;
}

/* A live camera's thread: its own engine and store handle, one live ingest
** until stopped (reconnecting inside ft_ingest_run). */
static void *live_loop(void *arg)
{
    struct live *l = arg;
    server *sv = l->sv;
    char err[512] = "";
    ft_engine *eng = NULL;
    ft_store *st = NULL;
    int rc = ft_engine_open(&sv->ep, &eng, err, sizeof err);
    if (rc == FT_OK && (rc = ft_store_open(sv->db, 0, &st)) != FT_OK)
        snprintf(err, sizeof err, "%s", ft_store_errmsg(NULL));
    if (rc == FT_OK) {
        ft_ingest_params ip = ft_ingest_default_params();
        ip.detect = sv->qp.detect;
        ip.camera_id = l->camera;
        ip.source = l->url;
        ip.live = 1;
        ip.stop = live_stop, ip.stop_ctx = l;
        ip.on_live = live_event, ip.live_ctx = l;
        ip.progress = live_progress, ip.progress_ctx = l;
        ip.on_track = live_track, ip.track_ctx = l;
        ft_camera *cams = NULL;
        int n_cams = 0;
        if (ft_store_cameras(st, &cams, &n_cams) == FT_OK)
            for (int i = 0; i < n_cams; i++)
                if (!strcmp(cams[i].id, l->camera)) l->km = cams[i].km;
        ft_store_free(cams);
        ft_ingest_report rep;
        rc = ft_ingest_run(eng, st, &ip, &rep, err, sizeof err);
    }
    pthread_mutex_lock(&l->lock);
    if (rc != FT_OK) snprintf(l->error, sizeof l->error, "%s", err);
    l->done = 1;
    pthread_mutex_unlock(&l->lock);
    if (rc != FT_OK) fprintf(stderr, "facetrail serve: camera %s: %s\n", l->camera, err);
    ft_store_close(st);
    ft_engine_close(eng);
    return NULL;
}

/* Starts ingesting camera id from url; 0, else -1 with a message. Under
** sv->lock_live. */
static int live_start(server *sv, const char *id, const char *url, char *err, size_t errlen)
{
    int slot = -1;
    for (int i = 0; i < MAX_LIVE; i++) {
        if (sv->live[i] && !strcmp(sv->live[i]->camera, id))
            return snprintf(err, errlen, "camera %s is already live", id), -1;
        if (!sv->live[i] && slot < 0) slot = i;
    }
    if (slot < 0) return snprintf(err, errlen, "at most %d live cameras", MAX_LIVE), -1;
    struct live *l = calloc(1, sizeof *l);
    if (!l) return snprintf(err, errlen, "out of memory"), -1;
    l->sv = sv;
    snprintf(l->camera, sizeof l->camera, "%s", id);
    snprintf(l->url, sizeof l->url, "%s", url);
    l->started_s = mono_s();
    pthread_mutex_init(&l->lock, NULL);
    if (pthread_create(&l->thread, NULL, live_loop, l) != 0) {
        pthread_mutex_destroy(&l->lock);
        free(l);
        return snprintf(err, errlen, "cannot start a thread"), -1;
    }
    sv->live[slot] = l;
    return 0;
}

/* Stops and frees live camera slot i (its open tracks are committed).
** Under sv->lock_live. */
static void live_stop_slot(server *sv, int i)
{
    struct live *l = sv->live[i];
    if (!l) return;
    l->stop = 1;
    /* a source can block its thread in a system call (a FIFO's open waits
    ** for a writer): SIGUSR1, whose handler does nothing and does not
    ** restart calls, makes the call return, and the ingest sees stop */
    for (int tries = 0; tries < 100; tries++) {
        pthread_kill(l->thread, SIGUSR1);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        if (pthread_timedjoin_np(l->thread, NULL, &until) == 0) goto joined;
    }
    pthread_join(l->thread, NULL);
joined:
    pthread_mutex_destroy(&l->lock);
    free(l);
    sv->live[i] = NULL;
}

static const char *live_state_name(int state, int done)
{
    if (done) return "stopped";
    switch (state) {
    case FT_INGEST_LIVE_CONNECTED: return "connected";
    case FT_INGEST_LIVE_LOST: return "lost";
    case FT_INGEST_LIVE_RETRY: return "reconnecting";
    case FT_INGEST_LIVE_ENDED: return "ended";
    default: return "starting";
    }
}

/* The live state of camera id, or NULL when it is not live. */
static json_t *live_json(server *sv, const char *id)
{
    json_t *o = NULL;
    pthread_mutex_lock(&sv->lock_live);
    for (int i = 0; i < MAX_LIVE && !o; i++) {
        struct live *l = sv->live[i];
        if (!l || strcmp(l->camera, id)) continue;
        pthread_mutex_lock(&l->lock);
        o = json_object();
        json_object_set_new(o, "url", json_string(l->url));
        json_object_set_new(o, "state", json_string(live_state_name(l->state, l->done)));
        json_object_set_new(o, "connected",
                            json_boolean(l->state == FT_INGEST_LIVE_CONNECTED && !l->done));
        json_object_set_new(o, "detail", json_string(l->error[0] ? l->error : l->text));
        json_object_set_new(o, "fps", json_real(l->fps));
        json_object_set_new(o, "lag_s", json_real(l->lag_s));
        double up = mono_s() - l->started_s;
        json_object_set_new(o, "faces_per_s", json_real(up > 0 ? (double)l->faces / up : 0));
        json_object_set_new(o, "frames", json_integer(l->frames));
        json_object_set_new(o, "dropped", json_integer(l->dropped));
        json_object_set_new(o, "sightings", json_integer(l->sightings));
        json_object_set_new(o, "connects", json_integer(l->connects));
        pthread_mutex_unlock(&l->lock);
    }
    pthread_mutex_unlock(&sv->lock_live);
    return o;
}

/* POST /api/v1/cameras {"id","km","name","url"}: adds the camera (or takes
** the existing one at the same km), and with a url ingests it live, also
** after a restart (the URL is kept in the store's settings). */
static enum MHD_Result route_camera_add(server *sv, struct MHD_Connection *c, request *rq)
{
    if (!sv->st_w) return send_error(c, 503, "read_only", "the event database is read-only");
    json_error_t je;
    json_t *b = rq->raw_len ? json_loads(rq->raw, 0, &je) : NULL;
    const char *id = b ? json_string_value(json_object_get(b, "id")) : NULL;
    const char *name = b ? json_string_value(json_object_get(b, "name")) : NULL;
    const char *url = b ? json_string_value(json_object_get(b, "url")) : NULL;
    json_t *km = b ? json_object_get(b, "km") : NULL;
    enum MHD_Result ret;
    char err[512] = "";
    ft_camera cam;
    memset(&cam, 0, sizeof cam);
    if (!id || !json_is_number(km) || strlen(id) >= sizeof cam.id) {
        ret = send_error(c, 400, "bad_request",
                         "send JSON {\"id\": \"km05\", \"km\": 5, \"name\": \"...\", \"url\": "
                         "\"rtsp://...\"} (url optional)");
        json_decref(b);
        return ret;
    }
    if (url && (!*url || strlen(url) >= sizeof((struct live *)0)->url)) {
        json_decref(b);
        return send_error(c, 400, "bad_url", "url: 1 to 1023 bytes");
    }
    snprintf(cam.id, sizeof cam.id, "%s", id);
    snprintf(cam.name, sizeof cam.name, "%s", name ? name : "");
    cam.km = json_number_value(km);
    pthread_mutex_lock(&sv->lock_w);
    ft_camera old;
    int rc = ft_store_camera_get(sv->st_w, cam.id, &old);
    if (rc == FT_ENOTFOUND) {
        if ((rc = ft_store_camera_add(sv->st_w, &cam)) != FT_OK)
            snprintf(err, sizeof err, "%s", ft_store_errmsg(sv->st_w));
    } else if (rc == FT_OK && old.km != cam.km) {
        rc = FT_EINVAL;
        snprintf(err, sizeof err, "camera %s exists at km %g", cam.id, old.km);
    } else if (rc != FT_OK) {
        snprintf(err, sizeof err, "%s", ft_store_errmsg(sv->st_w));
    }
    if (rc == FT_OK && url) {
        char key[128];
        snprintf(key, sizeof key, URL_KEY "%s", cam.id);
        if ((rc = ft_store_meta_set(sv->st_w, key, url)) != FT_OK)
            snprintf(err, sizeof err, "%s", ft_store_errmsg(sv->st_w));
    }
    pthread_mutex_unlock(&sv->lock_w);
    if (rc == FT_OK && url) {
        pthread_mutex_lock(&sv->lock_live);
        if (live_start(sv, cam.id, url, err, sizeof err) != 0) rc = FT_EIO;
        pthread_mutex_unlock(&sv->lock_live);
    }
    if (rc != FT_OK) {
        ret = send_error(c,
                         rc == FT_EINVAL ? 400
                         : rc == FT_EIO  ? 409
                                         : 500,
                         "bad_camera", "%s", err);
    } else {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(cam.id));
        json_object_set_new(o, "km", json_real(cam.km));
        json_object_set_new(o, "live", json_boolean(url != NULL));
        if (audit(sv, "camera_add", NULL, NULL, 0, "camera %s at km %g%s%s", cam.id, cam.km,
                  url ? ", live from " : "", url ? url : ""))
            json_object_set_new(o, "warning", json_string("not written to the audit log"));
        ret = send_json(c, 201, o);
    }
    json_decref(b);
    return ret;
}

/* DELETE /api/v1/cameras/{id}: stops its live ingest (the camera and its
** sightings stay). */
static enum MHD_Result route_camera_stop(server *sv, struct MHD_Connection *c, const char *id)
{
    int found = 0;
    pthread_mutex_lock(&sv->lock_live);
    for (int i = 0; i < MAX_LIVE; i++)
        if (sv->live[i] && !strcmp(sv->live[i]->camera, id)) live_stop_slot(sv, i), found = 1;
    pthread_mutex_unlock(&sv->lock_live);
    if (!found) return send_error(c, 404, "not_found", "camera %s is not live", id);
    if (sv->st_w) {
        char key[128];
        snprintf(key, sizeof key, URL_KEY "%s", id);
        pthread_mutex_lock(&sv->lock_w);
        ft_store_meta_set(sv->st_w, key, "");
        pthread_mutex_unlock(&sv->lock_w);
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "live", json_false());
    if (audit(sv, "camera_stop", NULL, NULL, 0, "camera %s", id))
        json_object_set_new(o, "warning", json_string("not written to the audit log"));
    return send_json(c, 200, o);
}

/* At start: the cameras that were live when the server stopped. */
static void live_resume(server *sv)
{
    if (!sv->st_w) return;
    ft_camera *cams = NULL;
    int n = 0;
    pthread_mutex_lock(&sv->lock_w); /* requests use st_w already */
    int rc = ft_store_cameras(sv->st_w, &cams, &n);
    pthread_mutex_unlock(&sv->lock_w);
    if (rc != FT_OK) return;
    for (int i = 0; i < n; i++) {
        char key[128], url[1024], err[256];
        snprintf(key, sizeof key, URL_KEY "%s", cams[i].id);
        pthread_mutex_lock(&sv->lock_w);
        rc = ft_store_meta_get(sv->st_w, key, url, sizeof url);
        pthread_mutex_unlock(&sv->lock_w);
        if (rc != FT_OK || !url[0]) continue;
        pthread_mutex_lock(&sv->lock_live);
        if (live_start(sv, cams[i].id, url, err, sizeof err) == 0)
            fprintf(stderr, "facetrail serve: camera %s: live from %s\n", cams[i].id, url);
        pthread_mutex_unlock(&sv->lock_live);
    }
    ft_store_free(cams);
}

/* ------------------------------------------------------------------------ */
/* Watchlist and alerts                                                     */
/* ------------------------------------------------------------------------ */

/* Describes the photo parts of rq (an engine each): into w->desc. Returns
** 0, else sends the error and returns -1 with *ret set. */
static int describe_photos(server *sv, struct MHD_Connection *c, request *rq, ft_watch *w,
                           enum MHD_Result *ret)
{
    char err[512];
    w->n_desc = 0;
    for (int i = 0; i < rq->n_parts; i++) {
        if (strcmp(rq->parts[i].name, "photo")) continue;
        if (w->n_desc == FT_WATCH_MAX_DESC) {
            *ret = send_error(c, 400, "too_many_photos", "at most %d photos", FT_WATCH_MAX_DESC);
            return -1;
        }
        char name[32];
        snprintf(name, sizeof name, "photo %d", w->n_desc + 1);
        ft_image *img;
        int rc = ft_image_decode(rq->parts[i].data, rq->parts[i].len, name, MAX_PIXELS, &img, err,
                                 sizeof err);
        if (rc != FT_OK) {
            *ret = send_error(c, rc == FT_ETOOBIG ? 413 : 400, "bad_photo", "%s", err);
            return -1;
        }
        ft_query q;
        int e = take_engine(sv);
        rc = ft_query_face(sv->engs[e], img, &sv->qp, &q, err, sizeof err);
        release_engine(sv, e);
        ft_image_destroy(img);
        if (rc != FT_OK) {
            *ret = send_error(c, rc == FT_ENOTFOUND ? 422 : 500, "no_face", "%s: %s", name, err);
            return -1;
        }
        memcpy(w->desc[w->n_desc++], q.face.descriptor, sizeof q.face.descriptor);
    }
    if (w->n_desc == 0) {
        *ret = send_error(c, 400, "no_photo", "send one or more 'photo' parts");
        return -1;
    }
    return 0;
}

static int parse_http_url(const char *url, char *host, size_t host_len, char *port, size_t port_len,
                          const char **path);

/* 1 if url is a webhook this server can deliver to. */
static int webhook_ok(const char *url)
{
    char host[256], port[16];
    const char *path;
    return strlen(url) < sizeof((ft_watch *)0)->webhook &&
           parse_http_url(url, host, sizeof host, port, sizeof port, &path) == 0;
}

/* The request threads' cluster handle, opened at its first use; lock_cl
** held. FT_OK, or a status with err. */
static int api_cluster(server *sv, char *err, size_t errlen)
{
    return sv->cl_api ? FT_OK : ft_cluster_open(&sv->cluster_api, &sv->cl_api, err, errlen);
}

/* A search node's watchlist change goes to the cluster first (every node
** copies it from there: cluster_loop): w given, an entry to add (its id is
** set); else the entry id to remove. A status; the message in err. */
static int cluster_watch(server *sv, ft_watch *w, int64_t id, char *err, size_t errlen)
{
    pthread_mutex_lock(&sv->lock_cl);
    int rc = api_cluster(sv, err, errlen);
    if (rc == FT_OK) {
        rc = w ? ft_cluster_watch_add(sv->cl_api, w) : ft_cluster_watch_remove(sv->cl_api, id);
        if (rc != FT_OK) snprintf(err, errlen, "%s", ft_cluster_errmsg(sv->cl_api));
    }
    pthread_mutex_unlock(&sv->lock_cl);
    return rc;
}

static enum MHD_Result route_watch_add(server *sv, struct MHD_Connection *c, request *rq)
{
    if (rq->too_big)
        return send_error(c, 413, "too_large", "the request is over %u MiB", MAX_BODY >> 20);
    if (rq->bad || !rq->pp)
        return send_error(c, 400, "bad_request", "send multipart/form-data: photo, name, reason");
    if (!sv->st_w) return send_error(c, 503, "read_only", "the event database is read-only");
    ft_watch *w = calloc(1, sizeof *w);
    if (!w) return send_error(c, 500, "memory", "out of memory");
    const char *name = field(rq, "name"), *reason = field(rq, "reason");
    const char *expires = field(rq, "expires"), *hook = field(rq, "webhook");
    enum MHD_Result ret;
    char err[256];
    if (!name || !*name || strlen(name) >= sizeof w->name) {
        ret = send_error(c, 400, "no_name", "a name of 1 to %zu bytes", sizeof w->name - 1);
    } else if (!reason || !*reason || strlen(reason) >= sizeof w->reason) {
        ret = send_error(c, 400, "no_reason", "a case reason of 1 to %zu bytes",
                         sizeof w->reason - 1);
    } else if (hook && *hook && !webhook_ok(hook)) {
        ret = send_error(c, 400, "bad_webhook",
                         "webhook: an http://host[:port]/path URL of under 256 bytes (https is "
                         "not delivered: put a TLS proxy on the receiving side)");
    } else if (expires && *expires &&
               ft_time_parse(expires, NULL, &w->expires_us, NULL, err, sizeof err) != FT_OK) {
        ret = send_error(c, 400, "bad_time", "expires: %s", err);
    } else if (describe_photos(sv, c, rq, w, &ret) == 0) {
        snprintf(w->name, sizeof w->name, "%s", name);
        snprintf(w->reason, sizeof w->reason, "%s", reason);
        snprintf(w->webhook, sizeof w->webhook, "%s", hook ? hook : "");
        int rc = sv->clustered ? cluster_watch(sv, w, 0, err, sizeof err) : FT_OK;
        pthread_mutex_lock(&sv->lock_w);
        if (rc == FT_OK) { /* in the cluster: this node's copy at once */
            rc = sv->clustered ? ft_store_watch_put(sv->st_w, w) : ft_store_watch_add(sv->st_w, w);
            snprintf(err, sizeof err, "%s", ft_store_errmsg(sv->st_w));
        }
        sv->watch_gen++;
        pthread_mutex_unlock(&sv->lock_w);
        if (rc != FT_OK) {
            ret = send_error(c, 500, "store", "%s", err);
        } else {
            json_t *o = json_object();
            json_object_set_new(o, "id", json_integer(w->id));
            if (audit(sv, "watch_add", w->reason, first_photo(rq), 0, "entry %lld: %s, %d photo%s",
                      (long long)w->id, w->name, w->n_desc, w->n_desc == 1 ? "" : "s"))
                json_object_set_new(o, "warning", json_string("not written to the audit log"));
            ret = send_json(c, 201, o);
        }
    }
    free(w);
    return ret;
}

static enum MHD_Result route_watch_list(server *sv, struct MHD_Connection *c)
{
    ft_watch *v = NULL;
    int n = 0;
    pthread_mutex_lock(&sv->lock_thumb);
    int rc = ft_store_watch_list(sv->st_thumb, 0, &v, &n);
    pthread_mutex_unlock(&sv->lock_thumb);
    if (rc != FT_OK) return send_error(c, 500, "store", "reading the watchlist failed");
    json_t *a = json_array();
    char t[FT_TIME_TEXT_MAX];
    for (int i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(v[i].id));
        json_object_set_new(o, "name", json_string(v[i].name));
        json_object_set_new(o, "reason", json_string(v[i].reason));
        json_object_set_new(
            o, "created",
            json_string(ft_time_format(v[i].created_us, NULL, FT_TIME_ISO_UTC, t, sizeof t)));
        json_object_set_new(
            o, "expires",
            v[i].expires_us
                ? json_string(ft_time_format(v[i].expires_us, NULL, FT_TIME_ISO_UTC, t, sizeof t))
                : json_null());
        json_object_set_new(o, "photos", json_integer(v[i].n_desc));
        json_object_set_new(o, "webhook",
                            v[i].webhook[0] ? json_string(v[i].webhook) : json_null());
        json_array_append_new(a, o);
    }
    ft_store_free(v);
    return send_json(c, 200, a);
}

/* DELETE /api/v1/watchlist/{id} and POST .../{id}/dismiss {"sighting": id}. */
static enum MHD_Result route_watch_entry(server *sv, struct MHD_Connection *c, const char *method,
                                         const char *rest, request *rq)
{
    char *end;
    errno = 0;
    long long id = strtoll(rest, &end, 10);
    if (end == rest || errno || id < 1 ||
        (*end && strcmp(end, "/dismiss") && strcmp(end, "/accept")))
        return send_error(c, 404, "not_found", "no such route");
    if (!sv->st_w) return send_error(c, 503, "read_only", "the event database is read-only");
    int dismiss = !strcmp(end, "/dismiss"), accept = !strcmp(end, "/accept"), rc;
    char err[256];
    long long sighting = 0;
    char track[FT_CAMERA_ID_MAX + 24] = "";
    if (dismiss || accept) {
        json_error_t je;
        json_t *body = rq->raw_len ? json_loads(rq->raw, 0, &je) : NULL;
        json_t *sj = body ? json_object_get(body, "sighting") : NULL;
        json_t *tj = body ? json_object_get(body, "track") : NULL;
        sighting = sj && json_is_integer(sj) ? (long long)json_integer_value(sj) : 0;
        if (tj && json_is_string(tj)) snprintf(track, sizeof track, "%s", json_string_value(tj));
        json_decref(body);
        if (dismiss && sighting < 1)
            return send_error(c, 400, "bad_request", "send JSON {\"sighting\": ID}");
        if (accept && sighting < 1 && !track[0])
            return send_error(c, 400, "bad_request",
                              "send JSON {\"sighting\": ID} or, for an alert still in view, "
                              "{\"track\": \"CAMERA/KEY\"}");
    }
    if (accept) { /* "this is the person": nothing changes but the audit log */
        ft_watch *v = NULL;
        int n = 0, found = 0;
        pthread_mutex_lock(&sv->lock_w);
        rc = ft_store_watch_list(sv->st_w, 0, &v, &n);
        pthread_mutex_unlock(&sv->lock_w);
        for (int i = 0; i < n; i++)
            found |= v[i].id == id;
        ft_store_free(v);
        if (rc != FT_OK) return send_error(c, 500, "store", "reading the watchlist failed");
        if (!found) return send_error(c, 404, "not_found", "no watchlist entry %lld", id);
        char what[96];
        if (sighting > 0)
            snprintf(what, sizeof what, "sighting %lld", sighting);
        else
            snprintf(what, sizeof what, "track %s", track);
        if (audit(sv, "alert_accept", NULL, NULL, 0, "entry %lld: %s", id, what))
            return send_error(c, 503, "audit",
                              "the acceptance could not be written to the audit log");
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "accepted",
                            sighting > 0 ? json_integer(sighting) : json_string(track));
        return send_json(c, 200, o);
    }
    rc = !dismiss && sv->clustered ? cluster_watch(sv, NULL, id, err, sizeof err) : FT_OK;
    pthread_mutex_lock(&sv->lock_w);
    if (rc == FT_OK) {
        rc = dismiss ? ft_store_watch_dismiss(sv->st_w, id, sighting)
                     : ft_store_watch_remove(sv->st_w, id);
        if (rc == FT_ENOTFOUND && !dismiss && sv->clustered) rc = FT_OK; /* not synced yet */
        snprintf(err, sizeof err, "%s", ft_store_errmsg(sv->st_w));
    }
    sv->watch_gen++;
    pthread_mutex_unlock(&sv->lock_w);
    if (rc == FT_ENOTFOUND) return send_error(c, 404, "not_found", "no watchlist entry %lld", id);
    if (rc != FT_OK) return send_error(c, 500, "store", "%s", err);
    int logged = dismiss ? audit(sv, "alert_dismiss", NULL, NULL, 0, "entry %lld: sighting %lld",
                                 id, sighting)
                         : audit(sv, "watch_remove", NULL, NULL, 0, "entry %lld", id);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(id));
    if (logged) json_object_set_new(o, "warning", json_string("not written to the audit log"));
    if (dismiss)
        json_object_set_new(o, "dismissed", json_integer(sighting));
    else
        json_object_set_new(o, "removed", json_true());
    return send_json(c, 200, o);
}

/* ------------------------------------------------------------------------ */
/* Webhooks                                                                 */
/* ------------------------------------------------------------------------ */

/* Splits "http://host[:port]/path" into its parts; 0, else -1 (https and
** anything else are not delivered: the watchlist refuses them). */
static int parse_http_url(const char *url, char *host, size_t host_len, char *port, size_t port_len,
                          const char **path)
{
    if (strncmp(url, "http://", 7) != 0) return -1;
    const char *h = url + 7, *slash = strchr(h, '/'), *end = slash ? slash : h + strlen(h);
    const char *colon = memchr(h, ':', (size_t)(end - h));
    const char *hend = colon ? colon : end;
    if (hend == h || (size_t)(hend - h) >= host_len) return -1;
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = 0;
    if (colon) {
        if ((size_t)(end - colon - 1) >= port_len || end == colon + 1) return -1;
        memcpy(port, colon + 1, (size_t)(end - colon - 1));
        port[end - colon - 1] = 0;
    } else {
        snprintf(port, port_len, "80");
    }
    *path = slash ? slash : "/";
    return 0;
}

/* POSTs body as JSON to an http:// URL; returns the HTTP status, or -1
** (no connection, no answer within HOOK_TIMEOUT_S). */
static int http_post(const char *url, const char *body)
{
    char host[256], port[16];
    const char *path;
    if (parse_http_url(url, host, sizeof host, port, sizeof port, &path)) return -1;
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) return -1;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), status = -1;
    if (fd >= 0) {
        struct timeval tv = { HOOK_TIMEOUT_S, 0 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        char head[768];
        int n = snprintf(head, sizeof head,
                         "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nUser-Agent: facetrail/" FT_VERSION
                         "\r\nConnection: close\r\n\r\n",
                         path, host, strlen(body));
        if (n > 0 && (size_t)n < sizeof head && send(fd, head, (size_t)n, MSG_NOSIGNAL) == n &&
            send(fd, body, strlen(body), MSG_NOSIGNAL) == (ssize_t)strlen(body)) {
            char line[64];
            ssize_t got = recv(fd, line, sizeof line - 1, 0);
            if (got > 12) {
                line[got] = 0;
                int code;
                if (sscanf(line, "HTTP/%*d.%*d %d", &code) == 1) status = code;
            }
        }
    }
    if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    return status;
}

/* Queues an alert's JSON for the entry's webhook. */
static void hook_queue(server *sv, const char *url, const char *json)
{
    struct hook *h = calloc(1, sizeof *h);
    if (!h || !(h->body = strdup(json))) {
        free(h);
        return;
    }
    snprintf(h->url, sizeof h->url, "%s", url);
    pthread_mutex_lock(&sv->lock_hooks);
    h->next_s = mono_s();
    h->next = sv->hooks;
    sv->hooks = h;
    pthread_cond_signal(&sv->new_hook);
    pthread_mutex_unlock(&sv->lock_hooks);
}

/* The webhook thread: delivers each queued alert, retried after 1, 2, 4,
** 8 and 16 s (HOOK_TRIES in all) until the receiver answers 2xx; what is
** left at the stop is freed by cmd_serve once every thread has ended. */
static void *hook_loop(void *arg)
{
    server *sv = arg;
    pthread_mutex_lock(&sv->lock_hooks);
    while (!g_stop) {
        struct hook *due = NULL, **at = NULL;
        double now = mono_s(), next = now + 1;
        for (struct hook **p = &sv->hooks; *p; p = &(*p)->next) {
            if ((*p)->next_s <= now && !due)
                due = *p, at = p;
            else if ((*p)->next_s < next)
                next = (*p)->next_s;
        }
        if (!due) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            double wait = next - now;
            until.tv_sec += (time_t)wait;
            until.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
            if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&sv->new_hook, &sv->lock_hooks, &until);
            continue;
        }
        *at = due->next; /* out of the list while it is sent */
        pthread_mutex_unlock(&sv->lock_hooks);
        int status = http_post(due->url, due->body);
        due->tries++;
        int done = status >= 200 && status < 300, give_up = !done && due->tries >= HOOK_TRIES;
        if (give_up)
            fprintf(stderr, "facetrail serve: webhook %s: gave up after %d tries (last: %s%d)\n",
                    due->url, due->tries, status < 0 ? "no answer " : "HTTP ",
                    status < 0 ? 0 : status);
        pthread_mutex_lock(&sv->lock_hooks);
        if (done) sv->hooks_delivered++;
        if (done || give_up) {
            free(due->body);
            free(due);
        } else {
            due->next_s = mono_s() + (double)(1 << (due->tries - 1));
            due->next = sv->hooks;
            sv->hooks = due;
        }
    }
    pthread_mutex_unlock(&sv->lock_hooks); /* what is left is dropped at the stop */
    return NULL;
}

/* Adds one alert to the ring, wakes the event streams, and queues it for
** the entry's webhook. An early alert's thumbnail (thumb, borrowed) is kept
** with it and served at /api/v1/alerts/SEQ/thumbnail; a follows-alert is
** the "sighting" event that names the stored sighting (no webhook). */
/* Puts an event in the ring (lock_alerts held): the event streams send it.
** thumb (malloc'd or NULL) is the ring's from now on. */
static void ring_put(server *sv, const char *event, const char *json, unsigned char *thumb,
                     size_t thumb_len)
{
    struct alert_slot *slot = &sv->ring[sv->next_seq % ALERT_RING];
    snprintf(slot->event, sizeof slot->event, "%s", event);
    snprintf(slot->json, sizeof slot->json, "%s", json);
    free(slot->thumb);
    slot->thumb = thumb;
    slot->thumb_len = thumb ? thumb_len : 0;
    sv->next_seq++;
    pthread_cond_broadcast(&sv->new_alert);
}

/* The alert leader's alert to the other search nodes (cluster_alert_relay),
** marked with this node's name. */
static void cluster_alert_send(server *sv, const char *text)
{
    json_t *o = json_loads(text, 0, NULL);
    if (!o) return;
    json_object_set_new(o, "raised_by", json_string(sv->cluster.node));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char err[256];
    pthread_mutex_lock(&sv->lock_cl);
    if (body && api_cluster(sv, err, sizeof err) == FT_OK &&
        ft_cluster_alert_send(sv->cl_api, body) != FT_OK)
        fprintf(stderr, "facetrail serve: cluster: %s\n", ft_cluster_errmsg(sv->cl_api));
    pthread_mutex_unlock(&sv->lock_cl);
    free(body);
}

typedef struct track_find {
    int64_t key, id;
} track_find;

static int find_track(const ft_sighting *s, void *ctx)
{
    track_find *f = ctx;
    if (s->track_key == f->key) f->id = s->id;
    return 0;
}

/* Another node's alert (ft_cluster_alert_listen; on a NATS thread): shown
** to this node's operators with this node's sighting (found by camera, time
** and track; waited for up to 5 s while it is being applied), never sent
** to webhooks or the terminal: the leader did that. */
static void cluster_alert_relay(const char *json, int len, void *ctx)
{
    server *sv = ctx;
    json_t *o = json_loadb(json, (size_t)len, 0, NULL);
    const char *by = o ? json_string_value(json_object_get(o, "raised_by")) : NULL;
    const char *cam = o ? json_string_value(json_object_get(o, "camera")) : NULL;
    const char *time_text = o ? json_string_value(json_object_get(o, "time")) : NULL;
    const char *track = o ? json_string_value(json_object_get(o, "track")) : NULL;
    const char *slash = track ? strrchr(track, '/') : NULL;
    int64_t t = 0;
    char err[128];
    if (!by || !strcmp(by, sv->cluster.node) || !cam || !slash || !time_text ||
        ft_time_parse(time_text, NULL, &t, NULL, err, sizeof err) != FT_OK) {
        json_decref(o);
        return;
    }
    track_find f = { strtoll(slash + 1, NULL, 10), 0 };
    for (int i = 0; i < 100 && !f.id && !g_stop; i++) { /* the time is to the millisecond */
        pthread_mutex_lock(&sv->lock_thumb);
        ft_store_sightings_between(sv->st_thumb, t - 1000, t + 1000, cam, find_track, &f);
        pthread_mutex_unlock(&sv->lock_thumb);
        if (!f.id) {
            struct timespec ts = { 0, 50000000L };
            nanosleep(&ts, NULL);
        }
    }
    char link[96];
    snprintf(link, sizeof link, "/api/v1/sightings/%lld/thumbnail", (long long)f.id);
    json_object_set_new(o, "sighting", f.id ? json_integer(f.id) : json_null());
    json_object_set_new(o, "thumbnail", f.id ? json_string(link) : json_null());
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text) return;
    pthread_mutex_lock(&sv->lock_alerts);
    ring_put(sv, "alert", text, NULL, 0);
    pthread_mutex_unlock(&sv->lock_alerts);
    free(text);
}

static void publish(server *sv, const ft_alert *a, double km, const unsigned char *thumb,
                    size_t thumb_len)
{
    if (sv->clustered && !atomic_load(&sv->leader)) return; /* the leader raises it */
    unsigned char *copy = NULL;
    if (a->early && thumb && thumb_len && (copy = malloc(thumb_len)))
        memcpy(copy, thumb, thumb_len);
    pthread_mutex_lock(&sv->lock_alerts);
    int64_t seq = sv->next_seq;
    char link[96];
    if (a->early)
        snprintf(link, sizeof link, "/api/v1/alerts/%lld/thumbnail", (long long)seq);
    else
        snprintf(link, sizeof link, "/api/v1/sightings/%lld/thumbnail", (long long)a->sighting_id);
    char *text = NULL;
    if (ft_alert_json(a, km, link, &text) != FT_OK) {
        pthread_mutex_unlock(&sv->lock_alerts);
        free(copy);
        return;
    }
    ring_put(sv, a->follows ? "sighting" : "alert", text, copy, thumb_len);
    pthread_mutex_unlock(&sv->lock_alerts);
    if (!a->follows && a->webhook[0]) hook_queue(sv, a->webhook, text);
    if (sv->clustered && !a->early && !a->follows) cluster_alert_send(sv, text);
    ft_store_free(text);
    if (!a->follows) { /* the terminal hears of it too */
        char t[FT_TIME_TEXT_MAX];
        fprintf(stderr,
                "facetrail serve: alert: %s at camera %s (km %.2f) %s%s, %.2g false alerts "
                "expected\n",
                a->name, a->camera_id, km,
                ft_time_format(a->time_us, NULL, FT_TIME_ISO_UTC, t, sizeof t),
                a->early ? " (in view)" : "", a->expected_false);
    }
}

/* A live track in view (ft_ingest_params.on_track): early alerts. */
static void live_track(const ft_sighting *s, void *ctx)
{
    struct live *l = ctx;
    ft_alert a[8];
    int k = ft_watcher_look(l->sv->watcher, s, a, 8);
    for (int i = 0; i < k && i < 8; i++)
        publish(l->sv, &a[i], l->km, s->thumbnail, s->thumbnail_len);
}

typedef struct alert_ctx {
    server *sv;
    int64_t last_id;
    ft_camera *cams;
    int n_cams;
    int skip; /* 1: only move last_id past what is already there */
} alert_ctx;

static int on_new_sighting(const ft_sighting *si, void *arg)
{
    alert_ctx *x = arg;
    x->last_id = si->id;
    if (x->skip) return 0;
    ft_alert a[8];
    int k = ft_watcher_look(x->sv->watcher, si, a, 8);
    for (int i = 0; i < k && i < 8; i++) {
        if (!a[i].follows &&
            ft_store_watch_dismissed(x->sv->st_alert, a[i].watch_id, a[i].sighting_id) != 0)
            continue;
        double km = 0;
        for (int j = 0; j < x->n_cams; j++)
            if (!strcmp(x->cams[j].id, a[i].camera_id)) km = x->cams[j].km;
        publish(x->sv, &a[i], km, NULL, 0);
    }
    return 0;
}

/* The watcher's entries: the active ones now, and the event's gallery. */
static void watcher_refresh(server *sv, int64_t now_us, int64_t gallery)
{
    ft_watch *entries = NULL;
    int n = 0;
    if (ft_store_watch_list(sv->st_alert, now_us, &entries, &n) == FT_OK)
        ft_watcher_set(sv->watcher, entries, n, gallery);
    ft_store_free(entries);
}

/* The alert thread: keeps the watcher's entries current (at once after a
** change through the API, and every second for expiry), and every
** ALERT_POLL_MS checks the sightings committed since the last look.
** Sightings from before the server started are not: an alert is news.
** Tracks still in view are checked by the live ingests (live_track). */
static void *alert_loop(void *arg)
{
    server *sv = arg;
    alert_ctx x;
    memset(&x, 0, sizeof x);
    x.sv = sv;
    x.skip = 1;
    for (;;) { /* skip what is already there */
        int64_t before = x.last_id;
        if (ft_store_sightings_after(sv->st_alert, x.last_id, 4096, on_new_sighting, &x) != FT_OK ||
            x.last_id == before)
            break;
    }
    x.skip = 0;
    int64_t checked_stats_us = 0, listed_us = 0, gallery = 1;
    int seen_gen = -1, was_leader = 0;
    struct {
        double t; /* monotonic */
        int64_t id;
    } hist[REWIND_SLOTS];
    memset(hist, 0, sizeof hist);
    int64_t n_hist = 0;
    while (!g_stop) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t now_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
        if (now_us - checked_stats_us > 5000000) { /* the gallery and cameras, every 5 s */
            int64_t nd = 0;
            if (ft_store_stats(sv->st_alert, NULL, NULL, &nd, NULL, NULL) == FT_OK) gallery = nd;
            ft_store_free(x.cams);
            x.cams = NULL;
            if (ft_store_cameras(sv->st_alert, &x.cams, &x.n_cams) != FT_OK) x.n_cams = 0;
            checked_stats_us = now_us;
            seen_gen = -1;
        }
        pthread_mutex_lock(&sv->lock_w);
        int gen = sv->watch_gen;
        pthread_mutex_unlock(&sv->lock_w);
        if (gen != seen_gen || now_us - listed_us > 1000000) {
            watcher_refresh(sv, now_us, gallery);
            seen_gen = gen, listed_us = now_us;
        }
        /* a cluster's search node that does not lead moves past what comes
           without a look (the leader raises it), remembering where it was;
           when it takes the lead it looks again at what came in the last
           REWIND_S: a lead that moves misses nothing (an alert the old
           leader raised just before may come twice) */
        int lead = !sv->clustered || atomic_load(&sv->leader);
        double t_mono = mono_s();
        if (sv->clustered && lead && !was_leader) {
            for (int i = 0; i < REWIND_SLOTS; i++)
                if (hist[i].t > 0 && t_mono - hist[i].t <= REWIND_S && hist[i].id < x.last_id)
                    x.last_id = hist[i].id;
        }
        if (!lead) {
            hist[n_hist % REWIND_SLOTS].t = t_mono;
            hist[n_hist % REWIND_SLOTS].id = x.last_id;
            n_hist++;
        }
        was_leader = lead;
        x.skip = !lead;
        ft_store_sightings_after(sv->st_alert, x.last_id, 1024, on_new_sighting, &x);
        x.skip = 0;
        struct timespec ts = { 0, ALERT_POLL_MS * 1000000L };
        nanosleep(&ts, NULL);
    }
    ft_store_free(x.cams);
    return NULL;
}

/* A search node's consumer thread (--nats): keeps this node's key alive,
** holds or seeks the alert leadership (the leader alone raises alerts:
** publish), and applies the stream's sightings to the database through a
** handle of its own; the searcher (refresh) and the alert thread pick them
** up as they do any other process's commits. Losing the servers is not an
** error: the thread says so once, retries, and goes on where its durable
** consumer stopped. */
static int purge_now(server *sv, int64_t cut, ft_purge_report *rep, char *err, size_t errlen);

/* The cluster's tokens (ft_state "tokens", when the node was started
** without --tokens): taken again whenever they change, so a token removed
** from the cluster stops working within TOKENS_EVERY_S. */
static void cluster_tokens_check(server *sv, ft_cluster *cl, uint64_t *seen)
{
    char *text = NULL, err[512];
    uint64_t rev = 0;
    if (ft_cluster_state_get(cl, "tokens", &text, &rev) == FT_OK && rev != *seen) {
        if (cluster_tokens(sv, text, err, sizeof err) == 0)
            fprintf(stderr, "facetrail serve: cluster: %d tokens from the cluster\n", sv->n_tokens);
        else
            fprintf(stderr, "facetrail serve: cluster: %s (the tokens in use are kept)\n", err);
        *seen = rev;
    }
    ft_store_free(text);
}

/* The cluster's retention (ft_state "retention": days after the event's
** end, `facetrail cluster retention`): once due, this node purges its
** database (with an audit record), and the alert leader also empties the
** stream, so that no node gets the sightings back. */
static void cluster_retention_check(server *sv, ft_cluster *cl)
{
    char *text = NULL, err[512];
    if (!sv->st_w || ft_cluster_state_get(cl, "retention", &text, NULL) != FT_OK) {
        ft_store_free(text);
        return;
    }
    int days = atoi(text);
    ft_store_free(text);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t cut = 0;
    pthread_mutex_lock(&sv->lock_w);
    int due = ft_store_purge_due(sv->st_w, days, (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000,
                                 &cut, NULL, NULL);
    pthread_mutex_unlock(&sv->lock_w);
    if (due != 1) return;
    ft_purge_report rep;
    memset(&rep, 0, sizeof rep);
    int rc = purge_now(sv, cut, &rep, err, sizeof err);
    audit(sv, "purge", NULL, NULL, rep.sightings,
          "the cluster's retention, %d days after the event's end: %lld sightings, %lld "
          "descriptors, %lld thumbnails%s",
          days, (long long)rep.sightings, (long long)rep.descriptors, (long long)rep.thumbnails,
          rc == FT_OK ? "" : " (failed)");
    fprintf(stderr,
            "facetrail serve: cluster: retention (%d days after the event): %lld sightings "
            "purged%s%s\n",
            days, (long long)rep.sightings, rc == FT_OK ? "" : ": ", rc == FT_OK ? "" : err);
    if (rc == FT_OK && rep.sightings > 0 && atomic_load(&sv->leader) &&
        ft_cluster_stream_purge(cl) != FT_OK)
        fprintf(stderr, "facetrail serve: cluster: %s\n", ft_cluster_errmsg(cl));
}

/* A shard's answer to another node's search (ft_cluster_answer; on a NATS
** thread): the request holds the query descriptors the asking node made
** from the photos, and the search's bounds; the answer is this shard's
** search in ft_search_json's schema, thumbnails inline. */
static char *shard_answer(const char *req, int len, int *reply_len, void *ctx)
{
    server *sv = ctx;
    static float q[FT_SEARCH_MAX_PROBES][FT_DESCRIPTOR_DIM];
    static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
    json_t *j = json_loadb(req, (size_t)len, 0, NULL);
    json_t *probes = j ? json_object_get(j, "probes") : NULL;
    size_t n = json_is_array(probes) ? json_array_size(probes) : 0;
    int ok = n >= 1 && n <= FT_SEARCH_MAX_PROBES;
    pthread_mutex_lock(&q_lock); /* one answer at a time (NATS delivers them in turn) */
    for (size_t i = 0; ok && i < n; i++) {
        json_t *v = json_array_get(probes, i);
        ok = json_is_array(v) && json_array_size(v) == FT_DESCRIPTOR_DIM;
        for (int k = 0; ok && k < FT_DESCRIPTOR_DIM; k++) {
            json_t *x = json_array_get(v, (size_t)k);
            ok = json_is_number(x) && isfinite(json_number_value(x));
            if (ok) q[i][k] = (float)json_number_value(x);
        }
    }
    ft_search_params sp = ft_search_default_params();
    double mf = j ? json_number_value(json_object_get(j, "max_false")) : 0;
    double pf = j ? json_number_value(json_object_get(j, "possible_false")) : 0;
    if (mf > 0 && mf <= 1) sp.max_false_matches = mf;
    if (pf > sp.max_false_matches && pf <= 10) sp.possible_false_matches = pf;
    json_t *t;
    if (j && json_is_integer(t = json_object_get(j, "since_us")))
        sp.since_us = json_integer_value(t);
    if (j && json_is_integer(t = json_object_get(j, "until_us")))
        sp.until_us = json_integer_value(t);
    if (j && json_is_integer(t = json_object_get(j, "at_us"))) sp.at_us = json_integer_value(t);
    json_decref(j);
    char *text = NULL, err[256];
    if (ok) {
        pthread_mutex_lock(&sv->lock);
        ok = refresh(sv, err, sizeof err) == FT_OK;
        pthread_mutex_unlock(&sv->lock);
    }
    if (ok) {
        ft_search_result r;
        memset(&r, 0, sizeof r);
        pthread_rwlock_rdlock(&sv->s_lock);
        if (ft_searcher_search_multi(sv->s, &q[0][0], (int)n, &sp, &r) == FT_OK) {
            pthread_mutex_lock(&sv->lock_thumb);
            if (ft_search_json(sv->st_thumb, sv->s, &r, NULL, NULL, 0, NULL, &text) != FT_OK)
                text = NULL;
            pthread_mutex_unlock(&sv->lock_thumb);
        }
        pthread_rwlock_unlock(&sv->s_lock);
        ft_search_result_free(&r);
    }
    pthread_mutex_unlock(&q_lock);
    if (!text) return NULL; /* the asking node counts a missing shard */
    char *reply = strdup(text);
    ft_store_free(text);
    if (reply) *reply_len = (int)strlen(reply);
    return reply;
}

typedef struct answers {
    char *v[64];
    int n;
} answers;

static void collect_answer(const char *reply, int len, void *ctx)
{
    answers *a = ctx;
    if (a->n < 64 && (a->v[a->n] = malloc((size_t)len + 1))) {
        memcpy(a->v[a->n], reply, (size_t)len);
        a->v[a->n++][len] = 0;
    }
}

/* A shard's search (--shard): the same descriptors go to every shard node
** (this one too), each searching at max_false / shards so that the false
** matches of all of them together stay within the search's bound; the
** answers are merged (ft_search_json_merge) into *text, which replaces the
** local answer. FT_OK, or a status with err. */
static int fan_out(server *sv, const ft_query *queries, int n, const ft_search_params *sp,
                   char **text, int *appearances, char *err, size_t errlen)
{
    json_t *probes = json_array();
    for (int i = 0; i < n; i++) {
        json_t *v = json_array();
        for (int k = 0; k < FT_DESCRIPTOR_DIM; k++)
            json_array_append_new(v, json_real(queries[i].face.descriptor[k]));
        json_array_append_new(probes, v);
    }
    pthread_mutex_lock(&sv->lock_cl);
    int rc = api_cluster(sv, err, errlen);
    char *names = NULL;
    int shards = 0;
    if (rc == FT_OK && (rc = ft_cluster_nodes(sv->cl_api, "shard", &names, &shards)) != FT_OK)
        snprintf(err, errlen, "%s", ft_cluster_errmsg(sv->cl_api));
    ft_store_free(names);
    if (shards < 1) shards = 1;
    json_t *req =
        json_pack("{s:o, s:f, s:f}", "probes", probes, "max_false", sp->max_false_matches / shards,
                  "possible_false", sp->possible_false_matches / shards);
    if (req && sp->since_us) json_object_set_new(req, "since_us", json_integer(sp->since_us));
    if (req && sp->until_us) json_object_set_new(req, "until_us", json_integer(sp->until_us));
    if (req && sp->at_us) json_object_set_new(req, "at_us", json_integer(sp->at_us));
    char *body = req ? json_dumps(req, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(req);
    answers a;
    memset(&a, 0, sizeof a);
    int got = 0;
    if (rc == FT_OK && !body) rc = FT_ENOMEM, snprintf(err, errlen, "out of memory");
    if (rc == FT_OK && (rc = ft_cluster_ask(sv->cl_api, body, (int)strlen(body), shards,
                                            FANOUT_WAIT_MS, collect_answer, &a, &got)) != FT_OK)
        snprintf(err, errlen, "%s", ft_cluster_errmsg(sv->cl_api));
    pthread_mutex_unlock(&sv->lock_cl);
    free(body);
    char *merged = NULL;
    if (rc == FT_OK && got == 0) rc = FT_EIO, snprintf(err, errlen, "no shard answered");
    if (rc == FT_OK)
        rc = ft_search_json_merge(*text, (const char *const *)a.v, a.n, shards, &merged,
                                  appearances, err, errlen);
    for (int i = 0; i < a.n; i++)
        free(a.v[i]);
    if (rc != FT_OK) return rc;
    ft_store_free(*text);
    *text = merged;
    return FT_OK;
}

static void *cluster_loop(void *arg)
{
    server *sv = arg;
    ft_cluster *cl = NULL;
    ft_store *st = NULL;
    char err[512];
    double warned = -1e9, beat = -1e9, led_until = 0, tokens_at = -1e9, retention_at = -1e9;
    uint64_t tokens_rev = 0;
    int answering = 0, listening = 0;
    static const token system_who = { "", "system", "cluster retention", 0 };
    t_who = &system_who; /* this thread's audit records */
    while (!g_stop) {
        if (!cl && ft_cluster_open(&sv->cluster, &cl, err, sizeof err) != FT_OK) {
            if (mono_s() - warned > 10)
                fprintf(stderr, "facetrail serve: cluster: %s (retrying)\n", err),
                    warned = mono_s();
            atomic_store(&sv->cluster_up, 0);
            atomic_store(&sv->leader, 0);
            sleep(1);
            continue;
        }
        if (!st && ft_store_open(sv->db, 0, &st) != FT_OK) {
            fprintf(stderr, "facetrail serve: cluster: %s\n", ft_store_errmsg(NULL));
            sleep(1);
            continue;
        }
        if (mono_s() - beat >= sv->cluster.lease_s / 4) {
            int ok = ft_cluster_heartbeat(cl, sv->shard ? "shard" : "search") == FT_OK;
            if (ok && !sv->shard && !listening) {
                listening = ft_cluster_alert_listen(cl, cluster_alert_relay, sv) == FT_OK;
                if (!listening)
                    fprintf(stderr, "facetrail serve: cluster: %s\n", ft_cluster_errmsg(cl));
            }
            if (ok && sv->shard && !answering) {
                answering = ft_cluster_answer(cl, shard_answer, sv) == FT_OK;
                if (!answering)
                    fprintf(stderr, "facetrail serve: cluster: %s\n", ft_cluster_errmsg(cl));
            }
            /* a shard sees some cameras only: it never leads the alerts */
            int h = !ok ? -1 : sv->shard ? 0 : ft_cluster_hold(cl, "leader.alerts", NULL);
            /* a renewal that failed (servers unreachable) keeps the lead for
               the rest of the lease: nobody can take it before it expires */
            if (h == 1) led_until = mono_s() + 0.8 * sv->cluster.lease_s;
            if (h < 0 && ok && mono_s() - warned > 10)
                fprintf(stderr, "facetrail serve: cluster: the alert lead: %s\n",
                        ft_cluster_errmsg(cl)),
                    warned = mono_s();
            int lead = h == 1 || (h < 0 && atomic_load(&sv->leader) && mono_s() < led_until);
            if (lead != atomic_load(&sv->leader))
                fprintf(stderr, "facetrail serve: cluster: %s\n",
                        lead ? "this node now raises the watchlist's alerts"
                             : "another node raises the watchlist's alerts now");
            atomic_store(&sv->leader, lead);
            atomic_store(&sv->cluster_up, ok);
            int64_t pend = -1;
            if (ok && ft_cluster_pending(cl, &pend) == FT_OK) atomic_store(&sv->pending, pend);
            int changed = 0;
            if (ok && ft_cluster_watch_sync(cl, st, &changed) != FT_OK && mono_s() - warned > 10)
                fprintf(stderr, "facetrail serve: cluster: the watchlist: %s\n",
                        ft_cluster_errmsg(cl)),
                    warned = mono_s();
            if (changed) {
                pthread_mutex_lock(&sv->lock_w);
                sv->watch_gen++;
                pthread_mutex_unlock(&sv->lock_w);
            }
            if (ok && sv->tokens_from_cluster && mono_s() - tokens_at >= TOKENS_EVERY_S)
                cluster_tokens_check(sv, cl, &tokens_rev), tokens_at = mono_s();
            if (ok && mono_s() - retention_at >= RETENTION_EVERY_S)
                cluster_retention_check(sv, cl), retention_at = mono_s();
            beat = mono_s();
        }
        int got = 0, n_new = 0;
        int rc = ft_cluster_consume(cl, st, 256, 200, sv->shard, &got, &n_new);
        atomic_fetch_add(&sv->received, got);
        atomic_fetch_add(&sv->applied, n_new);
        if (rc != FT_OK) {
            if (mono_s() - warned > 10)
                fprintf(stderr, "facetrail serve: cluster: %s (retrying)\n", ft_cluster_errmsg(cl)),
                    warned = mono_s();
            atomic_store(&sv->cluster_up, 0);
            struct timespec ts = { 0, 500000000L };
            nanosleep(&ts, NULL);
        }
    }
    if (cl && atomic_load(&sv->leader)) ft_cluster_release(cl, "leader.alerts");
    ft_store_close(st);
    ft_cluster_close(cl);
    return NULL;
}

/* One event stream (GET /api/v1/alerts): Server-Sent Events. */
typedef struct stream {
    server *sv;
    int64_t seq; /* the next alert this client gets */
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *x = cls;
    server *sv = x->sv;
    pthread_mutex_lock(&sv->lock_alerts);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += KEEPALIVE_S;
    int timed_out = 0;
    while (!g_stop && x->seq >= sv->next_seq && !timed_out)
        timed_out = pthread_cond_timedwait(&sv->new_alert, &sv->lock_alerts, &until) == ETIMEDOUT;
    ssize_t n;
    if (g_stop) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (x->seq < sv->next_seq) {
        if (sv->next_seq - x->seq > ALERT_RING) x->seq = sv->next_seq - ALERT_RING; /* lost */
        const struct alert_slot *slot = &sv->ring[x->seq % ALERT_RING];
        int w = snprintf(buf, max, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)x->seq,
                         slot->event, slot->json);
        n = w > 0 && (size_t)w < max ? w : 0;
        x->seq++;
        sv->alerts_sent++;
    } else {
#ifdef FT_FUZZ /* fuzz/http.c: a stream ends after its first wait, so that every request ends */
        n = MHD_CONTENT_READER_END_OF_STREAM;
#else
        n = snprintf(buf, max, ": keep-alive\n\n");
#endif
    }
    pthread_mutex_unlock(&sv->lock_alerts);
    return n;
}

/* GET /api/v1/alerts/{seq}/thumbnail: an early alert's thumbnail, while
** the ring holds it. */
static enum MHD_Result route_alert_thumb(server *sv, struct MHD_Connection *c, const char *rest)
{
    char *end;
    errno = 0;
    long long seq = strtoll(rest, &end, 10);
    if (end == rest || errno || seq < 0 || strcmp(end, "/thumbnail"))
        return send_error(c, 404, "not_found", "no such route");
    pthread_mutex_lock(&sv->lock_alerts);
    const struct alert_slot *slot = &sv->ring[seq % ALERT_RING];
    if (seq >= sv->next_seq || sv->next_seq - seq > ALERT_RING || !slot->thumb) {
        pthread_mutex_unlock(&sv->lock_alerts);
        return send_error(c, 404, "not_found",
                          "alert %lld has no thumbnail here (gone from the last %d, or not early: "
                          "use its sighting's)",
                          seq, ALERT_RING);
    }
    enum MHD_Result ok = send_bytes(c, 200, "image/jpeg", slot->thumb, slot->thumb_len);
    pthread_mutex_unlock(&sv->lock_alerts);
    return ok;
}

static enum MHD_Result route_alerts(server *sv, struct MHD_Connection *c)
{
    stream *x = calloc(1, sizeof *x);
    if (!x) return send_error(c, 500, "memory", "out of memory");
    x->sv = sv;
    pthread_mutex_lock(&sv->lock_alerts);
    x->seq = sv->next_seq; /* from now on */
    pthread_mutex_unlock(&sv->lock_alerts);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, x, free);
    if (!r) {
        free(x);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* The request loop                                                         */
/* ------------------------------------------------------------------------ */

static enum MHD_Result on_form(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
    request *rq = cls;
    if (!key) return MHD_YES;
    part *p = NULL;
    /* a part continues while the same key arrives at a growing offset */
    if (off > 0 && rq->n_parts > 0 && !strcmp(rq->parts[rq->n_parts - 1].name, key))
        p = &rq->parts[rq->n_parts - 1];
    if (!p) {
        if (rq->n_parts == (int)(sizeof rq->parts / sizeof rq->parts[0])) {
            rq->bad = 1;
            return MHD_NO;
        }
        p = &rq->parts[rq->n_parts++];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", key);
    }
    if (rq->bytes + size > MAX_BODY) {
        rq->too_big = 1;
        return MHD_NO;
    }
    char *g = realloc(p->data, p->len + size + 1);
    if (!g) {
        rq->bad = 1;
        return MHD_NO;
    }
    memcpy(g + p->len, data, size);
    p->data = g;
    p->len += size;
    p->data[p->len] = 0;
    rq->bytes += size;
    return MHD_YES;
}

static void request_free(request *rq)
{
    if (!rq) return;
    if (rq->pp) MHD_destroy_post_processor(rq->pp);
    for (int i = 0; i < rq->n_parts; i++)
        free(rq->parts[i].data);
    free(rq);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    request_free(*con_cls);
    *con_cls = NULL;
    conn_waiting(cls, c, 1); /* a kept-alive connection waits for the next request */
}

/* ------------------------------------------------------------------------ */
/* Routes and roles                                                         */
/* ------------------------------------------------------------------------ */

/* ROUTES: every route under /api/v1/, its method, and the roles that may
** call it (with --tokens; without, everyone on loopback may). '*' in a
** pattern is one path segment. Least privilege: admin: cameras, purge,
** the audit log (and status); operator: search, the watchlist and its
** alerts, thumbnails (and status); runner: a selfie search of their own
** appearances, nothing else; viewer: status and cameras. */
enum { R_ADMIN = 1, R_OPERATOR = 2, R_RUNNER = 4, R_VIEWER = 8 };

typedef enum MHD_Result (*route_fn)(server *sv, struct MHD_Connection *c, request *rq,
                                    const token *who, const char *path, const char *method);

struct route_rule {
    const char *method, *pattern;
    unsigned roles;
    const char *what; /* for a 403 */
    route_fn run;
};

static unsigned role_bit(const char *role)
{
    return !strcmp(role, "admin")      ? R_ADMIN
           : !strcmp(role, "operator") ? R_OPERATOR
           : !strcmp(role, "runner")   ? R_RUNNER
           : !strcmp(role, "viewer")   ? R_VIEWER
                                       : 0;
}

static const char *role_names(unsigned roles)
{
    switch (roles) {
    case R_ADMIN: return "admin";
    case R_OPERATOR: return "operator";
    case R_RUNNER: return "runner";
    case R_ADMIN | R_OPERATOR: return "admin or operator";
    default: return "admin, operator or viewer";
    }
}

/* Whether path matches pattern ('*': one non-empty segment). */
static int route_match(const char *pattern, const char *path)
{
    while (*pattern && *path) {
        if (*pattern == '*') {
            const char *end = strchr(path, '/');
            size_t n = end ? (size_t)(end - path) : strlen(path);
            if (n == 0) return 0;
            path += n, pattern++;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return !*pattern && !*path;
}

static enum MHD_Result do_status(server *sv, struct MHD_Connection *c, request *rq,
                                 const token *who, const char *path, const char *method)
{
    (void)rq, (void)who, (void)method;
    return route_status(sv, c, !strcmp(path, "cameras"));
}

static enum MHD_Result do_camera_add(server *sv, struct MHD_Connection *c, request *rq,
                                     const token *who, const char *path, const char *method)
{
    (void)who, (void)path, (void)method;
    return route_camera_add(sv, c, rq);
}

static enum MHD_Result do_camera_stop(server *sv, struct MHD_Connection *c, request *rq,
                                      const token *who, const char *path, const char *method)
{
    (void)rq, (void)who, (void)method;
    return route_camera_stop(sv, c, path + 8);
}

static enum MHD_Result do_search(server *sv, struct MHD_Connection *c, request *rq,
                                 const token *who, const char *path, const char *method)
{
    (void)who, (void)path, (void)method;
    if (!rq->pp || rq->raw_len)
        return send_error(c, 415, "not_a_form",
                          "send multipart/form-data with one or more 'photo' parts");
    return route_search(sv, c, rq);
}

static enum MHD_Result do_watch_list(server *sv, struct MHD_Connection *c, request *rq,
                                     const token *who, const char *path, const char *method)
{
    (void)rq, (void)who, (void)path, (void)method;
    return route_watch_list(sv, c);
}

static enum MHD_Result do_watch_add(server *sv, struct MHD_Connection *c, request *rq,
                                    const token *who, const char *path, const char *method)
{
    (void)who, (void)path, (void)method;
    return route_watch_add(sv, c, rq);
}

static enum MHD_Result do_watch_entry(server *sv, struct MHD_Connection *c, request *rq,
                                      const token *who, const char *path, const char *method)
{
    (void)who;
    return route_watch_entry(sv, c, method, path + 10, rq);
}

static enum MHD_Result do_alerts(server *sv, struct MHD_Connection *c, request *rq,
                                 const token *who, const char *path, const char *method)
{
    (void)rq, (void)who, (void)path, (void)method;
    return route_alerts(sv, c);
}

static enum MHD_Result do_alert_thumb(server *sv, struct MHD_Connection *c, request *rq,
                                      const token *who, const char *path, const char *method)
{
    (void)rq, (void)who, (void)method;
    return route_alert_thumb(sv, c, path + 7);
}

static enum MHD_Result do_thumbnail(server *sv, struct MHD_Connection *c, request *rq,
                                    const token *who, const char *path, const char *method)
{
    (void)rq, (void)who, (void)method;
    char id[32];
    const char *rest = path + 10, *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : 0;
    if (n >= sizeof id) return send_error(c, 404, "not_found", "no such sighting");
    memcpy(id, rest, n);
    id[n] = 0;
    return route_thumbnail(sv, c, id);
}

static enum MHD_Result do_selfie(server *sv, struct MHD_Connection *c, request *rq,
                                 const token *who, const char *path, const char *method)
{
    (void)path, (void)method;
    return route_selfie(sv, c, rq, who);
}

/* POST /api/v1/purge (admin): {"before": TIME}, or {"keep_days": N} to
** purge once the event ended N days ago (ft_store_purge_due). The
** early alerts' thumbnails held in memory go too. */
/* Purges the event's data from before cut (ft_store_purge) and what the
** server holds of it: the searcher is loaded again, the alert ring's
** thumbnails go. */
static int purge_now(server *sv, int64_t cut, ft_purge_report *rep, char *err, size_t errlen)
{
    pthread_mutex_lock(&sv->lock_w);
    int rc = ft_store_purge(sv->st_w, cut, rep);
    snprintf(err, errlen, "%s", ft_store_errmsg(sv->st_w));
    sv->watch_gen++;
    pthread_mutex_unlock(&sv->lock_w);
    pthread_mutex_lock(&sv->lock);
    sv->reload = 1; /* the searcher forgets the purged sightings */
    pthread_mutex_unlock(&sv->lock);
    pthread_mutex_lock(&sv->lock_alerts);
    for (int i = 0; i < ALERT_RING; i++) {
        free(sv->ring[i].thumb);
        sv->ring[i].thumb = NULL, sv->ring[i].thumb_len = 0;
    }
    pthread_mutex_unlock(&sv->lock_alerts);
    return rc;
}

static enum MHD_Result do_purge(server *sv, struct MHD_Connection *c, request *rq, const token *who,
                                const char *path, const char *method)
{
    (void)who, (void)path, (void)method;
    if (!sv->st_w) return send_error(c, 503, "read_only", "the event database is read-only");
    json_error_t je;
    json_t *b = rq->raw_len ? json_loads(rq->raw, 0, &je) : NULL;
    const char *before = b ? json_string_value(json_object_get(b, "before")) : NULL;
    json_t *kd = b ? json_object_get(b, "keep_days") : NULL;
    int64_t cut = 0, due = 0;
    char err[256];
    int rc = FT_OK;
    if (before && !kd) {
        rc = ft_time_parse(before, NULL, &cut, NULL, err, sizeof err);
        if (rc != FT_OK) {
            json_decref(b);
            return send_error(c, 400, "bad_time", "before: %s", err);
        }
    } else if (kd && !before && json_is_integer(kd) && json_integer_value(kd) >= 0 &&
               json_integer_value(kd) <= 36500) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        pthread_mutex_lock(&sv->lock_w);
        rc = ft_store_purge_due(sv->st_w, (int)json_integer_value(kd),
                                (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000, &cut, &due,
                                NULL);
        pthread_mutex_unlock(&sv->lock_w);
        if (rc == FT_ENOTFOUND) cut = 0, rc = FT_OK;
    } else {
        json_decref(b);
        return send_error(c, 400, "bad_request",
                          "send JSON {\"before\": \"2026-04-12T18:00Z\"} or {\"keep_days\": N}");
    }
    json_decref(b);
    ft_purge_report rep;
    memset(&rep, 0, sizeof rep);
    if (rc >= 0 && cut > 0) {
        rc = purge_now(sv, cut, &rep, err, sizeof err);
    } else if (rc < 0) {
        snprintf(err, sizeof err, "%s", ft_store_errmsg(sv->st_w));
    }
    char t[FT_TIME_TEXT_MAX];
    int logged =
        audit(sv, "purge", NULL, NULL, rep.sightings,
              "before %s: %lld sightings, %lld descriptors, %lld thumbnails, %lld "
              "watchlist entries%s",
              cut == INT64_MAX ? "the event's end and its retention (all)"
              : cut            ? ft_time_format(cut, NULL, FT_TIME_ISO_UTC, t, sizeof t)
                               : "(nothing due)",
              (long long)rep.sightings, (long long)rep.descriptors, (long long)rep.thumbnails,
              (long long)rep.watch_entries, rc == FT_OK ? "" : " (failed)");
    if (rc != FT_OK) return send_error(c, rc == FT_EIO ? 409 : 500, "purge", "%s", err);
    json_t *o = json_object();
    json_object_set_new(o, "purged", json_boolean(cut > 0));
    if (cut == 0 && due)
        json_object_set_new(o, "due",
                            json_string(ft_time_format(due, NULL, FT_TIME_ISO_UTC, t, sizeof t)));
    json_object_set_new(o, "sightings", json_integer(rep.sightings));
    json_object_set_new(o, "descriptors", json_integer(rep.descriptors));
    json_object_set_new(o, "thumbnails", json_integer(rep.thumbnails));
    json_object_set_new(o, "watch_entries", json_integer(rep.watch_entries));
    json_object_set_new(o, "bytes_before", json_integer(rep.bytes_before));
    json_object_set_new(o, "bytes_after", json_integer(rep.bytes_after));
    if (logged) json_object_set_new(o, "warning", json_string("not written to the audit log"));
    return send_json(c, 200, o);
}

/* GET /api/v1/audit[?since=TIME] (admin): the records and whether the
** hash chain holds. */
static enum MHD_Result do_audit(server *sv, struct MHD_Connection *c, request *rq, const token *who,
                                const char *path, const char *method)
{
    (void)rq, (void)who, (void)path, (void)method;
    const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    int64_t since_us = 0;
    char err[256];
    if (since && *since && ft_time_parse(since, NULL, &since_us, NULL, err, sizeof err) != FT_OK)
        return send_error(c, 400, "bad_time", "since: %s", err);
    ft_audit *v = NULL;
    int n = 0;
    int64_t bad = 0;
    pthread_mutex_lock(&sv->lock_thumb);
    int rc = ft_store_audit_list(sv->st_thumb, since_us, &v, &n);
    if (rc == FT_OK) rc = ft_store_audit_verify(sv->st_thumb, &bad);
    pthread_mutex_unlock(&sv->lock_thumb);
    if (rc != FT_OK) {
        ft_store_free(v);
        return send_error(c, 500, "store", "reading the audit log failed");
    }
    json_t *o = json_object(), *a = json_array();
    char t[FT_TIME_TEXT_MAX];
    for (int i = 0; i < n; i++) {
        json_t *j = json_object();
        json_object_set_new(j, "id", json_integer(v[i].id));
        json_object_set_new(
            j, "time",
            json_string(ft_time_format(v[i].time_us, NULL, FT_TIME_ISO_UTC, t, sizeof t)));
        json_object_set_new(j, "who", json_string(v[i].who));
        json_object_set_new(j, "role", json_string(v[i].role));
        json_object_set_new(j, "action", json_string(v[i].action));
        json_object_set_new(j, "reason", json_string(v[i].reason));
        json_object_set_new(j, "photo_sha256",
                            v[i].photo_sha256[0] ? json_string(v[i].photo_sha256) : json_null());
        json_object_set_new(j, "results", json_integer(v[i].results));
        json_object_set_new(j, "detail", json_string(v[i].detail));
        json_object_set_new(j, "hash", json_string(v[i].hash));
        json_array_append_new(a, j);
    }
    ft_store_free(v);
    json_object_set_new(o, "records", a);
    json_object_set_new(o, "intact", json_boolean(bad == 0));
    json_object_set_new(o, "first_bad", bad ? json_integer(bad) : json_null());
    return send_json(c, 200, o);
}

static const struct route_rule routes[] = {
    { "POST", "purge", R_ADMIN, "purging", do_purge },
    { "GET", "audit", R_ADMIN, "the audit log", do_audit },
    { "POST", "selfie", R_RUNNER, "a selfie search", do_selfie },
    { "GET", "status", R_ADMIN | R_OPERATOR | R_VIEWER, "status", do_status },
    { "GET", "cameras", R_ADMIN | R_OPERATOR | R_VIEWER, "the cameras", do_status },
    { "POST", "cameras", R_ADMIN, "adding a camera", do_camera_add },
    { "DELETE", "cameras/*", R_ADMIN, "stopping a camera", do_camera_stop },
    { "POST", "search", R_OPERATOR, "searching", do_search },
    { "GET", "watchlist", R_OPERATOR, "the watchlist", do_watch_list },
    { "POST", "watchlist", R_OPERATOR, "the watchlist", do_watch_add },
    { "DELETE", "watchlist/*", R_OPERATOR, "the watchlist", do_watch_entry },
    { "POST", "watchlist/*/dismiss", R_OPERATOR, "the watchlist", do_watch_entry },
    { "POST", "watchlist/*/accept", R_OPERATOR, "the watchlist", do_watch_entry },
    { "GET", "alerts", R_OPERATOR, "the alerts", do_alerts },
    { "GET", "alerts/*/thumbnail", R_OPERATOR, "the alerts", do_alert_thumb },
    { "GET", "sightings/*/thumbnail", R_OPERATOR, "thumbnails", do_thumbnail },
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    server *sv = cls;
    int post = !strcmp(method, "POST"), get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    static _Thread_local int niced;
    if (!niced) { /* requests yield to the live cameras (see THREADS) */
        niced = 1;
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), REQUEST_NICE);
    }
    if (!*con_cls) { /* the headers: set up the body's reader */
        conn_waiting(sv, c, 0);
        if (post || !strcmp(method, "PUT")) { /* too large: refused before the body is read */
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
            if (cl && strtoull(cl, NULL, 10) > MAX_BODY)
                return send_error(c, 413, "too_large", "the request is over %u MiB",
                                  MAX_BODY >> 20);
        }
        request *rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        if (post || !strcmp(method, "DELETE")) {
            rq->pp = post ? MHD_create_post_processor(c, 64 * 1024, on_form, rq) : NULL;
            if (!rq->pp) rq->bad = 1; /* not a form: said once the body is in */
        }
        return MHD_YES;
    }
    request *rq = *con_cls;
    if (*upload_size) {
        if (rq->pp && !rq->too_big && MHD_post_process(rq->pp, upload, *upload_size) != MHD_YES &&
            !rq->too_big)
            rq->bad = 1;
        if (!rq->pp) {
            if (rq->raw_len + *upload_size < sizeof rq->raw) {
                memcpy(rq->raw + rq->raw_len, upload, *upload_size);
                rq->raw_len += *upload_size;
                rq->raw[rq->raw_len] = 0;
            } else {
                rq->too_big = 1;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
        if (!get) return send_error(c, 405, "method", "%s / : use GET", method);
        return send_bytes(c, 200, "text/html; charset=utf-8", ui_page, strlen(ui_page));
    }
    if (strncmp(url, "/api/v1/", 8) != 0)
        return send_error(c, 404, "not_found", "no such page: %s", url);
    int required = 0;
    const token *who = caller(sv, c, &required);
    if (required && !who)
        return send_error(c, 401, "unauthorized",
                          "send 'Authorization: Bearer TOKEN' with a token of this server");
    const char *path = url + 8;
    /* the route, its method, then the caller's role (ROUTES) */
    const struct route_rule *rule = NULL;
    char allowed[64] = "";
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!route_match(routes[i].pattern, path)) continue;
        if (!strcmp(routes[i].method, method) ||
            (!strcmp(method, "HEAD") && !strcmp(routes[i].method, "GET"))) {
            rule = &routes[i];
            break;
        }
        size_t k = strlen(allowed);
        snprintf(allowed + k, sizeof allowed - k, "%s%s", k ? " or " : "", routes[i].method);
    }
    if (!rule && allowed[0])
        return send_error(c, 405, "method", "%s %s: use %s", method, url, allowed);
    if (!rule) return send_error(c, 404, "not_found", "no such route: %s %s", method, url);
    if (who && !(rule->roles & role_bit(who->role)))
        return send_error(c, 403, "forbidden", "%s needs the %s role", rule->what,
                          role_names(rule->roles));
    t_who = who;
    return rule->run(sv, c, rq, who, path, method);
}

/* ------------------------------------------------------------------------ */
/* The command                                                              */
/* ------------------------------------------------------------------------ */

static int is_loopback(const struct sockaddr_in *a)
{
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
}

int cmd_serve(int argc, char **argv)
{
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = default_model_dir();
    ep.n_threads = default_threads();
    const char *db = NULL, *listen = "127.0.0.1:8080", *tokens = NULL;
    int workers = 2, selfies = SELFIE_PER_HOUR;
    const char *nats = NULL, *node = NULL, *shard = NULL;
    int replicas = 3;
    unsigned idle_timeout = IDLE_TIMEOUT;
    long long nw;
    struct opts o;
    opts_init(&o, argc, argv);
    while (opts_next(&o)) {
        int r = opts_engine(&o, &ep);
        if (r < 0) return CLI_ERROR;
        if (r > 0) continue;
        if (opts_is_help(&o)) return print_help(serve_usage);
        if (opts_is(&o, "--db")) {
            if (!(db = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--listen")) {
            if (!(listen = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--tokens")) {
            if (!(tokens = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--workers")) {
            if (opts_int(&o, 1, MAX_ENGINES, "a number of searches at once, 1 to 16", &nw))
                return CLI_ERROR;
            workers = (int)nw;
        } else if (opts_is(&o, "--selfies-per-hour")) {
            if (opts_int(&o, 1, SELFIE_MAX, "1 to 100", &nw)) return CLI_ERROR;
            selfies = (int)nw;
        } else if (opts_is(&o, "--nats")) {
            if (!(nats = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--node")) {
            if (!(node = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--shard")) {
            if (!(shard = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--replicas")) {
            if (opts_int(&o, 1, 5, "1 to 5 copies", &nw)) return CLI_ERROR;
            replicas = (int)nw;
        } else if (opts_is(&o, "--idle-timeout")) {
            if (opts_int(&o, 1, 3600, "seconds, 1 to 3600", &nw)) return CLI_ERROR;
            idle_timeout = (unsigned)nw;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands) return usage_error(o.cmd, "unexpected operand '%s'", argv[1]);
    if (!db) return usage_error(o.cmd, "missing --db DB");
    if ((node || shard) && !nats) return usage_error(o.cmd, "--node and --shard are for --nats");
    if (node && strlen(node) > FT_CLUSTER_NODE_MAX - 8) /* its request threads' are NAME-api */
        return usage_error(o.cmd, "--node: at most %d characters", FT_CLUSTER_NODE_MAX - 8);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    char host[64];
    const char *colon = strrchr(listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || (size_t)(colon - listen) >= sizeof host || colon[1] == 0 || *end || port < 0 ||
        port > 65535)
        return usage_error(o.cmd, "--listen '%s': expected HOST:PORT, e.g. 127.0.0.1:8080", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    if (!strcmp(host, "localhost")) snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return usage_error(o.cmd, "--listen '%s': HOST must be an IPv4 address", listen);
    addr.sin_port = htons((uint16_t)port);

    static server sv;
    memset(&sv, 0, sizeof sv);
    sv.db = db;
    static char node_name[FT_CLUSTER_NODE_MAX];
    if (nats) {
        sv.clustered = 1;
        sv.shard = shard && *shard ? shard : NULL;
        sv.cluster = ft_cluster_default_params();
        sv.cluster.urls = nats;
        sv.cluster.replicas = replicas;
        if (node)
            snprintf(node_name, sizeof node_name, "%s", node);
        else
            snprintf(node_name, sizeof node_name, "search-%ld", port);
        sv.cluster.node = node_name;
        static char api_name[FT_CLUSTER_NODE_MAX + 8];
        snprintf(api_name, sizeof api_name, "%s-api", node_name);
        sv.cluster_api = sv.cluster;
        sv.cluster_api.node = api_name;
        atomic_store(&sv.pending, -1);
        ft_store *made = NULL; /* a new node starts with an empty database */
        if (ft_store_open(db, FT_STORE_CREATE, &made) != FT_OK) {
            fprintf(stderr, "facetrail serve: %s\n", ft_store_errmsg(NULL));
            return CLI_ERROR;
        }
        ft_store_close(made);
    }
    sv.selfies_per_hour = selfies;
    sv.idle_timeout = idle_timeout;
    char err[512];
    int plain = 0;
    if (tokens && load_tokens(&sv, tokens, &plain, err, sizeof err) != 0) {
        fprintf(stderr, "facetrail serve: %s\n", err);
        return CLI_ERROR;
    }
    if (plain)
        fprintf(stderr,
                "facetrail serve: warning: %s holds %d token%s in the clear (only their hashes "
                "are kept in memory); `facetrail token add` writes hashed lines\n",
                tokens, plain, plain == 1 ? "" : "s");
    if (!tokens && !nats && !is_loopback(&addr))
        return usage_error(o.cmd,
                           "--listen %s is not a loopback address: give --tokens FILE so that "
                           "only holders of a token can search",
                           listen);
    int status = CLI_ERROR;
    struct MHD_Daemon *d = NULL;
    pthread_mutex_init(&sv.lock, NULL);
    pthread_rwlock_init(&sv.s_lock, NULL);
    pthread_mutex_init(&sv.lock_thumb, NULL);
    pthread_mutex_init(&sv.lock_w, NULL);
    pthread_mutex_init(&sv.lock_live, NULL);
    pthread_mutex_init(&sv.lock_conns, NULL);
    pthread_mutex_init(&sv.lock_hooks, NULL);
    pthread_mutex_init(&sv.lock_cl, NULL);
    pthread_rwlock_init(&sv.lock_tokens, NULL);
    if (nats && !tokens) { /* the cluster's tokens, if it has some */
        sv.tokens_from_cluster = 1;
        ft_cluster *cl = NULL;
        char *text = NULL;
        if (ft_cluster_open(&sv.cluster_api, &cl, err, sizeof err) != FT_OK)
            fprintf(stderr, "facetrail serve: cluster: %s (going on; tokens come later)\n", err);
        else if (ft_cluster_state_get(cl, "tokens", &text, NULL) == FT_OK &&
                 cluster_tokens(&sv, text, err, sizeof err) != 0)
            fprintf(stderr, "facetrail serve: cluster: %s\n", err);
        ft_store_free(text);
        ft_cluster_close(cl);
        if (sv.n_tokens)
            fprintf(stderr, "facetrail serve: cluster: %d tokens from the cluster\n", sv.n_tokens);
        if (!sv.n_tokens && !is_loopback(&addr)) {
            fprintf(stderr,
                    "facetrail serve: --listen %s is not a loopback address and the cluster has "
                    "no tokens: give --tokens FILE, or load them with `facetrail cluster tokens`\n",
                    listen);
            return CLI_ERROR;
        }
    }
    pthread_cond_init(&sv.new_hook, NULL);
    sv.ep = ep;
    sv.ep.n_threads = 1; /* a live camera's engine */
    pthread_mutex_init(&sv.lock_alerts, NULL);
    pthread_mutex_init(&sv.lock_rate, NULL);
    pthread_cond_init(&sv.new_alert, NULL);
    /* the watchlist needs a writable file (and schema); without one it is read-only */
    if (ft_store_open(db, 0, &sv.st_w) != FT_OK) {
        fprintf(stderr, "facetrail serve: note: %s: the watchlist is read-only\n",
                ft_store_errmsg(NULL));
        sv.st_w = NULL;
    }
    if (ft_store_open(db, FT_STORE_READONLY, &sv.st) != FT_OK ||
        ft_store_open(db, FT_STORE_READONLY, &sv.st_thumb) != FT_OK ||
        ft_store_open(db, FT_STORE_READONLY, &sv.st_alert) != FT_OK) {
        fprintf(stderr, "facetrail serve: %s\n", ft_store_errmsg(NULL));
        goto done;
    }
    sv.qp = ft_query_default_params();
    if (ft_query_params_for_store(sv.st, &sv.qp, &sv.cal, NULL, 0, err, sizeof err) != FT_OK) {
        fprintf(stderr, "facetrail serve: %s\n", err);
        goto done;
    }
    if (ft_watcher_create(sv.cal, FT_SEARCH_MAX_FALSE, &sv.watcher) != FT_OK) {
        fprintf(stderr, "facetrail serve: out of memory\n");
        goto done;
    }
    pthread_mutex_init(&sv.lock_pool, NULL);
    pthread_cond_init(&sv.pool_free, NULL);
    for (; sv.n_engs < workers; sv.n_engs++) {
        pthread_mutex_init(&sv.eng_lock[sv.n_engs], NULL);
        if (start_engine(o.cmd, &ep, &sv.qp.detect, &sv.engs[sv.n_engs]) != CLI_OK) {
            pthread_mutex_destroy(&sv.eng_lock[sv.n_engs]);
            goto done;
        }
    }
    if (refresh(&sv, err, sizeof err) != FT_OK) {
        fprintf(stderr, "facetrail serve: %s\n", err);
        goto done;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_wake; /* sa_flags 0: no SA_RESTART */
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_create(&sv.alert_thread, NULL, alert_loop, &sv) == 0) sv.alert_running = 1;
    if (pthread_create(&sv.hook_thread, NULL, hook_loop, &sv) == 0) sv.hook_running = 1;
    if (sv.clustered && pthread_create(&sv.cluster_thread, NULL, cluster_loop, &sv) == 0)
        sv.cluster_running = 1;
    d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, answer, &sv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_TIMEOUT, idle_timeout, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        &sv, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024), MHD_OPTION_NOTIFY_COMPLETED,
        on_done, &sv, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "facetrail serve: cannot listen on %s (in use, or not this machine's)\n",
                listen);
        goto done;
    }
    live_resume(&sv);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr,
            "facetrail serve: %lld sightings of %s; listening on http://%s:%u/ (Ctrl-C stops)\n",
            (long long)sv.loaded_sightings, db, host, info ? info->port : (unsigned)port);
    while (!g_stop) {
        sleep(1);
        conns_reap(&sv);
    }
    fprintf(stderr, "facetrail serve: stopped\n");
    status = CLI_OK;
done:
    g_stop = 1;
    pthread_mutex_lock(&sv.lock_alerts);
    pthread_cond_broadcast(&sv.new_alert); /* event streams end */
    pthread_mutex_unlock(&sv.lock_alerts);
    if (d) MHD_stop_daemon(d);
    if (sv.alert_running) pthread_join(sv.alert_thread, NULL);
    if (sv.cluster_running) pthread_join(sv.cluster_thread, NULL);
    pthread_mutex_lock(&sv.lock_hooks);
    pthread_cond_broadcast(&sv.new_hook);
    pthread_mutex_unlock(&sv.lock_hooks);
    if (sv.hook_running) pthread_join(sv.hook_thread, NULL);
    for (int i = 0; i < MAX_LIVE; i++) /* their open tracks are committed */
        live_stop_slot(&sv, i);
    while (sv.hooks) { /* undelivered at the stop, or queued by the last tracks: dropped */
        struct hook *h = sv.hooks;
        sv.hooks = h->next;
        free(h->body);
        free(h);
    }
    pthread_mutex_destroy(&sv.lock_hooks);
    pthread_cond_destroy(&sv.new_hook);
    ft_watcher_destroy(sv.watcher);
    ft_cluster_close(sv.cl_api);
    pthread_mutex_destroy(&sv.lock_cl);
    pthread_rwlock_destroy(&sv.lock_tokens);
    for (int i = 0; i < ALERT_RING; i++)
        free(sv.ring[i].thumb);
    pthread_mutex_destroy(&sv.lock_live);
    pthread_mutex_destroy(&sv.lock_conns); /* the daemon is stopped: no connection left */
    ft_store_close(sv.st_w);
    ft_store_close(sv.st_alert);
    pthread_mutex_destroy(&sv.lock_w);
    pthread_mutex_destroy(&sv.lock_alerts);
    pthread_mutex_destroy(&sv.lock_rate);
    pthread_cond_destroy(&sv.new_alert);
    ft_searcher_close(sv.s);
    for (int i = 0; i < sv.n_engs; i++) {
        ft_engine_close(sv.engs[i]);
        pthread_mutex_destroy(&sv.eng_lock[i]);
    }
    pthread_mutex_destroy(&sv.lock_pool);
    pthread_cond_destroy(&sv.pool_free);
    pthread_rwlock_destroy(&sv.s_lock);
    ft_store_close(sv.st);
    ft_store_close(sv.st_thumb);
    pthread_mutex_destroy(&sv.lock);
    pthread_mutex_destroy(&sv.lock_thumb);
    return status;
}
