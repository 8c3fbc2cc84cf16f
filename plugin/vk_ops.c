/* vk_ops.c - how each op kind runs on Vulkan: argument checks (so that a
 * bad shape fails on the host with a message instead of faulting on the
 * GPU), the shader and specialisation constants, the grid, and how many
 * elements of each view the kernel touches (for descriptor ranges and the
 * hazard tracking between dispatches). Shapes follow backend.h. */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "vk_internal.h"
#include "cache_vk_plan.h"

#define WG_ELEM 256u     /* elementwise kernels: invocations per workgroup */
#define GEMM_TILE 64u    /* shaders/linear.comp: 64x64 output tile */
#define SIMD_GEMM_ROWS 16u /* shaders/linear_simd.comp: 16 x 32 tile */
#define SIMD_GEMM_COLS 64u
#define ATTN_QUERIES 64u /* shaders/attention.comp: queries per workgroup */
#define ATTN_MAX_HD 256  /* private q/acc arrays per invocation */
#define ATTN_SIMD_MAX_HD 128 /* shaders/attention_simd.comp: q, acc in registers */
#define ATTN_SIMD_QUERIES 64u /* shaders/attention_simd.comp: 8 lanes x QPL */

static const char *op_name(lp_op_kind k) {
  static const char *names[LP_OP_COUNT] = {"LINEAR",  "PATCHIFY",    "UNPATCHIFY",
                                           "EMBED_ADD", "ADD_ROWS",  "SILU",
                                           "LN_MODULATE", "ATTENTION", "GATED_ADD"};
  return (unsigned)k < LP_OP_COUNT ? names[k] : "?";
}

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

leap_status lp_vk_plan_op(const vk_backend *vb, const lp_op *op, lp_vk_plan *p) {
  memset(p, 0, sizeof *p);
  if (op->kind >= LP_OP_CACHE_AXPBY && op->kind <= LP_OP_CACHE_L1) return lp_vk_plan_cache_op(vb, op, p);
  const int32_t *i = op->i;
  const char *name = op_name(op->kind);
  /* Each kernel's needed arguments: count of positive ints, inputs. */
  int npos = 0, nin = 0;
  switch (op->kind) {
  case LP_OP_LINEAR: npos = 3, nin = 2; break;
  case LP_OP_PATCHIFY:
  case LP_OP_UNPATCHIFY: npos = 5, nin = 1; break;
  case LP_OP_EMBED_ADD: npos = 3, nin = 3; break;
  case LP_OP_ADD_ROWS: npos = 3, nin = 1; break;
  case LP_OP_SILU: npos = 1, nin = 1; break;
  case LP_OP_LN_MODULATE: npos = 4, nin = 3; break;
  case LP_OP_ATTENTION: npos = 4, nin = 1; break;
  case LP_OP_GATED_ADD: npos = 4, nin = 2; break;
  default: return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: unknown op kind %d", (int)op->kind);
  }
  for (int k = 0; k < npos; k++)
    if (i[k] <= 0)
      return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: %s argument i[%d] = %d must be positive", name, k, i[k]);
  for (int k = 0; k < nin; k++)
    if (!op->in[k].buf) return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: %s input %d has no buffer", name, k);
  if (!op->out.buf) return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: %s has no output buffer", name);

  const uint64_t a = (uint64_t)i[0], b = (uint64_t)i[1], c = (uint64_t)i[2], d = (uint64_t)i[3];
  switch (op->kind) {
  case LP_OP_LINEAR: { /* M, N, K, act */
    if (i[3] < LP_ACT_NONE || i[3] > LP_ACT_GELU_TANH)
      return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: LINEAR activation %d unknown", i[3]);
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
    break;
  }
  case LP_OP_PATCHIFY:
  case LP_OP_UNPATCHIFY: { /* B, C, H, W, p */
    if (i[2] % i[4] || i[3] % i[4])
      return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: %s image %dx%d not divisible by patch %d", name,
                      i[2], i[3], i[4]);
    const uint64_t img = a * b * c * d;
    elementwise(vb, p, op->kind == LP_OP_PATCHIFY ? "patchify" : "unpatchify", img);
    p->extent[0] = img, p->extent[3] = img;
    break;
  }
  case LP_OP_EMBED_ADD: /* B, D, rows */
    elementwise(vb, p, "embed_add", a * b);
    p->extent[0] = a * b, p->extent[1] = c * b, p->extent[2] = a, p->extent[3] = a * b;
    break;
  case LP_OP_ADD_ROWS: /* R, T, D */
    elementwise(vb, p, "add_rows", a * c);
    p->extent[0] = (a < b ? a : b) * c, p->extent[3] = a * c;
    p->out_read = 1;
    break;
  case LP_OP_SILU:
    elementwise(vb, p, "silu", a);
    p->extent[0] = a, p->extent[3] = a;
    break;
  case LP_OP_LN_MODULATE: { /* B, T, D, mod_stride */
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
      break;
    }
    uint32_t wg = 32; /* a power of two near D, for the tree reduction */
    while (wg < c && wg < 256) wg *= 2;
    p->shader = "ln_modulate";
    p->spec[0] = wg;
    p->nspec = 1;
    p->groups[0] = lp_vk_grid_groups(vb, rows, 65535), p->groups[1] = p->groups[2] = 1;
    break;
  }
  case LP_OP_ATTENTION: { /* B, T, D, heads */
    if (i[2] % i[3])
      return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: ATTENTION width %d not divisible by %d heads", i[2], i[3]);
    const int hd = i[2] / i[3];
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
      break;
    }
    /* Keys staged per block: K and V tiles of bkeys x hd floats each. */
    uint32_t bkeys = hd <= 64 ? 32 : 16;
    while (bkeys > 1 && 2u * bkeys * (uint32_t)hd * 4u > vb->props.limits.maxComputeSharedMemorySize) bkeys /= 2;
    p->shader = "attention";
    p->spec[0] = (uint32_t)hd, p->spec[1] = bkeys;
    p->nspec = 2;
    p->groups[0] = ceil_div(b, ATTN_QUERIES);
    break;
  }
  case LP_OP_GATED_ADD: /* B, T, D, stride */
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
    break;
  default: break;
  }

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
