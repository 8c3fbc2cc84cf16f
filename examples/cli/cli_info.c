/* cli_info.c - `leap info MODEL`: the model's description and size, and any
 * other metadata its file carries (training notes, provenance). The model
 * is loaded on the CPU backend, so this works without Vulkan and checks
 * that the file really loads. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "safetensors.h"

void cli_info_help(FILE *out) {
  fprintf(out,
          "usage: leap info MODEL\n"
          "\n"
          "Loads MODEL (.safetensors) on the CPU backend and prints its\n"
          "description (architecture, sizes, classes, prediction, weight dtype),\n"
          "its parameter count, its architecture's weight list (name, shape, role;\n"
          "the first block's tensors stand for every block's) and the file's\n"
          "other __metadata__ entries.\n");
}

/* The __metadata__ keys the model description is built from; info prints
 * them as fields, so the metadata listing skips them. */
static const char *const kDescriptionKeys[] = {
    "arch",        "input_size", "patch_size",  "in_channels",
    "out_channels", "hidden_size", "depth",     "num_heads",
    "mlp_ratio",   "num_classes", "null_class", "learn_sigma",
    "prediction",  "timestep_scale",
};

static int is_description_key(const char *key) {
  for (size_t i = 0; i < sizeof kDescriptionKeys / sizeof *kDescriptionKeys; i++)
    if (strcmp(key, kDescriptionKeys[i]) == 0) return 1;
  return 0;
}

static const char *prediction_name(leap_prediction p) {
  switch (p) {
  case LEAP_PRED_EPS: return "eps";
  case LEAP_PRED_V: return "v";
  case LEAP_PRED_FLOW_V: return "flow_v";
  }
  return "?";
}

/* 12345678 -> "12.3 M". */
static void human_count(int64_t n, char *buf, size_t size) {
  const char *units[] = {"", " K", " M", " G", " T"};
  double v = (double)n;
  int u = 0;
  while (v >= 1000 && u < 4) v /= 1000, u++;
  snprintf(buf, size, u ? "%.3g%s" : "%.0f%s", v, units[u]);
}

static void print_info(const char *path, const leap_model_info *in) {
  char params[32];
  human_count(in->parameters, params, sizeof params);
  printf("%-16s %s\n", "model", path);
  printf("%-16s %s\n", "arch", in->arch);
  printf("%-16s %dx%d\n", "input size", in->height, in->width);
  if (in->clip_frames > 1)
    printf("%-16s %d (chunks of %d)\n", "frames", in->clip_frames, in->frames_per_chunk);
  printf("%-16s %d\n", "patch", in->patch_size);
  printf("%-16s %d in, %d out\n", "channels", in->in_channels,
         in->out_channels);
  printf("%-16s %d\n", "hidden", in->hidden_size);
  printf("%-16s %d\n", "depth", in->depth);
  printf("%-16s %d\n", "heads", in->num_heads);
  printf("%-16s %g\n", "mlp ratio", in->mlp_ratio);
  if (in->num_classes > 0) {
    printf("%-16s %d\n", "classes", in->num_classes);
    printf("%-16s %d\n", "null class", in->null_class);
  } else {
    printf("%-16s none (unconditional)\n", "classes");
  }
  printf("%-16s %s\n", "learn_sigma", in->learn_sigma ? "yes" : "no");
  printf("%-16s %s\n", "prediction", prediction_name(in->prediction));
  printf("%-16s %g\n", "timestep scale", in->timestep_scale);
  printf("%-16s %s\n", "weight dtype", in->weight_dtype);
  printf("%-16s %d\n", "tokens", in->tokens);
  printf("%-16s %lld (%s)\n", "parameters", (long long)in->parameters, params);
}

/* "128x1x4x4" */
static void shape_text(const leap_weight_info *w, char *buf, size_t size) {
  size_t len = 0;
  buf[0] = 0;
  for (int d = 0; d < w->ndim && len < size; d++)
    len += (size_t)snprintf(buf + len, size - len, "%s%lld", d ? "x" : "", (long long)w->shape[d]);
}

/* The architecture's weight list: the model's own tensors, and the first
 * block's for every block (the blocks have the same tensors). */
static leap_status print_weights(const leap_model *m, int depth) {
  int count;
  leap_status s = leap_model_weight_count(m, &count);
  if (s != LEAP_OK) return s;
  printf("weights (the architecture's list, %d tensors):\n", count);
  for (int i = 0; i < count; i++) {
    leap_weight_info w = {.struct_size = sizeof w};
    if ((s = leap_model_weight(m, i, &w)) != LEAP_OK) return s;
    if (w.block > 0) continue;
    char shape[96];
    shape_text(&w, shape, sizeof shape);
    printf("  %-40s %-14s %s%s%s\n", w.name, shape, w.role, w.trainable ? "" : " (fixed)",
           w.block == 0 ? (depth > 1 ? " (each block)" : "") : "");
  }
  return LEAP_OK;
}

/* The tensor count and the metadata the description does not cover. */
static leap_status print_file_extras(const char *path) {
  lp_st_file *f;
  leap_status s = lp_st_open(path, &f);
  if (s != LEAP_OK) return s;
  printf("%-16s %d\n", "tensors", lp_st_count(f));
  int shown = 0;
  for (int i = 0; i < lp_st_meta_count(f); i++) {
    const char *key = lp_st_meta_key(f, i);
    if (is_description_key(key)) continue;
    if (!shown++) printf("metadata:\n");
    printf("  %-14s %s\n", key, lp_st_meta(f, key));
  }
  lp_st_close(f);
  return LEAP_OK;
}

int cli_info_main(int argc, char **argv) {
  const char *path = NULL;
  cli_args a;
  cli_args_init(&a, argc, argv, cli_info_help);
  while (cli_next(&a)) {
    const char *arg;
    if (!path && cli_positional(&a, &arg)) {
      path = arg;
      continue;
    }
    cli_unknown(&a);
  }
  if (a.exit_code >= 0) return a.exit_code;
  if (!path) return cli_usage_error(a.cmd, "missing the MODEL file");

  leap_context_desc d = leap_context_desc_default(LEAP_BACKEND_CPU);
  leap_context *ctx = NULL;
  leap_model *m = NULL;
  leap_model_info info = {.struct_size = sizeof info};
  leap_status s = leap_context_create(&d, &ctx);
  if (s == LEAP_OK) s = leap_model_load(ctx, path, &m);
  if (s == LEAP_OK) s = leap_model_get_info(m, &info);
  if (s == LEAP_OK) {
    print_info(path, &info);
    s = print_weights(m, info.depth);
  }
  if (s == LEAP_OK) s = print_file_extras(path);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  return s == LEAP_OK ? CLI_EXIT_OK : cli_fail(s);
}
