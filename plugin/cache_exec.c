/* cache_exec.c - see cache_exec.h. */
#include <string.h>

#include "cache_exec.h"

leap_status lp_cache_exec_run(lp_cache_exec *e, const lp_op *op) {
  for (int k = 0; k < LP_CACHE_EXEC_SLOTS; k++)
    if (e->progs[k].n == 1 && memcmp(&e->progs[k].ops[0], op, sizeof *op) == 0)
      return e->be->vt->prog_run(e->be, &e->progs[k]);
  lp_prog *p = &e->progs[e->next];
  e->next = (e->next + 1) % LP_CACHE_EXEC_SLOTS;
  lp_prog_free(e->be, p);
  leap_status s = lp_prog_push(p, op);
  if (s == LEAP_OK) s = e->be->vt->prog_run(e->be, p);
  if (s != LEAP_OK) lp_prog_free(e->be, p);
  return s;
}

void lp_cache_exec_free(lp_cache_exec *e) {
  for (int k = 0; k < LP_CACHE_EXEC_SLOTS; k++) lp_prog_free(e->be, &e->progs[k]);
}
