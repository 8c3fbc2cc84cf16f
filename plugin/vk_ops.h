/* vk_ops.h - the Vulkan plan of each model op kind (vk_ops.c), for the op
 * table (op_table.c); the feature-cache kinds' are in cache_vk_plan.h. */
#ifndef LEAP_VK_OPS_H
#define LEAP_VK_OPS_H

#include "vk_internal.h"

leap_status lp_vk_plan_linear(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);
leap_status lp_vk_plan_patchify(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);
leap_status lp_vk_plan_unpatchify(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);
leap_status lp_vk_plan_embed_add(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);
leap_status lp_vk_plan_add_rows(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);
leap_status lp_vk_plan_silu(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);
leap_status lp_vk_plan_ln_modulate(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);
leap_status lp_vk_plan_attention(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);
leap_status lp_vk_plan_gated_add(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);
leap_status lp_vk_plan_block_attention(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);
leap_status lp_vk_plan_kv_append(const vk_backend *vb, const lp_op *op, lp_vk_plan *p);

#endif /* LEAP_VK_OPS_H */
