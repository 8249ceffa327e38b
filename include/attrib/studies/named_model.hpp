#pragma once
// A model and the name its results carry, for the studies that compare models.
#include <string>

#include "attrib/transformer/model/model.hpp"

namespace attrib {

// A model and the name its heatmaps and table rows carry. The study does not own the model.
struct named_model {
  std::string name;
  const transformer_model* model = nullptr;
};

}  // namespace attrib
