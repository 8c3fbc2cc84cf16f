/* safetensors_write.c - building a safetensors file in memory and
 * publishing it by core/output.h's rule: a unique temporary in the target's
 * folder, fsync, rename over the target. A crash or error never leaves a
 * half-written PATH, and PATH is never an input or a stranger's file. */
#define _POSIX_C_SOURCE 200809L
#include "safetensors.h"
#include "alloc.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "file_write.h"
#include "output.h"

typedef struct entry {
  char *name;
  leap_dtype dtype;
  int ndim;
  int64_t shape[LEAP_MAX_DIMS];
  void *data;
  size_t bytes;
  uint64_t offset; /* set by finish */
} entry;

struct lp_st_writer {
  char *path;
  lp_out_kind kind;
  char **inputs;
  int ninputs;
  entry *tensors;
  int count, cap;
  char **meta_keys, **meta_vals;
  int meta_count, meta_cap;
};

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = lp_malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* Names and metadata must be valid UTF-8, or other readers (serde_json in
 * the reference) refuse the whole file. Overlong forms and surrogates are
 * invalid too. */
static int valid_utf8(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned c = *p;
    int n;
    uint32_t cp, min;
    if (c < 0x80) {
      p++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return 0;
    }
    for (int i = 1; i <= n; i++) {
      if ((p[i] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    p += n + 1;
  }
  return 1;
}

leap_status lp_st_writer_create(const char *path, lp_st_writer **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_st_writer_create: out is NULL");
  *out = NULL;
  if (!path || !*path)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_st_writer_create: empty path");
  lp_st_writer *w = lp_calloc(1, sizeof *w);
  if (!w || !(w->path = dup_str(path))) {
    free(w);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  }
  *out = w;
  return LEAP_OK;
}

void lp_st_writer_abort(lp_st_writer *w) {
  if (!w) return;
  for (int i = 0; i < w->count; i++) {
    free(w->tensors[i].name);
    free(w->tensors[i].data);
  }
  for (int i = 0; i < w->meta_count; i++) {
    free(w->meta_keys[i]);
    free(w->meta_vals[i]);
  }
  for (int i = 0; i < w->ninputs; i++) free(w->inputs[i]);
  free(w->inputs);
  free(w->tensors);
  free(w->meta_keys);
  free(w->meta_vals);
  free(w->path);
  free(w);
}

leap_status lp_st_writer_output(lp_st_writer *w, lp_out_kind kind, const char *const *inputs, int ninputs) {
  if (!w || (unsigned)kind >= LP_OUT_KIND_COUNT || ninputs < 0 || (ninputs && !inputs))
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_st_writer_output: bad argument");
  char **copy = lp_calloc((size_t)ninputs + 1, sizeof *copy);
  int n = 0;
  for (int i = 0; copy && i < ninputs; i++)
    if (inputs[i] && !(copy[n++] = dup_str(inputs[i]))) {
      while (n) free(copy[--n]);
      free(copy);
      copy = NULL;
    }
  if (!copy) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", w->path);
  for (int i = 0; i < w->ninputs; i++) free(w->inputs[i]);
  free(w->inputs);
  w->inputs = copy;
  w->ninputs = n;
  w->kind = kind;
  return LEAP_OK;
}

leap_status lp_st_writer_meta(lp_st_writer *w, const char *key, const char *value) {
  if (!w || !key || !value)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_st_writer_meta: NULL argument");
  if (!valid_utf8(key) || !valid_utf8(value))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: metadata '%s' is not valid UTF-8",
                    w->path, key);
  for (int i = 0; i < w->meta_count; i++)
    if (strcmp(w->meta_keys[i], key) == 0)
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: metadata key '%s' added twice",
                      w->path, key);
  if (w->meta_count == w->meta_cap) {
    int nc = w->meta_cap ? 2 * w->meta_cap : 16;
    char **k = lp_realloc(w->meta_keys, (size_t)nc * sizeof *k);
    if (k) w->meta_keys = k;
    char **v = k ? lp_realloc(w->meta_vals, (size_t)nc * sizeof *v) : NULL;
    if (v) w->meta_vals = v;
    if (!k || !v) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", w->path);
    w->meta_cap = nc;
  }
  char *k = dup_str(key), *v = dup_str(value);
  if (!k || !v) {
    free(k);
    free(v);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", w->path);
  }
  w->meta_keys[w->meta_count] = k;
  w->meta_vals[w->meta_count] = v;
  w->meta_count++;
  return LEAP_OK;
}

