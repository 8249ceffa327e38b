#pragma once
// The attrib model file (docs/model-format.md): a JSON config naming the model type, its
// shapes, output, optional input standardisation and names, and its weights, either inline as
// nested JSON arrays or in a safetensors file next to the config. load_model returns an
// any_model, which is itself an attrib::model.
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "attrib/concepts/model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/io/json.hpp"
#include "attrib/core/types.hpp"
#include "attrib/io/atomic_file.hpp"
#include "attrib/io/detail/contained_path.hpp"
#include "attrib/io/detail/file_bytes.hpp"
#include "attrib/io/safetensors.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/linear_regression.hpp"
#include "attrib/concepts/differentiable_model.hpp"
#include "attrib/models/logistic_regression.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/output_head.hpp"
#include "attrib/models/standardizer.hpp"

namespace attrib {

// Names that travel with a model so that attributions can be labelled.
struct model_info {
  std::vector<std::string> feature_names;  // empty, or one per input
  std::vector<std::string> class_names;    // empty, one per output, or two for one binary output
};

// One of the models attrib can save and load, dispatching the model interface to it.
// A class template (always on that variant, spelled any_model) only so that each dispatching
// member compiles where it is called.
template <class Variant = std::variant<mlp, logistic_regression, linear_regression>>
class basic_any_model {
 public:
  using variant_type = Variant;

  explicit basic_any_model(variant_type model, model_info info = {})
      : model_(std::move(model)), info_(std::move(info)) {
    const auto& features = info_.feature_names;
    detail::require(features.empty() || static_cast<index>(features.size()) == input_dim(),
                    "any_model: feature_names has " + std::to_string(features.size()) +
                        " names, expected " + std::to_string(input_dim()));
    const auto classes = static_cast<index>(info_.class_names.size());
    detail::require(classes == 0 || classes == output_dim() || (output_dim() == 1 && classes == 2),
                    "any_model: class_names has " + std::to_string(classes) + " names, expected " +
                        std::to_string(output_dim()) + (output_dim() == 1 ? " or 2" : ""));
  }

  index input_dim() const {
    return std::visit([](const auto& m) { return m.input_dim(); }, model_);
  }
  index output_dim() const {
    return std::visit([](const auto& m) { return m.output_dim(); }, model_);
  }
  matrix predict(const matrix& inputs) const {
    return std::visit([&](const auto& m) { return m.predict(inputs); }, model_);
  }
  matrix vjp_inputs(const matrix& inputs, const matrix& output_cotangent) const {
    return std::visit([&](const auto& m) { return m.vjp_inputs(inputs, output_cotangent); }, model_);
  }
  index parameter_count() const {
    return std::visit([](const auto& m) { return m.parameter_count(); }, model_);
  }
  vector parameters() const {
    return std::visit([](const auto& m) { return m.parameters(); }, model_);
  }
  matrix per_example_loss_gradients(const matrix& inputs, const vector& targets) const {
    return std::visit([&](const auto& m) { return m.per_example_loss_gradients(inputs, targets); }, model_);
  }

  // "mlp", "logistic_regression" or "linear_regression", as in the file's "type" field.
  std::string_view type() const {
    constexpr std::string_view names[] = {"mlp", "logistic_regression", "linear_regression"};
    return names[model_.index()];
  }

  const variant_type& underlying() const { return model_; }
  variant_type& underlying() { return model_; }
  const model_info& info() const { return info_; }

 private:
  variant_type model_;
  model_info info_;
};

using any_model = basic_any_model<>;

static_assert(differentiable_model<any_model>);

struct save_options {
  // Empty: weights are written inline in the JSON config. Otherwise the path, relative to the
  // config's folder, of a safetensors file that receives them.
  std::string weights_file;
  tensor_dtype weights_dtype = tensor_dtype::f64;  // f32 or f64; f64 round-trips exactly
};

// A model as the config text plus, when save_options.weights_file is set, the tensors that go
// into that file.
struct serialized_model {
  std::string config;
  tensor_map tensors;
};

namespace detail {

inline constexpr int model_format_version = 1;

class model_reader {
 public:
  model_reader(std::string source, const tensor_map* external)
      : source_(std::move(source)), external_(external) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw format_error(source_ + ": field '" + field + "': " + what);
  }

