// test_lcsc_packed.cpp - the fast combination paths: the fused host kernel
// (encoding bit-identical to dtype.h, non-finite sums reported), the packed
// Vulkan kernel against its CPU twin on tables built here from the layout
// in shaders/lcsc_packed_sum.comp, the packed Vulkan combination against
// the host one (many small tensors of odd lengths, mixed dtypes, a
// non-float tensor in the middle, chunks far smaller than the tensors), the
// non-finite error on both paths, and the device-only benchmark.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <unistd.h>

#include "test_util.hpp"

extern "C" {
#include "backend.h"
#include "dtype.h"
#include "lcsc.h"
#include "vk_backend.h"
}

namespace {

std::string tmp_path(const std::string &name) {
  return "/tmp/leap_test_lcsc_packed_" + std::to_string(getpid()) + "_" + name;
}

using lt::exists;

uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t to16(float x, leap_dtype dt) { return dt == LEAP_F16 ? lp_f32_to_f16(x) : lp_f32_to_bf16(x); }

std::vector<unsigned char> encode(const std::vector<float> &v, leap_dtype dt) {
  std::vector<unsigned char> out(v.size() * lp_dtype_size(dt));
  for (size_t i = 0; i < v.size(); i++) {
    if (dt == LEAP_F32) {
      std::memcpy(&out[4 * i], &v[i], 4);
    } else {
      const uint16_t h = to16(v[i], dt);
      std::memcpy(&out[2 * i], &h, 2);
    }
  }
  return out;
}

// Restores an environment variable when the test ends (also on a throw).
struct EnvVar {
  std::string name;
  bool had;
  std::string old;
  EnvVar(const char *n, const char *value) : name(n), had(std::getenv(n) != nullptr) {
    if (had) old = std::getenv(n);
    if (value)
      setenv(n, value, 1);
    else
      unsetenv(n);
  }
  ~EnvVar() {
    if (had)
      setenv(name.c_str(), old.c_str(), 1);
    else
      unsetenv(name.c_str());
  }
};

lp_backend *vulkan_backend() {
  lp_backend *vk = nullptr;
  leap_status s = lp_vk_backend_create(nullptr, -1, &vk);
  if (s == LEAP_ERR_NO_DEVICE) {
    lt::skip(std::string("no Vulkan device: ") + leap_last_error());
    return nullptr;
  }
  REQUIRE(s == LEAP_OK);
  return vk;
}

// A packed chunk, built from the documented layout (not by lcsc_vk.c's
// packer): segment s has lens[s] elements; entry (s, k) a random dtype
// (or `one` for all), a random coefficient, values in [-2, 2]; deltas are
// multiples of 8 halves / 4 words, as the kernel's vector loads need.
struct Packed {
  std::vector<uint32_t> buf;
  uint32_t n = 0, nseg = 0;
  int K = 0;
};

Packed make_packed(const std::vector<uint32_t> &lens, int K, uint32_t seed, int one = -1) {
  Packed p;
  p.K = K;
  p.nseg = (uint32_t)lens.size();
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> val(-2.0f, 2.0f), coef(-1.5f, 1.5f);
  const leap_dtype dts[3] = {LEAP_F32, LEAP_F16, LEAP_BF16};
  const size_t e0 = 4 * ((p.nseg + 3) / 4);
  p.buf.assign(e0 + 4 * (size_t)p.nseg * K, 0);
  std::vector<float> c(K);
  for (auto &x : c) x = coef(g);
  uint32_t start = 0;
  for (uint32_t s = 0; s < p.nseg; s++) {
    p.buf[s] = start;
    for (int k = 0; k < K; k++) {
      const leap_dtype dt = one >= 0 ? (leap_dtype)one : dts[g() % 3];
      std::vector<float> v(lens[s]);
      for (auto &x : v) x = val(g);
      const auto raw = encode(v, dt);
      int64_t pos; // in elements of dt from word 0
      if (dt == LEAP_F32) {
        pos = (int64_t)p.buf.size();
        while ((pos - start) % 4) pos++;
      } else {
        pos = 2 * (int64_t)p.buf.size();
        while ((pos - start) % 8) pos++;
      }
      const size_t es = lp_dtype_size(dt), end_words = ((size_t)pos * es + raw.size() + 3) / 4;
      p.buf.resize(end_words, 0);
      std::memcpy(reinterpret_cast<unsigned char *>(p.buf.data()) + (size_t)pos * es, raw.data(), raw.size());
      uint32_t *e = &p.buf[e0 + 4 * ((size_t)s * K + k)];
      e[0] = (uint32_t)(int32_t)(pos - start);
      e[1] = dt == LEAP_F32 ? 0 : dt == LEAP_F16 ? 1 : 2;
      e[2] = f32_bits(c[k]);
    }
    start += lens[s];
  }
  p.n = start;
  return p;
}

// Number of output values of a and b (4 status words, then the encoded
// chunk) that differ by more than 1 ulp (16-bit) or 1e-6 relative (F32).
size_t mismatches(const std::vector<uint32_t> &a, const std::vector<uint32_t> &b, uint32_t n, leap_dtype dt) {
  size_t bad = 0;
  for (uint32_t j = 0; j < n; j++) {
    if (dt == LEAP_F32) {
      const float x = bits_f32(a[4 + j]), y = bits_f32(b[4 + j]);
      bad += !(std::fabs(x - y) <= 1e-6f * (1 + std::fabs(y)));
    } else {
      const uint16_t x = (uint16_t)(a[4 + j / 2] >> (16 * (j & 1))), y = (uint16_t)(b[4 + j / 2] >> (16 * (j & 1)));
      bad += std::abs((int)x - (int)y) > 1;
    }
  }
  return bad;
}

}  // namespace

