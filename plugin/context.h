/* context.h - what a leap_context and a leap_tensor are inside the library. */
#ifndef LEAP_CONTEXT_H
#define LEAP_CONTEXT_H

#include "backend.h"
#include "leap.h"

struct leap_context {
  leap_backend_kind kind;
  lp_backend *be;
  char device_name[256];
};

struct leap_tensor {
  leap_context *ctx;
  leap_dtype dtype;
  int ndim;
  int64_t shape[LEAP_MAX_DIMS];
  int64_t numel;
  size_t bytes;
  lp_buf *buf;
  int owns_buf; /* frees buf on destroy (for wrappers: the wrapper, not the memory) */
  int borrowed; /* owned by a model (leap_model_hidden): destroy is a no-op */
};

/* A tensor header over an existing buffer (not owned); for model stages. */
void lp_tensor_init_view(leap_tensor *t, leap_context *ctx, lp_buf *buf, leap_dtype dtype,
                         int ndim, const int64_t *shape);

#endif
