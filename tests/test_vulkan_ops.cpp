// test_vulkan_ops.cpp - every Vulkan kernel against its CPU twin
// (plugin/cpu_ops.c) on random data, plus the backend's plumbing: device
// enumeration and selection, buffers (mapped and staged), record-once /
// replay programs, argument checks, and zero validation messages (ctest sets
// LEAP_VALIDATION=1; the backends here are created with validation -1).
//
// Tolerances, as max|vulkan - cpu| / max|cpu| over the whole output buffer:
//   data movement (patchify, unpatchify, embed, add_rows, gated_add): 1e-6
//   elementwise transcendental (silu) and LayerNorm: 1e-5
//   GEMM and attention (fp32, different summation order than BLAS / the
//   CPU loop): 1e-4
#include <algorithm>
#include <link.h>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <vulkan/vulkan.h>

#include "test_util.hpp"

extern "C" {
#include "backend.h"
#include "prog_cache.h"
#include "vk_backend.h"
#include "vk_internal.h"
}

namespace {

const double TOL_COPY = 1e-6, TOL_ELEM = 1e-5, TOL_GEMM = 1e-4;

std::vector<float> uniform(size_t n, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto &x : v) x = u(g);
  return v;
}

// A Vulkan backend under validation (-1: LEAP_VALIDATION), or nullptr with a
// skip when this machine has no Vulkan device.
lp_backend *make_vk() {
  lp_backend *be = nullptr;
  leap_status s = lp_vk_backend_create(nullptr, -1, &be);
  if (s == LEAP_ERR_NO_DEVICE) {
    lt::skip(std::string("no Vulkan device: ") + leap_last_error());
    return nullptr;
  }
  INFO(leap_last_error());
  REQUIRE(s == LEAP_OK);
  return be;
}

// Destroys a Vulkan backend after checking it saw no validation message.
void finish_vk(lp_backend *be) {
  if (!be) return;
  CHECK(lp_vk_validation_messages(be) == 0);
  be->vt->destroy(be);
}

struct Backends {
  lp_backend *cpu = nullptr, *vk = nullptr;
  Backends() {
    REQUIRE(lp_cpu_backend_create(0, &cpu) == LEAP_OK);
    vk = make_vk();
  }
  ~Backends() {
    finish_vk(vk);
    cpu->vt->destroy(cpu);
  }
};

// One op over a few host buffers: views are (buffer index, element offset);
// buffer index -1 = no buffer. The op's views are filled in per backend.
struct OpCase {
  std::vector<std::vector<float>> bufs;
  int in_buf[3] = {-1, -1, -1};
  size_t in_off[3] = {0, 0, 0};
  int out_buf = -1;
  size_t out_off = 0;
  lp_op op{};
};

// Runs the case on a backend as a one-op program; returns the whole output
// buffer afterwards.
std::vector<float> run_case(lp_backend *be, const OpCase &c) {
  std::vector<lp_buf *> bufs(c.bufs.size(), nullptr);
  for (size_t k = 0; k < c.bufs.size(); k++) {
    const size_t bytes = c.bufs[k].size() * sizeof(float);
    REQUIRE(be->vt->buf_alloc(be, bytes, &bufs[k]) == LEAP_OK);
    REQUIRE(be->vt->buf_write(be, bufs[k], 0, c.bufs[k].data(), bytes) == LEAP_OK);
  }
  lp_op op = c.op;
  for (int k = 0; k < 3; k++)
    op.in[k] = c.in_buf[k] >= 0 ? lp_view{bufs[(size_t)c.in_buf[k]], c.in_off[k]} : lp_view{nullptr, 0};
  op.out = lp_view{bufs[(size_t)c.out_buf], c.out_off};
  lp_prog prog{};
  REQUIRE(lp_prog_push(&prog, &op) == LEAP_OK);
  leap_status s = be->vt->prog_run(be, &prog);
  INFO(be->vt->name << ": " << leap_last_error());
  REQUIRE(s == LEAP_OK);
  std::vector<float> out(c.bufs[(size_t)c.out_buf].size());
  REQUIRE(be->vt->buf_read(be, bufs[(size_t)c.out_buf], 0, out.data(), out.size() * sizeof(float)) ==
          LEAP_OK);
  lp_prog_free(be, &prog);
  for (lp_buf *b : bufs) be->vt->buf_free(be, b);
  return out;
}

double rel_err(const std::vector<float> &got, const std::vector<float> &ref) {
  REQUIRE(got.size() == ref.size());
  double err = 0, scale = 0;
  size_t bad = 0;
  for (size_t k = 0; k < ref.size(); k++) {
    if (!std::isfinite(got[k])) bad++;
    err = std::max(err, (double)std::fabs(got[k] - ref[k]));
    scale = std::max(scale, (double)std::fabs(ref[k]));
  }
  REQUIRE(bad == 0);
  REQUIRE(scale > 0);  // a test on all-zero output would prove nothing
  return err / scale;
}

// Runs the case on both backends and checks the error bound.
void check_case(Backends &be, const OpCase &c, double tol, const char *what) {
  if (!be.vk) return;
  const std::vector<float> ref = run_case(be.cpu, c);
  const std::vector<float> got = run_case(be.vk, c);
  const double e = rel_err(got, ref);
  INFO(what << ": max relative-to-scale error " << e << " (tolerance " << tol << ")");
  CHECK(e <= tol);
  CHECK(lp_vk_validation_messages(be.vk) == 0);
}

lp_op make_op(lp_op_kind kind, std::initializer_list<int32_t> i, float f0 = 0) {
  lp_op op{};
  op.kind = kind;
  int k = 0;
  for (int32_t v : i) op.i[k++] = v;
  op.f[0] = f0;
  return op;
}

