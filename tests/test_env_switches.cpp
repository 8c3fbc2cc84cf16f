// test_env_switches.cpp - the paths a machine like the test machine never
// takes on its own, forced by the library's test switches and compared with
// the normal path on the same data: the baseline CPU kernels
// (LEAP_CPU_KERNELS=base, where AVX2 runs), grid-stride dispatches over
// many passes (LEAP_VK_MAX_GROUPS, past the 65535-workgroup cap in effect),
// the generic Vulkan kernels (LEAP_VK_KERNELS=generic). Also what a machine
// without a Vulkan device sees: exit code 3 from the CLI, and skips reported
// to ctest as skips.
#include <sys/wait.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";

// Sets (or with value nullptr clears) an environment variable for a scope.
struct Env {
  std::string name;
  Env(const char *n, const char *value) : name(n) {
    if (value) setenv(n, value, 1);
    else unsetenv(n);
  }
  ~Env() { unsetenv(name.c_str()); }
};

// Samples the tiny model (2 images, 3 Euler steps, guidance 3) on a fresh
// context of the given backend, with a uniform cache of 2 computed steps
// when cached (the cache's kernels run too). Empty when there is no such
// device (after lt::skip).
std::vector<float> sample_tiny(leap_backend_kind kind, bool cached) {
  leap_context_desc cd = leap_context_desc_default(kind);
  cd.threads = 1;
  leap_context *ctx = nullptr;
  const leap_status cs = leap_context_create(&cd, &ctx);
  if (cs == LEAP_ERR_NO_DEVICE) {
    lt::skip(std::string("no Vulkan device: ") + leap_last_error());
    return {};
  }
  INFO(leap_last_error());
  REQUIRE(cs == LEAP_OK);
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_OK);
  leap_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  const int n = 2, steps = 3;
  const int32_t labels[n] = {0, 1};
  leap_sample_desc sd = leap_sample_desc_default();
  sd.n = n, sd.labels = labels, sd.steps = steps, sd.cfg = 3, sd.seed = 11;
  leap_cache *c = nullptr;
  if (cached) {
    leap_cache_desc d = leap_cache_desc_default();
    d.policy = LEAP_CACHE_UNIFORM, d.uniform_computed = 2;
    d.branches = 2, d.images = n, d.steps = steps, d.cfg = 3;
    REQUIRE(leap_cache_create(ctx, &d, &c) == LEAP_OK);
    sd.cache = c;
  }
  std::vector<float> x((size_t)n * info.in_channels * info.input_size * info.input_size);
  REQUIRE(leap_sample(m, &sd, x.data()) == LEAP_OK);
  if (c) leap_cache_destroy(c);
  leap_model_destroy(m);
  if (kind == LEAP_BACKEND_VULKAN) CHECK(leap_context_validation_messages(ctx) == 0);
  leap_context_destroy(ctx);
  return x;
}

}  // namespace

TEST_CASE("LEAP_CPU_KERNELS=base: the baseline CPU kernels sample as the chosen ones do", "[env]") {
  const std::vector<float> chosen = sample_tiny(LEAP_BACKEND_CPU, true);
  std::vector<float> base;
  {
    Env e("LEAP_CPU_KERNELS", "base");
    base = sample_tiny(LEAP_BACKEND_CPU, true);
  }
  // The two builds are the same source compiled for two instruction sets;
  // they could differ in rounding only (measured here: bit-identical, as C11
  // mode does not contract to FMA). 1e-5 leaves room for a compiler that
  // does, and is far below a wrong kernel's difference.
  const double d = lt::rel_l2(base, chosen);
  INFO("relative L2 difference " << d);
  CHECK(d < 1e-5);
}

TEST_CASE("LEAP_VK_MAX_GROUPS: grid-stride kernels looping over many passes give the same bits", "[env][vulkan]") {
  for (const char *kernels : {(const char *)nullptr, "generic"}) {
    INFO("LEAP_VK_KERNELS=" << (kernels ? kernels : "(default)"));
    Env k("LEAP_VK_KERNELS", kernels);
    const std::vector<float> one_pass = sample_tiny(LEAP_BACKEND_VULKAN, true);
    if (one_pass.empty()) return;
    Env cap("LEAP_VK_MAX_GROUPS", "1");
    const std::vector<float> many = sample_tiny(LEAP_BACKEND_VULKAN, true);
    // Each element is computed by the same code in another invocation.
    CHECK(many == one_pass);
    const std::vector<float> cpu = sample_tiny(LEAP_BACKEND_CPU, true);
    CHECK(lt::rel_l2(many, cpu) < 1e-4);
  }
}

TEST_CASE("without a Vulkan device: the CLI exits 3 and Vulkan tests report a skip", "[env][cli]") {
  lt::TempDir dir;
  // The loader finds no driver when its list of ICDs names none that exists.
  const std::string no_icd = "VK_ICD_FILENAMES='" + (dir / "none.json") + "' VK_DRIVER_FILES='" +
                             (dir / "none.json") + "' ";
  const std::string out = dir / "out.txt", png = dir / "x.png";
  int rc = std::system((no_icd + "'" + LEAP_CLI_PATH + "' sample --model '" + kTiny +
                        "' --backend vulkan --n 1 --steps 1 --out '" + png + "' > '" + out + "' 2>&1")
                           .c_str());
  INFO(lt::slurp(out));
  REQUIRE(WIFEXITED(rc));
  CHECK(WEXITSTATUS(rc) == 3);
  CHECK(lt::slurp(out).find("leap: ") != std::string::npos);
  CHECK(!lt::exists(png));
  // A Vulkan test case of this binary, run as ctest runs it, exits with
  // the skip code and says why.
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  REQUIRE(len > 0);
  self[len] = 0;
  rc = std::system((no_icd + "'" + self + "' 'vulkan device selection' > '" + out + "' 2>&1").c_str());
  INFO(lt::slurp(out));
  REQUIRE(WIFEXITED(rc));
  CHECK(WEXITSTATUS(rc) == lt::kSkipExitCode);
  CHECK(lt::slurp(out).find("SKIPPED: no Vulkan device") != std::string::npos);
}
