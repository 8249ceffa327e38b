// expect: satisf.*'(attrib::)?solver_for[<']
// Permutation sampling estimates the Shapley value only; under the uniform kernel (Banzhaf) it
// has no approximation_solver, so the triple is rejected.
#include "attrib/methods/feature/banzhaf.hpp"
#include "attrib/solvers/permutation_sampling.hpp"

int main() {
  attrib::local_approximation<attrib::uniform_coalitions, attrib::squared_error, attrib::permutation_sampling> method;
  (void)method;
}
