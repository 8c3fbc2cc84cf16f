/* cpu_ops_base.c - the CPU ops for any x86-64 (or other) processor. */
#define LP_CPU_RUN_OP lp_cpu_run_op_base
#include "cpu_ops_impl.h"
