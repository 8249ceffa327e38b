// Direct Preference Optimization: the loss, margins and accuracy against a plain computation
// from the inference forward pass, the gradient against central differences of a double-
// precision recomputation of the loss, the policy == reference identity (loss log 2, margins 0),
// training on a tiny model, and bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include "attrib/core/random.hpp"
#include "attrib/transformer/model/random_model.hpp"
#include "attrib/transformer/training/backward.hpp"
#include "attrib/transformer/training/dpo.hpp"
#include "attrib/transformer/training/parameters.hpp"

namespace {

using attrib::preference_pair;
using attrib::token_id;
using Eigen::Index;
using tape_d = attrib::detail::transformer_tape<double>;

attrib::transformer_config tiny_config() {
  attrib::transformer_config c;
  c.dim = 8;
  c.hidden_dim = 12;
  c.n_layers = 2;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.vocab_size = 11;
  c.context_length = 8;
  return c;
}

// Four pairs with distinct prompts, completions of 1 to 4 tokens, no pair's completions equal.
std::vector<preference_pair> tiny_pairs() {
  return {{{1, 4}, {2, 9, 3}, {5, 5}},
          {{2}, {7, 0, 10, 6}, {3}},
          {{3, 8, 1}, {6}, {9, 2, 4}},
          {{10, 0}, {1, 1, 2}, {8, 7, 6, 5}}};
}

std::vector<token_id> concat(const std::vector<token_id>& a, const std::vector<token_id>& b) {
  auto s = a;
  s.insert(s.end(), b.begin(), b.end());
  return s;
}

// log softmax(row)[target] in double, written out.
template <class Row>
double log_softmax_at(const Row& row, token_id target) {
  double top = -1e300;
  for (Index j = 0; j < row.size(); ++j) top = std::max(top, static_cast<double>(row(j)));
  double sum = 0.0;
  for (Index j = 0; j < row.size(); ++j) sum += std::exp(static_cast<double>(row(j)) - top);
  return static_cast<double>(row(target)) - top - std::log(sum);
}

// log p(completion | prompt) from a matrix of full-vocabulary logits of prompt + completion.
template <class Matrix>
double completion_log_prob(const Matrix& logits, const std::vector<token_id>& prompt,
                           const std::vector<token_id>& completion) {
  double lp = 0.0;
  for (std::size_t k = 0; k < completion.size(); ++k)
    lp += log_softmax_at(logits.row(static_cast<Index>(prompt.size() + k - 1)), completion[k]);
  return lp;
}

// log p(completion | prompt) from the inference forward pass of `model`.
double model_log_prob(const attrib::transformer_model& model, const std::vector<token_id>& prompt,
                      const std::vector<token_id>& completion) {
  const std::vector<std::vector<token_id>> seq = {concat(prompt, completion)};
  return completion_log_prob(model.forward(seq)[0], prompt, completion);
}

double softplus_of_negative(double m) { return std::log(1.0 + std::exp(-m)); }

// The DPO loss of the double tape's current parameters, from its logits, plus nll_weight times
// each chosen completion's mean negative log-likelihood per token.
double double_loss(tape_d& tape, const std::vector<preference_pair>& pairs,
                   const std::vector<attrib::reference_log_probabilities>& ref, double beta,
                   double nll_weight = 0.0) {
  std::vector<std::vector<token_id>> seqs;
  for (const auto& p : pairs) {
    seqs.push_back(concat(p.prompt, p.chosen));
    seqs.push_back(concat(p.prompt, p.rejected));
  }
  tape.forward(seqs);
  double loss = 0.0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto c0 = tape.first_row(2 * i), r0 = tape.first_row(2 * i + 1);
    const auto c = tape.logits().middleRows(c0, r0 - c0);
    const auto r = tape.logits().middleRows(r0, tape.first_row(2 * i + 2) - r0);
    const double chosen = completion_log_prob(c, pairs[i].prompt, pairs[i].chosen);
    const double m = beta * ((chosen - ref[i].chosen) -
                             (completion_log_prob(r, pairs[i].prompt, pairs[i].rejected) - ref[i].rejected));
    loss += softplus_of_negative(m) - nll_weight * chosen / static_cast<double>(pairs[i].chosen.size());
  }
  return loss / static_cast<double>(pairs.size());
}

