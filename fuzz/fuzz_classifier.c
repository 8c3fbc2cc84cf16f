/* fuzz_classifier.c - the FD classifier's loader (metadata, then tensors)
 * through its path reader, on a memfd. */
#define _GNU_SOURCE /* memfd_create, in fuzz_util.h */
#include <stddef.h>
#include <stdint.h>

#include "classifier.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  char path[64];
  int fd = fuzz_memfile(data, len, path, sizeof path);
  lp_classifier *c;
  if (lp_classifier_load(path, &c) == LEAP_OK) lp_classifier_destroy(c);
  close(fd);
  return 0;
}
