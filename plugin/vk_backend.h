/* vk_backend.h - the Vulkan backend: creation, device adoption, buffer
 * wrapping and the few queries the rest of the library needs. The backend
 * itself is reached through the lp_backend vtable (backend.h). A backend is
 * not thread-safe: one thread at a time. */
#ifndef LEAP_VK_BACKEND_H
#define LEAP_VK_BACKEND_H

#include "backend.h"

/* device: index ("0") or case-insensitive name substring; NULL ->
 * getenv("LEAP_DEVICE"), else pick discrete > integrated > virtual > CPU.
 * validation: 1 = enable VK_LAYER_KHRONOS_validation + a VK_EXT_debug_utils
 * messenger (warnings and errors are printed to stderr prefixed
 * "leap: vulkan validation:" and counted), 0 = off, -1 =
 * getenv("LEAP_VALIDATION") == "1". A missing layer gives one warning.
 * No loader / no device -> LEAP_ERR_NO_DEVICE; a selector that matches no
 * device -> LEAP_ERR_INVALID_ARG with the device list in the message. */
leap_status lp_vk_backend_create(const char *device, int validation, lp_backend **out);

/* Adopts a host's instance / physical device / device / queue; they are
 * never destroyed by leap. */
leap_status lp_vk_backend_create_external(const leap_vulkan_external *ext, lp_backend **out);

/* Validation messages (warnings + errors) seen so far; 0 without validation. */
uint64_t lp_vk_validation_messages(const lp_backend *be);
const char *lp_vk_device_name(const lp_backend *be);

/* A buffer over a host's VkBuffer (+ byte offset, bytes), not freed by
 * buf_free (only the wrapper is). byte_offset % 4 == 0. The VkBuffer needs
 * STORAGE_BUFFER usage, and TRANSFER_SRC / TRANSFER_DST for buf_read /
 * buf_write. */
leap_status lp_vk_buf_wrap(lp_backend *be, uint64_t vk_buffer, uint64_t byte_offset, size_t bytes,
                           lp_buf **out);

/* GPU time of the last prog_run in milliseconds (timestamp queries around
 * the command buffer), or -1 if the queue has no timestamps. */
double lp_vk_last_gpu_ms(const lp_backend *be);

/* Fault injection: the nth vkAllocateMemory from now (1 = the next) fails
 * with VK_ERROR_OUT_OF_DEVICE_MEMORY; with persistent set, every later one
 * too; n = 0 switches it off. LEAP_FAIL_VKALLOC=N (or N+) in the
 * environment sets the same at the first allocation of the process.
 * lp_vk_alloc_count: device allocations since then (or the last reset). */
void lp_vk_alloc_fail_at(long n, int persistent);
long lp_vk_alloc_count(void);

#endif /* LEAP_VK_BACKEND_H */
