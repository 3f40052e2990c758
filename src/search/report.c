/*
** search/report.c: a search, from photos to the answer, and the answer as
** JSON: the one schema that `facetrail search --json` prints and the
** server's POST /api/v1/search returns.
**
** DESIGN
**   ft_search_photos  describes each photo as the event's descriptors were
**                     made (ft_query_face) and searches with all of them
**                     (ft_searcher_search_multi): every front end makes the
**                     same call.
**   ft_search_json    builds the answer with jansson: the query photos, what
**                     was searched (gallery, threshold, windows, the tiers'
**                     expected false matches), the timeline and the flagged
**                     appearances (each with its thumbnail as a data: URI read
**                     from the store, or a link), and the estimate; times are
**                     ISO 8601 UTC.
** OWNERSHIP  The text is the caller's (ft_store_free).
*/
#include "core/core.h"
#include "facetrail/search.h"
#include "facetrail/time.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int ft_search_photos(ft_engine *eng, ft_searcher *s, const ft_image *const *photos, int n,
                     const ft_query_params *qp, const ft_search_params *sp, ft_query *queries,
                     ft_search_result *out, int *failed, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (failed) *failed = -1;
    if (!eng || !s || !photos || !qp || !sp || !queries || n < 1 || n > FT_SEARCH_MAX_PROBES)
        return ft__errf(err, errlen, FT_EINVAL, "1 to %d photos", FT_SEARCH_MAX_PROBES);
    float desc[FT_SEARCH_MAX_PROBES][FT_DESCRIPTOR_DIM];
    for (int i = 0; i < n; i++) {
        int rc = ft_query_face(eng, photos[i], qp, &queries[i], err, errlen);
        if (rc != FT_OK) {
            if (failed) *failed = i;
            return rc;
        }
        memcpy(desc[i], queries[i].face.descriptor, sizeof desc[i]);
    }
    int rc = ft_searcher_search_multi(s, &desc[0][0], n, sp, out);
    if (rc != FT_OK) return ft__errf(err, errlen, rc, "%s", ft_searcher_errmsg(s));
    return FT_OK;
}

const char *ft_appearance_strength(const ft_appearance *a)
{
    return a->by_person                 ? "confirmed"
           : a->possible                ? "possible"
           : a->expected_false <= 0.001 ? "strong"
                                        : "good";
}

/* A number, or null when it is not finite (JSON has no NaN). */
static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *iso(int64_t us)
{
    char t[FT_TIME_TEXT_MAX];
    return json_string(ft_time_format(us, NULL, FT_TIME_ISO_UTC, t, sizeof t));
}

size_t ft_base64(const unsigned char *p, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[k++] = t[v >> 18 & 63];
        out[k++] = t[v >> 12 & 63];
        out[k++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[k] = 0;
    return k;
}

/* "data:image/jpeg;base64,..." of a sighting's thumbnail, "" without one. */
static json_t *thumb_uri(ft_store *st, int64_t sighting)
{
    ft_sighting s;
    unsigned char *jpg = NULL;
    if (!st || ft_store_sighting_get(st, sighting, &s, &jpg) != FT_OK || !jpg)
        return json_string("");
    static const char head[] = "data:image/jpeg;base64,";
    char *b = ft__malloc(sizeof head + (s.thumbnail_len + 2) / 3 * 4 + 1);
    json_t *j = NULL;
    if (b) {
        memcpy(b, head, sizeof head - 1);
        ft_base64(jpg, s.thumbnail_len, b + sizeof head - 1);
        j = json_string(b);
    }
    ft__free(b);
    ft_store_free(jpg);
    return j ? j : json_string("");
}

static json_t *appearance(ft_store *st, const ft_appearance *a, const char *thumb_prefix)
{
    json_t *o = json_object();
    json_object_set_new(o, "camera", json_string(a->camera_id));
    json_object_set_new(o, "km", num(a->km));
    json_object_set_new(o, "first_seen", iso(a->first_us));
    json_object_set_new(o, "last_seen", iso(a->last_us));
    json_object_set_new(o, "score", num(a->score));
    json_object_set_new(o, "strength", json_string(ft_appearance_strength(a)));
    json_object_set_new(o, "possible", json_boolean(a->possible));
    json_object_set_new(o, "expected_false_matches", num(a->expected_false));
    json_object_set_new(o, "distance", num(a->distance));
    json_object_set_new(o, "tracks", json_integer(a->tracks));
    json_object_set_new(o, "gallery", json_integer(a->gallery));
    json_object_set_new(o, "confirmed_by_person", json_boolean(a->by_person));
    json_object_set_new(o, "anchor", json_boolean(a->anchor));
    if (a->window) {
        json_t *w = json_object();
        json_object_set_new(w, "from", iso(a->window_from_us));
        json_object_set_new(w, "to", iso(a->window_to_us));
        json_object_set_new(o, "window", w);
    } else {
        json_object_set_new(o, "window", json_null());
    }
    json_object_set_new(o, "sighting", json_integer(a->best_sighting));
    if (!a->plausible) json_object_set_new(o, "why", json_string(a->why));
    if (thumb_prefix) {
        char url[256];
        snprintf(url, sizeof url, "%s%lld/thumbnail", thumb_prefix, (long long)a->best_sighting);
        json_object_set_new(o, "thumbnail", json_string(url));
    } else {
        json_object_set_new(o, "thumbnail", thumb_uri(st, a->best_sighting));
    }
    return o;
}

static json_t *query_json(const ft_query *q, const char *name)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(name ? name : ""));
    json_object_set_new(o, "faces", json_integer(q->n_faces));
    json_object_set_new(o, "face", json_integer(q->used));
    json_object_set_new(o, "found", json_string(ft_query_how_name(q->how)));
    json_t *box = json_array();
    for (int i = 0; i < 4; i++)
        json_array_append_new(box, num(q->face.box[i]));
    json_object_set_new(o, "box", box);
    json_object_set_new(o, "quality", num(q->quality));
    if (q->warning[0]) json_object_set_new(o, "warning", json_string(q->warning));
    return o;
}

