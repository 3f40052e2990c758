/*
** store/lease.c: per-camera ingest leases: one process at a time ingests a
** camera.
**
** DESIGN
**   Table ingest_leases (schema v3) holds at most one row per camera: the
**   holder (process id, host name, and a random token per store handle, so
**   that two handles of one process are told apart), when it was acquired,
**   last renewed, and when it expires (FT__LEASE_TTL_US after the last
**   renewal). ft__store_lease_take runs inside the caller's write
**   transaction (BEGIN IMMEDIATE: the check and the write are atomic against
**   other processes):
**     no row                         -> insert ours
**     ours (same pid, host, token)   -> renew
**     expired, or its holder is gone on this host (no such pid, or a pid
**     reused by a process started after the lease was taken) -> stale:
**                                       take it over
**     otherwise                      -> FT_EIO "camera X is being ingested by
**                                       process P on host H since T"
**   Ingest begin takes the lease, every commit takes it again (a renewal,
**   or a re-take after a finish released it), finish takes it too (a run
**   taken over is not marked done or failed by its old holder) and then
**   releases it, and close releases every lease of the handle.
**
** STATES      (none) --take--> held --take (renew)--> held
**             held --finish/close--> (none)
**             held --holder dies, or expires--> stale --take by another--> held
**
** INVARIANTS  (1) a commit writes nothing unless its handle holds the
**                 camera's lease in the same transaction.
**             (2) a live holder's lease is never taken over before it expires.
** THREADS     As the store handle.
*/
#include "store/store.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A lease not renewed for this long is stale even if its holder lives. A
** commit renews it: an ingest commits every few seconds of video, far more
** often than this even on a slow machine. */
#define FT__LEASE_TTL_US (10 * 60 * 1000000LL)

void ft__store_lease_init(ft_store *st)
{
    st->lease_pid = (int64_t)getpid();
    if (gethostname(st->lease_host, sizeof st->lease_host) != 0) st->lease_host[0] = 0;
    st->lease_host[sizeof st->lease_host - 1] = 0;
    if (!st->lease_host[0]) snprintf(st->lease_host, sizeof st->lease_host, "localhost");
    sqlite3_randomness(sizeof st->lease_token, &st->lease_token);
    st->lease_token &= INT64_MAX; /* stored as a non-negative INTEGER */
}

void ft__store_iso_time(int64_t us, char out[32])
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    if (us < 0 || !gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "%.3f s", (double)us / 1e6);
}

/* Start of process pid, seconds since the Unix epoch, from Linux's /proc
** (boot time + start in clock ticks); -1 if unknown. */
static int64_t process_start_s(int64_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold blanks and parens */
    if (!p) return -1;
    long long ticks = -1;
    /* fields after the name: state (3) ... starttime (22) */
    for (int field = 3; *p && field <= 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p) return -1;
        if (field == 22) ticks = strtoll(p + 1, NULL, 10);
    }
    long hz = sysconf(_SC_CLK_TCK);
    f = fopen("/proc/stat", "r");
    if (!f || ticks < 0 || hz <= 0) {
        if (f) fclose(f);
        return -1;
    }
    long long btime = -1;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lld", &btime) == 1) break;
    fclose(f);
    return btime < 0 ? -1 : btime + ticks / hz;
}

/* Whether the holder of a lease taken at acquired_us still runs on this
** host: its pid exists and is not a later process that got the same pid. */
static int holder_alive(int64_t pid, int64_t acquired_us)
{
    if (pid <= 0 || pid > INT32_MAX) return 0;
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM) return 0;
    int64_t start_s = process_start_s(pid);
    /* started after the lease was taken (2 s for rounding): a reused pid */
    if (start_s >= 0 && start_s > acquired_us / 1000000 + 2) return 0;
    return 1;
}

int ft__store_lease_take(ft_store *st, const char *camera_id, int64_t ingest_id)
{
    if (st->version < 3) return FT_OK; /* a test's older schema: no lease table */
    sqlite3_stmt *s;
    int rc = ft__store_stmt(st, FT__STMT_LEASE_GET, &s);
    if (rc != FT_OK) return rc;
    sqlite3_bind_text(s, 1, camera_id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    int64_t now = ft__store_now_us();
    if (r == SQLITE_ROW) {
        int64_t pid = sqlite3_column_int64(s, 0);
        char host[sizeof st->lease_host];
        ft__store_copy_text(host, sizeof host, s, 1);
        int64_t token = sqlite3_column_int64(s, 2);
        int64_t acquired = sqlite3_column_int64(s, 3);
        int64_t expires = sqlite3_column_int64(s, 4);
        sqlite3_reset(s);
        int ours =
            pid == st->lease_pid && token == st->lease_token && strcmp(host, st->lease_host) == 0;
        int here = strcmp(host, st->lease_host) == 0;
        int stale = expires < now || (here && !holder_alive(pid, acquired));
        if (!ours && !stale) {
            char since[32];
            ft__store_iso_time(acquired, since);
            return ft__store_fail(st, FT_EIO,
                                  "camera %s is being ingested by process %lld on host %s since "
                                  "%s%s; wait for it or stop it",
                                  camera_id, (long long)pid, host, since,
                                  pid == st->lease_pid && here ? " (this same process)" : "");
        }
        if (ours) {
            if ((rc = ft__store_stmt(st, FT__STMT_LEASE_RENEW, &s)) != FT_OK) return rc;
            sqlite3_bind_text(s, 1, camera_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, ingest_id);
            sqlite3_bind_int64(s, 3, now);
            sqlite3_bind_int64(s, 4, now + FT__LEASE_TTL_US);
            r = sqlite3_step(s);
            sqlite3_reset(s);
            if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "renewing the camera's lease");
            st->lease_held = 1;
            return FT_OK;
        }
        /* stale: fall through and take it over */
    } else if (r != SQLITE_DONE) {
        sqlite3_reset(s);
        return ft__store_sqlfail(st, r, "reading the camera's lease");
    } else {
        sqlite3_reset(s);
    }
    if ((rc = ft__store_stmt(st, FT__STMT_LEASE_PUT, &s)) != FT_OK) return rc;
    sqlite3_bind_text(s, 1, camera_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, ingest_id);
    sqlite3_bind_int64(s, 3, st->lease_pid);
    sqlite3_bind_text(s, 4, st->lease_host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, st->lease_token);
    sqlite3_bind_int64(s, 6, now);
    sqlite3_bind_int64(s, 7, now + FT__LEASE_TTL_US);
    r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "taking the camera's lease");
    st->lease_held = 1;
    return FT_OK;
}

int ft__store_lease_release(ft_store *st, const char *camera_id)
{
    if (st->version < 3) return FT_OK;
    sqlite3_stmt *s;
    int rc =
        ft__store_stmt(st, camera_id ? FT__STMT_LEASE_RELEASE : FT__STMT_LEASE_RELEASE_ALL, &s);
    if (rc != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, st->lease_pid);
    sqlite3_bind_text(s, 2, st->lease_host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, st->lease_token);
    if (camera_id) sqlite3_bind_text(s, 4, camera_id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) return ft__store_sqlfail(st, r, "releasing the camera's lease");
    return FT_OK;
}
