// Graph explanations: graphs, generators, the TU reader and the SMILES reader; the graph-restricted game and the
// Myerson value; the HN value (GStarX) against Shapley on complete graphs and against its dense
// matrix-power definition; the GCN, its game and the H-fidelity metrics.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "attrib/games/coalition_game.hpp"
#include "attrib/games/graph_restricted_game.hpp"
#include "attrib/graph/components.hpp"
#include "attrib/models/gnn/gcn.hpp"
#include "attrib/graph/generators.hpp"
#include "attrib/graph/graph.hpp"
#include "attrib/graph/k_shortest_paths.hpp"
#include "attrib/games/node_removal_game.hpp"
#include "attrib/graph/search_space.hpp"
#include "attrib/graph/smiles.hpp"
#include "attrib/graph/smiles_dataset.hpp"
#include "attrib/graph/tu_dataset.hpp"
#include "attrib/methods/feature/occlusion.hpp"
#include "attrib/methods/graph/fidelity.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "reference/hn_matrix_power.hpp"
#include "attrib/methods/graph/hn_value.hpp"
#include "attrib/methods/graph/myerson.hpp"
#include "attrib/methods/graph/node_mask_explainer.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {


using masks = std::vector<std::uint64_t>;

masks path_graph(int n) {
  masks nb(static_cast<std::size_t>(n), 0);
  for (int i = 0; i + 1 < n; ++i) {
    nb[static_cast<std::size_t>(i)] |= std::uint64_t{1} << (i + 1);
    nb[static_cast<std::size_t>(i + 1)] |= std::uint64_t{1} << i;
  }
  return nb;
}

masks complete_graph(int n) {
  masks nb(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) nb[static_cast<std::size_t>(i)] = ((std::uint64_t{1} << n) - 1) & ~(std::uint64_t{1} << i);
  return nb;
}

masks random_graph(int n, double p, std::uint64_t seed) {
  attrib::rng r(seed);
  masks nb(static_cast<std::size_t>(n), 0);
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      if (r.uniform() < p) {
        nb[static_cast<std::size_t>(i)] |= std::uint64_t{1} << j;
        nb[static_cast<std::size_t>(j)] |= std::uint64_t{1} << i;
      }
  return nb;
}

// A random game with v(empty) = 0: a table of 2^n uniform values.
auto random_table_game(int n, std::uint64_t seed) {
  attrib::rng r(seed);
  std::vector<double> table(std::size_t{1} << n);
  for (std::size_t s = 1; s < table.size(); ++s) table[s] = 2.0 * r.uniform() - 1.0;
  return attrib::coalition_game(n, [table](std::uint64_t m) { return table[m]; });
}

}  // namespace

TEST_CASE("components: bitmask BFS on a path 0-1-2-3") {
  const masks nb = path_graph(4);
  CHECK(attrib::component_of(nb, 0b1011, 0b0001) == 0b0011);
  CHECK(attrib::is_connected(nb, 0b0110));
  CHECK_FALSE(attrib::is_connected(nb, 0b1001));
  std::vector<std::uint64_t> parts;
  attrib::for_each_component(nb, 0b1101, [&](std::uint64_t c) { parts.push_back(c); });
  CHECK(parts == std::vector<std::uint64_t>{0b0001, 0b1100});
  CHECK(attrib::boundary_of(nb, 0b0010) == 0b0101);
}

TEST_CASE("graph_restricted_game and the Myerson value on a 3-node path") {
  // Path 0-1-2 with v(S) = |S|^2. The restricted game: singletons 1, {0,1} = {1,2} = 4,
  // {0,2} = 1 + 1 = 2 (two components), {0,1,2} = 9. Node 0's marginal contributions over the
  // six orders 012, 021, 102, 120, 201, 210 are 1, 1, 3, 5, 1, 5: 16/6 = 8/3. By symmetry node 2
  // gets 8/3 and, by efficiency, node 1 gets 9 - 16/3 = 11/3 (orders: 3, 7, 1, 1, 7, 3).
  const auto square = attrib::coalition_game(3, [](std::uint64_t m) {
    const double s = std::popcount(m);
    return s * s;
  });
  const attrib::graph_restricted_game restricted(square, path_graph(3));
  CHECK(restricted.value(0b101) == doctest::Approx(2.0));
  CHECK(restricted.value(0b111) == doctest::Approx(9.0));
  attrib::matrix rows(2, 3);
  rows << 1, 0, 1, 1, 1, 0;
  const attrib::vector batch = restricted.values(rows);
  CHECK(batch(0) == doctest::Approx(2.0));
  CHECK(batch(1) == doctest::Approx(4.0));

  const attrib::attribution my = attrib::myerson_value{}.explain(square, path_graph(3));
  CHECK(my.values(0) == doctest::Approx(8.0 / 3.0));
  CHECK(my.values(1) == doctest::Approx(11.0 / 3.0));
  CHECK(my.values(2) == doctest::Approx(8.0 / 3.0));
  CHECK(my.efficiency_gap() == doctest::Approx(0.0).epsilon(1e-12));

  // Unanimity game of {0, 2}: on the path it needs node 1 to connect them, so v/G = u_{0,1,2}
  // and each node gets 1/3 (the Shapley value of the unrestricted game gives node 1 nothing).
  const auto unanimity = attrib::coalition_game(3, [](std::uint64_t m) { return (m & 0b101) == 0b101 ? 1.0 : 0.0; });
  const attrib::attribution u = attrib::myerson_value{}.explain(unanimity, path_graph(3));
  for (Eigen::Index i = 0; i < 3; ++i) CHECK(u.values(i) == doctest::Approx(1.0 / 3.0));

  CHECK_THROWS_AS(attrib::graph_restricted_game(square, masks{0b010, 0b000, 0b000}), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::graph_restricted_game(square, masks{0b010, 0b001}), attrib::invalid_argument);
}

TEST_CASE("graph_restricted_game: batched values of a non-bitmask game match the bitmask path") {
  struct sum_game {  // v(S) = (sum of weights)^2, rows only
    Eigen::Index player_count() const { return 5; }
    attrib::vector values(const attrib::matrix& p) const {
      attrib::vector w(5);
      w << 1, -2, 3, 0.5, 2;
      return (p * w).array().square();
    }
  };
  const masks nb = random_graph(5, 0.4, 3);
  const attrib::graph_restricted_game rows_game(sum_game{}, nb);
  const auto bit_game = attrib::coalition_game(5, [](std::uint64_t m) {
    const double w[5] = {1, -2, 3, 0.5, 2};
    double s = 0;
    for (int j = 0; j < 5; ++j)
      if ((m >> j) & 1u) s += w[j];
    return s * s;
  });
  const attrib::attribution a = attrib::myerson_value{}.explain(sum_game{}, nb);
  const attrib::attribution b = attrib::myerson_value{}.explain(bit_game, nb);
  for (Eigen::Index i = 0; i < 5; ++i) CHECK(a.values(i) == doctest::Approx(b.values(i)).epsilon(1e-12));
}