  any_model read(const nlohmann::json& config) {
    if (!config.is_object())
      throw format_error(source_ + ": the model config must be a JSON object");
    static const std::set<std::string, std::less<>> known{
        "format",      "version",       "type",        "inputs",  "outputs", "layers",     "output",
        "standardize", "feature_names", "class_names", "weights", "l2",      "description"};
    for (const auto& [key, value] : config.items())
      if (!known.contains(key)) fail(key, "unknown field");
    if (config.contains("description") && !config["description"].is_string())
      fail("description", "expected a string");

    const auto& format = required(config, "format");
    if (!format.is_string() || format.get<std::string>() != "attrib-model")
      fail("format", "expected \"attrib-model\"");
    const auto& version = required(config, "version");
    if (!version.is_number_integer() || version.get<std::int64_t>() != model_format_version)
      fail("version",
           "expected " + std::to_string(model_format_version) + ", got " + json_excerpt(version));
    const auto& type_json = required(config, "type");
    if (!type_json.is_string()) fail("type", "expected a string");
    const auto type = type_json.get<std::string>();
    const index inputs = positive(required(config, "inputs"), "inputs");
    const index outputs = positive(required(config, "outputs"), "outputs");
    read_weights(required(config, "weights"));

    model_info info;
    info.feature_names = names(config, "feature_names");
    info.class_names = names(config, "class_names");
    if (!info.feature_names.empty() && static_cast<index>(info.feature_names.size()) != inputs)
      fail("feature_names", "has " + std::to_string(info.feature_names.size()) +
                                " names, expected inputs = " + std::to_string(inputs));
    const auto classes = static_cast<index>(info.class_names.size());
    if (classes != 0 && classes != outputs && !(outputs == 1 && classes == 2))
      fail("class_names", "has " + std::to_string(classes) + " names, expected outputs = " +
                              std::to_string(outputs) + (outputs == 1 ? " or 2" : ""));

    if (type != "mlp" && type != "logistic_regression" && type != "linear_regression")
      fail("type", "unknown model type '" + type +
                       "', expected mlp, logistic_regression or linear_regression");
    if (type != "mlp" && config.contains("layers")) fail("layers", "only an mlp has layers");
    std::optional<any_model::variant_type> built;
    try {
      if (type == "mlp") {
        built.emplace(read_mlp(config, inputs, outputs));
      } else if (type == "logistic_regression") {
        const auto output = parse_logistic_output(string_field(config, "output"));
        logistic_regression m(take_matrix("weight", outputs, inputs), take_vector("bias", outputs),
                              output);
        built.emplace(std::move(m));
      } else {
        if (outputs != 1) fail("outputs", "a linear_regression has exactly 1 output");
        if (config.contains("output") && string_field(config, "output") != "identity")
          fail("output", "a linear_regression's output can only be \"identity\"");
        built.emplace(linear_regression(take_matrix("weight", 1, inputs), take_vector("bias", 1)));
      }
    } catch (const invalid_argument& e) {
      fail(current_field_, e.what());
    }
    for (const auto& [name, t] : tensors_)
      if (!used_.contains(name)) fail("weights", "unexpected tensor '" + name + "'");

    std::visit(
        [&](auto& m) {
          if (config.contains("standardize"))
            m.set_standardizer(read_standardizer(config["standardize"], inputs));
          if (config.contains("l2")) {
            const auto& l2 = config["l2"];
            if (!l2.is_number() || !std::isfinite(l2.get<double>()) || l2.get<double>() < 0)
              fail("l2", "expected a non-negative number");
            m.set_l2(l2.get<double>());
          }
        },
        *built);
    return any_model(std::move(*built), std::move(info));
  }

 private:
  // object[key], where `field` is the key's full path for messages.
  const nlohmann::json& required(const nlohmann::json& object, const std::string& key,
                                 const std::string& field) const {
    const auto it = object.find(key);
    if (it == object.end()) fail(field, "missing");
    return *it;
  }
  const nlohmann::json& required(const nlohmann::json& object, const std::string& key) const {
    return required(object, key, key);
  }

