/* cache_profile_io.c - ERTACache profiles as JSON: a small writer (numbers
 * with 9 significant digits, enough for float coefficients) and a reader
 * over core/json.h that checks every field it uses. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_profile.h"
#include "alloc.h"
#include "error.h"
#include "file_write.h"
#include "json.h"

static size_t coef_count(const lp_cache_profile *p) {
  return (size_t)p->steps * p->branches * 2 * p->channels;
}

leap_status lp_cache_setting_alloc(const lp_cache_profile *p, lp_cache_setting *s) {
  const size_t S = (size_t)p->steps;
  memset(s, 0, sizeof *s);
  s->reuse = lp_calloc(S, 1);
  s->phi = lp_malloc(S * sizeof(double));
  s->phi_norect = lp_malloc(S * sizeof(double));
  s->phi_paper = lp_malloc(S * sizeof(double));
  s->err_plain = lp_calloc(S, sizeof(double));
  s->err_rect = lp_calloc(S, sizeof(double));
  s->coef = lp_calloc(coef_count(p) ? coef_count(p) : 1, sizeof(float));
  if (!s->reuse || !s->phi || !s->phi_norect || !s->phi_paper || !s->coef || !s->err_plain || !s->err_rect) {
    lp_cache_setting_free(s);
    return lp_error(LEAP_ERR_NOMEM, "cache profile: out of memory");
  }
  for (size_t i = 0; i < S; i++) s->phi[i] = s->phi_norect[i] = s->phi_paper[i] = 1.0;
  for (size_t i = 0; i < S * p->branches; i++)
    for (int c = 0; c < p->channels; c++) s->coef[i * 2 * p->channels + c] = 1.0f;
  return LEAP_OK;
}

void lp_cache_setting_free(lp_cache_setting *s) {
  if (!s) return;
  free(s->reuse), free(s->phi), free(s->phi_norect), free(s->phi_paper), free(s->coef);
  free(s->err_plain), free(s->err_rect);
  memset(s, 0, sizeof *s);
}

leap_status lp_cache_profile_alloc(lp_cache_profile *p, int nsettings) {
  const size_t S = (size_t)p->steps;
  p->calib_labels = lp_calloc((size_t)(p->calib_images > 0 ? p->calib_images : 1), sizeof *p->calib_labels);
  p->rel_change = lp_calloc(S, sizeof(double));
  p->tc_indicator = lp_calloc(S, sizeof(double));
  p->settings = lp_calloc((size_t)(nsettings > 0 ? nsettings : 1), sizeof *p->settings);
  if (!p->calib_labels || !p->rel_change || !p->tc_indicator || !p->settings)
    return lp_error(LEAP_ERR_NOMEM, "cache profile: out of memory");
  p->nsettings = nsettings;
  for (int k = 0; k < nsettings; k++) {
    leap_status st = lp_cache_setting_alloc(p, &p->settings[k]);
    if (st != LEAP_OK) return st;
  }
  return LEAP_OK;
}

void lp_cache_profile_free(lp_cache_profile *p) {
  if (!p) return;
  for (int k = 0; p->settings && k < p->nsettings; k++) lp_cache_setting_free(&p->settings[k]);
  free(p->settings), free(p->calib_labels), free(p->rel_change), free(p->tc_indicator);
  memset(p, 0, sizeof *p);
}

double lp_cache_tc_eval(const lp_cache_profile *p, double x) {
  double y = 0;
  for (int k = LP_TC_DEGREE; k >= 0; k--) y = y * x + p->tc_poly[k];
  return y;
}

/* ------------------------------------------------------------------ writer */

static void put_darr(lp_strbuf *f, const double *v, int n) {
  lp_strbuf_put(f, "[", 1);
  for (int i = 0; i < n; i++) lp_strbuf_printf(f, i ? ",%.9g" : "%.9g", v[i]);
  lp_strbuf_put(f, "]", 1);
}

static void put_farr(lp_strbuf *f, const float *v, int n) {
  lp_strbuf_put(f, "[", 1);
  for (int i = 0; i < n; i++) lp_strbuf_printf(f, i ? ",%.9g" : "%.9g", (double)v[i]);
  lp_strbuf_put(f, "]", 1);
}

