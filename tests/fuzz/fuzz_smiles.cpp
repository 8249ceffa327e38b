// libFuzzer target: the SMILES reader and the molecule CSV loader. The whole input is one SMILES
// string, then the same bytes are read as a CSV with `smiles` and `y` columns. format_error is
// the only acceptable failure; a molecule that parses is one connected fragment whose bonds join
// two distinct atoms once, and its graph has one node per atom and one edge per bond.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "attrib/graph/smiles.hpp"
#include "attrib/graph/smiles_dataset.hpp"

namespace {

void check(const attrib::molecule& m) {
  if (m.atoms.empty() || m.fragments < 1 || (m.fragments == 1 && m.dropped_atoms != 0)) std::abort();
  std::set<std::pair<std::size_t, std::size_t>> seen;
  std::vector<int> elements;
  for (const auto& a : m.atoms) {
    if (attrib::element_symbol(a.element).empty() || a.charge < -15 || a.charge > 15) std::abort();
    elements.push_back(a.element);
  }
  for (const auto& b : m.bonds)
    if (b.a >= b.b || b.b >= m.atoms.size() || !seen.insert({b.a, b.b}).second) std::abort();
  // Connected: every atom is reached from atom 0 (the kept fragment is one component).
  const attrib::graph g = attrib::molecule_graph(m, elements);
  if (attrib::node_count(g) != static_cast<attrib::index>(m.atoms.size()) || boost::num_edges(g) != m.bonds.size())
    std::abort();
  if (m.atoms.size() <= 64) {
    const auto nb = attrib::neighbor_masks(g);
    std::uint64_t reached = 1, frontier = 1;
    while (frontier != 0) {
      std::uint64_t next = 0;
      for (std::size_t i = 0; i < nb.size(); ++i)
        if (frontier >> i & 1) next |= nb[i];
      frontier = next & ~reached;
      reached |= next;
    }
    if (reached != (m.atoms.size() == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << m.atoms.size()) - 1)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    check(attrib::parse_smiles(text));
  } catch (const attrib::format_error&) {
  }
  try {
    const auto set = attrib::parse_smiles_csv(text, {.label_column = "y", .skip_invalid = true});
    if (set.data.graphs.size() != set.smiles.size() || set.data.graphs.empty()) std::abort();
    for (const auto& g : set.data.graphs)
      if (g.label < 0 || g.label >= set.data.classes() || attrib::node_count(g.structure) == 0) std::abort();
  } catch (const attrib::format_error&) {
  }
  return 0;
}
