/* dit_step.c - see dit_step.h. */
#include <stdlib.h>
#include <string.h>

#include "dit_step.h"
#include "alloc.h"
#include "error.h"

/* The caller's programs (a cache's: they name its buffers), or the plan's. */
static lp_prog_cache *programs(lp_dit *m, lp_prog_cache *pc) { return pc ? pc : &m->plan.steps; }

static int rows_of(const lp_dit_step *st) { return st->guided ? 2 * st->images : st->images; }

leap_status lp_dit_step_prepare(lp_dit *m, const lp_dit_step *st, leap_tensor **hidden) {
  if (st->images < 1 || st->images > (st->guided ? 32768 : 65536))
    return lp_error(LEAP_ERR_INVALID_ARG, "sampling step: %d images out of range", st->images);
  leap_status s = lp_dit_plan_ensure(m, rows_of(st));
  if (s == LEAP_OK && st->guided && !m->plan.gout) {
    const leap_model_info *d = &m->info;
    const size_t n = (size_t)st->images * d->out_channels * d->input_size * d->input_size;
    s = m->be->vt->buf_alloc(m->be, n * sizeof(float), &m->plan.gout);
  }
  if (s == LEAP_OK && hidden) *hidden = &m->hidden;
  return s;
}

/* x, t and labels into the plan's input buffers. */
static leap_status upload(lp_dit *m, const lp_dit_step *st, const float *x, float t, const int32_t *labels) {
  const leap_model_info *d = &m->info;
  const int rows = rows_of(st);
  lp_backend *be = m->be;
  const size_t img = (size_t)st->images * d->in_channels * d->input_size * d->input_size;
  float *tt = lp_malloc((size_t)rows * sizeof *tt), *temb = lp_malloc((size_t)rows * LP_DIT_FREQ_DIM * sizeof *temb);
  leap_status s = tt && temb ? LEAP_OK : lp_error(LEAP_ERR_NOMEM, "sampling step: out of memory");
  if (s == LEAP_OK) {
    for (int r = 0; r < rows; r++) tt[r] = t;
    lp_dit_timestep_features(rows, tt, temb);
    s = be->vt->buf_write(be, m->plan.x_in, 0, x, img * sizeof(float));
  }
  if (s == LEAP_OK) s = be->vt->buf_write(be, m->plan.temb, 0, temb, (size_t)rows * LP_DIT_FREQ_DIM * sizeof(float));
  if (s == LEAP_OK && d->num_classes > 0)
    s = be->vt->buf_write(be, m->plan.labels, 0, labels, (size_t)rows * sizeof(int32_t));
  free(tt);
  free(temb);
  return s;
}

/* A growing op list on the stack's heap. */
typedef struct ops {
  lp_op *v;
  int n, cap;
  leap_status s;
} ops;

static void add(ops *o, const lp_op *src, int n) {
  if (o->s != LEAP_OK || n <= 0) return;
  if (o->n + n > o->cap) {
    const int cap = 2 * (o->n + n);
    lp_op *v = lp_realloc(o->v, (size_t)cap * sizeof *v);
    if (!v) {
      o->s = lp_error(LEAP_ERR_NOMEM, "sampling step: out of memory");
      return;
    }
    o->v = v, o->cap = cap;
  }
  memcpy(o->v + o->n, src, (size_t)n * sizeof *src);
  o->n += n;
}

static void add_prog(ops *o, const lp_prog *p) { add(o, p->ops, p->n); }

/* The unconditional half of x_in is a device copy of the conditional. */
static void add_dup(ops *o, lp_dit *m, const lp_dit_step *st) {
  if (!st->guided) return;
  const leap_model_info *d = &m->info;
  const size_t img = (size_t)st->images * d->in_channels * d->input_size * d->input_size;
  const lp_op op = lp_op_axpby((lp_view){m->plan.x_in, 0}, (lp_view){0}, (lp_view){m->plan.x_in, img},
                               (int64_t)img, 1.0f, 0.0f);
  add(o, &op, 1);
}

/* gout = cfg * cond + (1 - cfg) * uncond, i.e. uncond + cfg (cond - uncond). */
static void add_guide(ops *o, lp_dit *m, const lp_dit_step *st) {
  if (!st->guided) return;
  const leap_model_info *d = &m->info;
  const size_t n = (size_t)st->images * d->out_channels * d->input_size * d->input_size;
  const lp_op op = lp_op_axpby((lp_view){m->plan.out, 0}, (lp_view){m->plan.out, n}, (lp_view){m->plan.gout, 0},
                               (int64_t)n, st->cfg, 1.0f - st->cfg);
  add(o, &op, 1);
}

static void add_rest(ops *o, lp_dit *m, const lp_dit_step *st) {
  add(o, st->before, st->nbefore);
  if (st->blocks) add_prog(o, &m->plan.blocks);
  add(o, st->after, st->nafter);
  add_prog(o, &m->plan.final);
  add_guide(o, m, st);
}

static leap_status run(lp_prog_cache *pc, ops *o) {
  leap_status s = o->s == LEAP_OK ? lp_prog_cache_run(pc, o->v, o->n) : o->s;
  free(o->v);
  return s;
}

static leap_status read_out(lp_dit *m, const lp_dit_step *st, float *out) {
  const leap_model_info *d = &m->info;
  const size_t n = (size_t)st->images * d->out_channels * d->input_size * d->input_size;
  return m->be->vt->buf_read(m->be, st->guided ? m->plan.gout : m->plan.out, 0, out, n * sizeof(float));
}

/* The start of a step: plan, upload, and the dup + embedding ops into o. */
static leap_status begin(lp_dit *m, const lp_dit_step *st, const float *x, float t, const int32_t *labels, ops *o) {
  leap_status s = lp_dit_step_prepare(m, st, NULL);
  if (s == LEAP_OK) s = upload(m, st, x, t, labels);
  if (s != LEAP_OK) return s;
  add_dup(o, m, st);
  add_prog(o, &m->plan.embed);
  m->stage = 0; /* the staged public calls start again from embed */
  return LEAP_OK;
}

leap_status lp_dit_step_run(lp_dit *m, lp_prog_cache *pc, const lp_dit_step *st, const float *x, float t,
                            const int32_t *labels, float *out) {
  ops o = {0};
  leap_status s = begin(m, st, x, t, labels, &o);
  if (s != LEAP_OK) return s; /* begin adds no op when it fails */
  add_rest(&o, m, st);
  s = run(programs(m, pc), &o);
  return s == LEAP_OK ? read_out(m, st, out) : s;
}

leap_status lp_dit_step_embed(lp_dit *m, lp_prog_cache *pc, const lp_dit_step *st, const float *x, float t,
                              const int32_t *labels) {
  ops o = {0};
  leap_status s = begin(m, st, x, t, labels, &o);
  return s == LEAP_OK ? run(programs(m, pc), &o) : s;
}

leap_status lp_dit_step_finish(lp_dit *m, lp_prog_cache *pc, const lp_dit_step *st, float *out) {
  ops o = {0};
  add_rest(&o, m, st);
  leap_status s = run(programs(m, pc), &o);
  return s == LEAP_OK ? read_out(m, st, out) : s;
}
