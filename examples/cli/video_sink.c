/* video_sink.c - see video_sink.h. */
#define _POSIX_C_SOURCE 200809L
#include "video_sink.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "error.h"
#include "interrupt.h"
#include "output.h"
#include "png_grid.h"
#include "sample_io.h"
#include "video_file.h"
#include "video_tiles.h"

struct video_sink {
  video_sink_desc d;
  size_t per_frame;         /* c * h * w */
  /* a video file */
  video_file *video;
  video_tiles tiles;
  uint8_t *picture;
  /* a PNG strip: kept frames [n][strip_cols][per_frame] */
  float *strip;
  int strip_cols;
  /* --raw-out: [n][frames][per_frame] */
  float *raw;
  video_timing timing;
  char codec[32];           /* the video's encoder ("" for a strip) */
  leap_status error;
  char message[512];
};

static int is_png(const char *path) {
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  return dot && (!slash || dot > slash) && strcasecmp(dot, ".png") == 0;
}

/* The outputs' buffers and any temporary not landed. */
static void release_outputs(video_sink *s) {
  video_file_abort(s->video);
  s->video = NULL;
  free(s->picture);
  free(s->strip);
  free(s->raw);
  s->picture = NULL;
  s->strip = s->raw = NULL;
}

void video_sink_close(video_sink *s) {
  if (!s) return;
  release_outputs(s);
  video_timing_free(&s->timing);
  free(s);
}

leap_status video_sink_open(const video_sink_desc *d, video_sink **out) {
  *out = NULL;
  if (d->n < 1 || d->frames < 1 || d->strip_every < 1 || (d->c != 1 && d->c != 3))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: cannot write %d clips of %d frames with %d channels", d->out, d->n,
                    d->frames, d->c);
  video_sink *s = lp_calloc(1, sizeof *s);
  if (!s) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  s->d = *d;
  s->per_frame = (size_t)d->c * d->h * d->w;
  int oom = video_timing_init(&s->timing, d->frames, d->n) != 0;
  if (!oom && is_png(d->out)) {
    s->strip_cols = (d->frames + d->strip_every - 1) / d->strip_every;
    oom = !(s->strip = lp_malloc((size_t)d->n * s->strip_cols * s->per_frame * sizeof *s->strip));
  }
  if (!oom && d->raw_out) oom = !(s->raw = lp_malloc((size_t)d->n * d->frames * s->per_frame * sizeof *s->raw));
  leap_status st = LEAP_OK;
  if (!oom && !s->strip) {
    video_tiles_init(&s->tiles, d->n, d->c, d->h, d->w);
    oom = !(s->picture = lp_malloc((size_t)s->tiles.width * s->tiles.height * d->c));
    if (!oom)
      st = video_file_open(d->out, s->tiles.width, s->tiles.height, d->c, d->fps, d->inputs, d->ninputs, &s->video);
    if (st == LEAP_OK && s->video) snprintf(s->codec, sizeof s->codec, "%s", video_file_codec(s->video));
  }
  if (oom) st = lp_error(LEAP_ERR_NOMEM, "out of memory for %d clips of %d frames", d->n, d->frames);
  if (st != LEAP_OK) {
    video_sink_close(s);
    return st;
  }
  *out = s;
  return LEAP_OK;
}

/* Keeps the failure (and its message) and asks the run to stop. */
static int fail(video_sink *s, leap_status st) {
  s->error = st;
  snprintf(s->message, sizeof s->message, "%s", leap_last_error());
  return 1;
}

int video_sink_on_frames(void *user, int first, int count, const float *video) {
  video_sink *s = user;
  if (s->error != LEAP_OK) return 1;
  const int done = s->timing.done;
  if (first != done || count < 1 || first + count > s->d.frames)
    return fail(s, lp_error(LEAP_ERR_INVALID_ARG,
                            "frames %d..%d arrived when frame %d was next; leap video writes frames in order",
                            first, first + count - 1, done));
  const size_t all = (size_t)s->d.n * count * s->per_frame;
  for (size_t k = 0; k < all; k++)
    if (!isfinite(video[k]))
      return fail(s, lp_error(LEAP_ERR_NUMERIC,
                              "sampling produced a non-finite value in frame %d of clip %zu; nothing was written",
                              first + (int)(k / s->per_frame % (size_t)count),
                              k / (s->per_frame * (size_t)count)));
  for (int j = 0; j < count; j++) {
    const int f = first + j;
    for (int i = 0; i < s->d.n; i++) {
      const float *src = video + ((size_t)i * count + j) * s->per_frame;
      if (s->raw) memcpy(s->raw + ((size_t)i * s->d.frames + f) * s->per_frame, src, s->per_frame * sizeof *src);
      if (s->strip && f % s->d.strip_every == 0)
        memcpy(s->strip + ((size_t)i * s->strip_cols + f / s->d.strip_every) * s->per_frame, src,
               s->per_frame * sizeof *src);
    }
    if (s->video) {
      video_tiles_frame(&s->tiles, video, count, j, s->picture);
      const leap_status st = video_file_write(s->video, s->picture);
      if (st != LEAP_OK) return fail(s, st);
    }
  }
  video_timing_mark(&s->timing, first, count);
  return cli_interrupted();
}

leap_status video_sink_error(const video_sink *s) {
  if (s->error != LEAP_OK) lp_error(s->error, "%s", s->message);
  return s->error;
}

int video_sink_done(const video_sink *s) { return s->timing.done; }
const video_timing *video_sink_timing(const video_sink *s) { return &s->timing; }
const char *video_sink_codec(const video_sink *s) { return s->codec; }

/* Rows of `have` items, `stride` apart, packed to `have` apart (in place:
 * every row moves towards the start). */
static void pack_rows(float *x, int rows, int stride, int have, size_t item) {
  if (have == stride) return;
  for (int r = 1; r < rows; r++)
    memmove(x + (size_t)r * have * item, x + (size_t)r * stride * item, (size_t)have * item * sizeof *x);
}

leap_status video_sink_finish(video_sink *s, const char *const *meta, int pairs) {
  const int done = s->timing.done;
  if (done < 1 || (!s->video && !s->strip)) {
    release_outputs(s);
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: no frames were finished; nothing was written", s->d.out);
  }
  lp_out *outs[2] = {NULL, NULL};
  leap_status st;
  if (s->video) {
    st = video_file_finish_unit(s->video, &outs[0]);
    s->video = NULL;
  } else {
    const int kept = (done + s->d.strip_every - 1) / s->d.strip_every;
    pack_rows(s->strip, s->d.n, s->strip_cols, kept, s->per_frame);
    st = png_grid_write_cols_unit(s->d.out, s->strip, s->d.n * kept, kept, s->d.c, s->d.h, s->d.w, s->d.inputs,
                                  s->d.ninputs, &outs[0]);
  }
  const int raw = s->raw != NULL;
  if (st == LEAP_OK && raw) {
    pack_rows(s->raw, s->d.n, s->d.frames, done, s->per_frame);
    st = cli_write_video(s->d.raw_out, s->raw, s->d.n, done, s->d.c, s->d.h, s->d.w, meta, pairs, s->d.inputs,
                         s->d.ninputs, &outs[1]);
  }
  if (st == LEAP_OK) st = lp_out_commit_all(outs, raw ? 2 : 1);
  else lp_out_abort(outs[0]), lp_out_abort(outs[1]);
  release_outputs(s);
  return st;
}
