#pragma once
// Numeric vocabulary shared by every part of attrib.
#include <Eigen/Core>
#include <cstddef>

namespace attrib {

using index = Eigen::Index;
using vector = Eigen::VectorXd;
// One row per input: a batch of n inputs of dimension d is an n x d matrix. Row-major so
// that a row is contiguous and can be handed to a model or copied with one memcpy.
using matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using matrix_ref = Eigen::Ref<const matrix>;
using vector_ref = Eigen::Ref<const vector>;

}  // namespace attrib
