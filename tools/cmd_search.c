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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const char search_usage[] =
    "usage: facetrail search --db DB [options] PHOTO [PHOTO...]\n"
    "\n"
    "Finds where the person in PHOTO was seen: the cameras, when, how sure, and\n"
    "where the person probably is now. Several photos of the same person (up to\n"
    "16) are used together. Sightings of one camera close in time are merged\n"
    "into one appearance; an appearance that would need an impossible speed\n"
    "given stronger ones is flagged and left out.\n"
    "A match is confirmed only when at most 0.01 false matches are expected among\n"
    "all the sightings searched (calibrated on LFW), so a person who was not\n"
    "there gets no appearance in about 99 searches of 100. Then the course\n"
    "helps: every other camera is searched again inside the time window in\n"
    "which the person could have passed it (2.5-25 km/h from the confirmed\n"
    "appearances), where far fewer sightings compete, with another 0.01 false\n"
    "matches expected over all the windows. --possible also lists weaker\n"
    "candidates, marked 'possible', for a person to judge.\n"
    "A tight crop of a face is padded, and the second detector tried, before\n"
    "'no face found'.\n"
    "\n"
    "options:\n"
    "  --db DB               the event database (read; the search is then appended to\n"
    "                        its audit log, as your user)\n"
    "  --reason TEXT         the case reason, e.g. \"case 114: lost child\", recorded in\n"
    "                        the audit log with the search\n"
    "  --top N               nearest descriptors examined (default 300)\n"
    "  --since T, --until T  only sightings in this time range (ISO 8601)\n"
    "  --at T                the time for 'where now' (default: the latest in DB)\n"
    "                        (a time without Z or +hh:mm is read in the event's zone)\n"
    "  --tz ZONE             read and show times in ZONE, e.g. Europe/Paris (default: the\n"
    "                        event's zone, else $TZ)\n"
    "  --camera ID           only this camera\n"
    "  --face N              use the N-th largest face of PHOTO (default 1)\n"
    "  --possible            also list weaker candidates (up to 1 false match expected)\n"
    "  --confirm ID[,ID...]  sightings you have judged, by eye, to be this person (e.g.\n"
    "                        'possible' ones): confirmed appearances, and the course\n"
    "                        windows are taken from them\n"
    "  --no-course           search the whole event only, without course windows\n"
    "  --min-pace KMH        slowest pace a course window allows (default 2.5)\n"
    "  --max-false X         matches expect at most X false matches (default 0.01)\n"
    "  --max-speed KMH       faster is implausible (default 25)\n"
    "  --json                JSON on stdout\n"
    "  --html FILE           also write a self-contained HTML report (never over the\n"
    "                        database, the photo, or an existing video or database)\n"
    "  --force               let --html replace an existing video, image or database file\n"
    "  --models DIR          model folder (default $FT_MODEL_DIR, else " DEFAULT_MODEL_DIR ")\n"
    "  --threads N           worker threads (default 1; more only on an idle machine)\n"
    "  -h, --help            this text\n"
    "\n"
    "JSON: {\"query\":{...},\"queries\":[{...}],\"searched\":{...,\"windows\",\n"
    "\"expected_false_confirmed\",\"expected_false_possible\"},\"appearances\":[{\"camera\",\n"
    "\"km\",\"first_seen\",\"last_seen\",\"score\",\"strength\",\"possible\",\n"
    "\"expected_false_matches\",\"distance\",\"tracks\",\"gallery\",\"window\":null or\n"
    "{\"from\",\"to\"},\"thumbnail\"}],\"flagged\":[...],\"estimate\":{\"km\",\"at\",\"pace_kmh\","
    "\n"
    "\"next_camera\",\"eta\"}}  (times ISO 8601 UTC, thumbnails as data: URIs)\n"
    "\n"
    "exit status: 0 answered (even with no appearance), 2 error (no face in PHOTO, ...)\n";

