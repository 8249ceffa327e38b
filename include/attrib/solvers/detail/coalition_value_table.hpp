#pragma once
// The value of every coalition of a game in one vector indexed by bitmask (bit j set: player j is
// in the coalition), read in one pass by the exhaustive solver's coalition streaming
// (solvers/exhaustive.hpp: fixed chunks, so any thread count gives the same table, and the
// bitmask fast path of games with value(mask)). The exact methods that need random access to
// all 2^n values after the pass, rather than a running sum, share it: the core value's 2^n
// constraints (methods/feature/core_value.hpp) and the Shapley-Taylor terms of any order
// (methods/feature/interactions.hpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "attrib/concepts/game.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/core/types.hpp"
#include "attrib/solvers/exhaustive.hpp"

namespace attrib::detail {

// A table of 2^n doubles; callers bound n first (16 for both users: 512 KiB).
inline constexpr index max_coalition_value_table_players = 26;

// table[mask] = v(mask) for every mask in [0, 2^n). `method` names the caller in the message
// thrown for a game too large to tabulate.
template <game G>
std::vector<double> coalition_value_table(const G& g, const run_settings& settings, const std::string& method) {
  const index n = g.player_count();
  require(n >= 0 && n <= max_coalition_value_table_players,
          method + ": a table of all 2^n coalition values needs 0 <= n <= " +
              std::to_string(max_coalition_value_table_players) + ", got n = " + std::to_string(n));
  std::vector<double> table(std::size_t{1} << n);
  for_each_coalition_value(g, chunk_coalitions(g), settings,
                           [&](std::size_t, std::uint64_t mask, double v) { table[mask] = v; });
  return table;
}

}  // namespace attrib::detail
