/* vk_program.c - record once, replay: on its first run a program is turned
 * into one command buffer (a dispatch per op, each with its own descriptor
 * set written once, a memory barrier only where an op touches memory an
 * earlier op since the last barrier wrote, or writes what it read), cached
 * in prog->exec and then just resubmitted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "vk_internal.h"

struct lp_prog_exec {
  VkCommandBuffer cb;
  VkDescriptorPool pool;
  int n; /* ops recorded: a program that grew afterwards is recompiled */
  VkQueryPool prof_pool; /* LEAP_VK_PROFILE: 3 stamps per op, else null */
  int *prof_rows;        /* profile row of each op */
};

/* A byte range of a VkBuffer touched by a dispatch. */
typedef struct span {
  VkBuffer buf;
  VkDeviceSize lo, hi;
} span;

typedef struct hazards {
  span *reads, *writes;
  int nr, nw, cap;
} hazards;

static int overlaps(const span *list, int n, const span *s) {
  for (int k = 0; k < n; k++)
    if (list[k].buf == s->buf && list[k].lo < s->hi && s->lo < list[k].hi) return 1;
  return 0;
}

/* How one op binds its four views: descriptor ranges and push offsets. */
typedef struct binding {
  VkDescriptorBufferInfo info[4];
  span spans[4];
  uint32_t off[4];
} binding;

static leap_status bind_views(const vk_backend *vb, const lp_op *op, int index, const lp_vk_plan *plan,
                              binding *bd) {
  const VkDeviceSize align = vb->props.limits.minStorageBufferOffsetAlignment
                                 ? vb->props.limits.minStorageBufferOffsetAlignment
                                 : 1;
  for (int k = 0; k < 4; k++) {
    /* Unused bindings alias the output view (every binding must be valid). */
    const int used = plan->extent[k] > 0;
    const lp_view *v = k < 3 && used ? &op->in[k] : &op->out;
    const size_t extent = used ? plan->extent[k] : plan->extent[3];
    const lp_buf *b = v->buf;
    if (v->off > b->bytes / 4 || extent > b->bytes / 4 - v->off)
      return lp_error(LEAP_ERR_INVALID_ARG,
                      "vulkan: op %d %s view at element %zu + %zu elements is past its buffer (%zu bytes)",
                      index, k < 3 ? (k == 0 ? "in[0]" : k == 1 ? "in[1]" : "in[2]") : "out", v->off,
                      extent, b->bytes);
    const VkDeviceSize byte = b->base + (VkDeviceSize)v->off * 4;
    const VkDeviceSize start = byte - byte % align;
    const VkDeviceSize range = byte - start + (VkDeviceSize)extent * 4;
    if (range > vb->props.limits.maxStorageBufferRange)
      return lp_error(LEAP_ERR_UNSUPPORTED,
                      "vulkan: op %d binds %llu bytes, more than the device's maxStorageBufferRange %u",
                      index, (unsigned long long)range, vb->props.limits.maxStorageBufferRange);
    bd->info[k] = (VkDescriptorBufferInfo){.buffer = b->buffer, .offset = start, .range = range};
    bd->off[k] = (uint32_t)((byte - start) / 4);
    bd->spans[k] = (span){b->buffer, byte, byte + (VkDeviceSize)extent * 4};
  }
  return LEAP_OK;
}

/* Records whether the op needs a barrier before it, then notes its spans. */
static leap_status track(hazards *h, const binding *bd, const lp_vk_plan *plan, int *need_barrier) {
  span reads[4];
  int nr = 0;
  for (int k = 0; k < 3; k++)
    if (plan->extent[k]) reads[nr++] = bd->spans[k];
  if (plan->out_read) reads[nr++] = bd->spans[3];
  const span *w = &bd->spans[3];
  int need = overlaps(h->writes, h->nw, w) || overlaps(h->reads, h->nr, w);
  for (int k = 0; k < nr && !need; k++) need = overlaps(h->writes, h->nw, &reads[k]);
  if (need) h->nr = h->nw = 0;
  *need_barrier = need;
  if (h->nr + nr > h->cap || h->nw + 1 > h->cap) {
    const int cap = h->cap ? 2 * h->cap + 8 : 64;
    span *r = lp_realloc(h->reads, (size_t)cap * sizeof *r);
    if (r) h->reads = r;
    span *ws = lp_realloc(h->writes, (size_t)cap * sizeof *ws);
    if (ws) h->writes = ws;
    if (!r || !ws) return lp_error(LEAP_ERR_NOMEM, "vulkan: out of memory");
    h->cap = cap;
  }
  memcpy(h->reads + h->nr, reads, (size_t)nr * sizeof *reads);
  h->nr += nr;
  h->writes[h->nw++] = *w;
  return LEAP_OK;
}

static void barrier_between_dispatches(vk_backend *vb, VkCommandBuffer cb) {
  VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
  vb->vk.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                              0, 1, &mb, 0, NULL, 0, NULL);
}

