// linear.comp - y[M,N] = act(x[M,K] . w[N,K]^T + b[N]) (LP_OP_LINEAR;
// in0 = x, in1 = w (row-major [N,K], as PyTorch stores nn.Linear), in2 =
// bias when flags bit 0; i: M, N, K, act).
//
// A tiled GEMM: each workgroup of 16x16 invocations computes a 64x64 tile
// of y; the K loop stages 64x16 slices of x and w in shared memory
// (transposed, k-major, padded against bank conflicts) and each invocation
// accumulates a 4x4 micro-tile whose rows are ty + 16*i and columns
// tx + 16*j, so that the 16 invocations of a row write 16 consecutive
// floats. Out-of-range rows, columns and k are zero-filled / skipped.
#version 450
#extension GL_GOOGLE_include_directive : require
#define BM 64
#define BN 64
#define BK 16
layout(local_size_x = 256) in;
#include "common.glsl"

shared float xs[BK][BM + 1];
shared float ws[BK][BN + 1];

void main() {
  const uint M = uint(pc.i0), N = uint(pc.i1), K = uint(pc.i2);
  const int act = pc.i3;
  const uint tid = gl_LocalInvocationID.x;
  const uint tx = tid % 16u, ty = tid / 16u;
  const uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;

  float acc[4][4];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) acc[i][j] = 0.0;

  for (uint k0 = 0; k0 < K; k0 += BK) {
    // 64 rows x 16 k of each operand, 4 elements per invocation; 16
    // consecutive invocations read one row's 16 consecutive k.
    for (uint l = 0; l < 4; l++) {
      const uint e = tid + 256u * l, row = e / BK, kk = e % BK, gk = k0 + kk;
      const uint gm = m0 + row, gn = n0 + row;
      xs[kk][row] = (gm < M && gk < K) ? in0[pc.off0 + gm * K + gk] : 0.0;
      ws[kk][row] = (gn < N && gk < K) ? in1[pc.off1 + gn * K + gk] : 0.0;
    }
    barrier();
    for (uint kk = 0; kk < BK; kk++) {
      float a[4], w[4];
      for (int i = 0; i < 4; i++) a[i] = xs[kk][ty + 16u * uint(i)];
      for (int j = 0; j < 4; j++) w[j] = ws[kk][tx + 16u * uint(j)];
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] += a[i] * w[j];
    }
    barrier();
  }

  const bool has_bias = (pc.flags & 1u) != 0u;
  for (int i = 0; i < 4; i++) {
    const uint m = m0 + ty + 16u * uint(i);
    if (m >= M) continue;
    for (int j = 0; j < 4; j++) {
      const uint n = n0 + tx + 16u * uint(j);
      if (n >= N) continue;
      float v = acc[i][j];
      if (has_bias) v += in2[pc.off2 + n];
      if (act == 1) v = silu(v);
      else if (act == 2) v = gelu_tanh(v);
      outv[pc.offo + m * N + n] = v;
    }
  }
}
