/* kv_cache.c - see kv_cache.h. */
#include <math.h>
#include <string.h>

#include "error.h"
#include "kv_cache.h"

leap_status lp_block_attention_check(const lp_op *op, const char *who) {
  const int32_t *i = op->i; /* B, Tn, D, heads, P, F, Nc, cap */
  for (int k = 0; k < 6; k++)
    if (i[k] <= 0)
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: BLOCK_ATTENTION argument i[%d] = %d must be positive", who, k, i[k]);
  if (i[2] % i[3])
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: BLOCK_ATTENTION width %d not divisible by %d heads", who, i[2], i[3]);
  if (i[1] % i[4])
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: BLOCK_ATTENTION %d tokens are not whole frames of %d", who, i[1], i[4]);
  if (i[6] < 0 || i[7] < 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: BLOCK_ATTENTION cached chunks %d and capacity %d must be >= 0", who,
                    i[6], i[7]);
  const int64_t cached = (int64_t)i[6] * i[5] * i[4];
  if (cached > i[7])
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: BLOCK_ATTENTION %d cached chunks (%lld tokens) exceed the cache's %d",
                    who, i[6], (long long)cached, i[7]);
  if (cached > 0 && !op->in[1].buf)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: BLOCK_ATTENTION has %d cached chunks but no cache buffer", who, i[6]);
  if (cached + i[1] > INT32_MAX / 2)
    return lp_error(LEAP_ERR_UNSUPPORTED, "%s: BLOCK_ATTENTION over %lld tokens", who, (long long)(cached + i[1]));
  if (!(op->f[0] > 0))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: BLOCK_ATTENTION scale %g must be positive", who, (double)op->f[0]);
  if (!op->in[0].buf || !op->out.buf)
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: BLOCK_ATTENTION needs in[0] and out", who);
  return LEAP_OK;
}

leap_status lp_kv_append_check(const lp_op *op, const char *who) {
  const int32_t *i = op->i; /* B, Tn, D, cap, start */
  for (int k = 0; k < 4; k++)
    if (i[k] <= 0)
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: KV_APPEND argument i[%d] = %d must be positive", who, k, i[k]);
  if (i[4] < 0 || (int64_t)i[4] + i[1] > i[3])
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: KV_APPEND of %d tokens at row %d past the cache's %d", who, i[1],
                    i[4], i[3]);
  if (!op->in[0].buf || !op->out.buf) return lp_error(LEAP_ERR_INVALID_ARG, "%s: KV_APPEND needs in[0] and out", who);
  return LEAP_OK;
}

leap_status lp_kv_cache_init(lp_kv_cache *c, lp_backend *be, int B, int D, int heads, int P, int F,
                             int max_frames) {
  memset(c, 0, sizeof *c);
  if (B <= 0 || D <= 0 || heads <= 0 || P <= 0 || F <= 0 || max_frames < F || D % heads)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "kv cache: B %d, D %d, heads %d, tokens per frame %d, frames per chunk %d, %d frames "
                    "(need positive sizes, D divisible by heads and at least one chunk)",
                    B, D, heads, P, F, max_frames);
  const int64_t cap = (int64_t)(max_frames / F) * F * P;
  const int64_t floats = (int64_t)B * cap * 2 * D;
  if (cap > INT32_MAX / 2 || floats > (int64_t)(SIZE_MAX / 8))
    return lp_error(LEAP_ERR_UNSUPPORTED, "kv cache: %d frames of %d tokens is too long", max_frames, P);
  leap_status s = be->vt->buf_alloc(be, (size_t)floats * sizeof(float), &c->buf);
  if (s != LEAP_OK) return s;
  c->B = B, c->D = D, c->heads = heads, c->P = P, c->F = F, c->cap = (int)cap;
  return LEAP_OK;
}

void lp_kv_cache_release(lp_kv_cache *c, lp_backend *be) {
  if (c->buf) be->vt->buf_free(be, c->buf);
  memset(c, 0, sizeof *c);
}

leap_status lp_kv_cache_attention_op(const lp_kv_cache *c, lp_view qkv, lp_view out, int Tn, lp_op *op) {
  memset(op, 0, sizeof *op); /* op lists are compared bytewise */
  op->kind = LP_OP_BLOCK_ATTENTION;
  op->in[0] = qkv;
  op->in[1] = (lp_view){c->buf, 0};
  op->out = out;
  const int32_t i[8] = {c->B, Tn, c->D, c->heads, c->P, c->F, c->chunks, c->cap};
  memcpy(op->i, i, sizeof i);
  op->f[0] = (float)(1.0 / sqrt((double)(c->D / c->heads)));
  return lp_block_attention_check(op, "kv cache");
}

leap_status lp_kv_cache_append_op(const lp_kv_cache *c, lp_view qkv, lp_op *op) {
  memset(op, 0, sizeof *op);
  const int chunk = c->F * c->P;
  if ((int64_t)(c->chunks + 1) * chunk > c->cap)
    return lp_error(LEAP_ERR_INVALID_ARG, "kv cache: full (%d chunks of %d frames)", c->chunks, c->F);
  op->kind = LP_OP_KV_APPEND;
  op->in[0] = qkv;
  op->out = (lp_view){c->buf, 0};
  const int32_t i[5] = {c->B, chunk, c->D, c->cap, c->chunks * chunk};
  memcpy(op->i, i, sizeof i);
  return lp_kv_append_check(op, "kv cache");
}

void lp_kv_cache_advance(lp_kv_cache *c) { c->chunks++; }

int lp_kv_cache_slots(const lp_kv_cache *c) { return c->F * c->P > 0 ? c->cap / (c->F * c->P) : 0; }

leap_status lp_kv_cache_attention_slots_op(const lp_kv_cache *c, lp_view qkv, lp_view out, int Tn, int Nc,
                                           lp_view slots, lp_op *op) {
  leap_status s = lp_kv_cache_attention_op(c, qkv, out, Tn, op);
  if (s != LEAP_OK) return s;
  if (Nc < 0 || Nc > lp_kv_cache_slots(c) || (Nc > 0 && !slots.buf))
    return lp_error(LEAP_ERR_INVALID_ARG, "kv cache: %d listed chunks in a cache of %d slots%s", Nc,
                    lp_kv_cache_slots(c), Nc > 0 && !slots.buf ? " without a slot list" : "");
  op->i[6] = Nc;
  op->in[2] = Nc > 0 ? slots : (lp_view){0};
  return lp_block_attention_check(op, "kv cache");
}

leap_status lp_kv_cache_write_op(const lp_kv_cache *c, lp_view rows, int b, int slot, lp_op *op) {
  memset(op, 0, sizeof *op);
  if (b < 0 || b >= c->B || slot < 0 || slot >= lp_kv_cache_slots(c))
    return lp_error(LEAP_ERR_INVALID_ARG, "kv cache: item %d slot %d outside %d items of %d slots", b, slot, c->B,
                    lp_kv_cache_slots(c));
  const int chunk = c->F * c->P;
  op->kind = LP_OP_KV_APPEND;
  op->in[0] = rows;
  op->out = (lp_view){c->buf, (size_t)b * c->cap * 2 * c->D};
  const int32_t i[5] = {1, chunk, c->D, c->cap, slot * chunk};
  memcpy(op->i, i, sizeof i);
  return lp_kv_append_check(op, "kv cache");
}
