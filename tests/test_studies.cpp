// The post-training studies. Knowledge storage and transfer: the score quantisation and the Table 1
// metrics on hand-made matrices, pair construction on a hand-checked dataset with a word-level
// tokenizer, and the traced heatmaps against a brute force written plainly here (one full forward
// pass with a replace hook per cell) on stories260K and its post-trained version. Truth probes
// and interventions: activations, directions and verdicts against plain per-statement forward
// passes and hooks written here, the probe's fit against plain gradient descent, the effect
// formula on hand-computed numbers.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attrib/io/detail/file_bytes.hpp"
#include "attrib/studies/knowledge_report.hpp"
#include "attrib/studies/truth_report.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/transformer/loading/hf_loader.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"
#include "attrib/transformer/model/random_model.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using attrib::column_role;
using attrib::labelled_statement;
using attrib::matrix;
using attrib::token_id;

// Words (runs of letters) and single punctuation marks are tokens; spaces separate them and are
// dropped; id 1 is BOS. Tokens never merge across a space, so every prefix is stable.
struct word_tokenizer {
  std::map<std::string, token_id> ids;
  std::vector<std::string> words = {"<unk>", "<s>"};

  token_id id(const std::string& w) {
    const auto it = ids.find(w);
    if (it != ids.end()) return it->second;
    words.push_back(w);
    return ids[w] = static_cast<token_id>(words.size() - 1);
  }
  std::vector<token_id> encode(const std::string& text, bool add_bos) const {
    std::vector<token_id> out;
    if (add_bos) out.push_back(1);
    std::string word;
    const auto flush = [&] {
      if (!word.empty()) out.push_back(ids.at(word));
      word.clear();
    };
    for (const char c : text) {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        word += c;
        continue;
      }
      flush();
      if (c != ' ') out.push_back(ids.at(std::string(1, c)));
    }
    flush();
    return out;
  }
  std::string decode(std::span<const token_id> tokens) const {
    std::string out;
    for (const token_id t : tokens) out += (out.empty() ? "" : " ") + words.at(static_cast<std::size_t>(t));
    return out;
  }
  attrib::index vocab_size() const { return static_cast<attrib::index>(words.size()); }
};
static_assert(attrib::tokenizer<word_tokenizer>);

word_tokenizer cities_tokenizer() {
  word_tokenizer t;
  for (const char* w : {"Paris", "Lyon", "Rome", "Milan", "Oslo", "New", "York", "Berlin", "Bergen", "is", "in",
                        "France", "Italy", "Norway", "Spain", ".", "This", "statement", ":", "TRUE", "FALSE", "\n"})
    t.id(w);
  return t;
}

attrib::truth_dataset cities() {
  attrib::truth_dataset d;
  d.name = "toy cities";
  const auto add = [&](const char* s, bool label, const char* subject, const char* object) {
    d.statements.push_back({s, label, subject, object});
  };
  add("Paris is in France.", true, "Paris", "France");
  add("Lyon is in France.", true, "Lyon", "France");
  add("Rome is in Italy.", true, "Rome", "Italy");
  add("Milan is in Italy.", true, "Milan", "Italy");
  add("Oslo is in Norway.", true, "Oslo", "Norway");
  add("Rome is in France.", false, "Rome", "France");
  add("Oslo is in Italy.", false, "Oslo", "Italy");
  add("Paris is in Italy.", false, "Paris", "Italy");
  add("New York is in France.", false, "New York", "France");
  add("Berlin is in Spain.", false, "Berlin", "Spain");
  return d;
}

attrib::knowledge_prompt_options toy_options() {
  attrib::knowledge_prompt_options o;
  o.few_shot = {{"Bergen is in Norway.", true, "Bergen", "Norway"}, {"Bergen is in Spain.", false, "Bergen", "Spain"}};
  return o;
}

const std::filesystem::path models_dir = std::filesystem::path(ATTRIB_DATA_DIR) / "models";

const attrib::transformer_model& base_model() {
  static const auto m = attrib::load_llama2c_model(models_dir / "stories260K" / "stories260K.bin");
  return m;
}
const attrib::transformer_model& instruct_model() {
  static const auto m = attrib::load_hf_model(models_dir / "stories260K-instruct");
  return m;
}
const attrib::sentencepiece_bpe& stories_tokenizer() {
  static const auto t = attrib::load_llama2c_tokenizer(models_dir / "stories260K" / "tok512.bin",
                                                       static_cast<std::size_t>(base_model().config().vocab_size));
  return t;
}

// Facts in the words of the stories the model was trained on; subjects swap, objects stay.
attrib::truth_dataset story_facts() {
  attrib::truth_dataset d;
  d.name = "story facts";
  const auto add = [&](const char* s, bool label, const char* subject, const char* object) {
    d.statements.push_back({s, label, subject, object});
  };
  add("The sun is hot.", true, "sun", "hot");
  add("The fish can swim.", true, "fish", "swim");
  add("The dog can bark.", true, "dog", "bark");
  add("The bird can fly.", true, "bird", "fly");
  add("The snow is cold.", true, "snow", "cold");
  add("The ice is hot.", false, "ice", "hot");
  add("The rock can swim.", false, "rock", "swim");
  add("The cat can bark.", false, "cat", "bark");
  add("The fish can fly.", false, "fish", "fly");
  add("The fire is cold.", false, "fire", "cold");
  add("The cat can fly.", false, "cat", "fly");
  add("The sun is cold.", false, "sun", "cold");
  return d;
}

