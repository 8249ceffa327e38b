// H-fidelity of node explanations (GStarX's metric) on MUTAG and BA-2Motifs, for a trained GCN
// and GIN, and on the MoleculeNet sets BBBP and BACE (SMILES) for a GCN: the HN value (GStarX)
// against occlusion, node Shapley, the Myerson value, GNNExplainer, SubgraphX and GraphSVX, following GStarX's
// protocol where it can be followed on two CPU cores:
// an 80/10/10 split (seed 2, our own shuffle), the checkpoint with the best validation
// accuracy, every test graph explained for its predicted class with v(S) = p_c(G_S) minus the
// training-average p_c, exact HN for <= 20 nodes and GStarX's sampled HN (10-node subgraphs)
// beyond, and the top positive nodes at each sparsity kept. Writes a markdown page.
// Usage: graph_explanation_table OUT.md DATA_DIR [max_test_graphs] [datasets]
// (datasets: a comma list of mutag, ba2motifs, bbbp, bace; default all of them; bace-study, not
// in the default, is the BACE gap experiment: HN's H against the split seed, the training budget
// and the payoff, about 15 minutes on two cores; bace-study-400 adds GStarX's 400 epochs)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <numeric>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "attrib/io/atomic_file.hpp"
#include "attrib/models/gnn/gcn.hpp"
#include "attrib/graph/generators.hpp"
#include "attrib/models/gnn/gin.hpp"
#include "attrib/games/node_removal_game.hpp"
#include "attrib/graph/smiles_dataset.hpp"
#include "attrib/graph/tu_dataset.hpp"
#include "attrib/methods/feature/occlusion.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/methods/graph/fidelity.hpp"
#include "attrib/methods/graph/gnn_explainer.hpp"
#include "attrib/methods/graph/graphsvx.hpp"
#include "attrib/methods/graph/hn_value.hpp"
#include "attrib/methods/graph/myerson.hpp"
#include "attrib/methods/graph/pg_explainer.hpp"
#include "attrib/methods/graph/subgraphx.hpp"
#include "table_format.hpp"

