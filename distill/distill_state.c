/* distill_state.c - see distill_state.h.
 *
 * The weights and moments are stored flat ([P] per array, the trainer's own
 * layout): the state is read only by leap, and a flat tensor is checked
 * against the teacher's size in one lp_st_get. The student's EMA is not
 * stored: the distillation trainers keep none (decay 0, EMA = weights). */
/* realpath (XSI) */
#define _XOPEN_SOURCE 700
#include "distill_state.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "disback_schedule.h"
#include "distill_internal.h"
#include "error.h"
#include "safetensors.h"

#define CFG_OFF(field) offsetof(lp_distill_cfg, field)
#define SCHED_OFF(field) (offsetof(lp_distill_cfg, schedule) + offsetof(leap_disback_schedule_desc, field))

const lp_distill_setting lp_distill_settings[] = {
    {"method", LP_DSET_METHOD, CFG_OFF(method)},
    {"batch", LP_DSET_INT, CFG_OFF(batch)},
    {"lr", LP_DSET_DOUBLE, CFG_OFF(lr_student)},
    {"lr-fake", LP_DSET_DOUBLE, CFG_OFF(lr_fake)},
    {"fake-updates", LP_DSET_INT, CFG_OFF(fake_updates)},
    {"cfg", LP_DSET_DOUBLE, CFG_OFF(guidance)},
    {"t-min", LP_DSET_DOUBLE, CFG_OFF(t_min)},
    {"t-max", LP_DSET_DOUBLE, CFG_OFF(t_max)},
    {"seed", LP_DSET_U64, CFG_OFF(seed)},
    {"path-checkpoints", LP_DSET_INT, CFG_OFF(path_checkpoints)},
    {"path-iters", LP_DSET_INT, CFG_OFF(path_iters)},
    {"switch", LP_DSET_RULE, SCHED_OFF(rule)},
    {"interval", LP_DSET_INT, SCHED_OFF(interval)},
    {"window", LP_DSET_INT, SCHED_OFF(window)},
    {"tolerance", LP_DSET_DOUBLE, SCHED_OFF(tolerance)},
    {"min-iters", LP_DSET_INT, SCHED_OFF(min_iters)},
    {"max-iters", LP_DSET_INT, SCHED_OFF(max_iters)},
};
const int lp_distill_setting_count = (int)(sizeof lp_distill_settings / sizeof *lp_distill_settings);

static const char *rule_name(leap_disback_switch r) {
  return r == LEAP_DISBACK_SWITCH_CONVERGED ? "converged" : "interval";
}

int lp_distill_setting_used(const lp_distill_setting *s, const lp_distill_cfg *c) {
  const size_t off = s->offset;
  const int disback_only = off == CFG_OFF(path_checkpoints) || off == CFG_OFF(path_iters) ||
                           off >= CFG_OFF(schedule);
  if (disback_only && c->method != LP_DISTILL_DISBACK) return 0;
  if (off == SCHED_OFF(interval)) return c->schedule.rule == LEAP_DISBACK_SWITCH_INTERVAL;
  if (off == SCHED_OFF(window) || off == SCHED_OFF(tolerance) || off == SCHED_OFF(min_iters) ||
      off == SCHED_OFF(max_iters))
    return c->schedule.rule == LEAP_DISBACK_SWITCH_CONVERGED;
  return 1;
}

static const void *field(const lp_distill_setting *s, const lp_distill_cfg *c) {
  return (const char *)c + s->offset;
}

int lp_distill_setting_equal(const lp_distill_setting *s, const lp_distill_cfg *a, const lp_distill_cfg *b) {
  switch (s->type) {
  case LP_DSET_INT: return *(const int *)field(s, a) == *(const int *)field(s, b);
  case LP_DSET_DOUBLE: return *(const double *)field(s, a) == *(const double *)field(s, b);
  case LP_DSET_U64: return *(const uint64_t *)field(s, a) == *(const uint64_t *)field(s, b);
  case LP_DSET_METHOD:
    return *(const lp_distill_method *)field(s, a) == *(const lp_distill_method *)field(s, b);
  case LP_DSET_RULE:
    return *(const leap_disback_switch *)field(s, a) == *(const leap_disback_switch *)field(s, b);
  }
  return 0;
}

