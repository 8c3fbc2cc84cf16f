/* safetensors_read.c - opening, validating and looking up safetensors files.
 * The file is mmapped read-only; the header is parsed and checked once, so
 * that every tensor handed out afterwards lies inside the mapping. */
#define _POSIX_C_SOURCE 200809L
#include "safetensors.h"
#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "file_read.h"
#include "json.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader assumes a little-endian host"
#endif

/* The reference implementation refuses headers above 100 MB as well. */
#define MAX_HEADER_BYTES (100u * 1000u * 1000u)

struct lp_st_file {
  char *path;
  void *map;
  size_t map_size;
  int count;
  lp_st_tensor *tensors;         /* by data offset */
  const lp_st_tensor **by_name;  /* sorted by name, for bsearch */
  int meta_count;
  char **meta_keys, **meta_vals;
  int meta_seen;                 /* a __metadata__ entry was read (an empty one allocates nothing) */
};

/* Per-tensor offsets, kept only while validating. */
typedef struct span {
  uint64_t begin, end;
  int index;
} span;

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = lp_malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

void lp_st_close(lp_st_file *f) {
  if (!f) return;
  if (f->map) munmap(f->map, f->map_size);
  for (int i = 0; i < f->count; i++) free((char *)f->tensors[i].name);
  for (int i = 0; i < f->meta_count; i++) {
    free(f->meta_keys[i]);
    free(f->meta_vals[i]);
  }
  free(f->tensors);
  free(f->by_name);
  free(f->meta_keys);
  free(f->meta_vals);
  free(f->path);
  free(f);
}

static int cmp_by_name(const void *a, const void *b) {
  return strcmp((*(const lp_st_tensor *const *)a)->name,
                (*(const lp_st_tensor *const *)b)->name);
}

static int cmp_span(const void *a, const void *b) {
  const span *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

static leap_status read_metadata(lp_st_file *f, const lp_json *m) {
  /* The JSON reader keeps repeated keys; a second __metadata__ would
   * replace the first one's copies (leaking them) or contradict it. */
  if (f->meta_keys || f->meta_seen)
    return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ appears twice", f->path);
  f->meta_seen = 1;
  if (m->type != LP_JSON_OBJECT)
    return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ is a %s, not an object",
                    f->path, lp_json_type_name(m->type));
  if (m->count == 0) return LEAP_OK;
  f->meta_keys = lp_calloc((size_t)m->count, sizeof *f->meta_keys);
  f->meta_vals = lp_calloc((size_t)m->count, sizeof *f->meta_vals);
  if (!f->meta_keys || !f->meta_vals)
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory for metadata", f->path);
  for (int i = 0; i < m->count; i++) {
    if (m->items[i].type != LP_JSON_STRING)
      return lp_error(LEAP_ERR_FORMAT,
                      "%s: __metadata__ value of '%s' is a %s, not a string",
                      f->path, m->keys[i], lp_json_type_name(m->items[i].type));
    for (int j = 0; j < i; j++)
      if (strcmp(m->keys[j], m->keys[i]) == 0)
        return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ key '%s' appears twice",
                        f->path, m->keys[i]);
    f->meta_keys[i] = dup_str(m->keys[i]);
    f->meta_vals[i] = dup_str(m->items[i].string);
    f->meta_count = i + 1; /* so close() frees what was copied */
    if (!f->meta_keys[i] || !f->meta_vals[i])
      return lp_error(LEAP_ERR_NOMEM, "%s: out of memory for metadata", f->path);
  }
  return LEAP_OK;
}

/* Reads a non-negative JSON integer. */
static int get_u64(const lp_json *v, uint64_t *out) {
  if (v->type != LP_JSON_NUMBER || !v->is_int || v->integer < 0) return 0;
  *out = (uint64_t)v->integer;
  return 1;
}

