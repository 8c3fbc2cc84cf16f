/* solvers.c - the sampling loop: Euler, Heun, DDIM(eta), Euler ancestral and
 * DPM-Solver++(2M) over any lp_sched, for eps, v and flow_v models.
 *
 * Every raw prediction is turned into the pair (x0, eps) at its point, and
 * each update is written with alpha, sigma and ratios of them, never with
 * sigma/alpha or log(alpha/sigma) at the current point: the flow schedule
 * starts at t = 1 where alpha = 0, and everything must stay finite there.
 * Flow models integrate dx/dt = v in native t; VP models follow k-diffusion
 * in VE coordinates y = x / alpha, s = sigma / alpha (alpha > 0 on VP).
 * The state is kept in double between steps; the model sees float. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "sampler.h"

typedef struct run {
  const lp_sampler_cfg *cfg;
  lp_sched *sc; /* mutable for cfg->step_hook */
  int n, flow;
  int need_x0eps; /* the solver reads x0, eps (all but deterministic flow Euler) */
  size_t numel, total;
  lp_model_fn model;
  void *user;
  float *xf;  /* float copy of the state handed to the model */
  float *pf;  /* raw prediction */
  double *x;  /* the state */
  double *x0, *eps;      /* conversion of the current prediction */
  double *x0b, *epsb;    /* Heun: the corrector's; DPM++: previous x0 */
  double *xb;            /* Heun: the predictor's state */
  double *v1;            /* Heun (flow): the first derivative */
  lp_rng *rng;           /* [n] ancestral noise, one stream per image */
} run;

/* The raw prediction p of a model at (alpha a, sigma s) as (x0, eps).
 * flow_v: x = (1-t) x0 + t eps, v = eps - x0; VP v: v = a eps - s x0. */
static void to_x0_eps(leap_prediction pred, double a, double s, double x,
                      double p, double *x0, double *eps) {
  switch (pred) {
  case LEAP_PRED_FLOW_V:
    *x0 = x - s * p;
    *eps = x + a * p;
    break;
  case LEAP_PRED_V:
    *x0 = a * x - s * p;
    *eps = s * x + a * p;
    break;
  default: /* eps; alpha > 0 on every VP point */
    *eps = p;
    *x0 = (x - s * p) / a;
    break;
  }
}

/* The state's elementwise loops run on OpenMP threads above this size: at
 * a large batch on a GPU they are most of the host's time per step. Below
 * it a parallel region costs more than it saves. Elementwise, so the result
 * does not depend on the thread count. */
#define PAR_MIN 65536

/* Index of the first non-finite value of p[0..n), or n. */
static size_t first_nonfinite_f(const float *p, size_t n) {
  int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (n >= PAR_MIN)
  for (size_t k = 0; k < n; k++) bad |= !isfinite(p[k]);
  if (!bad) return n;
  size_t k = 0;
  while (k < n && isfinite(p[k])) k++;
  return k;
}

static size_t first_nonfinite_d(const double *p, size_t n) {
  int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (n >= PAR_MIN)
  for (size_t k = 0; k < n; k++) bad |= !isfinite(p[k]);
  if (!bad) return n;
  size_t k = 0;
  while (k < n && isfinite(p[k])) k++;
  return k;
}

/* One model evaluation of state x at point: fills r->pf and, where the
 * solver reads them (r->need_x0eps), x0 and eps. */
static leap_status eval(run *r, const double *x, int point, int step,
                        double *x0, double *eps) {
  const lp_sched *sc = r->sc;
  const size_t n = r->total;
  float *xf = r->xf;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
  for (size_t k = 0; k < n; k++) xf[k] = (float)x[k];
  leap_status st = r->model(r->user, r->xf, point, sc->t_model[point], r->pf);
  if (st != LEAP_OK) return st;
  const float *pf = r->pf;
  const size_t bad = first_nonfinite_f(pf, n);
  if (bad < n)
    return lp_error(LEAP_ERR_NUMERIC,
                    "sampler: model output is %s at step %d/%d (point %d, "
                    "t_model %g, element %zu)",
                    isnan(pf[bad]) ? "NaN" : "Inf", step + 1, sc->steps,
                    point, sc->t_model[point], bad);
  if (!r->need_x0eps) return LEAP_OK;
  const double a = sc->alpha[point], s = sc->sigma[point];
  const leap_prediction pred = r->cfg->pred;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
  for (size_t k = 0; k < n; k++) to_x0_eps(pred, a, s, x[k], pf[k], &x0[k], &eps[k]);
  return LEAP_OK;
}

