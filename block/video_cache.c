/* video_cache.c - the block cache's profile (video_cache.h): what it binds
 * to, its JSON file, and the offline calibration that makes it. The reuse
 * schedule is chosen by the image cache's threshold walk
 * (lp_cache_policy_walk, lp_cache_lambda_for in sample/cache_calibrate.h)
 * over the forward rows instead of the steps; the sampler does the rest
 * (video_sample.c, lp_video_cache_run). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cache_calibrate.h"
#include "error.h"
#include "file_read.h"
#include "file_write.h"
#include "json.h"
#include "output.h"
#include "video_cache.h"
#include "video_sample.h"

static const char *const kFamily[] = {
    [LEAP_BLOCK_SYNCHRONOUS] = "synchronous",
    [LEAP_BLOCK_AUTOREGRESSIVE] = "autoregressive",
    [LEAP_BLOCK_PYRAMID] = "pyramid",
    [LEAP_BLOCK_PIPELINED] = "pipelined",
};
enum { FAMILY_COUNT = sizeof kFamily / sizeof kFamily[0] };

void lp_vcache_profile_free(lp_vcache_profile *p) {
  if (!p) return;
  for (int k = 0; p->settings && k < p->nsettings; k++) free(p->settings[k].reuse), free(p->settings[k].phi);
  free(p->settings);
  free(p->rel_change);
  memset(p, 0, sizeof *p);
}

leap_status lp_vcache_rows(const leap_video_desc *d, int frames_per_chunk, int *rows, unsigned char *writes,
                           int cap) {
  leap_block_schedule_desc bd = leap_block_schedule_desc_default();
  bd.frames = d->frames, bd.frames_per_chunk = frames_per_chunk, bd.steps = d->steps, bd.family = d->family;
  bd.ar_step = d->ar_step, bd.window = d->window, bd.lag = d->lag;
  leap_block_schedule *s = NULL;
  leap_status st = leap_block_schedule_create(&bd, &s);
  if (st != LEAP_OK) return st;
  const int K = leap_block_schedule_chunks(s), iters = leap_block_schedule_iterations(s);
  leap_block_iteration it = {.struct_size = sizeof it};
  it.step = lp_malloc((size_t)K * sizeof *it.step);
  it.update = lp_malloc((size_t)K), it.kv_write = lp_malloc((size_t)K);
  if (!it.step || !it.update || !it.kv_write) st = lp_error(LEAP_ERR_NOMEM, "block cache: out of memory");
  int n = 0;
  for (int r = 0; st == LEAP_OK && r < iters; r++) {
    if ((st = leap_block_schedule_get(s, r, &it)) != LEAP_OK || it.updated == 0) continue;
    if (writes && n < cap) writes[n] = it.kv_write[it.window_begin];
    n++;
  }
  free(it.step), free(it.update), free(it.kv_write);
  leap_block_schedule_destroy(s);
  *rows = n;
  return st;
}

leap_status lp_vcache_profile_bind(leap_model *m, const leap_video_desc *d, lp_vcache_profile *p) {
  memset(p, 0, sizeof *p);
  leap_model_info info = {.struct_size = sizeof info};
  leap_status st = leap_model_get_info(m, &info);
  if (st == LEAP_OK) st = leap_model_id(m, p->model_id, sizeof p->model_id);
  if (st != LEAP_OK) return st;
  if ((unsigned)d->family >= FAMILY_COUNT)
    return lp_error(LEAP_ERR_INVALID_ARG, "block cache: family %d is not a block family", (int)d->family);
  p->family = d->family;
  p->ar_step = d->family == LEAP_BLOCK_PYRAMID ? d->ar_step : 0;
  p->window = d->family == LEAP_BLOCK_PIPELINED ? d->window : 0;
  p->lag = d->family == LEAP_BLOCK_PIPELINED ? d->lag : 0;
  p->frames = d->frames, p->frames_per_chunk = info.frames_per_chunk, p->steps = d->steps;
  p->cfg = info.num_classes > 0 ? d->cfg : 1.0; /* an unconditional model ignores cfg */
  p->shift = d->shift;
  return lp_vcache_rows(d, info.frames_per_chunk, &p->rows, NULL, 0);
}

