/* cli_args.h - the small option parser every subcommand uses.
 *
 * A subcommand walks its arguments with cli_next() and offers each one to
 * the matchers; a matcher returns 1 when the argument is its option (even
 * when the value is bad: then it has printed a usage error and set
 * a->exit_code, and the next cli_next() returns 0). Options take their
 * value as `--name VALUE` or `--name=VALUE`. --help / -h print the
 * command's help and end the walk with exit code 0:
 *
 *   cli_args a;
 *   cli_args_init(&a, argc, argv, cli_sample_help);
 *   while (cli_next(&a)) {
 *     if (cli_opt_int(&a, "--steps", 1, 100000, &steps)) continue;
 *     if (cli_opt_flag(&a, "--quiet", &quiet)) continue;
 *     cli_unknown(&a);
 *   }
 *   if (a.exit_code >= 0) return a.exit_code;
 */
#ifndef LEAP_CLI_ARGS_H
#define LEAP_CLI_ARGS_H

#include <stdint.h>

#include "cli.h"

typedef struct cli_args {
  int argc;
  char **argv;
  const char *cmd;    /* argv[0]: the subcommand's name, for messages */
  cli_help_fn help;
  int i;              /* index of the argument being matched */
  int exit_code;      /* -1 while parsing; 0 after --help; 2 after an error */
} cli_args;

void cli_args_init(cli_args *a, int argc, char **argv, cli_help_fn help);
/* Moves to the next argument; 0 at the end, after --help or after an error. */
int cli_next(cli_args *a);

/* Prints "leap CMD: <message>" and a hint to --help on stderr; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The current argument is not an option of this command: a usage error. */
void cli_unknown(cli_args *a);

/* Matchers. Each returns 1 when argv[a->i] is the named option. */
int cli_opt_flag(cli_args *a, const char *name, int *out);
int cli_opt_str(cli_args *a, const char *name, const char **out);
int cli_opt_int(cli_args *a, const char *name, long min, long max, int *out);
int cli_opt_u64(cli_args *a, const char *name, uint64_t *out);
/* A finite double in [min, max]. */
int cli_opt_double(cli_args *a, const char *name, double min, double max,
                   double *out);
/* A positional argument (anything not starting with '-', or "-" itself). */
int cli_positional(cli_args *a, const char **out);

/* Value parsers shared with commands that read values elsewhere; each
 * returns 0 and prints a usage error (naming `what`) on a bad value. */
int cli_parse_long(const char *cmd, const char *what, const char *s, long min,
                   long max, long *out);
int cli_parse_u64(const char *cmd, const char *what, const char *s,
                  uint64_t *out);
int cli_parse_double(const char *cmd, const char *what, const char *s,
                     double min, double max, double *out);
/* A comma-separated list of integers in [min, max] (e.g. step counts
 * "4,6,8"), at most cap of them, into out; *count >= 1. */
int cli_parse_int_list(const char *cmd, const char *what, const char *s, long min,
                       long max, int *out, int cap, int *count);
/* A label list: comma-separated numbers and inclusive ranges, e.g.
 * "0,3,5", "0-9" or "0-4,7". *out is malloc'ed (free it); *count >= 1.
 * Unlike the others, 0 is a usage error and -1 out of memory (both with
 * their message printed): CLI_EXIT_USAGE and CLI_EXIT_NOMEM. */
int cli_parse_labels(const char *cmd, const char *what, const char *s,
                     int32_t **out, int *count);

#endif
