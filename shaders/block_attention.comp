// block_attention.comp - block-causal attention over a clip's newest
// tokens with a KV cache (LP_OP_BLOCK_ATTENTION, plugin/backend.h):
// in0 = qkv of the new tokens [B, Tn, 3*D]; in1 = the cache [B, cap, 2*D]
// (k then v per row), its first Nc*F*P rows per b the finished chunks;
// out [B, Tn, D]. i: B, Tn, D, heads, P (tokens per frame), F (frames per
// chunk), Nc (cached chunks), cap. A query of chunk c sees all cached
// keys and the new keys up to the end of chunk c. With in2 bound (flags
// bit 0) it holds int32 slots [B, Nc]: cached chunk c of item b is the
// cache's chunk slot in2[b*Nc + c] (clamped to the cache; the host checks
// them), else slot c.
//
// As attention.comp: workgroup (query block, head, batch) of 64
// invocations, one query each, q and the accumulator in registers; keys
// and values staged BKEYS rows at a time in shared memory, cached ones
// first; online softmax. The group walks keys up to its last query's
// limit and each query masks the keys past its own.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
layout(constant_id = 0) const int HD = 64;
layout(constant_id = 1) const int BKEYS = 32;
#define IN2_TYPE int
#include "common.glsl"

shared float ks[BKEYS * HD];
shared float vs[BKEYS * HD];

const float NEG = -3.0e38; // "minus infinity" without inf arithmetic

// The new keys a query of new token t may see (up to its chunk's end).
int key_limit(int t, int Tn, int P, int F, int Nc) {
  const int frame = Nc * F + t / P;
  const int end = ((frame / F + 1) * F - Nc * F) * P;
  return min(end, Tn);
}

void main() {
  const int Tn = pc.i1, D = pc.i2, P = pc.i4, F = pc.i5, Nc = pc.i6, cap = pc.i7;
  const int chunk = F * P, Tc = Nc * chunk; // cached tokens
  const bool listed = (pc.flags & 1u) != 0u; // in2: the cached chunks' slots
  const float scale = pc.f0;
  const uint ld = 3u * uint(D), ldc = 2u * uint(D);
  const int tid = int(gl_LocalInvocationID.x);
  const int qi = int(gl_WorkGroupID.x) * 64 + tid;
  const uint h = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  const bool valid = qi < Tn;
  const uint base = pc.off0 + b * uint(Tn) * ld + h * uint(HD);
  const uint cbase = pc.off1 + b * uint(cap) * ldc + h * uint(HD);
  const int own = valid ? Tc + key_limit(qi, Tn, P, F, Nc) : 0;
  const int last = min(Tn - 1, int(gl_WorkGroupID.x) * 64 + 63);
  const int nk = Tc + key_limit(last, Tn, P, F, Nc); // keys the group walks

  float q[HD], acc[HD];
  for (int d = 0; d < HD; d++) {
    q[d] = valid ? in0[base + uint(qi) * ld + uint(d)] : 0.0;
    acc[d] = 0.0;
  }
  float m = NEG, l = 0.0;

  for (int k0 = 0; k0 < nk; k0 += BKEYS) {
    for (int e = tid; e < BKEYS * HD; e += 64) {
      const int j = e / HD, d = e - j * HD, kj = k0 + j;
      float kv = 0.0, vv = 0.0;
      if (kj < Tc) {
        const int c = kj / chunk;
        const int slot = listed ? clamp(in2[pc.off2 + b * uint(Nc) + uint(c)], 0, cap / chunk - 1) : c;
        const uint row = cbase + uint(slot * chunk + (kj - c * chunk)) * ldc + uint(d);
        kv = in1[row];
        vv = in1[row + uint(D)];
      } else if (kj < nk) {
        const uint row = base + uint(kj - Tc) * ld + uint(d);
        kv = in0[row + uint(D)];
        vv = in0[row + 2u * uint(D)];
      }
      ks[e] = kv;
      vs[e] = vv;
    }
    barrier();
    float s[BKEYS];
    float bm = NEG;
    for (int j = 0; j < BKEYS; j++) {
      float dot = 0.0;
      for (int d = 0; d < HD; d++) dot += q[d] * ks[j * HD + d];
      s[j] = k0 + j < own ? dot * scale : NEG;
      bm = max(bm, s[j]);
    }
    const float mn = max(m, bm);
    const float corr = exp(m - mn);
    l *= corr;
    for (int d = 0; d < HD; d++) acc[d] *= corr;
    for (int j = 0; j < BKEYS; j++) {
      // Masked keys weigh nothing, also while every key so far is masked.
      const float pj = k0 + j < own ? exp(s[j] - mn) : 0.0;
      l += pj;
      for (int d = 0; d < HD; d++) acc[d] += pj * vs[j * HD + d];
    }
    m = mn;
    barrier(); // before the next block overwrites ks / vs
  }
  if (valid) {
    const uint o = pc.offo + (b * uint(Tn) + uint(qi)) * uint(D) + h * uint(HD);
    for (int d = 0; d < HD; d++) outv[o + uint(d)] = acc[d] / l;
  }
}
