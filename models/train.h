/* train.h - the DiT trainer: objectives (flow_v, eps), AdamW with global
 * gradient-norm clipping and linear warm-up, an EMA of the weights, and
 * checkpoints (model files leap_model_load reads, and a resumable state).
 * CPU only; the model code is in train_dit.h. Internal API (`leap train`). */
#ifndef LP_TRAIN_H
#define LP_TRAIN_H

#include <stdint.h>

#include "dataset.h"
#include "leap.h"
#include "safetensors.h"
#include "sampler.h"
#include "train_dit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lp_objective {
  LP_OBJ_FLOW_V = 0, /* x_t = (1-t) x0 + t eps, target eps - x0, t = sigmoid(N(0,1)), input 1000 t */
  LP_OBJ_EPS = 1     /* VP linear betas, t uniform in 0..999, x_t = sqrt(ab) x0 + sqrt(1-ab) eps, target eps */
} lp_objective;

typedef struct lp_train_cfg {
  lp_dit_arch arch;
  lp_objective objective;
  int batch;
  int steps;            /* total steps of the run (a resumed run continues to it) */
  double lr;            /* peak learning rate */
  int warmup;           /* linear warm-up steps (0 = none) */
  double weight_decay;  /* AdamW, decoupled; matrices only */
  double clip;          /* global gradient-norm clip; 0 = off */
  double ema;           /* EMA decay */
  double label_dropout; /* probability a label becomes the null class */
  double beta1, beta2, adam_eps;
  uint64_t seed;        /* initial weights, batches, noise, t, dropout */
  char data[512];       /* the data spec, for the record */
  /* 0: an image DiT; > 0: the video DiT (train_dit.h's lp_tlayout_init_video)
   * on moving Fashion-MNIST clips of this many frames, data = the garments */
  int clip_frames, frames_per_chunk;
} lp_train_cfg;

/* Defaults: flow_v, batch 256, lr 1e-4, no warm-up, no decay, clip 1,
 * EMA 0.9999, label dropout 0.1, betas (0.9, 0.999), eps 1e-8. The arch is
 * left zeroed (the caller fills it). */
lp_train_cfg lp_train_cfg_default(void);
const char *lp_objective_name(lp_objective o);
leap_status lp_objective_from_name(const char *name, lp_objective *out);

typedef struct lp_trainer {
  lp_train_cfg cfg;
  lp_tlayout L;
  float *params, *grads, *adam_m, *adam_v, *ema; /* each L.total elements */
  int step;                                      /* steps done */
  lp_rng rng;                                    /* batches' noise, t and dropout */
  double loss, grad_norm, lr_now;                /* of the last step */
  /* batch buffers and the forward/backward workspace */
  lp_tws_f32 *ws;
  float *x0, *noise, *xt, *tin, *target, *out, *dout;
  int32_t *y, *perm;
  int perm_n;
  int64_t perm_epoch;
} lp_trainer;

/* A fresh trainer: weights initialised from cfg->seed, EMA = weights. */
leap_status lp_trainer_create(const lp_train_cfg *cfg, lp_trainer **out);
void lp_trainer_destroy(lp_trainer *t);
/* A trainer with zeroed weights and optimiser state (resume fills them). */
leap_status lp_trainer_alloc(const lp_train_cfg *cfg, lp_trainer **out);
/* One optimisation step on a batch drawn from data (shuffled epochs of the
 * seed; the batch of step k depends only on the seed and k). Sets t->loss.
 * A non-finite loss is LEAP_ERR_NUMERIC and leaves the weights unchanged. */
leap_status lp_trainer_step(lp_trainer *t, const lp_dataset *data);
/* The update after a backward pass into t->grads: global-norm clip, AdamW
 * at the scheduled learning rate, EMA, step + 1. A non-finite gradient is
 * LEAP_ERR_NUMERIC and changes nothing. For loops with their own losses
 * (distillation) that run the forward and backward themselves. */
