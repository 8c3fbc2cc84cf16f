// cache_axpby.comp - out[k] = f0 * in0[k] + f1 * in1[k] (LP_OP_CACHE_AXPBY;
// i: n). f1 = 0 means in1 is not bound (it aliases out): it is not read.
// Stores the block stack's input and forms the residual of a computed step.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "common.glsl"

void main() {
  const uint n = uint(pc.i0);
  const float a = pc.f0, b = pc.f1;
  for (uint k = gl_GlobalInvocationID.x; k < n; k += grid_size()) {
    float v = a * in0[pc.off0 + k];
    if (b != 0.0) v += b * in1[pc.off1 + k];
    outv[pc.offo + k] = v;
  }
}
