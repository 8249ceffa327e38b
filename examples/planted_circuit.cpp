// A circuit planted by training, and whether the component methods find it (issue #13, item 3).
//
// A two-layer attention-only GPT-2 is trained here on induction: random tokens whose second half
// repeats the first, the segment 3 to 8 tokens long (so that no fixed offset finds the earlier
// copy), with the loss on the repeat. Induction is done by a previous-token head in layer 0
// feeding an induction head in layer 1 (Olsson et al. 2022). Between blocks, the edges that
// mechanism needs whatever the weights are: embed -> attention 0 (the previous token),
// attention 0 -> attention 1 (K-composition: where the earlier copy of the current token sits)
// and attention 1 -> logits (the copied token). The token to copy (V) may reach the induction
// head from the embedding or through a layer-0 head that also reads the current token, so
// embed -> attention 1 is not counted as planted. The MLPs start at zero and, with zero gradients
// there, never write: every edge into or out of them is a dummy.
//
// The methods run on pairs of prompts - distinct tokens and the start of their repeat, and the same
// tokens shuffled before the same start - with patch ablation from the shuffled prompt, under two
// metrics: the logit difference between the clean and the corrupted answer, and the KL divergence
// to the clean run (ACDC's). The shuffle keeps which tokens were seen and where: only the order
// that induction reads changes.
//   ACDC                    keeps the edges whose removal moves the metric by more than 0.05;
//   edge attribution patching, path patching (each edge alone)
//                           score every edge; the circuit is the edges scoring at least 10% of the
//                           largest;
//   mask learning           over the blocks (attention and MLP of each layer): the blocks kept.
// Each is compared with the planted edges (blocks for mask learning) by precision and recall,
// averaged over prompts, with its run time; a second table counts how often each edge is chosen
// and how much cutting it alone moves the metric.
//
//   planted_circuit [seed] [threads]
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "attrib/core/random.hpp"
#include "attrib/games/component_game.hpp"
#include "attrib/games/edge_game.hpp"
#include "attrib/methods/component/acdc.hpp"
#include "attrib/methods/component/edge_attribution_patching.hpp"
#include "attrib/methods/component/mask_learning.hpp"
#include "attrib/methods/component/path_patching.hpp"
#include "attrib/transformer/training/training.hpp"
#include "table_format.hpp"

