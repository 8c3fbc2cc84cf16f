// test_video_ops.cpp - the op table (plugin/op_table.c), the video ops
// (block-causal attention with a KV cache and the KV append, backend.h, each
// on the CPU and on Vulkan) and the moving Fashion-MNIST clips.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "test_util.hpp"

extern "C" {
#include "backend.h"
#include "data_moving_fmnist.h"
#include "dataset.h"
#include "kv_cache.h"
#include "op_table.h"
#include "vk_backend.h"
}

TEST_CASE("op table: every op kind has a filled-in row", "[video][ops]") {
  for (int k = 0; k < LP_OP_COUNT; k++) {
    const lp_op_info *info = lp_op_info_of(k);
    INFO("op kind " << k);
    REQUIRE(info != nullptr);
    REQUIRE(info->name != nullptr);
    CHECK(std::strlen(info->name) > 0);
    CHECK(info->arity >= 1);
    CHECK(info->arity <= 3);
    CHECK(info->npos >= 1);
    CHECK(info->npos <= (int)(sizeof(lp_op{}.i) / sizeof(int32_t)));
    for (int b = 0; b < LP_CPU_BUILDS; b++) CHECK(info->cpu[b] != nullptr);
    CHECK(info->vk_plan != nullptr);
    for (int j = 0; j < k; j++) CHECK(std::string(lp_op_info_of(j)->name) != info->name);
  }
  CHECK(lp_op_info_of(-1) == nullptr);
  CHECK(lp_op_info_of(LP_OP_COUNT) == nullptr);

  // An unknown kind is an error on the CPU, not a silent no-op.
  lp_op op{};
  op.kind = LP_OP_COUNT;
  CHECK(lp_cpu_run_op(&op) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("unknown op kind") != std::string::npos);
}

