/* interrupt.h - Ctrl-C and SIGTERM for long commands, over core/output.h's
 * handlers: the first SIGINT or SIGTERM sets a flag that the command (and
 * leap's writers) poll between steps, so it stops cleanly, removes its
 * temporaries and writes nothing partial; a second one removes every
 * registered temporary and work folder at once and ends the process with
 * that signal's default action, should a step take long. */
#ifndef LEAP_CLI_INTERRUPT_H
#define LEAP_CLI_INTERRUPT_H

void cli_interrupt_install(void);
/* Non-zero once SIGINT or SIGTERM has arrived. */
int cli_interrupted(void);
/* The message every stopped command prints; returns CLI_EXIT_INTERRUPTED. */
int cli_interrupted_exit(void);
/* A leap_progress_fn that asks leap_sample to stop once interrupted. */
int cli_stop_progress(void *user, int step, int steps);
/* The exit code of a command that ended with s: 0, 130 (with the message
 * above) for LEAP_ERR_INTERRUPTED, else cli_fail's. */
int cli_exit_for(int s);

#endif
