/* cpu_ops.c - picks the fastest build of the CPU ops this processor runs:
 * Debian builds for baseline x86-64, so the AVX2+FMA copy is chosen at run
 * time (the GEMMs are OpenBLAS's, which dispatches on its own). */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

leap_status lp_cpu_run_op_base(const lp_op *op);
#if defined(__x86_64__)
leap_status lp_cpu_run_op_avx2(const lp_op *op);
#endif

/* LEAP_CPU_KERNELS=base picks the baseline build even where AVX2 runs, so
 * that tests cover it on any machine. Read by each CPU backend once, when
 * it is created (lp_cpu_backend_create). */
lp_cpu_op_fn lp_cpu_pick_ops(void) {
  const char *force = getenv("LEAP_CPU_KERNELS");
  if (force && !strcmp(force, "base")) return lp_cpu_run_op_base;
#if defined(__x86_64__)
  /* libgcc fills the CPU model before main; the checks read a global. */
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return lp_cpu_run_op_avx2;
#endif
  return lp_cpu_run_op_base;
}

leap_status lp_cpu_run_op(const lp_op *op) { return lp_cpu_pick_ops()(op); }
