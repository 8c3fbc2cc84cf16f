/* train_ops_impl.h - the trainer's ops, each backward next to its forward.
 * Included by train_real_f32.c and train_real_f64.c with
 *   real         float or double
 *   NM(name)     name##_f32 or name##_f64
 *   GEMM         cblas_sgemm or cblas_dgemm
 *   R_EXP, R_TANH, R_SQRT   the libm functions of that type
 * GEMMs go to BLAS; loops use OpenMP with static schedules and every
 * reduction has a fixed order, so a run is bit-reproducible for a given
 * thread count (the resume test relies on it). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "train_dit.h"

/* Loops over fewer elements than lp_train_par_min (train_dit.h) run on one
 * thread: a parallel region costs microseconds, more than tiny layers
 * (tests, small batches) take, and far more when the cores are busy.
 * Serial and parallel runs give the same bits (no reduction depends on the
 * split), which a test checks. */
#define PAR_IF(work) if ((size_t)(work) >= lp_train_par_min)

/* ------------------------------------------------------------------ linear */

void NM(lp_top_linear_fwd)(int M, int N, int K, const real *x, const real *w, const real *b,
                           real *y) {
  GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, x, K, w, K, 0, y, N);
  if (!b) return;
#pragma omp parallel for schedule(static) PAR_IF((size_t)M * N)
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) y[(size_t)m * N + n] += b[n];
}

/* Column sums of dy [M, N] into db, a strip of columns per task so each
 * task reads whole cache lines and owns its outputs (a fixed order). */
static void NM(colsum_acc)(int M, int N, const real *dy, real *db) {
  enum { STRIP = 64 / sizeof(real) };
  const int strips = (N + STRIP - 1) / STRIP;
#pragma omp parallel for schedule(static) PAR_IF((size_t)M * N)
  for (int s = 0; s < strips; s++) {
    const int n0 = s * STRIP, n1 = n0 + STRIP < N ? n0 + STRIP : N;
    real acc[STRIP] = {0};
    for (int m = 0; m < M; m++)
      for (int n = n0; n < n1; n++) acc[n - n0] += dy[(size_t)m * N + n];
    for (int n = n0; n < n1; n++) db[n] += acc[n - n0];
  }
}

void NM(lp_top_linear_bwd)(int M, int N, int K, const real *x, const real *w, const real *dy,
                           real *dx, real *dw, real *db) {
  if (dx) GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1, dy, N, w, K, 0, dx, K);
  GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1, dy, N, x, K, 1, dw, K);
  if (db) NM(colsum_acc)(M, N, dy, db);
}

/* ------------------------------------------------------------ activations */

void NM(lp_top_silu_fwd)(size_t n, const real *x, real *y) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
  for (size_t k = 0; k < n; k++) y[k] = x[k] / (1 + R_EXP(-x[k]));
}

void NM(lp_top_silu_bwd)(size_t n, const real *x, const real *dy, real *dx) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
  for (size_t k = 0; k < n; k++) {
    const real s = 1 / (1 + R_EXP(-x[k]));
    dx[k] = dy[k] * s * (1 + x[k] * (1 - s));
  }
}

#define GELU_K ((real)0.7978845608028654) /* sqrt(2/pi) */
#define GELU_A ((real)0.044715)

void NM(lp_top_gelu_fwd)(size_t n, const real *x, real *y) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
  for (size_t k = 0; k < n; k++) {
    const real v = x[k];
    y[k] = (real)0.5 * v * (1 + R_TANH(GELU_K * (v + GELU_A * v * v * v)));
  }
}

void NM(lp_top_gelu_bwd)(size_t n, const real *x, const real *dy, real *dx) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
  for (size_t k = 0; k < n; k++) {
    const real v = x[k], th = R_TANH(GELU_K * (v + GELU_A * v * v * v));
    const real dz = GELU_K * (1 + 3 * GELU_A * v * v);
    dx[k] = dy[k] * ((real)0.5 * (1 + th) + (real)0.5 * v * (1 - th * th) * dz);
  }
}

