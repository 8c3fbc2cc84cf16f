// add_rows.comp - out[r, :] += in0[r % T, :] for r < R (LP_OP_ADD_ROWS;
// i: R, T, D), e.g. the position embedding added to every image's tokens.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "common.glsl"

void main() {
  const uint R = uint(pc.i0), T = uint(pc.i1), D = uint(pc.i2);
  for (uint i = gl_GlobalInvocationID.x; i < R * D; i += grid_size()) {
    const uint r = i / D, d = i - r * D;
    outv[pc.offo + i] += in0[pc.off0 + (r % T) * D + d];
  }
}
