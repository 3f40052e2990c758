/*
** tools/cmd_audit.c: `facetrail audit`, the event's audit log (who searched,
** watched, dismissed, purged), with a check of its hash chain; and
** `facetrail purge`, retention: removing the personal data of an event from
** before a time, or all of it some days after the event.
**
** DESIGN
**   The CLI acts as a local administrator: the person is the OS user
**   (getpwuid(geteuid())), the role "admin". purge appends its own audit
**   record after the library's ft_store_purge (which writes none), with the
**   counts in its detail; without --yes it only says what it would remove.
**   audit opens the database read-only: listing and verifying never write.
** EXIT STATUS  audit: 0, or with --verify 0 intact, 1 broken chain; purge:
**              0 (removed, nothing due yet, or a dry run); 2 usage or store
**              errors (a purge whose bytes could not be reclaimed too).
*/
#include "cli.h"

#include <pwd.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char audit_usage[] =
    "usage: facetrail audit --db DB [--since TIME] [--json] [--tz ZONE]\n"
    "       facetrail audit --db DB --verify [--json]\n"
    "\n"
    "The event's audit log: who searched, added or removed watchlist entries,\n"
    "accepted or dismissed alerts, purged or exported, when and why. Records are\n"
    "only ever appended; each carries a SHA-256 chained to the one before, so an\n"
    "edit made behind facetrail's back breaks the chain where it was made.\n"
    "\n"
    "  --db DB        the event's database file (opened read-only)\n"
    "  --since TIME   records from TIME on (ISO 8601; without an offset in the\n"
    "                 event's zone)\n"
    "  --json         one JSON object per record (with its hash), one per line\n"
    "  --tz ZONE      show and read times in ZONE (default: the event's)\n"
    "  --verify       recompute the chain: 'intact' and the newest record's hash\n"
    "                 (keep it elsewhere: removing the newest records leaves a\n"
    "                 shorter chain that still verifies), or the first record\n"
    "                 that breaks it\n"
    "\n"
    "exit status: 0 listed or intact, 1 the chain is broken, 2 usage or database\n"
    "error\n";

const char purge_usage[] =
    "usage: facetrail purge --db DB --before TIME [--yes]\n"
    "       facetrail purge --db DB --event-ended --keep-days N [--yes]\n"
    "\n"
    "Removes the personal data of the event: sightings that ended before TIME\n"
    "with their thumbnails and descriptors, watchlist entries made or expired\n"
    "before it, and their dismissals. Cameras, ingests, settings and the audit\n"
    "log stay. The freed space is overwritten and the file rebuilt (VACUUM),\n"
    "so no byte of what was removed is left in the database or its -wal file.\n"
    "The purge is recorded in the audit log (you, as admin, with the counts).\n"
    "It never asks: without --yes it only prints what it would remove.\n"
    "\n"
    "  --db DB          the event's database file\n"
    "  --before TIME    remove what ended before TIME (ISO 8601; without an\n"
    "                   offset in the event's zone)\n"
    "  --event-ended    retention after the event: once N days have passed\n"
    "  --keep-days N    since its end (the latest sighting or video end),\n"
    "                   remove everything; before that, say when it is due\n"
    "  --yes            remove (otherwise: a dry run)\n"
    "  --tz ZONE        read and show times in ZONE (default: the event's)\n"
    "\n"
    "Stop `facetrail serve` and running searches first: a reader in the middle\n"
    "of a query keeps old pages alive, and the purge then fails after 5 s with\n"
    "the rows removed but their bytes not yet reclaimed (run it again).\n"
    "\n"
    "exit status: 0 done (or nothing due yet, or a dry run), 2 usage or database\n"
    "error\n";

/* Wall clock, microseconds since the epoch. */
static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------------------ */
/* audit                                                                    */
/* ------------------------------------------------------------------------ */

static void write_record(const ft_audit *a)
{
    char t[40];
    format_time(a->time_us, t);
    struct jw w;
    jw_init(&w, stdout, 0);
    jw_open(&w, '{');
    jw_key(&w, "id");
    jw_int(&w, a->id);
    jw_key(&w, "time");
    jw_str(&w, t);
    jw_key(&w, "time_us");
    jw_int(&w, a->time_us);
    jw_key(&w, "who");
    jw_str(&w, a->who);
    jw_key(&w, "role");
    jw_str(&w, a->role);
    jw_key(&w, "action");
    jw_str(&w, a->action);
    jw_key(&w, "reason");
    jw_str(&w, a->reason);
    jw_key(&w, "photo_sha256");
    jw_str(&w, a->photo_sha256);
    jw_key(&w, "results");
    jw_int(&w, a->results);
    jw_key(&w, "detail");
    jw_str(&w, a->detail);
    jw_key(&w, "hash");
    jw_str(&w, a->hash);
    jw_close(&w);
    jw_end_line(&w);
}

