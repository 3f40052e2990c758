/*
** tools/cmd_search.c: `facetrail search`, where has this person been seen?
**
** DESIGN
**   The query photo's face (the largest, or --face N by size order) is
**   described with the settings ingest uses, searched (facetrail/search.h),
**   and the answer printed as a readable timeline (default), JSON (--json) or
**   one self-contained HTML page (--html FILE: thumbnails inline, a course
**   strip with the cameras and the sightings, the timeline, the estimate).
**   Feedback on the query comes first: no face (exit 2), several faces (which
**   one was used), a face too small or too poor for a reliable search.
*/
#include "cli.h"

#include "facetrail/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MIN_RELIABLE_PX 60    /* face height below which a search is unreliable */
#define MIN_RELIABLE_Q  0.25f /* quality below which, likewise */

const char search_usage[] =
    "usage: facetrail search --db DB [options] PHOTO\n"
    "\n"
    "Finds where the person in PHOTO was seen: the cameras, when, how sure, and\n"
    "where the person probably is now. Sightings of one camera close in time\n"
    "are merged into one appearance; an appearance that would need an\n"
    "impossible speed given stronger ones is flagged and left out.\n"
    "Scores are honest: each appearance says how many false matches to expect\n"
    "at its distance among all the sightings searched (calibrated on LFW).\n"
    "\n"
    "options:\n"
    "  --db DB               the event database\n"
    "  --top N               nearest descriptors examined (default 300)\n"
    "  --since T, --until T  only sightings in this time range (ISO 8601)\n"
    "  --at T                the time for 'where now' (default: the latest in DB)\n"
    "  --camera ID           only this camera\n"
    "  --face N              use the N-th largest face of PHOTO (default 1)\n"
    "  --max-false X         keep matches expecting at most X false matches (default 1)\n"
    "  --max-speed KMH       faster is implausible (default 25)\n"
    "  --json                JSON on stdout\n"
    "  --html FILE           also write a self-contained HTML report\n"
    "  --models DIR          model folder (default $FT_MODEL_DIR, else " DEFAULT_MODEL_DIR ")\n"
    "  --threads N           worker threads (default 1; more only on an idle machine)\n"
    "  -h, --help            this text\n"
    "\n"
    "JSON: {\"query\":{...},\"appearances\":[{\"camera\",\"km\",\"first_seen\",\"last_seen\",\n"
    "\"score\",\"expected_false_matches\",\"distance\",\"tracks\",\"thumbnail\"}],\"flagged\":[...],\n"
    "\"estimate\":{\"km\",\"at\",\"pace_kmh\",\"next_camera\",\"eta\"}}  (times ISO 8601 UTC,\n"
    "thumbnails as data: URIs)\n"
    "\n"
    "exit status: 0 answered (even with no appearance), 2 error (no face in PHOTO, ...)\n";

/* ------------------------------------------------------------------------ */
/* Query face                                                               */
/* ------------------------------------------------------------------------ */

typedef struct query {
    const char *path;
    int width, height;
    int n_faces, used; /* used: 1-based, by size */
    ft_face face;
    float quality;
    char warning[200];
} query;

static int cmp_area_desc(const void *a, const void *b)
{
    const ft_face *x = a, *y = b;
    double ax = x->box[2] * x->box[3], ay = y->box[2] * y->box[3];
    return ax < ay ? 1 : ax > ay ? -1 : 0;
}

