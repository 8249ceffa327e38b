#pragma once
// GGUF (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), the checkpoint format of
// llama.cpp: a header, typed metadata key/value pairs, a table of tensor infos, then tensor data
// at aligned offsets. Parsing reads a byte span (usually a mapped_file) and never copies tensor
// data: each tensor info carries a span over its bytes in their stored type, and
// dequantize_row converts rows to float when they are used. Every count, length and offset is
// checked against the bytes that remain, so that hostile files fail with a format_error (the
// parser is fuzzed).
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/text.hpp"

namespace attrib {

// Tensor storage types, numbered as in ggml. Only the types attrib can convert to float are
// listed; a file with any other type is rejected when parsed.
enum class ggml_type : std::uint32_t { f32 = 0, f16 = 1, q8_0 = 8, bf16 = 30 };

inline std::string_view ggml_type_name(ggml_type type) {
  switch (type) {
    case ggml_type::f32: return "F32";
    case ggml_type::f16: return "F16";
    case ggml_type::q8_0: return "Q8_0";
    case ggml_type::bf16: return "BF16";
  }
  return "unknown";
}

// Elements per block and bytes per block: a row of n elements takes n / block_size blocks.
struct ggml_type_layout {
  std::size_t block_size;
  std::size_t block_bytes;
};

inline constexpr ggml_type_layout ggml_layout(ggml_type type) {
  switch (type) {
    case ggml_type::f32: return {1, 4};
    case ggml_type::f16: return {1, 2};
    case ggml_type::q8_0: return {32, 34};  // one f16 scale, then 32 int8 quants
    case ggml_type::bf16: return {1, 2};
  }
  return {1, 0};
}

// Bytes of one row of `n` elements; n must be a multiple of the block size.
inline constexpr std::size_t ggml_row_bytes(ggml_type type, std::size_t n) {
  const auto layout = ggml_layout(type);
  return n / layout.block_size * layout.block_bytes;
}

// Conversions of single values. These, like dequantize_row, are plain loops over plain data so
// that a device kernel can call the same code per element or per block.
inline float f16_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  std::uint32_t exponent = (bits >> 10) & 0x1Fu;
  std::uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);
    // Subnormal half: renormalise into a normal float.
    exponent = 127 - 15 + 1;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    mantissa &= 0x3FFu;
    return std::bit_cast<float>(sign | (exponent << 23) | (mantissa << 13));
  }
  return std::bit_cast<float>(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

inline float bf16_to_float(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

namespace detail {
inline std::uint16_t load_u16(const std::byte* p) {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) |
                                    (std::to_integer<unsigned>(p[1]) << 8));
}
inline std::uint32_t load_u32(const std::byte* p) {
  std::uint32_t v = 0;
  for (int k = 0; k < 4; ++k) v |= std::to_integer<std::uint32_t>(p[k]) << (8 * k);
  return v;
}
inline std::uint64_t load_u64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int k = 0; k < 8; ++k) v |= std::to_integer<std::uint64_t>(p[k]) << (8 * k);
  return v;
}
inline float load_f32(const std::byte* p) { return std::bit_cast<float>(load_u32(p)); }
}  // namespace detail

// Converts `n` consecutive elements stored as `type` at `src` (little-endian, any alignment) to
// float. n must be a multiple of the type's block size.
inline void dequantize_row(ggml_type type, const std::byte* src, float* dst, std::size_t n) {
  switch (type) {
    case ggml_type::f32:
      if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(dst, src, n * sizeof(float));
      } else {
        for (std::size_t i = 0; i < n; ++i) dst[i] = detail::load_f32(src + 4 * i);
      }
      return;
    case ggml_type::f16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = f16_to_float(detail::load_u16(src + 2 * i));
      return;
    case ggml_type::bf16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_to_float(detail::load_u16(src + 2 * i));
      return;
    case ggml_type::q8_0:
      for (std::size_t block = 0; block < n / 32; ++block) {
        const std::byte* b = src + block * 34;
        const float scale = f16_to_float(detail::load_u16(b));
        for (std::size_t i = 0; i < 32; ++i)
          dst[block * 32 + i] = scale * static_cast<float>(std::bit_cast<std::int8_t>(b[2 + i]));
      }
      return;
  }
}

