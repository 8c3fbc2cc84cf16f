/* cli_eval_video.c - `leap eval --video`: the video metrics of
 * models/video_metrics.h (per-frame FD, identity consistency, motion
 * error) on moving-Fashion-MNIST clips from a --samples file, or on real
 * clips (--real N: the floor of each metric), both against real frames of
 * the evaluation split from another seed. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "classifier.h"
#include "cli.h"
#include "cli_args.h"
#include "data_moving_fmnist.h"
#include "dataset.h"
#include "default_model.h"
#include "error.h"
#include "interrupt.h"
#include "safetensors.h"
#include "video_metrics.h"

enum { MAX_CLIPS = 100000, MAX_FRAMES = 4096, SIDE = LP_MFMNIST_CANVAS };

typedef struct video_opts {
  const char *samples, *classifier;
  int real, frames, reference_n, chunk, json, quiet;
  uint64_t seed, reference_seed;
} video_opts;

void cli_eval_video_help(FILE *out) {
  fprintf(out,
      "usage: leap eval --video (--samples PATH | --real N) [OPTIONS]\n"
      "\n"
      "Measures moving-Fashion-MNIST clips ([N,F,1,32,32] in [-1,1]): each\n"
      "frame's garment is cropped (a 16x16 box around the frame's intensity\n"
      "centroid, sub-pixel, resized to 28x28) and classified.\n"
      "  per-frame FD          FD of all frames' crop features against real\n"
      "                        frames cropped the same way (lower is better)\n"
      "  identity consistency  share of frames 1..F-1 whose class is that of\n"
      "                        the clip's first frame (mean over clips)\n"
      "  motion error          RMS distance (pixels) of the frames' centroids\n"
      "                        from the clip's best constant-velocity-with-\n"
      "                        bounce fit (mean over clips; worst clip too)\n"
      "Real clips (--real) give the floor of each.\n"
      "\n"
      "  --samples PATH        tensor `video` [N,F,1,32,32] of this file; its\n"
      "                        `labels` metadata (N comma-separated classes), if\n"
      "                        any, also gives the frames' accuracy\n"
      "  --real N              N real clips of the evaluation split instead\n"
      "  --frames F            frames of each real clip (default 16)\n"
      "  --seed S              seed of the --real clips (default 0)\n"
      "  --chunk K             also per chunk of K frames: FD and identity\n"
      "                        consistency, and their video drift error VDE =\n"
      "                        sum over chunks i >= 2 of (C-i+1)|m_i-m_1|/m_1\n"
      "  --reference-n N       real clips behind the FD reference (default 256)\n"
      "  --reference-seed S    their seed (default 1; must differ from --seed)\n"
      "  --classifier PATH     feature classifier (default as for leap eval)\n"
      "  --json                also print one JSON line with the results\n"
      "  --quiet               only the result lines\n");
}

/* "0,1,2": n classes, each below classes ("none" or absent: NULL). */
static leap_status parse_labels(const char *path, const char *text, int n, int classes, int32_t **out) {
  *out = NULL;
  if (!text || strcmp(text, "none") == 0) return LEAP_OK;
  int32_t *l = lp_malloc((size_t)n * sizeof *l);
  if (!l) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  const char *p = text;
  for (int i = 0; i < n; i++) {
    char *end;
    const long v = strtol(p, &end, 10);
    if (end == p || v < 0 || v >= classes || (*end != ',' && *end != 0) || (*end == 0 && i != n - 1)) {
      free(l);
      return lp_error(LEAP_ERR_FORMAT, "%s: metadata 'labels' is not %d comma-separated classes below %d", path,
                      n, classes);
    }
    l[i] = (int32_t)v;
    p = *end ? end + 1 : end;
  }
  if (*p) {
    free(l);
    return lp_error(LEAP_ERR_FORMAT, "%s: metadata 'labels' has more than %d labels", path, n);
  }
  *out = l;
  return LEAP_OK;
}

/* The clips to score: [n, frames, 1, SIDE, SIDE] and their labels (or NULL). */
typedef struct video_set {
  int n, frames;
  float *x;
  int32_t *labels;
} video_set;

