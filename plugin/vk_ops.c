/* vk_ops.c - how each op kind runs on Vulkan: argument checks (so that a
 * bad shape fails on the host with a message instead of faulting on the
 * GPU), the shader and specialisation constants, the grid, and how many
 * elements of each view the kernel touches (for descriptor ranges and the
 * hazard tracking between dispatches). Shapes follow backend.h.
 * lp_vk_plan_op runs the checks every kind shares (its op-table row's
 * arity and positive arguments, the device's limits) around the kind's own
 * plan function (op_table.c points at them). */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "vk_internal.h"
#include "op_table.h"
#include "vk_ops.h"
#include "kv_cache.h"

#define WG_ELEM 256u     /* elementwise kernels: invocations per workgroup */
#define GEMM_TILE 64u    /* shaders/linear.comp: 64x64 output tile */
#define SIMD_GEMM_ROWS 16u /* shaders/linear_simd.comp: 16 x 32 tile */
#define SIMD_GEMM_COLS 64u
#define ATTN_QUERIES 64u /* shaders/attention.comp: queries per workgroup */
#define ATTN_MAX_HD 256  /* private q/acc arrays per invocation */
#define ATTN_SIMD_MAX_HD 128 /* shaders/attention_simd.comp: q, acc in registers */
#define ATTN_SIMD_QUERIES 64u /* shaders/attention_simd.comp: 8 lanes x QPL */

/* A view's first element sits on a 16-byte boundary (vec4 loads). */
static int aligned16(const lp_view *v) { return (v->buf->base + (VkDeviceSize)v->off * 4) % 16 == 0; }

static uint32_t ceil_div(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

/* Grid-stride kernels: enough groups to cover n, capped (each invocation
 * loops); the cap keeps within every device's maxComputeWorkGroupCount. */
static void elementwise(const vk_backend *vb, lp_vk_plan *p, const char *shader, uint64_t n) {
  p->shader = shader;
  p->spec[0] = WG_ELEM;
  p->nspec = 1;
  uint64_t g = (n + WG_ELEM - 1) / WG_ELEM;
  p->groups[0] = lp_vk_grid_groups(vb, g, 65535);
  p->groups[1] = p->groups[2] = 1;
}


/* Each kind's plan: its own checks beyond the table's, shader, grid and
 * extents. The arguments are positive where the row says so. */
#define ARGS(op) const uint64_t a = (uint64_t)(op)->i[0], b = (uint64_t)(op)->i[1], \
                                c = (uint64_t)(op)->i[2], d = (uint64_t)(op)->i[3]

leap_status lp_vk_plan_linear(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) { /* M, N, K, act */
  ARGS(op);
  (void)d;
  if (op->i[3] < LP_ACT_NONE || op->i[3] > LP_ACT_GELU_TANH)
    return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: LINEAR activation %d unknown", op->i[3]);
  if (vb->simd_kernels && c % 4 == 0 && aligned16(&op->in[0]) && aligned16(&op->in[1])) {
    p->shader = "linear_simd";
    p->groups[0] = ceil_div(b, SIMD_GEMM_COLS);
    p->groups[1] = ceil_div(a, SIMD_GEMM_ROWS);
  } else {
    p->shader = "linear";
    p->groups[0] = ceil_div(b, GEMM_TILE);
    p->groups[1] = ceil_div(a, GEMM_TILE);
  }
  p->groups[2] = 1;
  p->extent[0] = a * c, p->extent[1] = b * c, p->extent[2] = op->in[2].buf ? b : 0, p->extent[3] = a * b;
  return LEAP_OK;
}

/* PATCHIFY and UNPATCHIFY: B, C, H, W, p. */
static leap_status plan_patches(const vk_backend *vb, const lp_op *op, lp_vk_plan *p, const char *name,
                                const char *shader) {
  ARGS(op);
  if (op->i[2] % op->i[4] || op->i[3] % op->i[4])
    return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: %s image %dx%d not divisible by patch %d", name, op->i[2],
                    op->i[3], op->i[4]);
  const uint64_t img = a * b * c * d;
  elementwise(vb, p, shader, img);
  p->extent[0] = img, p->extent[3] = img;
  return LEAP_OK;
}

leap_status lp_vk_plan_patchify(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) {
  return plan_patches(vb, op, p, "PATCHIFY", "patchify");
}

leap_status lp_vk_plan_unpatchify(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) {
  return plan_patches(vb, op, p, "UNPATCHIFY", "unpatchify");
}