// off: element offsets of x, w, bias, out. By default odd ones: the
// descriptor window is aligned down and the remainder goes into the push
// constants (and the vec4 kernels for CPU devices are not eligible).
OpCase linear_case(int M, int N, int K, int act, bool bias, uint32_t seed,
                   std::initializer_list<size_t> off = {3, 5, 1, 7}) {
  OpCase c;
  const size_t *o = off.begin();
  c.bufs.push_back(uniform(o[0] + (size_t)M * K, seed));
  c.bufs.push_back(uniform(o[1] + (size_t)N * K, seed + 1));
  c.in_buf[0] = 0, c.in_off[0] = o[0];
  c.in_buf[1] = 1, c.in_off[1] = o[1];
  if (bias) {
    c.bufs.push_back(uniform(o[2] + (size_t)N, seed + 2));
    c.in_buf[2] = 2, c.in_off[2] = o[2];
  }
  c.bufs.push_back(uniform(o[3] + (size_t)M * N, seed + 3));
  c.out_buf = (int)c.bufs.size() - 1, c.out_off = o[3];
  c.op = make_op(LP_OP_LINEAR, {M, N, K, act});
  return c;
}

OpCase attention_case(int B, int T, int D, int H, uint32_t seed, float range, size_t in_off = 1,
                      size_t out_off = 0) {
  OpCase c;
  c.bufs.push_back(uniform(in_off + (size_t)B * T * 3 * D, seed, -range, range));
  c.in_buf[0] = 0, c.in_off[0] = in_off;
  c.bufs.push_back(uniform(out_off + (size_t)B * T * D, seed + 1));
  c.out_buf = 1, c.out_off = out_off;
  c.op = make_op(LP_OP_ATTENTION, {B, T, D, H}, 1.0f / std::sqrt((float)(D / H)));
  return c;
}

}  // namespace

TEST_CASE("vulkan device enumeration and info", "[vulkan]") {
  int n = -1;
  leap_status s = leap_vulkan_device_count(&n);
  if (s == LEAP_ERR_NO_DEVICE) {
    lt::skip(std::string("no Vulkan loader: ") + leap_last_error());
    return;
  }
  REQUIRE(s == LEAP_OK);
  if (n == 0) {
    lt::skip("Vulkan has no device");
    return;
  }
  REQUIRE(n >= 1);
  for (int k = 0; k < n; k++) {
    leap_device_info info{};
    info.struct_size = sizeof info;
    REQUIRE(leap_vulkan_device_info(k, &info) == LEAP_OK);
    INFO("device " << k << ": " << info.name << " / " << info.driver);
    CHECK(std::strlen(info.name) > 0);
    CHECK(std::strlen(info.driver) > 0);
    CHECK(info.api_version >= (1u << 22));  // at least Vulkan 1.0
    CHECK(info.max_shared_bytes >= 16384u);  // the Vulkan minimum
    CHECK(info.subgroup_size >= 1u);
    CHECK(info.device_local_bytes > 0u);
  }
  leap_device_info info{};
  info.struct_size = sizeof info;
  CHECK(leap_vulkan_device_info(n, &info) == LEAP_ERR_INVALID_ARG);
  CHECK(leap_vulkan_device_info(-1, &info) == LEAP_ERR_INVALID_ARG);
}

TEST_CASE("vulkan device selection", "[vulkan]") {
  lp_backend *be = make_vk();
  if (!be) return;
  const std::string name = lp_vk_device_name(be);
  CHECK(!name.empty());
  finish_vk(be);

  // By index and by a case-flipped name substring.
  REQUIRE(lp_vk_backend_create("0", -1, &be) == LEAP_OK);
  finish_vk(be);
  std::string sub = name.substr(0, std::min<size_t>(4, name.size()));
  for (char &ch : sub) ch = std::isupper((unsigned char)ch) ? (char)std::tolower(ch) : (char)std::toupper(ch);
  REQUIRE(lp_vk_backend_create(sub.c_str(), -1, &be) == LEAP_OK);
  CHECK(std::string(lp_vk_device_name(be)) == name);
  finish_vk(be);

  // A selector that matches nothing lists the devices.
  be = nullptr;
  CHECK(lp_vk_backend_create("no-such-device-xyz", -1, &be) == LEAP_ERR_INVALID_ARG);
  CHECK(be == nullptr);
  const std::string msg = leap_last_error();
  CHECK(msg.find("no-such-device-xyz") != std::string::npos);
  CHECK(msg.find(name) != std::string::npos);
  CHECK(lp_vk_backend_create("99", -1, &be) == LEAP_ERR_INVALID_ARG);
}

// Names of the shared objects loaded now.
static std::vector<std::string> loaded_libraries() {
  std::vector<std::string> out;
  dl_iterate_phdr(
      [](struct dl_phdr_info *info, size_t, void *user) {
        if (info->dlpi_name && info->dlpi_name[0]) static_cast<std::vector<std::string> *>(user)->push_back(info->dlpi_name);
        return 0;
      },
      &out);
  return out;
}

TEST_CASE("vulkan: the driver stays loaded after its instance (create/destroy cycles cannot exhaust static TLS)",
          "[vulkan]") {
  // NVIDIA's driver uses static TLS that glibc never returns on dlclose:
  // before vk_pin.c, a few dozen context create/destroy cycles in one
  // process made the driver fail to load. Whatever an instance loaded must
  // still be loaded after it is gone.
  lp_backend *be = make_vk();
  if (!be) return;
  const std::vector<std::string> with = loaded_libraries();
  finish_vk(be);
  const std::vector<std::string> after = loaded_libraries();
  for (const std::string &lib : with) {
    INFO(lib);
    CHECK(std::find(after.begin(), after.end(), lib) != after.end());
  }
  for (int k = 0; k < 20; k++) {  // and cycles keep working
    REQUIRE(lp_vk_backend_create("0", -1, &be) == LEAP_OK);
    finish_vk(be);
  }
}

