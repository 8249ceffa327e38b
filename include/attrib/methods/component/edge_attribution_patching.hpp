#pragma once
// Edge attribution patching (EAP; Syed et al. 2023): the first-order estimate of every edge's
// occlusion value v(all) - v(all but the edge) in a transformer_edge_game, from one forward and
// one backward pass of the prompt. A cut edge (s -> r) adds (s_ref - s_own) to what r alone reads,
// so with g_r = dv/d(r's input) (the gradient at attn_in, mlp_in, or the last resid_post for the
// logits) the derivative of v in the edge's weight at the full graph is g_r . (s_own - s_ref),
// summed over the ablated positions and averaged over the sources.
//
// A head reads attn_in through its own columns of attn_z only. Its g_r comes from a row of the
// same pass in which the layer's other heads are held at their clean values by a mix of weight 0
// (their output unchanged, no gradient through them), so that row's gradient at attn_in is the
// head's alone.
#include <cstddef>
#include <map>
#include <set>
#include <span>
#include <vector>

#include "attrib/core/types.hpp"
#include "attrib/games/edge_game.hpp"
#include "attrib/games/mean_game.hpp"
#include "attrib/transformer/training/backward.hpp"

namespace attrib {

struct edge_attribution_patching_result {
  vector values;       // per edge: the estimate of v(all) - v(all but the edge)
  double value = 0.0;  // v(all)
};

template <class = void>  // the tape compiles where it is used
edge_attribution_patching_result edge_attribution_patching(const transformer_edge_game& game, std::size_t threads = 1) {
  const auto& runs = game.ablation();
  const auto& c = game.model().config();
  const index layers = c.n_layers, length = runs.length(), width = c.head_dim();
  std::set<hook_point> unique;
  std::map<circuit_node, index> head_row;  // a receiving head -> its row of the pass (1, 2, ...)
  for (const auto& e : game.edges()) {
    unique.insert(sender_hook(e.sender));
    unique.insert(receiver_hook(e.receiver, layers));
    if (e.receiver.kind == circuit_node_kind::head && !head_row.contains(e.receiver))
      head_row.emplace(e.receiver, 1 + static_cast<index>(head_row.size()));
  }
  const index rows = 1 + static_cast<index>(head_row.size());
  backward_options options;
  options.points.assign(unique.begin(), unique.end());
  options.threads = threads;
  const std::vector<std::vector<token_id>> one{runs.prompt()};
  if (!head_row.empty()) {
    activation_cache clean;
    hook_set record;
    for (const auto& [head, row] : head_row) record.cache(hook_point::attn_z(head.layer), clean);
    forward_options run;
    run.hooks = &record;
    run.logit_tokens = {0};
    run.last_position_only = true;
    game.model().forward(std::span<const std::vector<token_id>>(one), run);
    // Weight 1 and source 0 pass an entry through exactly; weight 0 and the clean value hold it.
    for (const auto& [head, row] : head_row) {
      const hook_point at = hook_point::attn_z(head.layer);
      auto& mix = options.mixes
                      .try_emplace(at, activation_mix{float_matrix::Zero(rows * length, c.n_heads * width),
                                                      float_matrix::Ones(rows * length, c.n_heads * width)})
                      .first->second;
      const float_matrix z = clean.at(at, 0).topRows(length);
      for (index t = 0; t < length; ++t)
        for (index h = 0; h < c.n_heads; ++h) {
          if (h == head.unit) continue;
          mix.source.row(row * length + t).segment(h * width, width) = z.row(t).segment(h * width, width);
          mix.weight.row(row * length + t).segment(h * width, width).setZero();
        }
    }
  }
  const logit_objective objective = [&](const std::vector<float_matrix>& logits, std::vector<float_matrix>& gradient) {
    double value = 0.0;
    for (std::size_t r = 0; r < logits.size(); ++r) {
      const index last = logits[r].rows() - 1;
      vector d;
      const double v = runs.metric_value(logits[r].row(last), false, &d);
      if (r == 0) value = v;
      gradient[r].row(last) += d.transpose().cast<float>();
    }
    return value;
  };
  const std::vector<std::vector<token_id>> batch(static_cast<std::size_t>(rows), runs.prompt());
  const auto g = transformer_backward(runs.float_parameters(), std::span<const std::vector<token_id>>(batch), objective, options);
  edge_attribution_patching_result out;
  out.value = g.value;
  out.values = vector::Zero(game.player_count());
  for (index j = 0; j < game.player_count(); ++j) {
    const auto& e = game.edges()[static_cast<std::size_t>(j)];
    const hook_point sender = sender_hook(e.sender);
    const float_matrix own = game.sender_output(e.sender, g.activation(sender, 0));
    const auto it = head_row.find(e.receiver);
    const auto& d = g.gradient(receiver_hook(e.receiver, layers), it == head_row.end() ? 0 : static_cast<std::size_t>(it->second));
    double sum = 0.0;
    for (index s = 0; s < runs.sources(); ++s) {
      const float_matrix ref = game.sender_output(e.sender, runs.source(s, sender));
      for (index t = 0; t < length; ++t)
        if (runs.ablated_position(t)) sum += d.row(t).cast<double>().dot((own.row(t) - ref.row(t)).cast<double>());
    }
    out.values(j) = sum / static_cast<double>(runs.sources());
  }
  return out;
}

// EAP on a dataset of prompts (Syed et al. score edges by the metric averaged over prompt pairs):
// its scores are derivatives at the full graph, and the derivative of the mean game is the mean
// of its parts' derivatives, so the estimate is each prompt's EAP averaged.
template <class = void>
edge_attribution_patching_result edge_attribution_patching(const mean_game<transformer_edge_game>& game, std::size_t threads = 1) {
  edge_attribution_patching_result out{vector::Zero(game.player_count()), 0.0};
  for (const auto& part : game.parts()) {
    const auto one = edge_attribution_patching(part, threads);
    out.values += one.values;
    out.value += one.value;
  }
  const auto m = static_cast<double>(game.parts().size());
  out.values /= m;
  out.value /= m;
  return out;
}

}  // namespace attrib
