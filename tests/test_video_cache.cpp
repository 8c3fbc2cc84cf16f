// test_video_cache.cpp - caching inside block diffusion (block/video_cache.c
// and the block cache of block/video_sample.c) with the tiny random video
// DiT of tests/data (2-frame chunks of 8x12, 3 classes), on the CPU and on
// Vulkan (lavapipe in ctest).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "test_util.hpp"

extern "C" {
#include "alloc.h"
#include "arch_video_dit.h"
#include "video_cache.h"
#include "video_sample.h"
}

namespace {

struct Tiny {
  leap_context *ctx = nullptr;
  leap_model *m = nullptr;
  size_t per_frame = 0;
  explicit Tiny(leap_backend_kind kind) {
    ctx = lt::context(kind);
    if (!ctx) return;
    REQUIRE(leap_model_load(ctx, lt::data("video_dit_tiny_f32.safetensors").c_str(), &m) == LEAP_OK);
    leap_model_info info{};
    info.struct_size = sizeof info;
    REQUIRE(leap_model_get_info(m, &info) == LEAP_OK);
    per_frame = (size_t)info.in_channels * info.height * info.width;
  }
  ~Tiny() {
    if (m) leap_model_destroy(m);
    lt::finish(ctx);
  }
};

const int32_t LABELS[3] = {0, 2, 1};

leap_video_desc run_for(leap_block_family family) {
  leap_video_desc d = leap_video_desc_default();
  d.n = 2, d.labels = LABELS, d.frames = 8, d.steps = 8, d.cfg = 2.0, d.shift = 2.0, d.seed = 5;
  d.family = family;
  d.ar_step = 3, d.window = 3, d.lag = 2;
  return d;
}

std::vector<float> sample(const Tiny &t, const leap_video_desc &d, leap_cache_stats *cs = nullptr) {
  std::vector<float> out((size_t)d.n * d.frames * t.per_frame, NAN);
  leap_video_desc dd = d;
  dd.cache_stats = cs;
  const leap_status s = leap_video_sample(t.m, &dd, out.data());
  INFO(leap_last_error());
  REQUIRE(s == LEAP_OK);
  for (float v : out) REQUIRE(std::isfinite(v));
  return out;
}

// A profile of run d with the given computed-row targets, written to path.
lp_vcache_profile make_profile(const Tiny &t, const leap_video_desc &d, std::vector<int> targets,
                               const std::string &path) {
  lp_vcache_profile p;
  const lp_vcache_calib_cfg cfg = {(int)targets.size(), targets.data(), 4, 1};
  const leap_status s = lp_vcache_calibrate(t.m, &d, &cfg, &p);
  INFO(leap_last_error());
  REQUIRE(s == LEAP_OK);
  REQUIRE(lp_vcache_profile_write(&p, path.c_str(), nullptr, 0) == LEAP_OK);
  return p;
}

const leap_block_family FAMILIES[] = {LEAP_BLOCK_SYNCHRONOUS, LEAP_BLOCK_AUTOREGRESSIVE, LEAP_BLOCK_PYRAMID,
                                      LEAP_BLOCK_PIPELINED};

}  // namespace

