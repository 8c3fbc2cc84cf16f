/* cpu_ops_impl.h - the CPU twin of every Vulkan kernel (see backend.h for
 * each op's contract). Plain loops over float32 with OpenMP; GEMMs go to
 * BLAS. Built with -fno-trapping-math (see CMakeLists). Included twice (cpu_ops_base.c, cpu_ops_avx2.c) to build a baseline
 * x86-64 and an AVX2+FMA copy; cpu_ops.c picks one at run time. Each copy
 * defines LP_CPU_FN(name) to its own function names (lp_cpu_NAME_base or
 * lp_cpu_NAME_avx2, declared in cpu_ops.h, pointed at by op_table.c). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu_ops.h"
#include "alloc.h"
#include "error.h"
#include "fast_math.h"
#include "kv_cache.h"

#define P(v) ((float *)lp_cpu_buf_data((v).buf) + (v).off)

static inline float silu(float x) { return x / (1.0f + lp_exp_fast(-x)); }

static inline float gelu_tanh(float x) {
  const float k = 0.7978845608028654f; /* sqrt(2/pi) */
  return 0.5f * x * (1.0f + lp_tanh_fast(k * (x + 0.044715f * x * x * x)));
}

/* y = act(x w^T + b) in blocks of rows: each thread runs a single-threaded
 * GEMM on its block (OpenBLAS's OpenMP build does so inside a parallel
 * region) and applies bias and activation while the block is still in
 * cache, instead of a second pass over all of y. */
#define LP_LINEAR_ROWS 192
leap_status LP_CPU_FN(linear)(const lp_op *op) {
  const int M = op->i[0], N = op->i[1], K = op->i[2], act = op->i[3];
  const float *x = P(op->in[0]), *w = P(op->in[1]);
  const float *b = op->in[2].buf ? P(op->in[2]) : NULL;
  float *y = P(op->out);
  const int blocks = (M + LP_LINEAR_ROWS - 1) / LP_LINEAR_ROWS;
#pragma omp parallel for schedule(dynamic) if (blocks > 1)
  for (int blk = 0; blk < blocks; blk++) {
    const int m0 = blk * LP_LINEAR_ROWS, rows = M - m0 < LP_LINEAR_ROWS ? M - m0 : LP_LINEAR_ROWS;
    float *yb = y + (size_t)m0 * N;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, N, K, 1.0f, x + (size_t)m0 * K, K,
                w, K, 0.0f, yb, N);
    for (int m = 0; m < rows; m++) {
      float *row = yb + (size_t)m * N;
      if (b)
        for (int n = 0; n < N; n++) row[n] += b[n];
      if (act == LP_ACT_SILU)
        for (int n = 0; n < N; n++) row[n] = silu(row[n]);
      else if (act == LP_ACT_GELU_TANH)
        for (int n = 0; n < N; n++) row[n] = gelu_tanh(row[n]);
    }
  }
  return LEAP_OK;
}

leap_status LP_CPU_FN(patchify)(const lp_op *op) {
  const int B = op->i[0], C = op->i[1], H = op->i[2], W = op->i[3], p = op->i[4];
  const int gw = W / p, T = (H / p) * gw, cols = C * p * p;
  const float *x = P(op->in[0]);
  float *out = P(op->out);
#pragma omp parallel for schedule(static)
  for (int r = 0; r < B * T; r++) {
    const int b = r / T, t = r % T, hi = t / gw, wi = t % gw;
    for (int c = 0; c < C; c++)
      for (int ky = 0; ky < p; ky++)
        for (int kx = 0; kx < p; kx++)
          out[(size_t)r * cols + (c * p + ky) * p + kx] =
              x[(((size_t)b * C + c) * H + hi * p + ky) * W + wi * p + kx];
  }
  return LEAP_OK;
}