/* ------------------------------------------------------------------ writer */

static void put_darr(lp_strbuf *b, const double *v, int n) {
  lp_strbuf_puts(b, "[");
  for (int i = 0; i < n; i++) lp_strbuf_printf(b, i ? ", %.9g" : "%.9g", v[i]);
  lp_strbuf_puts(b, "]");
}

leap_status lp_vcache_profile_write(const lp_vcache_profile *p, const char *path, const char *const *inputs,
                                    int ninputs) {
  lp_strbuf b = {0};
  /* The first field is the format: core/output.c recognises a profile by it. */
  lp_strbuf_printf(&b, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"model_id\": \"%s\",\n", LP_VCACHE_FORMAT,
                   LP_VCACHE_FORMAT_VERSION, p->model_id);
  lp_strbuf_printf(&b, "  \"family\": \"%s\", \"ar_step\": %d, \"window\": %d, \"lag\": %d,\n", kFamily[p->family],
                   p->ar_step, p->window, p->lag);
  lp_strbuf_printf(&b, "  \"frames\": %d, \"frames_per_chunk\": %d, \"steps\": %d, \"cfg\": %.17g, \"shift\": %.17g,\n",
                   p->frames, p->frames_per_chunk, p->steps, p->cfg, p->shift);
  lp_strbuf_printf(&b, "  \"rows\": %d, \"reuse_window\": %d,\n  \"calibration\": {\"clips\": %d, \"seed\": %llu},\n",
                   p->rows, p->reuse_window, p->calib_clips, (unsigned long long)p->calib_seed);
  lp_strbuf_puts(&b, "  \"rel_change\": ");
  put_darr(&b, p->rel_change, p->rows);
  lp_strbuf_puts(&b, ",\n  \"settings\": [\n");
  for (int k = 0; k < p->nsettings; k++) {
    const lp_vcache_setting *s = &p->settings[k];
    lp_strbuf_puts(&b, k ? ",\n    {\"name\": " : "    {\"name\": ");
    lp_strbuf_json_string(&b, s->name);
    lp_strbuf_printf(&b, ", \"lambda\": %.9g, \"computed\": %d, \"psnr\": %.6g,\n     \"reuse\": [", s->lambda,
                     s->computed, s->psnr);
    for (int i = 0; i < p->rows; i++) lp_strbuf_printf(&b, i ? ",%d" : "%d", s->reuse[i]);
    lp_strbuf_puts(&b, "],\n     \"phi\": ");
    put_darr(&b, s->phi, p->rows);
    lp_strbuf_puts(&b, "}");
  }
  lp_strbuf_puts(&b, "\n  ]\n}\n");
  if (b.oom) {
    free(b.data);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory for the profile", path);
  }
  const leap_status s = lp_out_write_bytes(path, LP_OUT_PROFILE, inputs, ninputs, b.data, b.len, "profile");
  free(b.data);
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
  if (!v || v->type != type)
    r->s = lp_error(LEAP_ERR_FORMAT, "%s: profile field '%s' is %s, expected %s", r->path, key,
                    v ? lp_json_type_name(v->type) : "missing", lp_json_type_name(type));
  return r->s == LEAP_OK ? v : NULL;
}

static int inum(rd *r, const lp_json *obj, const char *key, int lo, int hi) {
  const lp_json *v = field(r, obj, key, LP_JSON_NUMBER);
  if (v && (!v->is_int || v->integer < lo || v->integer > hi))
    r->s = lp_error(LEAP_ERR_FORMAT, "%s: profile field '%s' = %g must be an integer in %d..%d", r->path, key,
                    v->number, lo, hi);
  return r->s == LEAP_OK ? (int)v->integer : lo;
}

