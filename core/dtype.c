/* dtype.c - element sizes and names, and 16-bit float conversions.
 * The conversions work on bit patterns (no _Float16) so that every compiler
 * and host gives the same, IEEE round-to-nearest-even, results. */
#include "dtype.h"

#include <string.h>

static const struct {
  int code;
  const char *name;
  size_t size;
} k_dtypes[] = {
    {LEAP_F32, "F32", 4},        {LEAP_F16, "F16", 2},
    {LEAP_BF16, "BF16", 2},      {LEAP_F64, "F64", 8},
    {LEAP_I64, "I64", 8},        {LEAP_I32, "I32", 4},
    {LP_DTYPE_BOOL, "BOOL", 1},  {LP_DTYPE_U8, "U8", 1},
    {LP_DTYPE_I8, "I8", 1},      {LP_DTYPE_I16, "I16", 2},
    {LP_DTYPE_U16, "U16", 2},    {LP_DTYPE_U32, "U32", 4},
    {LP_DTYPE_U64, "U64", 8},
};
#define N_DTYPES (sizeof k_dtypes / sizeof k_dtypes[0])

size_t lp_dtype_size(leap_dtype d) {
  for (size_t i = 0; i < N_DTYPES; i++)
    if (k_dtypes[i].code == (int)d) return k_dtypes[i].size;
  return 0;
}

const char *lp_dtype_name(leap_dtype d) {
  for (size_t i = 0; i < N_DTYPES; i++)
    if (k_dtypes[i].code == (int)d) return k_dtypes[i].name;
  return "?";
}

int lp_dtype_from_name(const char *name, leap_dtype *out) {
  for (size_t i = 0; i < N_DTYPES; i++)
    if (strcmp(k_dtypes[i].name, name) == 0) {
      *out = (leap_dtype)k_dtypes[i].code;
      return 1;
    }
  return 0;
}

int lp_dtype_is_float(leap_dtype d) {
  return d == LEAP_F32 || d == LEAP_F16 || d == LEAP_BF16 || d == LEAP_F64;
}

static float bits_to_f32(uint32_t x) {
  float f;
  memcpy(&f, &x, sizeof f);
  return f;
}

static uint32_t f32_to_bits(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  return x;
}

float lp_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) /* inf / nan: keep the payload, so nan stays nan */
    return bits_to_f32(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    if (mant == 0) return bits_to_f32(sign);
    /* Subnormal: shift until the implicit bit appears, then it is a normal
     * float32 (every float16 subnormal is a float32 normal). */
    int e = -1;
    do {
      mant <<= 1;
      e++;
    } while (!(mant & 0x400));
    mant &= 0x3ff;
    return bits_to_f32(sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13));
  }
  return bits_to_f32(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

/* Drops the low `shift` bits of m, rounding to nearest, ties to even. */
static uint32_t round_shift(uint32_t m, int shift) {
  uint32_t q = m >> shift;
  uint32_t rem = m & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) q++;
  return q;
}

uint16_t lp_f32_to_f16(float f) {
  uint32_t x = f32_to_bits(f);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) /* nan: keep the top payload bits, force quiet */
    return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff));
  /* 65520 is halfway between 65504 (odd mantissa) and 2^16: it and anything
   * larger round to inf. */
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);
  if (a >= 0x38800000u) { /* normal float16 (>= 2^-14) */
    uint32_t e = (a >> 23) - 127 + 15;
    /* The carry of the rounding may run into the exponent: that is the
     * correct next power of two. */
    return (uint16_t)(sign + round_shift((e << 23 | (a & 0x7fffff)), 13));
  }
  /* 2^-25 is halfway between 0 and the smallest subnormal 2^-24: ties go to
   * the even one, zero. */
  if (a <= 0x33000000u) return sign;
  uint32_t mant = (a & 0x7fffff) | 0x800000;
  int shift = 126 - (int)(a >> 23); /* 14..24 */
  return (uint16_t)(sign | round_shift(mant, shift));
}

float lp_bf16_to_f32(uint16_t h) { return bits_to_f32((uint32_t)h << 16); }

uint16_t lp_f32_to_bf16(float f) {
  uint32_t x = f32_to_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) /* nan: truncation could give inf */
    return (uint16_t)((x >> 16) | 0x0040);
  /* Round to nearest even; overflow carries correctly into inf. */
  return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}
