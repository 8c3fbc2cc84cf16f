/* train_ckpt.c - the trainer's files, all written by core/output.h's rule
 * through the safetensors writer (weights checked finite before they land;
 * a checkpoint's three files as one unit): model checkpoints (public DiT names + the __metadata__
 * DESIGN.md lists, so leap_model_load and `leap sample` read them) and the
 * resumable state (weights, Adam m and v, EMA, step, RNG, config). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "data_moving_fmnist.h"
#include "output.h"
#include "safetensors.h"
#include "train.h"

#define STATE_FORMAT "leap-train-state-1"

static leap_status meta_s(lp_st_writer *w, const char *k, const char *v) {
  return lp_st_writer_meta(w, k, v);
}
static leap_status meta_i(lp_st_writer *w, const char *k, long long v) {
  char b[32];
  snprintf(b, sizeof b, "%lld", v);
  return lp_st_writer_meta(w, k, b);
}
static leap_status meta_d(lp_st_writer *w, const char *k, double v) {
  char b[40];
  snprintf(b, sizeof b, "%.17g", v); /* round-trips exactly */
  return lp_st_writer_meta(w, k, b);
}

/* The model description, the step, the last loss and the training config. */
static leap_status write_meta(lp_st_writer *w, const lp_trainer *t) {
  const lp_train_cfg *c = &t->cfg;
  const lp_dit_arch *a = &c->arch;
  const int flow = c->objective == LP_OBJ_FLOW_V;
  leap_status s;
  /* A video DiT: the keys arch_video_dit.c describes it by (square frames;
   * input_size stays for the trainer's own reading). */
  if (c->clip_frames > 0 &&
      ((s = meta_i(w, "frames_per_chunk", c->frames_per_chunk)) || (s = meta_i(w, "clip_frames", c->clip_frames)) ||
       (s = meta_i(w, "input_height", a->input_size)) || (s = meta_i(w, "input_width", a->input_size)) ||
       (s = meta_d(w, "rope_theta", LP_TRAIN_ROPE_THETA)) ||
       /* the training clips' garment side: leap video copies it next to
        * its samples, and leap eval --video crops by it */
       (s = meta_i(w, "garment_size", LP_MFMNIST_GARMENT))))
    return s;
  if ((s = meta_s(w, "arch", c->clip_frames > 0 ? "video_dit" : "dit")) ||
      (s = meta_i(w, "input_size", a->input_size)) ||
      (s = meta_i(w, "patch_size", a->patch)) || (s = meta_i(w, "in_channels", a->in_channels)) ||
      (s = meta_i(w, "hidden_size", a->hidden)) || (s = meta_i(w, "depth", a->depth)) ||
      (s = meta_i(w, "num_heads", a->heads)) || (s = meta_d(w, "mlp_ratio", a->mlp_ratio)) ||
      (s = meta_i(w, "num_classes", a->num_classes)) || (s = meta_s(w, "learn_sigma", "False")) ||
      (s = meta_s(w, "prediction", flow ? "flow_v" : "eps")) ||
      (s = meta_s(w, "timestep_scale", flow ? "1000" : "1")) ||
      (s = meta_i(w, "null_class", a->num_classes)) || (s = meta_i(w, "step", t->step)) ||
      (s = meta_d(w, "loss", t->loss)) ||
      (s = meta_s(w, "train.objective", lp_objective_name(c->objective))) ||
      (s = meta_i(w, "train.batch", c->batch)) || (s = meta_i(w, "train.steps", c->steps)) ||
      (s = meta_d(w, "train.lr", c->lr)) || (s = meta_i(w, "train.warmup", c->warmup)) ||
      (s = meta_d(w, "train.weight_decay", c->weight_decay)) ||
      (s = meta_d(w, "train.clip", c->clip)) || (s = meta_d(w, "train.ema", c->ema)) ||
      (s = meta_d(w, "train.label_dropout", c->label_dropout)) ||
      (s = meta_d(w, "train.beta1", c->beta1)) || (s = meta_d(w, "train.beta2", c->beta2)) ||
      (s = meta_d(w, "train.adam_eps", c->adam_eps)) ||
      (s = meta_i(w, "train.seed", (long long)c->seed)) || (s = meta_s(w, "train.data", c->data)))
    return s;
  return LEAP_OK;
}

