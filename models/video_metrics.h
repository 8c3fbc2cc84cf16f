/* video_metrics.h - sample quality of moving-Fashion-MNIST clips (issue 11
 * item 6), for `leap eval --video`. Clips are [n, frames, 1, h, w] in
 * [-1, 1] (background -1), as data_moving_fmnist.h makes them.
 *
 * Per frame:
 *   centroid: the intensity centroid of the frame, weights (v + 1) / 2
 *     clamped to [0, 1] (on real frames exactly the ground-truth track of
 *     data_moving_fmnist.h, since its bilinear placement keeps the
 *     centroid); a frame with no mass has the canvas centre.
 *   crop: the LP_MFMNIST_GARMENT-sided box around the centroid (its
 *     top-left corner the centroid minus (GARMENT - 1) / 2, real-valued:
 *     sampled bilinearly, background -1 outside the frame), resized to
 *     the classifier's 28 x 28 with stb_image_resize and clamped to
 *     [-1, 1]. Sub-pixel placement makes the crops of one real clip
 *     nearly equal (identity consistency of 256 real clips: 0.936, with
 *     the box rounded to whole pixels 0.909).
 *     Why the centroid and not the bounding box of bright pixels: the box
 *     keeps the garment's size and aspect (the classifier was trained on
 *     whole garments), and one stray bright pixel of a generated frame
 *     moves a centroid a little but a bounding box a lot.
 *   features / label: the classifier's features and arg-max label of the
 *     crop.
 *
 * Per set of clips:
 *   per-frame FD: the Frechet distance between the features of every
 *     frame's crop and those of real frames cropped the same way (real
 *     clips of the evaluation split, another seed);
 *   identity consistency: over clips, the mean share of frames 1..F-1
 *     whose label is that of the clip's frame 0;
 *   motion error: over clips, the mean of the RMS distance (pixels) of
 *     each frame's centroid from the best constant-velocity-with-bounce
 *     fit of the clip's centroid track (lp_video_motion_fit_axis).
 * Internal API. */
#ifndef LP_VIDEO_METRICS_H
#define LP_VIDEO_METRICS_H

#include <stdint.h>

#include "classifier.h"
#include "dataset.h"
#include "leap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the classifier and the centroid say about every frame of a set of
 * clips; arrays are frame-major within a clip (row i * frames + t). */
typedef struct lp_video_frames {
  int n, frames, dim; /* dim: the classifier's feature size */
  float *features;    /* [n * frames, dim] */
  int32_t *labels;    /* [n * frames] */
  double *centroid;   /* [n * frames, 2]: (x = column, y = row) pixels */
} lp_video_frames;

/* The intensity centroid of one frame [h, w] (see above). */
void lp_video_centroid(const float *frame, int h, int w, double *cx, double *cy);
/* The garment crop of one frame [h, w] (h, w >= LP_MFMNIST_GARMENT) into
 * out [28 * 28]. */
leap_status lp_video_garment_crop(const float *frame, int h, int w, float *out);

/* Centroids, crops, features and labels of clips [n, frames, 1, h, w];
 * the classifier must take one-channel 28 x 28 images. On failure *out is
 * zeroed. */
leap_status lp_video_frames_analyse(const lp_classifier *c, const float *clips, int n, int frames,
                                    int h, int w, lp_video_frames *out);
/* Frees the arrays and zeroes *f (safe on a zeroed one). */
void lp_video_frames_free(lp_video_frames *f);

/* The best fit of one axis of a track p[0..frames) by a constant velocity
 * reflected at two walls `width` apart: q(t) = lo + fold(s0 + v t), fold
 * the triangle wave of period 2 width that is s on [0, width] (so a step
 * across a wall comes back in, as data_moving_fmnist.c moves garments).
 * Searched: a coarse grid over the lower wall lo (one pixel apart over the
 * walls that hold the whole track), the unfolded start s0 in [0, 2 width)
 * (0.5 px apart) and v in [-LP_VIDEO_FIT_VMAX, LP_VIDEO_FIT_VMAX]
 * (0.25 px/frame apart); then, from each wall's best grid point, the 4
 * best overall and the exact one-bounce fits (each frame as the first
 * after the bounce, off either wall): unfold (with each frame's leg of
 * the triangle wave fixed the model is linear in lo, s0, v: solve, unfold
 * again while the error falls) and a pattern search to 1e-7 px. The fit
 * minimises the squared residuals (on real clips, 512 each of 4, 8 and
 * 16 frames, both axes, it was exact to 1e-7 px); *sse gets their sum and
 * fitted (optional, [frames]) the fitted positions. frames >= 1,
 * width > 0. */
#define LP_VIDEO_FIT_VMAX 4.0 /* the data's fastest step, 3 px, plus room */
leap_status lp_video_motion_fit_axis(const double *p, int frames, double width, double *sse,
                                     double *fitted);
/* The RMS distance, in pixels, of a track [frames, 2] from its fit (both
 * axes fitted apart, walls `width` apart: canvas side - garment side). */
leap_status lp_video_motion_error(const double *track, int frames, double width, double *rms);

typedef struct lp_video_scores {
  double fd, fd_mean, fd_cov; /* per-frame FD and its two terms (fd_metric.h) */
  double identity;            /* identity consistency in [0, 1] */
  double motion;              /* motion error, pixels (mean over clips) */
  double motion_max;          /* the worst clip's */
  double accuracy;            /* share of frames whose label is the clip's label; NAN without labels */
} lp_video_scores;

/* Scores analysed clips against analysed real clips (reference: its
 * features only; >= 2 frames in all). labels: the clips' asked-for
 * classes [n], or NULL. frames >= 2, width as for lp_video_motion_error. */
leap_status lp_video_score(const lp_video_frames *clips, const int32_t *labels,
                           const lp_video_frames *reference, double width, lp_video_scores *out);

/* Per chunk of `chunk` frames (the block-diffusion video model samples a
 * clip chunk by chunk; frames / chunk chunks, a shorter tail dropped):
 * fd[i] the FD of chunk i's frames (all clips) against all the reference
 * frames, identity[i] the share of chunk i's frames (frame 0 left out of
 * chunk 0) whose label is the clip's frame 0's. Each chunk needs >= 2
 * frames in all (clips->n * chunk >= 2). */
leap_status lp_video_chunk_scores(const lp_video_frames *clips, const lp_video_frames *reference, int chunk,
                                  double *fd, double *identity);
/* Video drift error of a per-chunk metric m[0..chunks) (chunk 1 is m[0]):
 * VDE = sum over chunks i >= 2 of (chunks - i + 1) |m_i - m_1| / m_1,
 * early drift weighted most. m[0] must be non-zero. */
leap_status lp_video_vde(const double *m, int chunks, double *out);

/* Real clips of the evaluation split (data_moving_fmnist.h): clips
 * first .. first + n - 1 of seed into video [n, frames, 1, CANVAS, CANVAS]
 * and their classes into labels [n] (optional). garments: Fashion-MNIST
 * test. */
leap_status lp_video_real_clips(const lp_dataset *garments, uint64_t seed, int64_t first, int n,
                                int frames, float *video, int32_t *labels);

#ifdef __cplusplus
}
#endif

#endif