enum class gguf_value_type : std::uint32_t {
  uint8 = 0,
  int8 = 1,
  uint16 = 2,
  int16 = 3,
  uint32 = 4,
  int32 = 5,
  float32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  uint64 = 10,
  int64 = 11,
  float64 = 12,
};

// An array as stored in the file: its element count and encoded elements. Kept encoded (as many
// bytes as the file spends on it) so that a large array costs its file size, not ~48 bytes per
// element; gguf_value::as_array decodes it on request.
struct gguf_array {
  std::uint64_t count = 0;
  std::vector<std::byte> encoded;
};

// One metadata value. Integers of every width are held in 64 bits, floats as double; `type`
// keeps the stored type, and `element_type` the type of an array's elements.
struct gguf_value {
  gguf_value_type type = gguf_value_type::uint8;
  gguf_value_type element_type = gguf_value_type::uint8;
  std::variant<std::uint64_t, std::int64_t, double, bool, std::string, gguf_array> data;

  // Typed access; `what` (usually the key) names the value in the error when the type is wrong.
  std::uint64_t as_uint(std::string_view what) const {
    if (const auto* u = std::get_if<std::uint64_t>(&data)) return *u;
    if (const auto* i = std::get_if<std::int64_t>(&data); i != nullptr && *i >= 0)
      return static_cast<std::uint64_t>(*i);
    throw format_error("GGUF metadata '" + std::string(what) + "' is not a non-negative integer");
  }
  std::int64_t as_int(std::string_view what) const {
    if (const auto* i = std::get_if<std::int64_t>(&data)) return *i;
    if (const auto* u = std::get_if<std::uint64_t>(&data);
        u != nullptr && *u <= static_cast<std::uint64_t>(INT64_MAX))
      return static_cast<std::int64_t>(*u);
    throw format_error("GGUF metadata '" + std::string(what) + "' is not an integer");
  }
  double as_float(std::string_view what) const {
    if (const auto* d = std::get_if<double>(&data)) return *d;
    if (const auto* u = std::get_if<std::uint64_t>(&data)) return static_cast<double>(*u);
    if (const auto* i = std::get_if<std::int64_t>(&data)) return static_cast<double>(*i);
    throw format_error("GGUF metadata '" + std::string(what) + "' is not a number");
  }
  const std::string& as_string(std::string_view what) const {
    if (const auto* s = std::get_if<std::string>(&data)) return *s;
    throw format_error("GGUF metadata '" + std::string(what) + "' is not a string");
  }
  // The element count of an array, without decoding it (check it before as_array).
  std::uint64_t array_size(std::string_view what) const { return array(what).count; }
  // The elements of an array, decoded (defined after the reader below).
  std::vector<gguf_value> as_array(std::string_view what) const;

 private:
  const gguf_array& array(std::string_view what) const {
    if (const auto* a = std::get_if<gguf_array>(&data)) return *a;
    throw format_error("GGUF metadata '" + std::string(what) + "' is not an array");
  }
};

struct gguf_tensor_info {
  std::string name;
  std::vector<std::uint64_t> shape;  // ggml order: shape[0] is the length of a (contiguous) row
  ggml_type type = ggml_type::f32;
  std::uint64_t offset = 0;          // from the start of the tensor data section
  std::span<const std::byte> bytes;  // the stored data, inside the parsed span

