/*
** tools/cmd_eval_strangers.c: `facetrail eval strangers`, how often a person
** who was never at the event gets an appearance.
**
** DESIGN
**   A folder of identity folders (LFW layout: DIR/<name>/<photo>) holds
**   people who are not in the event. N of them are drawn with a seeded
**   shuffle (sorted names first, so the draw is the same on every machine),
**   and each one's first photo (by name) is searched exactly as `facetrail
**   search` does (ft_query_face, then ft_searcher_search with the default
**   policy unless told otherwise). A person whose photo has no usable face
**   is replaced by the next in the draw and counted apart. Photos given as
**   operands are people who ARE in the event: each should be found.
**
**   The numbers: strangers searched, strangers with an appearance (the
**   product promise is at most about 1 in 100), strangers with a possible
**   candidate (--possible), and the known people found.
*/
#include "cli.h"

#include "facetrail/ingest.h"
#include "facetrail/search.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char eval_strangers_usage[] =
    "usage: facetrail eval strangers --db DB --people DIR [options] [KNOWN_PHOTO...]\n"
    "\n"
    "Searches the event DB for N people who were not there (one photo each from\n"
    "DIR/<name>/, drawn at random with --seed) and counts how many get an\n"
    "appearance. KNOWN_PHOTOs are people who were there: each should be found.\n"
    "\n"
    "options:\n"
    "  --db DB               the event database (read-only)\n"
    "  --people DIR          identity folders of people not in the event (LFW layout)\n"
    "  --n N                 strangers to search (default 100)\n"
    "  --seed S              the draw (default 1)\n"
    "  --exclude NAME        leave this identity folder out (repeatable)\n"
    "  --max-false X         as in search (default 0.01)\n"
    "  --json                one JSON object on stdout\n"
    "  --models DIR          model folder\n"
    "  --threads N           worker threads (default 1)\n"
    "  -h, --help            this text\n"
    "\n"
    "exit status: 0 measured, 2 error\n";

