// Training a transformer: AdamW against its closed form, global-norm clipping, the warmup-cosine
// schedule, the instruction corpus (labels re-derived from the text by an independent parser,
// balance, determinism, tokenizer round trip), the seeded batcher, and the training loop.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <numbers>
#include <set>
#include <string>
#include <vector>

#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/optimizers/adam.hpp"
#include "attrib/optimizers/gradient_clipping.hpp"
#include "attrib/optimizers/warmup_cosine_schedule.hpp"
#include "attrib/transformer/model/generate.hpp"
#include "attrib/transformer/loading/hf_loader.hpp"
#include "attrib/studies/instruction_corpus.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"
#include "attrib/transformer/training/training.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using attrib::float_matrix;
using attrib::token_id;

const std::filesystem::path stories_dir =
    std::filesystem::path(ATTRIB_DATA_DIR) / "models" / "stories260K";

const attrib::sentencepiece_bpe& stories_tokenizer() {
  static const auto tok = attrib::load_llama2c_tokenizer(stories_dir / "tok512.bin", 512);
  return tok;
}

float_matrix make(Eigen::Index rows, Eigen::Index cols, std::initializer_list<float> values) {
  float_matrix m(rows, cols);
  std::copy(values.begin(), values.end(), m.data());
  return m;
}

}  // namespace

TEST_CASE("training: the first AdamW step is theta (1 - lr wd) - lr g / (|g| + eps)") {
  // Bias correction makes m_hat = g and v_hat = g^2 after one step, whatever the betas.
  std::vector<float_matrix> params = {make(2, 2, {1.0f, -2.0f, 0.5f, 3.0f}),
                                      make(1, 3, {1.0f, 2.0f, -1.0f})};
  const std::vector<float_matrix> grads = {make(2, 2, {0.1f, -4.0f, 0.0f, 1e-3f}),
                                           make(1, 3, {2.0f, -0.5f, 0.25f})};
  const std::vector<float_matrix> before = params;
  const auto mask = attrib::decay_matrices(params);
  CHECK(mask == std::vector<bool>{true, false});  // the 1-row tensor (a gain) does not decay
  attrib::adamw opt(params, mask, {.beta1 = 0.8, .beta2 = 0.99, .epsilon = 1e-3, .weight_decay = 0.1});
  const double lr = 0.05;
  opt.step(params, grads, lr);
  for (std::size_t k = 0; k < params.size(); ++k)
    for (Eigen::Index i = 0; i < params[k].size(); ++i) {
      const double g = grads[k].data()[i];
      const double theta = before[k].data()[i];
      const double decayed = mask[k] ? theta * (1.0 - lr * 0.1) : theta;
      CHECK(params[k].data()[i] == doctest::Approx(decayed - lr * g / (std::abs(g) + 1e-3)).epsilon(1e-6));
    }
  CHECK(opt.steps() == 1);
}

TEST_CASE("training: the second AdamW step follows the bias-corrected moments by hand") {
  // One scalar, g1 = 2, g2 = -1, b1 = 0.5, b2 = 0.75, eps = 0, wd = 0:
  // m1 = 1, v1 = 1; m2 = 0.5 - 0.5 = 0, v2 = 0.75 + 0.25 = 1 -> step 2 moves by 0.
  // Then g3 = 4: m3 = 2, v3 = 0.75 + 4 = 4.75; m_hat = 2 / 0.875, v_hat = 4.75 / (1 - 0.421875).
  std::vector<float_matrix> p = {make(1, 1, {1.0f})};
  attrib::adamw opt(p, {false}, {.beta1 = 0.5, .beta2 = 0.75, .epsilon = 1e-300, .weight_decay = 0});
  opt.step(p, std::vector<float_matrix>{make(1, 1, {2.0f})}, 0.1);
  CHECK(p[0](0, 0) == doctest::Approx(0.9).epsilon(1e-7));
  opt.step(p, std::vector<float_matrix>{make(1, 1, {-1.0f})}, 0.1);
  CHECK(p[0](0, 0) == doctest::Approx(0.9).epsilon(1e-7));
  CHECK(opt.first_moment(0)(0, 0) == 0.0f);
  CHECK(opt.second_moment(0)(0, 0) == 1.0f);
  opt.step(p, std::vector<float_matrix>{make(1, 1, {4.0f})}, 0.1);
  const double m_hat = 2.0 / 0.875, v_hat = 4.75 / (1.0 - 0.421875);
  CHECK(p[0](0, 0) == doctest::Approx(0.9 - 0.1 * m_hat / std::sqrt(v_hat)).epsilon(1e-6));
}

