// A circuit planted by training, and whether the component methods recover it exactly
// (issue #13, item 3).
//
// A two-layer attention-only GPT-2 (two heads a layer) is trained here on induction: random
// tokens whose second half repeats the first, the segment 3 to 8 tokens long after a random
// lead-in (so that neither a position nor a fixed offset finds the earlier copy), with the loss on
// the repeat. Layer 0 is held, at every step of training, to one previous-token head (head 0.0)
// and a head that writes nothing (head 0.1), and the stream is split into three subspaces: the
// tokens, the positions (fixed one-hot codes) and the previous token (what head 0.0 writes). The
// unembedding is tied to the token embedding, which lives in the token subspace only, so it cannot
// read what layer 0 writes: the shortcut an earlier, unconstrained version of this experiment
// learned (the unembedding reading a layer-0 head directly) is ruled out by construction, and the
// only way to predict the repeat is induction - layer 1 matching the current token (from the
// embedding) against the previous-token subspace (K-composition with head 0.0) and copying the
// matched position's token (from the embedding). Which layer-1 heads do that is measured from
// their attention patterns (the induction score of Olsson et al. 2022: above 0.5), not from any
// attribution method; with seed 1 both do, so the circuit has two induction heads.
//
// The graph is drawn over heads (circuit_granularity::heads), and the planted edges are
//   embed -> head 0.0 (the token it moves), and for each induction head: embed -> it (its query
//   and the token it copies), head 0.0 -> it (its key), it -> logits.
// The MLPs are held at zero: every edge into or out of them is a dummy.
//
// The methods run on pairs of prompts - distinct tokens and the start of their repeat, and the same
// tokens shuffled before the same start - with patch ablation from the shuffled prompt, under two
// metrics: the logit difference between the clean and the corrupted answer, and the KL divergence
// to the clean run (ACDC's).
//   ACDC                    keeps the edges whose removal moves the metric by more than 0.05;
//   edge attribution patching, EAP-IG (its integrated-gradients form), path patching (each edge
//   alone)                  score every edge; the circuit is the edges scoring at least 10% of the
//                           largest;
//   mask learning           over the heads and MLP blocks of the component game: the nodes kept.
// Each runs twice: on every prompt pair alone (precision and recall averaged over the pairs), and
// once on the dataset - the mean_game of the pairs' games, whose value is the metric averaged over
// them, as ACDC and EAP define it - giving one circuit. Both are compared with the planted edges
// (nodes for mask learning) by precision and recall, with their run times; a second table counts
// how often each edge is chosen per prompt, how much cutting it alone moves the metric, what the
// metric is then, and the score each method gave it on the dataset.
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
#include <span>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "attrib/core/random.hpp"
#include "attrib/games/component_game.hpp"
#include "attrib/games/edge_game.hpp"
#include "attrib/games/mean_game.hpp"
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
using attrib_examples::seconds_since;

constexpr token_id bos = 0;       // position 0; the random tokens are 1 .. vocab - 1
constexpr Index vocab = 24;
constexpr Index segment = 8;      // the longest segment repeated
constexpr Index filler = 7;       // the most random tokens before it
constexpr Index context = filler + 2 * segment + 1;
constexpr Index ig_steps = 20;    // points of EAP-IG's path
// The stream's subspaces: tokens [0, vocab), positions [vocab, vocab + context), the previous
// token [vocab + context, 2 vocab + context).
constexpr Index position_base = vocab, previous_base = vocab + context, width = 2 * vocab + context;
// The position codes' length and the previous-token head's query gain: with them the head's score
// for the previous position exceeds every other by about 10 / sqrt(head_dim) * 9 / (LayerNorm's
// variance), which keeps its weight there above 0.999 (the example prints it).
constexpr float position_scale = 3.0f, query_gain = 10.0f;

// Shuffles s[1 ..] (Fisher-Yates), keeping BOS first.
void shuffle_tail(std::vector<token_id>& s, attrib::rng& gen) {
  for (std::size_t t = s.size() - 1; t > 1; --t) std::swap(s[t], s[1 + gen.below(t)]);
}

// [BOS, f random tokens, r_1 .. r_k, r_1 .. r_k] with k from 3 to 8 and f from 0 to 7: the repeat's
// predictions after its first token carry the loss.
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

