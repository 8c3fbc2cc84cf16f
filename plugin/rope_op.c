/* rope_op.c - see rope_op.h. */
#include "rope_op.h"

#include <math.h>
#include <string.h>

#include "error.h"
#include "vk_internal.h"

leap_status lp_rope_check(const lp_op *op, const char *who) {
  const int32_t *i = op->i;
  for (int k = 0; k < 5; k++)
    if (i[k] <= 0)
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: ROPE argument i[%d] = %d must be positive", who, k, i[k]);
  if (i[5] < 0) return lp_error(LEAP_ERR_INVALID_ARG, "%s: ROPE first frame %d is negative", who, i[5]);
  if (i[2] % i[3] != 0 || (i[2] / i[3]) % 2 != 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: ROPE needs an even head_dim (D %d, %d heads)", who, i[2], i[3]);
  if (i[1] % i[4] != 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: ROPE over %d tokens is not whole frames of %d", who, i[1], i[4]);
  if (!(op->f[0] > 1.0f) || !isfinite(op->f[0]))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: ROPE theta %g must be finite and > 1", who, (double)op->f[0]);
  if (!op->in[0].buf || !op->out.buf) return lp_error(LEAP_ERR_INVALID_ARG, "%s: ROPE needs in[0] and out", who);
  /* Each output reads its pair partner: in place would race on a GPU. */
  if (op->in[0].buf == op->out.buf)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: ROPE's out must not be its input's buffer", who);
  return LEAP_OK;
}

#define P(v) ((float *)lp_cpu_buf_data((v).buf) + (v).off)

leap_status lp_cpu_rope(const lp_op *op) {
  leap_status s = lp_rope_check(op, "cpu");
  if (s != LEAP_OK) return s;
  const int B = op->i[0], T = op->i[1], D = op->i[2], heads = op->i[3], Pt = op->i[4], frame0 = op->i[5];
  const int hd = D / heads, half = hd / 2;
  const double theta = op->f[0];
  const float *x = P(op->in[0]);
  float *y = P(op->out);
#pragma omp parallel for if ((long)B * T * D > 65536)
  for (long r = 0; r < (long)B * T; r++) {
    const double f = frame0 + (double)((r % T) / Pt);
    const float *xr = x + r * 3 * D;
    float *yr = y + r * 3 * D;
    for (int s3 = 0; s3 < 2; s3++) /* q, then k */
      for (int h = 0; h < heads; h++) {
        const float *u = xr + s3 * D + h * hd;
        float *o = yr + s3 * D + h * hd;
        for (int j = 0; j < half; j++) {
          const double ang = f * pow(theta, -2.0 * j / hd);
          const float c = (float)cos(ang), sn = (float)sin(ang);
          o[j] = u[j] * c - u[j + half] * sn;
          o[j + half] = u[j + half] * c + u[j] * sn;
        }
      }
    memcpy(yr + 2 * D, xr + 2 * D, (size_t)D * sizeof(float));
  }
  return LEAP_OK;
}

#define ROPE_WG 256u

leap_status lp_vk_plan_rope(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) {
  leap_status s = lp_rope_check(op, "vulkan");
  if (s != LEAP_OK) return s;
  const uint64_t n = (uint64_t)op->i[0] * (uint64_t)op->i[1] * 3u * (uint64_t)op->i[2];
  p->shader = "rope";
  p->spec[0] = ROPE_WG;
  p->nspec = 1;
  p->groups[0] = lp_vk_grid_groups(vb, (n + ROPE_WG - 1) / ROPE_WG, 65535);
  p->groups[1] = p->groups[2] = 1;
  p->extent[0] = p->extent[3] = n;
  return LEAP_OK;
}
