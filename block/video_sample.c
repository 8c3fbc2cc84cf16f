/* video_sample.c - leap_video_sample: block diffusion with the video DiT.
 *
 * The block schedule (block_schedule.c) says, per iteration, which chunks
 * the model runs (the window), which of them take an Euler step and which
 * finished chunk runs once clean to write its keys and values. Each
 * iteration is one forward of the window (lp_video_dit_forward_window) at
 * every chunk's own timestep, on top of the stored chunks the KV policy
 * selects; with recompute the whole history runs clean with the window
 * instead (no store: the baseline the store is measured against).
 *
 * KV store: every batch row has `slots` chunk slots per layer; a chunk
 * written clean takes a free slot of each clip, and the slot of the chunk
 * the policy evicts is free again, so the store never holds more than the
 * policy's bound plus the chunk being written. Each clip has its own policy
 * (the rows of one clip, conditional and null-class, share its slots and
 * its selection). SPARSE's summary of a chunk is its mean key before the
 * rotary embedding (over tokens and layers, conditional row:
 * lp_video_dit_slot_summary), and its query is the summary of the newest
 * stored chunk: the chunks being denoised are still mostly noise. The
 * selection is made again whenever a chunk is stored.
 *
 * Memory: the latents of the chunks in flight (a finished chunk stays one
 * more iteration for its clean run), the store, and the shuffled noise's
 * ring; with recompute, also every finished chunk. Frames leave through
 * on_frames and out as each chunk finishes; the bookkeeping is a few
 * integers per chunk. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "arch_video_dit.h"
#include "error.h"
#include "sampler.h"
#include "struct_size.h"
#include "video_cache.h"
#include "video_noise.h"
#include "video_sample.h"

#define WHO "leap_video_sample"

leap_video_desc leap_video_desc_default(void) {
  leap_video_desc d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  const leap_block_schedule_desc b = leap_block_schedule_desc_default();
  d.n = 1;
  d.frames = b.frames;
  d.steps = b.steps;
  d.cfg = 1.0;
  d.shift = 1.0;
  d.family = b.family;
  d.ar_step = b.ar_step;
  d.window = b.window;
  d.lag = b.lag;
  d.kv = leap_kv_policy_desc_default();
  d.cache_adjust = 1;
  return d;
}

/* A chunk whose latents are held: x while it is denoised, clean once
 * finished. */
typedef struct live_chunk {
  int chunk, first, count; /* its frames [first, first + count) */
  int finished_row;        /* -1 while denoised */
  double *x;               /* [n, count, C, H, W] */
  float *clean;            /* [n, count, C, H, W] */
  float *res;              /* block caching: [B, count * P, D], the residual of forward row res_row */
  int res_row;
} live_chunk;

/* Block-cache calibration (pass 1): a computed row's residuals, kept while
 * a later row may reuse them. */
typedef struct res_entry {
  int row;                 /* forward row; -1: empty */
  int c_first, c_end;      /* chunks with a residual (the window less its written chunks) */
  int f_begin, frames;     /* the window's frames */
  float *res;              /* [B, frames * P, D] */
} res_entry;

typedef struct vs {
  leap_video_desc d;
  lp_video_dit *v;
  leap_model_info info;
  lp_video_stats *st;
  float *out;
  int n, B, guided, Fc, K;
  size_t per_in, per_out; /* floats per frame in and out of the model */
  lp_sched sc;
  leap_block_schedule *sched;
  leap_block_iteration it;
  lp_video_noise *noise;
  int32_t *labels;        /* [B] */
  leap_kv_policy **pol;   /* [n] */
  int slots;              /* per row; 0 until the first chunk is stored */
  int *slot_chunk;        /* [n, slots]: the chunk in each slot, -1 free */
  int *sel, nsel;         /* [n, slots]: the chunks attended, per clip */
  int sel_dirty;
  float *query;           /* [n, D] SPARSE: the newest stored chunk's summary */
  live_chunk *live;
  int nlive, caplive;
  int delivered;          /* frames finished and handed out */
  lp_video_cache_run *cr; /* block caching; NULL: none */
  size_t tok;             /* floats of one frame's residual: tokens per frame * hidden */
  int frow;               /* forward rows so far */
  int last_computed;      /* the last computed forward row; -1: none */
  res_entry *ring;        /* [cr->window] pass 1 */
} vs;

static int clip_of(const vs *s, int row) { return row < s->n ? row : row - s->n; }

static live_chunk *find_live(vs *s, int chunk) {
  for (int k = 0; k < s->nlive; k++)
    if (s->live[k].chunk == chunk) return &s->live[k];
  return NULL;
}