void lp_distill_setting_format(const lp_distill_setting *s, const lp_distill_cfg *c, char *buf, size_t len) {
  switch (s->type) {
  case LP_DSET_INT: snprintf(buf, len, "%d", *(const int *)field(s, c)); return;
  case LP_DSET_DOUBLE: snprintf(buf, len, "%.17g", *(const double *)field(s, c)); return;
  case LP_DSET_U64: snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)field(s, c)); return;
  case LP_DSET_METHOD:
    snprintf(buf, len, "%s", lp_distill_method_name(*(const lp_distill_method *)field(s, c)));
    return;
  case LP_DSET_RULE: snprintf(buf, len, "%s", rule_name(*(const leap_disback_switch *)field(s, c))); return;
  }
  if (len) buf[0] = 0;
}

/* Parses the metadata value v of setting s into c; 0 if it is not one. */
static int setting_parse(const lp_distill_setting *s, const char *v, lp_distill_cfg *c) {
  char *end = NULL;
  void *f = (char *)c + s->offset;
  errno = 0;
  switch (s->type) {
  case LP_DSET_INT: {
    const long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < INT_MIN || x > INT_MAX) return 0;
    *(int *)f = (int)x;
    return 1;
  }
  case LP_DSET_DOUBLE: {
    const double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x)) return 0;
    *(double *)f = x;
    return 1;
  }
  case LP_DSET_U64: {
    if (v[0] == '-') return 0;
    const unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || errno) return 0;
    *(uint64_t *)f = x;
    return 1;
  }
  case LP_DSET_METHOD:
    if (!strcmp(v, "dmd")) *(lp_distill_method *)f = LP_DISTILL_DMD;
    else if (!strcmp(v, "disback")) *(lp_distill_method *)f = LP_DISTILL_DISBACK;
    else return 0;
    return 1;
  case LP_DSET_RULE:
    if (!strcmp(v, "interval")) *(leap_disback_switch *)f = LEAP_DISBACK_SWITCH_INTERVAL;
    else if (!strcmp(v, "converged")) *(leap_disback_switch *)f = LEAP_DISBACK_SWITCH_CONVERGED;
    else return 0;
    return 1;
  }
  return 0;
}

/* FNV-1a over the bytes of weights: a state names the exact teacher and
 * path it continues, not just files of the same shape. */
static uint64_t fnv(uint64_t h, const float *w, size_t n) {
  const unsigned char *p = (const unsigned char *)w;
  for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}
#define FNV_START 0xcbf29ce484222325ULL

static uint64_t path_fingerprint(const lp_distill *d) {
  uint64_t h = FNV_START;
  for (int k = 0; k < d->n_path; k++) h = fnv(h, d->path[k], d->P);
  return h;
}

/* ------------------------------------------------------------------ write */

