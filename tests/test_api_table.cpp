// test_api_table.cpp - leap_get_api (api/api_table.c), the entry point a host
// finds with dlsym, and the threading promise of leap.h ("Threads").
#include <cstring>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "test_util.hpp"

namespace {

typedef void (*any_fn)(void);

// The table's pointers, in order (everything after struct_size and version).
std::vector<any_fn> pointers(const leap_api &api) {
  const size_t first = offsetof(leap_api, api_version);
  std::vector<any_fn> v((sizeof(leap_api) - first) / sizeof(any_fn));
  std::memcpy(v.data(), reinterpret_cast<const char *>(&api) + first, v.size() * sizeof(any_fn));
  return v;
}

leap_api full_table() {
  leap_api api;
  std::memset(&api, 0, sizeof api);
  api.struct_size = sizeof api;
  const leap_status s = leap_get_api(LEAP_API_VERSION_MAJOR, &api);
  INFO(leap_last_error());
  REQUIRE(s == LEAP_OK);
  return api;
}

}  // namespace

TEST_CASE("leap_get_api: one pointer per call leap.h declares, each the exported function", "[api]") {
  const leap_api api = full_table();
  CHECK(api.struct_size == sizeof(leap_api));
  CHECK(api.version == LEAP_API_VERSION);
  const std::vector<any_fn> p = pointers(api);
  for (size_t k = 0; k < p.size(); k++) {
    INFO("pointer " << k);
    CHECK(p[k] != nullptr);
  }
  // Every LEAP_API declaration of the header but the entry point itself has
  // a pointer: a call added to leap.h and not to the table fails here.
  const std::string header = lt::slurp(LEAP_HEADER_PATH);
  REQUIRE(!header.empty());
  const std::regex decl("\\nLEAP_API [^(]*\\b(leap_[a-z0-9_]+)\\s*\\(");
  std::vector<std::string> calls;
  for (std::sregex_iterator it(header.begin(), header.end(), decl), end; it != end; ++it)
    if ((*it)[1] != "leap_get_api") calls.push_back((*it)[1]);
  CHECK(calls.size() == p.size());
  // A few by name: the table holds the library's own functions.
  CHECK(api.sample == &leap_sample);
  CHECK(api.last_error == &leap_last_error);
  CHECK(api.video_sample == &leap_video_sample);
  CHECK(api.model_forward_frames == &leap_model_forward_frames);
  CHECK(api.kv_policy_stored == &leap_kv_policy_stored);
}

TEST_CASE("leap_get_api: another major version is refused and only the version is written", "[api]") {
  for (uint32_t major : {uint32_t(LEAP_API_VERSION_MAJOR + 1), uint32_t(0xffffffffu)}) {
    if (major == LEAP_API_VERSION_MAJOR) continue;
    leap_api api;
    std::memset(&api, 0x5a, sizeof api);
    api.struct_size = sizeof api;
    REQUIRE(leap_get_api(major, &api) == LEAP_ERR_UNSUPPORTED);
    const std::string msg = leap_last_error();
    INFO(msg);
    CHECK(msg.find("major " + std::to_string(major) + " was asked for") != std::string::npos);
    CHECK(msg.find("serves major " + std::to_string(LEAP_API_VERSION_MAJOR)) != std::string::npos);
    CHECK(api.version == LEAP_API_VERSION);
    const unsigned char *b = reinterpret_cast<const unsigned char *>(&api);
    for (size_t k = offsetof(leap_api, api_version); k < sizeof api; k++) REQUIRE(b[k] == 0x5a);
  }
  // Bad tables: NULL, and struct_size never set.
  CHECK(leap_get_api(LEAP_API_VERSION_MAJOR, nullptr) == LEAP_ERR_INVALID_ARG);
  leap_api unset;
  std::memset(&unset, 0, sizeof unset);
  CHECK(leap_get_api(LEAP_API_VERSION_MAJOR, &unset) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("struct_size") != std::string::npos);
  CHECK(unset.sample == nullptr);
}

