/*
** fuzz/replay.c: runs a fuzz target's LLVMFuzzerTestOneInput on every file of
** the folders (or files) given, without libFuzzer: the corpus replay of
** make check (tests/e2e/fuzz_replay.sh), built with any compiler into every
** build variant as <build>/fuzz/<target>.
**
**   build/asan/fuzz/image [-n N] NAME fuzz/corpus/image [more dirs or files]
**
** DESIGN
**   Each input is read whole into a buffer of exactly its size (so that
**   AddressSanitizer sees a read one byte past the end) and passed once.
**   Files are run in name order, so that a failure is reproducible. On
**   success one TAP line "ok N - NAME: K inputs" (N from -n, default 1);
**   when a sanitizer stops the process, its death callback prints
**   "not ok N - NAME: FILE" first, naming the input that failed (a plain
**   crash without sanitizers prints nothing: the exit status tells, and the
**   caller reports it). A folder that cannot be read is a failure too.
**   As in SQLite's fuzzcheck (test/fuzzcheck.c), fuzzer finds become
**   ordinary regression tests this way: a crashing input, once fixed, is
**   added to the target's corpus folder.
*/
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#if defined(__SANITIZE_ADDRESS__)
#    define FT_REPLAY_SANITIZED 1
#elif defined(__has_feature)
#    if __has_feature(address_sanitizer)
#        define FT_REPLAY_SANITIZED 1
#    endif
#endif
#ifdef FT_REPLAY_SANITIZED
#    include <sanitizer/common_interface_defs.h>
#endif

static const char *name = "fuzz";
static long test_no = 1;
static char current[4096]; /* the input being run, for the death callback */

static void on_death(void)
{
    printf("not ok %ld - %s: %s\n", test_no, name, current);
    fflush(stdout);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs the target on the file at path; 0, or -1 if it cannot be read. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = grown;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return -1;
    }
    /* exactly len bytes, so that a read past the end is caught */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    if (len) memcpy(exact, buf, len);
    free(buf);
    snprintf(current, sizeof current, "%s", path);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

/* Runs every regular file of dir (not recursing), in name order; the count
** run, or -1. */
static long run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue; /* ., .. and hidden files (.gitkeep) */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) break;
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (run_file(path) != 0) {
                fprintf(stderr, "%s: cannot read %s\n", name, path);
                count = -1;
                break;
            }
            count++;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    int a = 1;
    if (a + 1 < argc && strcmp(argv[a], "-n") == 0) {
        test_no = strtol(argv[a + 1], NULL, 10);
        a += 2;
    }
    if (a >= argc) {
        fprintf(stderr, "usage: %s [-n N] NAME [DIR|FILE]...\n", argv[0]);
        return 2;
    }
    name = argv[a++];
#ifdef FT_REPLAY_SANITIZED
    __sanitizer_set_death_callback(on_death);
#else
    (void)on_death;
#endif
    long total = 0;
    for (; a < argc; a++) {
        struct stat sb;
        long k;
        if (stat(argv[a], &sb) == 0 && S_ISDIR(sb.st_mode))
            k = run_dir(argv[a]);
        else
            k = run_file(argv[a]) == 0 ? 1 : -1;
        if (k < 0) {
            printf("not ok %ld - %s: cannot read %s (%s)\n", test_no, name, argv[a],
                   strerror(errno));
            return 1;
        }
        total += k;
    }
    printf("ok %ld - %s: %ld inputs\n", test_no, name, total);
    return 0;
}
