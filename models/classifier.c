/* classifier.c - creating, loading, saving and running the classifier. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "alloc.h"
#include "classifier_internal.h"
#include "error.h"
#include "safetensors.h"
#include "sampler.h"

#define CLS_ARCH_NAME "leap-cnn"
enum { INFER_BATCH = 256 };

lp_classifier_arch lp_classifier_arch_fmnist(void) {
  return (lp_classifier_arch){.channels = 1, .height = 28, .width = 28,
                              .num_classes = 10, .conv1 = 16, .conv2 = 32,
                              .hidden = 128};
}

/* Tensor names and shapes, in the order of the parameter block. */
typedef struct cls_tensor {
  const char *name;
  int ndim;
  int64_t shape[2];
  int fan_in; /* 0 for a bias */
} cls_tensor;

static void layout(const lp_classifier_arch *a, cls_tensor *t) {
  const int F = (a->height / 4) * (a->width / 4) * a->conv2;
  t[0] = (cls_tensor){"conv1.weight", 2, {a->conv1, 9 * a->channels}, 9 * a->channels};
  t[1] = (cls_tensor){"conv1.bias", 1, {a->conv1, 0}, 0};
  t[2] = (cls_tensor){"conv2.weight", 2, {a->conv2, 9 * a->conv1}, 9 * a->conv1};
  t[3] = (cls_tensor){"conv2.bias", 1, {a->conv2, 0}, 0};
  t[4] = (cls_tensor){"fc1.weight", 2, {a->hidden, F}, F};
  t[5] = (cls_tensor){"fc1.bias", 1, {a->hidden, 0}, 0};
  t[6] = (cls_tensor){"fc2.weight", 2, {a->num_classes, a->hidden}, a->hidden};
  t[7] = (cls_tensor){"fc2.bias", 1, {a->num_classes, 0}, 0};
}

static size_t numel(const cls_tensor *t) {
  return t->ndim == 1 ? (size_t)t->shape[0] : (size_t)(t->shape[0] * t->shape[1]);
}

static leap_status check_arch(const lp_classifier_arch *a, const char *where) {
  if (a->channels < 1 || a->channels > 4 || a->height < 4 || a->width < 4 ||
      a->height % 4 || a->width % 4 || a->height > 1024 || a->width > 1024 ||
      a->num_classes < 2 || a->num_classes > 100000 || a->conv1 < 1 ||
      a->conv2 < 1 || a->hidden < 1 || a->conv1 > 4096 || a->conv2 > 4096 ||
      a->hidden > 65536)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: bad classifier architecture "
                    "(channels %d, %dx%d, classes %d, widths %d/%d/%d; sides "
                    "must be multiples of 4)", where, a->channels, a->height,
                    a->width, a->num_classes, a->conv1, a->conv2, a->hidden);
  return LEAP_OK;
}

static leap_status alloc_classifier(const lp_classifier_arch *a, lp_classifier **out) {
  cls_tensor t[8];
  layout(a, t);
  lp_classifier *c = lp_calloc(1, sizeof *c);
  if (!c) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  c->arch = *a;
  for (int i = 0; i < 8; i++) c->num_params += numel(&t[i]);
  c->params = lp_calloc(c->num_params, sizeof *c->params);
  if (!c->params) {
    free(c);
    return lp_error(LEAP_ERR_NOMEM, "out of memory");
  }
  float **views[8] = {&c->w1, &c->b1, &c->w2, &c->b2, &c->w3, &c->b3, &c->w4, &c->b4};
  size_t off = 0;
  for (int i = 0; i < 8; i++) {
    *views[i] = c->params + off;
    off += numel(&t[i]);
  }
  *out = c;
  return LEAP_OK;
}

