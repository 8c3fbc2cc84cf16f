/* dit_weights.c - the DiT's weights, listed once: the public DiT state-dict
 * names and shapes (DESIGN.md), in state-dict order, with each tensor's role
 * and initialisation (DiT's: xavier-uniform linears, zero biases,
 * adaLN-Zero, zero final layer, normal(0.02) timestep MLP and class table,
 * fixed 2-D sin-cos pos_embed). */
#include <math.h>
#include <stdio.h>

#include "dit.h"

#define S(...) ((const int64_t[]){__VA_ARGS__})

leap_status lp_dit_weights_as(const leap_model_info *d, int64_t T, const int *role, const char *ada,
                              lp_weight_list *L) {
  const int64_t D = d->hidden_size, C = d->in_channels, p = d->patch_size;
  const int64_t F = (int64_t)lround(D * d->mlp_ratio), P = p * p * d->out_channels;
  lp_weights_add(L, "x_embedder.proj.weight", -1, role[LP_DIT_X_W], "patch embed", LP_WINIT_XAVIER, 4, S(D, C, p, p));
  lp_weights_add(L, "x_embedder.proj.bias", -1, role[LP_DIT_X_B], "patch embed", LP_WINIT_ZERO, 1, S(D));
  lp_weights_add(L, "pos_embed", -1, role[LP_DIT_POS], "position", LP_WINIT_SINCOS_2D, 3, S(1, T, D));
  lp_weights_add(L, "t_embedder.mlp.0.weight", -1, role[LP_DIT_T_W0], "timestep MLP", LP_WINIT_NORMAL, 2,
                 S(D, LP_DIT_FREQ_DIM));
  lp_weights_add(L, "t_embedder.mlp.0.bias", -1, role[LP_DIT_T_B0], "timestep MLP", LP_WINIT_ZERO, 1, S(D));
  lp_weights_add(L, "t_embedder.mlp.2.weight", -1, role[LP_DIT_T_W2], "timestep MLP", LP_WINIT_NORMAL, 2, S(D, D));
  lp_weights_add(L, "t_embedder.mlp.2.bias", -1, role[LP_DIT_T_B2], "timestep MLP", LP_WINIT_ZERO, 1, S(D));
  if (d->num_classes > 0)
    lp_weights_add(L, "y_embedder.embedding_table.weight", -1, role[LP_DIT_Y_TABLE], "class table", LP_WINIT_NORMAL, 2,
                   S(d->num_classes + 1, D));
  char n[LP_WEIGHT_NAME_MAX];
  for (int i = 0; i < d->depth; i++) {
#define B_(r, suffix, what, init, nd, ...)             \
  snprintf(n, sizeof n, "blocks.%d.%s", i, suffix); \
  lp_weights_add(L, n, i, r, what, init, nd, S(__VA_ARGS__))
    B_(role[LP_DIT_ADA_W], "adaLN_modulation.1.weight", ada, LP_WINIT_ZERO, 2, 6 * D, D);
    B_(role[LP_DIT_ADA_B], "adaLN_modulation.1.bias", ada, LP_WINIT_ZERO, 1, 6 * D);
    B_(role[LP_DIT_QKV_W], "attn.qkv.weight", "attention qkv", LP_WINIT_XAVIER, 2, 3 * D, D);
    B_(role[LP_DIT_QKV_B], "attn.qkv.bias", "attention qkv", LP_WINIT_ZERO, 1, 3 * D);
    B_(role[LP_DIT_PROJ_W], "attn.proj.weight", "attention out", LP_WINIT_XAVIER, 2, D, D);
    B_(role[LP_DIT_PROJ_B], "attn.proj.bias", "attention out", LP_WINIT_ZERO, 1, D);
    B_(role[LP_DIT_FC1_W], "mlp.fc1.weight", "MLP in", LP_WINIT_XAVIER, 2, F, D);
    B_(role[LP_DIT_FC1_B], "mlp.fc1.bias", "MLP in", LP_WINIT_ZERO, 1, F);
    B_(role[LP_DIT_FC2_W], "mlp.fc2.weight", "MLP out", LP_WINIT_XAVIER, 2, D, F);
    B_(role[LP_DIT_FC2_B], "mlp.fc2.bias", "MLP out", LP_WINIT_ZERO, 1, D);
#undef B_
  }
  lp_weights_add(L, "final_layer.adaLN_modulation.1.weight", -1, role[LP_DIT_F_ADA_W], "final adaLN", LP_WINIT_ZERO, 2,
                 S(2 * D, D));
  lp_weights_add(L, "final_layer.adaLN_modulation.1.bias", -1, role[LP_DIT_F_ADA_B], "final adaLN", LP_WINIT_ZERO, 1,
                 S(2 * D));
  lp_weights_add(L, "final_layer.linear.weight", -1, role[LP_DIT_F_W], "final linear", LP_WINIT_ZERO, 2, S(P, D));
  return lp_weights_add(L, "final_layer.linear.bias", -1, role[LP_DIT_F_B], "final linear", LP_WINIT_ZERO, 1, S(P));
}

leap_status lp_dit_weights(const leap_model_info *d, lp_weight_list *L) {
  int role[LP_DIT_ROLES];
  for (int r = 0; r < LP_DIT_ROLES; r++) role[r] = r;
  return lp_dit_weights_as(d, d->tokens, role, "adaLN", L);
}
