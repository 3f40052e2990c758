/*
** store/audit.c: the audit log (schema v5: table audit), an append-only,
** hash-chained record of who did what with the event's data; and
** ft_sha256_hex, the digest of a query photo that a record names instead of
** the photo.
**
** DESIGN
**   A record's hash is SHA-256 over the previous record's hash (64 lowercase
**   hex characters; 64 '0' before the first record) followed by the
**   record's canonical serialisation: id, time_us, who, role, action,
**   reason, photo_sha256, results, detail, each as a netstring
**   "<decimal length>:<bytes>," (integers as decimal text). Netstrings make
**   the serialisation injective: no two different records give the same
**   bytes, whatever their texts contain (commas, colons, NULs cannot occur).
**   The form is written down in include/facetrail/store.h too, for
**   verifiers outside this library; changing it is a schema change.
**
**   Append reads the last record (id, hash) and inserts the next one inside
**   one BEGIN IMMEDIATE transaction, so two writers never chain onto the
**   same record. The id is chosen here (last + 1), not by SQLite, because
**   the hash covers it.
**
**   Two guards against edits (see store.h, TAMPERING): the triggers of
**   schema v5 abort UPDATE and DELETE through SQL; the chain shows edits
**   made past them (triggers dropped, bytes of the file changed). Verify
**   trusts each record's stored hash as the next one's "previous": an
**   edited record breaks the chain at itself; an edited record whose hash
**   was recomputed breaks it at the next one; a removed record breaks it at
**   the one after. Removing the newest records is not visible in the file
**   alone (the head hash, kept elsewhere, shows it).
**
** INVARIANTS  (1) records are never updated or deleted by this library
**                 (ft_store_purge keeps the table whole).
**             (2) every check of the table's CHECKs is made in C first
**                 (schema.c INVARIANT (3)).
** OWNERSHIP   Lists are the caller's (ft_store_free).
*/
#include "store/store.h"

#include <libavutil/hash.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* SHA-256                                                                  */
/* ------------------------------------------------------------------------ */

/* SHA-256 of two pieces, one after the other, as hex into out. */
static int sha256_hex2(const void *a, size_t na, const void *b, size_t nb, char out[65])
{
    struct AVHashContext *h = NULL;
    if (av_hash_alloc(&h, "SHA256") < 0 || !h) return FT_ENOMEM;
    av_hash_init(h);
    if (na) av_hash_update(h, a, na);
    if (nb) av_hash_update(h, b, nb);
    unsigned char d[32];
    av_hash_final(h, d);
    av_hash_freep(&h);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = 0;
    return FT_OK;
}

int ft_sha256_hex(const void *data, size_t n, char out[65])
{
    if (!out || (!data && n)) return FT_EINVAL;
    return sha256_hex2(data, n, NULL, 0, out);
}

/* ------------------------------------------------------------------------ */
/* The chain                                                                */
/* ------------------------------------------------------------------------ */

/* The largest serialisation: the texts at their array sizes, two int64
** and their netstring framing. */
#define SER_MAX 1024

static size_t put_text(char *p, const char *t)
{
    size_t n = strlen(t);
    int k = sprintf(p, "%zu:", n);
    memcpy(p + k, t, n);
    p[k + n] = ',';
    return (size_t)k + n + 1;
}

static size_t put_int(char *p, int64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%lld", (long long)v);
    return put_text(p, t);
}

/* The record's canonical bytes (see DESIGN) into buf; returns the length. */
static size_t serialise(const ft_audit *a, char buf[SER_MAX])
{
    size_t n = 0;
    n += put_int(buf + n, a->id);
    n += put_int(buf + n, a->time_us);
    n += put_text(buf + n, a->who);
    n += put_text(buf + n, a->role);
    n += put_text(buf + n, a->action);
    n += put_text(buf + n, a->reason);
    n += put_text(buf + n, a->photo_sha256);
    n += put_int(buf + n, a->results);
    n += put_text(buf + n, a->detail);
    FT_ASSERT(n <= SER_MAX);
    return n;
}

