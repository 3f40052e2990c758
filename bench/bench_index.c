/*
** bench/bench_index.c: search latency and recall of the vector index on
** synthetic face-like data, one thread.
**
**   bench_index [--n N]... [--queries Q] [--kind f32|i8|both] [--k K]
**               [--seed S] [--per P] [--c1 C] [--warmup W]
**
** Data (seeded, so every run sees the same numbers): 128-d vectors built as
** descriptors behave: a common mean (norm 1.3), one offset per identity
** (norm ~0.45, spread decaying over dimensions) and per-sighting noise (norm
** ~0.28): norms ~1.4, same identity ~0.4 apart, different ~0.75 apart; P
** sightings per identity on average (default 20). Queries are new sightings
** of existing identities.
** For each N (default 1M and 10M): builds an F32 index, times Q top-K
** searches after W warm-up ones (median and p90), keeps its hits as the
** truth, frees it; builds an I8 index (same data), times it, and reports
** recall@K against F32, also for the int8 ranking alone (what an index
** without the floats would return). Latency: wall-clock median, p90 and min
** over the Q queries, and the median on-CPU time of the thread (the same
** minus time the scheduler gave to other processes). An N whose index does not fit in the
** available memory is skipped with a message. Run it alone (the numbers are
** memory-bandwidth bound): `nice -n 5 build/release/bench/bench_index`.
*/
#include "index/index.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DIM 128

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_index: %s: %s\n", what, ft_strerror(rc));
    exit(2);
}

static double clock_ms(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static double now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

/* ------------------------------------------------------------------------ */
/* Data                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r)
{
    uint64_t x = r->s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Approximately standard normal: the sum of four 16-bit uniforms, scaled. */
static float gauss(rng *r)
{
    uint64_t x = next(r);
    double s = (double)(x & 0xffff) + (double)((x >> 16) & 0xffff) + (double)((x >> 32) & 0xffff) +
               (double)(x >> 48);
    return (float)((s / 65536.0 - 2.0) * 1.7320508075688772);
}

typedef struct faces {
    size_t n_ids;
    float *centre; /* (n_ids, DIM) */
} faces;

static faces faces_make(uint64_t seed, size_t n_ids)
{
    faces f = { n_ids, malloc(n_ids * DIM * sizeof(float)) };
    if (!f.centre) die("identities", FT_ENOMEM);
    rng r = { seed * 0x9E3779B97F4A7C15ULL + 7 };
    float mean[DIM], spread[DIM];
    double s = 0, w = 0;
    for (int i = 0; i < DIM; i++) {
        mean[i] = gauss(&r);
        s += (double)mean[i] * mean[i];
        w += 1.0 / (1.0 + i / 8.0);
    }
    for (int i = 0; i < DIM; i++) {
        mean[i] = (float)(mean[i] * 1.3 / sqrt(s));
        spread[i] = (float)(0.45 * sqrt(1.0 / (1.0 + i / 8.0) / w));
    }
    for (size_t c = 0; c < n_ids; c++)
        for (int i = 0; i < DIM; i++)
            f.centre[c * DIM + i] = mean[i] + spread[i] * gauss(&r);
    return f;
}

static size_t sighting(const faces *f, rng *r, float *out)
{
    size_t who = (size_t)(next(r) % f->n_ids);
    const float s = (float)(0.28 / sqrt((double)DIM));
    for (int i = 0; i < DIM; i++)
        out[i] = f->centre[who * DIM + i] + s * gauss(r);
    return who;
}

static double dist(const float *a, const float *b)
{
    double s = 0;
    for (int i = 0; i < DIM; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s);
}

/* Sanity numbers of the generator: norms, same / different identity distances. */
static void data_stats(const faces *f)
{
    rng r = { 12345 };
    enum { N = 400 };
    static float v[N][DIM];
    size_t who[N];
    double norm = 0, same = 0, diff = 0;
    int ns = 0, nd = 0;
    for (int i = 0; i < N; i++) {
        who[i] = i % 2 ? who[i - 1] : sighting(f, &r, v[i]);
        if (i % 2) {
            const float s = (float)(0.28 / sqrt((double)DIM));
            for (int d = 0; d < DIM; d++)
                v[i][d] = f->centre[who[i] * DIM + d] + s * gauss(&r);
        }
        double n2 = 0;
        for (int d = 0; d < DIM; d++)
            n2 += (double)v[i][d] * v[i][d];
        norm += sqrt(n2);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            if (who[i] == who[j])
                same += dist(v[i], v[j]), ns++;
            else
                diff += dist(v[i], v[j]), nd++;
        }
    printf("data: mean norm %.3f, same identity %.3f apart (%d pairs), different %.3f\n", norm / N,
           same / ns, ns, diff / nd);
}

/* ------------------------------------------------------------------------ */
/* Runs                                                                     */
/* ------------------------------------------------------------------------ */

static size_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    if (f) fclose(f);
    if (kb) return (size_t)kb * 1024;
    long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    return pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct params {
    int queries, k, warmup, c1;
    uint64_t seed;
    size_t per;
} params;

static ft_index *build(int kind, size_t n, const faces *f, const params *p, double *secs)
{
    ft_index *idx;
    int rc = ft_index_create(DIM, kind, &idx);
    if (rc) die("create", rc);
    if ((rc = ft_index_reserve(idx, n))) die("reserve", rc);
    enum { BATCH = 65536 };
    float *v = malloc((size_t)BATCH * DIM * sizeof(float));
    int64_t *ids = malloc(BATCH * sizeof *ids);
    if (!v || !ids) die("batch", FT_ENOMEM);
    rng r = { p->seed * 0x2545F4914F6CDD1DULL + 3 };
    double t0 = now_ms();
    for (size_t s0 = 0; s0 < n; s0 += BATCH) {
        size_t nb = n - s0 < BATCH ? n - s0 : BATCH;
        for (size_t i = 0; i < nb; i++) {
            sighting(f, &r, v + i * DIM);
            ids[i] = (int64_t)(s0 + i);
        }
        if ((rc = ft_index_add_batch(idx, ids, v, nb))) die("add", rc);
    }
    *secs = (now_ms() - t0) / 1e3;
    free(v);
    free(ids);
    return idx;
}

typedef struct timing {
    double median, p90, min, cpu, pass1, rerank;
} timing;

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Runs the queries (after warm-up ones), timing each; hits (queries x k). */
static timing run(const ft_index *idx, const float *q, const params *p, ft__search_opts base,
                  ft_index_hit *hits, int *n_hits)
{
    double *ms = malloc((size_t)p->queries * sizeof *ms), *cpu = malloc((size_t)p->queries * 8);
    if (!ms || !cpu) die("timing", FT_ENOMEM);
    timing t = { 0 };
    for (int i = -p->warmup; i < p->queries; i++) {
        int qi = i < 0 ? (p->queries + i) % p->queries : i;
        ft__search_opts o = base;
        int n_out;
        double c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID), t0 = now_ms();
        int rc = ft__index_search_opts(idx, q + (size_t)qi * DIM, p->k, NULL,
                                       hits + (size_t)qi * p->k, &n_out, &o);
        double dt = now_ms() - t0, dc = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
        if (rc) die("search", rc);
        if (i < 0) continue;
        ms[i] = dt;
        cpu[i] = dc;
        n_hits[qi] = n_out;
        t.pass1 += (double)o.n_pass1 / p->queries;
        t.rerank += (double)o.n_rerank / p->queries;
    }
    t.median = median_of(ms, p->queries); /* sorts ms */
    t.p90 = ms[(size_t)((p->queries - 1) * 0.9 + 0.5)];
    t.min = ms[0];
    t.cpu = median_of(cpu, p->queries);
    free(ms);
    free(cpu);
    return t;
}

