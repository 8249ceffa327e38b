#pragma once
// transformer_component_game: a transformer's components as the players of a cooperative game,
// so that every estimator of the game framework (exact Shapley, KernelSHAP, permutation sampling,
// Banzhaf, LIME, occlusion, and the data-style estimators) attributes a behaviour to attention
// heads, MLP neurons, whole blocks or residual positions unchanged.
//
// A coalition z (one entry per player) runs the prompt with every absent player's activation
// replaced by an ablation value: its slice a of the activation becomes s + z (a - s), where s is
// the ablation value, so z = 1 keeps the component, z = 0 ablates it, and a fractional z is the
// continuous mask that mask learning optimises. The ablation values (zero, mean, resample, patch)
// and the metric of the last position's logits are transformer_ablation.hpp's.
//
// The game is differentiable in z: gradients() runs the mix s + z (a - s) on the backward pass's
// tape, so the gradient methods apply too. At the grand coalition the gradient is attribution
// patching (methods/component/attribution_patching.hpp); along the path from the empty coalition
// it is integrated gradients over components.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/hook_point.hpp"
#include "attrib/core/types.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/games/transformer_ablation.hpp"
#include "attrib/transformer/training/backward.hpp"

namespace attrib {

enum class component_kind {
  head,       // attention head (layer, unit = head): its columns of attn_z
  neuron,     // MLP neuron (layer, unit = neuron): its column of mlp_post
  attention,  // a layer's whole attention block: attn_out (unit unused)
  mlp,        // a layer's whole MLP block: mlp_out (unit unused)
  position,   // the residual stream entering `layer` at position `unit`: resid_pre
};

struct transformer_component {
  component_kind kind = component_kind::head;
  index layer = 0;
  index unit = 0;

  friend auto operator<=>(const transformer_component&, const transformer_component&) = default;
};

// "head 3.1", "neuron 2.17", "attention 1", "mlp 1", "position 0.5" (layer, then unit).
inline std::string to_string(const transformer_component& c) {
  const std::string layer = std::to_string(c.layer);
  switch (c.kind) {
    case component_kind::head: return "head " + layer + "." + std::to_string(c.unit);
    case component_kind::neuron: return "neuron " + layer + "." + std::to_string(c.unit);
    case component_kind::attention: return "attention " + layer;
    case component_kind::mlp: return "mlp " + layer;
    case component_kind::position: return "position " + layer + "." + std::to_string(c.unit);
  }
  return "unknown";
}

// The hook point a component lives at.
inline hook_point component_hook(const transformer_component& c) {
  switch (c.kind) {
    case component_kind::head: return hook_point::attn_z(c.layer);
    case component_kind::neuron: return hook_point::mlp_post(c.layer);
    case component_kind::attention: return hook_point::attn_out(c.layer);
    case component_kind::mlp: return hook_point::mlp_out(c.layer);
    case component_kind::position: return hook_point::resid_pre(c.layer);
  }
  return hook_point::embed();
}

// The columns [first, first + second) of component_hook(c) that the component owns.
inline std::pair<index, index> component_columns(const transformer_config& config, const transformer_component& c) {
  switch (c.kind) {
    case component_kind::head: return {c.unit * config.head_dim(), config.head_dim()};
    case component_kind::neuron: return {c.unit, 1};
    case component_kind::attention:
    case component_kind::mlp:
    case component_kind::position: break;
  }
  return {0, config.dim};
}

// Every attention head, layer by layer.
inline std::vector<transformer_component> every_head(const transformer_config& c) {
  std::vector<transformer_component> out;
  for (index l = 0; l < c.n_layers; ++l)
    for (index h = 0; h < c.n_heads; ++h) out.push_back({component_kind::head, l, h});
  return out;
}

// Every neuron of layer `layer`'s MLP.
inline std::vector<transformer_component> every_neuron(const transformer_config& c, index layer) {
  std::vector<transformer_component> out;
  for (index i = 0; i < c.hidden_dim; ++i) out.push_back({component_kind::neuron, layer, i});
  return out;
}

// Every attention and MLP block, in forward order.
inline std::vector<transformer_component> every_block(const transformer_config& c) {
  std::vector<transformer_component> out;
  for (index l = 0; l < c.n_layers; ++l) {
    out.push_back({component_kind::attention, l, 0});
    out.push_back({component_kind::mlp, l, 0});
  }
  return out;
}

// Every position of a prompt of `length` tokens, in the stream entering layer `layer`.
inline std::vector<transformer_component> every_position(index layer, index length) {
  std::vector<transformer_component> out;
  for (index p = 0; p < length; ++p) out.push_back({component_kind::position, layer, p});
  return out;
}

class transformer_component_game {
 public:
  // Holds a reference to `model`, which must outlive the game; the reference runs are done here.
  // Throws invalid_argument naming the problem for players outside the model or the prompt,
  // reference prompts of another length or count than the ablation needs, a reference model of
  // another shape, and metric tokens outside the vocabulary.
  transformer_component_game(const transformer_model& model, std::vector<token_id> prompt,
                             std::vector<transformer_component> players, component_game_options options)
      : players_(std::move(players)),
        runs_(model, std::move(prompt), std::move(options), hook_points(players_), "transformer_component_game") {
    detail::require(!players_.empty(), "transformer_component_game: no players given");
    check_players(model.config(), runs_.length());
    index_players(model.config());
  }

