/*
** tools/cmd_watch.c: `facetrail watch add|list|remove`, the event's
** watchlist from the command line (the same entries that `facetrail serve`
** alerts on and that POST /api/v1/watchlist adds). A running server reads
** the watchlist again within a second.
*/
#include "cli.h"

#include "facetrail/search.h"

#include <stdlib.h>
#include <string.h>

const char watch_usage[] =
    "usage: facetrail watch add --db DB --name NAME --reason TEXT [--expires TIME]\n"
    "                           [--webhook URL] PHOTO...\n"
    "       facetrail watch list --db DB [--json]\n"
    "       facetrail watch remove --db DB ID\n"
    "\n"
    "The people to raise an alert for when a camera sees them. `facetrail serve`\n"
    "checks every track of its live cameras against the watchlist while the\n"
    "person is still in view, and every new sighting; an alert goes to the page,\n"
    "the event stream (GET /api/v1/alerts) and the entry's webhook.\n"
    "\n"
    "  --db DB          the event's database file\n"
    "  --name NAME      who this is, as operators will read it (\"Lina, 7\")\n"
    "  --reason TEXT    the case reason, e.g. \"case 114: lost child\" (required)\n"
    "  --expires TIME   when the entry stops alerting (ISO 8601; without an offset\n"
    "                   in the event's zone); default: never\n"
    "  --webhook URL    http://host[:port]/path that each alert is POSTed to (JSON)\n"
    "  PHOTO...         1-16 photos of the person, one face each (the largest is used)\n"
    "  --json           list as JSON lines\n";

