/* vk_buffer.c - device buffers. Where all of the device-local heap is
 * host-visible (lavapipe, integrated GPUs, ReBAR) buffers are mapped and
 * written with memcpy (and read with memcpy where that memory is host-cached);
 * elsewhere they live in device-local memory and are written and read
 * through one staging buffer, in chunks. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "vk_backend.h"
#include "vk_internal.h"

#define STAGING_CHUNK ((VkDeviceSize)64 << 20)
#define BUF_USAGE                                                                                  \
  (VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |                        \
   VK_BUFFER_USAGE_TRANSFER_DST_BIT)

static const VkMemoryPropertyFlags HOST_FLAGS =
    VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;

/* The largest device-local heap: where model weights and activations go. */
static int largest_device_heap(const VkPhysicalDeviceMemoryProperties *m) {
  int best = -1;
  for (uint32_t h = 0; h < m->memoryHeapCount; h++)
    if ((m->memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
        (best < 0 || m->memoryHeaps[h].size > m->memoryHeaps[best].size))
      best = (int)h;
  return best;
}

/* A memory type in `bits` with all `need` flags (on `heap` if >= 0),
 * preferring one with the `want` flags too; -1 if none. */
static int find_type(const VkPhysicalDeviceMemoryProperties *m, uint32_t bits,
                     VkMemoryPropertyFlags need, VkMemoryPropertyFlags want, int heap) {
  int found = -1;
  for (uint32_t t = 0; t < m->memoryTypeCount; t++) {
    const VkMemoryPropertyFlags fl = m->memoryTypes[t].propertyFlags;
    if (!(bits & (1u << t)) || (fl & need) != need) continue;
    if (heap >= 0 && m->memoryTypes[t].heapIndex != (uint32_t)heap) continue;
    if ((fl & want) == want) return (int)t;
    if (found < 0) found = (int)t;
  }
  return found;
}

leap_status lp_vk_choose_memory(vk_backend *vb) {
  const VkPhysicalDeviceMemoryProperties *m = &vb->mem;
  const int heap = largest_device_heap(m);
  const uint32_t all = ~0u;
  /* Direct only if the mappable device-local type sits on the big heap: a
   * 256 MiB BAR window next to a large VRAM heap is not enough. */
  /* Testing the other paths on lavapipe: LEAP_VK_STAGING=1 stages all
   * transfers, LEAP_VK_STAGING=read only reads (as on uncached BAR memory). */
  const char *force = getenv("LEAP_VK_STAGING");
  const int force_staging = force && !strcmp(force, "1");
  const int force_staged_reads = force && !strcmp(force, "read");
  int t = heap >= 0 && !force_staging ? find_type(m, all, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | HOST_FLAGS,
                                VK_MEMORY_PROPERTY_HOST_CACHED_BIT, heap)
                    : -1;
  const int st = find_type(m, all, HOST_FLAGS, VK_MEMORY_PROPERTY_HOST_CACHED_BIT, -1);
  if (t >= 0) {
    vb->direct = 1;
    vb->mem_device = (uint32_t)t;
    /* Reading uncached (write-combined) BAR memory from the CPU is very
     * slow; there, reads go through a DMA copy to cached staging memory. */
    vb->read_direct =
        ((m->memoryTypes[t].propertyFlags & VK_MEMORY_PROPERTY_HOST_CACHED_BIT) && !force_staged_reads) ||
        st < 0;
    vb->mem_staging = st >= 0 ? (uint32_t)st : (uint32_t)t;
    return LEAP_OK;
  }
  t = find_type(m, all, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0, heap);
  if (t < 0 || st < 0)
    return lp_error(LEAP_ERR_UNSUPPORTED, "vulkan: %s has no device-local or no host-visible memory",
                    vb->name);
  vb->mem_device = (uint32_t)t;
  vb->mem_staging = (uint32_t)st;
  return LEAP_OK;
}

/* The device-memory failure switch (vk_backend.h): a counter over every
 * vkAllocateMemory leap makes. */
static atomic_long vkalloc_count;   /* since the process started or the last reset */
static atomic_long vkalloc_fail_at; /* 0: off */
static atomic_int vkalloc_persistent;
static atomic_int vkalloc_env_read;

static int vkalloc_should_fail(void) {
  if (!atomic_exchange(&vkalloc_env_read, 1)) {
    const char *s = getenv("LEAP_FAIL_VKALLOC");
    char *end = NULL;
    long n = s && *s ? strtol(s, &end, 10) : 0;
    if (n > 0) {
      atomic_store(&vkalloc_persistent, end && *end == '+');
      atomic_store(&vkalloc_fail_at, n);
    }
  }
  long k = atomic_fetch_add(&vkalloc_count, 1) + 1;
  long at = atomic_load(&vkalloc_fail_at);
  return at > 0 && (k == at || (k > at && atomic_load(&vkalloc_persistent)));
}

void lp_vk_alloc_fail_at(long n, int persistent) {
  atomic_store(&vkalloc_env_read, 1);
  atomic_store(&vkalloc_count, 0);
  atomic_store(&vkalloc_persistent, persistent != 0);
  atomic_store(&vkalloc_fail_at, n > 0 ? n : 0);
}

long lp_vk_alloc_count(void) { return atomic_load(&vkalloc_count); }

/* Creates buffer + memory of one type (type_pref is a hint; the buffer's
 * memoryTypeBits decide), mapped when host-visible. */
static leap_status make_buffer(vk_backend *vb, VkDeviceSize bytes, uint32_t type_pref, int map,
                               lp_buf *b) {
  lp_vk_fns *f = &vb->vk;
  VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                            .size = bytes,
                            .usage = BUF_USAGE,
                            .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
  VkResult r = f->vkCreateBuffer(vb->device, &bci, NULL, &b->buffer);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkCreateBuffer");
  VkMemoryRequirements req;
  f->vkGetBufferMemoryRequirements(vb->device, b->buffer, &req);
  const VkMemoryPropertyFlags flags = vb->mem.memoryTypes[type_pref].propertyFlags;
  int t = (req.memoryTypeBits & (1u << type_pref)) ? (int)type_pref
                                                    : find_type(&vb->mem, req.memoryTypeBits, flags, 0, -1);
  if (t < 0) {
    f->vkDestroyBuffer(vb->device, b->buffer, NULL);
    b->buffer = VK_NULL_HANDLE;
    return lp_error(LEAP_ERR_UNSUPPORTED, "vulkan: no memory type for a storage buffer");
  }
  VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                              .allocationSize = req.size,
                              .memoryTypeIndex = (uint32_t)t};
  b->memory = VK_NULL_HANDLE;
  r = vkalloc_should_fail() ? VK_ERROR_OUT_OF_DEVICE_MEMORY
                            : f->vkAllocateMemory(vb->device, &mai, NULL, &b->memory);
  if (r == VK_SUCCESS) r = f->vkBindBufferMemory(vb->device, b->buffer, b->memory, 0);
  if (r == VK_SUCCESS && map) r = f->vkMapMemory(vb->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
  if (r != VK_SUCCESS) {
    f->vkDestroyBuffer(vb->device, b->buffer, NULL);
    if (b->memory) f->vkFreeMemory(vb->device, b->memory, NULL);
    memset(b, 0, sizeof *b);
    leap_status s = lp_vk_fail(r, "allocating device memory");
    return lp_error(s, "vulkan: %s: cannot allocate a buffer of %llu bytes on %s (%s)",
                    s == LEAP_ERR_NOMEM ? "out of memory" : "allocation failed",
                    (unsigned long long)bytes, vb->name, lp_vk_result_name(r));
  }
  return LEAP_OK;
}

static void drop_buffer(vk_backend *vb, lp_buf *b) {
  lp_vk_fns *f = &vb->vk;
  if (b->mapped && b->memory) f->vkUnmapMemory(vb->device, b->memory);
  if (b->buffer && b->memory) f->vkDestroyBuffer(vb->device, b->buffer, NULL);
  if (b->memory) f->vkFreeMemory(vb->device, b->memory, NULL);
  memset(b, 0, sizeof *b);
}

void lp_vk_cmd_full_barrier(vk_backend *vb, VkCommandBuffer cb) {
  VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                         VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
  const VkPipelineStageFlags st = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  vb->vk.vkCmdPipelineBarrier(cb, st, st, 0, 1, &mb, 0, NULL, 0, NULL);
}

void lp_vk_cmd_host_barrier(vk_backend *vb, VkCommandBuffer cb) {
  VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                        .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
  vb->vk.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                              VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
}

leap_status lp_vk_xfer_begin(vk_backend *vb) {
  VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                 .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
  VkResult r = vb->vk.vkBeginCommandBuffer(vb->xfer_cb, &bi);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkBeginCommandBuffer");
  /* Order after whatever earlier submissions did to the same memory. */
  lp_vk_cmd_full_barrier(vb, vb->xfer_cb);
  return LEAP_OK;
}

leap_status lp_vk_submit_wait(vk_backend *vb, VkCommandBuffer cb) {
  lp_vk_fns *f = &vb->vk;
  VkResult r = f->vkResetFences(vb->device, 1, &vb->fence);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkResetFences");
  VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                     .pCommandBuffers = &cb};
  r = f->vkQueueSubmit(vb->queue, 1, &si, vb->fence);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkQueueSubmit");
  r = f->vkWaitForFences(vb->device, 1, &vb->fence, VK_TRUE, UINT64_MAX);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkWaitForFences");
  return LEAP_OK;
}

