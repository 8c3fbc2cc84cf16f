/* arch_video_dit.c - the video DiT of bench/torch_video_dit.py (whose
 * docstring defines it) as an lp_model_arch: per-frame patch embedding,
 * the 2-D sin-cos table on every frame, adaLN per chunk from per-chunk
 * timesteps, rotary embedding over the absolute frame (LP_OP_ROPE),
 * block-causal attention (LP_OP_BLOCK_ATTENTION) and, chunk by chunk, each
 * block's KV cache (LP_OP_KV_APPEND). Each call builds its op program over
 * scratch buffers of its own size and runs it once. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "arch.h"
#include "arch_video_dit.h"
#include "dit.h"
#include "error.h"
#include "kv_cache.h"
#include "model_internal.h"

/* The one rotary base this build runs: leap_model_info has no field to
 * carry another from the file to the runtime. */
#define VDIT_ROPE_THETA 10000.0
#define META_INT_MAX 1000000

typedef enum vdit_role {
  VD_X_W, VD_X_B, VD_POS, VD_T_W0, VD_T_B0, VD_T_W2, VD_T_B2, VD_Y_TABLE,
  VD_ADA_W, VD_ADA_B, VD_QKV_W, VD_QKV_B, VD_PROJ_W, VD_PROJ_B, VD_FC1_W, VD_FC1_B, VD_FC2_W, VD_FC2_B,
  VD_F_ADA_W, VD_F_ADA_B, VD_F_W, VD_F_B,
  VD_ROLES
} vdit_role;
#define VD_BLOCK_ROLES (VD_FC2_B - VD_ADA_W + 1)

struct lp_video_dit {
  leap_context *ctx;
  lp_backend *be;
  leap_model_info info;
  int P, mlp_hidden;
  lp_buf *w[VD_ROLES]; /* the model's own tensors (block roles unused) */
  lp_buf *(*blk)[VD_BLOCK_ROLES]; /* [depth]: the block roles from VD_ADA_W */
  lp_kv_cache *caches; /* [depth] once lp_video_dit_cache_begin ran */
  int cache_n;
};

/* ---- description ------------------------------------------------------ */

static leap_status meta_int(const lp_st_file *f, const char *key, int *out) {
  const char *v = lp_st_meta(f, key);
  char *end;
  long x = v ? strtol(v, &end, 10) : -1;
  if (!v) return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ lacks '%s' (needed to describe the video DiT)", lp_st_path(f), key);
  if (end == v || *end || x < 0 || x > META_INT_MAX)
    return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ '%s' = '%s' is not a valid integer", lp_st_path(f), key, v);
  *out = (int)x;
  return LEAP_OK;
}

static leap_status meta_double(const lp_st_file *f, const char *key, double *out) {
  const char *v = lp_st_meta(f, key);
  char *end;
  double x = v ? strtod(v, &end) : 0;
  if (!v) return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ lacks '%s' (needed to describe the video DiT)", lp_st_path(f), key);
  if (end == v || *end || !isfinite(x) || x <= 0)
    return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ '%s' = '%s' is not a positive number", lp_st_path(f), key, v);
  *out = x;
  return LEAP_OK;
}

