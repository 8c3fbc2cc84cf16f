/* lcsc_fitness.c - see lcsc_fitness.h. */
#define _POSIX_C_SOURCE 200809L
#include "lcsc_fitness.h"
#include "alloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classifier.h"
#include "dataset.h"
#include "error.h"
#include "fd_metric.h"
#include "lcsc.h"
#include "output.h"
#include "sampler.h"

struct lp_lcsc_fd {
  lp_lcsc_fd_setup s;
  lp_classifier *cls;
  int d;
  double *ref_mu, *ref_cov, *mu, *cov;
  int32_t *labels;
  float *noise, *images;
  size_t per; /* floats per image */
  uint64_t forwards;
  double seconds;
};

void lp_lcsc_fd_destroy(lp_lcsc_fd *f) {
  if (!f) return;
  lp_classifier_destroy(f->cls);
  free(f->ref_mu);
  free(f->ref_cov);
  free(f->mu);
  free(f->cov);
  free(f->labels);
  free(f->noise);
  free(f->images);
  free(f);
}

leap_status lp_lcsc_fd_create(const lp_lcsc_fd_setup *setup, lp_lcsc_fd **out) {
  if (!setup || !out || setup->count < 1 || !setup->paths || !setup->work_path || !setup->classifier ||
      !setup->reference || setup->n < 2 || setup->steps < 1 || !setup->ctx)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_fd_create: bad setup (n >= 2, steps >= 1, paths and ctx set)");
  *out = NULL;
  lp_lcsc_fd *f = lp_calloc(1, sizeof *f);
  if (!f) return lp_error(LEAP_ERR_NOMEM, "lcsc fitness: out of memory");
  f->s = *setup;
  if (f->s.batch < 1) f->s.batch = 250;
  lp_dataset ref = {0};
  leap_status s = lp_classifier_load(setup->classifier, &f->cls);
  if (s == LEAP_OK) s = lp_dataset_load(setup->reference, &ref);
  if (s == LEAP_OK) {
    const lp_classifier_arch *a = &f->cls->arch;
    f->d = a->hidden;
    f->per = (size_t)a->channels * a->height * a->width;
    if (ref.channels != a->channels || ref.height != a->height || ref.width != a->width)
      s = lp_error(LEAP_ERR_INVALID_ARG, "reference %s is [%d,%d,%d], the classifier %s takes [%d,%d,%d]",
                   setup->reference, ref.channels, ref.height, ref.width, setup->classifier, a->channels,
                   a->height, a->width);
  }
  if (s == LEAP_OK) {
    const size_t d = (size_t)f->d;
    f->ref_mu = lp_malloc(d * sizeof(double));
    f->mu = lp_malloc(d * sizeof(double));
    f->ref_cov = lp_malloc(d * d * sizeof(double));
    f->cov = lp_malloc(d * d * sizeof(double));
    f->labels = lp_malloc((size_t)setup->n * sizeof *f->labels);
    f->noise = lp_malloc((size_t)setup->n * f->per * sizeof(float));
    f->images = lp_malloc((size_t)setup->n * f->per * sizeof(float));
    if (!f->ref_mu || !f->mu || !f->ref_cov || !f->cov || !f->labels || !f->noise || !f->images)
      s = lp_error(LEAP_ERR_NOMEM, "lcsc fitness: out of memory");
  }
  if (s == LEAP_OK && setup->reference_n > 1 && setup->reference_n < ref.n) ref.n = setup->reference_n;
  if (s == LEAP_OK) s = lp_fd_stats(f->cls, ref.images, ref.n, f->ref_mu, f->ref_cov);
  if (s == LEAP_OK) {
    for (int i = 0; i < setup->n; i++) f->labels[i] = i % f->cls->arch.num_classes;
    lp_noise_fill(setup->seed, setup->n, f->per, f->noise);
  }
  lp_dataset_free(&ref);
  if (s != LEAP_OK) {
    lp_lcsc_fd_destroy(f);
    return s;
  }
  *out = f;
  return LEAP_OK;
}

