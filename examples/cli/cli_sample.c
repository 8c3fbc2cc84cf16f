/* cli_sample.c - `leap sample`: sample images from a model into a PNG grid
 * (and optionally the raw float samples as safetensors).
 *
 * Nothing is written unless the whole run succeeds: the outputs are checked
 * for NaN/Inf, written to temporary files and renamed at the end; Ctrl-C
 * stops sampling at the next step and exits 130 without writing. */
#define _POSIX_C_SOURCE 200809L
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "alloc.h"
#include "backend_choice.h"
#include "cli_args.h"
#include "interrupt.h"
#include "default_model.h"
#include "error.h"
#include "output.h"
#include "png_grid.h"
#include "progress.h"
#include "sample_io.h"

typedef struct sample_opts {
  const char *model;       /* NULL = the default model */
  const char *labels;      /* label list text; NULL = every class */
  int32_t *label_list;     /* parsed --labels (malloc'ed) */
  int label_count;
  int n;                   /* 0 = one per label */
  int steps;
  const char *sampler;
  const char *schedule;
  leap_solver solver;          /* parsed --sampler */
  leap_schedule_kind sched;    /* parsed --schedule */
  double shift;
  double cfg, eta;         /* NAN = the default (depends on model/sampler) */
  uint64_t seed;
  const char *backend;     /* NULL = vulkan, falling back to cpu */
  const char *device;
  int threads;
  const char *out;
  const char *raw_out;
  const char *noise;
  int quiet;
  /* Feature caching (ERTACache and baselines, plugin/cache.c). */
  const char *cache;       /* profile JSON */
  int cache_setting;
  int no_policy, no_adjust, no_rectify, paper_phi;
  int uniform;             /* uniform baseline: computed steps (0 = off) */
  double teacache;         /* TeaCache-style threshold (NAN = off) */
} sample_opts;

/* Images sampled without --n from an unconditional model. */
enum { DEFAULT_UNCOND_N = 16, MAX_N = 32768 };
#define DEFAULT_CFG 3.0

void cli_sample_help(FILE *out) {
  fprintf(out,
      "usage: leap sample [OPTIONS]\n"
      "\n"
      "Samples images from a diffusion model and writes them as one PNG grid.\n"
      "\n"
      "model and images:\n"
      "  --model PATH       model (.safetensors); default: $LEAP_DEFAULT_MODEL,\n"
      "                     else the shipped " LEAP_DEFAULT_MODEL_FILE "\n"
      "  --labels LIST      class labels: \"0,3,5\", \"0-9\" or \"0-4,7\"; the model's\n"
      "                     null class samples unconditionally. Default: every class\n"
      "                     (0..classes-1), or unconditional for a model without\n"
      "                     classes\n"
      "  --n N              number of images (default: one per label, or %d for an\n"
      "                     unconditional model); labels cycle when N is larger\n"
      "\n"
      "sampling:\n"
      "  --steps N          solver steps (default 50)\n"
      "  --sampler NAME     euler | heun | ddim | euler_a | dpmpp_2m (default euler)\n"
      "  --schedule NAME    default | flow | vp_linear | vp_scaled | vp_cosine |\n"
      "                     karras (default: the model's own)\n"
      "  --shift S          flow schedule shift, > 0 (default 1 = none)\n"
      "  --cfg W            classifier-free guidance scale; 1 = no guidance (one\n"
      "                     model pass per step). Default %g for class-conditional\n"
      "                     models, 1 otherwise\n"
      "  --eta E            DDIM / ancestral noise (default 0; 1 for euler_a)\n"
      "  --seed S           initial noise seed (default 0)\n"
      "  --noise PATH       initial noise from tensor `noise` [N,C,H,W] of a\n"
      "                     .safetensors file (any float dtype) instead of --seed\n"
      "\n"
      "compute:\n"
      "  --backend NAME     vulkan | cpu. Default: vulkan when there is a GPU (or\n"
      "                     LEAP_DEVICE is set), else cpu (with a notice), which is\n"
      "                     faster than a CPU Vulkan device such as lavapipe; an\n"
      "                     explicit --backend vulkan with no device exits 3\n"
      "  --device D         Vulkan device: index or name substring (see 'leap\n"
      "                     devices'; implies --backend vulkan)\n"
      "  --threads N        CPU threads (default: OpenMP's)\n"
      "\n"
      "feature caching (ERTACache; profiles from 'leap profile'):\n"
      "  --cache PROFILE    reuse the block stack's residual on the profile's steps\n"
      "  --cache-setting K  which setting of the profile (default 0)\n"
      "  --no-policy        ablation: uniform reuse with the setting's number of\n"
      "                     computed steps instead of the profiled schedule (no\n"
      "                     adjustment or rectification: they are fitted per step)\n"
      "  --no-adjust        ablation: no timestep adjustment\n"
      "  --paper-phi        the paper's phi applied in time (re-budgeted schedule)\n"
      "                     instead of the endpoint phi applied to the velocity\n"
      "  --no-rectify       ablation: no residual rectification\n"
      "  --cache-uniform N  baseline: compute N evenly spaced steps, reuse the rest\n"
      "  --cache-teacache T baseline: TeaCache-style online rule with threshold T\n"
      "                     (needs --cache PROFILE for its rescaling polynomial)\n"
      "\n"
      "output:\n"
      "  --out PATH         PNG grid (default samples.png): near-square, 2 px gaps,\n"
      "                     pixels [-1,1] -> 0..255; 1 channel gray, 3 RGB\n"
      "  --raw-out PATH     also write tensor `samples` [N,C,H,W] F32 with the\n"
      "                     settings as metadata (.safetensors)\n"
      "  --quiet            no progress line, notice or summary\n"
      "\n"
      "A progress line is shown on stderr when it is a terminal. Ctrl-C stops\n"
      "at the next step and exits 130 without writing anything.\n",
      DEFAULT_UNCOND_N, DEFAULT_CFG);
}

