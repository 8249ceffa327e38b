#pragma once
// SMILES reader (Weininger 1988; the OpenSMILES grammar) for the subset molecular benchmarks
// use: organic-subset atoms (B C N O P S F Cl Br I and aromatic b c n o p s), bracket atoms
// ([13CH3+], [nH], [C@@H], [Ca++], [NH2+]: isotope, symbol, chirality, hydrogen count, charge,
// atom class), bonds - = # $ : / \, branches, ring closures (0-9 and %10-%99) and '.' between
// fragments. It checks no valences, keeps stereo marks without interpreting them and computes no
// implicit hydrogens. The wildcard '*' is refused (no element).
//
// Aromaticity: benchmark files mix spellings (about half of BBBP writes benzene rings in Kekulé
// form, C1=CC=CC=C1), and a feature that depends on the spelling would tell a model two different
// things about one molecule. So 5- and 6-membered rings written in Kekulé form are perceived by
// Hückel's rule, as RDKit does for its default model in the common cases: each ring atom gives
// 1 pi electron for a double bond inside a ring, 0 for an exocyclic one (C=O in pyridone), 2 for
// a lone pair (N, O, S, Se without a double bond; a carbanion); an sp3 atom, a triple bond or two
// double bonds disqualify the ring; 4k+2 electrons make its atoms and bonds aromatic. Rings of
// other sizes and rings that mix written-aromatic and Kekulé atoms stay as written.
//
// As RDKit does by default, an explicit [H] bonded by a single bond to one heavy atom is folded
// into that atom's hydrogen count, so graphs have heavy atoms as nodes. Several fragments ('.',
// salts such as "[Na+].CC(=O)[O-]") are either refused or reduced to the largest one, the
// counter-ion stripping of MoleculeNet pipelines (RDKit's LargestFragmentChooser); see
// smiles_fragments. molecule_graph (below) turns a molecule into the graph the GNNs read.
#include <algorithm>
#include <array>
#include <cstddef>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/text.hpp"
#include "attrib/graph/graph.hpp"