attrib::transformer_model policy_model() {
  return attrib::random_transformer_model(tiny_config(), 5, {.scale = 0.5f, .tied_output = false});
}
attrib::transformer_model reference_model() {
  return attrib::random_transformer_model(tiny_config(), 6, {.scale = 0.5f, .tied_output = false});
}

}  // namespace

TEST_CASE("dpo: sequence log-probability, loss, margins and accuracy match the forward pass") {
  const auto pairs = tiny_pairs();
  const auto pm = policy_model();
  const auto rm = reference_model();
  const auto policy = attrib::transformer_parameters::from_model(pm);
  const double beta = 0.3;

  for (const auto& p : pairs) {
    CHECK(attrib::sequence_log_probability(policy, p.prompt, p.chosen) ==
          doctest::Approx(model_log_prob(pm, p.prompt, p.chosen)).epsilon(1e-5));
    CHECK(attrib::sequence_log_probability(rm, p.prompt, p.rejected) ==
          doctest::Approx(model_log_prob(rm, p.prompt, p.rejected)).epsilon(1e-5));
  }

  const auto ref = attrib::dpo_reference_log_probabilities(rm, pairs);
  REQUIRE(ref.size() == 4);
  double loss = 0.0;
  int preferred = 0;
  std::vector<double> margins;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& p = pairs[i];
    const double rc = model_log_prob(rm, p.prompt, p.chosen);
    const double rr = model_log_prob(rm, p.prompt, p.rejected);
    CHECK(ref[i].chosen == doctest::Approx(rc).epsilon(1e-5));
    CHECK(ref[i].rejected == doctest::Approx(rr).epsilon(1e-5));
    const double m = beta * ((model_log_prob(pm, p.prompt, p.chosen) - rc) -
                             (model_log_prob(pm, p.prompt, p.rejected) - rr));
    margins.push_back(m);
    loss += softplus_of_negative(m) / 4.0;
    preferred += m > 0;
  }
  // Both signs occur, so the accuracy is not trivially 0 or 1.
  REQUIRE(preferred > 0);
  REQUIRE(preferred < 4);
  const auto r = attrib::dpo_loss_and_gradient(policy, ref, pairs, beta);
  CHECK(r.loss == doctest::Approx(loss).epsilon(1e-5));
  CHECK(r.accuracy == doctest::Approx(preferred / 4.0));
  REQUIRE(r.margins.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) CHECK(r.margins[i] == doctest::Approx(margins[i]).epsilon(1e-4).scale(1.0));
  CHECK(r.gradient.names == policy.names);
  // The loss-only form agrees.
  const auto l = attrib::dpo_loss(policy, ref, pairs, beta);
  CHECK(l.loss == r.loss);
  CHECK(l.gradient.tensors.empty());
  // The NLL term adds weight x the mean over pairs of -log pi(chosen) / |chosen|; margins unchanged.
  double nll = 0.0;
  for (const auto& p : pairs)
    nll -= model_log_prob(pm, p.prompt, p.chosen) / static_cast<double>(p.chosen.size()) / 4.0;
  const auto with_nll = attrib::dpo_loss(policy, ref, pairs, beta, 1, 0.5);
  CHECK(with_nll.loss == doctest::Approx(loss + 0.5 * nll).epsilon(1e-5));
  CHECK(with_nll.margins == l.margins);
  CHECK_THROWS_WITH_AS(attrib::dpo_loss(policy, ref, pairs, beta, 1, -1.0), doctest::Contains("chosen_nll_weight"),
                       attrib::invalid_argument);
}

