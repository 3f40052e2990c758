/*
** search/search.c: a person's appearances along the course from one face
** descriptor.
**
** DESIGN
**   open    every sighting (camera, km, times) and its descriptors go into
**           memory: the descriptors into an ft_index (int8 first pass, exact
**           float re-rank: the same hits as a float scan; ids = sighting
**           row * 4 + n), the rest into a table indexed by row.
**   search  1. the `top` nearest descriptors to each probe (the query
**              descriptors, one per photo; only sightings passing the
**              time/camera filter), best distance per sighting over every
**              probe and every shot of the sighting;
**           2. keep a sighting if its distance is below the threshold at
**              FMR = min(max_false_matches / comparisons, max_fmr), where
**              comparisons = probes x descriptors that pass the filter (the
**              union bound for a minimum over several probes):
**              at most max_false_matches false matches expected in this
**              search, and never a looser rate per comparison than max_fmr
**              however small the gallery (a 20-descriptor event must not
**              match strangers at FMR 1/20). Asked for, weaker candidates up
**              to possible_false_matches are kept too, marked possible;
**           3. per camera, sightings closer in time than merge_gap_s merge
**              into one appearance (best distance, first/last seen);
**           4. course windows (course = 1): the confirmed, plausible
**              appearances of steps 1-3 that expect at most
**              max_false_matches / (cameras - 1) false matches are anchors
**              (a stranger taken as anchor would lead every window to that
**              stranger's own passes: a look-alike runs the course too, so
**              the anchor's own expectation counts once per window). Every
**              camera without
**              one is searched again inside the window in which the person
**              could pass it: from the nearest anchor before it on the
**              course and the nearest after it, at a pace between
**              min_pace_kmh and max_speed_kmh (with anchors at >= 2 places,
**              the fitted pace / pace_band .. x pace_band within those), the
**              windows of both anchors intersected. A window's gallery is
**              the descriptors of that camera inside it (hundreds, where the
**              event has up to a million): its threshold comes from its own
**              gallery, with the budget max_false_matches shared equally by
**              the windows, so a search's confirmed tier expects at most
**              2 x max_false_matches false matches (event-wide + windows;
**              result.expected_false_confirmed). With expand, each window is
**              also searched with the best descriptor of each anchor (the
**              person as the cameras saw them that day), counted as further
**              probes in that window's comparisons. Without an anchor, only
**              the time filters narrow the gallery (a lost child: --since
**              the report time);
**           5. plausibility: appearances are taken strongest first (confirmed
**              before possible, then by expected false matches); one that
**              would need more than max_speed_kmh to or from an already
**              accepted appearance is flagged and left out;
**           6. where now: the pace is the least-squares slope of km over time
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
    int cam;    /* index into cams */
    int n_desc; /* descriptors in the index (ids row * 4 + 0 .. n_desc - 1) */
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
    p.course = 1;
    p.min_pace_kmh = 2.5;
    p.pace_band = 1.5;
    p.expand = 1;
    return p;
}

static int find_cam(const ft_searcher *s, const char *id)
{
    for (int i = 0; i < s->n_cams; i++)
        if (strcmp(s->cams[i].id, id) == 0) return i;
    return -1;
}

