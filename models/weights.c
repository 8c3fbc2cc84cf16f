/* weights.c - see weights.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weights.h"
#include "alloc.h"
#include "error.h"

leap_status lp_weights_add(lp_weight_list *L, const char *name, int block, int role,
                           const char *role_name, lp_winit init, int ndim, const int64_t *shape) {
  if (L->s != LEAP_OK) return L->s;
  if (ndim < 1 || ndim > LP_WEIGHT_MAX_DIMS || strlen(name) >= LP_WEIGHT_NAME_MAX)
    return L->s = lp_error(LEAP_ERR_INVALID_ARG, "model weights: tensor '%s' has %d dimensions or too long a name",
                           name, ndim);
  if (L->count == L->cap) {
    const int cap = L->cap ? 2 * L->cap : 32;
    lp_weight *w = lp_realloc(L->w, (size_t)cap * sizeof *w);
    if (!w) return L->s = lp_error(LEAP_ERR_NOMEM, "model weights: out of memory");
    L->w = w, L->cap = cap;
  }
  lp_weight *t = &L->w[L->count];
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->ndim = ndim;
  t->numel = 1;
  int empty = 0;
  for (int i = 0; i < ndim; i++) {
    t->shape[i] = shape[i];
    empty |= shape[i] < 1;
    t->numel *= (size_t)shape[i];
  }
  if (empty)
    return L->s = lp_error(LEAP_ERR_INVALID_ARG, "model weights: tensor '%s' has an empty shape", name);
  t->off = L->total;
  t->block = block;
  t->role = role;
  t->role_name = role_name;
  t->init = init;
  t->trainable = init != LP_WINIT_SINCOS_2D;
  t->decay = t->trainable && ndim >= 2;
  L->total += t->numel;
  L->count++;
  return LEAP_OK;
}

void lp_weights_free(lp_weight_list *L) {
  free(L->w);
  memset(L, 0, sizeof *L);
}

const lp_weight *lp_weights_find(const lp_weight_list *L, const char *name) {
  for (int i = 0; i < L->count; i++)
    if (strcmp(L->w[i].name, name) == 0) return &L->w[i];
  return NULL;
}

int lp_weights_index(const lp_weight_list *L, int block, int role) {
  for (int i = 0; i < L->count; i++)
    if (L->w[i].block == block && L->w[i].role == role) return i;
  return -1;
}