TEST_CASE("lcsc host kernel: encodes bit-identically to dtype.h and reports the first sum the dtype cannot hold",
          "[lcsc]") {
  // every kind of float32: random bits over the whole range, ties and
  // boundaries of F16 / BF16, subnormals
  std::mt19937 g(3);
  std::vector<float> x;
  for (int i = 0; i < 100003; i++) {
    float v;
    do v = bits_f32((uint32_t)g()); while (!std::isfinite(v));
    x.push_back(i % 3 ? v : std::ldexp(v, -std::ilogb(v) + (int)(g() % 40) - 25)); // many near F16's range
  }
  const float special[] = {65504.0f, 65519.99f, 65520.0f, -65520.0f, 1.0f + 0x1p-11f, 1.0f + 0x1p-8f, 0x1p-24f,
                           0x1p-25f, 0x1.8p-25f, -0x1p-14f, 0x1.ff8p-15f, 0.0f, -0.0f, 3.0e38f, 0x1.fffffep127f};
  for (size_t i = 0; i < sizeof special / sizeof *special; i++) x[7 + 13 * i] = special[i];
  const void *src[1] = {x.data()};
  const leap_dtype dts[1] = {LEAP_F32};
  const float one[1] = {1.0f};
  for (const char *scalar : {"0", "1"}) {
    EnvVar e("LEAP_LCSC_SCALAR", scalar);
    for (leap_dtype out : {LEAP_F16, LEAP_BF16}) {
      INFO("scalar " << scalar << ", " << lp_dtype_name(out));
      // the values the dtype holds (a sum that would encode as Inf is an
      // error, below): every one encodes as dtype.h does
      std::vector<float> in;
      for (float v : x) {
        const uint16_t h = to16(v, out);
        if ((h & (out == LEAP_F16 ? 0x7c00u : 0x7f80u)) != (out == LEAP_F16 ? 0x7c00u : 0x7f80u)) in.push_back(v);
      }
      REQUIRE(in.size() > 30000);
      const void *isrc[1] = {in.data()};
      std::vector<uint16_t> got(in.size());
      REQUIRE(lp_lcsc_sum_encode(1, isrc, dts, one, in.size(), out, got.data()) == in.size());
      size_t bad = 0;
      for (size_t i = 0; i < in.size(); i++) bad += got[i] != to16(in[i], out);
      CHECK(bad == 0);
      // the first value the dtype cannot hold (finite as F32) is reported,
      // in a vector group and in the scalar tail
      const float over = out == LEAP_F16 ? 65520.0f : 0x1.fffffep127f;
      for (size_t at : {(size_t)12345, in.size() - 3}) {
        std::vector<float> y = in;
        y[at] = -over;
        y[at + 1] = over;
        const void *ysrc[1] = {y.data()};
        CHECK(lp_lcsc_sum_encode(1, ysrc, dts, one, y.size(), out, got.data()) == at);
      }
    }
  }
  // mixed dtypes, 5 inputs, odd length: the vector and scalar paths agree
  // bit for bit (the same fused multiply-adds in the same order)
  {
    const size_t n = 10007;
    const leap_dtype kinds[5] = {LEAP_F16, LEAP_F32, LEAP_BF16, LEAP_F16, LEAP_F32};
    std::vector<std::vector<unsigned char>> raw;
    raw.reserve(5);
    const void *srcs[5];
    const float cs[5] = {0.3f, -1.7f, 2.25f, 0.01f, -0.6f};
    for (int k = 0; k < 5; k++) {
      raw.push_back(encode(lt::random_f32(n, 50 + k, -3, 3), kinds[k]));
      srcs[k] = raw.back().data();
    }
    for (leap_dtype out : {LEAP_F32, LEAP_F16, LEAP_BF16}) {
      std::vector<unsigned char> vec(n * 4), sca(n * 4);
      {
        EnvVar e("LEAP_LCSC_SCALAR", "0");
        REQUIRE(lp_lcsc_sum_encode(5, srcs, kinds, cs, n, out, vec.data()) == n);
      }
      {
        EnvVar e("LEAP_LCSC_SCALAR", "1");
        REQUIRE(lp_lcsc_sum_encode(5, srcs, kinds, cs, n, out, sca.data()) == n);
      }
      CHECK(vec == sca);
    }
  }
  // a sum that overflows float32 is reported, the first one
  std::vector<float> y = {1, 2, 3, 3e38f, 5, 3e38f, 7};
  const void *two[2] = {y.data(), y.data()};
  const leap_dtype d2[2] = {LEAP_F32, LEAP_F32};
  const float c2[2] = {1.0f, 1.0f};
  std::vector<float> out(y.size());
  CHECK(lp_lcsc_sum_encode(2, two, d2, c2, y.size(), LEAP_F32, out.data()) == 3);
  y[3] = NAN;
  CHECK(lp_lcsc_sum_encode(1, src, dts, one, 0, LEAP_F32, out.data()) == 0);
  const void *nan_src[1] = {y.data()};
  CHECK(lp_lcsc_sum_encode(1, nan_src, dts, one, y.size(), LEAP_F16, out.data()) == 3);
}

