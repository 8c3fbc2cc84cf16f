/* cache_calibrate.c - ERTACache's offline profiling (see
 * cache_calibrate.h). Pass 1 samples the calibration batch with full
 * compute and measures, on the backend's L1 kernel, the relative error
 * ||r_j - r_i||_1 / ||r_j||_1 of reusing step j's block-stack residual at
 * each later step i inside a window: every threshold's reuse schedule is
 * then a cheap walk over that table. Pass 2 runs the batch along the cached
 * path in lockstep, once per setting and rectification candidate, and at
 * each reused step fits, from the true residual (the blocks still run, for
 * measurement only):
 *   - the rectification: r_true ~= K r_cached + B per hidden channel, least
 *     squares in closed form (the paper's e = sigma(K v~ + B) with sigma
 *     linearised is the same linear model) on the guided combination
 *     w r_cond - (w - 1) r_uncond of the branches, since that is what the
 *     sampler's velocity is made of (per-branch fits lowered each branch's
 *     error but broke the correlation of the two errors that guidance
 *     cancels, so the guided error hardly moved); the same K, B serve both
 *     branches. The candidate's shrinkage s toward the identity gives
 *     a = 1 + s (K - 1), b = s B;
 *   - phi from the endpoint error: the phi minimising |x + phi dt v^ -
 *     (x + dt v)|^2, i.e. <v^, v> / <v^, v^> over the batch, and the paper's
 *     clip(1 - |v~ - v|_1 / |v_i - v_i+1|_1);
 * and continues with the corrected step, so later fits see the path that
 * sampling with the profile takes, the errors of earlier reuse included.
 *
 * Which shrinkage (0 = no rectification) a setting keeps is decided on the
 * final images, not on the one-step error: on the default model the fits
 * lowered the one-step velocity error of every reused step, also out of
 * sample, and still made the images worse. So the calibration images are
 * split into k folds; in a candidate's pass every image is rectified with
 * coefficients fitted without its fold (per-row coefficients), and its
 * final image is compared with the full-compute one of pass 1. The one-
 * standard-error rule then picks the smallest shrinkage whose mean PSNR is
 * within one standard error (paired, per image) of the best candidate's:
 * rectification stays off unless it wins by more than the noise. The
 * coefficients stored are those fitted on all images along the kept path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_calibrate.h"
#include "alloc.h"
#include "prog_cache.h"
#include "error.h"
#include "model_internal.h"
#include "sampler.h"

typedef struct calib {
  leap_model *m;
  lp_dit *d;
  lp_backend *be;
  lp_prog_cache ex;
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
  double shrink;       /* pass 2: the rectification candidate (0 = off) */
  int folds;           /* cross-validation folds over the images */
  double *rstats;      /* [n][C][5] */
  float *kb;           /* [folds + 1][2][C]: K, B without fold f; all images last */
  float *coef_rows;    /* [nb][2][C] out-of-fold coefficients of each row */
  float *xref;         /* [n * numel] pass 1's final images */
  int eval, prev_reused;
  double prev_dcache;  /* |v~ - v|_1 of the previous (reused) step */
  int progress_base, progress_total;
} calib;

static leap_status axpby(calib *c, lp_buf *x, size_t xo, lp_buf *y, size_t yo, float a, float b, lp_buf *o, size_t oo) {
  const lp_op op = lp_op_axpby((lp_view){x, xo}, (lp_view){y, y ? yo : 0}, (lp_view){o, oo}, c->nb * c->L, a, b);
  return lp_prog_cache_run1(&c->ex, &op);
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
  leap_status s = lp_prog_cache_run1(&c->ex, &op);
  if (s == LEAP_OK) s = c->be->vt->buf_read(c->be, c->l1, 0, c->l1h, (size_t)c->nb * 2 * sizeof(float));
  if (s != LEAP_OK) return s;
  double sum = 0;
  for (int r = 0; r < c->nb; r++) sum += c->l1h[2 * r] / (c->l1h[2 * r + 1] + 1e-12);
  *mean = sum / c->nb;
  return LEAP_OK;
}

