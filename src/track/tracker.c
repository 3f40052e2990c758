/*
** track/tracker.c: turns per-frame face detections of one video into tracks.
**
** DESIGN
**   One tracker per video stream, stepped once per sampled frame. Each live
**   track predicts its box (last box moved by its smoothed centre velocity).
**   A detection may match a track when it overlaps the prediction (IoU >=
**   iou_min) or, for fast motion at low frame rates, when its centre lies
**   within centre_gate box heights of the predicted centre and the sizes agree
**   within a factor 1.6. A track seen once has no velocity yet: its gate is
**   first_gate heights around its box (a runner crossing a lateral camera
**   moves 1-2 face heights between frames at 5 frames/s). When both have descriptors, a distance above
**   desc_max vetoes the match, and the descriptor distance enters the cost,
**   so that crossing runners are not swapped. Matching is greedy on the cost
**   (lowest first), which is deterministic: ties go to the lower track, then
**   the lower detection index.
**
** STATES      TENTATIVE --hits >= confirm_hits--> CONFIRMED
**             TENTATIVE --misses > 1--------------> (dropped: a blip)
**             CONFIRMED --misses > max_misses-----> FINISHED  [ft__tracker_update]
**             any live  --flush-------------------> FINISHED or dropped
**
** INVARIANTS  (1) track keys are unique per stream and never reused:
**                 first pts * 256 + the detection's index in that frame.
**             (2) a detection is assigned to at most one track per frame.
**             (3) shots[0..n_shots) are sorted by quality, best first.
** OWNERSHIP   The tracker owns its tracks and their thumbnails; finished
**             tracks stay until ft__tracker_drop_finished.
** THREADS     Not thread-safe; one tracker per stream.
*/
#include "track/track.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ft__tracker {
    ft__tracker_params p;
    ft__track *live;
    int n_live, cap_live;
    ft__track *done;
    int n_done, cap_done;
};

ft__tracker_params ft__tracker_default_params(void)
{
    ft__tracker_params p = { 0.1, 0.8, 2.5, 0.75, 2, 3 };
    return p;
}

int ft__tracker_create(const ft__tracker_params *p, ft__tracker **out)
{
    *out = NULL;
    ft__tracker *tr = ft__calloc(1, sizeof *tr);
    if (!tr) return FT_ENOMEM;
    tr->p = p ? *p : ft__tracker_default_params();
    *out = tr;
    return FT_OK;
}

void ft__track_fini(ft__track *t)
{
    for (int i = 0; i < t->n_shots; i++) {
        ft__free(t->shots[i].thumb);
        t->shots[i].thumb = NULL;
        t->shots[i].thumb_len = 0;
    }
    t->n_shots = 0;
}

void ft__tracker_destroy(ft__tracker *tr)
{
    if (!tr) return;
    for (int i = 0; i < tr->n_live; i++) ft__track_fini(&tr->live[i]);
    for (int i = 0; i < tr->n_done; i++) ft__track_fini(&tr->done[i]);
    ft__free(tr->live);
    ft__free(tr->done);
    ft__free(tr);
}

static double iou(const double *a, const double *b)
{
    double x0 = fmax(a[0], b[0]), y0 = fmax(a[1], b[1]);
    double x1 = fmin(a[0] + a[2], b[0] + b[2]), y1 = fmin(a[1] + a[3], b[1] + b[3]);
    double inter = fmax(0, x1 - x0) * fmax(0, y1 - y0);
    double uni = a[2] * a[3] + b[2] * b[3] - inter;
    return uni > 0 ? inter / uni : 0;
}

static void predict(const ft__track *t, double out[4])
{
    int gap = t->misses + 1; /* frames since the last match */
    out[0] = t->box[0] + t->vel[0] * gap;
    out[1] = t->box[1] + t->vel[1] * gap;
    out[2] = t->box[2];
    out[3] = t->box[3];
}

static float desc_dist(const float *a, const float *b)
{
    double s = 0;
    for (int i = 0; i < 128; i++) {
        double d = (double)a[i] - b[i];
        s += d * d;
    }
    return (float)sqrt(s);
}

/* Cost of matching det to track (lower is better), or INFINITY if gated out. */
static double match_cost(const ft__tracker_params *p, const ft__track *t, const ft__track_det *d)
{
    double pb[4];
    predict(t, pb);
    double ov = iou(pb, d->box);
    double cost;
    if (ov >= p->iou_min) {
        cost = 1.0 - ov;
    } else {
        double h = fmax(pb[3], d->box[3]);
        double dx = (pb[0] + pb[2] / 2) - (d->box[0] + d->box[2] / 2);
        double dy = (pb[1] + pb[3] / 2) - (d->box[1] + d->box[3] / 2);
        double rel = sqrt(dx * dx + dy * dy) / h;
        double ratio = d->box[3] / pb[3];
        double gate = t->hits < 2 ? p->first_gate : p->centre_gate;
        if (rel > gate || ratio > 1.6 || ratio < 1 / 1.6) return INFINITY;
        cost = 1.0 + rel;
    }
    if (d->desc && t->has_last_desc) {
        float dd = desc_dist(d->desc, t->last_desc);
        if (dd > p->desc_max) return INFINITY;
        cost += dd;
    }
    return cost;
}

