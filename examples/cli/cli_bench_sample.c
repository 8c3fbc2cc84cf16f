/* cli_bench_sample.c - `leap bench sample`: sampling throughput of one model
 * at several batch sizes, the job of ../shared/GPU-NOTES.md's peer table
 * (50 Euler steps, classifier-free guidance batched with the conditional
 * branch). Model load, device set-up and the first run at each batch size
 * (which records the Vulkan programs) are excluded: the numbers are what a
 * host that keeps the model loaded sees per call. Each batch size is timed
 * --repeat times; best and median are printed, as a markdown table or one
 * JSON object per batch size. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_choice.h"
#include "alloc.h"
#include "cli.h"
#include "cli_args.h"
#include "default_model.h"
#include "error.h"
#include "interrupt.h"
#include "progress.h"

enum { MAX_BATCHES = 32, MAX_REPEAT = 1000 };

void cli_bench_sample_help(FILE *out) {
  fprintf(out,
      "usage: leap bench sample [OPTIONS]\n"
      "\n"
      "Times sampling at several batch sizes, excluding model load and the first\n"
      "(warm-up) run at each size, and prints best and median seconds per call.\n"
      "\n"
      "  --model PATH       model (default: the shipped model)\n"
      "  --batch LIST       batch sizes, comma-separated (default 1,16,256)\n"
      "  --steps N          solver steps (default 50)\n"
      "  --sampler NAME     euler | heun | ddim | euler_a | dpmpp_2m (default euler)\n"
      "  --cfg W            guidance scale (default 3; 1 = one branch)\n"
      "  --repeat R         timed runs per batch size (default 5)\n"
      "  --seed S           noise seed (default 0)\n"
      "  --backend NAME     cpu | vulkan (default: vulkan on a GPU, else cpu)\n"
      "  --device D         Vulkan device: index or name substring\n"
      "  --threads N        CPU threads\n"
      "  --json             one JSON object per batch size instead of a table\n");
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int cli_bench_sample_main(int argc, char **argv) {
  cli_interrupt_install(); /* Ctrl-C / SIGTERM stop between steps */
  const char *model = NULL, *batch_text = "1,16,256", *sampler = "euler", *backend = NULL, *device = NULL;
  int steps = 50, repeat = 5, threads = 0, json = 0;
  double cfg = 3.0;
  uint64_t seed = 0;
  cli_args a;
  cli_args_init(&a, argc, argv, cli_bench_sample_help);
  while (cli_next(&a)) {
    if (cli_opt_str(&a, "--model", &model) || cli_opt_str(&a, "--batch", &batch_text) ||
        cli_opt_int(&a, "--steps", 1, 100000, &steps) || cli_opt_str(&a, "--sampler", &sampler) ||
        cli_opt_double(&a, "--cfg", 0.0, 1000.0, &cfg) || cli_opt_int(&a, "--repeat", 1, MAX_REPEAT, &repeat) ||
        cli_opt_u64(&a, "--seed", &seed) || cli_opt_str(&a, "--backend", &backend) ||
        cli_opt_str(&a, "--device", &device) || cli_opt_int(&a, "--threads", 0, 4096, &threads) ||
        cli_opt_flag(&a, "--json", &json))
      continue;
    cli_unknown(&a);
  }
  if (a.exit_code >= 0) return a.exit_code;
  int batches[MAX_BATCHES], nb = 0;
  if (!cli_parse_int_list("bench sample", "--batch", batch_text, 1, 65536, batches, MAX_BATCHES, &nb))
    return CLI_EXIT_USAGE;
  leap_solver solver;
  if (leap_solver_from_name(sampler, &solver) != LEAP_OK)
    return cli_usage_error("bench sample", "--sampler: unknown sampler '%s'", sampler);
  if (backend && strcmp(backend, "cpu") && strcmp(backend, "vulkan"))
    return cli_usage_error("bench sample", "--backend: '%s' is not cpu or vulkan", backend);

  char default_path[4096];
  leap_status s = LEAP_OK;
  if (!model && (s = cli_default_model(default_path, sizeof default_path)) == LEAP_OK) model = default_path;
  if (s != LEAP_OK) return cli_fail(s);
  leap_context_desc cd = leap_context_desc_default(cli_pick_backend(backend, device, 1));
  cd.threads = threads;
  if (cd.backend == LEAP_BACKEND_VULKAN) cd.device = device;
  leap_context *ctx = NULL;
  leap_model *m = NULL;
  leap_model_info info = {.struct_size = sizeof info};
  s = leap_context_create(&cd, &ctx);
  if (s == LEAP_OK) s = leap_model_load(ctx, model, &m);
  if (s == LEAP_OK) s = leap_model_get_info(m, &info);
  if (s != LEAP_OK) {
    leap_model_destroy(m);
    leap_context_destroy(ctx);
    return cli_fail(s);
  }
  const int guided = info.num_classes > 0 && cfg != 1.0;
  if (!json) {
    printf("model %s, %s, %s %d steps, cfg %g (%d model rows per image), best and median of %d\n\n", model,
           leap_context_device_name(ctx), leap_solver_name(solver), steps, cfg, guided ? 2 : 1, repeat);
    printf("| batch | best s | median s | images/s | model evals/s |\n| --- | --- | --- | --- | --- |\n");
    fflush(stdout);
  }
  double *times = lp_malloc((size_t)repeat * sizeof *times);
  if (!times) s = lp_error(LEAP_ERR_NOMEM, "out of memory");
  for (int b = 0; s == LEAP_OK && b < nb; b++) {
    const int n = batches[b];
    const size_t count = (size_t)n * info.in_channels * info.input_size * info.input_size;
    float *x = lp_malloc(count * sizeof *x);
    int32_t *labels = lp_malloc((size_t)n * sizeof *labels);
    if (!x || !labels) s = lp_error(LEAP_ERR_NOMEM, "out of memory");
    for (int i = 0; s == LEAP_OK && i < n; i++) labels[i] = info.num_classes > 0 ? i % info.num_classes : 0;
    leap_sample_desc d = leap_sample_desc_default();
    d.n = n, d.labels = info.num_classes > 0 ? labels : NULL, d.steps = steps, d.solver = solver;
    d.cfg = info.num_classes > 0 ? cfg : 1.0, d.seed = seed;
    d.eta = solver == LEAP_SOLVER_EULER_ANCESTRAL ? 1.0 : 0.0;
    d.progress = cli_stop_progress; /* Ctrl-C / SIGTERM: stop at the next step */
    if (s == LEAP_OK) s = leap_sample(m, &d, x); /* warm-up: records the programs for this batch */
    for (int r = 0; s == LEAP_OK && r < repeat; r++) {
      const double t0 = cli_now();
      s = leap_sample(m, &d, x);
      times[r] = cli_now() - t0;
    }
    if (s == LEAP_OK) {
      qsort(times, (size_t)repeat, sizeof *times, cmp_double);
      const double best = times[0], median = times[repeat / 2];
      const double evals = (double)n * (guided ? 2 : 1) * steps * (solver == LEAP_SOLVER_HEUN ? 2 : 1);
      if (json)
        printf("{\"bench\":\"sample\",\"model\":\"%s\",\"device\":\"%s\",\"batch\":%d,\"steps\":%d,\"cfg\":%g,"
               "\"best_s\":%.6f,\"median_s\":%.6f,\"images_per_s\":%.3f}\n",
               model, leap_context_device_name(ctx), n, steps, cfg, best, median, n / best);
      else
        printf("| %d | %.4f | %.4f | %.1f | %.0f |\n", n, best, median, n / best, evals / best);
      fflush(stdout);
    }
    free(x), free(labels);
  }
  free(times);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  return cli_exit_for(s);
}
