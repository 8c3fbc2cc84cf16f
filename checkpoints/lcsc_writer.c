/* lcsc_writer.c - see lcsc_writer.h. The header follows the same rules as
 * safetensors_write.c: JSON-escaped names, metadata as strings, padded with
 * spaces so the data starts 8-byte aligned. Appends go through a 4 MiB
 * buffer so that many small tensors do not cost one write() each; a
 * reservation lets the caller compute its bytes straight into it. */
#define _POSIX_C_SOURCE 200809L
#include "lcsc_writer.h"
#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtype.h"
#include "file_write.h"
#include "error.h"
#include "output.h"

#define WRITE_BUFFER LP_LCSC_WRITER_BUFFER

struct lp_lcsc_writer {
  lp_out *out;  /* the temporary and the output rule (core/output.h) */
  const char *path, *tmp;
  int fd;
  uint64_t data_bytes, appended, file_bytes;
  unsigned char *buf;
  size_t buf_len;
  size_t reserved; /* bytes of the last reservation, at buf + buf_len */
};

void lp_lcsc_writer_abort(lp_lcsc_writer *w) {
  if (!w) return;
  lp_out_abort(w->out);
  free(w->buf);
  free(w);
}

uint64_t lp_lcsc_writer_file_bytes(const lp_lcsc_writer *w) { return w ? w->file_bytes : 0; }

leap_status lp_lcsc_writer_open(const char *path, lp_out_kind kind, const char *const *inputs, int ninputs,
                                const lp_lcsc_out_tensor *t, int count, const char *const *meta_keys,
                                const char *const *meta_vals, int meta_count, lp_lcsc_writer **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_writer_open: out is NULL");
  *out = NULL;
  if (!path || !*path) return lp_error(LEAP_ERR_INVALID_ARG, "lcsc: empty output path");
  if (count < 0 || (count && !t) || meta_count < 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: bad tensor or metadata list", path);
  lp_lcsc_writer *w = lp_calloc(1, sizeof *w);
  if (!w) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  w->fd = -1;
  w->buf = lp_malloc(WRITE_BUFFER);
  if (!w->buf) {
    lp_lcsc_writer_abort(w);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  }
  lp_strbuf h = {0};
  lp_strbuf_put(&h, "{", 1);
  const int marked = kind != LP_OUT_ANY; /* the kind's marker, first: output.h */
  if (meta_count || marked) {
    lp_strbuf_puts(&h, "\"__metadata__\":{");
    if (marked) {
      lp_strbuf_json_string(&h, LP_OUT_META_KEY);
      lp_strbuf_put(&h, ":", 1);
      lp_strbuf_json_string(&h, lp_out_kind_name(kind));
    }
    for (int i = 0; i < meta_count; i++) {
      if (i || marked) lp_strbuf_put(&h, ",", 1);
      lp_strbuf_json_string(&h, meta_keys[i]);
      lp_strbuf_put(&h, ":", 1);
      lp_strbuf_json_string(&h, meta_vals[i]);
    }
    lp_strbuf_put(&h, "}", 1);
  }
  uint64_t off = 0;
  for (int i = 0; i < count; i++) {
    char num[96];
    if (meta_count || marked || i) lp_strbuf_put(&h, ",", 1);
    lp_strbuf_json_string(&h, t[i].name);
    lp_strbuf_puts(&h, ":{\"dtype\":\"");
    lp_strbuf_puts(&h, lp_dtype_name(t[i].dtype));
    lp_strbuf_puts(&h, "\",\"shape\":[");
    for (int d = 0; d < t[i].ndim; d++) {
      snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)t[i].shape[d]);
      lp_strbuf_puts(&h, num);
    }
    snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
             (unsigned long long)(off + t[i].bytes));
    lp_strbuf_puts(&h, num);
    off += t[i].bytes;
  }
  lp_strbuf_put(&h, "}", 1);
  while (!h.oom && h.len % 8) lp_strbuf_put(&h, " ", 1);
  if (h.oom) {
    free(h.data);
    lp_lcsc_writer_abort(w);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory for the header", path);
  }
  w->data_bytes = off;
  w->file_bytes = 8 + h.len + off;
  leap_status st = lp_out_begin(path, kind, inputs, ninputs, &w->out);
  if (st != LEAP_OK) {
    free(h.data);
    lp_lcsc_writer_abort(w);
    return st;
  }
  w->path = lp_out_path(w->out);
  w->tmp = lp_out_temp(w->out);
  w->fd = lp_out_fd(w->out);
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
  int ok = lp_write_all(w->fd, len8, 8) && lp_write_all(w->fd, h.data, h.len);
  int e = errno;
  free(h.data);
  if (!ok) {
    leap_status s = lp_error(LEAP_ERR_IO, "cannot write %s (for %s): %s", w->tmp, path, strerror(e));
    lp_lcsc_writer_abort(w);
    return s;
  }
  *out = w;
  return LEAP_OK;
}

/* Ctrl-C / SIGTERM (core/output.h), polled every buffer: a large
 * combination stops within a few MB and leaves no temporary. */
static leap_status stop_check(const lp_lcsc_writer *w) {
  if (lp_out_stop_requested()) return lp_error(LEAP_ERR_INTERRUPTED, "%s: interrupted; nothing written", w->path);
  return LEAP_OK;
}