void ft__tracker_ambiguous(const ft__tracker *tr, const ft__track_det *dets, int n,
                           int *ambiguous)
{
    for (int i = 0; i < n; i++) ambiguous[i] = 0;
    for (int t = 0; t < tr->n_live; t++) {
        int cands = 0;
        for (int i = 0; i < n; i++)
            if (isfinite(match_cost(&tr->p, &tr->live[t], &dets[i]))) cands++;
        for (int i = 0; i < n && cands > 1; i++)
            if (isfinite(match_cost(&tr->p, &tr->live[t], &dets[i]))) ambiguous[i] = 1;
    }
    for (int i = 0; i < n; i++) {
        int cands = 0;
        for (int t = 0; t < tr->n_live; t++)
            if (isfinite(match_cost(&tr->p, &tr->live[t], &dets[i]))) cands++;
        if (cands > 1) ambiguous[i] = 1;
    }
}

typedef struct pair {
    double cost;
    int t, d;
} pair;

static int cmp_pair(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? -1 : 1;
    if (x->t != y->t) return x->t - y->t;
    return x->d - y->d;
}

static int push_track(ft__track **v, int *n, int *cap, const ft__track *t)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        ft__track *g = ft__realloc(*v, (size_t)nc * sizeof *g);
        if (!g) return FT_ENOMEM;
        *v = g;
        *cap = nc;
    }
    (*v)[(*n)++] = *t;
    return FT_OK;
}

/* Moves live track i out: to the finished list if confirmed, else freed. */
static int end_track(ft__tracker *tr, int i)
{
    ft__track t = tr->live[i];
    memmove(&tr->live[i], &tr->live[i + 1], (size_t)(tr->n_live - i - 1) * sizeof t);
    tr->n_live--;
    if (t.state != FT__TRACK_CONFIRMED) {
        ft__track_fini(&t);
        return FT_OK;
    }
    t.state = FT__TRACK_FINISHED;
    int rc = push_track(&tr->done, &tr->n_done, &tr->cap_done, &t);
    if (rc != FT_OK) ft__track_fini(&t);
    return rc;
}

