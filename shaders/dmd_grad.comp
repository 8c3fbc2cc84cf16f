// dmd_grad.comp - DMD2's distribution-matching gradient (LP_OP_DMD_GRAD):
// per sample r, out[r,:] = (in2[r,:] - in1[r,:]) / max(mean|in0[r,:] - in1[r,:]|, f0)
// with in0 = x, in1 = x0_target, in2 = x0_fake. i: n, per. Workgroups stride
// over the samples; each sums its sample's part per invocation, then a tree
// reduction in shared memory (the workgroup size is a power of two).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "common.glsl"

shared float s_sum[1024];

void main() {
  const uint n = uint(pc.i0), per = uint(pc.i1), lid = gl_LocalInvocationID.x;
  const uint wg = gl_WorkGroupSize.x;
  for (uint row = gl_WorkGroupID.x; row < n; row += gl_NumWorkGroups.x) {
    const uint base = row * per;
    float d = 0.0;
    for (uint k = lid; k < per; k += wg) d += abs(in0[pc.off0 + base + k] - in1[pc.off1 + base + k]);
    s_sum[lid] = d;
    barrier();
    for (uint s = wg / 2u; s > 0u; s >>= 1u) {
      if (lid < s) s_sum[lid] += s_sum[lid + s];
      barrier();
    }
    const float inv = 1.0 / max(s_sum[0] / float(per), pc.f0);
    barrier(); // every invocation has read s_sum[0] before the next row overwrites it
    for (uint k = lid; k < per; k += wg) {
      const float t = in1[pc.off1 + base + k];
      outv[pc.offo + base + k] = (in2[pc.off2 + base + k] - t) * inv;
    }
  }
}