static leap_status read_video(const char *path, int classes, video_set *v) {
  lp_st_file *f;
  leap_status s = lp_st_open(path, &f);
  if (s != LEAP_OK) return s;
  const lp_st_tensor *t;
  s = lp_st_get(f, "video", 0, NULL, &t);
  if (s == LEAP_OK &&
      (t->ndim != 5 || t->shape[0] < 1 || t->shape[0] > MAX_CLIPS || t->shape[1] < 2 ||
       t->shape[1] > MAX_FRAMES || t->shape[2] != 1 || t->shape[3] != SIDE || t->shape[4] != SIDE))
    s = lp_error(LEAP_ERR_FORMAT, "%s: tensor 'video' must be [N,F,1,%d,%d] with 1 <= N <= %d and 2 <= F <= %d",
                 path, SIDE, SIDE, MAX_CLIPS, MAX_FRAMES);
  if (s == LEAP_OK && t->shape[0] * t->shape[1] > 10000000)
    s = lp_error(LEAP_ERR_FORMAT, "%s: more than 10^7 frames", path);
  if (s == LEAP_OK) {
    v->n = (int)t->shape[0];
    v->frames = (int)t->shape[1];
    v->x = lp_malloc((size_t)t->numel * sizeof *v->x);
    s = v->x ? lp_st_read_f32(f, t, v->x) : lp_error(LEAP_ERR_NOMEM, "out of memory");
  }
  for (size_t k = 0; s == LEAP_OK && k < (size_t)t->numel; k++)
    if (!isfinite(v->x[k]))
      s = lp_error(LEAP_ERR_NUMERIC, "%s: clip %zu has a non-finite pixel", path,
                   k / ((size_t)v->frames * SIDE * SIDE));
  if (s == LEAP_OK) s = parse_labels(path, lp_st_meta(f, "labels"), v->n, classes, &v->labels);
  lp_st_close(f);
  return s;
}

static leap_status real_video(const lp_dataset *garments, uint64_t seed, int n, int frames, video_set *v) {
  v->n = n, v->frames = frames;
  v->x = lp_malloc((size_t)n * frames * SIDE * SIDE * sizeof *v->x);
  v->labels = lp_malloc((size_t)n * sizeof *v->labels);
  if (!v->x || !v->labels) return lp_error(LEAP_ERR_NOMEM, "out of memory for %d clips of %d frames", n, frames);
  return lp_video_real_clips(garments, seed, 0, n, frames, v->x, v->labels);
}

static void print_scores(const video_opts *o, const video_set *v, const lp_video_scores *r, const char *cpath) {
  const char *src = o->samples ? o->samples : "real clips";
  printf("per-frame FD %.4f (means %.4f + covariances %.4f)  identity consistency %.4f  "
         "motion error %.3g px (worst clip %.3g)",
         r->fd, r->fd_mean, r->fd_cov, r->identity, r->motion, r->motion_max);
  if (v->labels) printf("  frame accuracy %.4f", r->accuracy);
  printf("  (%d clips of %d frames of %s", v->n, v->frames, src);
  if (!o->samples) printf(" seed %llu", (unsigned long long)o->seed);
  printf(" vs %d real clips, seed %llu)\n", o->reference_n, (unsigned long long)o->reference_seed);
  if (o->json) {
    printf("{\"fd\": %.6f, \"fd_mean\": %.6f, \"fd_cov\": %.6f, \"identity\": %.6f, \"motion\": %.6g, "
           "\"motion_max\": %.6g, \"accuracy\": ",
           r->fd, r->fd_mean, r->fd_cov, r->identity, r->motion, r->motion_max);
    if (v->labels) printf("%.6f", r->accuracy); else printf("null");
    printf(", \"n\": %d, \"frames\": %d", v->n, v->frames);
    if (o->samples) printf(", \"samples\": \"%s\"", o->samples);
    else printf(", \"real\": %d, \"seed\": %llu", o->real, (unsigned long long)o->seed);
    printf(", \"reference_n\": %d, \"reference_seed\": %llu, \"classifier\": \"%s\"}\n", o->reference_n,
           (unsigned long long)o->reference_seed, cpath);
  }
  fflush(stdout);
}

/* --chunk: per-chunk FD and identity consistency, and the VDE of each. */
static leap_status print_chunks(const video_opts *o, const lp_video_frames *fv, const lp_video_frames *fr) {
  const int chunks = fv->frames / o->chunk;
  double *fd = lp_malloc((size_t)chunks * sizeof *fd), *id = lp_malloc((size_t)chunks * sizeof *id);
  double vde_fd = NAN, vde_id = NAN;
  leap_status s = fd && id ? lp_video_chunk_scores(fv, fr, o->chunk, fd, id) : lp_error(LEAP_ERR_NOMEM, "out of memory");
  if (s == LEAP_OK && fd[0] != 0) s = lp_video_vde(fd, chunks, &vde_fd);
  if (s == LEAP_OK && id[0] != 0) s = lp_video_vde(id, chunks, &vde_id);
  if (s == LEAP_OK) {
    for (int k = 0; k < chunks; k++)
      printf("chunk %d (frames %d-%d): FD %.4f  identity consistency %.4f\n", k + 1, k * o->chunk,
             (k + 1) * o->chunk - 1, fd[k], id[k]);
    printf("VDE: FD %.4f  identity consistency %.4f  (%d chunks of %d frames)\n", vde_fd, vde_id, chunks, o->chunk);
    if (o->json) {
      printf("{\"chunk\": %d, \"chunk_fd\": [", o->chunk);
      for (int k = 0; k < chunks; k++) printf("%s%.6f", k ? ", " : "", fd[k]);
      printf("], \"chunk_identity\": [");
      for (int k = 0; k < chunks; k++) printf("%s%.6f", k ? ", " : "", id[k]);
      printf("], \"vde_fd\": %.6f, \"vde_identity\": %.6f}\n", vde_fd, vde_id);
    }
    fflush(stdout);
  }
  free(fd);
  free(id);
  return s;
}