int ft__tracker_update(ft__tracker *tr, int64_t pts_us, const ft__track_det *dets, int n,
                       int *assign)
{
    int rc = FT_OK;
    size_t np = (size_t)tr->n_live * (size_t)n;
    pair *pairs = ft__malloc((np ? np : 1) * sizeof *pairs);
    int *track_taken = ft__calloc((size_t)(tr->n_live ? tr->n_live : 1), sizeof *track_taken);
    if (!pairs || !track_taken) {
        ft__free(pairs);
        ft__free(track_taken);
        return FT_ENOMEM;
    }
    size_t k = 0;
    for (int t = 0; t < tr->n_live; t++)
        for (int d = 0; d < n; d++) {
            double c = match_cost(&tr->p, &tr->live[t], &dets[d]);
            if (isfinite(c)) pairs[k++] = (pair){ c, t, d };
        }
    qsort(pairs, k, sizeof *pairs, cmp_pair);
    for (int d = 0; d < n; d++) assign[d] = -1;
    for (size_t i = 0; i < k; i++) {
        if (track_taken[pairs[i].t] || assign[pairs[i].d] >= 0) continue;
        track_taken[pairs[i].t] = 1;
        assign[pairs[i].d] = pairs[i].t;
    }
    /* update matched tracks */
    for (int d = 0; d < n; d++) {
        if (assign[d] < 0) continue;
        ft__track *t = &tr->live[assign[d]];
        int gap = t->misses + 1;
        double cx = dets[d].box[0] + dets[d].box[2] / 2, cy = dets[d].box[1] + dets[d].box[3] / 2;
        double px = t->box[0] + t->box[2] / 2, py = t->box[1] + t->box[3] / 2;
        double vx = (cx - px) / gap, vy = (cy - py) / gap;
        t->vel[0] = t->hits > 1 ? 0.5 * t->vel[0] + 0.5 * vx : vx;
        t->vel[1] = t->hits > 1 ? 0.5 * t->vel[1] + 0.5 * vy : vy;
        memcpy(t->box, dets[d].box, sizeof t->box);
        t->hits++;
        t->n_frames++;
        t->misses = 0;
        t->last_us = pts_us;
        if (dets[d].desc) {
            memcpy(t->last_desc, dets[d].desc, sizeof t->last_desc);
            t->has_last_desc = 1;
        }
        if (t->state == FT__TRACK_TENTATIVE && t->hits >= tr->p.confirm_hits)
            t->state = FT__TRACK_CONFIRMED;
    }
    /* age unmatched tracks; end those past their allowance (from the back, so
    ** that indices in assign[] of matched tracks stay valid: we remap below) */
    int n_before = tr->n_live;
    int *remap = ft__malloc((size_t)(n_before ? n_before : 1) * sizeof *remap);
    if (!remap) {
        rc = FT_ENOMEM;
        goto done;
    }
    for (int t = 0; t < n_before; t++) remap[t] = t;
    for (int t = n_before - 1; t >= 0 && rc == FT_OK; t--) {
        if (track_taken[t]) continue;
        ft__track *tk = &tr->live[t];
        tk->misses++;
        int limit = tk->state == FT__TRACK_TENTATIVE ? 1 : tr->p.max_misses;
        if (tk->misses > limit) {
            rc = end_track(tr, t);
            remap[t] = -1;
            for (int u = t + 1; u < n_before; u++)
                if (remap[u] >= 0) remap[u]--;
        }
    }
    for (int d = 0; d < n; d++)
        if (assign[d] >= 0) assign[d] = remap[assign[d]];
    /* new tracks for unmatched detections */
    for (int d = 0; d < n && rc == FT_OK; d++) {
        if (assign[d] >= 0) continue;
        ft__track t;
        memset(&t, 0, sizeof t);
        t.key = pts_us * 256 + (d < 255 ? d : 255);
        t.state = tr->p.confirm_hits <= 1 ? FT__TRACK_CONFIRMED : FT__TRACK_TENTATIVE;
        t.hits = 1;
        t.n_frames = 1;
        memcpy(t.box, dets[d].box, sizeof t.box);
        t.first_us = t.last_us = pts_us;
        if (dets[d].desc) {
            memcpy(t.last_desc, dets[d].desc, sizeof t.last_desc);
            t.has_last_desc = 1;
        }
        rc = push_track(&tr->live, &tr->n_live, &tr->cap_live, &t);
        if (rc == FT_OK) assign[d] = tr->n_live - 1;
    }
done:
    ft__free(remap);
    ft__free(pairs);
    ft__free(track_taken);
    return rc;
}

void ft__tracker_flush(ft__tracker *tr)
{
    while (tr->n_live > 0)
        if (end_track(tr, tr->n_live - 1) != FT_OK) {
            /* out of memory: the track is lost, but nothing leaks */
        }
}

ft__track *ft__tracker_live(ft__tracker *tr, int *n)
{
    *n = tr->n_live;
    return tr->live;
}

ft__track *ft__tracker_finished(ft__tracker *tr, int *n)
{
    *n = tr->n_done;
    return tr->done;
}

void ft__tracker_drop_finished(ft__tracker *tr)
{
    for (int i = 0; i < tr->n_done; i++) ft__track_fini(&tr->done[i]);
    tr->n_done = 0;
}

int ft__track_offer(ft__track *t, float quality, int64_t pts_us, const double box[4],
                    double score)
{
    int slot = t->n_shots;
    if (slot == FT__TRACK_SHOTS) {
        if (quality <= t->shots[FT__TRACK_SHOTS - 1].quality) return -1;
        slot = FT__TRACK_SHOTS - 1;
        ft__free(t->shots[slot].thumb);
    } else {
        t->n_shots++;
    }
    /* insertion: move worse shots down */
    while (slot > 0 && t->shots[slot - 1].quality < quality) {
        t->shots[slot] = t->shots[slot - 1];
        slot--;
    }
    ft__shot *s = &t->shots[slot];
    memset(s, 0, sizeof *s);
    s->quality = quality;
    s->pts_us = pts_us;
    memcpy(s->box, box, sizeof s->box);
    s->score = score;
    return slot;
}

/* ------------------------------------------------------------------------ */
/* Saved state                                                              */
/* ------------------------------------------------------------------------ */

#define STATE_MAGIC   0x53545446u /* "FTTS" */
#define STATE_VERSION 1u

typedef struct wbuf {
    unsigned char *p;
    size_t n, cap;
    int err;
} wbuf;

static void put(wbuf *b, const void *v, size_t n)
{
    if (b->err) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + n) cap *= 2;
        unsigned char *g = ft__realloc(b->p, cap);
        if (!g) {
            b->err = 1;
            return;
        }
        b->p = g;
        b->cap = cap;
    }
    memcpy(b->p + b->n, v, n); /* the host is little-endian (x86-64, arm64) */
    b->n += n;
}

#define PUT(b, v) put(b, &(v), sizeof(v))

