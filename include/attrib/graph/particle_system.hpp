#pragma once
// Three-dimensional particle systems for node regression with edge features (the seed's
// energy-barrier work on metallic glasses, issue #16): a binary mixture in a periodic cubic box,
// each particle's nearest neighbours as its graph edges (distance and direction as edge
// features), and a per-particle quantity whose dependence on the neighbourhood is known exactly.
//
// The packing is the Kob-Andersen 80:20 mixture's composition and density (1.2), placed by random
// sequential addition with a hard core: a disordered packing, not an MD-quenched glass. What the
// explanations are checked against needs no dynamics: the local quantity
//   q_i = sqrt( sum over neighbours j with r_ij < r_c sigma_ij (r_c = 1.25) of w_ij (1 - (r_ij / (r_c sigma_ij))^2)^2 )
// (an embedded-atom-like density with Kob-Andersen's pair weights w = epsilon and lengths sigma)
// depends on the first shell only and on distances and types, not on directions, and the square
// root makes it non-additive over neighbours. So a model's explanation should put the neighbours
// beyond r_c sigma_ij, and the direction features, at zero.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

struct particle_system {
  matrix positions;         // n x 3, inside [0, box)^3
  std::vector<int> types;   // 0 (A) or 1 (B), one per particle
  double box = 0.0;         // side of the periodic cube

  index size() const { return positions.rows(); }
};

// Kob-Andersen's pair parameters (epsilon: the weight of a pair in q, sigma: its length).
inline double kob_andersen_epsilon(int a, int b) { return a != b ? 1.5 : (a == 0 ? 1.0 : 0.5); }
inline double kob_andersen_sigma(int a, int b) { return a != b ? 0.8 : (a == 0 ? 1.0 : 0.88); }

// The minimum-image displacement from particle i to particle j.
inline Eigen::Vector3d minimum_image(const particle_system& s, index i, index j) {
  Eigen::Vector3d d = s.positions.row(j).transpose() - s.positions.row(i).transpose();
  for (int c = 0; c < 3; ++c) d(c) -= s.box * std::round(d(c) / s.box);
  return d;
}

// Throws invalid_argument naming the problem: no particles, positions that are not n x 3 or not
// finite, types other than 0/1 or of the wrong count, a box that is not positive, or two
// particles closer than `min_distance` (overlapping atoms).
inline void check_particle_system(const particle_system& s, double min_distance = 0.5) {
  const std::string who = "particle_system: ";
  detail::require(s.size() >= 2, who + "needs at least 2 particles, got " + std::to_string(s.size()));
  detail::require(s.positions.cols() == 3, who + "positions have " + std::to_string(s.positions.cols()) + " columns, expected 3");
  detail::require(s.positions.allFinite(), who + "a position is NaN or infinite");
  detail::require(std::isfinite(s.box) && s.box > 0.0, who + "the box side must be positive, got " + std::to_string(s.box));
  detail::require(static_cast<index>(s.types.size()) == s.size(),
                  who + std::to_string(s.types.size()) + " types for " + std::to_string(s.size()) + " particles");
  for (std::size_t i = 0; i < s.types.size(); ++i)
    detail::require(s.types[i] == 0 || s.types[i] == 1,
                    who + "particle " + std::to_string(i) + " has type " + std::to_string(s.types[i]) + ", expected 0 (A) or 1 (B)");
  for (index i = 0; i < s.size(); ++i)
    for (index j = i + 1; j < s.size(); ++j) {
      const double r = minimum_image(s, i, j).norm();
      detail::require(r >= min_distance, who + "particles " + std::to_string(i) + " and " + std::to_string(j) +
                                             " overlap: distance " + std::to_string(r) + " < " + std::to_string(min_distance));
    }
}

struct binary_packing_options {
  index particles = 256;
  double fraction_b = 0.2;    // Kob-Andersen's 80:20
  double density = 1.2;       // particles per unit volume
  double hard_core = 0.78;    // no two particles closer (below every sigma_ij's 0.8 .. 1.0)
  index attempts = 200000;    // placements tried before giving up
  std::uint64_t seed = 0;
};

