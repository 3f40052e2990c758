/*
** tests/unit/test_cluster.c: the cluster on NATS JetStream (cluster/cluster.c)
** against a real nats-server: open's refusals, publish and consume exactly
** once (the checkpoint, the stream's duplicate window, a durable consumer
** per search node, a camera id with '.' and '*', the stream purged), the
** shard filter, holds and their expiry, cameras claimed by share, live
** nodes, the cluster's watchlist synced into a store; and
** ft_store_watch_put (store/watchlist.c).
**
** DESIGN
**   Each test that needs a server starts its own (its forked child runs
**   `nats-server -a 127.0.0.1 -p PORT -js -sd DIR` by posix_spawn, PORT a
**   port the kernel just handed out and gave back, DIR a fresh mkdtemp
**   folder that also holds the test's stores), waits for it by opening a
**   cluster handle until one opens (10 s at most), and at the end (or at
**   exit, so a failing test cleans up too) stops it with SIGTERM, waits
**   for it and removes DIR. A fresh server per test: no stream, consumer or
**   bucket left over from another test. Without nats-server (FT_NATS_SERVER,
**   PATH, /usr/bin, /usr/sbin) those tests skip and say why.
**   Handles use replicas 1 and lease_s 1 (LEASE_S), so that expiry tests
**   wait about 2 s; the claim test uses a longer lease (its holds must not
**   lapse between calls under a sanitizer's slowdown).
**   Expected values are written here, never computed by the code under
**   test: sighting ids 1..n of a fresh store, the checkpoint as text, the
**   shares (ceil(4 / 2) = 2), the order of cameras worked out by hand, the
**   sightings compared with the values they were made from (make_sighting)
**   as well as with the source store's rows, watchlist descriptors bit for
**   bit (values chosen to need all 9 digits, FLT_MIN, a subnormal, -0.0).
**   libnats keeps global state (its threads, timers): each test ends with
**   nats_CloseAndWait, which also fails when a NATS object was left alive.
**
** INVARIANTS  (1) no nats-server and nothing under /tmp are left behind.
**             (2) every test that started a server ends with finish().
*/
#include "facetrail.h"
#include "facetrail/cluster.h"

#include "../harness/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <ftw.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define LEASE_S 1.0
#define T0      1767225600000000LL /* 2026-01-01T00:00:00Z, microseconds */
#define SPACE   "test-space-1"

/* ------------------------------------------------------------------------ */
/* The server                                                               */
/* ------------------------------------------------------------------------ */

static struct {
    volatile pid_t pid; /* the nats-server, 0 none */
    char dir[64];       /* its folder and the stores', "" none */
    char url[64];
} srv;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void server_stop(void)
{
    if (srv.pid > 0) {
        pid_t pid = srv.pid;
        srv.pid = 0;
        kill(pid, SIGTERM);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (srv.dir[0]) {
        nftw(srv.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        srv.dir[0] = 0;
    }
}

/* The harness's timeout (SIGALRM) would leave the server running. */
static void on_alarm(int sig)
{
    if (srv.pid > 0) kill(srv.pid, SIGTERM);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* A TCP port on 127.0.0.1 nothing listens on (just handed out and closed). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
    ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &len));
    close(fd);
    return ntohs(a.sin_port);
}

/* The nats-server program, or NULL. */
static const char *find_server(void)
{
    static char path[4096];
    const char *env = getenv("FT_NATS_SERVER");
    if (env && *env) return access(env, X_OK) == 0 ? env : NULL;
    const char *p = getenv("PATH");
    while (p && *p) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 0 && n < sizeof path - 16) {
            snprintf(path, sizeof path, "%.*s/nats-server", (int)n, p);
            if (access(path, X_OK) == 0) return path;
        }
        p = e ? e + 1 : NULL;
    }
    static const char *fixed[] = { "/usr/bin/nats-server", "/usr/sbin/nats-server" };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (access(fixed[i], X_OK) == 0) return fixed[i];
    return NULL;
}

static ft_cluster_params params(const char *node, double lease_s)
{
    ft_cluster_params p = ft_cluster_default_params();
    p.urls = srv.url;
    p.node = node;
    p.replicas = 1;
    p.lease_s = lease_s;
    p.timeout_s = 5;
    return p;
}

static ft_cluster *open_node(const char *node, double lease_s)
{
    ft_cluster_params p = params(node, lease_s);
    ft_cluster *c = NULL;
    char err[512] = "";
    int rc = ft_cluster_open(&p, &c, err, sizeof err);
    if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "open %s: %d: %s", node, rc, err);
    ASSERT(c != NULL);
    ASSERT_STR_EQ(ft_cluster_node(c), node);
    return c;
}

/* Starts the test's server; the stream and buckets are made with lease_s
** (the first open makes them: the probe's). Skips without nats-server. */
static void server_start(double lease_s)
{
    const char *prog = find_server();
    if (!prog) FT_SKIP("no nats-server (apt-get install nats-server, or set FT_NATS_SERVER)");
    snprintf(srv.dir, sizeof srv.dir, "/tmp/ft_test_cluster_XXXXXX");
    ASSERT(mkdtemp(srv.dir) != NULL);
    atexit(server_stop);
    signal(SIGALRM, on_alarm);
    int port = free_port();
    snprintf(srv.url, sizeof srv.url, "nats://127.0.0.1:%d", port);
    char port_s[16], js_dir[128], log[128];
    snprintf(port_s, sizeof port_s, "%d", port);
    snprintf(js_dir, sizeof js_dir, "%s/js", srv.dir);
    snprintf(log, sizeof log, "%s/server.log", srv.dir);
    char *argv[] = { (char *)"nats-server", (char *)"-a", (char *)"127.0.0.1",
                     (char *)"-p",          port_s,       (char *)"-js",
                     (char *)"-sd",         js_dir,       NULL };
    posix_spawn_file_actions_t fa;
    ASSERT_OK(posix_spawn_file_actions_init(&fa));
    ASSERT_OK(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0));
    ASSERT_OK(posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644));
    ASSERT_OK(posix_spawn_file_actions_adddup2(&fa, 1, 2));
    pid_t pid = 0;
    int rc = posix_spawn(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) ft_test_fail(__FILE__, __LINE__, "cannot start %s: %s", prog, strerror(rc));
    srv.pid = pid;

    /* wait until a handle opens (the stream and the buckets made) */
    ft_cluster_params p = params("probe", lease_s);
    p.timeout_s = 0.5;
    char err[512] = "";
    for (int i = 0; i < 200; i++) {
        ft_cluster *c = NULL;
        if (ft_cluster_open(&p, &c, err, sizeof err) == FT_OK) {
            ft_cluster_close(c);
            return;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            srv.pid = 0;
            ft_test_fail(__FILE__, __LINE__, "nats-server exited (status %d); see %s", status, log);
        }
        usleep(50000);
    }
    ft_test_fail(__FILE__, __LINE__, "nats-server on port %d did not answer in 10 s: %s", port,
                 err);
}