/* The query photo as the search used it. */
typedef struct query {
    const char *path;
    ft_query r;           /* face, how it was found, quality verdict */
    unsigned char *thumb; /* JPEG of the query face, for the report */
    size_t thumb_len;
} query;

/* ------------------------------------------------------------------------ */
/* Thumbnails                                                               */
/* ------------------------------------------------------------------------ */

static void put_jpeg_uri(FILE *f, const unsigned char *jpg, size_t n)
{
    char *b = malloc((n + 2) / 3 * 4 + 1);
    if (!b) return;
    ft_base64(jpg, n, b);
    fputs("data:image/jpeg;base64,", f);
    fputs(b, f);
    free(b);
}

/* Writes "data:image/jpeg;base64,..." for a sighting's thumbnail (or nothing). */
static int put_thumb(FILE *f, ft_store *st, int64_t sighting)
{
    ft_sighting s;
    unsigned char *jpg = NULL;
    if (ft_store_sighting_get(st, sighting, &s, &jpg) != FT_OK || !jpg) return 0;
    put_jpeg_uri(f, jpg, s.thumbnail_len);
    ft_store_free(jpg);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */
/* ------------------------------------------------------------------------ */

static const char *strength(const ft_appearance *a)
{
    return ft_appearance_strength(a);
}

static int n_possible(const ft_search_result *r)
{
    int n = 0;
    for (int i = 0; i < r->n_appearances; i++)
        n += r->appearances[i].possible;
    return n;
}

/* " window 10:05-11:40 (312 descriptors)" for an appearance found in a
** course window, "" otherwise. */
static void window_note(const ft_appearance *a, const char *zone, char *buf, size_t len)
{
    buf[0] = 0;
    if (!a->window) return;
    char t0[48], t1[48];
    format_time_local(a->window_from_us, zone, 0, t0, sizeof t0);
    format_time_local(a->window_to_us, zone, 0, t1, sizeof t1);
    snprintf(buf, len, "  window %s-%s (%lld descriptors)", t0, t1, (long long)a->gallery);
}

static void print_text(const query *qs, int nq, const ft_searcher *s, const ft_search_result *r,
                       const ft_search_params *sp, const char *zone)
{
    for (int i = 0; i < nq; i++) {
        const query *q = &qs[i];
        const ft_query *f = &q->r;
        printf("query: %s, face %d of %d%s, %.0f px tall, quality %.2f%s%s\n", q->path, f->used,
               f->n_faces, f->n_faces > 1 ? " (by size; --face N picks another)" : "",
               f->face.box[3], f->quality, f->how != FT_QUERY_DIRECT ? "; " : "",
               f->how != FT_QUERY_DIRECT ? ft_query_how_name(f->how) : "");
        if (f->warning[0]) printf("warning: %s\n", f->warning);
    }
    printf("searched %lld descriptors of %lld sightings%s; match threshold %.3f (at most %.2g "
           "false matches expected event-wide%s)\n",
           (long long)r->gallery, (long long)ft_searcher_sightings(s),
           nq > 1 ? " with every photo" : "", r->threshold, r->fmr * (double)r->gallery * nq,
           r->threshold_extrapolated ? "; extrapolated calibration" : "");
    if (r->windows)
        printf("course: %d camera%s searched again inside the time window%s that %d confirmed "
               "appearance%s allow (at most %.2g false matches expected in all)\n",
               r->windows, r->windows > 1 ? "s" : "", r->windows > 1 ? "s" : "", r->anchors,
               r->anchors > 1 ? "s" : "", r->expected_false_confirmed);
    int n_pos = n_possible(r), n_match = r->n_appearances - n_pos;
    if (n_match == 0) {
        printf("no appearance: this person was not seen by any camera (or not recognisably)%s\n",
               sp->possible_false_matches > 0 ? "" : "; --possible lists weaker candidates");
    } else {
        printf("\ntimeline (%d appearance%s; times in %s):\n", n_match, n_match > 1 ? "s" : "",
               zone);
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && n_pos)
            printf("\npossible (weaker candidates; judge each by its thumbnail, --html, and "
                   "--confirm SIGHTING the ones that are this person; times in %s):\n",
                   zone);
        for (int i = 0; i < r->n_appearances; i++) {
            const ft_appearance *a = &r->appearances[i];
            if (a->possible != pass) continue;
            char t0[48], t1[48], wn[160];
            format_time_local(a->first_us, zone, 1, t0, sizeof t0);
            format_time_local(a->last_us, zone, 0, t1, sizeof t1);
            window_note(a, zone, wn, sizeof wn);
            printf("  %s-%s  %-12s km %6.2f  %-9s score %.3f (%.2g false matches expected)  "
                   "%d track%s  sighting %lld%s\n",
                   t0, t1, a->camera_id, a->km, strength(a), a->score, a->expected_false, a->tracks,
                   a->tracks > 1 ? "s" : "", (long long)a->best_sighting, wn);
        }
    }
    for (int i = 0; i < r->n_flagged; i++) {
        const ft_appearance *a = &r->flagged[i];
        char t0[48];
        format_time_local(a->first_us, zone, 1, t0, sizeof t0);
        printf("  flagged: %s %s (km %.2f) %s\n", t0, a->camera_id, a->km, a->why);
    }
    const ft_estimate *e = &r->estimate;
    if (e->valid) {
        char at[48], eta[48];
        format_time_local(e->at_us, zone, 2, at, sizeof at);
        printf("\nwhere now (at %s): about km %.2f, pace %.1f km/h (%s)", at, e->km, e->pace_kmh,
               e->pace_from_fit ? "from the appearances" : "assumed: one appearance only");
        if (e->has_next) {
            format_time_local(e->eta_us, zone, 2, eta, sizeof eta);
            printf("; next camera %s (km %.2f) around %s", e->next_camera, e->next_km, eta);
        }
        printf("\n");
    }
}

