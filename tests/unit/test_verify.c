/*
** tests/unit/test_verify.c: the LFW verification protocol (src/eval/verify.c)
** and the threshold <-> false-match-rate calibration (src/eval/calibrate.c).
**
** Every expected number is worked out by hand in the comment above it, from
** the rule "same iff distance < threshold" and the threshold candidates (the
** smallest training distance, midpoints between consecutive distinct training
** distances, +inf; ties to the smallest). Nothing here needs models or data.
*/
#include "harness/test.h"

#include "core/core.h"

#include <unistd.h>

#define S 1 /* same person */
#define D 0 /* different people */

/* ------------------------------------------------------------------------ */
/* k-fold evaluation                                                        */
/* ------------------------------------------------------------------------ */

/* Fold 0: same 0.2, 0.3; different 0.7, 0.8. Fold 1: same 0.25, 0.35;
** different 0.65, 0.9.
** Testing fold 0, train on fold 1 (0.25S 0.35S 0.65D 0.9D): candidates 0.25
** (2/4 right), 0.30 (3/4), 0.50 (4/4), 0.775 (3/4), inf (2/4) -> 0.5; fold 0
** at 0.5: all 4 right. Testing fold 1, train on fold 0 (0.2S 0.3S 0.7D 0.8D):
** 0.5 again, fold 1 all right. Accuracy 1, std 0. On all 8 pairs the best
** split is (0.35 + 0.65) / 2 = 0.5, accuracy 1.
** TAR@FAR=1e-3: 4 impostors, floor(0.004) = 0 false accepts allowed, so the
** threshold is the smallest impostor distance 0.65 (nothing is < 0.65): FAR 0,
** and all 4 genuine distances are < 0.65: TAR 1. */
static void test_two_folds_obvious(void)
{
    const ft_verify_item it[] = {
        { 0, S, 0.2 },  { 0, S, 0.3 },  { 0, D, 0.7 },  { 0, D, 0.8 },
        { 1, S, 0.25 }, { 1, S, 0.35 }, { 1, D, 0.65 }, { 1, D, 0.9 },
    };
    ft_verify_result r;
    char err[256] = "";
    ASSERT_OK(ft_verify_evaluate(it, 8, 2, &r, err, sizeof err));
    ASSERT_EQ(r.n_pairs, 8);
    ASSERT_EQ(r.n_same, 4);
    ASSERT_EQ(r.n_different, 4);
    ASSERT_EQ(r.n_unknown, 0);
    ASSERT_EQ(r.fold_pairs[0], 4);
    ASSERT_EQ(r.fold_pairs[1], 4);
    ASSERT_NEAR(r.fold_threshold[0], 0.5, 1e-12);
    ASSERT_NEAR(r.fold_threshold[1], 0.5, 1e-12);
    ASSERT_NEAR(r.fold_accuracy[0], 1.0, 0);
    ASSERT_NEAR(r.fold_accuracy[1], 1.0, 0);
    ASSERT_NEAR(r.accuracy, 1.0, 0);
    ASSERT_NEAR(r.std, 0.0, 0);
    ASSERT_NEAR(r.threshold, 0.5, 1e-12);
    ASSERT_NEAR(r.threshold_accuracy, 1.0, 0);
    ASSERT_NEAR(r.at_far_1e3.threshold, 0.65, 0);
    ASSERT_NEAR(r.at_far_1e3.far, 0.0, 0);
    ASSERT_NEAR(r.at_far_1e3.tar, 1.0, 0);
    ASSERT_NEAR(r.at_far_1e2.target_far, 1e-2, 0);
}

/* Fold 0: same 0.2, 0.3; different 0.7, 0.8. Fold 1: same 0.4, 0.75;
** different 0.9, 1.0.
** Testing fold 0, train on fold 1 (0.4S 0.75S 0.9D 1.0D): candidates 0.4
** (2/4), 0.575 (3/4), 0.825 (4/4), 0.95 (3/4), inf (2/4) -> 0.825. On fold 0
** the different pairs 0.7 and 0.8 are < 0.825, so both are wrongly accepted:
** accuracy 2/4 = 0.5 (the best training threshold misclassifies test pairs).
** Testing fold 1, train on fold 0: threshold 0.5; on fold 1 the same pair 0.75
** is rejected, the rest right: 3/4 = 0.75.
** Mean (0.5 + 0.75) / 2 = 0.625; sample std sqrt(2 * 0.125^2 / 1) = 0.1767767;
** sem = std / sqrt(2) = 0.125.
** All 8 pairs (0.2S 0.3S 0.4S 0.7D 0.75S 0.8D 0.9D 1.0D), right answers per
** candidate: 0.2: 4, 0.25: 5, 0.35: 6, 0.55: 7, 0.725: 6, 0.775: 7, 0.85: 6,
** 0.95: 5, inf: 4. 0.55 and 0.775 tie at 7/8; the smaller, 0.55, wins. */
static void test_misclassified_test_fold(void)
{
    const ft_verify_item it[] = {
        { 0, S, 0.2 }, { 0, S, 0.3 },  { 0, D, 0.7 }, { 0, D, 0.8 },
        { 1, S, 0.4 }, { 1, S, 0.75 }, { 1, D, 0.9 }, { 1, D, 1.0 },
    };
    ft_verify_result r;
    char err[256] = "";
    ASSERT_OK(ft_verify_evaluate(it, 8, 2, &r, err, sizeof err));
    ASSERT_NEAR(r.fold_threshold[0], 0.825, 1e-12);
    ASSERT_NEAR(r.fold_accuracy[0], 0.5, 0);
    ASSERT_NEAR(r.fold_threshold[1], 0.5, 1e-12);
    ASSERT_NEAR(r.fold_accuracy[1], 0.75, 0);
    ASSERT_NEAR(r.accuracy, 0.625, 1e-15);
    ASSERT_NEAR(r.std, 0.17677669529663687, 1e-12);
    ASSERT_NEAR(r.sem, 0.125, 1e-12);
    ASSERT_NEAR(r.threshold, 0.55, 1e-12);
    ASSERT_NEAR(r.threshold_accuracy, 0.875, 0);

    double t, acc;
    ASSERT_OK(ft_verify_best_threshold(it, 8, 0, &t, &acc)); /* train on fold 1 only */
    ASSERT_NEAR(t, 0.825, 1e-12);
    ASSERT_NEAR(acc, 1.0, 0);
}

