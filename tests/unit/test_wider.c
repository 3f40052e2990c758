/*
** tests/unit/test_wider.c: the WIDER FACE evaluation (src/eval/wider.c): the
** +1-pixel IoU, VOC AP, the protocol on tiny hand-made cases, the recall by
** face height, the ground-truth / index / predictions parsers (well-formed,
** malformed, every truncation, random corruption) and allocation failures.
**
** DESIGN
**   Every expected number is worked out by hand in the comment above its
**   check (never produced by the code under test). Scores are chosen so that
**   the normalised ones are exact binary fractions (0, 0.25, 0.5, 1), which
**   keeps the threshold at which each detection enters the PR curve exact:
**   thresh_t = 1 - (t + 1) / 1000, so s' = 1 enters at t = 0, s' = 0.5 at
**   t = 499, s' = 0.25 at t = 749 and s' = 0 at t = 999 (the last one).
**   The AP depends only on the sequence of PR points, so each case lists the
**   (precision, recall) points as detections enter in score order.
**   Fixture files are written here under a fresh /tmp folder, in the real
**   layout of wider_face_val_bbx_gt.txt and wider_val_*_gt_index.txt, with
**   made-up names and boxes.
**
** INVARIANTS  (1) temporary files are removed by each test.
**             (2) tests end with no_leaks() (LeakSanitizer under make check).
*/
#include "facetrail.h"

#include "core/core.h"
#include "eval/wider.h"

#include "../harness/test.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
        ft_test_fail(__FILE__, __LINE__, "memory leaked (see the LeakSanitizer report)");
}

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct tmpdir {
    char dir[64];
    char gt[128], idx[3][128], preds[128];
} tmpdir;

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(text, 1, n, f), n);
    ASSERT_EQ(fclose(f), 0);
}

static void write_str(const char *path, const char *text)
{
    write_file(path, text, strlen(text));
}

static void tmp_open(tmpdir *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/ft_test_wider_XXXXXX");
    ASSERT(mkdtemp(t->dir) != NULL);
    static const char *const lv[3] = { "easy", "medium", "hard" };
    char dir[sizeof t->dir]; /* a copy: gcc's -Wrestrict sees t->dir and t->idx as one object */
    memcpy(dir, t->dir, sizeof dir);
    snprintf(t->gt, sizeof t->gt, "%s/gt.txt", dir);
    for (int l = 0; l < 3; l++)
        snprintf(t->idx[l], sizeof t->idx[l], "%s/wider_val_%s_gt_index.txt", dir, lv[l]);
    snprintf(t->preds, sizeof t->preds, "%s/preds.jsonl", dir);
}

static void tmp_close(tmpdir *t)
{
    unlink(t->gt);
    for (int l = 0; l < 3; l++)
        unlink(t->idx[l]);
    unlink(t->preds);
    rmdir(t->dir);
}

/* Writes the four files and loads them; the status, message in err. */
static int load_gt(tmpdir *t, const char *gt, const char *easy, const char *medium,
                   const char *hard, ft_wider_gt **out, char *err, size_t err_len)
{
    write_str(t->gt, gt);
    write_str(t->idx[0], easy);
    write_str(t->idx[1], medium);
    write_str(t->idx[2], hard);
    return ft_wider_gt_load(t->gt, t->dir, out, err, err_len);
}

#define IDX_HEADER "# image<TAB>1-based indices of faces counted at this level\n"

/* ------------------------------------------------------------------------ */
/* IoU and VOC AP                                                           */
/* ------------------------------------------------------------------------ */

static void test_iou_plus_one(void)
{
    /* (0,0,9,9) vs (5,0,9,9): x spans [0,9] and [5,14], y [0,9] both.
    ** +1 convention: areas 10*10 = 100, iw = 9 - 5 + 1 = 5, ih = 10,
    ** inter 50, union 150: IoU 1/3 (without +1 it would be 36/126 = 0.2857). */
    double a[4] = { 0, 0, 9, 9 }, b[4] = { 5, 0, 9, 9 };
    ASSERT_NEAR(ft__wider_iou(a, b), 1.0 / 3.0, 1e-15);
    ASSERT_NEAR(ft__wider_iou(b, a), 1.0 / 3.0, 1e-15);
    ASSERT_NEAR(ft__wider_iou(a, a), 1.0, 0);
    /* touching: (0,0,10,10) has x2 = 10, (10,0,10,10) x1 = 10: iw = 1, ih = 11,
    ** inter 11, areas 121 each, union 231: IoU 1/21 (0 without +1). */
    double c[4] = { 0, 0, 10, 10 }, d[4] = { 10, 0, 10, 10 };
    ASSERT_NEAR(ft__wider_iou(c, d), 1.0 / 21.0, 1e-15);
    /* one pixel apart: iw = 10 - 11 + 1 = 0, no overlap */
    double e[4] = { 11, 0, 10, 10 };
    ASSERT_NEAR(ft__wider_iou(c, e), 0.0, 0);
    /* (0,0,2,2) vs (1,0,2,2): 3x3 boxes, iw 2, ih 3: 6 / (9 + 9 - 6) = 0.5
    ** exactly (1/3 without +1) */
    double f[4] = { 0, 0, 2, 2 }, g[4] = { 1, 0, 2, 2 };
    ASSERT_NEAR(ft__wider_iou(g, f), 0.5, 0);
    /* a degenerate prediction (w = -1: zero +1-width) overlaps nothing */
    double h[4] = { 0, 0, -1, 5 };
    ASSERT_NEAR(ft__wider_iou(h, f), 0.0, 0);
}

static void test_voc_ap(void)
{
    /* rec [0.5, 1], prec [1, 0.5]: mrec [0, .5, 1, 1], mpre [0, 1, .5, 0],
    ** envelope [1, 1, .5, 0]; changes at 0->.5 (x 1) and .5->1 (x .5): 0.75 */
    double rec[2] = { 0.5, 1 }, prec[2] = { 1, 0.5 }, work[8];
    ASSERT_NEAR(ft__wider_voc_ap(rec, prec, 2, work), 0.75, 1e-15);
    /* a dip is filled by the envelope: rec [.25, .5, 1], prec [.5, .25, 1]:
    ** envelope 1 everywhere: AP 1 */
    double rec2[3] = { 0.25, 0.5, 1 }, prec2[3] = { 0.5, 0.25, 1 }, work2[10];
    ASSERT_NEAR(ft__wider_voc_ap(rec2, prec2, 3, work2), 1.0, 1e-15);
    /* recall never moves from 0: AP 0 */
    double rec3[2] = { 0, 0 }, prec3[2] = { 1, 1 };
    ASSERT_NEAR(ft__wider_voc_ap(rec3, prec3, 2, work), 0.0, 0);
}

/* ------------------------------------------------------------------------ */
/* The protocol on hand-made cases                                          */
/* ------------------------------------------------------------------------ */

/* Evaluates dets (image by image, counts in per_image) on all of gt. */
static ft_wider_result run_eval(const ft_wider_gt *gt, const ft_wider_det *dets,
                                const int *per_image)
{
    int n = ft_wider_gt_n_images(gt);
    size_t offsets[16] = { 0 };
    ASSERT(n < 16);
    for (int i = 0; i < n; i++)
        offsets[i + 1] = offsets[i] + (size_t)per_image[i];
    ft_wider_params p = ft_wider_default_params();
    ft_wider_result r;
    char err[256] = "";
    int rc = ft_wider_evaluate(gt, n, dets, offsets, &p, &r, err, sizeof err);
    if (rc != FT_OK) ft_test_fail(__FILE__, __LINE__, "evaluate: %d %s", rc, err);
    return r;
}

