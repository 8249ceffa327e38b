// expect: satisf.*'(attrib::)?solver_for[<']
// KernelSHAP's Shapley kernel forces the efficiency constraint, which the L1 penalty cannot honour:
// the (shapley_kernel, lasso, sampled_regression) triple is rejected when the type is named.
#include "attrib/losses/lasso.hpp"
#include "attrib/methods/feature/shapley.hpp"

int main() {
  attrib::local_approximation<attrib::shapley_kernel, attrib::lasso, attrib::sampled_regression> method;
  (void)method;
}
