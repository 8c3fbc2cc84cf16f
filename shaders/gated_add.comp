// gated_add.comp - out[b,t,:] += gate[b,:] * y[b,t,:] (LP_OP_GATED_ADD;
// in0 = y [B,T,D], in1 = gate rows of stride i3; i: B, T, D, stride).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "common.glsl"

void main() {
  const uint B = uint(pc.i0), T = uint(pc.i1), D = uint(pc.i2), gs = uint(pc.i3);
  for (uint i = gl_GlobalInvocationID.x; i < B * T * D; i += grid_size()) {
    const uint r = i / D, d = i - r * D, b = r / T;
    outv[pc.offo + i] += in1[pc.off1 + b * gs + d] * in0[pc.off0 + i];
  }
}