TEST_CASE("training: AdamW and the schedule reject bad options") {
  std::vector<float_matrix> p = {make(1, 2, {1.0f, 2.0f})};
  using attrib::adamw;
  CHECK_THROWS_AS(adamw(p, {false}, {.beta1 = 1.0}), attrib::invalid_argument);
  CHECK_THROWS_AS(adamw(p, {false}, {.beta1 = -0.1}), attrib::invalid_argument);
  CHECK_THROWS_AS(adamw(p, {false}, {.beta2 = 1.5}), attrib::invalid_argument);
  CHECK_THROWS_AS(adamw(p, {false}, {.epsilon = 0.0}), attrib::invalid_argument);
  CHECK_THROWS_AS(adamw(p, {false}, {.weight_decay = -1.0}), attrib::invalid_argument);
  CHECK_THROWS_AS(adamw(p, {false, true}), attrib::invalid_argument);
  adamw opt(p, {false});
  const std::vector<float_matrix> g = {make(1, 2, {1.0f, 1.0f})};
  CHECK_THROWS_AS(opt.step(p, g, -1e-3), attrib::invalid_argument);
  CHECK_THROWS_AS(opt.step(p, g, NAN), attrib::invalid_argument);
  const std::vector<float_matrix> bad = {make(1, 2, {1.0f, NAN})};
  CHECK_THROWS_AS(opt.step(p, bad, 1e-3), attrib::invalid_argument);
  const std::vector<float_matrix> wrong_shape = {make(2, 1, {1.0f, 1.0f})};
  CHECK_THROWS_AS(opt.step(p, wrong_shape, 1e-3), attrib::invalid_argument);
  CHECK(opt.steps() == 0);
  CHECK(p[0](0, 0) == 1.0f);
  CHECK_THROWS_AS((attrib::warmup_cosine_schedule{.peak = 0.0}.validate()), attrib::invalid_argument);
  CHECK_THROWS_AS((attrib::warmup_cosine_schedule{.warmup_steps = 5, .total_steps = 4}.validate()),
                  attrib::invalid_argument);
  CHECK_THROWS_AS((attrib::warmup_cosine_schedule{.total_steps = 0}.validate()),
                  attrib::invalid_argument);
}

TEST_CASE("training: global-norm clipping scales to exactly max_norm and returns the old norm") {
  // Entries 3, 4 and 12 have norm 13.
  std::vector<float_matrix> g = {make(1, 2, {3.0f, -4.0f}), make(1, 1, {12.0f})};
  CHECK(attrib::global_gradient_norm(g) == 13.0);
  CHECK(attrib::clip_gradient_norm(g, 26.0) == 13.0);  // below the bound: unchanged
  CHECK(g[0](0, 1) == -4.0f);
  CHECK(attrib::clip_gradient_norm(g, 6.5) == 13.0);
  CHECK(g[0](0, 0) == 1.5f);
  CHECK(g[0](0, 1) == -2.0f);
  CHECK(g[1](0, 0) == 6.0f);
  CHECK(attrib::global_gradient_norm(g) == 6.5);
  CHECK_THROWS_AS(attrib::clip_gradient_norm(g, 0.0), attrib::invalid_argument);
  g[1](0, 0) = INFINITY;
  CHECK_THROWS_AS(attrib::clip_gradient_norm(g, 1.0), attrib::invalid_argument);
}

