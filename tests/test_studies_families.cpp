// The studies of "How Post-Training Reshapes LLMs" on the path a real checkpoint takes. For the
// Llama, Mistral, Qwen2 and GPT-2 families, a scaled-down random "base" model and a "post" model
// (the base's weights plus small seeded noise) are written as Hugging Face directories in
// bfloat16, each with the same word-level tokenizer; both are loaded with load_hf_model and stay
// resident (memory-mapped, weights kept in bf16) while every study of the paper and the check of
// its conclusions run on them. Besides shapes, finiteness and unit self-cosines, each study is
// checked against a brute force written plainly here: the knowledge maps against one full
// forward pass per cell with a replace hook, the probe and refusal directions against one forward
// pass per prompt, the steered verdicts against hooks and a softmax written here, the entropy
// neurons' norms and LogitVar against the explicit cosines. The families differ where their
// loaders do: rotate_half Q/K rows (Llama, Mistral, Qwen2), GQA, Mistral's sliding window, Qwen2's
// q/k/v biases and tied unembedding, GPT-2's LayerNorm, learned positions and Conv1D layout.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "attrib/core/random.hpp"
#include "attrib/io/atomic_file.hpp"
#include "attrib/io/llama2c.hpp"
#include "attrib/io/safetensors.hpp"
#include "attrib/studies/entropy_neurons.hpp"
#include "attrib/studies/fact_world.hpp"
#include "attrib/studies/instruction_corpus.hpp"
#include "attrib/studies/knowledge_pairs.hpp"
#include "attrib/studies/knowledge_tracing.hpp"
#include "attrib/studies/paper_conclusions.hpp"
#include "attrib/studies/refusal_direction.hpp"
#include "attrib/studies/truth_intervention.hpp"
#include "attrib/studies/truth_probes.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/tokenizers/word_vocabulary.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/loading/hf_loader.hpp"
#include "attrib/transformer/model/random_model.hpp"
#include "hf_checkpoint_tensors.hpp"

