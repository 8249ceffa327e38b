// The entropy-neuron study: LogitVar in the Gram form against the explicit cosines and against a
// plain loop written here from the definitions (random models of both families, with and without
// TransformerLens's weight processing, and stories260K), numpy's percentile on hand-checked
// values, selection and comparison on hand-made scores, a model with planted entropy neurons,
// stories260K against its post-trained version, the errors, and the three writers.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attrib/studies/entropy_neurons.hpp"
#include "attrib/transformer/loading/hf_loader.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"
#include "attrib/transformer/model/random_model.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using attrib::entropy_neuron_options;
using idx = attrib::index;  // not `index`: <strings.h> has a global one
using attrib::transformer_model;

const std::filesystem::path models_dir = std::filesystem::path(ATTRIB_DATA_DIR) / "models";

const transformer_model& base_model() {
  static const auto m = attrib::load_llama2c_model(models_dir / "stories260K" / "stories260K.bin");
  return m;
}
const transformer_model& instruct_model() {
  static const auto m = attrib::load_hf_model(models_dir / "stories260K-instruct");
  return m;
}

attrib::transformer_config small_config(attrib::transformer_architecture a, idx dim, idx hidden, idx vocab) {
  attrib::transformer_config c;
  c.architecture = a;
  c.dim = dim;
  c.hidden_dim = hidden;
  c.n_layers = 2;
  c.n_heads = 2;
  c.n_kv_heads = 2;
  c.vocab_size = vocab;
  c.context_length = 8;
  return c;
}

attrib::transformer_model small_model(attrib::transformer_architecture a, idx dim, idx hidden, idx vocab,
                                      std::uint64_t seed) {
  attrib::random_model_options o;
  o.tied_output = false;
  o.scale = 0.3f;  // norm weights in [0.7, 1.3], so that folding them matters
  return attrib::random_transformer_model(small_config(a, dim, hidden, vocab), seed, o);
}

struct plain_scores {
  std::vector<double> norms, logit_variance;
};

// The definitions, one cosine at a time: u_v = row v of output, times the final norm weight
// (fold), centred over its entries (LayerNorm models), minus the mean row (centre); w_i = column
// i of the last w_down, centred over its entries (LayerNorm models); a zero vector has cosine 0;
// LogitVar_i = sum_v (cos_iv - mean_i)^2 / (V - 1).
plain_scores plain_loop(const transformer_model& m, bool fold, bool center, bool width_center) {
  const auto& c = m.config();
  const auto& w = m.weights();
  const auto d = static_cast<std::size_t>(c.dim), V = static_cast<std::size_t>(c.vocab_size),
             N = static_cast<std::size_t>(c.hidden_dim);
  const bool layer_norm = width_center && c.architecture == attrib::transformer_architecture::gpt2;
  const std::vector<float> gain = w.final_norm.decode_row(0);
  std::vector<std::vector<double>> u(V, std::vector<double>(d));
  for (std::size_t v = 0; v < V; ++v) {
    const std::vector<float> row = w.output.decode_row(static_cast<idx>(v));
    for (std::size_t k = 0; k < d; ++k) u[v][k] = static_cast<double>(row[k]) * (fold ? gain[k] : 1.0);
    if (layer_norm) {
      double mean = 0.0;
      for (std::size_t k = 0; k < d; ++k) mean += u[v][k];
      for (std::size_t k = 0; k < d; ++k) u[v][k] -= mean / static_cast<double>(d);
    }
  }
  if (center)
    for (std::size_t k = 0; k < d; ++k) {
      double mean = 0.0;
      for (std::size_t v = 0; v < V; ++v) mean += u[v][k];
      for (std::size_t v = 0; v < V; ++v) u[v][k] -= mean / static_cast<double>(V);
    }
  std::vector<std::vector<double>> wi(N, std::vector<double>(d));
  for (std::size_t k = 0; k < d; ++k) {
    const std::vector<float> row = w.layers.back().w_down.decode_row(static_cast<idx>(k));
    for (std::size_t i = 0; i < N; ++i) wi[i][k] = row[i];
  }
  plain_scores out;
  for (std::size_t i = 0; i < N; ++i) {
    if (layer_norm) {
      double mean = 0.0;
      for (std::size_t k = 0; k < d; ++k) mean += wi[i][k];
      for (std::size_t k = 0; k < d; ++k) wi[i][k] -= mean / static_cast<double>(d);
    }
    double wn = 0.0;
    for (std::size_t k = 0; k < d; ++k) wn += wi[i][k] * wi[i][k];
    wn = std::sqrt(wn);
    std::vector<double> cosines(V);
    for (std::size_t v = 0; v < V; ++v) {
      double dot = 0.0, un = 0.0;
      for (std::size_t k = 0; k < d; ++k) {
        dot += wi[i][k] * u[v][k];
        un += u[v][k] * u[v][k];
      }
      un = std::sqrt(un);
      cosines[v] = wn > 0.0 && un > 0.0 ? dot / (wn * un) : 0.0;
    }
    double mean = 0.0;
    for (const double x : cosines) mean += x;
    mean /= static_cast<double>(V);
    double sum = 0.0;
    for (const double x : cosines) sum += (x - mean) * (x - mean);
    out.norms.push_back(wn);
    out.logit_variance.push_back(sum / static_cast<double>(V - 1));
  }
  return out;
}