/* --------------------------------------------------- LayerNorm + modulate */

void NM(lp_top_ln_mod_fwd)(int B, int T, int D, const real *x, const real *shift,
                           const real *scale, int ms, real *y, real *mean, real *rstd) {
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * T * D)
  for (int r = 0; r < B * T; r++) {
    const int b = r / T;
    const real *xr = x + (size_t)r * D;
    real *yr = y + (size_t)r * D;
    double mu = 0, var = 0;
    for (int d = 0; d < D; d++) mu += xr[d];
    mu /= D;
    for (int d = 0; d < D; d++) var += (xr[d] - mu) * (xr[d] - mu);
    var /= D;
    const real rs = (real)(1.0 / sqrt(var + 1e-6)), m = (real)mu;
    const real *sh = shift + (size_t)b * ms, *sc = scale + (size_t)b * ms;
    for (int d = 0; d < D; d++) yr[d] = (xr[d] - m) * rs * (1 + sc[d]) + sh[d];
    mean[r] = m;
    rstd[r] = rs;
  }
}

void NM(lp_top_ln_mod_bwd)(int B, int T, int D, const real *x, const real *scale, int ms,
                           const real *mean, const real *rstd, const real *dy, real *dx,
                           real *dshift, real *dscale) {
  /* dx per row: dxhat = dy (1 + scale); dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) */
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * T * D)
  for (int r = 0; r < B * T; r++) {
    const int b = r / T;
    const real *xr = x + (size_t)r * D, *dyr = dy + (size_t)r * D;
    const real *sc = scale + (size_t)b * ms;
    const real m = mean[r], rs = rstd[r];
    real s1 = 0, s2 = 0;
    for (int d = 0; d < D; d++) {
      const real g = dyr[d] * (1 + sc[d]), xh = (xr[d] - m) * rs;
      s1 += g;
      s2 += g * xh;
    }
    s1 /= D;
    s2 /= D;
    real *dxr = dx + (size_t)r * D;
    for (int d = 0; d < D; d++) {
      const real g = dyr[d] * (1 + sc[d]), xh = (xr[d] - m) * rs;
      dxr[d] += rs * (g - s1 - xh * s2);
    }
  }
  /* shift and scale: per-sample sums over the sample's T rows */
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * T * D)
  for (int b = 0; b < B; b++) {
    real *dsh = dshift + (size_t)b * ms, *dsc = dscale + (size_t)b * ms;
    for (int t = 0; t < T; t++) {
      const size_t r = (size_t)b * T + t;
      const real *xr = x + r * D, *dyr = dy + r * D;
      for (int d = 0; d < D; d++) {
        dsh[d] += dyr[d];
        dsc[d] += dyr[d] * (xr[d] - mean[r]) * rstd[r];
      }
    }
  }
}

/* -------------------------------------------------------------- gated add */

void NM(lp_top_gated_add_fwd)(int B, int T, int D, const real *y, const real *gate, int gs,
                              real *h) {
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * T * D)
  for (int r = 0; r < B * T; r++) {
    const real *g = gate + (size_t)(r / T) * gs;
    for (int d = 0; d < D; d++) h[(size_t)r * D + d] += g[d] * y[(size_t)r * D + d];
  }
}

void NM(lp_top_gated_add_bwd)(int B, int T, int D, const real *y, const real *gate, int gs,
                              const real *dh, real *dy, real *dgate) {
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * T * D)
  for (int b = 0; b < B; b++) {
    const real *g = gate + (size_t)b * gs;
    real *dg = dgate + (size_t)b * gs;
    for (int t = 0; t < T; t++) {
      const size_t o = ((size_t)b * T + t) * D;
      for (int d = 0; d < D; d++) {
        dy[o + d] = g[d] * dh[o + d];
        dg[d] += dh[o + d] * y[o + d];
      }
    }
  }
}

/* -------------------------------------------------------------- attention */

