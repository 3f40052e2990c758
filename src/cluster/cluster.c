/*
** cluster/cluster.c: facetrail on NATS JetStream (facetrail/cluster.h): the
** connection, the stream and buckets, the publisher of an ingest node, the
** durable consumer of a search node, camera holds and shared state.
**
** DESIGN
**   One ft_cluster is one NATS connection (nats.c, libnats) with its
**   JetStream context and the four KV buckets. Everything the cluster keeps
**   is in JetStream; nothing is kept here between calls except the pull
**   subscription of ft_cluster_consume.
**
**   Names. Camera ids may hold characters NATS refuses in a subject or a key
**   ('.', '*', '>', ...): enc_name keeps [A-Za-z0-9_-] and writes any other
**   byte as "=XX" (hex), so every camera id maps to one token.
**     subject   ft.sighting.<enc id>
**     ft_cameras  cam.<enc id>        JSON of the camera (camera_to_json)
**     ft_nodes    <role>.<node>       the node's last heartbeat (wall clock)
**     ft_holds    cam.<enc id>        the holder's node name
**                 <any key>           ft_cluster_hold's other keys ("leader.alerts")
**     ft_state    <key>               ft_cluster_state_get/put
**   ft_nodes and ft_holds expire entries lease_s after their last write
**   (the buckets' TTL): a dead node's heartbeat and holds go by themselves.
**
**   Publish. Each message is published synchronously (js_Publish waits for
**   the stream's acknowledgement) with its message id; the walk over the
**   store stops at the first failure and the checkpoint moves to the last
**   acknowledged sighting. Throughput is bounded by one round trip per
**   sighting (~0.3 ms on loopback with 3 replicas), far above what cameras
**   make.
**
** INVARIANTS  (1) the checkpoint (FT_CLUSTER_PUBLISHED_KEY) names a sighting
**                 every sighting up to which the stream has acknowledged.
**             (2) a consumed batch is acknowledged only after its commit.
** THREADS     One thread at a time per handle.
*/
#include "facetrail/cluster.h"
#include "core/core.h"
#include "store/store.h" /* ft__store_valid_camera_id */

#include <jansson.h>
#include <math.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUCKET_CAMERAS "ft_cameras"
#define BUCKET_NODES   "ft_nodes"
#define BUCKET_HOLDS   "ft_holds"
#define BUCKET_STATE   "ft_state"
#define KEY_MAX        256
#define SEARCH_SUBJECT "ft.search.shards"
#define ALERT_SUBJECT  "ft.alerts"
#define HELD_MAX       128  /* holds one handle keeps (cameras of an ingest node, the lead) */
#define PUB_BATCH_MAX  1024 /* messages of one ft_cluster_publish in flight at once */

typedef struct pub_batch pub_batch_t;

struct ft_cluster {
    natsConnection *nc;
    jsCtx *js;
    kvStore *cameras, *nodes, *holds, *state;
    natsSubscription *sub;    /* ft_cluster_consume's pull subscription */
    natsSubscription *answer; /* ft_cluster_answer's */
    natsSubscription *alerts; /* ft_cluster_alert_listen's */
    ft_cluster_alert_fn alert_fn;
    void *alert_ctx;
    ft_cluster_answer_fn answer_fn;
    void *answer_ctx;
    char only[1024]; /* the shard filter the subscription was made for */
    char node[FT_CLUSTER_NODE_MAX];
    double lease_s;
    int64_t timeout_ms;
    int replicas;
    pub_batch_t *batch; /* ft_cluster_publish's messages in flight */
    struct {
        char key[KEY_MAX];
        uint64_t rev; /* the revision this handle's last write of it left */
    } held[HELD_MAX];
    int n_held;
    char errmsg[512];
};

/* The batch in flight: each message's sighting and what the stream said of
** it (the acknowledgement handler runs on a thread of the library). A
** message carries "Ft-Batch: GEN.INDEX", so that a late answer to an
** earlier batch is told apart. */
enum { PUB_WAITING = 0, PUB_STORED, PUB_DUPLICATE, PUB_FAILED };

struct pub_batch {
    pthread_mutex_t lock;
    uint64_t gen;
    int n, cap;
    int64_t *ids; /* sighting ids, in walk order */
    signed char *state;
    char why[160]; /* the first failure */
};

static void on_pub_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    pub_batch_t *b = closure;
    const char *tag = NULL;
    if (natsMsgHeader_Get(msg, "Ft-Batch", &tag) == NATS_OK && tag) {
        char *dot = NULL;
        unsigned long long gen = strtoull(tag, &dot, 10);
        long idx = dot && *dot == '.' ? strtol(dot + 1, NULL, 10) : -1;
        pthread_mutex_lock(&b->lock);
        if (gen == b->gen && idx >= 0 && idx < b->n) {
            if (pae) {
                b->state[idx] = PUB_FAILED;
                if (!b->why[0])
                    snprintf(b->why, sizeof b->why, "%s",
                             pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
            } else {
                b->state[idx] = pa && pa->Duplicate ? PUB_DUPLICATE : PUB_STORED;
            }
        }
        pthread_mutex_unlock(&b->lock);
    }
    natsMsg_Destroy(msg);
}

ft_cluster_params ft_cluster_default_params(void)
{
    ft_cluster_params p;
    memset(&p, 0, sizeof p);
    p.replicas = 3;
    p.lease_s = 5;
    p.timeout_s = 5;
    return p;
}

static int fail(ft_cluster *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(ft_cluster *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    return status;
}

/* "what: NATS's text (its last error)" */
static int nfail(ft_cluster *c, natsStatus s, const char *what)
{
    natsStatus ls;
    const char *detail = nats_GetLastError(&ls);
    if (detail && *detail && !strstr(detail, natsStatus_GetText(s)))
        return fail(c, FT_EIO, "%s: %s (%s)", what, natsStatus_GetText(s), detail);
    return fail(c, FT_EIO, "%s: %s", what, natsStatus_GetText(s));
}

const char *ft_cluster_errmsg(const ft_cluster *c)
{
    return c ? c->errmsg : "no cluster handle";
}

const char *ft_cluster_node(const ft_cluster *c)
{
    return c ? c->node : "";
}

static int valid_node(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= FT_CLUSTER_NODE_MAX - 1 ||
            !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
              (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '-'))
            return 0;
    return n > 0;
}

/* A camera id (or any text) as one subject token / key part (DESIGN). */
static void enc_name(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '_' || *p == '-') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '=';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = 0;
}

/* A camera's key in ft_cameras and ft_holds: "cam.<enc id>". */
static const char *key_of(const char *id, char *key, size_t cap)
{
    char enc[3 * FT_CAMERA_ID_MAX + 4];
    enc_name(id, enc, sizeof enc);
    snprintf(key, cap, "cam.%s", enc);
    return key;
}