TEST_CASE("dpo: the gradient matches central differences of a double-precision loss, with and without the NLL term") {
  const auto pairs = tiny_pairs();
  const auto pm = policy_model();
  const auto rm = reference_model();
  const auto policy = attrib::transformer_parameters::from_model(pm);
  const double beta = 0.3;
  // Reference numbers from the inference pass, used by both computations.
  std::vector<attrib::reference_log_probabilities> ref;
  for (const auto& p : pairs)
    ref.push_back({model_log_prob(rm, p.prompt, p.chosen), model_log_prob(rm, p.prompt, p.rejected)});
  for (const double nll : {0.0, 0.7}) {
    CAPTURE(nll);
    const auto r = attrib::dpo_loss_and_gradient(policy, ref, pairs, beta, 2, true, nll);

    tape_d tape(policy);
    CHECK(double_loss(tape, pairs, ref, beta, nll) == doctest::Approx(r.loss).epsilon(1e-5));
    const double eps = 1e-4;
    int checked = 0;
    for (const std::string name : {"token_embedding", "layers.0.wq", "layers.0.wk", "layers.1.w_gate",
                                   "layers.1.w_down", "layers.0.attn_norm", "final_norm", "output"}) {
      const Index k = policy.find(name);
      REQUIRE(k >= 0);
      const auto& g = r.gradient.tensors[static_cast<std::size_t>(k)];
      // The entry with the largest gradient, and one drawn at random.
      Index big = 0;
      for (Index i = 1; i < g.size(); ++i)
        if (std::abs(g.data()[i]) > std::abs(g.data()[big])) big = i;
      attrib::rng gen(static_cast<std::uint64_t>(k) + 17);
      const Index any = static_cast<Index>(gen.below(static_cast<std::uint64_t>(g.size())));
      const double scale = g.cwiseAbs().maxCoeff();
      REQUIRE(scale > 1e-6);
      for (Index i : {big, any}) {
        auto& theta = tape.parameters()[static_cast<std::size_t>(k)].data()[i];
        const double saved = theta;
        theta = saved + eps;
        const double up = double_loss(tape, pairs, ref, beta, nll);
        theta = saved - eps;
        const double down = double_loss(tape, pairs, ref, beta, nll);
        theta = saved;
        const double fd = (up - down) / (2 * eps);
        INFO(name << "[" << i << "]: analytic " << g.data()[i] << ", central difference " << fd);
        if (i == big)
          CHECK(std::abs(g.data()[i] - fd) <= 1e-2 * std::abs(fd));
        else
          CHECK(std::abs(g.data()[i] - fd) <= 1e-2 * std::max(std::abs(fd), 0.05 * scale));
        ++checked;
      }
    }
    CHECK(checked == 16);
  }
}

TEST_CASE("dpo: a policy equal to its reference has loss log 2 and zero margins") {
  const auto pairs = tiny_pairs();
  const auto policy = attrib::transformer_parameters::from_model(policy_model());
  const auto ref = attrib::dpo_reference_log_probabilities(policy, pairs);
  for (double beta : {0.1, 1.0}) {
    const auto r = attrib::dpo_loss_and_gradient(policy, ref, pairs, beta);
    CHECK(std::abs(r.loss - std::numbers::ln2) <= 1e-6);
    for (double m : r.margins) CHECK(m == 0.0);
    CHECK(r.accuracy == 0.0);
    // At margin 0 each pair pulls with sigmoid(0) = 1/2: the gradient is that of
    // (beta / 2n) sum (log pi(r) - log pi(c)), so it is not zero.
    double norm = 0.0;
    for (const auto& t : r.gradient.tensors) norm += t.squaredNorm();
    CHECK(norm > 0.0);
  }
}

TEST_CASE("dpo: training a tiny model lowers the loss and learns the preferences") {
  const auto pairs = tiny_pairs();
  const auto reference = attrib::transformer_parameters::initialize(tiny_config(), 3);
  attrib::dpo_options o{.beta = 0.5, .steps = 25, .batch_size = 2, .learning_rate = 1e-2,
                        .final_learning_rate = 1e-3, .seed = 9};
  auto one = reference;
  auto two = reference;
  std::size_t seen = 0;
  o.threads = 1;
  const auto r1 = attrib::dpo_train(one, reference, pairs, o, [&](const attrib::dpo_step& s) {
    ++seen;
    CHECK(s.step == seen);
  });
  o.threads = 2;
  const auto r2 = attrib::dpo_train(two, reference, pairs, o);
  CHECK(seen == 25);
  REQUIRE(r1.history.size() == 25);
  // Starts at the reference: loss log 2, no pair preferred.
  CHECK(std::abs(r1.initial_loss - std::numbers::ln2) <= 1e-6);
  CHECK(r1.initial_accuracy == 0.0);
  CHECK(r1.final_accuracy == 1.0);
  CHECK(r1.final_loss < 0.5 * std::numbers::ln2);
  // The report agrees with an independent evaluation of the trained policy.
  const auto ref = attrib::dpo_reference_log_probabilities(reference, pairs);
  CHECK(attrib::dpo_loss(one, ref, pairs, o.beta).loss == doctest::Approx(r1.final_loss));
  // Threads do not change a thing.
  for (std::size_t k = 0; k < one.tensors.size(); ++k) CHECK(one.tensors[k] == two.tensors[k]);
  for (std::size_t s = 0; s < 25; ++s) CHECK(r1.history[s].loss == r2.history[s].loss);
  // Another seed, another batch order, another run.
  o.seed = 10;
  auto three = reference;
  const auto r3 = attrib::dpo_train(three, reference, pairs, o);
  // Both start at the reference: log 2 (up to the rounding of a differently batched forward).
  CHECK(std::abs(r3.history[0].loss - std::numbers::ln2) <= 1e-6);
  CHECK(std::abs(r1.history[0].loss - std::numbers::ln2) <= 1e-6);
  bool differs = false;
  for (std::size_t k = 0; k < one.tensors.size(); ++k) differs |= one.tensors[k] != three.tensors[k];
  CHECK(differs);
}