static int parse_opts(int argc, char **argv, sample_opts *o) {
  *o = (sample_opts){.steps = 50, .sampler = "euler", .schedule = "default",
                     .shift = 1.0, .cfg = NAN, .eta = NAN, .out = "samples.png",
                     .teacache = NAN};
  cli_args a;
  cli_args_init(&a, argc, argv, cli_sample_help);
  while (cli_next(&a)) {
    if (cli_opt_str(&a, "--model", &o->model)) continue;
    if (cli_opt_str(&a, "--labels", &o->labels)) continue;
    if (cli_opt_int(&a, "--n", 1, MAX_N, &o->n)) continue;
    if (cli_opt_int(&a, "--steps", 1, 10000, &o->steps)) continue;
    if (cli_opt_str(&a, "--sampler", &o->sampler)) continue;
    if (cli_opt_str(&a, "--schedule", &o->schedule)) continue;
    if (cli_opt_double(&a, "--shift", 1e-6, 1e6, &o->shift)) continue;
    if (cli_opt_double(&a, "--cfg", -1e6, 1e6, &o->cfg)) continue;
    if (cli_opt_double(&a, "--eta", 0.0, 1e6, &o->eta)) continue;
    if (cli_opt_u64(&a, "--seed", &o->seed)) continue;
    if (cli_opt_str(&a, "--backend", &o->backend)) continue;
    if (cli_opt_str(&a, "--device", &o->device)) continue;
    if (cli_opt_int(&a, "--threads", 0, 4096, &o->threads)) continue;
    if (cli_opt_str(&a, "--out", &o->out)) continue;
    if (cli_opt_str(&a, "--raw-out", &o->raw_out)) continue;
    if (cli_opt_str(&a, "--noise", &o->noise)) continue;
    if (cli_opt_flag(&a, "--quiet", &o->quiet)) continue;
    if (cli_opt_str(&a, "--cache", &o->cache)) continue;
    if (cli_opt_int(&a, "--cache-setting", 0, 1000, &o->cache_setting)) continue;
    if (cli_opt_flag(&a, "--no-policy", &o->no_policy)) continue;
    if (cli_opt_flag(&a, "--no-adjust", &o->no_adjust)) continue;
    if (cli_opt_flag(&a, "--paper-phi", &o->paper_phi)) continue;
    if (cli_opt_flag(&a, "--no-rectify", &o->no_rectify)) continue;
    if (cli_opt_int(&a, "--cache-uniform", 1, 10000, &o->uniform)) continue;
    if (cli_opt_double(&a, "--cache-teacache", 0.0, 1e9, &o->teacache)) continue;
    cli_unknown(&a);
  }
  if (a.exit_code >= 0) return a.exit_code;
  if (o->backend && strcmp(o->backend, "vulkan") != 0 &&
      strcmp(o->backend, "cpu") != 0)
    return cli_usage_error(a.cmd, "--backend: '%s' is not vulkan or cpu",
                           o->backend);
  if (o->device && o->backend && strcmp(o->backend, "cpu") == 0)
    return cli_usage_error(a.cmd, "--device selects a Vulkan device; it "
                                  "cannot go with --backend cpu");
  if (leap_solver_from_name(o->sampler, &o->solver) != LEAP_OK)
    return cli_usage_error(a.cmd, "--sampler: '%s' is not euler, heun, ddim, "
                           "euler_a or dpmpp_2m", o->sampler);
  if (leap_schedule_from_name(o->schedule, &o->sched) != LEAP_OK)
    return cli_usage_error(a.cmd, "--schedule: '%s' is not default, flow, "
                           "vp_linear, vp_scaled, vp_cosine or karras",
                           o->schedule);
  if (o->labels) {
    int ok = cli_parse_labels(a.cmd, "--labels", o->labels, &o->label_list, &o->label_count);
    if (ok <= 0) return ok < 0 ? CLI_EXIT_NOMEM : CLI_EXIT_USAGE;
  }
  if (o->uniform && !isnan(o->teacache))
    return cli_usage_error(a.cmd, "--cache-uniform and --cache-teacache are two different baselines");
  if (!isnan(o->teacache) && !o->cache)
    return cli_usage_error(a.cmd, "--cache-teacache needs --cache PROFILE (its rescaling polynomial)");
  if (!o->cache && (o->no_policy || o->no_adjust || o->no_rectify || o->paper_phi || o->cache_setting))
    return cli_usage_error(a.cmd, "the ERTACache switches need --cache PROFILE");
  if (!o->out[0]) return cli_usage_error(a.cmd, "--out: empty path");
  if (o->raw_out && !o->raw_out[0])
    return cli_usage_error(a.cmd, "--raw-out: empty path");
  if (o->raw_out && strcmp(o->raw_out, o->out) == 0)
    return cli_usage_error(a.cmd, "--out and --raw-out are the same file");
  return -1;
}