bool relatively_close(double a, double b, double tolerance = 1e-9) {
  return std::abs(a - b) <= tolerance * std::max(std::abs(a), std::abs(b));
}

void check_against_plain(const transformer_model& m, const entropy_neuron_options& o) {
  const auto gram = attrib::last_layer_neuron_scores(m, o);
  const auto direct = attrib::logit_variance_direct(m, o);
  const auto plain = plain_loop(m, o.fold_final_norm, o.center_unembedding, o.center_layer_norm_weights);
  REQUIRE(gram.norms.size() == m.config().hidden_dim);
  REQUIRE(gram.logit_variance.size() == m.config().hidden_dim);
  REQUIRE(direct.size() == m.config().hidden_dim);
  int wrong = 0;
  for (idx i = 0; i < m.config().hidden_dim; ++i) {
    const auto k = static_cast<std::size_t>(i);
    wrong += !relatively_close(gram.norms(i), plain.norms[k], 1e-12);
    wrong += !relatively_close(gram.logit_variance(i), plain.logit_variance[k]);
    wrong += !relatively_close(direct(i), plain.logit_variance[k]);
    wrong += !(plain.logit_variance[k] > 0.0);  // a zero would make the relative checks vacuous
  }
  CHECK(wrong == 0);
}

// Keeps its float buffers alive for the weights that point into them.
struct edited_model {
  std::vector<float> output, w_down;
  std::unique_ptr<transformer_model> model;
};

std::span<const std::byte> bytes_of(const std::vector<float>& v) { return std::as_bytes(std::span<const float>(v)); }

}  // namespace

TEST_CASE("entropy neurons: the Gram form equals the explicit cosines and a plain loop") {
  for (const auto a : {attrib::transformer_architecture::llama, attrib::transformer_architecture::gpt2}) {
    // 300 tokens: more than one block of the streamed vocabulary.
    const auto m = small_model(a, 16, 40, 300, 7);
    for (const bool fold : {false, true})
      for (const bool center : {false, true})
        for (const bool width : {false, true}) {
          CAPTURE(attrib::to_string(a));
          CAPTURE(fold);
          CAPTURE(center);
          CAPTURE(width);
          entropy_neuron_options o;
          o.fold_final_norm = fold;
          o.center_unembedding = center;
          o.center_layer_norm_weights = width;
          check_against_plain(m, o);
        }
  }
  SUBCASE("stories260K, defaults") { check_against_plain(base_model(), {}); }
  SUBCASE("stories260K-instruct, defaults") { check_against_plain(instruct_model(), {}); }
}

TEST_CASE("entropy neurons: results do not depend on the thread count") {
  entropy_neuron_options one, two;
  two.threads = 2;
  const auto a = attrib::last_layer_neuron_scores(base_model(), one);
  const auto b = attrib::last_layer_neuron_scores(base_model(), two);
  CHECK(a.norms == b.norms);
  CHECK(a.logit_variance == b.logit_variance);
  CHECK(attrib::logit_variance_direct(base_model(), one) == attrib::logit_variance_direct(base_model(), two));
}

