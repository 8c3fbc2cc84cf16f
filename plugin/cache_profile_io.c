/* cache_profile_io.c - ERTACache profiles as JSON: a small writer (numbers
 * with 9 significant digits, enough for float coefficients) and a reader
 * over core/json.h that checks every field it uses. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_profile.h"
#include "alloc.h"
#include "error.h"
#include "file_read.h"
#include "file_write.h"
#include "json.h"
#include "output.h"

static size_t coef_count(const lp_cache_profile *p) {
  return (size_t)p->steps * p->branches * 2 * p->channels;
}

/* The per-step arrays of a setting, zeroed, phi = 1; coef stays NULL. */
static leap_status setting_alloc_steps(const lp_cache_profile *p, lp_cache_setting *s) {
  const size_t S = (size_t)p->steps;
  memset(s, 0, sizeof *s);
  s->reuse = lp_calloc(S, 1);
  s->phi = lp_malloc(S * sizeof(double));
  s->phi_norect = lp_malloc(S * sizeof(double));
  s->phi_paper = lp_malloc(S * sizeof(double));
  s->err_plain = lp_calloc(S, sizeof(double));
  s->err_rect = lp_calloc(S, sizeof(double));
  if (!s->reuse || !s->phi || !s->phi_norect || !s->phi_paper || !s->err_plain || !s->err_rect) {
    lp_cache_setting_free(s);
    return lp_error(LEAP_ERR_NOMEM, "cache profile: out of memory");
  }
  for (size_t i = 0; i < S; i++) s->phi[i] = s->phi_norect[i] = s->phi_paper[i] = 1.0;
  return LEAP_OK;
}

/* The coefficient table of a setting, a = 1, b = 0. */
static leap_status setting_alloc_coef(const lp_cache_profile *p, lp_cache_setting *s) {
  s->coef = lp_calloc(coef_count(p) ? coef_count(p) : 1, sizeof(float));
  if (!s->coef) return lp_error(LEAP_ERR_NOMEM, "cache profile: out of memory");
  for (size_t i = 0; i < (size_t)p->steps * p->branches; i++)
    for (int c = 0; c < p->channels; c++) s->coef[i * 2 * p->channels + c] = 1.0f;
  return LEAP_OK;
}

leap_status lp_cache_setting_alloc(const lp_cache_profile *p, lp_cache_setting *s) {
  leap_status st = setting_alloc_steps(p, s);
  if (st == LEAP_OK && (st = setting_alloc_coef(p, s)) != LEAP_OK) lp_cache_setting_free(s);
  return st;
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
  return lp_cache_profile_write_job(p, path, NULL, 0);
}