static leap_status open_context(const sample_opts *o, leap_context **ctx) {
  leap_backend_kind kind = cli_pick_backend(o->backend, o->device, o->quiet);
  if (kind == LEAP_BACKEND_VULKAN) {
    int count = 0;
    leap_status s = leap_vulkan_device_count(&count);
    if (s != LEAP_OK) return s;
    if (count == 0)
      return lp_error(LEAP_ERR_NO_DEVICE,
                      "no Vulkan device found (try --backend cpu)");
  }
  leap_context_desc d = leap_context_desc_default(kind);
  d.threads = o->threads;
  if (kind == LEAP_BACKEND_VULKAN) d.device = o->device;
  return leap_context_create(&d, ctx);
}

/* The per-image labels: the --labels list (or every class) cycled over n
 * images; *labels stays NULL for an unconditional model. Returns an exit
 * code, or -1 to go on. */
static int resolve_labels(const sample_opts *o, const leap_model_info *info,
                          int32_t **labels, int *n) {
  const int32_t *list = o->label_list;
  int count = o->label_count;
  *labels = NULL;
  if (list) {
    if (info->num_classes <= 0)
      return cli_usage_error("sample", "--labels: the model has no classes");
    for (int i = 0; i < count; i++)
      if (list[i] >= info->num_classes && list[i] != info->null_class)
        return cli_usage_error("sample",
                               "--labels: %d is not a class of this model "
                               "(0..%d, or %d for unconditional)",
                               (int)list[i], info->num_classes - 1,
                               info->null_class);
  } else if (info->num_classes > 0) {
    count = info->num_classes;
  }
  *n = o->n > 0 ? o->n : count > 0 ? (count < MAX_N ? count : MAX_N)
                                   : DEFAULT_UNCOND_N;
  if (count == 0) return -1; /* unconditional */
  *labels = lp_malloc((size_t)*n * sizeof **labels);
  if (!*labels) return cli_fail(lp_error(LEAP_ERR_NOMEM, "out of memory"));
  /* Without --labels the list is 0..classes-1, so label i is i % classes. */
  for (int i = 0; i < *n; i++) (*labels)[i] = list ? list[i % count] : i % count;
  return -1;
}

