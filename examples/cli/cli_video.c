/* cli_video.c - `leap video`: sample clips from a video model with leap's
 * block-diffusion sampler (leap_video_sample: a chunk schedule family,
 * FreeNoise shuffling, a KV cache policy) into a video file (GIF, APNG,
 * MP4, WebM through FFmpeg), a PNG frame strip, and the raw clips.
 *
 * Frames go to the outputs as their chunk finishes (video_sink.c), so a
 * stopped run (Ctrl-C) keeps the frames it finished: the video is finished
 * with them and lands, exit 130. Every option is checked, and every output
 * against core/output.h's rule, before the model is loaded. */
#define _POSIX_C_SOURCE 200809L
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "alloc.h"
#include "backend_choice.h"
#include "cli.h"
#include "cli_args.h"
#include "default_model.h"
#include "error.h"
#include "file_write.h"
#include "interrupt.h"
#include "output.h"
#include "progress.h"
#include "video_cache.h"
#include "video_file.h"
#include "video_meta.h"
#include "video_sink.h"
#include "video_timing.h"

enum { MAX_N = 4096, MAX_FRAMES = 1 << 20, DEFAULT_UNCOND_N = 4, UNSET = -1 };
#define DEFAULT_CFG 3.0
#define DEFAULT_FPS 8.0
#define DEFAULT_OUT "video.gif"

/* The names of the schedule families and KV choices (`none`: no cache,
 * every chunk recomputes its visible history). */
static const struct {
  const char *name;
  leap_block_family family;
} kFamilies[] = {
    {"synchronous", LEAP_BLOCK_SYNCHRONOUS},
    {"autoregressive", LEAP_BLOCK_AUTOREGRESSIVE},
    {"pyramid", LEAP_BLOCK_PYRAMID},
    {"pipelined", LEAP_BLOCK_PIPELINED},
};
static const struct {
  const char *name;
  leap_kv_policy_kind kind;
  int recompute;
} kKv[] = {
    {"all", LEAP_KV_KEEP_ALL, 0},
    {"rolling", LEAP_KV_ROLLING, 0},
    {"sparse", LEAP_KV_SPARSE, 0},
    {"none", LEAP_KV_KEEP_ALL, 1},
};
enum { FAMILY_COUNT = sizeof kFamilies / sizeof kFamilies[0], KV_COUNT = sizeof kKv / sizeof kKv[0] };

typedef struct video_opts {
  const char *model;         /* NULL = the shipped video model */
  const char *labels;
  int32_t *label_list;       /* parsed --labels (malloc'ed) */
  int label_count;
  int n;                     /* 0 = one per label */
  int frames;                /* 0 = the model's clip length */
  int steps;
  double cfg;                /* NAN = the default */
  double shift;
  uint64_t seed;
  const char *family_name;
  int family;                /* index into kFamilies */
  int ar_step, window, lag;  /* UNSET = leap_video_desc_default's */
  int shuffle;               /* --shuffle given */
  int shuffle_window;        /* UNSET = the model's clip length */
  int shuffle_stride;        /* 0 = the model's frames per chunk */
  const char *kv_name;
  int kv;                    /* index into kKv */
  int kv_sinks, kv_window, kv_store, kv_topk; /* UNSET = the policy's defaults */
  const char *backend, *device;
  int threads;
  int quiet, json;
  double fps;                /* NAN = DEFAULT_FPS */
  const char *out;
  int strip_every;           /* 0 = 1 */
  const char *raw_out;
  int out_given;             /* --out on the command line */
  const char *cache;         /* --cache PROFILE */
  int cache_setting;
  const char *cache_profile; /* --cache-profile OUT: calibrate instead of sampling */
  const char *computed;      /* --computed LIST (NULL: 1.5x, 2x and 3x fewer) */
  int reuse_window;
  int no_adjust;
} video_opts;

