// attrib llm noise-trace: ROME's causal tracing of one prompt. The subject's embeddings are
// noised, then the clean hidden state is restored at one (layer, position) cell at a time; the
// answer probability that comes back shows where the model carries what it recalls.
#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../svg_heatmap.hpp"
#include "arguments.hpp"
#include "attrib/io/detail/wire.hpp"
#include "attrib/methods/component/noise_causal_tracing.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "llm_model.hpp"
#include "rank_group.hpp"

namespace cli {

namespace {

const char* help = R"(usage: attrib llm noise-trace --model PATH --prompt TEXT --subject-positions P [options]

Causal tracing as in ROME (Meng et al. 2022): Gaussian noise is added to the embeddings of the
subject tokens, which wipes out what the model recalls about the subject; then, for each layer
and position, the clean run's hidden state at that cell is restored in the noised run, and the
probability of the answer token at the last position is read. The indirect effect of a cell is
P(answer | noised, cell restored) - P(answer | noised), averaged over --samples noise draws.
No counterfactual prompt is needed (compare 'attrib llm patch').

Writes CSV: layer,position,token,piece,restored,indirect_effect,standard_error.

  --model PATH          a .gguf file, a llama2.c .bin checkpoint or a Hugging Face directory
  --tokenizer FILE      the llama2.c tokenizer .bin (with a .bin model)
  --prompt TEXT         the prompt (BOS is prepended); --tokens IDS gives token ids instead
  --subject-positions P the positions of the subject's tokens, e.g. 3-5 (0 is BOS); see
                        'attrib llm logits' for the positions of a prompt's tokens
  --answer T            the answer token: a token id, or text that is one token; default: the
                        clean run's most likely next token
  --samples N           noise draws averaged (default 10, as ROME)
  --noise S             the noise's standard deviation (default: 3 x the standard deviation of
                        the token embedding table's entries, ROME's choice)
  --seed N              seed of the noise (default 0); the same seed gives the same numbers
  --point P             resid_post (each layer's output, the hidden state ROME restores; default)
                        or resid_pre (each layer's input)
  --layers L            the layers to restore, e.g. 0-3,5 (default: all)
  --threads N           worker threads (default 1; 0: all cores); results do not depend on it
  --format F            csv (default) or json
  --out FILE            write the table there (default or -: standard output)
  --svg FILE            also draw the indirect effects as a heatmap of layers x tokens
  --quiet               no messages on standard error
  --help                this text

Under mpirun (a build with ATTRIB_WITH_MPI) the noise draws are spread over the ranks, each
holding the model; the numbers are those of one process, bit for bit, and rank 0 alone writes.
)";

}  // namespace

int llm_noise_trace(const std::vector<std::string>& args) {
  const arguments a(args,
                    {"model", "tokenizer", "threads", "prompt", "tokens", "subject-positions", "answer", "samples",
                     "noise", "seed", "point", "layers", "format", "out", "svg"},
                    {"help", "quiet"});
  if (a.flag("help")) {
    std::cout << help;
    return 0;
  }
  refuse_overwriting_inputs(a, {"out", "svg"}, {"model", "tokenizer"});
  const std::string format = a.text("format", "csv");
  if (format != "csv" && format != "json") throw usage_error("--format must be csv or json, got '" + format + "'");
  const std::string point_name = a.text("point", "resid_post");
  if (point_name != "resid_pre" && point_name != "resid_post")
    throw usage_error("--point must be resid_pre or resid_post, got '" + point_name + "'");
  if (!a.has("prompt") && !a.has("tokens")) throw usage_error("option --prompt (or --tokens) is required");
  if (!a.has("subject-positions")) throw usage_error("option --subject-positions is required (the subject's tokens)");

  const loaded_model m = load_model(a, !a.has("tokens"));
  const auto& config = m.model->config();
  const auto tokens = prompt_tokens(a, m, "prompt", "tokens");
  if (static_cast<attrib::index>(tokens.size()) > config.context_length)
    throw usage_error("the prompt has " + std::to_string(tokens.size()) + " tokens, more than the model's context of " +
                      std::to_string(config.context_length));
  attrib::noise_tracing_options o;
  for (auto p : parse_row_list(a.text("subject-positions"), static_cast<std::ptrdiff_t>(tokens.size()), "the prompt",
                               "subject-positions", "positions"))
    o.subject_positions.push_back(static_cast<attrib::index>(p));
  if (a.has("layers"))
    for (auto l : parse_row_list(a.text("layers"), config.n_layers, "the model", "layers", "layers"))
      o.layers.push_back(static_cast<attrib::index>(l));
  o.point = point_name == "resid_pre" ? attrib::hook_kind::resid_pre : attrib::hook_kind::resid_post;
  o.samples = static_cast<attrib::index>(a.integer("samples", 10, 1, 100000));
  o.noise_scale = a.number("noise", 0.0);
  if (!(o.noise_scale >= 0.0)) throw usage_error("--noise must be a non-negative number");
  o.seed = static_cast<std::uint64_t>(a.integer("seed", 0, 0, std::numeric_limits<std::int64_t>::max()));
  o.threads = a.threads();
  if (a.has("answer")) {
    o.answer = token_option(a, m, "answer");
  } else {
    attrib::forward_options run;
    run.last_position_only = true;
    run.threads = a.threads();
    attrib::index best = 0;
    m.model->forward(std::vector<std::vector<attrib::token_id>>{tokens}, run)[0].row(0).maxCoeff(&best);
    o.answer = static_cast<attrib::token_id>(best);
  }
  // The noise draws are independent: under mpirun the ranks share them out in fixed runs
  // (rank_group.hpp), and rank 0 adds every draw in sample order, as one process's loop does.
  const rank_group& ranks = command_ranks();
  attrib::noise_tracer tracer(*m.model, tokens, o);
  const auto parts = gather_item_runs(ranks, o.samples, [&](attrib::index first, attrib::index last) {
    attrib::detail::wire_writer w;
    for (attrib::index s = first; s < last; ++s) {
      const attrib::noise_tracing_sample draw = tracer.sample(s);
      w.put(draw.corrupted_probability);
      w.put(draw.restored_probability);
    }
    return w.take();
  });
  if (!ranks.is_root()) return 0;  // rank 0 alone writes
  for (const std::string& part : parts) {
    attrib::detail::wire_reader in(part);
    while (!in.done()) {
      attrib::noise_tracing_sample draw;
      in.get(draw.corrupted_probability);
      in.get(draw.restored_probability);
      tracer.add(draw);
    }
  }
  const attrib::noise_tracing_result r = tracer.result();
  messages(a) << "attrib llm noise-trace: P('" << token_label(m, o.answer) << "' " << o.answer << ") clean "
              << std::setprecision(6) << r.clean_probability << ", noised " << r.corrupted_probability
              << " (noise sd " << r.noise_scale << ", " << o.samples << " samples)\n";

  const attrib::matrix effect = r.indirect_effect();
  std::vector<std::string> pieces;
  for (auto id : tokens) pieces.push_back(piece_of(m, id));
  write_output(a, "out", [&](std::ostream& out) {
    if (format == "csv") {
      out << "layer,position,token,piece,restored,indirect_effect,standard_error\n" << std::setprecision(9);
      for (std::size_t i = 0; i < r.layers.size(); ++i)
        for (std::size_t p = 0; p < r.positions.size(); ++p) {
          const auto li = static_cast<attrib::index>(i), pi = static_cast<attrib::index>(p);
          out << r.layers[i] << ',' << r.positions[p] << ',' << tokens[p] << ',' << csv_cell(pieces[p]) << ','
              << r.restored_probability(li, pi) << ',' << effect(li, pi) << ',' << r.standard_error(li, pi) << '\n';
        }
      return;
    }
    nlohmann::json cells = nlohmann::json::array();
    for (std::size_t i = 0; i < r.layers.size(); ++i)
      for (std::size_t p = 0; p < r.positions.size(); ++p) {
        const auto li = static_cast<attrib::index>(i), pi = static_cast<attrib::index>(p);
        cells.push_back({{"layer", r.layers[i]}, {"position", r.positions[p]}, {"token", tokens[p]}, {"piece", pieces[p]},
                         {"restored", r.restored_probability(li, pi)}, {"indirect_effect", effect(li, pi)},
                         {"standard_error", r.standard_error(li, pi)}});
      }
    const nlohmann::json doc = {{"answer", o.answer},
                                {"clean_probability", r.clean_probability},
                                {"noised_probability", r.corrupted_probability},
                                {"noise_scale", r.noise_scale},
                                {"samples", o.samples},
                                {"subject_positions", o.subject_positions},
                                {"cells", cells}};
    out << doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  });
  if (a.has("svg")) {
    examples::heatmap_panel panel;
    panel.title = "ROME causal tracing: restoring " + point_name;
    for (auto l : r.layers) panel.row_labels.push_back(point_name + "." + std::to_string(l));
    for (std::size_t p = 0; p < tokens.size(); ++p) {
      const bool subject = std::find(o.subject_positions.begin(), o.subject_positions.end(),
                                     static_cast<attrib::index>(p)) != o.subject_positions.end();
      panel.column_labels.push_back(token_label(m, tokens[p]) + (subject ? "*" : ""));
    }
    panel.values.assign(effect.data(), effect.data() + effect.size());  // row-major: layers x positions
    const std::string title = "P('" + token_label(m, o.answer) + "'): clean " +
                              attrib_examples::significant(r.clean_probability, 4) + ", subject (*) noised " +
                              attrib_examples::significant(r.corrupted_probability, 4);
    write_output(a, "svg", [&](std::ostream& out) {
      examples::write_heatmap_svg(out, title, "indirect effect", {panel});
    });
  }
  return 0;
}

}  // namespace cli
