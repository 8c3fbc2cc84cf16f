/* op_table.h - what each op kind is, in one table (op_table.c): its name,
 * its arity (inputs that must have a buffer), how many leading integer
 * arguments must be positive, its CPU function and its Vulkan plan. The
 * CPU backend and the Vulkan planner look an op up here instead of
 * switching on its kind, so a new op kind is one enum entry in backend.h,
 * one row in op_table.c and its two implementations. */
#ifndef LEAP_OP_TABLE_H
#define LEAP_OP_TABLE_H

#include "backend.h"

struct vk_backend;
struct lp_vk_plan;

/* Runs one op on host memory (CPU buffers). */
typedef leap_status (*lp_cpu_op_fn)(const lp_op *op);
/* Checks the op's own arguments and plans its dispatch (vk_internal.h);
 * the table's common checks (arity, positive arguments) ran before. */
typedef leap_status (*lp_vk_plan_fn)(const struct vk_backend *vb, const lp_op *op, struct lp_vk_plan *p);

/* The CPU build a row's cpu[] is indexed by: cpu_ops.c picks one. */
enum { LP_CPU_BASE = 0, LP_CPU_AVX2 = 1, LP_CPU_BUILDS = 2 };

typedef struct lp_op_info {
  const char *name; /* "LINEAR": messages and profile rows */
  int arity;        /* in[0 .. arity-1] must have a buffer */
  int npos;         /* i[0 .. npos-1] must be positive */
  lp_cpu_op_fn cpu[LP_CPU_BUILDS];
  lp_vk_plan_fn vk_plan;
} lp_op_info;

/* The row of an op kind; NULL for a kind outside 0 .. LP_OP_COUNT-1. */
const lp_op_info *lp_op_info_of(int kind);

#endif /* LEAP_OP_TABLE_H */
