/* cli_args.c - option matching and value parsing for the leap subcommands.
 * Every bad value is reported here, naming the option, so the commands
 * only say what they accept. */
#include "cli_args.h"
#include "alloc.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cli_args_init(cli_args *a, int argc, char **argv, cli_help_fn help) {
  a->argc = argc;
  a->argv = argv;
  a->cmd = argc > 0 ? argv[0] : "leap";
  a->help = help;
  a->i = 0;
  a->exit_code = -1;
}

int cli_next(cli_args *a) {
  if (a->exit_code >= 0) return 0;
  a->i++;
  if (a->i >= a->argc) return 0;
  const char *arg = a->argv[a->i];
  if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
    a->help(stdout);
    a->exit_code = CLI_EXIT_OK;
    return 0;
  }
  return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "leap %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'leap %s --help'.\n", cmd);
  return CLI_EXIT_USAGE;
}

void cli_unknown(cli_args *a) {
  const char *arg = a->argv[a->i];
  if (arg[0] == '-' && arg[1] != 0)
    cli_usage_error(a->cmd, "unknown option '%s'", arg);
  else
    cli_usage_error(a->cmd, "unexpected argument '%s'", arg);
  a->exit_code = CLI_EXIT_USAGE;
}

/* Matches `name`, `name=VALUE` or `name VALUE`. Returns 0 when the argument
 * is another option, 1 with *value set, or 1 with *value NULL (and the error
 * reported) when the value is missing. */
static int match_value(cli_args *a, const char *name, const char **value) {
  const char *arg = a->argv[a->i];
  size_t len = strlen(name);
  if (strncmp(arg, name, len) != 0) return 0;
  if (arg[len] == '=') {
    *value = arg + len + 1;
    return 1;
  }
  if (arg[len] != 0) return 0;
  if (a->i + 1 >= a->argc) {
    cli_usage_error(a->cmd, "option '%s' needs a value", name);
    a->exit_code = CLI_EXIT_USAGE;
    *value = NULL;
    return 1;
  }
  *value = a->argv[++a->i];
  return 1;
}

int cli_opt_flag(cli_args *a, const char *name, int *out) {
  const char *arg = a->argv[a->i];
  size_t len = strlen(name);
  if (strncmp(arg, name, len) != 0) return 0;
  if (arg[len] == '=') {
    cli_usage_error(a->cmd, "option '%s' takes no value", name);
    a->exit_code = CLI_EXIT_USAGE;
    return 1;
  }
  if (arg[len] != 0) return 0;
  *out = 1;
  return 1;
}

int cli_opt_str(cli_args *a, const char *name, const char **out) {
  const char *v;
  if (!match_value(a, name, &v)) return 0;
  if (v) *out = v;
  return 1;
}

int cli_opt_int(cli_args *a, const char *name, long min, long max, int *out) {
  const char *v;
  long x;
  if (!match_value(a, name, &v)) return 0;
  if (!v) return 1;
  if (max > INT_MAX) max = INT_MAX;
  if (min < INT_MIN) min = INT_MIN;
  if (!cli_parse_long(a->cmd, name, v, min, max, &x))
    a->exit_code = CLI_EXIT_USAGE;
  else
    *out = (int)x;
  return 1;
}

int cli_opt_u64(cli_args *a, const char *name, uint64_t *out) {
  const char *v;
  if (!match_value(a, name, &v)) return 0;
  if (v && !cli_parse_u64(a->cmd, name, v, out)) a->exit_code = CLI_EXIT_USAGE;
  return 1;
}

int cli_opt_double(cli_args *a, const char *name, double min, double max,
                   double *out) {
  const char *v;
  if (!match_value(a, name, &v)) return 0;
  if (v && !cli_parse_double(a->cmd, name, v, min, max, out))
    a->exit_code = CLI_EXIT_USAGE;
  return 1;
}

int cli_positional(cli_args *a, const char **out) {
  const char *arg = a->argv[a->i];
  if (arg[0] == '-' && arg[1] != 0) return 0;
  *out = arg;
  return 1;
}