namespace attrib {

enum class bond_type : int { single = 1, double_bond = 2, triple = 3, quadruple = 4, aromatic = 5 };

struct atom {
  int element = 0;         // atomic number, 1..118
  int charge = 0;          // formal charge
  int hydrogens = 0;       // hydrogens written: a bracket atom's H count plus folded [H] atoms
  int isotope = 0;         // mass number; 0 when not written
  bool aromatic = false;   // written in lowercase, or in a ring perceived aromatic
  bool bracket = false;    // written in [...]
  std::string chirality;   // "@", "@@", "@TH1", ... as written; empty when none
  std::size_t position = 0;  // 0-based offset of the atom in the SMILES
};

struct bond {
  std::size_t a = 0, b = 0;  // atom indices, a < b
  bond_type type = bond_type::single;
  char direction = 0;  // '/' or '\\' as written (double-bond stereo), else 0
};

struct molecule {
  std::vector<atom> atoms;
  std::vector<bond> bonds;
  std::size_t fragments = 1;      // fragments in the SMILES ('.'-separated parts not joined by rings)
  std::size_t dropped_atoms = 0;  // atoms of the smaller fragments left out (smiles_fragments::largest)
};

// What a SMILES with several fragments becomes.
enum class smiles_fragments {
  largest,  // the fragment with the most atoms (after [H] folding); a tie goes to the first written
  refuse,   // format_error
};

struct smiles_options {
  smiles_fragments fragments = smiles_fragments::largest;
  // Longer strings are refused before parsing: the benchmarks' longest is 400 characters, and a
  // megabyte "SMILES" is a wrong column, not a molecule.
  std::size_t max_length = 10'000;
  bool perceive_aromaticity = true;  // Kekulé rings of 5 and 6 atoms (see the top of this header)
};

namespace detail {

inline constexpr std::array<std::string_view, 119> element_symbols = {
    "",   "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",
    "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
    "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn",
    "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho",
    "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po",
    "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md",
    "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};

inline int element_number(std::string_view symbol) {
  for (std::size_t z = 1; z < element_symbols.size(); ++z)
    if (element_symbols[z] == symbol) return static_cast<int>(z);
  return 0;
}

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

class smiles_parser {
 public:
  explicit smiles_parser(std::string_view s) : s_(s) {}

  molecule parse() {
    struct ring_end {
      bool open = false;
      std::size_t atom = 0, position = 0;
      char bond = 0;
    };
    std::array<ring_end, 100> rings{};
    std::vector<std::pair<std::size_t, std::size_t>> branches;  // (atom before '(', position of '(')
    constexpr std::size_t none = static_cast<std::size_t>(-1);
    std::size_t previous = none;  // the atom the next one bonds to
    char pending = 0;             // a bond symbol waiting for its second atom
    std::size_t pending_at = 0;
    bool after_open = false;      // the last token was '(' (an empty branch is an error)
    bool after_dot = false;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '[' || (c >= 'A' && c <= 'Z') || is_lower(c)) {
        const std::size_t a = c == '[' ? bracket_atom() : organic_atom();
        if (previous != none) add_bond(previous, a, pending, pending_at);
        previous = a;
        pending = 0;
        after_open = after_dot = false;
      } else if (c == '-' || c == '=' || c == '#' || c == '$' || c == ':' || c == '/' || c == '\\') {
        if (previous == none) fail(i_, "a bond symbol needs an atom before it; expected an atom");
        if (pending != 0) fail(i_, "two bond symbols in a row; expected an atom or ring number after '" +
                                       std::string(1, pending) + "'");
        pending = c;
        pending_at = i_++;
      } else if (c == '(') {
        if (previous == none || after_open) fail(i_, "a branch needs an atom before it; expected an atom");
        if (pending != 0) fail(i_, "a bond symbol before '('; expected an atom or ring number after it");
        branches.emplace_back(previous, i_++);
        after_open = true;
      } else if (c == ')') {
        if (branches.empty()) fail(i_, "')' without an open '('");
        if (after_open) fail(i_, "empty branch '()'; expected an atom or bond symbol");
        if (pending != 0) fail(i_, "branch ends after a bond symbol; expected an atom");
        if (after_dot) fail(i_, "branch ends after '.'; expected an atom");
        previous = branches.back().first;
        branches.pop_back();
        ++i_;
      } else if (is_digit(c) || c == '%') {
        const std::size_t at = i_;
        if (previous == none || after_open) fail(i_, "a ring number needs an atom before it; expected an atom");
        const int number = ring_number();
        ring_end& r = rings[static_cast<std::size_t>(number)];
        if (!r.open) {
          r = {true, previous, at, pending};
        } else {
          if (r.atom == previous) fail(at, "ring " + std::to_string(number) + " closes on the atom that opened it");
          if (r.bond != 0 && pending != 0 && bond_of(r.bond) != bond_of(pending))
            fail(at, "ring " + std::to_string(number) + " opened with bond '" + std::string(1, r.bond) +
                         "' and closed with '" + std::string(1, pending) + "'; expected the same bond or one of them");
          add_bond(r.atom, previous, pending != 0 ? pending : r.bond, at);
          r.open = false;
        }
        pending = 0;
      } else if (c == '.') {
        if (after_dot) fail(i_, "two '.' in a row; expected an atom after the first");
        if (previous == none || after_open) fail(i_, "'.' needs an atom before it; expected an atom");
        if (pending != 0) fail(i_, "'.' after a bond symbol; expected an atom");
        previous = none;
        after_dot = true;
        ++i_;
      } else {
        fail(i_, "unexpected character '" + printable(std::string_view(&s_[i_], 1)) +
                     "'; expected an atom, bond, branch, ring number or '.'");
      }
    }
    if (s_.empty()) throw format_error("smiles: empty string; expected at least one atom");
    if (pending != 0) fail(pending_at, "the SMILES ends after a bond symbol; expected an atom");
    if (after_dot) fail(s_.size() - 1, "the SMILES ends after '.'; expected an atom");
    if (!branches.empty()) fail(branches.back().second, "'(' is never closed; expected ')'");
    for (std::size_t n = 0; n < rings.size(); ++n)
      if (rings[n].open)
        fail(rings[n].position, "ring " + std::to_string(n) + " is opened but never closed; expected a second '" +
                                    (n < 10 ? std::to_string(n) : "%" + std::to_string(n)) + "'");
    return std::move(m_);
  }

  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    // Long strings are shown around the failing character, which a 40-byte prefix might not reach.
    const std::size_t from = s_.size() <= 40 || at < 20 ? 0 : at - 20;
    throw format_error("smiles: character " + std::to_string(at + 1) + " of '" + (from > 0 ? "..." : "") +
                       printable(s_.substr(from)) + "': " + what);
  }

