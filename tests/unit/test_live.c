/*
** tests/unit/test_live.c: the live ingest (ft_ingest_params.live) through the
** public API, on a FIFO fed at the pace of real time.
**
** DESIGN
**   A 6 s MPEG-TS clip (160x120, 10 fps, no faces: what is checked is the
**   frame accounting, not detection) is written here, and a thread writes
**   its bytes into a FIFO at an even rate over 6 s, as a camera sends them.
**   The ingest samples 5 frames/s: about 30 frames are read.
**     keeps up   processing is fast: no frame is dropped, every frame read
**                is analysed, the end of the stream is reported as a loss
**                (FT_INGEST_LIVE_LOST) after one connection;
**     too slow   the progress callback sleeps 0.5 s after each analysed
**                frame (2.5 times real time): frames are dropped, and no
**                analysed frame is more than max_lag_s (1 s) behind.
**   In both the run stops through p->stop once the loss was reported, with
**   report.stopped set and read = analysed + dropped.
**   Without the fetched models the tests skip.
*/
#include "facetrail.h"
#include "facetrail/ingest.h"
#include "facetrail/video.h"
#include "harness/test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define W   160
#define H   120
#define FPS 10
#define N   60 /* frames: 6 s */

static char tmp_dir[64];
static char clip[128], fifo[128], db[128];

/* Removes the temporary folder and its files. */
static void cleanup(void)
{
    if (!tmp_dir[0]) return;
    unlink(clip);
    unlink(fifo);
    char p[160];
    static const char *const tails[] = { "", "-wal", "-shm", "-journal" };
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        snprintf(p, sizeof p, "%s%s", db, tails[i]);
        unlink(p);
    }
    rmdir(tmp_dir);
}

/* The clip, the FIFO and a database path in a new temporary folder. */
static void setup(const char *db_name)
{
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ft_live_XXXXXX");
        ASSERT(mkdtemp(tmp_dir) != NULL);
        atexit(cleanup);
        snprintf(clip, sizeof clip, "%s/clip.ts", tmp_dir);
        snprintf(fifo, sizeof fifo, "%s/fifo", tmp_dir);
        ASSERT(mkfifo(fifo, 0600) == 0);
        ft_video_writer *w;
        char err[512];
        ASSERT_OK(ft_video_writer_open(clip, W, H, FPS, NULL, &w, err, sizeof err));
        ft_image *img;
        ASSERT_OK(ft_image_create(W, H, &img));
        for (int i = 0; i < N; i++) {
            for (int k = 0; k < W * H * 3; k++)
                img->rgb[k] = (uint8_t)((k / 3 % W + i * 4) & 255);
            ASSERT_OK(ft_video_writer_write(w, img));
        }
        ft_image_destroy(img);
        ASSERT_OK(ft_video_writer_close(w, err, sizeof err));
    }
    snprintf(db, sizeof db, "%s/%s", tmp_dir, db_name);
}

/* The feeding thread: the clip into the FIFO at an even rate over N / FPS s. */
static void *feed(void *arg)
{
    (void)arg;
    FILE *in = fopen(clip, "rb");
    FILE *out = fopen(fifo, "wb"); /* blocks until the ingest opens it */
    if (!in || !out) {
        if (in) fclose(in);
        if (out) fclose(out);
        return NULL;
    }
    fseek(in, 0, SEEK_END);
    long size = ftell(in), sent = 0;
    fseek(in, 0, SEEK_SET);
    const double secs = (double)N / FPS;
    struct timespec t0, now, step = { 0, 20000000 };
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char buf[65536];
    while (sent < size) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9;
        long want = (long)(el / secs * (double)size) + 4096;
        if (want > size) want = size;
        while (sent < want) {
            size_t n =
                fread(buf, 1,
                      (size_t)(want - sent) < sizeof buf ? (size_t)(want - sent) : sizeof buf, in);
            if (n == 0 || fwrite(buf, 1, n, out) != n) goto out;
            sent += (long)n;
        }
        fflush(out);
        nanosleep(&step, NULL);
    }
out:
    fclose(in);
    fclose(out);
    return NULL;
}

