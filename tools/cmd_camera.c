/*
** tools/cmd_camera.c: `facetrail camera add|list`, the cameras of an event.
*/
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char camera_usage[] =
    "usage: facetrail camera add --db DB --id ID --km KM [--name NAME] [--lat LAT --lon LON]\n"
    "                            [--tz ZONE] [--url URL]\n"
    "       facetrail camera list --db DB [--json]\n"
    "\n"
    "Registers the cameras along the course. Their order along the course comes\n"
    "from the km positions. The database is created if it does not exist.\n"
    "\n"
    "  --db DB       the event's database file\n"
    "  --id ID       camera id: 1-63 letters, digits or punctuation, no blanks\n"
    "  --km KM       position along the course in kilometres\n"
    "  --name NAME   free text, e.g. \"Bridge, north side\"\n"
    "  --lat/--lon   WGS84 position in degrees (both or neither)\n"
    "  --tz ZONE     the event's time zone, e.g. Europe/Paris: times given without\n"
    "                a UTC offset (ingest --start, search --since) are read in it,\n"
    "                and reports show it. Set with the first camera (default: the\n"
    "                system's zone, or $TZ); giving it again changes it\n"
    "  --url URL     a live source (rtsp://, http://, a stream path, or a video file\n"
    "                played at its own speed) that `facetrail serve` ingests from its\n"
    "                start, reconnecting, until the camera is stopped; --url \"\" stops\n"
    "                it. Adding a known camera again with its km sets the url only\n"
    "  --json        list as JSON lines\n";

static int open_store(const char *cmd, const char *db, int flags, ft_store **st)
{
    int rc = ft_store_open(db, flags, st);
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail %s: %s\n", cmd, ft_store_errmsg(NULL));
        return CLI_ERROR;
    }
    return CLI_OK;
}

