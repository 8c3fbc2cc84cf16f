/* block_schedule.c - chunked noise schedules (leap_block_schedule_*).
 *
 * Every family is one rule for when each chunk starts; chunk i then takes
 * its steps 0..steps-1 on the `steps` iterations from start[i] on, one a
 * iteration. That makes "every chunk takes every step of its schedule
 * exactly once, in order" true by construction for every family, and the
 * families differ only in their start rows:
 *   synchronous     start[i] = 0
 *   autoregressive  start[i] = i * steps
 *   pyramid         start[i] = i * ar_step            (SkyReels-V2, Diffusion Forcing)
 *   pipelined       start[i] = max(start[i-1] + lag, start[i-window] + steps)  (MAGI-1)
 * with ar_step and lag capped at steps (a larger gap would leave rows on
 * which no chunk is denoised; at steps both are the autoregressive family).
 * A chunk that finished on row r is run clean once on row r + 1 (kv_write)
 * when a later chunk is still being denoised then, and from then on it is
 * history: the window begins after it. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "leap.h"
#include "struct_size.h"

struct leap_block_schedule {
  leap_block_schedule_desc d;
  int chunks, rows;
  int *start; /* [chunks] */
};

leap_block_schedule_desc leap_block_schedule_desc_default(void) {
  leap_block_schedule_desc d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.frames = 16;
  d.frames_per_chunk = 4;
  d.steps = 50;
  d.family = LEAP_BLOCK_SYNCHRONOUS;
  d.ar_step = 5;
  d.window = 4;
  d.lag = 8;
  return d;
}

static leap_status check(const leap_block_schedule_desc *d) {
  if (d->frames < 1 || d->frames > (1 << 24) || d->frames_per_chunk < 1 || d->steps < 1 ||
      d->steps > (1 << 20))
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "block schedule: frames %d, frames per chunk %d and steps %d must be >= 1 "
                    "(frames <= 2^24, steps <= 2^20)",
                    d->frames, d->frames_per_chunk, d->steps);
  switch (d->family) {
  case LEAP_BLOCK_SYNCHRONOUS:
  case LEAP_BLOCK_AUTOREGRESSIVE: return LEAP_OK;
  case LEAP_BLOCK_PYRAMID:
    if (d->ar_step < 0 || d->ar_step > (1 << 20))
      return lp_error(LEAP_ERR_INVALID_ARG, "block schedule: ar_step %d is outside 0..2^20",
                      d->ar_step);
    return LEAP_OK;
  case LEAP_BLOCK_PIPELINED:
    if (d->window < 1 || d->lag < 1 || d->lag > (1 << 20))
      return lp_error(LEAP_ERR_INVALID_ARG,
                      "block schedule: window %d and lag %d must be >= 1 (lag <= 2^20)", d->window,
                      d->lag);
    return LEAP_OK;
  }
  return lp_error(LEAP_ERR_INVALID_ARG, "block schedule: unknown family %d", (int)d->family);
}

