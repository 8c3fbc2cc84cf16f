/* cli_eval.c - `leap eval`: sample quality of a class-conditional model as
 * the Frechet distance (FD) between classifier features of its samples and
 * of the Fashion-MNIST test set, plus the classifier's accuracy on the
 * labels the samples were asked for (conditional accuracy). Samples come
 * from leap_sample on fixed seeds, or from a --samples file written by
 * `leap sample --raw-out`. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "classifier.h"
#include "alloc.h"
#include "cli.h"
#include "cli_args.h"
#include "dataset.h"
#include "default_model.h"
#include "error.h"
#include "interrupt.h"
#include "fd_metric.h"
#include "progress.h"
#include "safetensors.h"
#include "sampler.h"


enum { MAX_N = 100000 };

/* `leap eval --video` (cli_eval_video.c): its own options and help. */
int cli_eval_video_main(int argc, char **argv);
void cli_eval_video_help(FILE *out);

typedef struct eval_opts {
  const char *model, *samples, *against, *classifier, *reference, *labels;
  int32_t *label_list;
  int label_count;
  int n, reference_n, steps, batch, threads, json, quiet;
  int steps_list[32], steps_count; /* --steps LIST: one evaluation each */
  const char *sampler, *backend, *device;
  leap_solver solver;
  double cfg;
  uint64_t seed;
} eval_opts;

void cli_eval_help(FILE *out) {
  fprintf(out,
      "usage: leap eval (--model PATH | --samples PATH) [OPTIONS]\n"
      "\n"
      "Measures sample quality: the Frechet distance (FD) between Gaussian fits\n"
      "of classifier features (128-d) of the samples and of the reference set,\n"
      "and the classifier's accuracy on the labels the samples were asked for.\n"
      "Lower FD is better; the test set split in two halves scores ~1.\n"
      "\n"
      "samples:\n"
      "  --model PATH       model to sample from (.safetensors)\n"
      "  --samples PATH     evaluate tensor `samples` [N,C,H,W] of this file\n"
      "                     (e.g. from 'leap sample --raw-out') instead; its\n"
      "                     `labels` metadata gives the labels unless --labels\n"
      "  --n N              number of samples (default 1000)\n"
      "  --labels LIST      labels, cycled over N: \"0-9\" (default), \"3\", ...\n"
      "  --steps LIST       solver steps (default 50); a list (4,6,8) evaluates\n"
      "                     each step count in turn on the same seeds, with the\n"
      "                     model and reference statistics loaded once\n"
      "  --sampler NAME     euler | heun | ddim | euler_a | dpmpp_2m (default euler)\n"
      "  --cfg W            classifier-free guidance scale (default 3)\n"
      "  --seed S           noise seed (default 0): image i's initial noise is\n"
      "                     stream i of S, whatever --batch is\n"
      "  --batch N          images per leap_sample call (default 250)\n"
      "  --backend NAME     cpu | vulkan (default cpu)\n"
      "  --device D         Vulkan device: index or name substring\n"
      "  --threads N        CPU threads (default: OpenMP's)\n"
      "\n"
      "metric:\n"
      "  --classifier PATH  feature classifier (default: $LEAP_CLASSIFIER, else the\n"
      "                     shipped models/classifier/" LEAP_CLASSIFIER_FILE ")\n"
      "  --reference SPEC   reference images (default fashion-mnist:test)\n"
      "  --reference-n N    only the first N reference images (quick checks)\n"
      "  --against PATH     also compare with the samples of this file (same N,\n"
      "                     e.g. full compute from the same seeds when these are\n"
      "                     a cached or otherwise approximate run): the FD\n"
      "                     between the two sets, how far the feature mean\n"
      "                     moved, and the cosine between that move and the\n"
      "                     other set's offset from the reference (> 0: away\n"
      "                     from the reference, < 0: towards it)\n"
      "  --json             also print one JSON line with the results\n"
      "  --quiet            only the result lines\n"
      "\n");
  cli_eval_video_help(out);
}


