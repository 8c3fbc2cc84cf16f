/* cli_lcsc.c - `leap lcsc`: LCSC, linear combination of saved checkpoints.
 *   leap lcsc combine --ckpt A B C --coef a b c --out M   weighted sum
 *   leap lcsc search  --ckpt A B C ... --log L           evolutionary search
 *   leap lcsc eval    --ckpt A B C ... --coef ...         FD vs NFE report
 * --ckpt and --coef take several values (up to the next --option); values
 * may also be comma-separated. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "alloc.h"
#include "cli_args.h"
#include "default_model.h"
#include "error.h"
#include "file_read.h"
#include "json.h"
#include "lcsc.h"
#include "lcsc_log.h"
#include "lcsc_fitness.h"
#include "interrupt.h"
#include "output.h"
#include "progress.h"

enum { MAX_CKPT = 1024, MAX_NFE = 32 };

void cli_lcsc_help(FILE *out) {
  fprintf(out,
      "usage: leap lcsc combine --ckpt A B ... --coef a b ... --out PATH [OPTIONS]\n"
      "       leap lcsc search  --ckpt A B ... [--log PATH] [OPTIONS]\n"
      "       leap lcsc eval    --ckpt A B ... (--coef a b ... | --from-log PATH) [OPTIONS]\n"
      "\n"
      "LCSC: theta = sum_i coef_i theta_i over checkpoints of one training run.\n"
      "--ckpt and --coef take several values each (or one comma-separated list).\n"
      "\n"
      "combine:\n"
      "  --out PATH         output .safetensors (written atomically; the coefficients\n"
      "                     and sources go into its metadata)\n"
      "  --dtype T          f32 | f16 | bf16 (default: the first file's)\n"
      "  --backend NAME     cpu (default: fused on the host, straight from the files)\n"
      "                     | vulkan\n"
      "  --device D         Vulkan device: index or name substring\n"
      "  --measure          also time a plain copy of the same bytes (read every\n"
      "                     input, write as many bytes as the output) and print both\n"
      "                     rates; on Vulkan also the kernel alone on device-resident\n"
      "                     data against vkCmdCopyBuffer of as many bytes (GPU\n"
      "                     timestamps)\n"
      "  --json             with --measure: also one JSON line of the figures\n"
      "\n"
      "search (fitness: FD of samples of the combined model, lower is better):\n"
      "  --budget N         candidate evaluations in all (default 40)\n"
      "  --population N     candidates per generation (default 8)\n"
      "  --elite N          best carried over unchanged (default 2)\n"
      "  --tournament N     parents: best of N drawn (default 3)\n"
      "  --crossover P      chance of a blend crossover (default 0.7)\n"
      "  --sigma S          mutation std (default 0.1); the noise is zero-sum (moves\n"
      "                     weight between checkpoints), the scale moves by S/N\n"
      "  --mutation-rate P  chance each coefficient mutates (default 0.3)\n"
      "  --ema-decay D      EMA-like initial weights D^(N-1-i) (default 0.7)\n"
      "  --normalize        rescale every candidate to sum to 1\n"
      "  --search-seed S    the search's random stream (default 0)\n"
      "  --log PATH         JSON-lines log (default lcsc_search.jsonl); an existing\n"
      "                     log with the same settings is resumed\n"
      "  --out PATH         also write the best combination (F32 by default, --dtype)\n"
      "\n"
      "fitness / evaluation sampling:\n"
      "  --n N              samples per FD (search default 100, eval default 500)\n"
      "  --steps N          search: sampler steps = NFE of the fitness (default 6)\n"
      "  --nfe LIST         eval: step counts, e.g. 4,6,8,10,15 (default 4,6,9,15,25)\n"
      "  --sampler NAME     euler | heun | ddim | euler_a | dpmpp_2m (default euler)\n"
      "  --cfg W            guidance scale (default 3)\n"
      "  --seed S           noise seed (search default 1, eval default 1000000: keep\n"
      "                     the search's and the evaluation's seeds disjoint)\n"
      "  --classifier PATH  feature classifier (default: $LEAP_CLASSIFIER, else the\n"
      "                     shipped models/classifier/" LEAP_CLASSIFIER_FILE ")\n"
      "  --reference SPEC   reference images (default fashion-mnist:test)\n"
      "  --threads N        CPU threads (default: OpenMP's)\n"
      "  --work DIR         folder for scratch models (default: the log's folder for\n"
      "                     search, the current folder for eval); leap makes its own\n"
      "                     private folder in it and removes it, and never deletes a\n"
      "                     file it did not create\n"
      "\n"
      "eval:\n"
      "  --from-log PATH    take the coefficients of the best candidate of a log\n"
      "  --ema PATH         also evaluate this EMA checkpoint\n"
      "  --models LIST      which of lcsc,last,uniform,ema to evaluate (default all\n"
      "                     available)\n"
      "  --json             one JSON line per (model, NFE)\n"
      "  --quiet            no progress lines\n"
      "\n"
      "Outputs (--out, --log) are never an input (compared by identity: ./A, a\n"
      "symlink or a hard link to A is A) nor an existing file other than leap's\n"
      "earlier output of the same kind. Ctrl-C or SIGTERM stops any mode at the\n"
      "next step or buffer, writes nothing (a search log keeps the candidates\n"
      "done) and removes every temporary; exit 130.\n");
}

typedef struct lcsc_opts {
  const char *mode;
  const char *ckpt[MAX_CKPT];
  int nckpt;
  double coef[MAX_CKPT];
  int ncoef;
  const char *out, *dtype, *backend, *device, *log, *work, *classifier, *reference, *sampler, *from_log, *ema, *nfe, *models;
  int measure, threads, n, steps, quiet, json, normalize;
  double cfg;
  uint64_t seed, search_seed;
  int seed_set, n_set;
  leap_lcsc_search_desc sd;
} lcsc_opts;

/* `--name v1 v2 ...` (values up to the next --option) or `--name=v1,v2`. */
static int multi(cli_args *a, const char *name, const char **vals, int *count) {
  const char *arg = a->argv[a->i];
  size_t len = strlen(name);
  if (strncmp(arg, name, len) != 0 || (arg[len] != 0 && arg[len] != '=')) return 0;
  int first = 1;
  for (;;) {
    const char *v;
    if (first && arg[len] == '=')
      v = arg + len + 1;
    else if (a->i + 1 < a->argc && strncmp(a->argv[a->i + 1], "--", 2) != 0)
      v = a->argv[++a->i];
    else
      break;
    if (!first && arg[len] == '=') break;
    first = 0;
    /* split a comma list in place (argv strings are writable) */
    for (char *p = (char *)v; p;) {
      char *c = strchr(p, ',');
      if (c) *c = 0;
      if (*p) {
        if (*count >= MAX_CKPT) {
          cli_usage_error(a->cmd, "%s: more than %d values", name, MAX_CKPT);
          a->exit_code = CLI_EXIT_USAGE;
          return 1;
        }
        vals[(*count)++] = p;
      }
      p = c ? c + 1 : NULL;
    }
  }
  if (*count == 0) {
    cli_usage_error(a->cmd, "option '%s' needs values", name);
    a->exit_code = CLI_EXIT_USAGE;
  }
  return 1;
}