leap_status lp_st_writer_add(lp_st_writer *w, const char *name, leap_dtype dtype,
                             int ndim, const int64_t *shape, const void *data) {
  if (!w || !name)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_st_writer_add: NULL argument");
  if (!*name || strcmp(name, "__metadata__") == 0 || !valid_utf8(name))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: '%s' is not a valid tensor name",
                    w->path, name);
  size_t esize = lp_dtype_size(dtype);
  if (!esize)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: tensor '%s': unknown dtype %d",
                    w->path, name, (int)dtype);
  if (ndim < 0 || ndim > LEAP_MAX_DIMS || (ndim > 0 && !shape))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: tensor '%s': bad ndim %d", w->path,
                    name, ndim);
  uint64_t numel = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0)
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: tensor '%s': negative dimension %d",
                      w->path, name, d);
    if (shape[d] && numel > SIZE_MAX / esize / (uint64_t)shape[d])
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: tensor '%s': too large", w->path, name);
    numel *= (uint64_t)shape[d];
  }
  size_t bytes = (size_t)numel * esize;
  if (bytes && !data)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: tensor '%s': data is NULL", w->path, name);
  for (int i = 0; i < w->count; i++)
    if (strcmp(w->tensors[i].name, name) == 0)
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: tensor '%s' added twice", w->path, name);
  if (w->count == w->cap) {
    int nc = w->cap ? 2 * w->cap : 32;
    entry *t = lp_realloc(w->tensors, (size_t)nc * sizeof *t);
    if (!t) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", w->path);
    w->tensors = t;
    w->cap = nc;
  }
  entry e = {0};
  e.name = dup_str(name);
  e.data = lp_malloc(bytes ? bytes : 1);
  if (!e.name || !e.data) {
    free(e.name);
    free(e.data);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory for tensor '%s' (%zu bytes)",
                    w->path, name, bytes);
  }
  if (bytes) memcpy(e.data, data, bytes);
  e.dtype = dtype;
  e.ndim = ndim;
  for (int d = 0; d < ndim; d++) e.shape[d] = shape[d];
  e.bytes = bytes;
  w->tensors[w->count++] = e;
  return LEAP_OK;
}

/* ------------------------------------------------------------ the header */


/* The reference writer's layout: larger elements first, then by name, so
 * each tensor starts at a multiple of its element size. */
static int cmp_layout(const void *a, const void *b) {
  const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
  size_t sx = lp_dtype_size(x->dtype), sy = lp_dtype_size(y->dtype);
  if (sx != sy) return sx > sy ? -1 : 1;
  return strcmp(x->name, y->name);
}

static void build_header(lp_strbuf *b, entry **order, int n, const lp_st_writer *w) {
  lp_strbuf_put(b, "{", 1);
  int first = 1;
  const int marked = w->kind != LP_OUT_ANY; /* the kind's marker, first: output.h */
  if (w->meta_count || marked) {
    lp_strbuf_puts(b, "\"__metadata__\":{");
    if (marked) {
      lp_strbuf_json_string(b, LP_OUT_META_KEY);
      lp_strbuf_put(b, ":", 1);
      lp_strbuf_json_string(b, lp_out_kind_name(w->kind));
    }
    int put = marked;
    for (int i = 0; i < w->meta_count; i++) {
      /* the kind's own marker wins over one copied from another file */
      if (marked && strcmp(w->meta_keys[i], LP_OUT_META_KEY) == 0) continue;
      if (put++) lp_strbuf_put(b, ",", 1);
      lp_strbuf_json_string(b, w->meta_keys[i]);
      lp_strbuf_put(b, ":", 1);
      lp_strbuf_json_string(b, w->meta_vals[i]);
    }
    lp_strbuf_put(b, "}", 1);
    first = 0;
  }
  for (int i = 0; i < n; i++) {
    const entry *e = order[i];
    char num[64];
    if (!first) lp_strbuf_put(b, ",", 1);
    first = 0;
    lp_strbuf_json_string(b, e->name);
    lp_strbuf_puts(b, ":{\"dtype\":\"");
    lp_strbuf_puts(b, lp_dtype_name(e->dtype));
    lp_strbuf_puts(b, "\",\"shape\":[");
    for (int d = 0; d < e->ndim; d++) {
      snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)e->shape[d]);
      lp_strbuf_puts(b, num);
    }
    snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}",
             (unsigned long long)e->offset, (unsigned long long)(e->offset + e->bytes));
    lp_strbuf_puts(b, num);
  }
  lp_strbuf_put(b, "}", 1);
  /* Pad with spaces so that the data buffer starts 8-byte aligned. */
  while (!b->oom && b->len % 8) lp_strbuf_put(b, " ", 1);
}

