// attention.comp - multi-head self-attention (LP_OP_ATTENTION; in0 = qkv
// [B*T, 3*D] with column s*D + h*hd + j for s in {q,k,v}; out [B*T, D];
// softmax(q k^T * f0) v; i: B, T, D, heads).
//
// Workgroup (query block, head, batch) of 64 invocations, one query row
// each, q and the output accumulator in registers (HD, the head dim, is a
// specialisation constant so those arrays have fixed size). Keys and values
// are staged in shared memory BKEYS rows at a time; the softmax is the
// online one (running max and sum, the accumulator rescaled once per block),
// so T is unbounded and no T-sized score buffer exists.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
layout(constant_id = 0) const int HD = 64;
layout(constant_id = 1) const int BKEYS = 32;
#include "common.glsl"

shared float ks[BKEYS * HD];
shared float vs[BKEYS * HD];

const float NEG = -3.0e38; // "minus infinity" without inf arithmetic

void main() {
  const int T = pc.i1, D = pc.i2;
  const float scale = pc.f0;
  const uint ld = 3u * uint(D);
  const int tid = int(gl_LocalInvocationID.x);
  const int qi = int(gl_WorkGroupID.x) * 64 + tid;
  const uint h = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  const bool valid = qi < T;
  const uint base = pc.off0 + b * uint(T) * ld + h * uint(HD);

  float q[HD], acc[HD];
  for (int d = 0; d < HD; d++) {
    q[d] = valid ? in0[base + uint(qi) * ld + uint(d)] : 0.0;
    acc[d] = 0.0;
  }
  float m = NEG, l = 0.0;

  for (int k0 = 0; k0 < T; k0 += BKEYS) {
    for (int e = tid; e < BKEYS * HD; e += 64) {
      const int j = e / HD, d = e - j * HD, kj = k0 + j;
      const bool in_range = kj < T;
      const uint row = base + uint(kj) * ld + uint(d);
      ks[e] = in_range ? in0[row + uint(D)] : 0.0;
      vs[e] = in_range ? in0[row + 2u * uint(D)] : 0.0;
    }
    barrier();
    float s[BKEYS];
    float bm = NEG;
    for (int j = 0; j < BKEYS; j++) {
      float dot = 0.0;
      for (int d = 0; d < HD; d++) dot += q[d] * ks[j * HD + d];
      s[j] = k0 + j < T ? dot * scale : NEG;
      bm = max(bm, s[j]);
    }
    const float mn = max(m, bm);
    const float corr = exp(m - mn);
    l *= corr;
    for (int d = 0; d < HD; d++) acc[d] *= corr;
    for (int j = 0; j < BKEYS; j++) {
      const float pj = exp(s[j] - mn);
      l += pj;
      for (int d = 0; d < HD; d++) acc[d] += pj * vs[j * HD + d];
    }
    m = mn;
    barrier(); // before the next block overwrites ks / vs
  }
  if (valid) {
    const uint o = pc.offo + (b * uint(T) + uint(qi)) * uint(D) + h * uint(HD);
    for (int d = 0; d < HD; d++) outv[o + uint(d)] = acc[d] / l;
  }
}
