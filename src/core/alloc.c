/*
** core/alloc.c: allocation hooks with failure injection for tests.
**
** INVARIANTS  (1) while fail_after < 0, the hooks behave as malloc/free.
**             (2) once fail_after reaches 0, every allocation returns NULL.
*/
#include "core/core.h"

#include <string.h>

static long fail_after = -1;

void ft__alloc_fail_after(long n)
{
    fail_after = n;
}

static int should_fail(void)
{
    if (fail_after < 0) return 0;
    if (fail_after == 0) return 1;
    fail_after--;
    return 0;
}

void *ft__malloc(size_t n)
{
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *ft__calloc(size_t count, size_t size)
{
    if (should_fail()) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *ft__realloc(void *p, size_t n)
{
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

void ft__free(void *p)
{
    free(p);
}

char *ft__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ft__malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