static leap_status vdit_describe(const lp_st_file *f, leap_model_info *in) {
  memset(in, 0, sizeof *in);
  in->struct_size = sizeof *in;
  snprintf(in->arch, sizeof in->arch, "video_dit");
  const char *path = lp_st_path(f);
  leap_status s;
  double theta = 0;
  if ((s = meta_int(f, "patch_size", &in->patch_size)) || (s = meta_int(f, "hidden_size", &in->hidden_size)) ||
      (s = meta_int(f, "depth", &in->depth)) || (s = meta_int(f, "num_heads", &in->num_heads)) ||
      (s = meta_int(f, "frames_per_chunk", &in->frames_per_chunk)) ||
      (s = meta_int(f, "clip_frames", &in->clip_frames)) || (s = meta_int(f, "input_height", &in->height)) ||
      (s = meta_int(f, "input_width", &in->width)) || (s = meta_int(f, "in_channels", &in->in_channels)) ||
      (s = meta_int(f, "num_classes", &in->num_classes)) || (s = meta_int(f, "null_class", &in->null_class)) ||
      (s = meta_double(f, "mlp_ratio", &in->mlp_ratio)) || (s = meta_double(f, "timestep_scale", &in->timestep_scale)) ||
      (s = meta_double(f, "rope_theta", &theta)))
    return s;
  const char *ls = lp_st_meta(f, "learn_sigma");
  in->learn_sigma = ls && (!strcmp(ls, "True") || !strcmp(ls, "true") || !strcmp(ls, "1"));
  const char *pred = lp_st_meta(f, "prediction");
  if (!pred || !strcmp(pred, "flow_v")) in->prediction = LEAP_PRED_FLOW_V;
  else if (!strcmp(pred, "eps")) in->prediction = LEAP_PRED_EPS;
  else if (!strcmp(pred, "v")) in->prediction = LEAP_PRED_V;
  else return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ prediction '%s' is not eps, v or flow_v", path, pred);
  if (theta != VDIT_ROPE_THETA)
    return lp_error(LEAP_ERR_UNSUPPORTED, "%s: rope_theta %g: this build runs the video DiT with rope_theta %g only",
                    path, theta, VDIT_ROPE_THETA);
  const int p = in->patch_size, D = in->hidden_size;
  if (p < 1 || in->height < p || in->width < p || in->height % p || in->width % p)
    return lp_error(LEAP_ERR_FORMAT, "%s: frames of %dx%d are not whole patches of %d", path, in->height, in->width, p);
  if (in->depth < 1 || in->frames_per_chunk < 1 || in->clip_frames < 1 || in->in_channels < 1 || D < 1)
    return lp_error(LEAP_ERR_FORMAT, "%s: depth, frames_per_chunk, clip_frames, in_channels and hidden_size must be >= 1", path);
  if (in->num_heads < 1 || D % in->num_heads || (D / in->num_heads) % 2)
    return lp_error(LEAP_ERR_FORMAT, "%s: hidden_size %d is not %d heads of an even head_dim (the rotary embedding pairs them)",
                    path, D, in->num_heads);
  if (D / in->num_heads > LP_DIT_MAX_HEAD_DIM)
    return lp_error(LEAP_ERR_UNSUPPORTED, "%s: head_dim %d over this build's %d", path, D / in->num_heads, LP_DIT_MAX_HEAD_DIM);
  if (in->num_classes > 0 && (in->null_class < 0 || in->null_class > in->num_classes))
    return lp_error(LEAP_ERR_FORMAT, "%s: null_class %d outside 0..%d", path, in->null_class, in->num_classes);
  const int64_t P = (int64_t)(in->height / p) * (in->width / p);
  if (P * in->clip_frames > INT32_MAX / 4)
    return lp_error(LEAP_ERR_UNSUPPORTED, "%s: %lld tokens per clip", path, (long long)(P * in->clip_frames));
  in->input_size = in->height;
  in->tokens = (int)(P * in->clip_frames);
  in->out_channels = in->in_channels * (in->learn_sigma ? 2 : 1);
  const lp_st_tensor *xw = lp_st_find(f, "x_embedder.proj.weight");
  if (!xw) return lp_error(LEAP_ERR_FORMAT, "%s: no tensor 'x_embedder.proj.weight'", path);
  snprintf(in->weight_dtype, sizeof in->weight_dtype, "%s", lp_dtype_name(xw->dtype));
  /* The loader checks every tensor's shape against the weight list. */
  char name[64];
  snprintf(name, sizeof name, "blocks.%d.attn.qkv.weight", in->depth);
  if (lp_st_find(f, name))
    return lp_error(LEAP_ERR_FORMAT, "%s: more blocks than __metadata__ depth %d", path, in->depth);
  return LEAP_OK;
}

/* The image DiT's tensors, with P tokens (one frame's) in pos_embed and this
 * file's roles. */
static leap_status vdit_weights(const leap_model_info *d, lp_weight_list *L) {
  static const int role[LP_DIT_ROLES] = {
      [LP_DIT_X_W] = VD_X_W,         [LP_DIT_X_B] = VD_X_B,         [LP_DIT_POS] = VD_POS,
      [LP_DIT_T_W0] = VD_T_W0,       [LP_DIT_T_B0] = VD_T_B0,       [LP_DIT_T_W2] = VD_T_W2,
      [LP_DIT_T_B2] = VD_T_B2,       [LP_DIT_Y_TABLE] = VD_Y_TABLE, [LP_DIT_F_ADA_W] = VD_F_ADA_W,
      [LP_DIT_F_ADA_B] = VD_F_ADA_B, [LP_DIT_F_W] = VD_F_W,         [LP_DIT_F_B] = VD_F_B,
      [LP_DIT_ADA_W] = VD_ADA_W,     [LP_DIT_ADA_B] = VD_ADA_B,     [LP_DIT_QKV_W] = VD_QKV_W,
      [LP_DIT_QKV_B] = VD_QKV_B,     [LP_DIT_PROJ_W] = VD_PROJ_W,   [LP_DIT_PROJ_B] = VD_PROJ_B,
      [LP_DIT_FC1_W] = VD_FC1_W,     [LP_DIT_FC1_B] = VD_FC1_B,     [LP_DIT_FC2_W] = VD_FC2_W,
      [LP_DIT_FC2_B] = VD_FC2_B};
  const int64_t p = d->patch_size, P = (d->height / p) * (d->width / p);
  return lp_dit_weights_as(d, P, role, "adaLN per chunk", L);
}

/* ---- runtime ------------------------------------------------------------ */

static void caches_release(lp_video_dit *v) {
  if (!v->caches) return;
  for (int i = 0; i < v->info.depth; i++) lp_kv_cache_release(&v->caches[i], v->be);
  free(v->caches);
  v->caches = NULL;
  v->cache_n = 0;
}

static void vdit_destroy(void *impl) {
  lp_video_dit *v = impl;
  if (!v) return;
  caches_release(v);
  free(v->blk);
  free(v);
}