static leap_status validate(const vs *s) {
  const leap_video_desc *d = &s->d;
  const leap_model_info *in = &s->info;
  if (in->prediction != LEAP_PRED_FLOW_V)
    return lp_error(LEAP_ERR_UNSUPPORTED, WHO ": the model predicts %s; block diffusion walks the flow schedule (flow_v models)",
                    in->prediction == LEAP_PRED_EPS ? "eps" : "v");
  if (d->n < 1 || d->n > 32768) return lp_error(LEAP_ERR_INVALID_ARG, WHO ": n = %d outside 1..32768", d->n);
  if (d->frames < 1 || d->frames > (1 << 24))
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": frames = %d outside 1..2^24", d->frames);
  if (d->steps < 1 || d->steps > 10000)
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": steps = %d outside 1..10000", d->steps);
  if (!isfinite(d->cfg)) return lp_error(LEAP_ERR_INVALID_ARG, WHO ": cfg = %g is not finite", d->cfg);
  if (!isfinite(d->shift) || d->shift <= 0)
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": shift = %g must be finite and > 0", d->shift);
  if (d->labels && in->num_classes <= 0)
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": labels given, but the model has no classes");
  for (int b = 0; d->labels && b < d->n; b++)
    if (d->labels[b] < 0 || d->labels[b] > in->num_classes)
      return lp_error(LEAP_ERR_INVALID_ARG, WHO ": labels[%d] = %d outside 0..%d", b, d->labels[b], in->num_classes);
  if (d->shuffle_window < 0 || d->shuffle_stride < 0)
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": shuffle_window = %d and shuffle_stride = %d must be >= 0",
                    d->shuffle_window, d->shuffle_stride);
  const int stride = d->shuffle_stride ? d->shuffle_stride : in->frames_per_chunk;
  if (d->shuffle_window > 0 && stride > d->shuffle_window)
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": shuffle_stride = %d exceeds shuffle_window = %d", stride,
                    d->shuffle_window);
  if (d->recompute != 0 && d->recompute != 1)
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": recompute = %d must be 0 or 1", d->recompute);
  if (d->recompute && d->kv.kind != LEAP_KV_KEEP_ALL)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    WHO ": recompute = 1 re-runs the whole history, so kv.kind must be KEEP_ALL (a bounded policy "
                        "needs the cache)");
  if (d->kv.kind == LEAP_KV_SPARSE && d->kv.summary_dim != 0 && d->kv.summary_dim != in->hidden_size)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    WHO ": kv.summary_dim = %d, but a chunk's summary is its mean key: the model's hidden_size %d "
                        "(or 0 for it)",
                    d->kv.summary_dim, in->hidden_size);
  if (d->cache_profile && d->recompute)
    return lp_error(LEAP_ERR_UNSUPPORTED, WHO ": cache_profile with recompute = 1: the block cache reuses the "
                    "window's residuals over the KV store; the recompute baseline runs without it");
  if (d->cache_adjust != 0 && d->cache_adjust != 1)
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": cache_adjust = %d must be 0 or 1", d->cache_adjust);
  if (!s->out && !d->on_frames)
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": out is NULL and there is no on_frames to take the frames");
  return LEAP_OK;
}

/* A component's failure, its message prefixed with this call's name. */
static leap_status relabel(leap_status st) {
  if (st == LEAP_OK) return st;
  char msg[512];
  snprintf(msg, sizeof msg, "%s", leap_last_error());
  return lp_error(st, WHO ": %s", msg);
}

static void vs_free(vs *s) {
  for (int k = 0; k < s->nlive; k++) free(s->live[k].x), free(s->live[k].clean), free(s->live[k].res);
  for (int k = 0; s->ring && k < s->cr->window; k++) free(s->ring[k].res);
  free(s->ring);
  free(s->live);
  for (int b = 0; s->pol && b < s->n; b++) leap_kv_policy_destroy(s->pol[b]);
  free(s->pol);
  free(s->slot_chunk);
  free(s->sel);
  free(s->query);
  free(s->labels);
  free(s->it.step);
  free(s->it.update);
  free(s->it.kv_write);
  lp_video_noise_destroy(s->noise);
  leap_block_schedule_destroy(s->sched);
  lp_sched_free(&s->sc);
  if (s->slots) lp_video_dit_cache_end(s->v);
}

