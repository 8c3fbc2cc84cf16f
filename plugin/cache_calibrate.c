/* cache_calibrate.c - ERTACache's offline profiling (see
 * cache_calibrate.h). Pass 1 samples the calibration batch with full
 * compute and measures, on the backend's L1 kernel, the relative error
 * ||r_j - r_i||_1 / ||r_j||_1 of reusing step j's block-stack residual at
 * each later step i inside a window: every threshold's reuse schedule is
 * then a cheap walk over that table. Pass 2, once per setting, runs the
 * batch along the cached path in lockstep and at each reused step fits,
 * from the true residual (the blocks still run, for measurement only):
 *   - the rectification: r_true ~= a r_cached + b per CFG branch and hidden
 *     channel, least squares in closed form (the paper's e = sigma(K v~ + B)
 *     with sigma linearised is the same linear model);
 *   - phi from the endpoint error: the phi minimising |x + phi dt v^ -
 *     (x + dt v)|^2, i.e. <v^, v> / <v^, v^> over the batch, with and without
 *     rectification, and the paper's clip(1 - |v~ - v|_1 / |v_i - v_i+1|_1);
 * and continues with the corrected step, so later fits see the path that
 * sampling with the profile takes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_calibrate.h"
#include "cache_exec.h"
#include "error.h"
#include "model_internal.h"
#include "sampler.h"

typedef struct calib {
  leap_model *m;
  lp_dit *d;
  lp_backend *be;
  lp_cache_exec ex;
  const lp_cache_calib_cfg *cfg;
  lp_cache_profile *p;
  int n, nb, guided, S, W, pass;
  size_t numel, out_numel;
  int64_t L, D;
  int32_t *labels;
  float *xin, *t, *out;
  lp_buf *before, *rtrue, *rcache, *prev_in, *ring, *l1, *coef;
  float *l1h, *rt_h, *rc_h, *v, *vt, *vtil, *vprev;
  double *dist;        /* [S * S] pass 1 */
  lp_cache_setting *set;
  int eval, prev_reused;
  double prev_dcache;  /* |v~ - v|_1 of the previous (reused) step */
  int progress_base, progress_total;
} calib;

static leap_status axpby(calib *c, lp_buf *x, size_t xo, lp_buf *y, size_t yo, float a, float b, lp_buf *o, size_t oo) {
  lp_op op;
  memset(&op, 0, sizeof op);
  op.kind = LP_OP_CACHE_AXPBY;
  op.in[0] = (lp_view){x, xo};
  if (y) op.in[1] = (lp_view){y, yo};
  op.out = (lp_view){o, oo};
  op.i[0] = (int32_t)(c->nb * c->L);
  op.f[0] = a, op.f[1] = y ? b : 0.0f;
  return lp_cache_exec_run(&c->ex, &op);
}

/* Mean over the batch rows of |x - y|_1 / |y|_1. */
static leap_status rel_l1(calib *c, lp_buf *x, size_t xo, lp_buf *y, size_t yo, double *mean) {
  lp_op op;
  memset(&op, 0, sizeof op);
  op.kind = LP_OP_CACHE_L1;
  op.in[0] = (lp_view){x, xo};
  op.in[1] = (lp_view){y, yo};
  op.out = (lp_view){c->l1, 0};
  op.i[0] = c->nb, op.i[1] = (int32_t)c->L;
  leap_status s = lp_cache_exec_run(&c->ex, &op);
  if (s == LEAP_OK) s = c->be->vt->buf_read(c->be, c->l1, 0, c->l1h, (size_t)c->nb * 2 * sizeof(float));
  if (s != LEAP_OK) return s;
  double sum = 0;
  for (int r = 0; r < c->nb; r++) sum += c->l1h[2 * r] / (c->l1h[2 * r + 1] + 1e-12);
  *mean = sum / c->nb;
  return LEAP_OK;
}

