// test_train_video.cpp - training the video DiT (Diffusion Forcing): the
// block-causal rotary attention's gradient and the whole video model's
// against finite differences (double build), the trainer's forward against
// the runtime (lp_video_dit_forward, CPU and Vulkan) on a checkpoint it saved, and the
// trainer's steps on moving Fashion-MNIST clips: deterministic, resumable,
// loadable.
#include <catch2/catch.hpp>

#include <png.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "arch_video_dit.h"
#include "dataset.h"
#include "train.h"
#include "train_dit.h"
}

namespace {

using Vec = std::vector<double>;

Vec randn(size_t n, uint32_t seed, double std = 1.0) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(0.0, std);
  Vec v(n);
  for (auto &x : v) x = d(g);
  return v;
}

double dot(const Vec &a, const Vec &b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
  return s;
}

// Central differences against the analytic gradient; tolerance 1e-6 absolute
// + 1e-5 relative (double, h = 1e-6), as tests/test_train.cpp.
void fd_check(const char *what, Vec &x, const Vec &grad, const std::function<double()> &loss,
              const std::vector<size_t> &which, double h = 1e-6) {
  for (size_t i : which) {
    const double keep = x[i];
    x[i] = keep + h;
    const double lp = loss();
    x[i] = keep - h;
    const double lm = loss();
    x[i] = keep;
    const double num = (lp - lm) / (2 * h);
    INFO(what << "[" << i << "]: analytic " << grad[i] << ", numeric " << num);
    REQUIRE(std::fabs(grad[i] - num) <= 1e-6 + 1e-5 * std::fabs(num));
  }
}

// The runtime's rotary tables for frames 0..F-1 (plugin/rope_op.c's formula).
void rope_tables(int F, int hd, std::vector<float> &cs, std::vector<float> &sn) {
  const int half = hd / 2;
  cs.resize((size_t)F * half);
  sn.resize((size_t)F * half);
  for (int f = 0; f < F; f++)
    for (int j = 0; j < half; j++) {
      const double ang = f * std::pow(10000.0, -2.0 * j / hd);
      cs[(size_t)f * half + j] = (float)std::cos(ang);
      sn[(size_t)f * half + j] = (float)std::sin(ang);
    }
}

// A tiny video DiT: 8x8 frames, patch 2 (16 tokens a frame), clips of 6
// frames in 3 chunks of 2.
lp_dit_arch tiny_arch(int channels) {
  lp_dit_arch a{};
  a.input_size = 8;
  a.in_channels = channels;
  a.patch = 2;
  a.hidden = 16;
  a.depth = 2;
  a.heads = 2;
  a.num_classes = 3;
  a.mlp_ratio = 2.0;
  return a;
}
const int kClip = 6, kFc = 2, kChunks = 3;

std::vector<float> perturbed_params(const lp_tlayout &L, uint64_t seed) {
  std::vector<float> p(L.total);
  lp_tdit_init(&L, seed, p.data());
  Vec n = randn(L.total, (uint32_t)seed + 100, 0.2);
  for (int i = 0; i < L.count; i++)
    if (L.p[i].trainable)
      for (size_t k = 0; k < L.p[i].numel; k++) p[L.p[i].off + k] += (float)n[L.p[i].off + k];
  return p;
}

std::string temp_path(const char *name) {
  return std::string("/tmp/leap_train_video_test_") + std::to_string(getpid()) + "_" + name;
}

}  // namespace

