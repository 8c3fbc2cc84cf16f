// test_train.cpp - the DiT trainer: finite-difference gradient checks of
// every op and of the whole model (double build), the trainer's forward
// against the inference runtime, loss going down on a small synthetic task,
// bit-identical resume, and `leap train` writing loadable checkpoints.
#include <catch2/catch.hpp>

#include <png.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
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

// Central differences of loss() with respect to the elements `which` of x,
// against the analytic gradient `grad` (same indexing as x).
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

std::vector<size_t> all(size_t n) {
  std::vector<size_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = i;
  return v;
}

}  // namespace

TEST_CASE("train ops: gradients match finite differences", "[train]") {
  SECTION("linear") {
    const int M = 3, N = 4, K = 5;
    Vec x = randn(M * K, 1), w = randn(N * K, 2), b = randn(N, 3), R = randn(M * N, 4);
    auto loss = [&] {
      Vec y(M * N);
      lp_top_linear_fwd_f64(M, N, K, x.data(), w.data(), b.data(), y.data());
      return dot(y, R);
    };
    Vec dx(M * K), dw(N * K, 0.0), db(N, 0.0);
    lp_top_linear_bwd_f64(M, N, K, x.data(), w.data(), R.data(), dx.data(), dw.data(), db.data());
    fd_check("x", x, dx, loss, all(x.size()));
    fd_check("w", w, dw, loss, all(w.size()));
    fd_check("b", b, db, loss, all(b.size()));
  }
  SECTION("silu and gelu") {
    Vec x = randn(20, 5, 2.0), R = randn(20, 6), dx(20);
    auto ls = [&] { Vec y(20); lp_top_silu_fwd_f64(20, x.data(), y.data()); return dot(y, R); };
    lp_top_silu_bwd_f64(20, x.data(), R.data(), dx.data());
    fd_check("silu", x, dx, ls, all(20));
    auto lg = [&] { Vec y(20); lp_top_gelu_fwd_f64(20, x.data(), y.data()); return dot(y, R); };
    lp_top_gelu_bwd_f64(20, x.data(), R.data(), dx.data());
    fd_check("gelu", x, dx, lg, all(20));
  }
  SECTION("layernorm + modulate") {
    const int B = 2, T = 3, D = 5, ms = 2 * D;  // mod rows: [shift, scale]
    Vec x = randn(B * T * D, 7, 2.0), mod = randn(B * ms, 8, 0.5), R = randn(B * T * D, 9);
    Vec mean(B * T), rstd(B * T);
    auto loss = [&] {
      Vec y(B * T * D);
      lp_top_ln_mod_fwd_f64(B, T, D, x.data(), mod.data(), mod.data() + D, ms, y.data(),
                            mean.data(), rstd.data());
      return dot(y, R);
    };
    loss();
    Vec dx(x.size(), 0.0), dmod(mod.size(), 0.0);
    lp_top_ln_mod_bwd_f64(B, T, D, x.data(), mod.data() + D, ms, mean.data(), rstd.data(),
                          R.data(), dx.data(), dmod.data(), dmod.data() + D);
    fd_check("x", x, dx, loss, all(x.size()));
    fd_check("mod", mod, dmod, loss, all(mod.size()));
  }
  SECTION("gated residual add") {
    const int B = 2, T = 3, D = 4;
    Vec y = randn(B * T * D, 10), gate = randn(B * D, 11), h0 = randn(B * T * D, 12),
        R = randn(B * T * D, 13);
    auto loss = [&] {
      Vec h = h0;
      lp_top_gated_add_fwd_f64(B, T, D, y.data(), gate.data(), D, h.data());
      return dot(h, R);
    };
    Vec dy(y.size()), dg(gate.size(), 0.0);
    lp_top_gated_add_bwd_f64(B, T, D, y.data(), gate.data(), D, R.data(), dy.data(), dg.data());
    fd_check("y", y, dy, loss, all(y.size()));
    fd_check("gate", gate, dg, loss, all(gate.size()));
  }
  SECTION("multi-head attention") {
    const int B = 2, T = 3, D = 4, H = 2;
    Vec qkv = randn(B * T * 3 * D, 14), R = randn(B * T * D, 15);
    auto loss = [&] {
      Vec o(B * T * D);
      REQUIRE(lp_top_attn_fwd_f64(B, T, D, H, qkv.data(), o.data()) == LEAP_OK);
      return dot(o, R);
    };
    Vec dqkv(qkv.size());
    REQUIRE(lp_top_attn_bwd_f64(B, T, D, H, qkv.data(), R.data(), dqkv.data()) == LEAP_OK);
    fd_check("qkv", qkv, dqkv, loss, all(qkv.size()));
  }
  SECTION("unpatchify, class embedding, MSE") {
    const int B = 2, C = 2, Hh = 4, p = 2, rows = B * 4 * C * p * p;
    Vec in = randn(rows, 16), R = randn(rows, 17);
    auto lu = [&] { Vec o(rows); lp_top_unpatchify_fwd_f64(B, C, Hh, p, in.data(), o.data()); return dot(o, R); };
    Vec din(rows);
    lp_top_unpatchify_bwd_f64(B, C, Hh, p, R.data(), din.data());
    fd_check("unpatchify", in, din, lu, all(rows));

    const int32_t labels[3] = {2, 0, 2};
    Vec table = randn(3 * 4, 18), Ry = randn(3 * 4, 19), dtab(12, 0.0);
    auto le = [&] { Vec y(12, 0.0); lp_top_embed_fwd_f64(3, 4, table.data(), labels, y.data()); return dot(y, Ry); };
    lp_top_embed_bwd_f64(3, 4, labels, Ry.data(), dtab.data());
    fd_check("table", table, dtab, le, all(12));

    Vec out = randn(10, 20), target = randn(10, 21), dout(10);
    auto lm = [&] { return lp_top_mse_f64(10, out.data(), target.data(), nullptr); };
    lp_top_mse_f64(10, out.data(), target.data(), dout.data());
    fd_check("mse", out, dout, lm, all(10));
  }
}

