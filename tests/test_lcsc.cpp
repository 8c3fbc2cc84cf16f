// test_lcsc.cpp - LCSC: streaming checkpoint combination (host and Vulkan,
// mixed dtypes, metadata, atomic output, mismatch errors; the packed Vulkan
// kernel and its CPU twin are tested in test_lcsc_packed.cpp), and the
// evolutionary search on
// synthetic fitnesses with known optima (resume, interruption, settings).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <omp.h>
#include <unistd.h>

#include "test_util.hpp"

extern "C" {
#include "backend.h"
#include "dtype.h"
#include "lcsc.h"
#include "vk_backend.h"
}

// tests/CMakeLists.txt defines no source-dir macro; the classifier ships in
// models/classifier beside this file's folder.
#define LEAP_SOURCE_DIR_FOR_TESTS LEAP_TEST_DATA "/../.."

namespace {

std::string tmp_path(const std::string &name) {
  return "/tmp/leap_test_lcsc_" + std::to_string(getpid()) + "_" + name;
}

using lt::exists;

// Encodes float values as the raw bytes of dtype.
std::vector<unsigned char> encode(const std::vector<float> &v, leap_dtype dt) {
  std::vector<unsigned char> out(v.size() * lp_dtype_size(dt));
  for (size_t i = 0; i < v.size(); i++) {
    if (dt == LEAP_F32) {
      std::memcpy(&out[4 * i], &v[i], 4);
    } else {
      uint16_t h = dt == LEAP_F16 ? lp_f32_to_f16(v[i]) : lp_f32_to_bf16(v[i]);
      std::memcpy(&out[2 * i], &h, 2);
    }
  }
  return out;
}

// The value a float takes after a round trip through dtype.
float rounded(float x, leap_dtype dt) {
  if (dt == LEAP_F16) return lp_f16_to_f32(lp_f32_to_f16(x));
  if (dt == LEAP_BF16) return lp_bf16_to_f32(lp_f32_to_bf16(x));
  return x;
}

struct Ckpt {
  std::string path;
  std::vector<float> a, b;  // the two float tensors, as stored (rounded)
};

// A small "checkpoint": tensors `a` [3,5] and `b` [7] of one dtype, an I64
// `steps` tensor, and a model description in the metadata.
Ckpt write_ckpt(const std::string &name, leap_dtype dt, uint32_t seed, const char *depth = "2",
                bool with_b = true, int64_t b_len = 7) {
  Ckpt c;
  c.path = tmp_path(name);
  auto a = lt::random_f32(15, seed), b = lt::random_f32((size_t)b_len, seed + 100);
  for (auto &x : a) x = rounded(x, dt);
  for (auto &x : b) x = rounded(x, dt);
  c.a = a, c.b = b;
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(c.path.c_str(), &w) == LEAP_OK);
  REQUIRE(lp_st_writer_meta(w, "arch", "dit") == LEAP_OK);
  REQUIRE(lp_st_writer_meta(w, "depth", depth) == LEAP_OK);
  REQUIRE(lp_st_writer_meta(w, "step", std::to_string(seed).c_str()) == LEAP_OK);
  int64_t sa[2] = {3, 5}, sb[1] = {b_len}, ss[1] = {2};
  auto ea = encode(a, dt), eb = encode(b, dt);
  REQUIRE(lp_st_writer_add(w, "a", dt, 2, sa, ea.data()) == LEAP_OK);
  if (with_b) REQUIRE(lp_st_writer_add(w, "b", dt, 1, sb, eb.data()) == LEAP_OK);
  int64_t steps[2] = {10, 20};
  REQUIRE(lp_st_writer_add(w, "steps", LEAP_I64, 1, ss, steps) == LEAP_OK);
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
  return c;
}

