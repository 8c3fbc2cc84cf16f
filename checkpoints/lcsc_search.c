/* lcsc_search.c - leap_lcsc_search: a generational evolutionary search for
 * LCSC coefficients with a black-box fitness (lower is better).
 *
 * The first generation holds the natural guesses (the last checkpoint, the
 * uniform average, EMA-like geometric weights) and random perturbations of
 * them. Each later generation keeps the `elite` best unchanged and fills the
 * rest with children: parents by tournament, a blend crossover (each
 * coefficient drawn on the line through the parents' values, a little past
 * either end, so the search can leave the parents' hull: the found
 * coefficients are often negative or above 1), and Gaussian mutation. With
 * `normalize` every candidate is rescaled to sum to 1.
 *
 * Everything random comes from one seeded stream consumed in a fixed order,
 * and fitness values from the log are reused bit for bit, so a resumed
 * search re-creates the same candidates and continues where it stopped. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "struct_size.h"
#include "alloc.h"
#include "lcsc.h"
#include "lcsc_log.h"
#include "sampler.h"

#define BLEND_MARGIN 0.25 /* crossover draws u in [-m, 1 + m] */

leap_lcsc_search_desc leap_lcsc_search_desc_default(void) {
  leap_lcsc_search_desc d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  /* CPU-sized: with 100 samples at 6 NFE a candidate takes ~10-25 s on
   * 2 cores, so 40 finish in minutes (bench/lcsc_results.md). */
  d.budget = 40;
  d.population = 8;
  d.elite = 2;
  d.tournament = 3;
  d.crossover_rate = 0.7;
  d.mutation_sigma = 0.1;
  d.mutation_rate = 0.3;
  d.ema_decay = 0.7;
  d.normalize = 0;
  d.seed = 0;
  return d;
}

typedef struct member {
  double *coefs;
  double fitness;
} member;

typedef struct search {
  const leap_lcsc_search_desc *d;
  lp_rng rng;
  lp_lcsc_log log;
  int done; /* candidates evaluated (or taken from the log) */
  double best_fitness;
  double *best;
  double t0;
} search;

static void normalize(int n, double *c) {
  double sum = 0;
  for (int k = 0; k < n; k++) sum += c[k];
  if (fabs(sum) > 1e-3) {
    for (int k = 0; k < n; k++) c[k] /= sum;
  } else { /* near-zero sum: shift instead of blowing up */
    for (int k = 0; k < n; k++) c[k] += (1.0 - sum) / n;
  }
}

/* Evaluates one candidate (or takes its fitness from the log), logs it,
 * tracks the best, reports progress. */
static leap_status evaluate(search *s, int generation, const char *origin, double *coefs, double *fitness) {
  const leap_lcsc_search_desc *d = s->d;
  const int n = d->count, index = s->done;
  if (d->normalize) normalize(n, coefs);
  double f, seconds = 0;
  if (index < s->log.ndone) {
    const lp_lcsc_logged *l = &s->log.done[index];
    for (int k = 0; k < n; k++)
      if (l->coefs[k] != coefs[k])
        return lp_error(LEAP_ERR_FORMAT,
                        "%s: candidate %d of the log has other coefficients than this search makes (coefficient "
                        "%d: %.17g vs %.17g); was the log written by another version or with other checkpoints?",
                        s->log.path, index, k, l->coefs[k], coefs[k]);
    f = l->fitness;
  } else {
    const double t = lp_now_seconds();
    leap_status st = d->fitness(d->fitness_user, n, coefs, &f);
    if (st != LEAP_OK) return st;
    seconds = lp_now_seconds() - t;
    if (!isfinite(f)) f = INFINITY; /* a broken candidate just loses */
  }
  if (f < s->best_fitness || s->done == 0) {
    s->best_fitness = f;
    memcpy(s->best, coefs, (size_t)n * sizeof *coefs);
  }
  if (index >= s->log.ndone) {
    leap_status st = lp_lcsc_log_append(&s->log, index, generation, origin, coefs, f, s->best_fitness, seconds);
    if (st != LEAP_OK) return st;
  }
  s->done++;
  *fitness = f;
  if (d->progress && d->progress(d->progress_user, s->done, d->budget, f, s->best_fitness, s->best))
    return lp_error(LEAP_ERR_INTERRUPTED, "lcsc search: stopped after %d of %d candidates", s->done, d->budget);
  return LEAP_OK;
}