int ft__tracker_save(const ft__tracker *tr, unsigned char **out, size_t *out_len)
{
    wbuf b = { 0 };
    uint32_t magic = STATE_MAGIC, version = STATE_VERSION, n = (uint32_t)tr->n_live;
    PUT(&b, magic);
    PUT(&b, version);
    PUT(&b, n);
    for (int i = 0; i < tr->n_live; i++) {
        const ft__track *t = &tr->live[i];
        int32_t st = t->state, ns = t->n_shots, hd = t->has_last_desc;
        PUT(&b, t->key);
        PUT(&b, st);
        PUT(&b, t->hits);
        PUT(&b, t->misses);
        PUT(&b, t->n_frames);
        put(&b, t->box, sizeof t->box);
        put(&b, t->vel, sizeof t->vel);
        PUT(&b, t->first_us);
        PUT(&b, t->last_us);
        PUT(&b, hd);
        put(&b, t->last_desc, sizeof t->last_desc);
        PUT(&b, ns);
        for (int k = 0; k < t->n_shots; k++) {
            const ft__shot *s = &t->shots[k];
            int32_t has = s->has_desc;
            uint32_t tl = (uint32_t)s->thumb_len;
            PUT(&b, s->quality);
            PUT(&b, s->pts_us);
            put(&b, s->box, sizeof s->box);
            PUT(&b, s->score);
            PUT(&b, has);
            put(&b, s->desc, sizeof s->desc);
            PUT(&b, tl);
            if (tl) put(&b, s->thumb, tl);
        }
    }
    if (b.err) {
        ft__free(b.p);
        return FT_ENOMEM;
    }
    *out = b.p;
    *out_len = b.n;
    return FT_OK;
}

typedef struct rbuf {
    const unsigned char *p;
    size_t n, at;
    int err;
} rbuf;

static void get(rbuf *b, void *v, size_t n)
{
    if (b->err || b->n - b->at < n) {
        b->err = 1;
        memset(v, 0, n);
        return;
    }
    memcpy(v, b->p + b->at, n);
    b->at += n;
}

#define GET(b, v) get(b, &(v), sizeof(v))

static void clear_live(ft__tracker *tr)
{
    for (int i = 0; i < tr->n_live; i++) ft__track_fini(&tr->live[i]);
    tr->n_live = 0;
}

int ft__tracker_load(ft__tracker *tr, const unsigned char *buf, size_t len)
{
    clear_live(tr);
    rbuf b = { buf, len, 0, 0 };
    uint32_t magic, version, n;
    GET(&b, magic);
    GET(&b, version);
    GET(&b, n);
    if (b.err || magic != STATE_MAGIC || version != STATE_VERSION || n > len / 64)
        return FT_EFORMAT;
    for (uint32_t i = 0; i < n; i++) {
        ft__track t;
        memset(&t, 0, sizeof t);
        int32_t st, ns, hd;
        GET(&b, t.key);
        GET(&b, st);
        GET(&b, t.hits);
        GET(&b, t.misses);
        GET(&b, t.n_frames);
        get(&b, t.box, sizeof t.box);
        get(&b, t.vel, sizeof t.vel);
        GET(&b, t.first_us);
        GET(&b, t.last_us);
        GET(&b, hd);
        get(&b, t.last_desc, sizeof t.last_desc);
        GET(&b, ns);
        if (b.err || st < FT__TRACK_TENTATIVE || st > FT__TRACK_CONFIRMED || ns < 0 ||
            ns > FT__TRACK_SHOTS)
            goto bad;
        t.state = (enum ft__track_state)st;
        t.has_last_desc = hd != 0;
        for (int k = 0; k < ns; k++) {
            ft__shot *s = &t.shots[k];
            int32_t has;
            uint32_t tl;
            GET(&b, s->quality);
            GET(&b, s->pts_us);
            get(&b, s->box, sizeof s->box);
            GET(&b, s->score);
            GET(&b, has);
            get(&b, s->desc, sizeof s->desc);
            GET(&b, tl);
            s->has_desc = has != 0;
            t.n_shots = k + 1;
            if (b.err || tl > len - b.at) goto bad_track;
            if (tl) {
                s->thumb = ft__malloc(tl);
                if (!s->thumb) {
                    ft__track_fini(&t);
                    clear_live(tr);
                    return FT_ENOMEM;
                }
                get(&b, s->thumb, tl);
                s->thumb_len = tl;
            }
        }
        if (push_track(&tr->live, &tr->n_live, &tr->cap_live, &t) != FT_OK) {
            ft__track_fini(&t);
            clear_live(tr);
            return FT_ENOMEM;
        }
        continue;
    bad_track:
        ft__track_fini(&t);
        goto bad;
    }
    if (b.at != len) goto bad;
    return FT_OK;
bad:
    clear_live(tr);
    return FT_EFORMAT;
}
