/* host_video.c - a C host that runs its own block-diffusion loop for a video
 * model with leap's public schedule API, and checks that it gets the clips
 * of leap_video_sample for the same seed and settings.
 *
 *   host_video MODEL [--family synchronous|autoregressive|pyramid|pipelined]
 *              [--frames F] [--steps K] [--cfg W] [--shift S] [--n N]
 *              [--seed S] [--ar-step A] [--window W] [--lag L]
 *              [--shuffle WINDOW[,STRIDE]] [--backend cpu|vulkan] [--tol T]
 *
 * The loop, all of it through leap.h:
 *   - noise: leap_noise_fill(seed, n, frames * C * H * W), then each clip b
 *     shuffled with leap_block_noise_shuffle(..., seed + b) (FreeNoise),
 *     scaled by the flow schedule's first sigma (1);
 *   - schedule: leap_block_schedule_create / _get / _chunk_frames say, per
 *     iteration, each chunk's step, which chunks step and the window;
 *   - model: no KV cache. Each iteration runs leap_model_forward_frames on
 *     every frame up to the window's end: finished chunks clean at t = 0
 *     (the history a cache would hold as keys and values; the model is
 *     block-causal, so recomputing it is the same math), the others at
 *     their own step's timestep; conditional rows, then null-class rows
 *     when guided;
 *   - steps: Euler on the flow schedule (t linear 1 -> 0 with the SD3
 *     shift), guidance u + W (c - u), in double, on the chunks marked update.
 *
 * Then leap_video_sample with the same settings (its KV cache, keep-all) and
 * again with recompute = 1 (no cache); it prints the largest absolute
 * difference to each and fails above --tol (default 1e-5). Why 1e-5: on
 * the tiny fixture (tests/data) the frames reach about 4.2; recompute runs
 * the same forwards as this host and gave the same bits on the CPU and on
 * lavapipe, while leap's cached run computes the history's keys in other
 * forwards (the same sums over other GEMM shapes), so float rounding
 * separates them: at most 4.8e-7 here over every family, with shuffling,
 * up to 13 frames and 6 steps. 1e-5 leaves 20 times that for longer runs
 * and other BLAS builds. Mistakes move frames far more: a finished chunk
 * fed at model timestep 1 instead of 0 by 3.5e-3, guidance at 0.9 W by
 * 0.07, a clip's noise shuffled with the seed instead of seed + b by 4.8.
 *
 * Exit status 0 when both differences are within --tol, 1 otherwise, 2 on
 * bad usage. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leap.h"

#define CHECK(call)                                                            \
  do {                                                                         \
    leap_status s_ = (call);                                                   \
    if (s_ != LEAP_OK) {                                                       \
      fprintf(stderr, "host_video: %s: %s\n", #call, leap_last_error());       \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

static void *xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "host_video: out of memory (%zu bytes)\n", bytes);
    exit(1);
  }
  return p;
}

static int usage(void) {
  fprintf(stderr, "usage: host_video MODEL [--family synchronous|autoregressive|pyramid|pipelined] [--frames F] "
                  "[--steps K] [--cfg W] [--shift S] [--n N] [--seed S] [--ar-step A] [--window W] [--lag L] "
                  "[--shuffle WINDOW[,STRIDE]] [--backend cpu|vulkan] [--tol T]\n");
  return 2;
}

static const char *const FAMILIES[] = {"synchronous", "autoregressive", "pyramid", "pipelined"};

/* The settings leap_video_sample gets too. */
typedef struct run {
  int n, frames, steps, ar_step, window, lag, shuffle_window, shuffle_stride;
  double cfg, shift;
  uint64_t seed;
  leap_block_family family;
} run;