namespace {

namespace fs = std::filesystem;
using attrib::hook_point;
using attrib::matrix;
using attrib::token_id;
using attrib::transformer_model;
using idx = attrib::index;  // not `index`: <strings.h> has a global one
using prompts = std::vector<std::vector<token_id>>;

// A fresh directory under the system's temporary folder, removed at scope exit.
struct scratch_dir {
  fs::path path;
  scratch_dir() {
    path = fs::temp_directory_path() / ("attrib_test_families_" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
};

// float -> bfloat16 by round to nearest even (what torch's .to(torch.bfloat16) does), and back.
std::uint16_t bf16_bits(float f) {
  const auto bits = std::bit_cast<std::uint32_t>(f);
  return static_cast<std::uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}
float bf16_value(std::uint16_t h) { return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16); }

// ---------------------------------------------------------------------------------------------
// Hugging Face checkpoints of a random model (tensors laid out by hf_checkpoint_tensors.hpp).

// Writes config.json and model.safetensors with every tensor in BF16: each value plus
// noise * uniform(-1, 1) (seeded), rounded to the nearest bf16. Returns the bits written, by name.
std::map<std::string, std::vector<std::uint16_t>> write_bf16_checkpoint(const fs::path& dir, const std::string& config,
                                                                        const attrib::tensor_map& tensors, double noise,
                                                                        std::uint64_t seed) {
  fs::create_directories(dir);
  attrib::rng gen(seed);
  std::map<std::string, std::vector<std::uint16_t>> bits;
  std::vector<std::vector<std::byte>> buffers;
  buffers.reserve(tensors.size());
  attrib::stored_tensor_map stored;
  for (const auto& [name, t] : tensors) {
    auto& b = bits[name];
    std::vector<std::byte> bytes;
    for (idx k = 0; k < t.values.size(); ++k) {
      const double v = t.values[k] + noise * (2.0 * gen.uniform() - 1.0);
      const std::uint16_t h = bf16_bits(static_cast<float>(v));
      b.push_back(h);
      bytes.push_back(static_cast<std::byte>(h & 0xFF));
      bytes.push_back(static_cast<std::byte>(h >> 8));
    }
    buffers.push_back(std::move(bytes));
    stored[name] = {attrib::tensor_dtype::bf16, t.shape, buffers.back()};
  }
  attrib::write_file_atomically(dir / "config.json", config);
  attrib::write_stored_safetensors(dir / "model.safetensors", stored);
  return bits;
}

// ---------------------------------------------------------------------------------------------
// The families, scaled down.

enum class family_kind { llama, mistral, qwen2, gpt2 };

struct family {
  const char* name;
  family_kind kind;
  attrib::transformer_config shape;  // vocab_size comes from the tokenizer
  bool qkv_bias = false;
  bool tied = false;
  idx expected_context = 128;  // what the loader should make of the config's context fields
};

std::vector<family> families() {
  attrib::transformer_config llama;
  llama.dim = 32;
  llama.hidden_dim = 64;
  llama.n_layers = 3;
  llama.n_heads = 4;
  llama.n_kv_heads = 4;
  llama.context_length = 128;
  auto mistral = llama;
  mistral.n_kv_heads = 2;  // grouped-query attention, as Mistral-7B
  auto qwen2 = mistral;
  qwen2.n_layers = 2;
  qwen2.rope_theta = 1000000.0f;
  attrib::transformer_config gpt2;
  gpt2.architecture = attrib::transformer_architecture::gpt2;
  gpt2.dim = 32;
  gpt2.hidden_dim = 128;  // n_inner null: 4 * n_embd
  gpt2.n_layers = 2;
  gpt2.n_heads = 4;
  gpt2.n_kv_heads = 4;
  gpt2.context_length = 128;
  return {{"Llama", family_kind::llama, llama, false, false, 128},
          {"Mistral", family_kind::mistral, mistral, false, false, 128},
          {"Qwen2", family_kind::qwen2, qwen2, true, true, 128},
          {"GPT-2", family_kind::gpt2, gpt2, true, true, 128}};
}

// config.json as the hub's configs of the family spell it.
std::string config_json(const family& f, idx vocab) {
  const auto& c = f.shape;
  nlohmann::json j;
  j["torch_dtype"] = "bfloat16";
  j["vocab_size"] = vocab;
  if (f.kind == family_kind::gpt2) {
    j["architectures"] = {"GPT2LMHeadModel"};
    j["model_type"] = "gpt2";
    j["n_embd"] = c.dim;
    j["n_layer"] = c.n_layers;
    j["n_head"] = c.n_heads;
    j["n_positions"] = c.context_length;
    j["n_ctx"] = c.context_length;
    j["n_inner"] = nullptr;
    j["layer_norm_epsilon"] = 1e-5;
    j["activation_function"] = "gelu_new";
    return j.dump();
  }
  j["hidden_size"] = c.dim;
  j["intermediate_size"] = c.hidden_dim;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["rms_norm_eps"] = 1e-5;
  j["rope_theta"] = c.rope_theta;
  j["hidden_act"] = "silu";
  j["tie_word_embeddings"] = f.tied;
  switch (f.kind) {
    case family_kind::llama:
      j["architectures"] = {"LlamaForCausalLM"};
      j["model_type"] = "llama";
      j["max_position_embeddings"] = c.context_length;
      break;
    case family_kind::mistral:
      // Attention reaches back sliding_window tokens: attrib computes up to the window.
      j["architectures"] = {"MistralForCausalLM"};
      j["model_type"] = "mistral";
      j["max_position_embeddings"] = 4 * c.context_length;
      j["sliding_window"] = c.context_length;
      break;
    case family_kind::qwen2:
      // The window field is present but off, as in Qwen2's released configs.
      j["architectures"] = {"Qwen2ForCausalLM"};
      j["model_type"] = "qwen2";
      j["max_position_embeddings"] = c.context_length;
      j["use_sliding_window"] = false;
      j["sliding_window"] = c.context_length / 4;
      break;
    case family_kind::gpt2: break;
  }
  return j.dump();
}

// Every weight a model holds, for checks that must see all of them.
std::vector<const attrib::weight_tensor*> present_weights(const attrib::transformer_weights& w) {
  std::vector<const attrib::weight_tensor*> all = {&w.token_embedding, &w.position_embedding, &w.final_norm,
                                                   &w.final_norm_bias, &w.output};
  for (const auto& L : w.layers)
    for (const auto* t : {&L.attn_norm, &L.attn_norm_bias, &L.wq, &L.wk, &L.wv, &L.wo, &L.bq, &L.bk, &L.bv, &L.bo,
                          &L.ffn_norm, &L.ffn_norm_bias, &L.w_gate, &L.w_up, &L.w_down, &L.b_up, &L.b_down})
      all.push_back(t);
  std::erase_if(all, [](const attrib::weight_tensor* t) { return !t->present(); });
  return all;
}

// Whether `address` lies in a mapping of `file` in this process (/proc/self/maps): the weights
// are read where the kernel mapped the checkpoint, not from a copy.
bool mapped_from(const void* address, const fs::path& file) {
  std::ifstream maps("/proc/self/maps");
  REQUIRE(maps.good());
  const auto target = fs::canonical(file).string();
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, device, inode, path;
    in >> range >> perms >> offset >> device >> inode;
    std::getline(in >> std::ws, path);
    if (path != target) continue;
    const auto dash = range.find('-');
    const auto first = std::stoull(range.substr(0, dash), nullptr, 16);
    const auto last = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (at >= first && at < last) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// The study inputs: the generated world's three relations, the requests, and one word-level
// vocabulary over every text the studies tokenise.

struct study_inputs {
  attrib::truth_dataset located_in, lives_in, has_pet;
  attrib::refusal_instructions requests;
  std::vector<std::string> texts;
  attrib::llama2c_vocabulary vocabulary;
};

attrib::instruction_wrapper qa_prompt() {
  return [](const std::string& s) { return attrib::instruction_prompt(s); };
}

std::vector<std::string> study_texts(const attrib::fact_world& world, const attrib::refusal_instructions& requests) {
  std::vector<std::string> texts = {"This statement is: TRUE FALSE"};
  for (const auto r : attrib::world_relations)
    for (const auto& s : attrib::world_truth_dataset(world, r).statements) texts.push_back(s.statement);
  for (const auto* set :
       {&requests.train_harmful, &requests.train_harmless, &requests.test_harmful, &requests.test_harmless})
    for (const auto& i : *set) texts.push_back(attrib::instruction_prompt(i));
  return texts;
}

const study_inputs& inputs() {
  static const study_inputs in = [] {
    study_inputs s;
    const auto world = attrib::make_fact_world({.countries = 4, .cities_per_country = 2, .people = 10, .seed = 1});
    s.located_in = attrib::world_truth_dataset(world, attrib::world_relation::located_in);
    s.lives_in = attrib::world_truth_dataset(world, attrib::world_relation::lives_in);
    s.has_pet = attrib::world_truth_dataset(world, attrib::world_relation::has_pet);
    s.requests = attrib::refusal_instructions_of(
        attrib::generate_instruction_corpus({.requests = 10, .split = attrib::instruction_split::train, .seed = 1}),
        attrib::generate_instruction_corpus({.requests = 10, .split = attrib::instruction_split::held_out, .seed = 1}));
    s.texts = study_texts(world, s.requests);
    s.vocabulary = attrib::word_vocabulary(s.texts);
    return s;
  }();
  return in;
}

// What the CLI's require_same_tokens checks before comparing models position by position.
template <class A, class B>
bool same_tokens(const A& a, const B& b, const std::vector<std::string>& texts) {
  return std::all_of(texts.begin(), texts.end(),
                     [&](const std::string& t) { return a.encode(t, true) == b.encode(t, true); });
}

bool same_pairs(const attrib::knowledge_pairs& a, const attrib::knowledge_pairs& b) {
  if (a.pairs.size() != b.pairs.size() || a.true_token != b.true_token || a.false_token != b.false_token ||
      a.window != b.window || a.roles != b.roles)
    return false;
  for (std::size_t i = 0; i < a.pairs.size(); ++i)
    if (a.pairs[i].true_prompt != b.pairs[i].true_prompt || a.pairs[i].false_prompt != b.pairs[i].false_prompt)
      return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Brute forces.

// The last position's logits (every token) of one sequence run alone through the model with
// `hooks`; the hooks still see every position.
attrib::float_vector last_logits(const transformer_model& m, const std::vector<token_id>& tokens,
                                 const attrib::hook_set* hooks = nullptr) {
  attrib::forward_options o;
  o.hooks = hooks;
  o.last_position_only = true;
  const auto logits = m.forward(prompts{tokens}, o)[0];
  REQUIRE(logits.rows() == 1);
  return logits.row(0).transpose();
}

// d(l, c) averaged over the pairs by one full forward pass per cell: the source's resid_post.l of
// the true prompt replacing the target's at the column's position of the false prompt.
matrix brute_force_map(const transformer_model& source, const transformer_model& target,
                       const attrib::knowledge_pairs& pairs) {
  const idx layers = target.config().n_layers;
  matrix d = matrix::Zero(layers, pairs.window);
  for (const auto& pair : pairs.pairs) {
    attrib::activation_cache clean;
    attrib::hook_set record;
    for (idx l = 0; l < layers; ++l) record.cache(hook_point::resid_post(l), clean);
    last_logits(source, pair.true_prompt, &record);
    const idx first = static_cast<idx>(pair.false_prompt.size()) - pairs.window;
    for (idx l = 0; l < layers; ++l)
      for (idx c = 0; c < pairs.window; ++c) {
        attrib::hook_set patch;
        patch.replace(hook_point::resid_post(l), clean, {.rows = {}, .positions = {first + c}});
        const auto logits = last_logits(target, pair.false_prompt, &patch);
        d(l, c) += static_cast<double>(logits(pairs.true_token)) - logits(pairs.false_token);
      }
  }
  return d / static_cast<double>(pairs.pairs.size());
}

// Max |a - b| over max |b|: the maps' cells are differences of logits of any size.
double relative_difference(const matrix& a, const matrix& b) {
  return (a - b).cwiseAbs().maxCoeff() / b.cwiseAbs().maxCoeff();
}

// |a - b| within `relative` of the larger: doctest's Approx has an absolute floor of its epsilon,
// which would pass any two of the studies' small probabilities (P(TRUE) - P(FALSE) is about 1e-3
// in a random model over a vocabulary of hundreds).
bool close(double a, double b, double relative) {
  return std::abs(a - b) <= relative * std::max(std::abs(a), std::abs(b));
}

// resid_post.layer at the last token of BOS + statement, one forward pass per statement.
attrib::vector statement_activation(const transformer_model& m, const attrib::sentencepiece_bpe& tok,
                                    const std::string& statement, idx layer) {
  attrib::activation_cache cache;
  attrib::hook_set hooks;
  hooks.cache(hook_point::resid_post(layer), cache);
  const auto tokens = tok.encode(statement, true);
  last_logits(m, tokens, &hooks);
  return cache.at(hook_point::resid_post(layer), 0, static_cast<idx>(tokens.size()) - 1).cast<double>();
}

// The mass-mean direction: each dataset's activations minus that dataset's mean, then the mean
// of the true statements' minus the mean of the false ones', pooled over the datasets.
attrib::vector plain_truth_direction(const transformer_model& m, const attrib::sentencepiece_bpe& tok,
                                     std::span<const attrib::truth_dataset> datasets, idx layer) {
  attrib::vector sum_true = attrib::vector::Zero(m.config().dim), sum_false = sum_true;
  double n_true = 0, n_false = 0;
  for (const auto& d : datasets) {
    std::vector<attrib::vector> rows;
    attrib::vector mean = attrib::vector::Zero(m.config().dim);
    for (const auto& s : d.statements) {
      rows.push_back(statement_activation(m, tok, s.statement, layer));
      mean += rows.back();
    }
    mean /= static_cast<double>(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (d.statements[i].label) {
        sum_true += rows[i] - mean;
        n_true += 1;
      } else {
        sum_false += rows[i] - mean;
        n_false += 1;
      }
  }
  return sum_true / n_true - sum_false / n_false;
}

// P(TRUE) - P(FALSE) under the full softmax at the last position, the verdict Table 3 reads.
double probability_difference(const attrib::float_vector& logits, token_id t, token_id f) {
  const attrib::vector x = logits.cast<double>();
  const double top = x.maxCoeff();
  double total = 0.0;
  for (idx v = 0; v < x.size(); ++v) total += std::exp(x(v) - top);
  return (std::exp(x(t) - top) - std::exp(x(f) - top)) / total;
}

// The mean PD over each label of the queries, steered by `direction` (null: not steered):
// coefficient times subtracted from true statements, added to false ones, at resid_post of every layer at
// positions -6 and -5 (the statement's last word and its period before the four-token suffix
// " This statement is:").
std::pair<double, double> plain_verdicts(const transformer_model& m, const attrib::truth_queries& q,
                                         const attrib::vector* direction, double coefficient = 1.0) {
  double t = 0.0, f = 0.0, nt = 0.0, nf = 0.0;
  for (std::size_t i = 0; i < q.prompts.size(); ++i) {
    const auto& p = q.prompts[i];
    const bool label = q.statements[i].label;
    const idx n = static_cast<idx>(p.size());
    attrib::hook_set hooks;
    if (direction != nullptr)
      for (idx l = 0; l < m.config().n_layers; ++l)
        hooks.add(hook_point::resid_post(l), direction->cast<float>(),
                  static_cast<float>(label ? -coefficient : coefficient),
                  {.rows = {}, .positions = {n - 6, n - 5}});
    const double pd = probability_difference(last_logits(m, p, &hooks), q.true_token, q.false_token);
    (label ? t : f) += pd;
    (label ? nt : nf) += 1.0;
  }
  return {t / nt, f / nf};
}

// Mean resid_pre.layer at the last token over the harmful prompts minus that over the harmless.
attrib::vector plain_refusal_direction(const transformer_model& m, const attrib::sentencepiece_bpe& tok,
                                       const attrib::refusal_instructions& data, idx layer) {
  const auto mean = [&](const std::vector<std::string>& instructions) {
    attrib::vector sum = attrib::vector::Zero(m.config().dim);
    for (const auto& i : instructions) {
      const auto tokens = tok.encode(attrib::instruction_prompt(i), true);
      attrib::activation_cache cache;
      attrib::hook_set hooks;
      hooks.cache(hook_point::resid_pre(layer), cache);
      last_logits(m, tokens, &hooks);
      sum += cache.at(hook_point::resid_pre(layer), 0, static_cast<idx>(tokens.size()) - 1).cast<double>();
    }
    return attrib::vector(sum / static_cast<double>(instructions.size()));
  };
  return mean(data.train_harmful) - mean(data.train_harmless);
}

// Norms and LogitVar of the last layer's neurons from the explicit cosines, with the defaults'
// weight processing: U folded with the final norm's weight, centred over its width (LayerNorm
// models), then over the vocabulary; w_i centred over its width (LayerNorm models).
attrib::neuron_scores plain_neuron_scores(const transformer_model& m) {
  const auto& c = m.config();
  const bool layer_norm = c.architecture == attrib::transformer_architecture::gpt2;
  const auto gain = m.weights().final_norm.decode_row(0);
  matrix u(c.vocab_size, c.dim);
  for (idx v = 0; v < c.vocab_size; ++v) {
    const auto row = m.weights().output.decode_row(v);
    for (idx k = 0; k < c.dim; ++k)
      u(v, k) = static_cast<double>(row[static_cast<std::size_t>(k)]) * gain[static_cast<std::size_t>(k)];
    if (layer_norm) u.row(v).array() -= u.row(v).mean();
  }
  u.rowwise() -= u.colwise().mean();
  for (idx v = 0; v < c.vocab_size; ++v)
    if (u.row(v).norm() > 0.0) u.row(v) /= u.row(v).norm();
  const auto& down = m.weights().layers.back().w_down;  // [dim][hidden]
  matrix w(c.dim, c.hidden_dim);
  for (idx k = 0; k < c.dim; ++k) {
    const auto row = down.decode_row(k);
    for (idx i = 0; i < c.hidden_dim; ++i) w(k, i) = row[static_cast<std::size_t>(i)];
  }
  attrib::neuron_scores s{attrib::vector(c.hidden_dim), attrib::vector(c.hidden_dim)};
  for (idx i = 0; i < c.hidden_dim; ++i) {
    attrib::vector col = w.col(i);
    if (layer_norm) col.array() -= col.mean();
    s.norms(i) = col.norm();
    const attrib::vector cosines = u * (col / col.norm());
    const double mean = cosines.mean();
    s.logit_variance(i) = (cosines.array() - mean).square().sum() / static_cast<double>(c.vocab_size - 1);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------

// Every study on one family's base and post checkpoints.
void study_family(const family& f, std::uint64_t seed) {
  const auto& in = inputs();
  const auto vocab = static_cast<idx>(in.vocabulary.pieces.size());
  auto shape = f.shape;
  shape.vocab_size = vocab;
  const auto original = attrib::random_transformer_model(
      shape, seed, {.scale = 0.2f, .biases = f.qkv_bias, .tied_output = f.tied});
  const auto tensors = f.kind == family_kind::gpt2
                           ? attrib_test::hf_gpt2_tensors(original, "transformer.")
                           : attrib_test::hf_llama_tensors(original, {.tied = f.tied, .qkv_biases_only = f.qkv_bias});
  const auto config = config_json(f, vocab);

  scratch_dir dir;
  const fs::path base_dir = dir.path / "base", post_dir = dir.path / "post";
  const auto base_bits = write_bf16_checkpoint(base_dir, config, tensors, 0.0, seed);
  const auto post_bits = write_bf16_checkpoint(post_dir, config, tensors, 0.02, seed + 1);
  // Each checkpoint carries its tokenizer, as the CLI's --tokenizer for a directory does.
  for (const auto& d : {base_dir, post_dir})
    attrib::write_file_atomically(d / "tokenizer.bin", attrib::format_llama2c_tokenizer(in.vocabulary));

  // Both models resident at once, each reading its own mapped file.
  const auto base = attrib::load_hf_model(base_dir);
  const auto post = attrib::load_hf_model(post_dir);
  const auto& c = base.config();

  {  // the loader: the configuration, bf16 weights mapped in place, both models resident
    CHECK(c.architecture == shape.architecture);
    CHECK(c.dim == shape.dim);
    CHECK(c.hidden_dim == shape.hidden_dim);
    CHECK(c.n_layers == shape.n_layers);
    CHECK(c.n_kv_heads == shape.n_kv_heads);
    CHECK(c.vocab_size == vocab);
    CHECK(c.context_length == f.expected_context);
    if (f.kind != family_kind::gpt2) {
      CHECK(c.rope_theta == shape.rope_theta);
    }
    const std::string embedding = f.kind == family_kind::gpt2 ? "transformer.wte.weight" : "model.embed_tokens.weight";
    for (const auto* m : {&base, &post}) {
      const auto& w = m->weights();
      const auto file = (m == &base ? base_dir : post_dir) / "model.safetensors";
      const auto other = (m == &base ? post_dir : base_dir) / "model.safetensors";
      for (const auto* t : present_weights(w)) CHECK(t->type == attrib::ggml_type::bf16);
      // The embedding is a view into its own checkpoint's mapping, not a copy and not the other's.
      CHECK(mapped_from(w.token_embedding.bytes.data(), file));
      CHECK(!mapped_from(w.token_embedding.bytes.data(), other));
      // ... holding exactly the bf16 values written.
      const auto& bits = (m == &base ? base_bits : post_bits).at(embedding);
      bool exact = true;
      for (idx v = 0; v < vocab; ++v) {
        const auto row = w.token_embedding.decode_row(v);
        for (idx k = 0; k < c.dim; ++k)
          exact = exact &&
                  row[static_cast<std::size_t>(k)] == bf16_value(bits[static_cast<std::size_t>(v * c.dim + k)]);
      }
      CHECK(exact);
      CHECK((w.output.bytes.data() == w.token_embedding.bytes.data()) == f.tied);
      CHECK(w.layers[0].bq.present() == f.qkv_bias);
      CHECK(w.layers[0].bo.present() == (f.kind == family_kind::gpt2));
      CHECK(w.position_embedding.present() == (f.kind == family_kind::gpt2));
    }
    // The noise reached the post model: the two read a prompt differently.
    const auto probe = std::vector<token_id>{1, 300, 301, 302};
    CHECK((last_logits(base, probe) - last_logits(post, probe)).norm() > 1e-3);
  }

  // One tokenisation: the two directories' tokenizers read every study text alike, and give the
  // same knowledge pairs, so positions line up across the models.
  const auto tok = attrib::load_llama2c_tokenizer(base_dir / "tokenizer.bin", static_cast<std::size_t>(vocab));
  const auto post_tok = attrib::load_llama2c_tokenizer(post_dir / "tokenizer.bin", static_cast<std::size_t>(vocab));
  CHECK(same_tokens(tok, post_tok, in.texts));
  // Whole words are single tokens: BOS and eight for "The city of X is in Y.".
  CHECK(tok.encode(in.located_in.statements[0].statement, true).size() == 9);

  const std::array<attrib::named_model, 2> models = {{{"base", &base}, {"post", &post}}};
  const std::array<attrib::truth_dataset, 2> train = {in.located_in, in.lives_in};
  const idx probe_layer = 1;

  // Knowledge storage (Table 1) and transfer (section 3.2).
  attrib::knowledge_prompt_options prompt_options;
  prompt_options.max_pairs = 2;
  const auto pairs = attrib::make_knowledge_pairs(in.located_in, tok, prompt_options);
  CHECK(same_pairs(pairs, attrib::make_knowledge_pairs(in.located_in, post_tok, prompt_options)));
  REQUIRE(pairs.pairs.size() == 2);
  REQUIRE(pairs.window == 12);
  const auto storage = attrib::knowledge_storage_study(models, pairs, in.located_in.name);
  const auto transfer = attrib::knowledge_transfer_study(models[0], models[1], pairs, in.located_in.name);
  REQUIRE(storage.traces.size() == 2);
  REQUIRE(storage.comparisons.size() == 1);
  REQUIRE(transfer.traces.size() == 4);
  REQUIRE(transfer.comparisons.size() == 3);
  for (const auto* s : {&storage, &transfer}) {
    CHECK(s->column_labels.size() == 12);
    for (const auto& t : s->traces) {
      CHECK(t.pairs == 2);
      CHECK(t.mean_effect.rows() == c.n_layers);
      CHECK(t.mean_effect.cols() == pairs.window);
      CHECK(t.score.rows() == c.n_layers);
      CHECK(t.score.cols() == pairs.window);
      CHECK(t.mean_effect.allFinite());
      CHECK(t.score.minCoeff() >= 0.0);
      CHECK(t.score.maxCoeff() <= 1.0);
      CHECK(std::isfinite(t.true_effect));
      CHECK(std::isfinite(t.false_effect));
      if (t.source == t.target) {
        // Patching the last layer's output at the last position hands over the true prompt's verdict.
        CHECK(close(t.mean_effect(c.n_layers - 1, pairs.window - 1), t.true_effect, 1e-4));
      }
    }
    for (const auto& cmp : s->comparisons) {
      CHECK(cmp.values.max_difference >= cmp.values.max_knowledge_difference);
      CHECK(cmp.values.max_difference <= 1.0);
    }
  }
  CHECK(transfer.traces[2].source == "base");
  CHECK(transfer.traces[2].target == "post");
  // The same map whichever study computes it.
  CHECK((transfer.traces[0].mean_effect - storage.traces[0].mean_effect).cwiseAbs().maxCoeff() == 0.0);
  CHECK((transfer.traces[1].mean_effect - storage.traces[1].mean_effect).cwiseAbs().maxCoeff() == 0.0);
  // Against one full forward pass per cell: a same-model map and both cross-model maps.
  CHECK(relative_difference(storage.traces[1].mean_effect, brute_force_map(post, post, pairs)) < 1e-4);
  CHECK(relative_difference(transfer.traces[2].mean_effect, brute_force_map(base, post, pairs)) < 1e-4);
  CHECK(relative_difference(transfer.traces[3].mean_effect, brute_force_map(post, base, pairs)) < 1e-4);
  // The source matters far beyond that tolerance: the base's activations make another map in the
  // post model than its own, so a sweep that patched from the wrong model would fail above.
  CHECK(relative_difference(transfer.traces[2].mean_effect, storage.traces[1].mean_effect) > 1e-3);

  // Truth probes (Table 2).
  attrib::truth_probe_options probe_options;
  probe_options.layer = probe_layer;
  const auto truth = attrib::truth_probe_transfer_study(models, tok, train, in.has_pet, probe_options);
  REQUIRE(truth.models.size() == 2);
  REQUIRE(truth.probes.size() == 2);
  CHECK(truth.datasets.size() == 3);
  CHECK(truth.transfer_accuracy.rows() == 2);
  CHECK(truth.transfer_accuracy.cols() == 2);
  CHECK(truth.transfer_accuracy.minCoeff() >= 0.0);
  CHECK(truth.transfer_accuracy.maxCoeff() <= 1.0);
  CHECK(truth.held_out_accuracy.size() == 3);
  for (idx i = 0; i < 2; ++i) {
    CHECK(truth.cosine(i, i) == doctest::Approx(1.0));
    for (idx j = 0; j < 2; ++j) CHECK(truth.cosine(i, j) == doctest::Approx(truth.cosine(j, i)));
  }
  std::vector<attrib::vector> truth_directions;
  for (std::size_t m = 0; m < 2; ++m) {
    truth_directions.push_back(plain_truth_direction(*models[m].model, tok, train, probe_layer));
    const auto& d = truth.probes[m].direction;
    REQUIRE(d.size() == c.dim);
    CHECK((d - truth_directions[m]).norm() <= 1e-4 * truth_directions[m].norm());
  }

  // Truth interventions (Table 3), every layer steered.
  attrib::truth_query_options query_options;
  query_options.max_statements = 6;
  // A direction of norm about 0.1 against a residual stream of norm 2 to 6: scaled up so that the
  // steering visibly moves the verdicts.
  attrib::truth_intervention_options steering;
  steering.coefficient = 20.0;
  const auto steer =
      attrib::truth_intervention_study_of(models, tok, train, in.has_pet, probe_layer, query_options, steering);
  REQUIRE(steer.models.size() == 2);
  CHECK(steer.layers.size() == static_cast<std::size_t>(c.n_layers));
  CHECK(steer.true_statements + steer.false_statements == 6);
  for (const auto* x : {&steer.true_pd, &steer.false_pd, &steer.true_to_false, &steer.false_to_true, &steer.effect}) {
    CHECK(x->rows() == 2);
    CHECK(x->cols() == 2);
    CHECK(x->allFinite());
  }
  for (idx i = 0; i < 2; ++i)
    for (idx j = 0; j < 2; ++j) {
      CHECK(close(steer.true_to_false(i, j),
                  (steer.true_pd(i, j) - steer.base_true_pd(j)) / (-1.0 - steer.base_true_pd(j)), 1e-12));
      CHECK(close(steer.false_to_true(i, j),
                  (steer.false_pd(i, j) - steer.base_false_pd(j)) / (1.0 - steer.base_false_pd(j)), 1e-12));
      CHECK(close(steer.effect(i, j), 0.5 * (steer.true_to_false(i, j) + steer.false_to_true(i, j)), 1e-12));
    }
  {
    const auto queries = attrib::make_truth_queries(in.has_pet, tok, query_options);
    REQUIRE(queries.prompts.size() == 6);
    CHECK(tok.decode(std::vector<token_id>{queries.true_token}).find("TRUE") != std::string::npos);
    CHECK(tok.decode(std::vector<token_id>{queries.false_token}).find("FALSE") != std::string::npos);
    for (std::size_t i = 0; i < queries.prompts.size(); ++i) {
      const auto n = static_cast<idx>(queries.prompts[i].size());
      const std::pair<idx, idx> last_word_and_period{n - 6, n - 5};
      CHECK(queries.positions[i] == last_word_and_period);
    }
    // The post model unsteered, and steered by the base model's direction.
    const auto [t0, f0] = plain_verdicts(post, queries, nullptr);
    CHECK(close(steer.base_true_pd(1), t0, 1e-4));
    CHECK(close(steer.base_false_pd(1), f0, 1e-4));
    const auto [t1, f1] = plain_verdicts(post, queries, &truth_directions[0], steering.coefficient);
    CHECK(close(steer.true_pd(0, 1), t1, 1e-4));
    CHECK(close(steer.false_pd(0, 1), f1, 1e-4));
    // The steering moved the verdicts ten times that tolerance or more (0.3% to 100% here), so the
    // comparison has teeth.
    CHECK(!close(t1, t0, 1e-3));
    CHECK(!close(f1, f0, 1e-3));
  }

  // Refusal directions (Table 4), short greedy completions.
  const std::vector<attrib::refusal_model> refusal_models = {{{"base", &base}, qa_prompt(), {}, -1, 4.0},
                                                             {{"post", &post}, qa_prompt(), {}, -1, 4.0}};
  attrib::refusal_study_options refusal_options;
  refusal_options.layer = 1;
  refusal_options.generation.max_new_tokens = 4;
  const auto refusal = attrib::refusal_study_of(refusal_models, tok, in.requests, refusal_options);
  REQUIRE(refusal.models.size() == 2);
  REQUIRE(refusal.directions.size() == 2);
  for (const auto* x : {&refusal.cosine, &refusal.ablation_harmful, &refusal.addition_harmless}) {
    CHECK(x->rows() == 2);
    CHECK(x->cols() == 2);
    CHECK(x->allFinite());
  }
  for (const auto* x : {&refusal.ablation_harmful, &refusal.addition_harmless}) {
    CHECK(x->minCoeff() >= 0.0);
    CHECK(x->maxCoeff() <= 1.0);
  }
  CHECK(refusal.baseline_harmful.size() == 2);
  CHECK(refusal.baseline_harmless.size() == 2);
  // Two samples per cell and set: the baselines (2 models x 2 sets) and 2 x 2 cells x 2 sets.
  CHECK(refusal.samples.size() == 2 * (2 * 2 + 2 * 2 * 2));
  for (idx i = 0; i < 2; ++i) {
    CHECK(refusal.cosine(i, i) == doctest::Approx(1.0));
    const auto plain = plain_refusal_direction(*models[static_cast<std::size_t>(i)].model, tok, in.requests, 1);
    CHECK((refusal.directions[static_cast<std::size_t>(i)] - plain).norm() <= 1e-5 * plain.norm());
  }

  // Entropy neurons (Table 14), the default ten.
  const auto entropy = attrib::entropy_neuron_study_of(models);
  REQUIRE(entropy.models.size() == 2);
  REQUIRE(entropy.comparisons.size() == 1);
  for (const auto& e : entropy.models) {
    const auto plain = plain_neuron_scores(*(e.model == "base" ? &base : &post));
    REQUIRE(e.scores.norms.size() == c.hidden_dim);
    CHECK((e.scores.norms - plain.norms).cwiseAbs().maxCoeff() <= 1e-5 * plain.norms.maxCoeff());
    CHECK((e.scores.logit_variance - plain.logit_variance).cwiseAbs().maxCoeff() <=
          1e-5 * plain.logit_variance.maxCoeff());
    // The candidates are the neurons above the norm threshold, the entropy neurons the ten of
    // them of smallest LogitVar.
    std::vector<idx> above;
    for (idx i = 0; i < c.hidden_dim; ++i)
      if (e.scores.norms(i) > e.norm_threshold) above.push_back(i);
    CHECK(e.candidates == above);
    REQUIRE(e.neurons.size() == 10);
    const std::set<idx> chosen(e.neurons.begin(), e.neurons.end());
    CHECK(chosen.size() == 10);
    double worst_chosen = 0.0, best_other = std::numeric_limits<double>::infinity();
    for (const idx i : e.candidates)
      if (chosen.contains(i)) worst_chosen = std::max(worst_chosen, e.scores.logit_variance(i));
      else best_other = std::min(best_other, e.scores.logit_variance(i));
    CHECK(std::includes(above.begin(), above.end(), chosen.begin(), chosen.end()));
    CHECK(worst_chosen <= best_other);
  }
  {
    const auto& cmp = entropy.comparisons[0].values;
    std::vector<idx> a = entropy.models[0].neurons, b = entropy.models[1].neurons, shared;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(shared));
    CHECK(cmp.overlap == shared.size());
    CHECK(cmp.iou == doctest::Approx(static_cast<double>(shared.size()) / static_cast<double>(20 - shared.size())));
  }

  // The paper's conclusions, one check per measure, each on the post model.
  attrib::study_results results;
  results.storage = &storage;
  results.transfers = {&transfer};
  results.truth = &truth;
  results.intervention = &steer;
  results.refusal = &refusal;
  results.entropy = &entropy;
  const auto checks = attrib::check_paper_conclusions(results);
  const std::vector<std::string> sources = {"Table 1", "section 3.2", "section 3.2", "Table 2",
                                            "Table 3", "Table 4",     "Table 4",     "Table 14"};
  REQUIRE(checks.size() == sources.size());
  for (std::size_t k = 0; k < checks.size(); ++k) {
    CAPTURE(k);
    CHECK(checks[k].source == sources[k]);
    CHECK(checks[k].model == "post");
    CHECK(!checks[k].observed.empty());
  }
  // The verdicts follow the documented thresholds on the studies' own numbers.
  const auto corr = storage.comparisons[0].values.correlation;
  if (std::isfinite(corr)) {
    CHECK(checks[0].holds == std::optional<bool>(corr >= 0.9));
  } else {
    CHECK(!checks[0].holds.has_value());
  }
  const double own = truth.transfer_accuracy(1, 1), from_base = truth.transfer_accuracy(0, 1);
  CHECK(checks[3].holds == std::optional<bool>(std::abs(own - from_base) <= 0.05 && own >= 0.6));
  // A random model rarely refuses; then ablating a refusal direction does not apply.
  if (refusal.baseline_harmful(1) < 0.5) {
    CHECK(!checks[5].holds.has_value());
  }
  CHECK(checks[7].holds == std::optional<bool>(entropy.comparisons[0].values.overlap >= 7));
  MESSAGE(std::string(f.name) << ": Corr(M_base, M_post) " << corr << ", probe accuracy " << own << " / "
                               << from_base << ", intervention effect " << steer.effect(1, 1) << " / "
                               << steer.effect(0, 1) << ", entropy overlap " << entropy.comparisons[0].values.overlap);
}

const family& family_named(const std::string& name) {
  static const auto all = families();
  for (const auto& f : all)
    if (f.name == name) return f;
  FAIL("no family " << name);
  return all.front();
}

}  // namespace

TEST_CASE("studies on HF checkpoints: Llama, bf16, every study against a brute force") {
  study_family(family_named("Llama"), 101);
}

TEST_CASE("studies on HF checkpoints: Mistral, sliding window and grouped-query attention") {
  study_family(family_named("Mistral"), 202);
}

TEST_CASE("studies on HF checkpoints: Qwen2, q/k/v biases and a tied unembedding") {
  study_family(family_named("Qwen2"), 303);
}

TEST_CASE("studies on HF checkpoints: GPT-2, LayerNorm, learned positions and Conv1D weights") {
  study_family(family_named("GPT-2"), 404);
}

TEST_CASE("studies on HF checkpoints: another vocabulary is a different tokenisation") {
  // The agreement checked above can fail: a tokenizer of another world's words splits this world's
  // names differently, so its prompts differ and the models' positions would not line up.
  const auto& in = inputs();
  const auto other_world = attrib::make_fact_world({.countries = 4, .cities_per_country = 2, .people = 10, .seed = 2});
  const auto other_vocabulary = attrib::word_vocabulary(study_texts(other_world, in.requests));
  const auto tok = attrib::sentencepiece_bpe::from_llama2c(in.vocabulary);
  const auto other = attrib::sentencepiece_bpe::from_llama2c(other_vocabulary);
  CHECK(same_tokens(tok, attrib::sentencepiece_bpe::from_llama2c(in.vocabulary), in.texts));
  CHECK(!same_tokens(tok, other, in.texts));
  attrib::knowledge_prompt_options o;
  o.max_pairs = 2;
  const auto pairs = attrib::make_knowledge_pairs(in.located_in, tok, o);
  bool differs = true;
  try {
    differs = !same_pairs(pairs, attrib::make_knowledge_pairs(in.located_in, other, o));
  } catch (const attrib::invalid_argument&) {
    // No pair passes the filter under the other tokenisation: different too.
  }
  CHECK(differs);
}
