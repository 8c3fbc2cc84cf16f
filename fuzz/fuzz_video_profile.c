/* fuzz_video_profile.c - block-cache profiles (lp_vcache_profile_parse,
 * what 'leap video --cache' and leap_video_desc's cache_profile read). The
 * run check needs a model and comes after the file's own checks; the
 * parse without one is what a hostile file reaches. */
#include <stddef.h>
#include <stdint.h>

#include "video_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  lp_vcache_profile p;
  if (lp_vcache_profile_parse((const char *)data, len, "fuzz.json", NULL, NULL, &p) == LEAP_OK) {
    /* what the sampler reads of a setting */
    for (int k = 0; k < p.nsettings; k++)
      for (int i = 0; i < p.rows; i++) (void)p.settings[k].reuse[i], (void)p.settings[k].phi[i];
    lp_vcache_profile_free(&p);
  }
  return 0;
}
