/* cache.c - the feature-cache hooks of leap.h (leap_cache_*): the reuse
 * decision of each policy (ERTACache's profiled schedule, uniform reuse,
 * the TeaCache-style online rule), the residual store on computed steps and
 * the rectified apply on reused ones, run as backend ops (CPU or Vulkan) on
 * the host's tensors. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prog_cache.h"
#include "alloc.h"
#include "clock.h"
#include "cache_profile.h"
#include "context.h"
#include "error.h"
#include "struct_size.h"

struct leap_cache {
  leap_context *ctx;
  leap_cache_desc d;
  char *profile_path;
  lp_cache_profile prof; /* loaded for ERTA and TEACACHE */
  const lp_cache_setting *set;
  int rect;              /* rectify with the setting's coefficients: asked for and validated on */
  unsigned char *reuse;  /* [steps] ERTA / UNIFORM schedule */
  lp_prog_cache ex;      /* the hooks' single ops */
  lp_prog_cache steps;   /* leap_sample's step programs (cache_internal.h) */
  /* Sized on the first begin: rows = branches * images, L per row. */
  int64_t L, C, inner;
  lp_buf *res, *saved, *coef, *l1;
  float *l1_host;        /* [2 * rows] */
  int have[2];           /* a residual is stored for the branch's rows */
  /* TeaCache state per slot (0 = all branches, 1 + b = branch b). */
  double tc_acc[3];
  int tc_prev[3];
  int pending[3];        /* begin said compute; end not yet called */
  leap_cache_stats st;
};


leap_cache_desc leap_cache_desc_default(void) {
  leap_cache_desc d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.policy = LEAP_CACHE_ERTA;
  d.level = LEAP_CACHE_HIDDEN;
  d.timestep_adjust = 1;
  d.rectify = 1;
  d.teacache_threshold = 0.1;
  d.branches = 1;
  d.images = 1;
  d.solver = LEAP_SOLVER_EULER;
  d.schedule = LEAP_SCHEDULE_DEFAULT;
  d.shift = 1.0;
  d.steps = 50;
  d.cfg = 1.0;
  return d;
}

void leap_cache_destroy(leap_cache *c) {
  if (!c) return;
  lp_backend *be = c->ctx->be;
  lp_prog_cache_free(&c->steps);
  lp_prog_cache_free(&c->ex);
  lp_buf *bufs[] = {c->res, c->saved, c->coef, c->l1};
  for (int k = 0; k < 4; k++)
    if (bufs[k]) be->vt->buf_free(be, bufs[k]);
  lp_cache_profile_free(&c->prof);
  free(c->reuse);
  free(c->l1_host);
  free(c->profile_path);
  free(c);
}

