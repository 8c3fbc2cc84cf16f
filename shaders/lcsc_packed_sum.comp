// lcsc_packed_sum.comp - LCSC checkpoint combination, one dispatch per
// packed chunk (checkpoints/lcsc_vk.c; CPU twin: lcsc_packed_cpu.c).
// Binding 0 (words w) holds the table, then the inputs' raw bytes:
//   w[s], s < nseg                 first chunk element of segment s (w[0] = 0)
//   w4[E + s K + k], E = (nseg + 3) / 4, as uvec4 (16-byte entries):
//     .x delta: element j of segment s of input k is raw element j + delta
//        of the buffer; .y its dtype: 0 F32 (one a word), 1 F16, 2 BF16
//        (two a word, even element low); .z coefficient k (float bits)
// Deltas are multiples of 8 for 16-bit inputs and of 4 for F32 ones, so
// that 8 elements from an element index that is a multiple of 8 are one
// (16-bit) or two (F32) aligned 16-byte loads. Binding 3: word 0 receives
// the first chunk element whose sum is not finite (atomicMin; the host sets
// it to 0xffffffff); the encoded sums start at word 4 (F32: one a word;
// F16 / BF16: two a word, even element low). Each invocation sums 8 G
// elements (vec4 loads and stores; elements near a segment boundary one by
// one): c_0 x_0, then fma(c_k, x_k, acc) (the host kernel's order), and
// encodes with round to nearest even in integer arithmetic (the host's
// conversions, bit for bit). Four inputs are loaded at a time, so that an
// invocation has several loads in flight. Push: i0 = n, i1 = K, i2 = nseg. Constants:
// 0 the workgroup size, 1 the input dtype code when every entry of the
// chunk has it (3: read each entry's), 2 the output dtype code: fixed
// codes compile the dtype branches away (llvmpipe runs both sides of a
// branch it cannot prove uniform); 3 G: an invocation sums G runs of 8
// elements (a table entry read once for all of them).
#version 450
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint IN_CODE = 3u;
layout(constant_id = 2) const uint OUT_CODE = 0u;
layout(constant_id = 3) const uint G = 1u;

layout(push_constant) uniform Push {
  uint off0, off1, off2, offo;
  int i0, i1, i2, i3, i4, i5;
  float f0, f1;
  uint flags;
} pc;

layout(std430, set = 0, binding = 0) restrict readonly buffer Src { uint w[]; };
layout(std430, set = 0, binding = 0) restrict readonly buffer Src4 { uvec4 w4[]; };
layout(std430, set = 0, binding = 3) buffer Out { uint o[]; };
layout(std430, set = 0, binding = 3) buffer Out4 { uvec4 o4[]; };

// F16 through the conversion instruction (exact: every F16 is an F32;
// a device that flushed F16 subnormals here would differ from the host by
// less than 6.1e-5 times a coefficient, and the CPU-twin test would say so).
float decode(uint h, uint code) { return code == 1u ? unpackHalf2x16(h).x : uintBitsToFloat(h << 16); }

uint round_shift(uint m, uint s) {
  uint q = m >> s;
  const uint rem = m & ((1u << s) - 1u), half_ = 1u << (s - 1u);
  if (rem > half_ || (rem == half_ && (q & 1u) != 0u)) q++;
  return q;
}

uint f32_to_f16(float f) {
  const uint x = floatBitsToUint(f);
  const uint sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u | ((a >> 13) & 0x3ffu);
  if (a >= 0x477ff000u) return sign | 0x7c00u;
  if (a >= 0x38800000u) return (sign + round_shift((((a >> 23) - 112u) << 23) | (a & 0x7fffffu), 13u)) & 0xffffu;
  if (a <= 0x33000000u) return sign;
  return sign | round_shift((a & 0x7fffffu) | 0x800000u, 126u - (a >> 23));
}