static int audit_verify(ft_store *st, int json)
{
    int64_t bad = 0;
    ft_audit *v = NULL;
    int n = 0;
    if (ft_store_audit_verify(st, &bad) != FT_OK || ft_store_audit_list(st, 0, &v, &n) != FT_OK) {
        fprintf(stderr, "facetrail audit: %s\n", ft_store_errmsg(st));
        return CLI_ERROR;
    }
    const char *head = n ? v[n - 1].hash : "";
    if (json) {
        struct jw w;
        jw_init(&w, stdout, 0);
        jw_open(&w, '{');
        jw_key(&w, "intact");
        jw_bool(&w, bad == 0);
        jw_key(&w, "records");
        jw_int(&w, n);
        if (bad) {
            jw_key(&w, "first_bad_id");
            jw_int(&w, bad);
        } else {
            jw_key(&w, "head");
            jw_str(&w, head);
        }
        jw_close(&w);
        jw_end_line(&w);
    } else if (bad) {
        printf("audit log BROKEN at record %lld of %d: its hash is not what its fields and the "
               "record before it give (it, or the record before it, was changed or removed)\n",
               (long long)bad, n);
    } else if (n) {
        printf("audit log intact: %d records, newest %lld, hash %s\n", n, (long long)v[n - 1].id,
               head);
    } else {
        printf("audit log intact: no records\n");
    }
    ft_store_free(v);
    return bad ? CLI_DIFFERENT : CLI_OK;
}

