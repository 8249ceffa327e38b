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
#include "attrib/transformer/hooks/patching.hpp"
#include "attrib/transformer/training/backward.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "llm_model.hpp"
#include "progress.hpp"

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

attrib::token_id most_likely(const attrib::float_matrix& logits) {
  attrib::index best = 0;
  logits.row(0).maxCoeff(&best);  // the first maximum: the lower id on ties, as greedy decoding
  return static_cast<attrib::token_id>(best);
}

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
  if (clean.size() != corrupted.size())
    throw usage_error("the clean prompt has " + std::to_string(clean.size()) + " tokens and the corrupted one " +
                      std::to_string(corrupted.size()) + "; patching pairs their positions, so they must match");
  if (static_cast<attrib::index>(clean.size()) > config.context_length)
    throw usage_error("the prompts have " + std::to_string(clean.size()) + " tokens, more than the model's context of " +
                      std::to_string(config.context_length));
  std::vector<attrib::index> layers;
  if (a.has("layers"))
    for (auto l : parse_row_list(a.text("layers"), config.n_layers, "the model", "layers", "layers"))
      layers.push_back(static_cast<attrib::index>(l));
  else
    for (attrib::index l = 0; l < config.n_layers; ++l) layers.push_back(l);

  // The unpatched runs choose the default target and contrast.
  attrib::forward_options run;
  run.last_position_only = true;
  run.threads = a.threads();
  const attrib::float_matrix clean_logits = m.model->forward(std::vector<std::vector<attrib::token_id>>{clean}, run)[0];
  const attrib::float_matrix corrupted_logits =
      m.model->forward(std::vector<std::vector<attrib::token_id>>{corrupted}, run)[0];
  const attrib::token_id target = a.has("target") ? token_option(a, m, "target") : most_likely(clean_logits);
  std::optional<attrib::token_id> contrast;
  if (a.text("contrast") == "none") {
  } else if (a.has("contrast")) {
    contrast = token_option(a, m, "contrast");
  } else if (most_likely(corrupted_logits) != target) {
    contrast = most_likely(corrupted_logits);
  }
  if (contrast == target) throw usage_error("--contrast is the target token; F would be zero everywhere");
  const auto metric = [&](const attrib::float_matrix& logits, attrib::index row, attrib::index target_column,
                          attrib::index contrast_column) {
    return static_cast<double>(logits(row, target_column)) -
           (contrast ? static_cast<double>(logits(row, contrast_column)) : 0.0);
  };
  const double clean_value = metric(clean_logits, 0, target, contrast.value_or(0));
  const double corrupted_value = metric(corrupted_logits, 0, target, contrast.value_or(0));
  messages(a) << "attrib llm patch: F = logit('" << token_label(m, target) << "' " << target << ")"
              << (contrast ? " - logit('" + token_label(m, *contrast) + "' " + std::to_string(*contrast) + ")"
                           : std::string())
              << std::setprecision(9) << "; clean " << clean_value << ", corrupted " << corrupted_value
              << ", difference " << clean_value - corrupted_value << "\n";

  const std::size_t positions = clean.size();
  std::vector<std::string> methods;
  std::vector<std::vector<double>> cells;  // per method: layers.size() x positions, row-major
  if (method != "attribution") {
    attrib::patching_sweep_options options;
    options.point = point;
    options.layers = layers;
    options.logit_tokens = {target};
    if (contrast) options.logit_tokens.push_back(*contrast);
    options.threads = a.threads();
    progress bar(a, "attrib llm patch", "cells", layers.size() * positions);
    options.progress = [&](std::size_t done, std::size_t) { bar.update(done); };
    const auto sweep = attrib::activation_patching_sweep(*m.model, clean, corrupted, options);
    const double base = metric(sweep.corrupted_logits, 0, 0, 1);
    methods.push_back("exact");
    cells.emplace_back();
    for (attrib::index r = 0; r < sweep.logits.rows(); ++r) cells.back().push_back(metric(sweep.logits, r, 0, 1) - base);
  }
  if (method != "exact") {
    attrib::backward_options options;
    for (auto l : layers) options.points.push_back({point, l});
    options.threads = a.threads();
    // F on the corrupted run (sequence 0); the clean run (sequence 1) only lends its activations.
    const attrib::logit_objective objective = [&](const std::vector<attrib::float_matrix>& logits,
                                                  std::vector<attrib::float_matrix>& gradient) {
      const attrib::index last = logits[0].rows() - 1;
      gradient[0](last, target) += 1.0f;
      if (contrast) gradient[0](last, *contrast) -= 1.0f;
      return metric(logits[0], last, target, contrast.value_or(0));
    };
    const std::vector<std::vector<attrib::token_id>> runs = {corrupted, clean};
    const auto g = attrib::transformer_backward(*m.model, runs, objective, options);
    methods.push_back("attribution");
    cells.emplace_back();
    for (const auto& p : options.points) {
      const attrib::vector estimate = attrib::patching_estimate(g, p, 0, g.activation(p, 1));
      for (attrib::index t = 0; t < estimate.size(); ++t) cells.back().push_back(estimate(t));
    }
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
