// expect: satisf.*'(attrib::)?perturbation_for[<']
// masking maps numeric points (attrib::vector); a function that asks for a perturbation of
// strings must reject it.
#include <string>

#include "attrib/perturbations/masking.hpp"

namespace {
template <class P>
  requires attrib::perturbation_for<P, std::string>
attrib::index players(const P& p) {
  return p.interpretable_dim();
}
}  // namespace

int main() {
  const attrib::masking m(attrib::vector(attrib::vector::Zero(2)));
  return static_cast<int>(players(m));
}
