/* lcsc_combine.c - leap_lcsc_combine: theta = sum_i coefs[i] theta_i over
 * safetensors checkpoints of one run, streamed tensor by tensor.
 *
 * The first file is the reference: every other file must hold the same
 * tensor names with the same shapes, and the same model description
 * (DESIGN.md's metadata keys); the first difference is the error. Float
 * tensors (F32/F16/BF16, mixed freely) are summed in float32 and written in
 * the chosen dtype; other tensors (step counters, int buffers) must be
 * byte-identical across files and are copied through. The output's
 * metadata is the first file's pairs that all files agree on (so the model
 * description stays and per-checkpoint values such as "step" go), plus
 * lcsc_coefs and lcsc_sources (JSON arrays).
 *
 * Where the sum runs: on the host, lcsc_sum.c's fused kernel reads the
 * mapped inputs and encodes straight into the writer's buffer; on Vulkan,
 * lcsc_vk.c packs the tensors into chunks of a few MB, one dispatch each.
 * Both give the same bits where the device's fma is fused (F16 and BF16
 * outputs may differ by an ulp elsewhere). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context.h"
#include "alloc.h"
#include "dtype.h"
#include "error.h"
#include "struct_size.h"
#include "lcsc.h"
#include "lcsc_writer.h"
#include "output.h"
#include "safetensors.h"

/* The model description (DESIGN.md): files that differ here are different
 * models, not checkpoints of one run. */
static const char *const kDescriptionKeys[] = {
    "arch",      "input_size", "patch_size",  "in_channels", "hidden_size",    "depth",     "num_heads",
    "mlp_ratio", "num_classes", "learn_sigma", "prediction", "timestep_scale", "null_class"};


leap_lcsc_combine_desc leap_lcsc_combine_desc_default(void) {
  leap_lcsc_combine_desc d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.out_dtype = -1;
  return d;
}

static int is_sum_dtype(int d) { return d == LEAP_F32 || d == LEAP_F16 || d == LEAP_BF16; }

static void shape_str(const lp_st_tensor *t, char *buf, size_t len) {
  size_t k = (size_t)snprintf(buf, len, "[");
  for (int d = 0; d < t->ndim && k < len; d++)
    k += (size_t)snprintf(buf + k, len - k, d ? ",%lld" : "%lld", (long long)t->shape[d]);
  if (k < len) snprintf(buf + k, len - k, "]");
}

/* Same tensors, shapes and model description as the reference file f0. */
static leap_status check_match(const lp_st_file *f0, const lp_st_file *f) {
  const char *p0 = lp_st_path(f0), *p = lp_st_path(f);
  for (size_t i = 0; i < sizeof kDescriptionKeys / sizeof *kDescriptionKeys; i++) {
    const char *k = kDescriptionKeys[i];
    const char *a = lp_st_meta(f0, k), *b = lp_st_meta(f, k);
    if ((a || b) && (!a || !b || strcmp(a, b) != 0))
      return lp_error(LEAP_ERR_FORMAT, "%s: model description '%s' is %s%s%s but %s has %s%s%s", p, k,
                      b ? "'" : "", b ? b : "absent", b ? "'" : "", p0, a ? "'" : "", a ? a : "absent",
                      a ? "'" : "");
  }
  for (int i = 0; i < lp_st_count(f0); i++) {
    const lp_st_tensor *t0 = lp_st_at(f0, i), *t = lp_st_find(f, t0->name);
    if (!t) return lp_error(LEAP_ERR_FORMAT, "%s: no tensor '%s' (it is in %s)", p, t0->name, p0);
    int same = t->ndim == t0->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == t0->shape[d];
    if (!same) {
      char s0[160], s1[160];
      shape_str(t0, s0, sizeof s0);
      shape_str(t, s1, sizeof s1);
      return lp_error(LEAP_ERR_FORMAT, "%s: tensor '%s' has shape %s but %s has %s", p, t->name, s1, p0, s0);
    }
    const int d0 = (int)t0->dtype, d1 = (int)t->dtype;
    if (is_sum_dtype(d0) != is_sum_dtype(d1))
      return lp_error(LEAP_ERR_FORMAT, "%s: tensor '%s' is %s but %s has %s", p, t->name,
                      lp_dtype_name(t->dtype), p0, lp_dtype_name(t0->dtype));
    if (!is_sum_dtype(d0) && (d0 != d1 || t->bytes != t0->bytes || memcmp(t->data, t0->data, t->bytes) != 0))
      return lp_error(LEAP_ERR_FORMAT,
                      "%s: tensor '%s' (%s) differs from %s: only float tensors can be combined, others "
                      "must be identical",
                      p, t->name, lp_dtype_name(t->dtype), p0);
  }
  for (int i = 0; i < lp_st_count(f); i++) {
    const lp_st_tensor *t = lp_st_at(f, i);
    if (!lp_st_find(f0, t->name))
      return lp_error(LEAP_ERR_FORMAT, "%s: tensor '%s' is not in %s", p, t->name, p0);
  }
  return LEAP_OK;
}