uint f32_to_bf16(float f) {
  const uint x = floatBitsToUint(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (x >> 16) | 0x40u;
  return ((x + 0x7fffu + ((x >> 16) & 1u)) >> 16) & 0xffffu;
}

uint encode16(float v, uint dt) { return dt == 1u ? f32_to_f16(v) : f32_to_bf16(v); }

// The segment holding chunk element j: the last s with w[s] <= j.
uint segment_of(uint j, uint nseg) {
  uint lo = 0u, hi = nseg;
  while (hi - lo > 1u) {
    const uint mid = (lo + hi) >> 1;
    if (w[mid] <= j) lo = mid; else hi = mid;
  }
  return lo;
}

// One element, any segment and dtype.
float sum_one(uint j, uint K, uint nseg) {
  const uint e = ((nseg + 3u) >> 2) + segment_of(j, nseg) * K;
  float acc = 0.0;
  for (uint k = 0u; k < K; k++) {
    const uvec4 t = w4[e + k];
    const uint p = uint(int(j) + int(t.x)), code = IN_CODE < 3u ? IN_CODE : t.y;
    const uint word = code == 0u ? w[p] : w[p >> 1];
    const float x = code == 0u ? uintBitsToFloat(word) : decode((p & 1u) != 0u ? word >> 16 : word & 0xffffu, code);
    const float c = uintBitsToFloat(t.z);
    acc = k == 0u ? c * x : fma(c, x, acc);
  }
  return acc;
}

vec4 decode4(uint lo, uint hi, uint code) {
  if (code == 1u) return vec4(unpackHalf2x16(lo), unpackHalf2x16(hi));
  return uintBitsToFloat(uvec4(lo << 16, lo & 0xffff0000u, hi << 16, hi & 0xffff0000u));
}

// Run g (8 elements) of input entry t for the invocation's first element
// j0: one (16-bit) or two (F32) aligned 16-byte loads.
void load8(uvec4 t, uint j0, uint g, out vec4 xl, out vec4 xh) {
  const uint p = uint(int(j0) + int(t.x)), code = IN_CODE < 3u ? IN_CODE : t.y;
  if (code == 0u) {
    xl = uintBitsToFloat(w4[(p >> 2) + 2u * g]);
    xh = uintBitsToFloat(w4[(p >> 2) + 2u * g + 1u]);
  } else {
    const uvec4 u = w4[(p >> 3) + g];
    xl = decode4(u.x, u.y, code);
    xh = decode4(u.z, u.w, code);
  }
}

// Finite in the output dtype (lp_lcsc_finite_limit in checkpoints/lcsc.h):
// a finite F32 sum above F16's or BF16's largest value would encode as Inf.
const uint LIMIT = OUT_CODE == 1u ? 0x477ff000u : OUT_CODE == 2u ? 0x7f7f8000u : 0x7f800000u;
bool finite(float v) { return (floatBitsToUint(v) & 0x7fffffffu) < LIMIT; }

void main() {
  const uint n = uint(pc.i0), K = uint(pc.i1), nseg = uint(pc.i2), dt = OUT_CODE;
  const uint span = 8u * G; // elements an invocation
  const uint groups = (n + span - 1u) / span;
  const uint grid = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < groups; i += grid) {
    const uint j0 = span * i;
    const uint s = segment_of(j0, nseg);
    if (j0 + span <= n && (s + 1u >= nseg || w[s + 1u] >= j0 + span)) {
      // all in segment s: G runs of 8, each one or two aligned 16-byte loads
      const uint e = ((nseg + 3u) >> 2) + s * K;
      vec4 lo[G], hi[G];
      uint k = 0u;
      // four inputs at a time: their loads are all in flight before the sums
      for (; k + 4u <= K; k += 4u) {
        const uvec4 t0 = w4[e + k], t1 = w4[e + k + 1u], t2 = w4[e + k + 2u], t3 = w4[e + k + 3u];
        for (uint g = 0u; g < G; g++) {
          vec4 l0, h0, l1, h1, l2, h2, l3, h3;
          load8(t0, j0, g, l0, h0);
          load8(t1, j0, g, l1, h1);
          load8(t2, j0, g, l2, h2);
          load8(t3, j0, g, l3, h3);
          const vec4 c0 = vec4(uintBitsToFloat(t0.z));
          lo[g] = k == 0u ? c0 * l0 : fma(c0, l0, lo[g]);
          hi[g] = k == 0u ? c0 * h0 : fma(c0, h0, hi[g]);
          const vec4 c1 = vec4(uintBitsToFloat(t1.z)), c2 = vec4(uintBitsToFloat(t2.z)), c3 = vec4(uintBitsToFloat(t3.z));
          lo[g] = fma(c3, l3, fma(c2, l2, fma(c1, l1, lo[g])));
          hi[g] = fma(c3, h3, fma(c2, h2, fma(c1, h1, hi[g])));
        }
      }
      for (; k < K; k++) {
        const uvec4 t = w4[e + k];
        const vec4 c = vec4(uintBitsToFloat(t.z));
        for (uint g = 0u; g < G; g++) {
          vec4 xl, xh;
          load8(t, j0, g, xl, xh);
          lo[g] = k == 0u ? c * xl : fma(c, xl, lo[g]);
          hi[g] = k == 0u ? c * xh : fma(c, xh, hi[g]);
        }
      }
      for (uint g = 0u; g < G; g++) {
        const uint jg = j0 + 8u * g;
        for (uint q = 0u; q < 4u; q++) {
          if (!finite(lo[g][q])) atomicMin(o[0], jg + q);
          if (!finite(hi[g][q])) atomicMin(o[0], jg + 4u + q);
        }
        const uint v = G * i + g; // index of this run of 8
        if (dt == 0u) {
          o4[1u + 2u * v] = floatBitsToUint(lo[g]);
          o4[2u + 2u * v] = floatBitsToUint(hi[g]);
        } else {
          o4[1u + v] = uvec4(encode16(lo[g].x, dt) | (encode16(lo[g].y, dt) << 16),
                             encode16(lo[g].z, dt) | (encode16(lo[g].w, dt) << 16),
                             encode16(hi[g].x, dt) | (encode16(hi[g].y, dt) << 16),
                             encode16(hi[g].z, dt) | (encode16(hi[g].w, dt) << 16));
        }
      }
    } else {
      // near a segment boundary or the end: element by element, in pairs
      const uint end = min(j0 + span, n);
      for (uint j = j0; j < end; j += 2u) {
        const bool two = j + 1u < end;
        const float a0 = sum_one(j, K, nseg), a1 = two ? sum_one(j + 1u, K, nseg) : 0.0;
        if (!finite(a0)) atomicMin(o[0], j);
        if (two && !finite(a1)) atomicMin(o[0], j + 1u);
        if (dt == 0u) {
          o[4u + j] = floatBitsToUint(a0);
          if (two) o[4u + j + 1u] = floatBitsToUint(a1);
        } else {
          o[4u + (j >> 1)] = encode16(a0, dt) | (two ? encode16(a1, dt) << 16 : 0u);
        }
      }
    }
  }
}
