/*
** eval/calibrate.c: the map between a distance threshold and the false-match
** rate (FMR) per comparison, built from measured distances or from a table,
** and the default table measured on LFW.
**
** DESIGN
**   A calibration is a handful of knots (threshold, FMR, FNMR): the empirical
**   impostor quantiles. Between knots log(FMR) is linear in the threshold.
**   Rates below the first knot (below 1 / number of impostor comparisons) are
**   out of the data's reach: there FMR follows an exponential tail,
**   FMR(t) = f0 * exp((t - t0) / s), anchored at the first knot (t0, f0), with
**   s the maximum-likelihood scale of an exponential fitted to t_u - d over
**   the lowest impostor distances d < t_u (t_u: the (k+1)-th smallest, k about
**   1% of them, at least 10). A normal lower tail would fall faster, so this
**   errs towards larger FMR, i.e. lower (safer) thresholds. Every answer from
**   a tail (below the first knot or above the last) is flagged extrapolated.
**
** INVARIANTS
**   (1) Knot thresholds and FMRs are strictly increasing; FMR in (0, 1].
**   (2) ft_calibration_fmr and ft_calibration_threshold are inverse to each
**       other and monotone (non-decreasing) everywhere, tails included.
**   (3) At a knot, the threshold for rate r equals what ft_verify_tar_at_far
**       gives for target r on the same impostor distances.
** THREADS  Pure functions; the default table is constant.
*/
#include "core/core.h"
#include "eval/eval.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* The default calibration                                                  */
/* ------------------------------------------------------------------------ */

/* DEFAULT_TABLE_BEGIN
** The calibration of descriptor space "faceapi-chip68" (events ingested
** before dlib's descriptor became the default), measured on LFW (Labeled Faces in the Wild,
** deep-funneled, ../shared/data/lfw: the 3,811 images used by view-2 folds
** 1-5, 2026-11-28) with the pipeline `facetrail ingest` uses for search
** galleries: SSD detector (score 0.5, retried at 0.2 and 0.05, central box as
** last resort; the central face of each image), 68-point landmarks, dlib
** chip alignment, no mirror, cosine metric (euclidean distance of
** unit-normalised descriptors). Impostor comparisons: every pair of images of
** two different people (7,255,541); genuine: every pair of images of one
** person (4,414). Knots: the empirical quantiles at 1/n and at the 1-2-5 rates,
** so FMR down to 1.4e-7 is measured, not extrapolated (7 impostor pairs
** below the 1e-6 knot: a rough estimate there). On the same run the LFW
** protocol (5 folds) gives 98.00% +- 0.17% (sample std), TAR 95.7% at FAR 1e-3.
** Regenerate (prints this initializer into FILE):
**   facetrail eval lfw --pairs lfw/pairs.txt --images lfw/images --align dlib \
**       --metric cosine --threads 2 --print-calibration FILE
** Other pipelines give other distances: with --mirror the threshold at FMR
** 1e-3 is 0.378 instead of 0.385; a search must use descriptors made the way
** the table was measured. */
/* clang-format off */
static const ft_calibration faceapi_chip68_calibration = {
    FT_METRIC_COSINE,
    21,
    {
        { 0.214808658, 1.37825698e-07, 0.965564114 },
        { 0.256524622, 4.13477093e-07, 0.844811962 },
        { 0.268716633, 9.64779883e-07, 0.779111917 },
        { 0.276343137, 1.92955977e-06, 0.731082918 },
        { 0.293766588, 4.96172511e-06, 0.610557318 },
        { 0.307309747, 9.92345023e-06, 0.505890349 },
        { 0.319036037, 1.99847262e-05, 0.410285455 },
        { 0.333624959, 4.98929025e-05, 0.305845039 },
        { 0.345668256, 9.99236308e-05, 0.23855913 },
        { 0.357487202, 0.000199985087, 0.184413231 },
        { 0.372733384, 0.000499893805, 0.128454916 },
        { 0.384786069, 0.000999925436, 0.0935659266 },
        { 0.397222847, 0.0019999887, 0.0645672859 },
        { 0.415002704, 0.00499990283, 0.0400996828 },
        { 0.429437816, 0.00999994349, 0.024694155 },
        { 0.445195705, 0.019999887, 0.0154055279 },
        { 0.469072342, 0.0499999931, 0.0092886271 },
        { 0.490727723, 0.0999999862, 0.00657000453 },
        { 0.517437518, 0.199999835, 0.00339827821 },
        { 0.5693959, 0.499999518, 0 },
        { 0.828487217, 0.999999862, 0 },
    },
    0.0198465452,
    7255541,
    4414,
};
/* clang-format on */
/* DEFAULT_TABLE_END */