TEST_CASE("train video ops: block-causal rotary attention matches finite differences", "[train][video]") {
  // 2 clips of 4 frames of 3 tokens, chunks of 2 frames: 12 tokens, 2 chunks.
  const int B = 2, F = 4, P = 3, Fc = 2, T = F * P, Tc = Fc * P, D = 8, H = 2, hd = D / H;
  std::vector<float> cs, sn;
  rope_tables(F, hd, cs, sn);
  Vec qkv = randn((size_t)B * T * 3 * D, 50), R = randn((size_t)B * T * D, 51);
  auto forward = [&](const Vec &in, Vec &o) {
    Vec r = in;
    lp_top_rope_fwd_f64(B * T, T, P, D, H, cs.data(), sn.data(), r.data());
    o.assign((size_t)B * T * D, 0.0);
    REQUIRE(lp_top_battn_fwd_f64(B, T, Tc, D, H, r.data(), o.data()) == LEAP_OK);
  };
  auto loss = [&] {
    Vec o;
    forward(qkv, o);
    return dot(o, R);
  };
  Vec r = qkv, dqkv(qkv.size());
  lp_top_rope_fwd_f64(B * T, T, P, D, H, cs.data(), sn.data(), r.data());
  REQUIRE(lp_top_battn_bwd_f64(B, T, Tc, D, H, r.data(), R.data(), dqkv.data()) == LEAP_OK);
  lp_top_rope_bwd_f64(B * T, T, P, D, H, cs.data(), sn.data(), dqkv.data());
  std::vector<size_t> every(qkv.size());
  for (size_t i = 0; i < every.size(); i++) every[i] = i;
  fd_check("qkv", qkv, dqkv, loss, every);

  SECTION("the mask: a later chunk's keys and values change nothing before it") {
    Vec before, after;
    forward(qkv, before);
    Vec moved = qkv;
    for (int n = Tc; n < T; n++)  // clip 0's second chunk: k and v
      for (int c = D; c < 3 * D; c++) moved[(size_t)n * 3 * D + c] += 1.0;
    forward(moved, after);
    for (int n = 0; n < Tc; n++)
      for (int c = 0; c < D; c++) REQUIRE(after[(size_t)n * D + c] == before[(size_t)n * D + c]);
    double change = 0;
    for (int n = Tc; n < T; n++)
      for (int c = 0; c < D; c++) change += std::fabs(after[(size_t)n * D + c] - before[(size_t)n * D + c]);
    CHECK(change > 1e-3);  // the chunk itself does see them
  }
  SECTION("rotary: q.k depends on frames only through their difference") {
    // The same head vectors on frames 0 and 1 vs 2 and 3 give the same score.
    Vec one((size_t)T * 3 * D, 0.0);
    Vec u = randn(hd, 52), w = randn(hd, 53);
    auto put = [&](int tok, int part, const Vec &x) {
      for (int j = 0; j < hd; j++) one[(size_t)tok * 3 * D + part * D + j] = x[j];
    };
    put(0 * P, 0, u), put(1 * P, 1, w), put(2 * P, 0, u), put(3 * P, 1, w);
    lp_top_rope_fwd_f64(T, T, P, D, H, cs.data(), sn.data(), one.data());
    double s01 = 0, s23 = 0;
    for (int j = 0; j < hd; j++) {
      s01 += one[(size_t)0 * P * 3 * D + j] * one[(size_t)1 * P * 3 * D + D + j];
      s23 += one[(size_t)2 * P * 3 * D + j] * one[(size_t)3 * P * 3 * D + D + j];
    }
    CHECK(s01 == Approx(s23).epsilon(1e-6));  // the tables are rounded to float, as the runtime's
  }
}

TEST_CASE("train video DiT: whole-model gradient matches finite differences", "[train][video]") {
  lp_dit_arch a = tiny_arch(1);
  lp_tlayout L;
  REQUIRE(lp_tlayout_init_video(&L, &a, kClip, kFc) == LEAP_OK);
  REQUIRE(L.K == kChunks);
  std::vector<float> pf = perturbed_params(L, 5);
  Vec P(pf.begin(), pf.end());
  const int B = 2;
  const size_t clip = (size_t)kClip * 8 * 8;
  Vec x = randn(B * clip, 60), target = randn(B * clip, 61);
  const Vec t = {0.0, 480.0, 999.0, 250.0, 250.0, 12.0};  // per chunk: clean, mixed, repeated
  const int32_t y[B] = {1, 3};                            // 3 = the null class
  lp_tws_f64 *ws = nullptr;
  REQUIRE(lp_tws_create_f64(&L, B, &ws) == LEAP_OK);
  Vec out(B * clip), dout(B * clip);
  auto loss = [&] {
    REQUIRE(lp_tdit_forward_f64(ws, P.data(), B, x.data(), t.data(), y, out.data()) == LEAP_OK);
    return lp_top_mse_f64(out.size(), out.data(), target.data(), nullptr);
  };
  loss();
  lp_top_mse_f64(out.size(), out.data(), target.data(), dout.data());
  Vec G(L.total, 0.0);
  REQUIRE(lp_tdit_backward_f64(ws, P.data(), dout.data(), G.data()) == LEAP_OK);
  for (int i = 0; i < L.count; i++) {
    const lp_tparam &tp = L.p[i];
    std::vector<size_t> which;
    const size_t n = tp.numel, k = n < 6 ? n : 6;
    for (size_t j = 0; j < k; j++) which.push_back(tp.off + (k > 1 ? j * (n - 1) / (k - 1) : 0));
    if (!tp.trainable) {
      for (size_t w : which) REQUIRE(G[w] == 0.0);
      continue;
    }
    double mag = 0;
    for (size_t j = 0; j < n; j++) mag += std::fabs(G[tp.off + j]);
    INFO(tp.name);
    CHECK(mag > 0);
    fd_check(tp.name, P, G, loss, which);
  }
  lp_tws_free_f64(ws);
  lp_tlayout_free(&L);
}

