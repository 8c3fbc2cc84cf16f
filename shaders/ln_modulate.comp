// ln_modulate.comp - out[b,t,:] = LN(x[b,t,:]) * (1 + scale[b,:]) + shift[b,:]
// (LP_OP_LN_MODULATE; LayerNorm without affine, eps f0; in0 = x [B,T,D],
// in1 = shift, in2 = scale, rows of stride i3; i: B, T, D, stride).
// One workgroup per row (grid-stride over rows); like the CPU twin, the
// mean first and then the variance around it, each by a shared-memory tree
// reduction (the workgroup size is a power of two).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;
#include "common.glsl"

shared float red[WG];

float reduce_sum(float v) {
  const uint tid = gl_LocalInvocationID.x;
  red[tid] = v;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (tid < s) red[tid] += red[tid + s];
    barrier();
  }
  const float total = red[0];
  barrier(); // red[] is reused by the next reduction
  return total;
}

void main() {
  const uint B = uint(pc.i0), T = uint(pc.i1), D = uint(pc.i2), ms = uint(pc.i3);
  const uint tid = gl_LocalInvocationID.x;
  for (uint r = gl_WorkGroupID.x; r < B * T; r += gl_NumWorkGroups.x) {
    const uint x0 = pc.off0 + r * D;
    float s = 0.0;
    for (uint d = tid; d < D; d += WG) s += in0[x0 + d];
    const float mean = reduce_sum(s) / float(D);
    float q = 0.0;
    for (uint d = tid; d < D; d += WG) {
      const float e = in0[x0 + d] - mean;
      q += e * e;
    }
    const float var = reduce_sum(q) / float(D);
    const float rstd = 1.0 / sqrt(var + pc.f0);
    const uint b = r / T;
    const uint sh = pc.off1 + b * ms, sc = pc.off2 + b * ms;
    for (uint d = tid; d < D; d += WG)
      outv[pc.offo + r * D + d] = (in0[x0 + d] - mean) * rstd * (1.0 + in2[sc + d]) + in1[sh + d];
  }
}