int cli_parse_long(const char *cmd, const char *what, const char *s, long min,
                   long max, long *out) {
  char *end;
  errno = 0;
  long x = strtol(s, &end, 10);
  if (*s == 0 || *end != 0 || errno == ERANGE) {
    cli_usage_error(cmd, "%s: '%s' is not an integer", what, s);
    return 0;
  }
  if (x < min || x > max) {
    cli_usage_error(cmd, "%s: %ld is out of range [%ld, %ld]", what, x, min,
                    max);
    return 0;
  }
  *out = x;
  return 1;
}

int cli_parse_int_list(const char *cmd, const char *what, const char *s, long min,
                       long max, int *out, int cap, int *count) {
  *count = 0;
  for (const char *p = s; *p;) {
    char *end;
    errno = 0;
    const long v = strtol(p, &end, 10);
    if (end == p || errno == ERANGE || v < min || v > max || (*end && *end != ',') || *count == cap) {
      cli_usage_error(cmd, "%s: '%s' is not a list of at most %d integers in [%ld, %ld]", what, s, cap,
                      min, max);
      return 0;
    }
    out[(*count)++] = (int)v;
    p = *end ? end + 1 : end;
  }
  if (*count == 0) cli_usage_error(cmd, "%s: empty list", what);
  return *count > 0;
}

int cli_parse_u64(const char *cmd, const char *what, const char *s,
                  uint64_t *out) {
  char *end;
  errno = 0;
  /* strtoull accepts "-1" (wrapping it); a seed is never negative. */
  unsigned long long x = strtoull(s, &end, 0);
  if (*s == 0 || *s == '-' || *end != 0 || errno == ERANGE) {
    cli_usage_error(cmd, "%s: '%s' is not a non-negative integer", what, s);
    return 0;
  }
  *out = (uint64_t)x;
  return 1;
}

int cli_parse_double(const char *cmd, const char *what, const char *s,
                     double min, double max, double *out) {
  char *end;
  errno = 0;
  double x = strtod(s, &end);
  if (*s == 0 || *end != 0 || errno == ERANGE || !isfinite(x)) {
    cli_usage_error(cmd, "%s: '%s' is not a finite number", what, s);
    return 0;
  }
  if (x < min || x > max) {
    cli_usage_error(cmd, "%s: %g is out of range [%g, %g]", what, x, min, max);
    return 0;
  }
  *out = x;
  return 1;
}

/* Reads a non-negative decimal label at *p and advances *p past it. */
static int read_label(const char **p, long *out) {
  const char *s = *p;
  char *end;
  if (*s < '0' || *s > '9') return 0;
  errno = 0;
  long x = strtol(s, &end, 10);
  if (errno == ERANGE || x > INT32_MAX) return 0;
  *out = x;
  *p = end;
  return 1;
}

int cli_parse_labels(const char *cmd, const char *what, const char *s,
                     int32_t **out, int *count) {
  /* First pass validates and counts, so the list is allocated once. */
  for (int pass = 0; pass < 2; pass++) {
    const char *p = s;
    long n = 0;
    for (;;) {
      long lo, hi;
      if (!read_label(&p, &lo)) goto bad;
      hi = lo;
      if (*p == '-') {
        p++;
        if (!read_label(&p, &hi)) goto bad;
        if (hi < lo) {
          cli_usage_error(cmd, "%s: range %ld-%ld runs backwards", what, lo,
                          hi);
          return 0;
        }
      }
      if (hi - lo + 1 > (1L << 20) - n) {
        cli_usage_error(cmd, "%s: more than %ld labels", what, 1L << 20);
        return 0;
      }
      for (long v = lo; v <= hi; v++, n++)
        if (pass == 1) (*out)[n] = (int32_t)v;
      if (*p == 0) break;
      if (*p != ',') goto bad;
      p++;
    }
    if (pass == 0) {
      *out = lp_malloc((size_t)n * sizeof **out);
      if (!*out) {
        fprintf(stderr, "leap %s: out of memory for %s\n", cmd, what);
        return -1;
      }
      *count = (int)n;
    }
  }
  return 1;
bad:
  cli_usage_error(cmd,
                  "%s: '%s' is not a label list (like 0,3,5 or 0-9 or 0-4,7)",
                  what, s);
  return 0;
}