/* The answer as JSON (ft_search_json: the schema the server answers too). */
static int print_json(const query *qs, int nq, const ft_searcher *s, ft_store *st,
                      const ft_search_result *r)
{
    ft_query fq[FT_SEARCH_MAX_PROBES];
    const char *names[FT_SEARCH_MAX_PROBES];
    for (int i = 0; i < nq; i++)
        fq[i] = qs[i].r, names[i] = qs[i].path;
    char *text = NULL;
    if (ft_search_json(st, s, r, fq, names, nq, NULL, &text) != FT_OK) {
        fprintf(stderr, "facetrail search: out of memory writing the answer\n");
        return CLI_ERROR;
    }
    puts(text);
    ft_store_free(text);
    return CLI_OK;
}

static void html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

/* One table row: the query face beside the camera's shot, so a person can
** judge the match. */
static void html_row(FILE *f, const query *q, ft_store *st, const ft_appearance *a,
                     const char *zone)
{
    char t0[48], t1[48];
    format_time_local(a->first_us, zone, 1, t0, sizeof t0);
    format_time_local(a->last_us, zone, 0, t1, sizeof t1);
    fputs("<tr><td class=\"pair\">", f);
    if (q->thumb) {
        fputs("<img width=\"72\" height=\"72\" title=\"query\" src=\"", f);
        put_jpeg_uri(f, q->thumb, q->thumb_len);
        fputs("\">", f);
    }
    fputs("<img width=\"72\" height=\"72\" title=\"camera\" src=\"", f);
    put_thumb(f, st, a->best_sighting);
    fputs("\"></td><td>", f);
    html_text(f, a->camera_id);
    fprintf(f,
            "</td><td>%.2f</td><td>%s &ndash; %s</td><td class=\"%s\">%s, score %.3f "
            "(%.2g false matches expected)</td><td>%d</td><td>",
            a->km, t0, t1, strength(a), strength(a), a->score, a->expected_false, a->tracks);
    if (a->window) {
        format_time_local(a->window_from_us, zone, 0, t0, sizeof t0);
        format_time_local(a->window_to_us, zone, 0, t1, sizeof t1);
        fprintf(f, "course window %s &ndash; %s (%lld descriptors)", t0, t1, (long long)a->gallery);
    } else {
        fprintf(f, "whole event (%lld descriptors)", (long long)a->gallery);
    }
    fputs("</td></tr>\n", f);
}

