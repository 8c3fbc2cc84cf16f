/* sample_parts.c - samples files, their parts and index; see
 * sample_parts.h. */
#define _POSIX_C_SOURCE 200809L
#include "sample_parts.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "error.h"
#include "file_read.h"
#include "file_write.h"
#include "json.h"
#include "lcsc_writer.h"
#include "safetensors.h"
#include "shard.h"

const char *const cli_raw_setting_keys[CLI_RAW_SETTINGS] = {
    [CLI_RAW_MODEL] = "model",       [CLI_RAW_SAMPLER] = "sampler", [CLI_RAW_SCHEDULE] = "schedule",
    [CLI_RAW_STEPS] = "steps",       [CLI_RAW_CFG] = "cfg",         [CLI_RAW_SHIFT] = "shift",
    [CLI_RAW_ETA] = "eta",           [CLI_RAW_SEED] = "seed",       [CLI_RAW_NOISE] = "noise",
    [CLI_RAW_BATCH] = "batch",       [CLI_RAW_DEVICE] = "device",     [CLI_RAW_LABEL_CYCLE] = "label_cycle",
};

#define INDEX_FORMAT "leap-samples-index"
/* An index lists one part per shard; its text stays well below this. */
#define INDEX_MAX_BYTES ((size_t)256 << 20)

leap_status cli_raw_parse_cycle(const char *where, const char *text, int32_t **list, int *count) {
  *list = NULL, *count = 0;
  if (!text) return lp_error(LEAP_ERR_FORMAT, "%s: no label_cycle", where);
  if (strcmp(text, "none") == 0) return LEAP_OK;
  int cap = 1;
  for (const char *p = text; *p; p++) cap += *p == ',';
  int32_t *l = lp_malloc((size_t)cap * sizeof *l);
  if (!l) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  const char *p = text;
  for (int i = 0; i < cap; i++) {
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || errno == ERANGE || v < 0 || v > 1000000 || (*end != ',' && *end != 0)) {
      free(l);
      return lp_error(LEAP_ERR_FORMAT, "%s: label_cycle '%.40s' is not comma-separated labels", where, text);
    }
    l[i] = (int32_t)v;
    p = *end ? end + 1 : end;
  }
  *list = l, *count = cap;
  return LEAP_OK;
}

/* The labels of images [first, first + count) as "0,1,2". */
static char *labels_text(const char *cycle_text, int64_t first, int64_t count) {
  int32_t *cycle = NULL;
  int len = 0;
  if (cli_raw_parse_cycle("labels", cycle_text, &cycle, &len) != LEAP_OK) return NULL;
  if (!cycle) return lp_strdup("none");
  lp_strbuf b = {0};
  for (int64_t j = 0; j < count; j++)
    lp_strbuf_printf(&b, j ? ",%d" : "%d", (int)cycle[(first + j) % len]);
  free(cycle);
  if (b.oom || !b.data) {
    free(b.data);
    return count ? NULL : lp_strdup("");
  }
  return b.data;
}

leap_status cli_raw_meta_make(cli_raw_meta *m, const char *const *settings, int64_t n, int64_t first,
                              int64_t count, int64_t shard_i, int64_t shard_n) {
  memset(m, 0, sizeof *m);
  for (int k = 0; k < CLI_RAW_SETTINGS; k++) {
    m->key[m->pairs] = cli_raw_setting_keys[k];
    m->val[m->pairs++] = settings[k];
  }
  snprintf(m->n, sizeof m->n, "%" PRId64, n);
  m->key[m->pairs] = "n", m->val[m->pairs++] = m->n;
  if (shard_n > 0) {
    snprintf(m->first, sizeof m->first, "%" PRId64, first);
    snprintf(m->count, sizeof m->count, "%" PRId64, count);
    snprintf(m->shard, sizeof m->shard, "%" PRId64 "/%" PRId64, shard_i, shard_n);
    m->key[m->pairs] = "first", m->val[m->pairs++] = m->first;
    m->key[m->pairs] = "count", m->val[m->pairs++] = m->count;
    m->key[m->pairs] = "shard", m->val[m->pairs++] = m->shard;
  }
  if (count <= CLI_RAW_LABELS_MAX) {
    m->labels = labels_text(settings[CLI_RAW_LABEL_CYCLE], first, count);
    if (!m->labels) return lp_error(LEAP_ERR_NOMEM, "out of memory");
    m->key[m->pairs] = "labels", m->val[m->pairs++] = m->labels;
  }
  return LEAP_OK;
}