namespace {

using attrib_examples::fixed;

struct split_data {
  std::string name;
  std::vector<attrib::gcn_input> train, validation, test;
  std::vector<int> train_labels, validation_labels, test_labels;
  std::vector<std::vector<std::uint64_t>> test_neighbors;
  attrib::index features = 0;
};

// 80/10/10 by a seeded shuffle, as GStarX's data_split_ratio with seed 2.
split_data split(const std::string& name, const std::vector<attrib::labeled_graph>& graphs, std::uint64_t seed = 2) {
  split_data d;
  d.name = name;
  std::vector<std::size_t> order(graphs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  attrib::rng random = attrib::rng::stream(seed, 0);
  random.shuffle(order.begin(), order.end());
  const std::size_t train = graphs.size() * 8 / 10, validation = graphs.size() / 10;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const auto& lg = graphs[order[k]];
    attrib::gcn_input in = attrib::make_gcn_input(lg.structure);
    d.features = in.features.cols();
    if (k < train) {
      d.train.push_back(std::move(in));
      d.train_labels.push_back(lg.label);
    } else if (k < train + validation) {
      d.validation.push_back(std::move(in));
      d.validation_labels.push_back(lg.label);
    } else {
      d.test.push_back(std::move(in));
      d.test_labels.push_back(lg.label);
      // Empty for graphs over 64 nodes: the Myerson value's bitmask game cannot take them, so they
      // are skipped (a few large BBBP and BACE molecules; counted in the table).
      d.test_neighbors.push_back(attrib::node_count(lg.structure) <= 64 ? attrib::neighbor_masks(lg.structure)
                                                                        : std::vector<std::uint64_t>{});
    }
  }
  return d;
}

template <class Model>
double accuracy(const Model& m, const std::vector<attrib::gcn_input>& inputs, const std::vector<int>& labels) {
  double hits = 0;
  for (std::size_t k = 0; k < inputs.size(); ++k) hits += m.predict(inputs[k]) == labels[k] ? 1.0 : 0.0;
  return hits / static_cast<double>(inputs.size());
}

// Trains in rounds and keeps the parameters with the best validation accuracy (DIG's "best"
// checkpoint); ties go to the later round, whose training loss is lower.
template <class Model>
Model train_best(Model model, const split_data& d, const attrib::gnn_training& options, attrib::index rounds,
                 double& validation_accuracy) {
  Model best = model;
  validation_accuracy = -1;
  for (attrib::index r = 0; r < rounds; ++r) {
    attrib::gnn_training round = options;
    round.seed = options.seed + static_cast<std::uint64_t>(r);
    model.train(d.train, d.train_labels, round);
    const double acc = accuracy(model, d.validation, d.validation_labels);
    if (acc >= validation_accuracy) {
      validation_accuracy = acc;
      best = model;
    }
  }
  return best;
}

const std::vector<double> sparsities = {0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75};
const char* method_names[] = {"HN (GStarX), exact limit", "HN, GStarX's H^128 (tau 0.01)", "occlusion",
                              "node Shapley", "Myerson", "GNNExplainer", "SubgraphX", "GraphSVX",
                              "PGExplainer (seconds include its training)"};
constexpr int methods = 9;
constexpr int pg_explainer_row = 8;
// PGExplainer's mask network is trained once per model on at most this many training graphs
// (30 epochs, the authors' learning rate), then explains each test graph in one pass.
constexpr std::size_t pg_explainer_graphs = 200;
constexpr int subgraphx_row = 6;
constexpr attrib::index exact_shapley_nodes = 14;  // beyond: permutation sampling
constexpr attrib::index molecule_rounds = 6;       // BBBP and BACE: rounds of 10 epochs
// BBBP and BACE explain at most this many test graphs: a molecule of 24-34 atoms costs about ten
// times a MUTAG graph (sampled HN, permutation Shapley and Myerson), and the whole table script
// must stay within 30 minutes on two cores.
constexpr std::size_t molecule_graphs = 20;

struct scores_table {
  // [method][sparsity]: sums of H-fidelity, fidelity, inverse fidelity
  std::vector<std::vector<double>> h, fid, inv;
  int graphs = 0, skipped = 0;  // explained; skipped for size (over 64 nodes)
  double seconds[methods] = {};
  scores_table() : h(methods, std::vector<double>(sparsities.size())), fid(h), inv(h) {}
};

// SubgraphX's search per dataset: GStarX's config/explainers/subgraphx.yaml (rollouts, min_atoms,
// expand_atoms, c_puct, high2low) with 20 Monte-Carlo samples per score instead of DIG's 100, and
// on BBBP 2 rollouts (GStarX's BACE value) instead of 20: a BBBP or BACE state costs 40 model
// evaluations of the 3 x 128 GCN (about 0.5 ms each), so 2 rollouts take about 5 s per molecule
// and 20 would take about ten times that, past the 30 minutes the whole script may take on two cores.
constexpr std::size_t subgraphx_samples = 20;
attrib::subgraphx subgraphx_for(const std::string& dataset) {
  if (dataset == "BA-2Motifs")
    return {.rollouts = 20, .min_atoms = 5, .expand_atoms = 20, .c_puct = 10.0, .samples = subgraphx_samples,
            .high_degree_first = true};
  if (dataset == "BACE") return {.rollouts = 2, .min_atoms = 5, .expand_atoms = 12, .c_puct = 10.0, .samples = subgraphx_samples};
  if (dataset == "BBBP") return {.rollouts = 2, .min_atoms = 3, .expand_atoms = 12, .c_puct = 5.0, .samples = subgraphx_samples};
  return {.rollouts = 20, .min_atoms = 3, .expand_atoms = 12, .c_puct = 10.0, .samples = subgraphx_samples};  // MUTAG
}
constexpr std::size_t graphsvx_samples = 1000;

template <class Model>
scores_table evaluate(const Model& model, const split_data& d, std::size_t max_graphs) {
  const attrib::subgraphx search = subgraphx_for(d.name);
  scores_table t;
  const auto pg_start = attrib_examples::clock_type::now();
  const std::vector<attrib::gcn_input> pg_train(d.train.begin(),
                                                d.train.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                                      d.train.size(), pg_explainer_graphs)));
  const attrib::trained_pg_explainer pg = attrib::pg_explainer{}.fit(model, pg_train, 1);
  t.seconds[pg_explainer_row] += attrib_examples::seconds_since(pg_start);
  for (std::size_t k = 0; k < d.test.size() && static_cast<std::size_t>(t.graphs) < max_graphs; ++k) {
    const auto& in = d.test[k];
    const auto& nb = d.test_neighbors[k];
    if (nb.empty()) {
      ++t.skipped;
      continue;
    }
    const attrib::index c = model.predict(in);
    const attrib::node_removal_game game(model, in, c, attrib::average_probability(model, d.train, c));
    const attrib::index n = game.player_count();
    const attrib::run_settings settings{.seed = k, .threads = 2};
    const std::size_t budget = 2 + 60 * static_cast<std::size_t>(2 * (n - 1));  // 60 antithetic pairs
    attrib::vector scores[methods];
    attrib::subgraphx_result subgraphs;
    auto timed = [&](int m, auto&& f) {
      const auto start = attrib_examples::clock_type::now();
      scores[m] = f();
      t.seconds[m] += attrib_examples::seconds_since(start);
    };
    timed(0, [&] { return attrib::hn_value{.tau = 0.01}.explain(game, nb, settings).values; });
    timed(1, [&] {
      return attrib::hn_value{.tau = 0.01, .tolerance = 0.0, .max_iterations = 128, .fast_step = false}
          .explain(game, nb, settings)
          .values;
    });
    timed(2, [&] { return attrib::occlusion{}.explain(game).values; });
    timed(3, [&] {
      return n <= exact_shapley_nodes ? attrib::exact_shapley{}.explain(game, settings).values
                                      : attrib::permutation_shapley{.solver = {.budget = budget}}.explain(game, settings).values;
    });
    timed(4, [&] {
      if (n <= exact_shapley_nodes) return attrib::myerson_value{}.explain(game, nb, settings).values;
      const attrib::graph_restricted_game<const decltype(game)&> restricted(game, nb);
      return attrib::permutation_shapley{.solver = {.budget = budget}}.explain(restricted, settings).values;
    });
    timed(5, [&] { return attrib::gnn_explainer{.epochs = 1000}.explain(model, in, c, k).scores; });
    timed(6, [&] {
      subgraphs = search.explain(game, settings);
      return subgraphs.node_scores;
    });
    timed(7, [&] { return attrib::graphsvx{.samples = graphsvx_samples}.explain(game, settings).values; });
    timed(pg_explainer_row, [&] { return pg.explain(model, in).scores; });
    for (int m = 0; m < methods; ++m)
      for (std::size_t s = 0; s < sparsities.size(); ++s) {
        // SubgraphX as GStarX evaluates it: the best searched subgraph of at most n (1 - s) nodes.
        const std::vector<attrib::index> coalition =
            m == subgraphx_row ? subgraphs.best(static_cast<double>(n) * (1.0 - sparsities[s]))
                               : attrib::top_positive_nodes(scores[m], sparsities[s]);
        const auto f = attrib::evaluate_coalition([&](const attrib::vector& keep) { return game.probability(keep); }, n,
                                                  coalition);
        t.h[static_cast<std::size_t>(m)][s] += f.harmonic;
        t.fid[static_cast<std::size_t>(m)][s] += f.fidelity;
        t.inv[static_cast<std::size_t>(m)][s] += f.inverse_fidelity;
      }
    ++t.graphs;
  }
  return t;
}

