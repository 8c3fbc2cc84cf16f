// test_cli_scale.cpp - runs of any size (issue 18): `leap sample` in
// batches makes the images of one big call (image i's noise is stream i of
// the seed: leap_sample_desc.first); shards of a run, merged, are the bytes
// of one run; --shard's errors; the shard index is checked when read; the
// streamed feature statistics of `leap eval` equal the all-in-memory ones.
// Tiny model, few steps: every case takes well under a second of sampling.
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "fd_metric.h"
#include "safetensors.h"
#include "sampler.h"
}

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";

struct Result {
  int code;
  std::string out, err;
};

// `leap ARGS` in dir, with `env` (VAR=value ... or "") before it.
Result run_leap(const lt::TempDir &dir, const std::string &env, const std::string &args) {
  const std::string cmd = "cd '" + dir.path + "' && " + (env.empty() ? "" : "env " + env + " ") + "timeout 120 '" +
                          std::string(LEAP_CLI_PATH) + "' " + args + " > '" + (dir / "stdout.txt") + "' 2> '" +
                          (dir / "stderr.txt") + "' < /dev/null";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  return Result{WEXITSTATUS(status), lt::slurp(dir / "stdout.txt"), lt::slurp(dir / "stderr.txt")};
}

const std::string kRun = "sample --model '" + kTiny + "' --backend cpu --threads 1 --n 10 --steps 2 --seed 5 --quiet ";

std::vector<float> samples_of(const std::string &path) {
  const std::vector<double> v = lt::read_f64(path, "samples");
  return std::vector<float>(v.begin(), v.end());
}

// The largest |a - b| of image i (numel values each).
double image_diff(const std::vector<float> &a, const std::vector<float> &b, size_t i, size_t numel) {
  double m = 0;
  for (size_t k = i * numel; k < (i + 1) * numel; k++) m = std::fmax(m, std::fabs((double)a[k] - b[k]));
  return m;
}

}  // namespace

TEST_CASE("scale: image i's noise is stream i of the seed, whatever the call it is made in", "[scale]") {
  const size_t numel = 3 * 8 * 8;
  std::vector<float> all(10 * numel), tail(3 * numel);
  lp_noise_fill(5, 10, numel, all.data());
  lp_noise_fill_at(5, 7, 3, numel, tail.data());
  CHECK(std::vector<float>(all.begin() + 7 * numel, all.end()) == tail);
  // Library: images 7..9 of one call of 10, made by a call of 3 at first = 7
  // (ancestral noise too: euler_a draws per-step noise from stream first + b).
  leap_context_desc cd = leap_context_desc_default(LEAP_BACKEND_CPU);
  cd.threads = 1;
  leap_context *ctx = nullptr;
  leap_model *m = nullptr;
  REQUIRE(leap_context_create(&cd, &ctx) == LEAP_OK);
  REQUIRE(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_OK);
  for (leap_solver solver : {LEAP_SOLVER_EULER, LEAP_SOLVER_EULER_ANCESTRAL}) {
    INFO("solver " << leap_solver_name(solver));
    leap_sample_desc d = leap_sample_desc_default();
    d.n = 10, d.steps = 3, d.seed = 5, d.solver = solver, d.eta = solver == LEAP_SOLVER_EULER ? 0.0 : 1.0;
    std::vector<float> big(10 * numel), part(3 * numel), shifted(3 * numel);
    REQUIRE(leap_sample(m, &d, big.data()) == LEAP_OK);
    d.n = 3, d.first = 7;
    REQUIRE(leap_sample(m, &d, part.data()) == LEAP_OK);
    d.first = 0;
    REQUIRE(leap_sample(m, &d, shifted.data()) == LEAP_OK);
    const std::vector<float> want(big.begin() + 7 * numel, big.end());
    for (size_t i = 0; i < 3; i++) {
      // Batched matrix products round differently for another batch: the
      // same image to ~1e-3; another image's noise differs by O(1).
      CHECK(image_diff(part, want, i, numel) < 2e-2);
      CHECK(image_diff(shifted, want, i, numel) > 0.5);
    }
  }
  leap_model_destroy(m);
  leap_context_destroy(ctx);
  // first + n at or past 2^40 is refused.
  leap_sample_desc bad = leap_sample_desc_default();
  bad.first = (UINT64_C(1) << 40) - 1;
  REQUIRE(leap_context_create(&cd, &ctx) == LEAP_OK);
  REQUIRE(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_OK);
  std::vector<float> one(numel);
  CHECK(leap_sample(m, &bad, one.data()) == LEAP_ERR_INVALID_ARG);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
}