leap_status lp_cache_profile_write_job(const lp_cache_profile *p, const char *path, const char *const *inputs,
                                       int ninputs) {
  /* The whole text first (a profile is a few hundred kB at most), then one
   * write through lp_write_all to the temporary (core/output.h). */
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
  const leap_status s = lp_out_write_bytes(path, LP_OUT_PROFILE, inputs, ninputs, text.data, text.len, "profile");
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

/* The array under key if it has exactly n items (checked before anything
 * is sized from n). */
static const lp_json *counted(rd *r, const lp_json *obj, const char *key, int n) {
  const lp_json *v = field(r, obj, key, LP_JSON_ARRAY);
  if (v && v->count != n) {
    r->s = lp_error(LEAP_ERR_FORMAT, "%s: profile field '%s' has %d items, expected %d", r->path, key, v->count, n);
    return NULL;
  }
  return v;
}

/* The rect list of a setting whose rectification is on: one entry per
 * reused step, each with branches arrays a and b of channels numbers. Its
 * shape is checked on the parsed file before the table is sized, so the
 * table never holds more coefficients than the file spells out times the
 * steps per reused step. */
static void read_rect(rd *r, const lp_json *rect, lp_cache_profile *p, lp_cache_setting *s) {
  const int S = p->steps, C = p->channels;
  int reused = 0;
  for (int i = 0; i < S; i++) reused += s->reuse[i];
  if (rect->count != reused) {
    r->s = lp_error(LEAP_ERR_FORMAT, "%s: setting '%s' has rectification on but %d rect entries for its %d reused "
                    "steps", r->path, s->name, rect->count, reused);
    return;
  }
  unsigned char *seen = lp_calloc((size_t)S, 1);
  if (!seen) {
    r->s = lp_error(LEAP_ERR_NOMEM, "%s: out of memory", r->path);
    return;
  }
  for (int k = 0; r->s == LEAP_OK && k < rect->count; k++) {
    const lp_json *e = &rect->items[k];
    if (e->type != LP_JSON_OBJECT) {
      r->s = lp_error(LEAP_ERR_FORMAT, "%s: setting '%s' rect entry %d is not an object", r->path, s->name, k);
      break;
    }
    const int i = inum(r, e, "step", 0, S - 1);
    const lp_json *ab[2] = {counted(r, e, "a", p->branches), counted(r, e, "b", p->branches)};
    if (r->s != LEAP_OK) break;
    if (!s->reuse[i]) {
      r->s = lp_error(LEAP_ERR_FORMAT, "%s: setting '%s' has a rect entry for step %d, which it computes", r->path,
                      s->name, i);
      break;
    }
    if (seen[i]++) {
      r->s = lp_error(LEAP_ERR_FORMAT, "%s: setting '%s' has two rect entries for step %d", r->path, s->name, i);
      break;
    }
    for (int w = 0; w < 2 && r->s == LEAP_OK; w++)
      for (int br = 0; br < p->branches && r->s == LEAP_OK; br++)
        if (ab[w]->items[br].type != LP_JSON_ARRAY || ab[w]->items[br].count != C)
          r->s = lp_error(LEAP_ERR_FORMAT, "%s: setting '%s' rect of step %d: %s[%d] is not %d numbers", r->path,
                          s->name, i, w ? "b" : "a", br, C);
  }
  free(seen);
  if (r->s != LEAP_OK || (r->s = setting_alloc_coef(p, s)) != LEAP_OK) return;
  for (int k = 0; r->s == LEAP_OK && k < rect->count; k++) {
    const lp_json *e = &rect->items[k];
    const int i = (int)lp_json_get(e, "step")->integer;
    for (int w = 0; w < 2; w++) {
      const lp_json *v = lp_json_get(e, w ? "b" : "a");
      for (int br = 0; br < p->branches && r->s == LEAP_OK; br++) {
        float *dst = s->coef + ((size_t)(i * p->branches + br) * 2 + (size_t)w) * C;
        lp_json wrap = {.type = LP_JSON_OBJECT, .count = 1, .items = (lp_json *)&v->items[br],
                        .keys = (char *[]){w ? "b" : "a"}};
        arr(r, &wrap, w ? "b" : "a", C, NULL, dst);
      }
    }
  }
}

static void read_setting(rd *r, const lp_json *js, lp_cache_profile *p, lp_cache_setting *s) {
  const int S = p->steps;
  /* The per-step arrays are sized only once the file shows S steps. */
  if (!counted(r, js, "reuse", S)) return;
  if ((r->s = setting_alloc_steps(p, s)) != LEAP_OK) return;
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
  int computed = 0;
  for (int i = 0; i < S; i++) computed += !s->reuse[i];
  if (r->s == LEAP_OK && (computed != s->computed || s->reuse[0]))
    r->s = lp_error(LEAP_ERR_FORMAT, "%s: setting '%s' computes %d steps but says %d (step 0 must be computed)",
                    r->path, s->name, computed, s->computed);
  /* Coefficients only where rectification is on (the writer writes them
   * only then); elsewhere coef stays NULL: the identity, never read. */
  const lp_json *rect = field(r, js, "rect", LP_JSON_ARRAY);
  if (r->s == LEAP_OK && s->rect_shrink > 0) read_rect(r, rect, p, s);
}

/* A JSON number that is an integer in lo..hi, converted only then. */
static int int_item(const lp_json *v, double lo, double hi) {
  return v->type == LP_JSON_NUMBER && v->number == floor(v->number) && v->number >= lo && v->number <= hi;
}

/* The calibration seed: written as an unsigned 64-bit integer; above
 * 2^63 the parser keeps only the nearest double, which must still be
 * integral and at most 2^64 (the rounding of the largest seeds; saturated)
 * to convert. */
static uint64_t seed_of(rd *r, const lp_json *cal) {
  const lp_json *v = field(r, cal, "seed", LP_JSON_NUMBER);
  if (!v) return 0;
  if (v->is_int && v->integer >= 0) return (uint64_t)v->integer;
  const double two64 = 18446744073709551616.0;
  if (!int_item(v, 0, two64)) {
    r->s = lp_error(LEAP_ERR_FORMAT, "%s: calibration seed %g is not an integer in 0..2^64-1", r->path, v->number);
    return 0;
  }
  return v->number >= two64 ? UINT64_MAX : (uint64_t)v->number;
}

leap_status lp_cache_profile_parse(const char *text, size_t len, const char *path, const leap_cache_desc *run,
                                   lp_cache_profile *p) {
  memset(p, 0, sizeof *p);
  char err[256];
  int oom;
  lp_json *j = lp_json_parse_oom(text, len, err, sizeof err, &oom);
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
  /* A profile made for another run is refused before anything is sized
   * from its counts. */
  if (r.s == LEAP_OK && run) r.s = lp_cache_profile_check(p, path, run);
  const lp_json *cal = field(&r, j, "calibration", LP_JSON_OBJECT);
  const lp_json *labels = NULL;
  if (cal) {
    p->calib_images = inum(&r, cal, "images", 1, 1 << 20);
    p->calib_seed = seed_of(&r, cal);
    labels = counted(&r, cal, "labels", p->calib_images);
  }
  const lp_json *settings = field(&r, j, "settings", LP_JSON_ARRAY);
  if (r.s == LEAP_OK && settings->count < 1)
    r.s = lp_error(LEAP_ERR_FORMAT, "%s: the profile has no settings", path);
  const lp_json *tc = field(&r, j, "teacache", LP_JSON_OBJECT);
  counted(&r, j, "rel_change", p->steps);
  if (tc) counted(&r, tc, "indicator", p->steps);
  /* Every count is now backed by as many items in the file; settings are
   * sized one at a time, each after its own arrays are counted. */
  if (r.s == LEAP_OK && (r.s = lp_cache_profile_alloc(p, 0)) == LEAP_OK) {
    free(p->settings);
    if (!(p->settings = lp_calloc((size_t)settings->count, sizeof *p->settings)))
      r.s = lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  }
  for (int i = 0; r.s == LEAP_OK && i < p->calib_images; i++) {
    /* Labels are class indices: converted only once in range. */
    if (!int_item(&labels->items[i], 0, INT32_MAX))
      r.s = lp_error(LEAP_ERR_FORMAT, "%s: calibration label %d is not an integer in 0..%d", path, i, INT32_MAX);
    else
      p->calib_labels[i] = (int32_t)labels->items[i].number;
  }
  arr(&r, j, "rel_change", p->steps, p->rel_change, NULL);
  if (tc) {
    arr(&r, tc, "indicator", p->steps, p->tc_indicator, NULL);
    arr(&r, tc, "poly", LP_TC_DEGREE + 1, p->tc_poly, NULL);
  }
  for (int k = 0; r.s == LEAP_OK && k < settings->count; k++) {
    if (settings->items[k].type != LP_JSON_OBJECT) {
      r.s = lp_error(LEAP_ERR_FORMAT, "%s: setting %d is not an object", path, k);
      break;
    }
    p->nsettings = k + 1; /* so that free releases what this one allocates */
    read_setting(&r, &settings->items[k], p, &p->settings[k]);
  }
  lp_json_free(j);
  if (r.s != LEAP_OK) lp_cache_profile_free(p);
  return r.s;
}

leap_status lp_cache_profile_read_for(const char *path, const leap_cache_desc *run, lp_cache_profile *p) {
  memset(p, 0, sizeof *p);
  char *text;
  size_t len;
  leap_status s = lp_file_read_all(path, "cache profile", LP_CACHE_PROFILE_MAX_BYTES, &text, &len);
  if (s != LEAP_OK) return s;
  s = lp_cache_profile_parse(text, len, path, run, p);
  free(text);
  return s;
}

leap_status lp_cache_profile_read(const char *path, lp_cache_profile *p) {
  return lp_cache_profile_read_for(path, NULL, p);
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
