/* progress.h - a one-line "step 12/30  4.1 it/s  ETA 4.4s" progress display
 * (or "frames 12/30  4.1 frames/s  ETA 4.4s" with other units)
 * on stderr, shown only when stderr is a terminal (so logs and pipes stay
 * clean), and a monotonic clock for timing. */
#ifndef LEAP_CLI_PROGRESS_H
#define LEAP_CLI_PROGRESS_H

typedef struct cli_progress {
  int enabled;       /* 0: every call is a no-op */
  double start;      /* cli_now() when the run began */
  double last_draw;  /* cli_now() of the last redraw (rate limiting) */
  int drawn;         /* a line is on screen and needs finishing */
  const char *what;  /* what is counted: "step" unless set after init */
  const char *rate;  /* its rate's unit: "it/s" unless set after init */
} cli_progress;

/* Seconds on a monotonic clock. */
double cli_now(void);
/* Enabled when want != 0 and stderr is a terminal. */
void cli_progress_init(cli_progress *p, int want);
/* Shows step / steps (steps completed so far; 64-bit for image counts of
 * long runs); redraws at most ~10 times a second, and always on the last
 * step. */
void cli_progress_update(cli_progress *p, long long step, long long steps);
/* Ends the line (if one was drawn) so that later output starts clean. */
void cli_progress_finish(cli_progress *p);

#endif