std::vector<float> read_f32(const std::string &path, const char *name, std::string *dtype = nullptr) {
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(path.c_str(), &f) == LEAP_OK);
  const lp_st_tensor *t = nullptr;
  REQUIRE(lp_st_get(f, name, 0, nullptr, &t) == LEAP_OK);
  std::vector<float> v((size_t)t->numel);
  REQUIRE(lp_st_read_f32(f, t, v.data()) == LEAP_OK);
  if (dtype) *dtype = lp_dtype_name(t->dtype);
  lp_st_close(f);
  return v;
}

leap_status combine(const std::vector<Ckpt> &in, const std::vector<double> &coefs, const std::string &out,
                    int dtype = -1, leap_context *ctx = nullptr) {
  std::vector<const char *> paths;
  for (auto &c : in) paths.push_back(c.path.c_str());
  leap_lcsc_combine_desc d = leap_lcsc_combine_desc_default();
  d.count = (int)in.size();
  d.paths = paths.data();
  d.coefs = coefs.data();
  d.out_path = out.c_str();
  d.out_dtype = dtype;
  d.ctx = ctx;
  return leap_lcsc_combine(&d, nullptr);
}

void check_sum(const std::vector<Ckpt> &in, const std::vector<double> &coefs, const std::string &out,
               double tol) {
  auto a = read_f32(out, "a"), b = read_f32(out, "b");
  REQUIRE(a.size() == in[0].a.size());
  REQUIRE(b.size() == in[0].b.size());
  size_t bad = 0;  // counted, so a million elements are not a million CHECKs
  for (size_t j = 0; j < a.size(); j++) {
    double want = 0;
    for (size_t k = 0; k < in.size(); k++) want += coefs[k] * in[k].a[j];
    bad += !(std::fabs(a[j] - want) <= tol * (1 + std::fabs(want)));
  }
  for (size_t j = 0; j < b.size(); j++) {
    double want = 0;
    for (size_t k = 0; k < in.size(); k++) want += coefs[k] * in[k].b[j];
    bad += !(std::fabs(b[j] - want) <= tol * (1 + std::fabs(want)));
  }
  CHECK(bad == 0);
}

void cleanup(const std::vector<Ckpt> &in) {
  for (auto &c : in) std::remove(c.path.c_str());
}

}  // namespace

TEST_CASE("lcsc combine: mixed F32/F16/BF16 in, weighted sum out, metadata", "[lcsc]") {
  std::vector<Ckpt> in = {write_ckpt("m0", LEAP_F32, 1), write_ckpt("m1", LEAP_F16, 2),
                          write_ckpt("m2", LEAP_BF16, 3)};
  const std::vector<double> coefs = {-0.75, 1.5, 0.4};  // need not sum to 1
  const std::string out = tmp_path("out.safetensors");
  SECTION("F32 output is the float32 sum") {
    REQUIRE(combine(in, coefs, out, LEAP_F32) == LEAP_OK);
    check_sum(in, coefs, out, 1e-6);
    std::string dt;
    read_f32(out, "a", &dt);
    CHECK(dt == "F32");
    // the model description stays, per-checkpoint values go, LCSC is recorded
    CHECK(lt::meta(out, "arch") == "dit");
    CHECK(lt::meta(out, "depth") == "2");
    CHECK(lt::meta(out, "step").empty());
    CHECK(lt::meta(out, "lcsc_coefs") == "[-0.75,1.5,0.40000000000000002]");
    CHECK(lt::meta(out, "lcsc_sources").find(in[1].path) != std::string::npos);
    // non-float tensors are copied through
    lp_st_file *f = nullptr;
    REQUIRE(lp_st_open(out.c_str(), &f) == LEAP_OK);
    const lp_st_tensor *t = nullptr;
    REQUIRE(lp_st_get(f, "steps", 0, nullptr, &t) == LEAP_OK);
    int64_t steps[2];
    REQUIRE(t->bytes == sizeof steps);
    std::memcpy(steps, t->data, sizeof steps);
    CHECK(steps[0] == 10);
    CHECK(steps[1] == 20);
    lp_st_close(f);
  }
  SECTION("default dtype is the first file's; F16 / BF16 outputs round once") {
    REQUIRE(combine(in, coefs, out) == LEAP_OK);
    std::string dt;
    read_f32(out, "a", &dt);
    CHECK(dt == "F32");
    REQUIRE(combine(in, coefs, out, LEAP_F16) == LEAP_OK);
    read_f32(out, "b", &dt);
    CHECK(dt == "F16");
    check_sum(in, coefs, out, 1e-3);
    REQUIRE(combine(in, coefs, out, LEAP_BF16) == LEAP_OK);
    check_sum(in, coefs, out, 8e-3);
  }
  SECTION("one checkpoint with coefficient 1 reproduces it") {
    REQUIRE(combine({in[1]}, {1.0}, out) == LEAP_OK);
    CHECK(read_f32(out, "a") == in[1].a);
    CHECK(read_f32(out, "b") == in[1].b);
  }
  std::remove(out.c_str());
  cleanup(in);
}

