/* disback_schedule.c - DisBack's target scheduler.
 *
 * The degradation path is recorded teacher -> initial student: checkpoint 0
 * is the first saved (closest to the teacher), n-1 the most degraded.
 * Backtracking distils towards them in reverse: stage s (0..n) targets
 * checkpoint n-1-s, and stage n targets the teacher, where the run stays.
 * Every stage is visited once and in order; the reference code's switch
 * fired once and never again, which is what the stage counter rules out. */
#include "disback_schedule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "struct_size.h"

leap_disback_schedule_desc leap_disback_schedule_desc_default(void) {
  leap_disback_schedule_desc d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.n_checkpoints = 0;
  d.rule = LEAP_DISBACK_SWITCH_INTERVAL;
  d.interval = 500;
  d.window = 50;
  d.tolerance = 0.02;
  d.min_iters = 100;
  d.max_iters = 0;
  return d;
}

static leap_status copy_desc(const leap_disback_schedule_desc *in, leap_disback_schedule_desc *out) {
  if (!in) return lp_error(LEAP_ERR_INVALID_ARG, "disback schedule: desc is NULL");
  if (in->struct_size < offsetof(leap_disback_schedule_desc, max_iters) + sizeof in->max_iters)
    return lp_error(LEAP_ERR_INVALID_ARG, "disback schedule: struct_size %u is too small",
                    (unsigned)in->struct_size);
  *out = leap_disback_schedule_desc_default();
  leap_status s = lp_struct_in(out, sizeof *out, in, "disback schedule desc");
  if (s) return s;
  if (out->n_checkpoints < 0 || out->n_checkpoints > 100000)
    return lp_error(LEAP_ERR_INVALID_ARG, "disback schedule: n_checkpoints %d is outside 0..100000",
                    out->n_checkpoints);
  if (out->rule == LEAP_DISBACK_SWITCH_INTERVAL) {
    if (out->interval < 1)
      return lp_error(LEAP_ERR_INVALID_ARG, "disback schedule: interval %d must be >= 1",
                      out->interval);
  } else if (out->rule == LEAP_DISBACK_SWITCH_CONVERGED) {
    if (out->window < 1 || out->window > 1000000)
      return lp_error(LEAP_ERR_INVALID_ARG, "disback schedule: window %d is outside 1..1000000",
                      out->window);
    if (!(out->tolerance > 0) || !isfinite(out->tolerance))
      return lp_error(LEAP_ERR_INVALID_ARG, "disback schedule: tolerance must be finite and > 0");
    if (out->min_iters < 2 * (int64_t)out->window)
      return lp_error(LEAP_ERR_INVALID_ARG,
                      "disback schedule: min_iters %d must be >= 2 * window (%d): convergence "
                      "compares two windows of the stage's own losses",
                      out->min_iters, 2 * out->window);
    if (out->max_iters < 0 || (out->max_iters > 0 && out->max_iters < out->min_iters))
      return lp_error(LEAP_ERR_INVALID_ARG,
                      "disback schedule: max_iters %d must be 0 (no cap) or >= min_iters %d",
                      out->max_iters, out->min_iters);
  } else {
    return lp_error(LEAP_ERR_INVALID_ARG, "disback schedule: unknown switch rule %d", (int)out->rule);
  }
  return LEAP_OK;
}

leap_status leap_disback_schedule_create(const leap_disback_schedule_desc *desc,
                                         leap_disback_schedule **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "disback schedule: out is NULL");
  *out = NULL;
  leap_disback_schedule_desc d;
  leap_status st = copy_desc(desc, &d);
  if (st) return st;
  leap_disback_schedule *s = lp_calloc(1, sizeof *s);
  if (!s) return lp_error(LEAP_ERR_NOMEM, "disback schedule: out of memory");
  s->d = d;
  s->first_iter = lp_malloc(((size_t)d.n_checkpoints + 1) * sizeof *s->first_iter);
  if (d.rule == LEAP_DISBACK_SWITCH_CONVERGED) s->window = lp_calloc(2 * (size_t)d.window, sizeof(double));
  if (!s->first_iter || (d.rule == LEAP_DISBACK_SWITCH_CONVERGED && !s->window)) {
    leap_disback_schedule_destroy(s);
    return lp_error(LEAP_ERR_NOMEM, "disback schedule: out of memory");
  }
  for (int k = 0; k <= d.n_checkpoints; k++) s->first_iter[k] = -1;
  s->first_iter[0] = 0;
  *out = s;
  return LEAP_OK;
}

void leap_disback_schedule_destroy(leap_disback_schedule *s) {
  if (!s) return;
  free(s->window);
  free(s->first_iter);
  free(s);
}

/* Mean of the stage's losses in ring slots [from, from + n) counted back
 * from the newest: from = 0 is the newest window. */
static double window_mean(const leap_disback_schedule *s, int from_window) {
  const int w = s->d.window, cap = 2 * w;
  double sum = 0;
  for (int k = 0; k < w; k++) {
    int64_t age = (int64_t)from_window * w + k; /* 0 = newest */
    int64_t slot = ((s->in_stage - 1 - age) % cap + cap) % cap;
    sum += s->window[slot];
  }
  return sum / w;
}

static int converged(const leap_disback_schedule *s) {
  const leap_disback_schedule_desc *d = &s->d;
  if (d->max_iters > 0 && s->in_stage >= d->max_iters) return 1;
  if (s->in_stage < d->min_iters) return 0;
  double recent = window_mean(s, 0), before = window_mean(s, 1);
  double scale = fabs(before) > 1e-12 ? fabs(before) : 1e-12;
  return fabs(recent - before) / scale < d->tolerance;
}