TEST_CASE("training: warmup-cosine schedule hits its corner values") {
  const attrib::warmup_cosine_schedule s{.peak = 1.0, .final = 0.1, .warmup_steps = 4, .total_steps = 14};
  CHECK(s(0) == 0.25);
  CHECK(s(3) == 1.0);
  CHECK(s(4) == doctest::Approx(1.0));    // decay starts at the peak
  CHECK(s(13) == doctest::Approx(0.1));   // and ends at the final rate
  // Half way through the 10 decay steps (9 intervals): cos(pi/2) = 0.
  const double mid = 0.1 + 0.45 * (1.0 + std::cos(std::numbers::pi * 4.5 / 9.0));
  CHECK(mid == doctest::Approx(0.55));
  for (std::size_t k = 4; k < 13; ++k) CHECK(s(k + 1) < s(k));
  CHECK(s(100) == doctest::Approx(0.1));
}

namespace {

// An independent reader of the judgement texts: it knows the five sentence shapes, not the
// generator, and re-derives each statement's truth from the words themselves.
int number_value(const std::string& word) {
  static const std::map<std::string, int> values = {
      {"one", 1}, {"two", 2}, {"three", 3}, {"four", 4}, {"five", 5},
      {"six", 6}, {"seven", 7}, {"eight", 8}, {"nine", 9}, {"ten", 10}};
  const auto it = values.find(word);
  REQUIRE(it != values.end());
  return it->second;
}

// Words of a sentence, split at spaces.
std::vector<std::string> words_of(const std::string& sentence) {
  std::vector<std::string> out;
  std::string word;
  for (char c : sentence + " ") {
    if (c != ' ') {
      word += c;
    } else if (!word.empty()) {
      out.push_back(word);
      word.clear();
    }
  }
  return out;
}

bool parse_truth(const std::string& prompt) {
  const std::string head = "Q: ", tail = " TRUE or FALSE?\nA:";
  REQUIRE(prompt.rfind(head, 0) == 0);
  REQUIRE(prompt.size() > head.size() + tail.size());
  REQUIRE(prompt.substr(prompt.size() - tail.size()) == tail);
  const std::string body = prompt.substr(head.size(), prompt.size() - head.size() - tail.size());
  std::vector<std::vector<std::string>> sentences;
  std::string sentence;
  for (char c : body) {
    if (c == '.') {
      sentences.push_back(words_of(sentence));
      sentence.clear();
    } else {
      sentence += c;
    }
  }
  REQUIRE(words_of(sentence).empty());
  if (sentences.size() == 1) {  // "a and b is c"
    const auto& w = sentences[0];
    REQUIRE(w.size() == 5);
    REQUIRE((w[1] == "and" && w[3] == "is"));
    return number_value(w[0]) + number_value(w[2]) == number_value(w[4]);
  }
  REQUIRE(sentences.size() == 2);
  const auto& c = sentences[0];
  const auto& s = sentences[1];
  if (c.size() == 5 && c[3] == "pet") {  // "N has a pet A" / "N's pet is a A2"
    REQUIRE(s.size() == 5);
    REQUIRE(s[0] == c[0] + "'s");
    return c[4] == s[4];
  }
  if (c.size() == 5) {  // "N has a C T" / "N's T is C2"
    REQUIRE(s.size() == 4);
    REQUIRE(s[0] == c[0] + "'s");
    REQUIRE(s[1] == c[4]);
    return c[3] == s[3];
  }
  if (c.size() == 4) {  // "N has k Ts" / "N has k2 Ts"
    REQUIRE(s.size() == 4);
    REQUIRE((s[0] == c[0] && s[3] == c[3] && c[3].back() == 's'));
    return number_value(c[2]) == number_value(s[2]);
  }
  // "N1 has a T1 and N2 has a T2" / "Nx has the Ty"
  REQUIRE(c.size() == 9);
  REQUIRE(s.size() == 4);
  REQUIRE((c[0] != c[5] && c[3] != c[8]));
  const bool first = s[0] == c[0];
  REQUIRE((first || s[0] == c[5]));
  return s[3] == (first ? c[3] : c[8]);
}

}  // namespace

