#pragma once
// LiSSA (Agarwal et al. 2017, as used by Koh and Liang 2017): the Neumann series
//   h_0 = v,  h_t = v + (1 - damping) h_{t-1} - H_batch h_{t-1} / scale,
// whose fixed point is scale (H + damping * scale I)^-1 v, so x = h_T / scale approximates
// (H + damping' I)^-1 v with damping' = damping * scale. H_batch is the Hessian of a minibatch
// drawn from rng::stream(seed, repeat * depth + t), so the result depends only on the seed.
// Converges when scale exceeds the largest eigenvalue of H.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "attrib/concepts/inverse_hessian.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"

namespace attrib {

struct lissa_options {
  index depth = 1000;       // recursion steps per repeat
  index repeats = 1;        // independent recursions, averaged
  double scale = 10.0;      // must exceed the largest eigenvalue of H
  double damping = 0.0;     // in the recursion's units; the effective damping is damping * scale
  index batch_size = 0;     // rows per minibatch Hessian; 0: the full training set (deterministic)
  std::uint64_t seed = 0;
};

template <sampled_hessian_operator H>
class lissa_inverse_hessian {
 public:
  explicit lissa_inverse_hessian(const H& hessian, lissa_options options = {}) : h_(hessian), options_(options) {
    detail::require(options_.depth > 0 && options_.repeats > 0, "lissa: depth and repeats must be positive");
    detail::require(std::isfinite(options_.scale) && options_.scale > 0, "lissa: scale must be positive");
    detail::require(std::isfinite(options_.damping) && options_.damping >= 0 && options_.damping < 1,
                    "lissa: damping must lie in [0, 1)");
    detail::require(options_.batch_size >= 0, "lissa: batch_size must be non-negative");
  }

  index dim() const { return h_.dim(); }
  double effective_damping() const { return options_.damping * options_.scale; }

  ihvp_result solve(const vector& v) const {
    detail::require_rhs(v, dim(), "lissa");
    ihvp_result out;
    out.diagnostics.method = "lissa";
    out.diagnostics.damping = effective_damping();
    const index n = h_.rows();
    const bool full = options_.batch_size == 0 || options_.batch_size >= n;
    std::vector<index> rows(static_cast<std::size_t>(full ? 0 : options_.batch_size));
    vector total = vector::Zero(dim());
    for (index rep = 0; rep < options_.repeats; ++rep) {
      vector estimate = v;
      for (index t = 0; t < options_.depth; ++t) {
        vector hv;
        if (full) {
          hv = h_.apply(estimate);
        } else {
          rng gen = rng::stream(options_.seed, static_cast<std::uint64_t>(rep * options_.depth + t));
          for (auto& r : rows) r = static_cast<index>(gen.below(static_cast<std::uint64_t>(n)));
          hv = h_.apply_rows(estimate, rows);
        }
        estimate = v + (1.0 - options_.damping) * estimate - hv / options_.scale;
        if (!estimate.allFinite()) {
          out.diagnostics.message = "lissa: the recursion diverged at step " + std::to_string(t) +
                                    "; scale must exceed the largest Hessian eigenvalue";
          out.solution = vector::Constant(dim(), std::numeric_limits<double>::quiet_NaN());
          out.diagnostics.iterations = t + 1;
          out.diagnostics.hvp_count += t + 1;
          return out;
        }
      }
      total += estimate / options_.scale;
      out.diagnostics.hvp_count += options_.depth;
    }
    out.diagnostics.iterations = options_.depth * options_.repeats;
    out.solution = total / static_cast<double>(options_.repeats);
    out.diagnostics.relative_residual = detail::relative_residual(h_, effective_damping(), out.solution, v);
    ++out.diagnostics.hvp_count;
    return out;
  }

 private:
  H h_;
  lissa_options options_;
};

}  // namespace attrib
