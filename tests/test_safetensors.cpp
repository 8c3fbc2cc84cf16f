// test_safetensors.cpp - safetensors reader/writer, header JSON parser and
// 16-bit float conversions.
#include <catch2/catch.hpp>

#include "test_util.hpp"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "safetensors.h"

namespace {

using lt::TempDir;

std::string slurp(const std::string &path) {
  std::string s;
  FILE *f = fopen(path.c_str(), "rb");
  if (!f) return s;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  fclose(f);
  return s;
}

void spit(const std::string &path, const std::string &bytes) {
  FILE *f = fopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  fclose(f);
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; i++) s[i] = (char)(n >> (8 * i));
  return s;
}

// A safetensors file from a literal header and a data buffer of data_len
// bytes (0, 1, 2, ... mod 251).
std::string raw_file(const std::string &header, size_t data_len) {
  std::string data(data_len, '\0');
  for (size_t i = 0; i < data_len; i++) data[i] = (char)(i % 251);
  return le64(header.size()) + header + data;
}

// Opens path expecting failure with status want and a message that names the
// file and contains `what`.
void expect_open_fails(const std::string &path, leap_status want, const std::string &what) {
  lp_st_file *f = nullptr;
  leap_status st = lp_st_open(path.c_str(), &f);
  std::string msg = leap_last_error();
  INFO("message: " << msg);
  CHECK(st == want);
  CHECK(f == nullptr);
  CHECK(msg.find(path) != std::string::npos);
  CHECK(msg.find(what) != std::string::npos);
  if (f) lp_st_close(f);
}

// Foreign dtypes (LP_DTYPE_U8, ...) lie outside leap_dtype's enumerators; in
// C++ loading such a value through a leap_dtype lvalue is undefined (UBSan
// flags it), so tests read the code as an int.
int dtype_code(const lp_st_tensor *t) {
  int code;
  static_assert(sizeof code == sizeof t->dtype, "enum is int-sized");
  std::memcpy(&code, &t->dtype, sizeof code);
  return code;
}

float f32_of_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

uint32_t bits_of_f32(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

}  // namespace