/* The evaluated images and the labels they were asked for. */
typedef struct eval_set {
  int n, c, h, w;
  float *x;
  int32_t *labels; /* NULL: unknown (no conditional accuracy) */
} eval_set;

static void eval_set_free(eval_set *e) {
  free(e->x);
  free(e->labels);
}

/* Labels cycled from the list (or 0..classes-1) over n. */
static leap_status cycle_labels(const eval_opts *o, int classes, int n,
                                int32_t **out) {
  *out = lp_malloc((size_t)n * sizeof **out);
  if (!*out) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n; i++)
    (*out)[i] = o->label_list ? o->label_list[i % o->label_count] : i % classes;
  return LEAP_OK;
}

/* "0,1,2" metadata of `leap sample --raw-out` -> n labels ("none": NULL). */
static leap_status parse_meta_labels(const char *path, const char *text, int n,
                                     int32_t **out) {
  *out = NULL;
  if (!text || strcmp(text, "none") == 0) return LEAP_OK;
  int32_t *l = lp_malloc((size_t)n * sizeof *l);
  if (!l) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  const char *p = text;
  for (int i = 0; i < n; i++) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 0 || v > 1000000 || (*end != ',' && *end != 0) ||
        (*end == 0 && i != n - 1)) {
      free(l);
      return lp_error(LEAP_ERR_FORMAT, "%s: metadata 'labels' is not %d "
                      "comma-separated labels", path, n);
    }
    l[i] = (int32_t)v;
    p = *end ? end + 1 : end;
  }
  if (*p) {
    free(l);
    return lp_error(LEAP_ERR_FORMAT, "%s: metadata 'labels' has more than %d "
                    "labels", path, n);
  }
  *out = l;
  return LEAP_OK;
}

static leap_status read_samples(const eval_opts *o, const char *path, const lp_classifier *cls,
                                eval_set *e) {
  lp_st_file *f;
  leap_status s = lp_st_open(path, &f);
  if (s != LEAP_OK) return s;
  const lp_st_tensor *t;
  s = lp_st_get(f, "samples", 0, NULL, &t);
  if (s == LEAP_OK && (t->ndim != 4 || t->shape[0] < 2 || t->shape[0] > MAX_N))
    s = lp_error(LEAP_ERR_FORMAT, "%s: tensor 'samples' must be [N,C,H,W] with "
                 "2 <= N <= %d", path, MAX_N);
  if (s == LEAP_OK) {
    e->n = (int)t->shape[0];
    e->c = (int)t->shape[1];
    e->h = (int)t->shape[2];
    e->w = (int)t->shape[3];
    if (o->n > 0 && o->n < e->n) e->n = o->n; /* --n: the first N */
    e->x = lp_malloc((size_t)t->numel * sizeof *e->x);
    s = e->x ? lp_st_read_f32(f, t, e->x) : lp_error(LEAP_ERR_NOMEM, "out of memory");
  }
  if (s == LEAP_OK) {
    if (o->label_list)
      s = cycle_labels(o, cls->arch.num_classes, e->n, &e->labels);
    else
      s = parse_meta_labels(path, lp_st_meta(f, "labels"),
                            (int)t->shape[0], &e->labels);
  }
  lp_st_close(f);
  return s;
}

