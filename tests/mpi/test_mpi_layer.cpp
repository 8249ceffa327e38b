// The MPI layer against its single-process counterparts, on however many ranks the test runs
// with (ctest runs 1, 2 and 3): rank 0's results must equal the local computation bit for bit,
// and a failure on one rank must reach every rank as the same named error.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attrib/core/explain_instances.hpp"
#include "attrib/core/shards.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/models/function_model.hpp"
#include "attrib/mpi/agreement.hpp"
#include "attrib/mpi/communicator.hpp"
#include "attrib/mpi/explain_instances.hpp"
#include "attrib/mpi/shard_rows.hpp"
#include "attrib/perturbations/masking.hpp"

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