/* One (sequence, head) task per iteration; the BLAS calls inside a
 * parallel region run single-threaded (OpenBLAS checks omp_in_parallel),
 * and the probabilities live only in a per-task scratch: they are
 * recomputed in the backward pass instead of being stored (B*H*T*T is the
 * largest activation by far). Under the block-causal mask the queries of
 * chunk c (rows c*Tc..) see keys 0..min((c+1)*Tc, T) - 1 only, so each
 * chunk is one rectangular product over its visible keys (no masked score
 * is computed); one chunk of T is the unmasked attention. */
static void NM(attn_probs)(int M, int N, int D, int hd, real scale, const real *q, const real *k,
                           real *S) {
  GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, hd, scale, q, 3 * D, k, 3 * D, 0, S, N);
  for (int i = 0; i < M; i++) {
    real *sr = S + (size_t)i * N, mx = sr[0], sum = 0;
#pragma omp simd reduction(max : mx)
    for (int j = 1; j < N; j++) mx = sr[j] > mx ? sr[j] : mx;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < N; j++) {
      sr[j] = R_EXP(sr[j] - mx);
      sum += sr[j];
    }
    const real inv = 1 / sum;
#pragma omp simd
    for (int j = 0; j < N; j++) sr[j] *= inv;
  }
}

leap_status NM(lp_top_battn_fwd)(int B, int T, int Tc, int D, int H, const real *qkv, real *out) {
  const int hd = D / H, nc = (T + Tc - 1) / Tc;
  const real scale = (real)(1.0 / sqrt((double)hd));
  int failed = 0;
#pragma omp parallel PAR_IF((size_t)B * H * T * T * hd / 32)
  {
    real *S = lp_malloc((size_t)Tc * T * sizeof(real));
    if (!S) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int bh = 0; bh < B * H; bh++) {
      if (!S) continue;
      const int b = bh / H, h = bh % H;
      const real *base = qkv + (size_t)b * T * 3 * D;
      for (int c = 0; c < nc; c++) {
        const int r0 = c * Tc, M = T - r0 < Tc ? T - r0 : Tc, N = r0 + M;
        const real *qc = base + (size_t)r0 * 3 * D;
        NM(attn_probs)(M, N, D, hd, scale, qc + h * hd, base + D + h * hd, S);
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, hd, N, 1, S, N, base + 2 * D + h * hd,
             3 * D, 0, out + ((size_t)b * T + r0) * D + h * hd, D);
      }
    }
    free(S);
  }
  return failed ? lp_error(LEAP_ERR_NOMEM, "train attention: out of memory for %d tokens", T)
                : LEAP_OK;
}

leap_status NM(lp_top_attn_fwd)(int B, int T, int D, int H, const real *qkv, real *out) {
  return NM(lp_top_battn_fwd)(B, T, T, D, H, qkv, out);
}

