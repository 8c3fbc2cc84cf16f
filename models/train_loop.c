/* train_loop.c - the trainer: batches, the objectives' noising, and one
 * optimisation step (forward, MSE, backward, clip, AdamW, EMA). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "data_moving_fmnist.h"
#include "train.h"

/* RNG stream of epoch e's shuffle (stream 0 is the weight init and the
 * trainer's own stream 1 draws noise, t and dropout). */
#define PERM_STREAM_BASE (UINT64_C(1) << 32)

lp_train_cfg lp_train_cfg_default(void) {
  lp_train_cfg c;
  memset(&c, 0, sizeof c);
  c.objective = LP_OBJ_FLOW_V;
  c.batch = 256;
  c.steps = 1000;
  c.lr = 1e-4;
  c.clip = 1.0;
  c.ema = 0.9999;
  c.label_dropout = 0.1;
  c.beta1 = 0.9;
  c.beta2 = 0.999;
  c.adam_eps = 1e-8;
  return c;
}

const char *lp_objective_name(lp_objective o) { return o == LP_OBJ_EPS ? "eps" : "flow_v"; }

leap_status lp_objective_from_name(const char *name, lp_objective *out) {
  if (!strcmp(name, "flow_v")) *out = LP_OBJ_FLOW_V;
  else if (!strcmp(name, "eps")) *out = LP_OBJ_EPS;
  else return lp_error(LEAP_ERR_INVALID_ARG, "objective '%s' is not flow_v or eps", name);
  return LEAP_OK;
}

static leap_status check_cfg(const lp_train_cfg *c) {
  if (c->batch < 1 || c->steps < 0 || !(c->lr >= 0) || c->warmup < 0 || !(c->weight_decay >= 0) ||
      !(c->clip >= 0) || !(c->ema >= 0 && c->ema <= 1) ||
      !(c->label_dropout >= 0 && c->label_dropout <= 1) || !(c->beta1 >= 0 && c->beta1 < 1) ||
      !(c->beta2 >= 0 && c->beta2 < 1) || !(c->adam_eps > 0))
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "train: bad setting (batch %d, steps %d, lr %g, warmup %d, weight decay %g, "
                    "clip %g, ema %g, label dropout %g)",
                    c->batch, c->steps, c->lr, c->warmup, c->weight_decay, c->clip, c->ema,
                    c->label_dropout);
  return LEAP_OK;
}

void lp_trainer_destroy(lp_trainer *t) {
  if (!t) return;
  lp_tws_free_f32(t->ws);
  float *bufs[] = {t->params, t->grads, t->adam_m, t->adam_v, t->ema, t->x0,
                   t->noise, t->xt, t->tin, t->target, t->out, t->dout};
  for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
  free(t->y);
  free(t->perm);
  lp_tlayout_free(&t->L);
  free(t);
}