static int parse(int argc, char **argv, lcsc_opts *o) {
  const char *coef_text[MAX_CKPT];
  int ncoef_text = 0;
  o->sd = leap_lcsc_search_desc_default();
  o->sampler = "euler";
  o->cfg = 3.0;
  o->steps = 6;
  o->reference = "fashion-mnist:test";
  o->log = "lcsc_search.jsonl";
  cli_args a;
  cli_args_init(&a, argc, argv, cli_lcsc_help);
  while (cli_next(&a)) {
    if (multi(&a, "--ckpt", o->ckpt, &o->nckpt)) continue;
    if (multi(&a, "--coef", coef_text, &ncoef_text)) continue;
    if (cli_opt_str(&a, "--out", &o->out)) continue;
    if (cli_opt_str(&a, "--dtype", &o->dtype)) continue;
    if (cli_opt_str(&a, "--backend", &o->backend)) continue;
    if (cli_opt_str(&a, "--device", &o->device)) continue;
    if (cli_opt_flag(&a, "--measure", &o->measure)) continue;
    if (cli_opt_int(&a, "--budget", 1, 1000000, &o->sd.budget)) continue;
    if (cli_opt_int(&a, "--population", 2, 100000, &o->sd.population)) continue;
    if (cli_opt_int(&a, "--elite", 0, 100000, &o->sd.elite)) continue;
    if (cli_opt_int(&a, "--tournament", 1, 100000, &o->sd.tournament)) continue;
    if (cli_opt_double(&a, "--crossover", 0, 1, &o->sd.crossover_rate)) continue;
    if (cli_opt_double(&a, "--sigma", 0, 1e6, &o->sd.mutation_sigma)) continue;
    if (cli_opt_double(&a, "--mutation-rate", 0, 1, &o->sd.mutation_rate)) continue;
    if (cli_opt_double(&a, "--ema-decay", 1e-9, 1, &o->sd.ema_decay)) continue;
    if (cli_opt_flag(&a, "--normalize", &o->normalize)) continue;
    if (cli_opt_u64(&a, "--search-seed", &o->search_seed)) continue;
    if (cli_opt_str(&a, "--log", &o->log)) continue;
    if (cli_opt_str(&a, "--work", &o->work)) continue;
    if (cli_opt_str(&a, "--classifier", &o->classifier)) continue;
    if (cli_opt_str(&a, "--reference", &o->reference)) continue;
    if (cli_opt_str(&a, "--sampler", &o->sampler)) continue;
    if (cli_opt_str(&a, "--from-log", &o->from_log)) continue;
    if (cli_opt_str(&a, "--ema", &o->ema)) continue;
    if (cli_opt_str(&a, "--nfe", &o->nfe)) continue;
    if (cli_opt_str(&a, "--models", &o->models)) continue;
    if (cli_opt_int(&a, "--threads", 0, 4096, &o->threads)) continue;
    if (cli_opt_int(&a, "--n", 2, 100000, &o->n)) {
      o->n_set = 1;
      continue;
    }
    if (cli_opt_int(&a, "--steps", 1, 10000, &o->steps)) continue;
    if (cli_opt_double(&a, "--cfg", -1e6, 1e6, &o->cfg)) continue;
    if (cli_opt_u64(&a, "--seed", &o->seed)) {
      o->seed_set = 1;
      continue;
    }
    if (cli_opt_flag(&a, "--json", &o->json)) continue;
    if (cli_opt_flag(&a, "--quiet", &o->quiet)) continue;
    cli_unknown(&a);
  }
  if (a.exit_code >= 0) return a.exit_code;
  for (int i = 0; i < ncoef_text; i++)
    if (!cli_parse_double(a.cmd, "--coef", coef_text[i], -1e30, 1e30, &o->coef[o->ncoef++])) return CLI_EXIT_USAGE;
  if (o->nckpt == 0) return cli_usage_error(a.cmd, "give the checkpoints with --ckpt");
  if (o->ncoef && o->ncoef != o->nckpt)
    return cli_usage_error(a.cmd, "%d checkpoints but %d coefficients", o->nckpt, o->ncoef);
  if (o->backend && strcmp(o->backend, "cpu") != 0 && strcmp(o->backend, "vulkan") != 0)
    return cli_usage_error(a.cmd, "--backend: '%s' is not cpu or vulkan", o->backend);
  if (o->device && !o->backend) o->backend = "vulkan";
  o->sd.normalize = o->normalize;
  o->sd.seed = o->search_seed;
  return -1;
}

