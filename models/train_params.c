/* train_params.c - the trainer's parameter array: the DiT's weight list
 * (dit_weights.c, the same list the loader reads) laid out flat, with named
 * offsets for the forward and backward pass, and DiT's initialisation. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "sampler.h"
#include "dit.h"
#include "train_dit.h"

size_t lp_train_par_min = 65536;

/* Where each role's offset goes in the layout: a field of lp_tlayout (the
 * model's own tensors) or of lp_tblock_off. */
static const struct {
  size_t model_field, block_field; /* offsetof, or SIZE_MAX */
} kOffsets[LP_DIT_ROLES] = {
    [LP_DIT_X_W] = {offsetof(lp_tlayout, x_w), SIZE_MAX},
    [LP_DIT_X_B] = {offsetof(lp_tlayout, x_b), SIZE_MAX},
    [LP_DIT_POS] = {offsetof(lp_tlayout, pos), SIZE_MAX},
    [LP_DIT_T_W0] = {offsetof(lp_tlayout, t_w0), SIZE_MAX},
    [LP_DIT_T_B0] = {offsetof(lp_tlayout, t_b0), SIZE_MAX},
    [LP_DIT_T_W2] = {offsetof(lp_tlayout, t_w2), SIZE_MAX},
    [LP_DIT_T_B2] = {offsetof(lp_tlayout, t_b2), SIZE_MAX},
    [LP_DIT_Y_TABLE] = {offsetof(lp_tlayout, y_tab), SIZE_MAX},
    [LP_DIT_F_ADA_W] = {offsetof(lp_tlayout, f_ada_w), SIZE_MAX},
    [LP_DIT_F_ADA_B] = {offsetof(lp_tlayout, f_ada_b), SIZE_MAX},
    [LP_DIT_F_W] = {offsetof(lp_tlayout, f_w), SIZE_MAX},
    [LP_DIT_F_B] = {offsetof(lp_tlayout, f_b), SIZE_MAX},
    [LP_DIT_ADA_W] = {SIZE_MAX, offsetof(lp_tblock_off, ada_w)},
    [LP_DIT_ADA_B] = {SIZE_MAX, offsetof(lp_tblock_off, ada_b)},
    [LP_DIT_QKV_W] = {SIZE_MAX, offsetof(lp_tblock_off, qkv_w)},
    [LP_DIT_QKV_B] = {SIZE_MAX, offsetof(lp_tblock_off, qkv_b)},
    [LP_DIT_PROJ_W] = {SIZE_MAX, offsetof(lp_tblock_off, proj_w)},
    [LP_DIT_PROJ_B] = {SIZE_MAX, offsetof(lp_tblock_off, proj_b)},
    [LP_DIT_FC1_W] = {SIZE_MAX, offsetof(lp_tblock_off, fc1_w)},
    [LP_DIT_FC1_B] = {SIZE_MAX, offsetof(lp_tblock_off, fc1_b)},
    [LP_DIT_FC2_W] = {SIZE_MAX, offsetof(lp_tblock_off, fc2_w)},
    [LP_DIT_FC2_B] = {SIZE_MAX, offsetof(lp_tblock_off, fc2_b)},
};

/* cos and sin of frame f at frequency j, computed and rounded to float as
 * the runtime's ROPE op (plugin/rope_op.c) does, so the trainer's forward
 * and the runtime's agree to rounding in F32. */
static leap_status rope_tables(lp_tlayout *L) {
  const int half = L->hd / 2;
  const size_t n = (size_t)L->frames * half;
  L->rope_cos = lp_malloc(n * sizeof(float));
  L->rope_sin = lp_malloc(n * sizeof(float));
  if (!L->rope_cos || !L->rope_sin) return lp_error(LEAP_ERR_NOMEM, "train: out of memory");
  for (int f = 0; f < L->frames; f++)
    for (int j = 0; j < half; j++) {
      const double ang = (double)f * pow(LP_TRAIN_ROPE_THETA, -2.0 * j / L->hd);
      L->rope_cos[(size_t)f * half + j] = (float)cos(ang);
      L->rope_sin[(size_t)f * half + j] = (float)sin(ang);
    }
  return LEAP_OK;
}

leap_status lp_tlayout_init(lp_tlayout *L, const lp_dit_arch *a) {
  return lp_tlayout_init_video(L, a, 0, 0);
}