leap_status lp_trainer_apply(lp_trainer *t);
/* The architecture of a DiT model file leap can train (flow_v or eps, no
 * learned sigma), from its __metadata__. */
leap_status lp_train_arch_from_file(const char *path, lp_dit_arch *out, lp_objective *obj);
/* What a model file fixes of a run that starts from its weights (leap train
 * --init): the architecture, the objective and, for a video DiT, the clip
 * and chunk lengths; the rest of `c` is left as the caller set it. */
leap_status lp_train_cfg_from_model(const char *path, lp_train_cfg *c);
/* Replaces the weights (and EMA) with those of a model file of the same
 * architecture (any of F32/F16/BF16). */
leap_status lp_trainer_load_weights(lp_trainer *t, const char *path);
/* Checks that data fits the architecture (size, channels, classes). */
leap_status lp_trainer_check_data(const lp_trainer *t, const lp_dataset *data);

/* ---- optimiser pieces (train_optim.c) ---- */
/* sqrt(sum g^2) over the trainable tensors, in a fixed order. */
double lp_train_grad_norm(const lp_tlayout *L, const float *g);
/* One AdamW step (step = 1-based count for bias correction) on the
 * trainable tensors, gradients multiplied by gscale first. */
void lp_train_adamw(const lp_tlayout *L, const lp_train_cfg *c, int step, double lr, float gscale,
                    const float *g, float *p, float *m, float *v);
void lp_train_ema(size_t n, double decay, const float *p, float *ema);
/* The decay used after step `step` (1-based): min(decay, (1 + step) / (10 +
 * step)). Without this warm-up the EMA of a short run keeps a large share
 * of the initial weights (0.999^1500 = 22%), whose zero adaLN and final
 * layer shrink the velocity: a 1500-step run's EMA sampled pure noise. */
double lp_train_ema_decay(double decay, int step);
/* The learning rate of step (0-based) with linear warm-up. */
double lp_train_lr(const lp_train_cfg *c, int step);

/* ---- checkpoints (train_ckpt.c); every file is written atomically ---- */
/* Model weights (the EMA when ema != 0) as F32 or F16 with the DiT
 * __metadata__, loadable by leap_model_load. */
leap_status lp_trainer_save_model(const lp_trainer *t, const char *path, int ema,
                                  leap_dtype dtype);
/* Weights, Adam m and v, EMA, step, RNG state and config. */
leap_status lp_trainer_save_state(const lp_trainer *t, const char *path);
/* The three files of checkpoint `step` under prefix. */
typedef struct lp_train_paths {
  char step[4200], ema[4200], state[4200];
} lp_train_paths;
void lp_trainer_checkpoint_paths(const char *prefix, int step, lp_train_paths *p);
/* A checkpoint as one unit: PREFIX_step%06d (the weights), PREFIX_ema and
 * PREFIX_state, all written and synced before any lands (the state last),
 * so a failure while saving (a full disk, NaN weights, Ctrl-C) leaves the
 * previous checkpoint's files all at one step. resumed (may be NULL): the
 * state file this run resumed from, superseded by the new state, an input
 * of the weight files. */
leap_status lp_trainer_save_checkpoint(const lp_trainer *t, const char *prefix, leap_dtype dtype,
                                       const char *resumed);
/* A trainer continuing from a state file. */
leap_status lp_trainer_resume(const char *path, lp_trainer **out);
/* The configuration and step of an opened state file, checked against its
 * tensors and the limits below before anything is sized from them (resume
 * uses it; so does the fuzz harness). */
leap_status lp_train_state_read_cfg(const lp_st_file *f, lp_train_cfg *c, int *step);
/* The largest batch and step count `leap train` accepts (a state asking
 * for more is refused). */
#define LP_TRAIN_MAX_BATCH (1 << 20)
#define LP_TRAIN_MAX_STEPS (1 << 30)

#ifdef __cplusplus
}
#endif

#endif