leap_status LP_CPU_FN(unpatchify)(const lp_op *op) {
  const int B = op->i[0], C = op->i[1], H = op->i[2], W = op->i[3], p = op->i[4];
  const int gw = W / p, T = (H / p) * gw, cols = C * p * p;
  const float *in = P(op->in[0]);
  float *img = P(op->out);
#pragma omp parallel for schedule(static)
  for (int r = 0; r < B * T; r++) {
    const int b = r / T, t = r % T, hi = t / gw, wi = t % gw;
    for (int ky = 0; ky < p; ky++)
      for (int kx = 0; kx < p; kx++)
        for (int c = 0; c < C; c++)
          img[(((size_t)b * C + c) * H + hi * p + ky) * W + wi * p + kx] =
              in[(size_t)r * cols + (ky * p + kx) * C + c];
  }
  return LEAP_OK;
}

leap_status LP_CPU_FN(embed_add)(const lp_op *op) {
  const int B = op->i[0], D = op->i[1], rows = op->i[2];
  const float *a = P(op->in[0]), *table = P(op->in[1]);
  const int32_t *labels = (const int32_t *)P(op->in[2]);
  float *out = P(op->out);
  for (int b = 0; b < B; b++) {
    int y = labels[b];
    y = y < 0 ? 0 : (y >= rows ? rows - 1 : y);
    for (int d = 0; d < D; d++)
      out[(size_t)b * D + d] = a[(size_t)b * D + d] + table[(size_t)y * D + d];
  }
  return LEAP_OK;
}

leap_status LP_CPU_FN(add_rows)(const lp_op *op) {
  const int R = op->i[0], T = op->i[1], D = op->i[2];
  const float *a = P(op->in[0]);
  float *out = P(op->out);
#pragma omp parallel for schedule(static)
  for (int r = 0; r < R; r++)
    for (int d = 0; d < D; d++) out[(size_t)r * D + d] += a[(size_t)(r % T) * D + d];
  return LEAP_OK;
}

leap_status LP_CPU_FN(silu)(const lp_op *op) {
  const int n = op->i[0];
  const float *x = P(op->in[0]);
  float *y = P(op->out);
  for (int k = 0; k < n; k++) y[k] = silu(x[k]);
  return LEAP_OK;
}

leap_status LP_CPU_FN(ln_modulate)(const lp_op *op) {
  const int B = op->i[0], T = op->i[1], D = op->i[2], ms = op->i[3];
  const float eps = op->f[0];
  const float *x = P(op->in[0]), *shift = P(op->in[1]), *scale = P(op->in[2]);
  float *y = P(op->out);
#pragma omp parallel for schedule(static)
  for (int r = 0; r < B * T; r++) {
    const int b = r / T;
    const float *xr = x + (size_t)r * D;
    float *yr = y + (size_t)r * D;
    double mean = 0, var = 0;
    for (int d = 0; d < D; d++) mean += xr[d];
    mean /= D;
    for (int d = 0; d < D; d++) var += (xr[d] - mean) * (xr[d] - mean);
    var /= D;
    const float rstd = (float)(1.0 / sqrt(var + eps)), mu = (float)mean;
    const float *sh = shift + (size_t)b * ms, *sc = scale + (size_t)b * ms;
    for (int d = 0; d < D; d++) yr[d] = (xr[d] - mu) * rstd * (1.0f + sc[d]) + sh[d];
  }
  return LEAP_OK;
}

/* In-place softmax of one row. The max and the sum keep 8 partial
 * results so the loops vectorize without reassociation flags. */
static void softmax_row(float *s, int n) {
  float m8[8], s8[8];
  for (int j = 0; j < 8; j++) m8[j] = -INFINITY, s8[j] = 0;
  int k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; j++) m8[j] = s[k + j] > m8[j] ? s[k + j] : m8[j];
  float mx = -INFINITY;
  for (int j = 0; j < 8; j++) mx = m8[j] > mx ? m8[j] : mx;
  for (; k < n; k++) mx = s[k] > mx ? s[k] : mx;
  for (k = 0; k < n; k++) s[k] = lp_exp_fast(s[k] - mx);
  for (k = 0; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; j++) s8[j] += s[k + j];
  float sum = 0;
  for (int j = 0; j < 8; j++) sum += s8[j];
  for (; k < n; k++) sum += s[k];
  const float inv = 1.0f / sum;
  for (k = 0; k < n; k++) s[k] *= inv;
}

