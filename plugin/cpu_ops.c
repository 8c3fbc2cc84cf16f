/* cpu_ops.c - picks the fastest build of the CPU ops this processor runs:
 * Debian builds for baseline x86-64, so the AVX2+FMA copy is chosen at run
 * time (the GEMMs are OpenBLAS's, which dispatches on its own). */
#include "backend.h"

leap_status lp_cpu_run_op_base(const lp_op *op);
#if defined(__x86_64__)
leap_status lp_cpu_run_op_avx2(const lp_op *op);
#endif

leap_status lp_cpu_run_op(const lp_op *op) {
#if defined(__x86_64__)
  /* libgcc fills the CPU model before main; the checks read a global. */
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return lp_cpu_run_op_avx2(op);
#endif
  return lp_cpu_run_op_base(op);
}
