/* data_folder.c - a labelled image folder: ROOT/<label>/<image>.png|jpg.
 * Subfolder names sorted with strcmp become labels 0..K-1; every image must
 * have the size and channel count of the first one (a data set of mixed
 * shapes is an error, not something to resize silently). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* An image file is read whole into memory (at most this many bytes), and
 * its header may not claim more than 16384 pixels a side: stb_image would
 * otherwise size its buffer from the header alone (up to 2^24 a side). */
#define LP_IMAGE_MAX_BYTES (256u << 20)
#define STBI_MAX_DIMENSIONS 16384
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include "stb_image.h"
#include "alloc.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include "dataset.h"
#include "error.h"
#include "file_read.h"

typedef struct name_list {
  char **v;
  int n, cap;
} name_list;

static void names_free(name_list *l) {
  for (int i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dir/name into buf; a path too long for buf is an error, not a silent
 * truncation that would open some other file. */
static leap_status join_path(char *buf, size_t cap, const char *dir,
                             const char *name) {
  int len = snprintf(buf, cap, "%s/%s", dir, name);
  if (len < 0 || (size_t)len >= cap)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s/%s: path too long", dir, name);
  return LEAP_OK;
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_image_name(const char *name) {
  const char *dot = strrchr(name, '.');
  return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
                 strcasecmp(dot, ".jpeg") == 0);
}

/* The sorted entries of DIR: subfolders (want_dirs) or image files. */
static leap_status list_dir(const char *dir, int want_dirs, name_list *out) {
  memset(out, 0, sizeof *out);
  DIR *d = opendir(dir);
  if (!d) return lp_error(LEAP_ERR_IO, "%s: cannot open folder", dir);
  leap_status s = LEAP_OK;
  char path[4096];
  for (struct dirent *e; s == LEAP_OK && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    if ((s = join_path(path, sizeof path, dir, e->d_name)) != LEAP_OK) break;
    if (want_dirs ? !is_dir(path) : (is_dir(path) || !is_image_name(e->d_name)))
      continue;
    if (out->n == out->cap) {
      int cap = out->cap ? 2 * out->cap : 64;
      char **v = lp_realloc(out->v, (size_t)cap * sizeof *v);
      if (!v) {
        s = lp_error(LEAP_ERR_NOMEM, "out of memory");
        break;
      }
      out->v = v;
      out->cap = cap;
    }
    if (!(out->v[out->n] = lp_strdup(e->d_name)))
      s = lp_error(LEAP_ERR_NOMEM, "out of memory");
    else
      out->n++;
  }
  closedir(d);
  if (s != LEAP_OK) {
    names_free(out);
    return s;
  }
  if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_names); /* v is NULL when empty */
  return LEAP_OK;
}

/* Debian 12's stb_image (git 2022-09-08) trusts a JPEG's Huffman table
 * header: 16 code counts whose sum it never bounds, then writes that many
 * symbols into a 256-entry table and code sizes into a 257-entry one (a heap
 * overflow; UBSan: index 257 out of bounds for 'stbi_uc[257]', found by
 * fuzz/fuzz_image_folder). Upstream stb later refuses a sum above 256; until
 * Debian's copy does, every DHT segment is checked here first, walking the
 * markers as stb does (entropy-coded data ends at an 0xFF that is not
 * stuffing (00) or a restart (D0-D7)). Returns 0 for a file to refuse. */
static int jpeg_tables_ok(const unsigned char *b, size_t n) {
  /* stb finds SOI after any number of 0xFF fill bytes, as every marker. */
  size_t i = 0;
  while (i < n && b[i] == 0xFF) i++;
  if (i == 0 || i >= n || b[i] != 0xD8) return 1; /* not a JPEG: stb decides */
  i++;
  while (i < n) {
    if (b[i] != 0xFF) { /* entropy-coded data (or junk): find the next marker */
      i++;
      continue;
    }
    while (i < n && b[i] == 0xFF) i++; /* fill bytes */
    if (i >= n) break;
    const unsigned char m = b[i++];
    if (m == 0x00 || (m >= 0xD0 && m <= 0xD8) || m == 0x01) continue; /* stuffing, RST, SOI, TEM */
    if (m == 0xD9) break;                                               /* EOI */
    if (i + 2 > n) break;
    const size_t len = (size_t)b[i] << 8 | b[i + 1];
    if (len < 2) return 0;
    const size_t end = i + len < n ? i + len : n;
    if (m == 0xC4) { /* DHT: tables of 1 + 16 + sum(counts) bytes, read as
                      * stb reads them: while the declared length lasts, even
                      * past the end of the segment (bytes past the file are 0) */
      size_t t = i + 2;
      for (long left = (long)len - 2; left > 0 && t < n;) {
        size_t codes = 0;
        for (size_t k = t + 1; k < t + 17 && k < n; k++) codes += b[k];
        if (codes > 256) return 0;
        t += 17 + codes;
        left -= 17 + (long)codes;
      }
    }
    i = end; /* after SOS the entropy-coded data follows; the loop skips it */
  }
  return 1;
}

/* stb_image grows its IDAT buffer to the size a chunk header declares
 * before it reads the chunk, so a 73-byte PNG declaring a 1.4 GB chunk made
 * it allocate 1.4 GB (found by fuzz/fuzz_image_folder). Every chunk of a
 * file in memory must fit in the bytes that follow its header; returns 0
 * for a file to refuse (not a PNG: stb decides). */
static int png_chunks_ok(const unsigned char *b, size_t n) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (n < 8 || memcmp(b, sig, 8) != 0) return 1;
  for (size_t i = 8; i + 8 <= n;) {
    const size_t len = (size_t)b[i] << 24 | (size_t)b[i + 1] << 16 | (size_t)b[i + 2] << 8 | b[i + 3];
    if (len > n - (i + 8)) return 0; /* the chunk's data runs past the file */
    if (memcmp(b + i + 4, "IEND", 4) == 0) break;
    i += 8 + len + 4;                 /* header, data, CRC */
  }
  return 1;
}