static double dnum(rd *r, const lp_json *obj, const char *key) {
  const lp_json *v = field(r, obj, key, LP_JSON_NUMBER);
  if (v && !isfinite(v->number))
    r->s = lp_error(LEAP_ERR_FORMAT, "%s: profile field '%s' is not finite", r->path, key);
  return r->s == LEAP_OK ? v->number : 0;
}

/* An array of exactly n numbers in [lo, hi], into d. */
static void darr(rd *r, const lp_json *obj, const char *key, int n, double lo, double hi, double *d) {
  const lp_json *v = field(r, obj, key, LP_JSON_ARRAY);
  if (v && v->count != n)
    r->s = lp_error(LEAP_ERR_FORMAT, "%s: profile field '%s' has %d entries, expected %d (rows)", r->path, key,
                    v->count, n);
  for (int i = 0; r->s == LEAP_OK && i < n; i++) {
    const lp_json *e = &v->items[i];
    if (e->type != LP_JSON_NUMBER || !(e->number >= lo && e->number <= hi))
      r->s = lp_error(LEAP_ERR_FORMAT, "%s: profile field '%s'[%d] must be a number in %g..%g", r->path, key, i, lo,
                      hi);
    else
      d[i] = e->number;
  }
}

/* The run's binding against the file's: the first field that differs. */
static leap_status check_run(const lp_vcache_profile *p, const lp_vcache_profile *run, const char *path) {
  char got[64] = "", want[64] = "";
  const char *what = NULL;
#define CMP_INT(f)                                                                                                     \
  if (!what && p->f != run->f) what = #f, snprintf(got, sizeof got, "%d", p->f), snprintf(want, sizeof want, "%d", run->f)
#define CMP_DBL(f)                                                                                                     \
  if (!what && p->f != run->f)                                                                                         \
  what = #f, snprintf(got, sizeof got, "%.17g", p->f), snprintf(want, sizeof want, "%.17g", run->f)
  if (strcmp(p->model_id, run->model_id) != 0)
    what = "model_id", snprintf(got, sizeof got, "%s", p->model_id), snprintf(want, sizeof want, "%s", run->model_id);
  if (!what && p->family != run->family)
    what = "family", snprintf(got, sizeof got, "%s", kFamily[p->family]),
    snprintf(want, sizeof want, "%s", kFamily[run->family]);
  CMP_INT(ar_step);
  CMP_INT(window);
  CMP_INT(lag);
  CMP_INT(frames);
  CMP_INT(frames_per_chunk);
  CMP_INT(steps);
  CMP_DBL(cfg);
  CMP_DBL(shift);
  CMP_INT(rows);
#undef CMP_INT
#undef CMP_DBL
  if (!what) return LEAP_OK;
  return lp_error(LEAP_ERR_INVALID_ARG,
                  "%s: the block-cache profile is for %s %s, this run has %s: a profile serves one model, family, "
                  "frames, steps, guidance and shift (make one with leap video --cache-profile)",
                  path, what, got, want);
}