leap_status leap_block_schedule_create(const leap_block_schedule_desc *desc,
                                       leap_block_schedule **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "block schedule: out is NULL");
  *out = NULL;
  if (!desc) return lp_error(LEAP_ERR_INVALID_ARG, "block schedule: desc is NULL");
  const size_t need = offsetof(leap_block_schedule_desc, lag) + sizeof desc->lag;
  if (desc->struct_size < need)
    return lp_error(LEAP_ERR_INVALID_ARG, "block schedule: struct_size %u is too small",
                    (unsigned)desc->struct_size);
  leap_block_schedule_desc d = leap_block_schedule_desc_default();
  leap_status st = lp_struct_in(&d, sizeof d, desc, "block schedule desc");
  if (st == LEAP_OK) st = check(&d);
  if (st) return st;
  leap_block_schedule *s = lp_calloc(1, sizeof *s);
  if (!s) return lp_error(LEAP_ERR_NOMEM, "block schedule: out of memory");
  s->d = d;
  s->chunks = (d.frames + d.frames_per_chunk - 1) / d.frames_per_chunk;
  s->start = lp_malloc((size_t)s->chunks * sizeof *s->start);
  if (!s->start) {
    const int chunks = s->chunks;
    free(s);
    return lp_error(LEAP_ERR_NOMEM, "block schedule: out of memory (%d chunks)", chunks);
  }
  int64_t last = 0;
  for (int i = 0; i < s->chunks; i++) {
    int64_t st0 = 0;
    switch (d.family) {
    case LEAP_BLOCK_SYNCHRONOUS: st0 = 0; break;
    case LEAP_BLOCK_AUTOREGRESSIVE: st0 = (int64_t)i * d.steps; break;
    case LEAP_BLOCK_PYRAMID: st0 = (int64_t)i * (d.ar_step < d.steps ? d.ar_step : d.steps); break;
    case LEAP_BLOCK_PIPELINED:
      st0 = i ? s->start[i - 1] + (int64_t)(d.lag < d.steps ? d.lag : d.steps) : 0;
      if (i >= d.window && s->start[i - d.window] + (int64_t)d.steps > st0)
        st0 = s->start[i - d.window] + (int64_t)d.steps;
      break;
    }
    if (st0 + d.steps > 0x7fffffff) {
      leap_block_schedule_destroy(s);
      return lp_error(LEAP_ERR_INVALID_ARG, "block schedule: more than 2^31 iterations");
    }
    s->start[i] = (int)st0;
    if (st0 + d.steps > last) last = st0 + d.steps;
  }
  s->rows = (int)last;
  *out = s;
  return LEAP_OK;
}

void leap_block_schedule_destroy(leap_block_schedule *s) {
  if (!s) return;
  free(s->start);
  free(s);
}

int leap_block_schedule_chunks(const leap_block_schedule *s) { return s ? s->chunks : 0; }

int leap_block_schedule_iterations(const leap_block_schedule *s) { return s ? s->rows : 0; }

leap_status leap_block_schedule_chunk_frames(const leap_block_schedule *s, int chunk, int *first,
                                             int *count) {
  if (!s || !first || !count || chunk < 0 || chunk >= s->chunks)
    return lp_error(LEAP_ERR_INVALID_ARG, "block schedule: chunk %d is outside 0..%d", chunk,
                    s ? s->chunks - 1 : -1);
  *first = chunk * s->d.frames_per_chunk;
  *count = s->d.frames - *first < s->d.frames_per_chunk ? s->d.frames - *first : s->d.frames_per_chunk;
  return LEAP_OK;
}

leap_status leap_block_schedule_get(const leap_block_schedule *s, int r, leap_block_iteration *out) {
  if (!s || !out) return lp_error(LEAP_ERR_INVALID_ARG, "block schedule: NULL argument");
  if (out->struct_size < offsetof(leap_block_iteration, kv_write) + sizeof out->kv_write)
    return lp_error(LEAP_ERR_INVALID_ARG, "block schedule: iteration struct_size %u is too small",
                    (unsigned)out->struct_size);
  if (!out->step || !out->update || !out->kv_write)
    return lp_error(LEAP_ERR_INVALID_ARG, "block schedule: the iteration's arrays are NULL");
  if (r < 0 || r >= s->rows)
    return lp_error(LEAP_ERR_INVALID_ARG, "block schedule: iteration %d is outside 0..%d", r,
                    s->rows - 1);
  const int K = s->d.steps;
  int begin = s->chunks, end = 0, updated = 0;
  for (int i = 0; i < s->chunks; i++) {
    const int k = r - s->start[i]; /* steps this chunk has taken before row r */
    out->step[i] = k < 0 ? 0 : k > K ? K : k;
    out->update[i] = k >= 0 && k < K;
    /* finished on row r - 1, and a later chunk is still denoised on row r */
    out->kv_write[i] = 0;
    if (k == K)
      for (int j = i + 1; j < s->chunks; j++)
        if (r - s->start[j] >= 0 && r - s->start[j] < K) {
          out->kv_write[i] = 1;
          break;
        }
    if (out->update[i] || out->kv_write[i]) {
      if (i < begin) begin = i;
      if (i + 1 > end) end = i + 1;
    }
    updated += out->update[i];
  }
  out->window_begin = begin < end ? begin : 0;
  out->window_end = end;
  out->updated = updated;
  return LEAP_OK;
}