// ---------------------------------------------------------------------------
// Block-causal attention with a KV cache (LP_OP_BLOCK_ATTENTION,
// LP_OP_KV_APPEND, plugin/kv_cache.h), on the CPU and on Vulkan (lavapipe
// under the validation layer in ctest), against a float64 reference with
// the mask written out token by token.
//
// Tolerances, as max|got - ref| / max|ref| over the output (F32 kernels):
//   against the float64 reference: 1e-5 (both backends accumulate in F32,
//     in another order than the reference; measured up to 1.05e-6 here)
//   chunk by chunk with the cache against the whole sequence, same
//     backend: 1e-5 (the same sums split differently between the cached
//     and the new keys)
//   KV_APPEND: exact (a copy)
namespace {

const double TOL_F32 = 1e-5;

struct Shape {
  int B, frames, P, F, D, heads;
  int T() const { return frames * P; }
};

// Reference: token s is visible from token t iff frame(s)/F <= frame(t)/F.
std::vector<double> reference(const std::vector<float> &qkv, const Shape &s) {
  const int T = s.T(), D = s.D, hd = D / s.heads;
  std::vector<double> out((size_t)s.B * T * D), w((size_t)T);
  for (int b = 0; b < s.B; b++)
    for (int h = 0; h < s.heads; h++)
      for (int t = 0; t < T; t++) {
        const float *q = &qkv[((size_t)b * T + t) * 3 * D + h * hd];
        double mx = -INFINITY, sum = 0;
        for (int u = 0; u < T; u++) {
          w[u] = -INFINITY;
          if ((u / s.P) / s.F > (t / s.P) / s.F) continue;
          const float *k = &qkv[((size_t)b * T + u) * 3 * D + D + h * hd];
          double dot = 0;
          for (int j = 0; j < hd; j++) dot += (double)q[j] * k[j];
          w[u] = dot / std::sqrt((double)hd);
          mx = std::max(mx, w[u]);
        }
        for (int u = 0; u < T; u++) sum += w[u] == -INFINITY ? 0 : std::exp(w[u] - mx);
        for (int j = 0; j < hd; j++) {
          double acc = 0;
          for (int u = 0; u < T; u++)
            if (w[u] != -INFINITY)
              acc += std::exp(w[u] - mx) / sum * qkv[((size_t)b * T + u) * 3 * D + 2 * D + h * hd + j];
          out[((size_t)b * T + t) * D + h * hd + j] = acc;
        }
      }
  return out;
}

template <class A, class B> double rel_max(const A &got, const B &ref) {
  REQUIRE(got.size() == ref.size());
  double err = 0, scale = 0;
  size_t bad = 0;
  for (size_t k = 0; k < ref.size(); k++) {
    bad += !std::isfinite((double)got[k]);
    err = std::max(err, std::fabs((double)got[k] - (double)ref[k]));
    scale = std::max(scale, std::fabs((double)ref[k]));
  }
  REQUIRE(bad == 0);
  REQUIRE(scale > 0);  // an all-zero output would prove nothing
  return err / scale;
}

lp_buf *upload(lp_backend *be, const std::vector<float> &v) {
  lp_buf *b = nullptr;
  REQUIRE(be->vt->buf_alloc(be, v.size() * sizeof(float), &b) == LEAP_OK);
  REQUIRE(be->vt->buf_write(be, b, 0, v.data(), v.size() * sizeof(float)) == LEAP_OK);
  return b;
}

std::vector<float> download(lp_backend *be, lp_buf *b, size_t n) {
  std::vector<float> v(n);
  REQUIRE(be->vt->buf_read(be, b, 0, v.data(), n * sizeof(float)) == LEAP_OK);
  return v;
}

leap_status run_ops(lp_backend *be, std::initializer_list<lp_op> ops) {
  lp_prog prog{};
  for (const lp_op &op : ops) REQUIRE(lp_prog_push(&prog, &op) == LEAP_OK);
  leap_status s = be->vt->prog_run(be, &prog);
  lp_prog_free(be, &prog);
  return s;
}

// The new-token rows [B, rows, width] of x [B, T, width] from row r0.
std::vector<float> rows_of(const std::vector<float> &x, int B, int T, int width, int r0, int rows) {
  std::vector<float> out;
  for (int b = 0; b < B; b++)
    out.insert(out.end(), x.begin() + ((size_t)b * T + r0) * width, x.begin() + ((size_t)b * T + r0 + rows) * width);
  return out;
}

// The whole clip in one op (no history: a cache of no chunks).
std::vector<float> whole_sequence(lp_backend *be, const std::vector<float> &qkv, const Shape &s) {
  lp_kv_cache cache;
  REQUIRE(lp_kv_cache_init(&cache, be, s.B, s.D, s.heads, s.P, s.F, s.F) == LEAP_OK);
  lp_buf *in = upload(be, qkv), *out = nullptr;
  REQUIRE(be->vt->buf_alloc(be, (size_t)s.B * s.T() * s.D * sizeof(float), &out) == LEAP_OK);
  lp_op op;
  REQUIRE(lp_kv_cache_attention_op(&cache, {in, 0}, {out, 0}, s.T(), &op) == LEAP_OK);
  leap_status st = run_ops(be, {op});
  INFO(be->vt->name << ": " << leap_last_error());
  REQUIRE(st == LEAP_OK);
  std::vector<float> got = download(be, out, (size_t)s.B * s.T() * s.D);
  be->vt->buf_free(be, in);
  be->vt->buf_free(be, out);
  lp_kv_cache_release(&cache, be);
  return got;
}

// Chunk by chunk as a host generating the clip would: each chunk's
// attention over the cache, then its keys and values appended (in the same
// program) unless it is the last. Returns the clip's output [B, T, D].
std::vector<float> chunk_by_chunk(lp_backend *be, const std::vector<float> &qkv, const Shape &s) {
  const int T = s.T(), D = s.D, chunk = s.F * s.P;
  lp_kv_cache cache;
  // (A clip shorter than a chunk caches nothing, but a cache holds one.)
  REQUIRE(lp_kv_cache_init(&cache, be, s.B, D, s.heads, s.P, s.F, std::max(s.frames, s.F)) == LEAP_OK);
  std::vector<std::vector<float>> outs;
  for (int r0 = 0; r0 < T; r0 += chunk) {
    const int Tn = std::min(chunk, T - r0);
    lp_buf *in = upload(be, rows_of(qkv, s.B, T, 3 * D, r0, Tn)), *out = nullptr;
    REQUIRE(be->vt->buf_alloc(be, (size_t)s.B * Tn * D * sizeof(float), &out) == LEAP_OK);
    lp_op att, app;
    REQUIRE(lp_kv_cache_attention_op(&cache, {in, 0}, {out, 0}, Tn, &att) == LEAP_OK);
    const bool last = r0 + Tn >= T;
    leap_status st;
    if (!last) {
      REQUIRE(lp_kv_cache_append_op(&cache, {in, 0}, &app) == LEAP_OK);
      st = run_ops(be, {att, app});
    } else {
      st = run_ops(be, {att});
    }
    INFO(be->vt->name << " chunk at row " << r0 << ": " << leap_last_error());
    REQUIRE(st == LEAP_OK);
    if (!last) lp_kv_cache_advance(&cache);
    outs.push_back(download(be, out, (size_t)s.B * Tn * D));
    be->vt->buf_free(be, in);
    be->vt->buf_free(be, out);
  }
  lp_kv_cache_release(&cache, be);
  // Back to [B, T, D].
  std::vector<float> got((size_t)s.B * T * D);
  for (size_t c = 0; c < outs.size(); c++) {
    const int r0 = (int)c * chunk, Tn = std::min(chunk, T - r0);
    for (int b = 0; b < s.B; b++)
      std::copy(outs[c].begin() + (size_t)b * Tn * D, outs[c].begin() + (size_t)(b + 1) * Tn * D,
                got.begin() + ((size_t)b * T + r0) * D);
  }
  return got;
}

struct Backends {
  lp_backend *cpu = nullptr, *vk = nullptr;
  Backends() {
    REQUIRE(lp_cpu_backend_create(0, &cpu) == LEAP_OK);
    leap_status s = lp_vk_backend_create(nullptr, -1, &vk);
    if (s == LEAP_ERR_NO_DEVICE) WARN("no Vulkan device, Vulkan half skipped: " << leap_last_error());
    else REQUIRE(s == LEAP_OK);
  }
  ~Backends() {
    if (vk) {
      CHECK(lp_vk_validation_messages(vk) == 0);
      vk->vt->destroy(vk);
    }
    cpu->vt->destroy(cpu);
  }
  std::vector<lp_backend *> all() const { return vk ? std::vector<lp_backend *>{cpu, vk} : std::vector<lp_backend *>{cpu}; }
};

}  // namespace