TEST_CASE("scale: --batch 1, 7 and all make the same images, and the same --batch the same bytes", "[scale][cli]") {
  lt::TempDir dir;
  for (const char *b : {"1", "7", "10"})
    REQUIRE(run_leap(dir, "", kRun + "--batch " + b + " --out b" + b + ".png --raw-out b" + b + ".safetensors").code ==
            0);
  // (The same --threads too: OpenBLAS splits a product by thread, and
  // another split rounds differently.)
  REQUIRE(run_leap(dir, "", kRun + "--batch 7 --raw-out again.safetensors --out again.png").code == 0);
  CHECK(lt::slurp(dir / "b7.safetensors") == lt::slurp(dir / "again.safetensors"));
  const auto all = samples_of(dir / "b10.safetensors");
  const size_t numel = 3 * 8 * 8;
  REQUIRE(all.size() == 10 * numel);
  for (const char *b : {"1", "7"}) {
    const auto got = samples_of(dir / (std::string("b") + b + ".safetensors"));
    for (size_t i = 0; i < 10; i++) {
      INFO("batch " << b << ", image " << i);
      CHECK(image_diff(got, all, i, numel) < 2e-2);
    }
    // The settings are the same but for the batch.
    CHECK(lt::meta(dir / (std::string("b") + b + ".safetensors"), "batch") == b);
    CHECK(lt::meta(dir / (std::string("b") + b + ".safetensors"), "labels") ==
          lt::meta(dir / "b10.safetensors", "labels"));
  }
  CHECK(lt::meta(dir / "b10.safetensors", "label_cycle") == "0,1,2,3,4");
  CHECK(lt::meta(dir / "b10.safetensors", "n") == "10");
}

TEST_CASE("scale: shards 0..3 of 4 merge into the bytes of one run, --out-dir names images by their index", "[scale][cli]") {
  lt::TempDir dir;
  for (int i = 0; i < 4; i++) {
    INFO("shard " << i);
    const Result r = run_leap(dir, "", kRun + "--batch 2 --raw-out part.safetensors --out-dir sh --shard " +
                                           std::to_string(i) + "/4");
    INFO(r.err);
    REQUIRE(r.code == 0);
  }
  // Shard 0 wrote the index; no grid from shards.
  CHECK(lt::exists(dir / "part.safetensors.index.json"));
  CHECK(!lt::exists(dir / "samples.png"));
  REQUIRE(run_leap(dir, "", kRun + "--batch 2 --raw-out one.safetensors --out-dir one").code == 0);
  const Result m = run_leap(dir, "", "merge part.safetensors.index.json --out merged.safetensors");
  INFO(m.err);
  REQUIRE(m.code == 0);
  CHECK(lt::slurp(dir / "merged.safetensors") == lt::slurp(dir / "one.safetensors"));
  for (int i = 0; i < 10; i++) {
    const std::string name = "/00000" + std::to_string(i) + ".png";
    INFO(name);
    REQUIRE(lt::exists(dir / ("one" + name)));
    CHECK(lt::slurp(dir / ("one" + name)) == lt::slurp(dir / ("sh" + name)));
  }
  CHECK(lt::TempDir::list_dir(dir / "one").size() == 10);
  // A part's own range and settings.
  CHECK(lt::meta(dir / "part-00003-of-00004.safetensors", "first") == "6");
  CHECK(lt::meta(dir / "part-00003-of-00004.safetensors", "count") == "4");
  CHECK(lt::meta(dir / "part-00003-of-00004.safetensors", "shard") == "3/4");
  CHECK(lt::meta(dir / "part-00003-of-00004.safetensors", "labels") == "1,2,3,4");
  // Under Slurm: the same part from the array's environment (--array=1-4).
  const Result s = run_leap(dir, "SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=4",
                            kRun + "--batch 2 --raw-out slurm.safetensors --shard auto");
  INFO(s.err);
  REQUIRE(s.code == 0);
  CHECK(lt::slurp(dir / "slurm-00003-of-00004.safetensors") == lt::slurp(dir / "part-00003-of-00004.safetensors"));
}

