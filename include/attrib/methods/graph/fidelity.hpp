#pragma once
// Explanation metrics for node scores, exactly as GStarX (utils.py) and PyG define them.
//   top_positive_nodes  GStarX's scores2coalition: the top int(n (1 - sparsity)) nodes by
//                       score, but no more than there are positive scores
//   evaluate_coalition  fidelity p(G) - p(G \ S), inverse fidelity p(G) - p(G_S) and the
//                       realised sparsity 1 - |S|/n, with GStarX's edge cases (S = all: the
//                       complement's probability is 0; S empty: the explanation's is 0)
//   h_fidelity          nF = fid * sp, nI = inv * (1 - sp), H = (1 + nF)(1 - nI) / (2 + nF - nI)
//   fidelity_accuracy   PyG's fid+ / fid- ("phenomenon": against the true label)
//   roc_auc             area under the ROC curve of scores against 0/1 ground truth (ties averaged)
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

inline std::vector<index> top_positive_nodes(const vector& scores, double sparsity) {
  detail::require(sparsity >= 0.0 && sparsity <= 1.0,
                  "top_positive_nodes: sparsity must be in [0, 1], got " + std::to_string(sparsity));
  const index n = scores.size();
  std::vector<index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), index{0});
  std::stable_sort(order.begin(), order.end(), [&](index a, index b) { return scores(a) > scores(b); });
  auto cutoff = static_cast<index>(static_cast<double>(n) * (1.0 - sparsity));
  cutoff = std::min<index>(cutoff, (scores.array() > 0.0).count());
  order.resize(static_cast<std::size_t>(cutoff));
  return order;
}

struct fidelity_scores {
  double fidelity = 0.0;          // p(G) - p(G \ S)
  double inverse_fidelity = 0.0;  // p(G) - p(G_S)
  double sparsity = 0.0;          // 1 - |S| / n
  double normalized_fidelity = 0.0;
  double normalized_inverse_fidelity = 0.0;
  double harmonic = 0.0;          // H-fidelity
};

inline fidelity_scores h_fidelity(double fidelity, double inverse_fidelity, double sparsity) {
  fidelity_scores f{fidelity, inverse_fidelity, sparsity};
  f.normalized_fidelity = fidelity * sparsity;
  f.normalized_inverse_fidelity = inverse_fidelity * (1.0 - sparsity);
  const double nf = f.normalized_fidelity, ni = f.normalized_inverse_fidelity;
  f.harmonic = (1.0 + nf) * (1.0 - ni) / (2.0 + nf - ni);
  return f;
}

// `probability(keep)` is the target-class probability with the nodes keep(i) = 1 present.
template <class Probability>
fidelity_scores evaluate_coalition(const Probability& probability, index n, const std::vector<index>& coalition) {
  detail::require(n >= 1, "evaluate_coalition: the graph is empty");
  vector keep = vector::Zero(n);
  for (index i : coalition) {
    detail::require(i >= 0 && i < n, "evaluate_coalition: node " + std::to_string(i) + " outside 0.." + std::to_string(n - 1));
    keep(i) = 1.0;
  }
  const auto size = static_cast<index>(keep.sum());
  const double original = probability(vector(vector::Ones(n)));
  double masked, maskout;
  if (size == n) {
    masked = original;
    maskout = 0.0;
  } else if (size == 0) {
    masked = 0.0;
    maskout = original;
  } else {
    masked = probability(keep);
    maskout = probability(vector(vector::Ones(n) - keep));
  }
  return h_fidelity(original - maskout, original - masked, 1.0 - static_cast<double>(size) / static_cast<double>(n));
}

struct fidelity_accuracy {
  double plus = 0.0;   // 1[f(G) = y] - 1[f(G \ S) = y]
  double minus = 0.0;  // 1[f(G) = y] - 1[f(G_S) = y]
};

// PyG's fid+/fid- for one graph, from the predicted classes of G, G \ S and G_S.
inline fidelity_accuracy fidelity_plus_minus(index label, index predicted_full, index predicted_without,
                                             index predicted_only) {
  const auto hit = [&](index c) { return c == label ? 1.0 : 0.0; };
  return {hit(predicted_full) - hit(predicted_without), hit(predicted_full) - hit(predicted_only)};
}

// ROC-AUC by the Mann-Whitney statistic with average ranks for ties.
inline double roc_auc(const vector& scores, const std::vector<char>& truth) {
  const index n = scores.size();
  detail::require(static_cast<index>(truth.size()) == n, "roc_auc: scores and truth differ in length");
  std::vector<index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), index{0});
  std::sort(order.begin(), order.end(), [&](index a, index b) { return scores(a) < scores(b); });
  double positives = 0.0, rank_sum = 0.0;
  for (index k = 0; k < n;) {
    index end = k;
    while (end < n && scores(order[static_cast<std::size_t>(end)]) == scores(order[static_cast<std::size_t>(k)])) ++end;
    const double average_rank = 0.5 * static_cast<double>(k + 1 + end);  // ranks k+1..end
    for (index t = k; t < end; ++t)
      if (truth[static_cast<std::size_t>(order[static_cast<std::size_t>(t)])]) {
        positives += 1.0;
        rank_sum += average_rank;
      }
    k = end;
  }
  const double negatives = static_cast<double>(n) - positives;
  detail::require(positives > 0 && negatives > 0, "roc_auc: the ground truth needs both classes");
  return (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives);
}

}  // namespace attrib
