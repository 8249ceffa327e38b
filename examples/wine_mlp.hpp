#pragma once
// The model of the wine examples (wine_demo, holistic_view): the UCI wine data's feature names and
// the 13 -> 16 -> 16 -> 3 tanh MLP with a softmax head, trained by Adam from a fixed seed.
#include <string>
#include <vector>

#include "attrib/models/activation.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/output_head.hpp"
#include "attrib/models/standardizer.hpp"

namespace examples {

// Feature names of the UCI wine data, in column order (abbreviated for tables).
inline const std::vector<std::string> wine_feature_names = {
    "alcohol", "malic_acid", "ash", "alcalinity", "magnesium", "phenols", "flavanoids",
    "nonflav_phenols", "proanthocyanins", "colour", "hue", "od280_od315", "proline"};

inline attrib::mlp train_wine_mlp(const attrib::matrix& x, const attrib::vector& y) {
  using namespace attrib;
  mlp model({{13, 16, activation::tanh}, {16, 16, activation::tanh}, {16, 3, activation::identity}}, output_head::softmax, 1);
  model.set_standardizer(standardizer::fit(x));
  model.train(x, y, {.learning_rate = 0.01, .epochs = 150, .batch_size = 16, .l2 = 1e-3, .seed = 1});
  return model;
}

}  // namespace examples
