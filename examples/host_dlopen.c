/* host_dlopen.c - a C host that loads libleap at run time: no link-time
 * dependency on leap (it links only libdl; leap.h gives it the types). It
 * finds the one entry point, leap_get_api, with dlsym, and does everything
 * else through the table it fills:
 *
 *   host_dlopen LIBLEAP MODEL [--seed S] [--n N] [--steps K] [--cfg W]
 *               [--backend cpu|vulkan] [--ref FILE]
 *
 * LIBLEAP may be "-" for $LEAP_LIBRARY (default "libleap.so.0", found by the
 * dynamic loader's search path). It checks three things and prints what it
 * found:
 *   1. a major version the library does not serve is refused, with a
 *      message and the version the library does serve;
 *   2. a table of an older, smaller leap_api (here: its first calls up to
 *      last_error, what a host of an imaginary older header had) is filled
 *      only as far as its struct_size, and the bytes past it are untouched;
 *   3. it samples N images (labels 0, 1, ...) with the seed through the
 *      table; with --ref, a file of N images as raw native float32 that a
 *      program linked against leap wrote with leap_sample for the same
 *      settings, it requires them bit for bit: the table's pointers are the
 *      same functions as the exported symbols, so the same settings, thread
 *      count and device must give the same bits (tests/test_api_table.cpp
 *      runs it against the linked library on the CPU backend, one thread).
 * Exit status 0 when all hold, 1 otherwise, 2 on bad usage. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leap.h"

static const leap_api *g; /* the table, once filled */