TEST_CASE("scale: --shard refuses what it cannot use, naming it", "[scale][cli]") {
  lt::TempDir dir;
  struct Case {
    std::string env, args, says;
  };
  const std::vector<Case> cases = {
      {"", "--shard 4/4", "shard 4 is not in 0..3"},
      {"", "--shard 0/0", "the shard count must be 1.."},
      {"", "--shard x/4", "is not i/N with whole numbers"},
      {"", "--shard 3", "is not i/N (e.g. 0/4) or auto"},
      {"", "--shard -1/4", "is not i/N with whole numbers"},
      {"-u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX", "--shard auto", "no scheduler index in the environment"},
      {"-u SLURM_ARRAY_TASK_COUNT SLURM_ARRAY_TASK_ID=1", "--shard auto", "SLURM_ARRAY_TASK_COUNT is not"},
      {"SLURM_ARRAY_TASK_ID=abc SLURM_ARRAY_TASK_COUNT=4", "--shard auto", "SLURM_ARRAY_TASK_ID='abc' is not a whole number"},
      {"-u SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_COUNT=4", "--shard auto", "shard 4 is not in 0..3"},
      {"SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=4", "--shard auto", "is below SLURM_ARRAY_TASK_MIN"},
      {"-u SLURM_ARRAY_TASK_ID -u LEAP_SHARD_COUNT JOB_COMPLETION_INDEX=2", "--shard auto", "give --shards N or LEAP_SHARD_COUNT"},
      {"-u SLURM_ARRAY_TASK_ID JOB_COMPLETION_INDEX=2", "--shard auto --shards 2", "shard 2 is not in 0..1"},
      {"", "--shard 1/4 --shards 3", "disagree"},
      {"", "--shards 3", "--shards goes with --shard auto"},
      {"", "--shard 1/4 --n 2000", "images of a shard and no output"},
  };
  for (const Case &c : cases) {
    INFO(c.env << " " << c.args);
    const Result r = run_leap(dir, c.env, kRun + c.args);
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find(c.says) != std::string::npos);
  }
  // A grid of more than 1024 images is refused before any sampling.
  const Result g = run_leap(dir, "", kRun + "--n 1025 --out big.png");
  CHECK(g.code == 2);
  CHECK(g.err.find("too many for a grid") != std::string::npos);
  std::vector<std::string> left = dir.list();
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<std::string>{"stderr.txt", "stdout.txt"});
}

TEST_CASE("scale: the shard index is checked when read: missing parts, counts, another run's part", "[scale][cli]") {
  lt::TempDir dir;
  for (int i = 0; i < 2; i++)
    REQUIRE(run_leap(dir, "", kRun + "--batch 3 --raw-out p.safetensors --shard " + std::to_string(i) + "/2").code == 0);
  const std::string index = lt::slurp(dir / "p.safetensors.index.json");
  auto merge_fails = [&](const std::string &says) {
    const Result r = run_leap(dir, "", "merge p.safetensors.index.json --out m.safetensors");
    INFO(r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find(says) != std::string::npos);
    CHECK(!lt::exists(dir / "m.safetensors"));
  };
  auto edit = [&](const std::string &from, const std::string &to) {
    std::string t = index;
    const size_t at = t.find(from);
    REQUIRE(at != std::string::npos);
    t.replace(at, from.size(), to);
    lt::write_text(dir / "p.safetensors.index.json", t);
  };
  // The parts: batches [0,2) and [2,4) of 4 (batch 3): images 0..5 and 6..9.
  CHECK(index.find("\"first\": 6, \"count\": 4") != std::string::npos);
  edit("\"first\": 6, \"count\": 4", "\"first\": 6, \"count\": 5");
  merge_fails("runs past the 10 images of the run");
  edit("\"first\": 6, \"count\": 4", "\"first\": 6, \"count\": 3");
  merge_fails("the parts hold 9 images, the run 10");
  edit("\"first\": 6, \"count\": 4", "\"first\": 5, \"count\": 4");
  merge_fails("starts at image 5, but the parts before it end at 6");
  edit("\"n\": 10", "\"n\": 0");
  merge_fails("\"n\" is not a positive whole number");
  edit("leap-samples-index", "something-else");
  merge_fails("no \"format\": \"leap-samples-index\"");
  edit("\"seed\": \"5\"", "\"seed\": \"6\"");
  merge_fails("'seed' is '5', but the index");
  lt::write_text(dir / "p.safetensors.index.json", index);
  // A part of another run (other seed) in place of part 1.
  REQUIRE(run_leap(dir, "", kRun + "--seed 9 --batch 3 --raw-out q.safetensors --shard 1/2").code == 0);
  REQUIRE(std::rename((dir / "p-00001-of-00002.safetensors").c_str(), (dir / "keep.safetensors").c_str()) == 0);
  merge_fails("part 1 of 2 (p-00001-of-00002.safetensors) is missing");
  REQUIRE(std::rename((dir / "q-00001-of-00002.safetensors").c_str(), (dir / "p-00001-of-00002.safetensors").c_str()) == 0);
  merge_fails("a part of another run?");
  REQUIRE(std::rename((dir / "keep.safetensors").c_str(), (dir / "p-00001-of-00002.safetensors").c_str()) == 0);
  const Result ok = run_leap(dir, "", "merge p.safetensors.index.json --out m.safetensors");
  INFO(ok.err);
  CHECK(ok.code == 0);
}