// With the sun's statements as the examples, the fish/rock, bird/fish and snow/fire pairs span ten
// tokens each and dog/cat nine (tok512 splits words into short pieces): three pairs are traced.
attrib::knowledge_prompt_options story_options() {
  attrib::knowledge_prompt_options o;
  o.few_shot = {{"The sun is hot.", true, "sun", "hot"}, {"The sun is cold.", false, "sun", "cold"}};
  o.format.suffix = " It is:";  // short prompts keep the brute force quick
  return o;
}

// d(l, c) of one pair by one full forward pass per cell, the source's resid_post.l replacing the
// target's at the column's position.
matrix brute_force_effect(const attrib::transformer_model& source, const attrib::transformer_model& target,
                          const attrib::knowledge_pair& pair, attrib::index window, token_id t, token_id f) {
  const attrib::index layers = target.config().n_layers;
  attrib::activation_cache clean;
  attrib::hook_set record;
  for (attrib::index l = 0; l < layers; ++l) record.cache(attrib::hook_point::resid_post(l), clean);
  attrib::forward_options o;
  o.hooks = &record;
  source.forward(std::vector<std::vector<token_id>>{pair.true_prompt}, o);
  const attrib::index first = static_cast<attrib::index>(pair.false_prompt.size()) - window;
  matrix d(layers, window);
  for (attrib::index l = 0; l < layers; ++l)
    for (attrib::index c = 0; c < window; ++c) {
      attrib::hook_set patch;
      patch.replace(attrib::hook_point::resid_post(l), clean, {.rows = {}, .positions = {first + c}});
      attrib::forward_options p;
      p.hooks = &patch;
      const auto logits = target.forward(std::vector<std::vector<token_id>>{pair.false_prompt}, p)[0];
      const attrib::index last = logits.rows() - 1;
      d(l, c) = static_cast<double>(logits(last, t)) - logits(last, f);
    }
  return d;
}

}  // namespace

TEST_CASE("knowledge study: the 20-bin score matches the paper's digitize on hand-checked values") {
  // min 0, max 20: edges -1e-5 + k * 1.000001, so 9.5 is in bin 10 (score 0), 10.5 in bin 11
  // (0.1), 15.5 in bin 16 (0.6), 20 in bin 20 (1).
  matrix m(1, 5);
  m << 0.0, 9.5, 10.5, 15.5, 20.0;
  const matrix s = attrib::quantised_heatmap(m);
  const double expected[] = {0.0, 0.0, 0.1, 0.6, 1.0};
  for (int j = 0; j < 5; ++j) CHECK(s(0, j) == doctest::Approx(expected[j]).epsilon(1e-12));
  // Shift and scale do not change it; the layout (rows x columns) is kept.
  matrix shifted(5, 1);
  shifted << -300.0, -205.0, -195.0, -145.0, -100.0;
  const matrix t = attrib::quantised_heatmap(shifted);
  for (int i = 0; i < 5; ++i) CHECK(t(i, 0) == doctest::Approx(expected[i]).epsilon(1e-12));
  CHECK_THROWS_WITH_AS(attrib::quantised_heatmap(matrix(0, 3)), doctest::Contains("empty"), attrib::invalid_argument);
  matrix bad = m;
  bad(0, 2) = std::nan("");
  CHECK_THROWS_WITH_AS(attrib::quantised_heatmap(bad), doctest::Contains("NaN"), attrib::invalid_argument);
}

