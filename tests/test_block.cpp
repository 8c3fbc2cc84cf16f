// test_block.cpp - block diffusion's schedules (every family gives every
// chunk each step of its schedule exactly once, in order, over many sizes,
// tail chunks included; windows and KV writes are consistent) and FreeNoise
// noise shuffling.
#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "test_util.hpp"

namespace {

struct Rows {
  int chunks = 0, rows = 0;
  std::vector<std::vector<int>> step;
  std::vector<std::vector<uint8_t>> update, kv;
  std::vector<int> begin, end, updated;
};

Rows materialize(const leap_block_schedule_desc &d) {
  leap_block_schedule *s = nullptr;
  REQUIRE(leap_block_schedule_create(&d, &s) == LEAP_OK);
  Rows r;
  r.chunks = leap_block_schedule_chunks(s);
  r.rows = leap_block_schedule_iterations(s);
  for (int k = 0; k < r.rows; k++) {
    std::vector<int> step((size_t)r.chunks, -7);
    std::vector<uint8_t> up((size_t)r.chunks, 9), kv((size_t)r.chunks, 9);
    leap_block_iteration it{};
    it.struct_size = sizeof it;
    it.step = step.data(), it.update = up.data(), it.kv_write = kv.data();
    REQUIRE(leap_block_schedule_get(s, k, &it) == LEAP_OK);
    r.step.push_back(step), r.update.push_back(up), r.kv.push_back(kv);
    r.begin.push_back(it.window_begin), r.end.push_back(it.window_end), r.updated.push_back(it.updated);
  }
  // Frames: consecutive chunks cover 0..frames-1 once, the tail not dropped.
  int next = 0;
  for (int i = 0; i < r.chunks; i++) {
    int first = -1, count = -1;
    REQUIRE(leap_block_schedule_chunk_frames(s, i, &first, &count) == LEAP_OK);
    CHECK(first == next);
    CHECK(count >= 1);
    CHECK(count <= d.frames_per_chunk);
    next = first + count;
  }
  CHECK(next == d.frames);
  leap_block_iteration bad{};
  bad.struct_size = sizeof bad;
  CHECK(leap_block_schedule_get(s, r.rows, &bad) == LEAP_ERR_INVALID_ARG);
  leap_block_schedule_destroy(s);
  return r;
}

// The properties every family must have.
void check_schedule(const leap_block_schedule_desc &d, const Rows &r) {
  const int K = d.steps;
  REQUIRE(r.chunks == (d.frames + d.frames_per_chunk - 1) / d.frames_per_chunk);
  std::vector<int> taken((size_t)r.chunks, 0);
  std::vector<char> in_cache((size_t)r.chunks, 0);
  for (int k = 0; k < r.rows; k++) {
    int n_up = 0;
    for (int i = 0; i < r.chunks; i++) {
      const int st = r.step[k][i];
      // The step index is the number of steps taken so far.
      REQUIRE(st == taken[i]);
      REQUIRE((r.update[k][i] == 0 || r.update[k][i] == 1));
      REQUIRE((r.kv[k][i] == 0 || r.kv[k][i] == 1));
      if (r.update[k][i]) {
        REQUIRE(st < K);
        taken[i]++, n_up++;
      }
      if (r.kv[k][i]) {
        REQUIRE(st == K);       // only a finished chunk writes its keys and values
        REQUIRE(!in_cache[i]);  // and only once
      }
      // Inside the window: every chunk is denoised or written to the cache;
      // before it: history, finished and already in the cache.
      const bool inside = i >= r.begin[k] && i < r.end[k];
      if (inside) REQUIRE((r.update[k][i] || r.kv[k][i]));
      if (i < r.begin[k]) {
        REQUIRE(st == K);
        REQUIRE(in_cache[i]);
      }
      if (i >= r.end[k]) REQUIRE(!r.update[k][i]);
    }
    for (int i = 0; i < r.chunks; i++)
      if (r.kv[k][i]) in_cache[i] = 1;
    // No idle iteration, and the count agrees.
    REQUIRE(n_up >= 1);
    REQUIRE(n_up == r.updated[k]);
  }
  // Every chunk took every step exactly once.
  for (int i = 0; i < r.chunks; i++) REQUIRE(taken[i] == K);
}

}  // namespace

