// test_distill.cpp - DisBack's hooks: the target scheduler walks the
// degradation path backwards, every checkpoint once and in order, under
// both switch rules; the distribution-matching gradient on host memory.
#include <cstring>
#include <random>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "dmd_op.h"
}

namespace {

struct Sched {
  leap_disback_schedule *s = nullptr;
  explicit Sched(const leap_disback_schedule_desc &d) {
    REQUIRE(leap_disback_schedule_create(&d, &s) == LEAP_OK);
  }
  ~Sched() { leap_disback_schedule_destroy(s); }
};

// Runs `iters` iterations with a loss from loss_at(iteration, stage) and
// returns the target of every iteration (the one it trained against).
template <class F> std::vector<int> walk(leap_disback_schedule *s, int iters, F loss_at) {
  std::vector<int> targets;
  for (int i = 0; i < iters; i++) {
    targets.push_back(leap_disback_schedule_target(s));
    int switched = -1;
    REQUIRE(leap_disback_schedule_observe(s, loss_at(i, leap_disback_schedule_stage(s)), &switched) ==
            LEAP_OK);
    REQUIRE((switched == 0 || switched == 1));
  }
  return targets;
}

// The distinct targets in the order first seen, and checks each appears in
// one contiguous run (visited once, never returned to).
std::vector<int> visits(const std::vector<int> &targets) {
  std::vector<int> order;
  for (size_t i = 0; i < targets.size(); i++)
    if (i == 0 || targets[i] != targets[i - 1]) order.push_back(targets[i]);
  return order;
}

std::vector<int> backwards(int n) {
  std::vector<int> v;
  for (int k = n - 1; k >= 0; k--) v.push_back(k);
  v.push_back(LEAP_DISBACK_TEACHER);
  return v;
}

}  // namespace

TEST_CASE("disback schedule: interval rule visits every checkpoint once, most degraded first",
          "[distill]") {
  for (int n : {0, 1, 2, 5, 12}) {
    for (int interval : {1, 3, 100}) {
      INFO("n " << n << " interval " << interval);
      leap_disback_schedule_desc d = leap_disback_schedule_desc_default();
      d.n_checkpoints = n, d.interval = interval;
      Sched s(d);
      const int iters = (n + 2) * interval;
      std::vector<int> t = walk(s.s, iters, [](int, int) { return 1.0; });
      CHECK(visits(t) == backwards(n));
      // Each checkpoint is the target for exactly `interval` iterations.
      for (int k = 0; k < n; k++)
        CHECK(std::count(t.begin(), t.end(), k) == interval);
      for (int st = 0; st <= n; st++) CHECK(leap_disback_schedule_stage_start(s.s, st) == (int64_t)st * interval);
      CHECK(leap_disback_schedule_stage(s.s) == n);
    }
  }
}

TEST_CASE("disback schedule: converged rule switches when the fake loss settles, and only then",
          "[distill]") {
  leap_disback_schedule_desc d = leap_disback_schedule_desc_default();
  d.n_checkpoints = 4, d.rule = LEAP_DISBACK_SWITCH_CONVERGED;
  d.window = 10, d.min_iters = 20, d.tolerance = 0.01, d.max_iters = 0;
  Sched s(d);
  // Each stage's loss decays from 1 towards 0.5 by 10% of the gap per
  // iteration: the windows' means differ by more than 1% early on and by
  // less later, so each stage switches once it has settled.
  int64_t stage_begin = 0;
  std::vector<int64_t> lengths;
  int last_stage = 0;
  std::vector<int> t = walk(s.s, 2000, [&](int i, int stage) {
    if (stage != last_stage) {
      lengths.push_back(i - stage_begin);
      stage_begin = i, last_stage = stage;
    }
    return 0.5 + 0.5 * std::pow(0.9, (double)(i - stage_begin));
  });
  CHECK(visits(t) == backwards(4));
  REQUIRE(lengths.size() == 4);
  // Independent computation of when the rule must fire: the first k >= 20
  // with |mean(l[k-10..k)) - mean(l[k-20..k-10))| / mean(l[k-20..k-10)) < 1%.
  auto loss = [](int j) { return 0.5 + 0.5 * std::pow(0.9, (double)j); };
  int expect = -1;
  for (int k = 20; k < 1000 && expect < 0; k++) {
    double a = 0, b = 0;
    for (int j = k - 10; j < k; j++) a += loss(j) / 10;
    for (int j = k - 20; j < k - 10; j++) b += loss(j) / 10;
    if (std::fabs(a - b) / b < 0.01) expect = k;
  }
  REQUIRE(expect > 20);
  for (int64_t len : lengths) CHECK(len == expect);
}

