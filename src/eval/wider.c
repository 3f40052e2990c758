/*
** eval/wider.c: the WIDER FACE face-detection evaluation: the ground-truth and
** difficulty-index parsers, a JSON Lines predictions reader, and the official
** protocol (one AP per level) as WiderFace-Evaluation's evaluation.py (the
** Python port of the official MATLAB tool) computes it.
**
** DESIGN
**   Ground truth: the text of wider_face_val_bbx_gt.txt is read whole and cut
**   into lines in place; image file names point into that buffer, which the
**   ft_wider_gt owns. Faces live in one flat array; each face carries a bit
**   per level, set by that level's index file. A table of file names sorted
**   with strcmp serves the lookups (index files, predictions).
**
**   Evaluation, per image (ft_wider_evaluate, image_eval and img_pr_info of
**   the port):
**     1. scores normalised over ALL detections of the run:
**        s' = (s - min) / (max - min), min starting at 1 and max at 0 as the
**        port's norm_score starts them;
**     2. detections sorted by raw score, descending, stable (as MATLAB's sort);
**     3. for each detection, its best gt by IoU (first of equals), boxes as
**        x2 = x1 + w, y2 = y1 + h, IoU with bbox_overlaps' +1 convention:
**        area = (x2 - x1 + 1) * (y2 - y1 + 1), iw = min(x2) - max(x1) + 1,
**        ih likewise, overlap only when iw > 0 and ih > 0;
**     4. per level, in order: if best IoU >= 0.5: a gt outside the level's
**        list makes the detection "ignored" (proposal -1), else an unrecalled
**        gt is recalled; pred_recall[h] = gts recalled so far;
**     5. thresholds t = 0..999, thresh = 1 - (t + 1) / 1000: with r the last
**        detection with s' >= thresh, add (detections in 0..r not ignored,
**        pred_recall[r]) to the level's curve (nothing when there is none).
**   Images without gt faces or without detections are skipped in 3-5, but
**   their listed faces still count. Then precision = recalled / proposals,
**   recall = recalled / faces, and VOC AP: mrec = [0, rec, 1],
**   mpre = [0, prec, 0], envelope from the right, sum over recall changes.
**   The best-gt search (3) does not depend on the level and is done once.
**
**   Operating points (ft_wider_operating_points): the same steps 2-4 at the
**   hard level on raw scores, for the detections kept at one raw score (and
**   box height), without the normalisation or the thresholds of step 5;
**   faces shorter than the point's min_height join the ignored ones.
**
** CHOICES where the port is undefined (it divides by zero, giving NaN)
**   (a) a threshold with 0 proposals has precision 0 (the port: 0/0 = NaN).
**       This never changes the AP: proposals only grow as the threshold
**       falls, so such thresholds form a prefix where recall is 0 too, and
**       voc_ap never reads precision where recall has not moved from 0.
**   (b) a level with no listed face has AP 0 (the port: NaN).
**   (c) when every detection has the same score (max == min) all normalised
**       scores are 1 (the port: NaN, so AP 0).
**   (d) an image with a face count of 0 has no gt boxes, so it is skipped
**       (its placeholder line of zeros is not a box).
**
** NEGATIVE SIZES
**   The official wider_face_val_bbx_gt.txt holds a few boxes with w < 0 or
**   h < 0. The official evaluation reads them as given, and so does the
**   parser: they are faces like any other (they count at the levels whose
**   index lists them). In bbox_overlaps their +1-pixel width x2 - x1 + 1 =
**   w + 1 is <= 0 for an integer w <= -1, and iw = min(x2) - max(x1) + 1 can
**   never exceed it, so iw <= 0 (likewise ih): such a box overlaps no
**   detection, is never recalled, and lowers recall as in the official
**   numbers. ft__wider_iou returns 0 as soon as iw or ih is <= 0 and
**   divides only by a positive union, so no sign of w or h can crash it. (A box
**   with w = 0 is one pixel wide under the +1 convention and can match, in
**   the official code too.) In the recall-by-height table a negative h
**   falls in the lowest bin.
**
**   The final sum of voc_ap is sequential; numpy's is pairwise, so the two
**   may differ in the last bits (~1e-16).
**
** INVARIANTS  (1) a parser returns FT_OK with everything read, or an error
**                 with "FILE:LINE: reason" and nothing changed or leaked.
**             (2) evaluation is a pure function of (gt, detections, params);
**                 all arithmetic is double, in the port's order of operations
**                 (the build has -ffp-contract=off, so no fused multiply-add).
**             (3) a normalised score is monotone in the raw one, so the
**                 detections with s' >= thresh are a prefix of the sorted list.
** THREADS     No global state; a gt is read-only once its indices are read.
** SEE ALSO    tests/unit/test_wider.c; tools/cmd_eval_wider.c.
*/
#include "eval/wider.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_TEXT_BYTES  (512u * 1024u * 1024u) /* ground truth, index, predictions */
#define MAX_FACES_IMAGE 1000000

static const char *const level_names[FT_WIDER_N_LEVELS] = { "easy", "medium", "hard" };

typedef struct name_ref {
    const char *name;
    int index;
} name_ref;

struct ft_wider_gt {
    int n_images;
    ft_wider_image *images; /* (n_images) */
    ft_wider_face *faces;   /* all faces, image by image */
    size_t n_faces;
    int *line;            /* (n_images) line of each file name in the gt file */
    name_ref *by_name;    /* (n_images) sorted by name */
    unsigned char *text;  /* the gt file, cut into NUL-terminated lines */
    unsigned levels_read; /* bit per level whose index file was read */
};

/* ------------------------------------------------------------------------ */
/* Lines and numbers                                                        */
/* ------------------------------------------------------------------------ */