leap_status lp_classifier_create(const lp_classifier_arch *arch, uint64_t seed,
                                 lp_classifier **out) {
  if (!arch || !out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_classifier_create: NULL argument");
  *out = NULL;
  leap_status s = check_arch(arch, "lp_classifier_create");
  if (s != LEAP_OK) return s;
  lp_classifier *c;
  if ((s = alloc_classifier(arch, &c)) != LEAP_OK) return s;
  cls_tensor t[8];
  layout(arch, t);
  lp_rng rng;
  lp_rng_seed(&rng, seed, 0);
  float *p = c->params;
  for (int i = 0; i < 8; i++) {
    const size_t n = numel(&t[i]);
    /* He initialisation for the ReLU layers; biases start at zero. */
    const double sd = t[i].fan_in ? sqrt(2.0 / t[i].fan_in) : 0.0;
    for (size_t k = 0; k < n; k++) p[k] = (float)(sd * lp_rng_normal(&rng));
    p += n;
  }
  *out = c;
  return LEAP_OK;
}

void lp_classifier_destroy(lp_classifier *c) {
  if (!c) return;
  free(c->params);
  free(c);
}

/* A positive integer from the metadata. */
static leap_status meta_int(const lp_st_file *f, const char *key, int *out) {
  const char *v = lp_st_meta(f, key);
  char *end;
  long x = v ? strtol(v, &end, 10) : 0;
  if (!v || end == v || *end || x <= 0 || x > 1000000)
    return lp_error(LEAP_ERR_FORMAT, "%s: metadata '%s' is %s (expected a "
                    "positive integer; is this a leap classifier?)",
                    lp_st_path(f), key, v ? v : "missing");
  *out = (int)x;
  return LEAP_OK;
}

leap_status lp_classifier_load(const char *path, lp_classifier **out) {
  if (!path || !out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_classifier_load: NULL argument");
  *out = NULL;
  lp_st_file *f;
  leap_status s = lp_st_open(path, &f);
  if (s != LEAP_OK) return s;
  const char *arch_name = lp_st_meta(f, "arch");
  lp_classifier_arch a = {0};
  if (!arch_name || strcmp(arch_name, CLS_ARCH_NAME) != 0)
    s = lp_error(LEAP_ERR_FORMAT, "%s: metadata arch is '%s', expected '"
                 CLS_ARCH_NAME "' (not a leap classifier)", path,
                 arch_name ? arch_name : "(none)");
  if (s == LEAP_OK) s = meta_int(f, "channels", &a.channels);
  if (s == LEAP_OK) s = meta_int(f, "height", &a.height);
  if (s == LEAP_OK) s = meta_int(f, "width", &a.width);
  if (s == LEAP_OK) s = meta_int(f, "num_classes", &a.num_classes);
  if (s == LEAP_OK) s = meta_int(f, "conv1", &a.conv1);
  if (s == LEAP_OK) s = meta_int(f, "conv2", &a.conv2);
  if (s == LEAP_OK) s = meta_int(f, "hidden", &a.hidden);
  if (s == LEAP_OK) s = check_arch(&a, path);
  /* Every tensor the description implies is in the file with its shape
   * before the parameters are sized from the description. */
  cls_tensor t[8];
  const lp_st_tensor *st[8];
  if (s == LEAP_OK) layout(&a, t);
  for (int i = 0; s == LEAP_OK && i < 8; i++) s = lp_st_get(f, t[i].name, t[i].ndim, t[i].shape, &st[i]);
  lp_classifier *c = NULL;
  if (s == LEAP_OK) s = alloc_classifier(&a, &c);
  if (s == LEAP_OK) {
    float *p = c->params;
    for (int i = 0; s == LEAP_OK && i < 8; i++) {
      s = lp_st_read_f32(f, st[i], p);
      p += numel(&t[i]);
    }
    for (size_t k = 0; s == LEAP_OK && k < c->num_params; k++)
      if (!isfinite(c->params[k]))
        s = lp_error(LEAP_ERR_NUMERIC, "%s: non-finite weight", path);
  }
  lp_st_close(f);
  if (s != LEAP_OK) {
    lp_classifier_destroy(c);
    return s;
  }
  *out = c;
  return LEAP_OK;
}

leap_status lp_classifier_save(const lp_classifier *c, const char *path,
                               const char *const *meta, int meta_count) {
  if (!c || !path) return lp_error(LEAP_ERR_INVALID_ARG, "lp_classifier_save: NULL argument");
  lp_st_writer *w;
  leap_status s = lp_st_writer_create(path, &w);
  if (s != LEAP_OK) return s;
  const lp_classifier_arch *a = &c->arch;
  s = lp_st_writer_output(w, LP_OUT_CLASSIFIER, NULL, 0); /* core/output.h's rule, weights finite */
  const struct { const char *k; int v; } sizes[] = {
      {"channels", a->channels}, {"height", a->height}, {"width", a->width},
      {"num_classes", a->num_classes}, {"conv1", a->conv1},
      {"conv2", a->conv2}, {"hidden", a->hidden}};
  if (s == LEAP_OK) s = lp_st_writer_meta(w, "arch", CLS_ARCH_NAME);
  if (s == LEAP_OK) s = lp_st_writer_meta(w, "input", "pixels in [-1,1], NCHW");
  if (s == LEAP_OK) s = lp_st_writer_meta(w, "features", "fc1 ReLU output (penultimate)");
  for (size_t i = 0; s == LEAP_OK && i < sizeof sizes / sizeof *sizes; i++) {
    char v[32];
    snprintf(v, sizeof v, "%d", sizes[i].v);
    s = lp_st_writer_meta(w, sizes[i].k, v);
  }
  for (int i = 0; s == LEAP_OK && i < meta_count; i++)
    s = lp_st_writer_meta(w, meta[2 * i], meta[2 * i + 1]);
  cls_tensor t[8];
  layout(a, t);
  const float *p = c->params;
  for (int i = 0; s == LEAP_OK && i < 8; i++) {
    s = lp_st_writer_add(w, t[i].name, LEAP_F32, t[i].ndim, t[i].shape, p);
    p += numel(&t[i]);
  }
  if (s != LEAP_OK) {
    lp_st_writer_abort(w);
    return s;
  }
  return lp_st_writer_finish(w);
}

leap_status lp_classifier_infer(const lp_classifier *c, const float *images,
                                int n, float *features, float *logits) {
  if (!c || !images || n < 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_classifier_infer: bad argument");
  if (n == 0) return LEAP_OK;
  const int B = n < INFER_BATCH ? n : INFER_BATCH;
  lp_cls_ws *w;
  leap_status s = lp_cls_ws_create(&c->arch, B, 0, &w);
  if (s != LEAP_OK) return s;
  const lp_classifier_arch *a = &c->arch;
  const size_t per = (size_t)a->channels * a->height * a->width;
  for (int i = 0; i < n; i += B) {
    const int b = n - i < B ? n - i : B;
    lp_cls_forward(c, w, images + (size_t)i * per, b);
    if (features)
      memcpy(features + (size_t)i * a->hidden, lp_cls_ws_features(w),
             (size_t)b * a->hidden * sizeof *features);
    if (logits)
      memcpy(logits + (size_t)i * a->num_classes, lp_cls_ws_logits(w),
             (size_t)b * a->num_classes * sizeof *logits);
  }
  lp_cls_ws_free(w);
  return LEAP_OK;
}

leap_status lp_classifier_accuracy(const lp_classifier *c, const float *images,
                                   const int32_t *labels, int n, double *acc) {
  if (!c || !images || !labels || n <= 0 || !acc)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_classifier_accuracy: bad argument");
  const int K = c->arch.num_classes;
  float *logits = lp_malloc((size_t)n * K * sizeof *logits);
  if (!logits) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  leap_status s = lp_classifier_infer(c, images, n, NULL, logits);
  int right = 0;
  for (int i = 0; s == LEAP_OK && i < n; i++) {
    const float *z = logits + (size_t)i * K;
    int best = 0;
    for (int k = 1; k < K; k++) best = z[k] > z[best] ? k : best;
    right += best == labels[i];
  }
  free(logits);
  if (s == LEAP_OK) *acc = (double)right / n;
  return s;
}
