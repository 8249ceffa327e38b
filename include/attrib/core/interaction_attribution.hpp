#pragma once
// The result of explaining one output by pairs of players: an n x n matrix of interactions (the
// Shapley-Taylor and Banzhaf interaction indices, Integrated Hessians) with the diagnostics an
// attribution carries. The methods differ in what the diagonal holds, so the result says which.
#include <cstddef>
#include <string>
#include <vector>

#include "attrib/core/types.hpp"

namespace attrib {

enum class interaction_diagonal {
  singleton_effect,  // Shapley-Taylor order 2: v({i}) - v(empty)
  banzhaf_value,     // Banzhaf interaction index: the Banzhaf value of player i
  self_interaction,  // Integrated Hessians: player i's interaction with itself (rows sum to IG)
};

struct interaction_attribution {
  std::string method;
  // n x n, symmetric. values(i, j), i != j: the pair's interaction. values(i, i): see `diagonal`.
  matrix values;
  interaction_diagonal diagonal = interaction_diagonal::singleton_effect;
  matrix standard_errors;  // same shape as values where sampled; empty when exact
  // What each row sums to where the method is complete row by row (Integrated Hessians: each
  // player's IG attribution); empty otherwise.
  vector row_totals;
  double base_value = 0.0;  // v(empty): the model at the baseline
  double prediction = 0.0;  // v(N): the model at the explained point
  std::size_t game_evaluations = 0;   // interpretable points at which a value or gradient was taken
  std::size_t model_evaluations = 0;  // rows passed to the model

  bool has_standard_errors() const { return standard_errors.rows() == values.rows() && values.size() > 0; }
  // Diagonal plus the pairs i < j, minus (v(N) - v(empty)): zero for Shapley-Taylor (efficiency).
  double efficiency_gap() const {
    double total = values.diagonal().sum();
    for (index i = 0; i < values.rows(); ++i)
      for (index j = i + 1; j < values.cols(); ++j) total += values(i, j);
    return total - (prediction - base_value);
  }
  // Every entry, minus (v(N) - v(empty)): zero for Integrated Hessians up to quadrature error.
  double completeness_delta() const { return values.sum() - (prediction - base_value); }
  // Per row, its sum minus row_totals: the error of Integrated Hessians' outer integral alone.
  vector row_completeness_deltas() const { return values.rowwise().sum() - row_totals; }
};

// One term of an index over sets (Shapley-Taylor of order K): the players of T (ascending) and
// I_T.
struct interaction_term {
  std::vector<index> players;
  double value = 0.0;
};

}  // namespace attrib
