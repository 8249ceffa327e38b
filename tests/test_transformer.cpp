// The Llama-family transformer on a real checkpoint: stories260K from llama2.c's .bin and from
// GGUF give identical logits and reproduce golden greedy generations; the tokenizer reproduces
// llama2.c's ids; quantised storage types; KV caching; rejection of bad files and inputs.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "attrib/io/detail/file_bytes.hpp"
#include "attrib/io/gguf.hpp"
#include "attrib/io/llama2c.hpp"
#include "attrib/io/mapped_file.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/core/random.hpp"
#include "attrib/transformer/model/generate.hpp"
#include "attrib/transformer/model/kernels.hpp"
#include "attrib/transformer/loading/gguf_loader.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using attrib::token_id;
using batch = std::vector<std::vector<token_id>>;

const std::filesystem::path model_dir =
    std::filesystem::path(ATTRIB_DATA_DIR) / "models" / "stories260K";

const attrib::transformer_model& bin_model() {
  static const auto model = attrib::load_llama2c_model(model_dir / "stories260K.bin");
  return model;
}

const attrib::transformer_model& gguf_model() {
  static const auto model = attrib::load_gguf_model(model_dir / "stories260K.gguf");
  return model;
}

const attrib::sentencepiece_bpe& bin_tokenizer() {
  static const auto tok = attrib::load_llama2c_tokenizer(model_dir / "tok512.bin", 512);
  return tok;
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

float max_abs_diff(const attrib::float_matrix& a, const attrib::float_matrix& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return a.rows() == 0 ? 0.0f : (a - b).cwiseAbs().maxCoeff();
}

// Round to nearest even, as ggml converts float to half.
std::uint16_t float_to_f16(float f) {
  const auto x = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t biased = (x >> 23) & 0xFFu;
  std::uint32_t mantissa = x & 0x7FFFFFu;
  if (biased == 0xFF) return static_cast<std::uint16_t>(sign | 0x7C00u | (mantissa ? 0x200u : 0u));
  const int exponent = static_cast<int>(biased) - 127 + 15;
  if (exponent >= 31) return static_cast<std::uint16_t>(sign | 0x7C00u);
  if (exponent <= 0) {
    if (exponent < -10) return static_cast<std::uint16_t>(sign);
    mantissa |= 0x800000u;
    const int shift = 14 - exponent;
    std::uint32_t h = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1);
    const std::uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
  }
  std::uint32_t h = (static_cast<std::uint32_t>(exponent) << 10) | (mantissa >> 13);
  const std::uint32_t rest = mantissa & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry rounds into the exponent
  return static_cast<std::uint16_t>(sign | h);
}

