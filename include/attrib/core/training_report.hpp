#pragma once
// What a training run reports: Newton's method on a convex model (logistic regression), and
// the step-by-step history of a gradient-descent run (the transformer trainer).
#include <cstddef>
#include <filesystem>
#include <optional>
#include <vector>

namespace attrib {

// Newton's method: where it stopped and why.
struct newton_report {
  int iterations = 0;
  double loss = 0.0;           // final training objective
  double gradient_norm = 0.0;  // final gradient, max-norm
  bool converged = false;      // gradient_norm <= tolerance was reached
};

// One optimizer step of a gradient-descent run.
struct training_step {
  std::size_t step = 0;  // 1-based: steps taken, this one included
  double learning_rate = 0.0;
  double loss = 0.0;           // batch loss before the update
  double gradient_norm = 0.0;  // before clipping
  std::optional<double> eval_loss;  // when evaluated after this step
};

struct training_result {
  std::vector<training_step> history;  // one entry per step
  std::optional<double> initial_eval_loss;  // before the first step, when there is eval data
  std::optional<double> final_eval_loss;
  std::vector<std::filesystem::path> checkpoints;
};

}  // namespace attrib
