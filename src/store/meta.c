/*
** store/meta.c: the event's key/value settings (table meta, schema v3), such
** as its time zone.
**
** DESIGN
**   One row per key; set replaces the value (an upsert, one transaction).
**   Keys are 1..FT_STORE_META_KEY_MAX - 1 bytes of text, values any UTF-8
**   text up to FT_STORE_META_VALUE_MAX - 1 bytes. A database opened
**   read-only at an older schema (before v3) has no meta table: get answers
**   FT_ENOTFOUND there, as for a missing key.
**
** INVARIANTS  (1) get never writes past out_len and always NUL-terminates
**                 when out_len > 0.
*/
#include "store/store.h"

#include <string.h>

static int check_key(ft_store *st, const char *key)
{
    if (!key || !*key || !memchr(key, 0, FT_STORE_META_KEY_MAX))
        return ft__store_fail(st, FT_EINVAL, "a setting's key must be 1..%d bytes",
                              FT_STORE_META_KEY_MAX - 1);
    return FT_OK;
}

int ft_store_meta_get(ft_store *st, const char *key, char *out, size_t out_len)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if (!out || out_len == 0) return ft__store_fail(st, FT_EINVAL, "no output buffer given");
    *out = 0;
    if ((rc = check_key(st, key)) != FT_OK) return rc;
    return ft__store_meta_read(st, key, out, out_len);
}

int ft__store_meta_read(ft_store *st, const char *key, char *out, size_t out_len)
{
    *out = 0;
    if (st->version < 3) return ft__store_fail(st, FT_ENOTFOUND, "no setting %s", key);
    sqlite3_stmt *s;
    int rc = ft__store_stmt(st, FT__STMT_META_GET, &s);
    if (rc != FT_OK) return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        size_t n = t ? (size_t)sqlite3_column_bytes(s, 0) : 0;
        if (n >= out_len) {
            rc = ft__store_fail(st, FT_ETOOBIG, "setting %s is %zu bytes, the buffer holds %zu",
                                key, n, out_len - 1);
        } else {
            if (n) memcpy(out, t, n);
            out[n] = 0;
        }
    } else if (r == SQLITE_DONE) {
        rc = ft__store_fail(st, FT_ENOTFOUND, "no setting %s", key);
    } else {
        rc = ft__store_sqlfail(st, r, "reading a setting");
    }
    sqlite3_reset(s);
    return rc;
}

int ft_store_meta_set(ft_store *st, const char *key, const char *value)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_writable(st)) != FT_OK) return rc;
    if ((rc = check_key(st, key)) != FT_OK) return rc;
    if (!value || !memchr(value, 0, FT_STORE_META_VALUE_MAX))
        return ft__store_fail(st, FT_EINVAL, "setting %s: the value must be 0..%d bytes of text",
                              key, FT_STORE_META_VALUE_MAX - 1);
    if ((rc = ft__store_begin(st, "saving a setting")) != FT_OK) return rc;
    rc = ft__store_meta_write(st, key, value);
    return ft__store_end(st, rc, "saving a setting");
}

int ft__store_meta_write(ft_store *st, const char *key, const char *value)
{
    sqlite3_stmt *s;
    int rc = ft__store_stmt(st, FT__STMT_META_SET, &s);
    if (rc != FT_OK) return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    return r == SQLITE_DONE ? FT_OK : ft__store_sqlfail(st, r, "saving a setting");
}

int ft_store_descriptor_space(ft_store *st, char *out, size_t out_len)
{
    if (!out || !out_len) return FT_EINVAL;
    *out = 0;
    int rc = ft_store_meta_get(st, FT_STORE_SPACE_KEY, out, out_len);
    if (rc != FT_ENOTFOUND) return rc;
    int64_t cams, sightings, descs;
    if ((rc = ft_store_stats(st, &cams, &sightings, &descs, NULL, NULL)) != FT_OK) return rc;
    if (descs > 0) {
        if (strlen(FT_STORE_SPACE_LEGACY) >= out_len) return FT_ETOOBIG;
        strcpy(out, FT_STORE_SPACE_LEGACY);
    }
    return FT_OK;
}