TEST_CASE("BLOCK_ATTENTION: whole clip and chunk by chunk with the KV cache match the float64 reference",
          "[video][ops]") {
  Backends be;
  const Shape shapes[] = {
      {2, 7, 6, 3, 32, 2},    // 7 frames in chunks of 3: the last chunk is short
      {1, 6, 4, 2, 48, 3},    // frames divisible by the chunk
      {1, 11, 16, 4, 128, 2}, // hd 64, 176 tokens: several query groups and key blocks
      {2, 5, 3, 1, 16, 1},    // one frame per chunk: frame-causal
      {1, 4, 5, 9, 24, 2},    // a chunk longer than the clip: one chunk, no history
  };
  uint32_t seed = 1;
  for (const Shape &s : shapes) {
    const std::vector<float> qkv = lt::random_f32((size_t)s.B * s.T() * 3 * s.D, seed++, -2.0f, 2.0f);
    const std::vector<double> ref = reference(qkv, s);
    for (lp_backend *b : be.all()) {
      INFO(b->vt->name << ": B " << s.B << ", " << s.frames << " frames of " << s.P << " tokens, chunks of " << s.F
                       << " frames, D " << s.D << ", " << s.heads << " heads");
      const std::vector<float> whole = whole_sequence(b, qkv, s);
      const double e_whole = rel_max(whole, ref);
      INFO("whole clip against the reference: " << e_whole);
      CHECK(e_whole <= TOL_F32);
      const std::vector<float> chunked = chunk_by_chunk(b, qkv, s);
      const double e_chunk = rel_max(chunked, ref), e_same = rel_max(chunked, whole);
      INFO("chunk by chunk against the reference: " << e_chunk << ", against the whole clip: " << e_same);
      CHECK(e_chunk <= TOL_F32);
      CHECK(e_same <= TOL_F32);
    }
  }
}

