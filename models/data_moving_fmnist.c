/* data_moving_fmnist.c - see data_moving_fmnist.h.
 *
 * Draws per clip, in this order from the clip's RNG stream: the garment
 * index, the top-left corner (x, y uniform in [0, room]), the speed
 * (uniform in [SPEED_MIN, SPEED_MAX]) and the direction (uniform angle).
 * Then frame t + 1's corner is frame t's plus the velocity, reflected at
 * 0 and at room (the velocity's component flips sign there). A frame
 * places the resized garment at its real-valued corner with bilinear
 * weights, so motion is sub-pixel and the frame's intensity centroid is the
 * garment's centroid moved by the corner: the ground-truth track. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "data_moving_fmnist.h"
#include "error.h"
#include "sampler.h"

#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_STATIC
#define STBIR_MALLOC(size, ctx) ((void)(ctx), lp_malloc(size))
#define STBIR_FREE(ptr, ctx) ((void)(ctx), free(ptr))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb_image_resize.h>
#pragma GCC diagnostic pop

enum { SRC_SIDE = 28, G = LP_MFMNIST_GARMENT, C = LP_MFMNIST_CANVAS, ROOM = C - G };
/* (int)SPEED_MAX + 1 <= ROOM implies SPEED_MAX < ROOM; a floating constant
 * may only appear cast in an integer constant expression (clang refuses the
 * plain comparison, which GCC takes as an extension). */
_Static_assert((int)LP_MFMNIST_SPEED_MAX + 1 <= ROOM, "a step must bounce at most once per axis");

void lp_mfmnist_clip_free(lp_mfmnist_clip *c) {
  if (!c) return;
  free(c->video);
  free(c->pos);
  free(c->vel);
  free(c->track);
  memset(c, 0, sizeof *c);
}

/* The garment at 16 x 16 in [-1, 1] (the filter may overshoot: clamped). */
static leap_status resize_garment(const float *src, float *dst) {
  if (!stbir_resize_float(src, SRC_SIDE, SRC_SIDE, 0, dst, G, G, 0, 1))
    return lp_error(LEAP_ERR_NOMEM, "moving fashion-mnist: resizing a garment failed (out of memory)");
  for (int k = 0; k < G * G; k++) dst[k] = dst[k] < -1.0f ? -1.0f : (dst[k] > 1.0f ? 1.0f : dst[k]);
  return LEAP_OK;
}

/* One step of one axis: move, reflect at the walls. */
static void step_axis(double *p, double *v) {
  double q = *p + *v;
  if (q < 0) q = -q, *v = -*v;
  if (q > ROOM) q = 2.0 * ROOM - q, *v = -*v;
  *p = q;
}

/* frame = background -1 plus the garment's mass (v + 1) placed at (x, y)
 * with bilinear weights: each garment pixel spreads over the 2 x 2 canvas
 * pixels around its position, all inside the canvas since x, y <= ROOM. */
static void render(const float *g, double x, double y, float *frame) {
  for (int k = 0; k < C * C; k++) frame[k] = 0.0f;
  const int x0 = (int)floor(x), y0 = (int)floor(y);
  const float fx = (float)(x - x0), fy = (float)(y - y0);
  const float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
  for (int r = 0; r < G; r++)
    for (int c = 0; c < G; c++) {
      const float m = g[r * G + c] + 1.0f;
      const int R = y0 + r, Cc = x0 + c;
      frame[R * C + Cc] += w00 * m;
      if (Cc + 1 < C) frame[R * C + Cc + 1] += w01 * m;
      if (R + 1 < C) frame[(R + 1) * C + Cc] += w10 * m;
      if (R + 1 < C && Cc + 1 < C) frame[(R + 1) * C + Cc + 1] += w11 * m;
    }
  for (int k = 0; k < C * C; k++) frame[k] = (frame[k] > 2.0f ? 2.0f : frame[k]) - 1.0f;
}