/* Equal distances. Pairs S 0.2, S 0.5, D 0.5, D 0.9: groups 0.2{S},
** 0.5{S,D}, 0.9{D}. Candidates: 0.2 -> 2/4 right (both D), 0.35 -> 3/4, 0.7
** -> 3/4 (the tied group adds one right and one wrong), inf -> 2/4. Best 3/4,
** the smaller threshold 0.35 wins the tie; 0.5 itself is never a candidate.
** Only the tied group (S 0.5, D 0.5): 0.5 -> 1/2, inf -> 1/2: 0.5 wins. */
static void test_ties(void)
{
    const ft_verify_item it[] = { { 0, S, 0.2 }, { 0, S, 0.5 }, { 0, D, 0.5 }, { 0, D, 0.9 } };
    double t, acc;
    ASSERT_OK(ft_verify_best_threshold(it, 4, -1, &t, &acc));
    ASSERT_NEAR(t, 0.35, 1e-12);
    ASSERT_NEAR(acc, 0.75, 0);
    ASSERT_OK(ft_verify_best_threshold(it + 1, 2, -1, &t, &acc));
    ASSERT_NEAR(t, 0.5, 0);
    ASSERT_NEAR(acc, 0.5, 0);

    /* adjacent doubles: the "midpoint" must still separate them */
    double a = 0.5, b = nextafter(0.5, 1);
    const ft_verify_item adj[] = { { 0, S, a }, { 0, D, b } };
    ASSERT_OK(ft_verify_best_threshold(adj, 2, -1, &t, &acc));
    ASSERT(a < t && !(b < t));
    ASSERT_NEAR(acc, 1.0, 0);

    /* TAR@FAR with ties at the threshold. Impostors 0.3, 0.3, 0.6, 0.8;
    ** genuine 0.1, 0.3, 0.5. Target 0.25: floor(0.25 * 4) = 1 false accept
    ** allowed, threshold = the 2nd smallest impostor = 0.3; strictly below it:
    ** no impostor (FAR 0), genuine 0.1 only (the genuine tie at 0.3 is
    ** rejected): TAR 1/3. Target 0.5: 2 allowed, threshold 0.6, FAR 2/4, TAR 1. */
    const ft_verify_item tie[] = { { 0, D, 0.3 }, { 0, D, 0.3 }, { 0, D, 0.6 }, { 0, D, 0.8 },
                                   { 0, S, 0.1 }, { 0, S, 0.3 }, { 0, S, 0.5 } };
    ft_verify_rate r;
    ASSERT_OK(ft_verify_tar_at_far(tie, 7, 0.25, &r));
    ASSERT_NEAR(r.threshold, 0.3, 0);
    ASSERT_NEAR(r.far, 0.0, 0);
    ASSERT_NEAR(r.tar, 1.0 / 3, 1e-15);
    ASSERT_OK(ft_verify_tar_at_far(tie, 7, 0.5, &r));
    ASSERT_NEAR(r.threshold, 0.6, 0);
    ASSERT_NEAR(r.far, 0.5, 0);
    ASSERT_NEAR(r.tar, 1.0, 0);
}

/* Ten impostors 0.50, 0.55, ..., 0.95 and genuine 0.2, 0.45, 0.55, 0.7.
** Target 0.1: 1 false accept allowed, threshold = 2nd impostor 0.55, FAR
** 1/10; genuine below 0.55: 0.2, 0.45 (0.55 is a tie, rejected): TAR 2/4.
** Target 0.05: 0 allowed, threshold 0.5, FAR 0, TAR 2/4.
** Target 0.29: 2 allowed (3/10 > 0.29), threshold 0.6, FAR 0.2, TAR 3/4.
** Target 1: all 10 allowed, threshold +inf, FAR 1, TAR 1.
** 100 impostors 0.50, 0.51, ..., 1.49, target 0.29: 29 allowed (0.29 * 100 is
** 28.999... in floating point, which must not cost one), threshold 0.79. */
static void test_tar_at_far(void)
{
    ft_verify_item it[14];
    for (int i = 0; i < 10; i++)
        it[i] = (ft_verify_item){ 0, D, 0.5 + 0.05 * i };
    const double gen[4] = { 0.2, 0.45, 0.55, 0.7 };
    for (int i = 0; i < 4; i++)
        it[10 + i] = (ft_verify_item){ 0, S, gen[i] };
    ft_verify_rate r;
    ASSERT_OK(ft_verify_tar_at_far(it, 14, 0.1, &r));
    ASSERT_NEAR(r.threshold, 0.55, 1e-12);
    ASSERT_NEAR(r.far, 0.1, 0);
    ASSERT_NEAR(r.tar, 0.5, 0);
    ASSERT_OK(ft_verify_tar_at_far(it, 14, 0.05, &r));
    ASSERT_NEAR(r.threshold, 0.5, 0);
    ASSERT_NEAR(r.far, 0.0, 0);
    ASSERT_NEAR(r.tar, 0.5, 0);
    ASSERT_OK(ft_verify_tar_at_far(it, 14, 0.29, &r));
    ASSERT_NEAR(r.threshold, 0.6, 1e-12);
    ASSERT_NEAR(r.far, 0.2, 0);
    ASSERT_NEAR(r.tar, 0.75, 0);
    ASSERT_OK(ft_verify_tar_at_far(it, 14, 1.0, &r));
    ASSERT(isinf(r.threshold));
    ASSERT_NEAR(r.far, 1.0, 0);
    ASSERT_NEAR(r.tar, 1.0, 0);
    ASSERT_EQ(ft_verify_tar_at_far(it, 14, 0.0, &r), FT_EINVAL);
    ASSERT_EQ(ft_verify_tar_at_far(it, 14, 1.5, &r), FT_EINVAL);
    ASSERT_EQ(ft_verify_tar_at_far(it, 10, 0.1, &r), FT_EINVAL); /* no genuine pair */

    ft_verify_item hundred[101];
    for (int i = 0; i < 100; i++)
        hundred[i] = (ft_verify_item){ 0, D, (50 + i) / 100.0 };
    hundred[100] = (ft_verify_item){ 0, S, 0.1 };
    ASSERT_OK(ft_verify_tar_at_far(hundred, 101, 0.29, &r));
    ASSERT_NEAR(r.threshold, 0.79, 0);
    ASSERT_NEAR(r.far, 0.29, 0);
}