/* Euler step of the probability-flow ODE from point i to i+1. Flow: exactly
 * x += (t' - t) v. VP: Euler in VE coordinates, which is the DDIM update
 * x' = alpha' x0 + sigma' eps. */
static void euler_update(run *r, int i) {
  const lp_sched *sc = r->sc;
  const size_t n = r->total;
  double *x = r->x;
  if (r->flow) {
    const double dt = sc->sigma[i + 1] - sc->sigma[i];
    const float *pf = r->pf;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t k = 0; k < n; k++) x[k] += dt * (double)pf[k];
  } else {
    const double a2 = sc->alpha[i + 1], s2 = sc->sigma[i + 1];
    const double *x0 = r->x0, *eps = r->eps;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t k = 0; k < n; k++) x[k] = a2 * x0[k] + s2 * eps[k];
  }
}

/* DDIM with eta / k-diffusion's Euler ancestral (for VP the two coincide):
 * in VE coordinates s_up = min(s', eta s' sqrt(1 - (s'/s)^2)),
 * s_down = sqrt(s'^2 - s_up^2), y' = x0 + s_down eps + s_up z. Multiplied
 * by alpha' (alpha' s' = sigma') and with s'/s = sigma' alpha / (alpha'
 * sigma), which is 0 at alpha = 0, it stays finite at flow t = 1. */
static void ancestral_update(run *r, int i) {
  const lp_sched *sc = r->sc;
  double a = sc->alpha[i], s = sc->sigma[i];
  double a2 = sc->alpha[i + 1], s2 = sc->sigma[i + 1];
  double eta = r->cfg->eta;
  double ratio = s2 > 0.0 ? (s2 * a) / (a2 * s) : 0.0;
  double frac = 1.0 - ratio * ratio;
  double s_up = eta * s2 * sqrt(frac > 0.0 ? frac : 0.0);
  if (s_up > s2) s_up = s2;
  double dd = s2 * s2 - s_up * s_up;
  double s_down = sqrt(dd > 0.0 ? dd : 0.0);
  for (int img = 0; img < r->n; img++) {
    size_t base = (size_t)img * r->numel;
    for (size_t k = base; k < base + r->numel; k++) {
      double z = s_up > 0.0 ? lp_rng_normal(&r->rng[img]) : 0.0;
      r->x[k] = a2 * r->x0[k] + s_down * r->eps[k] + s_up * z;
    }
  }
}

/* Heun (Karras et al. 2022, Algorithm 1): Euler predictor to point i+1, then
 * the average of both derivatives. Flow: derivative v in t. VP: derivative
 * eps in s = sigma/alpha on y = x/alpha. The caller does a plain Euler step
 * when the next point is clean. */
static leap_status heun_step(run *r, int i) {
  const lp_sched *sc = r->sc;
  double a = sc->alpha[i], s = sc->sigma[i];
  double a2 = sc->alpha[i + 1], s2 = sc->sigma[i + 1];
  if (r->flow) {
    double dt = s2 - s;
    for (size_t k = 0; k < r->total; k++) {
      r->v1[k] = r->pf[k];
      r->xb[k] = r->x[k] + dt * r->v1[k];
    }
    leap_status st = eval(r, r->xb, i + 1, i, r->x0b, r->epsb);
    if (st != LEAP_OK) return st;
    for (size_t k = 0; k < r->total; k++)
      r->x[k] += dt * 0.5 * (r->v1[k] + (double)r->pf[k]);
  } else {
    for (size_t k = 0; k < r->total; k++)
      r->xb[k] = a2 * r->x0[k] + s2 * r->eps[k];
    leap_status st = eval(r, r->xb, i + 1, i, r->x0b, r->epsb);
    if (st != LEAP_OK) return st;
    double ds = s2 / a2 - s / a; /* VE step, alpha > 0 on VP */
    for (size_t k = 0; k < r->total; k++)
      r->x[k] = a2 * (r->x[k] / a + ds * 0.5 * (r->eps[k] + r->epsb[k]));
  }
  return LEAP_OK;
}