TEST_CASE("vulkan buffers: zeroed, write/read round trip, bounds", "[vulkan]") {
  // All memory paths: mapped (lavapipe's default), staged (forced), and
  // mapped writes with staged reads (as on uncached BAR memory).
  for (const char *staging : {"0", "1", "read"}) {
    setenv("LEAP_VK_STAGING", staging, 1);
    lp_backend *be = make_vk();
    unsetenv("LEAP_VK_STAGING");
    if (!be) return;
    INFO("LEAP_VK_STAGING=" << staging);
    const size_t n = 1001;
    lp_buf *b = nullptr;
    REQUIRE(be->vt->buf_alloc(be, n * sizeof(float), &b) == LEAP_OK);
    std::vector<float> back(n, 1.0f);
    REQUIRE(be->vt->buf_read(be, b, 0, back.data(), n * sizeof(float)) == LEAP_OK);
    CHECK(std::all_of(back.begin(), back.end(), [](float v) { return v == 0.0f; }));

    const std::vector<float> data = uniform(n, 11);
    REQUIRE(be->vt->buf_write(be, b, 0, data.data(), n * sizeof(float)) == LEAP_OK);
    // A partial, unaligned overwrite in the middle.
    const std::vector<float> patch = uniform(10, 12);
    REQUIRE(be->vt->buf_write(be, b, 37 * sizeof(float), patch.data(), patch.size() * sizeof(float)) ==
            LEAP_OK);
    std::vector<float> expect = data;
    std::copy(patch.begin(), patch.end(), expect.begin() + 37);
    REQUIRE(be->vt->buf_read(be, b, 0, back.data(), n * sizeof(float)) == LEAP_OK);
    CHECK(std::memcmp(back.data(), expect.data(), n * sizeof(float)) == 0);
    float one = 0;
    REQUIRE(be->vt->buf_read(be, b, 40 * sizeof(float), &one, sizeof one) == LEAP_OK);
    CHECK(one == expect[40]);

    CHECK(be->vt->buf_write(be, b, n * sizeof(float) - 2, data.data(), 4) == LEAP_ERR_INVALID_ARG);
    CHECK(be->vt->buf_read(be, b, n * sizeof(float), back.data(), 4) == LEAP_ERR_INVALID_ARG);
    be->vt->buf_free(be, b);
    finish_vk(be);
  }
}

TEST_CASE("vulkan LINEAR matches the CPU twin", "[vulkan]") {
  Backends be;
  // Edges in every dimension (not multiples of 64 / 16), each activation.
  check_case(be, linear_case(37, 70, 45, LP_ACT_NONE, true, 1), TOL_GEMM, "37x70x45 bias");
  check_case(be, linear_case(37, 70, 45, LP_ACT_SILU, true, 2), TOL_GEMM, "37x70x45 bias silu");
  check_case(be, linear_case(37, 70, 45, LP_ACT_GELU_TANH, true, 3), TOL_GEMM, "37x70x45 bias gelu");
  check_case(be, linear_case(65, 17, 3, LP_ACT_GELU_TANH, false, 4), TOL_GEMM, "65x17x3 gelu");
  check_case(be, linear_case(1, 1, 1, LP_ACT_NONE, false, 5), TOL_GEMM, "1x1x1");
  // DiT sizes: tokens x hidden (qkv-like) and a long K.
  check_case(be, linear_case(392, 384, 128, LP_ACT_NONE, true, 6), TOL_GEMM, "392x384x128");
  check_case(be, linear_case(128, 130, 520, LP_ACT_SILU, true, 7), TOL_GEMM, "128x130x520");
}

TEST_CASE("vulkan PATCHIFY and UNPATCHIFY match the CPU twin", "[vulkan]") {
  Backends be;
  struct Shape { int B, C, H, W, p; };
  for (Shape s : {Shape{2, 3, 8, 12, 2}, Shape{1, 4, 28, 28, 2}, Shape{3, 2, 9, 6, 3}, Shape{2, 1, 4, 4, 1}}) {
    const size_t img = (size_t)s.B * s.C * s.H * s.W;
    OpCase p;
    p.bufs = {uniform(img + 2, 21), uniform(img + 1, 22)};
    p.in_buf[0] = 0, p.in_off[0] = 2;
    p.out_buf = 1, p.out_off = 1;
    p.op = make_op(LP_OP_PATCHIFY, {s.B, s.C, s.H, s.W, s.p});
    check_case(be, p, TOL_COPY, "patchify");
    OpCase u = p;
    u.op.kind = LP_OP_UNPATCHIFY;
    check_case(be, u, TOL_COPY, "unpatchify");
  }
}