void cli_video_help(FILE *out) {
  const leap_kv_policy_desc kv = leap_kv_policy_desc_default();
  const leap_video_desc vd = leap_video_desc_default();
  fprintf(out,
      "usage: leap video [OPTIONS]\n"
      "\n"
      "Samples video clips from a video model (arch video_dit) chunk by chunk with\n"
      "leap's block-diffusion sampler, and writes them as a video file, a PNG\n"
      "frame strip, and optionally the raw clips. Frames are written as their\n"
      "chunk finishes.\n"
      "\n"
      "model and clips:\n"
      "  --model PATH       video model (.safetensors); default: $LEAP_DEFAULT_VIDEO_MODEL,\n"
      "                     else the shipped " LEAP_DEFAULT_VIDEO_MODEL_FILE "\n"
      "                     (when there is none, --model is required)\n"
      "  --labels LIST      class labels: \"0,3,5\", \"0-9\" or \"0-4,7\" (one class per\n"
      "                     clip; the null class is unconditional). Default: every class\n"
      "  --n N              clips (default: one per label, or %d for an unconditional\n"
      "                     model); labels cycle when N is larger\n"
      "  --frames F         frames per clip, any length (default: the model's training\n"
      "                     clip length)\n"
      "\n"
      "sampling (Euler steps on the flow schedule, each chunk at its own level):\n"
      "  --steps N          steps per chunk (default 50)\n"
      "  --cfg W            guidance scale; 1 = none (default %g for class-conditional\n"
      "                     models, 1 otherwise)\n"
      "  --shift S          flow schedule shift, > 0 (default 1 = none)\n"
      "  --seed S           initial noise seed (default 0)\n"
      "  --family NAME      synchronous | autoregressive | pyramid | pipelined\n"
      "                     (default synchronous: every chunk at one level)\n"
      "  --ar-step K        pyramid: iterations between chunk starts (default %d;\n"
      "                     0 = synchronous)\n"
      "  --window W         pipelined: chunks in flight at most (default %d)\n"
      "  --lag L            pipelined: iterations between chunk starts (default %d)\n"
      "  --shuffle[=WINDOW[,STRIDE]]\n"
      "                     FreeNoise: each group of STRIDE frames starts from a shuffled\n"
      "                     copy of the noise WINDOW frames earlier (default window: the\n"
      "                     model's clip length; stride: its frames per chunk)\n"
      "\n"
      "KV cache of finished chunks:\n"
      "  --kv NAME          all (keep every chunk) | rolling (sinks + the last chunks)\n"
      "                     | sparse (a bounded store; attend to the most similar) |\n"
      "                     none (no cache: recompute the visible history). Default all\n"
      "  --kv-sinks S       rolling, sparse: first chunks always kept (default %d)\n"
      "  --kv-window K      rolling, sparse: last chunks always kept (default %d)\n"
      "  --kv-store M       sparse: chunks stored at most (default %d)\n"
      "  --kv-topk T        sparse: most similar stored chunks attended (default %d)\n"
      "\n"
      "compute:\n"
      "  --backend NAME     vulkan | cpu (default: vulkan when there is a GPU, else cpu)\n"
      "  --device D         Vulkan device: index or name substring (implies vulkan)\n"
      "  --threads N        CPU threads (default: OpenMP's)\n"
      "\n"
      "output:\n"
      "  --out PATH         by extension (default " DEFAULT_OUT "):\n"
      "                     .gif .apng .mp4 .webm  the video: the clips tiled in each\n"
      "                       frame (near-square grid, 2 px gaps); GIF and APNG loop;\n"
      "                       MP4 is H.264 (MPEG-4 part 2 without libx264), WebM VP9\n"
      "                     .png  a frame strip: a row per clip, a column per frame\n"
      "  --fps R            frames per second of the video file (default %g)\n"
      "  --strip-every K    frame strip: every K-th frame (default 1)\n"
      "  --raw-out PATH     also write tensor `video` [N,F,C,H,W] F32 with every\n"
      "                     setting and the model's geometry as metadata (.safetensors)\n"
      "  --json             print the run's report as one JSON object on stdout:\n"
      "                     frames/s overall and per %d frames, peak memory\n"
      "  --quiet            no progress line, notice or report\n"
      "\n"
      "caching inside block diffusion (ERTACache across a chunk's steps):\n"
      "  --cache-profile OUT  profile instead of sampling: sample the clips (--n,\n"
      "                     --labels, --seed: the calibration set) with full compute,\n"
      "                     then along each setting's cached path; writes a JSON\n"
      "                     profile valid for this model, family, frames, steps, cfg\n"
      "                     and shift\n"
      "  --computed LIST    settings by forward rows computed (iterations that run\n"
      "                     the model; default: rows/1.5, rows/2, rows/3)\n"
      "  --reuse-window N   longest run of reused rows + 1 considered (default 4)\n"
      "  --cache PROFILE    sample with the profile: its rows reuse the block stack's\n"
      "                     residual (embed and final layer still run)\n"
      "  --cache-setting K  the profile's setting (default 0)\n"
      "  --no-adjust        profile: fit no phi; sample: ignore the profile's phi\n"
      "\n"
      "A progress line (frames done, frames/s, ETA) is shown on stderr when it is\n"
      "a terminal; at the end the timing goes to stderr unless --quiet. Ctrl-C\n"
      "stops at the next step: the frames finished so far are written (a shorter\n"
      "video, strip and raw clips) and leap exits 130.\n",
      DEFAULT_UNCOND_N, DEFAULT_CFG, vd.ar_step, vd.window, vd.lag, kv.sinks, kv.window, kv.store, kv.top_k,
      DEFAULT_FPS, VIDEO_TIMING_SPAN);
}