TEST_CASE("block cache: the window forward split: embed + the captured residual + final is the full forward",
          "[video][block][cache]") {
  for (leap_backend_kind kind : {LEAP_BACKEND_CPU, LEAP_BACKEND_VULKAN}) {
    Tiny t(kind);
    if (!t.ctx) continue;
    INFO(lt::backend_name(kind));
    lp_video_dit *v = lp_model_video_dit(t.m);
    REQUIRE(v);
    leap_model_info info{};
    info.struct_size = sizeof info;
    REQUIRE(leap_model_get_info(t.m, &info) == LEAP_OK);
    const int rows = 2, frames = 3;  // a whole chunk and a short one, from chunk 1
    const size_t tokens = (size_t)frames * (info.height / info.patch_size) * (info.width / info.patch_size);
    const std::vector<float> x = lt::random_f32((size_t)rows * frames * t.per_frame, 7);
    const std::vector<float> tt = {900, 900, 300, 500, 500, 20};  // per frame, one level per chunk
    const int32_t y[2] = {1, 3};
    const size_t nout = (size_t)rows * frames * info.out_channels * info.height * info.width;
    std::vector<float> full(nout), plain(nout), reused(nout), zero_res(nout);
    std::vector<float> res((size_t)rows * tokens * info.hidden_size, NAN), zeros(res.size(), 0.0f);
    lp_video_window w{};
    w.rows = rows, w.chunk0 = 1, w.frames = frames, w.x = x.data(), w.t = tt.data(), w.y = y;
    w.out = plain.data();
    REQUIRE(lp_video_dit_forward_window(v, &w) == LEAP_OK);
    w.out = full.data(), w.res_out = res.data();
    REQUIRE(lp_video_dit_forward_window(v, &w) == LEAP_OK);
    CHECK(std::memcmp(full.data(), plain.data(), nout * sizeof(float)) == 0);  // capturing changes nothing
    for (float r : res) REQUIRE(std::isfinite(r));
    w.res_out = nullptr, w.res_in = res.data(), w.out = reused.data();
    REQUIRE(lp_video_dit_forward_window(v, &w) == LEAP_OK);
    CHECK(lt::rel_l2(reused, full) < 1e-5);
    w.res_in = zeros.data(), w.out = zero_res.data();  // the blocks really are skipped
    REQUIRE(lp_video_dit_forward_window(v, &w) == LEAP_OK);
    CHECK(lt::rel_l2(zero_res, full) > 1e-2);
    w.res_out = res.data();
    CHECK(lp_video_dit_forward_window(v, &w) == LEAP_ERR_INVALID_ARG);
  }
}

