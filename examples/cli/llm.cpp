// attrib llm: inspect, run and trace a Llama-family or GPT-2 model from a llama2.c `.bin` (with
// its tokenizer `.bin`), a GGUF file or a Hugging Face checkpoint directory.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "arguments.hpp"
#include "files.hpp"
#include "attrib/transformer/model/generate.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "commands.hpp"
#include "llm_model.hpp"
#include "rank_group.hpp"

namespace cli {
namespace {

const char* help = R"(usage: attrib llm <inspect|generate|logits|trace|patch|noise-trace|attribute|components|study> --model PATH [options]

Runs a Llama-family decoder (Llama 2/3, Mistral, Qwen2, llama2.c) or GPT-2 on the CPU. The model
is a GGUF file (tokenizer from its metadata), a llama2.c checkpoint .bin with --tokenizer tok.bin,
or a Hugging Face checkpoint directory (config.json, model.safetensors or shards; tokenizer from
its tokenizer.json when present).

commands:
  inspect    architecture, hyper-parameters, parameter count and the tensor table (name, stored
             type, shape as [rows, cols] in row-major order)
  generate   continue --prompt, greedy (--temperature 0, the default) or sampled
  logits     the most likely next tokens after each position of --prompt, with logits and
             log-probabilities, as CSV or JSON
  trace      run --prompt and write the activations at --hooks as CSV
  patch      activation patching between --clean and --corrupted over layers x positions,
             exact and by attribution patching, with a heatmap ('attrib llm patch --help')
  noise-trace
             ROME's causal tracing of one prompt: the subject's embeddings noised, each layer x
             position restored in turn ('attrib llm noise-trace --help')
  attribute  which prompt tokens make the model predict its next token, by Shapley values or
             another coalition method, with a token heatmap ('attrib llm attribute --help')
  components which heads, neurons, blocks or residual positions the prediction rests on, by
             attribution patching or a coalition method over ablations ('attrib llm components
             --help')
  study      the post-training studies on a base model and its post-trained versions (--base,
             --post instead of --model): knowledge storage and transfer ('attrib llm study --help')

model:
  --model PATH          a .gguf file, a llama2.c .bin checkpoint or a Hugging Face directory
  --tokenizer FILE      the llama2.c tokenizer .bin (required with a .bin model for generate
                        and trace unless --tokens is given; GGUF files and Hugging Face
                        directories with a tokenizer.json bring their own)
  --threads N           worker threads (default 1; 0: all cores)

generate:
  --prompt TEXT         the text to continue (default: empty, generation starts from BOS)
  --tokens IDS          comma-separated token ids instead of --prompt (no tokenizer needed;
                        without a tokenizer the output is token ids)
  --max-tokens N        tokens to generate at most (default 64); stops early at BOS or EOS
  --temperature T       0 (default): greedy; otherwise sample from softmax(logits / T)
  --top-p P             nucleus sampling mass in (0, 1] (default 1)
  --seed S              sampling seed (default 0)
  --show-ids            also print the token ids, one line
  --top-k N             also print the N most likely tokens at each generated position, with
                        their log-probabilities (from one forward pass over the whole text)

logits:
  --prompt TEXT, --tokens IDS   as for generate
  --top-k N             candidates per position (default 5)
  --last                the last position only
  --format F            csv (default: position,token,rank,next_token,next_piece,logit,log_prob)
                        or json (one object per position with its candidates)
  --out FILE            write there (default or -: standard output)

trace:
  --prompt TEXT         the text to run (BOS is prepended)
  --tokens IDS          comma-separated token ids instead of --prompt
  --hooks LIST          comma-separated hook points: embed, resid_pre.L, attn_out.L, resid_mid.L,
                        mlp_post.L, mlp_out.L, resid_post.L, final_norm (docs/transformer-hooks.md)
  --out FILE            write the CSV here (default or -: standard output). Columns:
                        hook,position,token,dim,value, one row per activation entry
  --help                this text
)";

// GCC 12 at -O2 reports the moves of hook_set's operation variant as reading uninitialised
// members of the alternatives not held (std::function, Eigen vectors): a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
[[gnu::noinline]] attrib::hook_set recording_hooks(const std::vector<attrib::hook_point>& points,
                                                   attrib::activation_cache& into) {
  attrib::hook_set hooks;
  for (const auto& p : points) hooks.cache(p, into);
  return hooks;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int inspect(const arguments& a) {
  const loaded_model m = load_model(a, false);
  const auto& c = m.model->config();
  std::uint64_t params = 0;
  for (const auto& t : m.tensors) {
    std::uint64_t n = 1;
    for (auto d : t.shape) n *= d;
    params += n;
  }
  std::cout << "format        " << m.format << "\n"
            << "architecture  " << m.architecture << "\n"
            << "dim           " << c.dim << "\n"
            << "hidden_dim    " << c.hidden_dim << "\n"
            << "layers        " << c.n_layers << "\n"
            << "heads         " << c.n_heads << " (kv heads " << c.n_kv_heads << ", head dim "
            << c.head_dim() << ")\n"
            << "vocab_size    " << c.vocab_size << "\n"
            << "context       " << c.context_length << "\n"
            << "norm_eps      " << c.norm_eps << "\n";
  if (c.architecture == attrib::transformer_architecture::llama)
    std::cout << "rope_theta    " << c.rope_theta << "\n";
  std::cout
            << "tied output   " << (m.model->weights().output.bytes.data() ==
                                            m.model->weights().token_embedding.bytes.data()
                                        ? "yes"
                                        : "no")
            << "\n"
            << "parameters    " << params << "\n";
  if (m.tokenizer) {
    std::cout << "tokenizer     " << m.tokenizer->vocab_size() << " tokens, stops at";
    for (auto id : m.tokenizer->stop) std::cout << " " << id;
    std::cout << "\n";
  }
  std::size_t width = 4;
  for (const auto& t : m.tensors) width = std::max(width, t.name.size());
  std::cout << "\n" << std::left << std::setw(static_cast<int>(width) + 2) << "name" << std::setw(7)
            << "type"
            << "shape\n";
  for (const auto& t : m.tensors)
    std::cout << std::setw(static_cast<int>(width) + 2) << t.name << std::setw(7) << t.type
              << shape_text(t.shape) << "\n";
  return 0;
}

// One of the k most likely tokens after a position: its rank (1 = most likely), logit and
// log-probability under the softmax over the whole vocabulary.
struct candidate {
  std::int64_t rank = 0;
  attrib::token_id id = 0;
  float logit = 0.0f;
  double log_prob = 0.0;
};

std::vector<candidate> top_candidates(const attrib::float_matrix& logits, attrib::index row, std::int64_t k) {
  const auto vocab = static_cast<std::size_t>(logits.cols());
  const float* x = logits.row(row).data();
  double top = x[0];
  for (std::size_t i = 1; i < vocab; ++i) top = std::max(top, static_cast<double>(x[i]));
  double sum = 0.0;
  for (std::size_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(x[i]) - top);
  const double log_normaliser = top + std::log(sum);
  std::vector<attrib::token_id> order(vocab);
  for (std::size_t i = 0; i < vocab; ++i) order[i] = static_cast<attrib::token_id>(i);
  const auto keep = std::min(vocab, static_cast<std::size_t>(k));
  // Highest logit first, the lower id on ties (as greedy decoding picks).
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(),
                    [&](attrib::token_id p, attrib::token_id q) { return x[p] > x[q] || (x[p] == x[q] && p < q); });
  std::vector<candidate> out;
  for (std::size_t r = 0; r < keep; ++r)
    out.push_back({static_cast<std::int64_t>(r + 1), order[r], x[order[r]], x[order[r]] - log_normaliser});
  return out;
}

int logits(const arguments& a) {
  const loaded_model m = load_model(a, !a.has("tokens"));
  const std::vector<std::vector<attrib::token_id>> prompt = {prompt_tokens(a, m)};
  if (prompt[0].empty()) throw usage_error("the prompt has no tokens");
  const auto k = a.integer("top-k", 5, 1, m.model->config().vocab_size);
  const std::string format = a.text("format", "csv");
  if (format != "csv" && format != "json") throw usage_error("--format must be csv or json, got '" + format + "'");
  attrib::forward_options options;
  options.threads = a.threads();
  options.last_position_only = a.flag("last");
  const auto result = m.model->forward(prompt, options);
  const attrib::float_matrix& rows = result[0];
  const auto n = static_cast<attrib::index>(prompt[0].size());
  const attrib::index first = n - rows.rows();  // the position of rows(0)
  write_output(a, "out", [&](std::ostream& out) {
    if (format == "csv") {
      out << "position,token,rank,next_token,next_piece,logit,log_prob\n" << std::setprecision(9);
      for (attrib::index r = 0; r < rows.rows(); ++r)
        for (const auto& c : top_candidates(rows, r, k))
          out << first + r << ',' << prompt[0][static_cast<std::size_t>(first + r)] << ',' << c.rank << ',' << c.id
              << ',' << csv_cell(piece_of(m, c.id)) << ',' << c.logit << ',' << c.log_prob << '\n';
    } else {
      nlohmann::json positions = nlohmann::json::array();
      for (attrib::index r = 0; r < rows.rows(); ++r) {
        nlohmann::json top = nlohmann::json::array();
        for (const auto& c : top_candidates(rows, r, k))
          top.push_back({{"token", c.id}, {"piece", piece_of(m, c.id)}, {"logit", c.logit}, {"log_prob", c.log_prob}});
        positions.push_back({{"position", first + r}, {"token", prompt[0][static_cast<std::size_t>(first + r)]}, {"top", top}});
      }
      // Byte-level pieces need not be valid UTF-8 on their own; they are written with U+FFFD.
      out << positions.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
  });
  return 0;
}

int generate(const arguments& a) {
  const loaded_model m = load_model(a, !a.has("tokens"));
  const std::vector<std::vector<attrib::token_id>> prompt = {prompt_tokens(a, m)};
  attrib::generation_settings s;
  s.max_new_tokens = a.integer("max-tokens", 64, 0, 1'000'000'000);
  s.temperature = static_cast<float>(a.number("temperature", 0.0));
  s.top_p = static_cast<float>(a.number("top-p", 1.0));
  s.seed = a.seed();
  if (m.tokenizer) s.stop_tokens = m.tokenizer->stop;
  s.threads = a.threads();
  if (!(s.temperature >= 0.0f)) throw usage_error("--temperature must be >= 0");
  if (!(s.top_p > 0.0f && s.top_p <= 1.0f)) throw usage_error("--top-p must lie in (0, 1]");
  const auto out = attrib::generate(*m.model, prompt, s);
  if (m.tokenizer) std::cout << m.tokenizer->decode(out[0]) << "\n";
  if (a.flag("show-ids") || !m.tokenizer) {
    for (std::size_t i = 0; i < out[0].size(); ++i) std::cout << (i ? " " : "") << out[0][i];
    std::cout << "\n";
  }
  if (a.has("top-k") && out[0].size() > prompt[0].size()) {
    const auto k = a.integer("top-k", 5, 1, m.model->config().vocab_size);
    // The logits that chose each generated token: position p's row predicts token p + 1.
    attrib::forward_options options;
    options.threads = s.threads;
    const std::vector<std::vector<attrib::token_id>> text = {
        std::vector<attrib::token_id>(out[0].begin(), out[0].end() - 1)};
    const attrib::float_matrix rows = m.model->forward(text, options)[0];
    std::cout << std::setprecision(4) << std::fixed;
    for (std::size_t p = prompt[0].size(); p < out[0].size(); ++p) {
      std::cout << "position " << p << " (chose " << out[0][p] << "):";
      for (const auto& c : top_candidates(rows, static_cast<attrib::index>(p - 1), k))
        std::cout << "  " << c.id << " '" << piece_of(m, c.id) << "' " << c.log_prob;
      std::cout << "\n";
    }
  }
  return 0;
}

int trace(const arguments& a) {
  const loaded_model m = load_model(a, !a.has("tokens"));
  const auto& c = m.model->config();
  const std::string list = a.required("hooks");
  std::vector<attrib::hook_point> points;
  for (const auto& name : split(list, ',')) {
    if (name.empty()) throw usage_error("--hooks has an empty entry in '" + list + "'");
    attrib::hook_point p;
    try {
      p = attrib::parse_hook_point(name);
    } catch (const attrib::invalid_argument& e) {
      throw usage_error(std::string("--hooks: ") + e.what());
    }
    if (p.layer >= c.n_layers)
      throw usage_error("--hooks: '" + name + "' names layer " + std::to_string(p.layer) +
                        ", but the model has layers 0.." + std::to_string(c.n_layers - 1));
    points.push_back(p);
  }
  const std::vector<std::vector<attrib::token_id>> prompt = {prompt_tokens(a, m)};
  attrib::activation_cache recorded;
  const attrib::hook_set hooks = recording_hooks(points, recorded);
  attrib::forward_options options;
  options.hooks = &hooks;
  options.logit_tokens = {0};  // the logits are not wanted
  options.last_position_only = true;
  options.threads = a.threads();
  m.model->forward(prompt, options);

  const auto n = static_cast<attrib::index>(prompt[0].size());
  const bool to_file = write_output(a, "out", [&](std::ostream& out) {
    out << "hook,position,token,dim,value\n" << std::setprecision(9);
    for (const auto& p : points) {
      const auto& values = recorded.at(p, 0);
      const std::string name = attrib::to_string(p);
      for (attrib::index t = 0; t < n; ++t)
        for (attrib::index d = 0; d < values.cols(); ++d)
          out << name << ',' << t << ',' << prompt[0][static_cast<std::size_t>(t)] << ',' << d << ','
              << values(t, d) << '\n';
    }
  });
  if (to_file)
    messages(a) << "wrote " << points.size() << " hook points x " << n << " positions to " << a.text("out") << "\n";
  return 0;
}

}  // namespace

int llm(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << help;
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  const rank_group& ranks = command_ranks();
  if (command == "patch") return llm_patch(rest);
  if (command == "study") return llm_study(rest);
  // Coalition methods spread their coalitions over the ranks; the others run on rank 0 (see
  // llm_components.cpp).
  if (command == "components") return llm_components(rest);
  if (command == "noise-trace") return llm_noise_trace(rest);  // its noise draws spread over the ranks
  const bool known = command == "attribute" || command == "inspect" ||
                     command == "generate" || command == "logits" || command == "trace";
  if (ranks.distributed() && known)
    throw usage_error("'llm " + command + "' runs on one process (llm patch, study, components and noise-trace run "
                      "under mpirun); start it without mpirun");
  if (command == "attribute") return llm_attribute(rest);
  const arguments a(rest,
                    {"model", "tokenizer", "threads", "prompt", "tokens", "max-tokens", "temperature",
                     "top-p", "seed", "hooks", "top-k", "format", "out"},
                    {"help", "show-ids", "quiet", "last"});
  if (a.flag("help")) {
    std::cout << help;
    return 0;
  }
  refuse_overwriting_inputs(a, {"out"}, {"model", "tokenizer"});
  if (command == "inspect") return inspect(a);
  if (command == "generate") return generate(a);
  if (command == "logits") return logits(a);
  if (command == "trace") return trace(a);
  throw usage_error("unknown llm command '" + command + "'; expected inspect, generate, logits, trace, patch, noise-trace, attribute, components or study");
}

}  // namespace cli