TEST_CASE("f16 conversion of known bit patterns", "[safetensors]") {
  CHECK(lp_f32_to_f16(1.0f) == 0x3c00);
  CHECK(lp_f32_to_f16(-2.5f) == 0xc100);
  CHECK(lp_f32_to_f16(65504.0f) == 0x7bff);
  CHECK(lp_f32_to_f16(std::ldexp(1.0f, -24)) == 0x0001);  // smallest subnormal
  CHECK(lp_f32_to_f16(std::ldexp(1.0f, -14)) == 0x0400);  // smallest normal
  CHECK(lp_f32_to_f16(-0.0f) == 0x8000);
  CHECK(lp_f32_to_f16(std::numeric_limits<float>::infinity()) == 0x7c00);
  CHECK(lp_f32_to_f16(-std::numeric_limits<float>::infinity()) == 0xfc00);
  CHECK(lp_f32_to_f16(65520.0f) == 0x7c00);   // halfway to 2^16: rounds to inf
  CHECK(lp_f32_to_f16(65519.0f) == 0x7bff);
  CHECK(lp_f32_to_f16(1e10f) == 0x7c00);
  // Ties to even: 1 + 2^-11 lies between 0x3c00 (even) and 0x3c01.
  CHECK(lp_f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);
  CHECK(lp_f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);
  CHECK(lp_f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);      // tie with 0
  CHECK(lp_f32_to_f16(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK(lp_f32_to_f16(std::ldexp(3.0f, -25)) == 0x0002);      // 1.5 ulp: tie to even
  uint16_t nan16 = lp_f32_to_f16(std::numeric_limits<float>::quiet_NaN());
  CHECK((nan16 & 0x7c00) == 0x7c00);
  CHECK((nan16 & 0x03ff) != 0);
  // A nan whose payload sits only in the low bits must not become inf.
  CHECK((lp_f32_to_f16(f32_of_bits(0x7f800001u)) & 0x3ff) != 0);

  CHECK(lp_f16_to_f32(0x3c00) == 1.0f);
  CHECK(lp_f16_to_f32(0xc100) == -2.5f);
  CHECK(lp_f16_to_f32(0x7bff) == 65504.0f);
  CHECK(lp_f16_to_f32(0x0001) == std::ldexp(1.0f, -24));
  CHECK(lp_f16_to_f32(0x03ff) == std::ldexp(1023.0f, -24));
  CHECK(lp_f16_to_f32(0x7c00) == std::numeric_limits<float>::infinity());
  CHECK(lp_f16_to_f32(0xfc00) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(lp_f16_to_f32(0x7e00)));
  CHECK(std::isnan(lp_f16_to_f32(0x7c01)));
  CHECK(bits_of_f32(lp_f16_to_f32(0x8000)) == 0x80000000u);
}

TEST_CASE("f16 conversion is exact and rounds to nearest even everywhere", "[safetensors]") {
  int bad_roundtrip = 0, bad_tie = 0, bad_near = 0;
  for (uint32_t h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // nan
    if (lp_f32_to_f16(lp_f16_to_f32((uint16_t)h)) != h) bad_roundtrip++;
  }
  // Every midpoint between neighbours is exact in float32: it must go to the
  // even neighbour, and the floats just either side to the nearer one.
  for (uint32_t h = 0; h < 0x7bff; h++) {
    double lo = lp_f16_to_f32((uint16_t)h), hi = lp_f16_to_f32((uint16_t)(h + 1));
    float mid = (float)((lo + hi) / 2);
    uint16_t even = (uint16_t)((h & 1) ? h + 1 : h);
    if (lp_f32_to_f16(mid) != even || lp_f32_to_f16(-mid) != (even | 0x8000)) bad_tie++;
    if (lp_f32_to_f16(std::nextafter(mid, 0.0f)) != h) bad_near++;
    if (lp_f32_to_f16(std::nextafter(mid, std::numeric_limits<float>::infinity())) != h + 1) bad_near++;
  }
  // Random floats across the whole float16 range: no neighbour is nearer.
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  std::uniform_int_distribution<int> ex(-27, 15);
  for (int i = 0; i < 200000; i++) {
    float x = std::ldexp(mant(rng), ex(rng));
    uint16_t h = lp_f32_to_f16(x);
    double err = std::fabs(lp_f16_to_f32(h) - (double)x);
    if (h > 0 && std::fabs(lp_f16_to_f32((uint16_t)(h - 1)) - (double)x) < err) bad_near++;
    if (h < 0x7bff && std::fabs(lp_f16_to_f32((uint16_t)(h + 1)) - (double)x) < err) bad_near++;
  }
  CHECK(bad_roundtrip == 0);
  CHECK(bad_tie == 0);
  CHECK(bad_near == 0);
}

TEST_CASE("bf16 conversion of known bit patterns and ties", "[safetensors]") {
  CHECK(lp_f32_to_bf16(1.0f) == 0x3f80);
  CHECK(lp_f32_to_bf16(-2.5f) == 0xc020);
  CHECK(lp_f32_to_bf16(65504.0f) == 0x4780);  // rounds up to 65536
  CHECK(lp_f32_to_bf16(std::numeric_limits<float>::infinity()) == 0x7f80);
  CHECK(lp_f32_to_bf16(-std::numeric_limits<float>::infinity()) == 0xff80);
  CHECK(lp_f32_to_bf16(std::numeric_limits<float>::max()) == 0x7f80);  // overflows to inf
  CHECK(lp_f32_to_bf16(f32_of_bits(0x3f808000u)) == 0x3f80);  // 1 + 2^-8: tie to even
  CHECK(lp_f32_to_bf16(f32_of_bits(0x3f818000u)) == 0x3f82);  // 1 + 3*2^-8: tie to even
  CHECK(lp_f32_to_bf16(f32_of_bits(0x3f808001u)) == 0x3f81);
  CHECK(lp_f32_to_bf16(f32_of_bits(0x00010000u)) == 0x0001);  // smallest subnormal
  CHECK(lp_bf16_to_f32(0x0001) == f32_of_bits(0x00010000u));
  CHECK(lp_bf16_to_f32(0x3f80) == 1.0f);
  CHECK(lp_bf16_to_f32(0xc020) == -2.5f);
  CHECK(lp_bf16_to_f32(0x7f80) == std::numeric_limits<float>::infinity());
  CHECK(std::isnan(lp_bf16_to_f32(0x7fc0)));
  // nan stays nan, even when only low payload bits are set.
  CHECK(std::isnan(lp_bf16_to_f32(lp_f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isnan(lp_bf16_to_f32(lp_f32_to_bf16(f32_of_bits(0x7f800001u)))));
  CHECK(std::isnan(lp_bf16_to_f32(lp_f32_to_bf16(f32_of_bits(0xff800001u)))));

  int bad = 0;
  for (uint32_t h = 0; h < 0x10000; h++) {
    if ((h & 0x7f80) == 0x7f80 && (h & 0x7f)) continue;  // nan
    if (lp_f32_to_bf16(lp_bf16_to_f32((uint16_t)h)) != h) bad++;
  }
  for (uint32_t h = 0; h < 0x7f7f; h++) {
    float mid = f32_of_bits((h << 16) + 0x8000u);  // exact midpoint of h and h+1
    uint16_t even = (uint16_t)((h & 1) ? h + 1 : h);
    if (lp_f32_to_bf16(mid) != even) bad++;
    if (lp_f32_to_bf16(std::nextafter(mid, 0.0f)) != h) bad++;
    if (lp_f32_to_bf16(std::nextafter(mid, std::numeric_limits<float>::infinity())) != h + 1) bad++;
  }
  CHECK(bad == 0);
}

TEST_CASE("dtype names and sizes", "[safetensors]") {
  CHECK(std::string(lp_dtype_name(LEAP_F32)) == "F32");
  CHECK(std::string(lp_dtype_name(LEAP_F16)) == "F16");
  CHECK(std::string(lp_dtype_name(LEAP_BF16)) == "BF16");
  CHECK(std::string(lp_dtype_name(LEAP_F64)) == "F64");
  CHECK(std::string(lp_dtype_name(LEAP_I64)) == "I64");
  CHECK(std::string(lp_dtype_name(LEAP_I32)) == "I32");
  CHECK(lp_dtype_size(LEAP_F32) == 4);
  CHECK(lp_dtype_size(LEAP_F16) == 2);
  CHECK(lp_dtype_size(LEAP_BF16) == 2);
  CHECK(lp_dtype_size(LEAP_F64) == 8);
  CHECK(lp_dtype_size(LEAP_I64) == 8);
  CHECK(lp_dtype_size(LEAP_I32) == 4);
  leap_dtype d;
  CHECK(lp_dtype_from_name("BF16", &d));
  CHECK(d == LEAP_BF16);
  CHECK(lp_dtype_from_name("U16", &d));
  int code;
  std::memcpy(&code, &d, sizeof code);  // see dtype_code()
  CHECK(code == LP_DTYPE_U16);
  CHECK(lp_dtype_size((leap_dtype)LP_DTYPE_U16) == 2);
  CHECK(std::string(lp_dtype_name((leap_dtype)LP_DTYPE_BOOL)) == "BOOL");
  CHECK_FALSE(lp_dtype_from_name("F8_E4M3", &d));
}

namespace {
struct Spec {
  const char *name;
  int dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

std::string bytes_of(const void *p, size_t n) { return std::string((const char *)p, n); }
}  // namespace

TEST_CASE("round trip of every dtype with metadata", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("all.safetensors");
  const float f32[6] = {1.5f, -2.25f, 3.0e-8f, 65504.0f, -0.0f, 1e30f};
  const uint16_t f16[5] = {0x3c00, 0xc100, 0x7bff, 0x0001, 0x7c00};
  const uint16_t bf16[4] = {0x3f80, 0xc020, 0x0001, 0x4049};
  const double f64[3] = {3.141592653589793, -1e-300, 1e300};
  const int64_t i64[2] = {INT64_MIN, 0x0123456789abcdefLL};
  const int32_t i32[4] = {-1, 2, INT32_MAX, INT32_MIN};
  const uint8_t u8[3] = {0, 200, 255}, boolv[2] = {1, 0};
  const int8_t i8[3] = {-128, 0, 127};
  const int16_t i16[3] = {-32768, 7, 32767};
  const uint16_t u16[1] = {65535};
  const uint32_t u32[2] = {4000000000u, 1};
  const uint64_t u64[1] = {UINT64_MAX};
  const float scalar = 42.0f;
  const std::vector<Spec> specs = {
      {"w.f32", LEAP_F32, {2, 3}, bytes_of(f32, sizeof f32)},
      {"w.f16", LEAP_F16, {5}, bytes_of(f16, sizeof f16)},
      {"w.bf16", LEAP_BF16, {2, 2}, bytes_of(bf16, sizeof bf16)},
      {"w.f64", LEAP_F64, {3, 1}, bytes_of(f64, sizeof f64)},
      {"w.i64", LEAP_I64, {2}, bytes_of(i64, sizeof i64)},
      {"w.i32", LEAP_I32, {1, 4}, bytes_of(i32, sizeof i32)},
      {"x.u8", LP_DTYPE_U8, {3}, bytes_of(u8, sizeof u8)},
      {"x.bool", LP_DTYPE_BOOL, {2}, bytes_of(boolv, sizeof boolv)},
      {"x.i8", LP_DTYPE_I8, {3}, bytes_of(i8, sizeof i8)},
      {"x.i16", LP_DTYPE_I16, {3}, bytes_of(i16, sizeof i16)},
      {"x.u16", LP_DTYPE_U16, {1}, bytes_of(u16, sizeof u16)},
      {"x.u32", LP_DTYPE_U32, {2}, bytes_of(u32, sizeof u32)},
      {"x.u64", LP_DTYPE_U64, {1}, bytes_of(u64, sizeof u64)},
      {"scalar", LEAP_F32, {}, bytes_of(&scalar, 4)},
      {"empty", LEAP_F32, {0, 3}, std::string()},
      {"odd \"name\"\\ \xc3\xa9", LEAP_F16, {1, 1, 1, 1, 1, 1}, bytes_of(f16, 2)},
  };
  const std::vector<std::pair<std::string, std::string>> meta = {
      {"arch", "DiT"},
      {"note", "quote \" backslash \\ slash / newline \n tab \t ctl \x01 euro \xe2\x82\xac \xf0\x9f\x98\x80"},
      {"input.y", "[1, 2]"},
      {"empty", ""},
  };

  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
  for (const auto &m : meta) REQUIRE(lp_st_writer_meta(w, m.first.c_str(), m.second.c_str()) == LEAP_OK);
  {
    // The writer copies: scribble over the source after adding.
    std::string tmp = specs[0].bytes;
    REQUIRE(lp_st_writer_add(w, specs[0].name, (leap_dtype)specs[0].dtype, 2, specs[0].shape.data(), &tmp[0]) == LEAP_OK);
    std::fill(tmp.begin(), tmp.end(), 'x');
  }
  for (size_t i = 1; i < specs.size(); i++) {
    const Spec &s = specs[i];
    INFO(s.name);
    REQUIRE(lp_st_writer_add(w, s.name, (leap_dtype)s.dtype, (int)s.shape.size(), s.shape.data(),
                             s.bytes.data()) == LEAP_OK);
  }
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
  CHECK(dir.list() == std::vector<std::string>{"all.safetensors"});  // no temporary left

  // The header is space-padded to a multiple of 8.
  const std::string raw = slurp(path);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (unsigned char)raw[i];
  CHECK(hlen % 8 == 0);
  CHECK(raw[0] != 0);

  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(path.c_str(), &f) == LEAP_OK);
  CHECK(std::string(lp_st_path(f)) == path);
  REQUIRE(lp_st_count(f) == (int)specs.size());
  for (const Spec &s : specs) {
    INFO(s.name);
    const lp_st_tensor *t = lp_st_find(f, s.name);
    REQUIRE(t != nullptr);
    CHECK(std::string(t->name) == s.name);
    CHECK(dtype_code(t) == s.dtype);
    REQUIRE(t->ndim == (int)s.shape.size());
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
      CHECK(t->shape[d] == s.shape[d]);
      numel *= s.shape[d];
    }
    CHECK(t->numel == numel);
    REQUIRE(t->bytes == s.bytes.size());
    CHECK(bytes_of(t->data, t->bytes) == s.bytes);
    // Every tensor is aligned to its element size within the data buffer.
    const char *base = (const char *)lp_st_at(f, 0)->data;
    CHECK(((const char *)t->data - base) % lp_dtype_size((leap_dtype)s.dtype) == 0);
  }
  // lp_st_at walks the tensors in offset order.
  for (int i = 1; i < lp_st_count(f); i++)
    CHECK((const char *)lp_st_at(f, i)->data >= (const char *)lp_st_at(f, i - 1)->data);
  CHECK(lp_st_at(f, -1) == nullptr);
  CHECK(lp_st_at(f, lp_st_count(f)) == nullptr);
  CHECK(lp_st_find(f, "nope") == nullptr);

  REQUIRE(lp_st_meta_count(f) == (int)meta.size());
  for (size_t i = 0; i < meta.size(); i++) {
    CHECK(std::string(lp_st_meta_key(f, (int)i)) == meta[i].first);
    REQUIRE(lp_st_meta(f, meta[i].first.c_str()) != nullptr);
    CHECK(std::string(lp_st_meta(f, meta[i].first.c_str())) == meta[i].second);
  }
  CHECK(lp_st_meta(f, "absent") == nullptr);

  // Values convert: F16/BF16 through the bit-level converters, F64 exactly.
  std::vector<float> v32(8);
  std::vector<double> v64(8);
  REQUIRE(lp_st_read_f32(f, lp_st_find(f, "w.f32"), v32.data()) == LEAP_OK);
  for (int i = 0; i < 6; i++) CHECK(bits_of_f32(v32[i]) == bits_of_f32(f32[i]));
  REQUIRE(lp_st_read_f64(f, lp_st_find(f, "w.f32"), v64.data()) == LEAP_OK);
  for (int i = 0; i < 6; i++) CHECK(v64[i] == (double)f32[i]);
  REQUIRE(lp_st_read_f32(f, lp_st_find(f, "w.f16"), v32.data()) == LEAP_OK);
  CHECK(v32[0] == 1.0f);
  CHECK(v32[1] == -2.5f);
  CHECK(v32[2] == 65504.0f);
  CHECK(v32[3] == std::ldexp(1.0f, -24));
  CHECK(v32[4] == std::numeric_limits<float>::infinity());
  REQUIRE(lp_st_read_f64(f, lp_st_find(f, "w.bf16"), v64.data()) == LEAP_OK);
  CHECK(v64[0] == 1.0);
  CHECK(v64[1] == -2.5);
  CHECK(v64[3] == (double)f32_of_bits(0x40490000u));
  REQUIRE(lp_st_read_f64(f, lp_st_find(f, "w.f64"), v64.data()) == LEAP_OK);
  for (int i = 0; i < 3; i++) CHECK(v64[i] == f64[i]);
  REQUIRE(lp_st_read_f32(f, lp_st_find(f, "w.f64"), v32.data()) == LEAP_OK);
  CHECK(v32[0] == (float)f64[0]);
  CHECK(v32[1] == -0.0f);
  CHECK(v32[2] == std::numeric_limits<float>::infinity());
  REQUIRE(lp_st_read_f32(f, lp_st_find(f, "scalar"), v32.data()) == LEAP_OK);
  CHECK(v32[0] == 42.0f);
  CHECK(lp_st_read_f32(f, lp_st_find(f, "empty"), v32.data()) == LEAP_OK);

  // Non-float dtypes are refused by name.
  CHECK(lp_st_read_f32(f, lp_st_find(f, "w.i64"), v32.data()) == LEAP_ERR_UNSUPPORTED);
  CHECK(std::string(leap_last_error()).find("'w.i64' has dtype I64") != std::string::npos);
  CHECK(std::string(leap_last_error()).find(path) != std::string::npos);
  CHECK(lp_st_read_f64(f, lp_st_find(f, "x.u8"), v64.data()) == LEAP_ERR_UNSUPPORTED);
  CHECK(std::string(leap_last_error()).find("U8") != std::string::npos);
  lp_st_close(f);
}

TEST_CASE("the header parser decodes escapes, nesting and numbers", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("escapes.safetensors");
  const std::string header =
      " \n\t{ \"__metadata__\" : {\"k\\u00e9y\": \"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t "
      "\\ud83d\\ude00 \\u20AC \xc3\xa9\"},\r\n"
      " \"w\\u00e9ight\" : { \"extra\": {\"a\": [1, -2.5e3, 0.5E-2, true, false, null, "
      "{\"b\": [[]], \"c\": {}}]}, \"dtype\" : \"F32\" , \"shape\" : [ 2 ] , "
      "\"data_offsets\" : [ 0 , 8 ] } ,"
      "\"second\":{\"dtype\":\"I8\",\"shape\":[],\"data_offsets\":[8,9]},"
      "\"odd32\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9,13]},"
      "\"odd16\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[13,15]}} ";
  spit(path, raw_file(header, 15));
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(path.c_str(), &f) == LEAP_OK);
  REQUIRE(lp_st_count(f) == 4);
  // Misaligned data converts (UBSan would flag a direct misaligned load).
  float v = 0;
  double dv = 0;
  REQUIRE(lp_st_read_f32(f, lp_st_find(f, "odd32"), &v) == LEAP_OK);
  CHECK(bits_of_f32(v) == 0x0c0b0a09u);
  REQUIRE(lp_st_read_f64(f, lp_st_find(f, "odd32"), &dv) == LEAP_OK);
  CHECK(dv == (double)f32_of_bits(0x0c0b0a09u));
  REQUIRE(lp_st_read_f32(f, lp_st_find(f, "odd16"), &v) == LEAP_OK);
  CHECK(v == lp_f16_to_f32(0x0e0d));
  const lp_st_tensor *t = lp_st_find(f, "w\xc3\xa9ight");
  REQUIRE(t != nullptr);
  CHECK(t->ndim == 1);
  CHECK(t->shape[0] == 2);
  CHECK(t->bytes == 8);
  CHECK(lp_st_at(f, 0) == t);
  const lp_st_tensor *s = lp_st_find(f, "second");
  REQUIRE(s != nullptr);
  CHECK(s->ndim == 0);
  CHECK(s->numel == 1);
  CHECK(*(const unsigned char *)s->data == 8);
  REQUIRE(lp_st_meta(f, "k\xc3\xa9y") != nullptr);
  CHECK(std::string(lp_st_meta(f, "k\xc3\xa9y")) ==
        "q\" b\\ s/ \b\f\n\r\t \xf0\x9f\x98\x80 \xe2\x82\xac \xc3\xa9");
  lp_st_close(f);
}

TEST_CASE("bad header JSON is refused with the file name", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  const std::string good_entry = "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
  struct Case {
    const char *label;
    std::string header;
    const char *what;
  };
  const std::vector<Case> cases = {
      {"garbage", "hello", "not valid JSON"},
      {"empty header", "", "not valid JSON"},
      {"unterminated object", "{" + good_entry, "not valid JSON"},
      {"unterminated string", "{\"t", "unterminated string"},
      {"trailing comma", "{" + good_entry + ",}", "not valid JSON"},
      {"bad escape", "{\"a\\x\":1}", "bad escape"},
      {"lone high surrogate", "{\"\\ud83d\":1}", "surrogate"},
      {"lone low surrogate", "{\"\\ude00\":1}", "surrogate"},
      {"raw control char", "{\"a\nb\":1}", "control character"},
      {"leading zero", "{\"a\":01}", "leading zero"},
      {"trailing garbage", "{" + good_entry + "} x", "trailing"},
      {"deep nesting", "{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}", "nesting"},
      {"not an object", "[1, 2]", "not an object"},
      {"metadata not strings", "{\"__metadata__\":{\"a\":1}," + good_entry + "}", "not a string"},
      {"entry not an object", "{\"t\":[1]}", "'t'"},
      {"duplicate tensor", "{" + good_entry + "," + good_entry + "}", "appears twice"},
  };
  for (const Case &c : cases) {
    SECTION(c.label) {
      spit(path, raw_file(c.header, 4));
      expect_open_fails(path, LEAP_ERR_FORMAT, c.what);
    }
  }
}

TEST_CASE("corrupt files are refused with the file and tensor named", "[safetensors]") {
  TempDir dir;
  const std::string good = dir.file("good.safetensors");
  const std::string bad = dir.file("bad.safetensors");
  {
    lp_st_writer *w = nullptr;
    REQUIRE(lp_st_writer_create(good.c_str(), &w) == LEAP_OK);
    const float a[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const int64_t shape[2] = {3, 4};
    REQUIRE(lp_st_writer_add(w, "alpha", LEAP_F32, 2, shape, a) == LEAP_OK);
    REQUIRE(lp_st_writer_add(w, "beta", LEAP_F32, 1, shape, a) == LEAP_OK);
    REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
  }
  const std::string raw = slurp(good);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (unsigned char)raw[i];
  REQUIRE(raw.size() == 8 + hlen + 60);

  // Entries with one flaw each; "t" is the tensor at fault.
  auto with_t = [](const std::string &entry) {
    return "{\"ok\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"t\":" + entry + "}";
  };
  struct Case {
    const char *label;
    std::string bytes;
    leap_status status;
    const char *what;
  };
  const std::vector<Case> cases = {
      {"shorter than 8 bytes", raw.substr(0, 5), LEAP_ERR_FORMAT, "too short"},
      {"empty file", std::string(), LEAP_ERR_FORMAT, "too short"},
      {"truncated in the header", raw.substr(0, 8 + hlen / 2), LEAP_ERR_FORMAT, "past the end"},
      {"header length past the end", le64(raw.size()) + raw.substr(8), LEAP_ERR_FORMAT, "past the end"},
      {"absurd header length", le64(200000000ull) + raw.substr(8), LEAP_ERR_FORMAT, "absurd"},
      {"huge header length", le64(UINT64_MAX) + raw.substr(8), LEAP_ERR_FORMAT, "absurd"},
      {"truncated data", raw.substr(0, raw.size() - 4), LEAP_ERR_FORMAT, "'beta': data ends at 60"},
      {"missing dtype", raw_file(with_t("{\"shape\":[1],\"data_offsets\":[8,12]}"), 12),
       LEAP_ERR_FORMAT, "'t' has no \"dtype\""},
      {"missing shape", raw_file(with_t("{\"dtype\":\"F32\",\"data_offsets\":[8,12]}"), 12),
       LEAP_ERR_FORMAT, "'t' has no \"shape\""},
      {"missing data_offsets", raw_file(with_t("{\"dtype\":\"F32\",\"shape\":[1]}"), 12),
       LEAP_ERR_FORMAT, "'t' has no \"data_offsets\""},
      {"unknown dtype", raw_file(with_t("{\"dtype\":\"F8_E9\",\"shape\":[1],\"data_offsets\":[8,9]}"), 9),
       LEAP_ERR_FORMAT, "'t' has unknown dtype 'F8_E9'"},
      {"negative dim", raw_file(with_t("{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[8,12]}"), 12),
       LEAP_ERR_FORMAT, "'t': shape dimension 0"},
      {"fractional dim", raw_file(with_t("{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[8,12]}"), 12),
       LEAP_ERR_FORMAT, "'t': shape dimension 0"},
      {"string dim", raw_file(with_t("{\"dtype\":\"F32\",\"shape\":[1,\"2\"],\"data_offsets\":[8,16]}"), 16),
       LEAP_ERR_FORMAT, "'t': shape dimension 1"},
      {"too many dims", raw_file(with_t("{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1],\"data_offsets\":[8,12]}"), 12),
       LEAP_ERR_UNSUPPORTED, "'t' has 7 dimensions"},
      {"begin > end", raw_file(with_t("{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[12,8]}"), 12),
       LEAP_ERR_FORMAT, "'t': data_offsets begin 12 > end 8"},
      {"negative offset", raw_file(with_t("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}"), 12),
       LEAP_ERR_FORMAT, "'t': data_offsets"},
      {"three offsets", raw_file(with_t("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12,16]}"), 16),
       LEAP_ERR_FORMAT, "'t': data_offsets"},
      {"end past the buffer", raw_file(with_t("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}"), 12),
       LEAP_ERR_FORMAT, "'t': data ends at 16, past the 12-byte data buffer"},
      {"size != numel * dtype size", raw_file(with_t("{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,20]}"), 20),
       LEAP_ERR_FORMAT, "'t': 12 bytes of data, but 4 elements of F32 need 16"},
      {"overlapping ranges", raw_file(with_t("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}"), 12),
       LEAP_ERR_FORMAT, "overlap"},
      {"numel overflow",
       raw_file(with_t("{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[8,12]}"), 12),
       LEAP_ERR_FORMAT, "'t': element count overflows"},
      {"byte size overflow",
       raw_file(with_t("{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[8,12]}"), 12),
       LEAP_ERR_FORMAT, "'t': byte size overflows"},
      {"offset beyond int64",
       raw_file(with_t("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,18446744073709551620]}"), 12),
       LEAP_ERR_FORMAT, "'t': data_offsets"},
  };
  for (const Case &c : cases) {
    SECTION(c.label) {
      spit(bad, c.bytes);
      expect_open_fails(bad, c.status, c.what);
    }
  }
  SECTION("the good file itself opens") {
    lp_st_file *f = nullptr;
    REQUIRE(lp_st_open(good.c_str(), &f) == LEAP_OK);
    CHECK(lp_st_count(f) == 2);
    lp_st_close(f);
  }
  SECTION("a missing file names the file and the reason") {
    const std::string missing = dir.file("missing.safetensors");
    lp_st_file *f = nullptr;
    CHECK(lp_st_open(missing.c_str(), &f) == LEAP_ERR_IO);
    CHECK(f == nullptr);
    CHECK(std::string(leap_last_error()) ==
          "cannot open " + missing + ": " + std::strerror(ENOENT));
  }
  SECTION("a folder is not a safetensors file") {
    expect_open_fails(dir.path, LEAP_ERR_IO, "not a regular file");
  }
}

TEST_CASE("lp_st_get checks presence and shape", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("get.safetensors");
  const double v[6] = {1, 2, 3, 4, 5, 6};
  const int64_t shape[2] = {2, 3};
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
  REQUIRE(lp_st_writer_add(w, "m", LEAP_F64, 2, shape, v) == LEAP_OK);
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(path.c_str(), &f) == LEAP_OK);
  const lp_st_tensor *t = nullptr;

  CHECK(lp_st_get(f, "m", 2, shape, &t) == LEAP_OK);
  CHECK(t == lp_st_find(f, "m"));
  t = nullptr;
  CHECK(lp_st_get(f, "m", 0, nullptr, &t) == LEAP_OK);  // any shape
  CHECK(t != nullptr);

  CHECK(lp_st_get(f, "gone", 0, nullptr, &t) == LEAP_ERR_FORMAT);
  CHECK(t == nullptr);
  CHECK(std::string(leap_last_error()) == path + ": no tensor 'gone'");

  const int64_t wrong[2] = {3, 2};
  CHECK(lp_st_get(f, "m", 2, wrong, &t) == LEAP_ERR_FORMAT);
  std::string msg = leap_last_error();
  INFO(msg);
  CHECK(msg.find(path) != std::string::npos);
  CHECK(msg.find("'m'") != std::string::npos);
  CHECK(msg.find("[2, 3]") != std::string::npos);
  CHECK(msg.find("[3, 2]") != std::string::npos);
  const int64_t flat[1] = {6};
  CHECK(lp_st_get(f, "m", 1, flat, &t) == LEAP_ERR_FORMAT);
  CHECK(std::string(leap_last_error()).find("[6]") != std::string::npos);
  lp_st_close(f);
}

TEST_CASE("the writer refuses bad tensors and keeps going", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  lp_st_writer *w = nullptr;
  REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
  const float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
  const int64_t s4[1] = {4}, neg[1] = {-1};
  REQUIRE(lp_st_writer_add(w, "a", LEAP_F32, 1, s4, a) == LEAP_OK);
  CHECK(lp_st_writer_add(w, "a", LEAP_F32, 1, s4, b) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("'a' added twice") != std::string::npos);
  CHECK(lp_st_writer_add(w, "n", LEAP_F32, 1, neg, b) == LEAP_ERR_INVALID_ARG);
  CHECK(lp_st_writer_add(w, "d", (leap_dtype)99, 1, s4, b) == LEAP_ERR_INVALID_ARG);
  CHECK(lp_st_writer_add(w, "__metadata__", LEAP_F32, 1, s4, b) == LEAP_ERR_INVALID_ARG);
  CHECK(lp_st_writer_add(w, "bad\xff", LEAP_F32, 1, s4, b) == LEAP_ERR_INVALID_ARG);
  CHECK(lp_st_writer_add(w, "null", LEAP_F32, 1, s4, nullptr) == LEAP_ERR_INVALID_ARG);
  CHECK(lp_st_writer_add(w, "deep", LEAP_F32, LEAP_MAX_DIMS + 1, s4, b) == LEAP_ERR_INVALID_ARG);
  REQUIRE(lp_st_writer_meta(w, "k", "v") == LEAP_OK);
  CHECK(lp_st_writer_meta(w, "k", "v2") == LEAP_ERR_INVALID_ARG);
  CHECK(lp_st_writer_meta(w, "k2", "\xc0\xaf") == LEAP_ERR_INVALID_ARG);  // overlong UTF-8
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);

  lp_st_file *f = nullptr;
  REQUIRE(lp_st_open(path.c_str(), &f) == LEAP_OK);
  REQUIRE(lp_st_count(f) == 1);
  CHECK(bytes_of(lp_st_at(f, 0)->data, 16) == bytes_of(a, 16));
  REQUIRE(lp_st_meta_count(f) == 1);
  CHECK(std::string(lp_st_meta(f, "k")) == "v");
  lp_st_close(f);

  // A second write replaces the file whole (the open mapping above is gone).
  REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
  REQUIRE(lp_st_writer_add(w, "b", LEAP_F32, 1, s4, b) == LEAP_OK);
  REQUIRE(lp_st_writer_finish(w) == LEAP_OK);
  REQUIRE(lp_st_open(path.c_str(), &f) == LEAP_OK);
  CHECK(lp_st_count(f) == 1);
  CHECK(lp_st_find(f, "a") == nullptr);
  CHECK(lp_st_find(f, "b") != nullptr);
  CHECK(lp_st_meta_count(f) == 0);
  lp_st_close(f);
  CHECK(dir.list() == std::vector<std::string>{"w.safetensors"});
}

TEST_CASE("a failed write leaves no file, no temporary, and the old target", "[safetensors]") {
  TempDir dir;
  const float a[4] = {1, 2, 3, 4};
  const int64_t s4[1] = {4};
  lp_st_writer *w = nullptr;

  SECTION("the target folder does not exist") {
    const std::string path = dir.file("nofolder/x.safetensors");
    REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
    REQUIRE(lp_st_writer_add(w, "a", LEAP_F32, 1, s4, a) == LEAP_OK);
    CHECK(lp_st_writer_finish(w) == LEAP_ERR_IO);
    CHECK(std::string(leap_last_error()).find(path) != std::string::npos);
    CHECK(dir.list().empty());
  }
  SECTION("abort writes nothing") {
    const std::string path = dir.file("x.safetensors");
    REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
    REQUIRE(lp_st_writer_add(w, "a", LEAP_F32, 1, s4, a) == LEAP_OK);
    lp_st_writer_abort(w);
    CHECK(dir.list().empty());
  }
  SECTION("the disk fills up mid-write") {
    // RLIMIT_FSIZE makes write() fail with EFBIG after the temporary exists,
    // even for root (a read-only folder would not stop root).
    const std::string path = dir.file("x.safetensors");
    spit(path, "the original contents");
    std::vector<float> big(1 << 18, 1.0f);
    const int64_t n[1] = {(int64_t)big.size()};
    REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
    REQUIRE(lp_st_writer_add(w, "big", LEAP_F32, 1, n, big.data()) == LEAP_OK);
    struct rlimit old;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    struct rlimit lim = old;
    lim.rlim_cur = 65536;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    leap_status st = lp_st_writer_finish(w);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    CHECK(st == LEAP_ERR_IO);
    CHECK(std::string(leap_last_error()).find(path) != std::string::npos);
    CHECK(slurp(path) == "the original contents");
    CHECK(dir.list() == std::vector<std::string>{"x.safetensors"});
  }
  SECTION("the target is a folder (refused before anything is written: core/output.h)") {
    const std::string path = dir.file("x.safetensors");
    REQUIRE(mkdir(path.c_str(), 0755) == 0);
    spit(path + "/keep", "kept");
    REQUIRE(lp_st_writer_create(path.c_str(), &w) == LEAP_OK);
    REQUIRE(lp_st_writer_add(w, "a", LEAP_F32, 1, s4, a) == LEAP_OK);
    CHECK(lp_st_writer_finish(w) == LEAP_ERR_INVALID_ARG);
    CHECK(std::string(leap_last_error()).find("is a folder") != std::string::npos);
    CHECK(dir.list() == std::vector<std::string>{"x.safetensors"});
    CHECK(slurp(path + "/keep") == "kept");
  }
}

namespace {
// Compares every tensor of a reduced-precision twin with the F32 fixture.
void compare_twin(const lp_st_file *ref, const char *twin_name, leap_dtype dtype, double rel) {
  lp_st_file *twin = nullptr;
  const std::string path = std::string(LEAP_TEST_DATA) + "/" + twin_name;
  REQUIRE(lp_st_open(path.c_str(), &twin) == LEAP_OK);
  REQUIRE(lp_st_count(twin) == lp_st_count(ref));
  CHECK(lp_st_meta(twin, "arch") != nullptr);
  int checked = 0;
  for (int i = 0; i < lp_st_count(ref); i++) {
    const lp_st_tensor *r = lp_st_at(ref, i);
    INFO(twin_name << " tensor " << r->name);
    const lp_st_tensor *t = nullptr;
    REQUIRE(lp_st_get(twin, r->name, r->ndim, r->shape, &t) == LEAP_OK);
    CHECK(t->dtype == dtype);
    std::vector<float> want((size_t)r->numel), got((size_t)t->numel);
    REQUIRE(lp_st_read_f32(ref, r, want.data()) == LEAP_OK);
    REQUIRE(lp_st_read_f32(twin, t, got.data()) == LEAP_OK);
    double worst = 0;
    for (size_t k = 0; k < want.size(); k++) {
      // Values below the smallest float16 normal have absolute, not relative,
      // precision: allow that much.
      double tol = rel * std::fabs(want[k]) + (dtype == LEAP_F16 ? 6.2e-5 * rel : 0);
      worst = std::max(worst, std::fabs((double)got[k] - want[k]) / tol);
    }
    CHECK(worst <= 1.0);
    checked++;
  }
  CHECK(checked > 10);
  lp_st_close(twin);
}
}  // namespace

TEST_CASE("the DiT fixtures read, and their F16/BF16 twins match", "[safetensors]") {
  lp_st_file *f = nullptr;
  const std::string path = std::string(LEAP_TEST_DATA) + "/dit_tiny_f32.safetensors";
  REQUIRE(lp_st_open(path.c_str(), &f) == LEAP_OK);
  CHECK(lp_st_count(f) > 10);
  REQUIRE(lp_st_meta(f, "arch") != nullptr);
  REQUIRE(lp_st_meta(f, "hidden_size") != nullptr);
  const int hidden = std::atoi(lp_st_meta(f, "hidden_size"));
  CHECK(hidden > 0);
  const lp_st_tensor *t = nullptr;
  const int64_t bias_shape[1] = {hidden};
  CHECK(lp_st_get(f, "blocks.0.attn.proj.bias", 1, bias_shape, &t) == LEAP_OK);
  for (int i = 0; i < lp_st_count(f); i++) CHECK(lp_st_at(f, i)->dtype == LEAP_F32);
  compare_twin(f, "dit_tiny_f16.safetensors", LEAP_F16, 1e-3);
  compare_twin(f, "dit_tiny_bf16.safetensors", LEAP_BF16, 1e-2);
  lp_st_close(f);

  const std::string io = std::string(LEAP_TEST_DATA) + "/io_f64.safetensors";
  REQUIRE(lp_st_open(io.c_str(), &f) == LEAP_OK);
  REQUIRE(lp_st_meta(f, "input.y") != nullptr);
  CHECK(std::string(lp_st_meta(f, "input.y")).size() > 0);
  REQUIRE(lp_st_find(f, "act.c") != nullptr);
  CHECK(lp_st_find(f, "act.c")->dtype == LEAP_F64);
  std::vector<double> c((size_t)lp_st_find(f, "act.c")->numel);
  CHECK(lp_st_read_f64(f, lp_st_find(f, "act.c"), c.data()) == LEAP_OK);
  bool finite = true;
  for (double x : c) finite = finite && std::isfinite(x);
  CHECK(finite);
  lp_st_close(f);
}
