/* op_table.c - one row per op kind (see op_table.h): the only place that
 * maps a kind to its name, arity, CPU function and Vulkan plan. Rows are
 * indexed by kind; the static assert keeps the table as long as the enum
 * (as ggml.c does for its op names), and a test checks every row is
 * filled in. */
#include <stddef.h>

#include "cache_vk_plan.h"
#include "cpu_ops.h"
#include "dmd_op.h"
#include "op_table.h"
#include "rope_op.h"
#include "vk_ops.h"

/* Both CPU builds of an op from cpu_ops_impl.h; the one build of the others. */
#if defined(__x86_64__)
#define CPU_BUILDS(name) {lp_cpu_##name##_base, lp_cpu_##name##_avx2}
#else
#define CPU_BUILDS(name) {lp_cpu_##name##_base, lp_cpu_##name##_base}
#endif
#define CPU_ONE(fn) {fn, fn}

static const lp_op_info table[] = {
    /* kind                   name           arity npos  CPU                          Vulkan plan */
    [LP_OP_LINEAR] =        {"LINEAR",        2, 3, CPU_BUILDS(linear),          lp_vk_plan_linear},
    [LP_OP_PATCHIFY] =      {"PATCHIFY",      1, 5, CPU_BUILDS(patchify),        lp_vk_plan_patchify},
    [LP_OP_UNPATCHIFY] =    {"UNPATCHIFY",    1, 5, CPU_BUILDS(unpatchify),      lp_vk_plan_unpatchify},
    [LP_OP_EMBED_ADD] =     {"EMBED_ADD",     3, 3, CPU_BUILDS(embed_add),       lp_vk_plan_embed_add},
    [LP_OP_ADD_ROWS] =      {"ADD_ROWS",      1, 3, CPU_BUILDS(add_rows),        lp_vk_plan_add_rows},
    [LP_OP_SILU] =          {"SILU",          1, 1, CPU_BUILDS(silu),            lp_vk_plan_silu},
    [LP_OP_LN_MODULATE] =   {"LN_MODULATE",   3, 4, CPU_BUILDS(ln_modulate),     lp_vk_plan_ln_modulate},
    [LP_OP_ATTENTION] =     {"ATTENTION",     1, 4, CPU_BUILDS(attention),       lp_vk_plan_attention},
    [LP_OP_GATED_ADD] =     {"GATED_ADD",     2, 4, CPU_BUILDS(gated_add),       lp_vk_plan_gated_add},
    [LP_OP_CACHE_AXPBY] =   {"CACHE_AXPBY",   1, 1, CPU_ONE(lp_cpu_cache_axpby), lp_vk_plan_cache_axpby},
    [LP_OP_CACHE_APPLY] =   {"CACHE_APPLY",   2, 5, CPU_ONE(lp_cpu_cache_apply), lp_vk_plan_cache_apply},
    [LP_OP_CACHE_L1] =      {"CACHE_L1",      2, 2, CPU_ONE(lp_cpu_cache_l1),    lp_vk_plan_cache_l1},
    [LP_OP_BLOCK_ATTENTION] = {"BLOCK_ATTENTION", 1, 6, CPU_BUILDS(block_attention), lp_vk_plan_block_attention},
    [LP_OP_KV_APPEND] =     {"KV_APPEND",     1, 4, CPU_BUILDS(kv_append),       lp_vk_plan_kv_append},
    [LP_OP_DMD_GRAD] =      {"DMD_GRAD",      3, 2, CPU_ONE(lp_cpu_dmd_grad),    lp_vk_plan_dmd_grad},
    [LP_OP_ROPE] =          {"ROPE",          1, 5, CPU_ONE(lp_cpu_rope),        lp_vk_plan_rope},
};
_Static_assert(sizeof table / sizeof table[0] == LP_OP_COUNT, "op_table.c: one row per lp_op_kind");

const lp_op_info *lp_op_info_of(int kind) {
  return kind >= 0 && kind < LP_OP_COUNT ? &table[kind] : NULL;
}