/* A test pair exactly at the chosen threshold is "different" (strict <).
** Fold 0: S 0.3, D 0.7; fold 1: S 0.2, D 0.5.
** Testing fold 1, train on fold 0: threshold (0.3 + 0.7) / 2 = 0.5; fold 1:
** S 0.2 accepted (right), D 0.5 is not < 0.5, rejected (right): 1.0.
** Testing fold 0, train on fold 1: (0.2 + 0.5) / 2 = 0.35; fold 0: 1.0. */
static void test_test_pair_at_threshold(void)
{
    const ft_verify_item it[] = { { 0, S, 0.3 }, { 0, D, 0.7 }, { 1, S, 0.2 }, { 1, D, 0.5 } };
    ft_verify_result r;
    char err[256] = "";
    ASSERT_OK(ft_verify_evaluate(it, 4, 2, &r, err, sizeof err));
    ASSERT_NEAR(r.fold_threshold[1], 0.5, 0);
    ASSERT_NEAR(r.fold_accuracy[1], 1.0, 0);
    ASSERT_NEAR(r.fold_threshold[0], 0.35, 1e-12);
    ASSERT_NEAR(r.fold_accuracy[0], 1.0, 0);
}

/* Unknown distances (NaN or +inf) are "different" at every threshold.
** Fold 0: S 0.2, S NaN, D 0.8, D +inf. Fold 1: S 0.3, S 0.35, D 0.7, D NaN.
** Unknown: 3 pairs (1 same, 2 different).
** Testing fold 0, train on fold 1: known 0.3S 0.35S 0.7D plus an unknown D
** that is always right; best split (0.35 + 0.7) / 2 = 0.525 (4/4). Fold 0 at
** 0.525: S 0.2 right, S NaN wrong, D 0.8 right, D inf right: 3/4.
** Testing fold 1, train on fold 0 (0.2S 0.8D known): 0.5; fold 1: all 4 right.
** Mean 0.875, sample std 0.1767767.
** TAR@FAR=1e-3: 4 impostors (2 known: 0.7, 0.8), 0 allowed: threshold 0.7,
** FAR 0; genuine 0.2, 0.3, 0.35 of 4 are below: TAR 0.75 (NaN = a reject).
** Target 1: threshold +inf, which still rejects the unknowns: FAR 2/4. */
static void test_unknown_distances(void)
{
    const ft_verify_item it[] = {
        { 0, S, 0.2 }, { 0, S, NAN },  { 0, D, 0.8 }, { 0, D, INFINITY },
        { 1, S, 0.3 }, { 1, S, 0.35 }, { 1, D, 0.7 }, { 1, D, NAN },
    };
    ft_verify_result r;
    char err[256] = "";
    ASSERT_OK(ft_verify_evaluate(it, 8, 2, &r, err, sizeof err));
    ASSERT_EQ(r.n_unknown, 3);
    ASSERT_EQ(r.n_unknown_same, 1);
    ASSERT_EQ(r.n_unknown_different, 2);
    ASSERT_EQ(r.n_pairs, 8);
    ASSERT_NEAR(r.fold_threshold[0], 0.525, 1e-12);
    ASSERT_NEAR(r.fold_accuracy[0], 0.75, 0);
    ASSERT_NEAR(r.fold_threshold[1], 0.5, 1e-12);
    ASSERT_NEAR(r.fold_accuracy[1], 1.0, 0);
    ASSERT_NEAR(r.accuracy, 0.875, 0);
    ASSERT_NEAR(r.std, 0.17677669529663687, 1e-12);
    ASSERT_NEAR(r.at_far_1e3.threshold, 0.7, 0);
    ASSERT_NEAR(r.at_far_1e3.far, 0.0, 0);
    ASSERT_NEAR(r.at_far_1e3.tar, 0.75, 0);
    ft_verify_rate rate;
    ASSERT_OK(ft_verify_tar_at_far(it, 8, 1.0, &rate));
    ASSERT(isinf(rate.threshold));
    ASSERT_NEAR(rate.far, 0.5, 0);
    ASSERT_NEAR(rate.tar, 0.75, 0);

    /* all distances of a training set unknown: +inf, accuracy from the
    ** unknown different pairs alone (1 of 2) */
    const ft_verify_item none[] = { { 0, S, NAN }, { 0, D, NAN } };
    double t, acc;
    ASSERT_OK(ft_verify_best_threshold(none, 2, -1, &t, &acc));
    ASSERT(isinf(t));
    ASSERT_NEAR(acc, 0.5, 0);
}

