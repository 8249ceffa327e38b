#pragma once
// Edge attribution patching (EAP; Syed et al. 2023): the first-order estimate of every edge's
// occlusion value v(all) - v(all but the edge) in a transformer_edge_game, from one forward and
// one backward pass of the prompt. A cut edge (s -> r) adds (s_ref - s_own) to what r alone reads,
// so with g_r = dv/d(r's input) (the gradient at attn_in, mlp_in, or the last resid_post for the
// logits) the derivative of v in the edge's weight at the full graph is g_r . (s_own - s_ref),
// summed over the ablated positions and averaged over the sources.
#include <cstddef>
#include <set>
#include <span>
#include <vector>

#include "attrib/core/types.hpp"
#include "attrib/games/edge_game.hpp"
#include "attrib/transformer/training/backward.hpp"

namespace attrib {

struct edge_attribution_patching_result {
  vector values;       // per edge: the estimate of v(all) - v(all but the edge)
  double value = 0.0;  // v(all)
};

template <class = void>  // the tape compiles where it is used
edge_attribution_patching_result edge_attribution_patching(const transformer_edge_game& game, std::size_t threads = 1) {
  const auto& runs = game.ablation();
  const index layers = game.model().config().n_layers;
  std::set<hook_point> unique;
  for (const auto& e : game.edges()) {
    unique.insert(sender_hook(e.sender));
    unique.insert(receiver_hook(e.receiver, layers));
  }
  backward_options options;
  options.points.assign(unique.begin(), unique.end());
  options.threads = threads;
  const logit_objective objective = [&](const std::vector<float_matrix>& logits, std::vector<float_matrix>& gradient) {
    const index last = logits.front().rows() - 1;
    vector d;
    const double v = runs.metric_value(logits.front().row(last), false, &d);
    gradient.front().row(last) += d.transpose().cast<float>();
    return v;
  };
  const std::vector<std::vector<token_id>> one{runs.prompt()};
  const auto g = transformer_backward(runs.float_parameters(), std::span<const std::vector<token_id>>(one), objective, options);
  edge_attribution_patching_result out;
  out.value = g.value;
  out.values = vector::Zero(game.player_count());
  for (index j = 0; j < game.player_count(); ++j) {
    const auto& e = game.edges()[static_cast<std::size_t>(j)];
    const hook_point sender = sender_hook(e.sender);
    const auto& own = g.activation(sender, 0);
    const auto& d = g.gradient(receiver_hook(e.receiver, layers), 0);
    double sum = 0.0;
    for (index s = 0; s < runs.sources(); ++s) {
      const auto& ref = runs.source(s, sender);
      for (index t = 0; t < runs.length(); ++t)
        if (runs.ablated_position(t)) sum += d.row(t).cast<double>().dot((own.row(t) - ref.row(t)).cast<double>());
    }
    out.values(j) = sum / static_cast<double>(runs.sources());
  }
  return out;
}

}  // namespace attrib
