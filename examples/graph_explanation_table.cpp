// H-fidelity of node explanations (GStarX's metric) on MUTAG and BA-2Motifs, for a trained GCN
// and GIN, and on the MoleculeNet sets BBBP and BACE (SMILES) for a GCN: the HN value (GStarX)
// against occlusion, node Shapley, the Myerson value, GNNExplainer, SubgraphX and GraphSVX, following GStarX's
// protocol where it can be followed on two CPU cores:
// an 80/10/10 split (seed 2, our own shuffle), the checkpoint with the best validation
// accuracy, every test graph explained for its predicted class with v(S) = p_c(G_S) minus the
// training-average p_c, exact HN for <= 20 nodes and GStarX's sampled HN (10-node subgraphs)
// beyond, and the top positive nodes at each sparsity kept. Writes a markdown page.
// Usage: graph_explanation_table OUT.md DATA_DIR [max_test_graphs] [datasets]
// (datasets: a comma list of mutag, ba2motifs, bbbp, bace; default all of them. Not in the default,
// the gap experiments: HN's H against the split seed, the model's width and training budget, and
// the payoff: mutag-study (GStarX's 3 x 128 GCN for 1,000 epochs among its rows), ba2motifs-study
// (GStarX's 800 epochs), bace-study, bace-study-400 (GStarX's 400 epochs))
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
  `*_best.pth`. The MUTAG GCN has GStarX's width and budget (3 x 128, 1,000 epochs) and the
  BA-2Motifs GCN GStarX's configuration and 800 epochs; to fit two CPU cores, the MUTAG GIN is
  3 x 32 for 300 epochs (GStarX's: 3 x 128, max readout) and the BA-2Motifs GIN 3 x 16 for 80
  epochs. H-fidelity depends on the explained model as much as on the explainer
  (docs/graph-gap-experiments.md).
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
- Seconds: total over the explained graphs and per graph, 2 threads, on a quiet machine (the
  whole `bash scripts/graph_tables.sh`, with its builds, took 25.5 minutes).
- Not done: OrphicX; GraphSST2, Twitter.

### Reading the numbers

With GStarX's MUTAG GCN (3 x 128, 1,000 epochs) the game-theoretic values agree with each other
and with the paper: HN 0.6117 against the paper's 0.6171, node Shapley, GraphSVX and Myerson
0.615-0.623, occlusion 0.6038. The mask methods land where the paper has them: GNNExplainer
0.4715 (paper 0.4745), PGExplainer 0.5095 (0.4714). GStarX's truncation H^128 with tau = 0.01
moves the HN rows by a few thousandths only, so the exact limit changes nothing. On BA-2Motifs
with GStarX's GCN for 800 epochs (test accuracy 0.91), SubgraphX (0.5837, paper 0.6050) and the
Myerson value (0.5849) score highest, HN 0.5583 is 0.024 below the paper (analysed below), and
GNNExplainer and PGExplainer are lowest (0.4963 and 0.4614; paper 0.4841 and 0.4879), as in the
paper. The GIN rows use smaller, shorter-trained models than GStarX's; on MUTAG they explain a
GIN whose values are all 0.51-0.52 (the paper's GIN: 0.6064 for HN), which says that this model,
not the explainers, sets the level.

GraphSVX estimates the node Shapley value of the same game, and its mean H stays within 0.004 of
node Shapley's on every table but the BA-2Motifs GCN (0.014, both sampled on its 25 nodes):
MUTAG GCN 0.6214 against 0.6227, BACE 0.5569 against 0.5604, BBBP 0.5924 against 0.5957, at a
quarter to a half of its time. The paper's GraphSVX numbers (0.50-0.53) are lower; GStarX's
GraphSVX keeps masked nodes' features in the readout and so explains another game than the one
H-fidelity scores, which may be why (not measured here). SubgraphX is the best method on
BA-2Motifs with the GIN (0.5971) and close to the best with the GCN (0.5837; the paper has 0.6050
with its GCN), where the explanation is one connected motif; on MUTAG with the GCN it is below the
values (0.5888, above the paper's 0.5253), and on BBBP and BACE, with 2 rollouts, it is below
node Shapley and GraphSVX (0.5452 and 0.5302; the paper has 0.5610 and 0.5519). Its search is the
costliest method per graph on MUTAG and BA-2Motifs, and second to the Myerson value's sampling
elsewhere.

On BBBP and BACE (20 test molecules each; the GCN trained 60 of GStarX's 800 and 400 epochs, test
accuracy about 0.86 and 0.76) the HN value's mean H is about 0.55 and 0.52 against the paper's
0.5227 and 0.5934: above the paper on BBBP, about 0.07 below on BACE. Node Shapley and occlusion
score higher than HN on both, the Myerson value is close to HN, and GNNExplainer is last on BACE
(the paper has 0.5016). Myerson's permutation sampling is the slowest method on these 24-34 atom
molecules.

### Against the paper's HN value (goal: at or above it, or within 0.02)

The gap experiments (`bash scripts/graph_tables.sh --studies`, docs/graph-gap-experiments.md)
retrain the explained GCN with one factor changed at a time.

- **MUTAG, within 0.02.** With GStarX's width and budget (3 x 128, 1,000 epochs) HN's mean H is
  0.6117 on the table's split against the paper's 0.6171, and 0.6008 and 0.6193 on two other
  splits. The 0.494 of earlier versions of this table was the model: on the same split, a 3 x 32
  GCN trained 300 epochs gives 0.4943 and GStarX's width trained 300 epochs 0.5057. The payoff
  matters only for the weak model (the raw probability: 0.5397 against 0.4943 there, 0.6008
  against 0.6117 with GStarX's model).
- **BBBP, above** (0.55 against 0.5227) with GStarX's GCN trained 60 of its 800 epochs.
- **BA-2Motifs, 0.024 below** (0.5583 against 0.5824) with GStarX's GCN and 800 epochs, where an
  independent reproduction of GStarX reports about 0.56 (GStarX issue 3). Model quality is not the
  cause: on two other splits the GCN is perfect (test accuracy 1.000) and HN's H is lower, 0.5438
  and 0.5457. The payoff is not: the raw probability gives 0.5218. The sampled estimator is part
  of it: every BA-2Motifs graph has 25 nodes, past the exact limit, and HN is averaged over
  random 10-node connected subgraphs (GStarX's setting); on the table's split 14-node subgraphs
  give 0.5698 and 18-node ones 0.5753, within 0.008 of the paper, though on the two perfect models
  14-node subgraphs move H by +0.006 and -0.002 only. What remains is the split and the explained
  graphs (0.544-0.558 over three splits at the paper's settings) and the graphs themselves
  (regenerated, not DIG's file).
- **BACE, 0.07 below**, the model and the split (next paragraph).

The BACE gap experiment isolates the cause of the 0.07. The payoff is not it: the raw
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

// The gap experiments: is HN's H below the paper's because of the model (size and training
// budget), the split, the payoff or the sampled estimator? Each row trains the table's GCN for a dataset on one 80/10/10
// split, with a width and a number of epochs, and explains the same number of test graphs as the
// table with the HN value (exact limit) under norm_prob, and with the raw probability as payoff
// (baseline 0) where asked; occlusion is the reference of a simple method on the same model.
struct study_run {
  std::uint64_t split_seed;
  attrib::index rounds;  // of 10 epochs
  attrib::index hidden;  // width of the GCN's layers
  bool raw_payoff;       // also HN with v(S) = p_c(G_S), no norm_prob baseline
  attrib::index hn_sample_size = 10;  // nodes per sampled subgraph for graphs over 20 nodes (GStarX's 10)
};

struct gap_study {
  std::string dataset, model_text;  // model_text: the GCN and its training, for the heading
  attrib::gcn_config model;         // its hidden width is each row's
  attrib::gnn_training training;    // epochs per round; the rounds are each row's
  double paper_h;                   // GStarX's mean H for this dataset and model
};

std::string run_gap_study(const gap_study& study, const std::string& key,
                          const std::vector<attrib::labeled_graph>& graphs, std::size_t max_graphs,
                          const std::vector<study_run>& runs) {
  std::ostringstream out;
  out << "### " << study.dataset << " gap experiment (`graph_explanation_table OUT DATA " << max_graphs << " "
      << key << "`)\n\n"
      << study.model_text << " per split seed, width and training budget; mean H over sparsity 0.4-0.75 on at most "
      << max_graphs << " test graphs of each split (the first ones under 65 nodes). The paper's HN: " << fixed(study.paper_h, 4)
      << ".\n\n"
      << "| split seed | width | epochs | accuracy train / validation / test | HN subgraph size (over 20 nodes) | HN mean "
         "H (norm_prob) | HN mean H (raw probability) | occlusion mean H | seconds (training + HN) |\n"
      << "|---|---|---|---|---|---|---|---|---|\n";
  for (const study_run& r : runs) {
    const split_data d = split(study.dataset, graphs, r.split_seed);
    const auto start = attrib_examples::clock_type::now();
    double val = 0;
    attrib::gcn_config config = study.model;
    config.inputs = d.features;
    config.hidden = r.hidden;
    const attrib::gcn model = train_best(attrib::gcn(config, 1), d, study.training, r.rounds, val);
    double hn = 0, hn_raw = 0, occ = 0;
    int explained = 0;
    for (std::size_t k = 0; k < d.test.size() && static_cast<std::size_t>(explained) < max_graphs; ++k) {
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
      const attrib::hn_value hn_method{.tau = 0.01, .sample_size = r.hn_sample_size};
      hn += mean_h(hn_method.explain(game, nb, settings).values);
      if (r.raw_payoff) hn_raw += mean_h(hn_method.explain(raw, nb, settings).values);
      occ += mean_h(attrib::occlusion{}.explain(game).values);
      ++explained;
    }
    const double g = explained;
    out << "| " << r.split_seed << " | " << r.hidden << " | " << r.rounds * study.training.epochs << " | "
        << fixed(accuracy(model, d.train, d.train_labels), 3) << " / " << fixed(val, 3) << " / "
        << fixed(accuracy(model, d.test, d.test_labels), 3) << " | " << r.hn_sample_size << " | " << fixed(hn / g, 4)
        << " | "
        << (r.raw_payoff ? fixed(hn_raw / g, 4) : std::string("-")) << " | " << fixed(occ / g, 4) << " | "
        << fixed(attrib_examples::seconds_since(start), 0) << " |\n";
    std::cerr << "graph_explanation_table: " << key << " split " << r.split_seed << ", width " << r.hidden
              << ", " << r.rounds * study.training.epochs << " epochs done\n";
  }
  return out.str() + "\n";
}

// The table's GCNs, which the gap experiments retrain with other widths, budgets and splits.
const gap_study mutag_study{"MUTAG", "The table's MUTAG GCN (3 layers, normalised, mean readout, lr 0.005, batch 32)",
                            {.readout = attrib::gcn_readout::mean, .hidden = 128, .layers = 3},
                            {.epochs = 10, .batch_size = 32, .learning_rate = 0.005, .seed = 10}, 0.6171};
const gap_study motifs_study{
    "BA-2Motifs",
    "The table's BA-2Motifs GCN (GStarX's: 3 layers, A + I sum aggregation, mean readout, lr 0.005, batch 32)",
    {.readout = attrib::gcn_readout::mean, .aggregation = attrib::gcn_aggregation::sum, .hidden = 20, .layers = 3},
    {.epochs = 10, .batch_size = 32, .learning_rate = 0.005, .seed = 30}, 0.5824};
const gap_study bace_study{"BACE", "GStarX's BACE GCN (3 layers, normalised, max readout, lr 0.01, batch 64)",
                           {.readout = attrib::gcn_readout::max, .hidden = 128, .layers = 3},
                           {.epochs = 10, .batch_size = 64, .learning_rate = 0.01, .seed = 60}, 0.5934};

// Trains a study's GCN at the table's width for `rounds` rounds of 10 epochs on the table's split.
attrib::gcn train_table_gcn(const gap_study& study, const split_data& d, attrib::index rounds, double& val) {
  attrib::gcn_config config = study.model;
  config.inputs = d.features;
  return train_best(attrib::gcn(config, 1), d, study.training, rounds, val);
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
    std::ostringstream tables, studies;  // the results page; the gap experiments page
    double val = 0;
    if (run("mutag")) {
      const split_data mutag = split("MUTAG", attrib::read_tu_dataset(data_dir + "/graphs/MUTAG", "MUTAG").graphs);
      auto start = attrib_examples::clock_type::now();
      const attrib::gcn gcn_mutag = train_table_gcn(mutag_study, mutag, 100, val);
      tables << section("MUTAG, GCN (3 x 128, normalised, mean readout: GStarX's width and 1,000 epochs)", gcn_mutag,
                      mutag, val, max_graphs,
                      attrib_examples::seconds_since(start));
      start = attrib_examples::clock_type::now();
      const attrib::gin gin_mutag = train_best(
          attrib::gin({.readout = attrib::gin_readout::sum, .inputs = mutag.features, .hidden = 32, .layers = 3}, 1),
          mutag, {.epochs = 10, .batch_size = 64, .learning_rate = 0.005, .seed = 20}, 30, val);
      tables << section("MUTAG, GIN (3 x 32, GIN-0, sum readout)", gin_mutag, mutag, val, max_graphs,
                      attrib_examples::seconds_since(start));
    }
    if (run("ba2motifs")) {
      const split_data motifs = split("BA-2Motifs", attrib::ba_2motifs(2, 1000));
      auto start = attrib_examples::clock_type::now();
      const attrib::gcn gcn_motifs = train_table_gcn(motifs_study, motifs, 80, val);
      tables << section("BA-2Motifs, GCN (3 x 20, A + I sum aggregation, mean readout: GStarX's configuration, 800 epochs)",
                      gcn_motifs, motifs, val, max_graphs, attrib_examples::seconds_since(start));
      start = attrib_examples::clock_type::now();
      const attrib::gin gin_motifs = train_best(
          attrib::gin({.readout = attrib::gin_readout::sum, .jumping_knowledge = true, .inputs = motifs.features,
                       .hidden = 16, .layers = 3},
                      1),
          motifs, {.epochs = 10, .batch_size = 32, .learning_rate = 0.005, .seed = 40}, 8, val);
      tables << section("BA-2Motifs, GIN (3 x 16, GIN-0, sum readout, jumping knowledge)", gin_motifs, motifs, val,
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
      tables << section(std::string(name) + ", GCN (3 x 128, normalised, max readout: GStarX's configuration, " +
                          std::to_string(10 * rounds) + " epochs)",
                      model, d, val, std::min(max_graphs, molecule_graphs), attrib_examples::seconds_since(start));
    }
    // The gap experiments (not in the default run): {split seed, rounds of 10 epochs, width, raw payoff too}.
    if (run("mutag-study")) {
      // Split seeds and the payoff at width 32 and 300 epochs (the table's model before it took
      // GStarX's size), GStarX's width at 300 epochs, and the table's model (GStarX's width and
      // 1,000 epochs) on three splits.
      const auto graphs = attrib::read_tu_dataset(data_dir + "/graphs/MUTAG", "MUTAG").graphs;
      studies << run_gap_study(mutag_study, "mutag-study", graphs, max_graphs,
                            {{2, 30, 32, true}, {3, 30, 32, false}, {4, 30, 32, false}, {2, 30, 128, false},
                             {2, 100, 128, true}, {3, 100, 128, false}, {4, 100, 128, false}});
    }
    if (run("ba2motifs-study")) {
      // Split seeds and the payoff at 80 epochs and at GStarX's 800 (the table's); at 800 epochs,
      // sampled HN with 14- and 18-node subgraphs instead of GStarX's 10 (every graph has 25 nodes).
      studies << run_gap_study(motifs_study, "ba2motifs-study", attrib::ba_2motifs(2, 1000), max_graphs,
                            {{2, 8, 20, true}, {3, 8, 20, false}, {4, 8, 20, false}, {2, 80, 20, true},
                             {3, 80, 20, false}, {4, 80, 20, false}, {2, 80, 20, false, 14},
                             {3, 80, 20, false, 14}, {4, 80, 20, false, 14}, {2, 80, 20, false, 18}});
    }
    if (run("bace-study") || run("bace-study-400")) {
      const attrib::molecule_dataset set =
          attrib::read_smiles_csv(data_dir + "/graphs/bace/bace.csv", {.smiles_column = "mol", .label_column = "Class"});
      const std::size_t graphs = std::min(max_graphs, molecule_graphs);
      // Split seeds and the payoff at the table's budget, and 200 epochs on the table's split.
      if (run("bace-study"))
        studies << run_gap_study(bace_study, "bace-study", set.data.graphs, graphs,
                              {{2, 6, 128, true}, {3, 6, 128, false}, {4, 6, 128, false}, {2, 20, 128, false}});
      // GStarX's 400 epochs on the table's split (about 10 minutes on two cores).
      if (run("bace-study-400"))
        studies << run_gap_study(bace_study, "bace-study-400", set.data.graphs, graphs, {{2, 40, 128, false}});
    }
    attrib::atomic_file_writer output(out_path);
    auto& page = output.stream();
    page << "<!-- generated by scripts/graph_tables.sh" << (tables.str().empty() ? " --studies" : "")
         << " (examples/graph_explanation_table.cpp); edit the notes there -->\n";
    if (!tables.str().empty())
      page << "# Graph explanation results\n\n"
           << "## H-fidelity of node explanations (GStarX's metric; methods in docs/methods/graph.md)\n\n"
           << "Measured (" << fixed(attrib_examples::seconds_since(total), 0) << " s, at most " << max_graphs
           << " test graphs per dataset).\n\n"
           << tables.str() << notes;
    if (!studies.str().empty())
      page << "# Graph explanation gap experiments\n\n"
           << "Where the HN value's H-fidelity differs from GStarX's published numbers, these runs retrain "
              "the explained model with other split seeds, widths and training budgets, and change the payoff "
              "and the sampled estimator, one factor at a time (" << fixed(attrib_examples::seconds_since(total), 0)
           << " s; the reading is in docs/graph-results.md).\n\n"
           << studies.str();
    output.commit();
    std::cerr << "graph_explanation_table: wrote " << out_path << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "graph_explanation_table: " << e.what() << "\n";
    return 1;
  }
}
