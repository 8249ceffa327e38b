// The talk's "holistic view": one prediction of one model explained three ways at once - by its
// input features, by its training data and by its internal components - with the same framework
// underneath. The model is the wine MLP of the main demo (13 -> 16 -> 16 -> 3, tanh, softmax).
//
//   features    exact Shapley values of the 13 features (masked_model game, background of 20
//               training rows)                                       -> sums to f(x) - E f(bg)
//   training    influence functions: -g_test^T (H + damping I)^-1 g_i with the exact Hessian of
//               the training loss; positive = removing point i would raise the test loss
//   components  Shapley values of the 32 hidden units (mlp_component_game, mean ablation over the
//               training set) by permutation sampling, beside attribution patching (the game's
//               gradient, one backward pass)                         -> sums to v(all) - v(none)
//
// Each column ends with a deletion check: the prediction after removing the top 3 of that column
// (features set to the background, units mean-ablated, training points dropped and the model
// retrained from the same seed), so the three attributions can be compared on one footing.
//
//   holistic_view [wine_data.csv]
#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "attrib/games/mlp_component_game.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/io/train_test_split.hpp"
#include "attrib/methods/component/attribution_patching.hpp"
#include "attrib/methods/data/influence.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/models/mlp.hpp"
#include "wine_mlp.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

const std::vector<std::string>& feature_names = examples::wine_feature_names;