TEST_CASE("entropy neurons: bfloat16 weights give the scores of their float32 values") {
  const auto m = small_model(attrib::transformer_architecture::llama, 16, 40, 70, 11);
  const auto& w = m.weights();
  // Rounded to bfloat16 by truncation: the float32 copy then holds exactly the decoded values.
  const auto rounded = [](const attrib::weight_tensor& t, std::vector<float>& f32, std::vector<std::uint16_t>& bf16) {
    for (idx r = 0; r < t.rows; ++r)
      for (const float x : t.decode_row(r)) {
        std::uint32_t bits = 0;
        std::memcpy(&bits, &x, 4);
        bf16.push_back(static_cast<std::uint16_t>(bits >> 16));
        bits &= 0xFFFF0000u;
        float y = 0.0f;
        std::memcpy(&y, &bits, 4);
        f32.push_back(y);
      }
  };
  std::vector<float> out32, down32;
  std::vector<std::uint16_t> out16, down16;
  rounded(w.output, out32, out16);
  rounded(w.layers.back().w_down, down32, down16);
  auto w32 = w, w16 = w;
  w32.output.bytes = bytes_of(out32);
  w32.layers.back().w_down.bytes = bytes_of(down32);
  w16.output = {attrib::ggml_type::bf16, w.output.rows, w.output.cols,
                std::as_bytes(std::span<const std::uint16_t>(out16))};
  const auto& down = w.layers.back().w_down;
  w16.layers.back().w_down = {attrib::ggml_type::bf16, down.rows, down.cols,
                              std::as_bytes(std::span<const std::uint16_t>(down16))};
  const transformer_model m32(m.config(), w32), m16(m.config(), w16);
  const auto a = attrib::last_layer_neuron_scores(m32);
  const auto b = attrib::last_layer_neuron_scores(m16);
  CHECK(a.norms == b.norms);
  CHECK(a.logit_variance == b.logit_variance);
  check_against_plain(m16, {});
}

TEST_CASE("entropy neurons: numpy's linear percentile") {
  // np.percentile(np.arange(1, 9), 75) = 6.25: rank 0.75 * 7 = 5.25 between 6 and 7.
  attrib::vector eight(8);
  eight << 3, 8, 1, 6, 2, 7, 5, 4;
  CHECK(attrib::linear_percentile(eight, 75) == doctest::Approx(6.25).epsilon(1e-15));
  CHECK(attrib::linear_percentile(eight, 0) == 1.0);
  CHECK(attrib::linear_percentile(eight, 100) == 8.0);
  CHECK(attrib::linear_percentile(eight, 50) == doctest::Approx(4.5).epsilon(1e-15));
  attrib::vector four(4);
  four << 3, 1, 2, 10;  // sorted 1 2 3 10; rank 2.25: 3 + 0.25 * 7
  CHECK(attrib::linear_percentile(four, 75) == doctest::Approx(4.75).epsilon(1e-15));
  attrib::vector six(6);
  six << 0.5, 0.25, 2.0, 1.0, 4.0, 3.0;  // sorted 0.25 0.5 1 2 3 4
  CHECK(attrib::linear_percentile(six, 60) == doctest::Approx(2.0).epsilon(1e-15));   // rank 3
  CHECK(attrib::linear_percentile(six, 30) == doctest::Approx(0.75).epsilon(1e-15));  // rank 1.5
  CHECK(attrib::linear_percentile(attrib::vector::Constant(1, 5.0), 75) == 5.0);
  CHECK_THROWS_WITH_AS(attrib::linear_percentile(eight, 101), doctest::Contains("expected a percentage"),
                       attrib::invalid_argument);
}

