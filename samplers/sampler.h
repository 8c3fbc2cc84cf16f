/*
 * sampler.h - diffusion sampling on host float arrays: a deterministic RNG,
 * noise schedules and ODE/SDE solvers. Independent of any model: the model
 * is a callback that maps (x, schedule point) to its raw prediction.
 *
 * Conventions: a schedule is a list of steps+1 points; at point i the state
 * is x = alpha_i x0 + sigma_i eps, with the last point clean (alpha 1,
 * sigma 0). The model family follows the prediction: flow_v models live on
 * flow schedules (alpha = 1 - t, sigma = t), eps and v models on VP
 * schedules (alpha^2 + sigma^2 = 1). Solvers compute in double internally.
 */
#ifndef LEAP_SAMPLER_H
#define LEAP_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "leap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ RNG */

/* xoshiro256** seeded through splitmix64 from (seed, stream); normals by
 * Box-Muller in double (the second normal of each pair is kept in spare). */
typedef struct lp_rng {
  uint64_t s[4];
  double spare;
  int has_spare;
} lp_rng;

void lp_rng_seed(lp_rng *r, uint64_t seed, uint64_t stream);
uint64_t lp_rng_next_u64(lp_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double lp_rng_uniform(lp_rng *r);
double lp_rng_normal(lp_rng *r);
/* Fills out[n_images * numel] with standard normals; image i uses stream i
 * of the seed, so image i's noise does not depend on how many are drawn. */
void lp_noise_fill(uint64_t seed, int n_images, size_t numel, float *out);
/* The same for images first .. first + n_images - 1 of a longer run (image
 * first + i uses stream first + i): what a batch of a split run draws. */
void lp_noise_fill_at(uint64_t seed, uint64_t first, int n_images, size_t numel, float *out);
/* Streams of a run stay below this (LP_STREAM_ANCESTRAL + i must not meet
 * the initial noise's stream of another image). */
#define LP_STREAM_LIMIT (UINT64_C(1) << 40)

/* Streams of a seed at and above this one are reserved for the solvers'
 * ancestral noise (image i uses LP_STREAM_ANCESTRAL + i), so they never
 * repeat the initial noise drawn by lp_noise_fill from the same seed. */
#define LP_STREAM_ANCESTRAL (UINT64_C(1) << 40)

/* ------------------------------------------------------------- schedules */

typedef struct lp_sched {
  int steps;
  double *t_model; /* [steps+1] the model's timestep input at each point (flow:
                      t * timestep_scale; VP: the possibly fractional discrete
                      timestep 0..999) */
  double *alpha;   /* [steps+1] x = alpha x0 + sigma eps; last point clean */
  double *sigma;   /* [steps+1] */
} lp_sched;

/* Number of training timesteps of the VP tables. */
#define LP_VP_TRAIN_STEPS 1000

/* Builds the schedule (DEFAULT resolves to FLOW for FLOW_V, VP_LINEAR
 * otherwise). shift applies to FLOW only (must be > 0; 1 = none);
 * timestep_scale to flow-family schedules (must be > 0). A VP schedule with
 * a flow model, or FLOW with an eps/v model, is LEAP_ERR_INVALID_ARG.
 * On failure *s is left empty (safe to lp_sched_free). */
leap_status lp_sched_build(lp_sched *s, leap_schedule_kind kind,
                           leap_prediction pred, int steps, double shift,
                           double timestep_scale);
void lp_sched_free(lp_sched *s);
/* ERTACache's timestep adjustment in time on a flow schedule: the interval
 * of `step` scaled by phi, sigma[step+1] = sigma[step] + phi (sigma[step+1]
 * - sigma[step]), and the later points stretched by the same factor so the
 * path still ends at 0 (alpha = 1 - sigma, t_model with them). Nothing
 * changes when sigma[step+1] is 0 (the last step). */
void lp_sched_adjust_step(lp_sched *s, int step, double phi);

/* --------------------------------------------------------------- solvers */

/* The model: given x [n * numel] at schedule point `point` (model timestep
 * t_model), writes the model's raw (already guided) prediction [n * numel]
 * in its own parameterisation (eps, v or flow_v). A non-OK return aborts the
 * run with that status (the callback sets the message). */
typedef leap_status (*lp_model_fn)(void *user, const float *x, int point,
                                   double t_model, float *pred);

typedef struct lp_sampler_cfg {
  leap_solver solver;
  leap_schedule_kind schedule;
  leap_prediction pred;
  int steps;
  double shift;          /* FLOW schedule shift; 1 = none */
  double eta;            /* DDIM / ancestral noise scale; 0 = deterministic */
  double timestep_scale; /* flow models: t_model = t * timestep_scale */
  uint64_t seed;         /* ancestral noise (streams LP_STREAM_ANCESTRAL + first + i) */
  uint64_t first;        /* global index of image 0 (a batch of a split run) */
  /* Optional per-step hook (NULL = none), called after the model evaluation
   * of step `step` and before its update. It may move the later points of
   * the schedule (indices step+1..steps of t_model, alpha, sigma; never
   * earlier ones): ERTACache's timestep adjustment scales the step and
   * stretches the rest so that the path still ends at the clean point. A
   * non-OK return aborts the run with that status. */
  leap_status (*step_hook)(void *user, int step, lp_sched *sc);
  void *step_user;
} lp_sampler_cfg;

/* x: in = unit Gaussian noise [n * numel], out = the samples. The initial
 * state is sigma_0 * noise. Calls progress(puser, step + 1, steps) after
 * each step; a non-zero return stops with LEAP_ERR_INTERRUPTED (x then holds
 * the state reached). Errors from the model propagate. A NaN/Inf in the
 * model output or in x is LEAP_ERR_NUMERIC naming the step. */
leap_status lp_sample_run(const lp_sampler_cfg *cfg, int n, size_t numel,
                          float *x, lp_model_fn model, void *user,
                          leap_progress_fn progress, void *puser);

/* Number of model evaluations a run makes (Heun: 2 per step except the last,
 * which goes to sigma = 0 as a plain Euler step); 0 for a bad cfg. */
int lp_sampler_nfe(const lp_sampler_cfg *cfg);

#ifdef __cplusplus
}
#endif
#endif