TEST_CASE("disback schedule: a loss that never settles stays on its checkpoint until max_iters",
          "[distill]") {
  leap_disback_schedule_desc d = leap_disback_schedule_desc_default();
  d.n_checkpoints = 2, d.rule = LEAP_DISBACK_SWITCH_CONVERGED;
  d.window = 5, d.min_iters = 10, d.tolerance = 0.01;
  d.max_iters = 0;
  {
    Sched s(d);
    // Falling by 22% a window: never within 1%.
    std::vector<int> t = walk(s.s, 300, [](int i, int) { return std::exp(-0.05 * i); });
    CHECK(visits(t) == std::vector<int>{1});
  }
  d.max_iters = 37;
  Sched s(d);
  std::vector<int> t = walk(s.s, 200, [](int i, int) { return std::exp(-0.05 * i); });
  CHECK(visits(t) == backwards(2));
  CHECK(leap_disback_schedule_stage_start(s.s, 1) == 37);
  CHECK(leap_disback_schedule_stage_start(s.s, 2) == 74);
  // A non-finite loss is refused by the rule that reads it.
  CHECK(leap_disback_schedule_observe(s.s, NAN, nullptr) == LEAP_ERR_NUMERIC);
}

TEST_CASE("disback schedule: restore continues where a run stopped", "[distill]") {
  leap_disback_schedule_desc d = leap_disback_schedule_desc_default();
  d.n_checkpoints = 3, d.interval = 10;
  Sched whole(d);
  std::vector<int> a = walk(whole.s, 60, [](int, int) { return 1.0; });
  Sched first(d);
  std::vector<int> b = walk(first.s, 25, [](int, int) { return 1.0; });
  Sched resumed(d);
  REQUIRE(leap_disback_schedule_restore(resumed.s, leap_disback_schedule_stage(first.s), 25, 5) == LEAP_OK);
  std::vector<int> c = walk(resumed.s, 35, [](int, int) { return 1.0; });
  b.insert(b.end(), c.begin(), c.end());
  CHECK(b == a);
  CHECK(leap_disback_schedule_restore(resumed.s, 4, 10, 0) == LEAP_ERR_INVALID_ARG);
  CHECK(leap_disback_schedule_restore(resumed.s, 1, 10, 11) == LEAP_ERR_INVALID_ARG);
}

TEST_CASE("disback schedule: bad descriptions are refused, an older smaller struct is accepted",
          "[distill]") {
  leap_disback_schedule *s = nullptr;
  leap_disback_schedule_desc d = leap_disback_schedule_desc_default();
  d.interval = 0;
  CHECK(leap_disback_schedule_create(&d, &s) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("interval") != std::string::npos);
  d = leap_disback_schedule_desc_default();
  d.rule = LEAP_DISBACK_SWITCH_CONVERGED, d.window = 50, d.min_iters = 60;
  CHECK(leap_disback_schedule_create(&d, &s) == LEAP_ERR_INVALID_ARG);
  d.min_iters = 100, d.max_iters = 99;
  CHECK(leap_disback_schedule_create(&d, &s) == LEAP_ERR_INVALID_ARG);
  d = leap_disback_schedule_desc_default();
  d.n_checkpoints = -1;
  CHECK(leap_disback_schedule_create(&d, &s) == LEAP_ERR_INVALID_ARG);
  d = leap_disback_schedule_desc_default();
  d.struct_size = 4;
  CHECK(leap_disback_schedule_create(&d, &s) == LEAP_ERR_INVALID_ARG);
  CHECK(s == nullptr);
}

