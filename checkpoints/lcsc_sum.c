/* lcsc_sum.c - the host kernel of checkpoint combination: one pass over all
 * inputs per block of elements, so each input byte is read once and the
 * accumulator stays in cache (the combination is memory-bound). */
#include <string.h>

#include "dtype.h"
#include "lcsc.h"

#define BLOCK 4096 /* elements per block: 16 KiB of accumulator, in L1/L2 */

/* Unaligned-safe loads: memcpy compiles to a plain load on x86. */
static inline float load_f32(const unsigned char *p, size_t j) {
  float v;
  memcpy(&v, p + 4 * j, 4);
  return v;
}
static inline uint16_t load_u16(const unsigned char *p, size_t j) {
  uint16_t v;
  memcpy(&v, p + 2 * j, 2);
  return v;
}
static inline float bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static inline uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static inline float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }
/* Branch-free float16 decode (vectorizes, unlike lp_f16_to_f32's loop):
 * the exponent-and-mantissa bits shifted into a float32 are the value times
 * 2^-112, subnormals included; inf and nan keep their payload. */
static inline float f16_to_f32(uint16_t h) {
  const uint32_t em = h & 0x7fffu;
  float f = bits_f32(em << 13) * 0x1p112f;
  f = em >= 0x7c00u ? bits_f32((em << 13) | 0x7f800000u) : f;
  return bits_f32(f32_bits(f) | ((uint32_t)(h & 0x8000u) << 16));
}

static void block_add(leap_dtype dt, const unsigned char *p, float a, size_t j0, size_t m,
                      float *acc, int first) {
  if (dt == LEAP_F32) {
    for (size_t j = 0; j < m; j++) acc[j] = (first ? 0.0f : acc[j]) + a * load_f32(p, j0 + j);
  } else if (dt == LEAP_F16) {
    for (size_t j = 0; j < m; j++) acc[j] = (first ? 0.0f : acc[j]) + a * f16_to_f32(load_u16(p, j0 + j));
  } else {
    for (size_t j = 0; j < m; j++) acc[j] = (first ? 0.0f : acc[j]) + a * bf16_to_f32(load_u16(p, j0 + j));
  }
}

#if defined(__x86_64__)
#include <immintrin.h>
/* The same block with AVX2 + F16C (chosen at run time: Debian builds for
 * baseline x86-64, where the F16 decode above costs ~1 ns a value; the
 * hardware conversion makes the sum as cheap as reading the bytes). */
__attribute__((target("avx2,fma,f16c"))) static void block_add_avx2(leap_dtype dt, const unsigned char *p, float a,
                                                                   size_t j0, size_t m, float *acc, int first) {
  const __m256 va = _mm256_set1_ps(a);
  size_t j = 0;
  for (; j + 8 <= m; j += 8) {
    __m256 x;
    if (dt == LEAP_F32) {
      x = _mm256_loadu_ps((const float *)(p + 4 * (j0 + j)));
    } else {
      __m128i h = _mm_loadu_si128((const __m128i *)(p + 2 * (j0 + j)));
      x = dt == LEAP_F16 ? _mm256_cvtph_ps(h) : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    __m256 prev = first ? _mm256_setzero_ps() : _mm256_loadu_ps(acc + j);
    _mm256_storeu_ps(acc + j, _mm256_fmadd_ps(va, x, prev));
  }
  if (j < m) block_add(dt, p, a, j0 + j, m - j, acc + j, first);
}
#endif

void lp_lcsc_sum_host(int count, const void *const *src, const leap_dtype *dtypes,
                      const float *coefs, size_t n, float *acc) {
  const long blocks = (long)((n + BLOCK - 1) / BLOCK);
#if defined(__x86_64__)
  const int use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#endif
  /* One thread streams page-cache bytes about as fast as the memory bus
   * allows for small tensors; threads pay off only on big chunks (and on a
   * busy machine a parallel region per small tensor costs more than it
   * saves). */
#pragma omp parallel for schedule(static) if (n >= 64 * BLOCK)
  for (long b = 0; b < blocks; b++) {
    const size_t j0 = (size_t)b * BLOCK;
    const size_t m = n - j0 < BLOCK ? n - j0 : BLOCK;
    if (count == 0) memset(acc + j0, 0, m * sizeof *acc);
    for (int k = 0; k < count; k++) {
#if defined(__x86_64__)
      if (use_avx2) {
        block_add_avx2(dtypes[k], (const unsigned char *)src[k], coefs[k], j0, m, acc + j0, k == 0);
        continue;
      }
#endif
      block_add(dtypes[k], (const unsigned char *)src[k], coefs[k], j0, m, acc + j0, k == 0);
    }
  }
}

void lp_lcsc_f32_to(leap_dtype dtype, const float *src, size_t n, void *dst) {
  if (dtype == LEAP_F32) {
    memcpy(dst, src, n * sizeof *src);
    return;
  }
  uint16_t *d = dst;
  if (dtype == LEAP_F16) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long j = 0; j < (long)n; j++) d[j] = lp_f32_to_f16(src[j]);
  } else {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long j = 0; j < (long)n; j++) d[j] = lp_f32_to_bf16(src[j]);
  }
}