TEST_CASE("lcsc packed kernel: Vulkan matches its CPU twin (odd segments, mixed dtypes, every output dtype)",
          "[lcsc]") {
  lp_backend *vk = vulkan_backend();
  if (!vk) return;
  // odd lengths, single elements, and long runs for the vector path
  std::vector<uint32_t> lens;
  std::mt19937 g(11);
  for (int s = 0; s < 40; s++) lens.push_back(s % 7 == 3 ? 1 + (uint32_t)(g() % 3) : 1 + (uint32_t)(g() % 300));
  lens.push_back(3001);
  lens.push_back(64);
  const int K = 4;
  for (const char *runs : {"1", "4"}) {
    EnvVar r("LEAP_LCSC_RUNS", runs);
    for (int one : {-1, (int)LEAP_F16, (int)LEAP_F32, (int)LEAP_BF16}) {
      const Packed p = make_packed(lens, K, 100 + (uint32_t)one, one);
      const uint32_t in_code = one < 0 ? 3 : one == LEAP_F32 ? 0 : one == LEAP_F16 ? 1 : 2;
      for (leap_dtype out : {LEAP_F32, LEAP_F16, LEAP_BF16}) {
        INFO("runs " << runs << ", inputs " << (one < 0 ? "mixed" : lp_dtype_name((leap_dtype)one)) << ", output "
                     << lp_dtype_name(out));
        const size_t words = 4 + (p.n * lp_dtype_size(out) + 3) / 4;
        std::vector<uint32_t> cpu(words), gpu(words, 0xdeadbeef);
        lp_lcsc_packed_sum_cpu(p.buf.data(), p.n, K, p.nseg, out, cpu.data());
        INFO(leap_last_error());
        REQUIRE(lp_lcsc_vk_run_packed(vk, p.buf.data(), p.buf.size(), p.n, K, p.nseg, in_code, out, gpu.data()) ==
                LEAP_OK);
        CHECK(gpu[0] == 0xffffffffu);
        CHECK(cpu[0] == 0xffffffffu);
        CHECK(mismatches(gpu, cpu, p.n, out) == 0);
        // a mixed table read as mixed by a pipeline specialised for one
        // dtype would be wrong: the twin is the reference for both
      }
    }
  }
  // a planted overflow: both report the first non-finite element
  Packed p = make_packed(lens, K, 7, LEAP_F32);
  const size_t e0 = 4 * ((p.nseg + 3) / 4);
  for (uint32_t s : {30u, 12u}) {  // element 0 of segments 30 and 12, input 2: 3e38 x 1e3
    uint32_t *e = &p.buf[e0 + 4 * ((size_t)s * K + 2)];
    p.buf[(size_t)((int64_t)p.buf[s] + (int32_t)e[0])] = f32_bits(3e38f);
    e[2] = f32_bits(1000.0f);
  }
  std::vector<uint32_t> cpu(4 + p.n), gpu(4 + p.n);
  lp_lcsc_packed_sum_cpu(p.buf.data(), p.n, K, p.nseg, LEAP_F32, cpu.data());
  REQUIRE(lp_lcsc_vk_run_packed(vk, p.buf.data(), p.buf.size(), p.n, K, p.nseg, 0, LEAP_F32, gpu.data()) == LEAP_OK);
  CHECK(cpu[0] == p.buf[12]);
  CHECK(gpu[0] == cpu[0]);
  CHECK(lp_vk_validation_messages(vk) == 0);
  vk->vt->destroy(vk);
}