// A KV policy's view of the cache (block diffusion): chunks written into
// slots in any order, one item's differently from another's, and the new
// tokens attending to a chosen subset of them, listed per item. The
// reference is the block-causal attention over the listed chunks followed
// by the new tokens, as one clip.
TEST_CASE("BLOCK_ATTENTION over listed cache slots matches the float64 reference on both backends",
          "[video][ops]") {
  Backends be;
  struct Case {
    Shape s;          // B, frames of the whole clip, P, F, D, heads
    int slots;        // cache slots per item
    int new_frames;   // the clip's last frames are the new tokens
  } cases[] = {
      {{2, 11, 6, 2, 32, 2}, 6, 3},   // 5 history chunks in 6 slots; new tokens: one chunk and a short one
      {{1, 12, 16, 3, 128, 2}, 4, 3}, // hd 64, several key blocks per chunk
      {{3, 6, 4, 1, 16, 1}, 5, 2},    // frame-sized chunks
  };
  uint32_t seed = 40;
  for (const Case &cs : cases) {
    const Shape &s = cs.s;
    const int chunk = s.F * s.P, T = s.T(), D = s.D, Tn = cs.new_frames * s.P;
    const int hist_chunks = (s.frames - cs.new_frames) / s.F;
    REQUIRE(hist_chunks * s.F == s.frames - cs.new_frames);
    REQUIRE(hist_chunks <= cs.slots);
    const std::vector<float> qkv = lt::random_f32((size_t)s.B * T * 3 * D, seed++, -2.0f, 2.0f);
    // Per item: history chunk c sits in slot where[b][c]; the listed
    // chunks are every other one from the item's own start (b % 2), so
    // items list different chunks in different slots.
    std::vector<std::vector<int>> where(s.B), listed(s.B);
    for (int b = 0; b < s.B; b++) {
      // later chunks in lower slots, shifted by the item
      for (int c = 0; c < hist_chunks; c++) where[b].push_back((cs.slots - 1 - c + b) % cs.slots);
      for (int c = b % 2; c < hist_chunks; c += 2) listed[b].push_back(c);
    }
    const int Nc = (int)listed[0].size();
    for (int b = 1; b < s.B; b++) REQUIRE((int)listed[b].size() == Nc);
    // The reference per item: the listed chunks then the new tokens.
    std::vector<double> ref;
    for (int b = 0; b < s.B; b++) {
      std::vector<float> seq;
      for (int c : listed[b]) {
        const std::vector<float> rows = rows_of(qkv, s.B, T, 3 * D, c * chunk, chunk);
        seq.insert(seq.end(), rows.begin() + (size_t)b * chunk * 3 * D, rows.begin() + (size_t)(b + 1) * chunk * 3 * D);
      }
      const std::vector<float> fresh = rows_of(qkv, s.B, T, 3 * D, T - Tn, Tn);
      seq.insert(seq.end(), fresh.begin() + (size_t)b * Tn * 3 * D, fresh.begin() + (size_t)(b + 1) * Tn * 3 * D);
      const Shape one{1, Nc * s.F + cs.new_frames, s.P, s.F, D, s.heads};
      const std::vector<double> r = reference(seq, one);
      ref.insert(ref.end(), r.end() - (size_t)Tn * D, r.end());
    }
    std::vector<int32_t> list;
    for (int b = 0; b < s.B; b++)
      for (int c : listed[b]) list.push_back(where[b][c]);
    for (lp_backend *bk : be.all()) {
      INFO(bk->vt->name << ": B " << s.B << ", " << hist_chunks << " history chunks in " << cs.slots << " slots, "
                        << Nc << " listed, " << cs.new_frames << " new frames");
      lp_kv_cache cache;
      REQUIRE(lp_kv_cache_init(&cache, bk, s.B, D, s.heads, s.P, s.F, cs.slots * s.F) == LEAP_OK);
      REQUIRE(lp_kv_cache_slots(&cache) == cs.slots);
      // Fill every slot with noise first: unlisted slots must not leak in.
      const std::vector<float> junk = lt::random_f32((size_t)s.B * cache.cap * 2 * D, seed++, -50.0f, 50.0f);
      REQUIRE(bk->vt->buf_write(bk, cache.buf, 0, junk.data(), junk.size() * sizeof(float)) == LEAP_OK);
      lp_buf *all = upload(bk, qkv), *fresh = upload(bk, rows_of(qkv, s.B, T, 3 * D, T - Tn, Tn)), *out = nullptr;
      lp_buf *slots = nullptr;
      REQUIRE(bk->vt->buf_alloc(bk, list.size() * sizeof(int32_t), &slots) == LEAP_OK);
      REQUIRE(bk->vt->buf_write(bk, slots, 0, list.data(), list.size() * sizeof(int32_t)) == LEAP_OK);
      REQUIRE(bk->vt->buf_alloc(bk, (size_t)s.B * Tn * D * sizeof(float), &out) == LEAP_OK);
      lp_prog prog{};
      for (int b = 0; b < s.B; b++)
        for (int c = 0; c < hist_chunks; c++) {
          lp_op w;
          REQUIRE(lp_kv_cache_write_op(&cache, {all, ((size_t)b * T + (size_t)c * chunk) * 3 * D}, b, where[b][c], &w) ==
                  LEAP_OK);
          REQUIRE(lp_prog_push(&prog, &w) == LEAP_OK);
        }
      lp_op att;
      REQUIRE(lp_kv_cache_attention_slots_op(&cache, {fresh, 0}, {out, 0}, Tn, Nc, {slots, 0}, &att) == LEAP_OK);
      REQUIRE(lp_prog_push(&prog, &att) == LEAP_OK);
      const leap_status st = bk->vt->prog_run(bk, &prog);
      lp_prog_free(bk, &prog);
      INFO(leap_last_error());
      REQUIRE(st == LEAP_OK);
      const double e = rel_max(download(bk, out, (size_t)s.B * Tn * D), ref);
      INFO("against the reference: " << e);
      CHECK(e <= TOL_F32);
      for (lp_buf *x : {all, fresh, out, slots}) bk->vt->buf_free(bk, x);
      lp_kv_cache_release(&cache, bk);
    }
  }
  // Slots outside the cache: refused by the builders, and by the CPU op
  // when the list on the device says so.
  lp_kv_cache cache;
  REQUIRE(lp_kv_cache_init(&cache, be.cpu, 1, 16, 2, 4, 2, 6) == LEAP_OK);  // 3 slots
  lp_buf *x = upload(be.cpu, std::vector<float>(8 * 48, 1.0f)), *y = nullptr, *list = nullptr;
  REQUIRE(be.cpu->vt->buf_alloc(be.cpu, 8 * 16 * 4, &y) == LEAP_OK);
  const int32_t bad_slots[2] = {0, 3};
  REQUIRE(be.cpu->vt->buf_alloc(be.cpu, sizeof bad_slots, &list) == LEAP_OK);
  REQUIRE(be.cpu->vt->buf_write(be.cpu, list, 0, bad_slots, sizeof bad_slots) == LEAP_OK);
  lp_op op;
  CHECK(lp_kv_cache_write_op(&cache, {x, 0}, 0, 3, &op) == LEAP_ERR_INVALID_ARG);
  CHECK(lp_kv_cache_attention_slots_op(&cache, {x, 0}, {y, 0}, 8, 4, {list, 0}, &op) == LEAP_ERR_INVALID_ARG);
  CHECK(lp_kv_cache_attention_slots_op(&cache, {x, 0}, {y, 0}, 8, 2, {nullptr, 0}, &op) == LEAP_ERR_INVALID_ARG);
  REQUIRE(lp_kv_cache_attention_slots_op(&cache, {x, 0}, {y, 0}, 8, 2, {list, 0}, &op) == LEAP_OK);
  CHECK(run_ops(be.cpu, {op}) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("outside the cache") != std::string::npos);
  for (lp_buf *v : {x, y, list}) be.cpu->vt->buf_free(be.cpu, v);
  lp_kv_cache_release(&cache, be.cpu);
}

