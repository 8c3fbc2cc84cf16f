/* vk_loader.c - resolves every Vulkan entry point leap uses into a function
 * table (so that an adopted device can go through its host's loader), and
 * turns VkResults into leap statuses. */
#include <string.h>

#include "error.h"
#include "vk_internal.h"

#define LOAD_GLOBAL(name)                                                                          \
  f->name = (PFN_##name)f->gipa(VK_NULL_HANDLE, #name);                                            \
  if (!f->name) return lp_error(LEAP_ERR_NO_DEVICE, "Vulkan loader lacks %s", #name);

leap_status lp_vk_load_global(lp_vk_fns *f, PFN_vkGetInstanceProcAddr gipa) {
  memset(f, 0, sizeof *f);
  f->gipa = gipa ? gipa : vkGetInstanceProcAddr;
  LP_VK_GLOBAL_FNS(LOAD_GLOBAL)
  return LEAP_OK;
}

#define LOAD_INSTANCE(name)                                                                        \
  f->name = (PFN_##name)f->gipa(instance, #name);                                                  \
  if (!f->name) return lp_error(LEAP_ERR_VULKAN, "Vulkan instance lacks %s", #name);

leap_status lp_vk_load_instance(lp_vk_fns *f, VkInstance instance) {
  LP_VK_INSTANCE_FNS(LOAD_INSTANCE)
  /* Optional: present only when VK_EXT_debug_utils was enabled. */
  f->vkCreateDebugUtilsMessengerEXT =
      (PFN_vkCreateDebugUtilsMessengerEXT)f->gipa(instance, "vkCreateDebugUtilsMessengerEXT");
  f->vkDestroyDebugUtilsMessengerEXT =
      (PFN_vkDestroyDebugUtilsMessengerEXT)f->gipa(instance, "vkDestroyDebugUtilsMessengerEXT");
  return LEAP_OK;
}

#define LOAD_DEVICE(name)                                                                          \
  f->name = (PFN_##name)f->vkGetDeviceProcAddr(device, #name);                                     \
  if (!f->name) return lp_error(LEAP_ERR_VULKAN, "Vulkan device lacks %s", #name);

leap_status lp_vk_load_device(lp_vk_fns *f, VkDevice device) {
  LP_VK_DEVICE_FNS(LOAD_DEVICE)
  return LEAP_OK;
}

const char *lp_vk_result_name(VkResult r) {
  switch (r) {
#define R(x)                                                                                       \
  case x: return #x;
    R(VK_SUCCESS)
    R(VK_NOT_READY)
    R(VK_TIMEOUT)
    R(VK_INCOMPLETE)
    R(VK_ERROR_OUT_OF_HOST_MEMORY)
    R(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    R(VK_ERROR_INITIALIZATION_FAILED)
    R(VK_ERROR_DEVICE_LOST)
    R(VK_ERROR_MEMORY_MAP_FAILED)
    R(VK_ERROR_LAYER_NOT_PRESENT)
    R(VK_ERROR_EXTENSION_NOT_PRESENT)
    R(VK_ERROR_FEATURE_NOT_PRESENT)
    R(VK_ERROR_INCOMPATIBLE_DRIVER)
    R(VK_ERROR_TOO_MANY_OBJECTS)
    R(VK_ERROR_FORMAT_NOT_SUPPORTED)
    R(VK_ERROR_FRAGMENTED_POOL)
    R(VK_ERROR_OUT_OF_POOL_MEMORY)
    R(VK_ERROR_INVALID_SHADER_NV)
#undef R
  default: return "VK_ERROR_UNKNOWN";
  }
}

leap_status lp_vk_fail(VkResult r, const char *what) {
  leap_status s = LEAP_ERR_VULKAN;
  if (r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY) s = LEAP_ERR_NOMEM;
  return lp_error(s, "vulkan: %s failed: %s (%d)", what, lp_vk_result_name(r), (int)r);
}