typedef struct cursor {
    char *p, *end;
    int line; /* number of the line last returned */
} cursor;

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Cuts the next line out of the text in place (NUL-terminated, trailing
** blanks and '\r' dropped) into *s. 1: a line; 0: end of text; -1: the line
** holds a NUL byte. */
static int next_line(cursor *c, char **s)
{
    if (c->p >= c->end) return 0;
    char *b = c->p;
    char *nl = memchr(b, '\n', (size_t)(c->end - b));
    char *e = nl ? nl : c->end;
    c->p = nl ? nl + 1 : c->end;
    c->line++;
    if (memchr(b, '\0', (size_t)(e - b))) return -1;
    *e = '\0';
    while (e > b && is_blank(e[-1]))
        *--e = '\0';
    *s = b;
    return 1;
}

static const char *skip_blanks(const char *s)
{
    while (*s && is_blank(*s))
        s++;
    return s;
}

/* Reads one finite number token at *s (after blanks) into *v, moving *s past
** it. 0, or -1 if there is no token or it is not a whole finite number. */
static int read_number(const char **s, double *v)
{
    const char *p = skip_blanks(*s);
    if (!*p) return -1;
    char *end;
    double x = strtod(p, &end);
    if (end == p || (*end && !is_blank(*end)) || !isfinite(x)) return -1;
    *v = x;
    *s = end;
    return 0;
}

/* Like read_number for a whole decimal integer in [lo, hi]. */
static int read_int(const char **s, long lo, long hi, long *v)
{
    const char *p = skip_blanks(*s);
    if (!*p) return -1;
    const char *q = p + (*p == '-' || *p == '+');
    if (*q < '0' || *q > '9') return -1;
    char *end;
    long x = strtol(p, &end, 10);
    if ((*end && !is_blank(*end)) || x < lo || x > hi) return -1;
    *v = x;
    *s = end;
    return 0;
}