std::uint16_t float_to_bf16(float f) {
  const auto x = std::bit_cast<std::uint32_t>(f);
  return static_cast<std::uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

void put(std::string& out, std::uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
}

// Writes GGUF files for the tests, including deliberately broken ones.
struct gguf_builder {
  struct tensor_entry {
    std::string name;
    std::vector<std::uint64_t> shape;
    std::uint32_t type = 0;
    std::string data;
    std::int64_t offset = -1;  // -1: the next aligned offset
  };
  std::uint32_t version = 3;
  std::uint64_t alignment = 32;
  std::string metadata;
  std::uint64_t kv_count = 0;
  std::vector<tensor_entry> tensors;

  void key(const std::string& k, std::uint32_t type) {
    put(metadata, k.size(), 8);
    metadata += k;
    put(metadata, type, 4);
    ++kv_count;
  }
  gguf_builder& u32(const std::string& k, std::uint32_t v) {
    key(k, 4);
    put(metadata, v, 4);
    return *this;
  }
  gguf_builder& f32(const std::string& k, float v) {
    key(k, 6);
    put(metadata, std::bit_cast<std::uint32_t>(v), 4);
    return *this;
  }
  gguf_builder& str(const std::string& k, const std::string& v) {
    key(k, 8);
    put(metadata, v.size(), 8);
    metadata += v;
    return *this;
  }
  gguf_builder& u8_array(const std::string& k, const std::vector<std::uint8_t>& v) {
    key(k, 9);
    put(metadata, 0, 4);  // element type uint8
    put(metadata, v.size(), 8);
    for (auto b : v) put(metadata, b, 1);
    return *this;
  }
  gguf_builder& str_array(const std::string& k, const std::vector<std::string>& v) {
    key(k, 9);
    put(metadata, 8, 4);  // element type string
    put(metadata, v.size(), 8);
    for (const auto& e : v) {
      put(metadata, e.size(), 8);
      metadata += e;
    }
    return *this;
  }
  gguf_builder& tensor(std::string name, std::vector<std::uint64_t> shape, std::uint32_t type,
                       std::string data) {
    tensors.push_back({std::move(name), std::move(shape), type, std::move(data)});
    return *this;
  }

  std::string build() const {
    std::string out = "GGUF";
    put(out, version, 4);
    put(out, tensors.size(), 8);
    put(out, kv_count, 8);
    out += metadata;
    std::uint64_t offset = 0;
    std::vector<std::uint64_t> offsets;
    for (const auto& t : tensors) {
      put(out, t.name.size(), 8);
      out += t.name;
      put(out, t.shape.size(), 4);
      for (auto d : t.shape) put(out, d, 8);
      put(out, t.type, 4);
      offsets.push_back(offset);
      put(out, t.offset >= 0 ? static_cast<std::uint64_t>(t.offset) : offset, 8);
      offset += (t.data.size() + alignment - 1) / alignment * alignment;
    }
    out.append((alignment - out.size() % alignment) % alignment, '\0');
    const std::size_t data_start = out.size();
    for (std::size_t k = 0; k < tensors.size(); ++k) {
      out.resize(data_start + offsets[k], '\0');
      out += tensors[k].data;
    }
    return out;
  }
};

// The stories260K hyper-parameters as GGUF metadata.
gguf_builder stories_metadata() {
  gguf_builder b;
  b.str("general.architecture", "llama")
      .u32("llama.embedding_length", 64)
      .u32("llama.feed_forward_length", 172)
      .u32("llama.block_count", 5)
      .u32("llama.attention.head_count", 8)
      .u32("llama.attention.head_count_kv", 4)
      .u32("llama.context_length", 512)
      .f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  return b;
}

// stories260K re-encoded: each matrix in `type`, norms in F32 (as llama.cpp quantises).
std::string stories_as(std::uint32_t type) {
  const attrib::mapped_file file(model_dir / "stories260K.gguf");
  const auto source = attrib::parse_gguf(file.bytes());
  auto b = stories_metadata();
  for (const auto& t : source.tensors) {
    std::vector<float> values(t.element_count());
    attrib::dequantize_row(t.type, t.bytes.data(), values.data(), values.size());
    const bool matrix = t.shape.size() == 2;
    // Like llama.cpp, fall back to F16 where rows do not split into Q8_0 blocks (172 neurons).
    const std::uint32_t stored = !matrix ? 0 : type == 8 && t.shape[0] % 32 != 0 ? 1 : type;
    std::string data;
    if (stored == 0) {
      for (float v : values) put(data, std::bit_cast<std::uint32_t>(v), 4);
    } else if (stored == 1) {
      for (float v : values) put(data, float_to_f16(v), 2);
    } else if (stored == 30) {
      for (float v : values) put(data, float_to_bf16(v), 2);
    } else {
      for (std::size_t block = 0; block < values.size() / 32; ++block) {
        float amax = 0.0f;
        for (int i = 0; i < 32; ++i) amax = std::max(amax, std::abs(values[block * 32 + i]));
        const float d = amax / 127.0f;
        const float inv = d == 0.0f ? 0.0f : 1.0f / d;
        put(data, float_to_f16(d), 2);
        for (int i = 0; i < 32; ++i)
          data.push_back(static_cast<char>(
              static_cast<std::int8_t>(std::lround(values[block * 32 + i] * inv))));
      }
    }
    b.tensor(t.name, t.shape, stored, std::move(data));
  }
  return b.build();
}

// The same checkpoint with every tensor converted to F32 from its stored type.
std::string dequantized_copy(const std::string& gguf) {
  const auto source = attrib::parse_gguf(bytes_of(gguf));
  auto b = stories_metadata();
  for (const auto& t : source.tensors) {
    std::vector<float> values(t.element_count());
    attrib::dequantize_row(t.type, t.bytes.data(), values.data(), values.size());
    std::string data;
    for (float v : values) put(data, std::bit_cast<std::uint32_t>(v), 4);
    b.tensor(t.name, t.shape, 0, std::move(data));
  }
  return b.build();
}

nlohmann::json golden() {
  return nlohmann::json::parse(attrib::detail::read_file_bytes(model_dir / "golden_greedy.json"));
}

const batch prompts = {
    {1, 403, 407, 261, 378},
    {1, 317, 269, 274, 287, 263, 300, 432, 338},
    {1},
    {1, 291, 410, 456, 425, 417, 267, 276},
};

}  // namespace

TEST_CASE("stories260K: the .bin and the .gguf give identical logits") {
  const auto a = bin_model().forward(prompts);
  const auto b = gguf_model().forward(prompts);
  REQUIRE(a.size() == prompts.size());
  for (std::size_t r = 0; r < prompts.size(); ++r) {
    CHECK(a[r].rows() == static_cast<attrib::index>(prompts[r].size()));
    CHECK(a[r].cols() == 512);
    CHECK(max_abs_diff(a[r], b[r]) == 0.0f);
  }
  const auto& c = gguf_model().config();
  CHECK(c.dim == 64);
  CHECK(c.hidden_dim == 172);
  CHECK(c.n_layers == 5);
  CHECK(c.n_heads == 8);
  CHECK(c.n_kv_heads == 4);
  CHECK(c.vocab_size == 512);
  CHECK(c.context_length == 2048);
  CHECK(bin_model().config().context_length == 512);
}

