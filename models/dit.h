/* dit.h - the DiT runtime inside leap_model: weights on a backend and, per
 * batch size, a plan (activation buffers and three recorded programs: embed,
 * blocks, final). Feature caching hooks between the programs. */
#ifndef LEAP_DIT_H
#define LEAP_DIT_H

#include "backend.h"
#include "prog_cache.h"
#include "context.h"
#include "leap.h"
#include "safetensors.h"
#include "weights.h"

#define LP_DIT_FREQ_DIM 256     /* timestep embedding frequencies (cos + sin) */
#define LP_DIT_MAX_HEAD_DIM 256 /* limits of the attention kernels */
#define LP_DIT_MAX_TOKENS 4096

/* The role of each tensor in the DiT's weight list (dit_weights.c): the
 * model's own tensors, then a block's (with the block index). */
typedef enum lp_dit_role {
  LP_DIT_X_W, LP_DIT_X_B, LP_DIT_POS, LP_DIT_T_W0, LP_DIT_T_B0, LP_DIT_T_W2, LP_DIT_T_B2,
  LP_DIT_Y_TABLE, LP_DIT_F_ADA_W, LP_DIT_F_ADA_B, LP_DIT_F_W, LP_DIT_F_B,
  LP_DIT_ADA_W, LP_DIT_ADA_B, LP_DIT_QKV_W, LP_DIT_QKV_B, LP_DIT_PROJ_W, LP_DIT_PROJ_B,
  LP_DIT_FC1_W, LP_DIT_FC1_B, LP_DIT_FC2_W, LP_DIT_FC2_B,
  LP_DIT_ROLES
} lp_dit_role;

typedef struct lp_dit_block {
  lp_buf *ada_w, *ada_b, *qkv_w, *qkv_b, *proj_w, *proj_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} lp_dit_block;

/* Activations for one batch size n. */
typedef struct lp_dit_plan {
  int n;
  lp_buf *x_in;    /* [n, C, H, W] */
  lp_buf *temb;    /* [n, 256] sinusoidal timestep features (computed on the host in double) */
  lp_buf *labels;  /* [n] int32 */
  lp_buf *t1, *c;  /* [n, D] */
  lp_buf *sc;      /* [n, D] silu(c), shared by every adaLN */
  lp_buf *patches; /* [n*T, C*p*p] */
  lp_buf *h;       /* [n*T, D] hidden states */
  lp_buf *mod;     /* [n, 6D] adaLN output of the current block / final layer */
  lp_buf *a;       /* [n*T, D] modulated LN output */
  lp_buf *qkv;     /* [n*T, 3D] */
  lp_buf *att;     /* [n*T, D] */
  lp_buf *proj;    /* [n*T, D] */
  lp_buf *mlp;     /* [n*T, F] */
  lp_buf *fout;    /* [n*T, p*p*Cout] */
  lp_buf *out;     /* [n, Cout, H, W] */
  lp_buf *gout;    /* [n/2, Cout, H, W] guided prediction (dit_step.c; made on first use) */
  lp_prog embed, blocks, final;
  lp_prog_cache steps; /* sampling steps without a cache (dit_step.c) */
} lp_dit_plan;

typedef struct lp_dit {
  leap_context *ctx;
  lp_backend *be;
  leap_model_info info;
  int mlp_hidden;
  int64_t parameters;
  lp_buf *x_w, *x_b, *pos, *t_w0, *t_b0, *t_w2, *t_b2, *y_table;
  lp_buf *f_ada_w, *f_ada_b, *f_w, *f_b;
  lp_dit_block *blocks; /* [depth]; the buffers belong to the leap_model */
  lp_dit_plan plan;
  int stage;            /* 0 none, 1 embedded, 2 blocks done: guards the stage order */
  leap_tensor hidden;   /* a view of plan.h for the caching hooks */
} lp_dit;

leap_status lp_dit_read_description(const lp_st_file *f, leap_model_info *info);
/* The DiT's weight list for a description (dit_weights.c). */
leap_status lp_dit_weights(const leap_model_info *info, lp_weight_list *out);
/* The same list for an architecture with the DiT's tensors (the video DiT):
 * tokens in pos_embed, role[r] the architecture's role for the DiT's role r,
 * `ada` the blocks' adaLN label. */
leap_status lp_dit_weights_as(const leap_model_info *info, int64_t tokens, const int *role, const char *ada,
                              lp_weight_list *out);
/* Builds the plan for batch size n (no-op if it exists). */
leap_status lp_dit_plan_ensure(lp_dit *m, int n);
void lp_dit_plan_free(lp_dit *m);
/* The host-side part of the embedding: sin-cos timestep features in double. */
void lp_dit_timestep_features(int n, const float *t, float *out /* [n, 256] */);

#endif