 private:
  std::size_t add_atom(atom a) {
    a.position = start_;
    m_.atoms.push_back(std::move(a));
    adjacency_.emplace_back();
    return m_.atoms.size() - 1;
  }

  // The bond a symbol writes; 0 (no symbol) reads as single here and is resolved in add_bond.
  static bond_type bond_of(char symbol) {
    switch (symbol) {
      case '=': return bond_type::double_bond;
      case '#': return bond_type::triple;
      case '$': return bond_type::quadruple;
      case ':': return bond_type::aromatic;
      default: return bond_type::single;  // '-', '/', '\\'
    }
  }

  void add_bond(std::size_t a, std::size_t b, char symbol, std::size_t at) {
    for (std::size_t other : adjacency_[a])
      if (other == b) fail(at, "a second bond between the same two atoms (ring closure)");
    bond e{std::min(a, b), std::max(a, b), bond_of(symbol), symbol == '/' || symbol == '\\' ? symbol : char{0}};
    // No symbol: aromatic between two aromatic atoms, else single (OpenSMILES).
    if (symbol == 0 && m_.atoms[a].aromatic && m_.atoms[b].aromatic) e.type = bond_type::aromatic;
    m_.bonds.push_back(e);
    adjacency_[a].push_back(b);
    adjacency_[b].push_back(a);
  }

  std::size_t organic_atom() {
    start_ = i_;
    const std::string_view rest = s_.substr(i_);
    atom a;
    if (rest.starts_with("Cl") || rest.starts_with("Br")) {
      a.element = rest[0] == 'C' ? 17 : 35;
      i_ += 2;
      return add_atom(std::move(a));
    }
    constexpr std::string_view organic = "BCNOPSFI", aromatic = "bcnops";
    const char c = s_[i_];
    if (organic.find(c) != std::string_view::npos) {
      a.element = element_number(std::string_view(&s_[i_], 1));
    } else if (aromatic.find(c) != std::string_view::npos) {
      a.element = element_number(std::string(1, static_cast<char>(c - 'a' + 'A')));
      a.aromatic = true;
    } else {
      fail(i_, "'" + std::string(1, c) + "' is not an organic-subset atom (B C N O P S F Cl Br I b c n o p s); " +
                   "expected other elements in brackets, e.g. [" + std::string(1, c) + "...]");
    }
    ++i_;
    return add_atom(std::move(a));
  }

