/* fuzz_image_folder.c - the labelled image folder loader
 * (lp_dataset_load_folder): the input is one image file (PNG or JPEG) in
 * ROOT/0/, next to a fixed valid 4x4 image in ROOT/1/, so both decoding and
 * the same-shape check run. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset.h"

static char root[64], input[128];

static void put(const char *path, const uint8_t *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) abort();
}

/* A valid 4x4 grey PNG (fuzz/corpus/image_folder/grey4.png). */
static const uint8_t kPng[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x8c, 0x9a, 0xc1,
    0xa2, 0x00, 0x00, 0x00, 0x1c, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x60, 0xb0, 0xa9, 0xd8,
    0xc2, 0xc0, 0xe5, 0xd6, 0xb4, 0x8f, 0x41, 0x24, 0xa0, 0xe7, 0x04, 0x83, 0x5c, 0xd4, 0xb4, 0x4b,
    0x00, 0x39, 0x1c, 0x06, 0x91, 0xfe, 0x1b, 0x0a, 0x98, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
};

static char fixed[128];

static void cleanup(void) {
  char dir[96];
  unlink(input), unlink(fixed);
  snprintf(dir, sizeof dir, "%s/0", root), rmdir(dir);
  snprintf(dir, sizeof dir, "%s/1", root), rmdir(dir);
  rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  snprintf(root, sizeof root, "/tmp/leap-fuzz-img-%ld", (long)getpid());
  char dir[96];
  if (mkdir(root, 0700) != 0) abort();
  atexit(cleanup);
  snprintf(dir, sizeof dir, "%s/0", root);
  if (mkdir(dir, 0700) != 0) abort();
  snprintf(input, sizeof input, "%s/input.png", dir);
  snprintf(dir, sizeof dir, "%s/1", root);
  if (mkdir(dir, 0700) != 0) abort();
  snprintf(fixed, sizeof fixed, "%s/fixed.png", dir);
  put(fixed, kPng, sizeof kPng);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  put(input, data, len);
  lp_dataset d;
  if (lp_dataset_load_folder(root, &d) == LEAP_OK) lp_dataset_free(&d);
  return 0;
}
