/* lcsc_writer.c - see lcsc_writer.h. The header follows the same rules as
 * safetensors_write.c: JSON-escaped names, metadata as strings, padded with
 * spaces so the data starts 8-byte aligned. Appends go through a 4 MiB
 * buffer so that many small tensors do not cost one write() each. */
#define _POSIX_C_SOURCE 200809L
#include "lcsc_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtype.h"
#include "error.h"

#define WRITE_BUFFER (4u << 20)

struct lp_lcsc_writer {
  char *path, *tmp;
  int fd;
  uint64_t data_bytes, appended, file_bytes;
  unsigned char *buf;
  size_t buf_len;
};

static atomic_uint g_counter; /* temporaries of concurrent writers */

typedef struct strbuf {
  char *data;
  size_t len, cap;
  int oom;
} strbuf;

static void put(strbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
      b->oom = 1;
      return;
    }
    b->data = d, b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

static void puts_(strbuf *b, const char *s) { put(b, s, strlen(s)); }

/* Escapes quotes, backslashes and control bytes; UTF-8 passes through (the
 * caller's strings come from validated files or from the command line). */
static void put_json_string(strbuf *b, const char *s) {
  put(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      char e[2] = {'\\', (char)*p};
      put(b, e, 2);
    } else if (*p < 0x20) {
      char e[8];
      snprintf(e, sizeof e, "\\u%04x", *p);
      puts_(b, e);
    } else {
      put(b, (const char *)p, 1);
    }
  }
  put(b, "\"", 1);
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t k = write(fd, c, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      if (k == 0) errno = EIO;
      return 0;
    }
    c += k;
    n -= (size_t)k;
  }
  return 1;
}

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
  lp_lcsc_writer *w = calloc(1, sizeof *w);
  if (!w) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  w->fd = -1;
  size_t tl = strlen(path) + 64;
  w->path = strdup(path);
  w->tmp = malloc(tl);
  w->buf = malloc(WRITE_BUFFER);
  if (!w->path || !w->tmp || !w->buf) {
    free(w->tmp);
    w->tmp = NULL;
    lp_lcsc_writer_abort(w);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  }
  strbuf h = {0};
  put(&h, "{", 1);
  if (meta_count) {
    puts_(&h, "\"__metadata__\":{");
    for (int i = 0; i < meta_count; i++) {
      if (i) put(&h, ",", 1);
      put_json_string(&h, meta_keys[i]);
      put(&h, ":", 1);
      put_json_string(&h, meta_vals[i]);
    }
    put(&h, "}", 1);
  }
  uint64_t off = 0;
  for (int i = 0; i < count; i++) {
    char num[96];
    if (meta_count || i) put(&h, ",", 1);
    put_json_string(&h, t[i].name);
    puts_(&h, ":{\"dtype\":\"");
    puts_(&h, lp_dtype_name(t[i].dtype));
    puts_(&h, "\",\"shape\":[");
    for (int d = 0; d < t[i].ndim; d++) {
      snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)t[i].shape[d]);
      puts_(&h, num);
    }
    snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
             (unsigned long long)(off + t[i].bytes));
    puts_(&h, num);
    off += t[i].bytes;
  }
  put(&h, "}", 1);
  while (!h.oom && h.len % 8) put(&h, " ", 1);
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
  int ok = write_all(w->fd, len8, 8) && write_all(w->fd, h.data, h.len);
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
  if (!write_all(w->fd, w->buf, w->buf_len))
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
  const unsigned char *p = data;
  while (bytes) {
    if (w->buf_len == 0 && bytes >= WRITE_BUFFER) { /* large: straight through */
      if (!write_all(w->fd, p, bytes))
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
    /* the rename itself is durable once the folder is synced (best effort) */
    char *copy = strdup(w->path);
    int dfd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
    free(copy);
    free(w->tmp);
    w->tmp = NULL; /* renamed: nothing to remove */
  }
  lp_lcsc_writer_abort(w);
  return s;
}
