// linear_simd.comp - LP_OP_LINEAR for CPU Vulkan devices (llvmpipe):
// y[M,N] = act(x[M,K] . w[N,K]^T + b[N]) with K % 4 == 0 and x, w 16-byte
// aligned (the host checks; else it uses linear.comp).
//
// Why not linear.comp's shared-memory tiles: llvmpipe runs a subgroup of 8
// invocations as the lanes of one AVX2 register, emulates every
// non-uniform buffer or shared-memory load lane by lane, and switches
// coroutines at each barrier(). So here one workgroup is one subgroup, there
// is no shared memory and no barrier, and loads are few and reused:
// per 4-wide k step each lane loads its 4 * CQ columns' w (vec4 each, kept
// transposed: T[q][j] = the quad q columns at k + j) and one vec4 of x for
// each 8 rows; those rows' x are passed to all lanes with subgroupBroadcast
// (a lane extract + splat; dear on llvmpipe, so each feeds 16 * CQ fused
// multiply-adds), and each lane accumulates a ROWS x 4CQ tile of y. Lane l
// owns columns n0 + 4CQ l .. n0 + 4CQ l + 4CQ - 1; the workgroup owns rows
// m0 .. m0 + ROWS - 1.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_ballot : require
layout(local_size_x = 8) in;
#include "common.glsl"

vec4 gelu_tanh4(vec4 x) {
  return vec4(gelu_tanh(x.x), gelu_tanh(x.y), gelu_tanh(x.z), gelu_tanh(x.w));
}

layout(std430, set = 0, binding = 0) readonly buffer In0v { vec4 x4[]; };
layout(std430, set = 0, binding = 1) readonly buffer In1v { vec4 w4[]; };

// vk_ops.c's SIMD_GEMM_ROWS = ROWS, SIMD_GEMM_COLS = 32 * CQ.
#ifndef ROWS
#define ROWS 16 // a multiple of 8, at most 32
#endif
#ifndef CQ
#define CQ 2 // column quads per lane
#endif

void main() {
  const uint M = uint(pc.i0), N = uint(pc.i1), K = uint(pc.i2);
  const int act = pc.i3;
  const uint lane = gl_SubgroupInvocationID;
  const uint m0 = gl_WorkGroupID.y * ROWS, n0 = gl_WorkGroupID.x * uint(32 * CQ) + uint(4 * CQ) * lane;
  const uint K4 = K / 4u;
  // Clamped rows / columns load valid memory; their results are not stored.
  const uint xo = pc.off0 / 4u, wb = pc.off1 / 4u;
  uint xr[ROWS / 8], wr[4 * CQ];
  for (int g = 0; g < ROWS / 8; g++) xr[g] = xo + min(m0 + 8u * uint(g) + lane, M - 1u) * K4;
  for (int c = 0; c < 4 * CQ; c++) wr[c] = wb + min(n0 + uint(c), N - 1u) * K4;

  vec4 acc[ROWS][CQ];
  for (int r = 0; r < ROWS; r++)
    for (int c = 0; c < CQ; c++) acc[r][c] = vec4(0.0);

  for (uint k = 0; k < K4; k++) {
    mat4 T[CQ];
    for (int c = 0; c < CQ; c++)
      T[c] = transpose(mat4(w4[wr[4 * c] + k], w4[wr[4 * c + 1] + k], w4[wr[4 * c + 2] + k], w4[wr[4 * c + 3] + k]));
#define ROW(r, a, l)                                                           \
    {                                                                          \
      const vec4 xv = subgroupBroadcast(a, l);                                 \
      for (int c = 0; c < CQ; c++) {                                           \
        acc[r][c] = fma(vec4(xv.x), T[c][0], acc[r][c]);                       \
        acc[r][c] = fma(vec4(xv.y), T[c][1], acc[r][c]);                       \
        acc[r][c] = fma(vec4(xv.z), T[c][2], acc[r][c]);                       \
        acc[r][c] = fma(vec4(xv.w), T[c][3], acc[r][c]);                       \
      }                                                                        \
    }
#define BC8(g)                                                                 \
    {                                                                          \
      const vec4 a = x4[xr[g] + k];                                            \
      ROW(8 * g + 0, a, 0) ROW(8 * g + 1, a, 1) ROW(8 * g + 2, a, 2)           \
      ROW(8 * g + 3, a, 3) ROW(8 * g + 4, a, 4) ROW(8 * g + 5, a, 5)           \
      ROW(8 * g + 6, a, 6) ROW(8 * g + 7, a, 7)                                \
    }
    BC8(0)
#if ROWS > 8
    BC8(1)
#endif
#if ROWS > 16
    BC8(2)
#endif
#if ROWS > 24
    BC8(3)
#endif
  }

  // Constant trip counts (no break) so that the loops unroll and acc[]
  // stays in registers: a dynamically indexed private array spills to
  // memory on llvmpipe.
  const bool has_bias = (pc.flags & 1u) != 0u;
  for (int c = 0; c < CQ; c++) {
    const uint n = n0 + uint(4 * c);
    vec4 bias = vec4(0.0);
    if (has_bias)
      bias = vec4(in2[pc.off2 + min(n, N - 1u)], in2[pc.off2 + min(n + 1u, N - 1u)],
                  in2[pc.off2 + min(n + 2u, N - 1u)], in2[pc.off2 + min(n + 3u, N - 1u)]);
    for (int r = 0; r < ROWS; r++) {
      const uint m = m0 + uint(r);
      vec4 v = acc[r][c] + bias;
      if (act == 1) v = v / (1.0 + exp(-v));
      else if (act == 2) v = gelu_tanh4(v);
      if (m < M) {
        const uint o = pc.offo + m * N + n;
        if (n < N) outv[o] = v.x;
        if (n + 1u < N) outv[o + 1u] = v.y;
        if (n + 2u < N) outv[o + 2u] = v.z;
        if (n + 3u < N) outv[o + 3u] = v.w;
      }
    }
  }
}
