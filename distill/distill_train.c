/* distill_train.c - see distill_train.h.
 *
 * Per iteration (flow matching, x_t = (1 - t) x0 + t eps, v = eps - x0):
 *   student  x = z - v_s(z, t = 1)                      (one step from noise)
 *   fake     fake_updates denoising steps on (x, y), x held fixed
 *   match    t ~ U[t_min, t_max], x_t = (1 - t) x + t eps
 *            x0_fake   = x_t - t v_fake(x_t)
 *            x0_target = x_t - t v_cfg(x_t)             (guided target)
 *            grad      = (x0_fake - x0_target) / mean|x - x0_target|
 *   student  loss 0.5 mean((x - stopgrad(x - grad))^2): dL/dx = grad / N,
 *            dL/dv_s = -dL/dx, one AdamW step.
 * The fake score reuses the iteration's samples for all its updates (DMD2
 * draws new ones; a student forward per fake update would cost as much as
 * the update and the student barely moves within one iteration). */
#define _POSIX_C_SOURCE 200809L
#include "distill_train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "dataset.h"
#include "disback_schedule.h"
#include "distill_internal.h"
#include "dmd_op.h"
#include "error.h"
#include "file_write.h"
#include "output.h"
#include "sampler.h"


lp_distill_cfg lp_distill_cfg_default(void) {
  lp_distill_cfg c;
  memset(&c, 0, sizeof c);
  c.method = LP_DISTILL_DISBACK;
  c.batch = 32;
  c.iters = 1000;
  c.lr_student = 2e-5;
  c.lr_fake = 2e-5;
  c.fake_updates = 5;
  c.guidance = 3.0;
  c.t_min = 0.02;
  c.t_max = 0.98;
  c.path_checkpoints = 4;
  c.path_iters = 200;
  c.schedule = leap_disback_schedule_desc_default();
  c.schedule.interval = 100;
  c.seed = 0;
  return c;
}

const char *lp_distill_method_name(lp_distill_method m) {
  return m == LP_DISTILL_DMD ? "dmd" : "disback";
}

void lp_distill_destroy(lp_distill *d) {
  if (!d) return;
  lp_trainer_destroy(d->student);
  lp_trainer_destroy(d->fake);
  free(d->teacher);
  for (int k = 0; d->path && k < d->n_path; k++) free(d->path[k]);
  free(d->path);
  lp_tws_free_f32(d->tws_target);
  leap_disback_schedule_destroy(d->sched);
  float *bufs[] = {d->z, d->x, d->xt, d->tin, d->tt, d->vf, d->x0f, d->x0t, d->grad,
                   d->xin2, d->tin2, d->vout2};
  for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
  free(d->y);
  free(d->y2);
  free(d);
}

static leap_status check_cfg(const lp_distill_cfg *c) {
  if (c->method != LP_DISTILL_DMD && c->method != LP_DISTILL_DISBACK)
    return lp_error(LEAP_ERR_INVALID_ARG, "distill: unknown method %d", (int)c->method);
  if (c->batch < 2 || c->batch > 4096 || c->iters < 0 || c->fake_updates < 1 ||
      c->fake_updates > 100 || !(c->lr_student >= 0) || !(c->lr_fake >= 0) ||
      !isfinite(c->guidance) || c->guidance < 0 || !(c->t_min > 0) || !(c->t_max <= 1) ||
      !(c->t_min < c->t_max))
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "distill: bad setting (batch %d, iterations %d, fake updates %d, lr %g / %g, "
                    "guidance %g, t in [%g, %g])",
                    c->batch, c->iters, c->fake_updates, c->lr_student, c->lr_fake, c->guidance,
                    c->t_min, c->t_max);
  if (c->method == LP_DISTILL_DISBACK &&
      (c->path_checkpoints < 1 || c->path_checkpoints > 64 || c->path_iters < c->path_checkpoints))
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "distill: DisBack needs 1..64 path checkpoints and at least one fine-tuning "
                    "step each (%d checkpoints, %d steps)",
                    c->path_checkpoints, c->path_iters);
  return LEAP_OK;
}

