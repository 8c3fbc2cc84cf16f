/* lcsc_device.c - checkpoint combination on a backend (Vulkan): the raw
 * chunks of every input go up into one source buffer, one
 * LP_OP_WEIGHTED_SUM dispatch sums them, the float32 result comes back.
 * Buffers are sized for LP_LCSC_CHUNK elements once; the one-op program is
 * recompiled only when the chunk length changes (coefficients and dtypes
 * live in buffers, not in the recorded command buffer). */
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "error.h"
#include "lcsc.h"

struct lp_lcsc_device {
  lp_backend *be;
  int count;
  lp_buf *src, *coef, *dtype, *out;
  float *dtype_host; /* codes last written, to skip rewriting them */
  lp_prog prog;
  int prog_n; /* n the program was built for; 0 = none */
};

void lp_lcsc_device_destroy(lp_lcsc_device *d) {
  if (!d) return;
  lp_prog_free(d->be, &d->prog);
  lp_buf *bufs[4] = {d->src, d->coef, d->dtype, d->out};
  for (int k = 0; k < 4; k++)
    if (bufs[k]) d->be->vt->buf_free(d->be, bufs[k]);
  free(d->dtype_host);
  free(d);
}

leap_status lp_lcsc_device_create(lp_backend *be, int count, const float *coefs, lp_lcsc_device **out) {
  if (!be || !out || count < 1 || !coefs)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_device_create: bad argument");
  *out = NULL;
  if ((uint64_t)count * LP_LCSC_CHUNK > 0x3fffffffu)
    return lp_error(LEAP_ERR_UNSUPPORTED, "lcsc: %d checkpoints are too many for one device pass", count);
  lp_lcsc_device *d = calloc(1, sizeof *d);
  if (!d) return lp_error(LEAP_ERR_NOMEM, "lcsc: out of memory");
  d->be = be;
  d->count = count;
  d->dtype_host = calloc((size_t)count, sizeof *d->dtype_host);
  const lp_backend_vt *vt = be->vt;
  leap_status s = d->dtype_host ? LEAP_OK : lp_error(LEAP_ERR_NOMEM, "lcsc: out of memory");
  if (s == LEAP_OK) s = vt->buf_alloc(be, (size_t)count * LP_LCSC_CHUNK * 4, &d->src);
  if (s == LEAP_OK) s = vt->buf_alloc(be, (size_t)count * 4, &d->coef);
  if (s == LEAP_OK) s = vt->buf_alloc(be, (size_t)count * 4, &d->dtype);
  if (s == LEAP_OK) s = vt->buf_alloc(be, LP_LCSC_CHUNK * 4, &d->out);
  if (s == LEAP_OK) s = vt->buf_write(be, d->coef, 0, coefs, (size_t)count * 4);
  for (int k = 0; k < count; k++) d->dtype_host[k] = -1.0f; /* unknown: write on first use */
  if (s != LEAP_OK) {
    lp_lcsc_device_destroy(d);
    return s;
  }
  *out = d;
  return LEAP_OK;
}

leap_status lp_lcsc_device_sum(lp_lcsc_device *d, const void *const *src, const leap_dtype *dtypes, size_t n,
                               float *acc) {
  if (!d || !src || !dtypes || !acc || n == 0 || n > LP_LCSC_CHUNK)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_device_sum: bad argument (n = %zu)", n);
  const lp_backend_vt *vt = d->be->vt;
  int dt_changed = 0;
  leap_status s = LEAP_OK;
  for (int k = 0; k < d->count && s == LEAP_OK; k++) {
    const float code = dtypes[k] == LEAP_F32 ? 0.0f : dtypes[k] == LEAP_F16 ? 1.0f : 2.0f;
    if (dtypes[k] != LEAP_F32 && dtypes[k] != LEAP_F16 && dtypes[k] != LEAP_BF16)
      return lp_error(LEAP_ERR_INVALID_ARG, "lcsc: source %d is %s, not F32, F16 or BF16", k,
                      lp_dtype_name(dtypes[k]));
    dt_changed |= code != d->dtype_host[k];
    d->dtype_host[k] = code;
    s = vt->buf_write(d->be, d->src, (size_t)k * LP_LCSC_CHUNK * 4, src[k], n * lp_dtype_size(dtypes[k]));
  }
  if (s == LEAP_OK && dt_changed) s = vt->buf_write(d->be, d->dtype, 0, d->dtype_host, (size_t)d->count * 4);
  if (s != LEAP_OK) return s;
  if (d->prog_n != (int)n) {
    lp_prog_free(d->be, &d->prog);
    memset(&d->prog, 0, sizeof d->prog);
    lp_op op;
    memset(&op, 0, sizeof op);
    op.kind = LP_OP_WEIGHTED_SUM;
    op.in[0] = (lp_view){d->src, 0};
    op.in[1] = (lp_view){d->coef, 0};
    op.in[2] = (lp_view){d->dtype, 0};
    op.out = (lp_view){d->out, 0};
    op.i[0] = (int32_t)n, op.i[1] = d->count, op.i[2] = (int32_t)LP_LCSC_CHUNK;
    s = lp_prog_push(&d->prog, &op);
    if (s != LEAP_OK) return s;
    d->prog_n = (int)n;
  }
  s = vt->prog_run(d->be, &d->prog);
  if (s != LEAP_OK) {
    d->prog_n = 0; /* rebuild next time */
    lp_prog_free(d->be, &d->prog);
    memset(&d->prog, 0, sizeof d->prog);
    return s;
  }
  return vt->buf_read(d->be, d->out, 0, acc, n * 4);
}