/* --shuffle, --shuffle=WINDOW or --shuffle=WINDOW,STRIDE (the value only
 * after '=': a bare --shuffle takes nothing from the next argument). */
static int opt_shuffle(cli_args *a, video_opts *o) {
  const char *arg = a->argv[a->i];
  static const char name[] = "--shuffle";
  if (strncmp(arg, name, sizeof name - 1) != 0) return 0;
  const char *v = arg + sizeof name - 1;
  if (*v != 0 && *v != '=') return 0;
  o->shuffle = 1;
  if (*v == 0) return 1;
  int vals[2], count = 0;
  if (!cli_parse_int_list(a->cmd, "--shuffle", v + 1, 1, MAX_FRAMES, vals, 2, &count))
    a->exit_code = CLI_EXIT_USAGE;
  else
    o->shuffle_window = vals[0], o->shuffle_stride = count > 1 ? vals[1] : 0;
  return 1;
}

static int is_png(const char *path) {
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  return dot && (!slash || dot > slash) && strcasecmp(dot, ".png") == 0;
}

static int parse_opts(int argc, char **argv, video_opts *o) {
  *o = (video_opts){.steps = 50, .cfg = NAN, .shift = 1.0, .family_name = "synchronous", .ar_step = UNSET,
                    .window = UNSET, .lag = UNSET, .shuffle_window = UNSET, .kv_name = "all",
                    .kv_sinks = UNSET, .kv_window = UNSET, .kv_store = UNSET, .kv_topk = UNSET,
                    .fps = NAN, .out = DEFAULT_OUT};
  cli_args a;
  cli_args_init(&a, argc, argv, cli_video_help);
  while (cli_next(&a)) {
    if (cli_opt_str(&a, "--model", &o->model)) continue;
    if (cli_opt_str(&a, "--labels", &o->labels)) continue;
    if (cli_opt_int(&a, "--n", 1, MAX_N, &o->n)) continue;
    if (cli_opt_int(&a, "--frames", 1, MAX_FRAMES, &o->frames)) continue;
    if (cli_opt_int(&a, "--steps", 1, 10000, &o->steps)) continue;
    if (cli_opt_double(&a, "--cfg", -1e6, 1e6, &o->cfg)) continue;
    if (cli_opt_double(&a, "--shift", 1e-6, 1e6, &o->shift)) continue;
    if (cli_opt_u64(&a, "--seed", &o->seed)) continue;
    if (cli_opt_str(&a, "--family", &o->family_name)) continue;
    if (cli_opt_int(&a, "--ar-step", 0, 1 << 20, &o->ar_step)) continue;
    if (cli_opt_int(&a, "--window", 1, 1 << 20, &o->window)) continue;
    if (cli_opt_int(&a, "--lag", 1, 1 << 20, &o->lag)) continue;
    if (opt_shuffle(&a, o)) continue;
    if (cli_opt_str(&a, "--kv", &o->kv_name)) continue;
    if (cli_opt_int(&a, "--kv-sinks", 0, 1 << 20, &o->kv_sinks)) continue;
    if (cli_opt_int(&a, "--kv-window", 0, 1 << 20, &o->kv_window)) continue;
    if (cli_opt_int(&a, "--kv-store", 1, 1 << 20, &o->kv_store)) continue;
    if (cli_opt_int(&a, "--kv-topk", 1, 1 << 20, &o->kv_topk)) continue;
    if (cli_opt_str(&a, "--backend", &o->backend)) continue;
    if (cli_opt_str(&a, "--device", &o->device)) continue;
    if (cli_opt_int(&a, "--threads", 0, 4096, &o->threads)) continue;
    if (cli_opt_flag(&a, "--quiet", &o->quiet)) continue;
    if (cli_opt_flag(&a, "--json", &o->json)) continue;
    if (cli_opt_double(&a, "--fps", 0.01, 1000, &o->fps)) continue;
    if (cli_opt_str(&a, "--out", &o->out)) continue;
    if (cli_opt_int(&a, "--strip-every", 1, MAX_FRAMES, &o->strip_every)) continue;
    if (cli_opt_str(&a, "--raw-out", &o->raw_out)) continue;
    if (cli_opt_str(&a, "--cache", &o->cache)) continue;
    if (cli_opt_int(&a, "--cache-setting", 0, LP_VCACHE_MAX_SETTINGS - 1, &o->cache_setting)) continue;
    if (cli_opt_str(&a, "--cache-profile", &o->cache_profile)) continue;
    if (cli_opt_str(&a, "--computed", &o->computed)) continue;
    if (cli_opt_int(&a, "--reuse-window", 2, 1 << 20, &o->reuse_window)) continue;
    if (cli_opt_flag(&a, "--no-adjust", &o->no_adjust)) continue;
    cli_unknown(&a);
  }
  if (a.exit_code >= 0) return a.exit_code;
  const char *cmd = a.cmd;
  o->out_given = strcmp(o->out, DEFAULT_OUT) != 0;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--out") == 0 || strncmp(argv[i], "--out=", 6) == 0) o->out_given = 1;
  if (o->cache && o->cache_profile)
    return cli_usage_error(cmd, "--cache samples with a profile, --cache-profile makes one: not both");
  if (o->cache_profile && (o->out_given || o->raw_out || o->json))
    return cli_usage_error(cmd, "--cache-profile writes only the profile: --out, --raw-out and --json do not apply");
  if (o->cache_profile && !o->cache_profile[0]) return cli_usage_error(cmd, "--cache-profile: empty path");
  if (!o->cache_profile && (o->computed || o->reuse_window))
    return cli_usage_error(cmd, "--computed and --reuse-window apply to --cache-profile");
  if (!o->cache && o->cache_setting) return cli_usage_error(cmd, "--cache-setting applies to --cache");
  if (!o->cache && !o->cache_profile && o->no_adjust)
    return cli_usage_error(cmd, "--no-adjust applies to --cache or --cache-profile");
  if ((o->cache || o->cache_profile) && strcmp(o->kv_name, "none") == 0)
    return cli_usage_error(cmd, "--kv none (the recompute baseline) runs without the block cache");
  o->family = -1;
  for (int i = 0; i < FAMILY_COUNT; i++)
    if (strcmp(o->family_name, kFamilies[i].name) == 0) o->family = i;
  if (o->family < 0)
    return cli_usage_error(cmd, "--family: '%s' is not synchronous, autoregressive, pyramid or pipelined",
                           o->family_name);
  const leap_block_family fam = kFamilies[o->family].family;
  if (o->ar_step != UNSET && fam != LEAP_BLOCK_PYRAMID)
    return cli_usage_error(cmd, "--ar-step applies to --family pyramid");
  if ((o->window != UNSET || o->lag != UNSET) && fam != LEAP_BLOCK_PIPELINED)
    return cli_usage_error(cmd, "--window and --lag apply to --family pipelined");
  o->kv = -1;
  for (int i = 0; i < KV_COUNT; i++)
    if (strcmp(o->kv_name, kKv[i].name) == 0) o->kv = i;
  if (o->kv < 0) return cli_usage_error(cmd, "--kv: '%s' is not all, rolling, sparse or none", o->kv_name);
  const leap_kv_policy_kind kind = kKv[o->kv].kind;
  const int bounded = !kKv[o->kv].recompute && kind != LEAP_KV_KEEP_ALL;
  if (!bounded && (o->kv_sinks != UNSET || o->kv_window != UNSET))
    return cli_usage_error(cmd, "--kv-sinks and --kv-window apply to --kv rolling or sparse");
  if (kind != LEAP_KV_SPARSE && (o->kv_store != UNSET || o->kv_topk != UNSET))
    return cli_usage_error(cmd, "--kv-store and --kv-topk apply to --kv sparse");
  const leap_kv_policy_desc kd = leap_kv_policy_desc_default();
  const int sinks = o->kv_sinks != UNSET ? o->kv_sinks : kd.sinks;
  const int window = o->kv_window != UNSET ? o->kv_window : kd.window;
  const int store = o->kv_store != UNSET ? o->kv_store : kd.store;
  const int topk = o->kv_topk != UNSET ? o->kv_topk : kd.top_k;
  if (kind == LEAP_KV_ROLLING && window < 1)
    return cli_usage_error(cmd, "--kv-window: rolling keeps at least the last chunk (>= 1)");
  if (kind == LEAP_KV_SPARSE && store < sinks + window + topk)
    return cli_usage_error(cmd, "--kv-store: %d cannot hold sinks %d + window %d + top-k %d", store, sinks,
                           window, topk);
  if (o->backend && strcmp(o->backend, "vulkan") != 0 && strcmp(o->backend, "cpu") != 0)
    return cli_usage_error(cmd, "--backend: '%s' is not vulkan or cpu", o->backend);
  if (o->device && o->backend && strcmp(o->backend, "cpu") == 0)
    return cli_usage_error(cmd, "--device selects a Vulkan device; it cannot go with --backend cpu");
  if (!o->out[0]) return cli_usage_error(cmd, "--out: empty path");
  if (!is_png(o->out) && !video_file_handles(o->out))
    return cli_usage_error(cmd, "--out: '%s' is not a .png frame strip or a .gif, .apng, .mp4 or .webm video",
                           o->out);
  if (is_png(o->out) && !isnan(o->fps)) return cli_usage_error(cmd, "--fps applies to a video file, not a .png strip");
  if (!is_png(o->out) && o->strip_every) return cli_usage_error(cmd, "--strip-every applies to a .png frame strip");
  if (o->raw_out && !o->raw_out[0]) return cli_usage_error(cmd, "--raw-out: empty path");
  if (o->raw_out && strcmp(o->raw_out, o->out) == 0) return cli_usage_error(cmd, "--out and --raw-out are the same file");
  if (o->labels) {
    const int ok = cli_parse_labels(cmd, "--labels", o->labels, &o->label_list, &o->label_count);
    if (ok <= 0) return ok < 0 ? CLI_EXIT_NOMEM : CLI_EXIT_USAGE;
  }
  return -1;
}

