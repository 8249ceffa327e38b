#pragma once
// coalition_game: a game given by a function of the coalition's bitmask (up to 64 players).
// Useful for textbook games, tests, and games whose value is cheap to compute directly.
#include <bit>
#include <concepts>
#include <cstdint>
#include <string>
#include <utility>

#include "attrib/concepts/game.hpp"
#include "attrib/core/error.hpp"

namespace attrib {

template <std::regular_invocable<std::uint64_t> F>
class coalition_game {
 public:
  coalition_game(index players, F value) : players_(players), value_(std::move(value)) {
    detail::require(players >= 1 && players <= 64,
                    "coalition_game: player count must be in [1, 64], got " + std::to_string(players));
  }
  index player_count() const { return players_; }
  vector values(const matrix& points) const {
    vector out(points.rows());
    for (index r = 0; r < points.rows(); ++r) {
      std::uint64_t mask = 0;
      for (index j = 0; j < players_; ++j)
        if (points(r, j) > 0.5) mask |= std::uint64_t{1} << j;
      out(r) = static_cast<double>(value_(mask));
    }
    return out;
  }
  double value(std::uint64_t mask) const { return static_cast<double>(value_(mask)); }

 private:
  index players_;
  F value_;
};

// Weighted voting game [quota; w_1, ..., w_n]: a coalition wins (value 1) when its weights
// reach the quota. Its Shapley value is the Shapley-Shubik power index.
inline auto weighted_voting_game(double quota, std::vector<double> weights) {
  detail::require(!weights.empty(), "weighted_voting_game: weights are empty");
  const auto n = static_cast<index>(weights.size());
  return coalition_game(n, [quota, weights = std::move(weights)](std::uint64_t mask) {
    double total = 0.0;
    for (std::size_t j = 0; j < weights.size(); ++j)
      if ((mask >> j) & 1u) total += weights[j];
    return total >= quota ? 1.0 : 0.0;
  });
}

}  // namespace attrib