TEST_CASE("BLOCK_ATTENTION with one chunk over the clip equals ATTENTION", "[video][ops]") {
  Backends be;
  const int B = 2, T = 40, D = 64, H = 4;
  const std::vector<float> qkv = lt::random_f32((size_t)B * T * 3 * D, 77, -2.0f, 2.0f);
  for (lp_backend *b : be.all()) {
    INFO(b->vt->name);
    lp_buf *in = upload(b, qkv), *o1 = nullptr, *o2 = nullptr;
    REQUIRE(b->vt->buf_alloc(b, (size_t)B * T * D * 4, &o1) == LEAP_OK);
    REQUIRE(b->vt->buf_alloc(b, (size_t)B * T * D * 4, &o2) == LEAP_OK);
    lp_op full{}, block{};
    full.kind = LP_OP_ATTENTION;
    full.in[0] = {in, 0}, full.out = {o1, 0};
    full.i[0] = B, full.i[1] = T, full.i[2] = D, full.i[3] = H;
    full.f[0] = 1.0f / std::sqrt((float)(D / H));
    block = full;
    block.kind = LP_OP_BLOCK_ATTENTION;
    block.out = {o2, 0};
    block.i[4] = 5, block.i[5] = 8;  // 8 frames of 5 tokens, one chunk
    REQUIRE(run_ops(b, {full, block}) == LEAP_OK);
    const std::vector<float> a = download(b, o1, (size_t)B * T * D), c = download(b, o2, (size_t)B * T * D);
    CHECK(rel_max(c, a) <= TOL_F32);
    for (lp_buf *x : {in, o1, o2}) b->vt->buf_free(b, x);
  }
}

TEST_CASE("KV_APPEND copies the k and v thirds of qkv rows into the cache at its row", "[video][ops]") {
  Backends be;
  const int B = 2, Tn = 6, D = 8, cap = 20, start = 12;
  const std::vector<float> qkv = lt::random_f32((size_t)B * Tn * 3 * D, 5);
  const std::vector<float> before = lt::random_f32((size_t)B * cap * 2 * D, 6);
  for (lp_backend *b : be.all()) {
    INFO(b->vt->name);
    lp_buf *in = upload(b, qkv), *cache = upload(b, before);
    lp_op op{};
    op.kind = LP_OP_KV_APPEND;
    op.in[0] = {in, 0}, op.out = {cache, 0};
    op.i[0] = B, op.i[1] = Tn, op.i[2] = D, op.i[3] = cap, op.i[4] = start;
    REQUIRE(run_ops(b, {op}) == LEAP_OK);
    const std::vector<float> got = download(b, cache, before.size());
    std::vector<float> want = before;
    for (int bb = 0; bb < B; bb++)
      for (int t = 0; t < Tn; t++)
        for (int c = 0; c < 2 * D; c++)
          want[((size_t)bb * cap + start + t) * 2 * D + c] = qkv[((size_t)bb * Tn + t) * 3 * D + D + c];
    CHECK(got == want);  // rows outside start .. start+Tn-1 untouched
    for (lp_buf *x : {in, cache}) b->vt->buf_free(b, x);
  }
}

