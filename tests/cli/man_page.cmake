# The generated man page: every command has its section, and groff formats it without a warning
# (-k: UTF-8 input through preconv, as man does).
#   cmake -DPAGE=build/.../attrib.1 -P man_page.cmake
if(NOT EXISTS "${PAGE}")
  message(FATAL_ERROR "the man page ${PAGE} was not generated")
endif()
file(READ "${PAGE}" page)
foreach(expected IN ITEMS ".TH ATTRIB 1" ".SH SYNOPSIS" ".SH ATTRIB EXPLAIN" ".SH ATTRIB TRAIN" ".SH ATTRIB DATA SPLIT"
                          ".SH ATTRIB GRAPH" ".SH ATTRIB LLM PATCH" ".SH ATTRIB LLM ATTRIBUTE" ".SH ATTRIB LLM COMPONENTS" "\\-\\-model PATH" "usage: attrib llm patch")
  string(FIND "${page}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the man page lacks '${expected}'")
  endif()
endforeach()
find_program(GROFF groff)
if(GROFF)
  execute_process(COMMAND "${GROFF}" -k -man -Tutf8 -ww -z "${PAGE}" RESULT_VARIABLE status ERROR_VARIABLE warnings)
  if(NOT status EQUAL 0 OR NOT warnings STREQUAL "")
    message(FATAL_ERROR "groff reports on ${PAGE} (status ${status}):\n${warnings}")
  endif()
  message(STATUS "groff formats ${PAGE} without warnings")
endif()