/* The end of a test: libnats unloaded (every NATS object must be gone by
** now, else it times out), the server stopped, its folder removed. */
static void finish(void)
{
    natsStatus s = nats_CloseAndWait(5000);
    if (s != NATS_OK)
        ft_test_fail(__FILE__, __LINE__, "nats_CloseAndWait: %s (a NATS object left alive?)",
                     natsStatus_GetText(s));
    server_stop();
}

static void sleep_s(double s)
{
    struct timespec t = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------------------ */
/* Stores                                                                   */
/* ------------------------------------------------------------------------ */

static ft_store *new_store(const char *name)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", srv.dir, name);
    ft_store *st = NULL;
    ASSERT_OK(ft_store_open(path, FT_STORE_CREATE, &st));
    return st;
}

/* A fake JPEG (only the FF D8 FF start is checked by the store). */
static const unsigned char thumb[10] = { 0xFF, 0xD8, 0xFF, 0xE0, 9, 8, 7, 6, 0xFF, 0xD9 };

/* A deterministic sighting for track key (2 descriptors, a thumbnail). */
static void make_sighting(ft_sighting *s, int64_t key)
{
    memset(s, 0, sizeof *s);
    s->track_key = key;
    s->first_us = T0 + key * 1000000;
    s->best_us = s->first_us + 200000;
    s->last_us = s->first_us + 500000;
    s->box[0] = 10.5f + (float)key;
    s->box[1] = 20.25f;
    s->box[2] = 30;
    s->box[3] = 40;
    s->face_px = 40;
    s->det_score = 0.875f;
    s->quality = 0.5f + 0.001f * (float)key;
    s->n_frames = 5 + (int)key;
    s->n_desc = 2;
    for (int k = 0; k < 2; k++) {
        for (int d = 0; d < FT_DESCRIPTOR_DIM; d++)
            s->desc[k][d] = (float)((key * 131 + k * 17 + d) % 97) / 97.0f - 0.5f;
        s->desc_quality[k] = 0.25f * (float)(k + 1);
    }
    s->thumbnail = thumb;
    s->thumbnail_len = sizeof thumb;
}

#define CAM_ODD "km05.2*n" /* '.' and '*': not allowed in a NATS subject token */

/* A source store with camera cam and one ingest holding sightings with
** track keys 1..n (ids 1..n); *ingest its id. */
static ft_store *source_store(const char *name, const char *cam, int n, int64_t *ingest)
{
    ft_store *st = new_store(name);
    ft_camera c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "%s", cam);
    snprintf(c.name, sizeof c.name, "bridge");
    c.km = 5.2;
    ASSERT_OK(ft_store_camera_add(st, &c));
    ASSERT_OK(ft_store_meta_set(st, FT_STORE_SPACE_KEY, SPACE));
    int64_t resume = 0;
    ASSERT_OK(ft_store_ingest_begin(st, cam, "cam5.mp4", T0, 5.0, ingest, &resume));
    ft_sighting *s = calloc((size_t)n, sizeof *s);
    ASSERT(s != NULL);
    for (int i = 0; i < n; i++)
        make_sighting(&s[i], i + 1);
    ASSERT_OK(ft_store_ingest_commit(st, *ingest, s, n, 1000000, 10 * n, n));
    free(s);
    return st;
}

static void assert_count(ft_store *st, int64_t sightings)
{
    int64_t c, s, d;
    ASSERT_OK(ft_store_stats(st, &c, &s, &d, NULL, NULL));
    ASSERT_EQ(s, sightings);
}

static void assert_sighting_eq(const ft_sighting *a, const ft_sighting *b)
{
    ASSERT_EQ(a->track_key, b->track_key);
    ASSERT_EQ(a->first_us, b->first_us);
    ASSERT_EQ(a->best_us, b->best_us);
    ASSERT_EQ(a->last_us, b->last_us);
    for (int k = 0; k < 4; k++)
        ASSERT(a->box[k] == b->box[k]);
    ASSERT(a->quality == b->quality);
    ASSERT_EQ(a->n_frames, b->n_frames);
    ASSERT_EQ(a->n_desc, b->n_desc);
    for (int k = 0; k < a->n_desc; k++) {
        ASSERT(memcmp(a->desc[k], b->desc[k], sizeof a->desc[k]) == 0);
        ASSERT(a->desc_quality[k] == b->desc_quality[k]);
    }
    ASSERT_EQ(a->thumbnail_len, b->thumbnail_len);
    ASSERT(memcmp(a->thumbnail, b->thumbnail, a->thumbnail_len) == 0);
}

/* Every sighting of dst (ids 1..n) is the source's with the same track key
** (ids 1..n there, keys 1..n) and the one it was made from. */
static void assert_copied(ft_store *src, ft_store *dst, int n)
{
    static ft_sighting a, b, made;
    for (int64_t id = 1; id <= n; id++) {
        unsigned char *ta = NULL, *tb = NULL;
        ASSERT_OK(ft_store_sighting_get(dst, id, &b, &tb));
        ASSERT_STR_EQ(b.camera_id, CAM_ODD);
        ASSERT(b.track_key >= 1 && b.track_key <= n);
        ASSERT_OK(ft_store_sighting_get(src, b.track_key, &a, &ta)); /* src id = key */
        ASSERT_EQ(a.track_key, b.track_key);
        make_sighting(&made, b.track_key);
        assert_sighting_eq(&made, &b);
        assert_sighting_eq(&a, &b);
        ft_store_free(ta);
        ft_store_free(tb);
    }
    ASSERT_EQ(ft_store_sighting_get(dst, n + 1, &b, NULL), FT_ENOTFOUND);
}

