// attention_simd.comp - LP_OP_ATTENTION for CPU Vulkan devices (llvmpipe);
// same contract as attention.comp, for head_dim HD % 32 == 0 with the qkv
// and out views 16-byte aligned (the host checks; else attention.comp).
//
// One workgroup = one subgroup of 8 lanes = 8 * QPL queries of one (head,
// batch): lane l owns queries q0 + l + 8i (i < QPL), each kept (pre-scaled)
// with its output accumulator in registers. No shared memory and no
// barrier (llvmpipe emulates both slowly, see linear_simd.comp): for each
// key, lane l loads floats 4l .. 4l + 3 of every 32 of the key's row and
// subgroupBroadcast hands each chunk to all lanes; values likewise. A
// broadcast is dear on llvmpipe (measured: ~10x a fused multiply-add), so
// each one feeds the QPL queries of a lane. Keys go in blocks of 8 with the
// online softmax (running max and sum, one rescale per block).
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_ballot : require
layout(local_size_x = 8) in;
layout(constant_id = 0) const int HD = 32; // head dim, a multiple of 32
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer In0v { vec4 qkv4[]; };
layout(std430, set = 0, binding = 3) buffer Outv { vec4 out4[]; };

#ifndef QPL
#define QPL 8 // queries per lane; vk_ops.c's ATTN_SIMD_QUERIES = 8 * QPL
#endif
const int HD4 = HD / 4, G = HD / 32;
const float NEG = -3.0e38; // "minus infinity" without inf arithmetic

void main() {
  const uint T = uint(pc.i1), D4 = uint(pc.i2) / 4u;
  const uint ld4 = 3u * D4;
  const uint lane = gl_SubgroupInvocationID;
  const uint q0 = gl_WorkGroupID.x * uint(8 * QPL) + lane;
  const uint h = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  const uint base = pc.off0 / 4u + b * T * ld4 + h * uint(HD4);

  vec4 q[QPL][HD4], acc[QPL][HD4];
  float m[QPL], l[QPL];
  for (int i = 0; i < QPL; i++) {
    const uint qrow = base + min(q0 + 8u * uint(i), T - 1u) * ld4; // clamped: valid loads
    for (int d = 0; d < HD4; d++) {
      q[i][d] = qkv4[qrow + uint(d)] * pc.f0;
      acc[i][d] = vec4(0.0);
    }
    m[i] = NEG;
    l[i] = 0.0;
  }

  for (uint j0 = 0; j0 < T; j0 += 8u) {
    float s[QPL][8];
    for (int jj = 0; jj < 8; jj++) {
      const uint krow = base + min(j0 + uint(jj), T - 1u) * ld4 + D4 + lane;
      vec4 d4[QPL];
      for (int i = 0; i < QPL; i++) d4[i] = vec4(0.0);
      for (int g = 0; g < G; g++) {
        const vec4 kv = qkv4[krow + 8u * uint(g)];
#define QK(c)                                                                  \
        {                                                                      \
          const vec4 kb = subgroupBroadcast(kv, c);                            \
          for (int i = 0; i < QPL; i++) d4[i] = fma(q[i][8 * g + c], kb, d4[i]); \
        }
        QK(0) QK(1) QK(2) QK(3) QK(4) QK(5) QK(6) QK(7)
      }
      const bool key_ok = j0 + uint(jj) < T;
      for (int i = 0; i < QPL; i++) s[i][jj] = key_ok ? (d4[i].x + d4[i].y) + (d4[i].z + d4[i].w) : NEG;
    }
    for (int i = 0; i < QPL; i++) {
      float bm = s[i][0];
      for (int jj = 1; jj < 8; jj++) bm = max(bm, s[i][jj]);
      const float mn = max(m[i], bm);
      const float corr = exp(m[i] - mn);
      l[i] *= corr;
      for (int d = 0; d < HD4; d++) acc[i][d] *= corr;
      m[i] = mn;
    }
    for (int jj = 0; jj < 8; jj++) {
      vec4 pv[QPL];
      for (int i = 0; i < QPL; i++) {
        const float p = exp(s[i][jj] - m[i]);
        l[i] += p;
        pv[i] = vec4(p);
      }
      const uint vrow = base + min(j0 + uint(jj), T - 1u) * ld4 + 2u * D4 + lane;
      for (int g = 0; g < G; g++) {
        const vec4 vv = qkv4[vrow + 8u * uint(g)];
#define PV(c)                                                                  \
        {                                                                      \
          const vec4 vb = subgroupBroadcast(vv, c);                            \
          for (int i = 0; i < QPL; i++) acc[i][8 * g + c] = fma(pv[i], vb, acc[i][8 * g + c]); \
        }
        PV(0) PV(1) PV(2) PV(3) PV(4) PV(5) PV(6) PV(7)
      }
    }
  }
  for (int i = 0; i < QPL; i++) {
    const uint qi = q0 + 8u * uint(i);
    if (qi < T) {
      const uint o = pc.offo / 4u + (b * T + qi) * D4 + h * uint(HD4);
      const float inv = 1.0 / l[i];
      for (int d = 0; d < HD4; d++) out4[o + uint(d)] = acc[i][d] * inv;
    }
  }
}
