// The MPI layer against its single-process counterparts, on however many ranks the test runs
// with (ctest runs 1, 2 and 3): rank 0's results must equal the local computation bit for bit,
// and a failure on one rank must reach every rank as the same named error.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "attrib/core/explain_instances.hpp"
#include "attrib/core/shards.hpp"
#include "attrib/games/component_game.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/methods/feature/banzhaf.hpp"
#include "attrib/methods/feature/occlusion.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/methods/data/semivalues.hpp"
#include "attrib/models/function_model.hpp"
#include "attrib/mpi/agreement.hpp"
#include "attrib/mpi/communicator.hpp"
#include "attrib/mpi/distributed_game.hpp"
#include "attrib/mpi/explain_game.hpp"
#include "attrib/mpi/explain_instances.hpp"
#include "attrib/mpi/shard_rows.hpp"
#include "attrib/mpi/sum_shards.hpp"
#include "attrib/perturbations/masking.hpp"
#include "attrib/transformer/model/random_model.hpp"

namespace {

using attrib::matrix;

// A block of rows whose values depend on the row and column only, irrational enough that any
// misplaced or re-rounded row shows.
matrix rows_of(attrib::index b, attrib::index e, attrib::index columns) {
  matrix out(e - b, columns);
  for (attrib::index i = b; i < e; ++i)
    for (attrib::index j = 0; j < columns; ++j) out(i - b, j) = std::sin(1.0 + static_cast<double>(i) * 0.37 + static_cast<double>(j));
  return out;
}

}  // namespace