/* Consumes until want messages came (or 10 s); *applied the sum. */
static void consume_until(ft_cluster *c, ft_store *st, const char *only, int want, int *received,
                          int *applied)
{
    *received = 0;
    *applied = 0;
    for (int i = 0; i < 50 && *received < want; i++) {
        int r = -1, a = -1;
        int rc = ft_cluster_consume(c, st, 100, 200, only, &r, &a);
        if (rc != FT_OK)
            ft_test_fail(__FILE__, __LINE__, "consume: %d: %s", rc, ft_cluster_errmsg(c));
        ASSERT(r >= 0 && a >= 0 && a <= r);
        *received += r;
        *applied += a;
    }
}

/* ------------------------------------------------------------------------ */
/* Open                                                                     */
/* ------------------------------------------------------------------------ */

static void test_open_refused(void)
{
    int port = free_port();
    char url[64], err[512];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    ft_cluster_params good = ft_cluster_default_params();
    good.urls = url;
    good.node = "node-1_A";
    good.replicas = 1;
    good.timeout_s = 0.5;
    ft_cluster *c = (ft_cluster *)&good; /* must come back NULL */
    ft_cluster_params p;
#define REFUSED(stmt, needle)                                           \
    do {                                                                \
        p = good;                                                       \
        stmt;                                                           \
        err[0] = 0;                                                     \
        c = (ft_cluster *)&good;                                        \
        ASSERT_EQ(ft_cluster_open(&p, &c, err, sizeof err), FT_EINVAL); \
        ASSERT(c == NULL);                                              \
        ASSERT_STR_CONTAINS(err, needle);                               \
    } while (0)
    REFUSED(p.urls = "", "bad cluster parameters");
    REFUSED(p.urls = NULL, "bad cluster parameters");
    REFUSED(p.node = "a.b", "node name");
    REFUSED(p.node = "a b", "node name");
    REFUSED(p.node = "", "node name");
    REFUSED(p.node = "0123456789012345678901234567890123456789012345678901234567890123",
            "node name"); /* 64 characters */
    REFUSED(p.replicas = 0, "replicas 1-5");
    REFUSED(p.replicas = 6, "replicas 1-5");
    REFUSED(p.lease_s = 0, "lease");
    REFUSED(p.timeout_s = -1, "timeout");
#undef REFUSED
    ASSERT_EQ(ft_cluster_open(NULL, &c, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_cluster_open(&good, NULL, err, sizeof err), FT_EINVAL);

    /* nothing listens there */
    err[0] = 0;
    c = (ft_cluster *)&good;
    ASSERT_EQ(ft_cluster_open(&good, &c, err, sizeof err), FT_EIO);
    ASSERT(c == NULL);
    ASSERT_STR_CONTAINS(err, "cannot connect to NATS");
    ASSERT_EQ(ft_cluster_open(&good, &c, NULL, 0), FT_EIO); /* no buffer: still refused */
    ASSERT_STR_EQ(ft_cluster_errmsg(NULL), "no cluster handle");
    ft_cluster_close(NULL);
    natsStatus s = nats_CloseAndWait(5000);
    if (s != NATS_OK)
        ft_test_fail(__FILE__, __LINE__, "nats_CloseAndWait: %s", natsStatus_GetText(s));
}

/* ------------------------------------------------------------------------ */
/* Publish and consume                                                      */
/* ------------------------------------------------------------------------ */

static void test_publish_consume(void)
{
    server_start(LEASE_S);
    int64_t ingest = 0, backlog = -1;
    ft_store *src = source_store("src.ftdb", CAM_ODD, 5, &ingest);
    ft_cluster *pub = open_node("ingest-1", LEASE_S);
    char v[64];
    int published = -1, dups = -1;

    ASSERT_OK(ft_cluster_backlog(pub, src, &backlog));
    ASSERT_EQ(backlog, 5);
    ASSERT_OK(ft_cluster_publish(pub, src, 100, &published, &dups));
    ASSERT_STR_EQ(ft_cluster_errmsg(pub), "");
    ASSERT_EQ(published, 5);
    ASSERT_EQ(dups, 0);
    ASSERT_OK(ft_store_meta_get(src, FT_CLUSTER_PUBLISHED_KEY, v, sizeof v));
    ASSERT_STR_EQ(v, "5");
    ASSERT_OK(ft_cluster_backlog(pub, src, &backlog));
    ASSERT_EQ(backlog, 0);
    ASSERT_OK(ft_cluster_publish(pub, src, 100, &published, &dups));
    ASSERT_EQ(published, 0);
    ASSERT_EQ(dups, 0);
    ASSERT_EQ(ft_cluster_publish(pub, src, 0, &published, &dups), FT_EINVAL);

    /* a crash before the checkpoint moved: everything again, all dropped */
    ASSERT_OK(ft_store_meta_set(src, FT_CLUSTER_PUBLISHED_KEY, "0"));
    ASSERT_OK(ft_cluster_backlog(pub, src, &backlog));
    ASSERT_EQ(backlog, 5);
    ASSERT_OK(ft_cluster_publish(pub, src, 100, &published, &dups));
    ASSERT_EQ(published, 5);
    ASSERT_EQ(dups, 5);
    ASSERT_OK(ft_store_meta_get(src, FT_CLUSTER_PUBLISHED_KEY, v, sizeof v));
    ASSERT_STR_EQ(v, "5");
    /* in two batches: max is honoured, the checkpoint moves with each */
    ASSERT_OK(ft_store_meta_set(src, FT_CLUSTER_PUBLISHED_KEY, "0"));
    ASSERT_OK(ft_cluster_publish(pub, src, 2, &published, &dups));
    ASSERT_EQ(published, 2);
    ASSERT_EQ(dups, 2);
    ASSERT_OK(ft_store_meta_get(src, FT_CLUSTER_PUBLISHED_KEY, v, sizeof v));
    ASSERT_STR_EQ(v, "2");
    ASSERT_OK(ft_cluster_publish(pub, src, 100, &published, &dups));
    ASSERT_EQ(published, 3);
    ASSERT_EQ(dups, 3);
    uint64_t msgs = 0, bytes = 0;
    ASSERT_OK(ft_cluster_stream_stats(pub, &msgs, &bytes));
    ASSERT_EQ(msgs, 5);
    ASSERT(bytes > 5 * 2 * 512); /* two descriptors of 512 bytes each, at least */

    /* a search node on another handle */
    ft_cluster *s1 = open_node("search-1", LEASE_S);
    ft_store *dst = new_store("dst.ftdb");
    int received = 0, applied = 0;
    consume_until(s1, dst, NULL, 5, &received, &applied);
    ASSERT_EQ(received, 5);
    ASSERT_EQ(applied, 5);
    assert_count(dst, 5);
    assert_copied(src, dst, 5);
    ASSERT_OK(ft_store_meta_get(dst, FT_STORE_SPACE_KEY, v, sizeof v));
    ASSERT_STR_EQ(v, SPACE);
    ft_camera cam;
    ASSERT_OK(ft_store_camera_get(dst, CAM_ODD, &cam));
    ASSERT_STR_EQ(cam.name, "bridge");
    ASSERT(cam.km == 5.2);
    int r = -1, a = -1;
    ASSERT_OK(ft_cluster_consume(s1, dst, 100, 300, NULL, &r, &a));
    ASSERT_EQ(r, 0);
    ASSERT_EQ(a, 0);
    ASSERT_OK(ft_cluster_stream_stats(s1, &msgs, NULL));
    ASSERT_EQ(msgs, 5);

    /* one more sighting: published once, applied once */
    static ft_sighting one;
    make_sighting(&one, 6);
    ASSERT_OK(ft_store_ingest_commit(src, ingest, &one, 1, 2000000, 60, 1));
    ASSERT_OK(ft_cluster_backlog(pub, src, &backlog));
    ASSERT_EQ(backlog, 1);
    ASSERT_OK(ft_cluster_publish(pub, src, 100, &published, &dups));
    ASSERT_EQ(published, 1);
    ASSERT_EQ(dups, 0);
    ASSERT_OK(ft_store_meta_get(src, FT_CLUSTER_PUBLISHED_KEY, v, sizeof v));
    ASSERT_STR_EQ(v, "6");
    consume_until(s1, dst, NULL, 1, &received, &applied);
    ASSERT_EQ(received, 1);
    ASSERT_EQ(applied, 1);
    assert_count(dst, 6);
    assert_copied(src, dst, 6);
    ASSERT_OK(ft_cluster_stream_stats(s1, &msgs, NULL));
    ASSERT_EQ(msgs, 6);

    /* a second search node: its own consumer, from the stream's start */
    ft_cluster *s2 = open_node("search-2", LEASE_S);
    ft_store *dst2 = new_store("dst2.ftdb");
    consume_until(s2, dst2, NULL, 6, &received, &applied);
    ASSERT_EQ(received, 6);
    ASSERT_EQ(applied, 6);
    assert_copied(src, dst2, 6);
    ASSERT_OK(ft_cluster_consume(s2, dst2, 100, 200, NULL, &r, &a));
    ASSERT_EQ(r, 0);
    /* the first search node on a new handle: its durable consumer goes on
    ** where it was (nothing again) */
    ft_cluster_close(s1);
    s1 = open_node("search-1", LEASE_S);
    ASSERT_OK(ft_cluster_consume(s1, dst, 100, 300, NULL, &r, &a));
    ASSERT_EQ(r, 0);
    assert_count(dst, 6);

    /* retention: the stream emptied; the stores keep what they have */
    ASSERT_OK(ft_cluster_stream_purge(pub));
    ASSERT_OK(ft_cluster_stream_stats(s2, &msgs, NULL));
    ASSERT_EQ(msgs, 0);
    ASSERT_OK(ft_cluster_consume(s2, dst2, 100, 200, NULL, &r, &a));
    ASSERT_EQ(r, 0);
    assert_count(dst2, 6);

    ft_store_close(dst2);
    ft_store_close(dst);
    ft_store_close(src);
    ft_cluster_close(s2);
    ft_cluster_close(s1);
    ft_cluster_close(pub);
    finish();
}

static void test_shard_filter(void)
{
    server_start(LEASE_S);
    int64_t ingest = 0;
    ft_store *src = source_store("src.ftdb", CAM_ODD, 3, &ingest);
    ft_cluster *pub = open_node("ingest-1", LEASE_S);
    int published = -1;
    ASSERT_OK(ft_cluster_publish(pub, src, 100, &published, NULL));
    ASSERT_EQ(published, 3);

    /* a shard of other cameras: taken and acknowledged, not applied */
    ft_cluster *s = open_node("shard-b", LEASE_S);
    ft_store *dst = new_store("dst.ftdb");
    int received = 0, applied = 0;
    consume_until(s, dst, "km99,km05.2", 3, &received, &applied); /* a prefix is not the id */
    ASSERT_EQ(received, 3);
    ASSERT_EQ(applied, 0);
    assert_count(dst, 0);
    ft_camera cam;
    ASSERT_EQ(ft_store_camera_get(dst, CAM_ODD, &cam), FT_ENOTFOUND);
    int r = -1, a = -1;
    ASSERT_OK(ft_cluster_consume(s, dst, 100, 200, "km99", &r, &a));
    ASSERT_EQ(r, 0);

    /* a shard naming the camera (among others) applies them */
    ft_cluster *t = open_node("shard-a", LEASE_S);
    ft_store *dst2 = new_store("dst2.ftdb");
    consume_until(t, dst2, "km99," CAM_ODD, 3, &received, &applied);
    ASSERT_EQ(received, 3);
    ASSERT_EQ(applied, 3);
    assert_copied(src, dst2, 3);

    ft_store_close(dst2);
    ft_store_close(dst);
    ft_store_close(src);
    ft_cluster_close(t);
    ft_cluster_close(s);
    ft_cluster_close(pub);
    finish();
}

/* ------------------------------------------------------------------------ */
/* Holds, cameras, nodes                                                    */
/* ------------------------------------------------------------------------ */

static void test_holds(void)
{
    server_start(LEASE_S);
    ft_cluster *a = open_node("a", LEASE_S), *b = open_node("b", LEASE_S);
    char who[FT_CLUSTER_NODE_MAX];

    ASSERT_EQ(ft_cluster_hold(a, "leader.x", who), 1);
    ASSERT_STR_EQ(who, "a");
    ASSERT_EQ(ft_cluster_hold(a, "leader.x", NULL), 1); /* renewed */
    snprintf(who, sizeof who, "junk");
    ASSERT_EQ(ft_cluster_hold(b, "leader.x", who), 0);
    ASSERT_STR_EQ(who, "a");
    ASSERT_OK(ft_cluster_release(b, "leader.x")); /* not b's: a no-op */
    ASSERT_EQ(ft_cluster_hold(b, "leader.x", who), 0);
    ASSERT_STR_EQ(who, "a");
    ASSERT_EQ(ft_cluster_hold(b, "leader.y", who), 1); /* another key is free */

    ASSERT_OK(ft_cluster_release(a, "leader.x"));
    ASSERT_OK(ft_cluster_release(a, "leader.x")); /* not held: no error */
    ASSERT_EQ(ft_cluster_hold(b, "leader.x", who), 1);
    ASSERT_STR_EQ(who, "b");
    ASSERT_EQ(ft_cluster_hold(a, "leader.x", who), 0);
    ASSERT_STR_EQ(who, "b");
    ASSERT_EQ(ft_cluster_hold(a, "", who), FT_EINVAL);

    /* b stops renewing: its holds lapse after lease_s */
    sleep_s(LEASE_S + 1.0);
    ASSERT_EQ(ft_cluster_hold(a, "leader.x", who), 1);
    ASSERT_STR_EQ(who, "a");
    ASSERT_EQ(ft_cluster_hold(a, "leader.y", who), 1);
    ASSERT_EQ(ft_cluster_hold(b, "leader.x", who), 0);
    ASSERT_STR_EQ(who, "a");

    ft_cluster_close(b);
    ft_cluster_close(a);
    finish();
}

static void put_cam(ft_cluster *c, const char *id, double km, const char *source)
{
    ft_cluster_camera cam;
    memset(&cam, 0, sizeof cam);
    snprintf(cam.camera.id, sizeof cam.camera.id, "%s", id);
    snprintf(cam.camera.name, sizeof cam.camera.name, "camera %s", id);
    cam.camera.km = km;
    snprintf(cam.source, sizeof cam.source, "%s", source);
    cam.start_us = T0 + (int64_t)(km * 1000);
    cam.done = 1;                                  /* cleared by put */
    snprintf(cam.holder, sizeof cam.holder, "zz"); /* ignored */
    int rc = ft_cluster_camera_put(c, &cam);
    if (rc != FT_OK)
        ft_test_fail(__FILE__, __LINE__, "put %s: %d: %s", id, rc, ft_cluster_errmsg(c));
}

static int has_id(const char *ids, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(ids + (size_t)i * FT_CAMERA_ID_MAX, id)) return 1;
    return 0;
}

