#pragma once
// Connected components of node subsets by bitmask breadth-first search (graphs of <= 64
// nodes): the primitive behind graph-restricted games, the Myerson value and the HN value.
#include <bit>
#include <cstdint>
#include <vector>

namespace attrib {

// The component of G[subset] that contains `seed` (a single bit inside `subset`).
inline std::uint64_t component_of(const std::vector<std::uint64_t>& neighbors, std::uint64_t subset,
                                  std::uint64_t seed) {
  std::uint64_t reached = seed, frontier = seed;
  while (frontier != 0) {
    std::uint64_t next = 0;
    for (std::uint64_t f = frontier; f != 0; f &= f - 1) next |= neighbors[static_cast<std::size_t>(std::countr_zero(f))];
    next &= subset & ~reached;
    reached |= next;
    frontier = next;
  }
  return reached;
}

// Calls visit(component_mask) for each connected component of G[subset].
template <class Visit>
void for_each_component(const std::vector<std::uint64_t>& neighbors, std::uint64_t subset, Visit&& visit) {
  while (subset != 0) {
    const std::uint64_t c = component_of(neighbors, subset, subset & (~subset + 1));
    visit(c);
    subset &= ~c;
  }
}

inline bool is_connected(const std::vector<std::uint64_t>& neighbors, std::uint64_t subset) {
  return subset == 0 || component_of(neighbors, subset, subset & (~subset + 1)) == subset;
}

// The nodes outside `subset` adjacent to some node of it.
inline std::uint64_t boundary_of(const std::vector<std::uint64_t>& neighbors, std::uint64_t subset) {
  std::uint64_t b = 0;
  for (std::uint64_t s = subset; s != 0; s &= s - 1) b |= neighbors[static_cast<std::size_t>(std::countr_zero(s))];
  return b & ~subset;
}

}  // namespace attrib