TEST_CASE("vulkan EMBED_ADD, ADD_ROWS, SILU, GATED_ADD match the CPU twin", "[vulkan]") {
  Backends be;
  {
    const int B = 5, D = 33, rows = 7;
    OpCase c;
    std::vector<float> labels(B);
    const int32_t y[B] = {0, 6, 3, -2, 10};  // the last two are clamped
    std::memcpy(labels.data(), y, sizeof y);
    c.bufs = {uniform((size_t)B * D, 31), uniform((size_t)rows * D + 4, 32), labels,
              uniform((size_t)B * D, 33)};
    c.in_buf[0] = 0, c.in_buf[1] = 1, c.in_off[1] = 4, c.in_buf[2] = 2, c.out_buf = 3;
    c.op = make_op(LP_OP_EMBED_ADD, {B, D, rows});
    check_case(be, c, TOL_COPY, "embed_add");
  }
  for (int R : {74, 20}) {  // R = 2T, and R < T
    const int T = 37, D = 19;
    OpCase c;
    c.bufs = {uniform((size_t)T * D, 41), uniform((size_t)R * D + 3, 42)};
    c.in_buf[0] = 0, c.out_buf = 1, c.out_off = 3;
    c.op = make_op(LP_OP_ADD_ROWS, {R, T, D});
    check_case(be, c, TOL_COPY, "add_rows");
  }
  {
    const int n = 1000;
    OpCase c;
    c.bufs = {uniform(n, 51, -12, 12), uniform(n, 52)};
    c.in_buf[0] = 0, c.out_buf = 1;
    c.op = make_op(LP_OP_SILU, {n});
    check_case(be, c, TOL_ELEM, "silu");
  }
  {
    const int B = 2, T = 37, D = 70, stride = 6 * D;
    OpCase c;
    c.bufs = {uniform((size_t)B * T * D, 61), uniform((size_t)B * stride, 62), uniform((size_t)B * T * D, 63)};
    c.in_buf[0] = 0, c.in_buf[1] = 1, c.in_off[1] = 5 * D, c.out_buf = 2;
    c.op = make_op(LP_OP_GATED_ADD, {B, T, D, stride});
    check_case(be, c, TOL_COPY, "gated_add");
  }
}

TEST_CASE("vulkan LN_MODULATE matches the CPU twin", "[vulkan]") {
  Backends be;
  struct Shape { int B, T, D; };
  for (Shape s : {Shape{2, 37, 70}, Shape{2, 196, 384}, Shape{1, 3, 1000}, Shape{3, 5, 7}}) {
    const int stride = 6 * s.D;
    OpCase c;
    // Not zero-mean: the two-pass variance must hold up to an offset.
    c.bufs = {uniform((size_t)s.B * s.T * s.D, 71, 1.5f, 4.0f), uniform((size_t)s.B * stride, 72),
              uniform((size_t)s.B * s.T * s.D, 73)};
    c.in_buf[0] = 0, c.in_buf[1] = 1, c.in_off[1] = 0, c.in_buf[2] = 1, c.in_off[2] = (size_t)s.D;
    c.out_buf = 2;
    c.op = make_op(LP_OP_LN_MODULATE, {s.B, s.T, s.D, stride}, 1e-6f);
    check_case(be, c, TOL_ELEM, "ln_modulate");
  }
}

TEST_CASE("vulkan ATTENTION matches the CPU twin", "[vulkan]") {
  Backends be;
  check_case(be, attention_case(2, 37, 64, 4, 81, 2.0f), TOL_GEMM, "B2 T37 hd16");
  check_case(be, attention_case(2, 256, 128, 4, 82, 2.0f), TOL_GEMM, "DiT: B2 T256 hd32");
  check_case(be, attention_case(1, 70, 256, 1, 83, 1.0f), TOL_GEMM, "hd256");
  check_case(be, attention_case(1, 33, 96, 1, 84, 3.0f), TOL_GEMM, "hd96, peaked softmax");
  check_case(be, attention_case(1, 4096, 8, 1, 85, 2.0f), TOL_GEMM, "T4096");
}

// Which shader the backend plans for an op (vk_ops.c), on host buffers'
// views: only the views' offsets and the device matter to the choice.
std::string planned_shader(lp_backend *be, const OpCase &c) {
  std::vector<lp_buf *> bufs(c.bufs.size(), nullptr);
  for (size_t k = 0; k < c.bufs.size(); k++)
    REQUIRE(be->vt->buf_alloc(be, c.bufs[k].size() * sizeof(float), &bufs[k]) == LEAP_OK);
  lp_op op = c.op;
  for (int k = 0; k < 3; k++)
    op.in[k] = c.in_buf[k] >= 0 ? lp_view{bufs[(size_t)c.in_buf[k]], c.in_off[k]} : lp_view{nullptr, 0};
  op.out = lp_view{bufs[(size_t)c.out_buf], c.out_off};
  lp_vk_plan plan;
  REQUIRE(lp_vk_plan_op(lp_vk_cast(be), &op, &plan) == LEAP_OK);
  for (lp_buf *b : bufs) be->vt->buf_free(be, b);
  return plan.shader;
}