static double recall(const ft_index_hit *got, const int *ng, const ft_index_hit *truth,
                     const int *nt, const params *p)
{
    double sum = 0;
    for (int qi = 0; qi < p->queries; qi++) {
        const ft_index_hit *g = got + (size_t)qi * p->k, *t = truth + (size_t)qi * p->k;
        int found = 0;
        for (int i = 0; i < nt[qi]; i++)
            for (int j = 0; j < ng[qi]; j++)
                if (g[j].id == t[i].id) {
                    found++;
                    break;
                }
        sum += nt[qi] ? (double)found / nt[qi] : 1.0;
    }
    return sum / p->queries;
}

static void row(size_t n, const char *kind, double bytes, double build_s, timing t, double rec,
                const char *note)
{
    char r[16] = "-";
    if (rec >= 0) snprintf(r, sizeof r, "%.4f", rec);
    printf("%9zu  %-12s %6.1f %7.1f %9.2f %8.2f %8.2f %8.2f %9s  %s\n", n, kind, bytes, build_s,
           t.median, t.p90, t.min, t.cpu, r, note);
    fflush(stdout);
}

static void bench_n(size_t n, int do_f32, int do_i8, const params *p)
{
    size_t n_ids = n / p->per ? n / p->per : 1;
    size_t need = n * ((do_i8 ? 673 : 521) + 8) + n_ids * DIM * sizeof(float) + (64u << 20);
    size_t avail = mem_available();
    if (need > avail) {
        printf("%9zu  skipped: needs ~%.1f GB, %.1f GB available\n", n, need / 1e9, avail / 1e9);
        return;
    }
    faces f = faces_make(p->seed, n_ids);
    float *q = malloc((size_t)p->queries * DIM * sizeof(float));
    size_t kq = (size_t)p->queries * p->k;
    ft_index_hit *truth = malloc(kq * sizeof *truth), *got = malloc(kq * sizeof *got);
    int *nt = calloc((size_t)p->queries, sizeof *nt), *ng = calloc((size_t)p->queries, sizeof *ng);
    if (!q || !truth || !got || !nt || !ng) die("queries", FT_ENOMEM);
    rng r = { p->seed * 0x9E3779B97F4A7C15ULL + 11 };
    for (int i = 0; i < p->queries; i++)
        sighting(&f, &r, q + (size_t)i * DIM);

    double bs;
    int have_truth = 0;
    ft__search_opts plain = { 0 };
    if (do_f32) {
        ft_index *idx = build(FT_INDEX_F32, n, &f, p, &bs);
        timing t = run(idx, q, p, plain, truth, nt);
        have_truth = 1;
        row(n, "f32", (double)ft_index_memory(idx) / n, bs, t, -1, "exact (full scan)");
        ft_index_destroy(idx);
    }
    if (do_i8) {
        ft_index *idx = build(FT_INDEX_I8, n, &f, p, &bs);
        double bytes = (double)ft_index_memory(idx) / n;
        if (!have_truth) { /* exact float scan of the I8 index's own floats */
            ft__search_opts ex = { 0 };
            ex.exact = 1;
            run(idx, q, p, ex, truth, nt);
        }
        ft__search_opts o = { 0 };
        o.c1 = p->c1;
        timing t = run(idx, q, p, o, got, ng);
        char note[160];
        snprintf(note, sizeof note, "c1 %d; %.0f re-ranked with floats per query",
                 p->c1 ? p->c1 : ft__index_default_c1(p->k), t.rerank);
        row(n, "i8", bytes, bs, t, recall(got, ng, truth, nt, p), note);
        o.no_float = 1;
        t = run(idx, q, p, o, got, ng);
        /* an index without the floats would hold codes, scale, norm and id */
        row(n, "i8 no-float", DIM + 4 + 4 + 8, bs, t, recall(got, ng, truth, nt, p),
            "int8 ranking only, int8 distances (bytes: codes + scale + norm + id)");
        ft_index_destroy(idx);
    }
    free(q);
    free(truth);
    free(got);
    free(nt);
    free(ng);
    free(f.centre);
}