static leap_status open_context(const video_opts *o, leap_context **ctx) {
  const leap_backend_kind kind = cli_pick_backend(o->backend, o->device, o->quiet);
  if (kind == LEAP_BACKEND_VULKAN) {
    int count = 0;
    const leap_status s = leap_vulkan_device_count(&count);
    if (s != LEAP_OK) return s;
    if (count == 0) return lp_error(LEAP_ERR_NO_DEVICE, "no Vulkan device found (try --backend cpu)");
  }
  leap_context_desc d = leap_context_desc_default(kind);
  d.threads = o->threads;
  if (kind == LEAP_BACKEND_VULKAN) d.device = o->device;
  return leap_context_create(&d, ctx);
}

/* Fails early (before minutes of sampling) when an output's folder is
 * missing or not writable. */
static leap_status check_writable(const char *path) {
  char *copy = lp_strdup(path);
  if (!copy) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  const char *dir = dirname(copy);
  leap_status s = LEAP_OK;
  if (access(dir, W_OK) != 0) s = lp_error(LEAP_ERR_IO, "%s: cannot write into folder '%s'", path, dir);
  free(copy);
  return s;
}

/* The clip labels: --labels (or every class) cycled over n clips; NULL for
 * an unconditional model. Returns an exit code, or -1 to go on. */