static int tournament(search *s, const member *pop, int size) {
  int best = (int)(lp_rng_uniform(&s->rng) * size);
  for (int t = 1; t < s->d->tournament; t++) {
    int c = (int)(lp_rng_uniform(&s->rng) * size);
    if (pop[c].fitness < pop[best].fitness) best = c;
  }
  return best;
}

static int by_fitness(const void *a, const void *b) {
  const member *x = a, *y = b;
  return x->fitness < y->fitness ? -1 : x->fitness > y->fitness ? 1 : 0;
}

static void mutate(search *s, double *c, const int *mask);

/* The first generation's candidate i. */
static const char *initial(search *s, int i, double *c) {
  const int n = s->d->count;
  const double decay = s->d->ema_decay;
  memset(c, 0, (size_t)n * sizeof *c);
  double sum = 0;
  switch (i < 3 ? i : 3) {
  case 0: c[n - 1] = 1; return "last";
  case 1:
    for (int k = 0; k < n; k++) c[k] = 1.0 / n;
    return "uniform";
  case 2:
    for (int k = 0; k < n; k++) sum += c[k] = pow(decay, n - 1 - k);
    for (int k = 0; k < n; k++) c[k] /= sum;
    return "ema";
  default: { /* a perturbation of one of the three above, in turn */
    initial(s, (i - 3) % 3, c);
    int mask[n];
    for (int k = 0; k < n; k++) mask[k] = 1;
    mutate(s, c, mask);
    return "perturbed";
  }
  }
}

/* Gaussian noise that moves weight between checkpoints without changing
 * the coefficients' sum (the model's overall weight scale, to which the
 * sample quality is far more sensitive than to the mix: measured on the
 * shared Fashion-MNIST run, independent noise of std 0.05 on 12
 * coefficients raised the FD from 30 to 250-400), then a small change of
 * that scale, std sigma / count. mask[k]: which coefficients get noise. */
static void mutate(search *s, double *c, const int *mask) {
  const int n = s->d->count;
  const double sigma = s->d->mutation_sigma;
  double mean = 0;
  int m = 0;
  double e[n];
  for (int k = 0; k < n; k++) {
    e[k] = mask[k] ? sigma * lp_rng_normal(&s->rng) : 0;
    if (mask[k]) mean += e[k], m++;
  }
  if (m > 1) mean /= m;
  for (int k = 0; k < n; k++)
    if (mask[k]) c[k] += m > 1 ? e[k] - mean : e[k];
  const double scale = 1 + sigma / n * lp_rng_normal(&s->rng);
  for (int k = 0; k < n; k++) c[k] *= scale;
}

static void child(search *s, const member *pop, int size, double *c) {
  const int n = s->d->count;
  const member *a = &pop[tournament(s, pop, size)];
  memcpy(c, a->coefs, (size_t)n * sizeof *c);
  if (lp_rng_uniform(&s->rng) < s->d->crossover_rate) {
    const member *b = &pop[tournament(s, pop, size)];
    for (int k = 0; k < n; k++) {
      const double u = -BLEND_MARGIN + (1 + 2 * BLEND_MARGIN) * lp_rng_uniform(&s->rng);
      c[k] = a->coefs[k] + u * (b->coefs[k] - a->coefs[k]);
    }
  }
  int mask[n], chosen = 0;
  for (int k = 0; k < n; k++) chosen += mask[k] = lp_rng_uniform(&s->rng) < s->d->mutation_rate;
  if (chosen < 2 && n > 1) { /* at least two, so weight can move */
    mask[(int)(lp_rng_uniform(&s->rng) * n)] = 1;
    mask[(int)(lp_rng_uniform(&s->rng) * n)] = 1;
  } else if (n == 1) {
    mask[0] = 1;
  }
  mutate(s, c, mask);
}

