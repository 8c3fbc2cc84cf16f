/* file_read.c - opening files for reading only when they are regular
 * files, and reading them whole (file_read.h). */
#define _POSIX_C_SOURCE 200809L
#include "file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"

static const char *kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "something else";
}

static leap_status not_regular(const char *path, const char *what, mode_t m) {
  return lp_error(LEAP_ERR_IO, "%s: the %s is %s, not a regular file", path, what, kind_of(m));
}

leap_status lp_file_open_regular(const char *path, const char *what, int rw, uint64_t max_bytes,
                                 int *fd_out, uint64_t *size) {
  *fd_out = -1;
  *size = 0;
  if (!path) return lp_error(LEAP_ERR_INVALID_ARG, "no path given for the %s", what);
  struct stat before, after;
  if (stat(path, &before) != 0)
    return lp_error(LEAP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  if (!S_ISREG(before.st_mode)) return not_regular(path, what, before.st_mode);
  int fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return lp_error(LEAP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  if (fstat(fd, &after) != 0) {
    const int e = errno;
    close(fd);
    return lp_error(LEAP_ERR_IO, "cannot stat %s: %s", path, strerror(e));
  }
  if (!S_ISREG(after.st_mode)) {
    close(fd);
    return not_regular(path, what, after.st_mode);
  }
  /* Reads block as usual from here on (a regular file never waits anyway). */
  const int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    const int e = errno;
    close(fd);
    return lp_error(LEAP_ERR_IO, "cannot read %s: %s", path, strerror(e));
  }
  if (after.st_size < 0 || (max_bytes && (uint64_t)after.st_size > max_bytes)) {
    close(fd);
    return lp_error(LEAP_ERR_FORMAT, "%s: the %s is %lld bytes, more than the %llu a %s may have", path, what,
                    (long long)after.st_size, (unsigned long long)max_bytes, what);
  }
  *fd_out = fd;
  *size = (uint64_t)after.st_size;
  return LEAP_OK;
}

leap_status lp_file_read_fd(int fd, const char *path, const char *what, size_t max_bytes, char **out,
                            size_t *len) {
  *out = NULL;
  *len = 0;
  struct stat sb;
  if (fstat(fd, &sb) != 0) return lp_error(LEAP_ERR_IO, "cannot stat the %s %s: %s", what, path, strerror(errno));
  const off_t pos = lseek(fd, 0, SEEK_CUR);
  const uint64_t left = pos >= 0 && sb.st_size > pos ? (uint64_t)(sb.st_size - pos) : 0;
  if (max_bytes && left > max_bytes)
    return lp_error(LEAP_ERR_FORMAT, "%s: the %s is %llu bytes, more than the %zu a %s may have", path, what,
                    (unsigned long long)left, max_bytes, what);
  if (left > SIZE_MAX - 1) return lp_error(LEAP_ERR_UNSUPPORTED, "%s: the %s is too large", path, what);
  char *buf = lp_malloc((size_t)left + 1);
  if (!buf) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory for the %llu-byte %s", path, (unsigned long long)left,
                            what);
  size_t n = 0;
  for (;;) {
    /* One byte more than expected detects a file that grew while read. */
    const size_t want = (size_t)left + 1 - n;
    const ssize_t k = want ? read(fd, buf + n, want) : 0;
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      const int e = errno;
      free(buf);
      return lp_error(LEAP_ERR_IO, "cannot read the %s %s: %s", what, path, strerror(e));
    }
    if (k == 0) break;
    n += (size_t)k;
    if (n > left) {
      free(buf);
      return lp_error(LEAP_ERR_IO, "%s: the %s grew while it was read", path, what);
    }
  }
  if (n != left) {
    free(buf);
    return lp_error(LEAP_ERR_IO, "%s: the %s shrank while it was read (%zu of %llu bytes)", path, what, n,
                    (unsigned long long)left);
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return LEAP_OK;
}

leap_status lp_file_read_all(const char *path, const char *what, size_t max_bytes, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  int fd;
  uint64_t size;
  leap_status s = lp_file_open_regular(path, what, 0, max_bytes, &fd, &size);
  if (s != LEAP_OK) return s;
  s = lp_file_read_fd(fd, path, what, max_bytes, out, len);
  close(fd);
  return s;
}
