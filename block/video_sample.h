/* video_sample.h - leap_video_sample with its bookkeeping counted, for the
 * tests and benchmarks (leap.h's leap_video_sample passes stats NULL). */
#ifndef LEAP_VIDEO_SAMPLE_H
#define LEAP_VIDEO_SAMPLE_H

#include "leap.h"

typedef struct lp_video_stats {
  int model_calls;      /* forwards of the model */
  int kv_slots;         /* chunk slots per batch row of the KV store (0: none made) */
  int peak_stored;      /* most chunks one clip's KV policy held at once */
  int peak_attended;    /* most stored chunks one forward attended */
  int peak_live_chunks; /* most chunks whose latents were held at once (in flight, or the
                           recomputed history) */
} lp_video_stats;

/* Block caching inside one run (block/video_cache.h), per forward row
 * (an iteration that runs the model). */
typedef struct lp_video_cache_run {
  int rows;                   /* forward rows of the run (checked) */
  const unsigned char *reuse; /* [rows] 1: reuse the residuals; NULL: compute every row */
  const double *phi;          /* [rows] factor on a reused row's velocity; NULL: 1 */
  /* Calibration, pass 1 (every row computed): dist[j * rows + i] = the rel.
   * L1 error of row j's residuals at row i, for j < i < j + window, where
   * every chunk of row i's window has one at row j and row i writes no keys
   * and values; else INFINITY. */
  double *dist;
  int window;
  /* Calibration, pass 2: on reused rows the blocks also run (measurement
   * only) and phi = <v^, v> / <v^, v^> of the guided velocities, clamped,
   * is written to phi_fit[row] and applied. */
  double *phi_fit;
  int computed, reused;       /* out: forward rows computed and reused */
} lp_video_cache_run;

/* The sampler with an optional block cache (desc's cache_profile is then
 * ignored). */
leap_status lp_video_sample_run(leap_model *m, const leap_video_desc *desc, float *out, lp_video_stats *stats,
                                lp_video_cache_run *cache);

leap_status lp_video_sample_stats(leap_model *m, const leap_video_desc *desc, float *out,
                                  lp_video_stats *stats);

#endif
