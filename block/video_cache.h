/* video_cache.h - caching inside block diffusion: ERTACache's reuse of the
 * block stack's residual (plugin/cache.c) across the schedule iterations
 * of leap_video_sample, and its offline profile.
 *
 * The unit of reuse is a forward row: an iteration of the block schedule
 * that runs the model (one window forward). A reused row runs embed and
 * the final layer at its chunks' own timesteps, with h + r in between,
 * where r is each chunk's residual from the last computed row (aligned by
 * chunk index: the window may shift). A row can reuse only when every
 * chunk in its window has such a residual and none is written to the KV
 * store (a write needs the blocks' keys and values).
 *
 * A profile is made per model, family (and its ar_step or window and lag),
 * frames, frames per chunk, steps, guidance and shift, by sampling
 * calibration clips fully computed (pass 1: the residual change between
 * forward rows, chosen into reuse schedules by the image cache's threshold
 * walk under a budget of computed rows), then along each setting's cached
 * path (pass 2: the velocity factor phi of every reused row, fitted as the
 * image cache fits it, and the clips' PSNR against pass 1). Internal API:
 * leap.h exposes it as leap_video_desc's cache_profile. */
#ifndef LEAP_VIDEO_CACHE_H
#define LEAP_VIDEO_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "leap.h"

#define LP_VCACHE_FORMAT "leap-video-cache-profile"
#define LP_VCACHE_FORMAT_VERSION 1
#define LP_VCACHE_MAX_SETTINGS 32
#define LP_VCACHE_MAX_BYTES (64u << 20)
/* phi's range, as the image cache clamps it (sample/cache_calibrate.c). */
#define LP_VCACHE_PHI_MIN 0.5
#define LP_VCACHE_PHI_MAX 1.5

typedef struct lp_vcache_setting {
  char name[64];
  double lambda;         /* threshold on the rel. L1 residual change */
  int computed;          /* forward rows computed (the rest reused) */
  double psnr;           /* calibration clips along this path against full compute, dB */
  unsigned char *reuse;  /* [rows] */
  double *phi;           /* [rows] velocity factor (1 on computed rows) */
} lp_vcache_setting;

typedef struct lp_vcache_profile {
  char model_id[17];
  leap_block_family family;
  int ar_step, window, lag; /* the family's own (others are 0) */
  int frames, frames_per_chunk, steps;
  double cfg, shift;
  int rows;                 /* forward rows */
  int reuse_window;         /* longest reuse run + 1 considered */
  int calib_clips;
  uint64_t calib_seed;
  double *rel_change;       /* [rows] rel. L1 change from the row before; -1: not reusable */
  int nsettings;
  lp_vcache_setting *settings;
} lp_vcache_profile;

void lp_vcache_profile_free(lp_vcache_profile *p);
/* The forward rows of a run (iterations that run the model) and, per
 * forward row, whether it writes keys and values (writes[rows], may be
 * NULL; at most cap entries written). */
leap_status lp_vcache_rows(const leap_video_desc *d, int frames_per_chunk, int *rows, unsigned char *writes,
                           int cap);
/* The profile's binding for run d on model m (family, geometry, steps,
 * guidance, shift, model id), without settings. */
leap_status lp_vcache_profile_bind(leap_model *m, const leap_video_desc *d, lp_vcache_profile *p);
/* Reads and checks a profile; with m and d (both or neither) it must fit
 * that run: a mismatch is LEAP_ERR_INVALID_ARG naming the field, a bad file
 * LEAP_ERR_FORMAT naming the path and the field. */
leap_status lp_vcache_profile_read(const char *path, leap_model *m, const leap_video_desc *d, lp_vcache_profile *p);
leap_status lp_vcache_profile_parse(const char *text, size_t len, const char *path, leap_model *m,
                                    const leap_video_desc *d, lp_vcache_profile *p);
/* Writes by core/output.h's rule (inputs: the job's model). */
leap_status lp_vcache_profile_write(const lp_vcache_profile *p, const char *path, const char *const *inputs,
                                    int ninputs);

typedef struct lp_vcache_calib_cfg {
  int ntargets;            /* settings, one per number of computed forward rows */
  const int *targets;
  int reuse_window;        /* longest reuse run + 1 (>= 2) */
  int adjust;              /* 1: fit phi in pass 2; 0: phi = 1 */
} lp_vcache_calib_cfg;

/* Profiles run d (its n, labels and seed are the calibration clips; no
 * cache_profile) on m. */
leap_status lp_vcache_calibrate(leap_model *m, const leap_video_desc *d, const lp_vcache_calib_cfg *cfg,
                                lp_vcache_profile *out);

#endif