static int resolve_labels(const video_opts *o, const leap_model_info *info, int32_t **labels, int *n) {
  const int32_t *list = o->label_list;
  int count = o->label_count;
  *labels = NULL;
  if (list) {
    if (info->num_classes <= 0) return cli_usage_error("video", "--labels: the model has no classes");
    for (int i = 0; i < count; i++)
      if (list[i] >= info->num_classes && list[i] != info->null_class)
        return cli_usage_error("video", "--labels: %d is not a class of this model (0..%d, or %d for unconditional)",
                               (int)list[i], info->num_classes - 1, info->null_class);
  } else if (info->num_classes > 0) {
    count = info->num_classes;
  }
  *n = o->n > 0 ? o->n : count > 0 ? (count < MAX_N ? count : MAX_N) : DEFAULT_UNCOND_N;
  if (count == 0) return -1;
  *labels = lp_malloc((size_t)*n * sizeof **labels);
  if (!*labels) return cli_fail(lp_error(LEAP_ERR_NOMEM, "out of memory"));
  for (int i = 0; i < *n; i++) (*labels)[i] = list ? list[i % count] : i % count;
  return -1;
}

/* The sampler's settings from the options and the model. */
static leap_video_desc make_desc(const video_opts *o, const leap_model_info *info, int n, const int32_t *labels) {
  leap_video_desc d = leap_video_desc_default();
  d.n = n;
  d.labels = labels;
  d.frames = o->frames > 0 ? o->frames : info->clip_frames;
  d.steps = o->steps;
  d.cfg = !isnan(o->cfg) ? o->cfg : info->num_classes > 0 ? DEFAULT_CFG : 1.0;
  d.shift = o->shift;
  d.seed = o->seed;
  d.family = kFamilies[o->family].family;
  if (o->ar_step != UNSET) d.ar_step = o->ar_step;
  if (o->window != UNSET) d.window = o->window;
  if (o->lag != UNSET) d.lag = o->lag;
  if (o->shuffle) {
    d.shuffle_window = o->shuffle_window != UNSET ? o->shuffle_window : info->clip_frames;
    d.shuffle_stride = o->shuffle_stride;
  }
  d.kv.kind = kKv[o->kv].kind;
  d.recompute = kKv[o->kv].recompute;
  if (o->kv_sinks != UNSET) d.kv.sinks = o->kv_sinks;
  if (o->kv_window != UNSET) d.kv.window = o->kv_window;
  if (o->kv_store != UNSET) d.kv.store = o->kv_store;
  if (o->kv_topk != UNSET) d.kv.top_k = o->kv_topk;
  d.cache_profile = o->cache;
  d.cache_setting = o->cache_setting;
  d.cache_adjust = !o->no_adjust;
  return d;
}

