# Compile options for attrib's own programs (tests, examples, benchmarks, fuzzers). They are never put
# on the INTERFACE target: a consumer's warning and sanitizer choices are its own.

# attrib_add_program_options(<target>)
#   Applies ATTRIB_WERROR and ATTRIB_SANITIZE to <target>, and the data directory definitions
#   ATTRIB_DATA_DIR / ATTRIB_SOURCE_DIR (absolute paths, as string literals).
function(attrib_add_program_options target)
  if(ATTRIB_WERROR)
    if(MSVC)
      target_compile_options(${target} PRIVATE /W4 /WX)
    else()
      target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
      # GCC 12 (Debian 12) reports impossible overlaps and out-of-bounds copies inside libstdc++'s
      # std::string once it is inlined at -O2 (GCC bug 105651 and relatives), and "maybe uninitialized"
      # members inside std::function and std::optional<Eigen::...> (GCC bug 107919 and relatives).
      # ASan, UBSan and clang's warnings check the real thing.
      if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
        target_compile_options(${target} PRIVATE -Wno-restrict -Wno-array-bounds -Wno-stringop-overflow
                                                  -Wno-stringop-overread -Wno-maybe-uninitialized)
      endif()
    endif()
  endif()
  if(ATTRIB_SANITIZE)
    set(flags -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_compile_options(${target} PRIVATE ${flags})
    target_link_options(${target} PRIVATE ${flags})
  endif()
  target_compile_definitions(${target} PRIVATE ATTRIB_DATA_DIR="${PROJECT_SOURCE_DIR}/data"
                                               ATTRIB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
endfunction()
