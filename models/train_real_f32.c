/* train_real_f32.c - the trainer's ops and DiT forward/backward in float
 * (what training runs); see train_ops_impl.h. */
#include <stdint.h>

/* As the runtime's CPU ops are built (CMakeLists): without trapping math
 * the clamps below if-convert, so the exp/GELU/softmax loops vectorize. */
#pragma GCC optimize("no-trapping-math")

/* exp without a libm call (libm's expf/tanhf were half of a training
 * step's time): Cody-Waite reduction x = n ln2 + r, a degree-6 polynomial
 * for e^r (about 2 ulp), 2^n built in the exponent bits. The same as the
 * runtime's CPU kernels (plugin/cpu_ops_impl.h), so the trainer's forward
 * matches the inference one closely. */
static inline float exp_fast_f32(float x) {
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
  union { float f; int32_t i; } u = {.i = ((int32_t)n + 127) << 23};
  return p * u.f;
}

/* tanh(z) = 1 - 2 / (e^{2z} + 1): exact enough in float, and where it
 * loses relative precision (z near 0) GELU multiplies it by a small x. */
static inline float tanh_fast_f32(float z) { return 1.0f - 2.0f / (exp_fast_f32(2.0f * z) + 1.0f); }

#define real float
#define NM(name) name##_f32
#define GEMM cblas_sgemm
#define R_EXP exp_fast_f32
#define R_TANH tanh_fast_f32
#define R_SQRT sqrtf
#include "train_ops_impl.h"
#include "train_dit_impl.h"
