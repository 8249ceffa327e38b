#pragma once
// Small text helpers shared by the parsers.
#include <string>
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

// `cell` for an error message: its first 40 bytes, anything but printable ASCII as '?', and
// "..." when it was longer.
inline std::string printable(std::string_view cell) {
  std::string out;
  for (char c : cell.substr(0, 40)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  return cell.size() > 40 ? out + "..." : out;
}

}  // namespace attrib::detail
