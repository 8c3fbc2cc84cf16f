/* backend_choice.h - the backend a command uses when --backend is not given. */
#ifndef LEAP_CLI_BACKEND_CHOICE_H
#define LEAP_CLI_BACKEND_CHOICE_H

#include "leap.h"

/* backend: "cpu", "vulkan" or NULL; device: --device or NULL. Without
 * either, Vulkan when there is a GPU (or LEAP_DEVICE names a device), else
 * the CPU backend with a notice on stderr unless quiet: on a machine whose
 * only Vulkan device is a CPU one (lavapipe) the CPU backend is several
 * times faster (measured: 30 images x 50 steps in 4.0 s against 23.6 s on
 * 2 cores). An explicit request keeps Vulkan (and fails later, exit 3, if
 * there is no device). */
leap_backend_kind cli_pick_backend(const char *backend, const char *device, int quiet);

#endif
