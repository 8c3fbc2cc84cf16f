/* train_optim.c - AdamW (decoupled weight decay), the global gradient
 * norm for clipping, linear warm-up and the EMA of the weights. Each loop
 * is element-wise or reduced over fixed chunks, so the results do not
 * depend on the thread count. */
#include <math.h>

#include "train.h"

/* Small tensors are updated on one thread (see lp_train_par_min). */
#define PAR_IF(work) if ((size_t)(work) >= lp_train_par_min)

double lp_train_grad_norm(const lp_tlayout *L, const float *g) {
  enum { CHUNKS = 64 };
  double total = 0;
  for (int i = 0; i < L->count; i++) {
    const lp_tparam *t = &L->p[i];
    if (!t->trainable) continue;
    double part[CHUNKS];
    const float *x = g + t->off;
    const size_t n = t->numel;
#pragma omp parallel for schedule(static) PAR_IF(n)
    for (int c = 0; c < CHUNKS; c++) {
      double s = 0;
      for (size_t k = n * c / CHUNKS; k < n * (c + 1) / CHUNKS; k++) s += (double)x[k] * x[k];
      part[c] = s;
    }
    for (int c = 0; c < CHUNKS; c++) total += part[c];
  }
  return sqrt(total);
}

void lp_train_adamw(const lp_tlayout *L, const lp_train_cfg *c, int step, double lr, float gscale,
                    const float *g, float *p, float *m, float *v) {
  const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->adam_eps;
  const float bc1 = (float)(1.0 - pow(c->beta1, step)), bc2 = (float)(1.0 - pow(c->beta2, step));
  const float lrf = (float)lr, wd = (float)c->weight_decay;
  for (int i = 0; i < L->count; i++) {
    const lp_tparam *t = &L->p[i];
    if (!t->trainable) continue;
    const float decay = t->decay ? wd : 0.0f;
    float *pp = p + t->off, *mm = m + t->off, *vv = v + t->off;
    const float *gg = g + t->off;
    const long n = (long)t->numel;
#pragma omp parallel for schedule(static) PAR_IF(n)
    for (long k = 0; k < n; k++) {
      const float gk = gg[k] * gscale;
      mm[k] = b1 * mm[k] + (1 - b1) * gk;
      vv[k] = b2 * vv[k] + (1 - b2) * gk * gk;
      const float mh = mm[k] / bc1, vh = vv[k] / bc2;
      pp[k] -= lrf * (mh / (sqrtf(vh) + eps) + decay * pp[k]);
    }
  }
}

double lp_train_ema_decay(double decay, int step) {
  const double warm = (1.0 + step) / (10.0 + step);
  return warm < decay ? warm : decay;
}

void lp_train_ema(size_t n, double decay, const float *p, float *ema) {
  const float d = (float)decay, e = (float)(1.0 - decay);
#pragma omp parallel for schedule(static) PAR_IF(n)
  for (long k = 0; k < (long)n; k++) ema[k] = d * ema[k] + e * p[k];
}

double lp_train_lr(const lp_train_cfg *c, int step) {
  if (c->warmup > 0 && step < c->warmup) return c->lr * (double)(step + 1) / c->warmup;
  return c->lr;
}
