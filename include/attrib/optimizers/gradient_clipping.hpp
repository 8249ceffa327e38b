#pragma once
// Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_ does it, less its 1e-6 in the
// denominator, so that the clipped norm is max_norm exactly. Sums run in a fixed order in double,
// so results do not depend on threads or batch composition.
#include <cmath>
#include <cstddef>
#include <span>
#include <string>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

// The Euclidean norm of all gradient entries together, summed in tensor and row-major order in
// double. Throws invalid_argument naming the first tensor with a non-finite entry.
inline double global_gradient_norm(std::span<const float_matrix> grads) {
  double sum = 0.0;
  for (std::size_t k = 0; k < grads.size(); ++k) {
    if (!grads[k].allFinite())
      throw invalid_argument("global_gradient_norm: gradient of tensor " + std::to_string(k) +
                             " has a non-finite entry");
    const float* g = grads[k].data();
    for (index i = 0; i < grads[k].size(); ++i) sum += static_cast<double>(g[i]) * g[i];
  }
  return std::sqrt(sum);
}

// Scales all gradients by max_norm / norm when their global norm exceeds max_norm, so that the
// clipped norm is max_norm; returns the norm before clipping. max_norm must be positive.
inline double clip_gradient_norm(std::span<float_matrix> grads, double max_norm) {
  if (!(max_norm > 0.0))
    throw invalid_argument("clip_gradient_norm: max_norm must be positive, got " +
                           std::to_string(max_norm));
  const double norm = global_gradient_norm(grads);
  if (norm > max_norm) {
    const double scale = max_norm / norm;
    for (auto& g : grads) {
      float* data = g.data();
      for (index i = 0; i < g.size(); ++i)
        data[i] = static_cast<float>(static_cast<double>(data[i]) * scale);
    }
  }
  return norm;
}

}  // namespace attrib