static void write_html(FILE *f, const query *qs, int nq, const ft_searcher *s, ft_store *st,
                       const ft_search_result *r, const char *zone)
{
    const query *q = &qs[0];
    ft_camera *cams = NULL;
    int n_cams = 0;
    ft_store_cameras(st, &cams, &n_cams);
    double kmax = 1;
    for (int i = 0; i < n_cams; i++)
        kmax = fmax(kmax, cams[i].km);
    fputs("<!doctype html><html><head><meta charset=\"utf-8\"><title>facetrail search</title>"
          "<style>body{font-family:sans-serif;margin:24px;color:#222}"
          "table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;"
          "text-align:left}img{border-radius:4px}td.pair{white-space:nowrap}td.pair "
          "img{margin-right:4px}"
          ".confirmed{color:#06c}.possible{color:#a60}.strong{color:#070}.good{color:#270}.flag{"
          "color:#888}"
          ".query img{border:2px solid #06c}</style></head><body>\n",
          f);
    fputs("<h1>Where was this person seen?</h1>", f);
    for (int i = 0; i < nq; i++) {
        const ft_query *qf = &qs[i].r;
        fputs("<p class=\"query\">", f);
        if (qs[i].thumb) {
            fputs("<img width=\"96\" height=\"96\" alt=\"query face\" src=\"", f);
            put_jpeg_uri(f, qs[i].thumb, qs[i].thumb_len);
            fputs("\"><br>", f);
        }
        fputs("Query: <b>", f);
        html_text(f, qs[i].path);
        fprintf(f, "</b>, face %d of %d, %.0f px tall, quality %.2f", qf->used, qf->n_faces,
                qf->face.box[3], qf->quality);
        if (qf->how != FT_QUERY_DIRECT) {
            fputs(" (", f);
            html_text(f, ft_query_how_name(qf->how));
            fputs(")", f);
        }
        fputs(".", f);
        if (qf->warning[0]) {
            fputs(" <span class=\"possible\">Warning: ", f);
            html_text(f, qf->warning);
            fputs("</span>", f);
        }
        fputs("</p>", f);
    }
    fprintf(f,
            "<p>%lld sightings searched (%lld descriptors); match threshold %.3f: at "
            "most %.2g false matches are expected among them. Each match shows the query "
            "face (left) beside the camera's shot (right): check them by eye.</p>\n",
            (long long)ft_searcher_sightings(s), (long long)r->gallery, r->threshold,
            r->fmr * (double)r->gallery * nq);
    if (r->windows)
        fprintf(f,
                "<p>Course: %d camera%s searched again inside the time window in which the "
                "person could have passed, from %d confirmed appearance%s; at most %.2g false "
                "matches are expected among all the confirmed appearances.</p>\n",
                r->windows, r->windows > 1 ? "s were" : " was", r->anchors,
                r->anchors > 1 ? "s" : "", r->expected_false_confirmed);
    /* course strip */
    fputs("<h2>Course</h2><svg width=\"900\" height=\"110\" viewBox=\"0 0 900 110\">"
          "<line x1=\"60\" y1=\"55\" x2=\"840\" y2=\"55\" stroke=\"#999\" stroke-width=\"4\"/>",
          f);
    for (int i = 0; i < n_cams; i++) {
        double x = 60 + 780 * cams[i].km / kmax;
        int seen = 0;
        for (int k = 0; k < r->n_appearances; k++)
            if (!r->appearances[k].possible && !strcmp(r->appearances[k].camera_id, cams[i].id))
                seen = 1;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"55\" r=\"%d\" fill=\"%s\"/>", x, seen ? 9 : 6,
                seen ? "#d22" : "#555");
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">", x,
                i % 2 ? 90 : 30);
        html_text(f, cams[i].id);
        fprintf(f, " (km %.1f)</text>", cams[i].km);
    }
    if (r->estimate.valid) {
        double x = 60 + 780 * fmin(r->estimate.km, kmax) / kmax;
        fprintf(f,
                "<polygon points=\"%.1f,70 %.1f,85 %.1f,85\" fill=\"#06c\"/>"
                "<text x=\"%.1f\" y=\"102\" font-size=\"11\" fill=\"#06c\" "
                "text-anchor=\"middle\">now?</text>",
                x, x - 7, x + 7, x);
    }
    fputs("</svg>\n<h2>Timeline</h2><p>Times in ", f);
    html_text(f, zone);
    fputs(".</p>", f);
    int n_pos = n_possible(r), n_match = r->n_appearances - n_pos;
    static const char head[] = "<table><tr><th>query &middot; camera</th><th>camera</th>"
                               "<th>km</th><th>seen</th><th>match</th><th>tracks</th>"
                               "<th>searched in</th></tr>";
    if (n_match == 0)
        fputs("<p>No appearance found.</p>", f);
    else
        fputs(head, f);
    for (int i = 0; i < r->n_appearances; i++)
        if (!r->appearances[i].possible) html_row(f, q, st, &r->appearances[i], zone);
    if (n_match) fputs("</table>", f);
    if (n_pos) {
        fputs("<h2>Possible</h2><p class=\"possible\">Weaker candidates that fall short of a "
              "match: each may be this person or a look-alike. Judge each by eye.</p>",
              f);
        fputs(head, f);
        for (int i = 0; i < r->n_appearances; i++)
            if (r->appearances[i].possible) html_row(f, q, st, &r->appearances[i], zone);
        fputs("</table>", f);
    }
    if (r->n_flagged) {
        fputs("<h3>Left out (impossible given stronger matches)</h3><ul class=\"flag\">", f);
        for (int i = 0; i < r->n_flagged; i++) {
            char t0[48];
            format_time_local(r->flagged[i].first_us, zone, 1, t0, sizeof t0);
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
        char at[48], eta[48];
        format_time_local(e->at_us, zone, 2, at, sizeof at);
        fprintf(f, "<h2>Where now?</h2><p>At %s: about <b>km %.2f</b>, pace %.1f km/h (%s).", at,
                e->km, e->pace_kmh, e->pace_from_fit ? "from the appearances" : "assumed");
        if (e->has_next) {
            format_time_local(e->eta_us, zone, 2, eta, sizeof eta);
            fputs(" Next camera: <b>", f);
            html_text(f, e->next_camera);
            fprintf(f, "</b> (km %.2f) around <b>%s</b>.", e->next_km, eta);
        }
        fputs("</p>", f);
    }
    fputs("</body></html>\n", f);
    ft_store_free(cams);
}