/* Ends the transfer command buffer (with a barrier making its writes
 * visible to shaders, transfers and the host) and runs it. */
static leap_status xfer_end_submit(vk_backend *vb) {
  lp_vk_cmd_full_barrier(vb, vb->xfer_cb);
  lp_vk_cmd_host_barrier(vb, vb->xfer_cb);
  VkResult r = vb->vk.vkEndCommandBuffer(vb->xfer_cb);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkEndCommandBuffer");
  return lp_vk_submit_wait(vb, vb->xfer_cb);
}

leap_status lp_vk_buf_alloc(lp_backend *be, size_t bytes, lp_buf **out) {
  vk_backend *vb = (vk_backend *)be;
  lp_buf *b = lp_calloc(1, sizeof *b);
  if (!b) return lp_error(LEAP_ERR_NOMEM, "vulkan: out of memory");
  /* Never zero bytes (Vulkan forbids it); whole 16-byte units. */
  const VkDeviceSize size = bytes ? ((VkDeviceSize)bytes + 15) & ~(VkDeviceSize)15 : 16;
  leap_status s = make_buffer(vb, size, vb->mem_device, vb->direct, b);
  if (s != LEAP_OK) {
    free(b);
    return s;
  }
  b->head.serial = lp_buf_new_serial();
  b->bytes = bytes;
  /* Zeroed, like CPU buffers. */
  if (b->mapped) {
    memset(b->mapped, 0, (size_t)size);
  } else {
    s = lp_vk_xfer_begin(vb);
    if (s == LEAP_OK) {
      vb->vk.vkCmdFillBuffer(vb->xfer_cb, b->buffer, 0, VK_WHOLE_SIZE, 0);
      s = xfer_end_submit(vb);
    }
    if (s != LEAP_OK) {
      drop_buffer(vb, b);
      free(b);
      return s;
    }
  }
  *out = b;
  return LEAP_OK;
}