static leap_status record(vk_backend *vb, const lp_prog *prog, lp_prog_exec *ex, const lp_vk_plan *plans,
                          const VkDescriptorSet *sets, const binding *bds) {
  lp_vk_fns *f = &vb->vk;
  VkCommandBuffer cb = ex->cb;
  VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  VkResult r = f->vkBeginCommandBuffer(cb, &bi);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkBeginCommandBuffer");
  if (vb->timestamps) {
    f->vkCmdResetQueryPool(cb, vb->timestamps, 0, 2);
    f->vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, vb->timestamps, 0);
  }
  if (ex->prof_pool) f->vkCmdResetQueryPool(cb, ex->prof_pool, 0, 3u * (uint32_t)prog->n);
  /* After earlier submissions (copies, the previous run) on the same memory. */
  lp_vk_cmd_full_barrier(vb, cb);
  hazards h = {0};
  leap_status s = LEAP_OK;
  VkPipeline bound = VK_NULL_HANDLE;
  for (int k = 0; k < prog->n && s == LEAP_OK; k++) {
    const lp_op *op = &prog->ops[k];
    int need = 0;
    s = track(&h, &bds[k], &plans[k], &need);
    if (s != LEAP_OK) break;
    /* Profiling stamps wait for all earlier work (bottom of pipe). */
    const uint32_t q = 3u * (uint32_t)k;
    if (ex->prof_pool) f->vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, ex->prof_pool, q);
    if (need && k > 0) barrier_between_dispatches(vb, cb);
    if (ex->prof_pool) f->vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, ex->prof_pool, q + 1);
    VkPipeline pipe;
    s = lp_vk_pipeline_get(vb, plans[k].shader, plans[k].spec, plans[k].nspec, &pipe);
    if (s != LEAP_OK) break;
    if (pipe != bound) f->vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
    bound = pipe;
    f->vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, vb->pipe_layout, 0, 1, &sets[k], 0, NULL);
    lp_vk_push pc;
    memset(&pc, 0, sizeof pc);
    memcpy(pc.off, bds[k].off, sizeof pc.off);
    memcpy(pc.i, op->i, sizeof pc.i);
    memcpy(pc.i_hi, op->i + 6, sizeof pc.i_hi);
    memcpy(pc.f, op->f, sizeof pc.f);
    pc.flags = plans[k].extent[2] ? LP_VK_FLAG_IN2 : 0;
    f->vkCmdPushConstants(cb, vb->pipe_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pc, &pc);
    f->vkCmdDispatch(cb, plans[k].groups[0], plans[k].groups[1], plans[k].groups[2]);
    if (ex->prof_pool) f->vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, ex->prof_pool, q + 2);
  }
  free(h.reads);
  free(h.writes);
  lp_vk_cmd_host_barrier(vb, cb);
  if (vb->timestamps) f->vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, vb->timestamps, 1);
  r = f->vkEndCommandBuffer(cb);
  if (s == LEAP_OK && r != VK_SUCCESS) s = lp_vk_fail(r, "vkEndCommandBuffer");
  return s;
}

static void exec_free(vk_backend *vb, lp_prog_exec *ex) {
  if (!ex) return;
  if (ex->cb) vb->vk.vkFreeCommandBuffers(vb->device, vb->cmd_pool, 1, &ex->cb);
  if (ex->pool) vb->vk.vkDestroyDescriptorPool(vb->device, ex->pool, NULL);
  if (ex->prof_pool) vb->vk.vkDestroyQueryPool(vb->device, ex->prof_pool, NULL);
  free(ex->prof_rows);
  free(ex);
}

