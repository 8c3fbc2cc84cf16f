// unpatchify.comp - patch rows [B*T, p*p*C] with column (ky*p + kx)*C + c
// to image [B,C,H,W] (LP_OP_UNPATCHIFY, DiT's unpatchify; i: B, C, H, W, p).
// One invocation per output pixel, so writes are coalesced.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "common.glsl"

void main() {
  const uint B = uint(pc.i0), C = uint(pc.i1), H = uint(pc.i2), W = uint(pc.i3), p = uint(pc.i4);
  const uint gw = W / p, T = (H / p) * gw, cols = C * p * p;
  for (uint o = gl_GlobalInvocationID.x; o < B * C * H * W; o += grid_size()) {
    const uint w = o % W, h = (o / W) % H, c = (o / (W * H)) % C, b = o / (W * H * C);
    const uint hi = h / p, ky = h - hi * p, wi = w / p, kx = w - wi * p;
    const uint r = b * T + hi * gw + wi;
    outv[pc.offo + o] = in0[pc.off0 + r * cols + (ky * p + kx) * C + c];
  }
}