static int watch_add(int argc, char **argv)
{
    const char *db = NULL, *name = NULL, *reason = NULL, *expires = NULL, *hook = NULL;
    ft_engine_params ep = ft_engine_default_params();
    struct opts o;
    opts_init(&o, argc, argv);
    o.cmd = "watch add";
    while (opts_next(&o)) {
        int e;
        if (opts_is_help(&o)) return print_help(watch_usage);
        if (opts_is(&o, "--db")) {
            if (!(db = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--name")) {
            if (!(name = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--reason")) {
            if (!(reason = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--expires")) {
            if (!(expires = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--webhook")) {
            if (!(hook = opts_value(&o))) return CLI_ERROR;
        } else if ((e = opts_engine(&o, &ep)) != 0) {
            if (e < 0) return CLI_ERROR;
        } else {
            return opts_unknown(&o);
        }
    }
    if (!db) return usage_error(o.cmd, "missing --db DB");
    static ft_watch w; /* 8 KiB of descriptors */
    memset(&w, 0, sizeof w);
    if (!name || !*name || strlen(name) >= sizeof w.name)
        return usage_error(o.cmd, "--name: 1 to %zu bytes", sizeof w.name - 1);
    if (!reason || !*reason || strlen(reason) >= sizeof w.reason)
        return usage_error(o.cmd, "--reason: the case reason, 1 to %zu bytes", sizeof w.reason - 1);
    if (hook && (strncmp(hook, "http://", 7) || strlen(hook) >= sizeof w.webhook))
        return usage_error(o.cmd, "--webhook: an http://host[:port]/path URL of under %zu bytes",
                           sizeof w.webhook);
    if (o.n_operands < 1) return usage_error(o.cmd, "give one or more photos of the person");
    if (o.n_operands > FT_WATCH_MAX_DESC)
        return usage_error(o.cmd, "at most %d photos", FT_WATCH_MAX_DESC);
    snprintf(w.name, sizeof w.name, "%s", name);
    snprintf(w.reason, sizeof w.reason, "%s", reason);
    snprintf(w.webhook, sizeof w.webhook, "%s", hook ? hook : "");
    ft_store *st = NULL;
    ft_engine *eng = NULL;
    int status = CLI_ERROR;
    char err[512];
    if (ft_store_open(db, 0, &st) != FT_OK) {
        fprintf(stderr, "facetrail watch add: %s\n", ft_store_errmsg(NULL));
        return CLI_ERROR;
    }
    if (expires) {
        char zone[FT_TIME_ZONE_MAX];
        event_zone(o.cmd, st, NULL, zone, sizeof zone);
        if (parse_time_arg(o.cmd, "--expires", expires, zone, 0, &w.expires_us) != CLI_OK)
            goto done;
    }
    /* described as the event's descriptors were made */
    ft_query_params qp = ft_query_default_params();
    if (ft_query_params_for_store(st, &qp, NULL, NULL, 0, err, sizeof err) != FT_OK) {
        fprintf(stderr, "facetrail watch add: %s\n", err);
        goto done;
    }
    if (start_engine(o.cmd, &ep, &qp.detect, &eng) != CLI_OK) goto done;
    for (int i = 0; i < o.n_operands; i++) {
        ft_image *img;
        if (load_image(o.cmd, argv[1 + i], 0, &img, err, sizeof err) != FT_OK) goto done;
        ft_query q;
        int rc = ft_query_face(eng, img, &qp, &q, err, sizeof err);
        ft_image_destroy(img);
        if (rc != FT_OK) {
            fprintf(stderr, "facetrail watch add: %s: %s\n", argv[1 + i], err);
            goto done;
        }
        if (q.n_faces > 1)
            fprintf(stderr, "note: %s has %d faces; using face %d (by size)\n", argv[1 + i],
                    q.n_faces, q.used);
        memcpy(w.desc[w.n_desc++], q.face.descriptor, sizeof q.face.descriptor);
    }
    if (ft_store_watch_add(st, &w) != FT_OK) {
        fprintf(stderr, "facetrail watch add: %s\n", ft_store_errmsg(st));
        goto done;
    }
    printf("watchlist entry %lld: %s (%d photo%s)\n", (long long)w.id, w.name, w.n_desc,
           w.n_desc == 1 ? "" : "s");
    status = CLI_OK;
done:
    ft_engine_close(eng);
    ft_store_close(st);
    return status;
}

static int watch_list(int argc, char **argv)
{
    const char *db = NULL;
    int json = 0;
    struct opts o;
    opts_init(&o, argc, argv);
    o.cmd = "watch list";
    while (opts_next(&o)) {
        if (opts_is_help(&o)) return print_help(watch_usage);
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
    if (ft_store_open(db, FT_STORE_READONLY, &st) != FT_OK) {
        fprintf(stderr, "facetrail watch list: %s\n", ft_store_errmsg(NULL));
        return CLI_ERROR;
    }
    ft_watch *v = NULL;
    int n = 0;
    if (ft_store_watch_list(st, 0, &v, &n) != FT_OK) {
        fprintf(stderr, "facetrail watch list: %s\n", ft_store_errmsg(st));
        ft_store_close(st);
        return CLI_ERROR;
    }
    char zone[FT_TIME_ZONE_MAX];
    event_zone(o.cmd, st, NULL, zone, sizeof zone);
    if (!json && n == 0) printf("the watchlist is empty\n");
    for (int i = 0; i < n; i++) {
        if (json) {
            char t[40];
            struct jw w;
            jw_init(&w, stdout, 0);
            jw_open(&w, '{');
            jw_key(&w, "id");
            jw_int(&w, v[i].id);
            jw_key(&w, "name");
            jw_str(&w, v[i].name);
            jw_key(&w, "reason");
            jw_str(&w, v[i].reason);
            jw_key(&w, "created");
            format_time(v[i].created_us, t);
            jw_str(&w, t);
            if (v[i].expires_us) {
                jw_key(&w, "expires");
                format_time(v[i].expires_us, t);
                jw_str(&w, t);
            }
            jw_key(&w, "photos");
            jw_int(&w, v[i].n_desc);
            if (v[i].webhook[0]) {
                jw_key(&w, "webhook");
                jw_str(&w, v[i].webhook);
            }
            jw_close(&w);
            jw_end_line(&w);
        } else {
            char made[64], ends[64] = "never";
            format_time_local(v[i].created_us, zone, 2, made, sizeof made);
            if (v[i].expires_us) format_time_local(v[i].expires_us, zone, 2, ends, sizeof ends);
            printf("%lld  %s  (%s)  %d photo%s, since %s, expires %s%s%s\n", (long long)v[i].id,
                   v[i].name, v[i].reason, v[i].n_desc, v[i].n_desc == 1 ? "" : "s", made, ends,
                   v[i].webhook[0] ? ", webhook " : "", v[i].webhook);
        }
    }
    ft_store_free(v);
    ft_store_close(st);
    return CLI_OK;
}

static int watch_remove(int argc, char **argv)
{
    const char *db = NULL;
    struct opts o;
    opts_init(&o, argc, argv);
    o.cmd = "watch remove";
    while (opts_next(&o)) {
        if (opts_is_help(&o)) return print_help(watch_usage);
        if (opts_is(&o, "--db")) {
            if (!(db = opts_value(&o))) return CLI_ERROR;
        } else {
            return opts_unknown(&o);
        }
    }
    if (!db) return usage_error(o.cmd, "missing --db DB");
    if (o.n_operands != 1) return usage_error(o.cmd, "give the entry's id (watch list shows it)");
    char *end;
    long long id = strtoll(argv[1], &end, 10);
    if (end == argv[1] || *end || id < 1)
        return usage_error(o.cmd, "'%s' is not an entry id", argv[1]);
    ft_store *st;
    if (ft_store_open(db, 0, &st) != FT_OK) {
        fprintf(stderr, "facetrail watch remove: %s\n", ft_store_errmsg(NULL));
        return CLI_ERROR;
    }
    int rc = ft_store_watch_remove(st, id);
    if (rc == FT_ENOTFOUND)
        fprintf(stderr, "facetrail watch remove: no watchlist entry %lld\n", id);
    else if (rc != FT_OK)
        fprintf(stderr, "facetrail watch remove: %s\n", ft_store_errmsg(st));
    else
        printf("watchlist entry %lld removed\n", id);
    ft_store_close(st);
    return rc == FT_OK ? CLI_OK : CLI_ERROR;
}

int cmd_watch(int argc, char **argv)
{
    if (argc < 2) return usage_error("watch", "add, list or remove?");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return print_help(watch_usage);
    if (!strcmp(argv[1], "add")) return watch_add(argc - 1, argv + 1);
    if (!strcmp(argv[1], "list")) return watch_list(argc - 1, argv + 1);
    if (!strcmp(argv[1], "remove")) return watch_remove(argc - 1, argv + 1);
    return usage_error("watch", "unknown subcommand '%s' (add, list or remove)", argv[1]);
}
