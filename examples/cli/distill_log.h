/* distill_log.h - `leap distill`'s log.jsonl, held in memory and landed
 * whole through core/output.h (temporary, then rename) at every save and
 * when the command ends, so the file on disk always ends at a state's
 * iteration or at the end. A resumed run reads it back and appends. */
#ifndef LEAP_CLI_DISTILL_LOG_H
#define LEAP_CLI_DISTILL_LOG_H

#include "file_write.h"
#include "leap.h"
#include "output.h"

typedef struct distill_log {
  const char *path;
  lp_strbuf text;
  size_t landed;  /* text.len when it last landed */
} distill_log;

/* A new, empty log for path. */
void distill_log_init(distill_log *l, const char *path);
/* A resumed run's log: the lines of path up to iteration `iter` (lines of
 * later iterations, left by a run killed between saves, and a torn last
 * line are dropped). A missing file gives an empty log. */
leap_status distill_log_resume(distill_log *l, const char *path, int iter);
void distill_log_printf(distill_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The whole log, written and synced but not landed (for lp_out_commit_all;
 * set landed = text.len once it commits). */
leap_status distill_log_unit(distill_log *l, const char *const *inputs, int ninputs, lp_out **out);
/* Lands the log alone when it holds lines not yet landed. */
leap_status distill_log_land(distill_log *l, const char *const *inputs, int ninputs);
void distill_log_free(distill_log *l);

#endif