const char* notes = R"(### Published numbers (GStarX README, H-fidelity)

| model, dataset | GNNExplainer | PGExplainer | SubgraphX | GraphSVX | OrphicX | GStarX |
|---|---|---|---|---|---|---|
| GCN, MUTAG | 0.4745 | 0.4714 | 0.5253 | 0.5211 | 0.4925 | 0.6171 |
| GCN, BA-2Motifs | 0.4841 | 0.4879 | 0.6050 | 0.5017 | 0.5087 | 0.5824 |
| GIN, MUTAG | 0.5042 | 0.4993 | 0.5264 | 0.5592 | 0.5152 | 0.6064 |
| GCN, BACE | 0.5016 | 0.5127 | 0.5519 | 0.5067 | 0.4960 | 0.5934 |
| GCN, BBBP | 0.4735 | 0.4750 | 0.5610 | 0.5345 | 0.4893 | 0.5227 |

A reproduction attempt reports about 0.56 for GStarX on BA-2Motifs (ShichangZh/GStarX issue 3).

### How this run follows GStarX, and where it cannot

- Split 80/10/10 with seed 2 as in GStarX's dataset configs, but by our own seeded shuffle, so
  the test graphs are not GStarX's (MUTAG: 20 test molecules, so a mean over few graphs).
  BA-2Motifs is regenerated (1,000 graphs, `ba_2motifs(2, 1000)`), not DIG's file.