static const char *level_name(leap_cache_level l) { return l == LEAP_CACHE_OUTPUT ? "output" : "hidden"; }

static void write_setting(lp_strbuf *f, const lp_cache_profile *p, const lp_cache_setting *s) {
  const int S = p->steps, C = p->channels;
  lp_strbuf_printf(f, "    {\"name\": \"%s\", \"lambda\": %.9g, \"computed\": %d,\n     \"reuse\": [", s->name,
          s->lambda, s->computed);
  for (int i = 0; i < S; i++) lp_strbuf_printf(f, i ? ",%d" : "%d", s->reuse[i]);
  lp_strbuf_printf(f, "],\n     \"phi\": ");
  put_darr(f, s->phi, S);
  lp_strbuf_printf(f, ",\n     \"phi_norect\": ");
  put_darr(f, s->phi_norect, S);
  lp_strbuf_printf(f, ",\n     \"phi_paper\": ");
  put_darr(f, s->phi_paper, S);
  lp_strbuf_printf(f, ",\n     \"err_plain\": ");
  put_darr(f, s->err_plain, S);
  lp_strbuf_printf(f, ",\n     \"err_rect\": ");
  put_darr(f, s->err_rect, S);
  lp_strbuf_printf(f, ",\n     \"rectification\": {\"shrink\": %.9g, \"folds\": %d, \"grid\": ", s->rect_shrink, s->rect_folds);
  put_darr(f, s->rect_grid, s->rect_ncand);
  lp_strbuf_printf(f, ", \"cv_psnr\": ");
  put_darr(f, s->rect_cv_psnr, s->rect_ncand);
  lp_strbuf_printf(f, ", \"cv_se\": ");
  put_darr(f, s->rect_cv_se, s->rect_ncand);
  lp_strbuf_put(f, "}", 1);
  /* Coefficients of the reused steps, when rectification is on:
   * [branch][a or b][channel]. */
  lp_strbuf_printf(f, ",\n     \"rect\": [");
  int first = 1;
  for (int i = 0; i < S; i++) {
    if (!s->reuse[i] || !(s->rect_shrink > 0)) continue;
    lp_strbuf_printf(f, "%s\n      {\"step\": %d, \"a\": [", first ? "" : ",", i);
    first = 0;
    for (int b = 0; b < p->branches; b++) {
      if (b) lp_strbuf_put(f, ",", 1);
      put_farr(f, s->coef + ((size_t)(i * p->branches + b) * 2) * C, C);
    }
    lp_strbuf_printf(f, "], \"b\": [");
    for (int b = 0; b < p->branches; b++) {
      if (b) lp_strbuf_put(f, ",", 1);
      put_farr(f, s->coef + ((size_t)(i * p->branches + b) * 2 + 1) * C, C);
    }
    lp_strbuf_printf(f, "]}");
  }
  lp_strbuf_printf(f, "]}");
}

