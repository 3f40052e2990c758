/*
** fuzz/http.c: fuzz target for the server's request handling (`facetrail
** serve`, tools/cmd_serve.c): libmicrohttpd's parsing of the request line,
** headers and body (chunked or not), the multipart forms
** (MHD_PostProcessor and the server's part collector on_form), the JSON
** bodies (cameras, watchlist dismiss and accept, purge), the route table,
** the tokens and roles, and every route's handling of what it is sent.
**
** DESIGN
**   The input is one raw HTTP connection's bytes: request line, headers,
**   body, possibly more requests after it. The target includes the server's
**   source (so that its static functions are reachable; tools/cli.c and
**   tools/ui.c are linked) with FT_FUZZ, a 1-megapixel MAX_PIXELS and
**   KEEPALIVE_S 0: an event stream (GET /api/v1/alerts) then ends after
**   its first wait instead of never.
**   Once, on the first input, it sets up what cmd_serve() sets up: an event
**   database made with the store API in this process's scratch folder under
**   /dev/shm (a camera, two sightings, one with a thumbnail, a watchlist
**   entry), the server's store handles, calibration and watcher, an early
**   alert with a thumbnail in the ring (GET /api/v1/alerts/0/thumbnail),
**   four tokens (one per role) and a libmicrohttpd daemon with a thread per
**   connection and the server's own limits, but no listen socket. No
**   models are loaded: the one engine slot is NULL, so that a search, a
**   selfie or a watchlist photo is decoded, then refused by ft_query_face
**   (FT_EINVAL: 422 or 500) after the form, the fields and the photo were
**   read; detection is not under test here, and the target does not
**   depend on models/. A live camera's thread (POST /api/v1/cameras with a
**   url) is refused its engine (engine parameters with 0 threads) and ends
**   before it opens its URL.
**   Per input: a socketpair, one end handed to the daemon
**   (MHD_add_connection), the input written into the other, shutdown for
**   writing, the answer read until the server closes; then the target
**   waits until the daemon holds no connection, so that the next input
**   starts from a quiet server. Inputs that name "Authorization" run with
**   the tokens (a missing or wrong token: 401; a role without the route:
**   403); the others run as the server without --tokens (every route,
**   loopback). The selfie budget is cleared for every input.
**   The database is written by the requests (the audit log, cameras,
**   dismissals, purges). It is put back (the handles closed, the first
**   copy of the file copied over, live cameras stopped, the ring reset)
**   after an input that names "purge" and every RESET_EVERY inputs, so
**   that it stays small and the sightings are there to be read.
**   Nothing is written outside the scratch folder: SQLite's temporary
**   files go there too (SQLITE_TMPDIR), there are no webhooks (no entry
**   can be added without models) and no listen socket.
**
** INVARIANTS  (1) a request that the server refuses is not a failure: only
**                 a crash, a sanitizer report, a leak or a connection that
**                 does not end within ANSWER_S is (the last aborts).
**             (2) the server answers every input on its own connection and
**                 is idle again when the target returns.
*/
#define FT_FUZZ     1
#define MAX_PIXELS  (1u << 20)
#define KEEPALIVE_S 0
#include "../tools/cmd_serve.c"

#include "fuzz.h"

#include <fcntl.h>
#include <poll.h>

#define ANSWER_S    5   /* the most one connection may take */
#define RESET_EVERY 256 /* inputs between two resets of the database */

static const struct {
    const char *token, *role, *name;
} fz_tokens[] = {
    { "fuzz-token-admin", "admin", "fuzz admin" },
    { "fuzz-token-operator", "operator", "fuzz operator" },
    { "fuzz-token-runner", "runner", "fuzz runner" },
    { "fuzz-token-viewer", "viewer", "fuzz viewer" },
};
#define FZ_N_TOKENS ((int)(sizeof fz_tokens / sizeof fz_tokens[0]))

static server fz_sv;
static struct MHD_Daemon *fz_d;
static char fz_db[320], fz_first[320];
static int fz_state; /* 0: not set up, 1: ready, -1: setup failed (every input skipped) */
static unsigned long fz_inputs;

static void fz_fail(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz http: %s: %s\n", what, msg ? msg : "");
}

/* A w x h image with a fixed pattern (as fuzz/make_seeds.c's). */
static ft_image *fz_pattern(int w, int h)
{
    ft_image *img;
    if (ft_image_create(w, h, &img) != FT_OK) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / w), p[1] = (uint8_t)(y * 255 / h);
            p[2] = (uint8_t)((x + y) * 8);
        }
    return img;
}

static unsigned char *fz_thumb(size_t *n)
{
    ft_image *img = fz_pattern(8, 8);
    unsigned char *jpg = NULL;
    char err[256];
    *n = 0;
    if (!img || ft_image_encode_jpeg(img, 30, &jpg, n, err, sizeof err) != FT_OK) jpg = NULL;
    ft_image_destroy(img);
    return jpg;
}