leap_status lp_vk_plan_embed_add(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) { /* B, D, rows */
  (void)vb;
  ARGS(op);
  (void)d;
  elementwise(vb, p, "embed_add", a * b);
  p->extent[0] = a * b, p->extent[1] = c * b, p->extent[2] = a, p->extent[3] = a * b;
  return LEAP_OK;
}

leap_status lp_vk_plan_add_rows(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) { /* R, T, D */
  (void)vb;
  ARGS(op);
  (void)d;
  elementwise(vb, p, "add_rows", a * c);
  p->extent[0] = (a < b ? a : b) * c, p->extent[3] = a * c;
  p->out_read = 1;
  return LEAP_OK;
}

leap_status lp_vk_plan_silu(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) { /* n */
  (void)vb;
  const uint64_t a = (uint64_t)op->i[0];
  elementwise(vb, p, "silu", a);
  p->extent[0] = a, p->extent[3] = a;
  return LEAP_OK;
}

leap_status lp_vk_plan_ln_modulate(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) {
  ARGS(op); /* B, T, D, mod_stride */
  if (!(op->f[0] > 0))
    return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: LN_MODULATE eps %g must be positive", (double)op->f[0]);
  const uint64_t rows = a * b;
  p->extent[0] = rows * c, p->extent[3] = rows * c;
  p->extent[1] = p->extent[2] = (a - 1) * d + c;
  if (vb->simd_kernels && c % 4 == 0 && d % 4 == 0 && aligned16(&op->in[0]) && aligned16(&op->in[1]) &&
      aligned16(&op->in[2]) && aligned16(&op->out)) {
    p->shader = "ln_modulate_simd"; /* a row per invocation, 8 per group */
    const uint64_t g = (rows + 7) / 8;
    p->groups[0] = lp_vk_grid_groups(vb, g, 65535), p->groups[1] = p->groups[2] = 1;
    return LEAP_OK;
  }
  uint32_t wg = 32; /* a power of two near D, for the tree reduction */
  while (wg < c && wg < 256) wg *= 2;
  p->shader = "ln_modulate";
  p->spec[0] = wg;
  p->nspec = 1;
  p->groups[0] = lp_vk_grid_groups(vb, rows, 65535), p->groups[1] = p->groups[2] = 1;
  return LEAP_OK;
}

leap_status lp_vk_plan_attention(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) {
  ARGS(op); /* B, T, D, heads */
  if (op->i[2] % op->i[3])
    return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: ATTENTION width %d not divisible by %d heads", op->i[2],
                    op->i[3]);
  const int hd = op->i[2] / op->i[3];
  if (hd > ATTN_MAX_HD)
    return lp_error(LEAP_ERR_UNSUPPORTED, "vulkan: ATTENTION head_dim %d > %d is not supported", hd,
                    ATTN_MAX_HD);
  if (!(op->f[0] > 0))
    return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: ATTENTION scale %g must be positive", (double)op->f[0]);
  p->groups[1] = (uint32_t)d, p->groups[2] = (uint32_t)a;
  p->extent[0] = a * b * 3 * c, p->extent[3] = a * b * c;
  if (vb->simd_kernels && hd % 32 == 0 && hd <= ATTN_SIMD_MAX_HD && aligned16(&op->in[0]) &&
      aligned16(&op->out)) {
    p->shader = "attention_simd";
    p->spec[0] = (uint32_t)hd;
    p->nspec = 1;
    p->groups[0] = ceil_div(b, ATTN_SIMD_QUERIES);
    return LEAP_OK;
  }
  /* Keys staged per block: K and V tiles of bkeys x hd floats each. */
  uint32_t bkeys = hd <= 64 ? 32 : 16;
  while (bkeys > 1 && 2u * bkeys * (uint32_t)hd * 4u > vb->props.limits.maxComputeSharedMemorySize) bkeys /= 2;
  p->shader = "attention";
  p->spec[0] = (uint32_t)hd, p->spec[1] = bkeys;
  p->nspec = 2;
  p->groups[0] = ceil_div(b, ATTN_QUERIES);
  return LEAP_OK;
}

leap_status lp_vk_plan_gated_add(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) {
  ARGS(op); /* B, T, D, stride */
  if (vb->simd_kernels && c % 4 == 0 && d % 4 == 0 && aligned16(&op->in[0]) && aligned16(&op->in[1]) &&
      aligned16(&op->out)) {
    p->shader = "gated_add_simd"; /* x: vec4s of a row, y: rows (grid-stride) */
    const uint64_t rows = a * b;
    p->groups[0] = ceil_div(c / 4, 8);
    p->groups[1] = lp_vk_grid_groups(vb, rows, 65535), p->groups[2] = 1;
  } else {
    elementwise(vb, p, "gated_add", a * b * c);
  }
  p->extent[0] = a * b * c, p->extent[3] = a * b * c;
  p->extent[1] = (a - 1) * d + c;
  p->out_read = 1;
  return LEAP_OK;
}

