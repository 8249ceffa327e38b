// Transformer components as players of a game (games/component_game.hpp), checked against models
// whose weights are edited by hand (zero ablation of a head is zeroing its columns of W_O, of a
// neuron its column of W_down, of an attention block W_O and its bias), against plain forward
// passes of the reference prompts (patching every position), and against hooks written out in
// the test on full forward passes (mean, resample and fractional coalitions).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/random.hpp"
#include "attrib/games/component_game.hpp"
#include "attrib/methods/feature/banzhaf.hpp"
#include "attrib/games/edge_game.hpp"
#include "attrib/games/mean_game.hpp"
#include "attrib/methods/component/acdc.hpp"
#include "attrib/methods/component/attribution_patching.hpp"
#include "attrib/methods/component/edge_attribution_patching.hpp"
#include "attrib/methods/component/coar.hpp"
#include "attrib/methods/component/mask_learning.hpp"
#include "attrib/methods/component/neuron_shapley.hpp"
#include "attrib/methods/component/path_patching.hpp"
#include "attrib/methods/feature/gradients.hpp"
#include "attrib/methods/feature/occlusion.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/transformer/model/random_model.hpp"

namespace {

using attrib::component_kind;
using attrib::hook_point;
using Index = attrib::index;
using attrib::token_id;
using attrib::transformer_architecture;
using attrib::transformer_component;
using attrib::transformer_model;
using prompt = std::vector<token_id>;

attrib::transformer_config shape(transformer_architecture a) {
  attrib::transformer_config c;
  c.architecture = a;
  c.dim = 32;
  c.hidden_dim = 48;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = a == transformer_architecture::llama ? 2 : 4;
  c.vocab_size = 24;
  c.context_length = 16;
  return c;
}

// Weights large enough that every nonlinearity matters, biases everywhere.
transformer_model random_model(transformer_architecture a, std::uint64_t seed) {
  return attrib::random_transformer_model(shape(a), seed, {.scale = 0.3f, .biases = true});
}

const prompt clean = {1, 5, 9, 3, 17, 2, 11};

// Checks `derivative` (one entry per edge) against the game's central differences at the uniform
// mask `at`, each to 1% on the scale of max(|derivative|, floor).
template <class G>
void check_against_central_differences(const G& game, double at, const attrib::vector& derivative, double floor) {
  const auto& edges = game.edges();
  const Index n = static_cast<Index>(edges.size());
  const double h = 1e-2;
  attrib::matrix points = attrib::matrix::Constant(2 * n, n, at);
  for (Index j = 0; j < n; ++j) {
    points(2 * j, j) = at + h;
    points(2 * j + 1, j) = at - h;
  }
  const auto v = game.values(points);
  const double scale = std::max(derivative.cwiseAbs().maxCoeff(), floor);
  for (Index j = 0; j < n; ++j) {
    CAPTURE(attrib::to_string(edges[static_cast<std::size_t>(j)]));
    CHECK((v(2 * j) - v(2 * j + 1)) / (2 * h) == doctest::Approx(derivative(j)).epsilon(1e-2).scale(scale));
  }
}

const prompt other = {1, 7, 4, 20, 6, 13, 8};
const prompt third = {1, 12, 19, 5, 22, 10, 3};
constexpr token_id target = 4;
constexpr token_id contrast = 9;

// A copy of `m` with one weight tensor edited as a float matrix (rows x cols, row-major).
template <class Pick, class Edit>
transformer_model edited(const transformer_model& m, Pick pick, Edit edit) {
  auto w = m.weights();
  attrib::weight_tensor& t = pick(w);
  auto data = std::make_shared<std::vector<float>>(static_cast<std::size_t>(t.rows * t.cols));
  t.decode_rows(0, t.rows, data->data());
  Eigen::Map<attrib::float_matrix> values(data->data(), t.rows, t.cols);
  edit(values);
  t = attrib::weight_tensor{attrib::ggml_type::f32, t.rows, t.cols, std::as_bytes(std::span<const float>(*data))};
  w.storage = std::make_shared<std::pair<std::shared_ptr<const void>, std::shared_ptr<std::vector<float>>>>(
      m.weights().storage, data);
  return transformer_model(m.config(), std::move(w));
}

// The last position's logits of one plain forward pass (every position computed).
attrib::float_matrix last_logits(const transformer_model& m, const prompt& p, const attrib::hook_set* hooks = nullptr) {
  const std::vector<prompt> one{p};
  attrib::forward_options o;
  o.hooks = hooks;
  const auto l = m.forward(std::span<const prompt>(one), o)[0];
  return l.bottomRows(1);
}

double logit_difference(const attrib::float_matrix& l) {
  return static_cast<double>(l(0, target)) - static_cast<double>(l(0, contrast));
}

attrib::vector log_probabilities(const attrib::float_matrix& l) {
  const attrib::vector x = l.row(0).transpose().cast<double>();
  const double lse = std::log((x.array() - x.maxCoeff()).exp().sum()) + x.maxCoeff();
  return x.array() - lse;
}

attrib::matrix row_of(std::vector<double> z) {
  attrib::matrix m(1, static_cast<Index>(z.size()));
  for (std::size_t j = 0; j < z.size(); ++j) m(0, static_cast<Index>(j)) = z[j];
  return m;
}

// Every player kept but player j.
attrib::matrix all_but(Index players, Index j) {
  attrib::matrix m = attrib::matrix::Ones(1, players);
  m(0, j) = 0.0;
  return m;
}

// The activations of `p` at every position of `point`, from a plain forward pass.
attrib::float_matrix recorded(const transformer_model& m, const prompt& p, hook_point point) {
  attrib::activation_cache cache;
  attrib::hook_set hooks;
  hooks.cache(point, cache);
  last_logits(m, p, &hooks);
  return cache.at(point, 0).topRows(static_cast<Index>(p.size()));
}

// Every head of `model` a player, patched from `other`, valued by the logit difference.
attrib::transformer_component_game patched_heads(const transformer_model& model) {
  return attrib::transformer_component_game(model, clean, attrib::every_head(model.config()),
                                            {.ablation = attrib::ablation_kind::patch,
                                             .reference = {other},
                                             .metric = {.target = target, .contrast = contrast}});
}

// Hooks that set columns [begin, begin + width) of `point` to s + z (a - s) at every position.
void mix(attrib::hook_set& hooks, hook_point point, Index begin, Index width, attrib::float_matrix source, float z) {
  hooks.call(point, [=](hook_point, attrib::float_matrix& values, std::span<const attrib::token_location> tokens) {
    for (std::size_t i = 0; i < tokens.size(); ++i)
      for (Index c = begin; c < begin + width; ++c) {
        const float s = source(tokens[i].position, c);
        auto& a = values(static_cast<Index>(i), c);
        a = s + z * (a - s);
      }
  });
}

}  // namespace