namespace {

lp_dit_arch tiny_arch(int channels = 2) {
  lp_dit_arch a;
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

// DiT's init, then noise on every trainable tensor so the zero-initialised
// adaLN and final layer carry gradient through every path.
std::vector<float> perturbed_params(const lp_tlayout &L, uint64_t seed) {
  std::vector<float> p(L.total);
  lp_tdit_init(&L, seed, p.data());
  Vec n = randn(L.total, (uint32_t)seed + 100, 0.2);
  for (int i = 0; i < L.count; i++)
    if (L.p[i].trainable)
      for (size_t k = 0; k < L.p[i].numel; k++) p[L.p[i].off + k] += (float)n[L.p[i].off + k];
  return p;
}

}  // namespace

TEST_CASE("train DiT: whole-model gradient matches finite differences", "[train]") {
  lp_dit_arch a = tiny_arch();
  lp_tlayout L;
  REQUIRE(lp_tlayout_init(&L, &a) == LEAP_OK);
  std::vector<float> pf = perturbed_params(L, 3);
  Vec P(pf.begin(), pf.end());
  const int B = 3;
  const size_t img = (size_t)a.in_channels * a.input_size * a.input_size;
  Vec x = randn(B * img, 30), target = randn(B * img, 31);
  const Vec t = {12.5, 500.0, 987.0};
  const int32_t y[B] = {0, 2, 3};  // 3 = the null class
  lp_tws_f64 *ws = nullptr;
  REQUIRE(lp_tws_create_f64(&L, B, &ws) == LEAP_OK);
  Vec out(B * img), dout(B * img);
  auto loss = [&] {
    REQUIRE(lp_tdit_forward_f64(ws, P.data(), B, x.data(), t.data(), y, out.data()) == LEAP_OK);
    return lp_top_mse_f64(out.size(), out.data(), target.data(), nullptr);
  };
  loss();
  lp_top_mse_f64(out.size(), out.data(), target.data(), dout.data());
  Vec G(L.total, 0.0);
  REQUIRE(lp_tdit_backward_f64(ws, P.data(), dout.data(), G.data()) == LEAP_OK);
  // Up to 8 elements of every tensor (first, last, and spread between).
  for (int i = 0; i < L.count; i++) {
    const lp_tparam &tp = L.p[i];
    std::vector<size_t> which;
    const size_t n = tp.numel, k = n < 8 ? n : 8;
    for (size_t j = 0; j < k; j++) which.push_back(tp.off + (k > 1 ? j * (n - 1) / (k - 1) : 0));
    if (!tp.trainable) {
      for (size_t w : which) REQUIRE(G[w] == 0.0);  // pos_embed is fixed
      continue;
    }
    double mag = 0;
    for (size_t j = 0; j < n; j++) mag += std::fabs(G[tp.off + j]);
    INFO(tp.name);
    CHECK(mag > 0);  // every path carries gradient with the perturbed params
    fd_check(tp.name, P, G, loss, which);
  }
  lp_tws_free_f64(ws);
  lp_tlayout_free(&L);
}

TEST_CASE("train layout: names, shapes and init follow DiT", "[train]") {
  lp_dit_arch a = tiny_arch(1);
  lp_tlayout L;
  REQUIRE(lp_tlayout_init(&L, &a) == LEAP_OK);
  const lp_tparam *q = lp_tlayout_find(&L, "blocks.1.attn.qkv.weight");
  REQUIRE(q);
  CHECK(q->shape[0] == 48);
  CHECK(q->shape[1] == 16);
  std::vector<float> p(L.total);
  lp_tdit_init(&L, 7, p.data());
  auto all_zero = [&](const char *name) {
    const lp_tparam *t = lp_tlayout_find(&L, name);
    REQUIRE(t);
    for (size_t k = 0; k < t->numel; k++)
      if (p[t->off + k] != 0.0f) return false;
    return true;
  };
  CHECK(all_zero("blocks.0.adaLN_modulation.1.weight"));
  CHECK(all_zero("final_layer.linear.weight"));
  CHECK(all_zero("final_layer.adaLN_modulation.1.weight"));
  CHECK_FALSE(all_zero("blocks.0.attn.qkv.weight"));
  // xavier-uniform bound sqrt(6 / (fan_in + fan_out)) for qkv [48, 16]
  const float bound = std::sqrt(6.0f / 64.0f);
  float mx = 0;
  for (size_t k = 0; k < q->numel; k++) mx = std::max(mx, std::fabs(p[q->off + k]));
  CHECK(mx <= bound);
  CHECK(mx > 0.8f * bound);
  // pos_embed (DiT's meshgrid order): token 1 is row 0, column 1; the first
  // half of its row embeds the column (sin(1 * 10000^0) first), the second
  // half the row (sin(0) = 0, then cos(0) = 1 after D/4 sines).
  const lp_tparam *pos = lp_tlayout_find(&L, "pos_embed");
  CHECK(p[pos->off + 16 + 0] == Approx(std::sin(1.0)));
  CHECK(p[pos->off + 16 + 8] == 0.0f);
  CHECK(p[pos->off + 16 + 12] == 1.0f);
  lp_tlayout_free(&L);
}

namespace {

// A small labelled data set: class k is a fixed 8x8 pattern (a bar or a
// diagonal) with a little per-image noise, pixels in [-1, 1].
struct Synthetic {
  std::vector<float> images;
  std::vector<int32_t> labels;
  lp_dataset d;
  explicit Synthetic(int n, int size = 8) {
    std::mt19937 g(5);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    images.resize((size_t)n * size * size);
    labels.resize(n);
    for (int i = 0; i < n; i++) {
      const int k = i % 3;
      labels[i] = k;
      for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
          const bool on = k == 0 ? (y == 3 || y == 4) : k == 1 ? (x == 3 || x == 4) : (x == y);
          images[((size_t)i * size + y) * size + x] = (on ? 0.9f : -0.9f) + noise(g);
        }
    }
    d = lp_dataset{n, 1, size, size, 3, images.data(), labels.data()};
  }
};

lp_train_cfg tiny_cfg(lp_objective obj, int batch) {
  lp_train_cfg c = lp_train_cfg_default();
  c.arch = tiny_arch(1);
  c.objective = obj;
  c.batch = batch;
  c.lr = 3e-3;
  c.warmup = 10;
  c.weight_decay = 0.01;
  c.ema = 0.99;
  c.label_dropout = 0.3;
  c.seed = 11;
  return c;
}

std::string temp_path(const char *name) {
  return std::string("/tmp/leap_train_test_") + std::to_string(getpid()) + "_" + name;
}

}  // namespace

