#pragma once
// Checks on user-supplied numbers, with messages that name the argument.
#include <cmath>
#include <string>
#include <string_view>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib::detail {

// True when every entry is finite: x * 0 is zero for finite x and NaN for an infinity or a NaN,
// and a sum keeps a NaN. Eigen vectorises the sum, where allFinite() tests entry by entry.
template <class Derived>
bool all_finite(const Eigen::DenseBase<Derived>& values) {
  return !std::isnan((values.derived().array() * 0.0).sum());
}

template <class Derived>
void require_finite(const Eigen::DenseBase<Derived>& values, std::string_view name) {
  if (all_finite(values)) return;  // the loop below only finds the entry to name
  for (index r = 0; r < values.rows(); ++r)
    for (index c = 0; c < values.cols(); ++c)
      if (!std::isfinite(values(r, c)))
        fail(std::string(name) + " must be finite, but entry (" + std::to_string(r) + ", " +
             std::to_string(c) + ") is " + std::to_string(values(r, c)));
}

// The name is a view so that a literal costs nothing when the size is right.
inline void require_size(index actual, index expected, std::string_view name) {
  if (actual != expected)
    fail(std::string(name) + " has size " + std::to_string(actual) + ", expected " +
         std::to_string(expected));
}

}  // namespace attrib::detail
