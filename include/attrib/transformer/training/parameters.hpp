#pragma once
// Every parameter of a transformer as owned float32 matrices, for training and for gradients: a
// model's weights decoded once (from_model), or a fresh initialisation. The tensors come in a
// fixed order with fixed names, so a gradient, an optimiser state or a checkpoint can share one
// layout; model() views them as a transformer_model without copying.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/transformer/model/config.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/model/weights.hpp"

namespace attrib {

namespace detail {

// What a tensor is for: initialisation draws weights, sets norm gains to one and biases to zero.
enum class parameter_role { weight, residual_weight, gain, bias };

struct layer_tensor_spec {
  const char* name;
  weight_tensor transformer_layer_weights::*member;
  parameter_role role;
};

// Per-layer tensors in their fixed order. wo and w_down write into the residual stream.
inline constexpr layer_tensor_spec layer_tensor_specs[] = {
    {"attn_norm", &transformer_layer_weights::attn_norm, parameter_role::gain},
    {"attn_norm_bias", &transformer_layer_weights::attn_norm_bias, parameter_role::bias},
    {"wq", &transformer_layer_weights::wq, parameter_role::weight},
    {"wk", &transformer_layer_weights::wk, parameter_role::weight},
    {"wv", &transformer_layer_weights::wv, parameter_role::weight},
    {"wo", &transformer_layer_weights::wo, parameter_role::residual_weight},
    {"bq", &transformer_layer_weights::bq, parameter_role::bias},
    {"bk", &transformer_layer_weights::bk, parameter_role::bias},
    {"bv", &transformer_layer_weights::bv, parameter_role::bias},
    {"bo", &transformer_layer_weights::bo, parameter_role::bias},
    {"ffn_norm", &transformer_layer_weights::ffn_norm, parameter_role::gain},
    {"ffn_norm_bias", &transformer_layer_weights::ffn_norm_bias, parameter_role::bias},
    {"w_gate", &transformer_layer_weights::w_gate, parameter_role::weight},
    {"w_up", &transformer_layer_weights::w_up, parameter_role::weight},
    {"w_down", &transformer_layer_weights::w_down, parameter_role::residual_weight},
    {"b_up", &transformer_layer_weights::b_up, parameter_role::bias},
    {"b_down", &transformer_layer_weights::b_down, parameter_role::bias},
};

// Shape of a per-layer tensor of `c`.
inline std::pair<index, index> layer_tensor_shape(const transformer_config& c,
                                                  const std::string& name) {
  if (name == "wq" || name == "wo") return {c.dim, c.dim};
  if (name == "wk" || name == "wv") return {c.kv_dim(), c.dim};
  if (name == "bk" || name == "bv") return {1, c.kv_dim()};
  if (name == "w_gate" || name == "w_up") return {c.hidden_dim, c.dim};
  if (name == "w_down") return {c.dim, c.hidden_dim};
  if (name == "b_up") return {1, c.hidden_dim};
  return {1, c.dim};
}

// Whether a freshly initialised model of this family has the tensor: llama has no biases and no
// LayerNorm shifts, gpt2 has no gate.
inline bool family_has(transformer_architecture a, parameter_role role, const std::string& name) {
  if (a == transformer_architecture::llama) return role != parameter_role::bias;
  return name != "w_gate";
}

inline weight_tensor f32_view(const float_matrix& m) {
  return {ggml_type::f32, m.rows(), m.cols(),
          std::span<const std::byte>(reinterpret_cast<const std::byte*>(m.data()),
                                     static_cast<std::size_t>(m.size()) * sizeof(float))};
}

}  // namespace detail

// Every parameter of a transformer as owned float32 matrices, in a fixed order, with names
// "token_embedding", "position_embedding", "layers.<l>.<field>" (fields in the order of
// detail::layer_tensor_specs, named as in transformer_layer_weights), "final_norm",
// "final_norm_bias", "output". Only the tensors present in the model are listed; a tied output
// is one tensor ("token_embedding"), not two.
struct transformer_parameters {
  transformer_config config;
  std::vector<std::string> names;
  std::vector<float_matrix> tensors;  // [rows][cols] as in weights.hpp
  bool tied_output = true;

  // Decodes every weight of `model` to float32. The output counts as tied when it views the
  // same bytes as the token embedding.
  static transformer_parameters from_model(const transformer_model& model) {
    const auto& w = model.weights();
    transformer_parameters p;
    p.config = model.config();
    p.tied_output = w.output.bytes.data() == w.token_embedding.bytes.data();
    auto take = [&](const std::string& name, const weight_tensor& t) {
      if (!t.present()) return;
      float_matrix m(t.rows, t.cols);
      t.decode_rows(0, t.rows, m.data());
      p.names.push_back(name);
      p.tensors.push_back(std::move(m));
    };
    take("token_embedding", w.token_embedding);
    take("position_embedding", w.position_embedding);
    for (std::size_t l = 0; l < w.layers.size(); ++l)
      for (const auto& spec : detail::layer_tensor_specs)
        take("layers." + std::to_string(l) + "." + spec.name, w.layers[l].*spec.member);
    take("final_norm", w.final_norm);
    take("final_norm_bias", w.final_norm_bias);
    if (!p.tied_output) take("output", w.output);
    return p;
  }