/* The row of sighting id (rows are loaded in ascending id order), or -1. */
static int64_t row_of(const ft_searcher *s, int64_t id)
{
    int64_t lo = 0, hi = s->n_s;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (s->s[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_s && s->s[lo].id == id ? lo : -1;
}

/* Room for one more sighting row (doubling). */
static int grow_rows(ft_searcher *s)
{
    if (s->n_s < s->cap_s) return FT_OK;
    int64_t cap = s->cap_s ? 2 * s->cap_s : 1024;
    sight *g = ft__realloc(s->s, (size_t)cap * sizeof *g);
    if (!g) return FT_ENOMEM;
    s->s = g;
    s->cap_s = cap;
    return FT_OK;
}

/* Loading: the sightings first (brief rows, in id order), then every
** descriptor, found by its sighting's id. */
typedef struct loader {
    ft_searcher *s;
    int rc;
} loader;

static int on_sighting(const ft_sighting *si, void *ctx)
{
    loader *L = ctx;
    ft_searcher *s = L->s;
    if (grow_rows(s) != FT_OK) return L->rc = FT_ENOMEM;
    int cam = find_cam(s, si->camera_id);
    if (cam < 0) return L->rc = FT_EFORMAT;
    if (s->n_s > 0 && si->id <= s->s[s->n_s - 1].id) return L->rc = FT_EFORMAT;
    s->s[s->n_s++] = (sight){ si->id, cam, 0, si->first_us, si->last_us, si->best_us };
    if (si->last_us > s->latest_us) s->latest_us = si->last_us;
    return 0;
}

static int on_descriptor(int64_t sighting_id, int n, const float *vec, void *ctx)
{
    loader *L = ctx;
    ft_searcher *s = L->s;
    /* a sighting committed after the sightings were read (a live ingest)
    ** waits for the next open */
    int64_t lo = row_of(s, sighting_id);
    if (lo < 0) return 0;
    if (n < 0 || n > 3) return L->rc = FT_EFORMAT;
    float v[FT_DESCRIPTOR_DIM];
    memcpy(v, vec, sizeof v);
    if (s->metric == FT_METRIC_COSINE) ft_descriptor_normalize(v);
    int rc = ft_index_add(s->index, lo * 4 + n, v);
    if (rc != FT_OK) return L->rc = rc;
    if (n + 1 > s->s[lo].n_desc) s->s[lo].n_desc = n + 1;
    s->n_desc++;
    return 0;
}

int ft_searcher_open(ft_store *st, enum ft_metric metric, ft_searcher **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    ft_searcher *s = ft__calloc(1, sizeof *s);
    if (!s) return ft__errf(err, errlen, FT_ENOMEM, "out of memory");
    s->metric = metric;
    int64_t n_desc = 0;
    int rc = ft_index_create(FT_DESCRIPTOR_DIM, FT_INDEX_I8, &s->index);
    if (rc == FT_OK && ((rc = ft_store_cameras(st, &s->cams, &s->n_cams)) != FT_OK ||
                        (rc = ft_store_stats(st, NULL, NULL, &n_desc, NULL, NULL)) != FT_OK))
        ft__errf(err, errlen, rc, "%s", ft_store_errmsg(st));
    /* room for every descriptor at once: no copying while the index grows */
    if (rc == FT_OK && n_desc > 0 && (rc = ft_index_reserve(s->index, (size_t)n_desc)) != FT_OK)
        ft__errf(err, errlen, rc, "%s", rc == FT_ENOMEM ? "out of memory" : "too many descriptors");
    if (rc == FT_OK) {
        loader L = { s, FT_OK };
        rc = ft_store_sightings_brief(st, on_sighting, &L);
        if (rc == FT_OK) rc = ft_store_foreach_descriptor(st, on_descriptor, &L);
        if (L.rc != FT_OK) rc = L.rc;
        if (rc != FT_OK)
            ft__errf(err, errlen, rc, "loading the sightings: %s",
                     rc == FT_ENOMEM    ? "out of memory"
                     : rc == FT_EFORMAT ? "a descriptor or camera the event does not hold"
                                        : ft_store_errmsg(st));
    }
    if (rc != FT_OK) {
        ft_searcher_close(s);
        return rc;
    }
    *out = s;
    return FT_OK;
}

/* Update: appends each new sighting's row and descriptors. */
typedef struct updater {
    ft_searcher *s;
    int rc;
    int64_t added, last_id;
} updater;

static int on_new(const ft_sighting *si, void *ctx)
{
    updater *U = ctx;
    ft_searcher *s = U->s;
    U->last_id = si->id;
    if (s->n_s > 0 && si->id <= s->s[s->n_s - 1].id) return 0; /* held already */
    int cam = find_cam(s, si->camera_id);
    if (cam < 0) return U->rc = FT_ENOTFOUND, 1;
    if (si->n_desc < 0 || si->n_desc > 3) return U->rc = FT_EFORMAT, 1;
    if (grow_rows(s) != FT_OK) return U->rc = FT_ENOMEM, 1;
    int64_t row = s->n_s;
    int k = 0;
    for (; k < si->n_desc; k++) {
        float v[FT_DESCRIPTOR_DIM];
        memcpy(v, si->desc[k], sizeof v);
        if (s->metric == FT_METRIC_COSINE) ft_descriptor_normalize(v);
        int rc = ft_index_add(s->index, row * 4 + k, v);
        if (rc != FT_OK) {
            for (int j = 0; j < k; j++) /* the row is not kept: nor are its vectors */
                ft_index_remove(s->index, row * 4 + j);
            return U->rc = rc, 1;
        }
    }
    s->s[s->n_s++] = (sight){ si->id, cam, si->n_desc, si->first_us, si->last_us, si->best_us };
    s->n_desc += si->n_desc;
    if (si->last_us > s->latest_us) s->latest_us = si->last_us;
    U->added++;
    return 0;
}

int ft_searcher_update(ft_searcher *s, ft_store *st, int64_t *added, char *err, size_t errlen)
{
    if (added) *added = 0;
    if (!s || !st) return ft__errf(err, errlen, FT_EINVAL, "no searcher or store");
    updater U = { s, FT_OK, 0, s->n_s ? s->s[s->n_s - 1].id : 0 };
    for (;;) {
        int64_t before = U.last_id, n0 = U.added;
        int rc = ft_store_sightings_after(st, U.last_id, 1024, on_new, &U);
        if (U.rc != FT_OK) rc = U.rc;
        if (rc != FT_OK) {
            if (added) *added = U.added;
            return ft__errf(err, errlen, rc, "updating the searcher: %s",
                            rc == FT_ENOTFOUND ? "a sighting of a camera added since it was opened"
                            : rc == FT_ENOMEM  ? "out of memory"
                                               : ft_store_errmsg(st));
        }
        if (U.last_id == before || U.added == n0) break;
    }
    if (added) *added = U.added;
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

size_t ft_searcher_memory(const ft_searcher *s)
{
    if (!s) return 0;
    return sizeof *s + ft_index_memory(s->index) + (size_t)s->cap_s * sizeof *s->s +
           (size_t)s->n_cams * sizeof *s->cams;
}

/* The calling thread's last search message: searches of one searcher may
** run on several threads at once, and share nothing they write. */
static _Thread_local char tl_errmsg[256];

const char *ft_searcher_errmsg(const ft_searcher *s)
{
    return s ? tl_errmsg : "no searcher";
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

/* Which sightings a pass looks at: one camera (or all) in [since, until]. */
typedef struct filter_ctx {
    const ft_searcher *s;
    int cam; /* -1: all */
    int64_t since_us, until_us;
} filter_ctx;

static int in_filter(const filter_ctx *f, const sight *x)
{
    if (f->cam >= 0 && x->cam != f->cam) return 0;
    return x->best_us >= f->since_us && x->best_us <= f->until_us;
}

static int keep(int64_t id, void *ctx)
{
    filter_ctx *f = ctx;
    return in_filter(f, &f->s->s[id / 4]);
}

/* Descriptors of the sightings that pass f: the gallery of a pass. */
static int64_t gallery_of(const ft_searcher *s, const filter_ctx *f)
{
    int64_t n = 0;
    for (int64_t i = 0; i < s->n_s; i++)
        if (in_filter(f, &s->s[i])) n += s->s[i].n_desc;
    return n;
}

typedef struct match {
    int64_t row;
    double distance;
} match;

static int cmp_match_row(const void *a, const void *b)
{
    const match *x = a, *y = b;
    if (x->row != y->row) return x->row < y->row ? -1 : 1;
    return x->distance < y->distance ? -1 : x->distance > y->distance;
}

static int cmp_match_time(const void *a, const void *b, void *ctx)
{
    const ft_searcher *s = ctx;
    const sight *x = &s->s[((const match *)a)->row], *y = &s->s[((const match *)b)->row];
    if (x->cam != y->cam) return x->cam - y->cam;
    if (x->first_us != y->first_us) return x->first_us < y->first_us ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The sightings passing f within keep_below of any of the n probes (each
** FT_DESCRIPTOR_DIM floats, already normalised for the metric), with their
** best distance over probes and shots, sorted by camera and time. *out is
** freed by the caller. */
static int collect(const ft_searcher *s, const float *probes, int n, int top, filter_ctx *f,
                   double keep_below, match **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    ft_index_hit *hits = ft__malloc((size_t)top * sizeof *hits);
    match *m = ft__malloc((size_t)top * (size_t)n * sizeof *m);
    if (!hits || !m) {
        ft__free(hits);
        ft__free(m);
        return FT_ENOMEM;
    }
    ft_index_filter filter = { keep, f };
    int n_m = 0, rc = FT_OK;
    for (int q = 0; q < n && rc == FT_OK; q++) {
        int n_hits = 0;
        rc = ft_index_search(s->index, probes + (size_t)q * FT_DESCRIPTOR_DIM, top, &filter, hits,
                             &n_hits);
        for (int i = 0; rc == FT_OK && i < n_hits; i++)
            if (hits[i].distance < keep_below)
                m[n_m++] = (match){ hits[i].id / 4, hits[i].distance };
    }
    ft__free(hits);
    if (rc != FT_OK) {
        ft__free(m);
        return rc;
    }
    /* best per sighting: sorted by row then distance, keep each row's first */
    qsort(m, (size_t)n_m, sizeof *m, cmp_match_row);
    int k = 0;
    for (int i = 0; i < n_m; i++)
        if (k == 0 || m[k - 1].row != m[i].row) m[k++] = m[i];
    qsort_r(m, (size_t)k, sizeof *m, cmp_match_time, (void *)s);
    *out = m;
    *n_out = k;
    return FT_OK;
}

/* A growing list of appearances. */
typedef struct app_list {
    ft_appearance *a;
    int n, cap;
} app_list;

static ft_appearance *app_push(app_list *L)
{
    if (L->n == L->cap) {
        int cap = L->cap ? 2 * L->cap : 64;
        ft_appearance *g = ft__realloc(L->a, (size_t)cap * sizeof *g);
        if (!g) return NULL;
        L->a = g;
        L->cap = cap;
    }
    ft_appearance *a = &L->a[L->n++];
    memset(a, 0, sizeof *a);
    return a;
}

/* How the matches of one pass are scored. */
typedef struct pass_info {
    const ft_calibration *cal;
    double comparisons; /* probes x gallery descriptors */
    double threshold;   /* below: confirmed; else possible */
    int64_t gallery;
    int window;
    int64_t from_us, to_us;
    double merge_gap_s;
} pass_info;

/* Merges matches (sorted by camera and time) into appearances, appended to
** L and scored as pi says. */
static int merge(const ft_searcher *s, const match *m, int n_m, const pass_info *pi, app_list *L)
{
    int first = L->n;
    for (int i = 0; i < n_m; i++) {
        const sight *x = &s->s[m[i].row];
        ft_appearance *a = L->n > first ? &L->a[L->n - 1] : NULL;
        int same = a && strcmp(a->camera_id, s->cams[x->cam].id) == 0 &&
                   (double)(x->first_us - a->last_us) <= pi->merge_gap_s * 1e6;
        if (!same) {
            if (!(a = app_push(L))) return FT_ENOMEM;
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
    for (int i = first; i < L->n; i++) {
        ft_appearance *a = &L->a[i];
        a->expected_false = ft_calibration_expected_false_matches(
            pi->cal, a->distance, pi->comparisons, &a->extrapolated);
        a->score = 1.0 - fmin(1.0, a->expected_false);
        a->possible = !(a->distance < pi->threshold);
        a->plausible = 1;
        a->window = pi->window;
        a->gallery = pi->gallery;
        a->window_from_us = pi->window ? pi->from_us : 0;
        a->window_to_us = pi->window ? pi->to_us : 0;
    }
    return FT_OK;
}

/* Confirmed by a person first, then confirmed before possible, then by
** expected false matches, distance, time. */
static int cmp_app_strength(const void *a, const void *b)
{
    const ft_appearance *x = a, *y = b;
    if (x->by_person != y->by_person) return y->by_person - x->by_person;
    if (x->possible != y->possible) return x->possible - y->possible;
    if (x->expected_false != y->expected_false)
        return x->expected_false < y->expected_false ? -1 : 1;
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

/* Sorts L strongest first and marks each appearance that needs more than
** max_speed from an already accepted, stronger one. */
static void check_plausible(app_list *L, double max_speed)
{
    if (L->n == 0) return;
    qsort(L->a, (size_t)L->n, sizeof *L->a, cmp_app_strength);
    for (int i = 0; i < L->n; i++) {
        ft_appearance *a = &L->a[i];
        a->plausible = 1;
        a->why[0] = 0;
        for (int j = 0; j < i; j++) {
            if (!L->a[j].plausible) continue;
            double v = speed_between(a, &L->a[j]);
            if (v > max_speed) {
                a->plausible = 0;
                if (isinf(v))
                    snprintf(a->why, sizeof a->why, "at the same time as a stronger match at %s",
                             L->a[j].camera_id);
                else
                    snprintf(a->why, sizeof a->why,
                             "would need %.0f km/h from a stronger match at %s", v,
                             L->a[j].camera_id);
                break;
            }
        }
    }
}

/* Least-squares pace (km/h) of the confirmed plausible appearances of L
** (mid times); NaN without two distinct places or for a pace <= 0. */
static double fitted_pace(const ft_appearance *apps, int n_apps, int anchors_only)
{
    double n = 0, st = 0, sk = 0, stt = 0, stk = 0, kmin = INFINITY, kmax = -INFINITY;
    int64_t t0 = 0;
    for (int i = 0; i < n_apps; i++) {
        const ft_appearance *a = &apps[i];
        if (a->possible || !a->plausible || (anchors_only && !a->anchor)) continue;
        if (n == 0) t0 = a->first_us;
        double t = ((a->first_us + a->last_us) / 2 - t0) / 3.6e9;
        n += 1, st += t, sk += a->km, stt += t * t, stk += t * a->km;
        kmin = fmin(kmin, a->km), kmax = fmax(kmax, a->km);
    }
    double den = n * stt - st * st;
    if (!(kmax > kmin) || !(den > 0)) return NAN;
    double pace = (n * stk - st * sk) / den;
    return pace > 0 ? pace : NAN;
}

/* The time window in which a person seen at anchor a could pass km, at a
** pace in [v_lo, v_hi] km/h (merge_gap_s of slack at one place). */
static void window_from(const ft_appearance *a, double km, double v_lo, double v_hi, double slack_s,
                        int64_t *lo, int64_t *hi)
{
    double d = fabs(km - a->km);
    if (d == 0) {
        *lo = a->first_us - (int64_t)(slack_s * 1e6);
        *hi = a->last_us + (int64_t)(slack_s * 1e6);
    } else if (km > a->km) {
        *lo = a->first_us + (int64_t)(d / v_hi * 3.6e9);
        *hi = a->last_us + (int64_t)(d / v_lo * 3.6e9);
    } else {
        *lo = a->first_us - (int64_t)(d / v_lo * 3.6e9);
        *hi = a->last_us - (int64_t)(d / v_hi * 3.6e9);
    }
}

/* Step 6: where the person is now (ft_estimate). */
static void estimate(const ft_searcher *s, const ft_search_result *r, int64_t at_us, ft_estimate *e)
{
    memset(e, 0, sizeof *e);
    e->pace_kmh = NAN;
    /* the least-squares pace through the matches' mid times; possible
    ** candidates are for a person to judge and never move it */
    const ft_appearance *last = NULL;
    for (int i = 0; i < r->n_appearances; i++)
        if (!r->appearances[i].possible) last = &r->appearances[i];
    if (!last) return;
    e->valid = 1;
    e->at_us = at_us;
    double pace = fitted_pace(r->appearances, r->n_appearances, 0);
    if (isfinite(pace)) {
        e->pace_kmh = pace;
        e->pace_from_fit = 1;
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

/* A camera to search again, and how. */
typedef struct window {
    int cam;
    int64_t from_us, to_us;
    int64_t gallery;
} window;

static int fail(ft_searcher *s, int rc, const char *msg)
{
    (void)s;
    snprintf(tl_errmsg, sizeof tl_errmsg, "%s", msg);
    return rc;
}

/* The threshold at which comparisons expect `budget` false matches, at a
** rate per comparison of at most cap. */
static int threshold_for(const ft_calibration *cal, double budget, double comparisons, double cap,
                         double *fmr, double *thr, int *extrapolated)
{
    double r = comparisons > 0 ? budget / comparisons : 1.0;
    if (r > cap) r = cap;
    *fmr = r;
    int ex = 0;
    int rc = ft_calibration_threshold(cal, r, thr, &ex);
    if (extrapolated) *extrapolated = ex;
    return rc;
}

/* The sightings a person confirmed (p->confirmed): each becomes a
** confirmed appearance of L (an event-wide one that holds it is marked),
** scored as the event-wide pass scores. FT_EINVAL for an unknown id. */
static int add_confirmed(ft_searcher *s, const float *q, int nq, const ft_search_params *p,
                         const pass_info *pi, app_list *L)
{
    for (int k = 0; k < p->n_confirmed; k++) {
        int64_t id = p->confirmed[k], row = row_of(s, id);
        if (row < 0) return FT_EINVAL;
        const sight *x = &s->s[row];
        ft_appearance *a = NULL;
        for (int i = 0; i < L->n && !a; i++)
            if (!strcmp(L->a[i].camera_id, s->cams[x->cam].id) && L->a[i].first_us <= x->last_us &&
                L->a[i].last_us >= x->first_us)
                a = &L->a[i];
        if (!a) {
            if (!(a = app_push(L))) return FT_ENOMEM;
            snprintf(a->camera_id, sizeof a->camera_id, "%s", s->cams[x->cam].id);
            a->km = s->cams[x->cam].km;
            a->first_us = x->first_us;
            a->last_us = x->last_us;
            a->best_sighting = id;
            a->tracks = 1;
            a->distance = INFINITY;
            float v[FT_DESCRIPTOR_DIM];
            for (int j = 0; j < x->n_desc; j++) {
                if (ft_index_get(s->index, row * 4 + j, v) != FT_OK) continue;
                for (int i = 0; i < nq; i++) {
                    double d = ft_metric_distance(s->metric, q + (size_t)i * FT_DESCRIPTOR_DIM, v);
                    if (d < a->distance) a->distance = d;
                }
            }
            a->expected_false = ft_calibration_expected_false_matches(
                pi->cal, a->distance, pi->comparisons, &a->extrapolated);
            a->score = 1.0 - fmin(1.0, a->expected_false);
            a->gallery = pi->gallery;
        }
        a->by_person = 1;
        a->possible = 0;
        a->plausible = 1;
    }
    return FT_OK;
}

/* Step 4: the windows of the cameras without a confirmed appearance in L,
** from its confirmed plausible appearances (the anchors), searched and
** merged into L. */
static int course_windows(ft_searcher *s, const float *q, int nq, const ft_search_params *p,
                          const ft_calibration *cal, app_list *L, ft_search_result *out)
{
    if (s->n_cams < 2) return FT_OK;
    /* an anchor that is a stranger would lead every window to that
    ** stranger's own passes (a look-alike is a runner too): an anchor must
    ** expect at most max_false_matches false matches over all the windows
    ** it opens */
    double anchor_max = p->max_false_matches / (s->n_cams - 1), anchor_false = 0;
    int n_anchor = 0;
    for (int i = 0; i < L->n; i++) {
        ft_appearance *a = &L->a[i];
        a->anchor =
            a->by_person || (!a->possible && a->plausible && a->expected_false <= anchor_max);
        n_anchor += a->anchor;
        if (a->anchor && !a->by_person) anchor_false += a->expected_false;
    }
    out->anchors = n_anchor;
    if (n_anchor == 0) return FT_OK;
    double v_lo = p->min_pace_kmh, v_hi = p->max_speed_kmh;
    double pace = fitted_pace(L->a, L->n, 1);
    if (isfinite(pace)) {
        v_lo = fmax(v_lo, pace / p->pace_band);
        v_hi = fmin(v_hi, pace * p->pace_band);
        if (!(v_lo < v_hi)) v_lo = p->min_pace_kmh, v_hi = p->max_speed_kmh;
    }
    window *w = ft__calloc((size_t)s->n_cams, sizeof *w);
    if (!w) return FT_ENOMEM;
    int n_w = 0;
    for (int c = 0; c < s->n_cams; c++) {
        double km = s->cams[c].km;
        const ft_appearance *before = NULL, *after = NULL;
        int confirmed_here = 0;
        for (int i = 0; i < L->n; i++) {
            const ft_appearance *a = &L->a[i];
            if (a->possible || !a->plausible) continue;
            if (strcmp(a->camera_id, s->cams[c].id) == 0) confirmed_here = 1;
            if (!a->anchor) continue;
            if (a->km <= km && (!before || a->km > before->km)) before = a;
            if (a->km >= km && (!after || a->km < after->km)) after = a;
        }
        if (confirmed_here) continue;
        int64_t lo = INT64_MIN, hi = INT64_MAX, l2, h2;
        if (before) window_from(before, km, v_lo, v_hi, p->merge_gap_s, &lo, &hi);
        if (after) {
            window_from(after, km, v_lo, v_hi, p->merge_gap_s, &l2, &h2);
            if (!before || (l2 <= hi && h2 >= lo)) { /* intersect; disjoint: the nearer */
                lo = before ? (l2 > lo ? l2 : lo) : l2;
                hi = before ? (h2 < hi ? h2 : hi) : h2;
            } else if (fabs(after->km - km) < fabs(km - before->km)) {
                lo = l2, hi = h2;
            }
        }
        if (lo < p->since_us) lo = p->since_us;
        if (hi > p->until_us) hi = p->until_us;
        if (lo > hi) continue;
        filter_ctx f = { s, c, lo, hi };
        int64_t g = gallery_of(s, &f);
        if (g > 0) w[n_w++] = (window){ c, lo, hi, g };
    }
    out->windows = n_w;
    /* were an anchor a stranger, each window could add one false match */
    out->expected_false_confirmed += anchor_false * n_w;
    /* probes: the query descriptors, then each anchor's closest descriptor */
    float *probes =
        ft__malloc((size_t)FT_SEARCH_MAX_PROBES * 2 * FT_DESCRIPTOR_DIM * sizeof(float));
    if (!probes) {
        ft__free(w);
        return FT_ENOMEM;
    }
    memcpy(probes, q, (size_t)nq * FT_DESCRIPTOR_DIM * sizeof(float));
    int np = nq;
    for (int i = 0; p->expand && i < L->n && np < 2 * FT_SEARCH_MAX_PROBES; i++) {
        const ft_appearance *a = &L->a[i];
        if (!a->anchor) continue;
        int64_t row = row_of(s, a->best_sighting);
        if (row < 0) continue;
        float best[FT_DESCRIPTOR_DIM], v[FT_DESCRIPTOR_DIM];
        double bd = INFINITY;
        for (int j = 0; j < s->s[row].n_desc; j++) {
            if (ft_index_get(s->index, row * 4 + j, v) != FT_OK) continue;
            for (int k = 0; k < nq; k++) {
                double d = ft_metric_distance(s->metric, q + (size_t)k * FT_DESCRIPTOR_DIM, v);
                if (d < bd) bd = d, memcpy(best, v, sizeof v);
            }
        }
        if (isfinite(bd)) memcpy(probes + (size_t)np++ * FT_DESCRIPTOR_DIM, best, sizeof best);
    }
    int rc = FT_OK;
    double budget = p->max_false_matches / n_w;
    double possible_budget = p->possible_false_matches / n_w;
    for (int i = 0; rc == FT_OK && i < n_w; i++) {
        double comparisons = (double)np * (double)w[i].gallery, fmr, thr, pfmr, pthr = 0;
        rc = threshold_for(cal, budget, comparisons, p->max_fmr, &fmr, &thr, NULL);
        double keep_below = thr;
        if (rc == FT_OK && p->possible_false_matches > p->max_false_matches) {
            rc = threshold_for(cal, possible_budget, comparisons, 1.0, &pfmr, &pthr, NULL);
            if (pthr > keep_below) keep_below = pthr;
            out->expected_false_possible += pfmr * comparisons;
        }
        if (rc != FT_OK) break;
        out->expected_false_confirmed += fmr * comparisons;
        /* the window supersedes the event-wide possible candidates inside it */
        int k = 0;
        for (int j = 0; j < L->n; j++) {
            const ft_appearance *a = &L->a[j];
            if (!a->window && strcmp(a->camera_id, s->cams[w[i].cam].id) == 0 &&
                a->last_us >= w[i].from_us && a->first_us <= w[i].to_us)
                continue;
            L->a[k++] = *a;
        }
        L->n = k;
        filter_ctx f = { s, w[i].cam, w[i].from_us, w[i].to_us };
        match *m = NULL;
        int n_m = 0;
        rc = collect(s, probes, np, p->top, &f, keep_below, &m, &n_m);
        out->candidates += n_m;
        pass_info pi = { cal, comparisons,  thr,        w[i].gallery,
                         1,   w[i].from_us, w[i].to_us, p->merge_gap_s };
        if (rc == FT_OK) rc = merge(s, m, n_m, &pi, L);
        ft__free(m);
    }
    ft__free(probes);
    ft__free(w);
    return rc;
}

int ft_searcher_search_multi(ft_searcher *s, const float *queries, int nq,
                             const ft_search_params *p, ft_search_result *out)
{
    memset(out, 0, sizeof *out);
    tl_errmsg[0] = 0;
    if (!queries || nq < 1 || nq > FT_SEARCH_MAX_PROBES)
        return fail(s, FT_EINVAL, "1 to 16 query descriptors");
    if (!p || p->top < 1 || p->top > 100000) return fail(s, FT_EINVAL, "top must be 1..100000");
    if (!(p->max_speed_kmh > 0) || !(p->merge_gap_s >= 0) || !(p->max_false_matches > 0) ||
        !(p->max_fmr > 0 && p->max_fmr <= 1) || !(p->possible_false_matches >= 0))
        return fail(s, FT_EINVAL, "bad speed, merge gap or false-match bound");
    if (p->n_confirmed < 0 || (p->n_confirmed > 0 && !p->confirmed))
        return fail(s, FT_EINVAL, "bad list of confirmed sightings");
    if (p->course &&
        (!(p->min_pace_kmh > 0 && p->min_pace_kmh < p->max_speed_kmh) || !(p->pace_band >= 1)))
        return fail(s, FT_EINVAL, "bad pace band for course windows");
    const ft_calibration *cal = p->cal ? p->cal : ft_calibration_default();
    if (cal->metric != s->metric)
        return fail(s, FT_EINVAL, "the calibration is for another distance metric");
    int cam = -1;
    if (p->camera_id && (cam = find_cam(s, p->camera_id)) < 0)
        return fail(s, FT_EINVAL, "no such camera");
    float *q = ft__malloc((size_t)nq * FT_DESCRIPTOR_DIM * sizeof *q);
    if (!q) return fail(s, FT_ENOMEM, "out of memory");
    for (int i = 0; i < nq * FT_DESCRIPTOR_DIM; i++) {
        if (!isfinite(queries[i])) {
            ft__free(q);
            return fail(s, FT_EINVAL, "the query descriptor is not finite");
        }
        q[i] = queries[i];
    }
    if (s->metric == FT_METRIC_COSINE)
        for (int i = 0; i < nq; i++)
            ft_descriptor_normalize(q + (size_t)i * FT_DESCRIPTOR_DIM);

    for (int k = 0; k < p->n_confirmed; k++) {
        if (row_of(s, p->confirmed[k]) < 0) {
            ft__free(q);
            return fail(s, FT_EINVAL, "a confirmed sighting is not in this event");
        }
    }
    /* 1-3: event-wide, within the filters */
    filter_ctx f = { s, cam, p->since_us, p->until_us };
    int64_t G = gallery_of(s, &f);
    double comparisons = (double)nq * (double)G;
    out->gallery = G;
    out->probes = nq;
    int rc = threshold_for(cal, p->max_false_matches, comparisons, p->max_fmr, &out->fmr,
                           &out->threshold, &out->threshold_extrapolated);
    double keep_below = out->threshold;
    if (rc == FT_OK && p->possible_false_matches > p->max_false_matches) {
        double pf;
        rc = threshold_for(cal, p->possible_false_matches, comparisons, 1.0, &pf,
                           &out->possible_threshold, NULL);
        if (out->possible_threshold > keep_below) keep_below = out->possible_threshold;
        out->expected_false_possible = pf * comparisons;
    }
    if (rc != FT_OK) {
        ft__free(q);
        return fail(s, rc, "calibration failed");
    }
    out->expected_false_confirmed = out->fmr * comparisons;
    app_list L = { NULL, 0, 0 };
    if (G > 0) {
        match *m = NULL;
        int n_m = 0;
        rc = collect(s, q, nq, p->top, &f, keep_below, &m, &n_m);
        out->candidates = n_m;
        pass_info pi = { cal, comparisons, out->threshold, G, 0, 0, 0, p->merge_gap_s };
        if (rc == FT_OK) rc = merge(s, m, n_m, &pi, &L);
        ft__free(m);
        if (rc == FT_OK && p->n_confirmed > 0) {
            rc = add_confirmed(s, q, nq, p, &pi, &L);
            if (rc == FT_EINVAL) {
                ft__free(L.a);
                ft__free(q);
                return fail(s, rc, "a confirmed sighting is not in this event");
            }
        }
        /* 4: course windows from the plausible confirmed appearances */
        if (rc == FT_OK) check_plausible(&L, p->max_speed_kmh);
        if (rc == FT_OK && p->course && cam < 0) rc = course_windows(s, q, nq, p, cal, &L, out);
        /* 5: plausibility over everything */
        if (rc == FT_OK) check_plausible(&L, p->max_speed_kmh);
    }
    if (rc == FT_OK) {
        out->appearances = ft__calloc((size_t)(L.n ? L.n : 1), sizeof *out->appearances);
        out->flagged = ft__calloc((size_t)(L.n ? L.n : 1), sizeof *out->flagged);
        if (!out->appearances || !out->flagged) rc = FT_ENOMEM;
    }
    for (int i = 0; rc == FT_OK && i < L.n; i++) {
        if (L.a[i].plausible)
            out->appearances[out->n_appearances++] = L.a[i];
        else
            out->flagged[out->n_flagged++] = L.a[i];
    }
    if (rc == FT_OK) {
        qsort(out->appearances, (size_t)out->n_appearances, sizeof *L.a, cmp_app_time);
        qsort(out->flagged, (size_t)out->n_flagged, sizeof *L.a, cmp_app_time);
        estimate(s, out, p->at_us ? p->at_us : s->latest_us, &out->estimate);
    }
    ft__free(L.a);
    ft__free(q);
    if (rc != FT_OK) {
        ft_search_result_free(out);
        return fail(s, rc, rc == FT_ENOMEM ? "out of memory" : "index search failed");
    }
    return FT_OK;
}

int ft_searcher_search(ft_searcher *s, const float query[FT_DESCRIPTOR_DIM],
                       const ft_search_params *p, ft_search_result *out)
{
    return ft_searcher_search_multi(s, query, 1, p, out);
}
