#pragma once
// Exceptions thrown on bad user input. Every message names the argument and what was expected.
#include <stdexcept>
#include <string>

namespace attrib {

// Thrown when an argument has the wrong shape, an out-of-range value or a non-finite entry.
struct invalid_argument : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Thrown when a file cannot be read or its contents do not follow the documented format.
struct format_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
[[noreturn]] inline void fail(const std::string& what) { throw invalid_argument(what); }
inline void require(bool ok, const std::string& what) {
  if (!ok) fail(what);
}
// A literal message is turned into a string only when the check fails: hot paths (a game's
// values and gradients, thousands of calls a second) would otherwise allocate it on every call.
inline void require(bool ok, const char* what) {
  if (!ok) fail(what);
}
}  // namespace detail

}  // namespace attrib
