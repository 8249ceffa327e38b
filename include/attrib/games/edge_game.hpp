#pragma once
// transformer_edge_game: the edges of a transformer's computation graph as the players of a
// cooperative game - what ACDC prunes, path patching follows and edge attribution patching
// scores.
//
// The residual stream makes every block's input the sum of the outputs of the blocks before it:
// the embedding, each earlier attention block and each earlier MLP. An edge (sender -> receiver)
// is one term of one receiver's input. Ablating it replaces that term in that receiver's input
// only: the receiver reads  input + (1 - z) (s_ref - s_own),  where s_own is the sender's output
// in this run (after whatever was ablated upstream) and s_ref its ablation value (zero, mean,
// resample or patch, as in transformer_ablation.hpp). The other readers of the stream, and the
// residual path, still see s_own. Receivers read through the attn_in, mlp_in hook points (the
// stream as one block alone reads it) and, for the logits, resid_post of the last layer.
#include <algorithm>
#include <compare>
#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/hook_point.hpp"
#include "attrib/core/types.hpp"
#include "attrib/games/transformer_ablation.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/model/model.hpp"

namespace attrib {

enum class circuit_node_kind { embed, attention, mlp, logits };

// A node of the block-level computation graph: the embedding, layer l's attention or MLP block,
// or the logits (layer unused for embed and logits, 0).
struct circuit_node {
  circuit_node_kind kind = circuit_node_kind::embed;
  index layer = 0;

  friend auto operator<=>(const circuit_node&, const circuit_node&) = default;
};

// "embed", "attention 2", "mlp 2", "logits".
inline std::string to_string(const circuit_node& n) {
  switch (n.kind) {
    case circuit_node_kind::embed: return "embed";
    case circuit_node_kind::attention: return "attention " + std::to_string(n.layer);
    case circuit_node_kind::mlp: return "mlp " + std::to_string(n.layer);
    case circuit_node_kind::logits: return "logits";
  }
  return "unknown";
}

struct circuit_edge {
  circuit_node sender;
  circuit_node receiver;

  friend auto operator<=>(const circuit_edge&, const circuit_edge&) = default;
};

// "attention 0 -> mlp 2".
inline std::string to_string(const circuit_edge& e) { return to_string(e.sender) + " -> " + to_string(e.receiver); }

namespace detail {
// A node's place in forward order, with the logits after every block.
inline index forward_rank(const circuit_node& n, index layers) {
  switch (n.kind) {
    case circuit_node_kind::embed: return 0;
    case circuit_node_kind::attention: return 1 + 2 * n.layer;
    case circuit_node_kind::mlp: return 2 + 2 * n.layer;
    case circuit_node_kind::logits: return 1 + 2 * layers;
  }
  return 0;
}
}  // namespace detail

// Where a sender's output is read (embed, attn_out.l, mlp_out.l) and where a receiver reads its
// input (attn_in.l, mlp_in.l, resid_post of the last layer for the logits).
inline hook_point sender_hook(const circuit_node& n) {
  return n.kind == circuit_node_kind::attention ? hook_point::attn_out(n.layer)
         : n.kind == circuit_node_kind::mlp     ? hook_point::mlp_out(n.layer)
                                                : hook_point::embed();
}
inline hook_point receiver_hook(const circuit_node& n, index layers) {
  return n.kind == circuit_node_kind::attention ? hook_point::attn_in(n.layer)
         : n.kind == circuit_node_kind::mlp     ? hook_point::mlp_in(n.layer)
                                                : hook_point::resid_post(layers - 1);
}

// Every edge of the model's block-level graph, by receiver in forward order and then by sender:
// each sender (embed, attention l, mlp l) to each block that reads the stream after it and to the
// logits.
inline std::vector<circuit_edge> every_edge(const transformer_config& c) {
  std::vector<circuit_node> senders = {{circuit_node_kind::embed, 0}}, receivers;
  for (index l = 0; l < c.n_layers; ++l)
    for (auto kind : {circuit_node_kind::attention, circuit_node_kind::mlp}) {
      senders.push_back({kind, l});
      receivers.push_back({kind, l});
    }
  receivers.push_back({circuit_node_kind::logits, 0});
  std::vector<circuit_edge> out;
  for (const auto& r : receivers)
    for (const auto& s : senders)
      if (detail::forward_rank(s, c.n_layers) < detail::forward_rank(r, c.n_layers)) out.push_back({s, r});
  return out;
}

class transformer_edge_game {
 public:
  // Holds a reference to `model`, which must outlive the game. Throws invalid_argument naming the
  // problem for edges outside the model, edges whose sender does not precede their receiver,
  // edges listed twice, and what transformer_ablation rejects.
  transformer_edge_game(const transformer_model& model, std::vector<token_id> prompt, std::vector<circuit_edge> edges,
                        component_game_options options)
      : edges_(std::move(edges)),
        runs_(model, std::move(prompt), std::move(options), checked_senders(edges_, model.config().n_layers),
              "transformer_edge_game") {
    const index layers = model.config().n_layers;
    for (index j = 0; j < player_count(); ++j) {
      const auto& e = edges_[static_cast<std::size_t>(j)];
      incoming_[receiver_hook(e.receiver, layers)].push_back({j, sender_hook(e.sender)});
    }
    if (runs_.options().reuse_prefix) record_clean_senders();
  }

  index player_count() const { return static_cast<index>(edges_.size()); }
  index model_evaluations_per_value() const { return runs_.sources(); }
  const std::vector<circuit_edge>& edges() const { return edges_; }
  const std::vector<token_id>& prompt() const { return runs_.prompt(); }
  const transformer_model& model() const { return runs_.model(); }
  const component_game_options& options() const { return runs_.options(); }
  // The prompt, ablation values (at every sender's hook point) and metric.
  const transformer_ablation& ablation() const { return runs_; }

