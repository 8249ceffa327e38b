// Efficient ensembles for data attribution: dropout-mask members against the masked network
// written out by hand, dropout training's step against finite differences, LoRA gradients against
// central differences and its updates against an SVD, ensemble averages against the members'
// scores computed directly, seeds and threads, bad input, and the LDS-against-cost experiment on
// wine.
#include <doctest/doctest.h>

#include <Eigen/Cholesky>
#include <Eigen/SVD>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "attrib/io/csv.hpp"
#include "attrib/io/train_test_split.hpp"
#include "attrib/methods/data/dropout_training.hpp"
#include "attrib/methods/data/efficient_ensembles.hpp"
#include "attrib/methods/data/evaluation.hpp"
#include "attrib/methods/data/influence.hpp"
#include "attrib/methods/data/trak.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/standardizer.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using Index = attrib::index;
using attrib::matrix;
using attrib::vector;

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const attrib::invalid_argument& e) {
    return e.what();
  }
  return "no attrib::invalid_argument thrown";
}

// Random inputs and 3-class labels, from a fixed seed.
struct toy_data {
  matrix x;
  vector y;
};
toy_data toy(Index n, Index d, std::uint64_t seed) {
  attrib::rng gen(seed);
  toy_data t{matrix(n, d), vector(n)};
  for (Index k = 0; k < t.x.size(); ++k) t.x.data()[k] = gen.normal();
  for (Index i = 0; i < n; ++i) t.y[i] = static_cast<double>(gen.below(3));
  return t;
}

// 3 -> 4 (tanh) -> 3 (relu) -> 3 (identity), softmax head.
attrib::mlp toy_net(std::uint64_t seed) {
  attrib::mlp net({{3, 4, attrib::activation::tanh}, {4, 3, attrib::activation::relu}, {3, 3, attrib::activation::identity}},
                  attrib::output_head::softmax, seed);
  vector theta = net.parameters();
  attrib::rng gen(seed + 100);
  for (Index k = 0; k < theta.size(); ++k) theta[k] += 0.1 * gen.normal();  // non-zero biases too
  net.set_parameters(theta);
  return net;
}

// Mean softmax cross-entropy of logits s against labels y, written out.
double cross_entropy(const matrix& s, const vector& y) {
  double total = 0;
  for (Index i = 0; i < s.rows(); ++i) {
    const double top = s.row(i).maxCoeff();
    const double lse = top + std::log((s.row(i).array() - top).exp().sum());
    total += lse - s(i, static_cast<Index>(y[i]));
  }
  return total / static_cast<double>(s.rows());
}

// The toy network's logits with dropout mask m (keep = 1) at rate q written out by hand, from
// flat parameters theta in parameters() order (layer by layer, weight row by row, then bias).
matrix masked_logits_by_hand(const vector& theta, const matrix& x, const std::vector<vector>& m, double q) {
  const Index shape[3][2] = {{4, 3}, {3, 4}, {3, 3}};
  matrix out(x.rows(), 3);
  for (Index i = 0; i < x.rows(); ++i) {
    vector a = x.row(i).transpose();
    Index at = 0;
    for (int l = 0; l < 3; ++l) {
      const Index o = shape[l][0], in = shape[l][1];
      vector z(o);
      for (Index r = 0; r < o; ++r) {
        double s = theta[at + o * in + r];  // bias
        for (Index c = 0; c < in; ++c) s += theta[at + r * in + c] * a[c];
        z[r] = s;
      }
      at += o * in + o;
      if (l == 0) z = z.array().tanh();
      if (l == 1) z = z.cwiseMax(0.0);
      if (l < 2)
        for (Index r = 0; r < o; ++r) z[r] *= m[static_cast<std::size_t>(l)][r] / (1.0 - q);
      a = z;
    }
    out.row(i) = a.transpose();
  }
  return out;
}

struct wine_problem {
  matrix x, test_x;
  vector y, test_y;
  attrib::standardizer scaler;
};

const wine_problem& wine() {
  static const wine_problem p = [] {
    const auto d = attrib::read_sklearn_csv(ATTRIB_DATA_DIR "/wine/wine_data.csv");
    const auto split = attrib::train_test_split(d, 0.8, 1);
    wine_problem w{split.train.features, split.test.features, split.train.labels, split.test.labels, {}};
    w.scaler = attrib::standardizer::fit(w.x);
    return w;
  }();
  return p;
}

