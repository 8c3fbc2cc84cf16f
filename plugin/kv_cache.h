/* kv_cache.h - a video DiT layer's KV cache and the ops that use it
 * (LP_OP_BLOCK_ATTENTION, LP_OP_KV_APPEND; contracts in backend.h).
 *
 * A clip is generated chunk by chunk: F frames of P tokens each, every
 * chunk denoised at its own noise level. Attention is block-causal (a
 * chunk sees itself and earlier chunks), so once a chunk is finished its
 * keys and values never change: each layer keeps them in one buffer,
 * [B, cap, 2*D] (a row is a token's k then v, heads side by side as in
 * the qkv rows), and the forward over the next chunk reads them instead
 * of recomputing the history. That forward equals the forward over the
 * whole clip under the block-causal mask, restricted to the new chunk.
 *
 * How a host uses it, per layer: lp_kv_cache_init once; for each chunk,
 * the forward's attention is lp_kv_cache_attention_op over the chunk's
 * qkv; when the chunk is finished, run lp_kv_cache_append_op on its qkv
 * (in the chunk's last forward or a separate one) and then
 * lp_kv_cache_advance. Keys are cached as the attention op reads them
 * (after any rotary embedding), so a rotary position never has to be
 * applied twice. */
#ifndef LEAP_KV_CACHE_H
#define LEAP_KV_CACHE_H

#include "backend.h"

typedef struct lp_kv_cache {
  lp_buf *buf;   /* [B, cap, 2*D] floats */
  int B, D, heads;
  int P, F;      /* tokens per frame, frames per chunk */
  int cap;       /* tokens per batch item the buffer holds (whole chunks) */
  int chunks;    /* finished chunks held: rows 0 .. chunks*F*P - 1 of each b */
} lp_kv_cache;

/* A cache for up to max_frames frames (rounded down to whole chunks; at
 * least one chunk). */
leap_status lp_kv_cache_init(lp_kv_cache *c, lp_backend *be, int B, int D, int heads, int P, int F,
                             int max_frames);
void lp_kv_cache_release(lp_kv_cache *c, lp_backend *be);

/* The attention of the newest Tn tokens (whole frames, following the
 * cached chunks) over themselves and the cache: qkv [B, Tn, 3D] in,
 * out [B, Tn, D]. */
leap_status lp_kv_cache_attention_op(const lp_kv_cache *c, lp_view qkv, lp_view out, int Tn, lp_op *op);
/* Slots: a KV policy keeps chunks in any of the cache's cap / (F*P) chunk
 * slots and chooses, per batch item, which of them the new tokens attend
 * (block/video_sample.c). The attention of the newest Tn tokens (whole
 * frames from a chunk start) over themselves and the Nc chunks listed in
 * slots (int32 [B, Nc] on the device, in chunk order); `chunks` is not
 * used. */
leap_status lp_kv_cache_attention_slots_op(const lp_kv_cache *c, lp_view qkv, lp_view out, int Tn, int Nc,
                                           lp_view slots, lp_op *op);
/* Writes batch item b's keys and values of one whole chunk into a slot:
 * rows = the chunk's first qkv row of item b, F*P rows of 3D. */
leap_status lp_kv_cache_write_op(const lp_kv_cache *c, lp_view rows, int b, int slot, lp_op *op);
/* The chunk slots of the cache (cap / (F*P)). */
int lp_kv_cache_slots(const lp_kv_cache *c);

/* Appends the next chunk's keys and values from its qkv rows [B, F*P, 3D];
 * fails when the cache is full. lp_kv_cache_advance counts the chunk once
 * the op has run. */
leap_status lp_kv_cache_append_op(const lp_kv_cache *c, lp_view qkv, lp_op *op);
void lp_kv_cache_advance(lp_kv_cache *c);

/* The shape checks of the two ops, shared by the CPU functions and the
 * Vulkan plans (who: "cpu" or "vulkan", for the message). */
leap_status lp_block_attention_check(const lp_op *op, const char *who);
leap_status lp_kv_append_check(const lp_op *op, const char *who);

#endif /* LEAP_KV_CACHE_H */
