/* video_metrics.c - see video_metrics.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "data_moving_fmnist.h"
#include "error.h"
#include "fd_metric.h"
#include "video_metrics.h"

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

enum { G = LP_MFMNIST_GARMENT, CROP = 28, TOP_K = 4, MAX_WALLS = 64 };

void lp_video_centroid(const float *frame, int h, int w, double *cx, double *cy) {
  double mass = 0, sx = 0, sy = 0;
  for (int r = 0; r < h; r++)
    for (int c = 0; c < w; c++) {
      double m = (frame[(size_t)r * w + c] + 1.0) * 0.5;
      m = m < 0 ? 0 : (m > 1 ? 1 : m);
      mass += m, sx += m * c, sy += m * r;
    }
  if (mass > 0) *cx = sx / mass, *cy = sy / mass;
  else *cx = (w - 1) / 2.0, *cy = (h - 1) / 2.0;
}

/* Pixel (r, c) of a frame, background (-1) outside it. */
static float pixel_or_background(const float *frame, int h, int w, int r, int c) {
  return r < 0 || c < 0 || r >= h || c >= w ? -1.0f : frame[(size_t)r * w + c];
}

leap_status lp_video_garment_crop(const float *frame, int h, int w, float *out) {
  if (!frame || !out || h < G || w < G)
    return lp_error(LEAP_ERR_INVALID_ARG, "video metrics: a %dx%d frame is smaller than the %dx%d garment",
                    h, w, G, G);
  double cx, cy;
  lp_video_centroid(frame, h, w, &cx, &cy);
  /* The box at its real-valued corner, bilinear: a garment moved by a
   * fraction of a pixel gives (nearly) the same crop, not one a pixel off. */
  const double x0 = cx - (G - 1) / 2.0, y0 = cy - (G - 1) / 2.0;
  const int ix = (int)floor(x0), iy = (int)floor(y0);
  const float fx = (float)(x0 - ix), fy = (float)(y0 - iy);
  float box[G * G];
  for (int r = 0; r < G; r++)
    for (int c = 0; c < G; c++) {
      const int R = iy + r, C = ix + c;
      box[r * G + c] = (1 - fy) * ((1 - fx) * pixel_or_background(frame, h, w, R, C) +
                                   fx * pixel_or_background(frame, h, w, R, C + 1)) +
                       fy * ((1 - fx) * pixel_or_background(frame, h, w, R + 1, C) +
                             fx * pixel_or_background(frame, h, w, R + 1, C + 1));
    }
  if (!stbir_resize_float(box, G, G, 0, out, CROP, CROP, 0, 1))
    return lp_error(LEAP_ERR_NOMEM, "video metrics: resizing a crop failed (out of memory)");
  for (int k = 0; k < CROP * CROP; k++) out[k] = out[k] < -1.0f ? -1.0f : (out[k] > 1.0f ? 1.0f : out[k]);
  return LEAP_OK;
}

void lp_video_frames_free(lp_video_frames *f) {
  if (!f) return;
  free(f->features);
  free(f->labels);
  free(f->centroid);
  memset(f, 0, sizeof *f);
}

leap_status lp_video_frames_analyse(const lp_classifier *c, const float *clips, int n, int frames,
                                    int h, int w, lp_video_frames *out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "video metrics: out is NULL");
  memset(out, 0, sizeof *out);
  if (!c || !clips || n < 1 || frames < 1 || (int64_t)n * frames > 10000000)
    return lp_error(LEAP_ERR_INVALID_ARG, "video metrics: need a classifier and 1 .. 10^7 frames (%d clips of %d)",
                    n, frames);
  if (c->arch.channels != 1 || c->arch.height != CROP || c->arch.width != CROP)
    return lp_error(LEAP_ERR_INVALID_ARG, "video metrics: the classifier takes [%d,%d,%d], crops are [1,%d,%d]",
                    c->arch.channels, c->arch.height, c->arch.width, CROP, CROP);
  if (h < G || w < G)
    return lp_error(LEAP_ERR_INVALID_ARG, "video metrics: %dx%d frames are smaller than the %dx%d garment", h, w,
                    G, G);
  const int total = n * frames, d = c->arch.hidden, k = c->arch.num_classes;
  lp_video_frames f = {.n = n, .frames = frames, .dim = d};
  float *crops = lp_malloc((size_t)total * CROP * CROP * sizeof *crops);
  float *logits = lp_malloc((size_t)total * k * sizeof *logits);
  f.features = lp_malloc((size_t)total * d * sizeof *f.features);
  f.labels = lp_malloc((size_t)total * sizeof *f.labels);
  f.centroid = lp_malloc((size_t)total * 2 * sizeof *f.centroid);
  leap_status s = crops && logits && f.features && f.labels && f.centroid
                      ? LEAP_OK
                      : lp_error(LEAP_ERR_NOMEM, "video metrics: out of memory for %d frames", total);
  for (int i = 0; s == LEAP_OK && i < total; i++) {
    const float *frame = clips + (size_t)i * h * w;
    lp_video_centroid(frame, h, w, &f.centroid[2 * i], &f.centroid[2 * i + 1]);
    s = lp_video_garment_crop(frame, h, w, crops + (size_t)i * CROP * CROP);
  }
  if (s == LEAP_OK) s = lp_classifier_infer(c, crops, total, f.features, logits);
  for (int i = 0; s == LEAP_OK && i < total; i++) {
    const float *l = logits + (size_t)i * k;
    int best = 0;
    for (int j = 1; j < k; j++)
      if (l[j] > l[best]) best = j;
    f.labels[i] = best;
  }
  free(crops);
  free(logits);
  if (s != LEAP_OK) {
    lp_video_frames_free(&f);
    return s;
  }
  *out = f;
  return LEAP_OK;
}

