/*
 * backend.h - the internal compute interface shared by the CPU and Vulkan
 * backends.
 *
 * A model's forward pass is built once (per batch size) as a *program*: a
 * flat list of ops over backend buffers. The CPU backend interprets the
 * list op by op; the Vulkan backend records the whole list into one command
 * buffer, once, and replays it on every call (per-dispatch overhead is what
 * beats eager frameworks at small batch). The ops are plain data, so a test
 * can build a one-op program, run it on both backends on random data and
 * compare: every Vulkan kernel has its CPU twin (op_table.c names both).
 *
 * All op data is float32 row-major, addressed as (buffer, element offset).
 * EMBED_ADD reads int32 labels.
 */
#ifndef LEAP_BACKEND_H
#define LEAP_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "leap.h"

typedef struct lp_buf lp_buf;

/* Every backend's struct lp_buf begins with this head. The serial is unique
 * over the process: a kept program (prog_cache.c) names buffers by pointer,
 * and a buffer freed and another allocated at the same address must not
 * pass for it (a recorded Vulkan command buffer holds the old VkBuffer). */
typedef struct lp_buf_head {
  uint64_t serial;
} lp_buf_head;
/* The next serial (thread-safe). */
uint64_t lp_buf_new_serial(void);
static inline uint64_t lp_buf_serial(const lp_buf *b) {
  return b ? ((const lp_buf_head *)(const void *)b)->serial : 0;
}
typedef struct lp_backend lp_backend;
typedef struct lp_prog_exec lp_prog_exec; /* backend-specific compiled program */

/* A view: a buffer and an offset in elements (4-byte units). */
typedef struct lp_view {
  lp_buf *buf;
  size_t off;
} lp_view;

typedef enum lp_act { LP_ACT_NONE = 0, LP_ACT_SILU = 1, LP_ACT_GELU_TANH = 2 } lp_act;

