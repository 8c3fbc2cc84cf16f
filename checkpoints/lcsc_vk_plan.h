/* lcsc_vk_plan.h - the Vulkan dispatch plan of LP_OP_WEIGHTED_SUM (LCSC
 * checkpoint combination), for lp_vk_plan_op. */
#ifndef LP_LCSC_VK_PLAN_H
#define LP_LCSC_VK_PLAN_H

#include "vk_internal.h"

leap_status lp_vk_plan_weighted_sum(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);

#endif