leap_status leap_disback_schedule_observe(leap_disback_schedule *s, double fake_loss,
                                          int *switched) {
  if (switched) *switched = 0;
  if (!s) return lp_error(LEAP_ERR_INVALID_ARG, "disback schedule: NULL schedule");
  const int n = s->d.n_checkpoints;
  if (s->d.rule == LEAP_DISBACK_SWITCH_CONVERGED) {
    if (!isfinite(fake_loss))
      return lp_error(LEAP_ERR_NUMERIC, "disback schedule: fake-score loss %g at iteration %lld",
                      fake_loss, (long long)s->iter);
    s->window[s->in_stage % (2 * s->d.window)] = fake_loss;
  }
  s->iter++;
  s->in_stage++;
  if (s->stage >= n) return LEAP_OK; /* the teacher: the last stage */
  int next = s->d.rule == LEAP_DISBACK_SWITCH_INTERVAL ? s->in_stage >= s->d.interval : converged(s);
  if (next) {
    s->stage++;
    s->in_stage = 0;
    s->first_iter[s->stage] = s->iter;
    if (switched) *switched = 1;
  }
  return LEAP_OK;
}

int leap_disback_schedule_target(const leap_disback_schedule *s) {
  if (!s || s->stage >= s->d.n_checkpoints) return LEAP_DISBACK_TEACHER;
  return s->d.n_checkpoints - 1 - s->stage;
}

int leap_disback_schedule_stage(const leap_disback_schedule *s) { return s ? s->stage : 0; }

int64_t leap_disback_schedule_stage_start(const leap_disback_schedule *s, int stage) {
  if (!s || stage < 0 || stage > s->d.n_checkpoints) return -1;
  return s->first_iter[stage];
}

leap_status leap_disback_schedule_restore(leap_disback_schedule *s, int stage, int64_t iter,
                                          int64_t iters_in_stage) {
  if (!s) return lp_error(LEAP_ERR_INVALID_ARG, "disback schedule: NULL schedule");
  if (stage < 0 || stage > s->d.n_checkpoints || iter < 0 || iters_in_stage < 0 ||
      iters_in_stage > iter)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "disback schedule: cannot restore stage %d at iteration %lld (%lld in stage)",
                    stage, (long long)iter, (long long)iters_in_stage);
  s->stage = stage;
  s->iter = iter;
  /* A converged-rule stage starts its loss windows afresh after a resume. */
  s->in_stage = s->d.rule == LEAP_DISBACK_SWITCH_CONVERGED ? 0 : iters_in_stage;
  for (int k = 0; k <= s->d.n_checkpoints; k++) s->first_iter[k] = -1;
  s->first_iter[stage] = iter - iters_in_stage;
  return LEAP_OK;
}

/* The losses the CONVERGED rule still reads: the stage's last
 * min(in_stage, 2 * window), whatever the ring held before the stage. */
static int window_count(const leap_disback_schedule *s) {
  if (s->d.rule != LEAP_DISBACK_SWITCH_CONVERGED) return 0;
  const int64_t cap = 2 * (int64_t)s->d.window;
  return (int)(s->in_stage < cap ? s->in_stage : cap);
}

leap_status leap_disback_schedule_window(const leap_disback_schedule *s, int64_t *iters_in_stage,
                                         double *losses, int cap, int *count) {
  if (!s || !iters_in_stage || !count || cap < 0 || (cap > 0 && !losses))
    return lp_error(LEAP_ERR_INVALID_ARG, "disback schedule: NULL or bad window arguments");
  const int n = window_count(s);
  *iters_in_stage = s->in_stage;
  *count = n;
  if (cap == 0 && !losses) return LEAP_OK;
  if (cap < n)
    return lp_error(LEAP_ERR_INVALID_ARG, "disback schedule: the window holds %d losses, room for %d", n, cap);
  const int64_t ring = 2 * (int64_t)s->d.window;
  for (int j = 0; j < n; j++) losses[j] = s->window[(s->in_stage - n + j) % ring];
  return LEAP_OK;
}

leap_status leap_disback_schedule_restore_window(leap_disback_schedule *s, int64_t iters_in_stage,
                                                 const double *losses, int count) {
  if (!s) return lp_error(LEAP_ERR_INVALID_ARG, "disback schedule: NULL schedule");
  /* restore recorded where the stage began: the two must tell one story */
  if (iters_in_stage < 0 || s->first_iter[s->stage] < 0 ||
      s->iter - s->first_iter[s->stage] != iters_in_stage)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "disback schedule: %lld iterations in the stage, but leap_disback_schedule_restore "
                    "was given %lld",
                    (long long)iters_in_stage,
                    (long long)(s->first_iter[s->stage] < 0 ? -1 : s->iter - s->first_iter[s->stage]));
  const int64_t ring = 2 * (int64_t)s->d.window;
  const int64_t want = s->d.rule != LEAP_DISBACK_SWITCH_CONVERGED ? 0
                       : iters_in_stage < ring                     ? iters_in_stage
                                                                   : ring;
  if (count != want || (count > 0 && !losses))
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "disback schedule: the window of %lld iterations in the stage holds %lld losses, "
                    "not %d",
                    (long long)iters_in_stage, (long long)want, count);
  for (int j = 0; j < count; j++)
    if (!isfinite(losses[j]))
      return lp_error(LEAP_ERR_NUMERIC, "disback schedule: window loss %d is %g", j, losses[j]);
  if (s->d.rule != LEAP_DISBACK_SWITCH_CONVERGED) return LEAP_OK;
  s->in_stage = iters_in_stage;
  for (int j = 0; j < count; j++) s->window[(iters_in_stage - count + j) % ring] = losses[j];
  return LEAP_OK;
}