/* Everything but the weights' values: used by create and resume. */
leap_status lp_trainer_alloc(const lp_train_cfg *cfg, lp_trainer **out) {
  *out = NULL;
  leap_status s = check_cfg(cfg);
  if (s != LEAP_OK) return s;
  lp_trainer *t = lp_calloc(1, sizeof *t);
  if (!t) return lp_error(LEAP_ERR_NOMEM, "train: out of memory");
  t->cfg = *cfg;
  t->perm_epoch = -1;
  if ((s = lp_tlayout_init_video(&t->L, &cfg->arch, cfg->clip_frames, cfg->frames_per_chunk)) != LEAP_OK) {
    free(t);
    return s;
  }
  if (t->L.video && cfg->objective != LP_OBJ_FLOW_V) {
    lp_tlayout_free(&t->L);
    free(t);
    return lp_error(LEAP_ERR_UNSUPPORTED, "train: the video DiT trains with flow_v only (per-chunk noise levels)");
  }
  /* a sample: an image, or a clip of L.frames frames with L.K timesteps */
  const size_t P = t->L.total, B = (size_t)cfg->batch;
  const size_t img = (size_t)t->L.frames * cfg->arch.in_channels * cfg->arch.input_size * cfg->arch.input_size;
  t->params = lp_calloc(P, sizeof(float));
  t->grads = lp_calloc(P, sizeof(float));
  t->adam_m = lp_calloc(P, sizeof(float));
  t->adam_v = lp_calloc(P, sizeof(float));
  t->ema = lp_calloc(P, sizeof(float));
  t->x0 = lp_malloc(B * img * sizeof(float));
  t->noise = lp_malloc(B * img * sizeof(float));
  t->xt = lp_malloc(B * img * sizeof(float));
  t->target = lp_malloc(B * img * sizeof(float));
  t->out = lp_malloc(B * img * sizeof(float));
  t->dout = lp_malloc(B * img * sizeof(float));
  t->tin = lp_malloc(B * t->L.K * sizeof(float));
  t->y = lp_calloc(B, sizeof(int32_t));
  if (!t->params || !t->grads || !t->adam_m || !t->adam_v || !t->ema || !t->x0 || !t->noise ||
      !t->xt || !t->target || !t->out || !t->dout || !t->tin || !t->y) {
    lp_trainer_destroy(t);
    return lp_error(LEAP_ERR_NOMEM, "train: out of memory for %zu parameters, batch %zu", P, B);
  }
  if ((s = lp_tws_create_f32(&t->L, cfg->batch, &t->ws)) != LEAP_OK) {
    lp_trainer_destroy(t);
    return s;
  }
  lp_rng_seed(&t->rng, cfg->seed, 1);
  *out = t;
  return LEAP_OK;
}

leap_status lp_trainer_create(const lp_train_cfg *cfg, lp_trainer **out) {
  leap_status s = lp_trainer_alloc(cfg, out);
  if (s != LEAP_OK) return s;
  lp_trainer *t = *out;
  lp_tdit_init(&t->L, cfg->seed, t->params);
  memcpy(t->ema, t->params, t->L.total * sizeof(float));
  return LEAP_OK;
}

leap_status lp_trainer_check_data(const lp_trainer *t, const lp_dataset *d) {
  const lp_dit_arch *a = &t->cfg.arch;
  if (!d || d->n < 1 || !d->images)
    return lp_error(LEAP_ERR_INVALID_ARG, "train: the data set is empty");
  if (t->L.video) {
    /* the garments of moving Fashion-MNIST clips */
    if (d->channels != 1 || d->height != 28 || d->width != 28 || a->in_channels != 1 ||
        a->input_size != LP_MFMNIST_CANVAS || t->L.frames > LP_MFMNIST_TRAIN_FRAMES)
      return lp_error(LEAP_ERR_INVALID_ARG,
                      "train: the video DiT trains on moving Fashion-MNIST (garments 1x28x28, clips of up to %d "
                      "frames of 1x%dx%d); got garments %dx%dx%d and a model of %d frames of %dx%dx%d",
                      LP_MFMNIST_TRAIN_FRAMES, LP_MFMNIST_CANVAS, LP_MFMNIST_CANVAS, d->channels, d->height,
                      d->width, t->L.frames, a->in_channels, a->input_size, a->input_size);
  } else if (d->channels != a->in_channels || d->height != a->input_size || d->width != a->input_size) {
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "train: data images are %dx%dx%d but the model takes %dx%dx%d (CxHxW)",
                    d->channels, d->height, d->width, a->in_channels, a->input_size, a->input_size);
  }
  if (a->num_classes > 0 && (!d->labels || d->num_classes != a->num_classes))
    return lp_error(LEAP_ERR_INVALID_ARG, "train: data has %d classes but the model %d",
                    d->num_classes, a->num_classes);
  for (int i = 0; a->num_classes > 0 && i < d->n; i++)
    if (d->labels[i] < 0 || d->labels[i] >= a->num_classes)
      return lp_error(LEAP_ERR_INVALID_ARG, "train: label %d of image %d outside 0..%d",
                      (int)d->labels[i], i, a->num_classes - 1);
  return LEAP_OK;
}

