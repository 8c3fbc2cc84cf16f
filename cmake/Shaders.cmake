# Compiles every shaders/*.comp to SPIR-V with glslangValidator and embeds
# the words in one generated C file (leap_shaders.c / leap_shaders.h):
#   extern const leap_shader_blob leap_shaders[]; extern const int leap_shader_count;
# A shader that fails to compile fails the build.
function(leap_embed_shaders out_var shader_dir)
  file(GLOB shader_files CONFIGURE_DEPENDS ${shader_dir}/*.comp)
  set(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/shaders)
  file(MAKE_DIRECTORY ${gen_dir})
  set(spv_files "")
  foreach(src ${shader_files})
    get_filename_component(name ${src} NAME_WE)
    set(spv ${gen_dir}/${name}.spv)
    add_custom_command(OUTPUT ${spv}
      COMMAND ${GLSLANG_VALIDATOR} -V --target-env vulkan1.2 -o ${spv} ${src}
      DEPENDS ${src} ${shader_dir}/common.glsl
      COMMENT "GLSL -> SPIR-V: ${name}" VERBATIM)
    list(APPEND spv_files ${spv})
  endforeach()
  set(gen_c ${gen_dir}/leap_shaders.c)
  add_custom_command(OUTPUT ${gen_c} ${gen_dir}/leap_shaders.h
    COMMAND ${CMAKE_COMMAND} -DOUT_DIR=${gen_dir} "-DSPV_FILES=${spv_files}"
            -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/EmbedSpirv.cmake
    DEPENDS ${spv_files} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/EmbedSpirv.cmake
    COMMENT "Embedding SPIR-V" VERBATIM)
  set(${out_var} ${gen_c} PARENT_SCOPE)
endfunction()
