/* video_meta.c - see video_meta.h. */
#define _POSIX_C_SOURCE 200809L
#include "video_meta.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "error.h"
#include "file_write.h"
#include "safetensors.h"

static void meta_str(video_meta *m, const char *key, const char *value) {
  if (m->count == VIDEO_META_MAX) return;
  m->pairs[2 * m->count] = key;
  m->pairs[2 * m->count + 1] = value;
  m->count++;
}

static void meta_fmt(video_meta *m, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void meta_fmt(video_meta *m, const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *at = m->text + m->used;
  const int k = vsnprintf(at, sizeof m->text - m->used, fmt, ap);
  va_end(ap);
  if (k < 0 || (size_t)k >= sizeof m->text - m->used) return;
  m->used += (size_t)k + 1;
  meta_str(m, key, at);
}

/* "0,1,2" (or "none" without labels). */
static char *labels_text(const int32_t *labels, int n) {
  if (!labels) return lp_strdup("none");
  lp_strbuf b = {0};
  for (int i = 0; i < n; i++) lp_strbuf_printf(&b, i ? ",%d" : "%d", (int)labels[i]);
  if (b.oom) {
    free(b.data);
    return NULL;
  }
  return b.data;
}

/* The garment's side in the model's training data, when its metadata says
 * (written by `leap train` for moving Fashion-MNIST); "" when absent. */
static void model_garment(const char *model_path, char *out, size_t size) {
  out[0] = 0;
  lp_st_file *f = NULL;
  if (lp_st_open(model_path, &f) != LEAP_OK) return;
  static const char *const keys[] = {"garment_size", "data.garment_size", "train.garment_size"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys && !out[0]; i++) {
    const char *v = lp_st_meta(f, keys[i]);
    if (v) snprintf(out, size, "%s", v);
  }
  lp_st_close(f);
}

leap_status video_meta_build(video_meta *m, const leap_video_desc *d, const leap_model_info *info,
                             const char *model_path, const char *device, const char *family, const char *kv,
                             int done) {
  m->count = 0;
  m->used = 0;
  if (!(m->labels = labels_text(d->labels, d->n))) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  char garment[32];
  model_garment(model_path, garment, sizeof garment);
  meta_str(m, "model", model_path);
  meta_str(m, "arch", info->arch);
  meta_fmt(m, "n", "%d", d->n);
  meta_str(m, "labels", m->labels);
  meta_fmt(m, "frames", "%d", done);
  meta_fmt(m, "frames_requested", "%d", d->frames);
  meta_str(m, "interrupted", done < d->frames ? "true" : "false");
  meta_fmt(m, "steps", "%d", d->steps);
  meta_str(m, "sampler", "euler");
  meta_str(m, "schedule", "flow");
  meta_fmt(m, "cfg", "%.17g", d->cfg);
  meta_fmt(m, "shift", "%.17g", d->shift);
  meta_fmt(m, "seed", "%llu", (unsigned long long)d->seed);
  meta_str(m, "family", family);
  meta_fmt(m, "ar_step", "%d", d->ar_step);
  meta_fmt(m, "window", "%d", d->window);
  meta_fmt(m, "lag", "%d", d->lag);
  meta_fmt(m, "shuffle_window", "%d", d->shuffle_window);
  meta_fmt(m, "shuffle_stride", "%d", d->shuffle_stride ? d->shuffle_stride : info->frames_per_chunk);
  meta_str(m, "kv", kv);
  meta_fmt(m, "kv_sinks", "%d", d->kv.sinks);
  meta_fmt(m, "kv_window", "%d", d->kv.window);
  meta_fmt(m, "kv_store", "%d", d->kv.store);
  meta_fmt(m, "kv_topk", "%d", d->kv.top_k);
  meta_fmt(m, "recompute", "%d", d->recompute);
  /* The block cache's profile and setting: a cached run's clips are not
   * full compute's (leap eval --samples X --against FULL reads the drift). */
  meta_str(m, "cache_profile", d->cache_profile ? d->cache_profile : "none");
  meta_fmt(m, "cache_setting", "%d", d->cache_setting);
  meta_fmt(m, "cache_adjust", "%d", d->cache_adjust);
  meta_fmt(m, "frames_per_chunk", "%d", info->frames_per_chunk);
  meta_fmt(m, "clip_frames", "%d", info->clip_frames);
  meta_fmt(m, "channels", "%d", info->in_channels);
  meta_fmt(m, "canvas_height", "%d", info->height);
  meta_fmt(m, "canvas_width", "%d", info->width);
  if (garment[0]) meta_str(m, "garment_size", garment);
  meta_str(m, "device", device);
  return m->count < VIDEO_META_MAX ? LEAP_OK : lp_error(LEAP_ERR_INVALID_ARG, "too many settings for the metadata");
}

void video_meta_free(video_meta *m) {
  free(m->labels);
  m->labels = NULL;
}