TEST_CASE("scale: streamed feature statistics equal the all-in-memory ones", "[scale][eval]") {
  const int n = 1003, d = 16;
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> feat((size_t)n * d);
  // An offset mean (a naive sum of squares would lose digits) and correlations.
  for (int i = 0; i < n; i++)
    for (int j = 0; j < d; j++) feat[(size_t)i * d + j] = 50.0f + (float)j + g(rng) * (1.0f + 0.1f * j);
  std::vector<double> mu(d), cov((size_t)d * d), mu2(d), cov2((size_t)d * d);
  REQUIRE(lp_fd_stats_features(feat.data(), n, d, mu.data(), cov.data()) == LEAP_OK);
  // Uneven batches (1, 7, 250, ...), and two accumulators merged (shards).
  lp_fd_accum a, b;
  REQUIRE(lp_fd_accum_init(&a, d) == LEAP_OK);
  REQUIRE(lp_fd_accum_init(&b, d) == LEAP_OK);
  int at = 0;
  for (int size : {1, 7, 250, 245}) {
    REQUIRE(lp_fd_accum_add_features(&a, feat.data() + (size_t)at * d, size) == LEAP_OK);
    at += size;
  }
  for (; at < n; at += 100)
    REQUIRE(lp_fd_accum_add_features(&b, feat.data() + (size_t)at * d, std::min(100, n - at)) == LEAP_OK);
  REQUIRE(lp_fd_accum_merge(&a, &b) == LEAP_OK);
  REQUIRE(lp_fd_accum_result(&a, mu2.data(), cov2.data()) == LEAP_OK);
  CHECK(a.n == n);
  for (int j = 0; j < d; j++) CHECK(std::fabs(mu2[j] - mu[j]) <= 1e-12 * std::fabs(mu[j]));
  double worst = 0;
  for (size_t k = 0; k < cov.size(); k++) worst = std::fmax(worst, std::fabs(cov2[k] - cov[k]));
  CHECK(worst <= 1e-9 * cov[0]);
  // FD against a second set, through both.
  std::vector<float> other((size_t)n * d);
  for (auto &v : other) v = 50.5f + g(rng);
  std::vector<double> mo(d), co((size_t)d * d);
  REQUIRE(lp_fd_stats_features(other.data(), n, d, mo.data(), co.data()) == LEAP_OK);
  double fd1 = 0, fd2 = 0;
  REQUIRE(lp_fd(mu.data(), cov.data(), mo.data(), co.data(), d, &fd1) == LEAP_OK);
  REQUIRE(lp_fd(mu2.data(), cov2.data(), mo.data(), co.data(), d, &fd2) == LEAP_OK);
  CHECK(std::fabs(fd1 - fd2) <= 1e-9 * fd1);
  // A non-finite feature is refused and leaves the state as it was.
  std::vector<float> badrow(d, 1.0f);
  badrow[3] = NAN;
  CHECK(lp_fd_accum_add_features(&a, badrow.data(), 1) == LEAP_ERR_NUMERIC);
  CHECK(a.n == n);
  lp_fd_accum_free(&a);
  lp_fd_accum_free(&b);
}

TEST_CASE("scale: leap eval of a shard index gives the FD of the merged file", "[scale][cli][eval]") {
  const std::string src = std::string(LEAP_TEST_DATA) + "/../..";
  const std::string model = src + "/models/default/leap-fmnist.safetensors";
  const std::string classifier = src + "/models/classifier/fmnist-classifier.safetensors";
  if (!lt::exists(model) || !lt::exists(classifier) ||
      !lt::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) {
    lt::skip("needs the shipped model and classifier and Debian's dataset-fashion-mnist");
    return;
  }
  lt::TempDir dir;
  const std::string run = "sample --model '" + model + "' --backend cpu --threads 1 --n 12 --steps 1 --batch 3 --quiet ";
  for (int i = 0; i < 3; i++)
    REQUIRE(run_leap(dir, "", run + "--raw-out p.safetensors --shard " + std::to_string(i) + "/3").code == 0);
  REQUIRE(run_leap(dir, "", "merge p.safetensors.index.json --out all.safetensors").code == 0);
  const std::string eval = "eval --classifier '" + classifier + "' --reference-n 200 --batch 5 --quiet --json --samples ";
  const Result a = run_leap(dir, "", eval + "p.safetensors.index.json");
  INFO(a.err);
  REQUIRE(a.code == 0);
  const Result b = run_leap(dir, "", eval + "all.safetensors");
  INFO(b.err);
  REQUIRE(b.code == 0);
  // The result line up to the source's name: FD, its parts, accuracy, protocol.
  const std::string la = a.out.substr(0, a.out.find(" samples of ")), lb = b.out.substr(0, b.out.find(" samples of "));
  CHECK(la == lb);
  CHECK(la.find("FD-12: 12") != std::string::npos);
  CHECK(la.find("conditional accuracy") != std::string::npos);
  CHECK(a.out.find("\"protocol\": \"FD-12\"") != std::string::npos);
}