TEST_CASE("train forward equals the inference runtime on a saved checkpoint", "[train]") {
  lp_train_cfg c = tiny_cfg(LP_OBJ_FLOW_V, 3);
  c.arch = tiny_arch(2);  // two channels: patch and pixel orders both show
  lp_trainer *t = nullptr;
  REQUIRE(lp_trainer_create(&c, &t) == LEAP_OK);
  std::vector<float> p = perturbed_params(t->L, 21);
  std::memcpy(t->params, p.data(), p.size() * sizeof(float));
  const int n = 3;
  const size_t img = 2 * 8 * 8;
  std::vector<float> x = lt::random_f32(n * img, 40), tin = {3.0f, 420.0f, 999.0f}, ours(n * img),
                     theirs(n * img);
  const int32_t y[n] = {1, 3, 0};
  REQUIRE(lp_tdit_forward_f32(t->ws, t->params, n, x.data(), tin.data(), y, ours.data()) == LEAP_OK);

  leap_context *ctx = lt::context(LEAP_BACKEND_CPU);
  for (leap_dtype dt : {LEAP_F32, LEAP_F16}) {
    const std::string path = temp_path(dt == LEAP_F32 ? "fwd32.safetensors" : "fwd16.safetensors");
    REQUIRE(lp_trainer_save_model(t, path.c_str(), 0, dt) == LEAP_OK);
    leap_model *m = nullptr;
    INFO(leap_last_error());
    REQUIRE(leap_model_load(ctx, path.c_str(), &m) == LEAP_OK);
    leap_model_info info{};
    info.struct_size = sizeof info;
    REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
    CHECK(info.prediction == LEAP_PRED_FLOW_V);
    CHECK(info.timestep_scale == 1000.0);
    CHECK(info.null_class == 3);
    CHECK(info.num_classes == 3);
    CHECK(info.num_heads == 2);
    CHECK(info.parameters == (int64_t)t->L.total);
    REQUIRE(leap_model_forward(m, n, x.data(), tin.data(), y, theirs.data()) == LEAP_OK);
    // F16 weights: the runtime computes with rounded weights, ours are exact.
    CHECK(lt::rel_l2(ours, theirs) < (dt == LEAP_F32 ? 1e-5 : 5e-3));
    CHECK(lt::meta(path, "learn_sigma") == "False");
    CHECK(lt::meta(path, "train.objective") == "flow_v");
    leap_model_destroy(m);
    unlink(path.c_str());
  }
  lt::finish(ctx);
  lp_trainer_destroy(t);
}