/* Everything a run holds besides the chunks and the store. */
static leap_status vs_init(vs *s) {
  const leap_video_desc *d = &s->d;
  leap_block_schedule_desc bd = leap_block_schedule_desc_default();
  bd.frames = d->frames, bd.frames_per_chunk = s->Fc, bd.steps = d->steps, bd.family = d->family;
  bd.ar_step = d->ar_step, bd.window = d->window, bd.lag = d->lag;
  leap_status st = relabel(leap_block_schedule_create(&bd, &s->sched));
  if (st != LEAP_OK) return st;
  s->K = leap_block_schedule_chunks(s->sched);
  if (!d->recompute) {
    leap_kv_policy_desc kd = d->kv;
    if (kd.kind == LEAP_KV_SPARSE && kd.summary_dim == 0) kd.summary_dim = s->info.hidden_size;
    s->pol = lp_calloc((size_t)s->n, sizeof *s->pol);
    if (!s->pol) return lp_error(LEAP_ERR_NOMEM, WHO ": out of memory");
    for (int b = 0; b < s->n; b++)
      if ((st = relabel(leap_kv_policy_create(&kd, &s->pol[b]))) != LEAP_OK) return st;
  }
  if ((st = lp_sched_build(&s->sc, LEAP_SCHEDULE_FLOW, LEAP_PRED_FLOW_V, d->steps, d->shift,
                           s->info.timestep_scale)) != LEAP_OK)
    return relabel(st);
  /* A window as long as the clip shuffles nothing (leap_block_noise_shuffle's rule). */
  const int stride = d->shuffle_stride ? d->shuffle_stride : s->Fc;
  const int window = d->shuffle_window < d->frames ? d->shuffle_window : 0;
  if ((st = lp_video_noise_create(d->seed, s->n, d->frames, s->per_in, window, stride, &s->noise)))
    return relabel(st);
  s->it.struct_size = sizeof s->it;
  s->it.step = lp_malloc((size_t)s->K * sizeof *s->it.step);
  s->it.update = lp_malloc((size_t)s->K);
  s->it.kv_write = lp_malloc((size_t)s->K);
  s->labels = lp_malloc((size_t)s->B * sizeof *s->labels);
  if (!s->it.step || !s->it.update || !s->it.kv_write || !s->labels)
    return lp_error(LEAP_ERR_NOMEM, WHO ": out of memory");
  for (int r = 0; r < s->B; r++)
    s->labels[r] = r < s->n && d->labels ? d->labels[r] : s->info.null_class;
  return LEAP_OK;
}

/* The store, at the first chunk written: slots for the policy's bound plus
 * the chunk being written (never more than the chunks written at all). */
static leap_status store_begin(vs *s) {
  const leap_kv_policy_desc *k = &s->d.kv;
  int64_t bound = k->kind == LEAP_KV_ROLLING ? (int64_t)k->sinks + k->window
                  : k->kind == LEAP_KV_SPARSE ? k->store : s->K;
  int64_t slots = bound + 1 < s->K - 1 ? bound + 1 : s->K - 1;
  if (slots < 1) slots = 1;
  s->slot_chunk = lp_malloc((size_t)s->n * slots * sizeof *s->slot_chunk);
  s->sel = lp_malloc((size_t)s->n * slots * sizeof *s->sel);
  if (k->kind == LEAP_KV_SPARSE) s->query = lp_calloc((size_t)s->n * s->info.hidden_size, sizeof *s->query);
  if (!s->slot_chunk || !s->sel || (k->kind == LEAP_KV_SPARSE && !s->query))
    return lp_error(LEAP_ERR_NOMEM, WHO ": out of memory");
  for (int64_t j = 0; j < s->n * slots; j++) s->slot_chunk[j] = -1;
  leap_status st = lp_video_dit_cache_begin(s->v, s->B, (int)slots * s->Fc);
  if (st != LEAP_OK) return relabel(st);
  s->slots = (int)slots;
  if (s->st) s->st->kv_slots = s->slots;
  return LEAP_OK;
}

static int slot_of(const vs *s, int clip, int chunk) {
  for (int j = 0; j < s->slots; j++)
    if (s->slot_chunk[clip * s->slots + j] == chunk) return j;
  return -1;
}

/* Starts the chunks that take their first step this iteration: their
 * noise, in frame order (chunks start in order). */
static leap_status start_chunks(vs *s) {
  for (int c = 0; c < s->K; c++) {
    if (!s->it.update[c] || s->it.step[c] != 0 || find_live(s, c)) continue;
    if (s->nlive == s->caplive) {
      const int cap = s->caplive ? 2 * s->caplive : 4;
      live_chunk *l = lp_realloc(s->live, (size_t)cap * sizeof *l);
      if (!l) return lp_error(LEAP_ERR_NOMEM, WHO ": out of memory");
      s->live = l, s->caplive = cap;
    }
    live_chunk *l = &s->live[s->nlive];
    memset(l, 0, sizeof *l);
    l->chunk = c, l->finished_row = -1, l->res_row = -1;
    leap_block_schedule_chunk_frames(s->sched, c, &l->first, &l->count);
    const size_t numel = (size_t)s->n * l->count * s->per_in;
    l->x = lp_malloc(numel * sizeof *l->x);
    float *z = lp_malloc(numel * sizeof *z);
    leap_status st = l->x && z ? lp_video_noise_next(s->noise, l->count, z) : lp_error(LEAP_ERR_NOMEM, WHO ": out of memory");
    if (st == LEAP_OK)
      for (size_t e = 0; e < numel; e++) l->x[e] = s->sc.sigma[0] * (double)z[e];
    free(z);
    if (st != LEAP_OK) {
      free(l->x);
      return st;
    }
    s->nlive++;
    if (s->st && s->nlive > s->st->peak_live_chunks) s->st->peak_live_chunks = s->nlive;
  }
  return LEAP_OK;
}

/* The chunks attended from the store: each clip's policy chooses again
 * after a chunk was stored. */
