/* lcsc.h - internals of LCSC (linear combination of saved checkpoints):
 * the weighted-sum kernels behind leap_lcsc_combine (host and Vulkan), the
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

/* Elements per unit of host streaming work: a tensor larger than this is
 * summed in pieces, so memory stays bounded by one piece of output. */
#define LP_LCSC_CHUNK ((size_t)1 << 20)
/* Tensors of at least this many elements are summed (and, in the copy
 * baseline, copied) by OpenMP threads; smaller ones by one thread (a
 * parallel region per small tensor costs more than it saves). */
#define LP_LCSC_PARALLEL_MIN ((size_t)1 << 18)

/* The fused host path: dst[j] = encode(sum_k coefs[k] * src_k[j]) for
 * j < n. src[k] points at raw little-endian elements of dtypes[k] (F32, F16
 * or BF16), with no alignment promised (straight from the mmapped files).
 * The sum is c_0 x_0, then fma(c_k, x_k, acc) for k = 1.. (the Vulkan
 * kernel's order), block by block in L1, each input element read once; each
 * block is checked for non-finite sums and encoded straight into dst as
 * out_dtype (F32, F16, BF16; round to nearest even, bit-identical to
 * dtype.h's conversions). OpenMP for n >= LP_LCSC_PARALLEL_MIN. Returns
 * the index of the first sum that is not finite in out_dtype (a finite F32
 * sum above F16's or BF16's largest value encodes as Inf), or n when every
 * sum is finite there. */
/* The F32 bit pattern (sign cleared) from which a sum no longer encodes
 * as a finite out_dtype value: |sum| < this, compared as floats, is the
 * finite check of every path (host, Vulkan, the CPU twin). F16 rounds to
 * Inf from 65520 (0x477ff000), BF16 from 0x7f7f8000 (round to nearest even
 * past its largest value). */
static inline uint32_t lp_lcsc_finite_limit(leap_dtype out_dtype) {
  return out_dtype == LEAP_F16 ? 0x477ff000u : out_dtype == LEAP_BF16 ? 0x7f7f8000u : 0x7f800000u;
}
size_t lp_lcsc_sum_encode(int count, const void *const *src, const leap_dtype *dtypes, const float *coefs,
                          size_t n, leap_dtype out_dtype, void *dst);

/* ------------------------------------------------------------- Vulkan path
 * Packed combination (lcsc_vk.c, shaders/lcsc_packed_sum.comp): the float
 * tensors, in output order, are cut into chunks of a bounded number of
 * input bytes (LP_LCSC_VK_CHUNK_BYTES; a chunk spans many small tensors or
 * a piece of a large one). For each chunk every input's raw bytes (F32,
 * F16, BF16, as in the file) are packed into one upload buffer behind a
 * segment table, one dispatch of one pipeline sums and encodes the whole
 * chunk into the output dtype, and the encoded bytes come back in one copy.
 * Two chunks are in flight: the host packs chunk c+1 while the device runs
 * chunk c. */
#define LP_LCSC_VK_CHUNK_BYTES ((size_t)8 << 20)

typedef struct lp_lcsc_vk lp_lcsc_vk;
struct lp_lcsc_writer;

/* be must be a Vulkan backend. chunk_bytes = 0: LP_LCSC_VK_CHUNK_BYTES
 * (or $LEAP_LCSC_CHUNK_KB). */
leap_status lp_lcsc_vk_create(lp_backend *be, int count, const float *coefs, leap_dtype out_dtype,
                              size_t chunk_bytes, lp_lcsc_vk **out);
/* Queues a float tensor (numel elements; src[k] raw elements of dtypes[k]).
 * Finished chunks' bytes are appended to w in order. The sources must stay
 * mapped until lp_lcsc_vk_drain returns. */
leap_status lp_lcsc_vk_tensor(lp_lcsc_vk *v, const char *name, const void *const *src, const leap_dtype *dtypes,
                              size_t numel, struct lp_lcsc_writer *w);