- BBBP and BACE are MoleculeNet's CSVs (chemprop's copies, `data/graphs/bbbp`, `data/graphs/bace`)
  read by attrib's SMILES reader (`attrib::read_smiles_csv`): every row parses; the 105 BBBP salts
  keep their largest fragment. Nodes are heavy atoms with a one-hot element (10 elements in BBBP,
  8 in BACE) and positive-charge, negative-charge and aromatic flags; Kekulé-written 5- and
  6-rings (about half of BBBP) are perceived aromatic by Hückel's rule, so both spellings give
  one graph. DIG's MoleculeDataset, which GStarX loads, featurises atoms with RDKit instead, so
  the inputs differ.
- BBBP and BACE models: GStarX's GCN for them (3 x 128, normalised, max readout, batch 64, lr
  0.005 for BBBP and 0.01 for BACE) but 60 epochs instead of 800 and 400. At most 20 test
  molecules each are explained (40 for the other sets) to keep the script within 30 minutes;
  test molecules over 64 atoms are skipped, as the Myerson game takes bitmask graphs.
- Models: the checkpoint with the best validation accuracy over rounds of 10 epochs, like DIG's
  `*_best.pth`, but smaller and shorter-trained than GStarX's (MUTAG GCN 3 x 128, 1,000 epochs;
  GIN 3 x 128 with max readout; BA-2Motifs GCN 3 x 20, 800 epochs) to fit two CPU cores: MUTAG
  GCN and GIN 3 x 32 for 300 epochs; BA-2Motifs 80 epochs. The explained model differs, and
  H-fidelity depends on the model as much as on the explainer.
- The game is GStarX's: predicted class, v(S) = p_c(G_S) minus the training-average p_c, nodes
  outside S removed with their edges. HN is exact up to 20 nodes (every MUTAG test molecule of
  that size) and GStarX's sampled 10-node-subgraph estimate beyond (all BA-2Motifs graphs have 25
  nodes; most BBBP and BACE molecules have more than 20 atoms). Two HN rows: the exact limit of
  H^k, and GStarX's own truncation H^128 with tau = 0.01, which is not yet the limit
  (docs/methods/graph.md).
- Node Shapley and Myerson are exact up to 14 nodes and permutation-sampled (60 antithetic
  pairs) beyond; occlusion is exact.
- GNNExplainer runs GStarX's setting (lr 0.01, 1,000 epochs) with PyG's coefficients; node
  score = mean mask of the incident edges.
- Sparsity: GStarX's `script.sh` sweeps 0.4-0.75; the README does not say which sparsity its table
  uses, so the first column averages the sweep and two single points are shown. As in GStarX,
  only positive-score nodes are kept, so the realised sparsity can be higher than requested.
- SubgraphX (`methods/graph/subgraphx.hpp`): DIG's tree search with its `mc_l_shapley` score
  (the subgraph as one player among the nodes within 3 hops), with GStarX's search settings per
  dataset (MUTAG: 20 rollouts, min_atoms 3, expand_atoms 12, c_puct 10; BA-2Motifs: 20, 5, 20,
  10, high degree first; BACE: 2, 5, 12, 10; BBBP: 3, 12, 5 but 2 rollouts instead of 20) and 20
  Monte-Carlo samples per score instead of DIG's 100, to fit two cores. Scores use node removal
  where GStarX's SubgraphX zero-fills features. As in GStarX's `run_subgraphx.py`, the explanation
  at sparsity s is the best searched subgraph of at most n (1 - s) nodes.
- PGExplainer (`methods/graph/pg_explainer.hpp`): its mask network (both orders of an edge's
  last-layer node embeddings, 64 hidden units) trained once per model on the first 200 training
  graphs for their predicted class, 30 epochs, lr 0.003, GNNExplainer's objective on binary
  concrete samples with the temperature annealed from 5 to 1; then one pass per test graph, node
  score = mean mask of the incident edges as for GNNExplainer. Its seconds include the training.
