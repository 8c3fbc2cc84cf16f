// test_struct_size.cpp - leap.h's struct_size promise for every public
// struct: a caller built against an older header passes a smaller struct.
// Each test defines the older layout (a prefix of today's, as appending
// fields makes it) and checks that the call reads what it has, gives the
// rest its default, and writes nothing past its struct_size (a guard after
// the old struct must survive). struct_size 0 (never set) is an error.
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";
const unsigned char kGuard = 0xA5;

// An older struct T with guard bytes after it, all filled with kGuard.
template <class T> struct Guarded {
  T s;
  unsigned char guard[64];
  Guarded() {
    std::memset(this, kGuard, sizeof *this);
    s.struct_size = sizeof s;
  }
  bool guard_intact() const {
    for (unsigned char g : guard)
      if (g != kGuard) return false;
    return true;
  }
};

leap_context *cpu() {
  leap_context_desc cd = leap_context_desc_default(LEAP_BACKEND_CPU);
  cd.threads = 1;
  leap_context *ctx = nullptr;
  REQUIRE(leap_context_create(&cd, &ctx) == LEAP_OK);
  return ctx;
}

// leap_model_info as 0.2 callers that know no frame axis see it.
struct model_info_noframes {
  uint32_t struct_size;
  char arch[32];
  int input_size, patch_size, in_channels, out_channels, hidden_size, depth, num_heads;
  double mlp_ratio;
  int num_classes, null_class, learn_sigma;
  leap_prediction prediction;
  double timestep_scale;
  int64_t parameters;
  int tokens;
  char weight_dtype[8];
};
static_assert(offsetof(model_info_noframes, weight_dtype) == offsetof(leap_model_info, weight_dtype), "prefix");
static_assert(sizeof(model_info_noframes) < sizeof(leap_model_info), "older is smaller");

// leap_sample_desc of 0.0 (no cache) and 0.1 (no frames).
struct sample_desc_00 {
  uint32_t struct_size;
  int n;
  const int32_t *labels;
  int steps;
  leap_solver solver;
  leap_schedule_kind schedule;
  double shift, cfg, eta;
  uint64_t seed;
  const float *noise;
  leap_progress_fn progress;
  void *progress_user;
};
struct sample_desc_01 {
  sample_desc_00 base;
  struct leap_cache *cache;
};
static_assert(sizeof(sample_desc_00) == offsetof(leap_sample_desc, cache), "prefix");
static_assert(offsetof(sample_desc_01, cache) == offsetof(leap_sample_desc, cache), "prefix");
static_assert(sizeof(sample_desc_01) < sizeof(leap_sample_desc), "older is smaller");

}  // namespace

TEST_CASE("struct_size: leap_model_info, older and current", "[api]") {
  leap_context *ctx = cpu();
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_OK);
  leap_model_info now{};
  now.struct_size = sizeof now;
  REQUIRE(leap_model_get_info(m, &now) == LEAP_OK);
  CHECK(now.struct_size == sizeof now);
  // The image DiT is one square frame.
  CHECK(now.height == now.input_size);
  CHECK(now.width == now.input_size);
  CHECK(now.frames_per_chunk == 1);
  CHECK(now.clip_frames == 1);

  Guarded<model_info_noframes> old;
  REQUIRE(leap_model_get_info(m, reinterpret_cast<leap_model_info *>(&old.s)) == LEAP_OK);
  CHECK(old.s.struct_size == sizeof old.s);
  CHECK(std::string(old.s.arch) == now.arch);
  CHECK(old.s.hidden_size == now.hidden_size);
  CHECK(old.s.parameters == now.parameters);
  CHECK(std::string(old.s.weight_dtype) == now.weight_dtype);
  CHECK(old.guard_intact());

  leap_model_info unset{};
  CHECK(leap_model_get_info(m, &unset) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("struct_size") != std::string::npos);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
}

TEST_CASE("struct_size: leap_weight_info from an older, smaller caller", "[api]") {
  struct weight_info_name_only {
    uint32_t struct_size;
    char name[LEAP_WEIGHT_NAME_MAX];
  };
  leap_context *ctx = cpu();
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_OK);
  Guarded<weight_info_name_only> old;
  REQUIRE(leap_model_weight(m, 0, reinterpret_cast<leap_weight_info *>(&old.s)) == LEAP_OK);
  CHECK(std::string(old.s.name) == "x_embedder.proj.weight");
  CHECK(old.guard_intact());
  leap_model_destroy(m);
  leap_context_destroy(ctx);
}

