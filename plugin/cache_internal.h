/* cache_internal.h - what leap_sample needs of a leap_cache beyond leap.h. */
#ifndef LEAP_CACHE_INTERNAL_H
#define LEAP_CACHE_INTERNAL_H

#include "backend.h"
#include "leap.h"
#include "prog_cache.h"

/* Checks that the cache was made for this run of leap_sample: steps,
 * solver, schedule, shift, guidance, batch layout and (with a profile) the
 * model; the error says which differs. */
leap_status lp_cache_check_run(const leap_cache *c, leap_model *m, const leap_sample_desc *d, int branches);

/* Whether the cache decides every step without looking at the step's input
 * (ERTA, uniform, none): then a step's ops can be recorded before its
 * embedding has run, and the whole step is one program. */
int lp_cache_decides_offline(const leap_cache *c);

/* leap_cache_begin and (when it says compute) leap_cache_end for all
 * branches of hidden state h, as ops to record into the step's program
 * instead of running them: before[0..*nbefore) goes after the embedding
 * (keep the input, or apply the cached residual), after[0..*nafter) after
 * the block stack (store the residual). *nbefore, *nafter are 0 or 1. The
 * cache's state moves on as if they had run; a rectified apply's
 * coefficients are written now. TeaCache reads h: call it after the
 * embedding has run. */
leap_status lp_cache_step_ops(leap_cache *c, int step, leap_tensor *h, lp_op *before, int *nbefore, lp_op *after,
                              int *nafter, int *compute);

/* Where leap_sample keeps the compiled step programs that name this
 * cache's buffers (freed with the cache). */
lp_prog_cache *lp_cache_step_programs(leap_cache *c);

#endif
