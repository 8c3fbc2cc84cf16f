/* vk_backend.c - creating and destroying the Vulkan backend (own device or
 * a host's adopted one) and its vtable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "leap_shaders.h"
#include "vk_internal.h"

static void vk_destroy(lp_backend *be);

static const lp_backend_vt vk_vt = {
    "vulkan",        lp_vk_buf_alloc,    lp_vk_buf_free, lp_vk_buf_write, lp_vk_buf_read,
    lp_vk_prog_run, lp_vk_prog_release, vk_destroy,
};

vk_backend *lp_vk_cast(const lp_backend *be) {
  return be && be->vt == &vk_vt ? (vk_backend *)be : NULL;
}

/* Whether the CPU-style kernels fit this device (see vk_internal.h). */
static int want_simd_kernels(vk_backend *vb) {
  const char *force = getenv("LEAP_VK_KERNELS");
  if (force && !strcmp(force, "generic")) return 0;
  VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sub};
  vb->vk.vkGetPhysicalDeviceProperties2(vb->phys, &p2);
  const int usable = sub.subgroupSize >= 8 && (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                     (sub.supportedOperations & VK_SUBGROUP_FEATURE_BALLOT_BIT);
  if (!usable) return 0;
  if (force && !strcmp(force, "simd")) return 1;
  return vb->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
}

leap_status lp_vk_backend_init_common(vk_backend *vb) {
  lp_vk_fns *f = &vb->vk;
  f->vkGetPhysicalDeviceProperties(vb->phys, &vb->props);
  f->vkGetPhysicalDeviceMemoryProperties(vb->phys, &vb->mem);
  snprintf(vb->name, sizeof vb->name, "%s", vb->props.deviceName);
  vb->last_gpu_ms = -1;
  vb->profile = lp_vk_profile_wanted();
  vb->simd_kernels = want_simd_kernels(vb);
  const char *cap = getenv("LEAP_VK_MAX_GROUPS");
  vb->group_cap = cap ? (uint32_t)strtoul(cap, NULL, 10) : 0;
  if (vb->props.apiVersion < VK_API_VERSION_1_2)
    return lp_error(LEAP_ERR_UNSUPPORTED, "vulkan: %s has Vulkan %u.%u; leap needs 1.2", vb->name,
                    VK_API_VERSION_MAJOR(vb->props.apiVersion),
                    VK_API_VERSION_MINOR(vb->props.apiVersion));
  leap_status s = lp_vk_choose_memory(vb);
  if (s != LEAP_OK) return s;

  VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                 .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                 .queueFamilyIndex = vb->family};
  VkResult r = f->vkCreateCommandPool(vb->device, &pci, NULL, &vb->cmd_pool);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkCreateCommandPool");
  VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                     .commandPool = vb->cmd_pool,
                                     .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                     .commandBufferCount = 1};
  r = f->vkAllocateCommandBuffers(vb->device, &cai, &vb->xfer_cb);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkAllocateCommandBuffers");
  VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  r = f->vkCreateFence(vb->device, &fci, NULL, &vb->fence);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkCreateFence");

  /* One layout for every kernel: in0, in1, in2, out as storage buffers, and
   * the common push-constant block (see shaders/common.glsl). */
  VkDescriptorSetLayoutBinding bind[4];
  for (uint32_t k = 0; k < 4; k++)
    bind[k] = (VkDescriptorSetLayoutBinding){.binding = k,
                                             .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                             .descriptorCount = 1,
                                             .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
  VkDescriptorSetLayoutCreateInfo lci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                         .bindingCount = 4,
                                         .pBindings = bind};
  r = f->vkCreateDescriptorSetLayout(vb->device, &lci, NULL, &vb->set_layout);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkCreateDescriptorSetLayout");
  VkPushConstantRange range = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
                               .size = sizeof(lp_vk_push)};
  VkPipelineLayoutCreateInfo plci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                     .setLayoutCount = 1,
                                     .pSetLayouts = &vb->set_layout,
                                     .pushConstantRangeCount = 1,
                                     .pPushConstantRanges = &range};
  r = f->vkCreatePipelineLayout(vb->device, &plci, NULL, &vb->pipe_layout);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkCreatePipelineLayout");
  vb->modules = lp_calloc(leap_shader_count > 0 ? (size_t)leap_shader_count : 1, sizeof *vb->modules);
  if (!vb->modules) return lp_error(LEAP_ERR_NOMEM, "vulkan: out of memory");

  /* Timestamps around each program, when the queue family has them. */
  uint32_t nq = 0;
  f->vkGetPhysicalDeviceQueueFamilyProperties(vb->phys, &nq, NULL);
  VkQueueFamilyProperties *q = lp_calloc(nq ? nq : 1, sizeof *q);
  if (!q) return lp_error(LEAP_ERR_NOMEM, "vulkan: out of memory");
  f->vkGetPhysicalDeviceQueueFamilyProperties(vb->phys, &nq, q);
  const uint32_t bits = vb->family < nq ? q[vb->family].timestampValidBits : 0;
  free(q);
  if (bits && vb->props.limits.timestampPeriod > 0) {
    VkQueryPoolCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                 .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                 .queryCount = 2};
    r = f->vkCreateQueryPool(vb->device, &qci, NULL, &vb->timestamps);
    if (r != VK_SUCCESS) return lp_vk_fail(r, "vkCreateQueryPool");
    vb->ts_period_ns = vb->props.limits.timestampPeriod;
    vb->ts_mask = bits >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << bits) - 1);
  }
  return LEAP_OK;
}