  index player_count() const { return static_cast<index>(players_.size()); }
  index model_evaluations_per_value() const { return runs_.sources(); }
  const std::vector<transformer_component>& players() const { return players_; }
  const std::vector<token_id>& prompt() const { return runs_.prompt(); }
  const transformer_model& model() const { return runs_.model(); }
  const component_game_options& options() const { return runs_.options(); }

  // One value per row of `points` (player_count() columns, finite entries; 1 keeps a player,
  // 0 ablates it).
  vector values(const matrix& points) const {
    runs_.check_points(points, player_count());
    return runs_.values(
        points,
        [&](hook_set& hooks, std::span<const index> runs) {
          for (const auto& [point, slices] : slices_)
            hooks.call(point, [&, runs, &slices = slices](hook_point at, float_matrix& values,
                                                          std::span<const token_location> tokens) {
              ablate(at, slices, points, runs, values, tokens);
            });
        },
        [&](index row) {  // the earliest layer a player of the row is ablated at
          index first = runs_.model().config().n_layers;
          for (index j = 0; j < player_count(); ++j)
            if (static_cast<float>(points(row, j)) != 1.0f)
              first = std::min(first, players_[static_cast<std::size_t>(j)].layer);
          return first;
        });
  }

  // dv/dz at each row of `points`, from one forward and one backward pass of all rows (and
  // sources) together on the tape, in float. The first call decodes the model's weights to
  // float32 once (kept while the game lives).
  template <class = void>  // the tape compiles where it is used
  matrix gradients(const matrix& points) const {
    runs_.check_points(points, player_count());
    const index sources = runs_.sources();
    const index runs = points.rows() * sources;
    const index length = runs_.length();
    // Entries no player touches keep weight 1 and source 0, so they pass through exactly.
    backward_options options;
    options.threads = runs_.options().threads;
    for (const auto& [point, slices] : slices_) {
      const index width = runs_.width(point);
      activation_mix mix{float_matrix::Zero(runs * length, width), float_matrix::Ones(runs * length, width)};
      for (index run = 0; run < runs; ++run) {
        const auto& source = runs_.source(run % sources, point);
        for (const auto& sl : slices)
          for (index t = 0; t < length; ++t) {
            if (!touches(sl, t)) continue;
            const index row = run * length + t;
            mix.source.row(row).segment(sl.begin, sl.width) = source.row(t).segment(sl.begin, sl.width);
            mix.weight.row(row).segment(sl.begin, sl.width).setConstant(static_cast<float>(points(run / sources, sl.player)));
          }
      }
      options.mixes.emplace(point, std::move(mix));
    }
    const std::vector<std::vector<token_id>> batch(static_cast<std::size_t>(runs), runs_.prompt());
    const logit_objective objective = [&](const std::vector<float_matrix>& logits, std::vector<float_matrix>& gradient) {
      double total = 0.0;
      for (std::size_t r = 0; r < logits.size(); ++r) {
        const index last = logits[r].rows() - 1;
        vector d;
        total += runs_.metric_value(logits[r].row(last), false, &d);
        gradient[r].row(last) += (d / static_cast<double>(sources)).transpose().cast<float>();
      }
      return total / static_cast<double>(sources);
    };
    const auto g = transformer_backward(runs_.float_parameters(), std::span<const std::vector<token_id>>(batch), objective, options);
    matrix out = matrix::Zero(points.rows(), player_count());
    for (const auto& [point, slices] : slices_) {
      const auto& dweight = g.mix_gradients.at(point);
      for (index run = 0; run < runs; ++run)
        for (const auto& sl : slices)
          for (index t = 0; t < length; ++t)
            if (touches(sl, t))
              out(run / sources, sl.player) +=
                  static_cast<double>(dweight.row(run * length + t).segment(sl.begin, sl.width).sum());
    }
    return out;
  }

