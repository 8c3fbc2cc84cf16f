/* noise_shuffle.c - FreeNoise's rule (leap_block_noise_shuffle): long videos
 * start from noise that repeats, shuffled, with the window's period, so the
 * model sees familiar noise statistics in every window while frames do not
 * copy each other exactly. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "leap.h"
#include "noise_shuffle.h"
#include "sampler.h"

void lp_shuffle_rng(lp_rng *rng, uint64_t seed) { lp_rng_seed(rng, seed, 0x5f4e); }

void lp_shuffle_perm(lp_rng *rng, int *perm, int n) {
  for (int k = 0; k < n; k++) perm[k] = k;
  for (int k = n - 1; k > 0; k--) {
    int j = (int)(lp_rng_uniform(rng) * (k + 1));
    if (j > k) j = k;
    int t = perm[k];
    perm[k] = perm[j];
    perm[j] = t;
  }
}

leap_status leap_block_noise_shuffle(float *noise, int frames, size_t per_frame, int window,
                                     int stride, uint64_t seed) {
  if (!noise || frames < 1 || per_frame < 1 || window < 1 || stride < 1 || stride > window)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "noise shuffle: frames %d, window %d and stride %d must be >= 1 with "
                    "stride <= window",
                    frames, window, stride);
  int *perm = lp_malloc((size_t)stride * sizeof *perm);
  if (!perm) return lp_error(LEAP_ERR_NOMEM, "noise shuffle: out of memory");
  lp_rng rng;
  lp_shuffle_rng(&rng, seed);
  for (int f = window; f < frames; f += stride) {
    const int n = frames - f < stride ? frames - f : stride;
    /* a permutation of the first n of the source group's frames */
    lp_shuffle_perm(&rng, perm, n);
    /* sources [f - window, f - window + n) end at or before f: no overlap */
    for (int k = 0; k < n; k++)
      memcpy(noise + (size_t)(f + k) * per_frame, noise + (size_t)(f - window + perm[k]) * per_frame,
             per_frame * sizeof(float));
  }
  free(perm);
  return LEAP_OK;
}
