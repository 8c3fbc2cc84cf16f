// silu.comp - out[i] = silu(in0[i]) for i < n (LP_OP_SILU; i: n).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "common.glsl"

void main() {
  const uint n = uint(pc.i0);
  for (uint i = gl_GlobalInvocationID.x; i < n; i += grid_size())
    outv[pc.offo + i] = silu(in0[pc.off0 + i]);
}
