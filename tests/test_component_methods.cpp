// Component methods beyond the transformer's game core: ROME's noise-corrupted causal tracing
// against full forward passes with hooks written out here and the axioms a restoration must
// satisfy; an MLP's hidden units as players, against weight edits and forward passes written out.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "attrib/games/component_game.hpp"
#include "attrib/games/edge_game.hpp"
#include "attrib/games/mlp_component_game.hpp"
#include "attrib/methods/component/attribution_patching.hpp"
#include "attrib/methods/component/attribution_path_patching.hpp"
#include "attrib/methods/component/path_patching.hpp"
#include "attrib/methods/component/neuron_shapley.hpp"
#include "attrib/methods/component/noise_causal_tracing.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/transformer/model/random_model.hpp"

namespace {

using attrib::hook_point;
using Index = attrib::index;
using attrib::token_id;
using attrib::transformer_architecture;
using attrib::transformer_model;
using prompt = std::vector<token_id>;

transformer_model small_model(transformer_architecture a, std::uint64_t seed) {
  attrib::transformer_config c;
  c.architecture = a;
  c.dim = 32;
  c.hidden_dim = 48;
  c.n_layers = 3;
  c.n_heads = 4;
  c.n_kv_heads = a == transformer_architecture::llama ? 2 : 4;
  c.vocab_size = 24;
  c.context_length = 16;
  return attrib::random_transformer_model(c, seed, {.scale = 0.3f, .biases = true});
}

double answer_probability(const attrib::float_matrix& logits, token_id answer) {
  const attrib::vector l = logits.row(logits.rows() - 1).cast<double>().transpose();
  const double top = l.maxCoeff();
  return std::exp(l(answer) - top) / (l.array() - top).exp().sum();
}

}  // namespace

TEST_CASE("ROME noise tracing: each restored cell equals a full forward pass with the noise and a replace hook") {
  for (auto a : {transformer_architecture::llama, transformer_architecture::gpt2}) {
    const transformer_model m = small_model(a, 11);
    const prompt tokens = {3, 7, 1, 12, 5, 9};
    attrib::noise_tracing_options o;
    o.subject_positions = {1, 2};
    o.answer = 4;
    o.samples = 3;
    o.seed = 5;
    o.noise_scale = 0.8;
    for (auto point : {attrib::hook_kind::resid_post, attrib::hook_kind::resid_pre}) {
      o.point = point;
      const auto r = attrib::noise_causal_tracing(m, tokens, o);
      REQUIRE(r.restored_probability.rows() == 3);
      REQUIRE(r.restored_probability.cols() == 6);
      // The reference: every cell, every sample, one full forward pass.
      attrib::activation_cache clean_cache;
      attrib::hook_set record;
      for (Index l = 0; l < 3; ++l) record.cache(hook_point{point, l}, clean_cache);
      attrib::forward_options f;
      f.hooks = &record;
      const std::vector<prompt> batch = {tokens};
      const double clean = answer_probability(m.forward(batch, f)[0], o.answer);
      CHECK(r.clean_probability == doctest::Approx(clean).epsilon(1e-6));
      attrib::matrix expected = attrib::matrix::Zero(3, 6);
      double corrupted = 0.0;
      for (Index s = 0; s < o.samples; ++s) {
        const attrib::float_matrix noise = attrib::detail::tracing_noise(2, 32, 0.8, o.seed, s);
        const auto add_noise = [&](hook_point, attrib::float_matrix& values, std::span<const attrib::token_location> at) {
          for (std::size_t i = 0; i < at.size(); ++i)
            if (at[i].position == 1 || at[i].position == 2)
              values.row(static_cast<Index>(i)) += noise.row(at[i].position - 1);
        };
        attrib::hook_set noised;
        noised.call(hook_point::embed(), add_noise);
        f.hooks = &noised;
        corrupted += answer_probability(m.forward(batch, f)[0], o.answer) / 3.0;
        for (Index l = 0; l < 3; ++l)
          for (Index p = 0; p < 6; ++p) {
            attrib::hook_set restore;
            restore.call(hook_point::embed(), add_noise);
            restore.replace(hook_point{point, l}, clean_cache, {.rows = {}, .positions = {p}});
            f.hooks = &restore;
            expected(l, p) += answer_probability(m.forward(batch, f)[0], o.answer) / 3.0;
          }
      }
      CHECK(r.corrupted_probability == doctest::Approx(corrupted).epsilon(1e-5));
      CHECK((r.restored_probability - expected).cwiseAbs().maxCoeff() < 1e-5);
      CHECK(std::abs(r.corrupted_probability - r.clean_probability) > 1e-4);  // the noise matters
    }
  }
}

