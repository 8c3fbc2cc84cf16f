/* file_write.h - what both safetensors writers (the in-memory one in
 * safetensors_write.c and the streaming one in lcsc_writer.c) need to build
 * a header and land a file atomically. */
#ifndef LEAP_FILE_WRITE_H
#define LEAP_FILE_WRITE_H

#include <stddef.h>

/* A growing NUL-terminated string; oom is set (and further puts ignored)
 * when an allocation fails, so callers check once at the end. */
typedef struct lp_strbuf {
  char *data;
  size_t len, cap;
  int oom;
} lp_strbuf;

void lp_strbuf_put(lp_strbuf *b, const char *s, size_t n);
void lp_strbuf_puts(lp_strbuf *b, const char *s);
void lp_strbuf_printf(lp_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal: quotes, backslashes and control bytes escaped,
 * UTF-8 passed through. */
void lp_strbuf_json_string(lp_strbuf *b, const char *s);

/* write() until done, retrying on EINTR; 0 (with errno) on failure. Every
 * file leap writes goes through here, so that the switch below reaches all
 * writers. */
int lp_write_all(int fd, const void *p, size_t n);
/* Fault injection: the nth write() from now (1 = the next) writes only half
 * of its bytes and every later one fails with ENOSPC, as a disk filling up;
 * n = 0 switches it off. LEAP_FAIL_WRITE=N in the environment sets the same
 * at the first write of the process. */
void lp_write_fail_at(long n);
/* write() calls made through lp_write_all since the process started (or
 * the last lp_write_fail_at). */
long lp_write_count(void);
/* fsync of the folder holding path, so that a rename into it is durable
 * (best effort: some filesystems refuse). */
void lp_sync_folder(const char *path);

#endif
