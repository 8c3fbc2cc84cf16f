/* schedule.c - noise schedules: the (t_model, alpha, sigma) of each point.
 *
 * Flow schedules integrate t from 1 to 0 (alpha = 1 - t, sigma = t). VP
 * schedules come from a 1000-step DDPM alpha-bar table; fractional timesteps
 * interpolate log(sigma/alpha) between neighbouring integers, as
 * k-diffusion's DiscreteSchedule does, so t <-> sigma round-trips. Karras
 * schedules space sigma/alpha with rho = 7 over the family's noise range. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "sampler.h"

#define T_TRAIN LP_VP_TRAIN_STEPS
#define KARRAS_RHO 7.0
/* Flow-family Karras range in VE coordinates s = t / (1 - t). */
#define FLOW_KARRAS_S_MIN 0.002
#define FLOW_KARRAS_S_MAX 80.0

/* log(sigma/alpha) = 0.5 log((1 - abar) / abar) at each training timestep,
 * for the beta table of a VP kind. */
static void vp_log_s_table(leap_schedule_kind kind, double *log_s) {
  double abar = 1.0;
  const double pi = 3.14159265358979323846;
  for (int i = 0; i < T_TRAIN; i++) {
    double beta;
    if (kind == LEAP_SCHEDULE_VP_SCALED) {
      double a = sqrt(0.00085), b = sqrt(0.012);
      double r = a + (b - a) * i / (T_TRAIN - 1);
      beta = r * r;
    } else if (kind == LEAP_SCHEDULE_VP_COSINE) {
      /* Nichol & Dhariwal: betas from the cosine alpha-bar, clipped. */
      double s = 0.008;
      double f1 = cos(((double)i / T_TRAIN + s) / (1 + s) * pi / 2);
      double f2 = cos(((double)(i + 1) / T_TRAIN + s) / (1 + s) * pi / 2);
      beta = 1.0 - (f2 * f2) / (f1 * f1);
      if (beta > 0.999) beta = 0.999;
    } else { /* VP_LINEAR */
      beta = 1e-4 + (0.02 - 1e-4) * i / (T_TRAIN - 1);
    }
    abar *= 1.0 - beta;
    log_s[i] = 0.5 * log((1.0 - abar) / abar);
  }
}

/* log(sigma/alpha) at a fractional timestep t in [0, T-1]. */
static double vp_t_to_log_s(const double *log_s, double t) {
  int lo = (int)floor(t);
  if (lo < 0) lo = 0;
  if (lo > T_TRAIN - 1) lo = T_TRAIN - 1;
  int hi = lo < T_TRAIN - 1 ? lo + 1 : lo;
  double w = t - lo;
  return (1.0 - w) * log_s[lo] + w * log_s[hi];
}

/* The fractional timestep of a log(sigma/alpha), inverse of the above
 * (clamped to the table's range). log_s increases with t. */
static double vp_log_s_to_t(const double *log_s, double ls) {
  if (ls <= log_s[0]) return 0.0;
  if (ls >= log_s[T_TRAIN - 1]) return T_TRAIN - 1;
  int lo = 0, hi = T_TRAIN - 1; /* log_s[lo] <= ls < log_s[hi] */
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    if (log_s[mid] <= ls) lo = mid;
    else hi = mid;
  }
  double w = (ls - log_s[lo]) / (log_s[hi] - log_s[lo]);
  return lo + w;
}

static void set_vp_point(lp_sched *s, int i, double log_s, double t_model) {
  double sv = exp(log_s);
  double norm = sqrt(1.0 + sv * sv);
  s->alpha[i] = 1.0 / norm;
  s->sigma[i] = sv / norm;
  s->t_model[i] = t_model;
}

static void set_flow_point(lp_sched *s, int i, double t, double scale) {
  s->alpha[i] = 1.0 - t;
  s->sigma[i] = t;
  s->t_model[i] = t * scale;
}

static void set_clean_point(lp_sched *s, int i) {
  s->alpha[i] = 1.0;
  s->sigma[i] = 0.0;
  s->t_model[i] = 0.0;
}

/* Karras et al. (2022) eq. 5: rho-spaced noise levels from s_max to s_min. */
static double karras_s(int i, int steps, double s_min, double s_max) {
  double ramp = steps > 1 ? (double)i / (steps - 1) : 0.0;
  double a = pow(s_max, 1.0 / KARRAS_RHO), b = pow(s_min, 1.0 / KARRAS_RHO);
  return pow(a + ramp * (b - a), KARRAS_RHO);
}

void lp_sched_adjust_step(lp_sched *s, int step, double phi) {
  if (!(s->sigma[step + 1] > 0)) return;
  const double next = s->sigma[step] + phi * (s->sigma[step + 1] - s->sigma[step]);
  const double f = next / s->sigma[step + 1];
  for (int j = step + 1; j <= s->steps; j++) {
    s->sigma[j] *= f;
    s->alpha[j] = 1.0 - s->sigma[j];
    s->t_model[j] *= f;
  }
}

