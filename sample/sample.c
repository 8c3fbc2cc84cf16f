/* sample.c - leap_sample: a model, classifier-free guidance and a solver. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"
#include "alloc.h"
#include "error.h"
#include "struct_size.h"
#include "model_internal.h"
#include "sampler.h"

leap_status leap_noise_fill(uint64_t seed, int n, size_t numel, float *out) {
  if (!out || n < 1 || numel < 1) return lp_error(LEAP_ERR_INVALID_ARG, "leap_noise_fill: bad argument");
  lp_noise_fill(seed, n, numel, out);
  return LEAP_OK;
}

leap_sample_desc leap_sample_desc_default(void) {
  leap_sample_desc d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.n = 1;
  d.steps = 50;
  d.solver = LEAP_SOLVER_EULER;
  d.schedule = LEAP_SCHEDULE_DEFAULT;
  d.shift = 1.0;
  d.cfg = 1.0;
  return d;
}

/* State of the guided model callback. With guidance the conditional and the
 * unconditional branch run as one batch of 2n (cond first); the step runs
 * as one program (models/dit_step.c) that also combines the branches. */
typedef struct guided {
  leap_model *m;
  int n, guided;
  double cfg;
  size_t numel;      /* per sample, F * in_channels * H * W */
  size_t out_numel;  /* per sample, F * out_channels * H * W */
  int frames;        /* F */
  int32_t *labels;   /* [2n] */
  float *out;        /* [n * out_numel] guided prediction (variance channels only) */
  leap_cache *cache; /* feature cache, or NULL */
  int eval;          /* model evaluations so far (the cache's step) */
  int flow;          /* flow_v model: phi may scale the step */
  lp_prog_cache *pc; /* the steps' programs: the cache's, or NULL (the model's) */
} guided;

/* One step's model evaluation into out [n, out_numel]; with a cache, the
 * block stack only when the cache says compute (else it applies the cached
 * residual). */
static leap_status forward(guided *g, const float *x, float t, float *out) {
  const lp_model_step_ops *step = g->m->arch->step;
  void *d = g->m->impl;
  lp_model_step st = {.images = g->n, .guided = g->guided, .cfg = (float)g->cfg, .blocks = 1};
  if (!g->cache) return step->run(d, g->pc, &st, x, t, g->labels, out);
  leap_tensor *h = NULL;
  lp_op before, after;
  int compute = 1;
  leap_status s = step->prepare(d, &st, &h);
  if (s != LEAP_OK) return s;
  st.before = &before, st.after = &after;
  if (lp_cache_decides_offline(g->cache)) {
    /* The decision is known before the step: one submission. */
    s = lp_cache_step_ops(g->cache, g->eval, h, &before, &st.nbefore, &after, &st.nafter, &compute);
    st.blocks = compute;
    return s == LEAP_OK ? step->run(d, g->pc, &st, x, t, g->labels, out) : s;
  }
  s = step->embed(d, g->pc, &st, x, t, g->labels);
  if (s == LEAP_OK) s = lp_cache_step_ops(g->cache, g->eval, h, &before, &st.nbefore, &after, &st.nafter, &compute);
  st.blocks = compute;
  return s == LEAP_OK ? step->finish(d, g->pc, &st, out) : s;
}

/* ERTACache's timestep adjustment in time: scale the step, stretch the
 * rest of the (flow) schedule so it still ends at 0. */
static leap_status cache_step_hook(void *user, int step, lp_sched *sc) {
  guided *g = user;
  double phi = 1.0;
  int in_time = 0;
  leap_status s = leap_cache_step_scale(g->cache, step, &phi, &in_time);
  if (s != LEAP_OK || !in_time || phi == 1.0 || !(sc->sigma[step + 1] > 0)) return s;
  if (!g->flow) return lp_error(LEAP_ERR_UNSUPPORTED, "leap_sample: timestep adjustment needs a flow model");
  lp_sched_adjust_step(sc, step, phi);
  return LEAP_OK;
}

static leap_status guided_model(void *user, const float *x, int point, double t_model,
                                float *pred) {
  (void)point;
  guided *g = user;
  /* Without variance channels the prediction is read back into pred itself. */
  float *out = g->out_numel == g->numel ? pred : g->out;
  leap_status s = forward(g, x, (float)t_model, out);
  if (s != LEAP_OK) return s;
  /* ERTACache's timestep adjustment on the velocity (phi = 1 elsewhere). */
  float phi = 1.0f;
  if (g->cache) {
    double p = 1.0;
    int in_time = 0;
    if ((s = leap_cache_step_scale(g->cache, g->eval, &p, &in_time)) != LEAP_OK) return s;
    if (!in_time && p != 1.0) {
      if (!g->flow) return lp_error(LEAP_ERR_UNSUPPORTED, "leap_sample: timestep adjustment needs a flow model");
      phi = (float)p;
    }
  }
  g->eval++;
  /* learn_sigma models put the variance channels after the prediction:
   * the first in_channels of each frame are the prediction. */
  if (out == pred) {
    const size_t total = (size_t)g->n * g->numel;
    if (phi != 1.0f)
      for (size_t k = 0; k < total; k++) pred[k] *= phi;
    return LEAP_OK;
  }
  const size_t fin = g->numel / (size_t)g->frames, fout = g->out_numel / (size_t)g->frames;
  for (size_t f = 0; f < (size_t)g->n * (size_t)g->frames; f++) {
    const float *c = g->out + f * fout;
    float *dst = pred + f * fin;
    for (size_t k = 0; k < fin; k++) dst[k] = phi * c[k];
  }
  return LEAP_OK;
}

