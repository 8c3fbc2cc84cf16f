/* fuzz_profile.c - ERTACache profiles (lp_cache_profile_parse, what
 * 'leap sample --cache' and leap_cache_create read), with and without a
 * run to check against. */
#include <stddef.h>
#include <stdint.h>

#include "cache_profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  lp_cache_profile p;
  if (lp_cache_profile_parse((const char *)data, len, "fuzz.json", NULL, &p) == LEAP_OK) {
    /* what the cache reads of a setting */
    for (int k = 0; k < p.nsettings; k++)
      for (int i = 0; i < p.steps; i++) (void)p.settings[k].reuse[i];
    lp_cache_profile_free(&p);
  }
  leap_cache_desc run = leap_cache_desc_default();
  run.steps = 5, run.branches = 2, run.cfg = 3, run.shift = 1;
  if (lp_cache_profile_parse((const char *)data, len, "fuzz.json", &run, &p) == LEAP_OK) lp_cache_profile_free(&p);
  return 0;
}