TEST_CASE("stories260K: greedy generation reproduces golden_greedy.json token for token") {
  const auto g = golden();
  const auto& tok = bin_tokenizer();
  attrib::generation_settings settings;
  settings.stop_tokens = {1};  // run.c stops at BOS

  SUBCASE("from BOS alone") {
    const auto& expected_json = g["bos_only_steps_257"];
    const auto expected = expected_json["ids_including_bos"].get<std::vector<token_id>>();
    settings.max_new_tokens = static_cast<attrib::index>(expected.size()) - 1;
    for (const auto* model : {&bin_model(), &gguf_model()}) {
      const auto out = attrib::generate(*model, batch{{1}}, settings);
      CHECK(out[0] == expected);
    }
    CHECK(tok.decode(expected) == expected_json["text"].get<std::string>());
    const auto logits = bin_model().forward(batch{{1}});
    for (const auto& entry : expected_json["pos0_top5_id_token_logit"]) {
      const auto id = entry[0].get<token_id>();
      CHECK(tok.decode_piece(-1, id) == entry[1].get<std::string>());
      // The golden logits are rounded to 4 decimals and were computed in float64.
      CHECK(std::abs(logits[0](0, id) - entry[2].get<double>()) < 1e-3);
    }
  }

  SUBCASE("from each prompt, batched") {
    batch encoded;
    std::vector<std::vector<token_id>> expected;
    for (const auto& [text, entry] : g["prompts_steps_64"].items()) {
      const auto ids = tok.encode(text);
      CHECK(ids == entry["prompt_ids"].get<std::vector<token_id>>());
      encoded.push_back(ids);
      expected.push_back(entry["greedy_ids_including_prompt"].get<std::vector<token_id>>());
      CHECK(tok.decode(expected.back()) == entry["text"].get<std::string>());
      // The first generated token's logits, from a plain forward pass.
      const auto logits = bin_model().forward(batch{ids});
      for (const auto& top : entry["first_generated_top5"])
        CHECK(std::abs(logits[0](logits[0].rows() - 1, top[0].get<token_id>()) -
                       top[1].get<double>()) < 1e-3);
    }
    REQUIRE(expected.size() == 3);
    settings.max_new_tokens = 64;
    const auto out = attrib::generate(bin_model(), encoded, settings);
    for (std::size_t r = 0; r < out.size(); ++r) {
      REQUIRE(out[r].size() >= expected[r].size());
      CHECK(std::vector<token_id>(
                out[r].begin(), out[r].begin() + static_cast<std::ptrdiff_t>(expected[r].size())) ==
            expected[r]);
    }
  }
}

TEST_CASE("stories260K: KV-cached decoding gives the logits of full recomputation, bit for bit") {
  const auto& model = bin_model();
  const auto full = model.forward(prompts);
  // Feed the rows in uneven pieces: row r gets 1, 2, 3, ... tokens per call.
  auto cache = model.make_cache(static_cast<attrib::index>(prompts.size()));
  std::vector<std::size_t> next(prompts.size(), 0);
  std::vector<attrib::float_matrix> pieces(prompts.size(), attrib::float_matrix(0, 512));
  for (int call = 1; call < 6; ++call) {
    batch step(prompts.size());
    for (std::size_t r = 0; r < prompts.size(); ++r) {
      const std::size_t take =
          std::min(prompts[r].size() - next[r],
                   static_cast<std::size_t>(call + static_cast<int>(r)) % 3 + 1);
      step[r].assign(prompts[r].begin() + static_cast<std::ptrdiff_t>(next[r]),
                     prompts[r].begin() + static_cast<std::ptrdiff_t>(next[r] + take));
      next[r] += take;
    }
    const auto logits = model.forward(cache, step);
    for (std::size_t r = 0; r < prompts.size(); ++r) {
      CHECK(logits[r].rows() == static_cast<attrib::index>(step[r].size()));
      const auto old_rows = pieces[r].rows();
      pieces[r].conservativeResize(old_rows + logits[r].rows(), 512);
      pieces[r].bottomRows(logits[r].rows()) = logits[r];
    }
  }
  for (std::size_t r = 0; r < prompts.size(); ++r) {
    REQUIRE(next[r] == prompts[r].size());
    CHECK(cache.length(static_cast<attrib::index>(r)) ==
          static_cast<attrib::index>(prompts[r].size()));
    CHECK(max_abs_diff(pieces[r], full[r]) == 0.0f);
  }

  SUBCASE("a batch row's logits do not depend on the other rows") {
    for (std::size_t r = 0; r < prompts.size(); ++r)
      CHECK(max_abs_diff(model.forward(batch{prompts[r]})[0], full[r]) == 0.0f);
  }
  SUBCASE("restricted logits and last-position logits are columns and rows of the full ones") {
    attrib::forward_options options;
    options.logit_tokens = {432, 7, 511, 0};
    options.last_position_only = true;
    const auto restricted = model.forward(prompts, options);
    for (std::size_t r = 0; r < prompts.size(); ++r) {
      REQUIRE(restricted[r].rows() == 1);
      REQUIRE(restricted[r].cols() == 4);
      for (int k = 0; k < 4; ++k)
        CHECK(restricted[r](0, k) ==
              full[r](full[r].rows() - 1, options.logit_tokens[static_cast<std::size_t>(k)]));
    }
  }
  SUBCASE("truncating the cache recomputes a suffix") {
    auto cache2 = model.make_cache(1);
    model.forward(cache2, batch{prompts[1]});
    cache2.truncate(0, 4);
    const auto suffix = model.forward(cache2, batch{{prompts[1].begin() + 4, prompts[1].end()}});
    CHECK(max_abs_diff(suffix[0], full[1].bottomRows(full[1].rows() - 4)) == 0.0f);
  }
}

