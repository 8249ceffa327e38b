// Guided backpropagation and L2X for attrib.Model (guided_l2x_methods.hpp): guided
// backpropagation is reached through attrib._attrib.explain; L2X, which trains an explainer
// network on rows of data before it selects features, is attrib._attrib.explain_l2x.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "explain_inputs.hpp"
#include "guided_l2x_methods.hpp"

namespace attrib_python {

std::vector<attrib::attribution> guided_backprop_rows(const cli::explain_context& c) {
  return cli::explain_guided_rows(c);
}

namespace {

const std::set<std::string> l2x_options{"k", "epochs", "hidden", "temperature", "learning-rate", "batch-size", "loss"};

}  // namespace

void bind_guided_l2x(py::module_& m) {
  m.def(
      "explain_l2x",
      [](const py::object& model_arg, const py::handle& x_arg, const py::handle& baseline_arg,
         const py::handle& data_arg, const py::handle& output, std::uint64_t seed, std::size_t threads,
         const py::dict& options) {
        if (!py::isinstance<attrib::any_model>(model_arg))
          throw attrib::invalid_argument("L2X trains through the model's input gradients: model must be an attrib.Model");
        const auto& model = model_arg.cast<const attrib::any_model&>();
        const attrib::matrix x = matrix_from(x_arg, "X");
        const attrib::matrix data = data_arg.is_none() ? x : matrix_from(data_arg, "data");
        if (data.cols() != model.input_dim())
          throw attrib::invalid_argument("data has " + std::to_string(data.cols()) + " columns but the model takes " +
                                         std::to_string(model.input_dim()) + " inputs");
        const explain_inputs in = read_explain_inputs(model, x, baseline_arg, true, output, py::none(), "l2x");
        const cli::arguments a = options_from(options, l2x_options);
        const std::vector<std::string> names(static_cast<std::size_t>(model.input_dim()));
        const cli::explain_context c{a,          "l2x",     model, data, {}, in.baseline, in.groups, names,
                                     in.outputs, {.seed = seed, .threads = threads}};
        cli::l2x_rows r;
        {
          py::gil_scoped_release release;
          r = cli::explain_l2x_rows(c, x);
        }
        const auto n = x.rows();
        attrib::vector prediction(n), selected(n), base(n);
        for (attrib::index i = 0; i < n; ++i) {
          const auto out = in.outputs[static_cast<std::size_t>(i)];
          prediction(i) = r.prediction(i, out);
          selected(i) = r.selected_prediction(i, out);
          base(i) = r.base(0, out);
        }
        py::dict out;
        out["scores"] = std::move(r.explanation.scores);
        out["selected"] = std::move(r.explanation.mask);
        out["predictions"] = std::move(prediction);
        out["selected_predictions"] = std::move(selected);
        out["base_values"] = std::move(base);
        out["outputs"] = in.outputs;
        return out;
      },
      py::arg("model"), py::arg("X"), py::arg("baseline"), py::arg("data"), py::arg("output"), py::arg("seed"),
      py::arg("threads"), py::arg("options"));
}

}  // namespace attrib_python
