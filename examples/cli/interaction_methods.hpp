#pragma once
// attrib explain's interaction methods by name, on any model: the Shapley-Taylor and Banzhaf
// interaction indices (exact and sampled) of the masked game, and Integrated Hessians of an
// attrib MLP. Each explains a row by an n x n matrix over pairs of players (or, for Shapley-Taylor
// of another order K, by every term of at most K players). The command line
// (explain_interactions.cpp) and the Python module run them through these functions.
#include <cstddef>
#include <functional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "arguments.hpp"
#include "explain_context.hpp"
#include "attrib/core/interaction_attribution.hpp"
#include "attrib/core/quadrature.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/methods/feature/integrated_hessians.hpp"
#include "attrib/methods/feature/interactions.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/mlp_input_hessian.hpp"
#include "attrib/models/output_head.hpp"
#include "attrib/perturbations/masking.hpp"

namespace cli {

namespace detail {

// Exact enumeration reads all 2^n coalitions: refused past the library's limit with the way out.
template <class Model>
void require_exact_players(const basic_explain_context<Model>& c, attrib::index limit, const std::string& what) {
  const attrib::index n = c.groups.player_count();
  if (n > limit)
    throw usage_error("--method " + c.method + what + " enumerates all 2^n coalitions and takes at most " +
                      std::to_string(limit) + " players; the model has " + std::to_string(n) +
                      (c.groups.player_count() < c.data.cols() ? " groups" : " features") +
                      " (merge features with --groups, or use permutation-shapley-taylor or msr-banzhaf-interactions)");
  if (n < 2)
    throw usage_error("--method " + c.method + " needs at least 2 players; the model has " + std::to_string(n));
}

// --samples for permutation-shapley-taylor: game evaluations, spent on whole orders.
inline std::size_t permutations_for(attrib::index players, std::size_t samples) {
  if (samples == 0) return 0;  // the library's default, 1000 orders
  const auto n = static_cast<std::size_t>(players);
  const std::size_t per_order = (n + 1) + n * (n - 1) / 2, fixed = n + 1;
  const std::size_t needed = 2 * per_order + fixed;
  if (samples < needed)
    throw usage_error("--samples " + std::to_string(samples) + " is too small for permutation-shapley-taylor: with " +
                      std::to_string(n) + " players each random order costs " + std::to_string(per_order) +
                      " evaluations and the diagonal " + std::to_string(fixed) + ", so at least " +
                      std::to_string(needed) + " (two orders) are needed");
  return (samples - fixed) / per_order;
}

// The masked game of row i: x against the baseline, players the groups.
template <class Model>
auto masked_row(const basic_explain_context<Model>& c, std::size_t i) {
  return attrib::perturbed_model<std::reference_wrapper<const Model>, attrib::masking>(
      std::cref(c.model), c.data.row(c.rows[i]).transpose(), attrib::masking(c.baseline, c.groups), c.outputs[i]);
}

}  // namespace detail

// Shapley-Taylor of order K != 2: every term of at most K players, for each row.
template <class Model>
std::vector<std::vector<attrib::interaction_term>> explain_interaction_terms(const basic_explain_context<Model>& c,
                                                                             attrib::index order) {
  detail::require_exact_players(c, attrib::max_shapley_taylor_terms_players, " --order " + std::to_string(order));
  if (order > c.groups.player_count())
    throw usage_error("--order " + std::to_string(order) + " exceeds the " + std::to_string(c.groups.player_count()) +
                      " players");
  return explain_each_row<std::vector<attrib::interaction_term>>(c, [&](std::size_t i, const attrib::run_settings& s) {
    return attrib::shapley_taylor_terms(detail::masked_row(c, i), order, s);
  });
}

// The pairwise methods: one n x n matrix per row. Integrated Hessians needs an attrib MLP.
template <class Model>
std::vector<attrib::interaction_attribution> explain_pair_interactions(const basic_explain_context<Model>& c) {
  using namespace attrib;
  const std::string& name = c.method;
  const auto samples = static_cast<std::size_t>(c.a.integer("samples", 0, 0, 1'000'000'000'000));
  if (name == "shapley-taylor" || name == "banzhaf-interactions") {
    detail::require_exact_players(c, max_pairwise_interaction_players, "");
    const bool taylor = name == "shapley-taylor";
    return explain_each_row<interaction_attribution>(c, [&](std::size_t i, const run_settings& s) {
      return taylor ? shapley_taylor_interactions(detail::masked_row(c, i), s)
                    : banzhaf_interactions(detail::masked_row(c, i), s);
    });
  }
  if (name == "permutation-shapley-taylor") {
    const permutation_interaction_options options{.permutations =
                                                      detail::permutations_for(c.groups.player_count(), samples)};
    return explain_each_row<interaction_attribution>(c, [&](std::size_t i, const run_settings& s) {
      return permutation_shapley_taylor_interactions(detail::masked_row(c, i), options, s);
    });
  }
  if (name == "msr-banzhaf-interactions") {
    const msr_interaction_options options{.budget = samples};
    return explain_each_row<interaction_attribution>(c, [&](std::size_t i, const run_settings& s) {
      return msr_banzhaf_interactions(detail::masked_row(c, i), options, s);
    });
  }
  if (name != "integrated-hessians") throw usage_error("unknown --method '" + name + "' (see --help)");
  const mlp* network = nullptr;
  std::string kind = "not one of attrib's models";
  if constexpr (std::is_same_v<Model, any_model>) {
    network = std::get_if<mlp>(&c.model.underlying());
    kind = "a " + std::string(c.model.type());
  }
  if (!network)
    throw usage_error("--method integrated-hessians needs the input Hessian of an MLP (model type mlp); the model is " +
                      kind);
  bool curved = network->head() != output_head::identity;
  for (const auto& layer : network->layers())
    curved = curved || (layer.act != activation::relu && layer.act != activation::identity);
  if (!curved)
    messages(c.a) << "attrib explain: note: every layer of this MLP is relu or identity and its head is identity, so its "
                     "input Hessian is 0 almost everywhere and every off-diagonal interaction is 0\n";
  const mlp_input_hessian hessian = with_input_hessian(*network);
  const integrated_hessians method{.rule = parse_quadrature_rule(c.a.text("rule", "gauss_legendre")),
                                   .steps = static_cast<int>(c.a.integer("steps", 32, 1, integrated_hessians::max_steps))};
  return explain_each_row<interaction_attribution>(c, [&](std::size_t i, const run_settings& s) {
    return method.explain(perturbed_model<std::reference_wrapper<const mlp_input_hessian>, masking>(
                              std::cref(hessian), c.data.row(c.rows[i]).transpose(), masking(c.baseline, c.groups),
                              c.outputs[i]),
                          s);
  });
}

}  // namespace cli