TEST_CASE("stories260K: threads and Llama 3.1 RoPE frequency factors") {
  attrib::forward_options threaded;
  threaded.threads = 3;
  const auto one = bin_model().forward(prompts);
  const auto three = bin_model().forward(prompts, threaded);
  for (std::size_t r = 0; r < prompts.size(); ++r) CHECK(max_abs_diff(one[r], three[r]) == 0.0f);

  // stories260K with a rope_freqs.weight tensor, as llama.cpp writes for Llama 3.1.
  const attrib::mapped_file file(model_dir / "stories260K.gguf");
  auto with_factors = [&](const std::vector<float>& factors) {
    auto b = stories_metadata();
    for (const auto& t : attrib::parse_gguf(file.bytes()).tensors)
      b.tensor(t.name, t.shape, 0,
               std::string(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size()));
    std::string data;
    for (float f : factors) put(data, std::bit_cast<std::uint32_t>(f), 4);
    b.tensor("rope_freqs.weight", {factors.size()}, 0, std::move(data));
    return b.build();
  };
  const std::string ones = with_factors({1, 1, 1, 1});
  const auto same = attrib::transformer_model_from_gguf(attrib::parse_gguf(bytes_of(ones)));
  CHECK(same.config().rope_freq_factors.size() == 4);
  CHECK(max_abs_diff(same.forward(prompts)[0], one[0]) == 0.0f);
  const std::string slower = with_factors({1, 2, 4, 8});
  const auto scaled = attrib::transformer_model_from_gguf(attrib::parse_gguf(bytes_of(slower)));
  const auto logits = scaled.forward(prompts)[0];
  CHECK(max_abs_diff(logits.topRows(1), one[0].topRows(1)) == 0.0f);  // position 0 is not rotated
  CHECK(max_abs_diff(logits, one[0]) > 1e-3f);
  const std::string wrong = with_factors({1, 1, 1});
  CHECK_THROWS_WITH_AS(attrib::transformer_model_from_gguf(attrib::parse_gguf(bytes_of(wrong))),
                       doctest::Contains("rope_freq_factors has 3 entries, expected 4"),
                       attrib::format_error);
}

TEST_CASE("generation: sampling is seeded and top_p near 0 is greedy") {
  attrib::generation_settings settings;
  settings.max_new_tokens = 20;
  settings.temperature = 1.0f;
  settings.seed = 7;
  const batch start = {{1}, {1, 403}};
  const auto a = attrib::generate(bin_model(), start, settings);
  const auto b = attrib::generate(bin_model(), start, settings);
  CHECK(a == b);
  CHECK(a[0].size() == 21);
  settings.seed = 8;
  CHECK(attrib::generate(bin_model(), start, settings) != a);
  settings.top_p = 1e-6f;
  attrib::generation_settings greedy;
  greedy.max_new_tokens = 20;
  CHECK(attrib::generate(bin_model(), start, settings) ==
        attrib::generate(bin_model(), start, greedy));

  const std::vector<float> logits = {0.0f, 2.0f, 1.0f};
  CHECK(attrib::sample_token(logits, 0.0f, 1.0f, 0.5) == 1);
  CHECK(attrib::sample_token(logits, 1.0f, 1.0f, 0.0) == 0);
  CHECK(attrib::sample_token(logits, 1.0f, 1.0f, 0.999999) == 2);
  CHECK(attrib::sample_token(logits, 1.0f, 0.5f, 0.999999) == 1);
  CHECK_THROWS_AS(attrib::generate(bin_model(), batch{{}}, greedy), attrib::invalid_argument);
  greedy.top_p = 0.0f;
  CHECK_THROWS_AS(attrib::generate(bin_model(), start, greedy), attrib::invalid_argument);
}

TEST_CASE("tokenizer: llama2.c ids, GGUF vocabulary, byte fallback and round trips") {
  const auto& tok = bin_tokenizer();
  const attrib::mapped_file file(model_dir / "stories260K.gguf");
  const auto from_gguf = attrib::sentencepiece_bpe::from_gguf(attrib::parse_gguf(file.bytes()));
  CHECK(tok.vocab_size() == 512);
  CHECK(tok.encode("Once upon a time") == std::vector<token_id>{1, 403, 407, 261, 378});
  CHECK(tok.encode("") == std::vector<token_id>{1});
  CHECK(tok.encode("", false).empty());
  CHECK(tok.piece(317) == " Lily");
  CHECK(tok.piece(432) == ",");
  CHECK(tok.piece(410) == " ");
  CHECK(from_gguf.piece(410) == " ");
  CHECK(from_gguf.kind(13) == attrib::token_kind::byte);
  CHECK(tok.kind(13) == attrib::token_kind::byte);
  CHECK(tok.kind(1) == attrib::token_kind::control);

  const std::vector<std::string> texts = {"Once upon a time",
                                          "Lily and Tom went to the park.",
                                          "a\nb\tc  d",
                                          "héllo wörld ✓ 世界 🙂",
                                          "\x01\x7f",
                                          "ends with space ",
                                          "  two leading spaces",
                                          "x"};
  for (const auto& text : texts) {
    CAPTURE(text);
    const auto ids = tok.encode(text);
    CHECK(ids == from_gguf.encode(text));
    CHECK(tok.decode(ids) == text);
    CHECK(from_gguf.decode(ids) == text);
  }
  // Characters without a piece fall back to byte tokens <0xNN> = id 3 + byte.
  const auto ids = tok.encode("✓", false);
  CHECK(ids == std::vector<token_id>{410, 3 + 0xE2, 3 + 0x9C, 3 + 0x93});
  // Malformed UTF-8 is kept byte for byte.
  const std::string broken = "a\xC3(\xFF";
  CHECK(tok.decode(tok.encode(broken)) == broken);
  CHECK_THROWS_WITH_AS(tok.decode(std::vector<token_id>{1, 512}), doctest::Contains("token id 512"),
                       attrib::invalid_argument);
}

