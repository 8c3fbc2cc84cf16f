/* dit_step.h - one sampling step of the DiT as one program.
 *
 * leap_model_embed / _blocks / _final are three submissions a step, and
 * the sampler used to copy the batch twice for guidance, upload both
 * copies, read both branches back and combine them on the host. At a
 * large batch on a GPU that host work was about as long as the block stack
 * (what a reused step saves), so caching bought little wall-clock time. A
 * step here uploads the n images once, duplicates them on the device for
 * the unconditional branch, runs embedding, the caller's cache ops, the
 * block stack (unless reused) and the final layer, combines the guided
 * prediction on the device, and reads back n images: one submission. */
#ifndef LEAP_DIT_STEP_H
#define LEAP_DIT_STEP_H

#include "arch.h"
#include "dit.h"
#include "prog_cache.h"

/* The step's shape (arch.h: every architecture's step takes the same). */
typedef lp_model_step lp_dit_step;

/* Plans the batch (st->guided ? 2n : n rows) and returns the hidden state
 * tensor the cache ops work on (valid until the plan changes). */
leap_status lp_dit_step_prepare(lp_dit *m, const lp_dit_step *st, leap_tensor **hidden);

/* The whole step: x [n, C, H, W], t for every row, labels [rows]; out gets
 * [n, Cout, H, W]: cond + cfg (cond - uncond) when guided, else the
 * prediction. The step's programs are kept in pc (NULL: the plan's own). */
leap_status lp_dit_step_run(lp_dit *m, lp_prog_cache *pc, const lp_dit_step *st, const float *x, float t,
                            const int32_t *labels, float *out);

/* The same in two submissions, for a cache that must see the embedded
 * input before it decides (TeaCache): the embedding first, then the rest
 * with the ops decided in between. */
leap_status lp_dit_step_embed(lp_dit *m, lp_prog_cache *pc, const lp_dit_step *st, const float *x, float t,
                              const int32_t *labels);
leap_status lp_dit_step_finish(lp_dit *m, lp_prog_cache *pc, const lp_dit_step *st, float *out);

#endif
