/* lcsc_vk_plan.c - how LP_OP_WEIGHTED_SUM (backend.h) runs on Vulkan:
 * argument checks, one grid-stride pass (each invocation sums all K sources
 * for its elements, so out is written once), and the views' extents. */
#include <string.h>

#include "error.h"
#include "lcsc_vk_plan.h"

#define WS_WG 256u /* invocations per workgroup */

leap_status lp_vk_plan_weighted_sum(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) {
  (void)vb;
  memset(p, 0, sizeof *p);
  const int32_t *i = op->i;
  if (i[0] <= 0 || i[1] <= 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: WEIGHTED_SUM n = %d and K = %d must be positive", i[0], i[1]);
  if (i[2] < i[0])
    return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: WEIGHTED_SUM stride %d is below n = %d", i[2], i[0]);
  for (int k = 0; k < 3; k++)
    if (!op->in[k].buf) return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: WEIGHTED_SUM input %d has no buffer", k);
  if (!op->out.buf) return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: WEIGHTED_SUM has no output buffer");
  const uint64_t n = (uint64_t)i[0], K = (uint64_t)i[1], stride = (uint64_t)i[2];
  const uint64_t g = (n + WS_WG - 1) / WS_WG;
  p->shader = "lcsc_weighted_sum";
  p->spec[0] = WS_WG;
  p->nspec = 1;
  p->groups[0] = (uint32_t)(g > 65535 ? 65535 : g);
  p->groups[1] = p->groups[2] = 1;
  p->extent[0] = (K - 1) * stride + n, p->extent[1] = K, p->extent[2] = K, p->extent[3] = n;
  if (p->extent[0] > 0xffffffffu / 4)
    return lp_error(LEAP_ERR_UNSUPPORTED, "vulkan: WEIGHTED_SUM sources span %llu words (limit 2^30)",
                    (unsigned long long)p->extent[0]);
  return LEAP_OK;
}