static leap_status vdit_create(leap_context *ctx, const leap_model_info *info, const lp_weight_list *L,
                               lp_buf *const *bufs, void **impl) {
  lp_video_dit *v = lp_calloc(1, sizeof *v);
  if (v) v->blk = lp_calloc((size_t)info->depth, sizeof *v->blk);
  if (!v || !v->blk) {
    vdit_destroy(v);
    return lp_error(LEAP_ERR_NOMEM, "video DiT: out of memory");
  }
  v->ctx = ctx;
  v->be = ctx->be;
  v->info = *info;
  v->P = (info->height / info->patch_size) * (info->width / info->patch_size);
  v->mlp_hidden = (int)L->w[lp_weights_index(L, 0, VD_FC1_W)].shape[0];
  for (int i = 0; i < L->count; i++) {
    const lp_weight *w = &L->w[i];
    if (w->block < 0) v->w[w->role] = bufs[i];
    else v->blk[w->block][w->role - VD_ADA_W] = bufs[i];
  }
  *impl = v;
  return LEAP_OK;
}

static size_t vdit_id_description(const leap_model_info *in, unsigned char *buf, size_t cap) {
  const int desc[] = {in->height, in->width, in->patch_size, in->in_channels, in->out_channels, in->hidden_size,
                      in->depth, in->num_heads, in->num_classes, in->null_class, in->learn_sigma,
                      (int)in->prediction, in->frames_per_chunk, in->clip_frames};
  const double dbl[] = {in->timestep_scale, in->mlp_ratio, VDIT_ROPE_THETA};
  if (cap < sizeof desc + sizeof dbl) return 0;
  memcpy(buf, desc, sizeof desc);
  memcpy(buf + sizeof desc, dbl, sizeof dbl);
  return sizeof desc + sizeof dbl;
}

/* The scratch buffers of one call. */
enum { SB_X, SB_PATCH, SB_H, SB_A, SB_QKV, SB_QKVR, SB_ATT, SB_PROJ, SB_MLP, SB_FOUT, SB_OUT,
       SB_TEMB, SB_T1, SB_C, SB_SC, SB_MOD, SB_LABELS, SB_SLOTS, SB_H0, SB_RES, SB_COUNT };
enum { RES_NONE = 0, RES_CAPTURE = 1, RES_APPLY = 2 };

/* How a call uses the per-layer caches. Chunk by chunk (slots NULL): the
 * cached chunks in order, and with append the call's one chunk joins them.
 * A window (lp_video_dit_forward_window): `history` listed slots per row,
 * and the call's first `writes` chunks written into write_slots. */
typedef struct kv_use {
  lp_kv_cache *caches; /* [depth]; NULL: the frames alone */
  int append;
  int history;
  const int32_t *slots;       /* [B, history] */
  int writes;
  const int32_t *write_slots; /* [B, writes] */
  /* Block caching (lp_video_window's res_out / res_in): 1 keeps the hidden
   * states after embedding in SB_H0 and leaves h_after - h_before in
   * SB_RES; 2 skips the block stack and sends h + SB_RES to the final
   * layer. */
  int res_mode;
  const float *res;           /* RES_APPLY: [B, N, D] */
  float *res_out;             /* RES_CAPTURE: [B, N, D] */
} kv_use;

typedef struct run_shape {
  int n, frames, frame0, K; /* K chunks, the last may be short */
  int N, R;                 /* tokens per item, rows */
} run_shape;

static lp_view V(lp_buf *b, size_t off) { return (lp_view){b, off}; }

static leap_status push_linear(lp_prog *g, lp_view x, lp_buf *w, lp_buf *b, lp_view y, int M, int N, int K, lp_act act) {
  lp_op op = {.kind = LP_OP_LINEAR, .in = {x, V(w, 0), V(b, 0)}, .out = y, .i = {M, N, K, act}};
  return lp_prog_push(g, &op);
}

/* LN_MODULATE (gate_col < 0) or GATED_ADD over each (item, chunk): tokens
 * of chunk k of item b use modulation row b*K + k (stride columns). */
static leap_status push_per_chunk(lp_prog *g, const lp_video_dit *v, const run_shape *r, lp_op_kind kind, lp_buf *x,
                                  lp_buf *mod, int col0, int col1, int stride, lp_buf *y) {
  const int D = v->info.hidden_size, Fc = v->info.frames_per_chunk;
  for (int b = 0; b < (r->K == 1 ? 1 : r->n); b++)
    for (int k = 0; k < r->K; k++) {
      const int f0 = k * Fc, fk = (r->frames - f0 < Fc ? r->frames - f0 : Fc);
      /* One chunk: every item in one op (B = n, modulation rows b). */
      const int B = r->K == 1 ? r->n : 1, T = fk * v->P;
      const size_t row0 = (size_t)b * r->N + (size_t)f0 * v->P, mrow = (size_t)b * r->K + k;
      lp_op op;
      memset(&op, 0, sizeof op);
      op.kind = kind;
      op.i[0] = B, op.i[1] = T, op.i[2] = D, op.i[3] = stride;
      if (kind == LP_OP_LN_MODULATE) {
        op.in[0] = V(x, row0 * D), op.in[1] = V(mod, mrow * stride + col0), op.in[2] = V(mod, mrow * stride + col1);
        op.out = V(y, row0 * D);
        op.f[0] = 1e-6f;
      } else { /* GATED_ADD: y += gate * x */
        op.in[0] = V(x, row0 * D), op.in[1] = V(mod, mrow * stride + col0);
        op.out = V(y, row0 * D);
      }
      leap_status s = lp_prog_push(g, &op);
      if (s != LEAP_OK) return s;
    }
  return LEAP_OK;
}

