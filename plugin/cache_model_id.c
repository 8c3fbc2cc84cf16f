/* cache_model_id.c - leap_model_id: what a cache profile is valid for. A
 * 64-bit FNV-1a hash over the model's description and every weight as
 * loaded (float32, read back from the backend), so the same weights give
 * the same id on the CPU and on Vulkan, whatever the file's dtype. */
#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "alloc.h"
#include "model_internal.h"

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

static leap_status hash_buf(lp_backend *be, lp_buf *b, float *tmp, size_t cap, uint64_t *h) {
  if (!b) return LEAP_OK;
  /* The buffer's size is not public: read in pieces until the backend says
   * the read runs past the end, then halve down to single floats. */
  size_t off = 0, chunk = cap;
  while (chunk > 0) {
    if (be->vt->buf_read(be, b, off * 4, tmp, chunk * 4) == LEAP_OK) {
      *h = fnv(*h, tmp, chunk * 4);
      off += chunk;
    } else {
      chunk /= 2;
    }
  }
  lp_error_clear();
  return LEAP_OK;
}

leap_status leap_model_id(leap_model *m, char *out, size_t size) {
  if (!m || !out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_id: NULL argument");
  if (size < 17) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_id: out needs 17 bytes, got %zu", size);
  const lp_dit *d = &m->dit;
  const leap_model_info *in = &d->info;
  int desc[] = {in->input_size, in->patch_size, in->in_channels, in->out_channels, in->hidden_size, in->depth,
                in->num_heads, in->num_classes, in->null_class, in->learn_sigma, (int)in->prediction};
  uint64_t h = fnv(0xcbf29ce484222325ULL, desc, sizeof desc);
  h = fnv(h, &in->timestep_scale, sizeof in->timestep_scale);
  const size_t cap = 1 << 16;
  float *tmp = lp_malloc(cap * sizeof *tmp);
  if (!tmp) return lp_error(LEAP_ERR_NOMEM, "leap_model_id: out of memory");
  lp_buf *w[] = {d->x_w, d->x_b, d->pos, d->t_w0, d->t_b0, d->t_w2, d->t_b2,
                 d->y_table, d->f_ada_w, d->f_ada_b, d->f_w, d->f_b};
  leap_status s = LEAP_OK;
  for (size_t i = 0; s == LEAP_OK && i < sizeof w / sizeof *w; i++) s = hash_buf(d->be, w[i], tmp, cap, &h);
  for (int i = 0; s == LEAP_OK && i < in->depth; i++) {
    const lp_dit_block *b = &d->blocks[i];
    lp_buf *bw[] = {b->ada_w, b->ada_b, b->qkv_w, b->qkv_b, b->proj_w, b->proj_b, b->fc1_w, b->fc1_b, b->fc2_w, b->fc2_b};
    for (size_t k = 0; s == LEAP_OK && k < sizeof bw / sizeof *bw; k++) s = hash_buf(d->be, bw[k], tmp, cap, &h);
  }
  free(tmp);
  if (s == LEAP_OK) snprintf(out, size, "%016llx", (unsigned long long)h);
  return s;
}
