#pragma once
// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON mapping tensor names to {dtype, shape, data_offsets} plus an
// optional "__metadata__" string map, then the tensor bytes. Parsing validates everything a
// hostile file could get wrong, so that it can be fed untrusted bytes (and is fuzzed).
//
// Two levels: parse_safetensors_view checks a file and returns views of its tensors' stored bytes
// (for memory-mapped model checkpoints, which stay in their stored type); parse_safetensors
// decodes every value to double. write_stored_safetensors writes tensors given as stored bytes.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/text.hpp"
#include "attrib/io/json.hpp"
#include "attrib/core/types.hpp"
#include "attrib/io/atomic_file.hpp"
#include "attrib/io/detail/file_bytes.hpp"

namespace attrib {

// The element types attrib reads (all converted to double) and writes (f32, f64 only).
enum class tensor_dtype { f16, bf16, f32, f64 };

struct tensor {
  std::vector<index> shape;                // empty for a scalar
  vector values;                           // row-major, product(shape) entries
  tensor_dtype dtype = tensor_dtype::f64;  // how it was stored
};

using tensor_map = std::map<std::string, tensor, std::less<>>;

// A tensor as it is stored: its dtype, shape and little-endian bytes (a view into a file when
// parsed, or bytes the caller owns when written).
struct stored_tensor {
  tensor_dtype dtype = tensor_dtype::f32;
  std::vector<index> shape;  // empty for a scalar
  std::span<const std::byte> bytes;
};

using stored_tensor_map = std::map<std::string, stored_tensor, std::less<>>;

struct safetensors_view {
  stored_tensor_map tensors;
  std::map<std::string, std::string> metadata;  // the "__metadata__" entry, if any
};

struct safetensors_content {
  tensor_map tensors;
  std::map<std::string, std::string> metadata;  // the "__metadata__" entry, if any
};

inline tensor matrix_tensor(const matrix& m) {
  return {{m.rows(), m.cols()}, Eigen::Map<const vector>(m.data(), m.size()), tensor_dtype::f64};
}

inline tensor vector_tensor(const vector& v) { return {{v.size()}, v, tensor_dtype::f64}; }

namespace detail {

struct dtype_info {
  std::string_view name;
  tensor_dtype dtype;
  std::size_t bytes;
};

inline constexpr dtype_info dtype_table[] = {
    {"F16", tensor_dtype::f16, 2},
    {"BF16", tensor_dtype::bf16, 2},
    {"F32", tensor_dtype::f32, 4},
    {"F64", tensor_dtype::f64, 8},
};

// Valid safetensors dtypes that attrib does not read.
inline constexpr std::string_view unsupported_dtypes[] = {
    "BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F8_E4M3", "F8_E5M2"};

inline std::uint64_t load_le(const std::byte* p, std::size_t bytes) {
  std::uint64_t v = 0;
  for (std::size_t k = 0; k < bytes; ++k) v |= std::to_integer<std::uint64_t>(p[k]) << (8 * k);
  return v;
}

inline void store_le(std::string& out, std::uint64_t v, std::size_t bytes) {
  for (std::size_t k = 0; k < bytes; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
}

inline double half_to_double(std::uint16_t bits) {
  const double sign = (bits & 0x8000) ? -1.0 : 1.0;
  const int exponent = (bits >> 10) & 0x1F;
  const int mantissa = bits & 0x3FF;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31)
    return mantissa ? std::numeric_limits<double>::quiet_NaN()
                    : sign * std::numeric_limits<double>::infinity();
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

inline double decode(const std::byte* p, tensor_dtype dtype) {
  switch (dtype) {
    case tensor_dtype::f16: return half_to_double(static_cast<std::uint16_t>(load_le(p, 2)));
    case tensor_dtype::bf16:
      return std::bit_cast<float>(static_cast<std::uint32_t>(load_le(p, 2) << 16));
    case tensor_dtype::f32: return std::bit_cast<float>(static_cast<std::uint32_t>(load_le(p, 4)));
    case tensor_dtype::f64: return std::bit_cast<double>(load_le(p, 8));
  }
  return 0.0;
}

[[noreturn]] inline void safetensors_fail(const std::string& source, const std::string& what) {
  throw format_error(source + ": invalid safetensors: " + what);
}

// A non-negative JSON integer that fits in 64 bits.
inline bool json_count(const nlohmann::json& j, std::uint64_t& out) {
  if (j.is_number_unsigned()) {
    out = j.get<std::uint64_t>();
    return true;
  }
  if (j.is_number_integer() && j.get<std::int64_t>() >= 0) {
    out = static_cast<std::uint64_t>(j.get<std::int64_t>());
    return true;
  }
  return false;
}

// The 8-byte length and the JSON header, padded with spaces so that the data starts 8-byte
// aligned.
inline std::string safetensors_header(const nlohmann::ordered_json& header, const char* who) {
  std::string json;
  try {
    json = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw invalid_argument(std::string(who) + ": a name is not valid UTF-8: " + e.what());
  }
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + json.size());
  store_le(out, json.size(), 8);
  out += json;
  return out;
}

}  // namespace detail

inline std::string_view dtype_name(tensor_dtype dtype) {
  for (const auto& d : detail::dtype_table)
    if (d.dtype == dtype) return d.name;
  return "?";
}

inline std::size_t dtype_bytes(tensor_dtype dtype) {
  for (const auto& d : detail::dtype_table)
    if (d.dtype == dtype) return d.bytes;
  return 0;
}

// Checks a whole safetensors file held in memory and returns views of its tensors into `bytes`.
// Throws format_error, naming `source` and the offending tensor, for: a truncated file; a header
// length beyond the file; a header that is not a JSON object; entries without exactly dtype,
// shape and data_offsets; an unknown or unsupported dtype; a shape that is not a list of
// non-negative integers; offsets out of range or whose length differs from product(shape) *
// dtype size; tensors that overlap or leave gaps in the data buffer; a __metadata__ that is not a
// string-to-string map.
inline safetensors_view parse_safetensors_view(std::span<const std::byte> bytes,
                                               const std::string& source = "<memory>") {
  using detail::safetensors_fail;
  if (bytes.size() < 8)
    safetensors_fail(source, "file has " + std::to_string(bytes.size()) +
                                 " bytes, fewer than the 8-byte header length");
  const std::uint64_t header_length = detail::load_le(bytes.data(), 8);
  if (header_length > bytes.size() - 8)
    safetensors_fail(source, "header length " + std::to_string(header_length) + " exceeds the " +
                                 std::to_string(bytes.size() - 8) + " bytes after it");
  const auto* header_begin = reinterpret_cast<const char*>(bytes.data() + 8);
  const std::string_view header_text(header_begin, static_cast<std::size_t>(header_length));
  detail::check_json_depth(header_text, source);
  const auto header = nlohmann::json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) safetensors_fail(source, "header is not valid JSON");
  if (!header.is_object()) safetensors_fail(source, "header is not a JSON object");