/* The reference writer's layout: larger elements first, then by name. */
static int cmp_layout(const void *a, const void *b) {
  const lp_lcsc_out_tensor *x = a, *y = b;
  size_t sx = lp_dtype_size(x->dtype), sy = lp_dtype_size(y->dtype);
  if (sx != sy) return sx > sy ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* A growing string for the metadata arrays. */
typedef struct text {
  char *s;
  size_t len, cap;
  int oom;
} text;

static void text_add(text *t, const char *s) {
  size_t n = strlen(s);
  if (t->oom) return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 256;
    while (cap < t->len + n + 1) cap *= 2;
    char *d = lp_realloc(t->s, cap);
    if (!d) {
      t->oom = 1;
      return;
    }
    t->s = d, t->cap = cap;
  }
  memcpy(t->s + t->len, s, n + 1);
  t->len += n;
}

static void text_add_json_string(text *t, const char *s) {
  text_add(t, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char c[8];
    if (*p == '"' || *p == '\\')
      snprintf(c, sizeof c, "\\%c", *p);
    else if (*p < 0x20)
      snprintf(c, sizeof c, "\\u%04x", *p);
    else
      c[0] = (char)*p, c[1] = 0;
    text_add(t, c);
  }
  text_add(t, "\"");
}

typedef struct combine_job {
  const leap_lcsc_combine_desc *d;
  lp_st_file **files;
  lp_lcsc_out_tensor *out;
  int nout;
  const char **mkeys, **mvals;
  int nmeta;
  text coefs_json, sources_json;
  float *coefs;
  const void **src; /* [2 * count]: whole tensors, then the piece at hand */
  leap_dtype *dtypes;
  leap_dtype out_dtype; /* of the float tensors */
  lp_lcsc_vk *vk;       /* the Vulkan path; NULL = host */
  uint64_t bytes_read;
} combine_job;

static leap_status check_desc(const leap_lcsc_combine_desc *d) {
  if (!d) return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_combine: desc is NULL");
  if (d->struct_size < sizeof *d)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_combine: struct_size %u, expected %zu", d->struct_size,
                    sizeof *d);
  if (d->count < 1 || !d->paths || !d->coefs)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_combine: need at least one path and coefficient");
  if (!d->out_path || !*d->out_path) return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_combine: no output path");
  if (d->out_dtype != -1 && !is_sum_dtype(d->out_dtype))
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_combine: output dtype %d is not F32, F16 or BF16",
                    d->out_dtype);
  for (int i = 0; i < d->count; i++) {
    if (!d->paths[i]) return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_combine: path %d is NULL", i);
    if (!isfinite(d->coefs[i]))
      return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_combine: coefficient %d (for %s) is not finite", i,
                      d->paths[i]);
  }
  /* By identity, not spelling (./A, a symlink or a hard link is A), and no
   * existing file but an earlier combination: core/output.h. Checked before
   * any input is read; the writer checks again. */
  return lp_out_check(d->out_path, LP_OUT_COMBINED, d->paths, d->count);
}

