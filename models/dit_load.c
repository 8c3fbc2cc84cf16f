/* dit_load.c - reading a DiT's description from safetensors: __metadata__
 * checked against the tensor shapes. The weights load through the DiT's
 * weight list (dit_weights.c, model_weights.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dit.h"
#include "alloc.h"
#include "error.h"
#include "safetensors.h"

/* The largest integer a model's __metadata__ (or a shape it is checked
 * against) may hold. */
#define META_INT_MAX 1000000

static leap_status meta_int(const lp_st_file *f, const char *key, int fallback, int *out) {
  const char *v = lp_st_meta(f, key);
  if (!v) {
    if (fallback < 0)
      return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ lacks '%s' (needed to describe the model)",
                      lp_st_path(f), key);
    *out = fallback;
    return LEAP_OK;
  }
  char *end;
  long x = strtol(v, &end, 10);
  if (end == v || *end || x < 0 || x > META_INT_MAX)
    return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ '%s' = '%s' is not a valid integer",
                    lp_st_path(f), key, v);
  *out = (int)x;
  return LEAP_OK;
}

static leap_status meta_double(const lp_st_file *f, const char *key, double fallback,
                               double *out) {
  const char *v = lp_st_meta(f, key);
  if (!v) {
    *out = fallback;
    return LEAP_OK;
  }
  char *end;
  double x = strtod(v, &end);
  if (end == v || *end || !isfinite(x) || x <= 0)
    return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ '%s' = '%s' is not a positive number",
                    lp_st_path(f), key, v);
  *out = x;
  return LEAP_OK;
}

/* Fills m->info from the metadata; shapes give defaults where a key is
 * missing, and any disagreement between the two is an error. */