static int64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* The bucket, created when missing. */
static int open_bucket(ft_cluster *c, const char *name, int64_t ttl_ns, int history, kvStore **out)
{
    natsStatus s = js_KeyValue(out, c->js, name);
    if (s == NATS_OK) return FT_OK;
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = name;
    cfg.History = (uint8_t)history;
    cfg.TTL = ttl_ns;
    cfg.StorageType = js_FileStorage;
    cfg.Replicas = c->replicas;
    s = js_CreateKeyValue(out, c->js, &cfg);
    if (s != NATS_OK && js_KeyValue(out, c->js, name) == NATS_OK) /* made by another node */
        return FT_OK;
    if (s != NATS_OK) {
        char what[96];
        snprintf(what, sizeof what, "cannot create the key-value bucket %s", name);
        return nfail(c, s, what);
    }
    return FT_OK;
}

static int open_stream(ft_cluster *c)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, c->js, FT_CLUSTER_STREAM, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return FT_OK;
    }
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char *subjects[1] = { FT_CLUSTER_SUBJECT_PREFIX ">" };
    cfg.Name = FT_CLUSTER_STREAM;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = c->replicas;
    cfg.Duplicates = (int64_t)FT_CLUSTER_DUP_WINDOW_S * 1000000000LL;
    s = js_AddStream(&si, c->js, &cfg, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return FT_OK;
    }
    if (js_GetStreamInfo(&si, c->js, FT_CLUSTER_STREAM, NULL, &jerr) == NATS_OK) {
        jsStreamInfo_Destroy(si); /* made by another node meanwhile */
        return FT_OK;
    }
    return nfail(c, s, "cannot create the stream " FT_CLUSTER_STREAM);
}

int ft_cluster_open(const ft_cluster_params *p, ft_cluster **out, char *err, size_t errlen)
{
    if (out) *out = NULL;
    if (!p || !out || !p->urls || !*p->urls || !p->node || !valid_node(p->node) ||
        p->replicas < 1 || p->replicas > 5 || !(p->lease_s >= 0.5 && p->lease_s <= 3600) ||
        !(p->timeout_s > 0 && p->timeout_s <= 600)) {
        if (err && errlen)
            snprintf(err, errlen, "%s",
                     p && p->node && !valid_node(p->node)
                         ? "a node name is 1-63 characters of A-Z a-z 0-9 _ -"
                         : "bad cluster parameters (servers, node, replicas 1-5, lease, timeout)");
        return FT_EINVAL;
    }
    ft_cluster *c = ft__calloc(1, sizeof *c);
    if (!c) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return FT_ENOMEM;
    }
    snprintf(c->node, sizeof c->node, "%s", p->node);
    c->lease_s = p->lease_s;
    c->timeout_ms = (int64_t)(p->timeout_s * 1000);
    c->replicas = p->replicas;
    int rc = FT_OK;
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    /* the servers, tried in the order given; reconnect for ever, quickly */
    char *urls = strdup(p->urls);
    const char *list[32];
    int n = 0;
    if (s == NATS_OK && urls) {
        for (char *save = NULL, *t = strtok_r(urls, ", ", &save); t && n < 32;
             t = strtok_r(NULL, ", ", &save))
            list[n++] = t;
        s = natsOptions_SetServers(o, list, n);
    }
    if (s == NATS_OK) s = natsOptions_SetNoRandomize(o, true);
    if (s == NATS_OK) s = natsOptions_SetName(o, p->node);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, 250);
    if (s == NATS_OK) s = natsOptions_SetTimeout(o, c->timeout_ms);
    if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(o, 64 * 1024 * 1024);
    if (s == NATS_OK && urls && n > 0) s = natsConnection_Connect(&c->nc, o);
    free(urls);
    natsOptions_Destroy(o);
    if (s != NATS_OK || !c->nc) {
        nfail(c, s != NATS_OK ? s : NATS_ERR, "cannot connect to NATS");
        rc = FT_EIO;
        goto done;
    }
    c->batch = ft__calloc(1, sizeof *c->batch);
    if (!c->batch || !(c->batch->ids = ft__calloc(PUB_BATCH_MAX, sizeof *c->batch->ids)) ||
        !(c->batch->state = ft__calloc(PUB_BATCH_MAX, 1))) {
        rc = fail(c, FT_ENOMEM, "out of memory");
        goto done;
    }
    c->batch->cap = PUB_BATCH_MAX;
    pthread_mutex_init(&c->batch->lock, NULL);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = c->timeout_ms;
    jo.PublishAsync.AckHandler = on_pub_ack;
    jo.PublishAsync.AckHandlerClosure = c->batch;
    jo.PublishAsync.MaxPending = PUB_BATCH_MAX;
    if ((s = natsConnection_JetStream(&c->js, c->nc, &jo)) != NATS_OK) {
        rc = nfail(c, s, "no JetStream on the NATS servers");
        goto done;
    }
    int64_t ttl = (int64_t)(p->lease_s * 1e9);
    if ((rc = open_stream(c)) != FT_OK ||
        (rc = open_bucket(c, BUCKET_CAMERAS, 0, 1, &c->cameras)) != FT_OK ||
        (rc = open_bucket(c, BUCKET_NODES, ttl, 1, &c->nodes)) != FT_OK ||
        (rc = open_bucket(c, BUCKET_HOLDS, ttl, 1, &c->holds)) != FT_OK ||
        (rc = open_bucket(c, BUCKET_STATE, 0, 5, &c->state)) != FT_OK)
        goto done;
done:
    if (rc != FT_OK) {
        if (err && errlen) snprintf(err, errlen, "%s", c->errmsg);
        ft_cluster_close(c);
        return rc;
    }
    c->errmsg[0] = 0;
    *out = c;
    return FT_OK;
}

void ft_cluster_close(ft_cluster *c)
{
    if (!c) return;
    if (c->sub) natsSubscription_Destroy(c->sub);
    if (c->answer) {
        natsSubscription_Unsubscribe(c->answer);
        natsSubscription_Destroy(c->answer);
    }
    if (c->alerts) {
        natsSubscription_Unsubscribe(c->alerts);
        natsSubscription_Destroy(c->alerts);
    }
    kvStore_Destroy(c->cameras);
    kvStore_Destroy(c->nodes);
    kvStore_Destroy(c->holds);
    kvStore_Destroy(c->state);
    jsCtx_Destroy(c->js);
    if (c->nc) {
        natsConnection_Close(c->nc);
        natsConnection_Destroy(c->nc);
    }
    if (c->batch) {
        if (c->batch->cap) pthread_mutex_destroy(&c->batch->lock);
        ft__free(c->batch->ids);
        ft__free(c->batch->state);
        ft__free(c->batch);
    }
    ft__free(c);
}

/* ------------------------------------------------------------------------ */
/* Ingest side: the publisher                                               */
/* ------------------------------------------------------------------------ */

static int64_t published_id(ft_store *st)
{
    char v[32];
    if (ft_store_meta_get(st, FT_CLUSTER_PUBLISHED_KEY, v, sizeof v) != FT_OK) return 0;
    return strtoll(v, NULL, 10);
}

typedef struct pub_ctx {
    ft_cluster *c;
    int sent;
} pub_ctx;