static leap_status make_trainer(const lp_dit_arch *a, const lp_distill_cfg *c, double lr,
                                uint64_t stream, const char *teacher, lp_trainer **out) {
  lp_train_cfg tc = lp_train_cfg_default();
  tc.arch = *a;
  tc.objective = LP_OBJ_FLOW_V;
  tc.batch = c->batch;
  tc.steps = c->iters;
  tc.lr = lr;
  tc.ema = 0;              /* EMA = the weights */
  tc.label_dropout = 0;    /* every model here is used conditionally but the target */
  tc.seed = c->seed * 7919 + stream;
  snprintf(tc.data, sizeof tc.data, "distill:%s", teacher);
  leap_status s = lp_trainer_create(&tc, out);
  if (s == LEAP_OK && (s = lp_trainer_load_weights(*out, teacher)) != LEAP_OK) {
    lp_trainer_destroy(*out);
    *out = NULL;
  }
  return s;
}

leap_status lp_distill_create(const char *teacher_path, const lp_distill_cfg *cfg, lp_distill **out) {
  if (!out || !cfg || !teacher_path) return lp_error(LEAP_ERR_INVALID_ARG, "distill: NULL argument");
  *out = NULL;
  leap_status s = check_cfg(cfg);
  if (s != LEAP_OK) return s;
  lp_dit_arch a;
  lp_objective obj;
  if ((s = lp_train_arch_from_file(teacher_path, &a, &obj))) return s;
  if (obj != LP_OBJ_FLOW_V)
    return lp_error(LEAP_ERR_UNSUPPORTED, "%s: distillation needs a flow_v teacher", teacher_path);
  lp_distill *d = lp_calloc(1, sizeof *d);
  if (!d) return lp_error(LEAP_ERR_NOMEM, "distill: out of memory");
  d->cfg = *cfg;
  snprintf(d->teacher_path, sizeof d->teacher_path, "%s", teacher_path);
  d->B = cfg->batch;
  d->K = a.num_classes;
  d->C = a.in_channels;
  d->H = a.input_size;
  d->img = (size_t)a.in_channels * a.input_size * a.input_size;
  lp_rng_seed(&d->rng, cfg->seed, 11);
  if ((s = make_trainer(&a, cfg, cfg->lr_student, 1, teacher_path, &d->student)) ||
      (s = make_trainer(&a, cfg, cfg->lr_fake, 2, teacher_path, &d->fake)) ||
      (s = lp_tws_create_f32(&d->student->L, 2 * d->B, &d->tws_target))) {
    lp_distill_destroy(d);
    return s;
  }
  d->P = d->student->L.total;
  const size_t B = (size_t)d->B, n = B * d->img;
  d->teacher = lp_malloc(d->P * sizeof(float));
  d->z = lp_malloc(n * sizeof(float));
  d->x = lp_malloc(n * sizeof(float));
  d->xt = lp_malloc(n * sizeof(float));
  d->vf = lp_malloc(n * sizeof(float));
  d->x0f = lp_malloc(n * sizeof(float));
  d->x0t = lp_malloc(n * sizeof(float));
  d->grad = lp_malloc(n * sizeof(float));
  d->tin = lp_malloc(B * sizeof(float));
  d->tt = lp_malloc(B * sizeof(float));
  d->xin2 = lp_malloc(2 * n * sizeof(float));
  d->vout2 = lp_malloc(2 * n * sizeof(float));
  d->tin2 = lp_malloc(2 * B * sizeof(float));
  d->y = lp_malloc(B * sizeof(int32_t));
  d->y2 = lp_malloc(2 * B * sizeof(int32_t));
  if (!d->teacher || !d->z || !d->x || !d->xt || !d->vf || !d->x0f || !d->x0t || !d->grad ||
      !d->tin || !d->tt || !d->xin2 || !d->vout2 || !d->tin2 || !d->y || !d->y2) {
    lp_distill_destroy(d);
    return lp_error(LEAP_ERR_NOMEM, "distill: out of memory (batch %d)", d->B);
  }
  memcpy(d->teacher, d->student->params, d->P * sizeof(float));
  leap_disback_schedule_desc sd = cfg->schedule;
  sd.struct_size = sizeof sd;
  sd.n_checkpoints = cfg->method == LP_DISTILL_DISBACK ? cfg->path_checkpoints : 0;
  if ((s = leap_disback_schedule_create(&sd, &d->sched))) {
    lp_distill_destroy(d);
    return s;
  }
  *out = d;
  return LEAP_OK;
}

