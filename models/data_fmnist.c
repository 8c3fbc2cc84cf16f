/* data_fmnist.c - Fashion-MNIST from Debian's dataset-fashion-mnist: gzip'ed
 * IDX files (big-endian header: magic 0x00000803 images / 0x00000801 labels,
 * then the dimensions, then uint8 data). Every header field is checked, so
 * that a corrupt or truncated copy fails with a message naming the file. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset.h"
#include "alloc.h"
#include "error.h"
#include "file_read.h"

#define FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
enum { FMNIST_SIDE = 28, FMNIST_CLASSES = 10 };

/* Reads exactly len bytes; a short read is a truncated file. */
static leap_status read_exact(gzFile g, const char *path, void *dst,
                              size_t len, const char *what) {
  unsigned char *p = dst;
  while (len > 0) {
    unsigned chunk = len > (1u << 30) ? (1u << 30) : (unsigned)len;
    int got = gzread(g, p, chunk);
    if (got < 0) {
      int errnum = 0;
      const char *msg = gzerror(g, &errnum);
      return lp_error(LEAP_ERR_FORMAT, "%s: corrupt gzip data while reading "
                      "the %s (%s)", path, what, msg);
    }
    if (got == 0)
      return lp_error(LEAP_ERR_FORMAT, "%s: truncated file: the %s ends "
                      "early", path, what);
    p += got;
    len -= (size_t)got;
  }
  return LEAP_OK;
}