TEST_CASE("dmd gradient: per-sample normalisation on host memory", "[distill]") {
  const int64_t n = 5, per = 3 * 17;
  std::mt19937 rng(7);
  std::normal_distribution<float> N(0.f, 1.f);
  std::vector<float> x(n * per), xt(n * per), xf(n * per), g(n * per);
  for (size_t k = 0; k < x.size(); k++) x[k] = N(rng), xt[k] = N(rng), xf[k] = xt[k] + 0.1f * N(rng);
  // Sample 3's student equals its target: the normaliser falls back to eps.
  for (int64_t k = 0; k < per; k++) x[3 * per + k] = xt[3 * per + k];
  lp_dmd_grad_rows(n, per, x.data(), xt.data(), xf.data(), 1e-3f, g.data());
  for (int64_t i = 0; i < n; i++) {
    double norm = 0;
    for (int64_t k = 0; k < per; k++) norm += std::fabs((double)x[i * per + k] - xt[i * per + k]);
    norm = i == 3 ? 1e-3 : norm / per;
    for (int64_t k = 0; k < per; k++) {
      double want = ((double)xf[i * per + k] - xt[i * per + k]) / norm;
      CHECK(std::fabs(g[i * per + k] - want) <= 1e-6 * std::fabs(want) + 1e-7);
    }
  }
  // Scaling one sample's distance to its target by 4 divides its gradient by 4.
  std::vector<float> x2 = x, g2(n * per);
  for (int64_t k = 0; k < per; k++) x2[per + k] = xt[per + k] + 4.0f * (x[per + k] - xt[per + k]);
  lp_dmd_grad_rows(n, per, x2.data(), xt.data(), xf.data(), 1e-3f, g2.data());
  for (int64_t k = 0; k < per; k++) CHECK(g2[per + k] == Approx(g[per + k] / 4).epsilon(1e-5));
  for (int64_t k = 0; k < per; k++) CHECK(g2[k] == g[k]);
}

// ---- the distillation loop on a tiny teacher ------------------------------

#include "distill_fixture.hpp"
#include <fstream>
#include <sys/wait.h>

TEST_CASE("distill: DisBack targets the path backwards, then the teacher, DMD the teacher only",
          "[distill]") {
  lt::TempDir tmp;
  const std::string teacher = tiny_teacher(tmp.path);
  for (lp_distill_method m : {LP_DISTILL_DISBACK, LP_DISTILL_DMD}) {
    lp_distill_cfg c = tiny_distill_cfg(m);
    lp_distill *d = nullptr;
    REQUIRE(lp_distill_create(teacher.c_str(), &c, &d) == LEAP_OK);
    if (m == LP_DISTILL_DISBACK) {
      CHECK(lp_distill_step(d, nullptr) == LEAP_ERR_INVALID_ARG);  // path first
      REQUIRE(lp_distill_record_path(d, tmp.path.c_str(), nullptr, nullptr) == LEAP_OK);
      // The manifest names each checkpoint, and each differs from the teacher.
      const std::string manifest = lt::slurp(tmp.path + "/path.json");
      for (int k = 0; k < 3; k++) {
        const std::string f = tmp.path + "/path_0" + std::to_string(k) + ".safetensors";
        CHECK(manifest.find("path_0" + std::to_string(k)) != std::string::npos);
        CHECK(lt::rel_l2(lt::read_f64(f, "final_layer.linear.weight"),
                         lt::read_f64(teacher, "final_layer.linear.weight")) > 1e-4);
      }
      CHECK(lp_distill_record_path(d, nullptr, nullptr, nullptr) == LEAP_ERR_INVALID_ARG);
    }
    std::vector<int> targets;
    const lp_trainer *st = lp_distill_student(d);
    std::vector<float> before(st->params, st->params + st->L.total);
    for (int i = 0; i < c.iters; i++) {
      lp_distill_stats s{};
      REQUIRE(lp_distill_step(d, &s) == LEAP_OK);
      CHECK(s.iter == i + 1);
      CHECK(std::isfinite(s.fake_loss));
      CHECK(s.dm_loss > 0);
      targets.push_back(s.target);
    }
    std::vector<int> want = m == LP_DISTILL_DMD ? std::vector<int>(9, LEAP_DISBACK_TEACHER)
                                                : std::vector<int>{2, 2, 1, 1, 0, 0, -1, -1, -1};
    CHECK(targets == want);
    // The student moved.
    std::vector<float> after(st->params, st->params + st->L.total);
    CHECK(lt::rel_l2(after, before) > 1e-5);
    lp_distill_destroy(d);
  }
}

