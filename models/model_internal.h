/* model_internal.h - what a leap_model is: a DiT runtime (the only arch yet). */
#ifndef LEAP_MODEL_INTERNAL_H
#define LEAP_MODEL_INTERNAL_H

#include "dit.h"

struct leap_model {
  lp_dit dit;
};

#endif