leap_status leap_cache_create(leap_context *ctx, const leap_cache_desc *desc, leap_cache **out) {
  if (!ctx || !desc || !out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_create: NULL argument");
  *out = NULL;
  /* A caller's older, smaller struct: the fields it lacks keep their defaults. */
  leap_cache_desc dd = leap_cache_desc_default();
  leap_status ds = lp_struct_in(&dd, sizeof dd, desc, "leap_cache_create");
  if (ds != LEAP_OK) return ds;
  desc = &dd;
  const leap_cache_desc *d = desc;
  if (d->policy < LEAP_CACHE_ERTA || d->policy > LEAP_CACHE_NONE)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_create: unknown policy %d", (int)d->policy);
  if (d->level != LEAP_CACHE_HIDDEN && d->level != LEAP_CACHE_OUTPUT)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_create: unknown level %d", (int)d->level);
  if (d->branches < 1 || d->branches > 2 || d->images < 1 || d->steps < 1 || d->steps > 10000)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_create: branches %d (1..2), images %d, steps %d out of range",
                    d->branches, d->images, d->steps);
  if (d->timestep_adjust < 0 || d->timestep_adjust > 2)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_create: timestep_adjust %d is not 0, 1 or 2", d->timestep_adjust);
  if (d->policy == LEAP_CACHE_UNIFORM && (d->uniform_computed < 1 || d->uniform_computed > d->steps))
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_create: uniform_computed %d outside 1..%d", d->uniform_computed,
                    d->steps);
  if (d->policy == LEAP_CACHE_TEACACHE && !(d->teacache_threshold >= 0))
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_create: teacache_threshold must be >= 0");
  const int needs_profile = d->policy == LEAP_CACHE_ERTA || d->policy == LEAP_CACHE_TEACACHE;
  if (needs_profile && !d->profile)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_create: the %s policy needs a profile (leap profile)",
                    d->policy == LEAP_CACHE_ERTA ? "ERTA" : "TeaCache");
  leap_cache *c = lp_calloc(1, sizeof *c);
  if (!c) return lp_error(LEAP_ERR_NOMEM, "leap_cache_create: out of memory");
  c->ctx = ctx;
  c->d = *d;
  c->ex.be = c->steps.be = ctx->be;
  leap_status s = LEAP_OK;
  c->reuse = lp_calloc((size_t)d->steps, 1);
  if (!c->reuse) s = lp_error(LEAP_ERR_NOMEM, "leap_cache_create: out of memory");
  if (s == LEAP_OK && needs_profile) {
    c->profile_path = lp_strdup(d->profile);
    c->d.profile = c->profile_path;
    c->d.model_id = NULL; /* checked now; not kept */
    if (!c->profile_path) s = lp_error(LEAP_ERR_NOMEM, "out of memory");
    if (s == LEAP_OK) s = lp_cache_profile_read_for(d->profile, d, &c->prof);
  }
  if (s == LEAP_OK && d->policy == LEAP_CACHE_ERTA) {
    if (d->setting < 0 || d->setting >= c->prof.nsettings)
      s = lp_error(LEAP_ERR_INVALID_ARG, "%s: setting %d outside 0..%d", d->profile, d->setting,
                   c->prof.nsettings - 1);
    else {
      c->set = &c->prof.settings[d->setting];
      memcpy(c->reuse, c->set->reuse, (size_t)d->steps);
      /* The profile keeps rectification only where its cross-validation
       * found that it improves the images; elsewhere it is off. */
      c->rect = d->rectify && c->set->rect_shrink > 0;
    }
    if (s == LEAP_OK && d->rectify && d->level != c->prof.level)
      s = lp_error(LEAP_ERR_INVALID_ARG, "%s: rectification was fitted at another level", d->profile);
  }
  if (s == LEAP_OK && d->policy == LEAP_CACHE_UNIFORM) {
    /* Computed steps j * steps / N (j = 0..N-1), evenly spaced from step 0. */
    memset(c->reuse, 1, (size_t)d->steps);
    for (int j = 0; j < d->uniform_computed; j++) c->reuse[(int)((int64_t)j * d->steps / d->uniform_computed)] = 0;
  }
  if (s != LEAP_OK) {
    leap_cache_destroy(c);
    return s;
  }
  c->d.model_id = NULL;
  c->st.struct_size = sizeof c->st;
  *out = c;
  return LEAP_OK;
}

leap_status leap_cache_reset(leap_cache *c) {
  if (!c) return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_reset: NULL cache");
  memset(c->have, 0, sizeof c->have);
  memset(c->tc_acc, 0, sizeof c->tc_acc);
  memset(c->tc_prev, 0, sizeof c->tc_prev);
  memset(c->pending, 0, sizeof c->pending);
  memset(&c->st, 0, sizeof c->st);
  c->st.struct_size = sizeof c->st;
  return LEAP_OK;
}

/* Rows of a slot: branch b or all branches. */
static leap_status slot_rows(const leap_cache *c, int branch, const char *fn, int *row0, int *rows) {
  if (branch == LEAP_CACHE_ALL_BRANCHES) {
    *row0 = 0, *rows = c->d.branches * c->d.images;
    return LEAP_OK;
  }
  if (branch < 0 || branch >= c->d.branches)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: branch %d outside 0..%d (or LEAP_CACHE_ALL_BRANCHES)", fn, branch,
                    c->d.branches - 1);
  *row0 = branch * c->d.images, *rows = c->d.images;
  return LEAP_OK;
}

