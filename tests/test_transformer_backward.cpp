// The transformer backward pass against central finite differences in double precision (every
// parameter tensor and every hook point kind, llama with grouped-query attention and gpt2, the
// cross-entropy loss and a logit difference); the float tape against transformer_model::forward;
// the loss against a naive computation from the model's logits; thread-count independence;
// parameters round-tripping through a model; attribution patching against a real patched run;
// rejection of bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "attrib/core/random.hpp"
#include "attrib/transformer/training/backward.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/training/parameters.hpp"
#include "attrib/transformer/model/random_model.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

using attrib::hook_point;
using attrib::token_id;
using attrib::transformer_architecture;
using Eigen::Index;

namespace {

using batch = std::vector<std::vector<token_id>>;
using tape_d = attrib::detail::transformer_tape<double>;
using dmatrix = attrib::detail::tape_matrix<double>;

const std::filesystem::path stories =
    std::filesystem::path(ATTRIB_DATA_DIR) / "models" / "stories260K" / "stories260K.bin";

attrib::transformer_config tiny_config(transformer_architecture a) {
  attrib::transformer_config c;
  c.architecture = a;
  c.dim = 8;
  c.hidden_dim = 12;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = a == transformer_architecture::llama ? 2 : 4;  // GQA for llama
  c.vocab_size = 11;
  c.context_length = 8;
  return c;
}

// Large random weights (and biases everywhere, an untied output), so that every nonlinearity
// is exercised away from its linear regime.
attrib::transformer_parameters tiny_parameters(transformer_architecture a, bool tied = false) {
  const auto model = attrib::random_transformer_model(
      tiny_config(a), 7, {.scale = 0.6f, .biases = true, .tied_output = tied});
  return attrib::transformer_parameters::from_model(model);
}

const attrib::language_model_batch tiny_batch{{{1, 4, 2, 9, 3, 3, 10, 5}, {7, 0, 10}},
                                              {{1, 0.5f, 1, 0, 2, 1, 1}, {1, 1}}};

// The loss of the double tape's current parameters.
double loss_of(tape_d& tape, const attrib::language_model_batch& b, dmatrix& dlogits) {
  tape.forward(b.sequences);
  return attrib::detail::next_token_loss(tape, b, attrib::detail::total_weight(b), dlogits, 1);
}

// F = logit(9) - logit(2) at the last position of sequence 0, and its gradient.
double logit_difference_of(const tape_d& tape, dmatrix& dlogits) {
  const Index r = tape.first_row(1) - 1;
  dlogits.setZero(tape.logits().rows(), tape.logits().cols());
  dlogits(r, 9) = 1;
  dlogits(r, 2) = -1;
  return tape.logits()(r, 9) - tape.logits()(r, 2);
}

double relative_error(double fd, double analytic) {
  return std::abs(fd - analytic) / std::max({std::abs(fd), std::abs(analytic), 1e-3});
}

// Every hook point of a model with `layers` layers.
std::vector<hook_point> all_points(Index layers) {
  std::vector<hook_point> p = {hook_point::embed(), hook_point::final_norm()};
  for (Index l = 0; l < layers; ++l)
    for (auto k :
         {attrib::hook_kind::resid_pre, attrib::hook_kind::attn_in, attrib::hook_kind::attn_z, attrib::hook_kind::attn_out,
          attrib::hook_kind::resid_mid, attrib::hook_kind::mlp_in,
          attrib::hook_kind::mlp_post, attrib::hook_kind::mlp_out, attrib::hook_kind::resid_post})
      p.push_back({k, l});
  return p;
}

// Checks dF/dθ for `entries` random entries of every tensor, with F the loss (objective 0) or
// the logit difference (objective 1). Returns the worst relative error.
double worst_parameter_error(transformer_architecture a, bool tied, int objective) {
  const auto params = tiny_parameters(a, tied);
  tape_d tape(params);
  dmatrix dlogits;
  auto value = [&] {
    if (objective == 0) return loss_of(tape, tiny_batch, dlogits);
    tape.forward(tiny_batch.sequences);
    return logit_difference_of(tape, dlogits);
  };
  value();
  const auto g = tape.backward(dlogits, {}, true);
  REQUIRE(g.parameters.size() == params.tensors.size());
  attrib::rng gen(11);
  double worst = 0;
  const double h = 1e-5;
  for (std::size_t k = 0; k < params.tensors.size(); ++k) {
    auto& m = tape.parameters()[k];
    for (int e = 0; e < 4; ++e) {
      const auto i = static_cast<Index>(gen.below(static_cast<std::uint64_t>(m.size())));
      const double old = m.data()[i];
      m.data()[i] = old + h;
      const double up = value();
      m.data()[i] = old - h;
      const double down = value();
      m.data()[i] = old;
      const double err = relative_error((up - down) / (2 * h), g.parameters[k].data()[i]);
      if (err > 1e-6) MESSAGE(params.names[k] << "[" << i << "]: relative error " << err);
      worst = std::max(worst, err);
    }
  }
  return worst;
}

// Checks dF/d(activation) at every hook point, two random entries each, by adding ±h there.
double worst_hook_error(transformer_architecture a, int objective) {
  const auto params = tiny_parameters(a);
  tape_d tape(params);
  const auto points = all_points(params.config.n_layers);
  dmatrix dlogits;
  auto value = [&](const std::map<hook_point, dmatrix>& offsets) {
    tape.forward(tiny_batch.sequences, offsets);
    if (objective == 0)
      return attrib::detail::next_token_loss(tape, tiny_batch,
                                             attrib::detail::total_weight(tiny_batch), dlogits, 1);
    return logit_difference_of(tape, dlogits);
  };
  value({});
  const auto g = tape.backward(dlogits, points, false);
  CHECK(g.parameters.empty());
  attrib::rng gen(13);
  double worst = 0;
  const double h = 1e-5;
  const Index n = tape.logits().rows();
  for (const auto& p : points) {
    REQUIRE(g.points.count(p) == 1);
    const Index width = tape.width(p);
    for (int e = 0; e < 2; ++e) {
      const auto r = static_cast<Index>(gen.below(static_cast<std::uint64_t>(n)));
      const auto c = static_cast<Index>(gen.below(static_cast<std::uint64_t>(width)));
      std::map<hook_point, dmatrix> offsets = {{p, dmatrix::Zero(n, width)}};
      offsets[p](r, c) = h;
      const double up = value(offsets);
      offsets[p](r, c) = -h;
      const double down = value(offsets);
      const double err = relative_error((up - down) / (2 * h), g.points.at(p)(r, c));
      if (err > 1e-6) MESSAGE(attrib::to_string(p) << "(" << r << ", " << c << "): " << err);
      worst = std::max(worst, err);
    }
  }
  // Points that carry the same value get the same gradient.
  for (Index l = 0; l < params.config.n_layers; ++l) {
    CHECK(g.points.at(hook_point::attn_out(l)) == g.points.at(hook_point::resid_mid(l)));
    CHECK(g.points.at(hook_point::mlp_out(l)) == g.points.at(hook_point::resid_post(l)));
    if (l + 1 < params.config.n_layers)
      CHECK(g.points.at(hook_point::resid_post(l)) == g.points.at(hook_point::resid_pre(l + 1)));
  }
  CHECK(g.points.at(hook_point::embed()) == g.points.at(hook_point::resid_pre(0)));
  return worst;
}

// The largest |a - b| over the logits of a batch.
float max_difference(const std::vector<attrib::float_matrix>& a,
                     const std::vector<attrib::float_matrix>& b) {
  float worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, (a[i] - b[i]).cwiseAbs().maxCoeff());
  return worst;
}