- GraphSVX (`methods/graph/graphsvx.hpp`): KernelSHAP on the same node-removal game with 1,000
  sampled coalitions, which is GraphSVX's Shapley-kernel weighted linear surrogate with its
  full and empty coalitions imposed exactly; GraphSVX's code keeps a masked node's features in the
  readout and only cuts its edges.
- Seconds: total over the explained graphs and per graph, 2 threads. This run shared the two
  cores with other jobs (load 4-6), so absolute times are about twice to three times a quiet
  machine's; the ratios between methods hold.
- Not done: PGExplainer, OrphicX; GraphSST2, Twitter.

### Reading the numbers

GNNExplainer is the weakest method on BA-2Motifs, by a wide margin with the GIN, as in the
paper (0.47-0.50 there); on MUTAG it is close to the others, and with the GCN it beats the HN and
Myerson values. The game-theoretic values are close to each other, and on these models the HN
value does not beat occlusion or node Shapley, so GStarX's 0.6171 on MUTAG is not reproduced.
GStarX's truncation H^128 with tau = 0.01 moves the HN rows by a few thousandths only, so the gap
is not the exact limit; more likely the larger, longer-trained models and GStarX's own test
split, and a mean over 20 molecules is noisy. With the GCN on BA-2Motifs in GStarX's
configuration (A + I, mean readout) our training reaches only about 0.7-0.8 accuracy in the time
allowed, so that table explains a weak model; the GIN learns BA-2Motifs perfectly from the
same constant features and is the better-founded BA-2Motifs row.

GraphSVX estimates the node Shapley value of the same game, and its rows stay within 0.004 of
node Shapley's mean H on every table (MUTAG GCN 0.5774 against 0.5772, BACE 0.5569 against
0.5604, BBBP 0.5924 against 0.5957) at a quarter to a half of its time. The paper's GraphSVX
numbers (0.50-0.53) are lower; GStarX's GraphSVX keeps masked nodes' features in the readout and
so explains another game than the one H-fidelity scores, which may be why (not measured here).
SubgraphX is the best method on BA-2Motifs with the GIN (0.5971; the paper has 0.6050 with its
GCN), where the explanation is one connected motif; on MUTAG it is close to occlusion and node
Shapley (0.5702 with the GCN, above the paper's 0.5253), and on BBBP and BACE, with 2 rollouts, it
is below node Shapley and GraphSVX (0.5452 and 0.5302; the paper has 0.5610 and 0.5519). Its
search is the costliest method per graph on MUTAG and with the GIN on BA-2Motifs, and second to
the Myerson value's sampling elsewhere.

On BBBP and BACE (20 test molecules each; the GCN trained 60 of GStarX's 800 and 400 epochs, test
accuracy about 0.86 and 0.76) the HN value's mean H is about 0.55 and 0.52 against the paper's
0.5227 and 0.5934: above the paper on BBBP, about 0.07 below on BACE. Node Shapley and occlusion
score higher than HN on both, the Myerson value is close to HN, and GNNExplainer is last on BACE
(the paper has 0.5016). Myerson's permutation sampling is the slowest method on these 24-34 atom
molecules.

The BACE gap experiment above isolates the cause of the 0.07. The payoff is not it: the raw
probability instead of norm_prob moves HN's mean H by 0.004 (0.5260 against 0.5225). The split
and the model each are: on two other split seeds, at the same 60 epochs and with test accuracies
no better (0.737 and 0.704), HN's H is 0.5570 and 0.5626, and on the table's split 200 epochs
(test accuracy 0.757 to 0.816) lift it to 0.5594; each closes about half of the gap to the paper's
0.5934. GStarX's own 400 epochs (`bace-study-400`) keep the best-validation checkpoint at the same
test accuracy, 0.816, but give 0.5401: H does not follow test accuracy alone, and the longest
training does not reach the paper either (0.053 below). Occlusion moves with HN on every row
(0.526 to 0.557), so what changes is the model and the explained molecules, not the HN
computation; on every row but the table's own, HN scores at or above occlusion. In this design a
split seed changes the split and the 20 explained test molecules together, so the two are one
factor. So the BACE gap is model and split (with the 20-molecule sample), not the payoff: HN's H
spans 0.52-0.56 over the models and splits tried, which is as large as the gap that remains.
)";