/* Runs and appends everything queued (before a non-float tensor and at the
 * end). */
leap_status lp_lcsc_vk_drain(lp_lcsc_vk *v, struct lp_lcsc_writer *w);
/* Chunks dispatched and the GPU time of their dispatches (timestamps; -1
 * when the queue has none). */
void lp_lcsc_vk_counters(const lp_lcsc_vk *v, int *chunks, double *kernel_ms);
void lp_lcsc_vk_destroy(lp_lcsc_vk *v);

/* The CPU twin of the packed kernel (lcsc_packed_cpu.c), over the same
 * words: buf holds the table (layout: shaders/lcsc_packed_sum.comp) and the
 * packed sources, out receives 4 status words (word 0: the first
 * non-finite element, or 0xffffffff) followed by the encoded chunk (F16 /
 * BF16: an odd n's last half word is 0). n elements, count inputs, nseg
 * segments, out_dtype F32/F16/BF16. */
void lp_lcsc_packed_sum_cpu(const uint32_t *buf, uint32_t n, int count, uint32_t nseg, leap_dtype out_dtype,
                            uint32_t *out);

/* One dispatch of the packed kernel on buf (words words: table and packed
 * sources), for tests against the CPU twin: out as for the twin (4 + the
 * encoded words). in_code: the input dtype code the pipeline is
 * specialised for (0 F32, 1 F16, 2 BF16; 3 = read each entry's). */
leap_status lp_lcsc_vk_run_packed(lp_backend *be, const uint32_t *buf, size_t words, uint32_t n, int count,
                                  uint32_t nseg, uint32_t in_code, leap_dtype out_dtype, uint32_t *out);

/* Device-only speed of the packed kernel against a buffer copy, both timed
 * with GPU timestamps (host wall time around submit + wait when the queue
 * has no timestamps): one segment of `elements` elements per input of
 * dtypes[k], resident in device memory, summed `repeats` times, against
 * vkCmdCopyBuffer of the same number of bytes moved (read + written), and
 * against a compute-shader copy of them (drivers may run vkCmdCopyBuffer
 * well below the memory's bandwidth: NVIDIA's did, 850 GB/s on an H200). */
typedef struct lp_lcsc_vk_bench {
  uint64_t elements;
  uint64_t sum_bytes;  /* inputs read + output written by one sum */
  uint64_t copy_bytes; /* bytes moved by one copy (read + written) */
  double sum_ms, copy_ms; /* best of repeats */
  double shader_copy_ms;  /* the same copy by a compute shader (lcsc_copy.comp) */
  int gpu_timestamps;     /* 1: GPU timestamps; 0: host wall time */
} lp_lcsc_vk_bench;
/* target_bytes = 0: 1 GiB moved on a GPU, 64 MiB on a CPU device (always
 * capped by the device's buffer limits). */
leap_status lp_lcsc_vk_run_bench(lp_backend *be, int count, const leap_dtype *dtypes, leap_dtype out_dtype,
                                 uint64_t target_bytes, int repeats, lp_lcsc_vk_bench *r);
/* The same for the checkpoints of a combination: each input's dtype is
 * that of its largest float tensor; out_dtype -1 = the first file's. */
leap_status lp_lcsc_vk_bench_files(leap_context *ctx, int count, const char *const *paths, int out_dtype,
                                   uint64_t target_bytes, int repeats, lp_lcsc_vk_bench *r);

/* leap_lcsc_combine with what its Vulkan path did: the chunks dispatched
 * and their kernels' GPU time (chunks 0 on the host; kernel_ms -1 without
 * GPU timestamps). detail may be NULL. */
typedef struct lp_lcsc_combine_detail {
  int chunks;
  double kernel_ms;
} lp_lcsc_combine_detail;
leap_status lp_lcsc_combine_ex(const leap_lcsc_combine_desc *d, leap_lcsc_combine_stats *stats,
                               lp_lcsc_combine_detail *detail);

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