TEST_CASE("BLOCK_ATTENTION and KV_APPEND reject bad shapes with a message on both backends", "[video][ops]") {
  Backends be;
  for (lp_backend *b : be.all()) {
    INFO(b->vt->name);
    lp_buf *x = nullptr, *y = nullptr, *c = nullptr;
    REQUIRE(b->vt->buf_alloc(b, 4096 * 4, &x) == LEAP_OK);
    REQUIRE(b->vt->buf_alloc(b, 4096 * 4, &y) == LEAP_OK);
    REQUIRE(b->vt->buf_alloc(b, 4096 * 4, &c) == LEAP_OK);
    auto att = [&](int Tn, int P, int Nc, int cap, lp_buf *cache) {
      lp_op op{};
      op.kind = LP_OP_BLOCK_ATTENTION;
      op.in[0] = {x, 0}, op.in[1] = {cache, 0}, op.out = {y, 0};
      const int32_t i[8] = {1, Tn, 16, 2, P, 2, Nc, cap};
      std::memcpy(op.i, i, sizeof i);
      op.f[0] = 0.25f;
      return op;
    };
    struct Bad {
      lp_op op;
      const char *says;
    } bad[] = {
        {att(10, 4, 0, 0, c), "not whole frames"},
        {att(8, 4, 2, 15, c), "exceed the cache"},
        {att(8, 4, 1, 64, nullptr), "no cache buffer"},
        {att(8, 4, -1, 64, c), "must be >= 0"},
        {att(8, 0, 0, 64, c), "must be positive"},
    };
    for (const Bad &t : bad) {
      CHECK(run_ops(b, {t.op}) == LEAP_ERR_INVALID_ARG);
      INFO(leap_last_error());
      CHECK(std::string(leap_last_error()).find(t.says) != std::string::npos);
    }
    lp_op app{};
    app.kind = LP_OP_KV_APPEND;
    app.in[0] = {x, 0}, app.out = {c, 0};
    app.i[0] = 1, app.i[1] = 8, app.i[2] = 16, app.i[3] = 20, app.i[4] = 16;
    CHECK(run_ops(b, {app}) == LEAP_ERR_INVALID_ARG);
    CHECK(std::string(leap_last_error()).find("past the cache") != std::string::npos);
    for (lp_buf *v : {x, y, c}) b->vt->buf_free(b, v);
  }
  // The host API: a full cache refuses another chunk.
  lp_kv_cache cache;
  REQUIRE(lp_kv_cache_init(&cache, be.cpu, 1, 16, 2, 4, 2, 5) == LEAP_OK);  // 5 frames: 2 chunks of 2
  CHECK(cache.cap == 16);
  lp_buf *x = upload(be.cpu, std::vector<float>(1 * 8 * 48, 1.0f));
  lp_op op;
  for (int k = 0; k < 2; k++) {
    REQUIRE(lp_kv_cache_append_op(&cache, {x, 0}, &op) == LEAP_OK);
    REQUIRE(run_ops(be.cpu, {op}) == LEAP_OK);
    lp_kv_cache_advance(&cache);
  }
  CHECK(lp_kv_cache_append_op(&cache, {x, 0}, &op) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("full") != std::string::npos);
  be.cpu->vt->buf_free(be.cpu, x);
  lp_kv_cache_release(&cache, be.cpu);
  // A refused description allocates nothing (a cache of its own: an init
  // over the live one above would have dropped its buffer, a leak).
  lp_kv_cache bad;
  CHECK(lp_kv_cache_init(&bad, be.cpu, 1, 16, 3, 4, 2, 5) == LEAP_ERR_INVALID_ARG);  // 16 not divisible by 3
}

// ---------------------------------------------------------------------------
// Moving Fashion-MNIST (models/data_moving_fmnist.c). Garments from the
// Fashion-MNIST test split (Debian's dataset-fashion-mnist); the tests skip
// with a warning where it is not installed.
namespace {

bool load_garments(lp_dataset *d) {
  if (lp_dataset_load("fashion-mnist:test", d) != LEAP_OK) {
    WARN("Fashion-MNIST not available, skipping: " << leap_last_error());
    return false;
  }
  return true;
}

const int CANVAS = LP_MFMNIST_CANVAS, ROOM = LP_MFMNIST_CANVAS - LP_MFMNIST_GARMENT;

}  // namespace

