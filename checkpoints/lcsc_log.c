/* lcsc_log.c - writing and resuming the LCSC search log (lcsc_log.h). */
#define _POSIX_C_SOURCE 200809L
#include "lcsc_log.h"
#include "output.h"
#include "alloc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "error.h"
#include "file_read.h"
#include "json.h"

/* The settings a log is bound to (the budget may grow on resume). */
typedef struct setting {
  const char *key;
  double value;
} setting;

static int settings(const leap_lcsc_search_desc *d, setting *s) {
  int n = 0;
  s[n++] = (setting){"count", d->count};
  s[n++] = (setting){"population", d->population};
  s[n++] = (setting){"elite", d->elite};
  s[n++] = (setting){"tournament", d->tournament};
  s[n++] = (setting){"crossover_rate", d->crossover_rate};
  s[n++] = (setting){"mutation_sigma", d->mutation_sigma};
  s[n++] = (setting){"mutation_rate", d->mutation_rate};
  s[n++] = (setting){"ema_decay", d->ema_decay};
  s[n++] = (setting){"normalize", d->normalize};
  s[n++] = (setting){"seed", (double)d->seed};
  return n;
}

void lp_lcsc_log_close(lp_lcsc_log *log) {
  if (log->f) fclose(log->f);
  for (int i = 0; i < log->ndone; i++) free(log->done[i].coefs);
  free(log->done);
  memset(log, 0, sizeof *log);
}

static leap_status check_header(const char *path, const lp_json *h, const leap_lcsc_search_desc *d) {
  const lp_json *v = lp_json_get(h, "lcsc_search");
  if (!v || v->type != LP_JSON_NUMBER || v->number != 1)
    return lp_error(LEAP_ERR_FORMAT, "%s: line 1 is not an LCSC search header", path);
  setting s[16];
  const int n = settings(d, s);
  for (int i = 0; i < n; i++) {
    const lp_json *x = lp_json_get(h, s[i].key);
    if (!x || x->type != LP_JSON_NUMBER)
      return lp_error(LEAP_ERR_FORMAT, "%s: header has no number '%s'", path, s[i].key);
    const double want = s[i].value;
    const int same = strcmp(s[i].key, "seed") == 0 ? (x->is_int && (uint64_t)x->integer == d->seed)
                                                   : x->number == want;
    if (!same)
      return lp_error(LEAP_ERR_INVALID_ARG,
                      "%s: the log was written with %s = %.17g, not %.17g; resume with the same settings "
                      "or use another log",
                      path, s[i].key, x->number, want);
  }
  return LEAP_OK;
}

static leap_status parse_candidate(lp_lcsc_log *log, const lp_json *c, int line) {
  const lp_json *idx = lp_json_get(c, "candidate"), *fit = lp_json_get(c, "fitness"),
                *co = lp_json_get(c, "coefs");
  if (!idx || idx->type != LP_JSON_NUMBER || idx->number != log->ndone)
    return lp_error(LEAP_ERR_FORMAT, "%s: line %d is not candidate %d", log->path, line, log->ndone);
  if (!fit || (fit->type != LP_JSON_NUMBER && fit->type != LP_JSON_NULL))
    return lp_error(LEAP_ERR_FORMAT, "%s: line %d has no fitness", log->path, line);
  if (!co || co->type != LP_JSON_ARRAY || co->count != log->count)
    return lp_error(LEAP_ERR_FORMAT, "%s: line %d does not have %d coefs", log->path, line, log->count);
  double *coefs = lp_malloc((size_t)log->count * sizeof *coefs);
  if (!coefs) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", log->path);
  for (int k = 0; k < log->count; k++) {
    if (co->items[k].type != LP_JSON_NUMBER) {
      free(coefs);
      return lp_error(LEAP_ERR_FORMAT, "%s: line %d: coefficient %d is not a number", log->path, line, k);
    }
    coefs[k] = co->items[k].number;
  }
  log->done[log->ndone].coefs = coefs;
  log->done[log->ndone].fitness = fit->type == LP_JSON_NUMBER ? fit->number : INFINITY;
  log->ndone++;
  return LEAP_OK;
}