  // GPT-2's initialisation: weights N(0, 0.02), except the projections into the residual
  // stream (wo, w_down), N(0, 0.02 / sqrt(2 n_layers)); norm gains 1, biases 0. llama gets no
  // biases, gpt2 biases everywhere and learned positions. Tensor k draws from rng::stream(seed, k).
  static transformer_parameters initialize(const transformer_config& config, std::uint64_t seed,
                                           bool tied_output = true) {
    validate(config);
    transformer_parameters p;
    p.config = config;
    p.tied_output = tied_output;
    const bool gpt2 = config.architecture == transformer_architecture::gpt2;
    const double residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(config.n_layers));
    auto add = [&](std::string name, index rows, index cols, detail::parameter_role role) {
      float_matrix m(rows, cols);
      switch (role) {
        case detail::parameter_role::gain:
          m.setOnes();
          break;
        case detail::parameter_role::bias:
          m.setZero();
          break;
        default: {
          const double sigma = role == detail::parameter_role::weight ? 0.02 : residual_std;
          rng gen = rng::stream(seed, p.tensors.size());
          for (index i = 0; i < m.size(); ++i)
            m.data()[i] = static_cast<float>(sigma * gen.normal());
        }
      }
      p.names.push_back(std::move(name));
      p.tensors.push_back(std::move(m));
    };
    using detail::parameter_role;
    add("token_embedding", config.vocab_size, config.dim, parameter_role::weight);
    if (gpt2) add("position_embedding", config.context_length, config.dim, parameter_role::weight);
    for (index l = 0; l < config.n_layers; ++l)
      for (const auto& spec : detail::layer_tensor_specs) {
        if (!detail::family_has(config.architecture, spec.role, spec.name)) continue;
        const auto [rows, cols] = detail::layer_tensor_shape(config, spec.name);
        add("layers." + std::to_string(l) + "." + spec.name, rows, cols, spec.role);
      }
    add("final_norm", 1, config.dim, parameter_role::gain);
    if (gpt2) add("final_norm_bias", 1, config.dim, parameter_role::bias);
    if (!tied_output) add("output", config.vocab_size, config.dim, parameter_role::weight);
    return p;
  }

  // The same names and shapes, every entry zero: the layout of a gradient.
  transformer_parameters zeros_like() const {
    transformer_parameters z = *this;
    for (auto& t : z.tensors) t.setZero();
    return z;
  }

  // A model whose weights are float32 views into *this: keep *this alive and in place (do not
  // move it or resize its tensors) while the model is used. Throws format_error when a tensor's
  // shape disagrees with the configuration or a required tensor is missing.
  transformer_model model() const {
    if (names.size() != tensors.size())
      throw invalid_argument("transformer_parameters: " + std::to_string(names.size()) +
                             " names for " + std::to_string(tensors.size()) + " tensors");
    transformer_weights w;
    w.layers.resize(static_cast<std::size_t>(std::max<index>(config.n_layers, 0)));
    for (std::size_t k = 0; k < names.size(); ++k)
      *slot(w, names[k]) = detail::f32_view(tensors[k]);
    if (tied_output) w.output = w.token_embedding;
    return transformer_model(config, std::move(w));
  }

  // Number of scalars.
  index size() const {
    index n = 0;
    for (const auto& t : tensors) n += t.size();
    return n;
  }

  // Position of the tensor called `name` in names/tensors, or -1.
  index find(const std::string& name) const {
    for (std::size_t k = 0; k < names.size(); ++k)
      if (names[k] == name) return static_cast<index>(k);
    return -1;
  }

 private:
  static weight_tensor* slot(transformer_weights& w, const std::string& name) {
    if (name == "token_embedding") return &w.token_embedding;
    if (name == "position_embedding") return &w.position_embedding;
    if (name == "final_norm") return &w.final_norm;
    if (name == "final_norm_bias") return &w.final_norm_bias;
    if (name == "output") return &w.output;
    const std::string prefix = "layers.";
    const auto dot = name.find('.', prefix.size());
    if (name.rfind(prefix, 0) == 0 && dot != std::string::npos && dot > prefix.size()) {
      const std::string digits = name.substr(prefix.size(), dot - prefix.size());
      const std::string field = name.substr(dot + 1);
      if (digits.find_first_not_of("0123456789") == std::string::npos && digits.size() < 9) {
        const auto l = static_cast<std::size_t>(std::stoul(digits));
        if (l < w.layers.size())
          for (const auto& spec : detail::layer_tensor_specs)
            if (field == spec.name) return &(w.layers[l].*spec.member);
      }
    }
    throw invalid_argument("transformer_parameters: '" + name + "' is not a parameter name of a " +
                           std::to_string(w.layers.size()) + "-layer transformer");
  }
};

}  // namespace attrib