/* Adds every named tensor of `src` as prefix + name, in F32 or F16. */
static leap_status add_tensors(lp_st_writer *w, const lp_tlayout *L, const char *prefix,
                               const float *src, leap_dtype dtype) {
  char name[128];
  for (int i = 0; i < L->count; i++) {
    const lp_tparam *p = &L->p[i];
    snprintf(name, sizeof name, "%s%s", prefix, p->name);
    leap_status s;
    if (dtype == LEAP_F16) {
      uint16_t *h = lp_malloc(p->numel * sizeof *h);
      if (!h) return lp_error(LEAP_ERR_NOMEM, "train: out of memory writing '%s'", name);
      for (size_t k = 0; k < p->numel; k++) h[k] = lp_f32_to_f16(src[p->off + k]);
      s = lp_st_writer_add(w, name, LEAP_F16, p->ndim, p->shape, h);
      free(h);
    } else {
      s = lp_st_writer_add(w, name, LEAP_F32, p->ndim, p->shape, src + p->off);
    }
    if (s != LEAP_OK) return s;
  }
  return LEAP_OK;
}

/* The written, not yet landed file of the weights (EMA when ema != 0). */
static leap_status model_unit(const lp_trainer *t, const char *path, int ema, leap_dtype dtype,
                              const char *const *inputs, int ninputs, lp_out **out) {
  if (dtype != LEAP_F32 && dtype != LEAP_F16)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: checkpoints are F32 or F16, not %s", path,
                    lp_dtype_name(dtype));
  lp_st_writer *w;
  leap_status s = lp_st_writer_create(path, &w);
  if (s != LEAP_OK) return s;
  if ((s = lp_st_writer_output(w, LP_OUT_CHECKPOINT, inputs, ninputs)) || (s = write_meta(w, t)) ||
      (s = meta_s(w, "weights", ema ? "ema" : "raw")) ||
      (s = add_tensors(w, &t->L, "", ema ? t->ema : t->params, dtype))) {
    lp_st_writer_abort(w);
    return s;
  }
  return lp_st_writer_finish_unit(w, out);
}

static leap_status state_unit(const lp_trainer *t, const char *path, const char *const *inputs, int ninputs,
                              lp_out **out) {
  lp_st_writer *w;
  leap_status s = lp_st_writer_create(path, &w);
  if (s != LEAP_OK) return s;
  int64_t rng[4];
  memcpy(rng, t->rng.s, sizeof rng);
  const double spare[2] = {t->rng.spare, (double)t->rng.has_spare};
  if ((s = lp_st_writer_output(w, LP_OUT_TRAIN_STATE, inputs, ninputs)) || (s = write_meta(w, t)) ||
      (s = meta_s(w, "format", STATE_FORMAT)) ||
      (s = add_tensors(w, &t->L, "", t->params, LEAP_F32)) ||
      (s = add_tensors(w, &t->L, "adam_m.", t->adam_m, LEAP_F32)) ||
      (s = add_tensors(w, &t->L, "adam_v.", t->adam_v, LEAP_F32)) ||
      (s = add_tensors(w, &t->L, "ema.", t->ema, LEAP_F32)) ||
      (s = lp_st_writer_add(w, "rng.state", LEAP_I64, 1, (const int64_t[]){4}, rng)) ||
      (s = lp_st_writer_add(w, "rng.spare", LEAP_F64, 1, (const int64_t[]){2}, spare))) {
    lp_st_writer_abort(w);
    return s;
  }
  return lp_st_writer_finish_unit(w, out);
}

leap_status lp_trainer_save_model(const lp_trainer *t, const char *path, int ema,
                                  leap_dtype dtype) {
  lp_out *o = NULL;
  leap_status s = model_unit(t, path, ema, dtype, NULL, 0, &o);
  return s == LEAP_OK ? lp_out_commit(o) : s;
}

leap_status lp_trainer_save_state(const lp_trainer *t, const char *path) {
  lp_out *o = NULL;
  leap_status s = state_unit(t, path, NULL, 0, &o);
  return s == LEAP_OK ? lp_out_commit(o) : s;
}

