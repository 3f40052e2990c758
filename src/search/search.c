/*
** search/search.c: a person's appearances along the course from one face
** descriptor.
**
** DESIGN
**   open    every sighting (camera, km, times) and its descriptors go into
**           memory: the descriptors into an ft_index (int8 first pass, exact
**           float re-rank: the same hits as a float scan; ids = sighting
**           row * 4 + n), the rest into a table indexed by row.
**   search  1. the `top` nearest descriptors (only sightings passing the
**              time/camera filter), best distance per sighting;
**           2. keep a sighting if its distance is below the threshold at
**              FMR = min(max_false_matches / descriptors compared, max_fmr):
**              at most max_false_matches false matches expected in this
**              search, and never a looser rate per comparison than max_fmr
**              however small the gallery (a 20-descriptor event must not
**              match strangers at FMR 1/20). Asked for, weaker candidates up
**              to possible_false_matches are kept too, marked possible;
**           3. per camera, sightings closer in time than merge_gap_s merge
**              into one appearance (best distance, first/last seen);
**           4. plausibility: appearances are taken strongest first; one that
**              would need more than max_speed_kmh to or from an already
**              accepted appearance is flagged and left out;
**           5. where now: the pace is the least-squares slope of km over time
**              of the accepted appearances (>= 2 distinct km), else a typical
**              pace (10 km/h, flagged as assumed); the position at at_us is
**              extrapolated from the last appearance, capped at the course end;
**              the next camera is the first beyond it, with its ETA.
**
** INVARIANTS  (1) the timeline is sorted by first_us; every appearance in it
**                 is plausible against every stronger one.
**             (2) a score is never higher than the calibration supports.
** OWNERSHIP   Results own their arrays (ft_search_result_free).
*/
#include "facetrail/search.h"
#include "core/core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TYPICAL_PACE_KMH 10.0

typedef struct sight {
    int64_t id;
    int cam;        /* index into cams */
    int64_t first_us, last_us, best_us;
} sight;

struct ft_searcher {
    enum ft_metric metric;
    ft_index *index;
    ft_camera *cams;
    int n_cams;
    sight *s;
    int64_t n_s, cap_s;
    int64_t n_desc;
    int64_t latest_us;
    char errmsg[256];
};

ft_search_params ft_search_default_params(void)
{
    ft_search_params p;
    memset(&p, 0, sizeof p);
    p.top = 300;
    p.since_us = INT64_MIN;
    p.until_us = INT64_MAX;
    p.max_speed_kmh = 25;
    p.merge_gap_s = 60;
    p.max_false_matches = FT_SEARCH_MAX_FALSE;
    p.max_fmr = FT_SEARCH_MAX_FMR;
    p.possible_false_matches = 0;
    return p;
}

static int find_cam(const ft_searcher *s, const char *id)
{
    for (int i = 0; i < s->n_cams; i++)
        if (strcmp(s->cams[i].id, id) == 0) return i;
    return -1;
}

typedef struct loader {
    ft_searcher *s;
    int rc;
} loader;

static int on_sighting(const ft_sighting *si, void *ctx)
{
    loader *L = ctx;
    ft_searcher *s = L->s;
    if (s->n_s == s->cap_s) {
        int64_t cap = s->cap_s ? 2 * s->cap_s : 1024;
        sight *g = ft__realloc(s->s, (size_t)cap * sizeof *g);
        if (!g) return L->rc = FT_ENOMEM;
        s->s = g;
        s->cap_s = cap;
    }
    int cam = find_cam(s, si->camera_id);
    if (cam < 0) return L->rc = FT_EFORMAT;
    int64_t row = s->n_s;
    s->s[s->n_s++] = (sight){ si->id, cam, si->first_us, si->last_us, si->best_us };
    if (si->last_us > s->latest_us) s->latest_us = si->last_us;
    for (int n = 0; n < si->n_desc; n++) {
        float v[FT_DESCRIPTOR_DIM];
        memcpy(v, si->desc[n], sizeof v);
        if (s->metric == FT_METRIC_COSINE) ft_descriptor_normalize(v);
        int rc = ft_index_add(s->index, row * 4 + n, v);
        if (rc != FT_OK) return L->rc = rc;
        s->n_desc++;
    }
    return 0;
}