/* DPM-Solver++(2M) (Lu et al. 2022; k-diffusion sample_dpmpp_2m) with
 * lambda = log(alpha/sigma): x' = (sigma'/sigma) x + alpha'(1 - e^-h) D,
 * where alpha'(1 - e^-h) = alpha' - alpha sigma'/sigma, and D is x0, or the
 * second-order extrapolation (1 + 1/2r) x0 - 1/2r x0_prev with r =
 * h_prev/h. First order on the first step, on the step to sigma = 0,
 * after a point with alpha = 0 (lambda = -inf, so 1/2r = 0 in the limit) and
 * after a step of (almost) zero length (h_prev < h / 100). */
static void dpmpp_2m_update(run *r, int i) {
  const lp_sched *sc = r->sc;
  double a = sc->alpha[i], s = sc->sigma[i];
  double a2 = sc->alpha[i + 1], s2 = sc->sigma[i + 1];
  double c = 0.0; /* 1 / (2r) */
  if (i > 0 && s2 > 0.0 && sc->alpha[i - 1] > 0.0) {
    double lam_prev = log(sc->alpha[i - 1] / sc->sigma[i - 1]);
    double lam = log(a / s), lam2 = log(a2 / s2);
    /* A previous step of zero length (a timestep adjustment can make one,
     * up to rounding) gives no slope to extrapolate: 1/2r would amplify
     * the rounding of x0 - x0_prev without bound. First order when the
     * previous step is under 1% of this one (ordinary schedules keep r
     * within about 0.5..2). */
    if (lam - lam_prev > 0.01 * (lam2 - lam)) c = (lam2 - lam) / (2.0 * (lam - lam_prev));
  }
  double cx = s2 / s, cd = a2 - a * s2 / s;
  /* First order reads no previous x0: before the first step's memcpy
   * below x0b is uninitialised, and 0 * NaN is NaN (a flaky failure of the
   * convergence test, depending on what malloc handed back). */
  const double *prev = c != 0.0 ? r->x0b : r->x0;
  for (size_t k = 0; k < r->total; k++) {
    double d = (1.0 + c) * r->x0[k] - c * prev[k];
    r->x[k] = cx * r->x[k] + cd * d;
  }
  memcpy(r->x0b, r->x0, r->total * sizeof(double)); /* the previous x0 */
}

static int check_cfg(const lp_sampler_cfg *cfg) {
  return cfg && (int)cfg->solver >= LEAP_SOLVER_EULER &&
         cfg->solver <= LEAP_SOLVER_DPMPP_2M && cfg->steps >= 1;
}

int lp_sampler_nfe(const lp_sampler_cfg *cfg) {
  if (!check_cfg(cfg)) return 0;
  return cfg->solver == LEAP_SOLVER_HEUN ? 2 * cfg->steps - 1 : cfg->steps;
}

static void run_free(run *r) {
  free(r->xf);
  free(r->pf);
  free(r->x);
  free(r->x0);
  free(r->eps);
  free(r->x0b);
  free(r->epsb);
  free(r->xb);
  free(r->v1);
  free(r->rng);
}

static leap_status run_loop(run *r, float *x, leap_progress_fn progress,
                            void *puser) {
  const lp_sched *sc = r->sc;
  const lp_sampler_cfg *cfg = r->cfg;
  for (size_t k = 0; k < r->total; k++) r->x[k] = sc->sigma[0] * (double)x[k];
  int stochastic = (cfg->solver == LEAP_SOLVER_DDIM ||
                    cfg->solver == LEAP_SOLVER_EULER_ANCESTRAL) &&
                   cfg->eta > 0.0;
  leap_status st = LEAP_OK;
  for (int i = 0; i < sc->steps && st == LEAP_OK; i++) {
    st = eval(r, r->x, i, i, r->x0, r->eps);
    if (st == LEAP_OK && cfg->step_hook) st = cfg->step_hook(cfg->step_user, i, r->sc);
    if (st != LEAP_OK) break;
    int last = sc->sigma[i + 1] == 0.0;
    switch (cfg->solver) {
    case LEAP_SOLVER_HEUN:
      if (last) euler_update(r, i);
      else st = heun_step(r, i);
      break;
    case LEAP_SOLVER_DPMPP_2M: dpmpp_2m_update(r, i); break;
    default: /* Euler; DDIM and Euler ancestral with eta = 0 are Euler */
      if (stochastic) ancestral_update(r, i);
      else euler_update(r, i);
      break;
    }
    if (st != LEAP_OK) break;
    const size_t bad = first_nonfinite_d(r->x, r->total);
    if (bad < r->total) {
      st = lp_error(LEAP_ERR_NUMERIC,
                    "sampler: x became non-finite at step %d/%d (solver "
                    "%s, element %zu)", i + 1, sc->steps,
                    leap_solver_name(cfg->solver), bad);
      break;
    }
    if (progress && progress(puser, i + 1, sc->steps))
      st = lp_error(LEAP_ERR_INTERRUPTED,
                    "sampler: interrupted by the progress callback after step "
                    "%d/%d", i + 1, sc->steps);
    /* Hand back the state reached, also when interrupted. */
    const size_t n = r->total;
    const double *rx = r->x;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t k = 0; k < n; k++) x[k] = (float)rx[k];
  }
  return st;
}

