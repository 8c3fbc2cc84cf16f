// lcsc_weighted_sum.comp - LP_OP_WEIGHTED_SUM (LCSC checkpoint combination):
// out[j] = sum_k in1[k] * src_k[j] for j < n, source k at word k * stride of
// in0, raw F32 (one per word) or F16 / BF16 (two per word, even element in
// the low half), its dtype code in in2[k] (0, 1, 2). Checkpoints arrive
// undecoded, so F16 files cross the bus at 2 bytes a value. i: n, K, stride.
// The bindings are common.glsl's, except in0 is read as raw words.
#version 450
layout(local_size_x_id = 0) in;

layout(push_constant) uniform Push {
  uint off0, off1, off2, offo;
  int i0, i1, i2, i3, i4, i5;
  float f0, f1;
  uint flags;
} pc;

layout(std430, set = 0, binding = 0) readonly buffer In0 { uint words[]; };
layout(std430, set = 0, binding = 1) readonly buffer In1 { float coef[]; };
layout(std430, set = 0, binding = 2) readonly buffer In2 { float dtype_code[]; };
layout(std430, set = 0, binding = 3) buffer Out { float outv[]; };

float load(uint base, uint j, int dt) {
  if (dt == 0) return uintBitsToFloat(words[base + j]);
  uint w = words[base + j / 2u];
  uint h = (j & 1u) != 0u ? (w >> 16) : (w & 0xffffu);
  if (dt == 1) return unpackHalf2x16(h).x;
  return uintBitsToFloat(h << 16);
}

void main() {
  const uint n = uint(pc.i0), K = uint(pc.i1), stride = uint(pc.i2);
  const uint grid = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint j = gl_GlobalInvocationID.x; j < n; j += grid) {
    float acc = 0.0;
    for (uint k = 0u; k < K; k++)
      acc += coef[pc.off1 + k] * load(pc.off0 + k * stride, j, int(dtype_code[pc.off2 + k]));
    outv[pc.offo + j] = acc;
  }
}