static void test_claim(void)
{
    /* holds must outlast the calls below even under a sanitizer */
    const double lease = 10.0;
    server_start(lease);
    ft_cluster *a = open_node("a", lease), *b = open_node("b", lease);

    /* four cameras, put out of order; two share km 5 */
    put_cam(a, "km10", 10, "/v/km10.mp4");
    put_cam(a, "km05.b", 5, "/v/km05b.mp4");
    put_cam(b, "km02", 2, "rtsp://cam2/live");
    put_cam(a, "km05-a", 5, "/v/km05a.mp4");
    put_cam(a, "km10", 10, "/v/km10-v2.mp4"); /* replaced */

    /* refused */
    ft_cluster_camera bad;
    memset(&bad, 0, sizeof bad);
    snprintf(bad.camera.id, sizeof bad.camera.id, "km07");
    bad.camera.km = 7;
    ASSERT_EQ(ft_cluster_camera_put(a, &bad), FT_EINVAL); /* no source */
    ASSERT_STR_CONTAINS(ft_cluster_errmsg(a), "source");
    snprintf(bad.source, sizeof bad.source, "/v/km07.mp4");
    bad.camera.km = NAN;
    ASSERT_EQ(ft_cluster_camera_put(a, &bad), FT_EINVAL);
    bad.camera.km = INFINITY;
    ASSERT_EQ(ft_cluster_camera_put(a, &bad), FT_EINVAL);
    bad.camera.km = 7;
    snprintf(bad.camera.id, sizeof bad.camera.id, "km 07");
    ASSERT_EQ(ft_cluster_camera_put(a, &bad), FT_EINVAL);
    bad.camera.id[0] = 0;
    ASSERT_EQ(ft_cluster_camera_put(a, &bad), FT_EINVAL);
    ASSERT_EQ(ft_cluster_camera_put(a, NULL), FT_EINVAL);

    /* ordered by km, then id ('-' 0x2d before '.' 0x2e) */
    static const char *order[4] = { "km02", "km05-a", "km05.b", "km10" };
    static const double kms[4] = { 2, 5, 5, 10 };
    static const char *sources[4] = { "rtsp://cam2/live", "/v/km05a.mp4", "/v/km05b.mp4",
                                      "/v/km10-v2.mp4" };
    ft_cluster_camera *cams = NULL;
    int n = 0;
    ASSERT_OK(ft_cluster_cameras(b, &cams, &n));
    ASSERT_EQ(n, 4);
    for (int i = 0; i < 4; i++) {
        ASSERT_STR_EQ(cams[i].camera.id, order[i]);
        ASSERT(cams[i].camera.km == kms[i]);
        ASSERT_STR_EQ(cams[i].source, sources[i]);
        char name[80];
        snprintf(name, sizeof name, "camera %s", order[i]);
        ASSERT_STR_EQ(cams[i].camera.name, name);
        ASSERT_EQ(cams[i].start_us, T0 + (int64_t)(kms[i] * 1000));
        ASSERT_EQ(cams[i].done, 0);
        ASSERT_STR_EQ(cams[i].holder, "");
    }
    ft_store_free(cams);

    /* two live ingest nodes: ceil(4 / 2) = 2 each, no overlap */
    ASSERT_OK(ft_cluster_heartbeat(a, "ingest"));
    ASSERT_OK(ft_cluster_heartbeat(b, "ingest"));
    char *ia = NULL, *ib = NULL;
    int na = 0, nb = 0;
    ASSERT_OK(ft_cluster_claim(a, &ia, &na));
    ASSERT_EQ(na, 2);
    ASSERT_OK(ft_cluster_claim(b, &ib, &nb));
    ASSERT_EQ(nb, 2);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(has_id(ia, na, order[i]) + has_id(ib, nb, order[i]), 1);
    /* claimed again: the same ones, renewed */
    char *again = NULL;
    int n_again = 0;
    ASSERT_OK(ft_cluster_claim(a, &again, &n_again));
    ASSERT_EQ(n_again, 2);
    for (int i = 0; i < 2; i++)
        ASSERT(has_id(ia, na, again + (size_t)i * FT_CAMERA_ID_MAX));
    ft_store_free(again);
    ASSERT_OK(ft_cluster_cameras(a, &cams, &n));
    ASSERT_EQ(n, 4);
    for (int i = 0; i < 4; i++)
        ASSERT_STR_EQ(cams[i].holder, has_id(ia, na, order[i]) ? "a" : "b");
    ft_store_free(cams);

    /* one of a's is done: let go, not taken again; a keeps its other one */
    char done_id[FT_CAMERA_ID_MAX], kept_id[FT_CAMERA_ID_MAX];
    snprintf(done_id, sizeof done_id, "%s", ia);
    snprintf(kept_id, sizeof kept_id, "%s", ia + FT_CAMERA_ID_MAX);
    ASSERT_OK(ft_cluster_camera_done(a, done_id));
    ASSERT_EQ(ft_cluster_camera_done(a, "km99"), FT_ENOTFOUND);
    ft_store_free(ia);
    ASSERT_OK(ft_cluster_claim(a, &ia, &na));
    ASSERT_EQ(na, 1);
    ASSERT_STR_EQ(ia, kept_id);
    ASSERT_OK(ft_cluster_cameras(a, &cams, &n));
    ASSERT_EQ(n, 4);
    int seen_done = 0;
    for (int i = 0; i < 4; i++) {
        ASSERT_STR_EQ(cams[i].camera.id, order[i]);
        if (!strcmp(cams[i].camera.id, done_id)) {
            seen_done = 1;
            ASSERT_EQ(cams[i].done, 1);
            ASSERT_STR_EQ(cams[i].holder, "");
        } else {
            ASSERT_EQ(cams[i].done, 0);
            ASSERT_STR_EQ(cams[i].holder, has_id(ia, na, order[i]) ? "a" : "b");
        }
    }
    ASSERT(seen_done);
    ft_store_free(cams);
    ft_store_free(ib);
    ASSERT_OK(ft_cluster_claim(b, &ib, &nb));
    ASSERT_EQ(nb, 2); /* b's share of 3 open cameras is still 2 */
    ASSERT(!has_id(ib, nb, done_id) && !has_id(ib, nb, kept_id));
    ft_store_free(ib);

    /* put again: not done any more, taken by the node with room (a) */
    double done_km = 0;
    for (int i = 0; i < 4; i++)
        if (!strcmp(order[i], done_id)) done_km = kms[i];
    put_cam(b, done_id, done_km, "/v/again.mp4");
    ft_store_free(ia);
    ASSERT_OK(ft_cluster_claim(a, &ia, &na));
    ASSERT_EQ(na, 2);
    ASSERT(has_id(ia, na, done_id) && has_id(ia, na, kept_id));
    ft_store_free(ia);

    ft_cluster_close(b);
    ft_cluster_close(a);
    finish();
}

