#pragma once
// The connected node subsets of a small graph (n <= 24), enumerated once by scanning all 2^n
// bitmasks, with a mask -> position look-up. Restricted games are determined by their values
// on connected coalitions, so the HN recursion and the Myerson restriction only need these.
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/graph/components.hpp"

namespace attrib {

struct connected_sets {
  std::vector<std::uint32_t> masks;     // ascending
  std::vector<std::uint32_t> boundary;  // nodes adjacent to masks[k] but outside it
  std::vector<std::int32_t> position;   // position[mask] = k, or -1 when G[mask] is disconnected or empty

  static constexpr index max_nodes = 24;

  explicit connected_sets(const std::vector<std::uint64_t>& neighbors) {
    const auto n = static_cast<index>(neighbors.size());
    detail::require(n >= 1 && n <= max_nodes, "connected_sets: the graph must have 1.." + std::to_string(max_nodes) +
                                                  " nodes, got " + std::to_string(n));
    const std::uint32_t total = std::uint32_t{1} << n;
    position.assign(total, -1);
    for (std::uint32_t s = 1; s < total; ++s) {
      if (!is_connected(neighbors, s)) continue;
      position[s] = static_cast<std::int32_t>(masks.size());
      masks.push_back(s);
      boundary.push_back(static_cast<std::uint32_t>(boundary_of(neighbors, s)));
    }
  }

  std::size_t size() const { return masks.size(); }
};

}  // namespace attrib
