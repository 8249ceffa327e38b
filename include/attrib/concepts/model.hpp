#pragma once
// model: something that maps a batch of inputs to a batch of outputs.
#include <concepts>

#include "attrib/core/types.hpp"

namespace attrib {

// A model maps an n x input_dim() batch (one input per row) to an n x output_dim() batch.
// predict is const and must be safe to call from several threads at once: attribution
// methods split their model evaluations across threads.
template <class M>
concept model = requires(const M& m, const matrix& inputs) {
  { m.input_dim() } -> std::convertible_to<index>;
  { m.output_dim() } -> std::convertible_to<index>;
  { m.predict(inputs) } -> std::convertible_to<matrix>;
};

namespace archetypes {
// The least a type must provide to be a model: f(x) = sum(x), one output.
struct model {
  index input_dim() const { return 1; }
  index output_dim() const { return 1; }
  matrix predict(const matrix& inputs) const { return inputs.rowwise().sum(); }
};
}  // namespace archetypes

static_assert(model<archetypes::model>);

}  // namespace attrib