TEST_CASE("distill: the one-step student samples as leap sample --steps 1 does", "[distill]") {
  lt::TempDir tmp;
  const std::string teacher = tiny_teacher(tmp.path);
  lp_distill_cfg c = tiny_distill_cfg(LP_DISTILL_DMD);
  c.iters = 2;
  lp_distill *d = nullptr;
  REQUIRE(lp_distill_create(teacher.c_str(), &c, &d) == LEAP_OK);
  for (int i = 0; i < 2; i++) REQUIRE(lp_distill_step(d, nullptr) == LEAP_OK);
  const std::string student = tmp.path + "/student.safetensors";
  REQUIRE(lp_distill_save_student(d, student.c_str(), LEAP_F32) == LEAP_OK);
  const int n = 5;
  const int32_t labels[n] = {0, 1, 2, 0, 1};
  std::vector<float> ours((size_t)n * 64), theirs((size_t)n * 64);
  REQUIRE(lp_distill_generate(d, 42, n, labels, ours.data()) == LEAP_OK);
  lp_distill_destroy(d);

  leap_context_desc cd = leap_context_desc_default(LEAP_BACKEND_CPU);
  leap_context *ctx = nullptr;
  REQUIRE(leap_context_create(&cd, &ctx) == LEAP_OK);
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, student.c_str(), &m) == LEAP_OK);
  leap_sample_desc sd = leap_sample_desc_default();
  sd.n = n, sd.labels = labels, sd.steps = 1, sd.cfg = 1.0, sd.seed = 42;
  REQUIRE(leap_sample(m, &sd, theirs.data()) == LEAP_OK);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  CHECK(lt::rel_l2(theirs, ours) < 1e-5);
}

TEST_CASE("leap distill: end to end from the CLI", "[distill][cli]") {
  lt::TempDir tmp;
  const std::string teacher = tiny_teacher(tmp.path), out = tmp.path + "/run";
  const std::string cmd = std::string("'") + LEAP_CLI_PATH + "' distill --teacher '" + teacher +
                          "' --out '" + out +
                          "' --batch 4 --iters 5 --fake-updates 1 --path-checkpoints 2 "
                          "--path-iters 4 --interval 2 --quiet > '" + tmp.path + "/log.txt' 2>&1";
  int st = system(cmd.c_str());
  REQUIRE(WIFEXITED(st));
  INFO(lt::slurp(tmp.path + "/log.txt"));
  REQUIRE(WEXITSTATUS(st) == 0);
  // The log: a path line, then one line per iteration with its target.
  std::ifstream log(out + "/log.jsonl");
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(log, line)) lines.push_back(line);
  REQUIRE(lines.size() == 7);
  CHECK(lines[0].rfind("{\"distill\": 1", 0) == 0);
  CHECK(lines[1].find("\"event\": \"path\"") != std::string::npos);
  const char *want[5] = {"\"target\": 1", "\"target\": 1", "\"target\": 0", "\"target\": 0",
                         "\"target\": -1"};
  for (int i = 0; i < 5; i++) CHECK(lines[(size_t)i + 2].find(want[i]) != std::string::npos);
  CHECK(lt::meta(out + "/student.safetensors", "arch") == "dit");
  // The log's first line names it (core/output.h recognises it), and the
  // manifest its format.
  CHECK(lines.size() >= 1);
  CHECK(lt::slurp(out + "/path/path.json").rfind("{\"format\": \"leap-disback-path\"", 0) == 0);
  // A run whose output would replace its teacher is refused before any work
  // and leaves the teacher byte-identical (the student's path, spelled
  // through a symlink to it).
  const std::string link = tmp.path + "/run2";
  REQUIRE(mkdir(link.c_str(), 0755) == 0);
  REQUIRE(symlink(teacher.c_str(), (link + "/student.safetensors").c_str()) == 0);
  const std::string before = lt::slurp(teacher);
  const std::string cmd2 = std::string("'") + LEAP_CLI_PATH + "' distill --teacher '" + teacher +
                           "' --out '" + link + "' --method dmd --batch 4 --iters 1 --quiet > '" +
                           tmp.path + "/log2.txt' 2>&1";
  st = system(cmd2.c_str());
  CHECK(WEXITSTATUS(st) == 1);
  CHECK(lt::slurp(teacher) == before);
  CHECK(!lt::exists(link + "/log.jsonl"));
}