batch random_tokens(std::size_t rows, std::size_t length, Index vocab, std::uint64_t seed) {
  attrib::rng gen(seed);
  batch out(rows);
  for (auto& s : out)
    for (std::size_t t = 0; t < length; ++t)
      s.push_back(static_cast<token_id>(gen.below(static_cast<std::uint64_t>(vocab))));
  return out;
}

// logit(9) - logit(2) at the last position of sequence 0, by transformer_model::forward.
double model_logit_difference(const attrib::transformer_parameters& params) {
  const auto logits = params.model().forward(tiny_batch.sequences);
  return static_cast<double>(logits[0](7, 9)) - static_cast<double>(logits[0](7, 2));
}

}  // namespace

TEST_CASE(
    "transformer backward: llama (GQA, biases) parameter gradients match finite differences") {
  for (bool tied : {false, true}) {
    CAPTURE(tied);
    CHECK(worst_parameter_error(transformer_architecture::llama, tied, 0) < 1e-6);
    CHECK(worst_parameter_error(transformer_architecture::llama, tied, 1) < 1e-6);
  }
}

TEST_CASE("transformer backward: gpt2 parameter gradients match finite differences") {
  for (bool tied : {false, true}) {
    CAPTURE(tied);
    CHECK(worst_parameter_error(transformer_architecture::gpt2, tied, 0) < 1e-6);
    CHECK(worst_parameter_error(transformer_architecture::gpt2, tied, 1) < 1e-6);
  }
}