/* The calibration of descriptor space "dlib-chip5" (the default pipeline
** without the mirror):
** YuNet (score 0.6, retried at 0.2 and 0.05; the central face of each image;
** one image without a face gets dlib's points in the central box), dlib's
** 5-point predictor (two passes, engine/engine.c), dlib's chip and ResNet, no
** mirror, cosine metric. Measured on LFW (deep-funneled, ../shared/data/lfw,
** the 3,811 images of view-2 folds 1-5, 2026-12-06): 7,255,541 impostor and
** 4,414 genuine comparisons. LFW protocol (5 folds): 98.53% +- 0.57%, TAR
** 97.2% at FAR 1e-3. Regenerate:
**   facetrail eval lfw --pairs lfw/pairs.txt --images lfw/images \
**       --pipeline dlib-chip5 --metric cosine --print-calibration FILE */
/* clang-format off */
static const ft_calibration dlib_chip5_calibration = {
    FT_METRIC_COSINE,
    21,
    {
        { 0.214743108, 1.37825698e-07, 0.969188944 },
        { 0.261978537, 4.13477093e-07, 0.824422293 },
        { 0.276248872, 9.64779883e-07, 0.744676031 },
        { 0.286350727, 1.92955977e-06, 0.677616674 },
        { 0.297408968, 4.96172511e-06, 0.591300408 },
        { 0.306831181, 9.92345023e-06, 0.521295877 },
        { 0.319492459, 1.99847262e-05, 0.427956502 },
        { 0.334279299, 4.98929025e-05, 0.321250566 },
        { 0.346105576, 9.99236308e-05, 0.247621205 },
        { 0.358324349, 0.000199985087, 0.183280471 },
        { 0.374221802, 0.000499893805, 0.123697327 },
        { 0.386329025, 0.000999925436, 0.089034889 },
        { 0.39889878, 0.0019999887, 0.0623017671 },
        { 0.416833848, 0.00499990283, 0.0342093339 },
        { 0.431387186, 0.00999994349, 0.0197100136 },
        { 0.447289854, 0.019999887, 0.0135931128 },
        { 0.471350044, 0.0499999931, 0.00792931581 },
        { 0.4931584, 0.0999999862, 0.00453103761 },
        { 0.52000457, 0.199999835, 0.00158586316 },
        { 0.571729898, 0.499999793, 0 },
        { 0.851961076, 0.999999862, 0 },
    },
    0.020004767,
    7255541,
    4414,
};
/* clang-format on */

