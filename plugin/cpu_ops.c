/* cpu_ops.c - runs one op on the CPU through the op table, with the fastest
 * build of the CPU ops this processor runs: Debian builds for baseline
 * x86-64, so the AVX2+FMA copy is chosen at run time (the GEMMs are
 * OpenBLAS's, which dispatches on its own). */
#include <stdlib.h>
#include <string.h>

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

static leap_status run_build(const lp_op *op, int build) {
  const lp_op_info *info = lp_op_info_of(op->kind);
  if (!info) return lp_error(LEAP_ERR_INVALID_ARG, "cpu: unknown op kind %d", (int)op->kind);
  return info->cpu[build](op);
}

static leap_status run_base(const lp_op *op) { return run_build(op, LP_CPU_BASE); }
static leap_status run_avx2(const lp_op *op) { return run_build(op, LP_CPU_AVX2); }

/* LEAP_CPU_KERNELS=base picks the baseline build even where AVX2 runs, so
 * that tests cover it on any machine. Read by each CPU backend once, when
 * it is created (lp_cpu_backend_create). */
lp_cpu_op_fn lp_cpu_pick_ops(void) {
  const char *force = getenv("LEAP_CPU_KERNELS");
  if (force && !strcmp(force, "base")) return run_base;
  return cpu_build() == LP_CPU_AVX2 ? run_avx2 : run_base;
}

leap_status lp_cpu_run_op(const lp_op *op) { return lp_cpu_pick_ops()(op); }
