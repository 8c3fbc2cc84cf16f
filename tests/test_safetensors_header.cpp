// test_safetensors_header.cpp - safetensors headers with one thing wrong,
// read from memory (lp_st_open_memory, the fuzz harness's entry) and from a
// file: each a LEAP_ERR_FORMAT whose message names the file, the tensor or
// key, and the fault. test_safetensors.cpp covers the data offsets and
// sizes; these are the header's own fields.
#include <cstdint>
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "safetensors.h"
}

namespace {

// A file image: 8-byte little-endian header length, the header, the data.
std::string image(const std::string &header, const std::string &data = std::string(8, '\0')) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; i++) out[(size_t)i] = (char)(n >> (8 * i) & 0xff);
  return out + header + data;
}

const std::string kTensor = "\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}";

struct Opened {
  leap_status status;
  std::string error;
};

Opened open_mem(const std::string &bytes, const char *name = "h.safetensors") {
  lp_st_file *f = nullptr;
  const leap_status s = lp_st_open_memory(bytes.data(), bytes.size(), name, &f);
  Opened r{s, s == LEAP_OK ? "" : leap_last_error()};
  if (s == LEAP_OK) {
    CHECK(f != nullptr);
    lp_st_close(f);
  } else {
    CHECK(f == nullptr);
  }
  return r;
}

}  // namespace

TEST_CASE("safetensors header: each malformed field is refused naming it", "[safetensors]") {
  // The well-formed base reads, with its metadata.
  {
    const std::string ok = image("{\"__metadata__\": {\"a\": \"1\", \"b\": \"x\"}, " + kTensor + "}");
    lp_st_file *f = nullptr;
    REQUIRE(lp_st_open_memory(ok.data(), ok.size(), "ok", &f) == LEAP_OK);
    CHECK(std::string(lp_st_path(f)) == "ok");
    CHECK(lp_st_meta_count(f) == 2);
    CHECK(std::string(lp_st_meta(f, "b")) == "x");
    REQUIRE(lp_st_count(f) == 1);
    std::vector<float> w(2, 1.0f);
    CHECK(lp_st_read_f32(f, lp_st_at(f, 0), w.data()) == LEAP_OK);
    CHECK((w[0] == 0.0f && w[1] == 0.0f));
    lp_st_close(f);
  }
  struct Case {
    std::string bytes, says;
    leap_status status;
  };
  const std::vector<Case> cases = {
      {std::string(5, '\0'), "h.safetensors: 5 bytes, too short for a safetensors file", LEAP_ERR_FORMAT},
      {image("{\"__metadata__\": [\"a\"], " + kTensor + "}"), "h.safetensors: __metadata__ is a array, not an object",
       LEAP_ERR_FORMAT},
      {image("{\"__metadata__\": {\"a\": 1}, " + kTensor + "}"),
       "h.safetensors: __metadata__ value of 'a' is a number, not a string", LEAP_ERR_FORMAT},
      {image("{\"__metadata__\": {\"a\": \"1\", \"a\": \"2\"}, " + kTensor + "}"),
       "h.safetensors: __metadata__ key 'a' appears twice", LEAP_ERR_FORMAT},
      // Two __metadata__ entries (the fuzzer's leak: the second replaced the
      // first one's copies); the second being well-formed, empty or not.
      {image("{\"__metadata__\": {\"a\": \"1\"}, \"__metadata__\": {\"b\": 2}, " + kTensor + "}"),
       "h.safetensors: __metadata__ appears twice", LEAP_ERR_FORMAT},
      {image("{\"__metadata__\": {}, \"__metadata__\": {\"b\": \"2\"}, " + kTensor + "}"),
       "h.safetensors: __metadata__ appears twice", LEAP_ERR_FORMAT},
      {image("{\"w\": 3}"), "h.safetensors: tensor 'w': entry is a number, not an object", LEAP_ERR_FORMAT},
      {image("{\"w\": {\"shape\": [2], \"data_offsets\": [0, 8]}}"), "tensor 'w' has no \"dtype\"", LEAP_ERR_FORMAT},
      {image("{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 8]}}"), "tensor 'w' has no \"shape\"",
       LEAP_ERR_FORMAT},
      {image("{\"w\": {\"dtype\": \"F32\", \"shape\": [2]}}"), "tensor 'w' has no \"data_offsets\"", LEAP_ERR_FORMAT},
      {image("{\"w\": {\"dtype\": 32, \"shape\": [2], \"data_offsets\": [0, 8]}}"),
       "h.safetensors: tensor 'w': dtype is not a string", LEAP_ERR_FORMAT},
      {image("{\"w\": {\"dtype\": \"F33\", \"shape\": [2], \"data_offsets\": [0, 8]}}"),
       "tensor 'w' has unknown dtype 'F33'", LEAP_ERR_FORMAT},
      {image("{\"w\": {\"dtype\": \"F32\", \"shape\": 2, \"data_offsets\": [0, 8]}}"),
       "h.safetensors: tensor 'w': shape is not an array", LEAP_ERR_FORMAT},
      {image("{\"w\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1], "
             "\"data_offsets\": [0, 4]}}",
             std::string(4, '\0')),
       "tensor 'w' has 33 dimensions, more than the", LEAP_ERR_UNSUPPORTED},
  };
  for (size_t k = 0; k < cases.size(); k++) {
    const Opened r = open_mem(cases[k].bytes);
    INFO("case " << k << ": " << r.error);
    CHECK(r.status == cases[k].status);
    CHECK(r.error.find(cases[k].says) != std::string::npos);
  }
  // No name: messages say "(memory)"; no bytes with a length is a bad call.
  CHECK(open_mem(std::string(3, '\0'), nullptr).error == "(memory): 3 bytes, too short for a safetensors file");
  lp_st_file *f = nullptr;
  CHECK(lp_st_open_memory(nullptr, 16, "x", &f) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == "lp_st_open_memory: data is NULL");
  CHECK(lp_st_open_memory("x", 1, "x", nullptr) == LEAP_ERR_INVALID_ARG);
}

