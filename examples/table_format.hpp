#pragma once
// Number formatting and timing shared by the examples that print markdown tables.
#include <chrono>
#include <cstdio>
#include <string>

namespace attrib_examples {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Fixed-point with `digits` decimals.
inline std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// `digits` significant digits, as printf's %g writes them.
inline std::string significant(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

// Scientific with one decimal, for errors and residuals.
inline std::string sci(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1e", v);
  return buf;
}

}  // namespace attrib_examples
