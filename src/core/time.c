/*
** core/time.c: ISO 8601 times with offsets and named zones (facetrail/time.h).
**
** DESIGN
**   Parsing checks every field against the calendar itself (days per month,
**   leap years) before any conversion, so that mktime's normalisation
**   (30 February -> 2 March) can never change what the user wrote into
**   another time silently. Offsets are limited to what the world uses
**   (-12:00 .. +14:00, widened to +-14:00).
**
**   Local times of a named zone go through the C library's zone database:
**   TZ is switched to the zone, tzset(), mktime/localtime_r, and switched
**   back, all under one lock. A local time that mktime moves (the hour
**   skipped when clocks go forward) is rejected; one that exists twice (the
**   hour repeated when clocks go back) takes the first and says so.
**
** INVARIANTS  (1) TZ is restored to its previous value (or unset) before the
**                 lock is released.
**             (2) ft_time_parse accepts only texts that ft_time_format's ISO
**                 styles could have written, give or take the fraction's
**                 digits and the offset's spelling.
*/
#include "core/core.h"
#include "facetrail/time.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ZONEINFO        "/usr/share/zoneinfo/"
#define MAX_OFFSET_MIN  (14 * 60)

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------------------ */
/* Zone switching                                                           */
/* ------------------------------------------------------------------------ */

typedef struct tz_saved {
    char *old; /* previous TZ (strdup), NULL if it was unset */
    int switched;
} tz_saved;

/* Locks and, for a named zone, makes it the process's zone. */
static void zone_enter(const char *zone, tz_saved *sv)
{
    pthread_mutex_lock(&tz_lock);
    sv->old = NULL;
    sv->switched = 0;
    if (zone && *zone) {
        const char *cur = getenv("TZ");
        sv->old = cur ? strdup(cur) : NULL;
        setenv("TZ", zone, 1);
        sv->switched = 1;
    }
    tzset();
}

static void zone_leave(tz_saved *sv)
{
    if (sv->switched) {
        if (sv->old) setenv("TZ", sv->old, 1);
        else unsetenv("TZ");
        tzset();
    }
    free(sv->old);
    pthread_mutex_unlock(&tz_lock);
}

