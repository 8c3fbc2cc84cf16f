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
  /* Rectification candidates: shrinkages in (0, 1] toward the identity,
   * tried besides "off" and chosen per setting by cross-validation over
   * `folds` folds of the images (see cache_calibrate.c). nshrink 0 with
   * shrink NULL: the default {0.25, 0.5, 1}; nshrink 0 with shrink set:
   * rectification off (no extra passes). folds 0: min(5, images). */
  int nshrink;
  const double *shrink;
  int folds;
  leap_progress_fn progress; /* called per step of each pass */
  void *progress_user;
} lp_cache_calib_cfg;

/* Profiles the model at the hidden level; fills *out (free with
 * lp_cache_profile_free). */
leap_status lp_cache_calibrate(leap_model *m, const lp_cache_calib_cfg *cfg, lp_cache_profile *out);

/* Rectification statistics of one reused step: per image and hidden channel
 * (channel = l % C) the sums n, x, y, xx, xy of the guided combination
 * w r_cond - (w - 1) r_uncond (branches 2; the residual itself with 1) of
 * the cached (x) and true (y) residuals. x, y: [branches][images][L];
 * st: [images][C][5]. */
void lp_cache_rect_stats(const float *x, const float *y, int images, int branches, double w, int64_t L, int C,
                         double *st);
/* Fold of an image: contiguous blocks, image * folds / images. */
int lp_cache_rect_fold(int image, int images, int folds);
/* y ~= K x + B per channel by least squares from the images whose fold is
 * not `skip` (-1: all images); the identity where x does not vary. */
void lp_cache_rect_fit(const double *st, int images, int C, int folds, int skip, float *K, float *B);
/* The one-standard-error rule over candidates ordered simplest first:
 * score[q * n + b] is candidate q's score (higher is better) on item b.
 * Returns the simplest candidate whose mean score is within one standard
 * error (of the paired per-item differences) of the best candidate's; a
 * candidate other than 0 must also beat candidate 0 on average.
 * mean[q]: mean score; se[q]: standard error of q's paired gain over
 * candidate 0 (0 when n < 2; with one item the rule keeps candidate 0). */
int lp_cache_one_se(const double *score, int ncand, int n, double *mean, double *se);

/* Reuse schedule of threshold lambda from the pairwise relative errors
 * dist[j * steps + i] (j < i, within the window); returns the computed
 * count. */
int lp_cache_policy_walk(const double *dist, int steps, int window, double lambda, unsigned char *reuse);
/* The lambda whose walk computes closest to target steps (more on a tie);
 * -1 when out of memory. */
double lp_cache_lambda_for(const double *dist, int steps, int window, int target);
/* The TeaCache threshold whose rule, run on the calibration indicators,
 * computes about target steps. */
double lp_cache_tc_threshold_for(const lp_cache_profile *p, int target);
/* Least-squares polynomial fit of degree LP_TC_DEGREE: y ~= poly(x). */
void lp_cache_polyfit(const double *x, const double *y, int n, double *coef);

#endif
