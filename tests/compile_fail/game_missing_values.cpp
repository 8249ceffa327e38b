// expect: satisf.*'(attrib::)?game[<']
// A type without values() is not a game; local_approximation::explain must reject it.
#include "attrib/methods/feature/occlusion.hpp"

namespace {
struct no_values {
  attrib::index player_count() const { return 3; }
};
}  // namespace

int main() {
  const attrib::occlusion method;
  return static_cast<int>(method.explain(no_values{}).values.size());
}