namespace {

// A checkpoint of many tensors "t000".. of the given lengths, each in a
// dtype drawn per (file, tensor), and an I32 tensor "t005i" that sorts
// among the F32 outputs (so the device queue must drain in the middle).
struct Multi {
  std::string path;
  std::vector<std::vector<float>> values;  // as stored (rounded)
};

Multi write_multi(const std::string &name, const std::vector<int64_t> &lens, uint32_t seed) {
  Multi m;
  m.path = tmp_path(name);
  std::mt19937 g(seed);
  const leap_dtype dts[3] = {LEAP_F32, LEAP_F16, LEAP_BF16};
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(m.path.c_str(), &w) == LEAP_OK);
  REQUIRE(lp_st_writer_meta(w, "arch", "dit") == LEAP_OK);
  for (size_t t = 0; t < lens.size(); t++) {
    const leap_dtype dt = dts[g() % 3];
    auto v = lt::random_f32((size_t)lens[t], seed * 1000 + (uint32_t)t);
    for (auto &x : v) x = dt == LEAP_F32 ? x : dt == LEAP_F16 ? lp_f16_to_f32(lp_f32_to_f16(x)) : lp_bf16_to_f32(lp_f32_to_bf16(x));
    char nm[32];
    std::snprintf(nm, sizeof nm, "t%03zu", t);
    const auto raw = encode(v, dt);
    REQUIRE(lp_st_writer_add(w, nm, dt, 1, &lens[t], raw.data()) == LEAP_OK);
    m.values.push_back(v);
  }
  const int32_t ints[3] = {7, -8, 9};
  const int64_t three = 3;
  REQUIRE(lp_st_writer_add(w, "t005i", LEAP_I32, 1, &three, ints) == LEAP_OK);
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
  return m;
}

std::vector<unsigned char> tensor_bytes(const std::string &path, const char *name, std::string *dtype = nullptr) {
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(path.c_str(), &f) == LEAP_OK);
  const lp_st_tensor *t = nullptr;
  REQUIRE(lp_st_get(f, name, 0, nullptr, &t) == LEAP_OK);
  std::vector<unsigned char> b((const unsigned char *)t->data, (const unsigned char *)t->data + t->bytes);
  if (dtype) *dtype = lp_dtype_name(t->dtype);
  lp_st_close(f);
  return b;
}

leap_status combine_files(const std::vector<std::string> &paths, const std::vector<double> &coefs,
                          const std::string &out, int dtype, leap_context *ctx, lp_lcsc_combine_detail *det = nullptr) {
  std::vector<const char *> p;
  for (auto &s : paths) p.push_back(s.c_str());
  leap_lcsc_combine_desc d = leap_lcsc_combine_desc_default();
  d.count = (int)p.size();
  d.paths = p.data();
  d.coefs = coefs.data();
  d.out_path = out.c_str();
  d.out_dtype = dtype;
  d.ctx = ctx;
  return lp_lcsc_combine_ex(&d, nullptr, det);
}

}  // namespace

