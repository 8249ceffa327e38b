// attrib._attrib.explain: feature attributions of many rows in one call, for attrib's own models
// (every method, the GIL released) and for Python callables (the perturbation methods; the GIL
// is taken only around each call of the callable, which receives batches of about 4096 rows).
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "bindings.hpp"
#include "explain_context.hpp"
#include "explain_inputs.hpp"
#include "feature_methods.hpp"

namespace attrib_python {

// guided_l2x.cpp (a translation unit of its own, as on the command line).
std::vector<attrib::attribution> guided_backprop_rows(const cli::explain_context& c);

namespace {

// Options of attrib explain that the Python call takes as keywords.
const std::set<std::string> explain_options{"samples",  "target-se", "alpha", "width", "distance",
                                            "sigma",    "steps",     "rule",  "keep-probability"};

template <class Model>
py::dict explain_with(const Model& model, const std::string& method, const attrib::matrix& x,
                      const py::handle& baseline, const py::handle& output, const py::handle& groups_arg,
                      std::uint64_t seed, std::size_t threads, const py::dict& options) {
  const explain_inputs in =
      read_explain_inputs(model, x, baseline, !cli::is_input_space_method(method), output, groups_arg, method);
  const cli::arguments a = options_from(options, explain_options);
  const attrib::run_settings settings{.seed = seed, .threads = threads};
  std::vector<attrib::attribution> results;
  if (method == "guided-backprop") {
    if constexpr (std::is_same_v<Model, attrib::any_model>) {
      const std::vector<std::string> names(static_cast<std::size_t>(in.groups.player_count()));
      const cli::explain_context c{a, method, model, x, in.rows, in.baseline, in.groups, names, in.outputs, settings};
      py::gil_scoped_release release;
      results = guided_backprop_rows(c);
    } else {
      throw attrib::invalid_argument("method guided-backprop needs an attrib.Model: an MLP whose hidden layers are relu");
    }
  } else {
    py::gil_scoped_release release;
    results = cli::explain_rows(method, a, model, x, in.rows, in.baseline, in.groups, in.outputs, settings);
  }
  const auto& outputs = in.outputs;
  const auto& groups = in.groups;

  const auto n = static_cast<attrib::index>(results.size());
  const attrib::index players = groups.player_count();
  attrib::matrix values(n, players), errors(n, players);
  attrib::vector base(n), prediction(n), intercept(n), r_squared(n), rmse(n);
  py::array_t<std::int64_t> model_evaluations(n), game_evaluations(n), output_index(n);
  py::array_t<bool> exhaustive(n), converged(n);
  bool with_errors = true;
  for (attrib::index i = 0; i < n; ++i) {
    const attrib::attribution& r = results[static_cast<std::size_t>(i)];
    values.row(i) = r.values.transpose();
    with_errors = with_errors && r.has_standard_errors();
    if (r.has_standard_errors()) errors.row(i) = r.standard_errors.transpose();
    base(i) = r.base_value;
    prediction(i) = r.prediction;
    intercept(i) = r.fit.intercept;
    r_squared(i) = r.fit.r_squared;
    rmse(i) = r.fit.weighted_rmse;
    model_evaluations.mutable_at(i) = static_cast<std::int64_t>(r.model_evaluations);
    game_evaluations.mutable_at(i) = static_cast<std::int64_t>(r.game_evaluations);
    output_index.mutable_at(i) = static_cast<std::int64_t>(outputs[static_cast<std::size_t>(i)]);
    exhaustive.mutable_at(i) = r.fit.exhaustive;
    converged.mutable_at(i) = r.fit.converged;
  }
  py::dict out;
  out["method"] = method;
  out["values"] = std::move(values);
  out["base_values"] = std::move(base);
  out["predictions"] = std::move(prediction);
  out["standard_errors"] = with_errors ? py::object(py::cast(std::move(errors))) : py::none();
  out["model_evaluations"] = model_evaluations;
  out["game_evaluations"] = game_evaluations;
  out["outputs"] = output_index;
  py::dict fit;
  fit["intercept"] = std::move(intercept);
  fit["r_squared"] = std::move(r_squared);
  fit["weighted_rmse"] = std::move(rmse);
  fit["exhaustive"] = exhaustive;
  fit["converged"] = converged;
  out["fit"] = fit;
  out["groups"] = group_members(groups);
  return out;
}

}  // namespace

void bind_features(py::module_& m) {
  m.def(
      "explain",
      [](const py::object& model, const py::handle& x, const py::handle& baseline, const std::string& method,
         const py::handle& output, const py::handle& groups, std::uint64_t seed, std::size_t threads,
         const py::dict& options) {
        const attrib::matrix rows = matrix_from(x, "X");
        return with_model(model, rows, [&](const auto& m) {
          return explain_with(m, method, rows, baseline, output, groups, seed, threads, options);
        });
      },
      py::arg("model"), py::arg("X"), py::arg("baseline"), py::arg("method"), py::arg("output"), py::arg("groups"),
      py::arg("seed"), py::arg("threads"), py::arg("options"));
}

}  // namespace attrib_python