static leap_status build(lp_prog *g, const lp_video_dit *v, const run_shape *r, lp_buf *const *sb,
                         const kv_use *kv) {
  const leap_model_info *d = &v->info;
  const int D = d->hidden_size, C = d->in_channels, Co = d->out_channels, p = d->patch_size, Fh = v->mlp_hidden;
  const int nk = r->n * r->K, R = r->R;
  leap_status s;
  /* c per (item, chunk) = MLP(timestep features) + class row; sc = silu(c). */
  if ((s = push_linear(g, V(sb[SB_TEMB], 0), v->w[VD_T_W0], v->w[VD_T_B0], V(sb[SB_T1], 0), nk, D, LP_DIT_FREQ_DIM,
                       LP_ACT_SILU)) ||
      (s = push_linear(g, V(sb[SB_T1], 0), v->w[VD_T_W2], v->w[VD_T_B2], V(sb[SB_C], 0), nk, D, D, LP_ACT_NONE)))
    return s;
  if (v->w[VD_Y_TABLE]) {
    lp_op op = {.kind = LP_OP_EMBED_ADD, .in = {V(sb[SB_C], 0), V(v->w[VD_Y_TABLE], 0), V(sb[SB_LABELS], 0)},
                .out = V(sb[SB_C], 0), .i = {nk, D, d->num_classes + 1}};
    if ((s = lp_prog_push(g, &op))) return s;
  }
  lp_op silu = {.kind = LP_OP_SILU, .in = {V(sb[SB_C], 0)}, .out = V(sb[SB_SC], 0), .i = {nk * D}};
  /* Per-frame patch embedding and the spatial table on every frame. */
  lp_op patch = {.kind = LP_OP_PATCHIFY, .in = {V(sb[SB_X], 0)}, .out = V(sb[SB_PATCH], 0),
                 .i = {r->n * r->frames, C, d->height, d->width, p}};
  lp_op pos = {.kind = LP_OP_ADD_ROWS, .in = {V(v->w[VD_POS], 0)}, .out = V(sb[SB_H], 0), .i = {R, v->P, D}};
  if ((s = lp_prog_push(g, &silu)) || (s = lp_prog_push(g, &patch)) ||
      (s = push_linear(g, V(sb[SB_PATCH], 0), v->w[VD_X_W], v->w[VD_X_B], V(sb[SB_H], 0), R, D, C * p * p,
                       LP_ACT_NONE)) ||
      (s = lp_prog_push(g, &pos)))
    return s;
  /* Block caching: the cached quantity is the block stack's residual per
   * token, as in the image ERTACache (plugin/cache.c), so embed and final
   * still run at this call's timesteps. The same op-table rows (with their
   * CPU/Vulkan twins) do the copy, the difference and the apply. */
  const int64_t RD = (int64_t)R * D;
  if (kv->res_mode == RES_CAPTURE) {
    lp_op keep = lp_op_axpby(V(sb[SB_H], 0), V(NULL, 0), V(sb[SB_H0], 0), RD, 1.0f, 0.0f);
    if ((s = lp_prog_push(g, &keep))) return s;
  } else if (kv->res_mode == RES_APPLY) {
    lp_op app = {.kind = LP_OP_CACHE_APPLY, .in = {V(sb[SB_H], 0), V(sb[SB_RES], 0), V(NULL, 0)},
                 .out = V(sb[SB_H], 0), .i = {R, D, D, 1, R}};
    if ((s = lp_prog_push(g, &app))) return s;
  }
  /* The whole clip: block-causal among its own tokens, no history. */
  lp_kv_cache none = {.B = r->n, .D = D, .heads = d->num_heads, .P = v->P, .F = d->frames_per_chunk};
  for (int i = 0; kv->res_mode != RES_APPLY && i < d->depth; i++) {
    lp_buf *const *w = v->blk[i];
#define BW(role) w[(role) - VD_ADA_W]
    lp_op rope = {.kind = LP_OP_ROPE, .in = {V(sb[SB_QKV], 0)}, .out = V(sb[SB_QKVR], 0),
                  .i = {r->n, r->N, D, d->num_heads, v->P, r->frame0}, .f = {(float)VDIT_ROPE_THETA}};
    lp_op att, app;
    const lp_kv_cache *kc = kv->caches ? &kv->caches[i] : &none;
    if ((s = push_linear(g, V(sb[SB_SC], 0), BW(VD_ADA_W), BW(VD_ADA_B), V(sb[SB_MOD], 0), nk, 6 * D, D,
                         LP_ACT_NONE)) ||
        (s = push_per_chunk(g, v, r, LP_OP_LN_MODULATE, sb[SB_H], sb[SB_MOD], 0, D, 6 * D, sb[SB_A])) ||
        (s = push_linear(g, V(sb[SB_A], 0), BW(VD_QKV_W), BW(VD_QKV_B), V(sb[SB_QKV], 0), R, 3 * D, D,
                         LP_ACT_NONE)) ||
        (s = lp_prog_push(g, &rope)) ||
        (s = kv->slots ? lp_kv_cache_attention_slots_op(kc, V(sb[SB_QKVR], 0), V(sb[SB_ATT], 0), r->N,
                                                         kv->history, V(sb[SB_SLOTS], 0), &att)
                       : lp_kv_cache_attention_op(kc, V(sb[SB_QKVR], 0), V(sb[SB_ATT], 0), r->N, &att)) ||
        (s = lp_prog_push(g, &att)))
      return s;
    if (kv->append && ((s = lp_kv_cache_append_op(kc, V(sb[SB_QKVR], 0), &app)) || (s = lp_prog_push(g, &app))))
      return s;
    /* Window chunks written clean: one op per (row, chunk), each row's
     * chunk to the slot the caller chose for it. */
    const size_t chunk_rows = (size_t)d->frames_per_chunk * v->P;
    for (int w = 0; w < kv->writes; w++)
      for (int b = 0; b < r->n; b++) {
        const size_t row0 = (size_t)b * r->N + w * chunk_rows;
        if ((s = lp_kv_cache_write_op(kc, V(sb[SB_QKVR], row0 * 3 * D), b, kv->write_slots[b * kv->writes + w],
                                      &app)) ||
            (s = lp_prog_push(g, &app)))
          return s;
      }
    if ((s = push_linear(g, V(sb[SB_ATT], 0), BW(VD_PROJ_W), BW(VD_PROJ_B), V(sb[SB_PROJ], 0), R, D, D,
                         LP_ACT_NONE)) ||
        (s = push_per_chunk(g, v, r, LP_OP_GATED_ADD, sb[SB_PROJ], sb[SB_MOD], 2 * D, 0, 6 * D, sb[SB_H])) ||
        (s = push_per_chunk(g, v, r, LP_OP_LN_MODULATE, sb[SB_H], sb[SB_MOD], 3 * D, 4 * D, 6 * D, sb[SB_A])) ||
        (s = push_linear(g, V(sb[SB_A], 0), BW(VD_FC1_W), BW(VD_FC1_B), V(sb[SB_MLP], 0), R, Fh, D,
                         LP_ACT_GELU_TANH)) ||
        (s = push_linear(g, V(sb[SB_MLP], 0), BW(VD_FC2_W), BW(VD_FC2_B), V(sb[SB_PROJ], 0), R, D, Fh,
                         LP_ACT_NONE)) ||
        (s = push_per_chunk(g, v, r, LP_OP_GATED_ADD, sb[SB_PROJ], sb[SB_MOD], 5 * D, 0, 6 * D, sb[SB_H])))
      return s;
#undef BW
  }
  if (kv->res_mode == RES_CAPTURE) {
    lp_op diff = lp_op_axpby(V(sb[SB_H], 0), V(sb[SB_H0], 0), V(sb[SB_RES], 0), RD, 1.0f, -1.0f);
    if ((s = lp_prog_push(g, &diff))) return s;
  }
  lp_op unp = {.kind = LP_OP_UNPATCHIFY, .in = {V(sb[SB_FOUT], 0)}, .out = V(sb[SB_OUT], 0),
               .i = {r->n * r->frames, Co, d->height, d->width, p}};
  if ((s = push_linear(g, V(sb[SB_SC], 0), v->w[VD_F_ADA_W], v->w[VD_F_ADA_B], V(sb[SB_MOD], 0), nk, 2 * D, D,
                       LP_ACT_NONE)) ||
      (s = push_per_chunk(g, v, r, LP_OP_LN_MODULATE, sb[SB_H], sb[SB_MOD], 0, D, 2 * D, sb[SB_A])) ||
      (s = push_linear(g, V(sb[SB_A], 0), v->w[VD_F_W], v->w[VD_F_B], V(sb[SB_FOUT], 0), R, p * p * Co, D,
                       LP_ACT_NONE)) ||
      (s = lp_prog_push(g, &unp)))
    return s;
  return LEAP_OK;
}