/* The triangle wave of period 2 width: s on [0, width], mirrored back. */
static double fold(double s, double width) {
  double m = fmod(s, 2.0 * width);
  if (m < 0) m += 2.0 * width;
  return m <= width ? m : 2.0 * width - m;
}

static double fit_sse(const double *p, int frames, double width, const double q[3]) {
  double sse = 0;
  for (int t = 0; t < frames; t++) {
    const double e = q[0] + fold(q[1] + q[2] * t, width) - p[t];
    sse += e * e;
  }
  return sse;
}

/* Solves the n x n (n <= 3) system a x = b by Gaussian elimination with
 * partial pivoting; 0 when it is singular. */
static int solve_small(double a[3][3], double b[3], int n, double x[3]) {
  for (int c = 0; c < n; c++) {
    int piv = c;
    for (int r = c + 1; r < n; r++)
      if (fabs(a[r][c]) > fabs(a[piv][c])) piv = r;
    if (fabs(a[piv][c]) < 1e-12) return 0;
    for (int k = 0; k < n; k++) { const double t = a[c][k]; a[c][k] = a[piv][k], a[piv][k] = t; }
    { const double t = b[c]; b[c] = b[piv], b[piv] = t; }
    for (int r = c + 1; r < n; r++) {
      const double f = a[r][c] / a[c][c];
      for (int k = c; k < n; k++) a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  for (int r = n - 1; r >= 0; r--) {
    double v = b[r];
    for (int k = r + 1; k < n; k++) v -= a[r][k] * x[k];
    x[r] = v / a[r][r];
  }
  return 1;
}

/* Normal equations of p_t = lo + g_t (s0 + v t) + c_t, linear in
 * (lo, s0, v) once each frame's leg of the triangle wave is fixed (g_t =
 * +1 forwards, -1 back, c_t its offset). */
typedef struct legs {
  double a[3][3], b[3];
  int fwd, n;
} legs;

static void legs_add(legs *l, double p, int t, double g, double c) {
  const double row[3] = {1.0, g, g * t}, y = p - c;
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < 3; j++) l->a[i][j] += row[i] * row[j];
    l->b[i] += row[i] * y;
  }
  l->fwd += g > 0, l->n++;
}

/* Solves into q; when every frame is on one leg the wall is not seen and
 * stays at q[0]. 0 when singular. */
static int legs_solve(legs *l, double q[3]) {
  double x[3] = {0};
  if (l->fwd > 0 && l->fwd < l->n) {
    if (!solve_small(l->a, l->b, 3, x)) return 0;
    memcpy(q, x, sizeof x);
    return 1;
  }
  double a2[3][3] = {{l->a[1][1], l->a[1][2], 0}, {l->a[2][1], l->a[2][2], 0}, {0}};
  double b2[3] = {l->b[1] - q[0] * l->a[0][1], l->b[2] - q[0] * l->a[0][2], 0};
  if (!solve_small(a2, b2, 2, x)) return 0;
  q[1] = x[0], q[2] = x[1];
  return 1;
}

/* Exact least squares for q's unfolding: take the leg each frame is on
 * under q, solve, unfold again with the new q, repeat while the error
 * falls. */
