/*
** embed/distance.c: distances between face descriptors.
*/
#include "facetrail.h"

#include <math.h>

float ft_descriptor_distance(const float *a, const float *b)
{
    double s = 0;
    for (int i = 0; i < FT_DESCRIPTOR_DIM; i++) {
        double d = (double)a[i] - b[i];
        s += d * d;
    }
    return (float)sqrt(s);
}

void ft_descriptor_normalize(float *d)
{
    double s = 0;
    for (int i = 0; i < FT_DESCRIPTOR_DIM; i++) s += (double)d[i] * d[i];
    if (s <= 0) return;
    float inv = (float)(1.0 / sqrt(s));
    for (int i = 0; i < FT_DESCRIPTOR_DIM; i++) d[i] *= inv;
}