/* ------------------------------------------------------------------------ */
/* Loading the event beside the models                                      */
/* ------------------------------------------------------------------------ */

/* The event's sightings load on a second thread while the models load and
** the photos are described on the first: a cold search takes the longer of
** the two, not their sum. The store is used by that thread alone until it is
** joined. */
typedef struct loader {
    ft_store *st;
    enum ft_metric metric;
    ft_searcher *s;
    int rc;
    char err[256];
} loader;

static void *load_event(void *arg)
{
    loader *l = arg;
    l->rc = ft_searcher_open(l->st, l->metric, &l->s, l->err, sizeof l->err);
    return NULL;
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
    ft_query_params qp = ft_query_default_params();
    qp.detect = ft_ingest_default_params().detect; /* then the event's space, below */
    const char *db = NULL, *html = NULL, *reason = NULL;
    const char *times[3] = { NULL, NULL, NULL }, *tz = NULL;
    int json = 0, force = 0;
    int64_t confirmed[64];
    int n_confirmed = 0;
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
            if (!(times[which] = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--tz")) {
            if (!(tz = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--camera")) {
            if (!(sp.camera_id = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--face")) {
            if (opts_int(&o, 1, 1000, "a face number, 1 for the largest", &n)) return CLI_ERROR;
            qp.face = (int)n;
        } else if (opts_is(&o, "--possible")) {
            if (opts_flag(&o)) return CLI_ERROR;
            sp.possible_false_matches = FT_SEARCH_POSSIBLE_FALSE;
        } else if (opts_is(&o, "--confirm")) {
            const char *v = opts_value(&o);
            if (!v) return CLI_ERROR;
            if (parse_id_list(v, confirmed, 64, &n_confirmed))
                return usage_error(o.cmd, "--confirm takes up to 64 sighting numbers "
                                          "separated by commas, e.g. 12,40");
        } else if (opts_is(&o, "--no-course")) {
            if (opts_flag(&o)) return CLI_ERROR;
            sp.course = 0;
        } else if (opts_is(&o, "--min-pace")) {
            if (opts_double(&o, 0, 100, 1, "a pace in km/h", &x)) return CLI_ERROR;
            sp.min_pace_kmh = x;
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
        } else if (opts_is(&o, "--reason")) {
            if (!(reason = opts_value(&o))) return CLI_ERROR;
            if (!*reason || strlen(reason) > 255) return opts_bad(&o, "1 to 255 bytes");
        } else if (opts_is(&o, "--force")) {
            if (opts_flag(&o)) return CLI_ERROR;
            force = 1;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands == 0) return usage_error(o.cmd, "missing PHOTO operand");
    if (o.n_operands > FT_SEARCH_MAX_PROBES)
        return usage_error(o.cmd, "at most 16 photos of one person");
    if (!(sp.min_pace_kmh < sp.max_speed_kmh))
        return usage_error(o.cmd, "--min-pace must be below --max-speed");
    if (!db) return usage_error(o.cmd, "missing --db DB");
    if (sp.possible_false_matches > 0 && sp.possible_false_matches <= sp.max_false_matches)
        sp.possible_false_matches = 0; /* --max-false already reaches that far */

    int nq = o.n_operands;
    query qs[FT_SEARCH_MAX_PROBES];
    ft_image *imgs[FT_SEARCH_MAX_PROBES];
    memset(qs, 0, sizeof qs);
    memset(imgs, 0, sizeof imgs);
    for (int i = 0; i < nq; i++)
        qs[i].path = argv[1 + i];
    char err[512];
    ft_store *st = NULL;
    ft_engine *eng = NULL;
    ft_searcher *s = NULL;
    ft_search_result r;
    memset(&r, 0, sizeof r);
    struct out_file out;
    memset(&out, 0, sizeof out);
    int status = CLI_ERROR;
    loader ld;
    pthread_t thread;
    int loading = 0;
    /* refuse a bad report path before any work */
    const char *inputs[1 + FT_SEARCH_MAX_PROBES] = { db };
    for (int i = 0; i < nq; i++)
        inputs[1 + i] = qs[i].path;
    if (html && out_open(&out, o.cmd, html, force, inputs, 1 + nq) != CLI_OK) return CLI_ERROR;
    for (int i = 0; i < nq; i++)
        if (load_image(o.cmd, qs[i].path, 0, &imgs[i], err, sizeof err) != FT_OK) goto done;
    if (ft_store_open(db, FT_STORE_READONLY, &st) != FT_OK) {
        fprintf(stderr, "facetrail search: %s\n", ft_store_errmsg(NULL));
        goto done;
    }
    char zone[64];
    event_zone(o.cmd, st, tz, zone, sizeof zone);
    static const char *const names[3] = { "--since", "--until", "--at" };
    int64_t *dst[3] = { &sp.since_us, &sp.until_us, &sp.at_us };
    for (int i = 0; i < 3; i++)
        if (times[i] && parse_time_arg(o.cmd, names[i], times[i], zone, json, dst[i]) != CLI_OK)
            goto done;
    if (sp.since_us > sp.until_us) {
        usage_error(o.cmd, "--since is after --until");
        goto done;
    }
    /* describe the photos as the event's descriptors were made, and score
    ** with that kind's calibration */
    const ft_calibration *cal = NULL;
    if (ft_query_params_for_store(st, &qp, &cal, NULL, 0, err, sizeof err) != FT_OK) {
        fprintf(stderr, "facetrail search: %s\n", err);
        goto done;
    }
    ld = (loader){ st, cal->metric, NULL, FT_OK, "" };
    loading = pthread_create(&thread, NULL, load_event, &ld) == 0;
    if (!loading) load_event(&ld); /* no thread: one after the other */
    if (start_engine(o.cmd, &ep, &qp.detect, &eng) != CLI_OK) goto done;
    float desc[FT_SEARCH_MAX_PROBES][FT_DESCRIPTOR_DIM];
    for (int i = 0; i < nq; i++) {
        query *q = &qs[i];
        int rc = ft_query_face(eng, imgs[i], &qp, &q->r, err, sizeof err);
        if (rc != FT_OK) {
            fprintf(stderr, "facetrail search: %s: %s\n", q->path, err);
            goto done;
        }
        memcpy(desc[i], q->r.face.descriptor, sizeof desc[i]);
        if (q->r.n_faces > 1 && !json)
            fprintf(stderr, "note: %s has %d faces; using face %d (by size)\n", q->path,
                    q->r.n_faces, q->r.used);
        if (q->r.how != FT_QUERY_DIRECT && !json)
            fprintf(stderr, "note: %s: the face was %s\n", q->path, ft_query_how_name(q->r.how));
        if (q->r.warning[0] && json) /* text prints it in the report */
            fprintf(stderr, "warning: %s: %s\n", q->path, q->r.warning);
        if (html &&
            ft_face_thumbnail(imgs[i], q->r.face.box, 96, &q->thumb, &q->thumb_len) != FT_OK)
            q->thumb = NULL, q->thumb_len = 0;
    }
    sp.cal = cal;
    sp.confirmed = n_confirmed ? confirmed : NULL;
    sp.n_confirmed = n_confirmed;
    if (loading) pthread_join(thread, NULL);
    loading = 0;
    s = ld.s;
    if (ld.rc != FT_OK) {
        fprintf(stderr, "facetrail search: %s\n", ld.err);
        goto done;
    }
    if (ft_searcher_search_multi(s, &desc[0][0], nq, &sp, &r) != FT_OK) {
        fprintf(stderr, "facetrail search: %s\n", ft_searcher_errmsg(s));
        goto done;
    }
    if (json)
        status = print_json(qs, nq, s, st, &r);
    else
        print_text(qs, nq, s, &r, &sp, zone), status = CLI_OK;
    if (html && status == CLI_OK) {
        write_html(out.f, qs, nq, s, st, &r, zone);
        status = out_commit(&out);
    }
    if (status == CLI_OK) { /* who searched, why, with what (its digest), and what came of it */
        char detail[128];
        snprintf(detail, sizeof detail, "%d photo%s (command line)", nq, nq == 1 ? "" : "s");
        if (!reason && !json)
            fprintf(stderr, "note: no --reason: the audit log holds this search without a case "
                            "reason\n");
        cli_audit(o.cmd, db, "search", reason, qs[0].path, r.n_appearances, detail);
    }
done:
    if (loading) { /* an early exit: the loader still holds the store */
        pthread_join(thread, NULL);
        s = ld.s;
    }
    if (html && out.tmp) out_abort(&out);
    for (int i = 0; i < nq; i++) {
        ft_store_free(qs[i].thumb);
        ft_image_destroy(imgs[i]);
    }
    ft_search_result_free(&r);
    ft_searcher_close(s);
    ft_engine_close(eng);
    ft_store_close(st);
    return status;
}
