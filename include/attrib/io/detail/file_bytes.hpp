#pragma once
// Whole-file reads that report failures as format_error naming the path (writes: atomic_file.hpp).
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "attrib/core/error.hpp"

namespace attrib::detail {

inline std::string read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw format_error(path.string() + ": cannot open file for reading");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw format_error(path.string() + ": read failed");
  return bytes;
}

}  // namespace attrib::detail
