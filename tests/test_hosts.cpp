// test_hosts.cpp - the host examples (examples/host_dlopen.c,
// examples/host_video.c) run as their own processes, and
// leap_model_forward_frames, the call host_video's loop rests on.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "test_util.hpp"

extern "C" {
#include "arch_video_dit.h"
}

namespace {

struct Ran {
  int rc;
  std::string log;
};

// Runs cmd with one passive OpenMP thread (the hosts' tiny models run many
// small parallel regions; spinning threads on a busy machine make them
// crawl), its output into a log in dir.
Ran run_host(const lt::TempDir &dir, const std::string &cmd) {
  const std::string log = dir / "host.log";
  const std::string full =
      std::string("OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive ") + LEAP_HOST_ENV + " " + cmd + " > '" + log + "' 2>&1";
  const int rc = std::system(full.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, cmd + "\n" + lt::slurp(log)};
}

bool has_vulkan_device() {
  int count = 0;
  return leap_vulkan_device_count(&count) == LEAP_OK && count > 0;
}

}  // namespace

TEST_CASE("host_dlopen: through dlopen and the table, the linked leap_sample's images bit for bit", "[api][sample]") {
  const std::string model = lt::data("dit_tiny_f32.safetensors");
  // The reference: this test program links leap; same settings as the host
  // (labels 0, 1, ..., 10 steps, cfg 2, CPU, one thread).
  leap_context_desc cd = leap_context_desc_default(LEAP_BACKEND_CPU);
  cd.threads = 1;
  leap_context *ctx = nullptr;
  REQUIRE(leap_context_create(&cd, &ctx) == LEAP_OK);
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, model.c_str(), &m) == LEAP_OK);
  leap_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  const int n = 3;
  const int32_t labels[n] = {0, 1, 2};
  std::vector<float> ref((size_t)n * info.in_channels * info.height * info.width);
  leap_sample_desc sd = leap_sample_desc_default();
  sd.n = n, sd.labels = labels, sd.steps = 10, sd.cfg = 2.0, sd.seed = 7;
  REQUIRE(leap_sample(m, &sd, ref.data()) == LEAP_OK);
  std::vector<float> other(ref.size());
  sd.seed = 8;
  REQUIRE(leap_sample(m, &sd, other.data()) == LEAP_OK);
  leap_model_destroy(m);
  leap_context_destroy(ctx);

  lt::TempDir dir;
  auto write = [&](const std::string &path, const std::vector<float> &v) {
    FILE *f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(std::fwrite(v.data(), sizeof(float), v.size(), f) == v.size());
    std::fclose(f);
  };
  write(dir / "ref7.f32", ref);
  write(dir / "ref8.f32", other);
  const std::string host = std::string("'") + LEAP_HOST_DLOPEN_PATH + "' '" + LEAP_LIB_PATH + "' '" + model +
                           "' --n 3 --steps 10 --cfg 2 --seed 7 --ref ";
  const Ran same = run_host(dir, host + "'" + (dir / "ref7.f32") + "'");
  INFO(same.log);
  CHECK(same.rc == 0);
  CHECK(same.log.find("major " + std::to_string(LEAP_API_VERSION_MAJOR + 1) + " refused") != std::string::npos);
  CHECK(same.log.find("the rest untouched") != std::string::npos);
  CHECK(same.log.find(": 0 of " + std::to_string(ref.size()) + " floats differ") != std::string::npos);
  // The check can fail: another seed's images are refused.
  const Ran wrong = run_host(dir, host + "'" + (dir / "ref8.f32") + "'");
  INFO(wrong.log);
  CHECK(wrong.rc == 1);
  // A library that is not there: a clear message, no crash.
  const Ran missing = run_host(dir, std::string("'") + LEAP_HOST_DLOPEN_PATH + "' '" + (dir / "nolib.so") + "' '" +
                                        model + "'");
  INFO(missing.log);
  CHECK(missing.rc == 1);
  CHECK(missing.log.find("nolib.so") != std::string::npos);
}

