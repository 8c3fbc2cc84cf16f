// common.glsl - what every leap kernel shares: the four storage-buffer
// bindings (in0, in1, in2, out; the host binds a window of each buffer and
// passes the element offset inside it in the push constants), the push
// constants (the op's i[] and f[] of plugin/backend.h), and the activation
// functions of plugin/cpu_ops.c.

layout(push_constant) uniform Push {
  uint off0, off1, off2, offo; // element offsets of in0, in1, in2, out
  int i0, i1, i2, i3, i4, i5;  // lp_op.i
  float f0, f1;                // lp_op.f
  uint flags;                  // bit 0: in2 is bound (LINEAR bias)
  int i6, i7;                  // lp_op.i[6], i[7] (after flags: see vk_internal.h)
} pc;

#ifndef IN2_TYPE
#define IN2_TYPE float
#endif
layout(std430, set = 0, binding = 0) readonly buffer In0 { float in0[]; };
layout(std430, set = 0, binding = 1) readonly buffer In1 { float in1[]; };
layout(std430, set = 0, binding = 2) readonly buffer In2 { IN2_TYPE in2[]; };
layout(std430, set = 0, binding = 3) buffer Out { float outv[]; };

float silu(float x) { return x / (1.0 + exp(-x)); }

float gelu_tanh(float x) {
  const float k = 0.7978845608028654; // sqrt(2/pi)
  // tanh saturates long before |u| = 15; clamping keeps drivers that build
  // tanh from exp away from inf/inf.
  float u = clamp(k * (x + 0.044715 * x * x * x), -15.0, 15.0);
  return 0.5 * x * (1.0 + tanh(u));
}

// Invocations of the whole grid, for grid-stride loops.
uint grid_size() { return gl_NumWorkGroups.x * gl_WorkGroupSize.x; }