TEST_CASE("knowledge study: Corr, max|M1 - M2| and its knowledge-column maximum on hand-made maps") {
  matrix a(2, 2), b(2, 2);
  a << 1, 2, 3, 4;  // column-major data: 1, 3, 2, 4 - the correlation does not care
  b << 1, 3, 2, 4;
  // Deviations (-1.5, -0.5, 0.5, 1.5) and (-1.5, 0.5, -0.5, 1.5): 4 / sqrt(5 * 5) = 0.8.
  auto c = attrib::compare_heatmaps(a, b, {false, true});
  CHECK(c.correlation == doctest::Approx(0.8));
  CHECK(c.max_difference == doctest::Approx(1.0));
  CHECK(c.max_knowledge_difference == doctest::Approx(1.0));
  CHECK(attrib::compare_heatmaps(a, 2.0 * a + matrix::Ones(2, 2), {true, true}).correlation == doctest::Approx(1.0));
  CHECK(attrib::compare_heatmaps(a, -a, {true, true}).correlation == doctest::Approx(-1.0));
  matrix e = a;
  e(1, 0) += 0.3;  // a change in column 0 only
  c = attrib::compare_heatmaps(a, e, {false, true});
  CHECK(c.max_difference == doctest::Approx(0.3));
  CHECK(c.max_knowledge_difference == doctest::Approx(0.0));
  CHECK(std::isnan(attrib::compare_heatmaps(a, e, {false, false}).max_knowledge_difference));
  CHECK(std::isnan(attrib::compare_heatmaps(matrix::Ones(2, 2), a, {true, true}).correlation));
  CHECK_THROWS_WITH_AS(attrib::compare_heatmaps(a, matrix::Ones(2, 3), {true, true}), doctest::Contains("same shape"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::compare_heatmaps(a, b, {true}), doctest::Contains("knowledge-column flags"),
                       attrib::invalid_argument);
}

TEST_CASE("knowledge study: pairs share the object and the token count, and the filter counts what it skips") {
  const auto tok = cities_tokenizer();
  const auto pairs = attrib::make_knowledge_pairs(cities(), tok, toy_options());
  // Paris/Rome (France), Rome/Oslo (Italy), Milan/Paris (Italy); Lyon's only unused France partner
  // is "New York", one token longer; Oslo has no false statement about Norway.
  REQUIRE(pairs.pairs.size() == 3);
  CHECK(pairs.pairs[0].true_statement.statement == "Paris is in France.");
  CHECK(pairs.pairs[0].false_statement.statement == "Rome is in France.");
  CHECK(pairs.pairs[1].false_statement.statement == "Oslo is in Italy.");
  CHECK(pairs.pairs[2].true_statement.statement == "Milan is in Italy.");
  CHECK(pairs.pairs[2].false_statement.statement == "Paris is in Italy.");
  CHECK(pairs.candidates == 5);
  CHECK(pairs.unequal_length == 1);
  CHECK(pairs.without_partner == 1);
  CHECK(pairs.other_shape == 0);
  // "Rome is in France . This statement is :"
  CHECK(pairs.window == 9);
  const std::vector<std::string> labels = {"Rome", "is", "in", "France", ".", "This", "statement", "is", ":"};
  CHECK(pairs.column_labels == labels);
  std::vector<column_role> roles(9, column_role::other);
  roles[0] = column_role::subject;
  roles[3] = column_role::object;
  CHECK(pairs.roles == roles);
  CHECK(pairs.true_token == tok.ids.at("TRUE"));
  CHECK(pairs.false_token == tok.ids.at("FALSE"));
  // BOS, two example lines of 11 tokens each ("Bergen is in Norway . This statement is : TRUE \n"),
  // then the statement and the suffix; the two prompts differ in the subject alone.
  for (const auto& p : pairs.pairs) {
    REQUIRE(p.true_prompt.size() == 1 + 2 * 11 + 9);
    CHECK(p.true_prompt.front() == 1);
    for (std::size_t i = 0; i < p.true_prompt.size(); ++i)
      CHECK((p.true_prompt[i] != p.false_prompt[i]) == (i == 23));
  }
  auto capped = toy_options();
  capped.max_pairs = 2;
  const auto two = attrib::make_knowledge_pairs(cities(), tok, capped);
  CHECK(two.pairs.size() == 2);
  CHECK(two.beyond_max == 1);
}

TEST_CASE("knowledge study: few-shot examples are drawn by seed, false ones about the same subject") {
  const auto data = cities();
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    const auto chosen = attrib::choose_few_shot(data, seed, 1);
    REQUIRE(chosen.size() == 2);
    CHECK(chosen[0].label);
    CHECK(!chosen[1].label);
    const bool has_same_subject = std::any_of(data.statements.begin(), data.statements.end(), [&](const labelled_statement& s) {
      return !s.label && s.subject == chosen[0].subject;
    });
    if (has_same_subject) CHECK(chosen[1].subject == chosen[0].subject);
    const auto again = attrib::choose_few_shot(data, seed, 1);
    CHECK(again[0].statement == chosen[0].statement);
    CHECK(again[1].statement == chosen[1].statement);
  }
  CHECK_THROWS_WITH_AS(attrib::choose_few_shot(data, 0, 6), doctest::Contains("5 true and 5 false"),
                       attrib::invalid_argument);
}

TEST_CASE("knowledge study: pair construction refuses what cannot be traced") {
  const auto tok = cities_tokenizer();
  auto only_true = cities();
  std::erase_if(only_true.statements, [](const labelled_statement& s) { return !s.label; });
  CHECK_THROWS_WITH_AS(attrib::make_knowledge_pairs(only_true, tok, toy_options()), doctest::Contains("false"),
                       attrib::invalid_argument);
  auto same = toy_options();
  same.format.false_answer = " TRUE";
  CHECK_THROWS_WITH_AS(attrib::make_knowledge_pairs(cities(), tok, same), doctest::Contains("same token"),
                       attrib::invalid_argument);
  auto one_sided = toy_options();
  one_sided.few_shot.pop_back();
  CHECK_THROWS_WITH_AS(attrib::make_knowledge_pairs(cities(), tok, one_sided),
                       doctest::Contains("at least one true and one false"), attrib::invalid_argument);
  auto unpaired = cities();
  for (auto& s : unpaired.statements)
    if (!s.label) s.object = "Atlantis";
  CHECK_THROWS_WITH_AS(attrib::make_knowledge_pairs(unpaired, tok, toy_options()), doctest::Contains("no pair"),
                       attrib::invalid_argument);
}

