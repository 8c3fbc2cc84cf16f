/* train_dit.h - training a DiT on the CPU, plainly, in the spirit of llm.c:
 * all parameters in one contiguous array with named views (the public DiT
 * state-dict names and shapes, exactly those dit_load.c reads), a forward
 * pass that keeps the activations the backward pass needs, and each op's
 * backward next to its forward (train_ops_impl.h).
 *
 * The op and model code is written once over a `real` type and compiled
 * twice: _f32 (training) and _f64 (gradient checks in the tests, where
 * finite differences need double precision to say anything). */
#ifndef LP_TRAIN_DIT_H
#define LP_TRAIN_DIT_H

#include <stddef.h>
#include <stdint.h>

#include "leap.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The architecture (learn_sigma is always false: out_channels = in_channels). */
typedef struct lp_dit_arch {
  int input_size, in_channels, patch, hidden, depth, heads, num_classes;
  double mlp_ratio;
} lp_dit_arch;

/* The rotary base of the video DiT leap trains (the runtime runs only it). */
#define LP_TRAIN_ROPE_THETA 10000.0

/* One named view into the parameter array: an entry of the DiT's weight
 * list (dit_weights.c), whose offsets are the parameter array's layout. */
typedef lp_weight lp_tparam;

/* Offsets of one block's tensors in the parameter array. */
typedef struct lp_tblock_off {
  size_t ada_w, ada_b, qkv_w, qkv_b, proj_w, proj_b, fc1_w, fc1_b, fc2_w, fc2_b;
} lp_tblock_off;

typedef struct lp_tlayout {
  lp_dit_arch a;
  int D, F, T, grid, cpp /* C*p*p */, hd /* head dim */;
  /* Frames per sample (1 for images), frames per chunk and chunks per
   * sample (the adaLN groups): an image is one frame in one chunk. */
  int frames, Fc, K;
  int video;        /* rotary time and the block-causal mask */
  float *rope_cos, *rope_sin; /* [frames, hd/2] (video only), as the runtime's ROPE rounds them */
  lp_weight_list list; /* the DiT's weight list for this architecture */
  int count;        /* number of named tensors (list.count) */
  lp_tparam *p;     /* [count] in state-dict order (list.w) */
  size_t total;     /* elements in the parameter array (list.total) */
  size_t x_w, x_b, pos, t_w0, t_b0, t_w2, t_b2, y_tab, f_ada_w, f_ada_b, f_w, f_b;
  lp_tblock_off *blk; /* [depth] */
} lp_tlayout;

#define LP_TRAIN_FREQ_DIM 256

/* Loops with less work than this (elements) run on one thread; default
 * 65536. Tests set 0 to run every loop in parallel. */
extern size_t lp_train_par_min;

/* Checks the architecture (names the bad field) and builds the layout. */
leap_status lp_tlayout_init(lp_tlayout *L, const lp_dit_arch *a);
/* The video DiT of bench/torch_video_dit.py (the same weights as the image
 * DiT): clips of clip_frames square frames of input_size in whole chunks of
 * frames_per_chunk, adaLN per chunk, rotary time and block-causal
 * attention. clip_frames 0 is lp_tlayout_init. */
leap_status lp_tlayout_init_video(lp_tlayout *L, const lp_dit_arch *a, int clip_frames,
                                  int frames_per_chunk);
void lp_tlayout_free(lp_tlayout *L);
const lp_tparam *lp_tlayout_find(const lp_tlayout *L, const char *name);

/* DiT's initialisation (xavier-uniform linears, zero biases, adaLN-Zero,
 * normal(0.02) class table and timestep MLP weights, 2-D sin-cos pos_embed)
 * from a seed: each tensor as its weight list entry says, in list order. */
void lp_tdit_init(const lp_tlayout *L, uint64_t seed, float *params);
/* The fixed 2-D sin-cos position embedding [grid*grid, D] (DiT's
 * get_2d_sincos_pos_embed), computed in double. */
void lp_tdit_pos_embed(int D, int grid, float *out);