static leap_status compile(vk_backend *vb, const lp_prog *prog, lp_prog_exec **out) {
  lp_vk_fns *f = &vb->vk;
  const int n = prog->n;
  lp_vk_plan *plans = lp_calloc((size_t)n, sizeof *plans);
  binding *bds = lp_calloc((size_t)n, sizeof *bds);
  VkDescriptorSetLayout *layouts = lp_calloc((size_t)n, sizeof *layouts);
  VkDescriptorSet *sets = lp_calloc((size_t)n, sizeof *sets);
  lp_prog_exec *ex = lp_calloc(1, sizeof *ex);
  leap_status s = LEAP_OK;
  if (!plans || !bds || !layouts || !sets || !ex) s = lp_error(LEAP_ERR_NOMEM, "vulkan: out of memory");
  for (int k = 0; k < n && s == LEAP_OK; k++) {
    s = lp_vk_plan_op(vb, &prog->ops[k], &plans[k]);
    if (s != LEAP_OK) {
      char why[512]; /* lp_error must not read the buffer it writes */
      snprintf(why, sizeof why, "%s", leap_last_error());
      s = lp_error(s, "program op %d: %s", k, why);
    }
    if (s == LEAP_OK) s = bind_views(vb, &prog->ops[k], k, &plans[k], &bds[k]);
    layouts[k] = vb->set_layout;
  }
  VkResult r = VK_SUCCESS;
  if (s == LEAP_OK) {
    VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = 4u * (uint32_t)n};
    VkDescriptorPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                      .maxSets = (uint32_t)n,
                                      .poolSizeCount = 1,
                                      .pPoolSizes = &size};
    r = f->vkCreateDescriptorPool(vb->device, &pci, NULL, &ex->pool);
    if (r != VK_SUCCESS) s = lp_vk_fail(r, "vkCreateDescriptorPool");
  }
  if (s == LEAP_OK) {
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = ex->pool,
                                      .descriptorSetCount = (uint32_t)n,
                                      .pSetLayouts = layouts};
    r = f->vkAllocateDescriptorSets(vb->device, &ai, sets);
    if (r != VK_SUCCESS) s = lp_vk_fail(r, "vkAllocateDescriptorSets");
  }
  for (int k = 0; k < n && s == LEAP_OK; k++) {
    VkWriteDescriptorSet w[4];
    for (uint32_t j = 0; j < 4; j++)
      w[j] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                    .dstSet = sets[k],
                                    .dstBinding = j,
                                    .descriptorCount = 1,
                                    .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                    .pBufferInfo = &bds[k].info[j]};
    f->vkUpdateDescriptorSets(vb->device, 4, w, 0, NULL);
  }
  if (s == LEAP_OK) {
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = vb->cmd_pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    r = f->vkAllocateCommandBuffers(vb->device, &cai, &ex->cb);
    if (r != VK_SUCCESS) s = lp_vk_fail(r, "vkAllocateCommandBuffers");
  }
  if (s == LEAP_OK && vb->profile) {
    s = lp_vk_profile_pool(vb, n, &ex->prof_pool);
    ex->prof_rows = lp_calloc((size_t)n, sizeof *ex->prof_rows);
    if (s == LEAP_OK && !ex->prof_rows) s = lp_error(LEAP_ERR_NOMEM, "vulkan: out of memory");
    for (int k = 0; k < n && s == LEAP_OK; k++) ex->prof_rows[k] = lp_vk_profile_op_row(vb, &prog->ops[k]);
  }
  if (s == LEAP_OK) s = record(vb, prog, ex, plans, sets, bds);
  free(plans);
  free(bds);
  free(layouts);
  free(sets);
  if (s != LEAP_OK) {
    exec_free(vb, ex);
    return s;
  }
  ex->n = n;
  *out = ex;
  return LEAP_OK;
}

static leap_status prog_run(vk_backend *vb, lp_prog *prog);

leap_status lp_vk_prog_run(lp_backend *be, lp_prog *prog) {
  vk_backend *vb = (vk_backend *)be;
  const double t0 = lp_vk_profile_enter(vb);
  leap_status s = prog_run(vb, prog);
  lp_vk_profile_leave(vb, NULL, t0);
  return s;
}

static leap_status prog_run(vk_backend *vb, lp_prog *prog) {
  lp_backend *be = &vb->base;
  if (!prog) return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: NULL program");
  if (prog->n == 0) return LEAP_OK;
  if (prog->exec && prog->exec->n != prog->n) lp_vk_prog_release(be, prog);
  if (!prog->exec) {
    leap_status s = compile(vb, prog, &prog->exec);
    if (s != LEAP_OK) return s;
  }
  const double t0 = vb->profile ? lp_vk_now_ms() : 0;
  leap_status s = lp_vk_submit_wait(vb, prog->exec->cb);
  if (s != LEAP_OK) return s;
  const double wall_ms = vb->profile ? lp_vk_now_ms() - t0 : 0;
  if (vb->timestamps) {
    uint64_t t[2];
    VkResult r = vb->vk.vkGetQueryPoolResults(vb->device, vb->timestamps, 0, 2, sizeof t, t, sizeof t[0],
                                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r != VK_SUCCESS) return lp_vk_fail(r, "vkGetQueryPoolResults");
    const uint64_t ticks = (t[1] - t[0]) & vb->ts_mask;
    vb->last_gpu_ms = (double)ticks * vb->ts_period_ns * 1e-6;
  }
  if (vb->profile) {
    /* Host time around the GPU's: submission, fence wait, wake-up. */
    const double gpu = vb->last_gpu_ms >= 0 ? vb->last_gpu_ms : 0;
    lp_vk_profile_add(vb, lp_vk_profile_row(vb, "(submit + wait, host)"), wall_ms > gpu ? wall_ms - gpu : 0);
    s = lp_vk_profile_collect(vb, prog->exec->prof_pool, prog->exec->prof_rows, prog->exec->n);
  }
  return s;
}

void lp_vk_prog_release(lp_backend *be, lp_prog *prog) {
  if (!prog || !prog->exec) return;
  exec_free((vk_backend *)be, prog->exec);
  prog->exec = NULL;
}
