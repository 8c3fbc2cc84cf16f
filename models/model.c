/* model.c - the public leap_model API over the DiT runtime. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dit.h"
#include "alloc.h"
#include "error.h"
#include "model_internal.h"

static void free_weights(lp_dit *m) {
  lp_buf **w[] = {&m->x_w, &m->x_b, &m->pos, &m->t_w0, &m->t_b0, &m->t_w2, &m->t_b2,
                  &m->y_table, &m->f_ada_w, &m->f_ada_b, &m->f_w, &m->f_b};
  for (size_t i = 0; i < sizeof w / sizeof *w; i++)
    if (*w[i]) m->be->vt->buf_free(m->be, *w[i]);
  for (int i = 0; m->blocks && i < m->info.depth; i++) {
    lp_dit_block *b = &m->blocks[i];
    lp_buf *bw[] = {b->ada_w, b->ada_b, b->qkv_w, b->qkv_b, b->proj_w,
                    b->proj_b, b->fc1_w, b->fc1_b, b->fc2_w, b->fc2_b};
    for (size_t k = 0; k < sizeof bw / sizeof *bw; k++)
      if (bw[k]) m->be->vt->buf_free(m->be, bw[k]);
  }
  free(m->blocks);
}

leap_status leap_model_load(leap_context *ctx, const char *path, leap_model **out) {
  if (!ctx || !path || !out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_load: NULL argument");
  *out = NULL;
  lp_st_file *f;
  leap_status s = lp_st_open(path, &f);
  if (s != LEAP_OK) return s;
  leap_model *m = lp_calloc(1, sizeof *m);
  if (!m) {
    lp_st_close(f);
    return lp_error(LEAP_ERR_NOMEM, "leap_model_load: out of memory");
  }
  m->dit.ctx = ctx;
  m->dit.be = ctx->be;
  s = lp_dit_read_description(f, &m->dit.info);
  if (s == LEAP_OK) s = lp_dit_load_weights(&m->dit, f);
  lp_st_close(f);
  if (s != LEAP_OK) {
    free_weights(&m->dit);
    free(m);
    return s;
  }
  m->dit.info.parameters = m->dit.parameters;
  *out = m;
  return LEAP_OK;
}

void leap_model_destroy(leap_model *m) {
  if (!m) return;
  lp_dit_plan_free(&m->dit);
  free_weights(&m->dit);
  free(m);
}

leap_status leap_model_get_info(const leap_model *m, leap_model_info *out) {
  if (!m || !out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_get_info: NULL argument");
  *out = m->dit.info;
  return LEAP_OK;
}

leap_status leap_model_embed(leap_model *m, int n, const float *x, const float *t,
                             const int32_t *y) {
  if (!m || !x || !t) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_embed: NULL argument");
  lp_dit *d = &m->dit;
  const leap_model_info *info = &d->info;
  if (n < 1 || n > 65536) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_embed: batch %d outside 1..65536", n);
  for (int b = 0; b < n; b++) {
    if (!isfinite(t[b]))
      return lp_error(LEAP_ERR_NUMERIC, "leap_model_embed: timestep %d is not finite", b);
    if (info->num_classes > 0) {
      if (!y) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_embed: the model is class-conditional and no labels were given");
      if (y[b] < 0 || y[b] > info->num_classes)
        return lp_error(LEAP_ERR_INVALID_ARG,
                        "leap_model_embed: label %d of image %d outside 0..%d (%d = null class)",
                        y[b], b, info->num_classes, info->null_class);
    }
  }
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

leap_status leap_model_blocks(leap_model *m) {
  if (!m) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_blocks: NULL model");
  if (m->dit.stage != 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_blocks: call leap_model_embed first");
  leap_status s = m->dit.be->vt->prog_run(m->dit.be, &m->dit.plan.blocks);
  m->dit.stage = s == LEAP_OK ? 2 : 0;
  return s;
}

leap_status leap_model_final(leap_model *m, float *out) {
  if (!m || !out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_final: NULL argument");
  lp_dit *d = &m->dit;
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

leap_status leap_model_hidden(leap_model *m, leap_tensor **h) {
  if (!m || !h) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_hidden: NULL argument");
  if (m->dit.plan.n == 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_hidden: no forward pass has been planned yet (call leap_model_embed)");
  *h = &m->dit.hidden;
  return LEAP_OK;
}

leap_status leap_model_forward(leap_model *m, int n, const float *x, const float *t,
                               const int32_t *y, float *out) {
  leap_status s = leap_model_embed(m, n, x, t, y);
  if (s == LEAP_OK) s = leap_model_blocks(m);
  if (s == LEAP_OK) s = leap_model_final(m, out);
  return s;
}
