/* video_noise.c - see video_noise.h. Each clip's normals come from its own
 * stream of the seed (lp_noise_fill's rule), drawn in frame order; with
 * shuffling, a frame at or past the window copies a frame of the group a
 * window earlier, which a ring of the last window + stride frames still
 * holds (the oldest source of a group is window + stride - 1 frames back). */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "noise_shuffle.h"
#include "sampler.h"
#include "video_noise.h"

struct lp_video_noise {
  int n, frames, window, stride, ring; /* ring: frames kept per clip */
  size_t per;
  int next;         /* the next frame to draw */
  lp_rng *normal;   /* [n] */
  lp_rng *shuffle;  /* [n] */
  int *perm;        /* [n, stride]: each clip's current group */
  float *kept;      /* [n, ring, per] */
};

leap_status lp_video_noise_create(uint64_t seed, int n, int frames, size_t per_frame, int shuffle_window,
                                  int shuffle_stride, lp_video_noise **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "video noise: out is NULL");
  *out = NULL;
  if (n < 1 || frames < 1 || per_frame < 1 || shuffle_window < 0 ||
      (shuffle_window > 0 && (shuffle_stride < 1 || shuffle_stride > shuffle_window)))
    return lp_error(LEAP_ERR_INVALID_ARG, "video noise: n %d, frames %d, shuffle window %d and stride %d", n, frames,
                    shuffle_window, shuffle_stride);
  lp_video_noise *z = lp_calloc(1, sizeof *z);
  if (!z) return lp_error(LEAP_ERR_NOMEM, "video noise: out of memory");
  z->n = n, z->frames = frames, z->per = per_frame;
  z->window = shuffle_window, z->stride = shuffle_window ? shuffle_stride : 0;
  z->ring = shuffle_window ? shuffle_window + shuffle_stride : 0;
  z->normal = lp_calloc((size_t)n, sizeof *z->normal);
  z->shuffle = lp_calloc((size_t)n, sizeof *z->shuffle);
  if (z->ring) {
    z->perm = lp_malloc((size_t)n * z->stride * sizeof *z->perm);
    if ((size_t)n * z->ring > SIZE_MAX / sizeof(float) / per_frame) {
      lp_video_noise_destroy(z);
      return lp_error(LEAP_ERR_INVALID_ARG, "video noise: shuffle window %d too large", shuffle_window);
    }
    z->kept = lp_malloc((size_t)n * z->ring * per_frame * sizeof *z->kept);
  }
  if (!z->normal || !z->shuffle || (z->ring && (!z->perm || !z->kept))) {
    lp_video_noise_destroy(z);
    return lp_error(LEAP_ERR_NOMEM, "video noise: out of memory");
  }
  for (int b = 0; b < n; b++) {
    lp_rng_seed(&z->normal[b], seed, (uint64_t)b);
    lp_shuffle_rng(&z->shuffle[b], seed + (uint64_t)b);
  }
  *out = z;
  return LEAP_OK;
}

void lp_video_noise_destroy(lp_video_noise *z) {
  if (!z) return;
  free(z->normal);
  free(z->shuffle);
  free(z->perm);
  free(z->kept);
  free(z);
}

leap_status lp_video_noise_next(lp_video_noise *z, int count, float *out) {
  if (!z || !out || count < 1 || count > z->frames - z->next)
    return lp_error(LEAP_ERR_INVALID_ARG, "video noise: %d frames from frame %d of %d", count, z ? z->next : 0,
                    z ? z->frames : 0);
  for (int b = 0; b < z->n; b++)
    for (int k = 0; k < count; k++) {
      const int f = z->next + k;
      float *o = out + ((size_t)b * count + k) * z->per;
      if (!z->window || f < z->window) {
        for (size_t e = 0; e < z->per; e++) o[e] = (float)lp_rng_normal(&z->normal[b]);
      } else {
        const int g = f - (f - z->window) % z->stride; /* the group's first frame */
        int *perm = z->perm + (size_t)b * z->stride;
        if (f == g) lp_shuffle_perm(&z->shuffle[b], perm, z->frames - g < z->stride ? z->frames - g : z->stride);
        const int src = g - z->window + perm[f - g];
        memcpy(o, z->kept + ((size_t)b * z->ring + src % z->ring) * z->per, z->per * sizeof(float));
      }
      if (z->ring) memcpy(z->kept + ((size_t)b * z->ring + f % z->ring) * z->per, o, z->per * sizeof(float));
    }
  z->next += count;
  return LEAP_OK;
}