static int dtype_of(const char *cmd, const char *name, int *out) {
  if (!name) return *out = -1, 1;
  if (!strcmp(name, "f32") || !strcmp(name, "F32")) return *out = LEAP_F32, 1;
  if (!strcmp(name, "f16") || !strcmp(name, "F16")) return *out = LEAP_F16, 1;
  if (!strcmp(name, "bf16") || !strcmp(name, "BF16")) return *out = LEAP_BF16, 1;
  cli_usage_error(cmd, "--dtype: '%s' is not f32, f16 or bf16", name);
  return 0;
}

static int combine(lcsc_opts *o, const char *cmd) {
  if (!o->ncoef) return cli_usage_error(cmd, "give the coefficients with --coef");
  if (!o->out) return cli_usage_error(cmd, "give the output with --out");
  leap_lcsc_combine_desc d = leap_lcsc_combine_desc_default();
  if (!dtype_of(cmd, o->dtype, &d.out_dtype)) return CLI_EXIT_USAGE;
  d.count = o->nckpt;
  d.paths = o->ckpt;
  d.coefs = o->coef;
  d.out_path = o->out;
  leap_status s = lp_out_check(o->out, LP_OUT_COMBINED, o->ckpt, o->nckpt);
  if (s != LEAP_OK) return cli_fail(s);
  cli_interrupt_install();
  leap_context *ctx = NULL;
  if (o->backend && strcmp(o->backend, "vulkan") == 0) {
    leap_context_desc cd = leap_context_desc_default(LEAP_BACKEND_VULKAN);
    cd.device = o->device;
    s = leap_context_create(&cd, &ctx);
    if (s != LEAP_OK) return cli_fail(s);
    d.ctx = ctx;
  }
  leap_lcsc_combine_stats st = {.struct_size = sizeof st};
  lp_lcsc_combine_detail det;
  s = lp_lcsc_combine_ex(&d, &st, &det);
  if (s != LEAP_OK) {
    leap_context_destroy(ctx);
    return s == LEAP_ERR_INTERRUPTED ? cli_interrupted_exit() : cli_fail(s);
  }
  const char *where = ctx ? leap_context_device_name(ctx) : "host cpu";
  const double moved = (double)(st.bytes_read + st.bytes_written);
  printf("wrote %s: %d checkpoints, %.1f MB read + %.1f MB written in %.3f s = %.0f MB/s (%s)\n", o->out, o->nckpt,
         st.bytes_read / 1e6, st.bytes_written / 1e6, st.seconds, moved / st.seconds / 1e6, where);
  if (ctx && det.kernel_ms >= 0)
    printf("device: %d packed chunks, %.3f ms of kernel time (GPU timestamps)\n", det.chunks, det.kernel_ms);
  if (o->measure) {
    /* (a) end to end, files to file: best of several alternating runs of
     * each, so that a busy machine's noise does not decide the ratio; both
     * start from a warm page cache. */
    enum { REPEATS = 5 };
    double copy_best = INFINITY, comb_best = INFINITY;
    uint64_t rd = 0;
    for (int r = 0; r < REPEATS && s == LEAP_OK; r++) {
      double sec = 0;
      s = lp_lcsc_copy_baseline(o->nckpt, o->ckpt, o->out, st.bytes_written, &rd, &sec);
      if (sec < copy_best) copy_best = sec;
      leap_lcsc_combine_stats st2 = {.struct_size = sizeof st2};
      if (s == LEAP_OK) s = leap_lcsc_combine(&d, &st2);
      if (s == LEAP_OK && st2.seconds < comb_best) comb_best = st2.seconds;
    }
    /* (b) on the device alone: the packed kernel on device-resident data
     * against a device buffer copy of as many bytes, GPU-timed */
    lp_lcsc_vk_bench db;
    memset(&db, 0, sizeof db);
    if (s == LEAP_OK && ctx) s = lp_lcsc_vk_bench_files(ctx, o->nckpt, o->ckpt, d.out_dtype, 0, 2 * REPEATS, &db);
    if (s != LEAP_OK) {
      leap_context_destroy(ctx);
      return s == LEAP_ERR_INTERRUPTED ? cli_interrupted_exit() : cli_fail(s);
    }
    const double copy_rate = (double)(rd + st.bytes_written) / copy_best, comb_rate = moved / comb_best;
    printf("%sbest of %d: plain copy of the same bytes %.4f s = %.0f MB/s; combination %.4f s = %.0f MB/s = %.0f%% of "
           "the copy\n",
           ctx ? "end to end (files to file, host copy as the baseline), " : "", REPEATS, copy_best, copy_rate / 1e6,
           comb_best, comb_rate / 1e6, 100.0 * comb_rate / copy_rate);
    const char *timer = db.gpu_timestamps ? "GPU timestamps" : "host wall time, the queue has no timestamps";
    const double sum_rate = ctx ? (double)db.sum_bytes / (db.sum_ms * 1e-3) : 0,
                 dcopy_rate = ctx ? (double)db.copy_bytes / (db.copy_ms * 1e-3) : 0,
                 scopy_rate = ctx ? (double)db.copy_bytes / (db.shader_copy_ms * 1e-3) : 0;
    if (ctx) {
      printf("device only (%s, best of %d): weighted sum of %d inputs, %.1f M elements, %.1f MB read + written in "
             "%.3f ms = %.1f GB/s; vkCmdCopyBuffer moving %.1f MB in %.3f ms = %.1f GB/s; sum = %.0f%% of the copy\n",
             timer, 2 * REPEATS, o->nckpt, db.elements / 1e6, db.sum_bytes / 1e6, db.sum_ms, sum_rate / 1e9,
             db.copy_bytes / 1e6, db.copy_ms, dcopy_rate / 1e9, 100.0 * sum_rate / dcopy_rate);
      printf("device only, against a compute-shader copy of the same bytes: %.3f ms = %.1f GB/s; sum = %.0f%% of it\n",
             db.shader_copy_ms, scopy_rate / 1e9, 100.0 * sum_rate / scopy_rate);
    }
    if (o->json) {
      printf("{\"checkpoints\": %d, \"bytes_read\": %llu, \"bytes_written\": %llu, \"combine_s\": %.6f, "
             "\"copy_s\": %.6f, \"combine_MBps\": %.1f, \"copy_MBps\": %.1f, \"ratio\": %.4f, \"device\": \"%s\"",
             o->nckpt, (unsigned long long)st.bytes_read, (unsigned long long)st.bytes_written, comb_best, copy_best,
             comb_rate / 1e6, copy_rate / 1e6, comb_rate / copy_rate, where);
      if (ctx)
        printf(", \"chunks\": %d, \"chunk_kernel_ms\": %.4f, \"device_elements\": %llu, \"device_sum_bytes\": %llu, "
               "\"device_sum_ms\": %.4f, \"device_sum_GBps\": %.2f, \"device_copy_bytes\": %llu, "
               "\"device_copy_ms\": %.4f, \"device_copy_GBps\": %.2f, \"device_ratio\": %.4f, "
               "\"device_shader_copy_ms\": %.4f, \"device_shader_copy_GBps\": %.2f, \"device_ratio_shader_copy\": %.4f, "
               "\"device_timer\": \"%s\"",
               det.chunks, det.kernel_ms, (unsigned long long)db.elements, (unsigned long long)db.sum_bytes, db.sum_ms,
               sum_rate / 1e9, (unsigned long long)db.copy_bytes, db.copy_ms, dcopy_rate / 1e9, sum_rate / dcopy_rate,
               db.shader_copy_ms, scopy_rate / 1e9, sum_rate / scopy_rate, db.gpu_timestamps ? "gpu" : "host");
      printf("}\n");
    }
  }
  leap_context_destroy(ctx);
  return CLI_EXIT_OK;
}


