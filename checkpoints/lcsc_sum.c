/* lcsc_sum.c - the host kernel of checkpoint combination, fused: for each
 * group of 64 elements (its float32 sums stay in registers; without AVX2,
 * blocks of 4096 in L1) every input is read once, then the group is checked
 * for non-finite sums and encoded straight into the output bytes. One pass
 * over the inputs, one over the output, no intermediate buffer. F16 decode
 * and encode use F16C and the sums AVX2 FMA when the CPU has them (chosen at
 * run time: Debian builds for baseline x86-64, where a scalar F16 conversion
 * costs about as much as reading the bytes); the scalar path computes the
 * same values (fmaf, the same order; $LEAP_LCSC_SCALAR=1 forces it, for
 * tests). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "lcsc.h"

#define BLOCK 4096 /* elements per block: 16 KiB of sums, in L1 */

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

static inline float load_any(leap_dtype dt, const unsigned char *p, size_t j) {
  if (dt == LEAP_F32) return load_f32(p, j);
  return dt == LEAP_F16 ? f16_to_f32(load_u16(p, j)) : bf16_to_f32(load_u16(p, j));
}

/* acc[0..m) (+)= a * src[j0..j0+m); first: acc = a * x. */
static void block_add(leap_dtype dt, const unsigned char *p, float a, size_t j0, size_t m, float *acc, int first) {
  if (first) {
    for (size_t j = 0; j < m; j++) acc[j] = a * load_any(dt, p, j0 + j);
  } else {
    for (size_t j = 0; j < m; j++) acc[j] = fmaf(a, load_any(dt, p, j0 + j), acc[j]);
  }
}

/* Encodes m sums into dst; returns the first index not finite in out
 * (lp_lcsc_finite_limit) or m. */
static size_t block_encode(const float *acc, size_t m, leap_dtype out, unsigned char *dst) {
  const float limit = bits_f32(lp_lcsc_finite_limit(out));
  for (size_t j = 0; j < m; j++)
    if (!(fabsf(acc[j]) < limit)) return j; /* NaN too */
  if (out == LEAP_F32) {
    memcpy(dst, acc, m * 4);
  } else if (out == LEAP_F16) {
    for (size_t j = 0; j < m; j++) {
      const uint16_t h = lp_f32_to_f16(acc[j]);
      memcpy(dst + 2 * j, &h, 2);
    }
  } else {
    for (size_t j = 0; j < m; j++) {
      const uint16_t h = lp_f32_to_bf16(acc[j]);
      memcpy(dst + 2 * j, &h, 2);
    }
  }
  return m;
}

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline __m256 load8(leap_dtype dt, const unsigned char *p) {
  if (dt == LEAP_F32) return _mm256_loadu_ps((const float *)p);
  const __m128i h = _mm_loadu_si128((const __m128i *)p);
  if (dt == LEAP_F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* The block's sums, 16 elements an iteration (two independent FMA chains). */
AVX2 static void block_sum_avx2(int count, const void *const *src, const leap_dtype *dtypes, const float *coefs,
                                size_t j0, size_t m, float *acc) {
  for (int k = 0; k < count; k++) {
    const leap_dtype dt = dtypes[k];
    const size_t es = dt == LEAP_F32 ? 4 : 2;
    const unsigned char *p = (const unsigned char *)src[k] + j0 * es;
    const __m256 a = _mm256_set1_ps(coefs[k]);
    size_t j = 0;
    if (k == 0) {
      for (; j + 16 <= m; j += 16) {
        _mm256_store_ps(acc + j, _mm256_mul_ps(a, load8(dt, p + j * es)));
        _mm256_store_ps(acc + j + 8, _mm256_mul_ps(a, load8(dt, p + (j + 8) * es)));
      }
    } else {
      for (; j + 16 <= m; j += 16) {
        _mm256_store_ps(acc + j, _mm256_fmadd_ps(a, load8(dt, p + j * es), _mm256_load_ps(acc + j)));
        _mm256_store_ps(acc + j + 8, _mm256_fmadd_ps(a, load8(dt, p + (j + 8) * es), _mm256_load_ps(acc + j + 8)));
      }
    }
    if (j < m) block_add(dt, (const unsigned char *)src[k], coefs[k], j0 + j, m - j, acc + j, k == 0);
  }
}

/* Round to nearest even, NaN kept quiet: lp_f32_to_bf16 on 8 lanes. */
AVX2 static inline __m128i bf16_pack8(__m256 v) {
  const __m256i x = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), lsb), 16);
  const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff)),
                                         _mm256_set1_epi32(0x7f800000));
  const __m256i q = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
  const __m256i y = _mm256_blendv_epi8(r, q, nan);
  const __m256i packed = _mm256_packus_epi32(y, y); /* per 128-bit lane: 4 values, repeated */
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}

