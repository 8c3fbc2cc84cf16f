/* train_real_f64.c - the same ops and DiT forward/backward in double, for
 * finite-difference gradient checks; see train_ops_impl.h. */
#define real double
#define NM(name) name##_f64
#define GEMM cblas_dgemm
#define R_EXP exp
#define R_TANH tanh
#define R_SQRT sqrt
#include "train_ops_impl.h"
#include "train_dit_impl.h"