TEST_CASE("Myerson value axioms: component efficiency and fairness (Myerson 1977)") {
  for (std::uint64_t trial = 0; trial < 6; ++trial) {
    const int n = 5 + static_cast<int>(trial % 3);
    const masks nb = random_graph(n, 0.5, 300 + trial);
    const auto g = random_table_game(n, 400 + trial);
    const attrib::attribution phi = attrib::myerson_value{}.explain(g, nb);
    attrib::for_each_component(nb, (std::uint64_t{1} << n) - 1, [&](std::uint64_t c) {
      double total = 0;
      for (std::uint64_t m = c; m != 0; m &= m - 1) total += phi.values(std::countr_zero(m));
      CHECK(total == doctest::Approx(g.value(c)).epsilon(1e-10));
    });
    // Fairness: deleting edge {i, j} changes i's and j's values by the same amount.
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) {
        if (!((nb[static_cast<std::size_t>(i)] >> j) & 1u)) continue;
        masks cut = nb;
        cut[static_cast<std::size_t>(i)] &= ~(std::uint64_t{1} << j);
        cut[static_cast<std::size_t>(j)] &= ~(std::uint64_t{1} << i);
        const attrib::attribution after = attrib::myerson_value{}.explain(g, cut);
        CHECK(phi.values(i) - after.values(i) == doctest::Approx(phi.values(j) - after.values(j)).epsilon(1e-10));
      }
  }
}

TEST_CASE("hn_value equals the Shapley value on a complete graph (Hamiache 2001), 0 < tau < 2/n") {
  const int n = 6;
  const auto g = random_table_game(n, 11);
  const attrib::attribution shapley = attrib::exact_shapley{}.explain(g);
  for (double tau : {0.01, 0.1, 0.2, 0.3, 0.33}) {
    for (bool fast : {true, false}) {
      attrib::hn_value hn{.tau = tau, .tolerance = 1e-12, .fast_step = fast};
      const attrib::hn_result r = hn.run(g, complete_graph(n));
      CAPTURE(tau);
      CHECK(r.values.fit.converged);
      for (Eigen::Index i = 0; i < n; ++i) CHECK(r.values.values(i) == doctest::Approx(shapley.values(i)).epsilon(1e-8));
    }
  }
}

TEST_CASE("hn_value: the unanimity-game examples of GStarX's utils.py (Hamiache-Navarro)") {
  // v = u_N on small graphs, with the HN values GStarX asserts (to rtol 1e-3, since it stops at
  // H^128); the exact limit matches them to 1e-9.
  struct example {
    int n;
    std::vector<std::pair<int, int>> edges;
    std::vector<double> values;
  };
  const std::vector<example> examples = {
      {4, {{0, 1}, {0, 2}, {0, 3}, {1, 2}}, {4. / 9, 7. / 36, 7. / 36, 1. / 6}},
      {4, {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}}, {5. / 18, 5. / 18, 2. / 9, 2. / 9}},
      {5, {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 4}}, {7. / 36, 7. / 36, 10. / 27, 7. / 54, 1. / 9}},
      {5, {{0, 1}, {0, 2}, {0, 3}, {0, 4}, {1, 2}, {1, 3}, {3, 4}, {2, 4}}, {3. / 14, 11. / 56, 11. / 56, 11. / 56, 11. / 56}},
      {5, {{0, 1}, {0, 2}, {0, 3}, {1, 4}}, {5. / 12, 11. / 36, 7. / 72, 7. / 72, 1. / 12}},
  };
  for (const auto& ex : examples) {
    masks nb(static_cast<std::size_t>(ex.n), 0);
    for (auto [a, b] : ex.edges) {
      nb[static_cast<std::size_t>(a)] |= std::uint64_t{1} << b;
      nb[static_cast<std::size_t>(b)] |= std::uint64_t{1} << a;
    }
    const std::uint64_t all = (std::uint64_t{1} << ex.n) - 1;
    const auto unanimity = attrib::coalition_game(ex.n, [all](std::uint64_t m) { return m == all ? 1.0 : 0.0; });
    const attrib::hn_result r = attrib::hn_value{.tau = 0.05, .tolerance = 1e-13}.run(unanimity, nb);
    for (Eigen::Index i = 0; i < ex.n; ++i)
      CHECK(r.values.values(i) == doctest::Approx(ex.values[static_cast<std::size_t>(i)]).epsilon(1e-9));
  }
}

TEST_CASE("hn_value rejects tau outside (0, 2/n)") {
  const auto g = random_table_game(4, 1);
  for (double tau : {0.0, -0.1, 0.5, 0.7, std::nan("")})
    CHECK_THROWS_AS(attrib::hn_value{.tau = tau}.run(g, complete_graph(4)), attrib::invalid_argument);
  CHECK_NOTHROW(attrib::hn_value{.tau = 0.49}.run(g, complete_graph(4)));
  CHECK_THROWS_AS(attrib::hn_value{}.run(g, masks{0b0010, 0, 0, 0}), attrib::invalid_argument);  // asymmetric
  CHECK_THROWS_AS(attrib::hn_value{}.run(g, masks{0b0001, 0, 0, 0}), attrib::invalid_argument);  // self-loop
  CHECK_THROWS_AS(attrib::hn_value{}.run(g, masks{0, 0, 0}), attrib::invalid_argument);          // wrong size
  CHECK_THROWS_AS(attrib::hn_value{.max_exact_nodes = 30}.run(g, complete_graph(4)), attrib::invalid_argument);
}

TEST_CASE("hn_value matches the dense matrix-power definition on graphs of <= 8 nodes") {
  for (std::uint64_t trial = 0; trial < 12; ++trial) {
    const int n = 3 + static_cast<int>(trial % 6);
    const masks nb = random_graph(n, 0.25 + 0.15 * static_cast<double>(trial % 4), 100 + trial);
    const auto g = random_table_game(n, 200 + trial);
    CAPTURE(trial);
    // The limit: dense H (tau = 1/n) squared until H^2 = H; the iterations step with 1/n (fast)
    // and with 0.05 (slow): the same limit, as H = I + tau B predicts.
    const double tau = 1.0 / static_cast<double>(n);
    const auto dense = attrib::hn_matrix_power{.tau = tau}.run(g, nb);
    const attrib::hn_result fast = attrib::hn_value{.tau = 0.01, .tolerance = 1e-13}.run(g, nb);
    const attrib::hn_result slow =
        attrib::hn_value{.tau = 0.05, .tolerance = 1e-13, .fast_step = false}.run(g, nb, {.threads = 2});
    CHECK(fast.values.fit.converged);
    for (Eigen::Index i = 0; i < n; ++i) {
      CHECK(fast.values.values(i) == doctest::Approx(dense.values(i)).epsilon(1e-7));
      CHECK(slow.values.values(i) == doctest::Approx(dense.values(i)).epsilon(1e-7));
    }
    // Efficiency on every component of the graph.
    attrib::for_each_component(nb, (std::uint64_t{1} << n) - 1, [&](std::uint64_t c) {
      double total = 0;
      for (std::uint64_t m = c; m != 0; m &= m - 1) total += fast.values.values(std::countr_zero(m));
      CHECK(total == doctest::Approx(g.value(c)).epsilon(1e-7));
    });
    // GStarX's truncation: tau = 0.01 and H^128 by 7 squarings equals 128 iterations on vectors.
    const auto gstarx = attrib::hn_matrix_power{.tau = 0.01, .max_squarings = 7, .threshold = 0.0}.run(g, nb);
    const attrib::hn_result truncated =
        attrib::hn_value{.tau = 0.01, .tolerance = 0.0, .max_iterations = 128, .fast_step = false}.run(g, nb);
    CHECK(truncated.iterations == 128);
    for (Eigen::Index i = 0; i < n; ++i) CHECK(truncated.values.values(i) == doctest::Approx(gstarx.values(i)).epsilon(1e-9));
  }
}

