/* fuzz_samples.c - raw samples as 'leap eval --samples' and 'leap merge'
 * read them (examples/cli/sample_parts.c): the first byte picks the form,
 * the rest is the file.
 *   even: a samples file (safetensors: tensor "samples" and the run's
 *         metadata), opened and read back a batch at a time;
 *   odd:  a shard index (S.safetensors.index.json), which must be named so;
 *         its parts do not exist here, so the index's own checks are what
 *         is fuzzed, up to the first missing part. */
#include "fuzz_util.h" /* first: it defines _GNU_SOURCE for memfd_create */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sample_parts.h"

static char index_dir[64], index_path[128];

static void remove_index(void) {
  unlink(index_path);
  rmdir(index_dir);
}

static void write_all(const char *path, const uint8_t *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
    perror("fuzz_samples: writing the index");
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  if (len < 1) return 0;
  char path[64];
  int fd = -1;
  const char *open_path = path;
  if (data[0] & 1) {
    if (!index_path[0]) {
      snprintf(index_dir, sizeof index_dir, "/tmp/leap-fuzz-samples-XXXXXX");
      if (!mkdtemp(index_dir)) {
        perror("fuzz_samples: mkdtemp");
        abort();
      }
      snprintf(index_path, sizeof index_path, "%s/s.safetensors.index.json", index_dir);
      atexit(remove_index);
    }
    write_all(index_path, data + 1, len - 1);
    open_path = index_path;
  } else {
    fd = fuzz_memfile(data + 1, len - 1, path, sizeof path);
  }
  cli_samples_src *s = NULL;
  if (cli_samples_open(open_path, &s) == LEAP_OK) {
    int c, h, w;
    cli_samples_shape(s, &c, &h, &w);
    const int max = 4;
    float *x = malloc((size_t)max * c * h * w * sizeof *x);
    int32_t labels[4];
    int got = 1;
    while (x && got > 0 && cli_samples_next(s, max, x, labels, &got) == LEAP_OK) {
    }
    free(x);
    cli_samples_close(s);
  }
  if (fd >= 0) close(fd);
  return 0;
}
