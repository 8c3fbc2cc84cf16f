// test_fault.cpp - fault injection (issue 16): every writer, given a disk
// that fills at each of its writes in turn (LEAP_FAIL_WRITE / lp_write_fail_at:
// a short write, then ENOSPC), returns a clear error and leaves neither its
// output nor a temporary behind; a device allocation that fails
// (lp_vk_alloc_fail_at) is LEAP_ERR_NOMEM and the context stays usable.
// The allocation-failure sweep over the CLI is tests/fault/alloc_sweep.sh.
#include <catch2/catch.hpp>

#include "test_util.hpp"

#include <stdlib.h>
#include <sys/wait.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "leap.h"
#include "safetensors.h"

extern "C" {
#include "classifier.h"
#include "file_write.h"
#include "vk_backend.h"
}

namespace {

using lt::TempDir;

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";
const std::string kTinyF16 = LEAP_TEST_DATA "/dit_tiny_f16.safetensors";
const char *kNoSpace = "No space left on device";

// Names in dir other than the ones listed in keep.
std::vector<std::string> others_in(const TempDir &dir, const std::vector<std::string> &keep) {
  std::vector<std::string> out;
  for (const auto &n : dir.list()) {
    bool kept = false;
    for (const auto &k : keep) kept = kept || n == k;
    if (!kept) out.push_back(n);
  }
  return out;
}

// Runs write_once with the disk filling at write k = 1, 2, ... until a run
// succeeds (every write point tried, up to cap). write_once returns the
// status and its message; after each failure the folder must hold only
// `keep` (the inputs). Returns the number of failure points tried.
int sweep_writes(const TempDir &dir, const std::vector<std::string> &keep, int cap,
                 const std::function<leap_status(std::string *)> &write_once) {
  int k = 1;
  for (; k <= cap; k++) {
    lp_write_fail_at(k);
    std::string msg;
    const leap_status s = write_once(&msg);
    lp_write_fail_at(0);
    if (s == LEAP_OK) break;
    INFO("disk full at write " << k << ": " << msg);
    CHECK(s == LEAP_ERR_IO);
    CHECK(msg.find(kNoSpace) != std::string::npos);
    CHECK(others_in(dir, keep).empty());
  }
  return k - 1;
}

struct Run {
  int code;
  std::string err;
};

// `leap ARGS` with env prepended (e.g. "LEAP_FAIL_WRITE=3"), stderr captured
// outside dir.
Run leap(const std::string &env, const std::string &args, const TempDir &logs) {
  const std::string err = logs / "stderr.txt";
  const std::string cmd = "env OMP_WAIT_POLICY=passive " + env + " '" + LEAP_CLI_PATH + "' " + args +
                          " > /dev/null 2> '" + err + "' < /dev/null";
  const int st = system(cmd.c_str());
  REQUIRE(WIFEXITED(st));
  return Run{WEXITSTATUS(st), lt::slurp(err)};
}

// The CLI's version of sweep_writes: args writes into out; LEAP_FAIL_WRITE=k
// for k = 1, 2, ... until the run succeeds; each failed run must exit 1 with
// the reason and leave out holding only `keep`. Returns the points tried.
int sweep_cli_writes(const std::string &args, const TempDir &out, const std::vector<std::string> &keep,
                     int cap) {
  TempDir logs;
  int k = 1;
  for (; k <= cap; k++) {
    Run r = leap("LEAP_FAIL_WRITE=" + std::to_string(k), args, logs);
    if (r.code == 0) break;
    INFO("disk full at write " << k << ": " << r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find(kNoSpace) != std::string::npos);
    CHECK(others_in(out, keep).empty());
  }
  return k - 1;
}

}  // namespace

TEST_CASE("fault: the safetensors writer on a full disk leaves no file", "[fault]") {
  TempDir dir;
  const std::string path = dir / "w.safetensors";
  std::vector<float> a(3000, 1.5f), b(70, -2.0f);
  const int64_t sa[2] = {30, 100}, sb[1] = {70};
  auto write_once = [&](std::string *msg) {
    lp_st_writer *w = nullptr;
    leap_status s = lp_st_writer_create(path.c_str(), &w);
    REQUIRE(s == LEAP_OK);
    REQUIRE(lp_st_writer_meta(w, "k", "v") == LEAP_OK);
    REQUIRE(lp_st_writer_add(w, "a", LEAP_F32, 2, sa, a.data()) == LEAP_OK);
    REQUIRE(lp_st_writer_add(w, "b", LEAP_F32, 1, sb, b.data()) == LEAP_OK);
    s = lp_st_writer_finish(w);
    *msg = leap_last_error();
    return s;
  };
  // The length, the header and two tensors: four writes at least.
  CHECK(sweep_writes(dir, {}, 50, write_once) >= 4);
  REQUIRE(lt::exists(path));
  CHECK(lt::meta(path, "k") == "v");
}

