/* make_seeds.c - writes the seed corpora under fuzz/corpus/ with leap's own
 * writers (so the seeds are valid inputs the fuzzer mutates from):
 *   make_seeds OUTDIR
 * Each seed is small (a few KB): a tiny DiT and its training state, a tiny
 * classifier, profiles with and without rectification, a search log, an
 * IDX pair (raw and gzip'ed), a PNG and a JPEG, and JSON texts. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image_write.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include "cache_profile.h"
#include "classifier.h"
#include "lcsc_log.h"
#include "train.h"

static const char *out;

static void die(const char *what) {
  fprintf(stderr, "make_seeds: %s: %s\n", what, leap_last_error());
  exit(1);
}

static const char *path_of(const char *sub, const char *name) {
  static char p[4096];
  snprintf(p, sizeof p, "%s/%s", out, sub);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/%s/%s", out, sub, name);
  return p;
}

static void put(const char *sub, const char *name, const void *data, size_t len) {
  FILE *f = fopen(path_of(sub, name), "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) die(name);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) die(path);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc(*len + 1);
  if (!b || fread(b, 1, *len, f) != *len) die(path);
  fclose(f);
  return b;
}

/* A safetensors file's header JSON, as a JSON seed. */
static void header_to_json(const char *st_path, const char *name) {
  size_t len;
  char *b = slurp(st_path, &len);
  size_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | (unsigned char)b[i];
  put("json", name, b + 8, n);
  free(b);
}

static void models(void) {
  lp_train_cfg c = lp_train_cfg_default();
  c.arch = (lp_dit_arch){.input_size = 4, .in_channels = 1, .patch = 2, .hidden = 4, .depth = 1, .heads = 1,
                         .num_classes = 2, .mlp_ratio = 1};
  c.batch = 1, c.steps = 3;
  lp_trainer *t;
  if (lp_trainer_create(&c, &t) != LEAP_OK) die("trainer");
  t->step = 2;
  if (lp_trainer_save_model(t, path_of("safetensors", "dit_f16.safetensors"), 1, LEAP_F16) != LEAP_OK)
    die("model");
  if (lp_trainer_save_model(t, path_of("safetensors", "dit_f32.safetensors"), 0, LEAP_F32) != LEAP_OK)
    die("model");
  if (lp_trainer_save_state(t, path_of("train_state", "state.safetensors")) != LEAP_OK) die("state");
  header_to_json(path_of("safetensors", "dit_f16.safetensors"), "dit_header.json");
  header_to_json(path_of("train_state", "state.safetensors"), "state_header.json");
  /* The trainer's files are safetensors too, and the other way round. */
  size_t len;
  char *b = slurp(path_of("train_state", "state.safetensors"), &len);
  put("safetensors", "state.safetensors", b, len);
  free(b);
  lp_trainer_destroy(t);
  lp_classifier_arch a = {1, 4, 4, 2, 1, 1, 2};
  lp_classifier *cl;
  if (lp_classifier_create(&a, 1, &cl) != LEAP_OK) die("classifier");
  if (lp_classifier_save(cl, path_of("classifier", "cls.safetensors"), NULL, 0) != LEAP_OK) die("classifier");
  lp_classifier_destroy(cl);
}

static void profiles(void) {
  for (int rect = 0; rect < 2; rect++) {
    lp_cache_profile p;
    memset(&p, 0, sizeof p);
    p.steps = 5, p.branches = 2, p.channels = 3, p.calib_images = 2, p.window = 4, p.shift = 1, p.cfg = 3;
    p.solver = LEAP_SOLVER_EULER, p.schedule = LEAP_SCHEDULE_DEFAULT, p.level = LEAP_CACHE_HIDDEN;
    snprintf(p.model_id, sizeof p.model_id, "0123456789abcdef");
    if (lp_cache_profile_alloc(&p, 2) != LEAP_OK) die("profile");
    p.calib_seed = 7, p.calib_labels[0] = 1, p.calib_labels[1] = 3, p.tc_poly[1] = 2.5;
    for (int k = 0; k < 2; k++) {
      lp_cache_setting *s = &p.settings[k];
      snprintf(s->name, sizeof s->name, "computed=%d", 4 - k);
      s->computed = 4 - k, s->lambda = 0.1 * (k + 1), s->reuse[2] = 1, s->phi[2] = 0.9;
      if (k) s->reuse[4] = 1, s->phi_paper[4] = 0.5;
      if (rect) {
        s->rect_shrink = 0.5, s->rect_folds = 2, s->rect_ncand = 2, s->rect_grid[1] = 0.5;
        s->rect_cv_psnr[0] = 40, s->rect_cv_psnr[1] = 40.5, s->rect_cv_se[1] = 0.1;
        for (int q = 0; q < 5 * 2 * 2 * 3; q++) s->coef[q] = 1.0f + 0.01f * (float)(q % 7);
      }
    }
    const char *name = rect ? "rectified.json" : "plain.json";
    if (lp_cache_profile_write(&p, path_of("profile", name)) != LEAP_OK) die("profile");
    lp_cache_profile_free(&p);
    size_t len;
    char *b = slurp(path_of("profile", name), &len);
    put("json", name, b, len);
    free(b);
  }
}

