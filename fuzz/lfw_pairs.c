/*
** fuzz/lfw_pairs.c: fuzz target for the LFW pairs.txt parser
** (ft_lfw_pairs_parse, eval/verify.c).
**
** DESIGN
**   The bytes are the text (not NUL-terminated: the parser takes a length).
**   The first byte's low two bits also pick max_folds (0: all, else 1..3),
**   so the early stop after the last wanted fold is reached too. A parsed
**   set is checked against its own invariants: every pair's image indices
**   fall inside the image table.
*/
#include "fuzz.h"

#include "facetrail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    int max_folds = size ? data[0] & 3 : 0;
    ft_lfw_pairs *p = NULL;
    if (ft_lfw_pairs_parse((const char *)data, size, "pairs.txt", max_folds, &p, err, sizeof err) !=
        FT_OK)
        return 0;
    for (int i = 0; i < p->n_pairs; i++)
        for (int k = 0; k < 2; k++)
            if (p->pairs[i].image[k] < 0 || p->pairs[i].image[k] >= p->n_images) abort();
    for (int i = 0; i < p->n_images; i++)
        if (!p->images[i]) abort();
    ft_lfw_pairs_free(p);
    return 0;
}