TEST_CASE("moving fashion-mnist: clips are deterministic, in range, one garment each", "[video][data]") {
  lp_dataset d{};
  if (!load_garments(&d)) return;
  lp_mfmnist_clip a{}, b{};
  REQUIRE(lp_mfmnist_clip_make(&d, 42, LP_MFMNIST_TRAIN, 7, 0, &a) == LEAP_OK);
  REQUIRE(lp_mfmnist_clip_make(&d, 42, LP_MFMNIST_TRAIN, 7, LP_MFMNIST_TRAIN_FRAMES, &b) == LEAP_OK);
  REQUIRE(a.frames == LP_MFMNIST_TRAIN_FRAMES);
  const size_t n = (size_t)a.frames * CANVAS * CANVAS;
  CHECK(std::memcmp(a.video, b.video, n * sizeof(float)) == 0);
  CHECK(std::memcmp(a.track, b.track, (size_t)a.frames * 2 * sizeof(float)) == 0);
  CHECK(a.label == b.label);
  CHECK(a.garment == b.garment);
  CHECK(a.label == d.labels[a.garment]);  // the class is the garment's, for the whole clip
  float lo = 1, hi = -1;
  for (size_t k = 0; k < n; k++) lo = std::min(lo, a.video[k]), hi = std::max(hi, a.video[k]);
  CHECK(lo == -1.0f);  // background
  CHECK(hi <= 1.0f);
  CHECK(hi > 0.0f);  // a garment is there
  // Every frame holds the same garment: the same total intensity (bilinear
  // placement keeps the mass; only its position changes).
  auto mass = [&](int t) {
    double m = 0;
    for (int k = 0; k < CANVAS * CANVAS; k++) m += a.video[(size_t)t * CANVAS * CANVAS + k] + 1.0;
    return m;
  };
  for (int t = 1; t < a.frames; t++) CHECK(std::fabs(mass(t) - mass(0)) <= 1e-3 * mass(0));
  lp_mfmnist_clip_free(&a);
  lp_mfmnist_clip_free(&b);
  CHECK(a.video == nullptr);
  lp_dataset_free(&d);
}

TEST_CASE("moving fashion-mnist: constant velocity, bounces keep the garment inside, the track is the centroid",
          "[video][data]") {
  lp_dataset d{};
  if (!load_garments(&d)) return;
  int bounces = 0;
  for (int64_t index = 0; index < 40; index++) {
    lp_mfmnist_clip c{};
    REQUIRE(lp_mfmnist_clip_make(&d, 3, LP_MFMNIST_EVAL, index, 64, &c) == LEAP_OK);
    const double speed = std::hypot(c.vel[0], c.vel[1]);
    CHECK(speed >= LP_MFMNIST_SPEED_MIN - 1e-6);
    CHECK(speed <= LP_MFMNIST_SPEED_MAX + 1e-6);
    for (int t = 0; t < c.frames; t++) {
      INFO("clip " << index << " frame " << t);
      for (int ax = 0; ax < 2; ax++) {
        const float p = c.pos[2 * t + ax], v = c.vel[2 * t + ax];
        CHECK(p >= 0.0f);
        CHECK(p <= (float)ROOM);
        CHECK(std::fabs(std::fabs(v) - std::fabs(c.vel[ax])) <= 1e-6f);  // only the sign ever changes
        if (t + 1 == c.frames) continue;
        const float next = c.pos[2 * (t + 1) + ax], vnext = c.vel[2 * (t + 1) + ax];
        const float free_move = p + v;
        if (free_move >= 0.0f && free_move <= (float)ROOM) {
          CHECK(std::fabs(next - free_move) <= 1e-4f);  // straight on at constant velocity
          CHECK(vnext == v);
        } else {
          bounces++;
          const float reflected = free_move < 0.0f ? -free_move : 2.0f * ROOM - free_move;
          CHECK(std::fabs(next - reflected) <= 1e-4f);
          CHECK(vnext == -v);
        }
      }
      // The track is the frame's intensity centroid.
      double m = 0, mx = 0, my = 0;
      for (int r = 0; r < CANVAS; r++)
        for (int col = 0; col < CANVAS; col++) {
          const double w = c.video[((size_t)t * CANVAS + r) * CANVAS + col] + 1.0;
          m += w, mx += w * col, my += w * r;
        }
      CHECK(std::fabs(mx / m - c.track[2 * t]) <= 1e-3);
      CHECK(std::fabs(my / m - c.track[2 * t + 1]) <= 1e-3);
    }
    lp_mfmnist_clip_free(&c);
  }
  CHECK(bounces > 0);  // 40 clips of 64 frames: the walls were hit
  lp_dataset_free(&d);
}