void lp_trainer_checkpoint_paths(const char *prefix, int step, lp_train_paths *p) {
  snprintf(p->step, sizeof p->step, "%s_step%06d.safetensors", prefix, step);
  snprintf(p->ema, sizeof p->ema, "%s_ema.safetensors", prefix);
  snprintf(p->state, sizeof p->state, "%s_state.safetensors", prefix);
}

leap_status lp_trainer_save_checkpoint(const lp_trainer *t, const char *prefix, leap_dtype dtype,
                                       const char *resumed) {
  lp_train_paths p;
  if (!prefix || strlen(prefix) + 32 > sizeof p.step)
    return lp_error(LEAP_ERR_INVALID_ARG, "checkpoint prefix missing or too long");
  lp_trainer_checkpoint_paths(prefix, t->step, &p);
  const char *in[1] = {resumed};
  const int nin = resumed ? 1 : 0;
  lp_out *outs[3] = {NULL, NULL, NULL};
  leap_status s = model_unit(t, p.step, 0, dtype, in, nin, &outs[0]);
  if (s == LEAP_OK) s = model_unit(t, p.ema, 1, dtype, in, nin, &outs[1]);
  /* the resumed state is superseded by this one (it was read whole at the
   * start), so it is no input of the state file */
  if (s == LEAP_OK) s = state_unit(t, p.state, NULL, 0, &outs[2]);
  if (s == LEAP_OK) return lp_out_commit_all(outs, 3); /* the state lands last */
  for (int i = 0; i < 3; i++) lp_out_abort(outs[i]);
  return s;
}

/* ------------------------------------------------------------------ resume */

static leap_status get_str(const lp_st_file *f, const char *key, const char **out) {
  *out = lp_st_meta(f, key);
  if (!*out)
    return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ lacks '%s' (not a training state?)",
                    lp_st_path(f), key);
  return LEAP_OK;
}

static leap_status get_d(const lp_st_file *f, const char *key, double *out) {
  const char *v;
  leap_status s = get_str(f, key, &v);
  if (s != LEAP_OK) return s;
  char *end;
  *out = strtod(v, &end);
  if (end == v || *end)
    return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ '%s' = '%s' is not a number", lp_st_path(f),
                    key, v);
  return LEAP_OK;
}

static leap_status get_i(const lp_st_file *f, const char *key, int *out) {
  double d;
  leap_status s = get_d(f, key, &d);
  if (s != LEAP_OK) return s;
  /* Range first: converting a NaN or an out-of-range double is undefined. */
  if (!(d >= INT_MIN && d <= INT_MAX) || d != floor(d))
    return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ '%s' = %g is not an integer in %d..%d", lp_st_path(f),
                    key, d, INT_MIN, INT_MAX);
  *out = (int)d;
  return LEAP_OK;
}

/* The tensor's shape is exactly the given one (int64 arithmetic: the
 * metadata's ints may be anything). */
static int shape_is(const lp_st_tensor *t, int ndim, const int64_t *shape) {
  if (!t || t->ndim != ndim) return 0;
  for (int d = 0; d < ndim; d++)
    if (t->shape[d] != shape[d]) return 0;
  return 1;
}

/* The state's description against the tensors it holds and the limits of
 * `leap train`, before the trainer's buffers are sized from it: a header
 * that claims a larger model or batch than the file (or the CLI) could
 * hold is refused here instead of allocating for it. */