/* The fitness / evaluation machinery on the CPU backend. */
static leap_status fd_setup(lcsc_opts *o, const char *work, int steps, leap_context **ctx, lp_lcsc_fd **fd) {
  leap_solver solver;
  if (leap_solver_from_name(o->sampler, &solver) != LEAP_OK)
    return lp_error(LEAP_ERR_INVALID_ARG, "--sampler: '%s' is not a sampler", o->sampler);
  char cls_buf[4096];
  const char *classifier = o->classifier;
  if (!classifier) {
    leap_status s = cli_default_classifier(cls_buf, sizeof cls_buf);
    if (s != LEAP_OK) return s;
    classifier = cls_buf;
  }
  leap_context_desc cd = leap_context_desc_default(LEAP_BACKEND_CPU);
  if (o->backend && strcmp(o->backend, "vulkan") == 0) {
    cd = leap_context_desc_default(LEAP_BACKEND_VULKAN);
    cd.device = o->device;
  }
  cd.threads = o->threads;
  leap_status s = leap_context_create(&cd, ctx);
  if (s != LEAP_OK) return s;
  lp_lcsc_fd_setup fs = {.count = o->nckpt, .paths = o->ckpt, .work_path = work,
                         .classifier = classifier, .reference = o->reference,
                         .n = o->n, .steps = steps, .solver = solver, .cfg = o->cfg, .seed = o->seed,
                         .batch = 250, .ctx = *ctx};
  return lp_lcsc_fd_create(&fs, fd);
}