/* Number of whitespace-separated numeric tokens if the whole line is numbers,
** else -1 (0 for an empty line). */
static int count_numbers(const char *s)
{
    int n = 0;
    double v;
    while (*skip_blanks(s)) {
        if (read_number(&s, &v)) return -1;
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Ground truth                                                             */
/* ------------------------------------------------------------------------ */

/* 1 if the next line (looked at, not cut) is 10 numbers: the placeholder an
** image with 0 faces has in the official file. */
static int next_is_placeholder(const cursor *c)
{
    char line[256];
    size_t n = (size_t)(c->end - c->p);
    const char *nl = memchr(c->p, '\n', n);
    if (nl) n = (size_t)(nl - c->p);
    if (n >= sizeof line || memchr(c->p, '\0', n)) return 0;
    memcpy(line, c->p, n);
    line[n] = '\0';
    return count_numbers(line) == 10;
}

static int cmp_name(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->index - y->index;
}

static int find_exact(const ft_wider_gt *gt, const char *name)
{
    size_t lo = 0, hi = (size_t)gt->n_images;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(gt->by_name[mid].name, name);
        if (c == 0) return gt->by_name[mid].index;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void ft_wider_gt_destroy(ft_wider_gt *gt)
{
    if (!gt) return;
    ft__free(gt->images);
    ft__free(gt->faces);
    ft__free(gt->line);
    ft__free(gt->by_name);
    ft__free(gt->text);
    ft__free(gt);
}

/* Grows *v (of *cap elements of size sz) to hold at least need; 0 or -1. */
static int grow(void **v, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2 / sz) return -1;
        c *= 2;
    }
    void *p = ft__realloc(*v, c * sz);
    if (!p) return -1;
    *v = p;
    *cap = c;
    return 0;
}

/* The parse proper: fills gt->images (faces as offsets, fixed up by the
** caller), gt->faces and gt->line from gt->text. */
static int parse_gt(ft_wider_gt *gt, size_t text_len, const char *path, char *err, size_t len,
                    size_t **first_out)
{
    cursor c = { (char *)gt->text, (char *)gt->text + text_len, 0 };
    size_t cap_img = 0, cap_face = 0, cap_first = 0, cap_line = 0;
    size_t *first = NULL;
    char *s;
    int r;
    *first_out = NULL;
#define GT_FAIL(...) return (*first_out = first, ft__errf(err, len, FT_EFORMAT, __VA_ARGS__))
#define GT_NOMEM() \
    return (*first_out = first, ft__errf(err, len, FT_ENOMEM, "%s: out of memory", path))
    for (;;) {
        /* the file line (blank lines between images are allowed) */
        while ((r = next_line(&c, &s)) == 1 && !*s)
            ;
        if (r < 0) GT_FAIL("%s:%d: NUL byte in the line", path, c.line);
        if (r == 0) break;
        if (s[0] == ' ' || s[0] == '\t')
            GT_FAIL("%s:%d: expected an image file name, got a line starting with a blank", path,
                    c.line);
        if (count_numbers(s) > 0)
            GT_FAIL("%s:%d: expected an image file name, got numbers (more face lines than the "
                    "count says?)",
                    path, c.line);
        if (gt->n_images == INT_MAX) GT_FAIL("%s:%d: too many images", path, c.line);
        size_t i = (size_t)gt->n_images;
        if (grow((void **)&gt->images, &cap_img, i + 1, sizeof *gt->images) ||
            grow((void **)&first, &cap_first, i + 1, sizeof *first) ||
            grow((void **)&gt->line, &cap_line, i + 1, sizeof *gt->line))
            GT_NOMEM();
        gt->images[i].file = s;
        gt->images[i].n_faces = 0;
        gt->images[i].faces = NULL;
        gt->line[i] = c.line;
        first[i] = gt->n_faces;
        gt->n_images++;
        int file_line = c.line;

        /* the face count */
        r = next_line(&c, &s);
        if (r < 0) GT_FAIL("%s:%d: NUL byte in the line", path, c.line);
        if (r == 0)
            GT_FAIL("%s:%d: file ends after the image name '%s' (no face count)", path, file_line,
                    gt->images[i].file);
        long n;
        const char *q = s;
        if (read_int(&q, 0, MAX_FACES_IMAGE, &n) || *skip_blanks(q))
            GT_FAIL(
                "%s:%d: expected the face count of '%.100s' (an integer in [0, %d]), got '%.40s'",
                path, c.line, gt->images[i].file, MAX_FACES_IMAGE, s);

        if (n == 0) {
            /* the placeholder line of numbers after a count of 0, if present */
            if (next_is_placeholder(&c) && next_line(&c, &s) != 1)
                GT_FAIL("%s:%d: NUL byte in the line", path, c.line);
            continue;
        }
        if (grow((void **)&gt->faces, &cap_face, gt->n_faces + (size_t)n, sizeof *gt->faces))
            GT_NOMEM();
        for (long k = 0; k < n; k++) {
            r = next_line(&c, &s);
            if (r < 0) GT_FAIL("%s:%d: NUL byte in the line", path, c.line);
            if (r == 0)
                GT_FAIL("%s: file ends inside '%s' (line %d): %ld of %ld face lines", path,
                        gt->images[i].file, file_line, k, n);
            ft_wider_face *f = &gt->faces[gt->n_faces];
            const char *p = s;
            double v[10];
            int t = 0;
            for (; t < 10 && read_number(&p, &v[t]) == 0; t++)
                ;
            if (t < 10 || *skip_blanks(p))
                GT_FAIL("%s:%d: face %ld of '%s': expected 10 numbers (x1 y1 w h blur "
                        "expression illumination invalid occlusion pose), got '%.60s'",
                        path, c.line, k + 1, gt->images[i].file, s);
            /* a negative width or height is kept as given (see NEGATIVE SIZES) */
            for (int a = 0; a < 4; a++)
                f->box[a] = v[a];
            for (int a = 0; a < 6; a++) {
                if (v[4 + a] != floor(v[4 + a]) || fabs(v[4 + a]) > 1e6)
                    GT_FAIL("%s:%d: face %ld of '%s': attribute %d is not a small integer", path,
                            c.line, k + 1, gt->images[i].file, a + 1);
                f->attr[a] = (int)v[4 + a];
            }
            f->levels = 0;
            gt->n_faces++;
        }
        gt->images[i].n_faces = (int)n;
    }
    if (gt->n_images == 0) GT_FAIL("%s: no image in the file", path);
    *first_out = first;
    return FT_OK;
#undef GT_FAIL
#undef GT_NOMEM
}

int ft_wider_gt_read(const char *gt_path, ft_wider_gt **out, char *err, size_t err_len)
{
    if (!out) return ft__errf(err, err_len, FT_EINVAL, "ft_wider_gt_read: out is NULL");
    *out = NULL;
    if (!gt_path) return ft__errf(err, err_len, FT_EINVAL, "ft_wider_gt_read: path is NULL");
    unsigned char *text;
    size_t text_len;
    int rc = ft__read_file(gt_path, MAX_TEXT_BYTES, &text, &text_len, err, err_len);
    if (rc != FT_OK) return rc;
    ft_wider_gt *gt = ft__calloc(1, sizeof *gt);
    if (!gt) {
        ft__free(text);
        return ft__errf(err, err_len, FT_ENOMEM, "%s: out of memory", gt_path);
    }
    gt->text = text;
    size_t *first = NULL;
    rc = parse_gt(gt, text_len, gt_path, err, err_len, &first);
    if (rc == FT_OK) {
        for (int i = 0; i < gt->n_images; i++)
            gt->images[i].faces = gt->images[i].n_faces ? gt->faces + first[i] : NULL;
        gt->by_name = ft__malloc((size_t)gt->n_images * sizeof *gt->by_name);
        if (!gt->by_name) rc = ft__errf(err, err_len, FT_ENOMEM, "%s: out of memory", gt_path);
    }
    ft__free(first);
    if (rc == FT_OK) {
        for (int i = 0; i < gt->n_images; i++)
            gt->by_name[i] = (name_ref){ gt->images[i].file, i };
        qsort(gt->by_name, (size_t)gt->n_images, sizeof *gt->by_name, cmp_name);
        for (int i = 1; i < gt->n_images; i++) {
            if (strcmp(gt->by_name[i - 1].name, gt->by_name[i].name) == 0) {
                rc = ft__errf(err, err_len, FT_EFORMAT,
                              "%s:%d: image '%s' already listed at line %d", gt_path,
                              gt->line[gt->by_name[i].index], gt->by_name[i].name,
                              gt->line[gt->by_name[i - 1].index]);
                break;
            }
        }
    }
    if (rc != FT_OK) {
        ft_wider_gt_destroy(gt);
        return rc;
    }
    *out = gt;
    return FT_OK;
}

int ft_wider_gt_read_index(ft_wider_gt *gt, enum ft_wider_level level, const char *index_path,
                           char *err, size_t err_len)
{
    if (!gt || !index_path)
        return ft__errf(err, err_len, FT_EINVAL, "ft_wider_gt_read_index: NULL argument");
    if ((int)level < 0 || (int)level >= FT_WIDER_N_LEVELS)
        return ft__errf(err, err_len, FT_EINVAL, "ft_wider_gt_read_index: bad level %d",
                        (int)level);
    unsigned char *text;
    size_t text_len;
    int rc = ft__read_file(index_path, MAX_TEXT_BYTES, &text, &text_len, err, err_len);
    if (rc != FT_OK) return rc;
    unsigned char *mark = ft__calloc(gt->n_faces ? gt->n_faces : 1, 1);
    int *listed = ft__calloc((size_t)gt->n_images, sizeof *listed); /* line, 0: not yet */
    if (!mark || !listed) {
        rc = ft__errf(err, err_len, FT_ENOMEM, "%s: out of memory", index_path);
        goto done;
    }
    cursor c = { (char *)text, (char *)text + text_len, 0 };
    char *s;
    int r;
    while ((r = next_line(&c, &s)) != 0) {
        if (r < 0) {
            rc = ft__errf(err, err_len, FT_EFORMAT, "%s:%d: NUL byte in the line", index_path,
                          c.line);
            goto done;
        }
        if (!*s || *s == '#') continue;
        char *tab = strchr(s, '\t');
        const char *idx = "";
        if (tab) {
            *tab = '\0';
            idx = tab + 1;
        }
        int i = find_exact(gt, s);
        if (i < 0) {
            rc = ft__errf(err, err_len, FT_EFORMAT,
                          "%s:%d: image '%.200s' is not in the ground truth (expected "
                          "FILE<TAB>indices)",
                          index_path, c.line, s);
            goto done;
        }
        if (listed[i]) {
            rc = ft__errf(err, err_len, FT_EFORMAT, "%s:%d: image '%s' already listed at line %d",
                          index_path, c.line, s, listed[i]);
            goto done;
        }
        listed[i] = c.line;
        const ft_wider_image *im = &gt->images[i];
        size_t base = im->n_faces ? (size_t)(im->faces - gt->faces) : 0;
        long k;
        while (*skip_blanks(idx)) {
            if (read_int(&idx, 1, im->n_faces, &k)) {
                rc = ft__errf(err, err_len, FT_EFORMAT,
                              "%s:%d: '%s' has %d faces: expected indices in [1, %d], got "
                              "'%.20s'",
                              index_path, c.line, s, im->n_faces, im->n_faces, skip_blanks(idx));
                goto done;
            }
            if (mark[base + (size_t)k - 1]) {
                rc = ft__errf(err, err_len, FT_EFORMAT, "%s:%d: index %ld of '%s' listed twice",
                              index_path, c.line, k, s);
                goto done;
            }
            mark[base + (size_t)k - 1] = 1;
        }
    }
    for (int i = 0; i < gt->n_images; i++) {
        if (!listed[i]) {
            rc = ft__errf(err, err_len, FT_EFORMAT,
                          "%s: image '%s' (line %d of the ground truth) has no line (every image "
                          "needs one, with nothing after the tab if no face counts)",
                          index_path, gt->images[i].file, gt->line[i]);
            goto done;
        }
    }
    unsigned bit = 1u << level;
    for (size_t f = 0; f < gt->n_faces; f++)
        gt->faces[f].levels = (gt->faces[f].levels & ~bit) | (mark[f] ? bit : 0u);
    gt->levels_read |= bit;
done:
    ft__free(mark);
    ft__free(listed);
    ft__free(text);
    return rc;
}

int ft_wider_gt_load(const char *gt_path, const char *index_dir, ft_wider_gt **out, char *err,
                     size_t err_len)
{
    if (!out) return ft__errf(err, err_len, FT_EINVAL, "ft_wider_gt_load: out is NULL");
    *out = NULL;
    if (!index_dir) return ft__errf(err, err_len, FT_EINVAL, "ft_wider_gt_load: index_dir is NULL");
    ft_wider_gt *gt;
    int rc = ft_wider_gt_read(gt_path, &gt, err, err_len);
    if (rc != FT_OK) return rc;
    size_t n = strlen(index_dir) + 64;
    char *path = ft__malloc(n);
    if (!path) {
        ft_wider_gt_destroy(gt);
        return ft__errf(err, err_len, FT_ENOMEM, "out of memory");
    }
    for (int l = 0; l < FT_WIDER_N_LEVELS && rc == FT_OK; l++) {
        snprintf(path, n, "%s/wider_val_%s_gt_index.txt", index_dir, level_names[l]);
        rc = ft_wider_gt_read_index(gt, (enum ft_wider_level)l, path, err, err_len);
    }
    ft__free(path);
    if (rc != FT_OK) {
        ft_wider_gt_destroy(gt);
        return rc;
    }
    *out = gt;
    return FT_OK;
}

int ft_wider_gt_n_images(const ft_wider_gt *gt)
{
    return gt ? gt->n_images : 0;
}

const ft_wider_image *ft_wider_gt_image(const ft_wider_gt *gt, int i)
{
    if (!gt || i < 0 || i >= gt->n_images) return NULL;
    return &gt->images[i];
}

int ft_wider_gt_find(const ft_wider_gt *gt, const char *path)
{
    if (!gt || !path) return -1;
    /* path itself first (a listed "/abs/x.jpg" is found as it is), then what
    ** follows each of its '/' */
    int i = find_exact(gt, path);
    for (const char *p = strchr(path, '/'); i < 0 && p; p = strchr(p + 1, '/'))
        i = find_exact(gt, p + 1);
    return i;
}

/* ------------------------------------------------------------------------ */
/* Evaluation                                                               */
/* ------------------------------------------------------------------------ */

ft_wider_params ft_wider_default_params(void)
{
    ft_wider_params p = { .iou_thresh = 0.5, .thresh_num = 1000, .operating_score = 0.5 };
    return p;
}

double ft__wider_iou(const double pred[4], const double gt[4])
{
    /* boxes as bbox_overlaps gets them: x2 = x1 + w, y2 = y1 + h */
    double px1 = pred[0], py1 = pred[1], px2 = pred[0] + pred[2], py2 = pred[1] + pred[3];
    double qx1 = gt[0], qy1 = gt[1], qx2 = gt[0] + gt[2], qy2 = gt[1] + gt[3];
    double box_area = (qx2 - qx1 + 1) * (qy2 - qy1 + 1);
    double iw = (px2 < qx2 ? px2 : qx2) - (px1 > qx1 ? px1 : qx1) + 1;
    if (!(iw > 0)) return 0.0;
    double ih = (py2 < qy2 ? py2 : qy2) - (py1 > qy1 ? py1 : qy1) + 1;
    if (!(ih > 0)) return 0.0;
    double ua = (px2 - px1 + 1) * (py2 - py1 + 1) + box_area - iw * ih;
    return ua > 0 ? iw * ih / ua : 0.0;
}

double ft__wider_voc_ap(const double *rec, const double *prec, int n, double *work)
{
    /* work: 2 * (n + 2) doubles: mrec = [0, rec, 1], mpre = [0, prec, 0] */
    double *mrec = work, *mpre = work + n + 2;
    mrec[0] = 0.0;
    mpre[0] = 0.0;
    for (int i = 0; i < n; i++) {
        mrec[i + 1] = rec[i];
        mpre[i + 1] = prec[i];
    }
    mrec[n + 1] = 1.0;
    mpre[n + 1] = 0.0;
    for (int i = n + 1; i > 0; i--)
        if (mpre[i] > mpre[i - 1]) mpre[i - 1] = mpre[i];
    double ap = 0.0;
    for (int i = 0; i < n + 1; i++)
        if (mrec[i + 1] != mrec[i]) ap += (mrec[i + 1] - mrec[i]) * mpre[i + 1];
    return ap;
}

typedef struct ranked {
    double score;
    size_t index; /* position in the image's detections */
} ranked;

/* Descending score, then ascending index: a stable descending sort. */
static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int finite_box(const double b[4])
{
    return isfinite(b[0]) && isfinite(b[1]) && isfinite(b[2]) && isfinite(b[3]) &&
           isfinite(b[0] + b[2]) && isfinite(b[1] + b[3]);
}

/* Per-image scratch, sized for the largest image. */
typedef struct scratch {
    ranked *order;        /* (P) detections by score */
    double *norm;         /* (P) normalised scores, in that order */
    double *best_iou;     /* (P) */
    int *best_gt;         /* (P) */
    int *cum_prop;        /* (P) proposals (not ignored) among 0..h */
    int *pred_recall;     /* (P) */
    signed char *state;   /* (G) recall_list: 0, 1 recalled, -1 ignored */
    unsigned char *found; /* (G) height recall: matched at the operating score */
} scratch;

static void scratch_free(scratch *w)
{
    ft__free(w->order);
    ft__free(w->norm);
    ft__free(w->best_iou);
    ft__free(w->best_gt);
    ft__free(w->cum_prop);
    ft__free(w->pred_recall);
    ft__free(w->state);
    ft__free(w->found);
}

static int scratch_alloc(scratch *w, size_t max_p, size_t max_g)
{
    size_t p = max_p ? max_p : 1, g = max_g ? max_g : 1;
    memset(w, 0, sizeof *w);
    w->order = ft__malloc(p * sizeof *w->order);
    w->norm = ft__malloc(p * sizeof *w->norm);
    w->best_iou = ft__malloc(p * sizeof *w->best_iou);
    w->best_gt = ft__malloc(p * sizeof *w->best_gt);
    w->cum_prop = ft__malloc(p * sizeof *w->cum_prop);
    w->pred_recall = ft__malloc(p * sizeof *w->pred_recall);
    w->state = ft__malloc(g);
    w->found = ft__malloc(g);
    if (!w->order || !w->norm || !w->best_iou || !w->best_gt || !w->cum_prop || !w->pred_recall ||
        !w->state || !w->found) {
        scratch_free(w);
        return -1;
    }
    return 0;
}

static const double height_edges[FT_WIDER_N_HEIGHT_BINS + 1] = { 0, 16, 32, 64, 0 };

static int height_bin(double h)
{
    int b = 0;
    while (b < FT_WIDER_N_HEIGHT_BINS - 1 && h >= height_edges[b + 1])
        b++;
    return b;
}

/* The checks ft_wider_evaluate and ft_wider_operating_points share: gt read
** with its three index files, n_images in range, offsets non-decreasing,
** every detection finite. Sets the most detections and faces of one image. */
static int check_detections(const char *fn, const ft_wider_gt *gt, int n_images,
                            const ft_wider_det *dets, const size_t *offsets, size_t *max_p,
                            size_t *max_g, char *err, size_t err_len)
{
    if (n_images < 0 || n_images > gt->n_images)
        return ft__errf(err, err_len, FT_EINVAL, "%s: n_images %d not in [0, %d]", fn, n_images,
                        gt->n_images);
    if (gt->levels_read != (1u << FT_WIDER_N_LEVELS) - 1)
        return ft__errf(err, err_len, FT_EINVAL,
                        "%s: the index files of all three levels must be read first", fn);
    *max_p = *max_g = 0;
    for (int i = 0; i < n_images; i++) {
        if (offsets[i + 1] < offsets[i])
            return ft__errf(err, err_len, FT_EINVAL, "%s: offsets decrease at image %d", fn, i);
        size_t p = offsets[i + 1] - offsets[i];
        if (p > *max_p) *max_p = p;
        if ((size_t)gt->images[i].n_faces > *max_g) *max_g = (size_t)gt->images[i].n_faces;
    }
    if (offsets[n_images] > offsets[0] && !dets)
        return ft__errf(err, err_len, FT_EINVAL, "%s: dets is NULL", fn);
    for (size_t d = offsets[0]; d < offsets[n_images]; d++)
        if (!finite_box(dets[d].box) || !isfinite(dets[d].score))
            return ft__errf(err, err_len, FT_EINVAL,
                            "%s: detection %zu has a non-finite box or score", fn, d);
    return FT_OK;
}

int ft_wider_evaluate(const ft_wider_gt *gt, int n_images, const ft_wider_det *dets,
                      const size_t *offsets, const ft_wider_params *params, ft_wider_result *out,
                      char *err, size_t err_len)
{
    if (!gt || !offsets || !params || !out)
        return ft__errf(err, err_len, FT_EINVAL, "ft_wider_evaluate: NULL argument");
    if (!(params->iou_thresh > 0 && params->iou_thresh <= 1) || params->thresh_num < 1 ||
        params->thresh_num > 1000000 || !isfinite(params->operating_score))
        return ft__errf(err, err_len, FT_EINVAL,
                        "ft_wider_evaluate: bad params (iou_thresh in (0, 1], thresh_num in "
                        "[1, 1000000], finite operating_score)");
    size_t max_p, max_g;
    int rc = check_detections("ft_wider_evaluate", gt, n_images, dets, offsets, &max_p, &max_g, err,
                              err_len);
    if (rc != FT_OK) return rc;

    /* (1) the normalisation range over every detection, as norm_score */
    double smin = 1.0, smax = 0.0;
    for (size_t d = offsets[0]; d < offsets[n_images]; d++) {
        if (dets[d].score < smin) smin = dets[d].score;
        if (dets[d].score > smax) smax = dets[d].score;
    }
    double diff = smax - smin;

    const int T = params->thresh_num;
    scratch w;
    double *pr = ft__calloc((size_t)FT_WIDER_N_LEVELS * (size_t)T * 2, sizeof *pr);
    double *curve = ft__malloc(((size_t)T * 2 + 2 * ((size_t)T + 2)) * sizeof *curve);
    if (!pr || !curve || scratch_alloc(&w, max_p, max_g)) {
        ft__free(pr);
        ft__free(curve);
        return ft__errf(err, err_len, FT_ENOMEM, "ft_wider_evaluate: out of memory");
    }

    memset(out, 0, sizeof *out);
    out->n_images = n_images;
    out->n_detections = (long long)(offsets[n_images] - offsets[0]);
    out->score_min = smin;
    out->score_max = smax;
    out->operating_score = params->operating_score;
    for (int b = 0; b < FT_WIDER_N_HEIGHT_BINS; b++) {
        out->height[b].min_px = height_edges[b];
        out->height[b].max_px = height_edges[b + 1];
    }
    long long count_face[FT_WIDER_N_LEVELS] = { 0 };

    for (int i = 0; i < n_images; i++) {
        const ft_wider_image *im = &gt->images[i];
        const ft_wider_det *d = dets ? dets + offsets[i] : NULL;
        int P = (int)(offsets[i + 1] - offsets[i]);
        int G = im->n_faces;
        for (int g = 0; g < G; g++)
            for (int l = 0; l < FT_WIDER_N_LEVELS; l++)
                count_face[l] += (im->faces[g].levels >> l) & 1u;
        if (G > 0) memset(w.found, 0, (size_t)G);
        if (G > 0 && P > 0) {
            /* (2) sort; (3) best gt of each detection */
            for (int h = 0; h < P; h++)
                w.order[h] = (ranked){ d[h].score, (size_t)h };
            qsort(w.order, (size_t)P, sizeof *w.order, cmp_ranked);
            for (int h = 0; h < P; h++) {
                const ft_wider_det *det = &d[w.order[h].index];
                w.norm[h] = diff != 0 ? (det->score - smin) / diff : 1.0;
                double best = ft__wider_iou(det->box, im->faces[0].box);
                int arg = 0;
                for (int g = 1; g < G; g++) {
                    double o = ft__wider_iou(det->box, im->faces[g].box);
                    if (o > best) {
                        best = o;
                        arg = g;
                    }
                }
                w.best_iou[h] = best;
                w.best_gt[h] = arg;
            }
            /* (4), (5) per level */
            for (int l = 0; l < FT_WIDER_N_LEVELS; l++) {
                memset(w.state, 0, (size_t)G);
                int recalled = 0, proposals = 0;
                for (int h = 0; h < P; h++) {
                    int proposal = 1;
                    if (w.best_iou[h] >= params->iou_thresh) {
                        int g = w.best_gt[h];
                        if (!((im->faces[g].levels >> l) & 1u)) {
                            w.state[g] = -1;
                            proposal = 0;
                        } else if (w.state[g] == 0) {
                            w.state[g] = 1;
                            recalled++;
                        }
                    }
                    proposals += proposal;
                    w.cum_prop[h] = proposals;
                    w.pred_recall[h] = recalled;
                }
                double *lp = pr + (size_t)l * (size_t)T * 2;
                int k = 0; /* detections with norm >= thresh: a prefix (invariant 3) */
                for (int t = 0; t < T; t++) {
                    double thresh = 1.0 - (double)(t + 1) / (double)T;
                    while (k < P && w.norm[k] >= thresh)
                        k++;
                    if (k > 0) {
                        lp[2 * t] += w.cum_prop[k - 1];
                        lp[2 * t + 1] += w.pred_recall[k - 1];
                    }
                }
            }
            /* recall by height at the operating score (same greedy matching) */
            for (int h = 0; h < P && w.order[h].score >= params->operating_score; h++) {
                int g = w.best_gt[h];
                if (w.best_iou[h] >= params->iou_thresh &&
                    ((im->faces[g].levels >> FT_WIDER_HARD) & 1u))
                    w.found[g] = 1;
            }
        }
        for (int g = 0; g < G; g++) {
            if (!((im->faces[g].levels >> FT_WIDER_HARD) & 1u)) continue;
            ft_wider_height_bin *hb = &out->height[height_bin(im->faces[g].box[3])];
            hb->faces++;
            hb->matched += w.found[g];
        }
    }

    /* the curves and AP (dataset_pr_info, voc_ap) */
    double ap[FT_WIDER_N_LEVELS];
    double *prec = curve, *rec = curve + T, *work = curve + 2 * T;
    for (int l = 0; l < FT_WIDER_N_LEVELS; l++) {
        const double *lp = pr + (size_t)l * (size_t)T * 2;
        if (count_face[l] == 0) {
            ap[l] = 0.0; /* choice (b) */
            continue;
        }
        for (int t = 0; t < T; t++) {
            prec[t] = lp[2 * t] > 0 ? lp[2 * t + 1] / lp[2 * t] : 0.0; /* choice (a) */
            rec[t] = lp[2 * t + 1] / (double)count_face[l];
        }
        ap[l] = ft__wider_voc_ap(rec, prec, T, work);
    }
    out->faces_easy = (int)count_face[FT_WIDER_EASY];
    out->faces_medium = (int)count_face[FT_WIDER_MEDIUM];
    out->faces_hard = (int)count_face[FT_WIDER_HARD];
    out->ap_easy = ap[FT_WIDER_EASY];
    out->ap_medium = ap[FT_WIDER_MEDIUM];
    out->ap_hard = ap[FT_WIDER_HARD];
    for (int b = 0; b < FT_WIDER_N_HEIGHT_BINS; b++)
        out->height[b].recall =
            out->height[b].faces ? (double)out->height[b].matched / out->height[b].faces : NAN;

    scratch_free(&w);
    ft__free(pr);
    ft__free(curve);
    return FT_OK;
}

int ft_wider_operating_points(const ft_wider_gt *gt, int n_images, const ft_wider_det *dets,
                              const size_t *offsets, double iou_thresh, ft_wider_point *points,
                              int n_points, char *err, size_t err_len)
{
    const char *fn = "ft_wider_operating_points";
    if (!gt || !offsets || (n_points > 0 && !points) || n_points < 0)
        return ft__errf(err, err_len, FT_EINVAL, "%s: NULL argument", fn);
    if (!(iou_thresh > 0 && iou_thresh <= 1))
        return ft__errf(err, err_len, FT_EINVAL, "%s: iou_thresh %g not in (0, 1]", fn, iou_thresh);
    for (int k = 0; k < n_points; k++)
        if (!isfinite(points[k].score) || !isfinite(points[k].min_height))
            return ft__errf(err, err_len, FT_EINVAL, "%s: point %d: non-finite score or height", fn,
                            k);
    size_t max_p, max_g;
    int rc = check_detections(fn, gt, n_images, dets, offsets, &max_p, &max_g, err, err_len);
    if (rc != FT_OK) return rc;
    scratch w;
    if (scratch_alloc(&w, max_p, max_g))
        return ft__errf(err, err_len, FT_ENOMEM, "%s: out of memory", fn);
    for (int k = 0; k < n_points; k++) {
        ft_wider_point *pt = &points[k];
        pt->faces = pt->recalled = 0;
        pt->detections = pt->ignored = pt->false_positives = 0;
    }

    for (int i = 0; i < n_images; i++) {
        const ft_wider_image *im = &gt->images[i];
        const ft_wider_det *d = dets ? dets + offsets[i] : NULL;
        int P = (int)(offsets[i + 1] - offsets[i]);
        int G = im->n_faces;
        if (G == 0) continue; /* skipped, as the protocol skips it: no face, no proposal */
        /* by raw score, each detection's best face (as ft_wider_evaluate (2), (3)) */
        for (int h = 0; h < P; h++)
            w.order[h] = (ranked){ d[h].score, (size_t)h };
        if (P > 0) qsort(w.order, (size_t)P, sizeof *w.order, cmp_ranked);
        for (int h = 0; h < P; h++) {
            const ft_wider_det *det = &d[w.order[h].index];
            double best = ft__wider_iou(det->box, im->faces[0].box);
            int arg = 0;
            for (int g = 1; g < G; g++) {
                double o = ft__wider_iou(det->box, im->faces[g].box);
                if (o > best) {
                    best = o;
                    arg = g;
                }
            }
            w.best_iou[h] = best;
            w.best_gt[h] = arg;
        }
        for (int k = 0; k < n_points; k++) {
            ft_wider_point *pt = &points[k];
            double H = pt->min_height;
            /* state: 1 a counted face not yet found, 2 found, 0 not counted */
            for (int g = 0; g < G; g++) {
                const ft_wider_face *f = &im->faces[g];
                int counts = ((f->levels >> FT_WIDER_HARD) & 1u) && (H <= 0 || f->box[3] >= H);
                w.state[g] = (signed char)counts;
                pt->faces += counts;
            }
            for (int h = 0; h < P && w.order[h].score >= pt->score; h++) {
                if (H > 0 && !(d[w.order[h].index].box[3] >= H)) continue;
                pt->detections++;
                int g = w.best_gt[h];
                if (w.best_iou[h] < iou_thresh)
                    pt->false_positives++;
                else if (w.state[g] == 0)
                    pt->ignored++;
                else if (w.state[g] == 1) {
                    w.state[g] = 2;
                    pt->recalled++;
                } else
                    pt->false_positives++; /* a second detection of a found face */
            }
        }
    }
    for (int k = 0; k < n_points; k++) {
        ft_wider_point *pt = &points[k];
        long long counted = pt->detections - pt->ignored;
        pt->precision = counted > 0 ? (double)pt->recalled / (double)counted : NAN;
        pt->recall = pt->faces > 0 ? (double)pt->recalled / pt->faces : NAN;
    }
    scratch_free(&w);
    return FT_OK;
}

/* ------------------------------------------------------------------------ */
/* Predictions (JSON Lines)                                                 */
/* ------------------------------------------------------------------------ */

void ft_wider_preds_fini(ft_wider_preds *p)
{
    if (!p) return;
    ft__free(p->dets);
    ft__free(p->offsets);
    ft__free(p->listed);
    memset(p, 0, sizeof *p);
}

enum { SEEN_NONE = 0, SEEN_ERROR = 1, SEEN_OK = 2 };

/* Reads one face object into *det; 0 or -1. */
static int read_face(json_t *face, ft_wider_det *det)
{
    json_t *box = json_object_get(face, "box");
    json_t *score = json_object_get(face, "score");
    if (!json_is_object(face) || !json_is_array(box) || json_array_size(box) != 4 ||
        !json_is_number(score))
        return -1;
    for (size_t k = 0; k < 4; k++) {
        json_t *v = json_array_get(box, k);
        if (!json_is_number(v)) return -1;
        det->box[k] = json_number_value(v);
    }
    det->score = json_number_value(score);
    return finite_box(det->box) && isfinite(det->score) ? 0 : -1;
}

int ft_wider_preds_read(const char *path, const ft_wider_gt *gt, ft_wider_preds *out, char *err,
                        size_t err_len)
{
    if (!out) return ft__errf(err, err_len, FT_EINVAL, "ft_wider_preds_read: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path || !gt)
        return ft__errf(err, err_len, FT_EINVAL, "ft_wider_preds_read: NULL argument");
    unsigned char *text;
    size_t text_len;
    int rc = ft__read_file(path, MAX_TEXT_BYTES, &text, &text_len, err, err_len);
    if (rc != FT_OK) return rc;

    size_t n_img = (size_t)gt->n_images;
    unsigned char *seen = ft__calloc(n_img, 1);
    int *seen_line = ft__calloc(n_img, sizeof *seen_line);
    size_t *start = ft__calloc(n_img, sizeof *start); /* in tmp */
    size_t *count = ft__calloc(n_img, sizeof *count);
    out->offsets = ft__calloc(n_img + 1, sizeof *out->offsets);
    out->listed = ft__calloc(n_img, 1);
    ft_wider_det *tmp = NULL;
    size_t n_tmp = 0, cap_tmp = 0;
    json_t *root = NULL;
    if (!seen || !seen_line || !start || !count || !out->offsets || !out->listed) goto nomem;

    cursor c = { (char *)text, (char *)text + text_len, 0 };
    char *s;
    int r;
    while ((r = next_line(&c, &s)) != 0) {
        if (r < 0) {
            rc = ft__errf(err, err_len, FT_EFORMAT, "%s:%d: NUL byte in the line", path, c.line);
            goto fail;
        }
        if (!*skip_blanks(s)) continue;
        json_error_t jerr;
        root = json_loads(s, 0, &jerr);
        if (!root) {
            rc = ft__errf(err, err_len, FT_EFORMAT, "%s:%d: bad JSON: %s", path, c.line, jerr.text);
            goto fail;
        }
        json_t *file = json_object_get(root, "file");
        if (!json_is_object(root) || !json_is_string(file)) {
            rc = ft__errf(err, err_len, FT_EFORMAT, "%s:%d: expected an object with \"file\"", path,
                          c.line);
            goto fail;
        }
        const char *name = json_string_value(file);
        json_t *faces = json_object_get(root, "faces");
        json_t *error = json_object_get(root, "error");
        if (!error && !json_is_array(faces)) {
            rc = ft__errf(err, err_len, FT_EFORMAT, "%s:%d: '%.200s' has no \"faces\" array", path,
                          c.line, name);
            goto fail;
        }
        int i = ft_wider_gt_find(gt, name);
        if (i < 0) {
            out->n_unknown++;
            json_decref(root);
            root = NULL;
            continue;
        }
        if (error) {
            if (seen[i] == SEEN_NONE) {
                seen[i] = SEEN_ERROR;
                seen_line[i] = c.line;
            }
            json_decref(root);
            root = NULL;
            continue;
        }
        if (seen[i] == SEEN_OK) {
            rc = ft__errf(err, err_len, FT_EFORMAT,
                          "%s:%d: second detection line for '%s' (first at line %d)", path, c.line,
                          gt->images[i].file, seen_line[i]);
            goto fail;
        }
        size_t nf = json_array_size(faces);
        if (grow((void **)&tmp, &cap_tmp, n_tmp + nf, sizeof *tmp)) goto nomem;
        for (size_t k = 0; k < nf; k++) {
            if (read_face(json_array_get(faces, k), &tmp[n_tmp + k])) {
                rc = ft__errf(err, err_len, FT_EFORMAT,
                              "%s:%d: face %zu of '%.200s': expected {\"box\":[x,y,w,h],"
                              "\"score\":s} with finite numbers",
                              path, c.line, k + 1, name);
                goto fail;
            }
        }
        json_t *ms = json_object_get(root, "ms_detect");
        if (json_is_number(ms) && isfinite(json_number_value(ms))) {
            out->ms_detect_sum += json_number_value(ms);
            out->n_timed++;
        }
        seen[i] = SEEN_OK;
        seen_line[i] = c.line;
        start[i] = n_tmp;
        count[i] = nf;
        n_tmp += nf;
        json_decref(root);
        root = NULL;
    }
    for (size_t i = 0; i < n_img; i++) {
        if (seen[i] == SEEN_ERROR) {
            rc = ft__errf(err, err_len, FT_EFORMAT,
                          "%s:%d: the detector failed on '%s' (\"error\" line) and no later line "
                          "has its detections",
                          path, seen_line[i], gt->images[i].file);
            goto fail;
        }
        out->listed[i] = seen[i] == SEEN_OK;
        out->n_listed += out->listed[i];
        out->offsets[i + 1] = out->offsets[i] + count[i];
    }
    out->dets = ft__malloc((n_tmp ? n_tmp : 1) * sizeof *out->dets);
    if (!out->dets) goto nomem;
    for (size_t i = 0; i < n_img; i++)
        if (count[i]) memcpy(out->dets + out->offsets[i], tmp + start[i], count[i] * sizeof *tmp);
    out->n_images = gt->n_images;
    rc = FT_OK;
    goto done;
nomem:
    rc = ft__errf(err, err_len, FT_ENOMEM, "%s: out of memory", path);
fail:
    ft_wider_preds_fini(out);
done:
    json_decref(root);
    ft__free(tmp);
    ft__free(seen);
    ft__free(seen_line);
    ft__free(start);
    ft__free(count);
    ft__free(text);
    return rc;
}
