// attrib llm patch: activation patching over layers x positions between a clean and a corrupted
// prompt, exactly (one patched run per cell, sharing the unchanged part of each run) and by
// attribution patching (one forward and one backward pass), as a table and a heatmap.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../svg_heatmap.hpp"
#include "arguments.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "llm_model.hpp"
#include "patching_methods.hpp"
#include "progress.hpp"
#include "rank_group.hpp"

namespace cli {

namespace {

const char* help = R"(usage: attrib llm patch --model PATH --clean TEXT --corrupted TEXT [options]

Activation patching: the corrupted prompt is run with the residual stream at one layer and one
position replaced by the clean prompt's, for every layer and position, and the metric at the last
position is read: F = logit(target) - logit(contrast), or logit(target) alone. Each cell's value
is F(patched run) - F(corrupted run): how much of the clean behaviour that one activation brings
back. Exact patching computes every patched run (reusing the unchanged part of each); attribution
patching (AtP) estimates all cells from one forward and one backward pass of the corrupted prompt,
as dF/da . (a_clean - a_corrupted). Standard error gets F of the clean and the corrupted runs.
Under mpirun the exact cells are spread over the ranks and rank 0 writes what one process writes.

Writes CSV: layer,position,token,piece, then one column per method (exact, attribution).

  --model PATH          a .gguf file, a llama2.c .bin checkpoint or a Hugging Face directory
  --tokenizer FILE      the llama2.c tokenizer .bin (with a .bin model)
  --clean TEXT          the prompt whose activations are patched in (BOS is prepended)
  --corrupted TEXT      the prompt that is run; the same number of tokens as --clean
  --clean-tokens IDS, --corrupted-tokens IDS
                        comma-separated token ids instead of the texts
  --target T            the token whose logit F reads: a token id, or text that is one token
                        (SentencePiece adds the leading space: "Paris" is "▁Paris"); default: the
                        clean run's most likely next token
  --contrast T          the token whose logit F subtracts, or none; default: the corrupted run's
                        most likely next token when it is not the target, else none
  --point P             resid_pre (each layer's input, default) or resid_post (its output)
  --layers L            the layers to patch, e.g. 0-3,5 (default: all)
  --method M            exact (default), attribution, or both
  --threads N           worker threads (default 1; 0: all cores); results do not depend on it
  --format F            csv (default) or json (one object per cell)
  --out FILE            write the table there (default or -: standard output)
  --svg FILE            also draw the cells as heatmaps of layers x tokens, one per method
  --quiet               no messages on standard error
  --help                this text
)";

}  // namespace

int llm_patch(const std::vector<std::string>& args) {
  const arguments a(args,
                    {"model", "tokenizer", "threads", "clean", "corrupted", "clean-tokens", "corrupted-tokens",
                     "target", "contrast", "point", "layers", "method", "format", "out", "svg"},
                    {"help", "quiet"});
  if (a.flag("help")) {
    std::cout << help;
    return 0;
  }
  refuse_overwriting_inputs(a, {"out", "svg"}, {"model", "tokenizer"});
  const std::string method = a.text("method", "exact");
  if (method != "exact" && method != "attribution" && method != "both")
    throw usage_error("--method must be exact, attribution or both, got '" + method + "'");
  const std::string format = a.text("format", "csv");
  if (format != "csv" && format != "json") throw usage_error("--format must be csv or json, got '" + format + "'");
  const std::string point_name = a.text("point", "resid_pre");
  if (point_name != "resid_pre" && point_name != "resid_post")
    throw usage_error("--point must be resid_pre or resid_post, got '" + point_name + "'");
  const attrib::hook_kind point = point_name == "resid_pre" ? attrib::hook_kind::resid_pre : attrib::hook_kind::resid_post;
  if (!a.has("clean") && !a.has("clean-tokens")) throw usage_error("option --clean (or --clean-tokens) is required");
  if (!a.has("corrupted") && !a.has("corrupted-tokens"))
    throw usage_error("option --corrupted (or --corrupted-tokens) is required");

  const loaded_model m = load_model(a, !(a.has("clean-tokens") && a.has("corrupted-tokens")));
  const auto& config = m.model->config();
  const auto clean = prompt_tokens(a, m, "clean", "clean-tokens");
  const auto corrupted = prompt_tokens(a, m, "corrupted", "corrupted-tokens");
  patching_request request;
  request.point = point;
  if (a.has("layers"))
    for (auto l : parse_row_list(a.text("layers"), config.n_layers, "the model", "layers", "layers"))
      request.layers.push_back(static_cast<attrib::index>(l));
  if (a.has("target")) request.target = token_option(a, m, "target");
  if (a.text("contrast") == "none")
    request.contrast.kind = contrast_choice::rule::none;
  else if (a.has("contrast"))
    request.contrast = {contrast_choice::rule::given, token_option(a, m, "contrast")};
  request.exact = method != "attribution";
  request.attribution = method != "exact";
  request.threads = a.threads();
  // Under mpirun the exact cells are spread over the ranks (rank_group.hpp), each rank recording
  // the two unpatched runs itself and computing its run of cells in batches as one process does;
  // rank 0 adds attribution patching (one forward and one backward pass) and writes everything.
  const rank_group& ranks = command_ranks();
  progress bar(a, "attrib llm patch", "cells", 0);  // rank 0's own cells
  request.progress = [&](std::size_t done, std::size_t total) { bar.update(done, total); };
  const patching_grid grid = [&] {
    try {
      patching_runs runs = record_patching_runs(*m.model, clean, corrupted, request);
      if (request.exact) {
        const auto cells = static_cast<attrib::index>(runs.grid.layers.size() * runs.grid.positions);
        const auto parts = gather_item_runs(ranks, cells, [&](attrib::index first, attrib::index last) {
          return bytes_of(exact_patching_cells(*m.model, runs, request, static_cast<std::size_t>(first),
                                               static_cast<std::size_t>(last)));
        });
        for (const auto& part : parts) append_doubles(part, runs.grid.exact);
      }
      if (request.attribution && ranks.is_root())
        runs.grid.attribution = attribution_patching_cells(*m.model, runs.grid, clean, corrupted, request);
      return std::move(runs.grid);
    } catch (const attrib::invalid_argument& e) {
      // Mismatched or over-long prompts are the user's options, said as such.
      throw usage_error(e.what());
    }
  }();
  if (!ranks.is_root()) return 0;  // the cells are on rank 0, which writes them once
  const auto& layers = grid.layers;
  const auto target = grid.target;
  const auto contrast = grid.contrast;
  const double clean_value = grid.clean_value, corrupted_value = grid.corrupted_value;
  messages(a) << "attrib llm patch: F = logit('" << token_label(m, target) << "' " << target << ")"
              << (contrast ? " - logit('" + token_label(m, *contrast) + "' " + std::to_string(*contrast) + ")"
                           : std::string())
              << std::setprecision(9) << "; clean " << clean_value << ", corrupted " << corrupted_value
              << ", difference " << clean_value - corrupted_value << "\n";

  const std::size_t positions = clean.size();
  std::vector<std::string> methods;
  std::vector<std::vector<double>> cells;  // per method: layers.size() x positions, row-major
  if (request.exact) {
    methods.push_back("exact");
    cells.push_back(grid.exact);
  }
  if (request.attribution) {
    methods.push_back("attribution");
    cells.push_back(grid.attribution);
  }

  std::vector<std::string> pieces;
  for (auto id : clean) pieces.push_back(piece_of(m, id));
  write_output(a, "out", [&](std::ostream& out) {
    if (format == "csv") {
      out << "layer,position,token,piece";
      for (const auto& name : methods) out << ',' << name;
      out << '\n' << std::setprecision(9);
      for (std::size_t i = 0; i < layers.size(); ++i)
        for (std::size_t p = 0; p < positions; ++p) {
          out << layers[i] << ',' << p << ',' << clean[p] << ',' << csv_cell(pieces[p]);
          for (const auto& c : cells) out << ',' << c[i * positions + p];
          out << '\n';
        }
      return;
    }
    nlohmann::json rows = nlohmann::json::array();
    for (std::size_t i = 0; i < layers.size(); ++i)
      for (std::size_t p = 0; p < positions; ++p) {
        nlohmann::json row = {{"layer", layers[i]}, {"position", p}, {"token", clean[p]}, {"piece", pieces[p]}};
        for (std::size_t k = 0; k < methods.size(); ++k) row[methods[k]] = cells[k][i * positions + p];
        rows.push_back(row);
      }
    out << rows.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  });
  if (a.has("svg")) {
    std::vector<examples::heatmap_panel> panels;
    for (std::size_t k = 0; k < methods.size(); ++k) {
      examples::heatmap_panel panel;
      panel.title = methods[k] == "exact" ? "activation patching (exact)" : "attribution patching (first-order estimate)";
      for (auto l : layers) panel.row_labels.push_back(point_name + "." + std::to_string(l));
      for (std::size_t p = 0; p < positions; ++p)
        panel.column_labels.push_back(token_label(m, clean[p]) +
                                      (clean[p] == corrupted[p] ? "" : " / " + token_label(m, corrupted[p])));
      panel.values = cells[k];
      panels.push_back(std::move(panel));
    }
    const std::string title = "patching clean into corrupted: F clean " + attrib_examples::significant(clean_value, 4) +
                              ", corrupted " + attrib_examples::significant(corrupted_value, 4);
    write_output(a, "svg", [&](std::ostream& out) {
      examples::write_heatmap_svg(out, title, "F(patched) - F(corrupted)", panels);
    });
  }
  return 0;
}

}  // namespace cli