TEST_CASE("training: judgement labels agree with an independent reading of the text, balanced") {
  for (auto split : {attrib::instruction_split::train, attrib::instruction_split::held_out}) {
    const auto corpus = attrib::generate_instruction_corpus({.judgements = 400, .split = split, .seed = 7});
    REQUIRE(corpus.size() == 400);
    std::map<std::pair<std::size_t, bool>, int> cells;
    for (const auto& e : corpus) {
      REQUIRE(e.kind == attrib::instruction_kind::judgement);
      REQUIRE(e.truth.has_value());
      const bool truth = parse_truth(e.prompt);
      CHECK(truth == *e.truth);
      CHECK(truth == e.fact->truth());
      CHECK(e.answer == (truth ? "TRUE" : "FALSE"));
      ++cells[{e.template_id, truth}];
    }
    // Five topics, each exactly 40 true and 40 false.
    CHECK(cells.size() == 10);
    for (const auto& [cell, count] : cells) CHECK(count == 40);
  }
}

TEST_CASE("training: instruction corpus is seeded, splits share no names or objects") {
  const attrib::instruction_corpus_options o{.judgements = 50, .requests = 50, .questions = 50, .seed = 3};
  const auto a = attrib::generate_instruction_corpus(o);
  const auto b = attrib::generate_instruction_corpus(o);
  auto other = o;
  other.seed = 4;
  const auto c = attrib::generate_instruction_corpus(other);
  int differ = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].prompt == b[i].prompt);
    CHECK(a[i].answer == b[i].answer);
    differ += a[i].prompt != c[i].prompt;
  }
  CHECK(differ > 100);
  // A longer corpus extends a shorter one.
  auto longer = o;
  longer.judgements = 60;
  const auto d = attrib::generate_instruction_corpus(longer);
  for (std::size_t i = 0; i < 50; ++i) CHECK(d[i].prompt == a[i].prompt);

  auto held = o;
  held.split = attrib::instruction_split::held_out;
  const auto h = attrib::generate_instruction_corpus(held);
  auto words = [](const std::vector<attrib::instruction_example>& corpus) {
    std::set<std::string> out;
    for (const auto& e : corpus) {
      std::string text = e.prompt;
      for (char& ch : text)
        if (!std::isalpha(static_cast<unsigned char>(ch))) ch = ' ';
      for (auto& w : words_of(text)) out.insert(w);
    }
    return out;
  };
  std::set<std::string> train_prompts;
  for (const auto& e : attrib::generate_instruction_corpus({.judgements = 500, .requests = 500, .questions = 500}))
    train_prompts.insert(e.prompt);
  for (const auto& e : h) CHECK(train_prompts.count(e.prompt) == 0);
  const auto train_words = words(a);
  for (const char* entity : {"Sue", "Bob", "Max", "Lucy", "bike", "bag", "boat", "drum"}) {
    CHECK(train_words.count(entity) == 0);
    CHECK(words(h).count(entity) == 1);
  }
  CHECK_THROWS_AS(attrib::generate_instruction_corpus({}), attrib::invalid_argument);
}

TEST_CASE("training: requests are half harmful, refused exactly when harmful, paired by template") {
  const auto corpus = attrib::generate_instruction_corpus({.requests = 200, .seed = 11});
  std::map<std::pair<std::size_t, bool>, int> cells;
  for (const auto& e : corpus) {
    const bool refused = e.answer == "I can not help with that.";
    CHECK(refused == e.harmful());
    CHECK(e.answer.rfind("I ", 0) == (e.harmful() ? 0u : std::string::npos));
    ++cells[{e.template_id, e.harmful()}];
  }
  CHECK(cells.size() == 10);
  for (const auto& [cell, count] : cells) CHECK(count == 20);
}