TEST_CASE("lcsc combine on Vulkan, packed: many small odd tensors, mixed dtypes, small chunks, matches the host",
          "[lcsc]") {
  leap_context *ctx = lt::context(LEAP_BACKEND_VULKAN);
  if (!ctx) return;
  std::vector<int64_t> lens;
  std::mt19937 g(5);
  for (int t = 0; t < 37; t++) lens.push_back(t % 5 == 0 ? 1 + (int64_t)(g() % 4) : 1 + (int64_t)(g() % 2500) * 2 - 1);
  lens[20] = 70001;  // many chunks long
  std::vector<Multi> in = {write_multi("a", lens, 1), write_multi("b", lens, 2), write_multi("c", lens, 3)};
  const std::vector<double> coefs = {0.7, -0.45, 0.8};
  std::vector<std::string> paths;
  for (auto &m : in) paths.push_back(m.path);
  EnvVar chunk("LEAP_LCSC_CHUNK_KB", "16");  // about 2000 elements of 3 inputs a chunk
  for (leap_dtype out : {LEAP_F32, LEAP_F16, LEAP_BF16}) {
    INFO("output " << lp_dtype_name(out));
    const std::string host = tmp_path("host.safetensors"), dev = tmp_path("dev.safetensors");
    REQUIRE(combine_files(paths, coefs, host, out, nullptr) == LEAP_OK);
    lp_lcsc_combine_detail det;
    INFO(leap_last_error());
    REQUIRE(combine_files(paths, coefs, dev, out, ctx, &det) == LEAP_OK);
    CHECK(det.chunks > 40);
    // the host output is the reference sum
    size_t bad = 0;
    for (size_t t = 0; t < lens.size(); t++) {
      char nm[32];
      std::snprintf(nm, sizeof nm, "t%03zu", t);
      std::string dt;
      const auto hb = tensor_bytes(host, nm, &dt), db = tensor_bytes(dev, nm);
      CHECK(dt == lp_dtype_name(out));
      REQUIRE(hb.size() == db.size());
      const size_t es = lp_dtype_size(out);
      for (size_t j = 0; j < hb.size() / es; j++) {
        if (out == LEAP_F32) {
          float x, y, want = 0;
          std::memcpy(&x, &db[4 * j], 4);
          std::memcpy(&y, &hb[4 * j], 4);
          for (size_t k = 0; k < in.size(); k++) want += (float)coefs[k] * in[k].values[t][j];
          bad += !(std::fabs(x - y) <= 1e-6f * (1 + std::fabs(y)));
          bad += !(std::fabs(y - want) <= 1e-5f * (1 + std::fabs(want)));
        } else {
          uint16_t x, y;
          std::memcpy(&x, &db[2 * j], 2);
          std::memcpy(&y, &hb[2 * j], 2);
          bad += std::abs((int)x - (int)y) > 1;
        }
      }
    }
    CHECK(bad == 0);
    CHECK(tensor_bytes(dev, "t005i") == tensor_bytes(in[0].path, "t005i"));
    CHECK(lt::meta(dev, "lcsc_coefs") == lt::meta(host, "lcsc_coefs"));
    std::remove(host.c_str());
    std::remove(dev.c_str());
  }
  for (auto &m : in) std::remove(m.path.c_str());
  lt::finish(ctx);
}