static leap_status select_history(vs *s) {
  if (!s->slots || !s->sel_dirty) return LEAP_OK;
  for (int b = 0; b < s->n; b++) {
    int count = 0;
    const float *q = s->query ? s->query + (size_t)b * s->info.hidden_size : NULL;
    leap_status st = leap_kv_policy_select(s->pol[b], q, s->sel + (size_t)b * s->slots, s->slots, &count);
    if (st != LEAP_OK) return relabel(st);
    if (b > 0 && count != s->nsel)
      return lp_error(LEAP_ERR_INVALID_ARG, WHO ": clips attend %d and %d chunks", s->nsel, count);
    s->nsel = count;
  }
  s->sel_dirty = 0;
  if (s->st && s->nsel > s->st->peak_attended) s->st->peak_attended = s->nsel;
  return LEAP_OK;
}

/* A chunk is final: out and on_frames get its frames, progress the count. */
static leap_status deliver(vs *s, const live_chunk *l) {
  if (l->first != s->delivered)
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": chunk %d finished before frame %d", l->chunk, s->delivered);
  const size_t fr = (size_t)l->count * s->per_in;
  if (s->out)
    for (int b = 0; b < s->n; b++)
      memcpy(s->out + ((size_t)b * s->d.frames + l->first) * s->per_in, l->clean + (size_t)b * fr, fr * sizeof(float));
  s->delivered += l->count;
  if (s->d.on_frames && s->d.on_frames(s->d.on_frames_user, l->first, l->count, l->clean))
    return lp_error(LEAP_ERR_INTERRUPTED, WHO ": stopped by on_frames after frame %d of %d", s->delivered,
                    s->d.frames);
  if (s->d.progress && s->d.progress(s->d.progress_user, s->delivered, s->d.frames))
    return lp_error(LEAP_ERR_INTERRUPTED, WHO ": stopped by progress after frame %d of %d", s->delivered,
                    s->d.frames);
  return LEAP_OK;
}

/* The chunks [c0, c1) as model input: x [B, frames, ...] and t [B, frames]
 * (a finished chunk clean at t = 0). */
static leap_status gather(vs *s, int c0, int c1, float *x, float *t, int frames) {
  int f0 = 0;
  for (int c = c0; c < c1; c++) {
    const live_chunk *l = find_live(s, c);
    if (!l) return lp_error(LEAP_ERR_INVALID_ARG, WHO ": chunk %d is in the window but not held", c);
    const float tc = l->finished_row >= 0 ? 0.0f : (float)s->sc.t_model[s->it.step[c]];
    const size_t fr = (size_t)l->count * s->per_in;
    for (int r = 0; r < s->B; r++) {
      const int b = clip_of(s, r);
      float *dst = x + ((size_t)r * frames + f0) * s->per_in;
      if (l->finished_row >= 0) memcpy(dst, l->clean + (size_t)b * fr, fr * sizeof(float));
      else
        for (size_t e = 0; e < fr; e++) dst[e] = (float)l->x[(size_t)b * fr + e];
      for (int f = 0; f < l->count; f++) t[(size_t)r * frames + f0 + f] = tc;
    }
    f0 += l->count;
  }
  return LEAP_OK;
}

/* An Euler step on chunk l from the window's output (the chunk's frames
 * from f0 of `frames`): the guided velocity, the prediction channels of
 * each frame. */
static leap_status euler(vs *s, live_chunk *l, const float *mout, int frames, int f0, int row, double phi) {
  const int k = s->it.step[l->chunk];
  const double dt = phi * (s->sc.sigma[k + 1] - s->sc.sigma[k]), cfg = s->d.cfg;
  const size_t pin = s->per_in, pout = s->per_out;
  for (int b = 0; b < s->n; b++)
    for (int f = 0; f < l->count; f++) {
      const float *c = mout + ((size_t)b * frames + f0 + f) * pout;
      const float *u = s->guided ? mout + ((size_t)(b + s->n) * frames + f0 + f) * pout : NULL;
      double *x = l->x + ((size_t)b * l->count + f) * pin;
      for (size_t e = 0; e < pin; e++) {
        const double vel = u ? (double)u[e] + cfg * ((double)c[e] - (double)u[e]) : (double)c[e];
        x[e] += dt * vel;
        if (!isfinite(x[e]))
          return lp_error(LEAP_ERR_NUMERIC, WHO ": clip %d frame %d is not finite at step %d/%d", b, l->first + f,
                          k + 1, s->d.steps);
      }
    }
  if (k + 1 < s->d.steps) return LEAP_OK;
  const size_t numel = (size_t)s->n * l->count * pin;
  l->clean = lp_malloc(numel * sizeof *l->clean);
  if (!l->clean) return lp_error(LEAP_ERR_NOMEM, WHO ": out of memory");
  for (size_t e = 0; e < numel; e++) l->clean[e] = (float)l->x[e];
  free(l->x);
  l->x = NULL;
  l->finished_row = row;
  return deliver(s, l);
}

