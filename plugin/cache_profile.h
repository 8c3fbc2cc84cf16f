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

#include <stdint.h>

#include "leap.h"

#define LP_CACHE_FORMAT "leap-erta-profile"
#define LP_CACHE_FORMAT_VERSION 1
#define LP_TC_DEGREE 4 /* TeaCache's rescaling polynomial */

typedef struct lp_cache_setting {
  char name[64];
  double lambda;          /* threshold on the relative L1 residual error */
  int computed;           /* steps computed (the rest reused) */
  unsigned char *reuse;   /* [steps] 1 = reuse the cached residual */
  double *phi;            /* [steps] endpoint phi, rectified velocity (1 if computed) */
  double *phi_norect;     /* [steps] endpoint phi, unrectified velocity */
  double *phi_paper;      /* [steps] the paper's clip(1 - |v~-v| / |v_i - v_i+1|, 0, 1) */
  float *coef;            /* [steps][branches][2][channels]: a then b (a = 1, b = 0 if computed) */
  double *err_plain;      /* [steps] calibration rel. L1 error of the cached residual */
  double *err_rect;       /* [steps] the same after rectification */
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

/* Allocates the per-step arrays of a profile for the given shape fields
 * (steps, branches, channels, calib_images must be set) and of nsettings
 * settings; zeroed, phi = 1, a = 1. */
leap_status lp_cache_profile_alloc(lp_cache_profile *p, int nsettings);
void lp_cache_profile_free(lp_cache_profile *p);
/* Writes the profile as JSON to path (temporary file + rename). */
leap_status lp_cache_profile_write(const lp_cache_profile *p, const char *path);
/* Reads and checks a profile file; errors name the path and the field. */
leap_status lp_cache_profile_read(const char *path, lp_cache_profile *p);
/* Checks that a profile fits the run in desc (steps, solver, schedule,
 * shift, guidance, model id, branches); the error names path and field. */
leap_status lp_cache_profile_check(const lp_cache_profile *p, const char *path,
                                   const leap_cache_desc *desc);
/* The TeaCache polynomial at x. */
double lp_cache_tc_eval(const lp_cache_profile *p, double x);

#endif
