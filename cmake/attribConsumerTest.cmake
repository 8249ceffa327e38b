# cmake -D MODE=find_package|add_subdirectory -D ATTRIB_SOURCE=<src> -D ATTRIB_BINARY=<build>
#       -D CONSUMER_SOURCE=<tests/cmake_consumer> -D WORK_DIR=<scratch> [-D GENERATOR=...]
#       [-D CXX_COMPILER=...] [-D CONFIG=...] -P attribConsumerTest.cmake
#
# Configures, builds and runs the consumer project the way a user would:
#   find_package     installs ATTRIB_BINARY into WORK_DIR/prefix and finds it there;
#   add_subdirectory adds ATTRIB_SOURCE to the consumer's build.
foreach(var IN ITEMS MODE ATTRIB_SOURCE ATTRIB_BINARY CONSUMER_SOURCE WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "attribConsumerTest.cmake: -D ${var}=... is required")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Release)
endif()

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "consumer (${MODE}): ${step} failed (${result}):\n${ARGN}\n${output}")
  endif()
  message(STATUS "consumer (${MODE}): ${step} ok")
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")

set(configure_args -S "${CONSUMER_SOURCE}" -B "${build}" "-DCMAKE_BUILD_TYPE=${CONFIG}"
                   "-DATTRIB_CONSUMER_MODE=${MODE}")
if(GENERATOR)
  list(APPEND configure_args -G "${GENERATOR}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()

if(MODE STREQUAL "find_package")
  run("install" "${CMAKE_COMMAND}" --install "${ATTRIB_BINARY}" --prefix "${prefix}" --config "${CONFIG}")
  # The package registry and a system-wide attrib must not stand in for the tree just installed.
  list(APPEND configure_args "-DCMAKE_PREFIX_PATH=${prefix}" "-DATTRIB_CONSUMER_EXPECTED_PREFIX=${prefix}"
       -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
elseif(MODE STREQUAL "add_subdirectory")
  list(APPEND configure_args "-DATTRIB_CONSUMER_ATTRIB_SOURCE=${ATTRIB_SOURCE}")
else()
  message(FATAL_ERROR "MODE must be find_package or add_subdirectory, not '${MODE}'")
endif()

run("configure" "${CMAKE_COMMAND}" ${configure_args})
run("build" "${CMAKE_COMMAND}" --build "${build}" --config "${CONFIG}")
if(EXISTS "${build}/${CONFIG}/attrib_consumer${CMAKE_EXECUTABLE_SUFFIX}")
  set(exe "${build}/${CONFIG}/attrib_consumer${CMAKE_EXECUTABLE_SUFFIX}")
else()
  set(exe "${build}/attrib_consumer${CMAKE_EXECUTABLE_SUFFIX}")
endif()
run("run" "${exe}")
