/*
** engine/engine.h: engine internals for the video pipeline.
*/
#ifndef FT_ENGINE_H
#define FT_ENGINE_H

#include "facetrail.h"

/* Which parts of a small-face-mode detection to run: the whole-image pass
** (full) and the tiles for which want() returns non-zero (want NULL: all). */
typedef struct ft__detect_plan {
    int full;
    int (*want)(int x, int y, int w, int h, void *ctx);
    void *ctx;
} ft__detect_plan;

/* ft_engine_detect with a plan (NULL: everything). */
int ft__engine_detect_plan(ft_engine *eng, const ft_image *img, const ft_detect_params *p,
                           const ft__detect_plan *plan, ft_face *faces, int cap, int *n_out);

#endif