static int query_face(ft_engine *eng, const ft_image *img, int want, query *q)
{
    ft_ingest_params ip = ft_ingest_default_params(); /* describe as ingest did */
    ft_detect_params dp = ip.detect;
    dp.tile_px = 0;
    dp.with_descriptor = 0;
    struct faces fs = { 0 };
    const char *msg = NULL;
    int rc = detect_faces(eng, img, &dp, &fs, &msg);
    if (rc == FT_OK && fs.n == 0 && (img->width > 1024 || img->height > 1024)) {
        dp.tile_px = 512; /* a small face in a large photo */
        rc = detect_faces(eng, img, &dp, &fs, &msg);
    }
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail search: %s: %s\n", q->path, msg);
        faces_free(&fs);
        return CLI_ERROR;
    }
    q->n_faces = fs.n;
    if (fs.n == 0) {
        fprintf(stderr, "facetrail search: %s: no face found; use a photo where the face is "
                        "visible, frontal and at least %d pixels tall\n",
                q->path, MIN_RELIABLE_PX);
        faces_free(&fs);
        return CLI_ERROR;
    }
    qsort(fs.v, (size_t)fs.n, sizeof *fs.v, cmp_area_desc);
    if (want > fs.n) {
        fprintf(stderr, "facetrail search: %s has %d face%s; --face %d does not exist\n", q->path,
                fs.n, fs.n > 1 ? "s" : "", want);
        faces_free(&fs);
        return CLI_ERROR;
    }
    q->used = want;
    q->face = fs.v[want - 1];
    faces_free(&fs);
    if ((rc = ft_engine_describe(eng, img, &dp, &q->face)) != FT_OK || !q->face.has_descriptor) {
        fprintf(stderr, "facetrail search: %s: %s\n", q->path,
                rc ? ft_engine_errmsg(eng) : "the face is cut off by the photo's border");
        return CLI_ERROR;
    }
    q->quality = ft_face_quality(img, &q->face);
    if (q->face.box[3] < MIN_RELIABLE_PX)
        snprintf(q->warning, sizeof q->warning,
                 "the face is only %.0f px tall (below %d): matches are less reliable",
                 q->face.box[3], MIN_RELIABLE_PX);
    else if (q->quality < MIN_RELIABLE_Q)
        snprintf(q->warning, sizeof q->warning,
                 "the face is blurred, turned or poorly detected (quality %.2f): matches are "
                 "less reliable",
                 q->quality);
    return CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* Thumbnails                                                               */
/* ------------------------------------------------------------------------ */

static void put_base64(FILE *f, const unsigned char *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        fputc(t[v >> 18 & 63], f);
        fputc(t[v >> 12 & 63], f);
        fputc(i + 1 < n ? t[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? t[v & 63] : '=', f);
    }
}

