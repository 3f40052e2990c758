/*
** tools/cmd_cluster.c: `facetrail cluster`, an event on several machines
** over NATS JetStream (facetrail/cluster.h).
**
**   cluster camera add   a camera of the cluster (KV ft_cameras)
**   cluster status       nodes, cameras and who ingests them, the stream
**   cluster ingest       an ingest node: ingests the cameras it holds into
**                        its local store and publishes every sighting
**
** The search nodes are `facetrail serve --nats` (tools/cmd_serve.c).
**
** THE INGEST NODE
**   Threads: the main thread heartbeats and claims cameras every lease/4 s
**   (ft_cluster_claim) and starts or stops one worker per camera held; each
**   worker runs ft_ingest_run with its own engine and store handle; the
**   publisher thread moves sightings from the local store to the stream
**   (ft_cluster_publish) every 100 ms. Each thread has its own ft_cluster.
**   A file ingested to its end is marked done in the cluster; a worker that
**   fails is retried after RETRY_S; a camera whose hold is lost (the node
**   was cut off for longer than the lease) is stopped at once: another node
**   has it by then. On SIGINT/SIGTERM the workers stop (what they finished
**   is committed), the publisher empties the backlog it can and the node
**   exits: a restart resumes from the local store.
*/
#include "cli.h"

#include "facetrail/cluster.h"
#include "facetrail/ingest.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define RETRY_S     5.0

const char cluster_usage[] =
    "usage: facetrail cluster camera add --nats URLS --id ID --km KM [--name TEXT]\n"
    "                                    (--video FILE --start TIME | --url URL)\n"
    "       facetrail cluster status --nats URLS [--json]\n"
    "       facetrail cluster ingest --nats URLS --node NAME --db DB [options]\n"
    "       facetrail cluster tokens --nats URLS --file FILE\n"
    "       facetrail cluster retention --nats URLS --keep-days N\n"
    "       facetrail cluster purge --nats URLS --yes\n"
    "\n"
    "An event on several machines: NATS JetStream (nats-server, three of them for\n"
    "a cluster that survives the loss of one) holds the cameras, who ingests\n"
    "them, and every sighting, replicated. Ingest nodes ('cluster ingest') take\n"
    "the cameras between them, ingest each into their own DB and publish every\n"
    "sighting; search nodes ('facetrail serve --nats') keep a copy of them all\n"
    "and answer the API. When an ingest node goes, its cameras move to the\n"
    "others within the lease (5 s). See docs/CLUSTER.md.\n"
    "\n"
    "camera add: the camera's place and what it ingests: a recorded --video with\n"
    "the wall-clock --start of its first frame, or a live --url.\n"
    "status: the live nodes, each camera with its holder, and the stream.\n"
    "ingest: runs until Ctrl-C or SIGTERM.\n"
    "tokens: the search nodes' tokens (a file of hashed lines, as `facetrail token\n"
    "add` writes): nodes started without --tokens use them, and take changes\n"
    "within 5 s (a removed token stops working).\n"
    "retention: N days after the event's end, every node purges its database\n"
    "(search nodes with an audit record) and the stream is emptied.\n"
    "purge: empties the stream now (the nodes' databases are not touched).\n"
    "\n"
    "options:\n"
    "  --nats URLS           NATS servers, comma-separated (nats://127.0.0.1:4222,...)\n"
    "  --node NAME           this node's name, unique in the cluster (A-Z a-z 0-9 _ -);\n"
    "                        the same name after a restart resumes its work\n"
    "  --db DB               ingest: the node's local database (created if missing)\n"
    "  --replicas N          copies of the stream and buckets when this call creates\n"
    "                        them (default 3; 1 for a single NATS server)\n"
    "  --lease S             a node silent this long has gone (default 5)\n"
    "  --fps N               ingest: frames looked at per second of video (default 5)\n"
    "  --models DIR          model folder (default $FT_MODEL_DIR, else " DEFAULT_MODEL_DIR ")\n"
    "  --json                status: one JSON object\n"
    "  --file FILE           tokens: the tokens file\n"
    "  --keep-days N         retention: days to keep the event's data after its end\n"
    "  --yes                 purge: do it\n"
    "  -h, --help            this text\n"
    "\n"
    "exit status: 0 done, 2 error\n";