TEST_CASE("block schedule: every family gives every chunk each step exactly once", "[block]") {
  int cases = 0;
  for (int family = 0; family < 4; family++)
    for (int frames : {1, 2, 3, 7, 16, 17, 31})
      for (int fpc : {1, 2, 3, 4, 5})
        for (int steps : {1, 2, 4, 7})
          for (int p : {0, 1, 2, 3, 9}) {
            leap_block_schedule_desc d = leap_block_schedule_desc_default();
            d.frames = frames, d.frames_per_chunk = fpc, d.steps = steps;
            d.family = (leap_block_family)family;
            d.ar_step = p;
            d.lag = p + 1;
            d.window = 1 + p % 4;
            INFO("family " << family << " frames " << frames << " fpc " << fpc << " steps "
                           << steps << " param " << p);
            Rows r = materialize(d);
            check_schedule(d, r);
            const int N = r.chunks;
            switch (family) {
            case LEAP_BLOCK_SYNCHRONOUS:
              CHECK(r.rows == steps);
              for (int k = 0; k < r.rows; k++) CHECK(r.updated[k] == N);
              break;
            case LEAP_BLOCK_AUTOREGRESSIVE:
              CHECK(r.rows == N * steps);
              for (int k = 0; k < r.rows; k++) CHECK(r.updated[k] == 1);
              break;
            case LEAP_BLOCK_PYRAMID:
              CHECK(r.rows == steps + (N - 1) * std::min(p, steps));
              break;
            case LEAP_BLOCK_PIPELINED:
              for (int k = 0; k < r.rows; k++) CHECK(r.updated[k] <= d.window);
              break;
            }
            cases++;
          }
  CHECK(cases == 4 * 7 * 5 * 4 * 5);
}

TEST_CASE("block schedule: pyramid trails by ar_step, as SkyReels-V2's timestep matrix", "[block]") {
  // 3 chunks, 4 steps, ar_step 2: chunk i's step index on row r is
  // clamp(r - 2 i, 0, 4); 4 + 2 * 2 = 8 rows.
  leap_block_schedule_desc d = leap_block_schedule_desc_default();
  d.frames = 9, d.frames_per_chunk = 3, d.steps = 4, d.family = LEAP_BLOCK_PYRAMID, d.ar_step = 2;
  Rows r = materialize(d);
  REQUIRE(r.rows == 8);
  const int want[8][3] = {{0, 0, 0}, {1, 0, 0}, {2, 0, 0}, {3, 1, 0},
                          {4, 2, 0}, {4, 3, 1}, {4, 4, 2}, {4, 4, 3}};
  const int begin[8] = {0, 0, 0, 0, 0, 1, 1, 2}, end[8] = {1, 1, 2, 2, 3, 3, 3, 3};
  for (int k = 0; k < 8; k++) {
    for (int i = 0; i < 3; i++) CHECK(r.step[k][i] == want[k][i]);
    CHECK(r.begin[k] == begin[k]);
    CHECK(r.end[k] == end[k]);
  }
  // Chunk 0 finishes on row 3 and is run clean on row 4; chunk 1 on row 6.
  CHECK(r.kv[4][0] == 1);
  CHECK(r.kv[6][1] == 1);
  CHECK(r.kv[7][2] == 0);
}

TEST_CASE("block schedule: pipelined keeps at most `window` chunks in flight, `lag` apart",
          "[block]") {
  leap_block_schedule_desc d = leap_block_schedule_desc_default();
  d.frames = 40, d.frames_per_chunk = 4, d.steps = 16, d.family = LEAP_BLOCK_PIPELINED;
  d.window = 4, d.lag = 2;
  Rows r = materialize(d);
  // The fifth chunk waits for the first to finish (row 16), though lag
  // alone would start it on row 8; starts: 0 2 4 6 16 18 20 22 32 34.
  std::vector<int> starts;
  for (int i = 0; i < r.chunks; i++)
    for (int k = 0; k < r.rows; k++)
      if (r.update[k][i]) {
        starts.push_back(k);
        break;
      }
  CHECK(starts == std::vector<int>{0, 2, 4, 6, 16, 18, 20, 22, 32, 34});
  CHECK(r.rows == 34 + 16);
  int most = 0;
  for (int k = 0; k < r.rows; k++) most = std::max(most, r.updated[k]);
  CHECK(most == 4);
}