int ft_search_json(ft_store *st, const ft_searcher *s, const ft_search_result *r,
                   const ft_query *queries, const char *const *names, int n_queries,
                   const char *thumb_prefix, char **out)
{
    *out = NULL;
    if (!s || !r || (n_queries > 0 && !queries)) return FT_EINVAL;
    json_t *root = json_object();
    if (!root) return FT_ENOMEM;
    if (n_queries > 0)
        json_object_set_new(root, "query", query_json(&queries[0], names ? names[0] : NULL));
    json_t *qs = json_array();
    for (int i = 0; i < n_queries; i++)
        json_array_append_new(qs, query_json(&queries[i], names ? names[i] : NULL));
    json_object_set_new(root, "queries", qs);
    json_t *se = json_object();
    json_object_set_new(se, "sightings", json_integer(ft_searcher_sightings(s)));
    json_object_set_new(se, "descriptors", json_integer(r->gallery));
    json_object_set_new(se, "photos", json_integer(r->probes));
    json_object_set_new(se, "threshold", num(r->threshold));
    json_object_set_new(se, "fmr", num(r->fmr));
    json_object_set_new(se, "threshold_extrapolated", json_boolean(r->threshold_extrapolated));
    json_object_set_new(se, "anchors", json_integer(r->anchors));
    json_object_set_new(se, "windows", json_integer(r->windows));
    json_object_set_new(se, "expected_false_confirmed", num(r->expected_false_confirmed));
    json_object_set_new(se, "expected_false_possible", num(r->expected_false_possible));
    json_object_set_new(root, "searched", se);
    json_t *apps = json_array(), *flagged = json_array();
    for (int i = 0; i < r->n_appearances; i++)
        json_array_append_new(apps, appearance(st, &r->appearances[i], thumb_prefix));
    for (int i = 0; i < r->n_flagged; i++)
        json_array_append_new(flagged, appearance(st, &r->flagged[i], thumb_prefix));
    json_object_set_new(root, "appearances", apps);
    json_object_set_new(root, "flagged", flagged);
    const ft_estimate *e = &r->estimate;
    if (!e->valid) {
        json_object_set_new(root, "estimate", json_null());
    } else {
        json_t *o = json_object();
        json_object_set_new(o, "km", num(e->km));
        json_object_set_new(o, "at", iso(e->at_us));
        json_object_set_new(o, "pace_kmh", num(e->pace_kmh));
        json_object_set_new(o, "pace_assumed", json_boolean(!e->pace_from_fit));
        json_object_set_new(o, "next_camera",
                            e->has_next ? json_string(e->next_camera) : json_null());
        json_object_set_new(o, "eta", e->has_next ? iso(e->eta_us) : json_null());
        json_object_set_new(root, "estimate", o);
    }
    return ft__json_take(root, out);
}

/* ------------------------------------------------------------------------ */
/* Answers of several shards                                                */
/* ------------------------------------------------------------------------ */

static int by_first_seen(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "first_seen"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "first_seen"));
    return strcmp(x ? x : "", y ? y : ""); /* ISO 8601 UTC: text order is time order */
}

