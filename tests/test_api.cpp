// test_api.cpp - public functions of leap.h no other test calls:
// leap_status_string, leap_tensor_wrap_host, leap_context_backend,
// leap_noise_fill, leap_cache_reset and leap_cache_adjust_schedule (the
// Vulkan wrapping ones are in test_vulkan_ops.cpp, with the host device).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "cache_profile.h"
}

TEST_CASE("leap_status_string names every status, distinctly, and never returns NULL", "[api]") {
  std::set<std::string> names;
  for (int s = LEAP_OK; s <= LEAP_ERR_INTERRUPTED; s++) {
    const char *n = leap_status_string((leap_status)s);
    REQUIRE(n != nullptr);
    INFO("status " << s << ": " << n);
    CHECK(std::strlen(n) > 0);
    names.insert(n);
  }
  CHECK(names.size() == (size_t)LEAP_ERR_INTERRUPTED + 1);
  CHECK(std::string(leap_status_string(LEAP_ERR_NO_DEVICE)).find("device") != std::string::npos);
  const char *unknown = leap_status_string((leap_status)1000);
  REQUIRE(unknown != nullptr);
  CHECK(names.count(unknown) == 0);
}

TEST_CASE("leap_tensor_wrap_host: the tensor is the caller's memory, both ways", "[api]") {
  leap_context *ctx = lt::context(LEAP_BACKEND_CPU);
  const int64_t shape[2] = {3, 5};
  std::vector<float> host = lt::random_f32(15, 31);
  leap_tensor *t = nullptr;
  INFO(leap_last_error());
  REQUIRE(leap_tensor_wrap_host(ctx, LEAP_F32, 2, shape, host.data(), &t) == LEAP_OK);
  // Reads see the caller's values, also after the caller changes them.
  std::vector<float> got(15);
  REQUIRE(leap_tensor_read(t, got.data(), got.size() * 4) == LEAP_OK);
  CHECK(got == host);
  host[7] = 42.0f;
  REQUIRE(leap_tensor_read(t, got.data(), got.size() * 4) == LEAP_OK);
  CHECK(got[7] == 42.0f);
  // Writes land in the caller's memory.
  const std::vector<float> other = lt::random_f32(15, 32);
  REQUIRE(leap_tensor_write(t, other.data(), other.size() * 4) == LEAP_OK);
  CHECK(host == other);
  leap_tensor_destroy(t);
  CHECK(host == other); // destroying the wrapper leaves the memory alone
  // Bad arguments: no memory, and a shape that is not one.
  CHECK(leap_tensor_wrap_host(ctx, LEAP_F32, 2, shape, nullptr, &t) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("NULL data") != std::string::npos);
  const int64_t bad[2] = {3, -1};
  CHECK(leap_tensor_wrap_host(ctx, LEAP_F32, 2, bad, host.data(), &t) == LEAP_ERR_INVALID_ARG);
  leap_context_destroy(ctx);
  // Host memory on a Vulkan context is refused with the way out.
  leap_context *vk = lt::context(LEAP_BACKEND_VULKAN);
  if (!vk) return;
  CHECK(leap_tensor_wrap_host(vk, LEAP_F32, 2, shape, host.data(), &t) == LEAP_ERR_UNSUPPORTED);
  CHECK(std::string(leap_last_error()).find("leap_tensor_create") != std::string::npos);
  lt::finish(vk);
}

