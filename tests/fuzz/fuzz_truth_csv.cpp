// libFuzzer target: the truth-dataset CSV reader. invalid_argument is the only acceptable failure;
// a dataset that parses must have non-empty statements and survive a format and re-parse exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "attrib/studies/truth_datasets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto d = attrib::parse_truth_csv(text, "<fuzz>", "fuzz");
    if (d.statements.empty()) std::abort();
    if (d.count(true) + d.count(false) != d.statements.size()) std::abort();
    for (const auto& s : d.statements)
      if (attrib::detail::trim(s.statement).empty()) std::abort();
    const auto again = attrib::parse_truth_csv(attrib::format_truth_csv(d), "<round trip>", "fuzz");
    if (again != d) std::abort();
  } catch (const attrib::invalid_argument&) {
  }
  return 0;
}
