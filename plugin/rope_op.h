/* rope_op.h - the rotary embedding over time of a video DiT (LP_OP_ROPE,
 * contract in backend.h): the CPU twin for the op table, the Vulkan plan
 * (shaders/rope.comp) and the shape checks both share. */
#ifndef LEAP_ROPE_OP_H
#define LEAP_ROPE_OP_H

#include "backend.h"

/* The op's own checks beyond the table's (who: "cpu" or "vulkan"). */
leap_status lp_rope_check(const lp_op *op, const char *who);
leap_status lp_cpu_rope(const lp_op *op);

struct vk_backend;
struct lp_vk_plan;
leap_status lp_vk_plan_rope(const struct vk_backend *vb, const lp_op *op, struct lp_vk_plan *p);

#endif