/* The event database at path: a camera, two sightings (the first with a
** thumbnail), a watchlist entry. 0, else -1. */
static int fz_make_db(const char *path)
{
    ft_store *st = NULL;
    if (ft_store_open(path, FT_STORE_CREATE, &st) != FT_OK) {
        fz_fail(path, ft_store_errmsg(NULL));
        return -1;
    }
    ft_camera c = { .id = "km05", .name = "bridge", .km = 5.0 };
    int rc = ft_store_camera_add(st, &c);
    rc = rc ? rc : ft_store_meta_set(st, "time_zone", "Europe/Paris");
    int64_t ing = 0, resume = 0;
    rc =
        rc ? rc : ft_store_ingest_begin(st, c.id, "km05.mp4", 1775980800000000, 5.0, &ing, &resume);
    static ft_sighting s[2];
    size_t n_jpg = 0;
    unsigned char *jpg = fz_thumb(&n_jpg);
    for (int i = 0; i < 2; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].ingest_id = ing;
        snprintf(s[i].camera_id, sizeof s[i].camera_id, "%s", c.id);
        s[i].track_key = i + 1;
        s[i].first_us = 1775980800000000 + i * 1000000;
        s[i].best_us = s[i].first_us + 200000;
        s[i].last_us = s[i].first_us + 400000;
        s[i].box[0] = 4, s[i].box[1] = 5, s[i].box[2] = 20, s[i].box[3] = 24;
        s[i].face_px = 24, s[i].det_score = 0.9f, s[i].quality = 0.5f, s[i].n_frames = 3;
        s[i].thumbnail = i == 0 ? jpg : NULL;
        s[i].thumbnail_len = i == 0 ? n_jpg : 0;
        s[i].n_desc = 1;
        for (int k = 0; k < FT_DESCRIPTOR_DIM; k++)
            s[i].desc[0][k] = (float)((k * 7 + i) % 11) / 16.0f - 0.3f;
        s[i].desc_quality[0] = 0.5f;
    }
    rc = rc ? rc : ft_store_ingest_commit(st, ing, s, 2, 1400000, 14, 2);
    rc = rc ? rc : ft_store_ingest_finish(st, ing, FT_INGEST_DONE, NULL);
    static ft_watch w;
    memset(&w, 0, sizeof w);
    snprintf(w.name, sizeof w.name, "runner 12");
    snprintf(w.reason, sizeof w.reason, "case 1: lost");
    w.n_desc = 1;
    memcpy(w.desc[0], s[0].desc[0], sizeof w.desc[0]);
    rc = rc ? rc : ft_store_watch_add(st, &w);
    if (rc != FT_OK) fz_fail(path, ft_store_errmsg(st));
    ft_store_free(jpg);
    ft_store_close(st);
    return rc == FT_OK ? 0 : -1;
}

static int fz_copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int bad = !in || !out;
    while (!bad && (n = fread(buf, 1, sizeof buf, in)) > 0)
        bad = fwrite(buf, 1, n, out) != n;
    if (in) bad |= ferror(in), fclose(in);
    if (out) bad |= fclose(out) != 0;
    return bad ? -1 : 0;
}

static void fz_unlink_db(const char *path)
{
    char p[340];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-journal", path);
    unlink(p);
}

/* The server's handles on a fresh copy of the database; 0, else -1. */
static int fz_open(server *sv)
{
    fz_unlink_db(fz_db);
    if (fz_copy(fz_first, fz_db) != 0) return fz_fail(fz_db, "cannot copy"), -1;
    if (ft_store_open(fz_db, 0, &sv->st_w) != FT_OK ||
        ft_store_open(fz_db, FT_STORE_READONLY, &sv->st) != FT_OK ||
        ft_store_open(fz_db, FT_STORE_READONLY, &sv->st_thumb) != FT_OK) {
        fz_fail(fz_db, ft_store_errmsg(NULL));
        return -1;
    }
    return 0;
}

/* An early alert with a thumbnail in the ring's slot 0, as publish() keeps
** one that a live camera's track raised (publish itself would print it). */
static void fz_alert(server *sv)
{
    struct alert_slot *slot = &sv->ring[0];
    snprintf(slot->event, sizeof slot->event, "alert");
    snprintf(slot->json, sizeof slot->json,
             "{\"watch_id\":1,\"name\":\"runner 12\",\"camera\":\"km05\",\"early\":true,"
             "\"thumbnail\":\"/api/v1/alerts/0/thumbnail\"}");
    size_t n = 0;
    unsigned char *jpg = fz_thumb(&n);
    free(slot->thumb);
    slot->thumb = jpg ? malloc(n) : NULL;
    if (slot->thumb) memcpy(slot->thumb, jpg, n);
    slot->thumb_len = slot->thumb ? n : 0;
    ft_store_free(jpg);
    sv->next_seq = 1;
}