std::string table_markdown(const scores_table& t) {
  std::ostringstream out;
  const double g = t.graphs;
  out << "| method | mean H, sparsity 0.4-0.75 | H at 0.5 | H at 0.7 | fidelity / inv. fidelity at 0.5 | seconds: total / per graph |\n"
      << "|---|---|---|---|---|---|\n";
  for (int m = 0; m < methods; ++m) {
    const auto& h = t.h[static_cast<std::size_t>(m)];
    const double mean = std::accumulate(h.begin(), h.end(), 0.0) / (g * static_cast<double>(h.size()));
    out << "| " << method_names[m] << " | " << fixed(mean, 4) << " | " << fixed(h[2] / g, 4) << " | "
        << fixed(h[6] / g, 4) << " | " << fixed(t.fid[static_cast<std::size_t>(m)][2] / g, 3) << " / "
        << fixed(t.inv[static_cast<std::size_t>(m)][2] / g, 3) << " | " << fixed(t.seconds[m], 1) << " / "
        << fixed(t.seconds[m] / g, 2) << " |\n";
  }
  return out.str();
}

template <class Model>
std::string section(const std::string& title, const Model& model, const split_data& d, double validation_accuracy,
                    std::size_t max_graphs, double train_seconds) {
  const auto start = attrib_examples::clock_type::now();
  const scores_table t = evaluate(model, d, max_graphs);
  std::ostringstream out;
  out << "### " << title << "\n\n"
      << "Accuracy: train " << fixed(accuracy(model, d.train, d.train_labels), 3) << ", validation "
      << fixed(validation_accuracy, 3) << ", test " << fixed(accuracy(model, d.test, d.test_labels), 3) << " ("
      << d.train.size() << " / " << d.validation.size() << " / " << d.test.size() << " graphs; training "
      << fixed(train_seconds, 1) << " s). Explained: " << t.graphs << " test graphs ("
      << fixed(attrib_examples::seconds_since(start), 1) << " s)"
      << (t.skipped > 0 ? "; " + std::to_string(t.skipped) + " over 64 atoms skipped (bitmask Myerson game)" : "")
      << ".\n\n"
      << table_markdown(t) << "\n";
  std::cerr << "graph_explanation_table: " << title << " done\n";
  return out.str();
}

// The BACE gap experiment: is HN's H below the paper's 0.5934 because of the model (training
// budget), the split, or the payoff? Each row trains GStarX's BACE GCN on one 80/10/10 split for
// a number of epochs and explains the same number of test molecules as the table with the HN
// value (exact limit) under norm_prob, and with the raw probability as payoff (baseline 0)
// where asked; occlusion is the reference of a simple method on the same model.
struct study_run {
  std::uint64_t split_seed;
  attrib::index rounds;  // of 10 epochs
  bool raw_payoff;       // also HN with v(S) = p_c(G_S), no norm_prob baseline
};

