// The main demo: train a small MLP on the UCI wine data, explain test instances with every
// perturbation method, and compare each with the exact Shapley value.
//
//   wine_demo [chart.svg] [wine_data.csv]
//
// It also saves the trained model as wine_mlp.json + wine_mlp.safetensors beside the chart, for
// `attrib explain --model wine_mlp.json ...`.
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "attrib/games/perturbed_model.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/io/model_file.hpp"
#include "attrib/io/train_test_split.hpp"
#include "attrib/losses/lasso.hpp"
#include "attrib/methods/feature/banzhaf.hpp"
#include "attrib/methods/feature/clime.hpp"
#include "attrib/methods/feature/lime.hpp"
#include "attrib/methods/feature/occlusion.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/function_model.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/output_head.hpp"
#include "attrib/models/standardizer.hpp"
#include "svg_bar_chart.hpp"
#include "wine_mlp.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

const std::vector<std::string>& feature_names = examples::wine_feature_names;

struct method_result {
  std::string name;
  attrib::attribution result;
  double seconds = 0.0;
};

template <class Method, class Game>
method_result run(const std::string& name, const Method& method, const Game& game, std::uint64_t seed) {
  const auto start = std::chrono::steady_clock::now();
  method_result r{name, method.explain(game, {.seed = seed, .threads = 0}), 0.0};
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace attrib;
  const std::string chart = argc > 1 ? argv[1] : "wine_demo.svg";
  const std::string data_path = argc > 2 ? argv[2] : std::string(ATTRIB_DATA_DIR) + "/wine/wine_data.csv";

  // 80/20 split drawn from a fixed seed.
  const labelled_dataset wine = read_sklearn_csv(data_path);
  const dataset_split split = train_test_split(wine, 0.8, 2026);
  const matrix& train_x = split.train.features;
  const vector& train_y = split.train.labels;
  const matrix& test_x = split.test.features;
  const vector& test_y = split.test.labels;
  const Eigen::Index n_train = train_x.rows(), n_test = test_x.rows();

  // 13 -> 16 -> 16 -> 3 MLP with tanh units and a softmax head, trained by Adam.
  const mlp model = examples::train_wine_mlp(train_x, train_y);
  auto accuracy = [&](const matrix& x, const vector& y) {
    const matrix p = model.predict(x);
    double correct = 0;
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
      Eigen::Index k;
      p.row(r).maxCoeff(&k);
      correct += static_cast<double>(k) == y(r);
    }
    return correct / static_cast<double>(x.rows());
  };
  std::printf("wine MLP 13-16-16-3: train accuracy %.3f, test accuracy %.3f (%ld train, %ld test rows)\n\n",
              accuracy(train_x, train_y), accuracy(test_x, test_y), static_cast<long>(n_train), static_cast<long>(n_test));

  const auto model_path = std::filesystem::absolute(chart).parent_path() / "wine_mlp.json";
  save_model(model_path, any_model(model, {.feature_names = feature_names, .class_names = wine.class_names}),
             {.weights_file = "wine_mlp.safetensors"});
  std::printf("model saved to %s\n\n", model_path.string().c_str());

  // Background: 20 training rows; absent features are averaged over them.
  const matrix background = train_x.topRows(20);
  std::vector<examples::bar_series> series;
  for (Eigen::Index instance = 0; instance < 3; ++instance) {
    const vector x = test_x.row(instance).transpose();
    Eigen::Index cls;
    model.predict(matrix(x.transpose())).row(0).maxCoeff(&cls);
    const auto game = masked_model(std::cref(model), x, background, cls);
    // C-LIME works in input space; in standardized units its slope times (x - mean background)
    // is comparable with the coalition methods.
    const standardizer& scale = model.input_standardizer();
    const vector x_std = scale.transform(matrix(x.transpose())).row(0).transpose();
    const vector b_std = scale.transform(background).colwise().mean().transpose();
    const auto standardized_model = function_model(13, 3, [&](const matrix& z) {
      const matrix raw = (z.array().rowwise() * scale.scale().transpose().array()).rowwise() +
                         scale.mean().transpose().array();
      return model.predict(raw);
    });

    std::vector<method_result> results;
    results.push_back(run("exact Shapley", exact_shapley{}, game, 1));
    results.push_back(run("KernelSHAP (512)", kernel_shap{.solver = {.budget = 512}}, game, 1));
    results.push_back(run("permutation (528)", permutation_shapley{.solver = {.budget = 528}}, game, 1));
    results.push_back(run("exact Banzhaf", exact_banzhaf{}, game, 1));
    results.push_back(run("MSR Banzhaf (2048)", msr_banzhaf{.solver = {.budget = 2048}}, game, 1));
    results.push_back(run("LIME ridge (1000)", lime<>{.solver = {.budget = 1000}}, game, 1));
    results.push_back(run("LIME lasso (1000)", lime<lasso>{.loss = {.alpha = 1e-3}, .solver = {.budget = 1000}}, game, 1));
    results.push_back(run("occlusion", occlusion{}, game, 1));
    method_result c = run("C-LIME x (x - b)", clime{.neighborhood = {.sigma = 0.1}, .solver = {.budget = 1000}},
                          noisy_model(standardized_model, x_std, cls), 1);
    c.result.values = c.result.values.cwiseProduct(x_std - b_std);
    results.push_back(c);

    const vector& exact = results.front().result.values;
    std::printf("test instance %ld (true class %d, explained class %ld): f(x) = %.4f, E[f(background)] = %.4f\n",
                static_cast<long>(instance), static_cast<int>(test_y(instance)), static_cast<long>(cls),
                results.front().result.prediction, results.front().result.base_value);
    std::printf("%-20s", "method");
    for (const auto& f : feature_names) std::printf(" %7.7s", f.c_str());
    std::printf(" %9s %8s %8s\n", "RMSE(SV)", "evals", "ms");
    for (const auto& r : results) {
      std::printf("%-20s", r.name.c_str());
      for (Eigen::Index j = 0; j < 13; ++j) std::printf(" %7.4f", r.result.values(j));
      const double error = std::sqrt((r.result.values - exact).squaredNorm() / 13.0);
      std::printf(" %9.2e %8zu %8.1f\n", error, r.result.model_evaluations, 1e3 * r.seconds);
    }
    std::printf("\n");
    if (instance == 0)
      for (const auto& r : results)
        series.push_back({r.name, std::vector<double>(r.result.values.data(), r.result.values.data() + 13)});
  }
  examples::write_bar_chart(chart, "Attributions for wine test instance 0 (explained class probability)",
                            feature_names, series);
  std::printf("bar chart of test instance 0 written to %s\n",
              std::filesystem::absolute(chart).string().c_str());
  return 0;
} catch (const std::exception& e) {
  std::cerr << "wine_demo: " << e.what() << "\n";
  return 1;
}