/* Checks a tensor (context, dtype, rows) and sizes the cache on first use. */
static leap_status check_tensor(leap_cache *c, const leap_tensor *t, int rows, const char *fn, const char *what) {
  if (!t) return lp_error(LEAP_ERR_INVALID_ARG, "%s: %s is NULL", fn, what);
  if (t->ctx != c->ctx) return lp_error(LEAP_ERR_INVALID_ARG, "%s: %s belongs to another context", fn, what);
  if (t->dtype != LEAP_F32) return lp_error(LEAP_ERR_UNSUPPORTED, "%s: %s must be F32", fn, what);
  const int need = c->d.level == LEAP_CACHE_HIDDEN ? 3 : 4;
  if (t->ndim != need || t->shape[0] != rows)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: %s must be [%d, %s] (%d dims), got %d dims with %lld rows", fn, what,
                    rows, c->d.level == LEAP_CACHE_HIDDEN ? "tokens, hidden" : "C, H, W", need, t->ndim,
                    t->ndim ? (long long)t->shape[0] : 0LL);
  const int64_t L = t->numel / rows;
  const int64_t C = c->d.level == LEAP_CACHE_HIDDEN ? t->shape[2] : t->shape[1];
  const int64_t inner = c->d.level == LEAP_CACHE_HIDDEN ? 1 : t->shape[2] * t->shape[3];
  if (c->L == 0) {
    if (L > INT32_MAX) return lp_error(LEAP_ERR_UNSUPPORTED, "%s: rows of %lld elements are too long", fn, (long long)L);
    if (c->rect && C != c->prof.channels)
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: %s has %lld channels, the profile %s has %d", fn, what,
                      (long long)C, c->profile_path, c->prof.channels);
    lp_backend *be = c->ctx->be;
    const size_t total = (size_t)c->d.branches * c->d.images;
    leap_status s = be->vt->buf_alloc(be, total * (size_t)L * 4, &c->res);
    if (s == LEAP_OK) s = be->vt->buf_alloc(be, total * (size_t)L * 4, &c->saved);
    if (s == LEAP_OK) s = be->vt->buf_alloc(be, (size_t)c->d.branches * 2 * (size_t)C * 4, &c->coef);
    if (s == LEAP_OK) s = be->vt->buf_alloc(be, total * 2 * 4, &c->l1);
    if (s == LEAP_OK && !(c->l1_host = lp_malloc(total * 2 * sizeof(float))))
      s = lp_error(LEAP_ERR_NOMEM, "%s: out of memory", fn);
    if (s != LEAP_OK) return s;
    c->L = L, c->C = C, c->inner = inner;
  } else if (L != c->L || C != c->C || inner != c->inner) {
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: %s changed shape since the first call (%lld per row, was %lld)", fn,
                    what, (long long)L, (long long)c->L);
  }
  return LEAP_OK;
}

static leap_status run_axpby(leap_cache *c, lp_buf *x, size_t xo, lp_buf *y, size_t yo, float a, float b, lp_buf *o,
                             size_t oo, int64_t n) {
  const lp_op op = lp_op_axpby((lp_view){x, xo}, (lp_view){y, y ? yo : 0}, (lp_view){o, oo}, n, a, b);
  return lp_prog_cache_run1(&c->ex, &op);
}