static int on_progress(void *user, int step, int steps) {
  cli_progress_update(user, step, steps);
  return cli_interrupted();
}

/* Fails early (before minutes of sampling) when an output's folder is
 * missing or not writable. */
static leap_status check_writable(const char *path) {
  char *copy = lp_strdup(path);
  if (!copy) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  const char *dir = dirname(copy);
  leap_status s = LEAP_OK;
  if (access(dir, W_OK) != 0)
    s = lp_error(LEAP_ERR_IO, "%s: cannot write into folder '%s'", path, dir);
  free(copy);
  return s;
}

static leap_status check_finite(const float *x, size_t count) {
  size_t bad = 0, first = 0;
  for (size_t k = 0; k < count; k++)
    if (!isfinite(x[k]) && bad++ == 0) first = k;
  if (bad)
    return lp_error(LEAP_ERR_NUMERIC,
                    "sampling produced %zu non-finite values (first at element "
                    "%zu); nothing was written",
                    bad, first);
  return LEAP_OK;
}

/* "0,1,2" (or "none" without labels) for the metadata. */
static char *labels_text(const int32_t *labels, int n) {
  if (!labels) return lp_strdup("none");
  size_t cap = (size_t)n * 12 + 1, len = 0;
  char *s = lp_malloc(cap);
  if (!s) return NULL;
  s[0] = 0;
  for (int i = 0; i < n; i++)
    len += (size_t)snprintf(s + len, cap - len, i ? ",%d" : "%d", labels[i]);
  return s;
}

/* The run's settings, as written next to --raw-out samples. */
typedef struct run_settings {
  const char *model_path, *device;
  leap_sample_desc desc;
  int c, h, w;
} run_settings;

/* The files a run reads: no output may be one of them. */
static int run_inputs(const sample_opts *o, const char *model_path, const char **in) {
  int n = 0;
  in[n++] = model_path;
  if (o->noise) in[n++] = o->noise;
  if (o->cache) in[n++] = o->cache;
  return n;
}

static leap_status write_raw(const sample_opts *o, const run_settings *r,
                             const float *x, lp_out **out) {
  char steps[32], cfg[32], shift[32], eta[32], seed[32], n[32];
  snprintf(steps, sizeof steps, "%d", r->desc.steps);
  snprintf(cfg, sizeof cfg, "%.17g", r->desc.cfg);
  snprintf(shift, sizeof shift, "%.17g", r->desc.shift);
  snprintf(eta, sizeof eta, "%.17g", r->desc.eta);
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->desc.seed);
  snprintf(n, sizeof n, "%d", r->desc.n);
  char *labels = labels_text(r->desc.labels, r->desc.n);
  if (!labels) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  const char *meta[] = {
      "model", r->model_path,
      "sampler", leap_solver_name(r->desc.solver),
      "schedule", leap_schedule_name(r->desc.schedule),
      "steps", steps,
      "cfg", cfg,
      "shift", shift,
      "eta", eta,
      "seed", seed,
      "noise", o->noise ? o->noise : "seed",
      "n", n,
      "labels", labels,
      "device", r->device,
  };
  const char *in[3];
  const int nin = run_inputs(o, r->model_path, in);
  leap_status s = cli_write_samples(o->raw_out, x, r->desc.n, r->c, r->h,
                                    r->w, meta, (int)(sizeof meta / sizeof *meta / 2), in, nin, out);
  free(labels);
  return s;
}

/* The PNG and the raw samples to temporaries, then both land together
 * (lp_out_commit_all): a failure or Ctrl-C anywhere leaves neither file
 * behind and any earlier ones as they were. */
static int write_outputs(const sample_opts *o, const run_settings *r,
                         const float *x) {
  const char *in[3];
  const int nin = run_inputs(o, r->model_path, in);
  lp_out *outs[2] = {NULL, NULL};
  leap_status s = png_grid_write_unit(o->out, x, r->desc.n, r->c, r->h, r->w, in, nin, &outs[0]);
  if (s == LEAP_OK && o->raw_out) s = write_raw(o, r, x, &outs[1]);
  if (s == LEAP_OK) s = lp_out_commit_all(outs, o->raw_out ? 2 : 1);
  else lp_out_abort(outs[0]), lp_out_abort(outs[1]);
  if (s == LEAP_ERR_INTERRUPTED) {
    fprintf(stderr, "leap: interrupted; nothing was written\n");
    return CLI_EXIT_INTERRUPTED;
  }
  return s == LEAP_OK ? -1 : cli_fail(s);
}

