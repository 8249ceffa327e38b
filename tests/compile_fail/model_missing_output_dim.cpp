// expect: satisf.*'(attrib::)?model[<']
// A type without output_dim() is not a model: a game cannot be built from it (perturbed_model,
// here through masked_model, requires attrib::model).
#include "attrib/games/perturbed_model.hpp"

namespace {
struct no_output_dim {
  attrib::index input_dim() const { return 2; }
  attrib::matrix predict(const attrib::matrix& inputs) const { return inputs; }
};
}  // namespace

int main() {
  const auto game = attrib::masked_model(no_output_dim{}, attrib::vector::Zero(2), attrib::matrix::Zero(1, 2));
  return static_cast<int>(game.player_count());
}
