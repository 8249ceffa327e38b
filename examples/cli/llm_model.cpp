// Loading the model and tokenizer of the `attrib llm` commands, and reading prompts and tokens.
#include "llm_model.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "../svg_heatmap.hpp"
#include "attrib/io/gguf.hpp"
#include "attrib/io/llama2c.hpp"
#include "attrib/io/mapped_file.hpp"
#include "attrib/io/safetensors.hpp"
#include "attrib/transformer/loading/gguf_loader.hpp"
#include "attrib/transformer/loading/hf_loader.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"

namespace cli {
namespace {


// A SentencePiece-style vocabulary (llama2.c, GGUF) or a tokenizer.json one, with the ids that
// end generation.

any_tokenizer sentencepiece(attrib::sentencepiece_bpe t) {
  const std::vector<attrib::token_id> stop = {t.bos(), t.eos()};
  return {std::move(t), stop};
}


bool is_gguf(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

// config.json's eos_token_id and bos_token_id (an id or a list of ids), which end generation.
std::vector<attrib::token_id> hf_stop_tokens(const nlohmann::json& config) {
  std::vector<attrib::token_id> stop;
  for (const char* key : {"eos_token_id", "bos_token_id"}) {
    if (!config.contains(key)) continue;
    const auto& v = config[key];
    for (const auto& id : v.is_array() ? v : nlohmann::json::array({v}))
      if (id.is_number_integer()) stop.push_back(id.get<attrib::token_id>());
  }
  return stop;
}

loaded_model load_hf_directory(const arguments& a, const std::filesystem::path& dir, bool need_tokenizer) {
  loaded_model out;
  const auto config = attrib::detail::parse_json(attrib::detail::read_file_bytes(dir / "config.json"),
                                                 (dir / "config.json").string());
  out.model = std::make_unique<attrib::transformer_model>(attrib::load_hf_model(dir));
  out.architecture = attrib::to_string(out.model->config().architecture) +
                     (config.contains("architectures") ? " (" + attrib::detail::json_excerpt(config["architectures"]) + ")" : "");
  // The tensor table lists the files' tensors as stored (Hugging Face names and layouts).
  std::vector<std::string> shards;
  if (std::filesystem::exists(dir / "model.safetensors.index.json")) {
    const auto index = nlohmann::json::parse(
        attrib::detail::read_file_bytes(dir / "model.safetensors.index.json"), nullptr, false);
    if (!index.is_discarded() && index.contains("weight_map") && index["weight_map"].is_object())
      for (const auto& [name, shard] : index["weight_map"].items())
        if (shard.is_string() &&
            std::find(shards.begin(), shards.end(), shard.get<std::string>()) == shards.end())
          shards.push_back(shard.get<std::string>());
  } else {
    shards.push_back("model.safetensors");
  }
  out.format = "Hugging Face safetensors (" + std::to_string(shards.size()) +
               (shards.size() == 1 ? " file)" : " shards)");
  for (const auto& shard : shards) {
    const attrib::mapped_file file(dir / shard);
    for (const auto& [name, t] : attrib::parse_safetensors_view(file.bytes(), (dir / shard).string()).tensors)
      out.tensors.push_back({name, std::string(attrib::dtype_name(t.dtype)),
                             std::vector<std::uint64_t>(t.shape.begin(), t.shape.end())});
  }
  if (a.has("tokenizer"))
    throw usage_error("--tokenizer takes a llama2.c tokenizer; a Hugging Face directory uses its tokenizer.json");
  if (std::filesystem::exists(dir / "tokenizer.json"))
    out.tokenizer = any_tokenizer{attrib::load_hf_tokenizer(dir / "tokenizer.json"), hf_stop_tokens(config)};
  else if (need_tokenizer)
    throw usage_error("the Hugging Face directory has no tokenizer.json; give the prompt as token ids (--tokens, or --clean-tokens and --corrupted-tokens)");
  return out;
}

}  // namespace

loaded_model load_model(const arguments& a, bool need_tokenizer) {
  const std::filesystem::path path = a.required("model");
  if (!std::filesystem::exists(path)) throw usage_error("--model file '" + path.string() + "' does not exist");
  if (std::filesystem::is_directory(path)) return load_hf_directory(a, path, need_tokenizer);
  loaded_model out;
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
      out.tokenizer = sentencepiece(attrib::load_llama2c_tokenizer(
          a.text("tokenizer"), static_cast<std::size_t>(out.model->config().vocab_size)));
    else if (g.find("tokenizer.ggml.model") != nullptr)
      out.tokenizer = sentencepiece(attrib::sentencepiece_bpe::from_gguf(g));
    else if (need_tokenizer)
      throw usage_error("the GGUF file has no tokenizer metadata; give --tokenizer, or the prompt as token ids");
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
      out.tokenizer = sentencepiece(attrib::load_llama2c_tokenizer(a.text("tokenizer"), static_cast<std::size_t>(vocab)));
    else if (need_tokenizer)
      throw usage_error("a llama2.c .bin model needs --tokenizer tok.bin, or the prompt as token ids");
  }
  return out;
}

namespace {

// A token id given as text, checked against the vocabulary; `what` names it in messages.
attrib::token_id parse_token_id(const std::string& item, const loaded_model& m, const std::string& what) {
  std::size_t used = 0;
  long long id = -1;
  try {
    id = std::stoll(item, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != item.size() || id < 0 || id >= m.model->config().vocab_size)
    throw usage_error(what + ": '" + item.substr(0, 40) + "' is not a token id in [0, " +
                      std::to_string(m.model->config().vocab_size) + ")");
  return static_cast<attrib::token_id>(id);
}

}  // namespace

std::vector<attrib::token_id> prompt_tokens(const arguments& a, const loaded_model& m, const std::string& text,
                                            const std::string& ids_option) {
  if (!a.has(ids_option)) {
    if (!m.tokenizer) throw usage_error("--" + text + " needs a tokenizer; give --" + ids_option + " instead");
    return m.tokenizer->encode(a.text(text));
  }
  if (a.has(text)) throw usage_error("give --" + text + " or --" + ids_option + ", not both");
  std::vector<attrib::token_id> ids;
  for (const auto& item : split(a.text(ids_option), ',')) ids.push_back(parse_token_id(item, m, "--" + ids_option));
  return ids;
}

attrib::token_id token_option(const arguments& a, const loaded_model& m, const std::string& option) {
  const std::string value = a.required(option);
  if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos)
    return parse_token_id(value, m, "--" + option);
  if (!m.tokenizer) throw usage_error("--" + option + " '" + value.substr(0, 40) + "' is text, but there is no tokenizer; give a token id");
  const auto ids = m.tokenizer->encode(value, false);
  if (ids.size() != 1) {
    std::string pieces;
    for (auto id : ids) pieces += (pieces.empty() ? "" : ", ") + std::to_string(id);
    throw usage_error("--" + option + " '" + value.substr(0, 40) + "' is " + std::to_string(ids.size()) +
                      " tokens (" + pieces.substr(0, 80) + "), expected one; give a token id or a shorter text");
  }
  return ids[0];
}

std::string piece_of(const loaded_model& m, attrib::token_id id) {
  return m.tokenizer ? m.tokenizer->decode(std::vector<attrib::token_id>{id}) : std::to_string(id);
}

std::string token_label(const loaded_model& m, attrib::token_id id) {
  const std::string piece = piece_of(m, id);
  return piece.empty() ? "<" + std::to_string(id) + ">" : examples::visible_text(piece);
}

}  // namespace cli