TEST_CASE("dpo: bad input is rejected by name") {
  const auto pairs = tiny_pairs();
  const auto policy = attrib::transformer_parameters::from_model(policy_model());
  const auto ref = attrib::dpo_reference_log_probabilities(policy, pairs);
  auto rejects = [&](const std::vector<preference_pair>& ps, double beta, const char* what) {
    const std::vector<attrib::reference_log_probabilities> r(ps.size());
    CHECK_THROWS_WITH_AS(attrib::dpo_loss_and_gradient(policy, r, ps, beta),
                         doctest::Contains(what), attrib::invalid_argument);
  };
  rejects({}, 0.1, "no preference pairs");
  auto p = pairs;
  p[1].chosen.clear();
  rejects(p, 0.1, "pair 1 has an empty chosen completion");
  p = pairs;
  p[3].rejected.clear();
  rejects(p, 0.1, "pair 3 has an empty rejected completion");
  p = pairs;
  p[0].prompt.clear();
  rejects(p, 0.1, "pair 0 has an empty prompt");
  rejects(pairs, 0.0, "beta must be finite and positive");
  rejects(pairs, -0.1, "beta must be finite and positive");
  rejects(pairs, std::nan(""), "beta must be finite and positive");
  p = pairs;
  p[2].rejected[1] = 11;
  rejects(p, 0.1, "pair 2 has token id 11");
  p = pairs;
  p[0].prompt[0] = -1;
  rejects(p, 0.1, "outside the vocabulary");
  p = pairs;
  p[3].rejected.push_back(0);  // 2 + 5 = 7 tokens fit; 2 + 7 = 9 do not
  p[3].rejected.push_back(0);
  p[3].rejected.push_back(0);
  rejects(p, 0.1, "more than the context length 8");
  const std::vector<attrib::reference_log_probabilities> short_ref(3);
  CHECK_THROWS_WITH_AS(attrib::dpo_loss_and_gradient(policy, short_ref, pairs, 0.1),
                       doctest::Contains("3 reference entries for 4 pairs"), attrib::invalid_argument);
  auto nan_ref = ref;
  nan_ref[2].rejected = std::nan("");
  CHECK_THROWS_AS(attrib::dpo_loss_and_gradient(policy, nan_ref, pairs, 0.1), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::sequence_log_probability(policy, {1}, {}), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::sequence_log_probability(policy, {1}, {11}), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::dpo_reference_log_probabilities(policy, std::vector<preference_pair>{}),
                  attrib::invalid_argument);

  // dpo_train checks before any step and leaves the policy alone.
  auto trained = policy;
  auto train_rejects = [&](const std::vector<preference_pair>& ps, attrib::dpo_options o) {
    CHECK_THROWS_AS(attrib::dpo_train(trained, policy, ps, o), attrib::invalid_argument);
  };
  train_rejects(pairs, {.beta = 0.0, .steps = 2});
  train_rejects(pairs, {.steps = 0});
  train_rejects(pairs, {.steps = 2, .batch_size = 0});
  train_rejects(pairs, {.steps = 2, .learning_rate = -1.0});
  train_rejects(pairs, {.steps = 2, .clip_norm = -1.0});
  train_rejects({}, {.steps = 2});
  train_rejects(p, {.steps = 2});  // too long
  for (std::size_t k = 0; k < policy.tensors.size(); ++k) CHECK(trained.tensors[k] == policy.tensors[k]);
}