void cli_raw_meta_free(cli_raw_meta *m) {
  free(m->labels);
  m->labels = NULL;
}

/* path without a final ".safetensors". */
static size_t stem_len(const char *path) {
  static const char ext[] = ".safetensors";
  const size_t len = strlen(path), el = sizeof ext - 1;
  return len > el && strcmp(path + len - el, ext) == 0 ? len - el : len;
}

int cli_raw_part_name(const char *path, int64_t i, int64_t count, char *buf, size_t len) {
  const int n = snprintf(buf, len, "%.*s-%05" PRId64 "-of-%05" PRId64 ".safetensors", (int)stem_len(path), path,
                         i, count);
  return n > 0 && (size_t)n < len;
}

int cli_raw_index_name(const char *path, char *buf, size_t len) {
  const int n = snprintf(buf, len, "%.*s.safetensors.index.json", (int)stem_len(path), path);
  return n > 0 && (size_t)n < len;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

leap_status cli_raw_index_write(const char *raw_path, const char *const *settings, int64_t n, int64_t batch,
                                int c, int h, int w, int64_t parts, const char *const *inputs, int ninputs) {
  char index[4096], part[4096];
  if (!cli_raw_index_name(raw_path, index, sizeof index))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: path too long", raw_path);
  lp_strbuf b = {0};
  lp_strbuf_printf(&b, "{\"format\": \"" INDEX_FORMAT "\", \"version\": 1, \"n\": %" PRId64
                       ", \"shape\": [%d, %d, %d],\n \"settings\": {", n, c, h, w);
  for (int k = 0; k < CLI_RAW_SETTINGS; k++) {
    lp_strbuf_puts(&b, k ? ", " : "");
    lp_strbuf_json_string(&b, cli_raw_setting_keys[k]);
    lp_strbuf_puts(&b, ": ");
    lp_strbuf_json_string(&b, settings[k]);
  }
  lp_strbuf_puts(&b, "},\n \"parts\": [");
  for (int64_t i = 0; i < parts; i++) {
    if (!cli_raw_part_name(raw_path, i, parts, part, sizeof part)) {
      free(b.data);
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: path too long", raw_path);
    }
    const cli_shard sh = {i, parts};
    int64_t first, count;
    cli_shard_range(&sh, n, batch, &first, &count);
    lp_strbuf_puts(&b, i ? ",\n  {\"file\": " : "\n  {\"file\": ");
    lp_strbuf_json_string(&b, base_name(part));
    lp_strbuf_printf(&b, ", \"first\": %" PRId64 ", \"count\": %" PRId64 "}", first, count);
  }
  lp_strbuf_puts(&b, "\n ]}\n");
  leap_status s = b.oom ? lp_error(LEAP_ERR_NOMEM, "out of memory")
                        : lp_out_write_bytes(index, LP_OUT_SAMPLES_INDEX, inputs, ninputs, b.data, b.len,
                                             "samples index");
  free(b.data);
  return s;
}

/* ------------------------------------------------------------------ writer */

struct cli_raw_writer {
  lp_lcsc_writer *w;
  uint64_t bytes_per_image, expected, written;
};

leap_status cli_raw_writer_open(const char *path, const cli_raw_meta *m, int64_t count, int c, int h, int w,
                                const char *const *inputs, int ninputs, cli_raw_writer **out) {
  *out = NULL;
  cli_raw_writer *r = lp_calloc(1, sizeof *r);
  if (!r) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  r->bytes_per_image = (uint64_t)c * h * w * sizeof(float);
  r->expected = (uint64_t)count;
  lp_lcsc_out_tensor t = {.name = "samples", .dtype = LEAP_F32, .ndim = 4,
                          .shape = {count, c, h, w}, .bytes = (uint64_t)count * r->bytes_per_image};
  leap_status s = lp_lcsc_writer_open(path, LP_OUT_SAMPLES, inputs, ninputs, &t, 1, m->key, m->val, m->pairs,
                                      &r->w);
  if (s != LEAP_OK) {
    free(r);
    return s;
  }
  *out = r;
  return LEAP_OK;
}

leap_status cli_raw_writer_append(cli_raw_writer *w, const float *x, int64_t images) {
  leap_status s = lp_lcsc_writer_append(w->w, x, (size_t)((uint64_t)images * w->bytes_per_image));
  if (s == LEAP_OK) w->written += (uint64_t)images;
  return s;
}

leap_status cli_raw_writer_finish(cli_raw_writer *w) {
  leap_status s = lp_lcsc_writer_finish(w->w); /* checks every announced byte came */
  free(w);
  return s;
}

leap_status cli_raw_writer_finish_unit(cli_raw_writer *w, lp_out **out) {
  leap_status s = lp_lcsc_writer_finish_unit(w->w, out);
  free(w);
  return s;
}

void cli_raw_writer_abort(cli_raw_writer *w) {
  if (!w) return;
  lp_lcsc_writer_abort(w->w);
  free(w);
}

/* ------------------------------------------------------------------ reader */

typedef struct src_part {
  char *path;
  int64_t first, count;
} src_part;

struct cli_samples_src {
  char *where;                         /* the path given, for messages */
  int64_t n;
  int c, h, w;
  char *settings[CLI_RAW_SETTINGS];    /* NULL: absent */
  int32_t *cycle;                      /* label_cycle; NULL: none */
  int cycle_len;
  src_part *parts;
  int64_t nparts, part;                /* parts; the one being read */
  int is_index;
  /* The open part. */
  lp_st_file *f;
  const lp_st_tensor *t;
  int32_t *labels;                     /* its "labels" list, or NULL */
  int64_t pos;                         /* images of it read */
};

static leap_status set_setting(cli_samples_src *s, int k, const char *v) {
  if (!v) return LEAP_OK;
  s->settings[k] = lp_strdup(v);
  return s->settings[k] ? LEAP_OK : lp_error(LEAP_ERR_NOMEM, "out of memory");
}

static int is_json(const char *path) {
  const size_t len = strlen(path);
  return len > 5 && strcmp(path + len - 5, ".json") == 0;
}

static leap_status index_error(const char *path, const char *what) {
  return lp_error(LEAP_ERR_FORMAT, "%s: not a samples index: %s", path, what);
}

static int json_count(const lp_json *v, int64_t *out) {
  if (!v || v->type != LP_JSON_NUMBER || !v->is_int || v->integer < 0) return 0;
  *out = v->integer;
  return 1;
}

static leap_status read_index(cli_samples_src *s, const char *path) {
  char *text = NULL, err[160];
  size_t len = 0;
  leap_status st = lp_file_read_all(path, "samples index", INDEX_MAX_BYTES, &text, &len);
  if (st != LEAP_OK) return st;
  int oom = 0;
  lp_json *j = lp_json_parse_oom(text, len, err, sizeof err, &oom);
  free(text);
  if (!j) return oom ? lp_error(LEAP_ERR_NOMEM, "out of memory") : lp_error(LEAP_ERR_FORMAT, "%s: %s", path, err);
  const lp_json *fmt = lp_json_get(j, "format"), *shape = lp_json_get(j, "shape");
  const lp_json *set = lp_json_get(j, "settings"), *parts = lp_json_get(j, "parts");
  int64_t dims[3] = {0, 0, 0};
  if (!fmt || fmt->type != LP_JSON_STRING || strcmp(fmt->string, INDEX_FORMAT) != 0)
    st = index_error(path, "no \"format\": \"" INDEX_FORMAT "\"");
  else if (!json_count(lp_json_get(j, "n"), &s->n) || s->n < 1 || s->n > CLI_RAW_MAX_N)
    st = index_error(path, "\"n\" is not a positive whole number");
  else if (!shape || shape->type != LP_JSON_ARRAY || shape->count != 3 || !json_count(&shape->items[0], &dims[0]) ||
           !json_count(&shape->items[1], &dims[1]) || !json_count(&shape->items[2], &dims[2]) || !dims[0] ||
           !dims[1] || !dims[2] || dims[0] > 4096 || dims[1] > 65536 || dims[2] > 65536)
    st = index_error(path, "\"shape\" is not [C, H, W]");
  else if (!set || set->type != LP_JSON_OBJECT)
    st = index_error(path, "no \"settings\" object");
  else if (!parts || parts->type != LP_JSON_ARRAY || parts->count < 1)
    st = index_error(path, "no \"parts\" list");
  if (st == LEAP_OK) s->c = (int)dims[0], s->h = (int)dims[1], s->w = (int)dims[2];
  for (int k = 0; st == LEAP_OK && k < CLI_RAW_SETTINGS; k++) {
    const lp_json *v = lp_json_get(set, cli_raw_setting_keys[k]);
    if (!v || v->type != LP_JSON_STRING) {
      char what[96];
      snprintf(what, sizeof what, "setting \"%s\" is missing", cli_raw_setting_keys[k]);
      st = index_error(path, what);
    } else {
      st = set_setting(s, k, v->string);
    }
  }
  /* Part files are named relative to the index's folder. */
  const char *slash = strrchr(path, '/');
  const int dir_len = slash ? (int)(slash - path + 1) : 0;
  if (st == LEAP_OK) {
    s->nparts = parts->count;
    s->parts = lp_calloc((size_t)s->nparts, sizeof *s->parts);
    if (!s->parts) st = lp_error(LEAP_ERR_NOMEM, "out of memory");
  }
  int64_t next = 0;
  for (int64_t i = 0; st == LEAP_OK && i < s->nparts; i++) {
    const lp_json *p = &parts->items[i], *file = lp_json_get(p, "file");
    src_part *q = &s->parts[i];
    if (!file || file->type != LP_JSON_STRING || !file->string[0] || strchr(file->string, '/') ||
        !json_count(lp_json_get(p, "first"), &q->first) || !json_count(lp_json_get(p, "count"), &q->count)) {
      st = lp_error(LEAP_ERR_FORMAT, "%s: part %" PRId64 " is not {\"file\": NAME, \"first\": I, \"count\": K}",
                    path, i);
      break;
    }
    if (q->first != next)
      st = lp_error(LEAP_ERR_FORMAT, "%s: part %" PRId64 " (%s) starts at image %" PRId64 ", but the parts "
                    "before it end at %" PRId64 ": the parts must cover the images in order", path, i,
                    file->string, q->first, next);
    else if (q->count > s->n - next)
      st = lp_error(LEAP_ERR_FORMAT, "%s: part %" PRId64 " (%s) runs past the %" PRId64 " images of the run",
                    path, i, file->string, s->n);
    next = q->first + q->count;
    if (st == LEAP_OK) {
      const size_t plen = (size_t)dir_len + strlen(file->string) + 1;
      q->path = lp_malloc(plen);
      if (!q->path) st = lp_error(LEAP_ERR_NOMEM, "out of memory");
      else snprintf(q->path, plen, "%.*s%s", dir_len, path, file->string);
    }
  }
  if (st == LEAP_OK && next != s->n)
    st = lp_error(LEAP_ERR_FORMAT, "%s: the parts hold %" PRId64 " images, the run %" PRId64, path, next, s->n);
  /* Every part before any sampling is read: a shard whose job has not run
   * (or failed) is named now, not after minutes of work. */
  for (int64_t i = 0; st == LEAP_OK && i < s->nparts; i++) {
    struct stat sb;
    if (stat(s->parts[i].path, &sb) != 0)
      st = lp_error(LEAP_ERR_IO, "%s: part %" PRId64 " of %" PRId64 " (%s) is missing: %s (has its shard run?)",
                    path, i, s->nparts, s->parts[i].path, strerror(errno));
  }
  lp_json_free(j);
  return st;
}

/* A plain samples file as a set of one part. */
static leap_status read_single(cli_samples_src *s, const char *path) {
  lp_st_file *f;
  leap_status st = lp_st_open(path, &f);
  if (st != LEAP_OK) return st;
  const lp_st_tensor *t;
  st = lp_st_get(f, "samples", 0, NULL, &t);
  if (st == LEAP_OK && (t->ndim != 4 || t->shape[0] < 2 || t->shape[0] > CLI_RAW_MAX_N))
    st = lp_error(LEAP_ERR_FORMAT, "%s: tensor 'samples' must be [N,C,H,W] with 2 <= N <= %lld", path,
                  (long long)CLI_RAW_MAX_N);
  if (st == LEAP_OK && (t->shape[1] > 4096 || t->shape[2] > 65536 || t->shape[3] > 65536))
    st = lp_error(LEAP_ERR_FORMAT, "%s: tensor 'samples' has images too large", path);
  if (st == LEAP_OK) {
    s->n = t->shape[0];
    s->c = (int)t->shape[1], s->h = (int)t->shape[2], s->w = (int)t->shape[3];
    for (int k = 0; st == LEAP_OK && k < CLI_RAW_SETTINGS; k++)
      st = set_setting(s, k, lp_st_meta(f, cli_raw_setting_keys[k]));
  }
  if (st == LEAP_OK) {
    s->nparts = 1;
    s->parts = lp_calloc(1, sizeof *s->parts);
    if (s->parts) s->parts[0].path = lp_strdup(path);
    if (!s->parts || !s->parts[0].path) st = lp_error(LEAP_ERR_NOMEM, "out of memory");
    else s->parts[0].count = s->n;
  }
  lp_st_close(f);
  return st;
}

leap_status cli_samples_open(const char *path, cli_samples_src **out) {
  *out = NULL;
  cli_samples_src *s = lp_calloc(1, sizeof *s);
  if (!s) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  s->where = lp_strdup(path);
  leap_status st = s->where ? LEAP_OK : lp_error(LEAP_ERR_NOMEM, "out of memory");
  s->is_index = is_json(path);
  if (st == LEAP_OK) st = s->is_index ? read_index(s, path) : read_single(s, path);
  if (st == LEAP_OK && s->settings[CLI_RAW_LABEL_CYCLE])
    st = cli_raw_parse_cycle(path, s->settings[CLI_RAW_LABEL_CYCLE], &s->cycle, &s->cycle_len);
  if (st != LEAP_OK) {
    cli_samples_close(s);
    return st;
  }
  *out = s;
  return LEAP_OK;
}

int64_t cli_samples_n(const cli_samples_src *s) { return s->n; }

void cli_samples_shape(const cli_samples_src *s, int *c, int *h, int *w) { *c = s->c, *h = s->h, *w = s->w; }

static void close_part(cli_samples_src *s) {
  lp_st_close(s->f);
  free(s->labels);
  s->f = NULL, s->t = NULL, s->labels = NULL, s->pos = 0;
}

/* "labels" of a file: count comma-separated labels (NULL when absent). */
static leap_status file_labels(const char *path, const char *text, int64_t count, int32_t **out) {
  *out = NULL;
  if (!text || strcmp(text, "none") == 0) return LEAP_OK;
  int32_t *list = NULL;
  int len = 0;
  leap_status st = cli_raw_parse_cycle(path, text, &list, &len);
  if (st != LEAP_OK || len < count) {
    free(list);
    return lp_error(LEAP_ERR_FORMAT, "%s: metadata 'labels' is not %" PRId64 " comma-separated labels", path,
                    count);
  }
  if (len > count) {
    free(list);
    return lp_error(LEAP_ERR_FORMAT, "%s: metadata 'labels' has more than %" PRId64 " labels", path, count);
  }
  *out = list;
  return LEAP_OK;
}

/* A metadata value that must equal want. */
static leap_status expect_meta(const lp_st_file *f, const char *key, const char *want, const char *index) {
  const char *got = lp_st_meta(f, key);
  if (got && strcmp(got, want) == 0) return LEAP_OK;
  return lp_error(LEAP_ERR_FORMAT, "%s: '%s' is %s%s%s, but the index %s says '%s': a part of another run?",
                  lp_st_path(f), key, got ? "'" : "", got ? got : "missing", got ? "'" : "", index, want);
}

static leap_status open_part(cli_samples_src *s) {
  const src_part *p = &s->parts[s->part];
  leap_status st = lp_st_open(p->path, &s->f);
  if (st != LEAP_OK) return st;
  const int64_t shape[4] = {p->count, s->c, s->h, s->w};
  if (s->is_index) {
    st = lp_st_get(s->f, "samples", 4, shape, &s->t);
    char num[24], shard[48];
    snprintf(num, sizeof num, "%" PRId64, s->n);
    if (st == LEAP_OK) st = expect_meta(s->f, "n", num, s->where);
    snprintf(num, sizeof num, "%" PRId64, p->first);
    if (st == LEAP_OK) st = expect_meta(s->f, "first", num, s->where);
    snprintf(num, sizeof num, "%" PRId64, p->count);
    if (st == LEAP_OK) st = expect_meta(s->f, "count", num, s->where);
    snprintf(shard, sizeof shard, "%" PRId64 "/%" PRId64, s->part, s->nparts);
    if (st == LEAP_OK) st = expect_meta(s->f, "shard", shard, s->where);
    for (int k = 0; st == LEAP_OK && k < CLI_RAW_SETTINGS; k++)
      if (k != CLI_RAW_DEVICE) /* shards may run on different machines */
        st = expect_meta(s->f, cli_raw_setting_keys[k], s->settings[k], s->where);
  } else {
    st = lp_st_get(s->f, "samples", 0, NULL, &s->t);
  }
  if (st == LEAP_OK) st = file_labels(p->path, lp_st_meta(s->f, "labels"), p->count, &s->labels);
  if (st != LEAP_OK) close_part(s);
  return st;
}

int cli_samples_has_labels(const cli_samples_src *s) {
  if (s->cycle) return 1;
  if (s->is_index || s->settings[CLI_RAW_LABEL_CYCLE]) return 0;
  /* A file without label_cycle (an older leap, or another writer): its
   * "labels" list, read here once. */
  lp_st_file *f;
  if (lp_st_open(s->parts[0].path, &f) != LEAP_OK) return 0;
  const char *t = lp_st_meta(f, "labels");
  const int has = t && strcmp(t, "none") != 0;
  lp_st_close(f);
  return has;
}

leap_status cli_samples_next(cli_samples_src *s, int max, float *x, int32_t *labels, int *got) {
  *got = 0;
  while (s->part < s->nparts && s->f && s->pos == s->parts[s->part].count) close_part(s), s->part++;
  while (!s->f && s->part < s->nparts) {
    if (s->parts[s->part].count == 0) {
      s->part++;
      continue;
    }
    leap_status st = open_part(s);
    if (st != LEAP_OK) return st;
  }
  if (!s->f) return LEAP_OK; /* the end */
  const src_part *p = &s->parts[s->part];
  int64_t take = p->count - s->pos;
  if (take > max) take = max;
  /* The rows [pos, pos + take) of the tensor, converted to F32. */
  const size_t per = (size_t)s->c * s->h * s->w, el = lp_dtype_size(s->t->dtype);
  lp_st_tensor sub = *s->t;
  sub.data = (const unsigned char *)s->t->data + (size_t)s->pos * per * el;
  sub.numel = (int64_t)((size_t)take * per);
  sub.bytes = (size_t)take * per * el;
  leap_status st = lp_st_read_f32(s->f, &sub, x);
  if (st != LEAP_OK) return st;
  for (int64_t j = 0; labels && j < take; j++) {
    const int64_t g = p->first + s->pos + j;
    labels[j] = s->labels ? s->labels[s->pos + j] : s->cycle ? s->cycle[g % s->cycle_len] : -1;
  }
  s->pos += take;
  *got = (int)take;
  return LEAP_OK;
}

void cli_samples_close(cli_samples_src *s) {
  if (!s) return;
  close_part(s);
  for (int64_t i = 0; s->parts && i < s->nparts; i++) free(s->parts[i].path);
  free(s->parts);
  for (int k = 0; k < CLI_RAW_SETTINGS; k++) free(s->settings[k]);
  free(s->cycle);
  free(s->where);
  free(s);
}

/* ------------------------------------------------------------------ merge */

/* The device setting of merged parts: the index's (shard 0's) when every
 * part ran on it, else each distinct one in order, joined by " + ". */
static leap_status merged_device(const cli_samples_src *s, char **out) {
  lp_strbuf b = {0};
  lp_strbuf_puts(&b, s->settings[CLI_RAW_DEVICE]);
  for (int64_t i = 0; i < s->nparts; i++) {
    lp_st_file *f;
    leap_status st = lp_st_open(s->parts[i].path, &f);
    if (st != LEAP_OK) {
      free(b.data);
      return st;
    }
    const char *d = lp_st_meta(f, "device");
    if (d && !strstr(b.data ? b.data : "", d)) lp_strbuf_puts(&b, " + "), lp_strbuf_puts(&b, d);
    lp_st_close(f);
  }
  if (b.oom) {
    free(b.data);
    return lp_error(LEAP_ERR_NOMEM, "out of memory");
  }
  *out = b.data;
  return LEAP_OK;
}

leap_status cli_raw_merge(const char *src, const char *out, int quiet) {
  cli_samples_src *s;
  leap_status st = cli_samples_open(src, &s);
  if (st != LEAP_OK) return st;
  const char *settings[CLI_RAW_SETTINGS];
  for (int k = 0; k < CLI_RAW_SETTINGS; k++) settings[k] = s->settings[k] ? s->settings[k] : "";
  if (!s->settings[CLI_RAW_LABEL_CYCLE]) settings[CLI_RAW_LABEL_CYCLE] = "none";
  char *device = NULL;
  if (s->is_index) st = merged_device(s, &device);
  if (device) settings[CLI_RAW_DEVICE] = device;
  /* Every part (and the index) is an input: the output is none of them. */
  const int nin = (int)(s->nparts + 1 < 4096 ? s->nparts + 1 : 4096);
  const char **in = lp_malloc((size_t)nin * sizeof *in);
  if (st == LEAP_OK && !in) st = lp_error(LEAP_ERR_NOMEM, "out of memory");
  if (st == LEAP_OK) {
    in[0] = src;
    for (int i = 1; i < nin; i++) in[i] = s->parts[i - 1].path;
  }
  cli_raw_meta m = {0};
  if (st == LEAP_OK) st = cli_raw_meta_make(&m, settings, s->n, 0, s->n, 0, 0);
  cli_raw_writer *w = NULL;
  if (st == LEAP_OK) st = cli_raw_writer_open(out, &m, s->n, s->c, s->h, s->w, in, nin, &w);
  enum { CHUNK = 256 };
  const size_t per = (size_t)s->c * s->h * s->w;
  float *x = st == LEAP_OK ? lp_malloc(CHUNK * per * sizeof *x) : NULL;
  if (st == LEAP_OK && !x) st = lp_error(LEAP_ERR_NOMEM, "out of memory");
  int got = 0;
  int64_t done = 0;
  while (st == LEAP_OK && (st = cli_samples_next(s, CHUNK, x, NULL, &got)) == LEAP_OK && got > 0) {
    st = cli_raw_writer_append(w, x, got);
    done += got;
  }
  if (st == LEAP_OK) st = cli_raw_writer_finish(w);
  else cli_raw_writer_abort(w);
  if (st == LEAP_OK && !quiet)
    printf("%" PRId64 " samples from %" PRId64 " part%s of %s -> %s\n", done, s->nparts, s->nparts == 1 ? "" : "s",
           src, out);
  free(x);
  cli_raw_meta_free(&m);
  free(in);
  free(device);
  cli_samples_close(s);
  return st;
}