/* The window's first `writes` chunks were stored: each clip's policy adds
 * them and frees the slot of the chunk it evicts. */
static leap_status store_written(vs *s, int c0, int writes, const int32_t *wslots) {
  for (int w = 0; w < writes; w++)
    for (int b = 0; b < s->n; b++) {
      const int slot = wslots[b * writes + w], chunk = c0 + w;
      s->slot_chunk[b * s->slots + slot] = chunk;
      float *q = s->query ? s->query + (size_t)b * s->info.hidden_size : NULL;
      leap_status st = q ? lp_video_dit_slot_summary(s->v, b, slot, chunk, q) : LEAP_OK;
      int evicted = -1;
      if (st == LEAP_OK) st = leap_kv_policy_add(s->pol[b], chunk, q, &evicted);
      if (st != LEAP_OK) return relabel(st);
      if (evicted >= 0) s->slot_chunk[b * s->slots + slot_of(s, b, evicted)] = -1;
      const int held = leap_kv_policy_stored(s->pol[b]);
      if (s->st && held > s->st->peak_stored) s->st->peak_stored = held;
    }
  s->sel_dirty = 1;
  return LEAP_OK;
}

/* ---- block caching (video_cache.h) ------------------------------------- */

/* Chunk l's residual inside a window residual res [B, frames * P, D] whose
 * frames start at f_begin: row r's part. */
static float *res_at(const vs *s, float *res, int frames, int f_begin, const live_chunk *l, int r) {
  return res + ((size_t)r * frames + (size_t)(l->first - f_begin)) * s->tok;
}

/* Whether forward row `row` may reuse: the profile says so, nothing is
 * written and every chunk of the window has its residual from the last
 * computed row. A profile that asks for reuse where the rule forbids it
 * was made for another run (or edited): an error, never a silent compute. */
static leap_status decide_reuse(vs *s, int wb, int we, int writes, int *reuse) {
  *reuse = 0;
  const lp_video_cache_run *cr = s->cr;
  if (!cr || !cr->reuse || !cr->reuse[s->frow]) return LEAP_OK;
  if (writes)
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": the cache profile reuses forward row %d, which writes chunk %d's keys "
                    "and values (the blocks must run): the profile is not for this run", s->frow, wb);
  for (int c = wb; c < we; c++) {
    const live_chunk *l = find_live(s, c);
    if (!l || !l->res || l->res_row != s->last_computed)
      return lp_error(LEAP_ERR_INVALID_ARG, WHO ": the cache profile reuses forward row %d, but chunk %d has no "
                      "residual from forward row %d: the profile is not for this run", s->frow, c, s->last_computed);
  }
  *reuse = 1;
  return LEAP_OK;
}

/* A computed row: each non-written chunk of the window keeps its residual. */
static leap_status keep_residuals(vs *s, int cw, int we, const float *res, int frames, int f_begin) {
  for (int c = cw; c < we; c++) {
    live_chunk *l = find_live(s, c);
    const size_t per = (size_t)l->count * s->tok;
    if (!l->res && !(l->res = lp_malloc((size_t)s->B * per * sizeof *l->res)))
      return lp_error(LEAP_ERR_NOMEM, WHO ": out of memory for the block cache");
    for (int r = 0; r < s->B; r++)
      memcpy(l->res + (size_t)r * per, res_at(s, (float *)res, frames, f_begin, l, r), per * sizeof(float));
    l->res_row = s->frow;
  }
  return LEAP_OK;
}

/* Pass 1: the rel. L1 error of reusing each kept earlier row's residuals at
 * this row, then this row's residuals join the ring. */
static leap_status record_dist(vs *s, int wb, int cw, int we, float *res, int frames, int f_begin) {
  lp_video_cache_run *cr = s->cr;
  const int W = cr->window, i = s->frow;
  if (!s->ring) {
    s->ring = lp_calloc((size_t)W, sizeof *s->ring);
    if (!s->ring) return lp_error(LEAP_ERR_NOMEM, WHO ": out of memory for the cache calibration");
    for (int k = 0; k < W; k++) s->ring[k].row = -1;
  }
  for (int k = 0; k < W; k++) {
    const res_entry *e = &s->ring[k];
    if (e->row < 0 || i - e->row >= W) continue;
    double num = 0, den = 0;
    int ok = cw == wb; /* a row that writes cannot reuse */
    for (int c = wb; ok && c < we; c++) {
      const live_chunk *l = find_live(s, c);
      if (c < e->c_first || c >= e->c_end) {
        ok = 0;
        break;
      }
      const size_t per = (size_t)l->count * s->tok;
      for (int r = 0; r < s->B; r++) {
        const float *now = res_at(s, res, frames, f_begin, l, r);
        const float *then = res_at(s, e->res, e->frames, e->f_begin, l, r);
        for (size_t q = 0; q < per; q++) num += fabs((double)now[q] - then[q]), den += fabs((double)now[q]);
      }
    }
    cr->dist[(size_t)e->row * cr->rows + i] = ok ? num / (den + 1e-30) : INFINITY;
  }
  res_entry *slot = &s->ring[i % W];
  free(slot->res);
  *slot = (res_entry){.row = i, .c_first = cw, .c_end = we, .f_begin = f_begin, .frames = frames, .res = res};
  return LEAP_OK;
}