/* Writes "data:image/jpeg;base64,..." for a sighting's thumbnail (or nothing). */
static int put_thumb(FILE *f, ft_store *st, int64_t sighting)
{
    ft_sighting s;
    unsigned char *jpg = NULL;
    if (ft_store_sighting_get(st, sighting, &s, &jpg) != FT_OK || !jpg) return 0;
    fputs("data:image/jpeg;base64,", f);
    put_base64(f, jpg, s.thumbnail_len);
    ft_store_free(jpg);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */
/* ------------------------------------------------------------------------ */

static const char *strength(const ft_appearance *a)
{
    return a->expected_false <= 0.01 ? "strong" : a->expected_false <= 0.1 ? "good" : "weak";
}

static void hhmmss(int64_t us, char buf[40])
{
    char t[40];
    format_time(us, t);
    snprintf(buf, 40, "%.8s", t + 11);
}

static void print_text(const query *q, const ft_searcher *s, const ft_search_result *r)
{
    printf("query: %s, face %d of %d%s, %.0f px tall, quality %.2f\n", q->path, q->used,
           q->n_faces, q->n_faces > 1 ? " (by size; --face N picks another)" : "",
           q->face.box[3], q->quality);
    if (q->warning[0]) printf("warning: %s\n", q->warning);
    printf("searched %lld descriptors of %lld sightings; match threshold %.3f (at most "
           "about 1 false match expected%s)\n",
           (long long)ft_searcher_descriptors(s), (long long)ft_searcher_sightings(s),
           r->threshold, r->threshold_extrapolated ? "; extrapolated calibration" : "");
    if (r->n_appearances == 0) {
        printf("no appearance: this person was not seen by any camera (or not recognisably)\n");
    } else {
        printf("\ntimeline (%d appearance%s):\n", r->n_appearances,
               r->n_appearances > 1 ? "s" : "");
        for (int i = 0; i < r->n_appearances; i++) {
            const ft_appearance *a = &r->appearances[i];
            char t0[40], t1[40];
            hhmmss(a->first_us, t0);
            hhmmss(a->last_us, t1);
            printf("  %s-%s  %-12s km %6.2f  %-6s score %.3f (%.2g false matches expected)  "
                   "%d track%s\n",
                   t0, t1, a->camera_id, a->km, strength(a), a->score, a->expected_false,
                   a->tracks, a->tracks > 1 ? "s" : "");
        }
    }
    for (int i = 0; i < r->n_flagged; i++) {
        const ft_appearance *a = &r->flagged[i];
        char t0[40];
        hhmmss(a->first_us, t0);
        printf("  flagged: %s %s (km %.2f) %s\n", t0, a->camera_id, a->km, a->why);
    }
    const ft_estimate *e = &r->estimate;
    if (e->valid) {
        char at[40], eta[40];
        format_time(e->at_us, at);
        printf("\nwhere now (at %s): about km %.2f, pace %.1f km/h (%s)", at, e->km, e->pace_kmh,
               e->pace_from_fit ? "from the appearances" : "assumed: one appearance only");
        if (e->has_next) {
            format_time(e->eta_us, eta);
            printf("; next camera %s (km %.2f) around %s", e->next_camera, e->next_km, eta);
        }
        printf("\n");
    }
}

static void json_appearance(struct jw *w, ft_store *st, const ft_appearance *a)
{
    char t[40];
    jw_item(w);
    jw_open(w, '{');
    jw_key(w, "camera");
    jw_str(w, a->camera_id);
    jw_key(w, "km");
    jw_double(w, a->km);
    jw_key(w, "first_seen");
    format_time(a->first_us, t);
    jw_str(w, t);
    jw_key(w, "last_seen");
    format_time(a->last_us, t);
    jw_str(w, t);
    jw_key(w, "score");
    jw_double(w, a->score);
    jw_key(w, "strength");
    jw_str(w, strength(a));
    jw_key(w, "expected_false_matches");
    jw_double(w, a->expected_false);
    jw_key(w, "distance");
    jw_double(w, a->distance);
    jw_key(w, "tracks");
    jw_int(w, a->tracks);
    jw_key(w, "sighting");
    jw_int(w, a->best_sighting);
    if (!a->plausible) {
        jw_key(w, "why");
        jw_str(w, a->why);
    }
    jw_key(w, "thumbnail");
    fputc('"', w->f);
    put_thumb(w->f, st, a->best_sighting);
    fputc('"', w->f);
    jw_close(w);
}

static void print_json(const query *q, const ft_searcher *s, ft_store *st,
                       const ft_search_result *r)
{
    struct jw w;
    char t[40];
    jw_init(&w, stdout, 0);
    jw_open(&w, '{');
    jw_key(&w, "query");
    jw_open(&w, '{');
    jw_key(&w, "file");
    jw_str(&w, q->path);
    jw_key(&w, "faces");
    jw_int(&w, q->n_faces);
    jw_key(&w, "face");
    jw_int(&w, q->used);
    jw_key(&w, "box");
    jw_doubles(&w, q->face.box, 4);
    jw_key(&w, "quality");
    jw_double(&w, q->quality);
    if (q->warning[0]) {
        jw_key(&w, "warning");
        jw_str(&w, q->warning);
    }
    jw_close(&w);
    jw_key(&w, "searched");
    jw_open(&w, '{');
    jw_key(&w, "sightings");
    jw_int(&w, ft_searcher_sightings(s));
    jw_key(&w, "descriptors");
    jw_int(&w, ft_searcher_descriptors(s));
    jw_key(&w, "threshold");
    jw_double(&w, r->threshold);
    jw_key(&w, "threshold_extrapolated");
    jw_bool(&w, r->threshold_extrapolated);
    jw_close(&w);
    jw_key(&w, "appearances");
    jw_open(&w, '[');
    for (int i = 0; i < r->n_appearances; i++) json_appearance(&w, st, &r->appearances[i]);
    jw_close(&w);
    jw_key(&w, "flagged");
    jw_open(&w, '[');
    for (int i = 0; i < r->n_flagged; i++) json_appearance(&w, st, &r->flagged[i]);
    jw_close(&w);
    jw_key(&w, "estimate");
    if (!r->estimate.valid) {
        fputs("null", w.f);
    } else {
        const ft_estimate *e = &r->estimate;
        jw_open(&w, '{');
        jw_key(&w, "km");
        jw_double(&w, e->km);
        jw_key(&w, "at");
        format_time(e->at_us, t);
        jw_str(&w, t);
        jw_key(&w, "pace_kmh");
        jw_double(&w, e->pace_kmh);
        jw_key(&w, "pace_assumed");
        jw_bool(&w, !e->pace_from_fit);
        jw_key(&w, "next_camera");
        if (e->has_next) jw_str(&w, e->next_camera);
        else fputs("null", w.f);
        jw_key(&w, "eta");
        if (e->has_next) {
            format_time(e->eta_us, t);
            jw_str(&w, t);
        } else {
            fputs("null", w.f);
        }
        jw_close(&w);
    }
    jw_close(&w);
    jw_end_line(&w);
}

static void html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

static int write_html(const char *path, const query *q, const ft_image *photo,
                      const ft_searcher *s, ft_store *st, const ft_search_result *r)
{
    (void)photo;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "facetrail search: cannot write %s\n", path);
        return CLI_ERROR;
    }
    ft_camera *cams = NULL;
    int n_cams = 0;
    ft_store_cameras(st, &cams, &n_cams);
    double kmax = 1;
    for (int i = 0; i < n_cams; i++) kmax = fmax(kmax, cams[i].km);
    fputs("<!doctype html><html><head><meta charset=\"utf-8\"><title>facetrail search</title>"
          "<style>body{font-family:sans-serif;margin:24px;color:#222}"
          "table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;"
          "text-align:left}img{border-radius:4px}.weak{color:#a60}.strong{color:#070}"
          ".good{color:#270}.flag{color:#888}</style></head><body>\n",
          f);
    fputs("<h1>Where was this person seen?</h1><p>Query: <b>", f);
    html_text(f, q->path);
    fprintf(f, "</b>, face %d of %d, %.0f px tall, quality %.2f.", q->used, q->n_faces,
            q->face.box[3], q->quality);
    if (q->warning[0]) {
        fputs(" <span class=\"weak\">Warning: ", f);
        html_text(f, q->warning);
        fputs("</span>", f);
    }
    fprintf(f, "</p><p>%lld sightings searched (%lld descriptors); match threshold %.3f: at "
               "most about one false match is expected among them.</p>\n",
            (long long)ft_searcher_sightings(s), (long long)ft_searcher_descriptors(s),
            r->threshold);
    /* course strip */
    fputs("<h2>Course</h2><svg width=\"900\" height=\"110\" viewBox=\"0 0 900 110\">"
          "<line x1=\"60\" y1=\"55\" x2=\"840\" y2=\"55\" stroke=\"#999\" stroke-width=\"4\"/>",
          f);
    for (int i = 0; i < n_cams; i++) {
        double x = 60 + 780 * cams[i].km / kmax;
        int seen = 0;
        for (int k = 0; k < r->n_appearances; k++)
            if (!strcmp(r->appearances[k].camera_id, cams[i].id)) seen = 1;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"55\" r=\"%d\" fill=\"%s\"/>", x, seen ? 9 : 6,
                seen ? "#d22" : "#555");
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">", x,
                i % 2 ? 90 : 30);
        html_text(f, cams[i].id);
        fprintf(f, " (km %.1f)</text>", cams[i].km);
    }
    if (r->estimate.valid) {
        double x = 60 + 780 * fmin(r->estimate.km, kmax) / kmax;
        fprintf(f, "<polygon points=\"%.1f,70 %.1f,85 %.1f,85\" fill=\"#06c\"/>"
                   "<text x=\"%.1f\" y=\"102\" font-size=\"11\" fill=\"#06c\" "
                   "text-anchor=\"middle\">now?</text>",
                x, x - 7, x + 7, x);
    }
    fputs("</svg>\n<h2>Timeline</h2>", f);
    if (r->n_appearances == 0) fputs("<p>No appearance found.</p>", f);
    else fputs("<table><tr><th></th><th>camera</th><th>km</th><th>seen</th><th>match</th>"
               "<th>tracks</th></tr>", f);
    for (int i = 0; i < r->n_appearances; i++) {
        const ft_appearance *a = &r->appearances[i];
        char t0[40], t1[40];
        format_time(a->first_us, t0);
        format_time(a->last_us, t1);
        fputs("<tr><td><img width=\"72\" height=\"72\" src=\"", f);
        put_thumb(f, st, a->best_sighting);
        fputs("\"></td><td>", f);
        html_text(f, a->camera_id);
        fprintf(f, "</td><td>%.2f</td><td>%s &ndash; %.8s</td><td class=\"%s\">%s, score %.3f "
                   "(%.2g false matches expected)</td><td>%d</td></tr>\n",
                a->km, t0, t1 + 11, strength(a), strength(a), a->score, a->expected_false,
                a->tracks);
    }
    if (r->n_appearances) fputs("</table>", f);
    if (r->n_flagged) {
        fputs("<h3>Left out (impossible given stronger matches)</h3><ul class=\"flag\">", f);
        for (int i = 0; i < r->n_flagged; i++) {
            char t0[40];
            format_time(r->flagged[i].first_us, t0);
            fprintf(f, "<li>%s ", t0);
            html_text(f, r->flagged[i].camera_id);
            fputs(": ", f);
            html_text(f, r->flagged[i].why);
            fputs("</li>", f);
        }
        fputs("</ul>", f);
    }
    if (r->estimate.valid) {
        const ft_estimate *e = &r->estimate;
        char at[40], eta[40];
        format_time(e->at_us, at);
        fprintf(f, "<h2>Where now?</h2><p>At %s: about <b>km %.2f</b>, pace %.1f km/h (%s).", at,
                e->km, e->pace_kmh, e->pace_from_fit ? "from the appearances" : "assumed");
        if (e->has_next) {
            format_time(e->eta_us, eta);
            fputs(" Next camera: <b>", f);
            html_text(f, e->next_camera);
            fprintf(f, "</b> (km %.2f) around <b>%s</b>.", e->next_km, eta);
        }
        fputs("</p>", f);
    }
    fputs("</body></html>\n", f);
    ft_store_free(cams);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "facetrail search: cannot write %s\n", path);
        return CLI_ERROR;
    }
    return CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* The command                                                              */