TEST_CASE("lcsc combine: a sum that is not finite is an error naming tensor and element, on both paths",
          "[lcsc]") {
  // two F32 files: 3e38 + 3e38 overflows in tensor 'w' element 5
  std::vector<std::string> paths;
  for (int f = 0; f < 2; f++) {
    paths.push_back(tmp_path("inf" + std::to_string(f)));
    std::vector<float> v(11, 0.5f);
    v[5] = 3e38f;
    lp_st_writer *w = nullptr;
    REQUIRE(lp_st_writer_create(paths.back().c_str(), &w) == LEAP_OK);
    const int64_t n = 11;
    REQUIRE(lp_st_writer_add(w, "w", LEAP_F32, 1, &n, v.data()) == LEAP_OK);
    REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
  }
  const std::string out = tmp_path("inf_out.safetensors");
  leap_context *ctx = lt::context(LEAP_BACKEND_VULKAN);
  std::vector<leap_context *> where = {nullptr};
  if (ctx) where.push_back(ctx);
  for (leap_context *c : where) {
    INFO((c ? "vulkan" : "host"));
    CHECK(combine_files(paths, {1.0, 1.0}, out, LEAP_F16, c) == LEAP_ERR_NUMERIC);
    const std::string msg = leap_last_error();
    INFO(msg);
    CHECK(msg.find("'w' element 5 is not finite") != std::string::npos);
    CHECK(msg.find(out) != std::string::npos);
    CHECK_FALSE(exists(out));
  }
  if (ctx) lt::finish(ctx);
  for (auto &p : paths) std::remove(p.c_str());
}

TEST_CASE("lcsc device bench: the kernel and a buffer copy, timed, validation clean", "[lcsc]") {
  lp_backend *vk = vulkan_backend();
  if (!vk) return;
  const leap_dtype dts[3] = {LEAP_F16, LEAP_F32, LEAP_BF16};
  lp_lcsc_vk_bench r;
  INFO(leap_last_error());
  REQUIRE(lp_lcsc_vk_run_bench(vk, 3, dts, LEAP_F16, (uint64_t)1 << 20, 2, &r) == LEAP_OK);
  CHECK(r.elements > 0);
  CHECK(r.sum_bytes == r.elements * (2 + 4 + 2 + 2));
  CHECK(r.copy_bytes <= r.sum_bytes + 8);
  CHECK(r.copy_bytes + 8 >= r.sum_bytes);
  CHECK(r.sum_ms > 0);
  CHECK(r.copy_ms > 0);
  CHECK(lp_vk_validation_messages(vk) == 0);
  vk->vt->destroy(vk);
}

TEST_CASE("leap lcsc combine --backend vulkan --measure: both comparisons, as lines and JSON", "[lcsc]") {
  leap_context *ctx = lt::context(LEAP_BACKEND_VULKAN);
  if (!ctx) return;
  lt::finish(ctx);
  std::vector<int64_t> lens = {5, 300, 7};
  std::vector<Multi> in = {write_multi("cli0", lens, 8), write_multi("cli1", lens, 9)};
  const std::string out = tmp_path("cli_vk.safetensors");
  const std::string cmd = std::string("LEAP_VALIDATION=1 ") + LEAP_CLI_PATH + " lcsc combine --ckpt " + in[0].path +
                          " " + in[1].path + " --coef 0.25 0.75 --dtype f16 --backend vulkan --measure --json --out " +
                          out + " > " + out + ".txt 2>&1";
  CHECK(std::system(cmd.c_str()) == 0);
  const std::string text = lt::slurp(out + ".txt");
  INFO(text);
  CHECK(text.find("end to end (files to file") != std::string::npos);
  CHECK(text.find("device only (") != std::string::npos);
  CHECK(text.find("\"device_ratio\": ") != std::string::npos);
  CHECK(text.find("\"device_ratio_shader_copy\": ") != std::string::npos);
  CHECK(text.find("\"ratio\": ") != std::string::npos);
  CHECK(text.find("vulkan validation") == std::string::npos);
  // The file it wrote holds the combination: F16 of 0.25 a + 0.75 b, so
  // within half an F16 step (2^-11 relative) of the sum in double.
  for (size_t t = 0; t < lens.size(); t++) {
    char nm[32];
    std::snprintf(nm, sizeof nm, "t%03zu", t);
    std::string dtype;
    tensor_bytes(out, nm, &dtype);
    CHECK(dtype == "F16");
    const std::vector<double> got = lt::read_f64(out, nm);
    REQUIRE(got.size() == (size_t)lens[t]);
    for (size_t k = 0; k < got.size(); k++) {
      const double want = 0.25 * in[0].values[t][k] + 0.75 * in[1].values[t][k];
      INFO(nm << "[" << k << "]");
      REQUIRE(std::fabs(got[k] - want) <= std::ldexp(std::fabs(want), -11) + 1e-7);
    }
  }
  std::remove(out.c_str());
  std::remove((out + ".txt").c_str());
  for (auto &m : in) std::remove(m.path.c_str());
}
