/* safetensors_convert.c - float tensors of any stored precision to float32
 * or float64. The mapped data has no alignment guarantee, so elements are
 * fetched with memcpy. */
#include <string.h>

#include "error.h"
#include "safetensors.h"

static leap_status check_args(const lp_st_file *f, const lp_st_tensor *t,
                              const void *dst, const char *fn) {
  if (!f || !t || (!dst && t->numel > 0))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: bad argument (tensor '%s')", fn,
                    t && t->name ? t->name : "(null)");
  if (!lp_dtype_is_float(t->dtype))
    return lp_error(LEAP_ERR_UNSUPPORTED,
                    "%s: tensor '%s' has dtype %s, not a float type (F32, F16, BF16, F64)",
                    lp_st_path(f), t->name, lp_dtype_name(t->dtype));
  if ((uint64_t)t->numel * lp_dtype_size(t->dtype) != t->bytes)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: tensor '%s' is inconsistent",
                    lp_st_path(f), t->name);
  return LEAP_OK;
}

/* One element of a float tensor as double (exact for every stored type). */
static double load(const unsigned char *p, leap_dtype dt, size_t i) {
  switch ((int)dt) {
  case LEAP_F32: {
    float v;
    memcpy(&v, p + 4 * i, 4);
    return v;
  }
  case LEAP_F64: {
    double v;
    memcpy(&v, p + 8 * i, 8);
    return v;
  }
  case LEAP_F16: {
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    return lp_f16_to_f32(h);
  }
  default: { /* LEAP_BF16; check_args admitted floats only */
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    return lp_bf16_to_f32(h);
  }
  }
}

leap_status lp_st_read_f32(const lp_st_file *f, const lp_st_tensor *t, float *dst) {
  leap_status st = check_args(f, t, dst, "lp_st_read_f32");
  if (st != LEAP_OK) return st;
  if (t->dtype == LEAP_F32) {
    if (t->bytes) memcpy(dst, t->data, t->bytes);
    return LEAP_OK;
  }
  for (size_t i = 0; i < (size_t)t->numel; i++)
    dst[i] = (float)load(t->data, t->dtype, i);
  return LEAP_OK;
}

leap_status lp_st_read_f64(const lp_st_file *f, const lp_st_tensor *t, double *dst) {
  leap_status st = check_args(f, t, dst, "lp_st_read_f64");
  if (st != LEAP_OK) return st;
  if (t->dtype == LEAP_F64) {
    if (t->bytes) memcpy(dst, t->data, t->bytes);
    return LEAP_OK;
  }
  for (size_t i = 0; i < (size_t)t->numel; i++) dst[i] = load(t->data, t->dtype, i);
  return LEAP_OK;
}