typedef struct progress_state {
  int quiet;
  double t0;
  int count;
} progress_state;

static int on_candidate(void *user, int done, int budget, double fitness, double best, const double *coefs) {
  progress_state *p = user;
  (void)coefs;
  if (!p->quiet)
    fprintf(stderr, "candidate %d/%d  FD %.4f  best %.4f  (%.0f s)\n", done, budget, fitness, best,
            cli_now() - p->t0);
  return cli_interrupted(); /* Ctrl-C: the search stops, the log keeps what was done */
}

static void print_coefs(FILE *f, int n, const double *c) {
  for (int k = 0; k < n; k++) fprintf(f, "%s%.6g", k ? "," : "", c[k]);
}

static int search(lcsc_opts *o, const char *cmd) {
  int out_dtype = LEAP_F32;
  if (o->dtype && !dtype_of(cmd, o->dtype, &out_dtype)) return CLI_EXIT_USAGE;
  if (!o->n_set) o->n = 100;
  if (!o->seed_set) o->seed = 1;
  /* The output rule (core/output.h) before hours of search: --out and
   * --log are never a checkpoint, and replace only leap's own files. */
  leap_status s = LEAP_OK;
  if (o->out && (s = lp_out_check(o->out, LP_OUT_COMBINED, o->ckpt, o->nckpt)) != LEAP_OK) return cli_fail(s);
  if ((s = lp_out_check(o->log, LP_OUT_LCSC_LOG, o->ckpt, o->nckpt)) != LEAP_OK) return cli_fail(s);
  if (o->out && lp_out_same_file(o->out, o->log))
    return cli_usage_error(cmd, "--out and --log name the same file (%s)", o->out);
  /* Candidates go to a private folder of leap's own (in --work, default
   * the log's folder), removed on every exit path, signals included. */
  char work[4200], log_dir[4096];
  snprintf(log_dir, sizeof log_dir, "%s", o->log);
  char *slash = strrchr(log_dir, '/');
  if (slash) *slash = 0;
  else snprintf(log_dir, sizeof log_dir, ".");
  cli_interrupt_install();
  lp_out_workdir *wd = NULL;
  if ((s = lp_out_workdir_create(o->work ? o->work : log_dir, "lcsc-search", &wd)) != LEAP_OK) return cli_fail(s);
  if (!lp_out_workdir_file(wd, "candidate.safetensors", work, sizeof work)) {
    lp_out_workdir_remove(wd);
    return cli_fail(lp_error(LEAP_ERR_INVALID_ARG, "--work: path too long"));
  }
  leap_context *ctx = NULL;
  lp_lcsc_fd *fd = NULL;
  s = fd_setup(o, work, o->steps, &ctx, &fd);
  double *best = lp_calloc((size_t)o->nckpt, sizeof *best);
  double best_fd = NAN;
  progress_state ps = {.quiet = o->quiet, .t0 = cli_now(), .count = o->nckpt};
  if (s == LEAP_OK && !best) s = lp_error(LEAP_ERR_NOMEM, "out of memory");
  if (s == LEAP_OK) {
    o->sd.count = o->nckpt;
    o->sd.log_path = o->log;
    o->sd.fitness = lp_lcsc_fd_fitness;
    o->sd.fitness_user = fd;
    o->sd.progress = on_candidate;
    o->sd.progress_user = &ps;
    s = leap_lcsc_search(&o->sd, best, &best_fd);
  }
  if (s == LEAP_OK && o->out) {
    leap_lcsc_combine_desc d = leap_lcsc_combine_desc_default();
    d.count = o->nckpt, d.paths = o->ckpt, d.coefs = best, d.out_path = o->out, d.out_dtype = out_dtype;
    s = leap_lcsc_combine(&d, NULL);
  }
  int code = CLI_EXIT_OK;
  if (s == LEAP_ERR_INTERRUPTED) {
    fprintf(stderr, "leap: interrupted; the log %s keeps the candidates done, nothing else was written\n", o->log);
    code = CLI_EXIT_INTERRUPTED;
  } else if (s != LEAP_OK) {
    code = cli_fail(s);
  } else {
    uint64_t fw = 0;
    double sec = 0;
    lp_lcsc_fd_cost(fd, &fw, &sec);
    printf("best FD %.4f (%s, %d steps, %d samples, seed %llu) with coefficients ", best_fd, o->sampler, o->steps,
           o->n, (unsigned long long)o->seed);
    print_coefs(stdout, o->nckpt, best);
    printf("\nsearch cost: %d candidates, %llu model evaluations (this run), %.0f s sampling, %.0f s wall; log %s\n",
           o->sd.budget, (unsigned long long)fw, sec, cli_now() - ps.t0, o->log);
  }
  free(best);
  lp_lcsc_fd_destroy(fd);
  leap_context_destroy(ctx);
  lp_out_workdir_remove(wd);
  return code;
}

