/* vk_pipeline.c - compute pipelines, one per (shader, specialisation
 * constants), created on first use and kept for the backend's lifetime. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "leap_shaders.h"
#include "vk_internal.h"

static int shader_index(const char *name) {
  for (int k = 0; k < leap_shader_count; k++)
    if (leap_shaders[k].name && !strcmp(leap_shaders[k].name, name)) return k;
  return -1;
}

static leap_status module_for(vk_backend *vb, const char *shader, VkShaderModule *out) {
  const int k = shader_index(shader);
  if (k < 0) return lp_error(LEAP_ERR_UNSUPPORTED, "vulkan: shader \"%s\" is not built in", shader);
  if (!vb->modules[k]) {
    VkShaderModuleCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = leap_shaders[k].bytes,
                                   .pCode = leap_shaders[k].code};
    VkResult r = vb->vk.vkCreateShaderModule(vb->device, &ci, NULL, &vb->modules[k]);
    if (r != VK_SUCCESS) return lp_vk_fail(r, "vkCreateShaderModule");
  }
  *out = vb->modules[k];
  return LEAP_OK;
}

leap_status lp_vk_pipeline_get(vk_backend *vb, const char *shader, const uint32_t *spec, int nspec,
                               VkPipeline *out) {
  for (int k = 0; k < vb->npipes; k++) {
    const lp_vk_pipeline *p = &vb->pipes[k];
    if (p->nspec == nspec && !strcmp(p->shader, shader) &&
        !memcmp(p->spec, spec, (size_t)nspec * sizeof *spec)) {
      *out = p->pipeline;
      return LEAP_OK;
    }
  }
  if (nspec > LP_VK_MAX_SPEC) return lp_error(LEAP_ERR_INVALID_ARG, "vulkan: too many spec constants");
  if (vb->npipes == vb->cap_pipes) {
    const int cap = vb->cap_pipes ? 2 * vb->cap_pipes : 16;
    lp_vk_pipeline *p = lp_realloc(vb->pipes, (size_t)cap * sizeof *p);
    if (!p) return lp_error(LEAP_ERR_NOMEM, "vulkan: out of memory");
    vb->pipes = p;
    vb->cap_pipes = cap;
  }
  lp_vk_pipeline *p = &vb->pipes[vb->npipes];
  memset(p, 0, sizeof *p);
  p->shader = shader;
  p->nspec = nspec;
  memcpy(p->spec, spec, (size_t)nspec * sizeof *spec);
  leap_status s = module_for(vb, shader, &p->module);
  if (s != LEAP_OK) return s;

  /* Constant id k takes spec[k] (all 32-bit). */
  VkSpecializationMapEntry map[LP_VK_MAX_SPEC];
  for (int k = 0; k < nspec; k++)
    map[k] = (VkSpecializationMapEntry){.constantID = (uint32_t)k,
                                        .offset = (uint32_t)(k * sizeof(uint32_t)),
                                        .size = sizeof(uint32_t)};
  VkSpecializationInfo si = {.mapEntryCount = (uint32_t)nspec,
                             .pMapEntries = map,
                             .dataSize = (size_t)nspec * sizeof(uint32_t),
                             .pData = p->spec};
  VkComputePipelineCreateInfo ci = {
      .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
      .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                .module = p->module,
                .pName = "main",
                .pSpecializationInfo = nspec ? &si : NULL},
      .layout = vb->pipe_layout,
  };
  const double t0 = vb->profile ? lp_vk_now_ms() : 0;
  VkResult r = vb->vk.vkCreateComputePipelines(vb->device, VK_NULL_HANDLE, 1, &ci, NULL, &p->pipeline);
  if (vb->profile)
    lp_vk_profile_add(vb, lp_vk_profile_row(vb, "(pipeline creation, host)"), lp_vk_now_ms() - t0);
  if (r != VK_SUCCESS) return lp_error(lp_vk_fail(r, "vkCreateComputePipelines"),
                                       "vulkan: cannot build pipeline %s: %s", shader,
                                       lp_vk_result_name(r));
  vb->npipes++;
  *out = p->pipeline;
  return LEAP_OK;
}

void lp_vk_pipelines_destroy(vk_backend *vb) {
  for (int k = 0; k < vb->npipes; k++) vb->vk.vkDestroyPipeline(vb->device, vb->pipes[k].pipeline, NULL);
  free(vb->pipes);
  vb->pipes = NULL;
  vb->npipes = vb->cap_pipes = 0;
  if (vb->modules)
    for (int k = 0; k < leap_shader_count; k++)
      if (vb->modules[k]) vb->vk.vkDestroyShaderModule(vb->device, vb->modules[k], NULL);
}