TEST_CASE("hn_value: additive games are fixed points, exact and sampled") {
  attrib::rng r(5);
  std::vector<double> w(30);
  for (auto& x : w) x = r.normal();
  struct additive {
    std::vector<double> w;
    Eigen::Index player_count() const { return static_cast<Eigen::Index>(w.size()); }
    attrib::vector values(const attrib::matrix& p) const {
      return p * Eigen::Map<const attrib::vector>(w.data(), static_cast<Eigen::Index>(w.size()));
    }
  };
  attrib::rng gr(9);
  const attrib::graph base = attrib::barabasi_albert(30, 2, gr);
  const masks nb = attrib::neighbor_masks(base);
  const additive game{w};
  const attrib::hn_value hn{.tau = 0.01};
  const attrib::hn_result sampled = hn.run(game, nb, {.seed = 3, .threads = 2});
  CHECK(sampled.samples >= 30);
  for (Eigen::Index i = 0; i < 30; ++i) CHECK(sampled.values.values(i) == doctest::Approx(w[static_cast<std::size_t>(i)]));
  // Same seed, same samples, whatever the thread count.
  const attrib::hn_result again = hn.run(game, nb, {.seed = 3, .threads = 1});
  CHECK(again.samples == sampled.samples);
  const additive small{std::vector<double>(w.begin(), w.begin() + 12)};
  const attrib::hn_result exact = hn.run(small, random_graph(12, 0.3, 4));
  CHECK(exact.samples == 0);
  for (Eigen::Index i = 0; i < 12; ++i) CHECK(exact.values.values(i) == doctest::Approx(w[static_cast<std::size_t>(i)]));
}

TEST_CASE("generators: BA-Shapes and BA-2Motifs") {
  const attrib::labeled_graph shapes = attrib::ba_shapes(1);
  CHECK(attrib::node_count(shapes.structure) == 300 + 80 * 5);
  CHECK(shapes.ground_truth.size() == 700);
  CHECK(std::count(shapes.ground_truth.begin(), shapes.ground_truth.end(), 1) == 400);
  CHECK(shapes.structure[650].label >= 1);
  CHECK(shapes.structure[0].label == 0);
  const auto motifs = attrib::ba_2motifs(7, 20);
  CHECK(motifs.size() == 20);
  for (const auto& lg : motifs) {
    CHECK(attrib::node_count(lg.structure) == 25);
    CHECK(boost::num_edges(lg.structure) == 19 + (lg.label == 0 ? 6 : 5) + 1);
    CHECK(attrib::is_connected(attrib::neighbor_masks(lg.structure), (std::uint64_t{1} << 25) - 1));
  }
  // Seeded: same seed, same graphs.
  const auto again = attrib::ba_2motifs(7, 20);
  CHECK(attrib::neighbor_masks(again[3].structure) == attrib::neighbor_masks(motifs[3].structure));
}

TEST_CASE("read_tu_dataset: MUTAG") {
  const attrib::graph_dataset mutag = attrib::read_tu_dataset(std::string(ATTRIB_DATA_DIR) + "/graphs/MUTAG", "MUTAG");
  REQUIRE(mutag.graphs.size() == 188);
  CHECK(mutag.classes() == 2);
  CHECK(mutag.node_label_values.size() == 7);
  Eigen::Index nodes = 0, edges = 0, positive = 0;
  for (const auto& lg : mutag.graphs) {
    nodes += attrib::node_count(lg.structure);
    edges += static_cast<Eigen::Index>(boost::num_edges(lg.structure));
    positive += lg.label;
  }
  CHECK(nodes == 3371);
  CHECK(edges == 3721);
  CHECK(positive == 125);
  const auto& first = mutag.graphs[0];
  CHECK(attrib::node_count(first.structure) == 17);
  CHECK(first.label == 1);
  CHECK(first.structure[14].label == 1);  // N of the NO2 group
  CHECK(attrib::feature_matrix(first.structure).rowwise().sum().isOnes());
}

TEST_CASE("read_tu_dataset: malformed files are format errors") {
  const auto dir = std::filesystem::temp_directory_path() / "attrib_tu_test";
  std::filesystem::create_directories(dir);
  const auto write = [&](const std::string& file, const std::string& text) { std::ofstream(dir / file) << text; };
  const auto good = [&] {
    write("T_A.txt", "1, 2\n2, 1\n3, 4\n4, 3\n");
    write("T_graph_indicator.txt", "1\n1\n2\n2\n");
    write("T_graph_labels.txt", "1\n-1\n");
    write("T_node_labels.txt", "0\n1\n0\n2\n");
  };
  good();
  const attrib::graph_dataset ok = attrib::read_tu_dataset(dir, "T");
  CHECK(ok.graphs.size() == 2);
  CHECK(ok.graphs[1].label == 0);
  write("T_A.txt", "1, 2\n2, 9\n");
  CHECK_THROWS_AS(attrib::read_tu_dataset(dir, "T"), attrib::format_error);  // node id out of range
  good();
  write("T_A.txt", "1, 2\n2, 3\n");
  CHECK_THROWS_AS(attrib::read_tu_dataset(dir, "T"), attrib::format_error);  // edge between graphs
  good();
  write("T_A.txt", "1, x\n");
  CHECK_THROWS_AS(attrib::read_tu_dataset(dir, "T"), attrib::format_error);  // not an integer
  good();
  write("T_graph_labels.txt", "1\n-1\n1\n");
  CHECK_THROWS_AS(attrib::read_tu_dataset(dir, "T"), attrib::format_error);  // graph 3 is empty
  good();
  write("T_node_labels.txt", "0\n1\n");
  CHECK_THROWS_AS(attrib::read_tu_dataset(dir, "T"), attrib::format_error);  // too few node labels
  good();
  write("T_graph_indicator.txt", "");
  CHECK_THROWS_AS(attrib::read_tu_dataset(dir, "T"), attrib::format_error);  // no nodes
  CHECK_THROWS_AS(attrib::read_tu_dataset(dir, "missing"), attrib::format_error);
  std::filesystem::remove_all(dir);

  // One-hot node features: 20,000 nodes with 20,000 distinct labels would be 3.2 GB of features
  // from a 200 KB file; refused before anything is allocated.
  std::string indicator, labels;
  for (int i = 0; i < 20000; ++i) {
    indicator += "1\n";
    labels += std::to_string(i) + "\n";
  }
  CHECK_THROWS_WITH_AS(attrib::parse_tu_dataset({"", indicator, "0\n", labels, ""}, "B"),
                       doctest::Contains("20000 nodes with 20000 distinct node labels need"), attrib::format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_tu_dataset({"1 2 3\n", "1\n1\n1\n", "0\n", "0\n0\n0\n", ""}, "B"),
                       doctest::Contains("B_A.txt line 1: expected 2 integer(s), got '1 2 3'"), attrib::format_error);
}

