/* video_noise.h - the initial noise of leap_video_sample, drawn chunk by
 * chunk as chunks start, in flat memory: the same numbers as
 * leap_noise_fill(seed, n, frames * per_frame) followed, when shuffling, by
 * leap_block_noise_shuffle on each clip b with seed + b. */
#ifndef LEAP_VIDEO_NOISE_H
#define LEAP_VIDEO_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "leap.h"

typedef struct lp_video_noise lp_video_noise;

/* shuffle_window 0: no shuffling; else 1 <= shuffle_stride <= shuffle_window.
 * Memory: n clips of shuffle_window + shuffle_stride frames (none without
 * shuffling), whatever the clip's length. */
leap_status lp_video_noise_create(uint64_t seed, int n, int frames, size_t per_frame, int shuffle_window,
                                  int shuffle_stride, lp_video_noise **out);
void lp_video_noise_destroy(lp_video_noise *z);
/* The next `count` frames of every clip, in order: out [n, count, per_frame]. */
leap_status lp_video_noise_next(lp_video_noise *z, int count, float *out);

#endif
