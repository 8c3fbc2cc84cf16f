/* lcsc_copy.c - the plain-copy baseline of leap_lcsc_combine's speed: the
 * same reads (every tensor byte of every input, through the same mmap
 * reader) and the same amount written (to a temporary beside the output,
 * made and registered by core/output.h like the real output's, fsynced,
 * then removed: never landed), without the arithmetic.
 * Reads and writes interleave chunk by chunk, as in the combination, and
 * tensors large enough for the sum to use OpenMP threads are copied by the
 * same threads. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "alloc.h"
#include "file_write.h"
#include "lcsc.h"
#include "output.h"
#include "safetensors.h"

#define COPY_CHUNK ((size_t)4 << 20)
#define PIECE ((size_t)64 << 10) /* per thread, for tensors the sum splits among threads */


leap_status lp_lcsc_copy_baseline(int count, const char *const *paths, const char *out_path, uint64_t out_bytes,
                                  uint64_t *bytes_read, double *seconds) {
  if (count < 1 || !paths || !out_path || !bytes_read || !seconds)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_lcsc_copy_baseline: bad argument");
  const double t0 = lp_now_seconds();
  lp_st_file **files = lp_calloc((size_t)count, sizeof *files);
  unsigned char *buf = lp_malloc(COPY_CHUNK);
  lp_out *o = NULL;
  leap_status s = files && buf ? LEAP_OK : lp_error(LEAP_ERR_NOMEM, "lcsc copy: out of memory");
  if (s == LEAP_OK) s = lp_out_begin(out_path, LP_OUT_COMBINED, paths, count, &o);
  const int fd = lp_out_fd(o);
  const char *tmp = lp_out_temp(o);
  for (int i = 0; i < count && s == LEAP_OK; i++) s = lp_st_open(paths[i], &files[i]);
  uint64_t read = 0, written = 0;
  /* Walk the tensors of the first file; each chunk is read from every input
   * (as the sum does), then a chunk's share of the output is written. */
  const int nt = s == LEAP_OK ? lp_st_count(files[0]) : 0;
  uint64_t total_in = 0;
  for (int t = 0; t < nt; t++) total_in += lp_st_at(files[0], t)->bytes;
  for (int t = 0; t < nt && s == LEAP_OK; t++) {
    const char *name = lp_st_at(files[0], t)->name;
    for (int i = 0; i < count && s == LEAP_OK; i++) {
      const lp_st_tensor *x = lp_st_find(files[i], name);
      if (!x) {
        s = lp_error(LEAP_ERR_FORMAT, "%s: no tensor '%s'", paths[i], name);
        break;
      }
      const int threads = (size_t)x->numel >= LP_LCSC_PARALLEL_MIN; /* as the sum does */
      for (size_t o = 0; o < x->bytes; o += COPY_CHUNK) {
        const size_t n = x->bytes - o < COPY_CHUNK ? x->bytes - o : COPY_CHUNK;
        const unsigned char *from = (const unsigned char *)x->data + o;
        const long pieces = (long)((n + PIECE - 1) / PIECE);
#pragma omp parallel for schedule(static) if (threads)
        for (long p = 0; p < pieces; p++) {
          const size_t at = (size_t)p * PIECE;
          memcpy(buf + at, from + at, n - at < PIECE ? n - at : PIECE);
        }
        read += n;
      }
    }
    /* the output share of this tensor, proportional to its input bytes */
    uint64_t target = total_in ? out_bytes * (read / (uint64_t)count) / total_in : out_bytes;
    if (t == nt - 1) target = out_bytes;
    while (s == LEAP_OK && written < target) {
      size_t n = target - written < COPY_CHUNK ? (size_t)(target - written) : COPY_CHUNK;
      if (lp_out_stop_requested()) s = lp_error(LEAP_ERR_INTERRUPTED, "%s: interrupted", out_path);
      else if (!lp_write_all(fd, buf, n)) s = lp_error(LEAP_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
      written += n;
    }
  }
  if (s == LEAP_OK && fsync(fd) != 0) s = lp_error(LEAP_ERR_IO, "cannot sync %s: %s", tmp, strerror(errno));
  lp_out_abort(o); /* the copy is never landed */
  for (int i = 0; files && i < count; i++) lp_st_close(files[i]);
  free(files);
  free(buf);
  *bytes_read = read;
  *seconds = lp_now_seconds() - t0;
  return s;
}