// LINEAR, ATTENTION, LN_MODULATE and GATED_ADD have two kernels each: the generic
// ones (shared-memory tiles, for GPUs) and the *_simd ones for CPU devices
// (llvmpipe), used on 16-byte-aligned views with K, head_dim, D fitting.
// The other tests' views are mostly unaligned on purpose; here both sets run
// on aligned views with edges: "simd" forced (it needs subgroupBroadcast;
// the default on CPU devices) and "generic" forced.
TEST_CASE("vulkan CPU-device and GPU kernels both match the CPU twin", "[vulkan]") {
  for (const char *mode : {"simd", "generic"}) {
    REQUIRE(setenv("LEAP_VK_KERNELS", mode, 1) == 0);
    {
      Backends be;
      if (!be.vk) break;
      const bool simd = !std::strcmp(mode, "simd") && lp_vk_cast(be.vk)->simd_kernels;
      INFO("kernels: " << mode << (simd ? "" : " (generic: no subgroup broadcast here)"));
      const OpCase lin = linear_case(37, 70, 44, LP_ACT_NONE, true, 101, {4, 8, 1, 3});
      CHECK(planned_shader(be.vk, lin) == (simd ? "linear_simd" : "linear"));
      check_case(be, lin, TOL_GEMM, "37x70x44 bias");
      check_case(be, linear_case(37, 70, 44, LP_ACT_SILU, true, 102, {0, 4, 0, 0}), TOL_GEMM, "silu");
      check_case(be, linear_case(9, 130, 8, LP_ACT_GELU_TANH, false, 103, {0, 0, 0, 1}), TOL_GEMM, "gelu");
      check_case(be, linear_case(1, 1, 4, LP_ACT_NONE, false, 104, {0, 0, 0, 0}), TOL_GEMM, "1x1x4");
      check_case(be, linear_case(392, 384, 128, LP_ACT_NONE, true, 105, {0, 0, 0, 0}), TOL_GEMM, "392x384x128");
      check_case(be, linear_case(128, 130, 520, LP_ACT_SILU, true, 106, {4, 4, 0, 0}), TOL_GEMM, "130x520");

      const OpCase att = attention_case(2, 37, 128, 4, 111, 2.0f, 0, 0);
      CHECK(planned_shader(be.vk, att) == (simd ? "attention_simd" : "attention"));
      check_case(be, att, TOL_GEMM, "B2 T37 hd32");
      check_case(be, attention_case(2, 196, 128, 4, 112, 2.0f, 4, 8), TOL_GEMM, "DiT: B2 T196 hd32");
      check_case(be, attention_case(1, 65, 96, 1, 113, 3.0f, 0, 4), TOL_GEMM, "hd96, peaked softmax");
      check_case(be, attention_case(1, 9, 128, 1, 114, 2.0f, 0, 0), TOL_GEMM, "hd128, T9");

      for (int D : {68, 128, 4}) {
        const int B = 3, T = 13, stride = 6 * D;
        OpCase c;
        c.bufs = {uniform((size_t)B * T * D, 121, 1.5f, 4.0f), uniform((size_t)B * stride, 122),
                  uniform((size_t)B * T * D + 4, 123)};
        c.in_buf[0] = 0, c.in_buf[1] = 1, c.in_off[1] = 2 * (size_t)D, c.in_buf[2] = 1;
        c.in_off[2] = 3 * (size_t)D, c.out_buf = 2, c.out_off = 4;
        c.op = make_op(LP_OP_LN_MODULATE, {B, T, D, stride}, 1e-6f);
        CHECK(planned_shader(be.vk, c) == (simd ? "ln_modulate_simd" : "ln_modulate"));
        check_case(be, c, TOL_ELEM, "ln_modulate");
      }
      {
        const int B = 3, T = 13, D = 68, stride = 6 * D;
        OpCase c;
        c.bufs = {uniform((size_t)B * T * D + 4, 131), uniform((size_t)B * stride, 132),
                  uniform((size_t)B * T * D, 133)};
        c.in_buf[0] = 0, c.in_off[0] = 4, c.in_buf[1] = 1, c.in_off[1] = 5 * (size_t)D, c.out_buf = 2;
        c.op = make_op(LP_OP_GATED_ADD, {B, T, D, stride});
        CHECK(planned_shader(be.vk, c) == (simd ? "gated_add_simd" : "gated_add"));
        check_case(be, c, TOL_COPY, "gated_add");
      }
    }
    unsetenv("LEAP_VK_KERNELS");
  }
  unsetenv("LEAP_VK_KERNELS");
}

