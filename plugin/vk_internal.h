/* vk_internal.h - what the Vulkan backend's files share: the function table
 * (every call goes through it, so an adopted device can use its host's
 * loader), the backend and buffer structs, and the per-op dispatch plan. */
#ifndef LEAP_VK_INTERNAL_H
#define LEAP_VK_INTERNAL_H

#include <vulkan/vulkan.h>

#include "vk_backend.h"

/* Entry points resolved through vkGetInstanceProcAddr(NULL, ...). */
#define LP_VK_GLOBAL_FNS(X)                                                                        \
  X(vkCreateInstance)                                                                              \
  X(vkEnumerateInstanceLayerProperties)                                                            \
  X(vkEnumerateInstanceExtensionProperties)

/* Entry points resolved through vkGetInstanceProcAddr(instance, ...). */
#define LP_VK_INSTANCE_FNS(X)                                                                      \
  X(vkDestroyInstance)                                                                             \
  X(vkEnumeratePhysicalDevices)                                                                    \
  X(vkGetPhysicalDeviceProperties)                                                                 \
  X(vkGetPhysicalDeviceProperties2)                                                                \
  X(vkGetPhysicalDeviceFeatures2)                                                                  \
  X(vkGetPhysicalDeviceMemoryProperties)                                                           \
  X(vkGetPhysicalDeviceQueueFamilyProperties)                                                      \
  X(vkEnumerateDeviceExtensionProperties)                                                          \
  X(vkCreateDevice)                                                                                \
  X(vkGetDeviceProcAddr)

/* Entry points resolved through vkGetDeviceProcAddr(device, ...). */
#define LP_VK_DEVICE_FNS(X)                                                                        \
  X(vkDestroyDevice)                                                                               \
  X(vkGetDeviceQueue)                                                                              \
  X(vkDeviceWaitIdle)                                                                              \
  X(vkQueueSubmit)                                                                                 \
  X(vkCreateBuffer)                                                                                \
  X(vkDestroyBuffer)                                                                               \
  X(vkGetBufferMemoryRequirements)                                                                 \
  X(vkAllocateMemory)                                                                              \
  X(vkFreeMemory)                                                                                  \
  X(vkBindBufferMemory)                                                                            \
  X(vkMapMemory)                                                                                   \
  X(vkUnmapMemory)                                                                                 \
  X(vkCreateShaderModule)                                                                          \
  X(vkDestroyShaderModule)                                                                         \
  X(vkCreateDescriptorSetLayout)                                                                   \
  X(vkDestroyDescriptorSetLayout)                                                                  \
  X(vkCreatePipelineLayout)                                                                        \
  X(vkDestroyPipelineLayout)                                                                       \
  X(vkCreateComputePipelines)                                                                      \
  X(vkDestroyPipeline)                                                                             \
  X(vkCreateDescriptorPool)                                                                        \
  X(vkDestroyDescriptorPool)                                                                       \
  X(vkAllocateDescriptorSets)                                                                      \
  X(vkUpdateDescriptorSets)                                                                        \
  X(vkCreateCommandPool)                                                                           \
  X(vkDestroyCommandPool)                                                                          \
  X(vkAllocateCommandBuffers)                                                                      \
  X(vkFreeCommandBuffers)                                                                          \
  X(vkBeginCommandBuffer)                                                                          \
  X(vkEndCommandBuffer)                                                                            \
  X(vkResetCommandBuffer)                                                                          \
  X(vkCmdBindPipeline)                                                                             \
  X(vkCmdBindDescriptorSets)                                                                       \
  X(vkCmdPushConstants)                                                                            \
  X(vkCmdDispatch)                                                                                 \
  X(vkCmdPipelineBarrier)                                                                          \
  X(vkCmdCopyBuffer)                                                                               \
  X(vkCmdFillBuffer)                                                                               \
  X(vkCmdResetQueryPool)                                                                           \
  X(vkCmdWriteTimestamp)                                                                           \
  X(vkCreateFence)                                                                                 \
  X(vkDestroyFence)                                                                                \
  X(vkResetFences)                                                                                 \
  X(vkWaitForFences)                                                                               \
  X(vkCreateQueryPool)                                                                             \
  X(vkDestroyQueryPool)                                                                            \
  X(vkGetQueryPoolResults)

#define LP_VK_MEMBER(name) PFN_##name name;
typedef struct lp_vk_fns {
  PFN_vkGetInstanceProcAddr gipa;
  LP_VK_GLOBAL_FNS(LP_VK_MEMBER)
  LP_VK_INSTANCE_FNS(LP_VK_MEMBER)
  LP_VK_DEVICE_FNS(LP_VK_MEMBER)
  /* Optional (VK_EXT_debug_utils); NULL when the extension is off. */
  PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT;
  PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT;
} lp_vk_fns;
#undef LP_VK_MEMBER

/* gipa NULL = the loader leap links against. */
leap_status lp_vk_load_global(lp_vk_fns *f, PFN_vkGetInstanceProcAddr gipa);
leap_status lp_vk_load_instance(lp_vk_fns *f, VkInstance instance);
leap_status lp_vk_load_device(lp_vk_fns *f, VkDevice device);