  std::uint64_t element_count() const {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

struct gguf_content {
  std::uint32_t version = 3;
  std::uint64_t alignment = 32;
  std::uint64_t data_offset = 0;  // start of the tensor data section in the file
  std::map<std::string, gguf_value, std::less<>> metadata;
  std::vector<gguf_tensor_info> tensors;  // in file order

  const gguf_value* find(std::string_view key) const {
    const auto it = metadata.find(key);
    return it == metadata.end() ? nullptr : &it->second;
  }
  const gguf_value& at(std::string_view key) const {
    if (const auto* v = find(key)) return *v;
    throw format_error("GGUF metadata has no key '" + std::string(key) + "'");
  }
  const gguf_tensor_info* find_tensor(std::string_view name) const {
    for (const auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
};

namespace detail {

// Reads little-endian fields from a span, failing with the field's name when the span ends.
class gguf_reader {
 public:
  gguf_reader(std::span<const std::byte> bytes, const std::string& source)
      : bytes_(bytes), source_(source) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw format_error(source_ + ": invalid GGUF: " + what);
  }

  std::size_t position() const { return position_; }
  std::size_t remaining() const { return bytes_.size() - position_; }
  std::span<const std::byte> bytes_between(std::size_t start, std::size_t end) const {
    return bytes_.subspan(start, end - start);
  }

  const std::byte* take(std::size_t n, std::string_view what) {
    if (n > remaining())
      fail(std::string(what) + " needs " + std::to_string(n) + " bytes at offset " +
           std::to_string(position_) + ", but the file has " + std::to_string(remaining()) +
           " left");
    const std::byte* p = bytes_.data() + position_;
    position_ += n;
    return p;
  }
  std::uint8_t u8(std::string_view what) { return std::to_integer<std::uint8_t>(*take(1, what)); }
  std::uint16_t u16(std::string_view what) { return load_u16(take(2, what)); }
  std::uint32_t u32(std::string_view what) { return load_u32(take(4, what)); }
  std::uint64_t u64(std::string_view what) { return load_u64(take(8, what)); }

  std::string string(std::string_view what) {
    const std::uint64_t length = u64(what);
    if (length > remaining())
      fail(std::string(what) + ": string length " + std::to_string(length) + " exceeds the " +
           std::to_string(remaining()) + " bytes left");
    const auto* p = reinterpret_cast<const char*>(take(static_cast<std::size_t>(length), what));
    return {p, static_cast<std::size_t>(length)};
  }

 private:
  std::span<const std::byte> bytes_;
  const std::string& source_;
  std::size_t position_ = 0;
};

// The fewest bytes a value of this type occupies, which bounds how many array elements the
// remaining bytes can hold before anything is allocated.
inline std::size_t gguf_min_bytes(gguf_value_type type) {
  switch (type) {
    case gguf_value_type::uint8:
    case gguf_value_type::int8:
    case gguf_value_type::boolean: return 1;
    case gguf_value_type::uint16:
    case gguf_value_type::int16: return 2;
    case gguf_value_type::uint32:
    case gguf_value_type::int32:
    case gguf_value_type::float32: return 4;
    case gguf_value_type::string:
    case gguf_value_type::uint64:
    case gguf_value_type::int64:
    case gguf_value_type::float64: return 8;
    case gguf_value_type::array: return 12;
  }
  return 1;
}

inline gguf_value_type gguf_read_value_type(gguf_reader& in, const std::string& what) {
  const std::uint32_t raw = in.u32(what + " type");
  if (raw > 12) in.fail(what + ": unknown value type " + std::to_string(raw));
  return static_cast<gguf_value_type>(raw);
}

// Arrays of arrays are legal GGUF; the depth limit keeps a hostile file from exhausting the stack.
inline constexpr int gguf_max_array_depth = 8;

inline gguf_value gguf_read_value(gguf_reader& in, gguf_value_type type, const std::string& what,
                                  int depth) {
  gguf_value v;
  v.type = type;
  switch (type) {
    case gguf_value_type::uint8: v.data = std::uint64_t{in.u8(what)}; break;
    case gguf_value_type::int8: v.data = std::int64_t{static_cast<std::int8_t>(in.u8(what))}; break;
    case gguf_value_type::uint16: v.data = std::uint64_t{in.u16(what)}; break;
    case gguf_value_type::int16:
      v.data = std::int64_t{static_cast<std::int16_t>(in.u16(what))};
      break;
    case gguf_value_type::uint32: v.data = std::uint64_t{in.u32(what)}; break;
    case gguf_value_type::int32:
      v.data = std::int64_t{static_cast<std::int32_t>(in.u32(what))};
      break;
    case gguf_value_type::uint64: v.data = in.u64(what); break;
    case gguf_value_type::int64: v.data = static_cast<std::int64_t>(in.u64(what)); break;
    case gguf_value_type::float32: v.data = double{std::bit_cast<float>(in.u32(what))}; break;
    case gguf_value_type::float64: v.data = std::bit_cast<double>(in.u64(what)); break;
    case gguf_value_type::boolean: {
      const auto b = in.u8(what);
      if (b > 1) in.fail(what + ": boolean byte is " + std::to_string(b) + ", expected 0 or 1");
      v.data = b == 1;
      break;
    }
    case gguf_value_type::string: v.data = in.string(what); break;
    case gguf_value_type::array: {
      if (depth >= gguf_max_array_depth)
        in.fail(what + ": arrays nested deeper than " + std::to_string(gguf_max_array_depth));
      v.element_type = gguf_read_value_type(in, what + " element");
      const std::uint64_t count = in.u64(what + " length");
      if (count > in.remaining() / gguf_min_bytes(v.element_type))
        in.fail(what + ": array of " + std::to_string(count) + " elements cannot fit in the " +
                std::to_string(in.remaining()) + " bytes left");
      // Every element is read once to validate it and find the array's end, then dropped: only
      // the encoded bytes are kept.
      const std::size_t start = in.position();
      for (std::uint64_t k = 0; k < count; ++k) (void)gguf_read_value(in, v.element_type, what, depth + 1);
      const std::span<const std::byte> encoded = in.bytes_between(start, in.position());
      v.data = gguf_array{count, std::vector<std::byte>(encoded.begin(), encoded.end())};
      break;
    }
  }
  return v;
}

inline std::optional<ggml_type> ggml_type_from_id(std::uint32_t id) {
  switch (id) {
    case 0: return ggml_type::f32;
    case 1: return ggml_type::f16;
    case 8: return ggml_type::q8_0;
    case 30: return ggml_type::bf16;
    default: return std::nullopt;
  }
}

}  // namespace detail

inline std::vector<gguf_value> gguf_value::as_array(std::string_view what) const {
  const gguf_array& a = array(what);
  const std::string source = "GGUF metadata '" + std::string(what) + "'";
  detail::gguf_reader in(a.encoded, source);
  std::vector<gguf_value> elements;
  elements.reserve(static_cast<std::size_t>(a.count));
  for (std::uint64_t k = 0; k < a.count; ++k) elements.push_back(detail::gguf_read_value(in, element_type, source, 1));
  return elements;
}

// Parses GGUF version 2 or 3 (version 1 used 32-bit counts and is obsolete). Throws
// format_error naming `source` and the problem for: a bad magic or version; counts, string or
// array lengths that exceed the file; unknown value types; duplicate keys or tensor names; a
// general.alignment that is not a positive power of two; a tensor with no or more than four
// dimensions, a zero or overflowing dimension, a type attrib does not read, a row length that is
// not a multiple of the type's block size, an offset that is not aligned, or data that extends
// beyond the file. The returned tensor spans point into `bytes`, which must outlive them.
inline gguf_content parse_gguf(std::span<const std::byte> bytes,
                               const std::string& source = "<memory>") {
  detail::gguf_reader in(bytes, source);
  const std::byte* magic = in.take(4, "magic");
  if (std::memcmp(magic, "GGUF", 4) != 0) in.fail("the file does not start with 'GGUF'");
  gguf_content content;
  content.version = in.u32("version");
  if (content.version != 2 && content.version != 3)
    in.fail("version " + std::to_string(content.version) + " is not supported (expected 2 or 3)");
  const std::uint64_t tensor_count = in.u64("tensor count");
  const std::uint64_t kv_count = in.u64("metadata count");
  // A key/value pair takes at least 8 + 4 + 1 bytes and a tensor info at least 8 + 4 + 8 + 4 + 8.
  if (kv_count > in.remaining() / 13)
    in.fail("metadata count " + std::to_string(kv_count) + " cannot fit in the file");
  if (tensor_count > in.remaining() / 32)
    in.fail("tensor count " + std::to_string(tensor_count) + " cannot fit in the file");

  for (std::uint64_t k = 0; k < kv_count; ++k) {
    std::string key = in.string("metadata key " + std::to_string(k));
    const std::string what = "metadata '" + detail::printable(key) + "'";  // bounded: keys come from the file
    const auto type = detail::gguf_read_value_type(in, what);
    gguf_value value = detail::gguf_read_value(in, type, what, 0);
    if (content.metadata.contains(key)) in.fail("metadata key '" + detail::printable(key) + "' appears twice");
    content.metadata.emplace(std::move(key), std::move(value));
  }
  if (const auto* alignment = content.find("general.alignment")) {
    const std::uint64_t a = alignment->as_uint("general.alignment");
    if (a == 0 || !std::has_single_bit(a) || a > (std::uint64_t{1} << 30))
      in.fail("general.alignment is " + std::to_string(a) + ", expected a power of two");
    content.alignment = a;
  }

  content.tensors.reserve(static_cast<std::size_t>(tensor_count));
  std::unordered_set<std::string> tensor_names;  // a linear-time duplicate check
  tensor_names.reserve(static_cast<std::size_t>(tensor_count));
  for (std::uint64_t k = 0; k < tensor_count; ++k) {
    gguf_tensor_info t;
    t.name = in.string("tensor " + std::to_string(k) + " name");
    const std::string where = "tensor '" + detail::printable(t.name) + "'";
    const std::uint32_t dims = in.u32(where + " dimension count");
    if (dims == 0 || dims > 4)
      in.fail(where + " has " + std::to_string(dims) + " dimensions, expected 1 to 4");
    // 2^56 elements of at most 4 bytes each keep every size computation below 2^64.
    constexpr std::uint64_t max_elements = std::uint64_t{1} << 56;
    std::uint64_t count = 1;
    for (std::uint32_t d = 0; d < dims; ++d) {
      const std::uint64_t n = in.u64(where + " dimension");
      if (n == 0 || n > max_elements / count)
        in.fail(where + " has dimension " + std::to_string(n) +
                (n == 0 ? ", expected a positive size" : ", and its element count overflows"));
      count *= n;
      t.shape.push_back(n);
    }
    const std::uint32_t type_id = in.u32(where + " type");
    const auto type = detail::ggml_type_from_id(type_id);
    if (!type)
      in.fail(where + " has ggml type " + std::to_string(type_id) +
              ", which attrib does not read (expected F32 = 0, F16 = 1, Q8_0 = 8 or BF16 = 30)");
    t.type = *type;
    if (t.shape[0] % ggml_layout(t.type).block_size != 0)
      in.fail(where + " has rows of " + std::to_string(t.shape[0]) +
              " elements, not a multiple of " + std::string(ggml_type_name(t.type)) +
              "'s block size " + std::to_string(ggml_layout(t.type).block_size));
    t.offset = in.u64(where + " offset");
    if (t.offset % content.alignment != 0)
      in.fail(where + " offset " + std::to_string(t.offset) +
              " is not a multiple of the alignment " + std::to_string(content.alignment));
    if (!tensor_names.insert(t.name).second) in.fail(where + " appears twice");
    content.tensors.push_back(std::move(t));
  }

  const std::uint64_t header_end = in.position();
  content.data_offset =
      (header_end + content.alignment - 1) / content.alignment * content.alignment;
  const std::uint64_t data_size =
      content.data_offset <= bytes.size() ? bytes.size() - content.data_offset : 0;
  for (auto& t : content.tensors) {
    const std::uint64_t rows = t.element_count() / t.shape[0];
    const std::uint64_t row_bytes = ggml_row_bytes(t.type, static_cast<std::size_t>(t.shape[0]));
    const std::uint64_t size = row_bytes * rows;
    if (t.offset > data_size || size > data_size - t.offset)
      in.fail("tensor '" + detail::printable(t.name) + "' data [" + std::to_string(t.offset) + ", +" +
              std::to_string(size) + ") extends beyond the " + std::to_string(data_size) +
              "-byte data section");
    t.bytes = bytes.subspan(static_cast<std::size_t>(content.data_offset + t.offset),
                            static_cast<std::size_t>(size));
  }
  return content;
}

}  // namespace attrib