leap_status lp_cache_profile_write(const lp_cache_profile *p, const char *path) {
  /* The whole text first (a profile is a few hundred kB at most), then one
   * write through lp_write_all to a temporary name, renamed when complete. */
  lp_strbuf text = {0}, *f = &text;
  lp_strbuf_printf(f, "{\n  \"format\": \"%s\", \"version\": %d,\n", LP_CACHE_FORMAT, LP_CACHE_FORMAT_VERSION);
  lp_strbuf_printf(f, "  \"model_id\": \"%s\",\n", p->model_id);
  lp_strbuf_printf(f, "  \"solver\": \"%s\", \"schedule\": \"%s\", \"shift\": %.17g, \"steps\": %d, \"cfg\": %.17g,\n",
          leap_solver_name(p->solver), leap_schedule_name(p->schedule), p->shift, p->steps, p->cfg);
  lp_strbuf_printf(f, "  \"level\": \"%s\", \"channels\": %d, \"branches\": %d, \"window\": %d,\n", level_name(p->level),
          p->channels, p->branches, p->window);
  lp_strbuf_printf(f, "  \"calibration\": {\"images\": %d, \"seed\": %llu, \"labels\": [", p->calib_images,
          (unsigned long long)p->calib_seed);
  for (int i = 0; i < p->calib_images; i++) lp_strbuf_printf(f, i ? ",%d" : "%d", (int)p->calib_labels[i]);
  lp_strbuf_printf(f, "]},\n  \"rel_change\": ");
  put_darr(f, p->rel_change, p->steps);
  lp_strbuf_printf(f, ",\n  \"teacache\": {\"indicator\": ");
  put_darr(f, p->tc_indicator, p->steps);
  lp_strbuf_printf(f, ", \"poly\": ");
  put_darr(f, p->tc_poly, LP_TC_DEGREE + 1);
  lp_strbuf_printf(f, "},\n  \"settings\": [\n");
  for (int k = 0; k < p->nsettings; k++) {
    if (k) lp_strbuf_printf(f, ",\n");
    write_setting(f, p, &p->settings[k]);
  }
  lp_strbuf_printf(f, "\n  ]\n}\n");
  if (text.oom) {
    free(text.data);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory for the profile", path);
  }
  size_t len = strlen(path);
  char *tmp = lp_malloc(len + 16);
  if (!tmp) {
    free(text.data);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  }
  snprintf(tmp, len + 16, "%s.tmp%d", path, (int)getpid());
  leap_status s = LEAP_OK;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    s = lp_error(LEAP_ERR_IO, "%s: cannot write the profile: %s", path, strerror(errno));
  } else {
    int ok = lp_write_all(fd, text.data, text.len) && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) ok = 0, e = errno;
    if (!ok || rename(tmp, path) != 0) {
      if (ok) e = errno;
      unlink(tmp);
      s = lp_error(LEAP_ERR_IO, "%s: writing the profile failed: %s", path, strerror(e));
    }
  }
  free(tmp);
  free(text.data);
  return s;
}

/* ------------------------------------------------------------------ reader */

typedef struct rd {
  const char *path;
  leap_status s;
} rd;

static const lp_json *field(rd *r, const lp_json *obj, const char *key, lp_json_type type) {
  if (r->s != LEAP_OK) return NULL;
  const lp_json *v = lp_json_get(obj, key);
  if (!v || v->type != type) {
    r->s = lp_error(LEAP_ERR_FORMAT, "%s: profile field '%s' is %s, expected %s", r->path, key,
                    v ? lp_json_type_name(v->type) : "missing", lp_json_type_name(type));
    return NULL;
  }
  return v;
}

static double num(rd *r, const lp_json *obj, const char *key) {
  const lp_json *v = field(r, obj, key, LP_JSON_NUMBER);
  return v ? v->number : 0;
}

static int inum(rd *r, const lp_json *obj, const char *key, int lo, int hi) {
  const lp_json *v = field(r, obj, key, LP_JSON_NUMBER);
  if (!v) return lo;
  if (!v->is_int || v->integer < lo || v->integer > hi) {
    r->s = lp_error(LEAP_ERR_FORMAT, "%s: profile field '%s' = %g must be an integer in %d..%d", r->path, key,
                    v->number, lo, hi);
    return lo;
  }
  return (int)v->integer;
}

static const char *str(rd *r, const lp_json *obj, const char *key) {
  const lp_json *v = field(r, obj, key, LP_JSON_STRING);
  return v ? v->string : "";
}

/* A numeric array of exactly n items into d (double) or f (float). */
static void arr(rd *r, const lp_json *obj, const char *key, int n, double *d, float *f) {
  const lp_json *v = field(r, obj, key, LP_JSON_ARRAY);
  if (!v) return;
  if (v->count != n) {
    r->s = lp_error(LEAP_ERR_FORMAT, "%s: profile field '%s' has %d items, expected %d", r->path, key, v->count, n);
    return;
  }
  for (int i = 0; i < n; i++) {
    if (v->items[i].type != LP_JSON_NUMBER || !isfinite(v->items[i].number)) {
      r->s = lp_error(LEAP_ERR_FORMAT, "%s: profile field '%s' item %d is not a finite number", r->path, key, i);
      return;
    }
    if (d) d[i] = v->items[i].number;
    if (f) f[i] = (float)v->items[i].number;
  }
}