static leap_status apply(calib *c, lp_buf *coef) {
  lp_op op;
  memset(&op, 0, sizeof op);
  op.kind = LP_OP_CACHE_APPLY;
  op.in[0] = (lp_view){c->before, 0};
  op.in[1] = (lp_view){c->rcache, 0};
  if (coef) op.in[2] = (lp_view){coef, 0};
  op.out = (lp_view){c->d->plan.h, 0};
  op.i[0] = c->nb, op.i[1] = (int32_t)c->L, op.i[2] = (int32_t)c->D, op.i[3] = 1, op.i[4] = c->n;
  return lp_cache_exec_run(&c->ex, &op);
}

/* The final layer on the current hidden states; guided velocity into v. */
static leap_status final(calib *c, float *v) {
  lp_dit *d = c->d;
  leap_status s = c->be->vt->prog_run(c->be, &d->plan.final);
  if (s == LEAP_OK)
    s = c->be->vt->buf_read(c->be, d->plan.out, 0, c->out, (size_t)c->nb * c->out_numel * sizeof(float));
  if (s != LEAP_OK) return s;
  const float w = (float)c->cfg->cfg;
  for (int b = 0; b < c->n; b++) {
    const float *cd = c->out + (size_t)b * c->out_numel;
    float *dst = v + (size_t)b * c->numel;
    if (!c->guided) {
      memcpy(dst, cd, c->numel * sizeof(float));
      continue;
    }
    const float *u = c->out + (size_t)(c->n + b) * c->out_numel;
    for (size_t k = 0; k < c->numel; k++) dst[k] = u[k] + w * (cd[k] - u[k]);
  }
  return LEAP_OK;
}

static leap_status embed(calib *c, const float *x, double t_model) {
  for (int b = 0; b < c->nb; b++) c->t[b] = (float)t_model;
  memcpy(c->xin, x, (size_t)c->n * c->numel * sizeof(float));
  if (c->guided) memcpy(c->xin + (size_t)c->n * c->numel, x, (size_t)c->n * c->numel * sizeof(float));
  return leap_model_embed(c->m, c->nb, c->xin, c->t, c->labels);
}