/* A node that joins gets live cameras from a node over its share; videos
** stay where they are. */
static void test_rebalance(void)
{
    const double lease = 10.0;
    server_start(lease);
    ft_cluster *a = open_node("a", lease), *b = open_node("b", lease);
    static const char *live[3] = { "live1", "live2", "live3" };
    for (int i = 0; i < 3; i++) {
        ft_cluster_camera cam;
        memset(&cam, 0, sizeof cam);
        snprintf(cam.camera.id, sizeof cam.camera.id, "%s", live[i]);
        cam.camera.km = i + 1;
        snprintf(cam.source, sizeof cam.source, "rtsp://cam%d/live", i + 1);
        cam.live = 1;
        ASSERT_OK(ft_cluster_camera_put(a, &cam));
    }
    put_cam(a, "video1", 10, "/v/video1.mp4");
    /* a alone: all four */
    ASSERT_OK(ft_cluster_heartbeat(a, "ingest"));
    char *ia = NULL, *ib = NULL;
    int na = 0, nb = 0;
    ASSERT_OK(ft_cluster_claim(a, &ia, &na));
    ASSERT_EQ(na, 4);
    ft_store_free(ia);
    /* b joins: a's share is ceil(4 / 2) = 2: two live cameras go back, the
       last ones (live3, live2); the video stays */
    ASSERT_OK(ft_cluster_heartbeat(b, "ingest"));
    ASSERT_OK(ft_cluster_claim(a, &ia, &na));
    ASSERT_EQ(na, 2);
    ASSERT(has_id(ia, na, "live1") && has_id(ia, na, "video1"));
    ASSERT_OK(ft_cluster_claim(b, &ib, &nb));
    ASSERT_EQ(nb, 2);
    ASSERT(has_id(ib, nb, "live2") && has_id(ib, nb, "live3"));
    ft_store_free(ia);
    ft_store_free(ib);
    /* stable: claimed again, nothing moves */
    ASSERT_OK(ft_cluster_claim(a, &ia, &na));
    ASSERT_OK(ft_cluster_claim(b, &ib, &nb));
    ASSERT_EQ(na, 2);
    ASSERT_EQ(nb, 2);
    ASSERT(has_id(ia, na, "live1") && has_id(ib, nb, "live3"));
    ft_store_free(ia);
    ft_store_free(ib);
    ft_cluster_close(b);
    ft_cluster_close(a);
    finish();
}

