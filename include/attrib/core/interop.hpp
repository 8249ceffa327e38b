#pragma once
// Accepting both Eigen and xtensor at the API edge. attrib computes on Eigen types; these
// functions copy any 1-D or 2-D Eigen expression or xtensor container into them, checking the
// rank, and hand results back as xtensor arrays for N-dimensional work.
#include <cstddef>
#include <string>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

template <class Derived>
vector to_vector(const Eigen::DenseBase<Derived>& values) {
  detail::require(values.rows() == 1 || values.cols() == 1,
                  "to_vector: expected a row or column vector, got " + std::to_string(values.rows()) + " x " +
                      std::to_string(values.cols()));
  vector out(values.size());
  for (index i = 0; i < values.size(); ++i) out(i) = static_cast<double>(values.derived().coeff(i));
  return out;
}

template <class Derived>
matrix to_matrix(const Eigen::DenseBase<Derived>& values) {
  return values.derived().template cast<double>();
}

template <class E>
  requires requires(const E& e) { e.dimension(); e.shape(); }
vector to_vector(const E& values) {
  detail::require(values.dimension() == 1,
                  "to_vector: expected a 1-d array, got " + std::to_string(values.dimension()) + " dimensions");
  vector out(static_cast<index>(values.shape()[0]));
  for (index i = 0; i < out.size(); ++i) out(i) = static_cast<double>(values(static_cast<std::size_t>(i)));
  return out;
}

template <class E>
  requires requires(const E& e) { e.dimension(); e.shape(); }
matrix to_matrix(const E& values) {
  detail::require(values.dimension() == 2,
                  "to_matrix: expected a 2-d array, got " + std::to_string(values.dimension()) + " dimensions");
  matrix out(static_cast<index>(values.shape()[0]), static_cast<index>(values.shape()[1]));
  for (index r = 0; r < out.rows(); ++r)
    for (index c = 0; c < out.cols(); ++c)
      out(r, c) = static_cast<double>(values(static_cast<std::size_t>(r), static_cast<std::size_t>(c)));
  return out;
}

inline xt::xtensor<double, 1> to_xtensor(const vector& values) {
  xt::xtensor<double, 1> out = xt::zeros<double>({static_cast<std::size_t>(values.size())});
  for (index i = 0; i < values.size(); ++i) out(static_cast<std::size_t>(i)) = values(i);
  return out;
}

inline xt::xtensor<double, 2> to_xtensor(const matrix& values) {
  xt::xtensor<double, 2> out =
      xt::zeros<double>({static_cast<std::size_t>(values.rows()), static_cast<std::size_t>(values.cols())});
  for (index r = 0; r < values.rows(); ++r)
    for (index c = 0; c < values.cols(); ++c) out(static_cast<std::size_t>(r), static_cast<std::size_t>(c)) = values(r, c);
  return out;
}

}  // namespace attrib