TEST_CASE("vulkan program: several ops, recorded once, replayed identically", "[vulkan]") {
  Backends be;
  if (!be.vk) return;
  // A miniature DiT block: patchify -> linear(silu) -> +pos -> LN modulate ->
  // qkv -> attention -> gated residual -> linear -> unpatchify.
  const int B = 2, C = 4, H = 8, W = 8, p = 2, T = (H / p) * (W / p), P = C * p * p, D = 32, heads = 2;
  enum { IMG, PATCH, W1, B1, HID, POS, MOD, LN, WQKV, QKV, ATT, WOUT, ROWS, OUT, NBUF };
  std::vector<std::vector<float>> host(NBUF);
  host[IMG] = uniform((size_t)B * C * H * W, 91);
  host[PATCH].assign((size_t)B * T * P, 0);
  host[W1] = uniform((size_t)D * P, 92);
  host[B1] = uniform(D, 93);
  host[HID].assign((size_t)B * T * D, 0);
  host[POS] = uniform((size_t)T * D, 94);
  host[MOD] = uniform((size_t)B * 3 * D, 95);
  host[LN].assign((size_t)B * T * D, 0);
  host[WQKV] = uniform((size_t)3 * D * D, 96);
  host[QKV].assign((size_t)B * T * 3 * D, 0);
  host[ATT].assign((size_t)B * T * D, 0);
  host[WOUT] = uniform((size_t)P * D, 97);
  host[ROWS].assign((size_t)B * T * P, 0);
  host[OUT].assign((size_t)B * C * H * W, 0);

  double host_ms = 0; // host wall time around the last prog_run
  auto run = [&](lp_backend *bk, int times) {
    std::vector<lp_buf *> b(NBUF);
    for (int k = 0; k < NBUF; k++) {
      REQUIRE(bk->vt->buf_alloc(bk, host[k].size() * 4, &b[k]) == LEAP_OK);
      REQUIRE(bk->vt->buf_write(bk, b[k], 0, host[k].data(), host[k].size() * 4) == LEAP_OK);
    }
    auto v = [&](int k, size_t off = 0) { return lp_view{b[k], off}; };
    lp_prog prog{};
    auto push = [&](lp_op op, lp_view i0, lp_view i1, lp_view i2, lp_view out) {
      op.in[0] = i0, op.in[1] = i1, op.in[2] = i2, op.out = out;
      REQUIRE(lp_prog_push(&prog, &op) == LEAP_OK);
    };
    const lp_view none{nullptr, 0};
    push(make_op(LP_OP_PATCHIFY, {B, C, H, W, p}), v(IMG), none, none, v(PATCH));
    push(make_op(LP_OP_LINEAR, {B * T, D, P, LP_ACT_SILU}), v(PATCH), v(W1), v(B1), v(HID));
    push(make_op(LP_OP_ADD_ROWS, {B * T, T, D}), v(POS), none, none, v(HID));
    push(make_op(LP_OP_LN_MODULATE, {B, T, D, 3 * D}, 1e-6f), v(HID), v(MOD), v(MOD, D), v(LN));
    push(make_op(LP_OP_LINEAR, {B * T, 3 * D, D, LP_ACT_NONE}), v(LN), v(WQKV), none, v(QKV));
    push(make_op(LP_OP_ATTENTION, {B, T, D, heads}, 1.0f / std::sqrt((float)(D / heads))), v(QKV), none,
         none, v(ATT));
    push(make_op(LP_OP_GATED_ADD, {B, T, D, 3 * D}), v(ATT), v(MOD, 2 * D), none, v(HID));
    push(make_op(LP_OP_LINEAR, {B * T, P, D, LP_ACT_GELU_TANH}), v(HID), v(WOUT), none, v(ROWS));
    push(make_op(LP_OP_UNPATCHIFY, {B, C, H, W, p}), v(ROWS), none, none, v(OUT));
    std::vector<std::vector<float>> outs;
    for (int r = 0; r < times; r++) {
      INFO(leap_last_error());
      const auto t0 = std::chrono::steady_clock::now();
      REQUIRE(bk->vt->prog_run(bk, &prog) == LEAP_OK);
      host_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::vector<float> o(host[OUT].size());
      REQUIRE(bk->vt->buf_read(bk, b[OUT], 0, o.data(), o.size() * 4) == LEAP_OK);
      outs.push_back(o);
    }
    lp_prog_free(bk, &prog);
    CHECK(prog.exec == nullptr);
    for (lp_buf *x : b) bk->vt->buf_free(bk, x);
    return outs;
  };
  const auto ref = run(be.cpu, 1);
  const auto got = run(be.vk, 3);
  CHECK(rel_err(got[0], ref[0]) <= TOL_GEMM);
  for (size_t r = 1; r < got.size(); r++)
    CHECK(std::memcmp(got[r].data(), got[0].data(), got[0].size() * 4) == 0);
  // The device's time of the last run (-1: no timestamp queries): the
  // kernels took some time, and no more than the host waited for them
  // (measured here: 11.6 ms of GPU time in 11.9 ms of host wall time).
  const double ms = lp_vk_last_gpu_ms(be.vk);
  INFO("GPU time " << ms << " ms, host wall time " << host_ms << " ms");
  if (ms != -1) {
    CHECK(ms > 0);
    CHECK(ms <= host_ms);
  }

  // The same program over device-local buffers written and read through
  // staging copies: the same kernels, so the same bits.
  setenv("LEAP_VK_STAGING", "1", 1);
  lp_backend *staged = make_vk();
  unsetenv("LEAP_VK_STAGING");
  const auto got_staged = run(staged, 2);
  for (const auto &o : got_staged) CHECK(std::memcmp(o.data(), got[0].data(), o.size() * 4) == 0);
  finish_vk(staged);
}

TEST_CASE("vulkan rejects bad ops on the host", "[vulkan]") {
  lp_backend *be = make_vk();
  if (!be) return;
  lp_buf *a = nullptr, *o = nullptr;
  REQUIRE(be->vt->buf_alloc(be, 64 * 4, &a) == LEAP_OK);
  REQUIRE(be->vt->buf_alloc(be, 64 * 4, &o) == LEAP_OK);
  auto run1 = [&](lp_op op) {
    lp_prog prog{};
    REQUIRE(lp_prog_push(&prog, &op) == LEAP_OK);
    leap_status s = be->vt->prog_run(be, &prog);
    CHECK(prog.exec == nullptr);
    lp_prog_free(be, &prog);
    return s;
  };
  // A view past its buffer's end.
  lp_op op = make_op(LP_OP_SILU, {60});
  op.in[0] = lp_view{a, 8};
  op.out = lp_view{o, 0};
  CHECK(run1(op) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("past its buffer") != std::string::npos);
  // head_dim above the kernel's limit.
  op = make_op(LP_OP_ATTENTION, {1, 1, 512, 1}, 0.1f);
  op.in[0] = lp_view{a, 0};
  op.out = lp_view{o, 0};
  CHECK(run1(op) == LEAP_ERR_UNSUPPORTED);
  // A non-positive shape and a missing input.
  op = make_op(LP_OP_LINEAR, {4, 0, 4, 0});
  op.in[0] = op.in[1] = lp_view{a, 0};
  op.out = lp_view{o, 0};
  CHECK(run1(op) == LEAP_ERR_INVALID_ARG);
  op = make_op(LP_OP_LINEAR, {4, 4, 4, 0});
  op.in[0] = lp_view{a, 0};
  op.out = lp_view{o, 0};
  CHECK(run1(op) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == "program op 0: vulkan: LINEAR input 1 has no buffer");
  be->vt->buf_free(be, a);
  be->vt->buf_free(be, o);
  finish_vk(be);
}

namespace {

// The host side of the adoption test: an instance (under the validation
// layer when LEAP_VALIDATION=1 and it is installed), a device with one
// compute queue, and host-visible buffers, all created and destroyed here.
uint64_t g_host_messages = 0;

VKAPI_ATTR VkBool32 VKAPI_CALL host_message(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                            VkDebugUtilsMessageTypeFlagsEXT,
                                            const VkDebugUtilsMessengerCallbackDataEXT *data, void *) {
  std::fprintf(stderr, "host validation: %s\n", data->pMessage);
  g_host_messages++;
  return VK_FALSE;
}

struct Host {
  VkInstance inst = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  VkPhysicalDevice pd = VK_NULL_HANDLE;
  VkDevice dev = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t family = 0;
  VkBuffer buf = VK_NULL_HANDLE;
  VkDeviceMemory mem = VK_NULL_HANDLE;
  float *mapped = nullptr;

