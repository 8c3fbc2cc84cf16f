/* video_tiles.h - one frame of n clips as one picture: the clips' frames
 * tiled like `leap sample`'s grid (png_grid_layout: near-square, 2-pixel
 * mid-gray gaps), pixels mapped from [-1, 1] to 0..255 as in the PNGs, into
 * the packed 8-bit gray or RGB bytes a video_file takes. */
#ifndef LEAP_CLI_VIDEO_TILES_H
#define LEAP_CLI_VIDEO_TILES_H

#include <stdint.h>

typedef struct video_tiles {
  int n, c, h, w;       /* clips and the geometry of one frame */
  int cols;             /* tiles per row */
  int width, height;    /* the picture */
} video_tiles;

void video_tiles_init(video_tiles *t, int n, int c, int h, int w);
/* Frame j of video [n, count, c, h, w] (a delivery of leap_video_sample's
 * on_frames) into picture (width * height * c bytes). */
void video_tiles_frame(const video_tiles *t, const float *video, int count, int j, uint8_t *picture);

#endif
