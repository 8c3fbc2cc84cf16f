/* fuzz_distill_state.c - a distillation state's description (what
 * 'leap distill --resume' reads, lp_distill_state_info_read, before it
 * creates anything from the settings it finds there). */
#include "fuzz_util.h" /* first: it defines _GNU_SOURCE for memfd_create */

#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "distill_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  char path[64];
  const int fd = fuzz_memfile(data, len, path, sizeof path);
  lp_distill_state_info info;
  lp_distill_state_info_read(path, &info);
  close(fd);
  return 0;
}