/* Attention with BLAS GEMMs on strided views of qkv, one (image, head) per
 * job: S = Q K^T into the thread's [T, T] scratch, softmax by rows, then
 * O = P V written straight into the head's output columns. One parallel
 * region per op (a region per image or head costs a fork/join each, which
 * is what hurts on a busy machine); inside it OpenBLAS's OpenMP build runs
 * each GEMM on the calling thread. */
leap_status LP_CPU_FN(attention)(const lp_op *op) {
  const int B = op->i[0], T = op->i[1], D = op->i[2], H = op->i[3];
  const int hd = D / H, ld = 3 * D;
  const float scale = op->f[0];
  const float *qkv = P(op->in[0]);
  float *out = P(op->out);
  int failed = 0;
#pragma omp parallel reduction(| : failed)
  {
    float *S = lp_malloc((size_t)T * T * sizeof(float));
    failed = S == NULL;
#pragma omp for schedule(dynamic)
    for (int job = 0; job < B * H; job++) {
      if (!S) continue;
      const int b = job / H, h = job % H;
      const float *base = qkv + (size_t)b * T * ld;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, base + h * hd, ld,
                  base + D + h * hd, ld, 0.0f, S, T);
      for (int r = 0; r < T; r++) softmax_row(S + (size_t)r * T, T);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, S, T,
                  base + 2 * D + h * hd, ld, 0.0f, out + (size_t)b * T * D + h * hd, D);
    }
    free(S);
  }
  return failed ? lp_error(LEAP_ERR_NOMEM, "attention: out of memory for %d tokens", T) : LEAP_OK;
}

leap_status LP_CPU_FN(gated_add)(const lp_op *op) {
  const int B = op->i[0], T = op->i[1], D = op->i[2], gs = op->i[3];
  const float *y = P(op->in[0]), *gate = P(op->in[1]);
  float *out = P(op->out);
#pragma omp parallel for schedule(static)
  for (int r = 0; r < B * T; r++) {
    const float *g = gate + (size_t)(r / T) * gs;
    for (int d = 0; d < D; d++) out[(size_t)r * D + d] += g[d] * y[(size_t)r * D + d];
  }
  return LEAP_OK;
}

/* The new keys a query of new token t may see: those up to the end of its
 * chunk (BLOCK_ATTENTION, backend.h), at most Tn. */
static inline int block_key_limit(int t, int Tn, int P, int F, int Nc) {
  const int64_t frame = (int64_t)Nc * F + t / P, end = (frame / F + 1) * F - (int64_t)Nc * F;
  return end * P < Tn ? (int)(end * P) : Tn;
}

/* Block-causal attention with BLAS GEMMs, one (batch item, head) per job
 * as op_attention: scores of the new queries against the cached keys and
 * the new keys side by side in a [Tn, Tc + Tn] scratch, each row's softmax
 * over the keys its chunk may see (the rest zeroed), then O = P_c V_c +
 * P_n V_n. The masked new keys' scores are computed and dropped: one GEMM
 * over the whole block is cheaper than one per chunk at these sizes. With
 * a slot list (in[2]) the cached chunks are read slot by slot, one GEMM per
 * run of consecutive slots (one in all for slots 0 .. Nc-1). */
