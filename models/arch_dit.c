/* arch_dit.c - the image DiT as an lp_model_arch: its description
 * (dit_load.c), weight list (dit_weights.c), forward stages (dit_plan.c)
 * and sampling step (dit_step.c) behind the model interface. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "alloc.h"
#include "dit.h"
#include "dit_step.h"
#include "error.h"
#include "model_internal.h"

/* Where each role's buffer goes in the runtime: a field of lp_dit (the
 * model's own tensors) or of lp_dit_block. */
static const struct {
  size_t model_field, block_field; /* offsetof, or SIZE_MAX */
} kSlots[LP_DIT_ROLES] = {
    [LP_DIT_X_W] = {offsetof(lp_dit, x_w), SIZE_MAX},
    [LP_DIT_X_B] = {offsetof(lp_dit, x_b), SIZE_MAX},
    [LP_DIT_POS] = {offsetof(lp_dit, pos), SIZE_MAX},
    [LP_DIT_T_W0] = {offsetof(lp_dit, t_w0), SIZE_MAX},
    [LP_DIT_T_B0] = {offsetof(lp_dit, t_b0), SIZE_MAX},
    [LP_DIT_T_W2] = {offsetof(lp_dit, t_w2), SIZE_MAX},
    [LP_DIT_T_B2] = {offsetof(lp_dit, t_b2), SIZE_MAX},
    [LP_DIT_Y_TABLE] = {offsetof(lp_dit, y_table), SIZE_MAX},
    [LP_DIT_F_ADA_W] = {offsetof(lp_dit, f_ada_w), SIZE_MAX},
    [LP_DIT_F_ADA_B] = {offsetof(lp_dit, f_ada_b), SIZE_MAX},
    [LP_DIT_F_W] = {offsetof(lp_dit, f_w), SIZE_MAX},
    [LP_DIT_F_B] = {offsetof(lp_dit, f_b), SIZE_MAX},
    [LP_DIT_ADA_W] = {SIZE_MAX, offsetof(lp_dit_block, ada_w)},
    [LP_DIT_ADA_B] = {SIZE_MAX, offsetof(lp_dit_block, ada_b)},
    [LP_DIT_QKV_W] = {SIZE_MAX, offsetof(lp_dit_block, qkv_w)},
    [LP_DIT_QKV_B] = {SIZE_MAX, offsetof(lp_dit_block, qkv_b)},
    [LP_DIT_PROJ_W] = {SIZE_MAX, offsetof(lp_dit_block, proj_w)},
    [LP_DIT_PROJ_B] = {SIZE_MAX, offsetof(lp_dit_block, proj_b)},
    [LP_DIT_FC1_W] = {SIZE_MAX, offsetof(lp_dit_block, fc1_w)},
    [LP_DIT_FC1_B] = {SIZE_MAX, offsetof(lp_dit_block, fc1_b)},
    [LP_DIT_FC2_W] = {SIZE_MAX, offsetof(lp_dit_block, fc2_w)},
    [LP_DIT_FC2_B] = {SIZE_MAX, offsetof(lp_dit_block, fc2_b)},
};

static void dit_destroy(void *impl) {
  lp_dit *d = impl;
  if (!d) return;
  lp_dit_plan_free(d);
  free(d->blocks);
  free(d);
}

static leap_status dit_create(leap_context *ctx, const leap_model_info *info, const lp_weight_list *L,
                              lp_buf *const *bufs, void **impl) {
  lp_dit *d = lp_calloc(1, sizeof *d);
  if (d) d->blocks = lp_calloc((size_t)info->depth, sizeof *d->blocks);
  if (!d || !d->blocks) {
    dit_destroy(d);
    return lp_error(LEAP_ERR_NOMEM, "model: out of memory");
  }
  d->ctx = ctx;
  d->be = ctx->be;
  d->info = *info;
  d->mlp_hidden = (int)L->w[lp_weights_index(L, 0, LP_DIT_FC1_W)].shape[0];
  d->parameters = (int64_t)L->total;
  for (int i = 0; i < L->count; i++) {
    const lp_weight *w = &L->w[i];
    const size_t field = w->block < 0 ? kSlots[w->role].model_field : kSlots[w->role].block_field;
    char *base = w->block < 0 ? (char *)d : (char *)&d->blocks[w->block];
    memcpy(base + field, &bufs[i], sizeof bufs[i]);
  }
  *impl = d;
  return LEAP_OK;
}