namespace {

// The MSE of the model on a fixed batch (fixed images, t and noise).
double eval_loss(lp_trainer *t, const lp_dataset &d) {
  const int B = t->cfg.batch;
  const size_t img = 64;
  std::vector<float> xt(B * img), target(B * img), out(B * img), tin(B);
  std::vector<int32_t> y(B);
  std::vector<float> eps = lt::random_f32(B * img, 77, -1.7f, 1.7f);
  for (int b = 0; b < B; b++) {
    const double tt = (b + 0.5) / B;
    tin[b] = (float)(tt * 1000);
    y[b] = d.labels[b];
    for (size_t k = 0; k < img; k++) {
      const float x0 = d.images[b * img + k];
      xt[b * img + k] = (float)((1 - tt) * x0 + tt * eps[b * img + k]);
      target[b * img + k] = eps[b * img + k] - x0;
    }
  }
  REQUIRE(lp_tdit_forward_f32(t->ws, t->params, B, xt.data(), tin.data(), y.data(), out.data()) ==
          LEAP_OK);
  return lp_top_mse_f32(out.size(), out.data(), target.data(), nullptr);
}

}  // namespace

TEST_CASE("train: a few hundred steps lower the loss on a synthetic task", "[train]") {
  Synthetic s(48);
  lp_train_cfg c = tiny_cfg(LP_OBJ_FLOW_V, 16);
  lp_trainer *t = nullptr;
  REQUIRE(lp_trainer_create(&c, &t) == LEAP_OK);
  const double before = eval_loss(t, s.d);
  double first = 0, last = 0;
  const int steps = 300, window = 30;
  for (int i = 0; i < steps; i++) {
    INFO(leap_last_error());
    REQUIRE(lp_trainer_step(t, &s.d) == LEAP_OK);
    if (i < window) first += t->loss / window;
    if (i >= steps - window) last += t->loss / window;
  }
  const double after = eval_loss(t, s.d);
  INFO("fixed-batch loss " << before << " -> " << after << "; training loss " << first << " -> "
                           << last);
  // The zero-initialised output predicts v = 0 (loss E|eps - x0|^2 ~ 1.8);
  // learning the three class patterns must take most of it away (seen:
  // 1.71 -> 0.24 on the fixed batch, 1.61 -> 0.26 in training).
  CHECK(after < 0.35 * before);
  CHECK(last < 0.5 * first);
  CHECK(t->step == steps);
  lp_trainer_destroy(t);
}