static void test_evaluate_errors(void)
{
    const ft_verify_item it[] = { { 0, S, 0.2 }, { 0, D, 0.8 }, { 1, S, 0.3 }, { 1, D, 0.9 } };
    ft_verify_result r;
    char err[256] = "";
    ASSERT_EQ(ft_verify_evaluate(it, 4, 1, &r, err, sizeof err), FT_EINVAL);
    ASSERT_STR_CONTAINS(err, "folds");
    ASSERT_EQ(ft_verify_evaluate(it, 4, 3, &r, err, sizeof err), FT_EINVAL); /* fold 3 empty */
    ASSERT_STR_CONTAINS(err, "fold 3 has no pairs");
    ASSERT_EQ(ft_verify_evaluate(it, 0, 2, &r, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_verify_evaluate(NULL, 4, 2, &r, err, sizeof err), FT_EINVAL);
    const ft_verify_item bad_fold[] = { { 0, S, 0.2 }, { 5, D, 0.8 } };
    ASSERT_EQ(ft_verify_evaluate(bad_fold, 2, 2, &r, err, sizeof err), FT_EINVAL);
    ASSERT_STR_CONTAINS(err, "fold 5");
    const ft_verify_item minus_inf[] = { { 0, S, -INFINITY }, { 1, D, 0.8 } };
    ASSERT_EQ(ft_verify_evaluate(minus_inf, 2, 2, &r, err, sizeof err), FT_EINVAL);
    const ft_verify_item only_same[] = { { 0, S, 0.2 }, { 1, S, 0.8 } };
    ASSERT_EQ(ft_verify_evaluate(only_same, 2, 2, &r, err, sizeof err), FT_EINVAL);
    double t;
    ASSERT_EQ(ft_verify_best_threshold(it, 4, 0, &t, NULL), FT_OK);
    const ft_verify_item one_fold[] = { { 0, S, 0.2 } };
    ASSERT_EQ(ft_verify_best_threshold(one_fold, 1, 0, &t, NULL), FT_EINVAL); /* none left */
}

/* ------------------------------------------------------------------------ */
/* Metrics                                                                  */
/* ------------------------------------------------------------------------ */

/* a = (3, 4, 0...), b = (4, 3, 0...): euclidean sqrt(1 + 1) = 1.4142136;
** normalised (0.6, 0.8), (0.8, 0.6): sqrt(0.04 + 0.04) = 0.2828427, which is
** sqrt(2 - 2 cos) with cos = 0.96. A scaled copy is at cosine distance 0. */
static void test_metrics(void)
{
    float a[FT_DESCRIPTOR_DIM] = { 3, 4 }, b[FT_DESCRIPTOR_DIM] = { 4, 3 };
    float c[FT_DESCRIPTOR_DIM] = { 6, 8 };
    ASSERT_NEAR(ft_metric_distance(FT_METRIC_EUCLIDEAN, a, b), 1.41421356, 1e-6);
    ASSERT_NEAR(ft_metric_distance(FT_METRIC_COSINE, a, b), 0.28284271, 1e-6);
    ASSERT_NEAR(ft_metric_distance(FT_METRIC_COSINE, a, c), 0.0, 1e-6);
    ASSERT_NEAR(a[0], 3.0, 0); /* inputs untouched */
    ASSERT(isnan(ft_metric_distance((enum ft_metric)7, a, b)));
    ASSERT_STR_CONTAINS(ft_metric_name(FT_METRIC_COSINE), "cosine");
    ASSERT_STR_CONTAINS(ft_metric_name((enum ft_metric)7), "unknown");
}

/* ------------------------------------------------------------------------ */
/* Pairs file                                                               */
/* ------------------------------------------------------------------------ */

/* The real layout (tabs), 2 folds of 2 + 2 pairs, names from LFW. */
static const char real_pairs[] = "2\t2\n"
                                 "Abel_Pacheco\t1\t4\n"
                                 "Akhmed_Zakayev\t1\t3\n"
                                 "Abdel_Madi_Shabneh\t1\tDean_Barker\t1\n"
                                 "Abdel_Madi_Shabneh\t1\tGiancarlo_Fisichella\t1\n"
                                 "Akhmed_Zakayev\t2\t3\n"
                                 "Amber_Tamblyn\t1\t2\n"
                                 "Abdul_Majeed_Shobokshi\t1\tCharles_Cope\t1\n"
                                 "Abdulaziz_Kamilov\t1\tJohn_Bolton\t2\n";

static const char *image_of(const ft_lfw_pairs *p, int pair, int k)
{
    return p->images[p->pairs[pair].image[k]];
}

static void check_real_pairs(const ft_lfw_pairs *p)
{
    ASSERT_EQ(p->n_folds, 2);
    ASSERT_EQ(p->n_folds_file, 2);
    ASSERT_EQ(p->n_per_fold, 2);
    ASSERT_EQ(p->n_pairs, 8);
    /* Abel 1, 4; Akhmed 1, 3; Abdel 1; Dean 1; Giancarlo 1; Akhmed 2 (3 again);
    ** Amber 1, 2; Abdul 1; Charles 1; Abdulaziz 1; John 2: 14 distinct */
    ASSERT_EQ(p->n_images, 14);
    const int same[8] = { 1, 1, 0, 0, 1, 1, 0, 0 };
    for (int i = 0; i < 8; i++) {
        ASSERT_EQ(p->pairs[i].same, same[i]);
        ASSERT_EQ(p->pairs[i].fold, i / 4);
    }
    ASSERT(strcmp(image_of(p, 0, 0), "Abel_Pacheco/Abel_Pacheco_0001.jpg") == 0);
    ASSERT(strcmp(image_of(p, 0, 1), "Abel_Pacheco/Abel_Pacheco_0004.jpg") == 0);
    ASSERT(strcmp(image_of(p, 2, 1), "Dean_Barker/Dean_Barker_0001.jpg") == 0);
    ASSERT(strcmp(image_of(p, 7, 1), "John_Bolton/John_Bolton_0002.jpg") == 0);
    ASSERT_EQ(p->pairs[2].image[0], p->pairs[3].image[0]); /* Abdel 1 once */
    ASSERT_EQ(p->pairs[1].image[1], p->pairs[4].image[1]); /* Akhmed 3 once */
    ASSERT_NE(p->pairs[1].image[0], p->pairs[4].image[0]);
}

static void test_pairs_file(void)
{
    char path[] = "/tmp/ft_test_pairs_XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, real_pairs, sizeof real_pairs - 1), (long long)(sizeof real_pairs - 1));
    close(fd);
    ft_lfw_pairs *p = NULL;
    char err[256] = "";
    int rc = ft_lfw_pairs_load(path, 0, &p, err, sizeof err);
    if (rc != FT_OK) fprintf(stderr, "# %s\n", err);
    ASSERT_OK(rc);
    check_real_pairs(p);
    ASSERT_EQ(p->pairs[2].line, 4);
    ft_lfw_pairs_free(p);

    /* only the first fold */
    ASSERT_OK(ft_lfw_pairs_load(path, 1, &p, err, sizeof err));
    ASSERT_EQ(p->n_folds, 1);
    ASSERT_EQ(p->n_folds_file, 2);
    ASSERT_EQ(p->n_pairs, 4);
    ASSERT_EQ(p->n_images, 7);
    ft_lfw_pairs_free(p);
    unlink(path);

    ASSERT_EQ(ft_lfw_pairs_load(path, 0, &p, err, sizeof err), FT_EIO); /* gone now */
    ASSERT(p == NULL);
    ASSERT_EQ(ft_lfw_pairs_load(path, -1, &p, err, sizeof err), FT_EIO);
}

static void test_pairs_layout_variants(void)
{
    /* spaces, CRLF, blank lines and no final newline give the same pairs */
    const char crlf[] = "2 2\r\n\r\n"
                        "Abel_Pacheco 1 4\r\n"
                        "Akhmed_Zakayev  1\t3\r\n"
                        "Abdel_Madi_Shabneh 1 Dean_Barker 1\r\n"
                        "Abdel_Madi_Shabneh 1 Giancarlo_Fisichella 1\r\n"
                        "\n"
                        "Akhmed_Zakayev 2 3\r\n"
                        "Amber_Tamblyn 1 2\r\n"
                        "Abdul_Majeed_Shobokshi 1 Charles_Cope 1\r\n"
                        "Abdulaziz_Kamilov 1 John_Bolton 2";
    ft_lfw_pairs *p = NULL;
    char err[256] = "";
    int rc = ft_lfw_pairs_parse(crlf, sizeof crlf - 1, "crlf", 0, &p, err, sizeof err);
    if (rc != FT_OK) fprintf(stderr, "# %s\n", err);
    ASSERT_OK(rc);
    check_real_pairs(p);
    ft_lfw_pairs_free(p);
    /* trailing blank lines are fine */
    char text[1024];
    snprintf(text, sizeof text, "%s\n  \n\n", real_pairs);
    ASSERT_OK(ft_lfw_pairs_parse(text, strlen(text), "t", 0, &p, err, sizeof err));
    ft_lfw_pairs_free(p);
}

/* Replaces the first occurrence of from in real_pairs by to, parses it, and
** checks for FT_EFORMAT with "name:LINE:" and want in the message. */
static void expect_bad(const char *from, const char *to, int line, const char *want)
{
    char text[1024];
    const char *at = strstr(real_pairs, from);
    ASSERT(at != NULL);
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - real_pairs), real_pairs, to,
             at + strlen(from));
    ft_lfw_pairs *p = (ft_lfw_pairs *)1;
    char err[256] = "", where[32];
    int rc = ft_lfw_pairs_parse(text, strlen(text), "bad", 0, &p, err, sizeof err);
    if (rc != FT_EFORMAT) fprintf(stderr, "# case %s -> %s: rc %d (%s)\n", from, to, rc, err);
    ASSERT_EQ(rc, FT_EFORMAT);
    ASSERT(p == NULL);
    snprintf(where, sizeof where, "bad:%d:", line);
    ASSERT_STR_CONTAINS(err, where);
    ASSERT_STR_CONTAINS(err, want);
}