TEST_CASE("knowledge study: same-model and cross-model maps equal one full forward pass per cell") {
  const auto& tok = stories_tokenizer();
  const auto pairs = attrib::make_knowledge_pairs(story_facts(), tok, story_options());
  REQUIRE(pairs.pairs.size() == 3);
  CHECK(pairs.other_shape == 1);
  CHECK(pairs.window > 10);
  CHECK(pairs.true_token != pairs.false_token);

  struct run {
    const attrib::transformer_model* source;
    const attrib::transformer_model* target;
  };
  // The brute force costs a full forward pass per cell: two pairs on one model, one across models.
  auto one = story_options();
  one.max_pairs = 1;
  const auto first_pair = attrib::make_knowledge_pairs(story_facts(), tok, one);
  auto two = story_options();
  two.max_pairs = 2;
  const auto two_pairs = attrib::make_knowledge_pairs(story_facts(), tok, two);
  for (const auto [source, target] : {run{&base_model(), &base_model()}, run{&base_model(), &instruct_model()},
                                      run{&instruct_model(), &base_model()}}) {
    const auto& traced = source == target ? two_pairs : first_pair;
    attrib::knowledge_tracing_options options;
    options.batch_cells = 7;  // cells of one pair split over several batches
    options.threads = 2;
    std::size_t calls = 0;
    options.progress = [&](std::size_t done, std::size_t total) {
      ++calls;
      CHECK(done == calls);
      CHECK(total == traced.pairs.size());
    };
    const auto trace = attrib::trace_knowledge(*source, "a", *target, "b", traced, options);
    CHECK(calls == traced.pairs.size());
    matrix expected = matrix::Zero(target->config().n_layers, traced.window);
    std::size_t right = 0;
    for (const auto& pair : traced.pairs) {
      expected += brute_force_effect(*source, *target, pair, traced.window, traced.true_token, traced.false_token);
      for (const auto* prompt : {&pair.true_prompt, &pair.false_prompt}) {
        const auto l = target->forward(std::vector<std::vector<token_id>>{*prompt})[0];
        const attrib::index last = l.rows() - 1;
        right += (l(last, traced.true_token) > l(last, traced.false_token)) == (prompt == &pair.true_prompt);
      }
    }
    expected /= static_cast<double>(traced.pairs.size());
    CHECK((trace.mean_effect - expected).cwiseAbs().maxCoeff() < 1e-5);
    CHECK(trace.target_accuracy == doctest::Approx(static_cast<double>(right) / (2.0 * traced.pairs.size())));
    CHECK(trace.pairs == traced.pairs.size());
    if (source == target) {
      // Patching the last layer's output at the last position hands over the true prompt's verdict.
      const auto last = trace.mean_effect.rows() - 1;
      CHECK(trace.mean_effect(last, traced.window - 1) == doctest::Approx(trace.true_effect).epsilon(1e-4));
    }
  }
}

TEST_CASE("knowledge study: the transfer study's maps, comparisons and files") {
  const auto& tok = stories_tokenizer();
  auto o = story_options();
  o.max_pairs = 2;
  const auto pairs = attrib::make_knowledge_pairs(story_facts(), tok, o);
  const attrib::named_model base{"base", &base_model()}, post{"instruct", &instruct_model()};
  const auto study = attrib::knowledge_transfer_study(base, post, pairs, "story facts");
  REQUIRE(study.traces.size() == 4);
  CHECK(study.traces[2].source == "base");
  CHECK(study.traces[2].target == "instruct");
  const auto forward = attrib::trace_knowledge(base_model(), "base", instruct_model(), "instruct", pairs);
  CHECK((study.traces[2].mean_effect - forward.mean_effect).cwiseAbs().maxCoeff() == 0.0);
  REQUIRE(study.comparisons.size() == 3);
  const auto direct = attrib::compare_heatmaps(study.traces[2].score, study.traces[1].score, pairs.knowledge_columns());
  CHECK(study.comparisons[0].values.max_difference == direct.max_difference);
  CHECK(study.comparisons[0].name == "forward transfer (base -> instruct vs instruct)");

  const std::array<attrib::named_model, 2> both = {base, post};
  const auto storage = attrib::knowledge_storage_study(both, pairs, "story facts");
  REQUIRE(storage.traces.size() == 2);
  REQUIRE(storage.comparisons.size() == 1);
  CHECK(storage.comparisons[0].name == "base vs instruct");
  CHECK((storage.traces[1].mean_effect - study.traces[1].mean_effect).cwiseAbs().maxCoeff() == 0.0);

  const auto folder = std::filesystem::temp_directory_path() / "attrib_test_knowledge_study";
  std::filesystem::remove_all(folder);
  attrib::write_knowledge_study(folder, "transfer", study);
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(folder)) {
    ++files;
    CHECK(e.path().filename().string().rfind("transfer.", 0) == 0);
  }
  CHECK(files == 3);
  const auto csv = attrib::detail::read_file_bytes(folder / "transfer.csv");
  const auto layers = static_cast<std::size_t>(base_model().config().n_layers);
  CHECK(std::count(csv.begin(), csv.end(), '\n') ==
        static_cast<std::ptrdiff_t>(1 + 4 * layers * static_cast<std::size_t>(pairs.window)));
  CHECK(csv.rfind("source,target,layer,column,token,role,mean_effect,score\nbase,base,0,0,", 0) == 0);
  const auto json = nlohmann::json::parse(attrib::detail::read_file_bytes(folder / "transfer.json"));
  CHECK(json["maps"].size() == 4);
  CHECK(json["maps"][2]["score"].size() == layers);
  CHECK(json["comparisons"][0]["max_difference"].get<double>() == direct.max_difference);
  const auto md = attrib::detail::read_file_bytes(folder / "transfer.md");
  CHECK(md.find("| forward transfer (base -> instruct vs instruct) |") != std::string::npos);
  CHECK(md.find("## M, base -> instruct") != std::string::npos);
  std::filesystem::remove_all(folder);
}

