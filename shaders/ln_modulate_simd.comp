// ln_modulate_simd.comp - LP_OP_LN_MODULATE for CPU Vulkan devices
// (llvmpipe); same contract as ln_modulate.comp, for D % 4 == 0, an even
// mod stride % 4 == 0 and all views 16-byte aligned (the host checks).
//
// ln_modulate.comp reduces each row with a shared-memory tree and a
// barrier per level, which llvmpipe runs as coroutine switches; here each
// invocation (a SIMD lane) owns a whole row and reads it as vec4s: the
// mean, then the variance around it (as the CPU twin), then the output.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 8) in;
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer In0v { vec4 x4[]; };
layout(std430, set = 0, binding = 1) readonly buffer In1v { vec4 shift4[]; };
layout(std430, set = 0, binding = 2) readonly buffer In2v { vec4 scale4[]; };
layout(std430, set = 0, binding = 3) buffer Outv { vec4 out4[]; };

void main() {
  const uint B = uint(pc.i0), T = uint(pc.i1), D4 = uint(pc.i2) / 4u, ms4 = uint(pc.i3) / 4u;
  const uint rows = B * T;
  for (uint r0 = gl_WorkGroupID.x * 8u; r0 < rows; r0 += gl_NumWorkGroups.x * 8u) {
    const uint r = min(r0 + gl_LocalInvocationID.x, rows - 1u); // clamped: loads stay valid
    const uint x0 = pc.off0 / 4u + r * D4;
    vec4 s = vec4(0.0);
    for (uint d = 0; d < D4; d++) s += x4[x0 + d];
    const float mean = ((s.x + s.y) + (s.z + s.w)) / float(4u * D4);
    vec4 q = vec4(0.0);
    for (uint d = 0; d < D4; d++) {
      const vec4 e = x4[x0 + d] - mean;
      q = fma(e, e, q);
    }
    const float var = ((q.x + q.y) + (q.z + q.w)) / float(4u * D4);
    const float rstd = 1.0 / sqrt(var + pc.f0);
    const uint b = r / T;
    const uint sh = pc.off1 / 4u + b * ms4, sc = pc.off2 / 4u + b * ms4;
    if (r0 + gl_LocalInvocationID.x < rows)
      for (uint d = 0; d < D4; d++)
        out4[pc.offo / 4u + r * D4 + d] = (x4[x0 + d] - mean) * rstd * (1.0 + scale4[sc + d]) + shift4[sh + d];
  }
}