static int camera_add(int argc, char **argv)
{
    const char *db = NULL;
    ft_camera c;
    memset(&c, 0, sizeof c);
    int have_km = 0, have_lat = 0, have_lon = 0;
    const char *tz = NULL, *url = NULL;
    double x;
    struct opts o;
    opts_init(&o, argc, argv);
    o.cmd = "camera add";
    while (opts_next(&o)) {
        if (opts_is_help(&o)) return print_help(camera_usage);
        if (opts_is(&o, "--db")) {
            if (!(db = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--id")) {
            const char *v = opts_value(&o);
            if (!v) return CLI_ERROR;
            if (strlen(v) >= sizeof c.id) return opts_bad(&o, "at most 63 bytes");
            snprintf(c.id, sizeof c.id, "%s", v);
        } else if (opts_is(&o, "--name")) {
            const char *v = opts_value(&o);
            if (!v) return CLI_ERROR;
            if (strlen(v) >= sizeof c.name) return opts_bad(&o, "at most 127 bytes");
            snprintf(c.name, sizeof c.name, "%s", v);
        } else if (opts_is(&o, "--km")) {
            if (opts_double(&o, -1e6, 1e6, 0, "a distance in km", &x)) return CLI_ERROR;
            c.km = x, have_km = 1;
        } else if (opts_is(&o, "--tz")) {
            if (!(tz = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--url")) {
            if (!(url = opts_value(&o))) return CLI_ERROR;
            if (strlen(url) >= 1024) return opts_bad(&o, "a URL of at most 1023 bytes");
        } else if (opts_is(&o, "--lat")) {
            if (opts_double(&o, -90, 90, 0, "a latitude in [-90, 90]", &x)) return CLI_ERROR;
            c.lat = x, have_lat = 1;
        } else if (opts_is(&o, "--lon")) {
            if (opts_double(&o, -180, 180, 0, "a longitude in [-180, 180]", &x)) return CLI_ERROR;
            c.lon = x, have_lon = 1;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands) return usage_error(o.cmd, "unexpected operand '%s'", argv[1]);
    if (!db) return usage_error(o.cmd, "missing --db DB");
    if (!c.id[0]) return usage_error(o.cmd, "missing --id ID");
    if (!have_km) return usage_error(o.cmd, "missing --km KM");
    if (have_lat != have_lon) return usage_error(o.cmd, "give both --lat and --lon, or neither");
    c.has_latlon = have_lat;
    char zone[FT_TIME_ZONE_MAX];
    if (tz && event_zone(o.cmd, NULL, tz, zone, sizeof zone) != CLI_OK) return CLI_ERROR;
    ft_store *st;
    if (open_store(o.cmd, db, FT_STORE_CREATE, &st) != CLI_OK) return CLI_ERROR;
    ft_camera known;
    int again = url && ft_store_camera_get(st, c.id, &known) == FT_OK && known.km == c.km;
    int rc = again ? FT_OK : ft_store_camera_add(st, &c);
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail camera add: %s\n", ft_store_errmsg(st));
        ft_store_close(st);
        return CLI_ERROR;
    }
    if (!again) printf("camera %s at km %.3f added\n", c.id, c.km);
    if (url) {
        char key[FT_CAMERA_ID_MAX + 16];
        snprintf(key, sizeof key, FT_STORE_LIVE_URL_PREFIX "%s", c.id);
        if ((rc = ft_store_meta_set(st, key, url)) != FT_OK) {
            fprintf(stderr, "facetrail camera add: %s\n", ft_store_errmsg(st));
            ft_store_close(st);
            return CLI_ERROR;
        }
        if (*url)
            printf("camera %s: live from %s when `facetrail serve --db %s` runs\n", c.id, url, db);
        else
            printf("camera %s: no live source\n", c.id);
    }
    /* the event's zone: set by --tz, or fixed to the system's with the first
    ** camera so that later commands read times the same way on any machine */
    char old[FT_TIME_ZONE_MAX] = "";
    int have_old = ft_store_meta_get(st, EVENT_ZONE_KEY, old, sizeof old) == FT_OK && *old;
    if (!tz && !have_old) ft_time_local_zone(zone, sizeof zone);
    if (tz || !have_old) {
        if (have_old && !strcmp(old, zone)) {
            /* unchanged */
        } else if ((rc = ft_store_meta_set(st, EVENT_ZONE_KEY, zone)) != FT_OK) {
            fprintf(stderr, "facetrail camera add: %s\n", ft_store_errmsg(st));
        } else if (have_old) {
            printf("event time zone changed from %s to %s\n", old, zone);
        } else {
            printf("event time zone: %s%s\n", zone,
                   tz ? "" : " (this system's; camera add --tz ZONE sets another)");
        }
    }
    ft_store_close(st);
    return rc == FT_OK ? CLI_OK : CLI_ERROR;
}

static int camera_list(int argc, char **argv)
{
    const char *db = NULL;
    int json = 0;
    struct opts o;
    opts_init(&o, argc, argv);
    o.cmd = "camera list";
    while (opts_next(&o)) {
        if (opts_is_help(&o)) return print_help(camera_usage);
        if (opts_is(&o, "--db")) {
            if (!(db = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--json")) {
            if (opts_flag(&o)) return CLI_ERROR;
            json = 1;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands) return usage_error(o.cmd, "unexpected operand '%s'", argv[1]);
    if (!db) return usage_error(o.cmd, "missing --db DB");
    ft_store *st;
    if (open_store(o.cmd, db, FT_STORE_READONLY, &st) != CLI_OK) return CLI_ERROR;
    ft_camera *cams;
    int n;
    int rc = ft_store_cameras(st, &cams, &n);
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail camera list: %s\n", ft_store_errmsg(st));
        ft_store_close(st);
        return CLI_ERROR;
    }
    if (!json) {
        char zone[FT_TIME_ZONE_MAX];
        if (ft_store_meta_get(st, EVENT_ZONE_KEY, zone, sizeof zone) == FT_OK && *zone)
            printf("event time zone: %s\n", zone);
        printf("%-20s %10s  %s\n", "camera", "km", "name");
    }
    for (int i = 0; i < n; i++) {
        char key[FT_CAMERA_ID_MAX + 16], url[FT_STORE_META_VALUE_MAX] = "";
        snprintf(key, sizeof key, FT_STORE_LIVE_URL_PREFIX "%s", cams[i].id);
        if (ft_store_meta_get(st, key, url, sizeof url) != FT_OK) url[0] = 0;
        if (json) {
            struct jw w;
            jw_init(&w, stdout, 0);
            jw_open(&w, '{');
            jw_key(&w, "id");
            jw_str(&w, cams[i].id);
            jw_key(&w, "km");
            jw_double(&w, cams[i].km);
            jw_key(&w, "name");
            jw_str(&w, cams[i].name);
            if (url[0]) {
                jw_key(&w, "url");
                jw_str(&w, url);
            }
            if (cams[i].has_latlon) {
                jw_key(&w, "lat");
                jw_double(&w, cams[i].lat);
                jw_key(&w, "lon");
                jw_double(&w, cams[i].lon);
            }
            jw_close(&w);
            jw_end_line(&w);
        } else {
            printf("%-20s %10.3f  %s%s%s\n", cams[i].id, cams[i].km, cams[i].name,
                   url[0] ? "  live: " : "", url);
        }
    }
    ft_store_free(cams);
    ft_store_close(st);
    return CLI_OK;
}

int cmd_camera(int argc, char **argv)
{
    if (argc < 2) return usage_error("camera", "add or list?");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return print_help(camera_usage);
    if (!strcmp(argv[1], "add")) return camera_add(argc - 1, argv + 1);
    if (!strcmp(argv[1], "list")) return camera_list(argc - 1, argv + 1);
    return usage_error("camera", "unknown subcommand '%s' (add or list)", argv[1]);
}
