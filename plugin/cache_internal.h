/* cache_internal.h - what leap_sample needs of a leap_cache beyond leap.h. */
#ifndef LEAP_CACHE_INTERNAL_H
#define LEAP_CACHE_INTERNAL_H

#include "leap.h"

/* Checks that the cache was made for this run of leap_sample: steps,
 * solver, schedule, shift, guidance, batch layout and (with a profile) the
 * model; the error says which differs. */
leap_status lp_cache_check_run(const leap_cache *c, leap_model *m, const leap_sample_desc *d, int branches);

#endif
