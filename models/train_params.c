/* train_params.c - the trainer's parameter array: named views with the
 * public DiT state-dict names and shapes, and DiT's initialisation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "sampler.h"
#include "train_dit.h"

size_t lp_train_par_min = 65536;

static size_t add(lp_tlayout *L, const char *name, int ndim, int64_t s0, int64_t s1, int64_t s2,
                  int64_t s3) {
  lp_tparam *t = &L->p[L->count++];
  snprintf(t->name, sizeof t->name, "%s", name);
  const int64_t sh[4] = {s0, s1, s2, s3};
  t->ndim = ndim;
  t->numel = 1;
  for (int i = 0; i < ndim; i++) {
    t->shape[i] = sh[i];
    t->numel *= (size_t)sh[i];
  }
  t->off = L->total;
  t->trainable = strcmp(name, "pos_embed") != 0;
  t->decay = t->trainable && ndim >= 2;
  L->total += t->numel;
  return t->off;
}

leap_status lp_tlayout_init(lp_tlayout *L, const lp_dit_arch *a) {
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
  L->a = *a;
  const int64_t D = a->hidden, C = a->in_channels, p = a->patch;
  L->D = (int)D;
  L->F = (int)lround(D * a->mlp_ratio); /* as dit_load.c computes it */
  L->grid = a->input_size / a->patch;
  L->T = L->grid * L->grid;
  L->cpp = (int)(C * p * p);
  L->hd = (int)(D / a->heads);
  if (L->F < 1) return lp_error(LEAP_ERR_INVALID_ARG, "train: mlp_ratio %g gives no MLP", a->mlp_ratio);
  const int64_t F = L->F, T = L->T, P = L->cpp;
  L->p = lp_calloc((size_t)(12 + 10 * a->depth), sizeof *L->p);
  L->blk = lp_calloc((size_t)a->depth, sizeof *L->blk);
  if (!L->p || !L->blk) {
    lp_tlayout_free(L);
    return lp_error(LEAP_ERR_NOMEM, "train: out of memory");
  }
  L->x_w = add(L, "x_embedder.proj.weight", 4, D, C, p, p);
  L->x_b = add(L, "x_embedder.proj.bias", 1, D, 0, 0, 0);
  L->pos = add(L, "pos_embed", 3, 1, T, D, 0);
  L->t_w0 = add(L, "t_embedder.mlp.0.weight", 2, D, LP_TRAIN_FREQ_DIM, 0, 0);
  L->t_b0 = add(L, "t_embedder.mlp.0.bias", 1, D, 0, 0, 0);
  L->t_w2 = add(L, "t_embedder.mlp.2.weight", 2, D, D, 0, 0);
  L->t_b2 = add(L, "t_embedder.mlp.2.bias", 1, D, 0, 0, 0);
  if (a->num_classes > 0)
    L->y_tab = add(L, "y_embedder.embedding_table.weight", 2, a->num_classes + 1, D, 0, 0);
  char n[96];
  for (int i = 0; i < a->depth; i++) {
    lp_tblock_off *b = &L->blk[i];
#define B_(field, suffix, nd, s0, s1)                 \
  snprintf(n, sizeof n, "blocks.%d.%s", i, suffix); \
  b->field = add(L, n, nd, s0, s1, 0, 0)
    B_(ada_w, "adaLN_modulation.1.weight", 2, 6 * D, D);
    B_(ada_b, "adaLN_modulation.1.bias", 1, 6 * D, 0);
    B_(qkv_w, "attn.qkv.weight", 2, 3 * D, D);
    B_(qkv_b, "attn.qkv.bias", 1, 3 * D, 0);
    B_(proj_w, "attn.proj.weight", 2, D, D);
    B_(proj_b, "attn.proj.bias", 1, D, 0);
    B_(fc1_w, "mlp.fc1.weight", 2, F, D);
    B_(fc1_b, "mlp.fc1.bias", 1, F, 0);
    B_(fc2_w, "mlp.fc2.weight", 2, D, F);
    B_(fc2_b, "mlp.fc2.bias", 1, D, 0);
#undef B_
  }
  L->f_ada_w = add(L, "final_layer.adaLN_modulation.1.weight", 2, 2 * D, D, 0, 0);
  L->f_ada_b = add(L, "final_layer.adaLN_modulation.1.bias", 1, 2 * D, 0, 0, 0);
  L->f_w = add(L, "final_layer.linear.weight", 2, P, D, 0, 0);
  L->f_b = add(L, "final_layer.linear.bias", 1, P, 0, 0, 0);
  return LEAP_OK;
}

void lp_tlayout_free(lp_tlayout *L) {
  free(L->p);
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
  const size_t D = L->D, F = L->F;
  memset(P, 0, L->total * sizeof *P); /* biases, adaLN-Zero, zero final layer */
  fill_xavier(&r, P + L->x_w, D, (size_t)L->cpp); /* xavier on the (D, C*p*p) view */
  fill_normal(&r, P + L->t_w0, D * LP_TRAIN_FREQ_DIM, 0.02);
  fill_normal(&r, P + L->t_w2, D * D, 0.02);
  if (L->a.num_classes > 0) fill_normal(&r, P + L->y_tab, (L->a.num_classes + 1) * D, 0.02);
  for (int i = 0; i < L->a.depth; i++) {
    const lp_tblock_off *b = &L->blk[i];
    fill_xavier(&r, P + b->qkv_w, 3 * D, D);
    fill_xavier(&r, P + b->proj_w, D, D);
    fill_xavier(&r, P + b->fc1_w, F, D);
    fill_xavier(&r, P + b->fc2_w, D, F);
  }
  lp_tdit_pos_embed(L->D, L->grid, P + L->pos);
}