static leap_status sample_images(const eval_opts *o, const lp_classifier *cls,
                                 eval_set *e, double *seconds) {
  leap_context_desc cd = leap_context_desc_default(
      o->backend && strcmp(o->backend, "vulkan") == 0 ? LEAP_BACKEND_VULKAN
                                                      : LEAP_BACKEND_CPU);
  cd.threads = o->threads;
  if (cd.backend == LEAP_BACKEND_VULKAN) cd.device = o->device;
  leap_context *ctx = NULL;
  leap_model *m = NULL;
  leap_model_info info = {.struct_size = sizeof info};
  float *noise = NULL;
  leap_status s = leap_context_create(&cd, &ctx);
  if (s == LEAP_OK) s = leap_model_load(ctx, o->model, &m);
  if (s == LEAP_OK) s = leap_model_get_info(m, &info);
  if (s == LEAP_OK && info.num_classes <= 0)
    s = lp_error(LEAP_ERR_UNSUPPORTED, "%s: unconditional model; eval needs "
                 "class labels", o->model);
  for (int i = 0; s == LEAP_OK && o->label_list && i < o->label_count; i++)
    if (o->label_list[i] >= info.num_classes || o->label_list[i] >= cls->arch.num_classes)
      s = lp_error(LEAP_ERR_INVALID_ARG, "--labels: %d is not a class of the "
                   "model and the classifier", (int)o->label_list[i]);
  if (s == LEAP_OK) {
    e->n = o->n;
    e->c = info.in_channels;
    e->h = e->w = info.input_size;
    const size_t per = (size_t)e->c * e->h * e->w;
    e->x = lp_malloc((size_t)e->n * per * sizeof *e->x);
    noise = lp_malloc((size_t)e->n * per * sizeof *noise);
    s = e->x && noise ? cycle_labels(o, info.num_classes, e->n, &e->labels)
                      : lp_error(LEAP_ERR_NOMEM, "out of memory");
    /* All the initial noise up front, so --batch does not change it. */
    if (s == LEAP_OK) lp_noise_fill(o->seed, e->n, per, noise);
    cli_progress bar;
    cli_progress_init(&bar, !o->quiet);
    const double t0 = cli_now();
    for (int i = 0; s == LEAP_OK && i < e->n; i += o->batch) {
      leap_sample_desc d = leap_sample_desc_default();
      d.n = e->n - i < o->batch ? e->n - i : o->batch;
      d.labels = e->labels + i;
      d.steps = o->steps;
      d.solver = o->solver;
      d.cfg = o->cfg;
      d.eta = o->solver == LEAP_SOLVER_EULER_ANCESTRAL ? 1.0 : 0.0;
      d.seed = o->seed + (uint64_t)(i / o->batch); /* ancestral noise only */
      d.noise = noise + (size_t)i * per;
      d.progress = cli_stop_progress; /* Ctrl-C / SIGTERM: stop at the next step */
      s = leap_sample(m, &d, e->x + (size_t)i * per);
      cli_progress_update(&bar, i + d.n, e->n);
    }
    cli_progress_finish(&bar);
    *seconds = cli_now() - t0;
  }
  free(noise);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  return s;
}

/* The reference set's feature statistics, computed once per run. */
typedef struct eval_ref {
  lp_dataset set;
  double *mu, *cov;
} eval_ref;

static leap_status load_reference(const eval_opts *o, const lp_classifier *cls, const eval_set *e,
                                  eval_ref *r) {
  if (r->mu) return LEAP_OK;
  leap_status s = lp_dataset_load(o->reference, &r->set);
  if (s == LEAP_OK && o->reference_n > 0 && o->reference_n < r->set.n)
    r->set.n = o->reference_n; /* the arrays stay whole; free only reads them */
  if (s == LEAP_OK && (r->set.channels != e->c || r->set.height != e->h || r->set.width != e->w))
    s = lp_error(LEAP_ERR_INVALID_ARG, "reference %s is [%d,%d,%d], samples "
                 "[%d,%d,%d]", o->reference, r->set.channels, r->set.height,
                 r->set.width, e->c, e->h, e->w);
  const int d = cls->arch.hidden;
  if (s == LEAP_OK) {
    r->mu = lp_malloc((size_t)d * sizeof *r->mu);
    r->cov = lp_malloc((size_t)d * d * sizeof *r->cov);
    if (!r->mu || !r->cov) s = lp_error(LEAP_ERR_NOMEM, "out of memory");
  }
  if (s == LEAP_OK) s = lp_fd_stats(cls, r->set.images, r->set.n, r->mu, r->cov);
  if (s != LEAP_OK) free(r->mu), free(r->cov), r->mu = r->cov = NULL;
  return s;
}