/* The best candidate of a search log. */
static leap_status best_of_log(const char *path, int count, double *coefs) {
  char *text;
  size_t len;
  leap_status s = lp_file_read_all(path, "search log", LP_LCSC_LOG_MAX_BYTES, &text, &len);
  if (s != LEAP_OK) return s;
  double best = INFINITY;
  int found = 0, line = 0;
  for (size_t pos = 0; s == LEAP_OK && pos < len; line++) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    const size_t end = nl ? (size_t)(nl - text) : len;
    char err[128];
    lp_json *j = lp_json_parse(text + pos, end - pos, err, sizeof err);
    pos = end + 1;
    if (!j) continue; /* a torn line */
    const lp_json *fit = lp_json_get(j, "fitness"), *c = lp_json_get(j, "coefs");
    if (fit && fit->type == LP_JSON_NUMBER && c && c->type == LP_JSON_ARRAY) {
      int numbers = c->count == count;
      for (int k = 0; numbers && k < count; k++) numbers = c->items[k].type == LP_JSON_NUMBER;
      if (c->count != count)
        s = lp_error(LEAP_ERR_INVALID_ARG, "%s: candidates have %d coefficients, not %d (--ckpt)", path, c->count,
                     count);
      else if (!numbers)
        s = lp_error(LEAP_ERR_FORMAT, "%s: line %d: a coefficient is not a number", path, line + 1);
      else if (fit->number < best) {
        best = fit->number;
        found = 1;
        for (int k = 0; k < count; k++) coefs[k] = c->items[k].number;
      }
    }
    lp_json_free(j);
  }
  free(text);
  if (s == LEAP_OK && !found) s = lp_error(LEAP_ERR_FORMAT, "%s: no evaluated candidate", path);
  return s;
}

