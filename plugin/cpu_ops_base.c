/* cpu_ops_base.c - the CPU ops for any x86-64 (or other) processor. */
#define LP_CPU_FN(name) lp_cpu_##name##_base
#include "cpu_ops_impl.h"
