/* cpu_ops.h - the CPU op functions the op table (op_table.c) points at.
 * cpu_ops_impl.h is built twice (cpu_ops_base.c, cpu_ops_avx2.c), so each
 * of its ops exists as lp_cpu_NAME_base and, on x86-64, lp_cpu_NAME_avx2;
 * LP_CPU_OP_BUILDS(NAME) declares both. The feature-cache ops
 * (cpu_cache_ops.c) are built once. */
#ifndef LEAP_CPU_OPS_H
#define LEAP_CPU_OPS_H

#include "backend.h"

#if defined(__x86_64__)
#define LP_CPU_OP_BUILDS(name)                                                                     \
  leap_status lp_cpu_##name##_base(const lp_op *op);                                               \
  leap_status lp_cpu_##name##_avx2(const lp_op *op);
#else
#define LP_CPU_OP_BUILDS(name) leap_status lp_cpu_##name##_base(const lp_op *op);
#endif

LP_CPU_OP_BUILDS(linear)
LP_CPU_OP_BUILDS(patchify)
LP_CPU_OP_BUILDS(unpatchify)
LP_CPU_OP_BUILDS(embed_add)
LP_CPU_OP_BUILDS(add_rows)
LP_CPU_OP_BUILDS(silu)
LP_CPU_OP_BUILDS(ln_modulate)
LP_CPU_OP_BUILDS(attention)
LP_CPU_OP_BUILDS(gated_add)
LP_CPU_OP_BUILDS(block_attention)
LP_CPU_OP_BUILDS(kv_append)

leap_status lp_cpu_cache_axpby(const lp_op *op);
leap_status lp_cpu_cache_apply(const lp_op *op);
leap_status lp_cpu_cache_l1(const lp_op *op);

#endif /* LEAP_CPU_OPS_H */
