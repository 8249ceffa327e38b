// IDX (MNIST / Fashion-MNIST) reader: hand-made buffers, good and malformed. Every malformed
// buffer must raise format_error naming the problem, never read past the end.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/io/atomic_file.hpp"
#include "attrib/io/idx.hpp"

namespace {

using bytes = std::vector<std::uint8_t>;

// Magic 0x00 0x00 0x08 ndims, big-endian dimensions, then `data`.
bytes idx_buffer(const std::vector<std::uint32_t>& dims, const bytes& data, std::uint8_t type = 0x08) {
  bytes out{0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(d >> shift));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::string error_of(const bytes& b) {
  try {
    attrib::parse_idx(std::span<const std::uint8_t>(b), "buf");
  } catch (const attrib::format_error& e) {
    return e.what();
  }
  return "no error";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("idx: images and labels parse, with dimensions, row-major data and scaling") {
  bytes pixels;
  for (std::uint8_t v = 0; v < 2 * 2 * 3; ++v) pixels.push_back(static_cast<std::uint8_t>(v * 10));
  const auto images = attrib::parse_idx(std::span<const std::uint8_t>(idx_buffer({2, 2, 3}, pixels)));
  CHECK(images.dims == std::vector<std::size_t>{2, 2, 3});
  CHECK(images.items() == 2);
  CHECK(images.item_size() == 6);
  CHECK(images.data == pixels);
  const attrib::matrix rows = attrib::idx_rows(images, 0.5);
  REQUIRE(rows.rows() == 2);
  REQUIRE(rows.cols() == 6);
  CHECK(rows(0, 0) == 0.0);
  CHECK(rows(0, 5) == 25.0);  // element 5 = 50, times 0.5
  CHECK(rows(1, 0) == 30.0);  // element 6 = 60

  const auto labels = attrib::parse_idx(std::span<const std::uint8_t>(idx_buffer({3}, {9, 0, 255})));
  const attrib::vector y = attrib::idx_labels(labels);
  REQUIRE(y.size() == 3);
  CHECK(y[0] == 9);
  CHECK(y[2] == 255);
  CHECK_THROWS_AS(attrib::idx_labels(images), attrib::invalid_argument);

  // Big-endian dimensions above 255, and the string_view overload.
  const bytes big = idx_buffer({300}, bytes(300, 7));
  const auto a = attrib::parse_idx(std::string_view(reinterpret_cast<const char*>(big.data()), big.size()));
  CHECK(a.dims.front() == 300);

  // A zero dimension is an empty array, not an error.
  const auto empty = attrib::parse_idx(std::span<const std::uint8_t>(idx_buffer({0, 28, 28}, {})));
  CHECK(empty.items() == 0);
  CHECK(empty.data.empty());
}

TEST_CASE("idx: truncated, padded, bad magic, unsupported types and overflowing dimensions are named") {
  CHECK(contains(error_of({}), "at least the 4-byte magic"));
  CHECK(contains(error_of({0, 0, 8}), "at least the 4-byte magic"));
  CHECK(contains(error_of({0x1f, 0x8b, 8, 1, 0, 0, 0, 0}), "bad magic number"));
  CHECK(contains(error_of({0x1f, 0x8b, 8, 1, 0, 0, 0, 0}), "gzip"));
  CHECK(contains(error_of(idx_buffer({1}, {0, 0, 0, 0}, 0x0D)), "float32"));
  CHECK(contains(error_of({0, 0, 8, 0}), "number of dimensions is 0"));
  CHECK(contains(error_of({0, 0, 8, 3, 0, 0, 0, 1}), "need 16 bytes"));

  // Truncated data and trailing data.
  bytes short_data = idx_buffer({2, 28, 28}, bytes(2 * 28 * 28 - 1, 1));
  CHECK(contains(error_of(short_data), "truncated"));
  bytes long_data = idx_buffer({2, 28, 28}, bytes(2 * 28 * 28 + 1, 1));
  CHECK(contains(error_of(long_data), "trailing data"));
  const bytes full = idx_buffer({2, 28, 28}, bytes(2 * 28 * 28, 1));
  for (std::size_t cut = 0; cut < full.size(); cut += 97)
    CHECK_THROWS_AS(attrib::parse_idx(std::span<const std::uint8_t>(full.data(), cut)), attrib::format_error);

  // Dimensions whose product overflows 64 bits (2^32-1 to the 3rd) must not wrap around to a
  // small number that matches the data.
  const std::uint32_t huge = 0xFFFFFFFFu;
  CHECK(contains(error_of(idx_buffer({huge, huge, huge}, bytes(8, 0))), "multiply to more than"));
  CHECK(contains(error_of(idx_buffer({65536, 65536, 65536, 65536}, {})), "multiply to more than"));
  // An empty array (a zero dimension) may not hide absurd other dimensions: item_size() of
  // {0, 2^32-1, 2^32-1} would wrap around.
  CHECK(contains(error_of(idx_buffer({0, huge, huge}, {})), "multiply to more than"));
  CHECK(contains(error_of(idx_buffer({huge, 2, 0}, {})), "multiply to more than"));

  // Random bytes after a valid magic never crash and only raise format_error.
  std::mt19937 gen(5);
  for (int trial = 0; trial < 2000; ++trial) {
    bytes b{0, 0, 8, static_cast<std::uint8_t>(gen() % 5)};
    const std::size_t extra = gen() % 40;
    for (std::size_t k = 0; k < extra; ++k) b.push_back(static_cast<std::uint8_t>(gen() % 4));
    try {
      const auto a = attrib::parse_idx(std::span<const std::uint8_t>(b));
      std::size_t product = 1;
      for (auto d : a.dims) product *= d;
      CHECK(product == a.data.size());
    } catch (const attrib::format_error&) {
    }
  }
}

TEST_CASE("idx: read_idx names the file") {
  const auto path = std::filesystem::temp_directory_path() / ("attrib_test_idx_" + std::to_string(std::random_device{}()));
  const bytes b = idx_buffer({2, 2}, {1, 2, 3, 4});
  attrib::write_file_atomically(path, std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  CHECK(attrib::read_idx(path).data == bytes{1, 2, 3, 4});
  std::filesystem::remove(path);
  try {
    attrib::read_idx(path);
    FAIL("expected format_error");
  } catch (const attrib::format_error& e) {
    CHECK(contains(e.what(), path.string()));
  }
}