static atomic_int g_stop;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&g_stop, 1);
}

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec t = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
    nanosleep(&t, NULL);
}

struct copts {
    const char *urls, *node, *db;
    ft_cluster_params cp;
};

/* Options every subcommand takes; 1 consumed, 0 not one, -1 error. */
static int opts_cluster(struct opts *o, struct copts *c)
{
    double x;
    long long n;
    if (opts_is(o, "--nats")) return (c->urls = opts_value(o)) ? 1 : -1;
    if (opts_is(o, "--node")) return (c->node = opts_value(o)) ? 1 : -1;
    if (opts_is(o, "--db")) return (c->db = opts_value(o)) ? 1 : -1;
    if (opts_is(o, "--replicas")) {
        if (opts_int(o, 1, 5, "1 to 5 copies", &n)) return -1;
        c->cp.replicas = (int)n;
        return 1;
    }
    if (opts_is(o, "--lease")) {
        if (opts_double(o, 0.5, 3600, 0, "seconds, 0.5 to 3600", &x)) return -1;
        c->cp.lease_s = x;
        return 1;
    }
    return 0;
}

static int open_cluster(const char *cmd, struct copts *c, const char *node, ft_cluster **out)
{
    if (!c->urls) return usage_error(cmd, "missing --nats URLS");
    c->cp.urls = c->urls;
    c->cp.node = node;
    char err[512];
    int rc = ft_cluster_open(&c->cp, out, err, sizeof err);
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail cluster: %s\n", err);
        return CLI_ERROR;
    }
    return CLI_OK;
}

/* -- camera add ---------------------------------------------------------- */

