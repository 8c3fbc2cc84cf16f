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

leap_status lp_video_sample_stats(leap_model *m, const leap_video_desc *desc, float *out,
                                  lp_video_stats *stats);

#endif
