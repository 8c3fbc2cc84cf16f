/* fuzz_idx.c - Fashion-MNIST's IDX pair (labels, images) through the real
 * loader, gzip'ed or raw (zlib reads raw data transparently). The input is
 * a 4-byte little-endian length L, L bytes of label file, then the image
 * file. */
#define _GNU_SOURCE /* memfd_create, in fuzz_util.h */
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  if (len < 4) return 0;
  size_t l = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
  if (l > len - 4) l = len - 4;
  char lpath[64], ipath[64];
  int lfd = fuzz_memfile(data + 4, l, lpath, sizeof lpath);
  int ifd = fuzz_memfile(data + 4 + l, len - 4 - l, ipath, sizeof ipath);
  lp_dataset d;
  if (lp_dataset_load_idx(lpath, ipath, -1, &d) == LEAP_OK) lp_dataset_free(&d);
  close(lfd);
  close(ifd);
  return 0;
}