TEST_CASE("ROME noise tracing: restoring the only noised token at layer 0 or the last hidden state gives the clean run; earlier tokens give the noised one") {
  const transformer_model m = small_model(transformer_architecture::llama, 3);
  const prompt tokens = {2, 8, 14, 6, 10};
  attrib::noise_tracing_options o;
  o.subject_positions = {2};
  o.answer = 7;
  o.samples = 4;
  o.point = attrib::hook_kind::resid_pre;
  const auto pre = attrib::noise_causal_tracing(m, tokens, o);
  // resid_pre.0 at the subject is the clean embedding: the whole run is the clean run.
  CHECK(pre.restored_probability(0, 2) == doctest::Approx(pre.clean_probability).epsilon(1e-6));
  CHECK(pre.standard_error(0, 2) < 1e-6);
  // Positions before the subject never see the noise: restoring them changes nothing.
  for (Index l = 0; l < 3; ++l)
    for (Index p = 0; p < 2; ++p)
      CHECK(pre.restored_probability(l, p) == doctest::Approx(pre.corrupted_probability).epsilon(1e-6));
  o.point = attrib::hook_kind::resid_post;
  const auto post = attrib::noise_causal_tracing(m, tokens, o);
  // The last layer's output at the last position decides the logits alone.
  CHECK(post.restored_probability(2, 4) == doctest::Approx(post.clean_probability).epsilon(1e-6));
  // ROME's default noise is 3 standard deviations of the embedding entries.
  const auto& table = m.weights().token_embedding;
  attrib::vector all(table.rows * table.cols);
  std::vector<float> row(static_cast<std::size_t>(table.cols));
  for (Index r = 0; r < table.rows; ++r) {
    table.decode_rows(r, 1, row.data());
    for (Index k = 0; k < table.cols; ++k) all(r * table.cols + k) = row[static_cast<std::size_t>(k)];
  }
  const double sd = std::sqrt((all.array() - all.mean()).square().mean());
  CHECK(post.noise_scale == doctest::Approx(3.0 * sd).epsilon(1e-9));
  // The same seed gives the same numbers on two threads; another seed other numbers.
  o.threads = 2;
  const auto two = attrib::noise_causal_tracing(m, tokens, o);
  CHECK((two.restored_probability - post.restored_probability).cwiseAbs().maxCoeff() == 0.0);
  o.seed = 99;
  const auto other = attrib::noise_causal_tracing(m, tokens, o);
  CHECK((other.restored_probability - post.restored_probability).cwiseAbs().maxCoeff() > 0.0);
}