/* The host's own loop: clips [n, frames, C, H, W] into out. */
static void host_sample(leap_model *m, const leap_model_info *info, const run *r, float *out) {
  const int Fc = info->frames_per_chunk, n = r->n;
  const size_t per_in = (size_t)info->in_channels * info->height * info->width;
  const size_t per_out = (size_t)info->out_channels * info->height * info->width;
  const size_t clip = (size_t)r->frames * per_in;
  const int guided = info->num_classes > 0 && r->cfg != 1.0, B = guided ? 2 * n : n;

  /* The flow schedule: sigma[i] (t of step i) and the model's timestep. */
  double *sigma = xmalloc((size_t)(r->steps + 1) * sizeof *sigma);
  for (int i = 0; i <= r->steps; i++) {
    const double t = i == r->steps ? 0.0 : 1.0 - (double)i / r->steps;
    sigma[i] = r->shift * t / (1.0 + (r->shift - 1.0) * t);
  }

  /* The initial noise of every clip, as leap_video_sample draws it. */
  float *noise = xmalloc((size_t)n * clip * sizeof *noise);
  CHECK(leap_noise_fill(r->seed, n, clip, noise));
  const int stride = r->shuffle_stride ? r->shuffle_stride : Fc;
  if (r->shuffle_window > 0 && r->shuffle_window < r->frames) /* a window as long as the clip shuffles nothing */
    for (int b = 0; b < n; b++)
      CHECK(leap_block_noise_shuffle(noise + (size_t)b * clip, r->frames, per_in, r->shuffle_window, stride,
                                     r->seed + (uint64_t)b));
  double *x = xmalloc((size_t)n * clip * sizeof *x); /* [n, frames, C, H, W] */
  for (size_t e = 0; e < (size_t)n * clip; e++) x[e] = sigma[0] * (double)noise[e];

  leap_block_schedule_desc bd = leap_block_schedule_desc_default();
  bd.frames = r->frames, bd.frames_per_chunk = Fc, bd.steps = r->steps, bd.family = r->family;
  bd.ar_step = r->ar_step, bd.window = r->window, bd.lag = r->lag;
  leap_block_schedule *sched;
  CHECK(leap_block_schedule_create(&bd, &sched));
  const int K = leap_block_schedule_chunks(sched), rows = leap_block_schedule_iterations(sched);
  leap_block_iteration it = {.struct_size = sizeof it};
  it.step = xmalloc((size_t)K * sizeof *it.step);
  it.update = xmalloc((size_t)K);
  it.kv_write = xmalloc((size_t)K);

  int32_t *y = xmalloc((size_t)B * sizeof *y);
  for (int b = 0; b < B; b++) y[b] = b < n && info->num_classes > 0 ? b % info->num_classes : info->null_class;
  float *xin = xmalloc((size_t)B * clip * sizeof *xin), *tin = xmalloc((size_t)B * r->frames * sizeof *tin);
  float *pred = xmalloc((size_t)B * r->frames * per_out * sizeof *pred);

  for (int row = 0; row < rows; row++) {
    CHECK(leap_block_schedule_get(sched, row, &it));
    if (it.updated == 0) continue;
    /* Every frame up to the window's end: the window and its history. */
    int first, count;
    CHECK(leap_block_schedule_chunk_frames(sched, it.window_end - 1, &first, &count));
    const int frames = first + count;
    for (int c = 0; c < it.window_end; c++) {
      CHECK(leap_block_schedule_chunk_frames(sched, c, &first, &count));
      const int done = it.step[c] == r->steps; /* finished: clean, at t = 0 */
      const float tc = done ? 0.0f : (float)(sigma[it.step[c]] * info->timestep_scale);
      for (int row_b = 0; row_b < B; row_b++) {
        const int b = row_b < n ? row_b : row_b - n;
        for (int f = first; f < first + count; f++) {
          const double *src = x + ((size_t)b * r->frames + f) * per_in;
          float *dst = xin + ((size_t)row_b * frames + f) * per_in;
          for (size_t e = 0; e < per_in; e++) dst[e] = (float)src[e];
          tin[(size_t)row_b * frames + f] = tc;
        }
      }
    }
    CHECK(leap_model_forward_frames(m, B, frames, xin, tin, y, pred));
    for (int c = it.window_begin; c < it.window_end; c++) {
      if (!it.update[c]) continue;
      CHECK(leap_block_schedule_chunk_frames(sched, c, &first, &count));
      const int k = it.step[c];
      const double dt = sigma[k + 1] - sigma[k];
      for (int b = 0; b < n; b++)
        for (int f = first; f < first + count; f++) {
          const float *cp = pred + ((size_t)b * frames + f) * per_out;
          const float *up = guided ? pred + ((size_t)(b + n) * frames + f) * per_out : NULL;
          double *xp = x + ((size_t)b * r->frames + f) * per_in;
          for (size_t e = 0; e < per_in; e++) {
            const double v = up ? (double)up[e] + r->cfg * ((double)cp[e] - (double)up[e]) : (double)cp[e];
            xp[e] += dt * v;
          }
        }
    }
  }
  for (size_t e = 0; e < (size_t)n * clip; e++) out[e] = (float)x[e];
  leap_block_schedule_destroy(sched);
  free(it.step), free(it.update), free(it.kv_write);
  free(sigma), free(noise), free(x), free(y), free(xin), free(tin), free(pred);
}