int main(int argc, char **argv)
{
    params p = { .queries = 50, .k = 100, .warmup = 5, .c1 = 0, .seed = 1, .per = 20 };
    size_t ns[8];
    int n_ns = 0, do_f32 = 1, do_i8 = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        if (!strcmp(a, "--n") && n_ns < 8)
            ns[n_ns++] = (size_t)strtoull(v, NULL, 10);
        else if (!strcmp(a, "--queries"))
            p.queries = atoi(v);
        else if (!strcmp(a, "--k"))
            p.k = atoi(v);
        else if (!strcmp(a, "--warmup"))
            p.warmup = atoi(v);
        else if (!strcmp(a, "--c1"))
            p.c1 = atoi(v);
        else if (!strcmp(a, "--seed"))
            p.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--per"))
            p.per = (size_t)strtoull(v, NULL, 10);
        else if (!strcmp(a, "--kind")) {
            do_f32 = !strcmp(v, "f32") || !strcmp(v, "both");
            do_i8 = !strcmp(v, "i8") || !strcmp(v, "both");
            if (!do_f32 && !do_i8) goto usage;
        } else
            goto usage;
        i++;
    }
    if (p.queries < 1 || p.k < 1 || p.warmup < 0 || p.per < 1 || p.c1 < 0) goto usage;
    if (!n_ns) ns[n_ns++] = 1000000, ns[n_ns++] = 10000000;

    ft_index *probe;
    if (ft_index_create(DIM, FT_INDEX_I8, &probe)) die("create", FT_ENOMEM);
    printf("bench_index: dim %d, top-%d, %d queries after %d warm-up, one thread, isa %s, "
           "seed %llu, %zu sightings per identity\n",
           DIM, p.k, p.queries, p.warmup, ft__index_isa_name(ft__index_isa(probe)),
           (unsigned long long)p.seed, p.per);
    ft_index_destroy(probe);
    faces f = faces_make(p.seed, 1000);
    data_stats(&f);
    free(f.centre);
    printf("(ms: wall-clock per query, median / p90 / min; cpu: median on-CPU time of the "
           "thread, which leaves out time the scheduler gave to other jobs)\n");
    printf("%9s  %-12s %6s %7s %9s %8s %8s %8s %9s  %s\n", "n", "kind", "B/vec", "build_s",
           "median_ms", "p90_ms", "min_ms", "cpu_ms", "recall@k", "notes");
    for (int i = 0; i < n_ns; i++)
        bench_n(ns[i], do_f32, do_i8, &p);
    return 0;
usage:
    fprintf(stderr, "usage: bench_index [--n N]... [--queries Q] [--kind f32|i8|both] [--k K]\n"
                    "                   [--seed S] [--per P] [--c1 C] [--warmup W]\n");
    return 2;
}