static int publish_one(const ft_replica *r, void *arg)
{
    pub_ctx *x = arg;
    ft_cluster *c = x->c;
    pub_batch_t *b = c->batch;
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = ft_replica_encode(r, &buf, &len);
    if (rc != FT_OK)
        return fail(c, rc, "sighting %lld cannot be sent: %s", (long long)r->s.id, ft_strerror(rc));
    char id[FT_REPLICA_ID_MAX], subject[32 + 3 * FT_CAMERA_ID_MAX], enc[3 * FT_CAMERA_ID_MAX + 4];
    char tag[48];
    ft_replica_msg_id(r, id);
    enc_name(r->camera.id, enc, sizeof enc);
    snprintf(subject, sizeof subject, FT_CLUSTER_SUBJECT_PREFIX "%s", enc);
    pthread_mutex_lock(&b->lock);
    int idx = b->n;
    if (idx < b->cap) {
        b->ids[idx] = r->s.id;
        b->state[idx] = PUB_WAITING;
        b->n++;
    }
    snprintf(tag, sizeof tag, "%llu.%d", (unsigned long long)b->gen, idx);
    pthread_mutex_unlock(&b->lock);
    if (idx >= b->cap) {
        ft_store_free(buf);
        return 1; /* cannot happen: the walk's max is the capacity */
    }
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, subject, NULL, (const char *)buf, (int)len);
    ft_store_free(buf);
    if (s == NATS_OK) s = natsMsgHeader_Set(m, "Ft-Batch", tag);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id;
    po.MaxWait = c->timeout_ms;
    if (s == NATS_OK) s = js_PublishMsgAsync(c->js, &m, &po);
    natsMsg_Destroy(m); /* NULL once the library took it */
    if (s != NATS_OK) {
        pthread_mutex_lock(&b->lock);
        b->state[idx] = PUB_FAILED;
        pthread_mutex_unlock(&b->lock);
        return nfail(c, s, "cannot publish");
    }
    x->sent++;
    return 0;
}

int ft_cluster_publish(ft_cluster *c, ft_store *st, int max, int *published, int *duplicates)
{
    if (published) *published = 0;
    if (duplicates) *duplicates = 0;
    if (!c || !st || max < 1) return c ? fail(c, FT_EINVAL, "bad arguments") : FT_EINVAL;
    c->errmsg[0] = 0;
    pub_batch_t *b = c->batch;
    if (max > b->cap) max = b->cap;
    pthread_mutex_lock(&b->lock);
    b->gen++;
    b->n = 0;
    b->why[0] = 0;
    pthread_mutex_unlock(&b->lock);
    int64_t from = published_id(st);
    pub_ctx x = { c, 0 };
    /* every message of the batch goes out at once; then the answers */
    int rc = ft_store_replicas_after(st, from, max, publish_one, &x);
    if (rc > 0) rc = FT_EIO;
    if (rc != FT_OK && !c->errmsg[0])
        fail(c, rc, "reading the local store: %s", ft_store_errmsg(st));
    if (x.sent > 0) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = c->timeout_ms;
        natsStatus s = js_PublishAsyncComplete(c->js, &po);
        if (s != NATS_OK) { /* those still waiting are dropped: the next call sends them again */
            natsMsgList pending = { 0 };
            if (js_PublishAsyncGetPendingList(&pending, c->js) == NATS_OK)
                natsMsgList_Destroy(&pending);
            if (rc == FT_OK) rc = nfail(c, s, "the stream did not acknowledge");
        }
    }
    /* the checkpoint moves over the acknowledged prefix of the batch */
    int64_t last_ok = from;
    int n_pub = 0, n_dup = 0, gap = 0;
    pthread_mutex_lock(&b->lock);
    for (int i = 0; i < b->n; i++) {
        int ok = b->state[i] == PUB_STORED || b->state[i] == PUB_DUPLICATE;
        if (!ok) gap = 1;
        if (ok && !gap) last_ok = b->ids[i], n_pub++, n_dup += b->state[i] == PUB_DUPLICATE;
    }
    if (gap && rc == FT_OK)
        rc = fail(c, FT_EIO, "the stream did not store every sighting: %s",
                  b->why[0] ? b->why : "no answer in time");
    b->gen++; /* answers still to come belong to no batch */
    pthread_mutex_unlock(&b->lock);
    if (last_ok > from) {
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)last_ok);
        int mrc = ft_store_meta_set(st, FT_CLUSTER_PUBLISHED_KEY, v);
        if (mrc != FT_OK && rc == FT_OK)
            rc = fail(c, mrc, "cannot keep the checkpoint: %s", ft_store_errmsg(st));
    }
    if (published) *published = n_pub;
    if (duplicates) *duplicates = n_dup;
    return rc;
}

static int count_one(const ft_sighting *s, void *arg)
{
    (void)s;
    ++*(int64_t *)arg;
    return 0;
}

int ft_cluster_backlog(ft_cluster *c, ft_store *st, int64_t *n)
{
    if (!c || !st || !n) return FT_EINVAL;
    *n = 0;
    int rc = ft_store_sightings_after(st, published_id(st), 1 << 30, count_one, n);
    return rc == FT_OK ? FT_OK : fail(c, rc, "%s", ft_store_errmsg(st));
}

/* ------------------------------------------------------------------------ */
/* Search side: the durable consumer                                        */
/* ------------------------------------------------------------------------ */

static int subscribe(ft_cluster *c, const char *only)
{
    if (c->sub && !strcmp(c->only, only ? only : "")) return FT_OK;
    if (c->sub) natsSubscription_Destroy(c->sub);
    c->sub = NULL;
    snprintf(c->only, sizeof c->only, "%s", only ? only : "");
    char durable[FT_CLUSTER_NODE_MAX + 8];
    snprintf(durable, sizeof durable, "search-%s", c->node);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = FT_CLUSTER_STREAM;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.AckWait = 30LL * 1000000000LL;
    so.Config.MaxAckPending = 20000;
    so.Config.Replicas = c->replicas;
    jsErrCode jerr = 0;
    natsStatus s =
        js_PullSubscribe(&c->sub, c->js, FT_CLUSTER_SUBJECT_PREFIX ">", durable, NULL, &so, &jerr);
    if (s != NATS_OK) {
        c->sub = NULL;
        return nfail(c, s, "cannot subscribe to " FT_CLUSTER_STREAM);
    }
    return FT_OK;
}