  index positive(const nlohmann::json& value, const std::string& field) const {
    if (!value.is_number_integer() || value.get<std::int64_t>() <= 0)
      fail(field, "expected a positive integer, got " + json_excerpt(value));
    return static_cast<index>(value.get<std::int64_t>());
  }

  std::string string_field(const nlohmann::json& object, const std::string& field) {
    current_field_ = field;
    const auto& value = required(object, field);
    if (!value.is_string()) fail(field, "expected a string");
    return value.get<std::string>();
  }

  std::vector<std::string> names(const nlohmann::json& config, const std::string& field) const {
    std::vector<std::string> out;
    if (!config.contains(field)) return out;
    const auto& list = config[field];
    if (!list.is_array()) fail(field, "expected an array of strings");
    for (const auto& name : list) {
      if (!name.is_string()) fail(field, "expected an array of strings");
      out.push_back(name.get<std::string>());
    }
    return out;
  }

  vector numbers(const nlohmann::json& list, index expected, const std::string& field) const {
    if (!list.is_array()) fail(field, "expected an array of numbers");
    if (static_cast<index>(list.size()) != expected)
      fail(field, "has " + std::to_string(list.size()) +
                      " entries, expected inputs = " + std::to_string(expected));
    vector out(expected);
    for (index k = 0; k < expected; ++k) {
      const auto& v = list[static_cast<std::size_t>(k)];
      if (!v.is_number() || !std::isfinite(v.get<double>()))
        fail(field, "entry " + std::to_string(k) + " is not a finite number");
      out[k] = v.get<double>();
    }
    return out;
  }

  standardizer read_standardizer(const nlohmann::json& value, index inputs) const {
    if (!value.is_object() || value.size() != 2 || !value.contains("mean") ||
        !value.contains("scale"))
      fail("standardize", "expected an object with exactly mean and scale");
    vector mean = numbers(value["mean"], inputs, "standardize.mean");
    vector scale = numbers(value["scale"], inputs, "standardize.scale");
    for (index f = 0; f < inputs; ++f)
      if (!(scale[f] > 0))
        fail("standardize.scale", "entry " + std::to_string(f) + " is not positive");
    return standardizer(std::move(mean), std::move(scale));
  }

  mlp read_mlp(const nlohmann::json& config, index inputs, index outputs) {
    const auto head = parse_output_head(string_field(config, "output"));
    current_field_ = "layers";
    const auto& layers = required(config, "layers");
    if (!layers.is_array() || layers.empty()) fail("layers", "expected a non-empty array");
    std::vector<dense_layer> built;
    index previous = inputs;
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const std::string field = "layers[" + std::to_string(l) + "]";
      const auto& layer = layers[l];
      if (!layer.is_object()) fail(field, "expected an object with in, out and activation");
      for (const auto& [key, value] : layer.items())
        if (key != "in" && key != "out" && key != "activation")
          fail(field + "." + key, "unknown field");
      const index in = positive(required(layer, "in", field + ".in"), field + ".in");
      const index out = positive(required(layer, "out", field + ".out"), field + ".out");
      if (in != previous)
        fail(field + ".in", "is " + std::to_string(in) + ", expected " + std::to_string(previous) +
                                (l == 0 ? " (inputs)" : " (the previous layer's out)"));
      current_field_ = field + ".activation";
      const auto& act = required(layer, "activation", current_field_);
      if (!act.is_string()) fail(current_field_, "expected a string");
      const auto a = parse_activation(act.get<std::string>());
      const std::string prefix = "layers." + std::to_string(l) + ".";
      built.push_back(
          {take_matrix(prefix + "weight", out, in), take_vector(prefix + "bias", out), a});
      previous = out;
    }
    if (previous != outputs)
      fail("layers", "the last layer has out = " + std::to_string(previous) +
                         ", expected outputs = " + std::to_string(outputs));
    current_field_ = "layers";
    return mlp(std::move(built), head);
  }