TEST_CASE("fault: the LCSC streaming writer on a full disk leaves no file", "[fault]") {
  TempDir dir;
  const std::string out = dir / "c.safetensors";
  const char *paths[2] = {kTiny.c_str(), kTinyF16.c_str()};
  const double coefs[2] = {0.25, 0.75};
  auto write_once = [&](std::string *msg) {
    leap_lcsc_combine_desc d = leap_lcsc_combine_desc_default();
    d.count = 2;
    d.paths = paths;
    d.coefs = coefs;
    d.out_path = out.c_str();
    leap_status s = leap_lcsc_combine(&d, nullptr);
    *msg = leap_last_error();
    return s;
  };
  CHECK(sweep_writes(dir, {}, 200, write_once) >= 2);
  leap_context *ctx = lt::context(LEAP_BACKEND_CPU);
  leap_model *m = nullptr;
  CHECK(leap_model_load(ctx, out.c_str(), &m) == LEAP_OK);
  leap_model_destroy(m);
  lt::finish(ctx);
}

TEST_CASE("fault: the classifier save on a full disk leaves no file", "[fault]") {
  TempDir dir;
  const std::string path = dir / "cls.safetensors";
  lp_classifier_arch arch = {1, 8, 8, 3, 4, 4, 8};
  lp_classifier *c = nullptr;
  REQUIRE(lp_classifier_create(&arch, 1, &c) == LEAP_OK);
  const char *meta[2] = {"epochs", "1"};
  auto write_once = [&](std::string *msg) {
    leap_status s = lp_classifier_save(c, path.c_str(), meta, 1);
    *msg = leap_last_error();
    return s;
  };
  CHECK(sweep_writes(dir, {}, 50, write_once) >= 4);
  lp_classifier *back = nullptr;
  CHECK(lp_classifier_load(path.c_str(), &back) == LEAP_OK);
  lp_classifier_destroy(back);
  lp_classifier_destroy(c);
}

TEST_CASE("fault: leap sample on a full disk leaves neither the PNG nor the raw samples", "[fault]") {
  TempDir dir;
  const std::string base = "sample --model '" + kTiny + "' --backend cpu --threads 1 --labels 0-1 --n 2 --steps 2 ";
  SECTION("PNG grid") {
    CHECK(sweep_cli_writes(base + "--out '" + (dir / "x.png") + "'", dir, {}, 100) >= 3);
    CHECK(lt::exists(dir / "x.png"));
  }
  SECTION("PNG grid and --raw-out") {
    CHECK(sweep_cli_writes(base + "--out '" + (dir / "x.png") + "' --raw-out '" + (dir / "x.safetensors") + "'", dir,
                           {}, 100) >= 5);
    CHECK(lt::exists(dir / "x.png"));
    CHECK(lt::exists(dir / "x.safetensors"));
  }
}

TEST_CASE("fault: leap profile on a full disk leaves no profile", "[fault]") {
  TempDir dir;
  const std::string p = dir / "p.json";
  CHECK(sweep_cli_writes("profile --model '" + kTiny + "' --backend cpu --threads 1 --images 2 --steps 4 --computed 2 "
                         "--folds 2 --quiet --out '" + p + "'",
                         dir, {}, 20) >= 1);
  CHECK(lt::exists(p));
}