/* Fills t and s from one header entry; data is checked later. */
static leap_status read_entry(const lp_st_file *f, const char *name,
                              const lp_json *e, lp_st_tensor *t, span *s) {
  if (e->type != LP_JSON_OBJECT)
    return lp_error(LEAP_ERR_FORMAT, "%s: tensor '%s': entry is a %s, not an object",
                    f->path, name, lp_json_type_name(e->type));
  const lp_json *dt = lp_json_get(e, "dtype");
  const lp_json *sh = lp_json_get(e, "shape");
  const lp_json *off = lp_json_get(e, "data_offsets");
  const char *missing = !dt ? "dtype" : !sh ? "shape" : !off ? "data_offsets" : NULL;
  if (missing)
    return lp_error(LEAP_ERR_FORMAT, "%s: tensor '%s' has no \"%s\"", f->path,
                    name, missing);
  if (dt->type != LP_JSON_STRING)
    return lp_error(LEAP_ERR_FORMAT, "%s: tensor '%s': dtype is not a string",
                    f->path, name);
  if (!lp_dtype_from_name(dt->string, &t->dtype))
    return lp_error(LEAP_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%s'",
                    f->path, name, dt->string);
  if (sh->type != LP_JSON_ARRAY)
    return lp_error(LEAP_ERR_FORMAT, "%s: tensor '%s': shape is not an array",
                    f->path, name);
  if (sh->count > LEAP_MAX_DIMS)
    return lp_error(LEAP_ERR_UNSUPPORTED,
                    "%s: tensor '%s' has %d dimensions, more than the %d supported",
                    f->path, name, sh->count, LEAP_MAX_DIMS);
  t->ndim = sh->count;
  uint64_t numel = 1;
  for (int d = 0; d < sh->count; d++) {
    uint64_t dim;
    if (!get_u64(&sh->items[d], &dim))
      return lp_error(LEAP_ERR_FORMAT,
                      "%s: tensor '%s': shape dimension %d is not a non-negative integer",
                      f->path, name, d);
    t->shape[d] = (int64_t)dim;
    if (dim != 0 && numel > (uint64_t)INT64_MAX / dim)
      return lp_error(LEAP_ERR_FORMAT,
                      "%s: tensor '%s': element count overflows", f->path, name);
    numel *= dim;
  }
  t->numel = (int64_t)numel;
  if (off->type != LP_JSON_ARRAY || off->count != 2 ||
      !get_u64(&off->items[0], &s->begin) || !get_u64(&off->items[1], &s->end))
    return lp_error(LEAP_ERR_FORMAT,
                    "%s: tensor '%s': data_offsets is not [begin, end] of non-negative integers",
                    f->path, name);
  if (s->begin > s->end)
    return lp_error(LEAP_ERR_FORMAT,
                    "%s: tensor '%s': data_offsets begin %llu > end %llu", f->path,
                    name, (unsigned long long)s->begin, (unsigned long long)s->end);
  size_t esize = lp_dtype_size(t->dtype);
  if (numel > UINT64_MAX / esize)
    return lp_error(LEAP_ERR_FORMAT, "%s: tensor '%s': byte size overflows",
                    f->path, name);
  if (numel * esize != s->end - s->begin)
    return lp_error(LEAP_ERR_FORMAT,
                    "%s: tensor '%s': %llu bytes of data, but %llu elements of %s need %llu",
                    f->path, name, (unsigned long long)(s->end - s->begin),
                    (unsigned long long)numel, lp_dtype_name(t->dtype),
                    (unsigned long long)(numel * esize));
  return LEAP_OK;
}

