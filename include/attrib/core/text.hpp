#pragma once
// Small text helpers shared by the parsers.
#include <string_view>

namespace attrib::detail {

// `s` without leading and trailing whitespace (space, tab, newline, carriage return, form feed,
// vertical tab).
inline std::string_view trim(std::string_view s) {
  constexpr std::string_view space = " \t\n\r\f\v";
  const auto first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

}  // namespace attrib::detail
