# Defines the imported target PCRE2::pcre2-8 (PCRE2 with 8-bit code units), from pkg-config's
# libpcre2-8 where available and from find_path/find_library otherwise. Included by attrib's
# CMakeLists.txt and by the installed attribConfig.cmake, so consumers find PCRE2 the same way.
if(TARGET PCRE2::pcre2-8)
  return()
endif()

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(ATTRIB_PCRE2 QUIET IMPORTED_TARGET GLOBAL libpcre2-8)
endif()

if(TARGET PkgConfig::ATTRIB_PCRE2)
  add_library(PCRE2::pcre2-8 INTERFACE IMPORTED GLOBAL)
  target_link_libraries(PCRE2::pcre2-8 INTERFACE PkgConfig::ATTRIB_PCRE2)
else()
  find_path(ATTRIB_PCRE2_INCLUDE_DIR pcre2.h)
  find_library(ATTRIB_PCRE2_LIBRARY NAMES pcre2-8)
  if(NOT ATTRIB_PCRE2_INCLUDE_DIR OR NOT ATTRIB_PCRE2_LIBRARY)
    set(message "attrib needs PCRE2 (8-bit) for its tokenizers: install libpcre2-dev, or set "
                "ATTRIB_PCRE2_INCLUDE_DIR and ATTRIB_PCRE2_LIBRARY")
    if(CMAKE_FIND_PACKAGE_NAME STREQUAL "attrib")
      # Inside find_package(attrib): report "not found" rather than stopping the consumer's configure.
      string(CONCAT attrib_NOT_FOUND_MESSAGE ${message})
      set(attrib_FOUND FALSE)
      return()
    endif()
    message(FATAL_ERROR ${message})
  endif()
  add_library(PCRE2::pcre2-8 UNKNOWN IMPORTED GLOBAL)
  set_target_properties(PCRE2::pcre2-8 PROPERTIES IMPORTED_LOCATION "${ATTRIB_PCRE2_LIBRARY}"
                                                  INTERFACE_INCLUDE_DIRECTORIES "${ATTRIB_PCRE2_INCLUDE_DIR}")
endif()