// Random sequential addition of the mixture. Throws invalid_argument on options out of range and
// when the packing cannot be completed within `attempts` (too dense for the hard core).
inline particle_system make_binary_packing(const binary_packing_options& o) {
  detail::require(o.particles >= 2 && o.particles <= 100000,
                  "make_binary_packing: particles must be in [2, 100000], got " + std::to_string(o.particles));
  detail::require(o.fraction_b >= 0.0 && o.fraction_b <= 1.0, "make_binary_packing: fraction_b must be in [0, 1]");
  detail::require(std::isfinite(o.density) && o.density > 0.0 && o.density <= 2.0,
                  "make_binary_packing: density must be in (0, 2], got " + std::to_string(o.density));
  detail::require(std::isfinite(o.hard_core) && o.hard_core >= 0.0, "make_binary_packing: hard_core must be >= 0");
  particle_system s;
  s.box = std::cbrt(static_cast<double>(o.particles) / o.density);
  s.positions = matrix::Zero(o.particles, 3);
  const auto b = static_cast<index>(std::llround(o.fraction_b * static_cast<double>(o.particles)));
  s.types.assign(static_cast<std::size_t>(o.particles), 0);
  std::fill(s.types.end() - b, s.types.end(), 1);
  rng random(o.seed);
  index placed = 0;
  for (index tries = 0; placed < o.particles; ++tries) {
    detail::require(tries < o.attempts, "make_binary_packing: placed " + std::to_string(placed) + " of " +
                                            std::to_string(o.particles) + " particles in " + std::to_string(o.attempts) +
                                            " attempts; lower the density or the hard core");
    for (int c = 0; c < 3; ++c) s.positions(placed, c) = random.uniform() * s.box;
    bool clear = true;
    for (index j = 0; j < placed && clear; ++j) clear = minimum_image(s, placed, j).norm() >= o.hard_core;
    if (clear) ++placed;
  }
  // Types in random order, so that B particles are not the last ones placed.
  for (std::size_t i = s.types.size() - 1; i > 0; --i)
    std::swap(s.types[i], s.types[static_cast<std::size_t>(random.below(i + 1))]);
  return s;
}

// Each particle's k nearest neighbours (minimum image), nearest first: the graph's edges j -> i
// with the displacement from i to j as the edge's geometry.
struct neighbour_lists {
  index k = 0;
  std::vector<index> neighbour;        // n * k: neighbour[i * k + m] is i's m-th nearest
  std::vector<Eigen::Vector3d> offset; // n * k: the displacement from i to that neighbour

  index of(index i, index m) const { return neighbour[static_cast<std::size_t>(i * k + m)]; }
  const Eigen::Vector3d& displacement(index i, index m) const { return offset[static_cast<std::size_t>(i * k + m)]; }
};

inline neighbour_lists nearest_neighbours(const particle_system& s, index k) {
  detail::require(k >= 1 && k < s.size(), "nearest_neighbours: k must be in [1, " + std::to_string(s.size() - 1) +
                                              "], got " + std::to_string(k));
  neighbour_lists out;
  out.k = k;
  out.neighbour.reserve(static_cast<std::size_t>(s.size() * k));
  out.offset.reserve(static_cast<std::size_t>(s.size() * k));
  std::vector<std::pair<double, index>> by_distance(static_cast<std::size_t>(s.size() - 1));
  for (index i = 0; i < s.size(); ++i) {
    std::size_t at = 0;
    for (index j = 0; j < s.size(); ++j)
      if (j != i) by_distance[at++] = {minimum_image(s, i, j).norm(), j};
    std::partial_sort(by_distance.begin(), by_distance.begin() + k, by_distance.end());
    for (index m = 0; m < k; ++m) {
      const index j = by_distance[static_cast<std::size_t>(m)].second;
      out.neighbour.push_back(j);
      out.offset.push_back(minimum_image(s, i, j));
    }
  }
  return out;
}

// The local quantity q_i restricted to the neighbours in `keep` (one entry per nearest neighbour,
// 1 keeps it; fractions scale its term): the ground truth's own game on i's neighbourhood.
inline double local_density_quantity(const particle_system& s, const neighbour_lists& lists, index i,
                                     const Eigen::Ref<const vector>& keep, double cutoff = 1.25) {
  double rho = 0.0;
  for (index m = 0; m < lists.k; ++m) {
    const index j = lists.of(i, m);
    const int a = s.types[static_cast<std::size_t>(i)], b = s.types[static_cast<std::size_t>(j)];
    const double x = lists.displacement(i, m).norm() / (cutoff * kob_andersen_sigma(a, b));
    if (x < 1.0) rho += keep(m) * kob_andersen_epsilon(a, b) * (1.0 - x * x) * (1.0 - x * x);
  }
  return std::sqrt(std::max(rho, 0.0));
}

// Whether neighbour m of particle i lies inside the quantity's cutoff (the ground truth depends on it).
inline bool within_cutoff(const particle_system& s, const neighbour_lists& lists, index i, index m, double cutoff = 1.25) {
  const index j = lists.of(i, m);
  return lists.displacement(i, m).norm() <
         cutoff * kob_andersen_sigma(s.types[static_cast<std::size_t>(i)], s.types[static_cast<std::size_t>(j)]);
}

}  // namespace attrib
