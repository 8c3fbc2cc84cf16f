/* cli_sample.c - `leap sample`: sample images from a model into a PNG grid,
 * a folder of PNGs and/or the raw float samples as safetensors.
 *
 * Any number of images, in batches (--batch) whose outputs stream as they
 * finish, so memory does not grow with --n; image i's noise depends only on
 * the seed and i (leap_sample_desc.first), so the images do not depend on
 * --batch or on --shard. The grid and the raw samples land at the end
 * (temporaries, renamed); --out-dir's PNGs land batch by batch and stay
 * when a later batch fails or Ctrl-C stops the run (exit 130). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
#include "sample_parts.h"
#include "shard.h"

typedef struct sample_opts {
  const char *model;       /* NULL = the default model */
  const char *labels;      /* label list text; NULL = every class */
  int32_t *label_list;     /* parsed --labels (malloc'ed) */
  int label_count;
  int64_t n;               /* 0 = one per label */
  int batch;               /* images per leap_sample call */
  const char *out_dir;     /* one PNG per image */
  const char *shard_spec;  /* --shard i/N | auto */
  int shards;              /* --shards N (for JOB_COMPLETION_INDEX) */
  cli_shard shard;         /* parsed --shard; count 0 = the whole run */
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
  const char *out;         /* NULL = samples.png (when a grid is written) */
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

/* Images sampled without --n from an unconditional model; images per
 * leap_sample call without --batch (about 150 MB of working memory on the
 * default model); the most images a grid holds. */
enum { DEFAULT_UNCOND_N = 16, DEFAULT_BATCH = 256, MAX_BATCH = 32768, GRID_MAX = 1024 };
#define DEFAULT_CFG 3.0
/* Noise streams stay below 2^40 (leap_sample_desc.first). */
#define MAX_N CLI_RAW_MAX_N

static const char *sample_out(const sample_opts *o) { return o->out ? o->out : "samples.png"; }

void cli_sample_help(FILE *out) {
  fprintf(out,
      "usage: leap sample [OPTIONS]\n"
      "\n"
      "Samples images from a diffusion model and writes them as one PNG grid,\n"
      "one PNG per image and/or the raw samples, for any number of images.\n"
      "\n"
      "model and images:\n"
      "  --model PATH       model (.safetensors); default: $LEAP_DEFAULT_MODEL,\n"
      "                     else the shipped " LEAP_DEFAULT_MODEL_FILE "\n"
      "  --labels LIST      class labels: \"0,3,5\", \"0-9\" or \"0-4,7\"; the model's\n"
      "                     null class samples unconditionally. Default: every class\n"
      "                     (0..classes-1), or unconditional for a model without\n"
      "                     classes\n"
      "  --n N              number of images, up to 2^40-1 (default: one per label,\n"
      "                     or %d for an unconditional model); labels cycle when N\n"
      "                     is larger\n"
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
      "  --seed S           initial noise seed (default 0): image i's noise is\n"
      "                     stream i of S, whatever --batch and --shard are\n"
      "  --noise PATH       initial noise from tensor `noise` [N,C,H,W] of a\n"
      "                     .safetensors file (any float dtype) instead of --seed\n"
      "                     (read whole: its memory grows with N)\n"
      "\n"
      "compute:\n"
      "  --backend NAME     vulkan | cpu. Default: vulkan when there is a GPU (or\n"
      "                     LEAP_DEVICE is set), else cpu (with a notice), which is\n"
      "                     faster than a CPU Vulkan device such as lavapipe; an\n"
      "                     explicit --backend vulkan with no device exits 3\n"
      "  --device D         Vulkan device: index or name substring (see 'leap\n"
      "                     devices'; implies --backend vulkan)\n"
      "  --threads N        CPU threads (default: OpenMP's)\n"
      "  --batch N          images per sampling call (default %d): memory grows\n"
      "                     with N, not with --n. Each image's noise depends only\n"
      "                     on the seed and its index, so another --batch gives\n"
      "                     the same images up to float rounding of the batched\n"
      "                     matrix products (about 1e-5 on the shipped model;\n"
      "                     --cache-teacache decides per batch); the same\n"
      "                     --batch and --threads give the same\n"
      "                     bytes (OpenBLAS splits a product by thread)\n"
      "\n"
      "shards (a job array: each task makes a contiguous part of the run):\n"
      "  --shard i/N        make only shard i of N (0 <= i < N): of the run's\n"
      "                     B = ceil(N_images / batch) batches, batches\n"
      "                     [B*i/N, B*(i+1)/N): the very calls one run with the\n"
      "                     same --batch makes, so the same bytes (with the same\n"
      "                     --threads and device).\n"
      "                     auto: i and N from SLURM_ARRAY_TASK_ID /\n"
      "                     SLURM_ARRAY_TASK_COUNT (less SLURM_ARRAY_TASK_MIN), or\n"
      "                     JOB_COMPLETION_INDEX with --shards N or LEAP_SHARD_COUNT\n"
      "  --shards N         the shard count for --shard auto under Kubernetes\n"
      "  With --shard, --raw-out S.safetensors writes this shard's part\n"
      "  S-0000i-of-0000N.safetensors, and shard 0 the index\n"
      "  S.safetensors.index.json; 'leap merge' joins the parts into the file one\n"
      "  run writes, 'leap eval --samples' reads the index. Shards write no grid\n"
      "  unless --out names one.\n"
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
      "  --out PATH         PNG grid (default samples.png, written when N <= %d):\n"
      "                     near-square, 2 px gaps, pixels [-1,1] -> 0..255;\n"
      "                     1 channel gray, 3 RGB\n"
      "  --out-dir DIR      one PNG per image, DIR/000123.png by the image's index\n"
      "                     in the run (made when missing); written batch by batch\n"
      "  --raw-out PATH     also write tensor `samples` [N,C,H,W] F32 with the\n"
      "                     settings as metadata (.safetensors), streamed batch by\n"
      "                     batch: the same bytes for any --batch\n"
      "  --quiet            no progress line, notice or summary\n"
      "\n"
      "A progress line is shown on stderr when it is a terminal. Ctrl-C stops\n"
      "at the next step and exits 130; the grid and raw samples are then not\n"
      "written, --out-dir keeps the batches that finished.\n",
      DEFAULT_UNCOND_N, DEFAULT_CFG, DEFAULT_BATCH, GRID_MAX);
}

