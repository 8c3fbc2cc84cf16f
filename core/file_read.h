/* file_read.h - the one way leap opens a file it reads (models, training
 * states, profiles, search logs, IDX files, images, JSON): only a regular
 * file, checked before it is opened and again after, with a size limit.
 *
 * A FIFO would block open() and read() forever, a device such as /dev/zero
 * never ends, and a directory reads as an error deep inside a parser; all
 * three are refused with a message naming the path before any byte is read
 * or any memory is sized from them. */
#ifndef LEAP_FILE_READ_H
#define LEAP_FILE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "leap.h"

/* Opens path for reading (rw != 0: reading and writing) if it is a regular
 * file of at most max_bytes (0 = no limit). lstat-free: a symlink to a
 * regular file is fine. stat() before open() refuses special files without
 * opening them; the open uses O_NONBLOCK (so a FIFO swapped in between
 * cannot block) and fstat() after it checks the file actually opened.
 * what names the file's kind in messages ("cache profile"). On success *fd
 * is a blocking descriptor (O_CLOEXEC) and *size its length. Errors:
 * LEAP_ERR_IO (missing, unreadable, not a regular file), LEAP_ERR_FORMAT
 * (over max_bytes). */
leap_status lp_file_open_regular(const char *path, const char *what, int rw, uint64_t max_bytes,
                                 int *fd, uint64_t *size);

/* Reads the whole regular file into a new buffer (NUL-terminated, so text
 * parsers may rely on it; *len excludes the NUL), at most max_bytes. A file
 * that changes length while it is read is an error. Free with free(). */
leap_status lp_file_read_all(const char *path, const char *what, size_t max_bytes, char **out,
                             size_t *len);

/* Reads everything left on fd (a descriptor from lp_file_open_regular),
 * at most max_bytes; as lp_file_read_all. */
leap_status lp_file_read_fd(int fd, const char *path, const char *what, size_t max_bytes,
                            char **out, size_t *len);

#endif