leap_status lp_vcache_profile_parse(const char *text, size_t len, const char *path, leap_model *m,
                                    const leap_video_desc *d, lp_vcache_profile *p) {
  memset(p, 0, sizeof *p);
  char err[256];
  int oom;
  lp_json *j = lp_json_parse_oom(text, len, err, sizeof err, &oom);
  if (!j) return lp_error(oom ? LEAP_ERR_NOMEM : LEAP_ERR_FORMAT, "%s: not a JSON profile: %s", path, err);
  rd r = {path, LEAP_OK};
  const lp_json *fmt = j->type == LP_JSON_OBJECT ? lp_json_get(j, "format") : NULL;
  if (!fmt || fmt->type != LP_JSON_STRING || strcmp(fmt->string, LP_VCACHE_FORMAT) != 0) {
    const int image = fmt && fmt->type == LP_JSON_STRING && strcmp(fmt->string, "leap-erta-profile") == 0;
    lp_json_free(j);
    return lp_error(LEAP_ERR_FORMAT, "%s: not a leap block-cache profile (format '%s')%s", path, LP_VCACHE_FORMAT,
                    image ? ": it is an image ERTACache profile (leap profile), for leap sample --cache" : "");
  }
  const int version = inum(&r, j, "version", 1, 1000);
  if (r.s == LEAP_OK && version != LP_VCACHE_FORMAT_VERSION)
    r.s = lp_error(LEAP_ERR_FORMAT, "%s: profile version %d; this leap reads version %d", path, version,
                   LP_VCACHE_FORMAT_VERSION);
  const lp_json *id = field(&r, j, "model_id", LP_JSON_STRING);
  if (id && (strlen(id->string) != 16 || strspn(id->string, "0123456789abcdef") != 16))
    r.s = lp_error(LEAP_ERR_FORMAT, "%s: profile field 'model_id' is not 16 hex digits", path);
  if (r.s == LEAP_OK) snprintf(p->model_id, sizeof p->model_id, "%s", id->string);
  const lp_json *fam = field(&r, j, "family", LP_JSON_STRING);
  p->family = (leap_block_family)-1;
  for (int k = 0; fam && k < FAMILY_COUNT; k++)
    if (strcmp(fam->string, kFamily[k]) == 0) p->family = (leap_block_family)k;
  if (fam && (int)p->family < 0)
    r.s = lp_error(LEAP_ERR_FORMAT, "%s: profile field 'family' = '%s' is not a block family", path, fam->string);
  p->ar_step = inum(&r, j, "ar_step", 0, 1 << 20);
  p->window = inum(&r, j, "window", 0, 1 << 20);
  p->lag = inum(&r, j, "lag", 0, 1 << 20);
  p->frames = inum(&r, j, "frames", 1, 1 << 24);
  p->frames_per_chunk = inum(&r, j, "frames_per_chunk", 1, 1 << 20);
  p->steps = inum(&r, j, "steps", 1, 10000);
  p->cfg = dnum(&r, j, "cfg");
  p->shift = dnum(&r, j, "shift");
  p->rows = inum(&r, j, "rows", 1, 1 << 24);
  p->reuse_window = inum(&r, j, "reuse_window", 2, 1 << 20);
  const lp_json *cal = field(&r, j, "calibration", LP_JSON_OBJECT);
  if (cal) p->calib_clips = inum(&r, cal, "clips", 1, 1 << 20);
  if (cal && r.s == LEAP_OK) {
    const lp_json *sd = field(&r, cal, "seed", LP_JSON_NUMBER);
    if (sd && (!(sd->number >= 0) || sd->number >= 18446744073709551616.0 || floor(sd->number) != sd->number))
      r.s = lp_error(LEAP_ERR_FORMAT, "%s: calibration seed is not an integer in 0..2^64-1", path);
    else if (sd)
      p->calib_seed = sd->is_int ? (uint64_t)sd->integer : (uint64_t)sd->number;
  }
  /* The run before anything is sized from the file's counts. */
  if (r.s == LEAP_OK && m && d) {
    lp_vcache_profile run;
    r.s = lp_vcache_profile_bind(m, d, &run);
    if (r.s == LEAP_OK) r.s = check_run(p, &run, path);
  }
  const lp_json *sets = field(&r, j, "settings", LP_JSON_ARRAY);
  const lp_json *rc = field(&r, j, "rel_change", LP_JSON_ARRAY);
  if (sets && (sets->count < 1 || sets->count > LP_VCACHE_MAX_SETTINGS))
    r.s = lp_error(LEAP_ERR_FORMAT, "%s: %d settings; a profile has 1..%d", path, sets->count, LP_VCACHE_MAX_SETTINGS);
  if (rc && rc->count != p->rows)
    r.s = lp_error(LEAP_ERR_FORMAT, "%s: profile field 'rel_change' has %d entries, expected %d (rows)", path,
                   rc->count, p->rows);
  if (r.s == LEAP_OK) {
    p->rel_change = lp_malloc((size_t)p->rows * sizeof *p->rel_change);
    p->settings = lp_calloc((size_t)sets->count, sizeof *p->settings);
    if (!p->rel_change || !p->settings) r.s = lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
    else p->nsettings = sets->count;
  }
  darr(&r, j, "rel_change", p->rows, -1, INFINITY, p->rel_change);
  for (int k = 0; r.s == LEAP_OK && k < p->nsettings; k++) {
    lp_vcache_setting *s = &p->settings[k];
    const lp_json *o = &sets->items[k];
    if (o->type != LP_JSON_OBJECT) {
      r.s = lp_error(LEAP_ERR_FORMAT, "%s: setting %d is not an object", path, k);
      break;
    }
    const lp_json *nm = field(&r, o, "name", LP_JSON_STRING);
    if (nm) snprintf(s->name, sizeof s->name, "%s", nm->string);
    s->lambda = dnum(&r, o, "lambda");
    s->computed = inum(&r, o, "computed", 1, p->rows);
    s->psnr = dnum(&r, o, "psnr");
    s->reuse = lp_malloc((size_t)p->rows);
    s->phi = lp_malloc((size_t)p->rows * sizeof *s->phi);
    double *re = lp_malloc((size_t)p->rows * sizeof *re);
    if (r.s == LEAP_OK && (!s->reuse || !s->phi || !re)) r.s = lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
    darr(&r, o, "reuse", p->rows, 0, 1, re);
    darr(&r, o, "phi", p->rows, LP_VCACHE_PHI_MIN, LP_VCACHE_PHI_MAX, s->phi);
    int computed = 0;
    for (int i = 0; r.s == LEAP_OK && i < p->rows; i++) {
      if (re[i] != 0 && re[i] != 1)
        r.s = lp_error(LEAP_ERR_FORMAT, "%s: setting %d 'reuse'[%d] must be 0 or 1", path, k, i);
      s->reuse[i] = (unsigned char)(re[i] == 1);
      computed += !s->reuse[i];
    }
    free(re);
    if (r.s == LEAP_OK && s->reuse[0])
      r.s = lp_error(LEAP_ERR_FORMAT, "%s: setting %d reuses forward row 0, which has nothing to reuse", path, k);
    if (r.s == LEAP_OK && computed != s->computed)
      r.s = lp_error(LEAP_ERR_FORMAT, "%s: setting %d says %d computed rows, its 'reuse' computes %d", path, k,
                     s->computed, computed);
  }
  lp_json_free(j);
  if (r.s != LEAP_OK) lp_vcache_profile_free(p);
  return r.s;
}