static size_t dit_id_description(const leap_model_info *in, unsigned char *buf, size_t cap) {
  /* The fields and order of the ids profiles were made with. */
  const int desc[] = {in->input_size, in->patch_size, in->in_channels, in->out_channels, in->hidden_size,
                      in->depth, in->num_heads, in->num_classes, in->null_class, in->learn_sigma,
                      (int)in->prediction};
  if (cap < sizeof desc + sizeof in->timestep_scale) return 0;
  memcpy(buf, desc, sizeof desc);
  memcpy(buf + sizeof desc, &in->timestep_scale, sizeof in->timestep_scale);
  return sizeof desc + sizeof in->timestep_scale;
}

static leap_status dit_embed(void *impl, int n, const float *x, const float *t, const int32_t *y) {
  lp_dit *d = impl;
  const leap_model_info *info = &d->info;
  leap_status s = lp_dit_plan_ensure(d, n);
  if (s != LEAP_OK) return s;
  const size_t img = (size_t)n * info->in_channels * info->input_size * info->input_size;
  float *temb = lp_malloc((size_t)n * LP_DIT_FREQ_DIM * sizeof(float));
  if (!temb) return lp_error(LEAP_ERR_NOMEM, "leap_model_embed: out of memory");
  lp_dit_timestep_features(n, t, temb);
  lp_backend *be = d->be;
  s = be->vt->buf_write(be, d->plan.x_in, 0, x, img * sizeof(float));
  if (s == LEAP_OK)
    s = be->vt->buf_write(be, d->plan.temb, 0, temb, (size_t)n * LP_DIT_FREQ_DIM * sizeof(float));
  free(temb);
  if (s == LEAP_OK && info->num_classes > 0)
    s = be->vt->buf_write(be, d->plan.labels, 0, y, (size_t)n * sizeof(int32_t));
  if (s == LEAP_OK) s = be->vt->prog_run(be, &d->plan.embed);
  d->stage = s == LEAP_OK ? 1 : 0;
  return s;
}

static leap_status dit_blocks(void *impl) {
  lp_dit *d = impl;
  if (d->stage != 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_blocks: call leap_model_embed first");
  leap_status s = d->be->vt->prog_run(d->be, &d->plan.blocks);
  d->stage = s == LEAP_OK ? 2 : 0;
  return s;
}

static leap_status dit_final(void *impl, float *out) {
  lp_dit *d = impl;
  /* A cache hook may skip the blocks (stage 1) and patch h itself. */
  if (d->stage < 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_final: call leap_model_embed first");
  leap_status s = d->be->vt->prog_run(d->be, &d->plan.final);
  const leap_model_info *info = &d->info;
  const size_t n = (size_t)d->plan.n * info->out_channels * info->input_size * info->input_size;
  if (s == LEAP_OK) s = d->be->vt->buf_read(d->be, d->plan.out, 0, out, n * sizeof(float));
  d->stage = 0;
  return s;
}

static leap_status dit_hidden(void *impl, leap_tensor **h) {
  lp_dit *d = impl;
  if (d->plan.n == 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_hidden: no forward pass has been planned yet (call leap_model_embed)");
  *h = &d->hidden;
  return LEAP_OK;
}

static leap_status step_prepare(void *impl, const lp_model_step *st, leap_tensor **hidden) {
  return lp_dit_step_prepare(impl, st, hidden);
}
static leap_status step_run(void *impl, lp_prog_cache *pc, const lp_model_step *st, const float *x, float t,
                            const int32_t *labels, float *out) {
  return lp_dit_step_run(impl, pc, st, x, t, labels, out);
}
static leap_status step_embed(void *impl, lp_prog_cache *pc, const lp_model_step *st, const float *x, float t,
                              const int32_t *labels) {
  return lp_dit_step_embed(impl, pc, st, x, t, labels);
}
static leap_status step_finish(void *impl, lp_prog_cache *pc, const lp_model_step *st, float *out) {
  return lp_dit_step_finish(impl, pc, st, out);
}

static const lp_model_step_ops kDitStep = {step_prepare, step_run, step_embed, step_finish};

const lp_model_arch lp_arch_dit = {
    .name = "dit",
    .describe = lp_dit_read_description,
    .weights = lp_dit_weights,
    .create = dit_create,
    .destroy = dit_destroy,
    .id_description = dit_id_description,
    .embed = dit_embed,
    .blocks = dit_blocks,
    .final = dit_final,
    .hidden = dit_hidden,
    .step = &kDitStep,
};

lp_dit *lp_model_dit(leap_model *m) { return m && m->arch == &lp_arch_dit ? m->impl : NULL; }
