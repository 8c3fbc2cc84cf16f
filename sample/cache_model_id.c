/* cache_model_id.c - leap_model_id: what a cache profile is valid for. A
 * 64-bit FNV-1a hash over the model's description and every weight as
 * loaded (float32, read back from the backend), so the same weights give
 * the same id on the CPU and on Vulkan, whatever the file's dtype. The
 * architecture says which description fields count; its weight list says
 * which tensors there are. */
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
  unsigned char desc[256];
  const size_t len = m->arch->id_description(&m->info, desc, sizeof desc);
  uint64_t h = fnv(0xcbf29ce484222325ULL, desc, len);
  const size_t cap = 1 << 16;
  float *tmp = lp_malloc(cap * sizeof *tmp);
  if (!tmp) return lp_error(LEAP_ERR_NOMEM, "leap_model_id: out of memory");
  /* The model's own tensors, then each block's, each in list order: the
   * order the ids of existing profiles were made in. */
  const lp_weight_list *L = &m->weights;
  leap_status s = LEAP_OK;
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; s == LEAP_OK && i < L->count; i++)
      if ((L->w[i].block >= 0) == pass) s = hash_buf(m->ctx->be, m->bufs[i], tmp, cap, &h);
  free(tmp);
  if (s == LEAP_OK) snprintf(out, size, "%016llx", (unsigned long long)h);
  return s;
}