TEST_CASE("train: the EMA of a short run is a trained model (decay warm-up)", "[train]") {
  // decay_t = min(decay, (1 + t) / (10 + t))
  CHECK(lp_train_ema_decay(0.9999, 1) == Approx(2.0 / 11.0));
  CHECK(lp_train_ema_decay(0.9999, 90) == Approx(91.0 / 100.0));
  CHECK(lp_train_ema_decay(0.99, 100000) == 0.99);
  Synthetic s(48);
  lp_train_cfg c = tiny_cfg(LP_OBJ_FLOW_V, 16);
  c.ema = 0.9999;  // the production default, on a run far shorter than 1/(1-decay)
  lp_trainer *t = nullptr;
  REQUIRE(lp_trainer_create(&c, &t) == LEAP_OK);
  const double before = eval_loss(t, s.d);
  for (int i = 0; i < 300; i++) REQUIRE(lp_trainer_step(t, &s.d) == LEAP_OK);
  const double raw = eval_loss(t, s.d);
  std::vector<float> params(t->params, t->params + t->L.total);
  std::memcpy(t->params, t->ema, t->L.total * sizeof(float));
  const double ema = eval_loss(t, s.d);
  std::memcpy(t->params, params.data(), params.size() * sizeof(float));
  INFO("fixed-batch loss: initial " << before << ", raw " << raw << ", EMA " << ema);
  // Without the warm-up the EMA would still be 97% the initial weights
  // (0.9999^300) and score about the initial loss.
  CHECK(ema < 0.5 * before);
  lp_trainer_destroy(t);
}

TEST_CASE("train: save state, resume, continue is bit-identical", "[train]") {
  Synthetic s(20);
  for (lp_objective obj : {LP_OBJ_EPS, LP_OBJ_FLOW_V}) {
    lp_train_cfg c = tiny_cfg(obj, 4);  // 20 images / 4: epochs roll over
    lp_trainer *a = nullptr, *b = nullptr, *r = nullptr;
    REQUIRE(lp_trainer_create(&c, &a) == LEAP_OK);
    REQUIRE(lp_trainer_create(&c, &b) == LEAP_OK);
    for (int i = 0; i < 12; i++) REQUIRE(lp_trainer_step(a, &s.d) == LEAP_OK);
    for (int i = 0; i < 7; i++) REQUIRE(lp_trainer_step(b, &s.d) == LEAP_OK);
    const std::string path = temp_path("state.safetensors");
    REQUIRE(lp_trainer_save_state(b, path.c_str()) == LEAP_OK);
    lp_trainer_destroy(b);
    INFO(leap_last_error());
    REQUIRE(lp_trainer_resume(path.c_str(), &r) == LEAP_OK);
    unlink(path.c_str());
    CHECK(r->step == 7);
    CHECK(r->cfg.lr == c.lr);
    CHECK(r->cfg.seed == c.seed);
    CHECK(r->cfg.objective == obj);
    for (int i = 0; i < 5; i++) REQUIRE(lp_trainer_step(r, &s.d) == LEAP_OK);
    const size_t bytes = a->L.total * sizeof(float);
    CHECK(std::memcmp(a->params, r->params, bytes) == 0);
    CHECK(std::memcmp(a->adam_m, r->adam_m, bytes) == 0);
    CHECK(std::memcmp(a->adam_v, r->adam_v, bytes) == 0);
    CHECK(std::memcmp(a->ema, r->ema, bytes) == 0);
    CHECK(std::memcmp(a->rng.s, r->rng.s, sizeof a->rng.s) == 0);
    CHECK(a->loss == r->loss);
    // and the run really moved: the weights differ from a fresh init
    lp_trainer *fresh = nullptr;
    REQUIRE(lp_trainer_create(&c, &fresh) == LEAP_OK);
    CHECK(std::memcmp(a->params, fresh->params, bytes) != 0);
    lp_trainer_destroy(fresh);
    lp_trainer_destroy(a);
    lp_trainer_destroy(r);
  }
}

