// cache_apply.comp - a reused step in one pass (LP_OP_CACHE_APPLY):
// out[r,l] = in0[r,l] + a[g,c] * in1[r,l] + b[g,c], g = r / i4 (the CFG
// branch), c = (l / i3) % i2 (the channel); in2 = [groups][2][C] holds a
// then b; without in2 (flags bit 0 clear) a = 1, b = 0.
// i: rows, L, C, inner, rows_per_group. in0 may alias out.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "common.glsl"

void main() {
  const uint rows = uint(pc.i0), L = uint(pc.i1), C = uint(pc.i2), inner = uint(pc.i3);
  const uint rpg = uint(pc.i4);
  const bool rect = (pc.flags & 1u) != 0u;
  for (uint k = gl_GlobalInvocationID.x; k < rows * L; k += grid_size()) {
    const float h = in0[pc.off0 + k], r = in1[pc.off1 + k];
    float v = h + r;
    if (rect) {
      const uint row = k / L, l = k - row * L, g = row / rpg, c = (l / inner) % C;
      v = h + in2[pc.off2 + 2u * g * C + c] * r + in2[pc.off2 + (2u * g + 1u) * C + c];
    }
    outv[pc.offo + k] = v;
  }
}