TEST_CASE("entropy neurons: selection by norm percentile and LogitVar") {
  attrib::neuron_scores s{attrib::vector(8), attrib::vector(8)};
  s.norms << 1, 2, 3, 4, 5, 6, 7, 8;
  s.logit_variance << 0.001, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.07;
  entropy_neuron_options o;
  o.count = 2;
  // Threshold 6.25: neurons 6 (norm 7) and 7 (norm 8); neuron 0 has the smallest LogitVar of all
  // but a small norm.
  auto e = attrib::select_entropy_neurons("m", s, o);
  CHECK(e.model == "m");
  CHECK(e.norm_threshold == doctest::Approx(6.25));
  CHECK(e.candidates == std::vector<idx>{6, 7});
  CHECK(e.neurons == std::vector<idx>{6, 7});
  o.top_norm_fraction = 0.5;  // threshold 4.5: neurons 4 .. 7
  o.count = 3;
  e = attrib::select_entropy_neurons("m", s, o);
  CHECK(e.candidates == std::vector<idx>{4, 5, 6, 7});
  CHECK(e.neurons == std::vector<idx>{6, 7, 5});
  o.top_norm_fraction = 1.0;  // threshold = the smallest norm, which is not above itself
  o.count = 7;
  e = attrib::select_entropy_neurons("m", s, o);
  CHECK(e.candidates.size() == 7);
  CHECK(e.neurons == std::vector<idx>{6, 7, 5, 4, 3, 2, 1});
  o.count = 8;
  CHECK_THROWS_WITH_AS(attrib::select_entropy_neurons("m", s, o),
                       doctest::Contains("has 7 candidates (norm above 1.0"), attrib::invalid_argument);
}

TEST_CASE("entropy neurons: overlap, IoU and the ratio difference of hand-made sets") {
  attrib::entropy_neurons a, b;
  a.model = "a";
  b.model = "b";
  a.scores = {attrib::vector::Constant(8, 2.0), attrib::vector::Constant(8, std::exp(-4.0))};
  b.scores = {attrib::vector::Constant(8, 3.0), attrib::vector::Constant(8, std::exp(-2.0))};
  a.scores.norms(3) = 6.0;  // |6 / -4| = 1.5 against b's |3 / -2| = 1.5
  a.neurons = {1, 2, 3, 4};
  b.neurons = {5, 4, 3};
  auto c = attrib::compare_entropy_neurons(a, b);
  CHECK(c.overlap == 2);
  CHECK(c.iou == doctest::Approx(2.0 / 5.0));
  // Neuron 3: |1.5 - 1.5| = 0; neuron 4: |2/4 - 3/2| = 1.
  CHECK(c.mean_ratio_difference == doctest::Approx(0.5));
  CHECK(attrib::norm_log_variance_ratio(2.0, std::exp(-4.0)) == doctest::Approx(0.5));
  b.neurons = {0, 5};
  c = attrib::compare_entropy_neurons(a, b);
  CHECK(c.overlap == 0);
  CHECK(c.iou == 0.0);
  CHECK(std::isnan(c.mean_ratio_difference));
  b.neurons = a.neurons;
  CHECK(attrib::compare_entropy_neurons(a, b).iou == 1.0);
  b.scores.norms = attrib::vector::Constant(9, 1.0);
  CHECK_THROWS_WITH_AS(attrib::compare_entropy_neurons(a, b), doctest::Contains("needs the same hidden size"),
                       attrib::invalid_argument);
}