leap_status lp_vk_buf_wrap(lp_backend *be, uint64_t vk_buffer, uint64_t byte_offset, size_t bytes,
                           lp_buf **out) {
  if (!lp_vk_cast(be) || !out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_vk_buf_wrap: not a Vulkan backend");
  if (!vk_buffer) return lp_error(LEAP_ERR_INVALID_ARG, "lp_vk_buf_wrap: null VkBuffer");
  if (byte_offset % 4)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_vk_buf_wrap: byte offset %llu is not a multiple of 4",
                    (unsigned long long)byte_offset);
  lp_buf *b = lp_calloc(1, sizeof *b);
  if (!b) return lp_error(LEAP_ERR_NOMEM, "vulkan: out of memory");
  b->head.serial = lp_buf_new_serial();
  b->buffer = (VkBuffer)(uintptr_t)vk_buffer;
  b->base = byte_offset;
  b->bytes = bytes;
  *out = b;
  return LEAP_OK;
}

void lp_vk_buf_free(lp_backend *be, lp_buf *b) {
  if (!b) return;
  if (b->memory) drop_buffer((vk_backend *)be, b); /* wrapped buffers own no memory */
  free(b);
}

static leap_status ensure_staging(vk_backend *vb, VkDeviceSize bytes) {
  if (vb->staging.buffer && vb->staging.bytes >= bytes) return LEAP_OK;
  drop_buffer(vb, &vb->staging);
  VkDeviceSize size = bytes < ((VkDeviceSize)1 << 20) ? ((VkDeviceSize)1 << 20) : bytes;
  leap_status s = make_buffer(vb, size, vb->mem_staging, 1, &vb->staging);
  if (s == LEAP_OK) vb->staging.bytes = (size_t)size;
  return s;
}

