#pragma once
// What every explaining call of the module reads the same way: the model (an attrib.Model, or a
// Python callable seen as an attrib model), the baseline, the players and the output of each row.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/feature_groups.hpp"
#include "attrib/io/model_file.hpp"

namespace attrib_python {

// A Python callable from a batch (a C-ordered float64 array, one row per input) to its outputs
// (one value per row, or one row of outputs per row) as an attrib model. predict may be called
// from any thread without the GIL: it takes the GIL for the call and the copies around it.
class python_model {
 public:
  // The output count comes from one call on `probe` (one row).
  python_model(py::object f, attrib::index inputs, const attrib::matrix& probe)
      : f_(std::move(f)), inputs_(inputs), outputs_(1) {
    outputs_ = call(probe, std::nullopt).cols();
  }
  attrib::index input_dim() const { return inputs_; }
  attrib::index output_dim() const { return outputs_; }
  attrib::matrix predict(const attrib::matrix& inputs) const { return call(inputs, outputs_); }

 private:
  attrib::matrix call(const attrib::matrix& inputs, std::optional<attrib::index> expected) const {
    py::gil_scoped_acquire gil;
    py::array_t<double> batch({inputs.rows(), inputs.cols()});
    auto view = batch.mutable_unchecked<2>();
    for (attrib::index r = 0; r < inputs.rows(); ++r)
      for (attrib::index c = 0; c < inputs.cols(); ++c) view(r, c) = inputs(r, c);
    const py::object result = f_(batch);
    auto out = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(result);
    if (!out)
      throw attrib::invalid_argument("the model returned a " + std::string(py::str(result.get_type().attr("__name__"))) +
                                     "; expected an array of numbers with one row per input row");
    const bool shaped = (out.ndim() == 1 || out.ndim() == 2) && out.shape(0) == inputs.rows() &&
                        (!expected || (out.ndim() == 1 ? 1 : out.shape(1)) == *expected);
    if (!shaped) {
      std::string shape;
      for (py::ssize_t k = 0; k < out.ndim(); ++k) shape += (k ? ", " : "") + std::to_string(out.shape(k));
      if (out.ndim() == 1) shape += ",";
      throw attrib::invalid_argument("the model returned shape (" + shape + ") for " + std::to_string(inputs.rows()) +
                                     " input rows; expected (" + std::to_string(inputs.rows()) +
                                     (expected ? ", " + std::to_string(*expected) : std::string(", k")) + ") or (" +
                                     std::to_string(inputs.rows()) + ",)");
    }
    const attrib::index cols = out.ndim() == 1 ? 1 : out.shape(1);
    attrib::matrix m(inputs.rows(), cols);
    for (attrib::index r = 0; r < m.rows(); ++r)
      for (attrib::index c = 0; c < cols; ++c) m(r, c) = out.data()[r * cols + c];
    return m;
  }

  py::object f_;
  attrib::index inputs_, outputs_;
};

// Calls explain(model) with the attrib.Model, or with the callable wrapped as a python_model.
template <class Explain>
py::dict with_model(const py::object& model, const attrib::matrix& rows, Explain&& explain) {
  if (py::isinstance<attrib::any_model>(model)) return explain(model.cast<const attrib::any_model&>());
  if (!PyCallable_Check(model.ptr()))
    throw attrib::invalid_argument("model must be an attrib.Model or a callable from a batch of rows to outputs, got a " +
                                   std::string(py::str(model.get_type().attr("__name__"))));
  if (rows.rows() == 0) throw attrib::invalid_argument("X has no rows; expected at least one row to explain");
  const python_model wrapped(model, rows.cols(), rows.topRows(1));
  return explain(wrapped);
}

// The rows to explain with what each needs: the baseline (one row or background rows), the
// players, and the output of each row (an index, or "predicted": each row's arg-max).
struct explain_inputs {
  attrib::matrix baseline;
  attrib::feature_groups groups;
  std::vector<Eigen::Index> rows;     // 0 .. X.rows()-1
  std::vector<Eigen::Index> outputs;  // one per row
};

// `baseline_needed`: false for the input-space methods, which take none (a zero row stands in).
template <class Model>
explain_inputs read_explain_inputs(const Model& model, const attrib::matrix& x, const py::handle& baseline_arg,
                                   bool baseline_needed, const py::handle& output, const py::handle& groups_arg,
                                   const std::string& method) {
  const attrib::index d = model.input_dim();
  if (x.cols() != d)
    throw attrib::invalid_argument("X has " + std::to_string(x.cols()) + " columns but the model takes " +
                                   std::to_string(d) + " inputs");
  if (x.rows() == 0) throw attrib::invalid_argument("X has no rows; expected at least one row to explain");
  explain_inputs in{attrib::matrix::Zero(1, d), attrib::feature_groups::singletons(d), {}, {}};
  if (baseline_arg.is_none()) {
    if (baseline_needed)
      throw attrib::invalid_argument("method " + method +
                                     " needs a baseline: one reference row, or background rows absent features are "
                                     "drawn from (shap's background data)");
  } else {
    in.baseline = matrix_from(baseline_arg, "baseline");
    if (in.baseline.cols() != d)
      throw attrib::invalid_argument("baseline has " + std::to_string(in.baseline.cols()) + " columns, expected " +
                                     std::to_string(d));
    if (in.baseline.rows() == 0) throw attrib::invalid_argument("baseline has no rows");
  }
  if (!groups_arg.is_none()) {
    const auto labels = groups_arg.cast<std::vector<Eigen::Index>>();
    if (static_cast<attrib::index>(labels.size()) != d)
      throw attrib::invalid_argument("groups has " + std::to_string(labels.size()) +
                                     " labels, expected one per feature (" + std::to_string(d) + ")");
    if (!baseline_needed) throw attrib::invalid_argument("groups do not apply to the input-space method " + method);
    in.groups = attrib::feature_groups::from_labels(labels);
  }
  in.rows.resize(static_cast<std::size_t>(x.rows()));
  for (std::size_t i = 0; i < in.rows.size(); ++i) in.rows[i] = static_cast<Eigen::Index>(i);
  in.outputs.assign(in.rows.size(), 0);
  if (py::isinstance<py::str>(output)) {
    if (output.cast<std::string>() != "predicted")
      throw attrib::invalid_argument("output must be an index or 'predicted', got '" + output.cast<std::string>() + "'");
    const attrib::matrix predictions = model.predict(x);
    for (std::size_t i = 0; i < in.rows.size(); ++i)
      predictions.row(static_cast<attrib::index>(i)).maxCoeff(&in.outputs[i]);
  } else {
    const auto k = output.cast<std::int64_t>();
    if (k < 0 || k >= model.output_dim())
      throw attrib::invalid_argument("output " + std::to_string(k) + " is out of range; the model has " +
                                     std::to_string(model.output_dim()) + " outputs");
    std::fill(in.outputs.begin(), in.outputs.end(), static_cast<Eigen::Index>(k));
  }
  return in;
}

// The players of `groups` as lists of feature indices, for the Python side's names.
inline std::vector<std::vector<Eigen::Index>> group_members(const attrib::feature_groups& groups) {
  std::vector<std::vector<Eigen::Index>> members;
  for (attrib::index p = 0; p < groups.player_count(); ++p) {
    const auto group = groups.members(p);
    members.emplace_back(group.begin(), group.end());
  }
  return members;
}

}  // namespace attrib_python
