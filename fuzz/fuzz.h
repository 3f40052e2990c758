/*
** fuzz/fuzz.h: what every fuzz target shares: the libFuzzer entry point's
** prototype and a scratch file or folder to hand bytes to a reader that
** takes a path.
**
** DESIGN
**   A target is one file fuzz/<name>.c defining LLVMFuzzerTestOneInput. It
**   is linked twice: with clang's libFuzzer (make fuzz, build/fuzz/) to
**   search for crashes, and with fuzz/replay.c (any compiler, every build
**   variant's fuzz/<name>) to run the committed corpus fuzz/corpus/<name>/
**   as a regression test (tests/e2e/fuzz_replay.sh, part of make check).
**   Targets call the library only (public and ft__ functions), never tools/,
**   but for http (fuzz/http.c), which includes the server's source
**   (tools/cmd_serve.c) and links tools/cli.c and tools/ui.c.
**
**   Readers that take a path get the bytes through a scratch file: one per
**   process, made once under /dev/shm (else $TMPDIR, else /tmp) and
**   rewritten for each input, so that libFuzzer's -jobs or -fork processes
**   never share one. The files are removed at exit.
**
** INVARIANTS  (1) an input that the library rejects is not a failure: a
**                 target returns 0 whatever the status; only a crash, a
**                 sanitizer report, a leak or a timeout is a finding.
**             (2) a target leaves no state behind between inputs (every
**                 handle closed, every buffer freed) so that LeakSanitizer
**                 and a replay in any order see the same thing.
*/
#ifndef FT_FUZZ_H
#define FT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A folder of this process's own, made on first use ("" if that failed). */
static char ft_fuzz_dir_path[256];

static inline void ft_fuzz_dir_remove(void)
{
    /* the few files the targets write, then the folder */
    static const char *const names[] = {
        "in",    "in-wal", "in-shm",    "in-journal", "fz-weights_manifest.json",
        "w.bin", "gt.txt", "index.txt", "preds.jsonl"
    };
    char p[320];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", ft_fuzz_dir_path, names[i]);
        unlink(p);
    }
    rmdir(ft_fuzz_dir_path);
}

static inline const char *ft_fuzz_dir(void)
{
    if (ft_fuzz_dir_path[0]) return ft_fuzz_dir_path;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(ft_fuzz_dir_path, sizeof ft_fuzz_dir_path, "%s/ft-fuzz-XXXXXX", base);
    if (!mkdtemp(ft_fuzz_dir_path)) {
        ft_fuzz_dir_path[0] = '\0';
        return "";
    }
    atexit(ft_fuzz_dir_remove);
    return ft_fuzz_dir_path;
}

/* Writes data to <scratch folder>/name into path (cap bytes); 0 on success,
** -1 when the file cannot be written (the target then skips the input). */
static inline int ft_fuzz_write(const char *name, const void *data, size_t size, char *path,
                                size_t cap)
{
    const char *dir = ft_fuzz_dir();
    if (!*dir) return -1;
    if ((size_t)snprintf(path, cap, "%s/%s", dir, name) >= cap) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = size ? fwrite(data, 1, size, f) : 0;
    int bad = fclose(f) != 0 || n != size;
    return bad ? -1 : 0;
}

/* Removes <scratch folder>/name, if there. */
static inline void ft_fuzz_unlink(const char *name)
{
    char p[320];
    snprintf(p, sizeof p, "%s/%s", ft_fuzz_dir(), name);
    unlink(p);
}

/* Splits data at the first NUL byte: the part before (*n1 bytes) and the part
** after (*rest, *n2 bytes; none when there is no NUL). */
static inline void ft_fuzz_split(const uint8_t *data, size_t size, size_t *n1, const uint8_t **rest,
                                 size_t *n2)
{
    const uint8_t *z = size ? memchr(data, 0, size) : NULL;
    *n1 = z ? (size_t)(z - data) : size;
    *rest = z ? z + 1 : data + size;
    *n2 = z ? size - *n1 - 1 : 0;
}

#endif