/* Fresh noise z and labels y for B samples, and the student's one step
 * x = z - v(z, t = 1) (activations kept for the student's backward). */
static leap_status student_samples(lp_distill *d) {
  const size_t n = (size_t)d->B * d->img;
  for (size_t k = 0; k < n; k++) d->z[k] = (float)lp_rng_normal(&d->rng);
  for (int b = 0; b < d->B; b++) {
    d->y[b] = d->K > 0 ? (int32_t)(lp_rng_uniform(&d->rng) * d->K) : 0;
    if (d->y[b] >= d->K && d->K > 0) d->y[b] = d->K - 1;
    d->tin[b] = 1000.0f;
  }
  leap_status s = lp_tdit_forward_f32(d->student->ws, d->student->params, d->B, d->z, d->tin, d->y,
                                      d->x);
  if (s != LEAP_OK) return s;
  for (size_t k = 0; k < n; k++) d->x[k] = d->z[k] - d->x[k];
  return LEAP_OK;
}

static lp_dataset samples_view(lp_distill *d) {
  lp_dataset v;
  memset(&v, 0, sizeof v);
  v.n = d->B;
  v.channels = d->C;
  v.height = v.width = d->H;
  v.num_classes = d->K;
  v.images = d->x;
  v.labels = d->y;
  return v;
}

int lp_distill_path_file(const char *dir, int k, char *buf, size_t len) {
  const int n = snprintf(buf, len, "%s/path_%02d.safetensors", dir, k);
  return n >= 0 && (size_t)n < len;
}

static leap_status save_path(lp_distill *d, const lp_trainer *deg, const char *dir, int k,
                             lp_strbuf *manifest) {
  char name[64], path[4096];
  snprintf(name, sizeof name, "path_%02d.safetensors", k);
  if (!lp_distill_path_file(dir, k, path, sizeof path))
    return lp_error(LEAP_ERR_INVALID_ARG, "distill: folder name too long");
  leap_status s = lp_trainer_save_model(deg, path, 0, LEAP_F32);
  if (s != LEAP_OK) return s;
  char line[256];
  snprintf(line, sizeof line, "%s{\"index\": %d, \"iteration\": %d, \"loss\": %.9g, \"file\": ",
           k ? ", " : "", k, deg->step, deg->loss);
  lp_strbuf_puts(manifest, line);
  lp_strbuf_json_string(manifest, name);
  lp_strbuf_puts(manifest, "}");
  (void)d;
  return LEAP_OK;
}

/* The manifest lands through core/output.h's rule: it never replaces the
 * teacher or a file that is not an earlier manifest. */
static leap_status write_manifest(const char *dir, const char *teacher, lp_strbuf *body) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/path.json", dir) >= (int)sizeof path)
    return lp_error(LEAP_ERR_INVALID_ARG, "distill: folder name too long");
  const char *inputs[1] = {teacher};
  lp_out *o = NULL;
  leap_status s = lp_out_begin(path, LP_OUT_DISBACK_PATH, inputs, 1, &o);
  if (s != LEAP_OK) return s;
  if (!lp_write_all(lp_out_fd(o), body->data, body->len)) {
    s = lp_error(LEAP_ERR_IO, "%s: %s", lp_out_temp(o), strerror(errno));
    lp_out_abort(o);
    return s;
  }
  return lp_out_commit(o);
}