namespace {

using attrib::circuit_edge;
using attrib::circuit_node;
using attrib::circuit_node_kind;
using Index = attrib::index;
using attrib::token_id;
using attrib_examples::fixed;

constexpr token_id bos = 0;       // position 0; the random tokens are 1 .. vocab - 1
constexpr Index vocab = 24;
constexpr Index segment = 8;     // the longest segment repeated
constexpr Index filler = 7;      // the most random tokens before it

// Shuffles s[1 ..] (Fisher-Yates), keeping BOS first.
void shuffle_tail(std::vector<token_id>& s, attrib::rng& gen) {
  for (std::size_t t = s.size() - 1; t > 1; --t) std::swap(s[t], s[1 + gen.below(t)]);
}

// [BOS, r_1 .. r_k, r_1 .. r_k] with k from 3 to 8: the repeat's predictions after its first
// token carry the loss. The length varies so that no fixed offset finds the earlier copy: only
// content (which token came before) does.

attrib::language_model_batch induction_data(std::size_t count, attrib::rng& gen) {
  attrib::language_model_batch data;
  for (std::size_t i = 0; i < count; ++i) {
    const auto k = static_cast<Index>(3 + gen.below(segment - 2));
    const auto f = static_cast<Index>(gen.below(filler + 1));
    std::vector<token_id> s = {bos};
    for (Index t = 0; t < f + k; ++t) s.push_back(static_cast<token_id>(1 + gen.below(vocab - 1)));
    for (Index t = 0; t < k; ++t) s.push_back(s[static_cast<std::size_t>(1 + f + t)]);
    std::vector<float> w(s.size() - 1, 0.0f);
    for (Index t = f + k + 1; t < f + 2 * k; ++t) w[static_cast<std::size_t>(t)] = 1.0f;
    data.sequences.push_back(std::move(s));
    data.weights.push_back(std::move(w));
  }
  return data;
}

// The share of the repeat's next tokens the model predicts by greedy argmax.
double induction_accuracy(const attrib::transformer_model& model, const attrib::language_model_batch& data) {
  const auto logits = model.forward(std::span<const std::vector<token_id>>(data.sequences));
  std::size_t right = 0, all = 0;
  for (std::size_t b = 0; b < data.sequences.size(); ++b)
    for (std::size_t t = 0; t + 1 < data.sequences[b].size(); ++t) {
      if (data.weights[b][t] == 0.0f) continue;
      Index best = 0;
      logits[b].row(static_cast<Index>(t)).maxCoeff(&best);
      right += best == data.sequences[b][t + 1];
      ++all;
    }
  return static_cast<double>(right) / static_cast<double>(all);
}

struct score {
  double precision = 0.0, recall = 0.0, seconds = 0.0;
  std::size_t prompts = 0;
  void add(const std::set<circuit_edge>& found, const std::set<circuit_edge>& truth, double s) {
    std::size_t hits = 0;
    for (const auto& e : found) hits += truth.contains(e);
    precision += found.empty() ? 0.0 : static_cast<double>(hits) / static_cast<double>(found.size());
    recall += static_cast<double>(hits) / static_cast<double>(truth.size());
    seconds += s;
    ++prompts;
  }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The edges scoring at least `share` of the largest |score|.
std::set<circuit_edge> top_edges(const std::vector<circuit_edge>& edges, const attrib::vector& values, double share) {
  const double largest = values.cwiseAbs().maxCoeff();
  std::set<circuit_edge> out;
  for (std::size_t j = 0; j < edges.size(); ++j)
    if (std::abs(values(static_cast<Index>(j))) >= share * largest && largest > 0.0) out.insert(edges[j]);
  return out;
}

// Where attention 0 -> logits acts, at the last position of one prompt pair, as the drop in the
// logit difference: the edge's path patch as the logits read it (the clean final stream r with
// attention 0's output a swapped for the corrupted run's a'), recomputed here from the weights;
// the same swap with the final LayerNorm's centring and scale frozen at r's (what is left is
// the unembedding reading a' - a directly); and that frozen effect split over layer 0's heads.
struct direct_edge_effect {
  double through_norm = 0.0, frozen_norm = 0.0;
  std::vector<double> per_head;  // frozen, head by head; they sum to frozen_norm
  double heads_residual = 0.0;   // |sum of the heads' outputs - a' + a|, a check of the split
};

direct_edge_effect attention0_direct_effect(const attrib::transformer_parameters& parameters, const attrib::transformer_model& model,
                                            const std::vector<token_id>& clean, const std::vector<token_id>& corrupted, token_id answer,
                                            token_id contrast) {
  const auto& c = parameters.config;
  auto tensor = [&](const std::string& name) -> Eigen::MatrixXd {
    for (std::size_t k = 0; k < parameters.names.size(); ++k)
      if (parameters.names[k] == name) return parameters.tensors[k].cast<double>();
    throw attrib::invalid_argument("planted_circuit: no tensor " + name);
  };
  const Eigen::MatrixXd wo = tensor("layers.0.wo"), unembed = tensor(parameters.tied_output ? "token_embedding" : "output");
  const Eigen::VectorXd gain = tensor("final_norm").row(0).transpose();
  attrib::activation_cache cache;
  attrib::hook_set hooks;
  hooks.cache(attrib::hook_point::attn_out(0), cache).cache(attrib::hook_point::attn_z(0), cache).cache(attrib::hook_point::resid_post(1), cache);
  const std::vector<std::vector<token_id>> both = {clean, corrupted};
  model.forward(std::span<const std::vector<token_id>>(both), {.hooks = &hooks});
  const Index last = static_cast<Index>(clean.size()) - 1;
  auto at = [&](attrib::hook_point p, Index row) -> Eigen::VectorXd { return cache.at(p, row, last).cast<double>(); };
  const Eigen::VectorXd r = at(attrib::hook_point::resid_post(1), 0);
  const Eigen::VectorXd delta = at(attrib::hook_point::attn_out(0), 1) - at(attrib::hook_point::attn_out(0), 0);
  const Eigen::VectorXd read = unembed.row(answer).transpose() - unembed.row(contrast).transpose();
  auto norm = [&](const Eigen::VectorXd& x) {
    const Eigen::VectorXd centred = x.array() - x.mean();
    return Eigen::VectorXd(gain.array() * centred.array() / std::sqrt(centred.squaredNorm() / static_cast<double>(x.size()) + c.norm_eps));
  };
  const double scale = 1.0 / std::sqrt((r.array() - r.mean()).square().mean() + c.norm_eps);
  auto frozen = [&](const Eigen::VectorXd& d) { return read.dot(Eigen::VectorXd(gain.array() * (d.array() - d.mean()) * scale)); };
  direct_edge_effect out;
  // As path_patching reports it: the clean value minus the patched one (the norm's bias cancels).
  out.through_norm = read.dot(norm(r)) - read.dot(norm(r + delta));
  out.frozen_norm = -frozen(delta);
  const Index head_dim = c.dim / c.n_heads;
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(c.dim);
  const Eigen::VectorXd dz = at(attrib::hook_point::attn_z(0), 1) - at(attrib::hook_point::attn_z(0), 0);
  for (Index h = 0; h < c.n_heads; ++h) {
    const Eigen::VectorXd part = wo.middleCols(h * head_dim, head_dim) * dz.segment(h * head_dim, head_dim);
    sum += part;
    out.per_head.push_back(-frozen(part));
  }
  out.heads_residual = (sum - delta).norm();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::uint64_t seed = argc > 1 ? std::stoull(argv[1]) : 1;
    const std::size_t threads = argc > 2 ? std::stoull(argv[2]) : 2;
    const attrib::transformer_config config{.architecture = attrib::transformer_architecture::gpt2,
                                            .dim = 32,
                                            .hidden_dim = 8,
                                            .n_layers = 2,
                                            .n_heads = 2,
                                            .n_kv_heads = 2,
                                            .vocab_size = vocab,
                                            .context_length = filler + 2 * segment + 1};
    auto parameters = attrib::transformer_parameters::initialize(config, seed);
    // Attention-only: the MLPs' weights and biases start at zero, where every gradient of theirs
    // is zero (gelu(0) = 0 and W_down = 0 cut both ways), so they stay zero.
    for (std::size_t k = 0; k < parameters.names.size(); ++k)
      for (const char* part : {"w_up", "w_gate", "w_down", "b_up", "b_down"})
        if (parameters.names[k].find(part) != std::string::npos) parameters.tensors[k].setZero();
    attrib::rng gen(seed);
    const auto train = induction_data(4000, gen);
    const auto eval = induction_data(200, gen);
    const auto start = std::chrono::steady_clock::now();
    const auto trained = attrib::train_language_model(parameters, train, eval,
                                                      {.steps = 8000,
                                                       .batch_size = 32,
                                                       .learning_rate = 3e-3,
                                                       .final_learning_rate = 3e-4,
                                                       .warmup_steps = 100,
                                                       .seed = seed,
                                                       .threads = threads});
    const auto model = parameters.model();
    const double accuracy = induction_accuracy(model, eval);
    std::cout << "# A planted induction circuit\n\n"
              << "Two-layer attention-only GPT-2 (width 32, two heads a layer) trained " << trained.history.size() << " steps on induction in " << fixed(seconds_since(start), 1)
              << " s: held-out loss " << fixed(*trained.final_eval_loss, 3) << ", the repeat's next tokens predicted "
              << fixed(100.0 * accuracy, 1) << "% right (chance " << fixed(100.0 / (vocab - 1), 1) << "%).\n\n";

    const circuit_node embed{circuit_node_kind::embed, 0}, logits{circuit_node_kind::logits, 0};
    const circuit_node attention0{circuit_node_kind::attention, 0}, attention1{circuit_node_kind::attention, 1};
    const std::set<circuit_edge> planted = {{embed, attention0}, {attention0, attention1}, {attention1, logits}};
    const std::set<circuit_edge> planted_blocks = {{attention0, attention0}, {attention1, attention1}};
    const auto edges = attrib::every_edge(config);

    // Clean: 5 to 8 distinct tokens, then the first four again; corrupted: the same tokens in
    // another order, then the same four, with another token after the fourth. What the tokens are
    // and where they sit is kept, only which follows which changes - and that is what induction
    // reads: a head that raises the logits of every token seen, or reads a fixed offset, moves
    // the prediction equally on both prompts.
    struct prompt_pair {
      std::vector<token_id> clean, corrupted;
      token_id answer = 0, contrast = 0;
    };
    auto after = [](const std::vector<token_id>& s, token_id t) { return *(std::find(s.begin(), s.end(), t) + 1); };
    std::vector<prompt_pair> pairs(10);
    for (auto& pair : pairs) {
      std::vector<token_id> tokens = {bos};
      for (token_id v = 1; v < vocab; ++v) tokens.push_back(v);
      shuffle_tail(tokens, gen);
      const auto f = static_cast<std::size_t>(gen.below(5));
      tokens.resize(1 + f + 5 + gen.below(segment - 4));
      std::vector<token_id> other;
      do {
        other = tokens;
        shuffle_tail(other, gen);
      } while (other.back() == tokens[f + 4] || after(other, tokens[f + 4]) == tokens[f + 5]);
      pair.clean = tokens;
      pair.corrupted = other;
      for (std::size_t t = 1; t <= 4; ++t) {
        pair.clean.push_back(tokens[f + t]);
        pair.corrupted.push_back(tokens[f + t]);
      }
      pair.answer = tokens[f + 5];
      pair.contrast = after(other, tokens[f + 4]);
    }

    std::cout << "Planted edges: embed -> attention 0, attention 0 -> attention 1, attention 1 -> logits (3 of the " << edges.size()
              << " block edges); averages over " << pairs.size() << " prompt pairs, patch ablation from the corrupted prompt.\n";
    std::ostringstream direct_rows;
    for (const bool logit_difference : {true, false}) {
      std::map<circuit_edge, std::array<int, 3>> chosen;  // per edge: prompts where ACDC, EAP, path patching chose it
      std::map<circuit_edge, double> mean_effect;          // per edge: |path patching effect| averaged
      score acdc_score, eap_score, path_score, mask_score;
      for (const auto& pair : pairs) {
        const attrib::component_game_options options{
            .ablation = attrib::ablation_kind::patch,
            .reference = {pair.corrupted},
            .metric = logit_difference ? attrib::component_metric{.kind = attrib::component_metric_kind::logit_difference,
                                                                  .target = pair.answer,
                                                                  .contrast = pair.contrast}
                                       : attrib::component_metric{.kind = attrib::component_metric_kind::kl_to_clean},
            .threads = 1};
        const attrib::transformer_edge_game game(model, pair.clean, edges, options);
        auto t0 = std::chrono::steady_clock::now();
        const auto found = attrib::acdc(game, {.threshold = 0.05});
        std::set<circuit_edge> kept;
        for (std::size_t j = 0; j < edges.size(); ++j)
          if (found.kept(static_cast<Index>(j)) == 1.0) kept.insert(edges[j]);
        acdc_score.add(kept, planted, seconds_since(t0));
        for (const auto& e : kept) ++chosen[e][0];

        t0 = std::chrono::steady_clock::now();
        const auto eap = attrib::edge_attribution_patching(game);
        const auto eap_edges = top_edges(edges, eap.values, 0.1);
        eap_score.add(eap_edges, planted, seconds_since(t0));
        for (const auto& e : eap_edges) ++chosen[e][1];

        t0 = std::chrono::steady_clock::now();
        attrib::vector path(static_cast<Index>(edges.size()));
        for (std::size_t j = 0; j < edges.size(); ++j)
          path(static_cast<Index>(j)) = attrib::path_patching(game, edges[j].sender, {edges[j].receiver});
        const auto path_edges = top_edges(edges, path, 0.1);
        path_score.add(path_edges, planted, seconds_since(t0));
        for (const auto& e : path_edges) ++chosen[e][2];
        for (std::size_t j = 0; j < edges.size(); ++j)
          mean_effect[edges[j]] += std::abs(path(static_cast<Index>(j))) / static_cast<double>(pairs.size());
        if (logit_difference) {
          const auto d = attention0_direct_effect(parameters, model, pair.clean, pair.corrupted, pair.answer, pair.contrast);
          const auto j = static_cast<Index>(std::find(edges.begin(), edges.end(), circuit_edge{attention0, logits}) - edges.begin());
          direct_rows << "| " << (&pair - pairs.data()) + 1 << " | " << fixed(path(j), 3) << " | " << fixed(d.through_norm, 3) << " | "
                      << fixed(d.frozen_norm, 3);
          for (double h : d.per_head) direct_rows << " | " << fixed(h, 3);
          direct_rows << " | " << fixed(d.heads_residual, 6) << " |\n";
        }

        // Mask learning over the blocks, scored on blocks (an edge from a block to itself stands
        // for the block in the same precision/recall bookkeeping).
        const attrib::transformer_component_game blocks(model, pair.clean, attrib::every_block(config), options);
        t0 = std::chrono::steady_clock::now();
        const auto mask = attrib::learn_mask(blocks, {.sparsity = 0.05, .steps = 150});
        std::set<circuit_edge> kept_blocks;
        for (Index j : mask.circuit) {
          const auto& b = blocks.players()[static_cast<std::size_t>(j)];
          const circuit_node node{b.kind == attrib::component_kind::attention ? circuit_node_kind::attention : circuit_node_kind::mlp,
                                  b.layer};
          kept_blocks.insert({node, node});
        }
        mask_score.add(kept_blocks, planted_blocks, seconds_since(t0));
      }
      std::cout << "\n## Metric: " << (logit_difference ? "logit difference, the clean answer minus the corrupted one" : "KL divergence to the clean run")
                << "\n\n| method | what is scored | precision | recall | time per prompt |\n|---|---|---|---|---|\n";
      auto row = [&](const std::string& name, const std::string& what, const score& s) {
        const double n = static_cast<double>(s.prompts);
        std::cout << "| " << name << " | " << what << " | " << fixed(s.precision / n, 2) << " | " << fixed(s.recall / n, 2) << " | "
                  << fixed(1000.0 * s.seconds / n, 1) << " ms |\n";
      };
      row("ACDC (threshold 0.05)", "edges kept", acdc_score);
      row("edge attribution patching", "edges with \\|score\\| >= 10% of the largest", eap_score);
      row("path patching (each edge alone)", "edges with \\|effect\\| >= 10% of the largest", path_score);
      row("mask learning (sparsity 0.05)", "blocks kept (attention 0, attention 1 planted)", mask_score);
      std::cout << "\nEdges chosen at least once, the prompts (of " << pairs.size()
                << ") in which each method chose them, and the mean |effect| of cutting the edge alone:\n\n"
                << "| edge | planted | ACDC | edge attribution patching | path patching | mean \\|effect\\| |\n|---|---|---|---|---|---|\n";
      for (const auto& e : edges)
        if (const auto it = chosen.find(e); it != chosen.end())
          std::cout << "| " << attrib::to_string(e) << " | " << (planted.contains(e) ? "yes" : "no") << " | " << it->second[0] << " | "
                    << it->second[1] << " | " << it->second[2] << " | " << fixed(mean_effect[e], 3) << " |\n";
    }
    std::cout << "\n## Where attention 0 -> logits acts (logit difference, last position)\n\n"
              << "| pair | path patch (edge game) | through the final LayerNorm (from the weights) | LayerNorm frozen | head 0, frozen | "
                 "head 1, frozen | \\|heads' sum - a' + a\\| |\n|---|---|---|---|---|---|---|\n"
              << direct_rows.str();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "planted_circuit: " << e.what() << "\n";
    return 1;
  }
}
