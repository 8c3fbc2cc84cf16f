/* arch_video_dit.h - the video DiT (bench/torch_video_dit.py's docstring is
 * its definition) behind the model interface (arch.h: lp_arch_video_dit),
 * and the forward passes leap_model_forward cannot express: a clip of any
 * length (not only the model's clip_frames), and chunk by chunk with each
 * block's KV cache (plugin/kv_cache.h). */
#ifndef LEAP_ARCH_VIDEO_DIT_H
#define LEAP_ARCH_VIDEO_DIT_H

#include <stdint.h>

#include "leap.h"

typedef struct lp_video_dit lp_video_dit;

/* The video DiT runtime of m, or NULL when m is another architecture. */
lp_video_dit *lp_model_video_dit(leap_model *m);

/* The whole clip, block-causal: x [n, frames, C, H, W], t [n, frames]
 * (model timesteps, equal within a chunk), y [n]; out [n, frames,
 * out_channels, H, W]. The last chunk may be short. */
leap_status lp_video_dit_forward(lp_video_dit *v, int n, int frames, const float *x, const float *t,
                                 const int32_t *y, float *out);

/* Chunk by chunk: lp_video_dit_cache_begin empties the caches for n clips
 * of up to max_frames frames. lp_video_dit_forward_chunk runs the next
 * chunk (frames <= frames_per_chunk of it, starting at the cached chunks'
 * end; x [n, frames, C, H, W], t [n] its timestep) over itself and the
 * cache; with append (a whole chunk, finished) its keys and values join
 * the cache for the chunks after it. */
leap_status lp_video_dit_cache_begin(lp_video_dit *v, int n, int max_frames);
leap_status lp_video_dit_forward_chunk(lp_video_dit *v, int frames, const float *x, const float *t,
                                       const int32_t *y, int append, float *out);
/* Frames the caches hold (whole chunks). */
int lp_video_dit_cached_frames(const lp_video_dit *v);

#endif
