// test_util.hpp - small helpers shared by leap's tests: fixture tensors,
// error norms, backends to test on, random data.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

extern "C" {
#include "leap.h"
#include "safetensors.h"
}

namespace lt {

// Skips. A test whose subject is absent on this machine (no Vulkan device,
// no shared fixture) says why and is reported to ctest as skipped, not as
// passed: skip() records it, main.cpp turns a run that passed with a skip
// into exit code kSkipExitCode, and tests/CMakeLists.txt gives ctest that
// code as SKIP_RETURN_CODE (ctest runs each test case in its own process).
// A test that skips only a part (the Vulkan half) still runs the rest; the
// caller returns or moves on after skip().
constexpr int kSkipExitCode = 77;
inline int &skip_count() {
  static int n = 0;
  return n;
}
inline void skip(const std::string &why) {
  skip_count()++;
  WARN("SKIPPED: " << why);
}

inline std::string data(const char *name) { return std::string(LEAP_TEST_DATA) + "/" + name; }

// Reads a float tensor of a safetensors file as double (REQUIREs it exists).
inline std::vector<double> read_f64(const std::string &path, const char *name,
                                    std::vector<int64_t> *shape = nullptr) {
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(path.c_str(), &f) == LEAP_OK);
  const lp_st_tensor *t = nullptr;
  REQUIRE(lp_st_get(f, name, 0, nullptr, &t) == LEAP_OK);
  std::vector<double> v((size_t)t->numel);
  REQUIRE(lp_st_read_f64(f, t, v.data()) == LEAP_OK);
  if (shape) shape->assign(t->shape, t->shape + t->ndim);
  lp_st_close(f);
  return v;
}

inline std::string meta(const std::string &path, const char *key) {
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(path.c_str(), &f) == LEAP_OK);
  const char *v = lp_st_meta(f, key);
  std::string s = v ? v : "";
  lp_st_close(f);
  return s;
}

template <class A, class B> double rel_l2(const A &a, const B &b) {
  REQUIRE(a.size() == b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); i++) {
    num += ((double)a[i] - (double)b[i]) * ((double)a[i] - (double)b[i]);
    den += (double)b[i] * (double)b[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

inline std::vector<float> to_f32(const std::vector<double> &v) {
  return std::vector<float>(v.begin(), v.end());
}

inline std::vector<float> random_f32(size_t n, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto &x : v) x = u(g);
  return v;
}

// A context on the given backend, or nullptr (with a skip()) when no Vulkan
// device exists. Vulkan contexts run under validation when LEAP_VALIDATION=1.
inline leap_context *context(leap_backend_kind kind) {
  leap_context_desc d = leap_context_desc_default(kind);
  leap_context *ctx = nullptr;
  leap_status s = leap_context_create(&d, &ctx);
  if (s == LEAP_ERR_NO_DEVICE) {
    skip(std::string("no Vulkan device, the Vulkan half is skipped: ") + leap_last_error());
    return nullptr;
  }
  INFO(leap_last_error());
  REQUIRE(s == LEAP_OK);
  return ctx;
}

// A CPU-backend context of `threads` threads (REQUIREs it is made).
inline leap_context *cpu_context(int threads) {
  leap_context_desc d = leap_context_desc_default(LEAP_BACKEND_CPU);
  d.threads = threads;
  leap_context *ctx = nullptr;
  REQUIRE(leap_context_create(&d, &ctx) == LEAP_OK);
  return ctx;
}

// Destroys a context after checking it saw no validation message.
inline void finish(leap_context *ctx) {
  if (!ctx) return;
  CHECK(leap_context_validation_messages(ctx) == 0);
  leap_context_destroy(ctx);
}

inline const char *backend_name(leap_backend_kind k) {
  return k == LEAP_BACKEND_CPU ? "cpu" : "vulkan";
}

// Whether something exists at path.
inline bool exists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// The whole file as bytes ("" when it cannot be opened).
inline std::string slurp(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Writes text as the whole file (tests: no temporary-and-rename needed).
inline void write_text(const std::string &path, const std::string &text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

inline bool shared_present(const char *rel) {
  return exists(std::string(LEAP_SHARED_DIR) + "/" + rel);
}

// A fresh mkdtemp folder, removed with its contents at scope exit (even
// when a REQUIRE fails).
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/leap_test_XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { remove_tree(path); }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  std::string file(const std::string &name) const { return path + "/" + name; }
  std::string operator/(const std::string &name) const { return file(name); }
  std::vector<std::string> list() const { return list_dir(path); }
  static std::vector<std::string> list_dir(const std::string &dir) {
    std::vector<std::string> names;
    DIR *d = opendir(dir.c_str());
    if (!d) return names;
    while (struct dirent *e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    return names;
  }
  static void remove_tree(const std::string &p) {
    struct stat sb;
    if (lstat(p.c_str(), &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
      for (const auto &n : list_dir(p)) remove_tree(p + "/" + n);
      rmdir(p.c_str());
    } else {
      unlink(p.c_str());
    }
  }
};

// What a run of the leap CLI gave: its exit code and both streams.
struct CliResult {
  int code;
  std::string out, err;
};

// `leap ARGS` run in dir (env: "VAR=value ..." or ""), stdin from /dev/null,
// stdout and stderr kept in dir's stdout.txt and stderr.txt.
inline CliResult leap_in(const TempDir &dir, const std::string &env, const std::string &args) {
  const std::string cmd = "cd '" + dir.path + "' && " + (env.empty() ? "" : "env " + env + " ") + "timeout 300 '" +
                          std::string(LEAP_CLI_PATH) + "' " + args + " > '" + (dir / "stdout.txt") + "' 2> '" +
                          (dir / "stderr.txt") + "' < /dev/null";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  return CliResult{WEXITSTATUS(status), slurp(dir / "stdout.txt"), slurp(dir / "stderr.txt")};
}

}  // namespace lt