TEST_CASE("lcsc combine: mismatched files are an error naming the first mismatch, nothing written", "[lcsc]") {
  Ckpt good0 = write_ckpt("g0", LEAP_F32, 1), good1 = write_ckpt("g1", LEAP_F16, 2);
  const std::string out = tmp_path("bad_out.safetensors");
  struct Case {
    Ckpt other;
    const char *expect;
  };
  std::vector<Case> cases = {
      {write_ckpt("shape", LEAP_F32, 3, "2", true, 8), "'b' has shape [8]"},
      {write_ckpt("missing", LEAP_F32, 4, "2", false), "no tensor 'b'"},
      {write_ckpt("depth", LEAP_F32, 5, "3"), "model description 'depth' is '3'"},
  };
  for (auto &c : cases) {
    INFO(c.expect);
    leap_status s = combine({good0, good1, c.other}, {0.2, 0.3, 0.5}, out);
    CHECK(s == LEAP_ERR_FORMAT);
    std::string msg = leap_last_error();
    INFO(msg);
    CHECK(msg.find(c.expect) != std::string::npos);
    CHECK(msg.find(c.other.path) != std::string::npos);
    CHECK_FALSE(exists(out));
    std::remove(c.other.path.c_str());
  }
  // bad arguments
  CHECK(combine({good0, good1}, {0.5, NAN}, out) == LEAP_ERR_INVALID_ARG);
  CHECK(combine({good0, good1}, {0.5, 0.5}, good0.path) == LEAP_ERR_INVALID_ARG);
  CHECK(combine({good0, good1}, {0.5, 0.5}, out, LEAP_I64) == LEAP_ERR_INVALID_ARG);
  // an existing output survives a failed combination untouched
  REQUIRE(combine({good0, good1}, {0.5, 0.5}, out) == LEAP_OK);
  auto before = read_f32(out, "a");
  Ckpt missing = write_ckpt("missing2", LEAP_F32, 6, "2", false);
  CHECK(combine({good0, missing}, {0.5, 0.5}, out) == LEAP_ERR_FORMAT);
  CHECK(read_f32(out, "a") == before);
  std::remove(out.c_str());
  cleanup({good0, good1, missing});
}

