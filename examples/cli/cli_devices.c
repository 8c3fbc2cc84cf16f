/* cli_devices.c - `leap devices`: what each Vulkan device offers leap, and
 * the CPU backend, which is always there. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli.h"
#include "cli_args.h"

void cli_devices_help(FILE *out) {
  fprintf(out,
          "usage: leap devices\n"
          "\n"
          "Lists every Vulkan device (index, name, type, API version, driver,\n"
          "memory, subgroup size, shared memory and the features leap uses)\n"
          "and the CPU backend. Pick a device for 'leap sample' with --device\n"
          "INDEX or a name substring, or with $LEAP_DEVICE.\n");
}

static const char *type_name(leap_device_type t) {
  switch (t) {
  case LEAP_DEVICE_INTEGRATED_GPU: return "integrated GPU";
  case LEAP_DEVICE_DISCRETE_GPU: return "discrete GPU";
  case LEAP_DEVICE_VIRTUAL_GPU: return "virtual GPU";
  case LEAP_DEVICE_CPU: return "CPU";
  case LEAP_DEVICE_OTHER: break;
  }
  return "other";
}

static const char *yes_no(int b) { return b ? "yes" : "no"; }

static void print_bytes(const char *label, uint64_t bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)bytes;
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, u++;
  printf("      %-16s %.4g %s\n", label, v, units[u]);
}

static void print_device(int index, const leap_device_info *d) {
  /* VK_MAKE_API_VERSION: variant 3 bits, major 7, minor 10, patch 12. */
  unsigned v = d->api_version;
  printf("  [%d] %s\n", index, d->name);
  printf("      %-16s %s\n", "type", type_name(d->type));
  printf("      %-16s 0x%04x:0x%04x\n", "vendor:device", (unsigned)d->vendor_id,
         (unsigned)d->device_id);
  printf("      %-16s %u.%u.%u\n", "API version", (v >> 22) & 0x7Fu,
         (v >> 12) & 0x3FFu, v & 0xFFFu);
  printf("      %-16s %s\n", "driver", d->driver);
  print_bytes("memory", d->device_local_bytes);
  printf("      %-16s %u\n", "subgroup size", (unsigned)d->subgroup_size);
  print_bytes("shared memory", d->max_shared_bytes);
  printf("      %-16s %s\n", "fp16", yes_no(d->has_fp16));
  printf("      %-16s %s\n", "16-bit storage", yes_no(d->has_storage16));
  printf("      %-16s NV %s, KHR %s\n", "coopmat", yes_no(d->has_coopmat_nv),
         yes_no(d->has_coopmat_khr));
  printf("      %-16s %s\n", "timestamps", yes_no(d->has_timestamps));
}

/* Returns 0, or 1 when a device could not be described. */
static int list_vulkan(void) {
  int count = 0;
  leap_status s = leap_vulkan_device_count(&count);
  if (s != LEAP_OK) {
    printf("Vulkan: not available (%s)\n", leap_last_error()[0]
                                               ? leap_last_error()
                                               : leap_status_string(s));
    return 0;
  }
  if (count == 0) {
    printf("Vulkan: no device found\n");
    return 0;
  }
  printf("Vulkan devices: %d\n", count);
  int failed = 0;
  for (int i = 0; i < count; i++) {
    leap_device_info d = {.struct_size = sizeof d};
    s = leap_vulkan_device_info(i, &d);
    if (s == LEAP_OK) {
      print_device(i, &d);
    } else {
      fprintf(stderr, "leap: device %d: %s\n", i, leap_last_error());
      failed = 1;
    }
  }
  return failed;
}

static void list_cpu(void) {
#ifdef _OPENMP
  int threads = omp_get_max_threads();
#else
  int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
#endif
  printf("CPU backend:\n");
  printf("  [cpu] cpu\n");
  printf("      %-16s %d\n", "threads", threads);
  printf("      %-16s OpenBLAS (%s)\n", "BLAS", openblas_get_config());
}

int cli_devices_main(int argc, char **argv) {
  cli_args a;
  cli_args_init(&a, argc, argv, cli_devices_help);
  while (cli_next(&a)) cli_unknown(&a);
  if (a.exit_code >= 0) return a.exit_code;
  int failed = list_vulkan();
  list_cpu();
  return failed ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}