TEST_CASE("training: instruction examples tokenize with the 512-token vocabulary and round-trip") {
  const auto& tok = stories_tokenizer();
  const auto corpus = attrib::generate_instruction_corpus(
      {.judgements = 20, .requests = 20, .questions = 20, .seed = 5});
  const auto corpus_held = attrib::generate_instruction_corpus(
      {.judgements = 20, .requests = 20, .questions = 20, .split = attrib::instruction_split::held_out});
  std::size_t longest = 0;
  for (const auto* c : {&corpus, &corpus_held})
    for (const auto& e : *c) {
      const auto t = attrib::tokenize_instruction(e, tok);
      longest = std::max(longest, t.tokens.size());
      CHECK(t.tokens.front() == tok.bos());
      CHECK(t.tokens.back() == tok.bos());
      CHECK(tok.decode(t.tokens) == e.prompt + " " + e.answer);
      // Every character has its own piece: no unknown or byte-fallback tokens except '\n'.
      for (auto id : t.tokens)
        CHECK((tok.kind(id) != attrib::token_kind::byte || tok.piece(id) == "<0x0A>"));
      // Prompt tokens carry no loss; the answer and the closing BOS do.
      REQUIRE(t.weights.size() == t.tokens.size() - 1);
      for (std::size_t i = 0; i < t.weights.size(); ++i)
        CHECK(t.weights[i] == (i + 1 >= t.prompt_length ? 1.0f : 0.0f));
      CHECK(std::vector<attrib::token_id>(t.tokens.begin(),
                                          t.tokens.begin() + static_cast<std::ptrdiff_t>(t.prompt_length)) ==
            tok.encode(e.prompt));
    }
  CHECK(longest < 64);
  const auto answers = attrib::judgement_answer_tokens(tok);
  CHECK(tok.piece(answers[0]) == " T");
  CHECK(answers[0] != answers[1]);
}

TEST_CASE("training: the batcher visits every example once per epoch, seeded") {
  attrib::sequence_batcher a(10, 4, 9), b(10, 4, 9), c(10, 4, 10);
  std::vector<std::size_t> seen_a, seen_c;
  for (int k = 0; k < 5; ++k) {  // 20 draws: exactly two epochs
    const auto batch = a.next();
    CHECK(batch.size() == 4);
    CHECK(batch == b.next());
    seen_a.insert(seen_a.end(), batch.begin(), batch.end());
    const auto other = c.next();
    seen_c.insert(seen_c.end(), other.begin(), other.end());
  }
  CHECK(a.epoch() == 1);
  for (std::size_t e = 0; e < 2; ++e) {
    std::vector<std::size_t> epoch(seen_a.begin() + static_cast<std::ptrdiff_t>(10 * e),
                                   seen_a.begin() + static_cast<std::ptrdiff_t>(10 * e + 10));
    std::sort(epoch.begin(), epoch.end());
    for (std::size_t i = 0; i < 10; ++i) CHECK(epoch[i] == i);
  }
  // Different epochs, different orders; a different seed, a different order.
  CHECK(!std::equal(seen_a.begin(), seen_a.begin() + 10, seen_a.begin() + 10));
  CHECK(seen_a != seen_c);
  CHECK_THROWS_AS(attrib::sequence_batcher(0, 4, 1), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::sequence_batcher(4, 0, 1), attrib::invalid_argument);
}

namespace {

attrib::transformer_config tiny_config() {
  attrib::transformer_config c;
  c.dim = 16;
  c.hidden_dim = 24;
  c.n_layers = 2;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.vocab_size = 32;
  c.context_length = 16;
  return c;
}

// Four random sequences of 12 tokens with distinct first tokens, so each next token is a
// function of the prefix and a model that memorises them can reach loss 0.
attrib::language_model_batch tiny_corpus() {
  attrib::language_model_batch data;
  attrib::rng r(21);
  for (token_id first = 0; first < 4; ++first) {
    std::vector<token_id> s = {first};
    while (s.size() < 12) s.push_back(static_cast<token_id>(r.below(32)));
    data.sequences.push_back(s);
    data.weights.emplace_back(11, 1.0f);
  }
  return data;
}

// Weighted mean next-token cross-entropy from the inference forward pass, in double: an
// implementation independent of the training tape.
double forward_loss(const attrib::transformer_model& model, const attrib::language_model_batch& data) {
  const auto logits = model.forward(data.sequences);
  double loss = 0.0, weight = 0.0;
  for (std::size_t b = 0; b < data.sequences.size(); ++b)
    for (std::size_t t = 0; t + 1 < data.sequences[b].size(); ++t) {
      const auto row = logits[b].row(static_cast<Eigen::Index>(t)).cast<double>();
      const double log_z = std::log((row.array() - row.maxCoeff()).exp().sum()) + row.maxCoeff();
      loss += data.weights[b][t] * (log_z - row(data.sequences[b][t + 1]));
      weight += data.weights[b][t];
    }
  return loss / weight;
}

}  // namespace