TEST_CASE("lcsc combine: large tensors stream in chunks, Vulkan matches the host", "[lcsc]") {
  // one tensor longer than a host piece (LP_LCSC_CHUNK) and than a packed
  // device chunk, so both cut it
  const size_t n = LP_LCSC_CHUNK + 1234;
  const std::vector<leap_dtype> dts = {LEAP_F16, LEAP_F32, LEAP_BF16};
  std::vector<Ckpt> in;
  for (int k = 0; k < 3; k++) {
    Ckpt c;
    c.path = tmp_path("big" + std::to_string(k));
    c.a = lt::random_f32(n, 10 + k);
    for (auto &x : c.a) x = rounded(x, dts[k]);
    c.b = lt::random_f32(9, 20 + k);
    for (auto &x : c.b) x = rounded(x, dts[k]);
    lp_st_writer *w = nullptr;
    REQUIRE(lp_st_writer_create(c.path.c_str(), &w) == LEAP_OK);
    int64_t sa[1] = {(int64_t)n}, sb[1] = {9};
    auto ea = encode(c.a, dts[k]), eb = encode(c.b, dts[k]);
    REQUIRE(lp_st_writer_add(w, "a", dts[k], 1, sa, ea.data()) == LEAP_OK);
    REQUIRE(lp_st_writer_add(w, "b", dts[k], 1, sb, eb.data()) == LEAP_OK);
    REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
    in.push_back(c);
  }
  const std::vector<double> coefs = {0.9, -0.35, 0.6};
  const std::string host = tmp_path("host.safetensors"), dev = tmp_path("dev.safetensors");
  REQUIRE(combine(in, coefs, host, LEAP_F32) == LEAP_OK);
  check_sum(in, coefs, host, 1e-6);
  // The device paths: mapped (lavapipe's memory is host-visible), staged
  // (LEAP_VK_STAGING=1: device-local buffers, uploads and read-backs
  // through copies, as on a discrete GPU), staged reads only, and
  // grid-stride kernels that loop over many passes (LEAP_VK_MAX_GROUPS=2).
  const char *envs[4][2] = {{"", ""}, {"LEAP_VK_STAGING", "1"}, {"LEAP_VK_STAGING", "read"}, {"LEAP_VK_MAX_GROUPS", "2"}};
  for (const auto &env : envs) {
    if (env[0][0]) setenv(env[0], env[1], 1);
    leap_context *ctx = lt::context(LEAP_BACKEND_VULKAN);
    if (env[0][0]) unsetenv(env[0]);
    if (!ctx) break;
    INFO((env[0][0] ? env[0] : "no switch") << "=" << env[1] << ": " << leap_last_error());
    REQUIRE(combine(in, coefs, dev, LEAP_F32, ctx) == LEAP_OK);
    CHECK(lt::rel_l2(read_f32(dev, "a"), read_f32(host, "a")) < 1e-6);
    CHECK(lt::rel_l2(read_f32(dev, "b"), read_f32(host, "b")) < 1e-6);
    lt::finish(ctx);
  }
  std::remove(host.c_str());
  std::remove(dev.c_str());
  cleanup(in);
}

// ------------------------------------------------------------------ search

namespace {

// A quadratic bowl with its minimum at `opt` (negative and > 1 entries, not
// summing to 1): fitness = |c - opt|^2, counted.
struct Bowl {
  std::vector<double> opt;
  int calls = 0;
  int fail_at = -1;  // return an error on this call
};

leap_status bowl_fitness(void *user, int count, const double *c, double *f) {
  Bowl *b = static_cast<Bowl *>(user);
  if (b->calls++ == b->fail_at) return LEAP_ERR_IO;
  double s = 0;
  for (int k = 0; k < count; k++) s += (c[k] - b->opt[k]) * (c[k] - b->opt[k]);
  *f = s;
  return LEAP_OK;
}

int stop_at(void *user, int done, int, double, double, const double *) { return done >= *static_cast<int *>(user); }

using lt::slurp;

leap_lcsc_search_desc bowl_desc(Bowl &b, int budget) {
  leap_lcsc_search_desc d = leap_lcsc_search_desc_default();
  d.count = (int)b.opt.size();
  d.budget = budget;
  d.population = 16;
  d.elite = 2;
  d.mutation_sigma = 0.3;
  d.seed = 7;
  d.fitness = bowl_fitness;
  d.fitness_user = &b;
  return d;
}

}  // namespace

