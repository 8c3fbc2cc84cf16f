/* kv_policy.c - block diffusion's KV cache policies (leap_kv_policy_*):
 * which finished chunks stay stored and which the next chunk attends to.
 * Chunk bookkeeping only; the keys and values themselves are the host's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "leap.h"
#include "struct_size.h"

typedef struct stored_chunk {
  int chunk;
  int64_t last_used; /* selection round it was last attended (SPARSE eviction) */
  float *summary;    /* [summary_dim] (SPARSE) */
} stored_chunk;

struct leap_kv_policy {
  leap_kv_policy_desc d;
  stored_chunk *v; /* in increasing chunk order */
  int n, cap;      /* stored, capacity of v */
  int last_chunk;  /* the last chunk added (-1: none) */
  int64_t round;   /* selections so far */
  float *pool;     /* summaries: cap * summary_dim (SPARSE) */
  double *score;   /* [cap] scratch (SPARSE) */
};

leap_kv_policy_desc leap_kv_policy_desc_default(void) {
  leap_kv_policy_desc d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.kind = LEAP_KV_KEEP_ALL;
  d.sinks = 1;
  d.window = 2;
  d.store = 16;
  d.top_k = 2;
  d.summary_dim = 0;
  return d;
}

static leap_status check(const leap_kv_policy_desc *d) {
  switch (d->kind) {
  case LEAP_KV_KEEP_ALL: return LEAP_OK;
  case LEAP_KV_ROLLING:
    if (d->sinks < 0 || d->window < 1 || d->sinks > (1 << 20) || d->window > (1 << 20))
      return lp_error(LEAP_ERR_INVALID_ARG, "kv policy: rolling needs sinks >= 0 and window >= 1 (got %d, %d)",
                      d->sinks, d->window);
    return LEAP_OK;
  case LEAP_KV_SPARSE:
    if (d->sinks < 0 || d->window < 0 || d->top_k < 1 || d->summary_dim < 1 || d->summary_dim > (1 << 20) ||
        d->store > (1 << 20) || d->store < d->sinks + d->window + d->top_k)
      return lp_error(LEAP_ERR_INVALID_ARG,
                      "kv policy: sparse needs top_k >= 1, summary_dim >= 1 and store >= sinks + window "
                      "+ top_k (got store %d, sinks %d, window %d, top_k %d, summary_dim %d)",
                      d->store, d->sinks, d->window, d->top_k, d->summary_dim);
    return LEAP_OK;
  }
  return lp_error(LEAP_ERR_INVALID_ARG, "kv policy: unknown kind %d", (int)d->kind);
}

leap_status leap_kv_policy_create(const leap_kv_policy_desc *desc, leap_kv_policy **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "kv policy: out is NULL");
  *out = NULL;
  if (!desc) return lp_error(LEAP_ERR_INVALID_ARG, "kv policy: desc is NULL");
  const size_t need = offsetof(leap_kv_policy_desc, summary_dim) + sizeof desc->summary_dim;
  if (desc->struct_size < need)
    return lp_error(LEAP_ERR_INVALID_ARG, "kv policy: struct_size %u is too small", (unsigned)desc->struct_size);
  leap_kv_policy_desc d = leap_kv_policy_desc_default();
  leap_status s = lp_struct_in(&d, sizeof d, desc, "kv policy desc");
  if (s == LEAP_OK) s = check(&d);
  if (s) return s;
  leap_kv_policy *p = lp_calloc(1, sizeof *p);
  if (!p) return lp_error(LEAP_ERR_NOMEM, "kv policy: out of memory");
  p->d = d;
  p->last_chunk = -1;
  /* The bounded kinds allocate their bound once; KEEP_ALL grows. */
  p->cap = d.kind == LEAP_KV_ROLLING ? d.sinks + d.window + 1 : d.kind == LEAP_KV_SPARSE ? d.store + 1 : 16;
  p->v = lp_calloc((size_t)p->cap, sizeof *p->v);
  if (d.kind == LEAP_KV_SPARSE) {
    p->pool = lp_malloc((size_t)p->cap * (size_t)d.summary_dim * sizeof(float));
    p->score = lp_malloc((size_t)p->cap * sizeof(double));
  }
  if (!p->v || (d.kind == LEAP_KV_SPARSE && (!p->pool || !p->score))) {
    leap_kv_policy_destroy(p);
    return lp_error(LEAP_ERR_NOMEM, "kv policy: out of memory");
  }
  if (d.kind == LEAP_KV_SPARSE)
    for (int k = 0; k < p->cap; k++) p->v[k].summary = p->pool + (size_t)k * (size_t)d.summary_dim;
  *out = p;
  return LEAP_OK;
}

void leap_kv_policy_destroy(leap_kv_policy *p) {
  if (!p) return;
  free(p->v);
  free(p->pool);
  free(p->score);
  free(p);
}

int leap_kv_policy_stored(const leap_kv_policy *p) { return p ? p->n : 0; }

/* A chunk that a bounded policy never evicts: a sink or one of the last
 * `window` chunks. */
