// test_cache_api_errors.cpp - leap.h's cache calls given a bad description
// or used with the wrong run: each is an error that names the field and the
// value (a host writes these structs by hand), makes no cache, and leaves a
// sample buffer untouched.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "cache_profile.h"
}

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";

std::string error_of(leap_status s) { return s == LEAP_OK ? "" : leap_last_error(); }

// A valid profile file for 5 Euler steps at cfg 3 of 2 images, made for
// model id 0123456789abcdef (not the tiny model's).
std::string write_profile(const lt::TempDir &dir) {
  lp_cache_profile p{};
  p.steps = 5, p.branches = 2, p.channels = 32, p.calib_images = 2, p.window = 4, p.shift = 1, p.cfg = 3;
  p.solver = LEAP_SOLVER_EULER, p.schedule = LEAP_SCHEDULE_DEFAULT, p.level = LEAP_CACHE_HIDDEN;
  std::snprintf(p.model_id, sizeof p.model_id, "0123456789abcdef");
  REQUIRE(lp_cache_profile_alloc(&p, 1) == LEAP_OK);
  p.calib_seed = 7, p.calib_labels[0] = 1, p.calib_labels[1] = 3;
  p.settings[0].computed = 4, p.settings[0].reuse[4] = 1;
  const std::string path = dir / "p.json";
  REQUIRE(lp_cache_profile_write(&p, path.c_str()) == LEAP_OK);
  lp_cache_profile_free(&p);
  return path;
}

}  // namespace

TEST_CASE("leap_cache_create: each out-of-range field is refused by name, and no cache is made", "[cache][api]") {
  leap_context_desc cdesc = leap_context_desc_default(LEAP_BACKEND_CPU);
  cdesc.threads = 1;
  leap_context *ctx = nullptr;
  REQUIRE(leap_context_create(&cdesc, &ctx) == LEAP_OK);
  lt::TempDir dir;
  const std::string profile = write_profile(dir);
  leap_cache_desc base = leap_cache_desc_default();
  base.policy = LEAP_CACHE_UNIFORM, base.uniform_computed = 3, base.branches = 2, base.images = 2, base.steps = 5;
  base.cfg = 3;
  leap_cache *c = nullptr;
  REQUIRE(leap_cache_create(ctx, &base, &c) == LEAP_OK);
  leap_cache_destroy(c);
  struct Case {
    leap_cache_desc d;
    std::string says;
  };
  std::vector<Case> cases;
  auto add = [&](auto change, const std::string &says) {
    leap_cache_desc d = base;
    change(d);
    cases.push_back({d, says});
  };
  add([](leap_cache_desc &d) { d.policy = (leap_cache_policy)99; }, "leap_cache_create: unknown policy 99");
  add([](leap_cache_desc &d) { d.policy = (leap_cache_policy)-1; }, "leap_cache_create: unknown policy -1");
  add([](leap_cache_desc &d) { d.level = (leap_cache_level)7; }, "leap_cache_create: unknown level 7");
  add([](leap_cache_desc &d) { d.branches = 3; }, "branches 3 (1..2), images 2, steps 5 out of range");
  add([](leap_cache_desc &d) { d.branches = 0; }, "branches 0 (1..2)");
  add([](leap_cache_desc &d) { d.images = 0; }, "images 0, steps 5 out of range");
  add([](leap_cache_desc &d) { d.steps = 0; }, "steps 0 out of range");
  add([](leap_cache_desc &d) { d.steps = 10001; }, "steps 10001 out of range");
  add([](leap_cache_desc &d) { d.timestep_adjust = 3; }, "leap_cache_create: timestep_adjust 3 is not 0, 1 or 2");
  add([](leap_cache_desc &d) { d.timestep_adjust = -1; }, "timestep_adjust -1 is not 0, 1 or 2");
  add([](leap_cache_desc &d) { d.uniform_computed = 0; }, "leap_cache_create: uniform_computed 0 outside 1..5");
  add([](leap_cache_desc &d) { d.uniform_computed = 6; }, "uniform_computed 6 outside 1..5");
  add([](leap_cache_desc &d) { d.policy = LEAP_CACHE_TEACACHE, d.teacache_threshold = -0.1; },
      "leap_cache_create: teacache_threshold must be >= 0");
  add([](leap_cache_desc &d) {
        d.policy = LEAP_CACHE_TEACACHE, d.teacache_threshold = std::numeric_limits<double>::quiet_NaN();
      },
      "teacache_threshold must be >= 0");
  add([](leap_cache_desc &d) { d.policy = LEAP_CACHE_ERTA, d.profile = nullptr; },
      "leap_cache_create: the ERTA policy needs a profile (leap profile)");
  add([](leap_cache_desc &d) { d.policy = LEAP_CACHE_TEACACHE, d.teacache_threshold = 0.1, d.profile = nullptr; },
      "the TeaCache policy needs a profile");
  add([&](leap_cache_desc &d) { d.policy = LEAP_CACHE_ERTA, d.profile = profile.c_str(), d.setting = 1; },
      profile + ": setting 1 outside 0..0");
  add([&](leap_cache_desc &d) { d.policy = LEAP_CACHE_ERTA, d.profile = profile.c_str(), d.setting = -1; },
      profile + ": setting -1 outside 0..0");
  for (const Case &k : cases) {
    leap_cache *made = reinterpret_cast<leap_cache *>(&base); // must come back NULL
    const leap_status s = leap_cache_create(ctx, &k.d, &made);
    INFO(error_of(s));
    CHECK(s == LEAP_ERR_INVALID_ARG);
    CHECK(error_of(s).find(k.says) != std::string::npos);
    CHECK(made == nullptr);
  }
  // The same profile at a good setting is a cache (the run fields match it).
  leap_cache_desc good = base;
  good.policy = LEAP_CACHE_ERTA, good.profile = profile.c_str();
  REQUIRE(leap_cache_create(ctx, &good, &c) == LEAP_OK);
  leap_cache_stats st{};
  st.struct_size = sizeof st;
  REQUIRE(leap_cache_get_stats(c, &st) == LEAP_OK);
  CHECK(st.planned_computed == 4);
  // Steps and schedules outside the cache's run.
  double phi = 0;
  CHECK(leap_cache_step_scale(c, 5, &phi, nullptr) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == "leap_cache_step_scale: step 5 outside 0..4");
  CHECK(leap_cache_step_scale(c, -1, &phi, nullptr) == LEAP_ERR_INVALID_ARG);
  CHECK(leap_cache_step_scale(c, 0, nullptr, nullptr) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == "leap_cache_step_scale: NULL argument");
  std::vector<double> t(7, 0.5);
  CHECK(leap_cache_adjust_schedule(c, 0, t.data(), 6) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == "leap_cache_adjust_schedule: 6 steps, the cache has 5");
  CHECK(leap_cache_adjust_schedule(c, 0, nullptr, 5) == LEAP_ERR_INVALID_ARG);
  CHECK(t == std::vector<double>(7, 0.5));
  CHECK(leap_cache_get_stats(c, nullptr) == LEAP_ERR_INVALID_ARG);
  leap_cache_destroy(c);
  leap_context_destroy(ctx);
}