static void test_ap_levels_ignored_false_positive(void)
{
    /* One image, three faces: A (easy, medium, hard), B (hard only), C
    ** (medium, hard). Detections, given out of order:
    **   p4 on C exactly,     raw 0.25  -> s' 0
    **   p1 false positive,   raw 0.75  -> s' 1
    **   p3 on B exactly,     raw 0.375 -> s' 0.25
    **   p2 on A exactly,     raw 0.5   -> s' 0.5
    ** (min 0.25, max 0.75: s' = (s - 0.25) / 0.5). Score order p1 p2 p3 p4.
    ** hard (A, B, C count): proposals 1 2 3 4, recalled 0 1 2 3 of 3 faces:
    **   points (0, 0) (1/2, 1/3) (2/3, 2/3) (3/4, 1); envelope 3/4 for all:
    **   AP = 1 * 3/4 = 0.75.
    ** medium (A, C; B ignored): p3 lands on B -> not a proposal.
    **   proposals 1 2 2 3, recalled 0 1 1 2 of 2:
    **   points (0, 0) (1/2, 1/2) (1/2, 1/2) (2/3, 1); envelope 2/3:
    **   AP = 1/2 * 2/3 + 1/2 * 2/3 = 2/3.
    ** easy (A; B, C ignored): proposals 1 2 2 2, recalled 0 1 1 1 of 1:
    **   points (0, 0) (1/2, 1) ...: AP = 1 * 1/2 = 0.5. */
    tmpdir t;
    tmp_open(&t);
    char err[256] = "";
    ft_wider_gt *gt = NULL;
    int rc = load_gt(&t,
                     "e/one.jpg\n3\n"
                     "10 10 20 20 0 0 0 0 0 0 \n"
                     "100 10 20 20 0 0 0 0 0 0 \n"
                     "200 10 20 20 0 0 0 0 0 0 \n",
                     IDX_HEADER "e/one.jpg\t1\n", IDX_HEADER "e/one.jpg\t1 3\n",
                     IDX_HEADER "e/one.jpg\t1 2 3\n", &gt, err, sizeof err);
    if (rc) ft_test_fail(__FILE__, __LINE__, "load: %s", err);
    ft_wider_det d[4] = {
        { { 200, 10, 20, 20 }, 0.25 },
        { { 400, 400, 20, 20 }, 0.75 },
        { { 100, 10, 20, 20 }, 0.375 },
        { { 10, 10, 20, 20 }, 0.5 },
    };
    int per[1] = { 4 };
    ft_wider_result r = run_eval(gt, d, per);
    ASSERT_EQ(r.n_images, 1);
    ASSERT_EQ(r.n_detections, 4);
    ASSERT_EQ(r.faces_easy, 1);
    ASSERT_EQ(r.faces_medium, 2);
    ASSERT_EQ(r.faces_hard, 3);
    ASSERT_NEAR(r.score_min, 0.25, 0);
    ASSERT_NEAR(r.score_max, 0.75, 0);
    ASSERT_NEAR(r.ap_easy, 0.5, 1e-9);
    ASSERT_NEAR(r.ap_medium, 2.0 / 3.0, 1e-9);
    ASSERT_NEAR(r.ap_hard, 0.75, 1e-9);
    ft_wider_gt_destroy(gt);
    tmp_close(&t);
    no_leaks();
}

static void test_duplicate_is_false_positive(void)
{
    /* Faces A (0,0,40,40) and B (100,0,40,40), both at every level.
    **   p1 on A exactly,      raw 0.75 -> s' 1
    **   p2 on A, shifted 2px, raw 0.5  -> s' 0.5 (IoU 39*41 / (2*41*41 - 39*41)
    **                                            = 1599/1763 = 0.907)
    **   p3 on B exactly,      raw 0.25 -> s' 0
    ** p2's best gt is A, already recalled: it stays a proposal (a false
    ** positive). proposals 1 2 3, recalled 1 1 2 of 2:
    **   points (1, 1/2) (1/2, 1/2) (2/3, 1); envelope 1, 2/3, 2/3:
    **   AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    ** (Were the duplicate ignored instead, precision would stay 1: AP 1.) */
    tmpdir t;
    tmp_open(&t);
    char err[256] = "";
    ft_wider_gt *gt = NULL;
    int rc = load_gt(&t, "e/dup.jpg\n2\n0 0 40 40 0 0 0 0 0 0\n100 0 40 40 0 0 0 0 0 0\n",
                     IDX_HEADER "e/dup.jpg\t1 2\n", IDX_HEADER "e/dup.jpg\t1 2\n",
                     IDX_HEADER "e/dup.jpg\t1 2\n", &gt, err, sizeof err);
    if (rc) ft_test_fail(__FILE__, __LINE__, "load: %s", err);
    double shifted[4] = { 2, 0, 40, 40 }, a[4] = { 0, 0, 40, 40 };
    ASSERT(ft__wider_iou(shifted, a) >= 0.5);
    ft_wider_det d[3] = {
        { { 0, 0, 40, 40 }, 0.75 },
        { { 2, 0, 40, 40 }, 0.5 },
        { { 100, 0, 40, 40 }, 0.25 },
    };
    int per[1] = { 3 };
    ft_wider_result r = run_eval(gt, d, per);
    ASSERT_NEAR(r.ap_easy, 5.0 / 6.0, 1e-9);
    ASSERT_NEAR(r.ap_medium, 5.0 / 6.0, 1e-9);
    ASSERT_NEAR(r.ap_hard, 5.0 / 6.0, 1e-9);
    ft_wider_gt_destroy(gt);
    tmp_close(&t);
    no_leaks();
}

static void test_images_without_gt_or_detections(void)
{
    /* Image 1 "a": face A, detections: on A raw 0.5, a false positive raw 0.25.
    ** Image 2 "empty": 0 faces (count 0 + placeholder line), a detection raw
    **   0.75: it sets the normalisation max but the image is skipped, so it
    **   is no false positive.
    ** Image 3 "missed": face B, no detection: skipped, but B still counts.
    ** s' = (s - 0.25) / 0.5: A's 0.5, the false positive 0.
    ** Faces 2 at every level. Image 1: proposals 1 2, recalled 1 1:
    **   thresholds above 0.5 add nothing (precision 0 by choice, recall 0),
    **   then (1, 1/2), then (1/2, 1/2): AP = 1/2 * 1 = 0.5.
    ** (Counting image 2's detection would make it (0, 0), (1/2, 1/2),
    ** (1/3, 1/2): AP 0.25; dropping B from the count would give AP 1.) */
    tmpdir t;
    tmp_open(&t);
    char err[256] = "";
    ft_wider_gt *gt = NULL;
    int rc =
        load_gt(&t,
                "e/a.jpg\n1\n10 10 30 30 0 0 0 0 0 0 \n"
                "e/empty.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n"
                "e/missed.jpg\n1\n10 10 30 30 0 0 0 0 0 0 \n",
                IDX_HEADER "e/a.jpg\t1\ne/empty.jpg\t\ne/missed.jpg\t1\n",
                IDX_HEADER "e/a.jpg\t1\ne/empty.jpg\t\ne/missed.jpg\t1\n",
                IDX_HEADER "e/a.jpg\t1\ne/empty.jpg\t\ne/missed.jpg\t1\n", &gt, err, sizeof err);
    if (rc) ft_test_fail(__FILE__, __LINE__, "load: %s", err);
    ASSERT_EQ(ft_wider_gt_n_images(gt), 3);
    ASSERT_EQ(ft_wider_gt_image(gt, 1)->n_faces, 0);
    ft_wider_det d[3] = {
        { { 10, 10, 30, 30 }, 0.5 },
        { { 300, 300, 30, 30 }, 0.25 },
        { { 10, 10, 30, 30 }, 0.75 },
    };
    int per[3] = { 2, 1, 0 };
    ft_wider_result r = run_eval(gt, d, per);
    ASSERT_EQ(r.faces_hard, 2);
    ASSERT_NEAR(r.score_max, 0.75, 0);
    ASSERT_NEAR(r.ap_easy, 0.5, 1e-9);
    ASSERT_NEAR(r.ap_hard, 0.5, 1e-9);
    /* recall by height: A (h 30) found at raw 0.5 >= 0.5, B (h 30) not: 16-32 px bin 1/2 */
    ASSERT_EQ(r.height[1].faces, 2);
    ASSERT_EQ(r.height[1].matched, 1);
    ASSERT_NEAR(r.height[1].recall, 0.5, 1e-12);
    ASSERT(isnan(r.height[0].recall));
    ft_wider_gt_destroy(gt);
    tmp_close(&t);
    no_leaks();
}