/* "VK_ERROR_OUT_OF_DEVICE_MEMORY" etc. */
const char *lp_vk_result_name(VkResult r);
/* Maps a failed VkResult to a leap_status with a message naming the call. */
leap_status lp_vk_fail(VkResult r, const char *what);

/* An instance for enumeration or for a backend. validation: 1/0 (already
 * resolved from the environment). messages: where the debug messenger
 * counts; NULL = no messenger. */
typedef struct lp_vk_instance {
  VkInstance instance;
  VkDebugUtilsMessengerEXT messenger;
} lp_vk_instance;
/* vk_pin.c: lp_vk_pin_begin() before vkCreateInstance, lp_vk_pin_end(token,
 * created) after: the libraries the instance loaded stay loaded for the
 * process (RTLD_NODELETE), so create/destroy cycles cannot exhaust the
 * driver's static TLS. A NULL token (out of memory) pins nothing. */
void *lp_vk_pin_begin(void);
void lp_vk_pin_end(void *token, int pin);

leap_status lp_vk_instance_create(lp_vk_fns *f, int validation, uint64_t *messages,
                                  lp_vk_instance *out);
void lp_vk_instance_destroy(lp_vk_fns *f, lp_vk_instance *inst);

/* The physical devices of an instance (malloc'ed array, *n entries). */
leap_status lp_vk_physical_devices(lp_vk_fns *f, VkInstance inst, VkPhysicalDevice **out, int *n);
/* The device a selector names (see lp_vk_backend_create). */
leap_status lp_vk_select_device(lp_vk_fns *f, VkInstance inst, const char *selector,
                                VkPhysicalDevice *out);
/* First queue family with compute; -1 if none. */
int lp_vk_compute_family(lp_vk_fns *f, VkPhysicalDevice pd);

struct lp_buf {
  lp_buf_head head; /* first: see backend.h */
  VkBuffer buffer;
  VkDeviceMemory memory; /* VK_NULL_HANDLE for a wrapped host buffer */
  void *mapped;          /* host pointer to byte 0 when directly mapped */
  VkDeviceSize base;     /* byte offset of this buffer's byte 0 in `buffer` */
  size_t bytes;
};

/* A pipeline for one shader and one set of specialisation constants. */
#define LP_VK_MAX_SPEC 4
typedef struct lp_vk_pipeline {
  const char *shader;
  uint32_t spec[LP_VK_MAX_SPEC];
  int nspec;
  VkShaderModule module; /* borrowed from the backend's module list */
  VkPipeline pipeline;
} lp_vk_pipeline;

/* The push constants every shader declares (shaders/common.glsl): element
 * offsets of the four bindings, the op's integer and float arguments, and
 * flags (bit 0: in[2] is bound, e.g. a LINEAR bias). lp_op.i[6..7] come
 * after flags, so the kernels that declare only the block up to flags
 * (shaders/lcsc_*.comp) keep their layout. */
typedef struct lp_vk_push {
  uint32_t off[4];
  int32_t i[6];
  float f[2];
  uint32_t flags;
  int32_t i_hi[2]; /* lp_op.i[6], i[7] */
} lp_vk_push;
#define LP_VK_FLAG_IN2 1u

/* How one op is dispatched: shader, specialisation, grid, and how many
 * elements each binding (in0, in1, in2, out) covers (0 = unused). */
typedef struct lp_vk_plan {
  const char *shader;
  uint32_t spec[LP_VK_MAX_SPEC];
  int nspec;
  uint32_t groups[3];
  size_t extent[4];
  int out_read; /* the op reads out too (in-place accumulation) */
} lp_vk_plan;

typedef struct vk_backend vk_backend;
/* Checks an op's arguments and plans its dispatch. */
leap_status lp_vk_plan_op(const vk_backend *vb, const lp_op *op, lp_vk_plan *plan);

struct vk_backend {
  lp_backend base;
  lp_vk_fns vk;
  lp_vk_instance inst;
  int owns_instance, owns_device;
  VkPhysicalDevice phys;
  VkDevice device;
  VkQueue queue;
  uint32_t family;
  VkPhysicalDeviceProperties props;
  VkPhysicalDeviceMemoryProperties mem;
  uint64_t validation_messages;

  /* Memory: `direct` = buffers live in host-visible device-local memory and
   * are mapped; otherwise device-local memory plus a staging buffer. */
  int direct;
  int read_direct; /* direct and host-cached: buf_read may memcpy */
  uint32_t mem_device, mem_staging;
  lp_buf staging;

  VkCommandPool cmd_pool;
  VkCommandBuffer xfer_cb; /* staging copies and fills */
  VkFence fence;

  VkDescriptorSetLayout set_layout;
  VkPipelineLayout pipe_layout;
  VkShaderModule *modules; /* one per embedded shader, created lazily */
  lp_vk_pipeline *pipes;
  int npipes, cap_pipes;

  VkQueryPool timestamps; /* VK_NULL_HANDLE when the queue has none */
  double ts_period_ns;
  uint64_t ts_mask;
  double last_gpu_ms;