/* hash = SHA-256(prev || serialise(a)). */
static int chain_hash(const char prev[65], const ft_audit *a, char out[65])
{
    char buf[SER_MAX];
    size_t n = serialise(a, buf);
    return sha256_hex2(prev, 64, buf, n, out);
}

static const char genesis[65] = "0000000000000000000000000000000000000000000000000000000000000000";

/* ------------------------------------------------------------------------ */
/* Append, list, verify                                                     */
/* ------------------------------------------------------------------------ */

#define TERMINATED(field) (memchr((field), 0, sizeof(field)) != NULL)

static int valid_sha_hex(const char *s)
{
    if (!*s) return 1;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return s[64] == 0;
}

static int prepare(ft_store *st, const char *sql, sqlite3_stmt **s, const char *what)
{
    int r = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);
    return r == SQLITE_OK ? FT_OK : ft__store_sqlfail(st, r, what);
}

int ft_store_audit_append(ft_store *st, ft_audit *a)
{
    static const char what[] = "appending to the audit log";
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_writable(st)) != FT_OK) return rc;
    if (!a || !TERMINATED(a->who) || !TERMINATED(a->role) || !TERMINATED(a->action) ||
        !TERMINATED(a->reason) || !TERMINATED(a->photo_sha256) || !TERMINATED(a->detail))
        return ft__store_fail(st, FT_EINVAL, "an audit record's texts must fit their fields");
    if (!a->action[0]) return ft__store_fail(st, FT_EINVAL, "an audit record needs an action");
    if (!a->who[0] || !a->role[0])
        return ft__store_fail(st, FT_EINVAL, "an audit record needs who did it and their role");
    if (!valid_sha_hex(a->photo_sha256))
        return ft__store_fail(st, FT_EINVAL,
                              "an audit record's photo digest must be \"\" or 64 lowercase "
                              "hex digits");
    if (a->results < 0)
        return ft__store_fail(st, FT_EINVAL, "an audit record's result count is negative");
    if ((rc = ft__store_begin(st, what)) != FT_OK) return rc;
    sqlite3_stmt *s;
    char prev[65];
    memcpy(prev, genesis, sizeof prev);
    int64_t last = 0;
    rc = prepare(st, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", &s, what);
    if (rc == FT_OK) {
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            last = sqlite3_column_int64(s, 0);
            ft__store_copy_text(prev, sizeof prev, s, 1);
            if (strlen(prev) != 64)
                rc = ft__store_fail(st, FT_EFORMAT, "audit record %lld: damaged hash",
                                    (long long)last);
        } else if (r != SQLITE_DONE) {
            rc = ft__store_sqlfail(st, r, what);
        }
        sqlite3_finalize(s);
    }
    ft_audit rec = *a;
    if (rc == FT_OK) {
        rec.id = last + 1;
        rec.time_us = ft__store_now_us();
        rc = chain_hash(prev, &rec, rec.hash);
        if (rc != FT_OK) rc = ft__store_fail(st, rc, "%s: cannot compute SHA-256", what);
    }
    if (rc == FT_OK)
        rc = prepare(st,
                     "INSERT INTO audit(id, time_us, who, role, action, reason, photo_sha256, "
                     "results, detail, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                     &s, what);
    if (rc == FT_OK) {
        sqlite3_bind_int64(s, 1, rec.id);
        sqlite3_bind_int64(s, 2, rec.time_us);
        sqlite3_bind_text(s, 3, rec.who, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, rec.role, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, rec.action, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 6, rec.reason, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 7, rec.photo_sha256, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 8, rec.results);
        sqlite3_bind_text(s, 9, rec.detail, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 10, rec.hash, -1, SQLITE_STATIC);
        int r = sqlite3_step(s);
        if (r != SQLITE_DONE) rc = ft__store_sqlfail(st, r, what);
        sqlite3_finalize(s);
    }
    rc = ft__store_end(st, rc, what);
    if (rc == FT_OK) {
        a->id = rec.id;
        a->time_us = rec.time_us;
        memcpy(a->hash, rec.hash, sizeof a->hash);
    }
    return rc;
}

