#pragma once
// Checks on user-supplied numbers, with messages that name the argument.
#include <cmath>
#include <string>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib::detail {

template <class Derived>
void require_finite(const Eigen::DenseBase<Derived>& values, const std::string& name) {
  for (index r = 0; r < values.rows(); ++r)
    for (index c = 0; c < values.cols(); ++c)
      if (!std::isfinite(values(r, c)))
        fail(name + " must be finite, but entry (" + std::to_string(r) + ", " +
             std::to_string(c) + ") is " + std::to_string(values(r, c)));
}

inline void require_size(index actual, index expected, const std::string& name) {
  if (actual != expected)
    fail(name + " has size " + std::to_string(actual) + ", expected " + std::to_string(expected));
}

}  // namespace attrib::detail
