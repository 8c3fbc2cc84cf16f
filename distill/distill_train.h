/* distill_train.h - one-step distillation of a flow-matching DiT on leap's
 * CPU trainer: DMD2's distribution matching (target = the teacher
 * throughout) and DisBack (the target walks a recorded degradation path
 * backwards to the teacher). The loop behind `leap distill`; the pieces a
 * host trainer needs are public in leap.h (leap_dmd_gradient,
 * leap_disback_schedule_*). Internal API. */
#ifndef LP_DISTILL_TRAIN_H
#define LP_DISTILL_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "leap.h"
#include "train.h"

typedef enum lp_distill_method { LP_DISTILL_DMD = 0, LP_DISTILL_DISBACK = 1 } lp_distill_method;

typedef struct lp_distill_cfg {
  lp_distill_method method;
  int batch;
  int iters;              /* student updates */
  double lr_student, lr_fake;
  int fake_updates;       /* fake-score updates per student update (DMD2: 5) */
  double guidance;        /* the target's classifier-free guidance scale */
  double t_min, t_max;    /* noise levels of the matching, in flow time */
  /* DisBack's degradation path: path_iters fine-tuning steps of a teacher
   * copy on the initial student's samples, path_checkpoints saved evenly. */
  int path_checkpoints, path_iters;
  leap_disback_schedule_desc schedule;
  uint64_t seed;
} lp_distill_cfg;

lp_distill_cfg lp_distill_cfg_default(void);
const char *lp_distill_method_name(lp_distill_method m);

typedef struct lp_distill lp_distill;

typedef struct lp_distill_stats {
  int iter;               /* student updates done */
  double fake_loss;       /* mean denoising loss of this iteration's fake updates */
  double dm_loss;         /* the surrogate 0.5 mean(grad^2) */
  double grad_norm;       /* the student's gradient norm before clipping */
  int target;             /* path checkpoint index, or LEAP_DISBACK_TEACHER */
  int switched;           /* the target changes for the next iteration */
} lp_distill_stats;

/* Student, fake score and teacher all start from the teacher's weights
 * (a leap-trainable flow_v DiT file). */
leap_status lp_distill_create(const char *teacher_path, const lp_distill_cfg *cfg,
                              lp_distill **out);
void lp_distill_destroy(lp_distill *d);
/* DisBack stage 1: fine-tunes a copy of the teacher on the initial
 * student's samples and keeps path_checkpoints snapshots (in memory; saved
 * as model files into dir when dir is not NULL, with a manifest). Must run
 * before the first lp_distill_step of a DisBack run. progress (may be
 * NULL) is called after each fine-tuning step; non-zero stops it
 * (LEAP_ERR_INTERRUPTED). */
leap_status lp_distill_record_path(lp_distill *d, const char *dir,
                                   int (*progress)(void *user, int step, int steps, double loss),
                                   void *user);
/* One iteration: fake_updates fake-score steps on the student's samples,
 * then one student step on the distribution-matching gradient. */
leap_status lp_distill_step(lp_distill *d, lp_distill_stats *st);
/* One-step samples of the current student: n images from the noise of
 * `seed` (leap_noise_fill's streams, so comparable across runs) with the
 * given labels, into out [n, C, H, W]. */
leap_status lp_distill_generate(lp_distill *d, uint64_t seed, int n, const int32_t *labels,
                                float *out);
/* DIR/path_NN.safetensors, the file of path checkpoint k in folder dir,
 * into buf; 0 when it does not fit. */
int lp_distill_path_file(const char *dir, int k, char *buf, size_t len);
/* The student as a normal leap model file (F32 or F16). */
leap_status lp_distill_save_student(const lp_distill *d, const char *path, leap_dtype dtype);
const lp_trainer *lp_distill_student(const lp_distill *d);

#endif
