// attrib llm components: which heads, neurons, blocks or residual positions a transformer's
// prediction rests on - its components as the players of a game (games/component_game.hpp),
// explained by attribution patching or by any coalition method, as a table and a heatmap - and
// which edges between its blocks carry it (games/edge_game.hpp), by ACDC, as a circuit graph.
#include <cstddef>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../svg_circuit.hpp"
#include "../svg_heatmap.hpp"
#include "arguments.hpp"
#include "attrib/games/component_game.hpp"
#include "attrib/games/edge_game.hpp"
#include "attrib/methods/component/acdc.hpp"
#include "attrib/methods/component/edge_attribution_patching.hpp"
#include "attrib/methods/component/attribution_patching.hpp"
#include "coalition_methods.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "llm_model.hpp"
#include "progress.hpp"
#include "rank_group.hpp"
#ifdef ATTRIB_WITH_MPI
#include "across_ranks.hpp"
#include "attrib/mpi/distributed_game.hpp"
#endif

namespace cli {

namespace {

const std::string help = R"(usage: attrib llm components --model PATH --clean TEXT [--corrupted TEXT] [options]

Which components of the model does its prediction on the clean prompt rest on? Attention heads,
MLP neurons, whole attention/MLP blocks or residual-stream positions are the players of a game:
the clean prompt is run with every absent player's activation replaced by its ablation value, and
the value is a metric of the last position's logits. Attribution patching estimates every
player's occlusion value v(all) - v(all but the player) from one forward and one backward pass;
any coalition method explains the game exactly or by sampling.

Writes CSV: player,layer,unit,value (and se, the standard error, for sampling methods), one row per
player. With --players edges, the players are the edges between blocks (each sender's term in one
receiver's input) and ACDC prunes them to a circuit: CSV edge,sender,receiver,kept,value with the
value the increase of the distance from the full model when the edge's removal was tried.

  --model PATH          a .gguf file, a llama2.c .bin checkpoint or a Hugging Face directory
  --tokenizer FILE      the llama2.c tokenizer .bin (with a .bin model)
  --clean TEXT          the prompt that is run (BOS is prepended); --clean-tokens IDS instead
  --corrupted TEXT      the prompt whose activations patch ablation takes (as many tokens as the
                        clean one); --corrupted-tokens IDS instead
  --players P           heads (default), blocks (each layer's attention and MLP), neurons:L (the
                        MLP neurons of layer L), positions:L (the stream entering layer L), or
                        edges (embed, attention and MLP blocks to the blocks and logits after them)
  --ablation A          patch (default with --corrupted: the corrupted run's activation), zero
                        (default without), mean or resample (over the --references prompts)
  --references FILE     prompts for mean and resample ablation, one per line, each as many tokens
                        as the clean prompt
  --metric M            logit-difference (default), probability, loss (-log p(target)), or kl
                        (KL divergence from the unablated run's next-token distribution)
  --target T            the token the metric reads: a token id, or text that is one token;
                        default: the clean run's most likely next token
  --contrast T          logit-difference only: a token whose logit is subtracted; default: the
                        corrupted run's most likely next token when it differs from the target
  --positions LIST      positions at which heads, neurons and blocks are ablated, e.g. 0-3,7
                        (default: all)
  --method M            attribution-patching (default), or a coalition method: exact-shapley,
                        kernel-shap, permutation-shapley, exact-banzhaf, msr-banzhaf, lime,
                        lime-lasso, occlusion; with --players edges: acdc (default),
                        attribution-patching (edge attribution patching, EAP) or a coalition
                        method
  --threshold T         acdc: remove an edge when it moves the distance from the full model
                        (the KL divergence with --metric kl, else |v - v(all)|) by less than T
                        (default 0.01)
  --steps N             edges, attribution-patching: average the derivative over N points of
                        the uniform edge mask from every edge cut to none (EAP-IG, Hanna et al.
                        2024; default 1: EAP, the derivative at the full graph)
)" + std::string(coalition_run_options_help) + R"(  --svg FILE            also draw the values as a heatmap of layers x units (acdc: the circuit)
  --quiet               no messages on standard error
  --help                this text
)";

attrib::token_id most_likely(const attrib::float_matrix& logits) {
  attrib::index best = 0;
  logits.row(0).maxCoeff(&best);
  return static_cast<attrib::token_id>(best);
}

// "heads", "blocks", "neurons:L", "positions:L".
std::vector<attrib::transformer_component> parse_players(const std::string& text, const attrib::transformer_config& c,
                                                         attrib::index length) {
  if (text == "heads") return attrib::every_head(c);
  if (text == "blocks") return attrib::every_block(c);
  const auto colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  if (colon != std::string::npos && (kind == "neurons" || kind == "positions")) {
    const auto layers = parse_row_list(text.substr(colon + 1), c.n_layers, "the model", "layers", "--players layer");
    if (layers.size() != 1) throw usage_error("--players " + kind + ":L takes one layer, got '" + text + "'");
    const auto l = static_cast<attrib::index>(layers.front());
    return kind == "neurons" ? attrib::every_neuron(c, l) : attrib::every_position(l, length);
  }
  throw usage_error("--players must be heads, blocks, neurons:L, positions:L or edges, got '" + text + "'");
}

// Whether `method` is one of the coalition methods, which under mpirun run on every rank.
bool coalition_method(const std::string& method) { return method != "attribution-patching" && method != "acdc"; }

// A coalition method on `game`. Under mpirun every rank runs it on mpi::distributed_game, which
// spreads each batch of coalitions over the ranks (the estimator on one thread per rank; the
// game's forward passes keep --threads) and gives every rank every value, so the result is one
// process's, bit for bit.
template <class Game>
std::optional<attrib::attribution> coalition_method_on_ranks(const std::string& method, const arguments& a, const Game& game,
                                                             attrib::run_settings settings) {
#ifdef ATTRIB_WITH_MPI
  const attrib::mpi::communicator& comm = command_communicator();
  if (comm.distributed()) {
    const attrib::mpi::distributed_game<Game> spread(comm, game);
    settings.threads = 1;
    return run_coalition_method(method, a, spread, settings);
  }
#endif
  return run_coalition_method(method, a, game, settings);
}

// --players edges: ACDC, or a coalition method over the edges.
int explain_edges(const arguments& a, const loaded_model& m, const std::vector<attrib::token_id>& clean,
                  const attrib::component_game_options& options, const std::string& ablation, const std::string& metric) {
  const auto& config = m.model->config();
  const auto edges = attrib::every_edge(config);
  const attrib::transformer_edge_game game(*m.model, clean, edges, options);
  const std::string method = a.text("method", "acdc");
  attrib::vector values, kept;
  std::optional<attrib::acdc_result> found;
  double full = 0.0;
  if (method == "acdc") {
    found = attrib::acdc(game, {.threshold = a.number("threshold", 0.01)});
    values = found->increase;
    kept = found->kept;
    full = found->full_value;
    messages(a) << "attrib llm components: acdc, " << edges.size() << " edges, " << ablation << " ablation, metric "
                << metric << "; kept " << kept.sum() << " edges; full model " << std::setprecision(9) << full
                << ", circuit " << found->circuit_value << ", " << found->evaluations << " evaluations\n";
  } else if (method == "attribution-patching") {
    if (a.has("threshold")) throw usage_error("--threshold is read by --method acdc only");
    const auto steps = static_cast<attrib::index>(a.integer("steps", 1, 1, 4096));
    const auto eap = attrib::edge_attribution_patching(game, {.steps = steps, .threads = a.threads()});
    values = eap.values;
    full = eap.value;
    messages(a) << "attrib llm components: edge attribution patching" << (steps > 1 ? " (EAP-IG, " + std::to_string(steps) + " steps)" : "")
                << ", " << edges.size() << " edges, " << ablation << " ablation, metric " << metric << "; full model "
                << std::setprecision(9) << full << "; sum of the values " << values.sum() << "\n";
  } else {
    if (a.has("threshold")) throw usage_error("--threshold is read by --method acdc only");
    if (a.has("steps")) throw usage_error("--steps is read by --players edges --method attribution-patching only");
    attrib::run_settings settings{.seed = a.seed(), .threads = a.threads()};
    const auto result = coalition_method_on_ranks(method, a, game, settings);
    if (!result) throw usage_error("unknown --method '" + method + "' for edges; expected acdc or one of " + coalition_method_names);
    values = result->values;
    full = result->prediction;
    messages(a) << "attrib llm components: " << method << ", " << edges.size() << " edges, " << ablation
                << " ablation, metric " << metric << "; full model " << std::setprecision(9) << full << "\n";
  }
  if (!command_ranks().is_root()) return 0;  // rank 0 writes
  write_output(a, "out", [&](std::ostream& out) {
    if (a.text("format", "csv") == "csv") {
      out << "edge,sender,receiver" << (found ? ",kept" : "") << ",value\n" << std::setprecision(9);
      for (std::size_t j = 0; j < edges.size(); ++j) {
        const auto i = static_cast<attrib::index>(j);
        out << attrib::to_string(edges[j]) << ',' << attrib::to_string(edges[j].sender) << ','
            << attrib::to_string(edges[j].receiver);
        if (found) out << ',' << kept(i);
        out << ',' << values(i) << '\n';
      }
      return;
    }
    nlohmann::json rows = nlohmann::json::array();
    for (std::size_t j = 0; j < edges.size(); ++j) {
      const auto i = static_cast<attrib::index>(j);
      nlohmann::json row = {{"edge", attrib::to_string(edges[j])},
                            {"sender", attrib::to_string(edges[j].sender)},
                            {"receiver", attrib::to_string(edges[j].receiver)},
                            {"value", values(i)}};
      if (found) row["kept"] = kept(i) == 1.0;
      rows.push_back(row);
    }
    out << rows.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  });
  if (a.has("svg")) {
    if (!found) throw usage_error("--svg with --players edges draws ACDC's circuit; use --method acdc");
    write_output(a, "svg", [&](std::ostream& out) {
      examples::write_circuit_svg(out,
                                  "ACDC circuit (" + metric + ", " + ablation + " ablation, threshold " +
                                      attrib_examples::significant(a.number("threshold", 0.01), 3) + ")",
                                  found->circuit, config.n_layers);
    });
  }
  return 0;
}

}  // namespace

int llm_components(const std::vector<std::string>& args) {
  const arguments a(args,
                    {"model", "tokenizer", "threads", "clean", "corrupted", "clean-tokens", "corrupted-tokens",
                     "players", "ablation", "references", "metric", "target", "contrast", "positions", "method",
                     "samples", "seed", "alpha", "width", "distance", "target-se", "format", "out", "svg", "threshold",
                     "steps"},
                    {"help", "quiet"});
  if (a.flag("help")) {
    std::cout << help;
    return 0;
  }
  // Under mpirun the coalition methods run on every rank; the other methods on rank 0, and the
  // other ranks, which never open the model, wait for it at the command's last checkpoint.
  const std::string method = a.text("method", a.text("players") == "edges" ? "acdc" : "attribution-patching");
  if (!command_ranks().is_root() && !coalition_method(method)) return 0;
  refuse_overwriting_inputs(a, {"out", "svg"}, {"model", "tokenizer", "references"});
  const std::string format = a.text("format", "csv");
  if (format != "csv" && format != "json") throw usage_error("--format must be csv or json, got '" + format + "'");
  if (!a.has("clean") && !a.has("clean-tokens")) throw usage_error("option --clean (or --clean-tokens) is required");
  const bool corrupted_given = a.has("corrupted") || a.has("corrupted-tokens");
  const bool ids_only = a.has("clean-tokens") && (!corrupted_given || a.has("corrupted-tokens")) && !a.has("references");
  const loaded_model m = load_model(a, !ids_only);
  const auto& config = m.model->config();
  const auto clean = prompt_tokens(a, m, "clean", "clean-tokens");
  const auto length = static_cast<attrib::index>(clean.size());

  attrib::component_game_options options;
  // One process spreads the estimator's batches over --threads; ranks spread them over the
  // ranks, and each rank's forward passes take the threads (values do not depend on either).
  options.threads = command_ranks().distributed() ? a.threads() : 1;
  const std::string ablation = a.text("ablation", corrupted_given ? "patch" : "zero");
  std::optional<std::vector<attrib::token_id>> corrupted;
  if (corrupted_given) corrupted = prompt_tokens(a, m, "corrupted", "corrupted-tokens");
  if (ablation == "zero") {
    options.ablation = attrib::ablation_kind::zero;
  } else if (ablation == "patch") {
    if (!corrupted) throw usage_error("--ablation patch takes its activations from --corrupted, which is missing");
    options.ablation = attrib::ablation_kind::patch;
    options.reference = {*corrupted};
  } else if (ablation == "mean" || ablation == "resample") {
    if (!a.has("references")) throw usage_error("--ablation " + ablation + " needs --references FILE");
    options.ablation = ablation == "mean" ? attrib::ablation_kind::mean : attrib::ablation_kind::resample;
    std::istringstream lines(input_bytes(a.text("references")));
    for (std::string line; std::getline(lines, line);)
      if (!line.empty()) options.reference.push_back(m.tokenizer->encode(line, true));
    if (options.reference.empty()) throw usage_error("--references " + a.text("references") + " holds no prompts");
  } else {
    throw usage_error("--ablation must be zero, mean, resample or patch, got '" + ablation + "'");
  }
  for (std::size_t i = 0; i < options.reference.size(); ++i)
    if (static_cast<attrib::index>(options.reference[i].size()) != length)
      throw usage_error("the clean prompt has " + std::to_string(length) + " tokens and " +
                        (corrupted_given && ablation == "patch" ? std::string("the corrupted one ")
                                                                : "reference prompt " + std::to_string(i + 1) + " ") +
                        std::to_string(options.reference[i].size()) + "; ablation pairs their positions, so they must match");

  attrib::forward_options run;
  run.last_position_only = true;
  const attrib::float_matrix clean_logits = m.model->forward(std::vector<std::vector<attrib::token_id>>{clean}, run)[0];
  const std::string metric = a.text("metric", "logit-difference");
  const std::map<std::string, attrib::component_metric_kind> metrics = {
      {"logit-difference", attrib::component_metric_kind::logit_difference},
      {"probability", attrib::component_metric_kind::probability},
      {"loss", attrib::component_metric_kind::loss},
      {"kl", attrib::component_metric_kind::kl_to_clean}};
  if (!metrics.contains(metric))
    throw usage_error("--metric must be logit-difference, probability, loss or kl, got '" + metric + "'");
  options.metric.kind = metrics.at(metric);
  if (options.metric.kind != attrib::component_metric_kind::kl_to_clean)
    options.metric.target = a.has("target") ? token_option(a, m, "target") : most_likely(clean_logits);
  if (options.metric.kind == attrib::component_metric_kind::logit_difference) {
    if (a.has("contrast"))
      options.metric.contrast = token_option(a, m, "contrast");
    else if (corrupted) {
      const auto other = most_likely(m.model->forward(std::vector<std::vector<attrib::token_id>>{*corrupted}, run)[0]);
      if (other != options.metric.target) options.metric.contrast = other;
    }
    if (options.metric.contrast == options.metric.target)
      throw usage_error("--contrast is the target token; the metric would be zero everywhere");
  } else if (a.has("contrast")) {
    throw usage_error("--contrast is read by --metric logit-difference only");
  }
  if (a.has("positions"))
    for (auto p : parse_row_list(a.text("positions"), length, "the clean prompt", "tokens", "--positions"))
      options.positions.push_back(static_cast<attrib::index>(p));

  if (a.text("players") == "edges") return explain_edges(a, m, clean, options, ablation, metric);
  if (a.has("threshold")) throw usage_error("--threshold is read by --players edges --method acdc only");
  if (a.has("steps")) throw usage_error("--steps is read by --players edges --method attribution-patching only");
  const auto players = parse_players(a.text("players", "heads"), config, length);
  const attrib::transformer_component_game game(*m.model, clean, players, options);
  attrib::run_settings settings{.seed = a.seed(), .threads = a.threads()};
  progress bar(a, "attrib llm components", "coalitions", 0);
  settings.progress = [&](std::size_t done, std::size_t total) { bar.update(done, total); };
  auto result = method == "attribution-patching" ? attrib::attribution_patching.explain(game, settings)
                                                 : coalition_method_on_ranks(method, a, game, settings);
  if (!result)
    throw usage_error("unknown --method '" + method + "'; expected attribution-patching or one of " +
                      coalition_method_names);
  const attrib::attribution& r = *result;
  messages(a) << "attrib llm components: " << method << ", " << game.player_count() << " players, " << ablation
              << " ablation, metric " << metric << "; unablated " << std::setprecision(9) << r.prediction << "\n";
  if (!command_ranks().is_root()) return 0;  // rank 0 writes

  write_output(a, "out", [&](std::ostream& out) {
    if (format == "csv") {
      out << "player,layer,unit,value" << (r.has_standard_errors() ? ",se" : "") << '\n' << std::setprecision(9);
      for (attrib::index j = 0; j < game.player_count(); ++j) {
        const auto& p = players[static_cast<std::size_t>(j)];
        out << attrib::to_string(p) << ',' << p.layer << ',' << p.unit << ',' << r.values(j);
        if (r.has_standard_errors()) out << ',' << r.standard_errors(j);
        out << '\n';
      }
      return;
    }
    nlohmann::json rows = nlohmann::json::array();
    for (attrib::index j = 0; j < game.player_count(); ++j) {
      const auto& p = players[static_cast<std::size_t>(j)];
      nlohmann::json row = {{"player", attrib::to_string(p)}, {"layer", p.layer}, {"unit", p.unit}, {"value", r.values(j)}};
      if (r.has_standard_errors()) row["se"] = r.standard_errors(j);
      rows.push_back(row);
    }
    out << rows.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  });
  if (a.has("svg")) {
    // Rows: the players' layers; columns: their units (heads, neurons, positions; or the two blocks).
    examples::heatmap_panel panel;
    panel.title = method + ": unablated " + attrib_examples::significant(r.prediction, 4);
    std::map<attrib::index, std::size_t> rows, columns;
    const bool blocks = players.front().kind == attrib::component_kind::attention;
    for (const auto& p : players) {
      rows.emplace(p.layer, 0);
      columns.emplace(blocks ? static_cast<attrib::index>(p.kind == attrib::component_kind::mlp) : p.unit, 0);
    }
    for (auto& [layer, at] : rows) {
      at = panel.row_labels.size();
      panel.row_labels.push_back("layer " + std::to_string(layer));
    }
    for (auto& [unit, at] : columns) {
      at = panel.column_labels.size();
      if (blocks)
        panel.column_labels.push_back(unit == 0 ? "attention" : "mlp");
      else if (players.front().kind == attrib::component_kind::position)
        panel.column_labels.push_back(token_label(m, clean[static_cast<std::size_t>(unit)]));
      else
        panel.column_labels.push_back((players.front().kind == attrib::component_kind::head ? "head " : "") +
                                      std::to_string(unit));
    }
    panel.values.assign(panel.row_labels.size() * panel.column_labels.size(), 0.0);
    for (attrib::index j = 0; j < game.player_count(); ++j) {
      const auto& p = players[static_cast<std::size_t>(j)];
      const auto column = blocks ? static_cast<attrib::index>(p.kind == attrib::component_kind::mlp) : p.unit;
      panel.values[rows.at(p.layer) * panel.column_labels.size() + columns.at(column)] = r.values(j);
    }
    write_output(a, "svg", [&](std::ostream& out) {
      examples::write_heatmap_svg(out, "components of the prediction (" + metric + ", " + ablation + " ablation)",
                                  "v(all) - v(all but the player)", {panel});
    });
  }
  return 0;
}

}  // namespace cli