/* TeaCache indicator: mean over the slot's rows of |in - prev| / |prev|. */
static leap_status tc_indicator(leap_cache *c, const leap_tensor *in, int row0, int rows, double *ind) {
  lp_op op;
  memset(&op, 0, sizeof op);
  op.kind = LP_OP_CACHE_L1;
  op.in[0] = (lp_view){in->buf, 0};
  op.in[1] = (lp_view){c->saved, (size_t)row0 * c->L};
  op.out = (lp_view){c->l1, 0};
  op.i[0] = rows, op.i[1] = (int32_t)c->L;
  leap_status s = lp_prog_cache_run1(&c->ex, &op);
  if (s == LEAP_OK) s = c->ctx->be->vt->buf_read(c->ctx->be, c->l1, 0, c->l1_host, (size_t)rows * 2 * sizeof(float));
  if (s != LEAP_OK) return s;
  double sum = 0;
  for (int r = 0; r < rows; r++) sum += c->l1_host[2 * r] / (c->l1_host[2 * r + 1] + 1e-12);
  *ind = sum / rows;
  return LEAP_OK;
}

static int slot_has_residual(const leap_cache *c, int branch) {
  if (branch != LEAP_CACHE_ALL_BRANCHES) return c->have[branch];
  for (int b = 0; b < c->d.branches; b++)
    if (!c->have[b]) return 0;
  return 1;
}

/* The decision of begin and its op: save the input (compute) or apply the
 * cached residual (reuse). *nop = 0 when there is nothing to run (TeaCache
 * has saved the input already). TeaCache's indicator runs here. */
static leap_status plan_begin(leap_cache *c, int step, int branch, const leap_tensor *in, leap_tensor *out,
                              const char *fn, int *compute, lp_op *op, int *nop) {
  *nop = 0;
  if (step < 0 || step >= c->d.steps)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: step %d outside 0..%d", fn, step, c->d.steps - 1);
  int row0 = 0, rows = 0;
  leap_status s = slot_rows(c, branch, fn, &row0, &rows);
  if (s == LEAP_OK) s = check_tensor(c, in, rows, fn, "in");
  if (s == LEAP_OK) s = check_tensor(c, out, rows, fn, "out");
  if (s != LEAP_OK) return s;
  const int slot = branch == LEAP_CACHE_ALL_BRANCHES ? 0 : 1 + branch;
  const size_t off = (size_t)row0 * c->L, n = (size_t)rows * c->L;
  int reuse = 0;
  switch (c->d.policy) {
  case LEAP_CACHE_ERTA:
  case LEAP_CACHE_UNIFORM: reuse = c->reuse[step]; break;
  case LEAP_CACHE_TEACACHE:
    if (c->tc_prev[slot]) {
      double ind = 0;
      if ((s = tc_indicator(c, in, row0, rows, &ind)) != LEAP_OK) return s;
      c->tc_acc[slot] += fabs(lp_cache_tc_eval(&c->prof, ind));
      reuse = c->tc_acc[slot] < c->d.teacache_threshold;
    }
    /* The indicator compares consecutive inputs: keep this one. */
    if ((s = run_axpby(c, in->buf, 0, NULL, 0, 1.0f, 0.0f, c->saved, off, (int64_t)n)) != LEAP_OK) return s;
    c->tc_prev[slot] = 1;
    break;
  case LEAP_CACHE_NONE: break;
  }
  if (reuse && !slot_has_residual(c, branch)) reuse = 0; /* nothing cached yet */
  memset(op, 0, sizeof *op);
  if (!reuse) {
    if (c->d.policy == LEAP_CACHE_TEACACHE) {
      c->tc_acc[slot] = 0;
    } else {
      /* The blocks overwrite the host's tensor in place: keep their input. */
      *op = lp_op_axpby((lp_view){in->buf, 0}, (lp_view){0}, (lp_view){c->saved, off}, (int64_t)n, 1.0f, 0.0f);
      *nop = 1;
    }
    c->pending[slot] = 1;
    c->st.computed++;
  } else {
    op->kind = LP_OP_CACHE_APPLY;
    op->in[0] = (lp_view){in->buf, 0};
    op->in[1] = (lp_view){c->res, off};
    op->out = (lp_view){out->buf, 0};
    op->i[0] = rows, op->i[1] = (int32_t)c->L, op->i[2] = (int32_t)c->C, op->i[3] = (int32_t)c->inner;
    op->i[4] = c->d.images;
    if (c->rect) {
      /* Written now, read when the op runs: before the next step's write. */
      const int g0 = branch == LEAP_CACHE_ALL_BRANCHES ? 0 : branch, ng = rows / c->d.images;
      const float *coef = c->set->coef + ((size_t)step * c->d.branches + g0) * 2 * (size_t)c->C;
      s = c->ctx->be->vt->buf_write(c->ctx->be, c->coef, 0, coef, (size_t)ng * 2 * (size_t)c->C * sizeof(float));
      if (s != LEAP_OK) return s;
      op->in[2] = (lp_view){c->coef, 0};
    }
    *nop = 1;
    c->st.reused++;
  }
  c->st.evaluations++;
  *compute = !reuse;
  return LEAP_OK;
}