leap_status NM(lp_top_battn_bwd)(int B, int T, int Tc, int D, int H, const real *qkv,
                                 const real *dout, real *dqkv) {
  const int hd = D / H, ld = 3 * D, nc = (T + Tc - 1) / Tc;
  const real scale = (real)(1.0 / sqrt((double)hd));
  int failed = 0;
#pragma omp parallel PAR_IF((size_t)B * H * T * T * hd / 32)
  {
    real *S = lp_malloc((size_t)2 * Tc * T * sizeof(real));
    if (!S) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int bh = 0; bh < B * H; bh++) {
      if (!S) continue;
      const int b = bh / H, h = bh % H;
      const real *base = qkv + (size_t)b * T * ld;
      const real *k = base + D + h * hd, *v = base + 2 * D + h * hd;
      real *dq0 = dqkv + (size_t)b * T * ld + h * hd, *dk = dq0 + D, *dv = dq0 + 2 * D;
      /* The last chunk sees every key, so it writes dK and dV whole (beta
       * 0); the earlier ones, over fewer keys, add to them. */
      for (int c = nc - 1; c >= 0; c--) {
        const int r0 = c * Tc, M = T - r0 < Tc ? T - r0 : Tc, N = r0 + M;
        const real beta = c == nc - 1 ? 0 : 1;
        real *P = S, *dP = S + (size_t)M * N;
        const real *q = base + (size_t)r0 * ld + h * hd;
        const real *dO = dout + ((size_t)b * T + r0) * D + h * hd;
        real *dq = dq0 + (size_t)r0 * ld;
        NM(attn_probs)(M, N, D, hd, scale, q, k, P);
        /* dV = P^T dO; dP = dO V^T */
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, N, hd, M, 1, P, N, dO, D, beta, dv, ld);
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, hd, 1, dO, D, v, ld, 0, dP, N);
        /* dS = P * (dP - rowsum(dP * P)), kept in dP */
        for (int i = 0; i < M; i++) {
          const real *pr = P + (size_t)i * N;
          real *dr = dP + (size_t)i * N, dot = 0;
#pragma omp simd reduction(+ : dot)
          for (int j = 0; j < N; j++) dot += pr[j] * dr[j];
#pragma omp simd
          for (int j = 0; j < N; j++) dr[j] = pr[j] * (dr[j] - dot);
        }
        /* dQ = scale dS K; dK = scale dS^T Q */
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, hd, N, scale, dP, N, k, ld, 0, dq, ld);
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, N, hd, M, scale, dP, N, q, ld, beta, dk, ld);
      }
    }
    free(S);
  }
  return failed ? lp_error(LEAP_ERR_NOMEM, "train attention: out of memory for %d tokens", T)
                : LEAP_OK;
}

leap_status NM(lp_top_attn_bwd)(int B, int T, int D, int H, const real *qkv, const real *dout,
                                real *dqkv) {
  return NM(lp_top_battn_bwd)(B, T, T, D, H, qkv, dout, dqkv);
}

/* ----------------------------------------------------------------- rotary */

/* u <- u cos + rotate_half(u) sin on q and k, rotate_half(u) = [-u2, u1]:
 * (u1, u2) -> (u1 c - u2 s, u2 c + u1 s), as plugin/rope_op.c. Its
 * transpose, (g1, g2) -> (g1 c + g2 s, g2 c - g1 s), is the backward. */
static void NM(rope_apply)(int R, int T, int P, int D, int H, const float *cs, const float *sn,
                           real sign, real *x) {
  const int hd = D / H, half = hd / 2;
#pragma omp parallel for schedule(static) PAR_IF((size_t)R * 2 * D)
  for (int r = 0; r < R; r++) {
    const int f = (r % T) / P;
    const float *c = cs + (size_t)f * half, *s = sn + (size_t)f * half;
    real *row = x + (size_t)r * 3 * D;
    for (int h = 0; h < 2 * H; h++) { /* q's heads, then k's */
      real *u = row + (size_t)h * hd;
      for (int j = 0; j < half; j++) {
        const real a = u[j], b = u[j + half], cj = c[j], sj = sign * (real)s[j];
        u[j] = a * cj - b * sj;
        u[j + half] = b * cj + a * sj;
      }
    }
  }
}

void NM(lp_top_rope_fwd)(int R, int T, int P, int D, int H, const float *cs, const float *sn,
                         real *qkv) {
  NM(rope_apply)(R, T, P, D, H, cs, sn, 1, qkv);
}

void NM(lp_top_rope_bwd)(int R, int T, int P, int D, int H, const float *cs, const float *sn,
                         real *dqkv) {
  NM(rope_apply)(R, T, P, D, H, cs, sn, -1, dqkv);
}

/* ------------------------------------------------------- patches / pixels */

