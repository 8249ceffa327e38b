// attrib._attrib.explain_interactions: the interaction methods of attrib explain - Shapley-Taylor
// and Banzhaf interaction indices, exact and sampled, on any model; Integrated Hessians on an
// attrib MLP - one n x n matrix per row (or every term up to order K for Shapley-Taylor).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "explain_inputs.hpp"
#include "interaction_methods.hpp"

namespace attrib_python {

namespace {

const std::set<std::string> interaction_options{"samples", "steps", "rule"};

const char* diagonal_name(attrib::interaction_diagonal d) {
  switch (d) {
    case attrib::interaction_diagonal::singleton_effect: return "singleton_effect";
    case attrib::interaction_diagonal::banzhaf_value: return "banzhaf_value";
    case attrib::interaction_diagonal::self_interaction: return "self_interaction";
  }
  return "";
}

template <class Model>
py::dict interactions_with(const Model& model, const std::string& method, const attrib::matrix& x,
                           const py::handle& baseline, const py::handle& output, const py::handle& groups,
                           attrib::index order, std::uint64_t seed, std::size_t threads, const py::dict& options) {
  if (!cli::is_interaction_method(method))
    throw attrib::invalid_argument("unknown interaction method '" + method + "'; expected one of " +
                                   cli::interaction_method_names);
  if (order != 2 && method != "shapley-taylor")
    throw attrib::invalid_argument("order applies to shapley-taylor only; " + method + " gives pairs (order 2)");
  const explain_inputs in = read_explain_inputs(model, x, baseline, true, output, groups, method);
  const cli::arguments a = options_from(options, interaction_options);
  const std::vector<std::string> names(static_cast<std::size_t>(in.groups.player_count()));
  const cli::basic_explain_context<Model> c{a,          method,    model, x, in.rows, in.baseline, in.groups, names,
                                            in.outputs, {.seed = seed, .threads = threads}};
  py::dict out;
  out["method"] = method;
  out["outputs"] = in.outputs;
  out["groups"] = group_members(in.groups);
  if (order != 2) {
    if (order < 1) throw attrib::invalid_argument("order must be at least 1, got " + std::to_string(order));
    std::vector<std::vector<attrib::interaction_term>> terms;
    {
      py::gil_scoped_release release;
      terms = cli::explain_interaction_terms(c, order);
    }
    py::list rows;
    for (const auto& row : terms) {
      py::dict by_players;
      for (const auto& t : row) by_players[py::tuple(py::cast(t.players))] = t.value;
      rows.append(by_players);
    }
    out["terms"] = rows;
    return out;
  }
  std::vector<attrib::interaction_attribution> results;
  {
    py::gil_scoped_release release;
    results = cli::explain_pair_interactions(c);
  }
  const auto n = static_cast<py::ssize_t>(results.size());
  const auto p = static_cast<py::ssize_t>(in.groups.player_count());
  py::array_t<double> values({n, p, p}), errors({n, p, p});
  attrib::vector base(n), prediction(n);
  attrib::matrix totals(n, p);
  py::array_t<std::int64_t> evaluations(n);
  bool sampled = true, with_totals = true;
  auto v = values.mutable_unchecked<3>();
  auto e = errors.mutable_unchecked<3>();
  for (py::ssize_t k = 0; k < n; ++k) {
    const attrib::interaction_attribution& r = results[static_cast<std::size_t>(k)];
    sampled = sampled && r.has_standard_errors();
    with_totals = with_totals && r.row_totals.size() == p;
    for (py::ssize_t i = 0; i < p; ++i)
      for (py::ssize_t j = 0; j < p; ++j) {
        v(k, i, j) = r.values(i, j);
        if (r.has_standard_errors()) e(k, i, j) = r.standard_errors(i, j);
      }
    if (r.row_totals.size() == p) totals.row(k) = r.row_totals.transpose();
    base(k) = r.base_value;
    prediction(k) = r.prediction;
    evaluations.mutable_at(k) = static_cast<std::int64_t>(r.model_evaluations);
  }
  out["values"] = values;
  out["standard_errors"] = sampled ? py::object(errors) : py::none();
  out["row_totals"] = with_totals ? py::object(py::cast(std::move(totals))) : py::none();
  out["base_values"] = std::move(base);
  out["predictions"] = std::move(prediction);
  out["model_evaluations"] = evaluations;
  out["diagonal"] = results.empty() ? "" : diagonal_name(results.front().diagonal);
  return out;
}

}  // namespace

void bind_interactions(py::module_& m) {
  m.def(
      "explain_interactions",
      [](const py::object& model, const py::handle& x, const py::handle& baseline, const std::string& method,
         const py::handle& output, const py::handle& groups, attrib::index order, std::uint64_t seed,
         std::size_t threads, const py::dict& options) {
        const attrib::matrix rows = matrix_from(x, "X");
        return with_model(model, rows, [&](const auto& m) {
          return interactions_with(m, method, rows, baseline, output, groups, order, seed, threads, options);
        });
      },
      py::arg("model"), py::arg("X"), py::arg("baseline"), py::arg("method"), py::arg("output"), py::arg("groups"),
      py::arg("order"), py::arg("seed"), py::arg("threads"), py::arg("options"));
}

}  // namespace attrib_python
