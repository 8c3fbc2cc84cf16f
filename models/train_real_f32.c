/* train_real_f32.c - the trainer's ops and DiT forward/backward in float
 * (what training runs); see train_ops_impl.h. */
/* As the runtime's CPU ops are built (CMakeLists): without trapping math
 * the clamps below if-convert, so the exp/GELU/softmax loops vectorize. */
#pragma GCC optimize("no-trapping-math")

/* The runtime's exp and tanh (plugin/fast_math.h), so that the trainer's
 * forward matches the inference one closely. */
#include "fast_math.h"

#define real float
#define NM(name) name##_f32
#define GEMM cblas_sgemm
#define R_EXP lp_exp_fast
#define R_TANH lp_tanh_fast
#define R_SQRT sqrtf
#include "train_ops_impl.h"
#include "train_dit_impl.h"
