/* cache_vk_plan.c - how the feature-cache ops (LP_OP_CACHE_*, see
 * backend.h) run on Vulkan: argument checks, shader, grid and the extent of
 * each view. The op table (op_table.c) points at these for their kinds, so
 * the cache kernels live beside the cache and not in the model kernels'
 * file; lp_vk_plan_op ran the table's checks (inputs, positive sizes). */
#include <string.h>

#include "error.h"
#include "vk_internal.h"
#include "cache_vk_plan.h"

#define CACHE_WG 256u /* invocations per workgroup (elementwise and the row reduction) */

static void common(lp_vk_plan *p, const char *shader) {
  p->shader = shader;
  p->spec[0] = CACHE_WG;
  p->nspec = 1;
  p->groups[1] = p->groups[2] = 1;
}

leap_status lp_vk_plan_cache_axpby(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) { /* n */
  (void)vb;
  if (!op->in[1].buf && op->f[1] != 0.0f)
    return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: CACHE_AXPBY without in[1] needs f[1] = 0");
  const uint64_t n = (uint64_t)op->i[0], g = (n + CACHE_WG - 1) / CACHE_WG;
  common(p, "cache_axpby");
  p->groups[0] = lp_vk_grid_groups(vb, g, 65535);
  p->extent[0] = n, p->extent[1] = op->in[1].buf ? n : 0, p->extent[3] = n;
  return LEAP_OK;
}

/* rows, L, C, inner, rows_per_group */
leap_status lp_vk_plan_cache_apply(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) {
  (void)vb;
  const int32_t *i = op->i;
  const uint64_t n = (uint64_t)i[0] * (uint64_t)i[1], g = (n + CACHE_WG - 1) / CACHE_WG;
  const uint64_t groups = ((uint64_t)i[0] + (uint64_t)i[4] - 1) / (uint64_t)i[4];
  common(p, "cache_apply");
  p->groups[0] = lp_vk_grid_groups(vb, g, 65535);
  p->extent[0] = n, p->extent[1] = n, p->extent[2] = op->in[2].buf ? groups * 2 * (uint64_t)i[2] : 0;
  p->extent[3] = n;
  /* in[0] may be out itself (in place): the hazard tracker sees the read. */
  p->out_read = op->in[0].buf == op->out.buf;
  return LEAP_OK;
}

leap_status lp_vk_plan_cache_l1(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) { /* rows, L */
  (void)vb;
  const int32_t *i = op->i;
  const uint64_t n = (uint64_t)i[0] * (uint64_t)i[1];
  if (i[0] > 65535) return lp_error(LEAP_ERR_UNSUPPORTED, "vulkan: CACHE_L1 over %d rows (limit 65535)", i[0]);
  common(p, "cache_l1"); /* one workgroup per row, tree reduction */
  p->groups[0] = (uint32_t)i[0];
  p->extent[0] = n, p->extent[1] = n, p->extent[3] = 2 * (uint64_t)i[0];
  return LEAP_OK;
}