static leap_status flush(lp_lcsc_writer *w) {
  leap_status st = stop_check(w);
  if (st != LEAP_OK) return st;
  if (!w->buf_len) return LEAP_OK;
  if (!lp_write_all(w->fd, w->buf, w->buf_len))
    return lp_error(LEAP_ERR_IO, "cannot write %s (for %s): %s", w->tmp, w->path, strerror(errno));
  w->buf_len = 0;
  return LEAP_OK;
}

leap_status lp_lcsc_writer_append(lp_lcsc_writer *w, const void *data, size_t bytes) {
  if (!w || (bytes && !data)) return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_writer_append: NULL argument");
  if (bytes > w->data_bytes - w->appended)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: %zu bytes appended past the %llu the header announced", w->path,
                    bytes, (unsigned long long)w->data_bytes);
  w->appended += bytes;
  w->reserved = 0;
  const unsigned char *p = data;
  while (bytes) {
    if (w->buf_len == 0 && bytes >= WRITE_BUFFER) { /* large: straight through */
      leap_status st = stop_check(w);
      if (st != LEAP_OK) return st;
      if (!lp_write_all(w->fd, p, bytes))
        return lp_error(LEAP_ERR_IO, "cannot write %s (for %s): %s", w->tmp, w->path, strerror(errno));
      return LEAP_OK;
    }
    size_t n = WRITE_BUFFER - w->buf_len;
    if (n > bytes) n = bytes;
    memcpy(w->buf + w->buf_len, p, n);
    w->buf_len += n, p += n, bytes -= n;
    if (w->buf_len == WRITE_BUFFER) {
      leap_status s = flush(w);
      if (s != LEAP_OK) return s;
    }
  }
  return LEAP_OK;
}

leap_status lp_lcsc_writer_append_direct(lp_lcsc_writer *w, const void *data, size_t bytes) {
  if (!w || (bytes && !data)) return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_writer_append_direct: NULL argument");
  if (bytes > w->data_bytes - w->appended)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: %zu bytes appended past the %llu the header announced", w->path,
                    bytes, (unsigned long long)w->data_bytes);
  leap_status s = flush(w);
  if (s != LEAP_OK) return s;
  w->appended += bytes;
  w->reserved = 0;
  if (bytes && !lp_write_all(w->fd, data, bytes))
    return lp_error(LEAP_ERR_IO, "cannot write %s (for %s): %s", w->tmp, w->path, strerror(errno));
  return LEAP_OK;
}

leap_status lp_lcsc_writer_reserve(lp_lcsc_writer *w, size_t bytes, void **dst) {
  if (!w || !dst) return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_writer_reserve: NULL argument");
  w->reserved = 0;
  if (bytes > WRITE_BUFFER)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: a reservation of %zu bytes is above the %zu-byte buffer", w->path,
                    bytes, (size_t)WRITE_BUFFER);
  if (bytes > w->data_bytes - w->appended)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: %zu bytes reserved past the %llu the header announced", w->path,
                    bytes, (unsigned long long)w->data_bytes);
  if (w->buf_len + bytes > WRITE_BUFFER) {
    leap_status s = flush(w);
    if (s != LEAP_OK) return s;
  }
  w->reserved = bytes;
  *dst = w->buf + w->buf_len;
  return LEAP_OK;
}

leap_status lp_lcsc_writer_commit(lp_lcsc_writer *w, size_t bytes) {
  if (!w) return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_writer_commit: writer is NULL");
  if (bytes > w->reserved)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: %zu bytes committed, %zu reserved", w->path, bytes, w->reserved);
  w->reserved = 0;
  w->buf_len += bytes;
  w->appended += bytes;
  if (w->buf_len == WRITE_BUFFER) return flush(w);
  return LEAP_OK;
}

leap_status lp_lcsc_writer_finish(lp_lcsc_writer *w) {
  if (!w) return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_writer_finish: writer is NULL");
  leap_status s = LEAP_OK;
  if (w->appended != w->data_bytes)
    s = lp_error(LEAP_ERR_INVALID_ARG, "%s: %llu of %llu data bytes written", w->path,
                 (unsigned long long)w->appended, (unsigned long long)w->data_bytes);
  if (s == LEAP_OK) s = flush(w);
  if (s == LEAP_OK) {
    s = lp_out_commit(w->out); /* fsync, rename, folder fsync; removes the temporary on failure */
    w->out = NULL;
  }
  lp_lcsc_writer_abort(w);
  return s;
}

leap_status lp_lcsc_writer_finish_unit(lp_lcsc_writer *w, lp_out **out) {
  if (!w || !out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_writer_finish_unit: NULL argument");
  *out = NULL;
  leap_status s = LEAP_OK;
  if (w->appended != w->data_bytes)
    s = lp_error(LEAP_ERR_INVALID_ARG, "%s: %llu of %llu data bytes written", w->path,
                 (unsigned long long)w->appended, (unsigned long long)w->data_bytes);
  if (s == LEAP_OK) s = flush(w);
  if (s == LEAP_OK) *out = w->out, w->out = NULL; /* the caller lands it (lp_out_commit_all) */
  lp_lcsc_writer_abort(w);
  return s;
}