static double max_abs_diff(const float *a, const float *b, size_t count) {
  double d = 0;
  for (size_t e = 0; e < count; e++) {
    const double v = fabs((double)a[e] - (double)b[e]);
    if (!(v <= d)) d = v; /* NaN counts as the largest */
  }
  return d;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  run r = {.n = 2, .frames = 9, .steps = 4, .ar_step = 1, .window = 3, .lag = 2, .cfg = 2.0, .shift = 2.0,
           .seed = 11, .family = LEAP_BLOCK_PYRAMID};
  int vulkan = 0;
  double tol = 1e-5;
  for (int i = 2; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return usage();
    if (!strcmp(a, "--family")) {
      int found = 0;
      for (int f = 0; f < 4; f++)
        if (!strcmp(v, FAMILIES[f])) r.family = (leap_block_family)f, found = 1;
      if (!found) return usage();
    } else if (!strcmp(a, "--frames")) r.frames = atoi(v);
    else if (!strcmp(a, "--steps")) r.steps = atoi(v);
    else if (!strcmp(a, "--cfg")) r.cfg = atof(v);
    else if (!strcmp(a, "--shift")) r.shift = atof(v);
    else if (!strcmp(a, "--n")) r.n = atoi(v);
    else if (!strcmp(a, "--seed")) r.seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--ar-step")) r.ar_step = atoi(v);
    else if (!strcmp(a, "--window")) r.window = atoi(v);
    else if (!strcmp(a, "--lag")) r.lag = atoi(v);
    else if (!strcmp(a, "--tol")) tol = atof(v);
    else if (!strcmp(a, "--shuffle")) {
      char *end;
      r.shuffle_window = (int)strtol(v, &end, 10);
      r.shuffle_stride = *end == ',' ? atoi(end + 1) : 0;
    } else if (!strcmp(a, "--backend") && (!strcmp(v, "cpu") || !strcmp(v, "vulkan"))) vulkan = !strcmp(v, "vulkan");
    else return usage();
  }
  if (r.n < 1 || r.n > 64 || r.frames < 1 || r.frames > 4096 || r.steps < 1 || r.steps > 1000 || !(tol >= 0))
    return usage();

  leap_context_desc cd = leap_context_desc_default(vulkan ? LEAP_BACKEND_VULKAN : LEAP_BACKEND_CPU);
  leap_context *ctx;
  leap_model *m;
  CHECK(leap_context_create(&cd, &ctx));
  CHECK(leap_model_load(ctx, argv[1], &m));
  leap_model_info info = {.struct_size = sizeof info};
  CHECK(leap_model_get_info(m, &info));
  if (info.prediction != LEAP_PRED_FLOW_V) {
    fprintf(stderr, "host_video: %s does not predict flow_v: block diffusion walks the flow schedule\n", argv[1]);
    return 1;
  }
  const size_t count = (size_t)r.n * r.frames * info.in_channels * info.height * info.width;
  float *mine = xmalloc(count * sizeof *mine), *theirs = xmalloc(count * sizeof *theirs);
  host_sample(m, &info, &r, mine);

  int32_t *labels = xmalloc((size_t)r.n * sizeof *labels);
  for (int b = 0; b < r.n; b++) labels[b] = info.num_classes > 0 ? b % info.num_classes : info.null_class;
  leap_video_desc vd = leap_video_desc_default();
  vd.n = r.n, vd.labels = info.num_classes > 0 ? labels : NULL, vd.frames = r.frames, vd.steps = r.steps;
  vd.cfg = r.cfg, vd.shift = r.shift, vd.seed = r.seed, vd.family = r.family;
  vd.ar_step = r.ar_step, vd.window = r.window, vd.lag = r.lag;
  vd.shuffle_window = r.shuffle_window, vd.shuffle_stride = r.shuffle_stride;
  printf("%s, %d clips of %d frames (chunks of %d), %d steps, cfg %g, shift %g, seed %llu, shuffle %d on %s\n",
         FAMILIES[r.family], r.n, r.frames, info.frames_per_chunk, r.steps, r.cfg, r.shift,
         (unsigned long long)r.seed, r.shuffle_window, leap_context_device_name(ctx));
  int bad = 0;
  for (int recompute = 0; recompute <= 1; recompute++) {
    vd.recompute = recompute;
    CHECK(leap_video_sample(m, &vd, theirs));
    const double d = max_abs_diff(mine, theirs, count);
    printf("max |host - leap_video_sample (%s)| = %.3g (tolerance %g)\n", recompute ? "recompute" : "KV cache", d,
           tol);
    bad |= !(d <= tol);
  }
  double peak = 0; /* the frames' scale, for the tolerance's sake */
  for (size_t e = 0; e < count; e++)
    if (fabs(mine[e]) > peak) peak = fabs(mine[e]);
  printf("max |frame value| = %.3g\n", peak);
  const uint64_t warned = leap_context_validation_messages(ctx); /* 0 unless LEAP_VALIDATION=1 */
  if (warned) {
    fprintf(stderr, "host_video: %llu Vulkan validation messages\n", (unsigned long long)warned);
    bad = 1;
  }
  free(mine), free(theirs), free(labels);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  return bad;
}
