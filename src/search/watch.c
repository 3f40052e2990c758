/*
** search/watch.c: the watchlist in memory, checked against tracks in view
** and stored sightings (ft_watcher), and an alert as JSON.
**
** DESIGN
**   A watcher holds a copy of the active entries and the event's gallery
**   size, replaced whole by ft_watcher_set. ft_watcher_look runs
**   ft_watch_check (the calibrated expected false matches) on a sighting and
**   keeps the entries not expired at the sighting's last_us. What was
**   already said is remembered in a ring of FT_WATCHER_TRACKS records
**   (entry, camera, track key, early):
**     a track in view (id 0):  a first match is an early alert and a record;
**                              a match with a record is quiet
**     a stored sighting:       no record: an alert (and a record);
**                              a record from an early alert: follows = 1,
**                              once (the record is marked)
**   A track that ends before any early look matched alerts as before, from
**   its stored sighting: nothing is lost when early looks are not used.
** THREADS   One mutex around the entries and the ring.
*/
#include "core/core.h"
#include "facetrail/search.h"
#include "facetrail/time.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct said {
    int64_t watch_id, track_key;
    uint64_t camera; /* FNV-1a of the camera id */
    int early;       /* raised while in view, its stored sighting not yet seen */
} said;

struct ft_watcher {
    const ft_calibration *cal;
    double max_false;
    pthread_mutex_t lock;
    ft_watch *entries;
    int n;
    int64_t gallery;
    said ring[FT_WATCHER_TRACKS];
    int n_said, next; /* records in use, next slot */
};

int ft_watcher_create(const ft_calibration *cal, double max_false, ft_watcher **out)
{
    if (!out) return FT_EINVAL;
    *out = NULL;
    if (!cal || !(max_false > 0)) return FT_EINVAL;
    ft_watcher *w = ft__calloc(1, sizeof *w);
    if (!w) return FT_ENOMEM;
    w->cal = cal;
    w->max_false = max_false;
    w->gallery = 1;
    pthread_mutex_init(&w->lock, NULL);
    *out = w;
    return FT_OK;
}

void ft_watcher_destroy(ft_watcher *w)
{
    if (!w) return;
    pthread_mutex_destroy(&w->lock);
    ft__free(w->entries);
    ft__free(w);
}

int ft_watcher_set(ft_watcher *w, const ft_watch *entries, int n, int64_t gallery)
{
    if (!w || n < 0 || (n > 0 && !entries)) return FT_EINVAL;
    ft_watch *copy = NULL;
    if (n > 0) {
        copy = ft__malloc((size_t)n * sizeof *copy);
        if (!copy) return FT_ENOMEM;
        memcpy(copy, entries, (size_t)n * sizeof *copy);
    }
    pthread_mutex_lock(&w->lock);
    ft__free(w->entries);
    w->entries = copy;
    w->n = n;
    w->gallery = gallery > 0 ? gallery : 1;
    pthread_mutex_unlock(&w->lock);
    return FT_OK;
}

int ft_watcher_count(ft_watcher *w)
{
    if (!w) return 0;
    pthread_mutex_lock(&w->lock);
    int n = w->n;
    pthread_mutex_unlock(&w->lock);
    return n;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static said *find(ft_watcher *w, int64_t watch_id, uint64_t cam, int64_t key)
{
    for (int i = 0; i < w->n_said; i++) {
        said *r = &w->ring[i];
        if (r->watch_id == watch_id && r->camera == cam && r->track_key == key) return r;
    }
    return NULL;
}

static void remember(ft_watcher *w, int64_t watch_id, uint64_t cam, int64_t key, int early)
{
    said *r = &w->ring[w->next];
    r->watch_id = watch_id, r->camera = cam, r->track_key = key, r->early = early;
    w->next = (w->next + 1) % FT_WATCHER_TRACKS;
    if (w->n_said < FT_WATCHER_TRACKS) w->n_said++;
}

int ft_watcher_look(ft_watcher *w, const ft_sighting *s, ft_alert *out, int cap)
{
    if (!w || !s || cap < 0 || (cap > 0 && !out)) return FT_EINVAL;
    pthread_mutex_lock(&w->lock);
    int k = 0;
    const int early = s->id == 0;
    const uint64_t cam = fnv(s->camera_id);
    for (int e = 0; e < w->n; e++) {
        const ft_watch *en = &w->entries[e];
        if (en->expires_us > 0 && s->last_us >= en->expires_us) continue;
        ft_alert a;
        int m =
            ft_watch_check(w->cal, en, 1, s, w->gallery, w->max_false, FT_SEARCH_MAX_FMR, &a, 1);
        if (m < 0) {
            pthread_mutex_unlock(&w->lock);
            return m;
        }
        if (m == 0) continue;
        said *r = find(w, en->id, cam, s->track_key);
        if (r && (early || !r->early)) continue; /* already said */
        a.track_key = s->track_key;
        a.first_us = s->first_us;
        a.early = early;
        a.follows = r != NULL;
        if (early) a.time_us = s->last_us; /* the frame that raised it */
        snprintf(a.webhook, sizeof a.webhook, "%s", en->webhook);
        if (r)
            r->early = 0; /* its sighting came: once */
        else
            remember(w, en->id, cam, s->track_key, early);
        if (k < cap) out[k] = a;
        k++;
    }
    pthread_mutex_unlock(&w->lock);
    return k;
}

int ft_alert_json(const ft_alert *a, double km, const char *thumbnail, char **out)
{
    if (!a || !out) return FT_EINVAL;
    *out = NULL;
    char t[FT_TIME_TEXT_MAX], track[FT_CAMERA_ID_MAX + 24];
    snprintf(track, sizeof track, "%s/%lld", a->camera_id, (long long)a->track_key);
    json_t *o = json_object();
    if (!o) return FT_ENOMEM;
    json_object_set_new(o, "watchlist", json_integer(a->watch_id));
    json_object_set_new(o, "name", json_string(a->name));
    json_object_set_new(o, "camera", json_string(a->camera_id));
    json_object_set_new(o, "km", json_real(km));
    json_object_set_new(
        o, "time", json_string(ft_time_format(a->time_us, NULL, FT_TIME_ISO_UTC, t, sizeof t)));
    json_object_set_new(o, "score", json_real(a->score));
    json_object_set_new(o, "expected_false", json_real(a->expected_false));
    json_object_set_new(o, "sighting",
                        a->sighting_id > 0 ? json_integer(a->sighting_id) : json_null());
    json_object_set_new(o, "thumbnail", thumbnail ? json_string(thumbnail) : json_null());
    json_object_set_new(o, "track", json_string(track));
    json_object_set_new(
        o, "first_seen",
        a->first_us ? json_string(ft_time_format(a->first_us, NULL, FT_TIME_ISO_UTC, t, sizeof t))
                    : json_null());
    json_object_set_new(o, "early", json_boolean(a->early));
    return ft__json_take(o, out);
}