TEST_CASE("entropy neurons: planted neurons orthogonal to the unembedding are found") {
  const idx d = 16, N = 64, V = 100;
  const auto m = small_model(attrib::transformer_architecture::llama, d, N, V, 3);
  edited_model e;
  const auto& w = m.weights();
  const auto& down = w.layers.back().w_down;
  // Every unembedding row zero in the last two coordinates; folding and centring keep them zero.
  for (idx v = 0; v < V; ++v) {
    auto row = w.output.decode_row(v);
    row[d - 2] = row[d - 1] = 0.0f;
    e.output.insert(e.output.end(), row.begin(), row.end());
  }
  for (idx r = 0; r < d; ++r) {
    const auto row = down.decode_row(r);
    e.w_down.insert(e.w_down.end(), row.begin(), row.end());
  }
  // Neuron i gets 10 e_{d-1} + 10 eps (1, ..., 1, 0, 0): LogitVar grows as eps^2. Neuron 9 is a
  // zero vector; another gets a large norm but an ordinary direction.
  const std::vector<std::pair<idx, float>> planted = {{17, 0.0f}, {42, 1e-3f}, {5, 1e-2f}};
  for (const auto& [i, eps] : planted)
    for (idx r = 0; r < d; ++r)
      e.w_down[static_cast<std::size_t>(r * N + i)] = r == d - 1 ? 10.0f : r == d - 2 ? 0.0f : 10.0f * eps;
  for (idx r = 0; r < d; ++r) {
    e.w_down[static_cast<std::size_t>(r * N + 9)] = 0.0f;
    e.w_down[static_cast<std::size_t>(r * N + 30)] *= 100.0f;
  }
  auto weights = w;
  weights.output.bytes = bytes_of(e.output);
  weights.layers.back().w_down.bytes = bytes_of(e.w_down);
  e.model = std::make_unique<transformer_model>(m.config(), weights);

  entropy_neuron_options o;
  o.count = 3;
  const auto found = attrib::find_entropy_neurons(*e.model, "planted", o);
  CHECK(found.neurons == std::vector<idx>{17, 42, 5});
  CHECK(found.scores.logit_variance(17) == 0.0);
  CHECK(found.scores.logit_variance(42) > 0.0);
  CHECK(found.scores.logit_variance(9) == 0.0);
  CHECK(found.scores.norms(9) == 0.0);
  CHECK(std::find(found.candidates.begin(), found.candidates.end(), 30) != found.candidates.end());
  CHECK(std::find(found.candidates.begin(), found.candidates.end(), 9) == found.candidates.end());
  const auto direct = attrib::logit_variance_direct(*e.model, o);
  CHECK(direct(17) == 0.0);
  CHECK(direct(9) == 0.0);
  CHECK(relatively_close(direct(42), found.scores.logit_variance(42), 1e-6));
  for (idx i = 0; i < N; ++i) CHECK(std::isfinite(found.scores.logit_variance(i)));
}

TEST_CASE("entropy neurons: a zero unembedding row adds cosines of 0") {
  const idx d = 16, V = 50;
  const auto m = small_model(attrib::transformer_architecture::llama, d, 40, V, 5);
  edited_model e;
  for (idx v = 0; v < V; ++v) {
    auto row = m.weights().output.decode_row(v);
    if (v == 7) std::fill(row.begin(), row.end(), 0.0f);
    e.output.insert(e.output.end(), row.begin(), row.end());
  }
  auto weights = m.weights();
  weights.output.bytes = bytes_of(e.output);
  e.model = std::make_unique<transformer_model>(m.config(), weights);
  entropy_neuron_options o;
  o.center_unembedding = false;  // which would move the zero row off zero
  check_against_plain(*e.model, o);
}

TEST_CASE("entropy neurons: stories260K against stories260K-instruct") {
  const std::vector<attrib::named_model> models = {{"base", &base_model()}, {"instruct", &instruct_model()}};
  const auto study = attrib::entropy_neuron_study_of(models);
  REQUIRE(study.models.size() == 2);
  REQUIRE(study.comparisons.size() == 1);
  const auto& c = study.comparisons[0];
  CHECK(c.name == "base vs instruct");
  CHECK(c.first == 0);
  CHECK(c.second == 1);
  CHECK(c.values.iou >= 0.0);
  CHECK(c.values.iou <= 1.0);
  CHECK(c.values.overlap <= 10);
  CHECK(c.values.iou == doctest::Approx(static_cast<double>(c.values.overlap) / (20.0 - c.values.overlap)));
  for (const auto& m : study.models) {
    CAPTURE(m.model);
    CHECK(m.neurons.size() == 10);
    // 172 neurons: rank 0.75 * 171 = 128.25, so 43 norms lie above the threshold.
    CHECK(m.candidates.size() == 43);
    for (std::size_t k = 0; k + 1 < m.neurons.size(); ++k)
      CHECK(m.scores.logit_variance(m.neurons[k]) <= m.scores.logit_variance(m.neurons[k + 1]));
    // No candidate left out has a smaller LogitVar than the last one chosen.
    for (const idx i : m.candidates)
      if (std::find(m.neurons.begin(), m.neurons.end(), i) == m.neurons.end())
        CHECK(m.scores.logit_variance(i) >= m.scores.logit_variance(m.neurons.back()));
  }
  MESSAGE("stories260K vs instruct: overlap " << c.values.overlap << ", IoU " << c.values.iou);

  SUBCASE("writers") {
    const std::string md = attrib::format_markdown(study);
    CHECK(md.find("| comparison | overlap | IoU |") != std::string::npos);
    CHECK(md.find("| base vs instruct | " + std::to_string(c.values.overlap) + " | ") != std::string::npos);
    CHECK(md.find("## instruct") != std::string::npos);
    const std::string csv = attrib::format_csv(study);
    std::istringstream lines(csv);
    std::string line;
    std::getline(lines, line);
    CHECK(line == "model,neuron,norm,logit_variance,ratio,candidate,rank");
    std::size_t rows = 0, ranked = 0, candidates = 0;
    while (std::getline(lines, line)) {
      ++rows;
      std::vector<std::string> fields;
      std::istringstream cells(line + ",");
      for (std::string f; std::getline(cells, f, ',');) fields.push_back(f);
      REQUIRE(fields.size() == 7);
      ranked += !fields[6].empty();
      candidates += fields[5] == "1";
    }
    CHECK(rows == 2 * 172);
    CHECK(ranked == 20);
    CHECK(candidates == 2 * 43);
    const auto j = nlohmann::json::parse(attrib::format_json(study));
    CHECK(j["models"].size() == 2);
    CHECK(j["models"][1]["name"] == "instruct");
    CHECK(j["models"][0]["entropy_neurons"].size() == 10);
    CHECK(j["models"][0]["norms"].size() == 172);
    CHECK(j["comparisons"][0]["iou"].get<double>() == c.values.iou);
    CHECK(j["options"]["count"] == 10);
    const auto folder = std::filesystem::temp_directory_path() / "attrib_test_entropy_study";
    std::filesystem::remove_all(folder);
    attrib::write_entropy_neuron_study(folder, "table14", study);
    for (const std::string ext : {".md", ".csv", ".json"}) CHECK(std::filesystem::exists(folder / ("table14" + ext)));
    std::filesystem::remove_all(folder);
  }
}

