#pragma once
// What the data-attribution tests share: the breast-cancer logistic regression every influence
// method is checked on, and the message of the invalid_argument a call throws.
#include <string>

#include "attrib/core/error.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/io/train_test_split.hpp"
#include "attrib/models/logistic_regression.hpp"
#include "attrib/models/standardizer.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace attrib_tests {

struct cancer_problem {
  attrib::matrix x, test_x;
  attrib::vector y, test_y;
  attrib::logistic_regression model{30, 1};
};

// Breast cancer, standardised, seeded 80/20 split, Newton-trained with l2 = 0.1.
inline const cancer_problem& cancer() {
  static const cancer_problem p = [] {
    const auto d = attrib::read_sklearn_csv(ATTRIB_DATA_DIR "/breast_cancer/breast_cancer.csv");
    const attrib::dataset_split split = attrib::train_test_split(d, 0.8, 1);
    cancer_problem c;
    c.x = split.train.features;
    c.y = split.train.labels;
    c.test_x = split.test.features;
    c.test_y = split.test.labels;
    c.model.set_standardizer(attrib::standardizer::fit(c.x));
    c.model.train(c.x, c.y, {.l2 = 0.1});
    return c;
  }();
  return p;
}

// The message of the attrib::invalid_argument f throws, or a sentence saying it threw none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const attrib::invalid_argument& e) {
    return e.what();
  }
  return "no attrib::invalid_argument thrown";
}

}  // namespace attrib_tests
