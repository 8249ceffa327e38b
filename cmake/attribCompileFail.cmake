# cmake -D BUILD_DIR=<build tree> -D TARGET=<target> -D SOURCE=<case.cpp> [-D CONFIG=<cfg>] -P attribCompileFail.cmake
#
# Builds TARGET and succeeds only if the build fails with a compiler error whose output matches the
# regex on SOURCE's first line, `// expect: <regex>`. It is read here, at test time, so editing the
# expectation needs no reconfigure. The compiler runs in the C locale, so quotes are plain ASCII, and
# the regex sees the diagnostics with file paths replaced by <path> and build-tool lines removed.
foreach(var IN ITEMS BUILD_DIR TARGET SOURCE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "attribCompileFail.cmake: -D ${var}=... is required")
  endif()
endforeach()

file(READ "${SOURCE}" text)
if(NOT text MATCHES "^// expect: ([^\r\n]+)")
  message(FATAL_ERROR "${SOURCE}: the first line must be `// expect: <regex>`")
endif()
string(STRIP "${CMAKE_MATCH_1}" expect)

set(config_args)
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" -E env LC_ALL=C LANG=C "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target
          "${TARGET}" ${config_args}
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output
  RESULT_VARIABLE result)

if(result EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must be rejected (expected a diagnostic matching "
                      "'${expect}').\n${output}")
endif()
if(output MATCHES "No rule to make target|unknown target|could not load cache")
  message(FATAL_ERROR "the build system does not know the target ${TARGET}; reconfigure.\n${output}")
endif()
if(NOT output MATCHES "error")
  message(FATAL_ERROR "building ${TARGET} failed without a compiler error.\n${output}")
endif()
# Match the compiler's words, not the build tool's progress lines or file paths: a regex such as
# `model` would otherwise match the case's own file name.
set(diagnostics "\n${output}")
string(REGEX REPLACE "\n(\\[[ 0-9/%]+\\] |g?make(\\[[0-9]+\\])?: |ninja: |FAILED: )[^\n]*" "" diagnostics "${diagnostics}")
string(REGEX REPLACE "[^ \t\r\n'\"]*/[^ \t\r\n'\"]*" "<path>" diagnostics "${diagnostics}")
if(NOT diagnostics MATCHES "${expect}")
  message(FATAL_ERROR "${SOURCE} was rejected, but no diagnostic matches '${expect}' (paths are replaced by <path> before matching).\n${output}")
endif()
message(STATUS "${SOURCE} rejected as expected (matched '${expect}')")