TEST_CASE("knowledge study in steps: pairs traced by separate tracers in any order, added in pair order, give the map bit for bit; misuse is named") {
  const auto& tok = stories_tokenizer();
  auto o = story_options();
  o.max_pairs = 3;
  const auto pairs = attrib::make_knowledge_pairs(story_facts(), tok, o);
  REQUIRE(pairs.pairs.size() == 3);
  for (const bool across : {false, true}) {
    const auto& target = across ? instruct_model() : base_model();
    const auto whole = attrib::trace_knowledge(base_model(), "base", target, "t", pairs);
    // Two tracers stand for two processes, each tracing some pairs, last pair first.
    attrib::knowledge_tracer first(base_model(), "base", target, "t", pairs), second(base_model(), "base", target, "t", pairs);
    std::vector<attrib::knowledge_pair_trace> traced(3);
    for (std::size_t i = 3; i-- > 0;) traced[i] = (i == 0 ? first : second).trace_pair(i);
    CHECK_THROWS_WITH(first.result(), doctest::Contains("0 of 3 pairs were added"));
    for (const auto& t : traced) first.add(t);
    const auto stepped = first.result();
    CHECK((stepped.mean_effect - whole.mean_effect).cwiseAbs().maxCoeff() == 0.0);
    CHECK((stepped.score - whole.score).cwiseAbs().maxCoeff() == 0.0);
    CHECK(stepped.true_effect == whole.true_effect);
    CHECK(stepped.false_effect == whole.false_effect);
    CHECK(stepped.target_accuracy == whole.target_accuracy);
    CHECK((traced[0].effect - traced[1].effect).cwiseAbs().maxCoeff() > 0.0);  // the order could matter
    CHECK_THROWS_WITH(first.add(traced[0]), doctest::Contains("more than the 3 pairs"));
    CHECK_THROWS_WITH((void)second.trace_pair(3), doctest::Contains("pair 3 is outside the 3 pairs"));
    attrib::knowledge_pair_trace wrong;
    wrong.effect = attrib::matrix::Zero(1, 1);
    CHECK_THROWS_WITH(second.add(wrong), doctest::Contains("a pair's map is 1 x 1; expected"));
  }
}

TEST_CASE("knowledge study: a Q/A template around the statements keeps the window on the statement") {
  auto o = story_options();
  o.format.prefix = "Q: ";
  o.format.suffix = " TRUE or FALSE?\nA:";
  const auto pairs = attrib::make_knowledge_pairs(story_facts(), stories_tokenizer(), o);
  REQUIRE(pairs.pairs.size() == 3);
  // "Q: " ends in a space that the statement's first word absorbs; the window starts at that word.
  CHECK(pairs.column_labels.front().find("The") != std::string::npos);
  CHECK(pairs.column_labels.back().find(':') != std::string::npos);
  CHECK(pairs.roles.front() == column_role::other);
}