void NM(lp_top_im2col)(int B, int C, int Hh, int p, const real *x, real *cols) {
  const int g = Hh / p, T = g * g, cpp = C * p * p;
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * T * cpp)
  for (int r = 0; r < B * T; r++) {
    const int b = r / T, t = r % T, hi = t / g, wi = t % g;
    for (int c = 0; c < C; c++)
      for (int ky = 0; ky < p; ky++)
        for (int kx = 0; kx < p; kx++)
          cols[(size_t)r * cpp + (c * p + ky) * p + kx] =
              x[(((size_t)b * C + c) * Hh + hi * p + ky) * Hh + wi * p + kx];
  }
}

void NM(lp_top_unpatchify_fwd)(int B, int C, int Hh, int p, const real *rows, real *img) {
  const int g = Hh / p, T = g * g, cpp = C * p * p;
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * T * cpp)
  for (int r = 0; r < B * T; r++) {
    const int b = r / T, t = r % T, hi = t / g, wi = t % g;
    for (int ky = 0; ky < p; ky++)
      for (int kx = 0; kx < p; kx++)
        for (int c = 0; c < C; c++)
          img[(((size_t)b * C + c) * Hh + hi * p + ky) * Hh + wi * p + kx] =
              rows[(size_t)r * cpp + (ky * p + kx) * C + c];
  }
}

/* A permutation, so its adjoint is the inverse gather. */
void NM(lp_top_unpatchify_bwd)(int B, int C, int Hh, int p, const real *dimg, real *drows) {
  const int g = Hh / p, T = g * g, cpp = C * p * p;
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * T * cpp)
  for (int r = 0; r < B * T; r++) {
    const int b = r / T, t = r % T, hi = t / g, wi = t % g;
    for (int ky = 0; ky < p; ky++)
      for (int kx = 0; kx < p; kx++)
        for (int c = 0; c < C; c++)
          drows[(size_t)r * cpp + (ky * p + kx) * C + c] =
              dimg[(((size_t)b * C + c) * Hh + hi * p + ky) * Hh + wi * p + kx];
  }
}

/* ------------------------------------------------------------ embeddings */

void NM(lp_top_embed_fwd)(int B, int D, const real *table, const int32_t *labels, real *y) {
  for (int b = 0; b < B; b++)
    for (int d = 0; d < D; d++) y[(size_t)b * D + d] += table[(size_t)labels[b] * D + d];
}

/* Serial: rows repeat across the batch, and the order must be fixed. */
void NM(lp_top_embed_bwd)(int B, int D, const int32_t *labels, const real *dy, real *dtable) {
  for (int b = 0; b < B; b++)
    for (int d = 0; d < D; d++) dtable[(size_t)labels[b] * D + d] += dy[(size_t)b * D + d];
}

void NM(lp_top_timestep_features)(int B, const real *t, real *out) {
  const int half = LP_TRAIN_FREQ_DIM / 2;
  for (int b = 0; b < B; b++)
    for (int i = 0; i < half; i++) {
      const double arg = (double)t[b] * exp(-log(10000.0) * i / half);
      out[(size_t)b * LP_TRAIN_FREQ_DIM + i] = (real)cos(arg);
      out[(size_t)b * LP_TRAIN_FREQ_DIM + half + i] = (real)sin(arg);
    }
}

/* ------------------------------------------------------------------ loss */

/* Partial sums over fixed chunks, added in chunk order: the same bits for
 * any thread count. */
double NM(lp_top_mse)(size_t n, const real *out, const real *target, real *dout) {
  enum { CHUNKS = 64 };
  double part[CHUNKS];
  const real k = (real)(2.0 / (double)n);
#pragma omp parallel for schedule(static) PAR_IF(n)
  for (int c = 0; c < CHUNKS; c++) {
    const size_t lo = n * c / CHUNKS, hi = n * (c + 1) / CHUNKS;
    double s = 0;
    for (size_t i = lo; i < hi; i++) {
      const real e = out[i] - target[i];
      s += (double)e * e;
      if (dout) dout[i] = k * e;
    }
    part[c] = s;
  }
  double s = 0;
  for (int c = 0; c < CHUNKS; c++) s += part[c];
  return s / (double)n;
}