TEST_CASE("lcsc search finds the optimum of a synthetic fitness", "[lcsc]") {
  Bowl b;
  b.opt = {-0.6, 0.2, 0.9, 1.4, -0.3};
  leap_lcsc_search_desc d = bowl_desc(b, 800);
  std::vector<double> best(5);
  double fit = 0;
  REQUIRE(leap_lcsc_search(&d, best.data(), &fit) == LEAP_OK);
  CHECK(b.calls == 800);
  // from 1.0 .. 4.0 at the natural starting points to near 0
  CHECK(fit < 0.01);
  for (int k = 0; k < 5; k++) CHECK(std::fabs(best[k] - b.opt[k]) < 0.1);

  SECTION("with normalisation every candidate sums to 1 and the constrained optimum is found") {
    Bowl n;
    n.opt = {-0.6, 0.2, 0.9, 1.4, -0.3};  // sums to 1.6: the best on the plane is opt - 0.12
    leap_lcsc_search_desc dn = bowl_desc(n, 800);
    dn.normalize = 1;
    const std::string log = tmp_path("norm.jsonl");
    std::remove(log.c_str());
    dn.log_path = log.c_str();
    REQUIRE(leap_lcsc_search(&dn, best.data(), &fit) == LEAP_OK);
    double sum = 0;
    for (double x : best) sum += x;
    CHECK(std::fabs(sum - 1) < 1e-9);
    for (int k = 0; k < 5; k++) CHECK(std::fabs(best[k] - (n.opt[k] - 0.12)) < 0.1);
    // every logged candidate sums to 1
    std::ifstream f(log);
    std::string line;
    int lines = 0;
    while (std::getline(f, line)) {
      if (lines++ == 0) continue;
      auto at = line.find("\"coefs\": [");
      REQUIRE(at != std::string::npos);
      double s = 0;
      std::stringstream ss(line.substr(at + 10));
      for (int k = 0; k < 5; k++) {
        double v;
        char sep;
        ss >> v >> sep;
        s += v;
      }
      CHECK(std::fabs(s - 1) < 1e-9);
    }
    CHECK(lines == 801);
    std::remove(log.c_str());
  }
}

TEST_CASE("lcsc search: the first generation holds last, uniform and EMA-like weights", "[lcsc]") {
  Bowl b;
  b.opt = {0, 0, 0, 1};  // the last checkpoint is the optimum
  leap_lcsc_search_desc d = bowl_desc(b, 3);
  d.ema_decay = 0.5;
  const std::string log = tmp_path("init.jsonl");
  std::remove(log.c_str());
  d.log_path = log.c_str();
  std::vector<double> best(4);
  double fit = 1;
  REQUIRE(leap_lcsc_search(&d, best.data(), &fit) == LEAP_OK);
  CHECK(fit == 0);
  CHECK(best == std::vector<double>{0, 0, 0, 1});
  std::string text = slurp(log);
  CHECK(text.find("\"origin\": \"last\"") != std::string::npos);
  CHECK(text.find("\"origin\": \"uniform\", \"fitness\": 0.75,") != std::string::npos);
  // EMA-like: 0.5^(3-i) normalised = 1/15, 2/15, 4/15, 8/15
  CHECK(text.find("\"coefs\": [0.066666666666666666, 0.13333333333333333, 0.26666666666666666, "
                  "0.53333333333333333]") != std::string::npos);
  std::remove(log.c_str());
}