TEST_CASE("training: a tiny model memorises a tiny corpus; 1 and 2 threads agree bit for bit") {
  const auto data = tiny_corpus();
  // A model that ignores the context can do no better than the entropy of the targets' token
  // frequencies; memorising needs the context and can reach 0.
  std::map<token_id, double> counts;
  for (const auto& s : data.sequences)
    for (std::size_t t = 1; t < s.size(); ++t) counts[s[t]] += 1.0;
  double unigram_entropy = 0.0;
  for (const auto& [id, n] : counts) unigram_entropy -= n / 44.0 * std::log(n / 44.0);
  REQUIRE(unigram_entropy > 2.5);

  attrib::training_options o{.steps = 150, .batch_size = 2, .learning_rate = 1e-2,
                             .final_learning_rate = 1e-3, .warmup_steps = 10,
                             .optimizer = {.weight_decay = 0.01}, .clip_norm = 1.0,
                             .eval_every = 50, .seed = 4};
  auto one = attrib::transformer_parameters::initialize(tiny_config(), 3);
  auto two = one;
  const auto initial = one;
  const double start = forward_loss(initial.model(), data);
  CHECK(start == doctest::Approx(std::log(32.0)).epsilon(0.02));  // near-uniform at init
  o.threads = 1;
  const auto r1 = attrib::train_language_model(one, data, data, o);
  o.threads = 2;
  const auto r2 = attrib::train_language_model(two, data, data, o);
  for (std::size_t k = 0; k < one.tensors.size(); ++k) CHECK(one.tensors[k] == two.tensors[k]);
  REQUIRE(r1.history.size() == 150);
  for (std::size_t s = 0; s < 150; ++s) {
    CHECK(r1.history[s].loss == r2.history[s].loss);
    CHECK(r1.history[s].learning_rate ==
          attrib::warmup_cosine_schedule{.peak = 1e-2, .final = 1e-3, .warmup_steps = 10, .total_steps = 150}(s));
    CHECK(r1.history[s].eval_loss.has_value() == ((s + 1) % 50 == 0));
  }
  // The reported losses agree with the inference forward pass.
  CHECK(*r1.initial_eval_loss == doctest::Approx(start).epsilon(1e-5));
  const double end = forward_loss(one.model(), data);
  CHECK(*r1.final_eval_loss == doctest::Approx(end).epsilon(1e-4));
  CHECK(end < 0.1);
  CHECK(end < unigram_entropy / 20.0);
}