TEST_CASE("leap_get_api: an older, smaller table gets what it holds and nothing past it", "[api]") {
  const leap_api full = full_table();
  // A host of an older header: its table ends after some call (here: after
  // version only, after last_error, after sample, one pointer short).
  const size_t cuts[] = {offsetof(leap_api, version) + sizeof(uint32_t),
                         offsetof(leap_api, last_error) + sizeof(any_fn),
                         offsetof(leap_api, sample) + sizeof(any_fn), sizeof(leap_api) - sizeof(any_fn)};
  for (size_t cut : cuts) {
    INFO("struct_size " << cut);
    unsigned char buf[sizeof(leap_api) + 16];
    std::memset(buf, 0xc3, sizeof buf);
    const uint32_t size = (uint32_t)cut;
    std::memcpy(buf, &size, sizeof size);
    REQUIRE(leap_get_api(LEAP_API_VERSION_MAJOR, reinterpret_cast<leap_api *>(buf)) == LEAP_OK);
    uint32_t kept;
    std::memcpy(&kept, buf, sizeof kept);
    CHECK(kept == size);  // the caller's struct_size stays
    CHECK(std::memcmp(buf + sizeof size, reinterpret_cast<const char *>(&full) + sizeof size, cut - sizeof size) == 0);
    for (size_t k = cut; k < sizeof buf; k++) REQUIRE(buf[k] == 0xc3);
  }
}

TEST_CASE("threads: two CPU contexts sampling at once give the images of one at a time", "[api][sample]") {
  const std::string model = lt::data("dit_tiny_f32.safetensors");
  const int n = 2;
  const int32_t labels[n] = {1, 4};
  auto run = [&](uint64_t seed, std::vector<float> *out, leap_status *st, std::string *err) {
    leap_context_desc cd = leap_context_desc_default(LEAP_BACKEND_CPU);
    cd.threads = 1;
    leap_context *ctx = nullptr;
    leap_model *m = nullptr;
    *st = leap_context_create(&cd, &ctx);
    if (*st == LEAP_OK) *st = leap_model_load(ctx, model.c_str(), &m);
    leap_model_info info{};
    info.struct_size = sizeof info;
    if (*st == LEAP_OK) *st = leap_model_get_info(m, &info);
    if (*st == LEAP_OK) {
      out->assign((size_t)n * info.in_channels * info.height * info.width, 0.0f);
      leap_sample_desc sd = leap_sample_desc_default();
      sd.n = n, sd.labels = labels, sd.steps = 8, sd.cfg = 2.5, sd.seed = seed;
      for (int rep = 0; rep < 3 && *st == LEAP_OK; rep++) *st = leap_sample(m, &sd, out->data());
    }
    if (*st != LEAP_OK) *err = leap_last_error();  // this thread's message
    leap_model_destroy(m);
    leap_context_destroy(ctx);
  };
  std::vector<float> a1, b1, a2, b2;
  leap_status sa = LEAP_OK, sb = LEAP_OK;
  std::string ea, eb;
  run(3, &a1, &sa, &ea);
  run(4, &b1, &sb, &eb);
  REQUIRE((sa == LEAP_OK && sb == LEAP_OK));
  std::thread ta(run, 3, &a2, &sa, &ea), tb(run, 4, &b2, &sb, &eb);
  ta.join();
  tb.join();
  INFO(ea << " / " << eb);
  REQUIRE((sa == LEAP_OK && sb == LEAP_OK));
  CHECK(a1 == a2);
  CHECK(b1 == b2);
  CHECK(a1 != b1);
}

TEST_CASE("threads: leap_last_error is each thread's own", "[api]") {
  REQUIRE(leap_get_api(LEAP_API_VERSION_MAJOR + 1, nullptr) == LEAP_ERR_INVALID_ARG);
  const std::string mine = leap_last_error();
  std::string theirs;
  std::thread t([&] {
    leap_block_schedule_desc d = leap_block_schedule_desc_default();
    d.frames = 0;
    leap_block_schedule *s = nullptr;
    if (leap_block_schedule_create(&d, &s) != LEAP_OK) theirs = leap_last_error();
  });
  t.join();
  CHECK(theirs.find("block schedule") != std::string::npos);
  CHECK(std::string(leap_last_error()) == mine);
}