static int evaluate_video(const video_opts *o) {
  cli_interrupt_install();
  char cls_path[4096];
  const char *cpath = o->classifier;
  leap_status s = LEAP_OK;
  if (!cpath && (s = cli_default_classifier(cls_path, sizeof cls_path)) == LEAP_OK) cpath = cls_path;
  lp_classifier *cls = NULL;
  lp_dataset garments = {0};
  video_set v = {0}, ref = {0};
  lp_video_frames fv = {0}, fr = {0};
  lp_video_scores r;
  if (s == LEAP_OK) s = lp_classifier_load(cpath, &cls);
  if (s == LEAP_OK && o->samples) s = read_video(o->samples, cls->arch.num_classes, &v);
  if (s == LEAP_OK) s = lp_dataset_load("fashion-mnist:test", &garments);
  if (s == LEAP_OK && !o->samples) s = real_video(&garments, o->seed, o->real, o->frames, &v);
  if (s == LEAP_OK) s = real_video(&garments, o->reference_seed, o->reference_n, v.frames, &ref);
  if (s == LEAP_OK && cli_interrupted()) s = lp_error(LEAP_ERR_INTERRUPTED, "interrupted");
  if (s == LEAP_OK) s = lp_video_frames_analyse(cls, v.x, v.n, v.frames, SIDE, SIDE, &fv);
  if (s == LEAP_OK) s = lp_video_frames_analyse(cls, ref.x, ref.n, ref.frames, SIDE, SIDE, &fr);
  if (s == LEAP_OK && cli_interrupted()) s = lp_error(LEAP_ERR_INTERRUPTED, "interrupted");
  if (s == LEAP_OK) s = lp_video_score(&fv, v.labels, &fr, SIDE - LP_MFMNIST_GARMENT, &r);
  if (s == LEAP_OK && o->chunk > v.frames)
    s = lp_error(LEAP_ERR_INVALID_ARG, "--chunk %d: the clips have %d frames", o->chunk, v.frames);
  if (s == LEAP_OK) print_scores(o, &v, &r, cpath);
  if (s == LEAP_OK && o->chunk) s = print_chunks(o, &fv, &fr);
  lp_video_frames_free(&fv);
  lp_video_frames_free(&fr);
  free(v.x), free(v.labels), free(ref.x), free(ref.labels);
  lp_dataset_free(&garments);
  lp_classifier_destroy(cls);
  return cli_exit_for(s);
}

int cli_eval_video_main(int argc, char **argv) {
  video_opts o = {.frames = 16, .reference_n = 256, .reference_seed = 1};
  int video = 0;
  cli_args a;
  cli_args_init(&a, argc, argv, cli_eval_video_help);
  while (cli_next(&a)) {
    if (cli_opt_flag(&a, "--video", &video)) continue;
    if (cli_opt_str(&a, "--samples", &o.samples)) continue;
    if (cli_opt_int(&a, "--real", 1, MAX_CLIPS, &o.real)) continue;
    if (cli_opt_int(&a, "--frames", 2, MAX_FRAMES, &o.frames)) continue;
    if (cli_opt_u64(&a, "--seed", &o.seed)) continue;
    if (cli_opt_int(&a, "--reference-n", 1, MAX_CLIPS, &o.reference_n)) continue;
    if (cli_opt_int(&a, "--chunk", 1, MAX_FRAMES, &o.chunk)) continue;
    if (cli_opt_u64(&a, "--reference-seed", &o.reference_seed)) continue;
    if (cli_opt_str(&a, "--classifier", &o.classifier)) continue;
    if (cli_opt_flag(&a, "--json", &o.json)) continue;
    if (cli_opt_flag(&a, "--quiet", &o.quiet)) continue;
    cli_unknown(&a);
  }
  if (a.exit_code >= 0) return a.exit_code;
  if (!o.samples == !o.real) return cli_usage_error(a.cmd, "--video: give exactly one of --samples and --real");
  if (!o.samples && o.seed == o.reference_seed)
    return cli_usage_error(a.cmd, "--seed and --reference-seed are both %llu: real clips must not be their own "
                           "reference", (unsigned long long)o.seed);
  if ((int64_t)(o.real ? o.real : 1) * o.frames > 10000000 || (int64_t)o.reference_n * o.frames > 10000000)
    return cli_usage_error(a.cmd, "--video: more than 10^7 frames");
  return evaluate_video(&o);
}