TEST_CASE("lcsc search resumes from its log and continues identically", "[lcsc]") {
  const std::string full = tmp_path("full.jsonl"), part = tmp_path("part.jsonl");
  std::remove(full.c_str());
  std::remove(part.c_str());
  Bowl a;
  a.opt = {0.5, -0.4, 1.1};
  leap_lcsc_search_desc d = bowl_desc(a, 60);
  d.log_path = full.c_str();
  std::vector<double> best_full(3), best_part(3);
  double fit_full = 0, fit_part = 0;
  REQUIRE(leap_lcsc_search(&d, best_full.data(), &fit_full) == LEAP_OK);

  // interrupted after 23 candidates by the progress callback...
  Bowl b;
  b.opt = a.opt;
  leap_lcsc_search_desc p = bowl_desc(b, 60);
  p.log_path = part.c_str();
  int stop = 23;
  p.progress = stop_at;
  p.progress_user = &stop;
  CHECK(leap_lcsc_search(&p, best_part.data(), &fit_part) == LEAP_ERR_INTERRUPTED);
  CHECK(b.calls == 23);
  // ...and a torn line, as if killed mid-write
  {
    std::ofstream f(part, std::ios::app);
    f << "{\"candidate\": 23, \"generation\": 1, \"fitn";
  }
  // a failing fitness stops the search with its status, keeping the log
  Bowl c;
  c.opt = a.opt;
  c.fail_at = 5;
  leap_lcsc_search_desc q = bowl_desc(c, 60);
  q.log_path = part.c_str();
  CHECK(leap_lcsc_search(&q, best_part.data(), &fit_part) == LEAP_ERR_IO);
  CHECK(c.calls == 6);
  // resumed: only the missing candidates are evaluated, the result and the
  // log are those of the uninterrupted run
  Bowl r;
  r.opt = a.opt;
  leap_lcsc_search_desc rd = bowl_desc(r, 60);
  rd.log_path = part.c_str();
  REQUIRE(leap_lcsc_search(&rd, best_part.data(), &fit_part) == LEAP_OK);
  CHECK(r.calls == 60 - 23 - 5);
  CHECK(fit_part == fit_full);
  CHECK(best_part == best_full);
  // (the "seconds" field differs; compare candidates without it)
  auto strip = [](std::string s) {
    std::string out;
    std::stringstream ss(s);
    std::string line;
    while (std::getline(ss, line)) {
      auto at = line.find("\"seconds\"");
      if (at != std::string::npos) line.erase(at, line.find(',', at) - at);
      out += line + "\n";
    }
    return out;
  };
  CHECK(strip(slurp(part)) == strip(slurp(full)));
  // a finished log resumes without evaluating anything
  Bowl again;
  again.opt = a.opt;
  leap_lcsc_search_desc ad = bowl_desc(again, 60);
  ad.log_path = part.c_str();
  REQUIRE(leap_lcsc_search(&ad, best_part.data(), &fit_part) == LEAP_OK);
  CHECK(again.calls == 0);
  // other settings are refused, naming the setting
  ad.population = 12;
  CHECK(leap_lcsc_search(&ad, best_part.data(), &fit_part) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("population") != std::string::npos);
  std::remove(full.c_str());
  std::remove(part.c_str());
}

TEST_CASE("lcsc search rejects bad settings", "[lcsc]") {
  Bowl b;
  b.opt = {1, 2};
  std::vector<double> best(2);
  leap_lcsc_search_desc d = bowl_desc(b, 10);
  d.elite = d.population;
  CHECK(leap_lcsc_search(&d, best.data(), nullptr) == LEAP_ERR_INVALID_ARG);
  d = bowl_desc(b, 10);
  d.fitness = nullptr;
  CHECK(leap_lcsc_search(&d, best.data(), nullptr) == LEAP_ERR_INVALID_ARG);
  d = bowl_desc(b, 10);
  d.struct_size = 8;
  CHECK(leap_lcsc_search(&d, best.data(), nullptr) == LEAP_ERR_INVALID_ARG);
  CHECK(b.calls == 0);
}

TEST_CASE("leap lcsc combine: the CLI writes the combination and reports its rate", "[lcsc]") {
  std::vector<Ckpt> in = {write_ckpt("c0", LEAP_F16, 1), write_ckpt("c1", LEAP_F16, 2)};
  const std::string out = tmp_path("cli.safetensors");
  std::string cmd = std::string(LEAP_CLI_PATH) + " lcsc combine --ckpt " + in[0].path + " " + in[1].path +
                    " --coef -0.5 1.5 --dtype f32 --measure --out " + out + " > " + out + ".txt 2>&1";
  CHECK(std::system(cmd.c_str()) == 0);
  check_sum(in, {-0.5, 1.5}, out, 1e-6);
  std::string text = slurp(out + ".txt");
  CHECK(text.find("MB/s") != std::string::npos);
  CHECK(text.find("of the copy") != std::string::npos);
  // a count mismatch is a usage error (exit 2)
  cmd = std::string(LEAP_CLI_PATH) + " lcsc combine --ckpt " + in[0].path + " " + in[1].path +
        " --coef 1 --out " + out + " 2> /dev/null";
  int rc = std::system(cmd.c_str());
  CHECK(WEXITSTATUS(rc) == 2);
  std::remove(out.c_str());
  std::remove((out + ".txt").c_str());
  cleanup(in);
}