static leap_status check(const leap_lcsc_search_desc *d) {
  if (!d) return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_search: desc is NULL");
  if (d->struct_size < sizeof *d)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_search: struct_size %u, expected %zu", d->struct_size,
                    sizeof *d);
  if (d->count < 1) return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_search: count %d < 1", d->count);
  if (!d->fitness) return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_search: no fitness function");
  if (d->budget < 1) return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_search: budget %d < 1", d->budget);
  if (d->population < 2) return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_search: population %d < 2", d->population);
  if (d->elite < 0 || d->elite >= d->population)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_search: elite %d not in 0..population-1", d->elite);
  if (d->tournament < 1) return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_search: tournament %d < 1", d->tournament);
  if (!(d->crossover_rate >= 0 && d->crossover_rate <= 1) || !(d->mutation_rate >= 0 && d->mutation_rate <= 1))
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_search: crossover and mutation rates must be in [0, 1]");
  if (!(d->mutation_sigma >= 0) || !isfinite(d->mutation_sigma))
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_search: mutation_sigma %g", d->mutation_sigma);
  if (!(d->ema_decay > 0 && d->ema_decay <= 1))
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_search: ema_decay %g not in (0, 1]", d->ema_decay);
  return LEAP_OK;
}

leap_status leap_lcsc_search(const leap_lcsc_search_desc *desc, double *best_coefs, double *best_fitness) {
  if (!desc) return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_search: desc is NULL");
  /* A caller's older, smaller struct: the fields it lacks keep their defaults. */
  leap_lcsc_search_desc dd = leap_lcsc_search_desc_default();
  leap_status st = lp_struct_in(&dd, sizeof dd, desc, "leap_lcsc_search");
  if (st != LEAP_OK) return st;
  const leap_lcsc_search_desc *d = &dd;
  st = check(d);
  if (st != LEAP_OK) return st;
  if (!best_coefs) return lp_error(LEAP_ERR_INVALID_ARG, "leap_lcsc_search: best_coefs is NULL");
  const int n = d->count, P = d->population;
  search s;
  memset(&s, 0, sizeof s);
  s.d = d;
  s.best_fitness = INFINITY;
  lp_rng_seed(&s.rng, d->seed, 0);
  member *pop = lp_calloc((size_t)P, sizeof *pop), *next = lp_calloc((size_t)P, sizeof *next);
  double *store = lp_calloc((size_t)2 * P * n, sizeof *store);
  s.best = lp_calloc((size_t)n, sizeof *s.best);
  if (!pop || !next || !store || !s.best) {
    st = lp_error(LEAP_ERR_NOMEM, "leap_lcsc_search: out of memory");
    goto done;
  }
  for (int i = 0; i < P; i++) pop[i].coefs = store + (size_t)i * n, next[i].coefs = store + (size_t)(P + i) * n;
  st = lp_lcsc_log_open(&s.log, d);
  if (st != LEAP_OK) goto done;
  int size = 0; /* evaluated members of pop */
  for (int i = 0; i < P && s.done < d->budget && st == LEAP_OK; i++, size++) {
    const char *origin = initial(&s, i, pop[i].coefs);
    st = evaluate(&s, 0, origin, pop[i].coefs, &pop[i].fitness);
  }
  for (int g = 1; s.done < d->budget && st == LEAP_OK; g++) {
    qsort(pop, (size_t)size, sizeof *pop, by_fitness);
    int m = 0;
    for (; m < d->elite && m < size; m++) {
      memcpy(next[m].coefs, pop[m].coefs, (size_t)n * sizeof(double));
      next[m].fitness = pop[m].fitness;
    }
    for (; m < P && s.done < d->budget && st == LEAP_OK; m++) {
      child(&s, pop, size, next[m].coefs);
      st = evaluate(&s, g, "child", next[m].coefs, &next[m].fitness);
    }
    /* swap generations: pop takes next's storage and vice versa */
    for (int i = 0; i < P; i++) {
      member t = pop[i];
      pop[i] = next[i];
      next[i] = t;
    }
    size = m;
  }
  if (st == LEAP_OK || st == LEAP_ERR_INTERRUPTED) {
    memcpy(best_coefs, s.best, (size_t)n * sizeof *best_coefs);
    if (best_fitness) *best_fitness = s.best_fitness;
  }
done:
  lp_lcsc_log_close(&s.log);
  free(pop);
  free(next);
  free(store);
  free(s.best);
  return st;
}