static int parse_opts(int argc, char **argv, sample_opts *o) {
  *o = (sample_opts){.steps = 50, .sampler = "euler", .schedule = "default",
                     .shift = 1.0, .cfg = NAN, .eta = NAN, .batch = DEFAULT_BATCH,
                     .teacache = NAN};
  uint64_t n = 0;
  cli_args a;
  cli_args_init(&a, argc, argv, cli_sample_help);
  while (cli_next(&a)) {
    if (cli_opt_str(&a, "--model", &o->model)) continue;
    if (cli_opt_str(&a, "--labels", &o->labels)) continue;
    if (cli_opt_u64(&a, "--n", &n)) {
      if (a.exit_code < 0 && (n < 1 || n > (uint64_t)MAX_N)) {
        a.exit_code = cli_usage_error(a.cmd, "--n: %llu is out of range [1, %lld]", (unsigned long long)n,
                                      (long long)MAX_N);
      }
      continue;
    }
    if (cli_opt_int(&a, "--batch", 1, MAX_BATCH, &o->batch)) continue;
    if (cli_opt_str(&a, "--out-dir", &o->out_dir)) continue;
    if (cli_opt_str(&a, "--shard", &o->shard_spec)) continue;
    if (cli_opt_int(&a, "--shards", 1, CLI_SHARD_MAX, &o->shards)) continue;
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
  o->n = (int64_t)n;
  if (o->shards && !o->shard_spec) return cli_usage_error(a.cmd, "--shards goes with --shard auto");
  if (o->shard_spec && !cli_shard_parse(a.cmd, o->shard_spec, o->shards, &o->shard)) return CLI_EXIT_USAGE;
  if (o->out_dir && !o->out_dir[0]) return cli_usage_error(a.cmd, "--out-dir: empty path");
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
  if (o->out && !o->out[0]) return cli_usage_error(a.cmd, "--out: empty path");
  if (o->raw_out && !o->raw_out[0])
    return cli_usage_error(a.cmd, "--raw-out: empty path");
  if (o->raw_out && strcmp(o->raw_out, sample_out(o)) == 0)
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

/* The label cycle: the --labels list (or every class), image j of the run
 * having cycle[j % len]; *cycle stays NULL for an unconditional model.
 * Sets *n (the run's images). Returns an exit code, or -1 to go on. */
static int resolve_labels(const sample_opts *o, const leap_model_info *info, int32_t **cycle, int *len,
                          int64_t *n) {
  *cycle = NULL, *len = 0;
  if (o->label_list) {
    if (info->num_classes <= 0) return cli_usage_error("sample", "--labels: the model has no classes");
    for (int i = 0; i < o->label_count; i++)
      if (o->label_list[i] >= info->num_classes && o->label_list[i] != info->null_class)
        return cli_usage_error("sample",
                               "--labels: %d is not a class of this model "
                               "(0..%d, or %d for unconditional)",
                               (int)o->label_list[i], info->num_classes - 1, info->null_class);
    *len = o->label_count;
  } else if (info->num_classes > 0) {
    *len = info->num_classes;
  }
  *n = o->n > 0 ? o->n : *len > 0 ? *len : DEFAULT_UNCOND_N;
  if (*len == 0) return -1; /* unconditional */
  *cycle = lp_malloc((size_t)*len * sizeof **cycle);
  if (!*cycle) return cli_fail(lp_error(LEAP_ERR_NOMEM, "out of memory"));
  for (int i = 0; i < *len; i++) (*cycle)[i] = o->label_list ? o->label_list[i] : i;
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

static leap_status check_finite(const float *x, size_t count, int64_t first, size_t per) {
  size_t bad = 0, at = 0;
  for (size_t k = 0; k < count; k++)
    if (!isfinite(x[k]) && bad++ == 0) at = k;
  if (bad)
    return lp_error(LEAP_ERR_NUMERIC,
                    "sampling produced %zu non-finite values in a batch (first in image %lld); its "
                    "images were not written",
                    bad, (long long)(first + (int64_t)(at / per)));
  return LEAP_OK;
}

/* The files a run reads: no output may be one of them. */
static int run_inputs(const sample_opts *o, const char *model_path, const char **in) {
  int n = 0;
  in[n++] = model_path;
  if (o->noise) in[n++] = o->noise;
  if (o->cache) in[n++] = o->cache;
  return n;
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

/* This process's share of the run, and where it goes. */
typedef struct sample_plan {
  int64_t n;            /* images of the whole run */
  int64_t first, count; /* this process's: [first, first + count) */
  int c, h, w;
  size_t per;           /* floats per image */
  int grid;             /* write the --out grid (count <= GRID_MAX) */
  const char *raw;      /* the samples file this process writes, or NULL */
  char part[4096];      /* its name when sharded */
  int digits;           /* of the --out-dir file names */
  const int32_t *cycle; /* label cycle, or NULL */
  int cycle_len;
  const char *settings[CLI_RAW_SETTINGS];
  char steps[32], cfg[32], shift[32], eta[32], seed[32], batch[32];
  char *cycle_text;     /* owned */
} sample_plan;

/* Which outputs this process writes; an exit code, or -1 to go on. */
static int plan_outputs(const sample_opts *o, sample_plan *p) {
  const int sharded = o->shard.count > 0;
  if (p->count > GRID_MAX && o->out) {
    return cli_usage_error("sample", "--out: %lld images are too many for a grid (at most %d); write them "
                           "with --out-dir DIR (one PNG each) or --raw-out FILE", (long long)p->count, GRID_MAX);
  }
  /* An empty shard (more shards than batches) writes its empty part only. */
  p->grid = p->count > 0 && (o->out || (!sharded && p->count <= GRID_MAX));
  if (!p->grid && !o->out_dir && !o->raw_out && p->count > 0)
    return cli_usage_error("sample", "%lld images%s and no output: give --out-dir DIR (one PNG each) or "
                           "--raw-out FILE (a grid holds at most %d images%s)", (long long)p->count,
                           sharded ? " of a shard" : "", GRID_MAX, sharded ? "; shards write no grid unless --out "
                           "names one" : "");
  p->raw = o->raw_out;
  if (o->raw_out && sharded) {
    if (!cli_raw_part_name(o->raw_out, o->shard.index, o->shard.count, p->part, sizeof p->part))
      return cli_usage_error("sample", "--raw-out: path too long");
    p->raw = p->part;
  }
  p->digits = 6;
  for (int64_t m = 1000000; m < p->n && p->digits < 19; m *= 10) p->digits++;
  return -1;
}

/* The settings every samples file and index of the run carries. */
static leap_status plan_settings(const sample_opts *o, const leap_sample_desc *d, const char *model_path,
                                 const char *device, sample_plan *p) {
  snprintf(p->steps, sizeof p->steps, "%d", d->steps);
  snprintf(p->cfg, sizeof p->cfg, "%.17g", d->cfg);
  snprintf(p->shift, sizeof p->shift, "%.17g", d->shift);
  snprintf(p->eta, sizeof p->eta, "%.17g", d->eta);
  snprintf(p->seed, sizeof p->seed, "%llu", (unsigned long long)d->seed);
  snprintf(p->batch, sizeof p->batch, "%d", o->batch);
  size_t cap = (size_t)p->cycle_len * 12 + 8, len = 0;
  p->cycle_text = lp_malloc(cap);
  if (!p->cycle_text) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  strcpy(p->cycle_text, p->cycle ? "" : "none");
  for (int i = 0; p->cycle && i < p->cycle_len; i++)
    len += (size_t)snprintf(p->cycle_text + len, cap - len, i ? ",%d" : "%d", (int)p->cycle[i]);
  const char **s = p->settings;
  s[CLI_RAW_MODEL] = model_path;
  s[CLI_RAW_SAMPLER] = leap_solver_name(d->solver);
  s[CLI_RAW_SCHEDULE] = leap_schedule_name(d->schedule);
  s[CLI_RAW_STEPS] = p->steps, s[CLI_RAW_CFG] = p->cfg, s[CLI_RAW_SHIFT] = p->shift, s[CLI_RAW_ETA] = p->eta;
  s[CLI_RAW_SEED] = p->seed;
  s[CLI_RAW_NOISE] = o->noise ? o->noise : "seed";
  s[CLI_RAW_BATCH] = p->batch;
  s[CLI_RAW_DEVICE] = device;
  s[CLI_RAW_LABEL_CYCLE] = p->cycle_text;
  return LEAP_OK;
}

/* The output rule for every file the run will write, before any sampling;
 * --out-dir is made when missing. */
static leap_status check_outputs(const sample_opts *o, const sample_plan *p, const char *const *in, int nin) {
  leap_status s = LEAP_OK;
  char index[4096];
  if (p->grid && (s = check_writable(sample_out(o))) == LEAP_OK)
    s = lp_out_check(sample_out(o), LP_OUT_PNG, in, nin);
  if (s == LEAP_OK && p->raw && (s = check_writable(p->raw)) == LEAP_OK)
    s = lp_out_check(p->raw, LP_OUT_SAMPLES, in, nin);
  if (s == LEAP_OK && p->raw && o->shard.count > 0 && o->shard.index == 0) {
    if (!cli_raw_index_name(o->raw_out, index, sizeof index)) return lp_error(LEAP_ERR_INVALID_ARG, "--raw-out: path too long");
    s = lp_out_check(index, LP_OUT_SAMPLES_INDEX, in, nin);
  }
  if (s == LEAP_OK && p->raw && p->grid && lp_out_same_file(sample_out(o), p->raw))
    s = lp_error(LEAP_ERR_INVALID_ARG, "--out and --raw-out name the same file (%s)", p->raw);
  if (s == LEAP_OK && o->out_dir) {
    struct stat st;
    if (stat(o->out_dir, &st) != 0 && mkdir(o->out_dir, 0777) != 0 && errno != EEXIST)
      s = lp_error(LEAP_ERR_IO, "--out-dir %s: cannot make the folder: %s", o->out_dir, strerror(errno));
    else if (stat(o->out_dir, &st) != 0 || !S_ISDIR(st.st_mode))
      s = lp_error(LEAP_ERR_IO, "--out-dir %s: not a folder", o->out_dir);
    else if (access(o->out_dir, W_OK) != 0)
      s = lp_error(LEAP_ERR_IO, "--out-dir %s: cannot write into the folder", o->out_dir);
  }
  return s;
}

/* One PNG per image of a batch into --out-dir, named by the image's index
 * in the run; they land in groups of PNG_GROUP (core/output.c registers at
 * most 64 temporaries at once, one of them the raw samples'). */
enum { PNG_GROUP = 32 };
static leap_status write_pngs(const sample_opts *o, const sample_plan *p, const float *x, int b, int64_t first,
                              const char *const *in, int nin) {
  lp_out *outs[PNG_GROUP];
  char path[4096];
  leap_status s = LEAP_OK;
  for (int g0 = 0; s == LEAP_OK && g0 < b; g0 += PNG_GROUP) {
    const int g = b - g0 < PNG_GROUP ? b - g0 : PNG_GROUP;
    int made = 0;
    for (; s == LEAP_OK && made < g; made++) {
      const int64_t i = first + g0 + made;
      if (snprintf(path, sizeof path, "%s/%0*lld.png", o->out_dir, p->digits, (long long)i) >= (int)sizeof path) {
        s = lp_error(LEAP_ERR_INVALID_ARG, "--out-dir: path too long");
        break;
      }
      s = png_grid_write_unit(path, x + (size_t)(g0 + made) * p->per, 1, p->c, p->h, p->w, in, nin, &outs[made]);
      if (s != LEAP_OK) break;
    }
    if (s == LEAP_OK) s = lp_out_commit_all(outs, g);
    else
      for (int k = 0; k < made; k++) lp_out_abort(outs[k]);
  }
  return s;
}

/* The sampling desc of the whole run; the batch loop sets n, labels, first. */
static leap_sample_desc run_desc(const sample_opts *o, const leap_model_info *info) {
  leap_sample_desc d = leap_sample_desc_default();
  d.steps = o->steps;
  d.solver = o->solver;
  d.schedule = o->sched;
  d.shift = o->shift;
  d.cfg = !isnan(o->cfg) ? o->cfg : info->num_classes > 0 ? DEFAULT_CFG : 1.0;
  d.eta = !isnan(o->eta) ? o->eta : o->solver == LEAP_SOLVER_EULER_ANCESTRAL ? 1.0 : 0.0;
  d.seed = o->seed;
  return d;
}

/* What a run produced, for the summary. */
typedef struct run_totals {
  int64_t done;       /* images sampled and written */
  double seconds;     /* in leap_sample */
  leap_cache_stats cache;
  int cached;
} run_totals;

/* The batches: sample, check, stream to every output. */
static leap_status sample_batches(const sample_opts *o, leap_context *ctx, leap_model *m, const sample_plan *p,
                                  const leap_sample_desc *base, const float *noise, const char *const *in,
                                  int nin, cli_raw_writer *raw, float *grid, run_totals *t) {
  const int batch = (int)(p->count < o->batch ? (p->count > 0 ? p->count : 1) : o->batch);
  float *x = lp_malloc((size_t)batch * p->per * sizeof *x);
  int32_t *labels = p->cycle ? lp_malloc((size_t)batch * sizeof *labels) : NULL;
  leap_status s = x && (labels || !p->cycle) ? LEAP_OK : lp_error(LEAP_ERR_NOMEM, "out of memory");
  const int branches = base->cfg != 1.0 && p->cycle ? 2 : 1;
  leap_cache *cache = NULL;
  int cache_images = 0;
  cli_progress bar;
  cli_progress_init(&bar, !o->quiet);
  const int by_step = p->count <= batch; /* one batch: show its steps */
  if (!by_step) bar.what = "images", bar.rate = "images/s";
  for (int64_t i = 0; s == LEAP_OK && i < p->count; i += batch) {
    leap_sample_desc d = *base;
    d.n = (int)(p->count - i < batch ? p->count - i : batch);
    d.first = (uint64_t)(p->first + i);
    for (int j = 0; labels && j < d.n; j++) labels[j] = p->cycle[(p->first + i + j) % p->cycle_len];
    d.labels = labels;
    if (noise) d.noise = noise + (size_t)(p->first + i) * p->per;
    /* A cache is made for a batch size: again for a shorter last batch. */
    if ((o->cache || o->uniform) && cache_images != d.n) {
      leap_cache_destroy(cache), cache = NULL;
      if ((s = make_cache(o, ctx, m, &d, branches, &cache)) != LEAP_OK) break;
      cache_images = d.n;
    }
    d.cache = cache;
    d.progress = by_step ? on_progress : cli_stop_progress;
    d.progress_user = &bar;
    const double t0 = cli_now();
    s = leap_sample(m, &d, x);
    t->seconds += cli_now() - t0;
    if (s == LEAP_OK && cli_interrupted()) s = LEAP_ERR_INTERRUPTED;
    leap_cache_stats cst = {.struct_size = sizeof cst};
    if (s == LEAP_OK && cache && leap_cache_get_stats(cache, &cst) == LEAP_OK) {
      t->cached = 1;
      t->cache.computed += cst.computed, t->cache.evaluations += cst.evaluations;
      t->cache.reused += cst.reused, t->cache.overhead_seconds += cst.overhead_seconds;
    }
    if (s == LEAP_OK) s = check_finite(x, (size_t)d.n * p->per, (int64_t)d.first, p->per);
    if (s == LEAP_OK && raw) s = cli_raw_writer_append(raw, x, d.n);
    if (s == LEAP_OK && o->out_dir) s = write_pngs(o, p, x, d.n, (int64_t)d.first, in, nin);
    if (s == LEAP_OK && grid) memcpy(grid + (size_t)i * p->per, x, (size_t)d.n * p->per * sizeof *x);
    if (s == LEAP_OK) t->done += d.n;
    if (!by_step) cli_progress_update(&bar, t->done, p->count);
  }
  cli_progress_finish(&bar);
  leap_cache_destroy(cache);
  free(x);
  free(labels);
  return s;
}

/* After a failure or Ctrl-C: what is left behind. */
static void report_stop(const sample_opts *o, const sample_plan *p, const run_totals *t, leap_status s) {
  if (s == LEAP_ERR_INTERRUPTED) fprintf(stderr, "leap: interrupted; ");
  else fprintf(stderr, "leap: ");
  if (o->out_dir && t->done > 0)
    fprintf(stderr, "%s holds images %lld..%lld of the run; the grid and raw samples were not written\n",
            o->out_dir, (long long)p->first, (long long)(p->first + t->done - 1));
  else
    fprintf(stderr, "nothing was written\n");
}

/* Everything after the model is loaded. Returns the exit code. */
static int run(const sample_opts *o, leap_context *ctx, leap_model *m, const char *model_path,
               const char *device) {
  leap_model_info info = {.struct_size = sizeof info};
  leap_status s = leap_model_get_info(m, &info);
  if (s != LEAP_OK) return cli_fail(s);
  if (!isnan(o->cfg) && o->cfg != 1.0 && info.num_classes <= 0)
    return cli_usage_error("sample", "--cfg: the model has no classes to guide with");
  sample_plan p = {.c = info.in_channels, .h = info.input_size, .w = info.input_size};
  int32_t *cycle = NULL;
  int code = resolve_labels(o, &info, &cycle, &p.cycle_len, &p.n);
  if (code >= 0) return code;
  p.cycle = cycle;
  p.per = (size_t)p.c * p.h * p.w;
  cli_shard_range(&o->shard, p.n, o->batch, &p.first, &p.count);
  if (p.c != 1 && p.c != 3) {
    free(cycle);
    return cli_fail(lp_error(LEAP_ERR_UNSUPPORTED, "%s: %d channels; PNG output needs 1 or 3", model_path, p.c));
  }
  const leap_sample_desc base = run_desc(o, &info);
  const char *in[3];
  const int nin = run_inputs(o, model_path, in);
  code = plan_outputs(o, &p);
  if (code < 0 && (s = plan_settings(o, &base, model_path, device, &p)) != LEAP_OK) code = cli_fail(s);
  if (code < 0 && (s = check_outputs(o, &p, in, nin)) != LEAP_OK) code = cli_fail(s);
  float *noise = NULL, *grid = NULL;
  if (code < 0 && o->noise) {
    /* The caller's noise covers the whole run: [n, C, H, W]. */
    noise = (size_t)p.n <= SIZE_MAX / p.per / sizeof *noise ? lp_malloc((size_t)p.n * p.per * sizeof *noise) : NULL;
    s = noise ? cli_read_noise(o->noise, (int)p.n, p.c, p.h, p.w, noise) : lp_error(LEAP_ERR_NOMEM, "out of memory");
    if (s != LEAP_OK) code = cli_fail(s);
  }
  if (code < 0 && p.grid && !(grid = lp_malloc((size_t)(p.count ? p.count : 1) * p.per * sizeof *grid)))
    code = cli_fail(lp_error(LEAP_ERR_NOMEM, "out of memory"));
  cli_raw_meta meta = {0};
  cli_raw_writer *raw = NULL;
  if (code < 0 && p.raw) {
    s = cli_raw_meta_make(&meta, p.settings, p.n, p.first, p.count, o->shard.index, o->shard.count);
    if (s == LEAP_OK) s = cli_raw_writer_open(p.raw, &meta, p.count, p.c, p.h, p.w, in, nin, &raw);
    if (s != LEAP_OK) code = cli_fail(s);
  }
  run_totals t = {0};
  if (code < 0) {
    s = sample_batches(o, ctx, m, &p, &base, noise, in, nin, raw, grid, &t);
    /* The grid and the raw samples land together (lp_out_commit_all): a
     * failure (a full disk) in either leaves neither. */
    lp_out *outs[2] = {NULL, NULL};
    int nouts = 0;
    if (s == LEAP_OK && p.grid)
      s = png_grid_write_unit(sample_out(o), grid, (int)p.count, p.c, p.h, p.w, in, nin, &outs[nouts++]);
    if (s == LEAP_OK && raw) s = cli_raw_writer_finish_unit(raw, &outs[nouts++]);
    else cli_raw_writer_abort(raw);
    raw = NULL;
    if (s == LEAP_OK && nouts) s = lp_out_commit_all(outs, nouts);
    else
      for (int k = 0; k < nouts; k++) lp_out_abort(outs[k]);
    /* Shard 0 writes the index of every part (all fixed by n and N). */
    if (s == LEAP_OK && p.raw && o->shard.count > 0 && o->shard.index == 0)
      s = cli_raw_index_write(o->raw_out, p.settings, p.n, o->batch, p.c, p.h, p.w, o->shard.count, in, nin);
    if (s == LEAP_ERR_INTERRUPTED) {
      report_stop(o, &p, &t, s);
      code = CLI_EXIT_INTERRUPTED;
    } else if (s != LEAP_OK) {
      code = cli_fail(s);
      report_stop(o, &p, &t, s);
    } else {
      code = CLI_EXIT_OK;
    }
  }
  if (code == CLI_EXIT_OK && !o->quiet) {
    if (t.cached)
      printf("cache: %d of %d evaluations computed, %d reused; hooks took %.1f ms\n", t.cache.computed,
             t.cache.evaluations, t.cache.reused, 1e3 * t.cache.overhead_seconds);
    printf("%lld images", (long long)p.count);
    if (o->shard.count > 0 && p.count == 0)
      printf(" (shard %lld/%lld: none of the %lld, fewer batches than shards)", (long long)o->shard.index,
             (long long)o->shard.count, (long long)p.n);
    else if (o->shard.count > 0)
      printf(" (shard %lld/%lld: images %lld..%lld of %lld)", (long long)o->shard.index, (long long)o->shard.count,
             (long long)p.first, (long long)(p.first + p.count - 1), (long long)p.n);
    printf(" in %.2f s (%.2f images/s) on %s ->", t.seconds, t.seconds > 0 ? (double)p.count / t.seconds : 0.0,
           device);
    if (p.grid) printf(" %s", sample_out(o));
    if (o->out_dir) printf(" %s/", o->out_dir);
    if (p.raw) printf(" %s", p.raw);
    printf("\n");
  }
  cli_raw_meta_free(&meta);
  free(p.cycle_text);
  free(grid);
  free(noise);
  free(cycle);
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
  /* The output rule (core/output.h), before the model loads: never an
   * input, never a file that is not leap's earlier output of the same kind.
   * (run() checks every output again once N is known: the grid, parts.) */
  const char *in[3];
  const int nin = run_inputs(o, model_path, in);
  const int grid = o->out || (!o->shard.count && o->n <= GRID_MAX);
  const char *raw = o->shard.count ? NULL : o->raw_out;
  if (grid && ((s = check_writable(sample_out(o))) != LEAP_OK ||
               (s = lp_out_check(sample_out(o), LP_OUT_PNG, in, nin)) != LEAP_OK))
    return cli_fail(s);
  if (raw && ((s = check_writable(raw)) != LEAP_OK || (s = lp_out_check(raw, LP_OUT_SAMPLES, in, nin)) != LEAP_OK))
    return cli_fail(s);
  if (grid && raw && lp_out_same_file(sample_out(o), raw))
    return cli_usage_error("sample", "--out and --raw-out name the same file (%s)", sample_out(o));

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
