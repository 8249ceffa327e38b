#pragma once
// Whole-file reads that report failures as format_error naming the path (writes: atomic_file.hpp).
#include <cstddef>
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

// At most `limit` bytes of a file that is `what` (for messages); a longer file - or a device or
// pipe that never ends - is refused as soon as the read passes the limit, with invalid_argument,
// as an input the user chose rather than a corrupt one. The readers of small text inputs (truth
// datasets, edit requests) use it.
inline std::string read_file_bytes_at_most(const std::filesystem::path& path, std::size_t limit, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw invalid_argument(path.string() + ": cannot open file for reading, expected " + what);
  std::string bytes;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    bytes.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (bytes.size() > limit)
      throw invalid_argument(path.string() + ": file is larger than " + std::to_string(limit) + " bytes, expected " + what);
  }
  if (in.bad()) throw invalid_argument(path.string() + ": read failed");
  return bytes;
}

}  // namespace attrib::detail