static void test_normalisation_spreads_scores(void)
{
    /* Faces A, B at every level. Raw scores inside one 0.001 threshold step:
    **   p1 on A 0.6003 -> s' 1;  p2 false positive 0.6002 -> s' ~0.5;
    **   p3 on B 0.6001 -> s' 0.
    ** Normalised, they enter one by one: (1, 1/2) (1/2, 1/2) (2/3, 1):
    **   AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    ** Unnormalised, all three would enter at the same threshold (t = 399,
    ** thresh 0.6) as one point (2/3, 1): AP 2/3. */
    tmpdir t;
    tmp_open(&t);
    char err[256] = "";
    ft_wider_gt *gt = NULL;
    int rc = load_gt(&t, "e/n.jpg\n2\n0 0 40 40 0 0 0 0 0 0\n100 0 40 40 0 0 0 0 0 0\n",
                     IDX_HEADER "e/n.jpg\t1 2\n", IDX_HEADER "e/n.jpg\t1 2\n",
                     IDX_HEADER "e/n.jpg\t1 2\n", &gt, err, sizeof err);
    if (rc) ft_test_fail(__FILE__, __LINE__, "load: %s", err);
    ft_wider_det d[3] = {
        { { 0, 0, 40, 40 }, 0.6003 },
        { { 300, 0, 40, 40 }, 0.6002 },
        { { 100, 0, 40, 40 }, 0.6001 },
    };
    int per[1] = { 3 };
    ft_wider_result r = run_eval(gt, d, per);
    ASSERT_NEAR(r.ap_hard, 5.0 / 6.0, 1e-9);

    /* One detection only (max == min): choice (c), s' = 1: the hit gives (1, 1/2):
    ** AP 1/2. */
    int per1[1] = { 1 };
    r = run_eval(gt, d, per1);
    ASSERT_NEAR(r.ap_hard, 0.5, 1e-9);

    /* No detection at all: AP 0, recall 0 in the bins that have faces. */
    int per0[1] = { 0 };
    r = run_eval(gt, NULL, per0);
    ASSERT_NEAR(r.ap_hard, 0.0, 0);
    ASSERT_EQ(r.height[3].faces, 0);
    ASSERT_EQ(r.height[2].faces, 2); /* h = 40 */
    ASSERT_NEAR(r.height[2].recall, 0.0, 0);
    ft_wider_gt_destroy(gt);
    tmp_close(&t);
    no_leaks();
}

static void test_iou_convention_decides_match(void)
{
    /* Face (0,0,2,2) (3x3 with +1); detection (1,0,2,2) raw 0.75: IoU with +1
    ** is 6/12 = 0.5 exactly, a match (>= 0.5); plus a far false positive at
    ** raw 0.25. Points (1, 1) then (1/2, 1): AP 1. Without +1 (IoU 1/3) or with
    ** '>' instead of '>=', AP would be 0. */
    tmpdir t;
    tmp_open(&t);
    char err[256] = "";
    ft_wider_gt *gt = NULL;
    int rc = load_gt(&t, "e/s.jpg\n1\n0 0 2 2 2 0 0 0 0 0\n", IDX_HEADER "e/s.jpg\t1\n",
                     IDX_HEADER "e/s.jpg\t1\n", IDX_HEADER "e/s.jpg\t1\n", &gt, err, sizeof err);
    if (rc) ft_test_fail(__FILE__, __LINE__, "load: %s", err);
    ft_wider_det d[2] = { { { 1, 0, 2, 2 }, 0.75 }, { { 50, 50, 2, 2 }, 0.25 } };
    int per[1] = { 2 };
    ft_wider_result r = run_eval(gt, d, per);
    ASSERT_NEAR(r.ap_hard, 1.0, 1e-9);
    ft_wider_gt_destroy(gt);
    tmp_close(&t);
    no_leaks();
}

static void test_negative_size_boxes_never_match(void)
{
    /* The official wider_face_val_bbx_gt.txt has boxes with a negative width
    ** or height; the official evaluation reads them as given. One image,
    ** three faces:
    **   A (10,10,20,20)   a normal box;
    **   N (100,10,-5,20)  negative width: x2 = 95 < x1 = 100;
    **   H (200,10,20,-3)  negative height: y2 = 7 < y1 = 10.
    ** Levels: easy lists A N (1 2), medium A H (1 3), hard all three.
    ** Detections, raw scores 0.75 / 0.5 / 0.25 -> s' 1 / 0.5 / 0:
    **   p1 (95,10,5,20), N's span with the corners swapped: against N,
    **      iw = min(100, 95) - max(95, 100) + 1 = -4 -> no overlap;
    **   p2 A exactly;
    **   p3 (200,7,20,3), H's span swapped: iw = 21 but
    **      ih = min(10, 7) - max(7, 10) + 1 = -2 -> no overlap.
    ** Each broken box has +1-width (or height) w + 1 <= 0, so iw (or ih) is
    ** at most that and no detection can ever overlap it; it still counts.
    ** Best IoU of p1 and p3 is 0 (< 0.5): both stay proposals at every level.
    ** Proposals 1 2 3, recalled 0 1 1.
    **   easy (2 faces):   (0, 0) (1/2, 1/2) (1/3, 1/2): envelope 1/2 over
    **                     recall 0 -> 1/2: AP = 1/2 * 1/2 = 1/4;
    **   medium (2 faces): the same, AP 1/4;
    **   hard (3 faces):   (0, 0) (1/2, 1/3) (1/3, 1/3): AP = 1/3 * 1/2 = 1/6.
    ** (Dropping the broken boxes from the counts would give AP 1/2 at every
    ** level.) Recall by height at score >= 0.5, hard faces: A and N have
    ** h 20 (16-32 px bin: 2 faces, A found); H's h -3 < 16 falls in the
    ** lowest bin (1 face, not found). */
    double n_box[4] = { 100, 10, -5, 20 }, h_box[4] = { 200, 10, 20, -3 };
    double p1[4] = { 95, 10, 5, 20 }, p3[4] = { 200, 7, 20, 3 };
    ASSERT_NEAR(ft__wider_iou(p1, n_box), 0.0, 0);
    ASSERT_NEAR(ft__wider_iou(p3, h_box), 0.0, 0);
    ASSERT_NEAR(ft__wider_iou(n_box, n_box), 0.0, 0); /* not even with itself */
    ASSERT_NEAR(ft__wider_iou(h_box, h_box), 0.0, 0);
    tmpdir t;
    tmp_open(&t);
    char err[256] = "";
    ft_wider_gt *gt = NULL;
    int rc = load_gt(&t,
                     "e/neg.jpg\n3\n"
                     "10 10 20 20 0 0 0 0 0 0 \n"
                     "100 10 -5 20 0 0 0 0 0 0 \n"
                     "200 10 20 -3 0 0 0 0 0 0 \n",
                     IDX_HEADER "e/neg.jpg\t1 2\n", IDX_HEADER "e/neg.jpg\t1 3\n",
                     IDX_HEADER "e/neg.jpg\t1 2 3\n", &gt, err, sizeof err);
    if (rc) ft_test_fail(__FILE__, __LINE__, "load: %s", err);
    const ft_wider_image *im = ft_wider_gt_image(gt, 0);
    ASSERT_EQ(im->n_faces, 3);
    ASSERT_NEAR(im->faces[1].box[2], -5.0, 0);
    ASSERT_NEAR(im->faces[2].box[3], -3.0, 0);
    ft_wider_det d[3] = {
        { { 95, 10, 5, 20 }, 0.75 },
        { { 10, 10, 20, 20 }, 0.5 },
        { { 200, 7, 20, 3 }, 0.25 },
    };
    int per[1] = { 3 };
    ft_wider_result r = run_eval(gt, d, per);
    ASSERT_EQ(r.faces_easy, 2);
    ASSERT_EQ(r.faces_medium, 2);
    ASSERT_EQ(r.faces_hard, 3);
    ASSERT_NEAR(r.ap_easy, 0.25, 1e-9);
    ASSERT_NEAR(r.ap_medium, 0.25, 1e-9);
    ASSERT_NEAR(r.ap_hard, 1.0 / 6.0, 1e-9);
    ASSERT_EQ(r.height[0].faces, 1);
    ASSERT_EQ(r.height[0].matched, 0);
    ASSERT_EQ(r.height[1].faces, 2);
    ASSERT_EQ(r.height[1].matched, 1);
    ft_wider_gt_destroy(gt);
    tmp_close(&t);
    no_leaks();
}