/* The calibration of descriptor space "dlib-chip5-mirror", the default
** pipeline: as "dlib-chip5" above, each descriptor the mean of the chip's and
** its mirror image's. LFW (the same images and pairs, 2026-12-06): 99.00%
** +- 0.50% (5 folds), TAR 97.3% at FAR 1e-3; FNMR 20.9% at FMR 1e-4 and
** 43.7% at 1e-5 (against 24.8% and 52.0% without the mirror). Regenerate:
**   facetrail eval lfw --pairs lfw/pairs.txt --images lfw/images \
**       --metric cosine --print-calibration FILE */
/* clang-format off */
static const ft_calibration dlib_chip5_mirror_calibration = {
    FT_METRIC_COSINE,
    21,
    {
        { 0.199895799, 1.37825698e-07, 0.967603081 },
        { 0.263638735, 4.13477093e-07, 0.731762574 },
        { 0.274820596, 9.64779883e-07, 0.653149071 },
        { 0.28475368, 1.92955977e-06, 0.581558677 },
        { 0.296009153, 4.96172511e-06, 0.493883099 },
        { 0.303664565, 9.92345023e-06, 0.437698233 },
        { 0.313326567, 1.99847262e-05, 0.371771636 },
        { 0.327843666, 4.98929025e-05, 0.266425011 },
        { 0.338942587, 9.99236308e-05, 0.209560489 },
        { 0.351276934, 0.000199985087, 0.156547349 },
        { 0.366604388, 0.000499893805, 0.10240145 },
        { 0.378742814, 0.000999925436, 0.0713638423 },
        { 0.391435206, 0.0019999887, 0.0484821024 },
        { 0.409470648, 0.00499990283, 0.0285455369 },
        { 0.42402637, 0.00999994349, 0.0158586316 },
        { 0.439891845, 0.019999887, 0.0106479384 },
        { 0.464096993, 0.0499999931, 0.00657000453 },
        { 0.485955924, 0.0999999862, 0.00317172633 },
        { 0.512917995, 0.199999559, 0.00158586316 },
        { 0.565085888, 0.499999518, 0.000453103761 },
        { 0.833408535, 0.999999862, 0 },
    },
    0.0200271192,
    7255541,
    4414,
};
/* clang-format on */

const ft_calibration *ft_calibration_default(void)
{
    return &dlib_chip5_mirror_calibration;
}

const ft_calibration *ft_calibration_for_space(const char *space)
{
    if (!space) return NULL;
    if (!strcmp(space, "faceapi-chip68")) return &faceapi_chip68_calibration;
    if (!strcmp(space, "dlib-chip5")) return &dlib_chip5_calibration;
    if (!strcmp(space, "dlib-chip5-mirror")) return &dlib_chip5_mirror_calibration;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Building                                                                 */
/* ------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Copies the finite values of v (NaN and +inf dropped, counted by the caller
** as never matching) into a new sorted array. FT_EINVAL for -inf. */
static int sorted_finite(const double *v, size_t n, double **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == -INFINITY) return FT_EINVAL;
        if (isfinite(v[i])) k++;
    }
    double *s = ft__malloc((k ? k : 1) * sizeof *s);
    if (!s) return FT_ENOMEM;
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) s[k++] = v[i];
    qsort(s, k, sizeof *s, cmp_double);
    *out = s;
    *n_out = k;
    return FT_OK;
}

/* Adds the knot whose threshold is imp[m] (m >= 1: m impostor distances may be
** below it), unless it would not increase the threshold or has FMR 0 (ties). */
static void add_knot(ft_calibration *c, const double *imp, size_t nf, size_t n_imp, size_t m,
                     const double *gen, size_t nf_gen, size_t n_gen)
{
    if (m < 1 || m >= nf || c->n_knots == FT_CALIBRATION_MAX_KNOTS) return;
    double t = imp[m];
    if (c->n_knots > 0 && !(t > c->knots[c->n_knots - 1].threshold)) return;
    size_t below = ft__eval_count_below(imp, nf, t);
    if (below == 0) return;
    ft_calibration_knot *k = &c->knots[c->n_knots++];
    k->threshold = t;
    k->fmr = (double)below / (double)n_imp;
    k->fnmr = n_gen ? (double)(n_gen - ft__eval_count_below(gen, nf_gen, t)) / (double)n_gen : NAN;
}