  const std::span<const std::byte> data = bytes.subspan(8 + header_length);
  safetensors_view content;
  // (begin, end, name) of every tensor, to check that they tile the data buffer.
  std::vector<std::tuple<std::uint64_t, std::uint64_t, std::string>> extents;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) safetensors_fail(source, "__metadata__ is not a JSON object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string())
          safetensors_fail(source, "__metadata__ entry '" + detail::printable(key) + "' is not a string");
        content.metadata.emplace(key, value.get<std::string>());
      }
      continue;
    }
    const std::string where = "tensor '" + detail::printable(name) + "': ";
    if (!entry.is_object() || entry.size() != 3 || !entry.contains("dtype") ||
        !entry.contains("shape") || !entry.contains("data_offsets"))
      safetensors_fail(source, where +
                                   "expected an object with exactly dtype, shape and "
                                   "data_offsets");
    const auto& dtype_json = entry["dtype"];
    if (!dtype_json.is_string()) safetensors_fail(source, where + "dtype is not a string");
    const auto type_name = dtype_json.get<std::string>();
    const auto* info = std::find_if(std::begin(detail::dtype_table), std::end(detail::dtype_table),
                                    [&](const auto& d) { return d.name == type_name; });
    if (info == std::end(detail::dtype_table)) {
      const bool known =
          std::find(std::begin(detail::unsupported_dtypes), std::end(detail::unsupported_dtypes),
                    type_name) != std::end(detail::unsupported_dtypes);
      safetensors_fail(source, where + (known ? "unsupported dtype '" : "unknown dtype '") +
                                   type_name + "', expected F16, BF16, F32 or F64");
    }

    const auto& shape_json = entry["shape"];
    if (!shape_json.is_array()) safetensors_fail(source, where + "shape is not an array");
    stored_tensor t;
    t.dtype = info->dtype;
    std::uint64_t count = 1;
    for (const auto& dim_json : shape_json) {
      std::uint64_t dim = 0;
      if (!detail::json_count(dim_json, dim))
        safetensors_fail(source, where + "shape entries must be non-negative integers");
      if (dim > static_cast<std::uint64_t>(std::numeric_limits<index>::max()) ||
          (dim != 0 && count > std::numeric_limits<std::uint64_t>::max() / dim))
        safetensors_fail(source, where + "shape's element count overflows");
      count *= dim;
      t.shape.push_back(static_cast<index>(dim));
    }

    const auto& offsets = entry["data_offsets"];
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
    if (!offsets.is_array() || offsets.size() != 2 || !detail::json_count(offsets[0], begin) ||
        !detail::json_count(offsets[1], end))
      safetensors_fail(source, where + "data_offsets must be two non-negative integers");
    if (begin > end || end > data.size())
      safetensors_fail(source, where + "data_offsets [" + std::to_string(begin) + ", " +
                                   std::to_string(end) + "] lie outside the " +
                                   std::to_string(data.size()) + "-byte data buffer");
    const bool huge = count > std::numeric_limits<std::uint64_t>::max() / info->bytes;
    if (huge || count * info->bytes != end - begin)
      safetensors_fail(
          source, where + "data_offsets span " + std::to_string(end - begin) +
                      " bytes, but shape and dtype need " +
                      (huge ? std::string("more than 2^64") : std::to_string(count * info->bytes)));
    t.bytes = data.subspan(begin, end - begin);
    extents.emplace_back(begin, end, name);
    content.tensors.emplace(name, std::move(t));
  }

  std::sort(extents.begin(), extents.end());
  std::uint64_t covered = 0;
  for (const auto& [begin, end, name] : extents) {
    if (begin != covered)
      safetensors_fail(source, "tensor '" + detail::printable(name) + "' starts at byte " + std::to_string(begin) +
                                   ", expected " + std::to_string(covered) +
                                   (begin < covered ? " (it overlaps the previous tensor)"
                                                    : " (bytes before it belong to no tensor)"));
    covered = end;
  }
  if (covered != data.size())
    safetensors_fail(source, "data buffer has " + std::to_string(data.size()) +
                                 " bytes, but the tensors cover " + std::to_string(covered));
  return content;
}