TEST_CASE("leap_sample with a cache made for another run: an error naming both runs, the buffer untouched",
          "[cache][api]") {
  leap_context_desc cdesc = leap_context_desc_default(LEAP_BACKEND_CPU);
  cdesc.threads = 1;
  leap_context *ctx = nullptr;
  REQUIRE(leap_context_create(&cdesc, &ctx) == LEAP_OK);
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_OK);
  lt::TempDir dir;
  const std::string profile = write_profile(dir);
  const int32_t labels[2] = {1, 3};
  leap_sample_desc sd = leap_sample_desc_default();
  sd.n = 2, sd.labels = labels, sd.steps = 5, sd.cfg = 3, sd.seed = 1;
  const size_t count = (size_t)2 * 3 * 8 * 8;
  leap_cache_desc base = leap_cache_desc_default();
  base.policy = LEAP_CACHE_UNIFORM, base.uniform_computed = 3, base.branches = 2, base.images = 2, base.steps = 5;
  base.cfg = 3;
  struct Case {
    leap_cache_desc d;
    leap_status status;
    std::string says;
  };
  std::vector<Case> cases;
  auto add = [&](auto change, leap_status status, const std::string &says) {
    leap_cache_desc d = base;
    change(d);
    cases.push_back({d, status, says});
  };
  add([](leap_cache_desc &d) { d.steps = 6, d.uniform_computed = 3; }, LEAP_ERR_INVALID_ARG,
      "leap_sample: the cache was made for 6 steps of euler/default shift 1 cfg 3, the run asks for 5 steps of "
      "euler/default shift 1 cfg 3");
  add([](leap_cache_desc &d) { d.cfg = 2; }, LEAP_ERR_INVALID_ARG, "made for 5 steps of euler/default shift 1 cfg 2");
  add([](leap_cache_desc &d) { d.images = 3; }, LEAP_ERR_INVALID_ARG,
      "leap_sample: the cache was made for 2 branch(es) of 3 images, the run has 2 of 2");
  add([](leap_cache_desc &d) { d.branches = 1; }, LEAP_ERR_INVALID_ARG, "made for 1 branch(es) of 2 images");
  add([](leap_cache_desc &d) { d.level = LEAP_CACHE_OUTPUT; }, LEAP_ERR_UNSUPPORTED,
      "leap_sample: caches the block stack (LEAP_CACHE_HIDDEN) only");
  // A profile made for another model, its id unchecked at creation (a
  // host's NULL model_id): leap_sample checks it against its model.
  add([&](leap_cache_desc &d) { d.policy = LEAP_CACHE_ERTA, d.profile = profile.c_str(), d.model_id = nullptr; },
      LEAP_ERR_INVALID_ARG,
      profile + ": the profile was made for model id 0123456789abcdef, this model is ");
  std::vector<float> out(count, 42.0f);
  for (const Case &k : cases) {
    leap_cache *c = nullptr;
    REQUIRE(leap_cache_create(ctx, &k.d, &c) == LEAP_OK);
    leap_sample_desc one = sd;
    one.cache = c;
    const leap_status s = leap_sample(m, &one, out.data());
    INFO(error_of(s));
    CHECK(s == k.status);
    CHECK(error_of(s).find(k.says) != std::string::npos);
    leap_cache_destroy(c);
  }
  size_t touched = 0;
  for (float v : out) touched += v != 42.0f;
  CHECK(touched == 0);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
}