int ft_searcher_open(ft_store *st, enum ft_metric metric, ft_searcher **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    ft_searcher *s = ft__calloc(1, sizeof *s);
    if (!s) return ft__errf(err, errlen, FT_ENOMEM, "out of memory");
    s->metric = metric;
    int rc = ft_index_create(FT_DESCRIPTOR_DIM, FT_INDEX_I8, &s->index);
    if (rc == FT_OK && (rc = ft_store_cameras(st, &s->cams, &s->n_cams)) != FT_OK)
        ft__errf(err, errlen, rc, "%s", ft_store_errmsg(st));
    if (rc == FT_OK) {
        loader L = { s, FT_OK };
        rc = ft_store_sightings_between(st, INT64_MIN, INT64_MAX, NULL, on_sighting, &L);
        if (L.rc != FT_OK) rc = L.rc;
        if (rc != FT_OK)
            ft__errf(err, errlen, rc, "loading the sightings: %s",
                     rc == FT_ENOMEM ? "out of memory" : ft_store_errmsg(st));
    }
    if (rc != FT_OK) {
        ft_searcher_close(s);
        return rc;
    }
    *out = s;
    return FT_OK;
}

void ft_searcher_close(ft_searcher *s)
{
    if (!s) return;
    ft_index_destroy(s->index);
    ft_store_free(s->cams);
    ft__free(s->s);
    ft__free(s);
}

int64_t ft_searcher_sightings(const ft_searcher *s)
{
    return s->n_s;
}

int64_t ft_searcher_descriptors(const ft_searcher *s)
{
    return s->n_desc;
}

int64_t ft_searcher_latest_us(const ft_searcher *s)
{
    return s->latest_us;
}

const char *ft_searcher_errmsg(const ft_searcher *s)
{
    return s ? s->errmsg : "no searcher";
}