TEST_CASE("component game: zero ablation equals zeroing the component's weights") {
  for (const auto arch : {transformer_architecture::llama, transformer_architecture::gpt2}) {
    CAPTURE(attrib::to_string(arch));
    const auto model = random_model(arch, 7);
    const auto& c = model.config();
    auto players = attrib::every_head(c);
    players.push_back({component_kind::neuron, 0, 5});
    players.push_back({component_kind::attention, 0, 0});
    players.push_back({component_kind::mlp, 1, 0});
    const attrib::transformer_component_game game(model, clean, players,
                                                  {.metric = {.target = target, .contrast = contrast}});
    const Index n = game.player_count();
    REQUIRE(n == 11);
    const Index hd = c.head_dim();
    auto layer = [](Index l) {
      return [l](attrib::transformer_weights& w) -> attrib::weight_tensor& { return w.layers[static_cast<std::size_t>(l)].wo; };
    };
    // Head 1.2: its columns of layer 1's W_O.
    const auto no_head = edited(model, layer(1), [&](auto& wo) { wo.middleCols(2 * hd, hd).setZero(); });
    CHECK(game.values(all_but(n, 6))(0) == doctest::Approx(logit_difference(last_logits(no_head, clean))).epsilon(1e-5));
    // Neuron 0.5: its column of layer 0's W_down.
    const auto no_neuron = edited(
        model, [](attrib::transformer_weights& w) -> attrib::weight_tensor& { return w.layers[0].w_down; },
        [](auto& down) { down.col(5).setZero(); });
    CHECK(game.values(all_but(n, 8))(0) == doctest::Approx(logit_difference(last_logits(no_neuron, clean))).epsilon(1e-5));
    // Attention block 0: W_O and its bias.
    const auto no_attention =
        edited(edited(model, layer(0), [](auto& wo) { wo.setZero(); }),
               [](attrib::transformer_weights& w) -> attrib::weight_tensor& { return w.layers[0].bo; },
               [](auto& bo) { bo.setZero(); });
    CHECK(game.values(all_but(n, 9))(0) == doctest::Approx(logit_difference(last_logits(no_attention, clean))).epsilon(1e-5));
    // MLP block 1: W_down and its bias.
    const auto no_mlp = edited(
        edited(model, [](attrib::transformer_weights& w) -> attrib::weight_tensor& { return w.layers[1].w_down; },
               [](auto& down) { down.setZero(); }),
        [](attrib::transformer_weights& w) -> attrib::weight_tensor& { return w.layers[1].b_down; },
        [](auto& b) { b.setZero(); });
    CHECK(game.values(all_but(n, 10))(0) == doctest::Approx(logit_difference(last_logits(no_mlp, clean))).epsilon(1e-5));
    // The grand coalition is the unablated model.
    CHECK(game.values(attrib::matrix::Ones(1, n))(0) == doctest::Approx(logit_difference(last_logits(model, clean))).epsilon(1e-6));

    // The probability, loss and KL metrics read the same runs.
    const auto clean_logp = log_probabilities(last_logits(model, clean));
    const auto ablated_logp = log_probabilities(last_logits(no_head, clean));
    using attrib::component_metric_kind;
    auto with_metric = [&](component_metric_kind k) {
      return attrib::transformer_component_game(model, clean, players,
                                                {.metric = {.kind = k, .target = k == component_metric_kind::kl_to_clean ? -1 : target}});
    };
    CHECK(with_metric(component_metric_kind::probability).values(all_but(n, 6))(0) ==
          doctest::Approx(std::exp(ablated_logp(target))).epsilon(1e-5));
    CHECK(with_metric(component_metric_kind::loss).values(all_but(n, 6))(0) == doctest::Approx(-ablated_logp(target)).epsilon(1e-5));
    const double kl = (clean_logp.array().exp() * (clean_logp - ablated_logp).array()).sum();
    const auto kl_game = with_metric(component_metric_kind::kl_to_clean);
    CHECK(kl_game.values(all_but(n, 6))(0) == doctest::Approx(kl).epsilon(1e-4));
    CHECK(std::abs(kl_game.values(attrib::matrix::Ones(1, n))(0)) < 1e-9);
  }
}

TEST_CASE("component game: patching every position of the stream gives the reference run, of this or another model") {
  const auto model = random_model(transformer_architecture::llama, 7);
  const auto length = static_cast<Index>(clean.size());
  const attrib::transformer_component_game game(model, clean, attrib::every_position(0, length),
                                                {.ablation = attrib::ablation_kind::patch,
                                                 .reference = {other},
                                                 .metric = {.target = target, .contrast = contrast}});
  attrib::matrix points(2, length);
  points.row(0).setZero();
  points.row(1).setOnes();
  const auto v = game.values(points);
  CHECK(v(0) == doctest::Approx(logit_difference(last_logits(model, other))).epsilon(1e-5));
  CHECK(v(1) == doctest::Approx(logit_difference(last_logits(model, clean))).epsilon(1e-5));

  // Cross-model: the stream entering layer 1 taken from another model of the same shape at
  // positions 2 and 6, written with a replace hook from that model's cached run.
  const auto donor = random_model(transformer_architecture::llama, 8);
  const attrib::transformer_component_game cross(model, clean, attrib::every_position(1, length),
                                                 {.ablation = attrib::ablation_kind::patch,
                                                  .reference = {other},
                                                  .reference_model = &donor,
                                                  .metric = {.target = target, .contrast = contrast}});
  attrib::matrix z = attrib::matrix::Ones(1, length);
  z(0, 2) = z(0, 6) = 0.0;
  attrib::activation_cache donor_cache;
  attrib::hook_set record;
  record.cache(hook_point::resid_pre(1), donor_cache);
  last_logits(donor, other, &record);
  attrib::hook_set patch;
  patch.replace(hook_point::resid_pre(1), donor_cache, {.rows = {}, .positions = {2, 6}});
  CHECK(cross.values(z)(0) == doctest::Approx(logit_difference(last_logits(model, clean, &patch))).epsilon(1e-5));
}

TEST_CASE("component game: mean and resample ablation, fractional coalitions and ablated positions, against hooks written out") {
  const auto model = random_model(transformer_architecture::llama, 7);
  const auto& c = model.config();
  const auto heads = attrib::every_head(c);
  const Index n = static_cast<Index>(heads.size());
  const attrib::component_metric metric{.target = target, .contrast = contrast};
  const attrib::matrix z = row_of({1, 0, 0.25, 1, 0, 1, 0.5, 1});
  const Index hd = c.head_dim();
  // Hand-written: players 1 and 4 (heads 0.1, 1.0) ablated, 2 (head 0.2) at 0.25, 6 (head 1.2) at 0.5.
  auto by_hand = [&](const attrib::float_matrix& s0, const attrib::float_matrix& s1) {
    attrib::hook_set hooks;
    mix(hooks, hook_point::attn_z(0), 1 * hd, hd, s0, 0.0f);
    mix(hooks, hook_point::attn_z(0), 2 * hd, hd, s0, 0.25f);
    mix(hooks, hook_point::attn_z(1), 0 * hd, hd, s1, 0.0f);
    mix(hooks, hook_point::attn_z(1), 2 * hd, hd, s1, 0.5f);
    return logit_difference(last_logits(model, clean, &hooks));
  };
  auto source = [&](const prompt& p, Index l) { return recorded(model, p, hook_point::attn_z(l)); };

  const attrib::transformer_component_game patch_other(model, clean, heads,
                                                       {.ablation = attrib::ablation_kind::patch, .reference = {other}, .metric = metric});
  const attrib::transformer_component_game patch_third(model, clean, heads,
                                                       {.ablation = attrib::ablation_kind::patch, .reference = {third}, .metric = metric});
  const double v_other = by_hand(source(other, 0), source(other, 1));
  const double v_third = by_hand(source(third, 0), source(third, 1));
  CHECK(patch_other.values(z)(0) == doctest::Approx(v_other).epsilon(1e-5));
  CHECK(patch_third.values(z)(0) == doctest::Approx(v_third).epsilon(1e-5));

  // Resample: the value averaged over the references, two model rows per value.
  const attrib::transformer_component_game resample(
      model, clean, heads, {.ablation = attrib::ablation_kind::resample, .reference = {other, third}, .metric = metric});
  CHECK(resample.model_evaluations_per_value() == 2);
  CHECK(resample.values(z)(0) == doctest::Approx(0.5 * (v_other + v_third)).epsilon(1e-5));

  // Mean: one run with the references' activations averaged position by position.
  const attrib::transformer_component_game mean(
      model, clean, heads, {.ablation = attrib::ablation_kind::mean, .reference = {other, third}, .metric = metric});
  CHECK(mean.model_evaluations_per_value() == 1);
  const attrib::float_matrix m0 = 0.5f * (source(other, 0) + source(third, 0));
  const attrib::float_matrix m1 = 0.5f * (source(other, 1) + source(third, 1));
  CHECK(mean.values(z)(0) == doctest::Approx(by_hand(m0, m1)).epsilon(1e-5));

  // Ablation at chosen positions only: zero ablation of head 1.3 at positions 1 and 5.
  const attrib::transformer_component_game some_positions(
      model, clean, heads, {.metric = metric, .positions = {1, 5}});
  attrib::hook_set hooks;
  hooks.call(hook_point::attn_z(1), [&](hook_point, attrib::float_matrix& values, std::span<const attrib::token_location> tokens) {
    for (std::size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i].position == 1 || tokens[i].position == 5) values.row(static_cast<Index>(i)).segment(3 * hd, hd).setZero();
  });
  CHECK(some_positions.values(all_but(n, 7))(0) == doctest::Approx(logit_difference(last_logits(model, clean, &hooks))).epsilon(1e-5));

  // Batching and threads change nothing: 64 random coalitions in batches of 5 rows, on 2 threads.
  attrib::rng gen(3);
  attrib::matrix many(64, n);
  for (Index i = 0; i < many.size(); ++i) many.data()[i] = gen.uniform() < 0.5 ? 0.0 : 1.0;
  const attrib::transformer_component_game other_batches(
      model, clean, heads,
      {.ablation = attrib::ablation_kind::resample, .reference = {other, third}, .metric = metric, .batch_rows = 5, .threads = 2});
  CHECK((resample.values(many) - other_batches.values(many)).cwiseAbs().maxCoeff() < 1e-5);
}

