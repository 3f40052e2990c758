/*
** tests/unit/test_time.c: ISO 8601 times with offsets and zones
** (core/time.c). Expected values are worked out by hand: 2026-04-12T09:30:00Z
** is 1775986200 s after the epoch (20555 days x 86400 + 9.5 h); Paris is
** UTC+2 in April 2026 (summer time from 29 March 02:00 to 25 October 03:00),
** New York UTC-4.
*/
#include "facetrail.h"
#include "facetrail/time.h"
#include "harness/test.h"

#include <stdlib.h>
#include <string.h>

#define T0_US 1775986200000000LL /* 2026-04-12T09:30:00Z */

static int64_t parse_ok(const char *s, const char *zone, ft_time_parsed *info)
{
    int64_t us = 0;
    char err[256] = "";
    int rc = ft_time_parse(s, zone, &us, info, err, sizeof err);
    if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "%s in %s: %s", s, zone ? zone : "-", err);
    return us;
}

static void parse_bad(const char *s, const char *zone, const char *why)
{
    int64_t us = 0;
    char err[256] = "";
    ASSERT_EQ(ft_time_parse(s, zone, &us, NULL, err, sizeof err), FT_EINVAL);
    ASSERT_STR_CONTAINS(err, why);
}

static void test_time_offsets(void)
{
    ft_time_parsed in;
    ASSERT_EQ(parse_ok("2026-04-12T09:30:00Z", "Europe/Paris", &in), T0_US);
    ASSERT(in.had_offset);
    ASSERT_EQ(parse_ok("2026-04-12T11:30:00+02:00", NULL, NULL), T0_US);
    ASSERT_EQ(parse_ok("2026-04-12T11:30:00+0200", NULL, NULL), T0_US);
    ASSERT_EQ(parse_ok("2026-04-12T11:30+02", NULL, NULL), T0_US);
    ASSERT_EQ(parse_ok("2026-04-12T05:30:00-04:00", NULL, NULL), T0_US);
    ASSERT_EQ(parse_ok("2026-04-12T09:30:00.25Z", NULL, NULL), T0_US + 250000);
    ASSERT_EQ(parse_ok("2026-04-12 09:30:00.000001Z", NULL, NULL), T0_US + 1);
    ASSERT_EQ(parse_ok("2026-04-12T14:00+14:00", NULL, NULL), T0_US - 9 * 3600000000LL - 1800000000LL);
    ASSERT_EQ(parse_ok("2028-02-29T00:00:00Z", NULL, NULL), 1835395200000000LL); /* leap day */
}

static void test_time_rejects(void)
{
    parse_bad("2026-02-30", "UTC", "February 2026 has 28 days");
    parse_bad("2026-02-29T10:00Z", "UTC", "28 days");
    parse_bad("2026-04-31T10:00Z", "UTC", "April 2026 has 30 days");
    parse_bad("2026-13-01T10:00Z", "UTC", "no month 13");
    parse_bad("2026-04-12T24:00Z", "UTC", "not a time of day");
    parse_bad("2026-04-12T09:60Z", "UTC", "not a time of day");
    parse_bad("2026-04-12T09:30:61Z", "UTC", "not a time of day");
    parse_bad("2026-04-12T09:30+25:00", "UTC", "at most +-14:00");
    parse_bad("2026-04-12T09:30+14:30", "UTC", "at most +-14:00");
    parse_bad("2026-04-12T09:30+02:75", "UTC", "minutes < 60");
    parse_bad("2026-04-12T09:30Zjunk", "UTC", "at the end");
    parse_bad("1969-12-31T23:00Z", "UTC", "1970..9999");
    parse_bad("yesterday", "UTC", "ISO 8601");
    parse_bad("2026-4-12", "UTC", "ISO 8601");
    parse_bad("2026-04-12T09:30", "Mars/Olympus_Mons", "unknown time zone");
    parse_bad("2026-04-12T09:30", "../../etc/passwd", "unknown time zone");
}

/* A time without an offset is a local time of the zone given, not UTC. */
static void test_time_zones(void)
{
    ft_time_parsed in;
    ASSERT_EQ(parse_ok("2026-04-12T11:30:00", "Europe/Paris", &in), T0_US);
    ASSERT(!in.had_offset);
    ASSERT_EQ(in.offset_min, 120);
    ASSERT_EQ(parse_ok("2026-04-12T05:30", "America/New_York", &in), T0_US);
    ASSERT_EQ(in.offset_min, -240);
    ASSERT_EQ(parse_ok("2026-04-12T09:30", "UTC", &in), T0_US);
    /* winter in Paris: UTC+1 */
    ASSERT_EQ(parse_ok("2026-01-15T13:00", "Europe/Paris", &in), 1768478400000000LL);
    ASSERT_EQ(in.offset_min, 60);
    /* 29 March 2026: Paris clocks jump from 02:00 to 03:00 */
    parse_bad("2026-03-29T02:30", "Europe/Paris", "does not exist");
    /* 25 October 2026: 02:30 happens twice (UTC 00:30 and 01:30): the first */
    ASSERT_EQ(parse_ok("2026-10-25T02:30", "Europe/Paris", &in), 1792888200000000LL);
    ASSERT(in.ambiguous);
    /* the process's zone, from TZ */
    setenv("TZ", "Asia/Tokyo", 1);
    ASSERT_EQ(parse_ok("2026-04-12T18:30", NULL, &in), T0_US);
    ASSERT_EQ(in.offset_min, 540);
    char buf[FT_TIME_ZONE_MAX];
    ASSERT_STR_CONTAINS(ft_time_local_zone(buf, sizeof buf), "Asia/Tokyo");
    unsetenv("TZ");
    ASSERT(ft_time_zone_valid("Europe/Paris"));
    ASSERT(ft_time_zone_valid("UTC"));
    ASSERT(!ft_time_zone_valid("Europe/Atlantis"));
}

static void test_time_format(void)
{
    char b[FT_TIME_TEXT_MAX];
    ASSERT_STR_CONTAINS(ft_time_format(T0_US + 5000, NULL, FT_TIME_ISO_UTC, b, sizeof b),
                        "2026-04-12T09:30:00.005Z");
    ASSERT_STR_CONTAINS(ft_time_format(T0_US, "Europe/Paris", FT_TIME_LOCAL_DATE, b, sizeof b),
                        "2026-04-12 11:30:00 CEST");
    ASSERT_STR_CONTAINS(ft_time_format(T0_US, "America/New_York", FT_TIME_LOCAL_CLOCK, b,
                                       sizeof b),
                        "05:30:00");
    ASSERT_STR_CONTAINS(ft_time_format(T0_US, "Asia/Kolkata", FT_TIME_ISO_LOCAL, b, sizeof b),
                        "2026-04-12T15:00:00.000+05:30");
    ASSERT_STR_CONTAINS(ft_time_format(T0_US, "America/New_York", FT_TIME_ISO_LOCAL, b,
                                       sizeof b),
                        "-04:00");
    ASSERT_EQ(ft_time_offset_min(T0_US, "Europe/Paris"), 120);
    /* the zone switch leaves TZ as it was */
    ASSERT(getenv("TZ") == NULL);
    ASSERT_STR_CONTAINS(ft_time_format(-1, NULL, FT_TIME_ISO_UTC, b, sizeof b),
                        "1969-12-31T23:59:59.999Z");
}

FT_TESTS(FT_TEST(test_time_offsets), FT_TEST(test_time_rejects), FT_TEST(test_time_zones),
         FT_TEST(test_time_format))
