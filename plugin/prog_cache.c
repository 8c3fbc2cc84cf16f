/* prog_cache.c - see prog_cache.h. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "prog_cache.h"

/* Op lists are compared bytewise below, so an op has no implicit padding:
 * a struct copy or a designated initialiser need not preserve or zero
 * padding bytes. Before lp_op.reserved, an op returned by value
 * (lp_op_axpby into leap_cache_end's op) reached the comparison with 4
 * uninitialised bytes after kind (valgrind), so the same op could miss its
 * kept program and be recorded again. */
_Static_assert(sizeof(lp_op) == sizeof(lp_op_kind) + sizeof(int32_t) + 4 * sizeof(lp_view) + 8 * sizeof(int32_t) +
                                    2 * sizeof(float),
               "lp_op must have no implicit padding");

uint64_t lp_buf_new_serial(void) {
  static atomic_uint_fast64_t next;
  return (uint64_t)atomic_fetch_add(&next, 1) + 1;
}

static void serials_of(const lp_op *ops, int n, uint64_t *out) {
  for (int k = 0; k < n; k++) {
    for (int v = 0; v < 3; v++) out[4 * k + v] = lp_buf_serial(ops[k].in[v].buf);
    out[4 * k + 3] = lp_buf_serial(ops[k].out.buf);
  }
}

static void drop(lp_prog_cache *pc, int slot) {
  lp_prog_free(pc->be, &pc->progs[slot]);
  free(pc->serials[slot]);
  pc->serials[slot] = NULL;
}

leap_status lp_prog_cache_run(lp_prog_cache *pc, const lp_op *ops, int n) {
  if (n < 1) return lp_error(LEAP_ERR_INVALID_ARG, "lp_prog_cache_run: empty op list");
  uint64_t *now = lp_malloc((size_t)n * 4 * sizeof *now);
  if (!now) return lp_error(LEAP_ERR_NOMEM, "lp_prog_cache_run: out of memory");
  serials_of(ops, n, now);
  int slot = -1;
  for (int k = 0; k < LP_PROG_CACHE_SLOTS && slot < 0; k++) {
    if (pc->progs[k].n != n || memcmp(pc->progs[k].ops, ops, (size_t)n * sizeof *ops) != 0) continue;
    if (memcmp(pc->serials[k], now, (size_t)n * 4 * sizeof *now) == 0) {
      free(now);
      return pc->be->vt->prog_run(pc->be, &pc->progs[k]);
    }
    slot = k; /* same pointers, other buffers: record it again here */
  }
  if (slot < 0) {
    slot = pc->next;
    pc->next = (pc->next + 1) % LP_PROG_CACHE_SLOTS;
  }
  drop(pc, slot);
  lp_prog *p = &pc->progs[slot];
  leap_status s = LEAP_OK;
  for (int k = 0; s == LEAP_OK && k < n; k++) s = lp_prog_push(p, &ops[k]);
  if (s == LEAP_OK) {
    pc->serials[slot] = now;
    s = pc->be->vt->prog_run(pc->be, p);
  } else {
    free(now);
  }
  if (s != LEAP_OK) drop(pc, slot);
  return s;
}

leap_status lp_prog_cache_run1(lp_prog_cache *pc, const lp_op *op) { return lp_prog_cache_run(pc, op, 1); }

void lp_prog_cache_free(lp_prog_cache *pc) {
  for (int k = 0; k < LP_PROG_CACHE_SLOTS; k++) drop(pc, k);
  pc->next = 0;
}
