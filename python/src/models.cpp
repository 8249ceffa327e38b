// attrib.Model: the models attrib fits, saves and loads (MLP, logistic and linear regression),
// usable from Python and explained with the GIL released.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "bindings.hpp"
#include "fit_model.hpp"
#include "labels.hpp"
#include "attrib/io/model_file.hpp"

namespace attrib_python {

void bind_models(py::module_& m) {
  py::class_<attrib::any_model>(m, "Model", R"(A model attrib can fit, save, load and explain with gradients.

Build one with Model.fit(X, y, model_type=...) or Model.load(path); predict(X) gives one row of
outputs per row of X.)")
      .def_static(
          "load", [](const std::filesystem::path& path) { return attrib::load_model(path); }, py::arg("path"),
          "Loads a model file (docs/model-format.md).")
      .def_static(
          "fit",
          [](const py::handle& x, const py::handle& y, const std::string& model_type,
             std::vector<std::string> feature_names, std::vector<std::string> class_names, const py::kwargs& kwargs) {
            const attrib::matrix features = matrix_from(x, "X");
            const attrib::vector targets = vector_from(y, "y");
            if (targets.size() != features.rows())
              throw attrib::invalid_argument("y has " + std::to_string(targets.size()) + " labels but X has " +
                                             std::to_string(features.rows()) + " rows");
            const cli::arguments a = options_from(
                kwargs, {"l2", "hidden", "activation", "output", "epochs", "learning-rate", "batch-size", "seed"});
            auto classes = [&]() -> Eigen::Index {
              if (class_names.empty()) return cli::class_count(targets, "y");
              const auto k = std::max<Eigen::Index>(2, static_cast<Eigen::Index>(class_names.size()));
              class_names.resize(static_cast<std::size_t>(k));
              return k;
            };
            std::optional<attrib::any_model::variant_type> fitted;
            {
              py::gil_scoped_release release;
              fitted = cli::fit_model(a, model_type, features, targets, classes, "attrib.Model.fit");
            }
            return attrib::any_model(std::move(*fitted), {std::move(feature_names), std::move(class_names)});
          },
          py::arg("X"), py::arg("y"), py::arg("model_type") = "logistic_regression",
          py::arg("feature_names") = std::vector<std::string>{}, py::arg("class_names") = std::vector<std::string>{},
          R"(Fits a model to the rows of X and the targets y.

model_type: "logistic_regression" (Newton's method; labels 0..K-1), "mlp" (Adam) or
"linear_regression". Options as attrib train's: l2, hidden (widths, e.g. [16, 16]), activation,
output, epochs, learning_rate, batch_size, seed. Inputs are standardised by X's columns.)")
      .def(
          "save",
          [](const attrib::any_model& model, const std::filesystem::path& path, const std::string& weights_file) {
            attrib::save_model(path, model, {.weights_file = weights_file});
          },
          py::arg("path"), py::arg("weights_file") = "",
          "Writes the model file (weights inline, or in a safetensors file beside it named weights_file).")
      .def(
          "predict",
          [](const attrib::any_model& model, const py::handle& x) {
            const attrib::matrix inputs = matrix_from(x, "X");
            if (inputs.cols() != model.input_dim())
              throw attrib::invalid_argument("X has " + std::to_string(inputs.cols()) + " columns but the model takes " +
                                             std::to_string(model.input_dim()) + " inputs");
            py::gil_scoped_release release;
            return model.predict(inputs);
          },
          py::arg("X"), "One row of outputs per row of X.")
      .def_property_readonly("input_dim", &attrib::any_model::input_dim)
      .def_property_readonly("output_dim", &attrib::any_model::output_dim)
      .def_property_readonly("model_type", [](const attrib::any_model& model) { return std::string(model.type()); })
      .def_property_readonly("feature_names", [](const attrib::any_model& model) { return model.info().feature_names; })
      .def_property_readonly("class_names", [](const attrib::any_model& model) { return model.info().class_names; })
      .def_property_readonly("parameter_count", &attrib::any_model::parameter_count)
      .def("parameters", &attrib::any_model::parameters, "The parameters as one vector.")
      .def("__repr__", [](const attrib::any_model& model) {
        return "attrib.Model(" + std::string(model.type()) + ", " + std::to_string(model.input_dim()) + " inputs, " +
               std::to_string(model.output_dim()) + " outputs, " + std::to_string(model.parameter_count()) +
               " parameters)";
      });
}

}  // namespace attrib_python