TEST_CASE("train: parallel and serial loops give the same bits", "[train]") {
  Synthetic s(20);
  lp_train_cfg c = tiny_cfg(LP_OBJ_FLOW_V, 8);
  lp_trainer *ser = nullptr, *par = nullptr;
  REQUIRE(lp_trainer_create(&c, &ser) == LEAP_OK);
  REQUIRE(lp_trainer_create(&c, &par) == LEAP_OK);
  const size_t keep = lp_train_par_min;
  for (int i = 0; i < 3; i++) {
    lp_train_par_min = (size_t)-1;  // every loop on one thread
    REQUIRE(lp_trainer_step(ser, &s.d) == LEAP_OK);
    lp_train_par_min = 0;  // every loop split over the OpenMP threads
    REQUIRE(lp_trainer_step(par, &s.d) == LEAP_OK);
  }
  lp_train_par_min = keep;
  const size_t bytes = ser->L.total * sizeof(float);
  CHECK(std::memcmp(ser->grads, par->grads, bytes) == 0);
  CHECK(std::memcmp(ser->params, par->params, bytes) == 0);
  CHECK(std::memcmp(ser->adam_v, par->adam_v, bytes) == 0);
  CHECK(ser->loss == par->loss);
  lp_trainer_destroy(ser);
  lp_trainer_destroy(par);
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
  const std::string cmd = std::string("'") + LEAP_CLI_PATH + "' " + args + " > '" + log +
                          "' 2>&1 < /dev/null";
  const int st = system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

TEST_CASE("leap train: writes loadable checkpoints and resumes", "[train]") {
  lt::TempDir tmp;
  const std::string dir = tmp.path, data = dir + "/data", log = dir + "/log.txt";
  Synthetic s(12);
  REQUIRE(mkdir(data.c_str(), 0755) == 0);
  const char *cls[3] = {"bars", "columns", "diagonal"};
  for (int k = 0; k < 3; k++) REQUIRE(mkdir((data + "/" + cls[k]).c_str(), 0755) == 0);
  for (int i = 0; i < 12; i++)
    write_png(data + "/" + cls[i % 3] + "/" + std::to_string(i) + ".png", &s.images[i * 64], 8);

  const std::string out = dir + "/run";
  const std::string common = "--data '" + data + "' --hidden 16 --depth 1 --heads 2 --patch 4 "
                             "--batch 4 --save-every 2 --threads 2 --out '" + out + "'";
  int code = run_cli("train " + common + " --steps 3 --quiet", log);
  INFO(lt::meta(out + "_state.safetensors", "step"));
  REQUIRE(code == 0);
  for (const char *f : {"_step000002", "_step000003", "_ema", "_state"})
    CHECK(lt::exists(out + f + ".safetensors"));
  leap_context *ctx = lt::context(LEAP_BACKEND_CPU);
  for (const char *f : {"_step000003", "_ema"}) {
    leap_model *m = nullptr;
    INFO(leap_last_error());
    REQUIRE(leap_model_load(ctx, (out + f + ".safetensors").c_str(), &m) == LEAP_OK);
    leap_model_info info{};
    info.struct_size = sizeof info;
    REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
    CHECK(info.input_size == 8);
    CHECK(info.num_classes == 3);
    CHECK(info.patch_size == 4);
    CHECK(info.prediction == LEAP_PRED_FLOW_V);
    leap_model_destroy(m);
  }
  lt::finish(ctx);
  CHECK(lt::meta(out + "_step000003.safetensors", "step") == "3");
  CHECK(lt::meta(out + "_ema.safetensors", "weights") == "ema");

  // resume to step 5 (f16 checkpoints), then sample from the result
  code = run_cli("train --resume '" + out + "_state.safetensors' --steps 5 --save-every 2 --dtype f16 --quiet --out '" +
                     out + "'", log);
  REQUIRE(code == 0);
  CHECK(lt::meta(out + "_state.safetensors", "step") == "5");
  CHECK(lt::exists(out + "_step000004.safetensors"));
  CHECK(lt::exists(out + "_step000005.safetensors"));
  // The resumed run continued the first one's weights and optimizer: its
  // step 5 equals a straight 5-step run's, up to the F16 rounding of the
  // file (half an F16 step, 2^-11 relative). A resume that started again
  // from fresh weights (or a reset optimizer) is far from it.
  {
    const std::string straight = dir + "/straight";
    REQUIRE(run_cli("train " + common.substr(0, common.find("--out")) + "--out '" + straight + "' --steps 5", log) == 0);
    // Without --quiet: a line per saved checkpoint (every 2 steps and the
    // last), then the summary.
    const std::string said = lt::slurp(log);
    INFO(said);
    for (int step : {2, 4, 5}) {
      char line[64];
      std::snprintf(line, sizeof line, "straight_step%06d.safetensors\n", step);
      CHECK(said.find("step " + std::to_string(step) + "  loss ") != std::string::npos);
      CHECK(said.find(line) != std::string::npos);
    }
    CHECK(said.find("5 steps in ") != std::string::npos);
    lp_st_file *a = nullptr, *b = nullptr;
    REQUIRE(lp_st_open((out + "_step000005.safetensors").c_str(), &a) == LEAP_OK);
    REQUIRE(lp_st_open((straight + "_step000005.safetensors").c_str(), &b) == LEAP_OK);
    REQUIRE(lp_st_count(a) == lp_st_count(b));
    for (int t = 0; t < lp_st_count(a); t++) {
      const lp_st_tensor *ta = lp_st_at(a, t), *tb = lp_st_find(b, ta->name);
      REQUIRE(tb != nullptr);
      REQUIRE(ta->numel == tb->numel);
      std::vector<double> va((size_t)ta->numel), vb((size_t)tb->numel);
      REQUIRE(lp_st_read_f64(a, ta, va.data()) == LEAP_OK);
      REQUIRE(lp_st_read_f64(b, tb, vb.data()) == LEAP_OK);
      for (size_t k = 0; k < va.size(); k++) {
        INFO(ta->name << "[" << k << "]: resumed " << va[k] << ", straight " << vb[k]);
        REQUIRE(std::fabs(va[k] - vb[k]) <= std::ldexp(std::fabs(vb[k]), -11) + 1e-7);
      }
    }
    lp_st_close(a);
    lp_st_close(b);
  }
  // --lr with --resume continues at that rate: at 0, AdamW moves nothing
  // (its step and its decoupled decay both scale with the rate), so step 7
  // holds step 5's weights bit for bit, and the state records the new rate.
  // A resume that kept the state's 1e-4 changes every weight.
  {
    const std::string lr0 = dir + "/lr0";
    REQUIRE(run_cli("train --resume '" + out + "_state.safetensors' --lr 0 --steps 7 --save-every 100 --quiet --out '" +
                        lr0 + "'", log) == 0);
    CHECK(std::stod(lt::meta(lr0 + "_state.safetensors", "train.lr")) == 0.0);
    CHECK(std::stod(lt::meta(out + "_state.safetensors", "train.lr")) > 0.0);
    lp_st_file *a = nullptr, *b = nullptr;
    REQUIRE(lp_st_open((out + "_state.safetensors").c_str(), &a) == LEAP_OK);
    REQUIRE(lp_st_open((lr0 + "_state.safetensors").c_str(), &b) == LEAP_OK);
    int compared = 0;
    for (int t = 0; t < lp_st_count(a); t++) {
      const lp_st_tensor *ta = lp_st_at(a, t);
      const std::string name = ta->name; // the weights: no optimiser, EMA or RNG prefix
      if (!name.rfind("adam_", 0) || !name.rfind("ema.", 0) || !name.rfind("rng.", 0)) continue;
      const lp_st_tensor *tb = lp_st_find(b, ta->name);
      REQUIRE(tb != nullptr);
      std::vector<double> va((size_t)ta->numel), vb((size_t)tb->numel);
      REQUIRE(lp_st_read_f64(a, ta, va.data()) == LEAP_OK);
      REQUIRE(lp_st_read_f64(b, tb, vb.data()) == LEAP_OK);
      CHECK(va == vb);
      compared++;
    }
    CHECK(compared > 0);
    lp_st_close(a);
    lp_st_close(b);
  }
  code = run_cli("sample --model '" + out + "_step000005.safetensors' --backend cpu --steps 2 "
                 "--n 3 --quiet --out '" + dir + "/s.png'", log);
  CHECK(code == 0);
  CHECK(lt::exists(dir + "/s.png"));

  // Ctrl-C: the step in progress finishes, nothing more is written, exit
  // 130, and the last complete checkpoint still loads.
  const std::string cli = LEAP_CLI_PATH;
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    const std::string d = data, o = dir + "/sig";
    execl(cli.c_str(), "leap", "train", "--data", d.c_str(), "--hidden", "16", "--depth", "1",
          "--heads", "2", "--patch", "4", "--batch", "4", "--steps", "1000000", "--save-every", "1",
          "--threads", "1", "--out", o.c_str(), (char *)nullptr);
    _exit(127);
  }
  const std::string sig_state = dir + "/sig_state.safetensors";
  for (int i = 0; i < 400 && !lt::exists(sig_state); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  REQUIRE(lt::exists(sig_state));
  REQUIRE(kill(pid, SIGINT) == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  lp_trainer *resumed = nullptr;
  INFO(leap_last_error());
  REQUIRE(lp_trainer_resume(sig_state.c_str(), &resumed) == LEAP_OK);
  char step_file[64];
  std::snprintf(step_file, sizeof step_file, "/sig_step%06d.safetensors", resumed->step);
  CHECK(lt::exists(dir + step_file));
  lp_trainer_destroy(resumed);
  DIR *dd = opendir(dir.c_str());
  REQUIRE(dd);
  for (dirent *e; (e = readdir(dd));) CHECK(std::strstr(e->d_name, ".tmp") == nullptr);
  closedir(dd);

  // settings that come from the state may not be given with --resume
  CHECK(run_cli("train --resume '" + out + "_state.safetensors' --hidden 32", log) == 2);
  CHECK(run_cli("train --objective nope", log) == 2);
}

TEST_CASE("train pos_embed equals the one in a PyTorch DiT checkpoint", "[train]") {
  const char *rel = "fixtures/fmnist-dit-traj/traj_000500.safetensors";
  if (!lt::shared_present(rel)) {
    lt::skip(std::string("shared fixture ") + rel + " missing");
    return;
  }
  std::vector<int64_t> shape;
  const Vec ref = lt::read_f64(std::string(LEAP_SHARED_DIR) + "/" + rel, "pos_embed", &shape);
  REQUIRE(shape.size() == 3);
  const int T = (int)shape[1], D = (int)shape[2], grid = (int)std::lround(std::sqrt((double)T));
  std::vector<float> ours((size_t)T * D);
  lp_tdit_pos_embed(D, grid, ours.data());
  double worst = 0;
  for (size_t i = 0; i < ours.size(); i++) worst = std::max(worst, std::fabs(ours[i] - ref[i]));
  CHECK(worst < 1e-3);  // the file stores F16 (half an ulp near 1 is 2.4e-4)
}
