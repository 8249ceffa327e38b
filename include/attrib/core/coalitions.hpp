#pragma once
// Small tools for coalitions of players: binomial coefficients, bitmask rows, keys for
// deduplication and uniform random subsets.
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"

namespace attrib::detail {

// C(n, k) as a double (exact up to 2^53).
inline double binomial(index n, index k) {
  if (k < 0 || k > n) return 0.0;
  k = std::min(k, n - k);
  double result = 1.0;
  for (index i = 1; i <= k; ++i) result = result * static_cast<double>(n - k + i) / static_cast<double>(i);
  return std::round(result);
}

// Largest player count for which all 2^n coalitions may be enumerated.
inline constexpr index max_enumerable_players = 30;

inline void require_enumerable(index players, const std::string& method) {
  require(players >= 1, method + ": the game has no players; expected at least 1");
  require(players <= max_enumerable_players,
          method + ": exact enumeration of 2^n coalitions needs n <= " +
              std::to_string(max_enumerable_players) + ", got n = " + std::to_string(players) +
              "; use a sampling method instead");
}

// Writes the coalition with bitmask `mask` into `row` as 0/1 entries.
template <class Row>
void mask_to_row(std::uint64_t mask, Row&& row) {
  for (index j = 0; j < row.size(); ++j) row(j) = static_cast<double>((mask >> j) & 1u);
}

// Coalition keys: byte strings for hashing, player j as bit j % 8 of byte j / 8.
inline void set_key_bit(std::string& key, index j) {
  key[static_cast<std::size_t>(j / 8)] |= static_cast<char>(1 << (j % 8));
}

// The key of a 0/1 row.
template <class Row>
std::string coalition_key(const Row& row) {
  std::string key(static_cast<std::size_t>((row.size() + 7) / 8), '\0');
  for (index j = 0; j < row.size(); ++j)
    if (row(j) > 0.5) set_key_bit(key, j);
  return key;
}

// The key of the coalition of `members` out of n players, or of its complement, written into
// `key` (reused by callers that key many draws).
inline void coalition_key_of_members(std::span<const index> members, index n, bool complement,
                                     std::string& key) {
  key.assign(static_cast<std::size_t>((n + 7) / 8), '\0');
  for (const index m : members) set_key_bit(key, m);
  if (complement)
    for (index j = 0; j < n; ++j) key[static_cast<std::size_t>(j / 8)] ^= static_cast<char>(1 << (j % 8));
}

// A uniformly random subset of `size` players out of n (partial Fisher-Yates), as the first
// `size` entries of `scratch`: valid until scratch's next use, and no allocation per draw.
inline std::span<const index> random_subset(index n, index size, rng& random, std::vector<index>& scratch) {
  scratch.resize(static_cast<std::size_t>(n));
  std::iota(scratch.begin(), scratch.end(), index{0});
  for (index i = 0; i < size; ++i) {
    const auto j = i + static_cast<index>(random.below(static_cast<std::uint64_t>(n - i)));
    std::swap(scratch[static_cast<std::size_t>(i)], scratch[static_cast<std::size_t>(j)]);
  }
  return {scratch.data(), static_cast<std::size_t>(size)};
}

// Calls visit(members) for every subset of {0..n-1} of the given size, in lexicographic order.
template <class Visit>
void for_each_subset_of_size(index n, index size, Visit&& visit) {
  std::vector<index> members(static_cast<std::size_t>(size));
  std::iota(members.begin(), members.end(), index{0});
  for (;;) {
    visit(members);
    index i = size - 1;
    while (i >= 0 && members[static_cast<std::size_t>(i)] == n - size + i) --i;
    if (i < 0) return;
    ++members[static_cast<std::size_t>(i)];
    for (index j = i + 1; j < size; ++j)
      members[static_cast<std::size_t>(j)] = members[static_cast<std::size_t>(j - 1)] + 1;
  }
}

}  // namespace attrib::detail
