#pragma once
// The score of a causal-tracing heatmap and the numbers that compare two of them, as "How
// Post-Training Reshapes LLMs" (Du et al., 2025) defines them for its Table 1.
//
// The paper averages the patching effect d(l, p) over pairs and then quantises it: 21 edges evenly
// spaced from min - 1e-5 to max + 1e-5 cut the range into 20 bins; a cell in bin k (1..20) scores
// 0 when k <= 10 and (k - 10) / 10 otherwise. The lower half of the range is clipped to zero and
// the upper half min-max scaled in steps of 0.1, so two models' maps compare on where knowledge
// sits rather than on how large their logits are. Each matrix is quantised on its own.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

namespace detail {
inline void require_finite_heatmap(const matrix& m, const char* who) {
  if (m.size() == 0) throw invalid_argument(std::string(who) + ": the heatmap is empty");
  if (!m.allFinite())
    throw invalid_argument(std::string(who) + ": the heatmap holds NaN or infinite values");
}
}  // namespace detail

// The quantised score M of a mean-effect matrix: every entry in {0, 0.1, ..., 1}. The bin of x is
// numpy.digitize(x, edges) with edges = numpy.linspace(min - 1e-5, max + 1e-5, 21), reproduced
// here edge for edge (start + i * step, the last edge exactly the stop), so that values on an
// edge fall where the paper's code puts them.
inline matrix quantised_heatmap(const matrix& mean_effect) {
  detail::require_finite_heatmap(mean_effect, "quantised_heatmap");
  constexpr int bins = 20;
  const double start = mean_effect.minCoeff() - 1e-5;
  const double stop = mean_effect.maxCoeff() + 1e-5;
  const double step = (stop - start) / bins;
  double edges[bins + 1];
  for (int i = 0; i < bins; ++i) edges[i] = start + i * step;
  edges[bins] = stop;
  matrix score(mean_effect.rows(), mean_effect.cols());
  for (index i = 0; i < mean_effect.size(); ++i) {
    // digitize: the k with edges[k - 1] <= x < edges[k].
    const double x = mean_effect.data()[i];
    const int k = static_cast<int>(std::upper_bound(edges, edges + bins + 1, x) - edges);
    score.data()[i] = k <= bins / 2 ? 0.0 : (k - bins / 2) / 10.0;
  }
  return score;
}

// How two heatmaps of the same shape differ: Pearson's correlation of their entries (NaN when
// either is constant, as scipy gives it), the largest absolute difference over all cells, and
// over the knowledge columns alone (the subject's and the object's tokens; NaN when no column
// is one).
struct heatmap_comparison {
  double correlation = 0.0;
  double max_difference = 0.0;
  double max_knowledge_difference = 0.0;
};

inline heatmap_comparison compare_heatmaps(const matrix& a, const matrix& b,
                                           const std::vector<bool>& knowledge_columns) {
  detail::require_finite_heatmap(a, "compare_heatmaps");
  detail::require_finite_heatmap(b, "compare_heatmaps");
  if (a.rows() != b.rows() || a.cols() != b.cols())
    throw invalid_argument("compare_heatmaps: the heatmaps are " + std::to_string(a.rows()) + " x " +
                           std::to_string(a.cols()) + " and " + std::to_string(b.rows()) + " x " +
                           std::to_string(b.cols()) + "; they must have the same shape");
  if (static_cast<index>(knowledge_columns.size()) != a.cols())
    throw invalid_argument("compare_heatmaps: " + std::to_string(knowledge_columns.size()) +
                           " knowledge-column flags for " + std::to_string(a.cols()) + " columns");
  heatmap_comparison c;
  const double mean_a = a.mean(), mean_b = b.mean();
  const double covariance = ((a.array() - mean_a) * (b.array() - mean_b)).sum();
  const double spread = std::sqrt((a.array() - mean_a).square().sum() * (b.array() - mean_b).square().sum());
  c.correlation = spread > 0.0 ? covariance / spread : std::numeric_limits<double>::quiet_NaN();
  const matrix difference = (a - b).cwiseAbs();
  c.max_difference = difference.maxCoeff();
  c.max_knowledge_difference = std::numeric_limits<double>::quiet_NaN();
  for (index j = 0; j < a.cols(); ++j)
    if (knowledge_columns[static_cast<std::size_t>(j)]) {
      const double m = difference.col(j).maxCoeff();
      c.max_knowledge_difference = std::isnan(c.max_knowledge_difference) ? m : std::max(c.max_knowledge_difference, m);
    }
  return c;
}

}  // namespace attrib
