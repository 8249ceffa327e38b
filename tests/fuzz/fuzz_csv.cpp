// libFuzzer target: both CSV readers. format_error is the only acceptable failure; a table that
// parses must survive a write and re-read exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "attrib/io/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto table = attrib::parse_csv(text);
    if (!table.values.allFinite()) std::abort();
    bool plain_header = true;
    for (const auto& name : table.header)
      plain_header = plain_header && name.find_first_of(",\"\r\n") == std::string::npos;
    if (plain_header) {
      const auto again = attrib::parse_csv(attrib::format_csv({}, table.values));
      if (again.values != table.values) std::abort();
    }
  } catch (const attrib::format_error&) {
  }
  try {
    const auto set = attrib::parse_sklearn_csv(text);
    if (set.features.rows() != set.labels.size()) std::abort();
  } catch (const attrib::format_error&) {
  }
  return 0;
}