/* Frames frame0 .. frame0 + frames - 1 (frame0 starts a chunk): x, t per
 * frame (equal within a chunk), y; over caches (NULL: the frames alone). */
static leap_status run(lp_video_dit *v, int n, int frames, int frame0, const float *x, const float *t,
                       const int32_t *y, const kv_use *kv, float *out, const char *who) {
  const leap_model_info *d = &v->info;
  const int D = d->hidden_size, Fc = d->frames_per_chunk, C = d->in_channels, p = d->patch_size;
  const int64_t widest = 3 * D > v->mlp_hidden ? 3 * D : v->mlp_hidden; /* the widest row of any buffer */
  if (n < 1 || frames < 1 || (int64_t)n * frames * v->P > INT32_MAX / (4 * widest))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: %d clips of %d frames is outside what this build runs", who, n, frames);
  run_shape r = {.n = n, .frames = frames, .frame0 = frame0, .K = (frames + Fc - 1) / Fc};
  r.N = frames * v->P, r.R = n * r.N;
  const int nk = n * r.K;
  /* Timesteps: one per chunk, the same on each of its frames. */
  float *tk = lp_malloc((size_t)nk * sizeof *tk);
  int32_t *lab = lp_malloc((size_t)nk * sizeof *lab);
  float *temb = lp_malloc((size_t)nk * LP_DIT_FREQ_DIM * sizeof *temb);
  leap_status s = tk && lab && temb ? LEAP_OK : lp_error(LEAP_ERR_NOMEM, "%s: out of memory", who);
  for (int b = 0; s == LEAP_OK && b < n; b++)
    for (int f = 0; f < frames; f++) {
      const float tf = t[(size_t)b * frames + f], t0 = t[(size_t)b * frames + f / Fc * Fc];
      if (!isfinite(tf)) {
        s = lp_error(LEAP_ERR_NUMERIC, "%s: timestep of clip %d frame %d is not finite", who, b, frame0 + f);
        break;
      }
      if (tf != t0) {
        s = lp_error(LEAP_ERR_INVALID_ARG, "%s: clip %d frame %d has timestep %g but its chunk starts at %g (one noise level per chunk of %d frames)",
                     who, b, frame0 + f, (double)tf, (double)t0, Fc);
        break;
      }
      if (f % Fc == 0) tk[b * r.K + f / Fc] = tf, lab[b * r.K + f / Fc] = y ? y[b] : 0;
    }
  if (s == LEAP_OK) lp_dit_timestep_features(nk, tk, temb);
  const size_t px = (size_t)d->height * d->width;
  const size_t floats[SB_COUNT] = {
      [SB_X] = (size_t)n * frames * C * px, [SB_PATCH] = (size_t)r.R * C * p * p, [SB_H] = (size_t)r.R * D,
      [SB_A] = (size_t)r.R * D, [SB_QKV] = (size_t)r.R * 3 * D, [SB_QKVR] = (size_t)r.R * 3 * D,
      [SB_ATT] = (size_t)r.R * D, [SB_PROJ] = (size_t)r.R * D, [SB_MLP] = (size_t)r.R * v->mlp_hidden,
      [SB_FOUT] = (size_t)r.R * p * p * d->out_channels, [SB_OUT] = (size_t)n * frames * d->out_channels * px,
      [SB_TEMB] = (size_t)nk * LP_DIT_FREQ_DIM, [SB_T1] = (size_t)nk * D, [SB_C] = (size_t)nk * D,
      [SB_SC] = (size_t)nk * D, [SB_MOD] = (size_t)nk * 6 * D, [SB_LABELS] = (size_t)nk,
      [SB_SLOTS] = kv->slots && kv->history > 0 ? (size_t)n * kv->history : 1,
      [SB_H0] = kv->res_mode == RES_CAPTURE ? (size_t)r.R * D : 1,
      [SB_RES] = kv->res_mode != RES_NONE ? (size_t)r.R * D : 1};
  lp_buf *sb[SB_COUNT] = {0};
  lp_backend *be = v->be;
  for (int k = 0; s == LEAP_OK && k < SB_COUNT; k++) s = be->vt->buf_alloc(be, floats[k] * sizeof(float), &sb[k]);
  lp_prog g = {0};
  if (s == LEAP_OK) s = build(&g, v, &r, sb, kv);
  if (s == LEAP_OK && kv->slots && kv->history > 0)
    s = be->vt->buf_write(be, sb[SB_SLOTS], 0, kv->slots, (size_t)n * kv->history * sizeof(int32_t));
  if (s == LEAP_OK && kv->res_mode == RES_APPLY)
    s = be->vt->buf_write(be, sb[SB_RES], 0, kv->res, floats[SB_RES] * sizeof(float));
  if (s == LEAP_OK) s = be->vt->buf_write(be, sb[SB_X], 0, x, floats[SB_X] * sizeof(float));
  if (s == LEAP_OK) s = be->vt->buf_write(be, sb[SB_TEMB], 0, temb, floats[SB_TEMB] * sizeof(float));
  if (s == LEAP_OK) s = be->vt->buf_write(be, sb[SB_LABELS], 0, lab, (size_t)nk * sizeof(int32_t));
  if (s == LEAP_OK) s = be->vt->prog_run(be, &g);
  if (s == LEAP_OK) s = be->vt->buf_read(be, sb[SB_OUT], 0, out, floats[SB_OUT] * sizeof(float));
  if (s == LEAP_OK && kv->res_mode == RES_CAPTURE)
    s = be->vt->buf_read(be, sb[SB_RES], 0, kv->res_out, floats[SB_RES] * sizeof(float));
  lp_prog_free(be, &g);
  for (int k = 0; k < SB_COUNT; k++)
    if (sb[k]) be->vt->buf_free(be, sb[k]);
  free(tk);
  free(lab);
  free(temb);
  return s;
}

