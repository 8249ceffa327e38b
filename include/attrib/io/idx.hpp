#pragma once
// IDX files, the format of MNIST and Fashion-MNIST (LeCun et al.):
//
//   bytes 0-1   0x00 0x00
//   byte  2     element type: 0x08 unsigned byte (the only type read here; 0x09 signed byte,
//               0x0B int16, 0x0C int32, 0x0D float32 and 0x0E float64 are named in the error)
//   byte  3     number of dimensions, 1 or more
//   then        one big-endian uint32 per dimension
//   then        the elements, row-major, exactly the product of the dimensions
//
// Every size is checked before it is used: the header must fit, the product of the dimensions
// must not overflow (nor exceed 2^32 for an empty array) and must equal the bytes that follow (neither short nor trailing data).
// A violation throws attrib::format_error naming the source and the problem. Files are read
// uncompressed; gunzip the distributed .gz files first.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/io/detail/file_bytes.hpp"

namespace attrib {

// An unsigned-byte IDX array: its dimensions and its elements in row-major order.
struct idx_array {
  std::vector<std::size_t> dims;
  std::vector<std::uint8_t> data;

  // Number of items along the first dimension (images, labels).
  std::size_t items() const { return dims.empty() ? 0 : dims.front(); }
  // Elements per item: the product of the remaining dimensions (1 for a label file).
  std::size_t item_size() const {
    std::size_t s = 1;
    for (std::size_t k = 1; k < dims.size(); ++k) s *= dims[k];
    return s;
  }
};

namespace detail {

inline const char* idx_type_name(unsigned char code) {
  switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "unknown";
  }
}

inline std::string idx_hex(unsigned value) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "0x";
  out += digits[(value >> 4) & 0xF];
  out += digits[value & 0xF];
  return out;
}

[[noreturn]] inline void idx_fail(const std::string& source, const std::string& what) {
  throw format_error(source + ": IDX: " + what);
}

}  // namespace detail

inline idx_array parse_idx(std::span<const std::uint8_t> bytes, const std::string& source = "<memory>") {
  auto fail = [&](const std::string& what) { detail::idx_fail(source, what); };
  if (bytes.size() < 4)
    fail("the file has " + std::to_string(bytes.size()) + " bytes, expected at least the 4-byte magic number");
  if (bytes[0] != 0 || bytes[1] != 0)
    fail("bad magic number: the first two bytes are " + detail::idx_hex(bytes[0]) + " " + detail::idx_hex(bytes[1]) +
         ", expected 0x00 0x00 (is the file still gzip-compressed?)");
  if (bytes[2] != 0x08)
    fail("element type " + detail::idx_hex(bytes[2]) + " (" + detail::idx_type_name(bytes[2]) +
         ") is not supported; expected 0x08 (unsigned byte)");
  const std::size_t ndims = bytes[3];
  if (ndims == 0) fail("the number of dimensions is 0, expected at least 1");
  const std::size_t header = 4 + 4 * ndims;
  if (bytes.size() < header)
    fail("the header declares " + std::to_string(ndims) + " dimensions, which need " + std::to_string(header) +
         " bytes, but the file has " + std::to_string(bytes.size()));
  idx_array out;
  out.dims.resize(ndims);
  const std::size_t available = bytes.size() - header;
  // The product of the non-zero dimensions may not exceed the data present, or 2^32 when a zero
  // dimension makes the array empty (so that item_size() cannot overflow either). Checking the
  // running product against the limit before each multiplication rules out wrap-around.
  const std::size_t limit = std::max<std::size_t>(available, std::size_t{1} << 32);
  std::size_t nonzero = 1;
  bool has_zero = false;
  for (std::size_t k = 0; k < ndims; ++k) {
    const std::size_t at = 4 + 4 * k;
    const std::uint32_t d = (std::uint32_t{bytes[at]} << 24) | (std::uint32_t{bytes[at + 1]} << 16) |
                            (std::uint32_t{bytes[at + 2]} << 8) | std::uint32_t{bytes[at + 3]};
    out.dims[k] = d;
    if (d == 0) {
      has_zero = true;
      continue;
    }
    if (nonzero > limit / d)
      fail("dimension " + std::to_string(k) + " is " + std::to_string(d) + ": the dimensions multiply to more than " +
           std::to_string(limit) + " elements (" + std::to_string(available) + " data bytes are present)");
    nonzero *= d;
  }
  const std::size_t total = has_zero ? 0 : nonzero;
  if (total != available)
    fail("the dimensions multiply to " + std::to_string(total) + " elements, but " + std::to_string(available) +
         " data bytes follow the header" + (total > available ? " (truncated file)" : " (trailing data)"));
  out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return out;
}

inline idx_array parse_idx(std::string_view bytes, const std::string& source = "<memory>") {
  return parse_idx(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
                   source);
}

inline idx_array read_idx(const std::filesystem::path& path) {
  return parse_idx(std::string_view(detail::read_file_bytes(path)), path.string());
}

// One row per item, item_size() columns, each element times `scale` (1/255 maps pixels to [0, 1]).
inline matrix idx_rows(const idx_array& a, double scale = 1.0) {
  if (a.dims.empty()) throw invalid_argument("idx_rows: the array has no dimensions");
  const auto rows = static_cast<index>(a.items());
  const auto cols = static_cast<index>(a.item_size());
  matrix out(rows, cols);
  for (index r = 0; r < rows; ++r)
    for (index c = 0; c < cols; ++c)
      out(r, c) = scale * static_cast<double>(a.data[static_cast<std::size_t>(r * cols + c)]);
  return out;
}

// A label file (one dimension) as a vector of class indices.
inline vector idx_labels(const idx_array& a) {
  if (a.dims.size() != 1)
    throw invalid_argument("idx_labels: expected a one-dimensional array, got " + std::to_string(a.dims.size()) +
                           " dimensions");
  vector out(static_cast<index>(a.data.size()));
  for (std::size_t i = 0; i < a.data.size(); ++i) out[static_cast<index>(i)] = a.data[i];
  return out;
}

}  // namespace attrib