static leap_status check_against_tensors(const lp_st_file *f, const lp_train_cfg *c, int step) {
  const lp_dit_arch *a = &c->arch;
  const char *path = lp_st_path(f);
  if (a->input_size < 1 || a->in_channels < 1 || a->patch < 1 || a->hidden < 1 || a->heads < 1 ||
      a->depth < 1 || a->depth > 1000 || a->num_classes < 0 || a->input_size % a->patch)
    return lp_error(LEAP_ERR_FORMAT, "%s: the model description (input %d, channels %d, patch %d, hidden %d, "
                    "heads %d, depth %d, classes %d) is not a DiT leap trains", path, a->input_size,
                    a->in_channels, a->patch, a->hidden, a->heads, a->depth, a->num_classes);
  const int64_t D = a->hidden, grid = a->input_size / a->patch;
  if (!shape_is(lp_st_find(f, "x_embedder.proj.weight"), 4,
                (const int64_t[]){D, a->in_channels, a->patch, a->patch}) ||
      !shape_is(lp_st_find(f, "pos_embed"), 3, (const int64_t[]){1, grid * grid, D}) ||
      (a->num_classes > 0 &&
       !shape_is(lp_st_find(f, "y_embedder.embedding_table.weight"), 2, (const int64_t[]){a->num_classes + (int64_t)1, D})))
    return lp_error(LEAP_ERR_FORMAT, "%s: the model description (input %d, channels %d, patch %d, hidden %d, "
                    "classes %d) does not match the file's x_embedder, pos_embed and y_embedder tensors", path,
                    a->input_size, a->in_channels, a->patch, a->hidden, a->num_classes);
  char name[64];
  snprintf(name, sizeof name, "blocks.%d.attn.qkv.weight", a->depth - 1);
  if (!lp_st_find(f, name))
    return lp_error(LEAP_ERR_FORMAT, "%s: depth %d, but the file has no '%s'", path, a->depth, name);
  /* The ranges `leap train` accepts for a new run. */
  if (c->batch < 1 || c->batch > LP_TRAIN_MAX_BATCH || c->steps < 0 || c->steps > LP_TRAIN_MAX_STEPS)
    return lp_error(LEAP_ERR_FORMAT, "%s: batch %d / steps %d outside 1..%d / 0..%d", path, c->batch, c->steps,
                    LP_TRAIN_MAX_BATCH, LP_TRAIN_MAX_STEPS);
  /* The step indexes the shuffled data stream: a negative one read before
   * the permutation's first element. */
  if (step < 0 || step > c->steps)
    return lp_error(LEAP_ERR_FORMAT, "%s: step %d outside 0..%d (train.steps)", path, step, c->steps);
  return LEAP_OK;
}

static leap_status read_cfg(const lp_st_file *f, lp_train_cfg *c, int *step) {
  *c = lp_train_cfg_default();
  lp_dit_arch *a = &c->arch;
  const char *fmt, *obj, *seed, *data;
  leap_status s;
  if ((s = get_str(f, "format", &fmt))) return s;
  if (strcmp(fmt, STATE_FORMAT) != 0)
    return lp_error(LEAP_ERR_FORMAT, "%s: format '%s' is not %s", lp_st_path(f), fmt, STATE_FORMAT);
  if ((s = get_i(f, "input_size", &a->input_size)) || (s = get_i(f, "patch_size", &a->patch)) ||
      (s = get_i(f, "in_channels", &a->in_channels)) || (s = get_i(f, "hidden_size", &a->hidden)) ||
      (s = get_i(f, "depth", &a->depth)) || (s = get_i(f, "num_heads", &a->heads)) ||
      (s = get_d(f, "mlp_ratio", &a->mlp_ratio)) ||
      (s = get_i(f, "num_classes", &a->num_classes)) || (s = get_i(f, "step", step)) ||
      (s = get_str(f, "train.objective", &obj)) || (s = lp_objective_from_name(obj, &c->objective)) ||
      (s = get_i(f, "train.batch", &c->batch)) || (s = get_i(f, "train.steps", &c->steps)) ||
      (s = get_d(f, "train.lr", &c->lr)) || (s = get_i(f, "train.warmup", &c->warmup)) ||
      (s = get_d(f, "train.weight_decay", &c->weight_decay)) ||
      (s = get_d(f, "train.clip", &c->clip)) || (s = get_d(f, "train.ema", &c->ema)) ||
      (s = get_d(f, "train.label_dropout", &c->label_dropout)) ||
      (s = get_d(f, "train.beta1", &c->beta1)) || (s = get_d(f, "train.beta2", &c->beta2)) ||
      (s = get_d(f, "train.adam_eps", &c->adam_eps)) || (s = get_str(f, "train.seed", &seed)) ||
      (s = get_str(f, "train.data", &data)))
    return s;
  const char *arch = lp_st_meta(f, "arch");
  if (arch && !strcmp(arch, "video_dit") &&
      ((s = get_i(f, "frames_per_chunk", &c->frames_per_chunk)) || (s = get_i(f, "clip_frames", &c->clip_frames))))
    return s;
  /* the clips leap trains on: sized before any buffer is allocated from them */
  if (arch && !strcmp(arch, "video_dit") &&
      (c->clip_frames < 1 || c->clip_frames > LP_MFMNIST_TRAIN_FRAMES || c->frames_per_chunk < 1 ||
       c->clip_frames % c->frames_per_chunk))
    return lp_error(LEAP_ERR_FORMAT, "%s: a video DiT state with clips of %d frames in chunks of %d (leap trains "
                    "whole chunks of clips of 1..%d frames)", lp_st_path(f), c->clip_frames, c->frames_per_chunk,
                    LP_MFMNIST_TRAIN_FRAMES);
  char *end;
  errno = 0;
  c->seed = strtoull(seed, &end, 10);
  if (end == seed || *end || errno)
    return lp_error(LEAP_ERR_FORMAT, "%s: train.seed '%s' is not a number", lp_st_path(f), seed);
  snprintf(c->data, sizeof c->data, "%s", data);
  return check_against_tensors(f, c, *step);
}

