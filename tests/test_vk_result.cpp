// test_vk_result.cpp - how a failed Vulkan call reaches the user
// (plugin/vk_loader.c): lp_vk_fail names the call and the VkResult by its
// spec name and number, and maps both out-of-memory results to
// LEAP_ERR_NOMEM (the CLI's exit code 4) and every other failure to
// LEAP_ERR_VULKAN. Needs no device: the names come from a table.
#include <string>
#include <vector>

#include "test_util.hpp"

extern "C" {
#include "vk_internal.h"
}

TEST_CASE("vulkan results: each failure is named as the spec names it, out-of-memory is LEAP_ERR_NOMEM",
          "[vulkan]") {
  struct Case {
    VkResult r;
    const char *name;
  };
  const std::vector<Case> cases = {
      {VK_SUCCESS, "VK_SUCCESS"},
      {VK_NOT_READY, "VK_NOT_READY"},
      {VK_TIMEOUT, "VK_TIMEOUT"},
      {VK_INCOMPLETE, "VK_INCOMPLETE"},
      {VK_ERROR_OUT_OF_HOST_MEMORY, "VK_ERROR_OUT_OF_HOST_MEMORY"},
      {VK_ERROR_OUT_OF_DEVICE_MEMORY, "VK_ERROR_OUT_OF_DEVICE_MEMORY"},
      {VK_ERROR_INITIALIZATION_FAILED, "VK_ERROR_INITIALIZATION_FAILED"},
      {VK_ERROR_DEVICE_LOST, "VK_ERROR_DEVICE_LOST"},
      {VK_ERROR_MEMORY_MAP_FAILED, "VK_ERROR_MEMORY_MAP_FAILED"},
      {VK_ERROR_LAYER_NOT_PRESENT, "VK_ERROR_LAYER_NOT_PRESENT"},
      {VK_ERROR_EXTENSION_NOT_PRESENT, "VK_ERROR_EXTENSION_NOT_PRESENT"},
      {VK_ERROR_FEATURE_NOT_PRESENT, "VK_ERROR_FEATURE_NOT_PRESENT"},
      {VK_ERROR_INCOMPATIBLE_DRIVER, "VK_ERROR_INCOMPATIBLE_DRIVER"},
      {VK_ERROR_TOO_MANY_OBJECTS, "VK_ERROR_TOO_MANY_OBJECTS"},
      {VK_ERROR_FORMAT_NOT_SUPPORTED, "VK_ERROR_FORMAT_NOT_SUPPORTED"},
      {VK_ERROR_FRAGMENTED_POOL, "VK_ERROR_FRAGMENTED_POOL"},
      {VK_ERROR_OUT_OF_POOL_MEMORY, "VK_ERROR_OUT_OF_POOL_MEMORY"},
      {VK_ERROR_INVALID_SHADER_NV, "VK_ERROR_INVALID_SHADER_NV"},
      {(VkResult)-424242, "VK_ERROR_UNKNOWN"},
  };
  for (const Case &c : cases) {
    INFO(c.name);
    CHECK(std::string(lp_vk_result_name(c.r)) == c.name);
    if (c.r == VK_SUCCESS) continue;
    const leap_status s = lp_vk_fail(c.r, "vkQueueSubmit");
    const bool oom = c.r == VK_ERROR_OUT_OF_HOST_MEMORY || c.r == VK_ERROR_OUT_OF_DEVICE_MEMORY;
    CHECK(s == (oom ? LEAP_ERR_NOMEM : LEAP_ERR_VULKAN));
    CHECK(std::string(leap_last_error()) ==
          std::string("vulkan: vkQueueSubmit failed: ") + c.name + " (" + std::to_string((int)c.r) + ")");
  }
}