static double unfold_fit(const double *p, int frames, double width, double q[3]) {
  double best = fit_sse(p, frames, width, q);
  for (int iter = 0; iter < 50; iter++) {
    legs l = {{{0}}, {0}, 0, 0};
    for (int t = 0; t < frames; t++) {
      const double u = q[1] + q[2] * t, k = floor(u / (2.0 * width)), m = u - 2.0 * width * k;
      const double g = m <= width ? 1.0 : -1.0;
      legs_add(&l, p[t], t, g, g > 0 ? -2.0 * width * k : 2.0 * width * (k + 1));
    }
    double r[3] = {q[0], q[1], q[2]};
    if (!legs_solve(&l, r)) break;
    const double e = fit_sse(p, frames, width, r);
    if (!(e < best)) break;
    best = e, memcpy(q, r, sizeof r);
  }
  return best;
}

/* The exact fit with one bounce before frame tau: off the upper wall
 * (forwards, then back) or off the lower one (back, then forwards). Why:
 * a slow garment that bounces once sits between the coarse grid's
 * velocities, and a grid point with no bounce never unfolds into one. */
static void one_bounce_fit(const double *p, int frames, double width, int tau, int upper, double q[3]) {
  legs l = {{{0}}, {0}, 0, 0};
  for (int t = 0; t < frames; t++) {
    const int before = t < tau;
    if (upper) legs_add(&l, p[t], t, before ? 1.0 : -1.0, before ? 0.0 : 2.0 * width);
    else legs_add(&l, p[t], t, before ? -1.0 : 1.0, before ? 2.0 * width : -2.0 * width);
  }
  if (!legs_solve(&l, q)) q[0] = p[0], q[1] = q[2] = 0;
}

/* Pattern search from q = (lo, s0, v): try a step both ways along each
 * direction, take any improvement, halve the steps when none; ends at
 * 1e-7 px. Besides the three axes, the wall moves with the unfolded start
 * held where the garment moves forwards (lo + d, s0 - d) and where it
 * moves back (lo + d, s0 + d): either keeps the frames off that wall in
 * place, so a bounce near the first or last frame is found from a grid
 * point whose wall is a pixel off (coordinate steps alone stall there). */
static double refine(const double *p, int frames, double width, double q[3]) {
  static const double dir[5][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, -1, 0}, {1, 1, 0}};
  const double scale[5] = {0.5, 0.25, 0.125, 0.5, 0.5};
  double h = 1.0, best = fit_sse(p, frames, width, q);
  for (int iter = 0; iter < 100000 && h > 4e-7; iter++) {
    int moved = 0;
    for (int j = 0; j < 5; j++)
      for (int sign = -1; sign <= 1; sign += 2) {
        double r[3];
        for (int k = 0; k < 3; k++) r[k] = q[k] + sign * h * scale[j] * dir[j][k];
        const double e = fit_sse(p, frames, width, r);
        if (e < best) best = e, memcpy(q, r, sizeof r), moved = 1;
      }
    if (!moved) h *= 0.5;
  }
  return best;
}