/* ------------------------------------------------------------ the file */



/* Weights must be finite: a file of Inf or NaN that leap then refuses to
 * load is no output. */
static leap_status check_finite(const lp_st_writer *w) {
  for (int i = 0; i < w->count; i++) {
    const entry *e = &w->tensors[i];
    const size_t es = lp_dtype_size(e->dtype), n = es ? e->bytes / es : 0;
    for (size_t k = 0; k < n; k++) {
      const unsigned char *p = (const unsigned char *)e->data + k * es;
      int bad = 0;
      if (e->dtype == LEAP_F32) {
        float v;
        memcpy(&v, p, 4);
        bad = !isfinite(v);
      } else if (e->dtype == LEAP_F64) {
        double v;
        memcpy(&v, p, 8);
        bad = !isfinite(v);
      } else if (e->dtype == LEAP_F16 || e->dtype == LEAP_BF16) {
        uint16_t h;
        memcpy(&h, p, 2);
        bad = e->dtype == LEAP_F16 ? (h & 0x7c00u) == 0x7c00u : (h & 0x7f80u) == 0x7f80u;
      }
      if (bad)
        return lp_error(LEAP_ERR_NUMERIC, "%s: tensor '%s' element %zu is not finite (%s); nothing written",
                        w->path, e->name, k, lp_dtype_name(e->dtype));
    }
  }
  return LEAP_OK;
}

static leap_status write_file(const lp_st_writer *w, entry **order, int n, const lp_strbuf *hdr, lp_out **out) {
  lp_out *o;
  leap_status s = lp_out_begin(w->path, w->kind, (const char *const *)w->inputs, w->ninputs, &o);
  if (s != LEAP_OK) return s;
  const int fd = lp_out_fd(o);
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hdr->len >> (8 * i));
  int ok = lp_write_all(fd, len8, 8) && lp_write_all(fd, hdr->data, hdr->len);
  for (int i = 0; ok && i < n; i++) ok = lp_write_all(fd, order[i]->data, order[i]->bytes);
  if (!ok) {
    s = lp_error(LEAP_ERR_IO, "cannot write %s (for %s): %s", lp_out_temp(o), w->path, strerror(errno));
    lp_out_abort(o);
    return s;
  }
  *out = o;
  return LEAP_OK;
}

leap_status lp_st_writer_finish_unit(lp_st_writer *w, lp_out **out) {
  if (!out) {
    lp_st_writer_abort(w);
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_st_writer_finish_unit: out is NULL");
  }
  *out = NULL;
  if (!w) return lp_error(LEAP_ERR_INVALID_ARG, "lp_st_writer_finish: writer is NULL");
  leap_status st = LEAP_OK;
  entry **order = lp_malloc(((size_t)w->count + 1) * sizeof *order);
  lp_strbuf hdr = {0};
  if (!order) {
    st = lp_error(LEAP_ERR_NOMEM, "%s: out of memory", w->path);
    goto done;
  }
  if (lp_out_kind_needs_finite(w->kind) && (st = check_finite(w)) != LEAP_OK) goto done;
  for (int i = 0; i < w->count; i++) order[i] = &w->tensors[i];
  qsort(order, (size_t)w->count, sizeof *order, cmp_layout);
  uint64_t offset = 0;
  for (int i = 0; i < w->count; i++) {
    order[i]->offset = offset;
    offset += order[i]->bytes;
  }
  build_header(&hdr, order, w->count, w);
  if (hdr.oom) {
    st = lp_error(LEAP_ERR_NOMEM, "%s: out of memory for the header", w->path);
    goto done;
  }
  st = write_file(w, order, w->count, &hdr, out);
done:
  free(hdr.data);
  free(order);
  lp_st_writer_abort(w);
  return st;
}

leap_status lp_st_writer_finish(lp_st_writer *w) {
  lp_out *o = NULL;
  leap_status s = lp_st_writer_finish_unit(w, &o);
  return s == LEAP_OK ? lp_out_commit(o) : s;
}