leap_status lp_tlayout_init_video(lp_tlayout *L, const lp_dit_arch *a, int clip_frames,
                                  int frames_per_chunk) {
  memset(L, 0, sizeof *L);
  if (a->input_size < 1 || a->in_channels < 1 || a->patch < 1 || a->input_size % a->patch)
    return lp_error(LEAP_ERR_INVALID_ARG, "train: image size %d is not a multiple of patch %d",
                    a->input_size, a->patch);
  if (a->hidden < 4 || a->hidden % 4)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "train: hidden %d must be a positive multiple of 4 (2-D sin-cos pos_embed)",
                    a->hidden);
  if (a->heads < 1 || a->hidden % a->heads)
    return lp_error(LEAP_ERR_INVALID_ARG, "train: hidden %d is not divisible by heads %d",
                    a->hidden, a->heads);
  if (a->depth < 1 || a->depth > 1000)
    return lp_error(LEAP_ERR_INVALID_ARG, "train: depth %d outside 1..1000", a->depth);
  if (a->num_classes < 0 || !(a->mlp_ratio > 0) || a->mlp_ratio > 64)
    return lp_error(LEAP_ERR_INVALID_ARG, "train: num_classes %d / mlp_ratio %g out of range",
                    a->num_classes, a->mlp_ratio);
  if (clip_frames < 0 || clip_frames > 4096 ||
      (clip_frames > 0 && (frames_per_chunk < 1 || clip_frames % frames_per_chunk)))
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "train: a clip of %d frames is not whole chunks of %d frames (clips of up to 4096 "
                    "frames, every chunk trained at its own noise level)",
                    clip_frames, frames_per_chunk);
  if (clip_frames > 0 && (a->hidden / a->heads) % 2)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "train: head dim %d must be even for the rotary embedding (hidden %d, heads %d)",
                    a->hidden / a->heads, a->hidden, a->heads);
  L->a = *a;
  L->video = clip_frames > 0;
  L->frames = L->video ? clip_frames : 1;
  L->Fc = L->video ? frames_per_chunk : 1;
  L->K = (L->frames + L->Fc - 1) / L->Fc;
  const int64_t D = a->hidden, C = a->in_channels, p = a->patch;
  L->D = (int)D;
  L->F = (int)lround(D * a->mlp_ratio); /* as dit_load.c computes it */
  L->grid = a->input_size / a->patch;
  L->T = L->grid * L->grid;
  L->cpp = (int)(C * p * p);
  L->hd = (int)(D / a->heads);
  if (L->F < 1) return lp_error(LEAP_ERR_INVALID_ARG, "train: mlp_ratio %g gives no MLP", a->mlp_ratio);
  /* The DiT's weight list, described as dit_load.c would describe the
   * trainer's files (learn_sigma off: out_channels = in_channels). */
  leap_model_info info;
  memset(&info, 0, sizeof info);
  info.input_size = a->input_size, info.patch_size = a->patch, info.in_channels = a->in_channels;
  info.out_channels = a->in_channels, info.hidden_size = a->hidden, info.depth = a->depth;
  info.num_heads = a->heads, info.mlp_ratio = a->mlp_ratio, info.num_classes = a->num_classes;
  info.tokens = L->T;
  leap_status s = lp_dit_weights(&info, &L->list);
  L->blk = s == LEAP_OK ? lp_calloc((size_t)a->depth, sizeof *L->blk) : NULL;
  if (s == LEAP_OK && !L->blk) s = lp_error(LEAP_ERR_NOMEM, "train: out of memory");
  if (s != LEAP_OK) {
    lp_tlayout_free(L);
    return s;
  }
  L->p = L->list.w, L->count = L->list.count, L->total = L->list.total;
  if (L->video && (s = rope_tables(L)) != LEAP_OK) {
    lp_tlayout_free(L);
    return s;
  }
  for (int i = 0; i < L->count; i++) {
    const lp_weight *w = &L->p[i];
    const size_t field = w->block < 0 ? kOffsets[w->role].model_field : kOffsets[w->role].block_field;
    char *base = w->block < 0 ? (char *)L : (char *)&L->blk[w->block];
    memcpy(base + field, &w->off, sizeof w->off);
  }
  return LEAP_OK;
}

void lp_tlayout_free(lp_tlayout *L) {
  lp_weights_free(&L->list);
  free(L->rope_cos);
  free(L->rope_sin);
  free(L->blk);
  memset(L, 0, sizeof *L);
}

const lp_tparam *lp_tlayout_find(const lp_tlayout *L, const char *name) {
  for (int i = 0; i < L->count; i++)
    if (strcmp(L->p[i].name, name) == 0) return &L->p[i];
  return NULL;
}

/* DiT's get_1d_sincos_pos_embed_from_grid: dim/2 sines then dim/2 cosines
 * of pos * 10000^(-k / (dim/2)), in double. */
static void sincos_1d(int dim, double pos, float *out) {
  const int half = dim / 2;
  for (int k = 0; k < half; k++) {
    const double omega = 1.0 / pow(10000.0, (double)k / half);
    out[k] = (float)sin(pos * omega);
    out[half + k] = (float)cos(pos * omega);
  }
}

void lp_tdit_pos_embed(int D, int grid, float *out) {
  /* np.meshgrid(grid_w, grid_h): the first half of each row embeds the
   * column index, the second half the row index. */
  for (int i = 0; i < grid; i++)
    for (int j = 0; j < grid; j++) {
      float *row = out + ((size_t)i * grid + j) * D;
      sincos_1d(D / 2, (double)j, row);
      sincos_1d(D / 2, (double)i, row + D / 2);
    }
}

static void fill_xavier(lp_rng *r, float *w, size_t fan_out, size_t fan_in) {
  const double bound = sqrt(6.0 / (double)(fan_in + fan_out));
  for (size_t k = 0; k < fan_out * fan_in; k++) w[k] = (float)((2 * lp_rng_uniform(r) - 1) * bound);
}

static void fill_normal(lp_rng *r, float *w, size_t n, double std) {
  for (size_t k = 0; k < n; k++) w[k] = (float)(std * lp_rng_normal(r));
}

void lp_tdit_init(const lp_tlayout *L, uint64_t seed, float *P) {
  lp_rng r;
  lp_rng_seed(&r, seed, 0);
  memset(P, 0, L->total * sizeof *P); /* LP_WINIT_ZERO */
  for (int i = 0; i < L->count; i++) {
    const lp_weight *w = &L->p[i];
    switch (w->init) {
    case LP_WINIT_ZERO: break;
    case LP_WINIT_XAVIER: fill_xavier(&r, P + w->off, (size_t)w->shape[0], w->numel / (size_t)w->shape[0]); break;
    case LP_WINIT_NORMAL: fill_normal(&r, P + w->off, w->numel, 0.02); break;
    case LP_WINIT_SINCOS_2D: lp_tdit_pos_embed(L->D, L->grid, P + w->off); break;
    }
  }
}
