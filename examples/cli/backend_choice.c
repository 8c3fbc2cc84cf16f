/* backend_choice.c - see backend_choice.h. */
#include "backend_choice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

leap_backend_kind cli_pick_backend(const char *backend, const char *device, int quiet) {
  if (backend && strcmp(backend, "cpu") == 0) return LEAP_BACKEND_CPU;
  const char *env = getenv("LEAP_DEVICE");
  if (backend || device || (env && env[0])) return LEAP_BACKEND_VULKAN;
  int count = 0;
  if (leap_vulkan_device_count(&count) != LEAP_OK) count = 0;
  for (int i = 0; i < count; i++) {
    leap_device_info info = {.struct_size = sizeof info};
    if (leap_vulkan_device_info(i, &info) == LEAP_OK && info.type != LEAP_DEVICE_CPU)
      return LEAP_BACKEND_VULKAN;
  }
  if (!quiet)
    fprintf(stderr, count > 0 ? "leap: no GPU found; using the CPU backend, faster than a CPU "
                                "Vulkan device (--backend vulkan to use it anyway)\n"
                              : "leap: no Vulkan device found; using the CPU backend "
                                "(--backend cpu silences this)\n");
  return LEAP_BACKEND_CPU;
}