/* The op of end: r = after - before, one pass. */
static leap_status plan_end(leap_cache *c, int step, int branch, const leap_tensor *out, const char *fn, lp_op *op) {
  int row0 = 0, rows = 0;
  leap_status s = slot_rows(c, branch, fn, &row0, &rows);
  if (s != LEAP_OK) return s;
  const int slot = branch == LEAP_CACHE_ALL_BRANCHES ? 0 : 1 + branch;
  if (!c->pending[slot])
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: step %d branch %d: leap_cache_begin did not ask to compute", fn, step,
                    branch);
  if ((s = check_tensor(c, out, rows, fn, "out")) != LEAP_OK) return s;
  const size_t off = (size_t)row0 * c->L;
  *op = lp_op_axpby((lp_view){out->buf, 0}, (lp_view){c->saved, off}, (lp_view){c->res, off}, (int64_t)rows * c->L,
                     1.0f, -1.0f);
  c->pending[slot] = 0;
  if (branch == LEAP_CACHE_ALL_BRANCHES)
    for (int b = 0; b < c->d.branches; b++) c->have[b] = 1;
  else
    c->have[branch] = 1;
  return LEAP_OK;
}

leap_status leap_cache_begin(leap_cache *c, int step, int branch, const leap_tensor *in, leap_tensor *out,
                             int *compute) {
  const char *fn = "leap_cache_begin";
  if (!c || !compute) return lp_error(LEAP_ERR_INVALID_ARG, "%s: NULL argument", fn);
  const double t0 = lp_now_seconds();
  lp_op op;
  int nop = 0;
  leap_status s = plan_begin(c, step, branch, in, out, fn, compute, &op, &nop);
  if (s == LEAP_OK && nop) s = lp_prog_cache_run1(&c->ex, &op);
  c->st.overhead_seconds += lp_now_seconds() - t0;
  return s;
}

leap_status leap_cache_end(leap_cache *c, int step, int branch, const leap_tensor *out) {
  const char *fn = "leap_cache_end";
  if (!c) return lp_error(LEAP_ERR_INVALID_ARG, "%s: NULL cache", fn);
  const double t0 = lp_now_seconds();
  lp_op op;
  leap_status s = plan_end(c, step, branch, out, fn, &op);
  if (s == LEAP_OK) s = lp_prog_cache_run1(&c->ex, &op);
  c->st.overhead_seconds += lp_now_seconds() - t0;
  return s;
}

lp_prog_cache *lp_cache_step_programs(leap_cache *c) { return &c->steps; }

int lp_cache_decides_offline(const leap_cache *c) {
  return c->d.policy == LEAP_CACHE_ERTA || c->d.policy == LEAP_CACHE_UNIFORM || c->d.policy == LEAP_CACHE_NONE;
}

leap_status lp_cache_step_ops(leap_cache *c, int step, leap_tensor *h, lp_op *before, int *nbefore, lp_op *after,
                              int *nafter, int *compute) {
  const char *fn = "leap_sample (cache)";
  const double t0 = lp_now_seconds();
  *nafter = 0;
  leap_status s = plan_begin(c, step, LEAP_CACHE_ALL_BRANCHES, h, h, fn, compute, before, nbefore);
  if (s == LEAP_OK && *compute) {
    s = plan_end(c, step, LEAP_CACHE_ALL_BRANCHES, h, fn, after);
    *nafter = s == LEAP_OK;
  }
  c->st.overhead_seconds += lp_now_seconds() - t0;
  return s;
}