TEST_CASE("transformer backward: gradients at every hook point match finite differences") {
  for (auto a : {transformer_architecture::llama, transformer_architecture::gpt2}) {
    CAPTURE(attrib::to_string(a));
    CHECK(worst_hook_error(a, 0) < 1e-6);
    CHECK(worst_hook_error(a, 1) < 1e-6);
  }
}

TEST_CASE("transformer backward: mixes at every hook point, differentiated by central differences") {
  // a -> source + weight * (a - source) at every point of both layers at once: dF/dweight, the
  // gradients at the points and of the parameters through the mixes, for both families.
  for (const auto a : {transformer_architecture::llama, transformer_architecture::gpt2}) {
    CAPTURE(attrib::to_string(a));
    const auto params = tiny_parameters(a);
    tape_d tape(params);
    const auto points = all_points(params.config.n_layers);
    tape.forward(tiny_batch.sequences);
    const Index n = tape.logits().rows();
    attrib::rng gen(17);
    std::map<hook_point, attrib::detail::tape_mix<double>> mixes;
    for (const auto& p : points) {
      auto& m = mixes[p];
      m.source.resize(n, tape.width(p));
      m.weight.resize(n, tape.width(p));
      for (Index i = 0; i < m.source.size(); ++i) {
        m.source.data()[i] = 2.0 * gen.uniform() - 1.0;
        m.weight.data()[i] = 0.2 + gen.uniform();
      }
    }
    dmatrix dlogits;
    auto value = [&](const std::map<hook_point, dmatrix>& offsets) {
      tape.forward(tiny_batch.sequences, offsets, 1, {}, mixes);
      return attrib::detail::next_token_loss(tape, tiny_batch, attrib::detail::total_weight(tiny_batch), dlogits, 1);
    };
    value({});
    const auto g = tape.backward(dlogits, points, true);
    const double h = 1e-5;
    double worst = 0;
    auto note = [&](const std::string& what, double fd, double analytic) {
      const double err = relative_error(fd, analytic);
      if (err > 1e-6) MESSAGE(what << ": " << err);
      worst = std::max(worst, err);
    };
    for (const auto& p : points) {
      REQUIRE(g.mixes.count(p) == 1);
      for (int e = 0; e < 2; ++e) {
        const auto r = static_cast<Index>(gen.below(static_cast<std::uint64_t>(n)));
        const auto c = static_cast<Index>(gen.below(static_cast<std::uint64_t>(tape.width(p))));
        double& w = mixes[p].weight(r, c);
        const double old = w;
        w = old + h;
        const double up = value({});
        w = old - h;
        const double down = value({});
        w = old;
        note("weight at " + attrib::to_string(p), (up - down) / (2 * h), g.mixes.at(p)(r, c));
        std::map<hook_point, dmatrix> offsets = {{p, dmatrix::Zero(n, tape.width(p))}};
        offsets[p](r, c) = h;
        const double o_up = value(offsets);
        offsets[p](r, c) = -h;
        const double o_down = value(offsets);
        note("offset at " + attrib::to_string(p), (o_up - o_down) / (2 * h), g.points.at(p)(r, c));
      }
    }
    for (std::size_t k = 0; k < params.tensors.size(); ++k) {
      auto& m = tape.parameters()[k];
      for (int e = 0; e < 2; ++e) {
        const auto i = static_cast<Index>(gen.below(static_cast<std::uint64_t>(m.size())));
        const double old = m.data()[i];
        m.data()[i] = old + h;
        const double up = value({});
        m.data()[i] = old - h;
        const double down = value({});
        m.data()[i] = old;
        note(params.names[k], (up - down) / (2 * h), g.parameters[k].data()[i]);
      }
    }
    CHECK(worst < 1e-6);
    // A mix of the wrong shape is named.
    mixes[hook_point::attn_z(0)].weight.resize(n, 3);
    CHECK_THROWS_WITH_AS(tape.forward(tiny_batch.sequences, {}, 1, {}, mixes), doctest::Contains("the mix at attn_z.0"),
                         attrib::invalid_argument);
  }
}