static leap_status check_labels(const lp_video_dit *v, int n, const int32_t *y, const char *who) {
  if (v->info.num_classes <= 0) return LEAP_OK;
  if (!y) return lp_error(LEAP_ERR_INVALID_ARG, "%s: the model is class-conditional and no labels were given", who);
  for (int b = 0; b < n; b++)
    if (y[b] < 0 || y[b] > v->info.num_classes)
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: label %d of clip %d outside 0..%d", who, y[b], b, v->info.num_classes);
  return LEAP_OK;
}

leap_status lp_video_dit_forward(lp_video_dit *v, int n, int frames, const float *x, const float *t,
                                 const int32_t *y, float *out) {
  const char *who = "video DiT forward";
  if (!v || !x || !t || !out) return lp_error(LEAP_ERR_INVALID_ARG, "%s: NULL argument", who);
  leap_status s = check_labels(v, n, y, who);
  const kv_use none = {0};
  return s == LEAP_OK ? run(v, n, frames, 0, x, t, y, &none, out, who) : s;
}

leap_status lp_video_dit_cache_begin(lp_video_dit *v, int n, int max_frames) {
  if (!v) return lp_error(LEAP_ERR_INVALID_ARG, "video DiT cache: NULL model");
  caches_release(v);
  const leap_model_info *d = &v->info;
  v->caches = lp_calloc((size_t)d->depth, sizeof *v->caches);
  if (!v->caches) return lp_error(LEAP_ERR_NOMEM, "video DiT cache: out of memory");
  leap_status s = LEAP_OK;
  for (int i = 0; s == LEAP_OK && i < d->depth; i++)
    s = lp_kv_cache_init(&v->caches[i], v->be, n, d->hidden_size, d->num_heads, v->P, d->frames_per_chunk,
                         max_frames);
  if (s != LEAP_OK) {
    caches_release(v);
    return s;
  }
  v->cache_n = n;
  return LEAP_OK;
}