/* The precision-generic part, declared for float (f32) and double (f64). */
#define LP_TRAIN_DECLARE(SUF, real)                                                              \
  /* ---- ops: forward and backward (backward accumulates into parameter grads) ---- */          \
  /* y[M,N] = x[M,K] w[N,K]^T + b */                                                             \
  void lp_top_linear_fwd_##SUF(int M, int N, int K, const real *x, const real *w, const real *b, \
                               real *y);                                                         \
  /* dx = dy w (written; dx may be NULL); dw += dy^T x; db += colsum(dy) (db may be NULL) */     \
  void lp_top_linear_bwd_##SUF(int M, int N, int K, const real *x, const real *w,              \
                               const real *dy, real *dx, real *dw, real *db);                    \
  void lp_top_silu_fwd_##SUF(size_t n, const real *x, real *y);                                  \
  /* dx = dy * silu'(x) (written) */                                                             \
  void lp_top_silu_bwd_##SUF(size_t n, const real *x, const real *dy, real *dx);                 \
  void lp_top_gelu_fwd_##SUF(size_t n, const real *x, real *y);                                  \
  void lp_top_gelu_bwd_##SUF(size_t n, const real *x, const real *dy, real *dx);                 \
  /* y = LN(x) * (1 + scale[b]) + shift[b]; rows of T per sample b; shift/scale rows of       \
   * stride ms; saves mean and rstd per row */                                                   \
  void lp_top_ln_mod_fwd_##SUF(int B, int T, int D, const real *x, const real *shift,            \
                               const real *scale, int ms, real *y, real *mean, real *rstd);      \
  /* dx += ...; dshift += ...; dscale += ... */                                                  \
  void lp_top_ln_mod_bwd_##SUF(int B, int T, int D, const real *x, const real *scale, int ms,    \
                               const real *mean, const real *rstd, const real *dy, real *dx,     \
                               real *dshift, real *dscale);                                      \
  /* h += gate[b] * y */                                                                         \
  void lp_top_gated_add_fwd_##SUF(int B, int T, int D, const real *y, const real *gate, int gs,  \
                                  real *h);                                                      \
  /* dy = gate * dh (written); dgate += sum_t dh * y */                                          \
  void lp_top_gated_add_bwd_##SUF(int B, int T, int D, const real *y, const real *gate, int gs,  \
                                  const real *dh, real *dy, real *dgate);                        \
  /* out[B*T, D] = softmax(q k^T * scale) v per head; qkv [B*T, 3D] split [3][H][hd] */          \
  leap_status lp_top_attn_fwd_##SUF(int B, int T, int D, int H, const real *qkv, real *out);     \
  /* dqkv written (recomputes the probabilities) */                                              \
  leap_status lp_top_attn_bwd_##SUF(int B, int T, int D, int H, const real *qkv,                 \
                                    const real *dout, real *dqkv);                               \
  /* The same with the block-causal mask: sequences of T tokens in chunks of Tc (the last     \
   * chunk may be short); token n attends m iff m / Tc <= n / Tc. Tc = T is the attention     \
   * above, to the bit. */                                                                       \
  leap_status lp_top_battn_fwd_##SUF(int B, int T, int Tc, int D, int H, const real *qkv,       \
                                     real *out);                                                 \
  leap_status lp_top_battn_bwd_##SUF(int B, int T, int Tc, int D, int H, const real *qkv,       \
                                     const real *dout, real *dqkv);                              \
  /* Rotary time on q and k of qkv [R, 3D] in place (GPT-NeoX layout): row r is frame          \
   * (r % T) / P; cs, sn [frames, hd/2]. The backward is the transpose rotation, in place on   \
   * dqkv. */                                                                                    \
  void lp_top_rope_fwd_##SUF(int R, int T, int P, int D, int H, const float *cs, const float *sn, \
                             real *qkv);                                                         \
  void lp_top_rope_bwd_##SUF(int R, int T, int P, int D, int H, const float *cs, const float *sn, \
                             real *dqkv);                                                        \
  /* x [B,C,H,W] -> rows [B*T, C*p*p] in (c, ky, kx) order (conv weight order) */               \
  void lp_top_im2col_##SUF(int B, int C, int Hh, int p, const real *x, real *cols);              \
  /* rows [B*T, p*p*C] in (ky, kx, c) order -> img [B,C,H,W], and its adjoint */                \
  void lp_top_unpatchify_fwd_##SUF(int B, int C, int Hh, int p, const real *rows, real *img);    \
  void lp_top_unpatchify_bwd_##SUF(int B, int C, int Hh, int p, const real *dimg, real *drows);  \
  /* y[b] += table[label[b]]; backward dtable[label[b]] += dy[b] */                              \
  void lp_top_embed_fwd_##SUF(int B, int D, const real *table, const int32_t *labels, real *y);  \
  void lp_top_embed_bwd_##SUF(int B, int D, const int32_t *labels, const real *dy,              \
                              real *dtable);                                                     \
  /* [cos(t f_i), sin(t f_i)], f_i = exp(-ln(10000) i / 128), computed in double */             \
  void lp_top_timestep_features_##SUF(int B, const real *t, real *out);                          \
  /* mean((out - target)^2) and dout = d loss / d out */                                         \
  double lp_top_mse_##SUF(size_t n, const real *out, const real *target, real *dout);            \
                                                                                                 \
  /* ---- the whole model ---- */                                                                \
  typedef struct lp_tws_##SUF lp_tws_##SUF;                                                      \
  /* Activations and scratch for batches of up to `batch` images. */                             \
  leap_status lp_tws_create_##SUF(const lp_tlayout *L, int batch, lp_tws_##SUF **out);          \
  void lp_tws_free_##SUF(lp_tws_##SUF *w);                                                       \
  /* x [B,C,H,W], t [B] (the model's timestep input), y [B] labels (already dropped; ignored    \
   * without classes) -> out [B,C,H,W]; keeps the activations in w. A video model: B clips,     \
   * x and out [B, frames, C, H, W], t [B, K] one per chunk, y [B] one per clip. */              \
  leap_status lp_tdit_forward_##SUF(lp_tws_##SUF *w, const real *params, int B, const real *x,  \
                                    const real *t, const int32_t *y, real *out);                 \
  /* The backward pass of the last forward: grads += d loss / d params, given dout. */           \
  leap_status lp_tdit_backward_##SUF(lp_tws_##SUF *w, const real *params, const real *dout,      \
                                     real *grads);

LP_TRAIN_DECLARE(f32, float)
LP_TRAIN_DECLARE(f64, double)

#ifdef __cplusplus
}
#endif

#endif
