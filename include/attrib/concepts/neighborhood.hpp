#pragma once
// neighborhood: the distribution of interpretable points z (with kernel weights) on which the
// surrogate g is fitted.
#include <concepts>
#include <cstddef>
#include <vector>

#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

// Points drawn from a neighbourhood. The fit minimises sum_k weights[k] * loss(point k).
// Sampled points belong to sampling units (a coalition and its complement drawn together form
// one unit); unit[k] < 0 marks a point enumerated exactly, which carries no sampling error.
// draws[u] counts how often unit u was drawn, so duplicates cost one evaluation.
struct neighborhood_sample {
  matrix points;
  vector weights;
  std::vector<std::ptrdiff_t> unit;
  std::vector<double> draws;
  bool exhaustive = false;  // every point of the neighbourhood is present with its exact weight
};

// nb.sample(n, budget, random) draws about `budget` points in n dimensions; N::name names it.
template <class N>
concept neighborhood = requires(const N& nb, index dimension, std::size_t budget, rng& random) {
  { N::name } -> std::convertible_to<const char*>;
  { nb.sample(dimension, budget, random) } -> std::same_as<neighborhood_sample>;
};

// A neighbourhood with finitely many points, all given with their weights by enumerate(n).
template <class N>
concept finite_neighborhood = neighborhood<N> && requires(const N& nb, index n) {
  { nb.enumerate(n) } -> std::same_as<neighborhood_sample>;
};

// A neighbourhood over coalitions whose kernel depends only on the coalition size: it can be
// enumerated over all 2^n coalitions by streaming, without storing them.
template <class N>
concept size_kernel_neighborhood = neighborhood<N> && requires(const N& nb, index n, index s) {
  { nb.size_weight(n, s) } -> std::convertible_to<double>;
};

namespace archetypes {
struct neighborhood {
  static constexpr const char* name = "archetype_neighborhood";
  neighborhood_sample sample(index dimension, std::size_t, rng&) const {
    neighborhood_sample s;
    s.points = matrix::Ones(1, dimension);
    s.weights = vector::Ones(1);
    s.unit = {-1};
    s.exhaustive = true;
    return s;
  }
};
}  // namespace archetypes

static_assert(neighborhood<archetypes::neighborhood>);

}  // namespace attrib
