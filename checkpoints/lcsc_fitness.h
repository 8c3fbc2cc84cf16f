/* lcsc_fitness.h - the Frechet-distance fitness of an LCSC search (and of
 * its honest evaluation): combine the checkpoints with the candidate's
 * coefficients into a work file, sample a fixed set of images (fixed noise
 * seed and labels, chosen sampler and step count), and measure the FD
 * between classifier features of the samples and of a reference set
 * (fd_metric.h, the metric of `leap eval`). Fixed noise makes the fitness
 * deterministic, so candidates are ranked on the same draws. */
#ifndef LP_LCSC_FITNESS_H
#define LP_LCSC_FITNESS_H

#include <stdint.h>

#include "leap.h"

typedef struct lp_lcsc_fd_setup {
  int count;
  const char *const *paths;  /* the checkpoints */
  const char *work_path;     /* where each candidate model is written */
  const char *classifier;    /* feature classifier (.safetensors) */
  const char *reference;     /* reference images (lp_dataset_load spec) */
  int reference_n;           /* use the first reference_n of them; 0 = all */
  int n;                     /* samples per fitness */
  int steps;                 /* NFE of the sampler */
  leap_solver solver;
  double cfg;
  uint64_t seed;             /* initial noise: image i is stream i of seed */
  int batch;                 /* images per leap_sample call */
  leap_context *ctx;         /* where the model runs */
} lp_lcsc_fd_setup;

typedef struct lp_lcsc_fd lp_lcsc_fd;

/* Loads the classifier and the reference statistics, draws the noise. */
leap_status lp_lcsc_fd_create(const lp_lcsc_fd_setup *setup, lp_lcsc_fd **out);
void lp_lcsc_fd_destroy(lp_lcsc_fd *f);
/* A leap_lcsc_fitness_fn (user = the lp_lcsc_fd): FD of the combination at
 * the setup's steps. The work file is removed afterwards. */
leap_status lp_lcsc_fd_fitness(void *user, int count, const double *coefs, double *fd);
/* FD of a model file at `steps` (the setup's seed, labels and sampler). */
leap_status lp_lcsc_fd_model(lp_lcsc_fd *f, const char *model_path, int steps, double *fd);
/* Model evaluations (forward passes, CFG counted twice) and sampling
 * seconds so far. */
void lp_lcsc_fd_cost(const lp_lcsc_fd *f, uint64_t *forwards, double *seconds);

#endif
