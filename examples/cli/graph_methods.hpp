#pragma once
// The graph methods of `attrib graph` by name: the GNN classifiers it trains and loads, the
// options that build and train them, and the node scores of every --method. The command line and
// the Python module (python/src/graphs.cpp) both go through these functions, so the two front
// ends build the same models and compute the same scores from the same options.
#include <cstdint>
#include <fstream>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "arguments.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/games/graph_restricted_game.hpp"
#include "attrib/graph/graph.hpp"
#include "attrib/methods/feature/occlusion.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/methods/graph/gnn_explainer.hpp"
#include "attrib/methods/graph/grad_cam.hpp"
#include "attrib/methods/graph/hn_value.hpp"
#include "attrib/methods/graph/myerson.hpp"
#include "attrib/models/gnn/gcn.hpp"
#include "attrib/models/gnn/gin.hpp"

namespace cli {

using any_graph_model = std::variant<attrib::gcn, attrib::gin>;

inline std::vector<attrib::gcn_input> inputs_of(const std::vector<attrib::labeled_graph>& graphs) {
  std::vector<attrib::gcn_input> inputs;
  for (const auto& lg : graphs) inputs.push_back(attrib::make_gcn_input(lg.structure));
  return inputs;
}

inline std::vector<int> labels_of(const std::vector<attrib::labeled_graph>& graphs) {
  std::vector<int> labels;
  for (const auto& lg : graphs) labels.push_back(lg.label);
  return labels;
}

// The untrained `kind` (gcn or gin) that --readout, --hidden, --layers and --seed describe.
inline any_graph_model new_graph_model(const arguments& a, const std::string& kind, attrib::index features,
                                       attrib::index classes) {
  const auto hidden = a.integer("hidden", 32, 1, 1'000'000);
  const auto layers = a.integer("layers", 3, 1, 1000);
  if (kind == "gcn") {
    const std::string r = a.text("readout", "mean");
    if (r != "mean" && r != "sum" && r != "max") throw usage_error("--readout for gcn must be mean, sum or max, got '" + r + "'");
    return attrib::gcn({.readout = r == "mean"  ? attrib::gcn_readout::mean
                                   : r == "sum" ? attrib::gcn_readout::sum
                                                : attrib::gcn_readout::max,
                        .inputs = features,
                        .hidden = hidden,
                        .layers = layers,
                        .classes = classes},
                       a.seed());
  }
  if (kind == "gin") {
    const std::string r = a.text("readout", "sum");
    if (r != "mean" && r != "sum") throw usage_error("--readout for gin must be sum or mean, got '" + r + "'");
    return attrib::gin({.readout = r == "sum" ? attrib::gin_readout::sum : attrib::gin_readout::mean,
                        .inputs = features,
                        .hidden = hidden,
                        .layers = layers,
                        .classes = classes},
                       a.seed());
  }
  throw usage_error("--model must be gcn or gin, got '" + kind + "'");
}

// Adam's settings from --epochs, --batch-size, --learning-rate and --seed.
inline attrib::gnn_training graph_training(const arguments& a,
                                           std::function<void(std::size_t, std::size_t)> progress = {}) {
  return {.epochs = a.integer("epochs", 100, 0, 1'000'000'000),
          .batch_size = a.integer("batch-size", 32, 1, 1'000'000'000),
          .learning_rate = a.number("learning-rate", 0.005),
          .seed = a.seed(),
          .progress = std::move(progress)};
}

// A model file written by `attrib graph train` (its first word names the kind).
inline any_graph_model load_graph_model(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw attrib::format_error("cannot open model file " + path);
  std::string magic;
  file >> magic;
  file.seekg(0);
  if (magic == "attrib-gcn") return attrib::gcn::load(file);
  if (magic == "attrib-gin") return attrib::gin::load(file);
  throw attrib::format_error(path + " is not a graph model (expected 'attrib-gcn' or 'attrib-gin' first)");
}

// The methods that need nothing but the game and the graph (any game over the nodes, a Python
// value function included) and those that also read the model's gradients.
inline constexpr const char* game_methods = "hn, myerson, shapley or occlusion";
inline constexpr const char* all_graph_methods = "hn, myerson, shapley, occlusion, gnnexplainer or grad-cam";

// The node scores of --method hn, myerson, shapley or occlusion on `game` (players: the nodes,
// neighbours as bitmasks). Myerson and Shapley are exact up to 16 nodes and sampled by
// permutations beyond (--samples game evaluations, by default 100 antithetic pairs).
template <class Game>
attrib::vector game_node_scores(const std::string& method, const arguments& a, const Game& game,
                                const std::vector<std::uint64_t>& neighbors, const attrib::run_settings& settings,
                                const char* known = game_methods) {
  const attrib::index n = game.player_count();
  const std::size_t budget = a.has("samples") ? static_cast<std::size_t>(a.integer("samples", 0, 1, 1'000'000'000'000))
                                              : 2 + 100 * static_cast<std::size_t>(2 * (n - 1));
  constexpr attrib::index exact_limit = 16;
  if (method == "hn") return attrib::hn_value{.tau = a.number("tau", 0.01)}.explain(game, neighbors, settings).values;
  if (method == "myerson") {
    if (n <= exact_limit) return attrib::myerson_value{}.explain(game, neighbors, settings).values;
    const attrib::graph_restricted_game<const Game&> restricted(game, neighbors);
    return attrib::permutation_shapley{.solver = {.budget = budget}}.explain(restricted, settings).values;
  }
  if (method == "shapley")
    return n <= exact_limit ? attrib::exact_shapley{}.explain(game, settings).values
                            : attrib::permutation_shapley{.solver = {.budget = budget}}.explain(game, settings).values;
  if (method == "occlusion") return attrib::occlusion{}.explain(game).values;
  throw usage_error("unknown --method '" + method + "' (" + known + ")");
}

// Every --method on graph `in` of a trained model, `game` being its node_removal_game for class c:
// the game methods, and grad-cam and gnnexplainer, which follow the model's gradients.
template <class Model, class Game>
attrib::vector model_node_scores(const std::string& method, const arguments& a, const Model& model,
                                 const attrib::gcn_input& in, attrib::index c, const Game& game,
                                 const std::vector<std::uint64_t>& neighbors, const attrib::run_settings& settings) {
  if (method == "grad-cam")
    return attrib::grad_cam{.layer = a.integer("layer", -1, -1, 1'000'000)}.explain(model, in, c).scores;
  if (method == "gnnexplainer")
    return attrib::gnn_explainer{.epochs = a.integer("epochs", 1000, 0, 1'000'000'000)}.explain(model, in, c, settings.seed).scores;
  return game_node_scores(method, a, game, neighbors, settings, all_graph_methods);
}

}  // namespace cli
