/*
** tests/harness/test.h: the in-house test runner (TAP output).
**
** DESIGN
**   A test file defines `static void test_x(void)` functions and one table:
**       FT_TESTS(
**           FT_TEST(test_x),
**           FT_TEST(test_y));
**   which expands to main(). Each test runs in a forked child (crashes and
**   sanitizer aborts count as failures, not as the end of the run) with a
**   timeout (FT_TEST_TIMEOUT seconds, default 300). Output is TAP plus a closing
**   line "tests: N passed, N failed". Run one test by name: `./test_x name`.
**
**   ASSERT_* print both operands and the location, then fail the test.
**   Fixture paths are relative to the repository root (the runner's cwd).
**   FT_SKIP("why") marks a test skipped (e.g. models not fetched) and is
**   counted separately; a skip is never silent.
*/
#ifndef FT_TEST_H
#define FT_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ft_test_case {
    const char *name;
    void (*fn)(void);
} ft_test_case;

int ft_test_main(int argc, char **argv, const ft_test_case *tests, int n);
void ft_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
void ft_test_skip(const char *why) __attribute__((noreturn));
/* Path of the models folder (FT_MODEL_DIR or "models/face-api/model"); NULL if absent. */
const char *ft_test_model_dir(void);

#define FT_TEST(f) \
    {              \
#        f, f      \
    }
#define FT_TESTS(...)                                                                              \
    static const ft_test_case ft__tests[] = { __VA_ARGS__ };                                       \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return ft_test_main(argc, argv, ft__tests, (int)(sizeof ft__tests / sizeof ft__tests[0])); \
    }

#define FT_SKIP(why) ft_test_skip(why)

#define ASSERT(c)                                                     \
    do {                                                              \
        if (!(c)) ft_test_fail(__FILE__, __LINE__, "ASSERT(%s)", #c); \
    } while (0)
#define ASSERT_EQ(a, b)                                                                        \
    do {                                                                                       \
        long long ft__a = (long long)(a), ft__b = (long long)(b);                              \
        if (ft__a != ft__b)                                                                    \
            ft_test_fail(__FILE__, __LINE__, "ASSERT_EQ(%s, %s): %lld != %lld", #a, #b, ft__a, \
                         ft__b);                                                               \
    } while (0)
#define ASSERT_NE(a, b)                                                                      \
    do {                                                                                     \
        long long ft__a = (long long)(a), ft__b = (long long)(b);                            \
        if (ft__a == ft__b)                                                                  \
            ft_test_fail(__FILE__, __LINE__, "ASSERT_NE(%s, %s): both %lld", #a, #b, ft__a); \
    } while (0)
#define ASSERT_OK(e)                                                                     \
    do {                                                                                 \
        long long ft__r = (long long)(e);                                                \
        if (ft__r != 0)                                                                  \
            ft_test_fail(__FILE__, __LINE__, "ASSERT_OK(%s): returned %lld", #e, ft__r); \
    } while (0)
#define ASSERT_NEAR(a, b, tol)                                                                    \
    do {                                                                                          \
        double ft__a = (double)(a), ft__b = (double)(b), ft__t = (double)(tol);                   \
        if (!(fabs(ft__a - ft__b) <= ft__t))                                                      \
            ft_test_fail(__FILE__, __LINE__, "ASSERT_NEAR(%s, %s, %s): %.9g vs %.9g (diff %.3g)", \
                         #a, #b, #tol, ft__a, ft__b, fabs(ft__a - ft__b));                        \
    } while (0)
#define ASSERT_STR_EQ(got, want)                                                              \
    do {                                                                                      \
        const char *ft__g = (got), *ft__w = (want);                                           \
        if (!ft__g || strcmp(ft__g, ft__w) != 0)                                              \
            ft_test_fail(__FILE__, __LINE__, "ASSERT_STR_EQ(%s, %s): \"%s\" vs \"%s\"", #got, \
                         #want, ft__g ? ft__g : "(null)", ft__w);                             \
    } while (0)
#define ASSERT_STR_CONTAINS(hay, needle)                                         \
    do {                                                                         \
        const char *ft__h = (hay), *ft__n = (needle);                            \
        if (!ft__h || !strstr(ft__h, ft__n))                                     \
            ft_test_fail(__FILE__, __LINE__, "expected \"%s\" in \"%s\"", ft__n, \
                         ft__h ? ft__h : "(null)");                              \
    } while (0)

#endif
