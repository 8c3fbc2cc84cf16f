/* cache_exec.h - runs single cache ops as small programs, keeping the
 * compiled program of each distinct op (same kind, views and arguments)
 * so that the Vulkan backend records it once and then only resubmits it. */
#ifndef LEAP_CACHE_EXEC_H
#define LEAP_CACHE_EXEC_H

#include "backend.h"

#define LP_CACHE_EXEC_SLOTS 32

typedef struct lp_cache_exec {
  lp_backend *be;
  lp_prog progs[LP_CACHE_EXEC_SLOTS];
  int next; /* round-robin eviction */
} lp_cache_exec;

/* op must be zero-initialised before filling (ops are compared bytewise). */
leap_status lp_cache_exec_run(lp_cache_exec *e, const lp_op *op);
void lp_cache_exec_free(lp_cache_exec *e);

#endif