  // '[' isotope? symbol chirality? hcount? charge? class? ']'
  std::size_t bracket_atom() {
    start_ = i_++;
    atom a;
    a.bracket = true;
    a.isotope = number(3, "isotope");
    const std::size_t symbol_at = i_;
    if (i_ >= s_.size()) fail(i_, "'[' at the end; expected an element symbol");
    const char c = s_[i_];
    if (c == '*') fail(i_, "the wildcard atom '*' has no element; expected an element symbol");
    if (c >= 'A' && c <= 'Z') {
      // Two letters first: inside brackets "Cl", "Na", "Sc" are elements, not an atom and a letter.
      if (i_ + 1 < s_.size() && is_lower(s_[i_ + 1]) && element_number(s_.substr(i_, 2)) != 0) {
        a.element = element_number(s_.substr(i_, 2));
        i_ += 2;
      } else {
        a.element = element_number(s_.substr(i_, 1));
        ++i_;
      }
    } else if (is_lower(c)) {
      for (std::string_view sym : {"se", "as", "te", "b", "c", "n", "o", "p", "s"})
        if (s_.substr(i_).starts_with(sym)) {
          std::string upper(sym);
          upper[0] = static_cast<char>(upper[0] - 'a' + 'A');
          a.element = element_number(upper);
          a.aromatic = true;
          i_ += sym.size();
          break;
        }
    }
    if (a.element == 0)
      fail(symbol_at, "unknown element '" + printable(s_.substr(symbol_at, 2)) +
                          "'; expected an element symbol (aromatic: b c n o p s se as te)");
    if (i_ < s_.size() && s_[i_] == '@') {
      const std::size_t from = i_++;
      if (i_ < s_.size() && s_[i_] == '@') {
        ++i_;
      } else if (i_ + 1 < s_.size() && (s_.substr(i_, 2) == "TH" || s_.substr(i_, 2) == "AL" ||
                                        s_.substr(i_, 2) == "SP" || s_.substr(i_, 2) == "TB" || s_.substr(i_, 2) == "OH")) {
        i_ += 2;
        if (number(2, "chirality class") == 0) fail(i_, "expected a chirality number 1-30 after @TH, @AL, ...");
      }
      a.chirality = std::string(s_.substr(from, i_ - from));
    }
    if (i_ < s_.size() && s_[i_] == 'H') {
      ++i_;
      a.hydrogens = i_ < s_.size() && is_digit(s_[i_]) ? s_[i_++] - '0' : 1;
    }
    if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) {
      const char sign = s_[i_++];
      int magnitude = 1;
      if (i_ < s_.size() && is_digit(s_[i_])) {
        magnitude = number(2, "charge");
      } else {
        while (i_ < s_.size() && s_[i_] == sign) ++magnitude, ++i_;  // "++" is +2
      }
      if (magnitude > 15) fail(i_ - 1, "charge " + std::to_string(magnitude) + " is outside -15..+15");
      a.charge = sign == '+' ? magnitude : -magnitude;
    }
    if (i_ < s_.size() && s_[i_] == ':') {  // atom class: read and ignored (it labels reactions)
      ++i_;
      if (i_ >= s_.size() || !is_digit(s_[i_])) fail(i_, "expected an atom-class number after ':'");
      number(8, "atom class");
    }
    if (i_ >= s_.size() || s_[i_] != ']')
      fail(i_, std::string(i_ >= s_.size() ? "the SMILES ends inside [...]" : "unexpected character") +
                   "; expected chirality (@), hydrogens (H), a charge (+ -), an atom class (:) or ']'");
    ++i_;
    return add_atom(std::move(a));
  }

  // Up to `digits` decimal digits at i_ (0 when there are none).
  int number(int digits, const char* what) {
    int value = 0, read = 0;
    while (i_ < s_.size() && is_digit(s_[i_])) {
      if (++read > digits) fail(i_, std::string(what) + " has more than " + std::to_string(digits) + " digits");
      value = value * 10 + (s_[i_++] - '0');
    }
    return value;
  }

  int ring_number() {
    if (s_[i_] != '%') return s_[i_++] - '0';
    if (i_ + 2 >= s_.size() || !is_digit(s_[i_ + 1]) || !is_digit(s_[i_ + 2]))
      fail(i_, "'%' must be followed by two digits (ring numbers 10-99)");
    const int n = (s_[i_ + 1] - '0') * 10 + (s_[i_ + 2] - '0');
    i_ += 3;
    return n;
  }

  std::string_view s_;
  std::size_t i_ = 0, start_ = 0;
  molecule m_;
  std::vector<std::vector<std::size_t>> adjacency_;
};

