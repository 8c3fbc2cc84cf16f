// lcsc_copy.comp - a plain device copy, dst[i] = src[i] for i < n 16-byte
// words (push i0 = n): the second baseline of the LCSC device-only
// benchmark (checkpoints/lcsc_vk.c), beside vkCmdCopyBuffer, which some
// drivers run well below the memory's bandwidth. Same bindings as the
// packed kernel: 0 = source, 3 = destination.
#version 450
layout(local_size_x_id = 0) in;

layout(push_constant) uniform Push {
  uint off0, off1, off2, offo;
  int i0, i1, i2, i3, i4, i5;
  float f0, f1;
  uint flags;
} pc;

layout(std430, set = 0, binding = 0) restrict readonly buffer Src { uvec4 src[]; };
layout(std430, set = 0, binding = 3) restrict writeonly buffer Dst { uvec4 dst[]; };

void main() {
  const uint n = uint(pc.i0);
  const uint grid = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < n; i += grid) dst[i] = src[i];
}