/* B, Tn, D, heads, P, F, Nc, cap: the generic attention kernel's layout
 * (a query per invocation, keys staged in shared memory, online softmax)
 * over the cached keys and then the new ones up to the query's chunk. */
leap_status lp_vk_plan_block_attention(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) {
  leap_status s = lp_block_attention_check(op, "vulkan");
  if (s != LEAP_OK) return s;
  const uint64_t B = (uint64_t)op->i[0], Tn = (uint64_t)op->i[1], D = (uint64_t)op->i[2];
  const uint64_t cached = (uint64_t)op->i[6] * (uint64_t)op->i[5] * (uint64_t)op->i[4], cap = (uint64_t)op->i[7];
  const int hd = op->i[2] / op->i[3];
  if (hd > ATTN_MAX_HD)
    return lp_error(LEAP_ERR_UNSUPPORTED, "vulkan: BLOCK_ATTENTION head_dim %d > %d is not supported", hd,
                    ATTN_MAX_HD);
  uint32_t bkeys = hd <= 64 ? 32 : 16;
  while (bkeys > 1 && 2u * bkeys * (uint32_t)hd * 4u > vb->props.limits.maxComputeSharedMemorySize) bkeys /= 2;
  p->shader = "block_attention";
  p->spec[0] = (uint32_t)hd, p->spec[1] = bkeys;
  p->nspec = 2;
  p->groups[0] = ceil_div(Tn, ATTN_QUERIES), p->groups[1] = (uint32_t)op->i[3], p->groups[2] = (uint32_t)B;
  p->extent[0] = B * Tn * 3 * D, p->extent[3] = B * Tn * D;
  /* Listed slots may be anywhere in each item's cache. */
  p->extent[1] = cached ? ((B - 1) * cap + (op->in[2].buf ? cap : cached)) * 2 * D : 0;
  p->extent[2] = cached && op->in[2].buf ? B * (uint64_t)op->i[6] : 0;
  return LEAP_OK;
}

leap_status lp_vk_plan_kv_append(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) { /* B, Tn, D, cap, start */
  (void)vb;
  leap_status s = lp_kv_append_check(op, "vulkan");
  if (s != LEAP_OK) return s;
  const uint64_t B = (uint64_t)op->i[0], Tn = (uint64_t)op->i[1], D = (uint64_t)op->i[2];
  const uint64_t cap = (uint64_t)op->i[3], start = (uint64_t)op->i[4];
  elementwise(vb, p, "kv_append", B * Tn * 2 * D);
  p->extent[0] = B * Tn * 3 * D, p->extent[3] = ((B - 1) * cap + start + Tn) * 2 * D;
  return LEAP_OK;
}

leap_status lp_vk_plan_op(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) {
  memset(p, 0, sizeof *p);
  const lp_op_info *info = lp_op_info_of(op->kind);
  if (!info) return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: unknown op kind %d", (int)op->kind);
  const char *name = info->name;
  for (int k = 0; k < info->npos; k++)
    if (op->i[k] <= 0)
      return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: %s argument i[%d] = %d must be positive", name, k, op->i[k]);
  for (int k = 0; k < info->arity; k++)
    if (!op->in[k].buf) return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: %s input %d has no buffer", name, k);
  if (!op->out.buf) return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: %s has no output buffer", name);
  leap_status s = info->vk_plan(vb, op, p);
  if (s != LEAP_OK) return s;

  const uint32_t *lim = vb->props.limits.maxComputeWorkGroupCount;
  for (int k = 0; k < 3; k++)
    if (p->groups[k] > lim[k])
      return lp_error(LEAP_ERR_UNSUPPORTED, "vulkan: %s needs %u workgroups along axis %d (device limit %u)",
                      name, p->groups[k], k, lim[k]);
  for (int k = 0; k < 4; k++)
    if (p->extent[k] > 0xffffffffu / 4)
      return lp_error(LEAP_ERR_UNSUPPORTED, "vulkan: %s view %d spans %llu elements (limit 2^30)", name, k,
                      (unsigned long long)p->extent[k]);
  return LEAP_OK;
}
