/* arch_table.c - the architectures leap runs, one row each. */
#include <stdio.h>
#include <string.h>

#include "arch.h"
#include "error.h"

static const lp_model_arch *const kArchs[] = {
    &lp_arch_dit,
    &lp_arch_video_dit,
};

leap_status lp_model_arch_find(const char *where, const char *name, const lp_model_arch **out) {
  const char *want = name ? name : "dit";
  char known[256] = "";
  for (size_t i = 0; i < sizeof kArchs / sizeof *kArchs; i++) {
    if (strcmp(kArchs[i]->name, want) == 0) {
      *out = kArchs[i];
      return LEAP_OK;
    }
    const size_t len = strlen(known);
    snprintf(known + len, sizeof known - len, "%s'%s'", i ? ", " : "", kArchs[i]->name);
  }
  *out = NULL;
  return lp_error(LEAP_ERR_UNSUPPORTED, "%s: arch '%s' is not supported (this build has %s)", where, want,
                  known);
}