static void test_pairs_malformed(void)
{
    expect_bad("2\t2\n", "2\n", 1, "header");
    expect_bad("2\t2\n", "x 2\n", 1, "header");
    expect_bad("2\t2\n", "2 2 2\n", 1, "header");
    expect_bad("2\t2\n", "0 2\n", 1, "header");
    expect_bad("2\t2\n", "1000 1000\n", 1, "promises");
    expect_bad("Abel_Pacheco\t1\t4", "Abel_Pacheco\t1\tX\t4", 2, "same-person pair");
    expect_bad("Abel_Pacheco\t1\t4", "Abel_Pacheco\t1", 2, "same-person pair");
    expect_bad("Abdel_Madi_Shabneh\t1\tDean_Barker\t1", "Abdel_Madi_Shabneh\t1\t1", 4,
               "different-person pair");
    expect_bad("Abel_Pacheco\t1\t4", "Abel_Pacheco\t0\t4", 2, "image number");
    expect_bad("Abel_Pacheco\t1\t4", "Abel_Pacheco\t-1\t4", 2, "image number");
    expect_bad("Abel_Pacheco\t1\t4", "Abel_Pacheco\t1\t10000", 2, "image number");
    expect_bad("Abel_Pacheco\t1\t4", "Abel_Pacheco\t1\t4x", 2, "image number");
    expect_bad("Abel_Pacheco\t1\t4", "Abel_Pacheco\t1\t99999999999999999999", 2, "image number");
    expect_bad("Abel_Pacheco\t1\t4", "../etc\t1\t4", 2, "path separator");
    expect_bad("Abel_Pacheco\t1\t4", "..\t1\t4", 2, "'.' or '..'");
    expect_bad("Abel_Pacheco\t1\t4", "Abel\x01Pacheco\t1\t4", 2, "control");
    expect_bad("Abel_Pacheco\t1\t4", "Abel_Pacheco\t1\t4\t5\t6", 2, "more than 4 fields");
    expect_bad("Dean_Barker\t1", "Abdel_Madi_Shabneh\t2", 4, "same person twice");
    expect_bad("Abdulaziz_Kamilov\t1\tJohn_Bolton\t2\n", "", 8, "ends after 7 of the 8");
    expect_bad("John_Bolton\t2\n", "John_Bolton\t2\nextra\t1\t2\n", 10, "more lines");

    /* a NUL byte inside a line (the text has a length, so NUL is just a byte) */
    char text[1024];
    size_t n = sizeof real_pairs - 1;
    memcpy(text, real_pairs, n);
    text[6] = '\0'; /* inside "Abel_Pacheco" on line 2 */
    ft_lfw_pairs *p = NULL;
    char err[256] = "";
    ASSERT_EQ(ft_lfw_pairs_parse(text, n, "nul", 0, &p, err, sizeof err), FT_EFORMAT);
    ASSERT_STR_CONTAINS(err, "nul:2:");
    ASSERT_EQ(ft_lfw_pairs_parse("", 0, "empty", 0, &p, err, sizeof err), FT_EFORMAT);
    ASSERT_STR_CONTAINS(err, "empty");
    ASSERT_EQ(ft_lfw_pairs_parse(NULL, 0, "null", 0, &p, err, sizeof err), FT_EFORMAT);
    ASSERT_EQ(ft_lfw_pairs_parse("\n\n \n", 4, "blank", 0, &p, err, sizeof err), FT_EFORMAT);
    ASSERT_EQ(ft_lfw_pairs_parse(real_pairs, n, "neg", -1, &p, err, sizeof err), FT_EINVAL);
    /* a truncated last fold is fine when only the earlier folds are read */
    size_t cut = (size_t)(strstr(real_pairs, "Akhmed_Zakayev\t2") - real_pairs) + 5;
    ASSERT_OK(ft_lfw_pairs_parse(real_pairs, cut, "trunc", 1, &p, err, sizeof err));
    ASSERT_EQ(p->n_pairs, 4);
    ft_lfw_pairs_free(p);
    ft_lfw_pairs_free(NULL);
}