  void read_weights(const nlohmann::json& weights) {
    if (weights.is_string()) {
      if (external_ == nullptr)
        fail("weights", "names a safetensors file, but no tensors were supplied");
      tensors_ = *external_;
      return;
    }
    if (!weights.is_object())
      fail("weights", "expected a safetensors file name or an object of inline tensors");
    for (const auto& [name, value] : weights.items())
      tensors_.emplace(name, inline_tensor(value, "weights." + name));
  }

  // A vector is an array of numbers; a matrix an array of equally long rows.
  tensor inline_tensor(const nlohmann::json& value, const std::string& field) const {
    if (!value.is_array()) fail(field, "expected an array of numbers or an array of rows");
    tensor t;
    const bool is_matrix = !value.empty() && value.front().is_array();
    const std::size_t cols = is_matrix ? value.front().size() : value.size();
    t.shape = is_matrix
                  ? std::vector<index>{static_cast<index>(value.size()), static_cast<index>(cols)}
                  : std::vector<index>{static_cast<index>(cols)};
    t.values.resize(static_cast<index>(is_matrix ? value.size() * cols : cols));
    index at = 0;
    auto read_numbers = [&](const nlohmann::json& row) {
      if (!row.is_array() || row.size() != cols)
        fail(field, "rows must be arrays of equal length " + std::to_string(cols));
      for (const auto& v : row) {
        if (!v.is_number()) fail(field, "expected numbers, got " + std::string(v.type_name()));
        t.values[at++] = v.get<double>();
      }
    };
    if (is_matrix)
      for (const auto& row : value) read_numbers(row);
    else
      read_numbers(value);
    return t;
  }

  const tensor& take(const std::string& name, const std::vector<index>& shape) {
    current_field_ = "weights";
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) fail("weights", "missing tensor '" + name + "'");
    if (it->second.shape != shape) {
      std::string expected, actual;
      for (index d : shape) expected += (expected.empty() ? "" : ", ") + std::to_string(d);
      for (index d : it->second.shape) actual += (actual.empty() ? "" : ", ") + std::to_string(d);
      fail("weights",
           "tensor '" + name + "' has shape [" + actual + "], expected [" + expected + "]");
    }
    for (index k = 0; k < it->second.values.size(); ++k)
      if (!std::isfinite(it->second.values[k]))
        fail("weights",
             "tensor '" + name + "' has a non-finite value at flat index " + std::to_string(k));
    used_.insert(name);
    return it->second;
  }

  matrix take_matrix(const std::string& name, index rows, index cols) {
    const tensor& t = take(name, {rows, cols});
    return Eigen::Map<const matrix>(t.values.data(), rows, cols);
  }

  vector take_vector(const std::string& name, index size) { return take(name, {size}).values; }

  std::string source_;
  const tensor_map* external_;
  tensor_map tensors_;
  std::set<std::string, std::less<>> used_;
  std::string current_field_ = "type";
};

template <class = void>  // compiled where it is called
nlohmann::json tensor_json(const tensor& t) {
  if (t.shape.size() == 1) return std::vector<double>(t.values.begin(), t.values.end());
  nlohmann::json rows = nlohmann::json::array();
  for (index r = 0; r < t.shape[0]; ++r)
    rows.push_back(std::vector<double>(t.values.begin() + r * t.shape[1],
                                       t.values.begin() + (r + 1) * t.shape[1]));
  return rows;
}

}  // namespace detail