typedef struct run {
    int slow;         /* sleep 0.5 s after each analysed frame */
    int64_t analysed; /* frames analysed, as the progress saw them */
    double max_lag;   /* of the analysed frames */
    int n_lost, n_connected;
} run;

/* Progress: the lag of each analysed frame, and the slow processing. */
static int progress(const ft_ingest_progress *p, void *ctx)
{
    run *r = ctx;
    if (p->frames > r->analysed) {
        r->analysed = p->frames;
        if (p->lag_s > r->max_lag) r->max_lag = p->lag_s;
        if (r->slow) {
            struct timespec ts = { 0, 500000000 };
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

/* Stops once the stream was lost (the feeder is done). */
static int stop_after_loss(void *ctx)
{
    const run *r = ctx;
    return r->n_lost > 0;
}

/* Counts the connection events. */
static void on_live(const ft_ingest_live_event *e, void *ctx)
{
    run *r = ctx;
    if (e->state == FT_INGEST_LIVE_CONNECTED) r->n_connected++;
    if (e->state == FT_INGEST_LIVE_LOST) r->n_lost++;
}

/* One live ingest of the paced FIFO into a new database. */
static void live_run(run *r, const char *db_name, ft_ingest_report *rep)
{
    const char *models = ft_test_model_dir();
    if (!models) FT_SKIP("face-api models not fetched (make models)");
    setup(db_name);
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = models;
    ep.n_threads = 1;
    ft_engine *eng;
    char err[600];
    if (ft_engine_open(&ep, &eng, err, sizeof err) != FT_OK)
        FT_SKIP("models missing (make models)");
    ft_store *st;
    ASSERT_OK(ft_store_open(db, FT_STORE_CREATE, &st));
    ft_camera c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "km05");
    c.km = 5;
    ASSERT_OK(ft_store_camera_add(st, &c));
    ft_ingest_params ip = ft_ingest_default_params();
    ip.camera_id = "km05";
    ip.source = fifo;
    ip.live = 1;
    ip.max_lag_s = 1.0;
    ip.progress = progress;
    ip.progress_ctx = r;
    ip.stop = stop_after_loss;
    ip.stop_ctx = r;
    ip.on_live = on_live;
    ip.live_ctx = r;
    pthread_t th;
    ASSERT(pthread_create(&th, NULL, feed, NULL) == 0);
    int rc = ft_ingest_run(eng, st, &ip, rep, err, sizeof err);
    pthread_join(th, NULL);
    if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "ft_ingest_run: %d %s", rc, err);
    ft_store_close(st);
    ft_engine_close(eng);
    printf("# %s: %lld read, %lld analysed, %lld dropped, max lag %.2f s, %lld connections\n",
           r->slow ? "slow" : "fast", (long long)rep->frames_read, (long long)rep->frames,
           (long long)rep->frames_dropped, r->max_lag, (long long)rep->n_connects);
    ASSERT(rep->stopped);
    ASSERT_EQ(rep->frames_read, rep->frames + rep->frames_dropped);
    ASSERT(rep->frames_read >= 25 && rep->frames_read <= 31);
    ASSERT_EQ(r->analysed, rep->frames);
    ASSERT_EQ(rep->n_connects, 1);
    ASSERT_EQ(r->n_connected, 1);
    ASSERT(r->n_lost >= 1);
}

/* Processing faster than the stream: nothing is dropped. */
static void test_live_keeps_up(void)
{
    run r = { 0, 0, 0, 0, 0 };
    ft_ingest_report rep;
    live_run(&r, "fast.ftdb", &rep);
    ASSERT_EQ(rep.frames_dropped, 0);
    ASSERT(r.max_lag <= 1.0);
}

/* Processing 2.5 times slower than real time: frames are dropped, and no
** analysed frame is more than max_lag_s behind. */
static void test_live_drops_when_slow(void)
{
    run r = { 1, 0, 0, 0, 0 };
    ft_ingest_report rep;
    live_run(&r, "slow.ftdb", &rep);
    ASSERT(rep.frames_dropped >= 5);
    ASSERT(r.max_lag <= 1.0);
    ASSERT(rep.frames <= rep.frames_read - 5);
}

FT_TESTS(FT_TEST(test_live_keeps_up), FT_TEST(test_live_drops_when_slow))
