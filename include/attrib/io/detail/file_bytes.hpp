#pragma once
// Whole-file reads and writes that report failures as format_error naming the path.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "attrib/core/error.hpp"

namespace attrib::detail {

inline std::string read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw format_error(path.string() + ": cannot open file for reading");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw format_error(path.string() + ": read failed");
  return bytes;
}

inline void write_file_bytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw format_error(path.string() + ": cannot open file for writing");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  if (!out) throw format_error(path.string() + ": write failed");
}

}  // namespace attrib::detail
