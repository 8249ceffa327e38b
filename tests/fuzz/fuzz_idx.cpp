// libFuzzer target: the IDX reader. format_error is the only acceptable failure; an array that
// parses must hold exactly the product of its dimensions, and idx_rows must agree with it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "attrib/io/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto a = attrib::parse_idx(std::span<const std::uint8_t>(data, size));
    std::size_t product = 1;
    for (auto d : a.dims) product *= d;
    if (product != a.data.size() || a.dims.empty()) std::abort();
    if (a.items() * a.item_size() != a.data.size()) std::abort();
    if (a.data.size() <= 4096) {
      const attrib::matrix rows = attrib::idx_rows(a);
      if (static_cast<std::size_t>(rows.size()) != a.data.size()) std::abort();
      if (a.dims.size() == 1 && attrib::idx_labels(a).size() != rows.rows()) std::abort();
    }
  } catch (const attrib::format_error&) {
  }
  return 0;
}