int ft_search_json_merge(const char *base, const char *const *answers, int n, int asked, char **out,
                         int *n_appearances, char *err, size_t errlen)
{
    *out = NULL;
    if (n_appearances) *n_appearances = 0;
    if (n < 0 || (n > 0 && !answers)) return FT_EINVAL;
    json_t *root = base ? json_loads(base, 0, NULL) : json_object();
    if (!root || !json_is_object(root)) {
        json_decref(root);
        snprintf(err, errlen, "the asking node's answer is not JSON");
        return FT_EFORMAT;
    }
    json_t *apps = json_array(), *flagged = json_array(), *best_est = json_null();
    char best_last[64] = ""; /* the latest last_seen so far (ISO 8601 UTC) */
    json_int_t sightings = 0, descriptors = 0;
    double threshold = 0, efc = 0, efp = 0;
    int rc = FT_OK;
    for (int i = 0; i < n && rc == FT_OK; i++) {
        json_t *a = json_loads(answers[i], 0, NULL);
        json_t *se = a ? json_object_get(a, "searched") : NULL;
        json_t *ap = a ? json_object_get(a, "appearances") : NULL;
        json_t *fl = a ? json_object_get(a, "flagged") : NULL;
        if (!json_is_object(se) || !json_is_array(ap) || !json_is_array(fl)) {
            snprintf(err, errlen, "answer %d of %d is not a search answer", i + 1, n);
            json_decref(a);
            rc = FT_EFORMAT;
            break;
        }
        sightings += json_integer_value(json_object_get(se, "sightings"));
        descriptors += json_integer_value(json_object_get(se, "descriptors"));
        efc += json_number_value(json_object_get(se, "expected_false_confirmed"));
        efp += json_number_value(json_object_get(se, "expected_false_possible"));
        double t = json_number_value(json_object_get(se, "threshold"));
        if (t > threshold) threshold = t;
        size_t k;
        json_t *v;
        json_array_foreach(ap, k, v)
        {
            json_array_append(apps, v);
            const char *last = json_string_value(json_object_get(v, "last_seen"));
            json_t *est = json_object_get(a, "estimate");
            if (last && strcmp(last, best_last) > 0 && json_is_object(est)) {
                json_decref(best_est);
                best_est = json_deep_copy(est);
                snprintf(best_last, sizeof best_last, "%s", last);
            }
        }
        json_array_foreach(fl, k, v) json_array_append(flagged, v);
        json_decref(a);
    }
    if (rc != FT_OK) {
        json_decref(apps), json_decref(flagged), json_decref(best_est), json_decref(root);
        return rc;
    }
    /* time order: an array of the items, sorted, put back */
    size_t na = json_array_size(apps);
    json_t **items = na ? ft__malloc(na * sizeof *items) : NULL;
    if (na && !items) {
        json_decref(apps), json_decref(flagged), json_decref(best_est), json_decref(root);
        return FT_ENOMEM;
    }
    for (size_t i = 0; i < na; i++)
        items[i] = json_incref(json_array_get(apps, i));
    if (na > 1) qsort(items, na, sizeof *items, by_first_seen);
    json_array_clear(apps);
    for (size_t i = 0; i < na; i++)
        json_array_append_new(apps, items[i]);
    ft__free(items);
    json_t *se = json_object();
    json_object_set_new(se, "sightings", json_integer(sightings));
    json_object_set_new(se, "descriptors", json_integer(descriptors));
    json_object_set_new(se, "threshold", num(threshold));
    json_object_set_new(se, "expected_false_confirmed", num(efc));
    json_object_set_new(se, "expected_false_possible", num(efp));
    json_object_set_new(se, "shards", json_integer(n));
    json_object_set_new(se, "shards_asked", json_integer(asked));
    if (n_appearances) *n_appearances = (int)na;
    json_object_set_new(root, "searched", se);
    json_object_set_new(root, "appearances", apps);
    json_object_set_new(root, "flagged", flagged);
    json_object_set_new(root, "estimate", best_est);
    return ft__json_take(root, out);
}

/* ------------------------------------------------------------------------ */
/* Watchlist checks                                                         */
/* ------------------------------------------------------------------------ */

int ft_watch_check(const ft_calibration *cal, const ft_watch *entries, int n, const ft_sighting *s,
                   int64_t gallery, double max_false, double max_fmr, ft_alert *out, int cap)
{
    if (!cal || !s || (n > 0 && !entries) || cap < 0 || !(max_false > 0) ||
        !(max_fmr > 0 && max_fmr <= 1))
        return FT_EINVAL;
    if (gallery < 1) gallery = 1;
    int k = 0;
    for (int e = 0; e < n; e++) {
        const ft_watch *w = &entries[e];
        double best = INFINITY;
        for (int i = 0; i < s->n_desc; i++)
            for (int j = 0; j < w->n_desc; j++) {
                double d = ft_metric_distance(cal->metric, s->desc[i], w->desc[j]);
                if (d < best) best = d;
            }
        if (!isfinite(best)) continue;
        int ex = 0;
        double fmr = ft_calibration_fmr(cal, best, &ex);
        /* the entry is compared with every descriptor of the event */
        double expected = fmr * (double)w->n_desc * (double)gallery;
        if (!(expected <= max_false) || !(fmr <= max_fmr)) continue;
        if (k < cap) {
            ft_alert *a = &out[k];
            memset(a, 0, sizeof *a);
            a->watch_id = w->id;
            snprintf(a->name, sizeof a->name, "%s", w->name);
            a->sighting_id = s->id;
            snprintf(a->camera_id, sizeof a->camera_id, "%s", s->camera_id);
            a->time_us = s->best_us;
            a->distance = best;
            a->expected_false = expected;
            a->score = 1.0 - fmin(1.0, expected);
        }
        k++;
    }
    return k;
}
