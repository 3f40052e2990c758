/*
** core/core.h: shared internals: allocation hooks, error text, small helpers.
**
** DESIGN
**   All library allocation goes through ft__malloc/ft__calloc/ft__free so that
**   tests can make the N-th allocation fail (ft__alloc_fail_after) and check
**   that every error path frees what it took and reports FT_ENOMEM.
**
** INVARIANTS  (1) ft__free(NULL) is a no-op.
**             (2) ft__errf always NUL-terminates a non-empty buffer.
** THREADS     The fail-after counter is a test hook: not thread-safe.
*/
#ifndef FT_CORE_H
#define FT_CORE_H

#include "facetrail.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

/* Bugs in our own code (never bad input) abort in every build. */
#define FT_ASSERT(cond)                                                                  \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

void *ft__malloc(size_t n);
void *ft__calloc(size_t count, size_t size);
void *ft__realloc(void *p, size_t n);
void ft__free(void *p);
char *ft__strdup(const char *s);

/* root as compact ASCII JSON text into *out (ft__malloc'd, for
** ft_store_free); takes root's reference (NULL: FT_ENOMEM). FT_OK, FT_ENOMEM. */
struct json_t;
int ft__json_take(struct json_t *root, char **out /* OUT */);

/* Test hook: after n more successful allocations, every allocation fails.
** n < 0 turns failure injection off. */
void ft__alloc_fail_after(long n);

/* snprintf into buf (if buf && len) and return status, for one-line error
** reporting: `return ft__errf(err, len, FT_EIO, "cannot open %s", path);` */
int ft__errf(char *buf, size_t len, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reads a whole file into a new buffer (ft__free it). max_len caps the size.
** FT_EIO / FT_ETOOBIG / FT_ENOMEM, message in errbuf. */
int ft__read_file(const char *path, size_t max_len, unsigned char **out, size_t *out_len,
                  char *errbuf, size_t errbuf_len);

/* Monotonic clock in seconds. */
double ft__now(void);

#endif
