/* shard.h - `--shard i/N`: which contiguous part of a run's images this
 * process makes, so that N independent jobs (a Slurm job array, a
 * Kubernetes indexed Job, a shell loop) together make the images of one
 * run. The run is cut at batch boundaries: of its B = ceil(n / batch)
 * batches, shard i takes batches [floor(B*i/N), floor(B*(i+1)/N)), so that
 * every leap_sample call of a shard is one that a single run with the same
 * --batch makes (same first image, same size). Why: the model's batched
 * matrix products round differently for another batch composition (9e-6
 * on the shipped model after 10 steps, 1e-3 on the random tiny test model),
 * so only the same calls give the same bytes
 * (with the same thread count: OpenBLAS splits a product by thread). The
 * shards' batch counts differ by at most one and their union is 0..n-1 in
 * order (a shard may be empty when N > B).
 *
 * `--shard auto` reads the index from the scheduler's environment:
 *   SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN when set, so that
 *   `--array=1-4` works) of SLURM_ARRAY_TASK_COUNT; else
 *   JOB_COMPLETION_INDEX (Kubernetes) of --shards N or LEAP_SHARD_COUNT
 *   (an indexed Job's completions are not in its pods' environment). */
#ifndef LEAP_CLI_SHARD_H
#define LEAP_CLI_SHARD_H

#include <stdint.h>

typedef struct cli_shard {
  int64_t index, count; /* count 0: no sharding (the whole run) */
} cli_shard;

/* The largest shard count accepted. */
#define CLI_SHARD_MAX 1000000

/* Parses "i/N" (0 <= i < N <= CLI_SHARD_MAX) or "auto" (the environment,
 * with count_opt > 0 the count given by --shards for JOB_COMPLETION_INDEX)
 * into *out. On a bad value prints "leap CMD: --shard: ..." naming what is
 * wrong or missing and returns 0. */
int cli_shard_parse(const char *cmd, const char *spec, int64_t count_opt, cli_shard *out);

/* The images of shard s of a run of n in batches of `batch`:
 * [*first, *first + *count). The whole run when s->count is 0. */
void cli_shard_range(const cli_shard *s, int64_t n, int64_t batch, int64_t *first, int64_t *count);

#endif