leap_status leap_cache_step_scale(const leap_cache *c, int step, double *phi, int *in_time) {
  if (!c || !phi) return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_step_scale: NULL argument");
  if (step < 0 || step >= c->d.steps)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_step_scale: step %d outside 0..%d", step, c->d.steps - 1);
  *phi = 1.0;
  if (in_time) *in_time = c->d.timestep_adjust == 2;
  if (!c->set || !c->reuse[step] || !c->d.timestep_adjust) return LEAP_OK;
  if (c->d.timestep_adjust == 2) *phi = c->set->phi_paper[step];
  else *phi = c->rect ? c->set->phi[step] : c->set->phi_norect[step];
  return LEAP_OK;
}

leap_status leap_cache_adjust_schedule(const leap_cache *c, int step, double *t, int steps) {
  if (!c || !t) return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_adjust_schedule: NULL argument");
  if (steps != c->d.steps)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_adjust_schedule: %d steps, the cache has %d", steps, c->d.steps);
  double phi;
  int in_time;
  leap_status s = leap_cache_step_scale(c, step, &phi, &in_time);
  if (s != LEAP_OK || !in_time || phi == 1.0 || !(t[step + 1] > 0)) return s;
  /* Scale the step; stretch the rest affinely so the path ends at 0. */
  const double next = t[step] + phi * (t[step + 1] - t[step]), f = next / t[step + 1];
  for (int j = step + 1; j <= steps; j++) t[j] *= f;
  return LEAP_OK;
}

leap_status leap_cache_get_stats(const leap_cache *c, leap_cache_stats *out) {
  if (!c || !out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_cache_get_stats: NULL argument");
  leap_cache_stats st = c->st;
  st.planned_computed = -1;
  if (c->d.policy == LEAP_CACHE_NONE) st.planned_computed = c->d.steps;
  if (c->d.policy == LEAP_CACHE_ERTA || c->d.policy == LEAP_CACHE_UNIFORM) {
    st.planned_computed = 0;
    for (int i = 0; i < c->d.steps; i++) st.planned_computed += !c->reuse[i];
  }
  /* Only the caller's struct_size bytes: an older caller's struct is smaller. */
  return lp_struct_out(out, &st, sizeof st, "leap_cache_get_stats");
}

leap_status lp_cache_check_run(const leap_cache *c, leap_model *m, const leap_sample_desc *s, int branches) {
  const leap_cache_desc *d = &c->d;
  if (d->steps != s->steps || d->solver != s->solver || d->schedule != s->schedule || d->shift != s->shift ||
      d->cfg != s->cfg)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "leap_sample: the cache was made for %d steps of %s/%s shift %g cfg %g, the run asks for %d "
                    "steps of %s/%s shift %g cfg %g", d->steps, leap_solver_name(d->solver),
                    leap_schedule_name(d->schedule), d->shift, d->cfg, s->steps, leap_solver_name(s->solver),
                    leap_schedule_name(s->schedule), s->shift, s->cfg);
  if (d->branches != branches || d->images != s->n)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "leap_sample: the cache was made for %d branch(es) of %d images, the run has %d of %d",
                    d->branches, d->images, branches, s->n);
  if (d->level != LEAP_CACHE_HIDDEN)
    return lp_error(LEAP_ERR_UNSUPPORTED, "leap_sample: caches the block stack (LEAP_CACHE_HIDDEN) only");
  if (c->profile_path) {
    char id[17];
    leap_status st = leap_model_id(m, id, sizeof id);
    if (st != LEAP_OK) return st;
    if (strcmp(id, c->prof.model_id) != 0)
      return lp_error(LEAP_ERR_INVALID_ARG,
                      "%s: the profile was made for model id %s, this model is %s; profile again with 'leap "
                      "profile' for this model", c->profile_path, c->prof.model_id, id);
  }
  return LEAP_OK;
}
