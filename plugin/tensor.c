/* tensor.c - leap_tensor: a shaped, typed view of a backend buffer. */
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "alloc.h"
#include "error.h"
#include "safetensors.h"
#include "vk_backend.h"

static leap_status tensor_header(leap_context *ctx, leap_dtype dtype, int ndim,
                                 const int64_t *shape, leap_tensor **out) {
  if (!ctx || !out || (ndim > 0 && !shape))
    return lp_error(LEAP_ERR_INVALID_ARG, "tensor: NULL argument");
  if (ndim < 0 || ndim > LEAP_MAX_DIMS)
    return lp_error(LEAP_ERR_INVALID_ARG, "tensor: ndim %d outside 0..%d", ndim, LEAP_MAX_DIMS);
  if (dtype < LEAP_F32 || dtype > LEAP_I32)
    return lp_error(LEAP_ERR_INVALID_ARG, "tensor: unknown dtype %d", (int)dtype);
  int64_t numel = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0 || (shape[i] > 0 && numel > INT64_MAX / 16 / shape[i]))
      return lp_error(LEAP_ERR_INVALID_ARG, "tensor: bad dimension %d = %lld", i, (long long)shape[i]);
    numel *= shape[i];
  }
  leap_tensor *t = lp_calloc(1, sizeof *t);
  if (!t) return lp_error(LEAP_ERR_NOMEM, "tensor: out of memory");
  t->ctx = ctx;
  t->dtype = dtype;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->numel = numel;
  t->bytes = (size_t)numel * lp_dtype_size(dtype);
  *out = t;
  return LEAP_OK;
}

void lp_tensor_init_view(leap_tensor *t, leap_context *ctx, lp_buf *buf, leap_dtype dtype,
                         int ndim, const int64_t *shape) {
  memset(t, 0, sizeof *t);
  t->ctx = ctx;
  t->dtype = dtype;
  t->ndim = ndim;
  t->numel = 1;
  for (int i = 0; i < ndim; i++) {
    t->shape[i] = shape[i];
    t->numel *= shape[i];
  }
  t->bytes = (size_t)t->numel * lp_dtype_size(dtype);
  t->buf = buf;
  t->borrowed = 1;
}

leap_status leap_tensor_create(leap_context *ctx, leap_dtype dtype, int ndim,
                               const int64_t *shape, leap_tensor **out) {
  leap_tensor *t;
  leap_status s = tensor_header(ctx, dtype, ndim, shape, &t);
  if (s != LEAP_OK) return s;
  s = ctx->be->vt->buf_alloc(ctx->be, t->bytes, &t->buf);
  if (s != LEAP_OK) {
    free(t);
    return s;
  }
  t->owns_buf = 1;
  *out = t;
  return LEAP_OK;
}

leap_status leap_tensor_wrap_host(leap_context *ctx, leap_dtype dtype, int ndim,
                                  const int64_t *shape, void *data, leap_tensor **out) {
  if (ctx && ctx->kind != LEAP_BACKEND_CPU)
    return lp_error(LEAP_ERR_UNSUPPORTED,
                    "leap_tensor_wrap_host: host memory can be wrapped on the CPU backend only "
                    "(on Vulkan use leap_tensor_create + leap_tensor_write, or wrap a VkBuffer)");
  if (!data) return lp_error(LEAP_ERR_INVALID_ARG, "leap_tensor_wrap_host: NULL data");
  leap_tensor *t;
  leap_status s = tensor_header(ctx, dtype, ndim, shape, &t);
  if (s != LEAP_OK) return s;
  s = lp_cpu_buf_wrap(ctx->be, data, t->bytes, &t->buf);
  if (s != LEAP_OK) {
    free(t);
    return s;
  }
  t->owns_buf = 1; /* the wrapper itself, not the memory */
  *out = t;
  return LEAP_OK;
}

leap_status leap_tensor_wrap_vkbuffer(leap_context *ctx, leap_dtype dtype, int ndim,
                                      const int64_t *shape, uint64_t vk_buffer,
                                      uint64_t offset, leap_tensor **out) {
  if (ctx && ctx->kind != LEAP_BACKEND_VULKAN)
    return lp_error(LEAP_ERR_UNSUPPORTED, "leap_tensor_wrap_vkbuffer: the context is not a Vulkan one");
  if (!vk_buffer) return lp_error(LEAP_ERR_INVALID_ARG, "leap_tensor_wrap_vkbuffer: null VkBuffer");
  leap_tensor *t;
  leap_status s = tensor_header(ctx, dtype, ndim, shape, &t);
  if (s != LEAP_OK) return s;
  s = lp_vk_buf_wrap(ctx->be, vk_buffer, offset, t->bytes, &t->buf);
  if (s != LEAP_OK) {
    free(t);
    return s;
  }
  t->owns_buf = 1;
  *out = t;
  return LEAP_OK;
}

void leap_tensor_destroy(leap_tensor *t) {
  if (!t || t->borrowed) return;
  if (t->owns_buf && t->buf) t->ctx->be->vt->buf_free(t->ctx->be, t->buf);
  free(t);
}

leap_status leap_tensor_write(leap_tensor *t, const void *src, size_t bytes) {
  if (!t || !src) return lp_error(LEAP_ERR_INVALID_ARG, "leap_tensor_write: NULL argument");
  if (bytes != t->bytes)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_tensor_write: %zu bytes given, the tensor holds %zu",
                    bytes, t->bytes);
  return t->ctx->be->vt->buf_write(t->ctx->be, t->buf, 0, src, bytes);
}

leap_status leap_tensor_read(const leap_tensor *t, void *dst, size_t bytes) {
  if (!t || !dst) return lp_error(LEAP_ERR_INVALID_ARG, "leap_tensor_read: NULL argument");
  if (bytes != t->bytes)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_tensor_read: %zu bytes asked, the tensor holds %zu",
                    bytes, t->bytes);
  return t->ctx->be->vt->buf_read(t->ctx->be, t->buf, 0, dst, bytes);
}

int leap_tensor_ndim(const leap_tensor *t) { return t->ndim; }
int64_t leap_tensor_dim(const leap_tensor *t, int i) {
  return i >= 0 && i < t->ndim ? t->shape[i] : 0;
}
leap_dtype leap_tensor_dtype(const leap_tensor *t) { return t->dtype; }
int64_t leap_tensor_numel(const leap_tensor *t) { return t->numel; }