leap_status lp_lcsc_log_parse(lp_lcsc_log *log, const leap_lcsc_search_desc *d, const char *text, size_t len,
                              size_t *valid) {
  size_t end = len;
  while (end > 0 && text[end - 1] != '\n') end--; /* a torn last line is dropped */
  *valid = end;
  int lines = 0;
  for (size_t i = 0; i < end; i++) lines += text[i] == '\n';
  log->done = lp_calloc((size_t)lines + 1, sizeof *log->done);
  if (!log->done) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", log->path);
  size_t pos = 0;
  int line = 0;
  leap_status s = LEAP_OK;
  while (pos < end && s == LEAP_OK) {
    size_t nl = pos;
    while (text[nl] != '\n') nl++;
    line++;
    char err[160];
    lp_json *j = lp_json_parse(text + pos, nl - pos, err, sizeof err);
    if (!j)
      s = lp_error(LEAP_ERR_FORMAT, "%s: line %d is not JSON: %s", log->path, line, err);
    else if (line == 1)
      s = check_header(log->path, j, d);
    else
      s = parse_candidate(log, j, line);
    lp_json_free(j);
    pos = nl + 1;
  }
  return s;
}

leap_status lp_lcsc_log_open(lp_lcsc_log *log, const leap_lcsc_search_desc *d) {
  memset(log, 0, sizeof *log);
  log->count = d->count;
  if (!d->log_path) return LEAP_OK;
  log->path = d->log_path;
  /* core/output.h's rule: an existing file is resumed (and its torn last
   * line cut) only when it is a search log; a folder, FIFO or any other
   * file is an error and is left alone (a FIFO or device is refused before
   * it is opened). */
  leap_status chk = lp_out_check(d->log_path, LP_OUT_LCSC_LOG, NULL, 0);
  if (chk != LEAP_OK) return chk;
  struct stat sb;
  const int exists = stat(d->log_path, &sb) == 0 || errno != ENOENT;
  size_t valid = 0;
  if (exists) {
    int fd;
    uint64_t size;
    char *text = NULL;
    size_t len = 0;
    leap_status s = lp_file_open_regular(d->log_path, "search log", 1, LP_LCSC_LOG_MAX_BYTES, &fd, &size);
    if (s != LEAP_OK) return s;
    s = lp_file_read_fd(fd, d->log_path, "search log", LP_LCSC_LOG_MAX_BYTES, &text, &len);
    if (s == LEAP_OK && len > 0) s = lp_lcsc_log_parse(log, d, text, len, &valid);
    free(text);
    if (s == LEAP_OK && valid < len && ftruncate(fd, (off_t)valid) != 0)
      s = lp_error(LEAP_ERR_IO, "cannot cut the torn last line of %s: %s", d->log_path, strerror(errno));
    close(fd);
    if (s != LEAP_OK) {
      lp_lcsc_log_close(log);
      return s;
    }
  }
  log->f = fopen(d->log_path, "a");
  if (!log->f) {
    leap_status s = lp_error(LEAP_ERR_IO, "cannot open %s for appending: %s", d->log_path, strerror(errno));
    lp_lcsc_log_close(log);
    return s;
  }
  log->path = d->log_path;
  if (valid == 0) { /* new (or empty) log: the header */
    setting s[16];
    const int n = settings(d, s);
    fprintf(log->f, "{\"lcsc_search\": 1");
    for (int i = 0; i < n; i++) {
      if (strcmp(s[i].key, "seed") == 0)
        fprintf(log->f, ", \"seed\": %llu", (unsigned long long)d->seed);
      else
        fprintf(log->f, ", \"%s\": %.17g", s[i].key, s[i].value);
    }
    fprintf(log->f, "}\n");
    if (fflush(log->f) != 0) {
      leap_status st = lp_error(LEAP_ERR_IO, "cannot write %s: %s", d->log_path, strerror(errno));
      lp_lcsc_log_close(log);
      return st;
    }
  }
  return LEAP_OK;
}

static void put_number(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.17g", v);
  else
    fputs("null", f);
}

leap_status lp_lcsc_log_append(lp_lcsc_log *log, int index, int generation, const char *origin,
                               const double *coefs, double fitness, double best, double seconds) {
  if (!log->f) return LEAP_OK;
  fprintf(log->f, "{\"candidate\": %d, \"generation\": %d, \"origin\": \"%s\", \"fitness\": ", index, generation,
          origin);
  put_number(log->f, fitness);
  fputs(", \"best_fitness\": ", log->f);
  put_number(log->f, best);
  fprintf(log->f, ", \"seconds\": %.3f, \"coefs\": [", seconds);
  for (int k = 0; k < log->count; k++) {
    if (k) fputs(", ", log->f);
    fprintf(log->f, "%.17g", coefs[k]);
  }
  fputs("]}\n", log->f);
  if (fflush(log->f) != 0) return lp_error(LEAP_ERR_IO, "cannot write %s: %s", log->path, strerror(errno));
  return LEAP_OK;
}