static leap_status meta_printf(lp_st_writer *w, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static leap_status meta_printf(lp_st_writer *w, const char *key, const char *fmt, ...) {
  char v[4200];
  va_list ap;
  va_start(ap, fmt);
  const int n = vsnprintf(v, sizeof v, fmt, ap);
  va_end(ap);
  if (n < 0 || n >= (int)sizeof v) return lp_error(LEAP_ERR_INVALID_ARG, "distill state: '%s' is too long", key);
  return lp_st_writer_meta(w, key, v);
}

static void rng_pack(const lp_rng *r, int64_t *state, double *spare) {
  memcpy(state, r->s, 4 * sizeof *state);
  spare[0] = r->spare;
  spare[1] = r->has_spare;
}

static void rng_unpack(lp_rng *r, const int64_t *state, const double *spare) {
  memcpy(r->s, state, 4 * sizeof *state);
  r->spare = spare[0];
  r->has_spare = spare[1] != 0;
}

static leap_status write_body(const lp_distill *d, lp_st_writer *w, double seconds) {
  leap_status s;
  char key[64], val[64];
  for (int i = 0; i < lp_distill_setting_count; i++) {
    snprintf(key, sizeof key, "distill.%s", lp_distill_settings[i].name);
    lp_distill_setting_format(&lp_distill_settings[i], &d->cfg, val, sizeof val);
    if ((s = lp_st_writer_meta(w, key, val))) return s;
  }
  char resolved[PATH_MAX];
  const char *teacher = realpath(d->teacher_path, resolved) ? resolved : d->teacher_path;
  if ((s = lp_st_writer_meta(w, "format", LP_DISTILL_STATE_FORMAT)) ||
      (s = meta_printf(w, "distill.iters", "%d", d->cfg.iters)) ||
      (s = meta_printf(w, "distill.iter", "%d", d->student->step)) ||
      (s = meta_printf(w, "distill.fake_step", "%d", d->fake->step)) ||
      (s = meta_printf(w, "distill.seconds", "%.17g", seconds)) ||
      (s = lp_st_writer_meta(w, "distill.teacher", teacher)) ||
      (s = meta_printf(w, "distill.teacher_fnv", "%016llx",
                       (unsigned long long)fnv(FNV_START, d->teacher, d->P))) ||
      (s = meta_printf(w, "distill.path_fnv", "%016llx", (unsigned long long)path_fingerprint(d))))
    return s;
  const int64_t shape[1] = {(int64_t)d->P};
  const struct {
    const char *name;
    const float *data;
  } arrays[] = {{"student.params", d->student->params}, {"student.adam_m", d->student->adam_m},
                {"student.adam_v", d->student->adam_v}, {"fake.params", d->fake->params},
                {"fake.adam_m", d->fake->adam_m},       {"fake.adam_v", d->fake->adam_v}};
  for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
    if ((s = lp_st_writer_add(w, arrays[i].name, LEAP_F32, 1, shape, arrays[i].data))) return s;
  /* RNGs: the distillation's own noise, the fake score's batches (the
   * student trainer draws none, kept for symmetry) */
  int64_t rs[3][4];
  double sp[3][2];
  rng_pack(&d->rng, rs[0], sp[0]);
  rng_pack(&d->student->rng, rs[1], sp[1]);
  rng_pack(&d->fake->rng, rs[2], sp[2]);
  if ((s = lp_st_writer_add(w, "rng.state", LEAP_I64, 2, (const int64_t[]){3, 4}, rs)) ||
      (s = lp_st_writer_add(w, "rng.spare", LEAP_F64, 2, (const int64_t[]){3, 2}, sp)))
    return s;
  /* the schedule: stage, iterations observed, iterations in the stage, and
   * the converged rule's window */
  int64_t in_stage = 0;
  int count = 0;
  if ((s = leap_disback_schedule_window(d->sched, &in_stage, NULL, 0, &count))) return s;
  const int64_t sched[3] = {leap_disback_schedule_stage(d->sched), d->sched->iter, in_stage};
  if ((s = lp_st_writer_add(w, "schedule.state", LEAP_I64, 1, (const int64_t[]){3}, sched))) return s;
  if (count > 0) {
    double *win = lp_malloc((size_t)count * sizeof *win);
    if (!win) return lp_error(LEAP_ERR_NOMEM, "distill state: out of memory");
    s = leap_disback_schedule_window(d->sched, &in_stage, win, count, &count);
    if (s == LEAP_OK) s = lp_st_writer_add(w, "schedule.window", LEAP_F64, 1, (const int64_t[]){count}, win);
    free(win);
  }
  return s;
}

leap_status lp_distill_state_unit(const lp_distill *d, const char *path, double seconds,
                                  const char *const *inputs, int ninputs, lp_out **out) {
  if (!d || !path || !out) return lp_error(LEAP_ERR_INVALID_ARG, "distill state: NULL argument");
  *out = NULL;
  if (d->cfg.method == LP_DISTILL_DISBACK && !d->path_recorded)
    return lp_error(LEAP_ERR_INVALID_ARG, "distill state: DisBack has no state before its path");
  lp_st_writer *w;
  leap_status s = lp_st_writer_create(path, &w);
  if (s != LEAP_OK) return s;
  if ((s = lp_st_writer_output(w, LP_OUT_TRAIN_STATE, inputs, ninputs)) || (s = write_body(d, w, seconds))) {
    lp_st_writer_abort(w);
    return s;
  }
  return lp_st_writer_finish_unit(w, out);
}

/* ------------------------------------------------------------------- read */

static leap_status open_state(const char *path, lp_st_file **out) {
  leap_status s = lp_st_open(path, out);
  if (s != LEAP_OK) return s;
  const char *fmt = lp_st_meta(*out, "format");
  if (!fmt || strcmp(fmt, LP_DISTILL_STATE_FORMAT) != 0) {
    /* the message first: fmt points into the file's header */
    s = lp_error(LEAP_ERR_FORMAT, "%s: not a leap distill state (format '%s', not %s)", path, fmt ? fmt : "(none)",
                 LP_DISTILL_STATE_FORMAT);
    lp_st_close(*out);
    *out = NULL;
  }
  return s;
}

static leap_status meta_get(const lp_st_file *f, const char *key, const char **out) {
  *out = lp_st_meta(f, key);
  if (!*out) return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ lacks '%s'", lp_st_path(f), key);
  return LEAP_OK;
}

static leap_status meta_int(const lp_st_file *f, const char *key, int lo, int *out) {
  const char *v;
  leap_status s = meta_get(f, key, &v);
  if (s != LEAP_OK) return s;
  char *end;
  errno = 0;
  const long x = strtol(v, &end, 10);
  if (end == v || *end || errno || x < lo || x > INT_MAX)
    return lp_error(LEAP_ERR_FORMAT, "%s: '%s' = '%s' is not an integer >= %d", lp_st_path(f), key, v, lo);
  *out = (int)x;
  return LEAP_OK;
}

static leap_status read_info(const lp_st_file *f, lp_distill_state_info *o) {
  memset(o, 0, sizeof *o);
  o->cfg = lp_distill_cfg_default();
  leap_status s;
  const char *v;
  char key[64];
  for (int i = 0; i < lp_distill_setting_count; i++) {
    snprintf(key, sizeof key, "distill.%s", lp_distill_settings[i].name);
    if ((s = meta_get(f, key, &v))) return s;
    if (!setting_parse(&lp_distill_settings[i], v, &o->cfg))
      return lp_error(LEAP_ERR_FORMAT, "%s: '%s' = '%s' is not a value of --%s", lp_st_path(f), key, v,
                      lp_distill_settings[i].name);
  }
  if ((s = meta_int(f, "distill.iters", 0, &o->cfg.iters)) || (s = meta_int(f, "distill.iter", 0, &o->iter)) ||
      (s = meta_get(f, "distill.teacher", &v)))
    return s;
  snprintf(o->teacher, sizeof o->teacher, "%s", v);
  if ((s = meta_get(f, "distill.seconds", &v))) return s;
  o->seconds = strtod(v, NULL);
  if (!(o->seconds >= 0)) o->seconds = 0;
  return LEAP_OK;
}

leap_status lp_distill_state_info_read(const char *path, lp_distill_state_info *out) {
  if (!path || !out) return lp_error(LEAP_ERR_INVALID_ARG, "distill state: NULL argument");
  lp_st_file *f;
  leap_status s = open_state(path, &f);
  if (s != LEAP_OK) return s;
  s = read_info(f, out);
  lp_st_close(f);
  return s;
}

static leap_status read_flat(const lp_st_file *f, const char *name, size_t P, float *dst) {
  const lp_st_tensor *t;
  leap_status s = lp_st_get(f, name, 1, (const int64_t[]){(int64_t)P}, &t);
  return s == LEAP_OK ? lp_st_read_f32(f, t, dst) : s;
}

static leap_status read_f64(const lp_st_file *f, const char *name, int ndim, const int64_t *shape, double *dst) {
  const lp_st_tensor *t;
  leap_status s = lp_st_get(f, name, ndim, shape, &t);
  return s == LEAP_OK ? lp_st_read_f64(f, t, dst) : s;
}

static leap_status read_i64(const lp_st_file *f, const char *name, int ndim, const int64_t *shape, int64_t *dst) {
  const lp_st_tensor *t;
  leap_status s = lp_st_get(f, name, ndim, shape, &t);
  if (s != LEAP_OK) return s;
  if (t->dtype != LEAP_I64) return lp_error(LEAP_ERR_FORMAT, "%s: '%s' is not I64", lp_st_path(f), name);
  memcpy(dst, t->data, (size_t)t->numel * sizeof *dst);
  return LEAP_OK;
}

/* The model file of path checkpoint k (written by lp_distill_record_path)
 * into dst, by the student's parameter names. */
static leap_status read_path_file(const lp_distill *d, const char *file, float *dst) {
  lp_st_file *f;
  leap_status s = lp_st_open(file, &f);
  if (s != LEAP_OK) return s;
  const lp_tlayout *L = &d->student->L;
  for (int i = 0; i < L->count && s == LEAP_OK; i++) {
    const lp_tparam *p = &L->p[i];
    const lp_st_tensor *t;
    s = lp_st_get(f, p->name, p->ndim, p->shape, &t);
    if (s == LEAP_OK) s = lp_st_read_f32(f, t, dst + p->off);
  }
  lp_st_close(f);
  return s;
}

static leap_status read_path(lp_distill *d, const char *dir) {
  const int N = d->cfg.path_checkpoints;
  d->path = lp_calloc((size_t)N, sizeof *d->path);
  if (!d->path) return lp_error(LEAP_ERR_NOMEM, "distill: out of memory");
  char file[4200];
  for (int k = 0; k < N; k++) {
    if (!lp_distill_path_file(dir, k, file, sizeof file))
      return lp_error(LEAP_ERR_INVALID_ARG, "distill: folder name too long");
    if (!(d->path[k] = lp_malloc(d->P * sizeof(float)))) return lp_error(LEAP_ERR_NOMEM, "distill: out of memory");
    d->n_path = k + 1;
    leap_status s = read_path_file(d, file, d->path[k]);
    if (s != LEAP_OK) return s;
  }
  return LEAP_OK;
}

static leap_status check_settings(const lp_st_file *f, const lp_distill *d, const lp_distill_state_info *info) {
  for (int i = 0; i < lp_distill_setting_count; i++) {
    const lp_distill_setting *st = &lp_distill_settings[i];
    if (lp_distill_setting_equal(st, &d->cfg, &info->cfg)) continue;
    char want[64], got[64];
    lp_distill_setting_format(st, &info->cfg, want, sizeof want);
    lp_distill_setting_format(st, &d->cfg, got, sizeof got);
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: the run's --%s was %s, not %s: a resumed run keeps its settings",
                    lp_st_path(f), st->name, want, got);
  }
  return LEAP_OK;
}

