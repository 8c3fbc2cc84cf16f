/* cache_vk_plan.h - Vulkan dispatch plans of the feature-cache ops
 * (LP_OP_CACHE_*), for the op table (op_table.c). */
#ifndef LEAP_CACHE_VK_PLAN_H
#define LEAP_CACHE_VK_PLAN_H

#include "vk_internal.h"

leap_status lp_vk_plan_cache_axpby(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);
leap_status lp_vk_plan_cache_apply(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);
leap_status lp_vk_plan_cache_l1(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);

#endif