TEST_CASE("block schedule: bad descriptions are refused, an older, smaller struct works", "[block]") {
  leap_block_schedule *s = nullptr;
  leap_block_schedule_desc d = leap_block_schedule_desc_default();
  d.frames = 0;
  CHECK(leap_block_schedule_create(&d, &s) == LEAP_ERR_INVALID_ARG);
  d = leap_block_schedule_desc_default();
  d.family = (leap_block_family)9;
  CHECK(leap_block_schedule_create(&d, &s) == LEAP_ERR_INVALID_ARG);
  d = leap_block_schedule_desc_default();
  d.family = LEAP_BLOCK_PIPELINED, d.lag = 0;
  CHECK(leap_block_schedule_create(&d, &s) == LEAP_ERR_INVALID_ARG);
  d.struct_size = 8;
  CHECK(leap_block_schedule_create(&d, &s) == LEAP_ERR_INVALID_ARG);
  CHECK(s == nullptr);
}

TEST_CASE("noise shuffle: each group is a seeded permutation of the group a window earlier",
          "[block]") {
  const int frames = 23, W = 8, S = 3;
  const size_t per = 5;
  std::vector<float> orig = lt::random_f32(frames * per, 31), a = orig, b = orig, c = orig;
  REQUIRE(leap_block_noise_shuffle(a.data(), frames, per, W, S, 7) == LEAP_OK);
  REQUIRE(leap_block_noise_shuffle(b.data(), frames, per, W, S, 7) == LEAP_OK);
  REQUIRE(leap_block_noise_shuffle(c.data(), frames, per, W, S, 8) == LEAP_OK);
  CHECK(a == b);
  CHECK(a != c);
  auto frame = [&](const std::vector<float> &v, int f) {
    return std::vector<float>(v.begin() + (long)(f * per), v.begin() + (long)((f + 1) * per));
  };
  // The first window is untouched.
  for (int f = 0; f < W; f++) CHECK(frame(a, f) == frame(orig, f));
  // Each later group (the tail group of 23 - 20 = 3 frames included) holds
  // exactly the frames of the group a window earlier, in some order.
  int moved = 0;
  for (int g = W; g < frames; g += S) {
    const int n = std::min(S, frames - g);
    std::vector<std::vector<float>> got, src;
    for (int k = 0; k < n; k++) {
      got.push_back(frame(a, g + k));
      src.push_back(frame(a, g - W + k));
      moved += frame(a, g + k) != frame(a, g - W + k);
    }
    std::sort(got.begin(), got.end());
    std::sort(src.begin(), src.end());
    CHECK(got == src);
  }
  CHECK(moved > 0);  // not the identity everywhere
  // Fewer frames than a window: nothing to do.
  std::vector<float> short_ = lt::random_f32(4 * per, 2), keep = short_;
  REQUIRE(leap_block_noise_shuffle(short_.data(), 4, per, W, S, 1) == LEAP_OK);
  CHECK(short_ == keep);
  CHECK(leap_block_noise_shuffle(a.data(), frames, per, 4, 5, 1) == LEAP_ERR_INVALID_ARG);
}

// ---- KV cache policies -----------------------------------------------------

namespace {

struct Policy {
  leap_kv_policy *p = nullptr;
  explicit Policy(const leap_kv_policy_desc &d) { REQUIRE(leap_kv_policy_create(&d, &p) == LEAP_OK); }
  ~Policy() { leap_kv_policy_destroy(p); }
};

std::vector<int> select_all(leap_kv_policy *p, const float *query = nullptr) {
  std::vector<int> v(4096);
  int n = -1;
  REQUIRE(leap_kv_policy_select(p, query, v.data(), (int)v.size(), &n) == LEAP_OK);
  v.resize((size_t)n);
  return v;
}

}  // namespace

