/* cli_profile.c - `leap profile`: ERTACache's offline residual profiling.
 * Samples a calibration set (labels x seeds) with full compute and writes a
 * JSON profile (plugin/cache_profile.h) valid for this model, sampler,
 * schedule, steps and guidance, with one setting per threshold lambda or
 * per target number of computed steps. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_calibrate.h"
#include "alloc.h"
#include "cli.h"
#include "backend_choice.h"
#include "cli_args.h"
#include "default_model.h"
#include "error.h"
#include "interrupt.h"
#include "output.h"
#include "progress.h"

#define MAX_SETTINGS 32

void cli_profile_help(FILE *out) {
  fprintf(out,
      "usage: leap profile [OPTIONS]\n"
      "\n"
      "Profiles a model for ERTACache (leap sample --cache): samples a calibration\n"
      "set with full compute, records the block-stack residual at every step and,\n"
      "per setting, selects the reusable steps, fits the residual rectification and\n"
      "measures the timestep adjustment along the cached path. Rectification is\n"
      "validated on the final images (k-fold over the calibration images) and kept\n"
      "only where it helps; the summary says which settings keep it.\n"
      "\n"
      "  --model PATH       model (.safetensors); default: the shipped model\n"
      "  --out PATH         profile JSON (default profile.json)\n"
      "  --labels LIST      calibration labels (default: every class)\n"
      "  --images N         calibration images, labels cycled (default 20)\n"
      "  --seed S           calibration noise seed (default 1000); evaluate with\n"
      "                     other seeds\n"
      "  --steps N          solver steps (default 50)\n"
      "  --sampler NAME     euler | ddim | euler_a | dpmpp_2m (default euler)\n"
      "  --schedule NAME    default | flow | ... (default: the model's own)\n"
      "  --shift S          flow schedule shift (default 1)\n"
      "  --cfg W            guidance scale (default 3 for class models, else 1)\n"
      "  --lambda LIST      settings by threshold on the relative L1 residual error,\n"
      "                     e.g. \"0.05,0.1,0.2\"\n"
      "  --computed LIST    settings by number of computed steps (default: steps/1.5,\n"
      "                     steps/2, steps/3: about 1.5x, 2x, 3x fewer evaluations)\n"
      "  --window N         longest reuse run + 1 considered (default 16)\n"
      "  --shrink LIST      rectification candidates: shrinkages toward no correction\n"
      "                     in (0, 1], rising (default \"0.25,0.5,1\"; \"0\" = no\n"
      "                     rectification). Each costs one more calibration pass per\n"
      "                     setting; a setting keeps rectification only when\n"
      "                     cross-validation of its final images on the calibration\n"
      "                     set finds it better by more than one standard error\n"
      "  --folds K          cross-validation folds over the images (default 5)\n"
      "  --backend NAME     vulkan | cpu (default: vulkan when there is a GPU, else cpu)\n"
      "  --device D         Vulkan device index or name substring\n"
      "  --threads N        CPU threads (default: OpenMP's)\n"
      "  --quiet            no progress line or summary\n");
}

/* "a,b,c" of doubles (ints when as_int) into out; returns the count or -1. */
static int parse_list(const char *what, const char *s, int as_int, double *out) {
  int n = 0;
  const char *p = s;
  while (*p) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v) || v < 0 || (as_int && v != floor(v)) || n == MAX_SETTINGS) {
      cli_usage_error("profile", "%s: '%s' is not a list of up to %d %s", what, s, MAX_SETTINGS,
                      as_int ? "step counts" : "non-negative numbers");
      return -1;
    }
    out[n++] = v;
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') {
      cli_usage_error("profile", "%s: unexpected '%s'", what, end);
      return -1;
    }
  }
  return n;
}

static int on_progress(void *user, int step, int steps) {
  cli_progress_update(user, step, steps);
  return cli_interrupted(); /* Ctrl-C / SIGTERM: stop at this step, write nothing */
}