/* Reads the current row of s (the columns of the SELECTs below) into a. */
static void read_row(sqlite3_stmt *s, ft_audit *a)
{
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(s, 0);
    a->time_us = sqlite3_column_int64(s, 1);
    ft__store_copy_text(a->who, sizeof a->who, s, 2);
    ft__store_copy_text(a->role, sizeof a->role, s, 3);
    ft__store_copy_text(a->action, sizeof a->action, s, 4);
    ft__store_copy_text(a->reason, sizeof a->reason, s, 5);
    ft__store_copy_text(a->photo_sha256, sizeof a->photo_sha256, s, 6);
    a->results = sqlite3_column_int64(s, 7);
    ft__store_copy_text(a->detail, sizeof a->detail, s, 8);
    ft__store_copy_text(a->hash, sizeof a->hash, s, 9);
}

#define AUDIT_COLUMNS                                                                          \
    "SELECT id, time_us, who, role, action, reason, photo_sha256, results, detail, hash FROM " \
    "audit "

int ft_store_audit_list(ft_store *st, int64_t since_us, ft_audit **out, int *n)
{
    if (out) *out = NULL;
    if (n) *n = 0;
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if (!out || !n) return ft__store_fail(st, FT_EINVAL, "no output for the audit log");
    if (st->version < 5) return FT_OK; /* an older file, read-only: no log yet */
    sqlite3_stmt *s;
    rc = prepare(st, AUDIT_COLUMNS "WHERE time_us >= ?1 ORDER BY id", &s, "reading the audit log");
    if (rc != FT_OK) return rc;
    sqlite3_bind_int64(s, 1, since_us);
    ft_audit *v = NULL;
    int cap = 0, k = 0, r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (k == cap) {
            int nc = cap ? 2 * cap : 16;
            ft_audit *g = ft__realloc(v, (size_t)nc * sizeof *g);
            if (!g) {
                rc = ft__store_fail(st, FT_ENOMEM, "out of memory");
                break;
            }
            v = g, cap = nc;
        }
        read_row(s, &v[k++]);
    }
    if (rc == FT_OK && r != SQLITE_DONE) rc = ft__store_sqlfail(st, r, "reading the audit log");
    sqlite3_finalize(s);
    if (rc != FT_OK) {
        ft__free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return FT_OK;
}

int ft_store_audit_verify(ft_store *st, int64_t *bad_id)
{
    static const char what[] = "verifying the audit log";
    if (bad_id) *bad_id = 0;
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if (!bad_id) return ft__store_fail(st, FT_EINVAL, "no output for the audit check");
    if (st->version < 5) return FT_OK;
    sqlite3_stmt *s;
    /* text columns are read as they are stored: a value of another type
    ** (an edit outside this library) reads as its text and fails the hash */
    if ((rc = prepare(st, AUDIT_COLUMNS "ORDER BY id", &s, what)) != FT_OK) return rc;
    char prev[65], want[65];
    memcpy(prev, genesis, sizeof prev);
    ft_audit a;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        read_row(s, &a);
        /* a text cut to its field (too long, or with a NUL inside) was not
        ** written by append: a break, whatever its hash says */
        const char *texts[] = { a.who, a.role, a.action, a.reason, a.photo_sha256, a.detail };
        static const int cols[] = { 2, 3, 4, 5, 6, 8 };
        int fits = 1;
        for (int i = 0; i < 6; i++)
            if ((size_t)sqlite3_column_bytes(s, cols[i]) != strlen(texts[i])) fits = 0;
        if ((rc = chain_hash(prev, &a, want)) != FT_OK) {
            rc = ft__store_fail(st, rc, "%s: cannot compute SHA-256", what);
            break;
        }
        if (!fits || strcmp(want, a.hash) != 0) {
            *bad_id = a.id;
            break;
        }
        memcpy(prev, a.hash, sizeof prev);
    }
    if (rc == FT_OK && r != SQLITE_DONE && r != SQLITE_ROW) rc = ft__store_sqlfail(st, r, what);
    sqlite3_finalize(s);
    if (rc != FT_OK) *bad_id = 0;
    return rc;
}