TEST_CASE("ROME noise tracing in steps: draws measured in any order and by separate tracers, added in order, give the same bits; misuse is named") {
  const transformer_model m = small_model(transformer_architecture::llama, 4);
  const prompt tokens = {3, 7, 1, 12, 5, 9};
  attrib::noise_tracing_options o;
  o.subject_positions = {1, 2};
  o.answer = 4;
  o.samples = 5;
  o.seed = 8;
  const auto whole = attrib::noise_causal_tracing(m, tokens, o);
  // Two tracers stand for two processes: each measures some draws, in reverse order.
  attrib::noise_tracer first(m, tokens, o), second(m, tokens, o);
  std::vector<attrib::noise_tracing_sample> draws(5);
  for (Index s = 4; s >= 0; --s) draws[static_cast<std::size_t>(s)] = (s < 2 ? first : second).sample(s);
  CHECK_THROWS_WITH(first.result(), doctest::Contains("0 of 5 samples were added"));
  for (const auto& d : draws) first.add(d);
  const auto stepped = first.result();
  CHECK(stepped.corrupted_probability == whole.corrupted_probability);
  CHECK((stepped.restored_probability - whole.restored_probability).cwiseAbs().maxCoeff() == 0.0);
  CHECK((stepped.standard_error - whole.standard_error).cwiseAbs().maxCoeff() == 0.0);
  CHECK(stepped.clean_probability == whole.clean_probability);
  // The draws differ from one another (else the order would not matter).
  CHECK((draws[0].restored_probability - draws[1].restored_probability).cwiseAbs().maxCoeff() > 0.0);
  CHECK_THROWS_WITH(first.add(draws[0]), doctest::Contains("more than the 5 samples"));
  CHECK_THROWS_WITH((void)second.sample(5), doctest::Contains("sample 5 is outside [0, 5)"));
  attrib::noise_tracing_sample wrong{0.5, attrib::matrix::Zero(2, 6)};
  CHECK_THROWS_WITH(second.add(wrong), doctest::Contains("a sample has 2 x 6 cells; expected"));
}

TEST_CASE("ROME noise tracing: bad subjects, answers and options are named") {
  const transformer_model m = small_model(transformer_architecture::gpt2, 1);
  const prompt tokens = {2, 8, 14};
  attrib::noise_tracing_options o;
  o.answer = 3;
  CHECK_THROWS_WITH(attrib::noise_causal_tracing(m, tokens, o), doctest::Contains("subject_positions is empty"));
  o.subject_positions = {3};
  CHECK_THROWS_WITH(attrib::noise_causal_tracing(m, tokens, o), doctest::Contains("subject position 3 is outside"));
  o.subject_positions = {0};
  o.answer = 24;
  CHECK_THROWS_WITH(attrib::noise_causal_tracing(m, tokens, o), doctest::Contains("answer token 24"));
  o.answer = 3;
  o.samples = 0;
  CHECK_THROWS_WITH(attrib::noise_causal_tracing(m, tokens, o), doctest::Contains("samples must be"));
  o.samples = 2;
  o.noise_scale = std::nan("");
  CHECK_THROWS_WITH(attrib::noise_causal_tracing(m, tokens, o), doctest::Contains("noise_scale"));
  o.noise_scale = 1.0;
  o.layers = {3};
  CHECK_THROWS_WITH(attrib::noise_causal_tracing(m, tokens, o), doctest::Contains("layer 3 is outside"));
  o.layers = {};
  CHECK_THROWS_WITH(attrib::noise_causal_tracing(m, prompt{}, o), doctest::Contains("prompt is empty"));
}

namespace {
// 5 inputs -> 6 tanh -> 4 gelu -> 3 softmax, with a standardizer, so every part of the forward
// pass is exercised.
attrib::mlp small_mlp() {
  attrib::mlp m({{5, 6, attrib::activation::tanh}, {6, 4, attrib::activation::gelu}, {4, 3, attrib::activation::identity}},
                attrib::output_head::softmax, 17);
  attrib::matrix data = attrib::matrix::Random(20, 5) * 2.0;
  data.col(2).array() += 3.0;
  m.set_standardizer(attrib::standardizer::fit(data));
  return m;
}

// The prediction written out layer by layer, with `edit` applied to each hidden layer's activations.
template <class Edit>
double written_out(const attrib::mlp& m, const attrib::vector& x, Index output, Edit edit) {
  attrib::matrix a = m.input_standardizer().transform(attrib::matrix(x.transpose()));
  const auto& layers = m.layers();
  for (std::size_t l = 0; l < layers.size(); ++l) {
    a = attrib::activate(layers[l].act, (a * layers[l].weight.transpose()).rowwise() + layers[l].bias.transpose());
    if (l + 1 < layers.size()) edit(static_cast<Index>(l), a);
  }
  const attrib::vector e = (a.row(0).array() - a.maxCoeff()).exp();
  return e(output) / e.sum();
}
}  // namespace

