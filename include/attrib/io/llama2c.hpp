#pragma once
// The two files of Karpathy's llama2.c (https://github.com/karpathy/llama2.c, run.c): the legacy
// (version 0) checkpoint `.bin` and the tokenizer `.bin`. Both are parsed from a byte span
// without copying tensor data; every size is checked against the bytes present, so that a
// truncated or hostile file fails with a format_error naming what is wrong (the parsers are
// fuzzed).
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/io/gguf.hpp"

namespace attrib {

// The seven int32 values that open a llama2.c checkpoint.
struct llama2c_header {
  std::int32_t dim = 0;
  std::int32_t hidden_dim = 0;
  std::int32_t n_layers = 0;
  std::int32_t n_heads = 0;
  std::int32_t n_kv_heads = 0;
  std::int32_t vocab_size = 0;  // as stored: negative when the classifier is not shared
  std::int32_t seq_len = 0;
};

// The float32 arrays of a checkpoint, in file order, as spans over the parsed bytes. Stacked
// per-layer arrays (rms_att, wq, ...) hold n_layers consecutive blocks; matrices are row-major
// [out][in]. `classifier` is `token_embedding` when the header's vocab_size is positive.
struct llama2c_checkpoint {
  llama2c_header header;
  std::int32_t vocab_size = 0;  // |header.vocab_size|
  bool shared_classifier = true;
  std::span<const std::byte> token_embedding;  // [vocab][dim]
  std::span<const std::byte> rms_att;          // [layers][dim]
  std::span<const std::byte> wq;               // [layers][dim][dim]
  std::span<const std::byte> wk;               // [layers][kv_dim][dim]
  std::span<const std::byte> wv;               // [layers][kv_dim][dim]
  std::span<const std::byte> wo;               // [layers][dim][dim]
  std::span<const std::byte> rms_ffn;          // [layers][dim]
  std::span<const std::byte> w1;               // [layers][hidden][dim]  (gate)
  std::span<const std::byte> w2;               // [layers][dim][hidden]  (down)
  std::span<const std::byte> w3;               // [layers][hidden][dim]  (up)
  std::span<const std::byte> rms_final;        // [dim]
  std::span<const std::byte> classifier;       // [vocab][dim]
};

namespace detail {
[[noreturn]] inline void llama2c_fail(const std::string& source, const std::string& what) {
  throw format_error(source + ": invalid llama2.c checkpoint: " + what);
}
}  // namespace detail

// Parses a llama2.c version-0 checkpoint. Throws format_error naming `source` when the header is
// short, a hyper-parameter is not positive, dim is not a multiple of n_heads, n_heads is not a
// multiple of n_kv_heads, or an array (named in the message) extends beyond the file. Trailing
// bytes after the arrays are accepted only where llama2.c writes them: the legacy RoPE tables
// (2 * seq_len * head_size / 2 floats) before an unshared classifier.
inline llama2c_checkpoint parse_llama2c_checkpoint(std::span<const std::byte> bytes,
                                                   const std::string& source = "<memory>") {
  using detail::llama2c_fail;
  if (bytes.size() < 28)
    llama2c_fail(source, "file has " + std::to_string(bytes.size()) +
                             " bytes, fewer than the 28-byte header");
  llama2c_checkpoint c;
  std::int32_t* fields[] = {&c.header.dim,     &c.header.hidden_dim, &c.header.n_layers,
                            &c.header.n_heads, &c.header.n_kv_heads, &c.header.vocab_size,
                            &c.header.seq_len};
  const char* names[] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                         "n_kv_heads", "vocab_size", "seq_len"};
  for (int k = 0; k < 7; ++k) {
    *fields[k] = static_cast<std::int32_t>(detail::load_u32(bytes.data() + 4 * k));
    if (*fields[k] == 0 || (*fields[k] < 0 && k != 5) || *fields[k] == INT32_MIN)
      llama2c_fail(source, std::string("header ") + names[k] + " is " + std::to_string(*fields[k]) +
                               ", expected a positive value");
  }
  const auto& h = c.header;
  c.vocab_size = h.vocab_size < 0 ? -h.vocab_size : h.vocab_size;
  c.shared_classifier = h.vocab_size > 0;
  if (h.dim % h.n_heads != 0)
    llama2c_fail(source, "dim " + std::to_string(h.dim) + " is not a multiple of n_heads " +
                             std::to_string(h.n_heads));
  if (h.n_heads % h.n_kv_heads != 0)
    llama2c_fail(source, "n_heads " + std::to_string(h.n_heads) +
                             " is not a multiple of n_kv_heads " + std::to_string(h.n_kv_heads));

