#pragma once
// The number of classes a classifier gets, from the labels present: they must be the integers
// 0..K-1 where K is the number of distinct labels (at least 2), so that a regression target or
// one stray large label is refused instead of sizing the output layer by its value.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "arguments.hpp"

namespace cli {

// `labels`: any range of numbers; `who` names the data in the message.
template <class Labels>
std::int64_t class_count(const Labels& labels, const std::string& who) {
  std::vector<double> distinct;
  for (const auto label : labels) {
    const auto y = static_cast<double>(label);
    if (!(y >= 0) || y != std::floor(y))
      throw usage_error(who + ": class label " + std::to_string(y) + " is not a non-negative integer");
    distinct.push_back(y);
  }
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  const auto classes = static_cast<std::int64_t>(std::max<std::size_t>(2, distinct.size()));
  if (!distinct.empty() && distinct.back() >= static_cast<double>(classes))
    throw usage_error(who + ": the labels take " + std::to_string(distinct.size()) + " distinct values but the largest is " +
                      std::to_string(static_cast<long long>(std::min(distinct.back(), 9e18))) +
                      "; class labels must be 0.." + std::to_string(classes - 1) +
                      " (renumber them, or fit a regression model to a real-valued target)");
  return classes;
}

}  // namespace cli
