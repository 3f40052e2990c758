/*
** eval/eval.h: helpers shared by the verification protocol (verify.c) and
** the calibration (calibrate.c), private to the library.
*/
#ifndef FT_EVAL_H
#define FT_EVAL_H

#include <stddef.h>

/* How many of the sorted values v[0..n) are < t. */
size_t ft__eval_count_below(const double *v, size_t n, double t);

/* The largest m with m / n <= rate (n > 0, rate in (0, 1]), free of the
** rounding of rate * n (0.29 * 100 = 28.999...). */
size_t ft__eval_allowed_count(double rate, size_t n);

#endif