TEST_CASE("MLP component game: zero, patch, mean and resample ablation against the forward pass written out") {
  const attrib::mlp m = small_mlp();
  const attrib::vector x = attrib::vector::LinSpaced(5, -1.0, 1.5);
  const auto units = attrib::every_unit(m);
  REQUIRE(units.size() == 10);
  const attrib::matrix refs = attrib::matrix::Random(3, 5);
  // The hidden activations of each reference, written out.
  std::vector<std::vector<attrib::matrix>> ref_acts(3);
  for (Index r = 0; r < 3; ++r)
    written_out(m, refs.row(r).transpose(), 0, [&](Index, const attrib::matrix& a) { ref_acts[static_cast<std::size_t>(r)].push_back(a); });
  // Coalition: units 1 and 4 of layer 0 and unit 2 of layer 1 absent, unit 0 of layer 1 at 0.3.
  attrib::matrix z = attrib::matrix::Ones(2, 10);
  z(0, 1) = z(0, 4) = z(0, 8) = 0.0;
  z(0, 6) = 0.3;
  const auto mixed = [&](const std::function<double(Index, Index)>& source) {
    return [&, source](Index l, attrib::matrix& a) {
      for (Index u = 0; u < a.cols(); ++u) {
        const double w = z(0, l == 0 ? u : 6 + u);
        a(0, u) = source(l, u) + w * (a(0, u) - source(l, u));
      }
    };
  };
  for (Index output = 0; output < 3; ++output) {
    const double full = written_out(m, x, output, [](Index, attrib::matrix&) {});
    {
      const attrib::mlp_component_game g(m, x, units, {.output = output});
      const attrib::vector v = g.values(z);
      CHECK(v(1) == doctest::Approx(full).epsilon(1e-12));
      CHECK(v(0) == doctest::Approx(written_out(m, x, output, mixed([](Index, Index) { return 0.0; }))).epsilon(1e-12));
    }
    {
      const attrib::mlp_component_game g(m, x, units, {.ablation = attrib::ablation_kind::patch, .reference = refs.topRows(1), .output = output});
      CHECK(g.values(z)(0) == doctest::Approx(written_out(m, x, output, mixed([&](Index l, Index u) {
                                 return ref_acts[0][static_cast<std::size_t>(l)](0, u);
                               }))).epsilon(1e-12));
      // Every unit of the first hidden layer patched: the run is the reference's run.
      attrib::matrix first = attrib::matrix::Ones(1, 10);
      first.leftCols(6).setZero();
      CHECK(g.values(first)(0) == doctest::Approx(m.predict(refs.topRows(1))(0, output)).epsilon(1e-12));
    }
    {
      const attrib::mlp_component_game g(m, x, units, {.ablation = attrib::ablation_kind::mean, .reference = refs, .output = output});
      CHECK(g.values(z)(0) == doctest::Approx(written_out(m, x, output, mixed([&](Index l, Index u) {
                                 double sum = 0.0;
                                 for (const auto& r : ref_acts) sum += r[static_cast<std::size_t>(l)](0, u);
                                 return sum / 3.0;
                               }))).epsilon(1e-12));
    }
    {
      const attrib::mlp_component_game g(m, x, units, {.ablation = attrib::ablation_kind::resample, .reference = refs, .output = output});
      double expected = 0.0;
      for (std::size_t r = 0; r < 3; ++r)
        expected += written_out(m, x, output, mixed([&](Index l, Index u) { return ref_acts[r][static_cast<std::size_t>(l)](0, u); })) / 3.0;
      CHECK(g.values(z)(0) == doctest::Approx(expected).epsilon(1e-12));
      CHECK(g.model_evaluations_per_value() == 3);
    }
  }
  // Zero ablation of one unit is zeroing its outgoing weights.
  std::vector<attrib::dense_layer> edited = m.layers();
  edited[1].weight.col(3).setZero();
  attrib::mlp cut(edited, m.head());
  cut.set_standardizer(m.input_standardizer());
  const attrib::mlp_component_game g(m, x, units, {.output = 2});
  attrib::matrix one = attrib::matrix::Ones(1, 10);
  one(0, 3) = 0.0;
  CHECK(g.values(one)(0) == doctest::Approx(cut.predict(attrib::matrix(x.transpose()))(0, 2)).epsilon(1e-12));
}