leap_status lp_mfmnist_clip_make(const lp_dataset *garments, uint64_t seed, lp_mfmnist_split split,
                                 int64_t index, int frames, lp_mfmnist_clip *out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "moving fashion-mnist: out is NULL");
  memset(out, 0, sizeof *out);
  if (!garments || garments->n < 1 || garments->channels != 1 || garments->height != SRC_SIDE ||
      garments->width != SRC_SIDE)
    return lp_error(LEAP_ERR_INVALID_ARG, "moving fashion-mnist: needs a one-channel %dx%d data set (Fashion-MNIST)",
                    SRC_SIDE, SRC_SIDE);
  if (split != LP_MFMNIST_TRAIN && split != LP_MFMNIST_EVAL)
    return lp_error(LEAP_ERR_INVALID_ARG, "moving fashion-mnist: split %d is neither train nor eval", (int)split);
  if (index < 0 || index > INT64_MAX / 2)
    return lp_error(LEAP_ERR_INVALID_ARG, "moving fashion-mnist: clip index %lld out of range", (long long)index);
  if (split == LP_MFMNIST_TRAIN && frames == 0) frames = LP_MFMNIST_TRAIN_FRAMES;
  if (split == LP_MFMNIST_TRAIN && frames != LP_MFMNIST_TRAIN_FRAMES)
    return lp_error(LEAP_ERR_INVALID_ARG, "moving fashion-mnist: training clips have %d frames, not %d",
                    LP_MFMNIST_TRAIN_FRAMES, frames);
  if (frames < 1 || frames > (1 << 20))
    return lp_error(LEAP_ERR_INVALID_ARG, "moving fashion-mnist: %d frames (need 1 .. %d)", frames, 1 << 20);

  lp_rng rng;
  lp_rng_seed(&rng, seed, 2 * (uint64_t)index + (uint64_t)split);
  const int gi = (int)(lp_rng_next_u64(&rng) % (uint64_t)garments->n);
  double x = lp_rng_uniform(&rng) * ROOM, y = lp_rng_uniform(&rng) * ROOM;
  const double speed = LP_MFMNIST_SPEED_MIN + (LP_MFMNIST_SPEED_MAX - LP_MFMNIST_SPEED_MIN) * lp_rng_uniform(&rng);
  const double angle = 6.283185307179586 * lp_rng_uniform(&rng);
  double vx = speed * cos(angle), vy = speed * sin(angle);

  float g[G * G];
  lp_mfmnist_clip c = {.frames = frames, .label = garments->labels[gi], .garment = gi};
  c.video = lp_malloc((size_t)frames * C * C * sizeof(float));
  c.pos = lp_malloc((size_t)frames * 2 * sizeof(float));
  c.vel = lp_malloc((size_t)frames * 2 * sizeof(float));
  c.track = lp_malloc((size_t)frames * 2 * sizeof(float));
  leap_status s = c.video && c.pos && c.vel && c.track
                      ? LEAP_OK
                      : lp_error(LEAP_ERR_NOMEM, "moving fashion-mnist: out of memory for %d frames", frames);
  if (s == LEAP_OK) s = resize_garment(garments->images + (size_t)gi * SRC_SIDE * SRC_SIDE, g);
  if (s != LEAP_OK) {
    lp_mfmnist_clip_free(&c);
    return s;
  }
  /* The garment's own intensity centroid (in its 16 x 16 pixel grid). */
  double mass = 0, cx = 0, cy = 0;
  for (int r = 0; r < G; r++)
    for (int col = 0; col < G; col++) {
      const double m = g[r * G + col] + 1.0;
      mass += m, cx += m * col, cy += m * r;
    }
  if (mass > 0) cx /= mass, cy /= mass;
  else cx = cy = (G - 1) / 2.0; /* an empty garment: the box centre */
  for (int t = 0; t < frames; t++) {
    render(g, x, y, c.video + (size_t)t * C * C);
    c.pos[2 * t] = (float)x, c.pos[2 * t + 1] = (float)y;
    c.track[2 * t] = (float)(x + cx), c.track[2 * t + 1] = (float)(y + cy);
    c.vel[2 * t] = (float)vx, c.vel[2 * t + 1] = (float)vy;
    step_axis(&x, &vx);
    step_axis(&y, &vy);
  }
  *out = c;
  return LEAP_OK;
}