int ft_time_zone_valid(const char *zone)
{
    if (!zone || !*zone) return 1;
    if (!strcmp(zone, "UTC") || !strcmp(zone, "Z")) return 1;
    if (zone[0] == '/' || strstr(zone, "..") || strlen(zone) >= FT_TIME_ZONE_MAX) return 0;
    for (const char *p = zone; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("/_+-", *p))) return 0;
    char path[sizeof ZONEINFO + FT_TIME_ZONE_MAX];
    snprintf(path, sizeof path, ZONEINFO "%s", zone);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *ft_time_local_zone(char *buf, size_t len)
{
    const char *tz = getenv("TZ");
    if (tz && *tz) {
        snprintf(buf, len, "%s", tz[0] == ':' ? tz + 1 : tz);
        return buf;
    }
    FILE *f = fopen("/etc/timezone", "r");
    if (f) {
        char line[FT_TIME_ZONE_MAX] = "";
        char *ok = fgets(line, sizeof line, f);
        fclose(f);
        line[strcspn(line, " \t\r\n")] = 0;
        if (ok && *line && ft_time_zone_valid(line)) {
            snprintf(buf, len, "%s", line);
            return buf;
        }
    }
    char link[PATH_MAX];
    ssize_t n = readlink("/etc/localtime", link, sizeof link - 1);
    if (n > 0) {
        link[n] = 0;
        const char *z = strstr(link, "zoneinfo/");
        if (z && ft_time_zone_valid(z + 9)) {
            snprintf(buf, len, "%s", z + 9);
            return buf;
        }
    }
    snprintf(buf, len, "UTC");
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */
/* ------------------------------------------------------------------------ */

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

static const char *const month_names[12] = { "January", "February", "March",     "April",
                                              "May",     "June",     "July",      "August",
                                              "September", "October", "November", "December" };

/* Reads exactly n digits at *p. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int ft_time_parse(const char *text, const char *zone, int64_t *out_us, ft_time_parsed *info,
                  char *err, size_t errlen)
{
    ft_time_parsed tmp;
    if (!info) info = &tmp;
    memset(info, 0, sizeof *info);
    if (!text || !out_us) return ft__errf(err, errlen, FT_EINVAL, "no time given");
    if (!ft_time_zone_valid(zone))
        return ft__errf(err, errlen, FT_EINVAL, "unknown time zone '%s' (use a name such as "
                                                "Europe/Paris or UTC)", zone);
    const char *p = text;
    int Y, M, D, h = 0, m = 0, s = 0;
    int64_t frac_us = 0;
    if (!digits(&p, 4, &Y) || *p++ != '-' || !digits(&p, 2, &M) || *p++ != '-' ||
        !digits(&p, 2, &D))
        return ft__errf(err, errlen, FT_EINVAL,
                        "'%s' is not an ISO 8601 time such as 2026-04-12T09:30:00Z", text);
    if (Y < 1970 || Y > 9999)
        return ft__errf(err, errlen, FT_EINVAL, "'%s': the year must be 1970..9999", text);
    if (M < 1 || M > 12)
        return ft__errf(err, errlen, FT_EINVAL, "'%s': there is no month %d", text, M);
    if (D < 1 || D > days_in_month(Y, M))
        return ft__errf(err, errlen, FT_EINVAL, "'%s': %s %d has %d days", text,
                        month_names[M - 1], Y, days_in_month(Y, M));
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &m))
            return ft__errf(err, errlen, FT_EINVAL,
                            "'%s' is not an ISO 8601 time such as 2026-04-12T09:30:00Z", text);
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &s))
                return ft__errf(err, errlen, FT_EINVAL, "'%s': bad seconds", text);
            if (*p == '.' || *p == ',') {
                p++;
                int n = 0;
                int64_t scale = 100000;
                while (isdigit((unsigned char)*p)) {
                    if (n < 6) frac_us += (*p - '0') * scale, scale /= 10;
                    p++, n++;
                }
                if (n == 0) return ft__errf(err, errlen, FT_EINVAL, "'%s': bad fraction", text);
            }
        }
        if (h > 23 || m > 59 || s > 59)
            return ft__errf(err, errlen, FT_EINVAL,
                            "'%s': %02d:%02d:%02d is not a time of day (00:00:00..23:59:59)",
                            text, h, m, s);
    }
    int off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
        info->had_offset = 1;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (!digits(&p, 2, &oh))
            return ft__errf(err, errlen, FT_EINVAL, "'%s': bad UTC offset", text);
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &om))
                return ft__errf(err, errlen, FT_EINVAL, "'%s': bad UTC offset", text);
        } else if (isdigit((unsigned char)*p) && !digits(&p, 2, &om)) {
            return ft__errf(err, errlen, FT_EINVAL, "'%s': bad UTC offset", text);
        }
        if (om > 59 || oh * 60 + om > MAX_OFFSET_MIN)
            return ft__errf(err, errlen, FT_EINVAL,
                            "'%s': a UTC offset is at most +-14:00 (with minutes < 60)", text);
        off_min = sign * (oh * 60 + om);
        info->had_offset = 1;
    }
    if (*p)
        return ft__errf(err, errlen, FT_EINVAL, "'%s': unexpected '%s' at the end", text, p);

    int64_t secs;
    if (info->had_offset || (zone && (!strcmp(zone, "UTC") || !strcmp(zone, "Z")))) {
        secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + s - (int64_t)off_min * 60;
    } else {
        /* a local time of the zone */
        tz_saved sv;
        zone_enter(zone, &sv);
        time_t t[2];
        int ok[2];
        for (int k = 0; k < 2; k++) {
            struct tm tm;
            memset(&tm, 0, sizeof tm);
            tm.tm_year = Y - 1900, tm.tm_mon = M - 1, tm.tm_mday = D;
            tm.tm_hour = h, tm.tm_min = m, tm.tm_sec = s;
            tm.tm_isdst = k;
            t[k] = mktime(&tm);
            struct tm back;
            ok[k] = t[k] != (time_t)-1 && localtime_r(&t[k], &back) && back.tm_hour == h &&
                    back.tm_min == m && back.tm_mday == D && back.tm_isdst == k;
        }
        int n_ok = ok[0] + ok[1];
        if (n_ok == 0) {
            /* no DST rule distinguishes: the zone has one offset, or the
            ** time falls in the gap */
            struct tm tm;
            memset(&tm, 0, sizeof tm);
            tm.tm_year = Y - 1900, tm.tm_mon = M - 1, tm.tm_mday = D;
            tm.tm_hour = h, tm.tm_min = m, tm.tm_sec = s;
            tm.tm_isdst = -1;
            t[0] = mktime(&tm);
            struct tm back;
            ok[0] = t[0] != (time_t)-1 && localtime_r(&t[0], &back) && back.tm_hour == h &&
                    back.tm_min == m && back.tm_mday == D;
            n_ok = ok[0];
        }
        zone_leave(&sv);
        if (n_ok == 0)
            return ft__errf(err, errlen, FT_EINVAL,
                            "'%s' does not exist in %s (the clocks went forward then)", text,
                            zone && *zone ? zone : "the local time zone");
        if (ok[0] && ok[1] && t[0] != t[1]) info->ambiguous = 1;
        secs = ok[0] && ok[1] ? (t[0] < t[1] ? t[0] : t[1]) : ok[0] ? t[0] : t[1];
        off_min = (int)((days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + s - secs) / 60);
    }
    info->offset_min = off_min;
    *out_us = secs * 1000000 + frac_us;
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* Formatting                                                               */
/* ------------------------------------------------------------------------ */

int ft_time_offset_min(int64_t us, const char *zone)
{
    time_t t = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    tz_saved sv;
    zone_enter(zone, &sv);
    struct tm tm;
    localtime_r(&t, &tm);
    long off = tm.tm_gmtoff;
    zone_leave(&sv);
    return (int)(off / 60);
}

char *ft_time_format(int64_t us, const char *zone, enum ft_time_style style, char *buf,
                     size_t len)
{
    if (!buf || len == 0) return buf;
    time_t t = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    int ms = (int)((us - (int64_t)t * 1000000) / 1000);
    struct tm tm;
    if (style == FT_TIME_ISO_UTC) {
        gmtime_r(&t, &tm);
        size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, len - n, ".%03dZ", ms);
        return buf;
    }
    tz_saved sv;
    zone_enter(zone, &sv);
    localtime_r(&t, &tm);
    char abbr[16];
    strftime(abbr, sizeof abbr, "%Z", &tm);
    long off = tm.tm_gmtoff;
    zone_leave(&sv);
    size_t n;
    switch (style) {
    case FT_TIME_LOCAL_CLOCK: strftime(buf, len, "%H:%M:%S", &tm); break;
    case FT_TIME_LOCAL_PLAIN: strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm); break;
    case FT_TIME_ISO_LOCAL:
        n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, len - n, ".%03d%c%02ld:%02ld", ms, off < 0 ? '-' : '+',
                 labs(off) / 3600, labs(off) / 60 % 60);
        break;
    default:
        n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
        snprintf(buf + n, len - n, " %s", abbr);
        break;
    }
    return buf;
}