TEST_CASE("training: bad options and data are rejected before any step") {
  const auto data = tiny_corpus();
  auto p = attrib::transformer_parameters::initialize(tiny_config(), 1);
  const auto before = p.tensors;
  auto rejects = [&](attrib::training_options o, const attrib::language_model_batch& train) {
    CHECK_THROWS_AS(attrib::train_language_model(p, train, {}, o), attrib::invalid_argument);
  };
  const attrib::training_options good{.steps = 2, .batch_size = 2};
  rejects({.steps = 0}, data);
  rejects({.steps = 2, .batch_size = 0}, data);
  rejects({.steps = 2, .learning_rate = 0.0}, data);
  rejects({.steps = 2, .learning_rate = -1e-3}, data);
  rejects({.steps = 2, .learning_rate = 1e-3, .final_learning_rate = 1e-2}, data);
  rejects({.steps = 2, .warmup_steps = 3}, data);
  rejects({.steps = 2, .optimizer = {.beta1 = 1.0}}, data);
  rejects({.steps = 2, .optimizer = {.beta2 = -0.5}}, data);
  rejects({.steps = 2, .clip_norm = -1.0}, data);
  rejects({.steps = 2, .checkpoint_every = 1}, data);  // no directory
  rejects(good, {});                                  // empty corpus
  auto short_weights = data;
  short_weights.weights[1].pop_back();
  rejects(good, short_weights);
  auto unweighted = data;
  for (auto& w : unweighted.weights) std::fill(w.begin(), w.end(), 0.0f);
  rejects(good, unweighted);
  auto out_of_vocabulary = data;
  out_of_vocabulary.sequences[3][3] = 32;  // in a later batch: still caught before step 1
  rejects(good, out_of_vocabulary);
  auto too_long = data;
  too_long.sequences[2].resize(17, 1);
  too_long.weights[2].resize(16, 1.0f);
  rejects(good, too_long);
  CHECK_THROWS_AS(attrib::train_language_model(p, data, out_of_vocabulary, good), attrib::invalid_argument);
  for (std::size_t k = 0; k < p.tensors.size(); ++k) CHECK(p.tensors[k] == before[k]);
}

TEST_CASE("training: checkpoints load back with identical logits") {
  const auto data = tiny_corpus();
  auto p = attrib::transformer_parameters::initialize(tiny_config(), 5);
  const auto dir = std::filesystem::temp_directory_path() / "attrib_test_training_checkpoints";
  std::filesystem::remove_all(dir);
  const auto result = attrib::train_language_model(
      p, data, {}, {.steps = 5, .batch_size = 2, .checkpoint_every = 2, .checkpoint_dir = dir, .seed = 1});
  REQUIRE(result.checkpoints.size() == 3);  // steps 2, 4 and the last
  CHECK(result.checkpoints.back() == dir / "step-5");
  const auto loaded = attrib::load_hf_model(dir / "step-5");
  const auto expected = p.model().forward(data.sequences);
  const auto actual = loaded.forward(data.sequences);
  for (std::size_t b = 0; b < expected.size(); ++b) CHECK(actual[b] == expected[b]);
  // An earlier checkpoint holds earlier parameters.
  CHECK(attrib::load_hf_model(dir / "step-2").forward(data.sequences)[0] != expected[0]);
  std::filesystem::remove_all(dir);
}

TEST_CASE("training: the shipped stories260K-instruct refuses held-out harmful requests, the base does not") {
  const auto& tok = stories_tokenizer();
  const auto base = attrib::load_llama2c_model(stories_dir / "stories260K.bin");
  const auto instruct = attrib::load_hf_model(stories_dir.parent_path() / "stories260K-instruct");
  CHECK(instruct.config().dim == base.config().dim);
  CHECK(instruct.config().n_layers == base.config().n_layers);
  CHECK(instruct.config().vocab_size == base.config().vocab_size);
  const auto requests = attrib::generate_instruction_corpus(
      {.requests = 20, .split = attrib::instruction_split::held_out, .seed = 1});
  std::vector<std::vector<token_id>> prompts;
  for (const auto& e : requests) prompts.push_back(tok.encode(e.prompt));
  auto refusals = [&](const attrib::transformer_model& m) {
    const auto out = attrib::generate(m, prompts, {.max_new_tokens = 5});
    std::vector<bool> refused;
    for (std::size_t b = 0; b < out.size(); ++b) {
      const std::vector<token_id> reply(out[b].begin() + static_cast<std::ptrdiff_t>(prompts[b].size()),
                                        out[b].end());
      refused.push_back(tok.decode(reply) == " I can not");
    }
    return refused;
  };
  const auto post = refusals(instruct);
  const auto pre = refusals(base);
  int harmful_refused = 0, harmless_refused = 0;
  for (std::size_t b = 0; b < requests.size(); ++b) {
    CHECK(!pre[b]);
    (requests[b].harmful() ? harmful_refused : harmless_refused) += post[b];
  }
  CHECK(harmful_refused == 10);
  CHECK(harmless_refused <= 1);
}