leap_status lp_video_motion_fit_axis(const double *p, int frames, double width, double *sse,
                                     double *fitted) {
  if (!p || !sse || frames < 1 || !(width > 0))
    return lp_error(LEAP_ERR_INVALID_ARG, "video metrics: a motion fit needs >= 1 positions and walls > 0 apart");
  double pmin = p[0], pmax = p[0];
  for (int t = 0; t < frames; t++) {
    if (!isfinite(p[t])) return lp_error(LEAP_ERR_NUMERIC, "video metrics: position %d is not finite", t);
    pmin = p[t] < pmin ? p[t] : pmin, pmax = p[t] > pmax ? p[t] : pmax;
  }
  /* Lower walls that keep the whole track inside (or, when it spans more
   * than width, those between the two that hold either end). */
  double lo_a = pmax - width, lo_b = pmin;
  if (lo_a > lo_b) { const double tmp = lo_a; lo_a = lo_b, lo_b = tmp; }
  /* One pixel apart, at most MAX_WALLS of them (a track far wider than
   * the walls gets them further apart). */
  const int nlo = (int)fmin(ceil(lo_b - lo_a) + 1, MAX_WALLS), ns = (int)ceil(2.0 * width / 0.5);
  const int nv = (int)lround(2.0 * LP_VIDEO_FIT_VMAX / 0.25) + 1;
  /* Candidates: the best grid point of each wall (so a bounce that only a
   * wall at the track's edge explains is refined too, even when straight
   * lines elsewhere score better on the coarse grid), then the TOP_K best
   * overall. */
  double cand[MAX_WALLS + TOP_K][3], cand_e[MAX_WALLS + TOP_K];
  double *top_e = cand_e + nlo, (*top)[3] = cand + nlo;
  for (int k = 0; k < nlo + TOP_K; k++) cand_e[k] = INFINITY, cand[k][0] = lo_a, cand[k][1] = cand[k][2] = 0;
  for (int a = 0; a < nlo; a++)
    for (int b = 0; b < ns; b++)
      for (int c = 0; c < nv; c++) {
        const double q[3] = {nlo > 1 ? lo_a + (lo_b - lo_a) * a / (nlo - 1) : lo_a, 0.5 * b,
                             -LP_VIDEO_FIT_VMAX + 0.25 * c};
        const double e = fit_sse(p, frames, width, q);
        if (e < cand_e[a]) cand_e[a] = e, memcpy(cand[a], q, sizeof q);
        if (!(e < top_e[TOP_K - 1])) continue;
        int k = TOP_K - 1; /* insert, sorted by error */
        for (; k > 0 && top_e[k - 1] > e; k--) top_e[k] = top_e[k - 1], memcpy(top[k], top[k - 1], sizeof top[k]);
        top_e[k] = e, memcpy(top[k], q, sizeof top[k]);
      }
  double best = INFINITY, bq[3] = {lo_a, 0, 0};
  for (int k = 0; k < nlo + TOP_K; k++) {
    if (!isfinite(cand_e[k])) continue;
    unfold_fit(p, frames, width, cand[k]);
    const double e = refine(p, frames, width, cand[k]);
    if (e < best) best = e, memcpy(bq, cand[k], sizeof bq);
  }
  for (int tau = 1; tau < frames; tau++)
    for (int upper = 0; upper < 2; upper++) {
      double q[3] = {lo_a, 0, 0};
      one_bounce_fit(p, frames, width, tau, upper, q);
      unfold_fit(p, frames, width, q);
      const double e = refine(p, frames, width, q);
      if (e < best) best = e, memcpy(bq, q, sizeof bq);
    }
  *sse = best;
  for (int t = 0; fitted && t < frames; t++) fitted[t] = bq[0] + fold(bq[1] + bq[2] * t, width);
  return LEAP_OK;
}

leap_status lp_video_motion_error(const double *track, int frames, double width, double *rms) {
  if (!track || !rms || frames < 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "video metrics: a motion error needs a track of >= 1 frames");
  double *axis = lp_malloc((size_t)frames * sizeof *axis);
  if (!axis) return lp_error(LEAP_ERR_NOMEM, "video metrics: out of memory");
  double total = 0, sse = 0;
  leap_status s = LEAP_OK;
  for (int j = 0; s == LEAP_OK && j < 2; j++) {
    for (int t = 0; t < frames; t++) axis[t] = track[2 * t + j];
    s = lp_video_motion_fit_axis(axis, frames, width, &sse, NULL);
    total += sse;
  }
  free(axis);
  if (s == LEAP_OK) *rms = sqrt(total / frames);
  return s;
}

leap_status lp_video_score(const lp_video_frames *clips, const int32_t *labels,
                           const lp_video_frames *reference, double width, lp_video_scores *out) {
  if (!clips || !reference || !out || clips->frames < 2 || clips->dim != reference->dim ||
      (int64_t)reference->n * reference->frames < 2)
    return lp_error(LEAP_ERR_INVALID_ARG, "video metrics: scoring needs clips of >= 2 frames and real frames "
                    "with features of the same size");
  const int d = clips->dim, f = clips->frames;
  double *mu1 = lp_malloc((size_t)d * sizeof(double)), *c1 = lp_malloc((size_t)d * d * sizeof(double));
  double *mu2 = lp_malloc((size_t)d * sizeof(double)), *c2 = lp_malloc((size_t)d * d * sizeof(double));
  lp_video_scores r = {.accuracy = NAN};
  leap_status s = mu1 && c1 && mu2 && c2 ? LEAP_OK : lp_error(LEAP_ERR_NOMEM, "video metrics: out of memory");
  if (s == LEAP_OK) s = lp_fd_stats_features(clips->features, clips->n * f, d, mu1, c1);
  if (s == LEAP_OK)
    s = lp_fd_stats_features(reference->features, reference->n * reference->frames, d, mu2, c2);
  if (s == LEAP_OK) s = lp_fd_parts(mu1, c1, mu2, c2, d, &r.fd_mean, &r.fd_cov);
  r.fd = r.fd_mean + r.fd_cov;
  int64_t same = 0, right = 0;
  for (int i = 0; s == LEAP_OK && i < clips->n; i++) {
    const int32_t *l = clips->labels + (size_t)i * f;
    for (int t = 1; t < f; t++) same += l[t] == l[0];
    for (int t = 0; labels && t < f; t++) right += l[t] == labels[i];
    double rms = 0;
    s = lp_video_motion_error(clips->centroid + (size_t)i * f * 2, f, width, &rms);
    r.motion += rms / clips->n;
    if (rms > r.motion_max) r.motion_max = rms;
  }
  if (s == LEAP_OK) {
    r.identity = (double)same / ((double)clips->n * (f - 1));
    if (labels) r.accuracy = (double)right / ((double)clips->n * f);
    *out = r;
  }
  free(mu1);
  free(c1);
  free(mu2);
  free(c2);
  return s;
}