static void read_setting(rd *r, const lp_json *js, lp_cache_profile *p, lp_cache_setting *s) {
  const int S = p->steps, C = p->channels;
  snprintf(s->name, sizeof s->name, "%s", str(r, js, "name"));
  s->lambda = num(r, js, "lambda");
  s->computed = inum(r, js, "computed", 1, S);
  double *reuse = lp_malloc((size_t)S * sizeof *reuse);
  if (!reuse) {
    r->s = lp_error(LEAP_ERR_NOMEM, "out of memory");
    return;
  }
  arr(r, js, "reuse", S, reuse, NULL);
  for (int i = 0; r->s == LEAP_OK && i < S; i++) s->reuse[i] = reuse[i] != 0;
  free(reuse);
  arr(r, js, "phi", S, s->phi, NULL);
  arr(r, js, "phi_norect", S, s->phi_norect, NULL);
  arr(r, js, "phi_paper", S, s->phi_paper, NULL);
  /* phi scales a step's velocity (or its interval): at or below 0 it would
   * stop or reverse time; the paper's phi is clipped to 0..1. */
  for (int i = 0; r->s == LEAP_OK && i < S; i++)
    if (!(s->phi[i] > 0) || !(s->phi_norect[i] > 0) || !(s->phi_paper[i] >= 0 && s->phi_paper[i] <= 1))
      r->s = lp_error(LEAP_ERR_FORMAT, "%s: setting '%s' step %d has phi %g / phi_norect %g (must be > 0) and "
                      "phi_paper %g (must be in 0..1)", r->path, s->name, i, s->phi[i], s->phi_norect[i],
                      s->phi_paper[i]);
  arr(r, js, "err_plain", S, s->err_plain, NULL);
  arr(r, js, "err_rect", S, s->err_rect, NULL);
  const lp_json *rc = field(r, js, "rectification", LP_JSON_OBJECT);
  if (rc) {
    s->rect_shrink = num(r, rc, "shrink");
    s->rect_folds = inum(r, rc, "folds", 0, 1 << 20);
    const lp_json *g = field(r, rc, "grid", LP_JSON_ARRAY);
    if (g && g->count > LP_RECT_MAXCAND)
      r->s = lp_error(LEAP_ERR_FORMAT, "%s: setting '%s' has %d rectification candidates, at most %d", r->path,
                      s->name, g->count, LP_RECT_MAXCAND);
    if (r->s == LEAP_OK) s->rect_ncand = g->count;
    arr(r, rc, "grid", s->rect_ncand, s->rect_grid, NULL);
    arr(r, rc, "cv_psnr", s->rect_ncand, s->rect_cv_psnr, NULL);
    arr(r, rc, "cv_se", s->rect_ncand, s->rect_cv_se, NULL);
    if (r->s == LEAP_OK && !(s->rect_shrink >= 0 && s->rect_shrink <= 1))
      r->s = lp_error(LEAP_ERR_FORMAT, "%s: setting '%s' rectification shrink %g is outside 0..1", r->path, s->name,
                      s->rect_shrink);
  }
  const lp_json *rect = field(r, js, "rect", LP_JSON_ARRAY);
  for (int k = 0; rect && r->s == LEAP_OK && k < rect->count; k++) {
    const lp_json *e = &rect->items[k];
    const int i = inum(r, e, "step", 0, S - 1);
    const lp_json *a = field(r, e, "a", LP_JSON_ARRAY), *b = field(r, e, "b", LP_JSON_ARRAY);
    if (r->s != LEAP_OK) break;
    if (a->count != p->branches || b->count != p->branches) {
      r->s = lp_error(LEAP_ERR_FORMAT, "%s: setting '%s' rect of step %d has %d/%d branches, expected %d", r->path,
                      s->name, i, a->count, b->count, p->branches);
      break;
    }
    for (int br = 0; br < p->branches && r->s == LEAP_OK; br++) {
      float *dst = s->coef + ((size_t)(i * p->branches + br) * 2) * C;
      lp_json wrap_a = {.type = LP_JSON_OBJECT, .count = 1, .items = (lp_json *)&a->items[br],
                        .keys = (char *[]){"a"}};
      lp_json wrap_b = {.type = LP_JSON_OBJECT, .count = 1, .items = (lp_json *)&b->items[br],
                        .keys = (char *[]){"b"}};
      arr(r, &wrap_a, "a", C, NULL, dst);
      arr(r, &wrap_b, "b", C, NULL, dst + C);
    }
  }
  int computed = 0;
  for (int i = 0; i < S; i++) computed += !s->reuse[i];
  if (r->s == LEAP_OK && (computed != s->computed || s->reuse[0]))
    r->s = lp_error(LEAP_ERR_FORMAT, "%s: setting '%s' computes %d steps but says %d (step 0 must be computed)",
                    r->path, s->name, computed, s->computed);
}