int lp_video_dit_cached_frames(const lp_video_dit *v) {
  return v && v->caches ? v->caches[0].chunks * v->info.frames_per_chunk : 0;
}

leap_status lp_video_dit_forward_chunk(lp_video_dit *v, int frames, const float *x, const float *t,
                                       const int32_t *y, int append, float *out) {
  const char *who = "video DiT chunk";
  if (!v || !x || !t || !out) return lp_error(LEAP_ERR_INVALID_ARG, "%s: NULL argument", who);
  if (!v->caches) return lp_error(LEAP_ERR_INVALID_ARG, "%s: call lp_video_dit_cache_begin first", who);
  const int Fc = v->info.frames_per_chunk, n = v->cache_n;
  if (frames < 1 || frames > Fc || (append && frames != Fc))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: %d frames; a chunk is 1..%d frames, and only a whole one is cached",
                    who, frames, Fc);
  leap_status s = check_labels(v, n, y, who);
  if (s != LEAP_OK) return s;
  /* t [n]: the chunk's timestep, on each of its frames. */
  float *tf = lp_malloc((size_t)n * frames * sizeof *tf);
  if (!tf) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", who);
  for (int b = 0; b < n; b++)
    for (int f = 0; f < frames; f++) tf[b * frames + f] = t[b];
  const kv_use kv = {.caches = v->caches, .append = append};
  s = run(v, n, frames, lp_video_dit_cached_frames(v), x, tf, y, &kv, out, who);
  free(tf);
  if (s == LEAP_OK && append)
    for (int i = 0; i < v->info.depth; i++) lp_kv_cache_advance(&v->caches[i]);
  return s;
}

void lp_video_dit_cache_end(lp_video_dit *v) {
  if (v) caches_release(v);
}

int lp_video_dit_cache_slots(const lp_video_dit *v) {
  return v && v->caches ? lp_kv_cache_slots(&v->caches[0]) : 0;
}

