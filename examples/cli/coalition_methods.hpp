#pragma once
// The coalition methods of the command line, by name: the estimators that explain any game of
// coalitions (tabular features against a baseline, prompt tokens against a baseline token), with
// their options (--samples, --target-se, --alpha, --width, --distance) read the same way in every
// command that offers them.
#include <optional>
#include <string>

#include "arguments.hpp"
#include "attrib/core/attribution.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/losses/lasso.hpp"
#include "attrib/losses/ridge.hpp"
#include "attrib/methods/feature/banzhaf.hpp"
#include "attrib/methods/feature/core_value.hpp"
#include "attrib/methods/feature/lime.hpp"
#include "attrib/methods/feature/occlusion.hpp"
#include "attrib/methods/feature/rise.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/neighborhoods/exponential_kernel.hpp"
#include "attrib/solvers/sampled_regression.hpp"

namespace cli {

// For help texts and messages.
inline constexpr const char* coalition_method_names =
    "exact-shapley, kernel-shap, permutation-shapley, exact-banzhaf, msr-banzhaf, lime, lime-lasso, occlusion, rise, "
    "core-value";

// The options every command with coalition methods reads the same way, for its help text.
inline constexpr const char* coalition_run_options_help =
    R"(  --samples N           game evaluations of the sampling methods (default: the method's own)
  --seed S              sampling seed (default 0)
  --alpha, --width, --distance, --target-se
                        as for attrib explain
  --threads N           coalitions evaluated in parallel (default 1; 0: all cores); results do not
                        depend on it
  --format F            csv (default) or json
  --out FILE            write the table there (default or -: standard output)
)";

// Runs method `name` on `game`; nothing when `name` is not a coalition method.
template <class Game>
std::optional<attrib::attribution> run_coalition_method(const std::string& name, const arguments& a, const Game& game,
                                                        const attrib::run_settings& settings) {
  using namespace attrib;
  const std::size_t samples = static_cast<std::size_t>(a.integer("samples", 0, 0, 1'000'000'000'000));
  const sampled_regression regression{.budget = samples, .target_standard_error = a.number("target-se", 0.0)};
  exponential_kernel kernel{.width = a.number("width", 0.0)};
  const std::string distance = a.text("distance", "cosine");
  if (distance == "euclidean")
    kernel.distance = coalition_distance::euclidean;
  else if (distance != "cosine")
    throw usage_error("--distance must be cosine or euclidean, got '" + distance + "'");

  if (name == "exact-shapley") return exact_shapley{}.explain(game, settings);
  if (name == "kernel-shap") return kernel_shap{.solver = regression}.explain(game, settings);
  if (name == "permutation-shapley") return permutation_shapley{.solver = {.budget = samples}}.explain(game, settings);
  if (name == "exact-banzhaf") return exact_banzhaf{}.explain(game, settings);
  if (name == "msr-banzhaf") return msr_banzhaf{.solver = {.budget = samples}}.explain(game, settings);
  if (name == "lime")
    return lime<ridge>{.neighborhood = kernel, .loss = {.alpha = a.number("alpha", 1.0)}, .solver = regression}.explain(game, settings);
  if (name == "lime-lasso")
    return lime<lasso>{.neighborhood = kernel, .loss = {.alpha = a.number("alpha", 0.01)}, .solver = regression}.explain(game, settings);
  if (name == "occlusion") return occlusion{}.explain(game, settings);
  // RISE: the mean of v(M) M_i / p over masks keeping each player with probability p.
  if (name == "rise")
    return rise{.neighborhood = {.keep_probability = a.number("keep-probability", 0.5)}, .solver = {.budget = samples}}
        .explain(game, settings);
  // The core value: exact over all 2^n coalitions (n <= 16).
  if (name == "core-value") return core_value(game, {}, settings).allocation;
  return std::nullopt;
}

}  // namespace cli