leap_status lp_train_state_read_cfg(const lp_st_file *f, lp_train_cfg *c, int *step) {
  return read_cfg(f, c, step);
}

static leap_status read_tensors(const lp_st_file *f, const lp_tlayout *L, const char *prefix,
                                float *dst) {
  char name[128];
  for (int i = 0; i < L->count; i++) {
    const lp_tparam *p = &L->p[i];
    snprintf(name, sizeof name, "%s%s", prefix, p->name);
    const lp_st_tensor *t;
    leap_status s = lp_st_get(f, name, p->ndim, p->shape, &t);
    if (s == LEAP_OK) s = lp_st_read_f32(f, t, dst + p->off);
    if (s != LEAP_OK) return s;
  }
  return LEAP_OK;
}

leap_status lp_trainer_resume(const char *path, lp_trainer **out) {
  *out = NULL;
  lp_st_file *f;
  leap_status s = lp_st_open(path, &f);
  if (s != LEAP_OK) return s;
  lp_train_cfg c;
  int step = 0;
  lp_trainer *t = NULL;
  const lp_st_tensor *rs, *sp;
  if ((s = read_cfg(f, &c, &step)) || (s = lp_trainer_alloc(&c, &t)) ||
      (s = read_tensors(f, &t->L, "", t->params)) ||
      (s = read_tensors(f, &t->L, "adam_m.", t->adam_m)) ||
      (s = read_tensors(f, &t->L, "adam_v.", t->adam_v)) ||
      (s = read_tensors(f, &t->L, "ema.", t->ema)) ||
      (s = lp_st_get(f, "rng.state", 1, (const int64_t[]){4}, &rs)) ||
      (s = lp_st_get(f, "rng.spare", 1, (const int64_t[]){2}, &sp))) {
    lp_trainer_destroy(t);
    lp_st_close(f);
    return s;
  }
  double spare[2];
  if (rs->dtype != LEAP_I64 || (s = lp_st_read_f64(f, sp, spare)) != LEAP_OK) {
    lp_trainer_destroy(t);
    lp_st_close(f);
    return s ? s : lp_error(LEAP_ERR_FORMAT, "%s: 'rng.state' is not I64", path);
  }
  memcpy(t->rng.s, rs->data, sizeof t->rng.s);
  t->rng.spare = spare[0];
  t->rng.has_spare = spare[1] != 0;
  t->step = step;
  const char *loss = lp_st_meta(f, "loss");
  t->loss = loss ? strtod(loss, NULL) : 0;
  lp_st_close(f);
  *out = t;
  return LEAP_OK;
}

/* ------------------------------------------------------------ model files */

/* A model file's architecture; a video DiT only when `video` is given (its
 * clip geometry goes there), so callers that train images alone refuse it. */
