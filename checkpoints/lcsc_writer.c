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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtype.h"
#include "file_write.h"
#include "error.h"

#define WRITE_BUFFER LP_LCSC_WRITER_BUFFER

struct lp_lcsc_writer {
  char *path, *tmp;
  int fd;
  uint64_t data_bytes, appended, file_bytes;
  unsigned char *buf;
  size_t buf_len;
  size_t reserved; /* bytes of the last reservation, at buf + buf_len */
};

static atomic_uint g_counter; /* temporaries of concurrent writers */



void lp_lcsc_writer_abort(lp_lcsc_writer *w) {
  if (!w) return;
  if (w->fd >= 0) close(w->fd);
  if (w->tmp) unlink(w->tmp);
  free(w->tmp);
  free(w->path);
  free(w->buf);
  free(w);
}

uint64_t lp_lcsc_writer_file_bytes(const lp_lcsc_writer *w) { return w ? w->file_bytes : 0; }

leap_status lp_lcsc_writer_open(const char *path, const lp_lcsc_out_tensor *t, int count,
                                const char *const *meta_keys, const char *const *meta_vals,
                                int meta_count, lp_lcsc_writer **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_writer_open: out is NULL");
  *out = NULL;
  if (!path || !*path) return lp_error(LEAP_ERR_INVALID_ARG, "lcsc: empty output path");
  if (count < 0 || (count && !t) || meta_count < 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: bad tensor or metadata list", path);
  lp_lcsc_writer *w = lp_calloc(1, sizeof *w);
  if (!w) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  w->fd = -1;
  size_t tl = strlen(path) + 64;
  w->path = lp_strdup(path);
  w->tmp = lp_malloc(tl);
  w->buf = lp_malloc(WRITE_BUFFER);
  if (!w->path || !w->tmp || !w->buf) {
    free(w->tmp);
    w->tmp = NULL;
    lp_lcsc_writer_abort(w);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  }
  lp_strbuf h = {0};
  lp_strbuf_put(&h, "{", 1);
  if (meta_count) {
    lp_strbuf_puts(&h, "\"__metadata__\":{");
    for (int i = 0; i < meta_count; i++) {
      if (i) lp_strbuf_put(&h, ",", 1);
      lp_strbuf_json_string(&h, meta_keys[i]);
      lp_strbuf_put(&h, ":", 1);
      lp_strbuf_json_string(&h, meta_vals[i]);
    }
    lp_strbuf_put(&h, "}", 1);
  }
  uint64_t off = 0;
  for (int i = 0; i < count; i++) {
    char num[96];
    if (meta_count || i) lp_strbuf_put(&h, ",", 1);
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
  snprintf(w->tmp, tl, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&g_counter, 1u));
  w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (w->fd < 0) {
    leap_status s = lp_error(LEAP_ERR_IO, "cannot create %s (for %s): %s", w->tmp, path, strerror(errno));
    free(h.data);
    free(w->tmp);
    w->tmp = NULL; /* nothing to unlink */
    lp_lcsc_writer_abort(w);
    return s;
  }
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

static leap_status flush(lp_lcsc_writer *w) {
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
  if (s == LEAP_OK && fsync(w->fd) != 0)
    s = lp_error(LEAP_ERR_IO, "cannot sync %s (for %s): %s", w->tmp, w->path, strerror(errno));
  if (s == LEAP_OK) {
    int rc = close(w->fd);
    w->fd = -1;
    if (rc != 0) s = lp_error(LEAP_ERR_IO, "cannot close %s (for %s): %s", w->tmp, w->path, strerror(errno));
  }
  if (s == LEAP_OK && rename(w->tmp, w->path) != 0)
    s = lp_error(LEAP_ERR_IO, "cannot rename %s onto %s: %s", w->tmp, w->path, strerror(errno));
  if (s == LEAP_OK) {
    lp_sync_folder(w->path);
    free(w->tmp);
    w->tmp = NULL; /* renamed: nothing to remove */
  }
  lp_lcsc_writer_abort(w);
  return s;
}