typedef enum lp_op_kind {
  /* y[M,N] = act(x[M,K] . w[N,K]^T + b[N]); b.buf may be NULL.
   * i: M, N, K, act. Reads x (in[0]), w (in[1]), b (in[2]); writes out. */
  LP_OP_LINEAR = 0,
  /* Image to patch rows. in[0] x [B,C,H,W] -> out [B*T, C*p*p] with
   * T = (H/p)*(W/p), row b*T + hi*(W/p) + wi, column c*p*p + ky*p + kx
   * (the layout of a conv weight [D, C, p, p] flattened to [D, C*p*p]).
   * i: B, C, H, W, p. */
  LP_OP_PATCHIFY = 1,
  /* Patch rows to image, DiT's unpatchify: in[0] [B*T, p*p*C] with column
   * (ky*p + kx)*C + c -> out [B,C,H,W]. i: B, C, H, W, p. */
  LP_OP_UNPATCHIFY = 2,
  /* out[b,:] = in[0][b,:] + table[label[b],:]; in[1] = table [rows, D],
   * in[2] = labels (int32 [B]). i: B, D, rows (labels outside 0..rows-1
   * are clamped: the host validates them first). */
  LP_OP_EMBED_ADD = 3,
  /* out[r, :] += in[0][r % T, :] for r < R (in place on out).
   * i: R, T, D. */
  LP_OP_ADD_ROWS = 4,
  /* out[i] = silu(in[0][i]) for i < n. i: n. */
  LP_OP_SILU = 5,
  /* out[b,t,:] = LN(x[b,t,:]) * (1 + scale[b,:]) + shift[b,:]; LayerNorm
   * without affine, eps f[0]. in[0] = x [B,T,D]; in[1] = shift view,
   * in[2] = scale view, both rows of stride i[3] elements per b.
   * i: B, T, D, mod_stride. */
  LP_OP_LN_MODULATE = 6,
  /* Multi-head self-attention. in[0] = qkv [B*T, 3*D] with column
   * s*D + h*hd + j for s in {q,k,v}; out [B*T, D] with column h*hd + j;
   * softmax(q k^T * f[0]) v, f[0] = 1/sqrt(hd). i: B, T, D, heads. */
  LP_OP_ATTENTION = 7,
  /* out[b,t,:] += gate[b,:] * y[b,t,:] (in place on out). in[0] = y
   * [B,T,D], in[1] = gate view with row stride i[3]. i: B, T, D, stride. */
  LP_OP_GATED_ADD = 8,
  /* Feature-cache kernels (plugin/cpu_cache_ops.c, shaders/cache_*.comp).
   * out[k] = f[0] * in[0][k] + f[1] * in[1][k] for k < n; in[1].buf may be
   * NULL (then out = f[0] * in[0]: a scaled copy). i: n. */
  LP_OP_CACHE_AXPBY = 9,
  /* Apply a cached residual with per-channel rectification, in one pass:
   * out[r, l] = in[0][r, l] + a * in[1][r, l] + b, where for group
   * g = r / i[4] and channel c = (l / i[3]) % i[2] the coefficients are
   * a = in[2][(2g) C + c], b = in[2][(2g + 1) C + c]; with in[2].buf NULL,
   * a = 1 and b = 0. in[0] may alias out. i: rows, L (row length),
   * C (channels), inner (elements per channel run: 1 when channels are the
   * last axis, H*W for NCHW), rows_per_group. */
  LP_OP_CACHE_APPLY = 10,
  /* Per-row L1 sums: out[2r] = sum_l |in[0][r,l] - in[1][r,l]|,
   * out[2r+1] = sum_l |in[1][r,l]| (the reference's norm). i: rows, L. */
  LP_OP_CACHE_L1 = 11,
  /* Block-causal attention over a clip's newest frames, with the keys and
   * values of its finished chunks from a KV cache (video DiTs; builders and
   * the cache layout in kv_cache.h). Tokens come in frames of P = i[4]
   * tokens, frames in chunks of F = i[5] frames; a query of chunk c attends
   * to every token of chunks 0 .. c and to none after. in[0] = qkv of the
   * new tokens [B, Tn, 3*D] (columns as ATTENTION), frames Nc*F onwards
   * of the clip; in[1] = the layer's cache [B, cap, 2*D] (a row: k in
   * columns 0 .. D-1, v in D .. 2D-1), whose first Nc*F*P rows per b hold
   * the Nc finished chunks (in[1].buf may be NULL when Nc = 0). out
   * [B, Tn, D]; softmax(q k^T * f[0]) v. Tn need not fill whole chunks
   * (a clip's last chunk may be short), but is whole frames. in[2]
   * (optional; NULL: the first Nc chunks, as above) lists the cached chunks
   * the new tokens see, per batch item: int32 [B, Nc], cached chunk c of
   * item b is rows s*F*P .. (s+1)*F*P - 1 of b's cache for s = in[2][b*Nc +
   * c] (0 <= s < cap / (F*P)), so a KV policy can attend to a selection of
   * stored chunks in any slots (block diffusion's ROLLING and SPARSE).
   * i: B, Tn, D, heads, P, F, Nc, cap. */
  LP_OP_BLOCK_ATTENTION = 12,
  /* Appends keys and values to a KV cache: out[b, start + t, c] =
   * in[0][b, t, D + c] for t < Tn, c < 2D (the k and v thirds of qkv rows
   * [B, Tn, 3*D]; out as BLOCK_ATTENTION's in[1]). i: B, Tn, D, cap, start. */
  LP_OP_KV_APPEND = 13,
  /* DMD2's distribution-matching gradient (plugin/dmd_op.h): in[0] x,
   * in[1] x0_target, in[2] x0_fake; i: n, per; f[0] eps. */
  LP_OP_DMD_GRAD = 14,
  /* Rotary embedding over time (video DiTs; plugin/rope_op.h): in[0] = qkv
   * [B, T, 3*D] (columns as ATTENTION) of tokens in frames of P = i[4]
   * tokens, token t at frame f = i[5] + t / P of the clip; out (another
   * buffer) = the same rows with each q and k head vector u replaced by
   * u*cos(f w) + rotate_half(u)*sin(f w), rotate_half(u) = [-u[hd/2:],
   * u[:hd/2]], w_j = theta^(-2 (j mod hd/2) / hd) (GPT-NeoX layout); v
   * copied. f[0] = theta. i: B, T, D, heads, P, frame0 (>= 0). */
  LP_OP_ROPE = 15,
  LP_OP_COUNT
} lp_op_kind;

