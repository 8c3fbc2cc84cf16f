// cache_l1.comp - per-row L1 sums (LP_OP_CACHE_L1): workgroup r writes
// out[2r] = sum |in0[r,:] - in1[r,:]| and out[2r+1] = sum |in1[r,:]|.
// i: rows, L. Each invocation sums a strided part of the row, then a tree
// reduction in shared memory (the workgroup size is a power of two).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "common.glsl"

shared float s_diff[1024];
shared float s_ref[1024];

void main() {
  const uint L = uint(pc.i1), row = gl_WorkGroupID.x, lid = gl_LocalInvocationID.x;
  const uint wg = gl_WorkGroupSize.x;
  float d = 0.0, r = 0.0;
  for (uint l = lid; l < L; l += wg) {
    const float a = in0[pc.off0 + row * L + l], b = in1[pc.off1 + row * L + l];
    d += abs(a - b);
    r += abs(b);
  }
  s_diff[lid] = d;
  s_ref[lid] = r;
  barrier();
  for (uint s = wg / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      s_diff[lid] += s_diff[lid + s];
      s_ref[lid] += s_ref[lid + s];
    }
    barrier();
  }
  if (lid == 0u) {
    outv[pc.offo + 2u * row] = s_diff[0];
    outv[pc.offo + 2u * row + 1u] = s_ref[0];
  }
}