void lp_lcsc_fd_cost(const lp_lcsc_fd *f, uint64_t *forwards, double *seconds) {
  if (forwards) *forwards = f ? f->forwards : 0;
  if (seconds) *seconds = f ? f->seconds : 0;
}

/* Ctrl-C / SIGTERM (core/output.h) stop the sampling at the next step. */
static int stop_poll(void *user, int step, int steps) {
  (void)user, (void)step, (void)steps;
  return lp_out_stop_requested();
}

leap_status lp_lcsc_fd_model(lp_lcsc_fd *f, const char *model_path, int steps, double *fd) {
  if (!f || !model_path || !fd || steps < 1) return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_fd_model: bad argument");
  leap_model *m = NULL;
  leap_model_info info = {.struct_size = sizeof info};
  const double t0 = lp_now_seconds();
  leap_status s = leap_model_load(f->s.ctx, model_path, &m);
  if (s == LEAP_OK) s = leap_model_get_info(m, &info);
  if (s == LEAP_OK && (size_t)info.in_channels * info.input_size * info.input_size != f->per)
    s = lp_error(LEAP_ERR_INVALID_ARG, "%s: images are [%d,%d,%d], the classifier takes %zu values", model_path,
                 info.in_channels, info.input_size, info.input_size, f->per);
  if (s == LEAP_OK && info.num_classes < f->cls->arch.num_classes)
    s = lp_error(LEAP_ERR_INVALID_ARG, "%s: %d classes, the classifier has %d", model_path, info.num_classes,
                 f->cls->arch.num_classes);
  for (int i = 0; s == LEAP_OK && i < f->s.n; i += f->s.batch) {
    leap_sample_desc d = leap_sample_desc_default();
    d.n = f->s.n - i < f->s.batch ? f->s.n - i : f->s.batch;
    d.labels = f->labels + i;
    d.steps = steps;
    d.solver = f->s.solver;
    d.cfg = f->s.cfg;
    d.eta = f->s.solver == LEAP_SOLVER_EULER_ANCESTRAL ? 1.0 : 0.0;
    d.seed = f->s.seed + (uint64_t)(i / f->s.batch);
    d.noise = f->noise + (size_t)i * f->per;
    d.progress = stop_poll;
    s = leap_sample(m, &d, f->images + (size_t)i * f->per);
  }
  leap_model_destroy(m);
  const int passes = f->s.cfg == 1.0 ? 1 : 2;
  const int per_step = f->s.solver == LEAP_SOLVER_HEUN ? 2 : 1;
  if (s == LEAP_OK) f->forwards += (uint64_t)f->s.n * (uint64_t)steps * (uint64_t)(passes * per_step);
  for (size_t k = 0; s == LEAP_OK && k < (size_t)f->s.n * f->per; k++)
    if (!isfinite(f->images[k])) {
      *fd = INFINITY; /* a diverging model is simply the worst */
      f->seconds += lp_now_seconds() - t0;
      return LEAP_OK;
    }
  if (s == LEAP_OK) s = lp_fd_stats(f->cls, f->images, f->s.n, f->mu, f->cov);
  if (s == LEAP_OK) s = lp_fd(f->mu, f->cov, f->ref_mu, f->ref_cov, f->d, fd);
  f->seconds += lp_now_seconds() - t0;
  return s;
}

leap_status lp_lcsc_fd_fitness(void *user, int count, const double *coefs, double *fd) {
  lp_lcsc_fd *f = user;
  if (!f || count != f->s.count) return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_fd_fitness: %d coefficients", count);
  leap_lcsc_combine_desc c = leap_lcsc_combine_desc_default();
  c.count = count;
  c.paths = f->s.paths;
  c.coefs = coefs;
  c.out_path = f->s.work_path;
  c.out_dtype = LEAP_F32;
  leap_status s = leap_lcsc_combine(&c, NULL);
  if (s == LEAP_ERR_NUMERIC) { /* weights overflowed: the worst fitness, not an error */
    *fd = INFINITY;
    return LEAP_OK;
  }
  if (s == LEAP_OK) s = lp_lcsc_fd_model(f, f->s.work_path, f->s.steps, fd);
  unlink(f->s.work_path);
  return s;
}