leap_status lp_distill_record_path(lp_distill *d, const char *dir,
                                   int (*progress)(void *user, int step, int steps, double loss),
                                   void *user) {
  if (!d) return lp_error(LEAP_ERR_INVALID_ARG, "distill: NULL");
  if (d->cfg.method != LP_DISTILL_DISBACK)
    return lp_error(LEAP_ERR_INVALID_ARG, "distill: only DisBack records a degradation path");
  if (d->path_recorded || d->student->step > 0)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "distill: the path is recorded once, from the initial student, before distilling");
  const int N = d->cfg.path_checkpoints, steps = d->cfg.path_iters;
  d->path = lp_calloc((size_t)N, sizeof *d->path);
  if (!d->path) return lp_error(LEAP_ERR_NOMEM, "distill: out of memory");
  lp_trainer *deg = NULL;
  leap_status s = make_trainer(&d->student->cfg.arch, &d->cfg, d->cfg.lr_fake, 3,
                               d->teacher_path, &deg);
  if (s != LEAP_OK) return s;
  lp_strbuf manifest = {0};
  lp_strbuf_puts(&manifest, "{\"format\": \"leap-disback-path\", \"version\": 1, \"checkpoints\": [");
  int k = 0;
  for (int step = 1; step <= steps && s == LEAP_OK; step++) {
    lp_dataset v = samples_view(d);
    if ((s = student_samples(d)) || (s = lp_trainer_step(deg, &v))) break;
    if (progress && progress(user, step, steps, deg->loss)) {
      s = lp_error(LEAP_ERR_INTERRUPTED, "distill: stopped while recording the path");
      break;
    }
    /* checkpoint k at step ceil((k + 1) * steps / N): the last at `steps` */
    if ((int64_t)step * N >= (int64_t)(k + 1) * steps) {
      if (!(d->path[k] = lp_malloc(d->P * sizeof(float)))) {
        s = lp_error(LEAP_ERR_NOMEM, "distill: out of memory");
        break;
      }
      memcpy(d->path[k], deg->params, d->P * sizeof(float));
      d->n_path = k + 1;
      if (dir) s = save_path(d, deg, dir, k, &manifest);
      k++;
    }
  }
  lp_trainer_destroy(deg);
  lp_strbuf_puts(&manifest, "]}\n");
  if (s == LEAP_OK && manifest.oom) s = lp_error(LEAP_ERR_NOMEM, "distill: out of memory");
  if (s == LEAP_OK && dir) s = write_manifest(dir, d->teacher_path, &manifest);
  free(manifest.data);
  if (s == LEAP_OK && k != N)
    s = lp_error(LEAP_ERR_INVALID_ARG, "distill: recorded %d of %d path checkpoints", k, N);
  if (s == LEAP_OK) d->path_recorded = 1;
  /* the distillation's own noise does not depend on the path's length */
  lp_rng_seed(&d->rng, d->cfg.seed, 12);
  return s;
}

static const float *target_params(const lp_distill *d, int target) {
  return target == LEAP_DISBACK_TEACHER ? d->teacher : d->path[target];
}

/* x0 of the (guided) target at xt: x0 = xt - t v. */
static leap_status target_x0(lp_distill *d, const float *params) {
  const size_t n = (size_t)d->B * d->img;
  const int guided = d->cfg.guidance != 1.0 && d->K > 0;
  const int rows = guided ? 2 * d->B : d->B;
  memcpy(d->xin2, d->xt, n * sizeof(float));
  memcpy(d->tin2, d->tin, (size_t)d->B * sizeof(float));
  memcpy(d->y2, d->y, (size_t)d->B * sizeof(int32_t));
  if (guided) {
    memcpy(d->xin2 + n, d->xt, n * sizeof(float));
    memcpy(d->tin2 + d->B, d->tin, (size_t)d->B * sizeof(float));
    for (int b = 0; b < d->B; b++) d->y2[d->B + b] = d->K; /* the null class */
  }
  leap_status s = lp_tdit_forward_f32(d->tws_target, params, rows, d->xin2, d->tin2, d->y2, d->vout2);
  if (s != LEAP_OK) return s;
  const float g = (float)d->cfg.guidance;
  for (int b = 0; b < d->B; b++) {
    const float t = d->tt[b];
    for (size_t k = 0; k < d->img; k++) {
      const size_t i = (size_t)b * d->img + k;
      float v = d->vout2[i];
      if (guided) v = d->vout2[n + i] + g * (v - d->vout2[n + i]);
      d->x0t[i] = d->xt[i] - t * v;
    }
  }
  return LEAP_OK;
}

