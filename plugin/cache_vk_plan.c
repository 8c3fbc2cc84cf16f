/* cache_vk_plan.c - how the feature-cache ops (LP_OP_CACHE_*, see
 * backend.h) run on Vulkan: argument checks, shader, grid and the extent of
 * each view. Called by lp_vk_plan_op (vk_ops.c) for these kinds, so the
 * cache kernels live beside the cache and not in the model kernels' file. */
#include <string.h>

#include "error.h"
#include "vk_internal.h"

#define CACHE_WG 256u /* invocations per workgroup (elementwise and the row reduction) */

leap_status lp_vk_plan_cache_op(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) {
  (void)vb;
  memset(p, 0, sizeof *p);
  const int32_t *i = op->i;
  if (!op->in[0].buf || !op->out.buf)
    return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: cache op %d needs in[0] and out", (int)op->kind);
  p->spec[0] = CACHE_WG;
  p->nspec = 1;
  p->groups[1] = p->groups[2] = 1;
  switch (op->kind) {
  case LP_OP_CACHE_AXPBY: {
    if (i[0] <= 0) return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: CACHE_AXPBY n = %d must be positive", i[0]);
    if (!op->in[1].buf && op->f[1] != 0.0f)
      return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: CACHE_AXPBY without in[1] needs f[1] = 0");
    const uint64_t n = (uint64_t)i[0], g = (n + CACHE_WG - 1) / CACHE_WG;
    p->shader = "cache_axpby";
    p->groups[0] = lp_vk_grid_groups(vb, g, 65535);
    p->extent[0] = n, p->extent[1] = op->in[1].buf ? n : 0, p->extent[3] = n;
    break;
  }
  case LP_OP_CACHE_APPLY: {
    for (int k = 0; k < 5; k++)
      if (i[k] <= 0) return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: CACHE_APPLY i[%d] = %d must be positive", k, i[k]);
    if (!op->in[1].buf) return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: CACHE_APPLY needs the residual in[1]");
    const uint64_t n = (uint64_t)i[0] * (uint64_t)i[1], g = (n + CACHE_WG - 1) / CACHE_WG;
    const uint64_t groups = ((uint64_t)i[0] + (uint64_t)i[4] - 1) / (uint64_t)i[4];
    p->shader = "cache_apply";
    p->groups[0] = lp_vk_grid_groups(vb, g, 65535);
    p->extent[0] = n, p->extent[1] = n, p->extent[2] = op->in[2].buf ? groups * 2 * (uint64_t)i[2] : 0;
    p->extent[3] = n;
    /* in[0] may be out itself (in place): the hazard tracker sees the read. */
    p->out_read = op->in[0].buf == op->out.buf;
    break;
  }
  case LP_OP_CACHE_L1: {
    if (i[0] <= 0 || i[1] <= 0)
      return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: CACHE_L1 rows %d and L %d must be positive", i[0], i[1]);
    if (!op->in[1].buf) return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: CACHE_L1 needs in[1]");
    const uint64_t n = (uint64_t)i[0] * (uint64_t)i[1];
    if (i[0] > 65535) return lp_error(LEAP_ERR_UNSUPPORTED, "vulkan: CACHE_L1 over %d rows (limit 65535)", i[0]);
    p->shader = "cache_l1"; /* one workgroup per row, tree reduction */
    p->groups[0] = (uint32_t)i[0];
    p->extent[0] = n, p->extent[1] = n, p->extent[3] = 2 * (uint64_t)i[0];
    break;
  }
  default: return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: op kind %d is not a cache op", (int)op->kind);
  }
  for (int k = 0; k < 4; k++)
    if (p->extent[k] > 0xffffffffu / 4)
      return lp_error(LEAP_ERR_UNSUPPORTED, "vulkan: cache op view %d spans %llu elements (limit 2^30)", k,
                      (unsigned long long)p->extent[k]);
  return LEAP_OK;
}