static leap_status read_header(lp_st_file *f, const lp_json *h, const char *data,
                               uint64_t data_len) {
  if (h->type != LP_JSON_OBJECT)
    return lp_error(LEAP_ERR_FORMAT, "%s: header is a JSON %s, not an object",
                    f->path, lp_json_type_name(h->type));
  int n = 0;
  for (int i = 0; i < h->count; i++) n += strcmp(h->keys[i], "__metadata__") != 0;
  span *spans = lp_calloc((size_t)n + 1, sizeof *spans);
  f->tensors = lp_calloc((size_t)n + 1, sizeof *f->tensors);
  f->by_name = lp_calloc((size_t)n + 1, sizeof *f->by_name);
  if (!spans || !f->tensors || !f->by_name) {
    free(spans);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory for %d tensors", f->path, n);
  }
  leap_status st = LEAP_OK;
  lp_st_tensor *tmp = lp_calloc((size_t)n + 1, sizeof *tmp);
  if (!tmp) st = lp_error(LEAP_ERR_NOMEM, "%s: out of memory", f->path);
  int k = 0;
  for (int i = 0; st == LEAP_OK && i < h->count; i++) {
    if (strcmp(h->keys[i], "__metadata__") == 0) {
      st = read_metadata(f, &h->items[i]);
      continue;
    }
    st = read_entry(f, h->keys[i], &h->items[i], &tmp[k], &spans[k]);
    if (st != LEAP_OK) break;
    if (spans[k].end > data_len)
      st = lp_error(LEAP_ERR_FORMAT,
                    "%s: tensor '%s': data ends at %llu, past the %llu-byte data buffer",
                    f->path, h->keys[i], (unsigned long long)spans[k].end,
                    (unsigned long long)data_len);
    tmp[k].name = h->keys[i]; /* borrowed until the copy below */
    spans[k].index = k;
    k++;
  }
  if (st == LEAP_OK) {
    /* A JSON object may repeat a key; which tensor is meant would be a guess.
     * (Checked before overlaps: a repeated entry also overlaps itself.) */
    for (int i = 0; i < n; i++) f->by_name[i] = &tmp[i];
    qsort(f->by_name, (size_t)n, sizeof *f->by_name, cmp_by_name);
    for (int i = 1; i < n && st == LEAP_OK; i++)
      if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0)
        st = lp_error(LEAP_ERR_FORMAT, "%s: tensor '%s' appears twice", f->path,
                      f->by_name[i]->name);
  }
  if (st == LEAP_OK) {
    /* Sorted by offset, overlapping ranges are neighbours. Empty tensors
     * occupy nothing and cannot overlap. */
    qsort(spans, (size_t)n, sizeof *spans, cmp_span);
    uint64_t prev_end = 0;
    int prev = -1;
    for (int i = 0; i < n && st == LEAP_OK; i++) {
      if (spans[i].begin == spans[i].end) continue;
      if (prev >= 0 && spans[i].begin < prev_end)
        st = lp_error(LEAP_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap in the data buffer",
                      f->path, tmp[prev].name, tmp[spans[i].index].name);
      prev_end = spans[i].end;
      prev = spans[i].index;
    }
  }
  for (int i = 0; st == LEAP_OK && i < n; i++) {
    lp_st_tensor *t = &f->tensors[i];
    *t = tmp[spans[i].index];
    t->data = data + spans[i].begin;
    t->bytes = (size_t)(spans[i].end - spans[i].begin);
    t->name = dup_str(t->name);
    f->count = i + 1;
    if (!t->name) st = lp_error(LEAP_ERR_NOMEM, "%s: out of memory", f->path);
    f->by_name[i] = t;
  }
  if (st == LEAP_OK)
    qsort(f->by_name, (size_t)n, sizeof *f->by_name, cmp_by_name);
  free(tmp);
  free(spans);
  return st;
}

/* Checks and indexes the bytes b[0..size) (the mapping, or a caller's
 * buffer); f->path names them in messages. */
static leap_status parse(lp_st_file *f, const unsigned char *b, size_t size) {
  const char *path = f->path;
  if (size < 8)
    return lp_error(LEAP_ERR_FORMAT, "%s: %llu bytes, too short for a safetensors file", path,
                    (unsigned long long)size);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
  uint64_t rest = (uint64_t)size - 8;
  if (n > MAX_HEADER_BYTES)
    return lp_error(LEAP_ERR_FORMAT, "%s: header length %llu is absurd (over %u bytes)", path,
                    (unsigned long long)n, MAX_HEADER_BYTES);
  if (n > rest)
    return lp_error(LEAP_ERR_FORMAT,
                    "%s: header length %llu runs past the end of the file (%llu bytes after the length)",
                    path, (unsigned long long)n, (unsigned long long)rest);
  char why[256];
  int oom;
  lp_json *h = lp_json_parse_oom((const char *)b + 8, (size_t)n, why, sizeof why, &oom);
  if (!h) {
    if (oom) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory reading the header", path);
    return lp_error(LEAP_ERR_FORMAT, "%s: header is not valid JSON: %s", path, why);
  }
  leap_status st = read_header(f, h, (const char *)b + 8 + n, rest - n);
  lp_json_free(h);
  return st;
}

static lp_st_file *new_file(const char *name) {
  lp_st_file *f = lp_calloc(1, sizeof *f);
  if (f && !(f->path = dup_str(name))) {
    free(f);
    f = NULL;
  }
  return f;
}

