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
#include "sample_parts.h"


/* Sampled or read images: any number (memory holds one --batch). */
#define MAX_N CLI_RAW_MAX_N

/* `leap eval --video` (cli_eval_video.c): its own options and help. */
int cli_eval_video_main(int argc, char **argv);
void cli_eval_video_help(FILE *out);

typedef struct eval_opts {
  const char *model, *samples, *against, *classifier, *reference, *labels;
  int32_t *label_list;
  int label_count;
  int64_t n;
  int reference_n, steps, batch, threads, json, quiet;
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
      "Lower FD is better; the test set split in two halves scores ~1. The\n"
      "result line names the protocol (FD-50k: 50 000 samples).\n"
      "\n"
      "samples:\n"
      "  --model PATH       model to sample from (.safetensors)\n"
      "  --samples PATH     evaluate tensor `samples` [N,C,H,W] of this file\n"
      "                     (e.g. from 'leap sample --raw-out'), or of every part\n"
      "                     a shard index lists (S.safetensors.index.json from\n"
      "                     'leap sample --shard'; each part checked against it)\n"
      "                     instead; its labels metadata gives the labels unless\n"
      "                     --labels\n"
      "  --n N              number of samples (default 1000; 50000 for the FD-50k\n"
      "                     protocol): any N, in memory of one --batch\n"
      "  --labels LIST      labels, cycled over N: \"0-9\" (default), \"3\", ...\n"
      "  --steps LIST       solver steps (default 50); a list (4,6,8) evaluates\n"
      "                     each step count in turn on the same seeds, with the\n"
      "                     model and reference statistics loaded once\n"
      "  --sampler NAME     euler | heun | ddim | euler_a | dpmpp_2m (default euler)\n"
      "  --cfg W            classifier-free guidance scale (default 3)\n"
      "  --seed S           noise seed (default 0): image i's initial noise is\n"
      "                     stream i of S, whatever --batch is\n"
      "  --batch N          images per leap_sample call and classifier pass\n"
      "                     (default 250); the features' mean and covariance are\n"
      "                     accumulated batch by batch (double, pairwise merge)\n"
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


/* The evaluated images, a batch at a time: sampled from --model (image i
 * from noise stream i of --seed, leap_sample_desc.first, so --batch does
 * not change them) or read from --samples (a file, or a shard index). */
typedef struct eval_stream {
  const char *path;        /* the set's name in messages */
  int64_t n, done;
  int c, h, w;
  int has_labels;
  cli_samples_src *src;    /* --samples */
  leap_context *ctx;       /* --model */
  leap_model *m;
  int classes;
} eval_stream;

static void stream_close(eval_stream *e) {
  cli_samples_close(e->src);
  leap_model_destroy(e->m);
  leap_context_destroy(e->ctx);
  memset(e, 0, sizeof *e);
}

static leap_status stream_open_samples(const eval_opts *o, const char *path, eval_stream *e) {
  e->path = path;
  leap_status s = cli_samples_open(path, &e->src);
  if (s != LEAP_OK) return s;
  e->n = cli_samples_n(e->src);
  if (o->n > 0 && o->n < e->n) e->n = o->n; /* --n: the first N */
  cli_samples_shape(e->src, &e->c, &e->h, &e->w);
  e->has_labels = o->label_list || cli_samples_has_labels(e->src);
  return LEAP_OK;
}

static leap_status stream_open_model(const eval_opts *o, const lp_classifier *cls, eval_stream *e) {
  e->path = o->model;
  leap_context_desc cd = leap_context_desc_default(
      o->backend && strcmp(o->backend, "vulkan") == 0 ? LEAP_BACKEND_VULKAN : LEAP_BACKEND_CPU);
  cd.threads = o->threads;
  if (cd.backend == LEAP_BACKEND_VULKAN) cd.device = o->device;
  leap_model_info info = {.struct_size = sizeof info};
  leap_status s = leap_context_create(&cd, &e->ctx);
  if (s == LEAP_OK) s = leap_model_load(e->ctx, o->model, &e->m);
  if (s == LEAP_OK) s = leap_model_get_info(e->m, &info);
  if (s == LEAP_OK && info.num_classes <= 0)
    s = lp_error(LEAP_ERR_UNSUPPORTED, "%s: unconditional model; eval needs class labels", o->model);
  for (int i = 0; s == LEAP_OK && o->label_list && i < o->label_count; i++)
    if (o->label_list[i] >= info.num_classes || o->label_list[i] >= cls->arch.num_classes)
      s = lp_error(LEAP_ERR_INVALID_ARG, "--labels: %d is not a class of the "
                   "model and the classifier", (int)o->label_list[i]);
  if (s == LEAP_OK) {
    e->n = o->n;
    e->c = info.in_channels;
    e->h = e->w = info.input_size;
    e->classes = info.num_classes;
    e->has_labels = 1;
  }
  return s;
}

/* Up to max images (and their labels) into x; *got = 0 at the end. */
static leap_status stream_next(const eval_opts *o, eval_stream *e, int max, float *x, int32_t *labels, int *got) {
  *got = 0;
  const int64_t left = e->n - e->done;
  const int b = (int)(left < max ? left : max);
  if (b <= 0) return LEAP_OK;
  leap_status s;
  if (e->src) {
    /* A batch may span parts of an index. */
    const size_t per = (size_t)e->c * e->h * e->w;
    int n = 0, got_now = 0;
    do {
      s = cli_samples_next(e->src, b - n, x + (size_t)n * per, labels + n, &got_now);
      n += got_now;
    } while (s == LEAP_OK && got_now > 0 && n < b);
    if (s == LEAP_OK && n < b) s = lp_error(LEAP_ERR_FORMAT, "%s: ended after %lld samples", e->path,
                                            (long long)(e->done + n));
    if (s != LEAP_OK) return s;
  } else {
    leap_sample_desc d = leap_sample_desc_default();
    d.n = b;
    d.first = (uint64_t)e->done;
    d.labels = labels;
    d.steps = o->steps;
    d.solver = o->solver;
    d.cfg = o->cfg;
    d.eta = o->solver == LEAP_SOLVER_EULER_ANCESTRAL ? 1.0 : 0.0;
    d.seed = o->seed;
    d.progress = cli_stop_progress; /* Ctrl-C / SIGTERM: stop at the next step */
    for (int j = 0; j < b; j++) {
      const int64_t g = e->done + j;
      labels[j] = o->label_list ? o->label_list[g % o->label_count] : (int32_t)(g % e->classes);
    }
    if ((s = leap_sample(e->m, &d, x)) != LEAP_OK) return s;
  }
  /* --labels replaces a file's labels. */
  for (int j = 0; e->src && o->label_list && j < b; j++)
    labels[j] = o->label_list[(e->done + j) % o->label_count];
  e->done += b;
  *got = b;
  return LEAP_OK;
}

/* Feature statistics (streamed) and conditional accuracy of a set. */
typedef struct eval_score {
  lp_fd_accum acc;
  int64_t right, labelled;
  double seconds; /* sampling or reading */
} eval_score;

/* Every batch of e through the classifier: checks, features, accuracy. */
static leap_status score_stream(const eval_opts *o, const lp_classifier *cls, eval_stream *e, eval_score *sc) {
  const lp_classifier_arch *a = &cls->arch;
  const int batch = o->batch, K = a->num_classes;
  const size_t per = (size_t)e->c * e->h * e->w;
  float *x = lp_malloc((size_t)batch * per * sizeof *x), *feat = lp_malloc((size_t)batch * a->hidden * sizeof *feat);
  float *logits = lp_malloc((size_t)batch * K * sizeof *logits);
  int32_t *labels = lp_malloc((size_t)batch * sizeof *labels);
  leap_status s = x && feat && logits && labels ? lp_fd_accum_init(&sc->acc, a->hidden)
                                                : lp_error(LEAP_ERR_NOMEM, "out of memory");
  cli_progress bar;
  cli_progress_init(&bar, !o->quiet);
  bar.what = "images", bar.rate = "images/s";
  const double t0 = cli_now();
  for (;;) {
    int got = 0;
    const int64_t first = e->done;
    if (s == LEAP_OK) s = stream_next(o, e, batch, x, labels, &got);
    if (s != LEAP_OK || got == 0) break;
    for (size_t k = 0; s == LEAP_OK && k < (size_t)got * per; k++)
      if (!isfinite(x[k]))
        s = lp_error(LEAP_ERR_NUMERIC, "sample %lld has a non-finite pixel", (long long)(first + (int64_t)(k / per)));
    for (int i = 0; s == LEAP_OK && e->has_labels && i < got; i++)
      if (labels[i] < 0 || labels[i] >= K)
        s = lp_error(LEAP_ERR_INVALID_ARG, "label %d of sample %lld is not a class of the classifier",
                     (int)labels[i], (long long)(first + i));
    if (s == LEAP_OK) s = lp_classifier_infer(cls, x, got, feat, logits);
    if (s == LEAP_OK) s = lp_fd_accum_add_features(&sc->acc, feat, got);
    for (int i = 0; s == LEAP_OK && e->has_labels && i < got; i++) {
      const float *z = logits + (size_t)i * K;
      int best = 0;
      for (int k = 1; k < K; k++) best = z[k] > z[best] ? k : best;
      sc->right += best == labels[i];
      sc->labelled++;
    }
    cli_progress_update(&bar, e->done, e->n);
  }
  cli_progress_finish(&bar);
  sc->seconds = cli_now() - t0;
  free(x);
  free(feat);
  free(logits);
  free(labels);
  return s;
}

/* The reference set's feature statistics, computed once per run. */
typedef struct eval_ref {
  lp_dataset set;
  double *mu, *cov;
} eval_ref;

static leap_status load_reference(const eval_opts *o, const lp_classifier *cls, const eval_stream *e,
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

static leap_status compare_against(const eval_opts *o, const lp_classifier *cls, const eval_stream *e,
                                   const double *mu, const double *cov, const eval_ref *ref,
                                   eval_against *out) {
  eval_stream b = {0};
  eval_score sb = {0};
  const int d = cls->arch.hidden;
  double *mu2 = lp_malloc((size_t)d * sizeof *mu2), *c2 = lp_malloc((size_t)d * d * sizeof *c2);
  leap_status s = mu2 && c2 ? stream_open_samples(o, o->against, &b) : lp_error(LEAP_ERR_NOMEM, "out of memory");
  if (s == LEAP_OK && (b.n != e->n || b.c != e->c || b.h != e->h || b.w != e->w))
    s = lp_error(LEAP_ERR_INVALID_ARG, "--against %s: %lld samples [%d,%d,%d], the evaluated set has %lld [%d,%d,%d]",
                 o->against, (long long)b.n, b.c, b.h, b.w, (long long)e->n, e->c, e->h, e->w);
  if (s == LEAP_OK) s = score_stream(o, cls, &b, &sb);
  if (s == LEAP_OK) s = lp_fd_accum_result(&sb.acc, mu2, c2);
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
  lp_fd_accum_free(&sb.acc);
  stream_close(&b);
  return s;
}

/* "FD-50k" for n = 50000, "FD-1234" otherwise: the protocol's usual name. */
static void protocol_name(int64_t n, char *buf, size_t len) {
  if (n >= 1000 && n % 1000 == 0) snprintf(buf, len, "FD-%lldk", (long long)(n / 1000));
  else snprintf(buf, len, "FD-%lld", (long long)n);
}

/* Samples (or reads) one set, scores it and prints the result lines. */
static leap_status evaluate_one(const eval_opts *o, const lp_classifier *cls, const char *cpath,
                                eval_ref *ref) {
  eval_stream e = {0};
  eval_score sc = {0};
  double fd = NAN, acc = NAN;
  leap_status s = o->samples ? stream_open_samples(o, o->samples, &e) : stream_open_model(o, cls, &e);
  const lp_classifier_arch *a = &cls->arch;
  if (s == LEAP_OK && e.n < 2)
    s = lp_error(LEAP_ERR_INVALID_ARG, "%s: FD needs at least 2 samples", e.path);
  if (s == LEAP_OK && (e.c != a->channels || e.h != a->height || e.w != a->width))
    s = lp_error(LEAP_ERR_INVALID_ARG, "samples are [%d,%d,%d] but the "
                 "classifier %s takes [%d,%d,%d]", e.c, e.h, e.w, cpath,
                 a->channels, a->height, a->width);
  /* The samples first: their faults are named before the reference set is
   * read (no data set needed to find them). */
  if (s == LEAP_OK) s = score_stream(o, cls, &e, &sc);
  if (s == LEAP_OK) s = load_reference(o, cls, &e, ref);
  const int d = a->hidden;
  double *mu1 = lp_malloc((size_t)d * sizeof *mu1), *c1 = lp_malloc((size_t)d * d * sizeof *c1);
  if (s == LEAP_OK && (!mu1 || !c1)) s = lp_error(LEAP_ERR_NOMEM, "out of memory");
  double fd_mean = NAN, fd_cov = NAN;
  if (s == LEAP_OK) s = lp_fd_accum_result(&sc.acc, mu1, c1);
  if (s == LEAP_OK) s = lp_fd_parts(mu1, c1, ref->mu, ref->cov, d, &fd_mean, &fd_cov);
  if (s == LEAP_OK) fd = fd_mean + fd_cov;
  eval_against ag = {.fd = NAN};
  if (s == LEAP_OK && o->against) s = compare_against(o, cls, &e, mu1, c1, ref, &ag);
  if (sc.labelled) acc = (double)sc.right / (double)sc.labelled;
  if (s == LEAP_OK) {
    const char *src = o->samples ? o->samples : o->model;
    const double sample_s = o->samples ? 0 : sc.seconds;
    char proto[32];
    protocol_name(e.n, proto, sizeof proto);
    printf("FD %.4f (means %.4f + covariances %.4f)", fd, fd_mean, fd_cov);
    if (e.has_labels) printf("  conditional accuracy %.4f", acc);
    printf("  (%s: %lld samples of %s vs %d of %s", proto, (long long)e.n, src, ref->set.n, o->reference);
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
      if (e.has_labels) printf("%.6f", acc); else printf("null");
      printf(", \"protocol\": \"%s\", \"n\": %lld, \"reference_n\": %d", proto, (long long)e.n, ref->set.n);
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
  lp_fd_accum_free(&sc.acc);
  stream_close(&e);
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
    uint64_t n = 0;
    if (cli_opt_u64(&a, "--n", &n)) {
      if (a.exit_code < 0 && (n < 2 || n > (uint64_t)MAX_N))
        a.exit_code = cli_usage_error(a.cmd, "--n: %llu is out of range [2, %lld]", (unsigned long long)n,
                                      (long long)MAX_N);
      o.n = (int64_t)n;
      continue;
    }
    if (cli_opt_int(&a, "--reference-n", 2, 10000000, &o.reference_n)) continue;
    if (cli_opt_str(&a, "--steps", &steps_text)) continue;
    if (cli_opt_int(&a, "--batch", 1, 32768, &o.batch)) continue;
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