TEST_CASE("MLP component game: gradients are central differences of its values; attribution patching and exact Shapley run on it unchanged") {
  const attrib::mlp m = small_mlp();
  const attrib::vector x = attrib::vector::LinSpaced(5, 0.5, -0.7);
  const attrib::matrix refs = attrib::matrix::Random(4, 5);
  for (auto kind : {attrib::ablation_kind::zero, attrib::ablation_kind::mean, attrib::ablation_kind::resample}) {
    const attrib::mlp_component_game g(m, x, attrib::every_unit(m),
                                       {.ablation = kind, .reference = kind == attrib::ablation_kind::zero ? attrib::matrix() : refs, .output = 1});
    attrib::matrix z = (attrib::matrix::Random(3, 10).array() * 0.5 + 0.5).matrix();
    const attrib::matrix grad = g.gradients(z);
    const double h = 1e-5;
    for (Index j = 0; j < 10; ++j) {
      attrib::matrix up = z, down = z;
      up.col(j).array() += h;
      down.col(j).array() -= h;
      const attrib::vector fd = (g.values(up) - g.values(down)) / (2 * h);
      CHECK((fd - grad.col(j)).cwiseAbs().maxCoeff() < 1e-8);
    }
    // Efficiency of exact Shapley over the units: the sum is v(all) - v(none).
    const auto phi = attrib::exact_shapley{}.explain(g);
    attrib::matrix ends(2, 10);
    ends.row(0).setOnes();
    ends.row(1).setZero();
    const attrib::vector v = g.values(ends);
    CHECK(phi.values.sum() == doctest::Approx(v(0) - v(1)).epsilon(1e-10));
    // Attribution patching is the game's gradient at the full coalition, g_j (a_j - s_j).
    const auto atp = attrib::attribution_patching.explain(g);
    CHECK((atp.values - g.gradients(attrib::matrix::Ones(1, 10)).row(0).transpose()).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("MLP component game: bad units, references and points are named") {
  const attrib::mlp m = small_mlp();
  const attrib::vector x = attrib::vector::Zero(5);
  using attrib::mlp_component_game;
  CHECK_THROWS_WITH(mlp_component_game(m, attrib::vector::Zero(4), attrib::every_unit(m)), doctest::Contains("x has 4 entries"));
  CHECK_THROWS_WITH(mlp_component_game(m, x, {{2, 0}}), doctest::Contains("hidden layers are [0, 2)"));
  CHECK_THROWS_WITH(mlp_component_game(m, x, {{1, 4}}), doctest::Contains("which has 4 units"));
  CHECK_THROWS_WITH(mlp_component_game(m, x, {{0, 1}, {0, 1}}), doctest::Contains("named twice"));
  CHECK_THROWS_WITH(mlp_component_game(m, x, {}), doctest::Contains("no players"));
  CHECK_THROWS_WITH(mlp_component_game(m, x, {{0, 1}}, {.ablation = attrib::ablation_kind::patch, .reference = attrib::matrix::Zero(2, 5)}),
                    doctest::Contains("exactly one reference"));
  CHECK_THROWS_WITH(mlp_component_game(m, x, {{0, 1}}, {.ablation = attrib::ablation_kind::mean, .reference = attrib::matrix::Zero(2, 4)}),
                    doctest::Contains("reference inputs have 4 columns"));
  CHECK_THROWS_WITH(mlp_component_game(m, x, {{0, 1}}, {.ablation = attrib::ablation_kind::mean}), doctest::Contains("need reference"));
  CHECK_THROWS_WITH(mlp_component_game(m, x, {{0, 1}}, {.output = 3}), doctest::Contains("output 3"));
  const mlp_component_game g(m, x, {{0, 1}});
  CHECK_THROWS_WITH(g.values(attrib::matrix::Ones(1, 2)), doctest::Contains("points have 2 columns"));
  attrib::matrix nan = attrib::matrix::Ones(1, 1);
  nan(0, 0) = std::nan("");
  CHECK_THROWS_WITH(g.values(nan), doctest::Contains("points"));
}

namespace {
// v(S) = sum_i w_i [i in S] + sum_{i<j} b_ij [i, j in S]: Shapley value w_i + sum_j b_ij / 2.
struct pairwise_game {
  attrib::vector w;
  attrib::matrix b;  // symmetric, zero diagonal
  Index player_count() const { return w.size(); }
  attrib::vector values(const attrib::matrix& z) const {
    attrib::vector v(z.rows());
    for (Index r = 0; r < z.rows(); ++r) v(r) = z.row(r).dot(w) + 0.5 * z.row(r) * b * z.row(r).transpose();
    return v;
  }
};
}  // namespace

TEST_CASE("Neuron Shapley's bandit stage finds the exact top k with fewer evaluations than sampling every player as long") {
  const Index n = 24, k = 4;
  attrib::rng random(3);
  pairwise_game g{attrib::vector(n), attrib::matrix::Zero(n, n)};
  // k players clearly ahead, one close behind them, the rest far below: most players settle after
  // a few permutations, and only those near the boundary keep being sampled.
  for (Index i = 0; i < n; ++i)
    g.w(i) = i < k ? 3.0 + 0.5 * static_cast<double>(i) : i == k ? 2.5 : 0.1 * static_cast<double>(i % 6);
  for (Index i = 0; i < n; ++i)
    for (Index j = i + 1; j < n; ++j) g.b(i, j) = g.b(j, i) = random.normal() * 0.15;
  const attrib::vector exact = g.w + 0.5 * g.b.rowwise().sum();
  std::vector<Index> order(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  auto top = [&](const attrib::vector& v) {
    std::vector<Index> o = order;
    std::sort(o.begin(), o.end(), [&](Index a, Index b) { return v(a) > v(b); });
    o.resize(static_cast<std::size_t>(k));
    std::sort(o.begin(), o.end());
    return o;
  };
  const attrib::neuron_shapley_top_k bandit{.solver = {.top_k = k, .tolerance = 0.0}};
  // Each permutation's scan starts with a one-player prefix, so counting those counts permutations.
  struct counting_game {
    const pairwise_game* g;
    mutable std::atomic<std::size_t> permutations{0};
    Index player_count() const { return g->player_count(); }
    attrib::vector values(const attrib::matrix& z) const {
      for (Index r = 0; r < z.rows(); ++r)
        if (z.row(r).sum() == 1.0) ++permutations;
      return g->values(z);
    }
  } counted{&g};
  const auto r = bandit.explain(counted, {.seed = 7});
  CHECK(r.fit.converged);
  CHECK(top(r.values) == top(exact));
  // Settled players stop early: far fewer evaluations than the permutations run, each in full.
  const std::size_t full = counted.permutations.load() * static_cast<std::size_t>(n - 1);
  MESSAGE("bandit: " << counted.permutations.load() << " permutations, " << r.game_evaluations << " evaluations against " << full << " unpruned");
  CHECK(static_cast<double>(r.game_evaluations) < 0.9 * static_cast<double>(full));
  // The top players' estimates are within a few standard errors of the exact values.
  for (Index i : top(exact)) CHECK(std::abs(r.values(i) - exact(i)) < 4.0 * r.standard_errors(i) + 1e-12);
  // Same seed, same numbers on two threads.
  const auto two = bandit.explain(g, {.seed = 7, .threads = 2});
  CHECK((two.values - r.values).cwiseAbs().maxCoeff() == 0.0);
  CHECK(two.game_evaluations == r.game_evaluations);
  // Bad input.
  const attrib::neuron_shapley_top_k all_players{.solver = {.top_k = n}}, negative_z{.solver = {.top_k = 2, .z = -1.0}};
  CHECK_THROWS_WITH(all_players.explain(g), doctest::Contains("top_k must be in [1, 23]"));
  CHECK_THROWS_WITH(negative_z.explain(g), doctest::Contains("z must be positive"));
}

TEST_CASE("attribution path patching: the derivative of the edge game along the path's edges cut together, and path patching's first order") {
  using attrib::circuit_node;
  using attrib::circuit_node_kind;
  const transformer_model m = small_model(transformer_architecture::llama, 5);
  const auto edges = attrib::every_edge(m.config());
  const auto n = static_cast<Index>(edges.size());
  const prompt clean = {1, 5, 9, 3, 17, 2, 11}, other = {1, 7, 4, 20, 6, 13, 8};
  const attrib::transformer_edge_game game(m, clean, edges,
                                          {.ablation = attrib::ablation_kind::patch, .reference = {other},
                                           .metric = {.target = 4, .contrast = 9}});
  const circuit_node sender{circuit_node_kind::attention, 0};
  const std::vector<circuit_node> receivers = {{circuit_node_kind::mlp, 1}, {circuit_node_kind::attention, 2},
                                               {circuit_node_kind::logits, 0}};
  const double estimate = attrib::attribution_path_patching(game, sender, receivers);
  // Central differences along the direction that scales the path's three edges together.
  const double h = 1e-2;
  attrib::matrix z = attrib::matrix::Ones(3, n);
  for (const auto& r : receivers) {
    const auto at = std::find(edges.begin(), edges.end(), attrib::circuit_edge{sender, r}) - edges.begin();
    z(0, at) = 1.0 + h;
    z(1, at) = 1.0 - h;
    z(2, at) = 0.0;
  }
  const attrib::vector v = game.values(z);
  CHECK((v(0) - v(1)) / (2 * h) == doctest::Approx(estimate).epsilon(1e-2).scale(std::abs(estimate)));
  // Path patching cuts the edges outright: v(all) - v(without them). The first-order estimate of
  // a patch this large is only rough (0.56 against 0.30 here); the sign agrees.
  const double exact = attrib::path_patching(game, sender, receivers);
  CHECK(exact == doctest::Approx(game.values(attrib::matrix::Ones(1, n))(0) - v(2)).epsilon(1e-9));
  MESSAGE("path attention 0 -> {mlp 1, attention 2, logits}: attribution path patching " << estimate << ", path patching " << exact);
  CHECK(estimate * exact > 0.0);
  const circuit_node later{circuit_node_kind::mlp, 2};
  CHECK_THROWS_WITH(attrib::attribution_path_patching(game, later, {{circuit_node_kind::attention, 0}}),
                    doctest::Contains("mlp 2 -> attention 0 is not a player"));
  CHECK_THROWS_WITH(attrib::attribution_path_patching(game, sender, {}), doctest::Contains("no receivers"));
}

TEST_CASE("prefix reuse: a forward pass resumed at a layer from the recorded stream gives the same bits; bad resumes are named") {
  for (auto a : {transformer_architecture::llama, transformer_architecture::gpt2}) {
    const transformer_model m = small_model(a, 21);
    const std::vector<prompt> batch = {{3, 7, 1, 12, 5}, {2, 9, 4, 4, 8}};
    attrib::activation_cache cache;
    attrib::hook_set record;
    for (Index l = 0; l < 3; ++l) record.cache(hook_point::resid_pre(l), cache);
    record.cache(hook_point::resid_post(2), cache);
    attrib::forward_options full;
    full.hooks = &record;
    const auto reference = m.forward(batch, full);
    for (Index l = 0; l <= 3; ++l) {
      const hook_point p = l < 3 ? hook_point::resid_pre(l) : hook_point::resid_post(2);
      attrib::float_matrix stream(10, 32);
      stream.topRows(5) = cache.at(p, 0).topRows(5);
      stream.bottomRows(5) = cache.at(p, 1).topRows(5);
      attrib::forward_options resumed;
      resumed.first_layer = l;
      resumed.resume = &stream;
      const auto out = m.forward(batch, resumed);
      for (std::size_t b = 0; b < 2; ++b) CHECK((out[b] - reference[b]).cwiseAbs().maxCoeff() == 0.0f);
    }
    attrib::float_matrix wrong(9, 32);
    attrib::forward_options bad;
    bad.first_layer = 1;
    bad.resume = &wrong;
    CHECK_THROWS_WITH(m.forward(batch, bad), doctest::Contains("needs the residual stream of all 10 tokens"));
    bad.first_layer = 4;
    CHECK_THROWS_WITH(m.forward(batch, bad), doctest::Contains("first_layer 4 is outside [0, 3]"));
    bad.first_layer = 1;
    bad.resume = nullptr;
    CHECK_THROWS_WITH(m.forward(batch, bad), doctest::Contains("got none"));
  }
}

TEST_CASE("prefix reuse: component and edge games started at their first ablated layer give the same bits as running every layer") {
  using attrib::component_kind;
  for (auto a : {transformer_architecture::llama, transformer_architecture::gpt2}) {
    const transformer_model m = small_model(a, 8);
    const prompt clean = {1, 5, 9, 3, 17, 2, 11}, other = {1, 7, 4, 20, 6, 13, 8}, third = {1, 12, 19, 5, 22, 10, 3};
    std::vector<attrib::transformer_component> players = attrib::every_head(m.config());
    for (Index l = 0; l < 3; ++l) {
      players.push_back({component_kind::mlp, l, 0});
      players.push_back({component_kind::neuron, l, 5});
    }
    players.push_back({component_kind::position, 2, 3});
    const auto n = static_cast<Index>(players.size());
    // Coalitions whose first ablation lies in every layer, none at all, and fractional ones.
    attrib::rng random(4);
    attrib::matrix z = attrib::matrix::Ones(12, n);
    for (Index r = 0; r < 12; ++r)
      for (Index j = 0; j < n; ++j) {
        const Index layer = players[static_cast<std::size_t>(j)].layer;
        if (layer >= r % 4 && random.uniform() < 0.4) z(r, j) = r % 3 == 0 ? 0.25 : 0.0;
      }
    for (auto kind : {attrib::ablation_kind::zero, attrib::ablation_kind::resample, attrib::ablation_kind::patch}) {
      attrib::component_game_options o;
      o.ablation = kind;
      if (kind == attrib::ablation_kind::resample) o.reference = {other, third};
      if (kind == attrib::ablation_kind::patch) o.reference = {other};
      o.metric = {.kind = attrib::component_metric_kind::kl_to_clean};
      o.batch_rows = 5;
      o.reuse_prefix = false;
      const attrib::transformer_component_game every_layer(m, clean, players, o);
      o.reuse_prefix = true;
      const attrib::transformer_component_game resumed(m, clean, players, o);
      const attrib::vector expected = every_layer.values(z);
      CHECK((resumed.values(z) - expected).cwiseAbs().maxCoeff() == 0.0);
      CHECK(expected.maxCoeff() > 0.0);  // the ablations matter
      o.threads = 2;
      const attrib::transformer_component_game two(m, clean, players, o);
      CHECK((two.values(z) - expected).cwiseAbs().maxCoeff() == 0.0);
      // The edge game: a run starts at its first cut edge's receiver; the senders it skips keep
      // the unablated outputs.
      const auto edges = attrib::every_edge(m.config());
      const auto e = static_cast<Index>(edges.size());
      attrib::matrix ze = attrib::matrix::Ones(10, e);
      for (Index r = 0; r < 10; ++r)
        for (Index j = 0; j < e; ++j) {
          const auto& receiver = edges[static_cast<std::size_t>(j)].receiver;
          const Index layer = receiver.kind == attrib::circuit_node_kind::logits ? 3 : receiver.layer;
          if (layer >= r % 4 && random.uniform() < 0.3) ze(r, j) = r % 3 == 0 ? 0.5 : 0.0;
        }
      o.threads = 1;
      o.reuse_prefix = false;
      const attrib::transformer_edge_game edges_every_layer(m, clean, edges, o);
      o.reuse_prefix = true;
      const attrib::transformer_edge_game edges_resumed(m, clean, edges, o);
      const attrib::vector expected_edges = edges_every_layer.values(ze);
      CHECK((edges_resumed.values(ze) - expected_edges).cwiseAbs().maxCoeff() == 0.0);
      CHECK(expected_edges.maxCoeff() > 0.0);
    }
  }
}