  // One value per row of `points` (one entry per edge: 1 keeps it, 0 ablates it, a fraction
  // mixes).
  vector values(const matrix& points) const {
    runs_.check_points(points, player_count());
    // A run starts at the layer of the first receiver whose input it changes; the senders before
    // that layer do not run, and their outputs are the unablated run's, recorded once.
    const index layers = runs_.model().config().n_layers;
    const auto start = [&](index row) {
      index first = layers;
      for (index j = 0; j < player_count(); ++j)
        if (static_cast<float>(points(row, j)) != 1.0f) {
          const auto& r = edges_[static_cast<std::size_t>(j)].receiver;
          first = std::min(first, r.kind == circuit_node_kind::logits ? layers - 1 : r.layer);
        }
      return first;
    };
    return runs_.values(points, [&](hook_set& hooks, std::span<const index> runs) {
      // The senders' outputs in this run, per batch row (positions x dim), read by the receivers
      // later in the same forward pass; senders the run skips keep the unablated outputs.
      auto own = std::make_shared<std::map<hook_point, std::vector<float_matrix>>>();
      for (const auto& [point, clean] : clean_senders_)
        (*own)[point].assign(runs.size(), clean);
      for (const auto& point : sender_points(edges_))
        hooks.call(point, [own, this](hook_point at, float_matrix& values, std::span<const token_location> tokens) {
          auto& rows = (*own)[at];
          for (std::size_t i = 0; i < tokens.size(); ++i) {
            const auto t = tokens[i];
            if (static_cast<index>(rows.size()) <= t.row) rows.resize(static_cast<std::size_t>(t.row + 1));
            auto& m = rows[static_cast<std::size_t>(t.row)];
            if (m.rows() == 0) m = float_matrix::Zero(runs_.length(), values.cols());
            m.row(t.position) = values.row(static_cast<index>(i));
          }
        });
      for (const auto& [point, in] : incoming_)
        hooks.call(point, [own, runs, &points, &in = in, this](hook_point, float_matrix& values,
                                                              std::span<const token_location> tokens) {
          const index sources = runs_.sources();
          for (std::size_t i = 0; i < tokens.size(); ++i) {
            const auto t = tokens[i];
            if (!runs_.ablated_position(t.position)) continue;
            const index run = runs[static_cast<std::size_t>(t.row)];
            for (const auto& [edge, sender] : in) {
              const double z = points(run / sources, edge);
              if (z == 1.0) continue;
              const auto& s_own = own->at(sender)[static_cast<std::size_t>(t.row)].row(t.position);
              const auto& s_ref = runs_.source(run % sources, sender).row(t.position);
              values.row(static_cast<index>(i)) += static_cast<float>(1.0 - z) * (s_ref - s_own);
            }
          }
        });
    }, start);
  }

 private:
  // The unablated prompt's output at every sender's hook point (reuse_prefix only).
  void record_clean_senders() {
    activation_cache cache;
    hook_set hooks;
    for (const auto& point : sender_points(edges_)) hooks.cache(point, cache);
    forward_options run;
    run.hooks = &hooks;
    run.logit_tokens = {0};
    run.last_position_only = true;
    run.threads = runs_.options().threads;
    const std::vector<std::vector<token_id>> one{runs_.prompt()};
    runs_.model().forward(std::span<const std::vector<token_id>>(one), run);
    for (const auto& point : sender_points(edges_)) clean_senders_[point] = cache.at(point, 0).topRows(runs_.length());
  }

  // The senders' hook points, after checking every edge against a model of `layers` layers.
  static std::set<hook_point> checked_senders(const std::vector<circuit_edge>& edges, index layers) {
    detail::require(!edges.empty(), "transformer_edge_game: no edges given");
    for (const auto& e : edges) {
      const std::string name = "transformer_edge_game: edge " + to_string(e);
      for (const auto& n : {e.sender, e.receiver}) {
        const bool layered = n.kind == circuit_node_kind::attention || n.kind == circuit_node_kind::mlp;
        detail::require(layered ? n.layer >= 0 && n.layer < layers : n.layer == 0,
                        name + " names a node outside the model's " + std::to_string(layers) + " layers");
      }
      detail::require(e.sender.kind != circuit_node_kind::logits && e.receiver.kind != circuit_node_kind::embed,
                      name + " runs backwards: senders are embed, attention and mlp; receivers attention, mlp and logits");
      detail::require(detail::forward_rank(e.sender, layers) < detail::forward_rank(e.receiver, layers),
                      name + ": the sender does not come before the receiver");
    }
    auto sorted = edges;
    std::sort(sorted.begin(), sorted.end());
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    detail::require(twice == sorted.end(),
                    "transformer_edge_game: edge " + (twice == sorted.end() ? std::string() : to_string(*twice)) + " is listed twice");
    return sender_points(edges);
  }

  static std::set<hook_point> sender_points(const std::vector<circuit_edge>& edges) {
    std::set<hook_point> out;
    for (const auto& e : edges) out.insert(sender_hook(e.sender));
    return out;
  }

  std::vector<circuit_edge> edges_;
  transformer_ablation runs_;
  // For each receiver's hook point: (edge index, the sender's hook point) of its incoming edges.
  std::map<hook_point, std::vector<std::pair<index, hook_point>>> incoming_;
  std::map<hook_point, float_matrix> clean_senders_;  // reuse_prefix: positions x width per sender
};

}  // namespace attrib