TEST_CASE("train video forward equals the runtime's lp_video_dit_forward on a saved checkpoint",
          "[train][video]") {
  lp_train_cfg c = lp_train_cfg_default();
  c.arch = tiny_arch(2);  // two channels: patch and pixel orders both show
  c.clip_frames = kClip;
  c.frames_per_chunk = kFc;
  c.batch = 3;
  lp_trainer *t = nullptr;
  REQUIRE(lp_trainer_create(&c, &t) == LEAP_OK);
  std::vector<float> p = perturbed_params(t->L, 23);
  std::memcpy(t->params, p.data(), p.size() * sizeof(float));
  const int n = 3;
  const size_t clip = (size_t)kClip * 2 * 8 * 8;
  std::vector<float> x = lt::random_f32(n * clip, 41), ours(n * clip), theirs(n * clip);
  // mixed per-chunk timesteps, a clean chunk among them
  const std::vector<float> tk = {0.0f, 730.0f, 999.0f, 55.5f, 55.5f, 400.0f, 999.0f, 0.0f, 3.0f};
  std::vector<float> tf;
  for (int b = 0; b < n; b++)
    for (int f = 0; f < kClip; f++) tf.push_back(tk[b * kChunks + f / kFc]);
  const int32_t y[n] = {2, 3, 0};
  REQUIRE(lp_tdit_forward_f32(t->ws, t->params, n, x.data(), tk.data(), y, ours.data()) == LEAP_OK);

  const std::string path = temp_path("vfwd.safetensors");
  REQUIRE(lp_trainer_save_model(t, path.c_str(), 0, LEAP_F32) == LEAP_OK);
  for (leap_backend_kind kind : {LEAP_BACKEND_CPU, LEAP_BACKEND_VULKAN}) {
    leap_context *ctx = lt::context(kind);
    if (!ctx) continue;
    INFO(lt::backend_name(kind));
    leap_model *m = nullptr;
    INFO(leap_last_error());
    REQUIRE(leap_model_load(ctx, path.c_str(), &m) == LEAP_OK);
    leap_model_info info{};
    info.struct_size = sizeof info;
    REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
    CHECK(std::string(info.arch) == "video_dit");
    CHECK(info.frames_per_chunk == kFc);
    CHECK(info.clip_frames == kClip);
    CHECK(info.height == 8);
    CHECK(info.width == 8);
    CHECK(info.null_class == 3);
    CHECK(info.parameters == (int64_t)t->L.total);
    lp_video_dit *v = lp_model_video_dit(m);
    REQUIRE(v != nullptr);
    REQUIRE(lp_video_dit_forward(v, n, kClip, x.data(), tf.data(), y, theirs.data()) == LEAP_OK);
    const double e = lt::rel_l2(ours, theirs);
    INFO("relative L2 " << e);
    CHECK(e <= 1e-5);
    leap_model_destroy(m);
    lt::finish(ctx);
  }
  unlink(path.c_str());
  lp_trainer_destroy(t);
}