// Molecules hand-counted from their structure formulas, not from the reader.
TEST_CASE("parse_smiles: benzene, caffeine, charged and bracket atoms, %nn ring closures") {
  const attrib::molecule benzene = attrib::parse_smiles("c1ccccc1");
  REQUIRE(benzene.atoms.size() == 6);
  REQUIRE(benzene.bonds.size() == 6);
  for (const auto& a : benzene.atoms) CHECK((a.element == 6 && a.aromatic && !a.bracket));
  for (const auto& b : benzene.bonds) CHECK(b.type == attrib::bond_type::aromatic);

  // Caffeine, C8H10N4O2: 14 heavy atoms; two fused rings, so 14 - 1 + 2 = 15 bonds. Kekulé and
  // aromatic spellings give the same graph: 9 aromatic ring atoms, 10 aromatic ring bonds, the two
  // C=O double (the Kekulé rings by Hückel: imidazole 6 pi electrons, the pyrimidinedione ring 6,
  // with 0 from each exocyclic C=O and 2 from each N without a double bond).
  for (const char* caffeine : {"CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "Cn1cnc2c1c(=O)n(c(=O)n2C)C"}) {
    const attrib::molecule m = attrib::parse_smiles(caffeine);
    CHECK(m.atoms.size() == 14);
    CHECK(m.bonds.size() == 15);
    int carbon = 0, nitrogen = 0, oxygen = 0, aromatic = 0, doubles = 0, aromatic_bonds = 0;
    for (const auto& a : m.atoms) {
      carbon += a.element == 6;
      nitrogen += a.element == 7;
      oxygen += a.element == 8;
      aromatic += a.aromatic;
    }
    for (const auto& b : m.bonds) {
      doubles += b.type == attrib::bond_type::double_bond;
      aromatic_bonds += b.type == attrib::bond_type::aromatic;
    }
    CHECK(carbon == 8);
    CHECK(nitrogen == 4);
    CHECK(oxygen == 2);
    CHECK(aromatic == 9);
    CHECK(aromatic_bonds == 10);
    CHECK(doubles == 2);
  }
  const attrib::molecule kekule = attrib::parse_smiles("CN1C=NC2=C1C(=O)N(C(=O)N2C)C", {.perceive_aromaticity = false});
  int written_doubles = 0;
  for (const auto& b : kekule.bonds) written_doubles += b.type == attrib::bond_type::double_bond;
  CHECK(written_doubles == 4);  // as written: C=N, C=C and two C=O

  const attrib::molecule ammonium = attrib::parse_smiles("C[NH2+]C");
  REQUIRE(ammonium.atoms.size() == 3);
  const attrib::atom& n = ammonium.atoms[1];
  CHECK((n.element == 7 && n.charge == 1 && n.hydrogens == 2 && n.bracket && n.position == 1));
  const attrib::atom exotic = attrib::parse_smiles("[13CH3-:7]").atoms.at(0);
  CHECK((exotic.element == 6 && exotic.isotope == 13 && exotic.hydrogens == 3 && exotic.charge == -1));
  CHECK(attrib::parse_smiles("[Ca++]").atoms.at(0).charge == 2);
  CHECK(attrib::parse_smiles("[Fe-3]").atoms.at(0).charge == -3);
  CHECK(attrib::parse_smiles("[Sc]").atoms.at(0).element == 21);  // two letters win inside brackets
  CHECK(attrib::parse_smiles("[se]1cccc1").atoms.at(0).element == 34);
  const attrib::molecule chiral = attrib::parse_smiles("N[C@@H](C)C(=O)O");  // L-alanine
  CHECK(chiral.atoms.size() == 6);
  CHECK(chiral.atoms[1].chirality == "@@");
  CHECK(chiral.atoms[1].hydrogens == 1);

  // Cyclodecane through ring number %10; ring bond symbols at either end.
  const attrib::molecule decane = attrib::parse_smiles("C%10CCCCCCCCC%10");
  CHECK(decane.atoms.size() == 10);
  CHECK(decane.bonds.size() == 10);
  const attrib::molecule hexene = attrib::parse_smiles("C=1CCCCC1");
  REQUIRE(hexene.bonds.size() == 6);
  CHECK((hexene.bonds.back().a == 0 && hexene.bonds.back().b == 5 &&
         hexene.bonds.back().type == attrib::bond_type::double_bond));
  const attrib::molecule butene = attrib::parse_smiles("F/C=C/F");
  REQUIRE(butene.bonds.size() == 3);
  CHECK((butene.bonds[0].direction == '/' && butene.bonds[1].type == attrib::bond_type::double_bond));
  CHECK(attrib::parse_smiles("CC#N").bonds[1].type == attrib::bond_type::triple);
  CHECK(attrib::parse_smiles("c1ccccc1-c1ccccc1").bonds[6].type == attrib::bond_type::single);  // biphenyl link

  // Branches: isobutane's centre has three neighbours.
  const attrib::molecule isobutane = attrib::parse_smiles("CC(C)C");
  CHECK(isobutane.bonds.size() == 3);
  for (const auto& b : isobutane.bonds) CHECK((b.a == 1 || b.b == 1));
}

TEST_CASE("parse_smiles: Kekulé rings are perceived aromatic by Hückel's rule, and only those") {
  // (SMILES, aromatic atoms, aromatic bonds), counted from the structures.
  const std::vector<std::tuple<const char*, int, int>> cases = {
      {"C1=CC=CC=C1", 6, 6},            // benzene
      {"C1=CC=C2C=CC=CC2=C1", 10, 11},  // naphthalene, fusion bond single in this Kekulé form
      {"C1=CC2=CC=CC=C2C=C1", 10, 11},  // naphthalene, fusion bond double
      {"C1=CC=C2C(=C1)C=CN2", 9, 10},   // indole
      {"C1=CNC=C1", 5, 5},              // pyrrole: N lone pair
      {"C1=CSC=C1", 5, 5},              // thiophene
      {"O=C1NC=CC=C1", 6, 6},           // 2-pyridone: exocyclic C=O gives 0 electrons
      {"C1=CCCCC1", 0, 0},              // cyclohexene: sp3 carbons
      {"C1=CCC=C1", 0, 0},              // cyclopentadiene: 4 electrons and a CH2
      {"O=C1C=CC(=O)C=C1", 0, 0},       // 1,4-benzoquinone: 4 electrons
      {"C1=CC=CC=CC=C1", 0, 0},         // cyclooctatetraene: 8-rings are not perceived
  };
  for (const auto& [smiles, atoms, bonds] : cases) {
    CAPTURE(smiles);
    const attrib::molecule m = attrib::parse_smiles(smiles);
    int aromatic_atoms = 0, aromatic_bonds = 0;
    for (const auto& a : m.atoms) aromatic_atoms += a.aromatic;
    for (const auto& b : m.bonds) aromatic_bonds += b.type == attrib::bond_type::aromatic;
    CHECK(aromatic_atoms == atoms);
    CHECK(aromatic_bonds == bonds);
  }
}

TEST_CASE("parse_smiles: explicit hydrogens fold into their atom; fragments keep the largest or are refused") {
  // BBBP line 40: 4-iodo-aniline ring on a hydroxy-benzothiazole, with N([H])[H] and O[H].
  const attrib::molecule m = attrib::parse_smiles("IC1=C(N([H])[H])C=CC(C2=NC3=CC=C(O[H])C=C3S2)=C1");
  CHECK(m.atoms.size() == 18);  // I, 13 C, 2 N, O, S
  for (const auto& a : m.atoms) CHECK(a.element != 1);
  CHECK(m.atoms[3].hydrogens == 2);  // the amine N
  CHECK(attrib::parse_smiles("[H][H]").atoms.size() == 2);  // H2 has no heavy atom to fold into

  const attrib::molecule salt = attrib::parse_smiles("[Na+].CC(=O)[O-]");
  CHECK(salt.fragments == 2);
  CHECK(salt.dropped_atoms == 1);
  REQUIRE(salt.atoms.size() == 4);
  CHECK(salt.atoms[3].charge == -1);
  CHECK(attrib::parse_smiles("C1.C1").fragments == 1);  // a ring bond joins the parts
  CHECK_THROWS_WITH_AS(attrib::parse_smiles("[Na+].[Cl-]", {.fragments = attrib::smiles_fragments::refuse}),
                       doctest::Contains("has 2 fragments"), attrib::format_error);
}

TEST_CASE("parse_smiles: malformed strings are format errors naming the position and the expectation") {
  const auto error = [](std::string_view smiles) {
    try {
      attrib::parse_smiles(smiles);
    } catch (const attrib::format_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error("C1CC") == "smiles: character 2 of 'C1CC': ring 1 is opened but never closed; expected a second '1'");
  CHECK(error("C%12CC") == "smiles: character 2 of 'C%12CC': ring 12 is opened but never closed; expected a second '%12'");
  CHECK(error("CC(C") == "smiles: character 3 of 'CC(C': '(' is never closed; expected ')'");
  CHECK(error("CC)C") == "smiles: character 3 of 'CC)C': ')' without an open '('");
  CHECK(error("C[Xy]") == "smiles: character 3 of 'C[Xy]': unknown element 'Xy'; expected an element symbol "
                          "(aromatic: b c n o p s se as te)");
  CHECK(error("") == "smiles: empty string; expected at least one atom");
  CHECK(error("CC!") == "smiles: character 3 of 'CC!': unexpected character '!'; expected an atom, bond, branch, "
                        "ring number or '.'");
  CHECK(error("CC C").find("character 3") != std::string::npos);  // no title after a blank
  CHECK(error("C=").find("ends after a bond symbol") != std::string::npos);
  CHECK(error("=C").find("needs an atom before it") != std::string::npos);
  CHECK(error("C==C").find("two bond symbols in a row") != std::string::npos);
  CHECK(error("C()C").find("empty branch") != std::string::npos);
  CHECK(error("C(=)C").find("character 4") != std::string::npos);
  CHECK(error("C..C").find("two '.' in a row") != std::string::npos);
  CHECK(error("C.").find("ends after '.'") != std::string::npos);
  CHECK(error(".C").find("character 1") != std::string::npos);
  CHECK(error("1CC1").find("ring number needs an atom") != std::string::npos);
  CHECK(error("C11").find("closes on the atom that opened it") != std::string::npos);
  CHECK(error("C12CCCC12").find("second bond between the same two atoms") != std::string::npos);
  CHECK(error("C=1CCCCC#1").find("opened with bond '=' and closed with '#'") != std::string::npos);
  CHECK(error("C%1C").find("'%' must be followed by two digits") != std::string::npos);
  CHECK(error("[C").find("ends inside [...]") != std::string::npos);
  CHECK(error("[CH4+x]").find("character 6") != std::string::npos);
  CHECK(error("[*]").find("wildcard") != std::string::npos);
  CHECK(error("[1234C]").find("isotope has more than 3 digits") != std::string::npos);
  CHECK(error("[C+16]").find("outside -15..+15") != std::string::npos);
  CHECK(error("X").find("not an organic-subset atom") != std::string::npos);
  CHECK(error("Ca").find("character 2") != std::string::npos);  // calcium needs brackets; 'a' is no atom
  // Long strings: the message shows the neighbourhood of the failure, and absurd lengths are refused.
  const std::string long_chain = std::string(300, 'C') + "(";
  CHECK(error(long_chain).find("character 301 of '...CCCC") != std::string::npos);
  CHECK_THROWS_WITH_AS(attrib::parse_smiles(std::string(10'001, 'C')), doctest::Contains("more than max_length = 10000"),
                       attrib::format_error);
  // Deep nesting is a loop, not recursion: 3,000 nested branches cost no stack.
  std::string deep = "C";
  for (int i = 0; i < 3000; ++i) deep += "(C";
  deep += std::string(3000, ')');
  CHECK(attrib::parse_smiles(deep).atoms.size() == 3001);
}

TEST_CASE("molecule_graph: one-hot element, charge and aromatic flags, bond types as edge types") {
  const attrib::graph g = attrib::molecule_graph(attrib::parse_smiles("c1cc[nH+]cc1[O-]"), {6, 7, 8});
  REQUIRE(attrib::node_count(g) == 7);
  CHECK(boost::num_edges(g) == 7);
  const attrib::matrix x = attrib::feature_matrix(g);
  REQUIRE(x.cols() == 6);  // C N O, then +, -, aromatic
  attrib::vector n(6), o(6);
  n << 0, 1, 0, 1, 0, 1;
  o << 0, 0, 1, 0, 1, 0;
  CHECK(x.row(3).transpose() == n);
  CHECK(x.row(6).transpose() == o);
  CHECK(g[3].label == 1);
  CHECK(g[boost::edge(5, 6, g).first].type == static_cast<int>(attrib::bond_type::single));
  CHECK(g[boost::edge(0, 1, g).first].type == static_cast<int>(attrib::bond_type::aromatic));
  CHECK_THROWS_WITH_AS(attrib::molecule_graph(attrib::parse_smiles("CS"), {6, 7, 8}),
                       doctest::Contains("atom 1 is S, which is not in the element vocabulary"),
                       attrib::invalid_argument);
}

TEST_CASE("read_smiles_csv: BBBP and BACE parse in full; bad rows are named or skipped") {
  // Row and label counts from the datasets' SOURCE.md (MoleculeNet / chemprop), not from the reader.
  const auto bbbp = attrib::read_smiles_csv(std::string(ATTRIB_DATA_DIR) + "/graphs/bbbp/bbbp.csv",
                                            {.smiles_column = "smiles", .label_column = "p_np"});
  CHECK(bbbp.data.graphs.size() == 2039);
  CHECK(bbbp.refused.empty());
  CHECK(bbbp.reduced_to_largest_fragment == 105);  // the 105 multi-fragment rows SOURCE.md counts
  CHECK(bbbp.data.class_values == std::vector<long>{0, 1});
  const auto bace = attrib::read_smiles_csv(std::string(ATTRIB_DATA_DIR) + "/graphs/bace/bace.csv",
                                            {.smiles_column = "mol", .label_column = "Class"});
  CHECK(bace.data.graphs.size() == 1513);
  CHECK(bace.refused.empty());
  CHECK(bace.reduced_to_largest_fragment == 0);
  int bbbp_positive = 0, bace_positive = 0;
  for (const auto& g : bbbp.data.graphs) bbbp_positive += g.label;
  for (const auto& g : bace.data.graphs) bace_positive += g.label;
  CHECK(bbbp_positive == 1560);
  CHECK(bace_positive == 691);
  // BBBP's first row, "[Cl].CC(C)NCC(O)COc1cccc2ccccc12" (propranolol hydrochloride): 19 heavy atoms
  // and 20 bonds once the chloride is dropped; 10 elements, so 13 features per node.
  const auto& first = bbbp.data.graphs[0].structure;
  CHECK(attrib::node_count(first) == 19);
  CHECK(boost::num_edges(first) == 20);
  CHECK(bbbp.elements() == std::vector<int>{5, 6, 7, 8, 9, 15, 16, 17, 35, 53});
  CHECK(attrib::feature_matrix(first).cols() == 13);

  const std::string text = "id,smiles,y\n1,CCO,1\n2,C1CC,0\n3,c1ccccc1,0\n";
  CHECK_THROWS_WITH_AS(attrib::parse_smiles_csv(text, {.label_column = "y"}, "t.csv"),
                       doctest::Contains("t.csv: line 3, column 2: smiles: character 2 of 'C1CC': ring 1"),
                       attrib::format_error);
  const auto skipped = attrib::parse_smiles_csv(text, {.label_column = "y", .skip_invalid = true}, "t.csv");
  CHECK(skipped.data.graphs.size() == 2);
  REQUIRE(skipped.refused.size() == 1);
  CHECK(skipped.refused[0].line == 3);
  CHECK(skipped.lines == std::vector<std::size_t>{2, 4});
  CHECK(skipped.elements() == std::vector<int>{6, 8});
  CHECK_THROWS_WITH_AS(attrib::parse_smiles_csv(text, {.label_column = "p_np"}, "t.csv"),
                       doctest::Contains("no column named 'p_np' in the header; expected one of: id, smiles, y"),
                       attrib::format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_smiles_csv("smiles,y\nCC,0.5\n", {.label_column = "y"}, "t.csv"),
                       doctest::Contains("line 2, column 2: expected an integer class label, got '0.5'"),
                       attrib::format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_smiles_csv("smiles,y\nCC\n", {.label_column = "y"}, "t.csv"),
                       doctest::Contains("expected 2 cells as in the header, found 1"), attrib::format_error);
  CHECK_THROWS_AS(attrib::parse_smiles_csv("", {.label_column = "y"}), attrib::format_error);
  CHECK_THROWS_AS(attrib::parse_smiles_csv("smiles,y\n", {.label_column = "y"}), attrib::format_error);
  CHECK_THROWS_AS(attrib::parse_smiles_csv(text, {}), attrib::invalid_argument);
  // A given vocabulary refuses other elements, so a model's input width stays fixed.
  const auto fixed = attrib::parse_smiles_csv("smiles,y\nCCO,1\nCCS,0\n",
                                              {.label_column = "y", .skip_invalid = true, .elements = {6, 8}});
  CHECK(fixed.data.graphs.size() == 1);
  REQUIRE(fixed.refused.size() == 1);
  CHECK(fixed.refused[0].reason.find("element S is not in the given vocabulary") != std::string::npos);
}

TEST_CASE("metrics: H-fidelity, top positive nodes, ROC-AUC") {
  // fid = 0.5, inv = 0.1, sp = 0.6: nF = 0.3, nI = 0.04, H = 1.3 * 0.96 / 2.26.
  const attrib::fidelity_scores f = attrib::h_fidelity(0.5, 0.1, 0.6);
  CHECK(f.normalized_fidelity == doctest::Approx(0.3));
  CHECK(f.normalized_inverse_fidelity == doctest::Approx(0.04));
  CHECK(f.harmonic == doctest::Approx(1.3 * 0.96 / 2.26));
  // A perfect explanation at sparsity 0.5 (fid = 1, inv = 0) scores (1.5 * 1) / 2.5 = 0.6.
  CHECK(attrib::h_fidelity(1.0, 0.0, 0.5).harmonic == doctest::Approx(0.6));
  attrib::vector scores(6);
  scores << 0.3, -1.0, 0.9, 0.0, 0.1, 0.5;
  CHECK(attrib::top_positive_nodes(scores, 0.5) == std::vector<Eigen::Index>{2, 5, 0});
  CHECK(attrib::top_positive_nodes(scores, 0.0) == std::vector<Eigen::Index>{2, 5, 0, 4});  // positives only
  CHECK(attrib::roc_auc(scores, {1, 0, 1, 0, 0, 1}) == doctest::Approx(1.0));
  CHECK(attrib::roc_auc(scores, {0, 1, 0, 1, 1, 0}) == doctest::Approx(0.0));
  attrib::vector tied = attrib::vector::Ones(4);
  CHECK(attrib::roc_auc(tied, {1, 0, 1, 0}) == doctest::Approx(0.5));
  CHECK_THROWS_AS(attrib::roc_auc(tied, {1, 1, 1, 1}), attrib::invalid_argument);
  // GStarX's edge cases: the whole graph as explanation, and the empty explanation.
  const auto p = [](const attrib::vector& keep) { return 0.2 + 0.1 * keep.sum(); };
  const attrib::fidelity_scores all = attrib::evaluate_coalition(p, 4, {0, 1, 2, 3});
  CHECK(all.fidelity == doctest::Approx(0.6));
  CHECK(all.inverse_fidelity == doctest::Approx(0.0));
  CHECK(all.sparsity == doctest::Approx(0.0));
  const attrib::fidelity_scores some = attrib::evaluate_coalition(p, 4, {1});
  CHECK(some.fidelity == doctest::Approx(0.6 - 0.5));
  CHECK(some.inverse_fidelity == doctest::Approx(0.6 - 0.3));
  CHECK(some.sparsity == doctest::Approx(0.75));
  const attrib::fidelity_accuracy fa = attrib::fidelity_plus_minus(1, 1, 0, 1);
  CHECK(fa.plus == 1.0);
  CHECK(fa.minus == 0.0);
}

TEST_CASE("gcn: analytic gradient matches finite differences") {
  attrib::rng r(3);
  const attrib::graph g = attrib::barabasi_albert(7, 2, r, 3);
  attrib::gcn_input in = attrib::make_gcn_input(g);
  for (Eigen::Index i = 0; i < in.features.size(); ++i) in.features.data()[i] = r.normal();
  for (auto readout : {attrib::gcn_readout::mean, attrib::gcn_readout::max, attrib::gcn_readout::sum})
  for (auto aggregation : {attrib::gcn_aggregation::normalized, attrib::gcn_aggregation::sum}) {
  attrib::gcn model({.readout = readout, .aggregation = aggregation, .inputs = 3, .hidden = 4, .layers = 2, .classes = 3}, 1);
  std::vector<attrib::matrix> gw;
  std::vector<attrib::vector> gb;
  for (const auto& w : model.weights()) gw.push_back(attrib::matrix::Zero(w.rows(), w.cols()));
  for (const auto& b : model.biases()) gb.push_back(attrib::vector::Zero(b.size()));
  model.accumulate_gradient(in, 2, gw, gb);
  const auto loss = [&] { return -std::log(model.probabilities(in)(2)); };
  const double h = 1e-6;
  for (std::size_t p = 0; p < gw.size(); ++p) {
    for (Eigen::Index k = 0; k < gw[p].size(); k += 3) {
      double& w = model.weights()[p].data()[k];
      const double saved = w;
      w = saved + h;
      const double up = loss();
      w = saved - h;
      const double down = loss();
      w = saved;
      CHECK(gw[p].data()[k] == doctest::Approx((up - down) / (2 * h)).epsilon(1e-5));
    }
    for (Eigen::Index k = 0; k < gb[p].size(); ++k) {
      double& b = model.biases()[p](k);
      const double saved = b;
      b = saved + h;
      const double up = loss();
      b = saved - h;
      const double down = loss();
      b = saved;
      CHECK(gb[p](k) == doctest::Approx((up - down) / (2 * h)).epsilon(1e-5));
    }
  }
  // Feature gradient (d log p_1 / d X, with node 5 removed) against finite differences.
  attrib::vector keep5 = attrib::vector::Ones(7);
  keep5(5) = 0;
  const attrib::matrix fg = model.feature_gradient(in, 1, keep5);
  for (Eigen::Index k = 0; k < in.features.size(); k += 2) {
    attrib::gcn_input moved = in;
    moved.features.data()[k] += h;
    const double up = std::log(model.probabilities(moved, keep5)(1));
    moved.features.data()[k] -= 2 * h;
    const double down = std::log(model.probabilities(moved, keep5)(1));
    CHECK(fg.data()[k] == doctest::Approx((up - down) / (2 * h)).epsilon(1e-5));
  }
  // Save and load round-trip exactly; a damaged file is a format error.
  std::stringstream file;
  model.save(file);
  const attrib::gcn loaded = attrib::gcn::load(file);
  CHECK((loaded.probabilities(in) - model.probabilities(in)).cwiseAbs().maxCoeff() == 0.0);
  std::stringstream damaged(file.str().substr(0, file.str().size() / 2));
  CHECK_THROWS_AS(attrib::gcn::load(damaged), attrib::format_error);
  std::stringstream wrong("attrib-gcn 2\n");
  CHECK_THROWS_AS(attrib::gcn::load(wrong), attrib::format_error);
  // Remove masking: dropping a node equals deleting it from the graph.
  attrib::vector keep = attrib::vector::Ones(7);
  keep(6) = 0;
  attrib::gcn_input smaller{in.adjacency.topLeftCorner(6, 6), in.features.topRows(6)};
  const attrib::vector a = model.probabilities(in, keep), b = model.probabilities(smaller);
  for (Eigen::Index c = 0; c < 3; ++c) CHECK(a(c) == doctest::Approx(b(c)).epsilon(1e-12));
  }
}

TEST_CASE("gcn on BA-2Motifs and MUTAG: training, the node game, HN value and H-fidelity") {
  struct dataset {
    std::vector<attrib::gcn_input> inputs;
    std::vector<int> labels;
    std::vector<std::vector<char>> truth;
  };
  const auto load = [](const std::vector<attrib::labeled_graph>& graphs) {
    dataset d;
    for (const auto& lg : graphs) {
      d.inputs.push_back(attrib::make_gcn_input(lg.structure));
      d.labels.push_back(lg.label);
      d.truth.push_back(lg.ground_truth);
    }
    return d;
  };
  const auto accuracy = [](const attrib::gcn& m, const dataset& d) {
    double hits = 0;
    for (std::size_t k = 0; k < d.inputs.size(); ++k) hits += m.predict(d.inputs[k]) == d.labels[k] ? 1.0 : 0.0;
    return hits / static_cast<double>(d.inputs.size());
  };

  SUBCASE("BA-2Motifs") {
    dataset d = load(attrib::ba_2motifs(1, 200));
    // From the papers' constant node features alone this GCN collapses to a constant predictor
    // (accuracy 0.5 after 100 epochs, any readout: with all-positive inputs and zero biases the
    // ReLUs act as the identity and the model is linear in the structure). Feature column 0 is
    // therefore replaced by the node degree; the other nine stay constant.
    for (auto& in : d.inputs)
      for (Eigen::Index i = 0; i < in.node_count(); ++i) in.features(i, 0) = in.adjacency.row(i).sum();
    attrib::gcn model({.inputs = 10, .hidden = 16, .layers = 3, .classes = 2}, 2);
    model.train(d.inputs, d.labels, {.epochs = 100, .learning_rate = 0.01, .seed = 3});
    const double acc = accuracy(model, d);
    MESSAGE("BA-2Motifs training accuracy " << acc);
    CHECK(acc >= 0.85);
    // One explained graph: 25 nodes, so the HN value is GStarX's sampled estimate.
    const double base = attrib::average_probability(model, d.inputs, 0);
    const attrib::node_removal_game game(model, d.inputs[0], model.predict(d.inputs[0]), base);
    const attrib::hn_result hn = attrib::hn_value{.tau = 0.01}.run(game, attrib::neighbor_masks(attrib::ba_2motifs(1, 1)[0].structure));
    CHECK(hn.samples >= 25);
    const attrib::fidelity_scores fs = attrib::evaluate_coalition(
        [&](const attrib::vector& keep) { return game.probability(keep); }, 25, attrib::top_positive_nodes(hn.values.values, 0.6));
    MESSAGE("BA-2Motifs graph 0: HN mask AUC " << attrib::roc_auc(hn.values.values, d.truth[0]) << ", H-fidelity "
                                                << fs.harmonic);
    CHECK(fs.harmonic > 0.0);
    CHECK(fs.harmonic < 1.0);
  }
  SUBCASE("MUTAG") {
    const attrib::graph_dataset mutag = attrib::read_tu_dataset(std::string(ATTRIB_DATA_DIR) + "/graphs/MUTAG", "MUTAG");
    const dataset d = load(mutag.graphs);
    attrib::gcn model({.inputs = 7, .hidden = 16, .layers = 3, .classes = 2}, 4);
    model.train(d.inputs, d.labels, {.epochs = 60, .learning_rate = 0.01, .seed = 5});
    const double acc = accuracy(model, d);
    MESSAGE("MUTAG training accuracy " << acc);
    CHECK(acc >= 0.75);
    // A graph of <= 20 nodes: exact HN value, Myerson value and occlusion from the same game.
    std::size_t k = 0;
    while (attrib::node_count(mutag.graphs[k].structure) > 14) ++k;
    const auto nb = attrib::neighbor_masks(mutag.graphs[k].structure);
    const double base = attrib::average_probability(model, d.inputs, model.predict(d.inputs[k]));
    const attrib::node_removal_game game(model, d.inputs[k], model.predict(d.inputs[k]), base);
    const attrib::hn_result hn = attrib::hn_value{.tau = 0.01}.run(game, nb, {.threads = 2});
    CHECK(hn.samples == 0);
    CHECK(hn.values.fit.converged);
    CHECK(hn.values.values.sum() == doctest::Approx(hn.values.prediction).epsilon(1e-6));  // efficiency (connected)
    const attrib::attribution my = attrib::myerson_value{}.explain(game, nb, {.threads = 2});
    const attrib::attribution occ = attrib::occlusion{}.explain(game);
    CHECK(my.values.sum() == doctest::Approx(hn.values.values.sum()).epsilon(1e-9));
    const auto h = [&](const attrib::vector& scores) {
      return attrib::evaluate_coalition([&](const attrib::vector& keep) { return game.probability(keep); },
                                        game.player_count(), attrib::top_positive_nodes(scores, 0.6))
          .harmonic;
    };
    const attrib::node_mask_result mask = attrib::node_mask_explainer{}.explain(model, d.inputs[k], game.target_class(), 7);
    CHECK(mask.final_loss < mask.initial_loss);
    CHECK(mask.scores.minCoeff() > 0.0);
    CHECK(mask.scores.maxCoeff() < 1.0);
    const attrib::node_mask_result again = attrib::node_mask_explainer{}.explain(model, d.inputs[k], game.target_class(), 7);
    CHECK(again.scores == mask.scores);
    MESSAGE("MUTAG graph " << k << " (" << game.player_count() << " nodes): H-fidelity HN " << h(hn.values.values)
                           << ", Myerson " << h(my.values) << ", occlusion " << h(occ.values) << ", node mask "
                           << h(mask.scores) << " (loss " << mask.initial_loss << " -> " << mask.final_loss << ")");
  }
}

TEST_CASE("k_shortest_paths (Yen) equals brute-force enumeration of simple paths") {
  for (std::uint64_t trial = 0; trial < 20; ++trial) {
    attrib::rng r(trial);
    const int n = 4 + static_cast<int>(trial % 5);
    attrib::weighted_adjacency out(static_cast<std::size_t>(n));
    for (int u = 0; u < n; ++u)
      for (int v = 0; v < n; ++v)
        if (u != v && r.uniform() < 0.45) out[static_cast<std::size_t>(u)].emplace_back(v, r.uniform() * 3.0);
    // Every simple path 0 -> n-1 by depth-first search, sorted by cost.
    std::vector<attrib::weighted_path> all;
    std::vector<Eigen::Index> stack{0};
    std::vector<char> on(static_cast<std::size_t>(n), 0);
    on[0] = 1;
    std::function<void(double)> dfs = [&](double cost) {
      const Eigen::Index u = stack.back();
      if (u == n - 1) {
        all.push_back({stack, cost});
        return;
      }
      for (const auto& [v, c] : out[static_cast<std::size_t>(u)]) {
        if (on[static_cast<std::size_t>(v)]) continue;
        on[static_cast<std::size_t>(v)] = 1;
        stack.push_back(v);
        dfs(cost + c);
        stack.pop_back();
        on[static_cast<std::size_t>(v)] = 0;
      }
    };
    dfs(0.0);
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.cost < b.cost; });
    const auto yen = attrib::k_shortest_paths(out, 0, n - 1, 6);
    CAPTURE(trial);
    REQUIRE(yen.size() == std::min<std::size_t>(6, all.size()));
    for (std::size_t k = 0; k < yen.size(); ++k) {
      CHECK(yen[k].nodes == all[k].nodes);
      CHECK(yen[k].cost == doctest::Approx(all[k].cost));
    }
  }
  attrib::weighted_adjacency bad(2);
  bad[0].emplace_back(1, -1.0);
  CHECK_THROWS_AS(attrib::k_shortest_paths(bad, 0, 1, 2), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::k_shortest_paths(bad, 0, 0, 2), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::k_shortest_paths(bad, 0, 5, 2), attrib::invalid_argument);
}

TEST_CASE("link_search_space: k-core of the 2-hop computation graphs equals the brute-force largest set") {
  for (std::uint64_t trial = 0; trial < 20; ++trial) {
    const int n = 6 + static_cast<int>(trial % 6);
    const masks nb = random_graph(n, 0.35, 500 + trial);
    attrib::graph g(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j)
        if ((nb[static_cast<std::size_t>(i)] >> j) & 1u) attrib::add_undirected_edge(g, i, j);
    const int src = 0, tgt = n - 1, k = 2;
    const auto got = attrib::link_search_space(g, src, tgt, 2, k);
    // Brute force: within 2 hops of src or tgt; the largest set holding both endpoints in which
    // every other node has >= k neighbours inside (unique: feasible sets are closed under union).
    std::uint64_t reach = 0;
    for (int e : {src, tgt}) {
      std::uint64_t r = std::uint64_t{1} << e;
      for (int h = 0; h < 2; ++h) r |= attrib::boundary_of(nb, r);
      reach |= r;
    }
    const std::uint64_t ends = (std::uint64_t{1} << src) | (std::uint64_t{1} << tgt);
    std::uint64_t best = ends;
    for (std::uint64_t s = reach; ; s = (s - 1) & reach) {
      if ((s & ends) == ends) {
        bool ok = true;
        for (std::uint64_t m = s & ~ends; m != 0 && ok; m &= m - 1)
          ok = std::popcount(nb[static_cast<std::size_t>(std::countr_zero(m))] & s) >= k;
        if (ok && std::popcount(s) > std::popcount(best)) best = s;
      }
      if (s == 0) break;
    }
    std::uint64_t mask = 0;
    for (int i = 0; i < n; ++i)
      if (got[static_cast<std::size_t>(i)]) mask |= std::uint64_t{1} << i;
    CAPTURE(trial);
    CHECK(mask == best);
  }
}