// Folds each removable [H] into its neighbour (see the top of this header) and renumbers.
inline void fold_hydrogens(molecule& m) {
  std::vector<std::size_t> degree(m.atoms.size(), 0);
  for (const bond& e : m.bonds) ++degree[e.a], ++degree[e.b];
  std::vector<char> removed(m.atoms.size(), 0);
  const auto plain_h = [&](std::size_t i) {
    const atom& a = m.atoms[i];
    return a.element == 1 && a.isotope == 0 && a.charge == 0 && a.hydrogens == 0 && degree[i] == 1;
  };
  for (const bond& e : m.bonds) {
    if (e.type != bond_type::single) continue;
    for (auto [h, heavy] : {std::pair{e.a, e.b}, std::pair{e.b, e.a}})
      if (plain_h(h) && m.atoms[heavy].element != 1) {
        removed[h] = 1;
        ++m.atoms[heavy].hydrogens;
      }
  }
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < m.atoms.size(); ++i)
    if (!removed[i]) kept.push_back(i);
  if (kept.size() == m.atoms.size()) return;
  std::vector<std::size_t> new_index(m.atoms.size(), 0);
  std::vector<atom> atoms;
  for (std::size_t i : kept) new_index[i] = atoms.size(), atoms.push_back(std::move(m.atoms[i]));
  std::vector<bond> bonds;
  for (bond e : m.bonds)
    if (!removed[e.a] && !removed[e.b]) {
      e.a = new_index[e.a];
      e.b = new_index[e.b];
      bonds.push_back(e);
    }
  m.atoms = std::move(atoms);
  m.bonds = std::move(bonds);
}