/* --against: the other set's FD to the reference, the FD between the two
 * sets, and the move of the feature mean from the other set (|dmu|) with
 * its cosine to the other set's offset from the reference. Why: a cached
 * run can land below full compute's FD by moving in a lucky direction
 * (its FD to the test set then says nothing about fidelity); this shows
 * the size and the direction of the move apart, and the spread of the
 * features (tr cov: diversity) of both sets. */
typedef struct eval_against {
  double fd, fd_ref, shift, cos;
  double spread, spread_against; /* tr cov of the features */
} eval_against;

static leap_status compare_against(const eval_opts *o, const lp_classifier *cls, const eval_set *e,
                                   const double *mu, const double *cov, const eval_ref *ref,
                                   eval_against *out) {
  eval_set b = {0};
  const int d = cls->arch.hidden;
  double *mu2 = lp_malloc((size_t)d * sizeof *mu2), *c2 = lp_malloc((size_t)d * d * sizeof *c2);
  leap_status s = mu2 && c2 ? read_samples(o, o->against, cls, &b) : lp_error(LEAP_ERR_NOMEM, "out of memory");
  if (s == LEAP_OK && (b.n != e->n || b.c != e->c || b.h != e->h || b.w != e->w))
    s = lp_error(LEAP_ERR_INVALID_ARG, "--against %s: %d samples [%d,%d,%d], the evaluated set has %d [%d,%d,%d]",
                 o->against, b.n, b.c, b.h, b.w, e->n, e->c, e->h, e->w);
  if (s == LEAP_OK) s = lp_fd_stats(cls, b.x, b.n, mu2, c2);
  if (s == LEAP_OK) s = lp_fd(mu, cov, mu2, c2, d, &out->fd);
  if (s == LEAP_OK) s = lp_fd(mu2, c2, ref->mu, ref->cov, d, &out->fd_ref);
  if (s == LEAP_OK) {
    lp_fd_drift(mu, mu2, ref->mu, d, &out->shift, &out->cos);
    out->spread = out->spread_against = 0;
    for (int i = 0; i < d; i++)
      out->spread += cov[(size_t)i * d + i], out->spread_against += c2[(size_t)i * d + i];
  }
  free(mu2);
  free(c2);
  eval_set_free(&b);
  return s;
}

