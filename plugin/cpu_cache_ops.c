/* cpu_cache_ops.c - the CPU twins of the feature-cache kernels
 * (LP_OP_CACHE_AXPBY, LP_OP_CACHE_APPLY, LP_OP_CACHE_L1; contracts in
 * backend.h, Vulkan in shaders/cache_*.comp). The L1 sums accumulate in
 * double per row. */
#include <math.h>

#include "backend.h"
#include "cpu_ops.h"
#include "error.h"

#define P(v) ((float *)lp_cpu_buf_data((v).buf) + (v).off)

static void axpby(const lp_op *op) {
  const long n = op->i[0];
  const float a = op->f[0], b = op->f[1];
  const float *x = P(op->in[0]);
  const float *y = op->in[1].buf ? P(op->in[1]) : NULL;
  float *out = P(op->out);
#pragma omp parallel for schedule(static)
  for (long k = 0; k < n; k++) out[k] = y ? a * x[k] + b * y[k] : a * x[k];
}

static void apply(const lp_op *op) {
  const int rows = op->i[0], L = op->i[1], C = op->i[2], inner = op->i[3], rpg = op->i[4];
  const float *h = P(op->in[0]), *r = P(op->in[1]);
  const float *coef = op->in[2].buf ? P(op->in[2]) : NULL;
  float *out = P(op->out);
#pragma omp parallel for schedule(static)
  for (int row = 0; row < rows; row++) {
    const size_t base = (size_t)row * L;
    if (!coef) {
      for (int l = 0; l < L; l++) out[base + l] = h[base + l] + r[base + l];
      continue;
    }
    const float *a = coef + (size_t)2 * (row / rpg) * C, *b = a + C;
    for (int l = 0; l < L; l++) {
      const int c = (l / inner) % C;
      out[base + l] = h[base + l] + a[c] * r[base + l] + b[c];
    }
  }
}

static void l1(const lp_op *op) {
  const int rows = op->i[0], L = op->i[1];
  const float *x = P(op->in[0]), *y = P(op->in[1]);
  float *out = P(op->out);
#pragma omp parallel for schedule(static)
  for (int row = 0; row < rows; row++) {
    double d = 0, ref = 0;
    const size_t base = (size_t)row * L;
    for (int l = 0; l < L; l++) {
      d += fabs((double)x[base + l] - (double)y[base + l]);
      ref += fabs((double)y[base + l]);
    }
    out[2 * row] = (float)d;
    out[2 * row + 1] = (float)ref;
  }
}

leap_status lp_cpu_cache_axpby(const lp_op *op) {
  if (!op->in[1].buf && op->f[1] != 0.0f)
    return lp_error(LEAP_ERR_INVALID_ARG, "cpu: CACHE_AXPBY without in[1] needs f[1] = 0");
  axpby(op);
  return LEAP_OK;
}

leap_status lp_cpu_cache_apply(const lp_op *op) {
  if (op->i[2] <= 0 || op->i[3] <= 0 || op->i[4] <= 0 || !op->in[1].buf)
    return lp_error(LEAP_ERR_INVALID_ARG, "cpu: CACHE_APPLY needs C, inner, rows_per_group > 0 and in[1]");
  apply(op);
  return LEAP_OK;
}

leap_status lp_cpu_cache_l1(const lp_op *op) {
  if (!op->in[1].buf) return lp_error(LEAP_ERR_INVALID_ARG, "cpu: CACHE_L1 needs in[1]");
  l1(op);
  return LEAP_OK;
}
