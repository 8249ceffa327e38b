// Eigen and xtensor at the API edge: a model explained from xtensor data gives the same values
// as from Eigen data, and shapes of the wrong rank are rejected.
#include <doctest/doctest.h>

#if __has_include(<xtensor/xarray.hpp>)  // xtensor is optional
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "attrib/core/interop.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/models/function_model.hpp"

TEST_CASE("xtensor inputs give the same attribution as Eigen inputs") {
  const auto model = attrib::function_model(3, 1, [](const attrib::matrix& x) {
    attrib::matrix y(x.rows(), 1);
    for (Eigen::Index r = 0; r < x.rows(); ++r) y(r, 0) = x(r, 0) * x(r, 1) + 2.0 * x(r, 2);
    return y;
  });
  const xt::xtensor<double, 1> x_xt = {1.0, 2.0, 3.0};
  const xt::xtensor<double, 2> background_xt = {{0.0, 0.5, 1.0}, {1.0, 0.0, -1.0}};
  attrib::vector x_eigen(3);
  x_eigen << 1.0, 2.0, 3.0;
  attrib::matrix background_eigen(2, 3);
  background_eigen << 0.0, 0.5, 1.0, 1.0, 0.0, -1.0;

  const auto from_xt = attrib::exact_shapley{}.explain(
      attrib::masked_model(model, attrib::to_vector(x_xt), attrib::to_matrix(background_xt)));
  const auto from_eigen = attrib::exact_shapley{}.explain(attrib::masked_model(model, x_eigen, background_eigen));
  CHECK(from_xt.values == from_eigen.values);
  const xt::xtensor<double, 1> back = attrib::to_xtensor(from_xt.values);
  REQUIRE(back.shape()[0] == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(back(i) == from_eigen.values(static_cast<Eigen::Index>(i)));
  // Column-major Eigen and float inputs are converted too.
  const Eigen::MatrixXf column_major = background_eigen.cast<float>();
  CHECK(attrib::to_matrix(column_major) == background_eigen);

  const xt::xarray<double> cube = xt::zeros<double>({2, 2, 2});
  CHECK_THROWS_WITH_AS(attrib::to_matrix(cube), doctest::Contains("expected a 2-d array, got 3"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::to_vector(background_eigen), doctest::Contains("expected a row or column vector"),
                       attrib::invalid_argument);
}

#endif  // __has_include(<xtensor/xarray.hpp>)
