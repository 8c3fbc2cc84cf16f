/* prog_cache.h - runs short op lists as programs, keeping the compiled
 * program of each distinct list (same kinds, views and arguments, compared
 * bytewise) so that the Vulkan backend records it once and afterwards only
 * resubmits it. The cache ops run one op at a time through it; a sampling
 * step runs its whole fused list (embed, cache ops, blocks, final layer,
 * guidance) through it as one submission.
 *
 * A kept program refers to buffers by pointer and an address can be
 * reused, so each kept program also keeps the serials of the buffers it
 * names (backend.h) and is recorded again when one of them has changed.
 * A buffer a kept program names may be freed at any time; the program is
 * then never run again. */
#ifndef LEAP_PROG_CACHE_H
#define LEAP_PROG_CACHE_H

#include "backend.h"

#define LP_PROG_CACHE_SLOTS 32

typedef struct lp_prog_cache {
  lp_backend *be;
  lp_prog progs[LP_PROG_CACHE_SLOTS];
  uint64_t *serials[LP_PROG_CACHE_SLOTS]; /* 4 per op: in[0..2], out */
  int next; /* round-robin eviction */
} lp_prog_cache;

/* Runs ops[0..n) as one program. Ops must be zero-initialised before they
 * are filled (padding takes part in the comparison). */
leap_status lp_prog_cache_run(lp_prog_cache *pc, const lp_op *ops, int n);
/* One op: lp_prog_cache_run(pc, op, 1). */
leap_status lp_prog_cache_run1(lp_prog_cache *pc, const lp_op *op);
void lp_prog_cache_free(lp_prog_cache *pc);

#endif
