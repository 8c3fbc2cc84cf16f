/* sample_io.c - noise in, samples out, through the internal safetensors
 * reader and writer; see sample_io.h. */
#include "sample_io.h"

#include "safetensors.h"

leap_status cli_read_noise(const char *path, int n, int c, int h, int w,
                           float *out) {
  lp_st_file *f;
  leap_status s = lp_st_open(path, &f);
  if (s != LEAP_OK) return s;
  const int64_t shape[4] = {n, c, h, w};
  const lp_st_tensor *t;
  s = lp_st_get(f, "noise", 4, shape, &t);
  if (s == LEAP_OK) s = lp_st_read_f32(f, t, out);
  lp_st_close(f);
  return s;
}

/* One F32 tensor with the metadata pairs, as a samples output. */
static leap_status write_tensor(const char *path, const char *name, int ndim, const int64_t *shape,
                                const float *x, const char *const *meta, int pairs,
                                const char *const *inputs, int ninputs, lp_out **out) {
  lp_st_writer *wr;
  leap_status s = lp_st_writer_create(path, &wr);
  if (s != LEAP_OK) return s;
  s = lp_st_writer_output(wr, LP_OUT_SAMPLES, inputs, ninputs);
  for (int i = 0; s == LEAP_OK && i < pairs; i++)
    s = lp_st_writer_meta(wr, meta[2 * i], meta[2 * i + 1]);
  if (s == LEAP_OK) s = lp_st_writer_add(wr, name, LEAP_F32, ndim, shape, x);
  if (s != LEAP_OK) {
    lp_st_writer_abort(wr);
    return s;
  }
  return lp_st_writer_finish_unit(wr, out);
}

leap_status cli_write_samples(const char *path, const float *x, int n, int c,
                              int h, int w, const char *const *meta, int pairs,
                              const char *const *inputs, int ninputs, lp_out **out) {
  const int64_t shape[4] = {n, c, h, w};
  return write_tensor(path, "samples", 4, shape, x, meta, pairs, inputs, ninputs, out);
}

leap_status cli_write_video(const char *path, const float *x, int n, int f, int c, int h, int w,
                            const char *const *meta, int pairs, const char *const *inputs, int ninputs,
                            lp_out **out) {
  const int64_t shape[5] = {n, f, c, h, w};
  return write_tensor(path, "video", 5, shape, x, meta, pairs, inputs, ninputs, out);
}
