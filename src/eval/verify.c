/*
** eval/verify.c: face verification with the LFW view-2 protocol: the pairs
** file parser, descriptor metrics, k-fold threshold selection and TAR at FAR.
**
** DESIGN
**   The parser reads the whole file into memory and walks it line by line;
**   every malformed line is an FT_EFORMAT naming FILE:LINE, never a crash or a
**   silent skip. Image paths are interned in a small open-addressing hash so
**   that each distinct image is listed once (callers compute each descriptor
**   once). The header's pair count is checked against the file size before
**   anything is allocated for it, so a lying header cannot ask for gigabytes.
**   The evaluation sorts the pairs of known distance once; choosing a
**   threshold is then one sweep over them (O(n) per fold after the sort).
**
** INVARIANTS
**   (1) One decision rule everywhere: "same" iff distance < threshold.
**   (2) A pair of unknown distance (NaN or +inf) is kept and counted as +inf:
**       "different" at every threshold, +inf included.
**   (3) Among thresholds of equal training accuracy the smallest wins.
**   (4) Every error path frees what it took (tests inject allocation failures).
** THREADS  Pure functions of their arguments; safe to call concurrently.
*/
#include "core/core.h"
#include "eval/eval.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Metrics                                                                  */
/* ------------------------------------------------------------------------ */

float ft_metric_distance(enum ft_metric metric, const float *a, const float *b)
{
    if (metric == FT_METRIC_EUCLIDEAN) return ft_descriptor_distance(a, b);
    if (metric != FT_METRIC_COSINE) return NAN;
    float na[FT_DESCRIPTOR_DIM], nb[FT_DESCRIPTOR_DIM];
    memcpy(na, a, sizeof na);
    memcpy(nb, b, sizeof nb);
    ft_descriptor_normalize(na);
    ft_descriptor_normalize(nb);
    return ft_descriptor_distance(na, nb);
}

const char *ft_metric_name(enum ft_metric metric)
{
    switch (metric) {
    case FT_METRIC_EUCLIDEAN: return "euclidean";
    case FT_METRIC_COSINE: return "cosine";
    }
    return "unknown";
}

/* ------------------------------------------------------------------------ */
/* Pairs file                                                               */
/* ------------------------------------------------------------------------ */

#define PAIRS_MAX_FILE    (64u << 20)
#define PAIRS_MAX_FIELDS  4
#define NAME_MAX_LEN      200
#define IMAGE_INDEX_MAX   9999
#define MIN_PAIR_LINE_LEN 5 /* "a 1 2": the shortest possible pair line */

struct field {
    const char *s;
    size_t len;
};

