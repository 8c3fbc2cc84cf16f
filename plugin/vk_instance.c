/* vk_instance.c - the Vulkan instance (with the Khronos validation layer and
 * a debug messenger that counts what it reports), and choosing a physical
 * device from a selector. */
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "vk_internal.h"

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"
#define NO_DEVICE_HINT "install mesa-vulkan-drivers for a CPU device, or use --backend cpu"

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                 VkDebugUtilsMessageTypeFlagsEXT types,
                                                 const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                 void *user) {
  (void)types;
  uint64_t *count = user;
  const char *level = severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning";
  fprintf(stderr, "leap: vulkan validation: %s: %s\n", level,
          data && data->pMessage ? data->pMessage : "(no message)");
  if (count) (*count)++;
  return VK_FALSE; /* never abort the call */
}

static int has_layer(lp_vk_fns *f, const char *name) {
  uint32_t n = 0;
  if (f->vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || !n) return 0;
  VkLayerProperties *l = lp_calloc(n, sizeof *l);
  int found = 0;
  if (l && f->vkEnumerateInstanceLayerProperties(&n, l) == VK_SUCCESS)
    for (uint32_t k = 0; k < n && !found; k++) found = !strcmp(l[k].layerName, name);
  free(l);
  return found;
}

static int has_instance_ext(lp_vk_fns *f, const char *layer, const char *name) {
  uint32_t n = 0;
  if (f->vkEnumerateInstanceExtensionProperties(layer, &n, NULL) != VK_SUCCESS || !n) return 0;
  VkExtensionProperties *e = lp_calloc(n, sizeof *e);
  int found = 0;
  if (e && f->vkEnumerateInstanceExtensionProperties(layer, &n, e) == VK_SUCCESS)
    for (uint32_t k = 0; k < n && !found; k++) found = !strcmp(e[k].extensionName, name);
  free(e);
  return found;
}

leap_status lp_vk_instance_create(lp_vk_fns *f, int validation, uint64_t *messages,
                                  lp_vk_instance *out) {
  /* Warn once per process, not per backend; atomic because contexts may
   * be created on several threads at once (leap.h, "Threads"). */
  static atomic_int warned_no_layer;
  memset(out, 0, sizeof *out);
  /* Before the layer and extension queries too: the loader preloads the
   * drivers there and keeps them until the instance goes (vk_pin.c). */
  void *pin = lp_vk_pin_begin();
  const char *layers[1];
  uint32_t nlayers = 0;
  const char *exts[1];
  uint32_t nexts = 0;
  if (validation) {
    if (has_layer(f, VALIDATION_LAYER)) {
      layers[nlayers++] = VALIDATION_LAYER;
    } else if (!atomic_exchange(&warned_no_layer, 1)) {
      fprintf(stderr, "leap: warning: %s is not installed (vulkan-validationlayers); "
                      "running without validation\n", VALIDATION_LAYER);
    }
  }
  const int debug = nlayers > 0 && messages &&
                    (has_instance_ext(f, NULL, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) ||
                     has_instance_ext(f, VALIDATION_LAYER, VK_EXT_DEBUG_UTILS_EXTENSION_NAME));
  if (debug) exts[nexts++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;

  VkDebugUtilsMessengerCreateInfoEXT mci = {
      .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
      .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                         VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
      .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
      .pfnUserCallback = on_message,
      .pUserData = messages,
  };
  VkApplicationInfo app = {
      .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
      .pApplicationName = "leap",
      .pEngineName = "leap",
      .engineVersion = LEAP_API_VERSION,
      .apiVersion = VK_API_VERSION_1_2,
  };
  VkInstanceCreateInfo ci = {
      .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
      /* Chained so that vkCreateInstance / vkDestroyInstance are covered too. */
      .pNext = debug ? &mci : NULL,
      .pApplicationInfo = &app,
      .enabledLayerCount = nlayers,
      .ppEnabledLayerNames = layers,
      .enabledExtensionCount = nexts,
      .ppEnabledExtensionNames = exts,
  };
  VkResult r = f->vkCreateInstance(&ci, NULL, &out->instance);
  lp_vk_pin_end(pin, r == VK_SUCCESS);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
    return lp_error(LEAP_ERR_NO_DEVICE, "no Vulkan device (no driver answers vkCreateInstance): %s",
                    NO_DEVICE_HINT);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkCreateInstance");
  leap_status s = lp_vk_load_instance(f, out->instance);
  if (s == LEAP_OK && debug && f->vkCreateDebugUtilsMessengerEXT) {
    r = f->vkCreateDebugUtilsMessengerEXT(out->instance, &mci, NULL, &out->messenger);
    if (r != VK_SUCCESS) s = lp_vk_fail(r, "vkCreateDebugUtilsMessengerEXT");
  }
  if (s != LEAP_OK) lp_vk_instance_destroy(f, out);
  return s;
}

void lp_vk_instance_destroy(lp_vk_fns *f, lp_vk_instance *inst) {
  if (inst->messenger && f->vkDestroyDebugUtilsMessengerEXT)
    f->vkDestroyDebugUtilsMessengerEXT(inst->instance, inst->messenger, NULL);
  if (inst->instance && f->vkDestroyInstance) f->vkDestroyInstance(inst->instance, NULL);
  memset(inst, 0, sizeof *inst);
}

leap_status lp_vk_physical_devices(lp_vk_fns *f, VkInstance inst, VkPhysicalDevice **out, int *n) {
  uint32_t count = 0;
  *out = NULL;
  *n = 0;
  VkResult r = f->vkEnumeratePhysicalDevices(inst, &count, NULL);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkEnumeratePhysicalDevices");
  if (!count) return LEAP_OK;
  VkPhysicalDevice *pd = lp_calloc(count, sizeof *pd);
  if (!pd) return lp_error(LEAP_ERR_NOMEM, "vulkan: out of memory listing devices");
  r = f->vkEnumeratePhysicalDevices(inst, &count, pd);
  if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
    free(pd);
    return lp_vk_fail(r, "vkEnumeratePhysicalDevices");
  }
  *out = pd;
  *n = (int)count;
  return LEAP_OK;
}