static leap_status check_fnv(const lp_st_file *f, const char *key, uint64_t have, const char *what) {
  const char *v;
  leap_status s = meta_get(f, key, &v);
  if (s != LEAP_OK) return s;
  char mine[20];
  snprintf(mine, sizeof mine, "%016llx", (unsigned long long)have);
  if (strcmp(v, mine) != 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: %s differs from the one the run was distilling with", lp_st_path(f),
                    what);
  return LEAP_OK;
}

static leap_status resume_from(lp_distill *d, const lp_st_file *f, const char *path_dir) {
  lp_distill_state_info info;
  leap_status s;
  if ((s = read_info(f, &info)) || (s = check_settings(f, d, &info)) ||
      (s = check_fnv(f, "distill.teacher_fnv", fnv(FNV_START, d->teacher, d->P), d->teacher_path)))
    return s;
  int fake_step = 0;
  if ((s = meta_int(f, "distill.fake_step", 0, &fake_step))) return s;
  if ((int64_t)fake_step != (int64_t)info.iter * d->cfg.fake_updates)
    return lp_error(LEAP_ERR_FORMAT, "%s: %d fake-score steps for %d iterations of %d updates", lp_st_path(f),
                    fake_step, info.iter, d->cfg.fake_updates);
  if (d->cfg.method == LP_DISTILL_DISBACK) {
    if (!path_dir) return lp_error(LEAP_ERR_INVALID_ARG, "distill: DisBack resumes with its path folder");
    char what[4300];
    snprintf(what, sizeof what, "the degradation path in %s", path_dir);
    if ((s = read_path(d, path_dir)) || (s = check_fnv(f, "distill.path_fnv", path_fingerprint(d), what)))
      return s;
  }
  if ((s = read_flat(f, "student.params", d->P, d->student->params)) ||
      (s = read_flat(f, "student.adam_m", d->P, d->student->adam_m)) ||
      (s = read_flat(f, "student.adam_v", d->P, d->student->adam_v)) ||
      (s = read_flat(f, "fake.params", d->P, d->fake->params)) ||
      (s = read_flat(f, "fake.adam_m", d->P, d->fake->adam_m)) ||
      (s = read_flat(f, "fake.adam_v", d->P, d->fake->adam_v)))
    return s;
  for (size_t k = 0; k < d->P; k++)
    if (!isfinite(d->student->params[k]) || !isfinite(d->fake->params[k]))
      return lp_error(LEAP_ERR_NUMERIC, "%s: a weight is not finite", lp_st_path(f));
  memcpy(d->student->ema, d->student->params, d->P * sizeof(float));
  memcpy(d->fake->ema, d->fake->params, d->P * sizeof(float));
  int64_t rs[3][4];
  double sp[3][2];
  if ((s = read_i64(f, "rng.state", 2, (const int64_t[]){3, 4}, &rs[0][0])) ||
      (s = read_f64(f, "rng.spare", 2, (const int64_t[]){3, 2}, &sp[0][0])))
    return s;
  rng_unpack(&d->rng, rs[0], sp[0]);
  rng_unpack(&d->student->rng, rs[1], sp[1]);
  rng_unpack(&d->fake->rng, rs[2], sp[2]);
  d->student->step = info.iter;
  d->fake->step = fake_step;
  int64_t sched[3];
  if ((s = read_i64(f, "schedule.state", 1, (const int64_t[]){3}, sched))) return s;
  if (sched[1] != info.iter)
    return lp_error(LEAP_ERR_FORMAT, "%s: the schedule observed %lld iterations, the student %d", lp_st_path(f),
                    (long long)sched[1], info.iter);
  if (sched[0] < 0 || sched[0] > INT_MAX) return lp_error(LEAP_ERR_FORMAT, "%s: schedule stage %lld", lp_st_path(f),
                                                           (long long)sched[0]);
  if ((s = leap_disback_schedule_restore(d->sched, (int)sched[0], sched[1], sched[2]))) return s;
  const lp_st_tensor *wt = lp_st_find(f, "schedule.window");
  const int count = wt && wt->ndim == 1 && wt->shape[0] > 0 && wt->shape[0] <= INT_MAX ? (int)wt->shape[0] : 0;
  double *win = NULL;
  if (count > 0) {
    if (!(win = lp_malloc((size_t)count * sizeof *win))) return lp_error(LEAP_ERR_NOMEM, "distill: out of memory");
    s = read_f64(f, "schedule.window", 1, (const int64_t[]){count}, win);
  }
  if (s == LEAP_OK) s = leap_disback_schedule_restore_window(d->sched, sched[2], win, count);
  free(win);
  if (s == LEAP_OK) d->path_recorded = d->cfg.method == LP_DISTILL_DISBACK;
  return s;
}

leap_status lp_distill_resume(lp_distill *d, const char *state_path, const char *path_dir) {
  if (!d || !state_path) return lp_error(LEAP_ERR_INVALID_ARG, "distill: NULL argument");
  if (d->student->step > 0 || d->path_recorded || d->path)
    return lp_error(LEAP_ERR_INVALID_ARG, "distill: only a fresh run resumes from a state");
  lp_st_file *f;
  leap_status s = open_state(state_path, &f);
  if (s != LEAP_OK) return s;
  s = resume_from(d, f, path_dir);
  lp_st_close(f);
  return s;
}