/* ------------------------------------------------------------------------ */

int cmd_search(int argc, char **argv)
{
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = default_model_dir();
    ep.n_threads = default_threads();
    ft_search_params sp = ft_search_default_params();
    const char *db = NULL, *html = NULL, *t;
    int json = 0, face = 1;
    long long n;
    double x;
    struct opts o;
    opts_init(&o, argc, argv);
    while (opts_next(&o)) {
        int r = opts_engine(&o, &ep);
        if (r < 0) return CLI_ERROR;
        if (r > 0) continue;
        if (opts_is_help(&o)) return print_help(search_usage);
        if (opts_is(&o, "--db")) {
            if (!(db = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--top")) {
            if (opts_int(&o, 1, 100000, "an integer in [1, 100000]", &n)) return CLI_ERROR;
            sp.top = (int)n;
        } else if (opts_is(&o, "--since") || opts_is(&o, "--until") || opts_is(&o, "--at")) {
            int which = opts_is(&o, "--since") ? 0 : opts_is(&o, "--until") ? 1 : 2;
            if (!(t = opts_value(&o))) return CLI_ERROR;
            int64_t us;
            if (parse_time(t, &us) != 0) return opts_bad(&o, "an ISO 8601 time");
            if (which == 0) sp.since_us = us;
            else if (which == 1) sp.until_us = us;
            else sp.at_us = us;
        } else if (opts_is(&o, "--camera")) {
            if (!(sp.camera_id = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--face")) {
            if (opts_int(&o, 1, 1000, "a face number, 1 for the largest", &n)) return CLI_ERROR;
            face = (int)n;
        } else if (opts_is(&o, "--max-false")) {
            if (opts_double(&o, 0, 1e9, 1, "a positive number", &x)) return CLI_ERROR;
            sp.max_false_matches = x;
        } else if (opts_is(&o, "--max-speed")) {
            if (opts_double(&o, 0, 1000, 1, "a speed in km/h", &x)) return CLI_ERROR;
            sp.max_speed_kmh = x;
        } else if (opts_is(&o, "--json")) {
            if (opts_flag(&o)) return CLI_ERROR;
            json = 1;
        } else if (opts_is(&o, "--html")) {
            if (!(html = opts_value(&o))) return CLI_ERROR;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands == 0) return usage_error(o.cmd, "missing PHOTO operand");
    if (o.n_operands > 1) return usage_error(o.cmd, "one PHOTO at a time");
    if (!db) return usage_error(o.cmd, "missing --db DB");
    if (sp.since_us > sp.until_us) return usage_error(o.cmd, "--since is after --until");

    query q;
    memset(&q, 0, sizeof q);
    q.path = argv[1];
    char err[512];
    ft_image *img = NULL;
    if (load_image(o.cmd, q.path, 0, &img, err, sizeof err) != FT_OK) return CLI_ERROR;
    q.width = img->width, q.height = img->height;
    ft_store *st = NULL;
    ft_engine *eng = NULL;
    ft_searcher *s = NULL;
    ft_search_result r;
    memset(&r, 0, sizeof r);
    int status = CLI_ERROR;
    if (ft_store_open(db, FT_STORE_READONLY, &st) != FT_OK) {
        fprintf(stderr, "facetrail search: %s\n", ft_store_errmsg(NULL));
        goto done;
    }
    ft_detect_params dp = ft_ingest_default_params().detect;
    dp.tile_px = 0;
    if (start_engine(o.cmd, &ep, &dp, &eng) != CLI_OK) goto done;
    if (query_face(eng, img, face, &q) != CLI_OK) goto done;
    if (q.n_faces > 1 && !json)
        fprintf(stderr, "note: %s has %d faces; using face %d (by size)\n", q.path, q.n_faces,
                q.used);
    if (q.warning[0]) fprintf(stderr, "warning: %s\n", q.warning);
    const ft_calibration *cal = ft_calibration_default();
    if (ft_searcher_open(st, cal->metric, &s, err, sizeof err) != FT_OK) {
        fprintf(stderr, "facetrail search: %s\n", err);
        goto done;
    }
    if (ft_searcher_search(s, q.face.descriptor, &sp, &r) != FT_OK) {
        fprintf(stderr, "facetrail search: %s\n", ft_searcher_errmsg(s));
        goto done;
    }
    if (json) print_json(&q, s, st, &r);
    else print_text(&q, s, &r);
    status = html ? write_html(html, &q, img, s, st, &r) : CLI_OK;
done:
    ft_search_result_free(&r);
    ft_searcher_close(s);
    ft_engine_close(eng);
    ft_store_close(st);
    ft_image_destroy(img);
    return status;
}