typedef struct lp_op {
  lp_op_kind kind;
  int32_t reserved; /* 0: no implicit padding (prog_cache.c compares ops bytewise) */
  lp_view in[3];
  lp_view out;
  int32_t i[8];
  float f[2];
} lp_op;

/* A CACHE_AXPBY op, out = a x + b y over n elements (y.buf NULL: out = a x,
 * a scaled copy). Zero-filled first: op lists are compared bytewise. */
static inline lp_op lp_op_axpby(lp_view x, lp_view y, lp_view out, int64_t n, float a, float b) {
  lp_op op;
  memset(&op, 0, sizeof op);
  op.kind = LP_OP_CACHE_AXPBY;
  op.in[0] = x;
  op.in[1] = y;
  op.out = out;
  op.i[0] = (int32_t)n;
  op.f[0] = a, op.f[1] = y.buf ? b : 0.0f;
  return op;
}

/* A growable list of ops. */
typedef struct lp_prog {
  lp_op *ops;
  int n, cap;
  lp_prog_exec *exec; /* owned by the backend that compiled it; NULL = none */
} lp_prog;

/* Backend virtual table. Every function returns a leap_status and sets
 * leap_last_error on failure. */
typedef struct lp_backend_vt {
  const char *name;
  leap_status (*buf_alloc)(lp_backend *be, size_t bytes, lp_buf **out);
  void (*buf_free)(lp_backend *be, lp_buf *b);
  leap_status (*buf_write)(lp_backend *be, lp_buf *b, size_t byte_off,
                           const void *src, size_t bytes);
  leap_status (*buf_read)(lp_backend *be, lp_buf *b, size_t byte_off,
                          void *dst, size_t bytes);
  /* Runs the program. The backend may compile and cache it in prog->exec on
   * the first run (buffers must not change afterwards; call prog_release). */
  leap_status (*prog_run)(lp_backend *be, lp_prog *prog);
  void (*prog_release)(lp_backend *be, lp_prog *prog);
  void (*destroy)(lp_backend *be);
} lp_backend_vt;

struct lp_backend {
  const lp_backend_vt *vt;
};

/* Program building. lp_prog_push returns LEAP_ERR_NOMEM on failure. */
leap_status lp_prog_push(lp_prog *p, const lp_op *op);
void lp_prog_free(lp_backend *be, lp_prog *p);

/* The CPU backend (always available). threads = 0: OpenMP default. */
leap_status lp_cpu_backend_create(int threads, lp_backend **out);
/* Host memory of a CPU buffer (CPU backend only). */
void *lp_cpu_buf_data(lp_buf *b);
/* A CPU buffer over caller-owned memory (not freed by buf_free's owner). */
leap_status lp_cpu_buf_wrap(lp_backend *be, void *data, size_t bytes,
                            lp_buf **out);

/* Runs one op on host memory: the CPU twin of each Vulkan kernel (the op
 * table, op_table.c, names each kind's function). Views' buffers must be
 * CPU buffers. Fails when out of memory, on an unknown kind, and where a
 * kind's CPU function checks its arguments. */
leap_status lp_cpu_run_op(const lp_op *op);
/* The build of the ops a CPU backend runs: AVX2+FMA where the processor
 * has it, else (or with LEAP_CPU_KERNELS=base) the baseline one. */
typedef leap_status (*lp_cpu_op_fn)(const lp_op *op);
lp_cpu_op_fn lp_cpu_pick_ops(void);

#endif /* LEAP_BACKEND_H */