TEST_CASE("knowledge study: models of another shape and empty inputs are refused by name") {
  const auto& tok = stories_tokenizer();
  auto o = story_options();
  o.max_pairs = 1;
  const auto pairs = attrib::make_knowledge_pairs(story_facts(), tok, o);
  auto c = base_model().config();
  c.dim = 32;
  c.hidden_dim = 64;
  const auto narrow = attrib::random_transformer_model(c, 7);
  CHECK_THROWS_WITH_AS(attrib::trace_knowledge(base_model(), "base", narrow, "narrow", pairs),
                       doctest::Contains("same layers and width"), attrib::invalid_argument);
  auto none = pairs;
  none.pairs.clear();
  CHECK_THROWS_WITH_AS(attrib::trace_knowledge(base_model(), "base", base_model(), "base", none),
                       doctest::Contains("no pairs"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::knowledge_storage_study({}, pairs, "x"), doctest::Contains("no models"),
                       attrib::invalid_argument);
}

namespace {

// Every k-th statement, so that a generated set's labels are both present in a small sample.
attrib::truth_dataset every(const attrib::truth_dataset& d, std::size_t k, std::size_t count) {
  attrib::truth_dataset out{d.name, {}};
  for (std::size_t i = 0; i < d.statements.size() && out.statements.size() < count; i += k)
    out.statements.push_back(d.statements[i]);
  return out;
}

// resid_post.layer at the last token of one statement, by a forward pass of that statement alone.
attrib::vector one_activation(const attrib::transformer_model& m, const std::string& statement, attrib::index layer) {
  attrib::activation_cache cache;
  attrib::hook_set hooks;
  hooks.cache(attrib::hook_point::resid_post(layer), cache);
  attrib::forward_options o;
  o.hooks = &hooks;
  const auto tokens = stories_tokenizer().encode(statement, true);
  m.forward(std::vector<std::vector<token_id>>{tokens}, o);
  return cache.at(attrib::hook_point::resid_post(layer), 0, static_cast<attrib::index>(tokens.size()) - 1).cast<double>();
}

}  // namespace

TEST_CASE("truth probes: last-token activations, batched, equal one forward pass per statement") {
  const auto data = every(attrib::cities_dataset(2), 3, 7);
  const auto a = attrib::statement_activations(base_model(), stories_tokenizer(), data, 2, 1, 3);
  REQUIRE(a.rows() == 7);
  for (std::size_t i = 0; i < data.statements.size(); ++i)
    CHECK((a.row(static_cast<attrib::index>(i)).transpose() - one_activation(base_model(), data.statements[i].statement, 2))
              .cwiseAbs()
              .maxCoeff() < 1e-5);
  CHECK_THROWS_WITH_AS(attrib::statement_activations(base_model(), stories_tokenizer(), data, 5), doctest::Contains("outside [0, 5)"),
                       attrib::invalid_argument);
}

TEST_CASE("truth probes: per-dataset centring and the mass-mean probe on hand-made points") {
  matrix x(4, 2);
  x << 1, 2, 3, 4, 10, 10, 20, 30;
  const std::vector<attrib::index> groups = {0, 0, 1, 1};
  const matrix c = attrib::centred_per_group(x, groups);
  matrix expected(4, 2);
  expected << -1, -1, 1, 1, -5, -10, 5, 10;
  CHECK((c - expected).cwiseAbs().maxCoeff() < 1e-12);

  // True (2, 0), (4, 2); false (0, 0), (2, -2): theta = (3, 1) - (1, -1) = (2, 2); projections
  // 4 and 12 against 0 and 0, separable, so the threshold settles between 0 and 4.
  matrix p(4, 2);
  p << 2, 0, 4, 2, 0, 0, 2, -2;
  const std::vector<bool> labels = {true, true, false, false};
  const auto probe = attrib::fit_mass_mean_probe(p, labels);
  CHECK(probe.direction(0) == doctest::Approx(2.0));
  CHECK(probe.direction(1) == doctest::Approx(2.0));
  CHECK(probe.threshold() > 0.0);
  CHECK(probe.threshold() < 4.0);
  CHECK(probe.accuracy(p, labels) == 1.0);

  // Overlapping classes: the fit is the unique maximum likelihood, found here by plain gradient
  // ascent on the one feature z = x . theta.
  matrix q(8, 1);
  q << -2, -1, 0.5, 1, 3, -0.5, 0.2, 2;
  const std::vector<bool> y = {false, false, false, false, true, true, true, true};
  const auto fit = attrib::fit_mass_mean_probe(q, y);
  const attrib::vector z = q * fit.direction;
  double w = 0.0, b = 0.0;
  for (int step = 0; step < 200000; ++step) {
    double gw = 0.0, gb = 0.0;
    for (attrib::index i = 0; i < z.size(); ++i) {
      const double r = (y[static_cast<std::size_t>(i)] ? 1.0 : 0.0) - 1.0 / (1.0 + std::exp(-(w * z(i) + b)));
      gw += r * z(i);
      gb += r;
    }
    w += 0.05 * gw;
    b += 0.05 * gb;
  }
  CHECK(fit.weight == doctest::Approx(w).epsilon(1e-5));
  CHECK(fit.bias == doctest::Approx(b).epsilon(1e-5));
  CHECK_THROWS_WITH_AS(attrib::fit_mass_mean_probe(q, std::vector<bool>(8, true)), doctest::Contains("both labels"),
                       attrib::invalid_argument);
}

TEST_CASE("truth probes: Table 2 across stories260K and its post-trained version, checked plainly") {
  const std::vector<attrib::truth_dataset> train = {every(attrib::larger_than_dataset(), 43, 24),
                                                    every(attrib::smaller_than_dataset(), 41, 24)};
  const auto test = every(attrib::cities_dataset(5), 1, 24);
  const std::array<attrib::named_model, 2> models = {{{"base", &base_model()}, {"instruct", &instruct_model()}}};
  attrib::truth_probe_options options;
  options.layer = 3;
  const auto s = attrib::truth_probe_transfer_study(models, stories_tokenizer(), train, test, options);
  REQUIRE(s.probes.size() == 2);
  CHECK(s.datasets.back() == "cities");
  // Each model's direction and its probe's accuracies, recomputed from one forward pass per
  // statement, centring and means written out here.
  std::vector<attrib::vector> directions;
  std::vector<std::vector<attrib::vector>> test_rows(2);
  std::vector<bool> test_labels;
  for (const auto& st : test.statements) test_labels.push_back(st.label);
  for (std::size_t m = 0; m < 2; ++m) {
    attrib::vector sum_true = attrib::vector::Zero(64), sum_false = attrib::vector::Zero(64);
    double n_true = 0, n_false = 0;
    for (const auto& d : train) {
      std::vector<attrib::vector> rows;
      attrib::vector mean = attrib::vector::Zero(64);
      for (const auto& st : d.statements) {
        rows.push_back(one_activation(*models[m].model, st.statement, 3));
        mean += rows.back() / static_cast<double>(d.statements.size());
      }
      for (std::size_t i = 0; i < rows.size(); ++i) {
        if (d.statements[i].label) {
          sum_true += rows[i] - mean;
          n_true += 1;
        } else {
          sum_false += rows[i] - mean;
          n_false += 1;
        }
      }
    }
    directions.push_back(sum_true / n_true - sum_false / n_false);
    CHECK((s.probes[m].direction - directions.back()).cwiseAbs().maxCoeff() < 1e-4 * directions.back().cwiseAbs().maxCoeff());
    attrib::vector mean = attrib::vector::Zero(64);
    for (const auto& st : test.statements) {
      test_rows[m].push_back(one_activation(*models[m].model, st.statement, 3));
      mean += test_rows[m].back() / static_cast<double>(test.statements.size());
    }
    for (auto& r : test_rows[m]) r -= mean;
  }
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 2; ++j) {
      std::size_t right = 0;
      for (std::size_t r = 0; r < test_rows[j].size(); ++r) {
        const double z = test_rows[j][r].dot(s.probes[i].direction);
        right += (z > s.probes[i].threshold()) == test_labels[r];
      }
      CHECK(s.transfer_accuracy(static_cast<attrib::index>(i), static_cast<attrib::index>(j)) ==
            doctest::Approx(static_cast<double>(right) / static_cast<double>(test_rows[j].size())));
      CHECK(s.cosine(static_cast<attrib::index>(i), static_cast<attrib::index>(j)) ==
            doctest::Approx(directions[i].dot(directions[j]) / (directions[i].norm() * directions[j].norm())).epsilon(1e-6));
    }
  // Holding out the test set is the main table.
  REQUIRE(s.held_out_accuracy.size() == 3);
  CHECK((s.held_out_accuracy[2] - s.transfer_accuracy).cwiseAbs().maxCoeff() == 0.0);

  const auto md = attrib::format_markdown(s);
  CHECK(md.find("| probe \\ activations | base | instruct |") != std::string::npos);
  CHECK(md.find("| larger_than |") != std::string::npos);
  const auto csv = attrib::format_csv(s);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 4 + 4 + 3 * 4);
  CHECK(nlohmann::json::parse(attrib::format_json(s))["transfer_accuracy"].size() == 2);

  auto c = base_model().config();
  c.dim = 32;
  c.hidden_dim = 64;
  const auto narrow = attrib::random_transformer_model(c, 7);
  const std::array<attrib::named_model, 2> mixed = {{{"base", &base_model()}, {"narrow", &narrow}}};
  CHECK_THROWS_WITH_AS(attrib::truth_probe_transfer_study(mixed, stories_tokenizer(), train, test, options),
                       doctest::Contains("equal widths"), attrib::invalid_argument);
}

