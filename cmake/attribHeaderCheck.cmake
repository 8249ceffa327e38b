# Every public header must compile on its own: target attrib_header_check, one step per header.
#
# Each step parses the header alone (-fsyntax-only, as the first include of an empty translation
# unit) with clang when it is installed, else with the project's compiler, and with -Wall -Wextra
# -Wpedantic -Werror under ATTRIB_WERROR. A header that forgets an include fails here even when
# every program that uses it happens to include the missing one first.
#
# Why not CMake's VERIFY_INTERFACE_HEADER_SETS: it compiles each header to an object file with the
# build's optimisation flags, and code generation for the inline functions is a third of the cost
# of a header alone (6.4 s against 4.5 s for methods/data/influence.hpp with GCC at -O2). Parsing
# with clang is faster again: the 151 headers take about 370 s of CPU here, where the verify sets
# took about 440 s on a quieter machine, and the build gains a second compiler's warnings on every
# header. Each step writes a depfile, so a header is checked again when it or anything it includes
# changes.
#
# attrib_header_check(HEADERS <header>... INCLUDE_TARGETS <target>... [MPI_HEADERS <header>...
# MPI_INCLUDE_TARGETS <target>...]) needs the list of headers and the imported targets whose include
# directories they use; the MPI layer's headers are checked with MPI's include directories too
# (only theirs, so that finding MPI does not invalidate every other header's check).

find_program(ATTRIB_HEADER_CHECK_CXX NAMES clang++ clang++-14 DOC "Compiler that parses each public header alone")
if(NOT ATTRIB_HEADER_CHECK_CXX)
  set(ATTRIB_HEADER_CHECK_CXX "${CMAKE_CXX_COMPILER}")
endif()

# -isystem flags for the include directories of `targets`, but not the compiler's own (/usr/include):
# naming those with -isystem breaks the standard library's #include_next.
function(attrib_system_include_flags out)
  set(system_dirs "")
  foreach(target IN LISTS ARGN)
    get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
    foreach(dir IN LISTS dirs)
      if(dir AND NOT dir IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
        list(APPEND system_dirs "${dir}")
      endif()
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES system_dirs)
  set(flags "")
  foreach(dir IN LISTS system_dirs)
    list(APPEND flags -isystem "${dir}")
  endforeach()
  set(${out} "${flags}" PARENT_SCOPE)
endfunction()

function(attrib_header_check)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "" "HEADERS;INCLUDE_TARGETS;MPI_HEADERS;MPI_INCLUDE_TARGETS")
  set(flags -std=c++20 -fsyntax-only "-I${PROJECT_SOURCE_DIR}/include")
  if(ATTRIB_WERROR)
    list(APPEND flags -Wall -Wextra -Wpedantic -Werror)
  endif()
  attrib_system_include_flags(dependency_flags ${arg_INCLUDE_TARGETS})
  list(APPEND flags ${dependency_flags})
  attrib_system_include_flags(mpi_flags ${arg_MPI_INCLUDE_TARGETS})

  set(stamps "")
  foreach(header IN LISTS arg_HEADERS arg_MPI_HEADERS)
    set(header_flags ${flags})
    if(header IN_LIST arg_MPI_HEADERS)
      list(APPEND header_flags ${mpi_flags})
    endif()
    file(RELATIVE_PATH name "${PROJECT_SOURCE_DIR}/include" "${header}")
    set(stamp "${PROJECT_BINARY_DIR}/header_check/${name}.ok")
    add_custom_command(
      OUTPUT "${stamp}"
      COMMAND "${ATTRIB_HEADER_CHECK_CXX}" ${header_flags} -x c++ /dev/null -include "${header}"
              -MD -MF "${stamp}.d" -MT "${stamp}"
      COMMAND "${CMAKE_COMMAND}" -E touch "${stamp}"
      DEPENDS "${header}"
      DEPFILE "${stamp}.d"
      COMMENT "Checking that ${name} compiles on its own"
      VERBATIM)
    list(APPEND stamps "${stamp}")
  endforeach()
  add_custom_target(attrib_header_check DEPENDS ${stamps})

  # The whole library in one translation unit under the same compiler: headers that compile alone
  # must also compile together (no clashing names, no ambiguous overloads between rooms).
  if(ATTRIB_BUILD_TESTS)
    add_test(NAME header_check.all
             COMMAND "${ATTRIB_HEADER_CHECK_CXX}" ${flags} -x c++ /dev/null -include
                     "${PROJECT_SOURCE_DIR}/include/attrib/all.hpp")
    set_tests_properties(header_check.all PROPERTIES LABELS header_check TIMEOUT 600)
  endif()
endfunction()
