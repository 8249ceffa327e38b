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
// The methods, on prompts whose first segment is resampled to corrupt the copy (patch ablation,
// KL to the full model):
//   ACDC                    keeps the edges whose removal moves the KL by more than 0.05;
//   edge attribution patching, path patching (each edge alone)
//                           score every edge; the circuit is the edges scoring at least 10% of the
//                           largest;
//   mask learning           over the blocks (attention and MLP of each layer): the blocks kept.
// Each is compared with the planted edges (blocks for mask learning) by precision and recall,
// averaged over prompts, with its run time; a second table counts how often each edge is chosen.
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
#include <string>
#include <vector>

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

constexpr Index segment = 8;      // the longest segment repeated
constexpr token_id bos = 0;       // position 0; the random tokens are 1 .. vocab - 1
constexpr Index vocab = 24;

// [BOS, r_1 .. r_k, r_1 .. r_k] with k from 3 to 8: the repeat's predictions after its first
// token carry the loss. The length varies so that no fixed offset finds the earlier copy: only
// content (which token came before) does.
attrib::language_model_batch induction_data(std::size_t count, attrib::rng& gen) {
  attrib::language_model_batch data;
  for (std::size_t i = 0; i < count; ++i) {
    const auto k = static_cast<Index>(3 + gen.below(segment - 2));
    std::vector<token_id> s = {bos};
    for (Index t = 0; t < k; ++t) s.push_back(static_cast<token_id>(1 + gen.below(vocab - 1)));
    for (Index t = 0; t < k; ++t) s.push_back(s[static_cast<std::size_t>(1 + t)]);
    std::vector<float> w(s.size() - 1, 0.0f);
    for (Index t = k + 1; t < 2 * k; ++t) w[static_cast<std::size_t>(t)] = 1.0f;
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
                                            .context_length = 2 * segment + 1};
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
                                                      {.steps = 4000,
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
    std::map<circuit_edge, std::array<int, 3>> chosen;  // per edge: prompts where ACDC, EAP, path patching chose it
    const auto edges = attrib::every_edge(config);
    const std::set<circuit_edge> planted_blocks = {{attention0, attention0}, {attention1, attention1}};
    score acdc_score, eap_score, path_score, mask_score;
    const int prompts = 10;
    for (int p = 0; p < prompts; ++p) {
      // Clean: a segment and the start of its repeat; corrupted: another segment, the same start.
      std::vector<token_id> clean = {bos}, corrupted = {bos};
      for (Index t = 0; t < segment; ++t) clean.push_back(static_cast<token_id>(1 + gen.below(vocab - 1)));
      for (Index t = 0; t < segment; ++t) corrupted.push_back(static_cast<token_id>(1 + gen.below(vocab - 1)));
      for (Index t = 0; t < 4; ++t) {
        clean.push_back(clean[static_cast<std::size_t>(1 + t)]);
        corrupted.push_back(clean[static_cast<std::size_t>(1 + t)]);
      }
      const attrib::component_game_options options{.ablation = attrib::ablation_kind::patch,
                                                     .reference = {corrupted},
                                                     .metric = {.kind = attrib::component_metric_kind::kl_to_clean},
                                                     .threads = 1};
      const attrib::transformer_edge_game game(model, clean, edges, options);
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

      // Mask learning over the blocks, scored on blocks (an edge from a block to itself stands
      // for the block in the same precision/recall bookkeeping).
      const attrib::transformer_component_game blocks(model, clean, attrib::every_block(config), options);
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
    std::cout << "Planted edges: embed -> attention 0, attention 0 -> attention 1, attention 1 -> logits (3 of the "
              << edges.size() << " block edges). Averages over " << prompts
              << " prompts (patch ablation from a prompt whose first segment is resampled; KL to the full model):\n\n"
              << "| method | what is scored | precision | recall | time per prompt |\n|---|---|---|---|---|\n";
    auto row = [&](const std::string& name, const std::string& what, const score& s) {
      const double n = static_cast<double>(s.prompts);
      std::cout << "| " << name << " | " << what << " | " << fixed(s.precision / n, 2) << " | " << fixed(s.recall / n, 2) << " | "
                << fixed(1000.0 * s.seconds / n, 1) << " ms |\n";
    };
    row("ACDC (threshold 0.05)", "edges kept", acdc_score);
    row("edge attribution patching", "edges with |score| >= 10% of the largest", eap_score);
    row("path patching (each edge alone)", "edges with |effect| >= 10% of the largest", path_score);
    row("mask learning (sparsity 0.05)", "blocks kept (attention 0, attention 1 planted)", mask_score);
    std::cout << "\nEdges chosen at least once, with the prompts (of " << prompts << ") in which each method chose them:\n\n"
              << "| edge | planted | ACDC | edge attribution patching | path patching |\n|---|---|---|---|---|\n";
    for (const auto& e : edges)
      if (const auto it = chosen.find(e); it != chosen.end())
        std::cout << "| " << attrib::to_string(e) << " | " << (planted.contains(e) ? "yes" : "no") << " | " << it->second[0] << " | "
                  << it->second[1] << " | " << it->second[2] << " |\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "planted_circuit: " << e.what() << "\n";
    return 1;
  }
}