TEST_CASE("leap_context_backend, leap_noise_fill, leap_cache_reset and leap_cache_adjust_schedule", "[api]") {
  leap_context *ctx = lt::context(LEAP_BACKEND_CPU);
  CHECK(leap_context_backend(ctx) == LEAP_BACKEND_CPU);
  // Noise: image i does not depend on how many are drawn; unit normals
  // (mean and standard deviation of 3000 draws within 4 standard errors:
  // 4 / sqrt(3000) and 4 / sqrt(2 * 3000)).
  const size_t numel = 1000;
  std::vector<float> three(3 * numel), two(2 * numel);
  REQUIRE(leap_noise_fill(17, 3, numel, three.data()) == LEAP_OK);
  REQUIRE(leap_noise_fill(17, 2, numel, two.data()) == LEAP_OK);
  CHECK(std::vector<float>(three.begin(), three.begin() + 2 * numel) == two);
  double mean = 0, sq = 0;
  for (float v : three) mean += v, sq += (double)v * v;
  mean /= three.size();
  const double sd = std::sqrt(sq / three.size() - mean * mean);
  CHECK(std::fabs(mean) < 4 / std::sqrt(3000.0));
  CHECK(std::fabs(sd - 1) < 4 / std::sqrt(6000.0));

  // Reset: the counters return to 0 and the residual is forgotten, so a
  // step the policy reuses computes (nothing cached yet).
  leap_cache_desc d = leap_cache_desc_default();
  d.policy = LEAP_CACHE_UNIFORM, d.uniform_computed = 2, d.branches = 1, d.images = 2, d.steps = 4;
  leap_cache *c = nullptr;
  REQUIRE(leap_cache_create(ctx, &d, &c) == LEAP_OK);
  const int64_t shape[3] = {2, 3, 4};
  leap_tensor *h = nullptr;
  REQUIRE(leap_tensor_create(ctx, LEAP_F32, 3, shape, &h) == LEAP_OK);
  int compute = -1;
  REQUIRE(leap_cache_begin(c, 0, LEAP_CACHE_ALL_BRANCHES, h, h, &compute) == LEAP_OK);
  REQUIRE(compute == 1);
  REQUIRE(leap_cache_end(c, 0, LEAP_CACHE_ALL_BRANCHES, h) == LEAP_OK);
  REQUIRE(leap_cache_begin(c, 1, LEAP_CACHE_ALL_BRANCHES, h, h, &compute) == LEAP_OK);
  CHECK(compute == 0);
  leap_cache_stats st{};
  st.struct_size = sizeof st;
  REQUIRE(leap_cache_get_stats(c, &st) == LEAP_OK);
  CHECK((st.computed == 1 && st.reused == 1));
  REQUIRE(leap_cache_reset(c) == LEAP_OK);
  REQUIRE(leap_cache_get_stats(c, &st) == LEAP_OK);
  CHECK((st.computed == 0 && st.reused == 0 && st.evaluations == 0));
  REQUIRE(leap_cache_begin(c, 1, LEAP_CACHE_ALL_BRANCHES, h, h, &compute) == LEAP_OK);
  CHECK(compute == 1);
  REQUIRE(leap_cache_end(c, 1, LEAP_CACHE_ALL_BRANCHES, h) == LEAP_OK);
  leap_cache_destroy(c);
  leap_tensor_destroy(h);

  // The paper's phi in time: step 2 (reused, phi 0.5) ends half way, the
  // later points stretch by the same factor, other steps keep the schedule.
  lp_cache_profile p{};
  p.steps = 5, p.branches = 1, p.channels = 4, p.calib_images = 2, p.window = 4, p.shift = 1, p.cfg = 1;
  p.solver = LEAP_SOLVER_EULER, p.schedule = LEAP_SCHEDULE_DEFAULT, p.level = LEAP_CACHE_HIDDEN;
  std::snprintf(p.model_id, sizeof p.model_id, "0123456789abcdef");
  REQUIRE(lp_cache_profile_alloc(&p, 1) == LEAP_OK);
  p.settings[0].computed = 4, p.settings[0].reuse[2] = 1, p.settings[0].phi_paper[2] = 0.5;
  lt::TempDir dir;
  const std::string path = dir / "paper.json";
  REQUIRE(lp_cache_profile_write(&p, path.c_str()) == LEAP_OK);
  lp_cache_profile_free(&p);
  d = leap_cache_desc_default();
  d.policy = LEAP_CACHE_ERTA, d.profile = path.c_str(), d.timestep_adjust = 2, d.rectify = 0;
  d.branches = 1, d.images = 2, d.steps = 5, d.cfg = 1;
  INFO(leap_last_error());
  REQUIRE(leap_cache_create(ctx, &d, &c) == LEAP_OK);
  double phi = 0;
  int in_time = -1;
  REQUIRE(leap_cache_step_scale(c, 2, &phi, &in_time) == LEAP_OK);
  CHECK((phi == 0.5 && in_time == 1));
  double t[6] = {1, 0.8, 0.6, 0.4, 0.2, 0};
  REQUIRE(leap_cache_adjust_schedule(c, 1, t, 5) == LEAP_OK); // computed: unchanged
  CHECK((t[2] == 0.6 && t[3] == 0.4));
  REQUIRE(leap_cache_adjust_schedule(c, 2, t, 5) == LEAP_OK);
  const double next = 0.6 + 0.5 * (0.4 - 0.6), f = next / 0.4;
  CHECK(t[3] == Approx(next).epsilon(1e-12));
  CHECK(t[4] == Approx(0.2 * f).epsilon(1e-12));
  CHECK(t[5] == 0);
  CHECK((t[0] == 1 && t[2] == 0.6));
  leap_cache_destroy(c);
  leap_context_destroy(ctx);
}
