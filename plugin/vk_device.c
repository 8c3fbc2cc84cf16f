/* vk_device.c - leap_vulkan_device_count / leap_vulkan_device_info: what the
 * `leap devices` command and hosts see of the Vulkan devices. Each call
 * opens a short-lived instance (no validation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "struct_size.h"
#include "alloc.h"
#include "vk_internal.h"

static leap_status open_devices(lp_vk_fns *f, lp_vk_instance *inst, VkPhysicalDevice **pd, int *n) {
  leap_status s = lp_vk_load_global(f, NULL);
  if (s == LEAP_OK) s = lp_vk_instance_create(f, 0, NULL, inst);
  if (s != LEAP_OK) return s;
  s = lp_vk_physical_devices(f, inst->instance, pd, n);
  if (s != LEAP_OK) lp_vk_instance_destroy(f, inst);
  return s;
}

leap_status leap_vulkan_device_count(int *count) {
  if (!count) return lp_error(LEAP_ERR_INVALID_ARG, "leap_vulkan_device_count: NULL count");
  *count = 0;
  lp_vk_fns f;
  lp_vk_instance inst;
  VkPhysicalDevice *pd;
  int n;
  leap_status s = open_devices(&f, &inst, &pd, &n);
  if (s != LEAP_OK) return s;
  free(pd);
  lp_vk_instance_destroy(&f, &inst);
  *count = n;
  return LEAP_OK;
}

static int has_device_ext(lp_vk_fns *f, VkPhysicalDevice pd, const char *name) {
  uint32_t n = 0;
  if (f->vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS || !n) return 0;
  VkExtensionProperties *e = lp_calloc(n, sizeof *e);
  int found = 0;
  if (e && f->vkEnumerateDeviceExtensionProperties(pd, NULL, &n, e) == VK_SUCCESS)
    for (uint32_t k = 0; k < n && !found; k++) found = !strcmp(e[k].extensionName, name);
  free(e);
  return found;
}

static leap_device_type device_type(VkPhysicalDeviceType t) {
  switch (t) {
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return LEAP_DEVICE_INTEGRATED_GPU;
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return LEAP_DEVICE_DISCRETE_GPU;
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return LEAP_DEVICE_VIRTUAL_GPU;
  case VK_PHYSICAL_DEVICE_TYPE_CPU: return LEAP_DEVICE_CPU;
  default: return LEAP_DEVICE_OTHER;
  }
}

static void fill_info(lp_vk_fns *f, VkPhysicalDevice pd, leap_device_info *o) {
  VkPhysicalDeviceProperties p;
  f->vkGetPhysicalDeviceProperties(pd, &p);
  const int v12 = p.apiVersion >= VK_API_VERSION_1_2;

  /* Properties2 / Features2 chains; the 1.2 structs only where the device
   * has 1.2 (older devices may not know them). */
  VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
                                            .pNext = v12 ? &drv : NULL};
  VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sub};
  f->vkGetPhysicalDeviceProperties2(pd, &p2);

  VkPhysicalDeviceShaderFloat16Int8Features f16 = {
      .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDevice16BitStorageFeatures s16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
                                              .pNext = v12 ? &f16 : NULL};
  VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &s16};
  f->vkGetPhysicalDeviceFeatures2(pd, &f2);

  VkPhysicalDeviceMemoryProperties mem;
  f->vkGetPhysicalDeviceMemoryProperties(pd, &mem);

  memset(o, 0, sizeof *o);
  snprintf(o->name, sizeof o->name, "%s", p.deviceName);
  o->type = device_type(p.deviceType);
  o->vendor_id = p.vendorID;
  o->device_id = p.deviceID;
  o->api_version = p.apiVersion;
  if (v12)
    snprintf(o->driver, sizeof o->driver, "%.127s %.127s", drv.driverName, drv.driverInfo);
  else
    snprintf(o->driver, sizeof o->driver, "driver version 0x%08x", p.driverVersion);
  for (uint32_t h = 0; h < mem.memoryHeapCount; h++)
    if ((mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
        mem.memoryHeaps[h].size > o->device_local_bytes)
      o->device_local_bytes = mem.memoryHeaps[h].size;
  o->subgroup_size = sub.subgroupSize;
  o->max_shared_bytes = p.limits.maxComputeSharedMemorySize;
  o->has_fp16 = v12 && f16.shaderFloat16;
  o->has_storage16 = s16.storageBuffer16BitAccess != 0;
  o->has_coopmat_nv = has_device_ext(f, pd, "VK_NV_cooperative_matrix");
  o->has_coopmat_khr = has_device_ext(f, pd, "VK_KHR_cooperative_matrix");
  const int family = lp_vk_compute_family(f, pd);
  if (family >= 0) {
    uint32_t n = 0;
    f->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties *q = lp_calloc(n, sizeof *q);
    if (q) {
      f->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
      o->has_timestamps = (uint32_t)family < n && q[family].timestampValidBits > 0 &&
                          p.limits.timestampPeriod > 0;
      free(q);
    }
  }
}

leap_status leap_vulkan_device_info(int index, leap_device_info *out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_vulkan_device_info: NULL out");
  if (lp_struct_check(out, "leap_vulkan_device_info") != LEAP_OK) return LEAP_ERR_INVALID_ARG;
  lp_vk_fns f;
  lp_vk_instance inst;
  VkPhysicalDevice *pd;
  int n;
  leap_status s = open_devices(&f, &inst, &pd, &n);
  if (s != LEAP_OK) return s;
  if (index < 0 || index >= n)
    s = lp_error(LEAP_ERR_INVALID_ARG, "leap_vulkan_device_info: index %d out of range (%d devices)",
                 index, n);
  else {
    leap_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    fill_info(&f, pd[index], &info);
    s = lp_struct_out(out, &info, sizeof info, "leap_vulkan_device_info");
  }
  free(pd);
  lp_vk_instance_destroy(&f, &inst);
  return s;
}