static leap_status read_description(const lp_st_file *f, leap_model_info *info) {
  memset(info, 0, sizeof *info);
  info->struct_size = sizeof *info;
  const lp_st_tensor *xw = lp_st_find(f, "x_embedder.proj.weight");
  const lp_st_tensor *pos = lp_st_find(f, "pos_embed");
  const lp_st_tensor *ytab = lp_st_find(f, "y_embedder.embedding_table.weight");
  if (!xw || xw->ndim != 4)
    return lp_error(LEAP_ERR_FORMAT, "%s: no 4-D tensor 'x_embedder.proj.weight' (is this a DiT?)",
                    lp_st_path(f));
  if (!pos || pos->ndim != 3)
    return lp_error(LEAP_ERR_FORMAT, "%s: no 3-D tensor 'pos_embed'", lp_st_path(f));
  snprintf(info->arch, sizeof info->arch, "dit");
  int depth = 0;
  char name[128];
  for (;;) {
    snprintf(name, sizeof name, "blocks.%d.attn.qkv.weight", depth);
    if (!lp_st_find(f, name)) break;
    depth++;
  }
  /* Dimensions within the metadata's own range before they become ints
   * (and grid * p below cannot overflow). */
  for (int d = 0; d < 4; d++)
    if (xw->shape[d] > META_INT_MAX || (d < 3 && pos->shape[d] > META_INT_MAX) ||
        (ytab && d < ytab->ndim && ytab->shape[d] > META_INT_MAX))
      return lp_error(LEAP_ERR_FORMAT, "%s: a dimension of x_embedder, pos_embed or y_embedder is over %d",
                      lp_st_path(f), META_INT_MAX);
  if (ytab && ytab->ndim < 1)
    return lp_error(LEAP_ERR_FORMAT, "%s: 'y_embedder.embedding_table.weight' is a scalar", lp_st_path(f));
  const int hidden = (int)xw->shape[0], cin = (int)xw->shape[1], p = (int)xw->shape[2];
  const int tokens = (int)pos->shape[1];
  const int grid = (int)lround(sqrt((double)tokens));
  leap_status s;
  if ((s = meta_int(f, "hidden_size", hidden, &info->hidden_size)) ||
      (s = meta_int(f, "in_channels", cin, &info->in_channels)) ||
      (s = meta_int(f, "patch_size", p, &info->patch_size)) ||
      (s = meta_int(f, "depth", depth, &info->depth)) ||
      (s = meta_int(f, "input_size", grid * p, &info->input_size)) ||
      (s = meta_int(f, "num_heads", -1, &info->num_heads)) ||
      (s = meta_int(f, "num_classes", ytab ? (int)ytab->shape[0] - 1 : 0, &info->num_classes)) ||
      (s = meta_int(f, "null_class", info->num_classes, &info->null_class)))
    return s;
  if ((s = meta_double(f, "mlp_ratio", 4.0, &info->mlp_ratio)) ||
      (s = meta_double(f, "timestep_scale", 1.0, &info->timestep_scale)))
    return s;
  const char *ls = lp_st_meta(f, "learn_sigma");
  info->learn_sigma = ls && (!strcmp(ls, "True") || !strcmp(ls, "true") || !strcmp(ls, "1"));
  const char *pred = lp_st_meta(f, "prediction");
  if (!pred || !strcmp(pred, "eps")) info->prediction = LEAP_PRED_EPS;
  else if (!strcmp(pred, "v")) info->prediction = LEAP_PRED_V;
  else if (!strcmp(pred, "flow_v")) info->prediction = LEAP_PRED_FLOW_V;
  else
    return lp_error(LEAP_ERR_FORMAT, "%s: __metadata__ prediction '%s' is not eps, v or flow_v",
                    lp_st_path(f), pred);
  info->out_channels = info->in_channels * (info->learn_sigma ? 2 : 1);
  info->tokens = tokens;
  info->height = info->width = info->input_size; /* the image DiT: one square frame */
  info->frames_per_chunk = info->clip_frames = 1;
  snprintf(info->weight_dtype, sizeof info->weight_dtype, "%s", lp_dtype_name(xw->dtype));

  /* Consistency between the description and the shapes. */
  const leap_model_info *d = info;
  if (d->hidden_size != hidden || d->in_channels != cin || d->patch_size != p ||
      xw->shape[3] != p || d->depth != depth || d->depth < 1)
    return lp_error(LEAP_ERR_FORMAT,
                    "%s: __metadata__ (hidden %d, channels %d, patch %d, depth %d) disagrees with "
                    "the tensors (hidden %d, channels %d, patch %d, %d blocks)",
                    lp_st_path(f), d->hidden_size, d->in_channels, d->patch_size, d->depth, hidden,
                    cin, p, depth);
  if (d->patch_size < 1 || d->input_size % d->patch_size ||
      (int64_t)(d->input_size / d->patch_size) * (d->input_size / d->patch_size) != tokens)
    return lp_error(LEAP_ERR_FORMAT, "%s: input_size %d with patch %d does not give the %d tokens of pos_embed",
                    lp_st_path(f), d->input_size, d->patch_size, tokens);
  if (d->num_heads < 1 || d->hidden_size % d->num_heads)
    return lp_error(LEAP_ERR_FORMAT, "%s: hidden_size %d is not divisible by num_heads %d",
                    lp_st_path(f), d->hidden_size, d->num_heads);
  if (d->hidden_size / d->num_heads > LP_DIT_MAX_HEAD_DIM || tokens > LP_DIT_MAX_TOKENS)
    return lp_error(LEAP_ERR_UNSUPPORTED, "%s: head_dim %d / tokens %d exceed this build's limits (%d / %d)",
                    lp_st_path(f), d->hidden_size / d->num_heads, tokens, LP_DIT_MAX_HEAD_DIM,
                    LP_DIT_MAX_TOKENS);
  if (d->num_classes > 0 && (d->null_class < 0 || d->null_class > d->num_classes))
    return lp_error(LEAP_ERR_FORMAT, "%s: null_class %d outside 0..%d", lp_st_path(f),
                    d->null_class, d->num_classes);
  return LEAP_OK;
}

leap_status lp_dit_read_description(const lp_st_file *f, leap_model_info *info) {
  return read_description(f, info);
}