TEST_CASE("transformer backward: the float tape's logits equal transformer_model::forward's") {
  for (auto a : {transformer_architecture::llama, transformer_architecture::gpt2}) {
    const auto params = tiny_parameters(a);
    const auto model = params.model();
    attrib::detail::transformer_tape<float> tape(params);
    tape.forward(tiny_batch.sequences);
    const auto ref = model.forward(tiny_batch.sequences);
    for (std::size_t b = 0; b < ref.size(); ++b) {
      const auto rows = tape.logits().middleRows(tape.first_row(b), ref[b].rows());
      CHECK((rows - ref[b]).cwiseAbs().maxCoeff() <= 1e-5f * (1 + ref[b].cwiseAbs().maxCoeff()));
    }
  }
  const auto model = attrib::load_llama2c_model(stories);
  const auto params = attrib::transformer_parameters::from_model(model);
  const batch seqs = random_tokens(2, 64, 512, 3);
  attrib::detail::transformer_tape<float> tape(params);
  tape.forward(seqs);
  const auto ref = model.forward(seqs);
  std::vector<attrib::float_matrix> mine;
  for (std::size_t b = 0; b < 2; ++b)
    mine.push_back(tape.logits().middleRows(tape.first_row(b), 64));
  const float scale = ref[0].cwiseAbs().maxCoeff();
  CHECK(max_difference(mine, ref) <= 1e-5f * (1 + scale));
}

TEST_CASE("transformer backward: float gradients agree with the double-precision tape") {
  const auto params = tiny_parameters(transformer_architecture::llama);
  auto g = params.zeros_like();
  const double loss = attrib::language_model_loss_and_gradient(params, tiny_batch, g);
  tape_d tape(params);
  dmatrix dlogits;
  CHECK(loss == doctest::Approx(loss_of(tape, tiny_batch, dlogits)).epsilon(1e-5));
  const auto exact = tape.backward(dlogits, {}, true);
  for (std::size_t k = 0; k < params.tensors.size(); ++k) {
    CAPTURE(params.names[k]);
    const double scale = exact.parameters[k].cwiseAbs().maxCoeff();
    CHECK((g.tensors[k].cast<double>() - exact.parameters[k]).cwiseAbs().maxCoeff() <=
          1e-4 * (scale + 1e-3));
  }
}

TEST_CASE("transformer backward: the loss equals a naive cross-entropy of the model's logits") {
  const auto model = attrib::load_llama2c_model(stories);
  const auto params = attrib::transformer_parameters::from_model(model);
  attrib::language_model_batch b{random_tokens(2, 40, 512, 5), {}};
  b.sequences[1].resize(17);
  attrib::rng gen(9);
  for (const auto& s : b.sequences) {
    b.weights.emplace_back();
    for (std::size_t t = 0; t + 1 < s.size(); ++t)
      b.weights.back().push_back(static_cast<float>(gen.below(3)));  // 0, 1 or 2
  }
  const auto logits = model.forward(b.sequences);
  double sum = 0, total = 0;
  for (std::size_t r = 0; r < b.sequences.size(); ++r)
    for (std::size_t t = 0; t + 1 < b.sequences[r].size(); ++t) {
      const auto z = logits[r].row(static_cast<Index>(t)).cast<double>();
      const double lse = z.maxCoeff() + std::log((z.array() - z.maxCoeff()).exp().sum());
      const double w = b.weights[r][t];
      sum += w * (lse - z(b.sequences[r][t + 1]));
      total += w;
    }
  auto g = params.zeros_like();
  const double loss = attrib::language_model_loss_and_gradient(params, b, g);
  CHECK(loss == doctest::Approx(sum / total).epsilon(1e-5));
  CHECK(attrib::language_model_loss(params, b) == loss);
  // The gradient is added, not assigned.
  auto twice = g;
  CHECK(attrib::language_model_loss_and_gradient(params, b, twice) == loss);
  for (std::size_t k = 0; k < g.tensors.size(); ++k) CHECK(twice.tensors[k] == 2.0f * g.tensors[k]);
  // A small step against the gradient lowers the loss.
  auto stepped = params;
  for (std::size_t k = 0; k < g.tensors.size(); ++k) stepped.tensors[k] -= 0.05f * g.tensors[k];
  CHECK(attrib::language_model_loss(stepped, b) < loss - 1e-3);
}