/* phi = <v^, v> / <v^, v^> over the guided velocities of the chunks that
 * step (the image cache's endpoint fit, sample/cache_calibrate.c). */
static double fit_phi(const vs *s, const float *hat, const float *truth, int frames, int f_begin) {
  double ab = 0, aa = 0;
  const double cfg = s->d.cfg;
  for (int c = s->it.window_begin; c < s->it.window_end; c++) {
    const live_chunk *l = s->it.update[c] ? find_live((vs *)s, c) : NULL;
    for (int b = 0; l && b < s->n; b++)
      for (int f = 0; f < l->count; f++) {
        const size_t o = ((size_t)b * frames + l->first - f_begin + f) * s->per_out;
        const size_t ou = ((size_t)(b + s->n) * frames + l->first - f_begin + f) * s->per_out;
        for (size_t e = 0; e < s->per_in; e++) {
          double vh = hat[o + e], vt = truth[o + e];
          if (s->guided)
            vh = hat[ou + e] + cfg * (vh - hat[ou + e]), vt = truth[ou + e] + cfg * (vt - truth[ou + e]);
          ab += vh * vt, aa += vh * vh;
        }
      }
  }
  const double phi = aa > 0 ? ab / aa : 1.0;
  return phi < LP_VCACHE_PHI_MIN ? LP_VCACHE_PHI_MIN : phi > LP_VCACHE_PHI_MAX ? LP_VCACHE_PHI_MAX : phi;
}

/* One iteration: the window's forward and the steps it gives. */
static leap_status iterate(vs *s, int row) {
  leap_status st = leap_block_schedule_get(s->sched, row, &s->it);
  if (st == LEAP_OK) st = start_chunks(s);
  if (st != LEAP_OK || s->it.updated == 0) return st;
  const int wb = s->it.window_begin, we = s->it.window_end, rec = s->d.recompute;
  /* Written chunks (finished last iteration) come first in the window. */
  int writes = 0;
  while (!rec && wb + writes < we && s->it.kv_write[wb + writes]) writes++;
  for (int c = wb + writes; c < we; c++)
    if (s->it.kv_write[c] && !rec) return lp_error(LEAP_ERR_INVALID_ARG, WHO ": chunk %d written inside the window", c);
  lp_video_cache_run *cr = s->cr;
  if (cr && s->frow >= cr->rows)
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": the block cache expects %d forward rows; this run has more", cr->rows);
  int reuse = 0;
  if ((st = decide_reuse(s, wb, we, writes, &reuse)) != LEAP_OK) return st;
  if (writes && !s->slots && (st = store_begin(s)) != LEAP_OK) return st;
  if ((st = select_history(s)) != LEAP_OK) return st;
  const int c0 = rec ? 0 : wb;
  int f_begin = 0, f_end = 0, n0 = 0;
  leap_block_schedule_chunk_frames(s->sched, c0, &f_begin, &n0);
  leap_block_schedule_chunk_frames(s->sched, we - 1, &f_end, &n0);
  const int frames = f_end + n0 - f_begin, hist = s->slots ? s->nsel : 0;
  const int measure = reuse && cr->phi_fit;
  float *x = lp_malloc((size_t)s->B * frames * s->per_in * sizeof *x);
  float *t = lp_malloc((size_t)s->B * frames * sizeof *t);
  float *mout = lp_malloc((size_t)s->B * frames * s->per_out * sizeof *mout);
  float *mtrue = measure ? lp_malloc((size_t)s->B * frames * s->per_out * sizeof *mtrue) : NULL;
  float *res = cr ? lp_malloc((size_t)s->B * frames * s->tok * sizeof *res) : NULL;
  int32_t *hs = lp_malloc(((size_t)s->B * hist + 1) * sizeof *hs), *ws = lp_malloc(((size_t)s->B * writes + 1) * sizeof *ws);
  if (!x || !t || !mout || !hs || !ws || (measure && !mtrue) || (cr && !res))
    st = lp_error(LEAP_ERR_NOMEM, WHO ": out of memory (%d frames)", frames);
  if (st == LEAP_OK) st = gather(s, c0, we, x, t, frames);
  for (int r = 0; st == LEAP_OK && r < s->B; r++) {
    const int b = clip_of(s, r);
    for (int k = 0; k < hist; k++) hs[r * hist + k] = slot_of(s, b, s->sel[b * s->slots + k]);
    /* The clip's first free slots, one per written chunk (the null row
     * shares its clip's). */
    for (int j = 0, w = 0; w < writes; j++) {
      if (j == s->slots) {
        st = lp_error(LEAP_ERR_INVALID_ARG, WHO ": no free KV slot for chunk %d", wb + w);
        break;
      }
      if (s->slot_chunk[b * s->slots + j] < 0) ws[r * writes + w++] = j;
    }
  }
  /* A reused row: each chunk's residual from the last computed row, in
   * window order. */
  for (int c = wb; st == LEAP_OK && reuse && c < we; c++) {
    const live_chunk *l = find_live(s, c);
    const size_t per = (size_t)l->count * s->tok;
    for (int r = 0; r < s->B; r++)
      memcpy(res_at(s, res, frames, f_begin, l, r), l->res + (size_t)r * per, per * sizeof(float));
  }
  lp_video_window w = {.rows = s->B, .chunk0 = c0, .frames = frames, .x = x, .t = t, .y = s->labels,
                       .history = hist, .slots = hs, .writes = writes, .write_slots = ws, .out = mout,
                       .res_out = cr && !reuse ? res : NULL, .res_in = reuse ? res : NULL};
  if (st == LEAP_OK) {
    st = lp_video_dit_forward_window(s->v, &w);
    if (s->st) s->st->model_calls++;
  }
  double phi = 1.0;
  if (st == LEAP_OK && measure) {
    /* Calibration only: the blocks run too, for the true velocity. */
    w.res_in = NULL, w.out = mtrue;
    st = lp_video_dit_forward_window(s->v, &w);
    if (s->st) s->st->model_calls++;
    if (st == LEAP_OK) phi = cr->phi_fit[s->frow] = fit_phi(s, mout, mtrue, frames, f_begin);
  } else if (reuse && cr->phi) {
    phi = cr->phi[s->frow];
  }
  if (st == LEAP_OK && cr) {
    if (reuse) {
      cr->reused++;
    } else {
      cr->computed++;
      s->last_computed = s->frow;
      st = keep_residuals(s, wb + writes, we, res, frames, f_begin);
      if (st == LEAP_OK && cr->dist) {
        st = record_dist(s, wb, wb + writes, we, res, frames, f_begin);
        if (st == LEAP_OK) res = NULL; /* the ring holds it now */
      }
    }
  }
  if (st == LEAP_OK && writes) st = store_written(s, wb, writes, ws);
  for (int c = wb; st == LEAP_OK && c < we; c++)
    if (s->it.update[c]) {
      live_chunk *l = find_live(s, c);
      st = euler(s, l, mout, frames, l->first - f_begin, row, phi);
    }
  s->frow++;
  free(x), free(t), free(mout), free(mtrue), free(res), free(hs), free(ws);
  return st;
}