/* Interned image paths: open addressing, capacity a power of two. */
struct intern {
    char **paths; /* paths[0..n) in order of first use */
    int n;
    int *slots; /* index into paths, or -1 */
    size_t mask;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The index of path, adding it if new. -1 on allocation failure. */
static int intern_path(struct intern *t, const char *path)
{
    size_t i = (size_t)hash_str(path) & t->mask;
    while (t->slots[i] >= 0) {
        if (strcmp(t->paths[t->slots[i]], path) == 0) return t->slots[i];
        i = (i + 1) & t->mask;
    }
    char *copy = ft__strdup(path);
    if (!copy) return -1;
    t->paths[t->n] = copy;
    t->slots[i] = t->n;
    return t->n++;
}

void ft_lfw_pairs_free(ft_lfw_pairs *p)
{
    if (!p) return;
    if (p->images)
        for (int i = 0; i < p->n_images; i++)
            ft__free(p->images[i]);
    ft__free(p->images);
    ft__free(p->pairs);
    ft__free(p);
}

/* Splits [s, end) on blanks and tabs into at most max fields; returns the
** number of fields, or max + 1 if there are more. */
static int split_fields(const char *s, const char *end, struct field *f, int max)
{
    int n = 0;
    while (s < end) {
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        if (s == end) break;
        const char *b = s;
        while (s < end && *s != ' ' && *s != '\t')
            s++;
        if (n == max) return max + 1;
        f[n].s = b;
        f[n].len = (size_t)(s - b);
        n++;
    }
    return n;
}

/* A decimal integer of digits only, in [lo, hi]; 0 on success. */
static int parse_uint(const struct field *f, long lo, long hi, long *out)
{
    if (f->len == 0 || f->len > 9) return -1;
    long v = 0;
    for (size_t i = 0; i < f->len; i++) {
        if (f->s[i] < '0' || f->s[i] > '9') return -1;
        v = v * 10 + (f->s[i] - '0');
    }
    if (v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* A person's name as a folder name: no '/', '\\', control bytes, "." or "..". */
static const char *bad_name(const struct field *f)
{
    if (f->len > NAME_MAX_LEN) return "name is too long";
    if ((f->len == 1 && f->s[0] == '.') || (f->len == 2 && f->s[0] == '.' && f->s[1] == '.'))
        return "name is '.' or '..'";
    for (size_t i = 0; i < f->len; i++) {
        unsigned char c = (unsigned char)f->s[i];
        if (c == '/' || c == '\\') return "name contains a path separator";
        if (c < 0x20 || c == 0x7f) return "name contains a control character";
    }
    return NULL;
}

struct parser {
    const char *name;
    char *err;
    size_t err_len;
    int line;
};

static int perr(const struct parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int perr(const struct parser *ps, const char *fmt, ...)
{
    if (!ps->err || ps->err_len == 0) return FT_EFORMAT;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ft__errf(ps->err, ps->err_len, FT_EFORMAT, "%s:%d: %s", ps->name, ps->line, msg);
}

/* Interns "name/name_%04d.jpg" for a validated name field and index. */
static int image_index(struct intern *t, const struct field *name, long idx, int *out)
{
    char path[2 * NAME_MAX_LEN + 16];
    snprintf(path, sizeof path, "%.*s/%.*s_%04ld.jpg", (int)name->len, name->s, (int)name->len,
             name->s, idx);
    *out = intern_path(t, path);
    return *out < 0 ? FT_ENOMEM : FT_OK;
}

/* Parses the fields of one pair line into *pair. */
static int parse_pair(const struct parser *ps, struct intern *t, const struct field *f, int nf,
                      int want_same, ft_lfw_pair *pair)
{
    if (want_same && nf != 3)
        return perr(ps, "expected a same-person pair 'name i j', got %d field%s", nf,
                    nf == 1 ? "" : "s");
    if (!want_same && nf != 4)
        return perr(ps, "expected a different-person pair 'name1 i name2 j', got %d field%s", nf,
                    nf == 1 ? "" : "s");
    const struct field *name[2] = { &f[0], want_same ? &f[0] : &f[2] };
    const struct field *num[2] = { &f[1], want_same ? &f[2] : &f[3] };
    long idx[2];
    for (int k = 0; k < 2; k++) {
        const char *why = bad_name(name[k]);
        if (why) return perr(ps, "%s", why);
        if (parse_uint(num[k], 1, IMAGE_INDEX_MAX, &idx[k]))
            return perr(ps, "image number '%.*s' is not an integer in 1..%d",
                        (int)(num[k]->len > 32 ? 32 : num[k]->len), num[k]->s, IMAGE_INDEX_MAX);
    }
    if (!want_same && name[0]->len == name[1]->len &&
        memcmp(name[0]->s, name[1]->s, name[0]->len) == 0)
        return perr(ps, "a different-person pair names the same person twice");
    pair->same = want_same;
    pair->line = ps->line;
    for (int k = 0; k < 2; k++) {
        int rc = image_index(t, name[k], idx[k], &pair->image[k]);
        if (rc != FT_OK) return ft__errf(ps->err, ps->err_len, rc, "%s: out of memory", ps->name);
    }
    return FT_OK;
}

int ft_lfw_pairs_parse(const char *text, size_t len, const char *name, int max_folds,
                       ft_lfw_pairs **out, char *errbuf, size_t errbuf_len)
{
    *out = NULL;
    if (!name) name = "pairs";
    if (max_folds < 0 || (!text && len > 0))
        return ft__errf(errbuf, errbuf_len, FT_EINVAL, "%s: bad arguments", name);
    struct parser ps = { name, errbuf, errbuf_len, 0 };
    struct intern t = { 0 };
    ft_lfw_pairs *p = NULL;
    int rc = FT_OK, have_header = 0, want = 0, got = 0;
    const char *s = text, *end = text ? text + len : NULL;

    while (s && s < end && (!have_header || got < want)) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t ll = nl ? (size_t)(nl - s) : (size_t)(end - s);
        const char *next = nl ? nl + 1 : end;
        ps.line++;
        if (ll > 0 && s[ll - 1] == '\r') ll--;
        const char *le = s + ll;
        if (memchr(s, '\0', ll)) {
            rc = perr(&ps, "NUL byte in the line");
            goto fail;
        }
        struct field f[PAIRS_MAX_FIELDS];
        int nf = split_fields(s, le, f, PAIRS_MAX_FIELDS);
        s = next;
        if (nf == 0) continue; /* blank line */
        if (nf > PAIRS_MAX_FIELDS) {
            rc = perr(&ps, "more than %d fields", PAIRS_MAX_FIELDS);
            goto fail;
        }
        if (!have_header) {
            long k, n;
            if (nf != 2 || parse_uint(&f[0], 1, 100000, &k) || parse_uint(&f[1], 1, 10000000, &n)) {
                rc = perr(&ps, "expected the header 'k n' (folds, pairs of each kind per fold)");
                goto fail;
            }
            long folds = (max_folds > 0 && max_folds < k) ? max_folds : k;
            /* the file must be able to hold the pairs we are to read: each pair
            ** line has at least MIN_PAIR_LINE_LEN bytes ("a 1 2"), so a lying
            ** header cannot make us allocate more than the file's size */
            if ((double)folds * 2.0 * (double)n * MIN_PAIR_LINE_LEN > (double)len ||
                (double)folds * 2.0 * (double)n > INT_MAX / 4) {
                rc = perr(&ps,
                          "the header promises %ld folds of %ld pairs, more than this "
                          "%zu-byte file can hold",
                          k, 2 * n, len);
                goto fail;
            }
            have_header = 1;
            p = ft__calloc(1, sizeof *p);
            if (!p) goto nomem;
            p->n_folds_file = (int)k;
            p->n_per_fold = (int)n;
            p->n_folds = (int)folds;
            want = p->n_folds * 2 * p->n_per_fold;
            p->pairs = ft__calloc((size_t)want, sizeof *p->pairs);
            size_t cap = 4;
            while (cap < 2 * (size_t)want * 2)
                cap <<= 1; /* 2 images per pair, load <= 1/2 */
            t.paths = ft__malloc(2 * (size_t)want * sizeof *t.paths);
            t.slots = ft__malloc(cap * sizeof *t.slots);
            if (!p->pairs || !t.paths || !t.slots) goto nomem;
            memset(t.slots, 0xff, cap * sizeof *t.slots); /* all -1 */
            t.mask = cap - 1;
            continue;
        }
        int per_fold = 2 * p->n_per_fold;
        ft_lfw_pair *pair = &p->pairs[got];
        pair->fold = got / per_fold;
        int want_same = got % per_fold < p->n_per_fold;
        rc = parse_pair(&ps, &t, f, nf, want_same, pair);
        if (rc != FT_OK) goto fail;
        got++;
    }
    if (!have_header) {
        rc = ft__errf(errbuf, errbuf_len, FT_EFORMAT, "%s:%d: empty file: no 'k n' header", name,
                      ps.line > 0 ? ps.line : 1);
        goto fail;
    }
    if (got < want) {
        rc = ft__errf(errbuf, errbuf_len, FT_EFORMAT,
                      "%s:%d: the file ends after %d of the %d pairs the header promises", name,
                      ps.line, got, want);
        goto fail;
    }
    if (p->n_folds == p->n_folds_file) { /* all read: only blank lines may follow */
        while (s < end) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            const char *le = nl ? nl : end;
            ps.line++;
            for (const char *c = s; c < le; c++)
                if (*c != ' ' && *c != '\t' && *c != '\r') {
                    rc = perr(&ps, "more lines than the header's %d folds of %d pairs",
                              p->n_folds_file, 2 * p->n_per_fold);
                    goto fail;
                }
            s = nl ? nl + 1 : end;
        }
    }
    p->n_pairs = got;
    p->n_images = t.n;
    p->images = t.paths;
    t.paths = NULL;
    ft__free(t.slots);
    *out = p;
    return FT_OK;

nomem:
    rc = ft__errf(errbuf, errbuf_len, FT_ENOMEM, "%s: out of memory", name);
fail:
    for (int i = 0; i < t.n; i++)
        ft__free(t.paths[i]);
    ft__free(t.paths);
    ft__free(t.slots);
    ft_lfw_pairs_free(p);
    return rc;
}

int ft_lfw_pairs_load(const char *path, int max_folds, ft_lfw_pairs **out, char *errbuf,
                      size_t errbuf_len)
{
    *out = NULL;
    if (!path) return ft__errf(errbuf, errbuf_len, FT_EINVAL, "no pairs file given");
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = ft__read_file(path, PAIRS_MAX_FILE, &buf, &len, errbuf, errbuf_len);
    if (rc != FT_OK) return rc;
    rc = ft_lfw_pairs_parse((const char *)buf, len, path, max_folds, out, errbuf, errbuf_len);
    ft__free(buf);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* k-fold evaluation                                                        */
/* ------------------------------------------------------------------------ */

/* A pair of known (finite) distance. */
struct known {
    double d;
    int fold;
    int same;
};

static int cmp_known(const void *a, const void *b)
{
    double x = ((const struct known *)a)->d, y = ((const struct known *)b)->d;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int is_unknown(double d)
{
    return isnan(d) || d == INFINITY;
}

/* A threshold strictly above a and at most b (a < b): their midpoint, or b
** itself when a and b are adjacent doubles. */
static double midpoint(double a, double b)
{
    double m = a / 2 + b / 2;
    return (m > a && m <= b) ? m : b;
}

/* The sorted known pairs (NULL with *n_known 0 if none) and the counts of
** unknown pairs. -inf → FT_EINVAL. */
static int collect_known(const ft_verify_item *items, int n, struct known **out, int *n_known)
{
    *out = NULL;
    *n_known = 0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (items[i].distance == -INFINITY) return FT_EINVAL;
        if (!is_unknown(items[i].distance)) k++;
    }
    if (k == 0) return FT_OK;
    struct known *v = ft__malloc((size_t)k * sizeof *v);
    if (!v) return FT_ENOMEM;
    k = 0;
    for (int i = 0; i < n; i++)
        if (!is_unknown(items[i].distance))
            v[k++] = (struct known){ items[i].distance, items[i].fold, items[i].same ? 1 : 0 };
    qsort(v, (size_t)k, sizeof *v, cmp_known);
    *out = v;
    *n_known = k;
    return FT_OK;
}

/* The sweep behind ft_verify_best_threshold, on sorted known pairs; unknown
** pairs only shift the count of correct answers (unknown_diff are always right,
** unknown same pairs always wrong), so they take no part in the choice. */
static double sweep(const struct known *v, int n, int exclude_fold, long *best_correct)
{
    long correct = 0;
    int first = -1;
    for (int i = 0; i < n; i++) {
        if (v[i].fold == exclude_fold) continue;
        if (first < 0) first = i;
        if (!v[i].same) correct++; /* at t = smallest distance nothing is accepted */
    }
    if (first < 0) {
        *best_correct = 0;
        return INFINITY;
    }
    long best = correct;
    double best_t = v[first].d;
    int i = first;
    while (i < n) {
        /* accept the group of equal distances starting at i */
        double g = v[i].d;
        while (i < n && v[i].d == g) {
            if (v[i].fold != exclude_fold) correct += v[i].same ? 1 : -1;
            i++;
        }
        while (i < n && v[i].fold == exclude_fold)
            i++;
        double t = INFINITY;
        if (i < n) t = midpoint(g, v[i].d);
        if (correct > best) { /* strict: ties keep the smaller threshold */
            best = correct;
            best_t = t;
        }
    }
    *best_correct = best;
    return best_t;
}

int ft_verify_best_threshold(const ft_verify_item *items, int n, int exclude_fold,
                             double *threshold, double *accuracy)
{
    if (!items || n <= 0 || !threshold) return FT_EINVAL;
    long total = 0, unknown_diff = 0;
    for (int i = 0; i < n; i++) {
        if (items[i].fold == exclude_fold) continue;
        total++;
        if (is_unknown(items[i].distance) && !items[i].same) unknown_diff++;
    }
    if (total == 0) return FT_EINVAL;
    struct known *v;
    int nk;
    int rc = collect_known(items, n, &v, &nk);
    if (rc != FT_OK) return rc;
    long correct;
    *threshold = sweep(v, nk, exclude_fold, &correct);
    if (accuracy) *accuracy = (double)(correct + unknown_diff) / (double)total;
    ft__free(v);
    return FT_OK;
}

size_t ft__eval_count_below(const double *v, size_t n, double t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t ft__eval_allowed_count(double rate, size_t n)
{
    double x = floor(rate * (double)n);
    size_t m = x <= 0 ? 0 : (x >= (double)n ? n : (size_t)x);
    while (m < n && (double)(m + 1) / (double)n <= rate)
        m++;
    while (m > 0 && (double)m / (double)n > rate)
        m--;
    return m;
}

/* TAR at FAR from the sorted finite impostor and genuine distances and the
** totals (which include the unknown pairs). */
static void rate_at(const double *imp, size_t nf_imp, size_t n_imp, const double *gen,
                    size_t nf_gen, size_t n_gen, double target, ft_verify_rate *r)
{
    size_t m = ft__eval_allowed_count(target, n_imp);
    r->target_far = target;
    r->threshold = m < nf_imp ? imp[m] : INFINITY;
    r->far = (double)ft__eval_count_below(imp, nf_imp, r->threshold) / (double)n_imp;
    r->tar = (double)ft__eval_count_below(gen, nf_gen, r->threshold) / (double)n_gen;
}

/* Sorted finite distances of the genuine (same = 1) or impostor pairs, and
** the number of all such pairs. */
static int split_sorted(const ft_verify_item *items, int n, int same, double **out, size_t *n_fin,
                        size_t *n_all)
{
    size_t nf = 0, na = 0;
    for (int i = 0; i < n; i++)
        if ((items[i].same != 0) == same) {
            na++;
            if (!is_unknown(items[i].distance)) nf++;
        }
    *out = ft__malloc((nf ? nf : 1) * sizeof **out);
    if (!*out) return FT_ENOMEM;
    nf = 0;
    for (int i = 0; i < n; i++)
        if ((items[i].same != 0) == same && !is_unknown(items[i].distance))
            (*out)[nf++] = items[i].distance;
    qsort(*out, nf, sizeof **out, cmp_double);
    *n_fin = nf;
    *n_all = na;
    return FT_OK;
}

int ft_verify_tar_at_far(const ft_verify_item *items, int n, double target_far, ft_verify_rate *out)
{
    if (!items || n <= 0 || !out || !(target_far > 0 && target_far <= 1)) return FT_EINVAL;
    for (int i = 0; i < n; i++)
        if (items[i].distance == -INFINITY) return FT_EINVAL;
    double *imp = NULL, *gen = NULL;
    size_t nf_imp, n_imp, nf_gen, n_gen;
    int rc = split_sorted(items, n, 0, &imp, &nf_imp, &n_imp);
    if (rc == FT_OK) rc = split_sorted(items, n, 1, &gen, &nf_gen, &n_gen);
    if (rc == FT_OK && (n_imp == 0 || n_gen == 0)) rc = FT_EINVAL;
    if (rc == FT_OK) rate_at(imp, nf_imp, n_imp, gen, nf_gen, n_gen, target_far, out);
    ft__free(imp);
    ft__free(gen);
    return rc;
}

int ft_verify_evaluate(const ft_verify_item *items, int n, int n_folds, ft_verify_result *out,
                       char *errbuf, size_t errbuf_len)
{
    if (!out) return ft__errf(errbuf, errbuf_len, FT_EINVAL, "no result given");
    memset(out, 0, sizeof *out);
    if (!items || n <= 0) return ft__errf(errbuf, errbuf_len, FT_EINVAL, "no pairs to evaluate");
    if (n_folds < 2 || n_folds > FT_VERIFY_MAX_FOLDS)
        return ft__errf(errbuf, errbuf_len, FT_EINVAL,
                        "%d fold(s): cross-validation needs 2..%d folds", n_folds,
                        FT_VERIFY_MAX_FOLDS);
    out->n_folds = n_folds;
    out->n_pairs = n;
    long fold_unknown_diff[FT_VERIFY_MAX_FOLDS] = { 0 };
    for (int i = 0; i < n; i++) {
        const ft_verify_item *it = &items[i];
        if (it->fold < 0 || it->fold >= n_folds)
            return ft__errf(errbuf, errbuf_len, FT_EINVAL, "pair %d: fold %d is not in 0..%d", i,
                            it->fold, n_folds - 1);
        if (it->distance == -INFINITY)
            return ft__errf(errbuf, errbuf_len, FT_EINVAL, "pair %d: distance -inf", i);
        out->fold_pairs[it->fold]++;
        if (it->same)
            out->n_same++;
        else
            out->n_different++;
        if (is_unknown(it->distance)) {
            out->n_unknown++;
            if (it->same) {
                out->n_unknown_same++;
            } else {
                out->n_unknown_different++;
                fold_unknown_diff[it->fold]++;
            }
        }
    }
    for (int f = 0; f < n_folds; f++)
        if (out->fold_pairs[f] == 0)
            return ft__errf(errbuf, errbuf_len, FT_EINVAL, "fold %d has no pairs", f + 1);
    if (out->n_same == 0 || out->n_different == 0)
        return ft__errf(errbuf, errbuf_len, FT_EINVAL,
                        "needs both same-person and different-person pairs");

    struct known *v;
    int nk;
    int rc = collect_known(items, n, &v, &nk);
    if (rc != FT_OK) return ft__errf(errbuf, errbuf_len, rc, "out of memory");

    double sum = 0;
    for (int f = 0; f < n_folds; f++) {
        long train_correct;
        double t = sweep(v, nk, f, &train_correct);
        long correct = fold_unknown_diff[f];
        for (int i = 0; i < nk; i++)
            if (v[i].fold == f && (v[i].d < t) == (v[i].same != 0)) correct++;
        out->fold_threshold[f] = t;
        out->fold_accuracy[f] = (double)correct / (double)out->fold_pairs[f];
        sum += out->fold_accuracy[f];
    }
    out->accuracy = sum / n_folds;
    double ss = 0;
    for (int f = 0; f < n_folds; f++) {
        double d = out->fold_accuracy[f] - out->accuracy;
        ss += d * d;
    }
    out->std = sqrt(ss / (n_folds - 1));
    out->sem = out->std / sqrt((double)n_folds);

    long all_correct;
    out->threshold = sweep(v, nk, -1, &all_correct);
    out->threshold_accuracy = (double)(all_correct + out->n_unknown_different) / (double)n;
    ft__free(v);

    double *imp = NULL, *gen = NULL;
    size_t nf_imp, n_imp, nf_gen, n_gen;
    rc = split_sorted(items, n, 0, &imp, &nf_imp, &n_imp);
    if (rc == FT_OK) rc = split_sorted(items, n, 1, &gen, &nf_gen, &n_gen);
    if (rc == FT_OK) {
        rate_at(imp, nf_imp, n_imp, gen, nf_gen, n_gen, 1e-3, &out->at_far_1e3);
        rate_at(imp, nf_imp, n_imp, gen, nf_gen, n_gen, 1e-2, &out->at_far_1e2);
    }
    ft__free(imp);
    ft__free(gen);
    if (rc != FT_OK) return ft__errf(errbuf, errbuf_len, rc, "out of memory");
    return FT_OK;
}