TEST_CASE("GGUF: F16, BF16 and Q8_0 weights are converted when used") {
  SUBCASE("f16 conversion is exact both ways for every half value") {
    for (std::uint32_t h = 0; h < 0x10000u; ++h) {
      const float f = attrib::f16_to_float(static_cast<std::uint16_t>(h));
      if (std::isnan(f)) continue;
      REQUIRE(float_to_f16(f) == h);
    }
    CHECK(attrib::f16_to_float(0x3C00) == 1.0f);
    CHECK(attrib::f16_to_float(0x0001) == std::ldexp(1.0f, -24));
    CHECK(attrib::bf16_to_float(0x3F80) == 1.0f);
  }
  for (std::uint32_t type : {1u, 30u, 8u}) {
    CAPTURE(type);
    const std::string stored = stories_as(type);
    const auto parsed = attrib::parse_gguf(bytes_of(stored));
    CHECK(parsed.find_tensor("blk.0.attn_q.weight")->type == static_cast<attrib::ggml_type>(type));
    // The quantised model computes exactly what an F32 model of its dequantised weights does.
    const std::string reference = dequantized_copy(stored);
    const auto quantised = attrib::transformer_model_from_gguf(parsed);
    const auto dequantised = attrib::transformer_model_from_gguf(attrib::parse_gguf(bytes_of(reference)));
    const auto a = quantised.forward(prompts);
    const auto b = dequantised.forward(prompts);
    const auto f32 = bin_model().forward(prompts);
    for (std::size_t r = 0; r < prompts.size(); ++r) {
      CHECK(max_abs_diff(a[r], b[r]) == 0.0f);
      // And stays close to the original.
      CHECK(max_abs_diff(a[r], f32[r]) < (type == 1 ? 0.05f : 0.5f));
    }
  }
}

TEST_CASE("llama2.c files: truncated or inconsistent input is rejected with a named reason") {
  const std::string bin = attrib::detail::read_file_bytes(model_dir / "stories260K.bin");
  auto parse = [](const std::string& bytes) {
    return attrib::parse_llama2c_checkpoint(bytes_of(bytes), "model.bin");
  };
  CHECK_THROWS_WITH_AS(parse(bin.substr(0, 20)), doctest::Contains("28-byte header"),
                       attrib::format_error);
  CHECK_THROWS_WITH_AS(parse(bin.substr(0, 28)), doctest::Contains("token_embedding_table"),
                       attrib::format_error);
  CHECK_THROWS_WITH_AS(parse(bin.substr(0, 200000)), doctest::Contains("array wq"),
                       attrib::format_error);
  CHECK_THROWS_WITH_AS(parse(bin.substr(0, bin.size() - 1)), doctest::Contains("freq_cis_imag"),
                       attrib::format_error);
  CHECK_THROWS_WITH_AS(parse(bin + "abcd"), doctest::Contains("after the last array"),
                       attrib::format_error);
  for (std::size_t cut = 0; cut < bin.size(); cut += 4099)
    CHECK_THROWS_AS(parse(bin.substr(0, cut)), attrib::format_error);

  std::string bad = bin;
  bad[12] = 3;  // n_heads 3 does not divide dim 64
  CHECK_THROWS_WITH_AS(parse(bad), doctest::Contains("not a multiple of n_heads"),
                       attrib::format_error);
  bad = bin;
  bad[3] = static_cast<char>(0x80);  // dim negative
  CHECK_THROWS_WITH_AS(parse(bad), doctest::Contains("header dim"), attrib::format_error);
  bad = bin;
  bad.replace(20, 4,
              std::string("\x00\xFE\xFF\xFF", 4));  // vocab -512: an unshared classifier is missing
  CHECK_THROWS_WITH_AS(parse(bad), doctest::Contains("wcls"), attrib::format_error);
  CHECK_THROWS_WITH_AS(attrib::load_llama2c_model(model_dir / "no-such-file.bin"),
                       doctest::Contains("cannot open"), attrib::format_error);

  const std::string tok = attrib::detail::read_file_bytes(model_dir / "tok512.bin");
  auto parse_tok = [](const std::string& bytes, std::size_t n) {
    return attrib::parse_llama2c_tokenizer(bytes_of(bytes), n, "tok.bin");
  };
  CHECK(parse_tok(tok, 512).pieces.size() == 512);
  CHECK_THROWS_WITH_AS(parse_tok(tok.substr(0, tok.size() - 1), 512),
                       doctest::Contains("token 511"), attrib::format_error);
  CHECK_THROWS_WITH_AS(parse_tok(tok, 511), doctest::Contains("follow the last"),
                       attrib::format_error);
  CHECK_THROWS_WITH_AS(parse_tok(tok, 100000), doctest::Contains("cannot fit"),
                       attrib::format_error);
  bad = tok;
  bad[8] = 9;  // token 0's length 9 > max_token_length 7
  CHECK_THROWS_WITH_AS(parse_tok(bad, 512), doctest::Contains("token 0: length 9"),
                       attrib::format_error);
  for (std::size_t cut = 0; cut < tok.size(); cut += 97)
    CHECK_THROWS_AS(parse_tok(tok.substr(0, cut), 512), attrib::format_error);
}