// 13 -> hidden (tanh) -> 3, softmax head, inputs standardised on the training rows.
attrib::mlp wine_net(Index hidden, std::uint64_t seed) {
  attrib::mlp net({{13, hidden, attrib::activation::tanh}, {hidden, 3, attrib::activation::identity}},
                  attrib::output_head::softmax, seed);
  net.set_standardizer(wine().scaler);
  return net;
}

// TRAK's margin logit_y - log sum_{c != y} exp(logit_c), written out.
vector margins_by_hand(const attrib::mlp& net, const matrix& x, const vector& y) {
  const matrix s = net.logits(x);
  vector m(x.rows());
  for (Index i = 0; i < x.rows(); ++i) {
    const auto label = static_cast<Index>(y[i]);
    double others = 0;
    for (Index c = 0; c < s.cols(); ++c)
      if (c != label) others += std::exp(s(i, c));
    m[i] = s(i, label) - std::log(others);
  }
  return m;
}

}  // namespace

TEST_CASE("dropout member: the masked-weights mlp equals the network with the mask applied by hand") {
  const attrib::mlp net = toy_net(3);
  const toy_data d = toy(7, 3, 9);
  const double q = 0.3;
  // A mask written in the test, with a whole layer's worth of choices.
  const std::vector<vector> mask{(vector(4) << 1, 0, 1, 1).finished(), (vector(3) << 0, 1, 1).finished()};
  const attrib::mlp member = attrib::apply_dropout_mask(net, mask, q);
  const matrix expected = masked_logits_by_hand(net.parameters(), d.x, mask, q);
  CHECK((member.logits(d.x) - expected).cwiseAbs().maxCoeff() < 1e-12);
  // Nothing kept in a layer: the output no longer depends on the input.
  const std::vector<vector> none{vector::Zero(4), vector::Ones(3)};
  const matrix flat = attrib::apply_dropout_mask(net, none, q).logits(d.x);
  CHECK((flat.rowwise() - flat.row(0)).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((flat - masked_logits_by_hand(net.parameters(), d.x, none, q)).cwiseAbs().maxCoeff() < 1e-12);
  // Drawn masks keep each unit with probability 1 - q: 2000 units, binomial sd about 0.01.
  attrib::mlp wide({{3, 2000, attrib::activation::tanh}, {2000, 2, attrib::activation::identity}},
                   attrib::output_head::softmax, 1);
  attrib::rng gen(5);
  const auto drawn = attrib::draw_dropout_mask(wide, q, gen);
  REQUIRE(drawn.size() == 1);
  CHECK(drawn[0].mean() == doctest::Approx(1 - q).epsilon(0.05));
}

TEST_CASE("dropout training: the first Adam step follows the sign of the masked loss's finite-difference gradient") {
  const attrib::mlp net = toy_net(4);
  const toy_data d = toy(12, 3, 2);
  const double q = 0.5, lr = 1e-3;
  const std::uint64_t seed = 7;
  // One step: the whole data is one batch, so Adam's first move is -lr g / (|g| + eps).
  const attrib::mlp stepped =
      attrib::train_with_dropout(net, d.x, d.y, q, {.learning_rate = lr, .epochs = 1, .batch_size = 12, .seed = seed});
  attrib::rng gen = attrib::rng::stream(attrib::detail::dropout_mask_seed(seed), 0);
  const auto mask = attrib::draw_dropout_mask(net, q, gen);
  INFO("kept units: " << mask[0].transpose() << " | " << mask[1].transpose());
  const vector theta = net.parameters();
  const vector move = stepped.parameters() - theta;
  const double h = 1e-6;
  Index checked = 0, frozen = 0;
  for (Index j = 0; j < theta.size(); ++j) {
    const vector e = vector::Unit(theta.size(), j);
    const double g = (cross_entropy(masked_logits_by_hand(theta + h * e, d.x, mask, q), d.y) -
                      cross_entropy(masked_logits_by_hand(theta - h * e, d.x, mask, q), d.y)) /
                     (2 * h);
    if (g == 0.0) {  // a dropped unit's weights do not reach the loss: Adam leaves them alone
      CHECK(move[j] == 0.0);
      ++frozen;
    } else if (std::abs(g) > 1e-5) {
      CHECK(move[j] == doctest::Approx(g > 0 ? -lr : lr).epsilon(1e-3));
      ++checked;
    }
  }
  CHECK(checked > 10);
  const bool any_dropped = mask[0].minCoeff() == 0.0 || mask[1].minCoeff() == 0.0;
  CHECK(any_dropped == (frozen > 0));
  // Rate 0 is plain Adam: mlp::train's weights up to rounding.
  attrib::mlp plain = net;
  plain.train(d.x, d.y, {.learning_rate = 1e-2, .epochs = 5, .batch_size = 4, .l2 = 1e-2, .seed = 3});
  const attrib::mlp zero = attrib::train_with_dropout(
      net, d.x, d.y, 0.0, {.learning_rate = 1e-2, .epochs = 5, .batch_size = 4, .l2 = 1e-2, .seed = 3});
  CHECK((zero.parameters() - plain.parameters()).cwiseAbs().maxCoeff() < 1e-9);
}

TEST_CASE("LoRA: dL/dA and dL/dB match central differences of the merged network's loss") {
  const attrib::mlp base = toy_net(5);
  const toy_data d = toy(9, 3, 4);
  const Index rank = 2;
  attrib::lora_adapter adapter;
  attrib::rng gen(8);
  for (const auto& layer : base.layers()) {
    matrix a(layer.weight.rows(), rank), b(rank, layer.weight.cols());
    for (Index k = 0; k < a.size(); ++k) a.data()[k] = 0.3 * gen.normal();
    for (Index k = 0; k < b.size(); ++k) b.data()[k] = 0.3 * gen.normal();
    adapter.a.push_back(a);
    adapter.b.push_back(b);
  }
  // The merged network built in the test, its loss from mlp::loss with no penalty.
  auto loss_at = [&](const attrib::lora_adapter& ad) {
    std::vector<attrib::dense_layer> layers = base.layers();
    for (std::size_t l = 0; l < layers.size(); ++l) layers[l].weight += ad.a[l] * ad.b[l];
    return cross_entropy(attrib::mlp(layers, base.head()).logits(d.x), d.y);
  };
  const attrib::lora_adapter g = attrib::lora_gradient(base, adapter, d.x, d.y);
  const double h = 1e-6;
  double worst = 0;
  for (std::size_t l = 0; l < adapter.a.size(); ++l)
    for (int which = 0; which < 2; ++which) {
      const matrix& factor = which == 0 ? adapter.a[l] : adapter.b[l];
      const matrix& grad = which == 0 ? g.a[l] : g.b[l];
      REQUIRE(grad.rows() == factor.rows());
      REQUIRE(grad.cols() == factor.cols());
      for (Index k = 0; k < factor.size(); ++k) {
        attrib::lora_adapter plus = adapter, minus = adapter;
        (which == 0 ? plus.a[l] : plus.b[l]).data()[k] += h;
        (which == 0 ? minus.a[l] : minus.b[l]).data()[k] -= h;
        const double numeric = (loss_at(plus) - loss_at(minus)) / (2 * h);
        worst = std::max(worst, std::abs(numeric - grad.data()[k]));
      }
    }
  MESSAGE("LoRA gradient: largest difference from central differences " << worst);
  CHECK(worst < 1e-8);
  // merge_lora is that merged network.
  std::vector<attrib::dense_layer> layers = base.layers();
  for (std::size_t l = 0; l < layers.size(); ++l) layers[l].weight += adapter.a[l] * adapter.b[l];
  CHECK((attrib::merge_lora(base, adapter).logits(d.x) - attrib::mlp(layers, base.head()).logits(d.x))
            .cwiseAbs()
            .maxCoeff() < 1e-12);
}

TEST_CASE("LoRA members leave the base unchanged and move each layer by a matrix of rank at most r") {
  const auto& w = wine();
  attrib::mlp base = wine_net(8, 1);
  base.train(w.x, w.y, {.learning_rate = 1e-2, .epochs = 20, .batch_size = 16, .l2 = 1e-3, .seed = 1});
  const attrib::mlp before = base;
  for (const Index rank : {Index{1}, Index{2}}) {
    const auto members = attrib::lora_ensemble(base, w.x, w.y, 3, rank, {.epochs = 5, .batch_size = 16, .seed = 2});
    REQUIRE(members.size() == 3);
    CHECK(base.parameters() == before.parameters());
    for (const auto& member : members)
      for (std::size_t l = 0; l < base.layers().size(); ++l) {
        CHECK(member.layers()[l].bias == base.layers()[l].bias);  // biases are not adapted
        const matrix delta = member.layers()[l].weight - base.layers()[l].weight;
        const vector sv = Eigen::JacobiSVD<Eigen::MatrixXd>(delta).singularValues();
        Index numerical_rank = 0;
        for (Index k = 0; k < sv.size(); ++k) numerical_rank += sv[k] > 1e-10 * sv[0] ? 1 : 0;
        CHECK(sv[0] > 1e-4);  // the adapter did move the layer
        CHECK(numerical_rank <= rank);
        CHECK(numerical_rank >= 1);
      }
  }
}

TEST_CASE("ensemble TRAK and influence are the members' scores averaged as written out here") {
  const toy_data train = toy(20, 3, 11);
  const toy_data test = toy(4, 3, 12);
  attrib::mlp net = toy_net(6);
  net = attrib::train_with_dropout(net, train.x, train.y, 0.25,
                                   {.learning_rate = 1e-2, .epochs = 30, .batch_size = 5, .l2 = 1e-2, .seed = 1});
  const auto members = attrib::dropout_ensemble(net, 3, 0.25, 4);
  const double damping = 2.0;
  const attrib::data_attribution inf =
      attrib::ensemble_influence(members, train.x, train.y, test.x, test.y, {.damping = damping, .auto_damping = false});
  matrix expected = matrix::Zero(20, 4);
  for (const auto& m : members) {
    Eigen::MatrixXd h = m.hessian(train.x, train.y);
    h.diagonal().array() += damping;
    const matrix gtr = m.per_example_loss_gradients(train.x, train.y);
    const matrix gte = m.per_example_loss_gradients(test.x, test.y);
    expected -= gtr * Eigen::MatrixXd(h.ldlt().solve(Eigen::MatrixXd(gte.transpose())));
  }
  expected /= 3.0;
  CHECK((inf.scores - expected).cwiseAbs().maxCoeff() < 1e-9 * std::max(1.0, expected.cwiseAbs().maxCoeff()));

  // TRAK: the projected kernel averaged over members, rows weighted by the mean of 1 - p_i.
  const attrib::trak_options options{.projection_dim = 16, .seed = 3, .lambda = 0.1};
  const attrib::data_attribution tr = attrib::ensemble_trak(members, train.x, train.y, test.x, test.y, options);
  const matrix proj = attrib::random_projection(net.parameter_count(), 16, 3).materialize();
  matrix kernel_mean = matrix::Zero(20, 4);
  vector weight_mean = vector::Zero(20);
  for (const auto& m : members) {
    const matrix phi = attrib::margin_gradients(m, train.x, train.y) * proj;
    const matrix phi_test = attrib::margin_gradients(m, test.x, test.y) * proj;
    Eigen::MatrixXd k = phi.transpose() * phi;
    const double scale = k.diagonal().mean();
    k.diagonal().array() += 0.1 * scale + 1e-10 * scale;
    kernel_mean += phi * Eigen::MatrixXd(k.ldlt().solve(Eigen::MatrixXd(phi_test.transpose())));
    const matrix p = m.predict(train.x);
    for (Index i = 0; i < 20; ++i) weight_mean[i] += 1.0 - p(i, static_cast<Index>(train.y[i]));
  }
  const matrix trak_expected = ((kernel_mean / 3.0).array().colwise() * (weight_mean / 3.0).array()).matrix();
  CHECK((tr.scores - trak_expected).cwiseAbs().maxCoeff() < 1e-9 * std::max(1.0, trak_expected.cwiseAbs().maxCoeff()));
}

TEST_CASE("efficient ensembles: seeds determine every result, identical on 1 and 2 threads") {
  const auto& w = wine();
  const matrix x = w.x.topRows(60);
  const vector y = w.y.head(60);
  const matrix tx = w.test_x.topRows(5);
  const vector ty = w.test_y.head(5);
  const attrib::adam_options adam{.learning_rate = 1e-2, .epochs = 10, .batch_size = 8, .l2 = 1e-3, .seed = 4};
  const attrib::mlp a = attrib::train_with_dropout(wine_net(6, 1), x, y, 0.2, adam);
  const attrib::mlp b = attrib::train_with_dropout(wine_net(6, 1), x, y, 0.2, adam);
  CHECK(a.parameters() == b.parameters());
  attrib::adam_options other = adam;
  other.seed = 5;
  CHECK(a.parameters() != attrib::train_with_dropout(wine_net(6, 1), x, y, 0.2, other).parameters());

  const auto d1 = attrib::dropout_ensemble(a, 4, 0.2, 9);
  const auto d2 = attrib::dropout_ensemble(a, 4, 0.2, 9);
  const auto d3 = attrib::dropout_ensemble(a, 4, 0.2, 10);
  bool same = true, differ = false;
  for (std::size_t m = 0; m < 4; ++m) {
    same = same && d1[m].parameters() == d2[m].parameters();
    differ = differ || d1[m].parameters() != d3[m].parameters();
  }
  CHECK(same);
  CHECK(differ);

  const auto l1 = attrib::lora_ensemble(a, x, y, 3, 2, {.epochs = 3, .batch_size = 8, .seed = 6, .threads = 1});
  const auto l2 = attrib::lora_ensemble(a, x, y, 3, 2, {.epochs = 3, .batch_size = 8, .seed = 6, .threads = 2});
  for (std::size_t m = 0; m < 3; ++m) CHECK(l1[m].parameters() == l2[m].parameters());
  CHECK(l1[0].parameters() != l1[1].parameters());  // members differ by their own seeds

  attrib::trak_options one{.projection_dim = 32, .seed = 2, .lambda = 0.01, .threads = 1};
  attrib::trak_options two = one;
  two.threads = 2;
  CHECK(attrib::ensemble_trak(l1, x, y, tx, ty, one).scores == attrib::ensemble_trak(l1, x, y, tx, ty, two).scores);
  const attrib::explicit_hessian_options damped{.damping = 0.1};
  CHECK(attrib::ensemble_influence(d1, x, y, tx, ty, damped, 1).scores ==
        attrib::ensemble_influence(d1, x, y, tx, ty, damped, 2).scores);
}

TEST_CASE("efficient ensembles reject bad input with messages naming the argument") {
  const attrib::mlp net = toy_net(1);
  const toy_data d = toy(6, 3, 1);
  const std::vector<vector> good{vector::Ones(4), vector::Ones(3)};
  CHECK(error_of([&] { attrib::apply_dropout_mask(net, good, 1.0); }).find("rate must lie in [0, 1)") !=
        std::string::npos);
  CHECK(error_of([&] { attrib::apply_dropout_mask(net, {vector::Ones(4)}, 0.5); }).find("expected one per hidden layer") !=
        std::string::npos);
  CHECK(error_of([&] { attrib::apply_dropout_mask(net, {vector::Ones(4), vector::Ones(2)}, 0.5); })
            .find("mask[1] has size 2, expected 3") != std::string::npos);
  CHECK(error_of([&] { attrib::apply_dropout_mask(net, {vector::Constant(4, 0.5), vector::Ones(3)}, 0.5); })
            .find("mask[0][0] is 0.5") != std::string::npos);
  CHECK(error_of([&] { attrib::dropout_ensemble(net, 0, 0.5, 1); }).find("members must lie in") != std::string::npos);
  CHECK(error_of([&] { attrib::dropout_ensemble(net, std::vector<attrib::dropout_mask>{}, 0.5); })
            .find("masks must not be empty") != std::string::npos);
  matrix bad = d.x;
  bad(2, 1) = std::nan("");
  CHECK(error_of([&] { attrib::train_with_dropout(net, bad, d.y, 0.5); }).find("must be finite") != std::string::npos);
  CHECK(error_of([&] { attrib::train_with_dropout(net, d.x, d.y, -0.1); }).find("rate") != std::string::npos);
  CHECK(error_of([&] { attrib::lora_ensemble(net, d.x, d.y, 2, 0); }).find("rank must lie in [1, 3]") !=
        std::string::npos);
  CHECK(error_of([&] { attrib::lora_ensemble(net, d.x, d.y, 2, 1'000'000'000); }).find("rank must lie in") !=
        std::string::npos);
  vector labels = d.y;
  labels[3] = 7;
  CHECK(error_of([&] { attrib::lora_ensemble(net, d.x, labels, 2, 1); }).find("labels[3]") != std::string::npos);
  attrib::lora_adapter wrong = attrib::initial_lora_adapter(net, 1, 1.0, 1);
  wrong.b[1] = matrix::Zero(1, 5);
  CHECK(error_of([&] { attrib::merge_lora(net, wrong); }).find("layer 1") != std::string::npos);
  CHECK(error_of([&] { attrib::ensemble_trak(std::vector<attrib::mlp>{}, d.x, d.y, d.x, d.y); })
            .find("members must not be empty") != std::string::npos);
  CHECK(error_of([&] { attrib::ensemble_influence(std::vector<attrib::mlp>{}, d.x, d.y, d.x, d.y); })
            .find("members must not be empty") != std::string::npos);
}

TEST_CASE("efficient ensembles on wine: LDS of TRAK against training cost (measured)") {
  using clock = std::chrono::steady_clock;
  const auto& w = wine();
  const Index n = w.x.rows();
  const Index hidden = 16, epochs = 60, batch = 16, k_members = 5, lora_epochs = 10;
  const double l2 = 1e-3, q = 0.2;
  const attrib::adam_options adam{.learning_rate = 1e-2, .epochs = epochs, .batch_size = batch, .l2 = l2, .seed = 1};
  auto trained = [&](std::uint64_t init, const matrix& x, const vector& y) {
    attrib::mlp net = wine_net(hidden, init);
    attrib::adam_options o = adam;
    o.seed = init;
    net.train(x, y, o);
    return net;
  };
  auto ms_since = [](clock::time_point t) {
    return std::chrono::duration<double, std::milli>(clock::now() - t).count();
  };

  // Ground truth: the test margins of models trained from scratch on half-size subsets, averaged
  // over three initialisations per subset.
  const Index subsets = 24, inits = 3;
  const matrix masks = attrib::random_subset_masks(n, subsets, 0.5, 7);
  matrix outputs = matrix::Zero(subsets, w.test_x.rows());
  attrib::parallel_for(static_cast<std::size_t>(subsets), 2, [&](std::size_t s) {
    std::vector<Index> keep;
    for (Index i = 0; i < n; ++i)
      if (masks(static_cast<Index>(s), i) != 0) keep.push_back(i);
    matrix xs(static_cast<Index>(keep.size()), w.x.cols());
    vector ys(static_cast<Index>(keep.size()));
    for (std::size_t r = 0; r < keep.size(); ++r) {
      xs.row(static_cast<Index>(r)) = w.x.row(keep[r]);
      ys[static_cast<Index>(r)] = w.y[keep[r]];
    }
    for (Index t = 0; t < inits; ++t)
      outputs.row(static_cast<Index>(s)) +=
          margins_by_hand(trained(1000 + 10 * s + static_cast<std::uint64_t>(t), xs, ys), w.test_x, w.test_y).transpose() /
          static_cast<double>(inits);
  });

  const attrib::trak_options trak_opts{.projection_dim = 64, .seed = 1, .lambda = 1e-2, .threads = 2};
  auto lds = [&](const std::vector<attrib::mlp>& members) {
    return attrib::linear_datamodeling_score(
               attrib::ensemble_trak(members, w.x, w.y, w.test_x, w.test_y, trak_opts).scores, masks, outputs)
        .mean;
  };
  struct row {
    std::string name;
    double lds, train_ms;
    Index example_gradients;
  };
  std::vector<row> rows;
  const Index per_run = epochs * n;

  auto t0 = clock::now();
  const attrib::mlp single = trained(1, w.x, w.y);
  const double single_ms = ms_since(t0);
  rows.push_back({"(a) one model", lds({single}), single_ms, per_run});

  t0 = clock::now();
  std::vector<attrib::mlp> independent{single};
  for (Index m = 1; m < k_members; ++m) independent.push_back(trained(1 + static_cast<std::uint64_t>(m), w.x, w.y));
  rows.push_back({"(b) K retrained", lds(independent), single_ms + ms_since(t0), k_members * per_run});

  t0 = clock::now();
  attrib::adam_options dropout_adam = adam;
  const attrib::mlp dropout_model = attrib::train_with_dropout(wine_net(hidden, 1), w.x, w.y, q, dropout_adam);
  const auto dropout_members = attrib::dropout_ensemble(dropout_model, k_members, q, 3);
  rows.push_back({"(c) K dropout masks", lds(dropout_members), ms_since(t0), per_run});

  t0 = clock::now();
  const auto lora_members = attrib::lora_ensemble(
      single, w.x, w.y, k_members, 2, {.learning_rate = 1e-2, .epochs = lora_epochs, .batch_size = batch, .seed = 5});
  rows.push_back({"(d) K LoRA (r = 2)", lds(lora_members), single_ms + ms_since(t0), per_run + k_members * lora_epochs * n});

  std::string table = "\n| ensemble (K = " + std::to_string(k_members) +
                      ") | LDS of TRAK | training example-gradients | training ms |\n|---|---|---|---|\n";
  for (const auto& r : rows) {
    char line[160];
    std::snprintf(line, sizeof line, "| %s | %.3f | %ld | %.0f |\n", r.name.c_str(), r.lds,
                  static_cast<long>(r.example_gradients), r.train_ms);
    table += line;
  }
  MESSAGE(table);
  for (const auto& r : rows) CHECK(std::isfinite(r.lds));
  CHECK(rows[1].lds > rows[0].lds);
}
