/* cli_bench_erta.c - `leap bench erta`: ERTACache against full compute and
 * the two baselines, in one process on one model load, on evaluation seeds
 * disjoint from the profile's calibration seed. For every setting of the
 * profile (a number of computed steps) it runs: uniform reuse with the same
 * count; the TeaCache-style rule with the threshold that computes that many
 * steps on the calibration indicators; ERTACache's offline policy only;
 * + timestep adjustment; + rectification. Each row reports model
 * evaluations, wall-clock speedup against full compute measured in the same
 * run (full compute is timed before and after, averaged), PSNR and SSIM of
 * each image against the full-compute image of the same seed (mean over
 * images; pixels [-1, 1], so the peak-to-peak range is 2; SSIM with a 7x7
 * uniform window as scikit-image's default), FD from leap eval's
 * classifier against the Fashion-MNIST test set (when both are found), and
 * FD against the full-compute images of the same seeds ("FD to full": 0
 * when the cache changes nothing; it measures how far the cache moves the
 * sample distribution, where FD against data also rewards moves that
 * happen to land nearer the data), and the direction of that move: "drift
 * dir." is the cosine between the move of the feature mean from full
 * compute and full compute's own offset from the test set (+1: straight
 * away from the data, -1: straight towards it; `leap eval --against` gives
 * the same for any two sample files). "hook time" is the host time inside
 * the cache's calls (leap_cache_stats.overhead_seconds): leap_sample
 * records the cache's ops into each step's one program, so their device
 * time is measured by the row "cache on, nothing reused", which keeps every
 * step's input and stores its residual and reuses nothing. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_calibrate.h"
#include "alloc.h"
#include "cache_profile.h"
#include "classifier.h"
#include "cli.h"
#include "cli_args.h"
#include "dataset.h"
#include "default_model.h"
#include "error.h"
#include "interrupt.h"
#include "fd_metric.h"
#include "progress.h"

void cli_bench_erta_help(FILE *out) {
  fprintf(out,
      "usage: leap bench erta --profile PROFILE [OPTIONS]\n"
      "\n"
      "Measures ERTACache (leap profile / leap sample --cache) against full compute,\n"
      "uniform reuse and a TeaCache-style rule at each setting of the profile, and\n"
      "prints a markdown table: evaluations, speedup, PSNR, SSIM, FD against the data\n"
      "and FD against the full-compute images of the same seeds.\n"
      "\n"
      "  --model PATH       model (default: the shipped model)\n"
      "  --profile PATH     ERTACache profile of this model (required)\n"
      "  --n N              evaluation images, labels 0..classes-1 cycled (default 100)\n"
      "  --seed S           evaluation seed (default 0; must differ from the\n"
      "                     profile's calibration seed)\n"
      "  --classifier PATH  FD classifier (default models/classifier/...)\n"
      "  --reference SPEC   FD reference images (default fashion-mnist:test)\n"
      "  --no-fd            skip FD\n"
      "  --backend NAME     cpu | vulkan (default cpu)\n"
      "  --device D         Vulkan device\n"
      "  --threads N        CPU threads\n");
}

typedef struct bench {
  leap_context *ctx;
  leap_model *m;
  leap_sample_desc d;
  const char *profile;
  char id[17];
  size_t count; /* floats per batch */
  int c, h, w;
  float *full;
  lp_classifier *cls;
  double *ref_mu, *ref_cov;
  double *full_mu, *full_cov; /* FD statistics of the full-compute images */
} bench;

static double psnr(const float *a, const float *b, size_t n) {
  double mse = 0;
  for (size_t k = 0; k < n; k++) mse += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
  mse /= (double)n;
  return mse > 0 ? 10 * log10(4.0 / mse) : 99.0;
}