/* After an iteration: chunks finished before it had their clean run (or
 * never needed one) and leave, unless recompute keeps them as history. */
static void release(vs *s, int row) {
  for (int k = 0; k < s->nlive;) {
    live_chunk *l = &s->live[k];
    if (!s->d.recompute && l->finished_row >= 0 && l->finished_row < row) {
      free(l->x), free(l->clean), free(l->res);
      s->live[k] = s->live[--s->nlive];
    } else {
      k++;
    }
  }
}

/* The caller's desc over the defaults (older, smaller structs included). */
static leap_status desc_in(const leap_video_desc *desc, leap_video_desc *d) {
  /* New in 0.2: nothing smaller than the 0.2.0 struct is an older layout. */
  const size_t need = offsetof(leap_video_desc, on_frames_user) + sizeof desc->on_frames_user;
  if (desc->struct_size < need)
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": struct_size %u is too small (%zu)", (unsigned)desc->struct_size, need);
  *d = leap_video_desc_default();
  return lp_struct_in(d, sizeof *d, desc, WHO " desc");
}

leap_status lp_video_sample_run(leap_model *m, const leap_video_desc *desc, float *out, lp_video_stats *stats,
                                lp_video_cache_run *cache) {
  if (!m || !desc) return lp_error(LEAP_ERR_INVALID_ARG, WHO ": %s is NULL", !m ? "model" : "desc");
  if (stats) memset(stats, 0, sizeof *stats);
  vs s;
  memset(&s, 0, sizeof s);
  leap_status st = desc_in(desc, &s.d);
  if (st != LEAP_OK) return st;
  s.d.cache_profile = NULL; /* the caller's cache, if any, is `cache` */
  s.v = lp_model_video_dit(m);
  s.info.struct_size = sizeof s.info;
  if ((st = leap_model_get_info(m, &s.info)) != LEAP_OK) return st;
  if (!s.v)
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": the model is a '%s', not a video model (arch video_dit)", s.info.arch);
  s.out = out;
  s.st = stats;
  if ((st = validate(&s)) != LEAP_OK) return st;
  if (cache && s.d.recompute)
    return lp_error(LEAP_ERR_UNSUPPORTED, WHO ": the block cache runs over the KV store, not with recompute = 1");
  if (cache && (cache->rows < 1 || (cache->dist && cache->window < 2)))
    return lp_error(LEAP_ERR_INVALID_ARG, WHO ": block cache of %d rows, window %d", cache->rows, cache->window);
  s.n = s.d.n;
  s.guided = s.info.num_classes > 0 && s.d.cfg != 1.0;
  s.B = s.guided ? 2 * s.n : s.n;
  s.Fc = s.info.frames_per_chunk;
  s.per_in = (size_t)s.info.in_channels * s.info.height * s.info.width;
  s.per_out = (size_t)s.info.out_channels * s.info.height * s.info.width;
  s.cr = cache;
  s.tok = (size_t)(s.info.height / s.info.patch_size) * (s.info.width / s.info.patch_size) * s.info.hidden_size;
  s.last_computed = -1;
  if (cache) cache->computed = cache->reused = 0;
  st = vs_init(&s);
  const int rows = st == LEAP_OK ? leap_block_schedule_iterations(s.sched) : 0;
  for (int r = 0; st == LEAP_OK && r < rows; r++) {
    const int before = s.delivered;
    st = iterate(&s, r);
    release(&s, r);
    /* Every iteration reports, not only those that finish a chunk: in the
     * synchronous family no chunk finishes before the last step, and a
     * caller's stop (Ctrl-C in leap video) must not wait for it. */
    if (st == LEAP_OK && s.delivered == before && s.d.progress &&
        s.d.progress(s.d.progress_user, s.delivered, s.d.frames))
      st = lp_error(LEAP_ERR_INTERRUPTED, WHO ": stopped by progress at iteration %d of %d (%d of %d frames finished)",
                    r + 1, rows, s.delivered, s.d.frames);
  }
  if (st == LEAP_OK && s.delivered != s.d.frames)
    st = lp_error(LEAP_ERR_INVALID_ARG, WHO ": %d of %d frames finished", s.delivered, s.d.frames);
  if (st == LEAP_OK && cache && s.frow != cache->rows)
    st = lp_error(LEAP_ERR_INVALID_ARG, WHO ": the block cache expects %d forward rows; this run had %d", cache->rows,
                  s.frow);
  vs_free(&s);
  return st;
}

