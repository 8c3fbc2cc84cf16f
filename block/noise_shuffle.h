/* noise_shuffle.h - FreeNoise's permutation draw, shared by
 * leap_block_noise_shuffle (a whole array in place) and the video
 * sampler's streaming noise (block/video_noise.c), so both give the same
 * noise for the same seed. */
#ifndef LEAP_NOISE_SHUFFLE_H
#define LEAP_NOISE_SHUFFLE_H

#include <stdint.h>

#include "sampler.h"

/* The permutations' RNG for a shuffle seed. */
void lp_shuffle_rng(lp_rng *rng, uint64_t seed);
/* The next group's permutation of 0..n-1 (Fisher-Yates). */
void lp_shuffle_perm(lp_rng *rng, int *perm, int n);

#endif
