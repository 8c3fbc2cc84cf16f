/* weights.h - an architecture's weights as one list (llm.c's ParameterTensors
 * + fill_in_parameter_sizes): each tensor's name, shape, block, role and
 * initialisation, in the order of the architecture's state dict. One list
 * per architecture serves the loader and free (model_weights.c), the model
 * id (sample/cache_model_id.c), the trainer's parameter layout
 * (train_params.c) and `leap info` (leap_model_weight). */
#ifndef LEAP_WEIGHTS_H
#define LEAP_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "leap.h"

#define LP_WEIGHT_MAX_DIMS 4
#define LP_WEIGHT_NAME_MAX LEAP_WEIGHT_NAME_MAX

/* How the trainer initialises a tensor. */
typedef enum lp_winit {
  LP_WINIT_ZERO = 0,   /* biases, adaLN-Zero, the zero final layer */
  LP_WINIT_XAVIER,     /* xavier-uniform on the [shape[0], numel / shape[0]] view */
  LP_WINIT_NORMAL,     /* normal(0, 0.02) */
  LP_WINIT_SINCOS_2D   /* the fixed 2-D sin-cos position embedding: not trained */
} lp_winit;

typedef struct lp_weight {
  char name[LP_WEIGHT_NAME_MAX];
  int ndim;
  int64_t shape[LP_WEIGHT_MAX_DIMS];
  size_t numel;
  size_t off;       /* offset (elements) in one flat array of the list, in order */
  int block;        /* the transformer block it belongs to; -1: the model's own */
  int role;         /* the architecture's slot for it (an enum of the architecture) */
  const char *role_name; /* what it does, for `leap info` (a static string) */
  lp_winit init;
  int trainable;    /* 0 for fixed tensors (the sin-cos position embedding) */
  int decay;        /* AdamW weight decay applies (matrices, not biases) */
} lp_weight;

typedef struct lp_weight_list {
  int count, cap;
  lp_weight *w;     /* [count] in state-dict order */
  size_t total;     /* elements of all tensors */
  leap_status s;    /* the first failure of lp_weights_add (then adds do nothing) */
} lp_weight_list;

/* Appends a tensor of shape[ndim]. A failure (out of memory, a bad shape)
 * is kept in L->s and returned by every later call. */
leap_status lp_weights_add(lp_weight_list *L, const char *name, int block, int role,
                           const char *role_name, lp_winit init, int ndim, const int64_t *shape);
void lp_weights_free(lp_weight_list *L);
const lp_weight *lp_weights_find(const lp_weight_list *L, const char *name);
/* The position of the tensor of (block, role); -1 if absent. */
int lp_weights_index(const lp_weight_list *L, int block, int role);

#endif