AVX2 static size_t block_encode_avx2(const float *acc, size_t m, leap_dtype out, unsigned char *dst) {
  const __m256 inf = _mm256_set1_ps(bits_f32(lp_lcsc_finite_limit(out))); /* Inf for F32 */
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  size_t j = 0;
  for (; j + 8 <= m; j += 8) {
    const __m256 v = _mm256_load_ps(acc + j);
    /* |v| < limit is false for inf and nan, and for sums the dtype cannot hold */
    if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(v, absmask), inf, _CMP_LT_OQ)) != 0xff) break;
    if (out == LEAP_F32)
      _mm256_storeu_ps((float *)(dst + 4 * j), v);
    else if (out == LEAP_F16)
      _mm_storeu_si128((__m128i *)(dst + 2 * j), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    else
      _mm_storeu_si128((__m128i *)(dst + 2 * j), bf16_pack8(v));
  }
  const size_t es = out == LEAP_F32 ? 4 : 2;
  return j + block_encode(acc + j, m - j, out, dst + j * es);
}

/* The sums of 64 elements [j, j + 64) kept in 8 registers across all the
 * inputs (no round trip through memory per input), checked and encoded;
 * returns the first non-finite index within them, or 64. The inputs are
 * read 128 or 256 bytes at a time, round robin: the hardware prefetchers
 * follow a dozen such streams (software prefetching measured slower). */
AVX2 static size_t group64_avx2(int count, const void *const *src, const leap_dtype *dtypes, const float *coefs,
                                size_t j, leap_dtype out, unsigned char *dst) {
  __m256 a[8];
  for (int k = 0; k < count; k++) {
    const leap_dtype dt = dtypes[k];
    const size_t es = dt == LEAP_F32 ? 4 : 2;
    const unsigned char *p = (const unsigned char *)src[k] + j * es;
    const __m256 c = _mm256_set1_ps(coefs[k]);
    if (k == 0) {
      for (int i = 0; i < 8; i++) a[i] = _mm256_mul_ps(c, load8(dt, p + 8 * i * es));
    } else {
      for (int i = 0; i < 8; i++) a[i] = _mm256_fmadd_ps(c, load8(dt, p + 8 * i * es), a[i]);
    }
  }
  _Alignas(32) float acc[64];
  for (int i = 0; i < 8; i++) _mm256_store_ps(acc + 8 * i, a[i]);
  return block_encode_avx2(acc, 64, out, dst);
}

/* clang 14 (the fuzz build's compiler) has no "f16c" for
 * __builtin_cpu_supports: CPUID leaf 1, ECX bit 29 there. */
#if defined(__clang__) && __clang_major__ < 15
#include <cpuid.h>
static int have_f16c(void) {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#else
static int have_f16c(void) { return __builtin_cpu_supports("f16c"); }
#endif

static int have_avx2(void) {
  static int cached = -1;
  const char *force = getenv("LEAP_LCSC_SCALAR");
  if (force && *force && strcmp(force, "0") != 0) return 0;
  if (cached < 0)
    cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && have_f16c();
  return cached;
}
#endif

static void block_sum(int count, const void *const *src, const leap_dtype *dtypes, const float *coefs, size_t j0,
                      size_t m, float *acc, int avx2) {
  if (count == 0) {
    memset(acc, 0, m * sizeof *acc);
    return;
  }
#if defined(__x86_64__)
  if (avx2) {
    block_sum_avx2(count, src, dtypes, coefs, j0, m, acc);
    return;
  }
#endif
  (void)avx2;
  for (int k = 0; k < count; k++) block_add(dtypes[k], src[k], coefs[k], j0, m, acc, k == 0);
}

size_t lp_lcsc_sum_encode(int count, const void *const *src, const leap_dtype *dtypes, const float *coefs, size_t n,
                          leap_dtype out_dtype, void *dst) {
  int avx2 = 0;
#if defined(__x86_64__)
  avx2 = have_avx2();
#endif
  const size_t es = out_dtype == LEAP_F32 ? 4 : 2;
  const long blocks = (long)((n + BLOCK - 1) / BLOCK);
  size_t bad = n;
#pragma omp parallel for schedule(static) reduction(min : bad) if (n >= LP_LCSC_PARALLEL_MIN)
  for (long b = 0; b < blocks; b++) {
    const size_t j0 = (size_t)b * BLOCK, m = n - j0 < BLOCK ? n - j0 : BLOCK;
    unsigned char *out = (unsigned char *)dst + j0 * es;
    size_t e = 0;
#if defined(__x86_64__)
    if (avx2) { /* 64 at a time in registers, the rest through memory */
      for (; e + 64 <= m; e += 64) {
        const size_t g = group64_avx2(count, src, dtypes, coefs, j0 + e, out_dtype, out + e * es);
        if (g < 64) {
          e += g;
          break;
        }
      }
      if (e + 64 > m && e < m) {
        _Alignas(32) float acc[64];
        block_sum(count, src, dtypes, coefs, j0 + e, m - e, acc, avx2);
        e += block_encode_avx2(acc, m - e, out_dtype, out + e * es);
      }
    } else
#endif
    {
      _Alignas(32) float acc[BLOCK];
      block_sum(count, src, dtypes, coefs, j0, m, acc, avx2);
      e = block_encode(acc, m, out_dtype, out);
    }
    if (e < m && j0 + e < bad) bad = j0 + e;
  }
  return bad;
}