/* Appends one decoded image (uint8 HWC) as [-1,1] CHW to the growing set. */
static leap_status append_image(lp_dataset *ds, int *cap, const unsigned char *px,
                                int32_t label) {
  const size_t per = (size_t)ds->channels * ds->height * ds->width;
  if (ds->n == *cap) {
    int ncap = *cap ? 2 * *cap : 256;
    float *img = lp_realloc(ds->images, (size_t)ncap * per * sizeof *img);
    if (!img) return lp_error(LEAP_ERR_NOMEM, "out of memory");
    ds->images = img;
    int32_t *lab = lp_realloc(ds->labels, (size_t)ncap * sizeof *lab);
    if (!lab) return lp_error(LEAP_ERR_NOMEM, "out of memory");
    ds->labels = lab;
    *cap = ncap;
  }
  float *dst = ds->images + (size_t)ds->n * per;
  const int C = ds->channels, HW = ds->height * ds->width;
  for (int c = 0; c < C; c++)
    for (int p = 0; p < HW; p++)
      dst[(size_t)c * HW + p] = px[(size_t)p * C + c] * (2.0f / 255.0f) - 1.0f;
  ds->labels[ds->n++] = label;
  return LEAP_OK;
}

static leap_status load_class(const char *dir, int32_t label, lp_dataset *ds,
                              int *cap) {
  name_list files;
  leap_status s = list_dir(dir, 0, &files);
  if (s != LEAP_OK) return s;
  char path[4096];
  for (int i = 0; s == LEAP_OK && i < files.n; i++) {
    if ((s = join_path(path, sizeof path, dir, files.v[i])) != LEAP_OK) break;
    int w, h, c;
    /* Read by leap (a regular file, of bounded size) and decoded from
     * memory: stbi_load would open a FIFO and wait on it. */
    char *bytes;
    size_t len;
    if ((s = lp_file_read_all(path, "image", LP_IMAGE_MAX_BYTES, &bytes, &len)) != LEAP_OK) break;
    if (!jpeg_tables_ok((const unsigned char *)bytes, len)) {
      free(bytes);
      s = lp_error(LEAP_ERR_FORMAT, "%s: cannot decode image (a JPEG Huffman table declares more than 256 codes)",
                   path);
      break;
    }
    if (!png_chunks_ok((const unsigned char *)bytes, len)) {
      free(bytes);
      s = lp_error(LEAP_ERR_FORMAT, "%s: cannot decode image (a PNG chunk declares more bytes than the file holds)",
                   path);
      break;
    }
    unsigned char *px = len <= INT_MAX ? stbi_load_from_memory((const unsigned char *)bytes, (int)len, &w, &h, &c, 0)
                                       : NULL;
    free(bytes);
    if (!px) {
      s = lp_error(LEAP_ERR_FORMAT, "%s: cannot decode image (%s)", path,
                   stbi_failure_reason());
      break;
    }
    if (ds->n == 0 && ds->channels == 0) {
      ds->channels = c;
      ds->height = h;
      ds->width = w;
    } else if (c != ds->channels || h != ds->height || w != ds->width) {
      s = lp_error(LEAP_ERR_FORMAT, "%s: %dx%d with %d channels, but the "
                   "data set's images are %dx%d with %d channels (all images "
                   "must have the same size and channel count)", path, w, h,
                   c, ds->width, ds->height, ds->channels);
    }
    if (s == LEAP_OK) s = append_image(ds, cap, px, label);
    stbi_image_free(px);
  }
  names_free(&files);
  return s;
}

leap_status lp_dataset_load_folder(const char *root, lp_dataset *out) {
  memset(out, 0, sizeof *out);
  if (!is_dir(root))
    return lp_error(LEAP_ERR_IO, "dataset '%s': not fashion-mnist[:test] and "
                    "not a folder", root);
  name_list classes;
  leap_status s = list_dir(root, 1, &classes);
  if (s != LEAP_OK) return s;
  if (classes.n == 0) {
    names_free(&classes);
    return lp_error(LEAP_ERR_FORMAT, "%s: no subfolders (expected one "
                    "subfolder of images per label)", root);
  }
  lp_dataset ds = {.num_classes = classes.n};
  int cap = 0;
  char dir[4096];
  for (int k = 0; s == LEAP_OK && k < classes.n; k++) {
    if ((s = join_path(dir, sizeof dir, root, classes.v[k])) != LEAP_OK) break;
    const int before = ds.n;
    s = load_class(dir, k, &ds, &cap);
    if (s == LEAP_OK && ds.n == before)
      s = lp_error(LEAP_ERR_FORMAT, "%s: no PNG or JPEG images for label %d",
                   dir, k);
  }
  names_free(&classes);
  if (s != LEAP_OK) {
    lp_dataset_free(&ds);
    return s;
  }
  *out = ds;
  return LEAP_OK;
}
