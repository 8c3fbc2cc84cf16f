/* disback_schedule.h - which degradation-path checkpoint is the
 * distribution-matching target at each iteration of DisBack's backtracking
 * stage (the struct behind leap_disback_schedule). */
#ifndef LP_DISBACK_SCHEDULE_H
#define LP_DISBACK_SCHEDULE_H

#include "leap.h"

struct leap_disback_schedule {
  leap_disback_schedule_desc d;
  int stage;        /* 0 = most degraded checkpoint ... n_checkpoints = teacher */
  int64_t iter;     /* iterations observed in all */
  int64_t in_stage; /* iterations observed in this stage */
  double *window;   /* [2 * window] last fake-score losses of this stage, ring */
  int64_t *first_iter; /* [n_checkpoints + 1] iteration each stage began (-1: not yet) */
};

#endif