leap_status lp_st_open(const char *path, lp_st_file **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_st_open: out is NULL");
  *out = NULL;
  if (!path) return lp_error(LEAP_ERR_INVALID_ARG, "lp_st_open: path is NULL");
  int fd;
  uint64_t size;
  leap_status st = lp_file_open_regular(path, "safetensors file", 0, 0, &fd, &size);
  if (st != LEAP_OK) return st;
  if (size < 8) {
    close(fd);
    return lp_error(LEAP_ERR_FORMAT, "%s: %lld bytes, too short for a safetensors file",
                    path, (long long)size);
  }
  if (size > SIZE_MAX) {
    close(fd);
    return lp_error(LEAP_ERR_UNSUPPORTED, "%s: too large to map", path);
  }
  lp_st_file *f = new_file(path);
  if (!f) {
    close(fd);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  }
  f->map_size = (size_t)size;
  f->map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  close(fd); /* the mapping keeps the file alive */
  if (f->map == MAP_FAILED) {
    f->map = NULL;
    lp_st_close(f);
    return lp_error(LEAP_ERR_IO, "cannot map %s: %s", path, strerror(map_errno));
  }
  st = parse(f, f->map, f->map_size);
  if (st != LEAP_OK) {
    lp_st_close(f);
    return st;
  }
  *out = f;
  return LEAP_OK;
}

leap_status lp_st_open_memory(const void *data, size_t len, const char *name, lp_st_file **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_st_open_memory: out is NULL");
  *out = NULL;
  if (!data && len) return lp_error(LEAP_ERR_INVALID_ARG, "lp_st_open_memory: data is NULL");
  lp_st_file *f = new_file(name ? name : "(memory)");
  if (!f) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", name ? name : "(memory)");
  leap_status st = parse(f, data, len); /* f->map stays NULL: the bytes are borrowed */
  if (st != LEAP_OK) {
    lp_st_close(f);
    return st;
  }
  *out = f;
  return LEAP_OK;
}

const char *lp_st_path(const lp_st_file *f) { return f ? f->path : NULL; }
int lp_st_count(const lp_st_file *f) { return f ? f->count : 0; }

const lp_st_tensor *lp_st_at(const lp_st_file *f, int i) {
  return f && i >= 0 && i < f->count ? &f->tensors[i] : NULL;
}

const lp_st_tensor *lp_st_find(const lp_st_file *f, const char *name) {
  if (!f || !name || f->count == 0) return NULL;
  lp_st_tensor key;
  key.name = name;
  const lp_st_tensor *kp = &key;
  const lp_st_tensor **hit =
      bsearch(&kp, f->by_name, (size_t)f->count, sizeof *f->by_name, cmp_by_name);
  return hit ? *hit : NULL;
}

static void format_shape(char *buf, size_t len, int ndim, const int64_t *shape) {
  size_t used = (size_t)snprintf(buf, len, "[");
  for (int d = 0; d < ndim && used < len; d++)
    used += (size_t)snprintf(buf + used, len - used, d ? ", %lld" : "%lld",
                             (long long)shape[d]);
  if (used < len) snprintf(buf + used, len - used, "]");
}

leap_status lp_st_get(const lp_st_file *f, const char *name, int ndim,
                      const int64_t *shape, const lp_st_tensor **out) {
  if (!f || !name || !out || ndim < 0 || ndim > LEAP_MAX_DIMS || (ndim > 0 && !shape))
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_st_get: bad argument (tensor '%s')",
                    name ? name : "(null)");
  *out = NULL;
  const lp_st_tensor *t = lp_st_find(f, name);
  if (!t) return lp_error(LEAP_ERR_FORMAT, "%s: no tensor '%s'", f->path, name);
  if (ndim > 0) {
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
      char want[160], got[160];
      format_shape(want, sizeof want, ndim, shape);
      format_shape(got, sizeof got, t->ndim, t->shape);
      return lp_error(LEAP_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s",
                      f->path, name, got, want);
    }
  }
  *out = t;
  return LEAP_OK;
}

int lp_st_meta_count(const lp_st_file *f) { return f ? f->meta_count : 0; }

const char *lp_st_meta_key(const lp_st_file *f, int i) {
  return f && i >= 0 && i < f->meta_count ? f->meta_keys[i] : NULL;
}

const char *lp_st_meta(const lp_st_file *f, const char *key) {
  if (!f || !key) return NULL;
  for (int i = 0; i < f->meta_count; i++)
    if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
  return NULL;
}
