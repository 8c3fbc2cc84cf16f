/* png_grid.c - PNG grid writer over libpng; see png_grid.h. */
#define _POSIX_C_SOURCE 200809L
#include "png_grid.h"
#include "alloc.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "file_write.h"

/* Mid-gray: visible between tiles on both dark and light images. */
enum { GAP_VALUE = 128 };

void png_grid_layout(int n, int h, int w, int *cols, int *rows, int *width,
                     int *height) {
  int c = (int)ceil(sqrt((double)n));
  if (c < 1) c = 1;
  while ((c - 1) * (c - 1) >= n && c > 1) c--; /* guard sqrt rounding */
  while (c * c < n) c++;
  int r = (n + c - 1) / c;
  if (r < 1) r = 1;
  *cols = c;
  *rows = r;
  *width = c * w + (c - 1) * PNG_GRID_GAP;
  *height = r * h + (r - 1) * PNG_GRID_GAP;
}

static png_byte to_byte(float v) {
  float x = (v + 1.0f) * 127.5f + 0.5f;
  if (!(x > 0.0f)) return 0; /* also catches NaN */
  if (x >= 255.0f) return 255;
  return (png_byte)x;
}

/* Fills one output row of the grid. */
static void fill_row(png_byte *row, int y, const float *images, int n, int c,
                     int h, int w, int cols, int width) {
  memset(row, GAP_VALUE, (size_t)width * (size_t)c);
  int tile_y = y / (h + PNG_GRID_GAP), iy = y % (h + PNG_GRID_GAP);
  if (iy >= h) return; /* a gap row */
  for (int tx = 0; tx < cols; tx++) {
    int img = tile_y * cols + tx;
    if (img >= n) break;
    const float *src = images + (size_t)img * c * h * w + (size_t)iy * w;
    png_byte *dst = row + (size_t)tx * (w + PNG_GRID_GAP) * c;
    for (int x = 0; x < w; x++)
      for (int ch = 0; ch < c; ch++)
        dst[x * c + ch] = to_byte(src[(size_t)ch * h * w + x]);
  }
}

static void png_error_fn(png_structp png, png_const_charp msg) {
  /* Keep libpng's reason for the message the caller reports. */
  lp_error(LEAP_ERR_IO, "%s", msg);
  png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

/* libpng writes through lp_write_all (not stdio), so a full disk is seen at
 * the write that hits it, and LEAP_FAIL_WRITE reaches the PNG too. */
static void sink_write(png_structp png, png_bytep data, png_size_t n) {
  const int *fd = png_get_io_ptr(png);
  if (!lp_write_all(*fd, data, n)) png_error(png, strerror(errno));
}

static void sink_flush(png_structp png) { (void)png; }

/* Encodes the grid to fd; returns 0 on success (leaving the reason in
 * leap_last_error otherwise). Separate from the file handling so that
 * setjmp only guards libpng calls. */
static int encode(int *fd, const float *images, int n, int c, int h, int w,
                  png_byte *row, int cols, int width, int height) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL,
                                            png_error_fn, png_warning_fn);
  if (!png) return -1;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return -1;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return -1;
  }
  png_set_write_fn(png, fd, sink_write, sink_flush);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
               c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  /* leap's mark: an existing PNG is replaced only when it carries it
   * (core/output.h) */
  png_text mark;
  memset(&mark, 0, sizeof mark);
  mark.compression = PNG_TEXT_COMPRESSION_NONE;
  mark.key = (png_charp) "Software";
  mark.text = (png_charp) "leap";
  mark.text_length = 4;
  png_set_text(png, info, &mark, 1);
  png_write_info(png, info);
  for (int y = 0; y < height; y++) {
    fill_row(row, y, images, n, c, h, w, cols, width);
    png_write_row(png, row);
  }
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return 0;
}

leap_status png_grid_write_cols_unit(const char *path, const float *images, int n, int cols, int c, int h,
                                     int w, const char *const *inputs, int ninputs, lp_out **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "png_grid_write_cols_unit: out is NULL");
  *out = NULL;
  if (!path || !images || n < 1 || h < 1 || w < 1 || cols < 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: no images to write", path ? path : "(null)");
  if (c != 1 && c != 3)
    return lp_error(LEAP_ERR_UNSUPPORTED, "%s: PNG output needs 1 or 3 channels, the images have %d", path, c);
  if (cols > n) cols = n;
  const int rows = (n + cols - 1) / cols;
  const int width = cols * w + (cols - 1) * PNG_GRID_GAP, height = rows * h + (rows - 1) * PNG_GRID_GAP;
  /* libpng's default limit on either side (PNG_USER_WIDTH_MAX) */
  if ((int64_t)cols * (w + PNG_GRID_GAP) > 1000000 || (int64_t)rows * (h + PNG_GRID_GAP) > 1000000)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: a grid of %d x %d images of %d x %d is too large for a PNG", path,
                    cols, rows, w, h);
  png_byte *row = lp_malloc((size_t)width * (size_t)c);
  if (!row) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  lp_out *o = NULL;
  leap_status s = lp_out_begin(path, LP_OUT_PNG, inputs, ninputs, &o);
  if (s != LEAP_OK) {
    free(row);
    return s;
  }
  int fd = lp_out_fd(o);
  lp_error_clear();
  int failed = encode(&fd, images, n, c, h, w, row, cols, width, height);
  free(row);
  if (failed) {
    char why[256];
    snprintf(why, sizeof why, "%s", leap_last_error());
    lp_out_abort(o);
    return lp_error(LEAP_ERR_IO, "%s: cannot write the PNG: %s", path, why[0] ? why : "libpng error");
  }
  *out = o;
  return LEAP_OK;
}

leap_status png_grid_write_unit(const char *path, const float *images, int n, int c, int h, int w,
                                const char *const *inputs, int ninputs, lp_out **out) {
  int cols, rows, width, height;
  png_grid_layout(n > 0 ? n : 1, h, w, &cols, &rows, &width, &height);
  return png_grid_write_cols_unit(path, images, n, cols, c, h, w, inputs, ninputs, out);
}

leap_status png_grid_write(const char *path, const float *images, int n, int c, int h, int w,
                           const char *const *inputs, int ninputs) {
  lp_out *o = NULL;
  leap_status s = png_grid_write_unit(path, images, n, c, h, w, inputs, ninputs, &o);
  return s == LEAP_OK ? lp_out_commit(o) : s;
}
