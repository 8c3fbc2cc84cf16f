/* progress.c - terminal progress line; see progress.h. */
#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_init(cli_progress *p, int want) {
  p->enabled = want && isatty(STDERR_FILENO);
  p->start = cli_now();
  p->last_draw = 0;
  p->drawn = 0;
  p->what = "step";
  p->rate = "it/s";
}

void cli_progress_update(cli_progress *p, long long step, long long steps) {
  if (!p->enabled || step <= 0) return;
  double now = cli_now();
  if (step < steps && p->drawn && now - p->last_draw < 0.1) return;
  double elapsed = now - p->start;
  double rate = elapsed > 0 ? (double)step / elapsed : 0;
  double eta = rate > 0 ? (double)(steps - step) / rate : 0;
  /* \r returns to the line start and \033[K clears what a longer earlier
   * line left behind. */
  fprintf(stderr, "\r%s %lld/%lld  %.1f %s  ETA %.1fs\033[K", p->what, step, steps, rate,
          p->rate, eta);
  fflush(stderr);
  p->last_draw = now;
  p->drawn = 1;
}

void cli_progress_finish(cli_progress *p) {
  if (p->enabled && p->drawn) fputc('\n', stderr);
  p->drawn = 0;
}
