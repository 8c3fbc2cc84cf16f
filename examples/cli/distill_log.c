/* distill_log.c - see distill_log.h. */
#include "distill_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "file_read.h"

/* A log is a few hundred bytes per iteration: far below this. */
#define LOG_MAX_BYTES ((size_t)1 << 30)

void distill_log_init(distill_log *l, const char *path) {
  memset(l, 0, sizeof *l);
  l->path = path;
}

/* The iteration of an iteration line ({"iter": K, ...}); -1 for the others. */
static long line_iter(const char *line) {
  static const char key[] = "{\"iter\": ";
  if (strncmp(line, key, sizeof key - 1) != 0) return -1;
  char *end;
  const long k = strtol(line + sizeof key - 1, &end, 10);
  return end == line + sizeof key - 1 ? -1 : k;
}

leap_status distill_log_resume(distill_log *l, const char *path, int iter) {
  distill_log_init(l, path);
  struct stat st;
  if (stat(path, &st) != 0 && errno == ENOENT) return LEAP_OK;
  char *text = NULL;
  size_t len = 0;
  leap_status s = lp_file_read_all(path, "distill log", LOG_MAX_BYTES, &text, &len);
  if (s != LEAP_OK) return s;
  size_t keep = 0;
  while (keep < len) {
    const char *nl = memchr(text + keep, '\n', len - keep);
    if (!nl || line_iter(text + keep) > iter) break;
    keep = (size_t)(nl - text) + 1;
  }
  lp_strbuf_put(&l->text, text, keep);
  free(text);
  l->landed = l->text.len;
  if (l->text.oom) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  return LEAP_OK;
}

void distill_log_printf(distill_log *l, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  const int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0 || n >= (int)sizeof line) {
    l->text.oom = 1; /* no line leap writes is this long: report it as a failed log */
    return;
  }
  lp_strbuf_put(&l->text, line, (size_t)n);
}

leap_status distill_log_unit(distill_log *l, const char *const *inputs, int ninputs, lp_out **out) {
  *out = NULL;
  if (l->text.oom) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory for the log", l->path);
  lp_out *o = NULL;
  leap_status s = lp_out_begin(l->path, LP_OUT_DISTILL_LOG, inputs, ninputs, &o);
  if (s != LEAP_OK) return s;
  if (!lp_write_all(lp_out_fd(o), l->text.data ? l->text.data : "", l->text.len)) {
    s = lp_error(LEAP_ERR_IO, "%s: %s", lp_out_temp(o), strerror(errno));
    lp_out_abort(o);
    return s;
  }
  *out = o;
  return LEAP_OK;
}

leap_status distill_log_land(distill_log *l, const char *const *inputs, int ninputs) {
  if (l->landed == l->text.len) return LEAP_OK;
  lp_out *o = NULL;
  leap_status s = distill_log_unit(l, inputs, ninputs, &o);
  if (s == LEAP_OK && (s = lp_out_commit(o)) == LEAP_OK) l->landed = l->text.len;
  return s;
}

void distill_log_free(distill_log *l) {
  free(l->text.data);
  memset(&l->text, 0, sizeof l->text);
}
