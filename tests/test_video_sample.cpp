// test_video_sample.cpp - leap_video_sample (block/video_sample.c): block
// diffusion with the tiny random video DiT (tests/data, 2-frame chunks of
// 8x12, 3 classes) on the CPU and on Vulkan (lavapipe in ctest).
//
// Tolerances (relative L2 over the clips; measured here in brackets):
//   synchronous against Euler written here over lp_video_dit_forward:
//     1e-5 (the same forwards; the sampler's window path is the one
//     lp_video_dit_forward runs) [2.6e-8 CPU, 2.5e-8 Vulkan]
//   KV cache against recompute (no cache), same backend: 1e-5 (the cached
//     keys were computed in other forwards than the recomputed ones: the
//     same sums, split over other GEMM shapes) [up to 8.1e-8 CPU, 0 Vulkan]
//   CPU against Vulkan: 1e-5 (F32 kernels summing in other orders, over a
//     run of tens of forwards) [1.9e-7]
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "test_util.hpp"

extern "C" {
#include "alloc.h"
#include "arch_video_dit.h"
#include "sampler.h"
#include "video_noise.h"
#include "video_sample.h"
}

namespace {

const double TOL_SAME = 1e-5, TOL_BACKENDS = 1e-5;

struct Tiny {
  leap_context *ctx = nullptr;
  leap_model *m = nullptr;
  leap_model_info info{};
  size_t per_frame = 0;
  explicit Tiny(leap_backend_kind kind) {
    ctx = lt::context(kind);
    if (!ctx) return;
    REQUIRE(leap_model_load(ctx, lt::data("video_dit_tiny_f32.safetensors").c_str(), &m) == LEAP_OK);
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

leap_video_desc desc_for(leap_block_family family, int n, int frames, int steps, double cfg) {
  leap_video_desc d = leap_video_desc_default();
  d.n = n, d.labels = LABELS, d.frames = frames, d.steps = steps, d.cfg = cfg, d.shift = 2.0, d.seed = 11;
  d.family = family;
  d.ar_step = 1, d.window = 3, d.lag = 2;
  return d;
}

std::vector<float> sample(const Tiny &t, const leap_video_desc &d, lp_video_stats *stats = nullptr) {
  std::vector<float> out((size_t)d.n * d.frames * t.per_frame, NAN);
  const leap_status s = lp_video_sample_stats(t.m, &d, out.data(), stats);
  INFO(leap_last_error());
  REQUIRE(s == LEAP_OK);
  for (float v : out) REQUIRE(std::isfinite(v));
  return out;
}

const char *family_name(leap_block_family f) {
  switch (f) {
  case LEAP_BLOCK_SYNCHRONOUS: return "synchronous";
  case LEAP_BLOCK_AUTOREGRESSIVE: return "autoregressive";
  case LEAP_BLOCK_PYRAMID: return "pyramid";
  case LEAP_BLOCK_PIPELINED: return "pipelined";
  }
  return "?";
}

// Every frame once, in order, whole chunks.
struct Collector {
  int frames_per_chunk = 0, n = 0;
  size_t per_frame = 0;
  std::vector<std::vector<float>> clips;  // [n] frames appended
  std::vector<std::pair<int, int>> calls;
  int stop_after = -1;  // calls before returning non-zero
  static int take(void *user, int first, int count, const float *video) {
    Collector *c = static_cast<Collector *>(user);
    c->calls.push_back({first, count});
    if (c->clips.empty()) c->clips.resize(c->n);
    for (int b = 0; b < c->n; b++)
      c->clips[b].insert(c->clips[b].end(), video + (size_t)b * count * c->per_frame,
                         video + (size_t)(b + 1) * count * c->per_frame);
    return c->stop_after >= 0 && (int)c->calls.size() >= c->stop_after;
  }
};

}  // namespace

TEST_CASE("video sample: synchronous equals Euler over the whole clip with the model's forward", "[video][block]") {
  for (leap_backend_kind kind : {LEAP_BACKEND_CPU, LEAP_BACKEND_VULKAN}) {
    Tiny t(kind);
    if (!t.ctx) continue;
    INFO(lt::backend_name(kind));
    const int n = 2, frames = 7, steps = 4;  // 7 frames: chunks of 2, the last one frame
    const double cfg = 2.5;
    for (int shuffle : {0, 4}) {
      INFO("shuffle window " << shuffle);
      leap_video_desc d = desc_for(LEAP_BLOCK_SYNCHRONOUS, n, frames, steps, cfg);
      d.shuffle_window = shuffle;  // stride: a chunk
      lp_video_stats st{};
      const std::vector<float> got = sample(t, d, &st);
      CHECK(st.model_calls == steps);
      CHECK(st.kv_slots == 0);

      // Euler written out: flow schedule with the shift, guided rows (cond
      // then null class), every frame at one timestep.
      lp_sched sc{};
      REQUIRE(lp_sched_build(&sc, LEAP_SCHEDULE_FLOW, LEAP_PRED_FLOW_V, steps, d.shift, t.info.timestep_scale) ==
              LEAP_OK);
      const size_t clip = (size_t)frames * t.per_frame;
      std::vector<float> noise(n * clip);
      REQUIRE(leap_noise_fill(d.seed, n, clip, noise.data()) == LEAP_OK);
      for (int b = 0; shuffle && b < n; b++)
        REQUIRE(leap_block_noise_shuffle(noise.data() + b * clip, frames, t.per_frame, shuffle,
                                         t.info.frames_per_chunk, d.seed + b) == LEAP_OK);
      std::vector<double> x(noise.begin(), noise.end());
      for (double &v : x) v *= sc.sigma[0];
      std::vector<float> xin(2 * n * clip), tin(2 * n * frames), pred(2 * n * clip);
      const int32_t y[4] = {LABELS[0], LABELS[1], t.info.null_class, t.info.null_class};
      lp_video_dit *v = lp_model_video_dit(t.m);
      REQUIRE(v != nullptr);
      for (int k = 0; k < steps; k++) {
        for (size_t e = 0; e < n * clip; e++) xin[e] = xin[n * clip + e] = (float)x[e];
        std::fill(tin.begin(), tin.end(), (float)sc.t_model[k]);
        REQUIRE(lp_video_dit_forward(v, 2 * n, frames, xin.data(), tin.data(), y, pred.data()) == LEAP_OK);
        const double dt = sc.sigma[k + 1] - sc.sigma[k];
        for (size_t e = 0; e < n * clip; e++) {
          const double c = pred[e], u = pred[n * clip + e];
          x[e] += dt * (u + cfg * (c - u));
        }
      }
      lp_sched_free(&sc);
      const double e = lt::rel_l2(got, x);
      INFO("rel L2 against the direct Euler " << e);
      CHECK(e <= TOL_SAME);
    }
  }
}

TEST_CASE("video sample: the KV cache gives recompute's clips for every chunked family", "[video][block]") {
  for (leap_backend_kind kind : {LEAP_BACKEND_CPU, LEAP_BACKEND_VULKAN}) {
    Tiny t(kind);
    if (!t.ctx) continue;
    for (leap_block_family f : {LEAP_BLOCK_AUTOREGRESSIVE, LEAP_BLOCK_PYRAMID, LEAP_BLOCK_PIPELINED}) {
      INFO(lt::backend_name(kind) << ", " << family_name(f));
      leap_video_desc d = desc_for(f, 2, 9, 3, 2.0);  // 5 chunks, the last one frame
      lp_video_stats cached{}, recomputed{};
      const std::vector<float> a = sample(t, d, &cached);
      d.recompute = 1;
      const std::vector<float> b = sample(t, d, &recomputed);
      const double e = lt::rel_l2(a, b);
      INFO("rel L2 cached against recomputed " << e);
      CHECK(e <= TOL_SAME);
      CHECK(cached.model_calls == recomputed.model_calls);
      CHECK(cached.kv_slots == 4);  // keep-all: every chunk but the last
      CHECK(cached.peak_stored == 4);
      CHECK(recomputed.kv_slots == 0);
      // Only the chunks in flight are held with the cache; recompute keeps
      // every finished chunk as its history.
      CHECK(cached.peak_live_chunks < 5);
      CHECK(recomputed.peak_live_chunks == 5);
    }
  }
}

TEST_CASE("video sample: rolling and sparse policies keep their bound, and above the video's length they are keep-all",
          "[video][block]") {
  Tiny t(LEAP_BACKEND_CPU);
  for (leap_block_family f : {LEAP_BLOCK_AUTOREGRESSIVE, LEAP_BLOCK_PYRAMID}) {
    INFO(family_name(f));
    leap_video_desc d = desc_for(f, 2, 14, 2, 2.0);  // 7 chunks
    lp_video_stats all_st{};
    const std::vector<float> all = sample(t, d, &all_st);
    CHECK(all_st.peak_stored == 6);  // every chunk but the last
    // Autoregressive: the last chunk's second step sees all 6; pyramid (one
    // step apart, 2 steps): chunk 5 is written on the last chunk's last step.
    CHECK(all_st.peak_attended == (f == LEAP_BLOCK_AUTOREGRESSIVE ? 6 : 5));

    leap_kv_policy_desc rolling = leap_kv_policy_desc_default();
    rolling.kind = LEAP_KV_ROLLING;
    leap_kv_policy_desc sparse = rolling;
    sparse.kind = LEAP_KV_SPARSE;
    sparse.summary_dim = 0;  // the model's hidden size
    // Bounds above the video's 7 chunks: the same clips as keep-all.
    rolling.sinks = 2, rolling.window = 8;
    sparse.sinks = 1, sparse.window = 2, sparse.top_k = 6, sparse.store = 12;
    for (const leap_kv_policy_desc &k : {rolling, sparse}) {
      INFO("kind " << k.kind);
      d.kv = k;
      const std::vector<float> same = sample(t, d);
      CHECK(lt::rel_l2(same, all) == 0.0);  // the same chunks in the same slots: the same sums
    }
    // Small bounds: never more stored than the bound, fewer attended.
    rolling.sinks = 1, rolling.window = 1;
    sparse.sinks = 1, sparse.window = 1, sparse.top_k = 1, sparse.store = 3;
    struct Bound {
      leap_kv_policy_desc k;
      int stored, attended;
    } bounds[] = {{rolling, 2, 2}, {sparse, 3, 3}};
    for (const Bound &b : bounds) {
      INFO("kind " << b.k.kind);
      d.kv = b.k;
      lp_video_stats st{};
      const std::vector<float> got = sample(t, d, &st);  // finite (sample() checks)
      CHECK(st.peak_stored == b.stored);
      CHECK(st.peak_attended == b.attended);
      CHECK(st.kv_slots == b.stored + 1);
      CHECK(lt::rel_l2(got, all) > 1e-4);  // the dropped history changed the clips
    }
  }
}

TEST_CASE("video sample: frames leave through on_frames in order as whole chunks, out may be NULL",
          "[video][block]") {
  Tiny t(LEAP_BACKEND_CPU);
  for (leap_block_family f : {LEAP_BLOCK_SYNCHRONOUS, LEAP_BLOCK_AUTOREGRESSIVE, LEAP_BLOCK_PYRAMID,
                              LEAP_BLOCK_PIPELINED}) {
    INFO(family_name(f));
    leap_video_desc d = desc_for(f, 3, 9, 2, 1.0);  // 9 frames in chunks of 2; no guidance
    Collector c;
    c.n = d.n, c.per_frame = t.per_frame, c.frames_per_chunk = t.info.frames_per_chunk;
    d.on_frames = Collector::take, d.on_frames_user = &c;
    std::vector<int> progress;
    d.progress = [](void *u, int step, int) -> int {
      static_cast<std::vector<int> *>(u)->push_back(step);
      return 0;
    };
    d.progress_user = &progress;
    const std::vector<float> out = sample(t, d);
    REQUIRE(c.calls.size() == 5);
    // Progress comes every iteration: never decreasing, and its distinct
    // values past 0 are the chunk ends, in order.
    std::vector<int> ends;
    for (size_t i = 0; i < progress.size(); i++) {
      if (i) CHECK(progress[i] >= progress[i - 1]);
      if (progress[i] > 0 && (ends.empty() || ends.back() != progress[i])) ends.push_back(progress[i]);
    }
    REQUIRE(ends.size() == c.calls.size());
    int next = 0;
    for (const auto &call : c.calls) {
      CHECK(call.first == next);
      CHECK(call.second == std::min(2, 9 - next));
      next += call.second;
      CHECK(ends[&call - &c.calls[0]] == next);
    }
    std::vector<float> joined;
    for (const auto &clip : c.clips) joined.insert(joined.end(), clip.begin(), clip.end());
    CHECK(joined == out);

    // Without out: the same frames.
    Collector c2 = c;
    c2.calls.clear(), c2.clips.clear();
    d.on_frames_user = &c2;
    progress.clear();
    REQUIRE(lp_video_sample_stats(t.m, &d, nullptr, nullptr) == LEAP_OK);
    CHECK(c2.clips == c.clips);
  }
}

TEST_CASE("video sample: memory does not grow with the frames under a rolling policy", "[video][block]") {
  Tiny t(LEAP_BACKEND_CPU);
  for (leap_block_family f : {LEAP_BLOCK_AUTOREGRESSIVE, LEAP_BLOCK_PIPELINED}) {
    INFO(family_name(f));
    std::vector<lp_video_stats> st;
    for (int frames : {16, 40}) {  // both longer than the store's 4 slots
      leap_video_desc d = desc_for(f, 1, frames, 2, 1.0);
      d.kv.kind = LEAP_KV_ROLLING, d.kv.sinks = 1, d.kv.window = 2;
      Collector c;
      c.n = 1, c.per_frame = t.per_frame;
      d.on_frames = Collector::take, d.on_frames_user = &c;
      lp_video_stats s{};
      REQUIRE(lp_video_sample_stats(t.m, &d, nullptr, &s) == LEAP_OK);
      CHECK((int)c.clips[0].size() == frames * (int)t.per_frame);
      st.push_back(s);
    }
    CHECK(st[0].peak_live_chunks == st[1].peak_live_chunks);
    CHECK(st[0].kv_slots == st[1].kv_slots);
    CHECK(st[1].peak_stored == 3);
    CHECK(st[1].model_calls > st[0].model_calls);
  }
}

TEST_CASE("video sample: a callback's non-zero return stops the run", "[video][block]") {
  Tiny t(LEAP_BACKEND_CPU);
  leap_video_desc d = desc_for(LEAP_BLOCK_PYRAMID, 2, 10, 3, 2.0);
  Collector c;
  c.n = d.n, c.per_frame = t.per_frame, c.stop_after = 2;
  d.on_frames = Collector::take, d.on_frames_user = &c;
  std::vector<float> out((size_t)d.n * d.frames * t.per_frame);
  CHECK(leap_video_sample(t.m, &d, out.data()) == LEAP_ERR_INTERRUPTED);
  CHECK(c.calls.size() == 2);
  CHECK(std::string(leap_last_error()).find("on_frames") != std::string::npos);
  d.on_frames = nullptr;
  d.progress = [](void *, int step, int) -> int { return step >= 4; };
  CHECK(leap_video_sample(t.m, &d, out.data()) == LEAP_ERR_INTERRUPTED);
  CHECK(std::string(leap_last_error()).find("progress") != std::string::npos);
  // Synchronous: no chunk finishes before the last step, yet a stop at the
  // first iteration's report ends the run there (Ctrl-C must not wait).
  leap_video_desc sd = desc_for(LEAP_BLOCK_SYNCHRONOUS, 2, 10, 3, 2.0);
  Collector c3;
  c3.n = sd.n, c3.per_frame = t.per_frame;
  sd.on_frames = Collector::take, sd.on_frames_user = &c3;
  int reports = 0;
  sd.progress = [](void *u, int, int) -> int { return ++*static_cast<int *>(u) >= 1; };
  sd.progress_user = &reports;
  CHECK(leap_video_sample(t.m, &sd, out.data()) == LEAP_ERR_INTERRUPTED);
  CHECK(reports == 1);
  CHECK(c3.calls.empty());
  CHECK(std::string(leap_last_error()).find("iteration 1 of") != std::string::npos);
}

TEST_CASE("video sample: CPU and Vulkan agree", "[video][block]") {
  Tiny cpu(LEAP_BACKEND_CPU), vk(LEAP_BACKEND_VULKAN);
  if (!vk.ctx) return;
  leap_video_desc d = desc_for(LEAP_BLOCK_PYRAMID, 2, 11, 3, 3.0);
  d.kv.kind = LEAP_KV_SPARSE, d.kv.sinks = 1, d.kv.window = 1, d.kv.top_k = 1, d.kv.store = 3;
  d.shuffle_window = 4;
  const std::vector<float> a = sample(cpu, d), b = sample(vk, d);
  const double e = lt::rel_l2(b, a);
  INFO("rel L2 Vulkan against CPU " << e);
  CHECK(e <= TOL_BACKENDS);
}

TEST_CASE("video sample: the streamed initial noise is leap_noise_fill shuffled clip by clip", "[video][block]") {
  const int n = 2, frames = 23;
  const size_t per = 7;
  struct Shuffle {
    int window, stride;
  } cases[] = {{0, 0}, {4, 2}, {5, 5}, {6, 4}, {23, 1}};
  for (const Shuffle &sh : cases) {
    INFO("window " << sh.window << ", stride " << sh.stride);
    std::vector<float> want(n * frames * per);
    REQUIRE(leap_noise_fill(99, n, frames * per, want.data()) == LEAP_OK);
    for (int b = 0; sh.window && b < n; b++)
      REQUIRE(leap_block_noise_shuffle(want.data() + (size_t)b * frames * per, frames, per, sh.window, sh.stride,
                                       99 + b) == LEAP_OK);
    lp_video_noise *z = nullptr;
    REQUIRE(lp_video_noise_create(99, n, frames, per, sh.window, sh.stride, &z) == LEAP_OK);
    std::vector<float> got(n * frames * per);
    for (int f = 0, k = 1; f < frames; f += k, k = k % 3 + 1) {  // 1, 2, 3, 1, ... frames at a time
      const int count = std::min(k, frames - f);
      std::vector<float> part(n * count * per);
      REQUIRE(lp_video_noise_next(z, count, part.data()) == LEAP_OK);
      for (int b = 0; b < n; b++)
        std::copy(part.begin() + (size_t)b * count * per, part.begin() + (size_t)(b + 1) * count * per,
                  got.begin() + ((size_t)b * frames + f) * per);
    }
    CHECK(got == want);
    float extra[n * per];
    CHECK(lp_video_noise_next(z, 1, extra) == LEAP_ERR_INVALID_ARG);
    lp_video_noise_destroy(z);
  }
}

TEST_CASE("video sample: bad descriptions are refused naming the field", "[video][block]") {
  Tiny t(LEAP_BACKEND_CPU);
  std::vector<float> out(64 * 4 * t.per_frame);
  struct Bad {
    const char *says;
    void (*edit)(leap_video_desc *);
  } bad[] = {
      {"struct_size", [](leap_video_desc *d) { d->struct_size = 8; }},
      {"n =", [](leap_video_desc *d) { d->n = 0; }},
      {"frames =", [](leap_video_desc *d) { d->frames = 0; }},
      {"steps =", [](leap_video_desc *d) { d->steps = 0; }},
      {"cfg", [](leap_video_desc *d) { d->cfg = NAN; }},
      {"shift", [](leap_video_desc *d) { d->shift = 0; }},
      {"labels[1]", [](leap_video_desc *d) {
         static const int32_t y[2] = {0, 9};
         d->labels = y;
       }},
      {"ar_step", [](leap_video_desc *d) { d->family = LEAP_BLOCK_PYRAMID, d->ar_step = -1; }},
      {"window 0", [](leap_video_desc *d) { d->family = LEAP_BLOCK_PIPELINED, d->window = 0; }},
      {"family", [](leap_video_desc *d) { d->family = (leap_block_family)9; }},
      {"store", [](leap_video_desc *d) {
         d->kv.kind = LEAP_KV_SPARSE, d->kv.sinks = 1, d->kv.window = 1, d->kv.top_k = 1, d->kv.store = 2;
       }},
      {"summary_dim", [](leap_video_desc *d) { d->kv.kind = LEAP_KV_SPARSE, d->kv.summary_dim = 5; }},
      {"kv policy: struct_size", [](leap_video_desc *d) { d->kv.struct_size = 0; }},
      {"recompute", [](leap_video_desc *d) { d->kv.kind = LEAP_KV_ROLLING, d->recompute = 1; }},
      {"shuffle_stride", [](leap_video_desc *d) { d->shuffle_window = 2, d->shuffle_stride = 3; }},
      {"shuffle_window", [](leap_video_desc *d) { d->shuffle_window = -1; }},
  };
  for (const Bad &b : bad) {
    INFO(b.says);
    leap_video_desc d = desc_for(LEAP_BLOCK_AUTOREGRESSIVE, 2, 6, 2, 2.0);
    b.edit(&d);
    CHECK(leap_video_sample(t.m, &d, out.data()) == LEAP_ERR_INVALID_ARG);
    INFO(leap_last_error());
    CHECK(std::string(leap_last_error()).find(b.says) != std::string::npos);
  }
  leap_video_desc d = desc_for(LEAP_BLOCK_AUTOREGRESSIVE, 2, 6, 2, 2.0);
  CHECK(leap_video_sample(t.m, &d, nullptr) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("on_frames") != std::string::npos);
  CHECK(leap_video_sample(nullptr, &d, out.data()) == LEAP_ERR_INVALID_ARG);
  CHECK(leap_video_sample(t.m, nullptr, out.data()) == LEAP_ERR_INVALID_ARG);
  // An image model.
  leap_model *img = nullptr;
  REQUIRE(leap_model_load(t.ctx, lt::data("dit_tiny_f32.safetensors").c_str(), &img) == LEAP_OK);
  CHECK(leap_video_sample(img, &d, out.data()) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("not a video model") != std::string::npos);
  leap_model_destroy(img);
}

// Every allocation of a run failing in turn (core/alloc.h): each is
// LEAP_ERR_NOMEM with a message, and the model still samples afterwards
// (under -DLEAP_SANITIZE=ON the sweep also shows nothing leaks).
TEST_CASE("video sample: an allocation failure anywhere in a run is LEAP_ERR_NOMEM", "[video][block][fault]") {
  Tiny t(LEAP_BACKEND_CPU);
  leap_video_desc d = desc_for(LEAP_BLOCK_PYRAMID, 2, 7, 2, 2.0);
  d.kv.kind = LEAP_KV_SPARSE, d.kv.sinks = 1, d.kv.window = 0, d.kv.top_k = 1, d.kv.store = 2;
  d.shuffle_window = 2;
  Collector c;
  c.n = d.n, c.per_frame = t.per_frame;
  d.on_frames = Collector::take, d.on_frames_user = &c;
  std::vector<float> want((size_t)d.n * d.frames * t.per_frame), got(want.size());
  lp_alloc_fail_at(0, 0);
  REQUIRE(leap_video_sample(t.m, &d, want.data()) == LEAP_OK);
  const long count = lp_alloc_count();
  REQUIRE(count > 10);
  for (long k = 1; k <= count; k++) {
    INFO("allocation " << k << " of " << count << " fails");
    lp_alloc_fail_at(k, 0);
    const leap_status s = leap_video_sample(t.m, &d, got.data());
    const int failed = lp_alloc_failed();
    lp_alloc_fail_at(0, 0);
    REQUIRE(failed);
    CHECK(s == LEAP_ERR_NOMEM);
    CHECK(std::string(leap_last_error()).size() > 0);
  }
  c.calls.clear(), c.clips.clear();
  REQUIRE(leap_video_sample(t.m, &d, got.data()) == LEAP_OK);
  CHECK(got == want);
}

// SPARSE's chunk summary (lp_video_dit_slot_summary) undoes the rotary
// embedding: the same clean chunk written with no history at chunk 0 and
// at chunk 5 has the same keys before the rotation (attention with rotary
// positions sees only relative ones), so the same summary, while its
// stored (rotated) keys differ. Tolerance 1e-5 relative L2 (float angles on
// Vulkan, double on the CPU).
TEST_CASE("video sample: a chunk's summary does not depend on where the chunk is", "[video][block]") {
  for (leap_backend_kind kind : {LEAP_BACKEND_CPU, LEAP_BACKEND_VULKAN}) {
    Tiny t(kind);
    if (!t.ctx) continue;
    INFO(lt::backend_name(kind));
    lp_video_dit *v = lp_model_video_dit(t.m);
    const int Fc = t.info.frames_per_chunk, D = t.info.hidden_size;
    const std::vector<float> x = lt::random_f32((size_t)Fc * t.per_frame, 5, -1.0f, 1.0f);
    const std::vector<float> tt(Fc, 0.0f);
    const int32_t y[1] = {1}, slot[1] = {0};
    std::vector<float> out((size_t)Fc * t.info.out_channels * t.info.height * t.info.width);
    std::vector<std::vector<float>> sums;
    for (int chunk : {0, 5}) {
      REQUIRE(lp_video_dit_cache_begin(v, 1, Fc) == LEAP_OK);
      lp_video_window w{};
      w.rows = 1, w.chunk0 = chunk, w.frames = Fc, w.x = x.data(), w.t = tt.data(), w.y = y;
      w.writes = 1, w.write_slots = slot, w.out = out.data();
      REQUIRE(lp_video_dit_forward_window(v, &w) == LEAP_OK);
      for (int as : {chunk, 0}) {
        std::vector<float> s(D);
        REQUIRE(lp_video_dit_slot_summary(v, 0, 0, as, s.data()) == LEAP_OK);
        sums.push_back(s);
      }
    }
    lp_video_dit_cache_end(v);
    CHECK(lp_video_dit_cache_slots(v) == 0);
    const double same = lt::rel_l2(sums[2], sums[0]), unrotated = lt::rel_l2(sums[3], sums[0]);
    INFO("summary at chunk 5 against chunk 0: " << same << "; chunk 5's keys read as chunk 0's: " << unrotated);
    CHECK(same <= 1e-5);
    CHECK(unrotated > 1e-2);
  }
}
