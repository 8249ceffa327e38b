#pragma once
// Molecule datasets as CSV files with a SMILES column and an integer label column, as MoleculeNet
// ships them (BBBP: `smiles,p_np`; BACE: `mol,Class`). Each row becomes a labelled graph through
// parse_smiles and molecule_graph (attrib/graph/smiles.hpp); the element vocabulary of the one-hot
// node features is every element of the kept molecules, in ascending atomic number, unless given.
// Labels are mapped to 0..C-1 in ascending order, as read_tu_dataset does.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/graph/smiles.hpp"
#include "attrib/graph/tu_dataset.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/io/detail/file_bytes.hpp"

namespace attrib {

struct smiles_csv_options {
  std::string smiles_column = "smiles";
  std::string label_column{};  // required: the header name of the integer class label
  // false: the first bad SMILES is a format_error naming its line. true: such rows are left out
  // and listed in molecule_dataset::refused with the reason.
  bool skip_invalid = false;
  std::vector<int> elements{};  // the one-hot vocabulary (atomic numbers); empty: the data's own
  smiles_options parse{};
};

// A row left out, and why.
struct refused_row {
  std::size_t line = 0;  // 1-based line in the file
  std::string smiles, reason;
};

struct molecule_dataset {
  graph_dataset data;  // node_label_values: the atomic numbers of the one-hot columns
  std::vector<std::string> smiles;  // per graph, as written
  std::vector<std::size_t> lines;   // per graph, its 1-based line in the file
  std::vector<refused_row> refused;
  std::size_t reduced_to_largest_fragment = 0;  // rows whose smaller fragments were dropped
  std::vector<int> elements() const { return {data.node_label_values.begin(), data.node_label_values.end()}; }
};

inline molecule_dataset parse_smiles_csv(std::string_view text, const smiles_csv_options& options,
                                         const std::string& source = "<memory>") {
  if (options.label_column.empty())
    throw invalid_argument("parse_smiles_csv: label_column is empty; expected the header name of the label column");
  const auto lines = detail::split_csv(text);
  if (lines.empty()) throw format_error(source + ": empty file, expected a header line and rows");
  const auto& head = lines.front().cells;
  const auto column = [&](const std::string& name) {
    for (std::size_t c = 0; c < head.size(); ++c)
      if (detail::unquote(head[c]) == name) return c;
    std::string names;
    for (auto cell : head) names += (names.empty() ? "" : ", ") + detail::printable(cell);
    detail::csv_fail(source, lines.front().number, 0,
                     "no column named '" + name + "' in the header; expected one of: " + names);
  };
  const std::size_t smiles_at = column(options.smiles_column), label_at = column(options.label_column);

  std::vector<molecule> molecules;
  std::vector<long> labels;
  molecule_dataset out;
  for (std::size_t r = 1; r < lines.size(); ++r) {
    const auto& line = lines[r];
    if (line.cells.size() != head.size())
      detail::csv_fail(source, line.number, 0,
                       "expected " + std::to_string(head.size()) + " cells as in the header, found " +
                           std::to_string(line.cells.size()));
    double value = 0.0;
    const std::string_view label_cell = line.cells[label_at];
    if (!detail::parse_number(label_cell, value) || !std::isfinite(value) || value != std::floor(value) ||
        std::fabs(value) > 1e9)
      detail::csv_fail(source, line.number, label_at + 1,
                       "expected an integer class label, got '" + detail::printable(label_cell) + "'");
    const std::string_view smiles = line.cells[smiles_at];
    try {
      molecule m = parse_smiles(smiles, options.parse);
      if (!options.elements.empty())  // checked here so that a foreign element is refused like bad syntax
        for (const atom& a : m.atoms)
          if (std::find(options.elements.begin(), options.elements.end(), a.element) == options.elements.end())
            throw format_error("element " + std::string(element_symbol(a.element)) +
                               " is not in the given vocabulary; expected one of its elements");
      out.reduced_to_largest_fragment += m.dropped_atoms > 0 ? 1 : 0;
      molecules.push_back(std::move(m));
      labels.push_back(static_cast<long>(value));
      out.smiles.emplace_back(smiles);
      out.lines.push_back(line.number);
    } catch (const format_error& e) {
      if (!options.skip_invalid)
        detail::csv_fail(source, line.number, smiles_at + 1, e.what());
      out.refused.push_back({line.number, std::string(smiles), e.what()});
    }
  }
  if (molecules.empty())
    throw format_error(source + ": no molecule read (" + std::to_string(out.refused.size()) +
                       " rows refused); expected rows of SMILES and labels after the header");

  std::vector<long> elements(options.elements.begin(), options.elements.end());
  if (elements.empty())
    for (const molecule& m : molecules)
      for (const atom& a : m.atoms) elements.push_back(a.element);
  std::sort(elements.begin(), elements.end());
  elements.erase(std::unique(elements.begin(), elements.end()), elements.end());
  std::vector<long> classes = labels;
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());

  const std::vector<int> vocabulary(elements.begin(), elements.end());
  out.data.class_values = classes;
  out.data.node_label_values = elements;
  out.data.graphs.resize(molecules.size());
  for (std::size_t k = 0; k < molecules.size(); ++k) {
    out.data.graphs[k].structure = molecule_graph(molecules[k], vocabulary);
    out.data.graphs[k].label =
        static_cast<int>(std::lower_bound(classes.begin(), classes.end(), labels[k]) - classes.begin());
  }
  return out;
}

inline molecule_dataset read_smiles_csv(const std::filesystem::path& path, const smiles_csv_options& options) {
  return parse_smiles_csv(detail::read_file_bytes(path), options, path.string());
}

}  // namespace attrib