/* Samples (or reads) one set, scores it and prints the result lines. */
static leap_status evaluate_one(const eval_opts *o, const lp_classifier *cls, const char *cpath,
                                eval_ref *ref) {
  eval_set e = {0};
  double sample_s = 0, fd = NAN, acc = NAN;
  leap_status s = o->samples ? read_samples(o, o->samples, cls, &e) : sample_images(o, cls, &e, &sample_s);
  const lp_classifier_arch *a = &cls->arch;
  if (s == LEAP_OK && (e.c != a->channels || e.h != a->height || e.w != a->width))
    s = lp_error(LEAP_ERR_INVALID_ARG, "samples are [%d,%d,%d] but the "
                 "classifier %s takes [%d,%d,%d]", e.c, e.h, e.w, cpath,
                 a->channels, a->height, a->width);
  for (size_t k = 0; s == LEAP_OK && k < (size_t)e.n * e.c * e.h * e.w; k++)
    if (!isfinite(e.x[k]))
      s = lp_error(LEAP_ERR_NUMERIC, "sample %zu has a non-finite pixel",
                   k / ((size_t)e.c * e.h * e.w));
  for (int i = 0; s == LEAP_OK && e.labels && i < e.n; i++)
    if (e.labels[i] < 0 || e.labels[i] >= a->num_classes)
      s = lp_error(LEAP_ERR_INVALID_ARG, "label %d of sample %d is not a "
                   "class of the classifier", (int)e.labels[i], i);
  if (s == LEAP_OK) s = load_reference(o, cls, &e, ref);
  const int d = a->hidden;
  double *mu1 = lp_malloc((size_t)d * sizeof *mu1), *c1 = lp_malloc((size_t)d * d * sizeof *c1);
  if (s == LEAP_OK && (!mu1 || !c1)) s = lp_error(LEAP_ERR_NOMEM, "out of memory");
  double fd_mean = NAN, fd_cov = NAN;
  if (s == LEAP_OK) s = lp_fd_stats(cls, e.x, e.n, mu1, c1);
  if (s == LEAP_OK) s = lp_fd_parts(mu1, c1, ref->mu, ref->cov, d, &fd_mean, &fd_cov);
  if (s == LEAP_OK) fd = fd_mean + fd_cov;
  eval_against ag = {.fd = NAN};
  if (s == LEAP_OK && o->against) s = compare_against(o, cls, &e, mu1, c1, ref, &ag);
  if (s == LEAP_OK && e.labels)
    s = lp_classifier_accuracy(cls, e.x, e.labels, e.n, &acc);
  if (s == LEAP_OK) {
    const char *src = o->samples ? o->samples : o->model;
    printf("FD %.4f (means %.4f + covariances %.4f)", fd, fd_mean, fd_cov);
    if (e.labels) printf("  conditional accuracy %.4f", acc);
    printf("  (%d samples of %s vs %d of %s", e.n, src, ref->set.n, o->reference);
    if (!o->samples)
      printf("; %s %d steps, cfg %g, seed %llu, %.1f s", leap_solver_name(o->solver),
             o->steps, o->cfg, (unsigned long long)o->seed, sample_s);
    printf(")\n");
    if (o->against)
      printf("against %s: FD %.4f between the sets; its own FD %.4f; feature mean moved %.4f, "
             "cosine %+.3f with its offset from the reference; feature spread %.2f vs its %.2f\n",
             o->against, ag.fd, ag.fd_ref, ag.shift, ag.cos, ag.spread, ag.spread_against);
    if (o->json) {
      printf("{\"fd\": %.6f, \"fd_mean\": %.6f, \"fd_cov\": %.6f, \"cond_accuracy\": ", fd, fd_mean, fd_cov);
      if (e.labels) printf("%.6f", acc); else printf("null");
      printf(", \"n\": %d, \"reference_n\": %d", e.n, ref->set.n);
      if (!o->samples)
        printf(", \"model\": \"%s\", \"sampler\": \"%s\", \"steps\": %d, "
               "\"cfg\": %g, \"seed\": %llu, \"sample_seconds\": %.3f",
               o->model, leap_solver_name(o->solver), o->steps, o->cfg,
               (unsigned long long)o->seed, sample_s);
      else
        printf(", \"samples\": \"%s\"", o->samples);
      if (o->against)
        printf(", \"against\": \"%s\", \"against_fd\": %.6f, \"against_fd_ref\": %.6f, "
               "\"shift\": %.6f, \"shift_cos\": %.6f, \"spread\": %.6f, \"against_spread\": %.6f",
               o->against, ag.fd, ag.fd_ref, ag.shift, ag.cos, ag.spread, ag.spread_against);
      printf(", \"classifier\": \"%s\"}\n", cpath);
    }
    fflush(stdout);
  }
  free(mu1);
  free(c1);
  eval_set_free(&e);
  return s;
}