// parse_safetensors_view, with every value decoded to double.
inline safetensors_content parse_safetensors(std::span<const std::byte> bytes,
                                             const std::string& source = "<memory>") {
  auto view = parse_safetensors_view(bytes, source);
  safetensors_content content;
  content.metadata = std::move(view.metadata);
  for (const auto& [name, stored] : view.tensors) {
    tensor t;
    t.shape = stored.shape;
    t.dtype = stored.dtype;
    const std::size_t width = dtype_bytes(stored.dtype);
    const std::size_t count = stored.bytes.size() / width;
    t.values.resize(static_cast<index>(count));
    for (std::size_t k = 0; k < count; ++k)
      t.values[static_cast<index>(k)] =
          detail::decode(stored.bytes.data() + k * width, stored.dtype);
    content.tensors.emplace(name, std::move(t));
  }
  return content;
}

inline safetensors_content parse_safetensors(std::string_view bytes,
                                             const std::string& source = "<memory>") {
  return parse_safetensors(std::as_bytes(std::span(bytes.data(), bytes.size())), source);
}

inline safetensors_content read_safetensors(const std::filesystem::path& path) {
  return parse_safetensors(std::string_view(detail::read_file_bytes(path)), path.string());
}

// The bytes of a safetensors file holding `tensors` (in name order) as F32 or F64. The header
// is padded with spaces so that the data starts 8-byte aligned.
inline std::string serialize_safetensors(const tensor_map& tensors,
                                         tensor_dtype dtype = tensor_dtype::f64,
                                         const std::map<std::string, std::string>& metadata = {}) {
  if (dtype != tensor_dtype::f32 && dtype != tensor_dtype::f64)
    throw invalid_argument("serialize_safetensors: dtype must be f32 or f64");
  const std::size_t width = dtype == tensor_dtype::f32 ? 4 : 8;
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string data;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__")
      throw invalid_argument(
          "serialize_safetensors: '__metadata__' is reserved, not a tensor name");
    index count = 1;
    for (index dim : t.shape) {
      if (dim < 0)
        throw invalid_argument("serialize_safetensors: tensor '" + name +
                               "' has a negative dimension");
      count *= dim;
    }
    if (count != t.values.size())
      throw invalid_argument("serialize_safetensors: tensor '" + name + "' has shape with " +
                             std::to_string(count) + " elements but " +
                             std::to_string(t.values.size()) + " values");
    const std::size_t begin = data.size();
    for (index k = 0; k < count; ++k) {
      if (width == 4)
        detail::store_le(data, std::bit_cast<std::uint32_t>(static_cast<float>(t.values[k])), 4);
      else
        detail::store_le(data, std::bit_cast<std::uint64_t>(t.values[k]), 8);
    }
    header[name] = {{"dtype", width == 4 ? "F32" : "F64"},
                    {"shape", t.shape},
                    {"data_offsets", {begin, data.size()}}};
  }
  std::string out = detail::safetensors_header(header, "serialize_safetensors");
  out += data;
  return out;
}