TEST_CASE("leap_dmd_gradient: CPU and Vulkan match the host twin on random data", "[distill][vulkan]") {
  // Shapes: DiT-like images, one sample, and more samples than one
  // dispatch's 65535 workgroups (the workgroups' stride over samples).
  struct Shape {
    int64_t n, c, h, w;
  };
  for (Shape sh : {Shape{6, 1, 28, 28}, Shape{1, 3, 5, 7}, Shape{70000, 1, 1, 3}}) {
    const int64_t per = sh.c * sh.h * sh.w, numel = sh.n * per;
    std::vector<float> x = lt::random_f32((size_t)numel, 11, -2, 2), xt = lt::random_f32((size_t)numel, 12),
                       xf = lt::random_f32((size_t)numel, 13), want((size_t)numel);
    for (int64_t k = 0; k < per; k++) x[(size_t)k] = xt[(size_t)k];  // sample 0: normaliser = eps
    lp_dmd_grad_rows(sh.n, per, x.data(), xt.data(), xf.data(), 1e-3f, want.data());
    for (leap_backend_kind kind : {LEAP_BACKEND_CPU, LEAP_BACKEND_VULKAN}) {
      INFO(lt::backend_name(kind) << " n " << sh.n << " per " << per);
      leap_context *ctx = lt::context(kind);
      if (!ctx) continue;
      const int64_t shape[4] = {sh.n, sh.c, sh.h, sh.w};
      leap_tensor *t[4] = {};
      for (auto &p : t) REQUIRE(leap_tensor_create(ctx, LEAP_F32, 4, shape, &p) == LEAP_OK);
      REQUIRE(leap_tensor_write(t[0], x.data(), x.size() * 4) == LEAP_OK);
      REQUIRE(leap_tensor_write(t[1], xt.data(), xt.size() * 4) == LEAP_OK);
      REQUIRE(leap_tensor_write(t[2], xf.data(), xf.size() * 4) == LEAP_OK);
      REQUIRE(leap_dmd_gradient(t[0], t[1], t[2], 1e-3, t[3]) == LEAP_OK);
      std::vector<float> got((size_t)numel);
      REQUIRE(leap_tensor_read(t[3], got.data(), got.size() * 4) == LEAP_OK);
      // F32: the shader sums in float (tree order), the twin in double.
      CHECK(lt::rel_l2(got, want) < 1e-5);
      // In place over x0_fake.
      REQUIRE(leap_dmd_gradient(t[0], t[1], t[2], 1e-3, t[2]) == LEAP_OK);
      REQUIRE(leap_tensor_read(t[2], got.data(), got.size() * 4) == LEAP_OK);
      CHECK(lt::rel_l2(got, want) < 1e-5);
      CHECK(leap_dmd_gradient(t[0], t[1], t[2], 1e-3, t[0]) == LEAP_ERR_INVALID_ARG);
      CHECK(leap_dmd_gradient(t[0], t[1], t[2], 0.0, t[3]) == LEAP_ERR_INVALID_ARG);
      for (auto *p : t) leap_tensor_destroy(p);
      lt::finish(ctx);
    }
  }
}