/* Index of the k-th image of the shuffled stream: epoch k / n is a
 * Fisher-Yates permutation from its own RNG stream, so the batch of any
 * step follows from the seed alone (nothing to save for a resume). */
static leap_status image_index(lp_trainer *t, int n, int64_t k, int *out) {
  const int64_t epoch = k / n;
  if (t->perm_epoch != epoch || t->perm_n != n) {
    if (t->perm_n != n) {
      free(t->perm);
      t->perm = lp_malloc((size_t)n * sizeof *t->perm);
      if (!t->perm) {
        t->perm_n = 0;
        return lp_error(LEAP_ERR_NOMEM, "train: out of memory shuffling %d images", n);
      }
      t->perm_n = n;
    }
    lp_rng r;
    lp_rng_seed(&r, t->cfg.seed, PERM_STREAM_BASE + (uint64_t)epoch);
    for (int i = 0; i < n; i++) t->perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
      const int j = (int)(lp_rng_uniform(&r) * (i + 1));
      const int32_t tmp = t->perm[i];
      t->perm[i] = t->perm[j];
      t->perm[j] = tmp;
    }
    t->perm_epoch = epoch;
  }
  *out = t->perm[k % n];
  return LEAP_OK;
}

/* alpha-bar of the VP linear-beta schedule at integer timestep ti. */
static double vp_alpha_bar(int ti) {
  double ab = 1.0;
  for (int i = 0; i <= ti; i++) ab *= 1.0 - (1e-4 + (0.02 - 1e-4) * i / 999.0);
  return ab;
}

/* Draws the batch: images, dropped labels, t, noise, x_t and the target. */
static leap_status make_batch(lp_trainer *t, const lp_dataset *d) {
  const lp_train_cfg *c = &t->cfg;
  const int B = c->batch, K = c->arch.num_classes;
  const size_t img = (size_t)d->channels * d->height * d->width;
  leap_status s;
  for (int b = 0; b < B; b++) {
    int idx = 0;
    if ((s = image_index(t, d->n, (int64_t)t->step * B + b, &idx))) return s;
    memcpy(t->x0 + b * img, d->images + (size_t)idx * img, img * sizeof(float));
    t->y[b] = K > 0 ? d->labels[idx] : 0;
    /* dropout is drawn even without classes, so the stream stays aligned */
    if (lp_rng_uniform(&t->rng) < c->label_dropout && K > 0) t->y[b] = K;
    double a, sg;
    if (c->objective == LP_OBJ_FLOW_V) {
      const double tt = 1.0 / (1.0 + exp(-lp_rng_normal(&t->rng)));
      a = 1.0 - tt;
      sg = tt;
      t->tin[b] = (float)(tt * 1000.0);
    } else {
      int ti = (int)(lp_rng_uniform(&t->rng) * 1000.0);
      ti = ti > 999 ? 999 : ti;
      const double ab = vp_alpha_bar(ti);
      a = sqrt(ab);
      sg = sqrt(1.0 - ab);
      t->tin[b] = (float)ti;
    }
    float *x0 = t->x0 + b * img, *e = t->noise + b * img, *xt = t->xt + b * img;
    float *tg = t->target + b * img;
    for (size_t k = 0; k < img; k++) {
      e[k] = (float)lp_rng_normal(&t->rng);
      xt[k] = (float)(a * x0[k] + sg * e[k]);
      tg[k] = c->objective == LP_OBJ_FLOW_V ? e[k] - x0[k] : e[k];
    }
  }
  return LEAP_OK;
}

/* Diffusion Forcing on moving Fashion-MNIST: clip step*B + b of the train
 * split (from the run's seed, so a batch depends only on the seed and the
 * step), its label dropped per clip, and an independent t per chunk from
 * the flow_v distribution, so the model learns to denoise a chunk at one
 * noise level while earlier chunks sit at others (clean included). */
