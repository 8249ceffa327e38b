// expect: satisf.*'(attrib::)?model[<']
// A type without predict() is not a model; a function constrained on attrib::model must reject it.
#include "attrib/concepts/model.hpp"

namespace {

struct no_predict {
  attrib::index input_dim() const { return 2; }
  attrib::index output_dim() const { return 1; }
};

template <attrib::model M>
attrib::index width(const M& m) {
  return m.input_dim();
}

}  // namespace

int main() { return static_cast<int>(width(no_predict{})); }