/* 1 if id is in the comma-separated list (NULL or "": every id). */
static int in_list(const char *list, const char *id)
{
    if (!list || !*list) return 1;
    size_t n = strlen(id);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == n && !memcmp(p, id, n)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

int ft_cluster_consume(ft_cluster *c, ft_store *st, int max, int wait_ms, const char *only_cameras,
                       int *received, int *applied)
{
    if (received) *received = 0;
    if (applied) *applied = 0;
    if (!c || !st || max < 1 || wait_ms < 0)
        return c ? fail(c, FT_EINVAL, "bad arguments") : FT_EINVAL;
    c->errmsg[0] = 0;
    int rc = subscribe(c, only_cameras);
    if (rc != FT_OK) return rc;
    natsMsgList list = { 0 };
    jsErrCode jerr = 0;
    natsStatus s = natsSubscription_Fetch(&list, c->sub, max, wait_ms > 0 ? wait_ms : 1, &jerr);
    if (s == NATS_TIMEOUT) return FT_OK;
    if (s != NATS_OK) return nfail(c, s, "fetching from " FT_CLUSTER_STREAM);
    ft_replica *r = ft__malloc((size_t)(list.Count > 0 ? list.Count : 1) * sizeof *r);
    if (!r) {
        for (int i = 0; i < list.Count; i++)
            natsMsg_Nak(list.Msgs[i], NULL);
        natsMsgList_Destroy(&list);
        return fail(c, FT_ENOMEM, "out of memory");
    }
    int n = 0, bad = 0;
    for (int i = 0; i < list.Count; i++) {
        natsMsg *m = list.Msgs[i];
        int drc = ft_replica_decode((const unsigned char *)natsMsg_GetData(m),
                                    (size_t)natsMsg_GetDataLength(m), &r[n]);
        if (drc != FT_OK) {
            bad++;
            fail(c, FT_OK, "dropped a message on %s that is not a sighting", natsMsg_GetSubject(m));
            natsMsg_Term(m, NULL);
            list.Msgs[i] = NULL; /* settled */
            natsMsg_Destroy(m);
            continue;
        }
        if (in_list(only_cameras, r[n].camera.id)) n++;
    }
    int n_new = 0;
    rc = n > 0 ? ft_store_replica_apply(st, r, n, &n_new) : FT_OK;
    ft__free(r);
    for (int i = 0; i < list.Count; i++) {
        if (!list.Msgs[i]) continue;
        if (rc == FT_OK)
            natsMsg_Ack(list.Msgs[i], NULL);
        else
            natsMsg_Nak(list.Msgs[i], NULL);
    }
    if (received) *received = list.Count;
    natsMsgList_Destroy(&list);
    if (rc != FT_OK) return fail(c, rc, "applying %d sightings: %s", n, ft_store_errmsg(st));
    if (applied) *applied = n_new;
    (void)bad;
    return FT_OK;
}

int ft_cluster_pending(ft_cluster *c, int64_t *n)
{
    if (!c || !n) return FT_EINVAL;
    *n = -1;
    if (!c->sub) return FT_OK;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = natsSubscription_GetConsumerInfo(&ci, c->sub, NULL, &jerr);
    if (s != NATS_OK) return nfail(c, s, "consumer info");
    *n = (int64_t)ci->NumPending + (int64_t)ci->NumAckPending;
    jsConsumerInfo_Destroy(ci);
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* Shared state                                                             */
/* ------------------------------------------------------------------------ */

static char *camera_to_json(const ft_cluster_camera *cam)
{
    json_t *j = json_pack("{s:s, s:s, s:f, s:s, s:b, s:I, s:b}", "id", cam->camera.id, "name",
                          cam->camera.name, "km", cam->camera.km, "source", cam->source, "live",
                          cam->live, "start_us", (json_int_t)cam->start_us, "done", cam->done);
    if (!j) return NULL;
    if (cam->camera.has_latlon) {
        json_object_set_new(j, "lat", json_real(cam->camera.lat));
        json_object_set_new(j, "lon", json_real(cam->camera.lon));
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static int camera_from_json(const char *text, int len, ft_cluster_camera *cam)
{
    memset(cam, 0, sizeof *cam);
    json_t *j = json_loadb(text, (size_t)len, 0, NULL);
    if (!j) return FT_EFORMAT;
    const char *id = NULL, *name = "", *source = NULL;
    double km = 0, lat = NAN, lon = NAN;
    int live = 0, done = 0;
    json_int_t start = 0;
    int ok = json_unpack(j, "{s:s, s?s, s:F, s:s, s?b, s?I, s?b, s?F, s?F}", "id", &id, "name",
                         &name, "km", &km, "source", &source, "live", &live, "start_us", &start,
                         "done", &done, "lat", &lat, "lon", &lon) == 0;
    if (ok && strlen(id) < sizeof cam->camera.id && strlen(source) < sizeof cam->source) {
        snprintf(cam->camera.id, sizeof cam->camera.id, "%s", id);
        snprintf(cam->camera.name, sizeof cam->camera.name, "%s", name);
        snprintf(cam->source, sizeof cam->source, "%s", source);
        cam->camera.km = km;
        cam->camera.has_latlon = isfinite(lat) && isfinite(lon);
        cam->camera.lat = cam->camera.has_latlon ? lat : 0;
        cam->camera.lon = cam->camera.has_latlon ? lon : 0;
        cam->live = live;
        cam->start_us = start;
        cam->done = done;
    } else {
        ok = 0;
    }
    json_decref(j);
    return ok ? FT_OK : FT_EFORMAT;
}

static int put_camera(ft_cluster *c, const ft_cluster_camera *cam)
{
    char key[KEY_MAX];
    key_of(cam->camera.id, key, sizeof key);
    char *text = camera_to_json(cam);
    if (!text) return fail(c, FT_ENOMEM, "out of memory");
    uint64_t rev = 0;
    natsStatus s = kvStore_PutString(&rev, c->cameras, key, text);
    free(text);
    return s == NATS_OK ? FT_OK : nfail(c, s, "cannot store the camera");
}

int ft_cluster_camera_put(ft_cluster *c, const ft_cluster_camera *cam)
{
    if (!c) return FT_EINVAL;
    c->errmsg[0] = 0;
    if (!cam || !ft__store_valid_camera_id(cam->camera.id) || !isfinite(cam->camera.km) ||
        !cam->source[0] || memchr(cam->source, 0, sizeof cam->source) == NULL)
        return fail(c, FT_EINVAL,
                    "a camera needs an id (1-63 printable characters, no blanks), a finite km "
                    "and a source");
    ft_cluster_camera copy = *cam;
    copy.done = 0;
    copy.holder[0] = 0;
    return put_camera(c, &copy);
}

static int get_camera(ft_cluster *c, const char *id, ft_cluster_camera *cam)
{
    char key[KEY_MAX];
    key_of(id, key, sizeof key);
    kvEntry *e = NULL;
    natsStatus s = kvStore_Get(&e, c->cameras, key);
    if (s == NATS_NOT_FOUND) return fail(c, FT_ENOTFOUND, "no camera %s in the cluster", id);
    if (s != NATS_OK) return nfail(c, s, "cannot read the camera");
    int rc = camera_from_json(kvEntry_Value(e), kvEntry_ValueLen(e), cam);
    kvEntry_Destroy(e);
    return rc == FT_OK ? FT_OK : fail(c, rc, "camera %s: unreadable entry", id);
}

int ft_cluster_camera_done(ft_cluster *c, const char *id)
{
    if (!c || !id) return FT_EINVAL;
    c->errmsg[0] = 0;
    ft_cluster_camera cam;
    int rc = get_camera(c, id, &cam);
    if (rc != FT_OK) return rc;
    cam.done = 1;
    return put_camera(c, &cam);
}

static int holder_of(ft_cluster *c, const char *key, char holder[FT_CLUSTER_NODE_MAX],
                     uint64_t *rev)
{
    holder[0] = 0;
    if (rev) *rev = 0;
    kvEntry *e = NULL;
    natsStatus s = kvStore_Get(&e, c->holds, key);
    if (s == NATS_NOT_FOUND) return FT_OK;
    if (s != NATS_OK) return nfail(c, s, "cannot read a hold");
    int len = kvEntry_ValueLen(e);
    if (len > 0 && len < FT_CLUSTER_NODE_MAX) {
        memcpy(holder, kvEntry_Value(e), (size_t)len);
        holder[len] = 0;
    }
    if (rev) *rev = kvEntry_Revision(e);
    kvEntry_Destroy(e);
    return FT_OK;
}

static int cmp_camera(const void *a, const void *b)
{
    const ft_cluster_camera *x = a, *y = b;
    if (x->camera.km != y->camera.km) return x->camera.km < y->camera.km ? -1 : 1;
    return strcmp(x->camera.id, y->camera.id);
}

int ft_cluster_cameras(ft_cluster *c, ft_cluster_camera **out, int *n)
{
    if (!c || !out || !n) return FT_EINVAL;
    *out = NULL;
    *n = 0;
    c->errmsg[0] = 0;
    kvKeysList keys = { 0 };
    natsStatus s = kvStore_Keys(&keys, c->cameras, NULL);
    if (s == NATS_NOT_FOUND) return FT_OK;
    if (s != NATS_OK) return nfail(c, s, "cannot list the cameras");
    ft_cluster_camera *v = ft__calloc((size_t)(keys.Count > 0 ? keys.Count : 1), sizeof *v);
    int k = 0, rc = v ? FT_OK : fail(c, FT_ENOMEM, "out of memory");
    for (int i = 0; rc == FT_OK && i < keys.Count; i++) {
        kvEntry *e = NULL;
        s = kvStore_Get(&e, c->cameras, keys.Keys[i]);
        if (s == NATS_NOT_FOUND) continue; /* deleted meanwhile */
        if (s != NATS_OK) {
            rc = nfail(c, s, "cannot read a camera");
            break;
        }
        if (camera_from_json(kvEntry_Value(e), kvEntry_ValueLen(e), &v[k]) == FT_OK) {
            char hkey[KEY_MAX];
            snprintf(hkey, sizeof hkey, "%s", keys.Keys[i]); /* cam.<enc id> in both */
            rc = holder_of(c, hkey, v[k].holder, NULL);
            k++;
        }
        kvEntry_Destroy(e);
    }
    kvKeysList_Destroy(&keys);
    if (rc != FT_OK || k == 0) {
        ft__free(v);
        return rc;
    }
    qsort(v, (size_t)k, sizeof *v, cmp_camera);
    *out = v; /* freed with ft_store_free (ft__free) */
    *n = k;
    return FT_OK;
}

int ft_cluster_heartbeat(ft_cluster *c, const char *role)
{
    if (!c || !role || !valid_node(role)) return c ? fail(c, FT_EINVAL, "bad role") : FT_EINVAL;
    c->errmsg[0] = 0;
    char key[KEY_MAX], v[32];
    snprintf(key, sizeof key, "%s.%s", role, c->node);
    snprintf(v, sizeof v, "%lld", (long long)now_us());
    uint64_t rev = 0;
    natsStatus s = kvStore_PutString(&rev, c->nodes, key, v);
    return s == NATS_OK ? FT_OK : nfail(c, s, "heartbeat");
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

int ft_cluster_nodes(ft_cluster *c, const char *role, char **names, int *n)
{
    if (!c || !names || !n) return FT_EINVAL;
    *names = NULL;
    *n = 0;
    c->errmsg[0] = 0;
    kvKeysList keys = { 0 };
    natsStatus s = kvStore_Keys(&keys, c->nodes, NULL);
    if (s == NATS_NOT_FOUND) return FT_OK;
    if (s != NATS_OK) return nfail(c, s, "cannot list the nodes");
    char *v = ft__calloc((size_t)(keys.Count > 0 ? keys.Count : 1), FT_CLUSTER_NODE_MAX);
    if (!v) {
        kvKeysList_Destroy(&keys);
        return fail(c, FT_ENOMEM, "out of memory");
    }
    int k = 0;
    size_t rl = role ? strlen(role) : 0;
    for (int i = 0; i < keys.Count; i++) {
        const char *key = keys.Keys[i], *dot = strchr(key, '.');
        if (!dot || (role && ((size_t)(dot - key) != rl || memcmp(key, role, rl)))) continue;
        snprintf(v + (size_t)k * FT_CLUSTER_NODE_MAX, FT_CLUSTER_NODE_MAX, "%s", dot + 1);
        k++;
    }
    kvKeysList_Destroy(&keys);
    qsort(v, (size_t)k, FT_CLUSTER_NODE_MAX, cmp_name);
    *names = v;
    *n = k;
    return FT_OK;
}

/* The revision this handle's last write of a hold left, or 0. */
static uint64_t held_rev(const ft_cluster *c, const char *key)
{
    for (int i = 0; i < c->n_held; i++)
        if (!strcmp(c->held[i].key, key)) return c->held[i].rev;
    return 0;
}

static void set_held(ft_cluster *c, const char *key, uint64_t rev)
{
    int i = 0;
    while (i < c->n_held && strcmp(c->held[i].key, key))
        i++;
    if (rev == 0) { /* forget it */
        if (i < c->n_held) c->held[i] = c->held[--c->n_held];
        return;
    }
    if (i == c->n_held) {
        if (c->n_held == HELD_MAX) return; /* not renewed: it expires, and is taken again */
        c->n_held++;
    }
    snprintf(c->held[i].key, sizeof c->held[i].key, "%s", key);
    c->held[i].rev = rev;
}

/* Renewals are compare-and-set on the revision this handle's own last write
** left (held_rev), never on a revision read back: a read may be answered by
** a replica that is behind (the buckets allow direct reads), and renewing on
** its revision would fail for ever, or seem to succeed when it did not. */
int ft_cluster_hold(ft_cluster *c, const char *key, char holder[FT_CLUSTER_NODE_MAX])
{
    if (!c || !key || !*key || strlen(key) >= KEY_MAX)
        return c ? fail(c, FT_EINVAL, "bad key") : FT_EINVAL;
    c->errmsg[0] = 0;
    uint64_t rev = held_rev(c, key), nrev = 0;
    if (rev) {
        natsStatus s = kvStore_UpdateString(&nrev, c->holds, key, c->node, rev);
        if (s == NATS_OK) {
            set_held(c, key, nrev);
            if (holder) snprintf(holder, FT_CLUSTER_NODE_MAX, "%s", c->node);
            return 1;
        }
        if (s != NATS_ERR && s != NATS_NOT_FOUND) /* no answer: still ours, maybe; try again */
            return nfail(c, s, "cannot renew a hold");
        set_held(c, key, 0); /* refused: it expired (and may have been taken) */
    }
    /* taken only by a create, which the stream's leader decides; a read
       says who holds it, maybe late: it is for the caller's information */
    natsStatus s = kvStore_CreateString(&nrev, c->holds, key, c->node);
    if (s == NATS_OK) {
        set_held(c, key, nrev);
        if (holder) snprintf(holder, FT_CLUSTER_NODE_MAX, "%s", c->node);
        return 1;
    }
    if (s != NATS_ERR) return nfail(c, s, "cannot take a hold");
    char who[FT_CLUSTER_NODE_MAX];
    int rc = holder_of(c, key, who, NULL);
    if (rc != FT_OK) return rc;
    if (!strcmp(who, c->node)) who[0] = 0; /* ours from before a restart: it expires */
    if (holder) snprintf(holder, FT_CLUSTER_NODE_MAX, "%s", who);
    return 0;
}

int ft_cluster_release(ft_cluster *c, const char *key)
{
    if (!c || !key) return FT_EINVAL;
    c->errmsg[0] = 0;
    uint64_t rev = held_rev(c, key);
    if (!rev) return FT_OK;
    set_held(c, key, 0);
    natsStatus s = kvStore_Delete(c->holds, key);
    return s == NATS_OK ? FT_OK : nfail(c, s, "cannot release a hold");
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int ft_cluster_claim(ft_cluster *c, char **ids, int *n)
{
    if (!c || !ids || !n) return FT_EINVAL;
    *ids = NULL;
    *n = 0;
    ft_cluster_camera *cams = NULL;
    char *nodes = NULL;
    int n_cams = 0, n_nodes = 0;
    int rc = ft_cluster_cameras(c, &cams, &n_cams);
    if (rc == FT_OK) rc = ft_cluster_nodes(c, "ingest", &nodes, &n_nodes);
    if (rc != FT_OK) goto done;
    int open = 0, alive_self = 0;
    for (int i = 0; i < n_cams; i++)
        open += !cams[i].done;
    for (int i = 0; i < n_nodes; i++)
        alive_self |= !strcmp(nodes + (size_t)i * FT_CLUSTER_NODE_MAX, c->node);
    int share = (open + (n_nodes + !alive_self) - 1) / (n_nodes + !alive_self);
    char *v = ft__calloc((size_t)(n_cams > 0 ? n_cams : 1), FT_CAMERA_ID_MAX);
    if (!v) {
        rc = fail(c, FT_ENOMEM, "out of memory");
        goto done;
    }
    int k = 0;
    char key[KEY_MAX];
    /* first renew what this node holds (a camera marked done is let go) */
    for (int i = 0; i < n_cams; i++) {
        if (!held_rev(c, key_of(cams[i].camera.id, key, sizeof key))) continue;
        if (cams[i].done) {
            ft_cluster_release(c, key);
            continue;
        }
        int h = ft_cluster_hold(c, key, NULL);
        if (h < 0) {
            rc = h;
            break;
        }
        if (h == 1)
            snprintf(v + (size_t)k++ * FT_CAMERA_ID_MAX, FT_CAMERA_ID_MAX, "%s", cams[i].camera.id);
    }
    /* over its share (a node joined): live cameras are handed back, the
       last first, for the new node to take (their open tracks are stored
       when the caller stops them); videos are kept, redoing one costs more */
    for (int i = n_cams - 1; rc == FT_OK && k > share && i >= 0; i--) {
        if (!cams[i].live || cams[i].done) continue;
        int at = -1;
        for (int j = 0; j < k && at < 0; j++)
            if (!strcmp(v + (size_t)j * FT_CAMERA_ID_MAX, cams[i].camera.id)) at = j;
        if (at < 0) continue;
        ft_cluster_release(c, key_of(cams[i].camera.id, key, sizeof key));
        memmove(v + (size_t)at * FT_CAMERA_ID_MAX, v + (size_t)(at + 1) * FT_CAMERA_ID_MAX,
                (size_t)(k - at - 1) * FT_CAMERA_ID_MAX);
        k--;
        cams[i].holder[0] = 0;
        cams[i].done = 1; /* not taken back below */
    }
    /* then free cameras up to the share, starting at a place of this node's
       own so that nodes starting together reach for different cameras */
    int start = n_cams > 0 ? (int)(fnv1a(c->node) % (uint32_t)n_cams) : 0;
    for (int j = 0; rc == FT_OK && j < n_cams && k < share; j++) {
        ft_cluster_camera *cam = &cams[(start + j) % n_cams];
        if (cam->done || held_rev(c, key_of(cam->camera.id, key, sizeof key))) continue;
        int alive = 0; /* a holder no longer alive: its hold is expiring, or read late */
        for (int m = 0; cam->holder[0] && m < n_nodes && !alive; m++)
            alive = !strcmp(nodes + (size_t)m * FT_CLUSTER_NODE_MAX, cam->holder);
        if (alive) continue;
        int h = ft_cluster_hold(c, key, NULL);
        if (h < 0) {
            rc = h;
            break;
        }
        if (h == 1)
            snprintf(v + (size_t)k++ * FT_CAMERA_ID_MAX, FT_CAMERA_ID_MAX, "%s", cam->camera.id);
    }
    if (rc == FT_OK) {
        *ids = v;
        *n = k;
    } else {
        ft__free(v);
    }
done:
    ft__free(cams);
    ft__free(nodes);
    return rc;
}

int ft_cluster_state_get(ft_cluster *c, const char *key, char **out, uint64_t *rev)
{
    if (!c || !key || !out) return FT_EINVAL;
    *out = NULL;
    if (rev) *rev = 0;
    c->errmsg[0] = 0;
    kvEntry *e = NULL;
    natsStatus s = kvStore_Get(&e, c->state, key);
    if (s == NATS_NOT_FOUND) return fail(c, FT_ENOTFOUND, "no %s in the cluster's state", key);
    if (s != NATS_OK) return nfail(c, s, "cannot read the cluster's state");
    int len = kvEntry_ValueLen(e);
    char *v = ft__malloc((size_t)len + 1);
    if (v) {
        memcpy(v, kvEntry_Value(e), (size_t)len);
        v[len] = 0;
    }
    if (rev) *rev = kvEntry_Revision(e);
    kvEntry_Destroy(e);
    if (!v) return fail(c, FT_ENOMEM, "out of memory");
    *out = v;
    return FT_OK;
}

int ft_cluster_state_put(ft_cluster *c, const char *key, const char *value, uint64_t *rev)
{
    if (!c || !key || !value) return FT_EINVAL;
    c->errmsg[0] = 0;
    uint64_t r = 0;
    natsStatus s = kvStore_PutString(&r, c->state, key, value);
    if (rev) *rev = r;
    return s == NATS_OK ? FT_OK : nfail(c, s, "cannot write the cluster's state");
}

int ft_cluster_stream_stats(ft_cluster *c, uint64_t *msgs, uint64_t *bytes)
{
    if (!c) return FT_EINVAL;
    c->errmsg[0] = 0;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, c->js, FT_CLUSTER_STREAM, NULL, &jerr);
    if (s != NATS_OK) return nfail(c, s, "stream info");
    if (msgs) *msgs = si->State.Msgs;
    if (bytes) *bytes = si->State.Bytes;
    jsStreamInfo_Destroy(si);
    return FT_OK;
}

int ft_cluster_stream_purge(ft_cluster *c)
{
    if (!c) return FT_EINVAL;
    c->errmsg[0] = 0;
    jsErrCode jerr = 0;
    natsStatus s = js_PurgeStream(c->js, FT_CLUSTER_STREAM, NULL, &jerr);
    return s == NATS_OK ? FT_OK : nfail(c, s, "cannot purge the stream " FT_CLUSTER_STREAM);
}

/* ------------------------------------------------------------------------ */
/* The watchlist                                                            */
/* ------------------------------------------------------------------------ */

#define WATCH_PREFIX  "watch."
#define WATCH_COUNTER "watch_last_id"

static char *watch_to_json(const ft_watch *w)
{
    json_t *d = json_array();
    for (int i = 0; d && i < w->n_desc; i++) {
        json_t *v = json_array();
        for (int k = 0; v && k < FT_DESCRIPTOR_DIM; k++)
            json_array_append_new(v, json_real(w->desc[i][k]));
        json_array_append_new(d, v);
    }
    json_t *j =
        d ? json_pack("{s:I, s:s, s:s, s:I, s:I, s:s, s:o}", "id", (json_int_t)w->id, "name",
                      w->name, "reason", w->reason, "created_us", (json_int_t)w->created_us,
                      "expires_us", (json_int_t)w->expires_us, "webhook", w->webhook, "desc", d)
          : NULL;
    if (!j) return NULL;
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(j);
    return text;
}

static int watch_from_json(const char *text, int len, ft_watch *w)
{
    memset(w, 0, sizeof *w);
    json_t *j = json_loadb(text, (size_t)len, 0, NULL), *d = NULL;
    const char *name = NULL, *reason = "", *hook = "";
    json_int_t id = 0, created = 0, expires = 0;
    int ok = j &&
             json_unpack(j, "{s:I, s:s, s?s, s?I, s?I, s?s, s:o}", "id", &id, "name", &name,
                         "reason", &reason, "created_us", &created, "expires_us", &expires,
                         "webhook", &hook, "desc", &d) == 0 &&
             json_is_array(d) && json_array_size(d) >= 1 &&
             json_array_size(d) <= FT_WATCH_MAX_DESC && strlen(name) < sizeof w->name &&
             strlen(reason) < sizeof w->reason && strlen(hook) < sizeof w->webhook;
    for (size_t i = 0; ok && i < json_array_size(d); i++) {
        json_t *v = json_array_get(d, i);
        ok = json_is_array(v) && json_array_size(v) == FT_DESCRIPTOR_DIM;
        for (int k = 0; ok && k < FT_DESCRIPTOR_DIM; k++) {
            json_t *x = json_array_get(v, (size_t)k);
            ok = json_is_number(x);
            if (ok) w->desc[i][k] = (float)json_number_value(x);
        }
    }
    if (ok) {
        w->id = id;
        snprintf(w->name, sizeof w->name, "%s", name);
        snprintf(w->reason, sizeof w->reason, "%s", reason);
        snprintf(w->webhook, sizeof w->webhook, "%s", hook);
        w->created_us = created;
        w->expires_us = expires;
        w->n_desc = (int)json_array_size(d);
    }
    json_decref(j);
    return ok ? FT_OK : FT_EFORMAT;
}

/* The next watchlist id: the counter moved by one with compare-and-set. */
static int next_watch_id(ft_cluster *c, int64_t *id)
{
    for (int tries = 0; tries < 100; tries++) {
        kvEntry *e = NULL;
        uint64_t rev = 0, nrev = 0;
        long long last = 0;
        natsStatus s = kvStore_Get(&e, c->state, WATCH_COUNTER);
        if (s == NATS_OK) {
            char v[32] = "";
            int len = kvEntry_ValueLen(e);
            if (len > 0 && len < (int)sizeof v) memcpy(v, kvEntry_Value(e), (size_t)len);
            last = strtoll(v, NULL, 10);
            rev = kvEntry_Revision(e);
            kvEntry_Destroy(e);
        } else if (s != NATS_NOT_FOUND) {
            return nfail(c, s, "cannot read the watchlist's counter");
        }
        char v[32];
        snprintf(v, sizeof v, "%lld", last + 1);
        s = rev ? kvStore_UpdateString(&nrev, c->state, WATCH_COUNTER, v, rev)
                : kvStore_CreateString(&nrev, c->state, WATCH_COUNTER, v);
        if (s == NATS_OK) {
            *id = last + 1;
            return FT_OK;
        }
    }
    return fail(c, FT_EIO, "cannot take a watchlist id (too many nodes at once)");
}

int ft_cluster_watch_add(ft_cluster *c, ft_watch *w)
{
    if (!c) return FT_EINVAL;
    c->errmsg[0] = 0;
    if (!w || !w->name[0] || !memchr(w->name, 0, sizeof w->name) ||
        !memchr(w->reason, 0, sizeof w->reason) || !memchr(w->webhook, 0, sizeof w->webhook) ||
        w->n_desc < 1 || w->n_desc > FT_WATCH_MAX_DESC || w->expires_us < 0)
        return fail(c, FT_EINVAL, "a watchlist entry needs a name and 1 to %d descriptors",
                    FT_WATCH_MAX_DESC);
    for (int i = 0; i < w->n_desc; i++)
        for (int k = 0; k < FT_DESCRIPTOR_DIM; k++)
            if (!isfinite(w->desc[i][k]))
                return fail(c, FT_EINVAL, "a watchlist descriptor is not finite");
    int64_t id = 0;
    int rc = next_watch_id(c, &id);
    if (rc != FT_OK) return rc;
    w->id = id;
    w->created_us = now_us();
    char *text = watch_to_json(w), key[64];
    if (!text) return fail(c, FT_ENOMEM, "out of memory");
    snprintf(key, sizeof key, WATCH_PREFIX "%lld", (long long)id);
    uint64_t rev = 0;
    natsStatus s = kvStore_PutString(&rev, c->state, key, text);
    free(text);
    return s == NATS_OK ? FT_OK : nfail(c, s, "cannot store the watchlist entry");
}

int ft_cluster_watch_remove(ft_cluster *c, int64_t id)
{
    if (!c) return FT_EINVAL;
    c->errmsg[0] = 0;
    char key[64];
    snprintf(key, sizeof key, WATCH_PREFIX "%lld", (long long)id);
    kvEntry *e = NULL;
    natsStatus s = kvStore_Get(&e, c->state, key);
    if (s == NATS_NOT_FOUND) return fail(c, FT_ENOTFOUND, "no watchlist entry %lld", (long long)id);
    if (s != NATS_OK) return nfail(c, s, "cannot read the watchlist");
    kvEntry_Destroy(e);
    s = kvStore_Delete(c->state, key);
    return s == NATS_OK ? FT_OK : nfail(c, s, "cannot remove the watchlist entry");
}

static int same_watch(const ft_watch *a, const ft_watch *b)
{
    return a->id == b->id && !strcmp(a->name, b->name) && !strcmp(a->reason, b->reason) &&
           !strcmp(a->webhook, b->webhook) && a->created_us == b->created_us &&
           a->expires_us == b->expires_us && a->n_desc == b->n_desc &&
           !memcmp(a->desc, b->desc, (size_t)a->n_desc * sizeof a->desc[0]);
}

int ft_cluster_watch_sync(ft_cluster *c, ft_store *st, int *changed)
{
    if (changed) *changed = 0;
    if (!c || !st) return FT_EINVAL;
    c->errmsg[0] = 0;
    kvKeysList keys = { 0 };
    natsStatus s = kvStore_Keys(&keys, c->state, NULL);
    if (s != NATS_OK && s != NATS_NOT_FOUND) return nfail(c, s, "cannot list the watchlist");
    ft_watch *mine = NULL, *w = ft__malloc(sizeof *w);
    int n_mine = 0, rc = w ? ft_store_watch_list(st, 0, &mine, &n_mine) : FT_ENOMEM;
    int64_t *theirs = ft__calloc((size_t)keys.Count + 1, sizeof *theirs);
    int n_theirs = 0, k = 0;
    if (rc == FT_OK && !theirs) rc = FT_ENOMEM;
    if (rc != FT_OK) {
        fail(c, rc, "%s", rc == FT_ENOMEM ? "out of memory" : ft_store_errmsg(st));
        goto done;
    }
    for (int i = 0; rc == FT_OK && i < keys.Count; i++) {
        if (strncmp(keys.Keys[i], WATCH_PREFIX, strlen(WATCH_PREFIX))) continue;
        kvEntry *e = NULL;
        s = kvStore_Get(&e, c->state, keys.Keys[i]);
        if (s == NATS_NOT_FOUND) continue;
        if (s != NATS_OK) {
            rc = nfail(c, s, "cannot read the watchlist");
            break;
        }
        int prc = watch_from_json(kvEntry_Value(e), kvEntry_ValueLen(e), w);
        kvEntry_Destroy(e);
        if (prc != FT_OK || w->id < 1) continue; /* not one of ours: left alone */
        theirs[n_theirs++] = w->id;
        int same = 0;
        for (int j = 0; j < n_mine && !same; j++)
            same = same_watch(&mine[j], w);
        if (same) continue;
        if ((rc = ft_store_watch_put(st, w)) != FT_OK)
            fail(c, rc, "watchlist entry %lld: %s", (long long)w->id, ft_store_errmsg(st));
        else
            k++;
    }
    /* entries the cluster no longer has (not when its list could not be read) */
    for (int j = 0; rc == FT_OK && j < n_mine; j++) {
        int keep = 0;
        for (int i = 0; i < n_theirs && !keep; i++)
            keep = theirs[i] == mine[j].id;
        if (keep) continue;
        int r = ft_store_watch_remove(st, mine[j].id);
        if (r == FT_OK)
            k++;
        else if (r != FT_ENOTFOUND)
            rc = fail(c, r, "watchlist entry %lld: %s", (long long)mine[j].id, ft_store_errmsg(st));
    }
done:
    if (changed) *changed = k;
    ft__free(theirs);
    ft_store_free(mine);
    ft__free(w);
    kvKeysList_Destroy(&keys);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Searches across shards                                                   */
/* ------------------------------------------------------------------------ */

static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)sub;
    ft_cluster *c = closure;
    const char *reply_to = natsMsg_GetReply(msg);
    int len = 0;
    char *reply = reply_to ? c->answer_fn(natsMsg_GetData(msg), natsMsg_GetDataLength(msg), &len,
                                          c->answer_ctx)
                           : NULL;
    if (reply) natsConnection_Publish(nc, reply_to, reply, len);
    free(reply);
    natsMsg_Destroy(msg);
}

/* One subscription of c to subject, delivered to cb on a thread of the
** library; FT_EINVAL when *sub is taken already. */
static int subscribe_once(ft_cluster *c, natsSubscription **sub, const char *subject,
                          natsMsgHandler cb, const char *what)
{
    if (*sub) return fail(c, FT_EINVAL, "%s: one per handle", what);
    natsStatus s = natsConnection_Subscribe(sub, c->nc, subject, cb, c);
    if (s != NATS_OK) {
        *sub = NULL;
        return nfail(c, s, what);
    }
    return FT_OK;
}

int ft_cluster_answer(ft_cluster *c, ft_cluster_answer_fn fn, void *ctx)
{
    if (!c || !fn) return c ? fail(c, FT_EINVAL, "no answer function") : FT_EINVAL;
    c->errmsg[0] = 0;
    if (c->answer) return fail(c, FT_EINVAL, "one answerer per handle");
    c->answer_fn = fn;
    c->answer_ctx = ctx;
    return subscribe_once(c, &c->answer, SEARCH_SUBJECT, on_request,
                          "cannot answer the cluster's searches");
}

int ft_cluster_ask(ft_cluster *c, const char *req, int len, int n, int wait_ms,
                   ft_cluster_reply_fn fn, void *ctx, int *got)
{
    if (got) *got = 0;
    if (!c || !req || len < 0 || n < 1 || wait_ms < 1 || !fn)
        return c ? fail(c, FT_EINVAL, "bad arguments") : FT_EINVAL;
    c->errmsg[0] = 0;
    natsInbox *inbox = NULL;
    natsSubscription *sub = NULL;
    natsStatus s = natsInbox_Create(&inbox);
    if (s == NATS_OK) s = natsConnection_SubscribeSync(&sub, c->nc, inbox);
    if (s == NATS_OK) s = natsConnection_PublishRequest(c->nc, SEARCH_SUBJECT, inbox, req, len);
    int k = 0;
    int64_t end = now_us() + (int64_t)wait_ms * 1000;
    while (s == NATS_OK && k < n) {
        int64_t left = (end - now_us()) / 1000;
        if (left < 1) break;
        natsMsg *m = NULL;
        natsStatus r = natsSubscription_NextMsg(&m, sub, left);
        if (r == NATS_TIMEOUT) break;
        if (r != NATS_OK) {
            s = r;
            break;
        }
        fn(natsMsg_GetData(m), natsMsg_GetDataLength(m), ctx);
        natsMsg_Destroy(m);
        k++;
    }
    if (sub) natsSubscription_Destroy(sub);
    natsInbox_Destroy(inbox);
    if (got) *got = k;
    return s == NATS_OK ? FT_OK : nfail(c, s, "asking the shards");
}

/* ------------------------------------------------------------------------ */
/* Alerts to every search node                                              */
/* ------------------------------------------------------------------------ */

int ft_cluster_alert_send(ft_cluster *c, const char *json)
{
    if (!c || !json) return c ? fail(c, FT_EINVAL, "no alert") : FT_EINVAL;
    c->errmsg[0] = 0;
    natsStatus s = natsConnection_Publish(c->nc, ALERT_SUBJECT, json, (int)strlen(json));
    return s == NATS_OK ? FT_OK : nfail(c, s, "cannot send the alert");
}

static void on_alert(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc, (void)sub;
    ft_cluster *c = closure;
    c->alert_fn(natsMsg_GetData(msg), natsMsg_GetDataLength(msg), c->alert_ctx);
    natsMsg_Destroy(msg);
}

int ft_cluster_alert_listen(ft_cluster *c, ft_cluster_alert_fn fn, void *ctx)
{
    if (!c || !fn) return c ? fail(c, FT_EINVAL, "no listener") : FT_EINVAL;
    c->errmsg[0] = 0;
    if (c->alerts) return fail(c, FT_EINVAL, "one listener per handle");
    c->alert_fn = fn;
    c->alert_ctx = ctx;
    return subscribe_once(c, &c->alerts, ALERT_SUBJECT, on_alert,
                          "cannot listen to the cluster's alerts");
}