static leap_status make_video_batch(lp_trainer *t, const lp_dataset *d) {
  const lp_train_cfg *c = &t->cfg;
  const int B = c->batch, K = c->arch.num_classes, nk = t->L.K, Fc = t->L.Fc;
  const size_t frame = (size_t)c->arch.in_channels * c->arch.input_size * c->arch.input_size;
  const size_t clip = frame * t->L.frames, chunk = frame * Fc;
  for (int b = 0; b < B; b++) {
    lp_mfmnist_clip cl;
    leap_status s = lp_mfmnist_clip_make(d, c->seed, LP_MFMNIST_TRAIN, (int64_t)t->step * B + b, 0, &cl);
    if (s != LEAP_OK) return s;
    memcpy(t->x0 + b * clip, cl.video, clip * sizeof(float)); /* the first clip_frames frames */
    t->y[b] = K > 0 ? cl.label : 0;
    lp_mfmnist_clip_free(&cl);
    if (lp_rng_uniform(&t->rng) < c->label_dropout && K > 0) t->y[b] = K;
    for (int k = 0; k < nk; k++) {
      const double tt = 1.0 / (1.0 + exp(-lp_rng_normal(&t->rng)));
      t->tin[b * nk + k] = (float)(tt * 1000.0);
      const size_t o = b * clip + k * chunk;
      float *x0 = t->x0 + o, *e = t->noise + o, *xt = t->xt + o, *tg = t->target + o;
      for (size_t i = 0; i < chunk; i++) {
        e[i] = (float)lp_rng_normal(&t->rng);
        xt[i] = (float)((1.0 - tt) * x0[i] + tt * e[i]);
        tg[i] = e[i] - x0[i];
      }
    }
  }
  return LEAP_OK;
}

leap_status lp_trainer_step(lp_trainer *t, const lp_dataset *d) {
  leap_status s = lp_trainer_check_data(t, d);
  if (s != LEAP_OK) return s;
  const lp_train_cfg *c = &t->cfg;
  const int B = c->batch;
  const size_t n = (size_t)B * t->L.frames * c->arch.in_channels * c->arch.input_size * c->arch.input_size;
  if ((s = t->L.video ? make_video_batch(t, d) : make_batch(t, d))) return s;
  if ((s = lp_tdit_forward_f32(t->ws, t->params, B, t->xt, t->tin, t->y, t->out))) return s;
  const double loss = lp_top_mse_f32(n, t->out, t->target, t->dout);
  if (!isfinite(loss))
    return lp_error(LEAP_ERR_NUMERIC, "train: the loss is not finite at step %d (lr %g too high?)",
                    t->step + 1, c->lr);
  memset(t->grads, 0, t->L.total * sizeof(float));
  if ((s = lp_tdit_backward_f32(t->ws, t->params, t->dout, t->grads))) return s;
  if ((s = lp_trainer_apply(t))) return s;
  t->loss = loss;
  return LEAP_OK;
}

leap_status lp_trainer_apply(lp_trainer *t) {
  const lp_train_cfg *c = &t->cfg;
  const double norm = lp_train_grad_norm(&t->L, t->grads);
  if (!isfinite(norm))
    return lp_error(LEAP_ERR_NUMERIC, "train: the gradient is not finite at step %d", t->step + 1);
  const float gscale = c->clip > 0 && norm > c->clip ? (float)(c->clip / norm) : 1.0f;
  const double lr = lp_train_lr(c, t->step);
  lp_train_adamw(&t->L, c, t->step + 1, lr, gscale, t->grads, t->params, t->adam_m, t->adam_v);
  lp_train_ema(t->L.total, lp_train_ema_decay(c->ema, t->step + 1), t->params, t->ema);
  t->step++;
  t->grad_norm = norm;
  t->lr_now = lr;
  return LEAP_OK;
}
