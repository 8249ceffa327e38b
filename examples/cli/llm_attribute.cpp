// attrib llm attribute: which tokens of a prompt make a transformer predict its next token - the
// prompt's tokens as the players of a coalition game, explained by any coalition method, as a
// table and a token heatmap.
#include <iomanip>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../svg_heatmap.hpp"
#include "arguments.hpp"
#include "attrib/games/prompt_token_game.hpp"
#include "coalition_methods.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "llm_model.hpp"
#include "progress.hpp"

namespace cli {

namespace {

const std::string help = R"(usage: attrib llm attribute --model PATH --prompt TEXT [options]

Which tokens of the prompt make the model predict its next token? The prompt's tokens are the
players of a game: a coalition keeps its tokens and replaces every other one by the baseline
token at the same position (positions do not move); the value is F = logit(target) -
logit(contrast), or logit(target) alone, at the last position. Any coalition method explains the
game; standard error gets F of the whole prompt and of the prompt with every player replaced.

Writes CSV: position,token,piece,value (and se, the standard error, for sampling methods), one
row per player.

  --model PATH          a .gguf file, a llama2.c .bin checkpoint or a Hugging Face directory
  --tokenizer FILE      the llama2.c tokenizer .bin (with a .bin model)
  --prompt TEXT         the prompt (BOS is prepended)
  --tokens IDS          comma-separated token ids instead
  --fixed-prefix N      leading tokens that always stay and are not players (default 1: BOS)
  --target T            the token whose logit F reads: a token id, or text that is one token;
                        default: the most likely next token after the prompt
  --contrast T          a token whose logit F subtracts (default: none)
  --baseline-token T    what an absent token becomes (default 0, <unk> in Llama vocabularies;
                        a pad or space token suits others)
  --method M            exact-shapley (default up to 14 players), kernel-shap (default beyond),
                        permutation-shapley, exact-banzhaf, msr-banzhaf, lime, lime-lasso,
                        occlusion
)" + std::string(coalition_run_options_help) + R"(  --svg FILE            also draw the values as a heatmap over the prompt's tokens
  --quiet               no messages on standard error
  --help                this text
)";

}  // namespace

int llm_attribute(const std::vector<std::string>& args) {
  const arguments a(args,
                    {"model", "tokenizer", "threads", "prompt", "tokens", "fixed-prefix", "target", "contrast",
                     "baseline-token", "method", "samples", "seed", "alpha", "width", "distance", "target-se", "format",
                     "out", "svg"},
                    {"help", "quiet"});
  if (a.flag("help")) {
    std::cout << help;
    return 0;
  }
  refuse_overwriting_inputs(a, {"out", "svg"}, {"model", "tokenizer"});
  const std::string format = a.text("format", "csv");
  if (format != "csv" && format != "json") throw usage_error("--format must be csv or json, got '" + format + "'");
  const loaded_model m = load_model(a, !a.has("tokens"));
  const auto prompt = prompt_tokens(a, m);
  const auto length = static_cast<std::int64_t>(prompt.size());
  if (length > m.model->config().context_length)
    throw usage_error("the prompt has " + std::to_string(length) + " tokens, more than the model's context of " +
                      std::to_string(m.model->config().context_length));
  const auto prefix = a.integer("fixed-prefix", 1, 0, std::max<std::int64_t>(0, length - 1));

  attrib::prompt_token_game_options options;
  options.fixed_prefix = prefix;
  options.baseline = a.has("baseline-token") ? token_option(a, m, "baseline-token") : 0;
  if (a.has("target")) {
    options.target = token_option(a, m, "target");
  } else {
    attrib::forward_options run;
    run.last_position_only = true;
    attrib::index best = 0;
    m.model->forward(std::vector<std::vector<attrib::token_id>>{prompt}, run)[0].row(0).maxCoeff(&best);
    options.target = static_cast<attrib::token_id>(best);
  }
  if (a.has("contrast")) options.contrast = token_option(a, m, "contrast");
  if (options.contrast == options.target) throw usage_error("--contrast is the target token; F would be zero everywhere");
  const attrib::prompt_token_game game(*m.model, prompt, options);
  const std::string method = a.text("method", game.player_count() <= 14 ? "exact-shapley" : "kernel-shap");

  attrib::run_settings settings{.seed = a.seed(), .threads = a.threads()};
  progress bar(a, "attrib llm attribute", "coalitions", 0);
  settings.progress = [&](std::size_t done, std::size_t total) { bar.update(done, total); };
  const std::optional<attrib::attribution> result = run_coalition_method(method, a, game, settings);
  if (!result) throw usage_error("unknown --method '" + method + "'; expected one of " + coalition_method_names);
  const attrib::attribution& r = *result;
  messages(a) << "attrib llm attribute: " << method << ", " << game.player_count() << " players; F = logit('"
              << token_label(m, options.target) << "' " << options.target << ")"
              << (options.contrast ? " - logit('" + token_label(m, *options.contrast) + "' " +
                                         std::to_string(*options.contrast) + ")"
                                   : std::string())
              << "; prompt " << r.prediction << ", all replaced " << r.base_value << ", " << r.model_evaluations
              << " evaluations\n";

  std::vector<std::string> pieces;
  for (auto id : prompt) pieces.push_back(piece_of(m, id));
  const auto first = static_cast<std::size_t>(prefix);
  write_output(a, "out", [&](std::ostream& out) {
    if (format == "csv") {
      out << "position,token,piece,value" << (r.has_standard_errors() ? ",se" : "") << '\n' << std::setprecision(9);
      for (attrib::index j = 0; j < game.player_count(); ++j) {
        const std::size_t p = first + static_cast<std::size_t>(j);
        out << p << ',' << prompt[p] << ',' << csv_cell(pieces[p]) << ',' << r.values(j);
        if (r.has_standard_errors()) out << ',' << r.standard_errors(j);
        out << '\n';
      }
      return;
    }
    nlohmann::json rows = nlohmann::json::array();
    for (attrib::index j = 0; j < game.player_count(); ++j) {
      const std::size_t p = first + static_cast<std::size_t>(j);
      nlohmann::json row = {{"position", p}, {"token", prompt[p]}, {"piece", pieces[p]}, {"value", r.values(j)}};
      if (r.has_standard_errors()) row["se"] = r.standard_errors(j);
      rows.push_back(row);
    }
    out << rows.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  });
  if (a.has("svg")) {
    examples::heatmap_panel panel;
    panel.title = method + ": F(prompt) " + attrib_examples::significant(r.prediction, 4) + ", F(all replaced) " +
                  attrib_examples::significant(r.base_value, 4);
    panel.row_labels = {"value"};
    for (attrib::index j = 0; j < game.player_count(); ++j) {
      panel.column_labels.push_back(token_label(m, prompt[first + static_cast<std::size_t>(j)]));
      panel.values.push_back(r.values(j));
    }
    write_output(a, "svg", [&](std::ostream& out) {
      examples::write_heatmap_svg(out, "prompt tokens explaining '" + token_label(m, options.target) + "'",
                                  "contribution to F", {panel});
    });
  }
  return 0;
}

}  // namespace cli
