#pragma once
// The results of data attribution: scores of training points on test points, what the
// inverse-Hessian solves behind them report about their own accuracy, and the evaluations of
// scores (LDS, correlations) and groupings of training points.
#include <limits>
#include <string>
#include <vector>

#include "attrib/core/types.hpp"

namespace attrib {

// What a solve reports beside its solution. Fields a solver cannot measure stay NaN.
struct ihvp_diagnostics {
  std::string method;
  // ||(H + damping I) x - v|| / ||v||, with H the exact operator the solver was given (one extra
  // Hessian-vector product per solve). NaN when the solver has no operator to check against.
  double relative_residual = std::numeric_limits<double>::quiet_NaN();
  // Low-rank solvers: sum of the kept eigenvalues / trace(H) (estimated when marked so).
  double spectrum_coverage = std::numeric_limits<double>::quiet_NaN();
  double damping = 0.0;     // the damping actually added to H
  index hvp_count = 0;      // Hessian-vector products spent on this solve
  index iterations = 0;     // CG iterations / LiSSA recursion steps
  std::string message;      // e.g. why damping was added; empty when there is nothing to say
};

struct ihvp_result {
  vector solution;
  ihvp_diagnostics diagnostics;
};

// Transformed features plus whatever the transform can say about its accuracy.
struct transformed_features {
  matrix features;
  std::vector<ihvp_diagnostics> diagnostics;  // one per row for inverse-Hessian transforms
};

// n_train x n_test scores with the transform's diagnostics.
struct data_attribution {
  std::string method;
  matrix scores;  // scores(i, j): training point i on test point j
  std::vector<ihvp_diagnostics> diagnostics;
};

// Linear datamodeling score: its mean over test points and the Spearman of each.
struct lds_result {
  double mean = 0;  // LDS: mean over test points
  vector per_test;  // Spearman per test point
};

// Pearson and Spearman correlation of two score sets.
struct correlation_summary {
  double pearson = 0;
  double spearman = 0;
};

// Clusters of training points (group attribution).
struct kmeans_result {
  std::vector<index> assignment;  // cluster of each row
  matrix centers;                 // k x d
  double inertia = 0;             // sum of squared distances to the assigned centres
  index iterations = 0;
};

}  // namespace attrib
