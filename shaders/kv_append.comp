// kv_append.comp - appends keys and values to a KV cache (LP_OP_KV_APPEND;
// out[b, start + t, c] = in0[b, t, D + c] for c < 2D: the k and v thirds of
// qkv rows; i: B, Tn, D, cap, start). Grid-stride over B*Tn*2D elements.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "common.glsl"

void main() {
  const uint Tn = uint(pc.i1), D2 = 2u * uint(pc.i2), cap = uint(pc.i3), start = uint(pc.i4);
  const uint n = uint(pc.i0) * Tn * D2;
  for (uint e = gl_GlobalInvocationID.x; e < n; e += grid_size()) {
    const uint row = e / D2, c = e - row * D2, b = row / Tn, t = row - b * Tn;
    outv[pc.offo + (b * cap + start + t) * D2 + c] = in0[pc.off0 + row * (3u * uint(pc.i2)) + uint(pc.i2) + c];
  }
}