/* The feature cache the options ask for, made for this run. */
static leap_status make_cache(const sample_opts *o, leap_context *ctx, leap_model *m,
                              const leap_sample_desc *d, int branches, leap_cache **out) {
  leap_cache_desc cd = leap_cache_desc_default();
  cd.profile = o->cache;
  cd.setting = o->cache_setting;
  cd.timestep_adjust = o->no_adjust ? 0 : o->paper_phi ? 2 : 1;
  cd.rectify = !o->no_rectify;
  cd.branches = branches;
  cd.images = d->n;
  cd.solver = d->solver, cd.schedule = d->schedule, cd.shift = d->shift, cd.steps = d->steps, cd.cfg = d->cfg;
  char id[17];
  leap_status s = leap_model_id(m, id, sizeof id);
  if (s != LEAP_OK) return s;
  cd.model_id = id;
  if (o->uniform) {
    cd.policy = LEAP_CACHE_UNIFORM;
    cd.uniform_computed = o->uniform;
  } else if (!isnan(o->teacache)) {
    cd.policy = LEAP_CACHE_TEACACHE;
    cd.teacache_threshold = o->teacache;
  } else if (o->no_policy) {
    /* The ablation: the setting's budget, spent uniformly. */
    leap_cache *probe = NULL;
    leap_cache_stats st = {.struct_size = sizeof st};
    if ((s = leap_cache_create(ctx, &cd, &probe)) != LEAP_OK) return s;
    s = leap_cache_get_stats(probe, &st);
    leap_cache_destroy(probe);
    if (s != LEAP_OK) return s;
    cd.policy = LEAP_CACHE_UNIFORM;
    cd.uniform_computed = st.planned_computed;
  }
  return leap_cache_create(ctx, &cd, out);
}

/* Everything after the model is loaded. Returns the exit code. */
static int run(const sample_opts *o, leap_context *ctx, leap_model *m, const char *model_path,
               const char *device) {
  leap_model_info info = {.struct_size = sizeof info};
  leap_status s = leap_model_get_info(m, &info);
  if (s != LEAP_OK) return cli_fail(s);

  if (!isnan(o->cfg) && o->cfg != 1.0 && info.num_classes <= 0)
    return cli_usage_error("sample", "--cfg: the model has no classes to "
                                     "guide with");

  int32_t *labels = NULL;
  int n = 0;
  int code = resolve_labels(o, &info, &labels, &n);
  if (code >= 0) return code;

  run_settings r = {.model_path = model_path, .device = device,
                    .desc = leap_sample_desc_default(), .c = info.in_channels,
                    .h = info.input_size, .w = info.input_size};
  if (r.c != 1 && r.c != 3) {
    free(labels);
    return cli_fail(lp_error(LEAP_ERR_UNSUPPORTED,
                             "%s: %d channels; PNG output needs 1 or 3",
                             model_path, r.c));
  }
  const size_t count = (size_t)n * r.c * r.h * r.w;
  float *noise = NULL, *x = lp_malloc(count * sizeof *x);
  if (!x) code = cli_fail(lp_error(LEAP_ERR_NOMEM, "out of memory"));
  if (code < 0 && o->noise) {
    noise = lp_malloc(count * sizeof *noise);
    s = noise ? cli_read_noise(o->noise, n, r.c, r.h, r.w, noise)
              : lp_error(LEAP_ERR_NOMEM, "out of memory");
    if (s != LEAP_OK) code = cli_fail(s);
  }
  if (code < 0) {
    leap_sample_desc *d = &r.desc;
    d->n = n;
    d->labels = labels;
    d->steps = o->steps;
    d->solver = o->solver;
    d->schedule = o->sched;
    d->shift = o->shift;
    d->cfg = !isnan(o->cfg) ? o->cfg : info.num_classes > 0 ? DEFAULT_CFG : 1.0;
    d->eta = !isnan(o->eta) ? o->eta
                            : o->solver == LEAP_SOLVER_EULER_ANCESTRAL ? 1.0 : 0.0;
    d->seed = o->seed;
    d->noise = noise;
    leap_cache *cache = NULL;
    if (o->cache || o->uniform) {
      s = make_cache(o, ctx, m, d, info.num_classes > 0 && d->cfg != 1.0 ? 2 : 1, &cache);
      if (s != LEAP_OK) {
        free(noise), free(x), free(labels);
        return cli_fail(s);
      }
      d->cache = cache;
    }
    cli_progress bar;
    cli_progress_init(&bar, !o->quiet);
    d->progress = on_progress;
    d->progress_user = &bar;
    double t0 = cli_now();
    s = leap_sample(m, d, x);
    double seconds = cli_now() - t0;
    cli_progress_finish(&bar);
    leap_cache_stats cst = {.struct_size = sizeof cst};
    if (cache && s == LEAP_OK && leap_cache_get_stats(cache, &cst) == LEAP_OK && !o->quiet)
      printf("cache: %d of %d evaluations computed, %d reused; hooks took %.1f ms\n", cst.computed,
             cst.evaluations, cst.reused, 1e3 * cst.overhead_seconds);
    leap_cache_destroy(cache);
    if (s == LEAP_OK && cli_interrupted()) s = LEAP_ERR_INTERRUPTED;
    if (s == LEAP_ERR_INTERRUPTED) {
      fprintf(stderr, "leap: interrupted; nothing was written\n");
      code = CLI_EXIT_INTERRUPTED;
    } else if (s != LEAP_OK) {
      code = cli_fail(s);
    } else if ((s = check_finite(x, count)) != LEAP_OK) {
      code = cli_fail(s);
    } else {
      code = write_outputs(o, &r, x);
    }
    if (code < 0) {
      code = CLI_EXIT_OK;
      if (!o->quiet)
        printf("%d images in %.2f s (%.2f images/s) on %s -> %s%s%s\n", n,
               seconds, seconds > 0 ? n / seconds : 0.0, device, o->out,
               o->raw_out ? ", " : "", o->raw_out ? o->raw_out : "");
    }
  }
  free(noise);
  free(x);
  free(labels);
  return code;
}