  const std::uint64_t dim = static_cast<std::uint64_t>(h.dim);
  const std::uint64_t hidden = static_cast<std::uint64_t>(h.hidden_dim);
  const std::uint64_t layers = static_cast<std::uint64_t>(h.n_layers);
  const std::uint64_t head_size = dim / static_cast<std::uint64_t>(h.n_heads);
  const std::uint64_t kv_dim = head_size * static_cast<std::uint64_t>(h.n_kv_heads);
  const std::uint64_t vocab = static_cast<std::uint64_t>(c.vocab_size);
  std::uint64_t position = 28;
  auto take = [&](std::initializer_list<std::uint64_t> shape, const char* name) {
    const std::uint64_t left = bytes.size() - position;
    // Sizes saturate instead of wrapping, so that any size beyond the file is reported as such.
    std::uint64_t size = 4;
    for (auto n : shape) size = n != 0 && size > UINT64_MAX / n ? UINT64_MAX : size * n;
    if (size > left)
      llama2c_fail(source,
                   std::string("array ") + name + " needs " +
                       (size == UINT64_MAX ? std::string("more than 2^64") : std::to_string(size)) +
                       " bytes at offset " + std::to_string(position) + ", but the file has " +
                       std::to_string(left) + " left");
    const auto span =
        bytes.subspan(static_cast<std::size_t>(position), static_cast<std::size_t>(size));
    position += size;
    return span;
  };
  c.token_embedding = take({vocab, dim}, "token_embedding_table");
  c.rms_att = take({layers, dim}, "rms_att_weight");
  c.wq = take({layers, dim, dim}, "wq");
  c.wk = take({layers, kv_dim, dim}, "wk");
  c.wv = take({layers, kv_dim, dim}, "wv");
  c.wo = take({layers, dim, dim}, "wo");
  c.rms_ffn = take({layers, dim}, "rms_ffn_weight");
  c.w1 = take({layers, hidden, dim}, "w1");
  c.w2 = take({layers, dim, hidden}, "w2");
  c.w3 = take({layers, hidden, dim}, "w3");
  c.rms_final = take({dim}, "rms_final_weight");
  // run.c skips the legacy freq_cis_real and freq_cis_imag tables.
  take({static_cast<std::uint64_t>(h.seq_len), head_size / 2}, "freq_cis_real");
  take({static_cast<std::uint64_t>(h.seq_len), head_size / 2}, "freq_cis_imag");
  c.classifier = c.shared_classifier ? c.token_embedding : take({vocab, dim}, "wcls");
  if (position != bytes.size())
    llama2c_fail(source, "file has " + std::to_string(bytes.size() - position) +
                             " bytes after the last array");
  return c;
}

// A llama2.c tokenizer: one piece and one merge score per token id.
struct llama2c_vocabulary {
  std::int32_t max_token_length = 0;
  std::vector<std::string> pieces;
  std::vector<float> scores;
};

