/* lcsc_log.h - the JSON-lines log of an LCSC search: one header line with
 * the settings, then one line per evaluated candidate:
 *   {"lcsc_search": 1, "count": N, "population": P, ..., "seed": S}
 *   {"candidate": i, "generation": g, "origin": "child", "fitness": f,
 *    "best_fitness": b, "seconds": t, "coefs": [..]}
 * Numbers are written with 17 significant digits, so a resumed search
 * re-creates the same candidates bit for bit. */
#ifndef LP_LCSC_LOG_H
#define LP_LCSC_LOG_H

#include <stdio.h>

#include "leap.h"

typedef struct lp_lcsc_logged {
  double fitness; /* INFINITY where the log says null (non-finite) */
  double *coefs;  /* [count] */
} lp_lcsc_logged;

typedef struct lp_lcsc_log {
  FILE *f;               /* open for appending; NULL = no log */
  const char *path;
  lp_lcsc_logged *done;  /* candidates found in an existing log */
  int ndone;
  int count;
} lp_lcsc_log;

/* Opens (creating, or resuming when the file exists) the log. An existing
 * log written with other settings (all but the budget) is an error naming
 * the first difference; a torn last line (no newline) is cut off. */
leap_status lp_lcsc_log_open(lp_lcsc_log *log, const leap_lcsc_search_desc *d);
/* The reader behind open, over text[0..len): checks the header against d
 * and fills log->done (log->count and log->path set by the caller);
 * *valid = bytes up to the last complete line. */
leap_status lp_lcsc_log_parse(lp_lcsc_log *log, const leap_lcsc_search_desc *d, const char *text, size_t len,
                              size_t *valid);
/* A search log larger than this is refused before it is read. */
#define LP_LCSC_LOG_MAX_BYTES (256u << 20)
leap_status lp_lcsc_log_append(lp_lcsc_log *log, int index, int generation, const char *origin,
                               const double *coefs, double fitness, double best, double seconds);
void lp_lcsc_log_close(lp_lcsc_log *log);

#endif
