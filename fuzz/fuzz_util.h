/* fuzz_util.h - what the libFuzzer harnesses share: a file on memory for
 * the readers that take a path (memfd_create: a regular file, so leap's
 * reader-side checks accept it, with no disk traffic per input). */
#ifndef LEAP_FUZZ_UTIL_H
#define LEAP_FUZZ_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A memfd holding data[0..len); its path in path (/proc/self/fd/N).
 * Returns the descriptor (close it after use), or aborts: a harness that
 * cannot make its file tests nothing. */
static inline int fuzz_memfile(const uint8_t *data, size_t len, char *path, size_t cap) {
  int fd = memfd_create("leap-fuzz", MFD_CLOEXEC);
  if (fd < 0) {
    perror("fuzz_memfile: memfd_create");
    abort();
  }
  size_t done = 0;
  while (done < len) {
    ssize_t k = write(fd, data + done, len - done);
    if (k <= 0) {
      perror("fuzz_memfile: write");
      abort();
    }
    done += (size_t)k;
  }
  snprintf(path, cap, "/proc/self/fd/%d", fd);
  return fd;
}

#endif