leap_status lp_video_chunk_scores(const lp_video_frames *clips, const lp_video_frames *reference, int chunk,
                                  double *fd, double *identity) {
  if (!clips || !reference || !fd || !identity || chunk < 1 || chunk > clips->frames ||
      (int64_t)clips->n * chunk < 2 || clips->dim != reference->dim || (int64_t)reference->n * reference->frames < 2)
    return lp_error(LEAP_ERR_INVALID_ARG, "video metrics: chunks of %d frames need 1 <= chunk <= %d frames, >= 2 "
                    "frames a chunk and real frames with features of the same size", chunk, clips ? clips->frames : 0);
  const int d = clips->dim, f = clips->frames, chunks = f / chunk, rows = clips->n * chunk;
  double *mu1 = lp_malloc((size_t)d * sizeof(double)), *c1 = lp_malloc((size_t)d * d * sizeof(double));
  double *mu2 = lp_malloc((size_t)d * sizeof(double)), *c2 = lp_malloc((size_t)d * d * sizeof(double));
  float *feat = lp_malloc((size_t)rows * d * sizeof(float));
  leap_status s = mu1 && c1 && mu2 && c2 && feat ? LEAP_OK : lp_error(LEAP_ERR_NOMEM, "video metrics: out of memory");
  if (s == LEAP_OK)
    s = lp_fd_stats_features(reference->features, reference->n * reference->frames, d, mu2, c2);
  for (int k = 0; s == LEAP_OK && k < chunks; k++) {
    int64_t same = 0, count = 0;
    for (int i = 0; i < clips->n; i++) {
      const size_t first = (size_t)i * f + (size_t)k * chunk;
      memcpy(feat + (size_t)i * chunk * d, clips->features + first * d, (size_t)chunk * d * sizeof(float));
      for (int t = k == 0 ? 1 : 0; t < chunk; t++)
        same += clips->labels[first + t] == clips->labels[(size_t)i * f], count++;
    }
    identity[k] = count ? (double)same / count : 1.0;
    s = lp_fd_stats_features(feat, rows, d, mu1, c1);
    if (s == LEAP_OK) s = lp_fd(mu1, c1, mu2, c2, d, &fd[k]);
  }
  free(mu1);
  free(c1);
  free(mu2);
  free(c2);
  free(feat);
  return s;
}

leap_status lp_video_vde(const double *m, int chunks, double *out) {
  if (!m || !out || chunks < 1 || m[0] == 0 || !isfinite(m[0]))
    return lp_error(LEAP_ERR_INVALID_ARG, "video metrics: VDE needs >= 1 chunks and a finite, non-zero first one");
  double v = 0;
  for (int i = 2; i <= chunks; i++) v += (chunks - i + 1) * fabs(m[i - 1] - m[0]) / fabs(m[0]);
  *out = v;
  return LEAP_OK;
}

leap_status lp_video_real_clips(const lp_dataset *garments, uint64_t seed, int64_t first, int n,
                                int frames, float *video, int32_t *labels) {
  if (!video || n < 1 || first < 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "video metrics: real clips need n >= 1, first >= 0 and an output");
  const size_t per = (size_t)frames * LP_MFMNIST_CANVAS * LP_MFMNIST_CANVAS;
  for (int i = 0; i < n; i++) {
    lp_mfmnist_clip c;
    leap_status s = lp_mfmnist_clip_make(garments, seed, LP_MFMNIST_EVAL, first + i, frames, &c);
    if (s != LEAP_OK) return s;
    memcpy(video + (size_t)i * per, c.video, per * sizeof(float));
    if (labels) labels[i] = c.label;
    lp_mfmnist_clip_free(&c);
  }
  return LEAP_OK;
}
