/*
** fuzz/store.c: fuzz target for opening an event database from arbitrary
** bytes (ft_store_open read-only, store/store.c) and the reading functions
** (store/read.c, cameras.c, meta.c, watchlist.c, replica.c).
**
** DESIGN
**   The bytes become this process's scratch file "in" (any -wal, -shm or
**   -journal file left by the previous input is removed first, so that no
**   input sees another's state). The file is opened FT_STORE_READONLY, which
**   reads every released schema as it is, and then every reading call runs
**   once: quick_check, settings, descriptor space, stats, cameras, the
**   descriptor, sighting and replica walks (each replica encoded), a
**   sighting with its thumbnail, an ingest, the watchlist. SQLite parses
**   the file (its own defences are not under test); the store's handling of
**   what SQLite hands back (rows of the wrong type or size, NULLs, missing
**   tables, an unknown schema version) is. Every call must return a status;
**   none may crash.
*/
#include "fuzz.h"

#include "facetrail.h"

static int on_desc(int64_t id, int n, const float *vec, void *ctx)
{
    float *sum = ctx;
    for (int i = 0; i < n * FT_DESCRIPTOR_DIM; i++)
        *sum += vec[i];
    (void)id;
    return 0;
}

static int on_replica(const ft_replica *r, void *ctx)
{
    int *n = ctx;
    unsigned char *buf = NULL;
    size_t len = 0;
    if (ft_replica_encode(r, &buf, &len) == FT_OK) ft_store_free(buf);
    return ++*n >= 100;
}

static int on_sighting(const ft_sighting *s, void *ctx)
{
    int *n = ctx;
    (*n)++;
    return *n >= 1000; /* enough: a forged table may hold millions */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[320], buf[512];
    ft_fuzz_unlink("in-wal");
    ft_fuzz_unlink("in-shm");
    ft_fuzz_unlink("in-journal");
    if (ft_fuzz_write("in", data, size, path, sizeof path)) return 0;
    ft_store *st = NULL;
    if (ft_store_open(path, FT_STORE_READONLY, &st) != FT_OK) {
        (void)ft_store_errmsg(NULL);
        return 0;
    }
    (void)ft_store_check(st);
    (void)ft_store_meta_get(st, "time_zone", buf, sizeof buf);
    (void)ft_store_descriptor_space(st, buf, sizeof buf);
    int64_t n_cam, n_sig, n_desc, t0, t1;
    (void)ft_store_stats(st, &n_cam, &n_sig, &n_desc, &t0, &t1);
    ft_camera *cams = NULL;
    int n = 0;
    if (ft_store_cameras(st, &cams, &n) == FT_OK && n > 0) {
        ft_camera c;
        (void)ft_store_camera_get(st, cams[0].id, &c);
        ft_store_free(cams);
    }
    float sum = 0;
    (void)ft_store_foreach_descriptor(st, on_desc, &sum);
    int count = 0;
    (void)ft_store_sightings_brief(st, on_sighting, &count);
    count = 0;
    (void)ft_store_sightings_between(st, INT64_MIN, INT64_MAX, NULL, on_sighting, &count);
    count = 0;
    (void)ft_store_sightings_after(st, 0, 100, on_sighting, &count);
    count = 0;
    (void)ft_store_replicas_after(st, 0, 100, on_replica, &count);
    static ft_sighting s; /* 8 KB of descriptors: off the stack */
    unsigned char *thumb = NULL;
    if (ft_store_sighting_get(st, 1, &s, &thumb) == FT_OK) ft_store_free(thumb);
    ft_ingest ing;
    (void)ft_store_ingest_get(st, 1, &ing);
    ft_watch *w = NULL;
    if (ft_store_watch_list(st, 0, &w, &n) == FT_OK) ft_store_free(w);
    (void)ft_store_watch_dismissed(st, 1, 1);
    (void)ft_store_errmsg(st);
    ft_store_close(st);
    return 0;
}
