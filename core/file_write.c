/* file_write.c - see file_write.h. */
#define _POSIX_C_SOURCE 200809L
#include "file_write.h"
#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdatomic.h>
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

void lp_strbuf_printf(lp_strbuf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = 1; /* an encoding error: the text is lost, say so at the end */
    return;
  }
  if ((size_t)n < sizeof small) {
    lp_strbuf_put(b, small, (size_t)n);
    return;
  }
  char *big = lp_malloc((size_t)n + 1);
  if (!big) {
    b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  lp_strbuf_put(b, big, (size_t)n);
  free(big);
}

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

/* The write-failure switch: see file_write.h. */
static atomic_long write_count;   /* write() calls since the last reset */
static atomic_long write_fail_at; /* 0: off */
static atomic_int write_env_read;

static void read_write_env(void) {
  if (atomic_exchange(&write_env_read, 1)) return;
  const char *s = getenv("LEAP_FAIL_WRITE");
  long n = s && *s ? strtol(s, NULL, 10) : 0;
  if (n > 0) atomic_store(&write_fail_at, n);
}

/* write(), except that the injected failure point gets a short write
 * (half the bytes) and every call after it ENOSPC, as a disk that fills. */
static ssize_t write_some(int fd, const void *p, size_t n) {
  if (!atomic_load_explicit(&write_env_read, memory_order_relaxed)) read_write_env();
  long k = atomic_fetch_add(&write_count, 1) + 1;
  long at = atomic_load(&write_fail_at);
  if (at > 0 && k >= at) {
    if (k == at && n > 1) return write(fd, p, n / 2);
    errno = ENOSPC;
    return -1;
  }
  return write(fd, p, n);
}

void lp_write_fail_at(long n) {
  atomic_store(&write_env_read, 1);
  atomic_store(&write_count, 0);
  atomic_store(&write_fail_at, n > 0 ? n : 0);
}

long lp_write_count(void) { return atomic_load(&write_count); }

int lp_write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t k = write_some(fd, c, n);
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
  /* On the stack: short of memory, the file just landed is still synced. */
  char copy[4096];
  if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy) return;
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}
