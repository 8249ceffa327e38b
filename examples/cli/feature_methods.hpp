#pragma once
// The feature methods of `attrib explain` by name, on any model: the coalition methods of
// coalition_methods.hpp, C-LIME, and the gradient methods where the model has input gradients.
// The command line and the Python module (python/src) both explain through explain_rows, so the
// two front ends run the same code and read the same options.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "arguments.hpp"
#include "coalition_methods.hpp"
#include "in_process.hpp"
#include "attrib/concepts/differentiable_model.hpp"
#include "attrib/core/feature_groups.hpp"
#include "attrib/core/quadrature.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/methods/feature/clime.hpp"
#include "attrib/methods/feature/gradients.hpp"
#include "attrib/neighborhoods/straight_path.hpp"
#include "attrib/perturbations/masking.hpp"
#include "attrib/solvers/gradient_average.hpp"
#include "attrib/solvers/sampled_regression.hpp"

namespace cli {

// Methods that explain the model in input space (offsets added to x), not against a baseline.
inline bool is_input_space_method(const std::string& name) {
  return name == "clime" || name == "vanilla-gradient" || name.rfind("smoothgrad", 0) == 0 || name == "vargrad" ||
         name == "guided-backprop" || name == "l2x";
}

// Runs the named method. Coalition and path methods explain the masked game (x against the
// baseline), input-space methods the noisy game (offsets added to x), and gradient x input the
// masked game against a zero baseline. Gradient methods need a model with input gradients.
template <class Game, class NoisyGame, class ZeroGame>
attrib::attribution run_feature_method(const std::string& name, const arguments& a, const Game& game,
                                       const NoisyGame& noisy, const ZeroGame& zero_baseline,
                                       const attrib::run_settings& settings) {
  using namespace attrib;
  if (auto r = run_coalition_method(name, a, game, settings)) return *r;
  const std::size_t samples = static_cast<std::size_t>(a.integer("samples", 0, 0, 1'000'000'000'000));
  const sampled_regression regression{.budget = samples, .target_standard_error = a.number("target-se", 0.0)};
  if (name == "clime")
    return clime{.neighborhood = {.sigma = a.number("sigma", 0.1)}, .solver = regression}.explain(noisy, settings);

  const bool gradient_method = name == "vanilla-gradient" || name == "gradient-x-input" || name == "smoothgrad" ||
                               name == "smoothgrad-squared" || name == "vargrad" || name == "integrated-gradients" ||
                               name == "expected-gradients";
  if constexpr (differentiable_game<Game> && differentiable_game<NoisyGame> && differentiable_game<ZeroGame>) {
    if (name == "vanilla-gradient") return vanilla_gradient{}.explain(noisy, settings);
    if (name == "gradient-x-input") return gradient_x_input.explain(zero_baseline, settings);
    const gradient_average average{.budget = samples};
    auto smooth = [&](gradient_statistic statistic) {
      gradient_average solver = average;
      solver.statistic = statistic;
      return smoothgrad{.neighborhood = {.sigma = a.number("sigma", 0.1)}, .solver = solver}.explain(noisy, settings);
    };
    if (name == "smoothgrad") return smooth(gradient_statistic::mean);
    if (name == "smoothgrad-squared") return smooth(gradient_statistic::mean_square);
    if (name == "vargrad") return smooth(gradient_statistic::variance);
    if (name == "integrated-gradients" || name == "expected-gradients") {
      const auto steps = a.integer("steps", 50, 1, 1'000'000);
      const straight_path path{.rule = parse_quadrature_rule(a.text("rule", "gauss_legendre")),
                               .steps = static_cast<int>(steps)};
      return integrated_gradients{.neighborhood = path, .solver = average}.explain(game, settings);
    }
  } else if (gradient_method) {
    throw usage_error("--method " + name + " needs the model's input gradients, and this model has none (use a "
                      "perturbation method, or one of attrib's own models)");
  }
  throw usage_error("unknown --method '" + name + "' (see --help)");
}

// Explains rows `rows` of `data` with the named method, output outputs[i] for row i, absent
// features taken from `baseline` (one reference row or background rows), players the `groups`.
// The rows are spread over settings.threads workers through attrib::explain_instances, with the
// results of a row-by-row loop. The model is only read, so it may be shared by the workers.
// `processes` spreads the rows over processes too (in_process.hpp; across_ranks.hpp: MPI ranks,
// the results then on rank 0 alone), with the same results.
template <class Model, class Processes = in_process>
std::vector<attrib::attribution> explain_rows(const std::string& method, const arguments& a, const Model& model,
                                              const attrib::matrix& data, const std::vector<Eigen::Index>& rows,
                                              const attrib::matrix& baseline, const attrib::feature_groups& groups,
                                              const std::vector<Eigen::Index>& outputs,
                                              const attrib::run_settings& settings, const Processes& processes = {}) {
  using model_ref = std::reference_wrapper<const Model>;
  using masked = attrib::perturbed_model<model_ref, attrib::masking>;
  struct instance_games {
    masked game, zero_baseline;
    decltype(attrib::noisy_model(std::declval<model_ref>(), attrib::vector(), Eigen::Index{0})) noisy;
  };
  struct named_method {
    const std::string& name;
    const arguments& a;
    attrib::attribution explain(const instance_games& g, const attrib::run_settings& s) const {
      return run_feature_method(name, a, g.game, g.noisy, g.zero_baseline, s);
    }
  };
  const Eigen::Index d = data.cols();
  auto games_of = [&](Eigen::Index i) {
    const auto row = static_cast<std::size_t>(i);
    const attrib::vector x = data.row(rows[row]).transpose();
    return instance_games{masked(std::cref(model), x, attrib::masking(baseline, groups), outputs[row]),
                          masked(std::cref(model), x, attrib::masking(attrib::matrix::Zero(1, d), groups), outputs[row]),
                          attrib::noisy_model(std::cref(model), x, outputs[row])};
  };
  return processes.explain_instances(named_method{method, a}, static_cast<Eigen::Index>(rows.size()), games_of, settings);
}

}  // namespace cli