int lp_vk_compute_family(lp_vk_fns *f, VkPhysicalDevice pd) {
  uint32_t n = 0;
  f->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
  VkQueueFamilyProperties q[32];
  if (n > 32) n = 32;
  f->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
  /* The first compute family (on most GPUs the graphics+compute one, which
   * also has timestamps); prefer one with timestamps. */
  int first = -1;
  for (uint32_t k = 0; k < n; k++) {
    if (!(q[k].queueFlags & VK_QUEUE_COMPUTE_BIT) || !q[k].queueCount) continue;
    if (q[k].timestampValidBits) return (int)k;
    if (first < 0) first = (int)k;
  }
  return first;
}

/* Usable by leap: Vulkan 1.2 (SPIR-V 1.5 shaders) and a compute queue. */
static int usable(lp_vk_fns *f, VkPhysicalDevice pd, const VkPhysicalDeviceProperties *p) {
  return p->apiVersion >= VK_API_VERSION_1_2 && lp_vk_compute_family(f, pd) >= 0;
}

static const char *type_name(VkPhysicalDeviceType t) {
  switch (t) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
  case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
  default: return "other";
  }
}

static int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
  case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
  default: return 0;
  }
}

static int contains_nocase(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++) {
    size_t k = 0;
    while (k < n && hay[k] && tolower((unsigned char)hay[k]) == tolower((unsigned char)needle[k])) k++;
    if (k == n) return 1;
  }
  return n == 0;
}

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s)) return 0;
  return 1;
}

leap_status lp_vk_select_device(lp_vk_fns *f, VkInstance inst, const char *selector,
                                VkPhysicalDevice *out) {
  VkPhysicalDevice *pd;
  int n;
  leap_status s = lp_vk_physical_devices(f, inst, &pd, &n);
  if (s != LEAP_OK) return s;
  if (!n) return lp_error(LEAP_ERR_NO_DEVICE, "no Vulkan device: %s", NO_DEVICE_HINT);
  if (selector && !*selector) selector = NULL;

  int pick = -1, best_rank = -1;
  char list[1024] = "";
  size_t used = 0;
  for (int k = 0; k < n; k++) {
    VkPhysicalDeviceProperties p;
    f->vkGetPhysicalDeviceProperties(pd[k], &p);
    const int ok = usable(f, pd[k], &p);
    if (used < sizeof list)
      used += (size_t)snprintf(list + used, sizeof list - used, "%s%d: %s (%s%s)", k ? "; " : "", k,
                               p.deviceName, type_name(p.deviceType),
                               ok ? "" : ", unusable: needs Vulkan 1.2 and a compute queue");
    if (!ok || (pick >= 0 && selector)) continue;
    if (!selector) {
      if (type_rank(p.deviceType) > best_rank) best_rank = type_rank(p.deviceType), pick = k;
    } else if (all_digits(selector) ? atoi(selector) == k : contains_nocase(p.deviceName, selector)) {
      pick = k;
    }
  }
  if (pick >= 0) *out = pd[pick];
  free(pd);
  if (pick >= 0) return LEAP_OK;
  if (selector)
    return lp_error(LEAP_ERR_INVALID_ARG, "no usable Vulkan device matches \"%s\"; devices: %s",
                    selector, list);
  return lp_error(LEAP_ERR_NO_DEVICE, "no usable Vulkan device (devices: %s): %s", list,
                  NO_DEVICE_HINT);
}