// The config and tensors of `model`.
template <class = void>  // compiled where it is called
serialized_model serialize_model(const any_model& model, const save_options& options = {}) {
  nlohmann::ordered_json config;
  config["format"] = "attrib-model";
  config["version"] = detail::model_format_version;
  config["type"] = std::string(model.type());
  config["inputs"] = model.input_dim();
  config["outputs"] = model.output_dim();
  serialized_model out;
  const standardizer* input_standardizer = nullptr;
  double l2 = 0.0;
  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        input_standardizer = &m.input_standardizer();
        l2 = m.l2();
        if constexpr (std::is_same_v<M, mlp>) {
          nlohmann::ordered_json layers = nlohmann::ordered_json::array();
          for (std::size_t l = 0; l < m.layers().size(); ++l) {
            const auto& layer = m.layers()[l];
            layers.push_back({{"in", layer.weight.cols()},
                              {"out", layer.weight.rows()},
                              {"activation", std::string(activation_name(layer.act))}});
            const std::string prefix = "layers." + std::to_string(l) + ".";
            out.tensors[prefix + "weight"] = matrix_tensor(layer.weight);
            out.tensors[prefix + "bias"] = vector_tensor(layer.bias);
          }
          config["layers"] = layers;
          config["output"] = std::string(output_head_name(m.head()));
        } else {
          if constexpr (std::is_same_v<M, logistic_regression>)
            config["output"] = std::string(logistic_output_name(m.output()));
          out.tensors["weight"] = matrix_tensor(m.weight());
          out.tensors["bias"] = vector_tensor(m.bias());
        }
      },
      model.underlying());
  if (!input_standardizer->is_identity()) {
    const auto& mean = input_standardizer->mean();
    const auto& scale = input_standardizer->scale();
    config["standardize"] = {{"mean", std::vector<double>(mean.begin(), mean.end())},
                             {"scale", std::vector<double>(scale.begin(), scale.end())}};
  }
  if (l2 != 0.0) config["l2"] = l2;
  if (!model.info().feature_names.empty()) config["feature_names"] = model.info().feature_names;
  if (!model.info().class_names.empty()) config["class_names"] = model.info().class_names;
  if (options.weights_file.empty()) {
    nlohmann::ordered_json weights = nlohmann::ordered_json::object();
    for (const auto& [name, t] : out.tensors) weights[name] = detail::tensor_json(t);
    config["weights"] = weights;
  } else {
    config["weights"] = options.weights_file;
  }
  try {
    out.config = config.dump(2) + "\n";
  } catch (const nlohmann::json::exception& e) {
    throw invalid_argument(std::string("serialize_model: a name is not valid UTF-8: ") + e.what());
  }
  return out;
}

// A model from config text. When the config's "weights" names a file, `weights` supplies that
// file's tensors (load_model reads them); inline weights need none. Throws format_error naming
// the field for every inconsistency.
template <class = void>  // compiled where it is called
any_model parse_model(std::string_view config, const tensor_map* weights = nullptr,
                      const std::string& source = "<memory>") {
  const auto json = detail::parse_json(config, source, "the model config");
  return detail::model_reader(source, weights).read(json);
}

template <class = void>  // compiled where it is called
any_model load_model(const std::filesystem::path& path) {
  const std::string text = detail::read_file_bytes(path);
  const auto json = detail::parse_json(text, path.string(), "the model config");
  if (json.is_object() && json.contains("weights") && json["weights"].is_string()) {
    const auto weights_path =
        detail::contained_path(path.parent_path(), json["weights"].get<std::string>(), path.string(), "weights");
    const auto content = read_safetensors(weights_path);
    return detail::model_reader(path.string(), &content.tensors).read(json);
  }
  return detail::model_reader(path.string(), nullptr).read(json);
}

// Writes the config to `path` and, when options.weights_file is set, the safetensors file
// beside it.
template <class = void>  // compiled where it is called
void save_model(const std::filesystem::path& path, const any_model& model,
                const save_options& options = {}) {
  const auto serialized = serialize_model(model, options);
  if (!options.weights_file.empty()) {
    // The same rule load_model applies, and never the config itself: that file could not be read back.
    const auto weights_path =
        detail::contained_path(path.parent_path(), options.weights_file, path.string(), "weights file");
    if (weights_path.lexically_normal() == path.lexically_normal() ||
        (std::filesystem::exists(weights_path) && std::filesystem::exists(path) &&
         std::filesystem::equivalent(weights_path, path)))
      throw invalid_argument("save_model: the weights file '" + options.weights_file + "' is the model file " +
                             path.string() + " itself; name another file");
    write_safetensors(weights_path, serialized.tensors, options.weights_dtype);
  }
  write_file_atomically(path, serialized.config);
}

}  // namespace attrib