static int parse_nfe(const char *cmd, const char *text, int *nfe, int *count) {
  return cli_parse_int_list(cmd, "--nfe", text ? text : "4,6,9,15,25", 1, 10000, nfe, MAX_NFE, count);
}

static int eval(lcsc_opts *o, const char *cmd) {
  int nfe[MAX_NFE], nnfe;
  if (!parse_nfe(cmd, o->nfe, nfe, &nnfe)) return CLI_EXIT_USAGE;
  int want[4] = {1, 1, 1, o->ema != NULL};
  if (o->models) {
    want[0] = strstr(o->models, "lcsc") != NULL, want[1] = strstr(o->models, "last") != NULL;
    want[2] = strstr(o->models, "uniform") != NULL, want[3] = strstr(o->models, "ema") != NULL;
    if (want[3] && !o->ema) return cli_usage_error(cmd, "--models ema needs --ema PATH");
  }
  if (want[0] && !o->ncoef && !o->from_log) return cli_usage_error(cmd, "give --coef or --from-log");
  if (!o->n_set) o->n = 500;
  if (!o->seed_set) o->seed = 1000000;
  leap_status s = LEAP_OK;
  if (want[0] && o->from_log && (s = best_of_log(o->from_log, o->nckpt, o->coef)) != LEAP_OK) return cli_fail(s);
  const int n = o->nckpt;
  cli_interrupt_install();
  /* the models: lcsc, last, uniform (+ ema) as files in a private folder of
   * leap's own, removed on every exit path (signals included) */
  lp_out_workdir *wd = NULL;
  if ((s = lp_out_workdir_create(o->work, "lcsc-eval", &wd)) != LEAP_OK) return cli_fail(s);
  enum { MODELS = 4 };
  const char *names[MODELS] = {"lcsc", "last", "uniform", "ema"};
  char paths[MODELS][4200];
  int nmodels = o->ema ? 4 : 3;
  double *c = lp_calloc((size_t)n, sizeof *c);
  if (!c) s = lp_error(LEAP_ERR_NOMEM, "out of memory");
  for (int m = 0; m < 3 && s == LEAP_OK; m++) {
    if (!want[m]) continue;
    char file[64];
    snprintf(file, sizeof file, "%s.safetensors", names[m]);
    if (!lp_out_workdir_file(wd, file, paths[m], sizeof paths[m])) {
      s = lp_error(LEAP_ERR_INVALID_ARG, "--work: path too long");
      break;
    }
    for (int k = 0; k < n; k++) c[k] = m == 0 ? o->coef[k] : m == 1 ? (k == n - 1) : 1.0 / n;
    leap_lcsc_combine_desc d = leap_lcsc_combine_desc_default();
    d.count = n, d.paths = o->ckpt, d.coefs = c, d.out_path = paths[m], d.out_dtype = LEAP_F32;
    s = leap_lcsc_combine(&d, NULL);
  }
  if (o->ema) snprintf(paths[3], sizeof paths[3], "%s", o->ema);
  leap_context *ctx = NULL;
  lp_lcsc_fd *fd = NULL;
  if (s == LEAP_OK) s = fd_setup(o, lp_out_workdir_path(wd), nfe[0], &ctx, &fd); /* work_path unused by eval */
  const double t0 = cli_now();
  double table[MODELS][MAX_NFE];
  for (int m = 0; m < nmodels && s == LEAP_OK; m++)
    for (int q = 0; want[m] && q < nnfe && s == LEAP_OK; q++) {
      s = lp_lcsc_fd_model(fd, paths[m], nfe[q], &table[m][q]);
      if (s == LEAP_OK && cli_interrupted()) s = LEAP_ERR_INTERRUPTED;
      if (s != LEAP_OK) break;
      if (!o->quiet) fprintf(stderr, "%-8s NFE %3d  FD %.4f  (%.0f s)\n", names[m], nfe[q], table[m][q], cli_now() - t0);
      if (o->json)
        printf("{\"model\": \"%s\", \"nfe\": %d, \"fd\": %.6f, \"n\": %d, \"seed\": %llu, \"sampler\": \"%s\", "
               "\"cfg\": %g}\n",
               names[m], nfe[q], table[m][q], o->n, (unsigned long long)o->seed, o->sampler, o->cfg);
    }
  lp_out_workdir_remove(wd);
  int code = CLI_EXIT_OK;
  if (s == LEAP_ERR_INTERRUPTED) {
    code = cli_interrupted_exit();
  } else if (s != LEAP_OK) {
    code = cli_fail(s);
  } else if (!o->json) {
    printf("FD (%d samples, seed %llu, %s, cfg %g); lcsc coefficients ", o->n, (unsigned long long)o->seed,
           o->sampler, o->cfg);
    print_coefs(stdout, n, o->coef);
    printf("\n%-8s", "NFE");
    for (int q = 0; q < nnfe; q++) printf(" %8d", nfe[q]);
    printf("\n");
    for (int m = 0; m < nmodels; m++) {
      if (!want[m]) continue;
      printf("%-8s", names[m]);
      for (int q = 0; q < nnfe; q++) printf(" %8.3f", table[m][q]);
      printf("\n");
    }
  }
  free(c);
  lp_lcsc_fd_destroy(fd);
  leap_context_destroy(ctx);
  return code;
}

int cli_lcsc_main(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-') {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
      cli_lcsc_help(stdout);
      return CLI_EXIT_OK;
    }
    return cli_usage_error("lcsc", "expected combine, search or eval");
  }
  const char *mode = argv[1];
  if (strcmp(mode, "combine") != 0 && strcmp(mode, "search") != 0 && strcmp(mode, "eval") != 0)
    return cli_usage_error("lcsc", "unknown mode '%s' (combine, search or eval)", mode);
  lcsc_opts o;
  memset(&o, 0, sizeof o);
  o.mode = mode;
  argv[1] = argv[0]; /* parse the mode's options with argv[0] = "lcsc" */
  int code = parse(argc - 1, argv + 1, &o);
  if (code >= 0) return code;
  if (!strcmp(mode, "combine")) return combine(&o, "lcsc combine");
  if (!strcmp(mode, "search")) return search(&o, "lcsc search");
  return eval(&o, "lcsc eval");
}
