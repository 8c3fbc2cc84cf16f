// rope.comp - the rotary embedding over time (LP_OP_ROPE, plugin/backend.h):
// out = qkv with each q and k head vector u of a token at frame f rotated,
// u*cos(f w) + rotate_half(u)*sin(f w), w_j = theta^(-2 (j mod hd/2) / hd);
// v copied. i: B, T, D, heads, P (tokens per frame), frame0; f0 = theta.
// Grid-stride over B*T*3D elements; out is not in0 (each reads a partner).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "common.glsl"

void main() {
  const uint T = uint(pc.i1), D = uint(pc.i2), hd = D / uint(pc.i3), half_hd = hd / 2u;
  const uint D3 = 3u * D, n = uint(pc.i0) * T * D3;
  const float log2_theta = log2(pc.f0);
  for (uint e = gl_GlobalInvocationID.x; e < n; e += grid_size()) {
    const uint row = e / D3, c = e - row * D3;
    const float u = in0[pc.off0 + e];
    if (c >= 2u * D) {
      outv[pc.offo + e] = u;
      continue;
    }
    const uint j = c % hd, jj = j % half_hd;
    const float f = float(uint(pc.i5) + (row % T) / uint(pc.i4));
    const float ang = f * exp2(-2.0 * float(jj) / float(hd) * log2_theta);
    // rotate_half: [-u[half:], u[:half]]
    const float partner = j < half_hd ? -in0[pc.off0 + e + half_hd] : in0[pc.off0 + e - half_hd];
    outv[pc.offo + e] = u * cos(ang) + partner * sin(ang);
  }
}
