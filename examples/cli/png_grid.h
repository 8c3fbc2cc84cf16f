/* png_grid.h - a batch of images as one PNG: tiled in a near-square grid
 * with a 2-pixel gap, pixels mapped from [-1, 1] to 0..255 (clamped);
 * 1 channel is written as grayscale, 3 as RGB.
 *
 * Writing is atomic: the PNG goes to a temporary file in the destination's
 * folder, which is renamed over the destination only when complete, so a
 * failed or interrupted run never leaves a partial image. Callers that
 * write several files split the two phases (write_temp, then commit). */
#ifndef LEAP_CLI_PNG_GRID_H
#define LEAP_CLI_PNG_GRID_H

#include <stddef.h>

#include "leap.h"

enum { PNG_GRID_GAP = 2 };

/* Grid geometry for n tiles of h x w: cols = ceil(sqrt(n)). */
void png_grid_layout(int n, int h, int w, int *cols, int *rows, int *width,
                     int *height);

/* Writes images [n, c, h, w] (c = 1 or 3) to a new temporary file next to
 * path and stores its name in tmp. On failure nothing is left behind. */
leap_status png_grid_write_temp(const char *path, const float *images, int n,
                                int c, int h, int w, char *tmp,
                                size_t tmp_size);
/* Renames tmp over path (removing tmp if that fails). */
leap_status png_grid_commit(const char *tmp, const char *path);
/* Both phases. */
leap_status png_grid_write(const char *path, const float *images, int n,
                           int c, int h, int w);

#endif
