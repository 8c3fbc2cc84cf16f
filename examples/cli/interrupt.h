/* interrupt.h - Ctrl-C for long commands: the first SIGINT sets a flag that
 * the command polls between steps (so it stops cleanly and writes nothing
 * partial); the handler resets itself (SA_RESETHAND), so a second Ctrl-C
 * kills at once should a step take long. */
#ifndef LEAP_CLI_INTERRUPT_H
#define LEAP_CLI_INTERRUPT_H

void cli_interrupt_install(void);
/* Non-zero once SIGINT has arrived. */
int cli_interrupted(void);

#endif