TEST_CASE("truth interventions: the effect formula and the positions an intervention touches") {
  CHECK(attrib::intervention_effect(0.2, 0.6, -1.0) == doctest::Approx(0.25));        // (0.2 - 0.6) / (-1.6)
  CHECK(attrib::intervention_effect(0.5, -0.5, 1.0) == doctest::Approx(2.0 / 3.0));   // 1 / 1.5
  CHECK(std::isnan(attrib::intervention_effect(0.3, 1.0, 1.0)));
  const auto tok = cities_tokenizer();
  attrib::truth_query_options o;
  o.few_shot = toy_options().few_shot;
  const auto q = attrib::make_truth_queries(cities(), tok, o);
  REQUIRE(q.statements.size() == 10);
  // BOS, two example lines of 11 tokens, then "Paris is in France ." at 23..27: the last word at
  // 26 and the period at 27.
  CHECK(q.positions[0] == std::pair<attrib::index, attrib::index>{26, 27});
  CHECK(q.prompts[0][26] == tok.ids.at("France"));
  CHECK(q.prompts[8].size() == 1 + 22 + 6 + 4);  // "New York is in France ." and the suffix
  CHECK(q.positions[8] == std::pair<attrib::index, attrib::index>{27, 28});
  CHECK(q.true_token == tok.ids.at("TRUE"));
}

