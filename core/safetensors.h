/* safetensors.h - reading (mmap) and writing safetensors files
 * (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON describing the tensors (dtype, shape,
 * data_offsets into the data buffer) plus optional "__metadata__" strings,
 * then the data buffer. Internal API: the DiT loader, the CLI and LCSC use it.
 * Every failure returns a leap_status and sets leap_last_error() to a message
 * naming the file and, where it applies, the tensor. */
#ifndef LP_SAFETENSORS_H
#define LP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "leap.h"
#include "output.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lp_st_tensor {
  const char *name;
  leap_dtype dtype; /* may be an LP_DTYPE_* code for foreign files */
  int ndim;         /* 0 for a scalar */
  int64_t shape[LEAP_MAX_DIMS];
  int64_t numel;
  const void *data; /* into the mapping: no alignment promised */
  size_t bytes;
} lp_st_tensor;

/* ------------------------------------------------------------------ reader */

typedef struct lp_st_file lp_st_file;

/* Maps and validates the whole header; tensors stay valid until close. */
leap_status lp_st_open(const char *path, lp_st_file **out);
/* The same checks over len bytes in memory (the fuzz harnesses use it);
 * the bytes are borrowed and must outlive the handle. name stands for the
 * path in messages. */
leap_status lp_st_open_memory(const void *data, size_t len, const char *name, lp_st_file **out);
void lp_st_close(lp_st_file *f);
const char *lp_st_path(const lp_st_file *f);
int lp_st_count(const lp_st_file *f);
/* i-th tensor in the order of its data offset. */
const lp_st_tensor *lp_st_at(const lp_st_file *f, int i);
/* NULL if absent (no error is set). */
const lp_st_tensor *lp_st_find(const lp_st_file *f, const char *name);
/* Like find, but a missing tensor is LEAP_ERR_FORMAT "FILE: no tensor
 * 'NAME'"; when ndim > 0 a different shape is LEAP_ERR_FORMAT naming the
 * file, the tensor, and the expected and found shapes. ndim = 0: any shape. */
leap_status lp_st_get(const lp_st_file *f, const char *name, int ndim,
                      const int64_t *shape, const lp_st_tensor **out);
/* Converts a float tensor (F32/F16/BF16/F64) into dst (t->numel elements).
 * Other dtypes are LEAP_ERR_UNSUPPORTED. */
leap_status lp_st_read_f32(const lp_st_file *f, const lp_st_tensor *t, float *dst);
leap_status lp_st_read_f64(const lp_st_file *f, const lp_st_tensor *t, double *dst);

/* "__metadata__" string pairs, in file order. */
int lp_st_meta_count(const lp_st_file *f);
const char *lp_st_meta_key(const lp_st_file *f, int i);
/* The value under key; NULL if absent. */
const char *lp_st_meta(const lp_st_file *f, const char *key);

/* ------------------------------------------------------------------ writer */

typedef struct lp_st_writer lp_st_writer;

leap_status lp_st_writer_create(const char *path, lp_st_writer **out);
/* Adds a "__metadata__" pair; a repeated key is an error. */
leap_status lp_st_writer_meta(lp_st_writer *w, const char *key, const char *value);
/* Copies the data (so callers may free theirs). Duplicate names are an
 * error; on any error w is unchanged and still usable. */
leap_status lp_st_writer_add(lp_st_writer *w, const char *name, leap_dtype dtype,
                             int ndim, const int64_t *shape, const void *data);
/* What the file is and what the job read, for core/output.h's rule: PATH
 * must not be any of inputs[0..ninputs) (by identity), and an existing
 * PATH is replaced only when it is leap's earlier output of this kind. The
 * kind's marker ("leap.output" = its name) goes first in __metadata__, and
 * kinds of weights must have finite float tensors (LEAP_ERR_NUMERIC, no
 * file). Without this call the kind is LP_OUT_ANY: no marker, no
 * recognition, the other checks still made. inputs are copied. */
leap_status lp_st_writer_output(lp_st_writer *w, lp_out_kind kind, const char *const *inputs, int ninputs);
/* Lands the file by core/output.h: a unique temporary in the same folder,
 * fsync, rename onto PATH, folder fsync. On any failure (Ctrl-C included)
 * the temporary is removed and PATH is untouched. Frees w either way.
 * Tensors are laid out by element size (largest first), then name, as the
 * reference writer does, so every tensor is aligned to its element size
 * within the file. */
leap_status lp_st_writer_finish(lp_st_writer *w);
/* As finish, but stops before the rename: *out holds the written, not yet
 * landed temporary, for lp_out_commit_all with the other files of one unit
 * (a training checkpoint). Frees w either way. */
leap_status lp_st_writer_finish_unit(lp_st_writer *w, lp_out **out);
/* Frees w and writes nothing. */
void lp_st_writer_abort(lp_st_writer *w);

#ifdef __cplusplus
}
#endif

#endif