TEST_CASE("component game: every estimator of the game framework runs on heads unchanged") {
  const auto model = random_model(transformer_architecture::llama, 7);
  const auto game = patched_heads(model);
  const Index n = game.player_count();
  attrib::matrix ends(2, n);
  ends.row(0).setOnes();
  ends.row(1).setZero();
  const auto v = game.values(ends);
  // Exact Shapley over the 8 heads: 256 coalitions, efficient, the same on 1 and 2 threads.
  const auto one = attrib::exact_shapley{}.explain(game, {.threads = 1});
  const auto two = attrib::exact_shapley{}.explain(game, {.threads = 2});
  CHECK(one.values == two.values);
  CHECK(one.values.sum() == doctest::Approx(v(0) - v(1)).epsilon(1e-9));
  // KernelSHAP with the whole neighbourhood, and exact Banzhaf, on the same game.
  const auto kernel = attrib::kernel_shap{.solver = {.budget = 256}}.explain(game, {.seed = 1});
  CHECK((kernel.values - one.values).cwiseAbs().maxCoeff() < 1e-6);
  // Banzhaf by its definition: each head's marginal contribution averaged over the 128 coalitions
  // of the other seven, from the game's values on all 256 coalitions.
  attrib::matrix coalitions(Index{1} << n, n);
  for (Index mask = 0; mask < coalitions.rows(); ++mask)
    for (Index j = 0; j < n; ++j) coalitions(mask, j) = static_cast<double>((mask >> j) & 1);
  const auto all = game.values(coalitions);
  const auto banzhaf = attrib::exact_banzhaf{}.explain(game);
  REQUIRE(banzhaf.values.size() == n);
  for (Index j = 0; j < n; ++j) {
    double sum = 0.0;
    for (Index mask = 0; mask < coalitions.rows(); ++mask)
      if (((mask >> j) & 1) == 0) sum += all(mask | (Index{1} << j)) - all(mask);
    CHECK(banzhaf.values(j) == doctest::Approx(sum / static_cast<double>(Index{1} << (n - 1))).epsilon(1e-9));
  }
}