TEST_CASE("truth interventions: steered verdicts equal hooks written by hand, and Table 3's cells") {
  const auto& tok = stories_tokenizer();
  attrib::truth_query_options qo;
  qo.max_statements = 6;
  const auto test = every(attrib::cities_dataset(5), 1, 30);
  const auto q = attrib::make_truth_queries(test, tok, qo);
  REQUIRE(q.statements.size() == 6);
  attrib::vector direction = attrib::vector::LinSpaced(64, -1.0, 1.0);
  attrib::truth_intervention_options options;
  options.layers = {1, 3};
  options.coefficient = 2.0;
  options.batch_rows = 4;
  const auto pd = attrib::truth_verdicts(base_model(), q, &direction, options);
  for (std::size_t i = 0; i < q.prompts.size(); ++i) {
    attrib::hook_set hooks;
    const float sign = q.statements[i].label ? -2.0f : 2.0f;
    for (const attrib::index l : {1, 3})
      hooks.add(attrib::hook_point::resid_post(l), direction.cast<float>(), sign,
                {.rows = {}, .positions = {q.positions[i].first, q.positions[i].second}});
    attrib::forward_options f;
    f.hooks = &hooks;
    const auto logits = base_model().forward(std::vector<std::vector<token_id>>{q.prompts[i]}, f)[0];
    const attrib::index last = logits.rows() - 1;
    double total = 0.0;
    for (attrib::index v = 0; v < logits.cols(); ++v) total += std::exp(static_cast<double>(logits(last, v)));
    const double expected =
        (std::exp(static_cast<double>(logits(last, q.true_token))) - std::exp(static_cast<double>(logits(last, q.false_token)))) / total;
    CHECK(pd(static_cast<attrib::index>(i)) == doctest::Approx(expected).epsilon(1e-6));
  }
  const attrib::vector zero = attrib::vector::Zero(64);
  CHECK((attrib::truth_verdicts(base_model(), q, &zero, options) - attrib::truth_verdicts(base_model(), q, nullptr, options))
            .cwiseAbs()
            .maxCoeff() == 0.0);

  const std::vector<attrib::truth_dataset> train = {every(attrib::larger_than_dataset(), 37, 20)};
  const std::array<attrib::named_model, 2> models = {{{"base", &base_model()}, {"instruct", &instruct_model()}}};
  const auto s = attrib::truth_intervention_study_of(models, tok, train, test, 3, qo, options);
  REQUIRE(s.effect.rows() == 2);
  const auto acts = attrib::centred_truth_activations(instruct_model(), tok, train, 3);
  const auto instruct_direction = attrib::fit_mass_mean_probe(acts.centred, acts.labels).direction;
  const auto steered = attrib::truth_verdicts(base_model(), q, &instruct_direction, options);
  const auto plain = attrib::truth_verdicts(base_model(), q, nullptr, options);
  double t = 0, f = 0, bt = 0, bf = 0;
  for (std::size_t i = 0; i < q.statements.size(); ++i)
    (q.statements[i].label ? t : f) += steered(static_cast<attrib::index>(i)) / (q.statements[i].label ? s.true_statements : s.false_statements),
        (q.statements[i].label ? bt : bf) += plain(static_cast<attrib::index>(i)) / (q.statements[i].label ? s.true_statements : s.false_statements);
  CHECK(s.true_to_false(1, 0) == doctest::Approx((t - bt) / (-1.0 - bt)));
  CHECK(s.false_to_true(1, 0) == doctest::Approx((f - bf) / (1.0 - bf)));
  CHECK(s.effect(1, 0) == doctest::Approx(0.5 * (s.true_to_false(1, 0) + s.false_to_true(1, 0))));
  CHECK(attrib::format_markdown(s).find("| direction \\ steered | base | instruct |") != std::string::npos);
  CHECK(nlohmann::json::parse(attrib::format_json(s))["effect"][1].size() == 2);
  CHECK_THROWS_WITH_AS(attrib::truth_verdicts(base_model(), q, &direction, {.layers = {9}}), doctest::Contains("outside [0, 5)"),
                       attrib::invalid_argument);
  const attrib::vector wide = attrib::vector::Zero(65);
  CHECK_THROWS_WITH_AS(attrib::truth_verdicts(base_model(), q, &wide, options), doctest::Contains("width 65"),
                       attrib::invalid_argument);
  // Every model is checked before any is used, the first one too.
  const std::array<attrib::named_model, 2> null_first = {{{"gone", nullptr}, {"instruct", &instruct_model()}}};
  CHECK_THROWS_WITH_AS(attrib::truth_intervention_study_of(null_first, tok, train, test, 3, qo, options),
                       doctest::Contains("model 'gone' is null"), attrib::invalid_argument);
  auto shallow_config = base_model().config();
  shallow_config.n_layers = 2;
  const auto shallow = attrib::random_transformer_model(shallow_config, 3);
  const std::array<attrib::named_model, 2> unequal = {{{"base", &base_model()}, {"shallow", &shallow}}};
  CHECK_THROWS_WITH_AS(attrib::truth_intervention_study_of(unequal, tok, train, test, 1, qo, options),
                       doctest::Contains("another number of layers"), attrib::invalid_argument);
}
