// attrib llm: inspect, run and trace a Llama-family model from a llama2.c `.bin` (with its
// tokenizer `.bin`) or a GGUF file.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "attrib/io/gguf.hpp"
#include "attrib/io/llama2c.hpp"
#include "attrib/io/mapped_file.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/transformer/generate.hpp"
#include "attrib/transformer/gguf_loader.hpp"
#include "attrib/transformer/hooks.hpp"
#include "attrib/transformer/llama2c_loader.hpp"
#include "commands.hpp"

namespace cli {
namespace {

const char* help = R"(usage: attrib llm <inspect|generate|trace> --model FILE [options]

Runs a Llama-family decoder (Llama 2/3, Mistral, llama2.c) on the CPU. The model is a GGUF file
(tokenizer from its metadata), or a llama2.c checkpoint .bin with --tokenizer tok.bin.

commands:
  inspect    architecture, hyper-parameters, parameter count and the tensor table (name, stored
             type, shape as [rows, cols] in row-major order)
  generate   continue --prompt, greedy (--temperature 0, the default) or sampled
  trace      run --prompt and write the activations at --hooks as CSV

model:
  --model FILE          a .gguf file or a llama2.c .bin checkpoint
  --tokenizer FILE      the llama2.c tokenizer .bin (required with a .bin model for generate
                        and trace; a GGUF file brings its own)
  --threads N           worker threads (default 1; 0: all cores)

generate:
  --prompt TEXT         the text to continue (default: empty, generation starts from BOS)
  --max-tokens N        tokens to generate at most (default 64); stops early at BOS or EOS
  --temperature T       0 (default): greedy; otherwise sample from softmax(logits / T)
  --top-p P             nucleus sampling mass in (0, 1] (default 1)
  --seed S              sampling seed (default 0)
  --show-ids            also print the token ids, one line

trace:
  --prompt TEXT         the text to run (BOS is prepended)
  --hooks LIST          comma-separated hook points: embed, resid_pre.L, attn_out.L, resid_mid.L,
                        mlp_post.L, mlp_out.L, resid_post.L, final_norm (docs/transformer-hooks.md)
  --out FILE            write the CSV here (default: standard output). Columns:
                        hook,position,token,dim,value, one row per activation entry
  --help                this text
)";

struct tensor_row {
  std::string name;
  std::string type;
  std::vector<std::uint64_t> shape;  // row-major: the last entry is the row length
};

struct loaded {
  std::string format;
  std::string architecture;
  std::unique_ptr<attrib::transformer_model> model;
  std::optional<attrib::sentencepiece_bpe> tokenizer;
  std::vector<tensor_row> tensors;
};

bool is_gguf(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

loaded load(const arguments& a, bool need_tokenizer) {
  const std::filesystem::path path = a.required("model");
  if (!std::filesystem::exists(path)) throw usage_error("--model file '" + path.string() + "' does not exist");
  loaded out;
  auto file = std::make_shared<const attrib::mapped_file>(path);
  if (is_gguf(path)) {
    const auto g = attrib::parse_gguf(file->bytes(), path.string());
    out.format = "GGUF v" + std::to_string(g.version);
    if (const auto* arch = g.find("general.architecture"))
      out.architecture = arch->as_string("general.architecture");
    for (const auto& t : g.tensors)
      out.tensors.push_back({t.name, std::string(attrib::ggml_type_name(t.type)),
                             std::vector<std::uint64_t>(t.shape.rbegin(), t.shape.rend())});
    out.model = std::make_unique<attrib::transformer_model>(attrib::transformer_model_from_gguf(g, file));
    if (a.has("tokenizer"))
      out.tokenizer = attrib::load_llama2c_tokenizer(
          a.text("tokenizer"), static_cast<std::size_t>(out.model->config().vocab_size));
    else if (g.find("tokenizer.ggml.model") != nullptr)
      out.tokenizer = attrib::sentencepiece_bpe::from_gguf(g);
    else if (need_tokenizer)
      throw usage_error("the GGUF file has no tokenizer metadata; give --tokenizer");
  } else {
    const auto c = attrib::parse_llama2c_checkpoint(file->bytes(), path.string());
    out.format = "llama2.c checkpoint (version 0)";
    out.architecture = "llama";
    const std::uint64_t layers = static_cast<std::uint64_t>(c.header.n_layers);
    const std::uint64_t dim = static_cast<std::uint64_t>(c.header.dim);
    const std::uint64_t hidden = static_cast<std::uint64_t>(c.header.hidden_dim);
    const std::uint64_t kv = dim / static_cast<std::uint64_t>(c.header.n_heads) *
                             static_cast<std::uint64_t>(c.header.n_kv_heads);
    const std::uint64_t vocab = static_cast<std::uint64_t>(c.vocab_size);
    out.tensors = {{"token_embedding", "F32", {vocab, dim}}, {"rms_att", "F32", {layers, dim}},
                   {"wq", "F32", {layers, dim, dim}},        {"wk", "F32", {layers, kv, dim}},
                   {"wv", "F32", {layers, kv, dim}},         {"wo", "F32", {layers, dim, dim}},
                   {"rms_ffn", "F32", {layers, dim}},        {"w1 (gate)", "F32", {layers, hidden, dim}},
                   {"w2 (down)", "F32", {layers, dim, hidden}}, {"w3 (up)", "F32", {layers, hidden, dim}},
                   {"rms_final", "F32", {dim}}};
    if (!c.shared_classifier) out.tensors.push_back({"classifier", "F32", {vocab, dim}});
    out.model = std::make_unique<attrib::transformer_model>(attrib::transformer_model_from_llama2c(c, file));
    if (a.has("tokenizer"))
      out.tokenizer = attrib::load_llama2c_tokenizer(a.text("tokenizer"), static_cast<std::size_t>(vocab));
    else if (need_tokenizer)
      throw usage_error("a llama2.c .bin model needs --tokenizer tok.bin");
  }
  return out;
}

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

std::size_t threads(const arguments& a) { return static_cast<std::size_t>(a.count("threads", 1)); }

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int inspect(const arguments& a) {
  const loaded m = load(a, false);
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
            << "norm_eps      " << c.norm_eps << "\n"
            << "rope_theta    " << c.rope_theta << "\n"
            << "tied output   " << (m.model->weights().output.bytes.data() ==
                                            m.model->weights().token_embedding.bytes.data()
                                        ? "yes"
                                        : "no")
            << "\n"
            << "parameters    " << params << "\n";
  if (m.tokenizer)
    std::cout << "tokenizer     " << m.tokenizer->vocab_size() << " tokens, bos " << m.tokenizer->bos()
              << ", eos " << m.tokenizer->eos() << "\n";
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

int generate(const arguments& a) {
  const loaded m = load(a, true);
  const auto& tok = *m.tokenizer;
  const std::vector<std::vector<attrib::token_id>> prompt = {tok.encode(a.text("prompt"))};
  attrib::generation_settings s;
  s.max_new_tokens = static_cast<attrib::index>(a.count("max-tokens", 64));
  s.temperature = static_cast<float>(a.number("temperature", 0.0));
  s.top_p = static_cast<float>(a.number("top-p", 1.0));
  s.seed = a.count("seed", 0);
  s.stop_tokens = {tok.bos(), tok.eos()};
  s.threads = threads(a);
  if (!(s.temperature >= 0.0f)) throw usage_error("--temperature must be >= 0");
  if (!(s.top_p > 0.0f && s.top_p <= 1.0f)) throw usage_error("--top-p must lie in (0, 1]");
  const auto out = attrib::generate(*m.model, prompt, s);
  std::cout << tok.decode(out[0]) << "\n";
  if (a.flag("show-ids")) {
    for (std::size_t i = 0; i < out[0].size(); ++i) std::cout << (i ? " " : "") << out[0][i];
    std::cout << "\n";
  }
  return 0;
}

int trace(const arguments& a) {
  const loaded m = load(a, true);
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
  const std::vector<std::vector<attrib::token_id>> prompt = {m.tokenizer->encode(a.text("prompt"))};
  attrib::activation_cache recorded;
  const attrib::hook_set hooks = recording_hooks(points, recorded);
  attrib::forward_options options;
  options.hooks = &hooks;
  options.logit_tokens = {0};  // the logits are not wanted
  options.last_position_only = true;
  options.threads = threads(a);
  m.model->forward(prompt, options);

  std::ofstream file;
  if (a.has("out")) {
    file.open(a.text("out"));
    if (!file) throw std::runtime_error("cannot open --out file '" + a.text("out") + "' for writing");
  }
  std::ostream& out = a.has("out") ? static_cast<std::ostream&>(file) : std::cout;
  out << "hook,position,token,dim,value\n" << std::setprecision(9);
  const auto n = static_cast<attrib::index>(prompt[0].size());
  for (const auto& p : points) {
    const auto& values = recorded.at(p, 0);
    const std::string name = attrib::to_string(p);
    for (attrib::index t = 0; t < n; ++t)
      for (attrib::index d = 0; d < values.cols(); ++d)
        out << name << ',' << t << ',' << prompt[0][static_cast<std::size_t>(t)] << ',' << d << ','
            << values(t, d) << '\n';
  }
  if (a.has("out")) {
    file.close();
    if (!file) throw std::runtime_error("writing --out file '" + a.text("out") + "' failed");
    std::cerr << "wrote " << points.size() << " hook points x " << n << " positions to "
              << a.text("out") << "\n";
  }
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
  const arguments a(rest,
                    {"model", "tokenizer", "threads", "prompt", "max-tokens", "temperature", "top-p",
                     "seed", "hooks", "out"},
                    {"help", "show-ids"});
  if (a.flag("help")) {
    std::cout << help;
    return 0;
  }
  if (command == "inspect") return inspect(a);
  if (command == "generate") return generate(a);
  if (command == "trace") return trace(a);
  throw usage_error("unknown llm command '" + command + "'; expected inspect, generate or trace");
}

}  // namespace cli