/* ------------------------------------------------------------ the run */

static int on_progress(void *user, int step, int steps) {
  cli_progress_update(user, step, steps);
  return cli_interrupted();
}

/* The JSON report (--json): one object on stdout. */
static void print_json(const video_opts *o, const leap_video_desc *d, const char *device, const char *codec,
                       const video_timing *t, int written, int interrupted, const leap_cache_stats *cs) {
  lp_strbuf b = {0};
  lp_strbuf_puts(&b, "{\"video\":1,\"out\":");
  lp_strbuf_json_string(&b, o->out);
  lp_strbuf_puts(&b, ",\"raw_out\":");
  if (o->raw_out) lp_strbuf_json_string(&b, o->raw_out);
  else lp_strbuf_puts(&b, "null");
  lp_strbuf_puts(&b, ",\"codec\":");
  lp_strbuf_json_string(&b, codec);
  lp_strbuf_puts(&b, ",\"device\":");
  lp_strbuf_json_string(&b, device);
  lp_strbuf_printf(&b, ",\"family\":\"%s\",\"kv\":\"%s\",\"n\":%d,\"frames\":%d,\"frames_written\":%d,"
                       "\"interrupted\":%s,",
                   kFamilies[o->family].name, kKv[o->kv].name, d->n, d->frames, written,
                   interrupted ? "true" : "false");
  lp_strbuf_printf(&b, "\"evaluations\":%d,\"computed\":%d,\"reused\":%d,\"cache\":", cs->evaluations,
                   cs->computed, cs->reused);
  if (o->cache) {
    lp_strbuf_json_string(&b, o->cache);
    lp_strbuf_printf(&b, ",\"cache_setting\":%d,\"planned_computed\":%d,", o->cache_setting,
                     cs->planned_computed);
  } else {
    lp_strbuf_puts(&b, "null,");
  }
  if (b.oom) {
    free(b.data);
    return;
  }
  fputs(b.data, stdout);
  free(b.data);
  video_timing_json(t, stdout);
  fputs("}\n", stdout);
}

/* Everything after the model is loaded. Returns the exit code. */
static int run(const video_opts *o, leap_model *m, const char *model_path, const char *device,
               const char *const *inputs, int ninputs) {
  leap_model_info info = {.struct_size = sizeof info};
  leap_status s = leap_model_get_info(m, &info);
  if (s != LEAP_OK) return cli_fail(s);
  if (info.clip_frames <= 1)
    return cli_fail(lp_error(LEAP_ERR_INVALID_ARG, "%s is an image model (arch %s); leap video needs a video model "
                                                   "(arch video_dit); use leap sample for images",
                             model_path, info.arch));
  if (!isnan(o->cfg) && o->cfg != 1.0 && info.num_classes <= 0)
    return cli_usage_error("video", "--cfg: the model has no classes to guide with");
  if (info.in_channels != 1 && info.in_channels != 3)
    return cli_fail(lp_error(LEAP_ERR_UNSUPPORTED, "%s: %d channels; video and PNG output need 1 or 3", model_path,
                             info.in_channels));
  int32_t *labels = NULL;
  int n = 0;
  int code = resolve_labels(o, &info, &labels, &n);
  if (code >= 0) return code;
  leap_video_desc d = make_desc(o, &info, n, labels);

  const video_sink_desc sd = {.out = o->out, .strip_every = o->strip_every ? o->strip_every : 1,
                              .fps = isnan(o->fps) ? DEFAULT_FPS : o->fps, .raw_out = o->raw_out, .n = n,
                              .frames = d.frames, .c = info.in_channels, .h = info.height, .w = info.width,
                              .inputs = inputs, .ninputs = ninputs};
  video_sink *sink = NULL;
  if ((s = video_sink_open(&sd, &sink)) != LEAP_OK) {
    free(labels);
    return cli_fail(s);
  }
  cli_progress bar;
  cli_progress_init(&bar, !o->quiet);
  bar.what = "frames";
  bar.rate = "frames/s";
  d.progress = on_progress;
  d.progress_user = &bar;
  d.on_frames = video_sink_on_frames;
  d.on_frames_user = sink;
  leap_cache_stats cs = {.struct_size = sizeof cs};
  d.cache_stats = &cs;
  /* Ctrl-C from here on keeps what was finished (video_sink.h). */
  lp_out_keep_on_stop(1);
  s = leap_video_sample(m, &d, NULL);
  cli_progress_finish(&bar);
  const leap_status sink_error = video_sink_error(sink);
  if (sink_error != LEAP_OK) s = sink_error;
  const int done = video_sink_done(sink);
  const int interrupted = s == LEAP_ERR_INTERRUPTED || (s == LEAP_OK && cli_interrupted());
  video_meta meta = {0};
  if (s != LEAP_OK && !interrupted) {
    /* a failure: nothing lands */
  } else if (done == 0) {
    s = interrupted ? LEAP_ERR_INTERRUPTED : lp_error(LEAP_ERR_INVALID_ARG, "no frames were sampled");
  } else if ((s = video_meta_build(&meta, &d, &info, model_path, device, kFamilies[o->family].name,
                                   kKv[o->kv].name, done)) == LEAP_OK) {
    s = video_sink_finish(sink, meta.pairs, meta.count);
  }
  video_meta_free(&meta);
  if (s == LEAP_ERR_INTERRUPTED) {
    code = cli_interrupted_exit();
  } else if (s != LEAP_OK) {
    code = cli_fail(s);
  } else {
    code = interrupted ? CLI_EXIT_INTERRUPTED : CLI_EXIT_OK;
    if (interrupted)
      fprintf(stderr, "leap: interrupted; kept the %d finished frame%s of %d in %s%s%s\n", done,
              done == 1 ? "" : "s", d.frames, o->out, o->raw_out ? " and " : "", o->raw_out ? o->raw_out : "");
    const char *codec = video_sink_codec(sink);
    if (o->json) print_json(o, &d, device, codec, video_sink_timing(sink), done, interrupted, &cs);
    if (!o->quiet) video_timing_text(video_sink_timing(sink), stderr);
    if (!o->quiet && !interrupted) {
      fprintf(stderr, "model evaluations: %d (%d computed, %d reused", cs.evaluations, cs.computed, cs.reused);
      if (o->cache) fprintf(stderr, "; %s setting %d", o->cache, o->cache_setting);
      fprintf(stderr, ")\n");
    }
    if (!o->quiet && !interrupted)
      printf("%d clips x %d frames on %s -> %s%s%s%s%s%s\n", n, done, device, o->out, codec[0] ? " (" : "", codec,
             codec[0] ? ")" : "", o->raw_out ? ", " : "", o->raw_out ? o->raw_out : "");
  }
  video_sink_close(sink);
  free(labels);
  return code;
}

