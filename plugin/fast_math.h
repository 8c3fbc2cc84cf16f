/* fast_math.h - exp and tanh in float without libm calls, shared by the CPU
 * kernels (plugin/cpu_ops_impl.h) and the trainer (models/train_real_f32.c)
 * so that training and inference compute the same functions.
 *
 * Branch-free so loops over them vectorize; the including file must be
 * compiled without trapping math (-fno-trapping-math) for the clamps to
 * if-convert. libm's expf/tanhf were a third to a half of a step's time. */
#ifndef LEAP_FAST_MATH_H
#define LEAP_FAST_MATH_H

#include <stdint.h>

/* e^x: Cody-Waite range reduction x = n ln2 + r, a degree-6 polynomial for
 * e^r on |r| <= ln2/2 (about 2 ulp), and 2^n built in the exponent bits.
 * Rounds with the 1.5 * 2^23 trick rather than rintf (a libm call without
 * SSE4.1). Inputs are clamped to [-87, 88]; NaN gives NaN. */
static inline float lp_exp_fast(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  /* A NaN input passes the clamps (comparisons with NaN are false) and
   * converting it to an integer is undefined: take n = 0 for it (a select,
   * still branch-free); r, and so the result, stays NaN. */
  const float ni = n == n ? n : 0.0f;
  union { float f; int32_t i; } u = {.i = ((int32_t)ni + 127) << 23};
  return p * u.f;
}

/* tanh(z) = 1 - 2 / (e^{2z} + 1): exact enough in float; where it loses
 * relative precision (z near 0) GELU multiplies it by a small x. */
static inline float lp_tanh_fast(float z) { return 1.0f - 2.0f / (lp_exp_fast(2.0f * z) + 1.0f); }

#endif
