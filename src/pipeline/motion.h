/*
** pipeline/motion.h: where a fixed camera's picture changes, so that the
** small-face tiles run only where someone moves.
*/
#ifndef FT_MOTION_H
#define FT_MOTION_H

#include "core/core.h"

typedef struct ft__motion {
    int cell;        /* cell side in pixels */
    int gw, gh;      /* grid size */
    float *bg;       /* (gh, gw) background grey level per cell */
    unsigned char *moving; /* (gh, gw) 1 where the frame differs from the background */
    int frames;
} ft__motion;

/* Updates the background with frame and marks the moving cells. The first
** frame (or a change of size) marks every cell moving. FT_ENOMEM. */
int ft__motion_update(ft__motion *m, const ft_image *frame);
/* Moving cells inside the pixel rectangle (x, y, w, h). */
int ft__motion_count(const ft__motion *m, int x, int y, int w, int h);
void ft__motion_fini(ft__motion *m);

#endif