/* Output tensors, layout order, and the kept metadata. */
static leap_status plan(combine_job *j) {
  const leap_lcsc_combine_desc *d = j->d;
  const lp_st_file *f0 = j->files[0];
  int out_dtype = d->out_dtype;
  const int n = lp_st_count(f0);
  for (int i = 0; i < n && out_dtype < 0; i++)
    if (is_sum_dtype((int)lp_st_at(f0, i)->dtype)) out_dtype = (int)lp_st_at(f0, i)->dtype;
  if (out_dtype < 0) out_dtype = LEAP_F32;
  j->out_dtype = (leap_dtype)out_dtype;
  j->out = lp_calloc((size_t)n + 1, sizeof *j->out);
  j->mkeys = lp_calloc((size_t)lp_st_meta_count(f0) + 2, sizeof *j->mkeys);
  j->mvals = lp_calloc((size_t)lp_st_meta_count(f0) + 2, sizeof *j->mvals);
  if (!j->out || !j->mkeys || !j->mvals) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", d->out_path);
  for (int i = 0; i < n; i++) {
    const lp_st_tensor *t = lp_st_at(f0, i);
    lp_lcsc_out_tensor *o = &j->out[i];
    o->name = t->name;
    o->dtype = is_sum_dtype((int)t->dtype) ? (leap_dtype)out_dtype : t->dtype;
    o->ndim = t->ndim;
    memcpy(o->shape, t->shape, sizeof o->shape);
    o->bytes = is_sum_dtype((int)t->dtype) ? (uint64_t)t->numel * lp_dtype_size(o->dtype) : t->bytes;
  }
  j->nout = n;
  qsort(j->out, (size_t)n, sizeof *j->out, cmp_layout);
  for (int m = 0; m < lp_st_meta_count(f0); m++) {
    const char *k = lp_st_meta_key(f0, m), *v = lp_st_meta(f0, k);
    if (strncmp(k, "lcsc_", 5) == 0) continue; /* replaced below */
    if (strcmp(k, LP_OUT_META_KEY) == 0) continue; /* the writer marks the output's own kind */
    int agree = 1;
    for (int i = 1; i < d->count && agree; i++) {
      const char *w = lp_st_meta(j->files[i], k);
      agree = w && strcmp(v, w) == 0;
    }
    if (agree) j->mkeys[j->nmeta] = k, j->mvals[j->nmeta++] = v;
  }
  text_add(&j->coefs_json, "[");
  text_add(&j->sources_json, "[");
  for (int i = 0; i < d->count; i++) {
    char num[40];
    snprintf(num, sizeof num, "%s%.17g", i ? "," : "", d->coefs[i]);
    text_add(&j->coefs_json, num);
    if (i) text_add(&j->sources_json, ",");
    text_add_json_string(&j->sources_json, d->paths[i]);
  }
  text_add(&j->coefs_json, "]");
  text_add(&j->sources_json, "]");
  if (j->coefs_json.oom || j->sources_json.oom) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", d->out_path);
  j->mkeys[j->nmeta] = "lcsc_coefs", j->mvals[j->nmeta++] = j->coefs_json.s;
  j->mkeys[j->nmeta] = "lcsc_sources", j->mvals[j->nmeta++] = j->sources_json.s;
  return LEAP_OK;
}

/* Streams one output tensor into the writer: on the host, piece by piece,
 * summed and encoded straight into the writer's buffer; on Vulkan, queued
 * into the packed chunks (a non-float tensor waits for the queue first, so
 * the bytes land in layout order). */
static leap_status write_tensor(combine_job *j, lp_lcsc_writer *w, const lp_lcsc_out_tensor *o) {
  const int count = j->d->count;
  const lp_st_tensor *t0 = lp_st_find(j->files[0], o->name);
  if (!is_sum_dtype((int)t0->dtype)) {
    j->bytes_read += t0->bytes;
    if (j->vk) {
      leap_status s = lp_lcsc_vk_drain(j->vk, w);
      if (s != LEAP_OK) return s;
    }
    return lp_lcsc_writer_append(w, t0->data, t0->bytes);
  }
  const size_t numel = (size_t)t0->numel, osize = lp_dtype_size(o->dtype);
  for (int k = 0; k < count; k++) {
    const lp_st_tensor *t = lp_st_find(j->files[k], o->name);
    j->src[k] = t->data;
    j->dtypes[k] = t->dtype;
    j->bytes_read += t->bytes;
  }
  if (j->vk) return lp_lcsc_vk_tensor(j->vk, o->name, j->src, j->dtypes, numel, w);
  const void **piece = j->src + count; /* the second half of src */
  for (size_t done = 0; done < numel;) {
    const size_t n = numel - done < LP_LCSC_CHUNK ? numel - done : LP_LCSC_CHUNK;
    for (int k = 0; k < count; k++)
      piece[k] = (const unsigned char *)j->src[k] + done * lp_dtype_size(j->dtypes[k]);
    void *dst;
    leap_status s = lp_lcsc_writer_reserve(w, n * osize, &dst);
    if (s != LEAP_OK) return s;
    const size_t bad = lp_lcsc_sum_encode(count, piece, j->dtypes, j->coefs, n, o->dtype, dst);
    if (bad < n)
      return lp_error(LEAP_ERR_NUMERIC, "%s: tensor '%s' element %zu is not finite as %s after combining; nothing "
                      "written", j->d->out_path, o->name, done + bad, lp_dtype_name(o->dtype));
    s = lp_lcsc_writer_commit(w, n * osize);
    if (s != LEAP_OK) return s;
    done += n;
  }
  return LEAP_OK;
}