namespace {

// 12 synthetic 28x28 garments of 10 classes (a bar per class): what
// lp_mfmnist_clip_make moves around, without the Fashion-MNIST files.
struct Garments {
  std::vector<float> images;
  std::vector<int32_t> labels;
  lp_dataset d{};
  Garments() {
    const int n = 12, s = 28;
    images.assign((size_t)n * s * s, -1.0f);
    labels.resize(n);
    for (int i = 0; i < n; i++) {
      labels[i] = i % 10;
      for (int y = 4; y < 24; y++)
        for (int x = 2 * (i % 10); x < 2 * (i % 10) + 8; x++) images[((size_t)i * s + y) * s + x] = 0.8f;
    }
    d = lp_dataset{n, 1, s, s, 10, images.data(), labels.data()};
  }
};

lp_train_cfg video_cfg() {
  lp_train_cfg c = lp_train_cfg_default();
  c.arch = lp_dit_arch{32, 1, 8, 16, 1, 2, 10, 2.0};  // 16 tokens a frame
  c.clip_frames = 8;
  c.frames_per_chunk = 2;
  c.batch = 3;
  c.steps = 6;
  c.lr = 1e-3;
  c.ema = 0.9;
  c.seed = 7;
  snprintf(c.data, sizeof c.data, "fashion-mnist");
  return c;
}

}  // namespace

TEST_CASE("train video: steps are deterministic, resume is bit-identical, checkpoints load", "[train][video]") {
  Garments g;
  lp_train_cfg c = video_cfg();
  lp_trainer *a = nullptr, *b = nullptr;
  REQUIRE(lp_trainer_create(&c, &a) == LEAP_OK);
  REQUIRE(lp_trainer_create(&c, &b) == LEAP_OK);
  for (int k = 0; k < 3; k++) {
    REQUIRE(lp_trainer_step(a, &g.d) == LEAP_OK);
    REQUIRE(lp_trainer_step(b, &g.d) == LEAP_OK);
    REQUIRE(std::isfinite(a->loss));
    REQUIRE(a->loss == b->loss);
  }
  // per-chunk timesteps differ within a clip (Diffusion Forcing)
  bool mixed = false;
  for (int i = 0; i < c.batch; i++)
    for (int k = 1; k < a->L.K; k++) mixed |= a->tin[i * a->L.K + k] != a->tin[i * a->L.K];
  CHECK(mixed);

  const std::string prefix = temp_path("run");
  REQUIRE(lp_trainer_save_checkpoint(a, prefix.c_str(), LEAP_F32, nullptr) == LEAP_OK);
  lp_train_paths paths;
  lp_trainer_checkpoint_paths(prefix.c_str(), 3, &paths);
  CHECK(lt::meta(paths.step, "arch") == "video_dit");
  CHECK(lt::meta(paths.state, "clip_frames") == "8");
  lp_trainer *r = nullptr;
  INFO(leap_last_error());
  REQUIRE(lp_trainer_resume(paths.state, &r) == LEAP_OK);
  CHECK(r->L.video == 1);
  CHECK(r->cfg.frames_per_chunk == 2);
  for (int k = 0; k < 3; k++) {
    REQUIRE(lp_trainer_step(a, &g.d) == LEAP_OK);
    REQUIRE(lp_trainer_step(r, &g.d) == LEAP_OK);
    REQUIRE(a->loss == r->loss);
  }
  REQUIRE(std::memcmp(a->params, r->params, a->L.total * sizeof(float)) == 0);

  // the runtime loads the EMA checkpoint; an image-only path refuses it
  leap_context *ctx = lt::context(LEAP_BACKEND_CPU);
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, paths.ema, &m) == LEAP_OK);
  CHECK(lp_model_video_dit(m) != nullptr);
  leap_model_destroy(m);
  lt::finish(ctx);
  lp_dit_arch arch;
  CHECK(lp_train_arch_from_file(paths.ema, &arch, nullptr) == LEAP_ERR_UNSUPPORTED);
  CHECK(std::string(leap_last_error()).find("video_dit") != std::string::npos);
  for (const char *f : {paths.step, paths.ema, paths.state}) unlink(f);
  lp_trainer_destroy(a);
  lp_trainer_destroy(b);
  lp_trainer_destroy(r);
}