// The connected component of each atom (union-find), numbered in order of first atom.
inline std::vector<std::size_t> fragment_of(const molecule& m) {
  std::vector<std::size_t> parent(m.atoms.size());
  std::iota(parent.begin(), parent.end(), std::size_t{0});
  const auto root = [&](std::size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (const bond& e : m.bonds) parent[root(e.a)] = root(e.b);
  std::vector<std::size_t> id(m.atoms.size()), number_of_root(m.atoms.size(), static_cast<std::size_t>(-1));
  std::size_t next = 0;
  for (std::size_t i = 0; i < m.atoms.size(); ++i) {
    std::size_t& n = number_of_root[root(i)];
    if (n == static_cast<std::size_t>(-1)) n = next++;
    id[i] = n;
  }
  return id;
}

// Keeps only the atoms of fragment `keep`, renumbered in order.
inline void keep_fragment(molecule& m, const std::vector<std::size_t>& fragment, std::size_t keep) {
  std::vector<std::size_t> new_index(m.atoms.size(), 0);
  std::vector<atom> atoms;
  for (std::size_t i = 0; i < m.atoms.size(); ++i)
    if (fragment[i] == keep) new_index[i] = atoms.size(), atoms.push_back(std::move(m.atoms[i]));
  std::vector<bond> bonds;
  for (bond e : m.bonds)
    if (fragment[e.a] == keep) {
      e.a = new_index[e.a];
      e.b = new_index[e.b];
      bonds.push_back(e);
    }
  m.dropped_atoms = m.atoms.size() - atoms.size();
  m.atoms = std::move(atoms);
  m.bonds = std::move(bonds);
}

// Every simple cycle of 5 or 6 atoms with at most three neighbours each (an aromatic ring atom
// has two ring neighbours and at most one substituent), each once, as its atoms in order around
// the ring. The degree bound also keeps the search linear in the atoms: a hostile SMILES that
// joins hundreds of atoms by ring closures has far too many short cycles to list.
inline std::vector<std::vector<std::size_t>> small_rings(const molecule& m) {
  std::vector<std::vector<std::size_t>> adjacency(m.atoms.size()), rings;
  for (const bond& e : m.bonds) adjacency[e.a].push_back(e.b), adjacency[e.b].push_back(e.a);
  std::vector<std::size_t> path;
  // Paths from `start` through larger atom indices only, so each ring is found from its smallest
  // atom, and once per direction: the second atom must be smaller than the last.
  const auto extend = [&](const auto& self, std::size_t start) -> void {
    const std::size_t last = path.back();
    for (std::size_t next : adjacency[last]) {
      if (next == start && path.size() >= 5 && path[1] < path.back()) rings.push_back(path);
      if (next <= start || path.size() == 6 || adjacency[next].size() > 3 ||
          std::find(path.begin(), path.end(), next) != path.end())
        continue;
      path.push_back(next);
      self(self, start);
      path.pop_back();
    }
  };
  for (std::size_t start = 0; start < m.atoms.size(); ++start) {
    if (adjacency[start].size() > 3) continue;
    path.assign(1, start);
    extend(extend, start);
  }
  return rings;
}

// Hückel perception on Kekulé-written 5- and 6-rings (see the top of this header).
inline void perceive_aromaticity(molecule& m) {
  const auto rings = small_rings(m);
  if (rings.empty()) return;
  std::vector<std::vector<std::size_t>> bonds_of(m.atoms.size());
  for (std::size_t k = 0; k < m.bonds.size(); ++k) bonds_of[m.bonds[k].a].push_back(k), bonds_of[m.bonds[k].b].push_back(k);
  const auto in_ring = [](const std::vector<std::size_t>& ring, std::size_t atom) {
    return std::find(ring.begin(), ring.end(), atom) != ring.end();
  };
  // A bond is a ring bond when some small ring holds both its atoms next to each other.
  std::vector<char> ring_bond(m.bonds.size(), 0);
  for (const auto& ring : rings)
    for (std::size_t k = 0; k < ring.size(); ++k) {
      const std::size_t u = ring[k], v = ring[(k + 1) % ring.size()];
      for (std::size_t b : bonds_of[u])
        if (m.bonds[b].a == v || m.bonds[b].b == v) ring_bond[b] = 1;
    }
  std::vector<char> aromatic_atom(m.atoms.size(), 0), aromatic_bond(m.bonds.size(), 0);
  for (const auto& ring : rings) {
    int electrons = 0;
    bool possible = true;
    for (std::size_t atom_index : ring) {
      const atom& a = m.atoms[atom_index];
      if (a.aromatic) possible = false;  // mixed spellings stay as written
      int doubles = 0, triples = 0;
      bool double_in_ring = false;
      for (std::size_t b : bonds_of[atom_index]) {
        if (m.bonds[b].type == bond_type::double_bond) ++doubles, double_in_ring = double_in_ring || ring_bond[b];
        if (m.bonds[b].type == bond_type::triple || m.bonds[b].type == bond_type::quadruple) ++triples;
      }
      if (doubles > 1 || triples > 0) possible = false;
      else if (doubles == 1) electrons += double_in_ring ? 1 : 0;
      else if (a.charge == 0 && (a.element == 7 || a.element == 8 || a.element == 16 || a.element == 34)) electrons += 2;
      else if (a.charge == -1 && a.element == 6) electrons += 2;
      else possible = false;  // sp3 carbon, cation without a double bond, ...
      if (!possible) break;
    }
    if (!possible || electrons % 4 != 2) continue;
    for (std::size_t k = 0; k < ring.size(); ++k) {
      aromatic_atom[ring[k]] = 1;
      const std::size_t v = ring[(k + 1) % ring.size()];
      for (std::size_t b : bonds_of[ring[k]])
        if ((m.bonds[b].a == v || m.bonds[b].b == v) && in_ring(ring, v)) aromatic_bond[b] = 1;
    }
  }
  for (std::size_t i = 0; i < m.atoms.size(); ++i)
    if (aromatic_atom[i]) m.atoms[i].aromatic = true;
  for (std::size_t b = 0; b < m.bonds.size(); ++b)
    if (aromatic_bond[b]) m.bonds[b].type = bond_type::aromatic, m.bonds[b].direction = 0;
}

}  // namespace detail