void lp_sched_free(lp_sched *s) {
  if (!s) return;
  free(s->t_model);
  free(s->alpha);
  free(s->sigma);
  memset(s, 0, sizeof *s);
}

leap_status lp_sched_build(lp_sched *s, leap_schedule_kind kind,
                           leap_prediction pred, int steps, double shift,
                           double timestep_scale) {
  if (!s) return lp_error(LEAP_ERR_INVALID_ARG, "lp_sched_build: s is NULL");
  memset(s, 0, sizeof *s);
  if (pred != LEAP_PRED_EPS && pred != LEAP_PRED_V && pred != LEAP_PRED_FLOW_V)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "schedule: unknown prediction type %d", (int)pred);
  if (steps < 1 || steps > 100000)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "schedule: steps = %d, must be in 1..100000", steps);
  int flow = pred == LEAP_PRED_FLOW_V;
  if (kind == LEAP_SCHEDULE_DEFAULT)
    kind = flow ? LEAP_SCHEDULE_FLOW : LEAP_SCHEDULE_VP_LINEAR;
  switch (kind) {
  case LEAP_SCHEDULE_FLOW:
    if (!flow)
      return lp_error(LEAP_ERR_INVALID_ARG,
                      "schedule 'flow' needs a flow_v model; this model "
                      "predicts %s (use a vp_* or karras schedule)",
                      pred == LEAP_PRED_EPS ? "eps" : "v");
    if (!(shift > 0.0) || !isfinite(shift))
      return lp_error(LEAP_ERR_INVALID_ARG,
                      "schedule 'flow': shift = %g, must be > 0 (1 = none)",
                      shift);
    break;
  case LEAP_SCHEDULE_VP_LINEAR:
  case LEAP_SCHEDULE_VP_SCALED:
  case LEAP_SCHEDULE_VP_COSINE:
    if (flow)
      return lp_error(LEAP_ERR_INVALID_ARG,
                      "schedule '%s' is a VP schedule for eps/v models; this "
                      "model predicts flow_v (use 'flow' or 'karras')",
                      leap_schedule_name(kind));
    break;
  case LEAP_SCHEDULE_KARRAS: break;
  default:
    return lp_error(LEAP_ERR_INVALID_ARG, "schedule: unknown kind %d",
                    (int)kind);
  }
  if (flow && (!(timestep_scale > 0.0) || !isfinite(timestep_scale)))
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "schedule: timestep_scale = %g, must be > 0 for a flow "
                    "model", timestep_scale);

  size_t np = (size_t)steps + 1;
  s->t_model = lp_malloc(np * sizeof(double));
  s->alpha = lp_malloc(np * sizeof(double));
  s->sigma = lp_malloc(np * sizeof(double));
  double *log_s = flow ? NULL : lp_malloc(T_TRAIN * sizeof(double));
  if (!s->t_model || !s->alpha || !s->sigma || (!flow && !log_s)) {
    free(log_s);
    lp_sched_free(s);
    return lp_error(LEAP_ERR_NOMEM, "schedule: out of memory (%d steps)",
                    steps);
  }
  s->steps = steps;

  if (kind == LEAP_SCHEDULE_FLOW) {
    for (int i = 0; i <= steps; i++) {
      /* Exact endpoints: t_0 = 1, t_steps = 0. */
      double t = i == steps ? 0.0 : 1.0 - (double)i / steps;
      t = shift * t / (1.0 + (shift - 1.0) * t); /* SD3 shift */
      set_flow_point(s, i, t, timestep_scale);
    }
  } else if (kind == LEAP_SCHEDULE_KARRAS && flow) {
    for (int i = 0; i < steps; i++) {
      double sv = karras_s(i, steps, FLOW_KARRAS_S_MIN, FLOW_KARRAS_S_MAX);
      set_flow_point(s, i, sv / (1.0 + sv), timestep_scale);
    }
    set_clean_point(s, steps);
  } else if (kind == LEAP_SCHEDULE_KARRAS) {
    /* The VP family's range: the linear-beta table's first and last. */
    vp_log_s_table(LEAP_SCHEDULE_VP_LINEAR, log_s);
    double s_min = exp(log_s[0]), s_max = exp(log_s[T_TRAIN - 1]);
    for (int i = 0; i < steps; i++) {
      double ls = log(karras_s(i, steps, s_min, s_max));
      set_vp_point(s, i, ls, vp_log_s_to_t(log_s, ls));
    }
    set_clean_point(s, steps);
  } else { /* VP tables: timesteps linspace(999, 0, steps) */
    vp_log_s_table(kind, log_s);
    for (int i = 0; i < steps; i++) {
      double t = steps > 1 ? (T_TRAIN - 1) * (1.0 - (double)i / (steps - 1))
                           : (double)(T_TRAIN - 1);
      if (i == steps - 1 && steps > 1) t = 0.0;
      set_vp_point(s, i, vp_t_to_log_s(log_s, t), t);
    }
    set_clean_point(s, steps);
  }
  free(log_s);
  return LEAP_OK;
}
