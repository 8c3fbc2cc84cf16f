/* vk_profile.c - LEAP_VK_PROFILE=1: where a Vulkan backend's time goes.
 *
 * Each compiled program gets a timestamp query pool with three stamps per
 * op (before its barrier, before its dispatch, after it), so that the GPU
 * time of every dispatch and every barrier is known after each run. Times
 * are summed per row (op kind, and for LINEAR its N x K, the shape that picks
 * the weight), together with host-side costs: pipeline creation (llvmpipe
 * JIT-compiles shaders there), the submit + fence wait around the GPU
 * time, buffer reads and writes, and the caller's own time between backend
 * calls (a sampler's host work per step). The table is printed to stderr when the backend is destroyed. Off
 * by default: the extra stamps cost a flush each on some drivers. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "alloc.h"
#include "error.h"
#include "op_table.h"
#include "vk_internal.h"

int lp_vk_profile_wanted(void) {
  const char *v = getenv("LEAP_VK_PROFILE");
  return v && v[0] && strcmp(v, "0") != 0;
}

double lp_vk_now_ms(void) { return lp_now_seconds() * 1e3; }

/* The op's table name in lower case ("ln_modulate"), into buf. */
static const char *kind_name(lp_op_kind k, char *buf, size_t size) {
  const lp_op_info *info = lp_op_info_of(k);
  snprintf(buf, size, "%s", info ? info->name : "op");
  for (char *c = buf; *c; c++) *c = (char)tolower((unsigned char)*c);
  return buf;
}

int lp_vk_profile_row(vk_backend *vb, const char *label) {
  for (int k = 0; k < vb->nprof; k++)
    if (!strcmp(vb->prof[k].label, label)) return k;
  if (vb->nprof == vb->cap_prof) {
    const int cap = vb->cap_prof ? 2 * vb->cap_prof : 16;
    lp_vk_prof_row *p = lp_realloc(vb->prof, (size_t)cap * sizeof *p);
    if (!p) return -1;
    vb->prof = p;
    vb->cap_prof = cap;
  }
  lp_vk_prof_row *r = &vb->prof[vb->nprof];
  memset(r, 0, sizeof *r);
  snprintf(r->label, sizeof r->label, "%s", label);
  return vb->nprof++;
}

void lp_vk_profile_add(vk_backend *vb, int row, double ms) {
  if (row < 0 || row >= vb->nprof) return;
  vb->prof[row].ms += ms;
  vb->prof[row].count++;
}

int lp_vk_profile_op_row(vk_backend *vb, const lp_op *op) {
  char label[sizeof vb->prof[0].label];
  if (op->kind == LP_OP_LINEAR)
    snprintf(label, sizeof label, "linear N=%d K=%d", op->i[1], op->i[2]);
  else
    kind_name(op->kind, label, sizeof label);
  return lp_vk_profile_row(vb, label);
}

leap_status lp_vk_profile_pool(vk_backend *vb, int nops, VkQueryPool *out) {
  *out = VK_NULL_HANDLE;
  if (!vb->profile || !vb->timestamps) return LEAP_OK;
  VkQueryPoolCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                               .queryType = VK_QUERY_TYPE_TIMESTAMP,
                               .queryCount = 3u * (uint32_t)nops};
  VkResult r = vb->vk.vkCreateQueryPool(vb->device, &qci, NULL, out);
  if (r != VK_SUCCESS) return lp_vk_fail(r, "vkCreateQueryPool (LEAP_VK_PROFILE)");
  return LEAP_OK;
}

leap_status lp_vk_profile_collect(vk_backend *vb, VkQueryPool pool, const int *rows, int nops) {
  if (!pool || nops <= 0) return LEAP_OK;
  const uint32_t nq = 3u * (uint32_t)nops;
  uint64_t *t = lp_malloc(nq * sizeof *t);
  if (!t) return lp_error(LEAP_ERR_NOMEM, "vulkan: out of memory (LEAP_VK_PROFILE)");
  VkResult r = vb->vk.vkGetQueryPoolResults(vb->device, pool, 0, nq, nq * sizeof *t, t, sizeof *t,
                                            VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
  if (r != VK_SUCCESS) {
    free(t);
    return lp_vk_fail(r, "vkGetQueryPoolResults (LEAP_VK_PROFILE)");
  }
  const double to_ms = vb->ts_period_ns * 1e-6;
  const int barrier_row = lp_vk_profile_row(vb, "(barriers)");
  for (int k = 0; k < nops; k++) {
    const uint64_t *q = t + 3 * k;
    lp_vk_profile_add(vb, barrier_row, (double)((q[1] - q[0]) & vb->ts_mask) * to_ms);
    lp_vk_profile_add(vb, rows[k], (double)((q[2] - q[1]) & vb->ts_mask) * to_ms);
  }
  free(t);
  return LEAP_OK;
}

double lp_vk_profile_enter(vk_backend *vb) {
  if (!vb->profile) return 0;
  const double now = lp_vk_now_ms();
  if (vb->prof_left_ms > 0) lp_vk_profile_add(vb, lp_vk_profile_row(vb, "(host, between calls)"), now - vb->prof_left_ms);
  return now;
}

void lp_vk_profile_leave(vk_backend *vb, const char *row, double t0) {
  if (!vb->profile) return;
  vb->prof_left_ms = lp_vk_now_ms();
  if (row) lp_vk_profile_add(vb, lp_vk_profile_row(vb, row), vb->prof_left_ms - t0);
}

static int by_time(const void *a, const void *b) {
  const double x = ((const lp_vk_prof_row *)a)->ms, y = ((const lp_vk_prof_row *)b)->ms;
  return (x < y) - (x > y);
}

void lp_vk_profile_print(vk_backend *vb) {
  if (!vb->profile) return;
  double total = 0;
  for (int k = 0; k < vb->nprof; k++) total += vb->prof[k].ms;
  qsort(vb->prof, (size_t)vb->nprof, sizeof *vb->prof, by_time);
  fprintf(stderr, "leap: vulkan profile on %s (LEAP_VK_PROFILE)%s\n", vb->name,
          vb->timestamps ? "" : ": the queue has no timestamps, host times only");
  fprintf(stderr, "  %-28s %8s %11s %11s %6s\n", "row", "calls", "total ms", "mean us", "%");
  for (int k = 0; k < vb->nprof; k++) {
    const lp_vk_prof_row *r = &vb->prof[k];
    fprintf(stderr, "  %-28s %8llu %11.2f %11.1f %5.1f%%\n", r->label, (unsigned long long)r->count,
            r->ms, r->count ? r->ms * 1e3 / (double)r->count : 0.0, total > 0 ? 100.0 * r->ms / total : 0.0);
  }
}