inline void write_safetensors(const std::filesystem::path& path, const tensor_map& tensors,
                              tensor_dtype dtype = tensor_dtype::f64,
                              const std::map<std::string, std::string>& metadata = {}) {
  write_file_atomically(path, serialize_safetensors(tensors, dtype, metadata));
}

// Writes tensors given as stored bytes (in name order), streaming them to the file so that a
// large checkpoint is not first copied into one buffer. Throws invalid_argument when a tensor's
// byte count disagrees with its shape and dtype or a name is reserved, format_error when the file
// cannot be written.
inline void write_stored_safetensors(const std::filesystem::path& path,
                                     const stored_tensor_map& tensors,
                                     const std::map<std::string, std::string>& metadata = {}) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__")
      throw invalid_argument(
          "write_stored_safetensors: '__metadata__' is reserved, not a tensor name");
    std::uint64_t count = 1;
    for (index dim : t.shape) {
      if (dim < 0)
        throw invalid_argument("write_stored_safetensors: tensor '" + name +
                               "' has a negative dimension");
      count *= static_cast<std::uint64_t>(dim);
    }
    if (count * dtype_bytes(t.dtype) != t.bytes.size())
      throw invalid_argument("write_stored_safetensors: tensor '" + name + "' has " +
                             std::to_string(t.bytes.size()) + " bytes, but its shape and dtype " +
                             std::string(dtype_name(t.dtype)) + " need " +
                             std::to_string(count * dtype_bytes(t.dtype)));
    header[name] = {{"dtype", dtype_name(t.dtype)},
                    {"shape", t.shape},
                    {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  const std::string head = detail::safetensors_header(header, "write_stored_safetensors");
  atomic_file_writer file(path);
  file.stream().write(head.data(), static_cast<std::streamsize>(head.size()));
  for (const auto& [name, t] : tensors)
    file.stream().write(reinterpret_cast<const char*>(t.bytes.data()),
                        static_cast<std::streamsize>(t.bytes.size()));
  file.commit();
}

}  // namespace attrib