leap_status lp_sample_run(const lp_sampler_cfg *cfg, int n, size_t numel,
                          float *x, lp_model_fn model, void *user,
                          leap_progress_fn progress, void *puser) {
  if (!cfg || !x || !model)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_sample_run: %s is NULL",
                    !cfg ? "cfg" : !x ? "x" : "model");
  if (!check_cfg(cfg))
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "sampler: bad solver %d or steps %d (need >= 1)",
                    (int)cfg->solver, cfg->steps);
  if (n < 1 || numel < 1 || numel > SIZE_MAX / sizeof(double) / (size_t)n)
    return lp_error(LEAP_ERR_INVALID_ARG, "sampler: bad size n = %d, numel = "
                    "%zu", n, numel);
  if (!(cfg->eta >= 0.0) || !isfinite(cfg->eta))
    return lp_error(LEAP_ERR_INVALID_ARG, "sampler: eta = %g, must be >= 0",
                    cfg->eta);
  lp_sched sc;
  leap_status st = lp_sched_build(&sc, cfg->schedule, cfg->pred, cfg->steps,
                                  cfg->shift, cfg->timestep_scale);
  if (st != LEAP_OK) return st;

  run r;
  memset(&r, 0, sizeof r);
  r.cfg = cfg;
  r.sc = &sc;
  r.n = n;
  r.numel = numel;
  r.total = (size_t)n * numel;
  r.flow = cfg->pred == LEAP_PRED_FLOW_V;
  r.model = model;
  r.user = user;
  /* Deterministic flow Euler reads only the velocity. */
  r.need_x0eps = !(r.flow && cfg->solver != LEAP_SOLVER_HEUN && cfg->solver != LEAP_SOLVER_DPMPP_2M &&
                   !((cfg->solver == LEAP_SOLVER_DDIM || cfg->solver == LEAP_SOLVER_EULER_ANCESTRAL) &&
                     cfg->eta > 0.0));
  size_t nd = r.total * sizeof(double), nf = r.total * sizeof(float);
  r.xf = lp_malloc(nf);
  r.pf = lp_malloc(nf);
  r.x = lp_malloc(nd);
  r.x0 = lp_malloc(nd);
  r.eps = lp_malloc(nd);
  /* Only the buffers the solver uses: video states can be large. */
  int heun = cfg->solver == LEAP_SOLVER_HEUN;
  int multistep = cfg->solver == LEAP_SOLVER_DPMPP_2M;
  if (heun || multistep) r.x0b = lp_malloc(nd);
  if (heun) {
    r.epsb = lp_malloc(nd);
    r.xb = lp_malloc(nd);
    r.v1 = lp_malloc(nd);
  }
  r.rng = lp_malloc((size_t)n * sizeof(lp_rng));
  if (!r.xf || !r.pf || !r.x || !r.x0 || !r.eps || !r.rng ||
      ((heun || multistep) && !r.x0b) ||
      (heun && (!r.epsb || !r.xb || !r.v1))) {
    run_free(&r);
    lp_sched_free(&sc);
    return lp_error(LEAP_ERR_NOMEM, "sampler: out of memory for %zu values",
                    r.total);
  }
  for (int i = 0; i < n; i++)
    lp_rng_seed(&r.rng[i], cfg->seed, LP_STREAM_ANCESTRAL + cfg->first + (uint64_t)i);

  st = run_loop(&r, x, progress, puser);
  run_free(&r);
  lp_sched_free(&sc);
  return st;
}