int cmd_audit(int argc, char **argv)
{
    const char *db = NULL, *since = NULL, *tz = NULL;
    int json = 0, verify = 0;
    struct opts o;
    opts_init(&o, argc, argv);
    while (opts_next(&o)) {
        if (opts_is_help(&o)) return print_help(audit_usage);
        if (opts_is(&o, "--db")) {
            if (!(db = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--since")) {
            if (!(since = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--tz")) {
            if (!(tz = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--json")) {
            if (opts_flag(&o)) return CLI_ERROR;
            json = 1;
        } else if (opts_is(&o, "--verify")) {
            if (opts_flag(&o)) return CLI_ERROR;
            verify = 1;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands) return usage_error(o.cmd, "unexpected operand '%s'", argv[1]);
    if (!db) return usage_error(o.cmd, "missing --db DB");
    if (verify && since) return usage_error(o.cmd, "--verify checks the whole log: no --since");
    ft_store *st;
    if (ft_store_open(db, FT_STORE_READONLY, &st) != FT_OK) {
        fprintf(stderr, "facetrail audit: %s\n", ft_store_errmsg(NULL));
        return CLI_ERROR;
    }
    int status = CLI_ERROR;
    char zone[FT_TIME_ZONE_MAX];
    int64_t since_us = 0;
    ft_audit *v = NULL;
    int n = 0;
    if (event_zone(o.cmd, st, tz, zone, sizeof zone) != CLI_OK) goto done;
    if (verify) {
        status = audit_verify(st, json);
        goto done;
    }
    if (since && parse_time_arg(o.cmd, "--since", since, zone, json, &since_us) != CLI_OK)
        goto done;
    if (ft_store_audit_list(st, since_us, &v, &n) != FT_OK) {
        fprintf(stderr, "facetrail audit: %s\n", ft_store_errmsg(st));
        goto done;
    }
    if (!json) {
        printf("times in %s\n", zone);
        printf("%6s  %-19s  %-16s %-8s %-13s %7s  %s\n", "id", "time", "who", "role", "action",
               "results", "reason; detail");
    }
    for (int i = 0; i < n; i++) {
        const ft_audit *a = &v[i];
        if (json) {
            write_record(a);
            continue;
        }
        char t[64];
        format_time_local(a->time_us, zone, 1, t, sizeof t);
        const char *sep = a->reason[0] && a->detail[0] ? "; " : "";
        printf("%6lld  %-19s  %-16s %-8s %-13s %7lld  %s%s%s%s%s%s\n", (long long)a->id, t, a->who,
               a->role, a->action, (long long)a->results, a->reason, sep, a->detail,
               a->photo_sha256[0] ? " (photo sha256 " : "", a->photo_sha256,
               a->photo_sha256[0] ? ")" : "");
    }
    status = CLI_OK;
done:
    ft_store_free(v);
    ft_store_close(st);
    return status;
}

/* ------------------------------------------------------------------------ */
/* purge                                                                    */
/* ------------------------------------------------------------------------ */

static void print_counts(const char *verb, const ft_purge_report *r)
{
    printf("%s %lld sightings (%lld descriptors, %lld thumbnails), %lld watchlist entries, "
           "%lld dismissals, %lld saved ingest states\n",
           verb, (long long)r->sightings, (long long)r->descriptors, (long long)r->thumbnails,
           (long long)r->watch_entries, (long long)r->dismissals, (long long)r->resume_states);
}

int cmd_purge(int argc, char **argv)
{
    const char *db = NULL, *before = NULL, *tz = NULL;
    int ended = 0, yes = 0;
    long long keep = -1;
    struct opts o;
    opts_init(&o, argc, argv);
    while (opts_next(&o)) {
        if (opts_is_help(&o)) return print_help(purge_usage);
        if (opts_is(&o, "--db")) {
            if (!(db = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--before")) {
            if (!(before = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--tz")) {
            if (!(tz = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--keep-days")) {
            if (opts_int(&o, 0, 36500, "a number of days, 0 to 36500", &keep)) return CLI_ERROR;
        } else if (opts_is(&o, "--event-ended")) {
            if (opts_flag(&o)) return CLI_ERROR;
            ended = 1;
        } else if (opts_is(&o, "--yes")) {
            if (opts_flag(&o)) return CLI_ERROR;
            yes = 1;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands) return usage_error(o.cmd, "unexpected operand '%s'", argv[1]);
    if (!db) return usage_error(o.cmd, "missing --db DB");
    if (!before == !ended)
        return usage_error(o.cmd, "give --before TIME or --event-ended --keep-days N");
    if (ended && keep < 0) return usage_error(o.cmd, "--event-ended needs --keep-days N");
    if (!ended && keep >= 0) return usage_error(o.cmd, "--keep-days goes with --event-ended");

    ft_store *st;
    if (ft_store_open(db, yes ? 0 : FT_STORE_READONLY, &st) != FT_OK) {
        fprintf(stderr, "facetrail purge: %s\n", ft_store_errmsg(NULL));
        return CLI_ERROR;
    }
    int status = CLI_ERROR;
    char zone[FT_TIME_ZONE_MAX], t[64], when[64];
    int64_t before_us = 0;
    if (event_zone(o.cmd, st, tz, zone, sizeof zone) != CLI_OK) goto done;
    if (before) {
        if (parse_time_arg(o.cmd, "--before", before, zone, 0, &before_us) != CLI_OK) goto done;
        format_time_local(before_us, zone, 2, when, sizeof when);
        printf("purging what ended before %s\n", when);
    } else {
        int64_t due, end;
        int rc = ft_store_purge_due(st, (int)keep, now_us(), &before_us, &due, &end);
        if (rc < 0) {
            fprintf(stderr, "facetrail purge: %s\n", ft_store_errmsg(st));
            goto done;
        }
        format_time_local(end, zone, 2, t, sizeof t);
        format_time_local(due, zone, 2, when, sizeof when);
        if (rc == 0) {
            printf("nothing to purge yet: the event ended %s; its data is due to go %s (%lld "
                   "days after)\n",
                   t, when, keep);
            status = CLI_OK;
            goto done;
        }
        printf("the event ended %s; %lld days have passed (due %s): everything goes\n", t, keep,
               when);
    }
    ft_purge_report r;
    if (!yes) {
        if (ft_store_purge_preview(st, before_us, &r) != FT_OK) {
            fprintf(stderr, "facetrail purge: %s\n", ft_store_errmsg(st));
            goto done;
        }
        print_counts("would remove", &r);
        printf("dry run: nothing removed; run again with --yes to remove them\n");
        status = CLI_OK;
        goto done;
    }
    int rc = ft_store_purge(st, before_us, &r);
    char err[512] = "";
    if (rc != FT_OK) snprintf(err, sizeof err, "%s", ft_store_errmsg(st));
    if (rc == FT_OK || r.sightings || r.watch_entries || r.dismissals || r.resume_states) {
        /* the rows went (the space may not have been reclaimed): say so */
        print_counts("removed", &r);
        if (rc == FT_OK)
            printf("database: %lld bytes before, %lld after; the audit log is kept\n",
                   (long long)r.bytes_before, (long long)r.bytes_after);
        ft_audit a;
        memset(&a, 0, sizeof a);
        os_user(a.who, sizeof a.who);
        snprintf(a.role, sizeof a.role, "admin");
        snprintf(a.action, sizeof a.action, "purge");
        a.results = r.sightings;
        char before_iso[40] = "all";
        if (before_us != INT64_MAX) format_time(before_us, before_iso);
        snprintf(a.detail, sizeof a.detail,
                 "before=%s sightings=%lld descriptors=%lld thumbnails=%lld watch_entries=%lld "
                 "dismissals=%lld resume_states=%lld bytes=%lld->%lld%s",
                 before_iso, (long long)r.sightings, (long long)r.descriptors,
                 (long long)r.thumbnails, (long long)r.watch_entries, (long long)r.dismissals,
                 (long long)r.resume_states, (long long)r.bytes_before, (long long)r.bytes_after,
                 rc == FT_OK ? "" : " space-not-reclaimed");
        if (ft_store_audit_append(st, &a) != FT_OK) {
            fprintf(stderr, "facetrail purge: recording the purge in the audit log: %s\n",
                    ft_store_errmsg(st));
            rc = rc == FT_OK ? FT_EIO : rc;
        }
    }
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail purge: %s\n", err[0] ? err : ft_store_errmsg(st));
        goto done;
    }
    status = CLI_OK;
done:
    ft_store_close(st);
    return status;
}
