/* file_write.c - see file_write.h. */
#define _POSIX_C_SOURCE 200809L
#include "file_write.h"
#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void lp_strbuf_put(lp_strbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 1024;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = lp_realloc(b->data, cap);
    if (!d) {
      b->oom = 1;
      return;
    }
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

void lp_strbuf_puts(lp_strbuf *b, const char *s) { lp_strbuf_put(b, s, strlen(s)); }

void lp_strbuf_json_string(lp_strbuf *b, const char *s) {
  lp_strbuf_put(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    switch (*p) {
    case '"': lp_strbuf_puts(b, "\\\""); break;
    case '\\': lp_strbuf_puts(b, "\\\\"); break;
    case '\b': lp_strbuf_puts(b, "\\b"); break;
    case '\f': lp_strbuf_puts(b, "\\f"); break;
    case '\n': lp_strbuf_puts(b, "\\n"); break;
    case '\r': lp_strbuf_puts(b, "\\r"); break;
    case '\t': lp_strbuf_puts(b, "\\t"); break;
    default:
      if (*p < 0x20) {
        snprintf(esc, sizeof esc, "\\u%04x", *p);
        lp_strbuf_puts(b, esc);
      } else {
        lp_strbuf_put(b, (const char *)p, 1); /* UTF-8 passes through */
      }
    }
  }
  lp_strbuf_put(b, "\"", 1);
}

int lp_write_all(int fd, const void *p, size_t n) {
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

void lp_sync_folder(const char *path) {
  char *copy = lp_strdup(path);
  if (!copy) return;
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(copy);
}