TEST_CASE("component game: bad players, references and metrics are named") {
  const auto model = random_model(transformer_architecture::llama, 7);
  const auto& c = model.config();
  const attrib::component_metric metric{.target = target};
  using attrib::invalid_argument;
  auto make = [&](std::vector<transformer_component> players, attrib::component_game_options o = {}) {
    if (o.metric.target == -1 && o.metric.kind != attrib::component_metric_kind::kl_to_clean) o.metric = metric;
    return attrib::transformer_component_game(model, clean, std::move(players), std::move(o));
  };
  CHECK_THROWS_WITH_AS(make({{component_kind::head, 2, 0}}), doctest::Contains("head 2.0 is outside the model's 2 layers"), invalid_argument);
  CHECK_THROWS_WITH_AS(make({{component_kind::head, 0, 4}}), doctest::Contains("outside the 4 heads"), invalid_argument);
  CHECK_THROWS_WITH_AS(make({{component_kind::neuron, 1, c.hidden_dim}}), doctest::Contains("neurons"), invalid_argument);
  CHECK_THROWS_WITH_AS(make({{component_kind::position, 0, 7}}), doctest::Contains("positions of the prompt"), invalid_argument);
  CHECK_THROWS_WITH_AS(make({{component_kind::mlp, 0, 1}}), doctest::Contains("whole block"), invalid_argument);
  CHECK_THROWS_WITH_AS(make({{component_kind::mlp, 0, 0}, {component_kind::mlp, 0, 0}}), doctest::Contains("listed twice"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(make({}), doctest::Contains("no players"), invalid_argument);
  const transformer_component head{component_kind::head, 0, 0};
  CHECK_THROWS_WITH_AS(make({head}, {.reference = {other}}), doctest::Contains("zero ablation takes no reference"), invalid_argument);
  CHECK_THROWS_WITH_AS(make({head}, {.ablation = attrib::ablation_kind::patch, .reference = {other, third}}),
                       doctest::Contains("exactly one reference"), invalid_argument);
  CHECK_THROWS_WITH_AS(make({head}, {.ablation = attrib::ablation_kind::mean}), doctest::Contains("at least one reference"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(make({head}, {.ablation = attrib::ablation_kind::patch, .reference = {{1, 2, 3}}}),
                       doctest::Contains("reference prompt 0 has 3 tokens"), invalid_argument);
  CHECK_THROWS_WITH_AS(make({head}, {.ablation = attrib::ablation_kind::patch, .reference = {{1, 2, 3, 4, 5, 6, 99}}}),
                       doctest::Contains("holds token 99"), invalid_argument);
  auto narrower = shape(transformer_architecture::llama);
  narrower.hidden_dim = 40;
  const auto small = attrib::random_transformer_model(narrower, 1);
  CHECK_THROWS_WITH_AS(make({head}, {.ablation = attrib::ablation_kind::patch, .reference = {other}, .reference_model = &small}),
                       doctest::Contains("MLP width 40"), invalid_argument);
  CHECK_THROWS_WITH_AS(make({head}, {.metric = {.target = 24}}), doctest::Contains("metric target 24 is outside the vocabulary"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(make({head}, {.metric = {.kind = attrib::component_metric_kind::loss, .target = 1, .contrast = 2}}),
                       doctest::Contains("logit_difference metric only"), invalid_argument);
  CHECK_THROWS_WITH_AS(make({head}, {.positions = {7}}), doctest::Contains("ablation position 7"), invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::transformer_component_game(model, {}, {head}, {.metric = metric}), doctest::Contains("prompt is empty"),
                       invalid_argument);
  const auto game = make({head, {component_kind::head, 0, 1}});
  CHECK_THROWS_WITH_AS(game.values(attrib::matrix::Ones(1, 3)), doctest::Contains("expected 2"), invalid_argument);
  CHECK_THROWS_WITH_AS(game.values(row_of({1.0, std::nan("")})), doctest::Contains("NaN"), invalid_argument);
}

TEST_CASE("component game gradients: central differences of the game's own values, for every metric and ablation") {
  const auto model = random_model(transformer_architecture::llama, 7);
  const auto& c = model.config();
  auto players = attrib::every_head(c);
  players.push_back({component_kind::neuron, 1, 3});
  players.push_back({component_kind::attention, 1, 0});
  players.push_back({component_kind::mlp, 0, 0});
  players.push_back({component_kind::position, 1, 4});
  const Index n = static_cast<Index>(players.size());
  using attrib::ablation_kind;
  using attrib::component_metric_kind;
  struct setup {
    ablation_kind ablation;
    std::vector<prompt> reference;
  };
  // The grand coalition (attribution patching) and a fractional coalition.
  attrib::matrix at(2, n);
  at.row(0).setOnes();
  attrib::rng gen(5);
  for (Index j = 0; j < n; ++j) at(1, j) = 0.2 + 0.6 * gen.uniform();
  for (const auto& [ablation, reference] :
       {setup{ablation_kind::zero, {}}, setup{ablation_kind::patch, {other}}, setup{ablation_kind::resample, {other, third}}})
    for (const auto kind : {component_metric_kind::logit_difference, component_metric_kind::probability,
                            component_metric_kind::loss, component_metric_kind::kl_to_clean}) {
      CAPTURE(static_cast<int>(ablation));
      CAPTURE(static_cast<int>(kind));
      const attrib::component_metric metric{.kind = kind,
                                            .target = kind == component_metric_kind::kl_to_clean ? -1 : target,
                                            .contrast = kind == component_metric_kind::logit_difference ? contrast : -1};
      const attrib::transformer_component_game game(model, clean, players,
                                                    {.ablation = ablation, .reference = reference, .metric = metric});
      static_assert(attrib::differentiable_game<attrib::transformer_component_game>);
      const attrib::matrix g = game.gradients(at);
      const double h = 1e-2;
      for (Index row = 0; row < 2; ++row) {
        CAPTURE(row);
        attrib::matrix points(2 * n, n);
        for (Index j = 0; j < n; ++j) {
          points.row(2 * j) = points.row(2 * j + 1) = at.row(row);
          points(2 * j, j) += h;
          points(2 * j + 1, j) -= h;
        }
        const auto v = game.values(points);
        // The KL metric is flat at the grand coalition (gradient 0); there the differences show
        // float32 noise of about 1e-4 / h.
        const double scale = std::max(g.row(row).cwiseAbs().maxCoeff(), 1e-2);
        for (Index j = 0; j < n; ++j) {
          CAPTURE(j);
          CHECK((v(2 * j) - v(2 * j + 1)) / (2 * h) == doctest::Approx(g(row, j)).epsilon(1e-2).scale(scale));
        }
      }
      // Attribution patching is that gradient at the grand coalition, through the framework.
      const auto atp = attrib::attribution_patching.explain(game);
      CHECK((atp.values - g.row(0).transpose()).cwiseAbs().maxCoeff() <= 1e-12 * (1.0 + g.row(0).cwiseAbs().maxCoeff()));
      CHECK(atp.prediction == doctest::Approx(game.values(attrib::matrix::Ones(1, n))(0)).epsilon(1e-12));
    }
}

TEST_CASE("attribution patching ranks heads as exact ablation does; integrated gradients over heads is complete") {
  // A model with smaller weights is closer to linear in each head; the estimate's ranking of the
  // eight heads is then close to the exact one.
  const auto model = attrib::random_transformer_model(shape(transformer_architecture::llama), 5, {.scale = 0.15f});
  const auto game = patched_heads(model);
  const Index n = game.player_count();
  const auto exact = attrib::occlusion{}.explain(game).values;  // v(N) - v(N \ {j}), a forward pass each
  const auto atp = attrib::attribution_patching.explain(game).values;
  const double corr = (exact.array() - exact.mean()).matrix().dot((atp.array() - atp.mean()).matrix()) /
                      std::sqrt((exact.array() - exact.mean()).square().sum() * (atp.array() - atp.mean()).square().sum());
  MESSAGE("Pearson correlation of attribution patching and exact head ablation: " << corr);
  CHECK(corr > 0.9);
  Index top_exact = 0, top_atp = 0;
  exact.cwiseAbs().maxCoeff(&top_exact);
  atp.cwiseAbs().maxCoeff(&top_atp);
  CHECK(top_exact == top_atp);
  // Integrated gradients from the empty coalition: the values add up to v(N) - v(empty).
  const auto ig = attrib::integrated_gradients{.neighborhood = {.steps = 16}}.explain(game);
  CHECK(ig.values.size() == n);
  CHECK(std::abs(ig.completeness_delta()) < 1e-3 * (1.0 + std::abs(ig.prediction - ig.base_value)));
}

TEST_CASE("mask learning over heads prunes heads that write nothing and keeps the ones that matter") {
  // Six of the eight heads have zero columns in W_O: dummies of the game. Heads 0.0 and 1.2 write.
  const auto base = random_model(transformer_architecture::llama, 7);
  const Index hd = base.config().head_dim();
  auto silence = [&](const transformer_model& m, std::size_t layer, std::vector<Index> heads) {
    return edited(
        m, [layer](attrib::transformer_weights& w) -> attrib::weight_tensor& { return w.layers[layer].wo; },
        [&](auto& wo) {
          for (Index h : heads) wo.middleCols(h * hd, hd).setZero();
        });
  };
  const auto model = silence(silence(base, 0, {1, 2, 3}), 1, {0, 1, 3});
  const attrib::transformer_component_game game(model, clean, attrib::every_head(model.config()),
                                                {.metric = {.target = target, .contrast = contrast}});
  const auto occlusion = attrib::occlusion{}.explain(game).values;
  for (Index j : {1, 2, 3, 4, 5, 7}) CHECK(std::abs(occlusion(j)) < 1e-6);  // dummies indeed
  const auto learned = attrib::learn_mask(game, {.sparsity = 0.05, .steps = 150});
  CHECK(learned.circuit == std::vector<Index>{0, 6});
  CHECK(learned.loss.back() < learned.loss.front());
  CHECK(std::abs(learned.circuit_value - learned.full_value) < 1e-6 * (1.0 + std::abs(learned.full_value)));
  for (Index j : {1, 2, 3, 4, 5, 7}) CHECK(learned.mask(j) < 0.2);
  // Without a sparsity term nothing moves the dummies, and no live head is dropped.
  const auto kept = attrib::learn_mask(game, {.sparsity = 0.0, .steps = 20});
  CHECK(kept.circuit.size() == 8);
  CHECK_THROWS_WITH_AS(attrib::learn_mask(game, {.steps = 0}), doctest::Contains("steps"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::learn_mask(game, {.sparsity = -1.0}), doctest::Contains("sparsity"), attrib::invalid_argument);
  const auto mute = silence(model, 0, {0});
  const attrib::transformer_component_game silent(mute, clean, {{component_kind::head, 0, 0}},
                                                  {.metric = {.target = target, .contrast = contrast}});
  CHECK_THROWS_WITH_AS(attrib::learn_mask(silent, {}), doctest::Contains("no effect to keep"), attrib::invalid_argument);
}

TEST_CASE("COAR: a datamodel over head ablations predicts the effect of ablating held-out sets of heads") {
  const auto model = random_model(transformer_architecture::llama, 7);
  const auto game = patched_heads(model);
  const Index n = game.player_count();
  const auto fit = attrib::coar<>{.neighborhood = {.alpha = 0.75}, .loss = {.alpha = 1e-6}, .solver = {.budget = 200}}.explain(
      game, {.seed = 4});
  REQUIRE(fit.values.size() == n);
  // Held-out coalitions of the same size (6 of 8 heads kept), drawn here.
  attrib::rng gen(99);
  attrib::matrix held(64, n);
  for (Index r = 0; r < held.rows(); ++r) {
    held.row(r).setOnes();
    for (int removed = 0; removed < 2;) {
      const auto j = static_cast<Index>(gen.below(static_cast<std::uint64_t>(n)));
      if (held(r, j) == 1.0) {
        held(r, j) = 0.0;
        ++removed;
      }
    }
  }
  const attrib::vector actual = game.values(held);
  const attrib::vector predicted = (held * fit.values).array() + fit.fit.intercept;
  const double corr = (actual.array() - actual.mean()).matrix().dot((predicted.array() - predicted.mean()).matrix()) /
                      std::sqrt((actual.array() - actual.mean()).square().sum() *
                                (predicted.array() - predicted.mean()).square().sum());
  MESSAGE("COAR: correlation of predicted and actual held-out ablations " << corr << ", R^2 on its samples "
                                                                            << fit.fit.r_squared);
  CHECK(corr > 0.8);
}

namespace {

using attrib::circuit_edge;
using attrib::circuit_node;
using attrib::circuit_node_kind;

const circuit_node embed{circuit_node_kind::embed, 0};
const circuit_node logits{circuit_node_kind::logits, 0};
circuit_node attention(Index l) { return {circuit_node_kind::attention, l}; }
circuit_node mlp(Index l) { return {circuit_node_kind::mlp, l}; }

// The coalition keeping every edge but those `drop` selects.
template <class Drop>
attrib::matrix without(const std::vector<circuit_edge>& edges, Drop drop) {
  attrib::matrix z = attrib::matrix::Ones(1, static_cast<Index>(edges.size()));
  for (std::size_t j = 0; j < edges.size(); ++j)
    if (drop(edges[j])) z(0, static_cast<Index>(j)) = 0.0;
  return z;
}

}  // namespace

TEST_CASE("edge game: cutting a sender's every edge is ablating the sender; cutting every edge into the logits gives the reference run") {
  for (const auto arch : {transformer_architecture::llama, transformer_architecture::gpt2}) {
    CAPTURE(attrib::to_string(arch));
    const auto model = random_model(arch, 7);
    const auto edges = attrib::every_edge(model.config());
    // 2 layers: receivers attention 0 (1 edge), mlp 0 (2), attention 1 (3), mlp 1 (4), logits (5).
    REQUIRE(edges.size() == 15);
    const attrib::component_game_options patch{.ablation = attrib::ablation_kind::patch,
                                               .reference = {other},
                                               .metric = {.target = target, .contrast = contrast}};
    const attrib::transformer_edge_game game(model, clean, edges, patch);
    const attrib::transformer_component_game blocks(model, clean, attrib::every_block(model.config()), patch);
    // attention 0 -> everything after it, against the component game's attention-0 player.
    const double cut_sender = game.values(without(edges, [](const circuit_edge& e) { return e.sender == attention(0); }))(0);
    CHECK(cut_sender == doctest::Approx(blocks.values(all_but(4, 0))(0)).epsilon(1e-4));
    const double cut_mlp1 = game.values(without(edges, [](const circuit_edge& e) { return e.sender == mlp(1); }))(0);
    CHECK(cut_mlp1 == doctest::Approx(blocks.values(all_but(4, 3))(0)).epsilon(1e-4));
    // Every term of the logits' input patched: the reference prompt's own run.
    const double cut_logits = game.values(without(edges, [](const circuit_edge& e) { return e.receiver == logits; }))(0);
    CHECK(cut_logits == doctest::Approx(logit_difference(last_logits(model, other))).epsilon(1e-4));
    CHECK(game.values(attrib::matrix::Ones(1, 15))(0) == doctest::Approx(logit_difference(last_logits(model, clean))).epsilon(1e-6));
  }
}

TEST_CASE("edge game: one patched edge changes what its receiver alone reads, as a replace hook written out does") {
  const auto model = random_model(transformer_architecture::llama, 7);
  const auto edges = attrib::every_edge(model.config());
  const attrib::transformer_edge_game game(model, clean, edges,
                                          {.ablation = attrib::ablation_kind::patch,
                                           .reference = {other},
                                           .metric = {.target = target, .contrast = contrast}});
  // attention 0 -> mlp 1: mlp 1 reads its clean input with attention 0's clean output swapped
  // for the reference's; nothing upstream of mlp 1 changes, so the swap is known in advance.
  const auto clean_input = recorded(model, clean, hook_point::mlp_in(1));
  const attrib::float_matrix swap = recorded(model, other, hook_point::attn_out(0)) - recorded(model, clean, hook_point::attn_out(0));
  attrib::activation_cache replacement;
  replacement.store(hook_point::mlp_in(1), {0, 0}, clean_input.row(0).data(), clean_input.cols());
  for (Index t = 0; t < clean_input.rows(); ++t) {
    const attrib::float_vector row = (clean_input.row(t) + swap.row(t)).transpose();
    replacement.store(hook_point::mlp_in(1), {0, t}, row.data(), row.size());
  }
  attrib::hook_set hooks;
  hooks.replace(hook_point::mlp_in(1), replacement);
  const auto z = without(edges, [](const circuit_edge& e) { return e.sender == attention(0) && e.receiver == mlp(1); });
  CHECK(game.values(z)(0) == doctest::Approx(logit_difference(last_logits(model, clean, &hooks))).epsilon(1e-5));

  // Zero ablation of every edge into attention 1 leaves it reading nothing: as if attn_in.1 were 0.
  const attrib::transformer_edge_game zero(model, clean, edges, {.metric = {.target = target, .contrast = contrast}});
  attrib::hook_set silence;
  silence.scale(hook_point::attn_in(1), 0.0f);
  CHECK(zero.values(without(edges, [](const circuit_edge& e) { return e.receiver == attention(1); }))(0) ==
        doctest::Approx(logit_difference(last_logits(model, clean, &silence))).epsilon(1e-4));
  // Positions: an edge cut at the last position only.
  const attrib::transformer_edge_game last(model, clean, edges,
                                          {.ablation = attrib::ablation_kind::patch,
                                           .reference = {other},
                                           .metric = {.target = target, .contrast = contrast},
                                           .positions = {6}});
  attrib::hook_set at_last;
  at_last.replace(hook_point::mlp_in(1), replacement, {.rows = {}, .positions = {6}});
  CHECK(last.values(z)(0) == doctest::Approx(logit_difference(last_logits(model, clean, &at_last))).epsilon(1e-5));
}

namespace {

circuit_node head(Index l, Index h) { return {circuit_node_kind::head, l, h}; }

// A cache that a replace hook at `point` reads `values` (positions x width) from, in row 0.
attrib::activation_cache holding(hook_point point, const attrib::float_matrix& values) {
  attrib::activation_cache cache;
  for (Index t = 0; t < values.rows(); ++t) {
    const attrib::float_vector row = values.row(t).transpose();
    cache.store(point, {0, t}, row.data(), row.size());
  }
  return cache;
}

}  // namespace

TEST_CASE("edge game over heads: a head reads its own input and sends its share of W_O, as hooks written out do") {
  for (const auto arch : {transformer_architecture::llama, transformer_architecture::gpt2}) {
    CAPTURE(attrib::to_string(arch));
    const auto model = random_model(arch, 7);
    const auto& c = model.config();
    const Index hd = c.head_dim();
    const auto edges = attrib::every_edge(c, attrib::circuit_granularity::heads);
    // Senders embed, 4 heads and mlp 0 of layer 0, 4 heads and mlp 1 of layer 1; receivers the
    // heads of layer 0 (1 edge each), mlp 0 (5), the heads of layer 1 (6 each), mlp 1 (10), logits (11).
    REQUIRE(edges.size() == 4 + 5 + 24 + 10 + 11);
    const attrib::component_game_options patch{.ablation = attrib::ablation_kind::patch,
                                               .reference = {other},
                                               .metric = {.target = target, .contrast = contrast}};
    const attrib::transformer_edge_game game(model, clean, edges, patch);
    // Head 0.1's output, z_1 W_O[:, head 1], and what patching it from `other` changes.
    const auto parameters = attrib::transformer_parameters::from_model(model);
    const attrib::float_matrix wo0 = parameters.tensors[static_cast<std::size_t>(parameters.find("layers.0.wo"))];
    const attrib::float_matrix swap = (recorded(model, other, hook_point::attn_z(0)) - recorded(model, clean, hook_point::attn_z(0))).middleCols(hd, hd) *
                                      wo0.middleCols(hd, hd).transpose();
    // Head 0.1 -> head 1.2: run the clean prompt with layer 1's whole attention reading the swapped
    // input and keep head 2's columns of attn_z from that run, every other column from the clean one.
    attrib::hook_set swapped;
    const auto swap_in = holding(hook_point::attn_in(1), recorded(model, clean, hook_point::attn_in(1)) + swap);
    swapped.replace(hook_point::attn_in(1), swap_in);
    attrib::activation_cache read;
    swapped.cache(hook_point::attn_z(1), read);
    last_logits(model, clean, &swapped);
    attrib::float_matrix z1 = recorded(model, clean, hook_point::attn_z(1));
    z1.middleCols(2 * hd, hd) = read.at(hook_point::attn_z(1), 0).topRows(z1.rows()).middleCols(2 * hd, hd);
    attrib::hook_set one_head;
    const auto z1_cache = holding(hook_point::attn_z(1), z1);
    one_head.replace(hook_point::attn_z(1), z1_cache);
    const auto cut = without(edges, [](const circuit_edge& e) { return e.sender == head(0, 1) && e.receiver == head(1, 2); });
    CHECK(game.values(cut)(0) == doctest::Approx(logit_difference(last_logits(model, clean, &one_head))).epsilon(1e-5));
    // Head 0.1 -> logits: the final stream with the swap added.
    attrib::hook_set direct;
    const auto final_cache = holding(hook_point::resid_post(1), recorded(model, clean, hook_point::resid_post(1)) + swap);
    direct.replace(hook_point::resid_post(1), final_cache);
    CHECK(game.values(without(edges, [](const circuit_edge& e) { return e.sender == head(0, 1) && e.receiver == logits; }))(0) ==
          doctest::Approx(logit_difference(last_logits(model, clean, &direct))).epsilon(1e-5));

    // The heads together are their block: every head of layer 0 cut from mlp 1, or embed cut from
    // every head of layer 1, is the block game's edge (the output bias is the same in both runs).
    const auto blocks = attrib::every_edge(c);
    const attrib::transformer_edge_game block_game(model, clean, blocks, patch);
    const double heads_out = game.values(without(edges, [](const circuit_edge& e) {
                                   return e.sender.kind == circuit_node_kind::head && e.sender.layer == 0 && e.receiver == mlp(1);
                                 }))(0);
    CHECK(heads_out == doctest::Approx(block_game.values(without(blocks, [](const circuit_edge& e) {
                                         return e.sender == attention(0) && e.receiver == mlp(1);
                                       }))(0)).epsilon(1e-4));
    const double heads_in = game.values(without(edges, [](const circuit_edge& e) {
                                  return e.sender == embed && e.receiver.kind == circuit_node_kind::head && e.receiver.layer == 1;
                                }))(0);
    CHECK(heads_in == doctest::Approx(block_game.values(without(blocks, [](const circuit_edge& e) {
                                        return e.sender == embed && e.receiver == attention(1);
                                      }))(0)).epsilon(1e-4));
    // Reusing the prefix, batching and the head rows change nothing.
    attrib::matrix points = attrib::matrix::Ones(3, static_cast<Index>(edges.size()));
    points.row(1) = cut.row(0);
    points.row(2).head(20).setZero();
    attrib::component_game_options plain = patch;
    plain.reuse_prefix = false;
    plain.batch_rows = 1;
    const auto v = game.values(points);
    const auto w = attrib::transformer_edge_game(model, clean, edges, plain).values(points);
    for (Index r = 0; r < 3; ++r) CHECK(v(r) == doctest::Approx(w(r)).epsilon(1e-6));
  }
}

TEST_CASE("ACDC keeps the edges that matter and drops those of a block that writes nothing") {
  // Attention 1 writes nothing (W_O and its bias zero): every edge into or out of it is a dummy.
  const auto base = random_model(transformer_architecture::llama, 7);
  const auto model = edited(
      edited(base, [](attrib::transformer_weights& w) -> attrib::weight_tensor& { return w.layers[1].wo; },
             [](auto& wo) { wo.setZero(); }),
      [](attrib::transformer_weights& w) -> attrib::weight_tensor& { return w.layers[1].bo; }, [](auto& b) { b.setZero(); });
  const auto edges = attrib::every_edge(model.config());
  const attrib::transformer_edge_game game(model, clean, edges,
                                          {.ablation = attrib::ablation_kind::patch,
                                           .reference = {other},
                                           .metric = {.kind = attrib::component_metric_kind::kl_to_clean}});
  const auto found = attrib::acdc(game, {.threshold = 1e-4});
  CHECK(found.evaluations == edges.size() + 2);
  for (std::size_t j = 0; j < edges.size(); ++j) {
    CAPTURE(attrib::to_string(edges[j]));
    if (edges[j].sender == attention(1) || edges[j].receiver == attention(1)) CHECK(found.kept(static_cast<Index>(j)) == 0.0);
  }
  // Each removal moved the KL by less than the threshold: the circuit is within 15 of them.
  CHECK(found.circuit_value < 15 * 1e-4);
  CHECK(std::abs(found.full_value) < 1e-9);
  // Something is kept (the logits need an input), and the graph holds exactly the kept edges.
  CHECK(found.kept.sum() >= 1.0);
  CHECK(static_cast<double>(boost::num_edges(found.circuit)) == found.kept.sum());
  for (auto [e, end] = boost::edges(found.circuit); e != end; ++e) {
    const circuit_edge edge{found.circuit[boost::source(*e, found.circuit)], found.circuit[boost::target(*e, found.circuit)]};
    const auto j = static_cast<Index>(std::find(edges.begin(), edges.end(), edge) - edges.begin());
    REQUIRE(j < static_cast<Index>(edges.size()));
    CHECK(found.kept(j) == 1.0);
    CHECK(found.circuit[*e].increase >= 1e-4);
  }
  // With a threshold no edge can meet, everything stays; with a huge one, everything goes.
  CHECK(attrib::acdc(game, {.threshold = 0.0}).kept.sum() <= static_cast<double>(edges.size()));
  CHECK(attrib::acdc(game, {.threshold = 1e9}).kept.sum() == 0.0);
  CHECK_THROWS_WITH_AS(attrib::acdc(game, {.threshold = -1.0}), doctest::Contains("threshold"), attrib::invalid_argument);
}

TEST_CASE("edge game: bad edges are named") {
  const auto model = random_model(transformer_architecture::llama, 7);
  const attrib::component_game_options options{.metric = {.target = target}};
  auto make = [&](std::vector<circuit_edge> e) { return attrib::transformer_edge_game(model, clean, std::move(e), options); };
  CHECK_THROWS_WITH_AS(make({}), doctest::Contains("no edges"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(make({{attention(2), logits}}), doctest::Contains("attention 2 -> logits names a node outside"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(make({{mlp(1), attention(1)}}), doctest::Contains("does not come before"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(make({{attention(0), attention(0)}}), doctest::Contains("does not come before"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(make({{logits, mlp(1)}}), doctest::Contains("runs backwards"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(make({{embed, logits}, {embed, logits}}), doctest::Contains("listed twice"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(make({{head(0, 4), logits}}), doctest::Contains("head 0.4 -> logits names a head outside the model's 4 heads"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(make({{head(0, 0), head(0, 1)}}), doctest::Contains("does not come before"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(make({{{circuit_node_kind::mlp, 0, 1}, logits}}), doctest::Contains("names a head outside"), attrib::invalid_argument);
  const auto game = make({{embed, logits}, {attention(0), mlp(0)}});
  CHECK_THROWS_WITH_AS(game.values(attrib::matrix::Ones(1, 3)), doctest::Contains("expected 2"), attrib::invalid_argument);
}

TEST_CASE("edge attribution patching: the edge game's own central differences at the full graph") {
  const auto model = random_model(transformer_architecture::gpt2, 7);
  for (const auto granularity : {attrib::circuit_granularity::blocks, attrib::circuit_granularity::heads}) {
  const auto edges = attrib::every_edge(model.config(), granularity);
  const Index n = static_cast<Index>(edges.size());
  for (const auto kind : {attrib::component_metric_kind::logit_difference, attrib::component_metric_kind::kl_to_clean}) {
    for (const auto& positions : {std::vector<Index>{}, std::vector<Index>{2, 6}}) {
      CAPTURE(granularity == attrib::circuit_granularity::heads);
      CAPTURE(static_cast<int>(kind));
      CAPTURE(positions.size());
      const attrib::component_metric metric{.kind = kind,
                                            .target = kind == attrib::component_metric_kind::kl_to_clean ? -1 : target,
                                            .contrast = kind == attrib::component_metric_kind::kl_to_clean ? -1 : contrast};
      const attrib::transformer_edge_game game(model, clean, edges,
                                              {.ablation = attrib::ablation_kind::resample,
                                               .reference = {other, third},
                                               .metric = metric,
                                               .positions = positions});
      const auto eap = attrib::edge_attribution_patching(game);
      CHECK(eap.value == doctest::Approx(game.values(attrib::matrix::Ones(1, n))(0)).epsilon(1e-5));
      // The KL metric is flat at the full graph; there the differences are float32 noise.
      check_against_central_differences(game, 1.0, eap.values, 1e-2);
    }
  }
  }
}

TEST_CASE("EAP-IG: the derivative along the uniform path is the edge game's own, and the scores add up to v(all) - v(none)") {
  for (const auto architecture : {transformer_architecture::gpt2, transformer_architecture::llama}) {
    const auto model = random_model(architecture, 11);
    for (const auto granularity : {attrib::circuit_granularity::blocks, attrib::circuit_granularity::heads}) {
      CAPTURE(architecture == transformer_architecture::gpt2);
      CAPTURE(granularity == attrib::circuit_granularity::heads);
      const auto edges = attrib::every_edge(model.config(), granularity);
      const Index n = static_cast<Index>(edges.size());
      // Resample from two prompts at two positions: the path's mixes differ by source, and the
      // unablated positions must pass through.
      const attrib::transformer_edge_game game(model, clean, edges,
                                              {.ablation = attrib::ablation_kind::resample,
                                               .reference = {other, third},
                                               .metric = {.target = target, .contrast = contrast},
                                               .positions = {2, 4, 6}});
      // A two-step sum averages the derivative at z = 1/2 and z = 1, so twice it less the one-step
      // sum (EAP, z = 1) is the derivative at z = 1/2: compare with the game's central differences.
      const auto one = attrib::edge_attribution_patching(game, {.steps = 1});
      const auto two = attrib::edge_attribution_patching(game, {.steps = 2});
      CHECK(two.value == doctest::Approx(one.value).epsilon(1e-6));
      const attrib::vector half = 2.0 * two.values - one.values;
      CHECK(half.cwiseAbs().maxCoeff() > 1e-2);
      check_against_central_differences(game, 0.5, half, 0.0);
      // Completeness, as for integrated gradients: the sum tends to v(all) - v(none), with the
      // right Riemann sum's error shrinking like 1 / steps.
      attrib::matrix ends(2, n);
      ends.row(0).setOnes();
      ends.row(1).setZero();
      const auto end_values = game.values(ends);
      const double total = end_values(0) - end_values(1);
      const double coarse = attrib::edge_attribution_patching(game, {.steps = 8}).values.sum() - total;
      const double fine = attrib::edge_attribution_patching(game, {.steps = 64}).values.sum() - total;
      CAPTURE(total);
      CAPTURE(coarse);
      CAPTURE(fine);
      CHECK(std::abs(fine) < 0.03 * std::abs(total) + 1e-3);
      CHECK(std::abs(fine) < 0.5 * std::abs(coarse));
    }
  }
}

TEST_CASE("EAP-IG: bad options and graphs the uniform path does not cover") {
  const auto model = random_model(transformer_architecture::llama, 7);
  auto edges = attrib::every_edge(model.config());
  const attrib::transformer_edge_game full(model, clean, edges, {.ablation = attrib::ablation_kind::patch, .reference = {other},
                                                                 .metric = {.target = target, .contrast = contrast}});
  CHECK_THROWS_WITH_AS(attrib::edge_attribution_patching(full, {.steps = 0}), doctest::Contains("expected at least 1"),
                       attrib::invalid_argument);
  edges.pop_back();
  const attrib::transformer_edge_game partial(model, clean, edges, {.ablation = attrib::ablation_kind::patch, .reference = {other},
                                                                    .metric = {.target = target, .contrast = contrast}});
  CHECK_NOTHROW(attrib::edge_attribution_patching(partial, {.steps = 1}));
  CHECK_THROWS_WITH_AS(attrib::edge_attribution_patching(partial, {.steps = 4}), doctest::Contains("holds 14 of its 15 edges"),
                       attrib::invalid_argument);
}

TEST_CASE("path patching on the edge game equals Wang et al.'s freeze-patch-record-replay procedure") {
  const auto model = random_model(transformer_architecture::llama, 7);
  const auto& c = model.config();
  const attrib::transformer_edge_game game(model, clean, attrib::every_edge(c),
                                          {.ablation = attrib::ablation_kind::patch,
                                           .reference = {other},
                                           .metric = {.target = target, .contrast = contrast}});
  // Every block's output in the clean and the corrupted run.
  attrib::activation_cache clean_cache, corrupt_cache;
  attrib::hook_set record_clean, record_corrupt;
  for (Index l = 0; l < c.n_layers; ++l)
    for (auto p : {hook_point::attn_out(l), hook_point::mlp_out(l)}) {
      record_clean.cache(p, clean_cache);
      record_corrupt.cache(p, corrupt_cache);
    }
  last_logits(model, clean, &record_clean);
  last_logits(model, other, &record_corrupt);
  // Path attention 0 -> receiver. Step 1: the clean run with attention 0 from the corrupted run
  // and every other block frozen at its clean output; record what the receiver reads. Step 2: the
  // clean run with only that input replaced, everything else recomputed.
  for (const auto& [receiver, point] : {std::pair{mlp(1), hook_point::mlp_in(1)}, std::pair{attention(1), hook_point::attn_in(1)},
                                        std::pair{logits, hook_point::resid_post(c.n_layers - 1)}}) {
    CAPTURE(attrib::to_string(receiver));
    attrib::hook_set step;
    step.replace(hook_point::attn_out(0), corrupt_cache);
    for (Index l = 0; l < c.n_layers; ++l) {
      if (l > 0) step.replace(hook_point::attn_out(l), clean_cache);
      step.replace(hook_point::mlp_out(l), clean_cache);
    }
    attrib::activation_cache read;
    step.cache(point, read);
    last_logits(model, clean, &step);
    attrib::hook_set replay;
    replay.replace(point, read);
    const double procedure = logit_difference(last_logits(model, clean)) - logit_difference(last_logits(model, clean, &replay));
    CHECK(attrib::path_patching(game, attention(0), {receiver}) == doctest::Approx(procedure).epsilon(1e-4));
  }
  CHECK_THROWS_WITH_AS(attrib::path_patching(game, mlp(1), {attention(0)}), doctest::Contains("mlp 1 -> attention 0 is not a player"),
                       attrib::invalid_argument);
}

TEST_CASE("mean game: a dataset of prompts is the mean of its games, and the circuit methods run on it unchanged") {
  const auto model = random_model(transformer_architecture::gpt2, 7);
  const auto edges = attrib::every_edge(model.config(), attrib::circuit_granularity::heads);
  const Index n = static_cast<Index>(edges.size());
  // Three prompt pairs, each patched from another prompt.
  const std::vector<std::pair<prompt, prompt>> pairs = {{clean, other}, {other, third}, {third, clean}};
  std::vector<attrib::transformer_edge_game> games;
  for (const auto& [p, reference] : pairs)
    games.emplace_back(model, p, edges,
                       attrib::component_game_options{.ablation = attrib::ablation_kind::patch,
                                                      .reference = {reference},
                                                      .metric = {.target = target, .contrast = contrast}});
  const attrib::mean_game<attrib::transformer_edge_game> dataset{std::span<const attrib::transformer_edge_game>(games)};
  CHECK(dataset.player_count() == n);
  CHECK(dataset.model_evaluations_per_value() == 3);
  // Whole, empty, 0/1 and fractional coalitions against the single games' values taken one by one.
  attrib::matrix points(4, n);
  for (Index r = 0; r < 4; ++r)
    for (Index j = 0; j < n; ++j) points(r, j) = r == 0 ? 1.0 : r == 1 ? 0.0 : static_cast<double>((r * 7 + j * 3) % 5) / 4.0;
  for (Index r = 0; r < 4; ++r) {
    double sum = 0.0;
    for (const auto& g : games) sum += g.values(points.row(r))(0);
    CHECK(dataset.values(points)(r) == doctest::Approx(sum / 3.0).epsilon(1e-12));
  }

  // ACDC: v(all) and v(circuit) are the means of the single games' values of those coalitions.
  const auto found = attrib::acdc(dataset, {.threshold = 0.05});
  CHECK(found.evaluations == edges.size() + 2);
  double full = 0.0, circuit = 0.0;
  for (const auto& g : games) {
    full += g.values(attrib::matrix::Ones(1, n))(0) / 3.0;
    circuit += g.values(found.kept.transpose())(0) / 3.0;
  }
  CHECK(found.full_value == doctest::Approx(full).epsilon(1e-12));
  CHECK(found.circuit_value == doctest::Approx(circuit).epsilon(1e-12));
  CHECK(std::abs(found.circuit_value - found.full_value) < 0.05 * static_cast<double>(n));

  // Path patching: the mean of the single prompts' effects.
  const circuit_node sender = head(0, 1);
  const std::vector<circuit_node> receivers = {head(1, 2), logits};
  double effect = 0.0;
  for (const auto& g : games) effect += attrib::path_patching(g, sender, receivers) / 3.0;
  CHECK(attrib::path_patching(dataset, sender, receivers) == doctest::Approx(effect).epsilon(1e-9));

  // EAP: the mean game's own central differences at the full graph.
  const auto eap = attrib::edge_attribution_patching(dataset);
  CHECK(eap.value == doctest::Approx(full).epsilon(1e-5));
  check_against_central_differences(dataset, 1.0, eap.values, 1e-2);

  // Over components the mean game is differentiable: its gradient is the mean of the parts', and
  // mask learning runs on it.
  std::vector<attrib::transformer_component_game> heads;
  for (const auto& [p, reference] : pairs)
    heads.emplace_back(model, p, attrib::every_head(model.config()),
                       attrib::component_game_options{.ablation = attrib::ablation_kind::patch,
                                                      .reference = {reference},
                                                      .metric = {.target = target, .contrast = contrast}});
  const attrib::mean_game<attrib::transformer_component_game> head_dataset{std::span<const attrib::transformer_component_game>(heads)};
  const attrib::matrix at = attrib::matrix::Constant(1, head_dataset.player_count(), 0.7);
  attrib::matrix gradient = attrib::matrix::Zero(1, head_dataset.player_count());
  for (const auto& g : heads) gradient += g.gradients(at) / 3.0;
  CHECK((head_dataset.gradients(at) - gradient).cwiseAbs().maxCoeff() < 1e-9);
  const auto mask = attrib::learn_mask(head_dataset, {.steps = 5});
  CHECK(mask.full_value == doctest::Approx(head_dataset.values(attrib::matrix::Ones(1, head_dataset.player_count()))(0)));

  // Games over other players, or other edges, are not one dataset.
  const std::vector<attrib::transformer_edge_game> mixed = {
      games[0], attrib::transformer_edge_game(model, clean, attrib::every_edge(model.config()), games[0].options())};
  CHECK_THROWS_WITH_AS(attrib::mean_game<attrib::transformer_edge_game>(std::span<const attrib::transformer_edge_game>(mixed)),
                       doctest::Contains("game 1 has 15 players, game 0 has 54"), attrib::invalid_argument);
  auto reversed = edges;
  std::reverse(reversed.begin(), reversed.end());
  const std::vector<attrib::transformer_edge_game> shuffled = {games[0],
                                                               attrib::transformer_edge_game(model, clean, reversed, games[0].options())};
  CHECK_THROWS_WITH_AS(attrib::mean_game<attrib::transformer_edge_game>(std::span<const attrib::transformer_edge_game>(shuffled)),
                       doctest::Contains("edges differ"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::mean_game<attrib::transformer_edge_game>(std::span<const attrib::transformer_edge_game>()),
                       doctest::Contains("no games"), attrib::invalid_argument);
}

TEST_CASE("Neuron Shapley: truncated permutation sampling over neurons approaches the exact Shapley values") {
  const auto model = random_model(transformer_architecture::llama, 7);
  std::vector<transformer_component> neurons;
  for (Index i = 0; i < 6; ++i) neurons.push_back({component_kind::neuron, 1, 3 * i});
  const attrib::transformer_component_game game(model, clean, neurons, {.metric = {.target = target, .contrast = contrast}});
  const auto exact = attrib::exact_shapley{}.explain(game);
  // No truncation: unbiased, its error within a few standard errors.
  const auto sampled = attrib::neuron_shapley{.solver = {.budget = 3000, .tolerance = 0.0}}.explain(game, {.seed = 2});
  for (Index j = 0; j < 6; ++j) {
    CAPTURE(j);
    CHECK(std::abs(sampled.values(j) - exact.values(j)) <= 4.0 * sampled.standard_errors(j) + 1e-9);
  }
  CHECK(sampled.values.sum() == doctest::Approx(exact.values.sum()).epsilon(1e-6));
}