static uint32_t be32(const unsigned char *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Opens PATH and reads its IDX header: magic, then ndim dimensions. */
static leap_status open_idx(const char *path, uint32_t magic, int ndim,
                            uint32_t *dims, gzFile *out) {
  *out = NULL;
  struct stat sb;
  if (stat(path, &sb) != 0)
    return lp_error(LEAP_ERR_IO, "%s: cannot open (is the Debian package "
                    "dataset-fashion-mnist installed? install "
                    "dataset-fashion-mnist, or point LEAP_FMNIST_DIR at a "
                    "folder with the IDX files)", path);
  /* Only a regular file (a FIFO would block, /dev/zero never ends). */
  int fd;
  uint64_t size;
  leap_status s = lp_file_open_regular(path, "IDX file", 0, 0, &fd, &size);
  if (s != LEAP_OK) return s;
  gzFile g = gzdopen(fd, "rb");
  if (!g) {
    close(fd);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory opening the IDX file", path);
  }
  unsigned char head[4 * 4];
  s = read_exact(g, path, head, (size_t)(1 + ndim) * 4, "IDX header");
  if (s == LEAP_OK && be32(head) != magic)
    s = lp_error(LEAP_ERR_FORMAT, "%s: not an IDX file of this kind (magic "
                 "0x%08x, expected 0x%08x)", path, be32(head), magic);
  for (int i = 0; s == LEAP_OK && i < ndim; i++) dims[i] = be32(head + 4 * (i + 1));
  if (s != LEAP_OK) {
    gzclose(g);
    return s;
  }
  *out = g;
  return LEAP_OK;
}

/* One more byte past the expected data means the file is not what its
 * header says. */
static leap_status check_end(gzFile g, const char *path) {
  unsigned char extra;
  int got = gzread(g, &extra, 1);
  if (got != 0)
    return lp_error(LEAP_ERR_FORMAT, "%s: %s after the data the header "
                    "announces", path, got > 0 ? "extra bytes" : "corrupt data");
  return LEAP_OK;
}

static leap_status read_labels(const char *path, int expect_n, int32_t **out,
                               int *n_out) {
  gzFile g;
  uint32_t dims[1];
  leap_status s = open_idx(path, 0x00000801u, 1, dims, &g);
  if (s != LEAP_OK) return s;
  if (dims[0] == 0 || dims[0] > 10000000u || (expect_n >= 0 && (int)dims[0] != expect_n)) {
    gzclose(g);
    return lp_error(LEAP_ERR_FORMAT, "%s: %u labels (expected %d)", path,
                    dims[0], expect_n);
  }
  const int n = (int)dims[0];
  unsigned char *raw = lp_malloc((size_t)n);
  int32_t *labels = lp_malloc((size_t)n * sizeof *labels);
  if (!raw || !labels) s = lp_error(LEAP_ERR_NOMEM, "out of memory");
  if (s == LEAP_OK) s = read_exact(g, path, raw, (size_t)n, "label data");
  if (s == LEAP_OK) s = check_end(g, path);
  for (int i = 0; s == LEAP_OK && i < n; i++) {
    if (raw[i] >= FMNIST_CLASSES)
      s = lp_error(LEAP_ERR_FORMAT, "%s: label %d of item %d is not in 0..%d",
                   path, raw[i], i, FMNIST_CLASSES - 1);
    labels[i] = raw[i];
  }
  gzclose(g);
  free(raw);
  if (s != LEAP_OK) {
    free(labels);
    return s;
  }
  *out = labels;
  *n_out = n;
  return LEAP_OK;
}

static leap_status read_images(const char *path, int n, float **out) {
  gzFile g;
  uint32_t dims[3];
  leap_status s = open_idx(path, 0x00000803u, 3, dims, &g);
  if (s != LEAP_OK) return s;
  if ((int)dims[0] != n || dims[1] != FMNIST_SIDE || dims[2] != FMNIST_SIDE) {
    gzclose(g);
    return lp_error(LEAP_ERR_FORMAT, "%s: images [%u, %u, %u], expected "
                    "[%d, %d, %d] to match the labels", path, dims[0],
                    dims[1], dims[2], n, FMNIST_SIDE, FMNIST_SIDE);
  }
  /* Read in chunks, the buffer growing only as data actually arrives: the
   * count comes from the labels, and gzip data can claim far more than the
   * compressed file holds. */
  const size_t per = (size_t)FMNIST_SIDE * FMNIST_SIDE, chunk = 4096;
  unsigned char *raw = lp_malloc(chunk * per);
  float *img = NULL;
  if (!raw) s = lp_error(LEAP_ERR_NOMEM, "out of memory");
  for (size_t done = 0; s == LEAP_OK && done < (size_t)n;) {
    const size_t k = (size_t)n - done < chunk ? (size_t)n - done : chunk;
    s = read_exact(g, path, raw, k * per, "image data");
    float *grown = s == LEAP_OK ? lp_realloc(img, (done + k) * per * sizeof *img) : NULL;
    if (s == LEAP_OK && !grown) s = lp_error(LEAP_ERR_NOMEM, "out of memory");
    if (s != LEAP_OK) break;
    img = grown;
    /* uint8 0..255 -> [-1, 1], the convention of the DiT (DESIGN.md). */
    for (size_t q = 0; q < k * per; q++) img[done * per + q] = raw[q] * (2.0f / 255.0f) - 1.0f;
    done += k;
  }
  if (s == LEAP_OK) s = check_end(g, path);
  gzclose(g);
  free(raw);
  if (s != LEAP_OK) {
    free(img);
    return s;
  }
  *out = img;
  return LEAP_OK;
}

leap_status lp_dataset_load_fmnist(const char *dir, int test, lp_dataset *out) {
  memset(out, 0, sizeof *out);
  if (!dir) {
    const char *env = getenv("LEAP_FMNIST_DIR");
    dir = env && env[0] ? env : FMNIST_DEFAULT_DIR;
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return lp_error(LEAP_ERR_IO, "Fashion-MNIST folder '%s' not found: install "
                    "dataset-fashion-mnist (apt-get install "
                    "dataset-fashion-mnist) or set LEAP_FMNIST_DIR", dir);
  const char *prefix = test ? "t10k" : "train";
  const int expect = test ? 10000 : 60000;
  char lpath[4096], ipath[4096];
  if (strlen(dir) > sizeof lpath - 64)
    return lp_error(LEAP_ERR_INVALID_ARG, "Fashion-MNIST folder '%s': path "
                    "too long", dir);
  snprintf(lpath, sizeof lpath, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
  snprintf(ipath, sizeof ipath, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
  return lp_dataset_load_idx(lpath, ipath, expect, out);
}

leap_status lp_dataset_load_idx(const char *lpath, const char *ipath, int expect, lp_dataset *out) {
  memset(out, 0, sizeof *out);
  int32_t *labels = NULL;
  float *images = NULL;
  int n = 0;
  leap_status s = read_labels(lpath, expect, &labels, &n);
  if (s == LEAP_OK) s = read_images(ipath, n, &images);
  if (s != LEAP_OK) {
    free(labels);
    return s;
  }
  *out = (lp_dataset){.n = n, .channels = 1, .height = FMNIST_SIDE,
                      .width = FMNIST_SIDE, .num_classes = FMNIST_CLASSES,
                      .images = images, .labels = labels};
  return LEAP_OK;
}

void lp_dataset_free(lp_dataset *d) {
  if (!d) return;
  free(d->images);
  free(d->labels);
  memset(d, 0, sizeof *d);
}

leap_status lp_dataset_load(const char *spec, lp_dataset *out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_dataset_load: out is NULL");
  memset(out, 0, sizeof *out);
  if (!spec || !spec[0])
    return lp_error(LEAP_ERR_INVALID_ARG, "dataset: empty spec (expected "
                    "fashion-mnist, fashion-mnist:test or a folder)");
  if (strcmp(spec, "fashion-mnist") == 0 || strcmp(spec, "fashion-mnist:train") == 0)
    return lp_dataset_load_fmnist(NULL, 0, out);
  if (strcmp(spec, "fashion-mnist:test") == 0)
    return lp_dataset_load_fmnist(NULL, 1, out);
  if (strncmp(spec, "fashion-mnist:", 14) == 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "dataset '%s': the split must be "
                    "train or test", spec);
  return lp_dataset_load_folder(spec, out);
}