static void lcsc_log(void) {
  leap_lcsc_search_desc d = leap_lcsc_search_desc_default();
  d.count = 3; /* as fuzz_lcsc_log.c expects */
  d.log_path = path_of("lcsc_log", "search.jsonl");
  unlink(d.log_path);
  lp_lcsc_log log;
  if (lp_lcsc_log_open(&log, &d) != LEAP_OK) die("log");
  const double c0[3] = {0.2, 0.3, 0.5}, c1[3] = {-0.1, 0.4, 0.7};
  if (lp_lcsc_log_append(&log, 0, 0, "init", c0, 1.5, 1.5, 0.25) != LEAP_OK ||
      lp_lcsc_log_append(&log, 1, 0, "child", c1, 1.0 / 0.0, 1.5, 0.5) != LEAP_OK)
    die("log");
  lp_lcsc_log_close(&log);
  size_t len;
  char *b = slurp(path_of("lcsc_log", "search.jsonl"), &len);
  put("json", "search.jsonl", b, len);
  free(b);
}

static void idx(void) {
  /* 2 labels and 2 images of 28x28: the raw IDX pair, and the same
   * gzip'ed, each as fuzz_idx.c's input (4-byte label length first). */
  unsigned char lab[8 + 2] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 9};
  unsigned char img[16 + 2 * 784] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28};
  for (int i = 0; i < 2 * 784; i++) img[16 + i] = (unsigned char)(i * 7 % 256);
  unsigned char buf[4 + sizeof lab + sizeof img];
  buf[0] = sizeof lab, buf[1] = buf[2] = buf[3] = 0;
  memcpy(buf + 4, lab, sizeof lab);
  memcpy(buf + 4 + sizeof lab, img, sizeof img);
  put("idx", "pair_raw.bin", buf, sizeof buf);
  unsigned char gl[256], gi[4096];
  size_t nl = 0, ni = 0;
  for (int w = 0; w < 2; w++) {
    const char *tmp = path_of("idx", ".tmp.gz");
    gzFile g = gzopen(tmp, "wb9");
    if (!g) die("gzip");
    gzwrite(g, w ? img : lab, w ? sizeof img : sizeof lab);
    gzclose(g);
    size_t len;
    char *b = slurp(tmp, &len);
    unlink(tmp);
    if (len > (w ? sizeof gi : sizeof gl)) die("gzip size");
    memcpy(w ? gi : gl, b, len);
    *(w ? &ni : &nl) = len;
    free(b);
  }
  unsigned char gz[4 + sizeof gl + sizeof gi];
  gz[0] = (unsigned char)nl, gz[1] = gz[2] = gz[3] = 0;
  memcpy(gz + 4, gl, nl);
  memcpy(gz + 4 + nl, gi, ni);
  put("idx", "pair_gzip.bin", gz, 4 + nl + ni);
}

static void images(void) {
  unsigned char px[4 * 4];
  for (int i = 0; i < 16; i++) px[i] = (unsigned char)(i * 16);
  if (!stbi_write_png(path_of("image_folder", "grey4.png"), 4, 4, 1, px, 4)) die("png");
  if (!stbi_write_jpg(path_of("image_folder", "grey4.jpg"), 4, 4, 1, px, 90)) die("jpg");
  unsigned char rgb[4 * 4 * 3];
  for (int i = 0; i < 48; i++) rgb[i] = (unsigned char)(i * 5);
  if (!stbi_write_png(path_of("image_folder", "rgb4.png"), 4, 4, 3, rgb, 12)) die("png");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_seeds OUTDIR\n");
    return 2;
  }
  out = argv[1];
  mkdir(out, 0755);
  models();
  profiles();
  lcsc_log();
  idx();
  images();
  return 0;
}