void ft_search_result_free(ft_search_result *r)
{
    if (!r) return;
    ft__free(r->appearances);
    ft__free(r->flagged);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------------ */
/* Search                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct filter_ctx {
    const ft_searcher *s;
    const ft_search_params *p;
    int cam;
} filter_ctx;

static int keep(int64_t id, void *ctx)
{
    filter_ctx *f = ctx;
    const sight *x = &f->s->s[id / 4];
    if (f->cam >= 0 && x->cam != f->cam) return 0;
    return x->best_us >= f->p->since_us && x->best_us <= f->p->until_us;
}

typedef struct match {
    int64_t row;
    double distance;
} match;

static int cmp_match_time(const void *a, const void *b, void *ctx)
{
    const ft_searcher *s = ctx;
    const sight *x = &s->s[((const match *)a)->row], *y = &s->s[((const match *)b)->row];
    if (x->cam != y->cam) return x->cam - y->cam;
    if (x->first_us != y->first_us) return x->first_us < y->first_us ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_app_distance(const void *a, const void *b)
{
    const ft_appearance *x = a, *y = b;
    if (x->distance != y->distance) return x->distance < y->distance ? -1 : 1;
    return x->first_us < y->first_us ? -1 : x->first_us > y->first_us;
}

static int cmp_app_time(const void *a, const void *b)
{
    const ft_appearance *x = a, *y = b;
    if (x->first_us != y->first_us) return x->first_us < y->first_us ? -1 : 1;
    return strcmp(x->camera_id, y->camera_id);
}

/* Speed (km/h) needed between appearances a and b; INFINITY if they overlap
** in time at different places. */
static double speed_between(const ft_appearance *a, const ft_appearance *b)
{
    double dkm = fabs(a->km - b->km);
    if (dkm == 0) return 0;
    const ft_appearance *early = a->first_us <= b->first_us ? a : b;
    const ft_appearance *late = early == a ? b : a;
    double dt_h = (double)(late->first_us - early->last_us) / 3.6e9;
    return dt_h > 0 ? dkm / dt_h : INFINITY;
}

static void estimate(const ft_searcher *s, const ft_search_result *r, int64_t at_us,
                     ft_estimate *e)
{
    memset(e, 0, sizeof *e);
    e->pace_kmh = NAN;
    /* least-squares km over time (hours) through the matches' mid times;
    ** possible candidates are for a person to judge and never move it */
    double n = 0, st = 0, sk = 0, stt = 0, stk = 0, kmin = INFINITY, kmax = -INFINITY;
    const ft_appearance *first = NULL, *last = NULL;
    for (int i = 0; i < r->n_appearances; i++) {
        const ft_appearance *a = &r->appearances[i];
        if (a->possible) continue;
        if (!first) first = a;
        last = a;
        double t = ((a->first_us + a->last_us) / 2 - first->first_us) / 3.6e9;
        n += 1, st += t, sk += a->km, stt += t * t, stk += t * a->km;
        kmin = fmin(kmin, a->km), kmax = fmax(kmax, a->km);
    }
    if (!last) return;
    e->valid = 1;
    e->at_us = at_us;
    double den = n * stt - st * st;
    if (kmax > kmin && den > 0) {
        double pace = (n * stk - st * sk) / den;
        if (pace > 0) {
            e->pace_kmh = pace;
            e->pace_from_fit = 1;
        }
    }
    if (!e->pace_from_fit) e->pace_kmh = TYPICAL_PACE_KMH;
    double dt_h = (double)(at_us - last->last_us) / 3.6e9;
    if (dt_h < 0) dt_h = 0;
    double course_end = s->n_cams ? s->cams[s->n_cams - 1].km : last->km;
    e->km = last->km + e->pace_kmh * dt_h;
    if (e->km > course_end && last->km <= course_end) e->km = course_end;
    for (int i = 0; i < s->n_cams; i++) {
        if (s->cams[i].km > e->km + 1e-9) {
            e->has_next = 1;
            snprintf(e->next_camera, sizeof e->next_camera, "%s", s->cams[i].id);
            e->next_km = s->cams[i].km;
            double h = (s->cams[i].km - last->km) / e->pace_kmh;
            e->eta_us = last->last_us + (int64_t)(h * 3.6e9);
            break;
        }
    }
}

static int fail(ft_searcher *s, int rc, const char *msg)
{
    snprintf(s->errmsg, sizeof s->errmsg, "%s", msg);
    return rc;
}

int ft_searcher_search(ft_searcher *s, const float query[FT_DESCRIPTOR_DIM],
                       const ft_search_params *p, ft_search_result *out)
{
    memset(out, 0, sizeof *out);
    s->errmsg[0] = 0;
    if (!p || p->top < 1 || p->top > 100000) return fail(s, FT_EINVAL, "top must be 1..100000");
    if (!(p->max_speed_kmh > 0) || !(p->merge_gap_s >= 0) || !(p->max_false_matches > 0) ||
        !(p->max_fmr > 0 && p->max_fmr <= 1) || !(p->possible_false_matches >= 0))
        return fail(s, FT_EINVAL, "bad speed, merge gap or false-match bound");
    const ft_calibration *cal = p->cal ? p->cal : ft_calibration_default();
    if (cal->metric != s->metric)
        return fail(s, FT_EINVAL, "the calibration is for another distance metric");
    int cam = -1;
    if (p->camera_id && (cam = find_cam(s, p->camera_id)) < 0)
        return fail(s, FT_EINVAL, "no such camera");
    for (int i = 0; i < FT_DESCRIPTOR_DIM; i++)
        if (!isfinite(query[i])) return fail(s, FT_EINVAL, "the query descriptor is not finite");

    out->gallery = s->n_desc;
    /* the threshold at which max_false_matches are expected in this gallery,
    ** never at a looser rate per comparison than max_fmr */
    double fmr = s->n_desc > 0 ? p->max_false_matches / (double)s->n_desc : 1.0;
    if (fmr > p->max_fmr) fmr = p->max_fmr;
    out->fmr = fmr;
    int rc = ft_calibration_threshold(cal, fmr, &out->threshold, &out->threshold_extrapolated);
    if (rc != FT_OK) return fail(s, rc, "calibration failed");
    double keep_below = out->threshold;
    if (p->possible_false_matches > p->max_false_matches) {
        double pf = s->n_desc > 0 ? p->possible_false_matches / (double)s->n_desc : 1.0;
        if (pf > 1) pf = 1;
        int ex;
        rc = ft_calibration_threshold(cal, pf, &out->possible_threshold, &ex);
        if (rc != FT_OK) return fail(s, rc, "calibration failed");
        if (out->possible_threshold > keep_below) keep_below = out->possible_threshold;
    }
    if (s->n_desc == 0) return FT_OK;

    float q[FT_DESCRIPTOR_DIM];
    memcpy(q, query, sizeof q);
    if (s->metric == FT_METRIC_COSINE) ft_descriptor_normalize(q);
    int k = p->top;
    ft_index_hit *hits = ft__malloc((size_t)k * sizeof *hits);
    match *m = ft__malloc((size_t)k * sizeof *m);
    ft_appearance *apps = ft__calloc((size_t)k, sizeof *apps);
    rc = hits && m && apps ? FT_OK : FT_ENOMEM;
    filter_ctx fc = { s, p, cam };
    ft_index_filter filter = { keep, &fc };
    int n_hits = 0, n_m = 0, n_apps = 0;
    if (rc == FT_OK) rc = ft_index_search(s->index, q, k, &filter, hits, &n_hits);
    /* best distance per sighting, within the threshold */
    for (int i = 0; rc == FT_OK && i < n_hits; i++) {
        if (!(hits[i].distance < keep_below)) continue;
        int64_t row = hits[i].id / 4;
        int j = 0;
        while (j < n_m && m[j].row != row) j++;
        if (j == n_m) m[n_m++] = (match){ row, hits[i].distance };
        else if (hits[i].distance < m[j].distance) m[j].distance = hits[i].distance;
    }
    out->candidates = n_m;
    if (rc == FT_OK) qsort_r(m, (size_t)n_m, sizeof *m, cmp_match_time, s);
    /* merge per camera */
    for (int i = 0; rc == FT_OK && i < n_m; i++) {
        const sight *x = &s->s[m[i].row];
        ft_appearance *a = n_apps ? &apps[n_apps - 1] : NULL;
        int same = a && strcmp(a->camera_id, s->cams[x->cam].id) == 0 &&
                   (double)(x->first_us - a->last_us) <= p->merge_gap_s * 1e6;
        if (!same) {
            a = &apps[n_apps++];
            snprintf(a->camera_id, sizeof a->camera_id, "%s", s->cams[x->cam].id);
            a->km = s->cams[x->cam].km;
            a->first_us = x->first_us;
            a->last_us = x->last_us;
            a->distance = INFINITY;
        }
        if (x->last_us > a->last_us) a->last_us = x->last_us;
        if (m[i].distance < a->distance) {
            a->distance = m[i].distance;
            a->best_sighting = x->id;
        }
        a->tracks++;
    }
    for (int i = 0; i < n_apps; i++) {
        ft_appearance *a = &apps[i];
        a->expected_false = ft_calibration_expected_false_matches(cal, a->distance,
                                                                  (double)s->n_desc,
                                                                  &a->extrapolated);
        a->score = 1.0 - fmin(1.0, a->expected_false);
        a->possible = !(a->distance < out->threshold);
        a->plausible = 1;
    }
    /* plausibility, strongest first */
    qsort(apps, (size_t)n_apps, sizeof *apps, cmp_app_distance);
    for (int i = 0; i < n_apps; i++)
        for (int j = 0; j < i; j++) {
            if (!apps[j].plausible) continue;
            double v = speed_between(&apps[i], &apps[j]);
            if (v > p->max_speed_kmh) {
                apps[i].plausible = 0;
                if (isinf(v))
                    snprintf(apps[i].why, sizeof apps[i].why,
                             "at the same time as a stronger match at %s", apps[j].camera_id);
                else
                    snprintf(apps[i].why, sizeof apps[i].why,
                             "would need %.0f km/h from a stronger match at %s", v,
                             apps[j].camera_id);
                break;
            }
        }
    if (rc == FT_OK) {
        out->appearances = ft__calloc((size_t)(n_apps ? n_apps : 1), sizeof *out->appearances);
        out->flagged = ft__calloc((size_t)(n_apps ? n_apps : 1), sizeof *out->flagged);
        if (!out->appearances || !out->flagged) rc = FT_ENOMEM;
    }
    for (int i = 0; rc == FT_OK && i < n_apps; i++) {
        if (apps[i].plausible) out->appearances[out->n_appearances++] = apps[i];
        else out->flagged[out->n_flagged++] = apps[i];
    }
    if (rc == FT_OK) {
        qsort(out->appearances, (size_t)out->n_appearances, sizeof *apps, cmp_app_time);
        qsort(out->flagged, (size_t)out->n_flagged, sizeof *apps, cmp_app_time);
        estimate(s, out, p->at_us ? p->at_us : s->latest_us, &out->estimate);
    }
    ft__free(hits);
    ft__free(m);
    ft__free(apps);
    if (rc != FT_OK) {
        ft_search_result_free(out);
        return fail(s, rc, rc == FT_ENOMEM ? "out of memory" : "index search failed");
    }
    return FT_OK;
}
