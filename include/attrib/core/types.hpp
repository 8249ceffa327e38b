#pragma once
// Numeric vocabulary shared by every part of attrib.
#include <Eigen/Core>
#include <cstddef>
#include <cstdint>

namespace attrib {

using index = Eigen::Index;
using vector = Eigen::VectorXd;
// One row per input: a batch of n inputs of dimension d is an n x d matrix. Row-major so
// that a row is contiguous and can be handed to a model or copied with one memcpy.
using matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using matrix_ref = Eigen::Ref<const matrix>;
using vector_ref = Eigen::Ref<const vector>;

// Single precision, as transformer weights and activations are stored: one row per token, so
// that a token's activation is contiguous.
using float_matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using float_vector = Eigen::VectorXf;

// Token ids index a vocabulary; int32 matches llama.cpp and llama2.c.
using token_id = std::int32_t;

}  // namespace attrib