namespace {
// The number after "KEY": in a JSON text (the first one), or NaN.
double json_number(const std::string &text, const std::string &key) {
  const size_t at = text.find("\"" + key + "\": ");
  return at == std::string::npos ? std::nan("") : std::strtod(text.c_str() + at + key.size() + 4, nullptr);
}
int run_leap(const std::string &args, const std::string &out) {
  const int st = std::system((std::string("'") + LEAP_CLI_PATH + "' " + args + " > '" + out + "' 2>&1").c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
}  // namespace

// --eval-every: the FD the run logs is the FD leap eval gives the saved
// student with the same seed and count (an independent path: leap_sample's
// one Euler step, the eval command's own statistics), at iteration 0 and at
// every K-th; the progress lines name the target of the moment.
TEST_CASE("leap distill --eval-every: the logged FD is leap eval's FD of the student", "[distill][cli]") {
  lt::TempDir tmp;
  const std::string dir = tmp.path, log = dir + "/out.txt", teacher = dir + "/t";
  // A 28x28 teacher (the classifier's size), one training step: only the
  // agreement of the two FD computations matters here.
  REQUIRE(run_leap("train --data fashion-mnist --hidden 8 --depth 1 --heads 2 --patch 7 --steps 1 --batch 2 "
                   "--quiet --out '" + teacher + "'", log) == 0);
  const std::string run = dir + "/run";
  const int code = run_leap("distill --teacher '" + teacher + "_ema.safetensors' --method disback --iters 4 "
                            "--batch 2 --fake-updates 1 --path-checkpoints 2 --path-iters 2 --interval 1 "
                            "--eval-every 2 --eval-n 16 --eval-seed 77 --out '" + run + "'", log);
  const std::string printed = lt::slurp(log);
  INFO(printed);
  REQUIRE(code == 0);
  CHECK(printed.find("iteration 0: FD ") != std::string::npos);
  CHECK(printed.find("iteration 2: FD ") != std::string::npos);
  CHECK(printed.find("(target: path checkpoint 0)") != std::string::npos);
  CHECK(printed.find("iteration 4: FD ") != std::string::npos);
  CHECK(printed.find("(target: the teacher)") != std::string::npos);
  std::ifstream in(run + "/log.jsonl");
  std::string line;
  std::vector<double> fd;
  while (std::getline(in, line))
    if (line.find("\"fd\": ") != std::string::npos) fd.push_back(json_number(line, "fd"));
  REQUIRE(fd.size() == 3);  // iterations 0, 2 and 4
  for (double v : fd) CHECK((std::isfinite(v) && v > 0));
  REQUIRE(run_leap("eval --model '" + run + "/student.safetensors' --n 16 --steps 1 --cfg 1 --seed 77 --json", log) ==
          0);
  const double eval_fd = json_number(lt::slurp(log).substr(lt::slurp(log).rfind("{\"fd\"")), "fd");
  INFO("log: " << fd[2] << ", leap eval: " << eval_fd);
  CHECK(std::fabs(eval_fd - fd[2]) <= 1e-5 * eval_fd);
  // another evaluation seed is another FD: the seed reaches the samples
  REQUIRE(run_leap("eval --model '" + run + "/student.safetensors' --n 16 --steps 1 --cfg 1 --seed 78 --json", log) ==
          0);
  CHECK(std::fabs(json_number(lt::slurp(log).substr(lt::slurp(log).rfind("{\"fd\"")), "fd") - fd[2]) > 1e-3 * fd[2]);
}