  bool open() {
    // As leap does for its own instances (vk_pin.c): the drivers this
    // instance loads stay loaded after it, so a leak inside a driver is not
    // reported against an unloaded module when the process exits.
    void *pin = lp_vk_pin_begin();
    const char *env = std::getenv("LEAP_VALIDATION");
    bool validate = env && std::string(env) == "1";
    if (validate) {
      uint32_t n = 0;
      vkEnumerateInstanceLayerProperties(&n, nullptr);
      std::vector<VkLayerProperties> layers(n);
      vkEnumerateInstanceLayerProperties(&n, layers.data());
      validate = std::any_of(layers.begin(), layers.end(), [](const VkLayerProperties &l) {
        return std::string(l.layerName) == "VK_LAYER_KHRONOS_validation";
      });
    }
    const char *layer = "VK_LAYER_KHRONOS_validation";
    const char *ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.apiVersion = VK_API_VERSION_1_2;
    VkInstanceCreateInfo ci{};
    ci.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    ci.pApplicationInfo = &app;
    ci.enabledLayerCount = validate ? 1 : 0;
    ci.ppEnabledLayerNames = &layer;
    ci.enabledExtensionCount = validate ? 1 : 0;
    ci.ppEnabledExtensionNames = &ext;
    const VkResult created = vkCreateInstance(&ci, nullptr, &inst);
    lp_vk_pin_end(pin, created == VK_SUCCESS);
    if (created != VK_SUCCESS) return false;
    if (validate) {
      VkDebugUtilsMessengerCreateInfoEXT mci{};
      mci.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
      mci.messageSeverity =
          VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
      mci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT;
      mci.pfnUserCallback = host_message;
      auto create = (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(inst, "vkCreateDebugUtilsMessengerEXT");
      REQUIRE(create(inst, &mci, nullptr, &messenger) == VK_SUCCESS);
    }
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(inst, &n, nullptr);
    std::vector<VkPhysicalDevice> pds(n);
    vkEnumeratePhysicalDevices(inst, &n, pds.data());
    for (VkPhysicalDevice p : pds) {
      VkPhysicalDeviceProperties props;
      vkGetPhysicalDeviceProperties(p, &props);
      if (props.apiVersion < VK_API_VERSION_1_2) continue;
      uint32_t nq = 0;
      vkGetPhysicalDeviceQueueFamilyProperties(p, &nq, nullptr);
      std::vector<VkQueueFamilyProperties> q(nq);
      vkGetPhysicalDeviceQueueFamilyProperties(p, &nq, q.data());
      for (uint32_t f = 0; f < nq && !pd; f++)
        if (q[f].queueFlags & VK_QUEUE_COMPUTE_BIT) pd = p, family = f;
      if (pd) break;
    }
    if (!pd) return false;
    const float prio = 1;
    VkDeviceQueueCreateInfo qci{};
    qci.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
    qci.queueFamilyIndex = family;
    qci.queueCount = 1;
    qci.pQueuePriorities = &prio;
    VkDeviceCreateInfo dci{};
    dci.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    REQUIRE(vkCreateDevice(pd, &dci, nullptr, &dev) == VK_SUCCESS);
    vkGetDeviceQueue(dev, family, 0, &queue);
    return true;
  }

  // One host-visible, coherent buffer usable by leap (storage + transfers).
  void make_buffer(size_t bytes) {
    VkBufferCreateInfo bci{};
    bci.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    bci.size = bytes;
    bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    REQUIRE(vkCreateBuffer(dev, &bci, nullptr, &buf) == VK_SUCCESS);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(dev, buf, &req);
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(pd, &mp);
    const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    uint32_t type = UINT32_MAX;
    for (uint32_t t = 0; t < mp.memoryTypeCount && type == UINT32_MAX; t++)
      if ((req.memoryTypeBits & (1u << t)) && (mp.memoryTypes[t].propertyFlags & want) == want) type = t;
    REQUIRE(type != UINT32_MAX);
    VkMemoryAllocateInfo mai{};
    mai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = type;
    REQUIRE(vkAllocateMemory(dev, &mai, nullptr, &mem) == VK_SUCCESS);
    REQUIRE(vkBindBufferMemory(dev, buf, mem, 0) == VK_SUCCESS);
    void *p = nullptr;
    REQUIRE(vkMapMemory(dev, mem, 0, VK_WHOLE_SIZE, 0, &p) == VK_SUCCESS);
    mapped = (float *)p;
  }

  // Destroying everything here proves leap destroyed none of it.
  ~Host() {
    if (mem) vkUnmapMemory(dev, mem);
    if (buf) vkDestroyBuffer(dev, buf, nullptr);
    if (mem) vkFreeMemory(dev, mem, nullptr);
    if (dev) vkDestroyDevice(dev, nullptr);
    if (messenger) {
      auto destroy =
          (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(inst, "vkDestroyDebugUtilsMessengerEXT");
      destroy(inst, messenger, nullptr);
    }
    if (inst) vkDestroyInstance(inst, nullptr);
  }
};

}  // namespace

TEST_CASE("vulkan adopts a host's device and wraps its VkBuffers", "[vulkan]") {
  g_host_messages = 0;
  {
    Host host;
    if (!host.open()) {
      lt::skip("no Vulkan 1.2 device with a compute queue");
      return;
    }
    const size_t n = 300;
    // Host layout: [16 floats pad][n inputs][1 pad][n outputs]; the output
    // region starts at a byte offset that is not storage-buffer aligned.
    const size_t in_at = 16, out_at = in_at + n + 1;
    host.make_buffer((out_at + n) * sizeof(float));
    std::memset(host.mapped, 0, (out_at + n) * sizeof(float));
    const std::vector<float> x = uniform(n, 101, -6, 6);
    std::memcpy(host.mapped + in_at, x.data(), n * sizeof(float));

    leap_vulkan_external ext{};
    ext.struct_size = sizeof ext;
    ext.instance = host.inst;
    ext.physical_device = host.pd;
    ext.device = host.dev;
    ext.queue = host.queue;
    ext.queue_family = host.family;
    ext.get_instance_proc_addr = (void *)&vkGetInstanceProcAddr;
    lp_backend *be = nullptr;
    INFO(leap_last_error());
    REQUIRE(lp_vk_backend_create_external(&ext, &be) == LEAP_OK);

    lp_buf *in = nullptr, *out = nullptr, *mid = nullptr;
    REQUIRE(lp_vk_buf_wrap(be, (uint64_t)(uintptr_t)host.buf, in_at * 4, n * 4, &in) == LEAP_OK);
    REQUIRE(lp_vk_buf_wrap(be, (uint64_t)(uintptr_t)host.buf, out_at * 4, n * 4, &out) == LEAP_OK);
    REQUIRE(be->vt->buf_alloc(be, n * 4, &mid) == LEAP_OK);
    CHECK(lp_vk_buf_wrap(be, (uint64_t)(uintptr_t)host.buf, 2, 4, &mid) == LEAP_ERR_INVALID_ARG);

    // wrapped -> leap buffer -> wrapped: out = silu(silu(x)).
    lp_prog prog{};
    lp_op op = make_op(LP_OP_SILU, {(int)n});
    op.in[0] = lp_view{in, 0}, op.out = lp_view{mid, 0};
    REQUIRE(lp_prog_push(&prog, &op) == LEAP_OK);
    op.in[0] = lp_view{mid, 0}, op.out = lp_view{out, 0};
    REQUIRE(lp_prog_push(&prog, &op) == LEAP_OK);
    REQUIRE(be->vt->prog_run(be, &prog) == LEAP_OK);
    double err = 0;
    for (size_t k = 0; k < n; k++) {
      const float s1 = x[k] / (1.0f + std::exp(-x[k]));
      err = std::max(err, (double)std::fabs(host.mapped[out_at + k] - s1 / (1.0f + std::exp(-s1))));
    }
    CHECK(err < 1e-5);
    CHECK(host.mapped[in_at - 1] == 0.0f);  // nothing outside the views was touched
    CHECK(host.mapped[out_at - 1] == 0.0f);

    // Reads and writes of wrapped buffers go through staging copies.
    std::vector<float> back(n);
    REQUIRE(be->vt->buf_read(be, out, 0, back.data(), n * 4) == LEAP_OK);
    CHECK(std::memcmp(back.data(), host.mapped + out_at, n * 4) == 0);
    const std::vector<float> y = uniform(n, 102);
    REQUIRE(be->vt->buf_write(be, in, 0, y.data(), n * 4) == LEAP_OK);
    CHECK(std::memcmp(y.data(), host.mapped + in_at, n * 4) == 0);

    lp_prog_free(be, &prog);
    be->vt->buf_free(be, in);
    be->vt->buf_free(be, out);
    be->vt->buf_free(be, mid);
    CHECK(lp_vk_validation_messages(be) == 0);
    be->vt->destroy(be);
  }
  CHECK(g_host_messages == 0);
}

TEST_CASE("prog cache: a kept program is recorded again when a buffer it names was freed and another took its address",
          "[vulkan]") {
  lp_backend *be = make_vk();
  if (!be) return;
  const size_t n = 1000;
  lp_prog_cache pc{};
  pc.be = be;
  lp_buf *a = nullptr, *b = nullptr, *dst = nullptr;
  REQUIRE(be->vt->buf_alloc(be, n * 4, &a) == LEAP_OK);
  REQUIRE(be->vt->buf_alloc(be, n * 4, &b) == LEAP_OK);
  REQUIRE(be->vt->buf_alloc(be, n * 4, &dst) == LEAP_OK);
  const std::vector<float> xa = uniform(n, 301), xb = uniform(n, 302);
  REQUIRE(be->vt->buf_write(be, a, 0, xa.data(), n * 4) == LEAP_OK);
  REQUIRE(be->vt->buf_write(be, b, 0, xb.data(), n * 4) == LEAP_OK);
  const lp_op op = lp_op_axpby({a, 0}, {nullptr, 0}, {dst, 0}, (int64_t)n, 2.0f, 0.0f);
  auto run_and_check = [&](const std::vector<float> &x) {
    INFO(leap_last_error());
    REQUIRE(lp_prog_cache_run1(&pc, &op) == LEAP_OK);
    std::vector<float> y(n);
    REQUIRE(be->vt->buf_read(be, dst, 0, y.data(), n * 4) == LEAP_OK);
    size_t bad = 0;
    for (size_t k = 0; k < n; k++) bad += y[k] != 2.0f * x[k];
    CHECK(bad == 0);
  };
  run_and_check(xa);
  run_and_check(xa); // kept and replayed
  // As if a were freed and b allocated at its address: the same pointer now
  // names another VkBuffer. Replaying the recorded program would read a's.
  const lp_buf saved = *a;
  *a = *b;
  run_and_check(xb);
  *a = saved;
  run_and_check(xa);
  lp_prog_cache_free(&pc);
  for (lp_buf *x : {a, b, dst}) be->vt->buf_free(be, x);
  finish_vk(be);
}