TEST_CASE("entropy neurons: errors name what is wrong") {
  const auto& m = base_model();
  entropy_neuron_options o;
  for (const double f : {0.0, -0.5, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    o.top_norm_fraction = f;
    CHECK_THROWS_WITH_AS(attrib::last_layer_neuron_scores(m, o), doctest::Contains("top_norm_fraction"),
                         attrib::invalid_argument);
  }
  o = {};
  o.count = 0;
  CHECK_THROWS_WITH_AS(attrib::find_entropy_neurons(m, "m", o), doctest::Contains("count is 0"),
                       attrib::invalid_argument);
  o.count = 44;  // 43 candidates
  CHECK_THROWS_WITH_AS(attrib::find_entropy_neurons(m, "m", o), doctest::Contains("43 candidates"),
                       attrib::invalid_argument);

  const std::vector<attrib::named_model> none;
  CHECK_THROWS_WITH_AS(attrib::entropy_neuron_study_of(none), doctest::Contains("no models"),
                       attrib::invalid_argument);
  const std::vector<attrib::named_model> null = {{"base", &m}, {"ghost", nullptr}};
  CHECK_THROWS_WITH_AS(attrib::entropy_neuron_study_of(null), doctest::Contains("model 'ghost' is null"),
                       attrib::invalid_argument);
  const auto other = small_model(attrib::transformer_architecture::llama, 16, 40, 60, 1);
  const std::vector<attrib::named_model> widths = {{"base", &m}, {"small", &other}};
  CHECK_THROWS_WITH_AS(attrib::entropy_neuron_study_of(widths), doctest::Contains("needs the same hidden size"),
                       attrib::invalid_argument);

  const auto one_token = small_model(attrib::transformer_architecture::llama, 16, 40, 1, 1);
  CHECK_THROWS_WITH_AS(attrib::last_layer_neuron_scores(one_token), doctest::Contains("at least 2"),
                       attrib::invalid_argument);
  // 2^14 neurons x (2^14 + 1) tokens: just over the direct form's limit of 2^28 cosines.
  auto c = small_config(attrib::transformer_architecture::llama, 2, idx{1} << 14, (idx{1} << 14) + 1);
  c.n_layers = 1;
  c.n_heads = c.n_kv_heads = 1;
  const auto wide = attrib::random_transformer_model(c, 1);
  CHECK_THROWS_WITH_AS(attrib::logit_variance_direct(wide), doctest::Contains("exceed the limit"),
                       attrib::invalid_argument);
}
