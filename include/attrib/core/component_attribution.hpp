#pragma once
// The results of component attribution: the logits of a patching sweep over a grid of
// (layer, position) cells of one hook point.
#include <algorithm>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/hook_point.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

// Logits at the last position of the corrupted run with one cell (layer, position) patched from
// the clean run, for every cell of a grid.
struct patching_sweep_result {
  hook_kind point = hook_kind::resid_pre;
  std::vector<index> layers;
  std::vector<index> positions;
  std::vector<token_id> logit_tokens;  // the columns; empty: token id = column
  // Row i * positions.size() + j holds cell (layers[i], positions[j]).
  float_matrix logits;
  float_matrix clean_logits;      // 1 x columns, unpatched clean run
  float_matrix corrupted_logits;  // 1 x columns, unpatched corrupted run

  index column(token_id t) const {
    if (logit_tokens.empty()) {
      if (t < 0 || t >= logits.cols())
        throw invalid_argument("patching_sweep_result: token " + std::to_string(t) +
                               " is outside the vocabulary");
      return t;
    }
    const auto it = std::find(logit_tokens.begin(), logit_tokens.end(), t);
    if (it == logit_tokens.end())
      throw invalid_argument("patching_sweep_result: token " + std::to_string(t) +
                             " is not among the logit_tokens of the sweep");
    return static_cast<index>(it - logit_tokens.begin());
  }

  // logit(a) - logit(b) per cell: layers.size() x positions.size().
  float_matrix logit_difference(token_id a, token_id b) const {
    const index ca = column(a);
    const index cb = column(b);
    float_matrix grid(static_cast<index>(layers.size()), static_cast<index>(positions.size()));
    for (index i = 0; i < grid.rows(); ++i)
      for (index j = 0; j < grid.cols(); ++j)
        grid(i, j) = logits(i * grid.cols() + j, ca) - logits(i * grid.cols() + j, cb);
    return grid;
  }
};

}  // namespace attrib