#define MAX_EXCLUDE 64

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of dir that are folders (want_dir) or files. */
static char **list_dir(const char *dir, int want_dir, int *n_out)
{
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **v = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            char **g = realloc(v, (size_t)cap * sizeof *g);
            if (!g) break;
            v = g;
        }
        if (!(v[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (v) qsort(v, (size_t)n, sizeof *v, cmp_str);
    *n_out = n;
    return v;
}

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* splitmix64: the draw must be the same on every machine. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct outcome {
    int matched, possible, no_face;
    double best_expected_false; /* of the strongest match or candidate */
} outcome;

static int search_photo(const char *cmd, ft_engine *eng, ft_searcher *s, const ft_query_params *qp,
                        const ft_search_params *sp, const char *path, outcome *out)
{
    memset(out, 0, sizeof *out);
    out->best_expected_false = -1;
    ft_image *img = NULL;
    char err[512];
    if (ft_image_load(path, 0, &img, err, sizeof err) != FT_OK) {
        out->no_face = 1;
        return CLI_OK;
    }
    ft_query q;
    int rc = ft_query_face(eng, img, qp, &q, err, sizeof err);
    ft_image_destroy(img);
    if (rc == FT_ENOTFOUND) {
        out->no_face = 1;
        return CLI_OK;
    }
    if (rc != FT_OK) {
        fprintf(stderr, "facetrail %s: %s: %s\n", cmd, path, err);
        return CLI_ERROR;
    }
    ft_search_result r;
    if (ft_searcher_search(s, q.face.descriptor, sp, &r) != FT_OK) {
        fprintf(stderr, "facetrail %s: %s\n", cmd, ft_searcher_errmsg(s));
        return CLI_ERROR;
    }
    for (int i = 0; i < r.n_appearances; i++) {
        const ft_appearance *a = &r.appearances[i];
        if (a->possible)
            out->possible = 1;
        else
            out->matched = 1;
        if (out->best_expected_false < 0 || a->expected_false < out->best_expected_false)
            out->best_expected_false = a->expected_false;
    }
    ft_search_result_free(&r);
    return CLI_OK;
}

int cmd_eval_strangers(int argc, char **argv)
{
    ft_engine_params ep = ft_engine_default_params();
    ep.model_dir = default_model_dir();
    ep.n_threads = default_threads();
    ft_search_params sp = ft_search_default_params();
    sp.possible_false_matches = FT_SEARCH_POSSIBLE_FALSE;
    ft_query_params qp = ft_query_default_params();
    qp.detect = ft_ingest_default_params().detect;
    const char *db = NULL, *people = NULL, *exclude[MAX_EXCLUDE];
    int n_exclude = 0, json = 0;
    long long n_want = 100, seed = 1, v;
    double x;
    struct opts o;
    opts_init(&o, argc, argv);
    o.cmd = "eval strangers";
    while (opts_next(&o)) {
        int r = opts_engine(&o, &ep);
        if (r < 0) return CLI_ERROR;
        if (r > 0) continue;
        if (opts_is_help(&o)) return print_help(eval_strangers_usage);
        if (opts_is(&o, "--db")) {
            if (!(db = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--people")) {
            if (!(people = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--n")) {
            if (opts_int(&o, 1, 100000, "a count in [1, 100000]", &n_want)) return CLI_ERROR;
        } else if (opts_is(&o, "--seed")) {
            if (opts_int(&o, 0, 1LL << 62, "a non-negative integer", &seed)) return CLI_ERROR;
        } else if (opts_is(&o, "--exclude")) {
            if (n_exclude == MAX_EXCLUDE) return opts_bad(&o, "given at most 64 times");
            if (!(exclude[n_exclude++] = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--max-false")) {
            if (opts_double(&o, 0, 1e9, 1, "a positive number", &x)) return CLI_ERROR;
            sp.max_false_matches = x;
        } else if (opts_is(&o, "--json")) {
            if (opts_flag(&o)) return CLI_ERROR;
            json = 1;
        } else {
            return opts_unknown(&o);
        }
    }
    (void)v;
    if (!db) return usage_error(o.cmd, "missing --db DB");
    if (!people) return usage_error(o.cmd, "missing --people DIR");
    if (sp.possible_false_matches <= sp.max_false_matches) sp.possible_false_matches = 0;
    int n_names = 0;
    char **names = list_dir(people, 1, &n_names);
    if (!names || n_names == 0) {
        fprintf(stderr, "facetrail %s: %s: no identity folders\n", o.cmd, people);
        free_list(names, n_names);
        return CLI_ERROR;
    }
    uint64_t state = (uint64_t)seed;
    for (int i = n_names - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)(next_rand(&state) % (uint64_t)(i + 1));
        char *t = names[i];
        names[i] = names[j], names[j] = t;
    }
    ft_store *st = NULL;
    ft_engine *eng = NULL;
    ft_searcher *s = NULL;
    int status = CLI_ERROR;
    char err[512];
    int searched = 0, matched = 0, possible = 0, no_face = 0, known_found = 0, n_known = 0;
    double worst = 0;
    if (ft_store_open(db, FT_STORE_READONLY, &st) != FT_OK) {
        fprintf(stderr, "facetrail %s: %s\n", o.cmd, ft_store_errmsg(NULL));
        goto done;
    }
    const ft_calibration *cal = NULL;
    if (ft_query_params_for_store(st, &qp, &cal, NULL, 0, err, sizeof err) != FT_OK) {
        fprintf(stderr, "facetrail %s: %s\n", o.cmd, err);
        goto done;
    }
    sp.cal = cal;
    if (start_engine(o.cmd, &ep, &qp.detect, &eng) != CLI_OK) goto done;
    if (ft_searcher_open(st, cal->metric, &s, err, sizeof err) != FT_OK) {
        fprintf(stderr, "facetrail %s: %s\n", o.cmd, err);
        goto done;
    }
    for (int i = 0; i < n_names && searched < n_want; i++) {
        int skip = 0;
        for (int k = 0; k < n_exclude; k++)
            skip |= !strcmp(names[i], exclude[k]);
        if (skip) continue;
        char dir[4096], path[8192];
        snprintf(dir, sizeof dir, "%s/%s", people, names[i]);
        int n_files = 0;
        char **files = list_dir(dir, 0, &n_files);
        if (n_files == 0) {
            free_list(files, n_files);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, files[0]);
        free_list(files, n_files);
        outcome oc;
        if (search_photo(o.cmd, eng, s, &qp, &sp, path, &oc) != CLI_OK) goto done;
        if (oc.no_face) {
            no_face++;
            continue;
        }
        searched++;
        matched += oc.matched;
        possible += oc.possible && !oc.matched;
        if (oc.matched) {
            if (!json)
                printf("stranger with an appearance: %s (%.2g false matches expected)\n", path,
                       oc.best_expected_false);
            if (oc.best_expected_false > worst) worst = oc.best_expected_false;
        }
    }
    for (int i = 1; i <= o.n_operands; i++) {
        outcome oc;
        if (search_photo(o.cmd, eng, s, &qp, &sp, argv[i], &oc) != CLI_OK) goto done;
        n_known++;
        known_found += oc.matched;
        if (!json)
            printf("known %s: %s\n", argv[i],
                   oc.no_face    ? "no face"
                   : oc.matched  ? "found"
                   : oc.possible ? "possible only"
                                 : "not found");
    }
    if (json) {
        printf("{\"descriptors\":%lld,\"strangers\":%d,\"strangers_matched\":%d,"
               "\"strangers_possible\":%d,\"strangers_no_face\":%d,\"known\":%d,"
               "\"known_found\":%d,\"max_false_matches\":%g,\"fmr_ceiling\":%g}\n",
               (long long)ft_searcher_descriptors(s), searched, matched, possible, no_face, n_known,
               known_found, sp.max_false_matches, sp.max_fmr);
    } else {
        printf("strangers: %d searched against %lld descriptors; %d with an appearance (%.1f%%), "
               "%d more with only a possible candidate; %d photos without a usable face "
               "skipped\n",
               searched, (long long)ft_searcher_descriptors(s), matched,
               searched ? 100.0 * matched / searched : 0.0, possible, no_face);
        if (n_known) printf("known people: %d of %d found\n", known_found, n_known);
    }
    status = CLI_OK;
done:
    ft_searcher_close(s);
    ft_engine_close(eng);
    ft_store_close(st);
    free_list(names, n_names);
    return status;
}