static leap_status pass1(calib *c, int i) {
  const size_t slot = (size_t)(i % c->W) * c->nb * c->L;
  leap_status s = LEAP_OK;
  if (i > 0) s = rel_l1(c, c->d->plan.h, 0, c->prev_in, 0, &c->p->tc_indicator[i]);
  if (s == LEAP_OK) s = axpby(c, c->d->plan.h, 0, NULL, 0, 1, 0, c->prev_in, 0);
  if (s == LEAP_OK) s = axpby(c, c->d->plan.h, 0, NULL, 0, 1, 0, c->before, 0);
  if (s == LEAP_OK) s = leap_model_blocks(c->m);
  if (s == LEAP_OK) s = axpby(c, c->d->plan.h, 0, c->before, 0, 1, -1, c->ring, slot);
  for (int j = i - 1; s == LEAP_OK && j >= 0 && j > i - c->W; j--)
    s = rel_l1(c, c->ring, slot, c->ring, (size_t)(j % c->W) * c->nb * c->L, &c->dist[(size_t)j * c->S + i]);
  if (s == LEAP_OK && i > 0) c->p->rel_change[i] = c->dist[(size_t)(i - 1) * c->S + i];
  return s;
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* r_true ~= a r_cached + b per branch and channel, into the setting's
 * coefficients of step i; the relative errors before and after. */
static void fit_rect(calib *c, int i) {
  const int C = (int)c->D, G = c->guided ? 2 : 1;
  float *coef = c->set->coef + (size_t)i * G * 2 * C;
  double *acc = calloc((size_t)C * 5, sizeof *acc);
  if (!acc) return; /* keeps a = 1, b = 0 */
  for (int g = 0; g < G; g++) {
    memset(acc, 0, (size_t)C * 5 * sizeof *acc);
    for (int r = g * c->n; r < (g + 1) * c->n; r++)
      for (int64_t l = 0; l < c->L; l++) {
        const double x = c->rc_h[(size_t)r * c->L + l], y = c->rt_h[(size_t)r * c->L + l];
        double *a = acc + (size_t)(l % C) * 5;
        a[0] += 1, a[1] += x, a[2] += y, a[3] += x * x, a[4] += x * y;
      }
    for (int ch = 0; ch < C; ch++) {
      const double *a = acc + (size_t)ch * 5;
      const double mx = a[1] / a[0], my = a[2] / a[0];
      const double vx = a[3] / a[0] - mx * mx, cxy = a[4] / a[0] - mx * my;
      const double k = vx > 1e-20 ? cxy / vx : 1.0;
      coef[(size_t)(g * 2) * C + ch] = (float)k;
      coef[(size_t)(g * 2 + 1) * C + ch] = (float)(my - k * mx);
    }
  }
  free(acc);
  double ep = 0, er = 0, ref = 0;
  for (int r = 0; r < c->nb; r++) {
    const float *cf = coef + (size_t)(r / c->n) * 2 * C;
    for (int64_t l = 0; l < c->L; l++) {
      const double x = c->rc_h[(size_t)r * c->L + l], y = c->rt_h[(size_t)r * c->L + l];
      ep += fabs(x - y);
      er += fabs(cf[l % C] * x + cf[C + l % C] - y);
      ref += fabs(y);
    }
  }
  c->set->err_plain[i] = ep / (ref + 1e-30);
  c->set->err_rect[i] = er / (ref + 1e-30);
}

static void dots(const float *a, const float *b, size_t n, double *ab, double *aa) {
  double x = 0, y = 0;
  for (size_t k = 0; k < n; k++) x += (double)a[k] * b[k], y += (double)a[k] * a[k];
  *ab = x, *aa = y;
}

static double l1dist(const float *a, const float *b, size_t n) {
  double x = 0;
  for (size_t k = 0; k < n; k++) x += fabs((double)a[k] - b[k]);
  return x;
}

static leap_status pass2(calib *c, int i, float *pred) {
  const size_t nv = (size_t)c->n * c->numel, nh = (size_t)c->nb * c->L;
  lp_cache_setting *set = c->set;
  leap_status s = axpby(c, c->d->plan.h, 0, NULL, 0, 1, 0, c->before, 0);
  if (s == LEAP_OK) s = leap_model_blocks(c->m);
  if (s == LEAP_OK) s = axpby(c, c->d->plan.h, 0, c->before, 0, 1, -1, c->rtrue, 0);
  if (s == LEAP_OK) s = final(c, c->vt);
  if (s != LEAP_OK) return s;
  if (c->prev_reused) /* the paper's phi of the previous step needs v_i+1 */
    set->phi_paper[i - 1] = clampd(1.0 - c->prev_dcache / (l1dist(c->vprev, c->vt, nv) + 1e-12), 0, 1);
  memcpy(c->vprev, c->vt, nv * sizeof(float));
  c->prev_reused = set->reuse[i];
  if (!set->reuse[i]) {
    memcpy(pred, c->vt, nv * sizeof(float));
    return axpby(c, c->rtrue, 0, NULL, 0, 1, 0, c->rcache, 0);
  }
  s = c->be->vt->buf_read(c->be, c->rtrue, 0, c->rt_h, nh * sizeof(float));
  if (s == LEAP_OK) s = c->be->vt->buf_read(c->be, c->rcache, 0, c->rc_h, nh * sizeof(float));
  if (s != LEAP_OK) return s;
  fit_rect(c, i);
  const int G = c->guided ? 2 : 1;
  s = c->be->vt->buf_write(c->be, c->coef, 0, set->coef + (size_t)i * G * 2 * c->D, (size_t)G * 2 * c->D * sizeof(float));
  if (s == LEAP_OK) s = apply(c, NULL);
  if (s == LEAP_OK) s = final(c, c->vtil);
  if (s == LEAP_OK) s = apply(c, c->coef);
  if (s == LEAP_OK) s = final(c, c->v);
  if (s != LEAP_OK) return s;
  double ab, aa;
  dots(c->vtil, c->vt, nv, &ab, &aa);
  set->phi_norect[i] = aa > 0 ? clampd(ab / aa, 0.5, 1.5) : 1.0;
  dots(c->v, c->vt, nv, &ab, &aa);
  set->phi[i] = aa > 0 ? clampd(ab / aa, 0.5, 1.5) : 1.0;
  if (c->d->info.prediction != LEAP_PRED_FLOW_V) /* phi scales a velocity: flow models only */
    set->phi_norect[i] = set->phi[i] = 1.0;
  c->prev_dcache = l1dist(c->vtil, c->vt, nv);
  const float phi = (float)set->phi[i];
  for (size_t k = 0; k < nv; k++) pred[k] = phi * c->v[k];
  return LEAP_OK;
}

static leap_status model_cb(void *user, const float *x, int point, double t_model, float *pred) {
  (void)point;
  calib *c = user;
  const int i = c->eval++;
  leap_status s = embed(c, x, t_model);
  if (s != LEAP_OK) return s;
  if (c->pass == 1) {
    s = pass1(c, i);
    if (s == LEAP_OK) s = final(c, pred);
  } else {
    s = pass2(c, i, pred);
  }
  if (s == LEAP_OK && c->cfg->progress &&
      c->cfg->progress(c->cfg->progress_user, c->progress_base + i + 1, c->progress_total))
    s = lp_error(LEAP_ERR_INTERRUPTED, "leap profile: interrupted");
  return s;
}

static leap_status run_pass(calib *c, float *x) {
  const lp_cache_calib_cfg *cfg = c->cfg;
  lp_noise_fill(cfg->seed, c->n, c->numel, x);
  lp_sampler_cfg sc = {.solver = cfg->solver, .schedule = cfg->schedule, .pred = c->d->info.prediction,
                       .steps = cfg->steps, .shift = cfg->shift, .eta = 0, .timestep_scale = c->d->info.timestep_scale,
                       .seed = cfg->seed};
  c->eval = 0;
  c->prev_reused = 0;
  leap_status s = lp_sample_run(&sc, c->n, c->numel, x, model_cb, c, NULL, NULL);
  c->progress_base += cfg->steps;
  return s;
}

int lp_cache_policy_walk(const double *dist, int steps, int window, double lambda, unsigned char *reuse) {
  int computed = 1, last = 0;
  reuse[0] = 0;
  for (int i = 1; i < steps; i++) {
    const int ok = i - last < window && dist[(size_t)last * steps + i] < lambda;
    reuse[i] = (unsigned char)ok;
    if (!ok) last = i, computed++;
  }
  return computed;
}

double lp_cache_lambda_for(const double *dist, int steps, int window, int target) {
  unsigned char *tmp = malloc((size_t)steps);
  if (!tmp) return 0;
  double best = 0;
  int best_gap = steps + 1, best_count = steps;
  /* Candidates: 0 (compute all) and just above every measured error. */
  for (int j = -1; j < steps; j++)
    for (int i = j + 1; i < steps && (j < 0 ? i == 0 : i - j < window); i++) {
      const double lam = j < 0 ? 0 : dist[(size_t)j * steps + i] * (1 + 1e-9) + 1e-15;
      const int count = lp_cache_policy_walk(dist, steps, window, lam, tmp);
      const int gap = abs(count - target);
      if (gap < best_gap || (gap == best_gap && (count > best_count || (count == best_count && lam < best))))
        best = lam, best_gap = gap, best_count = count;
    }
  free(tmp);
  return best;
}

static int tc_count(const lp_cache_profile *p, double thr) {
  double acc = 0;
  int computed = 1;
  for (int i = 1; i < p->steps; i++) {
    acc += fabs(lp_cache_tc_eval(p, p->tc_indicator[i]));
    if (acc < thr) continue;
    acc = 0;
    computed++;
  }
  return computed;
}

double lp_cache_tc_threshold_for(const lp_cache_profile *p, int target) {
  double lo = 0, hi = 1e-6;
  while (tc_count(p, hi) > target && hi < 1e6) hi *= 2;
  for (int it = 0; it < 100; it++) {
    const double mid = 0.5 * (lo + hi);
    if (tc_count(p, mid) > target) lo = mid;
    else hi = mid;
  }
  return hi;
}

void lp_cache_polyfit(const double *x, const double *y, int n, double *coef) {
  enum { K = LP_TC_DEGREE + 1 };
  double scale = 0;
  for (int i = 0; i < n; i++) scale = fmax(scale, fabs(x[i]));
  if (scale == 0) scale = 1;
  double A[K][K + 1];
  memset(A, 0, sizeof A);
  for (int i = 0; i < n; i++) {
    double pw[K];
    pw[0] = 1;
    for (int k = 1; k < K; k++) pw[k] = pw[k - 1] * (x[i] / scale);
    for (int r = 0; r < K; r++) {
      for (int q = 0; q < K; q++) A[r][q] += pw[r] * pw[q];
      A[r][K] += pw[r] * y[i];
    }
  }
  for (int r = 0; r < K; r++) A[r][r] += 1e-9 * (A[r][r] + 1e-12); /* ridge: few points */
  for (int col = 0; col < K; col++) { /* Gauss-Jordan with partial pivoting */
    int piv = col;
    for (int r = col + 1; r < K; r++)
      if (fabs(A[r][col]) > fabs(A[piv][col])) piv = r;
    for (int q = 0; q <= K; q++) {
      double tmp = A[col][q];
      A[col][q] = A[piv][q], A[piv][q] = tmp;
    }
    if (fabs(A[col][col]) < 1e-300) continue;
    for (int r = 0; r < K; r++) {
      if (r == col) continue;
      const double f = A[r][col] / A[col][col];
      for (int q = col; q <= K; q++) A[r][q] -= f * A[col][q];
    }
  }
  double sk = 1;
  for (int k = 0; k < K; k++, sk *= scale) coef[k] = fabs(A[k][k]) > 1e-300 ? A[k][K] / A[k][k] / sk : 0;
}

static void calib_free(calib *c) {
  lp_cache_exec_free(&c->ex);
  lp_buf *bufs[] = {c->before, c->rtrue, c->rcache, c->prev_in, c->ring, c->l1, c->coef};
  for (int k = 0; k < 7; k++)
    if (bufs[k]) c->be->vt->buf_free(c->be, bufs[k]);
  free(c->labels), free(c->xin), free(c->t), free(c->out), free(c->l1h), free(c->rt_h), free(c->rc_h);
  free(c->v), free(c->vt), free(c->vtil), free(c->vprev), free(c->dist);
}

leap_status lp_cache_calibrate(leap_model *m, const lp_cache_calib_cfg *cfg, lp_cache_profile *out) {
  if (!m || !cfg || !out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_cache_calibrate: NULL argument");
  memset(out, 0, sizeof *out);
  const leap_model_info *info = &m->dit.info;
  if (cfg->images < 1 || cfg->steps < 2 || cfg->window < 2 || cfg->nlambdas + cfg->ntargets < 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap profile: need >= 1 image, >= 2 steps, window >= 2 and a setting");
  if (cfg->solver == LEAP_SOLVER_HEUN)
    return lp_error(LEAP_ERR_UNSUPPORTED, "leap profile: Heun evaluates twice per step; profile a one-evaluation "
                    "solver (euler, ddim, dpmpp_2m, euler_a)");
  for (int k = 0; k < cfg->ntargets; k++)
    if (cfg->targets[k] < 1 || cfg->targets[k] > cfg->steps)
      return lp_error(LEAP_ERR_INVALID_ARG, "leap profile: computed-step target %d outside 1..%d", cfg->targets[k],
                      cfg->steps);
  calib c;
  memset(&c, 0, sizeof c);
  c.m = m, c.d = &m->dit, c.be = m->dit.be, c.ex.be = c.be, c.cfg = cfg, c.p = out;
  c.n = cfg->images, c.guided = info->num_classes > 0 && cfg->cfg != 1.0, c.nb = c.guided ? 2 * c.n : c.n;
  c.S = cfg->steps, c.W = cfg->window < cfg->steps ? cfg->window : cfg->steps;
  c.numel = (size_t)info->in_channels * info->input_size * info->input_size;
  c.out_numel = (size_t)info->out_channels * info->input_size * info->input_size;
  c.D = info->hidden_size, c.L = (int64_t)info->tokens * info->hidden_size;
  c.progress_total = cfg->steps * (1 + cfg->nlambdas + cfg->ntargets);
  lp_cache_profile *p = out;
  leap_status s = leap_model_id(m, p->model_id, sizeof p->model_id);
  p->solver = cfg->solver, p->schedule = cfg->schedule, p->shift = cfg->shift, p->cfg = cfg->cfg;
  p->steps = cfg->steps, p->level = LEAP_CACHE_HIDDEN, p->channels = (int)c.D, p->branches = c.guided ? 2 : 1;
  p->calib_images = c.n, p->calib_seed = cfg->seed, p->window = c.W;
  if (s == LEAP_OK) s = lp_cache_profile_alloc(p, cfg->nlambdas + cfg->ntargets);
  const size_t nh = (size_t)c.nb * c.L, nv = (size_t)c.n * c.numel;
  c.labels = calloc((size_t)c.nb, sizeof *c.labels);
  c.xin = malloc((size_t)c.nb * c.numel * sizeof(float));
  c.t = malloc((size_t)c.nb * sizeof(float));
  c.out = malloc((size_t)c.nb * c.out_numel * sizeof(float));
  c.l1h = malloc((size_t)c.nb * 2 * sizeof(float));
  c.rt_h = malloc(nh * sizeof(float)), c.rc_h = malloc(nh * sizeof(float));
  c.v = malloc(nv * sizeof(float)), c.vt = malloc(nv * sizeof(float));
  c.vtil = malloc(nv * sizeof(float)), c.vprev = malloc(nv * sizeof(float));
  c.dist = calloc((size_t)c.S * c.S, sizeof(double));
  float *x = malloc(nv * sizeof(float));
  if (s == LEAP_OK && (!c.labels || !c.xin || !c.t || !c.out || !c.l1h || !c.rt_h || !c.rc_h || !c.v || !c.vt ||
                       !c.vtil || !c.vprev || !c.dist || !x))
    s = lp_error(LEAP_ERR_NOMEM, "leap profile: out of memory");
  for (int b = 0; s == LEAP_OK && b < c.n; b++) {
    c.labels[b] = cfg->labels ? cfg->labels[b] : info->null_class;
    if (c.guided) c.labels[c.n + b] = info->null_class;
    p->calib_labels[b] = c.labels[b];
  }
  lp_buf **bufs[] = {&c.before, &c.rtrue, &c.rcache, &c.prev_in};
  for (int k = 0; s == LEAP_OK && k < 4; k++) s = c.be->vt->buf_alloc(c.be, nh * sizeof(float), bufs[k]);
  if (s == LEAP_OK) s = c.be->vt->buf_alloc(c.be, (size_t)c.W * nh * sizeof(float), &c.ring);
  if (s == LEAP_OK) s = c.be->vt->buf_alloc(c.be, (size_t)c.nb * 2 * sizeof(float), &c.l1);
  if (s == LEAP_OK) s = c.be->vt->buf_alloc(c.be, (size_t)p->branches * 2 * c.D * sizeof(float), &c.coef);
  /* Pass 1: full compute, the error table and the TeaCache data. */
  c.pass = 1;
  if (s == LEAP_OK) s = run_pass(&c, x);
  if (s == LEAP_OK) lp_cache_polyfit(p->tc_indicator + 1, p->rel_change + 1, c.S - 1, p->tc_poly);
  /* Pass 2 per setting. */
  for (int k = 0; s == LEAP_OK && k < p->nsettings; k++) {
    lp_cache_setting *set = &p->settings[k];
    if (k < cfg->nlambdas) {
      set->lambda = cfg->lambdas[k];
      snprintf(set->name, sizeof set->name, "lambda=%g", set->lambda);
    } else {
      const int target = cfg->targets[k - cfg->nlambdas];
      set->lambda = lp_cache_lambda_for(c.dist, c.S, c.W, target);
      snprintf(set->name, sizeof set->name, "computed=%d", target);
    }
    set->computed = lp_cache_policy_walk(c.dist, c.S, c.W, set->lambda, set->reuse);
    c.set = set;
    c.pass = 2;
    s = run_pass(&c, x);
  }
  free(x);
  calib_free(&c);
  if (s != LEAP_OK) lp_cache_profile_free(p);
  return s;
}