TEST_CASE("shard_plan: shards depend on the item count alone and cover it in order") {
  for (attrib::index n : {0, 1, 7, 16, 17, 107, 1000}) {
    const attrib::shard_plan plan = attrib::shard_plan::of(n, 16);
    CHECK(plan.shards == (n + 15) / 16);
    attrib::index covered = 0;
    for (attrib::index s = 0; s < plan.shards; ++s) {
      CHECK(plan.begin(s) == covered);
      const attrib::index size = plan.end(s) - plan.begin(s);
      CHECK(size <= 16);
      CHECK((plan.shards == 1 || size >= 8));
      covered = plan.end(s);
    }
    CHECK(covered == n);
    for (int ranks : {1, 2, 3, 5}) {
      attrib::index next = 0;
      for (int r = 0; r < ranks; ++r) {
        const auto [b, e] = plan.items_of(r, ranks);
        CHECK(b == next);
        next = e;
      }
      CHECK(next == n);
    }
  }
  CHECK(attrib::shard_plan::of(100000, 1, 64).shards == 64);  // the cap: larger shards, never more
  CHECK_THROWS_WITH_AS(attrib::shard_plan::of(-1), doctest::Contains("expected >= 0"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::shard_plan::of(4).shards_of(2, 2), doctest::Contains("rank 2 of 2"),
                       attrib::invalid_argument);
}

TEST_CASE("gather_shard_rows: rank 0 holds the single-process stack, bit for bit") {
  const attrib::mpi::communicator world = attrib::mpi::communicator::world();
  // 1 item: fewer shards than ranks, so rank 0 may own none; 107: 7 uneven shards.
  for (attrib::index n : {1, 16, 107}) {
    const attrib::shard_plan plan = attrib::shard_plan::of(n, 16);
    const matrix local = attrib::stack_shards(plan, 0, plan.shards, 3, [](attrib::index b, attrib::index e) { return rows_of(b, e, 3); });
    const matrix gathered =
        attrib::mpi::gather_shard_rows(world, plan, 3, [](attrib::index b, attrib::index e) { return rows_of(b, e, 3); });
    if (world.is_root()) {
      REQUIRE(gathered.rows() == n);
      CHECK((gathered.array() == local.array()).all());
    } else {
      CHECK(gathered.size() == 0);
    }
  }
}

TEST_CASE("allgather_rows: every rank holds every rank's rows in rank order, bit for bit") {
  const attrib::mpi::communicator world = attrib::mpi::communicator::world();
  for (attrib::index n : {1, 16, 107}) {  // 1: ranks without rows
    const auto [b, e] = attrib::shard_plan::of(n).items_of(world.rank(), world.size());
    const matrix all = world.allgather_rows(rows_of(b, e, 3), 3);
    const matrix expected = rows_of(0, n, 3);
    REQUIRE(all.rows() == n);
    CHECK((all.array() == expected.array()).all());
  }
}

TEST_CASE("sum_shards: every rank holds the single-process sum in shard order, bit for bit") {
  const attrib::mpi::communicator world = attrib::mpi::communicator::world();
  // A 3 x 2 term per shard whose entries differ in magnitude across shards, so that adding the
  // shards in another order (or pairwise, as a reduction tree would) changes the last bits.
  auto block = [](attrib::index b, attrib::index e) {
    const matrix rows = rows_of(b, e, 6);
    matrix term(3, 2);
    const double magnitude = std::pow(10.0, static_cast<double>(b % 7));
    for (attrib::index j = 0; j < 6; ++j) term(j % 3, j / 3) = rows.col(j).sum() * magnitude;
    return term;
  };
  // 1 item: one shard, ranks without any; 107 and 1000: 7 and 16 (the cap) uneven shards.
  for (attrib::index n : {1, 107, 1000}) {
    const attrib::shard_plan plan = attrib::shard_plan::of(n, 16, 16);
    matrix in_order = matrix::Zero(3, 2);
    for (attrib::index s = 0; s < plan.shards; ++s) in_order += block(plan.begin(s), plan.end(s));
    if (plan.shards > 1) {  // the terms are such that the order of additions shows
      matrix reversed = matrix::Zero(3, 2);
      for (attrib::index s = plan.shards - 1; s >= 0; --s) reversed += block(plan.begin(s), plan.end(s));
      CHECK_FALSE((reversed.array() == in_order.array()).all());
    }
    const matrix local = attrib::sum_shards(plan, 3, 2, block);
    CHECK((local.array() == in_order.array()).all());
    const matrix shared = attrib::mpi::sum_shards(world, plan, 3, 2, block);
    REQUIRE(shared.rows() == 3);
    REQUIRE(shared.cols() == 2);
    CHECK((shared.array() == local.array()).all());
  }
  CHECK_THROWS_WITH_AS(attrib::sum_shards(attrib::shard_plan::of(0), 3, 2, block), doctest::Contains("no shard"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::sum_shards(attrib::shard_plan::of(5), 2, 2, block),
                       doctest::Contains("returned a 3 x 2 block; expected 2 x 2"), attrib::invalid_argument);
  // A rank whose term throws stops every rank with its message.
  const int last = world.size() - 1;
  auto refusing = [&](attrib::index b, attrib::index e) {
    if (world.rank() == last) throw attrib::invalid_argument("term refused");
    return block(b, e);
  };
  const attrib::shard_plan plan = attrib::shard_plan::of(107, 16, 16);
  if (!world.distributed()) {
    CHECK_THROWS_WITH_AS(attrib::mpi::sum_shards(world, plan, 3, 2, refusing), "term refused",
                         attrib::invalid_argument);
  } else {
    const std::string expected =
        "rank " + std::to_string(last) + " of " + std::to_string(world.size()) + ": term refused";
    CHECK_THROWS_WITH_AS(attrib::mpi::sum_shards(world, plan, 3, 2, refusing), expected.c_str(),
                         attrib::mpi::collective_error);
  }
}

namespace {

// A game of 7 players whose value saturates (tanh of a weighted count), so that TMC Shapley
// truncates its permutations after varying numbers of players and the waves it runs depend on
// what earlier waves spent. `refuse_on_rank` >= 0: that rank throws on any coalition that is
// neither empty nor full (the endpoints, which every rank computes, stay valid).
struct saturating_game {
  int refuse_on_rank = -1;
  int rank = 0;
  attrib::index player_count() const { return 7; }
  attrib::vector values(const matrix& coalitions) const {
    attrib::vector out(coalitions.rows());
    for (attrib::index r = 0; r < coalitions.rows(); ++r) {
      const double members = coalitions.row(r).sum();
      if (rank == refuse_on_rank && members > 0 && members < 7) throw attrib::invalid_argument("coalition refused");
      double weighted = 0;
      for (attrib::index j = 0; j < 7; ++j) weighted += coalitions(r, j) * (1.0 + 0.37 * static_cast<double>(j));
      out(r) = std::tanh(0.6 * weighted) + 0.01 * std::sin(weighted);
    }
    return out;
  }
};

void check_same(const attrib::attribution& got, const attrib::attribution& local) {
  REQUIRE(got.values.size() == local.values.size());
  CHECK((got.values.array() == local.values.array()).all());
  CHECK((got.standard_errors.array() == local.standard_errors.array()).all());
  CHECK(got.base_value == local.base_value);
  CHECK(got.prediction == local.prediction);
  CHECK(got.game_evaluations == local.game_evaluations);
  CHECK(got.method == local.method);
}

}  // namespace

TEST_CASE("mpi::explain_game: TMC Shapley and MSR Banzhaf equal one process on every rank, bit for bit") {
  const attrib::mpi::communicator world = attrib::mpi::communicator::world();
  const saturating_game g{.rank = world.rank()};
  const attrib::run_settings settings{.seed = 11, .threads = 2};
  // 8: one permutation (fewer shards than ranks); 2 + 6 * 150: waves of 64, 64 and a remainder
  // that truncation enlarges; 0: the default budget.
  for (std::size_t budget : {std::size_t{8}, std::size_t{2 + 6 * 150}, std::size_t{0}}) {
    const attrib::tmc_shapley tmc{.solver = {.budget = budget}};
    check_same(attrib::mpi::explain_game(world, tmc, g, settings), tmc.explain(g, settings));
  }
  // Without truncation (a sampled semivalue) every permutation is whole.
  const attrib::beta_shapley beta{.solver = {.budget = 2 + 6 * 70}};
  check_same(attrib::mpi::explain_game(world, beta, g, settings), beta.explain(g, settings));
  for (std::size_t budget : {std::size_t{6}, std::size_t{101}, std::size_t{0}}) {  // 4 and 99 coalitions
    const attrib::msr_banzhaf msr{.solver = {.budget = budget}};
    if (budget == 6) {  // too few samples for some player: the same error on every rank, as locally
      CHECK_THROWS_WITH_AS((void)msr.explain(g, settings), doctest::Contains("increase the budget"),
                           attrib::invalid_argument);
      CHECK_THROWS_WITH_AS((void)attrib::mpi::explain_game(world, msr, g, settings),
                           doctest::Contains("increase the budget"), attrib::invalid_argument);
      continue;
    }
    check_same(attrib::mpi::explain_game(world, msr, g, settings), msr.explain(g, settings));
  }
}

TEST_CASE("mpi::explain_game: a rank whose game values throw stops every rank with its message") {
  const attrib::mpi::communicator world = attrib::mpi::communicator::world();
  const int last = world.size() - 1;
  const saturating_game g{.refuse_on_rank = last, .rank = world.rank()};
  const attrib::run_settings settings{.seed = 3};
  const attrib::tmc_shapley tmc{.solver = {.budget = 2 + 6 * 10}};
  const attrib::msr_banzhaf msr{.solver = {.budget = 200}};
  if (!world.distributed()) {
    CHECK_THROWS_WITH_AS((void)attrib::mpi::explain_game(world, tmc, g, settings), "coalition refused",
                         attrib::invalid_argument);
    CHECK_THROWS_WITH_AS((void)attrib::mpi::explain_game(world, msr, g, settings), "coalition refused",
                         attrib::invalid_argument);
    return;
  }
  const std::string expected = "rank " + std::to_string(last) + " of " + std::to_string(world.size()) +
                               ": coalition refused";
  CHECK_THROWS_WITH_AS((void)attrib::mpi::explain_game(world, tmc, g, settings), expected.c_str(),
                       attrib::mpi::collective_error);
  CHECK_THROWS_WITH_AS((void)attrib::mpi::explain_game(world, msr, g, settings), expected.c_str(),
                       attrib::mpi::collective_error);
  CHECK_NOTHROW(attrib::mpi::agree(world));
}

TEST_CASE("mpi::distributed_game: every estimator on a game whose rows are spread over the ranks equals one process") {
  const attrib::mpi::communicator world = attrib::mpi::communicator::world();
  const saturating_game g{.rank = world.rank()};
  const attrib::mpi::distributed_game<saturating_game> spread(world, g);
  // One estimator thread (the ranks are the parallelism); a worker thread's call is refused.
  const attrib::run_settings settings{.seed = 5, .threads = 1};
  std::string refused;
  std::thread([&] {
    try {
      (void)spread.values(matrix::Ones(2, 7));
    } catch (const attrib::invalid_argument& e) {
      refused = e.what();
    }
  }).join();
  CHECK(refused.find("run the estimator with threads = 1") != std::string::npos);
  check_same(attrib::exact_shapley{}.explain(spread, settings), attrib::exact_shapley{}.explain(g, settings));
  check_same(attrib::exact_banzhaf{}.explain(spread, settings), attrib::exact_banzhaf{}.explain(g, settings));
  check_same(attrib::occlusion{}.explain(spread, settings), attrib::occlusion{}.explain(g, settings));
  const attrib::kernel_shap kernel{.solver = {.budget = 60}};
  check_same(kernel.explain(spread, settings), kernel.explain(g, settings));
  const attrib::permutation_shapley permutations{.solver = {.budget = 7 * 20}};
  check_same(permutations.explain(spread, settings), permutations.explain(g, settings));
  // One row, fewer rows than ranks, none.
  for (attrib::index rows : {1, 2, 0}) {
    const matrix points = matrix::Constant(rows, 7, 0.5);
    const attrib::vector local = g.values(points), shared = spread.values(points);
    REQUIRE(shared.size() == rows);
    CHECK((shared.array() == local.array()).all());
  }
  // A transformer's component game: heads of a random GPT-2 patched from another prompt, the
  // rows of each batch spread, KernelSHAP's values the single process's bits.
  attrib::transformer_config c;
  c.architecture = attrib::transformer_architecture::gpt2;
  c.dim = 16;
  c.hidden_dim = 32;
  c.n_layers = 2;
  c.n_heads = 2;
  c.n_kv_heads = 2;
  c.vocab_size = 20;
  c.context_length = 8;
  const auto model = attrib::random_transformer_model(c, 3, {.scale = 0.3f, .biases = true});
  const attrib::transformer_component_game heads(model, {1, 5, 9, 3}, attrib::every_head(c),
                                                 {.ablation = attrib::ablation_kind::patch,
                                                  .reference = {{1, 7, 4, 2}},
                                                  .metric = {.target = 4, .contrast = 9}});
  const attrib::mpi::distributed_game<attrib::transformer_component_game> heads_spread(world, heads);
  check_same(attrib::exact_shapley{}.explain(heads_spread, settings), attrib::exact_shapley{}.explain(heads, settings));
  check_same(kernel.explain(heads_spread, settings), kernel.explain(heads, settings));
}

TEST_CASE("mpi::distributed_game: a rank whose rows throw stops every rank with its message") {
  const attrib::mpi::communicator world = attrib::mpi::communicator::world();
  const int last = world.size() - 1;
  const saturating_game g{.refuse_on_rank = last, .rank = world.rank()};
  const attrib::mpi::distributed_game<saturating_game> spread(world, g);
  if (!world.distributed()) {
    CHECK_THROWS_WITH_AS((void)attrib::exact_shapley{}.explain(spread), "coalition refused", attrib::invalid_argument);
    return;
  }
  // Exact Shapley's 128 coalitions in one call: the last rank's run holds proper coalitions.
  const std::string expected = "rank " + std::to_string(last) + " of " + std::to_string(world.size()) + ": coalition refused";
  CHECK_THROWS_WITH_AS((void)attrib::exact_shapley{}.explain(spread), expected.c_str(), attrib::mpi::collective_error);
  CHECK_NOTHROW(attrib::mpi::agree(world));
}

TEST_CASE("mpi::explain_instances: rank 0 holds the local results of every instance, bit for bit") {
  const attrib::mpi::communicator world = attrib::mpi::communicator::world();
  attrib::function_model model(3, 1, [](const matrix& x) {
    matrix y = (x.col(0).array() * x.col(1).array() + (0.3 * x.col(2).array()).exp()).matrix();
    return y;
  });
  const matrix points = matrix::Random(11, 3);  // Eigen's generator: the same sequence on every rank
  const matrix background = matrix::Zero(2, 3);
  auto make_game = [&](attrib::index i) {
    return attrib::masked_model(model, attrib::vector(points.row(i).transpose()), background);
  };
  const attrib::kernel_shap method{.solver = {.budget = 40}};
  const attrib::run_settings settings{.seed = 5, .threads = 2};
  const auto local = attrib::explain_instances(method, points.rows(), make_game, settings);
  const auto gathered = attrib::mpi::explain_instances(world, method, points.rows(), make_game, settings);
  if (!world.is_root()) {
    CHECK(gathered.empty());
    return;
  }
  REQUIRE(gathered.size() == local.size());
  for (std::size_t i = 0; i < local.size(); ++i) {
    CHECK((gathered[i].values.array() == local[i].values.array()).all());
    CHECK((gathered[i].standard_errors.array() == local[i].standard_errors.array()).all());
    CHECK(gathered[i].base_value == local[i].base_value);
    CHECK(gathered[i].prediction == local[i].prediction);
    CHECK(gathered[i].model_evaluations == local[i].model_evaluations);
    CHECK(gathered[i].fit.r_squared == local[i].fit.r_squared);
    CHECK(gathered[i].method == local[i].method);
  }
}

TEST_CASE("a rank that throws stops every rank with its message") {
  const attrib::mpi::communicator world = attrib::mpi::communicator::world();
  const int last = world.size() - 1;
  const attrib::shard_plan plan = attrib::shard_plan::of(40, 4);
  auto block = [&](attrib::index b, attrib::index e) {
    if (world.rank() == last) throw attrib::invalid_argument("block " + std::to_string(b) + " refused");
    return rows_of(b, e, 2);
  };
  if (!world.distributed()) {
    // One process: the error propagates as it was thrown.
    CHECK_THROWS_WITH_AS(attrib::mpi::gather_shard_rows(world, plan, 2, block), "block 0 refused",
                         attrib::invalid_argument);
    return;
  }
  const std::string first_block = std::to_string(plan.items_of(last, world.size()).first);
  try {
    (void)attrib::mpi::gather_shard_rows(world, plan, 2, block);
    FAIL("every rank should have thrown");
  } catch (const attrib::mpi::collective_error& e) {
    CHECK(e.failed_rank() == last);
    CHECK(std::string(e.what()) == "rank " + std::to_string(last) + " of " + std::to_string(world.size()) +
                                       ": block " + first_block + " refused");
  }
  // The failure was agreed: the ranks are in step, and the next collective works.
  CHECK_NOTHROW(attrib::mpi::agree(world));
}

TEST_CASE("a failure outside a collective meets the other ranks' next agreement") {
  const attrib::mpi::communicator world = attrib::mpi::communicator::world();
  if (!world.distributed()) return;
  // Rank 0 fails before the call the others make; its handler agrees with the failure.
  try {
    if (world.is_root()) {
      attrib::mpi::agree(world, std::string("cannot open input.csv"));
    } else {
      (void)attrib::mpi::agreed(world, [] { return 1; });
    }
    FAIL("every rank should have thrown");
  } catch (const attrib::mpi::collective_error& e) {
    CHECK(std::string(e.what()) == "rank 0 of " + std::to_string(world.size()) + ": cannot open input.csv");
  }
}

TEST_CASE("agree_on names the ranks started differently") {
  const attrib::mpi::communicator world = attrib::mpi::communicator::world();
  const std::string fingerprint = world.rank() == 1 ? "--seed 1" : "--seed 0";
  if (world.size() < 2) {
    CHECK_NOTHROW(attrib::mpi::agree_on(world, fingerprint, "arguments"));
    return;
  }
  CHECK_THROWS_WITH_AS(attrib::mpi::agree_on(world, fingerprint, "arguments"),
                       ("rank 1 of " + std::to_string(world.size()) +
                        " started with other arguments than rank 0; expected every rank to run the same")
                           .c_str(),
                       attrib::mpi::collective_error);
}
