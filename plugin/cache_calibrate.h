/* cache_calibrate.h - offline residual profiling for ERTACache (`leap
 * profile`): full-compute sampling of a calibration set, then per setting a
 * lockstep run along the cached path that fits the rectification and the
 * timestep adjustment where they are used. Internal API. */
#ifndef LEAP_CACHE_CALIBRATE_H
#define LEAP_CACHE_CALIBRATE_H

#include "cache_profile.h"
#include "leap.h"

typedef struct lp_cache_calib_cfg {
  int images;              /* calibration images (one batch) */
  const int32_t *labels;   /* [images]; NULL = unconditional */
  uint64_t seed;           /* their initial noise (streams 0..images-1) */
  leap_solver solver;
  leap_schedule_kind schedule;
  double shift, cfg;
  int steps;
  int window;              /* longest reuse run + 1 considered (>= 2) */
  int nlambdas;            /* settings from thresholds ... */
  const double *lambdas;
  int ntargets;            /* ... and from numbers of computed steps */
  const int *targets;
  leap_progress_fn progress; /* called per step of each pass */
  void *progress_user;
} lp_cache_calib_cfg;

/* Profiles the model at the hidden level; fills *out (free with
 * lp_cache_profile_free). */
leap_status lp_cache_calibrate(leap_model *m, const lp_cache_calib_cfg *cfg, lp_cache_profile *out);

/* Reuse schedule of threshold lambda from the pairwise relative errors
 * dist[j * steps + i] (j < i, within the window); returns the computed
 * count. */
int lp_cache_policy_walk(const double *dist, int steps, int window, double lambda, unsigned char *reuse);
/* The lambda whose walk computes closest to target steps (more on a tie). */
double lp_cache_lambda_for(const double *dist, int steps, int window, int target);
/* The TeaCache threshold whose rule, run on the calibration indicators,
 * computes about target steps. */
double lp_cache_tc_threshold_for(const lp_cache_profile *p, int target);
/* Least-squares polynomial fit of degree LP_TC_DEGREE: y ~= poly(x). */
void lp_cache_polyfit(const double *x, const double *y, int n, double *coef);

#endif
