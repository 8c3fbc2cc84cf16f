/* distill_state.h - a distillation run's resumable state: one safetensors
 * file (core/output.h kind LP_OUT_TRAIN_STATE, format
 * "leap-distill-state-1") with the student's and the fake score's weights
 * and AdamW moments, their steps, every RNG, the DisBack schedule's
 * position and loss window, the run's settings, and fingerprints of the
 * teacher and of the degradation path (which stays in its own files), so
 * that N iterations + resume + M more give the student of N + M straight
 * through, bit for bit. Internal API. */
#ifndef LP_DISTILL_STATE_H
#define LP_DISTILL_STATE_H

#include <stddef.h>

#include "distill_train.h"
#include "output.h"

#define LP_DISTILL_STATE_FORMAT "leap-distill-state-1"

/* The settings that define a run (all of lp_distill_cfg but `iters`, which
 * a resume may extend), by the name `leap distill` gives each option
 * ("batch" for --batch). */
typedef enum lp_distill_setting_type {
  LP_DSET_INT,
  LP_DSET_DOUBLE,
  LP_DSET_U64,
  LP_DSET_METHOD, /* lp_distill_method */
  LP_DSET_RULE    /* leap_disback_switch */
} lp_distill_setting_type;

typedef struct lp_distill_setting {
  const char *name;
  lp_distill_setting_type type;
  size_t offset; /* into lp_distill_cfg */
} lp_distill_setting;

extern const lp_distill_setting lp_distill_settings[];
extern const int lp_distill_setting_count;

/* Non-zero when the setting changes what a run with cfg computes (DisBack's
 * path and switch settings do not matter to DMD; each switch rule reads
 * its own). */
int lp_distill_setting_used(const lp_distill_setting *s, const lp_distill_cfg *cfg);
int lp_distill_setting_equal(const lp_distill_setting *s, const lp_distill_cfg *a,
                             const lp_distill_cfg *b);
/* The value as `leap distill` takes it (round-trips doubles exactly). */
void lp_distill_setting_format(const lp_distill_setting *s, const lp_distill_cfg *cfg, char *buf,
                               size_t len);

/* What a state file says about its run, read before anything is sized from
 * it. */
typedef struct lp_distill_state_info {
  lp_distill_cfg cfg;    /* iters = the run's planned iterations */
  char teacher[4096];    /* the teacher's resolved path when the run began */
  int iter;              /* student updates done */
  double seconds;        /* the run's wall time so far */
} lp_distill_state_info;

leap_status lp_distill_state_info_read(const char *path, lp_distill_state_info *out);

/* The state of d after its last finished iteration, written and synced but
 * not landed (*out for lp_out_commit_all, where it goes last). seconds is
 * the run's wall time, carried on by a resume for the log. inputs (may be
 * NULL) are the job's inputs for core/output.h's rule. */
leap_status lp_distill_state_unit(const lp_distill *d, const char *path, double seconds,
                                  const char *const *inputs, int ninputs, lp_out **out);

/* Continues a freshly created d (same teacher and settings as the state:
 * anything else is refused with a message naming the setting) where the
 * state stopped. DisBack's path is read back from path_dir (the files
 * lp_distill_record_path wrote there) and must be the one the state was
 * distilling along. */
leap_status lp_distill_resume(lp_distill *d, const char *state_path, const char *path_dir);

#endif