int cli_profile_main(int argc, char **argv) {
  const char *model = NULL, *out = "profile.json", *labels_s = NULL, *sampler = "euler", *schedule = "default";
  const char *lambda_s = NULL, *computed_s = NULL, *backend = NULL, *device = NULL, *shrink_s = NULL;
  int images = 20, steps = 50, window = 16, threads = 0, quiet = 0, folds = 5;
  uint64_t seed = 1000;
  double shift = 1.0, cfg = NAN;
  cli_args a;
  cli_args_init(&a, argc, argv, cli_profile_help);
  while (cli_next(&a)) {
    if (cli_opt_str(&a, "--model", &model) || cli_opt_str(&a, "--out", &out) ||
        cli_opt_str(&a, "--labels", &labels_s) || cli_opt_int(&a, "--images", 1, 4096, &images) ||
        cli_opt_u64(&a, "--seed", &seed) || cli_opt_int(&a, "--steps", 2, 10000, &steps) ||
        cli_opt_str(&a, "--sampler", &sampler) || cli_opt_str(&a, "--schedule", &schedule) ||
        cli_opt_double(&a, "--shift", 1e-6, 1e6, &shift) || cli_opt_double(&a, "--cfg", -1e6, 1e6, &cfg) ||
        cli_opt_str(&a, "--lambda", &lambda_s) || cli_opt_str(&a, "--computed", &computed_s) ||
        cli_opt_int(&a, "--window", 2, 10000, &window) || cli_opt_str(&a, "--backend", &backend) ||
        cli_opt_str(&a, "--device", &device) || cli_opt_int(&a, "--threads", 0, 4096, &threads) ||
        cli_opt_str(&a, "--shrink", &shrink_s) || cli_opt_int(&a, "--folds", 2, 1000, &folds) ||
        cli_opt_flag(&a, "--quiet", &quiet))
      continue;
    cli_unknown(&a);
  }
  if (a.exit_code >= 0) return a.exit_code;
  lp_cache_calib_cfg cc = {.images = images, .seed = seed, .shift = shift, .steps = steps, .window = window};
  if (leap_solver_from_name(sampler, &cc.solver) != LEAP_OK)
    return cli_usage_error("profile", "--sampler: '%s' is not a sampler", sampler);
  if (leap_schedule_from_name(schedule, &cc.schedule) != LEAP_OK)
    return cli_usage_error("profile", "--schedule: '%s' is not a schedule", schedule);
  if (backend && strcmp(backend, "cpu") && strcmp(backend, "vulkan"))
    return cli_usage_error("profile", "--backend: '%s' is not vulkan or cpu", backend);
  double lambdas[MAX_SETTINGS], targets_d[MAX_SETTINGS];
  int targets[MAX_SETTINGS];
  int nl = 0, nt = 0;
  if (lambda_s && (nl = parse_list("--lambda", lambda_s, 0, lambdas)) < 0) return CLI_EXIT_USAGE;
  if (computed_s && (nt = parse_list("--computed", computed_s, 1, targets_d)) < 0) return CLI_EXIT_USAGE;
  if (!lambda_s && !computed_s) {
    targets_d[0] = round(steps / 1.5), targets_d[1] = round(steps / 2.0), targets_d[2] = round(steps / 3.0);
    nt = 3;
  }
  for (int k = 0; k < nt; k++) {
    targets[k] = (int)targets_d[k];
    if (targets[k] < 1 || targets[k] > steps)
      return cli_usage_error("profile", "--computed: %d outside 1..%d", targets[k], steps);
  }
  cc.lambdas = lambdas, cc.nlambdas = nl, cc.targets = targets, cc.ntargets = nt;
  double shrink[MAX_SETTINGS];
  if (shrink_s) {
    int ns = parse_list("--shrink", shrink_s, 0, shrink);
    if (ns < 0) return CLI_EXIT_USAGE;
    if (ns == 1 && shrink[0] == 0) ns = 0; /* no rectification */
    if (ns > LP_RECT_MAXCAND - 1)
      return cli_usage_error("profile", "--shrink: at most %d candidates", LP_RECT_MAXCAND - 1);
    for (int k = 0; k < ns; k++)
      if (!(shrink[k] > 0 && shrink[k] <= 1) || (k > 0 && !(shrink[k] > shrink[k - 1])))
        return cli_usage_error("profile", "--shrink: '%s' must rise within (0, 1] (or be \"0\")", shrink_s);
    cc.shrink = shrink, cc.nshrink = ns;
  }
  cc.folds = folds;

  char default_path[4096];
  leap_status s;
  if (!model) {
    if ((s = cli_default_model(default_path, sizeof default_path)) != LEAP_OK) return cli_fail(s);
    model = default_path;
  }
  /* The output rule (core/output.h) before the calibration, not after. */
  if ((s = lp_out_check(out, LP_OUT_PROFILE, &model, 1)) != LEAP_OK) return cli_fail(s);
  cli_interrupt_install();
  const leap_backend_kind kind = cli_pick_backend(backend, device, quiet);
  leap_context_desc cd = leap_context_desc_default(kind);
  cd.threads = threads;
  cd.device = device;
  leap_context *ctx = NULL;
  leap_model *m = NULL;
  int32_t *list = NULL, *labels = NULL;
  int nlist = 0, code = CLI_EXIT_OK;
  if ((s = leap_context_create(&cd, &ctx)) != LEAP_OK) return cli_fail(s);
  if ((s = leap_model_load(ctx, model, &m)) != LEAP_OK) {
    code = cli_fail(s);
    goto done;
  }
  leap_model_info info = {.struct_size = sizeof info};
  leap_model_get_info(m, &info);
  cc.cfg = !isnan(cfg) ? cfg : info.num_classes > 0 ? 3.0 : 1.0;
  if (info.num_classes > 0) {
    int ok = labels_s ? cli_parse_labels("profile", "--labels", labels_s, &list, &nlist) : 1;
    if (ok <= 0) {
      code = ok < 0 ? CLI_EXIT_NOMEM : CLI_EXIT_USAGE;
      goto done;
    }
    labels = lp_malloc((size_t)images * sizeof *labels);
    if (!labels) {
      code = cli_fail(lp_error(LEAP_ERR_NOMEM, "out of memory"));
      goto done;
    }
    for (int i = 0; i < images; i++) labels[i] = list ? list[i % nlist] : i % info.num_classes;
    for (int i = 0; i < images; i++)
      if (labels[i] < 0 || labels[i] > info.num_classes) {
        code = cli_usage_error("profile", "--labels: %d is not a class of this model", labels[i]);
        goto done;
      }
    cc.labels = labels;
  }
  cli_progress bar;
  cli_progress_init(&bar, !quiet);
  cc.progress = on_progress;
  cc.progress_user = &bar;
  lp_cache_profile prof;
  double t0 = cli_now();
  s = lp_cache_calibrate(m, &cc, &prof);
  cli_progress_finish(&bar);
  if (s == LEAP_ERR_INTERRUPTED || (s == LEAP_OK && cli_interrupted())) {
    if (s == LEAP_OK) lp_cache_profile_free(&prof);
    code = cli_interrupted_exit();
    goto done;
  }
  if (s != LEAP_OK) {
    code = cli_fail(s);
    goto done;
  }
  s = lp_cache_profile_write_job(&prof, out, &model, 1);
  if (s == LEAP_ERR_INTERRUPTED) code = cli_interrupted_exit();
  else if (s != LEAP_OK) code = cli_fail(s);
  else if (!quiet) {
    printf("profiled %s on %d images x %d steps in %.1f s on %s -> %s\n", model, images, steps, cli_now() - t0,
           leap_context_device_name(ctx), out);
    for (int k = 0; k < prof.nsettings; k++) {
      const lp_cache_setting *st = &prof.settings[k];
      double ep = 0, er = 0;
      int nr = 0;
      for (int i = 0; i < steps; i++)
        if (st->reuse[i]) ep += st->err_plain[i], er += st->err_rect[i], nr++;
      printf("  setting %d %-14s lambda %.4g: %d computed, %d reused, mean residual error %.4f", k, st->name,
             st->lambda, st->computed, steps - st->computed, nr ? ep / nr : 0);
      if (st->rect_shrink > 0) printf(" -> %.4f rectified (out of fold)\n", nr ? er / nr : 0);
      else printf("\n");
      if (st->rect_ncand < 2) {
        printf("    rectification: off (%s)\n", images < 2 ? "cross-validation needs 2 calibration images or more"
                                                         : "--shrink 0: not tried");
        continue;
      }
      printf("    rectification: %s; %d-fold CV PSNR vs full compute on the calibration images: off %.2f dB",
             st->rect_shrink > 0 ? "ON" : "off", st->rect_folds, st->rect_cv_psnr[0]);
      for (int q = 1; q < st->rect_ncand; q++)
        printf(", shrink %g %+.2f +- %.2f", st->rect_grid[q], st->rect_cv_psnr[q] - st->rect_cv_psnr[0],
               st->rect_cv_se[q]);
      if (st->rect_shrink > 0) printf(" -> kept shrink %g\n", st->rect_shrink);
      else printf(" -> no gain beyond one standard error: off (leap sample --cache runs without it)\n");
    }
  }
  lp_cache_profile_free(&prof);
done:
  free(list);
  free(labels);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  return code;
}