TEST_CASE("kv policy: keep-all keeps every chunk, rolling the sinks and the last window", "[block]") {
  leap_kv_policy_desc d = leap_kv_policy_desc_default();
  d.kind = LEAP_KV_KEEP_ALL;
  Policy all(d);
  d.kind = LEAP_KV_ROLLING, d.sinks = 2, d.window = 3;
  Policy roll(d);
  for (int c = 0; c < 100; c++) {
    int ev_all = -2, ev_roll = -2;
    REQUIRE(leap_kv_policy_add(all.p, c, nullptr, &ev_all) == LEAP_OK);
    REQUIRE(leap_kv_policy_add(roll.p, c, nullptr, &ev_roll) == LEAP_OK);
    CHECK(ev_all == -1);
    // Rolling evicts the chunk that just left the window, once there are
    // more than sinks + window.
    CHECK(ev_roll == (c >= 5 ? c - 3 : -1));
    std::vector<int> want;
    for (int k = 0; k <= c; k++)
      if (k < 2 || k > c - 3) want.push_back(k);
    CHECK(select_all(roll.p) == want);
    CHECK(leap_kv_policy_stored(roll.p) == (int)want.size());
    CHECK(leap_kv_policy_stored(all.p) == c + 1);
  }
  CHECK(select_all(all.p).size() == 100);
  int ev = 0;
  CHECK(leap_kv_policy_add(roll.p, 50, nullptr, &ev) == LEAP_ERR_INVALID_ARG);  // out of order
}

TEST_CASE("kv policy: sparse attends the top-k most similar stored chunks within a bounded store",
          "[block]") {
  const int dim = 6;
  leap_kv_policy_desc d = leap_kv_policy_desc_default();
  d.kind = LEAP_KV_SPARSE, d.sinks = 1, d.window = 2, d.top_k = 2, d.store = 8, d.summary_dim = dim;
  Policy sp(d);
  std::vector<std::vector<float>> summ;
  std::set<int> stored;
  for (int c = 0; c < 60; c++) {
    summ.push_back(lt::random_f32(dim, 500 + (uint32_t)c));
    int ev = -2;
    REQUIRE(leap_kv_policy_add(sp.p, c, summ.back().data(), &ev) == LEAP_OK);
    stored.insert(c);
    if (ev >= 0) {
      CHECK(stored.count(ev) == 1);
      CHECK(ev >= 1);         // never a sink
      CHECK(ev <= c - 2);     // never the recent window
      stored.erase(ev);
    }
    // Bounded by the store, not by the video's length.
    CHECK(leap_kv_policy_stored(sp.p) == std::min(c + 1, 8));
    CHECK((int)stored.size() == leap_kv_policy_stored(sp.p));
    // The selection: sinks, the window, and the top 2 of the rest by
    // cosine to the query, computed here independently.
    const std::vector<float> q = lt::random_f32(dim, 900 + (uint32_t)c);
    std::vector<std::pair<double, int>> rest;
    std::vector<int> want;
    for (int k : stored) {
      if (k < 1 || k > c - 2) {
        want.push_back(k);
        continue;
      }
      double ab = 0, aa = 0, bb = 0;
      for (int j = 0; j < dim; j++)
        ab += (double)summ[(size_t)k][(size_t)j] * q[(size_t)j], aa += (double)summ[(size_t)k][(size_t)j] * summ[(size_t)k][(size_t)j],
            bb += (double)q[(size_t)j] * q[(size_t)j];
      rest.push_back({-ab / std::sqrt(aa * bb), k});
    }
    std::sort(rest.begin(), rest.end());
    for (size_t k = 0; k < rest.size() && k < 2; k++) want.push_back(rest[k].second);
    std::sort(want.begin(), want.end());
    CHECK(select_all(sp.p, q.data()) == want);
  }
  // Bad descriptions.
  leap_kv_policy *p = nullptr;
  d.store = 4;  // < sinks + window + top_k
  CHECK(leap_kv_policy_create(&d, &p) == LEAP_ERR_INVALID_ARG);
  d.store = 8, d.summary_dim = 0;
  CHECK(leap_kv_policy_create(&d, &p) == LEAP_ERR_INVALID_ARG);
  CHECK(p == nullptr);
}