TEST_CASE("transformer backward: results do not depend on the thread count") {
  const auto params =
      attrib::transformer_parameters::from_model(attrib::load_llama2c_model(stories));
  // 3 x 100 tokens: several blocks of rows in every product.
  attrib::language_model_batch b{random_tokens(3, 100, 512, 21), {}};
  for (const auto& s : b.sequences) b.weights.emplace_back(s.size() - 1, 1.0f);
  auto g1 = params.zeros_like();
  auto g2 = params.zeros_like();
  CHECK(attrib::language_model_loss_and_gradient(params, b, g1, 1) ==
        attrib::language_model_loss_and_gradient(params, b, g2, 2));
  for (std::size_t k = 0; k < g1.tensors.size(); ++k) CHECK(g1.tensors[k] == g2.tensors[k]);
  const std::vector<hook_point> points = {hook_point::resid_mid(2), hook_point::mlp_post(4)};
  const auto r1 = attrib::transformer_backward(
      params, b.sequences, attrib::logit_difference(1, -1, 3, 7), {.points = points, .threads = 1});
  const auto r2 = attrib::transformer_backward(
      params, b.sequences, attrib::logit_difference(1, -1, 3, 7), {.points = points, .threads = 2});
  CHECK(r1.value == r2.value);
  for (const auto& p : points)
    for (std::size_t s = 0; s < 3; ++s) CHECK(r1.gradient(p, s) == r2.gradient(p, s));
}

TEST_CASE("transformer backward: parameters round-trip through a model") {
  const auto source = attrib::load_llama2c_model(stories);
  const auto params = attrib::transformer_parameters::from_model(source);
  const auto& c = params.config;
  CHECK(params.tied_output);
  CHECK(params.names.size() == 1 + 9 * static_cast<std::size_t>(c.n_layers) + 1);
  CHECK(params.find("output") == -1);
  CHECK(params.names[2] == "layers.0.wq");
  // vocab*dim + layers * (2 norms + wq, wo + wk, wv + gate, up, down) + final norm
  CHECK(params.size() == c.vocab_size * c.dim +
                             c.n_layers * (2 * c.dim + 2 * c.dim * c.dim + 2 * c.kv_dim() * c.dim +
                                           3 * c.hidden_dim * c.dim) +
                             c.dim);
  CHECK(params.size() == 260032);
  const batch seqs = random_tokens(2, 30, 512, 4);
  const auto view = params.model();
  CHECK(max_difference(view.forward(seqs), source.forward(seqs)) == 0.0f);
  const auto again = attrib::transformer_parameters::from_model(view);
  CHECK(again.names == params.names);
  for (std::size_t k = 0; k < params.tensors.size(); ++k)
    CHECK(again.tensors[k] == params.tensors[k]);
  // An untied gpt2 with biases round-trips too.
  const auto gpt2 = tiny_parameters(transformer_architecture::gpt2, false);
  CHECK(gpt2.find("position_embedding") == 1);
  CHECK(gpt2.find("output") == static_cast<Index>(gpt2.names.size()) - 1);
  const auto g2 = attrib::transformer_parameters::from_model(gpt2.model());
  for (std::size_t k = 0; k < gpt2.tensors.size(); ++k) CHECK(g2.tensors[k] == gpt2.tensors[k]);
}