// Indices of v sorted by decreasing value (ties by index, so the table is deterministic).
std::vector<attrib::index> ranking(const attrib::vector& v) {
  std::vector<attrib::index> order(static_cast<std::size_t>(v.size()));
  std::iota(order.begin(), order.end(), attrib::index{0});
  std::stable_sort(order.begin(), order.end(), [&](attrib::index a, attrib::index b) { return v(a) > v(b); });
  return order;
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace attrib;
  using Index = attrib::index;
  const std::string data_path = argc > 1 ? argv[1] : std::string(ATTRIB_DATA_DIR) + "/wine/wine_data.csv";
  const labelled_dataset wine = read_sklearn_csv(data_path);
  const dataset_split split = train_test_split(wine, 0.8, 2026);
  const matrix& train_x = split.train.features;
  const vector& train_y = split.train.labels;
  const mlp model = examples::train_wine_mlp(train_x, train_y);

  // The least confident test prediction: a saturated softmax leaves little for any method to split.
  Index instance = 0;
  split.test.features.rows() > 0 ? model.predict(split.test.features).rowwise().maxCoeff().minCoeff(&instance) : 0.0;
  const vector x = split.test.features.row(instance).transpose();
  const double label = split.test.labels(instance);
  Index cls = 0;
  model.predict(matrix(x.transpose())).row(0).maxCoeff(&cls);
  const double p = model.predict(matrix(x.transpose()))(0, cls);
  std::printf("wine MLP 13-16-16-3, test instance %ld: true class %d, predicted class %ld with p = %.4f\n\n",
              static_cast<long>(instance), static_cast<int>(label), static_cast<long>(cls), p);

  // Features: exact Shapley over the 13 features, absent features averaged over a background.
  const matrix background = train_x.topRows(20);
  const auto feature_game = masked_model(std::cref(model), x, background, cls);
  const attribution features = exact_shapley{}.explain(feature_game, {.threads = 0});

  // Training data: influence of each training point on this test point's loss at its true label.
  // The trained MLP's Hessian has many directions of almost no curvature; damping 1e-2 keeps the
  // solve out of them (with 1e-3 the top "proponents" are points whose removal raises p).
  const matrix train_gradients = model.per_example_loss_gradients(train_x, train_y);
  const vector label_vector = vector::Constant(1, label);
  const matrix test_gradient = model.per_example_loss_gradients(matrix(x.transpose()), label_vector);
  const explicit_inverse_hessian solver(model.hessian(train_x, train_y), {.damping = 1e-2});
  const data_attribution influence_scores = influence(solver, train_gradients, test_gradient);
  // Proponents lower the test loss when up-weighted: the most negative influence.
  const vector proponents = -influence_scores.scores.col(0);

  // Components: the 32 hidden units, mean-ablated over the training set.
  const mlp_component_game unit_game(model, x, every_unit(model),
                                     {.ablation = ablation_kind::mean, .reference = train_x, .output = cls});
  const attribution units = permutation_shapley{.solver = {.budget = 31 * 400}}.explain(unit_game, {.seed = 1, .threads = 0});
  const attribution patching = attribution_patching.explain(unit_game);
  const auto units_named = every_unit(model);
  auto unit_name = [&](Index j) {
    const auto& u = units_named[static_cast<std::size_t>(j)];
    return "L" + std::to_string(u.layer) + ".u" + std::to_string(u.unit);
  };

  const auto f_rank = ranking(features.values), d_rank = ranking(proponents), c_rank = ranking(units.values);
  std::printf("%-4s | %-16s %9s | %-22s %10s | %-7s %9s %9s\n", "rank", "feature", "Shapley", "training point (label)",
              "-influence", "unit", "Shapley", "AtP");
  for (std::size_t r = 0; r < 8; ++r) {
    const Index f = f_rank[r], d = d_rank[r], c = c_rank[r];
    const std::string point = "#" + std::to_string(d) + " (" + std::to_string(static_cast<int>(train_y(d))) + ")";
    std::printf("%-4zu | %-16s %9.4f | %-22s %10.4f | %-7s %9.4f %9.4f\n", r + 1, feature_names[static_cast<std::size_t>(f)].c_str(),
                features.values(f), point.c_str(), proponents(d), unit_name(c).c_str(), units.values(c), patching.values(c));
  }
  std::printf("\nsums: features %.4f = f(x) - E f(bg) = %.4f; units %.4f = v(all) - v(none) = %.4f (+- %.4f)\n",
              features.values.sum(), features.prediction - features.base_value, units.values.sum(),
              units.prediction - units.base_value, std::sqrt(units.standard_errors.squaredNorm()));

  // Deletion checks: the top 3 of each column removed.
  matrix keep = matrix::Ones(1, 13);
  for (std::size_t r = 0; r < 3; ++r) keep(0, f_rank[r]) = 0.0;
  const double without_features = feature_game.values(keep)(0);
  matrix keep_units = matrix::Ones(1, unit_game.player_count());
  for (std::size_t r = 0; r < 3; ++r) keep_units(0, c_rank[r]) = 0.0;
  const double without_units = unit_game.values(keep_units)(0);
  // Retraining itself moves p (another minibatch order); the 3 strongest opponents, dropped the
  // same way, show how much.
  const auto retrained_without = [&](const std::vector<Index>& dropped) {
    std::vector<Index> rows;
    for (Index i = 0; i < train_x.rows(); ++i)
      if (std::find(dropped.begin(), dropped.end(), i) == dropped.end()) rows.push_back(i);
    matrix fewer_x(static_cast<Index>(rows.size()), 13);
    vector fewer_y(static_cast<Index>(rows.size()));
    for (std::size_t i = 0; i < rows.size(); ++i) {
      fewer_x.row(static_cast<Index>(i)) = train_x.row(rows[i]);
      fewer_y(static_cast<Index>(i)) = train_y(rows[i]);
    }
    return examples::train_wine_mlp(fewer_x, fewer_y).predict(matrix(x.transpose()))(0, cls);
  };
  const std::size_t n_train = d_rank.size();
  const double without_points = retrained_without({d_rank[0], d_rank[1], d_rank[2]});
  const double without_opponents = retrained_without({d_rank[n_train - 1], d_rank[n_train - 2], d_rank[n_train - 3]});
  std::printf("\np(class %ld) = %.4f\n  without the top 3 features (set to the background)   %.4f\n"
              "  without the top 3 units (mean-ablated)              %.4f\n"
              "  retrained without the top 3 proponents              %.4f\n"
              "  retrained without the top 3 opponents (control)     %.4f\n",
              static_cast<long>(cls), p, without_features, without_units, without_points, without_opponents);
  if (!solver.message().empty()) std::printf("influence solver: %s\n", solver.message().c_str());
  return 0;
} catch (const std::exception& e) {
  std::cerr << "holistic_view: " << e.what() << "\n";
  return 1;
}