 private:
  // One player's part of a hook point: columns [begin, begin + width) at `position` (-1: every
  // ablated position).
  struct slice {
    index player;
    index begin;
    index width;
    index position;
  };

  void check_players(const transformer_config& c, index length) const {
    for (const auto& p : players_) {
      const std::string name = "transformer_component_game: player " + to_string(p);
      detail::require(p.layer >= 0 && p.layer < c.n_layers,
                      name + " is outside the model's " + std::to_string(c.n_layers) + " layers");
      auto unit_below = [&](index limit, const std::string& what) {
        detail::require(p.unit >= 0 && p.unit < limit,
                        name + " is outside the " + std::to_string(limit) + " " + what);
      };
      switch (p.kind) {
        case component_kind::head: unit_below(c.n_heads, "heads of a layer"); break;
        case component_kind::neuron: unit_below(c.hidden_dim, "neurons of a layer's MLP"); break;
        case component_kind::position: unit_below(length, "positions of the prompt"); break;
        case component_kind::attention:
        case component_kind::mlp: unit_below(1, "unit of a whole block (0)"); break;
      }
    }
    auto sorted = players_;
    std::sort(sorted.begin(), sorted.end());
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    detail::require(twice == sorted.end(),
                    "transformer_component_game: player " + (twice == sorted.end() ? std::string() : to_string(*twice)) +
                        " is listed twice");
  }

  // Groups the players by hook point, with the columns and positions each one covers.
  void index_players(const transformer_config& c) {
    for (index j = 0; j < player_count(); ++j) {
      const auto& p = players_[static_cast<std::size_t>(j)];
      const hook_point point = component_hook(p);
      const auto [begin, width] = component_columns(c, p);
      slices_[point].push_back({j, begin, width, p.kind == component_kind::position ? p.unit : -1});
    }
  }

  bool touches(const slice& s, index position) const {
    return s.position >= 0 ? s.position == position : runs_.ablated_position(position);
  }

  // Batch row b is run runs[b]: point runs[b] / sources, with source runs[b] % sources.
  void ablate(hook_point point, const std::vector<slice>& slices, const matrix& points, std::span<const index> runs,
              float_matrix& values, std::span<const token_location> tokens) const {
    const index sources = runs_.sources();
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const auto t = tokens[i];
      const index run = runs[static_cast<std::size_t>(t.row)];
      const auto& source = runs_.source(run % sources, point);
      auto row = values.row(static_cast<index>(i));
      for (const auto& s : slices) {
        if (!touches(s, t.position)) continue;
        const auto z = static_cast<float>(points(run / sources, s.player));
        if (z == 1.0f) continue;
        const auto from = source.row(t.position).segment(s.begin, s.width);
        auto a = row.segment(s.begin, s.width);
        a = from + z * (a - from);
      }
    }
  }

  // The hook points the players live at.
  static std::set<hook_point> hook_points(const std::vector<transformer_component>& players) {
    std::set<hook_point> out;
    for (const auto& p : players) out.insert(component_hook(p));
    return out;
  }

  std::vector<transformer_component> players_;
  transformer_ablation runs_;
  std::map<hook_point, std::vector<slice>> slices_;
};

}  // namespace attrib