/* Every allocation failure is FT_ENOMEM with nothing leaked (LeakSanitizer
** checks the latter under make check). */
static void test_pairs_out_of_memory(void)
{
    int ok = 0;
    for (long n = 0; n < 200 && !ok; n++) {
        ft_lfw_pairs *p = NULL;
        char err[256] = "";
        ft__alloc_fail_after(n);
        int rc =
            ft_lfw_pairs_parse(real_pairs, sizeof real_pairs - 1, "oom", 0, &p, err, sizeof err);
        ft__alloc_fail_after(-1);
        if (rc == FT_OK) {
            check_real_pairs(p);
            ft_lfw_pairs_free(p);
            ok = 1;
        } else {
            ASSERT_EQ(rc, FT_ENOMEM);
            ASSERT(p == NULL);
        }
    }
    ASSERT(ok);
}

/* ------------------------------------------------------------------------ */
/* Calibration                                                              */
/* ------------------------------------------------------------------------ */

/* Impostors 0.5, 0.6, 0.7, 0.8, 0.9 (n = 5, so every distance is a knot);
** genuine 0.3, 0.65. Knot m (m = 1..4) has threshold imp[m] and FMR m/5:
** (0.6, 0.2), (0.7, 0.4), (0.8, 0.6), (0.9, 0.8). FNMR (genuine >= t): at 0.6
** one of two (0.65): 0.5; at 0.7 and above: 0.
** Tail: k = min(max(ceil(0.05), 10), n - 1) = 4 lowest, u = imp[4] = 0.9,
** scale = mean(0.4, 0.3, 0.2, 0.1) = 0.25.
**   threshold(0.4) = 0.7, threshold(0.2) = 0.6 (knots, not extrapolated)
**   fmr(0.75) = exp((log 0.4 + log 0.6) / 2) = sqrt(0.24) = 0.48989795
**   threshold(0.1) = 0.6 + 0.25 * log(0.1 / 0.2) = 0.42671320 (extrapolated)
**   fmr(0.5) = 0.2 * exp(-0.1 / 0.25) = 0.13406401 (extrapolated)
**   fmr(0.95) = 0.8 * exp(0.05 * log(0.8 / 0.6) / 0.1) = 0.8 * sqrt(4/3)
**             = 0.92376043 (extrapolated); fmr(2) = 1 (capped)
**   expected false matches in a gallery of 1000 at 0.7: 1000 * 0.4 = 400 */
static void test_calibration_hand(void)
{
    const double imp[5] = { 0.9, 0.5, 0.7, 0.6, 0.8 }; /* order does not matter */
    const double gen[2] = { 0.65, 0.3 };
    ft_calibration c;
    char err[256] = "";
    ASSERT_OK(
        ft_calibration_from_distances(FT_METRIC_EUCLIDEAN, imp, 5, gen, 2, &c, err, sizeof err));
    ASSERT_EQ(c.n_knots, 4);
    ASSERT_EQ(c.n_impostor, 5);
    ASSERT_EQ(c.n_genuine, 2);
    ASSERT_NEAR(c.knots[0].threshold, 0.6, 0);
    ASSERT_NEAR(c.knots[0].fmr, 0.2, 0);
    ASSERT_NEAR(c.knots[0].fnmr, 0.5, 0);
    ASSERT_NEAR(c.knots[1].fnmr, 0.0, 0);
    ASSERT_NEAR(c.knots[3].threshold, 0.9, 0);
    ASSERT_NEAR(c.knots[3].fmr, 0.8, 0);
    ASSERT_NEAR(c.tail_scale, 0.25, 1e-15);

    double t;
    int ex = -1;
    ASSERT_OK(ft_calibration_threshold(&c, 0.4, &t, &ex));
    ASSERT_NEAR(t, 0.7, 0);
    ASSERT_EQ(ex, 0);
    ASSERT_OK(ft_calibration_threshold(&c, 0.2, &t, &ex));
    ASSERT_NEAR(t, 0.6, 0);
    ASSERT_EQ(ex, 0);
    ASSERT_NEAR(ft_calibration_fmr(&c, 0.75, &ex), 0.48989794855663564, 1e-12);
    ASSERT_EQ(ex, 0);
    ASSERT_OK(ft_calibration_threshold(&c, 0.1, &t, &ex));
    ASSERT_NEAR(t, 0.42671320486001, 1e-12);
    ASSERT_EQ(ex, 1);
    ASSERT_NEAR(ft_calibration_fmr(&c, 0.5, &ex), 0.13406400920712788, 1e-12);
    ASSERT_EQ(ex, 1);
    ASSERT_NEAR(ft_calibration_fmr(&c, 0.95, &ex), 0.9237604307034012, 1e-12);
    ASSERT_EQ(ex, 1);
    ASSERT_NEAR(ft_calibration_fmr(&c, 2.0, &ex), 1.0, 0);
    ASSERT_NEAR(ft_calibration_expected_false_matches(&c, 0.7, 1000, &ex), 400, 1e-9);
    ASSERT_EQ(ex, 0);
    ASSERT_NEAR(ft_calibration_fnmr(&c, 0.6), 0.5, 0);
    ASSERT_NEAR(ft_calibration_fnmr(&c, 0.65), 0.25, 1e-12);
    ASSERT_NEAR(ft_calibration_fnmr(&c, 0.1), 0.5, 0);
    ASSERT_EQ(ft_calibration_threshold(&c, 0.0, &t, &ex), FT_EINVAL);
    ASSERT_EQ(ft_calibration_threshold(&c, 1.5, &t, &ex), FT_EINVAL);
    ASSERT_EQ(ft_calibration_threshold(&c, NAN, &t, &ex), FT_EINVAL);
    ASSERT(isnan(ft_calibration_fmr(&c, NAN, &ex)));

    /* the quantile rule agrees with TAR@FAR's threshold on the same impostors */
    ft_verify_item it[7];
    for (int i = 0; i < 5; i++)
        it[i] = (ft_verify_item){ 0, D, imp[i] };
    it[5] = (ft_verify_item){ 0, S, gen[0] };
    it[6] = (ft_verify_item){ 0, S, gen[1] };
    ft_verify_rate r;
    ASSERT_OK(ft_verify_tar_at_far(it, 7, 0.4, &r));
    ASSERT_NEAR(r.threshold, 0.7, 0);

    /* no genuine list: FNMR unknown */
    ASSERT_OK(
        ft_calibration_from_distances(FT_METRIC_COSINE, imp, 5, NULL, 0, &c, err, sizeof err));
    ASSERT(isnan(c.knots[0].fnmr));
    ASSERT(isnan(ft_calibration_fnmr(&c, 0.7)));
    ASSERT_EQ(c.metric, FT_METRIC_COSINE);
}