TEST_CASE("struct_size: leap_sample_desc of 0.0 and 0.1 sample as today's", "[api]") {
  leap_context *ctx = cpu();
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_OK);
  leap_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  const int32_t labels[2] = {1, 0};
  leap_sample_desc now = leap_sample_desc_default();
  now.n = 2, now.labels = labels, now.steps = 3, now.cfg = 2, now.seed = 9;
  const size_t count = 2 * (size_t)info.in_channels * info.height * info.width;
  std::vector<float> want(count), got(count, NAN);
  REQUIRE(leap_sample(m, &now, want.data()) == LEAP_OK);

  sample_desc_01 v01;
  std::memcpy(&v01, &now, sizeof v01);
  v01.base.struct_size = sizeof v01;
  REQUIRE(leap_sample(m, reinterpret_cast<const leap_sample_desc *>(&v01), got.data()) == LEAP_OK);
  CHECK(got == want);

  sample_desc_00 v00;
  std::memcpy(&v00, &now, sizeof v00);
  v00.struct_size = sizeof v00;
  std::fill(got.begin(), got.end(), NAN);
  REQUIRE(leap_sample(m, reinterpret_cast<const leap_sample_desc *>(&v00), got.data()) == LEAP_OK);
  CHECK(got == want);

  // frames: 0 and 1 are an image model's one frame; any other is refused.
  now.frames = 1;
  REQUIRE(leap_sample(m, &now, got.data()) == LEAP_OK);
  CHECK(got == want);
  now.frames = 4;
  CHECK(leap_sample(m, &now, got.data()) == LEAP_ERR_UNSUPPORTED);
  CHECK(std::string(leap_last_error()).find("frames = 4") != std::string::npos);
  now.frames = -1;
  CHECK(leap_sample(m, &now, got.data()) == LEAP_ERR_INVALID_ARG);
  now.frames = 0;
  now.struct_size = 0;
  CHECK(leap_sample(m, &now, got.data()) == LEAP_ERR_INVALID_ARG);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
}

TEST_CASE("struct_size: leap_context_desc and leap_vulkan_external, older and smaller", "[api]") {
  // A caller that knew only the backend: threads and validation default.
  struct context_desc_backend_only {
    uint32_t struct_size;
    leap_backend_kind backend;
  } old = {sizeof old, LEAP_BACKEND_CPU};
  leap_context *ctx = nullptr;
  REQUIRE(leap_context_create(reinterpret_cast<const leap_context_desc *>(&old), &ctx) == LEAP_OK);
  CHECK(leap_context_backend(ctx) == LEAP_BACKEND_CPU);
  leap_context_destroy(ctx);
  leap_context_desc unset{};
  CHECK(leap_context_create(&unset, &ctx) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("struct_size") != std::string::npos);

  // An older external struct without the handles it needs: the error is
  // about the handles (the struct was read), not about its size.
  struct vulkan_external_instance_only {
    uint32_t struct_size;
    void *instance;
  } ext = {sizeof ext, nullptr};
  CHECK(leap_context_create_vulkan_external(reinterpret_cast<const leap_vulkan_external *>(&ext), &ctx) ==
        LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("required") != std::string::npos);
}

TEST_CASE("struct_size: leap_device_info for an older, smaller caller", "[api][vulkan]") {
  int n = 0;
  if (leap_vulkan_device_count(&n) != LEAP_OK || n < 1) {
    WARN("no Vulkan device: leap_device_info not exercised");
    return;
  }
  struct device_info_name_only {
    uint32_t struct_size;
    char name[256];
  };
  leap_device_info now{};
  now.struct_size = sizeof now;
  REQUIRE(leap_vulkan_device_info(0, &now) == LEAP_OK);
  Guarded<device_info_name_only> old;
  REQUIRE(leap_vulkan_device_info(0, reinterpret_cast<leap_device_info *>(&old.s)) == LEAP_OK);
  CHECK(std::string(old.s.name) == now.name);
  CHECK(old.guard_intact());
  leap_device_info unset{};
  CHECK(leap_vulkan_device_info(0, &unset) == LEAP_ERR_INVALID_ARG);
}