static int on_calib_progress(void *user, int step, int steps) {
  (void)user, (void)step, (void)steps;
  return cli_interrupted();
}

/* --cache-profile: the calibration run and the profile. Returns the exit code. */
static int run_profile(const video_opts *o, leap_model *m, const char *model_path, const char *device,
                       const char *const *inputs, int ninputs) {
  leap_model_info info = {.struct_size = sizeof info};
  leap_status s = leap_model_get_info(m, &info);
  if (s != LEAP_OK) return cli_fail(s);
  if (info.clip_frames <= 1)
    return cli_fail(lp_error(LEAP_ERR_INVALID_ARG, "%s is an image model (arch %s); for image ERTACache use leap "
                                                   "profile", model_path, info.arch));
  if (!isnan(o->cfg) && o->cfg != 1.0 && info.num_classes <= 0)
    return cli_usage_error("video", "--cfg: the model has no classes to guide with");
  int32_t *labels = NULL;
  int n = 0;
  int code = resolve_labels(o, &info, &labels, &n);
  if (code >= 0) return code;
  leap_video_desc d = make_desc(o, &info, n, labels);
  d.progress = on_calib_progress;
  int rows = 0;
  if ((s = lp_vcache_rows(&d, info.frames_per_chunk, &rows, NULL, 0)) != LEAP_OK) {
    free(labels);
    return cli_fail(s);
  }
  int targets[LP_VCACHE_MAX_SETTINGS], nt = 0;
  if (o->computed) {
    if (!cli_parse_int_list("video", "--computed", o->computed, 1, rows, targets, LP_VCACHE_MAX_SETTINGS, &nt)) {
      free(labels);
      return CLI_EXIT_USAGE;
    }
  } else {
    /* 1.5x, 2x and 3x fewer evaluations, as leap profile's default. */
    const double div[] = {1.5, 2.0, 3.0};
    for (int k = 0; k < 3; k++) {
      const int t = (int)lround(rows / div[k]);
      if (t >= 1 && (nt == 0 || t != targets[nt - 1])) targets[nt++] = t;
    }
  }
  const lp_vcache_calib_cfg cfg = {.ntargets = nt, .targets = targets,
                                   .reuse_window = o->reuse_window ? o->reuse_window : 4, .adjust = !o->no_adjust};
  lp_vcache_profile p;
  const double t0 = cli_now();
  if (!o->quiet)
    fprintf(stderr, "leap: profiling %d clips x %d frames, %d forward rows, %d setting%s (%d passes)...\n", n,
            d.frames, rows, nt, nt == 1 ? "" : "s", nt + 1);
  s = lp_vcache_calibrate(m, &d, &cfg, &p);
  free(labels);
  if (s == LEAP_ERR_INTERRUPTED || (s == LEAP_OK && cli_interrupted())) {
    if (s == LEAP_OK) lp_vcache_profile_free(&p);
    return cli_interrupted_exit();
  }
  if (s != LEAP_OK) return cli_fail(s);
  s = lp_vcache_profile_write(&p, o->cache_profile, inputs, ninputs);
  if (s == LEAP_OK && !o->quiet) {
    printf("profiled %s (%s, %d frames, %d steps) on %d clips in %.1f s on %s -> %s\n", model_path,
           kFamilies[o->family].name, d.frames, d.steps, n, cli_now() - t0, device, o->cache_profile);
    for (int k = 0; k < p.nsettings; k++) {
      const lp_vcache_setting *st = &p.settings[k];
      double pmin = 1, pmax = 1;
      for (int i = 0; i < p.rows; i++)
        if (st->reuse[i]) pmin = fmin(pmin, st->phi[i]), pmax = fmax(pmax, st->phi[i]);
      printf("  setting %d %-14s: %d of %d rows computed (%.2fx fewer), %d reused; PSNR vs full compute on the "
             "calibration clips %.2f dB; phi %.3f..%.3f\n",
             k, st->name, st->computed, p.rows, (double)p.rows / st->computed, p.rows - st->computed, st->psnr, pmin,
             pmax);
    }
  }
  lp_vcache_profile_free(&p);
  if (s == LEAP_ERR_INTERRUPTED) return cli_interrupted_exit();
  return s == LEAP_OK ? CLI_EXIT_OK : cli_fail(s);
}

