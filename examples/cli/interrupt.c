/* interrupt.c - see interrupt.h. */
#include "interrupt.h"

#include <stdio.h>

#include "cli.h"
#include "output.h"

void cli_interrupt_install(void) { lp_out_signals_install(); }

int cli_interrupted(void) { return lp_out_stop_requested(); }

int cli_interrupted_exit(void) {
  fprintf(stderr, "leap: interrupted; nothing was written\n");
  return CLI_EXIT_INTERRUPTED;
}

int cli_stop_progress(void *user, int step, int steps) {
  (void)user, (void)step, (void)steps;
  return cli_interrupted();
}

int cli_exit_for(int s) {
  if (s == LEAP_OK) return CLI_EXIT_OK;
  if (s == LEAP_ERR_INTERRUPTED) return cli_interrupted_exit();
  return cli_fail((leap_status)s);
}
