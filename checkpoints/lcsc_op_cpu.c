/* lcsc_op_cpu.c - the CPU twin of LP_OP_WEIGHTED_SUM (backend.h): the same
 * word layout as shaders/lcsc_weighted_sum.comp, so tests can compare the
 * two on the same buffers. (Combining on the host does not go through
 * here: lcsc_sum.c reads the mapped files directly, without a copy.) */
#include <string.h>

#include "backend.h"
#include "dtype.h"
#include "error.h"

#define P(v) ((float *)lp_cpu_buf_data((v).buf) + (v).off)

static float load(const float *src, int dtype, size_t j) {
  if (dtype == LEAP_F32) return src[j];
  uint16_t h;
  memcpy(&h, (const unsigned char *)src + 2 * j, 2); /* little-endian: even j = low half */
  return dtype == LEAP_F16 ? lp_f16_to_f32(h) : lp_bf16_to_f32(h);
}

leap_status lp_cpu_run_weighted_sum(const lp_op *op) {
  const int n = op->i[0], K = op->i[1], stride = op->i[2];
  if (n <= 0 || K <= 0 || stride < n)
    return lp_error(LEAP_ERR_INVALID_ARG, "cpu: WEIGHTED_SUM n = %d, K = %d, stride = %d", n, K, stride);
  const float *src = P(op->in[0]), *coef = P(op->in[1]), *dt = P(op->in[2]);
  float *out = P(op->out);
  for (int k = 0; k < K; k++)
    if (dt[k] != 0.0f && dt[k] != 1.0f && dt[k] != 2.0f)
      return lp_error(LEAP_ERR_INVALID_ARG, "cpu: WEIGHTED_SUM source %d has dtype code %g", k, (double)dt[k]);
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int j = 0; j < n; j++) {
    float acc = 0.0f;
    for (int k = 0; k < K; k++) acc += coef[k] * load(src + (size_t)k * stride, (int)dt[k], (size_t)j);
    out[j] = acc;
  }
  return LEAP_OK;
}
