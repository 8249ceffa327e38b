#pragma once
// Argument checks shared by the models' prediction and training functions.
#include <cmath>
#include <string>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"

namespace attrib::detail {

// Shape only: predict sits in attribution inner loops, where a full finiteness scan would
// cost as much as a linear model's prediction.
inline void require_input_columns(const matrix& inputs, index dim, const std::string& who) {
  if (inputs.cols() != dim)
    fail(who + ": inputs have " + std::to_string(inputs.cols()) + " columns, expected " +
         std::to_string(dim));
}

inline void require_cotangent_shape(const matrix& inputs, const matrix& cotangent, index outputs,
                                    const std::string& who) {
  if (cotangent.rows() != inputs.rows() || cotangent.cols() != outputs)
    fail(who + ": output_cotangent is " + std::to_string(cotangent.rows()) + " x " +
         std::to_string(cotangent.cols()) + ", expected " + std::to_string(inputs.rows()) + " x " +
         std::to_string(outputs));
}

// Training data: at least one finite row of the right width.
inline void require_training_inputs(const matrix& inputs, index dim, const std::string& who) {
  require(inputs.rows() > 0, who + ": inputs must have at least one row");
  require_input_columns(inputs, dim, who);
  require_finite(inputs, who + ": inputs");
}

// One finite target per input row.
inline void require_targets(const matrix& inputs, const vector& targets, const std::string& who) {
  require_size(targets.size(), inputs.rows(), who + ": targets");
  require_finite(targets, who + ": targets");
}

// One integer class label in [0, classes) per input row.
inline void require_labels(const matrix& inputs, const vector& labels, index classes,
                           const std::string& who) {
  require_targets(inputs, labels, who);
  for (index i = 0; i < labels.size(); ++i) {
    const double l = labels[i];
    if (l != std::floor(l) || l < 0 || l >= static_cast<double>(classes))
      fail(who + ": labels[" + std::to_string(i) + "] is " + std::to_string(l) +
           ", expected an integer class in [0, " + std::to_string(classes) + ")");
  }
}

}  // namespace attrib::detail
