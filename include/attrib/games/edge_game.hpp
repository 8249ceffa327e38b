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
//
// The graph may also be drawn over attention heads (circuit_granularity::heads): a head sends
// its share of the attention output, z_h W_O_h^T (the output bias belongs to no head), and reads
// its own copy of the layer's input - the split input of TransformerLens's circuit work. The
// forward pass reads one attn_in per layer, so a head that receives edges computes in a row of
// the batch of its own: that row's attn_in is the main row's plus the head's cut edges, and the
// head's columns of attn_z are copied from it into the main row. The copy rows cost 1 + heads
// times the rows of a block-level game.
#include <algorithm>
#include <compare>
#include <concepts>
#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/game.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/hook_point.hpp"
#include "attrib/core/types.hpp"
#include "attrib/games/transformer_ablation.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/model/model.hpp"

namespace attrib {

// head: one attention head (layer, unit = head), in the graph over heads.
enum class circuit_node_kind { embed, attention, mlp, logits, head };

// A node of the computation graph: the embedding, layer l's attention or MLP block, head
// (l, unit), or the logits (layer unused for embed and logits, 0; unit used by heads only, 0).
struct circuit_node {
  circuit_node_kind kind = circuit_node_kind::embed;
  index layer = 0;
  index unit = 0;

  friend auto operator<=>(const circuit_node&, const circuit_node&) = default;
};

// "embed", "attention 2", "mlp 2", "head 2.1", "logits".
inline std::string to_string(const circuit_node& n) {
  switch (n.kind) {
    case circuit_node_kind::embed: return "embed";
    case circuit_node_kind::attention: return "attention " + std::to_string(n.layer);
    case circuit_node_kind::mlp: return "mlp " + std::to_string(n.layer);
    case circuit_node_kind::logits: return "logits";
    case circuit_node_kind::head: return "head " + std::to_string(n.layer) + "." + std::to_string(n.unit);
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
// A node's place in forward order, with the logits after every block; a layer's heads share
// their block's place, since they read the same stream.
inline index forward_rank(const circuit_node& n, index layers) {
  switch (n.kind) {
    case circuit_node_kind::embed: return 0;
    case circuit_node_kind::attention:
    case circuit_node_kind::head: return 1 + 2 * n.layer;
    case circuit_node_kind::mlp: return 2 + 2 * n.layer;
    case circuit_node_kind::logits: return 1 + 2 * layers;
  }
  return 0;
}
}  // namespace detail

// Where a sender's output is read (embed, attn_out.l, mlp_out.l; attn_z.l for a head, whose
// output is its columns there times its columns of W_O) and where a receiver reads its input
// (attn_in.l for a block and its heads, mlp_in.l, resid_post of the last layer for the logits).
inline hook_point sender_hook(const circuit_node& n) {
  return n.kind == circuit_node_kind::attention ? hook_point::attn_out(n.layer)
         : n.kind == circuit_node_kind::head    ? hook_point::attn_z(n.layer)
         : n.kind == circuit_node_kind::mlp     ? hook_point::mlp_out(n.layer)
                                                : hook_point::embed();
}
inline hook_point receiver_hook(const circuit_node& n, index layers) {
  return n.kind == circuit_node_kind::attention || n.kind == circuit_node_kind::head ? hook_point::attn_in(n.layer)
         : n.kind == circuit_node_kind::mlp     ? hook_point::mlp_in(n.layer)
                                                : hook_point::resid_post(layers - 1);
}

// What the attention nodes of a graph are: whole blocks, or each head.
enum class circuit_granularity { blocks, heads };

// Every edge of the model's graph, by receiver in forward order and then by sender: each sender
// (embed, attention l or its heads, mlp l) to each node that reads the stream after it and to the
// logits.
inline std::vector<circuit_edge> every_edge(const transformer_config& c,
                                            circuit_granularity granularity = circuit_granularity::blocks) {
  std::vector<circuit_node> senders = {{circuit_node_kind::embed, 0}}, receivers;
  auto add = [&](const circuit_node& n) {
    senders.push_back(n);
    receivers.push_back(n);
  };
  for (index l = 0; l < c.n_layers; ++l) {
    if (granularity == circuit_granularity::heads)
      for (index h = 0; h < c.n_heads; ++h) add({circuit_node_kind::head, l, h});
    else
      add({circuit_node_kind::attention, l});
    add({circuit_node_kind::mlp, l});
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
        runs_(model, std::move(prompt), std::move(options), checked_senders(edges_, model.config()),
              "transformer_edge_game") {
    const auto& c = model.config();
    for (index j = 0; j < player_count(); ++j) {
      const auto& e = edges_[static_cast<std::size_t>(j)];
      const bool head = e.receiver.kind == circuit_node_kind::head;
      incoming_[receiver_hook(e.receiver, c.n_layers)].push_back({j, e.sender, head ? 1 + e.receiver.unit : 0});
      if (head) {
        copies_ = 1 + c.n_heads;
        receiving_heads_[e.receiver.layer].insert(e.receiver.unit);
      }
      if (e.sender.kind == circuit_node_kind::head && !output_projection_.contains(e.sender.layer)) {
        const auto& parameters = runs_.float_parameters();
        output_projection_[e.sender.layer] =
            parameters.tensors[static_cast<std::size_t>(parameters.find("layers." + std::to_string(e.sender.layer) + ".wo"))];
      }
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

  // What `sender` adds to the residual stream, from its hook point's activations `at_hook`
  // (positions x width): a block's output as it is, a head's columns of attn_z times its columns
  // of W_O.
  float_matrix sender_output(const circuit_node& sender, const float_matrix& at_hook) const {
    if (sender.kind != circuit_node_kind::head) return at_hook;
    const index width = runs_.model().config().head_dim();
    return at_hook.middleCols(sender.unit * width, width) *
           output_projection_.at(sender.layer).middleCols(sender.unit * width, width).transpose();
  }

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
    const index copies = copies_, length = runs_.length();
    return runs_.values(points, [&](hook_set& hooks, std::span<const index> runs) {
      // Batch row b belongs to run runs[b / copies]; b % copies is 0 for the run itself and 1 + h
      // for the row in which head h computes on its own input. Rows hold every position in order.
      const auto token_row = [length](index row, index position) { return row * length + position; };
      // A receiving head's output comes from its row (installed before the senders' records, so a
      // head sender's output is the one its cut input edges give).
      for (const auto& [layer, heads] : receiving_heads_)
        hooks.call(hook_point::attn_z(layer), [&heads = heads, copies, token_row, this](hook_point, float_matrix& values,
                                                                                      std::span<const token_location> tokens) {
          const index width = runs_.model().config().head_dim();
          for (const auto& t : tokens)
            if (t.row % copies == 0)
              for (const index h : heads)
                values.row(token_row(t.row, t.position)).segment(h * width, width) =
                    values.row(token_row(t.row + 1 + h, t.position)).segment(h * width, width);
        });
      // The senders' outputs in this run, per run of the batch (positions x width), read by the
      // receivers later in the same forward pass; senders the run skips keep the unablated outputs.
      auto own = std::make_shared<std::map<hook_point, std::vector<float_matrix>>>();
      for (const auto& [point, clean] : clean_senders_)
        (*own)[point].assign(runs.size(), clean);
      for (const auto& point : sender_points(edges_))
        hooks.call(point, [own, copies, this](hook_point at, float_matrix& values, std::span<const token_location> tokens) {
          auto& rows = (*own)[at];
          for (std::size_t i = 0; i < tokens.size(); ++i) {
            const auto t = tokens[i];
            if (t.row % copies != 0) continue;
            const auto run = static_cast<std::size_t>(t.row / copies);
            if (rows.size() <= run) rows.resize(run + 1);
            auto& m = rows[run];
            if (m.rows() == 0) m = float_matrix::Zero(runs_.length(), values.cols());
            m.row(t.position) = values.row(static_cast<index>(i));
          }
        });
      for (const auto& [point, in] : incoming_)
        hooks.call(point, [own, runs, &points, &in = in, copies, token_row, this](hook_point, float_matrix& values,
                                                                                std::span<const token_location> tokens) {
          const index sources = runs_.sources();
          // The run's own rows first: a head's row then starts from what the whole block reads.
          for (const bool head_rows : {false, true})
            for (const auto& t : tokens) {
              const index copy = t.row % copies;
              if ((copy != 0) != head_rows) continue;
              const index i = token_row(t.row, t.position);
              if (head_rows) values.row(i) = values.row(token_row(t.row - copy, t.position));
              if (!runs_.ablated_position(t.position)) continue;
              const index run = runs[static_cast<std::size_t>(t.row / copies)];
              for (const auto& edge : in) {
                if (edge.copy != copy) continue;
                const double z = points(run / sources, edge.player);
                if (z == 1.0) continue;
                const hook_point at = sender_hook(edge.sender);
                const auto s_own = own->at(at)[static_cast<std::size_t>(t.row / copies)].row(t.position);
                const auto s_ref = runs_.source(run % sources, at).row(t.position);
                const auto weight = static_cast<float>(1.0 - z);
                if (edge.sender.kind == circuit_node_kind::head)  // a row of attn_z, mapped to what the head writes
                  values.row(i) += weight * sender_output(edge.sender, float_matrix(s_ref - s_own));
                else
                  values.row(i) += weight * (s_ref - s_own);
              }
            }
        });
    }, start, copies);
  }

 private:
  // An edge into a receiver's hook point: its player, its sender, and the batch row it acts in
  // (0: the run's own; 1 + h: head h's).
  struct incoming_edge {
    index player;
    circuit_node sender;
    index copy;
  };

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

  // The senders' hook points, after checking every edge against the model.
  static std::set<hook_point> checked_senders(const std::vector<circuit_edge>& edges, const transformer_config& c) {
    detail::require(!edges.empty(), "transformer_edge_game: no edges given");
    const index layers = c.n_layers;
    for (const auto& e : edges) {
      const std::string name = "transformer_edge_game: edge " + to_string(e);
      for (const auto& n : {e.sender, e.receiver}) {
        const bool layered = n.kind == circuit_node_kind::attention || n.kind == circuit_node_kind::mlp ||
                             n.kind == circuit_node_kind::head;
        detail::require(layered ? n.layer >= 0 && n.layer < layers : n.layer == 0,
                        name + " names a node outside the model's " + std::to_string(layers) + " layers");
        detail::require(n.kind == circuit_node_kind::head ? n.unit >= 0 && n.unit < c.n_heads : n.unit == 0,
                        name + " names a head outside the model's " + std::to_string(c.n_heads) + " heads a layer");
      }
      detail::require(e.sender.kind != circuit_node_kind::logits && e.receiver.kind != circuit_node_kind::embed,
                      name + " runs backwards: senders are embed, attention, heads and mlp; receivers attention, heads, mlp and logits");
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
  // For each receiver's hook point, its incoming edges.
  std::map<hook_point, std::vector<incoming_edge>> incoming_;
  // Batch rows per run: 1, or 1 + heads when a head receives edges.
  index copies_ = 1;
  std::map<index, std::set<index>> receiving_heads_;  // layer -> the heads that receive edges
  std::map<index, float_matrix> output_projection_;   // layer -> W_O (dim x dim), for head senders
  std::map<hook_point, float_matrix> clean_senders_;  // reuse_prefix: positions x width per sender
};

// A game whose players are the edges of one transformer's graph: transformer_edge_game on one
// prompt, or a mean_game of them on a dataset of prompts. ACDC and path patching need no more.
template <class G>
concept edge_game = game<G> && requires(const G& g) {
  { g.edges() } -> std::same_as<const std::vector<circuit_edge>&>;
  { g.model() } -> std::same_as<const transformer_model&>;
};
static_assert(edge_game<transformer_edge_game>);

}  // namespace attrib
