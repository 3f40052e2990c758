/*
** pipeline/motion.c: a per-cell background model of a fixed camera.
**
** DESIGN
**   The frame is reduced to 16x16-pixel cells of mean grey level (sampled on
**   a 4x4 grid of pixels per cell: cheap). A cell moves when it differs from
**   its background by more than 8 grey levels. The background follows the
**   picture slowly (exponential average, 10% per frame where still, 2% where
**   moving), so that light changes and people who stop are absorbed.
**
** INVARIANTS  (1) after the first frame of a size, every cell counts as
**                 moving (nothing is skipped before the model has seen it).
*/
#include "pipeline/motion.h"

#include <math.h>
#include <string.h>

#define CELL      16
#define THRESHOLD 8.0f

void ft__motion_fini(ft__motion *m)
{
    ft__free(m->bg);
    ft__free(m->moving);
    memset(m, 0, sizeof *m);
}

static float cell_grey(const ft_image *f, int cx, int cy)
{
    float s = 0;
    int n = 0;
    for (int y = cy * CELL + 2; y < (cy + 1) * CELL && y < f->height; y += 4)
        for (int x = cx * CELL + 2; x < (cx + 1) * CELL && x < f->width; x += 4) {
            const uint8_t *p = f->rgb + ((size_t)y * f->width + x) * 3;
            s += 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
            n++;
        }
    return n ? s / n : 0;
}

int ft__motion_update(ft__motion *m, const ft_image *f)
{
    int gw = (f->width + CELL - 1) / CELL, gh = (f->height + CELL - 1) / CELL;
    int fresh = 0;
    if (gw != m->gw || gh != m->gh || !m->bg) {
        ft__motion_fini(m);
        m->bg = ft__malloc((size_t)gw * gh * sizeof *m->bg);
        m->moving = ft__malloc((size_t)gw * gh);
        if (!m->bg || !m->moving) {
            ft__motion_fini(m);
            return FT_ENOMEM;
        }
        m->gw = gw, m->gh = gh, m->cell = CELL;
        fresh = 1;
    }
    for (int cy = 0; cy < gh; cy++)
        for (int cx = 0; cx < gw; cx++) {
            size_t i = (size_t)cy * gw + cx;
            float g = cell_grey(f, cx, cy);
            if (fresh) {
                m->bg[i] = g;
                m->moving[i] = 1;
                continue;
            }
            int mv = fabsf(g - m->bg[i]) > THRESHOLD;
            m->moving[i] = (unsigned char)mv;
            m->bg[i] += (mv ? 0.02f : 0.1f) * (g - m->bg[i]);
        }
    m->frames++;
    return FT_OK;
}

int ft__motion_count(const ft__motion *m, int x, int y, int w, int h)
{
    if (!m->moving) return 1;
    int x0 = x / CELL, y0 = y / CELL, x1 = (x + w - 1) / CELL, y1 = (y + h - 1) / CELL;
    int n = 0;
    for (int cy = y0 < 0 ? 0 : y0; cy <= y1 && cy < m->gh; cy++)
        for (int cx = x0 < 0 ? 0 : x0; cx <= x1 && cx < m->gw; cx++)
            n += m->moving[(size_t)cy * m->gw + cx];
    return n;
}
