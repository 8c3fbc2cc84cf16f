/* cli.h - what the `leap` subcommands share: exit codes, the command
 * entry points the dispatcher in cli_main.c lists, and the mapping of a
 * failed leap_status to a message and an exit code. */
#ifndef LEAP_CLI_H
#define LEAP_CLI_H

#include <stdio.h>

#include "leap.h"

/* The exit codes, documented in `leap --help`. */
enum {
  CLI_EXIT_OK = 0,
  CLI_EXIT_ERROR = 1,       /* runtime error: the message is on stderr */
  CLI_EXIT_USAGE = 2,       /* bad command line */
  CLI_EXIT_NO_DEVICE = 3,   /* Vulkan was asked for and there is no device */
  CLI_EXIT_NOMEM = 4,       /* out of host or device memory, nothing written */
  CLI_EXIT_INTERRUPTED = 130 /* Ctrl-C (128 + SIGINT), nothing written */
};

/* A subcommand: main(argc, argv) with argv[0] = the command's name, and a
 * help printer (for `leap CMD --help` and `leap help CMD`). */
typedef int (*cli_main_fn)(int argc, char **argv);
typedef void (*cli_help_fn)(FILE *out);

int cli_sample_main(int argc, char **argv);
void cli_sample_help(FILE *out);
int cli_devices_main(int argc, char **argv);
void cli_devices_help(FILE *out);
int cli_info_main(int argc, char **argv);
void cli_info_help(FILE *out);
int cli_train_main(int argc, char **argv);
void cli_train_help(FILE *out);
int cli_distill_main(int argc, char **argv);
void cli_distill_help(FILE *out);
int cli_train_classifier_main(int argc, char **argv);
void cli_train_classifier_help(FILE *out);
int cli_merge_main(int argc, char **argv);
void cli_merge_help(FILE *out);
int cli_eval_main(int argc, char **argv);
void cli_eval_help(FILE *out);
int cli_lcsc_main(int argc, char **argv);
void cli_lcsc_help(FILE *out);
int cli_profile_main(int argc, char **argv);
void cli_profile_help(FILE *out);
int cli_bench_main(int argc, char **argv);
void cli_bench_help(FILE *out);
int cli_bench_erta_main(int argc, char **argv);
void cli_bench_erta_help(FILE *out);
int cli_video_main(int argc, char **argv);
void cli_video_help(FILE *out);
int cli_bench_sample_main(int argc, char **argv);
void cli_bench_sample_help(FILE *out);

/* Prints "leap: <leap_last_error()>" (or the status name when there is no
 * message) on stderr and returns the exit code for s: 3 for no device, 4
 * for out of memory, 130 for an interruption, 1 otherwise. */
int cli_fail(leap_status s);

#endif
