#pragma once
// function_model: any callable from a batch of inputs to a batch of outputs, as a model.
#include <concepts>
#include <string>
#include <utility>

#include "attrib/concepts/model.hpp"
#include "attrib/core/error.hpp"

namespace attrib {

template <class F>
  requires std::invocable<const F&, const matrix&>
class function_model {
 public:
  function_model(index inputs, index outputs, F f) : inputs_(inputs), outputs_(outputs), f_(std::move(f)) {
    detail::require(inputs > 0 && outputs > 0, "function_model: input and output dimensions must be positive, got " +
                                                   std::to_string(inputs) + " and " + std::to_string(outputs));
  }
  index input_dim() const { return inputs_; }
  index output_dim() const { return outputs_; }
  matrix predict(const matrix& inputs) const { return f_(inputs); }

 private:
  index inputs_, outputs_;
  F f_;
};

}  // namespace attrib
