/* lcsc.h - internals of LCSC (linear combination of saved checkpoints):
 * the weighted-sum kernels behind leap_lcsc_combine (host and backend), the
 * plain-copy baseline it is measured against, and the search's log format.
 * The public entry points are in leap.h. */
#ifndef LP_LCSC_H
#define LP_LCSC_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "clock.h"
#include "leap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Elements per unit of streaming work: a tensor larger than this is summed
 * in pieces, so memory stays bounded by count * LP_LCSC_CHUNK floats. */
#define LP_LCSC_CHUNK ((size_t)1 << 20)

/* acc[j] = sum_k coefs[k] * src_k[j] for j < n, fused over the inputs
 * (each element of each input read once, acc written once). src[k] points
 * at raw little-endian elements of dtypes[k] (F32, F16 or BF16), with no
 * alignment promised (they come straight from mmapped files). OpenMP. */
void lp_lcsc_sum_host(int count, const void *const *src, const leap_dtype *dtypes,
                      const float *coefs, size_t n, float *acc);

/* Converts n floats to dtype (F32, F16, BF16; round to nearest even). */
void lp_lcsc_f32_to(leap_dtype dtype, const float *src, size_t n, void *dst);

/* The same sum on a backend, through LP_OP_WEIGHTED_SUM (used for Vulkan):
 * inputs are uploaded raw (F16 stays 2 bytes a value on the bus) and
 * decoded by the kernel. */
typedef struct lp_lcsc_device lp_lcsc_device;
leap_status lp_lcsc_device_create(lp_backend *be, int count, const float *coefs,
                                  lp_lcsc_device **out);
leap_status lp_lcsc_device_sum(lp_lcsc_device *d, const void *const *src,
                               const leap_dtype *dtypes, size_t n, float *acc);
void lp_lcsc_device_destroy(lp_lcsc_device *d);

/* The baseline for the combination's speed: reads the same tensor bytes of
 * the same files (every input, once) and writes out_bytes to a temporary
 * file next to out_path (fsynced, then removed): the I/O of a combination
 * without its arithmetic. *seconds = its wall time. */
leap_status lp_lcsc_copy_baseline(int count, const char *const *paths, const char *out_path,
                                  uint64_t out_bytes, uint64_t *bytes_read, double *seconds);

#ifdef __cplusplus
}
#endif

#endif
