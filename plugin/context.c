/* context.c - leap_context: one backend (CPU or Vulkan) and its device. */
#include "context.h"
#include "alloc.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "struct_size.h"
#include "vk_backend.h"

leap_context_desc leap_context_desc_default(leap_backend_kind backend) {
  leap_context_desc d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.backend = backend;
  d.validation = -1;
  return d;
}

static leap_status context_wrap(leap_backend_kind kind, lp_backend *be, leap_context **out) {
  leap_context *ctx = lp_calloc(1, sizeof *ctx);
  if (!ctx) {
    be->vt->destroy(be);
    return lp_error(LEAP_ERR_NOMEM, "context: out of memory");
  }
  ctx->kind = kind;
  ctx->be = be;
  const char *name = kind == LEAP_BACKEND_CPU ? "cpu" : lp_vk_device_name(be);
  snprintf(ctx->device_name, sizeof ctx->device_name, "%s", name ? name : "?");
  *out = ctx;
  return LEAP_OK;
}

leap_status leap_context_create(const leap_context_desc *desc, leap_context **out) {
  if (!desc || !out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_context_create: NULL argument");
  *out = NULL;
  /* A caller's older, smaller struct: the fields it lacks keep their defaults. */
  leap_context_desc d = leap_context_desc_default(LEAP_BACKEND_CPU);
  leap_status ds = lp_struct_in(&d, sizeof d, desc, "leap_context_create");
  if (ds != LEAP_OK) return ds;
  desc = &d;
  lp_backend *be = NULL;
  leap_status s;
  switch (desc->backend) {
  case LEAP_BACKEND_CPU: s = lp_cpu_backend_create(desc->threads, &be); break;
  case LEAP_BACKEND_VULKAN: s = lp_vk_backend_create(desc->device, desc->validation, &be); break;
  default: return lp_error(LEAP_ERR_INVALID_ARG, "leap_context_create: unknown backend %d", (int)desc->backend);
  }
  if (s != LEAP_OK) return s;
  return context_wrap(desc->backend, be, out);
}

leap_status leap_context_create_vulkan_external(const leap_vulkan_external *ext,
                                                leap_context **out) {
  if (!ext || !out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_context_create_vulkan_external: NULL argument");
  *out = NULL;
  leap_vulkan_external e;
  memset(&e, 0, sizeof e);
  leap_status es = lp_struct_in(&e, sizeof e, ext, "leap_context_create_vulkan_external");
  if (es != LEAP_OK) return es;
  ext = &e;
  lp_backend *be = NULL;
  leap_status s = lp_vk_backend_create_external(ext, &be);
  if (s != LEAP_OK) return s;
  return context_wrap(LEAP_BACKEND_VULKAN, be, out);
}

void leap_context_destroy(leap_context *ctx) {
  if (!ctx) return;
  ctx->be->vt->destroy(ctx->be);
  free(ctx);
}

leap_backend_kind leap_context_backend(const leap_context *ctx) { return ctx->kind; }

const char *leap_context_device_name(const leap_context *ctx) { return ctx->device_name; }

uint64_t leap_context_validation_messages(const leap_context *ctx) {
  return ctx && ctx->kind == LEAP_BACKEND_VULKAN ? lp_vk_validation_messages(ctx->be) : 0;
}
