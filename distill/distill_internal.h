/* distill_internal.h - the distillation run's insides, shared by the loop
 * (distill_train.c) and its resumable state (distill_state.c). Internal. */
#ifndef LP_DISTILL_INTERNAL_H
#define LP_DISTILL_INTERNAL_H

#include "distill_train.h"
#include "sampler.h"

struct lp_distill {
  lp_distill_cfg cfg;
  char teacher_path[4096];
  lp_trainer *student, *fake;
  float *teacher;           /* [P] the teacher's weights */
  float **path;             /* [n_path][P] the degradation path, 0 = nearest the teacher */
  int n_path;
  int path_recorded;
  lp_tws_f32 *tws_target;   /* forward only, up to 2 * batch rows (guidance) */
  leap_disback_schedule *sched;
  lp_rng rng;
  int B, K, C, H;
  size_t img, P;
  float *z, *x, *xt, *tin, *tt, *vf, *x0f, *x0t, *grad;
  float *xin2, *tin2, *vout2;
  int32_t *y, *y2;
};

#endif
