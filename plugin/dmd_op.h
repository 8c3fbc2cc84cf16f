/* dmd_op.h - DMD2's distribution-matching gradient as an op
 * (LP_OP_DMD_GRAD): in[0] = x, in[1] = x0_target, in[2] = x0_fake, out =
 * grad; i: n samples, per elements each; f[0] = eps. Per sample
 *   grad = (x0_fake - x0_target) / max(mean|x - x0_target|, eps).
 * The kernel on host arrays, its CPU-op wrapper for the op table, and the
 * Vulkan plan (shaders/dmd_grad.comp). */
#ifndef LEAP_DMD_OP_H
#define LEAP_DMD_OP_H

#include <stdint.h>

#include "backend.h"

/* On host arrays; grad may alias xf. The per-sample sum is in double. */
void lp_dmd_grad_rows(int64_t n, int64_t per, const float *x, const float *xt, const float *xf,
                      float eps, float *grad);
leap_status lp_cpu_dmd_grad(const lp_op *op);

struct vk_backend;
struct lp_vk_plan;
leap_status lp_vk_plan_dmd_grad(const struct vk_backend *vb, const lp_op *op, struct lp_vk_plan *p);

#endif
