/* prog_cache.c - see prog_cache.h. */
#include <string.h>

#include "error.h"
#include "prog_cache.h"

leap_status lp_prog_cache_run(lp_prog_cache *pc, const lp_op *ops, int n) {
  if (n < 1) return lp_error(LEAP_ERR_INVALID_ARG, "lp_prog_cache_run: empty op list");
  for (int k = 0; k < LP_PROG_CACHE_SLOTS; k++)
    if (pc->progs[k].n == n && memcmp(pc->progs[k].ops, ops, (size_t)n * sizeof *ops) == 0)
      return pc->be->vt->prog_run(pc->be, &pc->progs[k]);
  lp_prog *p = &pc->progs[pc->next];
  pc->next = (pc->next + 1) % LP_PROG_CACHE_SLOTS;
  lp_prog_free(pc->be, p);
  leap_status s = LEAP_OK;
  for (int k = 0; s == LEAP_OK && k < n; k++) s = lp_prog_push(p, &ops[k]);
  if (s == LEAP_OK) s = pc->be->vt->prog_run(pc->be, p);
  if (s != LEAP_OK) lp_prog_free(pc->be, p);
  return s;
}

leap_status lp_prog_cache_run1(lp_prog_cache *pc, const lp_op *op) { return lp_prog_cache_run(pc, op, 1); }

void lp_prog_cache_epoch(lp_prog_cache *pc, uint64_t epoch) {
  if (pc->epoch == epoch) return;
  lp_prog_cache_free(pc);
  pc->epoch = epoch;
}

void lp_prog_cache_free(lp_prog_cache *pc) {
  for (int k = 0; k < LP_PROG_CACHE_SLOTS; k++) lp_prog_free(pc->be, &pc->progs[k]);
  pc->next = 0;
}