static void test_recall_by_height(void)
{
    /* Faces (x y w h): 1 h=10, 2 h=20, 3 h=40, 4 h=100, 5 h=16 (not hard),
    ** 6 h=32. Detections (exact boxes): face 1 raw 0.9, face 2 raw 0.4 (below
    ** the operating 0.5), face 4 raw 0.6, face 6 raw 0.5 (== 0.5 counts),
    ** face 5 raw 0.95 (not hard: not counted anywhere).
    ** bins: <16: face 1, 1/1; 16-32: face 2, 0/1 (face 5 excluded);
    **       32-64: faces 3 and 6, 1/2; >=64: face 4, 1/1. */
    tmpdir t;
    tmp_open(&t);
    char err[256] = "";
    ft_wider_gt *gt = NULL;
    int rc = load_gt(&t,
                     "e/h.jpg\n6\n"
                     "0 0 10 10 0 0 0 0 0 0\n"
                     "100 0 20 20 0 0 0 0 0 0\n"
                     "200 0 40 40 0 0 0 0 0 0\n"
                     "300 0 100 100 0 0 0 0 0 0\n"
                     "500 0 16 16 0 0 0 0 0 0\n"
                     "600 0 32 32 0 0 0 0 0 0\n",
                     IDX_HEADER "e/h.jpg\t4\n", IDX_HEADER "e/h.jpg\t3 4 6\n",
                     IDX_HEADER "e/h.jpg\t1 2 3 4 6\n", &gt, err, sizeof err);
    if (rc) ft_test_fail(__FILE__, __LINE__, "load: %s", err);
    ft_wider_det d[5] = {
        { { 0, 0, 10, 10 }, 0.9 },   { { 100, 0, 20, 20 }, 0.4 },  { { 300, 0, 100, 100 }, 0.6 },
        { { 600, 0, 32, 32 }, 0.5 }, { { 500, 0, 16, 16 }, 0.95 },
    };
    int per[1] = { 5 };
    ft_wider_result r = run_eval(gt, d, per);
    ASSERT_NEAR(r.operating_score, 0.5, 0);
    int faces[4] = { 1, 1, 2, 1 }, matched[4] = { 1, 0, 1, 1 };
    double lo[4] = { 0, 16, 32, 64 }, hi[4] = { 16, 32, 64, 0 };
    for (int b = 0; b < 4; b++) {
        ASSERT_EQ(r.height[b].faces, faces[b]);
        ASSERT_EQ(r.height[b].matched, matched[b]);
        ASSERT_NEAR(r.height[b].recall, (double)matched[b] / faces[b], 1e-12);
        ASSERT_NEAR(r.height[b].min_px, lo[b], 0);
        ASSERT_NEAR(r.height[b].max_px, hi[b], 0);
    }
    /* levels: faces 1 / 3 / 5 */
    ASSERT_EQ(r.faces_easy, 1);
    ASSERT_EQ(r.faces_medium, 3);
    ASSERT_EQ(r.faces_hard, 5);

    /* operating score 0.35: face 2 found too */
    ft_wider_params p = ft_wider_default_params();
    p.operating_score = 0.35;
    size_t off[2] = { 0, 5 };
    ASSERT_OK(ft_wider_evaluate(gt, 1, d, off, &p, &r, err, sizeof err));
    ASSERT_EQ(r.height[1].matched, 1);
    ft_wider_gt_destroy(gt);
    tmp_close(&t);
    no_leaks();
}

