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
/* Frees the caches (lp_video_dit_cache_begin makes new ones). */
void lp_video_dit_cache_end(lp_video_dit *v);

/* Block diffusion (block/video_sample.c): the caches of
 * lp_video_dit_cache_begin(v, rows, slots * frames_per_chunk) as `slots`
 * chunk slots per row, filled and attended in any order. A forward over a
 * window of consecutive chunks, each at its own timestep, on top of a
 * chosen set of stored chunks: the window's chunks attend block-causally
 * among themselves and to every listed chunk (rotary positions stay
 * absolute, so the chunks that are not listed simply vanish); its first
 * `writes` chunks (whole, run clean by the caller) have their keys and
 * values written into the slots given. */
typedef struct lp_video_window {
  int rows;                   /* batch rows (clips, times 2 with guidance) */
  int chunk0;                 /* the window's first chunk: frames from chunk0 * frames_per_chunk */
  int frames;                 /* the window's frames: whole chunks but the clip's last */
  const float *x;             /* [rows, frames, C, H, W] */
  const float *t;             /* [rows, frames]: model timesteps, one per chunk */
  const int32_t *y;           /* [rows] */
  int history;                /* stored chunks each row attends */
  const int32_t *slots;       /* [rows, history]: their slots, in chunk order */
  int writes;                 /* the window's first chunks whose keys and values are stored */
  const int32_t *write_slots; /* [rows, writes] */
  float *out;                 /* [rows, frames, out_channels, H, W] */
  /* Block caching (block/video_cache.h). res_out (NULL: none) receives the
   * block stack's residual h_after - h_before per token [rows, frames * P,
   * hidden] (tokens frame-major, P per frame). res_in (NULL: none) skips
   * the block stack: the embedding at this call's x and t plus res_in goes
   * to the final layer at this call's timesteps; it attends nothing and
   * writes nothing (writes must be 0, res_out NULL). */
  float *res_out;
  const float *res_in;
} lp_video_window;
leap_status lp_video_dit_forward_window(lp_video_dit *v, const lp_video_window *w);
/* The chunk slots of the caches (0 before lp_video_dit_cache_begin). */
int lp_video_dit_cache_slots(const lp_video_dit *v);
/* SPARSE's per-chunk summary of the chunk `chunk` stored in `slot` of
 * `row`: its keys before the rotary embedding, averaged over its tokens
 * and every layer: [hidden_size]. */
leap_status lp_video_dit_slot_summary(lp_video_dit *v, int row, int slot, int chunk, float *summary);

#endif