TEST_CASE("transformer backward: initialize draws GPT-2's initialisation") {
  auto c = tiny_config(transformer_architecture::gpt2);
  c.vocab_size = 512;
  c.dim = 64;
  c.hidden_dim = 128;
  c.n_heads = c.n_kv_heads = 4;
  const auto p = attrib::transformer_parameters::initialize(c, 1, false);
  const std::vector<std::string> layer0 = {"layers.0.attn_norm", "layers.0.attn_norm_bias",
                                           "layers.0.wq",        "layers.0.wk",
                                           "layers.0.wv",        "layers.0.wo",
                                           "layers.0.bq",        "layers.0.bk",
                                           "layers.0.bv",        "layers.0.bo",
                                           "layers.0.ffn_norm",  "layers.0.ffn_norm_bias",
                                           "layers.0.w_up",      "layers.0.w_down",
                                           "layers.0.b_up",      "layers.0.b_down"};
  CHECK(std::vector<std::string>(p.names.begin() + 2, p.names.begin() + 18) == layer0);
  CHECK(p.names.back() == "output");
  auto sample_std = [](const attrib::float_matrix& m) {
    const double mean = m.cast<double>().mean();
    return std::sqrt((m.cast<double>().array() - mean).square().mean());
  };
  CHECK(sample_std(p.tensors[0]) == doctest::Approx(0.02).epsilon(0.03));  // 32768 draws
  CHECK(sample_std(p.tensors[static_cast<std::size_t>(p.find("layers.1.w_down"))]) ==
        doctest::Approx(0.02 / std::sqrt(4.0)).epsilon(0.05));
  CHECK(p.tensors[static_cast<std::size_t>(p.find("layers.1.ffn_norm"))].isOnes());
  CHECK(p.tensors[static_cast<std::size_t>(p.find("layers.1.b_up"))].isZero());
  // Different tensors draw from different streams.
  CHECK(p.tensors[2].row(0) != p.tensors[3].row(0));
  const auto llama =
      attrib::transformer_parameters::initialize(tiny_config(transformer_architecture::llama), 1);
  CHECK(llama.find("layers.0.bq") == -1);
  CHECK(llama.find("layers.1.w_gate") >= 0);
  CHECK(llama.size() ==
        llama.model().config().vocab_size * 8 + 8 + 2 * (16 + 64 + 64 + 32 + 32 + 3 * 96));
  const auto z = p.zeros_like();
  CHECK(z.names == p.names);
  for (const auto& t : z.tensors) CHECK(t.isZero());
}

// A patch realised through the weights, so that the real run needs no hook: adding v to the
// embedding row of token 4, which occurs only at position 1 of sequence 0 (and not in sequence
// 1), adds v to `embed` there; adding v to the bias bo of layer 0 adds it to attn_out.0 at every
// position of every sequence.
TEST_CASE("transformer backward: attribution patching predicts a real small patch") {
  const auto params = tiny_parameters(transformer_architecture::llama);
  const std::vector<hook_point> points = {hook_point::embed(), hook_point::attn_out(0)};
  const auto r = attrib::transformer_backward(params, tiny_batch.sequences,
                                              attrib::logit_difference(0, -1, 9, 2),
                                              {.points = points, .parameter_gradient = true});
  CHECK(r.value == doctest::Approx(model_logit_difference(params)).epsilon(1e-5));
  REQUIRE(r.parameters.has_value());
  CHECK(r.parameters->names == params.names);
  attrib::rng gen(17);
  attrib::float_vector delta(8);
  for (Index i = 0; i < 8; ++i) delta(i) = static_cast<float>(gen.normal());
  const float eps = 1e-2f;
  {
    auto patched = params;
    patched.tensors[0].row(4) += eps * delta.transpose();
    attrib::float_matrix other = r.activation(hook_point::embed(), 0);
    other.row(1) += eps * delta.transpose();
    const auto estimate = attrib::patching_estimate(r, hook_point::embed(), 0, other);
    CHECK(estimate.sum() == doctest::Approx(estimate(1)));
    CHECK(std::abs(estimate(1)) > 1e-4);
    CHECK(model_logit_difference(patched) - r.value == doctest::Approx(estimate(1)).epsilon(0.03));
  }
  {
    auto patched = params;
    patched.tensors[static_cast<std::size_t>(params.find("layers.0.bo"))].row(0) +=
        eps * delta.transpose();
    double estimate = 0;
    for (std::size_t b = 0; b < 2; ++b) {
      attrib::float_matrix other = r.activation(hook_point::attn_out(0), b);
      other.rowwise() += eps * delta.transpose();
      estimate += attrib::patching_estimate(r, hook_point::attn_out(0), b, other).sum();
    }
    CHECK(std::abs(estimate) > 1e-4);
    CHECK(model_logit_difference(patched) - r.value == doctest::Approx(estimate).epsilon(0.03));
  }
}

