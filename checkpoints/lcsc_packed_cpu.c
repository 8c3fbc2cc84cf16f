/* lcsc_packed_cpu.c - the CPU twin of shaders/lcsc_packed_sum.comp, over
 * the same words (layout in the shader's header and lcsc_vk.c), written
 * element by element as plainly as possible so that tests can hold the
 * kernel (and the packer that builds its tables) against it. */
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "lcsc.h"

static float word_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint32_t f32_word(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float element(const uint32_t *buf, uint32_t j, int32_t delta, uint32_t code) {
  const uint32_t p = (uint32_t)((int64_t)j + delta);
  if (code == 0) return word_f32(buf[p]);
  const uint32_t w = buf[p >> 1];
  const uint16_t h = (uint16_t)((p & 1) ? w >> 16 : w & 0xffffu);
  return code == 1 ? lp_f16_to_f32(h) : lp_bf16_to_f32(h);
}

void lp_lcsc_packed_sum_cpu(const uint32_t *buf, uint32_t n, int count, uint32_t nseg, leap_dtype out_dtype,
                            uint32_t *out) {
  const uint32_t K = (uint32_t)count;
  out[0] = 0xffffffffu;
  out[1] = out[2] = out[3] = 0;
  unsigned char *half = (unsigned char *)(out + 4); /* little-endian: even element low */
  uint32_t s = 0;
  for (uint32_t j = 0; j < n; j++) {
    while (s + 1 < nseg && buf[s + 1] <= j) s++;
    const uint32_t *e = buf + 4 * ((nseg + 3) / 4 + (size_t)s * K);
    float acc = 0.0f;
    for (uint32_t k = 0; k < K; k++) {
      const float x = element(buf, j, (int32_t)e[4 * k], e[4 * k + 1]);
      const float c = word_f32(e[4 * k + 2]);
      acc = k == 0 ? c * x : fmaf(c, x, acc);
    }
    if (!(fabsf(acc) < word_f32(lp_lcsc_finite_limit(out_dtype))) && out[0] == 0xffffffffu) out[0] = j;
    if (out_dtype == LEAP_F32)
      out[4 + j] = f32_word(acc);
    else {
      const uint16_t h = out_dtype == LEAP_F16 ? lp_f32_to_f16(acc) : lp_f32_to_bf16(acc);
      memcpy(half + 2 * (size_t)j, &h, 2);
    }
  }
  if (out_dtype != LEAP_F32 && (n & 1)) memset(half + 2 * (size_t)n, 0, 2); /* the last word's unused half */
}
