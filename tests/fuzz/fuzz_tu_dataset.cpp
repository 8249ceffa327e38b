// libFuzzer target: the TU graph-dataset reader. The input is the text of its files separated by
// NUL bytes: A, graph_indicator, graph_labels, node_labels and optionally edge_labels.
// format_error is the only acceptable failure; a dataset that parses is consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "attrib/graph/tu_dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() < 4) {
    const auto nul = rest.find('\0');
    parts.push_back(rest.substr(0, nul));
    rest = nul == std::string_view::npos ? std::string_view{} : rest.substr(nul + 1);
  }
  try {
    const auto set = attrib::parse_tu_dataset({parts[0], parts[1], parts[2], parts[3], rest}, "F");
    if (set.graphs.empty() || set.class_values.empty()) std::abort();
    for (const auto& g : set.graphs) {
      if (g.label < 0 || g.label >= set.classes() || boost::num_vertices(g.structure) == 0) std::abort();
      for (auto v : boost::make_iterator_range(boost::vertices(g.structure)))
        if (g.structure[v].features.size() != static_cast<attrib::index>(set.node_label_values.size())) std::abort();
    }
  } catch (const attrib::format_error&) {
  }
  return 0;
}