attrib::float_matrix& tensor(attrib::transformer_parameters& p, const std::string& name) {
  const Index k = p.find(name);
  if (k < 0) throw attrib::invalid_argument("planted_circuit: no tensor " + name);
  return p.tensors[static_cast<std::size_t>(k)];
}

// The training-time intervention, applied before training and after every step: the position
// codes, the token embedding kept to the token subspace, layer 0 set to a previous-token head 0.0
// (query: the position after the key's; value: the token subspace; output: the previous-token
// subspace) and a head 0.1 that writes nothing, the MLPs at zero.
void hold_layer0(attrib::transformer_parameters& p) {
  auto& positions = tensor(p, "position_embedding");
  positions.setZero();
  for (Index t = 0; t < context; ++t) positions(t, position_base + t) = position_scale;
  tensor(p, "token_embedding").rightCols(width - vocab).setZero();
  tensor(p, "layers.0.attn_norm").setOnes();
  for (const char* name : {"attn_norm_bias", "wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo"})
    tensor(p, std::string("layers.0.") + name).setZero();
  auto& wq = tensor(p, "layers.0.wq");
  auto& wk = tensor(p, "layers.0.wk");
  auto& wv = tensor(p, "layers.0.wv");
  auto& wo = tensor(p, "layers.0.wo");
  for (Index t = 0; t + 1 < context; ++t) wq(t, position_base + t + 1) = query_gain;  // rows: head 0's dimensions
  for (Index t = 0; t < context; ++t) wk(t, position_base + t) = 1.0f;
  for (Index v = 0; v < vocab; ++v) {
    wv(v, v) = 1.0f;
    wo(previous_base + v, v) = 1.0f;
  }
  for (std::size_t k = 0; k < p.names.size(); ++k)
    for (const char* part : {"w_up", "w_gate", "w_down", "b_up", "b_down"})
      if (p.names[k].find(part) != std::string::npos) p.tensors[k].setZero();
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

// Head (layer, head)'s attention pattern on `tokens` (query x key), recomputed from the weights
// and the stream the layer reads: GPT-2's LayerNorm, the head's query and key, causal softmax.
Eigen::MatrixXd attention_pattern(attrib::transformer_parameters& p, const attrib::transformer_model& model,
                                  const std::vector<token_id>& tokens, Index layer, Index head) {
  const auto& c = p.config;
  attrib::activation_cache cache;
  attrib::hook_set hooks;
  hooks.cache(attrib::hook_point::attn_in(layer), cache);
  const std::vector<std::vector<token_id>> one{tokens};
  model.forward(std::span<const std::vector<token_id>>(one), {.hooks = &hooks});
  const Index n = static_cast<Index>(tokens.size()), hd = c.head_dim();
  const Eigen::MatrixXd x = cache.at(attrib::hook_point::attn_in(layer), 0).topRows(n).cast<double>();
  const std::string l = "layers." + std::to_string(layer) + ".";
  const Eigen::RowVectorXd gain = tensor(p, l + "attn_norm").row(0).cast<double>(), bias = tensor(p, l + "attn_norm_bias").row(0).cast<double>();
  Eigen::MatrixXd xn(n, c.dim);
  for (Index t = 0; t < n; ++t) {
    const Eigen::RowVectorXd centred = x.row(t).array() - x.row(t).mean();
    xn.row(t) = gain.array() * centred.array() / std::sqrt(centred.squaredNorm() / static_cast<double>(c.dim) + c.norm_eps) + bias.array();
  }
  auto project = [&](const char* w, const char* b) {
    const Eigen::MatrixXd weight = tensor(p, l + w).middleRows(head * hd, hd).cast<double>();
    const Eigen::RowVectorXd offset = tensor(p, l + b).row(0).segment(head * hd, hd).cast<double>();
    return Eigen::MatrixXd((xn * weight.transpose()).rowwise() + offset);
  };
  const Eigen::MatrixXd scores = project("wq", "bq") * project("wk", "bk").transpose() / std::sqrt(static_cast<double>(hd));
  Eigen::MatrixXd pattern = Eigen::MatrixXd::Zero(n, n);
  for (Index q = 0; q < n; ++q) {
    const Eigen::RowVectorXd e = (scores.row(q).head(q + 1).array() - scores.row(q).head(q + 1).maxCoeff()).exp();
    pattern.row(q).head(q + 1) = e / e.sum();
  }
  return pattern;
}

// Over the repeats of `data`: the mean attention of (layer, head) to the previous position, and to
// the position after the earlier copy of the current token (the induction score).
std::pair<double, double> attention_scores(attrib::transformer_parameters& p, const attrib::transformer_model& model,
                                           const attrib::language_model_batch& data, Index layer, Index head) {
  double previous = 0.0, induction = 0.0;
  std::size_t count = 0;
  for (std::size_t b = 0; b < data.sequences.size(); ++b) {
    const auto& w = data.weights[b];
    const auto first = static_cast<Index>(std::find(w.begin(), w.end(), 1.0f) - w.begin());  // f + k + 1
    const auto k = static_cast<Index>(std::count(w.begin(), w.end(), 1.0f)) + 1;
    const auto pattern = attention_pattern(p, model, data.sequences[b], layer, head);
    for (Index t = first; t < first + k - 1; ++t) {
      previous += pattern(t, t - 1);
      induction += pattern(t, t - k + 1);
      ++count;
    }
  }
  return {previous / static_cast<double>(count), induction / static_cast<double>(count)};
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
                                            .dim = width,
                                            .hidden_dim = 8,
                                            .n_layers = 2,
                                            .n_heads = 2,
                                            .n_kv_heads = 2,
                                            .vocab_size = vocab,
                                            .context_length = context};
    auto parameters = attrib::transformer_parameters::initialize(config, seed);
    hold_layer0(parameters);
    attrib::rng gen(seed);
    const auto train = induction_data(4000, gen);
    const auto eval = induction_data(200, gen);
    const auto start = std::chrono::steady_clock::now();
    const auto trained = attrib::train_language_model(parameters, train, {},
                                                      {.steps = 4000,
                                                       .batch_size = 32,
                                                       .learning_rate = 3e-3,
                                                       .final_learning_rate = 3e-4,
                                                       .warmup_steps = 100,
                                                       .seed = seed,
                                                       .threads = threads},
                                                      [&](const attrib::training_step&) { hold_layer0(parameters); });
    const auto model = parameters.model();
    const double accuracy = induction_accuracy(model, eval);
    std::cout << "# A planted induction circuit\n\n"
              << "Two-layer attention-only GPT-2 (width " << width << ", two heads a layer, layer 0 held to a previous-token head 0.0 "
              << "and a silent head 0.1) trained " << trained.history.size() << " steps on induction in " << fixed(seconds_since(start), 1)
              << " s: the repeat's next tokens predicted " << fixed(100.0 * accuracy, 1) << "% right (chance "
              << fixed(100.0 / (vocab - 1), 1) << "%).\n\n"
              << "Attention on the repeat (held-out sequences): | head | to the previous position | to the token after the earlier copy |\n"
              << "|---|---|---|\n";
    std::vector<Index> induction_heads;
    for (Index l = 0; l < 2; ++l)
      for (Index h = 0; h < 2; ++h) {
        const auto [previous, induction] = attention_scores(parameters, model, eval, l, h);
        std::cout << "| " << l << "." << h << " | " << fixed(previous, 4) << " | " << fixed(induction, 4) << " |\n";
        if (l == 1 && induction > 0.5) induction_heads.push_back(h);
      }

    const circuit_node embed{circuit_node_kind::embed, 0}, logits{circuit_node_kind::logits, 0};
    const circuit_node previous_token{circuit_node_kind::head, 0, 0};
    std::set<circuit_edge> planted = {{embed, previous_token}}, planted_nodes = {{previous_token, previous_token}};
    std::string induction_names;
    for (const Index h : induction_heads) {
      const circuit_node induction{circuit_node_kind::head, 1, h};
      planted.insert({{embed, induction}, {previous_token, induction}, {induction, logits}});
      planted_nodes.insert({induction, induction});
      induction_names += " 1." + std::to_string(h);
    }
    const auto edges = attrib::every_edge(config, attrib::circuit_granularity::heads);
    std::vector<attrib::transformer_component> nodes = attrib::every_head(config);
    for (Index l = 0; l < 2; ++l) nodes.push_back({attrib::component_kind::mlp, l, 0});

    // Clean: 5 to 8 distinct tokens, then the first four again; corrupted: the same tokens in
    // another order, then the same four, with another token after the fourth. What the tokens are
    // and where they sit is kept, only which follows which changes - and that is what induction
    // reads.
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

    std::cout << "\nInduction heads (induction score above 0.5):" << induction_names << ". Planted edges: ";
    for (const auto& e : planted) std::cout << attrib::to_string(e) << (e == *planted.rbegin() ? "" : ", ");
    std::cout << " (" << planted.size() << " of the " << edges.size() << " head-level edges); averages over " << pairs.size()
              << " prompt pairs, patch ablation from the corrupted prompt.\n";
    // Mask learning is scored on nodes: an edge from a node to itself stands for the node in the
    // same precision/recall bookkeeping.
    auto node_set = [](const attrib::transformer_component_game& components, const attrib::mask_learning_result& mask) {
      std::set<circuit_edge> out;
      for (Index j : mask.circuit) {
        const auto& b = components.players()[static_cast<std::size_t>(j)];
        const circuit_node node = b.kind == attrib::component_kind::head ? circuit_node{circuit_node_kind::head, b.layer, b.unit}
                                                                        : circuit_node{circuit_node_kind::mlp, b.layer};
        out.insert({node, node});
      }
      return out;
    };
    for (const bool logit_difference : {true, false}) {
      // One edge game and one component game per prompt pair; the dataset is their mean game.
      std::vector<attrib::transformer_edge_game> games;
      std::vector<attrib::transformer_component_game> component_games;
      for (const auto& pair : pairs) {
        const attrib::component_game_options options{
            .ablation = attrib::ablation_kind::patch,
            .reference = {pair.corrupted},
            .metric = logit_difference ? attrib::component_metric{.kind = attrib::component_metric_kind::logit_difference,
                                                                  .target = pair.answer,
                                                                  .contrast = pair.contrast}
                                       : attrib::component_metric{.kind = attrib::component_metric_kind::kl_to_clean},
            .threads = 1};
        games.emplace_back(model, pair.clean, edges, options);
        component_games.emplace_back(model, pair.clean, nodes, options);
      }
      const attrib::mean_game<attrib::transformer_edge_game> dataset{std::span<const attrib::transformer_edge_game>(games)};
      const attrib::mean_game<attrib::transformer_component_game> component_dataset{
          std::span<const attrib::transformer_component_game>(component_games)};

      // The methods on one edge game (or one component game); what each chose, and its scores.
      struct run {
        std::set<circuit_edge> acdc, eap, eap_ig, path, mask;
        attrib::acdc_result acdc_found;
        attrib::edge_attribution_patching_result eap_ig_found;
        attrib::vector eap_values, path_values;
        std::array<double, 5> seconds{};
      };
      auto run_methods = [&](const auto& game, const auto& components) {
        run r;
        auto t0 = std::chrono::steady_clock::now();
        r.acdc_found = attrib::acdc(game, {.threshold = 0.05});
        for (std::size_t j = 0; j < edges.size(); ++j)
          if (r.acdc_found.kept(static_cast<Index>(j)) == 1.0) r.acdc.insert(edges[j]);
        r.seconds[0] = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        r.eap_values = attrib::edge_attribution_patching(game).values;
        r.eap = top_edges(edges, r.eap_values, 0.1);
        r.seconds[1] = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        r.eap_ig_found = attrib::edge_attribution_patching(game, {.steps = ig_steps});
        r.eap_ig = top_edges(edges, r.eap_ig_found.values, 0.1);
        r.seconds[2] = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        r.path_values = attrib::vector(static_cast<Index>(edges.size()));
        for (std::size_t j = 0; j < edges.size(); ++j)
          r.path_values(static_cast<Index>(j)) = attrib::path_patching(game, edges[j].sender, {edges[j].receiver});
        r.path = top_edges(edges, r.path_values, 0.1);
        r.seconds[3] = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        const auto mask = attrib::learn_mask(components, {.sparsity = 0.05, .steps = 150});
        r.mask = node_set(component_games.front(), mask);
        r.seconds[4] = seconds_since(t0);
        return r;
      };

      std::map<circuit_edge, std::array<int, 4>> chosen;  // per edge: prompts where ACDC, EAP, EAP-IG, path patching chose it
      std::map<circuit_edge, double> mean_effect, mean_cut;  // per edge: |path patching effect|, v(all but it), averaged
      double mean_full = 0.0;
      std::array<score, 5> per_prompt, whole;
      const double n = static_cast<double>(pairs.size());
      for (std::size_t i = 0; i < pairs.size(); ++i) {
        const auto r = run_methods(games[i], component_games[i]);
        per_prompt[0].add(r.acdc, planted, r.seconds[0]);
        per_prompt[1].add(r.eap, planted, r.seconds[1]);
        per_prompt[2].add(r.eap_ig, planted, r.seconds[2]);
        per_prompt[3].add(r.path, planted, r.seconds[3]);
        per_prompt[4].add(r.mask, planted_nodes, r.seconds[4]);
        for (const auto& e : r.acdc) ++chosen[e][0];
        for (const auto& e : r.eap) ++chosen[e][1];
        for (const auto& e : r.eap_ig) ++chosen[e][2];
        for (const auto& e : r.path) ++chosen[e][3];
        mean_full += r.acdc_found.full_value / n;
        for (std::size_t j = 0; j < edges.size(); ++j) {
          mean_effect[edges[j]] += std::abs(r.path_values(static_cast<Index>(j))) / n;
          mean_cut[edges[j]] += (r.acdc_found.full_value - r.path_values(static_cast<Index>(j))) / n;
        }
      }
      const auto d = run_methods(dataset, component_dataset);
      whole[0].add(d.acdc, planted, d.seconds[0]);
      whole[1].add(d.eap, planted, d.seconds[1]);
      whole[2].add(d.eap_ig, planted, d.seconds[2]);
      whole[3].add(d.path, planted, d.seconds[3]);
      whole[4].add(d.mask, planted_nodes, d.seconds[4]);

      std::cout << "\n## Metric: " << (logit_difference ? "logit difference, the clean answer minus the corrupted one" : "KL divergence to the clean run")
                << "\n\nPer prompt: each method on one prompt pair, scores averaged over the " << pairs.size()
                << " pairs. Dataset: each method once on the mean game of the " << pairs.size()
                << " pairs (the metric averaged over them), one circuit.\n\n"
                   "| method | what is scored | per prompt: precision | recall | time per prompt | dataset: precision | recall | time |\n"
                   "|---|---|---|---|---|---|---|---|\n";
      const std::array<std::string, 5> names = {"ACDC (threshold 0.05)", "edge attribution patching",
                                                "EAP-IG (" + std::to_string(ig_steps) + " steps)", "path patching (each edge alone)",
                                                "mask learning (sparsity 0.05)"};
      const std::array<std::string, 5> what = {"edges kept", "edges with \\|score\\| >= 10% of the largest",
                                               "edges with \\|score\\| >= 10% of the largest",
                                               "edges with \\|effect\\| >= 10% of the largest",
                                               "nodes kept (heads 0.0" + induction_names + " planted)"};
      for (std::size_t m = 0; m < names.size(); ++m) {
        const auto& s = per_prompt[m];
        const double prompts = static_cast<double>(s.prompts);
        std::cout << "| " << names[m] << " | " << what[m] << " | " << fixed(s.precision / prompts, 2) << " | " << fixed(s.recall / prompts, 2)
                  << " | " << fixed(1000.0 * s.seconds / prompts, 1) << " ms | " << fixed(whole[m].precision, 2) << " | "
                  << fixed(whole[m].recall, 2) << " | " << fixed(1000.0 * whole[m].seconds, 1) << " ms |\n";
      }
      // The planted edges, every edge some method chose, and the non-planted edge that moves the
      // metric most: that one bounds what the unplanted rest of the graph does. The dataset
      // columns are the scores each method compared with its cut-off on the mean game: ACDC's
      // increase of the distance when it tried the edge (kept when >= 0.05), EAP's score and the
      // path patching effect (kept when |.| >= 10% of the largest).
      const auto strongest_other = std::max_element(edges.begin(), edges.end(), [&](const auto& a, const auto& b) {
        return (planted.contains(a) ? -1.0 : mean_effect[a]) < (planted.contains(b) ? -1.0 : mean_effect[b]);
      });
      std::cout << "\nThe planted edges, edges chosen at least once (prompts of " << pairs.size()
                << " in which each method chose them), and the non-planted edge that moves the metric most; mean |effect| of cutting "
                   "the edge alone, and the mean metric then (all edges: "
                << fixed(mean_full, 3) << "); on the dataset, each method's score of the edge (* chosen; largest EAP score "
                << fixed(d.eap_values.cwiseAbs().maxCoeff(), 3) << ", largest EAP-IG score " << fixed(d.eap_ig_found.values.cwiseAbs().maxCoeff(), 3)
                << ", largest path effect " << fixed(d.path_values.cwiseAbs().maxCoeff(), 3) << "):\n\n"
                << "| edge | planted | ACDC | EAP | EAP-IG | path patching | mean \\|effect\\| | metric with the edge cut "
                   "| dataset: ACDC increase | EAP score | EAP-IG score | path effect |\n"
                   "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
      for (std::size_t j = 0; j < edges.size(); ++j) {
        const auto& e = edges[j];
        const auto it = chosen.find(e);
        if (it == chosen.end() && !planted.contains(e) && e != *strongest_other && !d.acdc.contains(e) && !d.eap.contains(e) &&
            !d.eap_ig.contains(e) && !d.path.contains(e))
          continue;
        const std::array<int, 4> counts = it == chosen.end() ? std::array<int, 4>{0, 0, 0, 0} : it->second;
        const auto k = static_cast<Index>(j);
        auto mark = [&](const std::set<circuit_edge>& kept) { return kept.contains(e) ? "*" : ""; };
        std::cout << "| " << attrib::to_string(e) << " | " << (planted.contains(e) ? "yes" : "no") << " | " << counts[0] << " | " << counts[1]
                  << " | " << counts[2] << " | " << counts[3] << " | " << fixed(mean_effect[e], 3) << " | " << fixed(mean_cut[e], 3) << " | "
                  << fixed(d.acdc_found.increase(k), 3) << mark(d.acdc) << " | " << fixed(d.eap_values(k), 3) << mark(d.eap) << " | "
                  << fixed(d.eap_ig_found.values(k), 3) << mark(d.eap_ig) << " | " << fixed(d.path_values(k), 3) << mark(d.path) << " |\n";
      }
      // Where along the path from the cut graph (z = 0) to the full one (z = 1) each planted
      // edge's effect arises: EAP reads the derivative at z = 1 alone.
      std::cout << "\nOn the dataset, the derivative of the metric in each planted edge's weight along the uniform mask z "
                   "(EAP reads it at z = 1; EAP-IG averages it over the "
                << ig_steps << " points):\n\n| edge |";
      const std::array<Index, 5> shown = {0, ig_steps / 4 - 1, ig_steps / 2 - 1, 3 * ig_steps / 4 - 1, ig_steps - 1};
      for (const Index k : shown) std::cout << " z = " << fixed(static_cast<double>(k + 1) / static_cast<double>(ig_steps), 2) << " |";
      std::cout << "\n|---|";
      for (std::size_t i = 0; i < shown.size(); ++i) std::cout << "---|";
      std::cout << "\n";
      // The metric itself along the path: flat near z = 1 where the circuit's response saturates.
      attrib::matrix uniform(static_cast<Index>(shown.size()), static_cast<Index>(edges.size()));
      for (std::size_t i = 0; i < shown.size(); ++i)
        uniform.row(static_cast<Index>(i)).setConstant(static_cast<double>(shown[i] + 1) / static_cast<double>(ig_steps));
      const attrib::vector along = dataset.values(uniform);
      std::cout << "| the metric itself, v(z) |";
      for (Index i = 0; i < along.size(); ++i) std::cout << " " << fixed(along(i), 3) << " |";
      std::cout << "\n";
      for (std::size_t j = 0; j < edges.size(); ++j) {
        if (!planted.contains(edges[j])) continue;
        std::cout << "| " << attrib::to_string(edges[j]) << " |";
        for (const Index k : shown) std::cout << " " << fixed(d.eap_ig_found.path_derivatives(k, static_cast<Index>(j)), 3) << " |";
        std::cout << "\n";
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "planted_circuit: " << e.what() << "\n";
    return 1;
  }
}