leap_status lp_vcache_profile_read(const char *path, leap_model *m, const leap_video_desc *d, lp_vcache_profile *p) {
  memset(p, 0, sizeof *p);
  char *text = NULL;
  size_t len = 0;
  leap_status s = lp_file_read_all(path, "block-cache profile", LP_VCACHE_MAX_BYTES, &text, &len);
  if (s == LEAP_OK) s = lp_vcache_profile_parse(text, len, path, m, d, p);
  free(text);
  return s;
}

/* ------------------------------------------------------------- calibration */

static double psnr(const float *a, const float *b, size_t n) {
  double se = 0;
  for (size_t i = 0; i < n; i++) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  const double mse = se / (double)n;
  /* Pixels in [-1, 1]: peak-to-peak 2. */
  return mse > 0 ? 10.0 * log10(4.0 / mse) : INFINITY;
}

leap_status lp_vcache_calibrate(leap_model *m, const leap_video_desc *d, const lp_vcache_calib_cfg *cfg,
                                lp_vcache_profile *out) {
  memset(out, 0, sizeof *out);
  if (!m || !d || !cfg || cfg->ntargets < 1 || cfg->ntargets > LP_VCACHE_MAX_SETTINGS || !cfg->targets ||
      cfg->reuse_window < 2)
    return lp_error(LEAP_ERR_INVALID_ARG, "block cache profile: need 1..%d targets and a reuse window >= 2",
                    LP_VCACHE_MAX_SETTINGS);
  if (d->struct_size < sizeof *d)
    return lp_error(LEAP_ERR_INVALID_ARG, "block cache profile: the run's desc is older than the block cache");
  if (d->recompute || d->cache_profile)
    return lp_error(LEAP_ERR_INVALID_ARG, "block cache profile: the calibration runs over the KV store (recompute 0) "
                    "with no cache profile");
  lp_vcache_profile *p = out;
  leap_status st = lp_vcache_profile_bind(m, d, p);
  if (st != LEAP_OK) return st;
  const int R = p->rows;
  for (int k = 0; k < cfg->ntargets; k++)
    if (cfg->targets[k] < 1 || cfg->targets[k] > R)
      return lp_error(LEAP_ERR_INVALID_ARG, "block cache profile: %d computed rows asked; this run has 1..%d",
                      cfg->targets[k], R);
  leap_model_info info = {.struct_size = sizeof info};
  leap_model_get_info(m, &info);
  p->reuse_window = cfg->reuse_window < R ? cfg->reuse_window : (R > 1 ? R : 2);
  p->calib_clips = d->n, p->calib_seed = d->seed;
  const size_t numel = (size_t)d->n * d->frames * info.in_channels * info.height * info.width;
  float *full = lp_malloc(numel * sizeof *full), *cached = lp_malloc(numel * sizeof *cached);
  double *dist = lp_malloc((size_t)R * R * sizeof *dist);
  p->rel_change = lp_malloc((size_t)R * sizeof *p->rel_change);
  p->settings = lp_calloc((size_t)cfg->ntargets, sizeof *p->settings);
  if (!full || !cached || !dist || !p->rel_change || !p->settings)
    st = lp_error(LEAP_ERR_NOMEM, "block cache profile: out of memory");
  else
    p->nsettings = cfg->ntargets;
  /* Pass 1: full compute; the residual change between forward rows. */
  for (size_t k = 0; st == LEAP_OK && k < (size_t)R * R; k++) dist[k] = INFINITY;
  lp_video_cache_run pass1 = {.rows = R, .dist = dist, .window = p->reuse_window};
  if (st == LEAP_OK) st = lp_video_sample_run(m, d, full, NULL, &pass1);
  for (int i = 0; st == LEAP_OK && i < R; i++)
    p->rel_change[i] = i > 0 && isfinite(dist[(size_t)(i - 1) * R + i]) ? dist[(size_t)(i - 1) * R + i] : -1;
  /* Per setting: the walk under its budget, then pass 2 along its path. */
  for (int k = 0; st == LEAP_OK && k < p->nsettings; k++) {
    lp_vcache_setting *s = &p->settings[k];
    snprintf(s->name, sizeof s->name, "computed=%d", cfg->targets[k]);
    s->reuse = lp_malloc((size_t)R);
    s->phi = lp_malloc((size_t)R * sizeof *s->phi);
    if (!s->reuse || !s->phi) {
      st = lp_error(LEAP_ERR_NOMEM, "block cache profile: out of memory");
      break;
    }
    s->lambda = lp_cache_lambda_for(dist, R, p->reuse_window, cfg->targets[k]);
    if (s->lambda < 0) {
      st = lp_error(LEAP_ERR_NOMEM, "block cache profile: out of memory choosing the threshold");
      break;
    }
    s->computed = lp_cache_policy_walk(dist, R, p->reuse_window, s->lambda, s->reuse);
    for (int i = 0; i < R; i++) s->phi[i] = 1.0;
    lp_video_cache_run pass2 = {.rows = R, .reuse = s->reuse, .phi_fit = cfg->adjust ? s->phi : NULL};
    st = lp_video_sample_run(m, d, cached, NULL, &pass2);
    if (st == LEAP_OK) s->psnr = psnr(cached, full, numel);
    if (st == LEAP_OK && !isfinite(s->psnr)) s->psnr = 999; /* identical: JSON holds no infinity */
  }
  free(full), free(cached), free(dist);
  if (st != LEAP_OK) lp_vcache_profile_free(p);
  return st;
}
