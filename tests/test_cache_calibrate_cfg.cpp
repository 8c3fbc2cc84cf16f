// test_cache_calibrate_cfg.cpp - ERTACache calibration (sample/
// cache_calibrate.c): each configuration it cannot profile is refused with
// a message saying why, before any sampling; and an unguided run (cfg 1,
// one branch) profiles and samples as the guided one does.
#include <cmath>
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "cache_calibrate.h"
#include "cache_profile.h"
}

namespace {

const std::string kTiny = LEAP_TEST_DATA "/dit_tiny_f32.safetensors";

lp_cache_calib_cfg base_cfg(const int32_t *labels, const int *targets) {
  lp_cache_calib_cfg c{};
  c.images = 2, c.labels = labels, c.seed = 11, c.solver = LEAP_SOLVER_EULER;
  c.schedule = LEAP_SCHEDULE_DEFAULT, c.shift = 1, c.cfg = 1, c.steps = 8, c.window = 4;
  c.targets = targets, c.ntargets = 1;
  return c;
}

}  // namespace

TEST_CASE("cache calibration: what it cannot profile is refused, saying why", "[cache]") {
  leap_context *ctx = lt::cpu_context(1);
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_OK);
  const int32_t labels[2] = {0, 1};
  const int four[1] = {4}, zero[1] = {0}, nine[1] = {9};
  const double many[LP_RECT_MAXCAND + 1] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  struct Case {
    const char *what;
    void (*edit)(lp_cache_calib_cfg &);
    leap_status status;
    const char *says;
  };
  const Case cases[] = {
      {"no image", [](lp_cache_calib_cfg &c) { c.images = 0; }, LEAP_ERR_INVALID_ARG, "need >= 1 image, >= 2 steps"},
      {"one step", [](lp_cache_calib_cfg &c) { c.steps = 1; }, LEAP_ERR_INVALID_ARG, "need >= 1 image, >= 2 steps"},
      {"window 1", [](lp_cache_calib_cfg &c) { c.window = 1; }, LEAP_ERR_INVALID_ARG, "window >= 2"},
      {"no setting", [](lp_cache_calib_cfg &c) { c.ntargets = 0; }, LEAP_ERR_INVALID_ARG, "need >= 1 image"},
      {"Heun", [](lp_cache_calib_cfg &c) { c.solver = LEAP_SOLVER_HEUN; }, LEAP_ERR_UNSUPPORTED,
       "Heun evaluates twice per step"},
      {"negative folds", [](lp_cache_calib_cfg &c) { c.folds = -1; }, LEAP_ERR_INVALID_ARG, "leap profile"},
  };
  for (const Case &k : cases) {
    lp_cache_calib_cfg c = base_cfg(labels, four);
    k.edit(c);
    lp_cache_profile prof{};
    const leap_status s = lp_cache_calibrate(m, &c, &prof);
    const std::string err = s == LEAP_OK ? "" : leap_last_error();
    INFO(k.what << ": " << err);
    CHECK(s == k.status);
    CHECK(err.find(k.says) != std::string::npos);
    if (s == LEAP_OK) lp_cache_profile_free(&prof);
  }
  for (const int *t : {zero, nine}) {  // a computed-step target outside 1..steps
    lp_cache_calib_cfg c = base_cfg(labels, t);
    lp_cache_profile prof{};
    CHECK(lp_cache_calibrate(m, &c, &prof) == LEAP_ERR_INVALID_ARG);
    CHECK(std::string(leap_last_error()).find("computed-step target " + std::to_string(t[0]) + " outside 1..8") !=
          std::string::npos);
  }
  {  // more rectification candidates than a profile holds
    lp_cache_calib_cfg c = base_cfg(labels, four);
    c.shrink = many, c.nshrink = LP_RECT_MAXCAND;
    lp_cache_profile prof{};
    CHECK(lp_cache_calibrate(m, &c, &prof) == LEAP_ERR_INVALID_ARG);
  }
  {  // a video model: the image cache's calibration is for DiTs
    leap_model *v = nullptr;
    REQUIRE(leap_model_load(ctx, LEAP_TEST_DATA "/video_dit_tiny_f32.safetensors", &v) == LEAP_OK);
    lp_cache_calib_cfg c = base_cfg(labels, four);
    lp_cache_profile prof{};
    CHECK(lp_cache_calibrate(v, &c, &prof) == LEAP_ERR_UNSUPPORTED);
    CHECK(std::string(leap_last_error()).find("calibration runs on DiT models only") != std::string::npos);
    leap_model_destroy(v);
  }
  leap_model_destroy(m);
  leap_context_destroy(ctx);
}

// Unguided (cfg 1): one branch. The profile says so, its setting computes
// the target's number of steps and reuses the rest, and leap_sample with it
// at cfg 1 reuses (the images move off full compute) while staying finite;
// the profile does not serve a guided run.
TEST_CASE("cache calibration: an unguided run profiles one branch and samples with it", "[cache]") {
  leap_context *ctx = lt::cpu_context(1);
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, kTiny.c_str(), &m) == LEAP_OK);
  const int32_t labels[2] = {0, 1};
  const int four[1] = {4};
  lp_cache_calib_cfg c = base_cfg(labels, four);
  lp_cache_profile prof{};
  REQUIRE(lp_cache_calibrate(m, &c, &prof) == LEAP_OK);
  CHECK(prof.branches == 1);
  CHECK(prof.cfg == 1.0);
  REQUIRE(prof.nsettings == 1);
  CHECK(prof.settings[0].computed == 4);
  int reused = 0;
  for (int i = 0; i < prof.steps; i++) reused += prof.settings[0].reuse[i];
  CHECK(reused == 4);
  lt::TempDir dir;
  const std::string path = dir / "p.json";
  REQUIRE(lp_cache_profile_write(&prof, path.c_str()) == LEAP_OK);
  const int n = 2;
  leap_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  const size_t numel = (size_t)info.in_channels * info.input_size * info.input_size;
  leap_sample_desc sd = leap_sample_desc_default();
  sd.n = n, sd.labels = labels, sd.steps = 8, sd.cfg = 1, sd.seed = 5;
  std::vector<float> full(n * numel), cached(full.size());
  REQUIRE(leap_sample(m, &sd, full.data()) == LEAP_OK);
  leap_cache_desc cd = leap_cache_desc_default();
  cd.profile = path.c_str(), cd.branches = 1, cd.images = n, cd.steps = 8, cd.cfg = 1;
  leap_cache *cache = nullptr;
  REQUIRE(leap_cache_create(ctx, &cd, &cache) == LEAP_OK);
  sd.cache = cache;
  REQUIRE(leap_sample(m, &sd, cached.data()) == LEAP_OK);
  leap_cache_destroy(cache);
  double diff = 0;
  bool finite = true;
  for (size_t k = 0; k < full.size(); k++) {
    finite = finite && std::isfinite(cached[k]);
    diff = std::max(diff, (double)std::fabs(cached[k] - full[k]));
  }
  CHECK(finite);
  CHECK(diff > 1e-6);
  // guided sampling cannot use a one-branch profile
  cd.branches = 2, cd.cfg = 3;
  cache = nullptr;
  CHECK(leap_cache_create(ctx, &cd, &cache) != LEAP_OK);
  CHECK(cache == nullptr);
  lp_cache_profile_free(&prof);
  leap_model_destroy(m);
  leap_context_destroy(ctx);
}
