/* model_weights.c - an architecture's weight list against a file and a
 * backend: every listed tensor, of the listed shape, converted to float32,
 * checked finite and uploaded; and freed again. */
#include <math.h>
#include <stdlib.h>

#include "model_internal.h"
#include "alloc.h"
#include "error.h"

static leap_status load_one(lp_backend *be, const lp_st_file *f, const lp_weight *w, lp_buf **out) {
  const lp_st_tensor *t;
  leap_status s = lp_st_get(f, w->name, w->ndim, w->shape, &t);
  if (s != LEAP_OK) return s;
  float *tmp = lp_malloc((size_t)t->numel * sizeof(float));
  if (!tmp) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory reading '%s'", lp_st_path(f), w->name);
  s = lp_st_read_f32(f, t, tmp);
  for (int64_t i = 0; s == LEAP_OK && i < t->numel; i++)
    if (!isfinite(tmp[i]))
      s = lp_error(LEAP_ERR_NUMERIC, "%s: tensor '%s' holds a non-finite value at element %lld",
                   lp_st_path(f), w->name, (long long)i);
  if (s == LEAP_OK) s = be->vt->buf_alloc(be, (size_t)t->numel * sizeof(float), out);
  if (s == LEAP_OK) s = be->vt->buf_write(be, *out, 0, tmp, (size_t)t->numel * sizeof(float));
  free(tmp);
  return s;
}

leap_status lp_model_weights_load(lp_backend *be, const lp_st_file *f, const lp_weight_list *L, lp_buf ***out) {
  lp_buf **bufs = lp_calloc(L->count > 0 ? (size_t)L->count : 1, sizeof *bufs);
  if (!bufs) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", lp_st_path(f));
  *out = bufs; /* freed by lp_model_weights_release, also after a failure */
  leap_status s = LEAP_OK;
  for (int i = 0; s == LEAP_OK && i < L->count; i++) s = load_one(be, f, &L->w[i], &bufs[i]);
  return s;
}

void lp_model_weights_release(lp_backend *be, const lp_weight_list *L, lp_buf **bufs) {
  for (int i = 0; bufs && i < L->count; i++)
    if (bufs[i]) be->vt->buf_free(be, bufs[i]);
  free(bufs);
}
