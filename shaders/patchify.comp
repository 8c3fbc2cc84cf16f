// patchify.comp - image [B,C,H,W] to patch rows [B*T, C*p*p]: row
// b*T + hi*(W/p) + wi, column c*p*p + ky*p + kx (LP_OP_PATCHIFY;
// i: B, C, H, W, p). One invocation per output element.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "common.glsl"

void main() {
  const uint B = uint(pc.i0), C = uint(pc.i1), H = uint(pc.i2), W = uint(pc.i3), p = uint(pc.i4);
  const uint gw = W / p, T = (H / p) * gw, cols = C * p * p;
  for (uint o = gl_GlobalInvocationID.x; o < B * T * cols; o += grid_size()) {
    const uint r = o / cols, col = o - r * cols;
    const uint c = col / (p * p), ky = (col / p) % p, kx = col % p;
    const uint b = r / T, t = r - b * T, hi = t / gw, wi = t - hi * gw;
    outv[pc.offo + o] = in0[pc.off0 + ((b * C + c) * H + hi * p + ky) * W + wi * p + kx];
  }
}
