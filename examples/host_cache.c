/* host_cache.c - a C host that runs its own sampling loop (staged DiT
 * forward, classifier-free guidance, Euler flow steps) and uses ERTACache
 * through the public hooks of leap.h only. It checks that its images equal
 * those of leap_sample with the same cache (what `leap sample --cache`
 * runs) for the same seed, and prints the largest difference. Equal up to
 * float rounding: leap_sample combines the two guidance branches on the
 * device (cfg * cond + (1 - cfg) * uncond, perhaps with a fused
 * multiply-add), this host on the host; a wrong cache decision, residual
 * or phi moves pixels by 1e-2 or more, rounding by about 1e-6.
 *
 *   host_cache MODEL PROFILE [SEED] [N] [--cpu]
 *
 * Per step: embed; leap_cache_begin on the hidden states (in place); if it
 * says compute, run the blocks and leap_cache_end; final layer; guidance;
 * then phi from leap_cache_step_scale (on the velocity, or in time with
 * leap_cache_adjust_schedule). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leap.h"

#define CHECK(call)                                                            \
  do {                                                                         \
    leap_status s_ = (call);                                                   \
    if (s_ != LEAP_OK) {                                                       \
      fprintf(stderr, "host_cache: %s: %s\n", #call, leap_last_error());       \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: host_cache MODEL PROFILE [SEED] [N] [--cpu]\n");
    return 2;
  }
  const char *model = argv[1], *profile = argv[2];
  const uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
  const int n = argc > 4 ? atoi(argv[4]) : 4;
  int cpu = argc > 5 && strcmp(argv[5], "--cpu") == 0;
  const int steps = 50; /* the profile must be for these; leap checks */
  const double w = 3.0;
  int count = 0;
  if (!cpu && (leap_vulkan_device_count(&count) != LEAP_OK || count == 0)) cpu = 1;
  leap_context_desc cdsc = leap_context_desc_default(cpu ? LEAP_BACKEND_CPU : LEAP_BACKEND_VULKAN);
  leap_context *ctx;
  leap_model *m;
  CHECK(leap_context_create(&cdsc, &ctx));
  CHECK(leap_model_load(ctx, model, &m));
  leap_model_info info = {.struct_size = sizeof info};
  CHECK(leap_model_get_info(m, &info));
  if (info.prediction != LEAP_PRED_FLOW_V || info.num_classes < 1) {
    fprintf(stderr, "host_cache: needs a class-conditional flow model\n");
    return 1;
  }
  char id[17];
  CHECK(leap_model_id(m, id, sizeof id));
  leap_cache_desc cd = leap_cache_desc_default();
  cd.profile = profile, cd.branches = 2, cd.images = n, cd.steps = steps, cd.cfg = w, cd.model_id = id;
  leap_cache *cache;
  CHECK(leap_cache_create(ctx, &cd, &cache));

  const size_t numel = (size_t)info.in_channels * info.input_size * info.input_size;
  const size_t onumel = (size_t)info.out_channels * info.input_size * info.input_size;
  float *noise = malloc((size_t)n * numel * sizeof(float)), *xin = malloc(2 * (size_t)n * numel * sizeof(float));
  float *out = malloc(2 * (size_t)n * onumel * sizeof(float)), *tt = malloc(2 * (size_t)n * sizeof(float));
  float *mine = malloc((size_t)n * numel * sizeof(float)), *ref = malloc((size_t)n * numel * sizeof(float));
  double *x = malloc((size_t)n * numel * sizeof(double)), *t = malloc((steps + 1) * sizeof(double));
  int32_t *labels = malloc(2 * (size_t)n * sizeof(int32_t));
  if (!noise || !xin || !out || !tt || !mine || !ref || !x || !t || !labels) return 1;
  CHECK(leap_noise_fill(seed, n, numel, noise));
  for (int b = 0; b < n; b++) labels[b] = b % info.num_classes, labels[n + b] = info.null_class;
  for (int i = 0; i <= steps; i++) t[i] = i == steps ? 0.0 : 1.0 - (double)i / steps;
  for (size_t k = 0; k < (size_t)n * numel; k++) x[k] = noise[k];

  CHECK(leap_cache_reset(cache));
  for (int i = 0; i < steps; i++) {
    for (size_t k = 0; k < (size_t)n * numel; k++) xin[k] = xin[(size_t)n * numel + k] = (float)x[k];
    for (int b = 0; b < 2 * n; b++) tt[b] = (float)(t[i] * info.timestep_scale);
    CHECK(leap_model_embed(m, 2 * n, xin, tt, labels));
    leap_tensor *h;
    CHECK(leap_model_hidden(m, &h));
    int compute;
    CHECK(leap_cache_begin(cache, i, LEAP_CACHE_ALL_BRANCHES, h, h, &compute));
    if (compute) {
      CHECK(leap_model_blocks(m));
      CHECK(leap_cache_end(cache, i, LEAP_CACHE_ALL_BRANCHES, h));
    }
    CHECK(leap_model_final(m, out));
    double phi;
    int in_time;
    CHECK(leap_cache_step_scale(cache, i, &phi, &in_time));
    const float pv = in_time ? 1.0f : (float)phi;
    if (in_time) CHECK(leap_cache_adjust_schedule(cache, i, t, steps));
    const double dt = t[i + 1] - t[i];
    for (int b = 0; b < n; b++) {
      const float *c = out + (size_t)b * onumel, *u = out + (size_t)(n + b) * onumel;
      for (size_t k = 0; k < numel; k++) {
        const float v = pv * (u[k] + (float)w * (c[k] - u[k]));
        x[(size_t)b * numel + k] += dt * (double)v;
      }
    }
  }
  for (size_t k = 0; k < (size_t)n * numel; k++) mine[k] = (float)x[k];
  leap_cache_stats st = {.struct_size = sizeof st};
  CHECK(leap_cache_get_stats(cache, &st));

  /* The same through leap_sample (what `leap sample --cache` calls). */
  leap_sample_desc sd = leap_sample_desc_default();
  sd.n = n, sd.labels = labels, sd.steps = steps, sd.cfg = w, sd.seed = seed, sd.cache = cache;
  CHECK(leap_sample(m, &sd, ref));
  double maxdiff = 0;
  for (size_t k = 0; k < (size_t)n * numel; k++) maxdiff = fmax(maxdiff, fabs((double)mine[k] - ref[k]));
  printf("host_cache: %d images, seed %llu, %d of %d steps computed on %s; max |host - leap_sample| = %g\n", n,
         (unsigned long long)seed, st.computed, steps, leap_context_device_name(ctx), maxdiff);
  leap_cache_destroy(cache);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  free(noise), free(xin), free(out), free(tt), free(mine), free(ref), free(x), free(t), free(labels);
  return maxdiff <= 1e-4 ? 0 : 1;
}