leap_status leap_sample(leap_model *m, const leap_sample_desc *caller_desc, float *out) {
  if (!m || !caller_desc || !out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_sample: NULL argument");
  /* Callers built before `cache` (0.1), `frames` (0.2) or `first` (0.3)
   * was appended pass a shorter struct: those fields keep their defaults
   * (NULL, 0, 0). */
  leap_sample_desc d = leap_sample_desc_default();
  leap_status ds = lp_struct_in(&d, sizeof d, caller_desc, "leap_sample");
  if (ds != LEAP_OK) return ds;
  const leap_sample_desc *desc = &d;
  leap_cache *cache = desc->cache;
  const leap_model_info *info = &m->info;
  const int frames = desc->frames ? desc->frames : info->clip_frames;
  if (frames != info->clip_frames)
    return lp_error(desc->frames < 0 ? LEAP_ERR_INVALID_ARG : LEAP_ERR_UNSUPPORTED,
                    "leap_sample: frames = %d, but the model makes %d-frame samples%s", desc->frames,
                    info->clip_frames, info->clip_frames == 1 ? " (an image model)" : "");
  if (!m->arch->step)
    return lp_error(LEAP_ERR_UNSUPPORTED, "leap_sample: arch '%s' has no sampling step in this build", info->arch);
  if (desc->n < 1 || desc->n > 32768)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_sample: n = %d outside 1..32768", desc->n);
  if (desc->first >= LP_STREAM_LIMIT - (uint64_t)desc->n)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_sample: first = %llu; first + n must stay below 2^40",
                    (unsigned long long)desc->first);
  if (desc->steps < 1 || desc->steps > 10000)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_sample: steps = %d outside 1..10000", desc->steps);
  if (!isfinite(desc->cfg) || !isfinite(desc->eta) || desc->eta < 0 || !isfinite(desc->shift) || desc->shift <= 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_sample: cfg, eta and shift must be finite (eta >= 0, shift > 0)");
  const int has_classes = info->num_classes > 0;
  if (desc->labels && !has_classes)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_sample: labels given, but the model has no classes");
  for (int b = 0; desc->labels && b < desc->n; b++)
    if (desc->labels[b] < 0 || desc->labels[b] > info->num_classes)
      return lp_error(LEAP_ERR_INVALID_ARG, "leap_sample: label %d outside 0..%d", desc->labels[b],
                      info->num_classes);
  guided g = {.m = m, .n = desc->n, .cfg = desc->cfg, .cache = cache,
              .flow = info->prediction == LEAP_PRED_FLOW_V, .pc = cache ? lp_cache_step_programs(cache) : NULL};
  g.guided = has_classes && desc->cfg != 1.0;
  if (cache) {
    leap_status cs = lp_cache_check_run(cache, m, desc, g.guided ? 2 : 1);
    if (cs == LEAP_OK) cs = leap_cache_reset(cache);
    if (cs != LEAP_OK) return cs;
  }
  /* One sample is [F, C, H, W]. */
  g.frames = frames;
  g.numel = (size_t)frames * info->in_channels * info->height * info->width;
  g.out_numel = (size_t)frames * info->out_channels * info->height * info->width;
  const int nb = g.guided ? 2 * g.n : g.n;
  g.labels = lp_calloc((size_t)nb, sizeof *g.labels);
  if (g.out_numel != g.numel) g.out = lp_malloc((size_t)g.n * g.out_numel * sizeof(float));
  leap_status s = LEAP_OK;
  if (!g.labels || (g.out_numel != g.numel && !g.out)) s = lp_error(LEAP_ERR_NOMEM, "leap_sample: out of memory");
  for (int b = 0; s == LEAP_OK && b < g.n; b++) {
    g.labels[b] = desc->labels ? desc->labels[b] : info->null_class;
    if (g.guided) g.labels[g.n + b] = info->null_class;
  }
  if (s == LEAP_OK) {
    if (desc->noise) {
      for (size_t k = 0; k < (size_t)g.n * g.numel; k++)
        if (!isfinite(desc->noise[k])) {
          s = lp_error(LEAP_ERR_NUMERIC, "leap_sample: the initial noise has a non-finite value at %zu", k);
          break;
        }
      if (s == LEAP_OK) memcpy(out, desc->noise, (size_t)g.n * g.numel * sizeof(float));
    } else {
      lp_noise_fill_at(desc->seed, desc->first, g.n, g.numel, out);
    }
  }
  if (s == LEAP_OK) {
    lp_sampler_cfg cfg = {.solver = desc->solver, .schedule = desc->schedule,
                          .pred = info->prediction, .steps = desc->steps, .shift = desc->shift,
                          .eta = desc->eta, .timestep_scale = info->timestep_scale,
                          .seed = desc->seed, .first = desc->first,
                          .step_hook = cache ? cache_step_hook : NULL, .step_user = &g};
    s = lp_sample_run(&cfg, g.n, g.numel, out, guided_model, &g, desc->progress, desc->progress_user);
  }
  free(g.labels);
  free(g.out);
  return s;
}
