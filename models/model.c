/* model.c - the public leap_model API over an architecture (arch.h): the
 * file names its architecture, whose weight list says what to load. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "struct_size.h"
#include "model_internal.h"

static void model_free(leap_model *m) {
  if (m->arch && m->impl) m->arch->destroy(m->impl);
  lp_model_weights_release(m->ctx->be, &m->weights, m->bufs);
  lp_weights_free(&m->weights);
  free(m);
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
  m->ctx = ctx;
  s = lp_model_arch_find(path, lp_st_meta(f, "arch"), &m->arch);
  if (s == LEAP_OK) s = m->arch->describe(f, &m->info);
  if (s == LEAP_OK) s = m->arch->weights(&m->info, &m->weights);
  if (s == LEAP_OK) s = lp_model_weights_load(ctx->be, f, &m->weights, &m->bufs);
  lp_st_close(f);
  if (s == LEAP_OK) {
    m->info.parameters = (int64_t)m->weights.total;
    s = m->arch->create(ctx, &m->info, &m->weights, m->bufs, &m->impl);
  }
  if (s != LEAP_OK) {
    model_free(m);
    return s;
  }
  *out = m;
  return LEAP_OK;
}

void leap_model_destroy(leap_model *m) {
  if (m) model_free(m);
}

leap_status leap_model_get_info(const leap_model *m, leap_model_info *out) {
  if (!m || !out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_get_info: NULL argument");
  return lp_struct_out(out, &m->info, sizeof m->info, "leap_model_get_info");
}

/* x, t and y of a forward pass; "what" names the public call. */
/* x, t [n, frames] and y of a forward pass of `frames` frames. */
static leap_status check_frames(const leap_model *m, int n, int frames, const float *x, const float *t,
                                const int32_t *y, const char *what) {
  if (!m || !x || !t) return lp_error(LEAP_ERR_INVALID_ARG, "%s: NULL argument", what);
  const leap_model_info *info = &m->info;
  if (n < 1 || n > 65536) return lp_error(LEAP_ERR_INVALID_ARG, "%s: batch %d outside 1..65536", what, n);
  /* t [n, F]: one timestep per frame. */
  const int64_t nt = (int64_t)n * frames;
  for (int64_t k = 0; k < nt; k++)
    if (!isfinite(t[k]))
      return lp_error(LEAP_ERR_NUMERIC, "%s: timestep %lld is not finite", what, (long long)k);
  for (int b = 0; b < n; b++) {
    if (info->num_classes > 0) {
      if (!y) return lp_error(LEAP_ERR_INVALID_ARG, "%s: the model is class-conditional and no labels were given", what);
      if (y[b] < 0 || y[b] > info->num_classes)
        return lp_error(LEAP_ERR_INVALID_ARG, "%s: label %d of image %d outside 0..%d (%d = null class)", what,
                        y[b], b, info->num_classes, info->null_class);
    }
  }
  return LEAP_OK;
}

static leap_status check_inputs(const leap_model *m, int n, const float *x, const float *t, const int32_t *y,
                                const char *what) {
  return check_frames(m, n, m ? m->info.clip_frames : 1, x, t, y, what);
}

static leap_status no_stages(const leap_model *m, const char *what) {
  return lp_error(LEAP_ERR_UNSUPPORTED, "%s: arch '%s' runs its forward pass in one piece (leap_model_forward)",
                  what, m->info.arch);
}

leap_status leap_model_embed(leap_model *m, int n, const float *x, const float *t,
                             const int32_t *y) {
  leap_status s = check_inputs(m, n, x, t, y, "leap_model_embed");
  if (s != LEAP_OK) return s;
  if (!m->arch->embed) return no_stages(m, "leap_model_embed");
  return m->arch->embed(m->impl, n, x, t, y);
}

leap_status leap_model_blocks(leap_model *m) {
  if (!m) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_blocks: NULL model");
  if (!m->arch->blocks) return no_stages(m, "leap_model_blocks");
  return m->arch->blocks(m->impl);
}

leap_status leap_model_final(leap_model *m, float *out) {
  if (!m || !out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_final: NULL argument");
  if (!m->arch->final) return no_stages(m, "leap_model_final");
  return m->arch->final(m->impl, out);
}

leap_status leap_model_hidden(leap_model *m, leap_tensor **h) {
  if (!m || !h) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_hidden: NULL argument");
  if (!m->arch->hidden) return no_stages(m, "leap_model_hidden");
  return m->arch->hidden(m->impl, h);
}

leap_status leap_model_forward(leap_model *m, int n, const float *x, const float *t,
                               const int32_t *y, float *out) {
  if (m && m->arch->forward) {
    leap_status s = check_inputs(m, n, x, t, y, "leap_model_forward");
    if (s == LEAP_OK && !out) s = lp_error(LEAP_ERR_INVALID_ARG, "leap_model_forward: NULL argument");
    return s == LEAP_OK ? m->arch->forward(m->impl, n, x, t, y, out) : s;
  }
  leap_status s = leap_model_embed(m, n, x, t, y);
  if (s == LEAP_OK) s = leap_model_blocks(m);
  if (s == LEAP_OK) s = leap_model_final(m, out);
  return s;
}

leap_status leap_model_forward_frames(leap_model *m, int n, int frames, const float *x, const float *t,
                                     const int32_t *y, float *out) {
  const char *who = "leap_model_forward_frames";
  if (!m || !out) return lp_error(LEAP_ERR_INVALID_ARG, "%s: NULL argument", who);
  if (frames < 1 || frames > (1 << 24))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: frames = %d outside 1..2^24", who, frames);
  leap_status s = check_frames(m, n, frames, x, t, y, who);
  if (s != LEAP_OK) return s;
  if (m->arch->forward_frames) return m->arch->forward_frames(m->impl, n, frames, x, t, y, out);
  if (frames != m->info.clip_frames)
    return lp_error(LEAP_ERR_UNSUPPORTED, "%s: arch '%s' takes %d frame%s per pass, not %d", who, m->info.arch,
                    m->info.clip_frames, m->info.clip_frames == 1 ? "" : "s", frames);
  return leap_model_forward(m, n, x, t, y, out);
}

leap_status leap_model_weight_count(const leap_model *m, int *count) {
  if (!m || !count) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_weight_count: NULL argument");
  *count = m->weights.count;
  return LEAP_OK;
}

leap_status leap_model_weight(const leap_model *m, int index, leap_weight_info *out) {
  if (!m || !out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_weight: NULL argument");
  if (lp_struct_check(out, "leap_model_weight") != LEAP_OK) return LEAP_ERR_INVALID_ARG;
  if (index < 0 || index >= m->weights.count)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_model_weight: index %d outside 0..%d", index, m->weights.count - 1);
  const lp_weight *w = &m->weights.w[index];
  leap_weight_info wi;
  memset(&wi, 0, sizeof wi);
  wi.struct_size = sizeof wi;
  snprintf(wi.name, sizeof wi.name, "%s", w->name);
  wi.ndim = w->ndim;
  memcpy(wi.shape, w->shape, sizeof wi.shape);
  wi.block = w->block;
  snprintf(wi.role, sizeof wi.role, "%s", w->role_name ? w->role_name : "");
  wi.trainable = w->trainable;
  return lp_struct_out(out, &wi, sizeof wi, "leap_model_weight");
}