TEST_CASE("block cache: a profile that reuses nothing gives the uncached clips bit for bit", "[video][block][cache]") {
  for (leap_backend_kind kind : {LEAP_BACKEND_CPU, LEAP_BACKEND_VULKAN}) {
    Tiny t(kind);
    if (!t.ctx) continue;
    INFO(lt::backend_name(kind));
    lt::TempDir dir;
    for (leap_block_family fam : {LEAP_BLOCK_SYNCHRONOUS, LEAP_BLOCK_PYRAMID}) {
      INFO("family " << (int)fam);
      leap_video_desc d = run_for(fam);
      int rows = 0;
      REQUIRE(lp_vcache_rows(&d, 2, &rows, nullptr, 0) == LEAP_OK);
      lp_vcache_profile p = make_profile(t, d, {rows}, dir / "all.json");
      REQUIRE(p.settings[0].computed == rows);
      lp_vcache_profile_free(&p);
      leap_cache_stats plain{}, cached{};
      plain.struct_size = cached.struct_size = sizeof plain;
      const std::vector<float> want = sample(t, d, &plain);
      CHECK(plain.computed == rows);
      CHECK(plain.planned_computed == -1);
      const std::string path = dir / "all.json";
      d.cache_profile = path.c_str();
      const std::vector<float> got = sample(t, d, &cached);
      CHECK(cached.computed == rows);
      CHECK(cached.reused == 0);
      CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("block cache: reuse computes the profile's rows, never one that writes keys and values, and stays close",
          "[video][block][cache]") {
  for (leap_backend_kind kind : {LEAP_BACKEND_CPU, LEAP_BACKEND_VULKAN}) {
    Tiny t(kind);
    if (!t.ctx) continue;
    INFO(lt::backend_name(kind));
    lt::TempDir dir;
    for (leap_block_family fam : FAMILIES) {
      INFO("family " << (int)fam);
      leap_video_desc d = run_for(fam);
      int rows = 0;
      std::vector<unsigned char> writes(1024);
      REQUIRE(lp_vcache_rows(&d, 2, &rows, writes.data(), (int)writes.size()) == LEAP_OK);
      const std::string path = dir / "half.json";
      lp_vcache_profile p = make_profile(t, d, {(rows + 1) / 2}, path);
      const lp_vcache_setting &set = p.settings[0];
      int reused = 0;
      for (int i = 0; i < rows; i++) {
        reused += set.reuse[i];
        if (set.reuse[i]) CHECK(writes[i] == 0);  // a written chunk needs the blocks
      }
      REQUIRE(reused > 0);
      CHECK(set.computed == rows - reused);
      const std::vector<float> full = sample(t, d);
      d.cache_profile = path.c_str();
      leap_cache_stats cs{};
      cs.struct_size = sizeof cs;
      const std::vector<float> got = sample(t, d, &cs);
      CHECK(cs.computed == set.computed);
      CHECK(cs.reused == reused);
      CHECK(cs.evaluations == rows);
      CHECK(cs.planned_computed == set.computed);
      // Reuse changes the clips, by a small amount on this random model
      // (the calibration's PSNR is of the same run: it must agree). Measured
      // here: 42.6-43.2 dB on both backends; with the reused residual
      // dropped (the blocks skipped, nothing added) a pyramid run fell to
      // 29 dB, so 35 tells the two apart.
      double se = 0;
      for (size_t i = 0; i < got.size(); i++) se += ((double)got[i] - full[i]) * ((double)got[i] - full[i]);
      const double psnr = 10 * std::log10(4.0 / (se / got.size()));
      INFO("PSNR " << psnr << " dB, calibration said " << set.psnr);
      CHECK(se > 0);
      CHECK(psnr > 35);
      CHECK(std::fabs(psnr - set.psnr) < 1e-3 * std::fabs(set.psnr));
      // phi off: another path, still the same rows.
      d.cache_adjust = 0;
      const std::vector<float> plain_phi = sample(t, d, &cs);
      CHECK(cs.computed == set.computed);
      bool any_phi = false;
      for (int i = 0; i < rows; i++) any_phi |= set.phi[i] != 1.0;
      if (any_phi) CHECK(plain_phi != got);
      lp_vcache_profile_free(&p);
    }
  }
}

TEST_CASE("block cache: a profile that reuses a row writing keys and values is refused", "[video][block][cache]") {
  Tiny t(LEAP_BACKEND_CPU);
  lt::TempDir dir;
  leap_video_desc d = run_for(LEAP_BLOCK_AUTOREGRESSIVE);
  int rows = 0;
  std::vector<unsigned char> writes(1024);
  REQUIRE(lp_vcache_rows(&d, 2, &rows, writes.data(), (int)writes.size()) == LEAP_OK);
  lp_vcache_profile p = make_profile(t, d, {rows}, dir / "p.json");
  int w = -1;
  for (int i = 1; i < rows && w < 0; i++)
    if (writes[i]) w = i;
  REQUIRE(w > 0);
  p.settings[0].reuse[w] = 1;
  p.settings[0].computed--;
  REQUIRE(lp_vcache_profile_write(&p, (dir / "bad.json").c_str(), nullptr, 0) == LEAP_OK);
  lp_vcache_profile_free(&p);
  const std::string path = dir / "bad.json";
  d.cache_profile = path.c_str();
  std::vector<float> out((size_t)d.n * d.frames * t.per_frame);
  CHECK(leap_video_sample(t.m, &d, out.data()) == LEAP_ERR_INVALID_ARG);
  CHECK_THAT(leap_last_error(), Catch::Contains("writes chunk") && Catch::Contains("keys and values"));
}

TEST_CASE("block cache: a profile for another family, geometry or run is refused naming the field",
          "[video][block][cache]") {
  Tiny t(LEAP_BACKEND_CPU);
  lt::TempDir dir;
  const leap_video_desc base = run_for(LEAP_BLOCK_PYRAMID);
  lp_vcache_profile p = make_profile(t, base, {4}, dir / "p.json");
  lp_vcache_profile_free(&p);
  const std::string path = dir / "p.json";
  struct Case {
    const char *field;
    void (*edit)(leap_video_desc &);
  } cases[] = {
      {"family", [](leap_video_desc &d) { d.family = LEAP_BLOCK_AUTOREGRESSIVE; }},
      {"ar_step", [](leap_video_desc &d) { d.ar_step = 2; }},
      {"frames", [](leap_video_desc &d) { d.frames = 10; }},
      {"steps", [](leap_video_desc &d) { d.steps = 7; }},
      {"cfg", [](leap_video_desc &d) { d.cfg = 3.0; }},
      {"shift", [](leap_video_desc &d) { d.shift = 1.0; }},
  };
  std::vector<float> out((size_t)base.n * 10 * t.per_frame);
  for (const Case &c : cases) {
    INFO(c.field);
    leap_video_desc d = base;
    c.edit(d);
    d.cache_profile = path.c_str();
    CHECK(leap_video_sample(t.m, &d, out.data()) == LEAP_ERR_INVALID_ARG);
    CHECK_THAT(leap_last_error(), Catch::Contains(path) && Catch::Contains(std::string("for ") + c.field + " "));
  }
  // The pipelined family's window is part of what the profile is for.
  const leap_video_desc pipe = run_for(LEAP_BLOCK_PIPELINED);
  p = make_profile(t, pipe, {5}, dir / "pipe.json");
  lp_vcache_profile_free(&p);
  leap_video_desc d = pipe;
  const std::string pipe_path = dir / "pipe.json";
  d.cache_profile = pipe_path.c_str();
  d.window = 2;
  CHECK(leap_video_sample(t.m, &d, out.data()) == LEAP_ERR_INVALID_ARG);
  CHECK_THAT(leap_last_error(), Catch::Contains("for window 3"));
  // A setting the profile lacks, and the recompute baseline.
  d = base;
  d.cache_profile = path.c_str();
  d.cache_setting = 1;
  CHECK(leap_video_sample(t.m, &d, out.data()) == LEAP_ERR_INVALID_ARG);
  CHECK_THAT(leap_last_error(), Catch::Contains("cache_setting 1"));
  d.cache_setting = 0;
  d.recompute = 1;
  CHECK(leap_video_sample(t.m, &d, out.data()) == LEAP_ERR_UNSUPPORTED);
  CHECK_THAT(leap_last_error(), Catch::Contains("recompute"));
}

TEST_CASE("block cache: a desc from before the cache fields runs uncached", "[video][block][cache]") {
  Tiny t(LEAP_BACKEND_CPU);
  leap_video_desc d = run_for(LEAP_BLOCK_PYRAMID);
  const std::vector<float> want = sample(t, d);
  d.cache_profile = "/nonexistent/never-read.json";
  d.struct_size = (uint32_t)offsetof(leap_video_desc, cache_profile);
  std::vector<float> got(want.size());
  REQUIRE(leap_video_sample(t.m, &d, got.data()) == LEAP_OK);
  CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
  // With the field, that path is read: and refused.
  d.struct_size = sizeof d;
  CHECK(leap_video_sample(t.m, &d, got.data()) == LEAP_ERR_IO);
}

TEST_CASE("block cache: bad profile files are refused naming the file and the field", "[video][block][cache]") {
  Tiny t(LEAP_BACKEND_CPU);
  lt::TempDir dir;
  const leap_video_desc d = run_for(LEAP_BLOCK_SYNCHRONOUS);
  lp_vcache_profile p = make_profile(t, d, {4}, dir / "good.json");
  lp_vcache_profile_free(&p);
  const std::string good = lt::slurp(dir / "good.json");
  auto edited = [&](const std::string &from, const std::string &to) {
    std::string s = good;
    const size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  struct Case {
    std::string text, message;
    leap_status status;
  } cases[] = {
      {"not json", "not a JSON profile", LEAP_ERR_FORMAT},
      {"{\"format\": \"leap-erta-profile\", \"version\": 2}", "an image ERTACache profile", LEAP_ERR_FORMAT},
      {edited("\"version\": 1", "\"version\": 9"), "version 9", LEAP_ERR_FORMAT},
      {edited("\"rows\": ", "\"rows\": 1"), "for rows", LEAP_ERR_INVALID_ARG},
      {edited("\"reuse\": [0,", "\"reuse\": ["), "'reuse' has", LEAP_ERR_FORMAT},
      {edited("\"reuse\": [0,", "\"reuse\": [1,"), "reuses forward row 0", LEAP_ERR_FORMAT},
      {edited("\"reuse\": [0,", "\"reuse\": [0.5,"), "'reuse'[0]", LEAP_ERR_FORMAT},
      {edited("\"phi\": [1", "\"phi\": [7"), "'phi'[0]", LEAP_ERR_FORMAT},
      {edited("\"computed\": ", "\"computed\": 1"), "computed", LEAP_ERR_FORMAT},
      {edited("\"model_id\": \"", "\"model_id\": \"x"), "model_id", LEAP_ERR_FORMAT},
      {good.substr(0, good.size() / 2), "not a JSON profile", LEAP_ERR_FORMAT},
  };
  std::vector<float> out((size_t)d.n * d.frames * t.per_frame);
  const std::string path = dir / "bad.json";
  for (const Case &c : cases) {
    INFO(c.message);
    lt::write_text(path, c.text);
    leap_video_desc dd = d;
    dd.cache_profile = path.c_str();
    CHECK(leap_video_sample(t.m, &dd, out.data()) == c.status);
    CHECK_THAT(leap_last_error(), Catch::Contains(path) && Catch::Contains(c.message));
  }
  // A folder is not a profile.
  leap_video_desc dd = d;
  dd.cache_profile = dir.path.c_str();
  CHECK(leap_video_sample(t.m, &dd, out.data()) != LEAP_OK);
}

TEST_CASE("block cache: an allocation failure anywhere in a cached run or a calibration is LEAP_ERR_NOMEM",
          "[video][block][cache][fault]") {
  Tiny t(LEAP_BACKEND_CPU);
  lt::TempDir dir;
  // Small (two chunks, three steps: one row reused): every allocation of
  // both passes and of the cached run fails once.
  leap_video_desc d = run_for(LEAP_BLOCK_SYNCHRONOUS);
  d.n = 1, d.frames = 4, d.steps = 3;
  int rows = 0;
  REQUIRE(lp_vcache_rows(&d, 2, &rows, nullptr, 0) == LEAP_OK);
  const int targets[1] = {(rows + 1) / 2};
  const lp_vcache_calib_cfg cfg = {1, targets, 3, 1};
  lp_vcache_profile p;
  lp_alloc_fail_at(0, 0);
  REQUIRE(lp_vcache_calibrate(t.m, &d, &cfg, &p) == LEAP_OK);
  long count = lp_alloc_count();
  REQUIRE(lp_vcache_profile_write(&p, (dir / "p.json").c_str(), nullptr, 0) == LEAP_OK);
  REQUIRE(p.settings[0].computed < rows);
  lp_vcache_profile_free(&p);
  for (long k = 1; k <= count; k++) {
    INFO("calibration: allocation " << k << " of " << count << " fails");
    lp_alloc_fail_at(k, 0);
    const leap_status s = lp_vcache_calibrate(t.m, &d, &cfg, &p);
    const int failed = lp_alloc_failed();
    lp_alloc_fail_at(0, 0);
    REQUIRE(failed);
    CHECK(s == LEAP_ERR_NOMEM);
  }
  const std::string path = dir / "p.json";
  d.cache_profile = path.c_str();
  std::vector<float> want((size_t)d.n * d.frames * t.per_frame), got(want.size());
  lp_alloc_fail_at(0, 0);
  REQUIRE(leap_video_sample(t.m, &d, want.data()) == LEAP_OK);
  count = lp_alloc_count();
  for (long k = 1; k <= count; k++) {
    INFO("cached run: allocation " << k << " of " << count << " fails");
    lp_alloc_fail_at(k, 0);
    const leap_status s = leap_video_sample(t.m, &d, got.data());
    const int failed = lp_alloc_failed();
    lp_alloc_fail_at(0, 0);
    REQUIRE(failed);
    CHECK(s == LEAP_ERR_NOMEM);
  }
  REQUIRE(leap_video_sample(t.m, &d, got.data()) == LEAP_OK);
  CHECK(got == want);
}