static int pinned(const leap_kv_policy *p, int chunk) {
  return chunk < p->d.sinks || chunk > p->last_chunk - p->d.window;
}

/* Removes v[k], keeping its summary slot for reuse at the end. */
static void remove_at(leap_kv_policy *p, int k) {
  stored_chunk gone = p->v[k];
  memmove(p->v + k, p->v + k + 1, (size_t)(p->n - k - 1) * sizeof *p->v);
  p->n--;
  p->v[p->n] = gone; /* beyond n: its summary buffer is free */
}

leap_status leap_kv_policy_add(leap_kv_policy *p, int chunk, const float *summary, int *evicted) {
  if (evicted) *evicted = -1;
  if (!p || chunk < 0) return lp_error(LEAP_ERR_INVALID_ARG, "kv policy: bad chunk %d", chunk);
  if (chunk <= p->last_chunk)
    return lp_error(LEAP_ERR_INVALID_ARG, "kv policy: chunk %d added after chunk %d (chunks come in order)",
                    chunk, p->last_chunk);
  if (p->d.kind == LEAP_KV_SPARSE && !summary)
    return lp_error(LEAP_ERR_INVALID_ARG, "kv policy: sparse needs each chunk's summary");
  if (p->n == p->cap) { /* KEEP_ALL grows; the bounded kinds evict first, below */
    int nc = p->cap * 2;
    stored_chunk *v = lp_realloc(p->v, (size_t)nc * sizeof *v);
    if (!v) return lp_error(LEAP_ERR_NOMEM, "kv policy: out of memory (%d chunks)", nc);
    memset(v + p->cap, 0, (size_t)(nc - p->cap) * sizeof *v);
    p->v = v;
    p->cap = nc;
  }
  if (p->d.kind == LEAP_KV_SPARSE)
    for (int k = 0; k < p->d.summary_dim; k++)
      if (!isfinite(summary[k]))
        return lp_error(LEAP_ERR_NUMERIC, "kv policy: chunk %d's summary is not finite", chunk);
  stored_chunk *c = &p->v[p->n];
  c->chunk = chunk;
  c->last_used = p->round; /* a new chunk counts as just attended */
  if (p->d.kind == LEAP_KV_SPARSE) memcpy(c->summary, summary, (size_t)p->d.summary_dim * sizeof(float));
  p->n++;
  p->last_chunk = chunk;
  int bound = p->d.kind == LEAP_KV_ROLLING ? p->d.sinks + p->d.window : p->d.kind == LEAP_KV_SPARSE ? p->d.store : -1;
  if (bound >= 0 && p->n > bound) {
    /* ROLLING: the oldest chunk that is not pinned; SPARSE: the least
     * recently attended one that is not pinned (ties: the oldest). */
    int victim = -1;
    for (int k = 0; k < p->n; k++) {
      if (pinned(p, p->v[k].chunk)) continue;
      if (victim < 0 || (p->d.kind == LEAP_KV_SPARSE && p->v[k].last_used < p->v[victim].last_used)) victim = k;
      if (p->d.kind == LEAP_KV_ROLLING) break;
    }
    if (victim >= 0) { /* always found: bound > pinned chunks */
      if (evicted) *evicted = p->v[victim].chunk;
      remove_at(p, victim);
    }
  }
  return LEAP_OK;
}

static double cosine(const float *a, const float *b, int n) {
  double ab = 0, aa = 0, bb = 0;
  for (int k = 0; k < n; k++) ab += (double)a[k] * b[k], aa += (double)a[k] * a[k], bb += (double)b[k] * b[k];
  return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0.0;
}

leap_status leap_kv_policy_select(leap_kv_policy *p, const float *query, int *chunks, int cap, int *count) {
  if (!p || !chunks || !count || cap < 0) return lp_error(LEAP_ERR_INVALID_ARG, "kv policy: bad select arguments");
  *count = 0;
  if (p->d.kind == LEAP_KV_SPARSE && !query)
    return lp_error(LEAP_ERR_INVALID_ARG, "kv policy: sparse selection needs the query summary");
  p->round++;
  int n = 0;
  for (int k = 0; k < p->n; k++) {
    int take = 1;
    if (p->d.kind == LEAP_KV_SPARSE && !pinned(p, p->v[k].chunk)) {
      /* among the unpinned, the top_k by cosine (ties: the earlier chunk) */
      const double sk = cosine(p->v[k].summary, query, p->d.summary_dim);
      int better = 0;
      for (int j = 0; j < p->n; j++) {
        if (j == k || pinned(p, p->v[j].chunk)) continue;
        const double sj = cosine(p->v[j].summary, query, p->d.summary_dim);
        if (sj > sk || (sj == sk && j < k)) better++;
      }
      take = better < p->d.top_k;
    }
    if (!take) continue;
    if (n == cap)
      return lp_error(LEAP_ERR_INVALID_ARG, "kv policy: %d chunks selected do not fit in %d", n + 1, cap);
    chunks[n++] = p->v[k].chunk;
    p->v[k].last_used = p->round;
  }
  *count = n;
  return LEAP_OK;
}