TEST_CASE("safetensors header: a short file on disk and bad lp_st_get calls", "[safetensors]") {
  lt::TempDir dir;
  const std::string path = dir / "short.safetensors";
  lt::write_text(path, "abc");
  lp_st_file *f = nullptr;
  CHECK(lp_st_open(path.c_str(), &f) == LEAP_ERR_FORMAT);
  CHECK(std::string(leap_last_error()) == path + ": 3 bytes, too short for a safetensors file");
  CHECK(f == nullptr);
  CHECK(lt::slurp(path) == "abc");
  const std::string ok = image("{" + kTensor + "}");
  REQUIRE(lp_st_open_memory(ok.data(), ok.size(), "ok", &f) == LEAP_OK);
  const lp_st_tensor *t = nullptr;
  CHECK(lp_st_get(f, nullptr, 0, nullptr, &t) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()) == "lp_st_get: bad argument (tensor '(null)')");
  CHECK(lp_st_get(f, "w", 1, nullptr, &t) == LEAP_ERR_INVALID_ARG); // a shape to check, but none given
  CHECK(std::string(leap_last_error()) == "lp_st_get: bad argument (tensor 'w')");
  CHECK(lp_st_get(f, "w", LEAP_MAX_DIMS + 1, nullptr, &t) == LEAP_ERR_INVALID_ARG);
  const int64_t shape[1] = {3};
  CHECK(lp_st_get(f, "w", 1, shape, &t) == LEAP_ERR_FORMAT);
  CHECK(std::string(leap_last_error()).find("ok") == 0);
  CHECK(lp_st_get(f, "v", 0, nullptr, &t) == LEAP_ERR_FORMAT);
  CHECK(std::string(leap_last_error()) == "ok: no tensor 'v'");
  const int64_t right[1] = {2};
  CHECK(lp_st_get(f, "w", 1, right, &t) == LEAP_OK);
  REQUIRE(t != nullptr);
  CHECK(t->numel == 2);
  lp_st_close(f);
}
