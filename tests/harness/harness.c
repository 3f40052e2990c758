/*
** tests/harness/harness.c: runs an FT_TESTS table, one forked child per test.
**
** Exit status of a child: 0 pass, 77 skip, anything else (or a signal, or the
** timeout) fail. The parent prints TAP and the closing count line.
*/
#include "test.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SKIP_CODE 77

void ft_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "#   %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    exit(1);
}

void ft_test_skip(const char *why)
{
    fprintf(stdout, "# skip: %s\n", why);
    fflush(stdout);
    exit(SKIP_CODE);
}

const char *ft_test_model_dir(void)
{
    const char *d = getenv("FT_MODEL_DIR");
    if (!d || !*d) d = "models/face-api/model";
    struct stat st;
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/ssd_mobilenetv1_model-weights_manifest.json", d);
    return stat(probe, &st) == 0 ? d : NULL;
}

static int run_one(const ft_test_case *t, int timeout_s)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        alarm((unsigned)timeout_s);
        t->fn();
        fflush(stdout);
        exit(0); /* not _exit: LeakSanitizer checks at exit, so leaks fail the test */
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "#   killed by signal %d%s\n", WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
    }
    return 1;
}

int ft_test_main(int argc, char **argv, const ft_test_case *tests, int n)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    const char *to = getenv("FT_TEST_TIMEOUT");
    int timeout_s = to ? atoi(to) : 300;
    if (timeout_s <= 0) timeout_s = 300;
    int passed = 0, failed = 0, skipped = 0, k = 0;
    int planned = 0;
    for (int i = 0; i < n; i++)
        if (!only || strcmp(only, tests[i].name) == 0) planned++;
    printf("1..%d\n", planned);
    for (int i = 0; i < n; i++) {
        if (only && strcmp(only, tests[i].name) != 0) continue;
        k++;
        int rc = run_one(&tests[i], timeout_s);
        if (rc == 0) {
            passed++;
            printf("ok %d - %s\n", k, tests[i].name);
        } else if (rc == SKIP_CODE) {
            skipped++;
            printf("ok %d - %s # SKIP\n", k, tests[i].name);
        } else {
            failed++;
            printf("not ok %d - %s\n", k, tests[i].name);
        }
        fflush(stdout);
    }
    printf("# %s: %d passed, %d failed, %d skipped\n", argv[0], passed, failed, skipped);
    return failed ? 1 : 0;
}
