/* arch.h - the model interface: what an architecture is to leap.
 *
 * A leap_model is an architecture (a table of operations, one row of the
 * table in arch_table.c) plus its weights and an opaque runtime, as a ggml
 * backend is an interface plus a context. The architecture's weights are
 * one list (weights.h) built from its description; the generic code in
 * model.c loads, frees and hashes them through that list, so an
 * architecture only says how its tensors are named and shaped and how its
 * forward pass runs on them.
 *
 * Adding an architecture (a video DiT, say): one file with an lp_model_arch
 * and its weight list builder (a role enum of its own, lp_weights_add per
 * tensor in state-dict order, block = -1 or the block index), one row in
 * arch_table.c, and an extern below. Its files name it in __metadata__
 * "arch". describe fills the frame geometry (height, width,
 * frames_per_chunk, clip_frames); create binds the loaded buffers to its
 * runtime by role (arch_dit.c's slot table) and owns what else it needs (a
 * KV cache, per-chunk timestep features); the forward ops take
 * x [n, F, C, H, W] and t [n, F]; id_description hashes whatever describes
 * it (frames included). Load, free, leap_model_id, leap_model_weight and
 * `leap info` then work unchanged; step (leap_sample's one-program step,
 * one timestep for all rows) may stay NULL, which makes leap_sample say
 * so. */
#ifndef LEAP_ARCH_H
#define LEAP_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "context.h"
#include "leap.h"
#include "prog_cache.h"
#include "safetensors.h"
#include "weights.h"

/* One sampling step as one program (see models/dit_step.h): n images (x2
 * rows with guidance, conditional first), the caller's cache ops before
 * and after the block stack, whether the block stack runs. */
typedef struct lp_model_step {
  int images;                   /* n images */
  int guided;                   /* 2n rows, conditional first; else n */
  float cfg;                    /* guidance scale (guided only) */
  const lp_op *before; int nbefore; /* after the embedding, before the blocks */
  int blocks;                   /* run the block stack */
  const lp_op *after; int nafter;   /* after the blocks */
} lp_model_step;

/* The one-program sampling step of an architecture (what leap_sample
 * runs); see models/dit_step.h for the contract of each. */
typedef struct lp_model_step_ops {
  leap_status (*prepare)(void *impl, const lp_model_step *st, leap_tensor **hidden);
  leap_status (*run)(void *impl, lp_prog_cache *pc, const lp_model_step *st, const float *x, float t,
                     const int32_t *labels, float *out);
  leap_status (*embed)(void *impl, lp_prog_cache *pc, const lp_model_step *st, const float *x, float t,
                       const int32_t *labels);
  leap_status (*finish)(void *impl, lp_prog_cache *pc, const lp_model_step *st, float *out);
} lp_model_step_ops;

typedef struct lp_model_arch {
  const char *name; /* __metadata__ "arch" and leap_model_info.arch */
  /* The description from the file's __metadata__ and tensor shapes, each
   * checked against the other; frame geometry included (1 frame for an
   * image model). */
  leap_status (*describe)(const lp_st_file *f, leap_model_info *info);
  /* The weight list of a description (the trainer builds it from its own
   * config the same way). */
  leap_status (*weights)(const leap_model_info *info, lp_weight_list *out);
  /* The runtime over the loaded weights: bufs[i] holds weights->w[i] as
   * float32 on ctx's backend (owned by the model, not the runtime). */
  leap_status (*create)(leap_context *ctx, const leap_model_info *info, const lp_weight_list *weights,
                        lp_buf *const *bufs, void **impl);
  void (*destroy)(void *impl);
  /* The description bytes leap_model_id hashes before the weights; returns
   * the length (<= cap). */
  size_t (*id_description)(const leap_model_info *info, unsigned char *buf, size_t cap);
  /* The forward pass in stages (leap_model_embed / _blocks / _final /
   * _hidden; model.c checks the arguments first): x [n, F, C, H, W],
   * t [n, F], y [n]. An architecture that cannot be split leaves them NULL
   * and gives forward instead (the staged calls are then
   * LEAP_ERR_UNSUPPORTED); one that has the stages may leave forward NULL. */
  leap_status (*embed)(void *impl, int n, const float *x, const float *t, const int32_t *y);
  leap_status (*blocks)(void *impl);
  leap_status (*final)(void *impl, float *out);
  leap_status (*hidden)(void *impl, leap_tensor **h);
  leap_status (*forward)(void *impl, int n, const float *x, const float *t, const int32_t *y, float *out);
  /* leap_model_forward_frames: x [n, frames, ...] of any frames >= 1 (a
   * video model's clip of any length; model.c has checked t and y). NULL:
   * the architecture takes only clip_frames frames (leap_model_forward). */
  leap_status (*forward_frames)(void *impl, int n, int frames, const float *x, const float *t, const int32_t *y,
                                float *out);
  /* leap_sample's step; NULL when the architecture has none. */
  const lp_model_step_ops *step;
} lp_model_arch;

/* The architecture named name; NULL = "dit" (files from before the "arch"
 * key). LEAP_ERR_UNSUPPORTED naming the known ones if there is none (the
 * message starts with `where`, e.g. the file's path). */
leap_status lp_model_arch_find(const char *where, const char *name, const lp_model_arch **out);

extern const lp_model_arch lp_arch_dit;
extern const lp_model_arch lp_arch_video_dit;

#endif