leap_status lp_video_dit_forward_window(lp_video_dit *v, const lp_video_window *w) {
  const char *who = "video DiT window";
  if (!v || !w || !w->x || !w->t || !w->out) return lp_error(LEAP_ERR_INVALID_ARG, "%s: NULL argument", who);
  const int Fc = v->info.frames_per_chunk, n = w->rows;
  const int K = w->frames > 0 ? (w->frames + Fc - 1) / Fc : 0;
  if (n < 1 || w->frames < 1 || w->chunk0 < 0 || w->chunk0 > INT32_MAX / Fc - K)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: %d rows, %d frames from chunk %d", who, n, w->frames, w->chunk0);
  if (w->history < 0 || w->writes < 0 || w->writes > K || (w->writes == K && w->frames != K * Fc))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: %d history chunks, %d written of the window's %d (only whole ones)",
                    who, w->history, w->writes, K);
  if ((w->history || w->writes) && (!v->caches || v->cache_n != n))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: the caches are not begun for %d rows", who, n);
  if ((w->history && !w->slots) || (w->writes && !w->write_slots))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: slot lists missing", who);
  const int slots = lp_video_dit_cache_slots(v);
  for (int k = 0; k < n * w->history; k++)
    if (w->slots[k] < 0 || w->slots[k] >= slots)
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: history slot %d outside 0..%d", who, w->slots[k], slots - 1);
  for (int k = 0; k < n * w->writes; k++)
    if (w->write_slots[k] < 0 || w->write_slots[k] >= slots)
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: write slot %d outside 0..%d", who, w->write_slots[k], slots - 1);
  if (w->res_in && (w->res_out || w->writes))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: a reused residual skips the blocks: it cannot also capture one or "
                    "write %d chunks' keys and values", who, w->writes);
  leap_status s = check_labels(v, n, w->y, who);
  if (s != LEAP_OK) return s;
  /* slots must be non-NULL for the listed attention even with no history;
   * a reused residual runs no attention, so it lists no history. */
  static const int32_t no_slots[1] = {0};
  const int hist = w->res_in ? 0 : w->history;
  const kv_use kv = {.caches = hist || w->writes ? v->caches : NULL,
                     .history = hist,
                     .slots = hist ? w->slots : (w->writes ? no_slots : NULL),
                     .writes = w->writes,
                     .write_slots = w->write_slots,
                     .res_mode = w->res_in ? RES_APPLY : w->res_out ? RES_CAPTURE : RES_NONE,
                     .res = w->res_in,
                     .res_out = w->res_out};
  return run(v, n, w->frames, w->chunk0 * Fc, w->x, w->t, w->y, &kv, w->out, who);
}

/* A stored chunk's keys are rotated by their frame (LP_OP_ROPE): the
 * summary undoes that per frame, after averaging the frame's tokens (the
 * rotation is linear and the same on every token of a frame). */
leap_status lp_video_dit_slot_summary(lp_video_dit *v, int row, int slot, int chunk, float *summary) {
  const char *who = "video DiT summary";
  if (!v || !summary || !v->caches || row < 0 || row >= v->cache_n || slot < 0 ||
      slot >= lp_video_dit_cache_slots(v) || chunk < 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: bad row %d, slot %d or chunk %d", who, row, slot, chunk);
  const leap_model_info *d = &v->info;
  const int D = d->hidden_size, Fc = d->frames_per_chunk, P = v->P, hd = D / d->num_heads, half = hd / 2;
  const size_t rows = (size_t)Fc * P;
  float *kv = lp_malloc(rows * 2 * D * sizeof *kv);
  double *acc = lp_calloc((size_t)D, sizeof *acc), *fm = lp_malloc((size_t)D * sizeof *fm);
  leap_status s = kv && acc && fm ? LEAP_OK : lp_error(LEAP_ERR_NOMEM, "%s: out of memory", who);
  for (int i = 0; s == LEAP_OK && i < d->depth; i++) {
    const lp_kv_cache *c = &v->caches[i];
    s = v->be->vt->buf_read(v->be, c->buf, ((size_t)row * c->cap + (size_t)slot * rows) * 2 * D * sizeof(float), kv,
                            rows * 2 * D * sizeof(float));
    for (int f = 0; s == LEAP_OK && f < Fc; f++) {
      for (int j = 0; j < D; j++) fm[j] = 0;
      for (int t = 0; t < P; t++)
        for (int j = 0; j < D; j++) fm[j] += kv[((size_t)f * P + t) * 2 * D + j];
      const double frame = (double)chunk * Fc + f;
      for (int h = 0; h < d->num_heads; h++)
        for (int j = 0; j < half; j++) {
          const double ang = frame * pow(VDIT_ROPE_THETA, -2.0 * j / hd), c0 = cos(ang), s0 = sin(ang);
          const double a = fm[h * hd + j], b = fm[h * hd + j + half];
          acc[h * hd + j] += a * c0 + b * s0;
          acc[h * hd + j + half] += b * c0 - a * s0;
        }
    }
  }
  if (s == LEAP_OK)
    for (int j = 0; j < D; j++) summary[j] = (float)(acc[j] / ((double)d->depth * rows));
  free(kv);
  free(acc);
  free(fm);
  return s;
}

/* leap_model_forward: x [n, clip_frames, ...], t [n, clip_frames]. */
static leap_status vdit_forward(void *impl, int n, const float *x, const float *t, const int32_t *y, float *out) {
  lp_video_dit *v = impl;
  const kv_use none = {0};
  return run(v, n, v->info.clip_frames, 0, x, t, y, &none, out, "leap_model_forward");
}

/* leap_model_forward_frames: a clip of any length from frame 0. */
static leap_status vdit_forward_frames(void *impl, int n, int frames, const float *x, const float *t,
                                       const int32_t *y, float *out) {
  const kv_use none = {0};
  return run(impl, n, frames, 0, x, t, y, &none, out, "leap_model_forward_frames");
}

const lp_model_arch lp_arch_video_dit = {
    .name = "video_dit",
    .describe = vdit_describe,
    .weights = vdit_weights,
    .create = vdit_create,
    .destroy = vdit_destroy,
    .id_description = vdit_id_description,
    .forward = vdit_forward,
    .forward_frames = vdit_forward_frames,
};

lp_video_dit *lp_model_video_dit(leap_model *m) {
  return m && m->arch == &lp_arch_video_dit ? m->impl : NULL;
}