extern "C" {
#include "lcsc_fitness.h"
}

TEST_CASE("lcsc FD fitness on the shared Fashion-MNIST trajectory: deterministic, consistent", "[lcsc]") {
  const char *ck[3] = {"fixtures/fmnist-dit-traj/traj_005000.safetensors",
                       "fixtures/fmnist-dit-traj/traj_005500.safetensors",
                       "fixtures/fmnist-dit-traj/traj_006000.safetensors"};
  const std::string cls = std::string(LEAP_SOURCE_DIR_FOR_TESTS) + "/models/classifier/fmnist-classifier.safetensors";
  if (!lt::shared_present(ck[2]) || !exists(cls) || !exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) {
    lt::skip(std::string("needs ../shared/") + ck[2] + ", " + cls + " and Debian's dataset-fashion-mnist");
    return;
  }
  std::vector<std::string> paths;
  std::vector<const char *> p;
  for (auto c : ck) paths.push_back(std::string(LEAP_SHARED_DIR) + "/" + c);
  for (auto &s : paths) p.push_back(s.c_str());
  // one thread: a tiny batch gains nothing from two, and on a busy machine
  // OpenMP's spinning barriers cost seconds
  // (the classifier's loops use OpenMP's default team: narrow it too)
  struct OmpOne {
    int before = omp_get_max_threads();
    OmpOne() { omp_set_num_threads(1); }
    ~OmpOne() { omp_set_num_threads(before); }  // also when a REQUIRE throws
  } omp_one;
  leap_context_desc cd = leap_context_desc_default(LEAP_BACKEND_CPU);
  cd.threads = 1;
  leap_context *ctx = nullptr;
  REQUIRE(leap_context_create(&cd, &ctx) == LEAP_OK);
  const std::string work = tmp_path("fd_work.safetensors");
  lp_lcsc_fd_setup setup = {};
  setup.count = 3, setup.paths = p.data(), setup.work_path = work.c_str(), setup.classifier = cls.c_str();
  setup.reference = "fashion-mnist:test", setup.reference_n = 100, setup.n = 6, setup.steps = 1, setup.solver = LEAP_SOLVER_EULER;
  setup.cfg = 3, setup.seed = 5, setup.batch = 6, setup.ctx = ctx;
  lp_lcsc_fd *fd = nullptr;
  INFO(leap_last_error());
  REQUIRE(lp_lcsc_fd_create(&setup, &fd) == LEAP_OK);
  const double last[3] = {0, 0, 1}, mix[3] = {-0.2, 0.5, 0.7};
  double f1 = 0, f2 = 0, f3 = 0, f_file = 0;
  REQUIRE(lp_lcsc_fd_fitness(fd, 3, mix, &f1) == LEAP_OK);
  REQUIRE(lp_lcsc_fd_fitness(fd, 3, mix, &f2) == LEAP_OK);
  CHECK(std::isfinite(f1));
  CHECK(f1 > 0);
  CHECK(f1 == f2);  // fixed noise and labels: the same candidate, the same FD
  CHECK_FALSE(exists(work));  // the work file is removed
  // the fitness of the last checkpoint's coefficients is that checkpoint's FD
  REQUIRE(lp_lcsc_fd_fitness(fd, 3, last, &f3) == LEAP_OK);
  REQUIRE(lp_lcsc_fd_model(fd, paths[2].c_str(), 1, &f_file) == LEAP_OK);
  CHECK(std::fabs(f3 - f_file) <= 1e-6 * f_file);  // F16 weights sum exactly into F32
  uint64_t forwards = 0;
  lp_lcsc_fd_cost(fd, &forwards, nullptr);
  CHECK(forwards == 4u * 6 * 1 * 2);  // 4 models x 6 images x 1 step x (cond + uncond)
  lp_lcsc_fd_destroy(fd);
  lt::finish(ctx);
}
