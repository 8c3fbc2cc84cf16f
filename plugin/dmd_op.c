/* dmd_op.c - see dmd_op.h. */
#include "dmd_op.h"

#include <math.h>

#include "error.h"
#include "vk_internal.h"

void lp_dmd_grad_rows(int64_t n, int64_t per, const float *x, const float *xt, const float *xf,
                      float eps, float *grad) {
#pragma omp parallel for if (n * per > 65536)
  for (int64_t i = 0; i < n; i++) {
    const float *xi = x + i * per, *ti = xt + i * per, *fi = xf + i * per;
    float *gi = grad + i * per;
    double sum = 0;
    for (int64_t k = 0; k < per; k++) sum += fabs((double)xi[k] - (double)ti[k]);
    double norm = sum / (double)per;
    if (!(norm > eps)) norm = eps;
    const float inv = (float)(1.0 / norm);
    for (int64_t k = 0; k < per; k++) gi[k] = (fi[k] - ti[k]) * inv;
  }
}

#define P(v) ((float *)lp_cpu_buf_data((v).buf) + (v).off)

leap_status lp_cpu_dmd_grad(const lp_op *op) {
  if (!(op->f[0] > 0))
    return lp_error(LEAP_ERR_INVALID_ARG, "cpu: DMD_GRAD needs eps f[0] > 0");
  lp_dmd_grad_rows(op->i[0], op->i[1], P(op->in[0]), P(op->in[1]), P(op->in[2]), op->f[0],
                   P(op->out));
  return LEAP_OK;
}

#define DMD_WG 256u

/* n, per: workgroups stride over the samples (any n), each reducing its
 * sample's |x - x0_target| in shared memory. */
leap_status lp_vk_plan_dmd_grad(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) {
  (void)vb;
  if (!(op->f[0] > 0))
    return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: DMD_GRAD needs eps f[0] > 0");
  const uint64_t n = (uint64_t)op->i[0], numel = n * (uint64_t)op->i[1];
  p->shader = "dmd_grad";
  p->spec[0] = DMD_WG;
  p->nspec = 1;
  p->groups[0] = (uint32_t)(n > 65535 ? 65535 : n);
  p->groups[1] = p->groups[2] = 1;
  p->extent[0] = p->extent[1] = p->extent[2] = p->extent[3] = numel;
  /* out may be in[2] (x0_fake) itself: elementwise, read before written */
  p->out_read = op->in[2].buf == op->out.buf;
  return LEAP_OK;
}
