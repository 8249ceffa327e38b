// attrib graph: graph classification explained node by node. `train` fits a GCN or GIN on a
// TU-format dataset and saves it; `explain` loads it and scores the nodes of one graph with the
// HN value (GStarX), the Myerson value, node Shapley, occlusion or GNNExplainer, printing the
// scores as CSV and the explanation's H-fidelity.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "arguments.hpp"
#include "files.hpp"
#include "graph_methods.hpp"
#include "progress.hpp"
#include "labels.hpp"
#include "attrib/games/node_removal_game.hpp"
#include "attrib/graph/tu_dataset.hpp"
#include "attrib/methods/graph/fidelity.hpp"
#include "../svg_graph.hpp"
#include "commands.hpp"

namespace cli {
namespace {

const char* help = R"(usage: attrib graph train   --dataset DIR --name NAME --model gcn|gin --out FILE [options]
       attrib graph explain --dataset DIR --name NAME --model-file FILE --graph K --method M [options]

Graph classification on a TU-format dataset (DIR/NAME_A.txt, NAME_graph_indicator.txt,
NAME_graph_labels.txt, NAME_node_labels.txt; e.g. data/graphs/MUTAG with --name MUTAG).

train: fits the model on every graph of the dataset with Adam on cross-entropy and writes it
in attrib's text format; prints the final loss and the training accuracy to standard error.
  --model M             gcn (Kipf & Welling, normalised) or gin (Xu et al., GIN-0)
  --readout R           gcn: mean (default), sum or max; gin: sum (default) or mean
  --hidden H            hidden width (default 32)
  --layers L            message-passing layers (default 3)
  --epochs N            Adam epochs (default 100)
  --learning-rate R     Adam step (default 0.005)
  --batch-size B        graphs per step (default 32)
  --seed S              initialisation and shuffling seed (default 0)
  --out FILE            the model file to write (-: standard output)
  --quiet               no messages on standard error

explain: scores the nodes of graph K (0-based, in file order) for one class and writes CSV:
node,label,score (label = the node label of the TU file). Standard error gets the class, its
probability, the baseline and the H-fidelity of the top positive nodes.
  --model-file FILE     a model saved by 'attrib graph train' (gcn or gin; detected)
  --graph K             the graph to explain
  --method M            hn (GStarX's Hamiache-Navarro value), myerson, shapley (node Shapley),
                        occlusion, gnnexplainer (edge masks, node score = mean incident mask)
                        or grad-cam (ReLU of the node embeddings weighted by the class logit's
                        mean gradient)
  --layer L             grad-cam: the message-passing layer (default: the last)
  --class C             the class explained (default: the predicted class)
  --tau T               hn: surplus share, 0 < T < 2/n (default 0.01; n = the graph's nodes,
                        or 10 when graphs of over 20 nodes are sampled)
  --samples N           shapley and myerson on graphs of over 16 nodes: game evaluations of
                        permutation sampling (default 100 antithetic pairs)
  --epochs N            gnnexplainer: Adam epochs (default 1000, as GStarX runs it)
  --sparsity S          H-fidelity sparsity in [0, 1] (default 0.5)
  --seed S              seed of sampled methods (default 0)
  --threads N           worker threads, 0 for all cores (default 1; results do not depend on it)
  --out FILE            write the scores there (default or -: standard output)
  --format F            csv (default) or json
  --svg FILE            also draw the graph: nodes coloured by score, the explanation's nodes
                        (the top positive ones at --sparsity) ringed
  --node-names LIST     names of the node labels for the drawing, in label order (MUTAG:
                        C,N,O,F,I,Cl,Br); default: the label numbers
  --quiet               no messages on standard error
  --help                this text

The game is GStarX's: v(S) = p_c(G_S) - the dataset-average p_c, nodes outside S removed with
their edges. HN and Myerson accept disconnected graphs (values are computed per component).
)";

// The dataset's own files are DIR/NAME_*.txt; an output written over one would destroy it.
void refuse_overwriting_dataset(const arguments& a, std::initializer_list<const char*> outputs) {
  for (const char* option : outputs) {
    if (!a.has(option) || a.text(option) == "-") continue;
    const std::filesystem::path path = a.text(option);
    if (same_file(path.parent_path().empty() ? "." : path.parent_path(), a.required("dataset")) &&
        path.filename().string().starts_with(a.required("name") + "_"))
      throw usage_error("--" + std::string(option) + " '" + a.text(option) + "' would overwrite a file of the " +
                        a.text("name") + " dataset; choose another name");
  }
}

int train(const arguments& a) {
  a.required("out");
  refuse_overwriting_dataset(a, {"out"});
  const attrib::graph_dataset data = attrib::read_tu_dataset(a.required("dataset"), a.required("name"));
  const std::string kind = a.required("model"), out = a.required("out");
  const std::vector<attrib::gcn_input> inputs = inputs_of(data.graphs);
  const std::vector<int> labels = labels_of(data.graphs);
  const attrib::index features = inputs.front().features.cols(), classes = class_count(labels, "--dataset " + a.text("name") + " graph labels");
  any_graph_model model = new_graph_model(a, kind, features, classes);
  progress bar(a, "attrib graph train", "epochs", 0);
  const attrib::gnn_training options = graph_training(a, [&](std::size_t done, std::size_t total) { bar.update(done, total); });
  std::visit(
      [&](auto& m) {
        const double loss = m.train(inputs, labels, options);
        double hits = 0;
        for (std::size_t k = 0; k < inputs.size(); ++k) hits += m.predict(inputs[k]) == labels[k] ? 1.0 : 0.0;
        messages(a) << "attrib graph train: " << kind << ", " << inputs.size() << " graphs, final loss " << loss
                    << ", training accuracy " << hits / static_cast<double>(inputs.size()) << "\n";
        if (write_output(a, "out", [&](std::ostream& s) { m.save(s); }))
          messages(a) << "attrib graph train: saved " << out << "\n";
      },
      model);
  return 0;
}

template <class Model>
int explain_with(const Model& model, const arguments& a, const attrib::graph_dataset& data) {
  const std::vector<attrib::gcn_input> inputs = inputs_of(data.graphs);
  const std::string graph_text = a.required("graph");
  const auto k = static_cast<std::uint64_t>(a.integer("graph", 0, 0, std::numeric_limits<std::int64_t>::max()));
  if (k >= data.graphs.size())
    throw usage_error("--graph " + graph_text + " is out of range: the dataset has " + std::to_string(data.graphs.size()) +
                      " graphs (0.." + std::to_string(data.graphs.size() - 1) + ")");
  const attrib::gcn_input& in = inputs[k];
  if (in.features.cols() != model.inputs())
    throw usage_error("the model takes " + std::to_string(model.inputs()) + " node features but the dataset's nodes have " +
                      std::to_string(in.features.cols()) + " (was it trained on another dataset?)");
  const attrib::index c = a.has("class") ? a.integer("class", 0, 0, std::numeric_limits<std::int64_t>::max()) : model.predict(in);
  if (c >= model.classes())
    throw usage_error("--class " + std::to_string(c) + " is out of range: the model has " + std::to_string(model.classes()) +
                      " classes");
  const double sparsity = a.number("sparsity", 0.5);
  if (!(sparsity >= 0.0 && sparsity <= 1.0)) throw usage_error("--sparsity must be in [0, 1], got " + a.text("sparsity"));
  const attrib::node_removal_game game(model, in, c, attrib::average_probability(model, inputs, c));
  const auto& structure = data.graphs[k].structure;
  const auto neighbors = attrib::neighbor_masks(structure);
  const attrib::index n = game.player_count();
  progress bar(a, "attrib graph explain", "evaluations", 0);
  const attrib::run_settings settings{
      .seed = a.seed(), .threads = a.threads(), .progress = [&](std::size_t done, std::size_t total) { bar.update(done, total); }};
  const std::string method = a.required("method");
  const attrib::vector scores = model_node_scores(method, a, model, in, c, game, neighbors, settings);
  attrib::matrix table(n, 3);
  for (attrib::index i = 0; i < n; ++i)
    table.row(i) << static_cast<double>(i), structure[static_cast<attrib::graph_node>(i)].label, scores(i);
  write_table(a, {"node", "label", "score"}, table);
  const auto f = attrib::evaluate_coalition([&](const attrib::vector& keep) { return game.probability(keep); }, n,
                                            attrib::top_positive_nodes(scores, sparsity));
  messages(a) << "attrib graph explain: graph " << k << " (" << n << " nodes), class " << c << " with probability "
            << game.probability(attrib::vector::Ones(n)) << ", baseline " << game.baseline() << "\n"
            << "attrib graph explain: " << method << " H-fidelity " << f.harmonic << " at sparsity " << f.sparsity
            << " (requested " << sparsity << "; fidelity " << f.fidelity << ", inverse fidelity " << f.inverse_fidelity
            << ")\n";
  if (a.has("svg")) {
    const std::vector<std::string> names = a.has("node-names") ? split(a.text("node-names"), ',') : std::vector<std::string>{};
    std::vector<std::string> labels;
    std::vector<double> values(scores.data(), scores.data() + n);
    std::vector<bool> selected(static_cast<std::size_t>(n), false);
    for (attrib::index i = 0; i < n; ++i) {
      const int label = structure[static_cast<attrib::graph_node>(i)].label;
      labels.push_back(label >= 0 && static_cast<std::size_t>(label) < names.size() ? names[static_cast<std::size_t>(label)]
                                                                                   : std::to_string(label));
    }
    for (const auto i : attrib::top_positive_nodes(scores, sparsity)) selected[static_cast<std::size_t>(i)] = true;
    write_output(a, "svg", [&](std::ostream& out) {
      examples::write_graph_svg(out,
                                a.text("name") + " graph " + std::to_string(k) + ": " + method + " scores for class " +
                                    std::to_string(c) + ", H-fidelity " + attrib_examples::significant(f.harmonic, 3),
                                structure, labels, values, selected);
    });
  }
  return 0;
}

int explain(const arguments& a) {
  const std::string path = a.required("model-file");
  refuse_overwriting_inputs(a, {"out", "svg"}, {"model-file"});
  refuse_overwriting_dataset(a, {"out", "svg"});
  const std::string format = a.text("format", "csv");
  if (format != "csv" && format != "json") throw usage_error("--format must be csv or json, got '" + format + "'");
  a.required("graph");
  a.required("method");
  const attrib::graph_dataset data = attrib::read_tu_dataset(a.required("dataset"), a.required("name"));
  const any_graph_model model = load_graph_model(path);
  return std::visit([&](const auto& m) { return explain_with(m, a, data); }, model);
}

}  // namespace

int graph(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << help;
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h") {
    std::cout << help;
    return 0;
  }
  const std::string action = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (action == "train") {
    const arguments a(rest, {"dataset", "name", "model", "readout", "hidden", "layers", "epochs", "learning-rate",
                             "batch-size", "seed", "out"},
                      {"help", "quiet"});
    if (a.flag("help")) {
      std::cout << help;
      return 0;
    }
    return train(a);
  }
  if (action == "explain") {
    const arguments a(rest, {"dataset", "name", "model-file", "graph", "method", "class", "tau", "samples", "epochs",
                             "sparsity", "seed", "threads", "out", "format", "svg", "node-names", "layer"},
                      {"help", "quiet"});
    if (a.flag("help")) {
      std::cout << help;
      return 0;
    }
    return explain(a);
  }
  throw usage_error("unknown action '" + action + "': use 'attrib graph train' or 'attrib graph explain' (see --help)");
}

}  // namespace cli