  /* LEAP_VK_PROFILE=1 (vk_profile.c): time per row, printed at destroy. */
  int profile;
  struct lp_vk_prof_row *prof;
  int nprof, cap_prof;
  double prof_left_ms; /* when the last backend call returned (0: none yet) */

  /* The device is a CPU (llvmpipe, SwiftShader) whose compute subgroups
   * of >= 8 lanes have subgroupBroadcast: the *_simd kernels, written for
   * SIMD lanes without shared memory or barriers, are used where they fit.
   * LEAP_VK_KERNELS=generic / simd forces one set (for tests). */
  int simd_kernels;

  /* LEAP_VK_MAX_GROUPS=N (tests only; read when the backend is created):
   * grid-stride dispatches use at most N workgroups instead of 65535 or the
   * device's limit, so that small tests run the loops' later passes. 0:
   * not set. */
  uint32_t group_cap;

  char name[256];
};

/* Workgroups of a grid-stride dispatch over g groups' worth of work: at
 * least 1, at most cap (65535 or the device's limit), at most
 * vb->group_cap when set. */
static inline uint32_t lp_vk_grid_groups(const vk_backend *vb, uint64_t g, uint64_t cap) {
  if (vb->group_cap && cap > vb->group_cap) cap = vb->group_cap;
  return (uint32_t)(g < 1 ? 1 : g > cap ? cap : g);
}

/* The backend behind be, or NULL if be is not a Vulkan backend. */
vk_backend *lp_vk_cast(const lp_backend *be);

/* Backend setup shared by the own-device and adopted-device paths: memory
 * types, pools, layouts, the timestamp pool. */
leap_status lp_vk_backend_init_common(vk_backend *vb);

/* Buffers (vk_buffer.c). */
leap_status lp_vk_buf_alloc(lp_backend *be, size_t bytes, lp_buf **out);
void lp_vk_buf_free(lp_backend *be, lp_buf *b);
leap_status lp_vk_buf_write(lp_backend *be, lp_buf *b, size_t off, const void *src, size_t bytes);
leap_status lp_vk_buf_read(lp_backend *be, lp_buf *b, size_t off, void *dst, size_t bytes);
void lp_vk_staging_free(vk_backend *vb);
/* Picks memory types for the direct / staged paths. */
leap_status lp_vk_choose_memory(vk_backend *vb);

/* Command submission: begin the transfer command buffer; submit and wait. */
leap_status lp_vk_xfer_begin(vk_backend *vb);
leap_status lp_vk_submit_wait(vk_backend *vb, VkCommandBuffer cb);
/* A full memory barrier (shader and transfer writes -> any device access);
 * to order a command buffer after earlier submissions. */
void lp_vk_cmd_full_barrier(vk_backend *vb, VkCommandBuffer cb);
/* Device writes -> host reads (after the last command of a submission). */
void lp_vk_cmd_host_barrier(vk_backend *vb, VkCommandBuffer cb);

/* Pipelines (vk_pipeline.c). */
leap_status lp_vk_pipeline_get(vk_backend *vb, const char *shader, const uint32_t *spec, int nspec,
                               VkPipeline *out);
void lp_vk_pipelines_destroy(vk_backend *vb);

/* Profiling (vk_profile.c). A row sums the milliseconds of one kind of
 * work; rows are found or added by label (-1 when out of memory). */
typedef struct lp_vk_prof_row {
  char label[40];
  double ms;
  uint64_t count;
} lp_vk_prof_row;
int lp_vk_profile_wanted(void); /* getenv("LEAP_VK_PROFILE") set and not "0" */
double lp_vk_now_ms(void);      /* monotonic host clock */
int lp_vk_profile_row(vk_backend *vb, const char *label);
int lp_vk_profile_op_row(vk_backend *vb, const lp_op *op);
void lp_vk_profile_add(vk_backend *vb, int row, double ms);
/* A pool of 3 timestamps per op (before the op's barrier, before its
 * dispatch, after it); VK_NULL_HANDLE when not profiling. */
leap_status lp_vk_profile_pool(vk_backend *vb, int nops, VkQueryPool *out);
/* After a run: adds each op's dispatch time to rows[op] and its barrier's
 * to the "(barriers)" row. */
leap_status lp_vk_profile_collect(vk_backend *vb, VkQueryPool pool, const int *rows, int nops);
void lp_vk_profile_print(vk_backend *vb);
/* Around each backend call (program run, buffer read or write): the time
 * since the previous call returned goes to "(host, between calls)" - the
 * caller's own work, e.g. a sampler's per-step host code - and the call's
 * wall time to `row` (transfers; NULL: not counted). enter returns the
 * start time. No-ops unless profiling. */
double lp_vk_profile_enter(vk_backend *vb);
void lp_vk_profile_leave(vk_backend *vb, const char *row, double t0);

/* Programs (vk_program.c). */
leap_status lp_vk_prog_run(lp_backend *be, lp_prog *prog);
void lp_vk_prog_release(lp_backend *be, lp_prog *prog);

#endif /* LEAP_VK_INTERNAL_H */