/* Stops the live cameras and closes the database's handles and the searcher. */
static void fz_close(server *sv)
{
    pthread_mutex_lock(&sv->lock_live);
    for (int i = 0; i < MAX_LIVE; i++)
        live_stop_slot(sv, i);
    pthread_mutex_unlock(&sv->lock_live);
    ft_searcher_close(sv->s);
    sv->s = NULL;
    sv->loaded_sightings = sv->loaded_descriptors = 0;
    ft_store_close(sv->st_w);
    ft_store_close(sv->st);
    ft_store_close(sv->st_thumb);
    sv->st_w = sv->st = sv->st_thumb = NULL;
    for (int i = 0; i < ALERT_RING; i++) {
        free(sv->ring[i].thumb);
        sv->ring[i].thumb = NULL, sv->ring[i].thumb_len = 0;
    }
    sv->next_seq = 0;
}

/* The database as it was at setup. 0, else -1. */
static int fz_reset(server *sv)
{
    fz_close(sv);
    if (fz_open(sv) != 0) return -1;
    fz_alert(sv);
    sv->watch_gen++;
    return 0;
}

static void fz_teardown(void)
{
    if (fz_d) MHD_stop_daemon(fz_d);
    fz_d = NULL;
    server *sv = &fz_sv;
    fz_close(sv);
    ft_watcher_destroy(sv->watcher);
    sv->watcher = NULL;
    fz_unlink_db(fz_db);
    fz_unlink_db(fz_first);
}

/* What cmd_serve() sets up (but no models, no alert or webhook thread, no
** listen socket). 0, else -1. */
static int fz_setup(void)
{
    const char *dir = ft_fuzz_dir();
    if (!*dir) return fz_fail("scratch folder", strerror(errno)), -1;
    setenv("SQLITE_TMPDIR", dir, 1);
    snprintf(fz_db, sizeof fz_db, "%s/event.ftdb", dir);
    snprintf(fz_first, sizeof fz_first, "%s/first.ftdb", dir);
    atexit(fz_teardown); /* before the folder's removal (atexit: last in, first out) */
    fz_unlink_db(fz_first);
    if (fz_make_db(fz_first) != 0) return -1;

    /* the live cameras' threads are stopped with SIGUSR1 (live_stop_slot) */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_wake;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    server *sv = &fz_sv;
    memset(sv, 0, sizeof *sv);
    sv->db = fz_db;
    sv->selfies_per_hour = SELFIE_PER_HOUR;
    for (int i = 0; i < FZ_N_TOKENS; i++) {
        token *t = &sv->tokens[i];
        snprintf(t->role, sizeof t->role, "%s", fz_tokens[i].role);
        snprintf(t->name, sizeof t->name, "%s", fz_tokens[i].name);
        t->slot = i;
        if (ft_sha256_hex(fz_tokens[i].token, strlen(fz_tokens[i].token), t->hash) != FT_OK)
            return fz_fail("sha256", ""), -1;
    }
    pthread_mutex_init(&sv->lock, NULL);
    pthread_rwlock_init(&sv->s_lock, NULL);
    pthread_rwlock_init(&sv->lock_tokens, NULL);
    pthread_mutex_init(&sv->lock_thumb, NULL);
    pthread_mutex_init(&sv->lock_w, NULL);
    pthread_mutex_init(&sv->lock_live, NULL);
    pthread_mutex_init(&sv->lock_hooks, NULL);
    pthread_cond_init(&sv->new_hook, NULL);
    pthread_mutex_init(&sv->lock_alerts, NULL);
    pthread_mutex_init(&sv->lock_rate, NULL);
    pthread_cond_init(&sv->new_alert, NULL);
    /* a live camera's engine: refused (0 threads), so that its thread ends before it
    ** opens its URL (ft_engine_open loads no model, and would not fail on a folder) */
    sv->ep = ft_engine_default_params();
    sv->ep.model_dir = dir;
    sv->ep.n_threads = 0;
    if (fz_open(sv) != 0) return -1;
    char err[512];
    sv->qp = ft_query_default_params();
    if (ft_query_params_for_store(sv->st, &sv->qp, &sv->cal, NULL, 0, err, sizeof err) != FT_OK)
        return fz_fail("calibration", err), -1;
    if (ft_watcher_create(sv->cal, FT_SEARCH_MAX_FALSE, &sv->watcher) != FT_OK)
        return fz_fail("watcher", "out of memory"), -1;
    pthread_mutex_init(&sv->eng_lock[0], NULL);
    pthread_mutex_init(&sv->lock_pool, NULL);
    pthread_cond_init(&sv->pool_free, NULL);
    sv->engs[0] = NULL; /* no models: searches stop at ft_query_face */
    sv->n_engs = 1;
    fz_alert(sv);
    /* cmd_serve()'s daemon, without its listen socket and its error log */
    fz_d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC,
                            0, NULL, NULL, answer, sv, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)ANSWER_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)(256 * 1024), MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                            MHD_OPTION_END);
    if (!fz_d) return fz_fail("MHD_start_daemon", "failed"), -1;
    return 0;
}