static int camera_add(int argc, char **argv)
{
    struct copts c = { 0 };
    c.cp = ft_cluster_default_params();
    ft_cluster_camera cam;
    memset(&cam, 0, sizeof cam);
    const char *id = NULL, *name = "", *video = NULL, *start = NULL, *url = NULL;
    double km = NAN;
    struct opts o;
    opts_init(&o, argc, argv);
    o.cmd = "cluster camera add";
    while (opts_next(&o)) {
        int r = opts_cluster(&o, &c);
        if (r < 0) return CLI_ERROR;
        if (r > 0) continue;
        if (opts_is_help(&o)) return print_help(cluster_usage);
        if (opts_is(&o, "--id")) {
            if (!(id = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--name")) {
            if (!(name = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--km")) {
            if (opts_double(&o, -1e6, 1e6, 0, "a distance in km", &km)) return CLI_ERROR;
        } else if (opts_is(&o, "--video")) {
            if (!(video = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--start")) {
            if (!(start = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--url")) {
            if (!(url = opts_value(&o))) return CLI_ERROR;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands) return usage_error(o.cmd, "unexpected operand '%s'", argv[1]);
    if (!id) return usage_error(o.cmd, "missing --id ID");
    if (!isfinite(km)) return usage_error(o.cmd, "missing --km KM");
    if (!video == !url) return usage_error(o.cmd, "give one of --video FILE or --url URL");
    if (video && !start) return usage_error(o.cmd, "--video needs --start TIME");
    if (url && start)
        return usage_error(o.cmd,
                           "--start is for a --video: a live --url is timed by the wall clock");
    if (strlen(id) >= sizeof cam.camera.id || strlen(name) >= sizeof cam.camera.name ||
        strlen(video ? video : url) >= sizeof cam.source)
        return usage_error(o.cmd, "--id, --name or the source is too long");
    snprintf(cam.camera.id, sizeof cam.camera.id, "%s", id);
    snprintf(cam.camera.name, sizeof cam.camera.name, "%s", name);
    cam.camera.km = km;
    snprintf(cam.source, sizeof cam.source, "%s", video ? video : url);
    cam.live = url != NULL;
    if (video && parse_time_arg(o.cmd, "--start", start, "UTC", 0, &cam.start_us) != CLI_OK)
        return CLI_ERROR;
    if (video && access(video, R_OK) != 0)
        fprintf(stderr,
                "facetrail cluster: note: %s is not readable here; every ingest node "
                "must find it under this path\n",
                video);
    ft_cluster *cl = NULL;
    if (open_cluster(o.cmd, &c, "admin", &cl) != CLI_OK) return CLI_ERROR;
    int rc = ft_cluster_camera_put(cl, &cam);
    if (rc != FT_OK)
        fprintf(stderr, "facetrail cluster: %s\n", ft_cluster_errmsg(cl));
    else
        printf("camera %s at km %g: %s\n", cam.camera.id, cam.camera.km, cam.source);
    ft_cluster_close(cl);
    return rc == FT_OK ? CLI_OK : CLI_ERROR;
}

/* -- status -------------------------------------------------------------- */

static int status_cmd(int argc, char **argv)
{
    struct copts c = { 0 };
    c.cp = ft_cluster_default_params();
    int json = 0;
    struct opts o;
    opts_init(&o, argc, argv);
    o.cmd = "cluster status";
    while (opts_next(&o)) {
        int r = opts_cluster(&o, &c);
        if (r < 0) return CLI_ERROR;
        if (r > 0) continue;
        if (opts_is_help(&o)) return print_help(cluster_usage);
        if (opts_is(&o, "--json")) {
            if (opts_flag(&o)) return CLI_ERROR;
            json = 1;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands) return usage_error(o.cmd, "unexpected operand '%s'", argv[1]);
    ft_cluster *cl = NULL;
    if (open_cluster(o.cmd, &c, "admin", &cl) != CLI_OK) return CLI_ERROR;
    ft_cluster_camera *cams = NULL;
    char *ing = NULL, *srch = NULL;
    int n_cams = 0, n_ing = 0, n_srch = 0;
    uint64_t msgs = 0, bytes = 0;
    int rc = ft_cluster_cameras(cl, &cams, &n_cams);
    if (rc == FT_OK) rc = ft_cluster_nodes(cl, "ingest", &ing, &n_ing);
    if (rc == FT_OK) rc = ft_cluster_nodes(cl, "search", &srch, &n_srch);
    if (rc == FT_OK) rc = ft_cluster_stream_stats(cl, &msgs, &bytes);
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail cluster: %s\n", ft_cluster_errmsg(cl));
    } else if (json) {
        struct jw w;
        jw_init(&w, stdout, 1);
        jw_open(&w, '{');
        jw_key(&w, "ingest_nodes");
        jw_open(&w, '[');
        for (int i = 0; i < n_ing; i++)
            jw_item(&w), jw_str(&w, ing + (size_t)i * FT_CLUSTER_NODE_MAX);
        jw_close(&w);
        jw_key(&w, "search_nodes");
        jw_open(&w, '[');
        for (int i = 0; i < n_srch; i++)
            jw_item(&w), jw_str(&w, srch + (size_t)i * FT_CLUSTER_NODE_MAX);
        jw_close(&w);
        jw_key(&w, "cameras");
        jw_open(&w, '[');
        for (int i = 0; i < n_cams; i++) {
            jw_item(&w);
            jw_open(&w, '{');
            jw_key(&w, "id"), jw_str(&w, cams[i].camera.id);
            jw_key(&w, "km"), jw_double(&w, cams[i].camera.km);
            jw_key(&w, "source"), jw_str(&w, cams[i].source);
            jw_key(&w, "live"), jw_bool(&w, cams[i].live);
            jw_key(&w, "done"), jw_bool(&w, cams[i].done);
            jw_key(&w, "holder"), jw_str(&w, cams[i].holder);
            jw_close(&w);
        }
        jw_close(&w);
        jw_key(&w, "stream_messages"), jw_int(&w, (long long)msgs);
        jw_key(&w, "stream_bytes"), jw_int(&w, (long long)bytes);
        jw_close(&w);
        jw_end_line(&w);
    } else {
        printf("ingest nodes: %d", n_ing);
        for (int i = 0; i < n_ing; i++)
            printf(" %s", ing + (size_t)i * FT_CLUSTER_NODE_MAX);
        printf("\nsearch nodes: %d", n_srch);
        for (int i = 0; i < n_srch; i++)
            printf(" %s", srch + (size_t)i * FT_CLUSTER_NODE_MAX);
        printf("\nsightings in the stream: %llu (%.1f MiB)\n", (unsigned long long)msgs,
               bytes / 1048576.0);
        for (int i = 0; i < n_cams; i++)
            printf("camera %-16s km %7.2f  %-8s %s  %s\n", cams[i].camera.id, cams[i].camera.km,
                   cams[i].done ? "done" : (cams[i].holder[0] ? cams[i].holder : "(waiting)"),
                   cams[i].live ? "live" : "video", cams[i].source);
    }
    ft_store_free(cams);
    ft_store_free(ing);
    ft_store_free(srch);
    ft_cluster_close(cl);
    return rc == FT_OK ? CLI_OK : CLI_ERROR;
}

/* -- tokens, retention, purge ------------------------------------------- */

/* 1 if every line of text is blank, a comment or "sha256:HASH ROLE NAME". */
static int hashed_lines(const char *text, int *n, int *bad_line)
{
    *n = 0;
    *bad_line = 0;
    int no = 0;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[512];
        no++;
        if (len >= sizeof line) return *bad_line = no, 0;
        memcpy(line, p, len);
        line[len] = 0;
        char *q = line;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q && *q != '#') {
            char hash[128] = "", role[32] = "";
            if (sscanf(q, "sha256:%127s %31s", hash, role) != 2 || strlen(hash) != 64 ||
                strspn(hash, "0123456789abcdef") != 64 ||
                (strcmp(role, "admin") && strcmp(role, "operator") && strcmp(role, "runner") &&
                 strcmp(role, "viewer")))
                return *bad_line = no, 0;
            ++*n;
        }
        p += len + (e != NULL);
    }
    return 1;
}

static int state_cmd(int argc, char **argv, const char *what)
{
    struct copts c = { 0 };
    c.cp = ft_cluster_default_params();
    const char *file = NULL;
    long long days = -1;
    int yes = 0;
    struct opts o;
    opts_init(&o, argc, argv);
    char cmd_name[32];
    snprintf(cmd_name, sizeof cmd_name, "cluster %s", what);
    o.cmd = cmd_name;
    while (opts_next(&o)) {
        int r = opts_cluster(&o, &c);
        if (r < 0) return CLI_ERROR;
        if (r > 0) continue;
        if (opts_is_help(&o)) return print_help(cluster_usage);
        if (opts_is(&o, "--file") && !strcmp(what, "tokens")) {
            if (!(file = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--keep-days") && !strcmp(what, "retention")) {
            if (opts_int(&o, 0, 36500, "days, 0 to 36500", &days)) return CLI_ERROR;
        } else if (opts_is(&o, "--yes") && !strcmp(what, "purge")) {
            if (opts_flag(&o)) return CLI_ERROR;
            yes = 1;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands) return usage_error(o.cmd, "unexpected operand '%s'", argv[1]);
    char *text = NULL;
    if (!strcmp(what, "tokens")) {
        if (!file) return usage_error(o.cmd, "missing --file FILE");
        size_t len = 0;
        FILE *f = fopen(file, "r");
        if (!f) {
            fprintf(stderr, "facetrail cluster: %s: %s\n", file, strerror(errno));
            return CLI_ERROR;
        }
        text = calloc(1, 1 << 20);
        if (text) len = fread(text, 1, (1 << 20) - 1, f);
        fclose(f);
        int n = 0, bad = 0;
        if (!text || len == (1 << 20) - 1 || memchr(text, 0, len)) {
            free(text);
            fprintf(stderr, "facetrail cluster: %s: not a tokens file (too long or binary)\n",
                    file);
            return CLI_ERROR;
        }
        if (!hashed_lines(text, &n, &bad) || n == 0) {
            free(text);
            if (bad)
                fprintf(stderr,
                        "facetrail cluster: %s:%d: expected 'sha256:HASH ROLE NAME' (`facetrail "
                        "token add` writes them; tokens in the clear never go to the cluster)\n",
                        file, bad);
            else
                fprintf(stderr, "facetrail cluster: %s holds no token\n", file);
            return CLI_ERROR;
        }
        printf("%d tokens\n", n);
    } else if (!strcmp(what, "retention")) {
        if (days < 0) return usage_error(o.cmd, "missing --keep-days N");
        text = malloc(32);
        if (text) snprintf(text, 32, "%lld", days);
    } else if (!yes) {
        return usage_error(o.cmd, "purge empties the stream of every sighting: add --yes");
    }
    ft_cluster *cl = NULL;
    if (open_cluster(o.cmd, &c, "admin", &cl) != CLI_OK) {
        free(text);
        return CLI_ERROR;
    }
    int rc = !strcmp(what, "purge") ? ft_cluster_stream_purge(cl)
             : text                 ? ft_cluster_state_put(cl, what, text, NULL)
                                    : FT_ENOMEM;
    free(text);
    if (rc != FT_OK)
        fprintf(stderr, "facetrail cluster: %s\n",
                rc == FT_ENOMEM ? "out of memory" : ft_cluster_errmsg(cl));
    else if (!strcmp(what, "retention"))
        printf("the event's data goes %lld days after its end, on every node\n", days);
    else if (!strcmp(what, "purge"))
        printf("the stream is empty\n");
    else
        printf("the search nodes started without --tokens use them within 5 s\n");
    ft_cluster_close(cl);
    return rc == FT_OK ? CLI_OK : CLI_ERROR;
}

/* -- the ingest node ----------------------------------------------------- */

typedef struct worker {
    struct node *nd;
    ft_cluster_camera cam;
    pthread_t thread;
    int running; /* a thread was started and not yet joined */
    atomic_int stop, finished;
    int rc;          /* ft_ingest_run's status */
    int ended;       /* a file ingested to its end */
    double retry_at; /* after a failure: not before this (monotonic) */
    char err[600];
    int64_t sightings; /* stored by its last run */
} worker;

typedef struct node {
    struct copts *c;
    ft_engine_params ep;
    ft_ingest_params base;
    worker w[MAX_WORKERS];
    int n_w;
    atomic_llong published, duplicates;
    atomic_int pub_stop;
} node;

static int worker_stop(void *ctx)
{
    worker *w = ctx;
    return atomic_load(&w->stop) || atomic_load(&g_stop);
}

static int worker_progress(const ft_ingest_progress *p, void *ctx)
{
    (void)p;
    return worker_stop(ctx);
}

static void worker_live(const ft_ingest_live_event *e, void *ctx)
{
    worker *w = ctx;
    fprintf(stderr, "facetrail cluster: %s: %s\n", w->cam.camera.id, e->text);
}

static void *worker_loop(void *arg)
{
    worker *w = arg;
    node *nd = w->nd;
    ft_store *st = NULL;
    ft_engine *eng = NULL;
    w->rc = ft_store_open(nd->c->db, FT_STORE_CREATE, &st);
    if (w->rc != FT_OK) {
        snprintf(w->err, sizeof w->err, "%s", ft_store_errmsg(NULL));
        goto done;
    }
    ft_camera have;
    if (ft_store_camera_get(st, w->cam.camera.id, &have) != FT_OK &&
        (w->rc = ft_store_camera_add(st, &w->cam.camera)) != FT_OK) {
        snprintf(w->err, sizeof w->err, "%s", ft_store_errmsg(st));
        goto done;
    }
    ft_ingest_params ip = nd->base;
    if ((w->rc = ft_engine_open(&nd->ep, &eng, w->err, sizeof w->err)) != FT_OK) goto done;
    if ((w->rc = ft_engine_preload(eng, &ip.detect)) != FT_OK) {
        snprintf(w->err, sizeof w->err, "%s", engine_message(eng, w->rc));
        goto done;
    }
    ip.camera_id = w->cam.camera.id;
    ip.source = w->cam.source;
    ip.start_us = w->cam.start_us;
    ip.live = w->cam.live;
    ip.progress = worker_progress;
    ip.progress_ctx = w;
    ip.stop = worker_stop;
    ip.stop_ctx = w;
    ip.on_live = worker_live;
    ip.live_ctx = w;
    ft_ingest_report rep;
    w->rc = ft_ingest_run(eng, st, &ip, &rep, w->err, sizeof w->err);
    w->sightings = rep.sightings;
    /* a video this store finished before (the node stopped before it could
       say so to the cluster): it is done */
    if (w->rc == FT_EINVAL && strstr(w->err, "already ingested")) w->rc = FT_OK, rep.stopped = 0;
    w->ended = w->rc == FT_OK && !rep.stopped && !w->cam.live;
done:
    ft_engine_close(eng);
    ft_store_close(st);
    atomic_store(&w->finished, 1);
    return NULL;
}

static void *publisher_loop(void *arg)
{
    node *nd = arg;
    ft_cluster *cl = NULL;
    ft_store *st = NULL;
    char name[FT_CLUSTER_NODE_MAX + 8];
    snprintf(name, sizeof name, "%s-pub", nd->c->node);
    nd->c->cp.urls = nd->c->urls;
    nd->c->cp.node = name;
    char err[512];
    double warned = -1e9;
    while (!atomic_load(&nd->pub_stop)) {
        if (!cl && ft_cluster_open(&nd->c->cp, &cl, err, sizeof err) != FT_OK) {
            if (mono_s() - warned > 10)
                fprintf(stderr, "facetrail cluster: %s\n", err), warned = mono_s();
            sleep_s(1);
            continue;
        }
        if (!st && ft_store_open(nd->c->db, FT_STORE_CREATE, &st) != FT_OK) {
            fprintf(stderr, "facetrail cluster: %s\n", ft_store_errmsg(NULL));
            sleep_s(1);
            continue;
        }
        int n = 0, dup = 0;
        int rc = ft_cluster_publish(cl, st, 512, &n, &dup);
        atomic_fetch_add(&nd->published, n);
        atomic_fetch_add(&nd->duplicates, dup);
        if (rc != FT_OK) {
            if (mono_s() - warned > 10)
                fprintf(stderr, "facetrail cluster: publishing: %s (retrying)\n",
                        ft_cluster_errmsg(cl)),
                    warned = mono_s();
            sleep_s(0.5);
        } else if (n == 0) {
            sleep_s(0.1);
        }
    }
    /* at the stop: what is committed goes out if the stream takes it */
    for (int i = 0; cl && st && i < 50; i++) {
        int n = 0;
        if (ft_cluster_publish(cl, st, 512, &n, NULL) != FT_OK || n == 0) break;
        atomic_fetch_add(&nd->published, n);
    }
    ft_store_close(st);
    ft_cluster_close(cl);
    return NULL;
}

/* The cluster's retention on an ingest node's local store: once due, the
** store is purged (its unpublished sightings too: the event is long over). */
static void local_retention(ft_cluster *cl, const char *db)
{
    char *text = NULL;
    if (ft_cluster_state_get(cl, "retention", &text, NULL) != FT_OK) return;
    int days = atoi(text);
    ft_store_free(text);
    ft_store *st = NULL;
    if (ft_store_open(db, 0, &st) != FT_OK) return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t cut = 0;
    if (ft_store_purge_due(st, days, (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000, &cut, NULL,
                           NULL) == 1) {
        ft_purge_report rep;
        memset(&rep, 0, sizeof rep);
        int rc = ft_store_purge(st, cut, &rep);
        fprintf(
            stderr,
            "facetrail cluster: retention (%d days after the event): %lld sightings purged%s%s\n",
            days, (long long)rep.sightings, rc == FT_OK ? "" : ": ",
            rc == FT_OK ? "" : ft_store_errmsg(st));
    }
    ft_store_close(st);
}

static worker *find_worker(node *nd, const char *id)
{
    for (int i = 0; i < nd->n_w; i++)
        if (!strcmp(nd->w[i].cam.camera.id, id)) return &nd->w[i];
    return NULL;
}

static void join_worker(ft_cluster *cl, worker *w)
{
    pthread_join(w->thread, NULL);
    w->running = 0;
    if (w->rc != FT_OK) {
        fprintf(stderr, "facetrail cluster: camera %s: %s (retrying in %.0f s)\n", w->cam.camera.id,
                w->err[0] ? w->err : ft_strerror(w->rc), RETRY_S);
        w->retry_at = mono_s() + RETRY_S;
    } else if (w->ended) {
        fprintf(stderr, "facetrail cluster: camera %s: %s ingested (%lld sightings)\n",
                w->cam.camera.id, w->cam.source, (long long)w->sightings);
        if (ft_cluster_camera_done(cl, w->cam.camera.id) != FT_OK)
            fprintf(stderr, "facetrail cluster: %s\n", ft_cluster_errmsg(cl));
    }
}

static int ingest_node(int argc, char **argv)
{
    static node nd;
    static struct copts c;
    memset(&nd, 0, sizeof nd);
    memset(&c, 0, sizeof c);
    c.cp = ft_cluster_default_params();
    nd.c = &c;
    nd.ep = ft_engine_default_params();
    nd.ep.model_dir = default_model_dir();
    nd.ep.n_threads = 1;
    nd.base = ft_ingest_default_params();
    double x;
    struct opts o;
    opts_init(&o, argc, argv);
    o.cmd = "cluster ingest";
    while (opts_next(&o)) {
        int r = opts_cluster(&o, &c);
        if (r == 0) r = opts_engine(&o, &nd.ep);
        if (r < 0) return CLI_ERROR;
        if (r > 0) continue;
        if (opts_is_help(&o)) return print_help(cluster_usage);
        if (opts_is(&o, "--fps")) {
            if (opts_double(&o, 0, 120, 1, "a rate in (0, 120] frames per second", &x))
                return CLI_ERROR;
            nd.base.sample_fps = x;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands) return usage_error(o.cmd, "unexpected operand '%s'", argv[1]);
    if (!c.node) return usage_error(o.cmd, "missing --node NAME");
    if (strlen(c.node) > FT_CLUSTER_NODE_MAX - 8) /* its publisher is NAME-pub */
        return usage_error(o.cmd, "--node: at most %d characters", FT_CLUSTER_NODE_MAX - 8);
    if (!c.db) return usage_error(o.cmd, "missing --db DB");
    nd.base.detect.min_score = ft_detector_default_score(nd.base.detect.detector);
    ft_store *probe = NULL; /* the local store opens (and is made) before anything else */
    if (ft_store_open(c.db, FT_STORE_CREATE, &probe) != FT_OK) {
        fprintf(stderr, "facetrail cluster: %s\n", ft_store_errmsg(NULL));
        return CLI_ERROR;
    }
    ft_store_close(probe);
    ft_cluster *cl = NULL;
    if (open_cluster(o.cmd, &c, c.node, &cl) != CLI_OK) return CLI_ERROR;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t pub;
    int pub_running = pthread_create(&pub, NULL, publisher_loop, &nd) == 0;
    fprintf(stderr, "facetrail cluster: ingest node %s on %s, local store %s (Ctrl-C stops)\n",
            c.node, c.urls, c.db);
    double last_line = mono_s(), warned = -1e9, retention_at = mono_s();
    int status = CLI_OK;
    /* say this node is there, then let the others starting with it say so
       too, so that the first claims already share the cameras out */
    if (ft_cluster_heartbeat(cl, "ingest") == FT_OK)
        for (double t = 0; t < 1.0 && !atomic_load(&g_stop); t += 0.1)
            sleep_s(0.1);
    while (!atomic_load(&g_stop)) {
        double t0 = mono_s();
        char *ids = NULL;
        int n = 0;
        int rc = ft_cluster_heartbeat(cl, "ingest");
        if (rc == FT_OK) rc = ft_cluster_claim(cl, &ids, &n);
        if (rc != FT_OK) {
            if (mono_s() - warned > 10)
                fprintf(stderr, "facetrail cluster: %s (retrying)\n", ft_cluster_errmsg(cl)),
                    warned = mono_s();
        } else {
            /* cameras no longer held: stop them (another node has them) */
            for (int i = 0; i < nd.n_w; i++) {
                worker *w = &nd.w[i];
                int held = 0;
                for (int k = 0; k < n; k++)
                    held |= !strcmp(ids + (size_t)k * FT_CAMERA_ID_MAX, w->cam.camera.id);
                if (w->running && !held && !atomic_load(&w->stop)) {
                    fprintf(stderr, "facetrail cluster: camera %s: hold lost, stopping\n",
                            w->cam.camera.id);
                    atomic_store(&w->stop, 1);
                }
            }
            /* cameras held: start those not running */
            ft_cluster_camera *cams = NULL;
            int n_cams = 0;
            if (n > 0 && ft_cluster_cameras(cl, &cams, &n_cams) == FT_OK) {
                for (int k = 0; k < n; k++) {
                    const char *id = ids + (size_t)k * FT_CAMERA_ID_MAX;
                    const ft_cluster_camera *cam = NULL;
                    for (int j = 0; j < n_cams; j++)
                        if (!strcmp(cams[j].camera.id, id)) cam = &cams[j];
                    worker *w = find_worker(&nd, id);
                    if (!cam || cam->done || (w && (w->running || mono_s() < w->retry_at)))
                        continue;
                    if (!w) {
                        if (nd.n_w == MAX_WORKERS) continue;
                        w = &nd.w[nd.n_w++];
                    }
                    w->nd = &nd;
                    w->cam = *cam;
                    atomic_store(&w->stop, 0);
                    atomic_store(&w->finished, 0);
                    w->rc = FT_OK;
                    w->err[0] = 0;
                    fprintf(stderr, "facetrail cluster: camera %s (km %g): ingesting %s\n",
                            cam->camera.id, cam->camera.km, cam->source);
                    if (pthread_create(&w->thread, NULL, worker_loop, w) == 0) w->running = 1;
                }
            }
            ft_store_free(cams);
        }
        ft_store_free(ids);
        for (int i = 0; i < nd.n_w; i++)
            if (nd.w[i].running && atomic_load(&nd.w[i].finished)) join_worker(cl, &nd.w[i]);
        if (mono_s() - retention_at >= 60) {
            retention_at = mono_s();
            local_retention(cl, c.db);
        }
        if (mono_s() - last_line >= 10) {
            int busy = 0;
            for (int i = 0; i < nd.n_w; i++)
                busy += nd.w[i].running;
            fprintf(stderr,
                    "facetrail cluster: %s: %d camera%s ingesting, %lld sightings published (%lld "
                    "of them already in the stream)\n",
                    c.node, busy, busy == 1 ? "" : "s", (long long)atomic_load(&nd.published),
                    (long long)atomic_load(&nd.duplicates));
            last_line = mono_s();
        }
        double left = c.cp.lease_s / 4 - (mono_s() - t0);
        for (; left > 0 && !atomic_load(&g_stop); left -= 0.1)
            sleep_s(left < 0.1 ? left : 0.1);
    }
    fprintf(stderr, "facetrail cluster: stopping\n");
    for (int i = 0; i < nd.n_w; i++)
        atomic_store(&nd.w[i].stop, 1);
    for (int i = 0; i < nd.n_w; i++)
        if (nd.w[i].running) join_worker(cl, &nd.w[i]);
    atomic_store(&nd.pub_stop, 1);
    if (pub_running) pthread_join(pub, NULL);
    ft_cluster_close(cl);
    fprintf(stderr,
            "facetrail cluster: %s stopped; %lld sightings published (%lld of them already in "
            "the stream)\n",
            c.node, (long long)atomic_load(&nd.published), (long long)atomic_load(&nd.duplicates));
    return status;
}

int cmd_cluster(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
        return argc < 2 ? usage_error("cluster", "missing subcommand: camera add, status or ingest")
                        : print_help(cluster_usage);
    if (!strcmp(argv[1], "camera")) {
        if (argc < 3 || strcmp(argv[2], "add"))
            return argc >= 3 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))
                       ? print_help(cluster_usage)
                       : usage_error("cluster camera", "expected 'camera add'");
        return camera_add(argc - 2, argv + 2);
    }
    if (!strcmp(argv[1], "status")) return status_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ingest")) return ingest_node(argc - 1, argv + 1);
    if (!strcmp(argv[1], "tokens") || !strcmp(argv[1], "retention") || !strcmp(argv[1], "purge"))
        return state_cmd(argc - 1, argv + 1, argv[1]);
    return usage_error("cluster",
                       "unknown subcommand '%s' (camera add, status, ingest, tokens, retention, "
                       "purge)",
                       argv[1]);
}