void lp_vk_staging_free(vk_backend *vb) { drop_buffer(vb, &vb->staging); }

static leap_status check_range(const lp_buf *b, size_t off, size_t bytes, const char *what) {
  if (off + bytes > b->bytes || off + bytes < off)
    return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: buffer %s of %zu bytes at %zu past its end (%zu)",
                    what, bytes, off, b->bytes);
  return LEAP_OK;
}

/* Copies between a buffer and the staging buffer, chunk by chunk. */
static leap_status staged(vk_backend *vb, lp_buf *b, size_t off, void *host, size_t bytes, int write) {
  size_t done = 0;
  while (done < bytes) {
    const size_t n = bytes - done < STAGING_CHUNK ? bytes - done : (size_t)STAGING_CHUNK;
    leap_status s = ensure_staging(vb, n);
    if (s == LEAP_OK) s = lp_vk_xfer_begin(vb);
    if (s != LEAP_OK) return s;
    VkBufferCopy region = {.size = n};
    if (write) {
      memcpy(vb->staging.mapped, (const char *)host + done, n);
      region.dstOffset = b->base + off + done;
      vb->vk.vkCmdCopyBuffer(vb->xfer_cb, vb->staging.buffer, b->buffer, 1, &region);
    } else {
      region.srcOffset = b->base + off + done;
      vb->vk.vkCmdCopyBuffer(vb->xfer_cb, b->buffer, vb->staging.buffer, 1, &region);
    }
    s = xfer_end_submit(vb);
    if (s != LEAP_OK) return s;
    if (!write) memcpy((char *)host + done, vb->staging.mapped, n);
    done += n;
  }
  return LEAP_OK;
}

static leap_status buf_write(vk_backend *vb, lp_buf *b, size_t off, const void *src, size_t bytes) {
  leap_status s = check_range(b, off, bytes, "write");
  if (s != LEAP_OK || !bytes) return s;
  if (b->mapped) {
    memcpy((char *)b->mapped + off, src, bytes);
    return LEAP_OK;
  }
  return staged(vb, b, off, (void *)src, bytes, 1);
}

leap_status lp_vk_buf_write(lp_backend *be, lp_buf *b, size_t off, const void *src, size_t bytes) {
  vk_backend *vb = (vk_backend *)be;
  const double t0 = lp_vk_profile_enter(vb);
  leap_status s = buf_write(vb, b, off, src, bytes);
  lp_vk_profile_leave(vb, "(buffer writes, host)", t0);
  return s;
}

static leap_status buf_read(vk_backend *vb, lp_buf *b, size_t off, void *dst, size_t bytes) {
  leap_status s = check_range(b, off, bytes, "read");
  if (s != LEAP_OK || !bytes) return s;
  if (b->mapped && vb->read_direct) {
    memcpy(dst, (const char *)b->mapped + off, bytes);
    return LEAP_OK;
  }
  return staged(vb, b, off, dst, bytes, 0);
}

leap_status lp_vk_buf_read(lp_backend *be, lp_buf *b, size_t off, void *dst, size_t bytes) {
  vk_backend *vb = (vk_backend *)be;
  const double t0 = lp_vk_profile_enter(vb);
  leap_status s = buf_read(vb, b, off, dst, bytes);
  lp_vk_profile_leave(vb, "(buffer reads, host)", t0);
  return s;
}