leap_status lp_cache_profile_read(const char *path, lp_cache_profile *p) {
  memset(p, 0, sizeof *p);
  FILE *f = fopen(path, "rb");
  if (!f) return lp_error(LEAP_ERR_IO, "%s: cannot open the cache profile", path);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = len > 0 ? lp_malloc((size_t)len) : NULL;
  size_t got = text ? fread(text, 1, (size_t)len, f) : 0;
  fclose(f);
  if (!text || got != (size_t)len) {
    free(text);
    if (len > 0 && !text) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory reading the cache profile", path);
    return lp_error(LEAP_ERR_IO, "%s: cannot read the cache profile", path);
  }
  char err[256];
  int oom;
  lp_json *j = lp_json_parse_oom(text, (size_t)len, err, sizeof err, &oom);
  free(text);
  if (!j) return lp_error(oom ? LEAP_ERR_NOMEM : LEAP_ERR_FORMAT, "%s: not a JSON profile: %s", path, err);
  rd r = {path, LEAP_OK};
  if (j->type != LP_JSON_OBJECT || strcmp(str(&r, j, "format"), LP_CACHE_FORMAT) != 0) {
    lp_json_free(j);
    return lp_error(LEAP_ERR_FORMAT, "%s: not a leap ERTACache profile (format '%s')", path, LP_CACHE_FORMAT);
  }
  const int version = inum(&r, j, "version", 1, 1000);
  if (r.s == LEAP_OK && version == 1)
    r.s = lp_error(LEAP_ERR_FORMAT, "%s: profile version 1 was written by an older leap whose rectification was not "
                   "validated; make the profile again with 'leap profile' (this leap reads version %d)", path,
                   LP_CACHE_FORMAT_VERSION);
  else if (r.s == LEAP_OK && version != LP_CACHE_FORMAT_VERSION)
    r.s = lp_error(LEAP_ERR_FORMAT, "%s: profile version %d is not supported (this leap reads version %d)", path,
                   version, LP_CACHE_FORMAT_VERSION);
  snprintf(p->model_id, sizeof p->model_id, "%s", str(&r, j, "model_id"));
  if (r.s == LEAP_OK && leap_solver_from_name(str(&r, j, "solver"), &p->solver) != LEAP_OK)
    r.s = lp_error(LEAP_ERR_FORMAT, "%s: unknown solver '%s'", path, str(&r, j, "solver"));
  if (r.s == LEAP_OK && leap_schedule_from_name(str(&r, j, "schedule"), &p->schedule) != LEAP_OK)
    r.s = lp_error(LEAP_ERR_FORMAT, "%s: unknown schedule '%s'", path, str(&r, j, "schedule"));
  p->shift = num(&r, j, "shift");
  p->cfg = num(&r, j, "cfg");
  p->steps = inum(&r, j, "steps", 1, 10000);
  const char *level = str(&r, j, "level");
  if (r.s == LEAP_OK && strcmp(level, "hidden") && strcmp(level, "output"))
    r.s = lp_error(LEAP_ERR_FORMAT, "%s: level '%s' is not hidden or output", path, level);
  p->level = strcmp(level, "output") == 0 ? LEAP_CACHE_OUTPUT : LEAP_CACHE_HIDDEN;
  p->channels = inum(&r, j, "channels", 1, 1 << 20);
  p->branches = inum(&r, j, "branches", 1, 2);
  p->window = inum(&r, j, "window", 1, 10000);
  const lp_json *cal = field(&r, j, "calibration", LP_JSON_OBJECT);
  if (cal) {
    p->calib_images = inum(&r, cal, "images", 1, 1 << 20);
    p->calib_seed = (uint64_t)num(&r, cal, "seed");
  }
  const lp_json *settings = field(&r, j, "settings", LP_JSON_ARRAY);
  if (r.s == LEAP_OK && settings->count < 1)
    r.s = lp_error(LEAP_ERR_FORMAT, "%s: the profile has no settings", path);
  if (r.s == LEAP_OK) r.s = lp_cache_profile_alloc(p, settings->count);
  if (r.s == LEAP_OK && cal) {
    double *lab = lp_malloc((size_t)p->calib_images * sizeof *lab);
    if (!lab) r.s = lp_error(LEAP_ERR_NOMEM, "out of memory");
    arr(&r, cal, "labels", p->calib_images, lab, NULL);
    for (int i = 0; r.s == LEAP_OK && i < p->calib_images; i++) p->calib_labels[i] = (int32_t)lab[i];
    free(lab);
  }
  arr(&r, j, "rel_change", p->steps, p->rel_change, NULL);
  const lp_json *tc = field(&r, j, "teacache", LP_JSON_OBJECT);
  if (tc) {
    arr(&r, tc, "indicator", p->steps, p->tc_indicator, NULL);
    arr(&r, tc, "poly", LP_TC_DEGREE + 1, p->tc_poly, NULL);
  }
  for (int k = 0; r.s == LEAP_OK && k < p->nsettings; k++) {
    if (settings->items[k].type != LP_JSON_OBJECT) {
      r.s = lp_error(LEAP_ERR_FORMAT, "%s: setting %d is not an object", path, k);
      break;
    }
    read_setting(&r, &settings->items[k], p, &p->settings[k]);
  }
  lp_json_free(j);
  if (r.s != LEAP_OK) lp_cache_profile_free(p);
  return r.s;
}

