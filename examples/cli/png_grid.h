/* png_grid.h - a batch of images as one PNG: tiled in a near-square grid
 * with a 2-pixel gap, pixels mapped from [-1, 1] to 0..255 (clamped);
 * 1 channel is written as grayscale, 3 as RGB.
 *
 * Writing follows core/output.h's rule: the output is never an input (by
 * identity) nor an existing file other than a PNG leap wrote (tEXt
 * Software = leap, which every grid carries); the PNG goes to a unique
 * temporary in the destination's folder, renamed over the destination only
 * when complete, so a failed or interrupted run never leaves a partial
 * image. Callers that write several files take the written, not yet landed
 * output (png_grid_write_unit) and land them together (lp_out_commit_all). */
#ifndef LEAP_CLI_PNG_GRID_H
#define LEAP_CLI_PNG_GRID_H

#include <stddef.h>

#include "leap.h"
#include "output.h"

enum { PNG_GRID_GAP = 2 };

/* Grid geometry for n tiles of h x w: cols = ceil(sqrt(n)). */
void png_grid_layout(int n, int h, int w, int *cols, int *rows, int *width,
                     int *height);

/* Writes images [n, c, h, w] (c = 1 or 3) to a temporary for path (a job
 * reading inputs[0..ninputs)) and returns it unlanded in *out. On failure
 * nothing is left behind. */
leap_status png_grid_write_unit(const char *path, const float *images, int n, int c, int h, int w,
                                const char *const *inputs, int ninputs, lp_out **out);
/* The same with cols tiles per row (rows = ceil(n / cols)) instead of the
 * near-square layout: `leap video`'s frame strip, a clip per row. */
leap_status png_grid_write_cols_unit(const char *path, const float *images, int n, int cols, int c, int h,
                                     int w, const char *const *inputs, int ninputs, lp_out **out);
/* Writes and lands. */
leap_status png_grid_write(const char *path, const float *images, int n, int c, int h, int w,
                           const char *const *inputs, int ninputs);

#endif
