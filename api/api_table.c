/* api_table.c - leap_get_api: the one entry point a host finds with dlsym
 * (include/leap.h, "entry point"). The table is one static initializer of
 * every public call, by designated field, so a field left out would stay
 * NULL: tests/test_api_table.cpp checks that every pointer is set and that
 * the table has one pointer per call leap.h declares.
 *
 * It lives above every other folder of the library (it names calls of all
 * of them) and includes only leap.h and core/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "leap.h"
#include "struct_size.h"

static const leap_api g_api = {
    .struct_size = sizeof(leap_api),
    .version = LEAP_API_VERSION,
    .api_version = leap_api_version,
    .status_string = leap_status_string,
    .last_error = leap_last_error,
    .vulkan_device_count = leap_vulkan_device_count,
    .vulkan_device_info = leap_vulkan_device_info,
    .context_desc_default = leap_context_desc_default,
    .context_create = leap_context_create,
    .context_create_vulkan_external = leap_context_create_vulkan_external,
    .context_destroy = leap_context_destroy,
    .context_backend = leap_context_backend,
    .context_device_name = leap_context_device_name,
    .context_validation_messages = leap_context_validation_messages,
    .tensor_create = leap_tensor_create,
    .tensor_wrap_host = leap_tensor_wrap_host,
    .tensor_wrap_vkbuffer = leap_tensor_wrap_vkbuffer,
    .tensor_destroy = leap_tensor_destroy,
    .tensor_write = leap_tensor_write,
    .tensor_read = leap_tensor_read,
    .tensor_ndim = leap_tensor_ndim,
    .tensor_dim = leap_tensor_dim,
    .tensor_dtype = leap_tensor_dtype,
    .tensor_numel = leap_tensor_numel,
    .model_load = leap_model_load,
    .model_destroy = leap_model_destroy,
    .model_get_info = leap_model_get_info,
    .model_weight_count = leap_model_weight_count,
    .model_weight = leap_model_weight,
    .model_forward = leap_model_forward,
    .model_embed = leap_model_embed,
    .model_blocks = leap_model_blocks,
    .model_final = leap_model_final,
    .model_hidden = leap_model_hidden,
    .sample_desc_default = leap_sample_desc_default,
    .noise_fill = leap_noise_fill,
    .sample = leap_sample,
    .solver_name = leap_solver_name,
    .schedule_name = leap_schedule_name,
    .solver_from_name = leap_solver_from_name,
    .schedule_from_name = leap_schedule_from_name,
    .lcsc_combine_desc_default = leap_lcsc_combine_desc_default,
    .lcsc_combine = leap_lcsc_combine,
    .lcsc_search_desc_default = leap_lcsc_search_desc_default,
    .lcsc_search = leap_lcsc_search,
    .cache_desc_default = leap_cache_desc_default,
    .cache_create = leap_cache_create,
    .cache_destroy = leap_cache_destroy,
    .cache_reset = leap_cache_reset,
    .cache_begin = leap_cache_begin,
    .cache_end = leap_cache_end,
    .cache_step_scale = leap_cache_step_scale,
    .cache_adjust_schedule = leap_cache_adjust_schedule,
    .cache_get_stats = leap_cache_get_stats,
    .model_id = leap_model_id,
    .disback_schedule_desc_default = leap_disback_schedule_desc_default,
    .disback_schedule_create = leap_disback_schedule_create,
    .disback_schedule_destroy = leap_disback_schedule_destroy,
    .disback_schedule_observe = leap_disback_schedule_observe,
    .disback_schedule_target = leap_disback_schedule_target,
    .disback_schedule_stage = leap_disback_schedule_stage,
    .disback_schedule_stage_start = leap_disback_schedule_stage_start,
    .disback_schedule_restore = leap_disback_schedule_restore,
    .dmd_gradient = leap_dmd_gradient,
    .block_schedule_desc_default = leap_block_schedule_desc_default,
    .block_schedule_create = leap_block_schedule_create,
    .block_schedule_destroy = leap_block_schedule_destroy,
    .block_schedule_chunks = leap_block_schedule_chunks,
    .block_schedule_iterations = leap_block_schedule_iterations,
    .block_schedule_chunk_frames = leap_block_schedule_chunk_frames,
    .block_schedule_get = leap_block_schedule_get,
    .block_noise_shuffle = leap_block_noise_shuffle,
    .kv_policy_desc_default = leap_kv_policy_desc_default,
    .kv_policy_create = leap_kv_policy_create,
    .kv_policy_destroy = leap_kv_policy_destroy,
    .kv_policy_add = leap_kv_policy_add,
    .kv_policy_select = leap_kv_policy_select,
    .kv_policy_stored = leap_kv_policy_stored,
    .video_desc_default = leap_video_desc_default,
    .video_sample = leap_video_sample,
    .model_forward_frames = leap_model_forward_frames,
    .disback_schedule_window = leap_disback_schedule_window,
    .disback_schedule_restore_window = leap_disback_schedule_restore_window,
};

leap_status leap_get_api(uint32_t major, leap_api *out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "leap_get_api: out is NULL");
  leap_status s = lp_struct_check(out, "leap_get_api");
  if (s != LEAP_OK) return s;
  if (major != LEAP_API_VERSION_MAJOR) {
    /* Only the version, so that the host can say what it found. */
    uint32_t have;
    memcpy(&have, out, sizeof have);
    if (have >= offsetof(leap_api, version) + sizeof out->version) out->version = LEAP_API_VERSION;
    return lp_error(LEAP_ERR_UNSUPPORTED,
                    "leap_get_api: API major %u was asked for; this library is %d.%d.%d and serves major %d only",
                    (unsigned)major, LEAP_API_VERSION_MAJOR, LEAP_API_VERSION_MINOR, LEAP_API_VERSION_PATCH,
                    LEAP_API_VERSION_MAJOR);
  }
  return lp_struct_out(out, &g_api, sizeof g_api, "leap_get_api");
}