TEST_CASE("GGUF files: truncated or corrupt input is rejected with a named reason") {
  const std::string gguf = attrib::detail::read_file_bytes(model_dir / "stories260K.gguf");
  auto parse = [](const std::string& bytes) {
    return attrib::parse_gguf(bytes_of(bytes), "model.gguf");
  };
  CHECK(parse(gguf).tensors.size() == 48);
  CHECK(parse(gguf).data_offset == 14176);
  for (std::size_t cut = 0; cut < 14176; cut += 211)
    CHECK_THROWS_AS(parse(gguf.substr(0, cut)), attrib::format_error);
  CHECK_THROWS_WITH_AS(parse(gguf.substr(0, gguf.size() - 1)), doctest::Contains("extends beyond"),
                       attrib::format_error);

  std::string bad = gguf;
  bad[3] = 'X';
  CHECK_THROWS_WITH_AS(parse(bad), doctest::Contains("'GGUF'"), attrib::format_error);
  bad = gguf;
  bad[4] = 9;
  CHECK_THROWS_WITH_AS(parse(bad), doctest::Contains("version 9"), attrib::format_error);
  bad = gguf;
  bad[16 + 7] = 0x10;  // metadata count 2^60
  CHECK_THROWS_WITH_AS(parse(bad), doctest::Contains("metadata count"), attrib::format_error);
  bad = gguf;
  bad[24 + 6] = 0x10;  // first key length 2^52
  CHECK_THROWS_WITH_AS(parse(bad), doctest::Contains("string length"), attrib::format_error);

  auto tiny = [](std::uint32_t type, std::vector<std::uint64_t> shape, std::string data,
                 std::int64_t offset = -1) {
    gguf_builder b;
    b.str("general.architecture", "llama");
    b.tensor("t", std::move(shape), type, std::move(data));
    b.tensors.back().offset = offset;
    return b.build();
  };
  CHECK(parse(tiny(0, {4}, std::string(16, '\0'))).tensors[0].bytes.size() == 16);
  CHECK_THROWS_WITH_AS(parse(tiny(0, {4}, std::string(16, '\0'), 64)),
                       doctest::Contains("tensor 't' data [64, +16) extends beyond"),
                       attrib::format_error);
  CHECK_THROWS_WITH_AS(parse(tiny(0, {4}, std::string(16, '\0'), 8)),
                       doctest::Contains("not a multiple of the alignment"), attrib::format_error);
  CHECK_THROWS_WITH_AS(parse(tiny(2, {32}, std::string(18, '\0'))),
                       doctest::Contains("ggml type 2"), attrib::format_error);
  CHECK_THROWS_WITH_AS(parse(tiny(99, {4}, std::string(16, '\0'))),
                       doctest::Contains("ggml type 99"), attrib::format_error);
  CHECK_THROWS_WITH_AS(parse(tiny(0, {1, 1, 1, 1, 1}, std::string(4, '\0'))),
                       doctest::Contains("5 dimensions"), attrib::format_error);
  CHECK_THROWS_WITH_AS(parse(tiny(0, {0}, "")), doctest::Contains("positive size"),
                       attrib::format_error);
  CHECK_THROWS_WITH_AS(parse(tiny(8, {16}, std::string(34, '\0'))),
                       doctest::Contains("block size 32"), attrib::format_error);
  CHECK_THROWS_WITH_AS(parse(tiny(0, {1ull << 40, 1ull << 40}, "")), doctest::Contains("overflows"),
                       attrib::format_error);

  gguf_builder dup;
  dup.u32("a", 1).u32("a", 2);
  CHECK_THROWS_WITH_AS(parse(dup.build()), doctest::Contains("'a' appears twice"),
                       attrib::format_error);
  gguf_builder align;
  align.u32("general.alignment", 48);
  CHECK_THROWS_WITH_AS(parse(align.build()), doctest::Contains("power of two"),
                       attrib::format_error);

  // Parses, but is not a usable model.
  CHECK_THROWS_WITH_AS(attrib::transformer_model_from_gguf(parse(tiny(0, {4}, std::string(16, '\0')))),
                       doctest::Contains("llama.embedding_length"), attrib::format_error);
  auto gpt = stories_metadata();
  gpt.metadata.clear();
  gpt.kv_count = 0;
  gpt.str("general.architecture", "gpt2");
  CHECK_THROWS_WITH_AS(attrib::transformer_model_from_gguf(parse(gpt.build())),
                       doctest::Contains("'gpt2' is not supported"), attrib::format_error);
  auto missing = stories_metadata();
  missing.tensor("token_embd.weight", {64, 512}, 0, std::string(64 * 512 * 4, '\0'));
  CHECK_THROWS_WITH_AS(attrib::transformer_model_from_gguf(parse(missing.build())),
                       doctest::Contains("no tensor 'output_norm.weight'"), attrib::format_error);
  auto wrong_shape = stories_metadata();
  for (const auto& t : parse(gguf).tensors) {
    const bool norm = t.name == "output_norm.weight";
    wrong_shape.tensor(
        t.name, norm ? std::vector<std::uint64_t>{32} : t.shape, 0,
        std::string(reinterpret_cast<const char*>(t.bytes.data()), norm ? 128 : t.bytes.size()));
  }
  CHECK_THROWS_WITH_AS(attrib::transformer_model_from_gguf(parse(wrong_shape.build())),
                       doctest::Contains("final_norm"), attrib::format_error);
}

