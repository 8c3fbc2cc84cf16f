/* fuzz_lcsc_log.c - resuming an LCSC search log (lp_lcsc_log_parse, what
 * lp_lcsc_log_open reads) against the settings of the seed corpus's run. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lcsc_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  leap_lcsc_search_desc d = leap_lcsc_search_desc_default();
  d.count = 3; /* as fuzz/make_seeds.c writes */
  lp_lcsc_log log;
  memset(&log, 0, sizeof log);
  log.count = d.count;
  log.path = "fuzz.jsonl";
  size_t valid = 0;
  if (lp_lcsc_log_parse(&log, &d, (const char *)data, len, &valid) == LEAP_OK && valid > len) __builtin_trap();
  lp_lcsc_log_close(&log);
  return 0;
}