static leap_status run(combine_job *j, leap_lcsc_combine_stats *stats) {
  const leap_lcsc_combine_desc *d = j->d;
  const double t0 = lp_now_seconds();
  leap_status s;
  for (int i = 0; i < d->count; i++) {
    s = lp_st_open(d->paths[i], &j->files[i]);
    if (s != LEAP_OK) return s;
  }
  for (int i = 1; i < d->count; i++) {
    s = check_match(j->files[0], j->files[i]);
    if (s != LEAP_OK) return s;
  }
  s = plan(j);
  if (s != LEAP_OK) return s;
  for (int i = 0; i < d->count; i++) j->coefs[i] = (float)d->coefs[i];
  if (d->ctx && d->ctx->kind == LEAP_BACKEND_VULKAN) {
    s = lp_lcsc_vk_create(d->ctx->be, d->count, j->coefs, j->out_dtype, 0, &j->vk);
    if (s != LEAP_OK) return s;
  }
  lp_lcsc_writer *w;
  s = lp_lcsc_writer_open(d->out_path, LP_OUT_COMBINED, d->paths, d->count, j->out, j->nout, j->mkeys, j->mvals,
                          j->nmeta, &w);
  if (s != LEAP_OK) return s;
  for (int i = 0; i < j->nout && s == LEAP_OK; i++) s = write_tensor(j, w, &j->out[i]);
  if (s == LEAP_OK && j->vk) s = lp_lcsc_vk_drain(j->vk, w);
  if (s == LEAP_ERR_NUMERIC && j->vk) { /* the device path names the tensor, not the file */
    char why[600];
    snprintf(why, sizeof why, "%s", leap_last_error());
    s = lp_error(s, "%s: %s", d->out_path, why);
  }
  const uint64_t file_bytes = lp_lcsc_writer_file_bytes(w);
  if (s != LEAP_OK) {
    lp_lcsc_writer_abort(w);
    return s;
  }
  s = lp_lcsc_writer_finish(w);
  if (s == LEAP_OK && stats) {
    stats->bytes_read = j->bytes_read;
    stats->bytes_written = file_bytes;
    stats->seconds = lp_now_seconds() - t0;
  }
  return s;
}

leap_status lp_lcsc_combine_ex(const leap_lcsc_combine_desc *d, leap_lcsc_combine_stats *stats,
                               lp_lcsc_combine_detail *detail) {
  if (detail) detail->chunks = 0, detail->kernel_ms = -1;
  leap_status s = check_desc(d);
  if (s != LEAP_OK) return s;
  if (stats && stats->struct_size < sizeof *stats)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_combine: stats struct_size %u, expected %zu",
                    stats->struct_size, sizeof *stats);
  combine_job j;
  memset(&j, 0, sizeof j);
  j.d = d;
  j.files = lp_calloc((size_t)d->count, sizeof *j.files);
  j.coefs = lp_calloc((size_t)d->count, sizeof *j.coefs);
  j.src = lp_calloc(2 * (size_t)d->count, sizeof *j.src);
  j.dtypes = lp_calloc((size_t)d->count, sizeof *j.dtypes);
  if (!j.files || !j.coefs || !j.src || !j.dtypes)
    s = lp_error(LEAP_ERR_NOMEM, "%s: out of memory", d->out_path);
  else
    s = run(&j, stats);
  if (j.vk && detail) lp_lcsc_vk_counters(j.vk, &detail->chunks, &detail->kernel_ms);
  lp_lcsc_vk_destroy(j.vk);
  for (int i = 0; j.files && i < d->count; i++) lp_st_close(j.files[i]);
  free(j.files);
  free(j.coefs);
  free(j.src);
  free(j.dtypes);
  free(j.out);
  free(j.mkeys);
  free(j.mvals);
  free(j.coefs_json.s);
  free(j.sources_json.s);
  return s;
}

leap_status leap_lcsc_combine(const leap_lcsc_combine_desc *desc, leap_lcsc_combine_stats *stats) {
  if (!desc) return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_combine: desc is NULL");
  /* The caller's structs may be older and smaller than this library's. */
  leap_lcsc_combine_desc d = leap_lcsc_combine_desc_default();
  leap_status s = lp_struct_in(&d, sizeof d, desc, "leap_lcsc_combine: desc");
  if (s == LEAP_OK && stats) s = lp_struct_check(stats, "leap_lcsc_combine: stats");
  if (s != LEAP_OK) return s;
  leap_lcsc_combine_stats st;
  memset(&st, 0, sizeof st);
  st.struct_size = sizeof st;
  s = lp_lcsc_combine_ex(&d, stats ? &st : NULL, NULL);
  if (s == LEAP_OK && stats) s = lp_struct_out(stats, &st, sizeof st, "leap_lcsc_combine: stats");
  return s;
}