/* Unknown impostor distances never match but count in the denominator:
** impostors 0.5, 0.6, 0.7, +inf, NaN: knots (0.6, 1/5), (0.7, 2/5). */
static void test_calibration_unknown_and_errors(void)
{
    const double imp[5] = { 0.5, 0.6, 0.7, INFINITY, NAN };
    ft_calibration c;
    char err[256] = "";
    ASSERT_OK(
        ft_calibration_from_distances(FT_METRIC_EUCLIDEAN, imp, 5, NULL, 0, &c, err, sizeof err));
    ASSERT_EQ(c.n_knots, 2);
    ASSERT_NEAR(c.knots[1].threshold, 0.7, 0);
    ASSERT_NEAR(c.knots[1].fmr, 0.4, 0);

    const double same[3] = { 0.5, 0.5, 0.5 };
    ASSERT_EQ(
        ft_calibration_from_distances(FT_METRIC_EUCLIDEAN, same, 3, NULL, 0, &c, err, sizeof err),
        FT_EINVAL);
    ASSERT_STR_CONTAINS(err, "two distinct");
    const double minus[2] = { 0.5, -INFINITY };
    ASSERT_EQ(
        ft_calibration_from_distances(FT_METRIC_EUCLIDEAN, minus, 2, NULL, 0, &c, err, sizeof err),
        FT_EINVAL);
    /* tied lowest distances: knots skip FMR 0, the tail still fits */
    const double ties[6] = { 0.4, 0.4, 0.4, 0.6, 0.7, 0.8 };
    ASSERT_OK(
        ft_calibration_from_distances(FT_METRIC_EUCLIDEAN, ties, 6, NULL, 0, &c, err, sizeof err));
    ASSERT_NEAR(c.knots[0].threshold, 0.6, 0); /* imp[1] = imp[2] = 0.4 have FMR 0 */
    ASSERT_NEAR(c.knots[0].fmr, 0.5, 0);
    ASSERT(c.tail_scale > 0);

    ft_calibration_knot k[3] = { { 0.4, 1e-4, NAN }, { 0.5, 1e-3, NAN }, { 0.6, 1e-2, NAN } };
    ASSERT_OK(ft_calibration_from_knots(FT_METRIC_EUCLIDEAN, k, 3, 0.03, &c, err, sizeof err));
    ASSERT_EQ(ft_calibration_from_knots(FT_METRIC_EUCLIDEAN, k, 3, 0, &c, err, sizeof err),
              FT_EINVAL);
    ASSERT_EQ(ft_calibration_from_knots(FT_METRIC_EUCLIDEAN, k, 0, 0.03, &c, err, sizeof err),
              FT_EINVAL);
    k[2].threshold = 0.45;
    ASSERT_EQ(ft_calibration_from_knots(FT_METRIC_EUCLIDEAN, k, 3, 0.03, &c, err, sizeof err),
              FT_EINVAL);
    ASSERT_STR_CONTAINS(err, "knot 2");
    k[2].threshold = 0.6;
    k[1].fmr = 0;
    ASSERT_EQ(ft_calibration_from_knots(FT_METRIC_EUCLIDEAN, k, 3, 0.03, &c, err, sizeof err),
              FT_EINVAL);
    k[1].fmr = 1e-3;
    k[0].fnmr = 2;
    ASSERT_EQ(ft_calibration_from_knots(FT_METRIC_EUCLIDEAN, k, 3, 0.03, &c, err, sizeof err),
              FT_EINVAL);
}

/* Deterministic roughly normal values: sum of 12 uniforms (Irwin-Hall). */
static double pseudo_normal(unsigned long long *state)
{
    double s = 0;
    for (int i = 0; i < 12; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        s += (double)(*state >> 11) / 9007199254740992.0;
    }
    return s - 6;
}

