/* cpu_ops_avx2.c - the CPU ops compiled with -mavx2 -mfma (see CMakeLists);
 * empty on other architectures. */
#if defined(__x86_64__)
#define LP_CPU_FN(name) lp_cpu_##name##_avx2
#include "cpu_ops_impl.h"
#else
typedef int lp_cpu_ops_avx2_unused;
#endif