static void test_operating_points(void)
{
    /* Image "op": faces (x y w h) 1 (0,0,40,40), 2 (100,0,20,20), 3
    ** (200,0,50,50) not at any level, 4 (300,0,60,60), 5 (400,0,35,30):
    ** hard-level faces 1, 2, 4, 5. Image "none": no face, one detection at
    ** 0.95 (skipped, as the protocol skips it). Detections on "op":
    **   a 0.9 on 1 exactly             b 0.8 on 1 shifted 2 px (a second one)
    **   c 0.7 on 2 exactly (h 20)      d 0.6 on 3 (not counted: ignored)
    **   e 0.5 on no face               f 0.4 on 4 exactly
    **   g 0.3 (400,0,35,34) on 5: face 36x31 = 1116 px inside the box's
    **     36x35 = 1260 (+1 convention): IoU 0.886.
    ** score 0.5, all: a b c d e kept: 5 detections, d ignored, a c found,
    **   b e false: precision 2/4, recall 2/4.
    ** score 0.3, all: 7 kept, d ignored, a c f g found, b e false:
    **   precision 4/6, recall 4/4.
    ** score 0.3, >= 32 px: c (h 20) dropped; faces 1 and 4 count (5 is 30
    **   px, 2 is 20 px); a f found, b e false, d g ignored: 6 detections,
    **   precision 2/4, recall 2/2.
    ** score 0.95: nothing on "op": precision undefined (NaN), recall 0/4.
    ** score 0.3, >= 100 px: no face, no detection: both NaN. */
    tmpdir t;
    tmp_open(&t);
    char err[256] = "";
    ft_wider_gt *gt = NULL;
    int rc = load_gt(&t,
                     "e/op.jpg\n5\n"
                     "0 0 40 40 0 0 0 0 0 0\n"
                     "100 0 20 20 0 0 0 0 0 0\n"
                     "200 0 50 50 0 0 0 0 0 0\n"
                     "300 0 60 60 0 0 0 0 0 0\n"
                     "400 0 35 30 0 0 0 0 0 0\n"
                     "e/none.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n",
                     IDX_HEADER "e/op.jpg\t1\ne/none.jpg\t\n",
                     IDX_HEADER "e/op.jpg\t1 4\ne/none.jpg\t\n",
                     IDX_HEADER "e/op.jpg\t1 2 4 5\ne/none.jpg\t\n", &gt, err, sizeof err);
    if (rc) ft_test_fail(__FILE__, __LINE__, "load: %s", err);
    ft_wider_det d[8] = {
        { { 600, 0, 40, 40 }, 0.5 }, { { 0, 0, 40, 40 }, 0.9 },   { { 300, 0, 60, 60 }, 0.4 },
        { { 2, 0, 40, 40 }, 0.8 },   { { 200, 0, 50, 50 }, 0.6 }, { { 100, 0, 20, 20 }, 0.7 },
        { { 400, 0, 35, 34 }, 0.3 }, { { 0, 0, 50, 50 }, 0.95 },
    };
    size_t off[3] = { 0, 7, 8 };
    ft_wider_point pt[5] = {
        { .score = 0.5 },
        { .score = 0.3 },
        { .score = 0.3, .min_height = 32 },
        { .score = 0.95 },
        { .score = 0.3, .min_height = 100 },
    };
    ASSERT_OK(ft_wider_operating_points(gt, 2, d, off, 0.5, pt, 5, err, sizeof err));
    int faces[5] = { 4, 4, 2, 4, 0 }, found[5] = { 2, 4, 2, 0, 0 };
    long long n_det[5] = { 5, 7, 6, 0, 0 }, ign[5] = { 1, 1, 2, 0, 0 }, fp[5] = { 2, 2, 2, 0, 0 };
    double prec[5] = { 0.5, 4.0 / 6.0, 0.5, NAN, NAN }, rec[5] = { 0.5, 1, 1, 0, NAN };
    for (int k = 0; k < 5; k++) {
        ASSERT_EQ(pt[k].faces, faces[k]);
        ASSERT_EQ(pt[k].recalled, found[k]);
        ASSERT_EQ(pt[k].detections, n_det[k]);
        ASSERT_EQ(pt[k].ignored, ign[k]);
        ASSERT_EQ(pt[k].false_positives, fp[k]);
        if (isnan(prec[k]))
            ASSERT(isnan(pt[k].precision));
        else
            ASSERT_NEAR(pt[k].precision, prec[k], 1e-12);
        if (isnan(rec[k]))
            ASSERT(isnan(pt[k].recall));
        else
            ASSERT_NEAR(pt[k].recall, rec[k], 1e-12);
    }
    /* at min_height 0 the faces found are those of recall_by_height at the
    ** same operating score (the same kept detections, the same matching) */
    ft_wider_params wp = ft_wider_default_params();
    ft_wider_result r;
    for (int k = 0; k < 2; k++) {
        wp.operating_score = pt[k].score;
        ASSERT_OK(ft_wider_evaluate(gt, 2, d, off, &wp, &r, err, sizeof err));
        int sum_faces = 0, sum_found = 0;
        for (int b = 0; b < FT_WIDER_N_HEIGHT_BINS; b++) {
            sum_faces += r.height[b].faces;
            sum_found += r.height[b].matched;
        }
        ASSERT_EQ(sum_faces, pt[k].faces);
        ASSERT_EQ(sum_found, pt[k].recalled);
    }
    /* IoU 0.95: b (0.907) no longer matches face 1 (still false) and g
    ** (0.886) matches nothing (false): score 0.3 gives a c f found, b e g
    ** false, d ignored */
    ASSERT_OK(ft_wider_operating_points(gt, 2, d, off, 0.95, pt + 1, 1, err, sizeof err));
    ASSERT_EQ(pt[1].recalled, 3);
    ASSERT_EQ(pt[1].false_positives, 3);
    ASSERT_EQ(pt[1].ignored, 1);
    /* the first image alone: same numbers (the second one added nothing) */
    ASSERT_OK(ft_wider_operating_points(gt, 1, d, off, 0.5, pt, 1, err, sizeof err));
    ASSERT_EQ(pt[0].detections, 5);
    /* no point: nothing to do */
    ASSERT_OK(ft_wider_operating_points(gt, 2, d, off, 0.5, NULL, 0, err, sizeof err));
    /* bad arguments */
    ASSERT_EQ(ft_wider_operating_points(gt, 2, d, off, 0, pt, 1, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_wider_operating_points(gt, 3, d, off, 0.5, pt, 1, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_wider_operating_points(gt, 2, d, off, 0.5, NULL, 1, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_wider_operating_points(NULL, 2, d, off, 0.5, pt, 1, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_wider_operating_points(gt, 2, NULL, off, 0.5, pt, 1, err, sizeof err), FT_EINVAL);
    pt[0].score = NAN;
    ASSERT_EQ(ft_wider_operating_points(gt, 2, d, off, 0.5, pt, 1, err, sizeof err), FT_EINVAL);
    pt[0].score = 0.5;
    d[3].box[2] = INFINITY;
    ASSERT_EQ(ft_wider_operating_points(gt, 2, d, off, 0.5, pt, 1, err, sizeof err), FT_EINVAL);
    ASSERT(strstr(err, "ft_wider_operating_points") != NULL);
    ft_wider_gt_destroy(gt);
    tmp_close(&t);
    no_leaks();
}

static void test_evaluate_bad_arguments(void)
{
    tmpdir t;
    tmp_open(&t);
    char err[256] = "";
    ft_wider_gt *gt = NULL;
    write_str(t.gt, "e/x.jpg\n1\n0 0 10 10 0 0 0 0 0 0\n");
    ASSERT_OK(ft_wider_gt_read(t.gt, &gt, err, sizeof err));
    ft_wider_det d[1] = { { { 0, 0, 10, 10 }, 0.5 } };
    size_t off[2] = { 0, 1 };
    ft_wider_params p = ft_wider_default_params();
    ft_wider_result r;
    /* no index file read yet */
    ASSERT_EQ(ft_wider_evaluate(gt, 1, d, off, &p, &r, err, sizeof err), FT_EINVAL);
    ASSERT_STR_CONTAINS(err, "index");
    write_str(t.idx[0], "e/x.jpg\t1\n");
    for (int l = 0; l < 3; l++)
        ASSERT_OK(ft_wider_gt_read_index(gt, (enum ft_wider_level)l, t.idx[0], err, sizeof err));
    ASSERT_OK(ft_wider_evaluate(gt, 1, d, off, &p, &r, err, sizeof err));
    ASSERT_EQ(ft_wider_evaluate(gt, 2, d, off, &p, &r, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_wider_evaluate(gt, -1, d, off, &p, &r, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_wider_evaluate(NULL, 1, d, off, &p, &r, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_wider_evaluate(gt, 1, NULL, off, &p, &r, err, sizeof err), FT_EINVAL);
    size_t bad_off[2] = { 1, 0 };
    ASSERT_EQ(ft_wider_evaluate(gt, 1, d, bad_off, &p, &r, err, sizeof err), FT_EINVAL);
    d[0].score = NAN;
    ASSERT_EQ(ft_wider_evaluate(gt, 1, d, off, &p, &r, err, sizeof err), FT_EINVAL);
    d[0].score = 0.5;
    d[0].box[2] = INFINITY;
    ASSERT_EQ(ft_wider_evaluate(gt, 1, d, off, &p, &r, err, sizeof err), FT_EINVAL);
    d[0].box[2] = 10;
    p.thresh_num = 0;
    ASSERT_EQ(ft_wider_evaluate(gt, 1, d, off, &p, &r, err, sizeof err), FT_EINVAL);
    p = ft_wider_default_params();
    p.iou_thresh = 0;
    ASSERT_EQ(ft_wider_evaluate(gt, 1, d, off, &p, &r, err, sizeof err), FT_EINVAL);
    ASSERT_EQ(ft_wider_gt_read_index(gt, (enum ft_wider_level)3, t.idx[0], err, sizeof err),
              FT_EINVAL);
    /* zero images: nothing counts */
    p = ft_wider_default_params();
    ASSERT_OK(ft_wider_evaluate(gt, 0, NULL, off, &p, &r, err, sizeof err));
    ASSERT_EQ(r.faces_hard, 0);
    ASSERT_NEAR(r.ap_hard, 0.0, 0);
    ft_wider_gt_destroy(gt);
    ft_wider_gt_destroy(NULL);
    tmp_close(&t);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Parsers                                                                  */
/* ------------------------------------------------------------------------ */

/* The real layout: names "event/file.jpg", face lines with a trailing
** blank, an image without faces (count 0 and a line of zeros). */
static const char real_gt[] = "0--Alpha/0_Alpha_x_1.jpg\n"
                              "3\n"
                              "26 299 10 16 2 0 0 0 2 0 \n"
                              "309 238 21 30 1 0 1 0 0 0 \n"
                              "165 346 3 6 0 0 0 1 0 0 \n"
                              "1--Beta/1_Beta_y_7.jpg\n"
                              "0\n"
                              "0 0 0 0 0 0 0 0 0 0 \n"
                              "1--Beta/1_Beta_y_8.jpg\n"
                              "1\n"
                              "451 197 24 42 0 0 1 0 1 3 \n";
static const char real_easy[] = IDX_HEADER "0--Alpha/0_Alpha_x_1.jpg\t\n"
                                           "1--Beta/1_Beta_y_7.jpg\t\n"
                                           "1--Beta/1_Beta_y_8.jpg\t1\n";
static const char real_medium[] = IDX_HEADER "0--Alpha/0_Alpha_x_1.jpg\t2\n"
                                             "1--Beta/1_Beta_y_7.jpg\t\n"
                                             "1--Beta/1_Beta_y_8.jpg\t1\n";
static const char real_hard[] = IDX_HEADER "1--Beta/1_Beta_y_8.jpg\t1\n" /* any order */
                                           "0--Alpha/0_Alpha_x_1.jpg\t1 2\n"
                                           "1--Beta/1_Beta_y_7.jpg\t\n";

static void test_parse_real_format(void)
{
    tmpdir t;
    tmp_open(&t);
    char err[256] = "";
    ft_wider_gt *gt = NULL;
    int rc = load_gt(&t, real_gt, real_easy, real_medium, real_hard, &gt, err, sizeof err);
    if (rc) ft_test_fail(__FILE__, __LINE__, "load: %s", err);
    ASSERT_EQ(ft_wider_gt_n_images(gt), 3);
    const ft_wider_image *a = ft_wider_gt_image(gt, 0), *b = ft_wider_gt_image(gt, 1),
                         *c = ft_wider_gt_image(gt, 2);
    ASSERT(ft_wider_gt_image(gt, 3) == NULL && ft_wider_gt_image(gt, -1) == NULL);
    ASSERT(strcmp(a->file, "0--Alpha/0_Alpha_x_1.jpg") == 0);
    ASSERT(strcmp(b->file, "1--Beta/1_Beta_y_7.jpg") == 0);
    ASSERT_EQ(a->n_faces, 3);
    ASSERT_EQ(b->n_faces, 0);
    ASSERT_EQ(c->n_faces, 1);
    ASSERT_NEAR(a->faces[1].box[0], 309, 0);
    ASSERT_NEAR(a->faces[1].box[1], 238, 0);
    ASSERT_NEAR(a->faces[1].box[2], 21, 0);
    ASSERT_NEAR(a->faces[1].box[3], 30, 0);
    int attr[6] = { 1, 0, 1, 0, 0, 0 };
    for (int k = 0; k < 6; k++)
        ASSERT_EQ(a->faces[1].attr[k], attr[k]);
    ASSERT_EQ(a->faces[2].attr[3], 1); /* invalid */
    ASSERT_EQ(c->faces[0].attr[5], 3); /* pose */
    /* levels: face a1 hard; a2 medium + hard; a3 none; c1 all */
    ASSERT_EQ(a->faces[0].levels, 1u << FT_WIDER_HARD);
    ASSERT_EQ(a->faces[1].levels, (1u << FT_WIDER_MEDIUM) | (1u << FT_WIDER_HARD));
    ASSERT_EQ(a->faces[2].levels, 0);
    ASSERT_EQ(c->faces[0].levels, 7);
    /* lookups */
    ASSERT_EQ(ft_wider_gt_find(gt, "1--Beta/1_Beta_y_8.jpg"), 2);
    ASSERT_EQ(ft_wider_gt_find(gt, "/data/images/1--Beta/1_Beta_y_8.jpg"), 2);
    ASSERT_EQ(ft_wider_gt_find(gt, "./0--Alpha/0_Alpha_x_1.jpg"), 0);
    ASSERT_EQ(ft_wider_gt_find(gt, "1_Beta_y_8.jpg"), -1);
    ASSERT_EQ(ft_wider_gt_find(gt, "1--Beta/1_Beta_y_8.jpg/"), -1);
    ASSERT_EQ(ft_wider_gt_find(gt, ""), -1);

    /* re-reading a level replaces its marks */
    write_str(t.idx[0], "0--Alpha/0_Alpha_x_1.jpg\t3\n1--Beta/1_Beta_y_7.jpg\n"
                        "1--Beta/1_Beta_y_8.jpg\t\n");
    ASSERT_OK(ft_wider_gt_read_index(gt, FT_WIDER_EASY, t.idx[0], err, sizeof err));
    ASSERT_EQ(a->faces[2].levels, 1u << FT_WIDER_EASY);
    ASSERT_EQ(c->faces[0].levels, 6);
    /* a failing read leaves the marks as they were */
    write_str(t.idx[0], "0--Alpha/0_Alpha_x_1.jpg\t1\n");
    ASSERT_EQ(ft_wider_gt_read_index(gt, FT_WIDER_EASY, t.idx[0], err, sizeof err), FT_EFORMAT);
    ASSERT_EQ(a->faces[0].levels, 1u << FT_WIDER_HARD);
    ASSERT_EQ(a->faces[2].levels, 1u << FT_WIDER_EASY);

    /* CRLF line ends and no final newline are fine */
    ft_wider_gt_destroy(gt);
    gt = NULL;
    write_str(t.gt, "e/a.jpg\r\n1\r\n1 2 3 4 0 0 0 0 0 0\r\ne/b.jpg\r\n0");
    ASSERT_OK(ft_wider_gt_read(t.gt, &gt, err, sizeof err));
    ASSERT_EQ(ft_wider_gt_n_images(gt), 2);
    ASSERT(strcmp(ft_wider_gt_image(gt, 0)->file, "e/a.jpg") == 0);
    ASSERT_EQ(ft_wider_gt_image(gt, 1)->n_faces, 0);
    ft_wider_gt_destroy(gt);
    tmp_close(&t);
    no_leaks();
}

/* ft_wider_gt_read on text: the status, and the message in err. */
static int read_gt_text(tmpdir *t, const char *text, size_t n, char *err, size_t err_len)
{
    write_file(t->gt, text, n);
    ft_wider_gt *gt = NULL;
    int rc = ft_wider_gt_read(t->gt, &gt, err, err_len);
    ASSERT((rc == FT_OK) == (gt != NULL));
    ft_wider_gt_destroy(gt);
    return rc;
}

static void test_gt_malformed(void)
{
    static const struct {
        const char *text;
        const char *message; /* expected in the error */
    } bad[] = {
        { "", "no image" },
        { "\n\n", "no image" },
        { "e/a.jpg\n", "no face count" },
        { "e/a.jpg\nx\n", ":2:" },
        { "e/a.jpg\n-1\n", ":2:" },
        { "e/a.jpg\n2 3\n", ":2:" },
        { "e/a.jpg\n99999999999999999999\n", ":2:" },
        { "e/a.jpg\n1\n", "0 of 1 face lines" },
        { "e/a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n", "1 of 2 face lines" },
        { "e/a.jpg\n1\n1 2 3 4 0 0 0 0 0\n", ":3:" },     /* 9 numbers */
        { "e/a.jpg\n1\n1 2 3 4 0 0 0 0 0 0 0\n", ":3:" }, /* 11 numbers */
        { "e/a.jpg\n1\n1 2 3 x 0 0 0 0 0 0\n", ":3:" },   /* garbage */
        { "e/a.jpg\n1\n1 2 3 nan 0 0 0 0 0 0\n", ":3:" },
        { "e/a.jpg\n1\n1 2 3 4 0.5 0 0 0 0 0\n", "attribute" },
        { "e/a.jpg\n1\n\n", ":3:" }, /* blank inside a record */
        { "e/a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n5 6 7 8 0 0 0 0 0 0\n", ":4:" }, /* extra face */
        { "e/a.jpg\n0\ne/a.jpg\n0\n", "already listed at line 1" },
        { " e/a.jpg\n0\n", ":1:" },
        { "e/a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\ne/b.jpg", "no face count" },
    };
    tmpdir t;
    tmp_open(&t);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        int rc = read_gt_text(&t, bad[i].text, strlen(bad[i].text), err, sizeof err);
        if (rc != FT_EFORMAT)
            ft_test_fail(__FILE__, __LINE__, "case %zu: status %d, expected FT_EFORMAT", i, rc);
        ASSERT_STR_CONTAINS(err, bad[i].message);
        ASSERT_STR_CONTAINS(err, t.gt);
    }
    /* a NUL byte */
    char err[256] = "";
    ASSERT_EQ(read_gt_text(&t, "e/a.jpg\n1\n1 2\0 4 0 0 0 0 0 0\n", 29, err, sizeof err),
              FT_EFORMAT);
    ASSERT_STR_CONTAINS(err, "NUL");
    /* missing file, folder */
    ft_wider_gt *gt = (ft_wider_gt *)&t; /* must be reset to NULL */
    ASSERT_EQ(ft_wider_gt_read("/nonexistent/gt.txt", &gt, err, sizeof err), FT_EIO);
    ASSERT(gt == NULL);
    ASSERT_EQ(ft_wider_gt_read(t.dir, &gt, err, sizeof err), FT_EIO);
    ASSERT_EQ(ft_wider_gt_load(t.gt, "/nonexistent", &gt, err, sizeof err), FT_EFORMAT);
    write_str(t.gt, real_gt);
    ASSERT_EQ(ft_wider_gt_load(t.gt, "/nonexistent", &gt, err, sizeof err), FT_EIO);
    ASSERT_STR_CONTAINS(err, "wider_val_easy_gt_index.txt");
    tmp_close(&t);
    no_leaks();
}

static void test_index_malformed(void)
{
    static const struct {
        const char *text;
        const char *message;
    } bad[] = {
        { "", "has no line" },
        { IDX_HEADER, "has no line" },
        { "0--Alpha/0_Alpha_x_1.jpg\t1\n1--Beta/1_Beta_y_7.jpg\t\n", "1_Beta_y_8.jpg" },
        { "nope.jpg\t1\n", "not in the ground truth" },
        { "0--Alpha/0_Alpha_x_1.jpg\t4\n", "[1, 3]" },
        { "0--Alpha/0_Alpha_x_1.jpg\t0\n", "[1, 3]" },
        { "0--Alpha/0_Alpha_x_1.jpg\t-1\n", "[1, 3]" },
        { "0--Alpha/0_Alpha_x_1.jpg\t1 x\n", "'x'" },
        { "0--Alpha/0_Alpha_x_1.jpg\t1.5\n", "[1, 3]" },
        { "0--Alpha/0_Alpha_x_1.jpg\t2 2\n", "listed twice" },
        { "1--Beta/1_Beta_y_7.jpg\t1\n", "[1, 0]" },
        { "0--Alpha/0_Alpha_x_1.jpg\t1\n0--Alpha/0_Alpha_x_1.jpg\t1\n", "already listed" },
        { "0--Alpha/0_Alpha_x_1.jpg 1 2\n", "not in the ground truth" },
    };
    tmpdir t;
    tmp_open(&t);
    write_str(t.gt, real_gt);
    char err[256] = "";
    ft_wider_gt *gt = NULL;
    ASSERT_OK(ft_wider_gt_read(t.gt, &gt, err, sizeof err));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_str(t.idx[2], bad[i].text);
        int rc = ft_wider_gt_read_index(gt, FT_WIDER_HARD, t.idx[2], err, sizeof err);
        if (rc != FT_EFORMAT)
            ft_test_fail(__FILE__, __LINE__, "case %zu: status %d, expected FT_EFORMAT", i, rc);
        ASSERT_STR_CONTAINS(err, bad[i].message);
    }
    /* nothing was marked by the failures */
    for (int i = 0; i < ft_wider_gt_n_images(gt); i++)
        for (int k = 0; k < ft_wider_gt_image(gt, i)->n_faces; k++)
            ASSERT_EQ(ft_wider_gt_image(gt, i)->faces[k].levels, 0);
    ASSERT_EQ(ft_wider_gt_read_index(gt, FT_WIDER_HARD, "/nonexistent", err, sizeof err), FT_EIO);
    ft_wider_gt_destroy(gt);
    tmp_close(&t);
    no_leaks();
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void test_truncations_and_garbage(void)
{
    /* every prefix of the gt file and of an index file: a clean status, never
    ** a crash; a cut inside a face list is always FT_EFORMAT */
    tmpdir t;
    tmp_open(&t);
    char err[256];
    size_t n = strlen(real_gt);
    for (size_t k = 0; k < n; k++) {
        int rc = read_gt_text(&t, real_gt, k, err, sizeof err);
        ASSERT(rc == FT_OK || rc == FT_EFORMAT);
    }
    size_t cut = (size_t)(strstr(real_gt, "309 238") - real_gt); /* inside image 1's faces */
    ASSERT_EQ(read_gt_text(&t, real_gt, cut, err, sizeof err), FT_EFORMAT);
    ASSERT_STR_CONTAINS(err, "1 of 3 face lines");

    write_str(t.gt, real_gt);
    ft_wider_gt *gt = NULL;
    ASSERT_OK(ft_wider_gt_read(t.gt, &gt, err, sizeof err));
    size_t m = strlen(real_hard);
    for (size_t k = 0; k < m; k++) {
        write_file(t.idx[2], real_hard, k);
        int rc = ft_wider_gt_read_index(gt, FT_WIDER_HARD, t.idx[2], err, sizeof err);
        ASSERT(rc == FT_OK || rc == FT_EFORMAT);
    }
    /* random bytes changed: clean statuses only */
    char buf[sizeof real_gt];
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(buf, real_gt, n);
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips; f++) {
            static const char pool[] = "0123456789 -\n\t\r.xe/\0\377";
            buf[rnd() % n] = pool[rnd() % (sizeof pool - 1)];
        }
        int rc = read_gt_text(&t, buf, n, err, sizeof err);
        ASSERT(rc == FT_OK || rc == FT_EFORMAT);
        memcpy(buf, real_hard, m);
        buf[rnd() % m] = (char)(rnd() & 0xff);
        write_file(t.idx[2], buf, m);
        rc = ft_wider_gt_read_index(gt, FT_WIDER_HARD, t.idx[2], err, sizeof err);
        ASSERT(rc == FT_OK || rc == FT_EFORMAT);
    }
    ft_wider_gt_destroy(gt);
    tmp_close(&t);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Predictions                                                              */
/* ------------------------------------------------------------------------ */

static void test_predictions(void)
{
    tmpdir t;
    tmp_open(&t);
    char err[256] = "";
    ft_wider_gt *gt = NULL;
    int rc = load_gt(&t, real_gt, real_easy, real_medium, real_hard, &gt, err, sizeof err);
    if (rc) ft_test_fail(__FILE__, __LINE__, "load: %s", err);
    /* image 2 (y_8) first, by absolute path; an unknown file; image 0 fails
    ** once, then succeeds on a later line; image 1 (y_7) has no line */
    write_str(t.preds,
              "{\"file\":\"/x/images/1--Beta/1_Beta_y_8.jpg\",\"width\":9,\"faces\":["
              "{\"box\":[451,197,24,42],\"score\":0.9},{\"box\":[1,2,3,4],\"score\":0.125}],"
              "\"ms_detect\":10}\n"
              "\n"
              "{\"file\":\"other/z.jpg\",\"faces\":[{\"box\":[1,2,3,4],\"score\":0.5}]}\n"
              "{\"file\":\"0--Alpha/0_Alpha_x_1.jpg\",\"error\":\"decode failed\"}\n"
              "{\"file\":\"0--Alpha/0_Alpha_x_1.jpg\",\"faces\":[{\"box\":[26,299,10,16],"
              "\"score\":1e-1}],\"ms_detect\":20.5}\n");
    ft_wider_preds p;
    ASSERT_OK(ft_wider_preds_read(t.preds, gt, &p, err, sizeof err));
    ASSERT_EQ(p.n_images, 3);
    ASSERT_EQ(p.n_listed, 2);
    ASSERT_EQ(p.n_unknown, 1);
    ASSERT_EQ(p.n_timed, 2);
    ASSERT_NEAR(p.ms_detect_sum, 30.5, 0);
    ASSERT_EQ(p.offsets[0], 0);
    ASSERT_EQ(p.offsets[1], 1);
    ASSERT_EQ(p.offsets[2], 1);
    ASSERT_EQ(p.offsets[3], 3);
    ASSERT(p.listed[0] && !p.listed[1] && p.listed[2]);
    ASSERT_NEAR(p.dets[0].box[1], 299, 0);
    ASSERT_NEAR(p.dets[0].score, 0.1, 0);
    ASSERT_NEAR(p.dets[1].box[0], 451, 0);
    ASSERT_NEAR(p.dets[2].score, 0.125, 0);
    ft_wider_params wp = ft_wider_default_params();
    ft_wider_result r;
    ASSERT_OK(ft_wider_evaluate(gt, p.n_images, p.dets, p.offsets, &wp, &r, err, sizeof err));
    ASSERT_EQ(r.n_detections, 3);
    ft_wider_preds_fini(&p);
    ft_wider_preds_fini(&p); /* twice is harmless */

    static const struct {
        const char *text;
        const char *message;
    } bad[] = {
        { "{\"file\":\"1--Beta/1_Beta_y_8.jpg\",\"faces\":[]\n", "bad JSON" },
        { "[1,2]\n", "\"file\"" },
        { "{\"faces\":[]}\n", "\"file\"" },
        { "{\"file\":3,\"faces\":[]}\n", "\"file\"" },
        { "{\"file\":\"1--Beta/1_Beta_y_8.jpg\"}\n", "no \"faces\"" },
        { "{\"file\":\"1--Beta/1_Beta_y_8.jpg\",\"faces\":{}}\n", "no \"faces\"" },
        { "{\"file\":\"1--Beta/1_Beta_y_8.jpg\",\"faces\":[{\"box\":[1,2,3],\"score\":1}]}\n",
          "face 1" },
        { "{\"file\":\"1--Beta/1_Beta_y_8.jpg\",\"faces\":[{\"box\":[1,2,3,4]}]}\n", "face 1" },
        { "{\"file\":\"1--Beta/1_Beta_y_8.jpg\",\"faces\":[{\"box\":[1,2,3,4],\"score\":\"1\"}]}\n",
          "face 1" },
        { "{\"file\":\"1--Beta/1_Beta_y_8.jpg\",\"faces\":[{\"box\":[1,2,3,\"4\"],\"score\":1}]}\n",
          "face 1" },
        { "{\"file\":\"1--Beta/1_Beta_y_8.jpg\",\"faces\":[{\"box\":[1,2,3,4],\"score\":1e999}]}\n",
          "" },
        { "{\"file\":\"1--Beta/1_Beta_y_8.jpg\",\"faces\":[]}\n"
          "{\"file\":\"1--Beta/1_Beta_y_8.jpg\",\"faces\":[]}\n",
          "second detection line" },
        { "{\"file\":\"1--Beta/1_Beta_y_8.jpg\",\"error\":\"boom\"}\n", "detector failed" },
        { "{\"file\":\"1--Beta/1_Beta_y_8.jpg\",\"faces\":[]}\nnot json\n", ":2:" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_str(t.preds, bad[i].text);
        memset(&p, 0x55, sizeof p);
        rc = ft_wider_preds_read(t.preds, gt, &p, err, sizeof err);
        if (rc != FT_EFORMAT)
            ft_test_fail(__FILE__, __LINE__, "case %zu: status %d, expected FT_EFORMAT", i, rc);
        ASSERT_STR_CONTAINS(err, bad[i].message);
        ASSERT(p.dets == NULL && p.offsets == NULL && p.listed == NULL);
    }
    write_file(t.preds, "{\"file\":\"a\0\"}\n", 14);
    ASSERT_EQ(ft_wider_preds_read(t.preds, gt, &p, err, sizeof err), FT_EFORMAT);
    ASSERT_EQ(ft_wider_preds_read("/nonexistent.jsonl", gt, &p, err, sizeof err), FT_EIO);
    /* every prefix of a good file: clean statuses */
    const char *good = "{\"file\":\"1--Beta/1_Beta_y_8.jpg\",\"faces\":[{\"box\":[1,2,3,4],"
                       "\"score\":0.5}]}\n{\"file\":\"0--Alpha/0_Alpha_x_1.jpg\",\"faces\":[]}\n";
    for (size_t k = 0; k < strlen(good); k++) {
        write_file(t.preds, good, k);
        rc = ft_wider_preds_read(t.preds, gt, &p, err, sizeof err);
        ASSERT(rc == FT_OK || rc == FT_EFORMAT);
        ft_wider_preds_fini(&p);
    }
    ft_wider_gt_destroy(gt);
    tmp_close(&t);
    no_leaks();
}

/* ------------------------------------------------------------------------ */
/* Allocation failures                                                      */
/* ------------------------------------------------------------------------ */

static void test_alloc_failures(void)
{
    tmpdir t;
    tmp_open(&t);
    char err[256];
    write_str(t.gt, real_gt);
    write_str(t.idx[0], real_easy);
    write_str(t.idx[1], real_medium);
    write_str(t.idx[2], real_hard);
    write_str(t.preds, "{\"file\":\"1--Beta/1_Beta_y_8.jpg\",\"faces\":[{\"box\":[451,197,24,42],"
                       "\"score\":0.9},{\"box\":[1,2,3,4],\"score\":0.2}]}\n");
    int ok = 0;
    for (long k = 0; k < 200 && !ok; k++) {
        ft_wider_gt *gt = NULL;
        ft_wider_preds p;
        ft_wider_result r;
        ft_wider_params wp = ft_wider_default_params();
        ft__alloc_fail_after(k);
        int rc = ft_wider_gt_load(t.gt, t.dir, &gt, err, sizeof err);
        if (rc == FT_OK) {
            rc = ft_wider_preds_read(t.preds, gt, &p, err, sizeof err);
            if (rc == FT_OK) {
                rc = ft_wider_evaluate(gt, p.n_images, p.dets, p.offsets, &wp, &r, err, sizeof err);
                ft_wider_point pt = { .score = 0.5 };
                if (rc == FT_OK)
                    rc = ft_wider_operating_points(gt, p.n_images, p.dets, p.offsets, 0.5, &pt, 1,
                                                   err, sizeof err);
                ft_wider_preds_fini(&p);
            }
        }
        ft__alloc_fail_after(-1);
        if (rc != FT_OK && rc != FT_ENOMEM)
            ft_test_fail(__FILE__, __LINE__, "fail after %ld: status %d (%s)", k, rc, err);
        if (rc == FT_OK) {
            ok = 1;
            ASSERT_NEAR(r.ap_easy, 1.0, 1e-12); /* y_8's face found first: AP 1 */
        }
        ft_wider_gt_destroy(gt);
    }
    ASSERT(ok);
    tmp_close(&t);
    no_leaks();
}

FT_TESTS(FT_TEST(test_iou_plus_one), FT_TEST(test_voc_ap),
         FT_TEST(test_ap_levels_ignored_false_positive), FT_TEST(test_duplicate_is_false_positive),
         FT_TEST(test_images_without_gt_or_detections), FT_TEST(test_normalisation_spreads_scores),
         FT_TEST(test_iou_convention_decides_match), FT_TEST(test_negative_size_boxes_never_match),
         FT_TEST(test_recall_by_height), FT_TEST(test_operating_points),
         FT_TEST(test_evaluate_bad_arguments), FT_TEST(test_parse_real_format),
         FT_TEST(test_gt_malformed), FT_TEST(test_index_malformed),
         FT_TEST(test_truncations_and_garbage), FT_TEST(test_predictions),
         FT_TEST(test_alloc_failures))
