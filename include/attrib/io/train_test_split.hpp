#pragma once
// A seeded random split of a labelled data set into training and test rows.
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/io/csv.hpp"

namespace attrib {

struct dataset_split {
  labelled_dataset train;
  labelled_dataset test;
};

// The rows are shuffled by rng(seed); the first floor(train_fraction * n) go to training.
inline dataset_split train_test_split(const labelled_dataset& data, double train_fraction, std::uint64_t seed) {
  detail::require(train_fraction > 0.0 && train_fraction < 1.0,
                  "train_test_split: train_fraction must be in (0, 1), got " + std::to_string(train_fraction));
  detail::require(data.labels.size() == data.features.rows(),
                  "train_test_split: " + std::to_string(data.labels.size()) + " labels for " +
                      std::to_string(data.features.rows()) + " rows");
  const index n = data.features.rows();
  const auto n_train = static_cast<index>(train_fraction * static_cast<double>(n));
  detail::require(n_train >= 1 && n_train < n, "train_test_split: " + std::to_string(n) +
                                                   " rows cannot give non-empty training and test sets");
  std::vector<index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), index{0});
  rng random(seed);
  random.shuffle(order.begin(), order.end());
  auto take = [&](index first, index count) {
    labelled_dataset part;
    part.class_names = data.class_names;
    part.features.resize(count, data.features.cols());
    part.labels.resize(count);
    for (index i = 0; i < count; ++i) {
      part.features.row(i) = data.features.row(order[static_cast<std::size_t>(first + i)]);
      part.labels(i) = data.labels(order[static_cast<std::size_t>(first + i)]);
    }
    return part;
  };
  return {take(0, n_train), take(n_train, n - n_train)};
}

}  // namespace attrib