static double ssim(const float *a, const float *b, int h, int w) {
  const int win = 7, np = win * win;
  const double C1 = (0.01 * 2) * (0.01 * 2), C2 = (0.03 * 2) * (0.03 * 2);
  double sum = 0;
  int cnt = 0;
  for (int y = 0; y + win <= h; y++)
    for (int x = 0; x + win <= w; x++) {
      double ma = 0, mb = 0, aa = 0, bb = 0, ab = 0;
      for (int j = 0; j < win; j++)
        for (int i = 0; i < win; i++) {
          const double u = a[(y + j) * w + x + i], v = b[(y + j) * w + x + i];
          ma += u, mb += v, aa += u * u, bb += v * v, ab += u * v;
        }
      ma /= np, mb /= np;
      const double k = (double)np / (np - 1);
      const double va = k * (aa / np - ma * ma), vb = k * (bb / np - mb * mb), cab = k * (ab / np - ma * mb);
      sum += ((2 * ma * mb + C1) * (2 * cab + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
      cnt++;
    }
  return sum / cnt;
}

/* FD of the images x against the reference set and against the
 * full-compute images, and the drift direction (when their statistics
 * are in b; else NAN). With keep set, x's statistics become the
 * full-compute ones. */
static leap_status fd_of(bench *b, const float *x, double *fd, double *fd_full, double *dir, int keep) {
  *fd = *fd_full = *dir = NAN;
  if (!b->cls) return LEAP_OK;
  const int d = b->cls->arch.hidden;
  double *mu = lp_malloc((size_t)d * sizeof *mu), *cov = lp_malloc((size_t)d * d * sizeof *cov);
  leap_status s = mu && cov ? lp_fd_stats(b->cls, x, b->d.n, mu, cov) : lp_error(LEAP_ERR_NOMEM, "out of memory");
  if (s == LEAP_OK) s = lp_fd(mu, cov, b->ref_mu, b->ref_cov, d, fd);
  if (s == LEAP_OK && b->full_mu) s = lp_fd(mu, cov, b->full_mu, b->full_cov, d, fd_full);
  if (s == LEAP_OK && b->full_mu) lp_fd_drift(mu, b->full_mu, b->ref_mu, d, NULL, dir);
  if (s == LEAP_OK && keep) {
    free(b->full_mu), free(b->full_cov);
    b->full_mu = mu, b->full_cov = cov;
    return LEAP_OK;
  }
  free(mu), free(cov);
  return s;
}

/* One sampling run (cache may be NULL); wall seconds into *sec. */
static leap_status run(bench *b, leap_cache *cache, float *x, double *sec, int *computed) {
  b->d.cache = cache;
  const double t0 = cli_now();
  leap_status s = leap_sample(b->m, &b->d, x);
  *sec = cli_now() - t0;
  *computed = b->d.steps;
  leap_cache_stats st = {.struct_size = sizeof st};
  if (s == LEAP_OK && cache && (s = leap_cache_get_stats(cache, &st)) == LEAP_OK) *computed = st.computed;
  return s;
}

static leap_status row(bench *b, const char *name, const leap_cache_desc *cd, double t_full, float *x) {
  leap_cache *cache = NULL;
  leap_status s = leap_cache_create(b->ctx, cd, &cache);
  double sec = 0, fd = NAN, fd_full = NAN, dir = NAN;
  int computed = 0;
  if (s == LEAP_OK) s = run(b, cache, x, &sec, &computed);
  leap_cache_stats st = {.struct_size = sizeof st};
  if (s == LEAP_OK) s = leap_cache_get_stats(cache, &st);
  leap_cache_destroy(cache);
  if (s == LEAP_OK) s = fd_of(b, x, &fd, &fd_full, &dir, 0);
  if (s != LEAP_OK) return s;
  const size_t per = (size_t)b->c * b->h * b->w;
  double p = 0, q = 0;
  for (int i = 0; i < b->d.n; i++) {
    p += psnr(b->full + i * per, x + i * per, per);
    for (int ch = 0; ch < b->c; ch++)
      q += ssim(b->full + i * per + (size_t)ch * b->h * b->w, x + i * per + (size_t)ch * b->h * b->w, b->h, b->w) / b->c;
  }
  printf("| %-34s | %3d/%d | %5.2fx | %5.2fx | %6.2f | %.4f | %7.3f | %7.3f | %+5.2f | %5.2f%% |\n", name,
         computed, b->d.steps, (double)b->d.steps / computed, t_full / sec, p / b->d.n, q / b->d.n, fd, fd_full,
         dir, 100.0 * st.overhead_seconds / sec);
  fflush(stdout);
  return LEAP_OK;
}

int cli_bench_erta_main(int argc, char **argv) {
  cli_interrupt_install(); /* Ctrl-C / SIGTERM stop between steps */
  const char *model = NULL, *profile = NULL, *classifier = NULL, *reference = "fashion-mnist:test";
  const char *backend = "cpu", *device = NULL;
  int n = 100, threads = 0, no_fd = 0;
  uint64_t seed = 0;
  cli_args a;
  cli_args_init(&a, argc, argv, cli_bench_erta_help);
  while (cli_next(&a)) {
    if (cli_opt_str(&a, "--model", &model) || cli_opt_str(&a, "--profile", &profile) ||
        cli_opt_int(&a, "--n", 2, 100000, &n) || cli_opt_u64(&a, "--seed", &seed) ||
        cli_opt_str(&a, "--classifier", &classifier) || cli_opt_str(&a, "--reference", &reference) ||
        cli_opt_flag(&a, "--no-fd", &no_fd) || cli_opt_str(&a, "--backend", &backend) ||
        cli_opt_str(&a, "--device", &device) || cli_opt_int(&a, "--threads", 0, 4096, &threads))
      continue;
    cli_unknown(&a);
  }
  if (a.exit_code >= 0) return a.exit_code;
  if (!profile) return cli_usage_error("bench erta", "--profile PATH is required (make one with 'leap profile')");
  if (strcmp(backend, "cpu") && strcmp(backend, "vulkan"))
    return cli_usage_error("bench erta", "--backend: '%s' is not cpu or vulkan", backend);
  lp_cache_profile prof;
  leap_status s = lp_cache_profile_read(profile, &prof);
  if (s != LEAP_OK) return cli_fail(s);
  if (seed == prof.calib_seed) {
    lp_cache_profile_free(&prof);
    return cli_usage_error("bench erta", "--seed %llu is the profile's calibration seed: evaluate on other seeds",
                           (unsigned long long)seed);
  }
  char default_path[4096];
  if (!model && (s = cli_default_model(default_path, sizeof default_path)) == LEAP_OK) model = default_path;
  bench b;
  memset(&b, 0, sizeof b);
  b.profile = profile;
  leap_context_desc cd = leap_context_desc_default(strcmp(backend, "cpu") ? LEAP_BACKEND_VULKAN : LEAP_BACKEND_CPU);
  cd.threads = threads, cd.device = device;
  int32_t *labels = NULL;
  float *x = NULL;
  lp_dataset ref = {0};
  if (s == LEAP_OK) s = leap_context_create(&cd, &b.ctx);
  if (s == LEAP_OK) s = leap_model_load(b.ctx, model, &b.m);
  if (s == LEAP_OK) s = leap_model_id(b.m, b.id, sizeof b.id);
  leap_model_info info = {.struct_size = sizeof info};
  if (s == LEAP_OK) s = leap_model_get_info(b.m, &info);
  if (s == LEAP_OK) {
    b.c = info.in_channels, b.h = b.w = info.input_size;
    b.count = (size_t)n * b.c * b.h * b.w;
    labels = lp_malloc((size_t)n * sizeof *labels);
    b.full = lp_malloc(b.count * sizeof(float));
    x = lp_malloc(b.count * sizeof(float));
    if (!labels || !b.full || !x) s = lp_error(LEAP_ERR_NOMEM, "out of memory");
  }
  for (int i = 0; s == LEAP_OK && i < n; i++) labels[i] = info.num_classes > 0 ? i % info.num_classes : 0;
  if (s == LEAP_OK && !no_fd) {
    char path[4096];
    if (classifier) snprintf(path, sizeof path, "%s", classifier);
    else s = cli_default_classifier(path, sizeof path);
    if (s == LEAP_OK) s = lp_classifier_load(path, &b.cls);
    if (s == LEAP_OK) s = lp_dataset_load(reference, &ref);
    const int d = s == LEAP_OK ? b.cls->arch.hidden : 0;
    if (s == LEAP_OK) {
      b.ref_mu = lp_malloc((size_t)d * sizeof(double)), b.ref_cov = lp_malloc((size_t)d * d * sizeof(double));
      s = b.ref_mu && b.ref_cov ? lp_fd_stats(b.cls, ref.images, ref.n, b.ref_mu, b.ref_cov)
                                : lp_error(LEAP_ERR_NOMEM, "out of memory");
    }
  }
  b.d = leap_sample_desc_default();
  b.d.n = n, b.d.labels = info.num_classes > 0 ? labels : NULL, b.d.steps = prof.steps, b.d.solver = prof.solver;
  b.d.schedule = prof.schedule, b.d.shift = prof.shift, b.d.cfg = prof.cfg, b.d.seed = seed;
  b.d.progress = cli_stop_progress; /* Ctrl-C / SIGTERM: stop at the next step */
  double t1 = 0, t2 = 0, fd_data = NAN, fd_unused = NAN, dir_unused = NAN;
  int computed = 0;
  /* Warm-up (Vulkan compiles programs on first use), then full compute. */
  if (s == LEAP_OK) s = run(&b, NULL, b.full, &t1, &computed);
  if (s == LEAP_OK) s = run(&b, NULL, b.full, &t1, &computed);
  if (s == LEAP_OK) s = fd_of(&b, b.full, &fd_data, &fd_unused, &dir_unused, 1);
  if (s == LEAP_OK) {
    printf("model %s (id %s), %s, %d images (seed %llu; calibration seed %llu, %d images), %s %d steps, cfg %g\n",
           model, b.id, leap_context_device_name(b.ctx), n, (unsigned long long)seed,
           (unsigned long long)prof.calib_seed, prof.calib_images, leap_solver_name(prof.solver), prof.steps,
           prof.cfg);
    printf("full compute: %.2f s\n\n", t1);
    printf("| setting | computed | NFE saving | speedup | PSNR dB | SSIM | FD | FD to full | drift dir. | hook time |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    printf("| %-34s | %3d/%d | %5.2fx | %5.2fx | %6s | %6s | %7.3f | %7.3f | %5s | %5.2f%% |\n", "full compute",
           prof.steps, prof.steps, 1.0, 1.0, "inf", "1", fd_data, b.full_mu ? 0.0 : NAN, "", 0.0);
  }
  leap_cache_desc base = leap_cache_desc_default();
  base.branches = info.num_classes > 0 && prof.cfg != 1.0 ? 2 : 1;
  base.images = n, base.solver = prof.solver, base.schedule = prof.schedule, base.shift = prof.shift;
  base.steps = prof.steps, base.cfg = prof.cfg, base.model_id = b.id, base.profile = profile;
  double t_full = t1;
  /* The cache's own cost: every step computed, its input kept and its
   * residual stored as when steps are reused; the images are full
   * compute's, the speedup column is 1 / (1 + overhead). */
  if (s == LEAP_OK) {
    leap_cache_desc all = base;
    all.policy = LEAP_CACHE_UNIFORM, all.uniform_computed = prof.steps;
    s = row(&b, "cache on, nothing reused (its cost)", &all, t_full, x);
  }
  for (int k = 0; s == LEAP_OK && k < prof.nsettings; k++) {
    const int target = prof.settings[k].computed;
    char name[160];
    leap_cache_desc u = base;
    u.policy = LEAP_CACHE_UNIFORM, u.uniform_computed = target;
    snprintf(name, sizeof name, "uniform (%d computed)", target);
    s = row(&b, name, &u, t_full, x);
    leap_cache_desc t = base;
    t.policy = LEAP_CACHE_TEACACHE, t.teacache_threshold = lp_cache_tc_threshold_for(&prof, target);
    snprintf(name, sizeof name, "TeaCache-style (thr %.3g)", t.teacache_threshold);
    if (s == LEAP_OK) s = row(&b, name, &t, t_full, x);
    leap_cache_desc e = base;
    e.setting = k, e.timestep_adjust = 0, e.rectify = 0;
    snprintf(name, sizeof name, "ERTA %s: policy only", prof.settings[k].name);
    if (s == LEAP_OK) s = row(&b, name, &e, t_full, x);
    e.timestep_adjust = 1;
    snprintf(name, sizeof name, "ERTA %s: + timestep adj.", prof.settings[k].name);
    if (s == LEAP_OK) s = row(&b, name, &e, t_full, x);
    e.rectify = 1;
    /* The profile keeps rectification only where its cross-validation
     * found a gain; where it did not, this row runs without it. */
    if (prof.settings[k].rect_shrink > 0)
      snprintf(name, sizeof name, "ERTA %s: + rect. (shrink %g)", prof.settings[k].name, prof.settings[k].rect_shrink);
    else
      snprintf(name, sizeof name, "ERTA %s: + rect. (CV: off)", prof.settings[k].name);
    if (s == LEAP_OK) s = row(&b, name, &e, t_full, x);
    e.timestep_adjust = 2;
    snprintf(name, sizeof name, "ERTA %s: rect. + paper phi", prof.settings[k].name);
    if (s == LEAP_OK) s = row(&b, name, &e, t_full, x);
  }
  if (s == LEAP_OK) s = run(&b, NULL, x, &t2, &computed);
  if (s == LEAP_OK) printf("\nfull compute timed again at the end: %.2f s (start %.2f s)\n", t2, t1);
  int code = cli_exit_for(s);
  lp_dataset_free(&ref);
  lp_classifier_destroy(b.cls);
  free(b.ref_mu), free(b.ref_cov), free(b.full_mu), free(b.full_cov), free(b.full), free(x), free(labels);
  leap_model_destroy(b.m);
  leap_context_destroy(b.ctx);
  lp_cache_profile_free(&prof);
  return code;
}
