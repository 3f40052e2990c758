/*
** fuzz/wider.c: fuzz target for the WIDER FACE readers (eval/wider.c): the
** ground truth (wider_face_val_bbx_gt.txt), a level's index file, the
** JSON Lines predictions, and the evaluation on what they hold.
**
** DESIGN
**   Input layout: ground-truth text, then optionally a NUL byte and the
**   index text, then optionally a NUL byte and the predictions (the readers
**   refuse NUL bytes in a line, so the separator never hides a case). Each
**   part is written to this process's scratch folder (the readers take
**   paths). A ground truth that reads gets the one index file for all three
**   levels (easy, medium, hard alike), and when that reads too, the
**   predictions; when everything reads, ft_wider_evaluate and
**   ft_wider_operating_points run on them with 50 score thresholds, so
**   that an input of a few kilobytes stays fast.
*/
#include "fuzz.h"

#include "facetrail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char gt_path[320], idx_path[320], pred_path[320], err[512];
    const uint8_t *idx, *pred;
    size_t n_gt, n_idx, n_pred;
    ft_fuzz_split(data, size, &n_gt, &idx, &n_idx);
    ft_fuzz_split(idx, n_idx, &n_idx, &pred, &n_pred);
    if (ft_fuzz_write("gt.txt", data, n_gt, gt_path, sizeof gt_path) ||
        ft_fuzz_write("index.txt", idx, n_idx, idx_path, sizeof idx_path) ||
        ft_fuzz_write("preds.jsonl", pred, n_pred, pred_path, sizeof pred_path))
        return 0;
    ft_wider_gt *gt = NULL;
    if (ft_wider_gt_read(gt_path, &gt, err, sizeof err) != FT_OK) return 0;
    int n = ft_wider_gt_n_images(gt);
    for (int i = 0; i < n; i++) {
        const ft_wider_image *im = ft_wider_gt_image(gt, i);
        if (!im || im->n_faces < 0 || (im->n_faces > 0 && !im->faces)) abort();
        if (ft_wider_gt_find(gt, im->file) != i) abort(); /* names are unique */
    }
    int levels = 0;
    for (int l = 0; l < FT_WIDER_N_LEVELS; l++)
        levels +=
            ft_wider_gt_read_index(gt, (enum ft_wider_level)l, idx_path, err, sizeof err) == FT_OK;
    ft_wider_preds p;
    if (levels == FT_WIDER_N_LEVELS &&
        ft_wider_preds_read(pred_path, gt, &p, err, sizeof err) == FT_OK) {
        ft_wider_params wp = ft_wider_default_params();
        wp.thresh_num = 50;
        ft_wider_result r;
        (void)ft_wider_evaluate(gt, n, p.dets, p.offsets, &wp, &r, err, sizeof err);
        ft_wider_point pts[2] = { { .score = 0.5 }, { .score = 0.1, .min_height = 10 } };
        (void)ft_wider_operating_points(gt, n, p.dets, p.offsets, 0.5, pts, 2, err, sizeof err);
        ft_wider_preds_fini(&p);
    }
    ft_wider_gt_destroy(gt);
    return 0;
}