#define CHECK(call)                                                            \
  do {                                                                         \
    leap_status s_ = (call);                                                   \
    if (s_ != LEAP_OK) {                                                       \
      fprintf(stderr, "host_dlopen: %s: %s\n", #call, g->last_error());        \
      return 1;                                                                \
    }                                                                          \
  } while (0)

static int usage(void) {
  fprintf(stderr, "usage: host_dlopen LIBLEAP|- MODEL [--seed S] [--n N] [--steps K] [--cfg W] "
                  "[--backend cpu|vulkan] [--ref FILE]\n");
  return 2;
}

/* Check 1: a major version the library does not serve. */
static int check_refusal(leap_get_api_fn get, const char *(*last_error)(void)) {
  leap_api t;
  memset(&t, 0, sizeof t);
  t.struct_size = sizeof t;
  const uint32_t major = LEAP_API_VERSION_MAJOR + 1;
  const leap_status s = get(major, &t);
  const char *msg = last_error ? last_error() : "";
  if (s != LEAP_ERR_UNSUPPORTED || t.version == 0 || t.context_create != NULL || !msg[0]) {
    fprintf(stderr, "host_dlopen: major %u: status %d, version %u, message \"%s\" (want a refusal)\n",
            (unsigned)major, (int)s, (unsigned)t.version, msg);
    return 1;
  }
  printf("major %u refused: %s\n", (unsigned)major, msg);
  return 0;
}

/* Check 2: an older, smaller table. */
static int check_older(leap_get_api_fn get) {
  unsigned char buf[sizeof(leap_api)];
  memset(buf, 0xA5, sizeof buf);
  const uint32_t older = (uint32_t)(offsetof(leap_api, last_error) + sizeof g->last_error);
  memcpy(buf, &older, sizeof older);
  leap_api t;
  if (get(LEAP_API_VERSION_MAJOR, (leap_api *)buf) != LEAP_OK) {
    fprintf(stderr, "host_dlopen: an older table (struct_size %u) was refused\n", (unsigned)older);
    return 1;
  }
  memcpy(&t, buf, sizeof t);
  for (size_t k = older; k < sizeof buf; k++)
    if (buf[k] != 0xA5) {
      fprintf(stderr, "host_dlopen: the library wrote byte %zu of an older table of %u bytes\n", k,
              (unsigned)older);
      return 1;
    }
  if (t.struct_size != older || t.version != g->version || t.api_version != g->api_version ||
      t.status_string != g->status_string || t.last_error != g->last_error) {
    fprintf(stderr, "host_dlopen: an older table does not hold the calls it knows\n");
    return 1;
  }
  printf("older table (%u of %zu bytes): filled as far as it goes, the rest untouched\n", (unsigned)older,
         sizeof(leap_api));
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) return usage();
  const char *lib = strcmp(argv[1], "-") ? argv[1] : getenv("LEAP_LIBRARY");
  if (!lib) lib = "libleap.so.0";
  const char *model = argv[2], *ref = NULL;
  uint64_t seed = 0;
  int n = 2, steps = 10, vulkan = 0;
  double cfg = 2.0;
  for (int i = 3; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return usage();
    if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--n")) n = atoi(v);
    else if (!strcmp(a, "--steps")) steps = atoi(v);
    else if (!strcmp(a, "--cfg")) cfg = atof(v);
    else if (!strcmp(a, "--ref")) ref = v;
    else if (!strcmp(a, "--backend") && (!strcmp(v, "cpu") || !strcmp(v, "vulkan"))) vulkan = !strcmp(v, "vulkan");
    else return usage();
    i++;
  }
  if (n < 1 || n > 4096 || steps < 1) return usage();

  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "host_dlopen: %s\n", dlerror());
    return 1;
  }
  /* POSIX: a data pointer from dlsym converts to a function pointer. */
  leap_get_api_fn get;
  *(void **)&get = dlsym(h, LEAP_ENTRY_SYMBOL);
  const char *(*last_error)(void);
  *(void **)&last_error = dlsym(h, "leap_last_error");
  if (!get) {
    fprintf(stderr, "host_dlopen: %s has no %s: not a leap library, or one older than 0.2\n", lib,
            LEAP_ENTRY_SYMBOL);
    return 1;
  }
  static leap_api api; /* zeroed: pointers a newer header has and the library lacks stay NULL */
  api.struct_size = sizeof api;
  if (get(LEAP_API_VERSION_MAJOR, &api) != LEAP_OK) {
    fprintf(stderr, "host_dlopen: %s: %s\n", lib, last_error ? last_error() : "refused");
    return 1;
  }
  g = &api;
  printf("%s: leap %u.%u.%u\n", lib, api.version / 10000, api.version / 100 % 100, api.version % 100);
  int bad = check_refusal(get, last_error) | check_older(get);

  leap_context_desc cd = api.context_desc_default(vulkan ? LEAP_BACKEND_VULKAN : LEAP_BACKEND_CPU);
  cd.threads = 1; /* the reference's thread count (bit-for-bit needs the same sums) */
  leap_context *ctx;
  leap_model *m;
  CHECK(api.context_create(&cd, &ctx));
  CHECK(api.model_load(ctx, model, &m));
  leap_model_info info = {.struct_size = sizeof info};
  CHECK(api.model_get_info(m, &info));
  const size_t numel = (size_t)info.clip_frames * info.in_channels * info.height * info.width;
  float *img = malloc((size_t)n * numel * sizeof *img), *want = malloc((size_t)n * numel * sizeof *want);
  int32_t *labels = malloc((size_t)n * sizeof *labels);
  if (!img || !want || !labels) return 1;
  for (int b = 0; b < n; b++) labels[b] = info.num_classes > 0 ? b % info.num_classes : info.null_class;
  leap_sample_desc sd = api.sample_desc_default();
  sd.n = n, sd.labels = labels, sd.steps = steps, sd.cfg = cfg, sd.seed = seed;
  CHECK(api.sample(m, &sd, img));
  printf("sampled %d image%s of %s (%s, %d steps, cfg %g, seed %llu) on %s\n", n, n == 1 ? "" : "s",
         info.arch, api.solver_name(sd.solver), steps, cfg, (unsigned long long)seed,
         api.context_device_name(ctx));

  if (ref) {
    FILE *f = fopen(ref, "rb");
    const size_t got = f ? fread(want, sizeof *want, (size_t)n * numel + 1, f) : 0;
    if (f) fclose(f);
    if (got != (size_t)n * numel) {
      fprintf(stderr, "host_dlopen: %s: %zu floats, want %zu\n", ref, got, (size_t)n * numel);
      bad = 1;
    } else {
      size_t differ = 0;
      double diff = 0;
      for (size_t k = 0; k < (size_t)n * numel; k++) {
        differ += memcmp(&img[k], &want[k], sizeof *img) != 0;
        const double d = img[k] > want[k] ? (double)img[k] - want[k] : (double)want[k] - img[k];
        if (d > diff) diff = d;
      }
      printf("against the linked leap_sample (%s): %zu of %zu floats differ in their bits, max |diff| %g\n", ref,
             differ, (size_t)n * numel, diff);
      bad |= differ != 0;
    }
  }
  free(img), free(want), free(labels);
  api.model_destroy(m);
  api.context_destroy(ctx);
  /* LEAP_HOST_KEEP_LOADED: leave the library mapped at exit (the tests'
   * sanitizer builds: a dependency's load-time allocation would otherwise be
   * reported as leaked once its owner is unmapped). */
  if (!getenv("LEAP_HOST_KEEP_LOADED")) dlclose(h);
  return bad;
}
