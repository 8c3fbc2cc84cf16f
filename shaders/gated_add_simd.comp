// gated_add_simd.comp - LP_OP_GATED_ADD for CPU Vulkan devices (llvmpipe);
// same contract as gated_add.comp, for D % 4 == 0, stride % 4 == 0 and all
// views 16-byte aligned (the host checks). gated_add.comp spends most of
// its time on llvmpipe in two integer divisions per element (no SIMD
// integer division on x86) and scalar loads; here x is the vec4 index in a
// row and y walks the rows, so a row's gate is found once per row.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 8) in;
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer In0v { vec4 y4[]; };
layout(std430, set = 0, binding = 1) readonly buffer In1v { vec4 gate4[]; };
layout(std430, set = 0, binding = 3) buffer Outv { vec4 out4[]; };

void main() {
  const uint B = uint(pc.i0), T = uint(pc.i1), D4 = uint(pc.i2) / 4u, gs4 = uint(pc.i3) / 4u;
  const uint d = gl_GlobalInvocationID.x;
  if (d >= D4) return;
  for (uint r = gl_WorkGroupID.y; r < B * T; r += gl_NumWorkGroups.y) {
    const uint i = r * D4 + d;
    out4[pc.offo / 4u + i] += gate4[pc.off1 / 4u + (r / T) * gs4 + d] * y4[pc.off0 / 4u + i];
  }
}
