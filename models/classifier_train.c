/* classifier_train.c - minibatch Adam on softmax cross-entropy, with a
 * cosine learning-rate decay, shuffling and light augmentation (flips and
 * small shifts) from a seeded RNG, so that a run is reproducible on a
 * given thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "alloc.h"
#include "classifier_internal.h"
#include "error.h"
#include "sampler.h"

lp_classifier_train_desc lp_classifier_train_desc_default(void) {
  return (lp_classifier_train_desc){.epochs = 10, .batch = 128, .lr = 2e-3,
                                    .seed = 0, .augment = 1};
}

/* Copies image src [C,H,W] into dst, mirrored and shifted by (dy, dx) with
 * the background value -1 (black) filling the uncovered border. */
static void augment_copy(const float *src, int C, int H, int W, int flip,
                         int dy, int dx, float *dst) {
  for (int c = 0; c < C; c++)
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        const int sy = y - dy, sx0 = x - dx;
        const int sx = flip ? W - 1 - sx0 : sx0;
        float v = -1.0f;
        if (sy >= 0 && sy < H && sx0 >= 0 && sx0 < W)
          v = src[((size_t)c * H + sy) * W + sx];
        dst[((size_t)c * H + y) * W + x] = v;
      }
}

static void shuffle(int *order, int n, lp_rng *rng) {
  for (int i = n - 1; i > 0; i--) {
    const int j = (int)(lp_rng_uniform(rng) * (i + 1));
    const int t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

leap_status lp_classifier_train(lp_classifier *c, const lp_dataset *d,
                                const lp_classifier_train_desc *desc) {
  if (!c || !d || !desc)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_classifier_train: NULL argument");
  const lp_classifier_arch *a = &c->arch;
  if (d->channels != a->channels || d->height != a->height ||
      d->width != a->width || d->num_classes > a->num_classes)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_classifier_train: data set "
                    "[%d,%d,%d] with %d classes does not fit a classifier of "
                    "[%d,%d,%d] with %d classes", d->channels, d->height,
                    d->width, d->num_classes, a->channels, a->height, a->width,
                    a->num_classes);
  if (desc->epochs < 1 || desc->batch < 1 || !(desc->lr > 0) || d->n < 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_classifier_train: epochs %d, "
                    "batch %d, lr %g, %d images", desc->epochs, desc->batch,
                    desc->lr, d->n);
  const int B = desc->batch < d->n ? desc->batch : d->n;
  const size_t per = (size_t)a->channels * a->height * a->width;
  const size_t P = c->num_params;
  lp_cls_ws *w = NULL;
  leap_status s = lp_cls_ws_create(a, B, 1, &w);
  if (s != LEAP_OK) return s;
  float *x = lp_malloc((size_t)B * per * sizeof *x);
  int32_t *y = lp_malloc((size_t)B * sizeof *y);
  float *g = lp_malloc(P * sizeof *g), *m = lp_calloc(P, sizeof *m), *v = lp_calloc(P, sizeof *v);
  int *order = lp_malloc((size_t)d->n * sizeof *order);
  if (!x || !y || !g || !m || !v || !order) s = lp_error(LEAP_ERR_NOMEM, "out of memory");
  for (int i = 0; s == LEAP_OK && i < d->n; i++) order[i] = i;

  lp_rng rng;
  lp_rng_seed(&rng, desc->seed, 1);
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const int per_epoch = d->n / B; /* the ragged tail is dropped each epoch */
  const long total = (long)per_epoch * desc->epochs;
  long step = 0;
  for (int e = 0; s == LEAP_OK && e < desc->epochs; e++) {
    shuffle(order, d->n, &rng);
    double loss_sum = 0;
    for (int it = 0; it < per_epoch; it++) {
      for (int b = 0; b < B; b++) {
        const int k = order[it * B + b];
        const float *src = d->images + (size_t)k * per;
        if (desc->augment) {
          const int flip = lp_rng_uniform(&rng) < 0.5;
          const int dy = (int)(lp_rng_uniform(&rng) * 5) - 2;
          const int dx = (int)(lp_rng_uniform(&rng) * 5) - 2;
          augment_copy(src, a->channels, a->height, a->width, flip, dy, dx,
                       x + (size_t)b * per);
        } else {
          memcpy(x + (size_t)b * per, src, per * sizeof *x);
        }
        y[b] = d->labels[k];
      }
      lp_cls_forward(c, w, x, B);
      const double loss = lp_cls_backward(c, w, y, B, g);
      if (!isfinite(loss)) {
        s = lp_error(LEAP_ERR_NUMERIC, "classifier training diverged at "
                     "epoch %d step %d (loss %g); try a lower --lr", e + 1,
                     it + 1, loss);
        break;
      }
      loss_sum += loss;
      step++;
      const double lr = desc->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * (step - 1) / total));
      const double c1 = 1.0 - pow(b1, (double)step), c2 = 1.0 - pow(b2, (double)step);
      const float alpha = (float)(lr * sqrt(c2) / c1);
      const float fb1 = (float)b1, fb2 = (float)b2, feps = (float)(eps * sqrt(c2));
      float *p = c->params;
#pragma omp parallel for schedule(static) if (P > 32768)
      for (size_t i = 0; i < P; i++) {
        m[i] = fb1 * m[i] + (1.0f - fb1) * g[i];
        v[i] = fb2 * v[i] + (1.0f - fb2) * g[i] * g[i];
        p[i] -= alpha * m[i] / (sqrtf(v[i]) + feps);
      }
    }
    if (s == LEAP_OK && desc->on_epoch &&
        desc->on_epoch(desc->user, e + 1, desc->epochs, loss_sum / per_epoch))
      s = lp_error(LEAP_ERR_INTERRUPTED, "classifier training interrupted");
  }
  lp_cls_ws_free(w);
  free(x);
  free(y);
  free(g);
  free(m);
  free(v);
  free(order);
  return s;
}