TEST_CASE("leap_model_forward_frames: a video model over any frames, the clip's forward at clip_frames", "[video]") {
  leap_context *ctx = lt::context(LEAP_BACKEND_CPU);
  leap_model *m = nullptr;
  REQUIRE(leap_model_load(ctx, lt::data("video_dit_tiny_f32.safetensors").c_str(), &m) == LEAP_OK);
  leap_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  const int n = 2, Fc = info.frames_per_chunk;
  const size_t pin = (size_t)info.in_channels * info.height * info.width;
  const size_t pout = (size_t)info.out_channels * info.height * info.width;
  const int32_t y[n] = {1, info.null_class};
  // At clip_frames: leap_model_forward's numbers.
  std::vector<float> x = lt::random_f32((size_t)n * info.clip_frames * pin, 17), t((size_t)n * info.clip_frames);
  for (int b = 0; b < n; b++)
    for (int f = 0; f < info.clip_frames; f++) t[(size_t)b * info.clip_frames + f] = 900.0f - 150.0f * (float)(f / Fc) - 7.0f * b;
  std::vector<float> a((size_t)n * info.clip_frames * pout), b(a.size());
  REQUIRE(leap_model_forward(m, n, x.data(), t.data(), y, a.data()) == LEAP_OK);
  REQUIRE(leap_model_forward_frames(m, n, info.clip_frames, x.data(), t.data(), y, b.data()) == LEAP_OK);
  CHECK(a == b);
  // Longer than the clip (7 frames: the last chunk one frame): the internal
  // whole-clip forward's numbers.
  const int frames = 7;
  std::vector<float> x7 = lt::random_f32((size_t)n * frames * pin, 23), t7((size_t)n * frames);
  for (int bb = 0; bb < n; bb++)
    for (int f = 0; f < frames; f++) t7[(size_t)bb * frames + f] = 950.0f - 120.0f * (float)(f / Fc);
  std::vector<float> c((size_t)n * frames * pout), d(c.size());
  REQUIRE(leap_model_forward_frames(m, n, frames, x7.data(), t7.data(), y, c.data()) == LEAP_OK);
  REQUIRE(lp_video_dit_forward(lp_model_video_dit(m), n, frames, x7.data(), t7.data(), y, d.data()) == LEAP_OK);
  CHECK(c == d);
  // Block-causal: the first 4 frames alone (chunks 0 and 1) give the first
  // 4 frames of the 7-frame pass (float rounding: other GEMM shapes; 8.8e-8
  // relative L2 measured). A cut
  // inside a chunk would not: a chunk's frames see each other (measured
  // 8.8e-3 relative L2 for the first 3 frames).
  const int few = 4;
  std::vector<float> xs((size_t)n * few * pin), ts((size_t)n * few), e((size_t)n * few * pout);
  for (int bb = 0; bb < n; bb++) {
    std::copy(x7.begin() + (size_t)bb * frames * pin, x7.begin() + ((size_t)bb * frames + few) * pin,
              xs.begin() + (size_t)bb * few * pin);
    std::copy(t7.begin() + (size_t)bb * frames, t7.begin() + (size_t)bb * frames + few, ts.begin() + (size_t)bb * few);
  }
  REQUIRE(leap_model_forward_frames(m, n, few, xs.data(), ts.data(), y, e.data()) == LEAP_OK);
  std::vector<float> head;
  for (int bb = 0; bb < n; bb++)
    head.insert(head.end(), c.begin() + (size_t)bb * frames * pout, c.begin() + ((size_t)bb * frames + few) * pout);
  CHECK(lt::rel_l2(e, head) < 1e-6);
  // Bad input.
  CHECK(leap_model_forward_frames(m, n, 0, x7.data(), t7.data(), y, c.data()) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("frames = 0") != std::string::npos);
  t7[1] = 1.0f;  // frame 1 is in chunk 0 but has another timestep
  CHECK(leap_model_forward_frames(m, n, frames, x7.data(), t7.data(), y, c.data()) == LEAP_ERR_INVALID_ARG);
  t7[1] = NAN;
  CHECK(leap_model_forward_frames(m, n, frames, x7.data(), t7.data(), y, c.data()) == LEAP_ERR_NUMERIC);
  leap_model_destroy(m);

  // An image model takes its one frame only.
  REQUIRE(leap_model_load(ctx, lt::data("dit_tiny_f32.safetensors").c_str(), &m) == LEAP_OK);
  REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
  const size_t img = (size_t)info.in_channels * info.height * info.width;
  std::vector<float> xi = lt::random_f32(2 * img, 5), ti = {500.0f, 500.0f, 500.0f, 500.0f};
  std::vector<float> oi(2 * (size_t)info.out_channels * info.height * info.width), oj(oi.size());
  const int32_t yi[2] = {0, 3};
  REQUIRE(leap_model_forward_frames(m, 1, 1, xi.data(), ti.data(), yi, oi.data()) == LEAP_OK);
  REQUIRE(leap_model_forward(m, 1, xi.data(), ti.data(), yi, oj.data()) == LEAP_OK);
  oi.resize(oi.size() / 2), oj.resize(oj.size() / 2);
  CHECK(oi == oj);
  CHECK(leap_model_forward_frames(m, 1, 2, xi.data(), ti.data(), yi, oi.data()) == LEAP_ERR_UNSUPPORTED);
  CHECK(std::string(leap_last_error()).find("takes 1 frame per pass, not 2") != std::string::npos);
  leap_model_destroy(m);
  lt::finish(ctx);
}

TEST_CASE("host_video: its own loop over the public schedule API gives leap_video_sample's clips", "[video][block]") {
  const std::string model = lt::data("video_dit_tiny_f32.safetensors");
  lt::TempDir dir;
  // 9 frames of 2-frame chunks (5 chunks, the last one frame), guided; the
  // host's own tolerance (1e-5, its header says why) decides.
  const char *const runs[] = {
      "--family synchronous --frames 9 --steps 4",
      "--family autoregressive --frames 9 --steps 3 --shuffle 4",
      "--family pyramid --frames 9 --steps 4 --ar-step 1",
      "--family pyramid --frames 13 --steps 6 --ar-step 2 --shuffle 4,1 --n 3",
      "--family pipelined --frames 9 --steps 4 --window 3 --lag 2 --cfg 1",
  };
  std::vector<std::string> backends = {"cpu"};
#ifndef __SANITIZE_ADDRESS__
  if (has_vulkan_device()) backends.push_back("vulkan");
  else lt::skip("no Vulkan device: host_video runs on the CPU backend only");
#endif
  for (const std::string &backend : backends)
    for (const char *args : runs) {
      const Ran r = run_host(dir, std::string("'") + LEAP_HOST_VIDEO_PATH + "' '" + model + "' " + args +
                                      " --backend " + backend);
      INFO(r.log);
      CHECK(r.rc == 0);
      CHECK(r.log.find("max |host - leap_video_sample (KV cache)|") != std::string::npos);
    }
}