/* before + the cached residual (rectified with coef: one coefficient set
 * per rpg rows) into the hidden states. */
static leap_status apply(calib *c, lp_buf *coef, int rpg) {
  lp_op op;
  memset(&op, 0, sizeof op);
  op.kind = LP_OP_CACHE_APPLY;
  op.in[0] = (lp_view){c->before, 0};
  op.in[1] = (lp_view){c->rcache, 0};
  if (coef) op.in[2] = (lp_view){coef, 0};
  op.out = (lp_view){c->d->plan.h, 0};
  op.i[0] = c->nb, op.i[1] = (int32_t)c->L, op.i[2] = (int32_t)c->D, op.i[3] = 1, op.i[4] = rpg;
  return lp_prog_cache_run1(&c->ex, &op);
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

void lp_cache_rect_stats(const float *x, const float *y, int images, int branches, double w, int64_t L, int C,
                         double *st) {
  memset(st, 0, (size_t)images * C * 5 * sizeof *st);
  for (int r = 0; r < images; r++) {
    double *base = st + (size_t)r * C * 5;
    const float *xc = x + (size_t)r * L, *yc = y + (size_t)r * L;
    const float *xu = branches == 2 ? x + (size_t)(images + r) * L : xc;
    const float *yu = branches == 2 ? y + (size_t)(images + r) * L : yc;
    for (int64_t l = 0; l < L; l++) {
      double xv = xc[l], yv = yc[l];
      if (branches == 2) xv = w * xc[l] - (w - 1) * xu[l], yv = w * yc[l] - (w - 1) * yu[l];
      double *a = base + (size_t)(l % C) * 5;
      a[0] += 1, a[1] += xv, a[2] += yv, a[3] += xv * xv, a[4] += xv * yv;
    }
  }
}

int lp_cache_rect_fold(int image, int images, int folds) { return (int)((int64_t)image * folds / images); }

void lp_cache_rect_fit(const double *st, int images, int C, int folds, int skip, float *K, float *B) {
  for (int ch = 0; ch < C; ch++) {
    double a[5] = {0, 0, 0, 0, 0};
    for (int r = 0; r < images; r++) {
      if (skip >= 0 && lp_cache_rect_fold(r, images, folds) == skip) continue;
      const double *q = st + ((size_t)r * C + ch) * 5;
      for (int k = 0; k < 5; k++) a[k] += q[k];
    }
    double k = 1, b = 0;
    if (a[0] > 0) {
      const double mx = a[1] / a[0], my = a[2] / a[0];
      const double vx = a[3] / a[0] - mx * mx, cxy = a[4] / a[0] - mx * my;
      /* A channel whose cached residual does not vary says nothing about
       * K: keep the identity there. */
      if (vx > 1e-12 * (a[3] / a[0]) && vx > 1e-30) k = cxy / vx, b = my - k * mx;
    }
    K[ch] = (float)k, B[ch] = (float)b;
  }
}

int lp_cache_one_se(const double *score, int ncand, int n, double *mean, double *se) {
  int best = 0;
  for (int q = 0; q < ncand; q++) {
    double m = 0;
    for (int b = 0; b < n; b++) m += score[(size_t)q * n + b];
    mean[q] = m / n;
    if (mean[q] > mean[best]) best = q;
  }
  for (int q = 0; q < ncand; q++) { /* paired against candidate 0 (off) */
    double m = 0, v = 0;
    for (int b = 0; b < n; b++) m += score[(size_t)q * n + b] - score[b];
    m /= n;
    for (int b = 0; b < n; b++) {
      const double d = score[(size_t)q * n + b] - score[b] - m;
      v += d * d;
    }
    se[q] = n > 1 ? sqrt(v / (n - 1) / n) : 0; /* one item: no spread to measure */
  }
  for (int q = 0; q < ncand; q++) { /* simplest first */
    double m = 0, v = 0;
    for (int b = 0; b < n; b++) m += score[(size_t)best * n + b] - score[(size_t)q * n + b];
    m /= n;
    for (int b = 0; b < n; b++) {
      const double d = score[(size_t)best * n + b] - score[(size_t)q * n + b] - m;
      v += d * d;
    }
    const double sd = n > 1 ? sqrt(v / (n - 1) / n) : INFINITY; /* one item: nothing is clear */
    if (q == best || (m <= sd && (q == 0 || mean[q] > mean[0]))) return q;
  }
  return best;
}

/* Rectification at reused step i of a pass with shrinkage c->shrink > 0:
 * fits from the host copies rc_h (cached) and rt_h (true), stores the
 * all-image coefficients in the setting and uploads each row's out-of-fold
 * coefficients into c->coef. */
static leap_status fit_rect(calib *c, int i) {
  const int C = (int)c->D, G = c->guided ? 2 : 1, F = c->folds;
  const double sh = c->shrink;
  lp_cache_rect_stats(c->rc_h, c->rt_h, c->n, G, c->cfg->cfg, c->L, C, c->rstats);
  for (int f = 0; f <= F; f++) /* f < F: without fold f; f = F: all images */
    lp_cache_rect_fit(c->rstats, c->n, C, F, f < F ? f : -1, c->kb + (size_t)f * 2 * C,
                      c->kb + ((size_t)f * 2 + 1) * C);
  float *coef = c->set->coef + (size_t)i * G * 2 * C;
  const float *K = c->kb + (size_t)F * 2 * C, *B = K + C;
  for (int g = 0; g < G; g++)
    for (int ch = 0; ch < C; ch++) {
      coef[(size_t)(g * 2) * C + ch] = (float)(1 + sh * (K[ch] - 1));
      coef[(size_t)(g * 2 + 1) * C + ch] = (float)(sh * B[ch]);
    }
  for (int row = 0; row < c->nb; row++) {
    const float *Kf = c->kb + (size_t)lp_cache_rect_fold(row % c->n, c->n, F) * 2 * C, *Bf = Kf + C;
    float *dst = c->coef_rows + (size_t)row * 2 * C;
    for (int ch = 0; ch < C; ch++) dst[ch] = (float)(1 + sh * (Kf[ch] - 1)), dst[C + ch] = (float)(sh * Bf[ch]);
  }
  return c->be->vt->buf_write(c->be, c->coef, 0, c->coef_rows, (size_t)c->nb * 2 * C * sizeof(float));
}

/* Relative L1 errors of the guided cached residual, plain and rectified
 * with the rows' coefficients (coef_rows; NULL = plain). */
static void residual_errors(calib *c, int i, const float *coef_rows) {
  const int C = (int)c->D;
  const double w = c->cfg->cfg;
  double ep = 0, er = 0, ref = 0;
  for (int r = 0; r < c->n; r++)
    for (int64_t l = 0; l < c->L; l++) {
      const int ch = (int)(l % C);
      const size_t kc = (size_t)r * c->L + l, ku = c->guided ? (size_t)(c->n + r) * c->L + l : kc;
      const float *cc = coef_rows ? coef_rows + (size_t)r * 2 * C : NULL;
      const float *cu = coef_rows && c->guided ? coef_rows + (size_t)(c->n + r) * 2 * C : cc;
      double x = c->rc_h[kc], y = c->rt_h[kc], xr = cc ? cc[ch] * c->rc_h[kc] + cc[C + ch] : x;
      if (c->guided) {
        x = w * x - (w - 1) * c->rc_h[ku], y = w * y - (w - 1) * c->rt_h[ku];
        xr = cc ? w * xr - (w - 1) * (cu[ch] * c->rc_h[ku] + cu[C + ch]) : x;
      }
      ep += fabs(x - y), er += fabs(xr - y), ref += fabs(y);
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
  if (s == LEAP_OK) s = apply(c, NULL, c->n);
  if (s == LEAP_OK) s = final(c, c->vtil);
  if (s != LEAP_OK) return s;
  if (c->shrink > 0) {
    s = fit_rect(c, i);
    if (s == LEAP_OK) s = apply(c, c->coef, 1);
    if (s == LEAP_OK) s = final(c, c->v);
    if (s != LEAP_OK) return s;
    residual_errors(c, i, c->coef_rows);
  } else {
    memcpy(c->v, c->vtil, nv * sizeof(float));
    residual_errors(c, i, NULL);
  }
  double ab, aa;
  dots(c->v, c->vt, nv, &ab, &aa);
  set->phi[i] = aa > 0 ? clampd(ab / aa, 0.5, 1.5) : 1.0;
  if (c->d->info.prediction != LEAP_PRED_FLOW_V) /* phi scales a velocity: flow models only */
    set->phi[i] = 1.0;
  set->phi_norect[i] = set->phi[i]; /* the s = 0 pass's is kept */
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
  unsigned char *tmp = lp_malloc((size_t)steps);
  if (!tmp) return -1;
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
  lp_prog_cache_free(&c->ex);
  lp_buf *bufs[] = {c->before, c->rtrue, c->rcache, c->prev_in, c->ring, c->l1, c->coef};
  for (int k = 0; k < 7; k++)
    if (bufs[k]) c->be->vt->buf_free(c->be, bufs[k]);
  free(c->labels), free(c->xin), free(c->t), free(c->out), free(c->l1h), free(c->rt_h), free(c->rc_h);
  free(c->v), free(c->vt), free(c->vtil), free(c->vprev), free(c->dist);
  free(c->rstats), free(c->kb), free(c->coef_rows), free(c->xref);
}

/* PSNR of each final image against full compute (pixels in [-1, 1]: peak-
 * to-peak 2, as leap bench erta reports it), capped at 99 dB. */
static void image_psnr(const calib *c, const float *x, double *out) {
  for (int b = 0; b < c->n; b++) {
    double mse = 0;
    const float *p = x + (size_t)b * c->numel, *q = c->xref + (size_t)b * c->numel;
    for (size_t k = 0; k < c->numel; k++) mse += ((double)p[k] - q[k]) * ((double)p[k] - q[k]);
    mse /= (double)c->numel;
    out[b] = mse > 0 ? fmin(10 * log10(4.0 / mse), 99.0) : 99.0;
  }
}

/* Pass 2 of one setting: a lockstep pass per rectification candidate (off
 * first); the setting keeps the one the one-standard-error rule picks. */
static leap_status profile_setting(calib *c, lp_cache_setting *set, float *x, const double *grid, int ncand,
                                   double *score) {
  lp_cache_setting cand[LP_RECT_MAXCAND];
  memset(cand, 0, sizeof cand);
  leap_status s = LEAP_OK;
  for (int q = 0; s == LEAP_OK && q < ncand; q++) {
    if ((s = lp_cache_setting_alloc(c->p, &cand[q])) != LEAP_OK) break;
    memcpy(cand[q].reuse, set->reuse, (size_t)c->S);
    c->set = &cand[q], c->shrink = grid[q], c->pass = 2;
    if ((s = run_pass(c, x)) != LEAP_OK) break;
    image_psnr(c, x, score + (size_t)q * c->n);
  }
  if (s == LEAP_OK) {
    double mean[LP_RECT_MAXCAND], se[LP_RECT_MAXCAND];
    const int pick = lp_cache_one_se(score, ncand, c->n, mean, se);
    lp_cache_setting *w = &cand[pick];
    for (int q = 0; q < ncand; q++)
      set->rect_grid[q] = grid[q], set->rect_cv_psnr[q] = mean[q], set->rect_cv_se[q] = se[q];
    set->rect_ncand = ncand, set->rect_folds = ncand > 1 ? c->folds : 0, set->rect_shrink = grid[pick];
    /* phi_norect from the unrectified path; the rest from the kept one. */
    const size_t S = (size_t)c->S, nc = (size_t)c->S * c->p->branches * 2 * c->p->channels;
    memcpy(set->phi_norect, cand[0].phi, S * sizeof(double));
    memcpy(set->phi, w->phi, S * sizeof(double));
    memcpy(set->phi_paper, w->phi_paper, S * sizeof(double));
    memcpy(set->err_plain, w->err_plain, S * sizeof(double));
    memcpy(set->err_rect, w->err_rect, S * sizeof(double));
    memcpy(set->coef, w->coef, nc * sizeof(float));
  }
  for (int q = 0; q < ncand; q++) lp_cache_setting_free(&cand[q]);
  return s;
}

leap_status lp_cache_calibrate(leap_model *m, const lp_cache_calib_cfg *cfg, lp_cache_profile *out) {
  if (!m || !cfg || !out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_cache_calibrate: NULL argument");
  memset(out, 0, sizeof *out);
  const leap_model_info *info = &m->info;
  lp_dit *dit = lp_model_dit(m);
  if (!dit)
    return lp_error(LEAP_ERR_UNSUPPORTED, "leap profile: calibration runs on DiT models only, not arch '%s'", info->arch);
  if (cfg->images < 1 || cfg->steps < 2 || cfg->window < 2 || cfg->nlambdas + cfg->ntargets < 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap profile: need >= 1 image, >= 2 steps, window >= 2 and a setting");
  if (cfg->solver == LEAP_SOLVER_HEUN)
    return lp_error(LEAP_ERR_UNSUPPORTED, "leap profile: Heun evaluates twice per step; profile a one-evaluation "
                    "solver (euler, ddim, dpmpp_2m, euler_a)");
  for (int k = 0; k < cfg->ntargets; k++)
    if (cfg->targets[k] < 1 || cfg->targets[k] > cfg->steps)
      return lp_error(LEAP_ERR_INVALID_ARG, "leap profile: computed-step target %d outside 1..%d", cfg->targets[k],
                      cfg->steps);
  static const double default_shrink[] = {0.25, 0.5, 1.0};
  const double *shrink = cfg->shrink ? cfg->shrink : default_shrink;
  const int nshrink = cfg->shrink ? cfg->nshrink : 3;
  if (nshrink < 0 || nshrink > LP_RECT_MAXCAND - 1 || cfg->folds < 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap profile: %d rectification candidates (at most %d), %d folds", nshrink,
                    LP_RECT_MAXCAND - 1, cfg->folds);
  double grid[LP_RECT_MAXCAND] = {0};
  for (int q = 0; q < nshrink; q++) {
    if (!(shrink[q] > 0 && shrink[q] <= 1) || (q > 0 && !(shrink[q] > shrink[q - 1])))
      return lp_error(LEAP_ERR_INVALID_ARG, "leap profile: rectification shrinkages must rise within (0, 1], got %g",
                      shrink[q]);
    grid[q + 1] = shrink[q];
  }
  /* Cross-validation needs two images or more; with one, rectification is
   * off (it cannot be validated). */
  const int ncand = cfg->images >= 2 ? 1 + nshrink : 1;
  calib c;
  memset(&c, 0, sizeof c);
  c.folds = cfg->folds ? cfg->folds : 5;
  if (c.folds > cfg->images) c.folds = cfg->images;
  if (c.folds < 2 && ncand > 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap profile: cross-validation needs 2 folds or more");
  c.m = m, c.d = dit, c.be = dit->be, c.ex.be = c.be, c.cfg = cfg, c.p = out;
  c.n = cfg->images, c.guided = info->num_classes > 0 && cfg->cfg != 1.0, c.nb = c.guided ? 2 * c.n : c.n;
  c.S = cfg->steps, c.W = cfg->window < cfg->steps ? cfg->window : cfg->steps;
  c.numel = (size_t)info->in_channels * info->input_size * info->input_size;
  c.out_numel = (size_t)info->out_channels * info->input_size * info->input_size;
  c.D = info->hidden_size, c.L = (int64_t)info->tokens * info->hidden_size;
  c.progress_total = cfg->steps * (1 + (cfg->nlambdas + cfg->ntargets) * ncand);
  lp_cache_profile *p = out;
  leap_status s = leap_model_id(m, p->model_id, sizeof p->model_id);
  p->solver = cfg->solver, p->schedule = cfg->schedule, p->shift = cfg->shift, p->cfg = cfg->cfg;
  p->steps = cfg->steps, p->level = LEAP_CACHE_HIDDEN, p->channels = (int)c.D, p->branches = c.guided ? 2 : 1;
  p->calib_images = c.n, p->calib_seed = cfg->seed, p->window = c.W;
  if (s == LEAP_OK) s = lp_cache_profile_alloc(p, cfg->nlambdas + cfg->ntargets);
  const size_t nh = (size_t)c.nb * c.L, nv = (size_t)c.n * c.numel;
  c.labels = lp_calloc((size_t)c.nb, sizeof *c.labels);
  c.xin = lp_malloc((size_t)c.nb * c.numel * sizeof(float));
  c.t = lp_malloc((size_t)c.nb * sizeof(float));
  c.out = lp_malloc((size_t)c.nb * c.out_numel * sizeof(float));
  c.l1h = lp_malloc((size_t)c.nb * 2 * sizeof(float));
  c.rt_h = lp_malloc(nh * sizeof(float)), c.rc_h = lp_malloc(nh * sizeof(float));
  c.v = lp_malloc(nv * sizeof(float)), c.vt = lp_malloc(nv * sizeof(float));
  c.vtil = lp_malloc(nv * sizeof(float)), c.vprev = lp_malloc(nv * sizeof(float));
  c.dist = lp_calloc((size_t)c.S * c.S, sizeof(double));
  c.rstats = lp_malloc((size_t)c.n * c.D * 5 * sizeof(double));
  c.kb = lp_malloc((size_t)(c.folds + 1) * 2 * c.D * sizeof(float));
  c.coef_rows = lp_malloc((size_t)c.nb * 2 * c.D * sizeof(float));
  c.xref = lp_malloc(nv * sizeof(float));
  double *score = lp_malloc((size_t)ncand * c.n * sizeof(double));
  float *x = lp_malloc(nv * sizeof(float));
  if (s == LEAP_OK && (!c.labels || !c.xin || !c.t || !c.out || !c.l1h || !c.rt_h || !c.rc_h || !c.v || !c.vt ||
                       !c.vtil || !c.vprev || !c.dist || !c.rstats || !c.kb || !c.coef_rows || !c.xref || !score ||
                       !x))
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
  if (s == LEAP_OK) s = c.be->vt->buf_alloc(c.be, (size_t)c.nb * 2 * c.D * sizeof(float), &c.coef);
  /* Pass 1: full compute, the error table and the TeaCache data. */
  c.pass = 1;
  if (s == LEAP_OK) s = run_pass(&c, x);
  if (s == LEAP_OK) lp_cache_polyfit(p->tc_indicator + 1, p->rel_change + 1, c.S - 1, p->tc_poly);
  if (s == LEAP_OK) memcpy(c.xref, x, nv * sizeof(float));
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
      if (set->lambda < 0) {
        s = lp_error(LEAP_ERR_NOMEM, "cache profile: out of memory choosing the threshold for %s", set->name);
        break;
      }
    }
    set->computed = lp_cache_policy_walk(c.dist, c.S, c.W, set->lambda, set->reuse);
    s = profile_setting(&c, set, x, grid, ncand, score);
  }
  free(x), free(score);
  calib_free(&c);
  if (s != LEAP_OK) lp_cache_profile_free(p);
  return s;
}
