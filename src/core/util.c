/*
** core/util.c: error formatting, whole-file reads, the clock.
*/
#include "core/core.h"

#include <jansson.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int ft__errf(char *buf, size_t len, int status, const char *fmt, ...)
{
    if (buf && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
    }
    return status;
}

int ft__read_file(const char *path, size_t max_len, unsigned char **out, size_t *out_len,
                  char *errbuf, size_t errbuf_len)
{
    *out = NULL;
    *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return ft__errf(errbuf, errbuf_len, FT_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ft__errf(errbuf, errbuf_len, FT_EIO, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max_len) {
        fclose(f);
        return ft__errf(errbuf, errbuf_len, FT_ETOOBIG, "%s: file too large (%lld bytes)", path,
                        (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = ft__malloc(n + 1);
    if (!buf) {
        fclose(f);
        return ft__errf(errbuf, errbuf_len, FT_ENOMEM, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, n, f);
    int rerr = ferror(f);
    fclose(f);
    if (got != n || rerr) {
        ft__free(buf);
        return ft__errf(errbuf, errbuf_len, FT_EIO, "%s: short read", path);
    }
    buf[n] = 0;
    *out = buf;
    *out_len = n;
    return FT_OK;
}

double ft__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int ft__json_take(struct json_t *root, char **out)
{
    *out = NULL;
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(root);
    char *copy = text ? ft__strdup(text) : NULL;
    free(text); /* jansson's own allocator */
    if (!copy) return FT_ENOMEM;
    *out = copy;
    return FT_OK;
}