std::string bace_study(const std::vector<attrib::labeled_graph>& molecules, std::size_t max_graphs,
                       const std::vector<study_run>& runs, const std::string& key) {
  std::ostringstream out;
  out << "### BACE gap experiment (`graph_explanation_table OUT DATA 20 " << key << "`)\n\n"
      << "GStarX's BACE GCN (3 x 128, max readout, lr 0.01, batch 64) per split seed and training budget; mean H over "
         "sparsity 0.4-0.75 on the first "
      << max_graphs << " test molecules of each split (under 65 atoms).\n\n"
      << "| split seed | epochs | accuracy train / validation / test | HN mean H (norm_prob) | HN mean H (raw "
         "probability) | occlusion mean H | seconds (training + HN) |\n"
      << "|---|---|---|---|---|---|---|\n";
  for (const study_run& r : runs) {
    const split_data d = split("BACE", molecules, r.split_seed);
    const auto start = attrib_examples::clock_type::now();
    double val = 0;
    const attrib::gcn model = train_best(
        attrib::gcn({.readout = attrib::gcn_readout::max, .inputs = d.features, .hidden = 128, .layers = 3}, 1), d,
        {.epochs = 10, .batch_size = 64, .learning_rate = 0.01, .seed = 60}, r.rounds, val);
    double hn = 0, hn_raw = 0, occ = 0;
    int graphs = 0;
    for (std::size_t k = 0; k < d.test.size() && static_cast<std::size_t>(graphs) < max_graphs; ++k) {
      const auto& nb = d.test_neighbors[k];
      if (nb.empty()) continue;
      const attrib::index c = model.predict(d.test[k]);
      const attrib::node_removal_game game(model, d.test[k], c, attrib::average_probability(model, d.train, c));
      const attrib::node_removal_game raw(model, d.test[k], c, 0.0);
      const attrib::run_settings settings{.seed = k, .threads = 2};
      const auto mean_h = [&](const attrib::vector& scores) {
        double h = 0;
        for (double sp : sparsities)
          h += attrib::evaluate_coalition([&](const attrib::vector& keep) { return game.probability(keep); },
                                          game.player_count(), attrib::top_positive_nodes(scores, sp))
                   .harmonic;
        return h / static_cast<double>(sparsities.size());
      };
      hn += mean_h(attrib::hn_value{.tau = 0.01}.explain(game, nb, settings).values);
      if (r.raw_payoff) hn_raw += mean_h(attrib::hn_value{.tau = 0.01}.explain(raw, nb, settings).values);
      occ += mean_h(attrib::occlusion{}.explain(game).values);
      ++graphs;
    }
    const double g = graphs;
    out << "| " << r.split_seed << " | " << 10 * r.rounds << " | " << fixed(accuracy(model, d.train, d.train_labels), 3)
        << " / " << fixed(val, 3) << " / " << fixed(accuracy(model, d.test, d.test_labels), 3) << " | " << fixed(hn / g, 4)
        << " | " << (r.raw_payoff ? fixed(hn_raw / g, 4) : std::string("-")) << " | " << fixed(occ / g, 4) << " | "
        << fixed(attrib_examples::seconds_since(start), 0) << " |\n";
    std::cerr << "graph_explanation_table: bace-study split " << r.split_seed << ", " << 10 * r.rounds << " epochs done\n";
  }
  return out.str() + "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: graph_explanation_table OUT.md DATA_DIR [max_test_graphs] [datasets]\n";
    return 2;
  }
  const std::string out_path = argv[1], data_dir = argv[2];
  const std::size_t max_graphs = argc > 3 ? std::stoul(argv[3]) : 40;
  const std::string chosen = argc > 4 ? std::string(",") + argv[4] + "," : ",mutag,ba2motifs,bbbp,bace,";
  const auto run = [&](const char* name) { return chosen.find(std::string(",") + name + ",") != std::string::npos; };
  try {
    const auto total = attrib_examples::clock_type::now();
    std::ostringstream body;
    double val = 0;
    if (run("mutag")) {
      const split_data mutag = split("MUTAG", attrib::read_tu_dataset(data_dir + "/graphs/MUTAG", "MUTAG").graphs);
      auto start = attrib_examples::clock_type::now();
      const attrib::gcn gcn_mutag = train_best(
          attrib::gcn({.readout = attrib::gcn_readout::mean, .inputs = mutag.features, .hidden = 32, .layers = 3}, 1),
          mutag, {.epochs = 10, .batch_size = 32, .learning_rate = 0.005, .seed = 10}, 30, val);
      body << section("MUTAG, GCN (3 x 32, normalised, mean readout)", gcn_mutag, mutag, val, max_graphs,
                      attrib_examples::seconds_since(start));
      start = attrib_examples::clock_type::now();
      const attrib::gin gin_mutag = train_best(
          attrib::gin({.readout = attrib::gin_readout::sum, .inputs = mutag.features, .hidden = 32, .layers = 3}, 1),
          mutag, {.epochs = 10, .batch_size = 64, .learning_rate = 0.005, .seed = 20}, 30, val);
      body << section("MUTAG, GIN (3 x 32, GIN-0, sum readout)", gin_mutag, mutag, val, max_graphs,
                      attrib_examples::seconds_since(start));
    }
    if (run("ba2motifs")) {
      const split_data motifs = split("BA-2Motifs", attrib::ba_2motifs(2, 1000));
      auto start = attrib_examples::clock_type::now();
      const attrib::gcn gcn_motifs = train_best(
          attrib::gcn({.readout = attrib::gcn_readout::mean, .aggregation = attrib::gcn_aggregation::sum,
                       .inputs = motifs.features, .hidden = 20, .layers = 3},
                      1),
          motifs, {.epochs = 10, .batch_size = 32, .learning_rate = 0.005, .seed = 30}, 8, val);
      body << section("BA-2Motifs, GCN (3 x 20, A + I sum aggregation, mean readout: GStarX's configuration)",
                      gcn_motifs, motifs, val, max_graphs, attrib_examples::seconds_since(start));
      start = attrib_examples::clock_type::now();
      const attrib::gin gin_motifs = train_best(
          attrib::gin({.readout = attrib::gin_readout::sum, .jumping_knowledge = true, .inputs = motifs.features,
                       .hidden = 16, .layers = 3},
                      1),
          motifs, {.epochs = 10, .batch_size = 32, .learning_rate = 0.005, .seed = 40}, 8, val);
      body << section("BA-2Motifs, GIN (3 x 16, GIN-0, sum readout, jumping knowledge)", gin_motifs, motifs, val,
                      max_graphs, attrib_examples::seconds_since(start));
    }
    // MoleculeNet through the SMILES reader: GStarX's GCN for these sets is 3 x 128, normalised,
    // max readout (BBBP lr 0.005, 800 epochs; BACE lr 0.01, 400 epochs; batch 64). The width,
    // readout, learning rates and batch size are kept; the epochs are cut to fit two cores.
    const auto molecules = [&](const char* name, const std::string& file, const std::string& smiles_column,
                               const std::string& label_column) {
      const attrib::molecule_dataset set =
          attrib::read_smiles_csv(data_dir + "/graphs/" + file, {.smiles_column = smiles_column, .label_column = label_column});
      return split(name, set.data.graphs);
    };
    for (const auto& [key, name, file, smiles_column, label_column, rate, rounds, seed] :
         {std::tuple{"bbbp", "BBBP", "bbbp/bbbp.csv", "smiles", "p_np", 0.005, molecule_rounds, std::uint64_t{50}},
          std::tuple{"bace", "BACE", "bace/bace.csv", "mol", "Class", 0.01, molecule_rounds, std::uint64_t{60}}}) {
      if (!run(key)) continue;
      const split_data d = molecules(name, file, smiles_column, label_column);
      const auto start = attrib_examples::clock_type::now();
      const attrib::gcn model = train_best(
          attrib::gcn({.readout = attrib::gcn_readout::max, .inputs = d.features, .hidden = 128, .layers = 3}, 1), d,
          {.epochs = 10, .batch_size = 64, .learning_rate = rate, .seed = seed}, rounds, val);
      body << section(std::string(name) + ", GCN (3 x 128, normalised, max readout: GStarX's configuration, " +
                          std::to_string(10 * rounds) + " epochs)",
                      model, d, val, std::min(max_graphs, molecule_graphs), attrib_examples::seconds_since(start));
    }
    if (run("bace-study") || run("bace-study-400")) {
      const attrib::molecule_dataset set =
          attrib::read_smiles_csv(data_dir + "/graphs/bace/bace.csv", {.smiles_column = "mol", .label_column = "Class"});
      const std::size_t graphs = std::min(max_graphs, molecule_graphs);
      // Split seeds and the payoff at the table's budget, and 200 epochs on the table's split.
      if (run("bace-study"))
        body << bace_study(set.data.graphs, graphs, {{2, 6, true}, {3, 6, false}, {4, 6, false}, {2, 20, false}},
                           "bace-study");
      // GStarX's 400 epochs on the table's split (about 10 minutes on two cores).
      if (run("bace-study-400")) body << bace_study(set.data.graphs, graphs, {{2, 40, false}}, "bace-study-400");
    }
    attrib::atomic_file_writer output(out_path);
    output.stream() << "<!-- generated by scripts/graph_tables.sh (examples/graph_explanation_table.cpp); edit the notes there -->\n"
         << "# Graph explanation results\n\n"
         << "## H-fidelity of node explanations (GStarX's metric; methods in docs/methods/graph.md)\n\n"
         << "Measured (" << fixed(attrib_examples::seconds_since(total), 0) << " s, at most " << max_graphs
         << " test graphs per dataset).\n\n"
         << body.str() << notes;
    output.commit();
    std::cerr << "graph_explanation_table: wrote " << out_path << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "graph_explanation_table: " << e.what() << "\n";
    return 1;
  }
}
