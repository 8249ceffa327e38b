// libFuzzer target: the attrib tool's argument parser and its typed option readers. The input is
// the argument list separated by NUL bytes. usage_error is the only acceptable failure; values
// that are accepted lie in their documented ranges, and a row list never outgrows its table.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "../../examples/cli/arguments.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args;
  std::string current;
  for (std::size_t k = 0; k < size; ++k) {
    if (data[k] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current += static_cast<char>(data[k]);
    }
  }
  args.push_back(current);
  try {
    const cli::arguments a(args, {"rows", "count", "seed", "threads", "rate", "out"}, {"help", "quiet"});
    try {
      const auto n = a.integer("count", 7, -5, 1000);
      if (n < -5 || n > 1000) std::abort();
    } catch (const cli::usage_error&) {
    }
    try {
      if (a.threads() > 1024) std::abort();
    } catch (const cli::usage_error&) {
    }
    try {
      (void)a.seed();
      (void)a.number("rate", 0.5);
    } catch (const cli::usage_error&) {
    }
    if (a.has("rows")) {
      constexpr std::ptrdiff_t available = 1000;
      const auto rows = cli::parse_row_list(a.text("rows"), available, "the table");
      if (static_cast<std::ptrdiff_t>(rows.size()) > available) std::abort();
      for (auto r : rows)
        if (r < 0 || r >= available) std::abort();
    }
    (void)a.flag("help");
    (void)a.text("out", "-");
  } catch (const cli::usage_error&) {
  }
  return 0;
}