int ft_calibration_from_distances(enum ft_metric metric, const double *impostor, size_t n_impostor,
                                  const double *genuine, size_t n_genuine, ft_calibration *out,
                                  char *errbuf, size_t errbuf_len)
{
    if (!out || (!impostor && n_impostor) || (!genuine && n_genuine))
        return ft__errf(errbuf, errbuf_len, FT_EINVAL, "calibration: bad arguments");
    memset(out, 0, sizeof *out);
    double *imp = NULL, *gen = NULL;
    size_t nf = 0, nf_gen = 0;
    int rc = sorted_finite(impostor, n_impostor, &imp, &nf);
    if (rc == FT_OK) rc = sorted_finite(genuine, n_genuine, &gen, &nf_gen);
    if (rc != FT_OK) {
        ft__free(imp);
        ft__free(gen);
        return ft__errf(errbuf, errbuf_len, rc, "calibration: %s",
                        rc == FT_ENOMEM ? "out of memory" : "a distance is -inf");
    }
    if (nf < 2 || !(imp[nf - 1] > imp[0])) {
        ft__free(imp);
        ft__free(gen);
        return ft__errf(errbuf, errbuf_len, FT_EINVAL,
                        "calibration: needs at least two distinct finite impostor distances");
    }
    out->metric = metric;
    out->n_impostor = (long long)n_impostor;
    out->n_genuine = (long long)n_genuine;

    if (nf - 1 <= FT_CALIBRATION_MAX_KNOTS) { /* every distance a knot: exact */
        for (size_t m = 1; m < nf; m++)
            add_knot(out, imp, nf, n_impostor, m, gen, nf_gen, n_genuine);
    } else {
        add_knot(out, imp, nf, n_impostor, 1, gen, nf_gen, n_genuine); /* rate 1/n */
        static const double mant[3] = { 1, 2, 5 };
        for (int e = -12; e <= -1; e++)
            for (int j = 0; j < 3; j++) {
                double r = mant[j] * pow(10, e);
                add_knot(out, imp, nf, n_impostor, ft__eval_allowed_count(r, n_impostor), gen,
                         nf_gen, n_genuine);
            }
        add_knot(out, imp, nf, n_impostor, nf - 1, gen, nf_gen, n_genuine); /* the largest */
    }

    /* exponential tail fitted on the lowest ~1% (at least 10) impostor distances */
    size_t k = (size_t)ceil(0.01 * (double)nf);
    if (k < 10) k = 10;
    if (k > nf - 1) k = nf - 1;
    while (k < nf - 1 && !(imp[k] > imp[0]))
        k++;
    double u = imp[k], sum = 0;
    size_t cnt = 0;
    for (size_t i = 0; i < k && imp[i] < u; i++, cnt++)
        sum += u - imp[i];
    out->tail_scale = sum / (double)cnt; /* cnt >= 1 and > 0: imp[0] < u */
    ft__free(imp);
    ft__free(gen);
    if (out->n_knots == 0 || !(out->tail_scale > 0) || !isfinite(out->tail_scale))
        return ft__errf(errbuf, errbuf_len, FT_EINVAL,
                        "calibration: the impostor distances do not define a curve");
    return FT_OK;
}