static void vk_destroy(lp_backend *be) {
  vk_backend *vb = lp_vk_cast(be);
  if (!vb) return;
  lp_vk_fns *f = &vb->vk;
  lp_vk_profile_print(vb);
  free(vb->prof);
  if (vb->device) {
    f->vkDeviceWaitIdle(vb->device);
    lp_vk_staging_free(vb);
    lp_vk_pipelines_destroy(vb);
    if (vb->pipe_layout) f->vkDestroyPipelineLayout(vb->device, vb->pipe_layout, NULL);
    if (vb->set_layout) f->vkDestroyDescriptorSetLayout(vb->device, vb->set_layout, NULL);
    if (vb->timestamps) f->vkDestroyQueryPool(vb->device, vb->timestamps, NULL);
    if (vb->fence) f->vkDestroyFence(vb->device, vb->fence, NULL);
    if (vb->cmd_pool) f->vkDestroyCommandPool(vb->device, vb->cmd_pool, NULL);
    if (vb->owns_device) f->vkDestroyDevice(vb->device, NULL);
  }
  free(vb->modules);
  if (vb->owns_instance) lp_vk_instance_destroy(f, &vb->inst);
  free(vb);
}

static int env_validation(void) {
  const char *v = getenv("LEAP_VALIDATION");
  return v && !strcmp(v, "1");
}

static leap_status create_device(vk_backend *vb) {
  lp_vk_fns *f = &vb->vk;
  const int family = lp_vk_compute_family(f, vb->phys);
  if (family < 0) return lp_error(LEAP_ERR_NO_DEVICE, "vulkan: the device has no compute queue");
  vb->family = (uint32_t)family;
  const float prio = 1.0f;
  VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                 .queueFamilyIndex = vb->family,
                                 .queueCount = 1,
                                 .pQueuePriorities = &prio};
  VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                            .queueCreateInfoCount = 1,
                            .pQueueCreateInfos = &qci};
  VkResult r = f->vkCreateDevice(vb->phys, &dci, NULL, &vb->device);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkCreateDevice");
  vb->owns_device = 1;
  leap_status s = lp_vk_load_device(f, vb->device);
  if (s != LEAP_OK) return s;
  f->vkGetDeviceQueue(vb->device, vb->family, 0, &vb->queue);
  return LEAP_OK;
}

leap_status lp_vk_backend_create(const char *device, int validation, lp_backend **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_vk_backend_create: NULL out");
  *out = NULL;
  vk_backend *vb = lp_calloc(1, sizeof *vb);
  if (!vb) return lp_error(LEAP_ERR_NOMEM, "vulkan: out of memory");
  vb->base.vt = &vk_vt;
  if (validation < 0) validation = env_validation();
  if (!device) device = getenv("LEAP_DEVICE");

  leap_status s = lp_vk_load_global(&vb->vk, NULL);
  if (s == LEAP_OK) s = lp_vk_instance_create(&vb->vk, validation != 0, &vb->validation_messages, &vb->inst);
  if (s == LEAP_OK) vb->owns_instance = 1;
  if (s == LEAP_OK) s = lp_vk_select_device(&vb->vk, vb->inst.instance, device, &vb->phys);
  if (s == LEAP_OK) s = create_device(vb);
  if (s == LEAP_OK) s = lp_vk_backend_init_common(vb);
  if (s != LEAP_OK) {
    vk_destroy(&vb->base);
    return s;
  }
  *out = &vb->base;
  return LEAP_OK;
}

leap_status lp_vk_backend_create_external(const leap_vulkan_external *ext, lp_backend **out) {
  if (!ext || !out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_vk_backend_create_external: NULL argument");
  *out = NULL;
  if (!ext->instance || !ext->physical_device || !ext->device || !ext->queue)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "leap_vulkan_external: instance, physical_device, device and queue are required");
  vk_backend *vb = lp_calloc(1, sizeof *vb);
  if (!vb) return lp_error(LEAP_ERR_NOMEM, "vulkan: out of memory");
  vb->base.vt = &vk_vt;
  /* Adopted objects: owns_instance = owns_device = 0, never destroyed. */
  vb->inst.instance = (VkInstance)ext->instance;
  vb->phys = (VkPhysicalDevice)ext->physical_device;
  vb->device = (VkDevice)ext->device;
  vb->queue = (VkQueue)ext->queue;
  vb->family = ext->queue_family;
  leap_status s = lp_vk_load_global(&vb->vk, (PFN_vkGetInstanceProcAddr)ext->get_instance_proc_addr);
  if (s == LEAP_OK) s = lp_vk_load_instance(&vb->vk, vb->inst.instance);
  if (s == LEAP_OK) s = lp_vk_load_device(&vb->vk, vb->device);
  if (s == LEAP_OK) s = lp_vk_backend_init_common(vb);
  if (s != LEAP_OK) {
    vk_destroy(&vb->base);
    return s;
  }
  *out = &vb->base;
  return LEAP_OK;
}

uint64_t lp_vk_validation_messages(const lp_backend *be) {
  const vk_backend *vb = lp_vk_cast(be);
  return vb ? vb->validation_messages : 0;
}

const char *lp_vk_device_name(const lp_backend *be) {
  const vk_backend *vb = lp_vk_cast(be);
  return vb ? vb->name : "";
}

double lp_vk_last_gpu_ms(const lp_backend *be) {
  const vk_backend *vb = lp_vk_cast(be);
  return vb ? vb->last_gpu_ms : -1;
}