static void test_nodes(void)
{
    server_start(LEASE_S);
    ft_cluster *a = open_node("a", LEASE_S), *b = open_node("b", LEASE_S),
               *c = open_node("c", LEASE_S);
    ASSERT_OK(ft_cluster_heartbeat(b, "ingest"));
    ASSERT_OK(ft_cluster_heartbeat(a, "ingest"));
    ASSERT_OK(ft_cluster_heartbeat(c, "search"));
    ASSERT_OK(ft_cluster_heartbeat(a, "ingest")); /* again: still one entry */
    ASSERT_EQ(ft_cluster_heartbeat(a, "in.gest"), FT_EINVAL);
    char *names = NULL;
    int n = 0;
    ASSERT_OK(ft_cluster_nodes(a, "ingest", &names, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(names, "a");
    ASSERT_STR_EQ(names + FT_CLUSTER_NODE_MAX, "b");
    ft_store_free(names);
    ASSERT_OK(ft_cluster_nodes(b, "search", &names, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(names, "c");
    ft_store_free(names);
    ASSERT_OK(ft_cluster_nodes(b, "ingestx", &names, &n));
    ASSERT_EQ(n, 0);
    ft_store_free(names);
    ASSERT_OK(ft_cluster_nodes(b, NULL, &names, &n));
    ASSERT_EQ(n, 3);
    ASSERT_STR_EQ(names, "a");
    ASSERT_STR_EQ(names + FT_CLUSTER_NODE_MAX, "b");
    ASSERT_STR_EQ(names + 2 * FT_CLUSTER_NODE_MAX, "c");
    ft_store_free(names);

    /* no heartbeats for longer than the lease: nobody */
    sleep_s(LEASE_S + 1.0);
    ASSERT_OK(ft_cluster_nodes(a, "ingest", &names, &n));
    ASSERT_EQ(n, 0);
    ft_store_free(names);
    ASSERT_OK(ft_cluster_nodes(a, NULL, &names, &n));
    ASSERT_EQ(n, 0);
    ft_store_free(names);
    ASSERT_OK(ft_cluster_heartbeat(b, "ingest")); /* back */
    ASSERT_OK(ft_cluster_nodes(a, "ingest", &names, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(names, "b");
    ft_store_free(names);

    ft_cluster_close(c);
    ft_cluster_close(b);
    ft_cluster_close(a);
    finish();
}

/* ------------------------------------------------------------------------ */
/* The watchlist                                                            */
/* ------------------------------------------------------------------------ */

/* Descriptor values whose float bits need 9 significant digits, plus
** FLT_MIN, a subnormal and -0.0 (seed picks the sequence). */
static void make_watch(ft_watch *w, const char *name, int n_desc, uint32_t seed)
{
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    snprintf(w->reason, sizeof w->reason, "case %u", seed);
    snprintf(w->webhook, sizeof w->webhook, "http://127.0.0.1:9/hook");
    w->expires_us = seed % 2 ? 0 : T0 + 86400000000LL;
    w->n_desc = n_desc;
    uint32_t x = seed * 2654435761u + 1;
    for (int i = 0; i < n_desc; i++)
        for (int k = 0; k < FT_DESCRIPTOR_DIM; k++) {
            x = x * 1664525u + 1013904223u;
            w->desc[i][k] = (float)((int32_t)x) / 2147483648.0f;
        }
    w->desc[0][0] = FLT_MIN;
    w->desc[0][1] = 1.401298464e-45f; /* the smallest subnormal */
    w->desc[0][2] = -0.0f;
    w->desc[0][3] = 0.1f;
}

static void assert_watch_eq(const ft_watch *got, const ft_watch *want)
{
    ASSERT_EQ(got->id, want->id);
    ASSERT_STR_EQ(got->name, want->name);
    ASSERT_STR_EQ(got->reason, want->reason);
    ASSERT_STR_EQ(got->webhook, want->webhook);
    ASSERT_EQ(got->created_us, want->created_us);
    ASSERT_EQ(got->expires_us, want->expires_us);
    ASSERT_EQ(got->n_desc, want->n_desc);
    for (int i = 0; i < want->n_desc; i++)
        for (int k = 0; k < FT_DESCRIPTOR_DIM; k++) {
            uint32_t g, w;
            memcpy(&g, &got->desc[i][k], 4);
            memcpy(&w, &want->desc[i][k], 4);
            if (g != w)
                ft_test_fail(__FILE__, __LINE__, "entry %lld desc[%d][%d]: %08x vs %08x",
                             (long long)want->id, i, k, g, w);
        }
}

static void test_watch_cluster(void)
{
    server_start(LEASE_S);
    ft_cluster *a = open_node("a", LEASE_S), *b = open_node("b", LEASE_S);
    static ft_watch w1, w2, w3;
    make_watch(&w1, "Jane Doe", 3, 1);
    make_watch(&w2, "John Roe", 1, 2);
    ASSERT_OK(ft_cluster_watch_add(a, &w1));
    ASSERT_OK(ft_cluster_watch_add(a, &w2));
    ASSERT_EQ(w1.id, 1);
    ASSERT_EQ(w2.id, 2);
    ASSERT(w1.created_us > 1700000000000000LL && w2.created_us >= w1.created_us); /* now */
    /* refused: no name, no descriptor, a NaN */
    make_watch(&w3, "", 1, 3);
    ASSERT_EQ(ft_cluster_watch_add(a, &w3), FT_EINVAL);
    make_watch(&w3, "x", 0, 3);
    ASSERT_EQ(ft_cluster_watch_add(a, &w3), FT_EINVAL);
    make_watch(&w3, "x", 1, 3);
    w3.desc[0][100] = NAN;
    ASSERT_EQ(ft_cluster_watch_add(a, &w3), FT_EINVAL);
    ASSERT_STR_CONTAINS(ft_cluster_errmsg(a), "not finite");

    ft_store *s = new_store("s.ftdb");
    int changed = -1;
    ASSERT_OK(ft_cluster_watch_sync(b, s, &changed));
    ASSERT_EQ(changed, 2);
    ft_watch *list = NULL;
    int n = 0;
    ASSERT_OK(ft_store_watch_list(s, 0, &list, &n));
    ASSERT_EQ(n, 2);
    assert_watch_eq(&list[0], &w1);
    assert_watch_eq(&list[1], &w2);
    ft_store_free(list);
    ASSERT_OK(ft_cluster_watch_sync(b, s, &changed));
    ASSERT_EQ(changed, 0);

    /* the counter is the cluster's: b's next id is 3 */
    make_watch(&w3, "Max Moe", 2, 3);
    ASSERT_OK(ft_cluster_watch_add(b, &w3));
    ASSERT_EQ(w3.id, 3);
    ASSERT_OK(ft_cluster_watch_remove(a, 1));
    ASSERT_OK(ft_cluster_watch_sync(a, s, &changed));
    ASSERT_EQ(changed, 2); /* entry 3 put, entry 1 removed */
    ASSERT_OK(ft_store_watch_list(s, 0, &list, &n));
    ASSERT_EQ(n, 2);
    assert_watch_eq(&list[0], &w2);
    assert_watch_eq(&list[1], &w3);
    ft_store_free(list);
    ASSERT_OK(ft_cluster_watch_remove(b, 3));
    ASSERT_OK(ft_cluster_watch_sync(a, s, &changed));
    ASSERT_EQ(changed, 1);
    ASSERT_OK(ft_store_watch_list(s, 0, &list, &n));
    ASSERT_EQ(n, 1);
    assert_watch_eq(&list[0], &w2);
    ft_store_free(list);
    ASSERT_OK(ft_cluster_watch_sync(a, s, &changed));
    ASSERT_EQ(changed, 0);
    ASSERT_EQ(ft_cluster_watch_remove(a, 99), FT_ENOTFOUND);
    ASSERT_EQ(ft_cluster_watch_remove(a, 1), FT_ENOTFOUND); /* removed already */

    /* other keys of the shared state are not watchlist entries */
    ASSERT_OK(ft_cluster_state_put(a, "watch.junk", "not json", NULL));
    ASSERT_OK(ft_cluster_state_put(a, "tokens", "{}", NULL));
    char *val = NULL;
    uint64_t rev = 0;
    ASSERT_OK(ft_cluster_state_get(b, "tokens", &val, &rev));
    ASSERT_STR_EQ(val, "{}");
    ASSERT(rev > 0);
    ft_store_free(val);
    ASSERT_EQ(ft_cluster_state_get(b, "nothing", &val, &rev), FT_ENOTFOUND);
    ASSERT_OK(ft_cluster_watch_sync(a, s, &changed));
    ASSERT_EQ(changed, 0);

    /* a store's own entry the cluster never had goes */
    ft_store *s2 = new_store("s2.ftdb");
    make_watch(&w3, "local", 1, 4);
    ASSERT_OK(ft_store_watch_add(s2, &w3));
    ASSERT_EQ(w3.id, 1);
    ASSERT_OK(ft_cluster_watch_sync(b, s2, &changed));
    ASSERT_EQ(changed, 2); /* entry 2 put, its own entry 1 removed */
    ASSERT_OK(ft_store_watch_list(s2, 0, &list, &n));
    ASSERT_EQ(n, 1);
    assert_watch_eq(&list[0], &w2);
    ft_store_free(list);

    ft_store_close(s2);
    ft_store_close(s);
    ft_cluster_close(b);
    ft_cluster_close(a);
    finish();
}

/* ft_store_watch_put on its own: needs no server */
static void test_watch_put(void)
{
    snprintf(srv.dir, sizeof srv.dir, "/tmp/ft_test_cluster_XXXXXX");
    ASSERT(mkdtemp(srv.dir) != NULL);
    atexit(server_stop);
    ft_store *st = new_store("w.ftdb");
    static ft_watch w, x;
    make_watch(&w, "Jane Doe", 2, 5);
    w.id = 7;
    w.created_us = T0 + 123;
    ASSERT_OK(ft_store_watch_put(st, &w));
    ft_watch *list = NULL;
    int n = 0;
    ASSERT_OK(ft_store_watch_list(st, 0, &list, &n));
    ASSERT_EQ(n, 1);
    assert_watch_eq(&list[0], &w); /* created_us kept as given */
    ft_store_free(list);

    /* add never hands out an id at or below a put one, even once the put
    ** entry is gone */
    ft_store *st2 = new_store("w2.ftdb");
    ASSERT_OK(ft_store_watch_put(st2, &w));
    ASSERT_OK(ft_store_watch_remove(st2, 7));
    make_watch(&x, "John Roe", 1, 6);
    ASSERT_OK(ft_store_watch_add(st2, &x));
    ASSERT_EQ(x.id, 8);
    ft_store_close(st2);
    ASSERT_OK(ft_store_watch_add(st, &x));
    ASSERT_EQ(x.id, 8);

    /* a dismissal, then a new text of entry 7: replaced, dismissal kept */
    ASSERT_OK(ft_store_watch_dismiss(st, 7, 42));
    ASSERT_EQ(ft_store_watch_dismissed(st, 7, 42), 1);
    make_watch(&w, "Jane Q. Doe", 1, 7);
    w.id = 7;
    w.created_us = T0 + 456;
    ASSERT_OK(ft_store_watch_put(st, &w));
    ASSERT_OK(ft_store_watch_list(st, 0, &list, &n));
    ASSERT_EQ(n, 2);
    assert_watch_eq(&list[0], &w);
    ASSERT_STR_EQ(list[0].name, "Jane Q. Doe");
    assert_watch_eq(&list[1], &x);
    ft_store_free(list);
    ASSERT_EQ(ft_store_watch_dismissed(st, 7, 42), 1);
    ASSERT_EQ(ft_store_watch_dismissed(st, 7, 43), 0);

    /* a put below the last id does not lower it */
    make_watch(&w, "Low", 1, 8);
    w.id = 3;
    ASSERT_OK(ft_store_watch_put(st, &w));
    make_watch(&x, "Next", 1, 9);
    ASSERT_OK(ft_store_watch_add(st, &x));
    ASSERT_EQ(x.id, 9);
    /* removed then added: the id is not reused */
    ASSERT_OK(ft_store_watch_remove(st, 9));
    ASSERT_OK(ft_store_watch_add(st, &x));
    ASSERT_EQ(x.id, 10);

    /* refused */
    make_watch(&w, "Bad", 1, 10);
    w.id = 0;
    ASSERT_EQ(ft_store_watch_put(st, &w), FT_EINVAL);
    w.id = -4;
    ASSERT_EQ(ft_store_watch_put(st, &w), FT_EINVAL);
    w.id = 20;
    w.created_us = -1;
    ASSERT_EQ(ft_store_watch_put(st, &w), FT_EINVAL);
    w.created_us = 0;
    w.n_desc = 0;
    ASSERT_EQ(ft_store_watch_put(st, &w), FT_EINVAL);
    w.n_desc = 1;
    w.name[0] = 0;
    ASSERT_EQ(ft_store_watch_put(st, &w), FT_EINVAL);
    snprintf(w.name, sizeof w.name, "Bad");
    w.desc[0][9] = INFINITY;
    ASSERT_EQ(ft_store_watch_put(st, &w), FT_EINVAL);
    ASSERT_OK(ft_store_watch_list(st, 0, &list, &n));
    ASSERT_EQ(n, 4); /* 3, 7, 8, 10 */
    ASSERT_EQ(list[0].id, 3);
    ASSERT_EQ(list[1].id, 7);
    ASSERT_EQ(list[2].id, 8);
    ASSERT_EQ(list[3].id, 10);
    ft_store_free(list);
    ft_store_close(st);
    server_stop();
}

FT_TESTS(FT_TEST(test_open_refused), FT_TEST(test_publish_consume), FT_TEST(test_shard_filter),
         FT_TEST(test_holds), FT_TEST(test_claim), FT_TEST(test_rebalance), FT_TEST(test_nodes),
         FT_TEST(test_watch_cluster), FT_TEST(test_watch_put));
