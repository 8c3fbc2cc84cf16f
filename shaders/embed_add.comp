// embed_add.comp - out[b,:] = in0[b,:] + table[label[b],:] (LP_OP_EMBED_ADD;
// in1 = table [rows, D], in2 = int32 labels [B], clamped to 0..rows-1;
// i: B, D, rows).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#define IN2_TYPE int
#include "common.glsl"

void main() {
  const uint B = uint(pc.i0), D = uint(pc.i1);
  const int rows = pc.i2;
  for (uint i = gl_GlobalInvocationID.x; i < B * D; i += grid_size()) {
    const uint b = i / D, d = i - b * D;
    const uint y = uint(clamp(in2[pc.off2 + b], 0, rows - 1));
    outv[pc.offo + i] = in0[pc.off0 + i] + in1[pc.off1 + y * D + d];
  }
}
