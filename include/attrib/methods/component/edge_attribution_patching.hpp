#pragma once
// Edge attribution patching (EAP; Syed et al. 2023) and its integrated-gradients form (EAP-IG;
// Hanna et al. 2024) on a transformer_edge_game.
//
// A cut edge (s -> r) adds (1 - z)(s_ref - s_own) to what r alone reads, so the derivative of v in
// the edge's weight z_e is g_r . (s_own - s_ref), with g_r = dv/d(r's input) (the gradient at
// attn_in, mlp_in, or the last resid_post for the logits), summed over the ablated positions and
// averaged over the sources. EAP takes it at the full graph (z = 1): the first-order estimate of
// the edge's occlusion value v(all) - v(all but the edge), from one forward and one backward pass.
//
// A first-order estimate misses what a saturated nonlinearity hides: an induction head whose
// attention is settled on its target has almost no gradient there, however much cutting its input
// costs. EAP-IG averages the same derivative over the uniform masks z = (k / steps) 1, k = 1 ..
// steps (a right Riemann sum, so steps = 1 is EAP): integrated gradients over the edge mask, whose
// scores add up to v(all) - v(none) as steps grow. On the uniform path every receiver reads the
// same mix of its own input a and its input with every incoming edge cut, src = a - sum over its
// senders of (s_own - s_ref): r reads src + z (a - src), and src is a constant (the receiver's
// input in the unablated run less what its senders add there plus their ablation values; a
// head's output bias belongs to no edge and stays in it). So the path is a tape mix at each
// receiver's hook point, which holds only when each receiver hears every sender before it: the
// full graph of every_edge, which steps > 1 requires.
//
// A head reads attn_in through its own columns of attn_z only. Its g_r comes from a row of the
// batch in which the layer's other heads are held, by a mix of weight 0, at their values in the
// same run (their output unchanged, no gradient through them), so that row's gradient at attn_in
// is the head's alone.
#include <algorithm>
#include <cstddef>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/games/edge_game.hpp"
#include "attrib/games/mean_game.hpp"
#include "attrib/transformer/training/backward.hpp"