/* Finds the model, opens the backend and loads it, then runs. */
static int sample(const sample_opts *o) {
  int code;
  char default_path[4096];
  const char *model_path = o->model;
  leap_status s;
  if (!model_path) {
    if ((s = cli_default_model(default_path, sizeof default_path)) != LEAP_OK)
      return cli_fail(s);
    model_path = default_path;
  }
  if (access(model_path, R_OK) != 0)
    return cli_fail(lp_error(LEAP_ERR_IO, "%s: model file not found or not "
                                          "readable", model_path));
  if ((s = check_writable(o->out)) != LEAP_OK ||
      (o->raw_out && (s = check_writable(o->raw_out)) != LEAP_OK))
    return cli_fail(s);
  /* The output rule (core/output.h), before any sampling: never an input,
   * never a file that is not leap's earlier output of the same kind. */
  const char *in[3];
  const int nin = run_inputs(o, model_path, in);
  if ((s = lp_out_check(o->out, LP_OUT_PNG, in, nin)) != LEAP_OK ||
      (o->raw_out && (s = lp_out_check(o->raw_out, LP_OUT_SAMPLES, in, nin)) != LEAP_OK))
    return cli_fail(s);
  if (o->raw_out && lp_out_same_file(o->out, o->raw_out))
    return cli_usage_error("sample", "--out and --raw-out name the same file (%s)", o->out);

  cli_interrupt_install();
  leap_context *ctx = NULL;
  if ((s = open_context(o, &ctx)) != LEAP_OK) return cli_fail(s);
  leap_model *m = NULL;
  if ((s = leap_model_load(ctx, model_path, &m)) != LEAP_OK) {
    code = cli_fail(s);
  } else if (cli_interrupted()) {
    fprintf(stderr, "leap: interrupted; nothing was written\n");
    code = CLI_EXIT_INTERRUPTED;
  } else {
    code = run(o, ctx, m, model_path, leap_context_device_name(ctx));
  }
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  return code;
}

int cli_sample_main(int argc, char **argv) {
  sample_opts o;
  int code = parse_opts(argc, argv, &o);
  if (code < 0) code = sample(&o);
  free(o.label_list);
  return code;
}
