/* shard.c - `--shard i/N` and `--shard auto`; see shard.h. */
#include "shard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"

/* A whole non-negative decimal number, or -1. */
static int64_t parse_count(const char *s) {
  if (!s || !*s) return -1;
  for (const char *p = s; *p; p++)
    if (*p < '0' || *p > '9') return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno == ERANGE || v > (unsigned long long)INT64_MAX) return -1;
  return (int64_t)v;
}

static int check(const char *cmd, const char *from, int64_t i, int64_t n, cli_shard *out) {
  if (n < 1 || n > CLI_SHARD_MAX) {
    cli_usage_error(cmd, "--shard: %s: the shard count must be 1..%d", from, CLI_SHARD_MAX);
    return 0;
  }
  if (i < 0 || i >= n) {
    cli_usage_error(cmd, "--shard: %s: shard %lld is not in 0..%lld", from, (long long)i, (long long)(n - 1));
    return 0;
  }
  out->index = i, out->count = n;
  return 1;
}

/* A variable that must hold a number: -1 (message printed) when it does not. */
static int64_t env_number(const char *cmd, const char *name) {
  const char *v = getenv(name);
  int64_t x = parse_count(v);
  if (x < 0) cli_usage_error(cmd, "--shard auto: %s='%s' is not a whole number", name, v);
  return x;
}

static int from_env(const char *cmd, int64_t count_opt, cli_shard *out) {
  if (getenv("SLURM_ARRAY_TASK_ID")) {
    int64_t id = env_number(cmd, "SLURM_ARRAY_TASK_ID");
    if (id < 0) return 0;
    if (!getenv("SLURM_ARRAY_TASK_COUNT")) {
      cli_usage_error(cmd, "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
      return 0;
    }
    int64_t n = env_number(cmd, "SLURM_ARRAY_TASK_COUNT");
    if (n < 0) return 0;
    /* `--array=1-4` numbers the tasks from 1: count from the array's first. */
    if (getenv("SLURM_ARRAY_TASK_MIN")) {
      int64_t min = env_number(cmd, "SLURM_ARRAY_TASK_MIN");
      if (min < 0) return 0;
      if (id < min) {
        cli_usage_error(cmd, "--shard auto: SLURM_ARRAY_TASK_ID %lld is below SLURM_ARRAY_TASK_MIN %lld",
                        (long long)id, (long long)min);
        return 0;
      }
      id -= min;
    }
    return check(cmd, "from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT", id, n, out);
  }
  if (getenv("JOB_COMPLETION_INDEX")) {
    int64_t id = env_number(cmd, "JOB_COMPLETION_INDEX");
    if (id < 0) return 0;
    int64_t n = count_opt;
    if (n <= 0 && getenv("LEAP_SHARD_COUNT")) {
      n = env_number(cmd, "LEAP_SHARD_COUNT");
      if (n < 0) return 0;
    }
    if (n <= 0) {
      cli_usage_error(cmd, "--shard auto: JOB_COMPLETION_INDEX is set, but not the number of shards: give "
                           "--shards N or LEAP_SHARD_COUNT (the indexed Job's completions)");
      return 0;
    }
    return check(cmd, "from JOB_COMPLETION_INDEX", id, n, out);
  }
  cli_usage_error(cmd, "--shard auto: no scheduler index in the environment (SLURM_ARRAY_TASK_ID with "
                       "SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX); give --shard i/N");
  return 0;
}

int cli_shard_parse(const char *cmd, const char *spec, int64_t count_opt, cli_shard *out) {
  *out = (cli_shard){0, 0};
  if (strcmp(spec, "auto") == 0) return from_env(cmd, count_opt, out);
  const char *slash = strchr(spec, '/');
  if (!slash) {
    cli_usage_error(cmd, "--shard: '%s' is not i/N (e.g. 0/4) or auto", spec);
    return 0;
  }
  char head[32];
  const size_t len = (size_t)(slash - spec);
  if (len >= sizeof head) {
    cli_usage_error(cmd, "--shard: '%s' is not i/N (e.g. 0/4) or auto", spec);
    return 0;
  }
  memcpy(head, spec, len);
  head[len] = 0;
  const int64_t i = parse_count(head), n = parse_count(slash + 1);
  if (i < 0 || n < 0) {
    cli_usage_error(cmd, "--shard: '%s' is not i/N with whole numbers (e.g. 0/4) or auto", spec);
    return 0;
  }
  if (count_opt > 0 && count_opt != n) {
    cli_usage_error(cmd, "--shard %s and --shards %lld disagree", spec, (long long)count_opt);
    return 0;
  }
  return check(cmd, spec, i, n, out);
}

void cli_shard_range(const cli_shard *s, int64_t n, int64_t batch, int64_t *first, int64_t *count) {
  if (s->count <= 0) {
    *first = 0, *count = n;
    return;
  }
  /* Batches < 2^40 and count <= 10^6: the products fit in 64 bits. */
  const int64_t batches = (n + batch - 1) / batch;
  const int64_t b0 = batches * s->index / s->count, b1 = batches * (s->index + 1) / s->count;
  const int64_t a = b0 * batch, e = b1 * batch < n ? b1 * batch : n;
  *first = a, *count = e > a ? e - a : 0;
}
