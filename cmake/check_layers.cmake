# check_layers.cmake - fails when a source folder includes a header of a
# folder above it. Run by CTest (test `layers`) and by hand:
#   cmake -DLEAP_SOURCE_DIR=. -P cmake/check_layers.cmake
#
# The layers, lowest first. A file may include headers of its own folder and
# of folders listed before it; include/leap.h (the public header) is
# everywhere. The order is total, so no two folders can ever include each
# other (the cycles plugin <-> models <-> checkpoints this check replaced).
# tests/, fuzz/ and bench/ sit outside the order: they may reach anything.
set(LEAP_LAYERS core plugin samplers models sample checkpoints block distill api examples)

if(NOT LEAP_SOURCE_DIR)
  set(LEAP_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR}/..)
endif()
get_filename_component(LEAP_SOURCE_DIR "${LEAP_SOURCE_DIR}" ABSOLUTE)

# Which folder each header name lives in (headers are included by bare name,
# every layer folder being on the include path).
set(header_names "")
foreach(layer IN LISTS LEAP_LAYERS)
  file(GLOB_RECURSE hs RELATIVE ${LEAP_SOURCE_DIR} ${LEAP_SOURCE_DIR}/${layer}/*.h)
  foreach(h IN LISTS hs)
    get_filename_component(name ${h} NAME)
    if(DEFINED home_${name})
      message(FATAL_ERROR "layers: header ${name} exists in both ${home_${name}} and ${layer}/; "
                          "a bare #include could mean either")
    endif()
    set(home_${name} ${layer})
  endforeach()
endforeach()

set(violations 0)
set(rank 0)
foreach(layer IN LISTS LEAP_LAYERS)
  file(GLOB_RECURSE srcs RELATIVE ${LEAP_SOURCE_DIR}
       ${LEAP_SOURCE_DIR}/${layer}/*.c ${LEAP_SOURCE_DIR}/${layer}/*.h)
  foreach(src IN LISTS srcs)
    file(STRINGS ${LEAP_SOURCE_DIR}/${src} incs REGEX "^[ \t]*#[ \t]*include[ \t]*\"[^\"]+\"")
    foreach(line IN LISTS incs)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*" "\\1" inc "${line}")
      get_filename_component(name ${inc} NAME)
      if(NOT DEFINED home_${name})
        continue() # leap.h, generated shader arrays, a file's own private includes
      endif()
      list(FIND LEAP_LAYERS ${home_${name}} their_rank)
      if(their_rank GREATER rank)
        message(SEND_ERROR "layers: ${src} includes ${name} of ${home_${name}}/, "
                           "a layer above ${layer}/ (order: ${LEAP_LAYERS})")
        math(EXPR violations "${violations} + 1")
      endif()
    endforeach()
  endforeach()
  math(EXPR rank "${rank} + 1")
endforeach()

if(violations GREATER 0)
  message(FATAL_ERROR "layers: ${violations} include(s) point up")
endif()
message(STATUS "layers: no include points up (${LEAP_LAYERS})")