/* Whether data holds word, ignoring ASCII case. */
static int fz_has(const uint8_t *data, size_t size, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; i + n <= size; i++) {
        size_t k = 0;
        while (k < n && (data[i + k] | 0x20) == word[k])
            k++;
        if (k == n) return 1;
    }
    return 0;
}

static double fz_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* FT_FUZZ_HTTP_TRACE=1 in the environment: each answer's status line and
** JSON body (first 300 bytes) to stderr, to see what the seeds reach. */
static void fz_trace(const char *buf, size_t n)
{
    static int on = -1;
    if (on < 0) on = getenv("FT_FUZZ_HTTP_TRACE") != NULL;
    if (!on || n == 0) return;
    const char *eol = memchr(buf, '\r', n), *body = NULL;
    for (size_t i = 0; i + 4 <= n && !body; i++)
        if (!memcmp(buf + i, "\r\n\r\n", 4)) body = buf + i + 4;
    size_t nb = body ? n - (size_t)(body - buf) : 0;
    fprintf(stderr, "  %.*s  %.*s\n", (int)(eol ? eol - buf : (ptrdiff_t)(n < 60 ? n : 60)), buf,
            (int)(nb < 300 ? nb : 300), body && nb && (*body == '{' || *body == '[') ? body : "");
}

/* Writes data into fd (then shuts it for writing) while reading the
** answer, until the server closes; 0, or -1 after ANSWER_S. */
static int fz_exchange(int fd, const uint8_t *data, size_t size)
{
    static char buf[65536];
    size_t got = 0;
    size_t off = 0;
    int writing = 1;
    if (size == 0) shutdown(fd, SHUT_WR), writing = 0;
    double until = fz_now() + ANSWER_S;
    for (;;) {
        double left = until - fz_now();
        if (left <= 0) return -1;
        struct pollfd p = { fd, (short)(POLLIN | (writing ? POLLOUT : 0)), 0 };
        if (poll(&p, 1, (int)(left * 1000) + 1) < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (writing && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) off += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || off == size) {
                shutdown(fd, SHUT_WR);
                writing = 0;
            }
        }
        if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
            static char rest[65536]; /* past the first 64 KB: read, not kept */
            ssize_t r = got < sizeof buf ? recv(fd, buf + got, sizeof buf - got, MSG_DONTWAIT)
                                         : recv(fd, rest, sizeof rest, MSG_DONTWAIT);
            if (r > 0 && got < sizeof buf) got += (size_t)r;
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                fz_trace(buf, got);
                return 0;
            }
        }
    }
}

/* Waits until the daemon holds no connection (the last one's thread is
** done with it); 0, or -1 after ANSWER_S. */
static int fz_idle(void)
{
    double until = fz_now() + ANSWER_S;
    for (;;) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(fz_d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!info || info->num_connections == 0) return 0;
        if (fz_now() > until) return -1;
        struct timespec ts = { 0, 20000 };
        nanosleep(&ts, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fz_state == 0) fz_state = fz_setup() == 0 ? 1 : -1;
    if (fz_state < 0) return 0;
    server *sv = &fz_sv;
    sv->n_tokens = fz_has(data, size, "authorization") ? FZ_N_TOKENS : 0;
    pthread_mutex_lock(&sv->lock_rate);
    memset(sv->selfie_at, 0, sizeof sv->selfie_at);
    pthread_mutex_unlock(&sv->lock_rate);
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return 0;
    struct sockaddr_in peer;
    memset(&peer, 0, sizeof peer);
    peer.sin_family = AF_INET;
    peer.sin_port = htons(40000);
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (MHD_add_connection(fz_d, fds[1], (struct sockaddr *)&peer, sizeof peer) != MHD_YES) {
        close(fds[0]); /* fds[1] is closed by MHD either way */
        return 0;
    }
    int rc = fz_exchange(fds[0], data, size);
    close(fds[0]);
    if (rc != 0 || fz_idle() != 0) {
        fprintf(stderr, "fuzz http: the server did not answer and close within %d s\n", ANSWER_S);
        abort();
    }
    if (fz_has(data, size, "purge") || ++fz_inputs % RESET_EVERY == 0) {
        if (fz_reset(sv) != 0) fz_state = -1;
    }
    return 0;
}