static leap_status model_arch(const char *path, lp_dit_arch *out, lp_objective *obj, int video[2]) {
  lp_st_file *f;
  leap_status s = lp_st_open(path, &f);
  if (s != LEAP_OK) return s;
  lp_dit_arch a;
  memset(&a, 0, sizeof a);
  int cf = 0, fpc = 0, w = 0;
  const char *arch = lp_st_meta(f, "arch"), *pred = lp_st_meta(f, "prediction");
  const char *sigma = lp_st_meta(f, "learn_sigma");
  const int is_video = arch && video && !strcmp(arch, "video_dit");
  if (!arch || (strcmp(arch, "dit") != 0 && !is_video)) {
    s = lp_error(LEAP_ERR_UNSUPPORTED, "%s: arch '%s' is not a %s leap can train", path,
                 arch ? arch : "(none)", video ? "DiT or video DiT" : "DiT");
  } else if (sigma && (!strcmp(sigma, "True") || !strcmp(sigma, "true") || !strcmp(sigma, "1"))) {
    s = lp_error(LEAP_ERR_UNSUPPORTED, "%s: a model with learned sigma cannot be trained by leap",
                 path);
  } else if (!pred || (strcmp(pred, "flow_v") != 0 && strcmp(pred, "eps") != 0)) {
    s = lp_error(LEAP_ERR_UNSUPPORTED, "%s: prediction '%s' is neither flow_v nor eps", path,
                 pred ? pred : "(none)");
  } else if ((s = get_i(f, is_video ? "input_height" : "input_size", &a.input_size)) ||
             (is_video && ((s = get_i(f, "input_width", &w)) || (s = get_i(f, "clip_frames", &cf)) ||
                           (s = get_i(f, "frames_per_chunk", &fpc)))) ||
             (s = get_i(f, "patch_size", &a.patch)) ||
             (s = get_i(f, "in_channels", &a.in_channels)) ||
             (s = get_i(f, "hidden_size", &a.hidden)) || (s = get_i(f, "depth", &a.depth)) ||
             (s = get_i(f, "num_heads", &a.heads)) || (s = get_d(f, "mlp_ratio", &a.mlp_ratio)) ||
             (s = get_i(f, "num_classes", &a.num_classes))) {
    /* s says which key */
  } else if (is_video && (w != a.input_size || a.input_size != LP_MFMNIST_CANVAS || cf < 1 ||
                          cf > LP_MFMNIST_TRAIN_FRAMES || fpc < 1 || cf % fpc)) {
    s = lp_error(LEAP_ERR_UNSUPPORTED, "%s: a video DiT of %dx%d frames, clips of %d in chunks of %d; leap "
                 "trains %dx%d frames in whole chunks of clips of 1..%d frames", path, a.input_size, w, cf,
                 fpc, LP_MFMNIST_CANVAS, LP_MFMNIST_CANVAS, LP_MFMNIST_TRAIN_FRAMES);
  } else {
    *out = a;
    if (obj) *obj = !strcmp(pred, "eps") ? LP_OBJ_EPS : LP_OBJ_FLOW_V;
    if (video) video[0] = cf, video[1] = fpc;
  }
  lp_st_close(f);
  return s;
}

leap_status lp_train_arch_from_file(const char *path, lp_dit_arch *out, lp_objective *obj) {
  return model_arch(path, out, obj, NULL);
}

leap_status lp_train_cfg_from_model(const char *path, lp_train_cfg *c) {
  int video[2] = {0, 0};
  leap_status s = model_arch(path, &c->arch, &c->objective, video);
  if (s == LEAP_OK) c->clip_frames = video[0], c->frames_per_chunk = video[1];
  return s;
}

leap_status lp_trainer_load_weights(lp_trainer *t, const char *path) {
  lp_st_file *f;
  leap_status s = lp_st_open(path, &f);
  if (s != LEAP_OK) return s;
  s = read_tensors(f, &t->L, "", t->params);
  lp_st_close(f);
  if (s != LEAP_OK) return s;
  for (size_t k = 0; k < t->L.total; k++)
    if (!isfinite(t->params[k]))
      return lp_error(LEAP_ERR_NUMERIC, "%s: a weight is not finite", path);
  memcpy(t->ema, t->params, t->L.total * sizeof(float));
  return LEAP_OK;
}
