/* cache_profile.h - an ERTACache profile: what `leap profile` measures on a
 * calibration set and `leap sample --cache` uses, and its JSON file.
 *
 * A profile is valid for one model (its leap_model_id), solver, schedule,
 * shift, step count and guidance scale; it holds one or more settings (one
 * per threshold lambda or target of computed steps), each with its reuse
 * schedule, the timestep-adjustment factors and the rectification
 * coefficients, plus the TeaCache-style baseline's rescaling polynomial. */
#ifndef LEAP_CACHE_PROFILE_H
#define LEAP_CACHE_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "leap.h"

#define LP_CACHE_FORMAT "leap-erta-profile"
/* 2: rectification fitted on the guided residual and kept only when
 * cross-validation on the calibration images says it helps (the
 * "rectification" object of a setting); 1 (older leap) is refused. */
#define LP_CACHE_FORMAT_VERSION 2
#define LP_TC_DEGREE 4 /* TeaCache's rescaling polynomial */
#define LP_RECT_MAXCAND 9 /* shrinkage candidates, "off" (0) included */
/* A profile file larger than this is refused before it is read (a
 * rectified 250-step profile of a 1152-wide DiT is about 10 MB). */
#define LP_CACHE_PROFILE_MAX_BYTES (256u << 20)

typedef struct lp_cache_setting {
  char name[64];
  double lambda;          /* threshold on the relative L1 residual error */
  int computed;           /* steps computed (the rest reused) */
  unsigned char *reuse;   /* [steps] 1 = reuse the cached residual */
  double *phi;            /* [steps] endpoint phi along the rectified path (= phi_norect when rectification is off) */
  double *phi_norect;     /* [steps] endpoint phi along the unrectified path */
  double *phi_paper;      /* [steps] the paper's clip(1 - |v~-v| / |v_i - v_i+1|, 0, 1) */
  float *coef;            /* [steps][branches][2][channels]: a then b (a = 1, b = 0 if computed or off);
                           * NULL in a profile read from a file whose rectification is off (never read then) */
  double *err_plain;      /* [steps] calibration rel. L1 error of the cached residual (guided combination) */
  double *err_rect;       /* [steps] the same after rectification, out of fold */
  /* Rectification: K, B fitted per step and hidden channel on the guided
   * combination of the branches' residuals, shrunk toward the identity,
   * a = 1 + shrink (K - 1), b = shrink B. The shrinkage is chosen from
   * rect_grid by k-fold cross-validation of the final images (PSNR against
   * full compute on the calibration images, each image sampled with
   * coefficients fitted without its fold) with the one-standard-error rule:
   * the smallest shrinkage within one standard error of the best; 0 = off. */
  double rect_shrink;
  int rect_folds;         /* 0: not validated (fewer than 2 images or no candidates): off */
  int rect_ncand;         /* candidates tried, rect_grid[0] = 0 */
  double rect_grid[LP_RECT_MAXCAND];
  double rect_cv_psnr[LP_RECT_MAXCAND]; /* mean over calibration images, dB */
  double rect_cv_se[LP_RECT_MAXCAND];   /* standard error of the per-image gain over "off", dB */
} lp_cache_setting;

typedef struct lp_cache_profile {
  char model_id[17];
  leap_solver solver;
  leap_schedule_kind schedule;
  double shift, cfg;
  int steps;
  leap_cache_level level;
  int channels, branches;
  int calib_images;
  uint64_t calib_seed;
  int32_t *calib_labels;  /* [calib_images] */
  int window;             /* longest run of reuse considered + 1 */
  double *rel_change;     /* [steps] rel. L1 change of the residual from the step before */
  /* TeaCache-style baseline: indicator = rel. L1 change of the input from
   * the step before (calibration mean), target = rel_change; target ~=
   * poly(indicator) fitted by least squares. */
  double *tc_indicator;   /* [steps] */
  double tc_poly[LP_TC_DEGREE + 1]; /* c0 + c1 x + ... */
  int nsettings;
  lp_cache_setting *settings;
} lp_cache_profile;

/* Allocates the per-step arrays of one setting of p (zeroed, phi = 1,
 * a = 1); lp_cache_setting_free releases them. */
leap_status lp_cache_setting_alloc(const lp_cache_profile *p, lp_cache_setting *s);
void lp_cache_setting_free(lp_cache_setting *s);
/* Allocates the per-step arrays of a profile for the given shape fields
 * (steps, branches, channels, calib_images must be set) and of nsettings
 * settings; zeroed, phi = 1, a = 1. */
leap_status lp_cache_profile_alloc(lp_cache_profile *p, int nsettings);
void lp_cache_profile_free(lp_cache_profile *p);
/* Writes the profile as JSON to path by core/output.h's rule (a unique
 * temporary + rename; path is never one of inputs[0..ninputs), the job's
 * model for one, nor an existing file other than a profile leap wrote). */
leap_status lp_cache_profile_write_job(const lp_cache_profile *p, const char *path, const char *const *inputs,
                                       int ninputs);
/* The same with no inputs. */
leap_status lp_cache_profile_write(const lp_cache_profile *p, const char *path);
/* Reads and checks a profile file (a regular file of at most
 * LP_CACHE_PROFILE_MAX_BYTES); errors name the path and the field. Every
 * count is checked against the items the file holds before memory is sized
 * from it. */
leap_status lp_cache_profile_read(const char *path, lp_cache_profile *p);
/* The same, and when run is not NULL the profile must fit it
 * (lp_cache_profile_check), checked before anything is sized from the
 * profile's counts. */
leap_status lp_cache_profile_read_for(const char *path, const leap_cache_desc *run, lp_cache_profile *p);
/* The reader over text[0..len) (need not be NUL-terminated); path names
 * it in messages. On failure p holds nothing to free. */
leap_status lp_cache_profile_parse(const char *text, size_t len, const char *path, const leap_cache_desc *run,
                                   lp_cache_profile *p);
/* Checks that a profile fits the run in desc (steps, solver, schedule,
 * shift, guidance, model id, branches); the error names path and field. */
leap_status lp_cache_profile_check(const lp_cache_profile *p, const char *path,
                                   const leap_cache_desc *desc);
/* The TeaCache polynomial at x. */
double lp_cache_tc_eval(const lp_cache_profile *p, double x);

#endif