TEST_CASE("fault: leap train on a full disk leaves no partial checkpoint", "[fault]") {
  TempDir data, run;
  for (int c = 0; c < 2; c++) {
    const std::string cls = data / std::to_string(c);
    REQUIRE(mkdir(cls.c_str(), 0755) == 0);
    for (int i = 0; i < 2; i++) {
      TempDir logs;
      REQUIRE(leap("", "sample --model '" + kTiny + "' --backend cpu --threads 1 --n 1 --steps 1 --labels " +
                           std::to_string(c) + " --seed " + std::to_string(i) + " --out '" + cls + "/" +
                           std::to_string(i) + ".png'",
                   logs)
                  .code == 0);
    }
  }
  // Checkpoints land one by one: those renamed before the disk filled are
  // complete and may stay; what must never stay is a temporary.
  const std::string args = "train --data '" + data.path + "' --hidden 16 --depth 1 --heads 2 --patch 4 --batch 2 "
                           "--steps 2 --save-every 2 --threads 1 --quiet --out '" + (run / "r") + "'";
  TempDir logs;
  int k = 1;
  for (; k <= 200; k++) {
    Run r = leap("LEAP_FAIL_WRITE=" + std::to_string(k), args, logs);
    if (r.code == 0) break;
    INFO("disk full at write " << k << ": " << r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find(kNoSpace) != std::string::npos);
    for (const auto &n : run.list()) {
      INFO(n);
      CHECK(n.find(".tmp") == std::string::npos);
      leap_context *ctx = lt::context(LEAP_BACKEND_CPU);
      if (n != "r_state.safetensors") {  // a complete checkpoint loads
        leap_model *m = nullptr;
        CHECK(leap_model_load(ctx, (run / n).c_str(), &m) == LEAP_OK);
        leap_model_destroy(m);
      }
      lt::finish(ctx);
    }
    TempDir::remove_tree(run.path);
    REQUIRE(mkdir(run.path.c_str(), 0700) == 0);
  }
  CHECK(k - 1 >= 3);  // three files, several writes each
  for (const char *f : {"r_step000002", "r_ema", "r_state"}) CHECK(lt::exists(run / (std::string(f) + ".safetensors")));
}

TEST_CASE("fault: a report to a full standard output is a failed run", "[fault]") {
  TempDir logs;
  const std::string cmd = std::string("OMP_WAIT_POLICY=passive '") + LEAP_CLI_PATH + "' bench sample --model '" +
                          kTiny + "' --batch 1 --steps 2 --repeat 1 --backend cpu --threads 1 --json > /dev/full 2> '" +
                          (logs / "err.txt") + "'";
  const int st = system(cmd.c_str());
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 1);
  CHECK(lt::slurp(logs / "err.txt").find(kNoSpace) != std::string::npos);
}

TEST_CASE("fault: a failed device allocation is LEAP_ERR_NOMEM and the context still samples", "[fault][vulkan]") {
  leap_context *ctx = lt::context(LEAP_BACKEND_VULKAN);
  if (!ctx) return;
  const int64_t shape[2] = {64, 64};
  leap_tensor *t = nullptr;
  lp_vk_alloc_fail_at(1, 0);
  CHECK(leap_tensor_create(ctx, LEAP_F32, 2, shape, &t) == LEAP_ERR_NOMEM);
  CHECK(t == nullptr);
  CHECK(std::string(leap_last_error()).find("out of memory") != std::string::npos);
  // The model's weights: a failure at each of its first device allocations.
  for (int k = 1; k <= 4; k++) {
    INFO("device allocation " << k << " of the model fails");
    leap_model *m = nullptr;
    lp_vk_alloc_fail_at(k, 0);
    CHECK(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_ERR_NOMEM);
    CHECK(m == nullptr);
    CHECK(std::string(leap_last_error()).find("out of memory") != std::string::npos);
  }
  lp_vk_alloc_fail_at(0, 0);
  // The same context: a tensor, a model and a sample.
  REQUIRE(leap_tensor_create(ctx, LEAP_F32, 2, shape, &t) == LEAP_OK);
  leap_tensor_destroy(t);
  leap_model *m = nullptr;
  INFO(leap_last_error());
  REQUIRE(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_OK);
  leap_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  const int32_t labels[2] = {0, 1};
  leap_sample_desc d = leap_sample_desc_default();
  d.n = 2;
  d.labels = labels;
  d.steps = 2;
  d.seed = 3;
  std::vector<float> x((size_t)2 * info.in_channels * info.input_size * info.input_size, NAN);
  CHECK(leap_sample(m, &d, x.data()) == LEAP_OK);
  for (float v : x) REQUIRE(std::isfinite(v));
  // A failure in the middle of sampling (its scratch buffers) is NOMEM too,
  // and the next sample still runs.
  lp_vk_alloc_fail_at(1, 0);
  leap_sample_desc d4 = d;
  d4.n = 2;
  d4.cfg = 2.0;
  const leap_status s = leap_sample(m, &d4, x.data());
  const long allocated = lp_vk_alloc_count();
  lp_vk_alloc_fail_at(0, 0);
  INFO(allocated << " device allocations tried while sampling: " << leap_last_error());
  CHECK(s == (allocated > 0 ? LEAP_ERR_NOMEM : LEAP_OK));
  CHECK(leap_sample(m, &d4, x.data()) == LEAP_OK);
  for (float v : x) REQUIRE(std::isfinite(v));
  leap_model_destroy(m);
  lt::finish(ctx);
}