// Parses a llama2.c tokenizer `.bin`: int32 max_token_length, then for each of `vocab_size`
// tokens a float32 score, an int32 length and that many bytes. The file does not store the
// vocabulary size; it comes from the checkpoint header. Throws format_error naming `source` and
// the token when a length is negative or longer than max_token_length, a score is not finite,
// the file ends early, or bytes follow the last token.
inline llama2c_vocabulary parse_llama2c_tokenizer(std::span<const std::byte> bytes,
                                                  std::size_t vocab_size,
                                                  const std::string& source = "<memory>") {
  auto fail = [&](const std::string& what) {
    throw format_error(source + ": invalid llama2.c tokenizer: " + what);
  };
  if (bytes.size() < 4) fail("file has fewer than the 4 bytes of max_token_length");
  llama2c_vocabulary v;
  v.max_token_length = static_cast<std::int32_t>(detail::load_u32(bytes.data()));
  if (v.max_token_length <= 0)
    fail("max_token_length is " + std::to_string(v.max_token_length) + ", expected positive");
  // Each token takes at least 8 bytes, which bounds the allocation by the file size.
  if (vocab_size > (bytes.size() - 4) / 8)
    fail("vocabulary of " + std::to_string(vocab_size) + " tokens cannot fit in " +
         std::to_string(bytes.size()) + " bytes");
  v.pieces.reserve(vocab_size);
  v.scores.reserve(vocab_size);
  std::size_t position = 4;
  for (std::size_t id = 0; id < vocab_size; ++id) {
    const std::string where = "token " + std::to_string(id);
    if (bytes.size() - position < 8) fail(where + ": file ends before its score and length");
    const float score = std::bit_cast<float>(detail::load_u32(bytes.data() + position));
    const auto length = static_cast<std::int32_t>(detail::load_u32(bytes.data() + position + 4));
    position += 8;
    if (!std::isfinite(score)) fail(where + ": score is not finite");
    if (length < 0 || length > v.max_token_length)
      fail(where + ": length " + std::to_string(length) + " is outside [0, max_token_length " +
           std::to_string(v.max_token_length) + "]");
    if (static_cast<std::size_t>(length) > bytes.size() - position)
      fail(where + ": length " + std::to_string(length) + " exceeds the " +
           std::to_string(bytes.size() - position) + " bytes left");
    v.pieces.emplace_back(reinterpret_cast<const char*>(bytes.data() + position),
                          static_cast<std::size_t>(length));
    v.scores.push_back(score);
    position += static_cast<std::size_t>(length);
  }
  if (position != bytes.size())
    fail(std::to_string(bytes.size() - position) + " bytes follow the last of " +
         std::to_string(vocab_size) + " tokens");
  return v;
}

// The bytes of a llama2.c tokenizer `.bin` holding `v`, which parse_llama2c_tokenizer reads back
// equal (little-endian, as run.c on the machines it targets). Throws invalid_argument when the
// pieces and scores differ in number, a score is not finite, or a piece is longer than
// max_token_length.
inline std::string format_llama2c_tokenizer(const llama2c_vocabulary& v) {
  if (v.pieces.size() != v.scores.size())
    throw invalid_argument("format_llama2c_tokenizer: " + std::to_string(v.pieces.size()) + " pieces but " +
                           std::to_string(v.scores.size()) + " scores");
  if (v.max_token_length <= 0)
    throw invalid_argument("format_llama2c_tokenizer: max_token_length is " + std::to_string(v.max_token_length) +
                           ", expected positive");
  std::string out;
  auto put_u32 = [&](std::uint32_t x) {
    for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((x >> (8 * k)) & 0xFFu));
  };
  put_u32(static_cast<std::uint32_t>(v.max_token_length));
  for (std::size_t id = 0; id < v.pieces.size(); ++id) {
    if (!std::isfinite(v.scores[id]))
      throw invalid_argument("format_llama2c_tokenizer: token " + std::to_string(id) + " has a non-finite score");
    if (v.pieces[id].size() > static_cast<std::size_t>(v.max_token_length))
      throw invalid_argument("format_llama2c_tokenizer: token " + std::to_string(id) + " is " +
                             std::to_string(v.pieces[id].size()) + " bytes, longer than max_token_length " +
                             std::to_string(v.max_token_length));
    put_u32(std::bit_cast<std::uint32_t>(v.scores[id]));
    put_u32(static_cast<std::uint32_t>(v.pieces[id].size()));
    out += v.pieces[id];
  }
  return out;
}

}  // namespace attrib