leap_status LP_CPU_FN(block_attention)(const lp_op *op) {
  leap_status s = lp_block_attention_check(op, "cpu");
  if (s != LEAP_OK) return s;
  const int B = op->i[0], Tn = op->i[1], D = op->i[2], H = op->i[3], Pt = op->i[4], F = op->i[5];
  const int Nc = op->i[6], cap = op->i[7];
  const int hd = D / H, ld = 3 * D, ldc = 2 * D, chunk = F * Pt, Tc = Nc * chunk, L = Tc + Tn;
  const float scale = op->f[0];
  const float *qkv = P(op->in[0]);
  const float *cache = Tc > 0 ? P(op->in[1]) : NULL;
  const int32_t *slots = op->in[2].buf ? (const int32_t *)lp_cpu_buf_data(op->in[2].buf) + op->in[2].off : NULL;
  for (int k = 0; slots && k < B * Nc; k++)
    if (slots[k] < 0 || slots[k] >= cap / chunk)
      return lp_error(LEAP_ERR_INVALID_ARG, "cpu: BLOCK_ATTENTION slot %d of item %d is %d, outside the cache's 0..%d",
                      k % Nc, k / Nc, slots[k], cap / chunk - 1);
  float *out = P(op->out);
  int failed = 0;
#pragma omp parallel reduction(| : failed)
  {
    float *S = lp_malloc((size_t)Tn * L * sizeof(float));
    failed = S == NULL;
#pragma omp for schedule(dynamic)
    for (int job = 0; job < B * H; job++) {
      if (!S) continue;
      const int b = job / H, h = job % H;
      const float *q = qkv + (size_t)b * Tn * ld + h * hd;
      float *o = out + (size_t)b * Tn * D + h * hd;
      const int32_t *sl = slots ? slots + (size_t)b * Nc : NULL;
      const float *cb = Tc > 0 ? cache + (size_t)b * cap * ldc + h * hd : NULL;
      /* Runs of consecutive slots [c0, c1): cached rows from slot sl[c0]. */
      for (int c0 = 0, c1; c0 < Nc; c0 = c1) {
        const int first = sl ? sl[c0] : c0;
        for (c1 = c0 + 1; c1 < Nc && (sl ? sl[c1] : c1) == first + (c1 - c0);) c1++;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tn, (c1 - c0) * chunk, hd, scale, q, ld,
                    cb + (size_t)first * chunk * ldc, ldc, 0.0f, S + (size_t)c0 * chunk, L);
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tn, Tn, hd, scale, q, ld, q + D, ld, 0.0f, S + Tc, L);
      for (int r = 0; r < Tn; r++) {
        const int n = Tc + block_key_limit(r, Tn, Pt, F, Nc);
        float *row = S + (size_t)r * L;
        softmax_row(row, n);
        memset(row + n, 0, (size_t)(L - n) * sizeof(float));
      }
      for (int c0 = 0, c1; c0 < Nc; c0 = c1) {
        const int first = sl ? sl[c0] : c0;
        for (c1 = c0 + 1; c1 < Nc && (sl ? sl[c1] : c1) == first + (c1 - c0);) c1++;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tn, hd, (c1 - c0) * chunk, 1.0f,
                    S + (size_t)c0 * chunk, L, cb + (size_t)first * chunk * ldc + D, ldc, c0 > 0 ? 1.0f : 0.0f, o, D);
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tn, hd, Tn, 1.0f, S + Tc, L, q + 2 * D, ld,
                  Tc > 0 ? 1.0f : 0.0f, o, D);
    }
    free(S);
  }
  return failed ? lp_error(LEAP_ERR_NOMEM, "block attention: out of memory for %d x %d scores", Tn, L) : LEAP_OK;
}

leap_status LP_CPU_FN(kv_append)(const lp_op *op) {
  leap_status s = lp_kv_append_check(op, "cpu");
  if (s != LEAP_OK) return s;
  const int B = op->i[0], Tn = op->i[1], D = op->i[2], cap = op->i[3], start = op->i[4];
  const float *qkv = P(op->in[0]);
  float *cache = P(op->out);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < Tn; t++)
      memcpy(cache + ((size_t)b * cap + start + t) * 2 * D, qkv + ((size_t)b * Tn + t) * 3 * D + D,
             2 * (size_t)D * sizeof(float));
  return LEAP_OK;
}
