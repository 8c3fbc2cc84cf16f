/* video_tiles.c - see video_tiles.h. */
#include "video_tiles.h"

#include <stddef.h>
#include <string.h>

#include "png_grid.h"

/* Mid-gray between tiles, as in the PNG grids. */
enum { GAP_VALUE = 128 };

void video_tiles_init(video_tiles *t, int n, int c, int h, int w) {
  int rows;
  t->n = n, t->c = c, t->h = h, t->w = w;
  png_grid_layout(n, h, w, &t->cols, &rows, &t->width, &t->height);
}

/* [-1, 1] -> 0..255, rounded and clamped (NaN -> 0), as png_grid.c maps. */
static uint8_t to_byte(float v) {
  const float x = (v + 1.0f) * 127.5f + 0.5f;
  if (!(x > 0.0f)) return 0;
  if (x >= 255.0f) return 255;
  return (uint8_t)x;
}

void video_tiles_frame(const video_tiles *t, const float *video, int count, int j, uint8_t *picture) {
  const int c = t->c, h = t->h, w = t->w;
  const size_t plane = (size_t)h * w, row_bytes = (size_t)t->width * c;
  memset(picture, GAP_VALUE, row_bytes * (size_t)t->height);
  for (int i = 0; i < t->n; i++) {
    const float *src = video + ((size_t)i * count + j) * c * plane;
    const int x0 = (i % t->cols) * (w + PNG_GRID_GAP), y0 = (i / t->cols) * (h + PNG_GRID_GAP);
    for (int y = 0; y < h; y++) {
      uint8_t *dst = picture + (size_t)(y0 + y) * row_bytes + (size_t)x0 * c;
      for (int x = 0; x < w; x++)
        for (int ch = 0; ch < c; ch++) dst[x * c + ch] = to_byte(src[ch * plane + (size_t)y * w + x]);
    }
  }
}