namespace attrib {

struct edge_attribution_patching_result {
  vector values;       // per edge: the estimate of v(all) - v(all but the edge) (EAP), or the
                       // edge's share of v(all) - v(none) (EAP-IG)
  double value = 0.0;  // v(all)
  // steps x edges: the derivative dv/dz_e at the uniform mask z = (k + 1) / steps, averaged over
  // the sources; `values` is its column mean. Where along the path an edge's effect arises.
  matrix path_derivatives;
};

struct edge_attribution_options {
  // Points of the uniform path at which the derivative is averaged: 1 is EAP, more is EAP-IG
  // (which needs the game's edges to be the full graph). Cost: one forward and backward pass of
  // steps x sources x (1 + receiving heads) rows (1 + receiving heads at steps = 1).
  index steps = 1;
  // Worker threads; 0 means all cores. Results do not depend on it.
  std::size_t threads = 1;
};

namespace detail {
inline void require_steps(const edge_attribution_options& options) {
  if (options.steps < 1)
    throw invalid_argument("edge_attribution_patching: steps is " + std::to_string(options.steps) + ", expected at least 1");
}

// Throws unless the game's edges are every edge of its graph (over heads if a head appears).
inline void require_full_graph(const transformer_edge_game& game) {
  const auto& edges = game.edges();
  const bool heads = std::any_of(edges.begin(), edges.end(), [](const circuit_edge& e) {
    return e.sender.kind == circuit_node_kind::head || e.receiver.kind == circuit_node_kind::head;
  });
  auto full = every_edge(game.model().config(), heads ? circuit_granularity::heads : circuit_granularity::blocks);
  auto given = edges;
  std::sort(full.begin(), full.end());
  std::sort(given.begin(), given.end());
  if (given == full) return;
  std::vector<circuit_edge> missing;
  std::set_difference(full.begin(), full.end(), given.begin(), given.end(), std::back_inserter(missing));
  throw invalid_argument("edge_attribution_patching: integrated gradients (steps > 1) follow the uniform mask over "
                         "the full graph, but the game holds " + std::to_string(given.size()) + " of its " +
                         std::to_string(full.size()) + " edges" +
                         (missing.empty() ? std::string() : " (missing " + to_string(missing.front()) + ", ...)") +
                         "; pass every_edge(config" + (heads ? ", circuit_granularity::heads" : "") + ")");
}
}  // namespace detail

template <class = void>  // the tape compiles where it is used
edge_attribution_patching_result edge_attribution_patching(const transformer_edge_game& game,
                                                           const edge_attribution_options& options) {
  detail::require_steps(options);
  if (options.steps > 1) detail::require_full_graph(game);
  const auto& runs = game.ablation();
  const auto& c = game.model().config();
  const index layers = c.n_layers, length = runs.length(), width = c.head_dim(), sources = runs.sources();
  // Point p of the path is source p / steps at step p % steps. At the full graph (steps = 1) the
  // run does not depend on the source, so one row serves them all.
  const index steps = options.steps, paths = sources * steps, rows = steps > 1 ? paths : 1;
  const auto row_of = [steps](index p) { return static_cast<std::size_t>(steps > 1 ? p : 0); };
  const auto alpha = [steps](index p) { return static_cast<float>(p % steps + 1) / static_cast<float>(steps); };
  std::set<hook_point> senders, receivers;
  std::map<circuit_node, index> head_copy;  // a receiving head -> its copy (0, 1, ...) in the second pass
  for (const auto& e : game.edges()) {
    senders.insert(sender_hook(e.sender));
    receivers.insert(receiver_hook(e.receiver, layers));
    if (e.receiver.kind == circuit_node_kind::head && !head_copy.contains(e.receiver))
      head_copy.emplace(e.receiver, static_cast<index>(head_copy.size()));
  }
  // The path: at each receiver's hook, src + alpha (a - src) at the ablated positions, per source.
  std::map<hook_point, activation_mix> path;
  if (steps > 1) {
    activation_cache clean;
    hook_set record;
    for (const auto& p : senders) record.cache(p, clean);
    for (const auto& p : receivers) record.cache(p, clean);
    forward_options run;
    run.hooks = &record;
    run.logit_tokens = {0};
    run.last_position_only = true;
    run.threads = options.threads;
    const std::vector<std::vector<token_id>> one{runs.prompt()};
    game.model().forward(std::span<const std::vector<token_id>>(one), run);
    for (const auto& p : receivers) {
      const index cols = clean.at(p, 0).cols();
      auto& mix = path.try_emplace(p, activation_mix{float_matrix::Zero(paths * length, cols),
                                                     float_matrix::Ones(paths * length, cols)})
                      .first->second;
      for (index s = 0; s < sources; ++s) {
        float_matrix src = clean.at(p, 0).topRows(length);
        for (const auto& e : game.edges()) {
          if (receiver_hook(e.receiver, layers) != p) continue;
          // Heads of one layer share their input, so each sender counts once per hook point.
          if (e.receiver.kind == circuit_node_kind::head && e.receiver.unit != 0) continue;
          const hook_point at = sender_hook(e.sender);
          src -= game.sender_output(e.sender, clean.at(at, 0).topRows(length)) -
                 game.sender_output(e.sender, runs.source(s, at));
        }
        for (index k = 0; k < steps; ++k)
          for (index t = 0; t < length; ++t)
            if (runs.ablated_position(t)) {
              const index row = (s * steps + k) * length + t;
              mix.source.row(row) = src.row(t);
              mix.weight.row(row).setConstant(alpha(s * steps + k));
            }
      }
    }
  }
  const logit_objective objective = [&](const std::vector<float_matrix>& logits, std::vector<float_matrix>& gradient) {
    double value = 0.0;
    for (std::size_t r = 0; r < logits.size(); ++r) {
      const index last = logits[r].rows() - 1;
      vector d;
      const double v = runs.metric_value(logits[r].row(last), false, &d);
      if (r + 1 == static_cast<std::size_t>(steps)) value = v;  // the first source at the full graph
      gradient[r].row(last) += d.transpose().cast<float>();
    }
    return value;
  };
  const auto pass = [&](index rows, const std::vector<hook_point>& points, const std::map<hook_point, activation_mix>& mixes) {
    backward_options b;
    b.points = points;
    b.mixes = mixes;
    b.threads = options.threads;
    const std::vector<std::vector<token_id>> batch(static_cast<std::size_t>(rows), runs.prompt());
    return transformer_backward(runs.float_parameters(), std::span<const std::vector<token_id>>(batch), objective, b);
  };
  // First pass: one row per point of the path; the senders' outputs, the blocks' and the logits'
  // gradients.
  std::vector<hook_point> points(senders.begin(), senders.end());
  for (const auto& p : receivers)
    if (!senders.contains(p)) points.push_back(p);
  for (const auto& [head, copy] : head_copy)
    if (std::find(points.begin(), points.end(), hook_point::attn_z(head.layer)) == points.end())
      points.push_back(hook_point::attn_z(head.layer));
  const auto first = pass(rows, points, path);
  // Second pass, for receiving heads: row (copy, first pass's row), the path's mixes repeated, and
  // the layer's other heads held at their values in the first pass's row.
  transformer_gradients second;
  const index copies = static_cast<index>(head_copy.size());
  if (copies > 0) {
    std::map<hook_point, activation_mix> mixes;
    for (const auto& [p, mix] : path)
      mixes.emplace(p, activation_mix{mix.source.replicate(copies, 1), mix.weight.replicate(copies, 1)});
    for (const auto& [head, copy] : head_copy) {
      const hook_point at = hook_point::attn_z(head.layer);
      auto& mix = mixes.try_emplace(at, activation_mix{float_matrix::Zero(copies * rows * length, c.n_heads * width),
                                                       float_matrix::Ones(copies * rows * length, c.n_heads * width)})
                      .first->second;
      for (index p = 0; p < rows; ++p) {
        const float_matrix& z = first.activation(at, static_cast<std::size_t>(p));
        for (index t = 0; t < length; ++t)
          for (index h = 0; h < c.n_heads; ++h) {
            if (h == head.unit) continue;
            const index row = (copy * rows + p) * length + t;
            mix.source.row(row).segment(h * width, width) = z.row(t).segment(h * width, width);
            mix.weight.row(row).segment(h * width, width).setZero();
          }
      }
    }
    std::vector<hook_point> inputs;
    for (const auto& [head, copy] : head_copy)
      if (std::find(inputs.begin(), inputs.end(), hook_point::attn_in(head.layer)) == inputs.end())
        inputs.push_back(hook_point::attn_in(head.layer));
    second = pass(copies * rows, inputs, mixes);
  }
  edge_attribution_patching_result out;
  out.value = first.value;
  out.path_derivatives = matrix::Zero(steps, game.player_count());
  for (index j = 0; j < game.player_count(); ++j) {
    const auto& e = game.edges()[static_cast<std::size_t>(j)];
    const hook_point sender = sender_hook(e.sender), receiver = receiver_hook(e.receiver, layers);
    const auto copy = head_copy.find(e.receiver);
    for (index p = 0; p < paths; ++p) {
      const float_matrix own = game.sender_output(e.sender, first.activation(sender, row_of(p)));
      const float_matrix ref = game.sender_output(e.sender, runs.source(p / steps, sender));
      const float_matrix& d = copy == head_copy.end()
                          ? first.gradient(receiver, row_of(p))
                          : second.gradient(receiver, static_cast<std::size_t>(copy->second * rows) + row_of(p));
      double sum = 0.0;
      for (index t = 0; t < length; ++t)
        if (runs.ablated_position(t)) sum += d.row(t).cast<double>().dot((own.row(t) - ref.row(t)).cast<double>());
      out.path_derivatives(p % steps, j) += sum / static_cast<double>(sources);
    }
  }
  out.values = out.path_derivatives.colwise().mean().transpose();
  return out;
}

template <class = void>
edge_attribution_patching_result edge_attribution_patching(const transformer_edge_game& game, std::size_t threads = 1) {
  return edge_attribution_patching(game, edge_attribution_options{.threads = threads});
}

// On a dataset of prompts (Syed et al. and Hanna et al. score edges by the metric averaged over
// prompt pairs): the derivative of the mean game is the mean of its parts' derivatives, at the
// full graph and at every point of the path, so the estimate is each prompt's averaged.
template <class = void>
edge_attribution_patching_result edge_attribution_patching(const mean_game<transformer_edge_game>& game,
                                                           const edge_attribution_options& options) {
  detail::require_steps(options);
  edge_attribution_patching_result out{vector::Zero(game.player_count()), 0.0,
                                      matrix::Zero(options.steps, game.player_count())};
  for (const auto& part : game.parts()) {
    const auto one = edge_attribution_patching(part, options);
    out.values += one.values;
    out.value += one.value;
    out.path_derivatives += one.path_derivatives;
  }
  const auto m = static_cast<double>(game.parts().size());
  out.values /= m;
  out.value /= m;
  out.path_derivatives /= m;
  return out;
}

template <class = void>
edge_attribution_patching_result edge_attribution_patching(const mean_game<transformer_edge_game>& game,
                                                           std::size_t threads = 1) {
  return edge_attribution_patching(game, edge_attribution_options{.threads = threads});
}

}  // namespace attrib