TEST_CASE("forward: token ids out of range and prompts beyond the context are rejected") {
  const auto& model = bin_model();
  CHECK_THROWS_WITH_AS(model.forward(batch{{1, 512}}),
                       doctest::Contains("token id 512 at batch row 0, index 1"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(model.forward(batch{{1}, {-1}}),
                       doctest::Contains("token id -1 at batch row 1"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(model.forward(batch{std::vector<token_id>(513, 1)}),
                       doctest::Contains("context length 512"), attrib::invalid_argument);
  attrib::forward_options options;
  options.logit_tokens = {600};
  CHECK_THROWS_WITH_AS(model.forward(batch{{1}}, options), doctest::Contains("logit_tokens[0]"),
                       attrib::invalid_argument);

  // A failed call leaves the cache as it was.
  auto cache = model.make_cache(2);
  model.forward(cache, batch{{1, 403}, {1}});
  CHECK_THROWS_AS(model.forward(cache, batch{{407}, {std::vector<token_id>(512, 1)}}),
                  attrib::invalid_argument);
  CHECK(cache.length(0) == 2);
  CHECK(cache.length(1) == 1);
  CHECK_THROWS_AS(model.forward(cache, batch{{1}}), attrib::invalid_argument);
}

TEST_CASE("gguf: hostile counts are refused in linear time, and arrays cost their size in the file") {
  // 160,000 tensor entries whose last repeats the first: a pairwise duplicate check took 86 s.
  gguf_builder many;
  many.str("general.architecture", "llama");
  for (int k = 0; k < 160000; ++k) many.tensor("t" + std::to_string(k), {1}, 0, "");
  many.tensor("t0", {1}, 0, "");
  const std::string many_bytes = many.build();
  CHECK_THROWS_WITH_AS(attrib::parse_gguf(bytes_of(many_bytes)), doctest::Contains("tensor 't0' appears twice"),
                       attrib::format_error);

  // Names from the file are quoted in messages cut to 40 bytes: a 1 MB tensor name and a 1 MB
  // metadata key (each duplicated) give messages of a line, not of a megabyte.
  const std::string long_name(1 << 20, 'n');
  gguf_builder named;
  named.str(long_name, "a").str(long_name, "b");
  try {
    (void)attrib::parse_gguf(bytes_of(named.build()));
    FAIL("a duplicated metadata key was accepted");
  } catch (const attrib::format_error& e) {
    CHECK(std::string(e.what()).find("appears twice") != std::string::npos);
    CHECK(std::string(e.what()).size() < 200);
  }
  gguf_builder tensors;
  tensors.tensor(long_name, {1}, 0, "").tensor(long_name, {1}, 0, "");
  try {
    (void)attrib::parse_gguf(bytes_of(tensors.build()));
    FAIL("a duplicated tensor was accepted");
  } catch (const attrib::format_error& e) {
    CHECK(std::string(e.what()).find("nnnnnnnn...' appears twice") != std::string::npos);
    CHECK(std::string(e.what()).size() < 200);
  }

  // A metadata array is held as its encoded bytes (one per uint8 element here), not as ~48-byte
  // values, and decoded on request.
  std::vector<std::uint8_t> big(1 << 18);
  for (std::size_t k = 0; k < big.size(); ++k) big[k] = static_cast<std::uint8_t>(k % 251);
  gguf_builder arrays;
  arrays.u8_array("big", big).str_array("names", {"a", "bc", ""});
  const std::string array_bytes = arrays.build();
  const auto g = attrib::parse_gguf(bytes_of(array_bytes));
  const auto& stored = g.at("big");
  CHECK(stored.array_size("big") == big.size());
  CHECK(std::get<attrib::gguf_array>(stored.data).encoded.size() == big.size());
  const auto decoded = stored.as_array("big");
  REQUIRE(decoded.size() == big.size());
  for (std::size_t k : {std::size_t{0}, std::size_t{250}, std::size_t{251}, big.size() - 1})
    CHECK(decoded[k].as_uint("big") == k % 251);
  const auto names = g.at("names").as_array("names");
  REQUIRE(names.size() == 3);
  CHECK(names[1].as_string("names") == "bc");
  CHECK(names[2].as_string("names").empty());
  CHECK_THROWS_WITH_AS((void)g.at("big").as_string("big"),
                       doctest::Contains("'big' is not a string"), attrib::format_error);
  CHECK_THROWS_WITH_AS((void)g.at("general.alignment_missing"), doctest::Contains("no key"), attrib::format_error);
  // An array that claims more elements than the bytes left is refused before anything is allocated.
  std::string truncated = array_bytes.substr(0, 24 + 8 + 3 + 4 + 4 + 8 + 1000);
  CHECK_THROWS_WITH_AS(attrib::parse_gguf(bytes_of(truncated)), doctest::Contains("cannot fit"), attrib::format_error);
}

// --- the SIMD kernels against their scalar definitions ------------------------------------------

namespace {

// dot()'s definition written out: eight interleaved partial sums combined pairwise, then the tail.
template <class S>
S reference_dot(const S* a, const S* b, long n) {
  S acc[8] = {};
  long j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) acc[k] += a[j + k] * b[j + k];
  S tail = 0;
  for (; j < n; ++j) tail += a[j] * b[j];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

template <class S>
void check_products_match_definition() {
  attrib::rng gen(5);
  for (long n : {1L, 7L, 8L, 13L, 64L, 172L})
    for (long rows : {1L, 2L, 3L, 5L, 7L})
      for (long outputs : {1L, 3L, 4L, 7L, 9L}) {
        std::vector<S> x(static_cast<std::size_t>(rows * n)), w(static_cast<std::size_t>(outputs * n));
        for (auto& v : x) v = static_cast<S>(gen.normal());
        for (auto& v : w) v = static_cast<S>(gen.normal());
        std::vector<S> y(static_cast<std::size_t>(rows * outputs), S(-1));
        attrib::detail::kernels::dot_rows(x.data(), n, rows, w.data(), n, outputs, n, y.data(), outputs);
        for (long i = 0; i < rows; ++i)
          for (long o = 0; o < outputs; ++o) {
            const S expected = reference_dot(x.data() + i * n, w.data() + o * n, n);
            CHECK(y[static_cast<std::size_t>(i * outputs + o)] == expected);  // bit for bit
            CHECK(attrib::detail::kernels::dot(x.data() + i * n, w.data() + o * n, n) == expected);
          }
      }
}

}  // namespace

TEST_CASE("kernels: dot and the tiled products equal dot's scalar definition bit for bit") {
  check_products_match_definition<float>();
  check_products_match_definition<double>();
}

TEST_CASE("kernels: the vector exp is within 1 ulp of exp in double, everywhere softmax uses it") {
  namespace k = attrib::detail::kernels;
  std::vector<float> xs;
  for (double x = -87.0; x <= 20.0; x += 1e-4) xs.push_back(static_cast<float>(x));
  std::vector<float> ys = xs;
  k::exp_shifted(ys.data(), static_cast<long>(ys.size()), 0.0f);
  double worst = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double exact = std::exp(static_cast<double>(xs[i]));
    const float rounded = static_cast<float>(exact);
    const double ulp = std::nextafter(rounded, INFINITY) - rounded;
    worst = std::max(worst, std::fabs(ys[i] - exact) / ulp);
  }
  CHECK(worst <= 1.0);
  // A value's result does not depend on its place (full vectors or the padded tail) or the shift.
  for (long n = 1; n <= 19; ++n) {
    std::vector<float> part(xs.begin() + 1000, xs.begin() + 1000 + n);
    k::exp_shifted(part.data(), n, 0.0f);
    for (long i = 0; i < n; ++i) CHECK(part[static_cast<std::size_t>(i)] == ys[1000 + static_cast<std::size_t>(i)]);
  }
  // NaN stays NaN; far below the range gives (nearly) zero, not garbage.
  float odd[3] = {NAN, -1e30f, 0.0f};
  k::exp_shifted(odd, 3, 0.0f);
  CHECK(std::isnan(odd[0]));
  CHECK(odd[1] >= 0.0f);
  CHECK(odd[1] < 1e-37f);
  CHECK(odd[2] == 1.0f);
}

TEST_CASE("kernels: softmax sums to one, matches the double-precision softmax, and passes NaN on") {
  namespace k = attrib::detail::kernels;
  attrib::rng gen(9);
  for (long n : {1L, 3L, 8L, 17L, 200L}) {
    std::vector<float> x(static_cast<std::size_t>(n));
    for (auto& v : x) v = static_cast<float>(4.0 * gen.normal());
    std::vector<double> exact(x.begin(), x.end());
    const double top = *std::max_element(exact.begin(), exact.end());
    double total = 0;
    for (auto& v : exact) total += (v = std::exp(v - top));
    k::softmax(x.data(), n);
    double sum = 0;
    for (long i = 0; i < n; ++i) {
      sum += x[static_cast<std::size_t>(i)];
      CHECK(std::fabs(x[static_cast<std::size_t>(i)] - exact[static_cast<std::size_t>(i)] / total) <= 1e-6);
    }
    CHECK(std::fabs(sum - 1.0) <= 1e-5);
  }
  std::vector<float> with_nan{1.0f, NAN, 2.0f, 0.5f, 3.0f, 1.0f, 1.0f, 1.0f, 1.0f, 2.0f};
  k::softmax(with_nan.data(), static_cast<long>(with_nan.size()));
  for (float v : with_nan) CHECK(std::isnan(v));
}
