/*
** facetrail/time.h: wall-clock times as people write them (ISO 8601, with a
** UTC offset or in a named time zone) to and from microseconds since the
** Unix epoch, UTC. One parser and one formatter for the CLI, the server and
** the benchmarks.
**
** ZONES
**   A zone is an IANA name ("Europe/Paris", "America/New_York", "UTC"), or
**   NULL / "" for the process's own zone ($TZ, else the system's). A time
**   written without an offset is read as a local time of the zone given;
**   a time with "Z" or "+hh:mm" is taken as written, whatever the zone.
**
** THREADS  Safe to call from several threads (the zone switch is serialised
**          by a lock), but while a call runs, getenv("TZ") in another thread
**          may see the zone being used.
*/
#ifndef FACETRAIL_TIME_H
#define FACETRAIL_TIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FT_TIME_ZONE_MAX 64 /* bytes of a zone name, NUL included */
#define FT_TIME_TEXT_MAX 48 /* bytes of a formatted time, NUL included */

typedef struct ft_time_parsed {
    int had_offset; /* 1: the text said Z or +hh:mm; 0: read in the zone given */
    int offset_min; /* the UTC offset that was applied, minutes east of UTC */
    int ambiguous;  /* 1: the local time occurs twice (clocks went back); the
                       first of the two was taken */
} ft_time_parsed;

/* Parses "2026-04-12T09:30:00Z", "2026-04-12T11:30:00.5+02:00", "...+0200",
** "...+02", "2026-04-12 11:30" (local time of zone), "2026-04-12" (midnight).
** Rejects what is not a real time: month 13, 30 February, 24:00, 61 seconds,
** offsets beyond +-14:00 or with minutes >= 60, years before 1970 or after
** 9999, a local time that does not exist in the zone (clocks went forward),
** trailing text. info may be NULL. Errors: FT_EINVAL with a one-line reason
** in err ("2026-02-30: February 2026 has 28 days"). */
int ft_time_parse(const char *text, const char *zone, int64_t *out_us /* OUT */,
                  ft_time_parsed *info /* OUT, optional */, char *err, size_t errlen);

enum ft_time_style {
    FT_TIME_ISO_UTC = 0,     /* "2026-04-12T09:30:00.000Z" (zone ignored) */
    FT_TIME_LOCAL_DATE = 1,  /* "2026-04-12 11:30:00 CEST" in zone */
    FT_TIME_LOCAL_CLOCK = 2, /* "11:30:00" in zone */
    FT_TIME_ISO_LOCAL = 3,   /* "2026-04-12T11:30:00.000+02:00" in zone */
    FT_TIME_LOCAL_PLAIN = 4, /* "2026-04-12 11:30:00" in zone (say the zone elsewhere) */
};

/* Writes us in the given style into buf (at least FT_TIME_TEXT_MAX bytes
** is always enough). Returns buf. */
char *ft_time_format(int64_t us, const char *zone, enum ft_time_style style, char *buf, size_t len);

/* 1 if zone names a zone this system knows ("UTC", or a file under the
** zoneinfo folder), else 0. NULL and "" (the process's zone) are valid. */
int ft_time_zone_valid(const char *zone);

/* The name of the process's zone: $TZ (without a leading ':'), else the
** system's (/etc/timezone, else the /etc/localtime link), else "UTC". */
const char *ft_time_local_zone(char *buf, size_t len);

/* The zone's offset from UTC at time us, minutes east. */
int ft_time_offset_min(int64_t us, const char *zone);

#ifdef __cplusplus
}
#endif
#endif
