/* model_internal.h - what a leap_model is: an architecture (arch.h), its
 * description, its weights (one list, loaded into backend buffers) and the
 * architecture's runtime over them. */
#ifndef LEAP_MODEL_INTERNAL_H
#define LEAP_MODEL_INTERNAL_H

#include "arch.h"
#include "dit.h"

struct leap_model {
  leap_context *ctx;
  const lp_model_arch *arch;
  leap_model_info info;
  lp_weight_list weights;
  lp_buf **bufs; /* [weights.count] float32 on ctx's backend */
  void *impl;    /* the architecture's runtime */
};

/* Loads every tensor of L from f into new float32 buffers (*bufs, [count],
 * in list order); on failure *bufs holds what was loaded, for release. */
leap_status lp_model_weights_load(lp_backend *be, const lp_st_file *f, const lp_weight_list *L, lp_buf ***bufs);
void lp_model_weights_release(lp_backend *be, const lp_weight_list *L, lp_buf **bufs);

/* The DiT runtime of m, or NULL when m is another architecture (for the
 * DiT-only ERTACache calibration). */
lp_dit *lp_model_dit(leap_model *m);

#endif
