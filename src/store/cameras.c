/*
** store/cameras.c: the cameras table: add, get, list.
**
** DESIGN
**   A camera is checked in C before SQL sees it (ids are 1..63 printable
**   ASCII bytes without blanks, so they are safe in paths, URLs and logs).
**   Duplicates are found with INSERT ... ON CONFLICT DO NOTHING and a change
**   count of 0, so the message can name the camera.
**
** INVARIANTS  (1) a camera read back has a NUL-terminated id and name, whatever
**                 the file holds (texts are cut to fit, never overrun).
**             (2) ft_store_cameras returns *out == NULL exactly when *n == 0.
** OWNERSHIP   ft_store_cameras' array is the caller's (ft_store_free).
*/
#include "store/store.h"

#include <math.h>
#include <string.h>

static void read_camera(sqlite3_stmt *s, ft_camera *c)
{
    memset(c, 0, sizeof *c);
    ft__store_copy_text(c->id, sizeof c->id, s, 0);
    ft__store_copy_text(c->name, sizeof c->name, s, 1);
    c->km = sqlite3_column_double(s, 2);
    c->has_latlon =
        sqlite3_column_type(s, 3) != SQLITE_NULL && sqlite3_column_type(s, 4) != SQLITE_NULL;
    if (c->has_latlon) {
        c->lat = sqlite3_column_double(s, 3);
        c->lon = sqlite3_column_double(s, 4);
    }
}

int ft__store_check_camera(ft_store *st, const ft_camera *c)
{
    if (!c) return ft__store_fail(st, FT_EINVAL, "no camera given");
    if (!ft__store_valid_camera_id(c->id))
        return ft__store_fail(st, FT_EINVAL,
                              "bad camera id: 1..%d printable ASCII characters without blanks",
                              FT_CAMERA_ID_MAX - 1);
    if (!memchr(c->name, 0, sizeof c->name))
        return ft__store_fail(st, FT_EINVAL, "camera %s: name is not NUL-terminated", c->id);
    if (!isfinite(c->km))
        return ft__store_fail(st, FT_EINVAL, "camera %s: km is not a finite number", c->id);
    if (c->has_latlon && !(isfinite(c->lat) && c->lat >= -90 && c->lat <= 90 && isfinite(c->lon) &&
                           c->lon >= -180 && c->lon <= 180))
        return ft__store_fail(st, FT_EINVAL,
                              "camera %s: position (%g, %g) is not a latitude in [-90, 90] "
                              "and a longitude in [-180, 180]",
                              c->id, c->lat, c->lon);
    return FT_OK;
}

int ft_store_camera_add(ft_store *st, const ft_camera *c)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if ((rc = ft__store_writable(st)) != FT_OK) return rc;
    if ((rc = ft__store_check_camera(st, c)) != FT_OK) return rc;
    int added = 0;
    rc = ft__store_camera_insert(st, c, &added);
    if (rc == FT_OK && !added) rc = ft__store_fail(st, FT_EINVAL, "camera %s exists", c->id);
    return rc;
}

int ft__store_camera_insert(ft_store *st, const ft_camera *c, int *added)
{
    *added = 0;
    sqlite3_stmt *s;
    int rc = ft__store_stmt(st, FT__STMT_CAMERA_ADD, &s);
    if (rc != FT_OK) return rc;
    sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 3, c->km);
    if (c->has_latlon) {
        sqlite3_bind_double(s, 4, c->lat);
        sqlite3_bind_double(s, 5, c->lon);
    }
    sqlite3_bind_int64(s, 6, ft__store_now_us());
    int r = sqlite3_step(s);
    if (r != SQLITE_DONE)
        rc = ft__store_sqlfail(st, r, "adding a camera");
    else
        *added = sqlite3_changes(st->db) > 0;
    sqlite3_reset(s);
    return rc;
}

int ft_store_camera_get(ft_store *st, const char *id, ft_camera *out)
{
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if (!out) return ft__store_fail(st, FT_EINVAL, "no output given");
    memset(out, 0, sizeof *out);
    if (!ft__store_valid_camera_id(id)) return ft__store_fail(st, FT_EINVAL, "bad camera id");
    sqlite3_stmt *s;
    if ((rc = ft__store_stmt(st, FT__STMT_CAMERA_GET, &s)) != FT_OK) return rc;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        read_camera(s, out);
    else if (r == SQLITE_DONE)
        rc = ft__store_fail(st, FT_ENOTFOUND, "no camera %s", id);
    else
        rc = ft__store_sqlfail(st, r, "reading a camera");
    sqlite3_reset(s);
    return rc;
}

int ft_store_cameras(ft_store *st, ft_camera **out, int *n)
{
    if (out) *out = NULL;
    if (n) *n = 0;
    int rc = ft__store_enter(st);
    if (rc != FT_OK) return rc;
    if (!out || !n) return ft__store_fail(st, FT_EINVAL, "no output given");
    sqlite3_stmt *s;
    if ((rc = ft__store_stmt(st, FT__STMT_CAMERA_LIST, &s)) != FT_OK) return rc;
    ft_camera *list = NULL;
    int count = 0, cap = 0, r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            int ncap = cap ? cap * 2 : 16;
            ft_camera *grown =
                ncap < (1 << 24) ? ft__realloc(list, (size_t)ncap * sizeof *list) : NULL;
            if (!grown) {
                rc = ft__store_fail(st, FT_ENOMEM, "out of memory listing cameras");
                break;
            }
            list = grown;
            cap = ncap;
        }
        read_camera(s, &list[count++]);
    }
    if (rc == FT_OK && r != SQLITE_DONE) rc = ft__store_sqlfail(st, r, "listing cameras");
    sqlite3_reset(s);
    if (rc != FT_OK) {
        ft__free(list);
        return rc;
    }
    *out = count ? list : NULL;
    if (!count) ft__free(list);
    *n = count;
    return FT_OK;
}