TEST_CASE("struct_size: leap_cache_desc and leap_cache_stats, older and smaller", "[api][cache]") {
  leap_context *ctx = cpu();
  // A caller from before the run checks (model_id .. cfg) were appended.
  leap_cache_desc now = leap_cache_desc_default();
  now.policy = LEAP_CACHE_UNIFORM, now.uniform_computed = 5, now.images = 2;
  const size_t old_size = offsetof(leap_cache_desc, model_id);
  std::vector<unsigned char> old(old_size);
  std::memcpy(old.data(), &now, old_size);
  const uint32_t size32 = (uint32_t)old_size;
  std::memcpy(old.data(), &size32, sizeof size32);
  leap_cache *c = nullptr;
  REQUIRE(leap_cache_create(ctx, reinterpret_cast<const leap_cache_desc *>(old.data()), &c) == LEAP_OK);
  struct cache_stats_evaluations_only {
    uint32_t struct_size;
    int evaluations;
  };
  Guarded<cache_stats_evaluations_only> st;
  REQUIRE(leap_cache_get_stats(c, reinterpret_cast<leap_cache_stats *>(&st.s)) == LEAP_OK);
  CHECK(st.s.evaluations == 0);
  CHECK(st.guard_intact());
  leap_cache_stats full{};
  full.struct_size = sizeof full;
  REQUIRE(leap_cache_get_stats(c, &full) == LEAP_OK);
  CHECK(full.planned_computed == 5);  // of the default 50 steps
  leap_cache_destroy(c);
  leap_context_destroy(ctx);
}

TEST_CASE("struct_size: leap_lcsc_combine_desc and _stats, older and smaller", "[api][lcsc]") {
  lt::TempDir dir;
  const std::string out = dir / "sum.safetensors";
  const char *paths[2] = {kTiny.c_str(), kTiny.c_str()};
  const double coefs[2] = {0.25, 0.75};
  // A caller from before out_dtype and ctx: the first file's dtype, on the host.
  struct combine_desc_old {
    uint32_t struct_size;
    int count;
    const char *const *paths;
    const double *coefs;
    const char *out_path;
  } d = {sizeof d, 2, paths, coefs, nullptr};
  d.out_path = out.c_str();
  static_assert(offsetof(combine_desc_old, out_path) == offsetof(leap_lcsc_combine_desc, out_path), "prefix");
  struct combine_stats_old {
    uint32_t struct_size;
    uint64_t bytes_read;
  };
  Guarded<combine_stats_old> st;
  REQUIRE(leap_lcsc_combine(reinterpret_cast<const leap_lcsc_combine_desc *>(&d),
                            reinterpret_cast<leap_lcsc_combine_stats *>(&st.s)) == LEAP_OK);
  CHECK(st.s.bytes_read > 0);
  CHECK(st.guard_intact());
  // 0.25 w + 0.75 w = w, in the first file's dtype.
  const std::vector<double> a = lt::read_f64(kTiny, "pos_embed"), b = lt::read_f64(out, "pos_embed");
  REQUIRE(a.size() == b.size());
  for (size_t k = 0; k < a.size(); k++) CHECK(std::fabs(a[k] - b[k]) <= 1e-6 * (1 + std::fabs(a[k])));
}

namespace {
double bowl(const double *c, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += (c[i] - 0.5) * (c[i] - 0.5);
  return s;
}
leap_status bowl_fitness(void *user, int count, const double *coefs, double *fitness) {
  ++*static_cast<int *>(user);
  *fitness = bowl(coefs, count);
  return LEAP_OK;
}
}  // namespace

TEST_CASE("struct_size: leap_lcsc_search_desc without the progress fields", "[api][lcsc]") {
  leap_lcsc_search_desc now = leap_lcsc_search_desc_default();
  int calls = 0;
  now.count = 2, now.budget = 20, now.population = 4, now.elite = 1, now.tournament = 2;
  now.fitness = bowl_fitness, now.fitness_user = &calls;
  const size_t old_size = offsetof(leap_lcsc_search_desc, progress);
  std::vector<unsigned char> old(old_size);
  std::memcpy(old.data(), &now, old_size);
  const uint32_t size32 = (uint32_t)old_size;
  std::memcpy(old.data(), &size32, sizeof size32);
  double best[2] = {0, 0}, fit = 0;
  REQUIRE(leap_lcsc_search(reinterpret_cast<const leap_lcsc_search_desc *>(old.data()), best, &fit) == LEAP_OK);
  CHECK(calls == 20);
  CHECK(fit == bowl(best, 2));
}