int ft_calibration_from_knots(enum ft_metric metric, const ft_calibration_knot *knots, int n,
                              double tail_scale, ft_calibration *out, char *errbuf,
                              size_t errbuf_len)
{
    if (!out) return ft__errf(errbuf, errbuf_len, FT_EINVAL, "calibration: no output");
    memset(out, 0, sizeof *out);
    if (!knots || n < 1 || n > FT_CALIBRATION_MAX_KNOTS)
        return ft__errf(errbuf, errbuf_len, FT_EINVAL, "calibration: %d knots (1..%d)", n,
                        FT_CALIBRATION_MAX_KNOTS);
    if (!(tail_scale > 0) || !isfinite(tail_scale))
        return ft__errf(errbuf, errbuf_len, FT_EINVAL, "calibration: tail scale %g is not > 0",
                        tail_scale);
    for (int i = 0; i < n; i++) {
        const ft_calibration_knot *k = &knots[i];
        if (!isfinite(k->threshold) || !(k->fmr > 0 && k->fmr <= 1) ||
            !(isnan(k->fnmr) || (k->fnmr >= 0 && k->fnmr <= 1)))
            return ft__errf(errbuf, errbuf_len, FT_EINVAL,
                            "calibration: knot %d (%g, %g, %g) is out of range", i, k->threshold,
                            k->fmr, k->fnmr);
        if (i > 0 && !(k->threshold > knots[i - 1].threshold && k->fmr > knots[i - 1].fmr))
            return ft__errf(errbuf, errbuf_len, FT_EINVAL,
                            "calibration: knot %d does not increase threshold and fmr", i);
    }
    out->metric = metric;
    out->n_knots = n;
    memcpy(out->knots, knots, (size_t)n * sizeof *knots);
    out->tail_scale = tail_scale;
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

/* d log(FMR) / d threshold above the last knot: the last segment's, or the
** tail's with a single knot. */
static double upper_slope(const ft_calibration *c)
{
    int n = c->n_knots;
    if (n < 2) return 1 / c->tail_scale;
    const ft_calibration_knot *a = &c->knots[n - 2], *b = &c->knots[n - 1];
    return (log(b->fmr) - log(a->fmr)) / (b->threshold - a->threshold);
}

double ft_calibration_fmr(const ft_calibration *c, double t, int *extrapolated)
{
    if (extrapolated) *extrapolated = 0;
    if (!c || c->n_knots < 1 || isnan(t)) return NAN;
    const ft_calibration_knot *k = c->knots;
    int n = c->n_knots;
    if (t < k[0].threshold) {
        if (extrapolated) *extrapolated = 1;
        return k[0].fmr * exp((t - k[0].threshold) / c->tail_scale);
    }
    if (t > k[n - 1].threshold) {
        if (extrapolated) *extrapolated = 1;
        double f = k[n - 1].fmr * exp((t - k[n - 1].threshold) * upper_slope(c));
        return f < 1 ? f : 1;
    }
    int i = 0;
    while (i + 1 < n && t >= k[i + 1].threshold)
        i++;
    if (i + 1 == n || t == k[i].threshold) return k[i].fmr; /* exact at the knots */
    double w = (t - k[i].threshold) / (k[i + 1].threshold - k[i].threshold);
    return exp(log(k[i].fmr) + w * (log(k[i + 1].fmr) - log(k[i].fmr)));
}

double ft_calibration_fnmr(const ft_calibration *c, double t)
{
    if (!c || c->n_knots < 1 || isnan(t) || isnan(c->knots[0].fnmr)) return NAN;
    const ft_calibration_knot *k = c->knots;
    int n = c->n_knots;
    if (t <= k[0].threshold) return k[0].fnmr;
    if (t >= k[n - 1].threshold) return k[n - 1].fnmr;
    int i = 0;
    while (t > k[i + 1].threshold)
        i++;
    double w = (t - k[i].threshold) / (k[i + 1].threshold - k[i].threshold);
    return k[i].fnmr + w * (k[i + 1].fnmr - k[i].fnmr);
}

int ft_calibration_threshold(const ft_calibration *c, double fmr, double *threshold,
                             int *extrapolated)
{
    if (extrapolated) *extrapolated = 0;
    if (!c || c->n_knots < 1 || !threshold || !(fmr > 0 && fmr <= 1)) return FT_EINVAL;
    const ft_calibration_knot *k = c->knots;
    int n = c->n_knots;
    if (fmr < k[0].fmr) {
        if (extrapolated) *extrapolated = 1;
        *threshold = k[0].threshold + c->tail_scale * log(fmr / k[0].fmr);
        return FT_OK;
    }
    if (fmr > k[n - 1].fmr) {
        if (extrapolated) *extrapolated = 1;
        *threshold = k[n - 1].threshold + log(fmr / k[n - 1].fmr) / upper_slope(c);
        return FT_OK;
    }
    int i = 0;
    while (i + 1 < n && fmr >= k[i + 1].fmr)
        i++;
    if (i + 1 == n || fmr == k[i].fmr) { /* exact at the knots */
        *threshold = k[i].threshold;
        return FT_OK;
    }
    double w = (log(fmr) - log(k[i].fmr)) / (log(k[i + 1].fmr) - log(k[i].fmr));
    *threshold = k[i].threshold + w * (k[i + 1].threshold - k[i].threshold);
    return FT_OK;
}

double ft_calibration_expected_false_matches(const ft_calibration *c, double threshold,
                                             double gallery_size, int *extrapolated)
{
    if (extrapolated) *extrapolated = 0;
    if (!(gallery_size >= 0)) return NAN;
    return gallery_size * ft_calibration_fmr(c, threshold, extrapolated);
}