TEST_CASE("transformer backward: bad input is rejected") {
  const auto params = tiny_parameters(transformer_architecture::llama);
  auto g = params.zeros_like();
  auto loss = [&](attrib::language_model_batch b) {
    return attrib::language_model_loss_and_gradient(params, b, g);
  };
  using attrib::invalid_argument;
  CHECK_THROWS_AS(loss({{{1, 11, 2}}, {{1, 1}}}), invalid_argument);  // id beyond vocab
  CHECK_THROWS_AS(loss({{{1, -1, 2}}, {{1, 1}}}), invalid_argument);
  CHECK_THROWS_AS(loss({{{1, 2, 3}}, {{1}}}), invalid_argument);  // weights size
  CHECK_THROWS_AS(loss({{{1, 2, 3}}, {}}), invalid_argument);     // weight rows
  CHECK_THROWS_AS(loss({{}, {}}), invalid_argument);              // empty batch
  CHECK_THROWS_AS(loss({{{}}, {{}}}), invalid_argument);          // empty sequence
  CHECK_THROWS_AS(loss({{std::vector<token_id>(9, 1)}, {std::vector<float>(8, 1)}}),
                  invalid_argument);  // beyond the context of 8
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(loss({{{1, 2, 3}}, {{1, nan}}}), invalid_argument);
  CHECK_THROWS_AS(loss({{{1, 2, 3}}, {{1, -1}}}), invalid_argument);
  CHECK_THROWS_AS(loss({{{1, 2, 3}}, {{0, 0}}}), invalid_argument);  // no positive weight
  auto broken = params;
  broken.tensors[3](0, 0) = nan;
  CHECK_THROWS_AS(attrib::language_model_loss_and_gradient(broken, tiny_batch, g),
                  invalid_argument);
  auto other_layout = attrib::transformer_parameters::initialize(params.config, 1);
  CHECK_THROWS_AS(attrib::language_model_loss_and_gradient(params, tiny_batch, other_layout),
                  invalid_argument);
  auto misshapen = params;
  misshapen.tensors[2].resize(3, 3);
  CHECK_THROWS_AS(attrib::language_model_loss_and_gradient(misshapen, tiny_batch, g),
                  invalid_argument);
  CHECK_THROWS_AS(misshapen.model(), attrib::format_error);
  auto renamed = params;
  renamed.names[2] = "layers.9.wq";
  CHECK_THROWS_AS(renamed.model(), invalid_argument);
  CHECK_THROWS_AS(attrib::transformer_parameters::initialize({}, 1), invalid_argument);

  const auto& seqs = tiny_batch.sequences;
  CHECK_THROWS_AS(attrib::transformer_backward(params, seqs, attrib::logit_difference(0, -1, 9, 2),
                                               {.points = {hook_point::resid_pre(2)}}),
                  invalid_argument);  // no layer 2
  CHECK_THROWS_AS(attrib::transformer_backward(params, seqs, attrib::logit_difference(0, -1, 9, 2),
                                               {.points = {{attrib::hook_kind::final_norm, 1}}}),
                  invalid_argument);
  CHECK_THROWS_AS(attrib::transformer_backward(params, seqs, attrib::logit_difference(0, 8, 9, 2)),
                  invalid_argument);  // position beyond the sequence
  CHECK_THROWS_AS(
      attrib::transformer_backward(params, seqs, attrib::logit_difference(0, -1, 11, 2)),
      invalid_argument);
  CHECK_THROWS_AS(
      attrib::transformer_backward(params, batch{{1, 12}}, attrib::logit_difference(0, -1, 9, 2)),
      invalid_argument);
  CHECK_THROWS_AS(attrib::transformer_backward(params, seqs, attrib::logit_objective{}),
                  invalid_argument);
  auto resize = [](const std::vector<attrib::float_matrix>&, std::vector<attrib::float_matrix>& d) {
    d[0].resize(1, 1);
    return 0.0;
  };
  CHECK_THROWS_AS(attrib::transformer_backward(params, seqs, resize), invalid_argument);
  auto not_finite = [nan](const std::vector<attrib::float_matrix>&,
                          std::vector<attrib::float_matrix>& d) {
    d[1](0, 0) = nan;
    return 0.0;
  };
  CHECK_THROWS_AS(attrib::transformer_backward(params, seqs, not_finite), invalid_argument);
  const auto r = attrib::transformer_backward(params, seqs, attrib::logit_difference(1, 0, 9, 2),
                                              {.points = {hook_point::embed()}});
  CHECK_THROWS_AS(r.gradient(hook_point::final_norm(), 0), invalid_argument);
  CHECK_THROWS_AS(r.gradient(hook_point::embed(), 2), invalid_argument);
  CHECK_THROWS_AS(attrib::patching_estimate(r, hook_point::embed(), 0, attrib::float_matrix(2, 8)),
                  invalid_argument);
}