/* 20000 impostor distances ~ N(1.0, 0.1): many knots on the 1-2-5 grid.
** FMR is monotone and in [0, 1] over a wide sweep, the threshold map is its
** inverse, the flag is set exactly outside the knots, and at grid rates the
** threshold equals TAR@FAR's (the (floor(r n) + 1)-th smallest impostor). */
static void test_calibration_monotone(void)
{
    enum { N = 20000 };
    double *imp = malloc(N * sizeof *imp);
    ft_verify_item *it = malloc((N + 1) * sizeof *it);
    ASSERT(imp && it);
    unsigned long long st = 42;
    for (int i = 0; i < N; i++) {
        imp[i] = 1.0 + 0.1 * pseudo_normal(&st);
        it[i] = (ft_verify_item){ 0, D, imp[i] };
    }
    it[N] = (ft_verify_item){ 0, S, 0.3 };
    ft_calibration c;
    char err[256] = "";
    ASSERT_OK(
        ft_calibration_from_distances(FT_METRIC_EUCLIDEAN, imp, N, NULL, 0, &c, err, sizeof err));
    ASSERT(c.n_knots >= 10 && c.n_knots <= FT_CALIBRATION_MAX_KNOTS);
    ASSERT_NEAR(c.knots[0].fmr, 1.0 / N, 1e-15);
    double lo = c.knots[0].threshold, hi = c.knots[c.n_knots - 1].threshold;
    double prev = -1;
    for (double t = -1; t <= 3; t += 0.0005) {
        int ex;
        double f = ft_calibration_fmr(&c, t, &ex);
        ASSERT(f >= 0 && f <= 1);
        ASSERT(f >= prev);
        ASSERT_EQ(ex, (t < lo || t > hi) ? 1 : 0);
        prev = f;
        if (f > 1e-300 && f < 1) {
            double back;
            ASSERT_OK(ft_calibration_threshold(&c, f, &back, &ex));
            ASSERT_NEAR(back, t, 1e-9);
        }
    }
    double prev_t = -INFINITY;
    for (double r = 1e-12; r <= 1; r *= 1.1) {
        double t;
        int ex;
        ASSERT_OK(ft_calibration_threshold(&c, r, &t, &ex));
        ASSERT(t >= prev_t);
        ASSERT_EQ(ex, (r < c.knots[0].fmr || r > c.knots[c.n_knots - 1].fmr) ? 1 : 0);
        prev_t = t;
    }
    const double rates[3] = { 1e-3, 1e-2, 1e-1 };
    for (int i = 0; i < 3; i++) {
        ft_verify_rate r;
        double t;
        ASSERT_OK(ft_verify_tar_at_far(it, N + 1, rates[i], &r));
        ASSERT_OK(ft_calibration_threshold(&c, rates[i], &t, NULL));
        ASSERT_NEAR(t, r.threshold, 0);
        ASSERT_NEAR(r.far, rates[i], 1e-15);
    }
    /* 1e-6 is below 1/20000: extrapolated, and below the 1/n knot */
    double t6;
    int ex6;
    ASSERT_OK(ft_calibration_threshold(&c, 1e-6, &t6, &ex6));
    ASSERT_EQ(ex6, 1);
    ASSERT(t6 < lo);
    free(imp);
    free(it);
}

/* The compiled-in default table is a valid calibration, and the one
** documented in src/eval/calibrate.c for the default pipeline
** ("dlib-chip5-mirror"): cosine metric, LFW folds 1-5, every impostor image
** pair; FMR 1e-3 falls between the knots 0.3787 (FMR 0.00099993) and 0.3914.
** The other spaces' tables are valid too and distinct. */
static void test_calibration_default(void)
{
    const ft_calibration *d = ft_calibration_default();
    ASSERT(d != NULL);
    ft_calibration c;
    char err[256] = "";
    int rc = ft_calibration_from_knots(d->metric, d->knots, d->n_knots, d->tail_scale, &c, err,
                                       sizeof err);
    if (rc != FT_OK) fprintf(stderr, "# %s\n", err);
    ASSERT_OK(rc);
    ASSERT_EQ(d->metric, FT_METRIC_COSINE);
    ASSERT_EQ(d->n_impostor, 7255541);
    ASSERT(d->n_knots >= 10);
    double t;
    int ex;
    ASSERT_OK(ft_calibration_threshold(d, 1e-3, &t, &ex));
    ASSERT(t > 0.3787 && t < 0.3915);
    ASSERT_EQ(ex, 0);
    ASSERT_OK(ft_calibration_threshold(d, 1e-6, &t, &ex));
    ASSERT_EQ(ex, 0); /* measured: 7.3 million impostor comparisons */
    ASSERT_OK(ft_calibration_threshold(d, 1e-9, &t, &ex));
    ASSERT_EQ(ex, 1);
    ASSERT(t > 0 && t < d->knots[0].threshold);
    /* 10,000 gallery faces at the FMR-1e-3 threshold: about 10 false matches */
    ASSERT_OK(ft_calibration_threshold(d, 1e-3, &t, NULL));
    ASSERT_NEAR(ft_calibration_expected_false_matches(d, t, 1e4, NULL), 10, 1e-6);
    ASSERT(ft_calibration_for_space("dlib-chip5-mirror") == d);
    const char *others[2] = { "dlib-chip5", "faceapi-chip68" };
    for (int i = 0; i < 2; i++) {
        const ft_calibration *o = ft_calibration_for_space(others[i]);
        ASSERT(o != NULL && o != d);
        ASSERT_OK(ft_calibration_from_knots(o->metric, o->knots, o->n_knots, o->tail_scale, &c,
                                            err, sizeof err));
        ASSERT_OK(ft_calibration_threshold(o, 1e-3, &t, NULL));
        ASSERT(t > 0.384 && t < 0.387); /* 0.3848 and 0.3863: without the mirror */
    }
}

FT_TESTS(FT_TEST(test_two_folds_obvious), FT_TEST(test_misclassified_test_fold), FT_TEST(test_ties),
         FT_TEST(test_tar_at_far), FT_TEST(test_test_pair_at_threshold),
         FT_TEST(test_unknown_distances), FT_TEST(test_evaluate_errors), FT_TEST(test_metrics),
         FT_TEST(test_pairs_file), FT_TEST(test_pairs_layout_variants),
         FT_TEST(test_pairs_malformed), FT_TEST(test_pairs_out_of_memory),
         FT_TEST(test_calibration_hand), FT_TEST(test_calibration_unknown_and_errors),
         FT_TEST(test_calibration_monotone), FT_TEST(test_calibration_default));