static int evaluate(eval_opts *o) {
  cli_interrupt_install(); /* Ctrl-C / SIGTERM stop between steps */
  char cls_path[4096];
  const char *cpath = o->classifier;
  leap_status s = LEAP_OK;
  if (!cpath && (s = cli_default_classifier(cls_path, sizeof cls_path)) == LEAP_OK)
    cpath = cls_path;
  lp_classifier *cls = NULL;
  if (s == LEAP_OK) s = lp_classifier_load(cpath, &cls);
  if (s != LEAP_OK) return cli_fail(s);
  eval_ref ref = {0};
  const int runs = o->samples ? 1 : o->steps_count;
  for (int k = 0; s == LEAP_OK && k < runs; k++) {
    if (!o->samples) o->steps = o->steps_list[k];
    s = evaluate_one(o, cls, cpath, &ref);
  }
  free(ref.mu);
  free(ref.cov);
  lp_dataset_free(&ref.set);
  lp_classifier_destroy(cls);
  return cli_exit_for(s);
}

int cli_eval_main(int argc, char **argv) {
  eval_opts o = {.n = 0, .steps = 50, .batch = 250, .sampler = "euler",
                 .cfg = 3.0, .reference = "fashion-mnist:test"};
  const char *steps_text = "50";
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--video") == 0) return cli_eval_video_main(argc, argv);
  cli_args a;
  cli_args_init(&a, argc, argv, cli_eval_help);
  while (cli_next(&a)) {
    if (cli_opt_str(&a, "--model", &o.model)) continue;
    if (cli_opt_str(&a, "--samples", &o.samples)) continue;
    if (cli_opt_str(&a, "--against", &o.against)) continue;
    if (cli_opt_str(&a, "--classifier", &o.classifier)) continue;
    if (cli_opt_str(&a, "--reference", &o.reference)) continue;
    if (cli_opt_str(&a, "--labels", &o.labels)) continue;
    if (cli_opt_int(&a, "--n", 2, MAX_N, &o.n)) continue;
    if (cli_opt_int(&a, "--reference-n", 2, 10000000, &o.reference_n)) continue;
    if (cli_opt_str(&a, "--steps", &steps_text)) continue;
    if (cli_opt_int(&a, "--batch", 1, MAX_N, &o.batch)) continue;
    if (cli_opt_str(&a, "--sampler", &o.sampler)) continue;
    if (cli_opt_double(&a, "--cfg", -1e6, 1e6, &o.cfg)) continue;
    if (cli_opt_u64(&a, "--seed", &o.seed)) continue;
    if (cli_opt_str(&a, "--backend", &o.backend)) continue;
    if (cli_opt_str(&a, "--device", &o.device)) continue;
    if (cli_opt_int(&a, "--threads", 0, 4096, &o.threads)) continue;
    if (cli_opt_flag(&a, "--json", &o.json)) continue;
    if (cli_opt_flag(&a, "--quiet", &o.quiet)) continue;
    cli_unknown(&a);
  }
  if (a.exit_code >= 0) return a.exit_code;
  if (!o.model == !o.samples)
    return cli_usage_error(a.cmd, "give exactly one of --model and --samples");
  if (o.backend && strcmp(o.backend, "cpu") != 0 && strcmp(o.backend, "vulkan") != 0)
    return cli_usage_error(a.cmd, "--backend: '%s' is not cpu or vulkan", o.backend);
  if (o.device && !o.backend) o.backend = "vulkan";
  if (leap_solver_from_name(o.sampler, &o.solver) != LEAP_OK)
    return cli_usage_error(a.cmd, "--sampler: '%s' is not euler, heun, ddim, "
                           "euler_a or dpmpp_2m", o.sampler);
  if (o.labels) {
    int ok = cli_parse_labels(a.cmd, "--labels", o.labels, &o.label_list, &o.label_count);
    if (ok <= 0) return ok < 0 ? CLI_EXIT_NOMEM : CLI_EXIT_USAGE;
  }
  if (!cli_parse_int_list(a.cmd, "--steps", steps_text, 1, 10000, o.steps_list,
                          (int)(sizeof o.steps_list / sizeof o.steps_list[0]), &o.steps_count))
    return CLI_EXIT_USAGE;
  if (!o.samples && o.n == 0) o.n = 1000;
  int code = evaluate(&o);
  free(o.label_list);
  return code;
}