leap_status lp_cache_profile_check(const lp_cache_profile *p, const char *path, const leap_cache_desc *d) {
  const char *why = NULL;
  char have[96] = "", want[96] = "";
  if (d->steps != p->steps) {
    why = "steps";
    snprintf(have, sizeof have, "%d", p->steps), snprintf(want, sizeof want, "%d", d->steps);
  } else if (d->solver != p->solver) {
    why = "sampler";
    snprintf(have, sizeof have, "%s", leap_solver_name(p->solver));
    snprintf(want, sizeof want, "%s", leap_solver_name(d->solver));
  } else if (d->schedule != p->schedule) {
    why = "schedule";
    snprintf(have, sizeof have, "%s", leap_schedule_name(p->schedule));
    snprintf(want, sizeof want, "%s", leap_schedule_name(d->schedule));
  } else if (fabs(d->shift - p->shift) > 1e-9 * fabs(p->shift)) {
    why = "shift";
    snprintf(have, sizeof have, "%g", p->shift), snprintf(want, sizeof want, "%g", d->shift);
  } else if (fabs(d->cfg - p->cfg) > 1e-9 * (fabs(p->cfg) + 1)) {
    why = "guidance (cfg)";
    snprintf(have, sizeof have, "%g", p->cfg), snprintf(want, sizeof want, "%g", d->cfg);
  } else if (d->model_id && strcmp(d->model_id, p->model_id) != 0) {
    why = "model";
    snprintf(have, sizeof have, "id %s", p->model_id), snprintf(want, sizeof want, "id %s", d->model_id);
  } else if (d->branches != p->branches) {
    why = "CFG branches";
    snprintf(have, sizeof have, "%d", p->branches), snprintf(want, sizeof want, "%d", d->branches);
  } else if (d->level != p->level && d->policy == LEAP_CACHE_ERTA && d->rectify) {
    why = "cache level";
    snprintf(have, sizeof have, "%s", level_name(p->level)), snprintf(want, sizeof want, "%s", level_name(d->level));
  }
  if (!why) return LEAP_OK;
  return lp_error(LEAP_ERR_INVALID_ARG, "%s: the profile was made for %s %s, this run uses %s; profile again with "
                  "'leap profile' for this run", path, why, have, want);
}