leap_status lp_distill_step(lp_distill *d, lp_distill_stats *st) {
  if (!d) return lp_error(LEAP_ERR_INVALID_ARG, "distill: NULL");
  if (d->cfg.method == LP_DISTILL_DISBACK && !d->path_recorded)
    return lp_error(LEAP_ERR_INVALID_ARG, "distill: DisBack records its path before the first step");
  const size_t n = (size_t)d->B * d->img;
  leap_status s = student_samples(d);
  if (s != LEAP_OK) return s;
  /* fake score: denoising steps on the student's current samples */
  double fake_loss = 0;
  lp_dataset v = samples_view(d);
  for (int k = 0; k < d->cfg.fake_updates; k++) {
    if ((s = lp_trainer_step(d->fake, &v))) return s;
    fake_loss += d->fake->loss / d->cfg.fake_updates;
  }
  /* the matching point */
  for (int b = 0; b < d->B; b++) {
    const double t = d->cfg.t_min + (d->cfg.t_max - d->cfg.t_min) * lp_rng_uniform(&d->rng);
    d->tt[b] = (float)t;
    d->tin[b] = (float)(1000.0 * t);
    for (size_t k = 0; k < d->img; k++) {
      const size_t i = (size_t)b * d->img + k;
      d->xt[i] = (float)((1.0 - t) * d->x[i] + t * lp_rng_normal(&d->rng));
    }
  }
  if ((s = lp_tdit_forward_f32(d->fake->ws, d->fake->params, d->B, d->xt, d->tin, d->y, d->vf)))
    return s;
  for (int b = 0; b < d->B; b++)
    for (size_t k = 0; k < d->img; k++) {
      const size_t i = (size_t)b * d->img + k;
      d->x0f[i] = d->xt[i] - d->tt[b] * d->vf[i];
    }
  const int target = leap_disback_schedule_target(d->sched);
  if ((s = target_x0(d, target_params(d, target)))) return s;
  lp_dmd_grad_rows(d->B, (int64_t)d->img, d->x, d->x0t, d->x0f, 1e-5f, d->grad);
  double dm = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(d->grad[i]))
      return lp_error(LEAP_ERR_NUMERIC, "distill: the matching gradient is not finite at iteration %d",
                      d->student->step + 1);
    dm += 0.5 * (double)d->grad[i] * d->grad[i];
    d->grad[i] = -d->grad[i] / (float)n; /* dL/dv of the mean loss */
  }
  memset(d->student->grads, 0, d->P * sizeof(float));
  if ((s = lp_tdit_backward_f32(d->student->ws, d->student->params, d->grad, d->student->grads)) ||
      (s = lp_trainer_apply(d->student)))
    return s;
  int switched = 0;
  if ((s = leap_disback_schedule_observe(d->sched, fake_loss, &switched))) return s;
  if (st) {
    st->iter = d->student->step;
    st->fake_loss = fake_loss;
    st->dm_loss = dm / (double)n;
    st->grad_norm = d->student->grad_norm;
    st->target = target;
    st->switched = switched;
  }
  return LEAP_OK;
}

leap_status lp_distill_generate(lp_distill *d, uint64_t seed, int n, const int32_t *labels, float *out) {
  if (!d || n < 1 || !out) return lp_error(LEAP_ERR_INVALID_ARG, "distill: bad generate arguments");
  lp_noise_fill(seed, n, d->img, out);
  for (int i0 = 0; i0 < n; i0 += d->B) {
    const int m = n - i0 < d->B ? n - i0 : d->B;
    for (int b = 0; b < m; b++) {
      d->tin[b] = 1000.0f;
      d->y[b] = labels ? labels[i0 + b] : d->K;
    }
    float *x = out + (size_t)i0 * d->img;
    /* the target workspace: the student's keeps the training activations */
    leap_status s = lp_tdit_forward_f32(d->tws_target, d->student->params, m, x, d->tin, d->y, d->vf);
    if (s != LEAP_OK) return s;
    for (size_t k = 0; k < (size_t)m * d->img; k++) x[k] -= d->vf[k];
  }
  return LEAP_OK;
}

leap_status lp_distill_save_student(const lp_distill *d, const char *path, leap_dtype dtype) {
  return lp_trainer_save_model(d->student, path, 0, dtype);
}

const lp_trainer *lp_distill_student(const lp_distill *d) { return d->student; }