TEST_CASE("moving fashion-mnist: clips of other indices and of the other split differ; eval clips extend",
          "[video][data]") {
  lp_dataset d{};
  if (!load_garments(&d)) return;
  const int F = LP_MFMNIST_TRAIN_FRAMES;
  const size_t n = (size_t)F * CANVAS * CANVAS;
  std::vector<std::vector<float>> seen;
  auto add = [&](uint64_t seed, lp_mfmnist_split split, int64_t index) {
    lp_mfmnist_clip c{};
    REQUIRE(lp_mfmnist_clip_make(&d, seed, split, index, F, &c) == LEAP_OK);
    seen.emplace_back(c.video, c.video + n);
    lp_mfmnist_clip_free(&c);
  };
  for (int64_t i = 0; i < 4; i++) {
    add(1, LP_MFMNIST_TRAIN, i);
    add(1, LP_MFMNIST_EVAL, i);
    add(2, LP_MFMNIST_TRAIN, i);
  }
  for (size_t i = 0; i < seen.size(); i++)
    for (size_t j = 0; j < i; j++) CHECK(seen[i] != seen[j]);

  // An evaluation clip of any length; a shorter one is a prefix.
  lp_mfmnist_clip s{}, l{};
  REQUIRE(lp_mfmnist_clip_make(&d, 9, LP_MFMNIST_EVAL, 5, 5, &s) == LEAP_OK);
  REQUIRE(lp_mfmnist_clip_make(&d, 9, LP_MFMNIST_EVAL, 5, 100, &l) == LEAP_OK);
  CHECK(std::memcmp(s.video, l.video, (size_t)5 * CANVAS * CANVAS * sizeof(float)) == 0);
  CHECK(s.label == l.label);
  lp_mfmnist_clip_free(&s);
  lp_mfmnist_clip_free(&l);

  // Training clips have the fixed length; bad arguments say what is wrong.
  lp_mfmnist_clip c{};
  CHECK(lp_mfmnist_clip_make(&d, 1, LP_MFMNIST_TRAIN, 0, F + 1, &c) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("training clips have") != std::string::npos);
  CHECK(lp_mfmnist_clip_make(&d, 1, LP_MFMNIST_EVAL, 0, 0, &c) == LEAP_ERR_INVALID_ARG);
  CHECK(lp_mfmnist_clip_make(&d, 1, LP_MFMNIST_EVAL, -1, 4, &c) == LEAP_ERR_INVALID_ARG);
  lp_dataset other = d;
  other.width = 32;
  CHECK(lp_mfmnist_clip_make(&other, 1, LP_MFMNIST_EVAL, 0, 4, &c) == LEAP_ERR_INVALID_ARG);
  CHECK(c.video == nullptr);
  lp_dataset_free(&d);
}

// ---------------------------------------------------------------------------
// The PyTorch reference of the video DiT (bench/torch_video_dit.py
// --fixture tests/data): its block 0's attention, with the rotary embedding
// already applied to q and k, is what BLOCK_ATTENTION computes. Both
// backends, the whole clip and chunk by chunk with the KV cache, against
// the float64 reference: relative L2 <= 1e-5 (the F32 bound).
TEST_CASE("BLOCK_ATTENTION matches the PyTorch video DiT's block 0 attention", "[video][ops]") {
  const std::string model = lt::data("video_dit_tiny_f32.safetensors"), io = lt::data("video_dit_tiny_io_f64.safetensors");
  REQUIRE(lt::meta(model, "arch") == "video_dit");
  const int D = std::stoi(lt::meta(model, "hidden_size")), heads = std::stoi(lt::meta(model, "num_heads"));
  const int p = std::stoi(lt::meta(model, "patch_size")), Fc = std::stoi(lt::meta(model, "frames_per_chunk"));
  const int P = (std::stoi(lt::meta(model, "input_height")) / p) * (std::stoi(lt::meta(model, "input_width")) / p);
  const int frames = std::stoi(lt::meta(io, "frames"));
  std::vector<int64_t> qshape, ashape;
  const std::vector<float> qkv = lt::to_f32(lt::read_f64(io, "act.b0.qkv_rope", &qshape));
  const std::vector<double> want = lt::read_f64(io, "act.b0.attn", &ashape);
  REQUIRE(qshape.size() == 3);
  const int B = (int)qshape[0];
  REQUIRE(qshape[1] == (int64_t)frames * P);
  REQUIRE(qshape[2] == 3 * D);
  REQUIRE(ashape == std::vector<int64_t>{B, (int64_t)frames * P, D});
  REQUIRE(frames % Fc != 0);  // the fixture's last chunk is short
  const Shape s{B, frames, P, Fc, D, heads};
  Backends be;
  for (lp_backend *b : be.all()) {
    INFO(b->vt->name);
    const double e_whole = lt::rel_l2(whole_sequence(b, qkv, s), want);
    const double e_chunk = lt::rel_l2(chunk_by_chunk(b, qkv, s), want);
    INFO("rel L2: whole clip " << e_whole << ", chunk by chunk " << e_chunk);
    CHECK(e_whole <= 1e-5);
    CHECK(e_chunk <= 1e-5);
  }
}
