/* cpu_ops.c - runs one op on the CPU through the op table, with the fastest
 * build of the CPU ops this processor runs: Debian builds for baseline
 * x86-64, so the AVX2+FMA copy is chosen at run time (the GEMMs are
 * OpenBLAS's, which dispatches on its own). */
#include "backend.h"
#include "error.h"
#include "op_table.h"

static int cpu_build(void) {
#if defined(__x86_64__)
  /* libgcc fills the CPU model before main; the checks read a global. */
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return LP_CPU_AVX2;
#endif
  return LP_CPU_BASE;
}

leap_status lp_cpu_run_op(const lp_op *op) {
  const lp_op_info *info = lp_op_info_of(op->kind);
  if (!info) return lp_error(LEAP_ERR_INVALID_ARG, "cpu: unknown op kind %d", (int)op->kind);
  return info->cpu[cpu_build()](op);
}
