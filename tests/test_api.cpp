// test_api.cpp - public functions of leap.h no other test calls:
// leap_status_string and leap_tensor_wrap_host.
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "test_util.hpp"

TEST_CASE("leap_status_string names every status, distinctly, and never returns NULL", "[api]") {
  std::set<std::string> names;
  for (int s = LEAP_OK; s <= LEAP_ERR_INTERRUPTED; s++) {
    const char *n = leap_status_string((leap_status)s);
    REQUIRE(n != nullptr);
    INFO("status " << s << ": " << n);
    CHECK(std::strlen(n) > 0);
    names.insert(n);
  }
  CHECK(names.size() == (size_t)LEAP_ERR_INTERRUPTED + 1);
  CHECK(std::string(leap_status_string(LEAP_ERR_NO_DEVICE)).find("device") != std::string::npos);
  const char *unknown = leap_status_string((leap_status)1000);
  REQUIRE(unknown != nullptr);
  CHECK(names.count(unknown) == 0);
}

TEST_CASE("leap_tensor_wrap_host: the tensor is the caller's memory, both ways", "[api]") {
  leap_context *ctx = lt::context(LEAP_BACKEND_CPU);
  const int64_t shape[2] = {3, 5};
  std::vector<float> host = lt::random_f32(15, 31);
  leap_tensor *t = nullptr;
  INFO(leap_last_error());
  REQUIRE(leap_tensor_wrap_host(ctx, LEAP_F32, 2, shape, host.data(), &t) == LEAP_OK);
  // Reads see the caller's values, also after the caller changes them.
  std::vector<float> got(15);
  REQUIRE(leap_tensor_read(t, got.data(), got.size() * 4) == LEAP_OK);
  CHECK(got == host);
  host[7] = 42.0f;
  REQUIRE(leap_tensor_read(t, got.data(), got.size() * 4) == LEAP_OK);
  CHECK(got[7] == 42.0f);
  // Writes land in the caller's memory.
  const std::vector<float> other = lt::random_f32(15, 32);
  REQUIRE(leap_tensor_write(t, other.data(), other.size() * 4) == LEAP_OK);
  CHECK(host == other);
  leap_tensor_destroy(t);
  CHECK(host == other); // destroying the wrapper leaves the memory alone
  // Bad arguments: no memory, and a shape that is not one.
  CHECK(leap_tensor_wrap_host(ctx, LEAP_F32, 2, shape, nullptr, &t) == LEAP_ERR_INVALID_ARG);
  CHECK(std::string(leap_last_error()).find("NULL data") != std::string::npos);
  const int64_t bad[2] = {3, -1};
  CHECK(leap_tensor_wrap_host(ctx, LEAP_F32, 2, bad, host.data(), &t) == LEAP_ERR_INVALID_ARG);
  leap_context_destroy(ctx);
  // Host memory on a Vulkan context is refused with the way out.
  leap_context *vk = lt::context(LEAP_BACKEND_VULKAN);
  if (!vk) return;
  CHECK(leap_tensor_wrap_host(vk, LEAP_F32, 2, shape, host.data(), &t) == LEAP_ERR_UNSUPPORTED);
  CHECK(std::string(leap_last_error()).find("leap_tensor_create") != std::string::npos);
  lt::finish(vk);
}