// The element symbol of atomic number z ("C", "Cl"); empty outside 1..118.
inline std::string_view element_symbol(int z) {
  return z >= 1 && z <= 118 ? detail::element_symbols[static_cast<std::size_t>(z)] : std::string_view{};
}

// A molecule from a SMILES string; format_error names the character (1-based) and what was
// expected there. Parsing is one pass without recursion, so nesting depth costs no stack.
inline molecule parse_smiles(std::string_view smiles, const smiles_options& options = {}) {
  if (smiles.size() > options.max_length)
    throw format_error("smiles: " + std::to_string(smiles.size()) + " characters, more than max_length = " +
                       std::to_string(options.max_length) + "; expected a single SMILES string");
  detail::smiles_parser parser(smiles);
  molecule m = parser.parse();
  detail::fold_hydrogens(m);
  if (options.perceive_aromaticity) detail::perceive_aromaticity(m);
  const auto fragment = detail::fragment_of(m);
  m.fragments = m.atoms.empty() ? 0 : *std::max_element(fragment.begin(), fragment.end()) + 1;
  if (m.fragments > 1) {
    if (options.fragments == smiles_fragments::refuse)
      throw format_error("smiles: '" + detail::printable(smiles) + "' has " + std::to_string(m.fragments) +
                         " fragments; expected one connected molecule (or smiles_fragments::largest)");
    std::vector<std::size_t> size(m.fragments, 0);
    for (std::size_t f : fragment) ++size[f];
    const auto largest = static_cast<std::size_t>(std::max_element(size.begin(), size.end()) - size.begin());
    detail::keep_fragment(m, fragment, largest);
  }
  return m;
}

// The number of node features molecule_graph writes for a vocabulary of `elements` elements.
inline index molecule_feature_count(std::size_t elements) { return static_cast<index>(elements) + 3; }

// The graph a GNN reads: one node per atom, one undirected edge per bond. Node features: one-hot
// over `elements` (atomic numbers, the dataset's vocabulary), then three flags: positive charge,
// negative charge, aromatic. Node label: the element's index in `elements`. Edge type: the
// bond_type as an int. An atom whose element is not in `elements` is an invalid_argument.
inline graph molecule_graph(const molecule& m, const std::vector<int>& elements) {
  graph g(m.atoms.size());
  const index width = molecule_feature_count(elements.size());
  for (std::size_t i = 0; i < m.atoms.size(); ++i) {
    const atom& a = m.atoms[i];
    const auto at = std::find(elements.begin(), elements.end(), a.element);
    if (at == elements.end())
      throw invalid_argument("molecule_graph: atom " + std::to_string(i) + " is " +
                             std::string(element_symbol(a.element)) + ", which is not in the element vocabulary (" +
                             std::to_string(elements.size()) + " elements); expected one of them");
    auto& node = g[static_cast<graph_node>(i)];
    node.label = static_cast<int>(at - elements.begin());
    node.features = vector::Zero(width);
    node.features(node.label) = 1.0;
    const index flags = static_cast<index>(elements.size());
    node.features(flags) = a.charge > 0 ? 1.0 : 0.0;
    node.features(flags + 1) = a.charge < 0 ? 1.0 : 0.0;
    node.features(flags + 2) = a.aromatic ? 1.0 : 0.0;
  }
  for (const bond& e : m.bonds)
    add_undirected_edge(g, static_cast<graph_node>(e.a), static_cast<graph_node>(e.b),
                        {.type = static_cast<int>(e.type)});
  return g;
}

}  // namespace attrib