TEST_CASE("train video: bad clip geometry is refused with a message", "[train][video]") {
  lp_train_cfg c = video_cfg();
  c.frames_per_chunk = 3;  // 8 frames are not whole chunks of 3
  lp_trainer *t = nullptr;
  CHECK(lp_trainer_create(&c, &t) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("whole chunks") != std::string::npos);
  c = video_cfg();
  c.objective = LP_OBJ_EPS;
  CHECK(lp_trainer_create(&c, &t) == LEAP_ERR_UNSUPPORTED);
  c = video_cfg();
  c.clip_frames = 32;  // longer than a training clip
  c.frames_per_chunk = 4;
  REQUIRE(lp_trainer_create(&c, &t) == LEAP_OK);
  Garments g;
  CHECK(lp_trainer_step(t, &g.d) == LEAP_ERR_INVALID_ARG);
  lp_trainer_destroy(t);
}

namespace {

void write_png(const std::string &path, const float *px, int size) {
  std::vector<unsigned char> g(size * size);
  for (int i = 0; i < size * size; i++)
    g[i] = (unsigned char)std::lround((std::min(1.0f, std::max(-1.0f, px[i])) + 1) * 127.5f);
  png_image im;
  std::memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  im.width = im.height = size;
  im.format = PNG_FORMAT_GRAY;
  REQUIRE(png_image_write_to_file(&im, path.c_str(), 0, g.data(), 0, nullptr) != 0);
}

int run_cli(const std::string &args, const std::string &log) {
  const std::string cmd = std::string("'") + LEAP_CLI_PATH + "' " + args + " > '" + log + "' 2>&1 < /dev/null";
  const int st = system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

TEST_CASE("leap train --arch video_dit: video checkpoints, resume, leap info, usage errors", "[train][video]") {
  lt::TempDir tmp;
  const std::string dir = tmp.path, data = dir + "/garments", log = dir + "/log.txt";
  Garments g;  // 3 classes of its bars, as a folder of 28x28 PNGs
  REQUIRE(mkdir(data.c_str(), 0755) == 0);
  for (int k = 0; k < 3; k++) REQUIRE(mkdir((data + "/c" + std::to_string(k)).c_str(), 0755) == 0);
  for (int i = 0; i < 6; i++)
    write_png(data + "/c" + std::to_string(i % 3) + "/" + std::to_string(i) + ".png", &g.images[(size_t)i * 784], 28);
  const std::string out = dir + "/vrun";
  const std::string common = "--arch video_dit --data '" + data + "' --hidden 16 --depth 1 --heads 2 --patch 8 "
                             "--clip-frames 8 --frames-per-chunk 4 --batch 2 --save-every 2 --threads 2 --out '" +
                             out + "'";
  int code = run_cli("train " + common + " --steps 2 --quiet", log);
  INFO(lt::slurp(log));
  REQUIRE(code == 0);
  CHECK(lt::meta(out + "_ema.safetensors", "arch") == "video_dit");
  CHECK(lt::meta(out + "_ema.safetensors", "clip_frames") == "8");
  CHECK(lt::meta(out + "_ema.safetensors", "frames_per_chunk") == "4");
  CHECK(lt::meta(out + "_ema.safetensors", "garment_size") == "16");
  CHECK(lt::meta(out + "_ema.safetensors", "num_classes") == "3");
  code = run_cli("train --resume '" + out + "_state.safetensors' --steps 3 --quiet --out '" + out + "'", log);
  REQUIRE(code == 0);
  CHECK(lt::meta(out + "_state.safetensors", "step") == "3");
  CHECK(lt::meta(out + "_state.safetensors", "arch") == "video_dit");
  REQUIRE(run_cli("info '" + out + "_step000003.safetensors'", log) == 0);
  CHECK(lt::slurp(log).find("video_dit") != std::string::npos);
  CHECK(run_cli("train --arch video_dit --clip-frames 6 --frames-per-chunk 4 --out '" + out + "'", log) == 2);
  CHECK(lt::slurp(log).find("not whole chunks") != std::string::npos);
  CHECK(run_cli("train --arch cinema --out '" + out + "'", log) == 2);
  CHECK(lt::slurp(log).find("not dit or video_dit") != std::string::npos);
}

// --init: a fine-tune starts from a model file's weights (and EMA) at step 0
// with the command line's optimiser. At --lr 0 AdamW moves nothing, so the
// run's weights are the file's bit for bit: a trainer that ignored --init
// (fresh weights from the seed) or loaded them into the EMA only fails here.
// At a real rate they move away from the file, and the architecture options
// are refused next to --init.
TEST_CASE("leap train --init: a video DiT fine-tune starts from the file's weights", "[train][video]") {
  lt::TempDir tmp;
  const std::string dir = tmp.path, data = dir + "/garments", log = dir + "/log.txt";
  Garments g;
  REQUIRE(mkdir(data.c_str(), 0755) == 0);
  for (int k = 0; k < 3; k++) REQUIRE(mkdir((data + "/c" + std::to_string(k)).c_str(), 0755) == 0);
  for (int i = 0; i < 6; i++)
    write_png(data + "/c" + std::to_string(i % 3) + "/" + std::to_string(i) + ".png", &g.images[(size_t)i * 784], 28);
  const std::string base = dir + "/base", ft = dir + "/ft", ft2 = dir + "/ft2";
  REQUIRE(run_cli("train --arch video_dit --data '" + data + "' --hidden 16 --depth 1 --heads 2 --patch 8 "
                  "--clip-frames 8 --frames-per-chunk 4 --batch 2 --steps 3 --lr 1e-2 --threads 2 --quiet --out '" +
                      base + "'", log) == 0);
  const std::string init = base + "_step000003.safetensors";
  const std::string tail = " --data '" + data + "' --batch 2 --steps 2 --save-every 2 --threads 2 --quiet";
  int code = run_cli("train --init '" + init + "' --lr 0" + tail + " --out '" + ft + "'", log);
  INFO(lt::slurp(log));
  REQUIRE(code == 0);
  CHECK(lt::meta(ft + "_state.safetensors", "step") == "2");
  CHECK(lt::meta(ft + "_ema.safetensors", "clip_frames") == "8");
  CHECK(lt::meta(ft + "_ema.safetensors", "hidden_size") == "16");
  code = run_cli("train --init '" + init + "' --lr 1e-2" + tail + " --out '" + ft2 + "'", log);
  REQUIRE(code == 0);
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(init.c_str(), &f) == LEAP_OK);
  int same = 0, moved = 0;
  for (int i = 0; i < lp_st_count(f); i++) {
    const char *name = lp_st_at(f, i)->name;
    if (!std::strcmp(name, "pos_embed")) continue;  // fixed, never trained
    const std::vector<double> w = lt::read_f64(init, name);
    same += lt::read_f64(ft + "_step000002.safetensors", name) == w;
    // the EMA of unchanged weights: d w + (1 - d) w, equal up to float rounding
    const std::vector<double> e = lt::read_f64(ft + "_ema.safetensors", name);
    bool close = e.size() == w.size();
    for (size_t k = 0; close && k < w.size(); k++) close = std::fabs(e[k] - w[k]) <= 1e-6 * std::fabs(w[k]) + 1e-12;
    same += close;
    moved += lt::read_f64(ft2 + "_step000002.safetensors", name) != w;
  }
  const int trained = lp_st_count(f) - (lp_st_find(f, "pos_embed") ? 1 : 0);
  lp_st_close(f);
  CHECK(same == 2 * trained);
  CHECK(moved > trained / 2);
  // the architecture comes from the file; a resume is not a fine-tune
  CHECK(run_cli("train --init '" + init + "' --hidden 32" + tail + " --out '" + ft + "'", log) == 2);
  CHECK(lt::slurp(log).find("architecture comes from the model file") != std::string::npos);
  CHECK(run_cli("train --init '" + init + "' --resume '" + ft + "_state.safetensors'" + tail + " --out '" + ft +
                    "'", log) == 2);
  // the file started from is an input: no output of the run may name it
  const std::string ema = base + "_ema.safetensors", before = lt::slurp(ema);
  CHECK(run_cli("train --init '" + ema + "'" + tail + " --out '" + base + "'", log) != 0);
  CHECK(lt::slurp(ema) == before);
}