/* desc's cache_profile (if any) read, checked against the run and turned
 * into the sampler's block cache; the stats go to desc's cache_stats. */
leap_status lp_video_sample_stats(leap_model *m, const leap_video_desc *desc, float *out, lp_video_stats *stats) {
  if (!m || !desc) return lp_error(LEAP_ERR_INVALID_ARG, WHO ": %s is NULL", !m ? "model" : "desc");
  leap_video_desc d;
  leap_status st = desc_in(desc, &d);
  if (st != LEAP_OK) return st;
  if (d.cache_stats && (st = lp_struct_check(d.cache_stats, WHO " cache_stats")) != LEAP_OK) return st;
  if (!d.cache_profile) {
    int rows = 0;
    st = lp_video_sample_run(m, desc, out, stats, NULL);
    if (st == LEAP_OK && d.cache_stats) {
      leap_model_info info = {.struct_size = sizeof info};
      leap_model_get_info(m, &info);
      st = lp_vcache_rows(&d, info.frames_per_chunk, &rows, NULL, 0);
      const leap_cache_stats cs = {.struct_size = sizeof cs, .evaluations = rows, .computed = rows,
                                   .planned_computed = -1};
      if (st == LEAP_OK) st = lp_struct_out(d.cache_stats, &cs, sizeof cs, WHO " cache_stats");
    }
    return st;
  }
  if (d.recompute)
    return lp_error(LEAP_ERR_UNSUPPORTED, WHO ": cache_profile with recompute = 1: the block cache reuses the "
                    "window's residuals over the KV store; the recompute baseline runs without it");
  lp_vcache_profile p;
  if ((st = lp_vcache_profile_read(d.cache_profile, m, &d, &p)) != LEAP_OK) return st;
  if (d.cache_setting < 0 || d.cache_setting >= p.nsettings) {
    st = lp_error(LEAP_ERR_INVALID_ARG, WHO ": cache_setting %d, but %s has %d setting%s (0..%d)", d.cache_setting,
                  d.cache_profile, p.nsettings, p.nsettings == 1 ? "" : "s", p.nsettings - 1);
    lp_vcache_profile_free(&p);
    return st;
  }
  const lp_vcache_setting *set = &p.settings[d.cache_setting];
  lp_video_cache_run cr = {.rows = p.rows, .reuse = set->reuse, .phi = d.cache_adjust ? set->phi : NULL};
  st = lp_video_sample_run(m, desc, out, stats, &cr);
  if (st == LEAP_OK && d.cache_stats) {
    const leap_cache_stats cs = {.struct_size = sizeof cs, .evaluations = cr.computed + cr.reused,
                                 .computed = cr.computed, .reused = cr.reused, .planned_computed = set->computed};
    st = lp_struct_out(d.cache_stats, &cs, sizeof cs, WHO " cache_stats");
  }
  lp_vcache_profile_free(&p);
  return st;
}

leap_status leap_video_sample(leap_model *m, const leap_video_desc *desc, float *out) {
  return lp_video_sample_stats(m, desc, out, NULL);
}
