/* lcsc_writer.h - a streaming safetensors writer for checkpoint combination.
 * lp_st_writer (safetensors.h) holds every tensor in memory until finish;
 * combining large checkpoints must not. Here the header is written first
 * (every name, dtype and shape is known up front), then the tensors' bytes
 * are appended in header order, so only the chunk at hand is in memory. The
 * file lands by core/output.h's rule: PATH is checked against the job's
 * inputs and its kind, the bytes go to a unique temporary beside it until
 * finish fsyncs and renames it onto PATH; abort (or any failure, Ctrl-C
 * included: polled every buffer) removes the temporary and leaves PATH
 * untouched. */
#ifndef LP_LCSC_WRITER_H
#define LP_LCSC_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "leap.h"
#include "output.h"

typedef struct lp_lcsc_out_tensor {
  const char *name;
  leap_dtype dtype;
  int ndim;
  int64_t shape[LEAP_MAX_DIMS];
  uint64_t bytes;
} lp_lcsc_out_tensor;

typedef struct lp_lcsc_writer lp_lcsc_writer;

/* tensors must already be in the order their data will be appended;
 * meta_keys/meta_vals: meta_count "__metadata__" string pairs (the kind's
 * "leap.output" marker is added first unless kind is LP_OUT_ANY); inputs:
 * the files the job reads, which PATH must not be. */
leap_status lp_lcsc_writer_open(const char *path, lp_out_kind kind, const char *const *inputs, int ninputs,
                                const lp_lcsc_out_tensor *tensors, int count, const char *const *meta_keys,
                                const char *const *meta_vals, int meta_count, lp_lcsc_writer **out);
/* Appends data bytes; appending more than the header announced is an error. */
leap_status lp_lcsc_writer_append(lp_lcsc_writer *w, const void *data, size_t bytes);
/* Room for `bytes` (at most LP_LCSC_WRITER_BUFFER) in the write buffer, to
 * be filled in place and then committed: saves a copy where the bytes are
 * computed (the combination encodes its sums straight into the buffer).
 * Bytes past the header's total are an error. */
#define LP_LCSC_WRITER_BUFFER ((size_t)4 << 20)
leap_status lp_lcsc_writer_reserve(lp_lcsc_writer *w, size_t bytes, void **dst);
/* Appends the first `bytes` of the last reservation. */
leap_status lp_lcsc_writer_commit(lp_lcsc_writer *w, size_t bytes);
/* Appends data with write() straight from the caller's memory (after
 * flushing the buffer): for large pieces that already sit in memory of
 * their own (the Vulkan path's read-back buffer), one copy fewer. */
leap_status lp_lcsc_writer_append_direct(lp_lcsc_writer *w, const void *data, size_t bytes);
/* Checks that every announced byte was appended, fsyncs, renames onto the
 * target. Frees w either way (on failure the temporary is removed). */
leap_status lp_lcsc_writer_finish(lp_lcsc_writer *w);
/* As finish, but stops before the rename: *out holds the written, not yet
 * landed temporary, for lp_out_commit_all with the other files of one unit
 * (`leap sample`'s raw samples with its grid). Frees w either way. */
leap_status lp_lcsc_writer_finish_unit(lp_lcsc_writer *w, lp_out **out);
/* Removes the temporary and frees w. */
void lp_lcsc_writer_abort(lp_lcsc_writer *w);
/* Bytes of the whole file (length prefix + header + data). */
uint64_t lp_lcsc_writer_file_bytes(const lp_lcsc_writer *w);

#endif