/* Finds the model, checks the outputs, opens the backend and loads it. */
static int video(const video_opts *o) {
  char default_path[4096];
  const char *model_path = o->model;
  leap_status s;
  if (!model_path) {
    if (cli_default_video_model(default_path, sizeof default_path) != LEAP_OK)
      return cli_usage_error("video", "--model is required: %s", leap_last_error());
    model_path = default_path;
  }
  const char *inputs[2] = {model_path, o->cache};
  const int ninputs = o->cache ? 2 : 1;
  /* Every output by the rule (core/output.h) before the model is read. */
  if (o->cache_profile) {
    if (access(model_path, R_OK) != 0)
      return cli_fail(lp_error(LEAP_ERR_IO, "%s: model file not found or not readable", model_path));
    if ((s = check_writable(o->cache_profile)) != LEAP_OK ||
        (s = lp_out_check(o->cache_profile, LP_OUT_PROFILE, inputs, 1)) != LEAP_OK)
      return cli_fail(s);
  } else {
    /* The output's container and encoder first: an unknown one is an error
     * before anything is read. */
    if (!is_png(o->out) && (s = video_file_probe(o->out, NULL, 0)) != LEAP_OK) return cli_fail(s);
    if (access(model_path, R_OK) != 0)
      return cli_fail(lp_error(LEAP_ERR_IO, "%s: model file not found or not readable", model_path));
    if ((s = check_writable(o->out)) != LEAP_OK || (o->raw_out && (s = check_writable(o->raw_out)) != LEAP_OK))
      return cli_fail(s);
    if ((s = lp_out_check(o->out, is_png(o->out) ? LP_OUT_PNG : LP_OUT_VIDEO, inputs, ninputs)) != LEAP_OK ||
        (o->raw_out && (s = lp_out_check(o->raw_out, LP_OUT_SAMPLES, inputs, ninputs)) != LEAP_OK))
      return cli_fail(s);
    if (o->raw_out && lp_out_same_file(o->out, o->raw_out))
      return cli_usage_error("video", "--out and --raw-out name the same file (%s)", o->out);
  }

  cli_interrupt_install();
  leap_context *ctx = NULL;
  if ((s = open_context(o, &ctx)) != LEAP_OK) return cli_fail(s);
  leap_model *m = NULL;
  int code;
  if ((s = leap_model_load(ctx, model_path, &m)) != LEAP_OK)
    code = cli_fail(s);
  else if (cli_interrupted())
    code = cli_interrupted_exit();
  else if (o->cache_profile)
    code = run_profile(o, m, model_path, leap_context_device_name(ctx), inputs, 1);
  else
    code = run(o, m, model_path, leap_context_device_name(ctx), inputs, ninputs);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  return code;
}

int cli_video_main(int argc, char **argv) {
  video_opts o;
  int code = parse_opts(argc, argv, &o);
  if (code < 0) code = video(&o);
  free(o.label_list);
  return code;
}
